//! Where cosign keeps signatures and attestations: an OCI manifest tagged
//! `sha256-<hex>.sig` / `sha256-<hex>.att` beside the signed image (in a registry repository,
//! or in a local OCI layout's `index.json` so `whittle copy` carries it), whose layers are the
//! payloads (simple-signing JSON with the signature in an annotation, or DSSE envelopes).
//!
//! cosign writes this tag scheme by default even to registries with the OCI 1.1 referrers
//! API, and every cosign verifier reads it; referrers are not written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use whittle_oci::{
    ANNOTATION_REF_NAME, Descriptor, DockerReference, ImageRef, MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_MANIFEST, Manifest, digest_hex, sha256_digest,
};

use crate::error::{Error, Result};

/// Most layers (signatures, attestations) one signature manifest may have: cosign's own limit.
pub const MAX_LAYERS: usize = 1000;
/// Largest manifest or config of a signature artifact.
pub const MAX_MANIFEST: u64 = whittle_registry::MAX_MANIFEST_SIZE;
/// Most all the layers of one signature artifact may declare together.
pub const MAX_ARTIFACT_BYTES: u64 = 256 << 20;

/// The two kinds of artifact cosign attaches to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.sig`: simple-signing payloads.
    Signature,
    /// `.att`: DSSE envelopes of in-toto statements.
    Attestation,
}

impl Kind {
    /// The largest layer (payload) this kind of artifact may have: a simple-signing payload
    /// ([`crate::MAX_SIGNATURE_PAYLOAD`]) or a DSSE envelope ([`crate::payload::MAX_PAYLOAD`]).
    pub fn max_layer(self) -> u64 {
        match self {
            Kind::Signature => crate::MAX_SIGNATURE_PAYLOAD,
            Kind::Attestation => crate::payload::MAX_PAYLOAD as u64,
        }
    }

    /// The tag of this kind of artifact for `digest`: `sha256-<hex>.sig` / `.att`.
    pub fn tag(self, digest: &str) -> Result<String> {
        let hex = digest_hex(digest).ok_or_else(|| {
            Error::format("digest", format!("`{digest}` is not a sha256:<hex> digest"))
        })?;
        Ok(format!(
            "sha256-{hex}.{}",
            match self {
                Kind::Signature => "sig",
                Kind::Attestation => "att",
            }
        ))
    }
}

/// Where an image (and so its signatures) lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A registry repository.
    Registry(DockerReference),
    /// A local OCI layout directory.
    Layout(PathBuf),
}

impl Place {
    /// The place of `image`, when signatures can be stored there (`docker://` and `oci:`).
    pub fn of(image: &ImageRef) -> Option<Place> {
        match image {
            ImageRef::Docker(r) => Some(Place::Registry(DockerReference {
                registry: r.registry.clone(),
                repository: r.repository.clone(),
                tag: None,
                digest: None,
            })),
            ImageRef::Oci { path, .. } => Some(Place::Layout(path.clone())),
            _ => None,
        }
    }

