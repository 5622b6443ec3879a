//! Waste as dive 0.13 counts it, so that `whittle inspect` and `dive` print the same figures.
//!
//! dive builds one tree per layer from its tar (every entry a node, missing parents added as
//! empty nodes, `DIR/.wh.NAME` kept as a node named `.wh.NAME`, `.wh..wh..opq` markers dropped)
//! and visits the leaves of each layer's tree, children before parents, names in byte order:
//! - every leaf path gets one *reference* per layer it is a leaf of, counting its size: the
//!   entry's tar size, or for a whiteout the bytes of everything below the deleted path when
//!   the layers beneath hold it as a directory (a deleted file counts 0);
//! - a whiteout whose target the layers beneath do not hold ends the visit of that layer (dive
//!   reports the error and moves on to the next layer);
//! - the *efficiency* is the sum over paths of their smallest reference over the sum of all
//!   references (1 when there are none);
//! - the *wasted bytes* are the sum of every reference of each path referenced more than once,
//!   the surviving copy included, and that sum per path is the per-path waste;
//! - the *user wasted percent* is the wasted bytes over the tar sizes of all layers but the
//!   first (dive divides even by zero: NaN or infinity).
//!
//! "The layers beneath" is dive's stacked tree: the first layer's tree with every layer up to
//! the one before applied in turn (whiteouts delete subtrees, entries replace a node's size and
//! kind but keep its children, and opaque markers do nothing); for the first layer it is that
//! layer's own tree.
//!
//! Entries other than regular files count 0 bytes here (their tar size is 0 as every common
//! writer stores them; dive would count a non-zero one), and paths whittle's walk refuses (`..`)
//! or drops (reserved `.wh..wh.` names other than the opaque marker) are not counted.
//!
//! Memory: one node per tar entry of the layer being counted plus the stacked tree and one
//! record per distinct leaf path, all bounded by [`crate::Limits::max_entries`] per layer.

use std::collections::{BTreeMap, HashMap};

use crate::walk::{Kind, LayerScan, OPAQUE_WHITEOUT, WHITEOUT_PREFIX, Whiteout};

/// What a node carries: dive's `FileInfo` size and directory flag (a parent added only because a
/// child needed it has neither).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Info {
    size: u64,
    is_dir: bool,
}

#[derive(Debug, Clone, Default)]
struct Node {
    info: Info,
    children: BTreeMap<String, usize>,
}

/// A path tree in dive's shape; node 0 is the root.
#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

const ROOT: usize = 0;

/// dive never adds a node whose name starts with this (opaque markers, aufs metadata).
const RESERVED_PREFIX: &str = ".wh..wh.";

impl Tree {
    fn new() -> Self {
        Tree {
            nodes: vec![Node::default()],
        }
    }

    /// dive's `AddPath`: walk `comps`, adding missing nodes with no payload, and give the last
    /// node `info` (an existing node keeps its children). Stops, adding nothing more, at a
    /// missing component with a reserved `.wh..wh.` name.
    fn add(&mut self, comps: &[&str], info: Option<Info>) {
        let mut cur = ROOT;
        for (i, name) in comps.iter().enumerate() {
            let next = match self.nodes.get(cur).and_then(|n| n.children.get(*name)) {
                Some(&n) => n,
                None => {
                    if name.starts_with(RESERVED_PREFIX) {
                        return;
                    }
                    let id = self.nodes.len();
                    self.nodes.push(Node::default());
                    if let Some(n) = self.nodes.get_mut(cur) {
                        n.children.insert((*name).to_string(), id);
                    }
                    id
                }
            };
            if i + 1 == comps.len()
                && let (Some(info), Some(n)) = (info, self.nodes.get_mut(next))
            {
                n.info = info;
            }
            cur = next;
        }
    }

    fn get(&self, comps: &[&str]) -> Option<usize> {
        comps.iter().try_fold(ROOT, |cur, name| {
            self.nodes.get(cur)?.children.get(*name).copied()
        })
    }

    /// Detach the node at `comps` (and so its subtree); nothing when it is missing.
    fn remove(&mut self, comps: &[&str]) {
        let Some((last, parent)) = comps.split_last() else {
            return;
        };
        if let Some(p) = self.get(parent).and_then(|p| self.nodes.get_mut(p)) {
            p.children.remove(*last);
        }
    }

