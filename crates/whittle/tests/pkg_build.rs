//! `whittle pkg` without network: keygen, a recipe that packages a fetched local tarball, the
//! index, byte-identical rebuilds, recipe errors with file:line:column, and an image built by
//! `whittle build` from the resulting local repository.

mod common;
use common::*;
use std::path::Path;

fn tarball(dir: &Path) -> (String, String) {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data, mode) in [
        (
            "hello-1.0/usr/bin/hello",
            &b"#!/bin/sh\necho hello\n"[..],
            0o755,
        ),
        (
            "hello-1.0/usr/share/doc/hello/README",
            &b"read me\n"[..],
            0o644,
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, p, data).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
    let bytes = gz.finish().unwrap();
    let path = dir.join("hello-1.0.tar.gz");
    std::fs::write(&path, &bytes).unwrap();
    (format!("file://{}", path.display()), sha256(&bytes))
}

fn recipe(uri: &str, sha: &str) -> String {
    format!(
        "package:\n  name: hello\n  version: 1.0\n  epoch: 0\n  description: says hello\n  copyright:\n    - license: MIT\n\
         pipeline:\n  - uses: fetch\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n      strip-components: 1\n\
         \x20     \n  - uses: fetch\n    working-directory: melange-out/hello\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n"
    )
}

#[test]
fn pkg_keygen_build_index_and_image() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(whittle()
        .current_dir(d)
        .args(["pkg", "keygen", "test", "--bits", "2048"]));
    assert!(d.join("test.rsa").is_file() && d.join("test.rsa.pub").is_file());
    let (uri, sha) = tarball(d);
    std::fs::write(d.join("hello.yaml"), recipe(&uri, &sha)).unwrap();
    let build = |out: &str| {
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
    };
    build("repo");
    build("again");
    let apk = std::fs::read(d.join("repo/x86_64/hello-1.0-r0.apk")).unwrap();
    assert_eq!(
        apk,
        std::fs::read(d.join("again/x86_64/hello-1.0-r0.apk")).unwrap(),
        "byte-identical rebuild"
    );
    let pkg = whittle_apk::package::ApkPackage::open("hello", &apk).unwrap();
    let mut ring = whittle_apk::sign::Keyring::new();
    ring.add_file(&d.join("test.rsa.pub")).unwrap();
    pkg.verify(&ring, None).unwrap();
    assert!(
        pkg.pkginfo()
            .provides
            .contains(&"cmd:hello=1.0-r0".to_string())
    );
    assert_eq!(pkg.pkginfo().builddate, Some(1700000000));
    // the index verifies and lists it
    let idx = std::fs::read(d.join("repo/x86_64/APKINDEX.tar.gz")).unwrap();
    let idx = whittle_apk::index::verify_index("idx", &idx, &ring).unwrap();
    assert_eq!(idx.entries.len(), 1);
    // `pkg index` and `pkg sign` by hand give a verifying index / package
    run(whittle().current_dir(d).args([
        "pkg",
        "index",
        "again/x86_64",
        "--key",
        "test.rsa",
        "--sha1",
    ]));
    let i2 = std::fs::read(d.join("again/x86_64/APKINDEX.tar.gz")).unwrap();
    whittle_apk::index::verify_index("i2", &i2, &ring).unwrap();
    run(whittle().current_dir(d).args([
        "pkg",
        "sign",
        "again/x86_64/hello-1.0-r0.apk",
        "--key",
        "test.rsa",
        "--sha1",
    ]));
    let s = std::fs::read(d.join("again/x86_64/hello-1.0-r0.apk")).unwrap();
    whittle_apk::package::ApkPackage::open("s", &s)
        .unwrap()
        .verify(&ring, None)
        .unwrap();

    // an image from the local repository, through whittle's APK source
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  keyring:\n    - {}\n  packages: [hello]\n\
         accounts:\n  groups: [{{groupname: nonroot, gid: 65532}}]\n  users: [{{username: nonroot, uid: 65532, gid: 65532}}]\n  run-as: nonroot\narchs: [x86_64]\n",
        d.join("repo").display(),
        d.join("test.rsa.pub").display()
    );
    build_image(d, &cfg);
    let sbom = std::fs::read_to_string(d.join("img.spdx.json")).unwrap();
    assert!(sbom.contains("\"hello\""), "{sbom}");
}

fn build_image(d: &Path, cfg: &str) {
    std::fs::write(d.join("image.yaml"), cfg).unwrap();
    run(whittle().current_dir(d).args([
        "build",
        "image.yaml",
        "-o",
        "oci:img:t",
        "--cache-dir",
        "cache",
        "-q",
    ]));
}

