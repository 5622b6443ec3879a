//! The talk's demo end to end (issue 8): build the awk playground, build its minimal and its
//! bloated image from `examples/awk-playground/*.yaml` with whittle, run each under runc with the
//! service on 127.0.0.1, and show over HTTP that the same injected `system()` call reads
//! /etc/passwd in the bloated image and gets nothing in the minimal one.
//!
//! The minimal image builds from the real Debian fixture repository anywhere; with the host's
//! Debian mirror (CI=true or WHITTLE_TEST_MIRROR=1) both images build from the examples as they
//! are. Needs umoci, runc and root; SKIPPED without them, except under CI=true.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the service in release mode (its own target dir: no lock shared with the running
/// `cargo test`); returns the binary.
fn build_app() -> PathBuf {
    let root = repo_root();
    let target = root.join("target/awk-playground-e2e");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "awk-playground",
            "--target-dir",
        ])
        .arg(&target));
    target.join("release/awk-playground")
}

/// The example config `name`, its binary path pointed at `app`, optionally with the fixture
/// repository instead of the host mirror.
fn example(name: &str, app: &Path, fixture_repo: Option<&Path>) -> String {
    let text =
        std::fs::read_to_string(repo_root().join("examples/awk-playground").join(name)).unwrap();
    let mut text = text.replace(
        "../../target/release/awk-playground",
        &app.display().to_string(),
    );
    if let Some(repo) = fixture_repo {
        let host_line = text
            .lines()
            .find(|l| l.contains("host:debian"))
            .unwrap()
            .to_string();
        text = text.replace(
            host_line.trim(),
            &format!(
                "- deb [signed-by={}] file://{} bookworm main",
                repo.join("keys/debian-archive-keyring.gpg").display(),
                repo.display()
            ),
        );
    }
    text
}

struct Container {
    id: String,
    child: Child,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["kill", &self.id, "KILL"])
            .output();
        let _ = self.child.wait();
        let _ = Command::new("runc")
            .args(["delete", "-f", &self.id])
            .output();
    }
}

/// Starts the image's entrypoint under runc in the host's network namespace, listening on
/// 127.0.0.1 port 0; returns the container and the address the service reports.
fn start(bundle: &Path) -> (Container, String) {
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = false.into();
    let env = cfg["process"]["env"].as_array_mut().unwrap();
    env.retain(|e| !e.as_str().unwrap().starts_with("AWK_PLAYGROUND_LISTEN="));
    env.push("AWK_PLAYGROUND_LISTEN=127.0.0.1:0".into());
    // the host's network: the service is reachable on 127.0.0.1 without a bridge
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "network");
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let id = format!(
        "whittle-awk-{}-{}",
        std::process::id(),
        bundle.file_name().unwrap().to_string_lossy()
    );
    // runc passes its stdio to the container: the service's "listening on ADDR" line arrives
    // on runc's stderr
    let (child, addr) = whittle_testutil::spawn_listening(
        Command::new("runc")
            .args(["run", "-b"])
            .arg(bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
        Duration::from_secs(20),
    );
    (Container { id, child }, addr.to_string())
}

/// `curl -F text=… -F awkScript=… ADDR/test`: (status, JSON body).
fn post(addr: &str, text: &str, script: &str) -> (u16, serde_json::Value) {
    let b = "----whittle-e2e";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n{text}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"awkScript\"\r\n\r\n{script}\r\n--{b}--\r\n"
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /test HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let json = out.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(json).unwrap())
}

