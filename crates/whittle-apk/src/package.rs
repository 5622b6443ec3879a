//! `.apk` v2 packages: splitting the gzip streams, `.PKGINFO`, maintainer scripts, signature
//! and checksum verification, and a streaming walk over the data archive; plus the installed
//! database ([`installed`]).
//!
//! A v2 `.apk` is two or three concatenated gzip members (apk-v2(5)):
//!
//! 1. optional **signature** stream: a tar holding `.SIGN.RSA.<key>` (RSA over SHA-1) or
//!    `.SIGN.RSA256.<key>` (RSA over SHA-256) entries, signing the raw compressed bytes of the
//!    control stream;
//! 2. **control** stream: a tar with `.PKGINFO` and maybe `.pre-install`, `.post-install`,
//!    `.trigger` ... scripts. The repository index's `C:` field is `Q1` + base64 of the SHA-1 of
//!    its raw compressed bytes;
//! 3. **data** stream: a tar of the files, each regular file carrying a PAX header
//!    `APK-TOOLS.checksum.SHA1`. `.PKGINFO`'s `datahash` is the hex SHA-256 of its raw
//!    compressed bytes.
//!
//! The members are split exactly: each is decompressed on its own and the consumed length gives
//! the boundary. Everything is read from memory; decompressed sizes are capped
//! ([`MAX_CONTROL_SIZE`], [`DEFAULT_MAX_DATA_SIZE`]). Data paths are normalized
//! (`./usr/bin/x` → `usr/bin/x`), a `..` component is an error and device nodes/FIFOs are
//! refused.
//!
//! ```no_run
//! # fn main() -> Result<(), whittle_apk::package::Error> {
//! use whittle_apk::package::{ApkPackage, EntryKind};
//! use whittle_apk::sign::Keyring;
//! let bytes = std::fs::read("hello-wolfi-2.12-r1.apk").unwrap();
//! let apk = ApkPackage::open("hello-wolfi-2.12-r1.apk", &bytes)?;
//! let keys = Keyring::from_dir("keys".as_ref()).unwrap();
//! apk.verify(&keys, None)?; // signature (or index C:) and datahash
//! apk.for_each_data_entry(|e| {
//!     if let EntryKind::File = e.kind {
//!         println!("{} {:o} {} bytes", e.path, e.mode, e.data.len());
//!     }
//!     Ok::<(), whittle_apk::package::Error>(())
//! })?;
//! # Ok(()) }
//! ```

pub mod installed;

use std::io::{self, Read};

use whittle_fs::archive::LimitedReader;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use crate::sign::{Keyring, SigKind, SignError, parse_signature_member_name};

/// Cap on the decompressed size of the signature and control streams (each): 16 MiB.
pub const MAX_CONTROL_SIZE: u64 = 16 << 20;
/// Default cap on the decompressed size of one package's data stream: 2 GiB.
pub const DEFAULT_MAX_DATA_SIZE: u64 = 2 << 30;
/// At most this many signature members are kept.
const MAX_SIGNATURES: usize = 64;
/// At most this many control members are listed.
const MAX_CONTROL_MEMBERS: usize = 256;

/// The maintainer script names apk-tools knows (control members).
pub const SCRIPT_NAMES: &[&str] = &[
    ".pre-install",
    ".post-install",
    ".pre-upgrade",
    ".post-upgrade",
    ".pre-deinstall",
    ".post-deinstall",
    ".trigger",
];

/// Which gzip stream of a package an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The signature stream.
    Signature,
    /// The control stream (`.PKGINFO`, scripts).
    Control,
    /// The data stream (the files).
    Data,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Signature => "signature stream",
            Stream::Control => "control stream",
            Stream::Data => "data stream",
        })
    }
}

