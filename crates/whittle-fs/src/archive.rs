//! Walking the data tar of a package (`.deb` data member, `.apk` data stream) safely: paths
//! normalized (no leading `./` or `/`, no empty or `.` components), `..` refused, device nodes
//! and FIFOs refused, PAX-format sparse files refused, link targets checked, and the
//! decompressed size capped. Shared by the
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
    /// File content (empty for anything but [`EntryKind::File`], and for a file left unread:
    /// see [`TarEntry::data_offset`]).
    pub data: &'a [u8],
    /// For a regular file of at least [`WalkOptions::inline_max`] bytes: its content was not
    /// read, and is the [`TarEntry::size`] bytes at this offset of the (decompressed) stream.
    pub data_offset: Option<u64>,
    /// The file's size (`0` for anything but [`EntryKind::File`]).
    pub size: u64,
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
    /// A sparse file in PAX format (`GNU.sparse.*` extended headers, formats 0.0, 0.1 and 1.0):
    /// read as a plain file it would land as `GNUSparseFile.<n>/<name>` holding the sparse map
    /// and the packed data, not the file the package means; it is refused instead.
    #[error(
        "entry {path:?} is a sparse file in PAX format (GNU.sparse.* headers), which whittle does not expand; refusing the package (its maintainer can rebuild it without tar's --sparse option)"
    )]
    PaxSparse {
        /// The file's real name (`GNU.sparse.name`) or else the entry's path, shortened.
        path: String,
    },
}

/// The longest path quoted in a [`WalkError::PaxSparse`] (a PAX name can be any length).
const MAX_QUOTED_PATH: usize = 256;

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
    /// Regular files of at least this many bytes are not read: the callback gets their offset
    /// in the stream ([`TarEntry::data_offset`]) to read them from a copy of it. GNU sparse
    /// files are always read. `None`: every file is read.
    pub inline_max: Option<u64>,
}

/// Walks the tar read from `reader` (already decompressed), calling `f` for each entry in
/// archive order (PAX global headers skipped). File contents are read into one reused buffer,
/// so `f` must copy what it keeps. GNU sparse files (type `S`) are read as regular files, their
/// holes as zeros; PAX-format sparse files are refused ([`WalkError::PaxSparse`]).
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
        // `Some(real name or empty)` when the entry is a PAX-format sparse file
        let mut sparse: Option<Vec<u8>> = None;
        if let Some(exts) = entry.pax_extensions().map_err(err)? {
            for ext in exts {
                let ext = ext.map_err(err)?;
                let k = ext.key_bytes();
                if opts.pax_key == Some(k) {
                    pax.clear();
                    pax.extend_from_slice(ext.value_bytes());
                    has_pax = true;
                }
                if k.starts_with(b"GNU.sparse.") {
                    let name = sparse.get_or_insert_with(Vec::new);
                    if k == b"GNU.sparse.name" {
                        *name = ext.value_bytes().to_vec();
                    }
                }
            }
        }
        let header = entry.header();
        let mode = header.mode().map_err(err)? & 0o7777;
        let uid = header.uid().map_err(err)?;
        let gid = header.gid().map_err(err)?;
        let mtime = header.mtime().map_err(err)?;
        if let Some(mut name) = sparse {
            if name.is_empty() {
                name = entry.path_bytes().into_owned();
            }
            let path = match normalize_into(&mut path, &name) {
                Ok(()) => quoted(path.as_bytes()),
                Err(_) => quoted(&name),
            };
            return Err(WalkFail::Walk(WalkError::PaxSparse { path }));
        }
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
        let mut data_offset = None;
        let size = if tag == 0 { entry.size() } else { 0 };
        if tag == 0 {
            expanded = expanded.saturating_add(size);
            if expanded > opts.max_size {
                return Err(WalkFail::Walk(WalkError::TooLarge(opts.max_size)));
            }
        }
        if tag == 0 && et != tar::EntryType::GNUSparse && opts.inline_max.is_some_and(|m| size >= m)
        {
            // the tar reader skips the content on its way to the next header
            data_offset = Some(entry.raw_file_position());
        } else if tag == 0 {
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
            data_offset,
            size,
            pax_value: has_pax.then_some(pax.as_slice()),
        })
        .map_err(WalkFail::User)?;
    }
    Ok(())
}

