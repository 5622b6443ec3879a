//! Walking the data tar of a package (`.deb` data member, `.apk` data stream) safely: paths
//! normalized (no leading `./` or `/`, no empty or `.` components), `..` refused, device nodes
//! and FIFOs refused, link targets checked, and the decompressed size capped. Shared by the
//! Debian and APK readers, which map [`WalkError`] into their own errors naming the package.

use std::io::{self, BufReader, Read};

/// The kind of one archive entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind<'a> {
    /// A directory.
    Dir,
    /// A regular file (its content is [`TarEntry::data`]).
    File,
    /// A symbolic link; `target` is exactly as written (may be absolute or contain `..`: it is
    /// resolved inside the image, never on the host).
    Symlink {
        /// The link target, verbatim.
        target: &'a str,
    },
    /// A hard link to an earlier entry; `target` is normalized like [`TarEntry::path`].
    Hardlink {
        /// The normalized path of the linked entry.
        target: &'a str,
    },
}

/// One archive entry, valid during the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarEntry<'a> {
    /// Normalized path: no leading `./` or `/`, no empty or `.` components, no trailing `/`;
    /// `""` is the root directory.
    pub path: &'a str,
    /// What it is.
    pub kind: EntryKind<'a>,
    /// Permission bits including setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// File content (empty for anything but [`EntryKind::File`]).
    pub data: &'a [u8],
    /// The value of the PAX extended header [`WalkOptions::pax_key`] names, if the entry has it.
    pub pax_value: Option<&'a [u8]>,
}

/// Why a walk stopped (the archive's fault; the callback's own errors come back as
/// [`WalkFail::User`]).
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// Reading, decompressing or parsing the tar failed (including truncated file data).
    #[error("{0}")]
    Read(io::Error),
    /// The decompressed archive is larger than [`WalkOptions::max_size`].
    #[error("decompressed size limit of {0} bytes exceeded")]
    TooLarge(u64),
    /// A path or hard-link target has a `..` component.
    #[error("entry {path:?} escapes the target directory (\"..\" component)")]
    PathEscape {
        /// The path as written in the archive.
        path: String,
    },
    /// A path or link target is not UTF-8.
    #[error("path {path:?} is not valid UTF-8")]
    NonUtf8Path {
        /// The path, lossily decoded.
        path: String,
    },
    /// A device node or FIFO.
    #[error("entry {path:?} is a {kind}")]
    SpecialFile {
        /// The normalized path.
        path: String,
        /// `character device`, `block device` or `FIFO`.
        kind: &'static str,
    },
    /// Any other entry type.
    #[error("entry {path:?} has unsupported tar type {type_byte:#04x}")]
    UnsupportedEntry {
        /// The normalized path.
        path: String,
        /// The tar type flag.
        type_byte: u8,
    },
    /// A hard link without a target.
    #[error("hard link {path:?} has an empty target")]
    EmptyHardlinkTarget {
        /// The normalized path.
        path: String,
    },
}

/// The error of [`walk_tar`]: the archive's, or the callback's.
#[derive(Debug)]
pub enum WalkFail<E> {
    /// The archive is bad.
    Walk(WalkError),
    /// The callback failed.
    User(E),
}

/// How to walk.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions<'k> {
    /// The most bytes the (decompressing) reader may yield.
    pub max_size: u64,
    /// A PAX extended-header key whose value each entry carries in [`TarEntry::pax_value`]
    /// (e.g. `APK-TOOLS.checksum.SHA1`).
    pub pax_key: Option<&'k [u8]>,
}