/// Errors of reading or verifying a `.apk`. Each names the package file (`origin`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A gzip member is malformed, truncated or fails its CRC.
    #[error(
        "{origin}: broken gzip {stream} at byte {offset}: {reason}; the file is truncated, corrupt or not an .apk, download it again"
    )]
    Gzip {
        /// The package file.
        origin: String,
        /// Which stream.
        stream: Stream,
        /// Byte offset where the member starts.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A stream is missing (e.g. nothing follows the control stream).
    #[error(
        "{origin}: no {stream}: an .apk has a control and a data gzip stream; the file is truncated"
    )]
    MissingStream {
        /// The package file.
        origin: String,
        /// Which stream.
        stream: Stream,
    },
    /// A stream decompresses to more than its cap.
    #[error(
        "{origin}: {stream} decompresses to more than {limit} bytes, more than one package may unpack to; refusing it (a package that large is either broken or a decompression bomb)"
    )]
    TooLarge {
        /// The package file.
        origin: String,
        /// Which stream.
        stream: Stream,
        /// The cap in bytes.
        limit: u64,
    },
    /// A tar inside a stream is malformed.
    #[error("{origin}: broken tar in {stream}: {reason}")]
    Tar {
        /// The package file.
        origin: String,
        /// Which stream.
        stream: Stream,
        /// What is wrong.
        reason: String,
    },
    /// The control stream has no `.PKGINFO`.
    #[error(
        "{origin}: control stream has no .PKGINFO; not an apk v2 package (apk v3 packages are not supported)"
    )]
    NoPkgInfo {
        /// The package file.
        origin: String,
    },
    /// A `.PKGINFO` line is invalid or a required field is missing.
    #[error("{origin}: .PKGINFO line {line}, field {field:?}: {reason}")]
    PkgInfo {
        /// The package file.
        origin: String,
        /// 1-based line (0 when the field is missing altogether).
        line: usize,
        /// The field name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The package has no signature stream and no index checksum was given.
    #[error(
        "{origin}: package is unsigned; it can only be trusted through the C: checksum of a verified index"
    )]
    Unsigned {
        /// The package file.
        origin: String,
    },
    /// None of the package's signatures is by a trusted key.
    #[error(
        "{origin}: signed by untrusted key(s) {keys:?} (trusted: {}); add the repository's public key to the keyring",
        if trusted.is_empty() { "none".to_string() } else { trusted.join(", ") }
    )]
    UntrustedKey {
        /// Key names of the package's signatures.
        keys: Vec<String>,
        /// Names of the keys in the keyring.
        trusted: Vec<String>,
        /// The package file.
        origin: String,
    },
    /// A signature by a trusted key does not verify.
    #[error("{origin}: {source}; the package was modified, refusing it")]
    BadSignature {
        /// The package file.
        origin: String,
        /// The verification error.
        source: SignError,
    },
    /// The control stream's checksum differs from the index's `C:`.
    #[error(
        "{origin}: control checksum {actual} differs from the index's C:{expected}; the package was modified or the index is stale, refusing it"
    )]
    ChecksumMismatch {
        /// The package file.
        origin: String,
        /// The index's `C:` value.
        expected: String,
        /// The package's own checksum.
        actual: String,
    },
    /// The data stream's SHA-256 differs from `.PKGINFO`'s `datahash`.
    #[error(
        "{origin}: data stream SHA-256 {actual} differs from .PKGINFO datahash {expected}; the package was modified, refusing it"
    )]
    DatahashMismatch {
        /// The package file.
        origin: String,
        /// `datahash` from `.PKGINFO`.
        expected: String,
        /// SHA-256 of the data stream.
        actual: String,
    },
    /// A file's content differs from its `APK-TOOLS.checksum.SHA1` PAX header.
    #[error(
        "{origin}: {path}: content SHA-1 {actual} differs from its APK-TOOLS.checksum.SHA1 {expected}; the package was modified, refusing it"
    )]
    FileChecksum {
        /// The package file.
        origin: String,
        /// Normalized path of the entry.
        path: String,
        /// Checksum from the PAX header.
        expected: String,
        /// Checksum of the content.
        actual: String,
    },
    /// A data path (or hard-link target) would leave the target directory.
    #[error(
        "{origin}: data entry {path:?} leaves the target directory (\"..\"); refusing the package"
    )]
    PathEscape {
        /// The package file.
        origin: String,
        /// The raw path.
        path: String,
    },
    /// A data path is not UTF-8.
    #[error("{origin}: data entry path {path:?} is not UTF-8")]
    NonUtf8Path {
        /// The package file.
        origin: String,
        /// The path, lossily decoded.
        path: String,
    },
    /// A device node or FIFO in the data stream.
    #[error("{origin}: data entry {path:?} is a {kind}; special files are refused in images")]
    SpecialFile {
        /// The package file.
        origin: String,
        /// The normalized path.
        path: String,
        /// "character device", "block device" or "FIFO".
        kind: &'static str,
    },
    /// A data entry refused for a reason the tar walk explains (a PAX-format sparse file).
    #[error("{origin}: data {reason}")]
    Refused {
        /// The package file.
        origin: String,
        /// What is refused and why.
        reason: String,
    },
    /// A tar entry type that is not supported.
    #[error("{origin}: data entry {path:?} has unsupported tar type {type_byte:#04x}")]
    UnsupportedEntry {
        /// The package file.
        origin: String,
        /// The normalized path.
        path: String,
        /// The tar type byte.
        type_byte: u8,
    },
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// Parsed `.PKGINFO`. List fields hold one item per whitespace-separated word of every line
/// of that key, in order (apk-tools splits them the same way).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgInfo {
    /// `pkgname` (required).
    pub pkgname: String,
    /// `pkgver` (required).
    pub pkgver: String,
    /// `arch`.
    pub arch: Option<String>,
    /// `size`: installed size in bytes.
    pub size: Option<u64>,
    /// `pkgdesc`.
    pub pkgdesc: Option<String>,
    /// `url`.
    pub url: Option<String>,
    /// `license`.
    pub license: Option<String>,
    /// `origin`: the source package.
    pub origin: Option<String>,
    /// `maintainer`.
    pub maintainer: Option<String>,
    /// `packager`.
    pub packager: Option<String>,
    /// `builddate`: seconds since the epoch.
    pub builddate: Option<u64>,
    /// `commit`: the source commit.
    pub commit: Option<String>,
    /// `depend` items (`name`, `name>=1.2`, `!conflict`, `so:libc.so.6`, ...).
    pub depend: Vec<String>,
    /// `provides` items.
    pub provides: Vec<String>,
    /// `replaces` items.
    pub replaces: Vec<String>,
    /// `install_if` items.
    pub install_if: Vec<String>,
    /// `triggers`: directories watched by `.trigger`.
    pub triggers: Vec<String>,
    /// `datahash`: hex SHA-256 of the data stream.
    pub datahash: Option<String>,
    /// `provider_priority`.
    pub provider_priority: Option<u64>,
    /// `replaces_priority`.
    pub replaces_priority: Option<u64>,
    /// Every other `key = value` line, in order.
    pub extra: Vec<(String, String)>,
}

