//! Pulling: manifests and indexes (platform chosen or all kept), every blob verified by digest.

use std::io::Read;

use whittle_oci::{DockerReference, Platform, sha256_digest};

use crate::client::{Client, header, status_error};
use crate::error::{Error, Result};
use crate::plan::{
    ACCEPT_MANIFESTS, BlobSource, Doc, MAX_MANIFEST_SIZE, Plan, doc_media_type, index_entries,
    is_index, manifest_blobs, parse_doc, pick_platform, platform_of_config, require_hex,
};

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

/// GET a manifest by tag or digest; verify it against `expected` (when known) and the
/// registry's `Docker-Content-Digest`.
fn get_manifest(
    client: &Client,
    repo: &str,
    reference: &str,
    expected: Option<&str>,
) -> Result<(Vec<u8>, String, String)> {
    find_manifest(client, repo, reference, expected)?.ok_or_else(|| {
        Error::Invalid(format!(
            "{}/{repo}: manifest `{reference}` not found (HTTP 404); check the repository and tag",
            client.registry()
        ))
    })
}

/// [`get_manifest`], with `None` when the registry has no such manifest (404).
pub(crate) fn find_manifest(
    client: &Client,
    repo: &str,
    reference: &str,
    expected: Option<&str>,
) -> Result<Option<(Vec<u8>, String, String)>> {
    let url = client.url(&format!("{repo}/manifests/{reference}"));
    let resp = client.send(
        "GET",
        &url,
        &pull_scope(repo),
        &[("accept", ACCEPT_MANIFESTS)],
        None,
        true,
    )?;
    let status = resp.status().as_u16();
    if status == 404 {
        return Ok(None);
    }
    if status != 200 {
        return Err(status_error("GET", &url, resp, "fetching a manifest"));
    }
    let content_type = header(&resp, "content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_string())
        .unwrap_or_default();
    let header_digest = header(&resp, "docker-content-digest").map(str::to_string);
    let bytes = client.read_body(&url, resp, MAX_MANIFEST_SIZE, "manifest")?;
    let actual = sha256_digest(&bytes);
    for want in expected.into_iter().chain(header_digest.as_deref()) {
        if want.starts_with("sha256:") && want != actual {
            return Err(Error::DigestMismatch {
                what: format!("manifest {url}"),
                expected: want.to_string(),
                actual,
            });
        }
    }
    Ok(Some((bytes, actual, content_type)))
}

/// Largest SBOM [`find_sbom`] reads.
pub(crate) const MAX_SBOM_SIZE: u64 = 64 << 20;

/// The SPDX SBOM attached to the manifest `subject` in `repo`, as whittle attaches them: an OCI
/// 1.1 referrer (when the registry has the referrers API) or the `sha256-<hex>.sbom` tag. `None`
/// when there is none; an SBOM that is there but cannot be read is an error.
pub(crate) fn find_sbom(client: &Client, repo: &str, subject: &str) -> Result<Option<Vec<u8>>> {
    let hex = require_hex(subject, "SBOM subject")?;
    let mut candidates = Vec::new();
    let url = client.url(&format!("{repo}/referrers/{subject}"));
    let resp = client.send("GET", &url, &pull_scope(repo), &[], None, true)?;
    if resp.status().as_u16() == 200 {
        // an unreadable answer is as good as none: the tag is tried next
        let body = client
            .read_body(&url, resp, MAX_MANIFEST_SIZE, "referrers")
            .unwrap_or_default();
        candidates = spdx_referrers(&body);
    }
    let tag = format!("sha256-{hex}.sbom");
    let manifest = match candidates.first() {
        Some(d) => find_manifest(client, repo, d, Some(d))?,
        None => find_manifest(client, repo, &tag, None)?,
    };
    let Some((bytes, digest, _)) = manifest else {
        return Ok(None);
    };
    let (blob, size) = sbom_layer(&bytes, subject)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{}/{repo}: {digest}, found as the SBOM of {subject}, is not an SPDX artifact about it; the tag `{tag}` is where SBOMs of that manifest go: delete or replace it",
                client.registry()
            ))
        })?;
    if size > MAX_SBOM_SIZE {
        return Err(Error::TooLarge {
            what: format!("SBOM {blob} of {subject}"),
            limit: MAX_SBOM_SIZE,
        });
    }
    fetch_small_blob(client, repo, &blob, size).map(Some)
}

