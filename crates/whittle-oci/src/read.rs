//! Reading images from disk: `oci:` layouts, `oci-archive:` and `docker-archive:` tars (legacy
//! `docker save`, kaniko-style gzip layers, Docker ≥ 25's OCI hybrid, several images per archive).
//!
//! Nothing is extracted: an archive's member offsets are indexed once (the tar is walked by
//! seeking over member data) and every blob is read by seeking into the file. A gzip-compressed
//! archive (`docker save | gzip`) is decompressed once to a temporary file that the
//! [`ReadImage`] keeps (at most [`MAX_GUNZIPPED_ARCHIVE`] bytes). Layers are handed
//! out as uncompressed tar streams ([`ReadImage::open_layer`]); gzip and zstd are recognised by
//! their magic bytes, whatever the media type says. Blobs of OCI layouts (directory or archive)
//! are verified against their digests: small JSON blobs when read, layers as they are streamed
//! (the stream fails at its end on a mismatch).
//!
//! For a legacy `docker-archive` there is no manifest in the archive: [`ReadImage::manifest`] is
//! synthesized (Docker schema 2 media types) from `manifest.json` and the config, and its digest
//! is the digest of its serialization.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::model::{Descriptor, ImageConfig, Manifest, Platform};
use crate::reference::{DockerReference, ImageRef};

/// Largest JSON document (index, manifest, config, `manifest.json`) read into memory.
pub const MAX_JSON_SIZE: u64 = 16 << 20;
/// Most members indexed in one archive.
pub const MAX_ARCHIVE_MEMBERS: usize = 1_000_000;
/// Largest decompressed size of a gzip-compressed image archive (`docker save | gzip`): 16 GiB.
pub const MAX_GUNZIPPED_ARCHIVE: u64 = 16 << 30;
/// Deepest nesting of indexes followed from `index.json` to an image manifest.
const MAX_INDEX_DEPTH: usize = 4;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Errors of reading an image from disk.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// An I/O operation on a file failed.
    #[error("{action} `{path}` failed: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A member or blob the image needs is not there.
    #[error(
        "`{member}` is missing from `{source_path}` (needed for {needed}); the image is incomplete"
    )]
    Missing {
        /// The archive or layout.
        source_path: PathBuf,
        /// The member or blob path inside it.
        member: String,
        /// What it was needed for.
        needed: String,
    },
    /// A JSON document does not parse or lacks a field.
    #[error("`{member}` in `{source_path}` is not a valid {what}: {reason}")]
    Invalid {
        /// The archive or layout.
        source_path: PathBuf,
        /// The member or blob path.
        member: String,
        /// What it should have been.
        what: &'static str,
        /// Why it is not.
        reason: String,
    },
    /// A blob's content does not match its digest.
    #[error(
        "blob `{member}` in `{source_path}` has digest {actual}, expected {expected}: the image is corrupt or was tampered with"
    )]
    DigestMismatch {
        /// The archive or layout.
        source_path: PathBuf,
        /// The blob path.
        member: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// The reference does not say which of several images (or platforms) to read.
    #[error("`{source_path}` holds several {what}; choose one of: {choices}")]
    Ambiguous {
        /// The archive or layout.
        source_path: PathBuf,
        /// `images` or `platforms`.
        what: &'static str,
        /// The available names, comma-separated.
        choices: String,
    },
    /// The requested image or platform is not there.
    #[error("`{source_path}` has no {what} `{wanted}`; available: {choices}")]
    NotFound {
        /// The archive or layout.
        source_path: PathBuf,
        /// `image` or `platform`.
        what: &'static str,
        /// What was asked for.
        wanted: String,
        /// The available names, comma-separated.
        choices: String,
    },
    /// Something this reader does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A size limit was hit.
    #[error("`{member}` in `{source_path}` is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The archive or layout.
        source_path: PathBuf,
        /// The member.
        member: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// Result alias of [`read_image`].
pub type ReadResult<T> = std::result::Result<T, ReadError>;

/// One layer of a [`ReadImage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// Digest of the stored (possibly compressed) blob, when the source records it (an OCI
    /// layout, Docker 25 `blobs/sha256/…` paths, or an uncompressed legacy layer whose digest is
    /// its diff ID); `None` for a compressed legacy layer.
    pub digest: Option<String>,
    /// The digest of the uncompressed tar, from the config's `rootfs.diff_ids` (`None` when the
    /// config lists fewer layers than the manifest).
    pub diff_id: Option<String>,
    /// Media type from the manifest (synthesized from the magic bytes for legacy archives).
    pub media_type: String,
    /// Size of the stored blob in bytes.
    pub size: u64,
}

