//! Reading images from disk: `oci:` layouts, `oci-archive:` and `docker-archive:` tars (legacy
//! `docker save`, kaniko-style gzip layers, Docker ≥ 25's OCI hybrid, several images per archive).
//!
//! Nothing is extracted: an archive's member offsets are indexed once (the tar is walked by
//! seeking over member data) and every blob is read by seeking into the file. A gzip-compressed
//! archive (`docker save | gzip`) is decompressed once to a temporary file that the
//! [`ReadImage`] keeps (at most [`MAX_GUNZIPPED_ARCHIVE`] bytes). Layers are handed
//! out as uncompressed tar streams ([`ReadImage::read_layer`]); gzip and zstd are recognised by
//! their magic bytes, whatever the media type says.
//!
//! Every blob is read through one verified reader ([`crate::verify`]): index, manifests and
//! configs against the digest and size their descriptor gives, at most [`MAX_JSON_SIZE`] bytes;
//! each layer's stored blob against the manifest's digest and size (a size mismatch is refused
//! before reading, a stream past its size at once), and its uncompressed stream against the
//! config's `rootfs.diff_ids`. A `docker-archive`'s `manifest.json` records no digests: there
//! the config's diff IDs are what binds the layers. An image has at most [`MAX_LAYERS`] layers.
//!
//! For a legacy `docker-archive` there is no manifest in the archive: [`ReadImage::manifest`] is
//! synthesized (Docker schema 2 media types) from `manifest.json` and the config, and its digest
//! is the digest of its serialization.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::model::{Descriptor, ImageConfig, Manifest, Platform};
use crate::reference::{DockerReference, ImageRef};
use crate::verify::{BlobName, Decoder, Expect, LayerReader, Mismatch, RawLayer, Verified};

/// Largest JSON document (index, manifest, config, `manifest.json`) read into memory: the limit
/// the OCI distribution spec suggests for manifests, and the one whittle's registry client uses.
pub const MAX_JSON_SIZE: u64 = 4 << 20;
/// Most layers of one image (Docker's overlay2 stops at 128).
pub const MAX_LAYERS: usize = 1000;
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

/// `s` cut to a length fit for a message (image files may hold megabytes in one string).
pub(crate) fn bounded(s: &str) -> String {
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}… ({} bytes)", s.get(..i).unwrap_or_default(), s.len()),
        None => s.to_string(),
    }
}

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
    /// A blob does not match what the image says about it (digest, size, diff ID).
    #[error(
        "`{reference}`: {blob} is corrupt or was tampered with: it {problem}; do not use the image, get it again from a source you trust"
    )]
    Integrity {
        /// The image reference.
        reference: String,
        /// Which blob: `layer 2 (sha256:…)`, `the config (sha256:…)`.
        blob: String,
        /// How it differs.
        problem: Mismatch,
    },
    /// The reference does not say which of several images to read (several platforms give
    /// [`ReadError::PlatformRequired`]).
    #[error("`{source_path}` holds several {what}; choose one of: {choices}")]
    Ambiguous {
        /// The archive or layout.
        source_path: PathBuf,
        /// `images`.
        what: &'static str,
        /// The available names, comma-separated.
        choices: String,
    },
    /// A multi-platform image was given to a command that reads one image, without a platform.
    #[error(
        "`{image}` is a multi-platform image; choose one with --platform OS/ARCH[/VARIANT] (available: {choices})"
    )]
    PlatformRequired {
        /// The image reference, archive or layout.
        image: PathBuf,
        /// The available platforms, comma-separated.
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
    reference: String,
    store: Store,
    sources: Vec<LayerSource>,
}

