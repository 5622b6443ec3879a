#![no_main]
//! A `.deb`'s control record (what a warm build keeps instead of reading the `.deb`) never
//! panics, and a record that reads back names a package.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(deb) = whittle_deb::deb::DebArchive::from_control_record("fuzz", data) {
        assert!(!deb.package().is_empty());
        assert_eq!(
            whittle_deb::deb::DebArchive::from_control_record("fuzz", &deb.control_record())
                .map(|d| d.control_text().to_string())
                .ok(),
            Some(deb.control_text().to_string())
        );
    }
});
