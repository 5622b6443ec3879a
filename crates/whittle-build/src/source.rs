//! The package source of a build: one part with one job — resolve (or take the lock's
//! packages), fetch and verify, install into a fresh tree — for each package format
//! (`Source::Debian`, `Source::Apk`). What it hands back (`Installed`) is all the rest of
//! the pipeline needs: `build_arch` does everything after it (OS files, accounts,
//! `paths`, native files, layers, image, SBOM) once for both formats.

use crate::{Error, Events, assemble, debian, lock, memory, osfiles};
use std::collections::BTreeMap;
use whittle_config::Config;
use whittle_deb::alternatives::Alternative;
use whittle_fetch::{Fetcher, ItemError, Request};
use whittle_fs::Tree;
use whittle_resolve::lock::LockPackage;

/// Where the packages of a build come from.
pub(crate) enum Source {
    /// Debian repositories (signed `InRelease`, `Packages`, `.deb` files).
    Debian(Vec<debian::DebRepo>),
    /// APK repositories (signed `APKINDEX.tar.gz`, `.apk` files).
    Apk,
}

/// What the OS files ([`osfiles`]) of the image are written from.
pub(crate) enum OsSource {
    /// The repositories' signed Releases.
    Debian(Vec<whittle_deb::release::Release>),
    /// The distribution the APK indexes (or the lock) name.
    Apk(Option<osfiles::ApkDistro>),
}

/// One installed package: what layering needs to know of it.
#[derive(Debug, Clone, Default)]
pub struct PackageFiles {
    /// Package name.
    pub name: String,
    /// Its origin: the Debian `Source` (without version) or the APK `o:`, else its name.
    pub origin: String,
    /// The tree paths it wrote (as they landed, after symlinked directories), including its
    /// database entry (`var/lib/dpkg/status.d/NAME`, `.md5sums`), in install order.
    pub paths: Vec<String>,
    /// Its entry in a package database that is one file for all packages (the APK installed
    /// database stanza), which a layer holding the package carries a partial copy of.
    pub db_entry: Option<String>,
    /// The newest file or build time of the package.
    pub newest_mtime: u64,
}

/// The packages installed into a tree and what the later steps need of them.
pub(crate) struct Installed {
    /// The tree, with the packages and their database.
    pub(crate) tree: Tree,
    /// The installed packages, in install order.
    pub(crate) packages: Vec<PackageFiles>,
    /// The newest file time seen (the default image timestamp).
    pub(crate) newest_mtime: u64,
    /// SBOM facts by `(name, version, arch)`.
    pub(crate) archives: BTreeMap<(String, String, String), whittle_catalog::sbom::Archive>,
    /// `update-alternatives` calls of the packages' scripts (Debian).
    pub(crate) alternatives: Vec<Alternative>,
    /// Where the OS files come from.
    pub(crate) os: OsSource,
    /// The format's name in the image history (`Debian`, `APK`).
    pub(crate) format: &'static str,
    /// What was left out, for the build log (`, 3 documentation files left out`).
    pub(crate) left_out: String,
}

impl Source {
    /// Resolves (or takes what `locked` pins), fetches, verifies and installs the packages of
    /// `arch` into a fresh tree, or into the tree of `base` (whose installed packages are not
    /// installed again).
    pub(crate) fn install(
        &self,
        config: &Config,
        opts: &crate::BuildOptions,
        (arch, base): (&str, Option<&crate::base::Base>),
        fetcher: &Fetcher,
        events: &dyn Events,
        locked: Option<&lock::Locked>,
    ) -> Result<Installed, Error> {
        match self {
            Source::Apk => {
                crate::apk::install_arch(config, opts, (arch, base), fetcher, events, locked)
            }
            Source::Debian(repos) => {
                let (packages, releases) = match locked {
                    Some(l) => (l.packages(arch)?, l.releases()),
                    None => {
                        let insecure = opts.insecure_allow_unsigned_repositories;
                        let (verified, packages) = crate::resolve_arch(
                            config,
                            insecure,
                            repos,
                            (arch, base.map(|b| b.deb_candidates()).unwrap_or_default()),
                            fetcher,
                            events,
                        )?;
                        (packages, verified.into_iter().map(|v| v.release).collect())
                    }
                };
                let packages = match base {
                    Some(b) => b.missing(
                        packages,
                        &b.debs,
                        |p| (p.name.clone(), Some(p.version.clone())),
                        events,
                    )?,
                    None => packages,
                };
                install_debs(
                    config,
                    &packages,
                    releases,
                    (arch, base),
                    fetcher,
                    events,
                    locked,
                )
            }
        }
    }
}