/// An image read from disk: manifest, config, and handles on its layers.
#[derive(Debug)]
pub struct ReadImage {
    /// The image manifest (synthesized for a `docker-archive`, see the module docs).
    pub manifest: Manifest,
    /// The digest of the manifest.
    pub manifest_digest: String,
    /// The parsed config.
    pub config: ImageConfig,
    /// The config exactly as stored.
    pub config_raw: Vec<u8>,
    /// The layers, bottom first.
    pub layers: Vec<LayerRef>,
    store: Store,
    layer_members: Vec<String>,
    verify_layers: bool,
}

/// Where the blobs live.
#[derive(Debug)]
enum Store {
    Dir(PathBuf),
    Archive {
        /// The archive as the reference names it (shown in messages).
        path: PathBuf,
        members: HashMap<String, Member>,
        /// The decompressed copy of a gzip-compressed archive, read instead of `path`; removed
        /// when the image is dropped.
        gunzipped: Option<tempfile::NamedTempFile>,
    },
}

#[derive(Debug, Clone)]
enum Member {
    Data { offset: u64, size: u64 },
    Link(String),
}

/// Read the image `image` names. `platform` picks from a multi-platform index (required when the
/// index holds several images); a `docker://` reference is an [`ReadError::Unsupported`] error.
pub fn read_image(image: &ImageRef, platform: Option<&Platform>) -> ReadResult<ReadImage> {
    match image {
        ImageRef::Oci { path, tag } => {
            read_layout(Store::Dir(path.clone()), tag.as_deref(), platform)
        }
        ImageRef::OciArchive { path, tag } => {
            read_layout(Store::index_archive(path)?, tag.as_deref(), platform)
        }
        ImageRef::DockerArchive { path, reference } => {
            read_docker_archive(Store::index_archive(path)?, reference.as_ref())
        }
        ImageRef::Docker(r) => Err(ReadError::Unsupported(format!(
            "reading `docker://{}` from a registry; save it with `skopeo copy` to an oci: layout first",
            r.familiar()
        ))),
    }
}

impl ReadImage {
    /// The uncompressed tar stream of layer `i` (bottom is 0). Gzip and zstd are detected by
    /// their magic bytes. For OCI layouts the stored blob is hashed while read and the stream
    /// returns an `InvalidData` error at its end when the digest does not match.
    pub fn open_layer(&self, i: usize) -> ReadResult<Box<dyn Read + Send>> {
        let (member, raw) = self.raw_layer(i)?;
        decompress(raw, member)
    }

    /// The stored (possibly compressed) bytes of layer `i`, as they are in the source, for
    /// copying the blob unchanged. When the layer's digest is known (OCI layouts) the stream
    /// returns an `InvalidData` error at its end if the bytes do not match it.
    pub fn open_raw_layer(&self, i: usize) -> ReadResult<Box<dyn Read + Send>> {
        self.raw_layer(i).map(|(_, raw)| raw)
    }

    /// The member name and stored (verified when the digest is known) stream of layer `i`.
    fn raw_layer(&self, i: usize) -> ReadResult<(&str, Box<dyn Read + Send>)> {
        let (member, layer) = self
            .layer_members
            .get(i)
            .zip(self.layers.get(i))
            .ok_or_else(|| {
                ReadError::Unsupported(format!(
                    "layer {i} does not exist; the image has {} layers",
                    self.layers.len()
                ))
            })?;
        let raw = self.store.open(member, "a layer")?;
        let raw: Box<dyn Read + Send> = match (&layer.digest, self.verify_layers) {
            (Some(d), true) => Box::new(VerifyingReader::new(raw, d, member)?),
            _ => raw,
        };
        Ok((member, raw))
    }

    /// Where the image was read from.
    pub fn source(&self) -> &Path {
        self.store.path()
    }
}

