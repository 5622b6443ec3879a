//! The in-memory filesystem tree.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::data::FileData;
use crate::error::{Error, Result};
use crate::path::{components, join, parent};

/// Most symlinks followed while resolving one path (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Most missing directories created for one insertion (guards pathological symlink targets).
const MAX_CREATED_DIRS: usize = 4096;

/// Ownership and permission bits of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Meta {
    /// Permission bits including setuid/setgid/sticky (`0o7777` at most; file type bits are dropped).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
}

impl Meta {
    /// Metadata with the given mode and owner.
    pub const fn new(mode: u32, uid: u32, gid: u32) -> Self {
        Meta { mode, uid, gid }
    }
    /// `mode` owned by root (0:0).
    pub const fn root(mode: u32) -> Self {
        Meta {
            mode,
            uid: 0,
            gid: 0,
        }
    }
    /// Directories created implicitly: 0755 0:0.
    pub const DIR: Meta = Meta::root(0o755);
}

/// What a path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory (its children are the paths below it).
    Dir,
    /// A regular file with its content (shared, cheap to clone; large contents stay on disk).
    File(FileData),
    /// A symbolic link and its target, stored verbatim (absolute or relative).
    Symlink(String),
    /// A hard link to another tree path (stored resolved through parent symlinks when possible).
    Hardlink(String),
}

impl Node {
    /// A regular file from a [`FileData`] or anything that converts into in-memory bytes
    /// (`Vec<u8>`, `&[u8]`, `Arc<[u8]>`, `String`).
    pub fn file(data: impl Into<FileData>) -> Self {
        Node::File(data.into())
    }
    /// A symlink to `target`.
    pub fn symlink(target: impl Into<String>) -> Self {
        Node::Symlink(target.into())
    }
    /// A hardlink to the tree path `target`.
    pub fn hardlink(target: impl Into<String>) -> Self {
        Node::Hardlink(target.into())
    }
    /// A short human name of the node kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Dir => "directory",
            Node::File(_) => "file",
            Node::Symlink(_) => "symlink",
            Node::Hardlink(_) => "hardlink",
        }
    }
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self, Node::Dir)
    }
}

/// A node with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What the path holds.
    pub node: Node,
    /// Mode and owners.
    pub meta: Meta,
}

/// What an insertion did at its final path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was there.
    Created,
    /// A non-directory was there and was replaced (the later one wins); here is the old one, so the
    /// caller can report package overlaps.
    Replaced(Entry),
    /// A directory was there; its metadata was updated.
    DirUpdated,
    /// A symlink to a directory was there and was kept (dpkg behaviour); nothing changed.
    KeptSymlink,
}

/// The result of [`Tree::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// The tree path the node landed at, after following symlinked parents
    /// (`bin/ls` with `bin -> usr/bin` gives `usr/bin/ls`).
    pub path: String,
    /// What happened there.
    pub outcome: Outcome,
}

enum Resolved {
    /// The directory the components lead to (empty = root).
    Dir(String),
    /// The first missing directory on the way.
    Missing(String),
}

/// Most entries a [`Tree`] holds by default (each costs memory: a layer of millions of empty
/// files must not take gigabytes); also the most entries `whittle inspect` reads from one layer.
pub const MAX_TREE_ENTRIES: usize = 2_000_000;

/// An in-memory filesystem tree rooted at an implicit directory (0755 0:0 by default).
///
/// Paths are relative and `/`-separated (`usr/bin/ls`); the empty path is the root where noted.
/// Entries are kept sorted by path bytes, so [`Tree::walk`] is deterministic.
#[derive(Debug, Clone)]
pub struct Tree {
    root: Entry,
    entries: BTreeMap<String, Entry>,
    file_bytes: u64,
    hardlinks: usize,
    size_limit: u64,
    entry_limit: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

impl Tree {
    /// An empty tree: just the root directory, 0755 0:0, no size limit.
    pub fn new() -> Self {
        Tree {
            root: Entry {
                node: Node::Dir,
                meta: Meta::DIR,
            },
            entries: BTreeMap::new(),
            file_bytes: 0,
            hardlinks: 0,
            size_limit: u64::MAX,
            entry_limit: MAX_TREE_ENTRIES,
        }
    }

    /// Limit the total size of file contents; an insertion that would exceed it fails with
    /// [`Error::SizeLimit`]. Set it when extracting untrusted packages.
    pub fn with_size_limit(mut self, limit: u64) -> Self {
        self.size_limit = limit;
        self
    }

