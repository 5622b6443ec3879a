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

    proptest::proptest! {
        #[test]
        fn normalized_archive_paths_are_strict(p in "[a./]{0,12}") {
            if let Ok(n) = normalize_archive_path(&p) {
                prop_assert_is_strict(&n);
            }
        }
    }

    fn prop_assert_is_strict(n: &str) {
        assert!(components(n, true).is_ok(), "{n:?} not strict");
    }
}
