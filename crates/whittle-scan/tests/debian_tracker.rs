//! Scans against the Debian security tracker excerpts of `vulndb/debian-tracker`, alone and
//! merged with OSV records of other sources; expectations written by hand from the entries
//! cited in each comment.

use std::path::{Path, PathBuf};

use whittle_catalog::{Catalog, OsRelease, Package, PackageDb};
use whittle_report::Severity;
use whittle_scan::*;
use whittle_vulndb::Db;

fn deb(name: &str, source: &str, source_version: &str) -> Package {
    Package {
        name: name.into(),
        version: format!("{source_version}+b1"),
        arch: "amd64".into(),
        source_name: Some(source.into()),
        source_version: Some(source_version.into()),
        db: PackageDb::DpkgStatus,
        db_path: String::new(),
        license: None,
        maintainer: None,
        homepage: None,
        depends: Vec::new(),
        provides: Vec::new(),
    }
}

fn scan_debian(major: &str, db: &Db, packages: Vec<Package>) -> ScanReport {
    let c = Catalog {
        os: Some(OsRelease::parse(&format!(
            "ID=debian\nVERSION_ID=\"{major}\"\n"
        ))),
        packages,
        findings: Vec::new(),
    };
    scan("t", &c, db).unwrap()
}

fn db_of(paths: &[PathBuf]) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    whittle_vulndb::import(dir.path(), paths).unwrap();
    let db = Db::open(dir.path()).unwrap();
    (dir, db)
}

fn tracker(f: &Path, which: &str) -> PathBuf {
    f.join(format!(
        "vulndb/debian-tracker/tracker-json-excerpt-{which}.json"
    ))
}

fn ids(r: &ScanReport) -> Vec<(String, String)> {
    r.matches
        .iter()
        .map(|m| (m.package.clone(), m.id.clone()))
        .collect()
}

fn pair(p: &str, id: &str) -> (String, String) {
    (p.to_string(), id.to_string())
}

#[test]
fn apparmor_per_release() {
    let Some(f) = whittle_testutil::fixtures() else {
        return;
    };
    let (_d, db) = db_of(&[tracker(&f, "osvdev")]);
    // bookworm's apparmor 3.0.8-3 (the excerpt's `repositories`): CVE-2016-1585 is "open"
    // (unimportant → info, no fix); CVE-2014-1424 is fixed_version "0" (not affected);
    // CVE-2017-6507 was fixed in 2.11.0-3, below 3.0.8-3
    let r = scan_debian("12", &db, vec![deb("libapparmor1", "apparmor", "3.0.8-3")]);
    assert_eq!(ids(&r), [pair("libapparmor1", "CVE-2016-1585")]);
    let m = &r.matches[0];
    assert_eq!(m.severity, Some(Severity::Info));
    assert_eq!(m.fixed, None);
    assert_eq!(m.ecosystem, "Debian:12");
    assert_eq!(m.matched_name, "apparmor");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    // an older apparmor on Debian 12: CVE-2017-6507 applies (2.11.0-2 < 2.11.0-3), severity
    // unknown ("not yet assigned")
    let r = scan_debian("12", &db, vec![deb("apparmor", "apparmor", "2.11.0-2")]);
    assert_eq!(
        ids(&r),
        [
            pair("apparmor", "CVE-2016-1585"),
            pair("apparmor", "CVE-2017-6507")
        ]
    );
    let m = r.matches.iter().find(|m| m.id == "CVE-2017-6507").unwrap();
    assert_eq!((m.severity, m.fixed.as_deref()), (None, Some("2.11.0-3")));

    // trixie: CVE-2016-1585 resolved in 3.0.12-1
    let r = scan_debian("13", &db, vec![deb("apparmor", "apparmor", "3.0.11-1")]);
    assert_eq!(ids(&r), [pair("apparmor", "CVE-2016-1585")]);
    assert_eq!(r.matches[0].fixed.as_deref(), Some("3.0.12-1"));
    let r = scan_debian("13", &db, vec![deb("apparmor", "apparmor", "3.0.12-1")]);
    assert!(r.matches.is_empty(), "{:?}", ids(&r));
}

