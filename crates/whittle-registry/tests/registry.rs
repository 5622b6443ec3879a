//! Push, pull, multi-arch, auth, retries and resumption against a real `docker-registry`
//! (Debian's package), started on 127.0.0.1 with its own config and storage for each test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use whittle_oci::{ImageRef, Platform};
use whittle_registry::{Options, SbomAttachment};

mod common;
use common::*;

#[test]
fn push_pull_round_trip_shared_layers_and_sbom_tag() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let o = opts();
    let img = image("amd64", "one", 300_000);
    let dest = dref(&reg.host(), "whittle/app:v1");
    let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#.to_vec();
    let report = whittle_registry::push(std::slice::from_ref(&img), &dest, &[sbom], &o).unwrap();
    // the local layout's digest is the pushed one
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("local");
    let written = whittle_oci::write(
        std::slice::from_ref(&img),
        &ImageRef::Oci {
            path: local.clone(),
            tag: Some("v1".into()),
        },
    )
    .unwrap();
    assert_eq!(report.digest, written.digest);
    assert_eq!((report.uploaded, report.skipped), (3, 0), "{report:?}");
    assert!(report.bytes_uploaded > 300_000);
    if let Some(d) = skopeo_digest(&format!("docker://{}/whittle/app:v1", reg.host())) {
        assert_eq!(d, written.digest);
    }
    // SBOM: distribution 2.8 has no referrers API, so the tag scheme is used
    let hex = written.digest.strip_prefix("sha256:").unwrap();
    assert_eq!(report.sboms.len(), 1);
    assert_eq!(
        report.sboms[0].attachment,
        SbomAttachment::Tag(format!("sha256-{hex}.sbom"))
    );
    let sbom_layout = work.path().join("sbom");
    let pulled_sbom = whittle_registry::pull(
        &dref(&reg.host(), &format!("whittle/app:sha256-{hex}.sbom")),
        &o,
        &sbom_layout,
        None,
        None,
    )
    .unwrap();
    assert_eq!(pulled_sbom.digest, report.sboms[0].digest);
    let files = tree(&sbom_layout);
    let manifest: serde_json::Value = serde_json::from_slice(
        &files[&format!(
            "blobs/sha256/{}",
            pulled_sbom.digest.strip_prefix("sha256:").unwrap()
        )],
    )
    .unwrap();
    assert_eq!(manifest["subject"]["digest"], written.digest.as_str());
    assert_eq!(manifest["artifactType"], "application/spdx+json");

    // copy to another repository: the SBOM travels with the image, under the same tag
    let copied = whittle_registry::copy(
        &ImageRef::Docker(dest.clone()),
        &ImageRef::Docker(dref(&reg.host(), "copied/app:v1")),
        None,
        &o,
    )
    .unwrap();
    let cp = copied.push.unwrap();
    assert_eq!(cp.sboms.len(), 1, "{cp:?}");
    assert_eq!(
        cp.sboms[0].digest, report.sboms[0].digest,
        "same artifact bytes"
    );
    let again = work.path().join("sbom-copied");
    let pulled_again = whittle_registry::pull(
        &dref(&reg.host(), &format!("copied/app:sha256-{hex}.sbom")),
        &o,
        &again,
        None,
        None,
    )
    .unwrap();
    assert_eq!(pulled_again.digest, report.sboms[0].digest);
    assert_eq!(tree(&again), tree(&sbom_layout));

    // pull back: byte-identical layout
    let pulled = work.path().join("pulled");
    let p = whittle_registry::pull(&dest, &o, &pulled, Some("v1"), None).unwrap();
    assert_eq!(p.digest, written.digest);
    assert_eq!(tree(&pulled), tree(&local));
    // and readable by whittle's readers
    let (ri, tmp) = whittle_registry::open(&ImageRef::Docker(dest.clone()), None, &o).unwrap();
    assert!(tmp.is_some());
    assert_eq!(ri.manifest_digest, written.digest);
    let mut tar = Vec::new();
    ri.open_layer(1).unwrap().read_to_end(&mut tar).unwrap();
    assert!(tar.windows(7).any(|w| w == b"one amd"));

    // a second image sharing the base layer: the shared blob is skipped
    let img2 = image("amd64", "two", 300_000);
    let r2 = whittle_registry::push(
        std::slice::from_ref(&img2),
        &dref(&reg.host(), "whittle/app:v2"),
        &[],
        &o,
    )
    .unwrap();
    assert_eq!((r2.uploaded, r2.skipped), (2, 1), "{r2:?}");
    // another repository on the same registry: copy mounts instead of uploading
    let c = whittle_registry::copy(
        &ImageRef::Docker(dref(&reg.host(), "whittle/app:v2")),
        &ImageRef::Docker(dref(&reg.host(), "other/app:v2")),
        None,
        &o,
    )
    .unwrap();
    let push = c.push.unwrap();
    assert_eq!((push.mounted, push.uploaded), (3, 0), "{push:?}");
    assert!(push.sboms.is_empty(), "v2 has no SBOM: {push:?}");
    assert_eq!(c.digest, r2.digest);
}

