//! The merged tree of every fixture image matches what a runtime would see. Expected paths are
//! written by hand from each image's Dockerfile / SOURCES.md and its layer listing.

use std::path::PathBuf;

use whittle_inspect::{Analysis, HiddenBy, Kind, Limits, Options, analyze, analyze_layers};
use whittle_oci::ImageRef;

fn images() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|f| f.join("images"))
}

fn load(r: &str) -> Analysis {
    analyze(&ImageRef::parse(r).unwrap(), &Options::default()).unwrap()
}

fn paths_under<'a>(a: &'a Analysis, prefix: &str) -> Vec<&'a str> {
    a.merged
        .entries()
        .keys()
        .map(String::as_str)
        .filter(|p| *p == prefix || p.starts_with(&format!("{prefix}/")))
        .collect()
}

fn all_paths(a: &Analysis) -> Vec<&str> {
    a.merged.entries().keys().map(String::as_str).collect()
}

/// The dive test image (docker, kaniko): what its Dockerfile leaves. `script` is the second file
/// of the build context's `.scripts/` (the two builds were made from different checkouts).
fn check_dive(a: &Analysis, script: &str) {
    assert_eq!(a.layers.len(), 14);
    assert_eq!(
        paths_under(a, "root"),
        [
            "root",
            "root/.data",
            "root/.data/saved.again2.txt",
            "root/.data/tag.sh",
            script,
            "root/.saved.txt",
            "root/saved.txt",
        ]
    );
    assert_eq!(paths_under(a, "tmp"), ["tmp", "tmp/saved.again1.txt"]);
    assert!(a.merged.get("somefile.txt").is_some());
    // RUN chmod +x /root/saved.txt: the last layer's copy is the one that survives
    let saved = a.merged.get("root/saved.txt").unwrap();
    assert_eq!((saved.layer, saved.mode & 0o111 != 0), (13, true));
    // busybox: /bin/sh is a hard link to /bin/[
    assert_eq!(a.merged.get("bin/sh").unwrap().kind, Kind::Hardlink);
    // mv somefile3 -> saved.txt: layer 7 whites out layer 6's file
    let h = a.diffs[7]
        .hidden
        .iter()
        .find(|h| h.path == "root/example/somefile3.txt")
        .unwrap();
    assert_eq!((h.layer, h.by), (6, HiddenBy::Whiteout));
    // rm -rf /root/example: the directory and everything below it
    assert!(a.diffs[9].removed.contains(&"root/example".to_string()));
    assert!(
        a.diffs[9]
            .removed
            .contains(&"root/example/really/nested".to_string())
    );
    let hidden: u64 = a.diffs.iter().flat_map(|d| &d.hidden).map(|h| h.size).sum();
    assert_eq!(a.merged.total_bytes(), a.merged.final_bytes() + hidden);
}

#[test]
fn dive_docker_archive() {
    let Some(d) = images() else { return };
    let a = load(&format!(
        "docker-archive:{}",
        d.join("docker-archive/dive-test-docker-image.tar")
            .display()
    ));
    check_dive(&a, "root/.data/test.sh");
    // hidden: somefile1 twice (cp, chmod), somefile2, somefile3, the first saved.txt; 6405 each
    assert_eq!(a.merged.total_bytes() - a.merged.final_bytes(), 5 * 6405);
    // dive's waste: paths more than one layer references, every copy counted; a deleted file
    // adds nothing, a deleted directory (rm -rf /root/example) is one reference of /root/example
    let waste: Vec<(&str, u64, u64)> = a
        .dive
        .paths
        .iter()
        .map(|p| (p.path.as_str(), p.references, p.bytes))
        .collect();
    assert_eq!(
        waste,
        [
            ("root/example/somefile1.txt", 2, 2 * 6405),
            ("root/saved.txt", 2, 2 * 6405),
            ("root/example/somefile3.txt", 2, 6405),
        ]
    );
    assert_eq!(a.dive.wasted_bytes, 5 * 6405);
    assert_eq!(
        a.config.history.iter().filter(|h| !h.empty_layer).count(),
        14
    );
}

#[test]
fn dive_kaniko_archive() {
    let Some(d) = images() else { return };
    let a = load(&format!(
        "docker-archive:{}",
        d.join("docker-archive/dive-test-kaniko-image.tar")
            .display()
    ));
    check_dive(&a, "root/.data/test-coverage.sh");
}

