#![no_main]
//! A registry's `WWW-Authenticate` header never panics the challenge parser.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = whittle_registry::parse_challenge(data);
});
