//! The installed database `lib/apk/db/installed`, written exactly as apk-tools 2.x writes it
//! (`apk_db_write_fdb`) and read back leniently.
//!
//! One record per package, records separated by an empty line. Package fields come first in
//! apk-tools' order `C: P: V: A: S: I: T: U: L: o: m: t: c: k: D: p: i: r: q: s:`, then for each
//! directory the package owns `F:` (with `M:uid:gid:mode` when not `0:0:755`) and for each file
//! in it `R:` (with `a:uid:gid:mode` when not `0:0:644`, and `Z:` = `Q1` + base64 SHA-1).
//!
//! The reader accepts what apk-tools and go-apk (apko) write. A damaged record never panics
//! and never stops the read: it is skipped and described in [`InstalledDb::findings`].

use super::{DataEntry, EntryKind, PkgInfo, q1};

/// Largest installed database accepted by [`parse_installed`]: 256 MiB.
pub const MAX_INSTALLED_DB: usize = 256 << 20;

/// Errors of reading an installed database.
#[derive(Debug, thiserror::Error)]
pub enum InstalledError {
    /// The database is larger than [`MAX_INSTALLED_DB`].
    #[error("{origin}: installed database is {size} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The file read.
        origin: String,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// Owner and permissions of a directory (`M:`) or file (`a:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Checksum of the extended attributes (`Q1...`), if any.
    pub xattr_checksum: Option<String>,
}

impl Acl {
    /// apk-tools' default ACL of directories, which it does not write: `0:0:755`.
    pub const DEFAULT_DIR: Acl = Acl {
        uid: 0,
        gid: 0,
        mode: 0o755,
        xattr_checksum: None,
    };
    /// apk-tools' default ACL of files, which it does not write: `0:0:644`.
    pub const DEFAULT_FILE: Acl = Acl {
        uid: 0,
        gid: 0,
        mode: 0o644,
        xattr_checksum: None,
    };
}

/// A file (`R:`) a package owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    /// The file name inside its directory.
    pub name: String,
    /// `a:` when not the default `0:0:644`.
    pub acl: Option<Acl>,
    /// `Z:`: `Q1` + base64 SHA-1 of the content (of the target for symlinks).
    pub checksum: Option<String>,
}

/// A directory (`F:`) a package owns, with its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDir {
    /// Path relative to the root, no leading or trailing `/` (`""` is the root).
    pub path: String,
    /// `M:` when not the default `0:0:755`.
    pub acl: Option<Acl>,
    /// Files in archive order.
    pub files: Vec<InstalledFile>,
}

/// One package record of the installed database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstalledPackage {
    /// `C:` the control checksum (`Q1...`).
    pub checksum: String,
    /// `P:` name.
    pub name: String,
    /// `V:` version.
    pub version: String,
    /// `A:` architecture.
    pub arch: Option<String>,
    /// `S:` size of the `.apk` file.
    pub size: u64,
    /// `I:` installed size.
    pub installed_size: u64,
    /// `T:` description.
    pub description: String,
    /// `U:` project URL.
    pub url: String,
    /// `L:` license.
    pub license: String,
    /// `o:` origin (source package).
    pub origin: Option<String>,
    /// `m:` maintainer.
    pub maintainer: Option<String>,
    /// `t:` build time.
    pub build_time: Option<u64>,
    /// `c:` source commit.
    pub commit: Option<String>,
    /// `k:` provider priority.
    pub provider_priority: Option<u64>,
    /// `D:` dependencies.
    pub depends: Vec<String>,
    /// `p:` provides.
    pub provides: Vec<String>,
    /// `i:` install_if.
    pub install_if: Vec<String>,
    /// `r:` replaces.
    pub replaces: Vec<String>,
    /// `q:` replaces priority.
    pub replaces_priority: Option<u64>,
    /// `s:` repository tag.
    pub repository_tag: Option<String>,
    /// Any other package-level field (`f:` flags, ...), written after the known ones.
    pub extra: Vec<(char, String)>,
    /// Owned directories and their files, in archive order.
    pub dirs: Vec<InstalledDir>,
}

