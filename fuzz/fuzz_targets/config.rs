#![no_main]
//! The image config parser never panics.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = whittle_config::Config::from_str("fuzz.yaml", data);
});
