//! What an image is made of, independent of where it lives: its manifest documents (exact bytes)
//! and the blobs they name, plus sources of blob bytes (memory, layout directory, local image).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use whittle_oci::{
    Descriptor, Image, Index, LooseDescriptor, LoosePlatform, Platform, ReadImage, digest_hex,
    sha256_digest,
};

use crate::error::{Error, Result};

/// Largest manifest, index or config read into memory (4 MiB, the limit of the reference
/// registry, `distribution`, for manifests).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Most manifests one index may list.
const MAX_INDEX_ENTRIES: usize = 1024;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Every manifest media type whittle accepts, for `Accept` headers.
pub(crate) const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// Whether a media type names an index.
pub(crate) fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// `digest_hex` or a clear error.
pub(crate) fn require_hex<'a>(d: &'a str, what: &str) -> Result<&'a str> {
    digest_hex(d).ok_or_else(|| {
        Error::Invalid(format!(
            "{what}: `{d}` is not a sha256:<64 hex> digest; only sha256 content is handled"
        ))
    })
}

/// One manifest or index, with its exact bytes.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// Blobs it names (config first, then layers); empty for an index.
    pub blobs: Vec<(String, u64)>,
    /// Platform (from the index entry or the config).
    pub platform: Option<Platform>,
}

impl Doc {
    pub(crate) fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            annotations: BTreeMap::new(),
            platform: self.platform.clone(),
        }
    }
}

/// An image: its image manifests and, for a multi-platform image, the index listing them.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub images: Vec<Doc>,
    pub index: Option<Doc>,
}

impl Plan {
    /// The index, or the only manifest.
    pub(crate) fn top(&self) -> Result<&Doc> {
        self.index
            .as_ref()
            .or(self.images.first())
            .ok_or_else(|| Error::Invalid("the image has no manifest".into()))
    }

    /// Every blob once, in first-seen order.
    pub(crate) fn unique_blobs(&self) -> Vec<(String, u64)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for d in &self.images {
            for (digest, size) in &d.blobs {
                if seen.insert(digest.clone()) {
                    out.push((digest.clone(), *size));
                }
            }
        }
        out
    }
}

/// Where blob bytes come from.
pub(crate) trait BlobSource: Sync {
    /// Open blob `digest` of `size` bytes. Readers need not verify; consumers do.
    fn open(&self, digest: &str, size: u64) -> Result<Box<dyn Read + Send + '_>>;

    /// Where blob `digest` comes from, for messages (a URL, a path).
    fn name(&self, _digest: &str) -> String {
        "the local image".into()
    }
}

/// Blobs a build made: in memory, or (large layers) in its temporary files.
pub(crate) struct MemBlobs(pub HashMap<String, whittle_oci::FileData>);

impl BlobSource for MemBlobs {
    fn open(&self, digest: &str, _size: u64) -> Result<Box<dyn Read + Send + '_>> {
        let b = self
            .0
            .get(digest)
            .ok_or_else(|| Error::Invalid(format!("blob {digest} is not part of the image")))?;
        Ok(Box::new(b.reader()))
    }
}

/// Blobs of an OCI layout directory.
pub(crate) struct DirBlobs(pub PathBuf);

impl BlobSource for DirBlobs {
    fn open(&self, digest: &str, _size: u64) -> Result<Box<dyn Read + Send + '_>> {
        let hex = require_hex(digest, "blob")?;
        let p = self.0.join("blobs/sha256").join(hex);
        let f = File::open(&p).map_err(Error::io("opening blob", &p))?;
        Ok(Box::new(f))
    }

    fn name(&self, digest: &str) -> String {
        match digest_hex(digest) {
            Some(hex) => self.0.join("blobs/sha256").join(hex).display().to_string(),
            None => self.0.display().to_string(),
        }
    }
}