/// Where a layer's blob is and what it must be.
#[derive(Debug)]
struct LayerSource {
    member: String,
    /// How messages name the layer: `layer 2 (sha256:…)`, `layer 2 (`<id>/layer.tar`)`.
    name: String,
    /// The stored blob's digest and declared size, as far as the source records them.
    expect: Expect,
    /// When the source records no digest (a compressed `docker save` layer): the stored blob's
    /// digest and size, found once by a reading checked against the config's diff ID.
    first_reading: std::sync::OnceLock<(String, u64)>,
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

/// Whether a layout tag names what is attached to an image rather than an image: cosign's
/// signatures and attestations and whittle's SBOMs, `sha256-<hex>.sig`, `.att`, `.sbom`.
pub fn is_artifact_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let Some((hex, kind)) = rest.split_once('.') else {
        return false;
    };
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(kind, "sig" | "att" | "sbom")
}

/// Read the image `image` names. `platform` picks from a multi-platform index (required when the
/// index holds several images); a `docker://` reference is an [`ReadError::Unsupported`] error.
pub fn read_image(image: &ImageRef, platform: Option<&Platform>) -> ReadResult<ReadImage> {
    let reference = image.to_string();
    match image {
        ImageRef::Oci { path, tag } => read_layout(
            Store::Dir(path.clone()),
            reference,
            tag.as_deref(),
            platform,
        ),
        ImageRef::OciArchive { path, tag } => read_layout(
            Store::index_archive(path)?,
            reference,
            tag.as_deref(),
            platform,
        ),
        ImageRef::DockerArchive {
            path,
            reference: name,
        } => read_docker_archive(Store::index_archive(path)?, reference, name.as_ref()),
        ImageRef::Docker(r) => Err(ReadError::Unsupported(format!(
            "reading `docker://{}` from a registry; save it with `skopeo copy` to an oci: layout first",
            r.familiar()
        ))),
    }
}

impl ReadImage {
    /// Run `consume` on the uncompressed tar stream of layer `i` (bottom is 0), then read what
    /// it left and verify the layer: its stored blob against the manifest's digest and size, the
    /// uncompressed stream against the config's diff ID. Every reader of layer contents goes
    /// through here, so a consumer that stops early (a tar reader stops at the end-of-archive
    /// blocks) still gets a verified layer. When `consume` fails, the rest of the stored blob is
    /// read and checked: an integrity error is returned rather than `consume`'s own.
    pub fn read_layer<T, E: From<ReadError>>(
        &self,
        i: usize,
        consume: impl FnOnce(&mut LayerReader) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut r = self.open_layer(i)?;
        match consume(&mut r) {
            Ok(t) => {
                r.finish()?;
                Ok(t)
            }
            Err(e) => Err(r.stored_failure().map_or(e, E::from)),
        }
    }

    /// The uncompressed tar stream of layer `i` (bottom is 0); gzip and zstd are detected by
    /// their magic bytes. The stream is verified (see [`ReadImage::read_layer`]) only when read
    /// to its end: call [`LayerReader::finish`], or use [`ReadImage::read_layer`].
    pub fn open_layer(&self, i: usize) -> ReadResult<LayerReader> {
        let (layer, src) = self.layer(i)?;
        let name = self.layer_name(i);
        let diff_ids = self.config.rootfs.diff_ids.len();
        let diff_id = match &layer.diff_id {
            Some(d) if diff_ids == self.layers.len() => d,
            _ => {
                return Err(name.error(Mismatch::DiffIdCount {
                    diff_ids,
                    layers: self.layers.len(),
                }));
            }
        };
        let mut expect = Expect::digest(diff_id, "the config's rootfs.diff_ids", &name)?;
        expect.diff_id = true;
        let decoder = Decoder::new(self.stored(src, &name)?, &src.member)?;
        Ok(LayerReader::new(
            decoder,
            expect,
            name,
            self.source().to_path_buf(),
            i,
        ))
    }

