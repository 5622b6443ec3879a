//! InRelease verification against the real Debian fixture and generated keys.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use whittle_deb::release::{
    Error, Keyring, SigningKey, VerifyOptions, parse_date, verify_inrelease,
};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

struct Fixture {
    root: PathBuf,
    inrelease: Vec<u8>,
    keyring: Keyring,
}

fn fixture() -> Option<Fixture> {
    let root = fixtures()?.join("deb/bookworm-mini");
    let inrelease = std::fs::read(root.join("dists/bookworm/InRelease")).unwrap();
    let keyring = Keyring::from_bytes(
        "debian-archive-keyring.gpg",
        &std::fs::read(root.join("keys/debian-archive-keyring.gpg")).unwrap(),
    )
    .unwrap();
    Some(Fixture {
        root,
        inrelease,
        keyring,
    })
}

/// The day the fixture was fetched.
fn fetched() -> VerifyOptions {
    VerifyOptions::at(parse_date("Sun, 22 Nov 2026 12:00:00 UTC").unwrap())
}

#[test]
fn real_inrelease_verifies_and_lists_packages_xz() {
    let Some(fx) = fixture() else { return };
    assert!(fx.keyring.len() >= 3, "{:?}", fx.keyring.fingerprints());
    let rel = verify_inrelease("InRelease", &fx.inrelease, &fx.keyring, fetched()).unwrap();
    assert_eq!(rel.origin.as_deref(), Some("Debian"));
    assert_eq!(rel.codename.as_deref(), Some("bookworm"));
    assert_eq!(rel.suite.as_deref(), Some("oldstable"));
    assert!(rel.valid_until.is_none());
    assert!(rel.date.is_some());
    assert!(rel.acquire_by_hash);
    assert!(rel.architectures.iter().any(|a| a == "amd64"));
    assert_eq!(rel.components[0], "main");
    let packages =
        std::fs::read(fx.root.join("dists/bookworm/main/binary-amd64/Packages.xz")).unwrap();
    let entry = rel
        .find("main/binary-amd64/Packages.xz")
        .expect("Packages.xz listed");
    assert_eq!(entry.size, packages.len() as u64);
    assert_eq!(entry.sha256, hex::encode(Sha256::digest(&packages)));
    assert!(rel.files.len() > 100);
}

#[test]
fn real_inrelease_with_flipped_text_byte_is_bad_signature() {
    let Some(fx) = fixture() else { return };
    let mut bytes = fx.inrelease.clone();
    let text = String::from_utf8(bytes.clone()).unwrap();
    // Change one hex digit of the SHA256 of Packages.xz.
    let line_start = text.find(" main/binary-amd64/Packages.xz").unwrap();
    let line_begin = text[..line_start].rfind('\n').unwrap() + 2;
    bytes[line_begin] = if bytes[line_begin] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let err = verify_inrelease("InRelease", &bytes, &fx.keyring, fetched()).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("BAD signature"), "{err}");
}

/// Changes the base64 character that encodes decoded byte `offset` of the signature block.
fn flip_signature_byte(inrelease: &[u8], offset: usize) -> Vec<u8> {
    let text = std::str::from_utf8(inrelease).unwrap();
    let body = text.find("-----BEGIN PGP SIGNATURE-----").unwrap()
        + "-----BEGIN PGP SIGNATURE-----\n\n".len();
    let c = offset * 4 / 3 + 1;
    let pos = body + (c / 64) * 65 + c % 64;
    let mut bytes = inrelease.to_vec();
    assert!(bytes[pos].is_ascii_alphanumeric(), "{}", bytes[pos] as char);
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    bytes
}

/// Decoded offsets inside the signature block of one byte of each signature's value: the block
/// holds three packets, RSA-4096 (566 bytes), RSA-4096 (566 bytes), Ed25519 (119 bytes).
const SIGNATURE_VALUE_BYTES: [usize; 3] = [400, 566 + 400, 1132 + 100];

