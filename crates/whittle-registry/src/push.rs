//! Pushing: blobs (HEAD-checked, mounted, monolithic or chunked uploads, retried), manifests with
//! their exact bytes, indexes, and SBOMs as referrers or `sha256-<hex>.sbom` tags.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest as _, Sha256};
use whittle_oci::{Descriptor, DockerReference};

use crate::client::{Client, header, status_error};
use crate::error::{Error, Result};
use crate::plan::{BlobSource, Doc, Plan};
use whittle_oci::sha256_digest;

/// Media type of an SPDX JSON SBOM.
pub const MEDIA_TYPE_SPDX: &str = "application/spdx+json";
/// The OCI 1.1 empty descriptor's media type.
const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// How SBOMs were attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SbomAttachment {
    /// As an OCI 1.1 referrer (the registry has the referrers API).
    Referrer,
    /// As a tag (`sha256-<hex>.sbom`), the registry having no referrers API.
    Tag(String),
}

/// One SBOM pushed with an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedSbom {
    /// The manifest it describes.
    pub subject: String,
    /// The digest of the SBOM's artifact manifest.
    pub digest: String,
    /// How it was attached.
    pub attachment: SbomAttachment,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// The digest the tag points to (manifest, or index for several platforms); equal to the
    /// local digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Each image manifest's digest.
    pub manifests: Vec<String>,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs the registry already had (skipped).
    pub skipped: usize,
    /// Blobs mounted from another repository of the same registry.
    pub mounted: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// SBOMs attached.
    pub sboms: Vec<PushedSbom>,
}

enum Outcome {
    Skipped,
    Mounted,
    Uploaded(u64),
}

/// The scope for pushing to `repo` (and pulling from `from` for a mount).
fn push_scope(repo: &str, from: Option<&str>) -> String {
    match from {
        Some(f) if f != repo => format!("repository:{repo}:pull,push repository:{f}:pull"),
        _ => format!("repository:{repo}:pull,push"),
    }
}

/// Push `plan` to `dest`; `sboms` are (subject manifest digest, SPDX JSON) pairs.
pub(crate) fn push_plan(
    client: &Client,
    plan: &Plan,
    blobs: &dyn BlobSource,
    dest: &DockerReference,
    mount_from: Option<&str>,
    sboms: &[(String, Vec<u8>)],
) -> Result<PushReport> {
    let repo = dest.repository.as_str();
    let scope = push_scope(repo, mount_from);
    let unique = plan.unique_blobs();
    let mut report = push_blobs(client, repo, &scope, &unique, blobs, mount_from)?;
    let top = plan.top()?;
    let tag = dest.tag.clone();
    let top_ref = match (&tag, &dest.digest) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => {
            if d != &top.digest {
                return Err(Error::Invalid(format!(
                    "the destination names digest {d} but the image's digest is {}; push it by tag instead",
                    top.digest
                )));
            }
            d.clone()
        }
        (None, None) => "latest".into(),
    };
    for d in &plan.images {
        let r = if plan.index.is_some() {
            d.digest.clone()
        } else {
            top_ref.clone()
        };
        put_manifest(client, repo, &scope, d, &r)?;
        report.manifests.push(d.digest.clone());
    }
    if let Some(i) = &plan.index {
        put_manifest(client, repo, &scope, i, &top_ref)?;
    }
    report.digest = top.digest.clone();
    report.media_type = top.media_type.clone();
    if !sboms.is_empty() {
        let referrers = supports_referrers(client, repo, &scope, &top.digest)?;
        for (subject, sbom) in sboms {
            let subject_doc = plan
                .images
                .iter()
                .chain(plan.index.iter())
                .find(|d| &d.digest == subject)
                .ok_or_else(|| {
                    Error::Invalid(format!("SBOM subject {subject} is not part of the image"))
                })?;
            report.sboms.push(attach_sbom(
                client,
                repo,
                &scope,
                subject_doc,
                sbom,
                referrers,
            )?);
        }
    }
    Ok(report)
}

/// Push the blobs `blobs` (HEAD first: only those the registry lacks are uploaded) and then
/// `doc` under `reference` to `repo`: one artifact and what it names (the shared build cache).
pub(crate) fn push_docs(
    client: &Client,
    repo: &str,
    blobs: &[(String, u64)],
    source: &dyn BlobSource,
    doc: &Doc,
    reference: &str,
) -> Result<PushReport> {
    let scope = push_scope(repo, None);
    let mut report = push_blobs(client, repo, &scope, blobs, source, None)?;
    put_manifest(client, repo, &scope, doc, reference)?;
    report.digest = doc.digest.clone();
    report.media_type = doc.media_type.clone();
    Ok(report)
}

