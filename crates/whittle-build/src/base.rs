//! Building on a base image (apko's `contents.baseimage`, ko's base image): the base's layers
//! are kept byte for byte at the bottom of the new image, its config is the default the config
//! overrides, and its installed packages count as installed.
//!
//! The base is untrusted input: it is read through `whittle_oci` (every blob checked against its
//! digest, every layer against its diff ID) and merged with the OCI whiteout rules into a tree
//! bounded by [`crate::MAX_IMAGE_BYTES`], whose paths and hard links cannot leave the image.
//! The build installs the missing packages into that tree; what differs from the base is the
//! new layer(s) (`diff`).

use crate::Error;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use whittle_config::{BaseImage, Config};
use whittle_fs::{Entry, Meta, Node, Tree};
use whittle_oci::{History, ImageConfig, ImageLayer, ImageRef, Platform};

/// Most layers a base image may have.
const MAX_BASE_LAYERS: usize = 256;

/// Most bytes of package database read from the base (`status`, `status.d`, APK `installed`).
const MAX_DB_BYTES: usize = 64 << 20;

/// Manifest annotation naming the base image (OCI image spec, `annotations.md`).
pub const ANNOTATION_BASE_NAME: &str = "org.opencontainers.image.base.name";
/// Manifest annotation with the base image's manifest digest.
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// A base image read for one architecture.
pub(crate) struct Base {
    /// The reference as the config writes it.
    pub(crate) name: String,
    /// Where the config names it (`FILE:LINE:COLUMN`).
    pub(crate) at: String,
    /// The digest of its manifest.
    pub(crate) digest: String,
    /// Its image config.
    pub(crate) config: ImageConfig,
    /// Its layers, bottom first, with their stored bytes.
    pub(crate) layers: Vec<ImageLayer>,
    /// Its merged filesystem.
    pub(crate) tree: Tree,
    /// Its installed Debian packages: name → version.
    pub(crate) debs: BTreeMap<String, String>,
    /// Their `status` stanzas, as the base stores them.
    pub(crate) deb_stanzas: Vec<String>,
    /// Its installed APK packages: name → version.
    pub(crate) apks: BTreeMap<String, String>,
    /// Its APK installed database (`lib/apk/db/installed`) as stored, which the new image's
    /// database extends.
    pub(crate) apk_db: String,
}

/// Most a base image's `created` may lie ahead of this machine's clock (a day of clock skew).
pub(crate) const MAX_CREATED_AHEAD: u64 = 86_400;

/// The seconds of a base's `created` (0 when it has none or it cannot be read), refused when it
/// lies more than [`MAX_CREATED_AHEAD`] past `now`.
fn created_epoch(created: Option<&str>, now: u64) -> Result<u64, String> {
    let t = created.and_then(whittle_sbom::parse_rfc3339).unwrap_or(0);
    if t > now.saturating_add(MAX_CREATED_AHEAD) {
        return Err(format!(
            "its config says it was created at {} ({}), in the future: the image's files would be dated then; set SOURCE_DATE_EPOCH to the time to give them (it wins over the base's date), or use a base with a correct date",
            created
                .unwrap_or_default()
                .chars()
                .take(64)
                .collect::<String>(),
            t
        ));
    }
    Ok(t)
}