fn decompress(raw: Box<dyn Read + Send>, member: &str) -> ReadResult<Box<dyn Read + Send>> {
    let mut buf = BufReader::with_capacity(256 << 10, raw);
    let magic = buf.fill_buf().map_err(|e| ReadError::Io {
        action: "reading layer",
        path: PathBuf::from(member),
        source: e,
    })?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(buf)))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::with_buffer(buf).map_err(|e| ReadError::Io {
            action: "starting zstd decompression of",
            path: PathBuf::from(member),
            source: e,
        })?;
        Ok(Box::new(d))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) || magic.starts_with(b"BZh") {
        Err(ReadError::Unsupported(format!(
            "layer `{member}` is xz or bzip2 compressed; only uncompressed, gzip and zstd layers are read"
        )))
    } else {
        Ok(Box::new(buf))
    }
}

/// Hashes what passes through and fails at EOF when the digest differs.
struct VerifyingReader<R> {
    inner: R,
    hasher: Sha256,
    expected: String,
    member: String,
    done: bool,
}

impl<R: Read> VerifyingReader<R> {
    fn new(inner: R, digest: &str, member: &str) -> ReadResult<Self> {
        let expected = digest
            .strip_prefix("sha256:")
            .ok_or_else(|| {
                ReadError::Unsupported(format!(
                    "digest `{digest}` of `{member}`: only sha256 digests are verified"
                ))
            })?
            .to_ascii_lowercase();
        Ok(VerifyingReader {
            inner,
            hasher: Sha256::new(),
            expected,
            member: member.to_string(),
            done: false,
        })
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.done {
            self.done = true;
            let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob `{}` has digest sha256:{actual}, expected sha256:{}: the image is corrupt or was tampered with",
                        self.member, self.expected
                    ),
                ));
            }
        }
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// How a whole image archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

/// The compression of an archive whose first bytes are `magic`, if it is compressed.
fn compressed_archive(magic: &[u8]) -> Option<Compression> {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
        Some(Compression::Xz)
    } else {
        None
    }
}

/// Normalize an archive member name (`./a//b/` → `a/b`); `None` for names that climb out.
fn member_name(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

impl Store {
    fn path(&self) -> &Path {
        match self {
            Store::Dir(p) | Store::Archive { path: p, .. } => p,
        }
    }

    /// Index the archive at `path`. A gzip-compressed archive (`docker save | gzip`) is first
    /// decompressed to a temporary file (at most [`MAX_GUNZIPPED_ARCHIVE`] bytes), which the
    /// store keeps and reads from.
    fn index_archive(path: &Path) -> ReadResult<Store> {
        let io_err = |action, source| ReadError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(|e| io_err("opening archive", e))?;
        let mut buffered = BufReader::with_capacity(64 << 10, file);
        let magic = buffered
            .fill_buf()
            .map_err(|e| io_err("reading archive", e))?;
        let (members, gunzipped) = match compressed_archive(magic) {
            None => (index_members(path, buffered)?, None),
            Some(Compression::Gzip) => {
                let tmp = gunzip_archive(path, buffered, MAX_GUNZIPPED_ARCHIVE)?;
                let plain = tmp
                    .reopen()
                    .map_err(|e| io_err("reopening the decompressed copy of", e))?;
                let members = index_members(path, BufReader::with_capacity(64 << 10, plain))?;
                (members, Some(tmp))
            }
            Some(kind) => {
                return Err(ReadError::Unsupported(format!(
                    "`{}` is a {}-compressed archive; only plain and gzip-compressed archives are read: decompress it first, then read the plain tar",
                    path.display(),
                    kind.name()
                )));
            }
        };
        Ok(Store::Archive {
            path: path.to_path_buf(),
            members,
            gunzipped,
        })
    }
}

/// Decompress the gzip-compressed archive `path` (whose reader is `compressed`) into a temporary
/// file, refusing more than `limit` bytes.
fn gunzip_archive(
    path: &Path,
    compressed: impl BufRead,
    limit: u64,
) -> ReadResult<tempfile::NamedTempFile> {
    let io_err = |action, source| ReadError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new()
        .map_err(|e| io_err("creating a temporary file to decompress", e))?;
    let mut gz = flate2::bufread::MultiGzDecoder::new(compressed).take(limit.saturating_add(1));
    let mut out = io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
    let n = io::copy(&mut gz, &mut out)
        .and_then(|n| out.flush().map(|()| n))
        .map_err(|e| io_err("decompressing archive", e))?;
    drop(out);
    if n > limit {
        return Err(ReadError::TooLarge {
            source_path: path.to_path_buf(),
            member: "(the decompressed archive)".into(),
            size: n,
            limit,
        });
    }
    Ok(tmp)
}

/// Walk the plain tar `reader` (the archive `path`) once, seeking over member data, and remember
/// where each member's data is.
fn index_members<R: Read + Seek>(path: &Path, reader: R) -> ReadResult<HashMap<String, Member>> {
    let io_err = |action, source| ReadError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    let mut members = HashMap::new();
    let entries = archive
        .entries_with_seek()
        .map_err(|e| io_err("reading archive", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("reading a tar header of", e))?;
        if members.len() >= MAX_ARCHIVE_MEMBERS {
            return Err(ReadError::TooLarge {
                source_path: path.to_path_buf(),
                member: "(member count)".into(),
                size: members.len() as u64,
                limit: MAX_ARCHIVE_MEMBERS as u64,
            });
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(name) = member_name(&name) else {
            continue; // climbs out of the archive: never addressable
        };
        let kind = entry.header().entry_type();
        let member = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => Member::Data {
                offset: entry.raw_file_position(),
                size: entry.size(),
            },
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let Some(target) = entry.link_name_bytes() else {
                    continue;
                };
                let target = String::from_utf8_lossy(&target).into_owned();
                let resolved = if kind == tar::EntryType::Symlink && !target.starts_with('/') {
                    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                    format!("{dir}/{target}")
                } else {
                    target
                };
                match member_name(&resolved) {
                    Some(t) => Member::Link(t),
                    None => continue,
                }
            }
            _ => continue,
        };
        members.insert(name, member);
    }
    Ok(members)
}