/// Ensures each of `blobs` is in `repo` (HEAD first; mounted from `mount_from` or uploaded when
/// missing): a report counting what was done.
fn push_blobs(
    client: &Client,
    repo: &str,
    scope: &str,
    blobs: &[(String, u64)],
    source: &dyn BlobSource,
    mount_from: Option<&str>,
) -> Result<PushReport> {
    let mut report = PushReport::default();
    let results = parallel(blobs, client.options().jobs, |(digest, size)| {
        ensure_blob(client, repo, scope, source, digest, *size, mount_from)
    })?;
    for r in results {
        match r {
            Outcome::Skipped => report.skipped += 1,
            Outcome::Mounted => report.mounted += 1,
            Outcome::Uploaded(n) => {
                report.uploaded += 1;
                report.bytes_uploaded += n;
            }
        }
    }
    Ok(report)
}

/// Run `f` over `items` on up to `jobs` threads; the first error stops the rest.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = Mutex::new(0usize);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let workers = jobs.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = match next.lock() {
                        Ok(mut n) => {
                            let i = *n;
                            *n += 1;
                            i
                        }
                        Err(_) => return,
                    };
                    let Some(item) = items.get(i) else { return };
                    match f(item) {
                        Ok(r) => {
                            if let Ok(mut v) = results.lock()
                                && let Some(slot) = v.get_mut(i)
                            {
                                *slot = Some(r);
                            }
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            if let Ok(mut fe) = first_err.lock()
                                && fe.is_none()
                            {
                                *fe = Some(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().ok().flatten() {
        return Err(e);
    }
    let v = results
        .into_inner()
        .map_err(|_| Error::Invalid("a worker thread panicked".into()))?;
    v.into_iter()
        .map(|r| r.ok_or_else(|| Error::Invalid("a worker thread stopped early".into())))
        .collect()
}

/// Make sure `digest` is in `repo`: HEAD, else mount, else upload; the whole sequence is
/// restarted on failures that may pass (its requests are not retried one by one: one policy,
/// one count of attempts).
fn ensure_blob(
    client: &Client,
    repo: &str,
    scope: &str,
    blobs: &dyn BlobSource,
    digest: &str,
    size: u64,
    mount_from: Option<&str>,
) -> Result<Outcome> {
    client.budget().retry(Error::is_transient, |_| {
        try_ensure_blob(client, repo, scope, blobs, digest, size, mount_from)
    })
}

fn try_ensure_blob(
    client: &Client,
    repo: &str,
    scope: &str,
    blobs: &dyn BlobSource,
    digest: &str,
    size: u64,
    mount_from: Option<&str>,
) -> Result<Outcome> {
    let url = client.url(&format!("{repo}/blobs/{digest}"));
    let resp = client.send("HEAD", &url, scope, &[], None, false)?;
    match resp.status().as_u16() {
        200 => return Ok(Outcome::Skipped),
        404 => {}
        _ => {
            return Err(status_error(
                "HEAD",
                &url,
                resp,
                "checking whether a blob exists",
            ));
        }
    }
    let start = match mount_from.filter(|f| *f != repo) {
        Some(from) => client.url(&format!("{repo}/blobs/uploads/?mount={digest}&from={from}")),
        None => client.url(&format!("{repo}/blobs/uploads/")),
    };
    let resp = client.send(
        "POST",
        &start,
        scope,
        &[("content-length", "0")],
        Some(&[]),
        false,
    )?;
    let mut location = match resp.status().as_u16() {
        201 if mount_from.is_some() => return Ok(Outcome::Mounted),
        202 => header(&resp, "location")
            .map(|l| client.resolve(l))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "POST {start}: the registry gave no upload Location"
                ))
            })?,
        _ => return Err(status_error("POST", &start, resp, "starting a blob upload")),
    };
    let mut reader = blobs.open(digest, size)?;
    let read_error =
        |e| crate::sink::read_error(e, &blobs.name(digest), digest, size, client.budget());
    let chunk = client.options().chunk_size.max(1);
    let mut hasher = Sha256::new();
    let mut sent: u64 = 0;
    let with_digest = |loc: &str| {
        let sep = if loc.contains('?') { '&' } else { '?' };
        format!("{loc}{sep}digest={digest}")
    };
    if size <= chunk as u64 {
        let data = read_exactly(&mut reader, size, digest).map_err(read_error)?;
        hasher.update(&data);
        check_digest(hasher, digest, &blobs.name(digest))?;
        let url = with_digest(&location);
        let len = data.len().to_string();
        let resp = client.send(
            "PUT",
            &url,
            scope,
            &[
                ("content-type", "application/octet-stream"),
                ("content-length", &len),
            ],
            Some(&data),
            false,
        )?;
        if resp.status().as_u16() != 201 {
            return Err(status_error("PUT", &url, resp, "uploading a blob"));
        }
        return Ok(Outcome::Uploaded(size));
    }
    let mut buf = vec![0u8; chunk];
    while sent < size {
        let want = usize::try_from((size - sent).min(chunk as u64)).unwrap_or(chunk);
        let part = buf.get_mut(..want).unwrap_or_default();
        reader.read_exact(part).map_err(|e| {
            read_error(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                shorter(digest, size, sent)
            } else {
                e
            })
        })?;
        hasher.update(&*part);
        let range = format!("{}-{}", sent, sent + want as u64 - 1);
        let len = want.to_string();
        let resp = client.send(
            "PATCH",
            &location,
            scope,
            &[
                ("content-type", "application/octet-stream"),
                ("content-range", &range),
                ("content-length", &len),
            ],
            Some(part),
            false,
        )?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(
                "PATCH",
                &location,
                resp,
                "uploading a blob chunk",
            ));
        }
        if let Some(l) = header(&resp, "location") {
            location = client.resolve(l);
        }
        sent += want as u64;
    }
    let mut extra = [0u8; 1];
    if reader.read(&mut extra).map_err(read_error)? != 0 {
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            crate::sink::Mismatch::Longer {
                digest: digest.to_string(),
                declared: size,
            },
        )));
    }
    check_digest(hasher, digest, &blobs.name(digest))?;
    let url = with_digest(&location);
    let resp = client.send(
        "PUT",
        &url,
        scope,
        &[("content-length", "0")],
        Some(&[]),
        false,
    )?;
    if resp.status().as_u16() != 201 {
        return Err(status_error(
            "PUT",
            &url,
            resp,
            "finishing a chunked blob upload",
        ));
    }
    Ok(Outcome::Uploaded(size))
}

