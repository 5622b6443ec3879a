//! A [`Catalog`] as the input of the SBOM writers in `whittle-sbom`, with package URLs.

use std::collections::BTreeMap;

use whittle_sbom::{PackageKind, RelationshipKind, SbomInput, SbomPackage, SbomRelationship, purl};

use crate::{Catalog, Package};

/// The purl of a cataloged package: `pkg:deb/<os>/<name>@<version>?arch=…&distro=…&upstream=…`
/// or `pkg:apk/<os>/…`. `upstream` names the source package (`name` or `name@version` when the
/// source version differs), as Syft writes it; the namespace is the OS id (`debian`, `alpine`,
/// `wolfi`), falling back to `debian`/`alpine`.
pub fn package_purl(cat: &Catalog, p: &Package) -> String {
    let (ty, default_ns) = if p.db.is_deb() {
        ("deb", "debian")
    } else {
        ("apk", "alpine")
    };
    let ns = cat
        .os
        .as_ref()
        .map(|o| o.id.as_str())
        .filter(|i| !i.is_empty())
        .unwrap_or(default_ns);
    let distro = cat.os.as_ref().map(|o| o.purl_distro()).unwrap_or_default();
    let upstream = match (&p.source_name, &p.source_version) {
        (Some(n), Some(v)) if *v != p.version => format!("{n}@{v}"),
        (Some(n), _) if *n != p.name => n.clone(),
        _ => String::new(),
    };
    purl(
        ty,
        ns,
        &p.name,
        &p.version,
        &[
            ("arch", &p.arch),
            ("distro", &distro),
            ("upstream", &upstream),
        ],
    )
}

/// At most this many packages are named as satisfying one dependency (a virtual name many
/// packages provide).
pub const MAX_PROVIDERS: usize = 32;
/// At most this many `DEPENDS_ON` relationships are written: a damaged or hostile database
/// cannot make the SBOM grow without bound.
pub const MAX_RELATIONSHIPS: usize = 1 << 20;

/// What the SBOM says about the image beyond its catalog.
#[derive(Clone, Debug, Default)]
pub struct ImageFacts {
    /// The document and root-package name, e.g. the image reference.
    pub name: String,
    /// Seed of the document namespace / serial number (e.g. the manifest digest).
    pub seed: String,
    /// The image's manifest digest (`sha256:<hex>`), when known.
    pub digest: Option<String>,
    /// Creation time, seconds since the Unix epoch (the image config's `created`).
    pub epoch: u64,
    /// The creating tool, e.g. `whittle-0.1.0`.
    pub tool: String,
    /// What the builder knows of each package, by `(name, version, arch)`: the archive's
    /// SHA-256 and where it was downloaded from. An image alone holds neither.
    pub archives: BTreeMap<(String, String, String), Archive>,
}

/// A package archive (`.deb`, `.apk`) the image was built from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Archive {
    /// SHA-256 of the archive, lowercase hex.
    pub sha256: Option<String>,
    /// The archive's URL.
    pub url: Option<String>,
}

/// An [`SbomInput`] describing `cat` as the content of image `name` (`seed`: e.g. the manifest
/// digest, for a stable document namespace; `epoch`: creation time). See [`image_sbom_input`].
pub fn sbom_input(cat: &Catalog, name: &str, seed: &str, epoch: u64, tool: &str) -> SbomInput {
    image_sbom_input(
        cat,
        &ImageFacts {
            name: name.to_string(),
            seed: seed.to_string(),
            epoch,
            tool: tool.to_string(),
            ..ImageFacts::default()
        },
    )
}

