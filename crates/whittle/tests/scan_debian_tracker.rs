//! `whittle db import/update` of the Debian security tracker's JSON and `whittle scan` of a real
//! Debian 12 image built from `deb/bookworm-mini` (the closure of gawk).

mod common;
use common::*;

use std::path::Path;

use serde_json::Value;

/// A tracker JSON written for this test (ids `CVE-2099-…` are made up): bookworm entries whose
/// fixed versions straddle the image's source versions — gawk 1:5.2.1-2, glibc 2.36-9+deb12u14,
/// gmp 2:6.2.1+dfsg1-1.1, mpfr4 4.2.0-1, readline 8.2-1.3 (the fixture's Packages.xz).
const TRACKER: &str = r#"{
 "gawk": {
  "CVE-2099-0004": {"description": "gawk open, unimportant", "releases": {
     "bookworm": {"status": "open", "urgency": "unimportant", "repositories": {"bookworm": "1:5.2.1-2"}}}},
  "CVE-2099-0005": {"releases": {
     "bookworm": {"status": "resolved", "fixed_version": "1:5.2.1-2", "urgency": "low"},
     "bullseye": {"status": "open", "urgency": "low"}}},
  "CVE-2099-0006": {"releases": {
     "bookworm": {"status": "resolved", "fixed_version": "5.2.1-3", "urgency": "high"}}},
  "CVE-2099-0007": {"releases": {"bookworm": {"status": "undetermined", "urgency": "high"}}}
 },
 "glibc": {
  "CVE-2099-0001": {"description": "glibc fixed in the next point release", "releases": {
     "bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u15", "urgency": "high"}}},
  "CVE-2099-0002": {"releases": {
     "bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u14", "urgency": "medium"}}},
  "CVE-2099-0003": {"releases": {
     "bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "unimportant"}}}
 },
 "gmp": {
  "CVE-2099-0008": {"releases": {
     "bookworm": {"status": "resolved", "fixed_version": "2:6.2.1+dfsg1-1.2", "urgency": "medium**"}}}
 },
 "mpfr4": {
  "CVE-2099-0009": {"releases": {"bookworm": {"status": "open", "urgency": "end-of-life"}}}
 },
 "readline": {
  "TEMP-0000000-ABCDEF": {"releases": {"bookworm": {"status": "open"}}},
  "CVE-2099-0010": {"releases": {"sid": {"status": "open", "urgency": "high"}}}
 }
}"#;

/// OSV records of another source: a DSA naming CVE-2099-0001 (merged into one match) and a DLA
/// naming CVE-2099-0003 (hidden: the tracker says bookworm's glibc is not affected).
const OSV: &str = r#"[
{"id":"DSA-9001-1","upstream":["CVE-2099-0001"],"affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},
 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u15"}]}]}]},
{"id":"DLA-9003-1","upstream":["CVE-2099-0003"],"affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},
 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}
]"#;

fn db_cmd(db: &Path, args: &[&str]) -> std::process::Output {
    whittle().args(args).arg("--db").arg(db).output().unwrap()
}

fn gawk_image(fix: &Path, dir: &Path) -> String {
    let layout = dir.join("layout");
    let dest = format!("oci:{}:gawk", layout.display());
    build(
        dir,
        &fixture_config(fix, "gawk", ""),
        &dest,
        &dir.join("cache"),
        &[],
    );
    dest
}

/// (package, id, severity, fixed, aliases) of each match, in the report's order.
fn matches(j: &Value) -> Vec<(String, String, String, Value, Value)> {
    j["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["package"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
                v["severity"].as_str().unwrap().to_string(),
                v["fixed"].clone(),
                v["aliases"].clone(),
            )
        })
        .collect()
}

