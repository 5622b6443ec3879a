//! Binary packages (`.deb`): the `ar` container, the control archive (control stanza,
//! `md5sums`, `conffiles`) and a streaming walk over the data archive.
//!
//! A `.deb` is an `ar` archive whose members are `debian-binary` (`2.0\n`),
//! `control.tar[.gz|.xz|.zst]` and `data.tar[.gz|.xz|.zst]` (deb(5)). Everything is read from
//! memory without temporary files. Paths in the data archive are normalized
//! (`./usr/bin/gawk` → `usr/bin/gawk`, the root directory is `""`), and an entry that would
//! leave the target (a `..` component in its path or hard-link target) is an error. Device
//! nodes and FIFOs are refused ([`Error::SpecialFile`]): Debian packages do not ship them and
//! container layers should not either. Decompressed data is capped per package (default
//! [`DEFAULT_MAX_DATA_SIZE`]).
//!
//! ```no_run
//! # fn main() -> Result<(), whittle_deb::deb::Error> {
//! use whittle_deb::deb::{DebArchive, EntryKind};
//! let bytes = std::fs::read("gawk_5.2.1-2_amd64.deb").unwrap();
//! let deb = DebArchive::open("gawk_5.2.1-2_amd64.deb", &bytes)?;
//! println!("{}", deb.package());
//! deb.for_each_data_entry(|e| {
//!     if let EntryKind::File = e.kind {
//!         println!("{} {:o} {} bytes", e.path, e.mode, e.data.len());
//!     }
//!     Ok::<(), whittle_deb::deb::Error>(())
//! })?;
//! # Ok(()) }
//! ```

use std::io::{self, Read};

use whittle_fs::archive::LimitedReader;

use crate::control::{Stanza, parse_stanzas};

/// Default cap on the decompressed size of one package's data archive: 2 GiB.
pub const DEFAULT_MAX_DATA_SIZE: u64 = 2 << 30;
/// Cap on the decompressed size of the control archive.
pub const MAX_CONTROL_SIZE: u64 = 64 << 20;
/// Memory limit given to the xz decoder (xz -9 needs 65 MiB).
const XZ_MEMLIMIT: u64 = 256 << 20;