/// The one description of an image's packages both `whittle build` and `whittle sbom` write:
/// every cataloged package with its purl ([`package_purl`]), source package, licence,
/// supplier, homepage and, where `facts` knows the archive, checksum and download location;
/// the OS (os-release `ID` and `VERSION_ID`) as an operating-system package; and a
/// `DEPENDS_ON` relationship for every dependency (or provided name) an installed package
/// satisfies (at most [`MAX_PROVIDERS`] per dependency, [`MAX_RELATIONSHIPS`] in all).
pub fn image_sbom_input(cat: &Catalog, facts: &ImageFacts) -> SbomInput {
    let mut packages: Vec<SbomPackage> = cat
        .packages
        .iter()
        .map(|p| {
            let archive = facts
                .archives
                .get(&(p.name.clone(), p.version.clone(), p.arch.clone()));
            SbomPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                purl: Some(package_purl(cat, p)),
                source_name: Some(p.source().to_string()),
                source_version: Some(p.source_ver().to_string()),
                supplier: p.maintainer.clone(),
                license_declared: p.license.clone(),
                homepage: p.homepage.clone(),
                download_location: archive.and_then(|a| a.url.clone()),
                checksums: archive
                    .and_then(|a| a.sha256.clone())
                    .map(|h| vec![("SHA256".to_string(), h)])
                    .unwrap_or_default(),
                files_analyzed: false,
                kind: PackageKind::Library,
            }
        })
        .collect();
    // who satisfies a name: the package of that name, else the packages providing it
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_provides: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in cat.packages.iter().enumerate() {
        by_name.entry(&p.name).or_default().push(i);
        for v in &p.provides {
            by_provides.entry(v).or_default().push(i);
        }
    }
    let mut relationships = Vec::new();
    'all: for (i, p) in cat.packages.iter().enumerate() {
        for d in &p.depends {
            let to = by_name
                .get(d.as_str())
                .or_else(|| by_provides.get(d.as_str()));
            for &j in to.into_iter().flatten().take(MAX_PROVIDERS) {
                if relationships.len() >= MAX_RELATIONSHIPS {
                    break 'all;
                }
                if j != i {
                    relationships.push(SbomRelationship {
                        from: i,
                        kind: RelationshipKind::DependsOn,
                        to: j,
                    });
                }
            }
        }
    }
    if let Some(os) = cat.os.as_ref().filter(|o| !o.id.is_empty()) {
        packages.push(SbomPackage {
            name: os.id.clone(),
            version: if os.version_id.is_empty() {
                os.release.clone()
            } else {
                os.version_id.clone()
            },
            kind: PackageKind::OperatingSystem,
            ..SbomPackage::default()
        });
    }
    SbomInput {
        name: facts.name.clone(),
        version: None,
        purl: None,
        digest: facts.digest.clone(),
        namespace_seed: facts.seed.clone(),
        created_epoch: facts.epoch,
        tool: facts.tool.clone(),
        packages,
        relationships,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OsRelease, PackageDb};

    fn pkg(db: PackageDb, name: &str, ver: &str, src: Option<(&str, Option<&str>)>) -> Package {
        Package {
            name: name.into(),
            version: ver.into(),
            arch: "amd64".into(),
            source_name: src.map(|s| s.0.to_string()),
            source_version: src.and_then(|s| s.1.map(str::to_string)),
            db,
            db_path: String::new(),
            license: None,
            maintainer: None,
            homepage: None,
            depends: Vec::new(),
            provides: Vec::new(),
        }
    }

    #[test]
    fn purls_keep_the_source() {
        let cat = Catalog {
            os: Some(OsRelease::parse("ID=debian\nVERSION_ID=12\n")),
            ..Catalog::default()
        };
        let p = pkg(
            PackageDb::DpkgStatusD,
            "libc6",
            "2.36-9+deb12u4",
            Some(("glibc", None)),
        );
        assert_eq!(
            package_purl(&cat, &p),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        let p = pkg(
            PackageDb::DpkgStatus,
            "libcrypt1",
            "1:4.4.33-2",
            Some(("libxcrypt", Some("4.4.33-2"))),
        );
        assert!(package_purl(&cat, &p).ends_with("&upstream=libxcrypt%404.4.33-2"));
        let p = pkg(PackageDb::DpkgStatus, "gawk", "1:5.2.1-2", None);
        assert!(!package_purl(&cat, &p).contains("upstream"));
    }

    #[test]
    fn relationships_are_bounded() {
        let mut cat = Catalog::default();
        for i in 0..100 {
            let mut p = pkg(PackageDb::Apk, &format!("p{i}"), "1", None);
            p.provides = vec!["virtual".into()];
            p.depends = vec!["virtual".into(), "p0".into()];
            cat.packages.push(p);
        }
        let input = sbom_input(&cat, "x", "s", 0, "t");
        // each depends on p0 and on the first MAX_PROVIDERS providers of `virtual`, not itself
        assert!(input.relationships.len() <= 100 * (MAX_PROVIDERS + 1));
        assert!(input.relationships.len() >= 99 * MAX_PROVIDERS);
        assert!(input.relationships.iter().all(|r| r.from != r.to));
    }
}
