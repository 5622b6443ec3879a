//! Property tests: arbitrary and mutated bytes never panic the `.apk` reader, `.PKGINFO` or
//! installed-database parsers; a mutated real package is never accepted; written installed
//! databases read back to the same records.

use std::path::PathBuf;

use proptest::prelude::*;
use whittle_apk::package::installed::{
    Acl, InstalledDir, InstalledFile, InstalledPackage, installed_db, parse_installed,
};
use whittle_apk::package::{ApkPackage, Error, parse_pkginfo};
use whittle_apk::sign::Keyring;

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|d| d.join("apk"))
}

/// Opens, verifies and streams; true only if every step succeeds.
fn accepted(bytes: &[u8], keys: &Keyring, index_c: Option<&str>) -> bool {
    let Ok(apk) = ApkPackage::open("fuzz.apk", bytes) else {
        return false;
    };
    let _ = apk.pkginfo();
    let _ = apk.control_checksum_q1();
    if apk.verify(keys, index_c).is_err() {
        return false;
    }
    apk.for_each_data_entry(|e| {
        let _ = e.apk_sha1();
        Ok::<(), Error>(())
    })
    .is_ok()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(!accepted(&bytes, &Keyring::new(), None));
    }

    #[test]
    fn gzipped_garbage_never_panics(
        a in proptest::collection::vec(any::<u8>(), 0..1536),
        b in proptest::collection::vec(any::<u8>(), 0..1536),
    ) {
        let mut bytes = gzip(&a);
        bytes.extend(gzip(&b));
        let apk = ApkPackage::open("g.apk", &bytes);
        if let Ok(apk) = apk {
            let _ = apk.verify_datahash();
            let _ = apk.for_each_data_entry(|_| Ok::<(), Error>(()));
        }
    }

    #[test]
    fn pkginfo_never_panics(text in "(\\PC{0,40}( = \\PC{0,20})?\n){0,20}") {
        let _ = parse_pkginfo("fuzz", &text);
    }

    #[test]
    fn installed_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let db = parse_installed("fuzz", &bytes).unwrap();
        // Whatever was read writes and reads back to the same records.
        let again = parse_installed("again", installed_db(&db.packages).as_bytes()).unwrap();
        prop_assert_eq!(again.packages.len(), db.packages.len());
    }

    #[test]
    fn installed_text_lines_never_panic(text in "([A-Za-z]:[ -~]{0,12}\n?|\n){0,40}") {
        let _ = parse_installed("fuzz", text.as_bytes()).unwrap();
    }

    #[test]
    fn installed_round_trips(pkgs in proptest::collection::vec(package(), 1..4)) {
        let text = installed_db(&pkgs);
        let db = parse_installed("rt", text.as_bytes()).unwrap();
        prop_assert!(db.findings.is_empty(), "{:?}", db.findings);
        prop_assert_eq!(&db.packages, &pkgs);
        prop_assert_eq!(installed_db(&db.packages), text);
    }
}

fn value() -> impl Strategy<Value = String> {
    "[ -~]{0,16}"
}

fn word() -> impl Strategy<Value = String> {
    "[a-z0-9:.=<>!_+-]{1,12}".prop_filter("not []", |s| s != "[]")
}

fn acl() -> impl Strategy<Value = Option<Acl>> {
    proptest::option::of(
        (
            any::<u32>(),
            any::<u32>(),
            0u32..0o10000,
            proptest::option::of("Q1[A-Za-z0-9+/]{4}="),
        )
            .prop_map(|(uid, gid, mode, x)| Acl {
                uid,
                gid,
                mode,
                xattr_checksum: x,
            }),
    )
}

fn file() -> impl Strategy<Value = InstalledFile> {
    (
        "[a-zA-Z0-9._-]{1,12}",
        acl(),
        proptest::option::of("Q1[A-Za-z0-9+/]{27}="),
    )
        .prop_map(|(name, acl, checksum)| InstalledFile {
            name,
            acl,
            checksum,
        })
}

fn dir() -> impl Strategy<Value = InstalledDir> {
    (
        "([a-z0-9._-]{1,8}(/[a-z0-9._-]{1,8}){0,3})?",
        acl(),
        proptest::collection::vec(file(), 0..4),
    )
        .prop_map(|(path, acl, files)| InstalledDir { path, acl, files })
}

prop_compose! {
    fn package()(
        checksum in "Q1[A-Za-z0-9+/]{27}=",
        name in "[a-z0-9._+-]{1,16}",
        version in "[0-9][a-z0-9._-]{0,10}",
        arch in proptest::option::of("[a-z0-9_]{1,8}"),
        size in any::<u64>(),
        installed_size in any::<u64>(),
        (description, url, license) in (value(), value(), value()),
        origin in proptest::option::of(value()),
        maintainer in proptest::option::of(value()),
        build_time in proptest::option::of(any::<u64>()),
        commit in proptest::option::of("[0-9a-f]{0,40}"),
        provider_priority in proptest::option::of(any::<u64>()),
        depends in proptest::collection::vec(word(), 0..4),
        provides in proptest::collection::vec(word(), 0..4),
        install_if in proptest::collection::vec(word(), 0..3),
        replaces in proptest::collection::vec(word(), 0..3),
        replaces_priority in proptest::option::of(any::<u64>()),
        repository_tag in proptest::option::of("[a-z]{1,8}"),
        extra in proptest::collection::vec(("[bdefghjlnuvwxyz]", value()), 0..2),
        dirs in proptest::collection::vec(dir(), 0..4),
    ) -> InstalledPackage {
        InstalledPackage {
            checksum, name, version, arch, size, installed_size, description, url, license,
            origin, maintainer, build_time, commit, provider_priority, depends, provides,
            install_if, replaces, replaces_priority, repository_tag,
            extra: extra.into_iter().map(|(k, v)| (k.chars().next().unwrap_or('x'), v)).collect(),
            dirs,
        }
    }
}

#[test]
fn mutated_real_package_is_never_accepted() {
    let Some(fx) = fixtures() else { return };
    let keys = Keyring::from_dir(&fx.join("e2e-melange-rsa256/keys")).unwrap();
    let bytes = std::fs::read(fx.join("e2e-melange-rsa256/x86_64/pretend-baselayout-1.0.0-r0.apk"))
        .unwrap();
    assert!(accepted(&bytes, &keys, None));
    let sig_len = 647;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    let len = bytes.len();
    runner
        .run(
            &(0..len, 1u8..=255, 0usize..3, any::<u8>()),
            |(pos, xor, how, ins)| {
                let mut t = bytes.clone();
                match how {
                    0 => t[pos] ^= xor,
                    1 => t.truncate(pos),
                    _ => t.insert(pos, ins),
                }
                // Only the unsigned gzip header fields of the signature stream may change.
                let harmless = how == 0 && (3..10).contains(&pos) && pos < sig_len;
                if !harmless {
                    prop_assert!(
                        !accepted(&t, &keys, None),
                        "mutation {how} at {pos} accepted"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}
