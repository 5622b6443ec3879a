//! Fetcher behaviour over file:// URLs: verification, caching, offline mode.

use whittle_fetch::{Cache, Error, Fetcher, NoProgress, Request, sha256_hex};

fn setup(n: usize) -> (tempfile::TempDir, Vec<Request>) {
    let dir = tempfile::tempdir().unwrap();
    let reqs = (0..n)
        .map(|i| {
            let data = format!("blob number {i}").repeat(100 + i);
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, &data).unwrap();
            Request {
                url: format!("file://{}", p.display()),
                sha256: sha256_hex(data.as_bytes()),
                size: data.len() as u64,
            }
        })
        .collect();
    (dir, reqs)
}

#[test]
fn fetch_all_verifies_caches_and_works_offline() {
    let (_src, reqs) = setup(20);
    let cache_dir = tempfile::tempdir().unwrap();
    let online = Fetcher::new(Cache::open(cache_dir.path()).unwrap(), false);
    let got = online.fetch_all(&reqs, &NoProgress).unwrap();
    for (r, b) in reqs.iter().zip(&got) {
        assert_eq!(sha256_hex(b), r.sha256);
    }
    // the sources vanish; offline still serves from the cache
    drop(_src);
    let offline = Fetcher::new(Cache::open(cache_dir.path()).unwrap(), true);
    let again = offline.fetch_all(&reqs, &NoProgress).unwrap();
    assert_eq!(got, again);
}

#[test]
fn offline_lists_every_missing_item() {
    let (_src, reqs) = setup(3);
    let cache_dir = tempfile::tempdir().unwrap();
    let offline = Fetcher::new(Cache::open(cache_dir.path()).unwrap(), true);
    let err = offline.fetch_all(&reqs, &NoProgress).unwrap_err();
    match &err {
        Error::Offline { missing, .. } => assert_eq!(missing.len(), 3),
        e => panic!("unexpected {e}"),
    }
    assert!(err.to_string().contains("without --offline"));
}

#[test]
fn tampered_download_is_refused_and_not_cached() {
    let (src, mut reqs) = setup(2);
    std::fs::write(
        src.path().join("f1"),
        "blob number 1".repeat(101).replace('1', "2"),
    )
    .unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(Cache::open(cache_dir.path()).unwrap(), false);
    reqs[0].size += 1;
    let err = f.fetch(&reqs[0]).unwrap_err();
    assert!(matches!(err, Error::Mismatch { what: "size", .. }), "{err}");
    reqs[0].size -= 1;
    let err = f.fetch_all(&reqs, &NoProgress).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Mismatch {
                what: "SHA-256",
                ..
            }
        ),
        "{err}"
    );
    assert!(!f.cache().contains(&reqs[1].sha256));
}

/// `n` blobs served by a local HTTP server: `/f0` at once, every other only after `gate` is
/// opened ([`open`]; or after 20 s, so that a broken fetcher fails the test instead of hanging
/// it); `opened_first` counts the answers that waited for the gate to open.
struct Gated {
    reqs: Vec<Request>,
    gate: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    opened_first: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    server: whittle_testutil::http::HttpServer,
}

fn gated(n: usize) -> Gated {
    assert!(n < 100);
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use whittle_testutil::http::{HttpServer, respond};
    // the first the largest: items are started largest first
    let blob = |i: usize| format!("blob number {i}").repeat(100 - i).into_bytes();
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let opened_first = Arc::new(AtomicUsize::new(0));
    let (g, o) = (gate.clone(), opened_first.clone());
    let server = HttpServer::start(move |hit, s| {
        let Some(i) = hit.path.strip_prefix("/f").and_then(|i| i.parse().ok()) else {
            return respond(s, 404, &[], b"");
        };
        if i > 0 {
            let (open, cv) = &*g;
            let waited = cv
                .wait_timeout_while(open.lock().unwrap(), Duration::from_secs(20), |o| !*o)
                .unwrap();
            if *waited.0 {
                o.fetch_add(1, Ordering::Relaxed);
            }
        }
        respond(s, 200, &[], &blob(i));
    });
    let reqs = (0..n)
        .map(|i| Request {
            url: format!("{}/f{i}", server.base),
            sha256: sha256_hex(&blob(i)),
            size: blob(i).len() as u64,
        })
        .collect();
    Gated {
        reqs,
        gate,
        opened_first,
        server,
    }
}

