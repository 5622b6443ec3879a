#![no_main]
//! Package databases, os-release and release files found in an image (dpkg status, status.d, apk installed)
//! never panic the catalog, and every package it reports has a name.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for path in [
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/pkg",
        "lib/apk/db/installed",
        "etc/os-release",
        "etc/debian_version",
        "etc/alpine-release",
    ] {
        let files = std::collections::BTreeMap::from([(path.to_string(), data.to_vec())]);
        let cat = whittle_catalog::catalog_files(&files);
        assert!(cat.packages.iter().all(|p| !p.name.is_empty()));
    }
});