#[test]
fn multi_arch_index_round_trips() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let o = opts();
    let images = vec![image("amd64", "m", 10_000), image("arm64", "m", 10_000)];
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("local");
    let written = whittle_oci::write(
        &images,
        &ImageRef::Oci {
            path: local.clone(),
            tag: Some("multi".into()),
        },
    )
    .unwrap();
    let dest = dref(&reg.host(), "whittle/multi:multi");
    let report = whittle_registry::push(&images, &dest, &[], &o).unwrap();
    assert_eq!(report.digest, written.digest);
    assert_eq!(report.media_type, whittle_oci::MEDIA_TYPE_INDEX);
    assert_eq!(report.manifests, written.manifests);
    if whittle_testutil::tool("skopeo") {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/whittle/multi:multi", reg.host()))
            .output()
            .unwrap();
        assert!(out.status.success());
        let local_index = tree(&local)[&format!(
            "blobs/sha256/{}",
            written.digest.strip_prefix("sha256:").unwrap()
        )]
            .clone();
        assert_eq!(
            out.stdout, local_index,
            "the registry serves our exact index bytes"
        );
    }
    let pulled = work.path().join("pulled");
    whittle_registry::pull(&dest, &o, &pulled, Some("multi"), None).unwrap();
    assert_eq!(tree(&pulled), tree(&local));
    // one platform
    let arm = Platform {
        architecture: "arm64".into(),
        os: "linux".into(),
        variant: None,
    };
    let one = work.path().join("arm");
    let p = whittle_registry::pull(&dest, &o, &one, None, Some(&arm)).unwrap();
    assert_eq!(p.digest, written.manifests[1]);
    let e = whittle_registry::open(&ImageRef::Docker(dest.clone()), None, &o).unwrap_err();
    assert!(e.to_string().contains("linux/arm64/v8"), "{e}");
    let (ri, _tmp) =
        whittle_registry::open(&ImageRef::Docker(dest.clone()), Some(&arm), &o).unwrap();
    assert_eq!(ri.config.architecture, "arm64");
    // copy the whole index from the registry into an oci-archive and back into a new repository
    let archive = work.path().join("multi.tar");
    whittle_registry::copy(
        &ImageRef::Docker(dest),
        &ImageRef::OciArchive {
            path: archive.clone(),
            tag: Some("multi".into()),
        },
        None,
        &o,
    )
    .unwrap();
    let back = whittle_registry::copy(
        &ImageRef::OciArchive {
            path: archive,
            tag: Some("multi".into()),
        },
        &ImageRef::Docker(dref(&reg.host(), "whittle/again:1")),
        None,
        &o,
    )
    .unwrap();
    assert_eq!(back.digest, written.digest);
    // blobs are linked per repository in distribution: a new repository gets them all (5 unique)
    let push = back.push.unwrap();
    assert_eq!(push.uploaded + push.skipped, 5, "{push:?}");
}

#[test]
fn htpasswd_auth_from_config_json() {
    let Some(reg) = Registry::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let img = image("amd64", "auth", 1000);
    let dest = dref(&reg.host(), "private/app:1");
    let e = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &opts()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("needs credentials") && msg.contains("docker login"),
        "{msg}"
    );
    let cfg = tempfile::tempdir().unwrap();
    let write_cfg = |pass: &str| {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{pass}"));
        std::fs::write(
            cfg.path().join("config.json"),
            format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
        )
        .unwrap();
    };
    let with_cfg = Options {
        docker_config: Some(cfg.path().to_path_buf()),
        ..opts()
    };
    write_cfg("wrong");
    let e = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &with_cfg).unwrap_err();
    assert!(e.to_string().contains("refused the credentials"), "{e}");
    write_cfg("s3cret");
    let r = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &with_cfg).unwrap();
    assert_eq!(r.uploaded, 3);
    let pulled = cfg.path().join("pulled");
    let p = whittle_registry::pull(&dest, &with_cfg, &pulled, None, None).unwrap();
    assert_eq!(p.digest, r.digest);
}

/// A TCP proxy to the registry: the first `fail_first` connections get HTTP 500; after
/// `die_after` bytes from clients it closes every connection and refuses new ones.
struct Proxy {
    port: u16,
    dead: Arc<AtomicBool>,
}

