//! `whittle compare` over real images from the fixtures: the real alpine:3.10 archive (gzipped
//! `docker save`), dive's 13-layer image and the regclient OCI layout, with and without a
//! vulnerability database.

mod common;
use common::*;
use std::path::Path;

fn image(f: &Path, rel: &str, transport: &str) -> String {
    format!("{transport}:{}", f.join("images").join(rel).display())
}

/// A secdb written for the test: openssl fixed in 1.1.1g-r0 (alpine:3.10 has 1.1.1d-r2, and both
/// libcrypto1.1 and libssl1.1 come from the openssl origin).
const SECDB: &str = r#"{"distroversion":"v3.10","reponame":"main","packages":[
{"pkg":{"name":"openssl","secfixes":{"1.1.1g-r0":["CVE-2020-1967"]}}}]}"#;

#[test]
fn compares_real_images_with_vulnerabilities_and_risks() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let secdb = dir.path().join("secdb.json");
    std::fs::write(&secdb, SECDB).unwrap();
    run(whittle()
        .arg("db")
        .arg("import")
        .arg("--db")
        .arg(&db)
        .arg(&secdb));
    let alpine = image(
        &f,
        "docker-archive/trivy-alpine-3.10.tar.gz",
        "docker-archive",
    );
    let dive = image(
        &f,
        "docker-archive/dive-test-docker-image.tar",
        "docker-archive",
    );
    let out = run(whittle()
        .args(["compare", "--format", "json", "--db"])
        .arg(&db)
        .args([&alpine, &dive]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["images"].as_array().unwrap();
    let a = &rows[0];
    // alpine:3.10: 14 apk packages, busybox's /bin/sh, apk-tools, no USER; the two openssl
    // libraries affected by CVE-2020-1967 (high in no data here: severity unknown)
    assert_eq!(a["packages"], 14);
    assert_eq!(a["layers"], 1);
    assert_eq!(
        (&a["shell"], &a["package_manager"], &a["root"]),
        (&true.into(), &true.into(), &true.into())
    );
    let vulns = &a["vulns"];
    let total: u64 = ["critical", "high", "medium", "low", "unknown"]
        .iter()
        .map(|k| vulns[k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2, "{vulns}");
    // docker save keeps layers as plain tar: the compressed size is what gzip makes of them
    let compressed = a["compressed_bytes"].as_u64().unwrap();
    assert!((2_000_000..3_500_000).contains(&compressed), "{compressed}");
    assert!(a["unpacked_bytes"].as_u64().unwrap() > 5_000_000);
    // dive's test image: busybox + 13 layers (whiteouts, overwritten files), no package database
    let d = &rows[1];
    assert_eq!(d["layers"], 14);
    assert_eq!(d["packages"], 0, "{d}");

    // HTML: one self-contained file, written atomically where asked
    let html = dir.path().join("out/compare.html");
    std::fs::create_dir_all(html.parent().unwrap()).unwrap();
    run(whittle()
        .args(["compare", "--format", "html", "--title", "fixtures", "--db"])
        .arg(&db)
        .arg("-o")
        .arg(&html)
        .args([&alpine, &dive]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
    assert!(page.contains("trivy-alpine-3.10.tar.gz"));
    assert_eq!(
        std::fs::read_dir(html.parent().unwrap()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn missing_images_and_databases_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_fail(
        whittle()
            .args(["compare", "--db"])
            .arg(dir.path().join("nothing"))
            .arg(format!("oci:{}", dir.path().display())),
    );
    assert!(err.contains("whittle db"), "{err}");
    let err = run_fail(
        whittle()
            .env("WHITTLE_DB_DIR", dir.path().join("none"))
            .arg("compare")
            .arg(format!("oci:{}", dir.path().join("missing").display())),
    );
    assert!(err.contains("missing"), "{err}");
}