    /// The sizes of `id` and everything below it, memoised in `memo` (the tree must not change
    /// while `memo` is in use).
    fn subtree_size(&self, id: usize, memo: &mut HashMap<usize, u64>) -> u64 {
        if let Some(&s) = memo.get(&id) {
            return s;
        }
        // iterative post-order: children are summed before their parent
        let mut stack = vec![(id, false)];
        while let Some((n, expanded)) = stack.pop() {
            let Some(node) = self.nodes.get(n) else {
                continue;
            };
            if expanded {
                let sum = node.children.values().fold(node.info.size, |acc, c| {
                    acc.saturating_add(memo.get(c).copied().unwrap_or(0))
                });
                memo.insert(n, sum);
            } else if !memo.contains_key(&n) {
                stack.push((n, true));
                stack.extend(node.children.values().map(|&c| (c, false)));
            }
        }
        memo.get(&id).copied().unwrap_or(0)
    }

    /// Visit every node but the root, children first, siblings in byte order of their names,
    /// with its path components; stops when `visit` returns `false`.
    fn post_order(&self, mut visit: impl FnMut(usize, &[&str]) -> bool) {
        let mut path: Vec<&str> = Vec::new();
        let mut stack: Vec<(usize, std::collections::btree_map::Iter<'_, String, usize>)> =
            match self.nodes.get(ROOT) {
                Some(r) => vec![(ROOT, r.children.iter())],
                None => return,
            };
        while let Some((id, iter)) = stack.last_mut() {
            if let Some((name, &child)) = iter.next() {
                if let Some(node) = self.nodes.get(child) {
                    path.push(name);
                    stack.push((child, node.children.iter()));
                }
                continue;
            }
            let id = *id;
            stack.pop();
            if id != ROOT {
                if !visit(id, &path) {
                    return;
                }
                path.pop();
            }
        }
    }

    /// dive's tree of one layer, built from what the walk kept of it.
    fn from_scan(scan: &LayerScan) -> Self {
        let mut t = Tree::new();
        for e in &scan.entries {
            let comps: Vec<&str> = e.path.split('/').collect();
            let info = Info {
                size: e.size,
                is_dir: e.kind == Kind::Dir,
            };
            t.add(&comps, Some(info));
        }
        for w in &scan.whiteouts {
            match w {
                Whiteout::Path(victim) => {
                    let (parent, name) = victim.rsplit_once('/').unwrap_or(("", victim));
                    let marker = format!("{WHITEOUT_PREFIX}{name}");
                    let mut comps: Vec<&str> =
                        parent.split('/').filter(|c| !c.is_empty()).collect();
                    comps.push(&marker);
                    t.add(&comps, Some(Info::default()));
                }
                Whiteout::Opaque(dir) => {
                    // dive adds the marker's parents, then drops the marker
                    let mut comps: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
                    comps.push(OPAQUE_WHITEOUT);
                    t.add(&comps, None);
                }
            }
        }
        t
    }
}

/// A path's references so far.
#[derive(Debug, Clone, Copy)]
struct Refs {
    count: u64,
    cumulative: u64,
    /// The smallest reference; `None` once dive recorded the path without a size (a whiteout
    /// of a missing path), which it counts as -1 byte.
    min: Option<u64>,
}

/// dive's figures for an image, fed one layer at a time with [`DiveTally::add_layer`].
#[derive(Debug, Clone)]
pub struct DiveTally {
    stacked: Option<Tree>,
    refs: HashMap<String, Refs>,
    layer_bytes: Vec<u64>,
}

impl Default for DiveTally {
    fn default() -> Self {
        Self::new()
    }
}

/// A path with more than one reference, and what dive counts as its waste.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathWaste {
    /// Tree path (no leading `/`).
    pub path: String,
    /// Layers that reference it (as a leaf or a whiteout).
    pub references: u64,
    /// The sum of every reference, the surviving copy included.
    pub bytes: u64,
}

/// The figures `dive --ci` prints and checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiveFigures {
    /// dive's efficiency score (0–1).
    pub efficiency: f64,
    /// dive's wasted bytes.
    pub wasted_bytes: u64,
    /// The tar sizes of all layers.
    pub size_bytes: u64,
    /// The tar sizes of all layers but the first.
    pub user_size_bytes: u64,
    /// `wasted_bytes / user_size_bytes`, as dive divides (NaN or infinite without user bytes;
    /// `null` in JSON).
    pub user_wasted_ratio: f64,
    /// Every path referenced more than once, most bytes first, then by path.
    pub paths: Vec<PathWaste>,
}