impl Proxy {
    fn start(target: u16, fail_first: usize, die_after: Option<u64>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dead = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let d = dead.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let n = conns.fetch_add(1, Ordering::SeqCst);
                if n < fail_first {
                    let mut buf = [0u8; 4096];
                    let _ = client.read(&mut buf);
                    let _ = client.write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (d1, d2, b1) = (d.clone(), d.clone(), bytes.clone());
                let mut server_w = server;
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 << 10];
                    while let Ok(k) = client.read(&mut buf) {
                        if k == 0 || d1.load(Ordering::SeqCst) {
                            break;
                        }
                        let total = b1.fetch_add(k as u64, Ordering::SeqCst) + k as u64;
                        if die_after.is_some_and(|lim| total > lim) {
                            d1.store(true, Ordering::SeqCst);
                            break;
                        }
                        if server_w.write_all(&buf[..k]).is_err() {
                            break;
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    let _ = server_w.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 << 10];
                    while let Ok(k) = s2.read(&mut buf) {
                        if k == 0 || d2.load(Ordering::SeqCst) {
                            break;
                        }
                        if c2.write_all(&buf[..k]).is_err() {
                            break;
                        }
                    }
                    let _ = c2.shutdown(std::net::Shutdown::Both);
                    let _ = s2.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Proxy { port, dead }
    }
}

#[test]
fn retries_500s_and_resumes_after_the_registry_dies() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let o = opts();
    // 500 twice, then the real registry: the push still succeeds
    let flaky = Proxy::start(reg.port, 2, None);
    let img = image("amd64", "flaky", 1000);
    let r = whittle_registry::push(
        std::slice::from_ref(&img),
        &dref(&format!("127.0.0.1:{}", flaky.port), "flaky/app:1"),
        &[],
        &o,
    )
    .unwrap();
    assert_eq!(r.uploaded, 3);
    if let Some(d) = skopeo_digest(&format!("docker://{}/flaky/app:1", reg.host())) {
        assert_eq!(d, r.digest);
    }

    // a registry that dies mid-upload (of the chunked 600 kB base layer): reported
    let dying = Proxy::start(reg.port, 0, Some(300_000));
    let big = image("amd64", "resume", 600_000);
    let serial = Options { jobs: 1, ..opts() };
    let e = whittle_registry::push(
        std::slice::from_ref(&big),
        &dref(&format!("127.0.0.1:{}", dying.port), "resume/app:1"),
        &[],
        &serial,
    )
    .unwrap_err();
    assert!(dying.dead.load(Ordering::SeqCst));
    let msg = e.to_string();
    assert!(msg.contains("run the command again"), "{msg}");
    // re-running completes; what was pushed before the crash is skipped
    let r = whittle_registry::push(
        std::slice::from_ref(&big),
        &dref(&reg.host(), "resume/app:1"),
        &[],
        &serial,
    )
    .unwrap();
    assert!(r.skipped >= 1, "{r:?}");
    assert_eq!(r.skipped + r.uploaded, 3);
    if let Some(d) = skopeo_digest(&format!("docker://{}/resume/app:1", reg.host())) {
        assert_eq!(d, r.digest);
    }
}

/// This machine's address on its default route (not loopback), if it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    // connecting a UDP socket sends nothing; it only picks the outgoing interface
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn plain_http_to_another_host_needs_insecure() {
    let Some(ip) = non_loopback_ip() else {
        whittle_testutil::skip("a non-loopback IPv4 address");
        return;
    };
    let Some(reg) = Registry::start_at(ip, Auth::None) else {
        return;
    };
    let img = image("amd64", "insecure", 1000);
    let dest = dref(&reg.host(), "plain/app:1");
    // HTTPS by default: the plain-HTTP registry cannot answer, and the message says what to do
    let e = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &opts()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("https://") && msg.contains("--insecure"),
        "{msg}"
    );
    let insecure = Options {
        insecure: true,
        ..opts()
    };
    let r = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &insecure).unwrap();
    assert_eq!(r.uploaded, 3);
}

/// `docker save | gzip`-style archives: a gzip-compressed oci-archive copies like a plain one
/// (no registry needed).
#[test]
fn gzipped_oci_archive_copies_like_a_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let images = [image("amd64", "gz", 10_000), image("arm64", "gz", 10_000)];
    let plain = dir.path().join("plain.tar");
    whittle_oci::write(
        &images,
        &ImageRef::OciArchive {
            path: plain.clone(),
            tag: None,
        },
    )
    .unwrap();
    let gz = dir.path().join("plain.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(&plain).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let copy_to = |src: &std::path::Path, name: &str| {
        let out = dir.path().join(name);
        let src = ImageRef::OciArchive {
            path: src.to_path_buf(),
            tag: None,
        };
        let dest = ImageRef::Oci {
            path: out.clone(),
            tag: None,
        };
        let report = whittle_registry::copy(&src, &dest, None, &opts()).unwrap();
        (report.digest, tree(&out))
    };
    let (d1, t1) = copy_to(&plain, "from-plain");
    let (d2, t2) = copy_to(&gz, "from-gz");
    assert_eq!(d1, d2);
    assert_eq!(t1, t2, "same layout bytes");
}
