//! SBOMs of an image's packages, SPDX 2.3 JSON and CycloneDX 1.6 JSON: deterministic (same
//! input, same bytes; the creation time comes from the input epoch, the namespace/serial from a
//! given seed), plus package-URL helpers and the Debian `copyright` → SPDX license mapping.

mod cyclonedx;
mod license;
mod purl;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use cyclonedx::{CYCLONEDX_SPEC_VERSION, serial_number, to_cyclonedx_json};
pub use license::{
    MAX_COPYRIGHT_BYTES, apk_license, debian_copyright_license, license_ref, short_name_to_spdx,
};
pub use purl::{percent_encode, purl};

/// Why an SBOM could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// A relationship points at a package index that does not exist.
    #[error(
        "relationship {index} refers to package #{package}, but there are only {count} packages; pass indices into `SbomInput::packages`"
    )]
    BadRelationship {
        /// The relationship's index.
        index: usize,
        /// The bad package index.
        package: usize,
        /// How many packages there are.
        count: usize,
    },
    /// A checksum is not hex or names an algorithm SPDX 2.3 does not know.
    #[error("package `{package}`: checksum {algorithm}:{value} is invalid ({reason})")]
    BadChecksum {
        /// The package name.
        package: String,
        /// The algorithm as given.
        algorithm: String,
        /// The value as given.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// JSON serialization failed (should not happen).
    #[error("cannot serialize the SBOM: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the SBOM describes: the image (root package) and its packages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SbomInput {
    /// The document and root-package name, e.g. the image reference.
    pub name: String,
    /// The root package's version (e.g. the image tag), if any.
    pub version: Option<String>,
    /// The root package's purl (e.g. `pkg:oci/…`), if any.
    pub purl: Option<String>,
    /// The image's manifest digest (`sha256:<hex>`), if known: the root package's checksum in
    /// SPDX, `metadata.component`'s hash and `bom-ref` in CycloneDX.
    pub digest: Option<String>,
    /// Seed of the `documentNamespace` (e.g. the image config digest): same seed, same namespace.
    pub namespace_seed: String,
    /// Creation time, seconds since the Unix epoch (`SOURCE_DATE_EPOCH`).
    pub created_epoch: u64,
    /// The creating tool, e.g. `whittle-0.1.0`.
    pub tool: String,
    /// The packages in the image.
    pub packages: Vec<SbomPackage>,
    /// Extra relationships between packages (indices into `packages`).
    pub relationships: Vec<SbomRelationship>,
}

/// One package in the image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SbomPackage {
    /// Binary package name.
    pub name: String,
    /// Full version (with epoch).
    pub version: String,
    /// Architecture (`amd64`, `all`, `x86_64`, …).
    pub arch: String,
    /// Package URL, see [`deb_purl`] / [`apk_purl`].
    pub purl: Option<String>,
    /// Source package name.
    pub source_name: Option<String>,
    /// Source package version.
    pub source_version: Option<String>,
    /// Supplier, e.g. the Debian `Maintainer:` (`Name <mail>`); `Organization: …` kept as is.
    pub supplier: Option<String>,
    /// Declared license as an SPDX expression (see [`debian_copyright_license`]).
    pub license_declared: Option<String>,
    /// Upstream homepage.
    pub homepage: Option<String>,
    /// Where the package was downloaded from.
    pub download_location: Option<String>,
    /// `(algorithm, hex)`: e.g. `("SHA256", "ab12…")`.
    pub checksums: Vec<(String, String)>,
    /// Whether files were analyzed (always `false` for now: no per-file entries are written).
    pub files_analyzed: bool,
    /// What the package is: a library (default) or the operating system.
    pub kind: PackageKind,
}

/// What a package is (SPDX `primaryPackagePurpose`, CycloneDX component `type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PackageKind {
    /// An installed package: SPDX `LIBRARY`, CycloneDX `library`.
    #[default]
    Library,
    /// The distribution itself: SPDX `OPERATING-SYSTEM`, CycloneDX `operating-system`.
    OperatingSystem,
}

/// An SPDX relationship type between two packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RelationshipKind {
    /// `from` DEPENDS_ON `to`.
    DependsOn,
    /// `from` CONTAINS `to`.
    Contains,
    /// `from` GENERATED_FROM `to`.
    GeneratedFrom,
}

impl RelationshipKind {
    /// The SPDX spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationshipKind::DependsOn => "DEPENDS_ON",
            RelationshipKind::Contains => "CONTAINS",
            RelationshipKind::GeneratedFrom => "GENERATED_FROM",
        }
    }
}

/// A relationship between two packages of [`SbomInput::packages`], by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SbomRelationship {
    /// Index of the subject package.
    pub from: usize,
    /// The relationship.
    pub kind: RelationshipKind,
    /// Index of the object package.
    pub to: usize,
}

/// The SPDXID of the document.
pub const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";
/// The SPDXID of the root (image) package.
pub const ROOT_ID: &str = "SPDXRef-Image";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: &'a str,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<Package<'a>>,
    relationships: Vec<Relationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package<'a> {
    name: &'a str,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<String>,
    download_location: &'a str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef<'a> {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    name: String,
    extracted_text: String,
}

