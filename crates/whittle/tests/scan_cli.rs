//! `whittle db import/status/update` and `whittle scan` end to end: exit codes, formats, and
//! `db update` from a local HTTP server serving a fixture zip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

fn whittle(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(cargo_bin("whittle"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap()
}

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn alpine(f: &Path) -> String {
    format!(
        "docker-archive:{}",
        f.join("images/docker-archive/trivy-alpine-3.10.tar.gz")
            .display()
    )
}

/// A secdb written for the test: openssl fixed in 1.1.1g-r0 (the image has 1.1.1d-r2).
const SECDB: &str = r#"{"distroversion":"v3.10","reponame":"main","packages":[
{"pkg":{"name":"openssl","secfixes":{"1.1.1g-r0":["CVE-2020-1967"]}}}]}"#;

#[test]
fn import_status_scan_and_fail_on() {
    let Some(f) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let secdb = dir.path().join("secdb.json");
    std::fs::write(&secdb, SECDB).unwrap();
    // no database yet: a clear error, exit 1
    let o = whittle(&db, &["scan", &alpine(&f)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("whittle db import"));

    let o = whittle(&db, &["db", "import", secdb.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = whittle(&db, &["db", "status"]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("Alpine:v3.10") && s.contains("records   1 "),
        "{s}"
    );

    let o = whittle(&db, &["scan", &alpine(&f), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["summary"]["total"], 2, "libcrypto1.1 and libssl1.1");
    // unknown severity counts as low for --fail-on
    let o = whittle(&db, &["scan", &alpine(&f), "--fail-on", "low"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stdout).contains("CVE-2020-1967"));
    let o = whittle(&db, &["scan", &alpine(&f), "--fail-on", "medium"]);
    assert_eq!(o.status.code(), Some(0));
    let o = whittle(&db, &["scan", &alpine(&f), "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 2);

    // a damaged database: a clear error saying to re-import
    let file = db.join("whittle-vulndb.bin");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let o = whittle(&db, &["scan", &alpine(&f)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("re-import"));
}

#[test]
fn update_from_a_local_http_server() {
    let dir = tempfile::tempdir().unwrap();
    // a zip of one OSV record, made here
    let osv = br#"{"id":"ALPINE-CVE-2099-1","upstream":["CVE-2099-1"],"affected":[{"package":{"ecosystem":"Alpine:v3.10","name":"musl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.1.22-r4"}]}]}]}"#;
    let mut zipped = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        z.start_file(
            "ALPINE-CVE-2099-1.json",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(osv).unwrap();
        z.finish().unwrap();
    }
    let (base, server) = whittle_testutil::serve_once("application/zip", zipped);
    let db = dir.path().join("db");
    let url = format!("{base}/Alpine/all.zip");
    let o = whittle(&db, &["db", "update", "--url", &url]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(server.join().unwrap().starts_with("GET /Alpine/all.zip"));
    let o = whittle(&db, &["db", "status"]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains(&url) && s.contains("Alpine:v3.10"), "{s}");
    let Some(f) = fixtures() else { return };
    let o = whittle(&db, &["scan", &alpine(&f), "--format", "json"]);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = j["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["package"].as_str().unwrap())
        .collect();
    // musl and musl-utils (origin musl), both 1.1.22-r3 < 1.1.22-r4
    assert_eq!(ids, ["musl", "musl-utils"]);
}
