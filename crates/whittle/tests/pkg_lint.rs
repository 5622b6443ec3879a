//! `whittle pkg lint` over packages written by whittle-pkg's writer, and the linters run by
//! `whittle pkg build`: a required linter that trips fails the build and writes nothing, the
//! recipe's `checks.disabled` and `--lint-require`/`--lint-warn` downgrade it to a warning.

mod common;
use common::*;
use std::path::Path;

use whittle_pkg::apk::{ApkOptions, FileEntry, PackageMeta, write_apk};
use whittle_pkg::tarw::Kind;

fn entry(path: &str, kind: Kind, mode: u32, data: &[u8]) -> FileEntry {
    FileEntry {
        path: path.into(),
        kind,
        mode,
        link: String::new(),
        data: data.to_vec(),
    }
}

/// Writes `NAME-1.0-r0.apk` of `entries` into `dir`.
fn apk(dir: &Path, name: &str, entries: &[FileEntry]) -> String {
    let meta = PackageMeta {
        name: name.into(),
        version: "1.0-r0".into(),
        arch: "x86_64".into(),
        ..Default::default()
    };
    let key = common::apk::test_key();
    let built = write_apk(&meta, entries, &key, &ApkOptions::default()).unwrap();
    let file = format!("{name}-1.0-r0.apk");
    std::fs::write(dir.join(&file), built.bytes).unwrap();
    file
}