impl InstalledPackage {
    /// The record for a package described by `pkginfo`, whose control checksum is `checksum`
    /// (`Q1...`, [`super::ApkPackage::control_checksum_q1`]) and whose `.apk` is `apk_size`
    /// bytes, owning `dirs` (see [`DirsBuilder`]).
    pub fn from_pkginfo(
        pkginfo: &PkgInfo,
        checksum: &str,
        apk_size: u64,
        dirs: Vec<InstalledDir>,
    ) -> Self {
        InstalledPackage {
            checksum: checksum.to_string(),
            name: pkginfo.pkgname.clone(),
            version: pkginfo.pkgver.clone(),
            arch: pkginfo.arch.clone(),
            size: apk_size,
            installed_size: pkginfo.size.unwrap_or(0),
            description: pkginfo.pkgdesc.clone().unwrap_or_default(),
            url: pkginfo.url.clone().unwrap_or_default(),
            license: pkginfo.license.clone().unwrap_or_default(),
            origin: pkginfo.origin.clone().filter(|s| !s.is_empty()),
            maintainer: pkginfo.maintainer.clone().filter(|s| !s.is_empty()),
            build_time: pkginfo.builddate.filter(|t| *t != 0),
            commit: pkginfo.commit.clone().filter(|s| !s.is_empty()),
            provider_priority: pkginfo.provider_priority.filter(|p| *p != 0),
            depends: pkginfo.depend.clone(),
            provides: pkginfo.provides.clone(),
            install_if: pkginfo.install_if.clone(),
            replaces: pkginfo.replaces.clone(),
            replaces_priority: pkginfo.replaces_priority.filter(|p| *p != 0),
            repository_tag: None,
            extra: Vec::new(),
            dirs,
        }
    }

    /// Paths (relative to the root) of every directory and file the package owns.
    pub fn paths(&self) -> impl Iterator<Item = String> + '_ {
        self.dirs.iter().flat_map(|d| {
            std::iter::once(d.path.clone()).chain(d.files.iter().map(move |f| {
                if d.path.is_empty() {
                    f.name.clone()
                } else {
                    format!("{}/{}", d.path, f.name)
                }
            }))
        })
    }
}

/// Collects the `F:`/`R:` lists of a package from its data entries, as apk-tools does while
/// installing: directories in order of first appearance (a file's parent counts), each file
/// under its parent, ACLs only when not the default, `Z:` from the PAX checksum or computed.
#[derive(Debug, Default)]
pub struct DirsBuilder {
    dirs: Vec<InstalledDir>,
    index: std::collections::HashMap<String, usize>,
}

impl DirsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    fn dir(&mut self, path: &str) -> &mut InstalledDir {
        let i = match self.index.get(path) {
            Some(&i) => i,
            None => {
                self.dirs.push(InstalledDir {
                    path: path.to_string(),
                    acl: None,
                    files: Vec::new(),
                });
                self.index.insert(path.to_string(), self.dirs.len() - 1);
                self.dirs.len() - 1
            }
        };
        &mut self.dirs[i]
    }

    /// Records one data entry.
    pub fn add(&mut self, entry: &DataEntry<'_>) {
        let acl = |default: &Acl, mode: u32| {
            let a = Acl {
                uid: u32::try_from(entry.uid).unwrap_or(u32::MAX),
                gid: u32::try_from(entry.gid).unwrap_or(u32::MAX),
                mode,
                xattr_checksum: None,
            };
            (a != *default).then_some(a)
        };
        match entry.kind {
            EntryKind::Dir => {
                let a = acl(&Acl::DEFAULT_DIR, entry.mode);
                self.dir(entry.path).acl = a;
            }
            _ => {
                let (parent, name) = match entry.path.rsplit_once('/') {
                    Some((p, n)) => (p, n),
                    None => ("", entry.path),
                };
                let mode = match entry.kind {
                    EntryKind::Symlink { .. } => 0o777,
                    _ => entry.mode,
                };
                let file = InstalledFile {
                    name: name.to_string(),
                    acl: acl(&Acl::DEFAULT_FILE, mode),
                    checksum: entry.apk_sha1().map(|c| q1(&c)),
                };
                self.dir(parent).files.push(file);
            }
        }
    }

    /// The directories collected so far.
    pub fn finish(self) -> Vec<InstalledDir> {
        self.dirs
    }
}