/// Errors of reading a `.deb`. Each names the package file (`origin`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not an `ar` archive at all.
    #[error(
        "{origin}: not a Debian package (no \"!<arch>\" ar header); is the download complete and really a .deb?"
    )]
    NotAr {
        /// The package file.
        origin: String,
    },
    /// The `ar` container is malformed or truncated.
    #[error(
        "{origin}: broken ar container at byte {offset}: {reason}; the file is truncated or corrupt, download it again"
    )]
    Ar {
        /// The package file.
        origin: String,
        /// Byte offset of the bad member header.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A required member is missing.
    #[error("{origin}: the package has no {member} member; not a valid .deb (deb(5))")]
    MissingMember {
        /// The package file.
        origin: String,
        /// The missing member.
        member: &'static str,
    },
    /// A member appears twice or out of order.
    #[error("{origin}: unexpected ar member {member:?}: {reason}")]
    BadMember {
        /// The package file.
        origin: String,
        /// The member name.
        member: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `debian-binary` is not a 2.x format version.
    #[error(
        "{origin}: unsupported .deb format version {found:?} in debian-binary (only 2.x is supported)"
    )]
    FormatVersion {
        /// The package file.
        origin: String,
        /// The first line of `debian-binary`.
        found: String,
    },
    /// A member is compressed with a method whittle does not read.
    #[error(
        "{origin}: member {member:?} uses an unsupported compression (supported: none, .gz, .xz, .zst)"
    )]
    UnsupportedCompression {
        /// The package file.
        origin: String,
        /// The member name.
        member: String,
    },
    /// Decompression or tar reading failed.
    #[error("{origin}: {member}: {reason}; the package is corrupt, download it again")]
    Archive {
        /// The package file.
        origin: String,
        /// The member (`control.tar.xz`, `data.tar.xz`…).
        member: String,
        /// What went wrong.
        reason: String,
    },
    /// The control archive holds no `control` file, or it is not one stanza of text.
    #[error("{origin}: bad control file: {reason}")]
    Control {
        /// The package file.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The `control` file does not parse.
    #[error("{origin}: bad control file: {source}")]
    ControlSyntax {
        /// The package file.
        origin: String,
        /// The parse error.
        #[source]
        source: Box<crate::Error>,
    },
    /// The decompressed member exceeds its cap.
    #[error(
        "{origin}: {member} decompresses to more than {limit} bytes, more than one package may unpack to; refusing it (a package that large is either broken or a decompression bomb)"
    )]
    TooLarge {
        /// The package file.
        origin: String,
        /// The member.
        member: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// A path or hard-link target would leave the target directory.
    #[error(
        "{origin}: package {package}: entry {path:?} escapes the target directory (\"..\" component); refusing the package"
    )]
    PathEscape {
        /// The package file.
        origin: String,
        /// The package name.
        package: String,
        /// The offending path (as written in the archive).
        path: String,
    },
    /// A path or link target is not UTF-8.
    #[error("{origin}: package {package}: path {path:?} is not valid UTF-8")]
    NonUtf8Path {
        /// The package file.
        origin: String,
        /// The package name.
        package: String,
        /// The path, lossily decoded.
        path: String,
    },
    /// A device node or FIFO: never placed into an image.
    #[error(
        "{origin}: package {package}: entry {path:?} is a {kind}; device nodes and FIFOs are not supported in image layers"
    )]
    SpecialFile {
        /// The package file.
        origin: String,
        /// The package name.
        package: String,
        /// The normalized path.
        path: String,
        /// `character device`, `block device` or `FIFO`.
        kind: &'static str,
    },
    /// A data entry refused for a reason the tar walk explains (a PAX-format sparse file).
    #[error("{origin}: package {package}: {reason}")]
    Refused {
        /// The package file.
        origin: String,
        /// The package name.
        package: String,
        /// What is refused and why.
        reason: String,
    },
    /// Any other tar entry type.
    #[error(
        "{origin}: package {package}: entry {path:?} has unsupported tar type {type_byte:#04x}"
    )]
    UnsupportedEntry {
        /// The package file.
        origin: String,
        /// The package name.
        package: String,
        /// The normalized path.
        path: String,
        /// The tar type flag.
        type_byte: u8,
    },
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// How a data member is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain `.tar`.
    None,
    /// `.tar.gz`.
    Gzip,
    /// `.tar.xz`.
    Xz,
    /// `.tar.zst`.
    Zstd,
}

pub use whittle_fs::archive::EntryKind;

/// One entry of the data archive, valid during the callback (`pax_value` is always `None`).
pub type DataEntry<'a> = whittle_fs::archive::TarEntry<'a>;

/// An opened `.deb`, borrowing the package bytes.
#[derive(Debug, Clone)]
pub struct DebArchive<'a> {
    origin: String,
    control: Stanza,
    control_text: String,
    md5sums: Option<String>,
    conffiles: Option<String>,
    postinst: Option<String>,
    control_members: Vec<String>,
    data_member: String,
    data_compression: Compression,
    data: &'a [u8],
    max_data_size: u64,
    inline_max: Option<u64>,
}

