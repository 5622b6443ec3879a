//! The shared build cache in a registry (`--cache-from` / `--cache-to`, #20), against a real
//! `docker-registry` on 127.0.0.1 (skipped when missing) and a signed Debian repository served
//! over HTTP by a server the test can stop. Each "runner" has its own cache directory, as
//! separate CI machines would, and they share one cache key (`WHITTLE_CACHE_KEY`, a CI secret),
//! without which derived entries are not taken from the registry.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use whittle_testutil::http::{HttpServer, respond};
use whittle_testutil::registry::Registry;

/// The repository served over HTTP until [`PackageServer::stop`]; afterwards every connection
/// is dropped unanswered (an unreachable mirror).
struct PackageServer {
    server: HttpServer,
    stopped: Arc<AtomicBool>,
    _repo: Repo,
    line: String,
}

impl PackageServer {
    fn start(pkgs: &[TestPkg]) -> PackageServer {
        let repo = make_repo(pkgs);
        let root = repo.dir.path().to_path_buf();
        let stopped = Arc::new(AtomicBool::new(false));
        let down = stopped.clone();
        let server = HttpServer::start(move |hit, s| {
            if down.load(Ordering::SeqCst) {
                return; // closed without an answer
            }
            let rel = hit.path.trim_start_matches('/');
            let file = (!rel.split('/').any(|c| c == ".."))
                .then(|| std::fs::read(root.join(rel)).ok())
                .flatten();
            match file {
                Some(body) if hit.method == "GET" => respond(s, 200, &[], &body),
                _ => respond(s, 404, &[], b""),
            }
        });
        let line = format!(
            "deb [signed-by={}] {} stable main",
            repo.keyring.display(),
            server.base
        );
        PackageServer {
            server,
            stopped,
            _repo: repo,
            line,
        }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.server.hits().len()
    }
}

fn packages() -> Vec<TestPkg> {
    vec![
        TestPkg::new("app", "1.0-1", "Depends: libx (>= 1)"),
        TestPkg::new("libx", "1.0-1", ""),
    ]
}

/// A locked config in a fresh directory.
fn locked_config(server: &PackageServer) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("image.yaml"),
        format!(
            "contents:\n  repositories:\n    - {}\n  packages: [app]\narchs: [amd64]\n",
            server.line
        ),
    )
    .unwrap();
    run(whittle()
        .current_dir(dir.path())
        .env("WHITTLE_CACHE_KEY", dir.path().join("lock.key"))
        .args(["lock", "image.yaml", "--cache-dir", "lock-cache"]));
    dir
}

/// `whittle build` of `dir`'s config as runner `name` (its own cache, the fleet's key).
fn runner(dir: &Path, name: &str, extra: &[String]) -> std::process::Command {
    let mut cmd = whittle();
    cmd.current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("WHITTLE_CACHE_FROM")
        .env_remove("WHITTLE_CACHE_TO")
        .env("WHITTLE_CACHE_KEY", dir.join("fleet.key"))
        .args(["build", "image.yaml", "--no-sbom", "-o"])
        .arg(format!("oci:{name}-img"))
        .args(["--cache-dir", &format!("{name}-cache")])
        .args(extra);
    cmd
}

/// Builds as runner `name`; (digest, stderr).
fn build(dir: &Path, name: &str, extra: &[String]) -> (String, String) {
    let (out, err) = run_both(&mut runner(dir, name, extra));
    (out.trim().to_string(), err)
}

fn flag(name: &str, value: &str) -> Vec<String> {
    vec![name.to_string(), value.to_string()]
}

/// Every blob the registry stores, by its file.
fn registry_blobs(reg: &Registry) -> Vec<(String, PathBuf)> {
    let root = reg.storage().join("docker/registry/v2/blobs/sha256");
    let mut out = Vec::new();
    for prefix in std::fs::read_dir(&root).unwrap() {
        for blob in std::fs::read_dir(prefix.unwrap().path()).unwrap() {
            let blob = blob.unwrap();
            let hex = blob.file_name().to_string_lossy().into_owned();
            out.push((hex, blob.path().join("data")));
        }
    }
    out
}

