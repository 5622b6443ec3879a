//! Signed `APKINDEX.tar.gz` repository indexes: splitting the gzip streams, verifying the
//! signature against a [`Keyring`], and parsing the `APKINDEX` text into [`IndexEntry`] records.
//!
//! Layout (apk v2): a concatenation of gzip streams, each a piece of one tar archive:
//!
//! 1. optionally a *signature stream*: a tar holding only `.SIGN.RSA.<key>` (RSA/SHA-1) and/or
//!    `.SIGN.RSA256.<key>` (RSA/SHA-256) members, without end-of-archive blocks;
//! 2. the *index stream*: a tar with `DESCRIPTION` and `APKINDEX`.
//!
//! Each signature covers the raw (compressed) bytes of the index stream. As in apk-tools, a
//! signature is only honoured in a leading stream of its own: a `.SIGN.*` member that appears
//! inside the index stream (e.g. after `APKINDEX`) signs nothing and the index counts as unsigned.
//! Anything after the index stream is refused.

use std::io::Read;

use base64::Engine as _;

use crate::sign::{Keyring, SigKind, SignError, parse_signature_member_name};
use crate::version::{Dependency, Version, VersionError, parse_dependencies_lenient};

/// Largest decompressed index stream accepted (tar including `APKINDEX`).
pub const MAX_INDEX_DECOMPRESSED: u64 = 256 * 1024 * 1024;

/// Largest decompressed signature stream accepted.
pub const MAX_SIGNATURE_STREAM: u64 = 1024 * 1024;

/// Largest `DESCRIPTION` member kept.
pub const MAX_DESCRIPTION: u64 = 64 * 1024;

/// Errors from reading, verifying and parsing an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A gzip stream is corrupt or truncated.
    #[error("{origin}: gzip stream at byte {offset} is corrupt: {reason}")]
    Gzip {
        /// The index file or URL.
        origin: String,
        /// Offset of the stream in the file.
        offset: usize,
        /// Decoder message.
        reason: String,
    },
    /// A tar archive inside a stream is malformed.
    #[error("{origin}: malformed tar in the {stream} stream: {reason}")]
    Tar {
        /// The index file or URL.
        origin: String,
        /// "signature" or "index".
        stream: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A size limit was exceeded.
    #[error(
        "{origin}: {what} is larger than {limit} bytes; refusing to read it (not an APK index?)"
    )]
    TooLarge {
        /// The index file or URL.
        origin: String,
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// Data follows the index stream.
    #[error(
        "{origin}: unexpected data after the index stream at byte {offset}; an APKINDEX.tar.gz holds at most a signature stream and an index stream"
    )]
    Trailing {
        /// The index file or URL.
        origin: String,
        /// Where the extra data starts.
        offset: usize,
    },
    /// The signature stream is not followed by an index stream.
    #[error("{origin}: signature stream is not followed by an index stream (truncated download?)")]
    MissingIndexStream {
        /// The index file or URL.
        origin: String,
    },
    /// No `APKINDEX` member.
    #[error("{origin}: no APKINDEX member in the index stream")]
    MissingApkindex {
        /// The index file or URL.
        origin: String,
    },
    /// The index carries no usable signature.
    #[error(
        "{origin}: index is not signed{detail}; refusing it (only the explicit insecure mode reads unsigned indexes)"
    )]
    Unsigned {
        /// The index file or URL.
        origin: String,
        /// Extra explanation (starts with "; " when present).
        detail: String,
    },
    /// Signed only by keys not in the keyring.
    #[error(
        "{origin}: signed by untrusted key(s) {found:?}; trusted keys: {trusted:?}. Add the repository's public key (file named as in the signature) to the keyring"
    )]
    UntrustedKey {
        /// The index file or URL.
        origin: String,
        /// Key names found in the signatures.
        found: Vec<String>,
        /// Key names in the keyring.
        trusted: Vec<String>,
    },
    /// A trusted key's signature does not verify.
    #[error(
        "{origin}: signature by trusted key(s) {keys:?} does not verify: the index was modified or corrupted; refusing it"
    )]
    BadSignature {
        /// The index file or URL.
        origin: String,
        /// Trusted keys whose signatures failed.
        keys: Vec<String>,
    },
    /// The APKINDEX text is not UTF-8.
    #[error("{origin}: APKINDEX line {line}: not valid UTF-8")]
    Utf8 {
        /// The index file or URL.
        origin: String,
        /// 1-based line number.
        line: usize,
    },
    /// A malformed line or field value.
    #[error("{origin}: APKINDEX line {line}: field {field:?}: {reason}")]
    Field {
        /// The index file or URL.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// The field letter (or '?' for a line that is not `X:value`).
        field: char,
        /// What is wrong.
        reason: String,
    },
}