impl Base {
    /// The time the new image's files get from this base when no SOURCE_DATE_EPOCH is given
    /// (never older than the base): its `created`, refused when more than a day after this
    /// machine's clock — a base claiming 9999-12-31 would date the app's files so.
    pub(crate) fn created(&self) -> Result<u64, Error> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        created_epoch(self.config.created.as_deref(), now).map_err(|message| Error::Base {
            at: self.at.clone(),
            image: self.name.clone(),
            message,
        })
    }

    /// Its installed APK packages as the solver sees candidates: the installed database's
    /// records with the fields an `APKINDEX` has (the file lists and their checksums dropped);
    /// none when the database cannot be read that way (the packages are still not installed
    /// again).
    pub(crate) fn apk_candidates(&self) -> Vec<whittle_apk::index::IndexEntry> {
        let text: String = self
            .apk_db
            .lines()
            .filter(|l| {
                l.is_empty()
                    || l.len() >= 2
                        && l.as_bytes()[1] == b':'
                        && "CPVASITULomtcDpikq".contains(&l[..1])
            })
            .map(|l| format!("{l}\n"))
            .collect();
        whittle_apk::index::parse_apkindex_text("base image lib/apk/db/installed", text.as_bytes())
            .unwrap_or_default()
    }

    /// Its installed Debian packages as the solver sees candidates (from their `status`
    /// stanzas, with a placeholder `Filename`, `Size` and `SHA256`: they are never fetched); a
    /// stanza the solver cannot read is left out (the package is still not installed again).
    pub(crate) fn deb_candidates(&self) -> Vec<whittle_deb::Package> {
        let mut out = Vec::new();
        for text in &self.deb_stanzas {
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with("Status:"))
                .map(|l| format!("{l}\n"))
                .collect();
            let name = body
                .lines()
                .find_map(|l| l.strip_prefix("Package:"))
                .map_or("", str::trim);
            let text = format!(
                "{body}Filename: base-image/{name}.deb\nSize: 0\nSHA256: {}\n",
                "0".repeat(64)
            );
            let Ok(parsed) = whittle_deb::control::parse_stanzas("base image", &text) else {
                continue;
            };
            out.extend(
                parsed.into_iter().filter_map(|st| {
                    whittle_deb::Package::from_owned_stanza("base image", st).ok()
                }),
            );
        }
        out
    }

    /// How many packages it has installed.
    pub(crate) fn package_count(&self) -> usize {
        self.debs.len() + self.apks.len()
    }

    /// The resolved `packages` (each with its name and version, by `id`) that `installed`
    /// (the base's [`Base::debs`] or [`Base::apks`]) lacks: the rest are not installed again. A
    /// package the base has in another version is refused (its files would change under the
    /// base's database).
    pub(crate) fn missing<T>(
        &self,
        packages: Vec<T>,
        installed: &BTreeMap<String, String>,
        id: impl Fn(&T) -> (String, Option<String>),
        events: &dyn crate::Events,
    ) -> Result<Vec<T>, Error> {
        let mut kept = Vec::new();
        let mut there = Vec::new();
        for p in packages {
            let (name, version) = id(&p);
            let Some(have) = installed.get(&name) else {
                kept.push(p);
                continue;
            };
            match version {
                Some(v) if v != *have => {
                    return Err(Error::Base {
                        at: self.at.clone(),
                        image: self.name.clone(),
                        message: format!(
                            "it has {name} {have} installed, the repositories resolve {name} {v}; build the base from the same repositories (or pin `{name}={have}` in contents.packages)"
                        ),
                    });
                }
                _ => there.push(name),
            }
        }
        report_kept(events, &there);
        Ok(kept)
    }
}

fn err(b: &BaseImage, origin: &str, message: impl std::fmt::Display) -> Error {
    Error::Base {
        at: format!("{origin}:{}:{}", b.pos.line, b.pos.column),
        image: b.image.clone(),
        message: message.to_string(),
    }
}

/// Says in the build log which packages the base image has installed and are not installed
/// again.
pub(crate) fn report_kept(events: &dyn crate::Events, names: &[String]) {
    if !names.is_empty() {
        events.step(&format!(
            "base      {} packages already installed in the base image, not installed again: {}",
            names.len(),
            names.join(" ")
        ));
    }
}

/// The error of a resolution that failed: on a base image (`on_base`: its installed packages
/// were pinned) it is the base's, saying that its packages stay at their versions.
pub(crate) fn resolve_error(
    config: &Config,
    on_base: bool,
    arch: &str,
    source: whittle_resolve::ResolveError,
) -> Error {
    match config.contents.base_image.as_ref().filter(|_| on_base) {
        Some(b) => Error::Base {
            at: format!("{}:{}:{}", config.origin, b.pos.line, b.pos.column),
            image: b.image.clone(),
            message: format!(
                "cannot resolve the packages for {arch} on it: its installed packages stay at their installed versions (\"requested\" below)\n{source}"
            ),
        },
        None => Error::Resolve {
            arch: arch.to_string(),
            source,
        },
    }
}

