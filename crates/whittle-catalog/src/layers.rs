//! Streaming over layer tars, keeping only the files a catalog needs, with OCI whiteouts applied.
//!
//! Whiteout rules (OCI image spec, "Representing Changes"): in a layer, `dir/.wh.name` deletes
//! `dir/name` (and everything under it) from the layers below; `dir/.wh..wh..opq` deletes
//! everything under `dir/` from the layers below but keeps what the same layer adds. An entry
//! that is not a regular file (a directory, symlink, device…) replaces a lower file of the same
//! path, and a non-directory replaces a lower directory with all its contents.

use std::collections::BTreeMap;
use std::io::Read;

use crate::CatalogError;

/// Largest single kept file (the dpkg `status` file or apk installed DB): 128 MiB.
pub const MAX_FILE_BYTES: u64 = 128 << 20;
/// Largest `os-release`, release file (`debian_version`, `alpine-release`) or `status.d` entry:
/// 1 MiB.
pub const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;
/// Largest total of the kept files: 512 MiB.
pub const MAX_TOTAL_BYTES: u64 = 512 << 20;

/// What to do with a file found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Keep it; larger than this is an error.
    Keep(u64),
    /// Keep it when not larger than this, else skip it silently (best-effort data).
    KeepSmall(u64),
}

/// Whether the catalog needs the file at `path` (normalized, no leading `/`), and its limit.
pub fn wanted(path: &str) -> Option<Want> {
    match path {
        "etc/os-release" | "usr/lib/os-release" | "etc/debian_version" | "etc/alpine-release" => {
            Some(Want::Keep(MAX_SMALL_FILE_BYTES))
        }
        "var/lib/dpkg/status" | "lib/apk/db/installed" | "usr/lib/apk/db/installed" => {
            Some(Want::Keep(MAX_FILE_BYTES))
        }
        _ => {
            if let Some(rest) = path.strip_prefix("var/lib/dpkg/status.d/") {
                // `.md5sums` lists and scripts beside the entries are never parsed: not kept
                return (!rest.is_empty()
                    && !rest.contains('/')
                    && crate::dpkg::is_status_d_entry(rest))
                .then_some(Want::Keep(MAX_SMALL_FILE_BYTES));
            }
            let rest = path.strip_prefix("usr/share/doc/")?;
            let (pkg, file) = rest.split_once('/')?;
            (!pkg.is_empty() && file == "copyright")
                .then_some(Want::KeepSmall(whittle_sbom::MAX_COPYRIGHT_BYTES as u64))
        }
    }
}

/// Whether the catalog keeps the target of a symlink at `path`: a package's documentation
/// directory `usr/share/doc/<pkg>` that links to another package's (`libgcc-s1 → gcc-12-base`),
/// where its copyright file is. The target is kept as the entry's content.
pub fn wanted_link(path: &str) -> bool {
    path.strip_prefix("usr/share/doc/")
        .is_some_and(|pkg| !pkg.is_empty() && !pkg.contains('/'))
}

/// Longest kept symlink target.
const MAX_LINK_BYTES: usize = 4096;

/// Normalizes a tar member path: drops leading `/` and `./`, empty and `.` components and a
/// trailing `/`. Returns `None` for a path with `..` (it could escape the root) or no component.
pub fn normalize(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => return None,
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The kept files of the layers applied so far (merged view).
#[derive(Debug, Default)]
pub struct LayerFiles {
    files: BTreeMap<String, Vec<u8>>,
    total: u64,
}

fn remove_tree(map: &mut BTreeMap<String, Vec<u8>>, path: &str) -> u64 {
    let mut freed = map.remove(path).map_or(0, |v| v.len() as u64);
    let prefix = format!("{path}/");
    let doomed: Vec<String> = map
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        freed += map.remove(&k).map_or(0, |v| v.len() as u64);
    }
    freed
}

