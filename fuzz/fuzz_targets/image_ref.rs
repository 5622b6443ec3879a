#![no_main]
//! Image references never panic.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = whittle_oci::ImageRef::parse(data);
});
