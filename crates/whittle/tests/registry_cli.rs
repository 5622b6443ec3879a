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
