//! Writing `.apk` packages as apk-tools expects them and melange lays them out: a signature
//! stream (one `.SIGN.RSA256.<key>` member, no end-of-archive blocks), a control stream
//! (`.PKGINFO` and optionally the recipe, no end-of-archive blocks) and a data stream (the files
//! with PAX `APK-TOOLS.checksum.SHA1`, ended by two zero blocks), each its own gzip member.
//! Everything is a pure function of its inputs, so the bytes are reproducible.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use whittle_apk::sign::{SigKind, SigningKey, signature_member_name};

use crate::tarw::{self, Kind, Member};
use crate::{Error, Result, elf};

/// Most bytes of file content one package may hold (the same bound whittle's reader applies).
pub const MAX_PACKAGE_DATA: u64 = whittle_apk::package::DEFAULT_MAX_DATA_SIZE;

/// Directories whose executables get a `cmd:` provide.
const BIN_DIRS: &[&str] = &["bin", "sbin", "usr/bin", "usr/sbin"];

/// One file system entry of a package, relative to the package root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// `usr/bin/hello` (no leading `/`).
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Symlink target, or the earlier path a hard link points to.
    pub link: String,
    /// Content of a regular file.
    pub data: Vec<u8>,
}

/// Reads the tree under `root` depth-first, each directory's names sorted by bytes (the order
/// melange writes). Owners are dropped (everything is 0:0); hard links become
/// [`Kind::Hardlink`] members after their first path. Anything but files, directories and
/// symlinks is refused.
pub fn collect_dir(root: &Path) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    let mut inodes: HashMap<(u64, u64), String> = HashMap::new();
    let mut total = 0u64;
    walk(root, "", &mut out, &mut inodes, &mut total)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &str,
    out: &mut Vec<FileEntry>,
    inodes: &mut HashMap<(u64, u64), String>,
    total: &mut u64,
) -> Result<()> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| Error::Io { path: p, source }
    };
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(io(dir))?;
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let path = dir.join(&name);
        let name = name.to_str().ok_or_else(|| Error::Invalid {
            what: path.display().to_string(),
            message: "file name is not UTF-8; rename it".into(),
        })?;
        let relpath = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        let mode = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        if ft.is_dir() {
            out.push(FileEntry {
                path: relpath.clone(),
                kind: Kind::Dir,
                mode,
                link: String::new(),
                data: Vec::new(),
            });
            walk(&path, &relpath, out, inodes, total)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io(&path))?;
            out.push(FileEntry {
                path: relpath,
                kind: Kind::Symlink,
                mode: 0o777,
                link: target.to_string_lossy().into_owned(),
                data: Vec::new(),
            });
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = inodes.get(&(meta.dev(), meta.ino())) {
                    out.push(FileEntry {
                        path: relpath,
                        kind: Kind::Hardlink,
                        mode,
                        link: first.clone(),
                        data: Vec::new(),
                    });
                    continue;
                }
                inodes.insert((meta.dev(), meta.ino()), relpath.clone());
            }
            *total += meta.len();
            if *total > MAX_PACKAGE_DATA {
                return Err(Error::Invalid {
                    what: path.display().to_string(),
                    message: format!(
                        "the package holds more than {MAX_PACKAGE_DATA} bytes; split it into subpackages"
                    ),
                });
            }
            let data = std::fs::read(&path).map_err(io(&path))?;
            out.push(FileEntry {
                path: relpath,
                kind: Kind::File,
                mode,
                link: String::new(),
                data,
            });
        } else {
            return Err(Error::Invalid {
                what: path.display().to_string(),
                message: "devices, sockets and FIFOs cannot be packaged; remove it".into(),
            });
        }
    }
    Ok(())
}

/// What `.PKGINFO` says about a package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageMeta {
    /// `pkgname`.
    pub name: String,
    /// `pkgver`: `VERSION-rEPOCH`.
    pub version: String,
    /// `arch` (apk names: `x86_64`, `aarch64`, …).
    pub arch: String,
    /// `pkgdesc`.
    pub description: String,
    /// `url`.
    pub url: String,
    /// `origin`: the recipe's main package.
    pub origin: String,
    /// `commit`, when known.
    pub commit: Option<String>,
    /// `maintainer`, when known.
    pub maintainer: Option<String>,
    /// `packager`, when known.
    pub packager: Option<String>,
    /// `builddate` (SOURCE_DATE_EPOCH); 0 leaves the line out, as melange does.
    pub builddate: u64,
    /// `license`: the licenses, joined with ` AND `.
    pub licenses: Vec<String>,
    /// `depend` items as declared.
    pub depends: Vec<String>,
    /// `provides` items as declared.
    pub provides: Vec<String>,
    /// `replaces` items.
    pub replaces: Vec<String>,
    /// `provider_priority`.
    pub provider_priority: Option<u64>,
}