    /// The name signatures give the image: `host/repo` (cosign's docker-reference), or the
    /// layout directory's name (not its path: what is signed does not depend on where it was).
    pub fn name(&self) -> String {
        match self {
            Place::Registry(r) => format!("{}/{}", r.registry, r.repository),
            Place::Layout(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    }

    fn tagged(&self, tag: &str) -> ImageRef {
        match self {
            Place::Registry(r) => ImageRef::Docker(DockerReference {
                tag: Some(tag.into()),
                digest: None,
                ..r.clone()
            }),
            Place::Layout(p) => ImageRef::Oci {
                path: p.clone(),
                tag: Some(tag.into()),
            },
        }
    }
}

/// An image to sign or verify: where it is and the digest its reference resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where it is.
    pub place: Place,
    /// The manifest's (or index's) digest.
    pub digest: String,
}

/// Resolve `image` (`docker://` or `oci:`) to the digest its reference names.
pub fn resolve(image: &ImageRef, opts: &whittle_registry::Options) -> Result<Target> {
    let digest = match image {
        ImageRef::Docker(r) => {
            let name = r.digest.as_deref().or(r.tag.as_deref()).unwrap_or("latest");
            let repo = whittle_registry::Repository::new(r, opts)?;
            let (_, digest) = repo.find_manifest(name)?.ok_or_else(|| {
                Error::NotVerified(format!(
                    "{image}: no such image in the registry (HTTP 404); check the repository and tag"
                ))
            })?;
            digest
        }
        ImageRef::Oci { path, tag } => whittle_registry::layout_entry(path, tag.as_deref())?.digest,
        _ => {
            return Err(Error::Unsupported(format!(
                "{image}: signatures are stored in registries (docker://HOST/REPO[:TAG]) and OCI layouts (oci:DIR[:TAG]); copy the image to one of them first (whittle copy)"
            )));
        }
    };
    let place = Place::of(image).ok_or_else(|| Error::Unsupported(format!("{image}")))?;
    Ok(Target { place, digest })
}

/// The blob `digest` of the layout `dir` (of the artifact or image `what`): at most `limit`
/// bytes, verified against its digest.
fn layout_blob(dir: &Path, digest: &str, limit: u64, what: &str) -> Result<Vec<u8>> {
    let hex = digest_hex(digest)
        .ok_or_else(|| Error::format(what, format!("`{digest}` is not a sha256:<hex> digest")))?;
    let path = dir.join("blobs/sha256").join(hex);
    let bytes = Error::read_bounded(&path, limit)?;
    let actual = sha256_digest(&bytes);
    if actual != digest {
        return Err(Error::format(
            path.display().to_string(),
            format!("has digest {actual}, expected {digest} (corrupt or tampered with)"),
        ));
    }
    Ok(bytes)
}

fn read_index(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join("index.json");
    let raw = Error::read_bounded(&path, MAX_MANIFEST)?;
    serde_json::from_slice(&raw)
        .map_err(|e| Error::format(path.display().to_string(), e.to_string()))
}

fn index_entries(index: &serde_json::Value, dir: &Path) -> Result<Vec<Descriptor>> {
    let list = index.get("manifests").cloned().unwrap_or_default();
    serde_json::from_value(list).map_err(|e| {
        Error::format(
            dir.join("index.json").display().to_string(),
            format!("`manifests` is not a list of descriptors: {e}"),
        )
    })
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str)
}

/// A signature or attestation artifact: its manifest as stored, its config and its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// The config blob.
    pub config: Vec<u8>,
    /// Each layer's descriptor and content.
    pub layers: Vec<(Descriptor, Vec<u8>)>,
}

impl Artifact {
    /// A new artifact of `layers`, its manifest and config as cosign writes them (the config
    /// lists the layers' digests as `rootfs.diff_ids`; its dates are the zero time).
    pub fn new(layers: Vec<(Descriptor, Vec<u8>)>) -> Result<Artifact> {
        let config = serde_json::json!({
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {
                "type": "layers",
                "diff_ids": layers.iter().map(|(d, _)| d.digest.clone()).collect::<Vec<_>>(),
            },
            "config": {},
        });
        let config = serde_json::to_vec(&config)
            .map_err(|e| Error::format("signature config", e.to_string()))?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: MEDIA_TYPE_MANIFEST.into(),
            config: Descriptor {
                media_type: MEDIA_TYPE_CONFIG.into(),
                digest: sha256_digest(&config),
                size: config.len() as u64,
                annotations: BTreeMap::new(),
                platform: None,
            },
            layers: layers.iter().map(|(d, _)| d.clone()).collect(),
            annotations: BTreeMap::new(),
        };
        let manifest = serde_json::to_vec(&manifest)
            .map_err(|e| Error::format("signature manifest", e.to_string()))?;
        Ok(Artifact {
            manifest,
            config,
            layers,
        })
    }

    /// A layer descriptor for `content`.
    pub fn layer(
        media_type: &str,
        content: Vec<u8>,
        annotations: BTreeMap<String, String>,
    ) -> (Descriptor, Vec<u8>) {
        (
            Descriptor {
                media_type: media_type.into(),
                digest: sha256_digest(&content),
                size: content.len() as u64,
                annotations,
                platform: None,
            },
            content,
        )
    }

    /// This artifact with `layer` added, unless an identical layer (same content, same
    /// annotations) is there already.
    pub fn with_layer(&self, layer: (Descriptor, Vec<u8>)) -> Result<Option<Artifact>> {
        if self.layers.iter().any(|(d, _)| *d == layer.0) {
            return Ok(None);
        }
        if self.layers.len() >= MAX_LAYERS {
            return Err(Error::TooLarge {
                what: "the signature manifest".into(),
                message: format!("already has {MAX_LAYERS} layers, cosign's limit"),
            });
        }
        let mut layers = self.layers.clone();
        layers.push(layer);
        Artifact::new(layers).map(Some)
    }

    /// The manifest's digest.
    pub fn digest(&self) -> String {
        sha256_digest(&self.manifest)
    }
}

