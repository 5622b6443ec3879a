//! Layers: the assembled tree as a deterministic gzip or zstd layer, compressed on all cores in
//! fixed-size independent blocks whose bytes do not depend on the thread count
//! ([`whittle_fs::compress`]). Compression is the slowest step of a warm build, so compressed
//! layers are kept in the cache as derived entries (content-addressed, verified on read), found
//! by the layer's diff ID, the codec and level, the block format and a fingerprint of the
//! compressor: a compressor whose output differs (another zlib or zstd version) never reuses
//! another's layers, so a warm cache gives the same digest a cold build does.
//!
//! gzip is zlib's level 5 (the C zlib `gzip` and `pigz` use, built from source): on two cores
//! it compresses the python3 layer faster than `pigz -6` (0.68 vs 0.85 s) with 0.9 % more
//! bytes; zlib-rs's level 6, used before, was 3.6 % larger (docs/benchmarks.md). Layer
//! digests changed with each: until the block format, layers were one level-9 stream.

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

/// Starts computing `compression`'s compressor fingerprint on another thread (it compresses a
/// sample: ~1.5 ms that a warm build would otherwise spend waiting for it when it looks its
/// layer up); whoever needs it first waits for it.
pub fn prepare(compression: LayerCompression) {
    // a thread that cannot start leaves the work to the first caller
    let _ = std::thread::Builder::new().spawn(move || compressor_fingerprint(compression));
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

/// The compressed layer of `tree`, from the cache when an identical one was made before: found by
/// the tar's recipe ([`whittle_fs::tar_recipe`]) without reading it, or, for a tree with no
/// recipe, by its diff ID hashed as the tar streams. Neither the tar nor the compressed layer is
/// held in memory: on a miss the tar streams into the compressor, whose output goes to the cache
/// entry (or, when the cache keeps none, to an anonymous temporary file), and the layer's blob is
/// a handle to that file ([`FileData`]).
pub fn layer(
    tree: &Tree,
    mtime: u64,
    compression: LayerCompression,
    cache: &Cache,
) -> Result<ImageLayer, Error> {
    // the diff ID the recipe of this tar had before, when every file's content is named by
    // a cache key: then the tar need not stream to be hashed again
    let recipe = whittle_fs::tar_recipe(tree, mtime)?.map(|r| format!("layer-recipe:v1:{r}"));
    let known = match &recipe {
        Some(r) => cache
            .get_derived(r)?
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|d| is_diff_id(d)),
        None => None,
    };
    if let Some(diff_id) = &known
        && let Some(layer) = cached(
            &cache_key(diff_id, compression),
            diff_id,
            compression,
            cache,
        )?
    {
        return Ok(layer);
    }
    let remember = |diff_id: &str| match &recipe {
        Some(r) => cache.put_derived(r, diff_id.as_bytes()),
        None => Ok(()),
    };
    // Without a recipe, only the tar's hash tells whether its layer was made before. With one
    // that the cache does not know (or whose layer is gone), the tar streams once, into the
    // compressor, and the diff ID it yields (never the recipe's: a stale one would file this
    // layer under another tree's diff ID) names the entry.
    if recipe.is_none() {
        let diff_id = whittle_fs::tar_identity(tree, mtime)?.0;
        if let Some(layer) = cached(
            &cache_key(&diff_id, compression),
            &diff_id,
            compression,
            cache,
        )? {
            return Ok(layer);
        }
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
    if let Some(writer) = cache.create_derived("layer (being written)")
        && let Some(file) = writer.file()
    {
        let out = std::io::BufWriter::with_capacity(1 << 20, Feed(writer));
        let (out, d) = whittle_fs::write_compressed_layer(tree, mtime, codec, level, threads, out)?;
        let mut writer = out
            .into_inner()
            .map_err(|e| whittle_fs::Error::Io(e.into_error()))?
            .0;
        writer.set_key(&cache_key(&d.diff_id, compression));
        if writer.commit() {
            remember(&d.diff_id)?;
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

/// Whether `s` is `sha256:` and 64 lowercase hex digits.
fn is_diff_id(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
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

    /// A tree whose large file is an extent named by a cache key: a warm build finds its layer
    /// by the tar's recipe and reads none of the file (here it is truncated after the first
    /// build, so any read would fail); the same tree with an anonymous extent has no recipe and
    /// is hashed as before.
    #[test]
    fn a_layer_of_named_extents_is_found_without_reading_them() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let path = dir.path().join("data");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&vec![5u8; 300_000]).unwrap();
        let file = std::sync::Arc::new(std::fs::File::open(&path).unwrap());
        let with = |data: FileData| {
            let mut t = tree();
            t.insert("usr/lib/big", Node::file(data), Meta::root(0o644))
                .unwrap();
            t
        };
        let named = with(FileData::extent_of(
            "data-tar:v1:test".into(),
            file.clone(),
            1000,
            200_000,
        ));
        let anonymous = with(FileData::extent(file.clone(), 1000, 200_000));
        assert!(whittle_fs::tar_recipe(&named, 1).unwrap().is_some());
        assert!(whittle_fs::tar_recipe(&anonymous, 1).unwrap().is_none());
        let c = LayerCompression::Gzip;
        let first = layer(&named, 1, c, &cache).unwrap();
        assert_eq!(first, layer(&anonymous, 1, c, &cache).unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert_eq!(layer(&named, 1, c, &cache).unwrap(), first);
        // without a recipe the tar must stream: the truncated file is an error, not a layer
        assert!(layer(&anonymous, 1, c, &cache).is_err());
    }

    /// A recipe entry whose layer is gone is not trusted to name the layer made again: with a
    /// stale entry (here the diff ID of another tree) the new layer was kept under the other
    /// tree's key, and that tree's next build got this one's layer.
    #[test]
    fn a_stale_recipe_does_not_file_a_layer_under_another_diff_id() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let a = tree();
        let mut b = tree();
        b.insert("etc/b", Node::file(b"b\n".to_vec()), Meta::root(0o644))
            .unwrap();
        let recipe_a = whittle_fs::tar_recipe(&a, 1).unwrap().unwrap();
        let diff_b = whittle_fs::tar_identity(&b, 1).unwrap().0;
        cache
            .put_derived(&format!("layer-recipe:v1:{recipe_a}"), diff_b.as_bytes())
            .unwrap();
        let c = LayerCompression::Gzip;
        let made_a = layer(&a, 1, c, &cache).unwrap();
        assert_eq!(made_a.diff_id, whittle_fs::tar_identity(&a, 1).unwrap().0);
        let made_b = layer(&b, 1, c, &cache).unwrap();
        assert_eq!(made_b.diff_id, diff_b);
        assert_ne!(made_b.digest, made_a.digest, "b's layer is a's");
        // and the stale entry is replaced: a is found by its recipe again
        assert_eq!(layer(&a, 1, c, &cache).unwrap(), made_a);
    }
}
