//! The one verified-blob reader every image blob is read through: index, manifests and configs
//! (read whole, see `Store::read_small`), layers as stored ([`Verified`] under
//! [`crate::ReadImage::open_raw_layer`]) and layers uncompressed ([`LayerReader`], checked against
//! the config's `rootfs.diff_ids`).
//!
//! A [`Verified`] stream hashes and counts what passes through. It fails as soon as it passes
//! the size its descriptor declares, and at its end when the size or the digest differs. A
//! failure is kept ([`Verified::failure`]) so that a caller that gave up early (a tar reader
//! that stopped at the end-of-archive blocks, an error in between) reports the integrity error,
//! not its own. Only reading to the end proves a blob: [`crate::ReadImage::read_layer`] does that
//! for every consumer.

use std::fmt;
use std::io::{self, BufReader, Read};

use sha2::{Digest as _, Sha256};

use crate::read::{Compression, ReadError};

/// How a blob differs from what the manifest, index or config says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The stored bytes have another digest.
    Digest {
        /// The digest the image names.
        expected: String,
        /// The digest of the bytes.
        actual: String,
        /// What names it (`the manifest`, `index.json`, …).
        named_by: &'static str,
    },
    /// The stream went past its declared size (refused there, without reading further).
    TooLong {
        /// The declared size.
        declared: u64,
        /// What declares it.
        declared_by: &'static str,
    },
    /// The stored blob has another size than declared.
    Size {
        /// The declared size.
        declared: u64,
        /// The actual size.
        actual: u64,
        /// What declares it.
        declared_by: &'static str,
    },
    /// The uncompressed layer has another digest than the config's `rootfs.diff_ids` entry.
    DiffId {
        /// The diff ID in the config.
        expected: String,
        /// The digest of the uncompressed bytes.
        actual: String,
    },
    /// The config's `rootfs.diff_ids` does not list one diff ID per layer.
    DiffIdCount {
        /// Entries in `rootfs.diff_ids`.
        diff_ids: usize,
        /// Layers in the manifest.
        layers: usize,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Digest {
                expected,
                actual,
                named_by,
            } => write!(f, "has digest {actual}, but {named_by} names {expected}"),
            Mismatch::TooLong {
                declared,
                declared_by,
            } => write!(
                f,
                "is longer than the {declared} bytes {declared_by} declares (reading stopped there)"
            ),
            Mismatch::Size {
                declared,
                actual,
                declared_by,
            } => write!(
                f,
                "is {actual} bytes, but {declared_by} declares {declared}"
            ),
            Mismatch::DiffId { expected, actual } => write!(
                f,
                "has digest {actual} uncompressed, but the config's rootfs.diff_ids names {expected}"
            ),
            Mismatch::DiffIdCount { diff_ids, layers } => write!(
                f,
                "cannot be checked: the config's rootfs.diff_ids lists {diff_ids} layers, the manifest {layers}"
            ),
        }
    }
}

/// Which blob of which image a [`Verified`] stream reads (for its error).
#[derive(Debug, Clone)]
pub(crate) struct BlobName {
    /// The image reference as given (`oci:DIR:TAG`, …).
    pub reference: String,
    /// The blob: `layer 2 (sha256:…)`, `the config (sha256:…)`.
    pub blob: String,
}

impl BlobName {
    pub(crate) fn error(&self, problem: Mismatch) -> ReadError {
        ReadError::Integrity {
            reference: self.reference.clone(),
            blob: self.blob.clone(),
            problem,
        }
    }
}