impl<'a> DebArchive<'a> {
    /// Opens a `.deb` held in memory: checks the container and `debian-binary`, reads the
    /// control archive. The data archive is only read by [`DebArchive::for_each_data_entry`].
    pub fn open(origin: &str, bytes: &'a [u8]) -> Result<DebArchive<'a>> {
        let members = ar_members(origin, bytes)?;
        let mut it = members.iter();
        match it.next() {
            Some(m) if m.name == "debian-binary" => {
                let first_line = m.data.split(|&b| b == b'\n').next().unwrap_or_default();
                if !first_line.starts_with(b"2.") {
                    return Err(Error::FormatVersion {
                        origin: origin.to_string(),
                        found: String::from_utf8_lossy(&first_line[..first_line.len().min(32)])
                            .into_owned(),
                    });
                }
            }
            Some(m) => {
                return Err(Error::BadMember {
                    origin: origin.to_string(),
                    member: m.name.to_string(),
                    reason: "the first member must be debian-binary",
                });
            }
            None => {
                return Err(Error::MissingMember {
                    origin: origin.to_string(),
                    member: "debian-binary",
                });
            }
        }
        let mut control: Option<&Member<'a>> = None;
        let mut data: Option<&Member<'a>> = None;
        for m in it {
            let slot = if m.name.starts_with("control.tar") {
                &mut control
            } else if m.name.starts_with("data.tar") {
                &mut data
            } else if m.name.starts_with('_') {
                continue; // reserved for local use (deb(5))
            } else {
                return Err(Error::BadMember {
                    origin: origin.to_string(),
                    member: m.name.to_string(),
                    reason: "not a member of a .deb",
                });
            };
            if slot.is_some() {
                return Err(Error::BadMember {
                    origin: origin.to_string(),
                    member: m.name.to_string(),
                    reason: "appears twice",
                });
            }
            *slot = Some(m);
        }
        let control = control.ok_or_else(|| Error::MissingMember {
            origin: origin.to_string(),
            member: "control.tar",
        })?;
        let data = data.ok_or_else(|| Error::MissingMember {
            origin: origin.to_string(),
            member: "data.tar",
        })?;
        let data_compression = compression_of(origin, data.name, "data.tar")?;
        let control_compression = compression_of(origin, control.name, "control.tar")?;

        let mut files = ControlFiles::default();
        read_control(
            origin,
            control.name,
            control_compression,
            control.data,
            &mut files,
        )?;
        let control_text = files.control.ok_or_else(|| Error::Control {
            origin: origin.to_string(),
            reason: "the control archive has no ./control file".into(),
        })?;
        Ok(DebArchive {
            origin: origin.to_string(),
            control: control_stanza(origin, &control_text)?,
            control_text,
            md5sums: files.md5sums,
            conffiles: files.conffiles,
            postinst: files.postinst,
            control_members: files.members,
            data_member: data.name.to_string(),
            data_compression,
            data: data.data,
            max_data_size: DEFAULT_MAX_DATA_SIZE,
            inline_max: None,
        })
    }

    /// What [`DebArchive::from_control_record`] needs to open this package again without its
    /// bytes: the control files and the data member's name, length-prefixed.
    pub fn control_record(&self) -> Vec<u8> {
        let mut out = RECORD_MAGIC.to_vec();
        let members = self.control_members.join("\n");
        let fields: [(&str, Option<&str>); 6] = [
            ("control", Some(&self.control_text)),
            ("md5sums", self.md5sums.as_deref()),
            ("conffiles", self.conffiles.as_deref()),
            ("postinst", self.postinst.as_deref()),
            ("members", Some(&members)),
            ("data", Some(&self.data_member)),
        ];
        for (name, value) in fields {
            match value {
                Some(v) => {
                    out.extend_from_slice(format!("{name} {}\n", v.len()).as_bytes());
                    out.extend_from_slice(v.as_bytes());
                    out.push(b'\n');
                }
                None => out.extend_from_slice(format!("{name} -\n").as_bytes()),
            }
        }
        out
    }

    /// The package [`DebArchive::control_record`] describes, without its bytes: everything but
    /// [`DebArchive::data_reader`] and [`DebArchive::for_each_data_entry`] works (the data
    /// archive is read from elsewhere with [`DebArchive::for_each_entry_of`]). The control text
    /// is checked as [`DebArchive::open`] checks it; a malformed record is an error.
    pub fn from_control_record(origin: &str, record: &[u8]) -> Result<DebArchive<'static>> {
        let bad = |why: &str| Error::Control {
            origin: origin.to_string(),
            reason: format!("malformed control record: {why}"),
        };
        let mut rest = record
            .strip_prefix(RECORD_MAGIC)
            .ok_or_else(|| bad("no header"))?;
        let mut field = |name: &str| -> Result<Option<String>> {
            let nl = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| bad("truncated"))?;
            let head = std::str::from_utf8(&rest[..nl]).map_err(|_| bad("not UTF-8"))?;
            let len = head
                .strip_prefix(name)
                .and_then(|h| h.strip_prefix(' '))
                .ok_or_else(|| bad(&format!("no {name} field")))?;
            rest = &rest[nl + 1..];
            if len == "-" {
                return Ok(None);
            }
            let len: usize = len.parse().map_err(|_| bad("bad length"))?;
            let value = rest.get(..len).ok_or_else(|| bad("truncated"))?;
            let value = String::from_utf8(value.to_vec()).map_err(|_| bad("not UTF-8"))?;
            rest = rest
                .get(len..)
                .and_then(|r| r.strip_prefix(b"\n"))
                .ok_or_else(|| bad("truncated"))?;
            Ok(Some(value))
        };
        let control_text = field("control")?.ok_or_else(|| bad("no control text"))?;
        let md5sums = field("md5sums")?;
        let conffiles = field("conffiles")?;
        let postinst = field("postinst")?;
        let members = field("members")?.unwrap_or_default();
        let data_member = field("data")?.ok_or_else(|| bad("no data member"))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(DebArchive {
            origin: origin.to_string(),
            control: control_stanza(origin, &control_text)?,
            control_text,
            md5sums,
            conffiles,
            postinst,
            control_members: members
                .split('\n')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
            data_compression: compression_of(origin, &data_member, "data.tar")?,
            data_member,
            data: &[],
            max_data_size: DEFAULT_MAX_DATA_SIZE,
            inline_max: None,
        })
    }
}

