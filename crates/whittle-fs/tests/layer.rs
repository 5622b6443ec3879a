//! Layers read back with the `tar` crate have exactly the expected headers.

use std::io::Read;

use whittle_fs::{LayerOptions, Meta, Node, Tree, write_layer};

#[derive(Debug, PartialEq, Eq)]
struct Seen {
    path: String,
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: Option<String>,
    data: Vec<u8>,
    uname_empty: bool,
}

fn read_back(blob: &[u8]) -> Vec<Seen> {
    let mut gz = flate2::read::GzDecoder::new(blob);
    let mut tar_bytes = Vec::new();
    gz.read_to_end(&mut tar_bytes).unwrap();
    let mut ar = tar::Archive::new(&tar_bytes[..]);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(Seen {
            path: String::from_utf8(e.path_bytes().to_vec()).unwrap(),
            kind: h.entry_type().as_byte() as char,
            mode: h.mode().unwrap(),
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            mtime: h.mtime().unwrap(),
            link: e
                .link_name_bytes()
                .map(|l| String::from_utf8(l.to_vec()).unwrap()),
            data,
            uname_empty: h.username_bytes().is_none_or(<[u8]>::is_empty)
                && h.groupname_bytes().is_none_or(<[u8]>::is_empty),
        });
    }
    out
}

fn seen(path: &str, kind: char, mode: u32, link: Option<&str>, data: &[u8]) -> Seen {
    Seen {
        path: path.into(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        mtime: 1_234_567_890,
        link: link.map(str::to_string),
        data: data.to_vec(),
        uname_empty: true,
    }
}

const OPTS: LayerOptions = LayerOptions {
    mtime: 1_234_567_890,
    gzip_level: 9,
};

#[test]
fn headers_are_exactly_as_expected() {
    let mut t = Tree::new();
    t.insert("usr/bin", Node::Dir, Meta::DIR).unwrap();
    t.insert("bin", Node::symlink("usr/bin"), Meta::root(0o777))
        .unwrap();
    // `b -> Hardlink(z)` with z later in sort order: b must carry the content.
    t.insert("bin/z", Node::file(b"zzz".to_vec()), Meta::root(0o4755))
        .unwrap();
    t.insert("usr/bin/b", Node::hardlink("usr/bin/z"), Meta::root(0o644))
        .unwrap();
    t.insert("usr/bin/y", Node::hardlink("bin/z"), Meta::root(0o644))
        .unwrap();
    t.insert("a-b", Node::file(Vec::new()), Meta::new(0o600, 65534, 7))
        .unwrap();
    t.insert("tmp", Node::Dir, Meta::root(0o1777)).unwrap();

    let l = write_layer(&t, &OPTS).unwrap();
    let got = read_back(&l.blob);
    let mut ab = seen("a-b", '0', 0o600, None, b"");
    ab.uid = 65534;
    ab.gid = 7;
    assert_eq!(
        got,
        [
            ab,
            seen("bin", '2', 0o777, Some("usr/bin"), b""),
            seen("tmp/", '5', 0o1777, None, b""),
            seen("usr/", '5', 0o755, None, b""),
            seen("usr/bin/", '5', 0o755, None, b""),
            seen("usr/bin/b", '0', 0o4755, None, b"zzz"),
            seen("usr/bin/y", '1', 0o4755, Some("usr/bin/b"), b""),
            seen("usr/bin/z", '1', 0o4755, Some("usr/bin/b"), b""),
        ]
    );
}

#[test]
fn long_and_non_ascii_names_use_pax() {
    let mut t = Tree::new();
    let deep = format!("{}/{}", "d".repeat(120), "f".repeat(60)); // ustar prefix split
    let huge = format!("{}/{}", "e".repeat(30), "g".repeat(200)); // needs PAX path
    let target = "t".repeat(150); // needs PAX linkpath
    t.insert(&deep, Node::file(b"1".to_vec()), Meta::root(0o644))
        .unwrap();
    t.insert(&huge, Node::symlink(target.clone()), Meta::root(0o777))
        .unwrap();
    t.insert("é", Node::file(b"2".to_vec()), Meta::root(0o644))
        .unwrap();
    let l = write_layer(&t, &OPTS).unwrap();
    let got = read_back(&l.blob);
    let paths: Vec<&str> = got.iter().map(|s| s.path.as_str()).collect();
    let d = format!("{}/", "d".repeat(120));
    let e = format!("{}/", "e".repeat(30));
    assert_eq!(paths, [d.as_str(), &deep, e.as_str(), &huge, "é"]);
    assert_eq!(got[3].link.as_deref(), Some(target.as_str()));

    // PAX headers appear only for the entries that need them.
    let mut gz = flate2::read::GzDecoder::new(&l.blob[..]);
    let mut raw = Vec::new();
    gz.read_to_end(&mut raw).unwrap();
    let mut ar = tar::Archive::new(&raw[..]);
    let mut pax_for = Vec::new();
    let mut raw_entries = ar.entries().unwrap().raw(true);
    while let Some(e) = raw_entries.next() {
        let e = e.unwrap();
        if e.header().entry_type() == tar::EntryType::XHeader {
            let next = raw_entries.next().unwrap().unwrap();
            pax_for.push(next.header().entry_type().as_byte() as char);
        }
    }
    // The 121-byte directory name has no `/` to split at; the symlink has long names; `é` is not ASCII.
    assert_eq!(pax_for, ['5', '2', '0']);
}

#[test]
fn same_tree_in_any_insertion_order_gives_same_bytes() {
    let files = [
        ("etc/os-release", "ID=debian\n"),
        ("usr/lib/os-release", "x"),
        ("usr/share/a", "a"),
        ("var/lib/dpkg/status.d/base", "Package: base\n"),
    ];
    let build = |rev: bool| {
        let mut t = Tree::new();
        let mut v = files.to_vec();
        if rev {
            v.reverse();
        }
        for (p, c) in v {
            t.insert(p, Node::file(c.as_bytes().to_vec()), Meta::root(0o644))
                .unwrap();
        }
        write_layer(&t, &OPTS).unwrap()
    };
    let a = build(false);
    let b = build(true);
    assert_eq!(a, b);
    assert_eq!(a.blob, build(false).blob);
}

#[test]
fn gnu_tar_lists_the_layer() {
    let Ok(out) = std::process::Command::new("tar").arg("--version").output() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("tar is required under CI");
        }
        println!("SKIPPED: tar not found");
        return;
    };
    assert!(out.status.success());
    let mut t = Tree::new();
    t.insert("etc/motd", Node::file(b"hi\n".to_vec()), Meta::root(0o644))
        .unwrap();
    let l = write_layer(&t, &OPTS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("l.tar.gz");
    std::fs::write(&f, &l.blob).unwrap();
    let out = std::process::Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].starts_with("drwxr-xr-x 0/0") && lines[0].ends_with(" etc/"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with("-rw-r--r-- 0/0") && lines[1].ends_with(" etc/motd"),
        "{listing}"
    );
    assert!(lines[1].contains("2009-02-1"), "{listing}");
}