/// The plan and in-memory blobs of images a build made. Several images make an index whose
/// bytes equal what `whittle_oci::write` writes, so local and pushed digests agree.
pub(crate) fn plan_from_images(images: &[Image]) -> Result<(Plan, MemBlobs)> {
    if images.is_empty() {
        return Err(Error::Invalid("no image to push".into()));
    }
    let mut blobs = HashMap::new();
    let mut docs = Vec::new();
    for img in images {
        let s = img.serialize()?;
        let mut list = vec![(s.config.digest.clone(), s.config.bytes.len() as u64)];
        blobs.insert(
            s.config.digest.clone(),
            whittle_oci::FileData::inline(s.config.bytes),
        );
        for l in &img.layers {
            list.push((l.digest.clone(), l.size));
            blobs.insert(l.digest.clone(), l.blob.clone());
        }
        docs.push(Doc {
            digest: s.manifest.digest,
            media_type: s.manifest.media_type,
            bytes: s.manifest.bytes,
            blobs: list,
            platform: Some(s.platform),
        });
    }
    let index = if docs.len() > 1 {
        let idx = Index::new(docs.iter().map(Doc::descriptor).collect());
        let bytes = serde_json::to_vec(&idx)
            .map_err(|e| Error::Invalid(format!("serializing the image index: {e}")))?;
        Some(Doc {
            digest: sha256_digest(&bytes),
            media_type: OCI_INDEX.into(),
            bytes,
            blobs: Vec::new(),
            platform: None,
        })
    } else {
        None
    };
    Ok((
        Plan {
            images: docs,
            index,
        },
        MemBlobs(blobs),
    ))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LooseDoc {
    #[serde(default)]
    pub media_type: String,
    #[serde(default)]
    pub manifests: Option<Vec<LooseDescriptor>>,
    #[serde(default)]
    pub config: Option<LooseDescriptor>,
    #[serde(default)]
    pub layers: Vec<LooseDescriptor>,
}

/// Parse an index or manifest document.
pub(crate) fn parse_doc(bytes: &[u8], what: &str) -> Result<LooseDoc> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Invalid(format!("{what} is not a valid manifest or index: {e}")))
}

/// The media type of a document: its descriptor's, else its own field, else by shape.
pub(crate) fn doc_media_type(desc_type: &str, doc: &LooseDoc) -> String {
    if !desc_type.is_empty() {
        return desc_type.to_string();
    }
    if !doc.media_type.is_empty() {
        return doc.media_type.clone();
    }
    if doc.manifests.is_some() {
        OCI_INDEX.into()
    } else {
        OCI_MANIFEST.into()
    }
}

/// An index's entries, refused past [`MAX_INDEX_ENTRIES`] (each one costs a manifest read).
pub(crate) fn index_entries(doc: LooseDoc, what: &str) -> Result<Vec<LooseDescriptor>> {
    let children = doc.manifests.unwrap_or_default();
    if children.len() > MAX_INDEX_ENTRIES {
        return Err(Error::TooLarge {
            what: format!("index {what} entry count"),
            limit: MAX_INDEX_ENTRIES as u64,
        });
    }
    Ok(children)
}

/// An image manifest's blob list (config then layers), with digests checked.
pub(crate) fn manifest_blobs(doc: &LooseDoc, what: &str) -> Result<Vec<(String, u64)>> {
    let config = doc
        .config
        .as_ref()
        .ok_or_else(|| Error::Invalid(format!("{what} has no `config`")))?;
    let mut out = Vec::with_capacity(doc.layers.len() + 1);
    for d in std::iter::once(config).chain(doc.layers.iter()) {
        require_hex(&d.digest, what)?;
        out.push((d.digest.clone(), d.size));
    }
    Ok(out)
}

/// Choose the index entry for `want`: whittle-oci's one platform selection.
pub(crate) fn pick_platform<'a>(
    entries: &'a [LooseDescriptor],
    want: &Platform,
    what: &str,
) -> Result<&'a LooseDescriptor> {
    let i = whittle_oci::select_platform(entries, Some(want), Path::new(what))?;
    entries
        .get(i)
        .ok_or_else(|| Error::Invalid(format!("{what}: lost index entry")))
}

/// Read a small file of a layout, bounded, verifying its digest when given.
fn read_small(path: &Path, digest: Option<&str>) -> Result<Vec<u8>> {
    let f = File::open(path).map_err(Error::io("opening", path))?;
    let mut out = Vec::new();
    f.take(MAX_MANIFEST_SIZE + 1)
        .read_to_end(&mut out)
        .map_err(Error::io("reading", path))?;
    if out.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            limit: MAX_MANIFEST_SIZE,
        });
    }
    if let Some(d) = digest {
        let actual = sha256_digest(&out);
        if actual != d {
            return Err(Error::DigestMismatch {
                what: path.display().to_string(),
                expected: d.to_string(),
                actual,
            });
        }
    }
    Ok(out)
}

