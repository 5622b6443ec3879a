//! Layers: the assembled tree as a deterministic gzip or zstd layer, compressed on all cores in
//! fixed-size independent blocks whose bytes do not depend on the thread count
//! ([`whittle_fs::compress`]). Compression is the slowest step of a warm build, so compressed
//! layers are kept in the cache as derived entries (content-addressed, verified on read), found
//! by the layer's diff ID, the codec and level, the block format and a fingerprint of the
//! compressor: a compressor whose output differs (another flate2/zlib-rs or zstd version) never
//! reuses another's layers, so a warm cache gives the same digest a cold build does.
//!
//! gzip is level 6, as `gzip` and `pigz` default to: on two cores it compresses faster than
//! `pigz -6` with half its CPU, its output 0.4–3.6 % larger than `pigz -6`'s (zlib-rs's level
//! 6; levels 7–9 are slower than `pigz -6` or still over 2 %: docs/benchmarks.md). Until the
//! block format, layers were one level-9 stream: layer digests changed with it.

use crate::Error;
use std::sync::OnceLock;
use whittle_config::LayerCompression;
use whittle_fetch::Cache;
use whittle_fs::compress::FORMAT;
use whittle_fs::{Codec, FileData, LayerTar, Tree};
use whittle_oci::ImageLayer;

/// The codec and level of `compression`'s layers.
pub fn codec(compression: LayerCompression) -> (Codec, i32) {
    let codec = match compression {
        LayerCompression::Gzip => Codec::Gzip,
        LayerCompression::Zstd => Codec::Zstd,
    };
    (codec, codec.default_level())
}

/// The digest of a fixed small input compressed by this build's compressor for `codec`.
fn compressor_fingerprint(compression: LayerCompression) -> &'static str {
    static GZIP: OnceLock<String> = OnceLock::new();
    static ZSTD: OnceLock<String> = OnceLock::new();
    let cell = match compression {
        LayerCompression::Gzip => &GZIP,
        LayerCompression::Zstd => &ZSTD,
    };
    cell.get_or_init(|| {
        let mut sample = Vec::new();
        for i in 0u32..4096 {
            sample.extend_from_slice(format!("{i} whittle {}\n", i * 7919 % 104729).as_bytes());
        }
        let tar = LayerTar {
            tar: sample,
            diff_id: String::new(),
        };
        let (codec, level) = codec(compression);
        whittle_fs::compress_layer(&tar, codec, level, 1)
            .map(|l| l.digest)
            .unwrap_or_default()
    })
}

/// The cache key of the layer whose diff ID is `diff_id`, compressed as `compression` says.
pub fn cache_key(diff_id: &str, compression: LayerCompression) -> String {
    let (codec, level) = codec(compression);
    format!(
        "layer:{}-{level}-{FORMAT}:{}:{diff_id}",
        codec.name(),
        compressor_fingerprint(compression)
    )
}

/// The compressed layer of `tree`, from the cache when an identical one was made before. Neither
/// the tar nor the compressed layer is held in memory: the diff ID is hashed as the tar streams;
/// on a miss the tar streams again into the compressor, whose output goes to the cache entry (or,
/// when the cache keeps none, to an anonymous temporary file), and the layer's blob is a handle
/// to that file ([`FileData`]).
pub fn layer(
    tree: &Tree,
    mtime: u64,
    compression: LayerCompression,
    cache: &Cache,
) -> Result<ImageLayer, Error> {
    let (diff_id, _) = whittle_fs::tar_identity(tree, mtime)?;
    let key = cache_key(&diff_id, compression);
    if let Some(layer) = cached(&key, &diff_id, compression, cache)? {
        return Ok(layer);
    }
    let (codec, level) = codec(compression);
    let threads = whittle_fs::threads();
    let made = |file: std::fs::File, d: whittle_fs::LayerDigests| ImageLayer {
        media_type: codec.media_type().to_string(),
        blob: FileData::extent(std::sync::Arc::new(file), 0, d.size),
        digest: d.digest,
        diff_id: d.diff_id,
        size: d.size,
    };
    if let Some(writer) = cache.create_derived(&key)
        && let Some(file) = writer.file()
    {
        let out = std::io::BufWriter::with_capacity(1 << 20, Feed(writer));
        let (out, d) = whittle_fs::write_compressed_layer(tree, mtime, codec, level, threads, out)?;
        let writer = out
            .into_inner()
            .map_err(|e| whittle_fs::Error::Io(e.into_error()))?
            .0;
        if writer.commit() {
            return Ok(made(file, d));
        }
    }
    let file = spill_file(cache).map_err(whittle_fs::Error::Io)?;
    let out = std::io::BufWriter::with_capacity(
        1 << 20,
        file.try_clone().map_err(whittle_fs::Error::Io)?,
    );
    let (out, d) = whittle_fs::write_compressed_layer(tree, mtime, codec, level, threads, out)?;
    out.into_inner()
        .map_err(|e| whittle_fs::Error::Io(e.into_error()))?;
    Ok(made(file, d))
}

