#![no_main]
//! Version parsing and comparison never panic; comparison is antisymmetric.
libfuzzer_sys::fuzz_target!(|data: (&str, &str)| {
    if let (Ok(a), Ok(b)) = (
        data.0.parse::<whittle_deb::Version>(),
        data.1.parse::<whittle_deb::Version>(),
    ) {
        assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
    }
});
