//! CycloneDX 1.6 JSON, written with serde from the same [`SbomInput`] as the SPDX document.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use std::collections::{BTreeMap, BTreeSet};

use crate::{PackageKind, RelationshipKind, SbomError, SbomInput, rfc3339_utc};

/// The CycloneDX specification version written.
pub const CYCLONEDX_SPEC_VERSION: &str = "1.6";

/// `urn:uuid:` serial number derived from the seed (same seed, same serial; RFC 4122 v4 layout
/// so validators accept it).
pub fn serial_number(name: &str, seed: &str) -> String {
    let d = Sha256::digest(format!("{name}\n{seed}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Render `input` as a CycloneDX 1.6 JSON BOM (pretty-printed, trailing newline).
///
/// The image is `metadata.component` (type `container`, its manifest digest as `version` and
/// hash); each package is a `library` component (the distribution an `operating-system` one)
/// with its purl as `bom-ref` (made unique with `#2`, `#3`… when repeated), its license
/// expression, supplier, checksums, and the source package as `pedigree.ancestors` plus the
/// properties `whittle:source-name` / `whittle:source-version`. `dependencies` holds the image
/// (depending on every component) and every component with the packages it depends on
/// ([`RelationshipKind::DependsOn`]). Components are sorted like the SPDX packages, so the
/// output is deterministic.
pub fn to_cyclonedx_json(input: &SbomInput) -> Result<Vec<u8>, SbomError> {
    crate::check_relationships(input)?;
    let mut order: Vec<usize> = (0..input.packages.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&input.packages[a], &input.packages[b]);
        (&pa.name, &pa.version, &pa.arch, &pa.purl).cmp(&(
            &pb.name,
            &pb.version,
            &pb.arch,
            &pb.purl,
        ))
    });
    let mut used = std::collections::HashSet::new();
    used.insert("image".to_string());
    let mut components = Vec::with_capacity(order.len());
    let mut refs = Vec::with_capacity(order.len());
    let mut ref_of = vec![String::new(); input.packages.len()];
    for &i in &order {
        let p = &input.packages[i];
        let base = p.purl.clone().unwrap_or_else(|| match p.kind {
            PackageKind::OperatingSystem => format!("os-{}-{}", p.name, p.version),
            PackageKind::Library => format!("pkg-{}-{}-{}", p.name, p.version, p.arch),
        });
        let mut bom_ref = base.clone();
        let mut n = 2;
        while !used.insert(bom_ref.clone()) {
            bom_ref = format!("{base}#{n}");
            n += 1;
        }
        let mut c = json!({
            "type": match p.kind {
                PackageKind::Library => "library",
                PackageKind::OperatingSystem => "operating-system",
            },
            "bom-ref": bom_ref,
            "name": p.name,
            "version": p.version,
        });
        if let Some(purl) = &p.purl {
            c["purl"] = json!(purl);
        }
        if let Some(s) = p
            .supplier
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let s = s
                .strip_prefix("Organization:")
                .or_else(|| s.strip_prefix("Person:"))
                .unwrap_or(s)
                .trim();
            c["supplier"] = json!({"name": s});
        }
        if let Some(l) = p
            .license_declared
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "NOASSERTION")
        {
            c["licenses"] = json!([{"expression": l}]);
        }
        if let Some(h) = p
            .homepage
            .as_deref()
            .filter(|h| h.starts_with("http://") || h.starts_with("https://"))
            .filter(|h| !h.chars().any(char::is_whitespace))
        {
            c["externalReferences"] = json!([{"type": "website", "url": h}]);
        }
        let hashes: Vec<Value> = crate::checked_checksums(p)?
            .into_iter()
            .filter_map(|(alg, hex)| {
                let alg = match alg {
                    "SHA1" => "SHA-1",
                    "SHA256" => "SHA-256",
                    "SHA384" => "SHA-384",
                    "SHA512" => "SHA-512",
                    "MD5" => "MD5",
                    "SHA3-256" => "SHA3-256",
                    "SHA3-512" => "SHA3-512",
                    "BLAKE2b-256" => "BLAKE2b-256",
                    _ => return None,
                };
                Some(json!({"alg": alg, "content": hex}))
            })
            .collect();
        if !hashes.is_empty() {
            c["hashes"] = Value::Array(hashes);
        }
        let mut props: Vec<Value> = Vec::new();
        if !p.arch.is_empty() {
            props.push(json!({"name": "whittle:arch", "value": p.arch}));
        }
        if let Some(src) = p.source_name.as_deref().filter(|s| !s.is_empty()) {
            let sv = p.source_version.as_deref().unwrap_or(&p.version);
            props.push(json!({"name": "whittle:source-name", "value": src}));
            props.push(json!({"name": "whittle:source-version", "value": sv}));
            c["pedigree"] = json!({"ancestors": [{"type": "library", "name": src, "version": sv}]});
        }
        if !props.is_empty() {
            c["properties"] = Value::Array(props);
        }
        ref_of[i] = bom_ref.clone();
        refs.push(bom_ref);
        components.push(c);
    }
    let mut depends: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in input
        .relationships
        .iter()
        .filter(|r| r.kind == RelationshipKind::DependsOn && r.from != r.to)
    {
        depends
            .entry(&ref_of[r.from])
            .or_default()
            .insert(&ref_of[r.to]);
    }
    let mut dependencies = vec![json!({"ref": "image", "dependsOn": refs})];
    for &i in &order {
        let r = ref_of[i].as_str();
        let on: Vec<&str> = depends
            .get(r)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        dependencies.push(json!({"ref": r, "dependsOn": on}));
    }
    let tool = input.tool.trim();
    let (tool_name, tool_version) = match tool.rsplit_once('-') {
        Some((n, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => (n, v),
        _ => (if tool.is_empty() { "whittle" } else { tool }, ""),
    };
    let mut tool_obj = json!({"type": "application", "name": tool_name});
    if !tool_version.is_empty() {
        tool_obj["version"] = json!(tool_version);
    }
    let mut image = json!({"type": "container", "bom-ref": "image", "name": input.name});
    if let Some(v) = input.version.as_ref().or(input.digest.as_ref()) {
        image["version"] = json!(v);
    }
    if let Some(h) = input
        .digest
        .as_deref()
        .and_then(|d| d.strip_prefix("sha256:"))
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        image["hashes"] = json!([{"alg": "SHA-256", "content": h.to_ascii_lowercase()}]);
        image["properties"] = json!([{"name": "whittle:manifest-digest", "value": input.digest}]);
    }
    if let Some(p) = &input.purl {
        image["purl"] = json!(p);
    }
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": CYCLONEDX_SPEC_VERSION,
        "serialNumber": serial_number(&input.name, &input.namespace_seed),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339_utc(input.created_epoch),
            "tools": {"components": [tool_obj]},
            "component": image,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let mut out = serde_json::to_vec_pretty(&bom)?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SbomPackage;

    #[test]
    fn serial_is_uuid_v4_shaped_and_stable() {
        let a = serial_number("x", "seed");
        assert_eq!(a, serial_number("x", "seed"));
        assert_ne!(a, serial_number("x", "other"));
        let u = a.strip_prefix("urn:uuid:").unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn source_package_kept() {
        let input = SbomInput {
            name: "img".into(),
            tool: "whittle-0.1.0".into(),
            packages: vec![
                SbomPackage {
                    name: "libc6".into(),
                    version: "2.36-9".into(),
                    purl: Some("pkg:deb/debian/libc6@2.36-9".into()),
                    source_name: Some("glibc".into()),
                    ..SbomPackage::default()
                },
                SbomPackage {
                    name: "libc6".into(),
                    version: "2.36-9".into(),
                    purl: Some("pkg:deb/debian/libc6@2.36-9".into()),
                    ..SbomPackage::default()
                },
            ],
            ..SbomInput::default()
        };
        let v: Value = serde_json::from_slice(&to_cyclonedx_json(&input).unwrap()).unwrap();
        assert_eq!(v["specVersion"], "1.6");
        assert_eq!(v["metadata"]["tools"]["components"][0]["version"], "0.1.0");
        let comps = v["components"].as_array().unwrap();
        assert_eq!(comps.len(), 2);
        assert_ne!(comps[0]["bom-ref"], comps[1]["bom-ref"]);
        let with_src = comps.iter().find(|c| c.get("pedigree").is_some()).unwrap();
        assert_eq!(with_src["pedigree"]["ancestors"][0]["name"], "glibc");
        assert_eq!(with_src["pedigree"]["ancestors"][0]["version"], "2.36-9");
    }
}
