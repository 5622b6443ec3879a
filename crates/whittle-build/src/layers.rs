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
use whittle_fs::{Codec, Layer, LayerTar, Tree};

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

/// The compressed layer of `tree`, from the cache when an identical one was made before. The
/// tar is never held in memory: its diff ID is hashed as it streams, and on a miss it streams
/// again into the compressor.
pub fn layer(
    tree: &Tree,
    mtime: u64,
    compression: LayerCompression,
    cache: &Cache,
) -> Result<Layer, Error> {
    let (diff_id, tar_size) = whittle_fs::tar_identity(tree, mtime)?;
    if let Some(layer) = cached(&diff_id, tar_size, compression, cache)? {
        return Ok(layer);
    }
    let (codec, level) = codec(compression);
    let layer = whittle_fs::compress_tree(tree, mtime, codec, level, whittle_fs::threads())?;
    cache.put_derived(&cache_key(&layer.diff_id, compression), &layer.blob)?;
    Ok(layer)
}

fn cached(
    diff_id: &str,
    tar_size: u64,
    compression: LayerCompression,
    cache: &Cache,
) -> Result<Option<Layer>, Error> {
    // verified against its SHA-256 by the cache, which gives the digest it checked
    let Some((blob, sha256)) = cache.get_derived_sha256(&cache_key(diff_id, compression))? else {
        return Ok(None);
    };
    Ok(Some(Layer {
        size: blob.len() as u64,
        digest: format!("sha256:{sha256}"),
        media_type: codec(compression).0.media_type(),
        diff_id: diff_id.to_string(),
        uncompressed_size: tar_size,
        blob,
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
                whittle_fs::compress_layer(
                    &whittle_fs::tar_layer(&tree(), 1).unwrap(),
                    codec,
                    level,
                    1
                )
                .unwrap()
            );
            // the key names the codec and the compressor
            assert!(cache_key("sha256:x", c).contains(compressor_fingerprint(c)));
            assert!(cache_key("sha256:x", c).contains(codec.name()));
            assert!(compressor_fingerprint(c).starts_with("sha256:"));
            // a corrupt cached blob is never returned: the layer is made again
            let hex = first.digest.trim_start_matches("sha256:");
            std::fs::write(dir.path().join("blobs/sha256").join(hex), b"garbage").unwrap();
            assert_eq!(layer(&tree(), 1, c, &cache).unwrap(), first);
        }
        assert_ne!(
            compressor_fingerprint(LayerCompression::Gzip),
            compressor_fingerprint(LayerCompression::Zstd)
        );
    }
}
