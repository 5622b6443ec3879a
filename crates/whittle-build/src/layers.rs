//! Layers: the assembled tree as a deterministic gzip layer. Compression is the slowest step of a
//! warm build, so compressed layers are kept in the cache as derived entries (content-addressed,
//! verified on read), found by the layer's diff ID and a fingerprint of the compressor: a
//! compressor whose output differs (another flate2/zlib-rs version) never reuses another's
//! layers, so a warm cache gives the same digest a cold build does.

use crate::Error;
use std::sync::OnceLock;
use whittle_fetch::Cache;
use whittle_fs::{Layer, LayerTar, Tree};

/// gzip level of image layers.
pub const GZIP_LEVEL: u32 = 9;

/// The digest of a fixed small input compressed by this build's compressor.
fn compressor_fingerprint() -> &'static str {
    static FP: OnceLock<String> = OnceLock::new();
    FP.get_or_init(|| {
        let mut sample = Vec::new();
        for i in 0u32..4096 {
            sample.extend_from_slice(format!("{i} whittle {}\n", i * 7919 % 104729).as_bytes());
        }
        let tar = LayerTar {
            tar: sample,
            diff_id: String::new(),
        };
        whittle_fs::compress_layer(&tar, GZIP_LEVEL)
            .map(|l| l.digest)
            .unwrap_or_default()
    })
}

/// The cache key of the compressed layer whose diff ID is `diff_id`.
pub fn cache_key(diff_id: &str) -> String {
    format!(
        "layer:gzip-{GZIP_LEVEL}:{}:{diff_id}",
        compressor_fingerprint()
    )
}

/// The compressed layer of `tree`, from the cache when an identical one was made before.
pub fn layer(tree: &Tree, mtime: u64, cache: &Cache) -> Result<Layer, Error> {
    let tar = whittle_fs::tar_layer(tree, mtime)?;
    if let Some(layer) = cached(&tar, cache)? {
        return Ok(layer);
    }
    let layer = whittle_fs::compress_layer(&tar, GZIP_LEVEL)?;
    cache.put_derived(&cache_key(&tar.diff_id), &layer.blob)?;
    Ok(layer)
}

fn cached(tar: &LayerTar, cache: &Cache) -> Result<Option<Layer>, Error> {
    // verified against its SHA-256 by the cache
    let Some(blob) = cache.get_derived(&cache_key(&tar.diff_id))? else {
        return Ok(None);
    };
    Ok(Some(Layer {
        size: blob.len() as u64,
        digest: format!("sha256:{}", whittle_fetch::sha256_hex(&blob)),
        diff_id: tar.diff_id.clone(),
        uncompressed_size: tar.tar.len() as u64,
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
        let first = layer(&tree(), 1, &cache).unwrap();
        let second = layer(&tree(), 1, &cache).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            first,
            whittle_fs::compress_layer(&whittle_fs::tar_layer(&tree(), 1).unwrap(), GZIP_LEVEL)
                .unwrap()
        );
        // the key names the compressor
        assert!(cache_key("sha256:x").contains(compressor_fingerprint()));
        assert!(compressor_fingerprint().starts_with("sha256:"));
        // a corrupt cached blob is never returned: the layer is made again
        let hex = first.digest.trim_start_matches("sha256:");
        std::fs::write(dir.path().join("blobs/sha256").join(hex), b"garbage").unwrap();
        assert_eq!(layer(&tree(), 1, &cache).unwrap(), first);
    }
}
