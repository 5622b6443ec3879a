//! Merging image layers the way a container runtime does: OCI whiteouts, opaque directories, and
//! a record of what each layer added, changed, removed and hid.
//!
//! # Rules (OCI image spec, `layer.md`)
//! - `DIR/.wh.NAME` deletes `DIR/NAME` and everything below it from the *lower* layers (what
//!   the same layer adds survives, wherever it stands in tar order); the whiteout file itself
//!   never appears in the result.
//! - `DIR/.wh..wh..opq` hides every lower-layer child of `DIR` but keeps what the same layer adds
//!   (before or after the marker in tar order).
//! - Only a base name starting with `.wh.` is special: `not.a.wh..wh..opq` is an ordinary file.
//! - A later entry replaces an earlier one; an entry whose kind differs (file over directory,
//!   directory over file or symlink) replaces it and everything below it.
//!
//! # Symlinks in parent paths
//! Unlike [`Tree::insert`]'s dpkg semantics, layer paths are taken **literally**: a layer entry
//! `bin/ls` over a lower symlink `bin -> usr/bin` is not redirected to `usr/bin/ls`. This is what
//! overlayfs shows, since each layer is unpacked into its own directory and merged by name (and
//! what containerd's overlay fast path does); following lower symlinks would also let a hostile
//! layer aim its writes at paths it does not name. When a parent component is not a directory
//! (a symlink or file from a lower layer), the implicit directory of the upper layer replaces it,
//! exactly as an upper directory hides a lower non-directory in overlayfs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::error::{Error, Result};
use crate::path::normalize_archive_path;
use crate::tree::{Meta, Node, Tree};

/// Prefix of a whiteout file's base name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Base name of an opaque-directory marker.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Default limit on the merged tree's file contents (8 GiB).
pub const DEFAULT_OVERLAY_SIZE_LIMIT: u64 = 8 << 30;

/// How a lower-layer entry came to be hidden from the merged view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenBy {
    /// A `.wh.NAME` whiteout (on the entry or on a directory above it).
    Whiteout,
    /// A `.wh..wh..opq` marker in a directory above it.
    OpaqueWhiteout,
    /// A later entry at the same path (or of another kind at a parent path) replaced it.
    Overwritten,
}

/// A lower-layer entry that is no longer visible but still stored in its layer's blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    /// Tree path of the hidden entry.
    pub path: String,
    /// What it was (`file`, `dir`, `symlink`, `hardlink`).
    pub kind: &'static str,
    /// Its content size in bytes (0 for anything but a regular file).
    pub size: u64,
    /// The layer that added it, when known (`None` for entries that were in the tree before the
    /// first [`Overlay::apply_layer`]).
    pub layer: Option<usize>,
    /// What hid it.
    pub by: HiddenBy,
}

/// An entry a layer added or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Tree path.
    pub path: String,
    /// What it is now (`file`, `dir`, `symlink`, `hardlink`).
    pub kind: &'static str,
    /// Content size in bytes (0 for anything but a regular file).
    pub size: u64,
}

/// What one layer did to the merged tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerChanges {
    /// The index of the layer (bottom is 0).
    pub layer: usize,
    /// Paths that did not exist below this layer.
    pub added: Vec<Change>,
    /// Paths that existed below and that this layer replaced or re-declared.
    pub changed: Vec<Change>,
    /// Lower paths deleted by whiteouts (each path listed once, descendants included).
    pub removed: Vec<String>,
    /// Every lower-layer entry this layer made invisible (whiteouts and overwrites), with the
    /// layer that still holds it: the audit reads recoverable secrets from this.
    pub hidden: Vec<Hidden>,
    /// Sum of the regular file contents in the layer.
    pub bytes: u64,
}

