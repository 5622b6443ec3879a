//! Deterministic layer tarballs (tar + gzip or zstd) with their digests.

use std::collections::HashMap;
use std::io::{self, Write};

use sha2::{Digest, Sha256};

use crate::compress::{BlockWriter, Codec, compress, threads};
use crate::data::FileData;
use crate::error::Result;
use crate::tree::{Entry, Meta, Node, Tree};
use crate::ustar::{Header, Kind, TarWriter};

/// OCI media type of a gzip-compressed layer.
pub const MEDIA_TYPE_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI media type of an uncompressed layer.
pub const MEDIA_TYPE_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// How to write a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerOptions {
    /// Modification time of every entry, seconds since the epoch (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// gzip level, 0 (store) to 9 (best).
    pub gzip_level: u32,
}

impl Default for LayerOptions {
    fn default() -> Self {
        LayerOptions {
            mtime: 0,
            gzip_level: 5,
        }
    }
}

/// A compressed layer and its identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The compressed tar.
    pub blob: Vec<u8>,
    /// Its OCI media type ([`MEDIA_TYPE_TAR_GZIP`] or [`crate::MEDIA_TYPE_TAR_ZSTD`]).
    pub media_type: &'static str,
    /// `sha256:<hex>` of `blob` (the descriptor digest).
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: String,
    /// Length of `blob`.
    pub size: u64,
    /// Length of the uncompressed tar.
    pub uncompressed_size: u64,
}

/// A writer that hashes (SHA-256) and counts what passes through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wrap `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    /// The inner writer, `sha256:<hex>` of everything written, and its length.
    pub fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or(buf);
        self.hasher.update(done);
        self.count += done.len() as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Write `tree` as a deterministic tar stream to `out` (see the crate docs for the exact rules)
/// and return `out`.
pub fn write_tar<W: Write>(tree: &Tree, mtime: u64, out: W) -> Result<W> {
    let mut tar = TarWriter::new(out);
    for_each_entry(tree, mtime, |h, data| {
        match data {
            Some(d) => tar.append_from(h, d.len(), &mut d.reader())?,
            None => tar.append(h, &[])?,
        }
        Ok(())
    })?;
    Ok(tar.finish()?)
}

/// What the tar [`write_tar`] writes for `tree` is made of, without reading any file content
/// from disk: `sha256:<hex>` of every entry's header fields and its content's identity
/// ([`FileData::identify`]), and of what this build's tar writer makes of a sample tree (so that
/// another writer never shares a recipe). Equal recipes mean equal tars; `None` when a file's
/// content has no identity short of its bytes. A cache can then find a layer made before
/// without streaming its tar again.
pub fn tar_recipe(tree: &Tree, mtime: u64) -> Result<Option<String>> {
    let mut h = Sha256::new();
    h.update(b"whittle tar recipe v1\n");
    h.update(writer_fingerprint().as_bytes());
    h.update(format!("\nmtime {mtime}\n").as_bytes());
    let mut complete = true;
    for_each_entry(tree, mtime, |hd, data| {
        let m = hd.meta;
        h.update(
            format!(
                "{} {} {} {} {:o} {} {}\n",
                hd.path.len(),
                hd.link.len(),
                hd.kind as u8,
                data.map_or(0, FileData::len),
                m.mode,
                m.uid,
                m.gid
            )
            .as_bytes(),
        );
        h.update(hd.path.as_bytes());
        h.update(hd.link.as_bytes());
        if let Some(d) = data {
            complete &= d.identify(&mut |b| h.update(b));
        }
        Ok(())
    })?;
    Ok(complete.then(|| format!("sha256:{}", hex::encode(h.finalize()))))
}

/// The diff ID of a sample tree (long and non-ASCII names, links, hard links, large ids) as
/// this build's [`write_tar`] writes it.
fn writer_fingerprint() -> &'static str {
    static PRINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PRINT.get_or_init(|| {
        let mut t = Tree::new();
        let long = format!("usr/share/{}/\u{e9}t\u{e9}", "d".repeat(120));
        let entries: [(&str, Node, Meta); 5] = [
            ("etc/a", Node::file(b"a\n".to_vec()), Meta::root(0o644)),
            (
                &long,
                Node::file(vec![0u8; 1000]),
                Meta::new(0o4755, 1 << 22, 7),
            ),
            ("usr/bin/l", Node::symlink("../share/x"), Meta::root(0o777)),
            ("usr/bin/h", Node::hardlink("etc/a"), Meta::root(0o644)),
            ("var/d", Node::Dir, Meta::new(0o1777, 0, 0)),
        ];
        for (p, n, m) in entries {
            if t.insert(p, n, m).is_err() {
                return String::new();
            }
        }
        write_tar(&t, 1 << 40, HashingWriter::new(io::sink()))
            .map(|w| w.finish().1)
            .unwrap_or_default()
    })
}

