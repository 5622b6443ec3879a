#![no_main]
//! InRelease verification against an empty keyring never panics (and never succeeds).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let keyring = whittle_deb::release::Keyring::new();
    let opts = whittle_deb::release::VerifyOptions::now();
    assert!(whittle_deb::release::verify_inrelease("fuzz", data, &keyring, opts).is_err());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = whittle_deb::release::Release::parse_unsigned("fuzz", text);
    }
});
