//! whittle-oci: the OCI image model (config, manifest, index), image references as skopeo spells
//! them, and atomic, deterministic writers for OCI layout directories, `oci-archive` and
//! `docker-archive` files.
//!
//! Config and manifest are serialized once to bytes and their descriptors carry the digest of
//! exactly those bytes; JSON field order is fixed (struct order, maps sorted), so the same image
//! always gives the same digests. Archives are tars with sorted entries, mtime 0 and owners 0:0.

mod error;
mod image;
mod model;
pub mod read;
mod reference;
pub mod verify;
mod write;

pub use error::{Error, Result};
pub use image::{Blob, Image, ImageLayer, SerializedImage, digest_hex, sha256_digest};
pub use model::{
    ANNOTATION_REF_NAME, ContainerConfig, Descriptor, History, ImageConfig, Index,
    MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST, Manifest, Platform, RootFs, rfc3339,
};
pub use read::{
    LayerRef, LooseDescriptor, LoosePlatform, ReadError, ReadImage, ReadResult, is_artifact_tag,
    platform_choices, read_image, select_platform,
};
pub use reference::{DOCKER_HUB, DockerReference, ImageRef};
pub use verify::{LayerReader, Mismatch, RawLayer, Verified};
/// The content of a layer blob ([`ImageLayer::blob`]): in memory or in a file.
pub use whittle_fs::FileData;
pub use write::{StagedFile, StagedLayout, Written, write};