/// Calls `f` with the header and content of every entry of `tree`'s tar, in tar order: a file
/// with hard links is written at the first of its paths, the others link to it.
fn for_each_entry(
    tree: &Tree,
    mtime: u64,
    mut f: impl FnMut(&Header<'_>, Option<&FileData>) -> Result<()>,
) -> Result<()> {
    // For every file that has hardlinks: the first path of its group in tar order.
    let mut leader: HashMap<&str, &str> = HashMap::new();
    for (p, e) in tree.walk() {
        if let Node::Hardlink(t) = &e.node {
            let (file, _) = tree.hardlink_file(p, t)?;
            let first = leader.entry(file).or_insert(p);
            if p < *first {
                *first = p;
            }
            if file < *first {
                *first = file;
            }
        }
    }
    for (p, e) in tree.walk() {
        let mut h = Header {
            path: p,
            kind: Kind::Dir,
            link: "",
            meta: e.meta,
            mtime,
        };
        let data: Option<&FileData> = match &e.node {
            Node::Dir => None,
            Node::Symlink(t) => {
                h.kind = Kind::Symlink;
                h.link = t;
                None
            }
            Node::File(d) => match leader.get(p) {
                Some(l) if *l != p => {
                    h.kind = Kind::Hardlink;
                    h.link = l;
                    None
                }
                _ => {
                    h.kind = Kind::File;
                    Some(d)
                }
            },
            Node::Hardlink(t) => {
                let (file, fe): (&str, &Entry) = tree.hardlink_file(p, t)?;
                h.meta = fe.meta;
                let l = leader.get(file).copied().unwrap_or(file);
                if l == p {
                    h.kind = Kind::File;
                    match &fe.node {
                        Node::File(d) => Some(d),
                        _ => None,
                    }
                } else {
                    h.kind = Kind::Hardlink;
                    h.link = l;
                    None
                }
            }
        };
        f(&h, data)?;
    }
    Ok(())
}

/// An uncompressed layer tar and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerTar {
    /// The tar bytes.
    pub tar: Vec<u8>,
    /// `sha256:<hex>` of `tar` (the layer's diff ID).
    pub diff_id: String,
}

/// Write `tree` as an uncompressed deterministic tar (see the crate docs), hashed on the way.
pub fn tar_layer(tree: &Tree, mtime: u64) -> Result<LayerTar> {
    let capacity =
        usize::try_from(tree.total_size() + tree.len() as u64 * 1024 + 4096).unwrap_or(4096);
    let out = write_tar(
        tree,
        mtime,
        HashingWriter::new(Vec::with_capacity(capacity)),
    )?;
    let (tar, diff_id, _) = out.finish();
    Ok(LayerTar { tar, diff_id })
}

/// Compress a layer tar with `codec` at `level` on `threads` threads (see [`crate::compress`]):
/// the same tar, codec and level always give the same bytes, whatever the thread count (for a
/// given flate2/zlib-rs and zstd version).
pub fn compress_layer(tar: &LayerTar, codec: Codec, level: i32, threads: usize) -> Result<Layer> {
    let blob = compress(&tar.tar, codec, level, threads)?;
    Ok(Layer {
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&blob))),
        size: blob.len() as u64,
        blob,
        media_type: codec.media_type(),
        diff_id: tar.diff_id.clone(),
        uncompressed_size: tar.tar.len() as u64,
    })
}

/// The diff ID (`sha256:<hex>`) and length of `tree`'s tar as [`write_tar`] writes it,
/// computed as the tar streams: the tar is not kept in memory.
pub fn tar_identity(tree: &Tree, mtime: u64) -> Result<(String, u64)> {
    let (_, diff_id, len) = write_tar(tree, mtime, HashingWriter::new(io::sink()))?.finish();
    Ok((diff_id, len))
}

