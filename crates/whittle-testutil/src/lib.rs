//! Test helpers shared by every crate's tests: where the real test data is, which system tools
//! exist, and the rule that a missing one is a SKIP on a developer's machine but a failure under
//! `CI=true`.

use std::path::{Path, PathBuf};

/// Whether tests run under CI (`CI=true`), where a missing fixture or tool is a failure.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `what` is missing: prints `SKIPPED: …` on a developer's machine, panics under CI.
pub fn skip(what: &str) {
    assert!(!ci(), "{what} is required under CI=true");
    println!("SKIPPED: {what} not available");
}

/// The shared fixtures directory (`$WHITTLE_FIXTURES`, else `../shared/fixtures` beside the
/// repository), or `None` (after [`skip`]) when it is absent.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("WHITTLE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!(
            "fixtures (looked in {}; set WHITTLE_FIXTURES)",
            dir.display()
        ));
        None
    }
}

/// Whether a system tool is on `PATH` (after [`skip`] when it is not).
pub fn tool(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()));
    if !found {
        skip(name);
    }
    found
}
