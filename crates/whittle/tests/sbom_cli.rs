//! `whittle sbom` on every fixture image (docker-archive, oci-archive, the OCI layout's images):
//! SPDX validated with `pyspdxtools`, CycloneDX 1.6 validated against its official JSON schema
//! (PyPI `cyclonedx-python-lib[json-validation]`), purls in packageurl-python's canonical form,
//! dated by the image config's `created`, the manifest digest on the image; and what it says of
//! the real alpine:3.10 image, checked by hand against its installed database.

mod common;
use common::scanners::{check_purls, checked_sboms, read_json, validate_sboms, write_sboms};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Every image among the fixtures, as `whittle sbom` arguments (image reference, platform).
fn fixture_images(images: &Path) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (kind, dir) in [
        ("docker-archive", "docker-archive"),
        ("oci-archive", "oci-archive"),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(images.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.to_string_lossy().ends_with(".tar") || p.to_string_lossy().ends_with(".tar.gz")
            })
            .collect();
        files.sort();
        for f in files {
            let r = format!("{kind}:{}", f.display());
            // an archive of two images: each is read by its name
            if f.ends_with("ggcr-test_link.tar") {
                for name in [
                    "bazel/v1/tarball:test_image_1",
                    "bazel/v1/tarball:test_image_3",
                ] {
                    out.push(vec![format!("{r}:{name}")]);
                }
                continue;
            }
            out.push(vec![r]);
        }
    }
    // the layout's images are multi-platform indexes (its other tags are artifacts)
    let layout = images.join("oci-layout/regclient-testrepo");
    for tag in ["v1", "v2", "v3", "b1", "b2", "b3"] {
        out.push(vec![
            format!("oci:{}:{tag}", layout.display()),
            "--platform".into(),
            "linux/amd64".into(),
        ]);
    }
    out
}

#[test]
fn every_fixture_image_gives_valid_sboms() {
    let Some(fix) = fixtures() else { return };
    let images = fixture_images(&fix.join("images"));
    assert!(images.len() >= 17, "{images:?}");
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<(PathBuf, PathBuf)> = images
        .iter()
        .enumerate()
        .map(|(i, args)| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            write_sboms(&args, &dir.path().join(i.to_string()))
        })
        .collect();
    let (spdx_files, cdx_files): (Vec<PathBuf>, Vec<PathBuf>) = written.iter().cloned().unzip();
    validate_sboms(&spdx_files, &cdx_files);
    for (args, (spdx, cdx)) in images.iter().zip(&written) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (spdx, cdx) = (read_json(spdx), read_json(cdx));
        check_purls(&spdx, Some(&cdx));
        // the image's own time and digest, as its config and manifest say
        let r = whittle_oci::ImageRef::parse(args[0]).unwrap();
        let platform = args.get(2).map(|p| {
            let (os, arch) = p.split_once('/').unwrap();
            whittle_oci::Platform {
                architecture: arch.into(),
                os: os.into(),
                variant: None,
            }
        });
        let img = whittle_oci::read_image(&r, platform.as_ref()).unwrap();
        let created = img
            .config
            .created
            .as_deref()
            .and_then(whittle_sbom::parse_rfc3339)
            .unwrap_or(0);
        let created = whittle_sbom::rfc3339_utc(created);
        assert_eq!(
            spdx["creationInfo"]["created"],
            created.as_str(),
            "{args:?}"
        );
        assert_eq!(cdx["metadata"]["timestamp"], created.as_str(), "{args:?}");
        let hex = img.manifest_digest.strip_prefix("sha256:").unwrap();
        assert_eq!(spdx["packages"][0]["checksums"][0]["checksumValue"], hex);
        assert_eq!(cdx["metadata"]["component"]["hashes"][0]["content"], hex);
        assert_eq!(
            cdx["metadata"]["component"]["version"],
            img.manifest_digest.as_str()
        );
    }
}

fn alpine() -> Option<String> {
    let f = fixtures()?;
    Some(format!(
        "docker-archive:{}",
        f.join("images/docker-archive/trivy-alpine-3.10.tar.gz")
            .display()
    ))
}