/// The entry of the OCI layout `dir`'s `index.json` that `tag` names (by its
/// `org.opencontainers.image.ref.name` or its digest), or without a tag its only image
/// (signatures, attestations and SBOMs tagged beside it aside). `index.json` is read bounded.
pub fn layout_entry(dir: &Path, tag: Option<&str>) -> Result<LooseDescriptor> {
    let index_path = dir.join("index.json");
    let raw = read_small(&index_path, None)?;
    let index = parse_doc(&raw, &index_path.display().to_string())?;
    let entries = index.manifests.unwrap_or_default();
    let names = || {
        entries
            .iter()
            .map(|e| {
                e.annotations
                    .get(whittle_oci::ANNOTATION_REF_NAME)
                    .cloned()
                    .unwrap_or_else(|| e.digest.clone())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let is_image = |e: &LooseDescriptor| {
        !e.annotations
            .get(whittle_oci::ANNOTATION_REF_NAME)
            .is_some_and(|t| whittle_oci::is_artifact_tag(t))
    };
    let chosen = match tag {
        Some(t) => entries
            .iter()
            .find(|e| {
                e.annotations
                    .get(whittle_oci::ANNOTATION_REF_NAME)
                    .map(String::as_str)
                    == Some(t)
                    || e.digest == t
            })
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "`{}` has no image `{t}`; available: {}",
                    dir.display(),
                    names()
                ))
            })?,
        None if entries.len() == 1 => entries
            .first()
            .ok_or_else(|| Error::Invalid("empty index.json".into()))?,
        // one image with signatures, attestations or SBOMs tagged beside it
        None if entries.iter().filter(|e| is_image(e)).count() == 1 => entries
            .iter()
            .find(|e| is_image(e))
            .ok_or_else(|| Error::Invalid("empty index.json".into()))?,
        None => {
            return Err(Error::Invalid(format!(
                "`{}` holds {} images; name one with oci:DIR:TAG (available: {})",
                dir.display(),
                entries.len(),
                names()
            )));
        }
    };
    Ok(chosen.clone())
}

/// The plan of the image `tag` (or the only image) of an OCI layout directory; `platform` picks
/// one image of a multi-platform index (else the whole index is taken).
pub(crate) fn plan_from_layout(
    dir: &Path,
    tag: Option<&str>,
    platform: Option<&Platform>,
) -> Result<Plan> {
    let chosen = &layout_entry(dir, tag)?;
    let load = |d: &LooseDescriptor| -> Result<(Vec<u8>, LooseDoc, String)> {
        let hex = require_hex(&d.digest, "index.json")?;
        let bytes = read_small(&dir.join("blobs/sha256").join(hex), Some(&d.digest))?;
        let doc = parse_doc(&bytes, &d.digest)?;
        let mt = doc_media_type(&d.media_type, &doc);
        Ok((bytes, doc, mt))
    };
    let image_doc =
        |d: &LooseDescriptor, bytes: Vec<u8>, doc: &LooseDoc, mt: String| -> Result<Doc> {
            let blobs = manifest_blobs(doc, &d.digest)?;
            let platform = match &d.platform {
                Some(p) => Some(p.to_platform()),
                None => config_platform(&dir.join("blobs/sha256"), blobs.first()),
            };
            Ok(Doc {
                digest: d.digest.clone(),
                media_type: mt,
                bytes,
                blobs,
                platform,
            })
        };
    let (bytes, doc, mt) = load(chosen)?;
    if !is_index(&mt) {
        return Ok(Plan {
            images: vec![image_doc(chosen, bytes, &doc, mt)?],
            index: None,
        });
    }
    let children = index_entries(doc, &chosen.digest)?;
    if let Some(p) = platform {
        let c = pick_platform(&children, p, &chosen.digest)?;
        let (b, d, m) = load(c)?;
        if is_index(&m) {
            return Err(Error::Invalid(format!(
                "nested index {} is not supported",
                c.digest
            )));
        }
        return Ok(Plan {
            images: vec![image_doc(c, b, &d, m)?],
            index: None,
        });
    }
    let mut images = Vec::new();
    for c in &children {
        let (b, d, m) = load(c)?;
        if is_index(&m) {
            return Err(Error::Invalid(format!(
                "nested index {} is not supported",
                c.digest
            )));
        }
        images.push(image_doc(c, b, &d, m)?);
    }
    Ok(Plan {
        images,
        index: Some(Doc {
            digest: chosen.digest.clone(),
            media_type: mt,
            bytes,
            blobs: Vec::new(),
            platform: None,
        }),
    })
}