#[test]
fn real_inrelease_with_one_bad_signature_is_refused() {
    let Some(fx) = fixture() else { return };
    // The three signers: Debian 11 archive key, Debian 12 archive key, Debian 12 release key
    // (issuer fingerprints of the three signature packets, in order).
    let signers = [
        "4CB50190207B4758A3F73A796ED0E7B82643E131",
        "B8E5F13176D2A7A75220028078DBA3BC47EF2265",
        "4D64FEC119C2029067D6E791F8D2585B8783D481",
    ];
    let rel = verify_inrelease("InRelease", &fx.inrelease, &fx.keyring, fetched()).unwrap();
    assert_eq!(rel.signed_by.len(), 3, "{:?}", rel.signed_by);
    // Two good signatures do not excuse a bad one by a key of the keyring (apt refuses it too).
    for (offset, signer) in SIGNATURE_VALUE_BYTES.into_iter().zip(signers) {
        let one = flip_signature_byte(&fx.inrelease, offset);
        let err = verify_inrelease("InRelease", &one, &fx.keyring, fetched()).unwrap_err();
        let Error::BadSignature { key, .. } = &err else {
            panic!("offset {offset}: {err}")
        };
        assert_eq!(key, signer, "the damaged signature's key is named");
        assert!(err.to_string().contains("BAD signature"), "{err}");
    }
    // Damage every one of them.
    let all = SIGNATURE_VALUE_BYTES
        .iter()
        .fold(fx.inrelease.clone(), |b, &o| flip_signature_byte(&b, o));
    let err = verify_inrelease("InRelease", &all, &fx.keyring, fetched()).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
}

#[test]
fn real_inrelease_without_signature_is_refused() {
    let Some(fx) = fixture() else { return };
    let text = String::from_utf8(fx.inrelease.clone()).unwrap();
    let cut = text.find("-----BEGIN PGP SIGNATURE-----").unwrap();
    let err =
        verify_inrelease("InRelease", &text.as_bytes()[..cut], &fx.keyring, fetched()).unwrap_err();
    assert!(matches!(err, Error::MissingSignature { .. }), "{err}");
    // The plain Release text (what a Release file without .gpg is) is refused as unsigned.
    let body_start = text.find("\n\n").unwrap() + 2;
    let err = verify_inrelease(
        "Release",
        &text.as_bytes()[body_start..cut],
        &fx.keyring,
        fetched(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotSigned { .. }), "{err}");
}

#[test]
fn real_inrelease_with_foreign_keyring_is_unknown_key() {
    let Some(fx) = fixture() else { return };
    let other = SigningKey::generate("Other <other@example.invalid>").unwrap();
    let keyring = Keyring::from_bytes("other.gpg", &other.public_keyring_bytes()).unwrap();
    let err = verify_inrelease("InRelease", &fx.inrelease, &keyring, fetched()).unwrap_err();
    let Error::UnknownKey { issuers, .. } = &err else {
        panic!("{err}")
    };
    // Debian 12 archive key, Debian 11 archive key, Debian 12 release key.
    assert_eq!(issuers.split(", ").count(), 3, "{issuers}");
    assert!(
        issuers.contains("4CB50190207B4758A3F73A796ED0E7B82643E131"),
        "{issuers}"
    );
}

#[test]
fn real_inrelease_after_keys_expired_is_refused() {
    let Some(fx) = fixture() else { return };
    let far = VerifyOptions::at(UNIX_EPOCH + Duration::from_secs(2_400_000_000)); // 2046
    let err = verify_inrelease("InRelease", &fx.inrelease, &fx.keyring, far).unwrap_err();
    assert!(matches!(err, Error::KeyExpired { .. }), "{err}");
}

#[test]
fn host_keyrings_load_and_verify() {
    let host = std::path::Path::new("/usr/share/keyrings/debian-archive-keyring.gpg");
    if !host.exists() {
        println!("SKIPPED: {} not found", host.display());
        return;
    }
    let keyring = Keyring::from_bytes("host keyring", &std::fs::read(host).unwrap()).unwrap();
    assert!(!keyring.is_empty());
    let Some(fx) = fixture() else { return };
    verify_inrelease("InRelease", &fx.inrelease, &keyring, fetched()).unwrap();
    // A keyring with only one of the three signers (the Ed25519 release key) suffices.
    let one = std::path::Path::new("/usr/share/keyrings/debian-archive-bookworm-stable.gpg");
    if one.exists() {
        let keyring = Keyring::from_bytes("bookworm-stable", &std::fs::read(one).unwrap()).unwrap();
        assert_eq!(keyring.len(), 1);
        verify_inrelease("InRelease", &fx.inrelease, &keyring, fetched()).unwrap();
    }
}

const RELEASE: &str = "Origin: Whittle Test\nSuite: test\nCodename: test\n\
Date: Sat, 11 Jul 2026 10:16:37 UTC\nArchitectures: amd64\nComponents: main\nSHA256:\n \
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n";

