//! The command line reads well: help texts are snapshot-tested, bad arguments fail clearly.

mod common;
use common::*;

#[test]
fn help_texts() {
    let top = run(whittle().arg("--help"));
    insta::assert_snapshot!("help", top);
    let build = run(whittle().args(["build", "--help"]));
    insta::assert_snapshot!("build_help", build);
}

#[test]
fn bad_destination_is_explained() {
    let err = run_fail(whittle().args(["build", "x.yaml", "-o", "tarball:foo"]));
    assert!(err.contains("tarball"), "{err}");
    assert!(
        err.contains("oci:") || err.contains("oci-archive"),
        "names the supported transports: {err}"
    );
}

#[test]
fn missing_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        run_fail(
            whittle()
                .current_dir(dir.path())
                .args(["build", "nope.yaml", "-o", "oci:out"]),
        );
    assert!(err.contains("nope.yaml"), "{err}");
}

#[test]
fn two_builds_at_once_share_the_cache() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("image.yaml");
    std::fs::write(&cfg, fixture_config(&fix, "gawk", "")).unwrap();
    let cache = dir.path().join("cache");
    let spawn = |dest: &str| {
        whittle()
            .arg("build")
            .arg(&cfg)
            .args(["-o", dest, "-q", "--cache-dir"])
            .arg(&cache)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("oci:a");
    let b = spawn("oci:b");
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(a.stdout, b.stdout, "same digest");
    assert!(!a.stdout.is_empty());
}
