//! The Debian security tracker JSON excerpts of `vulndb/debian-tracker` imported into a database;
//! expectations written by hand from the entries cited in each comment.

use std::path::PathBuf;

use whittle_report::Severity;
use whittle_vulndb::{Db, DbError, Event, Record};

fn tracker_dir() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|f| f.join("vulndb/debian-tracker"))
}

fn fixed(v: &str) -> Vec<Vec<Event>> {
    vec![vec![Event::Introduced("0".into()), Event::Fixed(v.into())]]
}

fn open_all() -> Vec<Vec<Event>> {
    vec![vec![Event::Introduced("0".into())]]
}

fn one(db: &Db, eco: &str, pkg: &str, id: &str) -> Record {
    let recs: Vec<Record> = db
        .lookup(eco, pkg)
        .unwrap()
        .into_iter()
        .filter(|r| r.id == id)
        .collect();
    assert_eq!(recs.len(), 1, "{eco} {pkg} {id}: {recs:?}");
    recs.into_iter().next().unwrap()
}

#[test]
fn osvdev_excerpt() {
    let Some(d) = tracker_dir() else { return };
    let db_dir = tempfile::tempdir().unwrap();
    let s = whittle_vulndb::import(db_dir.path(), &[d.join("tracker-json-excerpt-osvdev.json")])
        .unwrap();
    // 3 CVEs of apparmor × buster, bullseye, bookworm, trixie (sid is skipped)
    assert_eq!(s.total_records, 12);
    assert_eq!(s.sources[0].2.get("debian-tracker"), Some(&1));
    assert!(
        s.skipped.iter().any(|n| n.contains("sid (3)")),
        "{:?}",
        s.skipped
    );
    let db = Db::open(db_dir.path()).unwrap();
    for eco in ["Debian:10", "Debian:11", "Debian:12", "Debian:13"] {
        assert!(db.has_ecosystem(eco), "{eco}");
    }
    assert!(!db.has_ecosystem("Debian:unstable"));

    // apparmor CVE-2014-1424: every release "resolved", fixed_version "0", unimportant
    let r = one(&db, "Debian:12", "apparmor", "CVE-2014-1424");
    assert!(r.not_affected && r.ranges.is_empty());
    assert_eq!(r.severity, Some(Severity::Info));
    assert_eq!(r.summary, "", "not shown, not stored");

    // CVE-2016-1585: bookworm "open", unimportant → every version, info
    let r = one(&db, "Debian:12", "apparmor", "CVE-2016-1585");
    assert!(!r.not_affected);
    assert_eq!(r.ranges, open_all());
    assert_eq!(r.severity, Some(Severity::Info));
    assert_eq!(r.aliases, Vec::<String>::new());
    assert_eq!(
        r.summary,
        "In all versions of AppArmor mount rules are accidentally widened when compiled."
    );
    // CVE-2017-6507's long description is cut to 160 characters
    let long = one(&db, "Debian:12", "apparmor", "CVE-2017-6507").summary;
    assert_eq!(long.chars().count(), 160);
    assert!(long.starts_with("An issue was discovered in AppArmor before 2.12."));
    // … trixie "resolved" in 3.0.12-1
    let r = one(&db, "Debian:13", "apparmor", "CVE-2016-1585");
    assert_eq!(r.ranges, fixed("3.0.12-1"));

    // CVE-2017-6507: resolved in 2.11.0-3 everywhere, urgency "not yet assigned" → unknown
    let r = one(&db, "Debian:10", "apparmor", "CVE-2017-6507");
    assert_eq!(r.ranges, fixed("2.11.0-3"));
    assert_eq!(r.severity, None);
}

