//! whittle-fs: the in-memory filesystem tree that packages are extracted into, and the
//! deterministic tar layers written from it.
//!
//! # The tree
//! [`Tree`] maps relative, `/`-separated, normalized paths (`usr/bin/ls`) to [`Node`]s with
//! [`Meta`] (mode, numeric uid/gid; no times). [`Tree::insert`] creates missing parents as
//! 0755 0:0 directories and follows parent components that are symlinks to directories inside
//! the tree, as dpkg extracting onto a real filesystem would: with `bin -> usr/bin`, `bin/ls`
//! lands at `usr/bin/ls`. Resolution is confined to the tree (absolute targets resolve from the
//! tree root, `..` never climbs above it, at most [`MAX_SYMLINK_HOPS`] symlinks). Archive paths
//! (`./usr/bin/ls`) are turned into tree paths with [`normalize_archive_path`].
//!
//! # Layers
//! [`write_layer`] writes a tar with: entries sorted by path bytes (parents before children); the
//! root directory not written (like apko and ko layers; the runtime creates the rootfs directory,
//! and a `./` entry would only invite tools to chmod the extraction target); names without a
//! leading `./` or `/`, directories with a trailing `/`; numeric owners only (empty uname/gname);
//! every mtime equal to [`LayerOptions::mtime`]; no atime/ctime; ustar headers, with a PAX
//! extended header only for a path or link name that does not fit ustar (or is not ASCII), a size
//! of 8 GiB or more, or an owner id above 2097151. In a group of hardlinked paths, the first in tar
//! order carries the content (with the file's metadata) and the others are hardlink entries to it.
//! The tar is compressed in fixed-size independent blocks on several threads, with bytes that do
//! not depend on the thread count ([`compress`]): gzip with no file name, mtime 0 and OS byte 255,
//! or zstd; both streams are hashed.
//!
//! # Package archives
//! [`archive::walk_tar`] walks a package's data tar (Debian and APK) with normalized, confined
//! paths and a size cap.

pub mod archive;
mod bounded;
pub mod compress;
mod data;
mod error;
mod layer;
mod overlay;
mod path;
mod tree;
pub mod ustar;

pub use bounded::{read_bounded, read_head};
pub use compress::{Codec, MEDIA_TYPE_TAR_ZSTD, THREADS_ENV, threads};
pub use data::{DataReader, FileData, INLINE_MAX, Spill};
pub use error::{Error, Result};
pub use layer::{
    HashingWriter, Layer, LayerDigests, LayerOptions, LayerTar, MEDIA_TYPE_TAR,
    MEDIA_TYPE_TAR_GZIP, compress_layer, compress_tree, tar_identity, tar_layer, tar_recipe,
    write_compressed_layer, write_layer, write_tar,
};
pub use overlay::{
    Change, DEFAULT_OVERLAY_SIZE_LIMIT, Hidden, HiddenBy, LayerChanges, OPAQUE_WHITEOUT, Overlay,
    WHITEOUT_PREFIX,
};
pub use path::{normalize_archive_path, symlink_climbs_above_root};
pub use tree::{Entry, Inserted, MAX_SYMLINK_HOPS, MAX_TREE_ENTRIES, Meta, Node, Outcome, Tree};
