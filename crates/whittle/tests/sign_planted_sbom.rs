//! `whittle build --sign-key` attests the SBOM the build made, never what the registry holds
//! under the image's `sha256-<hex>.sbom` tag: whoever can push there (or a registry that keeps
//! a stale one) must not get a document of their choosing signed with the builder's key. The
//! image's digest is reproducible, so the tag can be planted before the build.

mod common;
use common::*;
use std::collections::BTreeMap;
use whittle_testutil::registry::Registry;

const PASSWORD: &str = "pw";

#[test]
fn a_planted_sbom_tag_is_not_attested() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = make_repo_archs(&[TestPkg::new("app", "1.0", "")], &["amd64"]);
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [app]\narchs: [amd64]\n",
        repo.line()
    );
    std::fs::write(d.join("image.yaml"), &cfg).unwrap();
    run(whittle()
        .current_dir(d)
        .env("COSIGN_PASSWORD", PASSWORD)
        .args(["generate-key-pair"]));
    let dest = format!("{host}/planted/app:1");
    let build = |extra: &[&str]| {
        run(whittle()
            .current_dir(d)
            .env("COSIGN_PASSWORD", PASSWORD)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([
                "build",
                "image.yaml",
                "-o",
                &dest,
                "--cache-dir",
                "cache",
                "-q",
            ])
            .args(extra))
        .trim()
        .to_string()
    };
    // the digest the build will have
    let digest = build(&["--no-sbom"]);
    // someone plants an SBOM of their own under its `.sbom` tag
    let planted = serde_json::json!({
        "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "planted",
        "packages": [{"name": "backdoor", "SPDXID": "SPDXRef-backdoor", "versionInfo": "6.6.6"}],
    });
    let place = whittle_sign::Place::Registry(whittle_oci::DockerReference {
        registry: host.clone(),
        repository: "planted/app".into(),
        tag: None,
        digest: None,
    });
    let artifact = whittle_sign::store::Artifact::new(vec![whittle_sign::store::Artifact::layer(
        whittle_registry::MEDIA_TYPE_SPDX,
        serde_json::to_vec(&planted).unwrap(),
        BTreeMap::new(),
    )])
    .unwrap();
    let tag = format!("sha256-{}.sbom", digest.strip_prefix("sha256:").unwrap());
    let opts = whittle_registry::Options {
        insecure: true,
        ..whittle_registry::Options::from_env()
    };
    whittle_sign::store::write(&place, &tag, &artifact, &opts).unwrap();

    // a signed build without an SBOM: signed and given a provenance, and no SPDX attestation
    assert_eq!(build(&["--no-sbom", "--sign-key", "cosign.key"]), digest);
    let verify = |kind: &str| {
        whittle()
            .current_dir(d)
            .args([
                "verify",
                &dest,
                "--key",
                "cosign.pub",
                "--attestation",
                kind,
            ])
            .output()
            .unwrap()
    };
    let slsa = verify("slsaprovenance1");
    assert!(
        slsa.status.success(),
        "{}",
        String::from_utf8_lossy(&slsa.stderr)
    );
    let spdx = verify("spdxjson");
    assert!(
        !spdx.status.success(),
        "the planted SBOM was attested with the builder's key:\n{}",
        String::from_utf8_lossy(&spdx.stderr)
    );
    // nothing the build signed mentions the planted package
    let att = whittle_sign::store::read(
        &place,
        &format!("sha256-{}.att", digest.strip_prefix("sha256:").unwrap()),
        64 << 20,
        &opts,
    )
    .unwrap()
    .unwrap();
    for (_, layer) in &att.layers {
        let envelope: serde_json::Value = serde_json::from_slice(layer).unwrap();
        use base64::Engine;
        let statement = base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap();
        let text = String::from_utf8_lossy(&statement);
        assert!(!text.contains("backdoor"), "{text}");
    }
}
