//! `whittle inspect`'s report: config, history aligned with layers, per-layer diffs, the largest
//! files, size by package, efficiency and waste as dive counts them, and the bytes the final
//! tree hides.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Analysis;
use crate::walk::Kind;

/// The image's execution config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigView {
    /// `architecture/os[/variant]`.
    pub platform: String,
    /// Creation time.
    pub created: Option<String>,
    /// Entrypoint argv.
    pub entrypoint: Vec<String>,
    /// Default arguments.
    pub cmd: Vec<String>,
    /// Environment, `NAME=value`.
    pub env: Vec<String>,
    /// User (`None`: root).
    pub user: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Exposed ports.
    pub exposed_ports: Vec<String>,
    /// Volumes.
    pub volumes: Vec<String>,
}

/// One history entry, with the layer it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryView {
    /// The layer it made (`None` for `empty_layer` entries or entries past the last layer).
    pub layer: Option<usize>,
    /// Creation time.
    pub created: Option<String>,
    /// The command that made it.
    pub created_by: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Whether the entry made no layer.
    pub empty_layer: bool,
}

/// One layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerView {
    /// Index (0 = bottom).
    pub index: usize,
    /// Blob digest, when known.
    pub digest: Option<String>,
    /// Uncompressed tar digest.
    pub diff_id: Option<String>,
    /// Stored (compressed) size.
    pub blob_size: u64,
    /// Sum of its regular file sizes.
    pub file_bytes: u64,
    /// Tar entries.
    pub entries: usize,
    /// The history command that made it.
    pub created_by: Option<String>,
    /// Paths added.
    pub added: Vec<String>,
    /// Paths changed.
    pub changed: Vec<String>,
    /// Paths removed.
    pub removed: Vec<String>,
    /// Bytes of lower files this layer hid (deleted or overwritten).
    pub hidden_bytes: u64,
}

/// A file of the final tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileView {
    /// Absolute path.
    pub path: String,
    /// Size.
    pub size: u64,
    /// Layer that holds the visible copy.
    pub layer: usize,
}

/// A path dive counts as wasted: referenced by more than one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WastedView {
    /// Absolute path.
    pub path: String,
    /// Layers that reference it (dive's count).
    pub references: u64,
    /// Every reference's bytes, the surviving copy included.
    pub bytes: u64,
}

/// Efficiency and waste as dive 0.13 counts them, and what squashing the layers would save.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Efficiency {
    /// dive's efficiency: over all paths, the smallest copy over all copies (1.0 without any).
    pub score: f64,
    /// dive's wasted bytes: every copy of each path more than one layer references.
    pub wasted_bytes: u64,
    /// dive's "user wasted percent" as a ratio: `wasted_bytes / user_size_bytes` (`null` when
    /// the layers above the first add no bytes).
    pub user_wasted_ratio: f64,
    /// The sizes the layers' tar headers claim (dive's image size).
    pub size_bytes: u64,
    /// The same, without the first layer.
    pub user_size_bytes: u64,
    /// File bytes over all layers.
    pub total_bytes: u64,
    /// File bytes of the final tree.
    pub final_bytes: u64,
    /// File bytes the layers store but the final tree hides (`total_bytes - final_bytes`): what
    /// squashing the layers into one would save.
    pub hidden_bytes: u64,
    /// The paths wasting most, as dive lists them.
    pub top_wasted: Vec<WastedView>,
}

/// Size by package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackagesView {
    /// Number of packages.
    pub count: usize,
    /// Bytes of files some package owns (0 without file lists).
    pub owned_bytes: u64,
    /// Packages, largest first (real size, else declared size).
    pub packages: Vec<crate::Package>,
}

/// Counts of the final tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Regular files.
    pub files: usize,
    /// Directories.
    pub dirs: usize,
    /// Symlinks.
    pub symlinks: usize,
    /// Hard links.
    pub hardlinks: usize,
    /// Devices and FIFOs.
    pub other: usize,
    /// Bytes of regular files.
    pub bytes: u64,
}

/// `whittle inspect`'s report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectReport {
    /// The image reference.
    pub image: String,
    /// Manifest digest.
    pub manifest_digest: String,
    /// Execution config.
    pub config: ConfigView,
    /// History, oldest first.
    pub history: Vec<HistoryView>,
    /// Layers, bottom first.
    pub layers: Vec<LayerView>,
    /// The final tree's counts.
    pub totals: Totals,
    /// The largest files of the final tree.
    pub largest: Vec<FileView>,
    /// Size by package, when a package database is present.
    pub packages: Option<PackagesView>,
    /// Efficiency and waste.
    pub efficiency: Efficiency,
}

/// History entries each paired with the layer they made (empty-layer aware). The result has one
/// `created_by` per layer index.
pub fn layer_commands(a: &Analysis) -> (Vec<HistoryView>, Vec<Option<String>>) {
    let mut per_layer = vec![None; a.layers.len()];
    let mut next = 0usize;
    let history = a
        .config
        .history
        .iter()
        .map(|h| {
            let layer = if h.empty_layer {
                None
            } else {
                let l = next;
                next += 1;
                (l < a.layers.len()).then_some(l)
            };
            if let Some(l) = layer
                && let Some(slot) = per_layer.get_mut(l)
            {
                *slot = h.created_by.clone();
            }
            HistoryView {
                layer,
                created: h.created.clone(),
                created_by: h.created_by.clone(),
                comment: h.comment.clone(),
                empty_layer: h.empty_layer,
            }
        })
        .collect();
    (history, per_layer)
}