/// An index file's checksum of a package (`C:`): `Q1` + base64 SHA-1 of the package's control
/// gzip stream, or `Q2` + base64 SHA-256 (newer apk-tools).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageChecksum {
    /// `Q1…`
    Sha1([u8; 20]),
    /// `Q2…`
    Sha256([u8; 32]),
}

impl PackageChecksum {
    /// Parses `Q1<base64 sha1>` or `Q2<base64 sha256>`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let (kind, body) = s.split_at_checked(2).ok_or("too short")?;
        let bytes = b64
            .decode(body)
            .map_err(|e| format!("{s:?} is not Q1/Q2 + base64: {e}"))?;
        match kind {
            "Q1" => bytes
                .try_into()
                .map(PackageChecksum::Sha1)
                .map_err(|b: Vec<u8>| format!("Q1 checksum has {} bytes, expected 20", b.len())),
            "Q2" => bytes
                .try_into()
                .map(PackageChecksum::Sha256)
                .map_err(|b: Vec<u8>| format!("Q2 checksum has {} bytes, expected 32", b.len())),
            _ => Err(format!(
                "{s:?} does not start with Q1 (SHA-1) or Q2 (SHA-256)"
            )),
        }
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        match self {
            PackageChecksum::Sha1(d) => d,
            PackageChecksum::Sha256(d) => d,
        }
    }
}

impl std::fmt::Display for PackageChecksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b64 = base64::engine::general_purpose::STANDARD;
        match self {
            PackageChecksum::Sha1(d) => write!(f, "Q1{}", b64.encode(d)),
            PackageChecksum::Sha256(d) => write!(f, "Q2{}", b64.encode(d)),
        }
    }
}

/// One package record of an APKINDEX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// `P:` package name.
    pub name: String,
    /// `V:` version (kept even if apk would call it invalid, as apk does).
    pub version: Version,
    /// `A:` architecture.
    pub arch: String,
    /// `S:` size of the `.apk` file in bytes.
    pub size: u64,
    /// `I:` installed size in bytes.
    pub installed_size: u64,
    /// `C:` checksum of the control stream (the package identity).
    pub checksum: Option<PackageChecksum>,
    /// `T:` description.
    pub description: String,
    /// `U:` upstream URL.
    pub url: String,
    /// `L:` license.
    pub license: String,
    /// `o:` origin (source package).
    pub origin: String,
    /// `m:` maintainer.
    pub maintainer: String,
    /// `t:` build time (Unix seconds).
    pub build_time: Option<u64>,
    /// `c:` source commit.
    pub commit: String,
    /// `D:` dependencies (atoms with invalid versions are kept, marked
    /// [`Dependency::broken`], as apk-tools 3 does).
    pub depends: Vec<Dependency>,
    /// `p:` provides.
    pub provides: Vec<Dependency>,
    /// `i:` install-if conditions.
    pub install_if: Vec<Dependency>,
    /// `k:` provider priority.
    pub provider_priority: Option<u64>,
    /// `r:` replaces (rare in indexes).
    pub replaces: Vec<Dependency>,
    /// Fields whose letters this parser does not know, in order, kept verbatim.
    pub unknown: Vec<(char, String)>,
    /// 1-based line where the record starts in `APKINDEX`.
    pub line: usize,
}

