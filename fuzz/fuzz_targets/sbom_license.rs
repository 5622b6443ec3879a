#![no_main]
//! Licences read from an image's copyright files and APK `L:` fields never panic and only give
//! SPDX-shaped terms (ids, `LicenseRef-…`, operators, `WITH`, parentheses).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let spdx_shaped = |e: &str| {
        e.chars()
            .all(|c| c.is_ascii_alphanumeric() || " .-+()".contains(c))
    };
    for doc in [text.to_string(), format!("Format: x\n\n{text}")] {
        if let Some(e) = whittle_sbom::debian_copyright_license(&doc) {
            assert!(spdx_shaped(&e), "{e}");
        }
    }
    let e = whittle_sbom::apk_license(&text);
    assert!(spdx_shaped(&e), "{e}");
    let r = whittle_sbom::license_ref(&text);
    assert!(r.starts_with("LicenseRef-"));
});
