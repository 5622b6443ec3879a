#![no_main]
//! APKINDEX archives never panic; an empty keyring never verifies one.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let keyring = whittle_apk::sign::Keyring::new();
    assert!(whittle_apk::index::verify_index("fuzz", data, &keyring).is_err());
    let _ = whittle_apk::index::parse_index_unverified("fuzz", data);
    let _ = whittle_apk::index::parse_apkindex_text("fuzz", data);
});