/// The first line of a [`DebArchive::control_record`].
const RECORD_MAGIC: &[u8] = b"whittle deb control record v1\n";

/// The one stanza of a package's `control` file, which must name the package.
fn control_stanza(origin: &str, control_text: &str) -> Result<Stanza> {
    let mut stanzas =
        parse_stanzas(&format!("{origin}: control"), control_text).map_err(|source| {
            Error::ControlSyntax {
                origin: origin.to_string(),
                source: Box::new(source),
            }
        })?;
    if stanzas.len() != 1 {
        return Err(Error::Control {
            origin: origin.to_string(),
            reason: format!("expected one stanza, found {}", stanzas.len()),
        });
    }
    let control_stanza = stanzas.remove(0);
    if control_stanza.get("Package").is_none_or(str::is_empty) {
        return Err(Error::Control {
            origin: origin.to_string(),
            reason: "no Package field".into(),
        });
    }
    Ok(control_stanza)
}

impl<'a> DebArchive<'a> {
    /// Sets the cap on the decompressed size of the data archive (default
    /// [`DEFAULT_MAX_DATA_SIZE`]).
    pub fn with_max_data_size(mut self, bytes: u64) -> Self {
        self.max_data_size = bytes;
        self
    }

    /// Leaves regular files of at least `bytes` unread when walking the data archive: the
    /// callback gets their offset in the decompressed stream instead
    /// ([`whittle_fs::archive::TarEntry::data_offset`]), to read them from a copy of it.
    pub fn with_inline_max(mut self, bytes: u64) -> Self {
        self.inline_max = Some(bytes);
        self
    }

    /// The name given to [`DebArchive::open`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The parsed `control` stanza.
    pub fn control(&self) -> &Stanza {
        &self.control
    }

    /// The `control` file exactly as shipped (what `status.d/<package>` is built from).
    pub fn control_text(&self) -> &str {
        &self.control_text
    }

    /// The `Package` field.
    pub fn package(&self) -> &str {
        self.control.get("Package").unwrap_or_default()
    }

    /// The `md5sums` control file, if shipped.
    pub fn md5sums(&self) -> Option<&str> {
        self.md5sums.as_deref()
    }

    /// Names of the regular files in the control archive (`control`, `md5sums`, `postinst`, ...),
    /// in archive order; at most 64 are kept.
    pub fn control_members(&self) -> &[String] {
        &self.control_members
    }

    /// Whether the control archive holds a file of this name (e.g. a maintainer script).
    pub fn has_control_member(&self, name: &str) -> bool {
        self.control_members.iter().any(|m| m == name)
    }

    /// The `conffiles` control file, if shipped.
    pub fn conffiles(&self) -> Option<&str> {
        self.conffiles.as_deref()
    }

    /// The `postinst` maintainer script (never run; read for what whittle does natively, such
    /// as [`crate::alternatives`]), if shipped.
    pub fn postinst(&self) -> Option<&str> {
        self.postinst.as_deref()
    }

    /// The data member's name (e.g. `data.tar.xz`).
    pub fn data_member(&self) -> &str {
        &self.data_member
    }

    /// The data member's compression.
    pub fn data_compression(&self) -> Compression {
        self.data_compression
    }