/// The whole of a blob of `size` bytes (at most a chunk), or an error carrying a
/// [`crate::sink::Mismatch`] when it is shorter or longer.
fn read_exactly(r: &mut dyn Read, size: u64, digest: &str) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    r.take(size + 1).read_to_end(&mut data)?;
    let actual = data.len() as u64;
    if actual > size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            crate::sink::Mismatch::Longer {
                digest: digest.to_string(),
                declared: size,
            },
        ));
    }
    if actual < size {
        return Err(shorter(digest, size, actual));
    }
    Ok(data)
}

/// The error for a blob that ended after `actual` of its `size` bytes.
fn shorter(digest: &str, size: u64, actual: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        crate::sink::Mismatch::Shorter {
            digest: digest.to_string(),
            declared: size,
            actual,
        },
    )
}

fn check_digest(h: Sha256, digest: &str, source: &str) -> Result<()> {
    let actual = format!("sha256:{}", hex::encode(h.finalize()));
    if actual != digest {
        return Err(Error::DigestMismatch {
            what: format!("blob {digest} from {source}"),
            expected: digest.to_string(),
            actual,
        });
    }
    Ok(())
}

/// PUT a manifest's exact bytes under `reference`; the registry's digest must equal ours.
fn put_manifest(
    client: &Client,
    repo: &str,
    scope: &str,
    doc: &Doc,
    reference: &str,
) -> Result<()> {
    let url = client.url(&format!("{repo}/manifests/{reference}"));
    let resp = client.send(
        "PUT",
        &url,
        scope,
        &[("content-type", doc.media_type.as_str())],
        Some(&doc.bytes),
        true,
    )?;
    if resp.status().as_u16() != 201 {
        return Err(status_error("PUT", &url, resp, "pushing a manifest"));
    }
    if let Some(d) = header(&resp, "docker-content-digest")
        && d != doc.digest
    {
        return Err(Error::DigestMismatch {
            what: format!("manifest pushed to {url} (Docker-Content-Digest)"),
            expected: doc.digest.clone(),
            actual: d.to_string(),
        });
    }
    Ok(())
}