#[test]
fn pkg_lint_fails_on_a_required_linter_and_reports_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = apk(
        d,
        "su",
        &[
            entry("usr", Kind::Dir, 0o755, b""),
            entry("usr/bin", Kind::Dir, 0o755, b""),
            entry("usr/bin/su", Kind::File, 0o4755, b"#!/bin/sh\n"),
            entry("opt/su/x", Kind::File, 0o644, b"x\n"),
        ],
    );
    let good = apk(
        d,
        "hello",
        &[entry("usr/bin/hello", Kind::File, 0o755, b"#!/bin/sh\n")],
    );
    // melange's defaults: setuidgid is required, opt warns
    let out = whittle()
        .current_dir(d)
        .args(["pkg", "lint", &bad, &good])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("required  setuidgid"), "{stdout}");
    assert!(stdout.contains("usr/bin/su (4755 setuid)"), "{stdout}");
    assert!(stdout.contains("warning   opt"), "{stdout}");
    assert!(
        stdout.contains("hello-1.0-r0.apk (hello)\n  no findings"),
        "{stdout}"
    );
    // the good package alone passes
    let stdout = run(whittle().current_dir(d).args(["pkg", "lint", &good]));
    assert!(stdout.contains("0 required linters failed"), "{stdout}");
    // setuidgid only warned about: success; JSON names the rule and its severity
    let json = run(whittle().current_dir(d).args([
        "pkg",
        "lint",
        &bad,
        "--lint-require",
        "dev",
        "--lint-warn",
        "setuidgid,opt",
        "--format",
        "json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rules: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(rules, [("setuidgid", "low"), ("opt", "low")]);
    // an unknown linter is refused with the list
    let err =
        run_fail(
            whittle()
                .current_dir(d)
                .args(["pkg", "lint", &good, "--lint-require", "setuid"]),
        );
    assert!(
        err.contains("unknown linter \"setuid\"") && err.contains("setuidgid"),
        "{err}"
    );
}

/// A recipe that only fetches a tarball into its package directory (no sandbox needed);
/// `package` adds lines under `package:`.
fn fetch_recipe(d: &Path, package: &str) -> String {
    let (uri, sha) = tar_gz_file(
        d,
        "t.tar.gz",
        &[
            ("usr/bin/t", &b"#!/bin/sh\n"[..], 0o755),
            ("tmp/leftover", &b"x\n"[..], 0o644),
        ],
    );
    format!(
        "package:\n  name: t\n  version: 1.0\n  epoch: 0\n  description: leaves a temp file\n  copyright:\n    - license: MIT\n{package}\
         pipeline:\n  - uses: fetch\n    working-directory: melange-out/t\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n      strip-components: 0\n"
    )
}

fn pkg_build(d: &Path, recipe: &str, extra: &[&str]) -> std::process::Output {
    std::fs::write(d.join("t.yaml"), recipe).unwrap();
    whittle()
        .current_dir(d)
        .args([
            "pkg", "build", "t.yaml", "--out", "repo", "--arch", "x86_64",
        ])
        .args(["--cache-dir", "cache"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn pkg_build_fails_on_a_required_linter_before_writing_packages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = pkg_build(d, &fetch_recipe(d, ""), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("required linter tempdir failed"), "{err}");
    assert!(err.contains("t writes to a temp dir"), "{err}");
    assert!(!d.join("repo/x86_64/t-1.0-r0.apk").exists());
    // the recipe's checks.disabled downgrades it to a warning, as in melange
    let recipe = fetch_recipe(d, "  checks:\n    disabled:\n      - tempdir\n");
    let out = pkg_build(d, &recipe, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning: t: lint tempdir:"), "{err}");
    assert!(d.join("repo/x86_64/t-1.0-r0.apk").is_file());
    // so do --lint-require/--lint-warn
    std::fs::remove_dir_all(d.join("repo")).unwrap();
    let out = pkg_build(
        d,
        &fetch_recipe(d, ""),
        &["--lint-require", "dev", "--lint-warn", "tempdir"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // and `whittle pkg lint` of what was written finds the same
    let o = whittle()
        .current_dir(d)
        .args(["pkg", "lint", "repo/x86_64/t-1.0-r0.apk"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("required  tempdir"));
    // an unknown name under checks.disabled is refused with its position
    let bad = fetch_recipe(d, "  checks:\n    disabled:\n      - tmpdir\n");
    let out = pkg_build(d, &bad, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("t.yaml:") && err.contains("unknown linter `tmpdir`"),
        "{err}"
    );
}

/// In the sandbox: a step that installs into /bin (not /usr/bin) fails the build on melange's
/// required `usrmerge` linter.
#[test]
fn a_sandboxed_build_installing_into_bin_fails_on_usrmerge() {
    let Some(fix) = fixture_sandbox() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = fix.join("deb/bookworm-mini");
    let recipe = format!(
        "package:\n  name: probe\n  version: 1.0\n  epoch: 0\n  description: installs into /bin\n\
         environment:\n  contents:\n    repositories:\n      - deb [signed-by={key}] file://{repo} bookworm main\n    packages: [busybox-static]\n\
         pipeline:\n  - runs: |\n      mkdir -p ${{{{targets.destdir}}}}/bin\n      printf '#!/bin/sh\\n' > ${{{{targets.destdir}}}}/bin/probe\n",
        key = repo.join("keys/debian-archive-keyring.gpg").display(),
        repo = repo.display(),
    );
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pkg-build-cache");
    std::fs::write(d.join("probe.yaml"), recipe).unwrap();
    let out = whittle()
        .current_dir(d)
        .args(["pkg", "build", "probe.yaml", "--out", "repo", "--cache-dir"])
        .arg(&cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("required linter usrmerge failed"), "{err}");
    assert!(err.contains("bin/probe"), "{err}");
    assert!(!d.join("repo").exists() || std::fs::read_dir(d.join("repo")).unwrap().count() == 0);
}

/// Real packages: Wolfi's hello-wolfi passes melange's required linters with one `maninfo`
/// warning (what melange's own test of its linters expects of this package), Alpine's
/// alpine-baselayout (not usr-merged) fails `usrmerge`.
#[test]
fn real_wolfi_and_alpine_packages_lint_as_melange_lints_them() {
    let Some(fix) = fixtures() else {
        return;
    };
    let hello = fix.join("apk/wolfi-real/hello-wolfi-2.12-r1.apk");
    let json = run(whittle()
        .args(["pkg", "lint", "--format", "json"])
        .arg(&hello));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rules: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["location"]["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rules, [("maninfo", "/usr/share/info/hello.info")]);
    let base = fix.join("apk/alpine-real/v3.16-main-aarch64/alpine-baselayout-3.2.0-r23.apk");
    let out = whittle().args(["pkg", "lint"]).arg(&base).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("required  usrmerge"), "{stdout}");
    assert!(stdout.contains("sbin/mkmntdirs"), "{stdout}");
}

/// `--help` names every linter and melange's required ones as whittle has them.
#[test]
fn help_lists_the_linters_and_the_required_defaults() {
    let help = run(whittle().args(["pkg", "lint", "--help"]));
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for l in whittle_pkg::lint::LINTERS {
        assert!(flat.contains(l.name), "{} missing from:\n{help}", l.name);
    }
    let required = whittle_pkg::lint::Policy::default().require.join(", ");
    assert!(
        flat.contains(&format!("[default: melange's: {required}]")),
        "{help}"
    );
}