    /// Streams the data archive, calling `f` for each entry in archive order. Stops at the
    /// first error, from the archive or from `f`. File contents are read into one reused
    /// buffer, so `f` must copy what it keeps.
    pub fn for_each_data_entry<E, F>(&self, f: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(DataEntry<'_>) -> Result<(), E>,
    {
        self.walk(self.data_reader().map_err(E::from)?, f)
    }

    /// The data archive as a decompressing stream (e.g. to pass through a cache or a memory
    /// budget on its way to [`DebArchive::for_each_entry_of`]); nothing is buffered.
    pub fn data_reader(&self) -> Result<Box<dyn Read + 'a>> {
        decoder(
            &self.origin,
            &self.data_member,
            self.data_compression,
            self.data,
        )
    }

    /// Like [`DebArchive::for_each_data_entry`], over this package's data archive read from
    /// `reader` (decompressed: [`DebArchive::data_reader`], possibly through adapters, or a copy
    /// of it kept elsewhere); the same checks and the same size cap apply to every entry.
    pub fn for_each_entry_of<R, E, F>(&self, reader: R, f: F) -> Result<(), E>
    where
        R: Read,
        E: From<Error>,
        F: FnMut(DataEntry<'_>) -> Result<(), E>,
    {
        self.walk(reader, f)
    }

    fn too_large(&self) -> Error {
        Error::TooLarge {
            origin: self.origin.clone(),
            member: self.data_member.clone(),
            limit: self.max_data_size,
        }
    }

    fn walk<R, E, F>(&self, reader: R, mut f: F) -> Result<(), E>
    where
        R: Read,
        E: From<Error>,
        F: FnMut(DataEntry<'_>) -> Result<(), E>,
    {
        use whittle_fs::archive::{WalkError, WalkFail, WalkOptions, walk_tar};
        let opts = WalkOptions {
            max_size: self.max_data_size,
            pax_key: None,
            inline_max: self.inline_max,
        };
        let result = walk_tar(reader, &opts, &mut f);
        let (origin, package) = (self.origin.clone(), self.package().to_string());
        let archive = |reason: String| Error::Archive {
            origin: self.origin.clone(),
            member: self.data_member.clone(),
            reason,
        };
        match result {
            Ok(()) => Ok(()),
            Err(WalkFail::User(e)) => Err(e),
            Err(WalkFail::Walk(w)) => Err(E::from(match w {
                WalkError::TooLarge(_) => self.too_large(),
                WalkError::Read(e) => archive(e.to_string()),
                e @ WalkError::EmptyHardlinkTarget { .. } => archive(e.to_string()),
                e @ WalkError::PaxSparse { .. } => Error::Refused {
                    origin,
                    package,
                    reason: e.to_string(),
                },
                WalkError::PathEscape { path } => Error::PathEscape {
                    origin,
                    package,
                    path,
                },
                WalkError::NonUtf8Path { path } => Error::NonUtf8Path {
                    origin,
                    package,
                    path,
                },
                WalkError::SpecialFile { path, kind } => Error::SpecialFile {
                    origin,
                    package,
                    path,
                    kind,
                },
                WalkError::UnsupportedEntry { path, type_byte } => Error::UnsupportedEntry {
                    origin,
                    package,
                    path,
                    type_byte,
                },
            })),
        }
    }
}

#[derive(Default)]
struct ControlFiles {
    members: Vec<String>,
    control: Option<String>,
    md5sums: Option<String>,
    conffiles: Option<String>,
    postinst: Option<String>,
}

fn read_control(
    origin: &str,
    member: &str,
    compression: Compression,
    data: &[u8],
    out: &mut ControlFiles,
) -> Result<()> {
    let mut limited = LimitedReader::new(
        decoder(origin, member, compression, data)?,
        MAX_CONTROL_SIZE,
    );
    let archive_err = |e: io::Error| Error::Archive {
        origin: origin.to_string(),
        member: member.to_string(),
        reason: e.to_string(),
    };
    let result = (|| -> Result<()> {
        let mut archive = tar::Archive::new(&mut limited);
        for entry in archive.entries().map_err(archive_err)? {
            let mut entry = entry.map_err(archive_err)?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = entry.path_bytes();
            let name = name.strip_prefix(b"./").unwrap_or(&name);
            if out.members.len() < 64 {
                out.members.push(String::from_utf8_lossy(name).into_owned());
            }
            if name == b"postinst" {
                // a script, not necessarily UTF-8: read for its `update-alternatives` calls
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| Error::Control {
                    origin: origin.to_string(),
                    reason: format!("postinst: {e}"),
                })?;
                out.postinst = Some(String::from_utf8_lossy(&bytes).into_owned());
                continue;
            }
            let slot = match name {
                b"control" => &mut out.control,
                b"md5sums" => &mut out.md5sums,
                b"conffiles" => &mut out.conffiles,
                _ => continue,
            };
            let fname = String::from_utf8_lossy(name).into_owned();
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| Error::Control {
                    origin: origin.to_string(),
                    reason: format!("{fname}: {e}"),
                })?;
            *slot = Some(text);
        }
        Ok(())
    })();
    if limited.exceeded() {
        return Err(Error::TooLarge {
            origin: origin.to_string(),
            member: member.to_string(),
            limit: MAX_CONTROL_SIZE,
        });
    }
    result
}

fn compression_of(origin: &str, name: &str, base: &str) -> Result<Compression> {
    match name.strip_prefix(base) {
        Some("") => Ok(Compression::None),
        Some(".gz") => Ok(Compression::Gzip),
        Some(".xz") => Ok(Compression::Xz),
        Some(".zst") => Ok(Compression::Zstd),
        _ => Err(Error::UnsupportedCompression {
            origin: origin.to_string(),
            member: name.to_string(),
        }),
    }
}

fn decoder<'b>(
    origin: &str,
    member: &str,
    compression: Compression,
    data: &'b [u8],
) -> Result<Box<dyn Read + 'b>> {
    let err = |reason: String| Error::Archive {
        origin: origin.to_string(),
        member: member.to_string(),
        reason,
    };
    Ok(match compression {
        Compression::None => Box::new(data),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(data)),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMLIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| err(format!("xz decoder: {e}")))?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(data, stream))
        }
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(data)
                .map_err(|e| err(format!("zstd decoder: {e}")))?,
        ),
    })
}