impl IndexEntry {
    /// The package file name in the repository: `<name>-<version>.apk`.
    pub fn filename(&self) -> String {
        format!("{}-{}.apk", self.name, self.version)
    }
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBy {
    /// The signature kind.
    pub kind: SigKind,
    /// The key name (file name in the keyring).
    pub keyname: String,
}

/// A parsed (and, through [`verify_index`], verified) index.
#[derive(Debug, Clone)]
pub struct Index {
    /// Where it came from.
    pub origin: String,
    /// The `DESCRIPTION` member (e.g. `v3.16.3-13-g4d933a1fa3`), empty if absent.
    pub description: String,
    /// Package records in file order.
    pub entries: Vec<IndexEntry>,
    /// The signature that verified; `None` from [`parse_index_unverified`].
    pub verified_by: Option<VerifiedBy>,
}

/// One signature found in the signature stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSignature {
    /// The kind (from the member name).
    pub kind: SigKind,
    /// The key name (from the member name).
    pub keyname: String,
    /// The raw signature.
    pub signature: Vec<u8>,
}

/// An index file split into its parts, before any trust decision.
#[derive(Debug, Clone)]
pub struct SplitIndex<'a> {
    /// Signatures from the leading signature stream (empty if unsigned).
    pub signatures: Vec<IndexSignature>,
    /// Raw bytes of the (compressed) index gzip stream: what the signatures cover.
    pub index_stream: &'a [u8],
    /// Byte offset of the index stream in the file.
    pub index_offset: usize,
}

/// Decompresses one gzip member starting at `data[0]`, returning the decompressed bytes and the
/// number of compressed bytes consumed. At most `limit` decompressed bytes are accepted.
fn gunzip_member(
    origin: &str,
    data: &[u8],
    offset: usize,
    limit: u64,
    what: &'static str,
) -> Result<(Vec<u8>, usize), IndexError> {
    let mut dec = flate2::bufread::GzDecoder::new(data);
    let mut out = Vec::new();
    (&mut dec)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| IndexError::Gzip {
            origin: origin.to_string(),
            offset,
            reason: e.to_string(),
        })?;
    if out.len() as u64 > limit {
        return Err(IndexError::TooLarge {
            origin: origin.to_string(),
            what,
            limit,
        });
    }
    let rest: &[u8] = dec.into_inner();
    Ok((out, data.len() - rest.len()))
}

/// Regular-file members of an in-memory tar: (name, data range). Stops at end-of-archive or
/// at end of data (signature streams carry no end-of-archive blocks).
fn tar_members(
    origin: &str,
    stream: &'static str,
    tar_bytes: &[u8],
) -> Result<Vec<(String, std::ops::Range<usize>)>, IndexError> {
    let terr = |reason: String| IndexError::Tar {
        origin: origin.to_string(),
        stream,
        reason,
    };
    let mut ar = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for entry in ar.entries().map_err(|e| terr(e.to_string()))? {
        let entry = entry.map_err(|e| terr(e.to_string()))?;
        let kind = entry.header().entry_type();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let start = usize::try_from(entry.raw_file_position())
            .map_err(|_| terr(format!("member {name:?} offset out of range")))?;
        let len = usize::try_from(entry.size())
            .map_err(|_| terr(format!("member {name:?} size out of range")))?;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= tar_bytes.len())
            .ok_or_else(|| terr(format!("member {name:?} is truncated")))?;
        out.push((name, start..end));
    }
    Ok(out)
}

struct Parts<'a> {
    split: SplitIndex<'a>,
    index_tar: Vec<u8>,
    members: Vec<(String, std::ops::Range<usize>)>,
}

