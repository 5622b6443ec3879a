//! melange recipe syntax in `whittle pkg build`: `split/*` pipelines moving files between the
//! packages of one recipe, `if:` on steps, `range` subpackages over `data`, `var-transforms`
//! (no sandbox needed), and the `patch` pipeline (in the sandbox, with busybox's `patch`).

mod common;
use common::*;
use std::path::Path;

/// The paths of the files (not directories) of the `.apk` at `path`.
fn files_of(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let pkg = whittle_apk::package::ApkPackage::open("p", &bytes).unwrap();
    let mut out = Vec::new();
    pkg.for_each_data_entry(|e| {
        if !matches!(e.kind, whittle_apk::package::EntryKind::Dir) {
            out.push(e.path.to_string());
        }
        Ok::<(), whittle_apk::package::Error>(())
    })
    .unwrap();
    out.sort();
    out
}

#[test]
fn split_pipelines_if_range_and_var_transforms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (uri, sha) = tar_gz_file(
        d,
        "lib.tar.gz",
        &[
            ("usr/bin/x", &b"#!/bin/sh\n"[..], 0o755),
            ("usr/include/x.h", &b"int x;\n"[..], 0o644),
            ("usr/lib/libx.a", &b"!<arch>\n"[..], 0o644),
            ("usr/lib/pkgconfig/x.pc", &b"Name: x\n"[..], 0o644),
            ("usr/share/man/man1/x.1", &b".TH X 1\n"[..], 0o644),
            ("usr/share/locale/de/LC_MESSAGES/x.mo", &b"mo"[..], 0o644),
        ],
    );
    let recipe = format!(
        "package:\n  name: x\n  version: 1.2.3\n  epoch: 0\n  description: a library\n  copyright:\n    - license: MIT\n\
         var-transforms:\n  - from: ${{{{package.version}}}}\n    match: \\.\n    replace: _\n    to: under\n\
         data:\n  - name: flavours\n    items:\n      a: first\n      b: second\n\
         pipeline:\n  - uses: fetch\n    working-directory: melange-out/x\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n      strip-components: 0\n\
         \x20 - if: ${{{{build.arch}}}} == 'not-this-one'\n    uses: go/build\n\
         subpackages:\n\
         \x20 - name: x-dev\n    pipeline:\n      - uses: split/dev\n\
         \x20 - name: x-doc\n    pipeline:\n      - uses: split/manpages\n\
         \x20 - name: x-lang\n    pipeline:\n      - uses: split/locales\n\
         \x20 - range: flavours\n    name: x-${{{{range.key}}}}-${{{{vars.under}}}}\n    description: ${{{{range.value}}}}\n"
    );
    std::fs::write(d.join("x.yaml"), recipe).unwrap();
    let (_, err) = run_both(whittle().current_dir(d).args([
        "pkg",
        "build",
        "x.yaml",
        "--out",
        "repo",
        "--arch",
        "x86_64",
        "--cache-dir",
        "cache",
    ]));
    let repo = d.join("repo/x86_64");
    assert_eq!(
        files_of(&repo.join("x-1.2.3-r0.apk")),
        ["usr/bin/x"],
        "{err}"
    );
    assert_eq!(
        files_of(&repo.join("x-dev-1.2.3-r0.apk")),
        [
            "usr/include/x.h",
            "usr/lib/libx.a",
            "usr/lib/pkgconfig/x.pc"
        ]
    );
    assert_eq!(
        files_of(&repo.join("x-doc-1.2.3-r0.apk")),
        ["usr/share/man/man1/x.1"]
    );
    assert_eq!(
        files_of(&repo.join("x-lang-1.2.3-r0.apk")),
        ["usr/share/locale/de/LC_MESSAGES/x.mo"]
    );
    // one package per item of the range, named with the transformed version
    for (key, value) in [("a", "first"), ("b", "second")] {
        let p = repo.join(format!("x-{key}-1_2_3-1.2.3-r0.apk"));
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}\n{err}", p.display()));
        let pkg = whittle_apk::package::ApkPackage::open("p", &bytes).unwrap();
        assert_eq!(pkg.pkginfo().pkgdesc.as_deref(), Some(value));
    }
    // the package with pkg-config files but no test/pkgconf test gets melange's warning
    assert!(err.contains("x-dev: lint pkgconf"), "{err}");
}

