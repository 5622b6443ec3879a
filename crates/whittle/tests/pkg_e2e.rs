//! End to end: a recipe compiles a small static C program inside the bwrap sandbox, with a build
//! environment assembled by whittle from the host's Debian mirror; the package is signed and
//! indexed, an image is built from that local repository, and the program runs in the image.
//! A failing step shows its name and output. Needs the network to the mirror: runs under CI=true
//! (where it must pass) or with WHITTLE_TEST_MIRROR=1; otherwise it says SKIPPED.

mod common;
use common::*;

const RECIPE: &str = r#"package:
  name: hello-c
  version: 1.0.0
  epoch: 0
  description: a static C hello
  copyright:
    - license: MIT
environment:
  contents:
    repositories:
      - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main
    packages:
      - dash
      - coreutils
      - findutils
      - gcc
      - libc6-dev
      - binutils
  environment:
    LANG: C
pipeline:
  - name: compile
    runs: |
      gcc -static -O2 -o hello hello.c
      mkdir -p ${{targets.destdir}}/usr/bin
      cp hello ${{targets.destdir}}/usr/bin/hello
  - uses: strip
test:
  pipeline:
    - runs: test "$(/usr/bin/hello)" = "hello from ${{package.name}}"
"#;

/// A temporary directory with a signing key `k.rsa` in it, and the cache to use.
fn workdir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    // one cache for the tests of this file (they run at once; the cache is safe for that and
    // verifies what it returns): the compilers are downloaded once
    let cache = std::env::var_os("WHITTLE_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pkg-e2e-cache"));
    run(whittle()
        .current_dir(dir.path())
        .args(["pkg", "keygen", "k", "--bits", "2048"]));
    (dir, cache)
}

/// Builds `hello.yaml` ([`build_signed`]) and reads the package `NAME-VERSION.apk` it wrote;
/// checks that it provides `cmd:CMD` and depends on the `so:` name `needs` (or on nothing).
fn build_and_open(
    d: &std::path::Path,
    cache: &std::path::Path,
    (name, version): (&str, &str),
    cmd: &str,
    needs: Option<&str>,
) -> Vec<u8> {
    let file = format!("{name}-{version}.apk");
    let out = build_signed(d, cache);
    assert!(out.contains(&file), "{out}");
    let apk = std::fs::read(d.join("repo").join(std::env::consts::ARCH).join(&file)).unwrap();
    let pkg = whittle_apk::package::ApkPackage::open(name, &apk).unwrap();
    let info = pkg.pkginfo();
    assert!(
        info.provides.contains(&format!("cmd:{cmd}={version}")),
        "{info:?}"
    );
    match needs {
        Some(so) => assert!(info.depend.contains(&format!("so:{so}")), "{info:?}"),
        None => assert!(info.depend.is_empty(), "static: no so: depends: {info:?}"),
    }
    apk
}

/// `whittle pkg build hello.yaml` signed with `k.rsa` into `repo`; its output.
fn build_signed(d: &std::path::Path, cache: &std::path::Path) -> String {
    run(whittle()
        .current_dir(d)
        .args([
            "pkg",
            "build",
            "hello.yaml",
            "--key",
            "k.rsa",
            "--out",
            "repo",
        ])
        .args(["--source-date-epoch", "1700000000", "--cache-dir"])
        .arg(cache))
}

/// `whittle pkg build RECIPE --out OUT --source-dir SRC`, expected to fail; its stderr.
fn build_fails(
    d: &std::path::Path,
    recipe: &str,
    out: &str,
    src: &str,
    cache: &std::path::Path,
) -> String {
    run_fail(
        whittle()
            .current_dir(d)
            .args(["pkg", "build", recipe, "--out", out, "--source-dir", src])
            .args(["-q", "--cache-dir"])
            .arg(cache),
    )
}