    /// The stored (possibly compressed) bytes of layer `i`, as they are in the source, for
    /// copying the blob unchanged. The stream fails as soon as it passes the declared size, and
    /// at its end when the size or digest differs from the manifest's. A layer whose source
    /// records no digest (a compressed `docker save` layer) is first read through once and
    /// checked against the config's diff ID; the stream is then checked against the digest that
    /// pass found.
    pub fn open_raw_layer(&self, i: usize) -> ReadResult<Box<dyn Read + Send>> {
        let (_, src) = self.layer(i)?;
        let name = self.layer_name(i);
        if src.expect.digest.is_some() {
            return Ok(Box::new(self.stored(src, &name)?));
        }
        let (digest, size) = self.first_reading(i, src)?;
        let expect = Expect::digest(digest, "a first reading checked against the config", &name)?
            .sized(*size, "a first reading checked against the config");
        let (reader, actual) = self.store.open_sized(&src.member, "a layer")?;
        expect.check_size(actual, &name)?;
        Ok(Box::new(Verified::new(reader, expect, name)))
    }

    /// The digest of layer `i`'s stored blob, as [`ReadImage::open_raw_layer`] serves it: the
    /// layer's [`LayerRef::digest`], or for a layer whose source records none (a compressed
    /// `docker save` layer) the digest a first reading finds, checked against the config's diff
    /// ID. That reading is done once per image and reused by [`ReadImage::open_raw_layer`].
    pub fn raw_layer_digest(&self, i: usize) -> ReadResult<String> {
        let (layer, src) = self.layer(i)?;
        match &layer.digest {
            Some(d) => Ok(d.clone()),
            None => self.first_reading(i, src).map(|(d, _)| d.clone()),
        }
    }

    /// The stored blob's digest and size of a layer whose source records no digest, from one
    /// verified reading of the layer (kept for the image's life).
    fn first_reading<'s>(&self, i: usize, src: &'s LayerSource) -> ReadResult<&'s (String, u64)> {
        if let Some(found) = src.first_reading.get() {
            return Ok(found);
        }
        let found = self.open_layer(i)?.drain()?;
        Ok(src.first_reading.get_or_init(|| found))
    }

    /// The stored blob of a layer, checked against what its source records.
    fn stored(&self, src: &LayerSource, name: &BlobName) -> ReadResult<RawLayer> {
        let (reader, size) = self.store.open_sized(&src.member, "a layer")?;
        src.expect.check_size(size, name)?;
        Ok(Verified::new(reader, src.expect.clone(), name.clone()))
    }

    fn layer(&self, i: usize) -> ReadResult<(&LayerRef, &LayerSource)> {
        self.layers.get(i).zip(self.sources.get(i)).ok_or_else(|| {
            ReadError::Unsupported(format!(
                "layer {i} does not exist; the image has {} layers",
                self.layers.len()
            ))
        })
    }

    fn layer_name(&self, i: usize) -> BlobName {
        BlobName {
            reference: self.reference.clone(),
            blob: self
                .sources
                .get(i)
                .map_or_else(|| format!("layer {i}"), |s| s.name.clone()),
        }
    }

    /// Where the image was read from.
    pub fn source(&self) -> &Path {
        self.store.path()
    }

    /// The image reference it was read as (`oci:DIR:TAG`, …).
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

