#![no_main]
//! .deb archives never panic and never escape their paths.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(deb) = whittle_deb::deb::DebArchive::open("fuzz", data) {
        let _ = deb.for_each_data_entry(|e| {
            assert!(!e.path.split('/').any(|c| c == ".."));
            Ok::<(), whittle_deb::deb::Error>(())
        });
    }
});