/// The OCI platform of a Debian architecture name, as a base image is picked by: arm64's
/// `v8` is left out (many indexes do not give it, and arm64 has no other), 32-bit ARM's
/// variant is kept (`v6` and `v7` are different images).
fn platform(arch: &str) -> Result<Platform, Error> {
    let a = whittle_config::Arch::parse(arch)
        .ok_or_else(|| Error::Unsupported(format!("unknown architecture {arch}")))?;
    let architecture = a.oci_architecture().to_string();
    Ok(Platform {
        variant: a
            .oci_variant()
            .filter(|_| architecture != "arm64")
            .map(str::to_string),
        architecture,
        os: "linux".into(),
    })
}

/// Reads the base image of `config` for `arch` (from a multi-platform base, the image for
/// `arch`): its layers, config, merged tree and installed packages.
pub(crate) fn open(config: &Config, arch: &str) -> Result<Option<Base>, Error> {
    let Some(b) = &config.contents.base_image else {
        return Ok(None);
    };
    let origin = &config.origin;
    let reference = ImageRef::parse(&b.resolved).map_err(|e| err(b, origin, e))?;
    let want = platform(arch)?;
    let opts = whittle_registry::Options::from_env();
    let (img, _tmp) = whittle_registry::open(&reference, Some(&want), &opts)
        .map_err(|e| err(b, origin, format!("{e}; give an existing image (`oci:DIR[:TAG]`, `oci-archive:FILE`, `docker-archive:FILE` or a registry reference)")))?;
    if img.config.architecture != want.architecture || img.config.os != want.os {
        return Err(err(
            b,
            origin,
            format!(
                "the base image is for {}/{}, the build is for {want}; give a base image for {want} (or a multi-platform one)",
                img.config.os, img.config.architecture
            ),
        ));
    }
    if img.layers.len() > MAX_BASE_LAYERS {
        return Err(err(
            b,
            origin,
            format!(
                "the base image has {} layers, more than {MAX_BASE_LAYERS}",
                img.layers.len()
            ),
        ));
    }
    // declared sizes are the base's word: saturate (a sum that wraps would pass the check)
    let stored = img
        .layers
        .iter()
        .fold(0u64, |t, l| t.saturating_add(l.size));
    if stored > crate::MAX_IMAGE_BYTES {
        return Err(err(
            b,
            origin,
            format!(
                "the base image's layers are {stored} bytes, more than an image may hold ({} bytes)",
                crate::MAX_IMAGE_BYTES
            ),
        ));
    }
    let mut layers = Vec::with_capacity(img.layers.len());
    // an Overlay checks each member's declared size against the limit before reading it (a
    // header claiming 32 TiB must not abort the allocation)
    // the base's large files and its layer blobs are kept in an anonymous temporary file, not
    // in memory
    let spill = crate::spill().map_err(|e| {
        err(
            b,
            origin,
            format!(
                "cannot create a temporary file in {} for its layers: {e}",
                std::env::temp_dir().display()
            ),
        )
    })?;
    let mut overlay = whittle_fs::Overlay::new()
        .with_size_limit(crate::MAX_IMAGE_BYTES)
        .with_spill(spill.clone());
    for (i, l) in img.layers.iter().enumerate() {
        let media_type = oci_layer_type(&l.media_type).ok_or_else(|| {
            err(
                b,
                origin,
                format!(
                    "layer {i} has media type {}, which whittle cannot put in an OCI image (a tar, gzip or zstd layer is needed)",
                    l.media_type
                ),
            )
        })?;
        let diff_id = l.diff_id.clone().ok_or_else(|| {
            err(
                b,
                origin,
                format!("layer {i} has no diff ID in the image config"),
            )
        })?;
        let digest = img.raw_layer_digest(i).map_err(|e| err(b, origin, e))?;
        let blob = keep_raw_layer(&img, i, l.size, &spill).map_err(|e| err(b, origin, e))?;
        // verified as it is read: a tampered blob is reported as such, not as the tar error
        // it causes
        let changes = img
            .read_layer(i, |r| overlay.apply_layer(r).map_err(LayerFailure::Tar))
            .map_err(|f| match f {
                LayerFailure::Read(bad) => err(b, origin, bad),
                LayerFailure::Tar(e) => err(b, origin, format!("layer {i} ({digest}): {e}")),
            })?;
        // a runtime unpacks each layer onto the ones below: a hard link's target must be there
        // by the end of its layer, not arrive in a later one
        for c in changes.added.iter().chain(&changes.changed) {
            let tree = overlay.tree();
            if let Some(Node::Hardlink(t)) = tree.get(&c.path).map(|e| &e.node)
                && tree.get(t).is_none_or(|e| e.node.is_dir())
            {
                return Err(err(
                    b,
                    origin,
                    format!(
                        "layer {i} ({digest}): hard link /{} to /{t}, which neither this layer nor one below holds as a file; runtimes cannot unpack it",
                        c.path
                    ),
                ));
            }
        }
        layers.push(ImageLayer {
            media_type: media_type.to_string(),
            digest,
            diff_id,
            size: blob.len(),
            blob,
        });
    }
    let tree = overlay.into_tree();
    let (debs, deb_stanzas) = installed_debs(&tree).map_err(|m| err(b, origin, m))?;
    let (apks, apk_db) = installed_apks(&tree).map_err(|m| err(b, origin, m))?;
    Ok(Some(Base {
        name: b.image.clone(),
        at: format!("{origin}:{}:{}", b.pos.line, b.pos.column),
        digest: img.manifest_digest.clone(),
        config: img.config.clone(),
        layers,
        tree,
        debs,
        deb_stanzas,
        apks,
        apk_db,
    }))
}

