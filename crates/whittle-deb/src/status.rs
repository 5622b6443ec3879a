//! dpkg installed-package records: distroless-style `/var/lib/dpkg/status.d/<package>` entries
//! and a classic `/var/lib/dpkg/status` file, written from control stanzas.
//!
//! Google's distroless writes, for each package, the `.deb`'s `control` stanza with
//! `Status: install ok installed` after `Package`. Scanners (Trivy, Grype/Syft) read these.

use crate::control::{Stanza, write_field};

/// The `Status` value of an installed package.
pub const INSTALLED: &str = "install ok installed";

/// Fields that belong to the archive index, not to an installed package: dropped from
/// status entries (compared case-insensitively).
pub const ARCHIVE_ONLY_FIELDS: &[&str] = &[
    "Filename",
    "Size",
    "MD5sum",
    "SHA1",
    "SHA256",
    "SHA512",
    "Description-md5",
    "Tag",
    "Task",
    "Phased-Update-Percentage",
    "Supported",
];

fn is_archive_only(name: &str) -> bool {
    ARCHIVE_ONLY_FIELDS
        .iter()
        .any(|f| f.len() == name.len() && f.eq_ignore_ascii_case(name))
}

/// Suffixes of files in `status.d/` that are not package entries (distroless keeps the
/// `.md5sums` lists and maintainer scripts beside them).
const NOT_ENTRIES: &[&str] = &[
    ".md5sums",
    ".preinst",
    ".postinst",
    ".prerm",
    ".postrm",
    ".list",
    ".conffiles",
    ".shlibs",
    ".symbols",
    ".triggers",
    ".templates",
    ".config",
];

/// Whether `path` in `status.d/` is a package entry (not an `.md5sums` list or a script).
pub fn is_status_d_entry(path: &str) -> bool {
    !NOT_ENTRIES.iter().any(|s| path.ends_with(s))
}

/// The entry distroless writes to `/var/lib/dpkg/status.d/<package>` for one package.
///
/// `pkg_stanza` is the package's control stanza (ideally the `.deb`'s `control` file, so the
/// full `Description` is kept; a `Packages` stanza works too). Fields keep their order;
/// `Status: install ok installed` is inserted right after `Package` (replacing any `Status`
/// already present, and placed first when there is no `Package`); archive-only fields
/// ([`ARCHIVE_ONLY_FIELDS`]) are dropped. The text ends with one newline and parses back
/// with [`crate::control::parse_stanzas`] as one stanza.
pub fn status_d_entry(pkg_stanza: &Stanza) -> String {
    let mut out = String::with_capacity(
        pkg_stanza
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.len() + 3)
            .sum::<usize>()
            + 32,
    );
    let has_package = pkg_stanza.contains("Package");
    if !has_package {
        write_field(&mut out, "Status", INSTALLED);
    }
    for (name, value) in &pkg_stanza.fields {
        if is_archive_only(name) || name.eq_ignore_ascii_case("Status") {
            continue;
        }
        write_field(&mut out, name, value);
        if has_package && name.eq_ignore_ascii_case("Package") {
            write_field(&mut out, "Status", INSTALLED);
        }
    }
    out
}

/// A classic `/var/lib/dpkg/status` file: the [`status_d_entry`] of each stanza, sorted by
/// `Package` then `Architecture` (as dpkg writes it, so the output does not depend on the
/// input order), each followed by a blank line.
pub fn status_file<'a>(entries: impl IntoIterator<Item = &'a Stanza>) -> String {
    let mut stanzas: Vec<&Stanza> = entries.into_iter().collect();
    stanzas.sort_by(|a, b| {
        let key = |s: &'a Stanza| {
            (
                s.get("Package").unwrap_or(""),
                s.get("Architecture").unwrap_or(""),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out = String::new();
    for s in stanzas {
        out.push_str(&status_d_entry(s));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_d_entries_are_stanzas_not_lists_or_scripts() {
        assert!(is_status_d_entry("libc6"));
        assert!(is_status_d_entry("var/lib/dpkg/status.d/base-files"));
        for other in [
            "libc6.md5sums",
            "x.postinst",
            "x.conffiles",
            "x.list",
            "x.triggers",
        ] {
            assert!(!is_status_d_entry(other), "{other}");
        }
    }
    use crate::control::parse_stanzas;

    const PACKAGES_STANZA: &str = "Package: libsqlite3-0
Source: sqlite3
Version: 3.40.1-2
Installed-Size: 1752
Maintainer: Laszlo Boszormenyi (GCS) <gcs@debian.org>
Architecture: amd64
Multi-Arch: same
Depends: libc6 (>= 2.34)
Description: SQLite 3 shared library
Homepage: https://www.sqlite.org/
Description-md5: 5cf1d1b48b5bd4a8a2a8b7d6e4e0d0b7
Tag: role::shared-lib
Section: libs
Priority: optional
Filename: pool/main/s/sqlite3/libsqlite3-0_3.40.1-2_amd64.deb
Size: 830412
MD5sum: 00000000000000000000000000000000
SHA256: 0000000000000000000000000000000000000000000000000000000000000000
";

    #[test]
    fn drops_archive_fields_and_inserts_status() {
        let s = &parse_stanzas("P", PACKAGES_STANZA).unwrap()[0];
        let text = status_d_entry(s);
        assert!(
            text.starts_with(
                "Package: libsqlite3-0\nStatus: install ok installed\nSource: sqlite3\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("Priority: optional\n"), "{text}");
        for gone in [
            "Filename:",
            "Size:",
            "MD5sum:",
            "SHA256:",
            "Description-md5:",
            "Tag:",
        ] {
            assert!(
                !text.lines().any(|l| l.starts_with(gone)),
                "{gone} in {text}"
            );
        }
        let back = parse_stanzas("status.d", &text).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].get("Status"), Some(INSTALLED));
        assert_eq!(back[0].fields.len(), s.fields.len() - 6 + 1);
    }

    #[test]
    fn replaces_existing_status_and_handles_missing_package() {
        let s = &parse_stanzas(
            "t",
            "Package: a\nVersion: 1\nStatus: deinstall ok config-files\n",
        )
        .unwrap()[0];
        assert_eq!(
            status_d_entry(s),
            "Package: a\nStatus: install ok installed\nVersion: 1\n"
        );
        let s = &parse_stanzas("t", "Version: 1\n").unwrap()[0];
        assert_eq!(
            status_d_entry(s),
            "Status: install ok installed\nVersion: 1\n"
        );
    }

    #[test]
    fn status_file_sorted_and_separated() {
        let s = parse_stanzas("t", "Package: b\nArchitecture: all\n\nPackage: a\nArchitecture: amd64\nDescription: x\n y\n .\n z\n").unwrap();
        let text = status_file(&s);
        assert_eq!(
            text,
            "Package: a\nStatus: install ok installed\nArchitecture: amd64\nDescription: x\n y\n .\n z\n\nPackage: b\nStatus: install ok installed\nArchitecture: all\n\n"
        );
        let back = parse_stanzas("status", &text).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].get("Description"), Some("x\n y\n .\n z"));
    }
}