/// Parses `.PKGINFO` text. `origin` names the package in errors. Comment (`#`) and empty lines
/// are skipped, and so are lines without ` = ` (as apk-tools does).
pub fn parse_pkginfo(origin: &str, text: &str) -> Result<PkgInfo> {
    let mut info = PkgInfo::default();
    let mut name = None;
    let mut ver = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(" = ") {
            Some(kv) => kv,
            None => match line.strip_suffix(" =") {
                Some(k) => (k, ""),
                None => continue,
            },
        };
        let num = |v: &str| -> Result<u64> {
            v.trim().parse::<u64>().map_err(|_| Error::PkgInfo {
                origin: origin.to_string(),
                line: line_no,
                field: key.to_string(),
                reason: format!("{v:?} is not a non-negative integer"),
            })
        };
        let words = |list: &mut Vec<String>| {
            list.extend(value.split_ascii_whitespace().map(str::to_string));
        };
        match key {
            "pkgname" => name = Some(value.to_string()),
            "pkgver" => ver = Some(value.to_string()),
            "arch" => info.arch = Some(value.to_string()),
            "size" => info.size = Some(num(value)?),
            "pkgdesc" => info.pkgdesc = Some(value.to_string()),
            "url" => info.url = Some(value.to_string()),
            "license" => info.license = Some(value.to_string()),
            "origin" => info.origin = Some(value.to_string()),
            "maintainer" => info.maintainer = Some(value.to_string()),
            "packager" => info.packager = Some(value.to_string()),
            "builddate" => info.builddate = Some(num(value)?),
            "commit" => info.commit = Some(value.to_string()),
            "depend" => words(&mut info.depend),
            "provides" => words(&mut info.provides),
            "replaces" => words(&mut info.replaces),
            "install_if" => words(&mut info.install_if),
            "triggers" => words(&mut info.triggers),
            "datahash" => {
                let v = value.trim();
                if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::PkgInfo {
                        origin: origin.to_string(),
                        line: line_no,
                        field: key.to_string(),
                        reason: format!("{v:?} is not a hex SHA-256 (64 hex digits)"),
                    });
                }
                info.datahash = Some(v.to_ascii_lowercase());
            }
            "provider_priority" => info.provider_priority = Some(num(value)?),
            "replaces_priority" => info.replaces_priority = Some(num(value)?),
            _ => info.extra.push((key.to_string(), value.to_string())),
        }
    }
    let missing = |field: &str| Error::PkgInfo {
        origin: origin.to_string(),
        line: 0,
        field: field.to_string(),
        reason: "required field is missing or empty".to_string(),
    };
    info.pkgname = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| missing("pkgname"))?;
    info.pkgver = ver
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("pkgver"))?;
    Ok(info)
}