/// Build the report; `top` bounds the largest-files and wasted-paths lists.
pub fn inspect_report(a: &Analysis, top: usize) -> InspectReport {
    let c = &a.config;
    let cc = &c.config;
    let platform = match &c.variant {
        Some(v) => format!("{}/{}/{v}", c.os, c.architecture),
        None => format!("{}/{}", c.os, c.architecture),
    };
    let (history, commands) = layer_commands(a);
    let layers = a
        .diffs
        .iter()
        .map(|d| {
            let l = a.layers.get(d.layer);
            LayerView {
                index: d.layer,
                digest: l.and_then(|l| l.digest.clone()),
                diff_id: l.and_then(|l| l.diff_id.clone()),
                blob_size: l.map_or(0, |l| l.size),
                file_bytes: d.file_bytes,
                entries: d.tar_entries,
                created_by: commands.get(d.layer).cloned().flatten(),
                added: d.added.iter().map(|p| format!("/{p}")).collect(),
                changed: d.changed.iter().map(|p| format!("/{p}")).collect(),
                removed: d.removed.iter().map(|p| format!("/{p}")).collect(),
                hidden_bytes: d.hidden.iter().map(|h| h.size).sum(),
            }
        })
        .collect();
    let mut totals = Totals::default();
    let mut files: Vec<FileView> = Vec::new();
    for (p, e) in a.merged.entries() {
        match e.kind {
            Kind::File => {
                totals.files += 1;
                totals.bytes += e.size;
                files.push(FileView {
                    path: format!("/{p}"),
                    size: e.size,
                    layer: e.layer,
                });
            }
            Kind::Dir => totals.dirs += 1,
            Kind::Symlink => totals.symlinks += 1,
            Kind::Hardlink => totals.hardlinks += 1,
            Kind::Other => totals.other += 1,
        }
    }
    files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    files.truncate(top);
    let packages = a.packages.as_ref().map(|db| {
        let mut pkgs = db.packages.clone();
        let key = |p: &crate::Package| {
            if p.has_file_list {
                p.size
            } else {
                p.declared_size.unwrap_or(0)
            }
        };
        pkgs.sort_by(|x, y| key(y).cmp(&key(x)).then_with(|| x.name.cmp(&y.name)));
        PackagesView {
            count: pkgs.len(),
            owned_bytes: pkgs.iter().map(|p| p.size).sum(),
            packages: pkgs,
        }
    });
    let total = a.merged.total_bytes();
    let final_bytes = a.merged.final_bytes();
    let d = &a.dive;
    let efficiency = Efficiency {
        score: d.efficiency,
        wasted_bytes: d.wasted_bytes,
        user_wasted_ratio: d.user_wasted_ratio,
        size_bytes: d.size_bytes,
        user_size_bytes: d.user_size_bytes,
        total_bytes: total,
        final_bytes,
        hidden_bytes: total.saturating_sub(final_bytes),
        top_wasted: d
            .paths
            .iter()
            .take(top)
            .map(|p| WastedView {
                path: format!("/{}", p.path),
                references: p.references,
                bytes: p.bytes,
            })
            .collect(),
    };
    InspectReport {
        image: a.image.clone(),
        manifest_digest: a.manifest_digest.clone(),
        config: ConfigView {
            platform,
            created: c.created.clone(),
            entrypoint: cc.entrypoint.clone(),
            cmd: cc.cmd.clone(),
            env: cc.env.clone(),
            user: cc.user.clone(),
            workdir: cc.working_dir.clone(),
            labels: cc.labels.clone(),
            exposed_ports: cc.exposed_ports.iter().cloned().collect(),
            volumes: cc.volumes.iter().cloned().collect(),
        },
        history,
        layers,
        totals,
        largest: files,
        packages,
        efficiency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_oci::{History, ImageConfig, LayerRef};

    fn analysis(history: Vec<History>, layers: usize) -> Analysis {
        Analysis {
            image: "oci:x".into(),
            manifest_digest: "sha256:0".into(),
            config: ImageConfig {
                history,
                ..ImageConfig::default()
            },
            layers: (0..layers)
                .map(|_| LayerRef {
                    digest: None,
                    diff_id: None,
                    media_type: String::new(),
                    size: 0,
                })
                .collect(),
            diffs: Vec::new(),
            merged: crate::Merged::new(),
            dive: crate::DiveTally::new().figures(),
            packages: None,
        }
    }

    fn h(by: &str, empty: bool) -> History {
        History {
            created_by: Some(by.into()),
            empty_layer: empty,
            ..History::default()
        }
    }

    #[test]
    fn history_aligns_with_layers_skipping_empty_entries() {
        let a = analysis(
            vec![
                h("ADD rootfs", false),
                h("ENV A=b", true),
                h("RUN x", false),
                h("CMD", true),
            ],
            2,
        );
        let (hist, per_layer) = layer_commands(&a);
        assert_eq!(per_layer, [Some("ADD rootfs".into()), Some("RUN x".into())]);
        let layers: Vec<Option<usize>> = hist.iter().map(|h| h.layer).collect();
        assert_eq!(layers, [Some(0), None, Some(1), None]);
    }

    #[test]
    fn extra_history_entries_get_no_layer() {
        let a = analysis(vec![h("a", false), h("b", false)], 1);
        let (hist, per_layer) = layer_commands(&a);
        assert_eq!(per_layer.len(), 1);
        assert_eq!(hist[1].layer, None);
    }

    #[test]
    fn empty_image_is_fully_efficient() {
        let r = inspect_report(&analysis(vec![], 0), 10);
        assert_eq!(r.efficiency.score, 1.0);
        assert_eq!(r.totals, Totals::default());
    }
}
