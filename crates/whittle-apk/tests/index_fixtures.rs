//! `APKINDEX.tar.gz` verification and parsing over the real indexes in `shared/fixtures/apk`.

use std::path::{Path, PathBuf};

use whittle_apk::index::{IndexError, parse_index_unverified, split_index, verify_index};
use whittle_apk::sign::{Keyring, PublicKey, SigKind};
use whittle_apk::version::Version;

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|d| d.join("apk"))
}

fn read(apk: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(apk.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn keys(apk: &Path, rel: &str) -> Keyring {
    Keyring::from_dir(&apk.join(rel)).unwrap()
}

#[test]
fn alpine_316_x86_64_verifies_and_parses() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "alpine-real/v3.16-main-x86_64/APKINDEX.tar.gz");
    let ring = keys(&apk, "alpine-real/keys");
    assert_eq!(ring.len(), 9);
    let idx = verify_index("v3.16", &bytes, &ring).unwrap();
    let by = idx.verified_by.as_ref().unwrap();
    assert_eq!(by.kind, SigKind::Sha1);
    assert_eq!(
        by.keyname,
        "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
    );
    assert_eq!(idx.description, "v3.16.3-13-g4d933a1fa3");
    assert_eq!(idx.entries.len(), 4929);

    let bb = idx.entries.iter().find(|e| e.name == "busybox").unwrap();
    assert_eq!(bb.version.as_str(), "1.35.0-r17");
    assert_eq!(bb.version, "1.35.0-r17".parse::<Version>().unwrap());
    assert_eq!(
        bb.checksum.unwrap().to_string(),
        "Q1iZ+C2JJdBlm2KKtAOkSkM7zZegY="
    );
    assert_eq!(bb.arch, "x86_64");
    assert_eq!(bb.size, 507831);
    assert_eq!(bb.installed_size, 962560);
    assert_eq!(bb.license, "GPL-2.0-only");
    assert_eq!(bb.origin, "busybox");
    assert_eq!(bb.build_time, Some(1659366884));
    assert_eq!(bb.commit, "2bf6ec48e526113f87216683cd341a78af5f0b3f");
    assert_eq!(
        bb.maintainer,
        "Sören Tempel <soeren+alpine@soeren-tempel.net>"
    );
    assert_eq!(bb.depends.len(), 1);
    assert_eq!(bb.depends[0].to_string(), "so:libc.musl-x86_64.so.1");
    let provides: Vec<String> = bb.provides.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        provides,
        ["/bin/sh", "cmd:busybox=1.35.0-r17", "cmd:sh=1.35.0-r17"]
    );
    assert_eq!(bb.filename(), "busybox-1.35.0-r17.apk");

    // Every record has the fields real Alpine indexes always carry.
    for e in &idx.entries {
        assert!(e.checksum.is_some(), "{} has no C:", e.name);
        assert_eq!(e.arch, "x86_64");
    }
    // Atoms apk-tools 3 calls invalid (2.x accepted `6.8.0p2`) are kept and marked broken.
    let rtmp = idx
        .entries
        .iter()
        .find(|e| e.provides.iter().any(|p| p.name == "pc:librtmp"))
        .unwrap();
    let p = rtmp
        .provides
        .iter()
        .find(|p| p.name == "pc:librtmp")
        .unwrap();
    assert!(p.broken);
    assert_eq!(p.to_string(), "pc:librtmp=v2.4");
    let smtpd = idx.entries.iter().find(|e| e.name == "opensmtpd").unwrap();
    assert_eq!(smtpd.version.as_str(), "6.8.0p2-r4");
    assert!(!smtpd.version.is_valid());
    let doc = idx
        .entries
        .iter()
        .find(|e| e.depends.iter().any(|d| d.name == "opensmtpd"))
        .unwrap();
    let dep = doc.depends.iter().find(|d| d.name == "opensmtpd").unwrap();
    assert!(dep.broken && dep.version_matches(&smtpd.version));
    assert_eq!(
        idx.entries
            .iter()
            .filter(|e| e.provider_priority.is_some())
            .count(),
        72
    );
    assert_eq!(
        idx.entries
            .iter()
            .filter(|e| !e.install_if.is_empty())
            .count(),
        1538
    );
}

#[test]
fn alpine_317_aarch64_verifies() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "alpine-real/v3.17-main-aarch64/APKINDEX.tar.gz");
    let idx = verify_index("v3.17", &bytes, &keys(&apk, "alpine-real/keys")).unwrap();
    assert_eq!(
        idx.verified_by.unwrap().keyname,
        "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"
    );
    assert_eq!(idx.entries.len(), 5004);
    assert!(idx.entries.iter().all(|e| e.arch == "aarch64"));
}