proptest::proptest! {
    /// Whatever the tree, the tar lists exactly the tree's entries in sorted path order,
    /// each parent before its children, and carries every file's content.
    #[test]
    fn tar_order_matches_the_tree(
        files in proptest::collection::btree_map("[a-c]{1,2}(/[a-c.-]{1,3}){0,3}", proptest::collection::vec(0u8..255, 0..40), 0..25),
        links in proptest::collection::vec((0usize..25, "[d-e]{1,2}"), 0..5),
    ) {
        let mut t = Tree::new();
        for (p, data) in &files {
            let _ = t.insert(p, Node::file(data.clone()), Meta::root(0o644));
        }
        let file_paths: Vec<String> = t
            .walk()
            .filter(|(_, e)| matches!(e.node, Node::File(_)))
            .map(|(p, _)| p.to_string())
            .collect();
        for (i, name) in links {
            if let Some(target) = file_paths.get(i % file_paths.len().max(1)) {
                let _ = t.insert(name.as_str(), Node::hardlink(target.clone()), Meta::root(0o644));
            }
        }
        let l = write_layer(&t, &OPTS).unwrap();
        let got = read_back(&l.blob);
        let want: Vec<String> = t
            .walk()
            .map(|(p, e)| if e.node.is_dir() { format!("{p}/") } else { p.to_string() })
            .collect();
        let paths: Vec<String> = got.iter().map(|s| s.path.clone()).collect();
        proptest::prop_assert_eq!(&paths, &want);
        let mut seen_content = std::collections::HashSet::new();
        for s in &got {
            match s.kind {
                '0' => { seen_content.insert(s.path.clone()); }
                '1' => {
                    let target = s.link.clone().unwrap();
                    proptest::prop_assert!(seen_content.contains(&target), "link {} before {}", s.path, target);
                }
                '5' => {}
                k => proptest::prop_assert!(false, "unexpected kind {k}"),
            }
        }
    }
}