impl Store {
    fn missing(&self, member: &str, needed: &str) -> ReadError {
        ReadError::Missing {
            source_path: self.path().to_path_buf(),
            member: member.to_string(),
            needed: needed.to_string(),
        }
    }

    /// Open a member (archive) or file (layout) for reading; returns the reader and its size.
    fn open_sized(&self, member: &str, needed: &str) -> ReadResult<(Box<dyn Read + Send>, u64)> {
        match self {
            Store::Dir(dir) => {
                let clean = member_name(member)
                    .filter(|m| m == member)
                    .ok_or_else(|| self.missing(member, needed))?;
                let path = dir.join(clean);
                let file = File::open(&path).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        self.missing(member, needed)
                    } else {
                        ReadError::Io {
                            action: "opening",
                            path: path.clone(),
                            source: e,
                        }
                    }
                })?;
                let size = file
                    .metadata()
                    .map_err(|e| ReadError::Io {
                        action: "reading metadata of",
                        path: path.clone(),
                        source: e,
                    })?
                    .len();
                Ok((Box::new(file), size))
            }
            Store::Archive {
                path,
                members,
                gunzipped,
            } => {
                let mut name = member.to_string();
                for _ in 0..8 {
                    match members.get(&name) {
                        Some(Member::Link(t)) => name = t.clone(),
                        Some(Member::Data { offset, size }) => {
                            let io_err = |source| ReadError::Io {
                                action: "reading archive",
                                path: path.clone(),
                                source,
                            };
                            let data = gunzipped.as_ref().map_or(path.as_path(), |t| t.path());
                            let mut file = File::open(data).map_err(io_err)?;
                            file.seek(SeekFrom::Start(*offset)).map_err(io_err)?;
                            return Ok((Box::new(file.take(*size)), *size));
                        }
                        None => return Err(self.missing(member, needed)),
                    }
                }
                Err(ReadError::Invalid {
                    source_path: path.clone(),
                    member: member.to_string(),
                    what: "member",
                    reason: "too many links (a link loop?)".into(),
                })
            }
        }
    }

    fn open(&self, member: &str, needed: &str) -> ReadResult<Box<dyn Read + Send>> {
        self.open_sized(member, needed).map(|(r, _)| r)
    }

    /// Read a small member fully (bounded by [`MAX_JSON_SIZE`]); verify `digest` when given.
    fn read_small(&self, member: &str, needed: &str, digest: Option<&str>) -> ReadResult<Vec<u8>> {
        let (reader, size) = self.open_sized(member, needed)?;
        if size > MAX_JSON_SIZE {
            return Err(ReadError::TooLarge {
                source_path: self.path().to_path_buf(),
                member: member.to_string(),
                size,
                limit: MAX_JSON_SIZE,
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        reader
            .take(MAX_JSON_SIZE)
            .read_to_end(&mut data)
            .map_err(|e| ReadError::Io {
                action: "reading",
                path: self.path().join(member),
                source: e,
            })?;
        if let Some(expected) = digest {
            let actual = crate::image::sha256_digest(&data);
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(ReadError::DigestMismatch {
                    source_path: self.path().to_path_buf(),
                    member: member.to_string(),
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
        Ok(data)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        member: &str,
        what: &'static str,
        digest: Option<&str>,
    ) -> ReadResult<(T, Vec<u8>)> {
        let raw = self.read_small(member, what, digest)?;
        let parsed = serde_json::from_slice(&raw).map_err(|e| ReadError::Invalid {
            source_path: self.path().to_path_buf(),
            member: member.to_string(),
            what,
            reason: e.to_string(),
        })?;
        Ok((parsed, raw))
    }

    /// Read and parse an image config. Docker writes `null` for empty fields (`"Volumes": null`);
    /// those are dropped before parsing, as the OCI spec treats them as absent.
    fn config(&self, member: &str, digest: Option<&str>) -> ReadResult<(ImageConfig, Vec<u8>)> {
        let (mut value, raw) = self.json::<serde_json::Value>(member, "image config", digest)?;
        strip_nulls(&mut value, 0);
        let config = serde_json::from_value(value)
            .map_err(|e| self.invalid(member, "image config", e.to_string()))?;
        Ok((config, raw))
    }

    fn invalid(&self, member: &str, what: &'static str, reason: impl Into<String>) -> ReadError {
        ReadError::Invalid {
            source_path: self.path().to_path_buf(),
            member: member.to_string(),
            what,
            reason: reason.into(),
        }
    }
}

fn strip_nulls(v: &mut serde_json::Value, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(|v| strip_nulls(v, depth + 1));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| strip_nulls(v, depth + 1)),
        _ => {}
    }
}

/// `blobs/ALG/HEX` for a digest, refusing anything that is not `alg:hex`.
fn blob_path(store: &Store, digest: &str) -> ReadResult<String> {
    let (alg, hex) = digest
        .split_once(':')
        .filter(|(a, h)| {
            !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && !h.is_empty()
                && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .ok_or_else(|| {
            store.invalid("index.json", "descriptor", format!("bad digest `{digest}`"))
        })?;
    Ok(format!("blobs/{alg}/{hex}"))
}

/// A descriptor as found in the wild: only the digest is required (media type, size,
/// annotations and platform default to empty), for reading manifests and indexes leniently.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LooseDescriptor {
    /// Media type of the referenced content (empty when absent).
    #[serde(default)]
    pub media_type: String,
    /// Digest of the content, as written (not validated).
    pub digest: String,
    /// Size in bytes (0 when absent).
    #[serde(default)]
    pub size: u64,
    /// Annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Platform (on index entries).
    #[serde(default)]
    pub platform: Option<LoosePlatform>,
}

/// A platform as found in the wild (an index entry's `platform`, or the fields of an image
/// config): every field optional.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LoosePlatform {
    /// CPU architecture (empty when absent).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (empty when absent).
    #[serde(default)]
    pub os: String,
    /// CPU variant.
    #[serde(default)]
    pub variant: Option<String>,
}

impl LoosePlatform {
    /// As a [`Platform`].
    pub fn to_platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
        }
    }
}

impl LooseDescriptor {
    /// As a [`Descriptor`].
    pub fn into_descriptor(self) -> Descriptor {
        Descriptor {
            media_type: self.media_type,
            digest: self.digest,
            size: self.size,
            annotations: self.annotations,
            platform: self.platform.map(|p| Platform {
                architecture: p.architecture,
                os: p.os,
                variant: p.variant,
            }),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LooseIndex {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    manifests: Vec<LooseDescriptor>,
    #[serde(default)]
    layers: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LooseManifest {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    config: Option<LooseDescriptor>,
    #[serde(default)]
    layers: Vec<LooseDescriptor>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

fn read_layout(
    store: Store,
    tag: Option<&str>,
    platform: Option<&Platform>,
) -> ReadResult<ReadImage> {
    let (index, _) = store.json::<LooseIndex>("index.json", "image index (index.json)", None)?;
    let names = |ms: &[LooseDescriptor]| {
        let v: Vec<String> = ms
            .iter()
            .map(|m| {
                m.annotations
                    .get(crate::ANNOTATION_REF_NAME)
                    .cloned()
                    .unwrap_or_else(|| m.digest.clone())
            })
            .collect();
        v.join(", ")
    };
    let chosen = match tag {
        Some(t) => {
            let choices = names(&index.manifests);
            index
                .manifests
                .into_iter()
                .find(|m| {
                    m.annotations
                        .get(crate::ANNOTATION_REF_NAME)
                        .map(String::as_str)
                        == Some(t)
                        || m.digest == t
                })
                .ok_or_else(|| ReadError::NotFound {
                    source_path: store.path().to_path_buf(),
                    what: "image",
                    wanted: t.to_string(),
                    choices,
                })?
        }
        None => {
            if index.manifests.len() != 1 {
                return Err(ReadError::Ambiguous {
                    source_path: store.path().to_path_buf(),
                    what: "images",
                    choices: names(&index.manifests),
                });
            }
            let mut ms = index.manifests;
            ms.pop()
                .ok_or_else(|| store.invalid("index.json", "image index", "no manifests"))?
        }
    };
    let mut desc = chosen;
    for _ in 0..MAX_INDEX_DEPTH {
        let member = blob_path(&store, &desc.digest)?;
        let raw = store.read_small(&member, "a manifest", Some(&desc.digest))?;
        let loose_index: Option<LooseIndex> = if is_index(&desc.media_type) {
            Some(
                serde_json::from_slice(&raw)
                    .map_err(|e| store.invalid(&member, "image index", e.to_string()))?,
            )
        } else if desc.media_type.is_empty() {
            serde_json::from_slice::<LooseIndex>(&raw).ok().filter(|i| {
                is_index(&i.media_type) || (!i.manifests.is_empty() && i.layers.is_none())
            })
        } else {
            None
        };
        match loose_index {
            Some(idx) => desc = pick_platform(&store, idx, platform)?,
            None => return finish_layout(store, &member, raw, desc.digest),
        }
    }
    Err(store.invalid(
        "index.json",
        "image index",
        format!("indexes nest deeper than {MAX_INDEX_DEPTH} levels (a loop?)"),
    ))
}

fn pick_platform(
    store: &Store,
    index: LooseIndex,
    platform: Option<&Platform>,
) -> ReadResult<LooseDescriptor> {
    // Attestations and other artifacts carry `unknown/unknown`: never images to run.
    let images: Vec<LooseDescriptor> = index
        .manifests
        .into_iter()
        .filter(|m| {
            m.platform
                .as_ref()
                .is_none_or(|p| p.os != "unknown" && p.architecture != "unknown")
        })
        .collect();
    let choices = images
        .iter()
        .map(|m| {
            m.platform
                .as_ref()
                .map_or_else(|| m.digest.clone(), |p| p.to_platform().to_string())
        })
        .collect::<Vec<_>>()
        .join(", ");
    match platform {
        Some(want) => {
            let matches = |m: &LooseDescriptor, strict: bool| {
                m.platform.as_ref().is_some_and(|p| {
                    p.os == want.os
                        && p.architecture == want.architecture
                        && (if strict {
                            p.variant == want.variant
                        } else {
                            want.variant.is_none()
                        })
                })
            };
            let pos = images
                .iter()
                .position(|m| matches(m, true))
                .or_else(|| images.iter().position(|m| matches(m, false)));
            match pos {
                Some(i) => images
                    .into_iter()
                    .nth(i)
                    .ok_or_else(|| store.invalid("index.json", "image index", "lost entry")),
                None => Err(ReadError::NotFound {
                    source_path: store.path().to_path_buf(),
                    what: "platform",
                    wanted: want.to_string(),
                    choices,
                }),
            }
        }
        None if images.len() == 1 => images
            .into_iter()
            .next()
            .ok_or_else(|| store.invalid("index.json", "image index", "lost entry")),
        None => Err(ReadError::Ambiguous {
            source_path: store.path().to_path_buf(),
            what: "platforms",
            choices,
        }),
    }
}

fn finish_layout(
    store: Store,
    member: &str,
    raw: Vec<u8>,
    digest: String,
) -> ReadResult<ReadImage> {
    let loose: LooseManifest = serde_json::from_slice(&raw)
        .map_err(|e| store.invalid(member, "image manifest", e.to_string()))?;
    let config_desc = loose
        .config
        .ok_or_else(|| store.invalid(member, "image manifest", "no `config` field"))?;
    let config_member = blob_path(&store, &config_desc.digest)?;
    let (config, config_raw) = store.config(&config_member, Some(&config_desc.digest))?;
    let mut layers = Vec::new();
    let mut layer_members = Vec::new();
    for (i, l) in loose.layers.iter().enumerate() {
        layer_members.push(blob_path(&store, &l.digest)?);
        layers.push(LayerRef {
            digest: Some(l.digest.clone()),
            diff_id: config.rootfs.diff_ids.get(i).cloned(),
            media_type: l.media_type.clone(),
            size: l.size,
        });
    }
    let manifest = Manifest {
        schema_version: loose.schema_version,
        media_type: if loose.media_type.is_empty() {
            OCI_MANIFEST.to_string()
        } else {
            loose.media_type
        },
        config: config_desc.into_descriptor(),
        layers: loose
            .layers
            .into_iter()
            .map(LooseDescriptor::into_descriptor)
            .collect(),
        annotations: loose.annotations,
    };
    Ok(ReadImage {
        manifest,
        manifest_digest: digest,
        config,
        config_raw,
        layers,
        store,
        layer_members,
        verify_layers: true,
    })
}

#[derive(serde::Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn same_ref(tag: &str, want: &DockerReference) -> bool {
    DockerReference::parse(tag).is_ok_and(|r| {
        r.registry == want.registry
            && r.repository == want.repository
            && r.tag.as_deref().unwrap_or("latest") == want.tag.as_deref().unwrap_or("latest")
    })
}

fn read_docker_archive(store: Store, reference: Option<&DockerReference>) -> ReadResult<ReadImage> {
    let (entries, _) = store.json::<Vec<DockerManifestEntry>>(
        "manifest.json",
        "docker-archive manifest.json",
        None,
    )?;
    let all_names = || {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| match e.repo_tags.as_deref() {
                Some(tags) if !tags.is_empty() => tags.join(" "),
                _ => format!("(untagged image #{i}, config {})", e.config),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let entry = match reference {
        Some(want) => entries
            .iter()
            .find(|e| e.repo_tags.iter().flatten().any(|t| same_ref(t, want)))
            .ok_or_else(|| ReadError::NotFound {
                source_path: store.path().to_path_buf(),
                what: "image",
                wanted: want.familiar(),
                choices: all_names(),
            })?,
        None if entries.len() == 1 => entries.first().ok_or_else(|| {
            store.invalid("manifest.json", "docker-archive manifest.json", "empty")
        })?,
        None if entries.is_empty() => {
            return Err(store.invalid(
                "manifest.json",
                "docker-archive manifest.json",
                "it lists no images",
            ));
        }
        None => {
            return Err(ReadError::Ambiguous {
                source_path: store.path().to_path_buf(),
                what: "images",
                choices: all_names(),
            });
        }
    };
    let config_member = member_name(&entry.config).ok_or_else(|| {
        store.invalid(
            "manifest.json",
            "docker-archive manifest.json",
            "`Config` climbs out of the archive",
        )
    })?;
    let (config, config_raw) = store.config(&config_member, None)?;
    let config_digest = crate::image::sha256_digest(&config_raw);
    let mut layers = Vec::new();
    let mut layer_members = Vec::new();
    let mut descriptors = Vec::new();
    for (i, l) in entry.layers.iter().enumerate() {
        let member = member_name(l).filter(|m| !m.is_empty()).ok_or_else(|| {
            store.invalid(
                "manifest.json",
                "docker-archive manifest.json",
                format!("layer `{l}` climbs out of the archive"),
            )
        })?;
        let (mut reader, size) = store.open_sized(&member, "a layer")?;
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut reader, &mut magic).map_err(|e| ReadError::Io {
            action: "reading a layer of",
            path: store.path().to_path_buf(),
            source: e,
        })?;
        let magic = magic.get(..n).unwrap_or_default();
        let gzip = magic.starts_with(&[0x1f, 0x8b]);
        let zstd = magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        let diff_id = config.rootfs.diff_ids.get(i).cloned();
        let digest = match member.strip_prefix("blobs/sha256/") {
            Some(hex) => Some(format!("sha256:{hex}")),
            None if !gzip && !zstd => diff_id.clone(),
            None => None,
        };
        let media_type = if gzip {
            DOCKER_LAYER_GZIP
        } else if zstd {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            DOCKER_LAYER
        }
        .to_string();
        descriptors.push(Descriptor {
            media_type: media_type.clone(),
            digest: digest
                .clone()
                .or_else(|| diff_id.clone())
                .unwrap_or_default(),
            size,
            annotations: Default::default(),
            platform: None,
        });
        layers.push(LayerRef {
            digest,
            diff_id,
            media_type,
            size,
        });
        layer_members.push(member);
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: DOCKER_MANIFEST.to_string(),
        config: Descriptor {
            media_type: DOCKER_CONFIG.to_string(),
            digest: config_digest,
            size: config_raw.len() as u64,
            annotations: Default::default(),
            platform: None,
        },
        layers: descriptors,
        annotations: Default::default(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| {
        store.invalid(
            "manifest.json",
            "docker-archive manifest.json",
            e.to_string(),
        )
    })?;
    Ok(ReadImage {
        manifest,
        manifest_digest: crate::image::sha256_digest(&manifest_bytes),
        config,
        config_raw,
        layers,
        store,
        layer_members,
        // Docker 25 `blobs/sha256/…` layers are verified too: their path is their digest.
        verify_layers: true,
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_normalize_and_refuse_escapes() {
        assert_eq!(member_name("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(member_name("a/../b").as_deref(), Some("b"));
        assert_eq!(member_name("../b"), None);
    }

    #[test]
    fn verifying_reader_fails_on_mismatch_and_passes_on_match() {
        let data = b"hello".to_vec();
        let good = crate::image::sha256_digest(&data);
        let mut out = Vec::new();
        VerifyingReader::new(&data[..], &good, "x")
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let bad = format!("sha256:{}", "0".repeat(64));
        let err = VerifyingReader::new(&data[..], &bad, "x")
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn gzip_compressed_archives_are_indexed_from_a_kept_copy() {
        let mut plain = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        plain
            .append_data(&mut h, "./dir/file", &b"hello"[..])
            .unwrap();
        let plain = plain.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar.gz");
        std::fs::write(&path, gzip(&plain)).unwrap();
        let store = Store::index_archive(&path).unwrap();
        assert_eq!(store.path(), path.as_path());
        assert_eq!(
            store.read_small("dir/file", "a test", None).unwrap(),
            b"hello"
        );
        let Store::Archive { gunzipped, .. } = &store else {
            panic!("not an archive store")
        };
        let copy = gunzipped.as_ref().unwrap().path().to_path_buf();
        assert_eq!(std::fs::read(&copy).unwrap(), plain);
        drop(store);
        assert!(!copy.exists(), "the decompressed copy outlived its image");
    }

    #[test]
    fn gunzipping_stops_at_the_limit() {
        let data = gzip(&[0u8; 4096]);
        let err = gunzip_archive(Path::new("big.tar.gz"), &data[..], 4095).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::TooLarge {
                    limit: 4095,
                    size: 4096,
                    ..
                }
            ),
            "{err}"
        );
        let tmp = gunzip_archive(Path::new("ok.tar.gz"), &data[..], 4096).unwrap();
        assert_eq!(std::fs::read(tmp.path()).unwrap(), [0u8; 4096]);
    }

    #[test]
    fn other_compressed_archives_are_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar.zst");
        std::fs::write(&path, [0x28, 0xb5, 0x2f, 0xfd, 0, 0]).unwrap();
        let err = Store::index_archive(&path).unwrap_err().to_string();
        assert!(
            err.contains("zstd-compressed") && err.contains("decompress it first"),
            "{err}"
        );
    }

    #[test]
    fn decompress_detects_gzip_and_plain() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"tar bytes").unwrap();
        let gz = gz.finish().unwrap();
        let mut out = String::new();
        decompress(Box::new(io::Cursor::new(gz)), "l")
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "tar bytes");
        let mut out = String::new();
        decompress(Box::new(io::Cursor::new(b"plain".to_vec())), "l")
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "plain");
    }
}
