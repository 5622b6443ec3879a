//! A [`Catalog`] as the input of the SBOM writers in `whittle-sbom`, with package URLs.

use whittle_sbom::{SbomInput, SbomPackage, purl};

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

/// An [`SbomInput`] describing `cat` as the content of image `name` (`seed`: e.g. the manifest
/// digest, for a stable document namespace; `epoch`: creation time).
pub fn sbom_input(cat: &Catalog, name: &str, seed: &str, epoch: u64, tool: &str) -> SbomInput {
    SbomInput {
        name: name.to_string(),
        version: None,
        purl: None,
        namespace_seed: seed.to_string(),
        created_epoch: epoch,
        tool: tool.to_string(),
        packages: cat
            .packages
            .iter()
            .map(|p| SbomPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                purl: Some(package_purl(cat, p)),
                source_name: Some(p.source().to_string()),
                source_version: Some(p.source_ver().to_string()),
                supplier: p.maintainer.clone(),
                license_declared: p.license.as_deref().map(license_expression),
                homepage: p.homepage.clone(),
                download_location: None,
                checksums: Vec::new(),
                files_analyzed: false,
            })
            .collect(),
        relationships: Vec::new(),
    }
}

/// Turns an apk `L:` value (`MIT`, `GPL-2.0-only AND MIT`, `BSD-2-Clause OR MIT`, `GPL2+`)
/// into an SPDX expression: known ids and operators are kept, others become `LicenseRef-…`.
fn license_expression(l: &str) -> String {
    let mut out = Vec::new();
    for tok in l.split_whitespace() {
        let up = tok.to_ascii_uppercase();
        if matches!(up.as_str(), "AND" | "OR" | "WITH") {
            out.push(up);
        } else {
            // apk lists several licenses separated by spaces: all of them apply
            if out
                .last()
                .is_some_and(|l| !matches!(l.as_str(), "AND" | "OR" | "WITH") && !l.ends_with('('))
                && !tok.starts_with(')')
            {
                out.push("AND".to_string());
            }
            let (open, rest) = tok.split_at(tok.len() - tok.trim_start_matches('(').len());
            let core = rest.trim_end_matches(')');
            let close = &rest[core.len()..];
            let already_spdx = (core.ends_with("-only") || core.ends_with("-or-later"))
                && core
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            let id = if already_spdx {
                core.to_string()
            } else {
                whittle_sbom::short_name_to_spdx(core)
            };
            out.push(format!("{open}{id}{close}"));
        }
    }
    out.join(" ")
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
    fn license_expressions() {
        assert_eq!(license_expression("MIT"), "MIT");
        assert_eq!(
            license_expression("MIT and BSD-2-Clause"),
            "MIT AND BSD-2-Clause"
        );
        assert_eq!(license_expression("GPL-2.0-only"), "GPL-2.0-only");
        assert_eq!(
            license_expression("MPL-2.0 GPL-2.0-or-later"),
            "MPL-2.0 AND GPL-2.0-or-later"
        );
        assert_eq!(
            license_expression("(GPL-2.0 OR MIT)"),
            "(GPL-2.0-only OR MIT)"
        );
    }
}