/// Checks a signature manifest's declared layers before any is fetched: at most
/// [`MAX_LAYERS`], each at most `max_layer` bytes, all together at most
/// [`MAX_ARTIFACT_BYTES`].
fn parse_manifest(bytes: &[u8], what: &str, max_layer: u64) -> Result<Manifest> {
    // count the layers before building descriptors for them
    #[derive(serde::Deserialize)]
    struct Count {
        #[serde(default)]
        layers: Vec<serde::de::IgnoredAny>,
    }
    let count: Count = serde_json::from_slice(bytes)
        .map_err(|e| Error::format(what, format!("not an image manifest: {e}")))?;
    if count.layers.len() > MAX_LAYERS {
        return Err(Error::TooLarge {
            what: what.into(),
            message: format!(
                "has {} layers, more than {MAX_LAYERS} (cosign's limit for signatures)",
                count.layers.len()
            ),
        });
    }
    let m: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| Error::format(what, format!("not an image manifest: {e}")))?;
    let mut total = m.config.size;
    if m.config.size > MAX_MANIFEST {
        return Err(Error::TooLarge {
            what: format!("{what}: config {}", m.config.digest),
            message: format!("declares {} bytes, more than {MAX_MANIFEST}", m.config.size),
        });
    }
    for d in std::iter::once(&m.config).chain(&m.layers) {
        if digest_hex(&d.digest).is_none() {
            return Err(Error::format(
                what,
                format!(
                    "`{}` is not a sha256:<hex> digest",
                    d.digest.chars().take(80).collect::<String>()
                ),
            ));
        }
    }
    for d in &m.layers {
        if d.size > max_layer {
            return Err(Error::TooLarge {
                what: format!("{what}: layer {}", d.digest),
                message: format!("declares {} bytes, more than {max_layer}", d.size),
            });
        }
        total = total.saturating_add(d.size);
    }
    if total > MAX_ARTIFACT_BYTES {
        return Err(Error::TooLarge {
            what: what.into(),
            message: format!("declares {total} bytes of blobs, more than {MAX_ARTIFACT_BYTES}"),
        });
    }
    Ok(m)
}

