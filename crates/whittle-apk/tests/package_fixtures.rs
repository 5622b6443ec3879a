//! Real `.apk` files from `shared/fixtures/apk`: signatures, index `C:`/`S:`, `datahash`, data
//! streams, edge cases and tampering.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use whittle_apk::package::{ApkPackage, EntryKind, Error, q1};
use whittle_apk::sign::{Keyring, SigKind};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|d| d.join("apk"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn keyring(dir: &Path) -> Keyring {
    Keyring::from_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Minimal APKINDEX reader (independent of the index module): name-version → (C:, S:).
fn index_entries(path: &Path) -> HashMap<String, (String, u64)> {
    let bytes = read(path);
    let mut tar = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut text = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("APKINDEX") {
            entry.read_to_string(&mut text).unwrap();
        }
    }
    assert!(!text.is_empty(), "{}: no APKINDEX member", path.display());
    let mut out = HashMap::new();
    for record in text.split("\n\n") {
        let field = |k: &str| {
            record
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::to_string)
        };
        if let (Some(c), Some(p), Some(v), Some(s)) =
            (field("C:"), field("P:"), field("V:"), field("S:"))
        {
            out.insert(format!("{p}-{v}"), (c, s.parse().unwrap()));
        }
    }
    out
}

#[test]
fn real_alpine_baselayout_verifies_with_alpine_key() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("alpine-real/v3.16-main-aarch64/alpine-baselayout-3.2.0-r23.apk"));
    let apk = ApkPackage::open("alpine-baselayout-3.2.0-r23.apk", &bytes).unwrap();
    let keys = keyring(&fx.join("alpine-real/keys"));
    let by = apk.verify_signature(&keys).unwrap();
    assert_eq!(by.kind, SigKind::Sha1);
    assert_eq!(
        by.name,
        "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"
    );
    assert_eq!(apk.control_checksum_q1(), "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=");
    assert_eq!(apk.file_size(), 11012);
    assert!(apk.verify_datahash().unwrap());

    // The RSA256-signed test index lists exactly this package with the same C: and S:.
    let idx = index_entries(&fx.join("e2e-rsa256-real-alpine-apk/APKINDEX.tar.gz"));
    let (c, s) = &idx["alpine-baselayout-3.2.0-r23"];
    assert_eq!(c, "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=");
    assert_eq!(*s, 11012);
    let v = apk.verify(&keys, Some(c)).unwrap();
    assert!(v.index_checksum && v.datahash && v.signed_by.is_some());

    let info = apk.pkginfo();
    assert_eq!(info.pkgname, "alpine-baselayout");
    assert_eq!(info.pkgver, "3.2.0-r23");
    assert_eq!(info.arch.as_deref(), Some("aarch64"));
    assert_eq!(info.size, Some(339968));
    assert_eq!(info.builddate, Some(1662926906));
    assert_eq!(info.license.as_deref(), Some("GPL-2.0-only"));
    assert_eq!(
        info.depend,
        vec![
            "alpine-baselayout-data=3.2.0-r23",
            "/bin/sh",
            "so:libc.musl-aarch64.so.1"
        ]
    );
    assert_eq!(info.provides, vec!["cmd:mkmntdirs=3.2.0-r23"]);
    let scripts: Vec<&str> = apk.scripts().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        scripts,
        vec![
            ".pre-install",
            ".pre-upgrade",
            ".post-upgrade",
            ".post-install"
        ]
    );
    assert!(
        apk.scripts()[0].content.starts_with(b"#!"),
        "script content kept"
    );

    // Data stream: real entries with modes, checksums checked on the way.
    let mut seen = HashMap::new();
    apk.for_each_data_entry(|e| {
        seen.insert(
            e.path.to_string(),
            (
                e.kind == EntryKind::Dir,
                e.mode,
                e.data.len(),
                e.pax_sha1.is_some(),
            ),
        );
        Ok::<(), Error>(())
    })
    .unwrap();
    assert_eq!(seen["etc/crontabs/root"], (false, 0o600, 283, true));
    assert_eq!(seen["etc"], (true, 0o755, 0, false));
    assert!(seen.contains_key("dev/pts"));
}

