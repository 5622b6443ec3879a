//! Packages and indexes written by whittle-pkg have the structure of the real melange-built ones
//! in ../shared/fixtures/apk/e2e-melange-rsa256, verify with whittle-apk, and are reproducible.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use whittle_apk::package::ApkPackage;
use whittle_apk::sign::{Keyring, SigKind, SigningKey};
use whittle_pkg::apk::{ApkOptions, FileEntry, PackageMeta, write_apk};
use whittle_pkg::tarw::Kind;

fn key() -> SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| {
        SigningKey::generate(2048)
            .unwrap()
            .with_name("test.rsa.pub")
    })
    .clone()
}

/// (member names, end-of-archive blocks present) of each gzip stream.
fn streams(bytes: &[u8]) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut d = flate2::bufread::GzDecoder::new(rest);
        let mut raw = Vec::new();
        d.read_to_end(&mut raw).unwrap();
        let consumed = rest.len() - d.into_inner().len();
        rest = &rest[consumed..];
        let mut names = Vec::new();
        let mut p = 0;
        let mut eoa = false;
        while p + 512 <= raw.len() {
            let h = &raw[p..p + 512];
            if h.iter().all(|&b| b == 0) {
                eoa = true;
                break;
            }
            let name = String::from_utf8_lossy(&h[..100])
                .trim_end_matches('\0')
                .to_string();
            let size = u64::from_str_radix(
                String::from_utf8_lossy(&h[124..135]).trim_matches(['\0', ' ']),
                8,
            )
            .unwrap() as usize;
            if h[156] != b'x' {
                names.push(name);
            }
            p += 512 + size.div_ceil(512) * 512;
        }
        out.push((names, eoa));
    }
    out
}

fn pkginfo_keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for l in text.lines() {
        if let Some((k, _)) = l.split_once(" = ")
            && keys.last().is_none_or(|x| x != k)
        {
            keys.push(k.to_string());
        }
    }
    keys
}

fn sample(name: &str) -> (PackageMeta, Vec<FileEntry>) {
    let meta = PackageMeta {
        name: name.into(),
        version: "1.0.0-r0".into(),
        arch: "x86_64".into(),
        description: "test package".into(),
        origin: name.into(),
        commit: Some("0".repeat(40)),
        maintainer: Some("unknown".into()),
        licenses: vec!["MIT".into()],
        depends: vec!["pretend-baselayout".into()],
        replaces: vec!["pretend-baselayout".into()],
        ..Default::default()
    };
    let entries = vec![
        FileEntry {
            path: "etc".into(),
            kind: Kind::Dir,
            mode: 0o755,
            link: String::new(),
            data: vec![],
        },
        FileEntry {
            path: "etc/os-release".into(),
            kind: Kind::File,
            mode: 0o644,
            link: String::new(),
            data: b"ID=test\n".to_vec(),
        },
        FileEntry {
            path: "etc/link".into(),
            kind: Kind::Symlink,
            mode: 0o777,
            link: "os-release".into(),
            data: vec![],
        },
    ];
    (meta, entries)
}

fn opts() -> ApkOptions {
    ApkOptions {
        control_extra: vec![(".melange.yaml".into(), b"package: {}\n".to_vec())],
        ..Default::default()
    }
}

#[test]
fn package_layout_matches_the_melange_fixture() {
    let Some(fix) = whittle_testutil::fixtures() else {
        return;
    };
    let real =
        std::fs::read(fix.join("apk/e2e-melange-rsa256/x86_64/replayout-1.0.0-r0.apk")).unwrap();
    let (meta, entries) = sample("replayout");
    let ours = write_apk(&meta, &entries, &key(), &opts()).unwrap().bytes;
    let (rs, os) = (streams(&real), streams(&ours));
    assert_eq!(rs.len(), 3);
    assert_eq!(os.len(), 3, "three gzip streams");
    assert_eq!(rs[0].0, [".SIGN.RSA256.melange.rsa.pub"]);
    assert_eq!(os[0].0, [".SIGN.RSA256.test.rsa.pub"]);
    // end-of-archive blocks only in the data stream, like melange
    assert_eq!(
        rs.iter().map(|s| s.1).collect::<Vec<_>>(),
        os.iter().map(|s| s.1).collect::<Vec<_>>()
    );
    assert_eq!(rs[1].0, os[1].0, "control members");
    let real_pkg = ApkPackage::open("real", &real).unwrap();
    let our_pkg = ApkPackage::open("ours", &ours).unwrap();
    assert_eq!(
        pkginfo_keys(real_pkg.pkginfo_text()),
        pkginfo_keys(our_pkg.pkginfo_text()),
        "same .PKGINFO fields in the same order"
    );
    // and the package verifies: signature, datahash, per-file checksums
    let mut ring = Keyring::new();
    ring.insert("test.rsa.pub", key().public_key());
    our_pkg.verify(&ring, None).unwrap();
    assert!(our_pkg.verify_datahash().unwrap());
    let mut seen = Vec::new();
    our_pkg
        .for_each_data_entry(|e| {
            seen.push((e.path.to_string(), e.pax_sha1.is_some()));
            Ok::<(), whittle_apk::package::Error>(())
        })
        .unwrap();
    assert_eq!(
        seen,
        [
            ("etc".to_string(), false),
            ("etc/os-release".to_string(), true),
            ("etc/link".to_string(), false)
        ]
    );
}

