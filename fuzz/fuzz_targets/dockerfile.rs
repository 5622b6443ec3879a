#![no_main]
//! The Dockerfile parser and linter never panic, and every line number is inside the file.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let lines = data.split('\n').count();
    if let Ok(df) = whittle_lint::parse(data) {
        for i in &df.instructions {
            assert!(i.line >= 1 && i.line <= i.end_line && i.end_line <= lines);
        }
    }
    if let Ok(findings) = whittle_lint::lint("Dockerfile", data) {
        for f in findings {
            assert!(f.location.line.is_some_and(|l| l >= 1 && l <= lines));
        }
    }
});
