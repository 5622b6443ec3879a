//! `layering: {strategy: origin, budget: N}` on the real Debian 12 fixture repository
//! (`deb/bookworm-mini`): two images (gawk; libzstd1 and liblzma5) that install the same glibc share its layer's blob, a
//! layered image unpacks (umoci) to exactly the tree of the one-layer build, a change to a
//! `paths` file changes only the top layer, every package layer carries its packages' `status.d`
//! entries, and trivy and syft list every package of the layered image.

mod common;
use common::scanners::{check_debian_peers, sbom_set};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const LAYERING: &str = "layering:\n  strategy: origin\n  budget: 10\n";

/// The layer digests of `oci:LAYOUT:TAG`, bottom first, each with the paths it holds.
fn layers(layout: &Path, tag: &str) -> Vec<(String, BTreeSet<String>)> {
    common::image_layers(layout, tag)
        .into_iter()
        .map(|(digest, layer)| (digest, layer.entries.into_keys().collect()))
        .collect()
}

/// The packages whose `status.d` entry a layer holds.
fn status_entries(paths: &BTreeSet<String>) -> BTreeSet<String> {
    paths
        .iter()
        .filter_map(|p| p.strip_prefix("var/lib/dpkg/status.d/"))
        .filter(|p| !p.ends_with(".md5sums"))
        .map(str::to_string)
        .collect()
}

/// Every path under `root` with its type, mode, owner and content (or link target).
fn tree_view(root: &Path) -> BTreeMap<String, (String, u32, u32, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let what = if md.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if md.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else {
                format!("file {}", sha256(&std::fs::read(&p).unwrap()))
            };
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(rel, (what, md.mode() & 0o7777, md.uid(), md.gid()));
        }
    }
    out
}

#[test]
fn layered_images_share_glibc_and_unpack_to_the_one_layer_tree() {
    let Some(fix) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let one = d.path().join("one");
    let gawk = d.path().join("gawk");
    let bzip2 = d.path().join("bzip2");
    let digest_one = build(
        d.path(),
        &fixture_config(&fix, "gawk", ""),
        &format!("oci:{}:t", one.display()),
        &cache,
        &[],
    );
    let digest_gawk = build(
        d.path(),
        &fixture_config(&fix, "gawk", LAYERING),
        &format!("oci:{}:t", gawk.display()),
        &cache,
        &[],
    );
    assert_ne!(digest_one, digest_gawk);
    build(
        d.path(),
        &fixture_config(&fix, "libzstd1, liblzma5", LAYERING),
        &format!("oci:{}:t", bzip2.display()),
        &cache,
        &[],
    );
    assert_eq!(layers(&one, "t").len(), 1);
    let gawk_layers = layers(&gawk, "t");
    let bzip2_layers = layers(&bzip2, "t");
    assert!(
        gawk_layers.len() > 2 && gawk_layers.len() <= 11,
        "{}",
        gawk_layers.len()
    );

    // the glibc layer is one blob in both images
    let glibc = |ls: &[(String, BTreeSet<String>)]| {
        ls.iter()
            .find(|(_, p)| status_entries(p).contains("libc6"))
            .map(|(d, p)| (d.clone(), status_entries(p)))
            .expect("a layer holds libc6")
    };
    let (g1, in_g1) = glibc(&gawk_layers);
    let (g2, _) = glibc(&bzip2_layers);
    assert_eq!(g1, g2, "the libc6 layer is shared");
    assert_eq!(in_g1, BTreeSet::from(["libc6".to_string()]));

    // each package layer holds its packages' database entries, the top layer none; every
    // installed package is in one layer
    let (top, below) = gawk_layers.split_last().unwrap();
    assert!(status_entries(&top.1).is_empty());
    let mut seen = BTreeSet::new();
    for (digest, paths) in below {
        let pkgs = status_entries(paths);
        assert!(
            !pkgs.is_empty(),
            "{digest} holds no package entry: {paths:?}"
        );
        assert!(pkgs.iter().all(|p| seen.insert(p.clone())), "{pkgs:?}");
    }
    let sbom: BTreeSet<String> = sbom_set(&format!("oci:{}:t", gawk.display()))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(seen, sbom);

    // umoci: the layered image unpacks to the one-layer tree (types, modes, owners, content)
    if tool("umoci") && is_root() {
        let r1 = unpack(&one, "t", &d.path().join("b1"));
        let r2 = unpack(&gawk, "t", &d.path().join("b2"));
        let (v1, v2) = (tree_view(&r1), tree_view(&r2));
        assert!(v1.len() > 50, "{}", v1.len());
        if v1 != v2 {
            let diff: Vec<_> = v1
                .iter()
                .filter(|(k, v)| v2.get(*k) != Some(v))
                .map(|(k, _)| k)
                .chain(v2.keys().filter(|k| !v1.contains_key(*k)))
                .take(20)
                .collect();
            panic!("the layered tree differs at {diff:?}");
        }
        // trivy and syft see every package of the layered image, as whittle sbom lists them
        check_debian_peers(&gawk, "t", &d.path().join("peers"), &r2, "12");
    } else if !is_root() {
        skip("root (umoci keeps owners only as root)");
    }
}