#[test]
fn spdx_of_alpine() {
    let Some(image) = alpine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (v, _) = checked_sboms(&[&image], dir.path());
    let pkgs = v["packages"].as_array().unwrap();
    // 14 packages + the image + the OS
    assert_eq!(pkgs.len(), 16);
    assert_eq!(v["creationInfo"]["created"], "2020-01-23T16:53:06Z");
    let ssl = pkgs.iter().find(|p| p["name"] == "libssl1.1").unwrap();
    assert_eq!(ssl["sourceInfo"], "built package from: openssl 1.1.1d-r2");
    assert_eq!(
        ssl["externalRefs"][0]["referenceLocator"],
        "pkg:apk/alpine/libssl1.1@1.1.1d-r2?arch=x86_64&distro=alpine-3.10.4&upstream=openssl"
    );
    assert_eq!(ssl["licenseDeclared"], "OpenSSL");
    // an image holds no package archive: no checksum is claimed
    assert!(ssl.get("checksums").is_none());
    let os: Vec<&Value> = pkgs
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "OPERATING-SYSTEM")
        .collect();
    assert_eq!(os.len(), 1);
    assert_eq!(
        (&os[0]["name"], &os[0]["versionInfo"]),
        (&"alpine".into(), &"3.10.4".into())
    );
    // libssl1.1 needs libcrypto1.1 and musl (D: so:libc.musl-x86_64.so.1 so:libcrypto.so.1.1)
    let id = |n: &str| {
        pkgs.iter().find(|p| p["name"] == n).unwrap()["SPDXID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let deps: Vec<&str> = v["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["relationshipType"] == "DEPENDS_ON" && r["spdxElementId"] == id("libssl1.1").as_str()
        })
        .map(|r| r["relatedSpdxElement"].as_str().unwrap())
        .collect();
    assert_eq!(deps, [id("libcrypto1.1"), id("musl")]);
}

#[test]
fn cyclonedx_of_alpine() {
    let Some(image) = alpine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, v) = checked_sboms(&[&image], dir.path());
    assert_eq!(v["specVersion"], "1.6");
    let comps = v["components"].as_array().unwrap();
    assert_eq!(comps.len(), 15);
    let os: Vec<&Value> = comps
        .iter()
        .filter(|c| c["type"] == "operating-system")
        .collect();
    assert_eq!(os.len(), 1);
    assert_eq!(
        (&os[0]["name"], &os[0]["version"]),
        (&"alpine".into(), &"3.10.4".into())
    );
    let ssl = comps.iter().find(|c| c["name"] == "libssl1.1").unwrap();
    assert_eq!(ssl["pedigree"]["ancestors"][0]["name"], "openssl");
    // a graph: the image depends on every component, each component on its dependencies
    let deps = v["dependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 16);
    assert_eq!(deps[0]["ref"], "image");
    assert_eq!(deps[0]["dependsOn"].as_array().unwrap().len(), 15);
    let of = |r: &Value| deps.iter().find(|d| d["ref"] == *r).unwrap()["dependsOn"].clone();
    let crypto = comps.iter().find(|c| c["name"] == "libcrypto1.1").unwrap();
    let musl = comps.iter().find(|c| c["name"] == "musl").unwrap();
    assert_eq!(
        of(&ssl["bom-ref"]),
        serde_json::json!([crypto["bom-ref"], musl["bom-ref"]])
    );
    assert_eq!(of(&musl["bom-ref"]), serde_json::json!([]));
}

/// The build's SBOM names where each `.deb` came from and its SHA-256: built from the Debian
/// fixture repository served over HTTP, every package's `downloadLocation` is the served
/// archive's URL and its checksum that file's SHA-256. (pyspdxtools is not run here: its URL
/// pattern refuses an IP-address host such as the test server's; the host-mirror builds of
/// `peers.rs` and `catalogue.rs` validate real URLs.)
#[test]
fn build_sbom_names_each_archive_url_and_checksum() {
    let Some(fix) = fixtures() else { return };
    let repo = fix.join("deb/bookworm-mini");
    let base = serve_dir(&repo);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "contents:\n  repositories:\n    - deb [signed-by={}] {base} bookworm main\n  packages: [gawk]\narchs: [amd64]\n",
        repo.join("keys/debian-archive-keyring.gpg").display()
    );
    let layout = dir.path().join("layout");
    build(
        dir.path(),
        &cfg,
        &format!("oci:{}:t", layout.display()),
        &dir.path().join("cache"),
        &["-q"],
    );
    let doc = read_json(&layout.with_extension("spdx.json"));
    let libs: Vec<&Value> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .collect();
    assert_eq!(libs.len(), 10);
    for p in libs {
        let url = p["downloadLocation"].as_str().unwrap();
        let rel = url
            .strip_prefix(&format!("{base}/"))
            .unwrap_or_else(|| panic!("{url}"));
        assert!(
            rel.starts_with("pool/main/") && rel.ends_with(".deb"),
            "{url}"
        );
        let bytes = std::fs::read(repo.join(rel)).unwrap();
        assert_eq!(
            p["checksums"][0]["checksumValue"],
            sha256(&bytes).as_str(),
            "{url}"
        );
    }
}