#[test]
fn generated_key_signs_and_verifies() {
    let key = SigningKey::generate("Test <test@example.invalid>").unwrap();
    let signed = key.clearsign(RELEASE).unwrap();
    assert!(signed.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\n"));
    for keyring_bytes in [
        key.public_keyring_bytes(),
        key.public_keyring_armored().into_bytes(),
    ] {
        let keyring = Keyring::from_bytes("test", &keyring_bytes).unwrap();
        assert_eq!(keyring.fingerprints(), [key.fingerprint()]);
        let rel = verify_inrelease(
            "InRelease",
            signed.as_bytes(),
            &keyring,
            VerifyOptions::now(),
        )
        .unwrap();
        assert_eq!(rel.origin.as_deref(), Some("Whittle Test"));
        assert_eq!(rel.find("main/binary-amd64/Packages").unwrap().size, 0);
    }
    // Tampering with the signed text is detected.
    let keyring = Keyring::from_bytes("test", &key.public_keyring_bytes()).unwrap();
    let tampered = signed.replace("Suite: test", "Suite: tesT");
    let err = verify_inrelease(
        "InRelease",
        tampered.as_bytes(),
        &keyring,
        VerifyOptions::now(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
}

#[test]
fn valid_until_is_honoured() {
    let key = SigningKey::generate("Test <test@example.invalid>").unwrap();
    let keyring = Keyring::from_bytes("test", &key.public_keyring_bytes()).unwrap();
    let text = RELEASE.replace(
        "Components:",
        "Valid-Until: Sat, 18 Jul 2026 10:16:37 UTC\nComponents:",
    );
    let signed = key.clearsign(&text).unwrap();
    // Keys are judged at the verification time too: stay after the key's creation.
    let later = SystemTime::now().max(parse_date("Sun, 19 Jul 2026 00:00:00 UTC").unwrap());
    let err = verify_inrelease(
        "InRelease",
        signed.as_bytes(),
        &keyring,
        VerifyOptions::at(later),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ReleaseExpired { .. }), "{err}");
    assert!(err.to_string().contains("2026-07-18T10:16:37Z"), "{err}");
    // The hint says what to write in the config, never an internal name.
    assert!(err.to_string().contains("check-valid-until=no"), "{err}");
    assert!(!err.to_string().contains("allow_expired"), "{err}");
    // apt's Check-Valid-Until=no, and Check-Date=no (which implies it).
    for allow in [
        VerifyOptions {
            check_valid_until: false,
            ..VerifyOptions::at(later)
        },
        VerifyOptions {
            check_date: false,
            ..VerifyOptions::at(later)
        },
    ] {
        let rel = verify_inrelease("InRelease", signed.as_bytes(), &keyring, allow).unwrap();
        assert_eq!(rel.valid_until, parse_date("Sat, 18 Jul 2026 10:16:37 UTC"));
    }
}

#[test]
fn release_dated_in_the_future_is_not_valid_yet() {
    let key = SigningKey::generate("Test <test@example.invalid>").unwrap();
    let keyring = Keyring::from_bytes("test", &key.public_keyring_bytes()).unwrap();
    let text = RELEASE.replace(
        "Date: Sat, 11 Jul 2026 10:16:37 UTC",
        "Date: Mon, 01 Jan 2035 00:00:00 UTC",
    );
    let signed = key.clearsign(&text).unwrap();
    let now = SystemTime::now();
    let err = verify_inrelease(
        "InRelease",
        signed.as_bytes(),
        &keyring,
        VerifyOptions::at(now),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ReleaseNotYetValid { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("not valid yet"), "{msg}");
    assert!(msg.contains("2035-01-01T00:00:00Z"), "{msg}");
    assert!(msg.contains("check-date=no"), "{msg}");
    // apt's Check-Date=no accepts it.
    let off = VerifyOptions {
        check_date: false,
        ..VerifyOptions::at(now)
    };
    let rel = verify_inrelease("InRelease", signed.as_bytes(), &keyring, off).unwrap();
    assert_eq!(rel.date, parse_date("Mon, 01 Jan 2035 00:00:00 UTC"));
    // A date a little ahead (clocks drift) is fine, one past the allowed skew is not.
    let date = parse_date("Mon, 01 Jan 2035 00:00:00 UTC").unwrap();
    let just = date - whittle_deb::release::MAX_DATE_AHEAD;
    verify_inrelease(
        "InRelease",
        signed.as_bytes(),
        &keyring,
        VerifyOptions::at(just),
    )
    .unwrap();
    let too_early = just - Duration::from_secs(1);
    assert!(matches!(
        verify_inrelease(
            "InRelease",
            signed.as_bytes(),
            &keyring,
            VerifyOptions::at(too_early)
        ),
        Err(Error::ReleaseNotYetValid { .. })
    ));
}

#[test]
fn garbage_keyrings_are_refused() {
    assert!(matches!(
        Keyring::from_bytes("k", b""),
        Err(Error::Keyring { .. })
    ));
    assert!(matches!(
        Keyring::from_bytes("k", b"hello world"),
        Err(Error::Keyring { .. })
    ));
    assert!(matches!(
        Keyring::from_bytes("k", &[0x99, 0x01, 0x02]),
        Err(Error::Keyring { .. })
    ));
}
