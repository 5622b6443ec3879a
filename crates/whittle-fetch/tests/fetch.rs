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
