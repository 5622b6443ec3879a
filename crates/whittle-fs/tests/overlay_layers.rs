//! OCI whiteout rules over real single-layer fixtures and hand-made layers.

use std::path::PathBuf;

use whittle_fs::{HiddenBy, Node, Overlay};

fn layers() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|f| f.join("images/layers"))
}

fn paths(ov: &Overlay) -> Vec<String> {
    ov.tree().walk().map(|(p, _)| p.to_string()).collect()
}

/// A tar from (path, Some(content) | None for a directory).
fn tar(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, c) in entries {
        let mut h = tar::Header::new_ustar();
        match c {
            Some(c) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(c.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, p, c.as_bytes()).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn regclient_whiteout_and_opaque_over_its_lower_layer() {
    let Some(dir) = layers() else { return };
    let mut ov = Overlay::new();
    ov.apply_layer(&tar(&[("exdir/", None), ("exdir/old.txt", Some("x"))])[..])
        .unwrap();
    ov.apply_layer(std::fs::File::open(dir.join("regclient-layer.tar")).unwrap())
        .unwrap();
    let ch = ov
        .apply_layer(std::fs::File::open(dir.join("regclient-layer-wh-opaque.tar")).unwrap())
        .unwrap();
    assert_eq!(paths(&ov), ["exdir", "layer1.txt", "layer3.txt"]);
    assert!(ch.removed.contains(&"layer2.txt".to_string()));
    let old = ch
        .hidden
        .iter()
        .find(|h| h.path == "exdir/old.txt")
        .unwrap();
    assert_eq!(
        (old.by, old.layer, old.size),
        (HiddenBy::OpaqueWhiteout, Some(0), 1)
    );
    let l2 = ch.hidden.iter().find(|h| h.path == "layer2.txt").unwrap();
    assert_eq!((l2.by, l2.layer), (HiddenBy::Whiteout, Some(1)));
}

#[test]
fn claircore_opaque_and_the_not_a_whiteout_trap() {
    let Some(dir) = layers() else { return };
    let mut ov = Overlay::new();
    ov.apply_layer(
        &tar(&[
            ("a/", None),
            ("a/x", Some("1")),
            ("b/", None),
            ("b/y", Some("2")),
        ])[..],
    )
    .unwrap();
    ov.apply_layer(std::fs::File::open(dir.join("claircore-whiteout_opaque.layer.tar")).unwrap())
        .unwrap();
    // a/ is opaque: a/x hidden. b/not.a.wh..wh..opq is an ordinary file: b/y stays.
    assert_eq!(paths(&ov), ["a", "b", "b/not.a.wh..wh..opq", "b/y"]);
}

#[test]
fn claircore_nested_and_root_whiteouts() {
    let Some(dir) = layers() else { return };
    let mut ov = Overlay::new();
    ov.apply_layer(
        &tar(&[
            ("a/", None),
            ("a/a_file.txt", Some("s")),
            ("a/keep", Some("k")),
            ("a_root_file.txt", Some("r")),
            ("b/", None),
            ("b/deep", Some("d")),
            ("etc/", None),
            ("etc/profile", Some("p")),
        ])[..],
    )
    .unwrap();
    ov.apply_layer(std::fs::File::open(dir.join("claircore-whiteout_advanced.layer.tar")).unwrap())
        .unwrap();
    ov.apply_layer(std::fs::File::open(dir.join("claircore-whiteout.layer.tar")).unwrap())
        .unwrap();
    assert_eq!(paths(&ov), ["a", "a/keep", "etc"]);
}

#[test]
fn opaque_keeps_same_layer_entries_in_either_order() {
    for late_marker in [false, true] {
        let mut ov = Overlay::new();
        ov.apply_layer(&tar(&[("d/", None), ("d/old", Some("o"))])[..])
            .unwrap();
        let mut l = vec![("d/", None), ("d/new", Some("n"))];
        l.insert(
            if late_marker { 2 } else { 1 },
            ("d/.wh..wh..opq", Some("")),
        );
        ov.apply_layer(&tar(&l)[..]).unwrap();
        assert_eq!(paths(&ov), ["d", "d/new"], "marker late: {late_marker}");
    }
}

#[test]
fn parent_symlinks_are_not_followed_and_kinds_replace() {
    let mut ov = Overlay::new();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "bin", "usr/bin").unwrap();
    ov.apply_layer(&b.into_inner().unwrap()[..]).unwrap();
    let ch = ov
        .apply_layer(&tar(&[("bin/ls", Some("elf"))])[..])
        .unwrap();
    assert!(matches!(ov.tree().get("bin").unwrap().node, Node::Dir));
    assert!(ov.tree().get("usr/bin/ls").is_none());
    assert!(
        ch.hidden
            .iter()
            .any(|h| h.path == "bin" && h.kind == "symlink")
    );
    // A file over a directory replaces the directory and what is below it.
    let ch = ov
        .apply_layer(&tar(&[("bin", Some("now a file"))])[..])
        .unwrap();
    assert!(matches!(ov.tree().get("bin").unwrap().node, Node::File(_)));
    assert!(
        ch.hidden
            .iter()
            .any(|h| h.path == "bin/ls" && h.layer == Some(1))
    );
    assert_eq!(ov.origin("bin"), Some(2));
}

#[test]
fn whiteouts_that_climb_are_rejected() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    // `a/.wh..` would name `a/..`: never a valid whiteout.
    b.append_data(&mut h, "a/.wh..", &[][..]).unwrap();
    let mut ov = Overlay::new();
    assert!(ov.apply_layer(&b.into_inner().unwrap()[..]).is_err());
}

#[test]
fn size_limit_stops_huge_layers() {
    let mut ov = Overlay::new().with_size_limit(4);
    let err = ov
        .apply_layer(&tar(&[("big", Some("0123456789"))])[..])
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}
