//! whittle's build cache shared through a registry repository (`--cache-from` / `--cache-to`).
//!
//! Layout, all in one repository:
//! - every cache entry's blob is a registry blob under its own SHA-256 (the digest the local
//!   cache files it by), so a package is read with one `GET /v2/<repo>/blobs/sha256:<hex>`;
//! - each build that writes the cache pushes one OCI artifact manifest (artifact type
//!   [`ARTIFACT_TYPE`]) listing every entry it used as a layer, derived entries carrying their
//!   key in the [`KEY_ANNOTATION`] annotation and their seal in [`SEAL_ANNOTATION`] (readers use
//!   a derived entry only when the seal verifies under their own cache key), tagged `cache-YYYYMMDD-<16 hex>` (the UTC date of
//!   the push and the start of the manifest's digest). Writers never overwrite one another:
//!   blobs are content-addressed and each manifest has its own tag (equal content, equal tag).
//! - a reader lists the tags, takes the [`MAX_INDEXES`] newest `cache-` ones and merges their
//!   entries (the newest wins for a key).
//!
//! Garbage collection: everything is referenced only through the dated tags, so a retention
//! policy that deletes `cache-*` tags older than N days, followed by the registry's own garbage
//! collection, removes what no recent build used; an entry still used is pushed again under a
//! newer tag by the next build that writes the cache.

use std::path::Path;

use serde::{Deserialize, Serialize};
use whittle_fetch::remote::{RemoteEntry, RemoteError, RemoteStore};
use whittle_oci::{DockerReference, sha256_digest};

use crate::Options;
use crate::client::{Client, header, status_error};
use crate::error::{Error, Result};
use crate::plan::{BlobSource, DirBlobs, Doc, OCI_MANIFEST};

/// The artifact type of a cache manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.whittle.cache.v1";
/// The media type of a cache entry's blob.
pub const BLOB_TYPE: &str = "application/vnd.whittle.cache.blob.v1";
/// The annotation naming a derived entry's key.
pub const KEY_ANNOTATION: &str = "dev.whittle.cache.key";
/// The annotation carrying a derived entry's seal (`<key id>:<HMAC-SHA256 hex>` under the
/// writer's cache key; readers with the same key verify it).
pub const SEAL_ANNOTATION: &str = "dev.whittle.cache.seal";
/// The tag prefix of cache manifests.
pub const TAG_PREFIX: &str = "cache-";
/// How many of the newest cache manifests a reader merges.
pub const MAX_INDEXES: usize = 16;
/// The largest page of a tag list read.
const MAX_TAG_LIST: u64 = 8 << 20;
/// The most pages of a tag list read.
const MAX_TAG_PAGES: usize = 64;
/// The OCI 1.1 empty descriptor's media type (the config of an artifact).
const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The largest derived entry read from a cache repository.
const MAX_ENTRY: u64 = 4 << 30;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    media_type: String,
    #[serde(default)]
    artifact_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The cache manifest listing `entries` (sorted, so equal sets give equal bytes).
fn manifest(entries: &[RemoteEntry]) -> Result<Vec<u8>> {
    let mut entries = entries.to_vec();
    entries.sort();
    entries.dedup();
    let layers = entries
        .iter()
        .map(|e| Descriptor {
            media_type: BLOB_TYPE.into(),
            digest: format!("sha256:{}", e.sha256),
            size: e.size,
            data: None,
            annotations: e
                .key
                .iter()
                .map(|k| (KEY_ANNOTATION.to_string(), k.clone()))
                .chain(
                    e.seal
                        .iter()
                        .map(|s| (SEAL_ANNOTATION.to_string(), s.clone())),
                )
                .collect(),
        })
        .collect();
    let m = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.into(),
        artifact_type: ARTIFACT_TYPE.into(),
        config: Descriptor {
            media_type: EMPTY_TYPE.into(),
            digest: sha256_digest(EMPTY),
            size: EMPTY.len() as u64,
            data: Some("e30=".into()),
            annotations: Default::default(),
        },
        layers,
    };
    serde_json::to_vec(&m).map_err(|e| Error::Invalid(format!("serializing a cache manifest: {e}")))
}

/// The entries a cache manifest lists; anything malformed is skipped.
fn entries_of(bytes: &[u8]) -> Vec<RemoteEntry> {
    let Ok(m) = serde_json::from_slice::<Manifest>(bytes) else {
        return Vec::new();
    };
    if m.artifact_type != ARTIFACT_TYPE {
        return Vec::new();
    }
    m.layers
        .into_iter()
        .filter_map(|d| {
            let hex = d.digest.strip_prefix("sha256:")?;
            let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            ok.then(|| RemoteEntry {
                key: d.annotations.get(KEY_ANNOTATION).cloned(),
                seal: d.annotations.get(SEAL_ANNOTATION).cloned(),
                sha256: hex.to_string(),
                size: d.size,
            })
        })
        .collect()
}