#[test]
fn recipe_compiles_c_in_the_sandbox_and_the_image_runs_it() {
    if !mirror_sandbox() {
        return;
    }
    let (dir, cache) = workdir();
    let d = dir.path();
    write_hello_c(d);
    std::fs::write(d.join("hello.yaml"), RECIPE).unwrap();
    build_and_open(d, &cache, ("hello-c", "1.0.0-r0"), "hello", None);
    let arch = String::from_utf8(
        std::process::Command::new("uname")
            .arg("-m")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();

    // an image from the local repository; the program runs in it
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  keyring:\n    - {}\n  packages: [hello-c]\n\
         entrypoint:\n  command: /usr/bin/hello\n\
         accounts:\n  groups: [{{groupname: nonroot, gid: 65532}}]\n  users: [{{username: nonroot, uid: 65532, gid: 65532}}]\n  run-as: nonroot\narchs: [{arch}]\n",
        d.join("repo").display(),
        d.join("k.rsa.pub").display()
    );
    std::fs::write(d.join("image.yaml"), cfg).unwrap();
    run(whittle()
        .current_dir(d)
        .args([
            "build",
            "image.yaml",
            "-o",
            "oci:img:t",
            "-q",
            "--cache-dir",
        ])
        .arg(&cache));
    let layout = d.join("img");
    if tool("umoci") && tool("runc") && is_root() {
        let bundle = d.join("bundle");
        unpack(&layout, "t", &bundle);
        let (code, out, err) = runc(&bundle, &["/usr/bin/hello"]);
        assert_eq!(
            (code, out.as_str()),
            (0, "hello from hello-c\n"),
            "stderr: {err}"
        );
    }

    // a failing step names itself and shows its output
    let failing = RECIPE.replace("gcc -static", "echo about to fail >&2\n      gcc -static");
    let failing = failing.replace("hello.c\n", "missing.c\n");
    std::fs::write(d.join("fail.yaml"), failing).unwrap();
    std::fs::create_dir_all(d.join("fail-src")).unwrap();
    let err = build_fails(d, "fail.yaml", "repo2", "fail-src", &cache);
    assert!(err.contains("fail.yaml:22:5: compile"), "{err}");
    assert!(err.contains("missing.c"), "{err}");
    assert!(err.contains("about to fail"), "{err}");

    // a test section that fails fails the build, and no package is written
    let untrue = RECIPE.replace(
        "= \"hello from ${{package.name}}\"",
        "= \"goodbye\" || { echo test saw $(/usr/bin/hello) >&2; exit 1; }",
    );
    assert_ne!(untrue, RECIPE);
    std::fs::write(d.join("untrue.yaml"), untrue).unwrap();
    let err = build_fails(d, "untrue.yaml", "repo3", "hello-c", &cache);
    assert!(err.contains("(test)"), "{err}");
    assert!(err.contains("test saw hello from hello-c"), "{err}");
    assert!(!d.join("repo3").join(&arch).exists(), "{err}");
}

/// GNU hello's release tarball (the Debian archive keeps it as `hello_2.10.orig.tar.gz`).
const HELLO_SHA256: &str = "31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b";

/// A real autoconf project through `fetch` (from the host's Debian mirror, checksum required),
/// `autoconf/configure`, `autoconf/make`, `autoconf/make-install` and `strip`, its own test
/// section run against the built package.
#[test]
fn autoconf_pipelines_build_gnu_hello() {
    if !mirror_sandbox() {
        return;
    }
    let mirror = whittle_config::host_mirror::resolve("host:debian").unwrap();
    let recipe = format!(
        r#"package:
  name: hello
  version: "2.10"
  epoch: 0
  description: GNU hello, built with the autoconf pipelines
  copyright:
    - license: GPL-3.0-or-later
environment:
  contents:
    repositories:
      - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main
    packages: [dash, coreutils, findutils, diffutils, sed, grep, mawk, make, gcc, libc6-dev, binutils]
  environment:
    LANG: C
pipeline:
  - uses: fetch
    with:
      uri: {mirror}/pool/main/h/hello/hello_${{{{package.version}}}}.orig.tar.gz
      expected-sha256: {HELLO_SHA256}
      strip-components: 1
  - uses: autoconf/configure
    with:
      opts: --disable-nls
  - uses: autoconf/make
  - uses: autoconf/make-install
  - uses: strip
test:
  pipeline:
    - runs: test "$(hello --greeting=whittled)" = whittled
"#
    );
    let (dir, cache) = workdir();
    let d = dir.path();
    std::fs::write(d.join("hello.yaml"), recipe).unwrap();
    // dynamically linked against glibc: the ELF reader found the library it needs
    let apk = build_and_open(d, &cache, ("hello", "2.10-r0"), "hello", Some("libc.so.6"));
    let pkg = whittle_apk::package::ApkPackage::open("hello", &apk).unwrap();
    let mut paths = Vec::new();
    pkg.for_each_data_entry(|e| {
        paths.push(e.path.to_string());
        Ok::<(), whittle_apk::package::Error>(())
    })
    .unwrap();
    for want in ["usr/bin/hello", "usr/share/man/man1/hello.1"] {
        assert!(paths.iter().any(|p| p == want), "{want} missing: {paths:?}");
    }
}

/// `cargo/build` on a real (dependency-free) Rust crate, with Debian's own `cargo` and `rustc`
/// in the build environment.
#[test]
fn cargo_build_pipeline_builds_a_rust_crate() {
    if !mirror_sandbox() {
        return;
    }
    let (dir, cache) = workdir();
    let d = dir.path();
    let src = d.join("hello-rs");
    std::fs::create_dir_all(src.join("src")).unwrap();
    std::fs::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"hello-rs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        src.join("src/main.rs"),
        "fn main() { println!(\"hello from rust\"); }\n",
    )
    .unwrap();
    let recipe = r#"package:
  name: hello-rs
  version: 0.1.0
  epoch: 0
  description: a Rust hello
  copyright:
    - license: MIT
environment:
  contents:
    repositories:
      - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main
    packages: [dash, coreutils, findutils, cargo, rustc, gcc, libc6-dev, binutils]
  environment:
    LANG: C
pipeline:
  - uses: cargo/build
    with:
      output: hello-rs
  - uses: strip
test:
  pipeline:
    - runs: test "$(hello-rs)" = "hello from rust"
"#;
    std::fs::write(d.join("hello.yaml"), recipe).unwrap();
    build_and_open(
        d,
        &cache,
        ("hello-rs", "0.1.0-r0"),
        "hello-rs",
        Some("libc.so.6"),
    );
}