/// The digests of the SPDX artifacts in a referrers-API answer (an image index).
fn spdx_referrers(index: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(index) else {
        return Vec::new();
    };
    v["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["artifactType"] == crate::MEDIA_TYPE_SPDX)
        .filter_map(|m| m["digest"].as_str())
        .filter(|d| require_hex(d, "referrer").is_ok())
        .map(str::to_string)
        .collect()
}

/// The SBOM layer (digest, size) of an SPDX artifact manifest about `subject`.
fn sbom_layer(manifest: &[u8], subject: &str) -> Option<(String, u64)> {
    let v: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    if v["subject"]["digest"] != subject {
        return None;
    }
    let layer = v["layers"].as_array()?.first()?;
    let spdx =
        v["artifactType"] == crate::MEDIA_TYPE_SPDX || layer["mediaType"] == crate::MEDIA_TYPE_SPDX;
    let digest = layer["digest"].as_str()?;
    require_hex(digest, "SBOM layer").ok()?;
    let size = layer["size"].as_u64()?;
    spdx.then(|| (digest.to_string(), size))
}

/// Most bytes of manifests one plan holds in memory (an index of many large manifests).
const MAX_MANIFESTS_TOTAL: u64 = 64 << 20;

/// The plan of `reference`: one image (the manifest, or `platform`'s entry of an index) or the
/// whole index when no platform is given. Refused before any blob is fetched when a blob
/// declares more than `Options::max_blob_size` or all of them more than
/// `Options::max_image_size`.
pub(crate) fn plan_from_registry(
    client: &Client,
    reference: &DockerReference,
    platform: Option<&Platform>,
) -> Result<Plan> {
    let plan = fetch_plan(client, reference, platform)?;
    check_total(client, reference, &plan.unique_blobs())?;
    Ok(plan)
}

/// Refuses blobs that declare more than `Options::max_image_size` in all.
fn check_total(
    client: &Client,
    reference: &DockerReference,
    blobs: &[(String, u64)],
) -> Result<()> {
    let total = blobs
        .iter()
        .fold(0u64, |sum, (_, size)| sum.saturating_add(*size));
    let limit = client.options().max_image_size;
    if total > limit {
        return Err(Error::ImageTooLarge {
            image: reference.to_string(),
            size: total,
            limit,
        });
    }
    Ok(())
}

fn fetch_plan(
    client: &Client,
    reference: &DockerReference,
    platform: Option<&Platform>,
) -> Result<Plan> {
    let repo = reference.repository.as_str();
    let r = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (bytes, digest, ctype) = get_manifest(client, repo, &r, reference.digest.as_deref())?;
    let doc = parse_doc(&bytes, &format!("manifest {r}"))?;
    let mt = doc_media_type(&ctype, &doc);
    let image = |digest: String, bytes: Vec<u8>, mt: String, p: Option<Platform>| -> Result<Doc> {
        let d = parse_doc(&bytes, &digest)?;
        if is_index(&doc_media_type(&mt, &d)) {
            return Err(Error::Invalid(format!(
                "nested index {digest} is not supported"
            )));
        }
        let blobs = manifest_blobs(&d, &digest)?;
        check_declared(client, repo, &digest, &blobs)?;
        // one manifest alone must fit before its config is fetched; the whole plan is checked
        // once every manifest is known
        check_total(client, reference, &blobs)?;
        let platform = match p {
            Some(p) => Some(p),
            None => match blobs.first() {
                Some((cd, cs)) if *cs <= MAX_MANIFEST_SIZE => {
                    let raw = fetch_small_blob(client, repo, cd, *cs)?;
                    platform_of_config(&raw)
                }
                _ => None,
            },
        };
        Ok(Doc {
            digest,
            media_type: mt,
            bytes,
            blobs,
            platform,
        })
    };
    if !is_index(&mt) {
        return Ok(Plan {
            images: vec![image(digest, bytes, mt, None)?],
            index: None,
        });
    }
    let children = index_entries(doc, &format!("{}/{repo}:{r}", client.registry()))?;
    if let Some(p) = platform {
        let c = pick_platform(&children, p, &format!("{}/{repo}:{r}", client.registry()))?;
        require_hex(&c.digest, "index entry")?;
        let (b, d, ct) = get_manifest(client, repo, &c.digest, Some(&c.digest))?;
        let mt = if c.media_type.is_empty() {
            ct
        } else {
            c.media_type.clone()
        };
        return Ok(Plan {
            images: vec![image(
                d,
                b,
                mt,
                c.platform.as_ref().map(|p| p.to_platform()),
            )?],
            index: None,
        });
    }
    // every platform's manifest (and config, when the index names no platform) at once
    let held = std::sync::atomic::AtomicU64::new(bytes.len() as u64);
    let images = crate::push::parallel(&children, client.options().jobs, |c| {
        require_hex(&c.digest, "index entry")?;
        let (b, d, ct) = get_manifest(client, repo, &c.digest, Some(&c.digest))?;
        let len = b.len() as u64;
        if held.fetch_add(len, std::sync::atomic::Ordering::Relaxed) + len > MAX_MANIFESTS_TOTAL {
            return Err(Error::TooLarge {
                what: format!(
                    "the manifests of index {}/{repo}:{r}, all together,",
                    client.registry()
                ),
                limit: MAX_MANIFESTS_TOTAL,
            });
        }
        let mt = if c.media_type.is_empty() {
            ct
        } else {
            c.media_type.clone()
        };
        image(d, b, mt, c.platform.as_ref().map(|p| p.to_platform()))
    })?;
    Ok(Plan {
        images,
        index: Some(Doc {
            digest,
            media_type: mt,
            bytes,
            blobs: Vec::new(),
            platform: None,
        }),
    })
}

/// Refuses, before anything is downloaded, a manifest that declares a config larger than
/// [`MAX_MANIFEST_SIZE`] or any blob larger than `Options::max_blob_size`.
fn check_declared(
    client: &Client,
    repo: &str,
    manifest: &str,
    blobs: &[(String, u64)],
) -> Result<()> {
    let manifest = format!("manifest {manifest} of {}/{repo}", client.registry());
    if let Some((config, size)) = blobs.first()
        && *size > MAX_MANIFEST_SIZE
    {
        return Err(Error::TooLarge {
            what: format!("config {config} (declared at {size} bytes by {manifest})"),
            limit: MAX_MANIFEST_SIZE,
        });
    }
    let limit = client.options().max_blob_size;
    match blobs.iter().find(|(_, size)| *size > limit) {
        Some((d, size)) => Err(Error::DeclaredTooLarge {
            manifest,
            blob: d.clone(),
            size: *size,
            limit,
        }),
        None => Ok(()),
    }
}

/// A blob of exactly `size` bytes read into memory, verified against its digest (retried
/// like every transfer).
pub(crate) fn fetch_small_blob(
    client: &Client,
    repo: &str,
    digest: &str,
    size: u64,
) -> Result<Vec<u8>> {
    let src = RegistryBlobs { client, repo };
    client.budget().retry(Error::is_transient, |_| {
        let mut out = Vec::new();
        crate::sink::Verify::new(src.open(digest, size)?, digest, size)
            .read_to_end(&mut out)
            .map_err(|e| {
                crate::sink::read_error(e, &src.name(digest), digest, size, client.budget())
            })?;
        Ok(out)
    })
}

/// Blobs streamed from a registry repository (verified by whoever consumes them).
pub(crate) struct RegistryBlobs<'a> {
    pub client: &'a Client,
    pub repo: &'a str,
}