/// The registry's blob of the `.deb` named `file` (found by its SHA-256 in the lock).
fn deb_blob(reg: &Registry, dir: &Path, file: &str) -> PathBuf {
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("image.lock.json")).unwrap()).unwrap();
    let text = lock.to_string();
    let pkgs = lock["contents"]["packages"]["amd64"]
        .as_array()
        .expect(&text);
    let p = pkgs
        .iter()
        .find(|p| p["url"].as_str().is_some_and(|u| u.ends_with(file)))
        .expect(&text);
    let hex = p["sha256"].as_str().unwrap().to_string();
    registry_blobs(reg)
        .into_iter()
        .find(|(h, _)| *h == hex)
        .map(|(_, p)| p)
        .expect("the package is in the registry cache")
}

/// A local registry (`auth`: its one user), the package server, the directory of a config
/// locked against it and the cache repository on the registry; `None` (skipped) when no
/// registry can run here.
fn cache_setup(
    auth: Option<(&str, &str)>,
) -> Option<(Registry, PackageServer, tempfile::TempDir, String)> {
    let reg = Registry::start(auth)?;
    let server = PackageServer::start(&packages());
    let dir = locked_config(&server);
    let cache = format!("{}/ci/whittle-cache", reg.host());
    Some((reg, server, dir, cache))
}