fn split_parts<'a>(origin: &str, bytes: &'a [u8]) -> Result<Parts<'a>, IndexError> {
    let (first, used) = gunzip_member(
        origin,
        bytes,
        0,
        MAX_INDEX_DECOMPRESSED,
        "decompressed first stream",
    )?;
    let first_members = tar_members(origin, "first", &first)?;
    let is_sig_stream =
        !first_members.is_empty() && first_members.iter().all(|(n, _)| n.starts_with(".SIGN."));
    let (signatures, index_offset, index_tar, index_used) = if is_sig_stream {
        if first.len() as u64 > MAX_SIGNATURE_STREAM {
            return Err(IndexError::TooLarge {
                origin: origin.to_string(),
                what: "signature stream",
                limit: MAX_SIGNATURE_STREAM,
            });
        }
        let mut sigs = Vec::new();
        for (name, range) in &first_members {
            if let Some((kind, key)) = parse_signature_member_name(name) {
                sigs.push(IndexSignature {
                    kind,
                    keyname: key.to_string(),
                    signature: first[range.clone()].to_vec(),
                });
            }
        }
        let rest = &bytes[used..];
        if rest.is_empty() {
            return Err(IndexError::MissingIndexStream {
                origin: origin.to_string(),
            });
        }
        let (tar, n) = gunzip_member(
            origin,
            rest,
            used,
            MAX_INDEX_DECOMPRESSED,
            "decompressed index stream",
        )?;
        (sigs, used, tar, n)
    } else {
        (Vec::new(), 0, first, used)
    };
    let end = index_offset + index_used;
    if end < bytes.len() {
        return Err(IndexError::Trailing {
            origin: origin.to_string(),
            offset: end,
        });
    }
    let members = if is_sig_stream {
        tar_members(origin, "index", &index_tar)?
    } else {
        first_members
    };
    Ok(Parts {
        split: SplitIndex {
            signatures,
            index_stream: &bytes[index_offset..end],
            index_offset,
        },
        index_tar,
        members,
    })
}

/// Splits an `APKINDEX.tar.gz` into its signatures and the raw index stream, without verifying
/// or parsing the index text.
pub fn split_index<'a>(origin: &str, bytes: &'a [u8]) -> Result<SplitIndex<'a>, IndexError> {
    split_parts(origin, bytes).map(|p| p.split)
}

/// Checks the signatures of `split` against `keyring`: the first signature by a trusted key that
/// verifies is returned; errors say whether the index is unsigned, signed only by untrusted
/// keys, or carries a bad signature.
pub fn verify_split(
    origin: &str,
    split: &SplitIndex<'_>,
    keyring: &Keyring,
) -> Result<VerifiedBy, IndexError> {
    if split.signatures.is_empty() {
        return Err(IndexError::Unsigned {
            origin: origin.to_string(),
            detail: String::new(),
        });
    }
    let mut digests: [Option<Vec<u8>>; 2] = [None, None];
    let mut bad = Vec::new();
    for sig in &split.signatures {
        if keyring.get(&sig.keyname).is_none() {
            continue;
        }
        let slot = match sig.kind {
            SigKind::Sha1 => 0,
            SigKind::Sha256 => 1,
        };
        let digest = digests[slot].get_or_insert_with(|| sig.kind.digest(split.index_stream));
        match keyring.verify_digest(sig.kind, &sig.keyname, digest, &sig.signature) {
            Ok(()) => {
                return Ok(VerifiedBy {
                    kind: sig.kind,
                    keyname: sig.keyname.clone(),
                });
            }
            Err(SignError::BadSignature { .. }) | Err(SignError::DigestLength { .. }) => {
                bad.push(sig.keyname.clone())
            }
            Err(_) => bad.push(sig.keyname.clone()),
        }
    }
    if !bad.is_empty() {
        return Err(IndexError::BadSignature {
            origin: origin.to_string(),
            keys: bad,
        });
    }
    Err(IndexError::UntrustedKey {
        origin: origin.to_string(),
        found: split.signatures.iter().map(|s| s.keyname.clone()).collect(),
        trusted: keyring.names().map(str::to_string).collect(),
    })
}

/// Verifies an `APKINDEX.tar.gz` with `keyring` and parses it. At least one signature by a
/// trusted key must verify; the index text is only decompressed and parsed after that.
pub fn verify_index(origin: &str, bytes: &[u8], keyring: &Keyring) -> Result<Index, IndexError> {
    let parts = split_parts(origin, bytes)?;
    let verified = match verify_split(origin, &parts.split, keyring) {
        Ok(v) => v,
        Err(IndexError::Unsigned { origin, .. }) => {
            let late: Vec<&str> = parts
                .members
                .iter()
                .filter(|(n, _)| n.starts_with(".SIGN."))
                .map(|(n, _)| n.as_str())
                .collect();
            let detail = if late.is_empty() {
                String::new()
            } else {
                format!(
                    "; signature member(s) {late:?} sit inside the index stream, where they sign nothing (apk-tools only honours signatures in a separate leading gzip stream)"
                )
            };
            return Err(IndexError::Unsigned { origin, detail });
        }
        Err(e) => return Err(e),
    };
    let mut index = parse_parts(origin, &parts)?;
    index.verified_by = Some(verified);
    Ok(index)
}