/// A merged image filesystem: the [`Tree`] plus which layer each path came from.
#[derive(Debug, Clone)]
pub struct Overlay {
    tree: Tree,
    origin: BTreeMap<String, usize>,
    next_layer: usize,
    size_limit: u64,
    spill: Option<crate::Spill>,
    /// Bytes written to `spill` so far: it only grows (a file replaced or deleted by a later
    /// entry or layer keeps its bytes there), so it is bounded by the size limit too.
    spilled: u64,
}

impl Default for Overlay {
    fn default() -> Self {
        Overlay::new()
    }
}

impl Overlay {
    /// An empty merged filesystem with a [`DEFAULT_OVERLAY_SIZE_LIMIT`] size limit.
    pub fn new() -> Self {
        Overlay {
            tree: Tree::new().with_size_limit(DEFAULT_OVERLAY_SIZE_LIMIT),
            origin: BTreeMap::new(),
            next_layer: 0,
            size_limit: DEFAULT_OVERLAY_SIZE_LIMIT,
            spill: None,
            spilled: 0,
        }
    }

    /// Keep file contents of [`crate::INLINE_MAX`] bytes or more in `spill` instead of memory.
    /// What is written there in all, files later replaced or deleted included, is bounded by the
    /// size limit too ([`Error::SpillLimit`]).
    pub fn with_spill(mut self, spill: crate::Spill) -> Self {
        self.spill = Some(spill);
        self
    }

    /// Limit the total size of the merged file contents (untrusted images must not exhaust memory).
    pub fn with_size_limit(mut self, limit: u64) -> Self {
        self.tree = self.tree.with_size_limit(limit);
        self.size_limit = limit;
        self
    }

    /// The merged tree.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Give up the origin records and keep the merged tree.
    pub fn into_tree(self) -> Tree {
        self.tree
    }

    /// The layer that last wrote `path` (a literal tree path), if any.
    pub fn origin(&self, path: &str) -> Option<usize> {
        self.origin.get(path).copied()
    }

    /// Apply the next layer (index = number of layers applied so far) from an uncompressed tar
    /// stream.
    pub fn apply_layer(&mut self, reader: impl Read) -> Result<LayerChanges> {
        let layer = self.next_layer;
        self.next_layer += 1;
        let mut applier = Applier {
            ov: self,
            layer,
            this_layer: BTreeSet::new(),
            changes: LayerChanges {
                layer,
                ..LayerChanges::default()
            },
        };
        applier.run(reader)?;
        Ok(applier.changes)
    }
}

struct Applier<'a> {
    ov: &'a mut Overlay,
    layer: usize,
    this_layer: BTreeSet<String>,
    changes: LayerChanges,
}

fn size_of(node: &Node) -> u64 {
    match node {
        Node::File(d) => d.len(),
        _ => 0,
    }
}

fn tar_err(what: &str, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("reading the layer tar ({what}): {e}"),
    ))
}