#[test]
fn dive_oci_variants_hold_the_readme() {
    let Some(d) = images() else { return };
    for c in ["gzip", "uncompressed", "zstd"] {
        let a = load(&format!(
            "oci-archive:{}",
            d.join(format!("oci-archive/dive-test-oci-{c}-image.tar"))
                .display()
        ));
        assert_eq!(all_paths(&a), ["README.md"], "{c}");
        assert_eq!(a.merged.get("README.md").unwrap().size, 11189);
    }
}

#[test]
fn ggcr_whiteout_image() {
    let Some(d) = images() else { return };
    let a = load(&format!(
        "docker-archive:{}",
        d.join("docker-archive/ggcr-whiteout_image.tar").display()
    ));
    assert_eq!(all_paths(&a), ["bar.txt"]);
    assert_eq!(a.diffs[1].removed, ["foo.txt"]);
    assert_eq!(a.diffs[1].hidden[0].layer, 0);
}

#[test]
fn ggcr_overwritten_file() {
    let Some(d) = images() else { return };
    let a = load(&format!(
        "docker-archive:{}",
        d.join("docker-archive/ggcr-overwritten_file.tar").display()
    ));
    assert_eq!(all_paths(&a), ["bar.txt", "foo.txt"]);
    let foo = a.merged.get("foo.txt").unwrap();
    assert_eq!(
        (foo.kind, foo.link.as_deref()),
        (Kind::Symlink, Some("bar.txt"))
    );
    let h = &a.diffs[1].hidden[0];
    assert_eq!(
        (h.path.as_str(), h.layer, h.by),
        ("foo.txt", 0, HiddenBy::Overwritten)
    );
    assert_eq!(a.merged.total_bytes() - a.merged.final_bytes(), 4);
    // dive: foo.txt is referenced by both layers (4 bytes, then a symlink of size 0)
    assert_eq!((a.dive.wasted_bytes, a.dive.efficiency), (4, 0.5));
}

#[test]
fn ggcr_whiteout_dir() {
    let Some(d) = images() else { return };
    let a = load(&format!(
        "docker-archive:{}",
        d.join("docker-archive/ggcr-whiteout_dir.tar").display()
    ));
    // .wh.a deletes a/ (with a/foo); the next layer re-creates a/ with a/baz only
    assert_eq!(all_paths(&a), ["a", "a/baz", "b", "b/bar"]);
    assert_eq!(a.diffs[2].removed, ["a", "a/foo"]);
}

#[test]
fn docker_25_hybrid_and_linked_layers() {
    let Some(d) = images() else { return };
    let a = load(&format!(
        "docker-archive:{}",
        d.join("docker-archive/ggcr-hello-world-docker-v25-oci-hybrid.tar")
            .display()
    ));
    assert_eq!(all_paths(&a), ["hello"]);
    assert_eq!(a.merged.get("hello").unwrap().mode, 0o755);
    let a = load(&format!(
        "docker-archive:{}:bazel/v1/tarball:test_image_3",
        d.join("docker-archive/ggcr-test_link.tar").display()
    ));
    // its first layer.tar is a symlink to test_image_1's layer
    assert_eq!(all_paths(&a), ["bar", "foo", "test"]);
}

#[test]
fn real_alpine_3_10_with_its_package_database() {
    let Some(d) = images() else { return };
    // `docker save | gzip`: read as it is, and exactly like its decompressed tar
    let gz_path = d.join("docker-archive/trivy-alpine-3.10.tar.gz");
    let a = load(&format!("docker-archive:{}", gz_path.display()));
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("alpine.tar");
    let gz = std::fs::File::open(&gz_path).unwrap();
    let mut out = std::fs::File::create(&plain).unwrap();
    std::io::copy(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
    let from_plain = load(&format!("docker-archive:{}", plain.display()));
    assert_eq!(all_paths(&a), all_paths(&from_plain));
    assert_eq!(a.manifest_digest, from_plain.manifest_digest);
    let sh = a.merged.get("bin/sh").unwrap();
    assert_eq!(
        (sh.kind, sh.link.as_deref()),
        (Kind::Symlink, Some("/bin/busybox"))
    );
    let db = a.packages.as_ref().unwrap();
    assert!(db.has_file_lists);
    let busybox = db.packages.iter().find(|p| p.name == "busybox").unwrap();
    assert_eq!(busybox.manager, "apk");
    assert!(busybox.files > 0 && busybox.size > 0);
    assert!(db.owned.contains("bin/busybox"));
    let findings = whittle_inspect::audit(&a);
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    for r in ["runs-as-root", "shell", "package-manager"] {
        assert!(rules.contains(&r), "{r} missing from {rules:?}");
    }
    // every file of the pristine image belongs to a package or is generated (alpine-release
    // too), except /etc/issue, which the image build writes
    let unowned: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "unowned-files")
        .collect();
    assert_eq!(unowned.len(), 1, "{unowned:#?}");
    assert!(
        unowned[0]
            .message
            .starts_with("/etc: 1 files (54 bytes) no installed package owns, e.g. /etc/issue"),
        "{unowned:#?}"
    );
}