#[test]
fn vunnel_excerpt_versions() {
    let Some(f) = whittle_testutil::fixtures() else {
        return;
    };
    let (_d, db) = db_of(&[tracker(&f, "vunnel")]);
    // sope CVE-2025-53603: bookworm fixed in 5.8.0-1+deb12u1 (not yet assigned → unknown)
    let r = scan_debian("12", &db, vec![deb("sogo-sope", "sope", "5.8.0-1")]);
    assert_eq!(ids(&r), [pair("sogo-sope", "CVE-2025-53603")]);
    assert_eq!(r.matches[0].fixed.as_deref(), Some("5.8.0-1+deb12u1"));
    let r = scan_debian("12", &db, vec![deb("sogo-sope", "sope", "5.8.0-1+deb12u1")]);
    assert!(r.matches.is_empty());
    // chromium CVE-2022-0456 on buster: "open", end-of-life → every version, unknown severity
    let r = scan_debian(
        "10",
        &db,
        vec![deb("chromium", "chromium", "90.0.4430.212-1~deb10u1")],
    );
    assert_eq!(ids(&r), [pair("chromium", "CVE-2022-0456")]);
    assert_eq!((r.matches[0].severity, &r.matches[0].fixed), (None, &None));
    assert!(r.matches[0].summary.starts_with("[end-of-life]"));
    // … on bookworm resolved in 98.0.4758.80-1: the repository's 98.0.4758.102-1 is fixed
    let r = scan_debian(
        "12",
        &db,
        vec![deb("chromium", "chromium", "98.0.4758.102-1")],
    );
    assert!(r.matches.is_empty());
    // prototypejs on buster: CVE-2008-7220 fixed 1.6.0.2-1 ("high**" → high) applies to 1.6.0-1;
    // CVE-2007-2383 has fixed_version "0": never reported
    let r = scan_debian(
        "10",
        &db,
        vec![deb("libjs-prototype", "prototypejs", "1.6.0-1")],
    );
    assert_eq!(ids(&r), [pair("libjs-prototype", "CVE-2008-7220")]);
    assert_eq!(r.matches[0].severity, Some(Severity::High));
    // txt2man 1.5.5-4 < 1.5.5-4.1 ("low**" → low); backupninja 0.8-1 < 0.8-2 (medium)
    let r = scan_debian(
        "10",
        &db,
        vec![
            deb("txt2man", "txt2man", "1.5.5-4"),
            deb("backupninja", "backupninja", "0.8-1"),
            deb("backupninja2", "backupninja", "0.8-2"),
        ],
    );
    assert_eq!(
        ids(&r),
        [
            pair("backupninja", "CVE-2005-3111"),
            pair("txt2man", "CVE-2013-1444")
        ]
    );
    assert_eq!(r.counts(), [0, 0, 1, 1, 0, 0], "one low, one medium");
}

/// An OSV Debian:12 DSA for sope naming CVE-2025-53603, and one for apparmor naming
/// CVE-2014-1424 (which the tracker says bookworm is not affected by).
const OSV: &str = r#"[
{"id":"DSA-5999-1","upstream":["CVE-2025-53603"],"affected":[{"package":{"ecosystem":"Debian:12","name":"sope"},
 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"5.8.0-1+deb12u1"}]}]}]},
{"id":"DLA-9999-1","upstream":["CVE-2014-1424"],"affected":[{"package":{"ecosystem":"Debian:12","name":"apparmor"},
 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}
]"#;

#[test]
fn merged_with_osv_and_not_affected_across_sources() {
    let Some(f) = whittle_testutil::fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let osv = dir.path().join("dsa.json");
    std::fs::write(&osv, OSV).unwrap();
    let (_d, db) = db_of(&[tracker(&f, "vunnel"), tracker(&f, "osvdev"), osv]);
    let r = scan_debian(
        "12",
        &db,
        vec![
            deb("sogo-sope", "sope", "5.8.0-1"),
            deb("apparmor", "apparmor", "3.0.8-3"),
        ],
    );
    // one CVE counted once, with the DSA as an alias; DLA-9999-1 hidden by the tracker's
    // "not affected" for CVE-2014-1424
    assert_eq!(
        ids(&r),
        [
            pair("apparmor", "CVE-2016-1585"),
            pair("sogo-sope", "CVE-2025-53603")
        ]
    );
    let m = r.matches.iter().find(|m| m.id == "CVE-2025-53603").unwrap();
    assert_eq!(m.aliases, ["DSA-5999-1"]);
    assert_eq!(m.fixed.as_deref(), Some("5.8.0-1+deb12u1"));
    assert_eq!(r.distinct_ids(), 2);
}
