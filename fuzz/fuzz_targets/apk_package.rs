#![no_main]
//! .apk packages never panic and never yield paths that escape.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(pkg) = whittle_apk::package::ApkPackage::open("fuzz", data) {
        let _ = pkg.verify_datahash();
        let _ = pkg.for_each_data_entry(|e| {
            assert!(!e.path.split('/').any(|c| c == ".."));
            Ok::<(), whittle_apk::package::Error>(())
        });
    }
});
