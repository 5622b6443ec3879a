//! The README's main job against the host's real Debian mirror (read from its apt sources):
//! build examples/gawk.yaml, run it, then build again `--offline` from the cache and get the same
//! digest. Needs the network: runs under CI=true (where it must pass) or with
//! WHITTLE_TEST_MIRROR=1; otherwise it says SKIPPED.

mod common;
use common::*;
use std::path::Path;

#[test]
fn example_builds_from_the_host_mirror_then_offline() {
    if !whittle_testutil::mirror() {
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gawk.yaml");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let layout = dir.path().join("gawk");
    let build = |dest: &str, extra: &[&str]| {
        run(whittle()
            .arg("build")
            .arg(&example)
            .args(["-o", dest, "--cache-dir"])
            .arg(&cache)
            .args(extra))
        .trim()
        .to_string()
    };
    let online = build(&format!("oci:{}:latest", layout.display()), &[]);
    let offline = build(
        &format!("oci:{}:latest", dir.path().join("again").display()),
        &["--offline"],
    );
    assert_eq!(
        online, offline,
        "--offline rebuild from the cache gives the same image"
    );
    let names = sbom_packages(&dir.path().join("gawk.spdx.json"));
    assert!(names.iter().any(|n| n == "gawk"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "dpkg" || n == "install-info"),
        "{names:?}"
    );
    if tool("umoci") && tool("runc") && is_root() {
        let bundle = dir.path().join("bundle");
        unpack(&layout, "latest", &bundle);
        let (code, out, err) = runc(&bundle, &["/usr/bin/gawk", "BEGIN { print 6*7 }"]);
        assert_eq!((code, out.as_str()), (0, "42\n"), "stderr: {err}");
    }
}