#[test]
fn a_cold_runner_builds_from_the_registry_cache_while_the_mirror_is_down() {
    let Some((reg, server, dir, cache)) = cache_setup(None) else {
        return;
    };
    let d = dir.path();

    let (a, err) = build(d, "a", &flag("--cache-to", &cache));
    assert!(err.contains("written to docker://"), "{err}");
    let tags = registry_blobs(&reg).len();
    assert!(tags >= 3, "the packages and the layer are in the registry");

    server.stop();
    let before = server.requests();
    let (b, err) = build(d, "b", &flag("--cache-from", &format!("docker://{cache}")));
    assert_eq!(a, b, "the same image from the shared cache");
    // the two packages, and derived entries (package data, the layer) too
    let read: usize = err
        .lines()
        .find_map(|l| {
            l.strip_prefix("cache     ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .expect(&err);
    assert!(read > 2, "{err}");
    assert!(!err.contains("shared cache"), "{err}");
    assert_eq!(
        server.requests(),
        before,
        "nothing was asked of the package mirror"
    );

    // the variable CI sets; a runner with another cache key: the packages come from the
    // registry, the derived entries (not verifiable under its key) are made here
    let (v, err) = run_both(
        runner(d, "v", &[])
            .env("WHITTLE_CACHE_FROM", &cache)
            .env("WHITTLE_CACHE_KEY", d.join("v.key")),
    );
    assert_eq!(v.trim(), a);
    assert!(
        err.contains("no seal this machine's cache key verifies"),
        "{err}"
    );
    assert_eq!(server.requests(), before);

    // without the shared cache the mirror really is gone
    let err = run_fail(
        runner(d, "c", &[])
            .env("WHITTLE_TRANSFER_DEADLINE", "20s")
            .env("WHITTLE_TRANSFER_STALL", "5s"),
    );
    assert!(
        err.contains(&format!("{}/pool/main/", server.server.base)),
        "{err}"
    );
}

#[test]
fn an_altered_registry_blob_is_reported_and_not_used() {
    let Some((reg, server, dir, cache)) = cache_setup(None) else {
        return;
    };
    let d = dir.path();
    let (a, _) = build(d, "a", &flag("--cache-to", &cache));

    // someone with access to the registry's storage changes one byte of a package
    let data = deb_blob(&reg, d, "libx_1.0-1_amd64.deb");
    let mut bytes = std::fs::read(&data).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();

    // the mirror is up: the altered blob is reported, the package fetched from the mirror
    let (b, err) = build(d, "b", &flag("--cache-from", &cache));
    assert_eq!(a, b);
    assert!(
        err.contains("does not match") && err.contains("not used"),
        "{err}"
    );
    let libx = d.join("b-cache/blobs/sha256").join(
        data.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .as_ref(),
    );
    let kept = std::fs::read(&libx).unwrap();
    assert_ne!(kept, bytes, "the local cache holds the good package");

    // the mirror is down: the altered blob is still not used, the build fails on that package
    server.stop();
    let err = run_fail(
        runner(d, "c", &flag("--cache-from", &cache))
            .env("WHITTLE_TRANSFER_DEADLINE", "20s")
            .env("WHITTLE_TRANSFER_STALL", "5s"),
    );
    assert!(err.contains("does not match"), "{err}");
    assert!(err.contains("libx_1.0-1_amd64.deb"), "{err}");
}

#[test]
fn four_runners_at_once_share_one_cache_repository() {
    let Some((reg, server, dir, cache)) = cache_setup(None) else {
        return;
    };
    let d = dir.path();
    let both = [flag("--cache-from", &cache), flag("--cache-to", &cache)].concat();
    let children: Vec<_> = (0..4)
        .map(|i| {
            runner(d, &format!("r{i}"), &both)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let digests: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect();
    assert!(digests[0].starts_with("sha256:"), "{digests:?}");
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");

    // every blob the registry holds is what its digest says
    let blobs = registry_blobs(&reg);
    assert!(!blobs.is_empty());
    for (hex, data) in &blobs {
        assert_eq!(&sha256(&std::fs::read(data).unwrap()), hex, "{data:?}");
    }
    // and the cache they left builds the same image with the mirror gone
    server.stop();
    let (e, err) = build(d, "e", &flag("--cache-from", &cache));
    assert_eq!(e, digests[0]);
    assert!(!err.contains("shared cache"), "{err}");
}

#[test]
fn an_unreachable_cache_is_one_warning_and_the_build_goes_on() {
    let server = PackageServer::start(&packages());
    let dir = locked_config(&server);
    let d = dir.path();
    // a port nothing listens on
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = std::time::Instant::now();
    let (digest, err) = build(
        d,
        "a",
        &flag("--cache-from", &format!("{closed}/ci/whittle-cache")),
    );
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(err.matches("shared cache").count(), 1, "{err}");
    assert!(err.contains("fetching normally"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let (plain, _) = build(d, "b", &[]);
    assert_eq!(plain, digest);
}

/// `whittle pkg build` takes the same flags: its build environment (Debian's busybox-static from
/// the fixture repository and libx from the served one) comes from the registry cache once the
/// mirror is down, and the package is byte-identical.
#[test]
fn pkg_build_environments_come_from_the_registry_cache() {
    let Some(fx) = fixture_build_env() else {
        return;
    };
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let server = PackageServer::start(&[TestPkg::new("libx", "1.0-1", "")]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let deb = fx.join("deb/bookworm-mini");
    std::fs::write(
        d.join("envver.yaml"),
        format!(
            "package:\n  name: envver\n  version: 1.0\n  epoch: 0\n  description: which libx the environment held\n  copyright:\n    - license: MIT\n\
             environment:\n  contents:\n    repositories:\n      - deb [signed-by={key}] file://{deb} bookworm main\n      - {line}\n    packages: [busybox-static, libx]\n\
             pipeline:\n  - runs: |\n      mkdir -p ${{{{targets.destdir}}}}/usr/share/envver\n      cat /usr/share/whittle-test/marker > ${{{{targets.destdir}}}}/usr/share/envver/version\n",
            key = deb.join("keys/debian-archive-keyring.gpg").display(),
            deb = deb.display(),
            line = server.line,
        ),
    )
    .unwrap();
    run(whittle()
        .current_dir(d)
        .env("WHITTLE_CACHE_KEY", d.join("lock.key"))
        .args(["lock", "envver.yaml", "--cache-dir", "lock-cache"]));
    let cache = format!("{}/ci/whittle-cache", reg.host());
    let pkg_build = |name: &str, flag: &str| {
        run_both(
            whittle()
                .current_dir(d)
                .env_remove("WHITTLE_CACHE_FROM")
                .env_remove("WHITTLE_CACHE_TO")
                .env("WHITTLE_CACHE_KEY", d.join("fleet.key"))
                .args(["pkg", "build", "envver.yaml", "--arch", "x86_64"])
                .args(["--source-date-epoch", "1700000000", "--out"])
                .arg(format!("{name}-out"))
                .args(["--cache-dir", &format!("{name}-cache"), flag, &cache]),
        );
        std::fs::read(d.join(format!("{name}-out/x86_64/envver-1.0-r0.apk"))).unwrap()
    };
    let a = pkg_build("a", "--cache-to");
    server.stop();
    let before = server.requests();
    let b = pkg_build("b", "--cache-from");
    assert_eq!(
        a, b,
        "the same package from an environment out of the cache"
    );
    assert_eq!(server.requests(), before, "nothing asked of the mirror");
}

/// Credentials come from the Docker config as for pushes: with them the cache is written and
/// read; without them it is one warning and the build fetches from the mirror.
#[test]
fn credentials_are_those_of_pushes() {
    use base64::Engine;
    let Some((reg, server, dir, cache)) = cache_setup(Some(("ci", "s3cret"))) else {
        return;
    };
    let d = dir.path();
    let config = d.join("docker");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
            reg.host(),
            base64::engine::general_purpose::STANDARD.encode("ci:s3cret")
        ),
    )
    .unwrap();
    let with = |name: &str, f: &str, docker: &Path| {
        run_both(
            runner(d, name, &flag(f, &cache))
                .env("DOCKER_CONFIG", docker)
                .env("WHITTLE_TRANSFER_STALL", "5s"),
        )
    };
    let (a, err) = with("a", "--cache-to", &config);
    assert!(err.contains("written to docker://"), "{err}");

    // no credentials: refused, reported once, the mirror serves the build
    let (b, err) = with("b", "--cache-from", &d.join("no-docker-config"));
    assert_eq!(a, b);
    assert_eq!(err.matches("shared cache").count(), 1, "{err}");
    assert!(err.contains("credentials"), "{err}");

    server.stop();
    let (c, err) = with("c", "--cache-from", &config);
    assert_eq!(a, c);
    assert!(!err.contains("shared cache"), "{err}");
}

/// A registry that accepts connections and never answers costs a bounded time (the stall limit,
/// one retry), is reported once, and the build fetches normally.
#[test]
fn a_silent_registry_is_given_up_on_within_the_stall_limit() {
    let server = PackageServer::start(&packages());
    let dir = locked_config(&server);
    let d = dir.path();
    let silent = HttpServer::start(|_, _| std::thread::sleep(std::time::Duration::from_secs(120)));
    let started = std::time::Instant::now();
    let (digest, err) = run_both(
        runner(
            d,
            "a",
            &flag("--cache-from", &format!("{}/ci/whittle-cache", silent.host)),
        )
        .env("WHITTLE_TRANSFER_STALL", "2s"),
    );
    let took = started.elapsed();
    assert!(digest.trim().starts_with("sha256:"), "{digest}");
    assert_eq!(err.matches("shared cache").count(), 1, "{err}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}\n{err}");
    // the two packages are asked for at once, each tried twice; nothing after the first failure
    let asked = silent.hits().len();
    assert!((2..=4).contains(&asked), "{:?}", silent.hits());
}