/// The artifact tagged `tag` at `place`, `None` when there is none. The manifest is checked
/// (layer count and declared sizes, each layer at most `max_layer` bytes) before any blob is
/// read, and every blob is verified against its digest.
pub fn read(
    place: &Place,
    tag: &str,
    max_layer: u64,
    opts: &whittle_registry::Options,
) -> Result<Option<Artifact>> {
    let what = format!("{}:{tag}", place.name());
    match place {
        Place::Registry(r) => {
            let repo = whittle_registry::Repository::new(r, opts)?;
            let Some((manifest, _)) = repo.find_manifest(tag)? else {
                return Ok(None);
            };
            let m = parse_manifest(&manifest, &what, max_layer)?;
            let fetch = |d: &Descriptor| repo.fetch_blob(&d.digest, d.size);
            let config = fetch(&m.config)?;
            let layers = m
                .layers
                .iter()
                .map(|d| fetch(d).map(|b| (d.clone(), b)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Artifact {
                manifest,
                config,
                layers,
            }))
        }
        Place::Layout(dir) => {
            let entries = index_entries(&read_index(dir)?, dir)?;
            let Some(entry) = entries.iter().find(|e| ref_name(e) == Some(tag)) else {
                return Ok(None);
            };
            let blob = |digest: &str, limit: u64| layout_blob(dir, digest, limit, &what);
            let manifest = blob(&entry.digest, MAX_MANIFEST)?;
            let m = parse_manifest(&manifest, &what, max_layer)?;
            let config = blob(&m.config.digest, m.config.size)?;
            let layers = m
                .layers
                .iter()
                .map(|d| blob(&d.digest, d.size).map(|b| (d.clone(), b)))
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(Artifact {
                manifest,
                config,
                layers,
            }))
        }
    }
}

/// Store `artifact` at `place` under `tag` (replacing what the tag named). A registry gets it
/// pushed through whittle-registry; a layout gets its blobs and an `index.json` entry (written
/// atomically), its other entries kept.
pub fn write(
    place: &Place,
    tag: &str,
    artifact: &Artifact,
    opts: &whittle_registry::Options,
) -> Result<String> {
    let digest = artifact.digest();
    match place {
        Place::Layout(dir) => {
            write_blobs(dir, artifact)?;
            let mut index = read_index(dir)?;
            let mut entries = index_entries(&index, dir)?;
            entries.retain(|e| ref_name(e) != Some(tag));
            entries.push(Descriptor {
                media_type: MEDIA_TYPE_MANIFEST.into(),
                digest: digest.clone(),
                size: artifact.manifest.len() as u64,
                annotations: [(ANNOTATION_REF_NAME.to_string(), tag.to_string())].into(),
                platform: None,
            });
            index["manifests"] = serde_json::to_value(&entries)
                .map_err(|e| Error::format("index.json", e.to_string()))?;
            let path = dir.join("index.json");
            let staged = whittle_oci::StagedFile::new(&path)?;
            let bytes = serde_json::to_vec(&index)
                .map_err(|e| Error::format("index.json", e.to_string()))?;
            std::io::Write::write_all(&mut staged.file(), &bytes)
                .map_err(Error::io("writing", staged.path().to_path_buf()))?;
            staged.commit()?;
        }
        Place::Registry(_) => {
            // a one-entry layout of the artifact, copied byte-for-byte by whittle-registry
            let tmp = tempfile::Builder::new()
                .prefix("whittle-sign-")
                .tempdir()
                .map_err(Error::io(
                    "creating a temporary directory in",
                    std::env::temp_dir(),
                ))?;
            let dir = tmp.path().join("artifact");
            std::fs::create_dir_all(dir.join("blobs/sha256"))
                .map_err(Error::io("creating", dir.clone()))?;
            std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
                .map_err(Error::io("writing", dir.join("oci-layout")))?;
            std::fs::write(
                dir.join("index.json"),
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
            )
            .map_err(Error::io("writing", dir.join("index.json")))?;
            let local = Place::Layout(dir.clone());
            write(&local, tag, artifact, opts)?;
            whittle_registry::copy(&local.tagged(tag), &place.tagged(tag), None, opts)?;
        }
    }
    Ok(digest)
}

fn write_blobs(dir: &Path, artifact: &Artifact) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(Error::io("creating", blobs.clone()))?;
    let all = [&artifact.manifest, &artifact.config]
        .into_iter()
        .chain(artifact.layers.iter().map(|(_, b)| b));
    for bytes in all {
        let digest = sha256_digest(bytes);
        let path = blobs.join(digest_hex(&digest).unwrap_or_default());
        if path.is_file() {
            continue;
        }
        let staged = whittle_oci::StagedFile::new(&path)?;
        std::io::Write::write_all(&mut staged.file(), bytes)
            .map_err(Error::io("writing", staged.path().to_path_buf()))?;
        staged.commit()?;
    }
    Ok(())
}