/// What [`write_compressed_layer`] wrote: the identities of a compressed layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigests {
    /// `sha256:<hex>` of the compressed bytes.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Length of the compressed bytes.
    pub size: u64,
    /// Length of the uncompressed tar.
    pub uncompressed_size: u64,
}

/// Write `tree` as a tar compressed with `codec` at `level` on `threads` threads to `out`,
/// streaming: the tar goes to the compressor a batch of blocks at a time (see
/// [`crate::compress::BlockWriter`]), both streams hashed as they pass, so memory does not grow
/// with the layer. The bytes are those [`compress_layer`] of [`tar_layer`] gives.
pub fn write_compressed_layer<W: Write>(
    tree: &Tree,
    mtime: u64,
    codec: Codec,
    level: i32,
    threads: usize,
    out: W,
) -> Result<(W, LayerDigests)> {
    let compressor = BlockWriter::new(HashingWriter::new(out), codec, level, threads)?;
    let (compressor, diff_id, uncompressed_size) =
        write_tar(tree, mtime, HashingWriter::new(compressor))?.finish();
    let (out, digest, size) = compressor.finish()?.finish();
    Ok((
        out,
        LayerDigests {
            digest,
            diff_id,
            size,
            uncompressed_size,
        },
    ))
}

/// [`write_compressed_layer`] into memory: the compressed layer of `tree`.
pub fn compress_tree(
    tree: &Tree,
    mtime: u64,
    codec: Codec,
    level: i32,
    threads: usize,
) -> Result<Layer> {
    let (blob, d) = write_compressed_layer(tree, mtime, codec, level, threads, Vec::new())?;
    Ok(Layer {
        blob,
        media_type: codec.media_type(),
        digest: d.digest,
        diff_id: d.diff_id,
        size: d.size,
        uncompressed_size: d.uncompressed_size,
    })
}

