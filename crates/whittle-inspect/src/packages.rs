//! Installed packages of the merged tree (dpkg `status`, distroless `status.d`, apk `installed`),
//! their real sizes from their file lists, and which tree paths some package owns.

use std::collections::HashSet;

use serde::Serialize;

use crate::merge::{Merged, Resolved};
use crate::walk::Kind;

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// `dpkg` or `apk`.
    pub manager: &'static str,
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The size the database declares (dpkg `Installed-Size` × 1024, apk `I:`).
    pub declared_size: Option<u64>,
    /// Bytes of the regular files it owns in the final tree (0 without a file list).
    pub size: u64,
    /// Files (non-directories) it owns that exist in the final tree.
    pub files: usize,
    /// Whether the database has a file list for it.
    pub has_file_list: bool,
}

/// The package databases found in an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageDb {
    /// Installed packages, by name.
    pub packages: Vec<Package>,
    /// Tree paths (resolved through symlinked parents) some package lists.
    pub owned: HashSet<String>,
    /// Whether any file list exists (only then can unowned files be reported).
    pub has_file_lists: bool,
    /// Problems reading the databases.
    pub warnings: Vec<String>,
}

fn text(m: &Merged, path: &str) -> Option<String> {
    let e = m.get(path)?;
    e.content
        .as_deref()
        .map(|c| String::from_utf8_lossy(c).into_owned())
}

/// Owned paths of one package (as listed) → (files in the tree, bytes), adding them to `owned`.
fn own<'a>(
    m: &Merged,
    listed: impl Iterator<Item = &'a str>,
    owned: &mut HashSet<String>,
) -> (usize, u64) {
    let (mut files, mut bytes) = (0, 0u64);
    for p in listed {
        let p = p.trim();
        if p.is_empty() || p == "/" || p == "/." {
            continue;
        }
        // a listed directory may be a symlink to one in the tree (merged /usr: `/bin`)
        if let Resolved::Found(t) = m.resolve(p, true)
            && m.get(&t).is_some_and(|e| e.kind == Kind::Dir)
        {
            continue;
        }
        let Resolved::Found(tree) = m.resolve(p, false) else {
            continue;
        };
        let Some(e) = m.get(&tree) else { continue };
        if e.kind == Kind::Dir {
            continue;
        }
        if owned.insert(tree) {
            files += 1;
            if e.kind == Kind::File {
                bytes = bytes.saturating_add(e.size);
            }
        }
    }
    (files, bytes)
}

/// Read the package databases of the merged tree; `None` when there is none.
pub fn packages(m: &Merged) -> Option<PackageDb> {
    let mut db = PackageDb::default();
    let mut found = false;
    if let Some(status) = text(m, "var/lib/dpkg/status") {
        found = true;
        match whittle_deb::parse_stanzas("/var/lib/dpkg/status", &status) {
            Ok(stanzas) => {
                for s in stanzas {
                    if !s.get("Status").unwrap_or("").ends_with(" installed") {
                        continue;
                    }
                    let name = s.get("Package").unwrap_or("").to_string();
                    let arch = s.get("Architecture").unwrap_or("");
                    let list = text(m, &format!("var/lib/dpkg/info/{name}.list"))
                        .or_else(|| text(m, &format!("var/lib/dpkg/info/{name}:{arch}.list")));
                    let mut pkg = dpkg_package(&s, name);
                    if let Some(list) = list {
                        db.has_file_lists = true;
                        pkg.has_file_list = true;
                        (pkg.files, pkg.size) = own(m, list.lines(), &mut db.owned);
                    }
                    db.packages.push(pkg);
                }
            }
            Err(e) => db.warnings.push(e.to_string()),
        }
    }
    let status_d: Vec<&String> = m
        .under("var/lib/dpkg/status.d/")
        .filter(|(k, e)| e.content.is_some() && whittle_deb::status::is_status_d_entry(k))
        .map(|(k, _)| k)
        .collect();
    for path in status_d {
        found = true;
        let Some(t) = text(m, path) else { continue };
        match whittle_deb::parse_stanzas(path, &t) {
            Ok(stanzas) => {
                for s in stanzas {
                    let name = s.get("Package").unwrap_or("").to_string();
                    let mut pkg = dpkg_package(&s, name);
                    let sums = text(m, &format!("{path}.md5sums"));
                    if let Some(sums) = sums {
                        db.has_file_lists = true;
                        pkg.has_file_list = true;
                        let listed = sums
                            .lines()
                            .filter_map(|l| l.split_once("  ").map(|(_, p)| p))
                            .map(str::to_string)
                            .map(|p| format!("/{}", p.trim_start_matches('/')))
                            .collect::<Vec<_>>();
                        (pkg.files, pkg.size) =
                            own(m, listed.iter().map(String::as_str), &mut db.owned);
                    }
                    db.packages.push(pkg);
                }
            }
            Err(e) => db.warnings.push(e.to_string()),
        }
    }
    for path in ["lib/apk/db/installed", "usr/lib/apk/db/installed"] {
        let Some(e) = m.get(path) else { continue };
        let Some(content) = e.content.as_deref() else {
            continue;
        };
        found = true;
        match whittle_apk::package::installed::parse_installed(path, content) {
            Ok(parsed) => {
                db.has_file_lists = true;
                for p in parsed.packages {
                    let listed: Vec<String> = p
                        .dirs
                        .iter()
                        .flat_map(|d| {
                            d.files
                                .iter()
                                .map(move |f| format!("/{}/{}", d.path, f.name).replace("//", "/"))
                        })
                        .collect();
                    let (files, size) = own(m, listed.iter().map(String::as_str), &mut db.owned);
                    db.packages.push(Package {
                        manager: "apk",
                        name: p.name,
                        version: p.version,
                        declared_size: Some(p.installed_size),
                        size,
                        files,
                        has_file_list: true,
                    });
                }
            }
            Err(e) => db.warnings.push(e.to_string()),
        }
    }
    db.packages.sort_by(|a, b| a.name.cmp(&b.name));
    found.then_some(db)
}