#[test]
fn wolfi_index_verifies() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "wolfi-real/x86_64/APKINDEX.tar.gz");
    let idx = verify_index("wolfi", &bytes, &keys(&apk, "wolfi-real/keys")).unwrap();
    assert_eq!(idx.entries.len(), 47);
    assert_eq!(idx.verified_by.unwrap().keyname, "wolfi-signing.rsa.pub");
}

#[test]
fn chainguard_three_signatures_one_trusted_is_enough() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "chainguard-multisig/APKINDEX.tar.gz");
    let split = split_index("cg", &bytes).unwrap();
    assert_eq!(split.signatures.len(), 3);
    assert!(split.signatures.iter().all(|s| s.kind == SigKind::Sha256));

    let all = keys(&apk, "chainguard-multisig/keys");
    assert_eq!(all.len(), 3);
    for name in all.names() {
        let mut one = Keyring::new();
        one.insert(name, all.get(name).unwrap().clone());
        let idx = verify_index("cg", &bytes, &one).unwrap();
        assert_eq!(idx.verified_by.unwrap().keyname, name);
        assert_eq!(idx.entries.len(), 16);
    }

    let err = verify_index("cg", &bytes, &Keyring::new()).unwrap_err();
    match &err {
        IndexError::UntrustedKey { found, trusted, .. } => {
            assert_eq!(found.len(), 3);
            assert!(trusted.is_empty());
        }
        other => panic!("expected UntrustedKey, got {other}"),
    }
    assert!(err.to_string().contains("chainguard-0106f58b"), "{err}");
}

#[test]
fn melange_and_private_repositories() {
    let Some(apk) = fixtures() else { return };
    for (dir, kind, key, n) in [
        ("e2e-melange-rsa256", SigKind::Sha256, "melange.rsa.pub", 4),
        (
            "e2e-private-rsa-sha1",
            SigKind::Sha1,
            "private_pkg_key.rsa.pub",
            2,
        ),
    ] {
        let ring = keys(&apk, &format!("{dir}/keys"));
        for arch in ["x86_64", "aarch64"] {
            let bytes = read(&apk, &format!("{dir}/{arch}/APKINDEX.tar.gz"));
            let idx = verify_index(dir, &bytes, &ring).unwrap();
            let by = idx.verified_by.unwrap();
            assert_eq!((by.kind, by.keyname.as_str()), (kind, key));
            assert_eq!(idx.entries.len(), n, "{dir}/{arch}");
            assert!(idx.entries.iter().all(|e| e.arch == arch));
        }
    }
}

#[test]
fn rsa256_index_lists_real_alpine_package() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "e2e-rsa256-real-alpine-apk/APKINDEX.tar.gz");
    let mut ring = Keyring::new();
    ring.add_file(&apk.join("e2e-rsa256-real-alpine-apk/keys/test-rsa256.rsa.pub"))
        .unwrap();
    let idx = verify_index("rsa256", &bytes, &ring).unwrap();
    assert_eq!(idx.verified_by.unwrap().kind, SigKind::Sha256);
    let e = &idx.entries[0];
    assert_eq!(
        (e.name.as_str(), e.version.as_str(), e.arch.as_str(), e.size),
        ("alpine-baselayout", "3.2.0-r23", "aarch64", 11012)
    );
    assert_eq!(
        e.checksum.unwrap().to_string(),
        "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc="
    );
}

#[test]
fn unsigned_index_refused_but_readable_in_insecure_mode() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "edge-cases/APKINDEX-unsigned.tar.gz");
    let ring = keys(&apk, "alpine-real/keys");
    let err = verify_index("unsigned", &bytes, &ring).unwrap_err();
    assert!(matches!(err, IndexError::Unsigned { .. }), "{err}");
    assert!(err.to_string().contains("not signed"), "{err}");
    let idx = parse_index_unverified("unsigned", &bytes).unwrap();
    assert_eq!(idx.entries.len(), 3);
    assert!(idx.verified_by.is_none());
}

#[test]
fn signature_member_last_signs_nothing() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "edge-cases/APKINDEX-signature-member-last.tar.gz");
    let mut ring = keys(&apk, "alpine-real/keys");
    // Even trusting a key of that name changes nothing: the signature is inside the index stream.
    let any = ring
        .get("alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub")
        .unwrap()
        .clone();
    ring.insert("main@tainer.com-abcdef12.rsa.pub", any);
    let err = verify_index("sig-last", &bytes, &ring).unwrap_err();
    match &err {
        IndexError::Unsigned { detail, .. } => {
            assert!(
                detail.contains(".SIGN.RSA.main@tainer.com-abcdef12.rsa.pub"),
                "{err}"
            )
        }
        other => panic!("expected Unsigned, got {other}"),
    }
    let idx = parse_index_unverified("sig-last", &bytes).unwrap();
    assert_eq!(idx.entries.len(), 2);
}