/// What a blob must be: its digest (and what names it) and its declared size.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expect {
    /// `sha256:<64 lowercase hex>`, and what names it.
    pub digest: Option<(String, &'static str)>,
    /// The declared size, and what declares it.
    pub size: Option<(u64, &'static str)>,
    /// Whether `digest` is a diff ID (the uncompressed stream).
    pub diff_id: bool,
}

impl Expect {
    /// A check of `digest` named by `named_by`; only `sha256:` digests are verified.
    pub(crate) fn digest(
        digest: &str,
        named_by: &'static str,
        name: &BlobName,
    ) -> Result<Expect, ReadError> {
        let lower = digest.to_ascii_lowercase();
        if crate::image::digest_hex(&lower).is_none() {
            return Err(ReadError::Unsupported(format!(
                "`{}`: {} has digest `{}` (named by {named_by}); only sha256:<64 hex> digests are read",
                name.reference,
                name.blob,
                crate::read::bounded(digest)
            )));
        }
        Ok(Expect {
            digest: Some((lower, named_by)),
            ..Expect::default()
        })
    }

    /// The same check with a declared size.
    pub(crate) fn sized(mut self, size: u64, declared_by: &'static str) -> Expect {
        self.size = Some((size, declared_by));
        self
    }

    /// Refuse a stored blob of `actual` bytes before reading it when a size is declared.
    pub(crate) fn check_size(&self, actual: u64, name: &BlobName) -> Result<(), ReadError> {
        match self.size {
            Some((declared, declared_by)) if declared != actual => {
                Err(name.error(Mismatch::Size {
                    declared,
                    actual,
                    declared_by,
                }))
            }
            _ => Ok(()),
        }
    }
}

/// A stream checked against its [`Expect`]: fails past the declared size at once, and at its end
/// on a size or digest mismatch. Read it to the end: only then is it verified.
pub struct Verified<R> {
    inner: R,
    hasher: Sha256,
    expect: Expect,
    name: BlobName,
    seen: u64,
    ended: bool,
    failure: Option<Mismatch>,
    /// The digest of the whole stream, once read to its end.
    actual: Option<String>,
}

impl<R> fmt::Debug for Verified<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("blob", &self.name.blob)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Verified<R> {
    pub(crate) fn new(inner: R, expect: Expect, name: BlobName) -> Self {
        Verified {
            inner,
            hasher: Sha256::new(),
            expect,
            name,
            seen: 0,
            ended: false,
            failure: None,
            actual: None,
        }
    }

    /// The digest and size of the whole stream, once read to its end without a mismatch.
    pub fn read_digest(&self) -> Option<(&str, u64)> {
        self.actual
            .as_deref()
            .filter(|_| self.failure.is_none())
            .map(|d| (d, self.seen))
    }

    /// The integrity error met so far, if any.
    pub fn failure(&self) -> Option<ReadError> {
        self.failure.clone().map(|m| self.name.error(m))
    }

    /// Whether the stream was read to its end and matched.
    pub fn verified(&self) -> bool {
        self.ended && self.failure.is_none()
    }

    /// The underlying reader.
    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    fn fail(&mut self, m: Mismatch) -> io::Error {
        let err = self.name.error(m.clone());
        self.failure = Some(m);
        io::Error::new(io::ErrorKind::InvalidData, err.to_string())
    }

    /// Hex of the digest of everything read.
    fn digest(&mut self) -> String {
        format!(
            "sha256:{}",
            hex::encode(std::mem::take(&mut self.hasher).finalize())
        )
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(m) = self.failure.clone() {
            return Err(self.fail(m));
        }
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.seen = self.seen.saturating_add(n as u64);
        if let Some((declared, declared_by)) = self.expect.size
            && self.seen > declared
        {
            return Err(self.fail(Mismatch::TooLong {
                declared,
                declared_by,
            }));
        }
        self.hasher.update(buf.get(..n).unwrap_or_default());
        if n > 0 {
            return Ok(n);
        }
        self.ended = true;
        if let Some((declared, declared_by)) = self.expect.size
            && self.seen != declared
        {
            return Err(self.fail(Mismatch::Size {
                declared,
                actual: self.seen,
                declared_by,
            }));
        }
        let actual = self.digest();
        self.actual = Some(actual.clone());
        if let Some((expected, named_by)) = self.expect.digest.clone()
            && actual != expected
        {
            return Err(self.fail(if self.expect.diff_id {
                Mismatch::DiffId { expected, actual }
            } else {
                Mismatch::Digest {
                    expected,
                    actual,
                    named_by,
                }
            }));
        }
        Ok(0)
    }
}

/// A stored layer blob, verified as it is read (its digest and size when the source records
/// them).
pub type RawLayer = Verified<Box<dyn Read + Send>>;

/// The decompressor of a layer, over its verified stored bytes.
enum Codec {
    Plain(BufReader<RawLayer>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<RawLayer>>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<RawLayer>>),
}

impl Codec {
    fn raw(&mut self) -> &mut BufReader<RawLayer> {
        match self {
            Codec::Plain(r) => r,
            Codec::Gzip(d) => d.get_mut(),
            Codec::Zstd(d) => d.get_mut(),
        }
    }
}

/// Most uncompressed bytes read from one layer: what `whittle inspect` lets a layer's files
/// claim (256 GiB) and 1 GiB for tar headers. Past it the layer is refused: a few MiB of zstd
/// (RLE blocks, 32,768:1) or gzip can otherwise hold terabytes, all of which verifying the
/// diff ID would decompress, even those after the end of the tar.
pub const MAX_UNCOMPRESSED_LAYER: u64 = 257 << 30;

/// Decompresses, and at the end of the uncompressed stream reads what is left of the stored
/// blob (trailing bytes after the last frame included) so that its digest is checked too.
pub(crate) struct Decoder {
    codec: Codec,
    drained: bool,
    /// Uncompressed bytes given so far, and the most allowed.
    out: u64,
    limit: u64,
    member: String,
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &mut self.codec {
            Codec::Plain(r) => r.read(buf),
            Codec::Gzip(d) => d.read(buf),
            Codec::Zstd(d) => d.read(buf),
        }?;
        self.out = self.out.saturating_add(n as u64);
        if self.out > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "layer `{}` decompresses to more than {} bytes, more than any real layer (a \
                     decompression bomb?); it is not read further",
                    self.member, self.limit
                ),
            ));
        }
        if n == 0 && !buf.is_empty() && !self.drained {
            self.drained = true;
            io::copy(self.codec.raw(), &mut io::sink())?;
        }
        Ok(n)
    }
}

