//! Pulling: manifests and indexes (platform chosen or all kept), every blob verified by digest.

use std::io::Read;

use whittle_oci::{DockerReference, Platform};

use crate::client::{Client, header, status_error};
use crate::error::{Error, Result};
use crate::plan::{
    ACCEPT_MANIFESTS, BlobSource, Doc, MAX_MANIFEST_SIZE, Plan, doc_media_type, index_entries,
    is_index, manifest_blobs, parse_doc, pick_platform, platform_of_config, require_hex,
};
use whittle_oci::sha256_digest;

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
    let url = client.url(&format!("{repo}/manifests/{reference}"));
    let mut resp = client.send(
        "GET",
        &url,
        &pull_scope(repo),
        &[("accept", ACCEPT_MANIFESTS)],
        None,
        true,
    )?;
    let status = resp.status().as_u16();
    if status == 404 {
        return Err(Error::Invalid(format!(
            "{}/{repo}: manifest `{reference}` not found (HTTP 404); check the repository and tag",
            client.registry()
        )));
    }
    if status != 200 {
        return Err(status_error("GET", &url, resp, "fetching a manifest"));
    }
    let content_type = header(&resp, "content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_string())
        .unwrap_or_default();
    let header_digest = header(&resp, "docker-content-digest").map(str::to_string);
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(MAX_MANIFEST_SIZE)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => Error::TooLarge {
                what: format!("manifest {url}"),
                limit: MAX_MANIFEST_SIZE,
            },
            e => Error::Http {
                method: "GET".into(),
                url: url.clone(),
                attempts: 1,
                message: e.to_string(),
            },
        })?;
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
    Ok((bytes, actual, content_type))
}

/// The plan of `reference`: one image (the manifest, or `platform`'s entry of an index) or the
/// whole index when no platform is given.
pub(crate) fn plan_from_registry(
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
        let platform = match p {
            Some(p) => Some(p),
            None => match blobs.first() {
                Some((cd, cs)) if *cs <= MAX_MANIFEST_SIZE => {
                    let raw = fetch_small_blob(client, repo, cd)?;
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
    let mut images = Vec::new();
    for c in &children {
        require_hex(&c.digest, "index entry")?;
        let (b, d, ct) = get_manifest(client, repo, &c.digest, Some(&c.digest))?;
        let mt = if c.media_type.is_empty() {
            ct
        } else {
            c.media_type.clone()
        };
        images.push(image(
            d,
            b,
            mt,
            c.platform.as_ref().map(|p| p.to_platform()),
        )?);
    }
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

fn fetch_small_blob(client: &Client, repo: &str, digest: &str) -> Result<Vec<u8>> {
    let src = RegistryBlobs { client, repo };
    let mut r = src.open(digest, MAX_MANIFEST_SIZE)?;
    let mut out = Vec::new();
    r.by_ref()
        .take(MAX_MANIFEST_SIZE + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::Http {
            method: "GET".into(),
            url: client.url(&format!("{repo}/blobs/{digest}")),
            attempts: 1,
            message: e.to_string(),
        })?;
    let actual = sha256_digest(&out);
    if actual != digest {
        return Err(Error::DigestMismatch {
            what: format!("blob {digest} from {}/{repo}", client.registry()),
            expected: digest.to_string(),
            actual,
        });
    }
    Ok(out)
}

/// Blobs streamed from a registry repository (verified by whoever consumes them).
pub(crate) struct RegistryBlobs<'a> {
    pub client: &'a Client,
    pub repo: &'a str,
}

impl BlobSource for RegistryBlobs<'_> {
    fn open(&self, digest: &str, size: u64) -> Result<Box<dyn Read + Send + '_>> {
        require_hex(digest, "blob")?;
        let url = self.client.url(&format!("{}/blobs/{digest}", self.repo));
        let resp = self
            .client
            .send("GET", &url, &pull_scope(self.repo), &[], None, true)?;
        if resp.status().as_u16() != 200 {
            return Err(status_error("GET", &url, resp, "fetching a blob"));
        }
        let reader = resp
            .into_body()
            .into_with_config()
            .limit(size.saturating_add(1))
            .reader();
        Ok(Box::new(reader))
    }
}