/// Parses an `APKINDEX.tar.gz` WITHOUT checking any signature. Only for the loud, explicit
/// insecure mode (`--allow-untrusted`); never call this for repositories the user trusts.
pub fn parse_index_unverified(origin: &str, bytes: &[u8]) -> Result<Index, IndexError> {
    let parts = split_parts(origin, bytes)?;
    parse_parts(origin, &parts)
}

fn parse_parts(origin: &str, parts: &Parts<'_>) -> Result<Index, IndexError> {
    let find = |name: &str| {
        parts
            .members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| &parts.index_tar[r.clone()])
    };
    let apkindex = find("APKINDEX").ok_or_else(|| IndexError::MissingApkindex {
        origin: origin.to_string(),
    })?;
    let description = match find("DESCRIPTION") {
        Some(d) if d.len() as u64 > MAX_DESCRIPTION => {
            return Err(IndexError::TooLarge {
                origin: origin.to_string(),
                what: "DESCRIPTION",
                limit: MAX_DESCRIPTION,
            });
        }
        Some(d) => String::from_utf8_lossy(d).trim().to_string(),
        None => String::new(),
    };
    let entries = parse_apkindex_text(origin, apkindex)?;
    Ok(Index {
        origin: origin.to_string(),
        description,
        entries,
        verified_by: None,
    })
}

/// Parses the text of an `APKINDEX` member: records separated by blank lines, each line
/// `X:value`. `P:` and `V:` are required; unknown fields are kept in [`IndexEntry::unknown`].
pub fn parse_apkindex_text(origin: &str, text: &[u8]) -> Result<Vec<IndexEntry>, IndexError> {
    let text = match std::str::from_utf8(text) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + text[..e.valid_up_to()]
                .iter()
                .filter(|&&c| c == b'\n')
                .count();
            return Err(IndexError::Utf8 {
                origin: origin.to_string(),
                line,
            });
        }
    };
    let mut entries = Vec::with_capacity(text.len() / 400);
    let mut rec: Option<RecordBuilder> = None;
    for (i, raw_line) in text.split('\n').enumerate() {
        let lineno = i + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if line.is_empty() {
            if let Some(r) = rec.take() {
                entries.push(r.finish(origin)?);
            }
            continue;
        }
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b':' || !b[0].is_ascii() {
            return Err(IndexError::Field {
                origin: origin.to_string(),
                line: lineno,
                field: '?',
                reason: format!(
                    "expected \"X:value\", got {:?}",
                    line.chars().take(60).collect::<String>()
                ),
            });
        }
        let field = b[0] as char;
        let value = &line[2..];
        rec.get_or_insert_with(|| RecordBuilder::new(lineno))
            .set(origin, lineno, field, value)?;
    }
    if let Some(r) = rec.take() {
        entries.push(r.finish(origin)?);
    }
    Ok(entries)
}

struct RecordBuilder {
    line: usize,
    seen: u64,
    e: IndexEntry,
    has_name: bool,
    has_version: bool,
}

impl RecordBuilder {
    fn new(line: usize) -> Self {
        RecordBuilder {
            line,
            seen: 0,
            has_name: false,
            has_version: false,
            e: IndexEntry {
                name: String::new(),
                version: Version::new_lenient(""),
                arch: String::new(),
                size: 0,
                installed_size: 0,
                checksum: None,
                description: String::new(),
                url: String::new(),
                license: String::new(),
                origin: String::new(),
                maintainer: String::new(),
                build_time: None,
                commit: String::new(),
                depends: Vec::new(),
                provides: Vec::new(),
                install_if: Vec::new(),
                provider_priority: None,
                replaces: Vec::new(),
                unknown: Vec::new(),
                line,
            },
        }
    }

