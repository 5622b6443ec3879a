//! The peers' view of an image: trivy and syft (the real static binaries `./dev` installs, run
//! with the network off) must place it — family and version — and list exactly the packages
//! `whittle sbom` lists; whittle's own catalog must read the OS the same way.

use super::*;
use std::collections::BTreeSet;
use std::path::Path;
use whittle_testutil::peers;

/// `(name, version)` of every package `whittle sbom` lists for `image`.
pub fn sbom_set(image: &str) -> BTreeSet<(String, String)> {
    let out = run(whittle().args(["sbom", image]));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["SPDXID"] != "SPDXRef-Image")
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["versionInfo"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What one image must look like to every scanner.
pub struct Expected<'a> {
    /// The OS family (`debian`, `alpine`, `wolfi`).
    pub family: &'a str,
    /// trivy's version: the release file (`12.15`, `3.16.3`) or, for Wolfi, os-release.
    pub trivy: &'a str,
    /// syft's version: os-release's `VERSION_ID`.
    pub syft: &'a str,
}

/// Checks trivy, syft, whittle's catalog and `whittle sbom` against each other on the OCI
/// layout `layout` (one image, tag `tag`).
pub fn check_peers(layout: &Path, tag: &str, work: &Path, want: &Expected<'_>) {
    let image = format!("oci:{}:{tag}", layout.display());
    let listed = sbom_set(&image);
    assert!(!listed.is_empty(), "whittle sbom lists no package");
    let r = whittle_oci::ImageRef::parse(&image).unwrap();
    let cat = whittle_catalog::catalog_image(&whittle_oci::read_image(&r, None).unwrap()).unwrap();
    let os = cat.os.expect("whittle's catalog finds the OS");
    assert_eq!(os.id, want.family, "{os:?}");
    assert_eq!(os.version_id, want.syft, "{os:?}");
    if want.family != "wolfi" {
        assert_eq!(os.release, want.trivy, "{os:?}");
    }
    let Some(trivy) = peers::trivy(layout, &work.join("trivy")) else {
        return;
    };
    assert_eq!(
        (trivy.family.as_str(), trivy.version.as_str()),
        (want.family, want.trivy),
        "trivy's OS"
    );
    assert_eq!(trivy.packages, listed, "trivy's packages vs whittle sbom");
    let Some(syft) = peers::syft(layout, &work.join("syft")) else {
        return;
    };
    assert_eq!(
        (syft.family.as_str(), syft.version.as_str()),
        (want.family, want.syft),
        "syft's OS"
    );
    assert_eq!(syft.packages, listed, "syft's packages vs whittle sbom");
}
