//! How much [`Fetcher::fetch_each`] lets wait for its consumers. A warm build reads its
//! packages from the cache far faster than it unpacks them: without a bound every package would
//! be in memory at once, whatever the image's size.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use whittle_fetch::{
    Cache, Fetcher, MAX_QUEUED_BYTES, PARALLEL_DOWNLOADS, Progress, Request, sha256_hex,
};

/// Counts the items fetched.
#[derive(Default)]
struct Count(AtomicUsize);

impl Progress for Count {
    fn start(&self, _: usize, _: u64, _: usize) {}
    fn done(&self, _: &str, _: u64, _: bool) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// `n` local files of `size` bytes each (all different), as requests.
fn files(dir: &std::path::Path, n: usize, size: usize) -> Vec<Request> {
    (0..n)
        .map(|i| {
            let mut data = vec![0u8; size];
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, &data).unwrap();
            Request {
                url: p.display().to_string(),
                sha256: sha256_hex(&data),
                size: size as u64,
            }
        })
        .collect()
}

/// Fetched items wait for one slow consumer at most [`MAX_QUEUED_BYTES`] at a time, plus one
/// item held by each download thread, cold and warm (read from the cache, far faster than they
/// are consumed); all of them are still consumed, in order.
#[test]
fn fetched_items_waiting_for_consumers_are_bounded() {
    let size = (MAX_QUEUED_BYTES / 16) as usize;
    let bound = (MAX_QUEUED_BYTES / size as u64) as usize + PARALLEL_DOWNLOADS;
    let src = tempfile::tempdir().unwrap();
    let reqs = files(src.path(), bound + 16, size);
    let cache = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::open(cache.path()).unwrap(), false);
    for warm in [false, true] {
        let fetched = Count::default();
        let consumed = AtomicUsize::new(0);
        let most = AtomicU64::new(0);
        let got = fetcher
            .fetch_each(&reqs, &fetched, 1, |i, bytes| {
                let waiting = fetched.0.load(Ordering::SeqCst) - consumed.load(Ordering::SeqCst);
                most.fetch_max(waiting as u64, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(40));
                consumed.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>((i, bytes.len()))
            })
            .unwrap();
        assert_eq!(got, (0..reqs.len()).map(|i| (i, size)).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!(
            most <= bound as u64,
            "warm={warm}: {most} items of {size} bytes waited at once, more than {MAX_QUEUED_BYTES} bytes and one per download thread"
        );
    }
}

/// An item larger than [`MAX_QUEUED_BYTES`] does not hold up the downloads of the others: they
/// are fetched while it is (and they wait for it to be consumed only once they are there).
#[test]
fn a_large_item_does_not_hold_up_the_other_downloads() {
    let src = tempfile::tempdir().unwrap();
    let mut reqs = files(src.path(), 1, (MAX_QUEUED_BYTES + (1 << 20)) as usize);
    let small = tempfile::tempdir().unwrap();
    reqs.extend(files(small.path(), 6, 1 << 20));
    let cache = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::open(cache.path()).unwrap(), false);
    let fetched = Count::default();
    let at_first = AtomicUsize::new(usize::MAX);
    fetcher
        .fetch_each(&reqs, &fetched, 1, |i, _| {
            if i == 0 {
                // the large item is fetched first and consumed slowly
                std::thread::sleep(Duration::from_millis(300));
                at_first.store(fetched.0.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            Ok::<_, ()>(i)
        })
        .unwrap();
    assert_eq!(
        at_first.load(Ordering::SeqCst),
        reqs.len(),
        "every download was done while the large item was consumed"
    );
}

/// A consumer that panics does not leave the fetchers waiting for it: the panic reaches the
/// caller once everything is done.
#[test]
fn a_panicking_consumer_does_not_hang_the_fetchers() {
    let size = (MAX_QUEUED_BYTES / 2) as usize;
    let src = tempfile::tempdir().unwrap();
    let reqs = files(src.path(), 4, size);
    let cache = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::open(cache.path()).unwrap(), false);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fetcher.fetch_each(&reqs, &Count::default(), 2, |i, _| {
            if i % 2 == 0 {
                panic!("consumer of item {i} fails");
            }
            Ok::<_, ()>(i)
        })
    }));
    assert!(r.is_err(), "the panic reaches the caller");
}
