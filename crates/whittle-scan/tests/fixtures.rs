//! Scans against the real vulnerability fixtures (`vulndb/`), expectations written by hand
//! from the records cited in each comment, and the real alpine:3.10 image.

use std::path::PathBuf;

use whittle_catalog::{Catalog, OsRelease, Package, PackageDb};
use whittle_report::Severity;
use whittle_scan::*;
use whittle_vulndb::Db;

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn pkg(db: PackageDb, name: &str, version: &str, source: Option<&str>) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        arch: "x86_64".into(),
        source_name: source.map(str::to_string),
        source_version: None,
        db,
        db_path: String::new(),
        license: None,
        maintainer: None,
        homepage: None,
        depends: Vec::new(),
        provides: Vec::new(),
    }
}

fn cat(os: &str, packages: Vec<Package>) -> Catalog {
    Catalog {
        os: Some(OsRelease::parse(os)),
        packages,
        findings: Vec::new(),
    }
}

fn db_of(paths: &[PathBuf]) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    whittle_vulndb::import(dir.path(), paths).unwrap();
    let db = Db::open(dir.path()).unwrap();
    (dir, db)
}

fn found<'a>(r: &'a ScanReport, package: &str, id: &str) -> Option<&'a VulnMatch> {
    r.matches
        .iter()
        .find(|m| m.package == package && m.id == id)
}

#[test]
fn debian_matched_by_source_package() {
    let Some(f) = fixtures() else { return };
    let (_d, db) = db_of(&[f.join("vulndb/osv/Debian")]);
    // DLA-3012-1: libxml2, Debian:9, introduced 0, fixed 2.9.4+dfsg1-2.2+deb9u7,
    // upstream CVE-2022-29824 and DEBIAN-CVE-2022-29824
    let mut libxml = pkg(
        PackageDb::DpkgStatus,
        "libxml2-utils",
        "9.9",
        Some("libxml2"),
    );
    libxml.source_version = Some("2.9.4+dfsg1-2.2+deb9u6".into());
    let mut fixed = pkg(
        PackageDb::DpkgStatus,
        "libxml2",
        "2.9.4+dfsg1-2.2+deb9u7",
        None,
    );
    fixed.source_name = Some("libxml2".into());
    let c = cat("ID=debian\nVERSION_ID=\"9\"\n", vec![libxml, fixed]);
    let r = scan("t", &c, &db).unwrap();
    let m = found(&r, "libxml2-utils", "CVE-2022-29824").expect("DLA-3012-1 match");
    assert_eq!(m.fixed.as_deref(), Some("2.9.4+dfsg1-2.2+deb9u7"));
    assert_eq!(m.aliases, ["DEBIAN-CVE-2022-29824", "DLA-3012-1"]);
    assert_eq!(m.severity, None, "Debian OSV records carry no severity");
    assert!(
        found(&r, "libxml2", "CVE-2022-29824").is_none(),
        "deb9u7 is the fix"
    );
    // the same package on Debian 12: the Debian:9 record does not apply
    let mut l12 = pkg(
        PackageDb::DpkgStatus,
        "libxml2",
        "2.9.4+dfsg1-2.2+deb9u6",
        None,
    );
    l12.source_name = Some("libxml2".into());
    let r = scan("t", &cat("ID=debian\nVERSION_ID=12\n", vec![l12]), &db).unwrap();
    assert!(r.matches.is_empty());
    assert!(r.warnings.iter().any(|w| w.contains("Debian:12")));
}

#[test]
fn alpine_osv_per_release() {
    let Some(f) = fixtures() else { return };
    let (_d, db) = db_of(&[f.join("vulndb/osv/Alpine")]);
    // ALPINE-CVE-2025-26519: musl, Alpine:v3.18 introduced 0.9.13 fixed 1.2.4-r3
    let c = cat(
        "ID=alpine\nVERSION_ID=3.18.4\n",
        vec![
            pkg(PackageDb::Apk, "musl", "1.2.4-r2", None),
            pkg(PackageDb::Apk, "musl-utils", "1.2.4-r2", Some("musl")),
        ],
    );
    let r = scan("t", &c, &db).unwrap();
    let m = found(&r, "musl", "CVE-2025-26519").unwrap();
    assert_eq!(m.fixed.as_deref(), Some("1.2.4-r3"));
    assert_eq!(m.aliases, ["ALPINE-CVE-2025-26519"]);
    assert!(
        found(&r, "musl-utils", "CVE-2025-26519").is_some(),
        "matched by origin"
    );
    for v in ["1.2.4-r3", "1.2.5-r0", "0.9.12-r0"] {
        let c = cat(
            "ID=alpine\nVERSION_ID=3.18.4\n",
            vec![pkg(PackageDb::Apk, "musl", v, None)],
        );
        assert!(scan("t", &c, &db).unwrap().matches.is_empty(), "{v}");
    }
    // v3.17's fix is 1.2.3-r6: 1.2.3-r5 affected there
    let c = cat(
        "ID=alpine\nVERSION_ID=3.17.0\n",
        vec![pkg(PackageDb::Apk, "musl", "1.2.3-r5", None)],
    );
    assert_eq!(
        found(&scan("t", &c, &db).unwrap(), "musl", "CVE-2025-26519")
            .unwrap()
            .fixed
            .as_deref(),
        Some("1.2.3-r6")
    );
}