impl Applier<'_> {
    fn run(&mut self, reader: impl Read) -> Result<()> {
        let mut archive = tar::Archive::new(reader);
        let entries = archive.entries().map_err(|e| tar_err("header", e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| tar_err("entry header", e))?;
            let raw = {
                let bytes = entry.path_bytes();
                std::str::from_utf8(&bytes)
                    .map_err(|_| Error::InvalidPath {
                        path: String::from_utf8_lossy(&bytes).into_owned(),
                        reason: "the layer path is not UTF-8",
                    })?
                    .to_string()
            };
            let path = normalize_archive_path(&raw)?;
            let header = entry.header();
            let kind = header.entry_type();
            let meta = Meta {
                mode: header.mode().unwrap_or(0o644) & 0o7777,
                uid: header
                    .uid()
                    .ok()
                    .and_then(|u| u32::try_from(u).ok())
                    .unwrap_or(0),
                gid: header
                    .gid()
                    .ok()
                    .and_then(|g| u32::try_from(g).ok())
                    .unwrap_or(0),
            };
            if path.is_empty() {
                // The root directory entry (`./`): nothing to merge.
                continue;
            }
            let (parent, name) = match path.rsplit_once('/') {
                Some((p, n)) => (p.to_string(), n),
                None => (String::new(), path.as_str()),
            };
            if name == OPAQUE_WHITEOUT {
                self.opaque(&parent)?;
                continue;
            }
            if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX) {
                let victim = if parent.is_empty() {
                    target.to_string()
                } else {
                    format!("{parent}/{target}")
                };
                // `.wh.` alone or `.wh..` would name the directory itself or climb: reject.
                normalize_archive_path(&victim)
                    .ok()
                    .filter(|v| *v == victim && !v.is_empty())
                    .ok_or_else(|| Error::InvalidPath {
                        path: raw.clone(),
                        reason: "whiteout names no valid entry",
                    })?;
                self.whiteout(&victim, HiddenBy::Whiteout)?;
                continue;
            }
            let node = match kind {
                tar::EntryType::Directory => Node::Dir,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    if self.ov.tree.total_size().saturating_add(size) > self.ov.size_limit {
                        return Err(Error::SizeLimit {
                            path,
                            would_be: self.ov.tree.total_size().saturating_add(size),
                            limit: self.ov.size_limit,
                        });
                    }
                    let data = match &self.ov.spill {
                        Some(spill) if size >= crate::INLINE_MAX => {
                            let would_be = self.ov.spilled.saturating_add(size);
                            if would_be > self.ov.size_limit {
                                return Err(Error::SpillLimit {
                                    path,
                                    would_be,
                                    limit: self.ov.size_limit,
                                });
                            }
                            self.ov.spilled = would_be;
                            spill
                                .append(&mut entry, size)
                                .map_err(|e| tar_err(&raw, e))?
                        }
                        _ => {
                            // the declared size is untrusted: reserve at most 16 MiB up front
                            let mut data = Vec::with_capacity(
                                usize::try_from(size.min(16 << 20)).unwrap_or(0),
                            );
                            entry.read_to_end(&mut data).map_err(|e| tar_err(&raw, e))?;
                            data.into()
                        }
                    };
                    self.changes.bytes += data.len();
                    Node::file(data)
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let link = entry.link_name_bytes().ok_or_else(|| Error::InvalidPath {
                        path: raw.clone(),
                        reason: "link entry without a link name",
                    })?;
                    let link = std::str::from_utf8(&link)
                        .map_err(|_| Error::InvalidPath {
                            path: raw.clone(),
                            reason: "link name is not UTF-8",
                        })?
                        .to_string();
                    if kind == tar::EntryType::Symlink {
                        Node::symlink(link)
                    } else {
                        Node::hardlink(normalize_archive_path(&link)?)
                    }
                }
                // Device nodes, FIFOs, and unknown types carry no content: skipped, as in
                // rootless runtimes. PAX/GNU metadata entries are consumed by the tar reader.
                _ => continue,
            };
            self.put(&path, node, meta)?;
        }
        self.changes.removed.sort();
        Ok(())
    }

    fn lower(&self, path: &str) -> bool {
        !self.this_layer.contains(path)
    }

    fn record_hidden(&mut self, path: &str, node: &Node, by: HiddenBy) {
        let layer = self.ov.origin.get(path).copied();
        self.changes.hidden.push(Hidden {
            path: path.to_string(),
            kind: node.kind(),
            size: size_of(node),
            layer,
            by,
        });
    }

    /// Every path at or below `path` (literal), in tree order.
    fn subtree(&self, path: &str) -> Vec<String> {
        let below = format!("{path}/");
        let mut out: Vec<String> = Vec::new();
        if self.ov.tree.get(path).is_some() && self.literal(path) {
            out.push(path.to_string());
        }
        out.extend(
            self.ov
                .tree
                .walk()
                .map(|(p, _)| p)
                .skip_while(|p| *p <= path)
                .take_while(|p| p.starts_with(&below))
                .map(str::to_string),
        );
        out
    }

    /// Whether every parent of `path` is a real directory (so `get` does not follow a symlink).
    fn literal(&self, path: &str) -> bool {
        path.match_indices('/').all(|(i, _)| {
            self.ov
                .tree
                .get(&path[..i])
                .is_some_and(|e| e.node.is_dir())
        })
    }

    /// Whether this layer wrote something strictly below `path`.
    fn this_layer_below(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        self.this_layer
            .range(prefix.clone()..)
            .next()
            .is_some_and(|t| t.starts_with(&prefix))
    }

    /// Remove `path` and everything below it (children first), recording lower entries as
    /// hidden. With `keep_this_layer` (opaque whiteouts), entries this layer wrote and the
    /// directories above them stay.
    fn remove_subtree(&mut self, path: &str, by: HiddenBy, keep_this_layer: bool) -> Result<()> {
        let all = self.subtree(path);
        for p in all.iter().rev() {
            if keep_this_layer && (!self.lower(p) || self.this_layer_below(p)) {
                continue;
            }
            let Some(entry) = self.ov.tree.get(p).cloned() else {
                continue;
            };
            if self.lower(p) {
                self.record_hidden(p, &entry.node, by);
                if by != HiddenBy::Overwritten {
                    self.changes.removed.push(p.clone());
                }
            }
            self.ov.tree.remove(p)?;
            self.ov.origin.remove(p);
            self.this_layer.remove(p);
        }
        Ok(())
    }

    /// Whiteouts hide lower-layer entries only: what this layer wrote at or below `victim`
    /// (before the whiteout in tar order) stays, with the directories above it.
    fn whiteout(&mut self, victim: &str, by: HiddenBy) -> Result<()> {
        if !self.literal(victim) {
            return Ok(()); // a parent is missing or not a directory: nothing below to hide
        }
        self.remove_subtree(victim, by, true)
    }

    fn opaque(&mut self, dir: &str) -> Result<()> {
        if dir.is_empty() {
            let roots: Vec<String> = self
                .ov
                .tree
                .walk()
                .map(|(p, _)| p)
                .filter(|p| !p.contains('/'))
                .map(str::to_string)
                .collect();
            for r in roots {
                self.remove_subtree_opaque_child(&r)?;
            }
            return Ok(());
        }
        if !self.literal(dir) || !self.ov.tree.get(dir).is_some_and(|e| e.node.is_dir()) {
            return Ok(());
        }
        let below = format!("{dir}/");
        let children: Vec<String> = self
            .ov
            .tree
            .walk()
            .map(|(p, _)| p)
            .skip_while(|p| *p <= dir)
            .take_while(|p| p.starts_with(&below))
            .filter(|p| !p[below.len()..].contains('/'))
            .map(str::to_string)
            .collect();
        for c in children {
            self.remove_subtree_opaque_child(&c)?;
        }
        Ok(())
    }

    fn remove_subtree_opaque_child(&mut self, child: &str) -> Result<()> {
        self.remove_subtree(child, HiddenBy::OpaqueWhiteout, true)
    }

    /// Make every parent of `path` a real directory, replacing lower non-directories.
    fn ensure_parents(&mut self, path: &str) -> Result<()> {
        for (i, _) in path.match_indices('/') {
            let p = &path[..i];
            match self.ov.tree.get(p).map(|e| e.node.is_dir()) {
                Some(true) => {}
                Some(false) => {
                    self.remove_subtree(p, HiddenBy::Overwritten, false)?;
                    self.ov.tree.insert(p, Node::Dir, Meta::DIR)?;
                    self.ov.origin.insert(p.to_string(), self.layer);
                    self.changes.changed.push(Change {
                        path: p.to_string(),
                        kind: "dir",
                        size: 0,
                    });
                }
                None => {
                    self.ov.tree.insert(p, Node::Dir, Meta::DIR)?;
                    self.ov.origin.insert(p.to_string(), self.layer);
                    self.changes.added.push(Change {
                        path: p.to_string(),
                        kind: "dir",
                        size: 0,
                    });
                }
            }
        }
        Ok(())
    }

    fn put(&mut self, path: &str, node: Node, meta: Meta) -> Result<()> {
        self.ensure_parents(path)?;
        let existing = self.ov.tree.get(path).cloned();
        let change = Change {
            path: path.to_string(),
            kind: node.kind(),
            size: size_of(&node),
        };
        let existed = match existing {
            None => false,
            Some(old) => {
                if old.node.is_dir() && node.is_dir() {
                    // Directory re-declared: metadata only, children merge.
                } else if old.node.is_dir() || node.is_dir() {
                    self.remove_subtree(path, HiddenBy::Overwritten, false)?;
                } else if self.lower(path) {
                    self.record_hidden(path, &old.node, HiddenBy::Overwritten);
                }
                true
            }
        };
        let lower_existed = existed && self.lower(path);
        if existed && !node.is_dir() && self.ov.tree.get(path).is_some() {
            // Replace literally (a symlink at the final component is replaced, not followed).
            self.ov.tree.remove(path)?;
        }
        self.ov.tree.insert(path, node, meta)?;
        self.ov.origin.insert(path.to_string(), self.layer);
        let fresh = self.this_layer.insert(path.to_string());
        if lower_existed {
            self.changes.changed.push(change);
        } else if fresh && !existed {
            self.changes.added.push(change);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, c) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(c.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, p, *c).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// The spill file keeps the bytes of files that later entries replace: what the layers
    /// write to it in all is bounded by the size limit, not only the merged tree (a small layer
    /// could otherwise write one highly compressible file over and over until the disk is full).
    #[test]
    fn what_the_layers_spill_in_all_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let spill = crate::Spill::new_in(dir.path()).unwrap();
        let big = vec![7u8; 100_000];
        let mut ov = Overlay::new().with_spill(spill).with_size_limit(350_000);
        ov.apply_layer(&tar(&[("a/big", &big), ("a/big", &big)])[..])
            .unwrap();
        ov.apply_layer(&tar(&[("a/big", &big)])[..]).unwrap();
        assert_eq!(ov.tree().total_size(), 100_000, "the tree holds one copy");
        let e = ov.apply_layer(&tar(&[("a/big", &big)])[..]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::SpillLimit {
                    would_be: 400_000,
                    limit: 350_000,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn with_a_spill_file_large_contents_stay_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let spill = crate::Spill::new_in(dir.path()).unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut ov = Overlay::new().with_spill(spill);
        ov.apply_layer(&tar(&[("a/big", &big), ("a/small", b"hi")])[..])
            .unwrap();
        let Node::File(d) = &ov.tree().get("a/big").unwrap().node else {
            panic!("not a file")
        };
        assert!(d.as_inline().is_none(), "a large file is a handle");
        assert_eq!(d.read_to_vec().unwrap(), big);
        let Node::File(d) = &ov.tree().get("a/small").unwrap().node else {
            panic!("not a file")
        };
        assert_eq!(d.as_inline(), Some(&b"hi"[..]));
    }

    #[test]
    fn a_whiteout_spares_what_its_own_layer_added_before_it() {
        let mut ov = Overlay::new();
        ov.apply_layer(&tar(&[("a/x", b"old"), ("a/y", b"1")])[..])
            .unwrap();
        let ch = ov
            .apply_layer(&tar(&[("a/x", b"new"), ("a/.wh.x", b""), ("a/.wh.y", b"")])[..])
            .unwrap();
        let paths: Vec<&str> = ov.tree().walk().map(|(p, _)| p).collect();
        assert_eq!(paths, ["a", "a/x"]);
        assert!(
            matches!(&ov.tree().get("a/x").unwrap().node, Node::File(d) if d.as_inline() == Some(&b"new"[..]))
        );
        assert_eq!(ch.removed, ["a/y"]);
    }
}