/// Why a base layer could not be merged: the layer failed its checks (tampered, unreadable),
/// or its verified tar could not be applied.
enum LayerFailure {
    Read(whittle_oci::ReadError),
    Tar(whittle_fs::Error),
}

impl From<whittle_oci::ReadError> for LayerFailure {
    fn from(e: whittle_oci::ReadError) -> Self {
        LayerFailure::Read(e)
    }
}

/// The OCI media type of a layer stored as `media_type` (Docker's names map to OCI's, the
/// bytes being the same); `None` for what an OCI image cannot hold (foreign layers).
fn oci_layer_type(media_type: &str) -> Option<&'static str> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            Some("application/vnd.oci.image.layer.v1.tar+gzip")
        }
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => {
            Some("application/vnd.oci.image.layer.v1.tar")
        }
        "application/vnd.oci.image.layer.v1.tar+zstd" => {
            Some("application/vnd.oci.image.layer.v1.tar+zstd")
        }
        _ => None,
    }
}

/// Layer `i`'s stored blob (`size` bytes, as the manifest says), copied into `spill` and
/// verified: the stream is read to its end, where its digest is checked (a copy that stopped at
/// `size` bytes was never checked, and it is what the output image carries).
fn keep_raw_layer(
    img: &whittle_oci::ReadImage,
    i: usize,
    size: u64,
    spill: &whittle_fs::Spill,
) -> Result<whittle_fs::FileData, String> {
    let reading = |e: std::io::Error| format!("reading layer {i}: {e}");
    let mut raw = img.open_raw_layer(i).map_err(|e| e.to_string())?;
    let blob = spill
        .append(&mut (&mut raw).take(size), size)
        .map_err(reading)?;
    match raw.read(&mut [0u8; 1]).map_err(reading)? {
        0 => Ok(blob),
        _ => Err(format!(
            "reading layer {i}: it is longer than the {size} bytes its manifest gives"
        )),
    }
}

