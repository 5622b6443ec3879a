//! The README names every flag `whittle pkg build --help` lists.

mod common;
use common::*;
use std::path::Path;

/// The long flags of a `--help` text: `--name` at the start of an option's line.
fn long_flags(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix('-').and_then(|r| {
                if r.starts_with('-') {
                    Some(l)
                } else {
                    r.split_once(", ").map(|(_, rest)| rest)
                }
            })?;
            let name: String = l
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!name.is_empty()).then(|| format!("--{name}"))
        })
        .collect()
}

/// `flag` as a whole word of `text` (not the start of a longer flag).
fn names(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(i, _)| {
        !text[i + flag.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[test]
fn readme_names_every_pkg_build_flag() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let help = run(whittle().args(["pkg", "build", "--help"]));
    let flags = long_flags(&help);
    for f in [
        "--no-test",
        "--quiet",
        "--sha1",
        "--source-date-epoch",
        "--verbose",
    ] {
        assert!(flags.iter().any(|g| g == f), "{f} not in --help: {flags:?}");
    }
    let missing: Vec<&String> = flags
        .iter()
        .filter(|f| *f != "--help" && !names(&readme, f))
        .collect();
    assert!(missing.is_empty(), "README does not name {missing:?}");
}
