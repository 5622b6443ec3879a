#![no_main]
//! Advisory files (OSV, secdb, Debian tracker JSON, Wolfi advisories YAML) never panic the
//! importer, whatever format detection decides.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for name in ["advisory.json", "advisories.yaml"] {
        let mut out = whittle_vulndb::Imported::default();
        let _ = whittle_vulndb::import::import_bytes(name, data, "fuzz", &mut out);
    }
});
