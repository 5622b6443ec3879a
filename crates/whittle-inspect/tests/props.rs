//! Property tests: the streaming merge agrees with whittle-fs's in-memory overlay on random
//! layers (files, directories, symlinks, whiteouts, opaque markers, in any order), hidden bytes
//! are accounted exactly, dive's figures stay consistent, the `.dive-ci` reader reads dive's
//! byte sizes, and no input panics.

use proptest::prelude::*;
use whittle_inspect::{Kind, Limits, analyze_layers};

const PATHS: &[&str] = &["a", "b", "a/x", "a/y", "b/z", "a/x/q", "c"];

#[derive(Debug, Clone)]
enum Op {
    File(usize, usize),
    Dir(usize),
    Link(usize),
    Whiteout(usize),
    Opaque(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PATHS.len();
    prop_oneof![
        4 => (p.clone(), 0usize..50).prop_map(|(p, n)| Op::File(p, n)),
        2 => p.clone().prop_map(Op::Dir),
        1 => p.clone().prop_map(Op::Link),
        2 => p.clone().prop_map(Op::Whiteout),
        1 => p.prop_map(Op::Opaque),
    ]
}

fn tar(ops: &[Op]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for o in ops {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        let (path, data): (String, Vec<u8>) = match o {
            Op::File(p, n) => {
                h.set_entry_type(tar::EntryType::Regular);
                (PATHS[*p].to_string(), vec![b'x'; *n])
            }
            Op::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                (PATHS[*p].to_string(), vec![])
            }
            Op::Link(p) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name("target").unwrap();
                (PATHS[*p].to_string(), vec![])
            }
            Op::Whiteout(p) => {
                h.set_entry_type(tar::EntryType::Regular);
                let path = PATHS[*p];
                let w = match path.rsplit_once('/') {
                    Some((d, n)) => format!("{d}/.wh.{n}"),
                    None => format!(".wh.{path}"),
                };
                (w, vec![])
            }
            Op::Opaque(p) => {
                h.set_entry_type(tar::EntryType::Regular);
                (format!("{}/.wh..wh..opq", PATHS[*p]), vec![])
            }
        };
        h.set_size(data.len() as u64);
        b.append_data(&mut h, &path, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn agrees_with_the_in_memory_overlay(layers in prop::collection::vec(prop::collection::vec(op(), 0..8), 1..5)) {
        let tars: Vec<Vec<u8>> = layers.iter().map(|l| tar(l)).collect();
        let (m, diffs) = analyze_layers(tars.iter().map(|t| &t[..]), &Limits::default()).unwrap();
        let mut ov = whittle_fs::Overlay::new();
        for t in &tars {
            ov.apply_layer(&t[..]).unwrap();
        }
        let ours: Vec<(String, &str)> = m
            .entries()
            .iter()
            .map(|(p, e)| (p.clone(), e.kind.as_str()))
            .collect();
        let theirs: Vec<(String, &str)> = ov
            .tree()
            .walk()
            .map(|(p, e)| (p.to_string(), if e.node.is_dir() { "dir" } else { e.node.kind() }))
            .collect();
        prop_assert_eq!(ours, theirs);
        // every stored copy either survives or is hidden by exactly one layer
        let hidden: u64 = diffs.iter().flat_map(|d| &d.hidden).map(|h| h.size).sum();
        prop_assert_eq!(m.total_bytes(), m.final_bytes() + hidden);
        let files: u64 = m.entries().values().filter(|e| e.kind == Kind::File).map(|e| e.size).sum();
        prop_assert_eq!(files, m.final_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = analyze_layers([&data[..]], &Limits::default());
    }
}

/// Lines of an account file from a few interesting pieces: names, empty and locked passwords,
/// uids (0, 00, large, not a number), missing fields, comments, NIS entries, control bytes.
fn account_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just(String::new()),
        Just("root".to_string()),
        Just("x".to_string()),
        Just("!".to_string()),
        Just("0".to_string()),
        Just("00".to_string()),
        Just("18446744073709551616".to_string()),
        "[a-z#+\\-\u{1b}]{1,8}",
    ];
    let line = proptest::collection::vec(field, 0..8).prop_map(|f| f.join(":"));
    proptest::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

proptest! {
    /// The account parser never panics; every issue names a real line of its file, a known
    /// rule, and a bounded, escaped message; a uid-0 finding is never about `root`.
    #[test]
    fn account_issues_are_sound(passwd in account_text(), shadow in proptest::option::of(account_text())) {
        for i in whittle_inspect::audit::account_issues(&passwd, shadow.as_deref()) {
            let text = if i.file == "etc/passwd" { passwd.as_str() } else { shadow.as_deref().unwrap_or("") };
            prop_assert!(i.line >= 1 && i.line <= text.lines().count());
            prop_assert!(["uid0-account", "empty-password"].contains(&i.rule));
            let esc = '\u{1b}';
            prop_assert!(i.message.len() < 400 && !i.message.contains(esc), "{}", i.message);
            if i.rule == "uid0-account" {
                prop_assert!(!i.message.contains("account `root`"));
            }
        }
    }
}

proptest! {
    /// dive's figures on random layers: efficiency at most 1, wasted bytes the sum of the listed
    /// paths (each referenced at least twice), the size the sum of the layers' tar sizes.
    #[test]
    fn dive_figures_are_consistent(layers in proptest::collection::vec(proptest::collection::vec(op(), 0..12), 1..5)) {
        let mut tally = whittle_inspect::DiveTally::new();
        let mut sizes = 0u64;
        let mut captured = 0;
        for ops in &layers {
            let t = tar(ops);
            let scan = whittle_inspect::scan_layer(&t[..], &Limits::default(), &mut captured).unwrap();
            sizes += scan.tar_bytes;
            tally.add_layer(&scan);
        }
        let f = tally.figures();
        prop_assert!(f.efficiency <= 1.0, "{}", f.efficiency);
        prop_assert_eq!(f.wasted_bytes, f.paths.iter().map(|p| p.bytes).sum::<u64>());
        prop_assert!(f.paths.iter().all(|p| p.references >= 2));
        prop_assert_eq!(f.size_bytes, sizes);
    }

    /// dive's byte sizes: a count with any unit spelling reads as count × unit.
    #[test]
    fn ci_byte_sizes_scale(n in 0u64..1_000_000, unit in 0usize..8, space in any::<bool>(), upper in any::<bool>()) {
        let (name, scale) = [("", 1u64), ("b", 1), ("kb", 1000), ("k", 1000), ("kib", 1024), ("mb", 1_000_000), ("mi", 1 << 20), ("gb", 1_000_000_000)][unit];
        let name = if upper { name.to_ascii_uppercase() } else { name.to_string() };
        let text = format!("{n}{}{name}", if space { " " } else { "" });
        prop_assert_eq!(whittle_inspect::ci::parse_bytes(&text), Ok(n * scale));
    }

    /// The `.dive-ci` reader never panics, and an error always names the file.
    #[test]
    fn ci_config_never_panics(text in "(rules:\n)?( {0,2}[a-zA-Z-]{0,30}: ?[-a-zA-Z0-9., \\[\\]{}]{0,12}\n){0,6}") {
        if let Err(e) = whittle_inspect::CiRules::parse(&text, "f.yaml") {
            prop_assert!(e.to_string().starts_with("f.yaml: "), "{}", e);
        }
    }
}