/// How an image archive or a layer is compressed, as its magic bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Compression {
    /// The compression of a stream whose first bytes are `magic`; `None` when it is plain.
    pub(crate) fn sniff(magic: &[u8]) -> Option<Compression> {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
            // a skippable frame (magic 0x184D2A50-5F) first, as containerd also reads
            || matches!(magic, [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..])
        {
            Some(Compression::Zstd)
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
            Some(Compression::Xz)
        } else if magic.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
        }
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
        let (members, gunzipped) = match Compression::sniff(magic) {
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

    /// Read a small member (a JSON document) fully, at most `limit` bytes, through the same
    /// verified reader as layers: checked against `expect` (its digest and declared size, when
    /// known), a size mismatch refused before reading.
    fn read_small(
        &self,
        member: &str,
        name: &BlobName,
        expect: Expect,
        limit: u64,
    ) -> ReadResult<Vec<u8>> {
        let (reader, size) = self.open_sized(member, &name.blob)?;
        expect.check_size(size, name)?;
        let too_large = |size| ReadError::TooLarge {
            source_path: self.path().to_path_buf(),
            member: member.to_string(),
            size,
            limit,
        };
        if size > limit {
            return Err(too_large(size));
        }
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut v = Verified::new(reader, expect, name.clone());
        let res = v
            .by_ref()
            .take(limit.saturating_add(1))
            .read_to_end(&mut data);
        if let Some(e) = v.failure() {
            return Err(e);
        }
        res.map_err(|e| ReadError::Io {
            action: "reading",
            path: self.path().join(member),
            source: e,
        })?;
        if data.len() as u64 > limit || !v.verified() {
            return Err(too_large(data.len() as u64));
        }
        Ok(data)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        member: &str,
        what: &'static str,
        name: &BlobName,
        expect: Expect,
        limit: u64,
    ) -> ReadResult<(T, Vec<u8>)> {
        let raw = self.read_small(member, name, expect, limit)?;
        let parsed =
            serde_json::from_slice(&raw).map_err(|e| self.invalid(member, what, e.to_string()))?;
        Ok((parsed, raw))
    }

    /// Read and parse an image config. Docker writes `null` for empty fields (`"Volumes": null`);
    /// those are dropped before parsing, as the OCI spec treats them as absent.
    fn config(
        &self,
        member: &str,
        name: &BlobName,
        expect: Expect,
    ) -> ReadResult<(ImageConfig, Vec<u8>)> {
        let (mut value, raw) =
            self.json::<serde_json::Value>(member, "image config", name, expect, MAX_JSON_SIZE)?;
        strip_nulls(&mut value, 0);
        let config = serde_json::from_value(value)
            .map_err(|e| self.invalid(member, "image config", e.to_string()))?;
        Ok((config, raw))
    }

    fn too_many_layers(&self, member: &str, layers: usize) -> ReadError {
        self.invalid(
            member,
            "image manifest",
            format!("it lists {layers} layers, more than the {MAX_LAYERS} an image may have"),
        )
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
            store.invalid(
                "index.json",
                "descriptor",
                format!("bad digest `{}`", bounded(digest)),
            )
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

/// The names of the images or platforms to choose from, for a message: the first 20.
fn choice_list(names: impl ExactSizeIterator<Item = String>) -> String {
    const SHOWN: usize = 20;
    let total = names.len();
    let mut out: Vec<String> = names.take(SHOWN).map(|n| bounded(&n)).collect();
    if total > SHOWN {
        out.push(format!("and {} more", total - SHOWN));
    }
    out.join(", ")
}

fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

fn read_layout(
    store: Store,
    reference: String,
    tag: Option<&str>,
    platform: Option<&Platform>,
) -> ReadResult<ReadImage> {
    let name = |blob: String| BlobName {
        reference: reference.clone(),
        blob,
    };
    let (index, _) = store.json::<LooseIndex>(
        "index.json",
        "image index (index.json)",
        &name("index.json".into()),
        Expect::default(),
        MAX_JSON_SIZE,
    )?;
    let names = |ms: &[LooseDescriptor]| {
        choice_list(ms.iter().map(|m| {
            m.annotations
                .get(crate::ANNOTATION_REF_NAME)
                .cloned()
                .unwrap_or_else(|| m.digest.clone())
        }))
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
                    wanted: bounded(t),
                    choices,
                })?
        }
        None => {
            // signatures, attestations and SBOMs tagged beside an image are not images to choose
            let choices = names(&index.manifests);
            let mut ms = index.manifests;
            if ms.len() > 1 {
                ms.retain(|m| {
                    !m.annotations
                        .get(crate::ANNOTATION_REF_NAME)
                        .is_some_and(|t| is_artifact_tag(t))
                });
            }
            if ms.len() != 1 {
                return Err(ReadError::Ambiguous {
                    source_path: store.path().to_path_buf(),
                    what: "images",
                    choices,
                });
            }
            ms.pop()
                .ok_or_else(|| store.invalid("index.json", "image index", "no manifests"))?
        }
    };
    let mut desc = chosen;
    let mut named_by = "index.json";
    for _ in 0..MAX_INDEX_DEPTH {
        let member = blob_path(&store, &desc.digest)?;
        let blob = name(format!("the manifest ({})", bounded(&desc.digest)));
        let expect = Expect::digest(&desc.digest, named_by, &blob)?.sized(desc.size, named_by);
        let raw = store.read_small(&member, &blob, expect, MAX_JSON_SIZE)?;
        named_by = "the image index";
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
            None => return finish_layout(store, reference, &member, raw, desc.digest),
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
    let i = select_platform(&index.manifests, platform, store.path())?;
    index
        .manifests
        .into_iter()
        .nth(i)
        .ok_or_else(|| store.invalid("index.json", "image index", "lost entry"))
}