impl DiveTally {
    /// Nothing counted yet.
    pub fn new() -> Self {
        DiveTally {
            stacked: None,
            refs: HashMap::new(),
            layer_bytes: Vec::new(),
        }
    }

    /// Count the next layer (bottom first).
    pub fn add_layer(&mut self, scan: &LayerScan) {
        self.layer_bytes.push(scan.tar_bytes);
        let tree = Tree::from_scan(scan);
        {
            let beneath = self.stacked.as_ref().unwrap_or(&tree);
            let mut memo = HashMap::new();
            let refs = &mut self.refs;
            tree.post_order(|id, comps| {
                let Some(node) = tree.nodes.get(id) else {
                    return true;
                };
                if !node.children.is_empty() {
                    return true; // only leaves are counted
                }
                let Some((last, parent)) = comps.split_last() else {
                    return true;
                };
                let size = match last.strip_prefix(WHITEOUT_PREFIX) {
                    Some(target) => {
                        let mut victim = parent.to_vec();
                        victim.push(target);
                        let key = victim.join("/");
                        match beneath.get(&victim) {
                            None => {
                                refs.entry(key).or_insert(Refs {
                                    count: 0,
                                    cumulative: 0,
                                    min: None,
                                });
                                return false; // dive abandons the rest of this layer
                            }
                            Some(n) => {
                                let size = match beneath.nodes.get(n) {
                                    Some(v) if v.info.is_dir => beneath.subtree_size(n, &mut memo),
                                    _ => 0,
                                };
                                count(refs, key, size);
                                return true;
                            }
                        }
                    }
                    None => node.info.size,
                };
                count(refs, comps.join("/"), size);
                true
            });
        }
        let stacked = self.stacked.get_or_insert_with(|| tree.clone());
        tree.post_order(|id, comps| {
            let Some((last, parent)) = comps.split_last() else {
                return true;
            };
            match last.strip_prefix(WHITEOUT_PREFIX) {
                Some(target) => {
                    let mut victim = parent.to_vec();
                    victim.push(target);
                    stacked.remove(&victim);
                }
                None => stacked.add(comps, tree.nodes.get(id).map(|n| n.info)),
            }
            true
        });
    }

    /// The figures of the layers counted so far.
    pub fn figures(&self) -> DiveFigures {
        let mut minimum: i128 = 0;
        let mut discovered: i128 = 0;
        let mut wasted: u64 = 0;
        let mut paths = Vec::new();
        for (p, r) in &self.refs {
            minimum += r.min.map_or(-1, i128::from);
            discovered += i128::from(r.cumulative);
            if r.count > 1 {
                wasted = wasted.saturating_add(r.cumulative);
                paths.push(PathWaste {
                    path: p.clone(),
                    references: r.count,
                    bytes: r.cumulative,
                });
            }
        }
        paths.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
        let size_bytes = self
            .layer_bytes
            .iter()
            .fold(0u64, |a, b| a.saturating_add(*b));
        let user_size_bytes = self
            .layer_bytes
            .iter()
            .skip(1)
            .fold(0u64, |a, b| a.saturating_add(*b));
        DiveFigures {
            efficiency: if discovered == 0 {
                1.0
            } else {
                minimum as f64 / discovered as f64
            },
            wasted_bytes: wasted,
            size_bytes,
            user_size_bytes,
            user_wasted_ratio: wasted as f64 / user_size_bytes as f64,
            paths,
        }
    }
}