#[test]
fn a_paths_change_changes_only_the_top_layer() {
    let Some(fix) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let mut digests = Vec::new();
    for text in ["one", "two"] {
        let dir = d.path().join(text);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("motd"), text).unwrap();
        let extra = format!(
            "{LAYERING}paths:\n  - path: /etc/motd\n    type: local\n    source: motd\n    permissions: 0o644\n"
        );
        build(
            &dir,
            &fixture_config(&fix, "gawk", &extra),
            &format!("oci:{}:t", dir.join("img").display()),
            &cache,
            &[],
        );
        let ls = layers(&dir.join("img"), "t");
        assert!(ls.last().unwrap().1.contains("etc/motd"));
        digests.push(ls.into_iter().map(|(d, _)| d).collect::<Vec<_>>());
    }
    let (a, b) = (&digests[0], &digests[1]);
    assert_eq!(a.len(), b.len());
    assert_eq!(
        a[..a.len() - 1],
        b[..b.len() - 1],
        "the package layers stay"
    );
    assert_ne!(a.last(), b.last(), "the top layer holds the changed file");
}

#[test]
fn layering_is_checked_like_apko() {
    let d = tempfile::tempdir().unwrap();
    let write = |yaml: &str| {
        let p = d.path().join("bad.yaml");
        std::fs::write(&p, format!("contents:\n  packages: []\n{yaml}")).unwrap();
        p
    };
    let err = run_fail(
        whittle()
            .args(["build", "-o", "oci:x:t"])
            .arg(write("layering:\n  strategy: size\n  budget: 3\n")),
    );
    assert!(err.contains("unknown layering strategy `size`"), "{err}");
    let err = run_fail(
        whittle()
            .args(["build", "-o", "oci:x:t"])
            .arg(write("layering:\n  strategy: origin\n  budget: 500\n")),
    );
    assert!(err.contains("layering budget 500 is too large"), "{err}");
}

/// The stanzas' package names (`P:`) of an APK installed database.
fn installed_names(db: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(db)
        .lines()
        .filter_map(|l| l.strip_prefix("P:"))
        .map(str::to_string)
        .collect()
}

/// The bytes of `path` in each layer of `oci:LAYOUT:TAG` (bottom first), `None` where absent.
fn file_in_layers(layout: &Path, tag: &str, path: &str) -> Vec<Option<Vec<u8>>> {
    common::image_layers(layout, tag)
        .into_iter()
        .map(|(_, mut layer)| layer.entries.remove(path).map(|(_, bytes)| bytes))
        .collect()
}