/// One signature member of the signature stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// RSA over SHA-1 or SHA-256.
    pub kind: SigKind,
    /// The key's file name (as in `/etc/apk/keys`).
    pub keyname: String,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
}

/// The key that verified a package's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName {
    /// The signature kind used.
    pub kind: SigKind,
    /// The key's name in the keyring.
    pub name: String,
}

/// How a package was found authentic by [`ApkPackage::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The trusted key whose signature verified, if any.
    pub signed_by: Option<KeyName>,
    /// Whether the control checksum matched the index `C:` given by the caller.
    pub index_checksum: bool,
    /// Whether `datahash` was present and matched.
    pub datahash: bool,
}

/// A maintainer script from the control stream (never run by whittle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Its member name, e.g. `.post-install`.
    pub name: String,
    /// Its content.
    pub content: Vec<u8>,
}

pub use whittle_fs::archive::{EntryKind, TarEntry};

/// One entry of the data stream, valid during the callback: the checked tar entry (its fields
/// are reachable directly, e.g. `entry.path`) and the SHA-1 apk-tools recorded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataEntry<'a> {
    /// The entry as [`whittle_fs::archive::walk_tar`] checked it.
    pub entry: TarEntry<'a>,
    /// The `APK-TOOLS.checksum.SHA1` PAX header, if present.
    pub pax_sha1: Option<[u8; 20]>,
}

impl<'a> std::ops::Deref for DataEntry<'a> {
    type Target = TarEntry<'a>;

    fn deref(&self) -> &TarEntry<'a> {
        &self.entry
    }
}

impl DataEntry<'_> {
    /// The SHA-1 apk-tools records for this entry (the `Z:` of the installed database): the PAX
    /// header if present, else the SHA-1 of the content for files or of the target for
    /// symlinks; `None` for directories and hard links without the header.
    pub fn apk_sha1(&self) -> Option<[u8; 20]> {
        if let Some(c) = self.pax_sha1 {
            return Some(c);
        }
        match self.kind {
            EntryKind::File => Some(Sha1::digest(self.data).into()),
            EntryKind::Symlink { target } => Some(Sha1::digest(target.as_bytes()).into()),
            EntryKind::Dir | EntryKind::Hardlink { .. } => None,
        }
    }
}

/// An opened `.apk`, borrowing the package bytes.
#[derive(Debug, Clone)]
pub struct ApkPackage<'a> {
    origin: String,
    bytes: &'a [u8],
    signatures: Vec<Signature>,
    control: &'a [u8],
    data: &'a [u8],
    pkginfo: PkgInfo,
    pkginfo_text: String,
    scripts: Vec<Script>,
    control_members: Vec<String>,
    max_data_size: u64,
    check_file_checksums: bool,
}