/// Write `tree` as a gzip-compressed layer ([`compress_tree`]).
/// The same tree and options always give the same bytes (for a given flate2/zlib-rs version),
/// on [`threads`] threads.
pub fn write_layer(tree: &Tree, opts: &LayerOptions) -> Result<Layer> {
    let level = i32::try_from(opts.gzip_level).unwrap_or(i32::MAX);
    compress_tree(tree, opts.mtime, Codec::Gzip, level, threads())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::tree::Meta;

    /// Equal trees have equal recipes; any change to a header field or a content identity
    /// changes it; an extent no key names leaves the tree without one.
    #[test]
    fn tar_recipe_names_every_header_field_and_content() {
        use std::sync::Arc;
        let file = Arc::new(tempfile::tempfile().unwrap());
        let ext = |key: &str, off: u64| FileData::extent_of(key.into(), file.clone(), off, 10);
        let base = || {
            let mut t = small_tree();
            t.insert("usr/lib/x", Node::file(ext("k", 0)), Meta::root(0o644))
                .unwrap();
            t
        };
        let r = tar_recipe(&base(), 1).unwrap().unwrap();
        assert_eq!(tar_recipe(&base(), 1).unwrap().unwrap(), r);
        assert!(r.starts_with("sha256:"));
        let mut changed: Vec<Tree> = Vec::new();
        for (path, node, meta) in [
            ("usr/lib/x", Node::file(ext("k", 1)), Meta::root(0o644)),
            ("usr/lib/x", Node::file(ext("j", 0)), Meta::root(0o644)),
            ("usr/lib/x", Node::file(ext("k", 0)), Meta::root(0o755)),
            ("usr/lib/x", Node::file(ext("k", 0)), Meta::new(0o644, 1, 0)),
            (
                "usr/lib/x",
                Node::file(b"0123456789".to_vec()),
                Meta::root(0o644),
            ),
            ("usr/lib/y", Node::symlink("x"), Meta::root(0o777)),
            ("usr/lib/y", Node::hardlink("usr/lib/x"), Meta::root(0o644)),
        ] {
            let mut t = base();
            t.insert(path, node, meta).unwrap();
            changed.push(t);
        }
        let mut seen = std::collections::BTreeSet::from([r.clone()]);
        for t in &changed {
            let other = tar_recipe(t, 1).unwrap().unwrap();
            assert!(seen.insert(other), "two different trees share a recipe");
        }
        assert_ne!(tar_recipe(&base(), 2).unwrap().unwrap(), r, "mtime");
        let mut anon = base();
        anon.insert(
            "usr/lib/z",
            Node::file(FileData::extent(file.clone(), 0, 10)),
            Meta::root(0o644),
        )
        .unwrap();
        assert_eq!(tar_recipe(&anon, 1).unwrap(), None);
    }

    fn small_tree() -> Tree {
        let mut t = Tree::new();
        t.insert("usr/bin", Node::Dir, Meta::DIR).unwrap();
        t.insert("bin", Node::symlink("usr/bin"), Meta::root(0o777))
            .unwrap();
        t.insert(
            "bin/hello",
            Node::file(b"#!/bin/true\n".to_vec()),
            Meta::root(0o755),
        )
        .unwrap();
        t.insert(
            "etc/passwd",
            Node::file(b"root:x:0:0::/root:/sbin/nologin\n".to_vec()),
            Meta::root(0o644),
        )
        .unwrap();
        t.insert("tmp", Node::Dir, Meta::root(0o1777)).unwrap();
        t.insert(
            "usr/bin/hi",
            Node::hardlink("usr/bin/hello"),
            Meta::root(0o755),
        )
        .unwrap();
        t
    }

    /// Catches any change of the tar layout or of the compressor's output (e.g. a flate2/zlib-rs
    /// upgrade): if this fails after a dependency update, image digests change for users.
    /// The tar is under one block (`compress::BLOCK_SIZE`): the block format (issue 18) writes
    /// the same bytes as one stream did, so this digest did not change with it
    /// (`compress::tests::golden_block_digests` covers several blocks). Changed again, on purpose,
    /// when gzip layers moved from zlib-rs level 6 to zlib's level 5 (issue 18: 3.6 % larger
    /// than `pigz -6` before, 0.9 % after, faster than `pigz -6` on two cores).
    #[test]
    fn golden_digest() {
        let l = write_layer(
            &small_tree(),
            &LayerOptions {
                mtime: 1_700_000_000,
                gzip_level: 5,
            },
        )
        .unwrap();
        assert_eq!(
            l.diff_id,
            "sha256:5d151c87d2a88e35effc4592301f0e9d62265003caff6bd8df4836705fcd6552"
        );
        assert_eq!(
            l.digest,
            "sha256:8466e05fbc117a3aa9e155291fd37bb073bac20537065936efd86517d71f1091"
        );
    }

    #[test]
    fn digests_and_sizes_match_the_bytes() {
        let l = write_layer(&small_tree(), &LayerOptions::default()).unwrap();
        assert_eq!(l.size, l.blob.len() as u64);
        assert_eq!(
            l.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&l.blob)))
        );
        let tar = write_tar(&small_tree(), 0, Vec::new()).unwrap();
        assert_eq!(l.uncompressed_size, tar.len() as u64);
        assert_eq!(
            l.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
        );
        // gzip header: no FNAME flag, mtime 0, OS 255.
        assert_eq!(&l.blob[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&l.blob[4..8], &[0, 0, 0, 0]);
        assert_eq!(l.blob[9], 255);
    }

    /// The streaming layer writer gives the bytes of tar then compress, and the tar's identity.
    #[test]
    fn streaming_layer_is_tar_then_compress() {
        let mut tree = small_tree();
        let big: Vec<u8> = (0..3_000_000u32)
            .map(|i| ((i % 251) ^ (i >> 9)) as u8)
            .collect();
        tree.insert("usr/lib/big", Node::file(big), Meta::root(0o644))
            .unwrap();
        let tar = tar_layer(&tree, 7).unwrap();
        assert_eq!(
            tar_identity(&tree, 7).unwrap(),
            (tar.diff_id.clone(), tar.tar.len() as u64)
        );
        for codec in [Codec::Gzip, Codec::Zstd] {
            let level = codec.default_level();
            let streamed = compress_tree(&tree, 7, codec, level, 1).unwrap();
            assert_eq!(streamed, compress_layer(&tar, codec, level, 2).unwrap());
        }
    }

    #[test]
    fn bad_level_is_rejected() {
        let r = write_layer(
            &Tree::new(),
            &LayerOptions {
                mtime: 0,
                gzip_level: 10,
            },
        );
        assert!(matches!(r, Err(Error::InvalidOption(_))));
    }
}
