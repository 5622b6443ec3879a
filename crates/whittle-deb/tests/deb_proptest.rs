//! `DebArchive::open` and streaming never panic, whatever the bytes.

use std::path::PathBuf;

use proptest::prelude::*;
use whittle_deb::deb::{DebArchive, Error};

fn open_and_walk(bytes: &[u8]) {
    if let Ok(deb) = DebArchive::open("fuzz.deb", bytes) {
        let deb = deb.with_max_data_size(64 << 20);
        let _ = deb.for_each_data_entry(|e| {
            assert!(!e.path.split('/').any(|c| c == ".."));
            Ok::<_, Error>(())
        });
    }
}

fn small_real_deb() -> Option<Vec<u8>> {
    let dir = std::env::var_os("WHITTLE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    std::fs::read(dir.join("deb/bookworm-mini/pool/main/n/netbase/netbase_6.4_all.deb")).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        open_and_walk(&bytes);
        let mut with_magic = b"!<arch>\n".to_vec();
        with_magic.extend_from_slice(&bytes);
        open_and_walk(&with_magic);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mutated_real_deb_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let Some(mut bytes) = small_real_deb() else {
            println!("SKIPPED: fixtures not found");
            return Ok(());
        };
        for (i, x) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        open_and_walk(&bytes);
    }
}

proptest! {
    /// Any bytes as a control record: an error or a package, never a panic.
    #[test]
    fn any_control_record_is_refused_or_read(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                                             tail in "[a-z0-9 \n-]{0,80}") {
        let mut record = b"whittle deb control record v1\n".to_vec();
        record.extend_from_slice(tail.as_bytes());
        let _ = DebArchive::from_control_record("r", &bytes);
        let _ = DebArchive::from_control_record("r", &record);
    }
}