#[test]
fn packages_are_byte_reproducible_and_sha1_signing_works() {
    let (meta, entries) = sample("a");
    let one = write_apk(&meta, &entries, &key(), &opts()).unwrap();
    let two = write_apk(&meta, &entries, &key(), &opts()).unwrap();
    assert_eq!(one.bytes, two.bytes);
    let sha1 = whittle_pkg::apk::sign_apk("a", &one.bytes, &key(), SigKind::Sha1).unwrap();
    assert_eq!(streams(&sha1)[0].0, [".SIGN.RSA.test.rsa.pub"]);
    let mut ring = Keyring::new();
    ring.insert("test.rsa.pub", key().public_key());
    let p = ApkPackage::open("a", &sha1).unwrap();
    p.verify(&ring, None).unwrap();
    // re-signing keeps the control stream, hence the index checksum
    assert_eq!(
        p.control_checksum_q1(),
        ApkPackage::open("a", &one.bytes)
            .unwrap()
            .control_checksum_q1()
    );
}

#[test]
fn index_has_the_fixture_fields_and_verifies() {
    let Some(fix) = whittle_testutil::fixtures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for n in ["replayout", "other"] {
        let (meta, entries) = sample(n);
        let b = write_apk(&meta, &entries, &key(), &opts()).unwrap();
        std::fs::write(dir.path().join(b.file_name), b.bytes).unwrap();
    }
    let (bytes, n) =
        whittle_pkg::index::index_dir(dir.path(), "", &key(), SigKind::Sha256).unwrap();
    assert_eq!(n, 2);
    let mut ring = Keyring::new();
    ring.insert("test.rsa.pub", key().public_key());
    let idx = whittle_apk::index::verify_index("ours", &bytes, &ring).unwrap();
    assert_eq!(
        idx.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["other", "replayout"]
    );
    let real = std::fs::read(fix.join("apk/e2e-melange-rsa256/x86_64/APKINDEX.tar.gz")).unwrap();
    let letters = |b: &[u8], name: &str| -> Vec<char> {
        let text = index_text(b);
        let rec = text
            .split("\n\n")
            .find(|r| r.contains(&format!("P:{name}\n")))
            .unwrap()
            .to_string();
        rec.lines().filter_map(|l| l.chars().next()).collect()
    };
    assert_eq!(letters(&real, "replayout"), letters(&bytes, "replayout"));
    assert_eq!(
        streams(&real)
            .iter()
            .map(|s| s.0.clone())
            .collect::<Vec<_>>()[1],
        streams(&bytes)[1].0
    );
    // the C: and S: of our record match the package file
    let apk = std::fs::read(dir.path().join("replayout-1.0.0-r0.apk")).unwrap();
    let p = ApkPackage::open("r", &apk).unwrap();
    let e = idx.entries.iter().find(|e| e.name == "replayout").unwrap();
    assert_eq!(e.size, apk.len() as u64);
    assert_eq!(e.checksum.as_ref().unwrap().digest(), p.control_sha1());
    // re-signing an index keeps its content
    let resigned = whittle_pkg::index::sign_index("i", &bytes, &key(), SigKind::Sha1).unwrap();
    whittle_apk::index::verify_index("i", &resigned, &ring).unwrap();
}

fn index_text(bytes: &[u8]) -> String {
    let idx = whittle_apk::index::split_index("x", bytes).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(idx.index_stream));
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap() == Path::new("APKINDEX") {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return s;
        }
    }
    panic!("no APKINDEX")
}
