//! The merged view of an image's layers (what a runtime shows), built from [`LayerScan`]s with the
//! OCI image-spec whiteout rules, plus what each layer added, changed, removed and hid.
//!
//! # Rules (OCI image spec, `layer.md`)
//! - Whiteouts apply only to lower layers: all of a layer's whiteouts are applied first, then its
//!   entries in tar order, so a file re-added in the same layer as a whiteout or an opaque marker
//!   survives, wherever it stands in the tar.
//! - `DIR/.wh.NAME` deletes `DIR/NAME` and everything below it; `DIR/.wh..wh..opq` hides every
//!   lower child of `DIR`. Only a base name of exactly `.wh..wh..opq` is opaque.
//! - Paths are literal (overlayfs semantics): a lower symlink in a parent position is not
//!   followed; an upper entry below it replaces it with a directory.
//! - A later entry replaces an earlier one; a kind change between directory and non-directory
//!   replaces the whole subtree.
//!
//! Every copy of a file that does not survive into the final tree (deleted, overwritten, or
//! shadowed by a duplicate in the same layer) is recorded in its layer's [`LayerDiff::hidden`]:
//! `total_bytes == final_bytes + hidden_bytes` always holds. (Waste as dive counts it, the
//! surviving copy included, is [`crate::dive`]'s.)

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use crate::secret::Secret;
use crate::walk::{Anomaly, Kind, LayerScan, RawEntry, Whiteout};

/// One path of the merged tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// Content size (regular files), else 0.
    pub size: u64,
    /// Permission bits with setuid/setgid/sticky.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Symlink or hard-link target.
    pub link: Option<String>,
    /// The layer that last wrote it (0 = bottom).
    pub layer: usize,
    /// Secret matches in its content.
    pub secrets: Vec<Secret>,
    /// Full content, for package-database and account files only.
    pub content: Option<Vec<u8>>,
}

/// How a lower entry came to be hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HiddenBy {
    /// A `.wh.NAME` whiteout on it or a directory above it.
    Whiteout,
    /// A `.wh..wh..opq` marker in a directory above it.
    OpaqueWhiteout,
    /// A later entry at its path (or a directory replacing a parent).
    Overwritten,
}

/// An entry no longer visible in the merged tree but still stored in a layer blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hidden {
    /// Tree path (no leading `/`).
    pub path: String,
    /// What it was.
    pub kind: Kind,
    /// Its size.
    pub size: u64,
    /// The layer whose blob still holds it.
    pub layer: usize,
    /// The layer that hid it.
    pub hidden_in: usize,
    /// How.
    pub by: HiddenBy,
    /// Secret matches in its content.
    pub secrets: Vec<Secret>,
}

/// What one layer did to the merged tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LayerDiff {
    /// Layer index (0 = bottom).
    pub layer: usize,
    /// Paths that did not exist below this layer.
    pub added: Vec<String>,
    /// Paths that existed below and that this layer replaced (directories only when their
    /// owner or mode changed).
    pub changed: Vec<String>,
    /// Lower paths this layer deleted (whiteouts), descendants included.
    pub removed: Vec<String>,
    /// Lower (or same-layer) non-directory entries this layer made invisible.
    pub hidden: Vec<Hidden>,
    /// Sum of the regular file sizes in the layer.
    pub file_bytes: u64,
    /// Tar entries in the layer.
    pub tar_entries: usize,
    /// Entries the walk skipped or repaired.
    pub anomalies: Vec<Anomaly>,
}

/// The merged tree of the layers applied so far.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    entries: BTreeMap<String, Entry>,
    next_layer: usize,
    total_bytes: u64,
}

/// The result of resolving a path through symlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The path it names in the tree.
    Found(String),
    /// Some component does not exist.
    Missing,
    /// Too many symlinks (a loop).
    Loop,
}

/// Most symlinks followed while resolving one path (Linux's limit).
pub const MAX_SYMLINK_HOPS: usize = 40;

struct Apply<'a> {
    m: &'a mut Merged,
    layer: usize,
    diff: LayerDiff,
    removed: BTreeSet<String>,
    touched: HashSet<String>,
}

impl Merged {
    /// An empty tree.
    pub fn new() -> Self {
        Merged::default()
    }

