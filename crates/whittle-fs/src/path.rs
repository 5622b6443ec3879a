//! Tree path validation and normalization helpers.

use crate::error::{Error, Result};

/// Split a strict tree path into its components.
///
/// A tree path is relative, `/`-separated and normalized: no leading `/`, no empty, `.` or `..`
/// components, no NUL bytes. The empty string is the root only when `allow_root` is set.
pub(crate) fn components(path: &str, allow_root: bool) -> Result<Vec<&str>> {
    let bad = |reason| Error::InvalidPath {
        path: path.to_string(),
        reason,
    };
    if path.is_empty() {
        return if allow_root {
            Ok(Vec::new())
        } else {
            Err(bad("the path is empty (the root cannot be replaced)"))
        };
    }
    if path.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    if path.contains('\0') {
        return Err(bad("NUL bytes are not allowed"));
    }
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" => return Err(bad("empty component (`//` or a trailing `/`)")),
            "." => return Err(bad("`.` component")),
            ".." => return Err(bad("`..` component")),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Normalize a path as found in a package archive (`./usr/bin/ls`, `/etc/`, `usr//lib`) into a
/// strict tree path (`usr/bin/ls`, `etc`, `usr/lib`).
///
/// Leading `/` and `./`, empty and `.` components and a trailing `/` are dropped; `..` anywhere is
/// rejected (an archive must never write outside its target). The root (`./` or `/`) normalizes to
/// the empty string.
pub fn normalize_archive_path(path: &str) -> Result<String> {
    if path.contains('\0') {
        return Err(Error::InvalidPath {
            path: path.to_string(),
            reason: "NUL bytes are not allowed",
        });
    }
    let mut out = String::with_capacity(path.len());
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::InvalidPath {
                    path: path.to_string(),
                    reason: "`..` component (the archive tries to leave its target)",
                });
            }
            _ => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    Ok(out)
}

/// Whether the symlink at tree path `link` (where it landed, its parent symlinks followed, as
/// [`crate::Tree::insert`] reports it) with `target` climbs above the root directory when its
/// target is read literally: a relative target with more `..` than the link has parent
/// directories (`usr/bin/x -> ../../../etc/shadow`), or an absolute one whose `..` go above `/`
/// (`/../etc/shadow`). Inside the image such a link resolves anyway (`..` stops at the root,
/// in the tree and in the kernel); it is worth a warning because no package needs one: it only
/// works against tools that extract a layer without confining it.
///
/// Absolute targets that stay below `/` (`/usr/bin/x -> /etc/alternatives/x`) are not
/// reported: Debian policy asks for absolute links between top-level directories, and they
/// resolve inside the image like any path.
pub fn symlink_climbs_above_root(link: &str, target: &str) -> bool {
    let mut depth = if target.starts_with('/') {
        0
    } else {
        link.split('/').count().saturating_sub(1)
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

/// Join a resolved directory path (empty = root) and a name.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        let mut s = String::with_capacity(dir.len() + 1 + name.len());
        s.push_str(dir);
        s.push('/');
        s.push_str(name);
        s
    }
}

/// The parent of a tree path (empty = root).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_components() {
        assert_eq!(
            components("usr/bin/ls", false).unwrap(),
            ["usr", "bin", "ls"]
        );
        assert!(components("", true).unwrap().is_empty());
        for bad in ["", "/etc", "a//b", "a/", "./a", "a/../b", "..", "a\0b"] {
            assert!(
                matches!(components(bad, false), Err(Error::InvalidPath { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn archive_paths() {
        assert_eq!(
            normalize_archive_path("./usr/bin/ls").unwrap(),
            "usr/bin/ls"
        );
        assert_eq!(normalize_archive_path("/etc/").unwrap(), "etc");
        assert_eq!(normalize_archive_path("usr//./lib").unwrap(), "usr/lib");
        assert_eq!(normalize_archive_path("./").unwrap(), "");
        assert!(normalize_archive_path("./usr/../../etc/passwd").is_err());
        assert!(normalize_archive_path("..").is_err());
    }

    #[test]
    fn join_and_parent() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a/b", "c"), "a/b/c");
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
    }

    #[test]
    fn symlinks_climbing_above_the_root() {
        for (link, target) in [
            ("usr/bin/c", "../../../etc/x"),
            ("a", ".."),
            ("a", "../etc"),
            ("usr/bin/x", "/../etc/shadow"),
            ("usr/bin/x", "/usr/../../etc/shadow"),
            ("usr/bin/x", "../lib/../../../y"),
            ("usr/bin/x", "./.././../../y"),
        ] {
            assert!(
                symlink_climbs_above_root(link, target),
                "{link} -> {target}"
            );
        }
        for (link, target) in [
            ("usr/bin/awk", "/etc/alternatives/awk"),
            ("usr/bin/c", "../../etc/x"),
            ("usr/lib/x86_64-linux-gnu/libz.so", "libz.so.1"),
            ("lib", "usr/lib"),
            ("a", "."),
            ("usr/bin/x", "/"),
            ("usr/bin/x", "/usr/./bin"),
            ("usr/share/doc/a", "../b/../b"),
        ] {
            assert!(
                !symlink_climbs_above_root(link, target),
                "{link} -> {target}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn normalized_archive_paths_are_strict(p in "[a./]{0,12}") {
            if let Ok(n) = normalize_archive_path(&p) {
                prop_assert_is_strict(&n);
            }
        }

        /// A link flagged as climbing is exactly one whose target, resolved literally with
        /// `..` stopping at the root, differs from the same resolution with `..` allowed to go
        /// negative; links not flagged never need the stop.
        #[test]
        fn climbing_matches_a_literal_resolution(
            link in "[ab]{1,2}(/[ab]{1,2}){0,3}",
            target in "/?(\\.\\.|\\.|[ab]{1,2})(/(\\.\\.|\\.|[ab]{1,2})){0,5}",
        ) {
            let mut stack: Vec<&str> = if target.starts_with('/') {
                Vec::new()
            } else {
                link.split('/').collect::<Vec<_>>()[..link.split('/').count() - 1].to_vec()
            };
            let mut climbed = false;
            for c in target.split('/') {
                match c {
                    "" | "." => {}
                    ".." => climbed |= stack.pop().is_none(),
                    c => stack.push(c),
                }
            }
            proptest::prop_assert_eq!(symlink_climbs_above_root(&link, &target), climbed);
        }
    }

    fn prop_assert_is_strict(n: &str) {
        assert!(components(n, true).is_ok(), "{n:?} not strict");
    }
}
