//! Signing and verifying a freshly built index: both signature kinds, several signatures.

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use whittle_apk::index::{IndexError, verify_index};
use whittle_apk::sign::{Keyring, SigKind, SigningKey, signature_member_name};

fn tar_gz(members: &[(&str, &[u8])], finish: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    let tar = if finish {
        b.into_inner().unwrap()
    } else {
        // apk's signature streams carry no end-of-archive blocks.
        b.get_ref().clone()
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn signed_index_round_trip() {
    let key = SigningKey::generate(2048)
        .unwrap()
        .with_name("me-1.rsa.pub");
    let other = SigningKey::generate(2048)
        .unwrap()
        .with_name("other.rsa.pub");
    let text = b"C:Q1iZ+C2JJdBlm2KKtAOkSkM7zZegY=\nP:hello\nV:1.0-r0\nA:x86_64\nS:1\nI:2\nT:hi\n\n";
    let index = tar_gz(&[("DESCRIPTION", b"test"), ("APKINDEX", text)], true);

    let mut ring = Keyring::new();
    ring.insert(key.name(), key.public_key());

    for kind in [SigKind::Sha1, SigKind::Sha256] {
        let sig = key.sign(kind, &index).unwrap();
        let name = signature_member_name(kind, key.name());
        let mut file = tar_gz(&[(&name, &sig)], false);
        file.extend_from_slice(&index);
        let idx = verify_index("t", &file, &ring).unwrap();
        assert_eq!(idx.description, "test");
        assert_eq!(idx.entries[0].name, "hello");
        assert_eq!(idx.verified_by.unwrap().kind, kind);
    }

    // An untrusted signature first, then a bad one by the trusted key, then a good one.
    let s_other = other.sign(SigKind::Sha256, &index).unwrap();
    let s_bad = key.sign(SigKind::Sha256, b"something else").unwrap();
    let s_good = key.sign(SigKind::Sha1, &index).unwrap();
    let n1 = signature_member_name(SigKind::Sha256, other.name());
    let n2 = signature_member_name(SigKind::Sha256, key.name());
    let n3 = signature_member_name(SigKind::Sha1, key.name());
    let mut file = tar_gz(&[(&n1, &s_other), (&n2, &s_bad), (&n3, &s_good)], false);
    file.extend_from_slice(&index);
    let idx = verify_index("t", &file, &ring).unwrap();
    assert_eq!(idx.verified_by.unwrap().kind, SigKind::Sha1);

    // Only the bad one by a trusted key: BadSignature naming it.
    let mut file = tar_gz(&[(&n1, &s_other), (&n2, &s_bad)], false);
    file.extend_from_slice(&index);
    match verify_index("t", &file, &ring).unwrap_err() {
        IndexError::BadSignature { keys, .. } => assert_eq!(keys, vec!["me-1.rsa.pub"]),
        e => panic!("expected BadSignature, got {e}"),
    }

    // Only the untrusted one: UntrustedKey naming it and the trusted ones.
    let mut file = tar_gz(&[(&n1, &s_other)], false);
    file.extend_from_slice(&index);
    let e = verify_index("t", &file, &ring).unwrap_err();
    assert!(matches!(e, IndexError::UntrustedKey { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("other.rsa.pub") && msg.contains("me-1.rsa.pub"),
        "{msg}"
    );
}