    /// Every path of the merged tree with its entry, sorted.
    pub fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.entries
    }

    /// Entries whose path starts with `prefix` (a string prefix, e.g. `var/cache/apt/`), sorted.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a String, &'a Entry)> {
        self.entries
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// The entry at a literal tree path.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Bytes of all regular files of all layers applied.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Bytes of the regular files of the tree.
    pub fn final_bytes(&self) -> u64 {
        self.entries
            .values()
            .filter(|e| e.kind == Kind::File)
            .map(|e| e.size)
            .sum()
    }

    /// Apply the next layer (its index is the number applied so far).
    pub fn apply(&mut self, scan: LayerScan) -> LayerDiff {
        let layer = self.next_layer;
        self.next_layer += 1;
        self.total_bytes = self.total_bytes.saturating_add(scan.file_bytes);
        let mut a = Apply {
            m: self,
            layer,
            diff: LayerDiff {
                layer,
                file_bytes: scan.file_bytes,
                tar_entries: scan.tar_entries,
                anomalies: scan.anomalies,
                ..LayerDiff::default()
            },
            removed: BTreeSet::new(),
            touched: HashSet::new(),
        };
        for w in &scan.whiteouts {
            match w {
                Whiteout::Path(p) => a.remove_tree(p, true, HiddenBy::Whiteout, true),
                Whiteout::Opaque(d) => a.opaque(d),
            }
        }
        for e in scan.entries {
            a.put(e);
        }
        let mut diff = a.diff;
        diff.removed.extend(a.removed);
        diff
    }

    /// Resolve `path` (a tree path or an absolute path) through symlinks in its parents, and in
    /// its last component too when `follow_last`. Never loops: [`Resolved::Loop`] after
    /// [`MAX_SYMLINK_HOPS`] links.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Resolved {
        if !path.contains("..") {
            let literal = path.trim_start_matches('/');
            if let Some(e) = self.entries.get(literal)
                && (e.kind != Kind::Symlink || !follow_last)
                && literal_parents(&self.entries, literal)
            {
                return Resolved::Found(literal.to_string());
            }
        }
        let mut rest: Vec<String> = path
            .split('/')
            .rev()
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = rest.pop() {
            if c == "." || c.is_empty() {
                continue;
            }
            if c == ".." {
                cur.pop();
                continue;
            }
            cur.push(c);
            let p = cur.join("/");
            match self.entries.get(&p) {
                Some(e) if e.kind == Kind::Symlink && (!rest.is_empty() || follow_last) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Resolved::Loop;
                    }
                    cur.pop();
                    let target = e.link.as_deref().unwrap_or("");
                    if target.starts_with('/') {
                        cur.clear();
                    }
                    rest.extend(
                        target
                            .split('/')
                            .rev()
                            .filter(|c| !c.is_empty() && *c != ".")
                            .map(str::to_string),
                    );
                }
                Some(e) if e.kind != Kind::Dir && !rest.is_empty() => return Resolved::Missing,
                Some(_) => {}
                None => return Resolved::Missing,
            }
        }
        Resolved::Found(cur.join("/"))
    }
}

fn literal_parents(entries: &BTreeMap<String, Entry>, path: &str) -> bool {
    path.match_indices('/').all(|(i, _)| {
        entries
            .get(path.get(..i).unwrap_or(""))
            .is_some_and(|e| e.kind == Kind::Dir)
    })
}