/// `YYYYMMDD` of a time in seconds since 1970 (UTC).
fn date(secs: u64) -> String {
    let stamp = whittle_oci::rfc3339(secs);
    stamp.split('T').next().unwrap_or_default().replace('-', "")
}

/// A registry repository holding whittle's shared cache, read on local misses.
pub struct RegistryCache {
    client: Client,
    repo: String,
}

impl RegistryCache {
    /// The cache in `reference`'s repository (its tag or digest is ignored). `opts.limits`
    /// bound the whole run's reads: past its deadline the cache is given up on.
    pub fn new(reference: &DockerReference, opts: &Options) -> Result<Self> {
        let budget = opts.start()?;
        Ok(RegistryCache {
            client: Client::new(&reference.registry, opts, &budget)?,
            repo: reference.repository.clone(),
        })
    }

    fn scope(&self) -> String {
        format!("repository:{}:pull", self.repo)
    }

    /// The [`MAX_INDEXES`] newest cache tags of the repository (valid tags starting with
    /// [`TAG_PREFIX`], newest first), following `Link: <…>; rel="next"` pages (registries that
    /// paginate), at most [`MAX_TAG_PAGES`] pages of [`MAX_TAG_LIST`] bytes. Only those are kept
    /// while reading, so a repository with millions of tags costs one page of memory.
    fn cache_tags(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut out: Vec<String> = Vec::new();
        let mut url = self.client.url(&format!("{}/tags/list?n=1000", self.repo));
        for _ in 0..MAX_TAG_PAGES {
            let resp = self
                .client
                .send("GET", &url, &self.scope(), &[], None, true)?;
            match resp.status().as_u16() {
                200 => {}
                404 => return Ok(out), // no such repository yet
                _ => return Err(status_error("GET", &url, resp, "listing the cache's tags")),
            }
            let next = header(&resp, "link")
                .and_then(next_link)
                .map(|l| self.client.resolve(l));
            let body = self
                .client
                .read_body(&url, resp, MAX_TAG_LIST, "tag list")?;
            let t: Tags = serde_json::from_slice(&body)
                .map_err(|e| Error::Invalid(format!("{url}: not a tag list: {e}")))?;
            out.extend(
                t.tags
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| is_cache_tag(t)),
            );
            out.sort_unstable_by(|a, b| b.cmp(a));
            out.dedup();
            out.truncate(MAX_INDEXES);
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(out)
    }
}

/// Whether `tag` is a cache manifest's tag: [`TAG_PREFIX`], then what the OCI tag grammar
/// allows (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`), so that it can go into a URL as it is.
fn is_cache_tag(tag: &str) -> bool {
    tag.starts_with(TAG_PREFIX)
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The target of a `Link` header's `rel="next"` entry (`<…/tags/list?n=1000&last=x>; rel="next"`).
fn next_link(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        next.then(|| target.trim().strip_prefix('<')?.strip_suffix('>'))
            .flatten()
    })
}

/// Whether an error means the store is unusable (as opposed to one bad blob).
fn classify(e: Error) -> RemoteError {
    match e {
        Error::DigestMismatch { .. } | Error::BlobSize { .. } => RemoteError::Bad(e.to_string()),
        e => RemoteError::Down(e.to_string()),
    }
}

impl RemoteStore for RegistryCache {
    fn name(&self) -> String {
        format!("docker://{}/{}", self.client.registry(), self.repo)
    }

    fn index(&self) -> std::result::Result<Vec<RemoteEntry>, RemoteError> {
        let tags = self.cache_tags().map_err(classify)?;
        // one round trip each, on the way to the first derived entry: asked side by side, merged
        // newest first; a manifest deleted meanwhile (retention) is simply absent
        let manifests = crate::push::parallel(&tags, self.client.options().jobs, |t| {
            crate::pull::find_manifest(&self.client, &self.repo, t, None)
        })
        .map_err(classify)?;
        Ok(manifests
            .into_iter()
            .flatten()
            .flat_map(|(bytes, _, _)| entries_of(&bytes))
            .collect())
    }

    fn blob(&self, sha256: &str, size: u64) -> std::result::Result<Option<Vec<u8>>, RemoteError> {
        if size > MAX_ENTRY {
            return Ok(None);
        }
        let digest = format!("sha256:{sha256}");
        match crate::pull::fetch_small_blob(&self.client, &self.repo, &digest, size) {
            Ok(b) => Ok(Some(b)),
            Err(Error::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }
}

/// The content of an artifact's empty config.
const EMPTY: &[u8] = b"{}";

/// The blobs of a local cache directory, and the empty config.
struct CacheBlobs(DirBlobs);

impl BlobSource for CacheBlobs {
    fn open(&self, digest: &str, size: u64) -> Result<Box<dyn std::io::Read + Send + '_>> {
        if digest == sha256_digest(EMPTY) {
            return Ok(Box::new(EMPTY));
        }
        self.0.open(digest, size)
    }

    fn name(&self, digest: &str) -> String {
        self.0.name(digest)
    }
}

/// What [`push_cache`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePush {
    /// The tag of the cache manifest.
    pub tag: String,
    /// Entries listed.
    pub entries: usize,
    /// Blobs uploaded (the others were there already).
    pub uploaded: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
}

