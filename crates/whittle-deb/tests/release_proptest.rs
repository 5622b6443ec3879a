//! Property tests of the Release parser, date handling and the verifier's robustness.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use whittle_deb::release::{
    FileEntry, Keyring, Release, SigningKey, VerifyOptions, fmt_time, parse_date, verify_inrelease,
};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats like dak does: "Sat, 11 Jul 2026 10:16:37 UTC".
fn rfc2822(secs: u64) -> String {
    let iso = fmt_time(UNIX_EPOCH + Duration::from_secs(secs));
    let (y, rest) = iso.split_at(4);
    let m: usize = rest[1..3].parse().unwrap();
    let d = &rest[4..6];
    let time = &rest[7..15];
    format!(
        "{}, {d} {} {y} {time} UTC",
        DAYS[(secs / 86400 % 7) as usize],
        MONTHS[m - 1]
    )
}

fn path_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9][a-z0-9+._-]{0,12}", 1..4)
        .prop_map(|c| c.join("/"))
        .prop_filter("no dot components", |p| {
            !p.split('/').any(|c| c == "." || c == "..")
        })
}

proptest! {
    #[test]
    fn dates_round_trip(secs in 0u64..8_000_000_000) {
        let text = rfc2822(secs);
        let t = parse_date(&text).unwrap();
        prop_assert_eq!(t, UNIX_EPOCH + Duration::from_secs(secs), "{}", text);
    }

    #[test]
    fn release_files_round_trip(
        files in proptest::collection::btree_map(path_strategy(), (any::<u64>(), "[0-9a-f]{64}"), 0..20),
        arch in proptest::collection::vec("[a-z0-9]{1,8}", 0..5),
    ) {
        let mut text = format!("Origin: P\nArchitectures: {}\nSHA256:\n", arch.join(" "));
        for (path, (size, hash)) in &files {
            text.push_str(&format!(" {hash} {size:>9} {path}\n"));
        }
        let rel = Release::parse_unsigned("p", &text).unwrap();
        let want: BTreeMap<String, FileEntry> = files
            .into_iter()
            .map(|(p, (size, sha256))| (p, FileEntry { size, sha256 }))
            .collect();
        prop_assert_eq!(rel.files, want);
        prop_assert_eq!(rel.architectures, arch);
    }

    #[test]
    fn release_parser_never_panics(text in "(?s).{0,400}") {
        let _ = Release::parse_unsigned("p", &text);
    }

    #[test]
    fn verifier_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let keyring = Keyring::new();
        prop_assert!(verify_inrelease("p", &bytes, &keyring, VerifyOptions::now()).is_err());
        let mut armored = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n".to_vec();
        armored.extend_from_slice(&bytes);
        prop_assert!(verify_inrelease("p", &armored, &keyring, VerifyOptions::now()).is_err());
        let _ = Keyring::from_bytes("k", &bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any single-byte change of a signed Release is refused or leaves the signed text intact.
    #[test]
    fn tampering_never_verifies_altered_text(at in any::<prop::sample::Index>(), x in 1u8..=255) {
        thread_local! {
            static KEY: (SigningKey, String) = {
                let k = SigningKey::generate("P <p@example.invalid>").unwrap();
                let s = k.clearsign("Suite: p\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/x\n").unwrap();
                (k, s)
            };
        }
        KEY.with(|(key, signed)| {
            let keyring = Keyring::from_bytes("k", &key.public_keyring_bytes()).unwrap();
            let mut bytes = signed.clone().into_bytes();
            let i = at.index(bytes.len());
            bytes[i] ^= x;
            if let Ok(rel) = verify_inrelease("p", &bytes, &keyring, VerifyOptions::now()) {
                // Only changes that do not alter the signed content (armour whitespace, header
                // noise the parser tolerates) may pass.
                assert_eq!(rel.suite.as_deref(), Some("p"));
                assert_eq!(rel.find("main/x").map(|f| f.size), Some(0));
            }
        });
    }
}