fn count(refs: &mut HashMap<String, Refs>, key: String, size: u64) {
    let r = refs.entry(key).or_insert(Refs {
        count: 0,
        cumulative: 0,
        min: None,
    });
    r.count += 1;
    r.cumulative = r.cumulative.saturating_add(size);
    r.min = Some(r.min.map_or(size, |m| m.min(size)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::RawEntry;

    fn entry(path: &str, kind: Kind, size: u64) -> RawEntry {
        RawEntry::for_test(path, kind, size)
    }

    fn layer(entries: Vec<RawEntry>, whiteouts: Vec<Whiteout>) -> LayerScan {
        let tar_bytes = entries.iter().map(|e| e.size).sum();
        LayerScan {
            entries,
            whiteouts,
            tar_bytes,
            ..LayerScan::default()
        }
    }

    fn waste(f: &DiveFigures) -> Vec<(&str, u64, u64)> {
        f.paths
            .iter()
            .map(|p| (p.path.as_str(), p.references, p.bytes))
            .collect()
    }

    #[test]
    fn every_copy_of_a_path_in_several_layers_is_waste() {
        let mut t = DiveTally::new();
        t.add_layer(&layer(
            vec![entry("etc", Kind::Dir, 0), entry("etc/big", Kind::File, 30)],
            vec![],
        ));
        t.add_layer(&layer(vec![entry("etc/big", Kind::File, 10)], vec![]));
        let f = t.figures();
        assert_eq!(waste(&f), [("etc/big", 2, 40)]);
        assert_eq!(f.wasted_bytes, 40);
        // smallest copy over all copies
        assert_eq!(f.efficiency, 10.0 / 40.0);
        assert_eq!((f.size_bytes, f.user_size_bytes), (40, 10));
        assert_eq!(f.user_wasted_ratio, 4.0);
    }

    #[test]
    fn a_deleted_directory_counts_what_was_below_it_a_deleted_file_nothing() {
        let mut t = DiveTally::new();
        t.add_layer(&layer(
            vec![
                entry("d", Kind::Dir, 0),
                entry("d/a", Kind::File, 7),
                entry("d/s", Kind::Dir, 0),
                entry("d/s/b", Kind::File, 5),
                entry("f", Kind::File, 3),
            ],
            vec![],
        ));
        t.add_layer(&layer(
            vec![],
            vec![Whiteout::Path("d".into()), Whiteout::Path("f".into())],
        ));
        let f = t.figures();
        // d is a leaf only in the second layer: one reference of 12 bytes; f: 3 then 0
        assert_eq!(waste(&f), [("f", 2, 3)]);
        assert_eq!(f.efficiency, (7.0 + 5.0 + 12.0) / (7.0 + 5.0 + 12.0 + 3.0));
    }

    #[test]
    fn same_layer_duplicates_are_one_reference_and_opaque_markers_nothing() {
        let mut t = DiveTally::new();
        t.add_layer(&layer(
            vec![entry("x", Kind::File, 5), entry("x", Kind::File, 7)],
            vec![],
        ));
        t.add_layer(&layer(
            vec![entry("o/n", Kind::File, 1)],
            vec![Whiteout::Opaque("o".into())],
        ));
        let f = t.figures();
        assert!(f.paths.is_empty());
        assert_eq!(f.efficiency, 1.0);
        assert_eq!(f.size_bytes, 13);
    }

    #[test]
    fn a_whiteout_of_a_missing_path_stops_the_layer_and_counts_minus_one() {
        let mut t = DiveTally::new();
        t.add_layer(&layer(vec![entry("z", Kind::File, 4)], vec![]));
        // visited in name order: `a/.wh.gone` first, so `z` of this layer is never counted
        t.add_layer(&layer(
            vec![entry("a", Kind::Dir, 0), entry("z", Kind::File, 4)],
            vec![Whiteout::Path("a/gone".into())],
        ));
        let f = t.figures();
        assert!(f.paths.is_empty());
        assert_eq!(f.efficiency, (4.0 - 1.0) / 4.0);
    }

    #[test]
    fn an_implied_directory_is_not_a_directory_to_delete() {
        let mut t = DiveTally::new();
        // n/m exists only as the parent of n/m/f: dive gives it no directory flag
        t.add_layer(&layer(vec![entry("n/m/f", Kind::File, 9)], vec![]));
        t.add_layer(&layer(vec![], vec![Whiteout::Path("n/m".into())]));
        t.add_layer(&layer(vec![entry("n/m", Kind::File, 1)], vec![]));
        // the deletion counts 0 (not the 9 bytes below): n/m wastes its one later byte
        assert_eq!(waste(&t.figures()), [("n/m", 2, 1)]);
    }

    #[test]
    fn no_layers_is_fully_efficient_and_divides_like_dive() {
        let f = DiveTally::new().figures();
        assert_eq!((f.efficiency, f.wasted_bytes), (1.0, 0));
        assert!(f.user_wasted_ratio.is_nan());
    }
}