fn push_acl(out: &mut String, field: char, acl: &Acl) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{field}:{}:{}:{:o}",
        acl.uid,
        acl.gid,
        acl.mode & 0o7777
    );
    if let Some(x) = &acl.xattr_checksum {
        out.push(':');
        out.push_str(x);
    }
    out.push('\n');
}

fn push_field(out: &mut String, field: char, value: &str) {
    out.push(field);
    out.push(':');
    out.push_str(value);
    out.push('\n');
}

fn push_list(out: &mut String, field: char, list: &[String]) {
    if !list.is_empty() {
        push_field(out, field, &list.join(" "));
    }
}

/// One record of `lib/apk/db/installed` in apk-tools' format, ending with the empty line that
/// separates records.
pub fn installed_db_entry(pkg: &InstalledPackage) -> String {
    let mut out = String::with_capacity(512 + 64 * pkg.dirs.len());
    push_field(&mut out, 'C', &pkg.checksum);
    push_field(&mut out, 'P', &pkg.name);
    push_field(&mut out, 'V', &pkg.version);
    if let Some(a) = &pkg.arch {
        push_field(&mut out, 'A', a);
    }
    push_field(&mut out, 'S', &pkg.size.to_string());
    push_field(&mut out, 'I', &pkg.installed_size.to_string());
    push_field(&mut out, 'T', &pkg.description);
    push_field(&mut out, 'U', &pkg.url);
    push_field(&mut out, 'L', &pkg.license);
    if let Some(o) = &pkg.origin {
        push_field(&mut out, 'o', o);
    }
    if let Some(m) = &pkg.maintainer {
        push_field(&mut out, 'm', m);
    }
    if let Some(t) = pkg.build_time {
        push_field(&mut out, 't', &t.to_string());
    }
    if let Some(c) = &pkg.commit {
        push_field(&mut out, 'c', c);
    }
    if let Some(k) = pkg.provider_priority {
        push_field(&mut out, 'k', &k.to_string());
    }
    push_list(&mut out, 'D', &pkg.depends);
    push_list(&mut out, 'p', &pkg.provides);
    push_list(&mut out, 'i', &pkg.install_if);
    push_list(&mut out, 'r', &pkg.replaces);
    if let Some(q) = pkg.replaces_priority {
        push_field(&mut out, 'q', &q.to_string());
    }
    if let Some(s) = &pkg.repository_tag {
        push_field(&mut out, 's', s);
    }
    for (k, v) in &pkg.extra {
        push_field(&mut out, *k, v);
    }
    for dir in &pkg.dirs {
        push_field(&mut out, 'F', &dir.path);
        if let Some(acl) = &dir.acl {
            push_acl(&mut out, 'M', acl);
        }
        for file in &dir.files {
            push_field(&mut out, 'R', &file.name);
            if let Some(acl) = &file.acl {
                push_acl(&mut out, 'a', acl);
            }
            if let Some(z) = &file.checksum {
                push_field(&mut out, 'Z', z);
            }
        }
    }
    out.push('\n');
    out
}

/// The whole installed database: the records of `pkgs`, in the given order.
pub fn installed_db(pkgs: &[InstalledPackage]) -> String {
    pkgs.iter().map(installed_db_entry).collect()
}

/// Something wrong in an installed database that did not stop the read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFinding {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong and what was done about it.
    pub message: String,
}

/// A parsed installed database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstalledDb {
    /// The valid package records, in file order.
    pub packages: Vec<InstalledPackage>,
    /// Problems found; each damaged record was skipped or the bad line ignored.
    pub findings: Vec<InstalledFinding>,
}