/// How to write a package.
#[derive(Debug, Clone)]
pub struct ApkOptions {
    /// Timestamp of every tar member of the control and data streams.
    pub mtime: u64,
    /// The signature's hash (`.SIGN.RSA256.` by default).
    pub sig: SigKind,
    /// Add `so:`/`cmd:` provides and `so:` depends found in the files.
    pub scan: bool,
    /// Extra control members after `.PKGINFO` (e.g. `.melange.yaml`).
    pub control_extra: Vec<(String, Vec<u8>)>,
    /// Which of what the scan finds to leave out (the recipe's `options`).
    pub found: FoundOptions,
}

/// melange's package `options`: leave found provides, found depends, or every found `cmd:`
/// provide and depend out of `.PKGINFO` (declared ones are always kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoundOptions {
    /// `no-provides`.
    pub no_provides: bool,
    /// `no-depends`.
    pub no_depends: bool,
    /// `no-commands`.
    pub no_commands: bool,
}

impl FoundOptions {
    /// `(provides, depends)` found in the files, less what these options leave out.
    pub fn apply(
        &self,
        (provides, depends): (Vec<String>, Vec<String>),
    ) -> (Vec<String>, Vec<String>) {
        let keep = |v: Vec<String>, none: bool| -> Vec<String> {
            if none {
                return Vec::new();
            }
            v.into_iter()
                .filter(|d| !(self.no_commands && d.starts_with("cmd:")))
                .collect()
        };
        (
            keep(provides, self.no_provides),
            keep(depends, self.no_depends),
        )
    }
}

impl Default for ApkOptions {
    fn default() -> Self {
        ApkOptions {
            mtime: 0,
            sig: SigKind::Sha256,
            scan: true,
            control_extra: Vec::new(),
            found: FoundOptions::default(),
        }
    }
}

/// A written package.
#[derive(Debug, Clone)]
pub struct BuiltApk {
    /// `NAME-VERSION.apk`.
    pub file_name: String,
    /// The whole file.
    pub bytes: Vec<u8>,
    /// The `.PKGINFO` text.
    pub pkginfo: String,
    /// Installed size (sum of regular file sizes).
    pub installed_size: u64,
    /// Hex SHA-256 of the data stream.
    pub datahash: String,
}

/// The provides and depends the files imply: `so:SONAME=VER` for shared libraries,
/// `cmd:NAME=VERSION` for executables in `bin`/`sbin` dirs, and `so:NEEDED` for libraries the
/// package needs but does not carry itself; plus `pc:` provides and depends and script
/// interpreters' `cmd:` depends ([`crate::sca::scan`]).
pub fn scan_entries(entries: &[FileEntry], version: &str) -> (Vec<String>, Vec<String>) {
    let mut provides = BTreeSet::new();
    let mut needed = BTreeSet::new();
    let mut sonames = BTreeSet::new();
    for e in entries {
        let (dir, base) = e.path.rsplit_once('/').unwrap_or(("", e.path.as_str()));
        let executable = e.mode & 0o111 != 0 || e.kind == Kind::Symlink;
        if BIN_DIRS.contains(&dir)
            && executable
            && matches!(e.kind, Kind::File | Kind::Symlink)
            && crate::sca::is_atom_name(base)
        {
            provides.insert(format!("cmd:{base}={version}"));
        }
        if e.kind != Kind::File || !elf::is_elf(&e.data) {
            continue;
        }
        let Some(d) = elf::dynamic(&e.data) else {
            continue;
        };
        if let Some(so) = d.soname.as_ref().filter(|so| crate::sca::is_atom_name(so)) {
            let ver = so
                .split_once(".so.")
                .map(|(_, v)| v)
                .filter(|v| !v.is_empty())
                .unwrap_or("0");
            provides.insert(format!("so:{so}={ver}"));
            sonames.insert(so.clone());
        }
        needed.extend(d.needed.into_iter().filter(|n| crate::sca::is_atom_name(n)));
    }
    let (pc_provides, other_depends) = crate::sca::scan(entries, version);
    provides.extend(pc_provides);
    let depends = needed
        .into_iter()
        .filter(|n| !sonames.contains(n))
        .map(|n| format!("so:{n}"))
        .chain(other_depends)
        .collect();
    (provides.into_iter().collect(), depends)
}

fn merge(declared: &[String], found: Vec<String>) -> Vec<String> {
    let names: BTreeSet<&str> = declared.iter().map(|d| dep_name(d)).collect();
    let mut out = declared.to_vec();
    out.extend(found.into_iter().filter(|f| !names.contains(dep_name(f))));
    out
}