/// Whether an index entry is an image to run: attestations and other artifacts carry
/// `unknown/unknown`.
fn runnable(m: &LooseDescriptor) -> bool {
    m.platform
        .as_ref()
        .is_none_or(|p| p.os != "unknown" && p.architecture != "unknown")
}

/// The platforms of an index's runnable entries, for a message: `linux/amd64, linux/arm64`.
pub fn platform_choices(entries: &[LooseDescriptor]) -> String {
    let images: Vec<&LooseDescriptor> = entries.iter().filter(|m| runnable(m)).collect();
    choice_list(images.into_iter().map(|m| {
        m.platform
            .as_ref()
            .map_or_else(|| m.digest.clone(), |p| p.to_platform().to_string())
    }))
}

/// The one platform selection of every command that reads one image: the position in
/// `entries` (an index's manifests) of the image for `want` — the exact variant first, then any
/// variant when none is asked — or, without `want`, of the only runnable image. Several images
/// and no `want` give [`ReadError::PlatformRequired`], which lists them and names `--platform`;
/// a `want` that is not there gives [`ReadError::NotFound`]. `image` names the source in
/// messages.
pub fn select_platform(
    entries: &[LooseDescriptor],
    want: Option<&Platform>,
    image: &Path,
) -> ReadResult<usize> {
    let images: Vec<usize> = (0..entries.len())
        .filter(|&i| runnable(&entries[i]))
        .collect();
    match want {
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
            images
                .iter()
                .copied()
                .find(|&i| matches(&entries[i], true))
                .or_else(|| {
                    images
                        .iter()
                        .copied()
                        .find(|&i| matches(&entries[i], false))
                })
                .ok_or_else(|| ReadError::NotFound {
                    source_path: image.to_path_buf(),
                    what: "platform",
                    wanted: want.to_string(),
                    choices: platform_choices(entries),
                })
        }
        None => match images.as_slice() {
            [one] => Ok(*one),
            _ => Err(ReadError::PlatformRequired {
                image: image.to_path_buf(),
                choices: platform_choices(entries),
            }),
        },
    }
}