/// The `patch` pipeline applies the recipe's patches in the sandbox (busybox's `patch` from
/// the fixture repository).
#[test]
fn patch_pipeline_applies_patches_in_the_sandbox() {
    let Some(fix) = fixture_sandbox() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let patch = "--- a/hello.txt\n+++ b/hello.txt\n@@ -1 +1 @@\n-hello\n+hello, patched\n";
    let (uri, sha) = tar_gz_file(
        d,
        "src.tar.gz",
        &[
            ("hello.txt", &b"hello\n"[..], 0o644),
            ("fix.patch", patch.as_bytes(), 0o644),
        ],
    );
    let repo = fix.join("deb/bookworm-mini");
    let recipe = format!(
        "package:\n  name: hello\n  version: 1.0\n  epoch: 0\n  description: patched\n\
         environment:\n  contents:\n    repositories:\n      - deb [signed-by={key}] file://{repo} bookworm main\n    packages: [busybox-static]\n\
         pipeline:\n  - uses: fetch\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n      strip-components: 0\n\
         \x20 - uses: patch\n    with:\n      patches: fix.patch\n\
         \x20 - runs: |\n      mkdir -p ${{{{targets.destdir}}}}/usr/share/hello\n      cp hello.txt ${{{{targets.destdir}}}}/usr/share/hello/\n",
        key = repo.join("keys/debian-archive-keyring.gpg").display(),
        repo = repo.display(),
    );
    std::fs::write(d.join("hello.yaml"), recipe).unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pkg-build-cache");
    let out = whittle()
        .current_dir(d)
        .args(["pkg", "build", "hello.yaml", "--out", "repo", "--cache-dir"])
        .arg(&cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let text = apk::member_text(
        &d.join(format!(
            "repo/{}/hello-1.0-r0.apk",
            whittle_pkg::build::host_arch()
        )),
        "usr/share/hello/hello.txt",
    );
    assert_eq!(text.as_deref(), Some("hello, patched\n"));
}

/// `split/debug`: a C program built with `-g` lands stripped in the main package, its debug
/// information in the subpackage as `usr/lib/debug/usr/bin/hello.debug` (objcopy in the
/// sandbox, as melange). Needs the host's Debian mirror (CI=true or WHITTLE_TEST_MIRROR=1) and
/// bwrap.
#[test]
fn split_debug_moves_debug_information_into_the_subpackage() {
    if !mirror_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_hello_c(d);
    std::fs::write(
        d.join("hello.yaml"),
        "package:\n  name: hello-c\n  version: 1.0.0\n  epoch: 0\n  description: hello with debug info\n  copyright:\n    - license: MIT\n\
         environment:\n  contents:\n    repositories:\n      - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main\n    packages: [dash, coreutils, findutils, gcc, libc6-dev, binutils]\n\
         pipeline:\n  - runs: |\n      gcc -g -O2 -o hello hello.c\n      mkdir -p ${{targets.destdir}}/usr/bin\n      cp hello ${{targets.destdir}}/usr/bin/hello\n\
         subpackages:\n  - name: hello-c-dbg\n    pipeline:\n      - uses: split/debug\n",
    )
    .unwrap();
    let (_, err) = run_both(
        whittle()
            .current_dir(d)
            .env("WHITTLE_CACHE_DIR", mirror_cache())
            .args(["pkg", "build", "hello.yaml", "--out", "out"]),
    );
    // unsplit, `strip` would warn about usr/bin/hello
    assert!(!err.contains("lint strip"), "{err}");
    let arch = whittle_pkg::build::host_arch();
    let main = d.join(format!("out/{arch}/hello-c-1.0.0-r0.apk"));
    let dbg = d.join(format!("out/{arch}/hello-c-dbg-1.0.0-r0.apk"));
    assert_eq!(files_of(&main), ["usr/bin/hello"]);
    assert_eq!(files_of(&dbg), ["usr/lib/debug/usr/bin/hello.debug"]);
    // the stripped program and its split debug information, as the linter reads them
    let lint = |p: &Path| {
        let pkg = whittle_pkg::lint::read_apk(p).unwrap();
        let policy = whittle_pkg::lint::Policy::new(Some(vec![]), Some(vec!["strip".into()]));
        whittle_pkg::lint::lint(&pkg, "x", &policy.unwrap())
    };
    assert!(lint(&main).is_empty());
    let bytes = std::fs::read(&dbg).unwrap();
    let pkg = whittle_apk::package::ApkPackage::open("dbg", &bytes).unwrap();
    let mut debug = false;
    pkg.for_each_data_entry(|e| {
        if e.path.ends_with("hello.debug") {
            debug =
                e.data.starts_with(b"\x7fELF") && e.data.windows(11).any(|w| w == b".debug_info");
        }
        Ok::<(), whittle_apk::package::Error>(())
    })
    .unwrap();
    assert!(debug, "hello.debug holds the DWARF sections");
}
