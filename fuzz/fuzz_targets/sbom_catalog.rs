#![no_main]
//! SPDX/CycloneDX documents given to `whittle scan` never panic the SBOM reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = whittle_scan::catalog_from_sbom("sbom.json", data);
});
