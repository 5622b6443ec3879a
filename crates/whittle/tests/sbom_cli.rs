//! `whittle sbom` on the real alpine:3.10 image: SPDX validated with `pyspdxtools`, CycloneDX
//! 1.6 validated against its official JSON schema (PyPI `cyclonedx-python-lib[json-validation]`).

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

fn alpine() -> Option<String> {
    let f: PathBuf = whittle_testutil::fixtures()?;
    Some(format!(
        "docker-archive:{}",
        f.join("images/docker-archive/trivy-alpine-3.10.tar.gz")
            .display()
    ))
}

fn sbom(image: &str, format: &str, out: &std::path::Path) -> Value {
    let st = Command::new(cargo_bin("whittle"))
        .args(["sbom", image, "--format", format, "-o"])
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success());
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

fn python_has(check: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", check])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if whittle_testutil::ci() {
            panic!("python validator missing: {check}");
        }
        println!("SKIPPED: validator not installed ({check})");
    }
    ok
}

#[test]
fn spdx_of_alpine_validates() {
    let Some(image) = alpine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.spdx.json");
    let v = sbom(&image, "spdx", &out);
    let pkgs = v["packages"].as_array().unwrap();
    // 14 packages + the image
    assert_eq!(pkgs.len(), 15);
    let ssl = pkgs.iter().find(|p| p["name"] == "libssl1.1").unwrap();
    assert_eq!(ssl["sourceInfo"], "built package from: openssl 1.1.1d-r2");
    assert_eq!(
        ssl["externalRefs"][0]["referenceLocator"],
        "pkg:apk/alpine/libssl1.1@1.1.1d-r2?arch=x86_64&distro=alpine-3.10.4&upstream=openssl"
    );
    if !python_has("import spdx_tools") {
        return;
    }
    let o = Command::new("pyspdxtools")
        .arg("-i")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn cyclonedx_of_alpine_validates() {
    let Some(image) = alpine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.cdx.json");
    let v = sbom(&image, "cyclonedx", &out);
    assert_eq!(v["specVersion"], "1.6");
    assert_eq!(v["components"].as_array().unwrap().len(), 14);
    let ssl = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "libssl1.1")
        .unwrap();
    assert_eq!(ssl["pedigree"]["ancestors"][0]["name"], "openssl");
    if !python_has("import cyclonedx.validation.json, jsonschema") {
        return;
    }
    let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nerr = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\nprint(err)\nsys.exit(1 if err else 0)\n";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
