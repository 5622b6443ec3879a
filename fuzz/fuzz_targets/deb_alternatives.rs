#![no_main]
//! Reading `update-alternatives` calls from a postinst never panics, and whatever it accepts is
//! absolute, named without `/`, and bounded in number.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let alts = whittle_deb::alternatives::parse_postinst(data);
    assert!(alts.len() <= whittle_deb::alternatives::MAX_CALLS);
    for a in alts {
        assert!(a.link.starts_with('/') && a.path.starts_with('/'));
        assert!(!a.name.contains('/'));
    }
});