/// The platform recorded in a config blob of a layout (best effort).
fn config_platform(blobs_dir: &Path, config: Option<&(String, u64)>) -> Option<Platform> {
    let (digest, _) = config?;
    let raw = read_small(&blobs_dir.join(digest_hex(digest)?), Some(digest)).ok()?;
    platform_of_config(&raw)
}

/// `architecture`/`os`/`variant` of a config.
pub(crate) fn platform_of_config(raw: &[u8]) -> Option<Platform> {
    let p: LoosePlatform = serde_json::from_slice(raw).ok()?;
    (!p.architecture.is_empty() && !p.os.is_empty()).then(|| p.to_platform())
}

/// Blobs of a `ReadImage` (a docker-archive): config and raw layers by digest.
pub(crate) struct ReadImageBlobs<'a> {
    pub image: &'a ReadImage,
    pub layers: HashMap<String, usize>,
}

impl BlobSource for ReadImageBlobs<'_> {
    fn open(&self, digest: &str, _size: u64) -> Result<Box<dyn Read + Send + '_>> {
        if digest == self.image.manifest.config.digest {
            return Ok(Box::new(self.image.config_raw.as_slice()));
        }
        let i = self
            .layers
            .get(digest)
            .ok_or_else(|| Error::Invalid(format!("blob {digest} is not part of the image")))?;
        Ok(self.image.open_raw_layer(*i)?)
    }
}

/// The plan of a single image read with `read_image` (used for docker-archive sources): the
/// manifest is the reader's (synthesized) manifest, with the digest of each compressed legacy
/// layer found by one verified reading ([`ReadImage::raw_layer_digest`], kept for the copy).
pub(crate) fn plan_from_read_image(image: &ReadImage) -> Result<(Plan, ReadImageBlobs<'_>)> {
    let mut manifest = image.manifest.clone();
    let mut layers = HashMap::new();
    for i in 0..image.layers.len() {
        let digest = image.raw_layer_digest(i)?;
        if let Some(d) = manifest.layers.get_mut(i) {
            d.digest = digest.clone();
        }
        layers.insert(digest, i);
    }
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| Error::Invalid(format!("serializing the manifest: {e}")))?;
    let mut blobs = vec![(manifest.config.digest.clone(), manifest.config.size)];
    blobs.extend(manifest.layers.iter().map(|l| (l.digest.clone(), l.size)));
    let platform = platform_of_config(&image.config_raw);
    Ok((
        Plan {
            images: vec![Doc {
                digest: sha256_digest(&bytes),
                media_type: manifest.media_type.clone(),
                bytes,
                blobs,
                platform,
            }],
            index: None,
        },
        ReadImageBlobs { image, layers },
    ))
}

/// Docker media types and their OCI equivalents, as skopeo converts them when it writes an OCI
/// layout. Layer bytes are kept: only the names change.
const DOCKER_TO_OCI: &[(&str, &str)] = &[
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        OCI_MANIFEST,
    ),
    (DOCKER_LIST, OCI_INDEX),
    (
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.oci.image.config.v1+json",
    ),
    (
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.oci.image.layer.v1.tar+gzip",
    ),
    (
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.oci.image.layer.v1.tar",
    ),
    (
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    ),
];

/// The OCI name of Docker media type `mt` (`None` when it is not a Docker one).
fn oci_media_type(mt: &str) -> Option<&'static str> {
    DOCKER_TO_OCI
        .iter()
        .find(|(docker, _)| *docker == mt)
        .map(|(_, oci)| *oci)
}