/// Walks the tar read from `reader` (already decompressed), calling `f` for each entry in
/// archive order (PAX global headers skipped). File contents are read into one reused buffer,
/// so `f` must copy what it keeps. GNU sparse files are read as regular files.
pub fn walk_tar<R, E, F>(reader: R, opts: &WalkOptions<'_>, mut f: F) -> Result<(), WalkFail<E>>
where
    R: Read,
    F: FnMut(TarEntry<'_>) -> Result<(), E>,
{
    let mut limited = LimitedReader::new(reader, opts.max_size);
    let result = walk(&mut limited, opts, &mut f);
    if limited.exceeded() {
        return Err(WalkFail::Walk(WalkError::TooLarge(opts.max_size)));
    }
    result
}

fn walk<R, E, F>(reader: &mut R, opts: &WalkOptions<'_>, f: &mut F) -> Result<(), WalkFail<E>>
where
    R: Read,
    F: FnMut(TarEntry<'_>) -> Result<(), E>,
{
    let err = |e: io::Error| WalkFail::Walk(WalkError::Read(e));
    let mut archive = tar::Archive::new(BufReader::with_capacity(128 << 10, reader));
    let mut path = String::new();
    let mut link = String::new();
    let mut pax: Vec<u8> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    // File bytes handed out so far. A GNU sparse entry declares a size its few archive bytes
    // expand to (zeros), which the limit on the reader does not see: count it here.
    let mut expanded: u64 = 0;
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let et = entry.header().entry_type();
        if et.is_pax_global_extensions() {
            continue;
        }
        let mut has_pax = false;
        if let Some(key) = opts.pax_key
            && let Some(exts) = entry.pax_extensions().map_err(err)?
        {
            for ext in exts {
                let ext = ext.map_err(err)?;
                if ext.key_bytes() == key {
                    pax.clear();
                    pax.extend_from_slice(ext.value_bytes());
                    has_pax = true;
                }
            }
        }
        let header = entry.header();
        let mode = header.mode().map_err(err)? & 0o7777;
        let uid = header.uid().map_err(err)?;
        let gid = header.gid().map_err(err)?;
        let mtime = header.mtime().map_err(err)?;
        normalize_into(&mut path, &entry.path_bytes()).map_err(WalkFail::Walk)?;
        let tag = match et {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => 0,
            tar::EntryType::Directory => 1,
            tar::EntryType::Symlink => 2,
            tar::EntryType::Link => 3,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let kind = match et {
                    tar::EntryType::Char => "character device",
                    tar::EntryType::Block => "block device",
                    _ => "FIFO",
                };
                return Err(WalkFail::Walk(WalkError::SpecialFile { path, kind }));
            }
            other => {
                return Err(WalkFail::Walk(WalkError::UnsupportedEntry {
                    path,
                    type_byte: other.as_byte(),
                }));
            }
        };
        if tag >= 2 {
            let raw = entry.link_name_bytes().unwrap_or_default();
            if tag == 3 {
                normalize_into(&mut link, &raw).map_err(WalkFail::Walk)?;
                if link.is_empty() {
                    return Err(WalkFail::Walk(WalkError::EmptyHardlinkTarget { path }));
                }
            } else {
                link.clear();
                link.push_str(utf8(&raw).map_err(WalkFail::Walk)?);
            }
        }
        buf.clear();
        if tag == 0 {
            let size = entry.size();
            expanded = expanded.saturating_add(size);
            if expanded > opts.max_size {
                return Err(WalkFail::Walk(WalkError::TooLarge(opts.max_size)));
            }
            // The declared size is untrusted: reserve at most 16 MiB up front, grow while reading.
            buf.reserve(usize::try_from(size.min(opts.max_size).min(16 << 20)).unwrap_or(0));
            entry.read_to_end(&mut buf).map_err(err)?;
            if (buf.len() as u64) != size {
                return Err(err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{path}: truncated file data"),
                )));
            }
        }
        let kind = match tag {
            0 => EntryKind::File,
            1 => EntryKind::Dir,
            2 => EntryKind::Symlink { target: &link },
            _ => EntryKind::Hardlink { target: &link },
        };
        f(TarEntry {
            path: &path,
            kind,
            mode,
            uid,
            gid,
            mtime,
            data: &buf,
            pax_value: has_pax.then_some(pax.as_slice()),
        })
        .map_err(WalkFail::User)?;
    }
    Ok(())
}

fn utf8(raw: &[u8]) -> Result<&str, WalkError> {
    std::str::from_utf8(raw).map_err(|_| WalkError::NonUtf8Path {
        path: String::from_utf8_lossy(raw).into_owned(),
    })
}

/// Writes the normalized form of the archive path `raw` into `out` (see [`TarEntry::path`]);
/// `..` anywhere is refused.
pub fn normalize_into(out: &mut String, raw: &[u8]) -> Result<(), WalkError> {
    let s = utf8(raw)?;
    out.clear();
    for comp in s.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                return Err(WalkError::PathEscape {
                    path: s.to_string(),
                });
            }
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    Ok(())
}