impl<'a> ApkPackage<'a> {
    /// Splits `bytes` into its streams and parses the signature and control streams. `origin`
    /// names the package in errors (file name or URL). Nothing is verified yet: call
    /// [`ApkPackage::verify`].
    pub fn open(origin: &str, bytes: &'a [u8]) -> Result<ApkPackage<'a>> {
        let origin = origin.to_string();
        let (first, first_end) = gunzip_member(&origin, bytes, 0, Stream::Control)?;
        let first_is_sig = first_tar_name(&first)
            .map(|n| n.starts_with(".SIGN."))
            .unwrap_or(false);
        let (control_start, control_tar, control_end, signatures) = if first_is_sig {
            let signatures = read_signatures(&origin, &first)?;
            if first_end >= bytes.len() {
                return Err(Error::MissingStream {
                    origin,
                    stream: Stream::Control,
                });
            }
            let (ctl, end) = gunzip_member(&origin, bytes, first_end, Stream::Control)?;
            (first_end, ctl, end, signatures)
        } else {
            (0, first, first_end, Vec::new())
        };
        let control = bytes.get(control_start..control_end).unwrap_or_default();
        let data = bytes.get(control_end..).unwrap_or_default();
        if data.is_empty() {
            return Err(Error::MissingStream {
                origin,
                stream: Stream::Data,
            });
        }
        let mut pkginfo_text = None;
        let mut scripts = Vec::new();
        let mut control_members = Vec::new();
        for_each_small_member(&origin, Stream::Control, &control_tar, |name, content| {
            if control_members.len() < MAX_CONTROL_MEMBERS {
                control_members.push(name.to_string());
            }
            if name == ".PKGINFO" {
                pkginfo_text = Some(String::from_utf8_lossy(content).into_owned());
            } else if SCRIPT_NAMES.contains(&name) {
                scripts.push(Script {
                    name: name.to_string(),
                    content: content.to_vec(),
                });
            }
        })?;
        let pkginfo_text = pkginfo_text.ok_or_else(|| Error::NoPkgInfo {
            origin: origin.clone(),
        })?;
        let pkginfo = parse_pkginfo(&origin, &pkginfo_text)?;
        Ok(ApkPackage {
            origin,
            bytes,
            signatures,
            control,
            data,
            pkginfo,
            pkginfo_text,
            scripts,
            control_members,
            max_data_size: DEFAULT_MAX_DATA_SIZE,
            check_file_checksums: true,
        })
    }

    /// Sets the cap on the decompressed data stream (default [`DEFAULT_MAX_DATA_SIZE`]).
    pub fn with_max_data_size(mut self, bytes: u64) -> Self {
        self.max_data_size = bytes;
        self
    }

    /// Whether [`ApkPackage::for_each_data_entry`] checks each file against its
    /// `APK-TOOLS.checksum.SHA1` header (default on; the check costs one SHA-1 per file).
    pub fn with_file_checksum_check(mut self, on: bool) -> Self {
        self.check_file_checksums = on;
        self
    }

    /// The package file's name as given to [`ApkPackage::open`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Size of the whole `.apk` in bytes (the index's and installed database's `S:`).
    pub fn file_size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The parsed `.PKGINFO`.
    pub fn pkginfo(&self) -> &PkgInfo {
        &self.pkginfo
    }

    /// The `.PKGINFO` text as shipped.
    pub fn pkginfo_text(&self) -> &str {
        &self.pkginfo_text
    }

    /// The package name.
    pub fn name(&self) -> &str {
        &self.pkginfo.pkgname
    }

    /// The package version.
    pub fn version(&self) -> &str {
        &self.pkginfo.pkgver
    }

    /// The signatures of the signature stream (empty for an unsigned package).
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Whether the package has a signature stream with at least one RSA signature.
    pub fn is_signed(&self) -> bool {
        !self.signatures.is_empty()
    }

    /// The maintainer scripts in the control stream, in archive order (none is ever run).
    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    /// Names of all control members (`.PKGINFO`, scripts, `.melange.yaml`, ...), in order.
    pub fn control_members(&self) -> &[String] {
        &self.control_members
    }

    /// The content of control member `name` (e.g. `.melange.yaml`), if the control stream has
    /// a regular file of that name; read again from the stream, capped as [`ApkPackage::open`]
    /// caps it.
    pub fn control_member(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let listed_all = self.control_members.len() < MAX_CONTROL_MEMBERS;
        if listed_all && !self.control_members.iter().any(|m| m == name) {
            return Ok(None);
        }
        let (tar, _) = gunzip_member(&self.origin, self.control, 0, Stream::Control)?;
        let mut found = None;
        for_each_small_member(&self.origin, Stream::Control, &tar, |n, content| {
            if found.is_none() && n == name {
                found = Some(content.to_vec());
            }
        })?;
        Ok(found)
    }

    /// The raw compressed control stream (what signatures and `C:` cover).
    pub fn control_stream(&self) -> &'a [u8] {
        self.control
    }