#[test]
fn chainguard_and_wolfi_with_severity_and_aliases_merged() {
    let Some(f) = fixtures() else { return };
    let (_d, db) = db_of(&[
        f.join("vulndb/osv/Chainguard"),
        f.join("vulndb/wolfi/advisories-samples"),
        f.join("vulndb/wolfi/secdb-excerpt-vunnel-security.json"),
    ]);
    // CGA-224q-ccj5-2p53: Wolfi haproxy-3.0 fixed 3.0.10-r0, CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/
    // C:H/I:H/A:N (9.1, critical), upstream CVE-2025-32464 + GHSA-frg5-h47x-75j9
    // zlib.advisories.yaml: CVE-2022-37434 (CGA-x22h-f4m4-2grc) fixed 1.2.13-r1, CVE-2023-45853
    // (CGA-jq67-276v-crw8) fixed 1.3-r1; vunnel secdb: zlib CVE-2022-37434 fixed 1.2.12-r3
    // vunnel secdb: coreutils `"0": ["CVE-2016-2781"]` = never affected
    let c = cat(
        "ID=wolfi\n",
        vec![
            pkg(PackageDb::Apk, "haproxy-3.0", "3.0.9-r0", None),
            pkg(PackageDb::Apk, "zlib", "1.2.13-r1", None),
            pkg(PackageDb::Apk, "coreutils", "9.0-r0", None),
        ],
    );
    let r = scan("t", &c, &db).unwrap();
    let h = found(&r, "haproxy-3.0", "CVE-2025-32464").unwrap();
    assert_eq!(h.severity, Some(Severity::Critical));
    assert_eq!(h.score, Some(9.1));
    assert_eq!(h.aliases, ["CGA-224q-ccj5-2p53", "GHSA-frg5-h47x-75j9"]);
    assert_eq!(h.fixed.as_deref(), Some("3.0.10-r0"));
    let z = found(&r, "zlib", "CVE-2023-45853").unwrap();
    assert_eq!(z.fixed.as_deref(), Some("1.3-r1"));
    assert_eq!(z.aliases, ["CGA-jq67-276v-crw8", "GHSA-mq29-j5xf-cjwr"]);
    assert!(
        found(&r, "zlib", "CVE-2022-37434").is_none(),
        "fixed in 1.2.13-r1"
    );
    assert!(r.matches.iter().all(|m| m.package != "coreutils"));
    assert_eq!(r.matches.len(), 2, "{:#?}", r.matches);
    // one CVE counted once per package even when two sources report it: zlib 1.2.12-r0 is
    // below both the secdb fix (1.2.12-r3) and the advisory fix (1.2.13-r1) of CVE-2022-37434
    let c = cat(
        "ID=wolfi\n",
        vec![pkg(PackageDb::Apk, "zlib", "1.2.12-r0", None)],
    );
    let r = scan("t", &c, &db).unwrap();
    assert_eq!(
        r.matches
            .iter()
            .filter(|m| m.id == "CVE-2022-37434")
            .count(),
        1
    );
    // haproxy-2.2 is only in the Chainguard ecosystem: seen from a chainguard OS, not wolfi
    let hp = vec![pkg(PackageDb::Apk, "haproxy-2.2", "2.2.33-r0", None)];
    assert!(
        scan("t", &cat("ID=wolfi\n", hp.clone()), &db)
            .unwrap()
            .matches
            .is_empty()
    );
    assert!(
        found(
            &scan("t", &cat("ID=chainguard\n", hp), &db).unwrap(),
            "haproxy-2.2",
            "CVE-2025-32464"
        )
        .is_some()
    );
}

