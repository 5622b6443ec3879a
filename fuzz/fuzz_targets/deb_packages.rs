#![no_main]
//! Packages indexes never panic.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = whittle_deb::packages::parse_packages("fuzz", data);
});
