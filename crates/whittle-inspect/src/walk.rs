//! One streaming pass over one layer tar: metadata per entry, whiteouts, and the content facts the
//! checks need (secret matches in each file's first bytes, the full text of package databases
//! and of the account files `/etc/passwd` and `/etc/shadow`).
//!
//! Nothing is extracted and file contents are not kept, except package-database and account
//! files (bounded together by [`Limits::max_captured`]). Hostile input (path traversal, absurd sizes, endless entries, long
//! paths) gives a [`LayerError`] or an [`Anomaly`], never a panic or unbounded memory.

use std::io::{self, Read};

use serde::Serialize;

use crate::secret::{self, Secret};

/// Bounds on what one image may make the walker hold or do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most tar entries in one layer, counting the parent directories its paths imply without
    /// an entry of their own (the trees hold one node for each).
    pub max_entries: usize,
    /// Most bytes of paths one layer may make the trees hold: every entry's path and every
    /// implied parent directory's (a 4 KiB path 2,000 levels deep implies 4 MB of them).
    pub max_path_bytes: u64,
    /// Longest entry path or link target, in bytes.
    pub max_path_len: usize,
    /// Most bytes all regular files of one layer may claim in their headers.
    pub max_total_size: u64,
    /// Most bytes of package-database and account files kept in memory for the whole image.
    pub max_captured: u64,
    /// Most secret matches kept per file.
    pub max_secrets_per_file: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: whittle_fs::MAX_TREE_ENTRIES,
            max_path_len: 4096,
            max_path_bytes: 256 << 20,
            max_total_size: 256 << 30,
            max_captured: 512 << 20,
            max_secrets_per_file: 16,
        }
    }
}

/// Why a layer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The tar stream is corrupt or ends early.
    #[error(
        "the layer tar is truncated or corrupt{}: {source}",
        entry.as_ref().map(|e| format!(" (at entry `{e}`)")).unwrap_or_default()
    )]
    Tar {
        /// The last entry read, if any.
        entry: Option<String>,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// More entries than [`Limits::max_entries`].
    #[error("the layer has more than {limit} entries; refusing to read further (hostile image?)")]
    TooManyEntries {
        /// The limit.
        limit: usize,
    },
    /// The layer's paths and the parent directories they imply exceed
    /// [`Limits::max_path_bytes`].
    #[error(
        "the layer's paths and the parent directories they imply exceed {limit} bytes (at `{start}`); refusing to read further (hostile image?)"
    )]
    TooManyPathBytes {
        /// The first bytes of the path that crossed the limit.
        start: String,
        /// The limit.
        limit: u64,
    },
    /// A path or link target longer than [`Limits::max_path_len`].
    #[error(
        "entry path or link target of {len} bytes (starting `{start}`) exceeds the {limit}-byte limit"
    )]
    PathTooLong {
        /// Its first bytes.
        start: String,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The files of the layer claim more bytes than [`Limits::max_total_size`].
    #[error(
        "the layer's files claim {claimed} bytes (at `{path}`), over the {limit}-byte limit (hostile headers?)"
    )]
    TooLarge {
        /// The entry that crossed the limit.
        path: String,
        /// The bytes claimed so far.
        claimed: u64,
        /// The limit.
        limit: u64,
    },
    /// Package databases of the image exceed [`Limits::max_captured`].
    #[error("package database file `{path}` would bring the kept package data over {limit} bytes")]
    CaptureLimit {
        /// The file.
        path: String,
        /// The limit.
        limit: u64,
    },
}

/// What kind of filesystem object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to another path of the image.
    Hardlink,
    /// A device node or FIFO.
    Other,
}

impl Kind {
    /// The lowercase name (`file`, `dir`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Hardlink => "hardlink",
            Kind::Other => "other",
        }
    }
}

/// One non-whiteout entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// Normalized tree path (`etc/passwd`, no leading `/`).
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// Content size (regular files), else 0.
    pub size: u64,
    /// Permission bits with setuid/setgid/sticky (`& 0o7777`).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Symlink target or hard-link target path.
    pub link: Option<String>,
    /// Secret matches in the file's first [`secret::prefix_limit`] bytes.
    pub secrets: Vec<Secret>,
    /// The full content, for package-database and account files only (see [`is_package_db`],
    /// [`is_account_db`]).
    pub content: Option<Vec<u8>>,
}

#[cfg(test)]
impl RawEntry {
    /// A test entry: mode `0644`, owned by root, no link, secrets or content.
    pub(crate) fn for_test(path: &str, kind: Kind, size: u64) -> RawEntry {
        RawEntry {
            path: path.into(),
            kind,
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            link: None,
            secrets: Vec::new(),
            content: None,
        }
    }
}

