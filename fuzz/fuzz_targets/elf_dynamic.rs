#![no_main]
//! Files of a package being built never panic the ELF dynamic-section reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = whittle_pkg::elf::dynamic(data);
});