fn check_signed_repo(repo: &Path, kind: SigKind, keyname: &str, expected_count: usize) {
    let keys = keyring(&repo.join("keys"));
    let mut count = 0;
    for arch in ["x86_64", "aarch64"] {
        let idx = index_entries(&repo.join(arch).join("APKINDEX.tar.gz"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo.join(arch))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "apk"))
            .collect();
        files.sort();
        for path in files {
            let bytes = read(&path);
            let apk = ApkPackage::open(&path.display().to_string(), &bytes).unwrap();
            let by = apk.verify_signature(&keys).unwrap();
            assert_eq!((by.kind, by.name.as_str()), (kind, keyname));
            let key = format!("{}-{}", apk.name(), apk.version());
            let (c, s) = idx
                .get(&key)
                .unwrap_or_else(|| panic!("{key} not in {arch} index"));
            assert_eq!(&apk.control_checksum_q1(), c, "{}", path.display());
            assert_eq!(apk.file_size(), *s, "{}", path.display());
            assert_eq!(apk.pkginfo().arch.as_deref(), Some(arch));
            let v = apk.verify(&keys, Some(c)).unwrap();
            assert!(v.datahash, "{} has a datahash", path.display());
            // Every file's PAX checksum is checked while streaming.
            let mut files = 0;
            apk.for_each_data_entry(|e| {
                if e.kind == EntryKind::File {
                    assert!(e.pax_sha1.is_some(), "{}", e.path);
                    files += 1;
                }
                Ok::<(), Error>(())
            })
            .unwrap();
            assert!(files > 0);
            count += 1;
        }
    }
    assert_eq!(count, expected_count);
}

#[test]
fn melange_rsa256_packages_verify() {
    let Some(fx) = fixtures() else { return };
    check_signed_repo(
        &fx.join("e2e-melange-rsa256"),
        SigKind::Sha256,
        "melange.rsa.pub",
        8,
    );
}

#[test]
fn private_rsa_sha1_packages_verify() {
    let Some(fx) = fixtures() else { return };
    check_signed_repo(
        &fx.join("e2e-private-rsa-sha1"),
        SigKind::Sha1,
        "private_pkg_key.rsa.pub",
        4,
    );
}

#[test]
fn hello_wolfi_verifies_and_streams() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("wolfi-real/hello-wolfi-2.12-r1.apk"));
    let apk = ApkPackage::open("hello-wolfi-2.12-r1.apk", &bytes).unwrap();
    let keys = keyring(&fx.join("wolfi-real/keys"));
    let v = apk.verify(&keys, None).unwrap();
    assert_eq!(v.signed_by.unwrap().name, "wolfi-signing.rsa.pub");
    assert!(v.datahash);
    // Values computed independently (Python zlib + hashlib) from the file.
    assert_eq!(apk.control_checksum_q1(), "Q1tfjaxtgIGRBjOYGl6Pq3/hm8V2o=");
    assert_eq!(apk.pkginfo().provides, vec!["cmd:hello=2.12-r1"]);
    assert_eq!(apk.pkginfo().license.as_deref(), Some("GPL-3.0-or-later"));
    assert!(apk.scripts().is_empty());
    let mut hello = None;
    apk.for_each_data_entry(|e| {
        if e.path == "usr/bin/hello" {
            hello = Some((e.mode, e.data.len(), e.data.starts_with(b"\x7fELF")));
        }
        Ok::<(), Error>(())
    })
    .unwrap();
    assert_eq!(hello, Some((0o755, 67560, true)));
    // a decompressed copy of the data stream (data_reader) walks to the same entries
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut apk.data_reader(), &mut tar).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    apk.for_each_data_entry(|e| {
        a.push(e.path.to_string());
        Ok::<(), Error>(())
    })
    .unwrap();
    apk.for_each_entry_of(tar.as_slice(), |e| {
        b.push(e.path.to_string());
        Ok::<(), Error>(())
    })
    .unwrap();
    assert_eq!(a, b);
    assert!(a.len() > 10);
}

#[test]
fn unsigned_two_segment_apk_valid_only_via_index_checksum() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("edge-cases/hello-0.1.0-r0-unsigned-2-segment.apk"));
    let apk = ApkPackage::open("hello-0.1.0-r0.apk", &bytes).unwrap();
    assert!(!apk.is_signed());
    assert_eq!(apk.name(), "hello");
    assert_eq!(apk.pkginfo().depend, vec!["busybox"]);
    let keys = keyring(&fx.join("wolfi-real/keys"));
    let err = apk.verify(&keys, None).unwrap_err();
    assert!(matches!(err, Error::Unsigned { .. }), "{err}");
    assert!(err.to_string().contains("unsigned"));
    // C: computed independently with Python's zlib.
    let c = "Q1DNWZeWkviN7MJedLpYM8yBvmnGM=";
    assert_eq!(apk.control_checksum_q1(), c);
    let v = apk.verify(&keys, Some(c)).unwrap();
    assert!(v.index_checksum && v.datahash && v.signed_by.is_none());
    let err = apk
        .verify(&keys, Some("Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc="))
        .unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    let mut paths = Vec::new();
    apk.for_each_data_entry(|e| {
        paths.push((e.path.to_string(), e.data.to_vec()));
        Ok::<(), Error>(())
    })
    .unwrap();
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0].0, "hello");
    assert_eq!(paths[0].1.len(), 21);
}

