#![no_main]
//! The layer walker and merge never panic on arbitrary bytes: the input is split into up to
//! three layer tars (at 0xFF 0xFE 0xFD markers) so whiteouts meet lower layers; the merged tree
//! is then reported and audited.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut layers: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while layers.len() < 2 {
        match rest.windows(3).position(|w| w == [0xff, 0xfe, 0xfd]) {
            Some(i) => {
                layers.push(&rest[..i]);
                rest = &rest[i + 3..];
            }
            None => break,
        }
    }
    layers.push(rest);
    let limits = whittle_inspect::Limits {
        max_entries: 10_000,
        max_total_size: 1 << 30,
        ..Default::default()
    };
    // dive's count of the same layers
    let mut dive = whittle_inspect::DiveTally::new();
    let mut captured = 0;
    for l in &layers {
        match whittle_inspect::scan_layer(*l, &limits, &mut captured) {
            Ok(scan) => dive.add_layer(&scan),
            Err(_) => break,
        }
    }
    let _ = dive.figures();
    if let Ok((merged, diffs)) = whittle_inspect::analyze_layers(layers, &limits) {
        let _ = whittle_inspect::packages::packages(&merged);
        for (p, _) in merged.entries().iter().take(1000) {
            let _ = merged.resolve(p, true);
        }
        let hidden: u64 = diffs.iter().flat_map(|d| &d.hidden).map(|h| h.size).sum();
        assert_eq!(merged.total_bytes(), merged.final_bytes() + hidden);
    }
});