#[test]
fn recipe_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (uri, sha) = tarball(d);
    let bad = recipe(&uri, &sha).replace("  description:", "  desc:");
    std::fs::write(d.join("bad.yaml"), bad).unwrap();
    let err = run_fail(
        whittle()
            .current_dir(d)
            .args(["pkg", "build", "bad.yaml", "-q"]),
    );
    assert!(
        err.contains("bad.yaml:5:3:") && err.contains("desc"),
        "{err}"
    );
    let nosum = recipe(&uri, &sha).replacen(&format!("      expected-sha256: {sha}\n"), "", 1);
    std::fs::write(d.join("nosum.yaml"), nosum).unwrap();
    let err = run_fail(
        whittle()
            .current_dir(d)
            .args(["pkg", "build", "nosum.yaml", "-q"]),
    );
    assert!(
        err.contains("nosum.yaml:9:5:") && err.contains("expected-sha256"),
        "{err}"
    );
    // a wrong checksum is refused too
    let wrong = recipe(&uri, &"f".repeat(64));
    std::fs::write(d.join("wrong.yaml"), wrong).unwrap();
    let err = run_fail(whittle().current_dir(d).args([
        "pkg",
        "build",
        "wrong.yaml",
        "-q",
        "--cache-dir",
        "cache",
    ]));
    assert!(err.contains("SHA-256"), "{err}");
}

/// `git-checkout` against a real git repository made here: a tag is cloned and checked against
/// `expected-commit`, the default branch is rewound to an older `expected-commit`, and a commit
/// that is not the expected one is refused.
#[test]
fn git_checkout_pins_the_commit() {
    if !tool("git") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let up = d.join("upstream");
    std::fs::create_dir_all(&up).unwrap();
    let git = |args: &[&str]| {
        run(std::process::Command::new("git")
            .current_dir(&up)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args))
        .trim()
        .to_string()
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(up.join("VERSION"), "1\n").unwrap();
    git(&["add", "VERSION"]);
    git(&["commit", "--quiet", "-m", "one"]);
    let first = git(&["rev-parse", "HEAD"]);
    git(&["tag", "-a", "v1", "-m", "release 1"]);
    std::fs::write(up.join("VERSION"), "2\n").unwrap();
    git(&["commit", "--quiet", "-am", "two"]);
    let second = git(&["rev-parse", "HEAD"]);
    let recipe = |with: &str| {
        format!(
            "package:\n  name: src\n  version: 1.0\n  epoch: 0\n  description: a checkout\n  copyright:\n    - license: MIT\n\
             pipeline:\n  - uses: git-checkout\n    with:\n      repository: file://{}\n      destination: melange-out/src/srv/src\n{with}",
            up.display()
        )
    };
    let build = |name: &str, text: String| {
        std::fs::write(d.join(name), text).unwrap();
        whittle()
            .current_dir(d)
            .args(["pkg", "build", name, "--out", "repo", "--arch", "x86_64"])
            .args([
                "--source-date-epoch",
                "1700000000",
                "--cache-dir",
                "cache",
                "-q",
            ])
            .output()
            .unwrap()
    };
    let version_in_package = || {
        let apk = std::fs::read(d.join("repo/x86_64/src-1.0-r0.apk")).unwrap();
        let pkg = whittle_apk::package::ApkPackage::open("src", &apk).unwrap();
        let mut version = None;
        pkg.for_each_data_entry(|e| {
            if e.path == "srv/src/VERSION" {
                version = Some(String::from_utf8_lossy(e.data).into_owned());
            }
            Ok::<(), whittle_apk::package::Error>(())
        })
        .unwrap();
        version
    };
    // an annotated tag, pinned to its commit
    let o = build(
        "tag.yaml",
        recipe(&format!(
            "      tag: v1\n      expected-commit: {first}\n      depth: 1\n"
        )),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(version_in_package().as_deref(), Some("1\n"));
    // no branch or tag: the default branch, rewound to the expected (older) commit
    let o = build(
        "old.yaml",
        recipe(&format!("      expected-commit: {first}\n")),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(version_in_package().as_deref(), Some("1\n"));
    // a branch that moved past the expected commit: refused, naming both commits
    let o = build(
        "moved.yaml",
        recipe(&format!(
            "      branch: main\n      expected-commit: {first}\n"
        )),
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&second) && err.contains(&first), "{err}");
    assert!(err.contains("moved.yaml:"), "{err}");
    // no expected-commit: refused before anything runs, with its position
    let o = build("unpinned.yaml", recipe("      tag: v1\n"));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unpinned.yaml:9:5"), "{err}");
    assert!(err.contains("expected-commit"), "{err}");
}
