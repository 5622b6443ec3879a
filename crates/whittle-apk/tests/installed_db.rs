//! The installed database against the real ones in `shared/fixtures/installed-db/apk`: the
//! apk-tools-written files round-trip byte for byte, go-apk-written ones structurally, damaged
//! ones give findings, and a record generated from a real `.apk` has apk-tools' shape.

use std::path::{Path, PathBuf};

use whittle_apk::package::installed::{
    Acl, DirsBuilder, InstalledPackage, installed_db, installed_db_entry, parse_installed,
};
use whittle_apk::package::{ApkPackage, Error};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn apk_tools_databases_round_trip_byte_for_byte() {
    let Some(fx) = fixtures() else { return };
    for (file, count) in [
        ("alpine-3.16-x86_64.installed", 14),
        ("alpine-3.10-x86_64.installed", 14),
    ] {
        let bytes = read(&fx.join("installed-db/apk").join(file));
        let db = parse_installed(file, &bytes).unwrap();
        assert!(db.findings.is_empty(), "{file}: {:?}", db.findings);
        assert_eq!(db.packages.len(), count, "{file}");
        let written = installed_db(&db.packages);
        assert_eq!(written.as_bytes(), &bytes[..], "{file} did not round-trip");
    }
}

#[test]
fn alpine_316_facts() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("installed-db/apk/alpine-3.16-x86_64.installed"));
    let db = parse_installed("alpine-3.16", &bytes).unwrap();
    let musl = db.packages.iter().find(|p| p.name == "musl").unwrap();
    assert_eq!(musl.version, "1.2.3-r0");
    assert_eq!(musl.checksum, "Q1GnnDm59VZtPVL5vCI9r/HFzs2yI=");
    assert_eq!(musl.size, 391631);
    assert_eq!(musl.installed_size, 651264);
    assert_eq!(musl.license, "MIT");
    let base = db
        .packages
        .iter()
        .find(|p| p.name == "alpine-baselayout")
        .unwrap();
    let root = base.dirs.iter().find(|d| d.path == "root").unwrap();
    assert_eq!(root.acl.as_ref().unwrap().mode, 0o700);
    let paths: Vec<String> = base.paths().collect();
    assert!(paths.contains(&"sbin/mkmntdirs".to_string()));
    let with_install_if = db
        .packages
        .iter()
        .find(|p| !p.install_if.is_empty())
        .unwrap();
    assert_eq!(
        with_install_if.install_if,
        vec!["busybox=1.35.0-r17", "libssl1.1"]
    );
}

#[test]
fn go_apk_databases_parse_and_round_trip_structurally() {
    let Some(fx) = fixtures() else { return };
    for (file, count) in [
        ("wolfi-base-x86_64.installed", 15),
        ("wolfi-redis-operator-compat.installed", 16),
    ] {
        let bytes = read(&fx.join("installed-db/apk").join(file));
        let db = parse_installed(file, &bytes).unwrap();
        assert!(db.findings.is_empty(), "{file}: {:?}", db.findings);
        assert_eq!(db.packages.len(), count, "{file}");
        let written = installed_db(&db.packages);
        let again = parse_installed(file, written.as_bytes()).unwrap();
        assert_eq!(again, db, "{file}");
        // go-apk's "a:0:0:0777" is the same ACL as apk-tools' "a:0:0:777".
        assert!(!written.contains("a:0:0:0777"));
    }
    let bytes = read(&fx.join("installed-db/apk/wolfi-base-x86_64.installed"));
    let db = parse_installed("wolfi-base", &bytes).unwrap();
    let base = &db.packages[0];
    assert_eq!(base.name, "wolfi-baselayout");
    assert!(base.install_if.is_empty(), "go-apk's i:[] is an empty list");
    assert_eq!(base.provider_priority, Some(0));
    let mtab = base.dirs[0]
        .files
        .iter()
        .find(|f| f.name == "mtab")
        .unwrap();
    assert_eq!(
        mtab.acl,
        Some(Acl {
            uid: 0,
            gid: 0,
            mode: 0o777,
            xattr_checksum: None
        })
    );
}

