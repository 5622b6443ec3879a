#![no_main]
//! The secret scanner never panics, reports lines inside the data and never echoes a secret.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|b| **b == b'\n').count() + 1;
    for m in whittle_secrets::scan(data) {
        assert!(m.line >= 1 && m.line <= lines);
        assert!(m.redacted.chars().filter(|c| *c != '…').count() <= 6 || m.rule == "private-key");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = whittle_secrets::secret_file_name(text);
        if let Some((name, value)) = text.split_once('=') {
            let _ = whittle_secrets::secret_assignment(name, value);
        }
    }
});
