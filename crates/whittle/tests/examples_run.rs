//! The APK example configs (`examples/alpine.yaml`, `examples/wolfi.yaml`) built and run with
//! their own entrypoint and cmd, as `docker run IMAGE` runs them (issue 12; `examples/gawk.yaml`
//! is run the same way in `host_mirror.rs`, the awk playground's configs in `awk_playground.rs`).
//!
//! Alpine's and Wolfi's mirrors cannot be reached from whittle's CI machines, so each example is
//! built exactly as written except for its `repositories` and `keyring`, which point at a signed
//! APK repository this test writes. It holds stand-ins with the examples' package names, made
//! from real Debian binaries that whittle itself fetched and verified from the host's Debian
//! mirror: `busybox` is Debian's static busybox (with the applet list Alpine's package ships),
//! `ca-certificates-bundle` the CA bundle whittle writes for Debian's `ca-certificates`.
//! Needs the mirror (CI=true or WHITTLE_TEST_MIRROR=1), umoci, runc and root; otherwise SKIPPED.

mod common;
use common::apk::{Pkg, test_key, write_arch, write_public_key};
use common::*;
use std::path::Path;

fn example_text(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples")
            .join(name),
    )
    .unwrap()
}

#[test]
fn apk_examples_build_and_run_their_default_command() {
    if !whittle_testutil::mirror() {
        return;
    }
    if !(tool("umoci") && tool("runc") && is_root()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");

    // stand-in material, per APK architecture, from Debian's packages
    let amd64 = host_mirror_layer(dir.path(), "amd64", "busybox-static, ca-certificates").entries;
    let arm64 = host_mirror_layer(dir.path(), "arm64", "busybox-static").entries;
    let busybox = |t: &Entries| {
        t.get("usr/bin/busybox")
            .expect("busybox-static ships /bin/busybox")
            .1
            .clone()
    };
    let (bb_amd64, bb_arm64) = (busybox(&amd64), busybox(&arm64));
    let bundle = amd64
        .get("etc/ssl/certs/ca-certificates.crt")
        .expect("whittle writes the CA bundle for ca-certificates")
        .1
        .clone();
    // the applet list Alpine's and Wolfi's busybox packages ship (/etc/busybox-paths.d/busybox)
    let bb_path = dir.path().join("busybox");
    std::fs::write(&bb_path, &bb_amd64).unwrap();
    std::fs::set_permissions(
        &bb_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let list = run(std::process::Command::new(&bb_path).arg("--list-full"));
    let applets: String = list.lines().map(|l| format!("/{l}\n")).collect();
    assert!(applets.contains("/bin/sh\n"), "{applets}");

    let repo = dir.path().join("repo");
    let key = test_key();
    for (apk_arch, bb) in [("x86_64", &bb_amd64), ("aarch64", &bb_arm64)] {
        write_arch(
            &repo,
            apk_arch,
            &key,
            &[
                Pkg::stand_in(
                    "busybox",
                    vec![
                        ("bin/", b"", 0o755, None),
                        ("bin/busybox", bb.as_slice(), 0o755, None),
                        ("etc/", b"", 0o755, None),
                        ("etc/busybox-paths.d/", b"", 0o755, None),
                        (
                            "etc/busybox-paths.d/busybox",
                            applets.as_bytes(),
                            0o644,
                            None,
                        ),
                    ],
                ),
                Pkg::stand_in(
                    "alpine-baselayout-data",
                    vec![
                        ("etc/", b"", 0o755, None),
                        ("etc/alpine-release", b"3.20.0\n", 0o644, None),
                        (
                            "etc/os-release",
                            b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.0\n",
                            0o644,
                            None,
                        ),
                    ],
                ),
                Pkg::wolfi_baselayout(),
                Pkg::stand_in(
                    "ca-certificates-bundle",
                    vec![
                        ("etc/", b"", 0o755, None),
                        ("etc/ssl/", b"", 0o755, None),
                        ("etc/ssl/certs/", b"", 0o755, None),
                        (
                            "etc/ssl/certs/ca-certificates.crt",
                            bundle.as_slice(),
                            0o644,
                            None,
                        ),
                    ],
                ),
            ],
        );
    }
    let key_path = write_public_key(&repo, &key);

    let build_example = |name: &str, extra: &[&str]| {
        let text = with_repository(&example_text(name), &repo, &key_path);
        assert!(!text.contains("https://"), "every URL replaced:\n{text}");
        let out = dir.path().join(format!("{name}-{}", extra.len()));
        let work = dir.path().join(format!("{name}-work-{}", extra.len()));
        std::fs::create_dir_all(&work).unwrap();
        build(
            &work,
            &text,
            &format!("oci:{}:latest", out.display()),
            &cache,
            extra,
        );
        out
    };
    let manifests = |layout: &Path| {
        let layout = whittle_testutil::oci::Layout::new(layout);
        let listed = layout.index()["manifests"].as_array().unwrap().len();
        if listed > 1 {
            return listed;
        }
        layout.manifest()["manifests"]
            .as_array()
            .map_or(1, Vec::len)
    };
    let run_default = |layout: &Path, input: &[u8]| {
        let bundle = layout.with_extension("bundle");
        unpack(layout, "latest", &bundle);
        runc_input(&bundle, &[], input)
    };

    // alpine.yaml: both of its architectures build; x86_64 runs `busybox echo hello from alpine`
    assert_eq!(manifests(&build_example("alpine.yaml", &[])), 2);
    let alpine = build_example("alpine.yaml", &["--arch", "x86_64"]);
    let (code, out, err) = run_default(&alpine, b"");
    assert_eq!(
        (code, out.as_str()),
        (0, "hello from alpine\n"),
        "stderr: {err}"
    );

    // wolfi.yaml: `/bin/sh -l` as the non-root user, with the CA bundle in place
    let wolfi = build_example("wolfi.yaml", &[]);
    let (code, out, err) = run_default(
        &wolfi,
        b"echo hello from wolfi; id -u; grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt\n",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert_eq!(lines[..2], ["hello from wolfi", "65532"], "stderr: {err}");
    assert!(lines[2].parse::<u32>().unwrap() > 100, "{out}");
}