#[test]
fn apk_layers_carry_their_packages_installed_db_stanzas() {
    use common::apk::{Pkg, signed_repo};
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    let big = vec![7u8; 20_000];
    let key = signed_repo(
        &repo,
        &[
            Pkg {
                name: "musl",
                version: "1.2.4-r0",
                extra: "origin = musl\n",
                files: vec![
                    ("usr/", b"", 0o755, None),
                    ("usr/lib/", b"", 0o755, None),
                    ("usr/lib/ld-musl-x86_64.so.1", &big, 0o755, None),
                ],
            },
            Pkg {
                name: "musl-utils",
                version: "1.2.4-r0",
                extra: "origin = musl\n",
                files: vec![
                    ("usr/", b"", 0o755, None),
                    ("usr/bin/", b"", 0o755, None),
                    ("usr/bin/ldd", b"#!/bin/false\n", 0o755, None),
                ],
            },
            Pkg {
                name: "app",
                version: "2-r0",
                extra: "origin = app\n",
                files: vec![
                    ("usr/", b"", 0o755, None),
                    ("usr/bin/", b"", 0o755, None),
                    ("usr/bin/app", b"app\n", 0o755, None),
                ],
            },
            Pkg::wolfi_baselayout(),
        ],
    );
    let config = |layering: &str| {
        format!(
            "contents:\n  keyring:\n    - {}\n  repositories:\n    - {}\n  packages: [app, musl, musl-utils, wolfi-baselayout]\narchs: [x86_64]\n{layering}",
            key.display(),
            repo.display()
        )
    };
    let cache = d.path().join("cache");
    let one = d.path().join("one");
    let layered = d.path().join("layered");
    build(
        d.path(),
        &config(""),
        &format!("oci:{}:t", one.display()),
        &cache,
        &[],
    );
    build(
        d.path(),
        &config(LAYERING),
        &format!("oci:{}:t", layered.display()),
        &cache,
        &[],
    );

    // musl and musl-utils (one origin) share the largest layer, then app and the baselayout;
    // each package layer's database names its packages only, the top layer's all of them
    let dbs = file_in_layers(&layered, "t", "lib/apk/db/installed");
    let names: Vec<BTreeSet<String>> = dbs
        .iter()
        .map(|db| installed_names(db.as_deref().expect("every layer has lib/apk/db/installed")))
        .collect();
    let set = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[0], set(&["musl", "musl-utils"]));
    assert_eq!(
        names[1..3].iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([set(&["app"]), set(&["wolfi-baselayout"])])
    );
    assert_eq!(
        names[3],
        set(&["app", "musl", "musl-utils", "wolfi-baselayout"])
    );
    // the top layer's database is the one-layer image's
    assert_eq!(dbs[3], file_in_layers(&one, "t", "lib/apk/db/installed")[0]);
    let listed: BTreeSet<String> = sbom_set(&format!("oci:{}:t", layered.display()))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(listed, names[3]);

    if tool("umoci") && is_root() {
        let v1 = tree_view(&unpack(&one, "t", &d.path().join("b1")));
        let v2 = tree_view(&unpack(&layered, "t", &d.path().join("b2")));
        assert_eq!(
            v1, v2,
            "the layered APK image unpacks to the one-layer tree"
        );
    } else if !is_root() {
        skip("root (umoci keeps owners only as root)");
    }
}

#[test]
fn layered_python_and_gawk_from_the_mirror_share_glibc_and_python_runs() {
    if !whittle_testutil::mirror() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for (name, packages) in [("py", "python3"), ("gk", "gawk")] {
        let config = format!(
            "{}entrypoint:\n  command: /usr/bin/{packages}\n{LAYERING}",
            mirror_config("bookworm", packages, "", "amd64")
        );
        build_logged(d.path(), name, &config);
    }
    let glibc = |name: &str| {
        layers(&d.path().join(name), "t")
            .into_iter()
            .find(|(_, p)| status_entries(p).contains("libc6"))
            .map(|(digest, _)| digest)
            .expect("a layer holds libc6")
    };
    assert_eq!(
        glibc("py"),
        glibc("gk"),
        "python3 and gawk share the glibc blob"
    );
    if tool("umoci") && tool("runc") && is_root() {
        let bundle = d.path().join("bundle");
        unpack(&d.path().join("py"), "t", &bundle);
        let (code, out, err) = runc(&bundle, &["/usr/bin/python3", "-c", "print(6*7)"]);
        assert_eq!((code, out.trim()), (0, "42"), "{err}");
    } else if !is_root() {
        skip("root (runc)");
    }
}
