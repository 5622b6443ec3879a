//! `whittle build -o docker://…` and `whittle copy` against a real `docker-registry` started on
//! 127.0.0.1 with its own config and storage (Debian's package; skipped when missing).

mod common;
use common::*;
use std::process::Command;
use whittle_testutil::registry::Registry;

fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", reference])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn build_pushes_multi_arch_with_sboms_and_copy_moves_it_anywhere() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    if !tool("skopeo") {
        return;
    }
    let host = format!("127.0.0.1:{}", reg.port);
    let repo = make_repo_archs(
        &[
            TestPkg::new("app", "1.0", "Depends: lib"),
            TestPkg::new("lib", "2.0", ""),
        ],
        &["amd64", "arm64"],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [app]\narchs: [amd64, aarch64]\n",
        repo.line()
    );
    let cache = dir.path().join("cache");
    // push straight from the build (bare HOST/REPO:TAG form)
    let pushed = build(dir.path(), &cfg, &format!("{host}/cli/app:1"), &cache, &[]);
    let local = dir.path().join("local");
    let built = build(
        dir.path(),
        &cfg,
        &format!("oci:{}:1", local.display()),
        &cache,
        &["-q"],
    );
    assert_eq!(pushed, built, "pushed digest must equal the local one");
    let index_bytes = skopeo_raw(&format!("docker://{host}/cli/app:1"));
    assert_eq!(
        format!("sha256:{}", sha256(&index_bytes)),
        pushed,
        "the registry serves the exact index"
    );
    // one SBOM per architecture, attached by the tag scheme (no referrers API here)
    let index: serde_json::Value = serde_json::from_slice(&index_bytes).unwrap();
    for m in index["manifests"].as_array().unwrap() {
        let hex = &m["digest"].as_str().unwrap()[7..];
        let sbom: serde_json::Value = serde_json::from_slice(&skopeo_raw(&format!(
            "docker://{host}/cli/app:sha256-{hex}.sbom"
        )))
        .unwrap();
        assert_eq!(sbom["artifactType"], "application/spdx+json");
        assert_eq!(sbom["subject"]["digest"], m["digest"]);
    }

    // registry -> layout: byte-identical to the local build
    let pulled = dir.path().join("pulled");
    let digest_file = dir.path().join("digest");
    let out = run(whittle()
        .arg("copy")
        .arg(format!("docker://{host}/cli/app:1"))
        .arg(format!("oci:{}:1", pulled.display()))
        .arg("--digest-file")
        .arg(&digest_file));
    assert_eq!(out.trim(), pushed);
    assert_eq!(
        std::fs::read_to_string(&digest_file).unwrap().trim(),
        pushed
    );
    assert_eq!(
        whittle_testutil::dir_files(&pulled),
        whittle_testutil::dir_files(&local)
    );

    // one platform into a docker-archive, then back into another repository
    let archive = dir.path().join("arm.tar");
    let arm = run(whittle()
        .arg("copy")
        .arg(format!("oci:{}:1", local.display()))
        .arg(format!("docker-archive:{}:cli/arm:1", archive.display()))
        .args(["--platform", "linux/arm64", "-q"]));
    assert_eq!(
        arm.trim(),
        index["manifests"][1]["digest"].as_str().unwrap()
    );
    let out = run(whittle()
        .arg("copy")
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{host}/cli/arm:1")));
    let arm_raw = skopeo_raw(&format!("docker://{host}/cli/arm:1"));
    assert_eq!(format!("sha256:{}", sha256(&arm_raw)), out.trim());

    // a multi-platform source into a docker-archive needs --platform: clear error
    let err = run_fail(
        whittle()
            .arg("copy")
            .arg(format!("docker://{host}/cli/app:1"))
            .arg(format!(
                "docker-archive:{}",
                dir.path().join("x.tar").display()
            )),
    );
    assert!(err.contains("--platform"), "{err}");
}

/// A hostile registry (a real HTTP server on 127.0.0.1): `whittle copy` fails quickly with a
/// message naming the reference and the setting to change, and leaves nothing behind.
#[test]
fn copy_from_a_hostile_registry_fails_fast_and_leaves_nothing() {
    use std::time::Duration;
    use whittle_testutil::http;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let copy = |host: &str, env: &[(&str, &str)]| {
        let mut cmd = whittle();
        cmd.args(["copy", &format!("docker://{host}/evil/app:1")])
            .arg(format!("oci:{}", out.display()))
            .env("DOCKER_CONFIG", dir.path().join("no-docker-config"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_fail(&mut cmd)
    };
    let nothing_left = || {
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    };

    // a layer declared at 10^13 bytes (zeros, up to 64 MiB for a client that would take them)
    let (huge, layer) = http::registry_with_layer(10_000_000_000_000, |s| {
        http::respond_streaming(s, None, |s| http::zeros(s, 64 << 20))
    });
    let err = copy(&huge.host, &[]);
    assert!(
        err.contains("evil/app") && err.contains(&layer) && err.contains("WHITTLE_MAX_BLOB_SIZE"),
        "{err}"
    );
    assert_eq!(huge.count("GET", &layer), 0);
    nothing_left();

    // a layer that drips: the settings come from the environment
    let (drip, layer) = http::registry_with_layer(1 << 20, |s| {
        http::respond_streaming(s, Some(1 << 20), |s| {
            http::drip(s, &[0u8; 1 << 20], Duration::from_millis(100))
        })
    });
    let err = copy(&drip.host, &[("WHITTLE_TRANSFER_STALL", "1")]);
    assert!(
        err.contains(&format!("evil/app/blobs/{layer}"))
            && err.contains("WHITTLE_TRANSFER_MIN_SPEED"),
        "{err}"
    );
    nothing_left();

    // a setting that does not parse is named before anything is sent
    let err = copy(&drip.host, &[("WHITTLE_TRANSFER_DEADLINE", "soon")]);
    assert!(err.contains("WHITTLE_TRANSFER_DEADLINE=\"soon\""), "{err}");
    nothing_left();
}
