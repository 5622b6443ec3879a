//! Deterministic layer tarballs (tar + gzip or zstd) with their digests.

use std::collections::HashMap;
use std::io::{self, Write};

use sha2::{Digest, Sha256};

use crate::compress::{BlockWriter, Codec, compress, threads};
use crate::data::FileData;
use crate::error::Result;
use crate::tree::{Entry, Node, Tree};
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
            gzip_level: 6,
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
    let mut tar = TarWriter::new(out);
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
        match data {
            Some(d) => tar.append_from(&h, d.len(), &mut d.reader())?,
            None => tar.append(&h, &[])?,
        }
    }
    Ok(tar.finish()?)
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
    /// (`compress::tests::golden_block_digests` covers several blocks).
    #[test]
    fn golden_digest() {
        let l = write_layer(
            &small_tree(),
            &LayerOptions {
                mtime: 1_700_000_000,
                gzip_level: 6,
            },
        )
        .unwrap();
        assert_eq!(
            l.diff_id,
            "sha256:5d151c87d2a88e35effc4592301f0e9d62265003caff6bd8df4836705fcd6552"
        );
        assert_eq!(
            l.digest,
            "sha256:31057a653e74ee322b2a862f70056098c8ca04fa9605fa6358de70a8dd5c84c0"
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