#[test]
fn alpine_secdb_excerpt() {
    let Some(f) = fixtures() else { return };
    let (_d, db) = db_of(&[f.join("vulndb/alpine-secdb/excerpts")]);
    // claircore-v3.10-community.json: botan 2.9.0-r0 fixes CVE-2018-20187, 2.7.0-r0 fixes
    // CVE-2018-12435, 2.6.0-r0 CVE-2018-9860, 2.5.0-r0 CVE-2018-9127
    let c = cat(
        "ID=alpine\nVERSION_ID=3.10.4\n",
        vec![pkg(PackageDb::Apk, "botan", "2.8.0-r0", None)],
    );
    let r = scan("t", &c, &db).unwrap();
    let ids: Vec<&str> = r.matches.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["CVE-2018-20187"]);
    assert_eq!(r.matches[0].severity, None);
    assert_eq!(r.counts()[0], 1, "counted as unknown");
}

#[test]
fn real_alpine_310_image() {
    let Some(f) = fixtures() else { return };
    let r = whittle_oci::ImageRef::DockerArchive {
        path: f.join("images/docker-archive/trivy-alpine-3.10.tar.gz"),
        reference: None,
    };
    let img = whittle_oci::read_image(&r, None).unwrap();
    let c = whittle_catalog::catalog_image(&img).unwrap();
    // Against all the vulnerability fixtures: nothing. The only Alpine:v3.10 data is the
    // claircore community excerpt (botan, cfengine, chicken: none installed); musl's
    // ALPINE-CVE-2025-26519 lists v3.16…v3.24 only; the rest is Debian/Wolfi/Chainguard.
    let (_d, db) = db_of(&[f.join("vulndb/osv"), f.join("vulndb/alpine-secdb")]);
    let rep = scan("alpine", &c, &db).unwrap();
    assert_eq!(rep.ecosystems, ["Alpine:v3.10"]);
    assert_eq!(rep.packages, 14);
    assert!(rep.matches.is_empty(), "{:#?}", rep.matches);

    // A secdb written for this test (same format as Alpine's v3.10 main secdb): openssl fixed
    // in 1.1.1g-r0 → libcrypto1.1 and libssl1.1 (origin openssl, 1.1.1d-r2) are affected;
    // musl fixed in 1.1.22-r3 → the installed 1.1.22-r3 is not; busybox `0` → never affected.
    let dir = tempfile::tempdir().unwrap();
    let secdb = dir.path().join("v3.10-main.json");
    std::fs::write(
        &secdb,
        r#"{"distroversion":"v3.10","reponame":"main","packages":[
        {"pkg":{"name":"openssl","secfixes":{"1.1.1g-r0":["CVE-2020-1967"]}}},
        {"pkg":{"name":"musl","secfixes":{"1.1.22-r3":["CVE-2019-14697"]}}},
        {"pkg":{"name":"busybox","secfixes":{"0":["CVE-2021-42373"]}}}]}"#,
    )
    .unwrap();
    let (_d2, db) = db_of(&[secdb]);
    let rep = scan("alpine", &c, &db).unwrap();
    let got: Vec<(&str, &str)> = rep
        .matches
        .iter()
        .map(|m| (m.package.as_str(), m.id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("libcrypto1.1", "CVE-2020-1967"),
            ("libssl1.1", "CVE-2020-1967")
        ]
    );
    assert_eq!(rep.distinct_ids(), 1);

    // the same through an SBOM: SPDX and CycloneDX give the same result
    let input = whittle_catalog::sbom::sbom_input(&c, "alpine", "s", 0, "whittle-test");
    for bytes in [
        whittle_sbom::to_spdx_json(&input).unwrap(),
        whittle_sbom::to_cyclonedx_json(&input).unwrap(),
    ] {
        let from_sbom = catalog_from_sbom("sbom.json", &bytes).unwrap();
        assert_eq!(from_sbom.packages.len(), 14);
        let rep2 = scan("sbom", &from_sbom, &db).unwrap();
        assert_eq!(ids(&rep2), ids(&rep));
    }
    // findings / SARIF / JSON renderings carry every match
    let findings = to_findings(&rep);
    assert_eq!(findings.len(), 2);
    assert!(findings[0].fix.as_deref().unwrap().contains("1.1.1g-r0"));
    let j = to_json(&rep);
    assert_eq!(j["summary"]["unknown"], 2);
    assert!(to_table(&rep).contains("CVE-2020-1967"));
}
