//! dpkg databases: the classic `var/lib/dpkg/status` and distroless `status.d/<package>` files.

use whittle_deb::Stanza;

use crate::{Catalog, Package, PackageDb, finding};

/// Path of the dpkg status file inside an image.
pub const STATUS_PATH: &str = "var/lib/dpkg/status";
/// Directory of distroless per-package status entries (with trailing `/`).
pub const STATUS_D_DIR: &str = "var/lib/dpkg/status.d/";

/// Whether `path` in `status.d/` is a package entry (not an `.md5sums` list or a script).
pub use whittle_deb::status::is_status_d_entry;

/// Splits `Source: name (version)` into name and optional version.
pub fn parse_source(field: &str) -> (String, Option<String>) {
    let field = field.trim();
    match field.split_once('(') {
        Some((name, rest)) => {
            let ver = rest.trim_end().trim_end_matches(')').trim();
            (
                name.trim().to_string(),
                (!ver.is_empty()).then(|| ver.to_string()),
            )
        }
        None => (field.to_string(), None),
    }
}

/// The package names a relationship field (`Depends`, `Pre-Depends`, `Provides`) lists: every
/// alternative, without version constraints, architecture qualifiers (`:any`) or build
/// profiles; at most 1024.
pub fn relation_names(field: &str) -> Vec<String> {
    field
        .split([',', '|'])
        .filter_map(|alt| {
            let name = alt.trim().split([' ', '(', '[', '<', '\t']).next()?;
            let name = name.split(':').next()?.trim();
            (!name.is_empty()).then(|| name.to_string())
        })
        .take(1024)
        .collect()
}

/// Whether a `Status:` value says the package is installed (`install ok installed`; also
/// `hold ok installed`). Half-installed, config-files and not-installed entries are not.
pub fn is_installed(status: &str) -> bool {
    status.split_whitespace().nth(2) == Some("installed")
}

/// One package from a stanza, or why the stanza was skipped (`Ok(None)`: not installed).
pub fn package_from_stanza(
    stanza: &Stanza,
    db: PackageDb,
    db_path: &str,
) -> Result<Option<Package>, String> {
    if let Some(status) = stanza.get("Status")
        && !is_installed(status)
    {
        return Ok(None);
    }
    let name = stanza
        .get("Package")
        .filter(|n| !n.is_empty())
        .ok_or("record without a `Package` field")?;
    let version = stanza
        .get("Version")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("package `{name}` has no `Version` field"))?;
    if let Err(e) = version.parse::<whittle_deb::Version>() {
        return Err(format!(
            "package `{name}`: invalid version `{version}`: {e}"
        ));
    }
    let (source_name, source_version) = match stanza.get("Source") {
        Some(s) if !s.is_empty() => {
            let (n, v) = parse_source(s);
            (Some(n), v)
        }
        _ => (None, None),
    };
    let mut depends: Vec<String> = ["Pre-Depends", "Depends"]
        .iter()
        .filter_map(|f| stanza.get(f))
        .flat_map(relation_names)
        .collect();
    depends.sort();
    depends.dedup();
    let mut provides = stanza
        .get("Provides")
        .map(relation_names)
        .unwrap_or_default();
    provides.sort();
    provides.dedup();
    Ok(Some(Package {
        name: name.to_string(),
        version: version.to_string(),
        arch: stanza.get("Architecture").unwrap_or("").to_string(),
        source_name,
        source_version,
        db,
        db_path: db_path.to_string(),
        license: None,
        maintainer: stanza.get("Maintainer").map(str::to_string),
        homepage: stanza.get("Homepage").map(str::to_string),
        depends,
        provides,
    }))
}

/// Reads a status file (or one `status.d` entry) into `cat`. Each stanza is parsed on its
/// own, so a damaged stanza becomes a finding and the others are kept.
pub fn read_status(path: &str, db: PackageDb, bytes: &[u8], cat: &mut Catalog) {
    let text = String::from_utf8_lossy(bytes);
    let mut block = String::new();
    let mut block_start = 1usize;
    let flush = |block: &mut String, start: usize, cat: &mut Catalog| {
        if block.trim().is_empty() {
            block.clear();
            return;
        }
        match whittle_deb::parse_stanzas(path, block) {
            Ok(stanzas) => {
                for s in stanzas {
                    let line = start + s.line.saturating_sub(1);
                    match package_from_stanza(&s, db, path) {
                        Ok(Some(p)) => cat.packages.push(p),
                        Ok(None) => {}
                        Err(msg) => cat.findings.push(finding(
                            path,
                            Some(line),
                            format!("{path} line {line}: {msg}; record skipped"),
                        )),
                    }
                }
            }
            Err(e) => cat.findings.push(finding(
                path,
                Some(start),
                format!("{path}: record starting at line {start} is damaged ({e}); record skipped"),
            )),
        }
        block.clear();
    };
    let mut line_no = 0usize;
    for line in text.split('\n') {
        line_no += 1;
        if line.trim().is_empty() {
            flush(&mut block, block_start, cat);
            block_start = line_no + 1;
        } else {
            block.push_str(line);
            block.push('\n');
        }
    }
    flush(&mut block, block_start, cat);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn source_forms() {
        assert_eq!(parse_source("pam"), ("pam".into(), None));
        assert_eq!(
            parse_source("glibc (2.36-9+deb12u4)"),
            ("glibc".into(), Some("2.36-9+deb12u4".into()))
        );
        assert_eq!(parse_source(" x ( ) "), ("x".into(), None));
    }

    #[test]
    fn damaged_stanza_is_a_finding_others_kept() {
        let text = b"Package: a\nStatus: install ok installed\nVersion: 1.0\nSource: s (0.9)\n\nbroken line\n\nPackage: c\nVersion: 2\n\nPackage: d\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: e\n";
        let mut cat = Catalog::default();
        read_status("var/lib/dpkg/status", PackageDb::DpkgStatus, text, &mut cat);
        let names: Vec<_> = cat.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(cat.packages[0].source(), "s");
        assert_eq!(cat.packages[0].source_ver(), "0.9");
        assert_eq!(cat.packages[1].source(), "c");
        assert_eq!(cat.findings.len(), 2);
        assert_eq!(cat.findings[0].location.line, Some(6));
        assert!(cat.findings[1].message.contains("`e` has no `Version`"));
    }

    #[test]
    fn relations() {
        assert_eq!(
            relation_names(
                "libc6 (>= 2.34), libgmp10 (>= 2:6.2.1+dfsg1) | foo:any, libmpfr6 [amd64] <!nocheck>"
            ),
            ["libc6", "libgmp10", "foo", "libmpfr6"]
        );
        assert!(relation_names(" , |").is_empty());
    }

    proptest! {
        #[test]
        fn read_status_never_panics(s in "[A-Za-z:() .\n-]{0,200}") {
            let mut cat = Catalog::default();
            read_status("x", PackageDb::DpkgStatus, s.as_bytes(), &mut cat);
            for p in &cat.packages {
                prop_assert!(!p.name.is_empty() && !p.version.is_empty());
            }
        }
    }
}
