//! apko's `origin` layering: the assembled tree split into layers that other images can share.
//!
//! The packages are installed into one tree as for a one-layer image (so merged-/usr links,
//! overlaps, `paths` and native files land exactly where they would), then the tree is
//! partitioned:
//!
//! - packages are grouped by origin (Debian `Source`, APK `o:`, else the name); the groups are
//!   sorted by the bytes their files hold (largest first, ties by the greatest package name), the
//!   `budget - 1` largest (at least one) get a layer each and the rest share one more, as apko's
//!   `groupByOriginAndSize` does: at most `max(budget, 1)` package layers;
//! - every file, link and hard link a package wrote (as it is in the final tree) goes in its
//!   group's layer, with the directories above it (their final mode and owner); a hard link goes
//!   where the file it names goes;
//! - each package's database entry goes with its files: Debian's `status.d` files are the
//!   package's own files; for APK, whose installed database is one file, each package layer
//!   carries a `lib/apk/db/installed` holding its packages' stanzas, as apko writes it, so a
//!   scanner reading a layer alone sees the packages in it;
//! - everything else (directories, the full APK database, OS files, accounts, `paths`, what
//!   whittle writes natively) goes in the top layer, written last, so the layers unpack to
//!   exactly the one-layer tree.
//!
//! A package layer's timestamp is the newest file time of its own packages (or the build's
//! `SOURCE_DATE_EPOCH`), never the image's: its bytes depend only on what it holds, and two images
//! that install the same glibc share the glibc layer's blob.

use crate::Error;
use crate::source::PackageFiles;
use std::collections::BTreeMap;
use whittle_fs::{Node, Tree};

/// Where the APK installed database lies (through `lib -> usr/lib` when the tree has it).
const APK_INSTALLED: &str = "lib/apk/db/installed";

/// One layer to write: its tree, its timestamp and what it holds (for the image history).
pub struct LayerPlan {
    /// The files of the layer.
    pub tree: Tree,
    /// Its timestamp.
    pub mtime: u64,
    /// The packages it holds, in install order (empty for the top layer).
    pub packages: Vec<String>,
}

/// Groups the packages (indices into `packages`) by origin and size, as apko does; `budget` 0
/// is taken as 1 (apko: "even if budget == 0, we want 1 group").
pub fn groups(packages: &[PackageFiles], tree: &Tree, budget: u32) -> Vec<Vec<usize>> {
    let owners = owners(packages);
    let mut sizes = vec![0u64; packages.len()];
    for (path, &i) in &owners {
        if let Some(Node::File(d)) = tree.get(path).map(|e| &e.node) {
            sizes[i] += d.len();
        }
    }
    let mut by_origin: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in packages.iter().enumerate() {
        by_origin.entry(&p.origin).or_default().push(i);
    }
    let mut groups: Vec<(u64, &str, Vec<usize>)> = by_origin
        .into_values()
        .map(|members| {
            let size = members.iter().map(|&i| sizes[i]).sum();
            let tiebreak = members
                .iter()
                .map(|&i| packages[i].name.as_str())
                .max()
                .unwrap_or_default();
            (size, tiebreak, members)
        })
        .collect();
    groups.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let budget = usize::try_from(budget).unwrap_or(usize::MAX);
    let mut out: Vec<Vec<usize>> = Vec::with_capacity(groups.len().min(budget.max(1)));
    if groups.len() > budget {
        let cutoff = budget.saturating_sub(1);
        let mut rest = Vec::new();
        for (n, (_, _, members)) in groups.into_iter().enumerate() {
            if n < cutoff {
                out.push(members);
            } else {
                rest.extend(members);
            }
        }
        out.push(rest);
    } else {
        out.extend(groups.into_iter().map(|g| g.2));
    }
    for g in &mut out {
        g.sort_unstable();
    }
    out
}

/// Each path a package wrote, with the package that wrote it last (the one whose file is in the
/// tree).
fn owners(packages: &[PackageFiles]) -> BTreeMap<&str, usize> {
    let mut owners = BTreeMap::new();
    for (i, p) in packages.iter().enumerate() {
        for path in &p.paths {
            owners.insert(path.as_str(), i);
        }
    }
    owners
}