/// A layer entry that is not an ordinary file: a whiteout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whiteout {
    /// `DIR/.wh.NAME`: deletes this path (and everything below it) from lower layers.
    Path(String),
    /// `DIR/.wh..wh..opq`: hides every lower child of this directory (`""` = the root).
    Opaque(String),
}

/// Something odd about a layer entry that the walk skipped or repaired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// A kebab-case id (`path-traversal`, `absolute-path`, `invalid-whiteout`, `non-utf8-path`).
    pub kind: &'static str,
    /// The entry path as written in the tar (lossy UTF-8).
    pub path: String,
    /// What happened.
    pub message: String,
}

/// Everything one layer holds, in tar order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerScan {
    /// Entries that add or replace paths, in tar order.
    pub entries: Vec<RawEntry>,
    /// Whiteouts, in tar order (they apply to lower layers only, whatever their position).
    pub whiteouts: Vec<Whiteout>,
    /// Skipped or repaired entries.
    pub anomalies: Vec<Anomaly>,
    /// Sum of the regular file sizes.
    pub file_bytes: u64,
    /// Number of tar entries read (metadata entries excluded).
    pub tar_entries: usize,
    /// Sum of the sizes all entries' headers claim (what dive calls the layer's size).
    pub tar_bytes: u64,
}

/// Prefix of a whiteout file's base name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Base name of an opaque-directory marker.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Whether `path` (a tree path) is a package-database file whose content the analysis keeps.
pub fn is_package_db(path: &str) -> bool {
    if path == "var/lib/dpkg/status"
        || path == "lib/apk/db/installed"
        // what OS the packages belong to (scanners need it with the database)
        || path == "etc/os-release"
        || path == "usr/lib/os-release"
    {
        return true;
    }
    if let Some(name) = path.strip_prefix("var/lib/dpkg/status.d/") {
        return !name.contains('/');
    }
    if let Some(name) = path.strip_prefix("var/lib/dpkg/info/") {
        return !name.contains('/') && name.ends_with(".list");
    }
    path == "usr/lib/apk/db/installed"
}

/// Whether `path` (a tree path) is an account file whose content the audit reads
/// (`etc/passwd`, `etc/shadow`).
pub fn is_account_db(path: &str) -> bool {
    path == "etc/passwd" || path == "etc/shadow"
}

/// The result of normalizing a tar path.
enum Norm {
    Ok(String),
    Absolute(String),
    Climbs,
}

/// `./a//b/` → `a/b`; a leading `/` is dropped but reported; `..` anywhere is refused.
fn normalize(raw: &str) -> Norm {
    let mut out = String::with_capacity(raw.len());
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Norm::Climbs,
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    if raw.starts_with('/') && !out.is_empty() {
        Norm::Absolute(out)
    } else {
        Norm::Ok(out)
    }
}