impl Apply<'_> {
    /// Paths at or below `path` (at: include `path` itself), in tree order.
    fn subtree(&self, path: &str, at: bool) -> Vec<String> {
        let mut out = Vec::new();
        if at && self.m.entries.contains_key(path) {
            out.push(path.to_string());
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        out.extend(
            self.m
                .entries
                .range::<str, _>((
                    std::ops::Bound::Excluded(prefix.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .map(|(k, _)| k)
                .take_while(|k| k.starts_with(&prefix))
                .filter(|k| k.as_str() != path)
                .cloned(),
        );
        out
    }

    /// Remove `path` (with `at`) and everything below it, recording hidden entries.
    fn remove_tree(&mut self, path: &str, at: bool, by: HiddenBy, record_removed: bool) {
        for p in self.subtree(path, at) {
            let Some(e) = self.m.entries.remove(&p) else {
                continue;
            };
            if e.kind != Kind::Dir {
                self.diff.hidden.push(Hidden {
                    path: p.clone(),
                    kind: e.kind,
                    size: e.size,
                    layer: e.layer,
                    hidden_in: self.layer,
                    by,
                    secrets: e.secrets,
                });
            }
            if record_removed {
                self.removed.insert(p);
            }
        }
    }

    fn opaque(&mut self, dir: &str) {
        if !dir.is_empty() && !self.m.entries.get(dir).is_some_and(|e| e.kind == Kind::Dir) {
            return;
        }
        self.remove_tree(dir, false, HiddenBy::OpaqueWhiteout, true);
    }

    /// Record the first touch of `path` in this layer as added or changed.
    fn touch(&mut self, path: &str, existed: bool) {
        if self.touched.contains(path) {
            return;
        }
        self.touched.insert(path.to_string());
        if self.removed.remove(path) || existed {
            self.diff.changed.push(path.to_string());
        } else {
            self.diff.added.push(path.to_string());
        }
    }

    fn ensure_parents(&mut self, path: &str) {
        for (i, _) in path.match_indices('/') {
            let p = path.get(..i).unwrap_or("");
            match self.m.entries.get(p).map(|e| e.kind) {
                Some(Kind::Dir) => {}
                existing => {
                    if existing.is_some() {
                        self.remove_tree(p, true, HiddenBy::Overwritten, false);
                    }
                    self.m.entries.insert(
                        p.to_string(),
                        Entry {
                            kind: Kind::Dir,
                            size: 0,
                            mode: 0o755,
                            uid: 0,
                            gid: 0,
                            link: None,
                            layer: self.layer,
                            secrets: Vec::new(),
                            content: None,
                        },
                    );
                    self.touch(p, existing.is_some());
                }
            }
        }
    }

    fn put(&mut self, e: RawEntry) {
        self.ensure_parents(&e.path);
        let new = Entry {
            kind: e.kind,
            size: e.size,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            link: e.link,
            layer: self.layer,
            secrets: e.secrets,
            content: e.content,
        };
        let path = e.path;
        match self.m.entries.get_mut(&path) {
            None => {
                self.m.entries.insert(path.clone(), new);
                self.touch(&path, false);
            }
            Some(old) if old.kind == Kind::Dir && new.kind == Kind::Dir => {
                let differs = (old.mode, old.uid, old.gid) != (new.mode, new.uid, new.gid);
                *old = new;
                if differs {
                    self.touch(&path, true);
                } else {
                    // re-declared unchanged: neither added nor changed, but now this layer's
                    self.touched.insert(path);
                }
            }
            Some(_) => {
                // a kind change to or from a directory replaces the whole subtree
                self.remove_tree(&path, true, HiddenBy::Overwritten, false);
                self.m.entries.insert(path.clone(), new);
                self.touch(&path, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> RawEntry {
        RawEntry::for_test(path, Kind::File, size)
    }

    fn layer(entries: Vec<RawEntry>, whiteouts: Vec<Whiteout>) -> LayerScan {
        let file_bytes = entries.iter().map(|e| e.size).sum();
        LayerScan {
            entries,
            whiteouts,
            file_bytes,
            ..LayerScan::default()
        }
    }

    fn hidden_bytes(d: &LayerDiff) -> u64 {
        d.hidden.iter().map(|h| h.size).sum()
    }

    fn paths(m: &Merged) -> Vec<&str> {
        m.entries().keys().map(String::as_str).collect()
    }

    #[test]
    fn whiteout_hides_lower_and_counts_hidden_bytes() {
        let mut m = Merged::new();
        m.apply(layer(
            vec![file("app/secret.pem", 100), file("app/run", 5)],
            vec![],
        ));
        let d = m.apply(layer(vec![], vec![Whiteout::Path("app/secret.pem".into())]));
        assert_eq!(paths(&m), ["app", "app/run"]);
        assert_eq!(d.removed, ["app/secret.pem"]);
        assert_eq!((d.hidden[0].layer, d.hidden[0].by), (0, HiddenBy::Whiteout));
        assert_eq!(
            (m.total_bytes(), hidden_bytes(&d), m.final_bytes()),
            (105, 100, 5)
        );
    }

    #[test]
    fn same_layer_readd_survives_whiteout_and_opaque() {
        let mut m = Merged::new();
        m.apply(layer(
            vec![file("a/x", 1), file("a/y", 1), file("b", 1)],
            vec![],
        ));
        // the re-added entries come before the markers in tar order: they still survive
        let d = m.apply(layer(
            vec![file("a/y", 2), file("b", 3)],
            vec![Whiteout::Opaque("a".into()), Whiteout::Path("b".into())],
        ));
        assert_eq!(paths(&m), ["a", "a/y", "b"]);
        assert_eq!(m.get("b").map(|e| e.size), Some(3));
        assert_eq!(d.removed, ["a/x"]);
        assert!(d.changed.contains(&"a/y".to_string()) && d.changed.contains(&"b".to_string()));
        assert_eq!(hidden_bytes(&d), 3);
    }

    #[test]
    fn upper_dir_replaces_lower_symlink_parent() {
        let mut m = Merged::new();
        let mut l = file("bin", 0);
        l.kind = Kind::Symlink;
        l.link = Some("usr/bin".into());
        m.apply(layer(vec![l, file("usr/bin/ls", 10)], vec![]));
        assert_eq!(
            m.resolve("/bin/ls", false),
            Resolved::Found("usr/bin/ls".into())
        );
        m.apply(layer(vec![file("bin/sh", 1)], vec![]));
        assert_eq!(m.get("bin").map(|e| e.kind), Some(Kind::Dir));
        assert_eq!(m.resolve("/bin/ls", false), Resolved::Missing);
    }

    #[test]
    fn symlink_loops_terminate() {
        let mut m = Merged::new();
        let mut a = file("a", 0);
        a.kind = Kind::Symlink;
        a.link = Some("b".into());
        let mut b = file("b", 0);
        b.kind = Kind::Symlink;
        b.link = Some("/a".into());
        m.apply(layer(vec![a, b], vec![]));
        assert_eq!(m.resolve("a/x", false), Resolved::Loop);
        assert_eq!(m.resolve("a", true), Resolved::Loop);
        assert_eq!(m.resolve("a", false), Resolved::Found("a".into()));
    }
}