    /// Limit the number of entries (default [`MAX_TREE_ENTRIES`]); an insertion that would
    /// create one more fails with [`Error::TooManyEntries`].
    pub fn with_entry_limit(mut self, limit: usize) -> Self {
        self.entry_limit = limit;
        self
    }

    /// Number of entries, not counting the root.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree holds nothing but the root.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total bytes of regular file contents (hardlinks not counted twice).
    pub fn total_size(&self) -> u64 {
        self.file_bytes
    }

    /// Metadata of the root directory.
    pub fn root_meta(&self) -> Meta {
        self.root.meta
    }

    /// All entries except the root, sorted by path bytes (parents before children).
    pub fn walk(&self) -> impl Iterator<Item = (&str, &Entry)> + '_ {
        self.entries.iter().map(|(p, e)| (p.as_str(), e))
    }

    /// The entry at `path` (the empty path is the root), following symlinked parent directories
    /// but not a symlink in the final component (like `lstat`). `None` when absent, when the path
    /// is invalid, or when resolution fails (symlink loop, file used as directory).
    pub fn get(&self, path: &str) -> Option<&Entry> {
        let comps = components(path, true).ok()?;
        let Some((name, parents)) = comps.split_last() else {
            return Some(&self.root);
        };
        match self.resolve_dir(parents, path).ok()? {
            Resolved::Dir(d) => self.entries.get(&join(&d, name)),
            Resolved::Missing(_) => None,
        }
    }

    /// The tree path `path` refers to after following symlinked parent directories
    /// (`bin/ls` → `usr/bin/ls`). Missing parents are not an error: the literal rest is kept.
    pub fn real_path(&self, path: &str) -> Result<String> {
        let comps = components(path, true)?;
        let Some((name, parents)) = comps.split_last() else {
            return Ok(String::new());
        };
        Ok(match self.resolve_dir(parents, path)? {
            Resolved::Dir(d) => join(&d, name),
            Resolved::Missing(_) => path.to_string(),
        })
    }

    /// Insert `node` at `path` with `meta` (see the crate docs for the rules: missing parents are
    /// created 0755 0:0, symlinked parents are followed inside the tree, a later file replaces an
    /// earlier one, a directory over a symlink-to-directory keeps the symlink, file over directory
    /// and directory over file are errors).
    pub fn insert(&mut self, path: &str, node: Node, meta: Meta) -> Result<Inserted> {
        let comps = components(path, false)?;
        let Some((name, parents)) = comps.split_last() else {
            return Err(Error::InvalidPath {
                path: path.to_string(),
                reason: "the path is empty",
            });
        };
        let meta = Meta {
            mode: meta.mode & 0o7777,
            ..meta
        };
        let node = match node {
            Node::Symlink(t) => {
                if t.is_empty() || t.contains('\0') {
                    return Err(Error::InvalidPath {
                        path: path.to_string(),
                        reason: "symlink target is empty or contains NUL",
                    });
                }
                Node::Symlink(t)
            }
            Node::Hardlink(t) => Node::Hardlink(self.hardlink_target(path, &t)?),
            other => other,
        };
        let dir = self.ensure_dir(parents, path)?;
        let full = join(&dir, name);
        if let Node::Hardlink(t) = &node
            && *t == full
        {
            return Err(Error::BadHardlink {
                path: path.to_string(),
                target: t.clone(),
                reason: "it links to itself",
            });
        }
        let outcome = match self.entries.get(&full).map(|e| &e.node) {
            None => {
                self.check_limit(&full, 0, &node)?;
                self.check_entries(&full)?;
                self.put(full.clone(), Entry { node, meta });
                Outcome::Created
            }
            Some(Node::Dir) => {
                if !node.is_dir() {
                    return Err(Error::FileOverDir {
                        path: full,
                        kind: node.kind(),
                    });
                }
                if let Some(e) = self.entries.get_mut(&full) {
                    e.meta = meta;
                }
                Outcome::DirUpdated
            }
            Some(existing) => {
                if node.is_dir() {
                    match existing {
                        Node::Symlink(_) => {
                            let all: Vec<&str> = full.split('/').collect();
                            if matches!(self.resolve_dir(&all, path), Ok(Resolved::Dir(_))) {
                                return Ok(Inserted {
                                    path: full,
                                    outcome: Outcome::KeptSymlink,
                                });
                            }
                        }
                        other => {
                            return Err(Error::DirOverFile {
                                path: full,
                                kind: other.kind(),
                            });
                        }
                    }
                }
                let old_len = match existing {
                    Node::File(d) => d.len(),
                    _ => 0,
                };
                self.check_limit(&full, old_len, &node)?;
                let old = self.put(full.clone(), Entry { node, meta });
                match old {
                    Some(old) => {
                        self.fix_hardlinks(std::slice::from_ref(&(full.clone(), old.clone())));
                        Outcome::Replaced(old)
                    }
                    None => Outcome::Created,
                }
            }
        };
        Ok(Inserted {
            path: full,
            outcome,
        })
    }

