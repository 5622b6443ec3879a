//! An image ready to write: config, layers, and their serialized blobs.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{
    Descriptor, ImageConfig, MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, Manifest, Platform,
};

/// A layer blob with its identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayer {
    /// Media type (`application/vnd.oci.image.layer.v1.tar+gzip` or `…tar+zstd`).
    pub media_type: String,
    /// `sha256:<hex>` of `blob`.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Length of `blob`.
    pub size: u64,
    /// The layer bytes (in memory, or in a file: see [`whittle_fs::FileData`]).
    pub blob: whittle_fs::FileData,
}

impl From<whittle_fs::Layer> for ImageLayer {
    fn from(l: whittle_fs::Layer) -> Self {
        ImageLayer {
            media_type: l.media_type.to_string(),
            digest: l.digest,
            diff_id: l.diff_id,
            size: l.size,
            blob: whittle_fs::FileData::inline(l.blob),
        }
    }
}

/// One single-platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The image config; `rootfs.diff_ids` is filled from `layers` when empty.
    pub config: ImageConfig,
    /// Layers, bottom first.
    pub layers: Vec<ImageLayer>,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A serialized JSON blob and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    /// The exact bytes the digest covers.
    pub bytes: Vec<u8>,
}

impl Blob {
    /// Serialize `value` once and digest the bytes.
    pub fn json<T: Serialize>(media_type: &str, value: &T, what: &'static str) -> Result<Blob> {
        let bytes = serde_json::to_vec(value).map_err(|source| Error::Json { what, source })?;
        Ok(Blob {
            media_type: media_type.to_string(),
            digest: sha256_digest(&bytes),
            bytes,
        })
    }

    /// A descriptor of this blob.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }
}

/// The config and manifest blobs of an [`Image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializedImage {
    /// The config blob.
    pub config: Blob,
    /// The manifest blob.
    pub manifest: Blob,
    /// The image's platform.
    pub platform: Platform,
}

impl Image {
    /// An image from a config and layers, without annotations.
    pub fn new(config: ImageConfig, layers: Vec<ImageLayer>) -> Self {
        Image {
            config,
            layers,
            annotations: BTreeMap::new(),
        }
    }

    /// The platform from the config.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.config.architecture.clone(),
            os: self.config.os.clone(),
            variant: self.config.variant.clone(),
        }
    }

    /// Check the image and serialize its config and manifest (once).
    pub fn serialize(&self) -> Result<SerializedImage> {
        let bad = |m: String| Error::InvalidImage(m);
        if self.config.architecture.is_empty() || self.config.os.is_empty() {
            return Err(bad(
                "the config needs `architecture` and `os` (e.g. amd64, linux)".into(),
            ));
        }
        let diff_ids: Vec<String> = self.layers.iter().map(|l| l.diff_id.clone()).collect();
        let mut config = self.config.clone();
        if config.rootfs.diff_ids.is_empty() {
            config.rootfs.diff_ids = diff_ids;
        } else if config.rootfs.diff_ids != diff_ids {
            return Err(bad(
                "config rootfs.diff_ids do not match the layers' diff IDs; leave them empty to have them filled".into(),
            ));
        }
        let layer_entries = config.history.iter().filter(|h| !h.empty_layer).count();
        if !config.history.is_empty() && layer_entries != self.layers.len() {
            return Err(bad(format!(
                "the config history has {layer_entries} entries without empty_layer but the image has {} layers",
                self.layers.len()
            )));
        }
        let mut layers = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            for d in [&l.digest, &l.diff_id] {
                digest_hex(d).ok_or_else(|| {
                    bad(format!("layer {i}: `{d}` is not a sha256:<64 hex> digest"))
                })?;
            }
            if l.size != l.blob.len() {
                return Err(bad(format!(
                    "layer {i}: size {} does not match its {} bytes",
                    l.size,
                    l.blob.len()
                )));
            }
            layers.push(Descriptor {
                media_type: l.media_type.clone(),
                digest: l.digest.clone(),
                size: l.size,
                annotations: BTreeMap::new(),
                platform: None,
            });
        }
        let config = Blob::json(MEDIA_TYPE_CONFIG, &config, "the image config")?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: MEDIA_TYPE_MANIFEST.into(),
            config: config.descriptor(),
            layers,
            annotations: self.annotations.clone(),
        };
        let manifest = Blob::json(MEDIA_TYPE_MANIFEST, &manifest, "the image manifest")?;
        Ok(SerializedImage {
            config,
            manifest,
            platform: self.platform(),
        })
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a well-formed `sha256:<64 lowercase hex>` digest; `None` for anything else.
pub fn digest_hex(d: &str) -> Option<&str> {
    let h = d.strip_prefix("sha256:")?;
    (h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(h)
}