#[test]
fn regclient_layout_tags() {
    let Some(d) = images() else { return };
    let layout = d.join("oci-layout/regclient-testrepo");
    let opts = Options {
        platform: Some(whittle_oci::Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }),
        ..Options::default()
    };
    let a = analyze(
        &ImageRef::parse(&format!("oci:{}:v3", layout.display())).unwrap(),
        &opts,
    )
    .unwrap();
    assert_eq!(
        all_paths(&a),
        [
            "base.txt",
            "dir",
            "dir/layer.tar",
            "layer1",
            "layer2",
            "layer3"
        ]
    );
}

fn file_layer(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, c) in entries {
        let mut h = tar::Header::new_ustar();
        let data = c.unwrap_or("").as_bytes();
        h.set_entry_type(if c.is_some() {
            tar::EntryType::Regular
        } else {
            tar::EntryType::Directory
        });
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, p, data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn regclient_whiteout_and_opaque_layers() {
    let Some(d) = images() else { return };
    let base = file_layer(&[("exdir/", None), ("exdir/old.txt", Some("x"))]);
    let l1 = std::fs::read(d.join("layers/regclient-layer.tar")).unwrap();
    let l2 = std::fs::read(d.join("layers/regclient-layer-wh-opaque.tar")).unwrap();
    let (m, diffs) = analyze_layers([&base[..], &l1[..], &l2[..]], &Limits::default()).unwrap();
    let paths: Vec<&str> = m.entries().keys().map(String::as_str).collect();
    assert_eq!(paths, ["exdir", "layer1.txt", "layer3.txt"]);
    let old = diffs[2]
        .hidden
        .iter()
        .find(|h| h.path == "exdir/old.txt")
        .unwrap();
    assert_eq!((old.by, old.layer), (HiddenBy::OpaqueWhiteout, 0));
    // layer1.txt and layer3.txt are re-added by the same layer: changed, not removed
    assert_eq!(diffs[2].removed, ["exdir/old.txt", "layer2.txt"]);
}

#[test]
fn claircore_opaque_and_the_not_a_whiteout_trap() {
    let Some(d) = images() else { return };
    let base = file_layer(&[
        ("a/", None),
        ("a/x", Some("1")),
        ("b/", None),
        ("b/y", Some("2")),
    ]);
    let l = std::fs::read(d.join("layers/claircore-whiteout_opaque.layer.tar")).unwrap();
    let (m, _) = analyze_layers([&base[..], &l[..]], &Limits::default()).unwrap();
    let paths: Vec<&str> = m.entries().keys().map(String::as_str).collect();
    assert_eq!(paths, ["a", "b", "b/not.a.wh..wh..opq", "b/y"]);
}

#[test]
fn claircore_plain_and_advanced_whiteouts() {
    let Some(d) = images() else { return };
    let base = file_layer(&[
        ("etc/", None),
        ("etc/profile", Some("p")),
        ("etc/hosts", Some("h")),
        ("a/", None),
        ("a/a_file.txt", Some("1")),
        ("a/keep", Some("1")),
        ("a_root_file.txt", Some("r")),
        ("b/", None),
        ("b/c/", None),
        ("b/c/d", Some("d")),
    ]);
    let l1 = std::fs::read(d.join("layers/claircore-whiteout.layer.tar")).unwrap();
    let l2 = std::fs::read(d.join("layers/claircore-whiteout_advanced.layer.tar")).unwrap();
    let (m, diffs) = analyze_layers([&base[..], &l1[..], &l2[..]], &Limits::default()).unwrap();
    let paths: Vec<&str> = m.entries().keys().map(String::as_str).collect();
    assert_eq!(paths, ["a", "a/keep", "etc", "etc/hosts"]);
    assert_eq!(diffs[1].removed, ["etc/profile"]);
    assert_eq!(
        diffs[2].removed,
        ["a/a_file.txt", "a_root_file.txt", "b", "b/c", "b/c/d"]
    );
}