/// Writes `entries` of the local cache rooted at `cache_root` (`blobs/sha256/<hex>`) to
/// `dest`'s repository: each blob the registry lacks is uploaded (HEAD first, its digest checked
/// while it is read), then one cache manifest listing them is pushed under a dated tag. Entries
/// whose blob is no longer in the local cache are left out.
pub fn push_cache(
    dest: &DockerReference,
    cache_root: &Path,
    entries: &[RemoteEntry],
    opts: &Options,
) -> Result<CachePush> {
    let entries: Vec<RemoteEntry> = entries
        .iter()
        .filter(|e| cache_root.join("blobs/sha256").join(&e.sha256).is_file())
        .cloned()
        .collect();
    let bytes = manifest(&entries)?;
    let digest = sha256_digest(&bytes);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let tag = format!(
        "{TAG_PREFIX}{}-{}",
        date(now),
        digest.trim_start_matches("sha256:").get(..16).unwrap_or("")
    );
    let mut blobs: Vec<(String, u64)> = entries
        .iter()
        .map(|e| (format!("sha256:{}", e.sha256), e.size))
        .collect();
    blobs.sort();
    blobs.dedup();
    let doc = Doc {
        digest,
        media_type: OCI_MANIFEST.into(),
        bytes,
        blobs: blobs.clone(),
        platform: None,
    };
    // the manifest's config, the empty JSON object, is a blob too
    blobs.push((sha256_digest(EMPTY), EMPTY.len() as u64));
    let client = Client::new(&dest.registry, opts, &opts.start()?)?;
    let report = crate::push::push_docs(
        &client,
        &dest.repository,
        &blobs,
        &CacheBlobs(DirBlobs(cache_root.to_path_buf())),
        &doc,
        &tag,
    )?;
    Ok(CachePush {
        tag,
        entries: entries.len(),
        uploaded: report.uploaded,
        bytes_uploaded: report.bytes_uploaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(key: Option<&str>, c: char, size: u64) -> RemoteEntry {
        RemoteEntry {
            key: key.map(str::to_string),
            sha256: c.to_string().repeat(64),
            size,
            seal: key.map(|k| format!("id:{}", k.len())),
        }
    }

    #[test]
    fn manifests_round_trip_and_equal_sets_give_equal_bytes() {
        let a = vec![e(Some("layer x"), 'a', 3), e(None, 'b', 4)];
        let b = vec![e(None, 'b', 4), e(Some("layer x"), 'a', 3), e(None, 'b', 4)];
        let m = manifest(&a).unwrap();
        assert_eq!(m, manifest(&b).unwrap());
        let mut back = entries_of(&m);
        back.sort();
        let mut want = a.clone();
        want.sort();
        assert_eq!(back, want);
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["artifactType"], ARTIFACT_TYPE);
    }

    #[test]
    fn other_manifests_and_bad_digests_give_nothing() {
        assert!(entries_of(b"{}").is_empty());
        assert!(entries_of(b"not json").is_empty());
        let m = String::from_utf8(manifest(&[e(None, 'a', 1)]).unwrap()).unwrap();
        let other = m.replace(ARTIFACT_TYPE, "application/spdx+json");
        assert!(entries_of(other.as_bytes()).is_empty());
        let bad = m.replace(&"a".repeat(64), "../../etc/passwd");
        assert!(entries_of(bad.as_bytes()).is_empty());
    }

    #[test]
    fn next_pages_are_found_in_link_headers() {
        assert_eq!(
            next_link("</v2/r/tags/list?n=2&last=b>; rel=\"next\""),
            Some("/v2/r/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link("<https://a/prev>; rel=\"prev\", <https://a/next>; rel=\"next\""),
            Some("https://a/next")
        );
        assert_eq!(next_link("<https://a/prev>; rel=\"prev\""), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn endless_tag_pages_keep_only_the_newest_valid_cache_tags() {
        use whittle_testutil::http::{HttpServer, respond};
        // every page: many tags that are not the cache's, one cache tag, one that is not a
        // valid tag, and a `next` link, forever
        let server = HttpServer::start(|hit, s| {
            if !hit.path.contains("/tags/list") {
                return respond(s, 404, &[], b"");
            }
            let page: usize = hit
                .path
                .rsplit_once("page=")
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(0);
            let mut tags: Vec<String> = (0..20_000).map(|i| format!("v{page}.{i}")).collect();
            tags.push(format!("cache-2026{page:04}-0"));
            tags.push(format!("cache-9999/../../x{page}"));
            let body = serde_json::to_vec(&serde_json::json!({ "tags": tags })).unwrap();
            let next = format!("</v2/r/tags/list?n=1000&page={}>; rel=\"next\"", page + 1);
            respond(s, 200, &[("Link", next.as_str())], &body);
        });
        let reference = DockerReference::parse(&format!("{}/r", server.host)).unwrap();
        let cache = RegistryCache::new(&reference, &Options::default()).unwrap();
        let tags = cache.cache_tags().unwrap();
        let want: Vec<String> = (0..MAX_TAG_PAGES)
            .rev()
            .take(MAX_INDEXES)
            .map(|p| format!("cache-2026{p:04}-0"))
            .collect();
        assert_eq!(tags, want);
        assert_eq!(server.count("GET", ""), MAX_TAG_PAGES);
        // the index asks for those manifests only (absent here: nothing listed)
        assert!(cache.index().unwrap().is_empty());
        let manifests: Vec<String> = server
            .hits()
            .into_iter()
            .filter(|h| h.path.contains("/manifests/"))
            .map(|h| h.path)
            .collect();
        assert_eq!(manifests.len(), MAX_INDEXES, "{manifests:?}");
        assert!(manifests.iter().all(|m| !m.contains("..")), "{manifests:?}");
    }

    #[test]
    fn a_blob_redirected_to_another_host_gets_no_credentials_and_is_verified() {
        use std::io::{Read as _, Write as _};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use whittle_testutil::http::{HttpServer, respond};
        // the other host: records the request head it got, serves the blob
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other_addr = other.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for s in other.incoming() {
                let Ok(mut s) = s else { continue };
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                    head.push(b[0]);
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nblob",
                );
            }
        });
        // the registry: asks for credentials, then redirects the blob there
        let asked = AtomicUsize::new(0);
        let location = format!("http://{other_addr}/storage/blob?sig=x");
        let server = HttpServer::start(move |_, s| {
            if asked.fetch_add(1, Ordering::SeqCst) == 0 {
                respond(s, 401, &[("WWW-Authenticate", "Basic realm=\"r\"")], b"");
            } else {
                respond(s, 307, &[("Location", location.as_str())], b"");
            }
        });
        let config = tempfile::tempdir().unwrap();
        std::fs::write(
            config.path().join("config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"dTpzZWNyZXQ="}}}}}}"#,
                server.host
            ),
        )
        .unwrap();
        let opts = Options {
            docker_config: Some(config.path().to_path_buf()),
            ..Options::default()
        };
        let reference = DockerReference::parse(&format!("{}/r", server.host)).unwrap();
        let cache = RegistryCache::new(&reference, &opts).unwrap();
        let sha = sha256_digest(b"blob");
        let hex = sha.trim_start_matches("sha256:");
        assert_eq!(cache.blob(hex, 4).unwrap().unwrap(), b"blob");
        let head = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(head.starts_with("GET /storage/blob?sig=x"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "{head}"
        );
        // what the other host gives is still checked against the digest asked for
        let wrong = sha256_digest(b"blob2");
        assert!(matches!(
            cache.blob(wrong.trim_start_matches("sha256:"), 4),
            Err(RemoteError::Bad(_))
        ));
    }

    #[test]
    fn an_endless_blob_is_cut_at_its_size_and_reported_bad() {
        use whittle_testutil::http::{HttpServer, respond_streaming, zeros};
        // announced as 1 TiB, or not announced at all: zeros until the client goes away
        let server = HttpServer::start(|hit, s| {
            let length = hit.path.contains("announced").then_some(1u64 << 40);
            respond_streaming(s, length, |s| zeros(s, 1 << 40));
        });
        let hex = sha256_digest(&[0u8; 1000]);
        for repo in ["r", "announced"] {
            let reference = DockerReference::parse(&format!("{}/{repo}", server.host)).unwrap();
            let cache = RegistryCache::new(&reference, &Options::default()).unwrap();
            let started = std::time::Instant::now();
            let r = cache.blob(hex.trim_start_matches("sha256:"), 1000);
            assert!(
                matches!(r, Err(RemoteError::Bad(_))),
                "{repo}: {:?}",
                r.map(|b| b.map(|b| b.len()))
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(30));
        }
        assert_eq!(server.count("GET", ""), 2, "asked once each, not retried");
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date(0), "19700101");
        assert_eq!(date(951_782_400), "20000229");
        assert_eq!(date(1_796_515_199), "20261205");
        assert_eq!(date(1_796_515_200), "20261206");
    }
}