fn dpkg_package(s: &whittle_deb::Stanza, name: String) -> Package {
    Package {
        manager: "dpkg",
        name,
        version: s.get("Version").unwrap_or("").to_string(),
        declared_size: s
            .get("Installed-Size")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|k| k.saturating_mul(1024)),
        size: 0,
        files: 0,
        has_file_list: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::{LayerScan, RawEntry};

    fn entry(path: &str, kind: Kind, size: u64, content: Option<&str>) -> RawEntry {
        RawEntry {
            link: (kind == Kind::Symlink).then(|| "usr/bin".to_string()),
            content: content.map(|c| c.as_bytes().to_vec()),
            ..RawEntry::for_test(path, kind, size)
        }
    }

    fn merged(entries: Vec<RawEntry>) -> Merged {
        let mut m = Merged::new();
        m.apply(LayerScan {
            entries,
            ..LayerScan::default()
        });
        m
    }

    #[test]
    fn dpkg_status_with_file_lists_through_merged_usr() {
        let status = "Package: bash\nStatus: install ok installed\nVersion: 5.2-1\nInstalled-Size: 7000\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
        let m = merged(vec![
            entry("bin", Kind::Symlink, 0, None),
            entry("usr/bin/bash", Kind::File, 1000, None),
            entry("usr/share/doc/bash/copyright", Kind::File, 10, None),
            entry("var/lib/dpkg/status", Kind::File, 0, Some(status)),
            entry(
                "var/lib/dpkg/info/bash.list",
                Kind::File,
                0,
                Some("/.\n/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n/usr/share/missing\n"),
            ),
        ]);
        let db = packages(&m).unwrap();
        assert_eq!(db.packages.len(), 1, "deinstalled packages are skipped");
        let bash = &db.packages[0];
        assert_eq!((bash.files, bash.size), (2, 1010));
        assert_eq!(bash.declared_size, Some(7000 * 1024));
        assert!(db.owned.contains("usr/bin/bash"));
        assert!(db.has_file_lists);
    }

    #[test]
    fn distroless_status_d_with_md5sums() {
        let m = merged(vec![
            entry("etc/ssl/certs/ca.crt", Kind::File, 50, None),
            entry(
                "var/lib/dpkg/status.d/ca-certificates",
                Kind::File,
                0,
                Some("Package: ca-certificates\nVersion: 2023\nInstalled-Size: 1\n"),
            ),
            entry(
                "var/lib/dpkg/status.d/ca-certificates.md5sums",
                Kind::File,
                0,
                Some("0123456789abcdef0123456789abcdef  etc/ssl/certs/ca.crt\n"),
            ),
            entry(
                "var/lib/dpkg/status.d/tzdata",
                Kind::File,
                0,
                Some("Package: tzdata\nVersion: 2024a\nInstalled-Size: 2\n"),
            ),
            // scripts and conffile lists beside the entries are not packages
            entry(
                "var/lib/dpkg/status.d/tzdata.postinst",
                Kind::File,
                0,
                Some("#!/bin/sh\nset -e\n"),
            ),
            entry(
                "var/lib/dpkg/status.d/tzdata.conffiles",
                Kind::File,
                0,
                Some("/etc/timezone\n"),
            ),
        ]);
        let db = packages(&m).unwrap();
        assert!(db.warnings.is_empty(), "{:?}", db.warnings);
        let names: Vec<&str> = db.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ca-certificates", "tzdata"]);
        assert_eq!((db.packages[0].files, db.packages[0].size), (1, 50));
        assert!(!db.packages[1].has_file_list);
    }

    #[test]
    fn no_database_means_none() {
        assert!(packages(&merged(vec![entry("app", Kind::File, 1, None)])).is_none());
    }
}