/// Whether the registry implements the OCI 1.1 referrers API: `GET /v2/<repo>/referrers/<digest>`
/// answers 200 with an image index. Anything else (404 on distribution 2.x) means no.
fn supports_referrers(client: &Client, repo: &str, scope: &str, digest: &str) -> Result<bool> {
    let url = client.url(&format!("{repo}/referrers/{digest}"));
    let mut resp = client.send(
        "GET",
        &url,
        scope,
        &[("accept", crate::plan::OCI_INDEX)],
        None,
        true,
    )?;
    if resp.status().as_u16() != 200 {
        return Ok(false);
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(crate::plan::MAX_MANIFEST_SIZE)
        .read_to_vec()
        .unwrap_or_default();
    Ok(serde_json::from_slice::<serde_json::Value>(&body)
        .is_ok_and(|v| v.get("manifests").is_some_and(serde_json::Value::is_array)))
}

/// The artifact manifest of an SBOM about `subject`.
fn sbom_manifest(subject: &Descriptor, sbom: &Descriptor) -> Result<Vec<u8>> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Empty<'a> {
        media_type: &'a str,
        digest: String,
        size: u64,
        data: &'a str,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Artifact<'a> {
        schema_version: u32,
        media_type: &'a str,
        artifact_type: &'a str,
        config: Empty<'a>,
        layers: Vec<&'a Descriptor>,
        subject: &'a Descriptor,
    }
    let m = Artifact {
        schema_version: 2,
        media_type: crate::plan::OCI_MANIFEST,
        artifact_type: MEDIA_TYPE_SPDX,
        config: Empty {
            media_type: MEDIA_TYPE_EMPTY,
            digest: sha256_digest(b"{}"),
            size: 2,
            data: "e30=",
        },
        layers: vec![sbom],
        subject,
    };
    serde_json::to_vec(&m).map_err(|e| Error::Invalid(format!("serializing an SBOM manifest: {e}")))
}

fn attach_sbom(
    client: &Client,
    repo: &str,
    scope: &str,
    subject: &Doc,
    sbom: &[u8],
    referrers: bool,
) -> Result<PushedSbom> {
    let sbom_desc = Descriptor {
        media_type: MEDIA_TYPE_SPDX.into(),
        digest: sha256_digest(sbom),
        size: sbom.len() as u64,
        annotations: BTreeMap::new(),
        platform: None,
    };
    let mut subject_desc = subject.descriptor();
    subject_desc.platform = None;
    let bytes = sbom_manifest(&subject_desc, &sbom_desc)?;
    let mut mem = std::collections::HashMap::new();
    mem.insert(
        sbom_desc.digest.clone(),
        whittle_oci::FileData::inline(sbom),
    );
    mem.insert(
        sha256_digest(b"{}"),
        whittle_oci::FileData::inline(&b"{}"[..]),
    );
    let mem = crate::plan::MemBlobs(mem);
    for (d, s) in [
        (sha256_digest(b"{}"), 2u64),
        (sbom_desc.digest.clone(), sbom_desc.size),
    ] {
        ensure_blob(client, repo, scope, &mem, &d, s, None)?;
    }
    let doc = Doc {
        digest: sha256_digest(&bytes),
        media_type: crate::plan::OCI_MANIFEST.into(),
        bytes,
        blobs: Vec::new(),
        platform: None,
    };
    let hex = crate::plan::require_hex(&subject.digest, "SBOM subject")?;
    let attachment = if referrers {
        put_manifest(client, repo, scope, &doc, &doc.digest)?;
        SbomAttachment::Referrer
    } else {
        let tag = format!("sha256-{hex}.sbom");
        put_manifest(client, repo, scope, &doc, &tag)?;
        SbomAttachment::Tag(tag)
    };
    Ok(PushedSbom {
        subject: subject.digest.clone(),
        digest: doc.digest,
        attachment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_include_the_mount_source() {
        assert_eq!(push_scope("a/b", None), "repository:a/b:pull,push");
        assert_eq!(push_scope("a/b", Some("a/b")), "repository:a/b:pull,push");
        assert_eq!(
            push_scope("a/b", Some("c")),
            "repository:a/b:pull,push repository:c:pull"
        );
    }

    #[test]
    fn parallel_keeps_order_and_stops_on_error() {
        let items: Vec<u32> = (0..50).collect();
        let out = parallel(&items, 4, |i| Ok(i * 2)).unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let e = parallel(&items, 4, |i| {
            if *i == 7 {
                Err(Error::Invalid("seven".into()))
            } else {
                Ok(*i)
            }
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "seven");
        assert!(parallel::<u32, u32>(&[], 4, |i| Ok(*i)).unwrap().is_empty());
    }

    #[test]
    fn sbom_manifest_names_subject_and_artifact_type() {
        let d = |m: &str, b: &[u8]| Descriptor {
            media_type: m.into(),
            digest: sha256_digest(b),
            size: b.len() as u64,
            annotations: BTreeMap::new(),
            platform: None,
        };
        let bytes = sbom_manifest(
            &d(crate::plan::OCI_MANIFEST, b"m"),
            &d(MEDIA_TYPE_SPDX, b"s"),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["artifactType"], MEDIA_TYPE_SPDX);
        assert_eq!(v["subject"]["digest"], sha256_digest(b"m"));
        assert_eq!(v["config"]["mediaType"], MEDIA_TYPE_EMPTY);
        assert_eq!(v["layers"][0]["digest"], sha256_digest(b"s"));
    }
}
