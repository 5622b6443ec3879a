#![no_main]
//! deb822 control files (Packages, Release, .deb control) never panic.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = whittle_deb::control::parse_stanzas("fuzz", data);
});
