//! Reading the packages back from an SBOM (SPDX 2.3 JSON or CycloneDX JSON) by their purls.

use whittle_catalog::{Catalog, OsRelease, Package, PackageDb};

use crate::ScanError;

/// Largest SBOM accepted: 256 MiB.
pub const MAX_SBOM_BYTES: usize = 256 << 20;

/// A parsed `pkg:` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// `deb`, `apk`, …
    pub ty: String,
    /// `debian`, `alpine`, `wolfi`…
    pub namespace: String,
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Qualifiers in order.
    pub qualifiers: Vec<(String, String)>,
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(h), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Purl {
    /// Parses `pkg:type/namespace/name@version?k=v&…#subpath`; `None` when not a purl.
    pub fn parse(s: &str) -> Option<Purl> {
        let rest = s.strip_prefix("pkg:")?;
        let rest = rest.split('#').next().unwrap_or(rest);
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, q),
            None => (rest, ""),
        };
        let (path, version) = match path.rsplit_once('@') {
            Some((p, v)) => (p, decode(v)),
            None => (path, String::new()),
        };
        let mut parts = path.trim_matches('/').split('/');
        let ty = parts.next()?.to_ascii_lowercase();
        let segs: Vec<&str> = parts.collect();
        let (name, ns) = segs.split_last()?;
        let qualifiers = query
            .split('&')
            .filter(|q| !q.is_empty())
            .filter_map(|q| q.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
            .collect();
        Some(Purl {
            ty,
            namespace: ns.iter().map(|s| decode(s)).collect::<Vec<_>>().join("/"),
            name: decode(name),
            version,
            qualifiers,
        })
    }

    /// The value of qualifier `k`.
    pub fn qualifier(&self, k: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the SBOM file at `path`, refusing one larger than [`MAX_SBOM_BYTES`] before holding
/// more than that in memory.
pub fn read_bounded(path: &std::path::Path) -> Result<Vec<u8>, ScanError> {
    use std::io::Read as _;
    let f = std::fs::File::open(path)
        .map_err(|e| ScanError::Sbom(format!("cannot read {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    f.take(MAX_SBOM_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ScanError::Sbom(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(ScanError::Sbom(format!(
            "{}: the SBOM is larger than {MAX_SBOM_BYTES} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Rule id of the finding that lists SBOM packages `whittle scan` could not match.
pub const RULE_UNSCANNED: &str = "scan/unscanned-sbom-packages";

/// How many names a finding lists before `and N more`.
const LISTED: usize = 10;

/// Most list items (components, packages, properties, relationships…) kept from one SBOM:
/// each costs a record in memory, so a document of millions of tiny objects is refused rather
/// than inflated.
pub const MAX_ITEMS: usize = 2_000_000;

/// Longest text kept of one field (a name, version or purl); longer ones are cut.
const MAX_FIELD: usize = 4096;

thread_local! {
    /// List items [`catalog_from_sbom`] may still keep while it reads one document.
    static ITEMS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The typed, bounded reading of an SBOM: only the fields whittle uses are kept; everything
/// else is skipped without being held in memory. Values of the wrong JSON type read as empty.
mod doc {
    use serde::Deserialize;
    use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{ITEMS_LEFT, MAX_FIELD, MAX_ITEMS};

    /// A JSON string, cut to [`MAX_FIELD`] bytes; any other value reads as `""`.
    #[derive(Debug, Default)]
    pub struct Text(pub String);

    impl Text {
        pub fn as_str(&self) -> &str {
            &self.0
        }
    }

    /// Skips what a lenient field does not want: scalars, and arrays or maps item by item.
    macro_rules! skip_others {
        ($value:ty) => {
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<$value, E> {
                Ok(Default::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<$value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Default::default())
            }
        };
    }

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                    let mut end = s.len().min(MAX_FIELD);
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    Ok(Text(s.get(..end).unwrap_or("").to_string()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Text, A::Error> {
                    while s.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Text::default())
                }
                skip_others!(Text);
            }
            d.deserialize_any(V)
        }
    }

    /// A JSON array whose items count against [`MAX_ITEMS`] for the whole document; any
    /// other value reads as an empty list that was not an array.
    #[derive(Debug)]
    pub struct List<T> {
        pub items: Vec<T>,
        /// The value was an array.
        pub array: bool,
    }

    impl<T> Default for List<T> {
        fn default() -> Self {
            List {
                items: Vec::new(),
                array: false,
            }
        }
    }

    impl<T> List<T> {
        pub fn iter(&self) -> std::slice::Iter<'_, T> {
            self.items.iter()
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = List<T>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an array")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<List<T>, A::Error> {
                    let mut items = Vec::new();
                    loop {
                        let left = ITEMS_LEFT.get();
                        if left == 0 {
                            if s.next_element::<IgnoredAny>()?.is_none() {
                                break;
                            }
                            return Err(de::Error::custom(format!(
                                "the SBOM has more than {MAX_ITEMS} list items (components, packages, properties, relationships…); whittle scan reads at most that many"
                            )));
                        }
                        ITEMS_LEFT.set(left - 1);
                        match s.next_element::<T>()? {
                            Some(t) => items.push(t),
                            None => {
                                ITEMS_LEFT.set(left);
                                break;
                            }
                        }
                    }
                    Ok(List { items, array: true })
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<List<T>, E> {
                    Ok(List::default())
                }
                skip_others!(List<T>);
            }
            d.deserialize_any(V(std::marker::PhantomData))
        }
    }

    /// The top level of any of the three formats.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Document {
        pub spdx_version: Option<IgnoredAny>,
        pub bom_format: Option<IgnoredAny>,
        // CycloneDX
        pub metadata: Option<Metadata>,
        pub components: List<Component>,
        // SPDX
        pub document_describes: List<Text>,
        pub relationships: List<Relationship>,
        pub packages: List<SpdxPackage>,
        // syft JSON
        pub artifacts: Option<List<Artifact>>,
        pub distro: Option<Distro>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Metadata {
        pub component: Option<Component>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Component {
        #[serde(rename = "type")]
        pub ty: Text,
        pub name: Text,
        pub version: Text,
        pub purl: Text,
        pub properties: List<Property>,
        pub pedigree: Option<Pedigree>,
        pub components: List<Component>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Property {
        pub name: Text,
        pub value: Text,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Pedigree {
        pub ancestors: List<Component>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Relationship {
        pub relationship_type: Text,
        pub related_spdx_element: Text,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct SpdxPackage {
        #[serde(rename = "SPDXID")]
        pub spdx_id: Text,
        pub name: Text,
        pub version_info: Text,
        pub primary_package_purpose: Text,
        pub source_info: Text,
        pub external_refs: List<ExternalRef>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct ExternalRef {
        pub reference_type: Text,
        pub reference_locator: Text,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct Artifact {
        pub name: Text,
        pub version: Text,
        pub purl: Text,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    pub struct Distro {
        pub id: Text,
        #[serde(rename = "versionID")]
        pub version_id: Text,
    }
}

use doc::{Component, Document};

/// One package record of an SBOM, whatever its format.
#[derive(Debug, Default)]
struct Record {
    name: String,
    version: String,
    purl: Option<String>,
    /// The source package (name, version) the SBOM records beside the purl: trivy's
    /// `aquasecurity:trivy:SrcName`/`SrcVersion` properties and SPDX `sourceInfo`, CycloneDX
    /// `pedigree.ancestors`.
    source: Option<(String, Option<String>)>,
}

/// What an SBOM says: its package records and, when it names one, its operating system.
#[derive(Debug, Default)]
struct Parsed {
    records: Vec<Record>,
    os: Option<OsRelease>,
}

/// The OS a CycloneDX `operating-system` component or an SPDX `OPERATING-SYSTEM` package
/// names (`alpine` `3.10.4`, `debian` `12`).
fn os_named(name: &str, version: &str) -> Option<OsRelease> {
    let id = name.trim().to_ascii_lowercase();
    (!id.is_empty()).then(|| OsRelease {
        id,
        version_id: version.trim().to_string(),
        ..OsRelease::default()
    })
}

/// CycloneDX: `components` (nested ones too; not `pedigree`, which describes source packages),
/// the `operating-system` component as the OS, `container`/`file` components skipped.
fn cyclonedx(v: Document, out: &mut Parsed) {
    if let Some(m) = v.metadata.and_then(|m| m.component)
        && m.ty.as_str() == "operating-system"
    {
        out.os = os_named(m.name.as_str(), m.version.as_str());
    }
    // the parser bounds the nesting; the walk needs no recursion
    let mut stack: Vec<Component> = v.components.items;
    stack.reverse();
    while let Some(mut c) = stack.pop() {
        match c.ty.as_str() {
            "operating-system" => {
                if out.os.is_none() {
                    out.os = os_named(c.name.as_str(), c.version.as_str());
                }
            }
            "container" | "file" | "data" => {}
            _ => out.records.push(Record {
                source: cyclonedx_source(&c),
                name: std::mem::take(&mut c.name.0),
                version: std::mem::take(&mut c.version.0),
                purl: Some(std::mem::take(&mut c.purl.0)).filter(|p| !p.is_empty()),
            }),
        }
        stack.extend(c.components.items.into_iter().rev());
    }
}

/// The source package of a CycloneDX component: trivy's properties, else the first pedigree
/// ancestor (whittle's form).
fn cyclonedx_source(c: &Component) -> Option<(String, Option<String>)> {
    let prop = |name: &str| {
        c.properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.0.clone())
            .filter(|v| !v.is_empty())
    };
    if let Some(n) = prop("aquasecurity:trivy:SrcName") {
        return Some((n, prop("aquasecurity:trivy:SrcVersion")));
    }
    let a = c.pedigree.as_ref()?.ancestors.items.first()?;
    let name = a.name.as_str();
    (!name.is_empty()).then(|| {
        let v = a.version.as_str();
        (name.to_string(), (!v.is_empty()).then(|| v.to_string()))
    })
}

/// SPDX 2.x: `packages` with their `purl` external reference; the `OPERATING-SYSTEM` package as
/// the OS; the described image (`CONTAINER`, or what `documentDescribes` names) skipped.
fn spdx(v: Document, out: &mut Parsed) {
    let described: std::collections::HashSet<&str> = v
        .document_describes
        .iter()
        .map(doc::Text::as_str)
        .chain(
            v.relationships
                .iter()
                .filter(|r| r.relationship_type.as_str() == "DESCRIBES")
                .map(|r| r.related_spdx_element.as_str()),
        )
        .collect();
    for p in v.packages.iter() {
        match p.primary_package_purpose.as_str() {
            "OPERATING-SYSTEM" | "OPERATING_SYSTEM" => {
                if out.os.is_none() {
                    out.os = os_named(p.name.as_str(), p.version_info.as_str());
                }
                continue;
            }
            "CONTAINER" | "FILE" => continue,
            _ => {}
        }
        if described.contains(p.spdx_id.as_str()) {
            continue;
        }
        let purl = p
            .external_refs
            .iter()
            .find(|r| r.reference_type.as_str() == "purl")
            .map(|r| r.reference_locator.0.clone());
        // trivy: `built package from: openssl 1.1.1d-r2`
        let source = p
            .source_info
            .as_str()
            .strip_prefix("built package from: ")
            .and_then(|s| {
                let mut it = s.split_whitespace();
                let name = it.next()?.to_string();
                Some((name, it.next().map(str::to_string)))
            });
        out.records.push(Record {
            name: p.name.0.clone(),
            version: p.version_info.0.clone(),
            purl,
            source,
        });
    }
}

/// syft's own JSON: `artifacts` with their purls, the OS from `distro`.
fn syft(v: Document, out: &mut Parsed) {
    if let Some(d) = v.distro {
        out.os = os_named(d.id.as_str(), d.version_id.as_str());
    }
    for a in v.artifacts.unwrap_or_default().items {
        out.records.push(Record {
            name: a.name.0,
            version: a.version.0,
            purl: Some(a.purl.0).filter(|p| !p.is_empty()),
            source: None,
        });
    }
}

/// The OS a purl's `distro` qualifier names: syft and whittle write `alpine-3.10.4`,
/// `debian-12`; trivy only the version (`3.10.4`), the id being the purl's namespace.
fn os_of_purl(p: &Purl) -> OsRelease {
    match p.qualifier("distro") {
        Some(d) if d.starts_with(|c: char| c.is_ascii_digit()) => OsRelease {
            id: p.namespace.to_ascii_lowercase(),
            version_id: d.to_string(),
            ..OsRelease::default()
        },
        Some(d) if !d.is_empty() => OsRelease::from_purl_distro(d),
        _ => OsRelease {
            id: p.namespace.to_ascii_lowercase(),
            ..OsRelease::default()
        },
    }
}

/// `items` for a message: the first [`LISTED`], then `and N more`.
fn listed(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED {
        s.push_str(&format!(" and {} more", items.len() - LISTED));
    }
    s
}

fn unscanned(origin: &str, message: String, fix: &str) -> whittle_report::Finding {
    whittle_report::Finding {
        rule: RULE_UNSCANNED.to_string(),
        severity: whittle_report::Severity::Low,
        message,
        location: whittle_report::Location {
            artifact: None,
            layer: None,
            path: Some(origin.to_string()),
            line: None,
            column: None,
        },
        fix: Some(fix.to_string()),
        evidence: None,
    }
}

/// The packages of an SBOM: SPDX 2.3 JSON (`externalRefs` purls), CycloneDX JSON
/// (`components[].purl`) or syft's JSON (`artifacts[].purl`), as syft, trivy and whittle write
/// them. `deb` and `apk` purls become packages, the source package from `upstream`. The OS
/// comes from the SBOM's own record of it — the CycloneDX `operating-system` component, the
/// SPDX `OPERATING-SYSTEM` package, syft's `distro` — else from the purls' `distro` qualifier
/// (`debian-12`, `alpine-3.10.4`, or trivy's bare `3.10.4` with the namespace as the id).
/// Packages without a purl, and purls of other ecosystems, cannot be matched: they are listed
/// in a [`RULE_UNSCANNED`] finding, never dropped silently.
pub fn catalog_from_sbom(origin: &str, bytes: &[u8]) -> Result<Catalog, ScanError> {
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(ScanError::Sbom(format!(
            "{origin}: the SBOM is larger than {MAX_SBOM_BYTES} bytes"
        )));
    }
    ITEMS_LEFT.set(MAX_ITEMS);
    let v: Document = serde_json::from_slice(bytes).map_err(|e| {
        ScanError::Sbom(match e.classify() {
            serde_json::error::Category::Data => format!("{origin}: {e}"),
            _ => format!(
                "{origin}: not a JSON SBOM (line {} column {}: {e}); give an SPDX 2.3, CycloneDX or syft JSON file, or an image reference",
                e.line(),
                e.column()
            ),
        })
    })?;
    let mut parsed = Parsed::default();
    if v.spdx_version.is_some() {
        spdx(v, &mut parsed);
    } else if v.bom_format.is_some() {
        cyclonedx(v, &mut parsed);
    } else if v.artifacts.as_ref().is_some_and(|a| a.array) {
        syft(v, &mut parsed);
    } else {
        return Err(ScanError::Sbom(format!(
            "{origin}: neither SPDX (`spdxVersion`), CycloneDX (`bomFormat`) nor syft JSON (`artifacts`)"
        )));
    }
    let mut cat = Catalog {
        os: parsed.os,
        ..Catalog::default()
    };
    let mut no_purl = Vec::new();
    let mut other: std::collections::BTreeMap<String, usize> = Default::default();
    for r in parsed.records {
        let Some(p) = r.purl.as_deref().and_then(Purl::parse) else {
            no_purl.push(if r.version.is_empty() {
                r.name
            } else {
                format!("{} {}", r.name, r.version)
            });
            continue;
        };
        let db = match p.ty.as_str() {
            "deb" => PackageDb::DpkgStatus,
            "apk" | "alpine" => PackageDb::Apk,
            // the image itself
            "oci" | "docker" => continue,
            t => {
                *other.entry(t.to_string()).or_default() += 1;
                continue;
            }
        };
        if p.name.is_empty() || p.version.is_empty() {
            no_purl.push(format!("{} (purl without a name or version)", r.name));
            continue;
        }
        if cat.os.is_none() {
            cat.os = Some(os_of_purl(&p));
        }
        let (source_name, source_version) = match p.qualifier("upstream") {
            Some(u) if !u.is_empty() => match u.split_once('@') {
                Some((n, v)) => (Some(n.to_string()), Some(v.to_string())),
                None => (Some(u.to_string()), None),
            },
            _ => match r.source {
                Some((n, v)) => (Some(n), v),
                None => (None, None),
            },
        };
        cat.packages.push(Package {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.qualifier("arch").unwrap_or("").to_string(),
            source_name,
            source_version,
            db,
            db_path: origin.to_string(),
            license: None,
            maintainer: None,
            homepage: None,
            depends: Vec::new(),
            provides: Vec::new(),
        });
    }
    cat.packages
        .sort_by(|a, b| (&a.name, &a.version, &a.arch).cmp(&(&b.name, &b.version, &b.arch)));
    cat.packages
        .dedup_by(|b, a| a.name == b.name && a.version == b.version && a.arch == b.arch);
    if !no_purl.is_empty() {
        no_purl.sort();
        cat.findings.push(unscanned(
            origin,
            format!(
                "{origin}: {} package(s) have no purl and were not scanned: {}",
                no_purl.len(),
                listed(&no_purl)
            ),
            "write the SBOM with purls (syft, trivy and whittle sbom do)",
        ));
    }
    if !other.is_empty() {
        let kinds: Vec<String> = other.iter().map(|(t, n)| format!("{t} {n}")).collect();
        cat.findings.push(unscanned(
            origin,
            format!(
                "{origin}: {} package(s) of ecosystems whittle scan does not match were not scanned: {}",
                other.values().sum::<usize>(),
                listed(&kinds)
            ),
            "whittle scan matches OS packages (deb, apk); scan language packages with a tool for them",
        ));
    }
    Ok(cat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_parse() {
        let p = Purl::parse(
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc",
        )
        .unwrap();
        assert_eq!(p.ty, "deb");
        assert_eq!(p.namespace, "debian");
        assert_eq!(p.name, "libc6");
        assert_eq!(p.version, "2.36-9+deb12u4");
        assert_eq!(p.qualifier("upstream"), Some("glibc"));
        assert!(Purl::parse("not-a-purl").is_none());
    }

    #[test]
    fn spdx_and_cyclonedx() {
        let spdx = br#"{"spdxVersion":"SPDX-2.3","packages":[{"externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:apk/alpine/musl@1.1.22-r3?arch=x86_64&distro=alpine-3.10.4"}]}]}"#;
        let c = catalog_from_sbom("a.spdx.json", spdx).unwrap();
        assert_eq!(c.packages.len(), 1);
        assert_eq!(c.os.unwrap().ecosystems(), ["Alpine:v3.10"]);
        let cdx = br#"{"bomFormat":"CycloneDX","components":[{"purl":"pkg:deb/debian/libcrypt1@1:4.4.33-2?distro=debian-12&upstream=libxcrypt%404.4.33-2","pedigree":{"ancestors":[{"purl":"pkg:deb/debian/libxcrypt@4.4.33-2"}]}}]}"#;
        let c = catalog_from_sbom("a.cdx.json", cdx).unwrap();
        assert_eq!(c.packages.len(), 1);
        assert_eq!(c.packages[0].source(), "libxcrypt");
        assert_eq!(c.packages[0].source_ver(), "4.4.33-2");
        assert!(catalog_from_sbom("x", b"{}").is_err());
        assert!(c.findings.is_empty(), "{:?}", c.findings);
        assert!(catalog_from_sbom("x", b"nope").is_err());
    }

    #[test]
    fn trivy_distro_qualifier_and_os_component() {
        // trivy: the qualifier holds only the version; the OS component says which OS
        let cdx = br#"{"bomFormat":"CycloneDX","metadata":{"component":{"type":"container","name":"img"}},"components":[
            {"type":"operating-system","name":"alpine","version":"3.10.4"},
            {"type":"library","name":"musl","version":"1.1.22-r3","purl":"pkg:apk/alpine/musl@1.1.22-r3?arch=x86_64&distro=3.10.4"},
            {"type":"library","name":"mystery","version":"1"},
            {"type":"library","name":"requests","version":"2.0","purl":"pkg:pypi/requests@2.0"}]}"#;
        let c = catalog_from_sbom("t.cdx.json", cdx).unwrap();
        let os = c.os.clone().unwrap();
        assert_eq!(
            (os.id.as_str(), os.version_id.as_str()),
            ("alpine", "3.10.4")
        );
        assert_eq!(os.ecosystems(), ["Alpine:v3.10"]);
        assert_eq!(c.packages.len(), 1);
        let msgs: Vec<&str> = c.findings.iter().map(|f| f.message.as_str()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("1 package(s) have no purl") && m.contains("mystery 1")),
            "{msgs:?}"
        );
        assert!(msgs.iter().any(|m| m.contains("pypi 1")), "{msgs:?}");
        // without the component, the bare version takes the purl's namespace as the id
        let bare = br#"{"bomFormat":"CycloneDX","components":[{"type":"library","name":"musl","version":"1.1.22-r3","purl":"pkg:apk/alpine/musl@1.1.22-r3?distro=3.10.4"}]}"#;
        let os = catalog_from_sbom("b", bare).unwrap().os.unwrap();
        assert_eq!(
            (os.id.as_str(), os.version_id.as_str()),
            ("alpine", "3.10.4")
        );
    }

    #[test]
    fn spdx_os_package_and_syft_json_distro() {
        let spdx = br#"{"spdxVersion":"SPDX-2.3","documentDescribes":["SPDXRef-Image"],"packages":[
            {"SPDXID":"SPDXRef-Image","name":"img"},
            {"SPDXID":"SPDXRef-OS","name":"debian","versionInfo":"12.12","primaryPackagePurpose":"OPERATING-SYSTEM"},
            {"SPDXID":"SPDXRef-a","name":"libc6","versionInfo":"2.36-9","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:deb/debian/libc6@2.36-9?distro=12.12"}]}]}"#;
        let c = catalog_from_sbom("s", spdx).unwrap();
        assert_eq!(c.os.unwrap().ecosystems(), ["Debian:12"]);
        assert_eq!(c.packages.len(), 1);
        assert!(c.findings.is_empty(), "{:?}", c.findings);
        let syft = br#"{"artifacts":[{"name":"musl","version":"1.1.22-r3","purl":"pkg:apk/alpine/musl@1.1.22-r3"},{"name":"x","version":"1","purl":""}],"distro":{"id":"alpine","versionID":"3.10.4"}}"#;
        let c = catalog_from_sbom("y", syft).unwrap();
        assert_eq!(c.os.unwrap().ecosystems(), ["Alpine:v3.10"]);
        assert_eq!(c.packages.len(), 1);
        assert_eq!(c.findings.len(), 1);
    }

    #[test]
    fn millions_of_tiny_items_are_refused_not_inflated() {
        // 6 MB of `{}`: once each became a JSON tree node (20 GB for 256 MB of such input)
        let mut doc = String::from(r#"{"bomFormat":"CycloneDX","components":["#);
        doc.push_str(&vec!["{}"; MAX_ITEMS + 1].join(","));
        doc.push_str("]}");
        let e = catalog_from_sbom("big.cdx.json", doc.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("big.cdx.json: the SBOM has more than 2000000 list items"),
            "{e}"
        );
        // items nested in fields whittle does not read are skipped, not counted
        let mut doc = String::from(r#"{"bomFormat":"CycloneDX","x":["#);
        doc.push_str(&vec![r#"{"a":{}}"#; MAX_ITEMS + 1].join(","));
        doc.push_str(r#"],"components":[{"purl":"pkg:apk/alpine/musl@1.1.22-r3"}]}"#);
        let c = catalog_from_sbom("x", doc.as_bytes()).unwrap();
        assert_eq!(c.packages.len(), 1);
        // the budget is per document
        let small =
            br#"{"bomFormat":"CycloneDX","components":[{"purl":"pkg:apk/alpine/musl@1.1.22-r3"}]}"#;
        assert_eq!(catalog_from_sbom("s", small).unwrap().packages.len(), 1);
    }

    #[test]
    fn huge_strings_are_cut_and_odd_types_read_as_empty() {
        let name = "é".repeat(1 << 20);
        let doc = format!(
            r#"{{"bomFormat":"CycloneDX","components":[{{"name":"{name}","version":7}},{{"name":["a"],"purl":{{"x":1}},"components":"no"}}]}}"#
        );
        let c = catalog_from_sbom("s", doc.as_bytes()).unwrap();
        let m = &c.findings[0].message;
        assert!(m.contains("2 package(s) have no purl"), "{m}");
        assert!(m.len() < 2 * MAX_FIELD, "{}", m.len());
    }

    proptest::proptest! {
        #[test]
        fn any_json_is_read_without_panic(s in "[{}\\[\\]\":,a-z0-9 ]{0,200}") {
            let _ = catalog_from_sbom("p", s.as_bytes());
        }
    }
}
