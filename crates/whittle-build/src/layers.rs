//! Layers: the assembled tree as a deterministic gzip layer. Compression is the slowest step of a
//! warm build, so compressed layers are kept in the cache, found by their diff ID, and verified
//! (digest of the blob, and the diff ID of its decompressed content) before reuse.

use crate::Error;
use std::io::Read;
use whittle_fetch::Cache;
use whittle_fs::{Layer, Tree};

/// gzip level of image layers.
pub const GZIP_LEVEL: u32 = 9;

fn cache_key(diff_id: &str) -> String {
    format!("whittle-layer:gzip-{GZIP_LEVEL}:{diff_id}")
}

/// The compressed layer of `tree`, from the cache when an identical one was made before.
pub fn layer(tree: &Tree, mtime: u64, cache: &Cache) -> Result<Layer, Error> {
    let tar = whittle_fs::tar_layer(tree, mtime)?;
    if let Some(layer) = cached(&tar, cache)? {
        return Ok(layer);
    }
    let layer = whittle_fs::compress_layer(&tar, GZIP_LEVEL)?;
    let hex = layer.digest.trim_start_matches("sha256:");
    cache.put(hex, &layer.blob)?;
    cache.put_by_url(&cache_key(&tar.diff_id), hex.as_bytes())?;
    Ok(layer)
}

fn cached(tar: &whittle_fs::LayerTar, cache: &Cache) -> Result<Option<Layer>, Error> {
    let Some(digest) = cache.get_by_url(&cache_key(&tar.diff_id))? else {
        return Ok(None);
    };
    let Ok(hex) = String::from_utf8(digest) else {
        return Ok(None);
    };
    // verified against its SHA-256 by the cache
    let Some(blob) = cache.get(&hex)? else {
        return Ok(None);
    };
    // and its content must be exactly this tar
    let mut gz = flate2::read::GzDecoder::new(blob.as_slice());
    let mut content = Vec::with_capacity(tar.tar.len());
    let read = (&mut gz)
        .take(tar.tar.len() as u64 + 1)
        .read_to_end(&mut content);
    if read.is_err() || content != tar.tar {
        return Ok(None);
    }
    Ok(Some(Layer {
        size: blob.len() as u64,
        digest: format!("sha256:{hex}"),
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
        // a corrupt cached blob is never returned: the layer is made again
        let hex = first.digest.trim_start_matches("sha256:");
        std::fs::write(dir.path().join("blobs/sha256").join(hex), b"garbage").unwrap();
        assert_eq!(layer(&tree(), 1, &cache).unwrap(), first);
        // a mapping that points at a different (valid) blob is not trusted either
        let other =
            whittle_fs::compress_layer(&whittle_fs::tar_layer(&tree(), 2).unwrap(), GZIP_LEVEL)
                .unwrap();
        let other_hex = other.digest.trim_start_matches("sha256:");
        cache.put(other_hex, &other.blob).unwrap();
        cache
            .put_by_url(&cache_key(&first.diff_id), other_hex.as_bytes())
            .unwrap();
        assert_eq!(layer(&tree(), 1, &cache).unwrap(), first);
    }
}