/// Renames the Docker media types of one manifest or index document (`mediaType`, `config`,
/// `layers[]`, `manifests[]`; `children` gives the new digest and size of each converted
/// child manifest). Returns the new bytes, or `None` when nothing was Docker.
fn doc_to_oci(
    doc: &Doc,
    children: &HashMap<String, (String, u64)>,
) -> Result<Option<(String, Vec<u8>)>> {
    let mut v: serde_json::Value = serde_json::from_slice(&doc.bytes)
        .map_err(|e| Error::Invalid(format!("manifest {}: {e}", doc.digest)))?;
    let mut changed = false;
    let mut rename = |d: &mut serde_json::Value| {
        if let Some(mt) = d.get_mut("mediaType")
            && let Some(oci) = mt.as_str().and_then(oci_media_type)
        {
            *mt = oci.into();
            changed = true;
        }
    };
    rename(&mut v);
    if let Some(c) = v.get_mut("config") {
        rename(c);
    }
    for list in ["layers", "manifests"] {
        if let Some(items) = v.get_mut(list).and_then(|l| l.as_array_mut()) {
            for d in items {
                rename(d);
                let new = d
                    .get("digest")
                    .and_then(|x| x.as_str())
                    .and_then(|x| children.get(x));
                if let Some((digest, size)) = new {
                    d["digest"] = digest.clone().into();
                    d["size"] = (*size).into();
                }
            }
        }
    }
    if !changed {
        return Ok(None);
    }
    let mt = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or(&doc.media_type)
        .to_string();
    let bytes = serde_json::to_vec(&v)
        .map_err(|e| Error::Invalid(format!("serializing manifest {}: {e}", doc.digest)))?;
    Ok(Some((mt, bytes)))
}

/// `plan` with Docker media types converted to OCI ones (manifests, index, config and layer
/// descriptors; the blobs themselves are unchanged), for writing an OCI layout that every OCI
/// tool reads. The converted documents get new digests; returns whether anything changed.
pub(crate) fn to_oci(plan: &mut Plan) -> Result<bool> {
    let mut children = HashMap::new();
    for doc in &mut plan.images {
        if let Some((mt, bytes)) = doc_to_oci(doc, &HashMap::new())? {
            let digest = sha256_digest(&bytes);
            children.insert(doc.digest.clone(), (digest.clone(), bytes.len() as u64));
            doc.digest = digest;
            doc.media_type = mt;
            doc.bytes = bytes;
        }
    }
    let mut changed = !children.is_empty();
    if let Some(index) = &mut plan.index
        && let Some((mt, bytes)) = doc_to_oci(index, &children)?
    {
        index.digest = sha256_digest(&bytes);
        index.media_type = mt;
        index.bytes = bytes;
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_media_types_become_oci_and_the_index_follows_its_children() {
        let hex = "a".repeat(64);
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:{hex}","size":2}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:{hex}","size":3}},{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","digest":"sha256:{hex}","size":3}}]}}"#
        );
        let m_digest = sha256_digest(manifest.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{m_digest}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            manifest.len()
        );
        let doc = |bytes: &str, mt: &str| Doc {
            digest: sha256_digest(bytes.as_bytes()),
            media_type: mt.into(),
            bytes: bytes.as_bytes().to_vec(),
            blobs: Vec::new(),
            platform: None,
        };
        let mut plan = Plan {
            images: vec![doc(
                &manifest,
                "application/vnd.docker.distribution.manifest.v2+json",
            )],
            index: Some(doc(&index, DOCKER_LIST)),
        };
        assert!(to_oci(&mut plan).unwrap());
        let m = &plan.images[0];
        assert_eq!(m.media_type, OCI_MANIFEST);
        assert_eq!(m.digest, sha256_digest(&m.bytes));
        let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
        assert_eq!(
            v["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(
            v["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            v["layers"][1]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar"
        );
        let i = plan.index.as_ref().unwrap();
        assert_eq!(i.media_type, OCI_INDEX);
        let v: serde_json::Value = serde_json::from_slice(&i.bytes).unwrap();
        assert_eq!(v["manifests"][0]["digest"], m.digest.as_str());
        assert_eq!(v["manifests"][0]["size"], m.bytes.len());
        assert_eq!(v["manifests"][0]["mediaType"], OCI_MANIFEST);
        assert_eq!(v["manifests"][0]["platform"]["architecture"], "amd64");
        // OCI already: nothing changes
        assert!(!to_oci(&mut plan).unwrap());
    }

    #[test]
    fn index_entries_are_bounded() {
        let entry = format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{}","size":1}}"#,
            "a".repeat(64)
        );
        let index = |n: usize| {
            let body = vec![entry.as_str(); n].join(",");
            parse_doc(format!(r#"{{"manifests":[{body}]}}"#).as_bytes(), "t").unwrap()
        };
        assert_eq!(index_entries(index(3), "t").unwrap().len(), 3);
        assert_eq!(
            index_entries(index(MAX_INDEX_ENTRIES), "t").unwrap().len(),
            MAX_INDEX_ENTRIES
        );
        assert!(matches!(
            index_entries(index(MAX_INDEX_ENTRIES + 1), "t"),
            Err(Error::TooLarge { .. })
        ));
    }
}