/// What [`carry`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// The tags written at the destination.
    pub copied: Vec<String>,
    /// Tags left as they were, each with why: an unreadable (hostile, truncated, too large)
    /// source artifact, an unreadable destination one, or a failed write.
    pub skipped: Vec<(String, String)>,
}

/// Copy the `.sig` and `.att` artifacts of each of `digests` from `src` to `dest` (registries
/// and OCI layouts; other kinds have none), best-effort: the image is already copied, so an
/// artifact that cannot be read or written is skipped and reported in [`Carried::skipped`],
/// never an error. Signatures already at the destination are kept: the source's layers are
/// added to them (as `whittle sign` adds one), not put in their place.
pub fn carry(
    src: &ImageRef,
    dest: &ImageRef,
    digests: &[String],
    opts: &whittle_registry::Options,
) -> Carried {
    let mut out = Carried::default();
    let (Some(from), Some(to)) = (Place::of(src), Place::of(dest)) else {
        return out;
    };
    for digest in digests {
        for kind in [Kind::Signature, Kind::Attestation] {
            let tag = match kind.tag(digest) {
                Ok(t) => t,
                Err(e) => {
                    out.skipped.push((digest.clone(), e.to_string()));
                    continue;
                }
            };
            let limit = kind.max_layer();
            let merged = read(&from, &tag, limit, opts)
                .map_err(|e| format!("reading it from {}: {e}", from.name()))
                .and_then(|source| {
                    let Some(source) = source else {
                        return Ok(None);
                    };
                    let existing = read(&to, &tag, limit, opts).map_err(|e| {
                        format!("reading the one at {} (left as it is): {e}", to.name())
                    })?;
                    let Some(mut merged) = existing else {
                        return Ok(Some(source));
                    };
                    let mut changed = false;
                    for layer in source.layers {
                        if let Some(m) = merged.with_layer(layer).map_err(|e| e.to_string())? {
                            merged = m;
                            changed = true;
                        }
                    }
                    Ok(changed.then_some(merged))
                })
                .and_then(|a| match a {
                    Some(a) => write(&to, &tag, &a, opts)
                        .map(|_| true)
                        .map_err(|e| format!("writing it to {}: {e}", to.name())),
                    None => Ok(false),
                });
            match merged {
                Ok(true) => out.copied.push(tag),
                Ok(false) => {}
                Err(why) => out.skipped.push((tag, why)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_of_ten_thousand_layers_is_refused_before_reading_them() {
        let layer = serde_json::json!({"mediaType": "x", "digest": format!("sha256:{}", "a".repeat(64)), "size": 10});
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": {"mediaType": MEDIA_TYPE_CONFIG, "digest": format!("sha256:{}", "b".repeat(64)), "size": 10},
            "layers": vec![layer; 10_000],
        });
        let e = parse_manifest(&serde_json::to_vec(&m).unwrap(), "x.sig", 1 << 20).unwrap_err();
        assert!(e.to_string().contains("10000 layers"), "{e}");
    }

    #[test]
    fn huge_declared_layers_are_refused() {
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": {"mediaType": MEDIA_TYPE_CONFIG, "digest": format!("sha256:{}", "b".repeat(64)), "size": 10},
            "layers": [{"mediaType": "x", "digest": format!("sha256:{}", "a".repeat(64)), "size": 1u64 << 40}],
        });
        let e = parse_manifest(&serde_json::to_vec(&m).unwrap(), "x.sig", 1 << 20).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    }

    #[test]
    fn artifacts_round_trip_through_a_layout_keeping_its_other_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("l");
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        let image = Descriptor {
            media_type: MEDIA_TYPE_MANIFEST.into(),
            digest: format!("sha256:{}", "c".repeat(64)),
            size: 1,
            annotations: [(ANNOTATION_REF_NAME.to_string(), "latest".to_string())].into(),
            platform: None,
        };
        std::fs::write(
            dir.join("index.json"),
            serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [image]}))
                .unwrap(),
        )
        .unwrap();
        let place = Place::Layout(dir.clone());
        let a =
            Artifact::new(vec![Artifact::layer("x", b"one".to_vec(), BTreeMap::new())]).unwrap();
        let tag = Kind::Signature.tag(&image.digest).unwrap();
        let opts = whittle_registry::Options::default();
        write(&place, &tag, &a, &opts).unwrap();
        let b = a
            .with_layer(Artifact::layer("x", b"two".to_vec(), BTreeMap::new()))
            .unwrap()
            .unwrap();
        assert!(b.with_layer(b.layers[1].clone()).unwrap().is_none());
        write(&place, &tag, &b, &opts).unwrap();
        assert_eq!(read(&place, &tag, 100, &opts).unwrap(), Some(b));
        let entries = index_entries(&read_index(&dir).unwrap(), &dir).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            whittle_registry::layout_entry(&dir, None)
                .unwrap()
                .into_descriptor(),
            image
        );
        assert!(read(&place, "sha256-x.att", 100, &opts).unwrap().is_none());
    }

    /// `carry` adds the source's signature layers to those the destination has (kept, not
    /// replaced); an unreadable source artifact is skipped with its reason and the destination
    /// is left as it was.
    #[test]
    fn carry_merges_into_the_destination_and_skips_what_it_cannot_read() {
        let tmp = tempfile::tempdir().unwrap();
        let digest = format!("sha256:{}", "c".repeat(64));
        let tag = Kind::Signature.tag(&digest).unwrap();
        let opts = whittle_registry::Options::default();
        let layout = |name: &str, content: &[u8]| {
            let dir = tmp.path().join(name);
            std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
            std::fs::write(
                dir.join("index.json"),
                br#"{"schemaVersion":2,"manifests":[]}"#,
            )
            .unwrap();
            let a = Artifact::new(vec![Artifact::layer(
                "x",
                content.to_vec(),
                BTreeMap::new(),
            )])
            .unwrap();
            write(&Place::Layout(dir.clone()), &tag, &a, &opts).unwrap();
            let image = ImageRef::parse(&format!("oci:{}", dir.display())).unwrap();
            (dir, image, a)
        };
        let (_, src, a) = layout("src", b"from the source");
        let (dest_dir, dest, b) = layout("dest", b"the destination's own");
        let carried = carry(&src, &dest, std::slice::from_ref(&digest), &opts);
        assert_eq!(carried.copied, std::slice::from_ref(&tag));
        assert!(carried.skipped.is_empty(), "{:?}", carried.skipped);
        let merged = read(&Place::Layout(dest_dir.clone()), &tag, 100, &opts)
            .unwrap()
            .unwrap();
        assert_eq!(merged.layers, [b.layers[0].clone(), a.layers[0].clone()]);
        // again: nothing new to add, nothing written
        let carried = carry(&src, &dest, std::slice::from_ref(&digest), &opts);
        assert!(carried.copied.is_empty() && carried.skipped.is_empty());
        // a source whose layer blob no longer matches its digest
        let (bad_dir, bad, c) = layout("bad", b"tampered later");
        let hex = c.layers[0]
            .0
            .digest
            .strip_prefix("sha256:")
            .unwrap()
            .to_string();
        std::fs::write(bad_dir.join("blobs/sha256").join(hex), b"other bytes").unwrap();
        let carried = carry(&bad, &dest, std::slice::from_ref(&digest), &opts);
        assert!(carried.copied.is_empty());
        assert_eq!(carried.skipped.len(), 1);
        assert_eq!(carried.skipped[0].0, tag);
        assert!(
            carried.skipped[0].1.contains("reading it from bad"),
            "{:?}",
            carried.skipped
        );
        assert_eq!(
            read(&Place::Layout(dest_dir), &tag, 100, &opts).unwrap(),
            Some(merged)
        );
    }
}