impl Decoder {
    /// The decompressor `magic` (the first bytes of `raw`) calls for.
    pub(crate) fn new(raw: RawLayer, member: &str) -> Result<Decoder, ReadError> {
        Self::with_limit(raw, member, MAX_UNCOMPRESSED_LAYER)
    }

    /// [`Decoder::new`] giving at most `limit` uncompressed bytes.
    fn with_limit(raw: RawLayer, member: &str, limit: u64) -> Result<Decoder, ReadError> {
        let mut buf = BufReader::with_capacity(256 << 10, raw);
        let magic = io::BufRead::fill_buf(&mut buf).map_err(|e| ReadError::Io {
            action: "reading layer",
            path: member.into(),
            source: e,
        })?;
        let codec = match Compression::sniff(magic) {
            None => Codec::Plain(buf),
            Some(Compression::Gzip) => {
                Codec::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buf)))
            }
            Some(Compression::Zstd) => {
                Codec::Zstd(zstd::stream::read::Decoder::with_buffer(buf).map_err(|e| {
                    ReadError::Io {
                        action: "starting zstd decompression of",
                        path: member.into(),
                        source: e,
                    }
                })?)
            }
            Some(Compression::Xz | Compression::Bzip2) => {
                return Err(ReadError::Unsupported(format!(
                    "layer `{member}` is xz or bzip2 compressed; only uncompressed, gzip and zstd layers are read"
                )));
            }
        };
        Ok(Decoder {
            codec,
            drained: false,
            out: 0,
            limit,
            member: member.to_string(),
        })
    }
}

/// The uncompressed tar stream of a layer: its stored blob is checked against the manifest's
/// digest and size, the uncompressed bytes against the config's diff ID. Both checks complete
/// at the end of the stream; [`LayerReader::finish`] reads to it and returns what failed.
pub struct LayerReader {
    inner: Verified<Decoder>,
    source: std::path::PathBuf,
    index: usize,
}