/// Splits `tree` into the layers of `groups` (see [`groups`]) plus the top layer, bottom first.
/// `mtime` is the image's timestamp; `fixed` says it was given (`SOURCE_DATE_EPOCH`) and holds
/// for every layer.
pub fn split(
    tree: &Tree,
    packages: &[PackageFiles],
    groups: &[Vec<usize>],
    mtime: u64,
    fixed: bool,
) -> Result<Vec<LayerPlan>, Error> {
    refuse_package_whiteouts(packages)?;
    let owners = owners(packages);
    let mut layer_of_package = vec![groups.len(); packages.len()];
    for (l, g) in groups.iter().enumerate() {
        for &i in g {
            if let Some(slot) = layer_of_package.get_mut(i) {
                *slot = l;
            }
        }
    }
    let top = groups.len();
    let mut plans: Vec<LayerPlan> = groups
        .iter()
        .map(|g| LayerPlan {
            tree: crate::image_tree(),
            mtime: if fixed {
                mtime
            } else {
                g.iter()
                    .filter_map(|&i| packages.get(i))
                    .map(|p| p.newest_mtime)
                    .max()
                    .unwrap_or(mtime)
            },
            packages: g
                .iter()
                .filter_map(|&i| packages.get(i))
                .map(|p| p.name.clone())
                .collect(),
        })
        .collect();
    plans.push(LayerPlan {
        tree: crate::image_tree(),
        mtime,
        packages: Vec::new(),
    });
    let layer_of = |path: &str| -> usize {
        owners
            .get(path)
            .and_then(|&i| layer_of_package.get(i).copied())
            .unwrap_or(top)
    };
    for (path, entry) in tree.walk() {
        let layer = match &entry.node {
            Node::Dir => top,
            Node::Hardlink(target) => layer_of(hardlink_file(tree, target)),
            Node::File(_) | Node::Symlink(_) => layer_of(path),
        };
        put(tree, &mut plans[layer].tree, path)?;
    }
    // APK: each package layer carries its packages' stanzas of the installed database
    let installed = tree.real_path(APK_INSTALLED).ok();
    if let Some(installed) = installed.filter(|p| tree.get(p).is_some()) {
        let meta = tree.get(&installed).map(|e| e.meta);
        for (plan, g) in plans.iter_mut().zip(groups) {
            let db: String = g
                .iter()
                .filter_map(|&i| packages.get(i)?.db_entry.as_deref())
                .collect();
            if db.is_empty() {
                continue;
            }
            put_dirs(tree, &mut plan.tree, &installed)?;
            plan.tree.insert(
                &installed,
                Node::file(db.into_bytes()),
                meta.unwrap_or_else(|| whittle_fs::Meta::root(0o644)),
            )?;
        }
    }
    Ok(plans)
}