/// Reads an installed database (`origin` names it in errors). Lines that are not `X:value`,
/// fields out of place and bad numbers are findings; records without `P:` or `V:` are skipped
/// with a finding. Only an oversized input is an error.
pub fn parse_installed(origin: &str, bytes: &[u8]) -> Result<InstalledDb, InstalledError> {
    if bytes.len() > MAX_INSTALLED_DB {
        return Err(InstalledError::TooLarge {
            origin: origin.to_string(),
            size: bytes.len(),
            max: MAX_INSTALLED_DB,
        });
    }
    let mut db = InstalledDb::default();
    let mut rec = RecordState::default();
    let mut line_no = 0usize;
    for raw in bytes.split(|&b| b == b'\n') {
        line_no += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            rec.finish(&mut db);
            continue;
        }
        let line = String::from_utf8_lossy(raw);
        if line.len() != raw.len() {
            db.findings.push(InstalledFinding {
                line: line_no,
                message: "line is not valid UTF-8 (read lossily)".to_string(),
            });
        }
        let mut chars = line.chars();
        let (Some(field), Some(':')) = (chars.next(), chars.next()) else {
            db.findings.push(InstalledFinding {
                line: line_no,
                message: format!("not a \"X:value\" line, ignored: {:?}", truncate(&line)),
            });
            rec.damaged = true;
            if !rec.started {
                rec.started = true;
                rec.start = line_no;
            }
            continue;
        };
        let value = chars.as_str();
        rec.field(&mut db, line_no, field, value);
    }
    rec.finish(&mut db);
    Ok(db)
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[derive(Default)]
struct RecordState {
    pkg: InstalledPackage,
    start: usize,
    started: bool,
    damaged: bool,
    has_name: bool,
    has_version: bool,
    /// Whether a `Z:`/`a:` may attach to the last file of the last directory.
    in_file: bool,
}

impl RecordState {
    fn field(&mut self, db: &mut InstalledDb, line: usize, field: char, value: &str) {
        if !self.started {
            self.started = true;
            self.start = line;
        }
        let mut finding = |msg: String| {
            db.findings.push(InstalledFinding { line, message: msg });
        };
        let num = |finding: &mut dyn FnMut(String), v: &str| -> Option<u64> {
            match v.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    finding(format!("field {field}: {v:?} is not a number, ignored"));
                    None
                }
            }
        };
        let list = |v: &str| v.split_ascii_whitespace().map(str::to_string).collect();
        let p = &mut self.pkg;
        match field {
            'C' => p.checksum = value.to_string(),
            'P' => {
                p.name = value.to_string();
                self.has_name = !value.is_empty();
            }
            'V' => {
                p.version = value.to_string();
                self.has_version = !value.is_empty();
            }
            'A' => p.arch = Some(value.to_string()),
            'S' => p.size = num(&mut finding, value).unwrap_or(0),
            'I' => p.installed_size = num(&mut finding, value).unwrap_or(0),
            'T' => p.description = value.to_string(),
            'U' => p.url = value.to_string(),
            'L' => p.license = value.to_string(),
            'o' => p.origin = Some(value.to_string()),
            'm' => p.maintainer = Some(value.to_string()),
            't' => p.build_time = num(&mut finding, value),
            'c' => p.commit = Some(value.to_string()),
            'k' => p.provider_priority = num(&mut finding, value),
            'D' => p.depends = list(value),
            'p' => p.provides = list(value),
            // go-apk writes an empty install_if as "[]".
            'i' => p.install_if = list(value).into_iter().filter(|s| s != "[]").collect(),
            'r' => p.replaces = list(value),
            'q' => p.replaces_priority = num(&mut finding, value),
            's' => p.repository_tag = Some(value.to_string()),
            'F' => {
                p.dirs.push(InstalledDir {
                    path: value.trim_matches('/').to_string(),
                    acl: None,
                    files: Vec::new(),
                });
                self.in_file = false;
            }
            'M' => match (p.dirs.last_mut(), parse_acl(value)) {
                (Some(d), Some(a)) => d.acl = Some(a),
                (None, _) => finding("M: before any F:, ignored".to_string()),
                (_, None) => finding(format!("M:{value} is not uid:gid:mode, ignored")),
            },
            'R' => match p.dirs.last_mut() {
                Some(d) => {
                    d.files.push(InstalledFile {
                        name: value.to_string(),
                        acl: None,
                        checksum: None,
                    });
                    self.in_file = true;
                }
                None => {
                    finding(format!("R:{value} before any F: (directory), ignored"));
                    self.in_file = false;
                }
            },
            'a' | 'Z' => {
                let file = if self.in_file {
                    p.dirs.last_mut().and_then(|d| d.files.last_mut())
                } else {
                    None
                };
                match file {
                    Some(f) if field == 'Z' => f.checksum = Some(value.to_string()),
                    Some(f) => match parse_acl(value) {
                        Some(a) => f.acl = Some(a),
                        None => finding(format!("a:{value} is not uid:gid:mode, ignored")),
                    },
                    None => finding(format!("{field}: outside a file (R:), ignored")),
                }
            }
            other => {
                if p.dirs.is_empty() {
                    p.extra.push((other, value.to_string()));
                } else {
                    finding(format!(
                        "unknown field {other}: after the file list, ignored"
                    ));
                }
            }
        }
    }

    fn finish(&mut self, db: &mut InstalledDb) {
        let state = std::mem::take(self);
        if !state.started {
            return;
        }
        if state.has_name && state.has_version {
            db.packages.push(state.pkg);
            return;
        }
        let what = match (state.has_name, state.has_version) {
            (false, _) if state.damaged && state.pkg == InstalledPackage::default() => {
                "record holds no fields".to_string()
            }
            (false, _) => "record has no package name (P:)".to_string(),
            (true, _) => format!("package {:?} has no version (V:)", state.pkg.name),
        };
        db.findings.push(InstalledFinding {
            line: state.start,
            message: format!("{what}; record skipped"),
        });
    }
}

