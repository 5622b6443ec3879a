#![no_main]
//! Depends-style relation fields never panic.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = whittle_deb::relation::parse_relations(data);
    let _ = whittle_deb::relation::parse_relation_list(data);
});
