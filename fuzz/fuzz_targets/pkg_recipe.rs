#![no_main]
//! Recipes given to `whittle pkg build` never panic the parser.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = whittle_pkg::recipe::parse("recipe.yaml", data, "x86_64");
});