/// An anonymous temporary file: in the cache's `tmp/` when it is writable, else in the system's
/// temporary directory.
pub(crate) fn spill_file(cache: &Cache) -> std::io::Result<std::fs::File> {
    if cache.writable()
        && let Ok(f) = tempfile::tempfile_in(cache.root().join("tmp"))
    {
        return Ok(f);
    }
    tempfile::tempfile()
}

/// A cache entry being written, as a writer (writing to it never fails: see
/// [`whittle_fetch::DerivedWriter`]).
struct Feed(whittle_fetch::DerivedWriter);

impl std::io::Write for Feed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.feed(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The cached layer under `key`, verified against its SHA-256 as it is read through once; its
/// blob is a handle to the cache's file (see [`whittle_fetch::DerivedReader::file`]).
fn cached(
    key: &str,
    diff_id: &str,
    compression: LayerCompression,
    cache: &Cache,
) -> Result<Option<ImageLayer>, Error> {
    let Some(reader) = cache.open_derived(key)? else {
        return Ok(None);
    };
    let (Ok(file), sha256, size) = (reader.file(), reader.sha256().to_string(), reader.size())
    else {
        return Ok(None);
    };
    if !reader.finish() {
        return Ok(None);
    }
    Ok(Some(ImageLayer {
        size,
        digest: format!("sha256:{sha256}"),
        media_type: codec(compression).0.media_type().to_string(),
        diff_id: diff_id.to_string(),
        blob: FileData::extent(std::sync::Arc::new(file), 0, size),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_fs::{Meta, Node};

    fn tree() -> Tree {
        let mut t = Tree::new();
        t.insert(
            "usr/bin/x",
            Node::file(vec![7u8; 100_000]),
            Meta::root(0o755),
        )
        .unwrap();
        t
    }

    #[test]
    fn cached_layer_is_identical_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        for c in [LayerCompression::Gzip, LayerCompression::Zstd] {
            let first = layer(&tree(), 1, c, &cache).unwrap();
            let second = layer(&tree(), 1, c, &cache).unwrap();
            assert_eq!(first, second);
            let (codec, level) = codec(c);
            assert_eq!(first.media_type, codec.media_type());
            assert_eq!(
                first,
                ImageLayer::from(
                    whittle_fs::compress_layer(
                        &whittle_fs::tar_layer(&tree(), 1).unwrap(),
                        codec,
                        level,
                        1
                    )
                    .unwrap()
                )
            );
            // the key names the codec and the compressor
            assert!(cache_key("sha256:x", c).contains(compressor_fingerprint(c)));
            assert!(cache_key("sha256:x", c).contains(codec.name()));
            assert!(compressor_fingerprint(c).starts_with("sha256:"));
            // a corrupt cached blob is never returned: the layer is made again (written in
            // place, as only the cache's owner can: `first` points into that file too)
            let bytes = first.blob.read_to_vec().unwrap();
            let hex = first.digest.trim_start_matches("sha256:");
            std::fs::write(dir.path().join("blobs/sha256").join(hex), b"garbage").unwrap();
            let again = layer(&tree(), 1, c, &cache).unwrap();
            assert_eq!(again.digest, first.digest);
            assert_eq!(again.blob.read_to_vec().unwrap(), bytes);
        }
        assert_ne!(
            compressor_fingerprint(LayerCompression::Gzip),
            compressor_fingerprint(LayerCompression::Zstd)
        );
    }
}