/// Parses `uid:gid:mode[:xattr-checksum]` (mode in octal).
fn parse_acl(v: &str) -> Option<Acl> {
    let mut it = v.splitn(4, ':');
    let uid = it.next()?.parse().ok()?;
    let gid = it.next()?.parse().ok()?;
    let mode = u32::from_str_radix(it.next()?, 8).ok()? & 0o7777;
    let xattr_checksum = it.next().map(str::to_string);
    Some(Acl {
        uid,
        gid,
        mode,
        xattr_checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "C:Q1abc=\nP:foo\nV:1.0-r0\nA:x86_64\nS:10\nI:20\nT:desc\nU:\nL:MIT\n\
        o:foo\nt:5\nD:a b\np:cmd:foo=1.0-r0\nr:bar\nF:etc\nM:0:42:1777\nR:x\na:0:0:600\nZ:Q1zz=\n\
        F:\nR:top\n\n";

    #[test]
    fn parse_then_write_is_identity() {
        let db = parse_installed("t", SAMPLE.as_bytes()).unwrap();
        assert!(db.findings.is_empty(), "{:?}", db.findings);
        assert_eq!(db.packages.len(), 1);
        let p = &db.packages[0];
        assert_eq!(p.dirs[0].acl.as_ref().unwrap().mode, 0o1777);
        assert_eq!(p.dirs[1].path, "");
        assert_eq!(installed_db(&db.packages), SAMPLE);
        let paths: Vec<String> = p.paths().collect();
        assert_eq!(paths, vec!["etc", "etc/x", "", "top"]);
    }

    #[test]
    fn damaged_records_are_findings() {
        let text = "garbage\n\nP:nover\nF:x\n\nZ:Q1\nR:y\nP:ok\nV:1\nM:bad\n";
        let db = parse_installed("t", text.as_bytes()).unwrap();
        assert_eq!(db.packages.len(), 1);
        assert_eq!(db.packages[0].name, "ok");
        let lines: Vec<usize> = db.findings.iter().map(|f| f.line).collect();
        assert!(
            lines.contains(&1) && lines.contains(&3) && lines.contains(&6),
            "{:?}",
            db.findings
        );
        assert!(db.findings.iter().any(|f| f.message.contains("no version")));
    }

    #[test]
    fn acl_parsing() {
        assert_eq!(parse_acl("0:0:0777").unwrap().mode, 0o777);
        assert_eq!(
            parse_acl("1:2:644:Q1x=").unwrap().xattr_checksum.as_deref(),
            Some("Q1x=")
        );
        assert!(parse_acl("0:0").is_none());
        assert!(parse_acl("0:0:9").is_none());
    }
}