/// The installed Debian packages of a tree: `var/lib/dpkg/status` (entries whose `Status` ends
/// in `installed`) and distroless' `var/lib/dpkg/status.d/NAME`.
fn installed_debs(tree: &Tree) -> Result<(BTreeMap<String, String>, Vec<String>), String> {
    let mut texts: Vec<(String, &whittle_fs::FileData)> = Vec::new();
    for (path, e) in tree.walk() {
        let is_db = path == "var/lib/dpkg/status"
            || whittle_deb::status::is_status_d_entry(path)
                && path.starts_with("var/lib/dpkg/status.d/");
        if !is_db {
            continue;
        }
        if let Node::File(d) = &e.node {
            texts.push((path.to_string(), d));
        }
    }
    let total: u64 = texts.iter().map(|(_, d)| d.len()).sum();
    if total > MAX_DB_BYTES as u64 {
        return Err(format!(
            "its dpkg database is {total} bytes, more than {MAX_DB_BYTES}"
        ));
    }
    let mut out = BTreeMap::new();
    let mut stanzas = Vec::new();
    for (path, data) in texts {
        let data = data.bytes().map_err(|e| format!("/{path}: {e}"))?;
        let text = String::from_utf8_lossy(&data);
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza.lines().find_map(|l| {
                    l.strip_prefix(name)
                        .and_then(|r| r.strip_prefix(':'))
                        .map(str::trim)
                })
            };
            let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
                continue;
            };
            // the status file lists removed packages too; status.d holds installed ones
            if path == "var/lib/dpkg/status"
                && !field("Status").is_some_and(|s| s.ends_with(" installed"))
            {
                continue;
            }
            out.insert(name.to_string(), version.to_string());
            stanzas.push(stanza.trim().to_string());
        }
    }
    Ok((out, stanzas))
}

/// The installed APK packages of a tree (`lib/apk/db/installed`) and the database's text.
fn installed_apks(tree: &Tree) -> Result<(BTreeMap<String, String>, String), String> {
    let Some(Node::File(d)) = tree.get("lib/apk/db/installed").map(|e| &e.node) else {
        return Ok(Default::default());
    };
    // bounded before it is read: the base's large files are on disk, up to the image's cap
    let max = whittle_apk::package::installed::MAX_INSTALLED_DB;
    if d.len() > max as u64 {
        return Err(format!(
            "/lib/apk/db/installed is {} bytes, more than the {max} an APK database may have",
            d.len()
        ));
    }
    let d = d
        .bytes()
        .map_err(|e| format!("/lib/apk/db/installed: {e}"))?;
    let db = whittle_apk::package::installed::parse_installed("lib/apk/db/installed", &d)
        .map_err(|e| e.to_string())?;
    let names = db
        .packages
        .into_iter()
        .map(|p| (p.name, p.version))
        .collect();
    Ok((names, String::from_utf8_lossy(&d).into_owned()))
}

