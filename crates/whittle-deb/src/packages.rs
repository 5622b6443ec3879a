//! `Packages` index stanzas as typed package records.

use std::str::FromStr;

use crate::control::{Stanza, parse_stanzas};
use crate::relation::{parse_relation_list, parse_relations, valid_package_name};
use crate::{Dependency, Error, Relation, Version};

/// `Multi-Arch` field values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MultiArch {
    /// Absent or `no`.
    #[default]
    No,
    /// `same`
    Same,
    /// `foreign`
    Foreign,
    /// `allowed`
    Allowed,
}

/// One binary package as listed in a `Packages` index.
///
/// [`Package::from_stanza`] validates the fields it types: `Package`, `Version`,
/// `Architecture`, `Filename`, `Size` and `SHA256` are required.
#[derive(Debug, Clone)]
pub struct Package {
    /// `Package`
    pub name: String,
    /// `Version`
    pub version: Version,
    /// `Architecture` (`amd64`, `all`, ...)
    pub architecture: String,
    /// `Multi-Arch`
    pub multi_arch: MultiArch,
    /// `Essential: yes`
    pub essential: bool,
    /// `Priority`
    pub priority: Option<String>,
    /// `Source` name, defaulting to the package name.
    pub source: String,
    /// `Source` version when given as `Source: name (version)`, else the package version.
    pub source_version: Version,
    /// `Pre-Depends`
    pub pre_depends: Vec<Dependency>,
    /// `Depends`
    pub depends: Vec<Dependency>,
    /// `Provides` (only `=` constraints are meaningful)
    pub provides: Vec<Relation>,
    /// `Conflicts`
    pub conflicts: Vec<Relation>,
    /// `Breaks`
    pub breaks: Vec<Relation>,
    /// `Filename`, relative to the repository root.
    pub filename: String,
    /// `Size` of the `.deb` in bytes.
    pub size: u64,
    /// `SHA256` of the `.deb`, lowercase hex.
    pub sha256: String,
    /// The whole stanza, for writing `status.d` entries and SBOM fields.
    pub stanza: Stanza,
}

impl FromStr for MultiArch {
    type Err = String;

    /// Parses `no`, `same`, `foreign` or `allowed` (case-insensitive).
    fn from_str(s: &str) -> Result<MultiArch, String> {
        let s = s.trim_ascii();
        if s.eq_ignore_ascii_case("no") {
            Ok(MultiArch::No)
        } else if s.eq_ignore_ascii_case("same") {
            Ok(MultiArch::Same)
        } else if s.eq_ignore_ascii_case("foreign") {
            Ok(MultiArch::Foreign)
        } else if s.eq_ignore_ascii_case("allowed") {
            Ok(MultiArch::Allowed)
        } else {
            Err(format!(
                "unknown value {:?}; expected no, same, foreign or allowed",
                crate::control::truncate(s, 40)
            ))
        }
    }
}

impl MultiArch {
    /// The value as written in control files.
    pub fn as_str(self) -> &'static str {
        match self {
            MultiArch::No => "no",
            MultiArch::Same => "same",
            MultiArch::Foreign => "foreign",
            MultiArch::Allowed => "allowed",
        }
    }
}

/// Why `path` is not a safe repository-relative `Filename`, if it is not.
fn filename_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') {
        return Some("is an absolute path; it must be relative to the repository root");
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b'\\') {
        return Some("contains control characters or backslashes");
    }
    if path
        .split('/')
        .any(|c| c == ".." || c == "." || c.is_empty())
    {
        return Some(
            "contains '..', '.' or empty path components; it must stay inside the repository",
        );
    }
    if !is_path_below(path) {
        return Some(
            "is longer than 1024 bytes, holds spaces, `?` or `#`, or escapes the repository once percent-decoded (%2e%2e, %2f); it must stay inside the repository",
        );
    }
    None
}

/// Longest package path under a repository an index or a lock may name (Debian's longest pool
/// paths are a few hundred characters).
const MAX_RELATIVE_URL: usize = 1024;