fn finish_layout(
    store: Store,
    reference: String,
    member: &str,
    raw: Vec<u8>,
    digest: String,
) -> ReadResult<ReadImage> {
    let loose: LooseManifest = serde_json::from_slice(&raw)
        .map_err(|e| store.invalid(member, "image manifest", e.to_string()))?;
    let config_desc = loose
        .config
        .ok_or_else(|| store.invalid(member, "image manifest", "no `config` field"))?;
    if loose.layers.len() > MAX_LAYERS {
        return Err(store.too_many_layers(member, loose.layers.len()));
    }
    let config_member = blob_path(&store, &config_desc.digest)?;
    let config_name = BlobName {
        reference: reference.clone(),
        blob: format!("the config ({})", bounded(&config_desc.digest)),
    };
    let expect = Expect::digest(&config_desc.digest, "the manifest", &config_name)?
        .sized(config_desc.size, "the manifest");
    let (config, config_raw) = store.config(&config_member, &config_name, expect)?;
    let mut layers = Vec::new();
    let mut sources = Vec::new();
    for (i, l) in loose.layers.iter().enumerate() {
        let name = BlobName {
            reference: reference.clone(),
            blob: format!("layer {i} ({})", bounded(&l.digest)),
        };
        sources.push(LayerSource {
            member: blob_path(&store, &l.digest)?,
            expect: Expect::digest(&l.digest, "the manifest", &name)?.sized(l.size, "the manifest"),
            name: name.blob,
            first_reading: Default::default(),
        });
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
        reference,
        store,
        sources,
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

fn read_docker_archive(
    store: Store,
    image: String,
    reference: Option<&DockerReference>,
) -> ReadResult<ReadImage> {
    let name = |blob: String| BlobName {
        reference: image.clone(),
        blob,
    };
    let (entries, _) = store.json::<Vec<DockerManifestEntry>>(
        "manifest.json",
        "docker-archive manifest.json",
        &name("manifest.json".into()),
        Expect::default(),
        MAX_JSON_SIZE,
    )?;
    let all_names = || {
        choice_list(
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| match e.repo_tags.as_deref() {
                    Some(tags) if !tags.is_empty() => tags.join(" "),
                    _ => format!("(untagged image #{i}, config {})", e.config),
                }),
        )
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
    if entry.layers.len() > MAX_LAYERS {
        return Err(store.too_many_layers("manifest.json", entry.layers.len()));
    }
    // Docker ≥ 25 names blobs by their digest: that name is checked. Otherwise nothing in the
    // archive names the config's digest; the config is what binds the layers (its diff IDs).
    let named = |member: &str, blob: &BlobName| match member.strip_prefix("blobs/sha256/") {
        Some(hex) => Expect::digest(&format!("sha256:{hex}"), "its name in the archive", blob),
        None => Ok(Expect::default()),
    };
    let config_name = name(format!("the config (`{}`)", bounded(&config_member)));
    let expect = named(&config_member, &config_name)?;
    let (config, config_raw) = store.config(&config_member, &config_name, expect)?;
    let config_digest = crate::image::sha256_digest(&config_raw);
    let mut layers = Vec::new();
    let mut sources = Vec::new();
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
        let compression = Compression::sniff(magic.get(..n).unwrap_or_default());
        let gzip = compression == Some(Compression::Gzip);
        let zstd = compression == Some(Compression::Zstd);
        let diff_id = config.rootfs.diff_ids.get(i).cloned();
        let layer_name = name(format!("layer {i} (`{}`)", bounded(&member)));
        let (digest, expect) = match member.strip_prefix("blobs/sha256/") {
            Some(hex) => (Some(format!("sha256:{hex}")), named(&member, &layer_name)?),
            // an uncompressed legacy layer is its diff ID
            None if !gzip && !zstd => match &diff_id {
                Some(d) => (
                    Some(d.clone()),
                    Expect::digest(d, "the config's rootfs.diff_ids", &layer_name)?,
                ),
                None => (None, Expect::default()),
            },
            None => (None, Expect::default()),
        };
        let media_type = if gzip {
            DOCKER_LAYER_GZIP
        } else if zstd {
            whittle_fs::MEDIA_TYPE_TAR_ZSTD
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
        sources.push(LayerSource {
            member,
            expect,
            name: layer_name.blob,
            first_reading: Default::default(),
        });
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
        reference: image,
        store,
        sources,
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
            store
                .read_small(
                    "dir/file",
                    &BlobName {
                        reference: "oci-archive:x".into(),
                        blob: "a test".into(),
                    },
                    Expect::default(),
                    5
                )
                .unwrap(),
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
}