/// The source package of a `status.d` entry (`Source: gcc-12 (12.2.0-14)` → `gcc-12`), else
/// the package's name.
pub(crate) fn deb_origin(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Source:"))
        .map(|s| whittle_catalog::dpkg::parse_source(s).0)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| name.to_string())
}

/// Fetches, verifies and installs the `.deb` files of `packages` for `arch`, into the base
/// image's tree when there is one; each package is unpacked as soon as it has arrived.
fn install_debs(
    config: &Config,
    packages: &[LockPackage],
    releases: Vec<whittle_deb::release::Release>,
    (arch, base): (&str, Option<&crate::base::Base>),
    fetcher: &Fetcher,
    events: &dyn Events,
    locked: Option<&lock::Locked>,
) -> Result<Installed, Error> {
    let reqs: Vec<Request> = packages
        .iter()
        .map(|p| Request {
            url: p.url.clone(),
            sha256: p.sha256.clone(),
            size: p.size,
        })
        .collect();
    let mut tree = assemble::skeleton(arch)?;
    if let Some(b) = base {
        // the base's tree, with what the skeleton has and the base lacks when packages are
        // installed (nothing of Debian's layout is added to a base that only gets files)
        let mut on_base = b.tree.clone();
        for (path, e) in tree.walk().filter(|_| !packages.is_empty()) {
            if on_base.get(path).is_none() {
                on_base.insert(path, e.node.clone(), e.meta)?;
            }
        }
        tree = on_base;
    }
    let mut out = assemble::Assembled::default();
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let debs = assemble::Debs {
        names: &names,
        reqs: &reqs,
        fetcher,
        progress: events,
    };
    let budget = memory::MemoryBudget::from_env()?;
    assemble::install_all(&mut tree, &debs, &config.contents, &budget, &mut out).map_err(|e| {
        match e {
            ItemError::Fetch(e) => match locked {
                Some(l) => l.fetch_error(e, &reqs, fetcher),
                None => e.into(),
            },
            ItemError::Use(e) => e,
        }
    })?;
    if !out.scripts_skipped.is_empty() {
        events.step(&format!(
            "assemble  maintainer scripts not run (whittle runs none; it does natively what images need): {}",
            out.scripts_skipped.join(", ")
        ));
    }
    for o in &out.overlaps {
        events.warn(&format!("file shipped by two packages: {o}"));
    }
    for w in &out.link_warnings {
        events.warn(w);
    }
    let archives = packages
        .iter()
        .map(|p| {
            let key = (p.name.clone(), p.version.clone(), p.architecture.clone());
            (key, crate::image::archive_facts(&p.sha256, &p.url))
        })
        .collect();
    Ok(Installed {
        tree,
        packages: std::mem::take(&mut out.packages),
        newest_mtime: out.newest_mtime,
        archives,
        alternatives: out.alternatives,
        os: OsSource::Debian(releases),
        format: "Debian",
        left_out: format!(
            ", {} documentation files left out{}",
            out.docs_dropped,
            match out.paths_dropped {
                0 => String::new(),
                n => format!(", {n} entries left out by path-exclude"),
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::deb_origin;

    #[test]
    fn debian_origin_is_the_source_without_version() {
        assert_eq!(
            deb_origin(
                "Package: libgcc-s1\nSource: gcc-12 (12.2.0-14)\n",
                "libgcc-s1"
            ),
            "gcc-12"
        );
        assert_eq!(deb_origin("Package: gawk\nSource: gawk\n", "gawk"), "gawk");
        assert_eq!(deb_origin("Package: libc6\n", "libc6"), "libc6");
    }
}