/// The name part of a dependency atom (`so:libc.so.6=6` → `so:libc.so.6`).
fn dep_name(d: &str) -> &str {
    let d = d.trim_start_matches('!');
    let end = d.find(['=', '<', '>', '~']).unwrap_or(d.len());
    d.get(..end).unwrap_or(d)
}

/// The `.PKGINFO` text in melange's field order.
pub fn pkginfo(meta: &PackageMeta, size: u64, datahash: &str) -> String {
    let mut s = String::from("# Generated by whittle\n");
    let mut line = |k: &str, v: &str| {
        s.push_str(k);
        s.push_str(" = ");
        s.push_str(v);
        s.push('\n');
    };
    line("pkgname", &meta.name);
    line("pkgver", &meta.version);
    line("arch", &meta.arch);
    line("size", &size.to_string());
    line("origin", &meta.origin);
    line("pkgdesc", &meta.description);
    line("url", &meta.url);
    if let Some(c) = &meta.commit {
        line("commit", c);
    }
    if let Some(m) = &meta.maintainer {
        line("maintainer", m);
    }
    if let Some(p) = &meta.packager {
        line("packager", p);
    }
    if meta.builddate != 0 {
        line("builddate", &meta.builddate.to_string());
    }
    if !meta.licenses.is_empty() {
        line("license", &meta.licenses.join(" AND "));
    }
    for d in &meta.depends {
        line("depend", d);
    }
    for p in &meta.provides {
        line("provides", p);
    }
    for r in &meta.replaces {
        line("replaces", r);
    }
    if let Some(p) = meta.provider_priority {
        line("provider_priority", &p.to_string());
    }
    line("datahash", datahash);
    s
}

/// One gzip member of `data` (no file name, mtime 0, OS "unknown", as melange writes).
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new().write(
        Vec::with_capacity(data.len() / 3 + 64),
        flate2::Compression::default(),
    );
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|source| Error::Io {
            path: "(gzip in memory)".into(),
            source,
        })
}

/// The data stream's tar (with end-of-archive blocks) of `entries`.
pub fn data_tar(entries: &[FileEntry], mtime: u64) -> Vec<u8> {
    let mut tar = Vec::new();
    for e in entries {
        let pax = if e.kind == Kind::File {
            vec![(
                "APK-TOOLS.checksum.SHA1",
                hex::encode(Sha1::digest(&e.data)),
            )]
        } else {
            Vec::new()
        };
        tarw::append(
            &mut tar,
            &Member {
                path: &e.path,
                kind: e.kind,
                mode: e.mode,
                mtime,
                link: &e.link,
                data: &e.data,
                pax,
            },
        );
    }
    tarw::finish(&mut tar);
    tar
}

/// The signature stream: one `.SIGN.<kind>.<keyname>` member over `control` (no end blocks).
pub fn signature_stream(key: &SigningKey, kind: SigKind, signed: &[u8]) -> Result<Vec<u8>> {
    let sig = key.sign(kind, signed)?;
    let name = signature_member_name(kind, key.name());
    let mut tar = Vec::new();
    tarw::append(
        &mut tar,
        &Member {
            path: &name,
            kind: Kind::File,
            mode: 0o644,
            mtime: 0,
            link: "",
            data: &sig,
            pax: Vec::new(),
        },
    );
    gzip(&tar)
}

/// Writes a signed package of `entries` described by `meta`.
pub fn write_apk(
    meta: &PackageMeta,
    entries: &[FileEntry],
    key: &SigningKey,
    opts: &ApkOptions,
) -> Result<BuiltApk> {
    let data = gzip(&data_tar(entries, opts.mtime))?;
    let datahash = hex::encode(Sha256::digest(&data));
    let installed_size: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
    let mut meta = meta.clone();
    if opts.scan {
        let (provides, depends) = opts.found.apply(scan_entries(entries, &meta.version));
        meta.provides = merge(&meta.provides, provides);
        meta.depends = merge(&meta.depends, depends);
    }
    let info = pkginfo(&meta, installed_size, &datahash);
    let mut ctl = Vec::new();
    let mut members: Vec<(&str, &[u8])> = vec![(".PKGINFO", info.as_bytes())];
    for (n, d) in &opts.control_extra {
        members.push((n, d));
    }
    for (name, body) in members {
        tarw::append(
            &mut ctl,
            &Member {
                path: name,
                kind: Kind::File,
                mode: 0o644,
                mtime: opts.mtime,
                link: "",
                data: body,
                pax: Vec::new(),
            },
        );
    }
    let control = gzip(&ctl)?;
    let mut bytes = signature_stream(key, opts.sig, &control)?;
    bytes.extend_from_slice(&control);
    bytes.extend_from_slice(&data);
    Ok(BuiltApk {
        file_name: format!("{}-{}.apk", meta.name, meta.version),
        bytes,
        pkginfo: info,
        installed_size,
        datahash,
    })
}