#[test]
fn package_signed_by_missing_key_is_refused() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("edge-cases/hello-wolfi-2.12.1-r0-key-not-included.apk"));
    let apk = ApkPackage::open("hello-wolfi-2.12.1-r0.apk", &bytes).unwrap();
    assert_eq!(apk.signatures()[0].keyname, "melange.rsa.pub");
    // Not in the keyring at all: untrusted.
    let err = apk
        .verify(&keyring(&fx.join("wolfi-real/keys")), None)
        .unwrap_err();
    assert!(matches!(err, Error::UntrustedKey { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("melange.rsa.pub") && msg.contains("wolfi-signing.rsa.pub"),
        "{msg}"
    );
    // Another key that happens to have the same file name: the signature does not verify.
    let err = apk
        .verify(&keyring(&fx.join("e2e-melange-rsa256/keys")), None)
        .unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    // Its datahash is still right.
    assert!(apk.verify_datahash().unwrap());
}

#[test]
fn replaces_are_lists() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("edge-cases/replaces-0.0.1-r0.apk"));
    let apk = ApkPackage::open("replaces-0.0.1-r0.apk", &bytes).unwrap();
    assert!(!apk.is_signed());
    assert_eq!(apk.pkginfo().replaces, vec!["foo", "bar"]);
    assert_eq!(apk.pkginfo().url.as_deref(), Some(""));
    assert_eq!(apk.control_checksum_q1(), "Q1fHE4AsjeXVD+2kHg7AHvGDN+FPg=");
    assert!(apk.verify_datahash().unwrap());
    let mut n = 0;
    apk.for_each_data_entry(|e| {
        if e.kind == EntryKind::File {
            // PAX checksum present and equal to our own SHA-1 of the content.
            assert_eq!(e.apk_sha1(), e.pax_sha1);
            assert!(q1(&e.apk_sha1().unwrap()).starts_with("Q1"));
            n += 1;
        }
        Ok::<(), Error>(())
    })
    .unwrap();
    assert_eq!(n, 2);
}

/// Full check a consumer does: open, verify (signature or index C:), stream the data.
fn accepted(bytes: &[u8], keys: &Keyring, index_c: Option<&str>) -> bool {
    let Ok(apk) = ApkPackage::open("tampered.apk", bytes) else {
        return false;
    };
    if apk.verify(keys, index_c).is_err() {
        return false;
    }
    apk.for_each_data_entry(|_| Ok::<(), Error>(())).is_ok()
}

/// Gzip header fields FLG.FTEXT (bit 0 of byte 3), MTIME, XFL and OS (bytes 4..10) of a
/// member are covered by no checksum; in the signature stream (which nothing signs) apk-tools
/// cannot notice them changing either. Every other byte is covered.
fn uncovered(sig_end: usize, pos: usize) -> bool {
    sig_end > 0 && (3..10).contains(&pos)
}

#[test]
fn one_flipped_byte_anywhere_is_refused() {
    let Some(fx) = fixtures() else { return };
    let keys = keyring(&fx.join("alpine-real/keys"));
    let bytes = read(&fx.join("alpine-real/v3.16-main-aarch64/alpine-baselayout-3.2.0-r23.apk"));
    assert!(accepted(&bytes, &keys, None));
    let apk = ApkPackage::open("a", &bytes).unwrap();
    let sig_end = bytes.len() - apk.control_stream().len() - apk.data_stream().len();
    assert_eq!(sig_end, 666);
    let mut checked = 0;
    for pos in 0..bytes.len() {
        if uncovered(sig_end, pos) {
            continue;
        }
        // Every byte of the signature and control streams, every 3rd of the data stream.
        if pos >= 2229 && pos % 3 != 0 && pos + 16 < bytes.len() {
            continue;
        }
        let mut t = bytes.clone();
        t[pos] ^= 0x01;
        assert!(
            !accepted(&t, &keys, None),
            "flipping byte {pos} was not noticed"
        );
        checked += 1;
    }
    assert!(checked > 4000);

    // The unsigned package, trusted through its index C:, every byte.
    let bytes = read(&fx.join("edge-cases/hello-0.1.0-r0-unsigned-2-segment.apk"));
    let c = "Q1DNWZeWkviN7MJedLpYM8yBvmnGM=";
    assert!(accepted(&bytes, &keys, Some(c)));
    for pos in 0..bytes.len() {
        let mut t = bytes.clone();
        t[pos] ^= 0x80;
        assert!(!accepted(&t, &keys, Some(c)), "byte {pos}");
    }
}

#[test]
fn truncated_packages_are_errors() {
    let Some(fx) = fixtures() else { return };
    let bytes = read(&fx.join("wolfi-real/hello-wolfi-2.12-r1.apk"));
    for cut in [
        0,
        1,
        10,
        100,
        651,
        652,
        700,
        986,
        987,
        988,
        5000,
        bytes.len() - 1,
    ] {
        let t = &bytes[..cut];
        let ok = match ApkPackage::open("cut.apk", t) {
            Err(_) => false,
            Ok(apk) => {
                apk.verify_datahash().is_ok()
                    && apk.for_each_data_entry(|_| Ok::<(), Error>(())).is_ok()
            }
        };
        assert!(!ok, "cut at {cut} accepted");
    }
}