/// Sum of the layer sizes (compressed) of the one image in an OCI layout.
fn compressed_size(layout: &Path) -> u64 {
    whittle_testutil::oci::Layout::new(layout).manifest()["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum()
}

#[test]
fn minimal_image_denies_the_exploit_the_bloated_one_allows() {
    let Some(fix) = fixtures() else { return };
    if !(tool("umoci") && tool("runc") && is_root()) {
        return;
    }
    let app = build_app();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let fixture_repo = fix.join("deb/bookworm-mini");
    let minimal_cfg = example(
        "minimal-debian.yaml",
        &app,
        (!whittle_testutil::mirror_allowed()).then_some(fixture_repo.as_path()),
    );
    let minimal = dir.path().join("minimal");
    let mdir = dir.path().join("m");
    std::fs::create_dir(&mdir).unwrap();
    build(
        &mdir,
        &minimal_cfg,
        &format!("oci:{}:latest", minimal.display()),
        &cache,
        &["--allow-path", app.parent().unwrap().to_str().unwrap()],
    );
    let size = compressed_size(&minimal);
    assert!(
        size <= 10_000_000,
        "minimal image is {size} bytes compressed (> 10 MB)"
    );
    let bundle = dir.path().join("minimal-bundle");
    let rootfs = unpack(&minimal, "latest", &bundle);
    assert!(!rootfs.join("bin/sh").exists() && !rootfs.join("usr/bin/sh").exists());
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg["process"]["user"]["uid"], 65532,
        "minimal image runs as non-root"
    );

    let minimal_ref = format!("oci:{}:latest", minimal.display());
    let rows = compare(&[&minimal_ref]);
    assert_eq!(rows[0]["shell"], false);
    assert_eq!(rows[0]["package_manager"], false);
    assert_eq!(rows[0]["root"], false);
    assert_eq!(rows[0]["secrets"], 0);
    assert_eq!(rows[0]["compressed_bytes"], size);

    let (c, addr) = start(&bundle);
    let (status, out) = post(&addr, "hello world", "{print $1}");
    assert_eq!(status, 200);
    assert_eq!(out, serde_json::json!({"stderr": "", "stdout": "hello\n"}));
    let (_, out) = post(&addr, "", r#"BEGIN { system("cat /etc/passwd") }"#);
    assert_eq!(out["stdout"], "", "no shell: system() reads nothing: {out}");
    let (_, out) = post(&addr, "", r#"BEGIN { print system("cat /etc/passwd") }"#);
    assert_eq!(
        out["stdout"], "127\n",
        "system() says /bin/sh cannot run: {out}"
    );
    drop(c);

    if !whittle_testutil::mirror_allowed() {
        eprintln!(
            "SKIPPED: the bloated image needs bash, coreutils and apt from the host's Debian \
             mirror; set WHITTLE_TEST_MIRROR=1 (or CI=true)"
        );
        return;
    }
    let bloated = dir.path().join("bloated");
    let bdir = dir.path().join("b");
    std::fs::create_dir(&bdir).unwrap();
    build(
        &bdir,
        &example("bloated-debian.yaml", &app, None),
        &format!("oci:{}:latest", bloated.display()),
        &cache,
        &["--allow-path", app.parent().unwrap().to_str().unwrap()],
    );
    let bbundle = dir.path().join("bloated-bundle");
    unpack(&bloated, "latest", &bbundle);
    let (c, addr) = start(&bbundle);
    let (status, out) = post(&addr, "hello world", "{print $1}");
    assert_eq!((status, out["stdout"].as_str()), (200, Some("hello\n")));
    let (_, out) = post(&addr, "", r#"BEGIN { system("cat /etc/passwd") }"#);
    let stdout = out["stdout"].as_str().unwrap();
    assert!(
        stdout.starts_with("root:x:0:0:"),
        "the shell hands over /etc/passwd: {out}"
    );
    drop(c);
    assert!(compressed_size(&bloated) > 2 * size);

    // the talk's table: what each image hands an attacker
    let bloated_ref = format!("oci:{}:latest", bloated.display());
    let rows = compare(&[&minimal_ref, &bloated_ref]);
    assert_eq!(
        (
            &rows[1]["shell"],
            &rows[1]["package_manager"],
            &rows[1]["root"]
        ),
        (&true.into(), &true.into(), &true.into())
    );
    assert!(rows[1]["packages"].as_u64().unwrap() > 3 * rows[0]["packages"].as_u64().unwrap());
    let md = run(whittle()
        .env("WHITTLE_DB_DIR", dir.path().join("no-db"))
        .args([
            "compare",
            "--format",
            "markdown",
            &minimal_ref,
            &bloated_ref,
        ]));
    assert!(
        md.lines()
            .any(|l| l.starts_with("| image |") && l.contains("| shell |")),
        "{md}"
    );
    assert_eq!(md.lines().count(), 4, "{md}");
}

/// `whittle compare --format json` rows (no vulnerability database: an empty one).
fn compare(images: &[&str]) -> Vec<serde_json::Value> {
    let db = tempfile::tempdir().unwrap();
    let out = run(whittle()
        .env("WHITTLE_DB_DIR", db.path())
        .args(["compare", "--format", "json"])
        .args(images));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["images"].as_array().unwrap().clone()
}

/// The talk's Dockerfiles, kept beside the configs, linted: the single-stage one carries the
/// footguns, the multi-stage and distroless ones do not.
#[test]
fn the_talks_dockerfiles_are_linted() {
    let dir = repo_root().join("examples/awk-playground/dockerfiles");
    let out = run(whittle()
        .args(["lint", "--format", "json"])
        .arg(dir.join("Dockerfile.bloated")));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "base-latest",
            "package-cache",
            "runs-as-root",
            "toolchain-kept"
        ]
    );
    let status = whittle()
        .args(["lint", "--fail-on", "medium"])
        .arg(dir.join("Dockerfile.bloated"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    for clean in ["Dockerfile.multistage", "Dockerfile.distroless"] {
        let status = whittle()
            .args(["lint", "--fail-on", "low"])
            .arg(dir.join(clean))
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0), "{clean}");
    }
}

/// `examples/awk-playground/wolfi.yaml` built and run with its own entrypoint (issue 12). Wolfi's
/// repository cannot be reached from whittle's CI machines: the config is built as written
/// except for its `repositories` and `keyring`, which point at a signed APK repository this test
/// writes, with stand-ins named as the config's packages made from real Debian binaries that
/// whittle fetched and verified from the host's Debian mirror (`gawk` is Debian's gawk, `glibc`
/// the C library and gawk's other libraries, `libgcc` libgcc_s). Needs the mirror (CI=true or
/// WHITTLE_TEST_MIRROR=1), umoci, runc and root.
#[test]
fn the_wolfi_example_serves_without_a_shell() {
    if !whittle_testutil::mirror() {
        return;
    }
    if !(tool("umoci") && tool("runc") && is_root()) {
        return;
    }
    use common::apk::{Pkg, test_key, write_arch, write_public_key};
    let app = build_app();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let debian = host_mirror_layer(dir.path(), "amd64", "gawk, libgcc-s1");
    let is_lib = |p: &str| p == "lib" || p == "lib64" || p.starts_with("usr/lib");
    let is_libgcc = |p: &str| p.contains("/libgcc_s");
    let gawk = stand_in_files(&debian, |p| p == "usr/bin/gawk");
    let glibc = stand_in_files(&debian, |p| is_lib(p) && !is_libgcc(p));
    let libgcc = stand_in_files(&debian, is_libgcc);
    assert!(!gawk.is_empty() && !libgcc.is_empty() && glibc.len() > 10);
    let repo = dir.path().join("repo");
    let key = test_key();
    write_arch(
        &repo,
        "x86_64",
        &key,
        &[
            Pkg::stand_in("gawk", files_view(&gawk)),
            Pkg::stand_in("glibc", files_view(&glibc)),
            Pkg::stand_in("libgcc", files_view(&libgcc)),
            Pkg::wolfi_baselayout(),
        ],
    );
    let key_path = write_public_key(&repo, &key);
    let text = with_repository(&example("wolfi.yaml", &app, None), &repo, &key_path);
    assert!(!text.contains("https://"), "every URL replaced:\n{text}");
    let layout = dir.path().join("wolfi");
    let work = dir.path().join("w");
    std::fs::create_dir(&work).unwrap();
    build(
        &work,
        &text,
        &format!("oci:{}:latest", layout.display()),
        &cache,
        &["--allow-path", app.parent().unwrap().to_str().unwrap()],
    );
    let bundle = dir.path().join("wolfi-bundle");
    let rootfs = unpack(&layout, "latest", &bundle);
    assert!(!rootfs.join("bin/sh").exists() && !rootfs.join("usr/bin/sh").exists());
    let (c, addr) = start(&bundle);
    let (status, out) = post(&addr, "hello world", "{print $1}");
    assert_eq!(
        (status, out["stdout"].as_str()),
        (200, Some("hello\n")),
        "{out}"
    );
    let (_, out) = post(&addr, "", r#"BEGIN { print system("cat /etc/passwd") }"#);
    assert_eq!(out["stdout"], "127\n", "no shell for system(): {out}");
    drop(c);
}
