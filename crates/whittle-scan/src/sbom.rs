//! Reading the packages back from an SBOM (SPDX 2.3 JSON or CycloneDX JSON) by their purls.

use serde_json::Value;
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

fn collect_purls(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(o) => {
            if let Some(Value::String(p)) = o.get("purl") {
                out.push(p.clone());
            }
            if o.get("referenceType").and_then(Value::as_str) == Some("purl")
                && let Some(Value::String(p)) = o.get("referenceLocator")
            {
                out.push(p.clone());
            }
            for (k, child) in o {
                // CycloneDX pedigree ancestors describe source packages, not installed ones
                if k != "pedigree" {
                    collect_purls(child, out, depth + 1);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_purls(c, out, depth + 1)),
        _ => {}
    }
}

/// The packages of an SBOM (SPDX 2.3 JSON `externalRefs` purls, CycloneDX `components[].purl`):
/// `deb` and `apk` purls become packages; the OS comes from the `distro` qualifier (`debian-12`,
/// `alpine-3.10.4`) or, without it, the namespace; the source package from `upstream`.
pub fn catalog_from_sbom(origin: &str, bytes: &[u8]) -> Result<Catalog, ScanError> {
    if bytes.len() > MAX_SBOM_BYTES {
        return Err(ScanError::Sbom(format!(
            "{origin}: the SBOM is larger than {MAX_SBOM_BYTES} bytes"
        )));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ScanError::Sbom(format!(
            "{origin}: not a JSON SBOM (line {} column {}: {e}); give an SPDX 2.3 or CycloneDX JSON file, or an image reference",
            e.line(),
            e.column()
        ))
    })?;
    if v.get("spdxVersion").is_none() && v.get("bomFormat").is_none() {
        return Err(ScanError::Sbom(format!(
            "{origin}: neither SPDX (`spdxVersion`) nor CycloneDX (`bomFormat`) JSON"
        )));
    }
    let mut purls = Vec::new();
    collect_purls(&v, &mut purls, 0);
    let mut cat = Catalog::default();
    for s in purls {
        let Some(p) = Purl::parse(&s) else { continue };
        let db = match p.ty.as_str() {
            "deb" => PackageDb::DpkgStatus,
            "apk" | "alpine" => PackageDb::Apk,
            _ => continue,
        };
        if p.name.is_empty() || p.version.is_empty() {
            continue;
        }
        if cat.os.is_none() {
            cat.os = Some(match p.qualifier("distro") {
                Some(d) if !d.is_empty() => OsRelease::from_purl_distro(d),
                _ => OsRelease {
                    id: p.namespace.to_ascii_lowercase(),
                    ..OsRelease::default()
                },
            });
        }
        let (source_name, source_version) = match p.qualifier("upstream") {
            Some(u) if !u.is_empty() => match u.split_once('@') {
                Some((n, v)) => (Some(n.to_string()), Some(v.to_string())),
                None => (Some(u.to_string()), None),
            },
            _ => (None, None),
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
        });
    }
    cat.packages
        .sort_by(|a, b| (&a.name, &a.version, &a.arch).cmp(&(&b.name, &b.version, &b.arch)));
    cat.packages
        .dedup_by(|b, a| a.name == b.name && a.version == b.version && a.arch == b.arch);
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
        assert!(catalog_from_sbom("x", b"nope").is_err());
    }
}