/// One member of the `ar` container.
struct Member<'a> {
    name: &'a str,
    data: &'a [u8],
}

/// Splits an `ar` archive (common format, as dpkg-deb writes it) into its members.
fn ar_members<'a>(origin: &str, bytes: &'a [u8]) -> Result<Vec<Member<'a>>> {
    const MAGIC: &[u8] = b"!<arch>\n";
    if !bytes.starts_with(MAGIC) {
        return Err(Error::NotAr {
            origin: origin.to_string(),
        });
    }
    let mut members = Vec::new();
    let mut pos = MAGIC.len();
    while pos < bytes.len() {
        let bad = |reason: &str| Error::Ar {
            origin: origin.to_string(),
            offset: pos,
            reason: reason.to_string(),
        };
        if members.len() >= 16 {
            return Err(bad("more than 16 members"));
        }
        let header = bytes
            .get(pos..pos + 60)
            .ok_or_else(|| bad("truncated member header"))?;
        if &header[58..60] != b"`\n" {
            return Err(bad("member header does not end with \"`\\n\""));
        }
        let name = std::str::from_utf8(&header[..16])
            .map_err(|_| bad("member name is not text"))?
            .trim_end_matches(' ');
        let name = name.strip_suffix('/').unwrap_or(name);
        let size: usize = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim_end_matches(' ').parse().ok())
            .ok_or_else(|| bad("member size is not a number"))?;
        let start = pos + 60;
        let data = start
            .checked_add(size)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| bad(&format!("member {name:?} of {size} bytes is truncated")))?;
        members.push(Member { name, data });
        pos = start + size + (size & 1);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            out.extend_from_slice(
                format!(
                    "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    name,
                    0,
                    0,
                    0,
                    100644,
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, et, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*et);
            h.set_mode(0o4755);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            // Write the raw name to allow "..", which the builder's set_path refuses.
            let name = h.as_old_mut();
            name.name[..path.len()].copy_from_slice(path.as_bytes());
            if !link.is_empty() {
                name.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn deb(data: &[u8]) -> Vec<u8> {
        let control = tar_of(&[(
            "./control",
            tar::EntryType::Regular,
            b"Package: t\nVersion: 1\n",
            "",
        )]);
        ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", &control),
            ("data.tar", data),
        ])
    }

    fn collect(bytes: &[u8]) -> Result<Vec<(String, String, u32, usize)>> {
        let d = DebArchive::open("t.deb", bytes)?;
        let mut out = Vec::new();
        d.for_each_data_entry(|e| {
            out.push((
                e.path.to_string(),
                format!("{:?}", e.kind),
                e.mode,
                e.data.len(),
            ));
            Ok::<_, Error>(())
        })?;
        Ok(out)
    }

    #[test]
    fn paths_are_normalized() {
        let data = tar_of(&[
            ("./", tar::EntryType::Directory, b"", ""),
            ("./usr//bin/./", tar::EntryType::Directory, b"", ""),
            ("/usr/bin/x", tar::EntryType::Regular, b"abc", ""),
            ("./usr/bin/y", tar::EntryType::Link, b"", "./usr/bin/x"),
            ("./usr/bin/z", tar::EntryType::Symlink, b"", "../lib/../x"),
        ]);
        let got = collect(&deb(&data)).unwrap();
        assert_eq!(got[0].0, "");
        assert_eq!(got[1].0, "usr/bin");
        assert_eq!(got[2], ("usr/bin/x".into(), "File".into(), 0o4755, 3));
        assert_eq!(got[3].1, "Hardlink { target: \"usr/bin/x\" }");
        assert_eq!(got[4].1, "Symlink { target: \"../lib/../x\" }");
    }

    #[test]
    fn dotdot_paths_and_link_targets_are_refused() {
        let data = tar_of(&[("./usr/../../etc/passwd", tar::EntryType::Regular, b"x", "")]);
        let err = collect(&deb(&data)).unwrap_err();
        assert!(
            matches!(err, Error::PathEscape { ref package, .. } if package == "t"),
            "{err}"
        );
        let data = tar_of(&[("./a", tar::EntryType::Link, b"", "../etc/shadow")]);
        assert!(matches!(
            collect(&deb(&data)),
            Err(Error::PathEscape { .. })
        ));
    }

    #[test]
    fn special_files_are_refused() {
        let data = tar_of(&[("./dev/null", tar::EntryType::Char, b"", "")]);
        let err = collect(&deb(&data)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SpecialFile {
                    kind: "character device",
                    ..
                }
            ),
            "{err}"
        );
        let data = tar_of(&[("./p", tar::EntryType::Fifo, b"", "")]);
        assert!(matches!(
            collect(&deb(&data)),
            Err(Error::SpecialFile { kind: "FIFO", .. })
        ));
    }

    #[test]
    fn size_cap_is_enforced() {
        let big = vec![7u8; 100_000];
        let data = tar_of(&[("./big", tar::EntryType::Regular, &big, "")]);
        let bytes = deb(&data);
        let d = DebArchive::open("t.deb", &bytes)
            .unwrap()
            .with_max_data_size(50_000);
        let err = d.for_each_data_entry(|_| Ok::<_, Error>(())).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit: 50_000, .. }),
            "{err}"
        );
        // the message is for users: no internal API names
        assert!(!err.to_string().contains("::"), "{err}");
        let d = d.with_max_data_size(200_000);
        d.for_each_data_entry(|e| {
            assert_eq!(e.data.len(), 100_000);
            Ok::<_, Error>(())
        })
        .unwrap();
    }

    #[test]
    fn container_errors() {
        assert!(matches!(
            DebArchive::open("x", b"hello"),
            Err(Error::NotAr { .. })
        ));
        let v3 = ar(&[("debian-binary", b"3.0\n")]);
        assert!(matches!(
            DebArchive::open("x", &v3),
            Err(Error::FormatVersion { .. })
        ));
        let no_data = ar(&[("debian-binary", b"2.0\n"), ("control.tar", b"")]);
        assert!(matches!(
            DebArchive::open("x", &no_data),
            Err(Error::MissingMember {
                member: "data.tar",
                ..
            })
        ));
        let bz = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", b""),
            ("data.tar.bz2", b""),
        ]);
        assert!(matches!(
            DebArchive::open("x", &bz),
            Err(Error::UnsupportedCompression { .. })
        ));
        let mut truncated = deb(&tar_of(&[]));
        truncated.truncate(truncated.len() - 100);
        assert!(matches!(
            DebArchive::open("x", &truncated),
            Err(Error::Ar { .. })
        ));
    }

    #[test]
    fn user_errors_pass_through() {
        #[derive(Debug)]
        enum MyErr {
            Deb,
            Stop(String),
        }
        impl From<Error> for MyErr {
            fn from(_: Error) -> Self {
                MyErr::Deb
            }
        }
        let data = tar_of(&[("./a", tar::EntryType::Regular, b"1", "")]);
        let bytes = deb(&data);
        let d = DebArchive::open("t.deb", &bytes).unwrap();
        let r = d.for_each_data_entry(|e| Err(MyErr::Stop(e.path.to_string())));
        assert!(matches!(r, Err(MyErr::Stop(ref p)) if p == "a"), "{r:?}");
    }
}
