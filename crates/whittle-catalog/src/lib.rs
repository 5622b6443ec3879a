//! Lists the OS and packages an image holds.
//!
//! [`catalog_image`] streams once over an image's layers, keeping only the files it needs
//! ([`layers::wanted`]: `os-release`, `debian_version`, `alpine-release`, the dpkg `status` file and `status.d/*` entries, the apk
//! installed database, Debian `copyright` files and documentation directories that are symlinks
//! to another package's), applies OCI whiteouts and opaque whiteouts to
//! them ([`layers::LayerFiles`]), and parses them into a [`Catalog`]. Damaged database records are
//! skipped and reported as [`whittle_report::Finding`]s in [`Catalog::findings`]; only I/O errors,
//! an unreadable image and oversized files are errors.

pub mod dpkg;
pub mod layers;
pub mod os;
pub mod sbom;

mod apk;

use std::collections::BTreeMap;
use std::io::Read;

use serde::Serialize;
use whittle_report::{Finding, Location, Severity};

pub use layers::{LayerFiles, MAX_FILE_BYTES, MAX_TOTAL_BYTES};
pub use os::OsRelease;

/// Errors of cataloging an image.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The image could not be opened or a layer could not be read.
    #[error("cannot read the image: {0}")]
    Image(#[from] whittle_oci::ReadError),
    /// A layer is not a valid tar stream.
    #[error("layer {layer}: cannot read the tar stream: {source}")]
    Tar {
        /// Index of the layer (bottom is 0).
        layer: usize,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A wanted file is larger than its limit.
    #[error(
        "layer {layer}: `{path}` is {size} bytes, more than the {max}-byte limit for this file; \
         the image is not a normal OS image (or the database is damaged)"
    )]
    TooLarge {
        /// Index of the layer.
        layer: usize,
        /// Path inside the image.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The kept files together exceed [`MAX_TOTAL_BYTES`].
    #[error("layer {layer}: the package databases together exceed {max} bytes")]
    TotalTooLarge {
        /// Index of the layer.
        layer: usize,
        /// The limit.
        max: u64,
    },
}

/// Which package database a package was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageDb {
    /// `lib/apk/db/installed`.
    Apk,
    /// `var/lib/dpkg/status`.
    DpkgStatus,
    /// `var/lib/dpkg/status.d/<package>` (distroless).
    DpkgStatusD,
}

impl PackageDb {
    /// Whether packages of this database are Debian packages.
    pub fn is_deb(self) -> bool {
        matches!(self, PackageDb::DpkgStatus | PackageDb::DpkgStatusD)
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Binary package name.
    pub name: String,
    /// Installed version (Debian: with epoch).
    pub version: String,
    /// Architecture (`amd64`, `x86_64`, `all`, `noarch`), empty when unknown.
    pub arch: String,
    /// Source package (Debian `Source:`, apk `o:` origin); `None` when it equals `name`
    /// and the database did not say.
    pub source_name: Option<String>,
    /// Source version (Debian `Source: name (version)`); `None` means the binary version.
    pub source_version: Option<String>,
    /// The database the package was listed in.
    pub db: PackageDb,
    /// Path of the database file inside the image.
    pub db_path: String,
    /// License as an SPDX expression (Debian: from the package's copyright file; APK: its `L:`
    /// field made a valid expression), when known.
    pub license: Option<String>,
    /// Maintainer / supplier, when known.
    pub maintainer: Option<String>,
    /// Upstream homepage, when known.
    pub homepage: Option<String>,
    /// What the package depends on: package names or virtual names (Debian `Pre-Depends` and
    /// `Depends`, every alternative; APK `D:` without version constraints and conflicts),
    /// sorted and deduplicated.
    pub depends: Vec<String>,
    /// The virtual names the package provides (Debian `Provides`, APK `p:`), without versions.
    pub provides: Vec<String>,
}

impl Package {
    /// The source package name (falls back to the binary name).
    pub fn source(&self) -> &str {
        self.source_name.as_deref().unwrap_or(&self.name)
    }