#[test]
fn vunnel_excerpt() {
    let Some(d) = tracker_dir() else { return };
    let db_dir = tempfile::tempdir().unwrap();
    whittle_vulndb::import(db_dir.path(), &[d.join("tracker-json-excerpt-vunnel.json")]).unwrap();
    let db = Db::open(db_dir.path()).unwrap();

    // prototypejs CVE-2008-7220: fixed 1.6.0.2-1, urgency "high**" (NVD-derived) → high
    let r = one(&db, "Debian:10", "prototypejs", "CVE-2008-7220");
    assert_eq!(r.ranges, fixed("1.6.0.2-1"));
    assert_eq!(r.severity, Some(Severity::High));
    // … the stretch and jessie entries are Debian:9 and Debian:8
    assert_eq!(
        one(&db, "Debian:9", "prototypejs", "CVE-2008-7220").severity,
        Some(Severity::High)
    );
    assert_eq!(db.lookup("Debian:8", "prototypejs").unwrap().len(), 2);
    // CVE-2007-2383: fixed_version "0" → not affected
    assert!(one(&db, "Debian:10", "prototypejs", "CVE-2007-2383").not_affected);
    // txt2man CVE-2013-1444: "low**" → low
    let r = one(&db, "Debian:10", "txt2man", "CVE-2013-1444");
    assert_eq!(
        (r.severity, r.ranges),
        (Some(Severity::Low), fixed("1.5.5-4.1"))
    );
    // backupninja CVE-2005-3111: medium, fixed 0.8-2
    let r = one(&db, "Debian:10", "backupninja", "CVE-2005-3111");
    assert_eq!(
        (r.severity, r.ranges),
        (Some(Severity::Medium), fixed("0.8-2"))
    );
    // chromium CVE-2022-0456: buster "open" with urgency "end-of-life" → every version,
    // unknown severity, summary marked (the entry has no description)
    let r = one(&db, "Debian:10", "chromium", "CVE-2022-0456");
    assert_eq!((r.severity, &r.ranges), (None, &open_all()));
    assert_eq!(r.summary, "[end-of-life]");
    // … bookworm resolved in 98.0.4758.80-1, bullseye in 98.0.4758.80-1~deb11u1
    assert_eq!(
        one(&db, "Debian:12", "chromium", "CVE-2022-0456").ranges,
        fixed("98.0.4758.80-1")
    );
    assert_eq!(
        one(&db, "Debian:11", "chromium", "CVE-2022-0456").ranges,
        fixed("98.0.4758.80-1~deb11u1")
    );
    // sope CVE-2025-53603: bookworm fixed in the security update 5.8.0-1+deb12u1
    assert_eq!(
        one(&db, "Debian:12", "sope", "CVE-2025-53603").ranges,
        fixed("5.8.0-1+deb12u1")
    );
    // chromium-browser CVE-2022-0358 has `"releases": []`: no record, no error
    assert!(
        db.lookup("Debian:12", "chromium-browser")
            .unwrap()
            .is_empty()
    );
    assert!(
        db.lookup("Debian:10", "chromium-browser")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn corrupt_and_huge_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    // a truncated tracker file: the error names the file and the position
    let bad = dir.path().join("json");
    std::fs::write(
        &bad,
        r#"{"gawk": {"CVE-2023-1": {"releases": {"bookworm": {"status": "open""#,
    )
    .unwrap();
    let e = whittle_vulndb::import(&db_dir, std::slice::from_ref(&bad)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DbError::Format { .. }), "{msg}");
    assert!(
        msg.contains(&bad.display().to_string())
            && msg.contains("Debian security tracker")
            && msg.contains("line 1"),
        "{msg}"
    );
    assert!(
        !db_dir.join(whittle_vulndb::DB_FILE).exists(),
        "nothing written"
    );

    // a file larger than the limit is refused before it is read (sparse: no disk used)
    let huge = dir.path().join("huge.json");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(whittle_vulndb::import::MAX_FILE_BYTES + 1)
        .unwrap();
    let e = whittle_vulndb::import(&db_dir, &[huge]).unwrap_err();
    assert!(matches!(e, DbError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("limit"), "{e}");
}