/// A path from the archive for a message: lossily decoded, at most [`MAX_QUOTED_PATH`] chars.
fn quoted(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    match s.char_indices().nth(MAX_QUOTED_PATH) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.into_owned(),
    }
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
            inline_max: None,
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
    fn large_files_are_left_unread_with_their_offset_in_the_stream() {
        use tar::EntryType as T;
        let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let t = tar_of(&[
            ("small", T::Regular, b"abc", ""),
            ("big", T::Regular, &big, ""),
            ("after", T::Regular, b"xyz", ""),
        ]);
        let opts = WalkOptions {
            inline_max: Some(4096),
            max_size: 1 << 20,
            pax_key: None,
        };
        let mut seen = Vec::new();
        walk_tar(&t[..], &opts, |e| {
            seen.push((e.path.to_string(), e.data.to_vec(), e.data_offset, e.size));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(seen[0], ("small".into(), b"abc".to_vec(), None, 3));
        let (_, data, Some(at), size) = &seen[1] else {
            panic!("big was read: {:?}", seen[1].2)
        };
        assert!(data.is_empty());
        assert_eq!(*size, big.len() as u64);
        let at = usize::try_from(*at).unwrap();
        assert_eq!(&t[at..at + big.len()], &big[..]);
        assert_eq!(seen[2], ("after".into(), b"xyz".to_vec(), None, 3));
    }

    proptest::proptest! {
        /// Whatever the sizes and the threshold, a file left unread is exactly the bytes at its
        /// offset in the stream, and the walk sees the same entries as a walk reading them all.
        #[test]
        fn unread_files_are_the_bytes_at_their_offsets(
            sizes in proptest::collection::vec(0usize..3000, 1..8),
            inline_max in 0u64..3000,
        ) {
            let data: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, n)| (0..*n).map(|j| (i * 31 + j * 7) as u8).collect())
                .collect();
            let names: Vec<String> = (0..data.len()).map(|i| format!("f{i}")).collect();
            let entries: Vec<(&str, tar::EntryType, &[u8], &str)> = names
                .iter()
                .zip(&data)
                .map(|(n, d)| (n.as_str(), tar::EntryType::Regular, d.as_slice(), ""))
                .collect();
            let t = tar_of(&entries);
            let opts = WalkOptions {
                inline_max: Some(inline_max),
                max_size: 1 << 20,
                pax_key: None,
            };
            let mut got = Vec::new();
            walk_tar(&t[..], &opts, |e| {
                let content = match e.data_offset {
                    Some(at) => {
                        let at = usize::try_from(at).unwrap();
                        t[at..at + usize::try_from(e.size).unwrap()].to_vec()
                    }
                    None => e.data.to_vec(),
                };
                got.push((e.path.to_string(), e.data_offset.is_some(), content));
                Ok::<(), ()>(())
            })
            .unwrap();
            proptest::prop_assert_eq!(got.len(), data.len());
            for ((path, unread, content), (name, d)) in got.iter().zip(names.iter().zip(&data)) {
                proptest::prop_assert_eq!(path, name);
                proptest::prop_assert_eq!(*unread, d.len() as u64 >= inline_max);
                proptest::prop_assert_eq!(content, d);
            }
        }
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

    /// A PAX extended header (`x`) with `records`, then a regular entry `name` holding `data`.
    fn pax_entry(records: &[(&str, &str)], name: &str, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for (k, v) in records {
            // "<len> <key>=<value>\n" where <len> counts the whole record, itself included
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while format!("{len}{rest}").len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        let header = |et, path: &str, size: usize| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(et);
            h.set_path(path).unwrap();
            h.set_size(size as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(7);
            h.set_cksum();
            h
        };
        let mut b = tar::Builder::new(Vec::new());
        let x = header(tar::EntryType::XHeader, "./PaxHeaders/x", body.len());
        b.append(&x, body.as_slice()).unwrap();
        b.append(&header(tar::EntryType::Regular, name, data.len()), data)
            .unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn pax_sparse_files_are_refused_with_their_name() {
        // GNU tar's three PAX sparse formats, as `tar --sparse --format=pax` writes them: 1.0
        // (map at the start of the data, real name in GNU.sparse.name), 0.1 (GNU.sparse.map)
        // and 0.0 (repeated GNU.sparse.offset/numbytes).
        let map_1_0 = b"1\n0\n5\n"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0, 506));
        let data_1_0: Vec<u8> = map_1_0.chain(*b"hello").collect();
        let cases = [
            pax_entry(
                &[
                    ("GNU.sparse.major", "1"),
                    ("GNU.sparse.minor", "0"),
                    ("GNU.sparse.name", "./usr/lib/x/data.bin"),
                    ("GNU.sparse.realsize", "1048576"),
                ],
                "./GNUSparseFile.1234/data.bin",
                &data_1_0,
            ),
            pax_entry(
                &[
                    ("GNU.sparse.size", "1048576"),
                    ("GNU.sparse.numblocks", "1"),
                    ("GNU.sparse.map", "0,5"),
                    ("GNU.sparse.name", "./usr/lib/x/data.bin"),
                ],
                "./GNUSparseFile.1234/data.bin",
                b"hello",
            ),
            pax_entry(
                &[
                    ("GNU.sparse.size", "1048576"),
                    ("GNU.sparse.numblocks", "1"),
                    ("GNU.sparse.offset", "0"),
                    ("GNU.sparse.numbytes", "5"),
                ],
                "./usr/lib/x/data.bin",
                b"hello",
            ),
        ];
        for t in cases {
            let err = collect(&t, 1 << 20).unwrap_err();
            let WalkError::PaxSparse { path } = &err else {
                panic!("{err}")
            };
            assert_eq!(path, "usr/lib/x/data.bin");
            assert!(err.to_string().contains("sparse"), "{err}");
        }
        // a long name is shortened in the message
        let long = "a".repeat(5000);
        let t = pax_entry(&[("GNU.sparse.name", &long)], "x", b"");
        let err = collect(&t, 1 << 20).unwrap_err();
        assert!(err.to_string().len() < 600, "{err}");
        // other PAX records are fine
        let t = pax_entry(
            &[("path", "./usr/bin/long-name"), ("mtime", "7")],
            "x",
            b"hi",
        );
        assert_eq!(collect(&t, 1 << 20).unwrap(), ["usr/bin/long-name File 2"]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(collect(&[0x55u8; 1024], 1 << 20).is_err());
    }
}