#[test]
fn damaged_databases_give_findings_not_panics() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("installed-db/apk/alpine-3.4-mixed-with-invalid-entry.installed"));
    let db = parse_installed("alpine-3.4", &bytes).unwrap();
    assert_eq!(db.packages.len(), 15);
    assert_eq!(db.findings.len(), 1, "{:?}", db.findings);
    assert_eq!(db.findings[0].line, 23);
    assert!(
        db.findings[0]
            .message
            .contains("\"invalidPackageWithoutAVersion\" has no version (V:)"),
        "{:?}",
        db.findings
    );

    let bytes = read(&fx.join("installed-db/apk/corrupt.installed"));
    let db = parse_installed("corrupt", &bytes).unwrap();
    assert_eq!(db.findings[0].line, 1);
    assert!(db.findings[0].message.contains("this is a corrupt db"));
    assert!(
        db.findings
            .iter()
            .any(|f| f.message.contains("record skipped"))
    );
    // The well-formed record after the garbage is still read.
    assert_eq!(db.packages.len(), 1);
    assert_eq!(db.packages[0].name, "alpine-baselayout-data");
    assert_eq!(db.packages[0].dirs[0].files.len(), 14);
}

fn record_from_apk(path: &Path) -> (InstalledPackage, String) {
    let bytes = read(path);
    let apk = ApkPackage::open(&path.display().to_string(), &bytes).unwrap();
    let mut dirs = DirsBuilder::new();
    apk.for_each_data_entry(|e| {
        dirs.add(&e);
        Ok::<(), Error>(())
    })
    .unwrap();
    let pkg = InstalledPackage::from_pkginfo(
        apk.pkginfo(),
        &apk.control_checksum_q1(),
        apk.file_size(),
        dirs.finish(),
    );
    let text = installed_db_entry(&pkg);
    (pkg, text)
}

#[test]
fn record_from_real_apk_has_apk_tools_shape() {
    let Some(fx) = fixtures() else { return };
    let (pkg, text) = record_from_apk(
        &fx.join("apk/alpine-real/v3.16-main-aarch64/alpine-baselayout-3.2.0-r23.apk"),
    );
    let head = "C:Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=\nP:alpine-baselayout\nV:3.2.0-r23\nA:aarch64\n\
        S:11012\nI:339968\nT:Alpine base dir structure and init scripts\n\
        U:https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout\nL:GPL-2.0-only\n\
        o:alpine-baselayout\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1662926906\n\
        c:348653a9ba0701e8e968b3344e72313a9ef334e4\n\
        D:alpine-baselayout-data=3.2.0-r23 /bin/sh so:libc.musl-aarch64.so.1\n\
        p:cmd:mkmntdirs=3.2.0-r23\nF:dev\nF:dev/pts\nF:dev/shm\nF:etc\n";
    assert!(text.starts_with(head), "{text}");
    assert!(text.ends_with("\n\n"));
    // The same file list entries apk-tools wrote for r22 (aarch64) in the real database.
    for piece in [
        "F:etc/crontabs\nR:root\na:0:0:600\nZ:Q1vfk1apUWI4yLJGhhNRd0kJixfvY=\n",
        "F:root\nM:0:0:700\n",
        "F:sbin\nR:mkmntdirs\na:0:0:755\n",
        "F:tmp\nM:0:0:1777\n",
        "F:etc/profile.d\nR:README\nZ:Q135OWsCzzvnB2fmFx62kbqm1Ax1k=\n",
    ] {
        assert!(text.contains(piece), "missing {piece:?} in\n{text}");
    }
    let db = parse_installed("generated", text.as_bytes()).unwrap();
    assert!(db.findings.is_empty());
    assert_eq!(db.packages, vec![pkg]);
}

#[test]
fn record_from_wolfi_and_replaces_apks() {
    let Some(fx) = fixtures() else { return };
    let (_, text) = record_from_apk(&fx.join("apk/edge-cases/replaces-0.0.1-r0.apk"));
    assert!(text.contains("\nr:foo bar\n"), "{text}");
    // A file at the root lives in the root directory "F:".
    assert!(
        text.contains("\nF:\nR:hello\na:501:20:644\nZ:Q19XLTlvrpIGYocU+yzgD3LpTyJY8=\n"),
        "{text}"
    );
    let (pkg, text) = record_from_apk(&fx.join("apk/wolfi-real/hello-wolfi-2.12-r1.apk"));
    assert!(
        text.contains("\nF:usr/bin\nR:hello\na:0:0:755\nZ:Q19knoIAT82b4MpNPTlnRFnHlopTc=\n"),
        "{text}"
    );
    let db = parse_installed("generated", text.as_bytes()).unwrap();
    assert_eq!(db.packages, vec![pkg]);
}