/// Whether `rest` is a path strictly below a repository: bounded, plain segments, none of
/// them `.` or `..` — also when percent-decoded (`%2e%2e`, which servers and URL parsers
/// take for `..`) — no escaped `/` or `\`, no query, fragment, spaces or control characters.
pub fn is_path_below(rest: &str) -> bool {
    !rest.is_empty()
        && rest.len() <= MAX_RELATIVE_URL
        && !rest
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '\\'))
        && rest.split('/').all(|s| {
            let plain = percent_decoded(s);
            !plain.is_empty()
                && plain != b"."
                && plain != b".."
                && !plain.iter().any(|&b| matches!(b, b'/' | b'\\' | 0))
        })
}

/// `s` with its `%XX` escapes decoded (a `%` not followed by two hex digits kept as is).
fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |x: u8| (x as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

impl Package {
    /// Types the fields of one `Packages` (or `.deb` `control`) stanza. `origin` names the file
    /// in errors, which also name the stanza's line, the package and the field.
    ///
    /// Required: `Package`, `Version`, `Architecture`, `Filename`, `Size`, `SHA256` (64 hex
    /// digits, stored lowercase). `Filename` must be a relative path without `..`.
    pub fn from_stanza(origin: &str, stanza: &Stanza) -> Result<Package, Error> {
        Package::from_owned_stanza(origin, stanza.clone())
    }

    /// Like [`Package::from_stanza`], taking the stanza by value (no copy).
    pub fn from_owned_stanza(origin: &str, stanza: Stanza) -> Result<Package, Error> {
        let name = stanza.get("Package").unwrap_or("");
        let fail = |field: &str, reason: String| Error::Field {
            origin: origin.to_owned(),
            line: stanza.line,
            package: crate::control::truncate(name, 100).to_owned(),
            field: field.to_owned(),
            reason,
        };
        let required = |field: &str| {
            stanza
                .get(field)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| fail(field, "required field is missing or empty".to_owned()))
        };
        let name = required("Package")?;
        if !valid_package_name(name) {
            return Err(fail(
                "Package",
                "invalid package name (expected letters, digits and + - . _, starting with a letter or digit)".to_owned(),
            ));
        }
        let version: Version = required("Version")?
            .parse()
            .map_err(|e: Error| fail("Version", e.to_string()))?;
        let architecture = required("Architecture")?;
        if !architecture
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(fail(
                "Architecture",
                format!("invalid architecture {architecture:?} (expected e.g. amd64, arm64, all)"),
            ));
        }
        let filename = required("Filename")?;
        if let Some(problem) = filename_problem(filename) {
            return Err(fail("Filename", format!("{filename:?} {problem}")));
        }
        let size: u64 = required("Size")?.parse().map_err(|_| {
            fail(
                "Size",
                "not a non-negative integer number of bytes".to_owned(),
            )
        })?;
        let sha256 = required("SHA256")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail("SHA256", "expected 64 hexadecimal digits".to_owned()));
        }
        let multi_arch = match stanza.get("Multi-Arch") {
            None => MultiArch::No,
            Some(v) => v.parse().map_err(|e| fail("Multi-Arch", e))?,
        };
        let essential = match stanza.get("Essential") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("yes") => true,
            Some(v) if v.eq_ignore_ascii_case("no") => false,
            Some(v) => {
                return Err(fail(
                    "Essential",
                    format!(
                        "expected yes or no, found {:?}",
                        crate::control::truncate(v, 40)
                    ),
                ));
            }
        };
        let (source, source_version) = match stanza.get("Source") {
            None | Some("") => (name.to_owned(), version.clone()),
            Some(v) => parse_source(v).map_err(|e| fail("Source", e))?.map_or_else(
                |src| (src.to_owned(), version.clone()),
                |(src, ver)| (src.to_owned(), ver),
            ),
        };
        let deps = |field: &str| -> Result<Vec<Dependency>, Error> {
            match stanza.get(field) {
                None => Ok(Vec::new()),
                Some(v) => parse_relations(v).map_err(|e| fail(field, e.to_string())),
            }
        };
        let list = |field: &str| -> Result<Vec<Relation>, Error> {
            match stanza.get(field) {
                None => Ok(Vec::new()),
                Some(v) => parse_relation_list(v).map_err(|e| fail(field, e.to_string())),
            }
        };
        let pre_depends = deps("Pre-Depends")?;
        let depends = deps("Depends")?;
        let provides = list("Provides")?;
        let conflicts = list("Conflicts")?;
        let breaks = list("Breaks")?;
        Ok(Package {
            name: name.to_owned(),
            version,
            architecture: architecture.to_owned(),
            multi_arch,
            essential,
            priority: stanza
                .get("Priority")
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
            source,
            source_version,
            pre_depends,
            depends,
            provides,
            conflicts,
            breaks,
            filename: filename.to_owned(),
            size,
            sha256: sha256.to_ascii_lowercase(),
            stanza,
        })
    }

    /// `Recommends`, parsed on demand (empty when absent).
    pub fn recommends(&self) -> Result<Vec<Dependency>, Error> {
        self.stanza
            .get("Recommends")
            .map_or(Ok(Vec::new()), parse_relations)
    }

    /// `Replaces`, parsed on demand (empty when absent).
    pub fn replaces(&self) -> Result<Vec<Relation>, Error> {
        self.stanza
            .get("Replaces")
            .map_or(Ok(Vec::new()), parse_relation_list)
    }

    /// `Installed-Size` in KiB, when present and numeric.
    pub fn installed_size_kib(&self) -> Option<u64> {
        self.stanza.get("Installed-Size")?.parse().ok()
    }

    /// The `.deb` file name part of `Filename` (after the last `/`).
    pub fn deb_file_name(&self) -> &str {
        self.filename.rsplit('/').next().unwrap_or(&self.filename)
    }
}