const SPDX_ALGORITHMS: [(&str, usize); 9] = [
    ("SHA1", 40),
    ("SHA224", 56),
    ("SHA256", 64),
    ("SHA384", 96),
    ("SHA512", 128),
    ("MD5", 32),
    ("SHA3-256", 64),
    ("SHA3-512", 128),
    ("BLAKE2b-256", 64),
];

/// `[A-Za-z0-9.-]` only: everything else becomes `-`.
pub fn sanitize_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `YYYY-MM-DDThh:mm:ssZ` for seconds since the Unix epoch.
pub fn rfc3339_utc(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2024-01-02T03:04:05Z`,
/// `2024-01-02T03:04:05.123456789+02:00`, as image configs write `created`); `None` when the
/// text is not one or is before 1970.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20
        || b.len() > 64
        || b[4] != b'-'
        || b[7] != b'-'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let t = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    u64::try_from(t).ok()
}

/// The `documentNamespace` for a document name and seed.
pub fn document_namespace(name: &str, seed: &str) -> String {
    let h = hex::encode(Sha256::digest(seed.as_bytes()));
    let n = sanitize_id(name);
    let n = if n.is_empty() { "image".to_string() } else { n };
    format!("https://spdx.org/spdxdocs/whittle/{n}-{h}")
}

fn supplier(s: &Option<String>) -> Option<String> {
    let s = s.as_deref()?.trim();
    if s.is_empty() {
        return None;
    }
    if s == "NOASSERTION" || s.starts_with("Person:") || s.starts_with("Organization:") {
        Some(s.to_string())
    } else {
        Some(format!("Person: {s}"))
    }
}

/// Every relationship names packages that exist.
pub(crate) fn check_relationships(input: &SbomInput) -> Result<(), SbomError> {
    let count = input.packages.len();
    for (index, r) in input.relationships.iter().enumerate() {
        for package in [r.from, r.to] {
            if package >= count {
                return Err(SbomError::BadRelationship {
                    index,
                    package,
                    count,
                });
            }
        }
    }
    Ok(())
}

/// A package's checksums with SPDX algorithm names and lowercase hex, sorted by algorithm;
/// an unknown algorithm or a value of the wrong form is an error.
pub(crate) fn checked_checksums(p: &SbomPackage) -> Result<Vec<(&'static str, String)>, SbomError> {
    let mut checksums = Vec::new();
    for (alg, val) in &p.checksums {
        let norm = alg.to_ascii_uppercase().replace('_', "-");
        let norm = if norm == "BLAKE2B-256" {
            "BLAKE2b-256".to_string()
        } else {
            norm
        };
        let Some((name, len)) = SPDX_ALGORITHMS.iter().find(|(a, _)| *a == norm) else {
            return Err(SbomError::BadChecksum {
                package: p.name.clone(),
                algorithm: alg.clone(),
                value: val.clone(),
                reason: "unknown algorithm",
            });
        };
        if val.len() != *len || !val.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(SbomError::BadChecksum {
                package: p.name.clone(),
                algorithm: alg.clone(),
                value: val.clone(),
                reason: "not a hex digest of the algorithm's length",
            });
        }
        checksums.push((*name, val.to_ascii_lowercase()));
    }
    checksums.sort();
    Ok(checksums)
}

/// `LicenseRef-…` identifiers used in an expression.
fn license_refs(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| t.starts_with("LicenseRef-"))
}

/// Render `input` as an SPDX 2.3 JSON document (pretty-printed, trailing newline).
///
/// Packages are sorted by (name, version, arch, purl) so the caller's order does not matter;
/// SPDXIDs are `SPDXRef-Package-<name>-<version>-<arch>` restricted to `[A-Za-z0-9.-]`, with
/// `-2`, `-3`, … appended on collision.
pub fn to_spdx_json(input: &SbomInput) -> Result<Vec<u8>, SbomError> {
    check_relationships(input)?;
    let count = input.packages.len();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&input.packages[a], &input.packages[b]);
        (&pa.name, &pa.version, &pa.arch, &pa.purl).cmp(&(
            &pb.name,
            &pb.version,
            &pb.arch,
            &pb.purl,
        ))
    });

    let mut used: HashSet<String> = [DOCUMENT_ID.to_string(), ROOT_ID.to_string()].into();
    let mut ids = vec![String::new(); count];
    let mut refs: BTreeMap<String, ()> = BTreeMap::new();
    let mut packages = Vec::with_capacity(count + 1);
    packages.push(Package {
        name: &input.name,
        spdx_id: ROOT_ID.to_string(),
        version_info: input.version.as_deref(),
        supplier: None,
        download_location: "NOASSERTION",
        files_analyzed: false,
        homepage: None,
        source_info: None,
        checksums: input
            .digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|h| Checksum {
                algorithm: "SHA256",
                checksum_value: h.to_ascii_lowercase(),
            })
            .into_iter()
            .collect(),
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION".to_string(),
        copyright_text: "NOASSERTION",
        external_refs: input
            .purl
            .as_deref()
            .map(|p| ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: p,
            })
            .into_iter()
            .collect(),
        primary_package_purpose: Some("CONTAINER"),
    });

    for &i in &order {
        let p = &input.packages[i];
        let base = sanitize_id(&format!(
            "SPDXRef-Package-{}-{}-{}",
            p.name, p.version, p.arch
        ));
        let mut id = base.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        ids[i] = id.clone();

        let checksums: Vec<Checksum> = checked_checksums(p)?
            .into_iter()
            .map(|(algorithm, checksum_value)| Checksum {
                algorithm,
                checksum_value,
            })
            .collect();

        let license_declared = p
            .license_declared
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .unwrap_or("NOASSERTION")
            .to_string();
        for r in license_refs(&license_declared) {
            refs.insert(r.to_string(), ());
        }
        let source_info = match (&p.source_name, &p.source_version) {
            (Some(n), Some(v)) => Some(format!("built package from: {n} {v}")),
            (Some(n), None) => Some(format!("built package from: {n}")),
            _ => None,
        };
        let homepage = p
            .homepage
            .as_deref()
            .filter(|h| h.starts_with("http://") || h.starts_with("https://"))
            .filter(|h| !h.chars().any(char::is_whitespace));
        packages.push(Package {
            name: &p.name,
            spdx_id: id,
            version_info: Some(&p.version)
                .filter(|v| !v.is_empty())
                .map(String::as_str),
            supplier: supplier(&p.supplier).or(Some("NOASSERTION".to_string())),
            download_location: p
                .download_location
                .as_deref()
                .filter(|d| !d.is_empty())
                .unwrap_or("NOASSERTION"),
            files_analyzed: false,
            homepage,
            source_info,
            checksums,
            license_concluded: "NOASSERTION",
            license_declared,
            copyright_text: "NOASSERTION",
            external_refs: p
                .purl
                .as_deref()
                .map(|u| ExternalRef {
                    reference_category: "PACKAGE-MANAGER",
                    reference_type: "purl",
                    reference_locator: u,
                })
                .into_iter()
                .collect(),
            primary_package_purpose: Some(match p.kind {
                PackageKind::Library => "LIBRARY",
                PackageKind::OperatingSystem => "OPERATING-SYSTEM",
            }),
        });
    }

    let mut relationships = vec![Relationship {
        spdx_element_id: DOCUMENT_ID.to_string(),
        relationship_type: "DESCRIBES",
        related_spdx_element: ROOT_ID.to_string(),
    }];
    for &i in &order {
        relationships.push(Relationship {
            spdx_element_id: ROOT_ID.to_string(),
            relationship_type: "CONTAINS",
            related_spdx_element: ids[i].clone(),
        });
    }
    let mut extra: BTreeSet<(String, RelationshipKind, String)> = BTreeSet::new();
    for r in &input.relationships {
        extra.insert((ids[r.from].clone(), r.kind, ids[r.to].clone()));
    }
    for (from, kind, to) in extra {
        relationships.push(Relationship {
            spdx_element_id: from,
            relationship_type: kind.as_str(),
            related_spdx_element: to,
        });
    }

    let tool = if input.tool.trim().is_empty() {
        "whittle"
    } else {
        input.tool.trim()
    };
    let doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: DOCUMENT_ID,
        name: &input.name,
        document_namespace: document_namespace(&input.name, &input.namespace_seed),
        creation_info: CreationInfo {
            created: rfc3339_utc(input.created_epoch),
            creators: vec![format!("Tool: {tool}")],
        },
        packages,
        relationships,
        has_extracted_licensing_infos: refs
            .into_keys()
            .map(|id| ExtractedLicense {
                name: id["LicenseRef-".len()..].to_string(),
                extracted_text: format!(
                    "The license named `{}` by the package (its Debian copyright file /usr/share/doc/PACKAGE/copyright, or its APK `L:` field); see the package for its text.",
                    &id["LicenseRef-".len()..]
                ),
                license_id: id,
            })
            .collect(),
    };
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn parse_dates() {
        for e in [0, 951_782_400, 1_700_000_000, 4_107_542_399] {
            assert_eq!(parse_rfc3339(&rfc3339_utc(e)), Some(e));
        }
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.123456789+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("2023-13-14T23:13:20Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_rfc3339(&s);
        }
    }

    #[test]
    fn namespace_depends_on_seed_only() {
        let a = document_namespace("img:1", "sha256:aa");
        assert_eq!(a, document_namespace("img:1", "sha256:aa"));
        assert_ne!(a, document_namespace("img:1", "sha256:ab"));
        assert!(a.starts_with("https://spdx.org/spdxdocs/whittle/img-1-"));
        assert!(!a.contains('#'));
    }

    #[test]
    fn suppliers() {
        assert_eq!(
            supplier(&Some("A <a@b>".into())).as_deref(),
            Some("Person: A <a@b>")
        );
        assert_eq!(
            supplier(&Some("Organization: X".into())).as_deref(),
            Some("Organization: X")
        );
        assert_eq!(supplier(&Some("  ".into())), None);
    }
}