/// Refuses a package file whose name (or a directory's on its way) starts with `.wh.`: every
/// unpacker reads it as a whiteout, so in a layer above another (a package layer, or the layer
/// over a base image) it would delete the lower layer's file (`usr/lib/.wh.libc.so.6` shipped
/// by one package hides another's libc), and alone it unpacks to nothing: the image would not
/// be the tree. Files no package owns may be whiteouts on purpose (what a build on a base
/// image removes from it).
pub(crate) fn refuse_package_whiteouts(packages: &[PackageFiles]) -> Result<(), Error> {
    for p in packages {
        for path in &p.paths {
            // a directory on the way is an entry of the layer too (`usr/.wh.lib/x`)
            if path
                .split('/')
                .any(|c| c.starts_with(whittle_fs::WHITEOUT_PREFIX))
            {
                return Err(Error::Package {
                    package: p.name.clone(),
                    message: format!(
                        "/{} is named like an OCI whiteout ({}…): runtimes would delete another file instead of unpacking it; leave it out with `paths` or drop the package",
                        path.chars().take(200).collect::<String>(),
                        whittle_fs::WHITEOUT_PREFIX
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The file a hard link names, following chains of hard links (a chain longer than the tree, a
/// loop, ends where it is: writing the layer refuses it).
fn hardlink_file<'a>(tree: &'a Tree, target: &'a str) -> &'a str {
    let mut cur = target;
    for _ in 0..tree.len() {
        match tree.get(cur).map(|e| &e.node) {
            Some(Node::Hardlink(t)) => cur = t,
            _ => break,
        }
    }
    cur
}

/// Copies the directories above `path` from `tree` into `layer` (with their final metadata).
fn put_dirs(tree: &Tree, layer: &mut Tree, path: &str) -> Result<(), Error> {
    let mut at = 0;
    while let Some(slash) = path[at..].find('/') {
        let dir = &path[..at + slash];
        if layer.get(dir).is_none()
            && let Some(e) = tree.get(dir)
        {
            layer.insert(dir, Node::Dir, e.meta)?;
        }
        at += slash + 1;
    }
    Ok(())
}

/// Copies the entry at `path` (a tree path from [`Tree::walk`]) with the directories above it.
fn put(tree: &Tree, layer: &mut Tree, path: &str) -> Result<(), Error> {
    put_dirs(tree, layer, path)?;
    if let Some(e) = tree.get(path) {
        layer.insert(path, e.node.clone(), e.meta)?;
    }
    Ok(())
}

/// The paths of every layer, for tests: each tree path is in exactly one layer, except
/// directories, which the top layer holds and package layers repeat above their files.
#[cfg(test)]
fn paths(plans: &[LayerPlan]) -> Vec<std::collections::BTreeSet<String>> {
    plans
        .iter()
        .map(|p| p.tree.walk().map(|(p, _)| p.to_string()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_fs::Meta;

    fn pkg(name: &str, origin: &str, paths: &[&str], newest: u64) -> PackageFiles {
        PackageFiles {
            name: name.into(),
            origin: origin.into(),
            paths: paths.iter().map(|s| s.to_string()).collect(),
            db_entry: Some(format!("P:{name}\n\n")),
            newest_mtime: newest,
        }
    }

    fn tree() -> Tree {
        let mut t = Tree::new();
        t.insert("usr/lib", Node::Dir, Meta::root(0o755)).unwrap();
        t.insert("lib", Node::symlink("usr/lib"), Meta::root(0o777))
            .unwrap();
        let f = |t: &mut Tree, p: &str, n: usize| {
            t.insert(p, Node::file(vec![1u8; n]), Meta::root(0o644))
                .unwrap();
        };
        f(&mut t, "usr/lib/libc.so.6", 1000);
        f(&mut t, "usr/lib/libm.so.6", 300);
        f(&mut t, "usr/bin/gawk", 500);
        f(&mut t, "usr/bin/tiny", 10);
        t.insert(
            "usr/bin/awk",
            Node::hardlink("usr/bin/gawk"),
            Meta::root(0o755),
        )
        .unwrap();
        f(&mut t, "etc/motd", 5);
        t.insert("etc/secret", Node::Dir, Meta::new(0o700, 7, 7))
            .unwrap();
        f(&mut t, "etc/secret/key", 5);
        f(&mut t, "usr/lib/apk/db/installed", 40);
        t
    }

    fn packages() -> Vec<PackageFiles> {
        vec![
            pkg("libc6", "glibc", &["usr/lib/libc.so.6"], 10),
            pkg("libm", "glibc", &["usr/lib/libm.so.6"], 20),
            pkg("gawk", "gawk", &["usr/bin/gawk", "usr/bin/awk"], 30),
            pkg("tiny", "tiny", &["usr/bin/tiny", "etc/secret/key"], 40),
        ]
    }

    #[test]
    fn groups_by_origin_largest_first_within_the_budget() {
        let t = tree();
        let p = packages();
        assert_eq!(groups(&p, &t, 10), vec![vec![0, 1], vec![2], vec![3]]);
        // budget 2: one group of its own, the rest share the second
        assert_eq!(groups(&p, &t, 2), vec![vec![0, 1], vec![2, 3]]);
        // budget 0 and 1: one package layer (apko's "even if budget == 0")
        assert_eq!(groups(&p, &t, 1), vec![vec![0, 1, 2, 3]]);
        assert_eq!(groups(&p, &t, 0), vec![vec![0, 1, 2, 3]]);
        assert!(groups(&[], &t, 3).is_empty());
    }

    #[test]
    fn split_partitions_the_tree_and_keeps_databases_with_packages() {
        let t = tree();
        let p = packages();
        let g = groups(&p, &t, 10);
        let plans = split(&t, &p, &g, 99, false).unwrap();
        assert_eq!(plans.len(), 4);
        let paths = paths(&plans);
        assert!(paths[0].contains("usr/lib/libc.so.6") && paths[0].contains("usr/lib/libm.so.6"));
        // the hard link goes with its file
        assert!(paths[1].contains("usr/bin/gawk") && paths[1].contains("usr/bin/awk"));
        // a directory above a package file keeps its final mode and owner in the package layer
        assert_eq!(
            plans[2].tree.get("etc/secret").unwrap().meta,
            Meta::new(0o700, 7, 7)
        );
        // unowned files, every directory and the full database are in the top layer
        let top = &paths[3];
        assert!(top.contains("etc/motd") && top.contains("lib") && top.contains("etc/secret"));
        assert!(!top.contains("usr/lib/libc.so.6"));
        let db = |i: usize| match &plans[i].tree.get("usr/lib/apk/db/installed").unwrap().node {
            Node::File(d) => String::from_utf8(d.read_to_vec().unwrap()).unwrap(),
            _ => panic!(),
        };
        assert_eq!(db(0), "P:libc6\n\nP:libm\n\n");
        assert_eq!(db(2), "P:tiny\n\n");
        assert_eq!(db(3), "\u{1}".repeat(40));
        // timestamps: a package layer's own newest, the top layer the image's
        assert_eq!(
            plans.iter().map(|p| p.mtime).collect::<Vec<_>>(),
            [20, 30, 40, 99]
        );
        assert_eq!(split(&t, &p, &g, 5, true).unwrap()[0].mtime, 5);
        // every non-directory entry is in exactly one layer (apart from the partial databases)
        for (path, e) in t.walk() {
            let n = paths.iter().filter(|s| s.contains(path)).count();
            if !e.node.is_dir() && path != "usr/lib/apk/db/installed" {
                assert_eq!(n, 1, "{path}");
            }
        }
    }

    /// A package's `usr/lib/.wh.libc.so.6`, in a layer above glibc's, would delete libc when
    /// the image is unpacked: refused, naming the package and the path.
    #[test]
    fn a_file_named_like_a_whiteout_is_refused() {
        let mut t = tree();
        t.insert(
            "usr/lib/.wh.libc.so.6",
            Node::file(vec![0]),
            Meta::root(0o644),
        )
        .unwrap();
        let mut p = packages();
        p[3].paths.push("usr/lib/.wh.libc.so.6".into());
        let g = groups(&p, &t, 10);
        let e = split(&t, &p, &g, 1, false).err().unwrap().to_string();
        assert!(
            e.starts_with("package tiny: /usr/lib/.wh.libc.so.6 is named like an OCI whiteout"),
            "{e}"
        );
        // the opaque marker too; a whiteout no package owns (a base image's removal) is kept
        let mut t = tree();
        t.insert("etc/.wh..wh..opq", Node::file(vec![]), Meta::root(0o644))
            .unwrap();
        t.insert("etc/.wh.gone", Node::file(vec![]), Meta::root(0o644))
            .unwrap();
        let mut p = packages();
        assert!(split(&t, &p, &g, 1, false).is_ok());
        p[0].paths.push("etc/.wh..wh..opq".into());
        let e = split(&t, &p, &g, 1, false).err().unwrap().to_string();
        assert!(
            e.contains("package libc6: /etc/.wh..wh..opq is named like"),
            "{e}"
        );
        // a directory so named, above a package's file
        let mut t = tree();
        t.insert("usr/.wh.lib/x", Node::file(vec![]), Meta::root(0o644))
            .unwrap();
        let mut p = packages();
        p[2].paths.push("usr/.wh.lib/x".into());
        let e = split(&t, &p, &g, 1, false).err().unwrap().to_string();
        assert!(
            e.contains("package gawk: /usr/.wh.lib/x is named like"),
            "{e}"
        );
    }

    #[test]
    fn merged_layers_are_the_tree() {
        let t = tree();
        let p = packages();
        let plans = split(&t, &p, &groups(&p, &t, 3), 1, false).unwrap();
        let mut overlay = whittle_fs::Overlay::new();
        for plan in &plans {
            let tar = whittle_fs::tar_layer(&plan.tree, plan.mtime).unwrap();
            overlay.apply_layer(&tar.tar[..]).unwrap();
        }
        let (merged, want) = (flat(overlay.tree()), flat(&t));
        assert!(merged == want, "{merged:?}\n{want:?}");
    }

    /// Every entry of `t`, hard links as what they lead to (which path of a group is the file is
    /// the tar's choice).
    fn flat(t: &Tree) -> Vec<(String, String, Meta)> {
        t.walk()
            .map(|(p, e)| {
                let e = match &e.node {
                    Node::Hardlink(target) => t.get(hardlink_file(t, target)).unwrap(),
                    _ => e,
                };
                let what = match &e.node {
                    Node::File(d) => format!("file {:?}", &d.read_to_vec().unwrap()[..]),
                    n => format!("{n:?}"),
                };
                (p.to_string(), what, e.meta)
            })
            .collect()
    }

    /// The tree the layers unpack to, applied bottom first.
    fn merged(plans: &[LayerPlan]) -> Tree {
        let mut overlay = whittle_fs::Overlay::new();
        for plan in plans {
            let tar = whittle_fs::tar_layer(&plan.tree, plan.mtime).unwrap();
            overlay.apply_layer(&tar.tar[..]).unwrap();
        }
        overlay.tree().clone()
    }

    proptest::proptest! {
        /// Whatever the packages own and the budget, the layers unpack to the tree, and every
        /// file is in one layer.
        #[test]
        fn layers_always_unpack_to_the_tree(
            files in proptest::collection::btree_map(
                (0usize..4, 0usize..6),
                (0usize..5, 1usize..50, proptest::bool::ANY),
                1..24,
            ),
            dir_modes in proptest::collection::vec((0o700u32..0o1000, 0u32..3), 4),
            origins in proptest::collection::vec(0usize..3, 4),
            budget in 0u32..6,
        ) {
            let dirs = ["usr/lib", "usr/bin", "etc/x", "var/lib/y"];
            let mut t = Tree::new();
            for (d, (mode, owner)) in dirs.iter().zip(&dir_modes) {
                t.insert(d, Node::Dir, Meta::new(*mode, *owner, *owner)).unwrap();
            }
            let mut packages: Vec<PackageFiles> = (0..4)
                .map(|i| PackageFiles {
                    name: format!("p{i}"),
                    origin: format!("o{}", origins[i]),
                    newest_mtime: i as u64,
                    ..Default::default()
                })
                .collect();
            let mut first: Option<String> = None;
            for ((d, f), (owner, size, link)) in &files {
                let path = format!("{}/f{f}", dirs[*d]);
                match (&first, link) {
                    (Some(target), true) => {
                        t.insert(&path, Node::hardlink(target.clone()), Meta::root(0o644)).unwrap();
                    }
                    _ => {
                        t.insert(&path, Node::file(vec![*f as u8; *size]), Meta::root(0o644)).unwrap();
                        first.get_or_insert(path.clone());
                    }
                }
                if let Some(p) = packages.get_mut(*owner) {
                    p.paths.push(path);
                }
            }
            let g = groups(&packages, &t, budget);
            proptest::prop_assert!(g.len() <= budget.max(1) as usize);
            let plans = split(&t, &packages, &g, 9, false).unwrap();
            proptest::prop_assert_eq!(flat(&merged(&plans)), flat(&t));
            for (path, e) in t.walk() {
                if !e.node.is_dir() {
                    let n = plans.iter().filter(|p| p.tree.get(path).is_some()).count();
                    proptest::prop_assert_eq!(n, 1, "{}", path);
                }
            }
        }
    }
}