/// A reader that fails once more than `limit` bytes came through (to cap decompression).
#[derive(Debug)]
pub struct LimitedReader<R> {
    inner: R,
    count: u64,
    limit: u64,
    exceeded: bool,
}

impl<R> LimitedReader<R> {
    /// Wraps `inner`, allowing at most `limit` bytes.
    pub fn new(inner: R, limit: u64) -> Self {
        LimitedReader {
            inner,
            count: 0,
            limit,
            exceeded: false,
        }
    }

    /// Whether a read went past the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, et, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*et);
            h.set_mode(0o755);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(7);
            h.set_size(data.len() as u64);
            if !link.is_empty() {
                h.set_link_name(link).unwrap();
            }
            // bypass the tar crate's own path checks to write `..` paths
            let name = h.as_old_mut();
            name.name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn collect(tar: &[u8], max: u64) -> Result<Vec<String>, WalkError> {
        let mut out = Vec::new();
        let opts = WalkOptions {
            max_size: max,
            pax_key: None,
        };
        walk_tar(tar, &opts, |e| {
            out.push(format!("{} {:?} {}", e.path, e.kind, e.data.len()));
            Ok::<(), ()>(())
        })
        .map_err(|e| match e {
            WalkFail::Walk(w) => w,
            WalkFail::User(()) => unreachable!(),
        })?;
        Ok(out)
    }

    #[test]
    fn entries_are_normalized_and_checked() {
        use tar::EntryType as T;
        let t = tar_of(&[
            ("./", T::Directory, b"", ""),
            ("./usr//bin/", T::Directory, b"", ""),
            ("./usr/bin/a", T::Regular, b"abc", ""),
            ("usr/bin/b", T::Link, b"", "./usr/bin/a"),
            ("usr/bin/c", T::Symlink, b"", "../../etc/x"),
        ]);
        assert_eq!(
            collect(&t, 1 << 20).unwrap(),
            [
                " Dir 0",
                "usr/bin Dir 0",
                "usr/bin/a File 3",
                "usr/bin/b Hardlink { target: \"usr/bin/a\" } 0",
                "usr/bin/c Symlink { target: \"../../etc/x\" } 0",
            ]
        );
        let t = tar_of(&[("usr/../../x", T::Regular, b"", "")]);
        assert!(matches!(
            collect(&t, 1 << 20),
            Err(WalkError::PathEscape { .. })
        ));
        let t = tar_of(&[("a", T::Link, b"", "b/../../c")]);
        assert!(matches!(
            collect(&t, 1 << 20),
            Err(WalkError::PathEscape { .. })
        ));
        let t = tar_of(&[("dev/null", T::Char, b"", "")]);
        assert!(matches!(
            collect(&t, 1 << 20),
            Err(WalkError::SpecialFile {
                kind: "character device",
                ..
            })
        ));
        let t = tar_of(&[("a", T::Regular, &[0u8; 4096], "")]);
        assert!(matches!(collect(&t, 1024), Err(WalkError::TooLarge(1024))));
    }

    #[test]
    fn sparse_files_cannot_expand_past_the_limit() {
        // A GNU sparse entry with no data whose one hole makes it 64 MiB of zeros.
        let octal = |field: &mut [u8; 12], v: u64| {
            field.copy_from_slice(format!("{v:011o}\0").as_bytes());
        };
        let mut h = tar::Header::new_gnu();
        h.set_path("big").unwrap();
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        let g = h.as_gnu_mut().unwrap();
        octal(&mut g.realsize, 64 << 20);
        octal(&mut g.sparse[0].offset, 64 << 20);
        octal(&mut g.sparse[0].numbytes, 0);
        h.set_cksum();
        let mut t = h.as_bytes().to_vec();
        t.extend_from_slice(&[0u8; 1024]);
        assert_eq!(collect(&t, 128 << 20).unwrap(), ["big File 67108864"]);
        assert!(matches!(
            collect(&t, 1 << 20),
            Err(WalkError::TooLarge(1_048_576))
        ));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(collect(&[0x55u8; 1024], 1 << 20).is_err());
    }
}
