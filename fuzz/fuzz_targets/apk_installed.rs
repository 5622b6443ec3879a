#![no_main]
//! apk installed databases never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = whittle_apk::package::installed::parse_installed("fuzz", data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = whittle_apk::package::parse_pkginfo("fuzz", text);
    }
});
