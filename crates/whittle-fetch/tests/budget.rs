//! The download budget against real (hostile) HTTP servers on 127.0.0.1: a package longer than
//! the size its signed index gives, a server that drips, a port where nothing listens.

use std::time::{Duration, Instant};

use whittle_fetch::{Cache, Error, Fetcher, Request};
use whittle_testutil::http::{self, HttpServer};

fn fetcher(cache: &tempfile::TempDir) -> Fetcher {
    Fetcher::new(Cache::open(cache.path()).unwrap(), false)
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    whittle_testutil::dir_files(dir).into_keys().collect()
}

#[test]
fn a_package_longer_than_its_size_is_refused_at_once_and_fetched_once() {
    // the signed index says 1000 bytes; the server streams zeros until the client hangs up
    let server =
        HttpServer::start(|_, s| http::respond_streaming(s, None, |s| http::zeros(s, 1 << 40)));
    let cache = tempfile::tempdir().unwrap();
    let req = Request {
        url: format!("{}/pool/main/g/gawk/gawk_5.2.1-2_amd64.deb", server.base),
        sha256: "0".repeat(64),
        size: 1000,
    };
    let e = fetcher(&cache).fetch(&req).unwrap_err();
    assert!(matches!(e, Error::TooLarge { limit: 1000, .. }), "{e}");
    assert!(e.to_string().contains(&req.url), "{e}");
    assert_eq!(
        server.count("GET", ".deb"),
        1,
        "an integrity failure is not retried"
    );
    assert!(
        files_under(cache.path()).is_empty(),
        "nothing cached, no temporary file left"
    );
}

#[test]
fn a_closed_port_fails_at_once_saying_nothing_listens() {
    let cache = tempfile::tempdir().unwrap();
    let url = format!(
        "http://127.0.0.1:{}/dists/bookworm/main/binary-amd64/Packages.xz",
        http::closed_port()
    );
    let started = Instant::now();
    let e = fetcher(&cache).fetch_mutable(&url, 1 << 20).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&url) && msg.contains("nothing listens"),
        "{msg}"
    );
    // a generous bound that only tells "failed at once" from "retried with backoff"
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Runs `f` on a thread; panics when it has not returned within `limit` (it hangs).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}: it hangs"))
}

/// The error of fetching the mutable `url` (at most 1 MiB), which must fail within a minute.
fn mutable_error(f: Fetcher, url: &str) -> Error {
    let url = url.to_string();
    within(Duration::from_secs(60), move || {
        f.fetch_mutable(&url, 1 << 20).unwrap_err()
    })
}

/// A server that announces 1 MB and sends one byte every 100 ms.
fn dripping() -> HttpServer {
    HttpServer::start(|_, s| {
        http::respond_streaming(s, Some(1 << 20), |s| {
            http::drip(s, &[0u8; 1 << 20], Duration::from_millis(100))
        })
    })
}

#[test]
fn a_dripping_server_is_dropped_for_its_speed_and_retried_within_the_budget() {
    let server = dripping();
    let cache = tempfile::tempdir().unwrap();
    let limits = whittle_fetch::Limits {
        retries: 1,
        backoff: Duration::from_millis(10),
        stall: Duration::from_secs(1),
        ..whittle_fetch::Limits::default()
    };
    let url = format!("{}/pool/main/g/gawk/gawk_5.2.1-2_amd64.deb", server.base);
    let req = Request {
        url: url.clone(),
        sha256: "0".repeat(64),
        size: 1 << 20,
    };
    let f = fetcher(&cache).with_limits(limits);
    let e = within(Duration::from_secs(60), move || {
        f.fetch_all(&[req], &whittle_fetch::NoProgress).unwrap_err()
    });
    let msg = e.to_string();
    assert!(
        msg.contains(&url) && msg.contains(whittle_fetch::MIN_SPEED_VAR),
        "{msg}"
    );
    assert!(matches!(e, Error::Http { attempts: 2, .. }), "{e:?}");
    assert_eq!(
        server.count("GET", ".deb"),
        2,
        "slowness is retried, once here"
    );
    assert!(files_under(cache.path()).is_empty());
}

#[test]
fn the_deadline_bounds_a_download_whatever_its_speed() {
    let server = dripping();
    let cache = tempfile::tempdir().unwrap();
    let limits = whittle_fetch::Limits {
        min_speed: 0,
        deadline: Duration::from_secs(2),
        ..whittle_fetch::Limits::default()
    };
    let url = format!(
        "{}/dists/bookworm/main/binary-amd64/Packages.xz",
        server.base
    );
    let msg = mutable_error(fetcher(&cache).with_limits(limits), &url).to_string();
    assert!(
        msg.contains(&url) && msg.contains(whittle_fetch::DEADLINE_VAR),
        "{msg}"
    );
    assert_eq!(
        server.count("GET", "Packages.xz"),
        1,
        "no time left to retry"
    );
}

#[test]
fn a_server_dripping_its_headers_is_dropped_too() {
    // a valid status line, then one header byte every 100 ms (1000 of them)
    let server = HttpServer::start(|_, s| {
        let mut head = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
        head.extend(std::iter::repeat_n(b'x', 1000));
        head.extend(b"\r\nContent-Length: 2\r\n\r\nok");
        http::drip(s, &head, Duration::from_millis(100))
    });
    let cache = tempfile::tempdir().unwrap();
    let limits = whittle_fetch::Limits {
        retries: 0,
        stall: Duration::from_secs(1),
        ..whittle_fetch::Limits::default()
    };
    let url = format!("{}/dists/bookworm/InRelease", server.base);
    let msg = mutable_error(fetcher(&cache).with_limits(limits), &url).to_string();
    assert!(
        msg.contains(&url) && msg.contains(whittle_fetch::STALL_VAR),
        "{msg}"
    );
}