impl BlobSource for RegistryBlobs<'_> {
    /// One GET (not retried: callers retry the whole transfer), its body held to the budget
    /// and refused past `size`.
    fn open(&self, digest: &str, size: u64) -> Result<Box<dyn Read + Send + '_>> {
        require_hex(digest, "blob")?;
        let url = self.name(digest);
        let resp = self
            .client
            .send("GET", &url, &pull_scope(self.repo), &[], None, false)?;
        if resp.status().as_u16() != 200 {
            return Err(status_error("GET", &url, resp, "fetching a blob"));
        }
        let reader = resp
            .into_body()
            .into_with_config()
            .limit(size.saturating_add(1))
            .reader();
        Ok(Box::new(self.client.budget().pace(reader)))
    }

    fn name(&self, digest: &str) -> String {
        self.client.url(&format!("{}/blobs/{digest}", self.repo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const LAYER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn referrers_answers_keep_only_spdx_artifacts() {
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[
              {{"digest":"{LAYER}","artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json"}},
              {{"digest":"{SUBJECT}","artifactType":"application/spdx+json"}},
              {{"digest":"sha256:short","artifactType":"application/spdx+json"}}]}}"#
        );
        assert_eq!(spdx_referrers(index.as_bytes()), [SUBJECT]);
        assert!(spdx_referrers(b"not json").is_empty());
    }

    #[test]
    fn an_sbom_manifest_must_be_about_its_subject() {
        let m = format!(
            r#"{{"artifactType":"application/spdx+json","subject":{{"digest":"{SUBJECT}"}},
               "layers":[{{"mediaType":"application/spdx+json","digest":"{LAYER}","size":27}}]}}"#
        );
        assert_eq!(
            sbom_layer(m.as_bytes(), SUBJECT),
            Some((LAYER.to_string(), 27))
        );
        assert_eq!(sbom_layer(m.as_bytes(), LAYER), None);
        let no_size = m.replace(r#","size":27"#, "");
        assert_eq!(sbom_layer(no_size.as_bytes(), SUBJECT), None);
        let other = m.replace("application/spdx+json", "text/plain");
        assert_eq!(sbom_layer(other.as_bytes(), SUBJECT), None);
    }
}