/// Lets the held downloads of [`gated`] go.
fn open(gate: &(std::sync::Mutex<bool>, std::sync::Condvar)) {
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use whittle_fetch::ItemError;

#[test]
fn each_blob_is_consumed_while_the_others_download_and_results_keep_their_order() {
    let g = gated(12);
    let cache_dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(Cache::open(cache_dir.path()).unwrap(), false);
    let calls = AtomicUsize::new(0);
    let got = f
        .fetch_each(&g.reqs, &NoProgress, 2, |i, bytes| {
            calls.fetch_add(1, Ordering::Relaxed);
            if i == 0 {
                // the other downloads are held until the first blob is consumed
                open(&g.gate);
            }
            Ok::<_, String>((i, sha256_hex(&bytes)))
        })
        .unwrap();
    let want: Vec<(usize, String)> = g
        .reqs
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r.sha256.clone()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(calls.load(Ordering::Relaxed), 12);
    assert_eq!(
        g.opened_first.load(Ordering::Relaxed),
        11,
        "every other download finished after the first blob was consumed"
    );
    assert!(
        f.cache().contains(&g.reqs[11].sha256),
        "downloads are cached"
    );
}

#[test]
fn a_consumer_failure_while_downloads_run_stops_the_rest_and_is_reported() {
    let g = gated(30);
    let cache_dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(Cache::open(cache_dir.path()).unwrap(), false);
    let calls = AtomicUsize::new(0);
    let err = f
        .fetch_each(&g.reqs, &NoProgress, 2, |i, _| {
            calls.fetch_add(1, Ordering::Relaxed);
            if i == 0 {
                // the held downloads are let go once the failure is recorded (well after it
                // returns: a margin, not a measurement)
                let gate = g.gate.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    open(&gate);
                });
                return Err(format!("item {i} is broken"));
            }
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, ItemError::Use(m) if m == "item 0 is broken"),
        "{err:?}"
    );
    // the failure came while 8 downloads were held: those finish, none is consumed, and no
    // further download starts
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let asked = g.server.count("GET", "");
    assert!(asked <= 9, "{asked} downloads started after the failure");
}

#[test]
fn the_first_failure_in_order_is_reported_whichever_came_first() {
    // items start largest first: f15 and f19 before f5 and f3
    let (src, reqs) = setup(20);
    std::fs::remove_file(src.path().join("f5")).unwrap();
    std::fs::remove_file(src.path().join("f15")).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(Cache::open(cache_dir.path()).unwrap(), false);
    for consumers in [1, 2, 4] {
        let err = f
            .fetch_each(&reqs, &NoProgress, consumers, |_, b| Ok::<_, ()>(b.len()))
            .unwrap_err();
        match err {
            ItemError::Fetch(Error::Local { url, .. }) => assert!(url.ends_with("/f5"), "{url}"),
            e => panic!("unexpected {e:?}"),
        }
        // a consumer's failure before them in order wins over both downloads' failures
        let err = f
            .fetch_each(&reqs, &NoProgress, consumers, |i, _| match i {
                3 => Err(i),
                _ => Ok(()),
            })
            .unwrap_err();
        assert!(matches!(err, ItemError::Use(3)), "{err:?}");
    }
}

/// A cached item is handed over unread (`Blob`) unless the entries are noted for a shared cache:
/// then it is read and verified first, so that a damaged local copy is fetched again (and the
/// good bytes noted) instead of being offered to `--cache-to`.
#[test]
fn with_a_shared_cache_cached_items_are_verified_before_they_are_noted() {
    let (_src, reqs) = setup(1);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::open(dir.path()).unwrap(), false);
    fetcher.fetch_all(&reqs, &NoProgress).unwrap();
    let blob = dir.path().join("blobs/sha256").join(&reqs[0].sha256);
    std::fs::write(&blob, vec![b'x'; reqs[0].size as usize]).unwrap();
    let unread = |f: &Fetcher| {
        f.fetch_each_blob(&reqs, &NoProgress, 1, |_, b| {
            Ok::<_, whittle_fetch::ItemError<()>>(b.is_fetched())
        })
        .unwrap_or_else(|_| panic!("fetch"))
    };
    // alone: the damaged copy is not read
    assert_eq!(unread(&fetcher), [false]);
    let remote = std::sync::Arc::new(whittle_fetch::remote::Remote::new(None));
    let shared = Fetcher::new(
        Cache::open(dir.path())
            .unwrap()
            .with_remote(Some(remote.clone())),
        false,
    );
    assert_eq!(unread(&shared), [true]);
    assert_eq!(std::fs::read(&blob).unwrap().len(), reqs[0].size as usize);
    assert_eq!(
        sha256_hex(&std::fs::read(&blob).unwrap()),
        reqs[0].sha256,
        "fetched again"
    );
    assert_eq!(remote.used().len(), 1);
}