/// The entries of `top` that `base` does not hold as they are, as a tree a layer is written
/// from: changed and new entries (with their parent directories as `top` has them), hard-link
/// targets of those, and a whiteout (`.wh.NAME`) for each base path `top` no longer has.
pub(crate) fn diff(top: &Tree, base: &Tree) -> Result<Tree, Error> {
    // paths taken literally on both sides, as layers are (no symlinked parents followed)
    let top_at: HashMap<&str, &Entry> = top.walk().collect();
    let base_at: HashMap<&str, &Entry> = base.walk().collect();
    let mut out = crate::image_tree();
    let mut links = Vec::new();
    let add = |out: &mut Tree, path: &str, e: &Entry| -> Result<(), Error> {
        // parents first, with top's metadata (a parent `top` lacks is a plain directory)
        for (i, _) in path.match_indices('/') {
            let parent = &path[..i];
            if out.get(parent).is_none() {
                let meta = top_at.get(parent).map_or(Meta::DIR, |p| p.meta);
                out.insert(parent, Node::Dir, meta)?;
            }
        }
        out.insert(path, e.node.clone(), e.meta)?;
        Ok(())
    };
    for (path, e) in top.walk() {
        if base_at.get(path) == Some(&e) {
            continue;
        }
        if let Node::Hardlink(t) = &e.node {
            links.push(t.clone());
        }
        add(&mut out, path, e)?;
    }
    // a hard link in the new layer needs its target in the same layer
    for t in links {
        if out.get(&t).is_none()
            && let Some(e) = top_at.get(t.as_str())
        {
            add(&mut out, &t, e)?;
        }
    }
    // whiteouts: the topmost base paths the new tree does not have; below a directory the new
    // tree replaced by a file or link, the replacement already hides them
    let gone: BTreeSet<&str> = base
        .walk()
        .map(|(p, _)| p)
        .filter(|p| !top_at.contains_key(p))
        .collect();
    for p in &gone {
        let ancestors = p.match_indices('/').map(|(i, _)| &p[..i]);
        if ancestors
            .clone()
            .any(|a| gone.contains(a) || top_at.get(a).is_some_and(|e| !e.node.is_dir()))
        {
            continue;
        }
        let (parent, name) = p.rsplit_once('/').unwrap_or(("", p));
        let wh = if parent.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{parent}/.wh.{name}")
        };
        let e = Entry {
            node: Node::file(Vec::new()),
            meta: Meta::root(0o644),
        };
        add(&mut out, &wh, &e)?;
    }
    Ok(out)
}