impl LayerFiles {
    /// No layer applied yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies layer `index` (an uncompressed tar stream) over the layers before it.
    pub fn apply_layer(&mut self, index: usize, stream: impl Read) -> Result<(), CatalogError> {
        let tar_err = |source| CatalogError::Tar {
            layer: index,
            source,
        };
        let mut archive = tar::Archive::new(stream);
        // files this layer adds; whiteouts in this layer never touch them
        let mut added: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut added_total = 0u64;
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let raw = entry.path_bytes();
            let Some(path) = normalize(&String::from_utf8_lossy(&raw)) else {
                continue;
            };
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (Some(d), b),
                None => (None, path.as_str()),
            };
            if base == ".wh..wh..opq" {
                match dir {
                    Some(d) => {
                        let freed = remove_tree(&mut self.files, d);
                        // the directory itself stays: only its contents go
                        self.total -= freed;
                    }
                    None => {
                        self.files.clear();
                        self.total = 0;
                    }
                }
                continue;
            }
            if let Some(name) = base.strip_prefix(".wh.") {
                let target = match dir {
                    Some(d) => format!("{d}/{name}"),
                    None => name.to_string(),
                };
                self.total -= remove_tree(&mut self.files, &target);
                continue;
            }
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                // a directory replaces a lower file of that path
                if let Some(v) = self.files.remove(&path) {
                    self.total -= v.len() as u64;
                }
                if let Some(v) = added.remove(&path) {
                    added_total -= v.len() as u64;
                }
                continue;
            }
            // any non-directory replaces a lower directory and file
            self.total -= remove_tree(&mut self.files, &path);
            if let Some(v) = added.remove(&path) {
                added_total -= v.len() as u64;
            }
            if kind.is_symlink() && wanted_link(&path) {
                if let Some(target) = entry
                    .link_name_bytes()
                    .filter(|t| t.len() <= MAX_LINK_BYTES)
                {
                    added_total += target.len() as u64;
                    added.insert(path, target.into_owned());
                }
                continue;
            }
            let Some(want) = wanted(&path) else {
                continue;
            };
            let content = if kind.is_file() || kind == tar::EntryType::Continuous {
                let size = entry.header().size().map_err(tar_err)?;
                let limit = match want {
                    Want::Keep(l) => {
                        if size > l {
                            return Err(CatalogError::TooLarge {
                                layer: index,
                                path,
                                size,
                                max: l,
                            });
                        }
                        l
                    }
                    Want::KeepSmall(l) => {
                        if size > l {
                            continue;
                        }
                        l
                    }
                };
                let mut buf = Vec::with_capacity(size as usize);
                (&mut entry)
                    .take(limit + 1)
                    .read_to_end(&mut buf)
                    .map_err(tar_err)?;
                buf
            } else if kind.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .and_then(|l| normalize(&String::from_utf8_lossy(&l)));
                match target.and_then(|t| added.get(&t).or_else(|| self.files.get(&t)).cloned()) {
                    Some(c) => c,
                    None => continue,
                }
            } else {
                // symlinks and special files: the kept file is gone, nothing to read
                continue;
            };
            added_total += content.len() as u64;
            if self.total + added_total > MAX_TOTAL_BYTES {
                return Err(CatalogError::TotalTooLarge {
                    layer: index,
                    max: MAX_TOTAL_BYTES,
                });
            }
            added.insert(path, content);
        }
        for (k, v) in added {
            self.total += v.len() as u64;
            if let Some(old) = self.files.insert(k, v) {
                self.total -= old.len() as u64;
            }
        }
        Ok(())
    }

    /// The merged files: path → content.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// The merged files, consuming the set. `usr/lib/apk/db/installed` is reported as
    /// `lib/apk/db/installed` when only the former exists (merged-/usr images).
    pub fn into_files(mut self) -> BTreeMap<String, Vec<u8>> {
        if !self.files.contains_key("lib/apk/db/installed")
            && let Some(v) = self.files.remove("usr/lib/apk/db/installed")
        {
            self.files.insert("lib/apk/db/installed".into(), v);
        }
        self.files
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wanted_paths() {
        assert!(wanted("var/lib/dpkg/status").is_some());
        assert!(wanted("var/lib/dpkg/status.d/libc6").is_some());
        assert!(wanted("var/lib/dpkg/status.d/").is_none());
        assert!(wanted("var/lib/dpkg/status.d/a/b").is_none());
        assert!(wanted("var/lib/dpkg/status.d/libc6.md5sums").is_none());
        assert!(wanted("var/lib/dpkg/status.d/base-files.conffiles").is_none());
        assert!(wanted("usr/share/doc/gawk/copyright").is_some());
        assert!(wanted("usr/share/doc/gawk/changelog.gz").is_none());
        assert!(wanted("etc/passwd").is_none());
        assert!(wanted("etc/debian_version").is_some());
        assert!(wanted("etc/alpine-release").is_some());
        assert!(wanted_link("usr/share/doc/libgcc-s1"));
        assert!(!wanted_link("usr/share/doc/libgcc-s1/copyright"));
        assert!(!wanted_link("usr/share/doc/"));
    }

    #[test]
    fn normalize_cases() {
        assert_eq!(
            normalize("./etc/os-release").as_deref(),
            Some("etc/os-release")
        );
        assert_eq!(normalize("/etc//x/").as_deref(), Some("etc/x"));
        assert_eq!(normalize("etc/../../x"), None);
        assert_eq!(normalize("./"), None);
    }

    proptest! {
        #[test]
        fn normalize_never_escapes(s in "[a-z./]{0,30}") {
            if let Some(n) = normalize(&s) {
                prop_assert!(!n.starts_with('/'));
                prop_assert!(!n.split('/').any(|c| c == ".." || c.is_empty() || c == "."));
            }
        }
    }
}