    /// The raw compressed data stream (what `datahash` covers).
    pub fn data_stream(&self) -> &'a [u8] {
        self.data
    }

    /// SHA-1 of the raw control stream.
    pub fn control_sha1(&self) -> [u8; 20] {
        Sha1::digest(self.control).into()
    }

    /// The index `C:` value of this package: `Q1` + base64(SHA-1 of the control stream).
    pub fn control_checksum_q1(&self) -> String {
        q1(&self.control_sha1())
    }

    /// Verifies the signature with `keyring`: the first signature by a trusted key that
    /// verifies wins. Refuses an unsigned package ([`Error::Unsigned`]), one signed only by
    /// unknown keys ([`Error::UntrustedKey`]) and a bad signature by a trusted key
    /// ([`Error::BadSignature`]).
    pub fn verify_signature(&self, keyring: &Keyring) -> Result<KeyName> {
        if self.signatures.is_empty() {
            return Err(Error::Unsigned {
                origin: self.origin.clone(),
            });
        }
        let mut bad = None;
        let mut sha1 = None;
        let mut sha256 = None;
        for sig in &self.signatures {
            if keyring.get(&sig.keyname).is_none() {
                continue;
            }
            let digest: &[u8] = match sig.kind {
                SigKind::Sha1 => sha1.get_or_insert_with(|| SigKind::Sha1.digest(self.control)),
                SigKind::Sha256 => {
                    sha256.get_or_insert_with(|| SigKind::Sha256.digest(self.control))
                }
            };
            match keyring.verify_digest(sig.kind, &sig.keyname, digest, &sig.signature) {
                Ok(()) => {
                    return Ok(KeyName {
                        kind: sig.kind,
                        name: sig.keyname.clone(),
                    });
                }
                Err(e) => {
                    if bad.is_none() {
                        bad = Some(e);
                    }
                }
            }
        }
        match bad {
            Some(source) => Err(Error::BadSignature {
                origin: self.origin.clone(),
                source,
            }),
            None => Err(Error::UntrustedKey {
                keys: self.signatures.iter().map(|s| s.keyname.clone()).collect(),
                trusted: keyring.names().map(str::to_string).collect(),
                origin: self.origin.clone(),
            }),
        }
    }

    /// Checks the control checksum against an index's `C:` value (`Q1...`).
    pub fn verify_index_checksum(&self, index_c: &str) -> Result<()> {
        let actual = self.control_checksum_q1();
        if actual == index_c.trim() {
            Ok(())
        } else {
            Err(Error::ChecksumMismatch {
                origin: self.origin.clone(),
                expected: index_c.trim().to_string(),
                actual,
            })
        }
    }

    /// Checks the data stream against `.PKGINFO`'s `datahash`; `Ok(false)` when the package has
    /// no `datahash` (old packages), `Ok(true)` when it matched.
    pub fn verify_datahash(&self) -> Result<bool> {
        let Some(expected) = &self.pkginfo.datahash else {
            return Ok(false);
        };
        let actual = hex::encode(Sha256::digest(self.data));
        if &actual == expected {
            Ok(true)
        } else {
            Err(Error::DatahashMismatch {
                origin: self.origin.clone(),
                expected: expected.clone(),
                actual,
            })
        }
    }

    /// Full verification as apk-tools does it. With `index_c` (the `C:` of a verified index
    /// listing this package) the control checksum must equal it, and a signature by a trusted
    /// key, if any, must also verify (unknown keys are then fine: the index vouches). Without
    /// it a signature by a trusted key is required. `datahash` is checked whenever present.
    pub fn verify(&self, keyring: &Keyring, index_c: Option<&str>) -> Result<Verified> {
        let mut out = Verified {
            signed_by: None,
            index_checksum: false,
            datahash: false,
        };
        match index_c {
            Some(c) => {
                self.verify_index_checksum(c)?;
                out.index_checksum = true;
                match self.verify_signature(keyring) {
                    Ok(k) => out.signed_by = Some(k),
                    Err(Error::Unsigned { .. } | Error::UntrustedKey { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            None => out.signed_by = Some(self.verify_signature(keyring)?),
        }
        out.datahash = self.verify_datahash()?;
        Ok(out)
    }

    /// Streams the data stream, calling `f` for each entry in archive order. Stops at the first
    /// error, from the archive or from `f`. File contents are read into one reused buffer, so
    /// `f` must copy what it keeps. Does not check `datahash` (see [`ApkPackage::verify`]).
    pub fn for_each_data_entry<E, F>(&self, f: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(DataEntry<'_>) -> Result<(), E>,
    {
        self.walk(self.data_reader(), f)
    }

    /// The data stream as a decompressing reader (e.g. to pass through a memory budget on its
    /// way to [`ApkPackage::for_each_entry_of`]); nothing is buffered.
    pub fn data_reader(&self) -> Box<dyn Read + Send + 'a> {
        Box::new(flate2::bufread::MultiGzDecoder::new(self.data))
    }

    /// Like [`ApkPackage::for_each_data_entry`], over this package's data stream read from
    /// `reader` ([`ApkPackage::data_reader`], possibly through adapters); the same checks and
    /// the same size cap apply to every entry.
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
            stream: Stream::Data,
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
        let origin = self.origin.as_str();
        let opts = WalkOptions {
            max_size: self.max_data_size,
            pax_key: Some(b"APK-TOOLS.checksum.SHA1"),
            inline_max: None,
        };
        let result = walk_tar(reader, &opts, |e| {
            let pax_sha1 = e.pax_value.and_then(|v| {
                let mut c = [0u8; 20];
                hex::decode_to_slice(v, &mut c).ok().map(|()| c)
            });
            if self.check_file_checksums
                && matches!(e.kind, EntryKind::File)
                && let Some(expected) = pax_sha1
            {
                let actual: [u8; 20] = Sha1::digest(e.data).into();
                if actual != expected {
                    return Err(Fail::Apk(Error::FileChecksum {
                        origin: origin.to_string(),
                        path: e.path.to_string(),
                        expected: hex::encode(expected),
                        actual: hex::encode(actual),
                    }));
                }
            }
            f(DataEntry { entry: e, pax_sha1 }).map_err(Fail::User)
        });
        let walk_err = |w: WalkError| match w {
            WalkError::TooLarge(_) => self.too_large(),
            WalkError::Read(e) => {
                // Decompression failures surface as I/O errors of the tar reader.
                let reason = e.to_string();
                if e.kind() == io::ErrorKind::InvalidInput
                    || e.kind() == io::ErrorKind::InvalidData
                    || reason.contains("corrupt")
                    || reason.contains("deflate")
                {
                    Error::Gzip {
                        origin: origin.to_string(),
                        stream: Stream::Data,
                        offset: self.bytes.len() - self.data.len(),
                        reason,
                    }
                } else {
                    Error::Tar {
                        origin: origin.to_string(),
                        stream: Stream::Data,
                        reason,
                    }
                }
            }
            e @ WalkError::EmptyHardlinkTarget { .. } => Error::Tar {
                origin: origin.to_string(),
                stream: Stream::Data,
                reason: e.to_string(),
            },
            e @ WalkError::PaxSparse { .. } => Error::Refused {
                origin: origin.to_string(),
                reason: e.to_string(),
            },
            WalkError::PathEscape { path } => Error::PathEscape {
                origin: origin.to_string(),
                path,
            },
            WalkError::NonUtf8Path { path } => Error::NonUtf8Path {
                origin: origin.to_string(),
                path,
            },
            WalkError::SpecialFile { path, kind } => Error::SpecialFile {
                origin: origin.to_string(),
                path,
                kind,
            },
            WalkError::UnsupportedEntry { path, type_byte } => Error::UnsupportedEntry {
                origin: origin.to_string(),
                path,
                type_byte,
            },
        };
        match result {
            Ok(()) => Ok(()),
            Err(WalkFail::Walk(w)) => Err(E::from(walk_err(w))),
            Err(WalkFail::User(Fail::Apk(e))) => Err(E::from(e)),
            Err(WalkFail::User(Fail::User(e))) => Err(e),
        }
    }
}

/// `Q1` + base64 of a SHA-1 (the apk-tools checksum notation of `C:` and `Z:`).
pub fn q1(sha1: &[u8; 20]) -> String {
    let mut s = String::with_capacity(30);
    s.push_str("Q1");
    base64::engine::general_purpose::STANDARD.encode_string(sha1, &mut s);
    s
}

/// Decodes a `Q1...` checksum into its SHA-1; `None` if it is not one.
pub fn parse_q1(s: &str) -> Option<[u8; 20]> {
    let b = base64::engine::general_purpose::STANDARD
        .decode(s.strip_prefix("Q1")?)
        .ok()?;
    b.try_into().ok()
}

enum Fail<E> {
    Apk(Error),
    User(E),
}

/// Decompresses exactly one gzip member starting at `start`; returns its content and the
/// offset just after it. The content is capped at [`MAX_CONTROL_SIZE`].
fn gunzip_member(
    origin: &str,
    bytes: &[u8],
    start: usize,
    stream: Stream,
) -> Result<(Vec<u8>, usize)> {
    let mut rest = bytes.get(start..).unwrap_or_default();
    if rest.is_empty() {
        return Err(Error::MissingStream {
            origin: origin.to_string(),
            stream,
        });
    }
    let before = rest.len();
    let mut out = Vec::new();
    let (read, exceeded) = {
        let mut limited =
            LimitedReader::new(flate2::bufread::GzDecoder::new(&mut rest), MAX_CONTROL_SIZE);
        let r = limited.read_to_end(&mut out);
        (r, limited.exceeded())
    };
    if exceeded {
        return Err(Error::TooLarge {
            origin: origin.to_string(),
            stream,
            limit: MAX_CONTROL_SIZE,
        });
    }
    read.map_err(|e| Error::Gzip {
        origin: origin.to_string(),
        stream,
        offset: start,
        reason: e.to_string(),
    })?;
    let consumed = before - rest.len();
    if consumed == 0 {
        return Err(Error::Gzip {
            origin: origin.to_string(),
            stream,
            offset: start,
            reason: "empty gzip member".to_string(),
        });
    }
    Ok((out, start + consumed))
}

/// The name of the first entry of a tar, if it has one.
fn first_tar_name(tar: &[u8]) -> Option<String> {
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().ok()?;
    let entry = entries.next()?.ok()?;
    let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    Some(name)
}

/// Calls `f(name, content)` for each regular file of a small in-memory tar (signature or control
/// stream). Such tars are cut by apk-tools (no end-of-archive blocks), which is fine.
fn for_each_small_member(
    origin: &str,
    stream: Stream,
    tar: &[u8],
    mut f: impl FnMut(&str, &[u8]),
) -> Result<()> {
    let err = |e: io::Error| Error::Tar {
        origin: origin.to_string(),
        stream,
        reason: e.to_string(),
    };
    let mut archive = tar::Archive::new(tar);
    let mut content = Vec::new();
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        if !matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw);
        let name = name.strip_prefix("./").unwrap_or(&name);
        content.clear();
        entry.read_to_end(&mut content).map_err(err)?;
        f(name, &content);
    }
    Ok(())
}

fn read_signatures(origin: &str, tar: &[u8]) -> Result<Vec<Signature>> {
    let mut sigs = Vec::new();
    for_each_small_member(origin, Stream::Signature, tar, |name, content| {
        if sigs.len() >= MAX_SIGNATURES {
            return;
        }
        if let Some((kind, key)) = parse_signature_member_name(name) {
            sigs.push(Signature {
                kind,
                keyname: key.to_string(),
                signature: content.to_vec(),
            });
        }
    })?;
    Ok(sigs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkginfo_lists_and_numbers() {
        let text = "# Generated by abuild\npkgname = foo\npkgver = 1.0-r0\nsize = 42\n\
                    depend = a b>=1\ndepend = !c\ninstall_if = x=1 y\nurl = \n\
                    triggers = /usr/lib /usr/share\nfoo = bar\nnot a field\n";
        let p = parse_pkginfo("t", text).unwrap();
        assert_eq!(p.pkgname, "foo");
        assert_eq!(p.size, Some(42));
        assert_eq!(p.depend, vec!["a", "b>=1", "!c"]);
        assert_eq!(p.install_if, vec!["x=1", "y"]);
        assert_eq!(p.triggers, vec!["/usr/lib", "/usr/share"]);
        assert_eq!(p.url.as_deref(), Some(""));
        assert_eq!(p.extra, vec![("foo".to_string(), "bar".to_string())]);
    }

    #[test]
    fn pkginfo_errors_name_line_and_field() {
        let e = parse_pkginfo("pkg.apk", "pkgname = a\npkgver = 1\nsize = -3\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("line 3") && msg.contains("size"), "{msg}");
        let e = parse_pkginfo("pkg.apk", "pkgname = a\n").unwrap_err();
        assert!(e.to_string().contains("pkgver"));
        let e = parse_pkginfo("p", "pkgname = a\npkgver = 1\ndatahash = xyz\n").unwrap_err();
        assert!(e.to_string().contains("datahash"));
    }

    #[test]
    fn q1_round_trip() {
        let d: [u8; 20] = Sha1::digest(b"/proc/mounts").into();
        let s = q1(&d);
        assert!(s.starts_with("Q1") && s.len() == 30);
        assert_eq!(parse_q1(&s), Some(d));
        assert_eq!(parse_q1("Q2abc"), None);
    }

    #[test]
    fn normalize_refuses_dotdot() {
        use whittle_fs::archive::{WalkError, normalize_into};
        let mut s = String::new();
        normalize_into(&mut s, b"./usr//bin/./x/").unwrap();
        assert_eq!(s, "usr/bin/x");
        assert!(matches!(
            normalize_into(&mut s, b"usr/../../etc"),
            Err(WalkError::PathEscape { .. })
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ApkPackage::open("x", b"").is_err());
        assert!(ApkPackage::open("x", b"\x1f\x8b\x08\x00garbage").is_err());
    }
}
