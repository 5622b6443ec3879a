//! A SLSA v1 provenance predicate for a whittle build: the build config and every installed
//! package (its package URL and SHA-256, from the build's SPDX SBOM; where it was downloaded
//! from, from the build's lock) as resolved dependencies,
//! timestamps from the image's own creation time (SOURCE_DATE_EPOCH), so a rebuild gives the
//! same statement.

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The predicate type of SLSA v1 provenance.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The build type whittle's provenance declares.
pub const BUILD_TYPE: &str = "https://example.invalid/whittle/build/v1";

/// What a provenance statement says about one build.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    /// The config's file name (without its directory: the statement must not depend on
    /// where the build ran).
    pub config_name: &'a str,
    /// The config's bytes.
    pub config: &'a [u8],
    /// The SPDX SBOMs (JSON) of the images the statement is about (one image, or every image
    /// of an index); none when no SBOM was written.
    pub sboms: &'a [&'a [u8]],
    /// The image's creation time, seconds since 1970 (SOURCE_DATE_EPOCH, or the newest
    /// package's time).
    pub created: u64,
    /// The architectures built.
    pub archs: &'a [&'a str],
    /// whittle's version.
    pub builder_version: &'a str,
    /// Where each package was downloaded from, by its SHA-256 (from the build's lock, when
    /// there is one): each dependency with a known SHA-256 gets its `downloadLocation`.
    pub downloads: &'a std::collections::BTreeMap<String, String>,
}

/// The packages of an SPDX document as SLSA resource descriptors: its package URL (purl) as
/// `uri`, its SHA-256 as `digest`; packages without both are left out (the OS entry).
pub fn packages_from_spdx(sbom: &[u8]) -> Result<Vec<Value>> {
    let doc: Value = serde_json::from_slice(sbom)
        .map_err(|e| Error::format("SPDX SBOM", format!("not JSON: {e}")))?;
    let packages = doc
        .get("packages")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::format("SPDX SBOM", "no `packages` list"))?;
    let mut out = Vec::new();
    for p in packages {
        let purl = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
            .and_then(|r| r.get("referenceLocator").and_then(Value::as_str));
        let sha256 = p
            .get("checksums")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("algorithm").and_then(Value::as_str) == Some("SHA256"))
            .and_then(|c| c.get("checksumValue").and_then(Value::as_str));
        if let (Some(purl), Some(sha256)) = (purl, sha256) {
            let mut d = json!({"uri": purl, "digest": {"sha256": sha256.to_ascii_lowercase()}});
            if let Some(name) = p.get("name").and_then(Value::as_str) {
                d["name"] = name.into();
            }
            out.push(d);
        }
    }
    Ok(out)
}

/// The SLSA v1 provenance predicate of `build`.
pub fn predicate(build: &Build<'_>) -> Result<Value> {
    use sha2::Digest;
    let mut deps = vec![json!({
        "uri": format!("file:{}", build.config_name),
        "digest": {"sha256": hex::encode(sha2::Sha256::digest(build.config))},
        "name": "config",
    })];
    let mut packages = Vec::new();
    for sbom in build.sboms {
        packages.extend(packages_from_spdx(sbom)?);
    }
    // by package URL; an `all`/`noarch` package of several architectures once
    packages.sort_by_key(|d| (d["uri"].to_string(), d["digest"].to_string()));
    packages.dedup();
    for mut d in packages {
        let url = d["digest"]["sha256"]
            .as_str()
            .and_then(|h| build.downloads.get(h));
        if let Some(url) = url {
            d["downloadLocation"] = url.as_str().into();
        }
        deps.push(d);
    }
    let time = whittle_oci::rfc3339(build.created);
    Ok(json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "config": build.config_name,
                "archs": build.archs,
            },
            "internalParameters": {
                "sourceDateEpoch": build.created,
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {
                "id": "https://example.invalid/whittle",
                "version": {"whittle": build.builder_version},
            },
            "metadata": {
                "startedOn": time,
                "finishedOn": time,
            },
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_package_with_purl_and_sha256_is_a_resolved_dependency() {
        let sbom = br#"{"packages":[
            {"name":"debian","versionInfo":"12"},
            {"name":"gawk","checksums":[{"algorithm":"SHA256","checksumValue":"AB"}],
             "externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:deb/debian/gawk@5"}]}]}"#;
        let p = predicate(&Build {
            config_name: "app.yaml",
            config: b"x",
            sboms: &[sbom, sbom],
            created: 1_700_000_000,
            archs: &["amd64"],
            builder_version: "0.1.0",
            downloads: &[(
                "ab".to_string(),
                "https://deb.example.invalid/gawk.deb".to_string(),
            )]
            .into(),
        })
        .unwrap();
        let deps = p["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        assert_eq!(deps.len(), 2);
        assert_eq!(deps[1]["uri"], "pkg:deb/debian/gawk@5");
        assert_eq!(deps[1]["digest"]["sha256"], "ab");
        assert_eq!(
            deps[1]["downloadLocation"],
            "https://deb.example.invalid/gawk.deb"
        );
        assert_eq!(
            p["runDetails"]["metadata"]["startedOn"],
            "2023-11-14T22:13:20Z"
        );
    }
}