    /// Remove `path` and, for a directory, everything below it. Symlinked parents are followed; a
    /// symlink in the final component is removed itself, not its target. Returns how many entries
    /// were removed (0 when absent). Hardlinks to a removed file keep its content: the first
    /// remaining one becomes the file.
    pub fn remove(&mut self, path: &str) -> Result<usize> {
        let comps = components(path, false)?;
        let Some((name, parents)) = comps.split_last() else {
            return Ok(0);
        };
        let full = match self.resolve_dir(parents, path)? {
            Resolved::Dir(d) => join(&d, name),
            Resolved::Missing(_) => return Ok(0),
        };
        if !self.entries.contains_key(&full) {
            return Ok(0);
        }
        let mut keys = vec![full.clone()];
        keys.extend(self.descendants(&full).map(str::to_string));
        let removed: Vec<(String, Entry)> = keys
            .into_iter()
            .filter_map(|k| self.take(&k).map(|e| (k, e)))
            .collect();
        self.fix_hardlinks(&removed);
        Ok(removed.len())
    }

    /// Keep only the entries for which `keep(path, entry)` is true. When a directory is dropped,
    /// everything below it is dropped too (without asking). Returns how many entries were removed.
    /// Hardlinks to removed files keep the content, as with [`Tree::remove`].
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Entry) -> bool) -> usize {
        let mut dropped_dirs: HashSet<&str> = HashSet::new();
        let mut drop: Vec<String> = Vec::new();
        for (p, e) in &self.entries {
            let under_dropped = !dropped_dirs.is_empty()
                && p.match_indices('/')
                    .any(|(i, _)| dropped_dirs.contains(&p[..i]));
            if under_dropped || !keep(p, e) {
                if e.node.is_dir() {
                    dropped_dirs.insert(p);
                }
                drop.push(p.clone());
            }
        }
        let removed: Vec<(String, Entry)> = drop
            .into_iter()
            .filter_map(|k| self.take(&k).map(|e| (k, e)))
            .collect();
        self.fix_hardlinks(&removed);
        removed.len()
    }

    /// Set the permission bits of `path` (the empty path is the root), and of everything below it
    /// when `recursive`. The final component is not followed if it is a symlink.
    pub fn chmod(&mut self, path: &str, mode: u32, recursive: bool) -> Result<()> {
        self.modify_meta(path, recursive, |m| m.mode = mode & 0o7777)
    }

    /// Set the owner and group of `path` (the empty path is the root), and of everything below it
    /// when `recursive`. The final component is not followed if it is a symlink.
    pub fn chown(&mut self, path: &str, uid: u32, gid: u32, recursive: bool) -> Result<()> {
        self.modify_meta(path, recursive, |m| {
            m.uid = uid;
            m.gid = gid;
        })
    }

    fn modify_meta(&mut self, path: &str, recursive: bool, f: impl Fn(&mut Meta)) -> Result<()> {
        let comps = components(path, true)?;
        let Some((name, parents)) = comps.split_last() else {
            f(&mut self.root.meta);
            if recursive {
                self.entries.values_mut().for_each(|e| f(&mut e.meta));
            }
            return Ok(());
        };
        let not_found = || Error::NotFound {
            path: path.to_string(),
        };
        let full = match self.resolve_dir(parents, path)? {
            Resolved::Dir(d) => join(&d, name),
            Resolved::Missing(_) => return Err(not_found()),
        };
        let entry = self.entries.get_mut(&full).ok_or_else(not_found)?;
        f(&mut entry.meta);
        if recursive && entry.node.is_dir() {
            let prefix = format!("{full}/");
            for (_, e) in self
                .entries
                .range_mut(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
            {
                f(&mut e.meta);
            }
        }
        Ok(())
    }

    /// The regular file a hardlink at `path` leads to, following chains of hardlinks.
    pub(crate) fn hardlink_file(&self, path: &str, target: &str) -> Result<(&str, &Entry)> {
        let bad = |reason| Error::BadHardlink {
            path: path.to_string(),
            target: target.to_string(),
            reason,
        };
        let mut cur = target;
        for _ in 0..=self.hardlinks {
            let (k, e) = self
                .entries
                .get_key_value(cur)
                .ok_or_else(|| bad("the target does not exist"))?;
            match &e.node {
                Node::File(_) => return Ok((k.as_str(), e)),
                Node::Hardlink(next) => cur = next,
                _ => return Err(bad("the target is not a regular file")),
            }
        }
        Err(bad("the hardlinks form a cycle"))
    }

    fn descendants<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{dir}/");
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.as_str())
    }

    fn check_limit(&self, path: &str, old_len: u64, node: &Node) -> Result<()> {
        if let Node::File(d) = node {
            let would_be = (self.file_bytes - old_len).saturating_add(d.len());
            if would_be > self.size_limit {
                return Err(Error::SizeLimit {
                    path: path.to_string(),
                    would_be,
                    limit: self.size_limit,
                });
            }
        }
        Ok(())
    }

    /// Whether one more entry (`path`) fits under the entry limit.
    fn check_entries(&self, path: &str) -> Result<()> {
        if self.entries.len() >= self.entry_limit {
            return Err(Error::TooManyEntries {
                path: path.to_string(),
                limit: self.entry_limit,
            });
        }
        Ok(())
    }

    /// Insert or replace an entry, keeping the counters right.
    fn put(&mut self, path: String, entry: Entry) -> Option<Entry> {
        self.count(&entry, true);
        let old = self.entries.insert(path, entry);
        if let Some(o) = &old {
            self.count(o, false);
        }
        old
    }

    /// Remove one entry (not its children), keeping the counters right.
    fn take(&mut self, path: &str) -> Option<Entry> {
        let old = self.entries.remove(path);
        if let Some(o) = &old {
            self.count(o, false);
        }
        old
    }

    fn count(&mut self, e: &Entry, add: bool) {
        match &e.node {
            Node::File(d) => {
                let n = d.len();
                self.file_bytes = if add {
                    self.file_bytes.saturating_add(n)
                } else {
                    self.file_bytes.saturating_sub(n)
                };
            }
            Node::Hardlink(_) => {
                if add {
                    self.hardlinks += 1;
                } else {
                    self.hardlinks = self.hardlinks.saturating_sub(1);
                }
            }
            _ => {}
        }
    }

    /// After `removed` left the tree (or were replaced), repair hardlinks that pointed at them:
    /// links to a removed hardlink follow its target; among links to a removed file, the first in
    /// path order becomes the file (with the file's content and metadata) and the rest link to it.
    fn fix_hardlinks(&mut self, removed: &[(String, Entry)]) {
        if self.hardlinks == 0 {
            return;
        }
        let links: HashMap<&str, &str> = removed
            .iter()
            .filter_map(|(p, e)| match &e.node {
                Node::Hardlink(t) => Some((p.as_str(), t.as_str())),
                _ => None,
            })
            .collect();
        let files: HashMap<&str, &Entry> = removed
            .iter()
            .filter(|(_, e)| matches!(e.node, Node::File(_)))
            .map(|(p, e)| (p.as_str(), e))
            .collect();
        if links.is_empty() && files.is_empty() {
            return;
        }
        let final_target = |start: &str| -> String {
            let mut t = start.to_string();
            for _ in 0..=links.len() {
                match links.get(t.as_str()) {
                    Some(n) => t = (*n).to_string(),
                    None => break,
                }
            }
            t
        };
        // Paths (sorted) of hardlinks whose target left the tree, with their new target.
        let mut promoted: HashMap<String, String> = HashMap::new();
        let mut retarget: Vec<(String, String)> = Vec::new();
        for (p, e) in &self.entries {
            let Node::Hardlink(orig) = &e.node else {
                continue;
            };
            let t = if links.contains_key(orig.as_str()) {
                final_target(orig)
            } else {
                orig.clone()
            };
            if files.contains_key(t.as_str()) {
                match promoted.get(&t) {
                    Some(leader) => retarget.push((p.clone(), leader.clone())),
                    None => {
                        promoted.insert(t.clone(), p.clone());
                        retarget.push((p.clone(), t));
                    }
                }
            } else if t != *orig {
                retarget.push((p.clone(), t));
            }
        }
        for (p, t) in retarget {
            let new = match files.get(t.as_str()) {
                // `p` is the first link to the removed file `t`: it becomes the file.
                Some(file) if promoted.get(&t) == Some(&p) => (*file).clone(),
                _ => match self.entries.get(&p) {
                    Some(e) => Entry {
                        node: Node::Hardlink(t),
                        meta: e.meta,
                    },
                    None => continue,
                },
            };
            self.put(p, new);
        }
    }

    fn hardlink_target(&self, path: &str, target: &str) -> Result<String> {
        let comps = components(target, false).map_err(|_| Error::BadHardlink {
            path: path.to_string(),
            target: target.to_string(),
            reason: "the target is not a relative normalized tree path",
        })?;
        let Some((name, parents)) = comps.split_last() else {
            return Ok(target.to_string());
        };
        let resolved = match self.resolve_dir(parents, target)? {
            Resolved::Dir(d) => join(&d, name),
            Resolved::Missing(_) => target.to_string(),
        };
        // Point straight at the file when the target is itself a hardlink.
        Ok(match self.entries.get(&resolved).map(|e| &e.node) {
            Some(Node::Hardlink(t)) => t.clone(),
            _ => resolved,
        })
    }

    /// Resolve the directory `comps` lead to, following every symlink inside the tree
    /// (absolute targets from the root, `..` never above the root).
    fn resolve_dir<'a>(&'a self, comps: &[&'a str], for_path: &str) -> Result<Resolved> {
        let mut stack: Vec<&'a str> = comps.iter().rev().copied().collect();
        let mut cur = String::new();
        let mut hops = 0usize;
        while let Some(c) = stack.pop() {
            match c {
                "" | "." => continue,
                ".." => {
                    let keep = parent(&cur).len();
                    cur.truncate(keep);
                    continue;
                }
                _ => {}
            }
            let cand = join(&cur, c);
            let Some(e) = self.entries.get(&cand) else {
                return Ok(Resolved::Missing(cand));
            };
            match &e.node {
                Node::Dir => cur = cand,
                Node::Symlink(t) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(Error::SymlinkLoop {
                            path: for_path.to_string(),
                        });
                    }
                    if t.starts_with('/') {
                        cur.clear();
                    }
                    stack.extend(t.split('/').rev());
                }
                other => {
                    return Err(Error::NotADirectory {
                        path: for_path.to_string(),
                        component: cand,
                        kind: other.kind(),
                    });
                }
            }
        }
        Ok(Resolved::Dir(cur))
    }

    /// Like `resolve_dir`, creating missing directories (0755 0:0) on the way.
    fn ensure_dir(&mut self, comps: &[&str], for_path: &str) -> Result<String> {
        for _ in 0..MAX_CREATED_DIRS {
            match self.resolve_dir(comps, for_path)? {
                Resolved::Dir(d) => return Ok(d),
                Resolved::Missing(p) => {
                    self.check_entries(&p)?;
                    self.put(
                        p,
                        Entry {
                            node: Node::Dir,
                            meta: Meta::DIR,
                        },
                    );
                }
            }
        }
        Err(Error::InvalidPath {
            path: for_path.to_string(),
            reason: "resolving it would create too many directories",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(s: &str) -> Node {
        Node::file(s.as_bytes().to_vec())
    }

    fn merged_usr() -> Tree {
        let mut t = Tree::new();
        for d in ["usr/bin", "usr/lib", "usr/sbin"] {
            t.insert(d, Node::Dir, Meta::DIR).unwrap();
        }
        t.insert("bin", Node::symlink("usr/bin"), Meta::root(0o777))
            .unwrap();
        t.insert("lib", Node::symlink("/usr/lib"), Meta::root(0o777))
            .unwrap();
        t.insert(
            "sbin",
            Node::symlink("./usr/../usr/sbin"),
            Meta::root(0o777),
        )
        .unwrap();
        t
    }

    #[test]
    fn missing_parents_are_created_0755_root() {
        let mut t = Tree::new();
        let r = t
            .insert("a/b/c", file("x"), Meta::new(0o600, 5, 6))
            .unwrap();
        assert_eq!(r.path, "a/b/c");
        assert_eq!(r.outcome, Outcome::Created);
        let kinds: Vec<_> = t.walk().map(|(p, e)| (p, e.node.kind(), e.meta)).collect();
        assert_eq!(
            kinds,
            [
                ("a", "directory", Meta::DIR),
                ("a/b", "directory", Meta::DIR),
                ("a/b/c", "file", Meta::new(0o600, 5, 6)),
            ]
        );
    }

    #[test]
    fn merged_usr_parents_are_followed() {
        let mut t = merged_usr();
        let r = t.insert("bin/ls", file("ls"), Meta::root(0o755)).unwrap();
        assert_eq!(r.path, "usr/bin/ls");
        let r = t
            .insert(
                "lib/x86_64-linux-gnu/libc.so.6",
                file("c"),
                Meta::root(0o644),
            )
            .unwrap();
        assert_eq!(r.path, "usr/lib/x86_64-linux-gnu/libc.so.6");
        let r = t.insert("sbin/init", file("i"), Meta::root(0o755)).unwrap();
        assert_eq!(r.path, "usr/sbin/init");
        // A directory over a symlink-to-directory keeps the symlink.
        let r = t.insert("bin", Node::Dir, Meta::root(0o700)).unwrap();
        assert_eq!(r.outcome, Outcome::KeptSymlink);
        assert_eq!(t.get("bin").unwrap().node, Node::symlink("usr/bin"));
        assert_eq!(t.get("usr/bin").unwrap().meta, Meta::DIR);
        // Lookups follow parents but not the final symlink.
        assert_eq!(t.get("bin/ls").unwrap().node, file("ls"));
        assert_eq!(t.real_path("bin/ls").unwrap(), "usr/bin/ls");
        assert!(t.get("bin/nope").is_none());
        assert_eq!(t.get("").unwrap().node, Node::Dir);
    }

    #[test]
    fn symlinks_never_escape_the_tree() {
        let mut t = Tree::new();
        t.insert(
            "a/evil",
            Node::symlink("../../../../etc"),
            Meta::root(0o777),
        )
        .unwrap();
        t.insert("abs", Node::symlink("/../../var"), Meta::root(0o777))
            .unwrap();
        assert_eq!(
            t.insert("a/evil/passwd", file("p"), Meta::root(0o644))
                .unwrap()
                .path,
            "etc/passwd"
        );
        assert_eq!(
            t.insert("abs/log", Node::Dir, Meta::root(0o755))
                .unwrap()
                .path,
            "var/log"
        );
    }

    #[test]
    fn symlink_loops_are_reported() {
        let mut t = Tree::new();
        t.insert("a", Node::symlink("b"), Meta::root(0o777))
            .unwrap();
        t.insert("b", Node::symlink("a"), Meta::root(0o777))
            .unwrap();
        t.insert("self", Node::symlink("self/x"), Meta::root(0o777))
            .unwrap();
        assert!(matches!(
            t.insert("a/x", file(""), Meta::root(0o644)),
            Err(Error::SymlinkLoop { path }) if path == "a/x"
        ));
        assert!(matches!(
            t.insert("self/y", file(""), Meta::root(0o644)),
            Err(Error::SymlinkLoop { .. })
        ));
        assert!(t.get("a/x").is_none());
        // A dir over a looping symlink replaces it.
        let r = t.insert("a", Node::Dir, Meta::DIR).unwrap();
        assert!(matches!(r.outcome, Outcome::Replaced(_)));
    }

    #[test]
    fn bad_paths_are_rejected() {
        let mut t = Tree::new();
        for p in ["", "/etc/passwd", "a/../b", "..", "a//b", "a/", "./a"] {
            assert!(
                matches!(
                    t.insert(p, file(""), Meta::root(0o644)),
                    Err(Error::InvalidPath { .. })
                ),
                "{p:?}"
            );
        }
        assert!(t.is_empty());
    }

    #[test]
    fn later_file_wins_and_reports_the_old_one() {
        let mut t = Tree::new();
        t.insert("etc/x", file("one"), Meta::root(0o644)).unwrap();
        let r = t.insert("etc/x", file("three"), Meta::root(0o600)).unwrap();
        assert_eq!(
            r.outcome,
            Outcome::Replaced(Entry {
                node: file("one"),
                meta: Meta::root(0o644)
            })
        );
        assert_eq!(t.total_size(), 5);
        let r = t
            .insert("etc/x", Node::symlink("y"), Meta::root(0o777))
            .unwrap();
        assert!(matches!(r.outcome, Outcome::Replaced(_)));
        assert_eq!(t.total_size(), 0);
    }

    #[test]
    fn file_over_dir_and_dir_over_file_fail() {
        let mut t = Tree::new();
        t.insert("d/f", file("x"), Meta::root(0o644)).unwrap();
        assert!(matches!(
            t.insert("d", file("y"), Meta::root(0o644)),
            Err(Error::FileOverDir { path, kind: "file" }) if path == "d"
        ));
        assert!(matches!(
            t.insert("d/f", Node::Dir, Meta::DIR),
            Err(Error::DirOverFile { path, kind: "file" }) if path == "d/f"
        ));
        assert!(matches!(
            t.insert("d/f/g", file("z"), Meta::root(0o644)),
            Err(Error::NotADirectory { component, .. }) if component == "d/f"
        ));
        let r = t.insert("d", Node::Dir, Meta::new(0o750, 1, 2)).unwrap();
        assert_eq!(r.outcome, Outcome::DirUpdated);
        assert_eq!(t.get("d").unwrap().meta, Meta::new(0o750, 1, 2));
    }

    #[test]
    fn mode_keeps_special_bits_and_drops_type_bits() {
        let mut t = Tree::new();
        t.insert("su", file(""), Meta::root(0o104755)).unwrap();
        t.insert("tmp", Node::Dir, Meta::root(0o41777)).unwrap();
        assert_eq!(t.get("su").unwrap().meta.mode, 0o4755);
        assert_eq!(t.get("tmp").unwrap().meta.mode, 0o1777);
    }

    #[test]
    fn remove_chmod_chown_retain() {
        let mut t = merged_usr();
        t.insert("usr/share/doc/x/copyright", file("c"), Meta::root(0o644))
            .unwrap();
        t.insert("usr/share/man/man1/ls.1.gz", file("m"), Meta::root(0o644))
            .unwrap();
        t.insert("usr/share/zoneinfo/UTC", file("utc"), Meta::root(0o644))
            .unwrap();
        t.insert("bin/ls", file("ls"), Meta::root(0o755)).unwrap();
        assert_eq!(t.total_size(), 7);

        let removed = t.retain(|p, _| p != "usr/share/doc" && p != "usr/share/man");
        assert_eq!(removed, 6);
        assert!(t.get("usr/share/doc").is_none());
        assert!(t.get("usr/share/man/man1").is_none());
        assert_eq!(t.total_size(), 5);

        t.chown("usr", 1000, 1000, true).unwrap();
        assert_eq!(t.get("usr/share/zoneinfo/UTC").unwrap().meta.uid, 1000);
        assert_eq!(t.get("bin").unwrap().meta.uid, 0);
        t.chmod("bin/ls", 0o700, false).unwrap();
        assert_eq!(t.get("usr/bin/ls").unwrap().meta.mode, 0o700);
        t.chmod("", 0o750, false).unwrap();
        assert_eq!(t.root_meta().mode, 0o750);
        assert!(matches!(
            t.chmod("nope", 0o700, false),
            Err(Error::NotFound { .. })
        ));

        // `remove` through a symlinked parent removes the real entry; a final symlink itself.
        assert_eq!(t.remove("bin/ls").unwrap(), 1);
        assert!(t.get("usr/bin/ls").is_none());
        assert_eq!(t.remove("bin").unwrap(), 1);
        assert!(t.get("usr/bin").is_some());
        assert_eq!(t.remove("usr/share").unwrap(), 3);
        assert_eq!(t.remove("usr/share").unwrap(), 0);
        assert_eq!(t.total_size(), 0);
    }

    #[test]
    fn hardlinks_survive_removal_of_their_file() {
        let mut t = Tree::new();
        t.insert("z/file", file("data"), Meta::new(0o4755, 0, 0))
            .unwrap();
        t.insert("b/link1", Node::hardlink("z/file"), Meta::root(0o644))
            .unwrap();
        t.insert("c/link2", Node::hardlink("b/link1"), Meta::root(0o644))
            .unwrap();
        // Chains are flattened at insert time.
        assert_eq!(t.get("c/link2").unwrap().node, Node::hardlink("z/file"));
        assert_eq!(t.total_size(), 4);
        t.remove("z").unwrap();
        assert_eq!(
            t.get("b/link1").unwrap(),
            &Entry {
                node: file("data"),
                meta: Meta::new(0o4755, 0, 0)
            }
        );
        assert_eq!(t.get("c/link2").unwrap().node, Node::hardlink("b/link1"));
        assert_eq!(t.total_size(), 4);
        assert!(matches!(
            t.insert("q", Node::hardlink("q"), Meta::root(0o644)),
            Err(Error::BadHardlink { .. })
        ));
    }

    #[test]
    fn size_limit_is_enforced() {
        let mut t = Tree::new().with_size_limit(10);
        t.insert("a", file("12345"), Meta::root(0o644)).unwrap();
        t.insert("a", file("1234567890"), Meta::root(0o644))
            .unwrap();
        let err = t.insert("b", file("x"), Meta::root(0o644)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SizeLimit {
                    would_be: 11,
                    limit: 10,
                    ..
                }
            ),
            "{err}"
        );
        // the message says what a user can do, not which function to call
        assert!(!err.to_string().contains("::"), "{err}");
        assert_eq!(t.total_size(), 10);
    }

    /// Entries are capped (a layer of millions of empty files must not take gigabytes): new
    /// entries and the parent directories a path implies count, replacing one does not.
    #[test]
    fn entry_limit_is_enforced() {
        assert_eq!(Tree::new().entry_limit, MAX_TREE_ENTRIES);
        let mut t = Tree::new().with_entry_limit(3);
        t.insert("a/b", file("1"), Meta::root(0o644)).unwrap();
        t.insert("a/b", file("2"), Meta::root(0o644)).unwrap();
        t.insert("a/c", file("3"), Meta::root(0o644)).unwrap();
        let err = t.insert("a/d", file("4"), Meta::root(0o644)).unwrap_err();
        assert!(
            matches!(&err, Error::TooManyEntries { path, limit: 3 } if path == "a/d"),
            "{err}"
        );
        assert!(err.to_string().contains("contents.exclude"), "{err}");
        // an implied parent directory is refused too, and nothing is left half-made
        let err = t.insert("x/y", file("5"), Meta::root(0o644)).unwrap_err();
        assert!(
            matches!(&err, Error::TooManyEntries { path, .. } if path == "x"),
            "{err}"
        );
        assert_eq!(t.len(), 3);
        t.remove("a/c").unwrap();
        t.insert("a/d", file("4"), Meta::root(0o644)).unwrap();
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Insert(String, u8, String),
            Remove(String),
            RetainNot(String),
        }

        fn path() -> impl Strategy<Value = String> {
            proptest::collection::vec(prop_oneof!["a", "b", "c", "..", "/", ""], 1..5)
                .prop_map(|v| v.join("/"))
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (path(), 0u8..4, path()).prop_map(|(p, k, t)| Op::Insert(p, k, t)),
                1 => path().prop_map(Op::Remove),
                1 => path().prop_map(Op::RetainNot),
            ]
        }

        proptest! {
            #[test]
            fn tree_invariants_hold(ops in proptest::collection::vec(op(), 0..40)) {
                let mut t = Tree::new();
                for op in ops {
                    match op {
                        Op::Insert(p, k, target) => {
                            let node = match k {
                                0 => Node::Dir,
                                1 => Node::file(p.as_bytes().to_vec()),
                                2 => Node::symlink(target),
                                _ => Node::hardlink(target),
                            };
                            let _ = t.insert(&p, node, Meta::root(0o755));
                        }
                        Op::Remove(p) => { let _ = t.remove(&p); }
                        Op::RetainNot(p) => { t.retain(|q, _| q != p); }
                    }
                    // Every entry's parent is a real directory; nothing has `..` or a leading `/`.
                    for (p, _) in t.walk() {
                        prop_assert!(components(p, false).is_ok(), "bad path {p:?}");
                        let par = parent(p);
                        prop_assert!(par.is_empty() || t.entries.get(par).is_some_and(|e| e.node.is_dir()),
                            "parent of {p:?} is not a directory");
                    }
                    let size: u64 = t.walk().map(|(_, e)| match &e.node {
                        Node::File(d) => d.len(), _ => 0 }).sum();
                    prop_assert_eq!(size, t.total_size());
                    let links = t.walk().filter(|(_, e)| matches!(e.node, Node::Hardlink(_))).count();
                    prop_assert_eq!(links, t.hardlinks);
                }
            }
        }
    }
}
