//! The download budget against hostile registries, real HTTP servers on 127.0.0.1 that serve a
//! valid manifest and then misbehave with its layer: declared far too large, longer than
//! declared, dripping one byte at a time; and a push to a port where nothing listens.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{dref, image, opts};
use whittle_fetch::Limits;
use whittle_oci::ImageRef;
use whittle_registry::{Error, Options};
use whittle_testutil::http::{self, HttpServer};

use whittle_testutil::http::registry_with_layer as hostile;

/// Copies `evil/app:1` from `server` into `oci:DIR/out`.
fn copy_into(server: &HttpServer, dir: &Path, o: &Options) -> Result<(), Error> {
    let src = ImageRef::Docker(dref(&server.host, "evil/app:1"));
    let dest = ImageRef::Oci {
        path: dir.join("out"),
        tag: None,
    };
    whittle_registry::copy(&src, &dest, None, o).map(|_| ())
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

/// Nothing at all is left in `dir` (no output, no staging directory, no temporary file).
fn assert_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_layer_declared_far_too_large_is_refused_before_anything_is_downloaded() {
    // 10^13 bytes of zeros (served up to 64 MiB here, so that a client without the limit
    // fails too instead of filling the disk)
    let (server, layer) = hostile(10_000_000_000_000, |s| {
        http::respond_streaming(s, None, |s| http::zeros(s, 64 << 20))
    });
    let dir = tempfile::tempdir().unwrap();
    let e = within(Duration::from_secs(120), {
        let dir = dir.path().to_path_buf();
        move || {
            let e = copy_into(&server, &dir, &opts()).unwrap_err();
            (e, server)
        }
    });
    let (e, server) = e;
    assert!(
        matches!(
            e,
            Error::DeclaredTooLarge {
                size: 10_000_000_000_000,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&layer) && msg.contains("evil/app") && msg.contains("WHITTLE_MAX_BLOB_SIZE"),
        "{msg}"
    );
    assert_eq!(server.count("GET", &layer), 0, "not one byte of it fetched");
    assert_empty(dir.path());

    // the limit is the user's to raise: then the size is checked while streaming
    let raised = Options {
        max_blob_size: 20_000_000_000_000,
        max_image_size: 20_000_000_000_000,
        ..opts()
    };
    let e = copy_into(&server, dir.path(), &raised).unwrap_err();
    assert!(matches!(e, Error::BlobSize { .. }), "{e}");
    assert_empty(dir.path());
}

#[test]
fn a_layer_longer_than_declared_is_refused_at_once_and_fetched_once() {
    // declares 1 MiB, streams zeros until the client hangs up
    let (server, layer) = hostile(1 << 20, |s| {
        http::respond_streaming(s, None, |s| http::zeros(s, 1 << 40))
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (e, server) = within(Duration::from_secs(120), move || {
        (copy_into(&server, &d, &opts()).unwrap_err(), server)
    });
    assert!(
        matches!(
            e,
            Error::BlobSize {
                declared: 1_048_576,
                actual: None,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains(&layer), "{e}");
    assert_eq!(
        server.count("GET", &layer),
        1,
        "an integrity failure is not retried"
    );
    assert_empty(dir.path());
}

#[test]
fn a_layer_shorter_or_other_than_declared_is_not_retried_either() {
    let (server, layer) = hostile(1 << 20, |s| http::respond(s, 200, &[], &[0u8; 1000]));
    let dir = tempfile::tempdir().unwrap();
    let e = copy_into(&server, dir.path(), &opts()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BlobSize {
                actual: Some(1000),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(server.count("GET", &layer), 1);
    assert_empty(dir.path());
}

/// Limits that make a test of slowness quick: a 1 s window, one retry.
fn quick(limits: Limits) -> Options {
    Options {
        limits: Limits {
            retries: 1,
            backoff: Duration::from_millis(10),
            stall: Duration::from_secs(1),
            ..limits
        },
        ..opts()
    }
}

#[test]
fn a_dripping_registry_is_dropped_for_its_speed_within_the_budget() {
    let (server, layer) = hostile(1 << 20, |s| {
        http::respond_streaming(s, Some(1 << 20), |s| {
            http::drip(s, &[0u8; 1 << 20], Duration::from_millis(100))
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let (e, server) = within(Duration::from_secs(60), move || {
        (
            copy_into(&server, &d, &quick(Limits::default())).unwrap_err(),
            server,
        )
    });
    let msg = e.to_string();
    assert!(
        matches!(
            &e,
            Error::Http {
                stop: whittle_fetch::Stop::TooSlow { .. },
                attempts: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("evil/app/blobs/{layer}"))
            && msg.contains("WHITTLE_TRANSFER_MIN_SPEED"),
        "{msg}"
    );
    assert_eq!(
        server.count("GET", &layer),
        2,
        "slowness is retried, once here"
    );
    assert_empty(dir.path());
}

#[test]
fn the_deadline_bounds_a_pull_whatever_the_speed() {
    // the manifest itself drips; no minimum speed, a 2 s deadline
    let server = HttpServer::start(|_, s| {
        http::respond_streaming(s, Some(4096), |s| {
            http::drip(s, &[b' '; 4096], Duration::from_millis(100))
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let o = quick(Limits {
        min_speed: 0,
        deadline: Duration::from_secs(2),
        ..Limits::default()
    });
    let (e, server) = within(Duration::from_secs(60), move || {
        (copy_into(&server, &d, &o).unwrap_err(), server)
    });
    let msg = e.to_string();
    assert!(
        msg.contains("evil/app/manifests/1") && msg.contains("WHITTLE_TRANSFER_DEADLINE"),
        "{msg}"
    );
    assert_eq!(server.hits().len(), 1, "no time left to retry");
    assert_empty(dir.path());
}

#[test]
fn a_push_to_a_closed_port_fails_at_once() {
    let img = image("amd64", "closed", 1000);
    let host = format!("127.0.0.1:{}", http::closed_port());
    // the default retry policy: refused connections are not worth its backoff
    let o = Options {
        docker_config: opts().docker_config,
        ..Options::default()
    };
    let started = Instant::now();
    let e = within(Duration::from_secs(120), move || {
        whittle_registry::push(
            std::slice::from_ref(&img),
            &dref(&host, "closed/app:1"),
            &[],
            &o,
        )
        .unwrap_err()
    });
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            Error::Http {
                stop: whittle_fetch::Stop::Refused,
                attempts: 1,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("nothing listens"), "{msg}");
    // a generous bound that only tells "failed at once" from "retried with backoff"
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_invalid_setting_is_named_before_anything_is_sent() {
    let (server, _) = hostile(10, |s| http::respond(s, 200, &[], b"0123456789"));
    let mut o = opts();
    o.limits.invalid = Some("WHITTLE_TRANSFER_DEADLINE=\"soon\" is not a duration".into());
    let dir = tempfile::tempdir().unwrap();
    let e = copy_into(&server, dir.path(), &o).unwrap_err();
    assert!(e.to_string().contains("WHITTLE_TRANSFER_DEADLINE"), "{e}");
    assert!(server.hits().is_empty());
}

/// A registry whose `evil/app:1` is `manifest`; its blobs are endless zeros.
fn serving_manifest(manifest: Vec<u8>) -> HttpServer {
    HttpServer::start(move |hit, s| {
        if hit.path.ends_with("/manifests/1") {
            http::respond(
                s,
                200,
                &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
                &manifest,
            );
        } else {
            http::respond_streaming(s, None, |s| http::zeros(s, 64 << 20));
        }
    })
}

#[test]
fn manifests_and_configs_are_bounded_like_the_reference_registry_bounds_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let manifest = |config_size: u64, padding: usize| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{{"pad":"{}"}},"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{config_size}}},"layers":[]}}"#,
            "x".repeat(padding),
            d('a')
        )
        .into_bytes()
    };
    // a 5 MiB manifest: more than distribution's 4 MiB
    let big = serving_manifest(manifest(100, 5 << 20));
    let e = copy_into(&big, dir.path(), &opts()).unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { limit, .. } if limit == 4 << 20),
        "{e}"
    );
    assert!(e.to_string().contains("evil/app/manifests/1"), "{e}");
    // a config declared at 64 MiB is refused before it is fetched
    let big_config = serving_manifest(manifest(64 << 20, 0));
    let e = copy_into(&big_config, dir.path(), &opts()).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains(&d('a')), "{e}");
    assert_eq!(big_config.hits().len(), 1, "only the manifest was fetched");
    assert_empty(dir.path());
}

#[test]
fn the_blobs_of_one_image_are_bounded_all_together() {
    // five layers of 8 GiB: each under the 10 GiB limit for one blob, 40 GiB in all
    let layers: Vec<String> = (0..5)
        .map(|i| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{}","size":{}}}"#,
                format!("{i}").repeat(64),
                8u64 << 30
            )
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":2}},"layers":[{}]}}"#,
        "a".repeat(64),
        layers.join(",")
    );
    let server = serving_manifest(manifest.into_bytes());
    let dir = tempfile::tempdir().unwrap();
    let e = copy_into(&server, dir.path(), &opts()).unwrap_err();
    assert!(
        matches!(e, Error::ImageTooLarge { size, .. } if size == (40 << 30) + 2),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("evil/app:1") && msg.contains("WHITTLE_MAX_IMAGE_SIZE"),
        "{msg}"
    );
    assert_eq!(
        server.count("GET", "/manifests/1"),
        server.hits().len(),
        "no blob fetched"
    );
    assert_empty(dir.path());
}

#[test]
fn an_index_cannot_make_a_pull_hold_unbounded_manifests() {
    use sha2::Digest as _;
    let digest = |b: &[u8]| format!("sha256:{}", hex(&sha2::Sha256::digest(b)));
    // 20 platforms, each manifest just under 4 MiB: 80 MiB of manifests in all
    let children: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| {
            let m = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{{"pad":"{}"}},"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":2}},"layers":[]}}"#,
                "x".repeat((4 << 20) - 400),
                format!("{}", i % 10).repeat(64)
            )
            .into_bytes();
            (digest(&m), m)
        })
        .collect();
    let entries: Vec<String> = children
        .iter()
        .enumerate()
        .map(|(i, (d, m))| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":{},"platform":{{"architecture":"arch{i}","os":"linux"}}}}"#,
                m.len()
            )
        })
        .collect();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes();
    let server = HttpServer::start(move |hit, s| {
        let body = if hit.path.ends_with("/manifests/1") {
            Some((&index, "application/vnd.oci.image.index.v1+json"))
        } else {
            children
                .iter()
                .find(|(d, _)| hit.path.ends_with(d.as_str()))
                .map(|(_, m)| (m, "application/vnd.oci.image.manifest.v1+json"))
        };
        match body {
            Some((b, ct)) => http::respond(s, 200, &[("Content-Type", ct)], b),
            None => http::respond(s, 404, &[], b"{}"),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let e = copy_into(&server, dir.path(), &opts()).unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { limit, .. } if limit == 64 << 20),
        "{e}"
    );
    assert!(e.to_string().contains("evil/app:1"), "{e}");
    assert_empty(dir.path());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