#[test]
fn tracker_scan_of_a_debian_12_image() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = gawk_image(&fix, dir.path());
    let db = dir.path().join("db");

    // the real excerpts: bookworm data exists now, but none of their packages (apparmor,
    // chromium, sope, prototypejs…) is in the gawk image
    let excerpts = fix.join("vulndb/debian-tracker");
    let o = db_cmd(
        &db,
        &[
            "db",
            "import",
            excerpts
                .join("tracker-json-excerpt-osvdev.json")
                .to_str()
                .unwrap(),
            excerpts
                .join("tracker-json-excerpt-vunnel.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("debian-tracker"));
    let o = db_cmd(&db, &["scan", &image, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ecosystems"], serde_json::json!(["Debian:12"]));
    assert_eq!(j["summary"]["total"], 0);
    assert_eq!(
        j["warnings"],
        serde_json::json!([]),
        "Debian:12 has records"
    );

    // the test's tracker data and OSV records of another source
    let tracker = dir.path().join("json");
    std::fs::write(&tracker, TRACKER).unwrap();
    let osv = dir.path().join("dsa.json");
    std::fs::write(&osv, OSV).unwrap();
    let o = db_cmd(
        &db,
        &[
            "db",
            "import",
            tracker.to_str().unwrap(),
            osv.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = db_cmd(&db, &["scan", &image, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let none = Value::Null;
    let no_alias = serde_json::json!([]);
    assert_eq!(
        matches(&j),
        [
            // glibc 2.36-9+deb12u14 < 2.36-9+deb12u15; merged with DSA-9001-1
            (
                "libc6".into(),
                "CVE-2099-0001".into(),
                "high".into(),
                Value::from("2.36-9+deb12u15"),
                serde_json::json!(["DSA-9001-1"])
            ),
            // gmp 2:6.2.1+dfsg1-1.1 < 2:6.2.1+dfsg1-1.2, "medium**" → medium
            (
                "libgmp10".into(),
                "CVE-2099-0008".into(),
                "medium".into(),
                Value::from("2:6.2.1+dfsg1-1.2"),
                no_alias.clone()
            ),
            // gawk: "open", unimportant → info, no fix
            (
                "gawk".into(),
                "CVE-2099-0004".into(),
                "info".into(),
                none.clone(),
                no_alias.clone()
            ),
            // mpfr4: "open", end-of-life → unknown severity, no fix
            (
                "libmpfr6".into(),
                "CVE-2099-0009".into(),
                "unknown".into(),
                none,
                no_alias
            ),
        ],
        "not reported: CVE-2099-0002 (fixed in the installed version), -0003 (fixed_version 0, \
         hides DLA-9003-1), -0005 (fixed in 1:5.2.1-2), -0006 (5.2.1-3 < 1:5.2.1-2), \
         -0007 (undetermined), -0010 (sid only), TEMP- ids"
    );
    let m = &j["vulnerabilities"][0];
    assert_eq!(m["matched"]["name"], "glibc");
    assert_eq!(m["matched"]["version"], "2.36-9+deb12u14");
    assert_eq!(m["matched"]["ecosystem"], "Debian:12");
    assert_eq!(m["summary"], "glibc fixed in the next point release");
    assert_eq!(j["vulnerabilities"][3]["summary"], "[end-of-life]");

    // --fail-on: high is present, critical is not
    let o = db_cmd(&db, &["scan", &image, "--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(3));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("CVE-2099-0001") && table.contains("2.36-9+deb12u15"),
        "{table}"
    );
    let o = db_cmd(&db, &["scan", &image, "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn update_downloads_the_tracker_json() {
    let dir = tempfile::tempdir().unwrap();
    let body = TRACKER.as_bytes().to_vec();
    let (base, server) = whittle_testutil::serve_once("application/json", body);
    let db = dir.path().join("db");
    // the default's path, served locally: no `.json` in the URL, recognized by shape
    let url = format!("{base}/tracker/data/json");
    let o = db_cmd(&db, &["db", "update", "--url", &url]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        server
            .join()
            .unwrap()
            .starts_with("GET /tracker/data/json ")
    );
    let err = String::from_utf8_lossy(&o.stderr);
    // bookworm: 4 gawk + 3 glibc + 1 gmp + 1 mpfr4 - 1 undetermined; bullseye: 1 gawk
    assert!(err.contains("imported  9 records"), "{err}");
    assert!(err.contains("1 debian-tracker"), "{err}");
    let o = db_cmd(&db, &["db", "status"]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains(&url), "{s}");
    assert!(
        s.contains("Debian:12        8") && s.contains("Debian:11        1"),
        "{s}"
    );

    // a damaged download is refused with the reason, and the database is kept
    let (base, server) = whittle_testutil::serve_once(
        "application/json",
        br#"{"gawk": {"CVE-2099-1": {"releases": {"bookworm": "#.to_vec(),
    );
    let bad = format!("{base}/tracker/data/json");
    let o = db_cmd(&db, &["db", "update", "--url", &bad]);
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not valid Debian security tracker JSON"),
        "{err}"
    );
    let o = db_cmd(&db, &["db", "status"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("records   9 "));
}