fn lossy(bytes: &[u8], limit: usize) -> Result<String, LayerError> {
    if bytes.len() > limit {
        return Err(LayerError::PathTooLong {
            start: String::from_utf8_lossy(bytes.get(..64).unwrap_or(bytes)).into_owned(),
            len: bytes.len(),
            limit,
        });
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// The parent directories a layer's paths imply without an entry of their own, counted as
/// [`Limits::max_entries`] and [`Limits::max_path_bytes`] count them. Paths are remembered by a
/// keyed hash, so the count costs no copy of them and no more time than the bytes it counts.
#[derive(Default)]
struct ImpliedDirs {
    seen: std::collections::HashSet<u64>,
    keys: std::hash::RandomState,
    dirs: usize,
    bytes: u64,
}

impl ImpliedDirs {
    /// Count `path` and the parents of it not seen yet in this layer.
    fn add(&mut self, path: &str, entries: usize, limits: &Limits) -> Result<(), LayerError> {
        use std::hash::BuildHasher as _;
        let too_many = |bytes: u64| LayerError::TooManyPathBytes {
            start: path.chars().take(64).collect(),
            limit: bytes,
        };
        self.bytes = self.bytes.saturating_add(path.len() as u64);
        if self.bytes > limits.max_path_bytes {
            return Err(too_many(limits.max_path_bytes));
        }
        self.seen.insert(self.keys.hash_one(path));
        let mut rest = path;
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if !self.seen.insert(self.keys.hash_one(parent)) {
                break;
            }
            self.dirs += 1;
            self.bytes = self.bytes.saturating_add(parent.len() as u64);
            if entries.saturating_add(self.dirs) > limits.max_entries {
                return Err(LayerError::TooManyEntries {
                    limit: limits.max_entries,
                });
            }
            if self.bytes > limits.max_path_bytes {
                return Err(too_many(limits.max_path_bytes));
            }
            rest = parent;
        }
        Ok(())
    }
}

/// Read one uncompressed layer tar to its end (so a digest-verifying reader below sees EOF).
///
/// `captured` counts the package-database bytes kept so far across the image; it is increased
/// and checked against [`Limits::max_captured`].
pub fn scan_layer(
    reader: impl Read,
    limits: &Limits,
    captured: &mut u64,
) -> Result<LayerScan, LayerError> {
    let mut archive = tar::Archive::new(reader);
    let mut scan = LayerScan::default();
    let mut implied = ImpliedDirs::default();
    let mut last: Option<String> = None;
    let prefix_limit = secret::prefix_limit();
    let mut buf: Vec<u8> = Vec::with_capacity(prefix_limit.min(1 << 20));
    let tar_err = |last: &Option<String>, source| LayerError::Tar {
        entry: last.clone(),
        source,
    };
    let entries = archive.entries().map_err(|e| tar_err(&last, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_err(&last, e))?;
        scan.tar_entries += 1;
        if scan.tar_entries > limits.max_entries {
            return Err(LayerError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        scan.tar_bytes = scan.tar_bytes.saturating_add(entry.size());
        let raw = lossy(&entry.path_bytes(), limits.max_path_len)?;
        last = Some(raw.clone());
        if std::str::from_utf8(&entry.path_bytes()).is_err() {
            scan.anomalies.push(Anomaly {
                kind: "non-utf8-path",
                path: raw.clone(),
                message: "the path is not UTF-8; read lossily".into(),
            });
        }
        let path = match normalize(&raw) {
            Norm::Ok(p) => p,
            Norm::Absolute(p) => {
                scan.anomalies.push(Anomaly {
                    kind: "absolute-path",
                    path: raw.clone(),
                    message: "absolute path in a layer; runtimes apply it below the root".into(),
                });
                p
            }
            Norm::Climbs => {
                scan.anomalies.push(Anomaly {
                    kind: "path-traversal",
                    path: raw.clone(),
                    message: "`..` in a layer path tries to write outside the root; entry skipped"
                        .into(),
                });
                continue;
            }
        };
        if path.is_empty() {
            continue; // the root directory itself
        }
        implied.add(&path, scan.tar_entries, limits)?;
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", path.as_str()),
        };
        if name == OPAQUE_WHITEOUT {
            scan.whiteouts.push(Whiteout::Opaque(parent.to_string()));
            continue;
        }
        if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX) {
            if target.starts_with(".wh.") {
                continue; // other reserved `.wh..wh.` names (aufs metadata): ignored
            }
            if target.is_empty() || target == "." || target == ".." {
                scan.anomalies.push(Anomaly {
                    kind: "invalid-whiteout",
                    path: raw.clone(),
                    message: "whiteout names no valid entry; ignored".into(),
                });
                continue;
            }
            let victim = if parent.is_empty() {
                target.to_string()
            } else {
                format!("{parent}/{target}")
            };
            scan.whiteouts.push(Whiteout::Path(victim));
            continue;
        }
        let header = entry.header();
        let et = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let kind = match et {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink,
            tar::EntryType::Link => Kind::Hardlink,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Kind::Other,
            _ => continue, // PAX/GNU metadata is consumed by the reader; unknown types skipped
        };
        let mut link = None;
        if matches!(kind, Kind::Symlink | Kind::Hardlink) {
            let Some(target) = entry.link_name_bytes() else {
                scan.anomalies.push(Anomaly {
                    kind: "invalid-link",
                    path: raw.clone(),
                    message: "link entry without a target; skipped".into(),
                });
                continue;
            };
            let target = lossy(&target, limits.max_path_len)?;
            if kind == Kind::Hardlink {
                match normalize(&target) {
                    Norm::Ok(t) | Norm::Absolute(t) if !t.is_empty() => link = Some(t),
                    _ => {
                        scan.anomalies.push(Anomaly {
                            kind: "path-traversal",
                            path: raw.clone(),
                            message: format!(
                                "hard link to `{target}` points outside the root; entry skipped"
                            ),
                        });
                        continue;
                    }
                }
            } else {
                link = Some(target);
            }
        }
        let mut size = 0;
        let mut secrets = Vec::new();
        let mut content = None;
        if kind == Kind::File {
            size = entry.size();
            scan.file_bytes = scan.file_bytes.saturating_add(size);
            if scan.file_bytes > limits.max_total_size {
                return Err(LayerError::TooLarge {
                    path,
                    claimed: scan.file_bytes,
                    limit: limits.max_total_size,
                });
            }
            let account = is_account_db(&path);
            if account || is_package_db(&path) {
                *captured = captured.saturating_add(size);
                if *captured > limits.max_captured {
                    return Err(LayerError::CaptureLimit {
                        path,
                        limit: limits.max_captured,
                    });
                }
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                (&mut entry)
                    .take(size)
                    .read_to_end(&mut data)
                    .map_err(|e| tar_err(&last, e))?;
                if account {
                    // password hashes are secrets too: scanned like any file
                    let prefix = data.get(..prefix_limit.min(data.len())).unwrap_or_default();
                    secrets = secret::scan(prefix, limits.max_secrets_per_file);
                }
                content = Some(data);
            } else if size > 0 {
                buf.clear();
                (&mut entry)
                    .take(prefix_limit as u64)
                    .read_to_end(&mut buf)
                    .map_err(|e| tar_err(&last, e))?;
                secrets = secret::scan(&buf, limits.max_secrets_per_file);
            }
        }
        scan.entries.push(RawEntry {
            path,
            kind,
            size,
            mode,
            uid,
            gid,
            link,
            secrets,
            content,
        });
    }
    // Read to the end so a verifying reader below checks the blob digest; a truncated stream
    // fails here too.
    let mut inner = archive.into_inner();
    io::copy(&mut inner, &mut io::sink()).map_err(|e| tar_err(&last, e))?;
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Option<String> {
        match normalize(s) {
            Norm::Ok(p) | Norm::Absolute(p) => Some(p),
            Norm::Climbs => None,
        }
    }

    #[test]
    fn normalizes_archive_paths() {
        assert_eq!(norm("./usr//bin/ls").as_deref(), Some("usr/bin/ls"));
        assert_eq!(norm("/etc/").as_deref(), Some("etc"));
        assert_eq!(norm("./").as_deref(), Some(""));
        assert_eq!(norm("a/../../etc"), None);
        assert!(matches!(normalize("/etc/x"), Norm::Absolute(_)));
    }

    /// A tar of empty files at `paths` (GNU long names past 100 bytes).
    fn tar_of(paths: &[String]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for p in paths {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o644);
            b.append_data(&mut h, p, &[][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn implied_parent_directories_count_as_entries_and_path_bytes() {
        // 300 entries 1,000 levels deep: the merged tree and dive's would hold 300,000
        // directories and 300 MB of their paths (an 8 KB tar entry became 1 MB of memory)
        let deep: Vec<String> = (0..300)
            .map(|i| format!("d{i}/{}", vec!["a"; 1000].join("/")))
            .collect();
        let tar = tar_of(&deep);
        let limits = Limits {
            max_entries: 100_000,
            ..Limits::default()
        };
        let err = scan_layer(&tar[..], &limits, &mut 0).unwrap_err();
        assert!(
            matches!(err, LayerError::TooManyEntries { limit: 100_000 }),
            "{err}"
        );
        let limits = Limits {
            max_path_bytes: 10 << 20,
            ..Limits::default()
        };
        let err = scan_layer(&tar[..], &limits, &mut 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the layer's paths and the parent directories they imply exceed 10485760 bytes (at `d"),
            "{err}"
        );
        // parents listed before their children, or shared, are not counted again
        let mut flat: Vec<String> = (0..2000).map(|i| format!("usr/share/doc/p{i}")).collect();
        flat.insert(0, "usr/share/doc".into());
        let limits = Limits {
            max_entries: 2003,
            max_path_bytes: 40_000,
            ..Limits::default()
        };
        let scan = scan_layer(&tar_of(&flat)[..], &limits, &mut 0).unwrap();
        assert_eq!(scan.entries.len(), 2001);
    }

    #[test]
    fn account_files_are_kept() {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in [
            ("etc/passwd", &b"root:x:0:0::/root:/bin/sh\n"[..]),
            ("etc/shadow", b"root:::::::\n"),
            ("etc/group", b"root:x:0:\n"),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, p, d).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let mut captured = 0;
        let scan = scan_layer(&tar[..], &Limits::default(), &mut captured).unwrap();
        let kept: Vec<&str> = scan
            .entries
            .iter()
            .filter(|e| e.content.is_some())
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(kept, ["etc/passwd", "etc/shadow"]);
        assert_eq!(captured, 26 + 12);
    }

    #[test]
    fn package_db_paths() {
        assert!(is_package_db("var/lib/dpkg/status"));
        assert!(is_package_db("var/lib/dpkg/status.d/libc6"));
        assert!(is_package_db("var/lib/dpkg/info/bash.list"));
        assert!(!is_package_db("var/lib/dpkg/info/bash.md5sums"));
        assert!(is_package_db("lib/apk/db/installed"));
        assert!(!is_package_db("etc/passwd"));
        assert!(is_package_db("usr/lib/os-release"));
    }
}
