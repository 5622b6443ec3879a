//! The apk installed database `lib/apk/db/installed`.

use whittle_apk::package::installed::parse_installed;

use crate::{Catalog, Package, PackageDb, finding};

/// Path of the installed database inside an image.
pub const INSTALLED_PATH: &str = "lib/apk/db/installed";

/// Reads an installed database into `cat`; damaged records become findings.
pub fn read(path: &str, bytes: &[u8], cat: &mut Catalog) {
    let db = match parse_installed(path, bytes) {
        Ok(db) => db,
        Err(e) => {
            cat.findings.push(finding(path, None, e.to_string()));
            return;
        }
    };
    for f in db.findings {
        cat.findings.push(finding(
            path,
            Some(f.line),
            format!("{path} line {}: {}", f.line, f.message),
        ));
    }
    // `name>=1.2`, `so:libc.musl-x86_64.so.1`, `!conflict`: the name only, conflicts left out
    let names = |list: &[String]| -> Vec<String> {
        let mut v: Vec<String> = list
            .iter()
            .filter(|d| !d.starts_with('!'))
            .filter_map(|d| {
                let n = d.split(['=', '<', '>', '~']).next()?.trim();
                (!n.is_empty()).then(|| n.to_string())
            })
            .take(1024)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    for p in db.packages {
        let source_name = p.origin.filter(|o| !o.is_empty());
        let depends = names(&p.depends);
        let provides = names(&p.provides);
        cat.packages.push(Package {
            name: p.name,
            version: p.version,
            arch: p.arch.unwrap_or_default(),
            source_name,
            source_version: None,
            db: PackageDb::Apk,
            db_path: path.to_string(),
            license: Some(whittle_sbom::apk_license(&p.license)).filter(|l| !l.is_empty()),
            maintainer: p.maintainer,
            homepage: (!p.url.is_empty()).then_some(p.url),
            depends,
            provides,
        });
    }
}
