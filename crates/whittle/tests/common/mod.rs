//! Shared helpers of the CLI integration tests: fixtures, system tools, and a signed Debian
//! repository generated on the fly.
#![allow(dead_code)]

use sha2::Digest;
use std::path::{Path, PathBuf};

use std::process::Command;

pub mod apk;
pub mod scanners;

#[allow(unused_imports)]
pub use whittle_testutil::{ci, fixtures, skip, tool};

/// The whittle binary under test.
pub fn whittle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_whittle"))
}

/// Runs a command, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    run_both(cmd).0
}

/// Runs a command, panicking with its output when it fails; returns stdout and stderr.
pub fn run_both(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("spawn");
    if !out.status.success() {
        panic!(
            "{:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command expected to fail; returns stderr.
pub fn run_fail(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        !out.status.success(),
        "{cmd:?} should have failed; stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// A file of a test package.
pub struct TestFile {
    pub path: &'static str,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// A package for a generated repository.
pub struct TestPkg {
    pub name: &'static str,
    pub version: &'static str,
    /// Extra control fields, e.g. "Depends: b | c\nProvides: x".
    pub fields: &'static str,
    pub files: Vec<TestFile>,
    /// Symlinks `(path, target)` in the data archive.
    pub links: Vec<(&'static str, &'static str)>,
}

impl TestPkg {
    pub fn new(name: &'static str, version: &'static str, fields: &'static str) -> Self {
        TestPkg {
            name,
            version,
            fields,
            files: vec![TestFile {
                path: "usr/share/whittle-test/marker",
                data: format!("{name} {version}\n").into_bytes(),
                mode: 0o644,
            }],
            links: Vec::new(),
        }
    }

    /// Adds a symlink `path -> target` (target verbatim) to the package.
    pub fn with_link(mut self, path: &'static str, target: &'static str) -> Self {
        self.links.push((path, target));
        self
    }
}

fn tar_gz(entries: &[(String, Vec<u8>, u32, bool)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (path, data, mode, dir) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        if *dir {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
        }
        b.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// `tar_gz` output with symlink entries appended (in the same gzip stream).
fn with_symlinks(tar_gz: &[u8], links: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(tar_gz), &mut tar).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut old = tar::Archive::new(tar.as_slice());
    for e in old.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let path = e.path().unwrap().into_owned();
        b.append_data(&mut h, path, &mut e).unwrap();
    }
    for (path, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        // written verbatim: the tar crate's link name setter refuses `..`
        let raw = &mut h.as_old_mut().linkname;
        raw[..target.len()].copy_from_slice(target.as_bytes());
        b.append_data(&mut h, format!("./{path}"), std::io::empty())
            .unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

/// The control stanza of a test package (without the index-only fields).
fn control(p: &TestPkg, arch: &str) -> String {
    let mut c = format!(
        "Package: {}\nVersion: {}\nArchitecture: {arch}\nMaintainer: Test <test@example.org>\nInstalled-Size: 1\n",
        p.name, p.version
    );
    for l in p.fields.lines().filter(|l| !l.trim().is_empty()) {
        c.push_str(l.trim());
        c.push('\n');
    }
    c.push_str(&format!("Description: test package {}\n", p.name));
    c
}

/// A real `.deb` (ar: debian-binary, control.tar.gz, data.tar.gz).
pub fn make_deb(p: &TestPkg, arch: &str) -> Vec<u8> {
    let control_tar = tar_gz(&[(
        "./control".into(),
        control(p, arch).into_bytes(),
        0o644,
        false,
    )]);
    let mut data_entries = vec![("./".to_string(), vec![], 0o755, true)];
    let mut dirs = std::collections::BTreeSet::new();
    for f in &p.files {
        let mut acc = String::from(".");
        let parts: Vec<&str> = f.path.split('/').collect();
        for d in &parts[..parts.len() - 1] {
            acc = format!("{acc}/{d}");
            if dirs.insert(acc.clone()) {
                data_entries.push((format!("{acc}/"), vec![], 0o755, true));
            }
        }
        data_entries.push((format!("./{}", f.path), f.data.clone(), f.mode, false));
    }
    let mut data_tar = tar_gz(&data_entries);
    if !p.links.is_empty() {
        data_tar = with_symlinks(&data_tar, &p.links);
    }
    let mut out = Vec::new();
    {
        let mut ar = ar::Builder::new(&mut out);
        for (name, data) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.gz", control_tar),
            ("data.tar.gz", data_tar),
        ] {
            let mut h = ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
            h.set_mode(0o644);
            ar.append(&h, data.as_slice()).unwrap();
        }
    }
    out
}

/// A generated, signed Debian repository (suite `stable`, component `main`, amd64).
pub struct Repo {
    pub dir: tempfile::TempDir,
    pub keyring: PathBuf,
    /// The key that signs its InRelease.
    pub key: whittle_deb::release::SigningKey,
    /// The Release text (what InRelease signs).
    pub release: String,
}

impl Repo {
    pub fn uri(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }
    /// The config line for this repository.
    pub fn line(&self) -> String {
        format!(
            "deb [signed-by={}] {} stable main",
            self.keyring.display(),
            self.uri()
        )
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// Signs `release` (e.g. [`Repo::release`] with another `Date:`) with the repository's key
    /// as its new InRelease: a validly signed Release of another day.
    pub fn resign(&self, release: &str) {
        let signed = self.key.clearsign(release).unwrap();
        std::fs::write(self.path("dists/stable/InRelease"), signed).unwrap();
    }
    /// [`Repo::resign`] with the `Date:` set to `date` (e.g. "Sat, 01 Nov 2025 00:00:00 UTC").
    pub fn resign_with_date(&self, date: &str) {
        self.resign(&self.release.replace(
            "Date: Sat, 01 Nov 2025 00:00:00 UTC",
            &format!("Date: {date}"),
        ));
    }
}

/// Writes the packages as a repository signed by a fresh OpenPGP key (amd64 only).
pub fn make_repo(pkgs: &[TestPkg]) -> Repo {
    make_repo_archs(pkgs, &["amd64"])
}

/// Writes the packages, built for each of `archs`, as a signed repository.
pub fn make_repo_archs(pkgs: &[TestPkg], archs: &[&str]) -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let key =
        whittle_deb::release::SigningKey::generate("Whittle Test <test@example.org>").unwrap();
    let keyring = dir.path().join("test-keyring.gpg");
    std::fs::write(&keyring, key.public_keyring_bytes()).unwrap();
    let release = write_index(
        dir.path(),
        pkgs,
        archs,
        "Sat, 01 Nov 2025 00:00:00 UTC",
        &key,
    );
    Repo {
        dir,
        keyring,
        key,
        release,
    }
}

impl Repo {
    /// The repository moves on: `pkgs` (amd64) become its index, signed by the same key and
    /// dated `date`; the files of the old index stay in the pool, as on a mirror until it
    /// drops them.
    pub fn publish(&mut self, pkgs: &[TestPkg], date: &str) {
        self.release = write_index(self.dir.path(), pkgs, &["amd64"], date, &self.key);
    }
}

/// Writes the packages into `dir`'s pool, their `Packages` indexes, and an `InRelease` dated
/// `date` signed by `key`; returns the Release text.
fn write_index(
    dir: &Path,
    pkgs: &[TestPkg],
    archs: &[&str],
    date: &str,
    key: &whittle_deb::release::SigningKey,
) -> String {
    let mut sums = String::new();
    for arch in archs {
        let mut index = String::new();
        for p in pkgs {
            let deb = make_deb(p, arch);
            let rel = format!(
                "pool/main/{}_{}_{arch}.deb",
                p.name,
                p.version.replace(':', "%3a")
            );
            let path = dir.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &deb).unwrap();
            let ctl = control(p, arch);
            let (head, desc) = ctl.split_at(ctl.find("Description:").unwrap());
            index.push_str(head);
            index.push_str(&format!(
                "Filename: {rel}\nSize: {}\nSHA256: {}\n{desc}\n",
                deb.len(),
                sha256(&deb)
            ));
        }
        let bin = dir.join(format!("dists/stable/main/binary-{arch}"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("Packages"), &index).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, index.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        std::fs::write(bin.join("Packages.gz"), &gz).unwrap();
        sums.push_str(&format!(
            " {} {} main/binary-{arch}/Packages\n {} {} main/binary-{arch}/Packages.gz\n",
            sha256(index.as_bytes()),
            index.len(),
            sha256(&gz),
            gz.len()
        ));
    }
    let release = format!(
        "Origin: Whittle Test\nLabel: Whittle Test\nSuite: stable\nCodename: stable\n\
         Date: {date}\nArchitectures: {}\nComponents: main\n\
         Description: generated by whittle's tests\nSHA256:\n{sums}",
        archs.join(" ")
    );
    let signed = key.clearsign(&release).unwrap();
    std::fs::write(dir.join("dists/stable/InRelease"), signed).unwrap();
    release
}

/// A config for the real Debian 12 fixture repository (`deb/bookworm-mini`) as a file:// repo.
pub fn fixture_config(fix: &Path, packages: &str, extra: &str) -> String {
    let repo = fix.join("deb/bookworm-mini");
    format!(
        "contents:\n  repositories:\n    - deb [signed-by={key}] file://{repo} bookworm main\n  packages: [{packages}]\n\
         entrypoint:\n  command: /usr/bin/gawk\n\
         accounts:\n  groups: [{{groupname: nonroot, gid: 65532}}]\n  users: [{{username: nonroot, uid: 65532, gid: 65532}}]\n  run-as: nonroot\n\
         archs: [amd64]\n{extra}",
        key = repo.join("keys/debian-archive-keyring.gpg").display(),
        repo = repo.display(),
    )
}

/// Builds `config` (written into `dir/image.yaml`) to `dest`, with `cache`; returns the digest
/// printed on stdout.
pub fn build(dir: &Path, config: &str, dest: &str, cache: &Path, extra: &[&str]) -> String {
    let cfg = dir.join("image.yaml");
    std::fs::write(&cfg, config).unwrap();
    let out = run(whittle()
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .arg("build")
        .arg(&cfg)
        .arg("-o")
        .arg(dest)
        .arg("--cache-dir")
        .arg(cache)
        .args(extra));
    out.trim().to_string()
}

/// Builds `config` (written into `dir/image.yaml`) to `oci:img` with the cache `dir/cache`,
/// expecting a refusal; asserts no image was written and returns stderr.
pub fn build_refused(dir: &Path, config: &str) -> String {
    std::fs::write(dir.join("image.yaml"), config).unwrap();
    let err = run_fail(whittle().current_dir(dir).args([
        "build",
        "image.yaml",
        "-o",
        "oci:img",
        "--cache-dir",
        "cache",
    ]));
    assert!(!dir.join("img").exists(), "no partial output on failure");
    err
}

/// Whether `pkg build` can run in the sandbox from the host's Debian mirror: the mirror is
/// enabled and `bwrap` is installed (each check says SKIPPED, or fails under `CI=true`).
pub fn mirror_sandbox() -> bool {
    whittle_testutil::mirror() && tool("bwrap")
}

/// The fixtures, when `pkg build` can run in the sandbox from them (`bwrap` is installed);
/// each check says SKIPPED, or fails under `CI=true`.
pub fn fixture_sandbox() -> Option<PathBuf> {
    let fix = fixtures()?;
    tool("bwrap").then_some(fix)
}

/// One package cache for every build from the host's Debian mirror, shared by all the test
/// binaries of this crate (whittle's cache is safe for concurrent builds): each package is
/// downloaded once per test run.
pub fn mirror_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("mirror-cache")
}

/// A config of `packages` (a YAML flow list's items) for `arch` from the host's Debian mirror
/// (`host:debian` `suite` `main`, signed by Debian's archive keyring); `contents` adds lines
/// under `contents:` (`"  exclude: [dpkg]\n"`).
pub fn mirror_config(suite: &str, packages: &str, contents: &str, arch: &str) -> String {
    format!(
        "contents:\n  repositories:\n    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian {suite} main\n  packages: [{packages}]\n{contents}archs: [{arch}]\n"
    )
}

/// Writes `config` to `dir/NAME.yaml` and builds it into `oci:dir/NAME:t` (SBOM beside it) with
/// [`mirror_cache`]; returns the build log.
pub fn build_logged(dir: &Path, name: &str, config: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{name}.yaml")), config).unwrap();
    run_both(
        whittle()
            .current_dir(dir)
            .arg("build")
            .arg(format!("{name}.yaml"))
            .args(["-o", &format!("oci:{name}:t"), "--cache-dir"])
            .arg(mirror_cache()),
    )
    .1
}

/// Unpacks `oci:LAYOUT:TAG` with umoci into `bundle` and returns the rootfs path.
pub fn unpack(layout: &Path, tag: &str, bundle: &Path) -> PathBuf {
    run(Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// Runs `args` in an unpacked bundle with runc (as the image's user); returns (status, stdout, stderr).
/// Empty `args` run the image's own entrypoint and cmd.
pub fn runc(bundle: &Path, args: &[&str]) -> (i32, String, String) {
    runc_input(bundle, args, b"")
}

/// [`runc`] with `input` on the container's stdin.
pub fn runc_input(bundle: &Path, args: &[&str], input: &[u8]) -> (i32, String, String) {
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::Value::Bool(false);
    if !args.is_empty() {
        cfg["process"]["args"] = serde_json::json!(args);
    }
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let id = format!(
        "whittle-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut child = Command::new("runc")
        .arg("run")
        .arg("-b")
        .arg(bundle)
        .arg(&id)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // the container may exit without reading: a broken pipe is not the test's failure
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether we are root (runc and umoci's ownership need it).
pub fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    let root = String::from_utf8_lossy(&out.stdout).trim() == "0";
    if !root {
        skip("root (for runc)");
    }
    root
}

/// Writes `dir/hello-c/hello.c`: a C program printing `hello from hello-c`.
pub fn write_hello_c(dir: &Path) {
    std::fs::create_dir_all(dir.join("hello-c")).unwrap();
    std::fs::write(
        dir.join("hello-c/hello.c"),
        "#include <stdio.h>\nint main(void){puts(\"hello from hello-c\");return 0;}\n",
    )
    .unwrap();
}

/// Writes a gzip tarball of `entries` (path, content, mode) to `dir/name`; returns its
/// `file://` URI and SHA-256.
pub fn tar_gz_file(dir: &Path, name: &str, entries: &[(&str, &[u8], u32)]) -> (String, String) {
    let mut b = tar::Builder::new(Vec::new());
    for &(p, data, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, p, data).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
    let bytes = gz.finish().unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (format!("file://{}", path.display()), sha256(&bytes))
}

/// `whittle pkg build hello.yaml` in `d`, signed with `test.rsa`, for x86_64, into `out`.
pub fn pkg_build_hello_yaml(d: &Path, out: &str) -> String {
    run(whittle().current_dir(d).args([
        "pkg",
        "build",
        "hello.yaml",
        "--key",
        "test.rsa",
        "--out",
        out,
        "--arch",
        "x86_64",
        "--source-date-epoch",
        "1700000000",
        "--cache-dir",
        "cache",
        "-q",
    ]))
}

/// `(name, version)` of every package an SPDX SBOM's text lists (not the image, not the OS).
pub fn spdx_libraries(text: &[u8]) -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_slice(text).unwrap();
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["versionInfo"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The package names listed in an SPDX SBOM (not the image, not the OS).
pub fn sbom_packages(path: &Path) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut names: Vec<String> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Serves the files under `root` over HTTP/1.1 on 127.0.0.1 (GET only, one thread per
/// connection) until the process ends; returns the base URL.
pub fn serve_dir(root: &Path) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                let rel = path.trim_start_matches('/');
                let file = (!rel.split('/').any(|c| c == ".."))
                    .then(|| std::fs::read(root.join(rel)).ok())
                    .flatten();
                let mut out = stream;
                let _ = match file {
                    Some(body) => out
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|()| out.write_all(&body)),
                    None => out.write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    ),
                };
            });
        }
    });
    format!("http://{addr}")
}

/// The fixtures, when a `whittle pkg build` in an environment from the fixture repository can
/// run here (bwrap, and an x86_64 host: the environment is amd64); else `None`, said as a skip.
pub fn fixture_build_env() -> Option<PathBuf> {
    let fx = fixtures()?;
    if !tool("bwrap") {
        return None;
    }
    if std::env::consts::ARCH != "x86_64" {
        println!("SKIPPED: the fixture environment is amd64 and runs only on an x86_64 host");
        return None;
    }
    Some(fx)
}

/// Every entry of a layer by path: `("file", content)`, `("symlink", target)`,
/// `("hardlink", target)`, `("dir", "")`.
pub type Entries = std::collections::BTreeMap<String, (String, Vec<u8>)>;

/// The single layer of an OCI layout (its first manifest), decompressed once.
pub struct Layer {
    /// Every entry: what it is and its bytes.
    pub entries: Entries,
    /// The mode bits of every entry.
    pub modes: std::collections::BTreeMap<String, u32>,
}

/// Reads the single layer of the OCI layout `layout` (the first manifest).
pub fn read_layer(layout: &Path) -> Layer {
    let layer = whittle_testutil::oci::Layout::new(layout).layer(0);
    parse_layer(flate2::read::GzDecoder::new(layer.as_slice()))
}

/// Every layer of `oci:LAYOUT:TAG`, bottom first: its digest and its entries (read and
/// checked by whittle-oci, whatever the compression).
pub fn image_layers(layout: &Path, tag: &str) -> Vec<(String, Layer)> {
    let r = whittle_oci::ImageRef::parse(&format!("oci:{}:{tag}", layout.display())).unwrap();
    let img = whittle_oci::read_image(&r, None).unwrap();
    (0..img.layers.len())
        .map(|i| {
            let layer = img
                .read_layer(i, |l| Ok::<_, whittle_oci::ReadError>(parse_layer(l)))
                .unwrap();
            (img.manifest.layers[i].digest.to_string(), layer)
        })
        .collect()
}

/// The entries of an uncompressed layer tar.
pub fn parse_layer(tar: impl std::io::Read) -> Layer {
    let mut entries = Entries::new();
    let mut modes = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(tar);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let v = match e.header().entry_type() {
            tar::EntryType::Symlink => {
                ("symlink".to_string(), e.link_name_bytes().unwrap().to_vec())
            }
            tar::EntryType::Directory => ("dir".to_string(), Vec::new()),
            tar::EntryType::Link => (
                "hardlink".to_string(),
                e.link_name_bytes().unwrap().to_vec(),
            ),
            _ => {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut v).unwrap();
                ("file".to_string(), v)
            }
        };
        modes.insert(p.clone(), e.header().mode().unwrap());
        entries.insert(p, v);
    }
    Layer { entries, modes }
}

/// The entries of [`read_layer`].
pub fn layer_entries(layout: &Path) -> Entries {
    read_layer(layout).entries
}

/// [`layer_entries`] with each entry's bytes only (file content, link target, or nothing).
pub fn layer_files(layout: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    layer_entries(layout)
        .into_iter()
        .map(|(p, (_, bytes))| (p, bytes))
        .collect()
}

/// The single layer of a Debian image of `packages` for `arch`, built by whittle from the host's
/// Debian mirror (signed index, verified packages) into `dir/<arch>-debian` with [`mirror_cache`]:
/// the stand-in material for examples whose own repositories cannot be reached here.
pub fn host_mirror_layer(dir: &Path, arch: &str, packages: &str) -> Layer {
    let work = dir.join(format!("{arch}-debian"));
    std::fs::create_dir_all(&work).unwrap();
    let layout = work.join("layout");
    build(
        &work,
        &mirror_config("bookworm", packages, "", arch),
        &format!("oci:{}:t", layout.display()),
        &mirror_cache(),
        &["--no-sbom", "-q"],
    );
    read_layer(&layout)
}

/// Owned `(path, content, mode, symlink target)` entries of a stand-in package: the entries of
/// `layer` whose path passes `keep`, with their modes (directories end in `/`; a hard link
/// becomes a copy of its target).
pub fn stand_in_files(
    layer: &Layer,
    keep: impl Fn(&str) -> bool,
) -> Vec<(String, Vec<u8>, u32, Option<String>)> {
    layer
        .entries
        .iter()
        .filter(|(p, _)| keep(p))
        .map(|(p, (kind, bytes))| {
            let mode = layer.modes[p];
            match kind.as_str() {
                "dir" => (format!("{p}/"), Vec::new(), mode, None),
                "symlink" => (
                    p.clone(),
                    Vec::new(),
                    0o777,
                    Some(String::from_utf8(bytes.clone()).unwrap()),
                ),
                // a hard link carries its target's content
                "hardlink" => {
                    let target = String::from_utf8_lossy(bytes);
                    let content = &layer.entries[target.trim_end_matches('/')].1;
                    (p.clone(), content.clone(), mode, None)
                }
                _ => (p.clone(), bytes.clone(), mode, None),
            }
        })
        .collect()
}

/// Borrowed view of [`stand_in_files`] for [`apk::Pkg::files`].
pub fn files_view(
    files: &[(String, Vec<u8>, u32, Option<String>)],
) -> Vec<(&str, &[u8], u32, Option<&str>)> {
    files
        .iter()
        .map(|(p, b, m, l)| (p.as_str(), b.as_slice(), *m, l.as_deref()))
        .collect()
}

/// `text` (an example config) with its `repositories` and `keyring` lists replaced by `repo` and
/// `key`; every other line is kept as written.
pub fn with_repository(text: &str, repo: &Path, key: &Path) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if skipping && line.starts_with("    - ") {
            continue;
        }
        skipping = false;
        out.push_str(line);
        out.push('\n');
        if line == "  repositories:" {
            out.push_str(&format!("    - {}\n", repo.display()));
            skipping = true;
        } else if line == "  keyring:" {
            out.push_str(&format!("    - {}\n", key.display()));
            skipping = true;
        }
    }
    out
}