#[test]
fn missing_key_is_named() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "alpine-real/v3.16-main-x86_64/APKINDEX.tar.gz");
    let mut ring = Keyring::new();
    ring.add_file(
        &apk.join("alpine-real/keys/alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"),
    )
    .unwrap();
    let err = verify_index("v3.16", &bytes, &ring).unwrap_err();
    assert!(matches!(err, IndexError::UntrustedKey { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("6165ee59"), "{msg}");
    assert!(msg.contains("616ae350"), "{msg}");
}

#[test]
fn wrong_key_under_the_right_name_is_a_bad_signature() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "alpine-real/v3.16-main-x86_64/APKINDEX.tar.gz");
    let pem = read(
        &apk,
        "alpine-real/keys/alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub",
    );
    let mut ring = Keyring::new();
    ring.insert(
        "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub",
        PublicKey::from_pem("impostor", &pem).unwrap(),
    );
    let err = verify_index("v3.16", &bytes, &ring).unwrap_err();
    assert!(matches!(err, IndexError::BadSignature { .. }), "{err}");
}

/// Flipping any byte of the index stream makes a signed index refused. In the *signature* stream
/// (which APK v2 cannot sign) a flip is either refused (gzip CRC, bad signature) or inert: gzip
/// header metadata (FTEXT, MTIME, XFL, OS) or a deflate bit that decodes to identical bytes. For
/// those the decompressed signatures must be unchanged (apk-tools accepts them too).
#[test]
fn any_flipped_byte_is_refused() {
    let Some(apk) = fixtures() else { return };
    for (rel, keydir) in [
        (
            "e2e-private-rsa-sha1/x86_64/APKINDEX.tar.gz",
            "e2e-private-rsa-sha1/keys",
        ),
        (
            "e2e-melange-rsa256/x86_64/APKINDEX.tar.gz",
            "e2e-melange-rsa256/keys",
        ),
    ] {
        let bytes = read(&apk, rel);
        let ring = keys(&apk, keydir);
        let original = verify_index(rel, &bytes, &ring).unwrap();
        let split = split_index(rel, &bytes).unwrap();
        let mut refused = 0;
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            match verify_index(rel, &b, &ring) {
                Err(_) => refused += 1,
                Ok(idx) => {
                    assert!(
                        i < split.index_offset,
                        "{rel}: flip at {i} in the index stream accepted"
                    );
                    assert_eq!(idx.entries, original.entries);
                    let s2 = split_index(rel, &b).unwrap();
                    assert_eq!(s2.signatures, split.signatures, "{rel}: flip at {i}");
                    assert_eq!(s2.index_stream, split.index_stream);
                }
            }
        }
        assert!(
            refused > bytes.len() - 20,
            "{rel}: only {refused} flips refused"
        );
    }
}

#[test]
fn flipped_byte_in_large_real_index_is_refused() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "alpine-real/v3.16-main-x86_64/APKINDEX.tar.gz");
    let ring = keys(&apk, "alpine-real/keys");
    let start = split_index("v3.16", &bytes).unwrap().index_offset;
    for pos in [
        start,
        start + 5,
        start + 1000,
        bytes.len() / 2,
        bytes.len() - 9,
        bytes.len() - 1,
    ] {
        let mut b = bytes.clone();
        b[pos] ^= 0x80;
        assert!(
            verify_index("v3.16", &b, &ring).is_err(),
            "flip at {pos} accepted"
        );
    }
    // A flipped bit in the signature value itself.
    let mut b = bytes.clone();
    b[300] ^= 0x01;
    assert!(verify_index("v3.16", &b, &ring).is_err());
}

#[test]
fn truncated_or_extended_files_are_refused() {
    let Some(apk) = fixtures() else { return };
    let bytes = read(&apk, "wolfi-real/x86_64/APKINDEX.tar.gz");
    let ring = keys(&apk, "wolfi-real/keys");
    let split = split_index("w", &bytes).unwrap();
    let only_sig = &bytes[..split.index_offset];
    assert!(matches!(
        verify_index("w", only_sig, &ring),
        Err(IndexError::MissingIndexStream { .. })
    ));
    assert!(matches!(
        verify_index("w", &bytes[..bytes.len() - 20], &ring),
        Err(IndexError::Gzip { .. })
    ));
    let mut extended = bytes.clone();
    extended.extend_from_slice(&bytes[split.index_offset..]);
    assert!(matches!(
        verify_index("w", &extended, &ring),
        Err(IndexError::Trailing { .. })
    ));
    assert!(verify_index("w", b"", &ring).is_err());
    assert!(verify_index("w", b"not gzip at all", &ring).is_err());
}