/// Re-signs an existing package (`origin` names it in errors): its signature stream, if any, is
/// replaced by one signature of `kind` by `key`; the control and data streams are kept byte for
/// byte, so the index `C:` checksum does not change.
pub fn sign_apk(origin: &str, bytes: &[u8], key: &SigningKey, kind: SigKind) -> Result<Vec<u8>> {
    let pkg = whittle_apk::package::ApkPackage::open(origin, bytes)?;
    let mut out = signature_stream(key, kind, pkg.control_stream())?;
    out.extend_from_slice(pkg.control_stream());
    out.extend_from_slice(pkg.data_stream());
    Ok(out)
}

/// A regular file entry of `path` (tests of the modules that scan entries).
#[cfg(test)]
pub(crate) fn test_file(path: &str, mode: u32, data: &[u8]) -> FileEntry {
    FileEntry {
        path: path.into(),
        kind: Kind::File,
        mode,
        link: String::new(),
        data: data.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::apk::test_file as file;

    #[test]
    fn cmd_provides_for_bin_executables_only() {
        let e = vec![
            file("usr/bin/hello", 0o755, b"#!/bin/sh\n"),
            file("usr/bin/data", 0o644, b"x"),
            file("usr/share/hello/run", 0o755, b"x"),
        ];
        let (p, d) = scan_entries(&e, "1.0-r0");
        assert_eq!(p, ["cmd:hello=1.0-r0"]);
        assert!(d.is_empty());
    }

    #[test]
    fn file_names_cannot_add_pkginfo_lines_or_atoms() {
        let e = vec![
            file("usr/bin/x\ndepend = evil", 0o755, b"x"),
            file("usr/bin/two words", 0o755, b"x"),
            file("usr/bin/pinned=9", 0o755, b"x"),
            file("usr/lib/pkgconfig/a\nreplaces = libc.pc", 0o644, b""),
            file("usr/bin/ok", 0o755, b"x"),
        ];
        let (p, d) = scan_entries(&e, "1-r0");
        assert_eq!(p, ["cmd:ok=1-r0"]);
        assert!(d.is_empty(), "{d:?}");
        let info = pkginfo(
            &PackageMeta {
                provides: p,
                ..Default::default()
            },
            0,
            "",
        );
        assert!(
            !info.contains("evil") && !info.contains("replaces"),
            "{info}"
        );
    }

    #[test]
    fn options_leave_found_metadata_out() {
        let e = vec![
            file("usr/bin/tool", 0o755, b"#!/usr/bin/env perl\n"),
            file("usr/lib/pkgconfig/t.pc", 0o644, b"Requires: z\n"),
        ];
        let found = || scan_entries(&e, "1-r0");
        let all = FoundOptions::default().apply(found());
        assert_eq!(all, found());
        assert_eq!(all.1, ["cmd:perl", "pc:z"]);
        let no_cmd = FoundOptions {
            no_commands: true,
            ..Default::default()
        };
        assert_eq!(
            no_cmd.apply(found()),
            (vec!["pc:t=1-r0".to_string()], vec!["pc:z".to_string()])
        );
        let none = FoundOptions {
            no_provides: true,
            no_depends: true,
            ..Default::default()
        };
        assert_eq!(none.apply(found()), (vec![], vec![]));
    }

    #[test]
    fn declared_dependencies_win_over_found_ones() {
        let m = merge(
            &["so:libc.so.6".to_string(), "busybox".to_string()],
            vec!["so:libc.so.6".into(), "so:libm.so.6".into()],
        );
        assert_eq!(m, ["so:libc.so.6", "busybox", "so:libm.so.6"]);
        assert_eq!(dep_name("!foo>=1"), "foo");
    }

    #[test]
    fn pkginfo_field_order_matches_melange() {
        let meta = PackageMeta {
            name: "a".into(),
            version: "1-r0".into(),
            arch: "x86_64".into(),
            origin: "a".into(),
            builddate: 5,
            licenses: vec!["MIT".into(), "BSD-3-Clause".into()],
            depends: vec!["b".into()],
            provides: vec!["c=1".into()],
            ..Default::default()
        };
        let text = pkginfo(&meta, 10, "ab");
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|kv| kv.0))
            .collect();
        assert_eq!(
            keys,
            [
                "pkgname",
                "pkgver",
                "arch",
                "size",
                "origin",
                "pkgdesc",
                "url",
                "builddate",
                "license",
                "depend",
                "provides",
                "datahash"
            ]
        );
        assert!(text.contains("license = MIT AND BSD-3-Clause\n"));
    }

    #[test]
    fn gzip_header_has_no_name_and_no_mtime() {
        let g = gzip(b"hello").unwrap();
        assert_eq!(&g[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    }
}