    fn set(
        &mut self,
        origin: &str,
        line: usize,
        field: char,
        value: &str,
    ) -> Result<(), IndexError> {
        let ferr = |reason: String| IndexError::Field {
            origin: origin.to_string(),
            line,
            field,
            reason,
        };
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| ferr(format!("{v:?} is not a non-negative integer")))
        };
        let deps = |v: &str| {
            parse_dependencies_lenient(v).map_err(|e| match e {
                VersionError::Dependency { atom, reason } => {
                    ferr(format!("dependency {atom:?}: {reason}"))
                }
                other => ferr(other.to_string()),
            })
        };
        // Known single-valued fields may appear once per record.
        const KNOWN: &str = "PVASICTULomtcDpikr";
        if let Some(bit) = KNOWN.find(field) {
            if self.seen & (1 << bit) != 0 {
                return Err(ferr(format!(
                    "appears twice in the record starting at line {}",
                    self.line
                )));
            }
            self.seen |= 1 << bit;
        }
        let e = &mut self.e;
        match field {
            'P' => {
                if value.is_empty() {
                    return Err(ferr("empty package name".into()));
                }
                e.name = value.to_string();
                self.has_name = true;
            }
            'V' => {
                if value.is_empty() {
                    return Err(ferr("empty version".into()));
                }
                e.version = Version::new_lenient(value);
                self.has_version = true;
            }
            'A' => e.arch = value.to_string(),
            'S' => e.size = num(value)?,
            'I' => e.installed_size = num(value)?,
            'C' => e.checksum = Some(PackageChecksum::parse(value).map_err(ferr)?),
            'T' => e.description = value.to_string(),
            'U' => e.url = value.to_string(),
            'L' => e.license = value.to_string(),
            'o' => e.origin = value.to_string(),
            'm' => e.maintainer = value.to_string(),
            't' => e.build_time = Some(num(value)?),
            'c' => e.commit = value.to_string(),
            'D' => e.depends = deps(value)?,
            'p' => e.provides = deps(value)?,
            'i' => e.install_if = deps(value)?,
            'k' => e.provider_priority = Some(num(value)?),
            'r' => e.replaces = deps(value)?,
            other => e.unknown.push((other, value.to_string())),
        }
        Ok(())
    }

    fn finish(self, origin: &str) -> Result<IndexEntry, IndexError> {
        for (ok, f, what) in [
            (self.has_name, 'P', "package name"),
            (self.has_version, 'V', "version"),
        ] {
            if !ok {
                return Err(IndexError::Field {
                    origin: origin.to_string(),
                    line: self.line,
                    field: f,
                    reason: format!("record starting here has no {what} ({f}:) line"),
                });
            }
        }
        Ok(self.e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_and_reports_lines() {
        let text = b"C:Q1iZ+C2JJdBlm2KKtAOkSkM7zZegY=\nP:busybox\nV:1.35.0-r17\nA:x86_64\nS:5\nI:9\nD:so:libc.musl-x86_64.so.1\np:/bin/sh cmd:busybox=1.35.0-r17\nZ:zzz\n\nP:b\nV:1\n";
        let e = parse_apkindex_text("t", text).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "busybox");
        assert_eq!(e[0].provides.len(), 2);
        assert_eq!(e[0].unknown, vec![('Z', "zzz".to_string())]);
        assert_eq!(e[1].line, 11);
        assert_eq!(
            e[0].checksum.unwrap().to_string(),
            "Q1iZ+C2JJdBlm2KKtAOkSkM7zZegY="
        );

        let err = parse_apkindex_text("t", b"P:a\nV:1\nS:x\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = parse_apkindex_text("t", b"P:a\n\nV:1\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = parse_apkindex_text("t", b"P:a\nV:1\nbogus\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = parse_apkindex_text("t", b"P:a\nV:1\nP:b\n").unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let err = parse_apkindex_text("t", b"P:a\nV:1\nC:Q1AAAA\n").unwrap_err();
        assert!(err.to_string().contains("expected 20"), "{err}");
        let err = parse_apkindex_text("t", b"P:a\nV:1\nD:foo<\n").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = parse_apkindex_text("t", b"P:a\nV:1\nT:\xff\n").unwrap_err();
        assert!(matches!(err, IndexError::Utf8 { line: 3, .. }), "{err}");
    }
}