impl fmt::Debug for LayerReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerReader")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl LayerReader {
    pub(crate) fn new(
        decoder: Decoder,
        diff_id: Expect,
        name: BlobName,
        source: std::path::PathBuf,
        index: usize,
    ) -> Self {
        LayerReader {
            inner: Verified::new(decoder, diff_id, name),
            source,
            index,
        }
    }

    /// The integrity error met so far (the stored blob's first, then the diff ID's), if any.
    pub fn failure(&mut self) -> Option<ReadError> {
        self.inner
            .get_mut()
            .codec
            .raw()
            .get_ref()
            .failure()
            .or_else(|| self.inner.failure())
    }

    /// After a consumer failed: read the rest of the stored blob (not decompressing it) and
    /// return its integrity error, if it has one. A consumer's error (a corrupt tar, a corrupt
    /// gzip stream) is then reported as the tampering it comes from.
    pub fn stored_failure(&mut self) -> Option<ReadError> {
        if let Some(e) = self.failure() {
            return Some(e);
        }
        let _ = io::copy(self.inner.get_mut().codec.raw(), &mut io::sink());
        self.failure()
    }

    /// Read what is left and return the first integrity error (or I/O error) met; `Ok` means
    /// the stored blob and the uncompressed stream both match the image.
    pub fn finish(mut self) -> Result<(), ReadError> {
        self.drain().map(drop)
    }

    /// Read what is left and verify; the digest and size of the stored blob.
    pub(crate) fn drain(&mut self) -> Result<(String, u64), ReadError> {
        let res = io::copy(self, &mut io::sink());
        if let Some(e) = self.failure() {
            return Err(e);
        }
        res.map_err(|e| ReadError::Io {
            action: "reading a layer of",
            path: self.source.clone(),
            source: e,
        })?;
        let raw = self.inner.get_mut().codec.raw().get_ref();
        raw.read_digest()
            .map(|(d, n)| (d.to_string(), n))
            .ok_or_else(|| ReadError::Io {
                action: "reading a layer of",
                path: self.source.clone(),
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stored blob was not read to its end",
                ),
            })
    }

    /// Layer index (0 = bottom).
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Read for LayerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> BlobName {
        BlobName {
            reference: "oci:x".into(),
            blob: "layer 0".into(),
        }
    }

    fn expect(data: &[u8]) -> Expect {
        Expect::digest(&crate::sha256_digest(data), "the manifest", &name()).unwrap()
    }

    /// Everything `Decoder` gives for the stored bytes `raw`.
    fn decode(raw: &[u8]) -> io::Result<Vec<u8>> {
        let boxed: Box<dyn Read + Send> = Box::new(io::Cursor::new(raw.to_vec()));
        let raw = Verified::new(boxed, expect(raw), name());
        let mut d = Decoder::new(raw, "layer 0").map_err(io::Error::other)?;
        let mut out = Vec::new();
        d.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn reads_every_frame_of_a_multi_frame_zstd_layer() {
        // whittle's own zstd layers are one frame per MiB, and an empty frame is valid
        let mut z = zstd::bulk::compress(b"first ", 3).unwrap();
        z.extend(zstd::bulk::compress(b"", 3).unwrap());
        z.extend(zstd::bulk::compress(b"second", 19).unwrap());
        assert_eq!(decode(&z).unwrap(), b"first second");
    }

    #[test]
    fn a_zstd_frame_asking_for_a_2_gib_window_is_refused() {
        // window descriptor 0xA8: 2^31 bytes; then one last RLE block of one byte
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8];
        z.extend(&((1u32 << 3) | (1 << 1) | 1).to_le_bytes()[..3]);
        z.push(b'x');
        let e = decode(&z).unwrap_err().to_string();
        assert!(e.contains("memory"), "{e}");
    }

    #[test]
    fn a_zstd_layer_may_start_with_a_skippable_frame() {
        let mut z = vec![0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'a', b'b', b'c'];
        z.extend(zstd::bulk::compress(b"tar bytes", 3).unwrap());
        assert_eq!(decode(&z).unwrap(), b"tar bytes");
    }

    #[test]
    fn gzip_and_zstd_with_trailing_garbage_fail() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, b"tar bytes").unwrap();
        let mut gz = gz.finish().unwrap();
        gz.extend_from_slice(b"garbage after the member");
        let e = decode(&gz).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        let mut z = zstd::bulk::compress(b"tar bytes", 3).unwrap();
        z.extend_from_slice(b"garbage after the frame");
        assert!(decode(&z).is_err());
    }

    #[test]
    fn a_zstd_bomb_is_refused_past_the_limit() {
        // a small layer, then a frame of RLE blocks: 4 bytes for each 128 KiB of zeros
        let mut z = zstd::bulk::compress(b"tar", 3).unwrap();
        z.extend([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]);
        let block = |last: u32| ((128u32 << 10) << 3 | 1 << 1 | last).to_le_bytes();
        for i in 0..64 {
            z.extend(&block(u32::from(i == 63))[..3]);
            z.push(0);
        }
        assert_eq!(
            decode(&z).unwrap().len(),
            3 + (8 << 20),
            "8 MiB from 262 bytes"
        );
        let boxed: Box<dyn Read + Send> = Box::new(io::Cursor::new(z.clone()));
        let raw = Verified::new(boxed, expect(&z), name());
        let mut d = Decoder::with_limit(raw, "blobs/sha256/x", 1 << 20).unwrap();
        let e = io::copy(&mut d, &mut io::sink()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let e = e.to_string();
        assert!(e.contains("blobs/sha256/x") && e.contains("bomb"), "{e}");
    }

    #[test]
    fn passes_a_matching_blob() {
        let data = b"hello".to_vec();
        let mut v = Verified::new(&data[..], expect(&data).sized(5, "the manifest"), name());
        let mut out = Vec::new();
        v.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert!(v.verified());
    }

    #[test]
    fn refuses_another_digest_at_the_end() {
        let mut v = Verified::new(&b"hellp"[..], expect(b"hello"), name());
        let err = v.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let e = v.failure().unwrap().to_string();
        assert!(e.contains("oci:x") && e.contains("layer 0"), "{e}");
        assert!(e.contains("the manifest names sha256:"), "{e}");
        assert!(!v.verified());
        // a second read repeats the failure instead of reporting a clean end
        assert!(v.read(&mut [0u8; 4]).is_err());
    }

    #[test]
    fn refuses_at_once_past_the_declared_size() {
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 += buf.len() as u64;
                buf.fill(0);
                Ok(buf.len())
            }
        }
        let mut v = Verified::new(
            Endless(0),
            expect(b"x").sized(10_000, "the manifest"),
            name(),
        );
        let err = v.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("longer than the 10000 bytes"),
            "{err}"
        );
        assert!(v.get_mut().0 < 1 << 20, "read on past the size");
        assert!(matches!(
            v.failure(),
            Some(ReadError::Integrity {
                problem: Mismatch::TooLong {
                    declared: 10_000,
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn refuses_a_shorter_blob() {
        let mut v = Verified::new(
            &b"hello"[..],
            expect(b"hello").sized(1 << 40, "the manifest"),
            name(),
        );
        assert!(v.read_to_end(&mut Vec::new()).is_err());
        assert!(matches!(
            v.failure(),
            Some(ReadError::Integrity {
                problem: Mismatch::Size { actual: 5, .. },
                ..
            })
        ));
    }

    #[test]
    fn only_sha256_digests_are_accepted() {
        for bad in ["sha512:abcd", "sha256:xyz", "", "sha256:"] {
            assert!(
                Expect::digest(bad, "the manifest", &name()).is_err(),
                "{bad}"
            );
        }
        let upper = crate::sha256_digest(b"a")
            .to_ascii_uppercase()
            .replace("SHA256", "sha256");
        assert!(Expect::digest(&upper, "the manifest", &name()).is_ok());
    }
}