    /// The source version (falls back to the binary version).
    pub fn source_ver(&self) -> &str {
        self.source_version.as_deref().unwrap_or(&self.version)
    }
}

/// The OS and packages of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// The OS from `etc/os-release` (else `usr/lib/os-release`) and the distribution's release
    /// file (`etc/debian_version`, `etc/alpine-release`), as [`OsRelease::detect`] reads them.
    pub os: Option<OsRelease>,
    /// The packages, sorted by (name, version, arch, db).
    pub packages: Vec<Package>,
    /// Damaged records and other problems met while reading; they never stop the catalog.
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// Rule id of findings about damaged package database records.
pub const RULE_DAMAGED_RECORD: &str = "catalog/damaged-record";

pub(crate) fn finding(path: &str, line: Option<usize>, message: String) -> Finding {
    Finding {
        rule: RULE_DAMAGED_RECORD.to_string(),
        severity: Severity::Low,
        message,
        location: Location {
            artifact: None,
            layer: None,
            path: Some(path.to_string()),
            line,
            column: None,
        },
        fix: Some(
            "the package database is damaged; the package was left out of the catalog".into(),
        ),
        evidence: None,
    }
}

/// Catalogs an image read with [`whittle_oci::read_image`]: one pass over its layers, each
/// verified against the image's manifest and config (a replaced layer is an error, not a
/// catalog of what it holds).
pub fn catalog_image(image: &whittle_oci::ReadImage) -> Result<Catalog, CatalogError> {
    let mut files = LayerFiles::new();
    for i in 0..image.layers.len() {
        image.read_layer(i, |stream| files.apply_layer(i, stream))?;
    }
    Ok(catalog_files(&files.into_files()))
}

/// Catalogs a sequence of uncompressed layer tar streams, bottom first.
pub fn catalog_layers<R: Read>(
    layers: impl IntoIterator<Item = R>,
) -> Result<Catalog, CatalogError> {
    let mut files = LayerFiles::new();
    for (i, l) in layers.into_iter().enumerate() {
        files.apply_layer(i, l)?;
    }
    Ok(catalog_files(&files.into_files()))
}

/// One entry of an image's file tree, for [`catalog_entries`].
#[derive(Debug, Clone, Copy)]
pub enum TreeEntry<'a> {
    /// A regular file and its content.
    File(&'a [u8]),
    /// A symbolic link and its target.
    Symlink(&'a str),
}

/// Catalogs an image's merged file tree given as `(path, entry)` pairs (path without leading
/// `/`), e.g. the tree `whittle build` assembles: only the entries [`layers::wanted`] and
/// [`layers::wanted_link`] name are looked at, with the same size limits as for layers
/// (a database over its limit is left out with a finding).
pub fn catalog_entries<'a>(entries: impl IntoIterator<Item = (&'a str, TreeEntry<'a>)>) -> Catalog {
    let mut files = BTreeMap::new();
    let mut skipped = Vec::new();
    for (path, entry) in entries {
        match entry {
            TreeEntry::Symlink(target) if layers::wanted_link(path) => {
                files.insert(path.to_string(), target.as_bytes().to_vec());
            }
            TreeEntry::File(data) => match layers::wanted(path) {
                Some(layers::Want::Keep(max) | layers::Want::KeepSmall(max))
                    if data.len() as u64 <= max =>
                {
                    files.insert(path.to_string(), data.to_vec());
                }
                Some(layers::Want::Keep(max)) => skipped.push(finding(
                    path,
                    None,
                    format!(
                        "{path} is {} bytes, more than the {max}-byte limit: not read",
                        data.len()
                    ),
                )),
                _ => {}
            },
            TreeEntry::Symlink(_) => {}
        }
    }
    if !files.contains_key(apk::INSTALLED_PATH)
        && let Some(v) = files.remove("usr/lib/apk/db/installed")
    {
        files.insert(apk::INSTALLED_PATH.into(), v);
    }
    let mut cat = catalog_files(&files);
    cat.findings.extend(skipped);
    cat
}

/// The documentation directory of `pkg` (`usr/share/doc/<pkg>`), following up to 4 symlinks
/// kept as [`layers::wanted_link`] entries (`libgcc-s1 → gcc-12-base`); `None` when a link
/// leads outside `usr/share/doc/`.
fn doc_dir(files: &BTreeMap<String, Vec<u8>>, pkg: &str) -> Option<String> {
    let mut dir = format!("usr/share/doc/{pkg}");
    for _ in 0..4 {
        let Some(target) = files.get(&dir) else {
            return Some(dir);
        };
        let target = String::from_utf8_lossy(target);
        let joined = match target.strip_prefix('/') {
            Some(abs) => abs.to_string(),
            None => format!("usr/share/doc/{target}"),
        };
        let norm = layers::normalize(&joined)?;
        norm.strip_prefix("usr/share/doc/")
            .filter(|p| !p.contains('/'))?;
        dir = norm;
    }
    None
}

/// Catalogs an already merged set of files: path inside the image (no leading `/`) → content.
/// Paths not needed are ignored; a `usr/share/doc/<pkg>` entry is the target of that symlinked
/// documentation directory ([`layers::wanted_link`]).
pub fn catalog_files(files: &BTreeMap<String, Vec<u8>>) -> Catalog {
    let mut cat = Catalog {
        os: OsRelease::detect(files),
        ..Catalog::default()
    };
    let copyright = |pkg: &str| -> Option<String> {
        let text = files.get(&format!("{}/copyright", doc_dir(files, pkg)?))?;
        whittle_sbom::debian_copyright_license(&String::from_utf8_lossy(text))
    };
    if let Some(bytes) = files.get(apk::INSTALLED_PATH) {
        apk::read(apk::INSTALLED_PATH, bytes, &mut cat);
    }
    if let Some(bytes) = files.get(dpkg::STATUS_PATH) {
        dpkg::read_status(dpkg::STATUS_PATH, PackageDb::DpkgStatus, bytes, &mut cat);
    }
    for (path, bytes) in files.range(dpkg::STATUS_D_DIR.to_string()..) {
        if !path.starts_with(dpkg::STATUS_D_DIR) {
            break;
        }
        if !dpkg::is_status_d_entry(path) {
            continue;
        }
        dpkg::read_status(path, PackageDb::DpkgStatusD, bytes, &mut cat);
    }
    for p in &mut cat.packages {
        if p.db.is_deb() && p.license.is_none() {
            p.license = copyright(&p.name);
        }
    }
    cat.packages.sort_by(|a, b| {
        (&a.name, &a.version, &a.arch, a.db).cmp(&(&b.name, &b.version, &b.arch, b.db))
    });
    // status and status.d listing the same package: keep one
    cat.packages
        .dedup_by(|b, a| a.name == b.name && a.version == b.version && a.arch == b.arch);
    cat
}