/// Splits `Source: name` / `Source: name (version)`: `Err(reason)` when malformed, `Ok(Err(name))`
/// without a version, `Ok(Ok((name, version)))` with one.
#[allow(clippy::type_complexity)]
fn parse_source(value: &str) -> Result<Result<(&str, Version), &str>, String> {
    let (name, rest) = match value.split_once(|c: char| c.is_ascii_whitespace() || c == '(') {
        Some((n, _)) => (n, value[n.len()..].trim_ascii()),
        None => (value, ""),
    };
    if !valid_package_name(name) {
        return Err(format!(
            "invalid source package name {:?}",
            crate::control::truncate(name, 80)
        ));
    }
    if rest.is_empty() {
        return Ok(Err(name));
    }
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| "expected `name` or `name (version)`".to_owned())?;
    let version: Version = inner.parse().map_err(|e: Error| e.to_string())?;
    Ok(Ok((name, version)))
}

/// Parses a whole `Packages` index into typed packages, in file order. `origin` names the file
/// in errors.
pub fn parse_packages(origin: &str, text: &str) -> Result<Vec<Package>, Error> {
    let stanzas = parse_stanzas(origin, text)?;
    let mut out = Vec::with_capacity(stanzas.len());
    for stanza in stanzas {
        out.push(Package::from_owned_stanza(origin, stanza)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Op;

    const GAWK: &str = "Package: gawk
Version: 1:5.2.1-2
Installed-Size: 2906
Maintainer: Adrian Bunk <bunk@debian.org>
Architecture: amd64
Provides: awk
Pre-Depends: libc6 (>= 2.34), libgmp10 (>= 2:6.2.1+dfsg1), libmpfr6 (>= 3.1.3), libreadline8 (>= 6.0), libsigsegv2 (>= 2.9)
Suggests: gawk-doc
Description: GNU awk, a pattern scanning and processing language
Multi-Arch: foreign
Homepage: http://www.gnu.org/software/gawk/
Description-md5: 0dce81fe543994c3caea814e2777732e
Section: interpreters
Priority: optional
Filename: pool/main/g/gawk/gawk_5.2.1-2_amd64.deb
Size: 672772
MD5sum: 37a046e07c55a0c6e6ae5d0191bb5931
SHA256: 9CD63C1B35FF082092C221A23DCB167F72C4D1C3DE3A42E11F16181F42AB3B55
";

    fn with(field: &str, value: &str) -> String {
        let mut out = String::new();
        let mut replaced = false;
        for line in GAWK.lines() {
            if line.starts_with(&format!("{field}:")) {
                replaced = true;
                if !value.is_empty() {
                    out.push_str(&format!("{field}: {value}\n"));
                }
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        if !replaced {
            out.push_str(&format!("{field}: {value}\n"));
        }
        out
    }

    #[test]
    fn types_a_real_stanza() {
        let p = &parse_packages("Packages", GAWK).unwrap()[0];
        assert_eq!(p.name, "gawk");
        assert_eq!(p.version.to_string(), "1:5.2.1-2");
        assert_eq!(p.architecture, "amd64");
        assert_eq!(p.multi_arch, MultiArch::Foreign);
        assert!(!p.essential);
        assert_eq!(p.priority.as_deref(), Some("optional"));
        assert_eq!(p.source, "gawk");
        assert_eq!(p.source_version, p.version);
        assert_eq!(p.pre_depends.len(), 5);
        assert_eq!(
            p.pre_depends[1][0].constraint,
            Some((Op::Ge, "2:6.2.1+dfsg1".parse().unwrap()))
        );
        assert!(p.depends.is_empty());
        assert_eq!(p.provides, [Relation::new("awk")]);
        assert_eq!(p.size, 672772);
        assert_eq!(
            p.sha256,
            "9cd63c1b35ff082092c221a23dcb167f72c4d1c3de3a42e11f16181f42ab3b55"
        );
        assert_eq!(p.deb_file_name(), "gawk_5.2.1-2_amd64.deb");
        assert_eq!(p.installed_size_kib(), Some(2906));
        assert_eq!(p.stanza.get("Suggests"), Some("gawk-doc"));
        assert!(p.recommends().unwrap().is_empty());
    }

    #[test]
    fn source_with_version() {
        let p = &parse_packages("P", &with("Source", "gcc-12 (12.2.0-14)")).unwrap()[0];
        assert_eq!(p.source, "gcc-12");
        assert_eq!(p.source_version.to_string(), "12.2.0-14");
        let p = &parse_packages("P", &with("Source", "mawk")).unwrap()[0];
        assert_eq!((p.source.as_str(), &p.source_version), ("mawk", &p.version));
        assert!(parse_packages("P", &with("Source", "mawk (1.0")).is_err());
        assert!(parse_packages("P", &with("Source", "mawk 1.0")).is_err());
    }

    #[test]
    fn errors_name_package_and_field() {
        for (field, value, expect) in [
            ("Version", "", "field Version: required field is missing"),
            ("Version", "1.0_x", "field Version: invalid Debian version"),
            ("Size", "-1", "field Size:"),
            (
                "SHA256",
                "abc",
                "field SHA256: expected 64 hexadecimal digits",
            ),
            ("Filename", "../../etc/passwd", "field Filename:"),
            ("Filename", "/etc/passwd", "field Filename:"),
            (
                "Filename",
                "pool/%2e%2e/%2e%2e/etc/passwd",
                "field Filename:",
            ),
            ("Filename", "pool/x.deb?../y", "field Filename:"),
            ("Multi-Arch", "maybe", "field Multi-Arch: unknown value"),
            ("Essential", "perhaps", "field Essential:"),
            ("Depends", "libc6 (>= )", "field Depends: invalid relation"),
            ("Provides", "a | b", "field Provides:"),
            ("Architecture", "amd 64", "field Architecture:"),
        ] {
            let text = format!("# comment\n{}", with(field, value));
            let e = parse_packages("Packages", &text).unwrap_err().to_string();
            assert!(e.starts_with("Packages:2: package \"gawk\": "), "{e}");
            assert!(e.contains(expect), "{field}={value}: {e}");
        }
        let e = parse_packages("P", &with("Package", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("field Package: required"), "{e}");
    }

    #[test]
    fn essential_and_multi_arch() {
        let p = &parse_packages("P", &with("Essential", "yes")).unwrap()[0];
        assert!(p.essential);
        let p = &parse_packages("P", &with("Multi-Arch", "same")).unwrap()[0];
        assert_eq!(p.multi_arch, MultiArch::Same);
        let p = &parse_packages("P", &with("Multi-Arch", "")).unwrap()[0];
        assert_eq!(p.multi_arch, MultiArch::No);
    }
}