/// Puts `img` (the new layers, made from `config`) on `base`: the base's layers and history
/// below, its container config as the default of what `config` leaves unset, and the
/// `org.opencontainers.image.base.*` annotations. The base is consumed: its layers' blobs move
/// into the image rather than being copied.
pub(crate) fn stack(
    mut img: whittle_oci::Image,
    base: Base,
    config: &Config,
) -> whittle_oci::Image {
    let b = &base.config.config;
    let c = &mut img.config.config;
    // env: the base's, then the config's by name; the default PATH only when neither sets it
    let mut env: Vec<String> = b.env.clone();
    for (k, v) in &config.environment {
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k.as_str());
        env.push(format!("{k}={v}"));
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.extend(c.env.iter().filter(|e| e.starts_with("PATH=")).cloned());
    }
    c.env = env;
    if c.user.is_none() {
        c.user.clone_from(&b.user);
    }
    if c.entrypoint.is_empty() {
        c.entrypoint.clone_from(&b.entrypoint);
        if c.cmd.is_empty() {
            c.cmd.clone_from(&b.cmd);
        }
    }
    if c.working_dir.is_none() {
        c.working_dir.clone_from(&b.working_dir);
    }
    if c.stop_signal.is_none() {
        c.stop_signal.clone_from(&b.stop_signal);
    }
    let mut labels = b.labels.clone();
    labels.append(&mut c.labels);
    c.labels = labels;
    c.volumes.extend(b.volumes.iter().cloned());
    c.exposed_ports.extend(b.exposed_ports.iter().cloned());

    // history: the base's when it describes its layers, else one line per base layer
    let mut history: Vec<History> = if base
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .count()
        == base.layers.len()
    {
        base.config.history
    } else {
        base.layers
            .iter()
            .map(|_| History {
                created_by: Some(format!("base image {}", base.name)),
                ..Default::default()
            })
            .collect()
    };
    history.append(&mut img.config.history);
    img.config.history = history;
    img.config.rootfs.diff_ids.clear();
    let mut layers = base.layers;
    layers.append(&mut img.layers);
    img.layers = layers;
    img.annotations
        .insert(ANNOTATION_BASE_NAME.into(), base.name);
    img.annotations
        .insert(ANNOTATION_BASE_DIGEST.into(), base.digest);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, Node)]) -> Tree {
        let mut t = Tree::new();
        for (p, n) in entries {
            t.insert(p, n.clone(), Meta::root(0o755)).unwrap();
        }
        t
    }

    #[test]
    fn diff_keeps_what_changed_with_parents_and_whiteouts() {
        let base = tree(&[
            ("usr/bin", Node::Dir),
            ("usr/bin/a", Node::file(b"a".to_vec())),
            ("usr/bin/b", Node::file(b"b".to_vec())),
            ("etc/gone/x", Node::file(b"x".to_vec())),
        ]);
        let mut top = base.clone();
        top.insert("usr/bin/c", Node::file(b"c".to_vec()), Meta::root(0o755))
            .unwrap();
        top.insert("usr/bin/b", Node::file(b"B".to_vec()), Meta::root(0o755))
            .unwrap();
        top.remove("etc/gone").unwrap();
        let d = diff(&top, &base).unwrap();
        let paths: Vec<&str> = d.walk().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "etc",
                "etc/.wh.gone",
                "usr",
                "usr/bin",
                "usr/bin/b",
                "usr/bin/c"
            ]
        );
    }

    /// Every entry of `t` with what it holds and its metadata.
    fn flat(t: &Tree) -> Vec<(String, Entry)> {
        t.walk().map(|(p, e)| (p.to_string(), e.clone())).collect()
    }

    proptest::proptest! {
        /// Whatever the build adds, changes or removes, the base with the new layer on top
        /// (OCI whiteout rules) is exactly the new tree.
        #[test]
        fn base_and_diff_layer_unpack_to_the_new_tree(
            base_files in proptest::collection::btree_map((0usize..4, 0usize..5), 1u8..4, 0..12),
            ops in proptest::collection::vec((0usize..4, 0usize..5, 0u8..7), 0..12),
        ) {
            let dirs = ["usr/lib", "usr/bin", "etc/x", "var/lib/y"];
            let mut base = Tree::new();
            for ((d, f), c) in &base_files {
                base.insert(&format!("{}/f{f}", dirs[*d]), Node::file(vec![*c]), Meta::root(0o644))
                    .unwrap();
            }
            let mut top = base.clone();
            // (what the tree refuses, e.g. a file below a file, is simply not done)
            for (d, f, op) in &ops {
                let path = format!("{}/f{f}", dirs[*d]);
                let _ = match op {
                    // a new or changed file, a mode change, a symlink, a removal
                    0 | 1 => top.insert(&path, Node::file(vec![9, *op]), Meta::root(0o644)).map(drop),
                    2 => top.chmod(&path, 0o600, false),
                    3 => top.insert(&path, Node::symlink("../x"), Meta::root(0o777)).map(drop),
                    // a directory of the base replaced by a file or a link
                    5 => top.insert(dirs[*d], Node::file(vec![7]), Meta::root(0o644)).map(drop),
                    6 => top.insert(dirs[*d], Node::symlink("/opt"), Meta::root(0o777)).map(drop),
                    _ if top.get(&path).is_some() => top.remove(&path).map(drop),
                    _ => top.remove(dirs[*d]).map(drop),
                };
            }
            let layer = diff(&top, &base).unwrap();
            let tar = whittle_fs::tar_layer(&layer, 1).unwrap();
            let mut merged = whittle_fs::Overlay::new();
            merged.apply_layer(&whittle_fs::tar_layer(&base, 0).unwrap().tar[..]).unwrap();
            merged.apply_layer(&tar.tar[..]).unwrap();
            proptest::prop_assert_eq!(flat(merged.tree()), flat(&top));
        }
    }

    /// A base's `created` dates the files unless it is more than a day ahead of the clock:
    /// 9999-12-31 is refused, naming SOURCE_DATE_EPOCH; absent or unreadable counts as 0.
    #[test]
    fn a_base_created_in_the_future_is_refused() {
        let now = 1_700_000_000;
        assert_eq!(
            created_epoch(Some("2023-01-01T00:00:00Z"), now),
            Ok(1_672_531_200)
        );
        assert_eq!(created_epoch(None, now), Ok(0));
        assert_eq!(created_epoch(Some("yesterday"), now), Ok(0));
        let skew = whittle_oci::rfc3339(now + MAX_CREATED_AHEAD);
        assert_eq!(created_epoch(Some(&skew), now), Ok(now + MAX_CREATED_AHEAD));
        let e = created_epoch(Some("9999-12-31T23:59:59Z"), now).unwrap_err();
        assert!(
            e.contains("9999-12-31") && e.contains("SOURCE_DATE_EPOCH"),
            "{e}"
        );
    }

    /// A base layer's blob copied for the output image is verified: one whose bytes do not match
    /// its digest (here changed in place, as between two readings) is refused, not carried.
    #[test]
    fn a_kept_base_layer_is_verified() {
        let Some(fixtures) = whittle_testutil::fixtures() else {
            return;
        };
        let src = fixtures.join("images/oci-archive/dive-test-oci-uncompressed-image.tar");
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("image.tar");
        let mut bytes = std::fs::read(&src).unwrap();
        let image = ImageRef::OciArchive {
            path: copy.clone(),
            tag: None,
        };
        std::fs::write(&copy, &bytes).unwrap();
        let img = whittle_oci::read_image(&image, None).unwrap();
        let spill = whittle_fs::Spill::new_in(dir.path()).unwrap();
        let size = img.layers[0].size;
        let kept = keep_raw_layer(&img, 0, size, &spill).unwrap();
        assert_eq!(kept.len(), size);
        // the same image with one byte of that layer changed
        let hex = img.layers[0]
            .digest
            .as_deref()
            .unwrap()
            .trim_start_matches("sha256:");
        let mut outer = tar::Archive::new(&bytes[..]);
        let at = outer
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path().unwrap().ends_with(hex))
            .map(|e| e.raw_file_position())
            .unwrap();
        bytes[usize::try_from(at).unwrap() + 700] ^= 1;
        std::fs::write(&copy, &bytes).unwrap();
        let img = whittle_oci::read_image(&image, None).unwrap();
        let e = keep_raw_layer(&img, 0, size, &spill).unwrap_err();
        assert!(e.contains("reading layer 0"), "{e}");
    }

    /// A base image's `/lib/apk/db/installed` larger than an APK database may be (here 1 GiB,
    /// kept on disk like the base's other large files) is refused by its size, not read into
    /// memory first. Measured in a child process (this test again), whose peak memory is its own.
    #[test]
    fn a_huge_apk_database_is_refused_unread() {
        const CHILD: &str = "WHITTLE_TEST_APK_DB_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let file = tempfile::tempfile().unwrap();
            file.set_len(1 << 30).unwrap(); // sparse: no disk space
            let db = whittle_fs::FileData::extent(std::sync::Arc::new(file), 0, 1 << 30);
            let err = installed_apks(&tree(&[("lib/apk/db/installed", Node::file(db))]))
                .err()
                .unwrap_or_default();
            let peak = std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
                .unwrap();
            println!("ERROR: {err}\nPEAK: {peak}");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "base::tests::a_huge_apk_database_is_refused_unread",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.split_once(name).map(|(_, v)| v.to_string()))
                .unwrap_or_default()
        };
        let err = field("ERROR: ");
        assert!(
            err.contains("lib/apk/db/installed") && err.contains("1073741824"),
            "{stdout}"
        );
        let peak: u64 = field("PEAK: ").parse().unwrap();
        assert!(
            peak < 256 << 10,
            "peak RSS {peak} KiB: the database was read"
        );
    }

    #[test]
    fn installed_debs_reads_status_and_status_d() {
        let t = tree(&[
            (
                "var/lib/dpkg/status",
                Node::file(
                    b"Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: r\nStatus: deinstall ok config-files\nVersion: 2\n".to_vec(),
                ),
            ),
            (
                "var/lib/dpkg/status.d/libc6",
                Node::file(b"Package: libc6\nVersion: 2.36-9\n".to_vec()),
            ),
        ]);
        let (got, stanzas) = installed_debs(&t).unwrap();
        assert_eq!(stanzas.len(), 2);
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            [
                ("a".to_string(), "1".to_string()),
                ("libc6".to_string(), "2.36-9".to_string())
            ]
        );
    }
}
