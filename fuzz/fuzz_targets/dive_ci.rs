#![no_main]
//! `.dive-ci` files never panic the rules reader (YAML anchors, odd numbers and units); rules it
//! accepts check any figures, three results, and a byte size it reads is one dive would.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rules) = whittle_inspect::CiRules::parse(text, ".dive-ci") {
        let figures = whittle_inspect::DiveTally::new().figures();
        assert_eq!(rules.evaluate(&figures).rules.len(), 3);
    }
    if whittle_inspect::ci::parse_bytes(text).is_ok() {
        assert!(text.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == ','));
    }
});
