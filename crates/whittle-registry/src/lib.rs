//! whittle-registry talks the OCI distribution API: it reads credentials the way Docker does
//! (`config.json`, `credHelpers`, `credsStore`), answers Basic and Bearer-token challenges, pushes
//! images (blobs HEAD-checked and skipped when present, cross-repository mounts, monolithic or
//! chunked uploads, retries with exponential backoff, manifests pushed byte-for-byte so the
//! registry's digest equals the local one, multi-platform indexes, SBOMs as OCI 1.1 referrers or
//! `sha256-<hex>.sbom` tags), and pulls images into OCI layout directories with every blob
//! verified against its digest, so every reader in whittle can open `docker://` references.
//! [`cache`] keeps whittle's build cache in a repository (`--cache-from` / `--cache-to`).
//!
//! Plain HTTP is used only for loopback registries (`localhost`, `127.0.0.0/8`, `::1`) or when
//! [`Options::insecure`] is set; everything else is HTTPS.

mod auth;
pub mod cache;
mod client;
mod error;
mod plan;
mod pull;
mod push;
mod sink;

use std::path::{Path, PathBuf};

use whittle_oci::{DockerReference, Image, ImageRef, Platform, ReadImage};

pub use auth::{
    Challenge, Credential, docker_config_dir, lookup as lookup_credentials, parse_challenge,
};
pub use client::is_loopback;
pub use error::{Error, Result};
pub use plan::{MAX_MANIFEST_SIZE, layout_entry};
pub use push::{MEDIA_TYPE_SPDX, PushReport, PushedSbom, SbomAttachment};

use plan::{BlobSource, DirBlobs, Plan};

/// Environment variable: the largest blob a manifest may declare (`10G`, `512M`, bytes).
pub const MAX_BLOB_SIZE_VAR: &str = "WHITTLE_MAX_BLOB_SIZE";
/// Environment variable: the most the blobs of one pull or copy may declare in all.
pub const MAX_IMAGE_SIZE_VAR: &str = "WHITTLE_MAX_IMAGE_SIZE";

/// How to talk to registries.
#[derive(Debug, Clone)]
pub struct Options {
    /// Allow plain HTTP to non-loopback registries.
    pub insecure: bool,
    /// Directory of `config.json` [default: `$DOCKER_CONFIG`, else `~/.docker`].
    pub docker_config: Option<PathBuf>,
    /// Time, speed and retry limits of every transfer; one pull, push or copy is one operation
    /// with one deadline (the same limits as package downloads: `whittle_fetch::Limits`).
    pub limits: whittle_fetch::Limits,
    /// The largest blob (layer, config, SBOM) a manifest may declare; larger ones are refused
    /// before anything is downloaded [default: 10 GiB, the largest layer common registries
    /// accept; `WHITTLE_MAX_BLOB_SIZE`].
    pub max_blob_size: u64,
    /// The most the distinct blobs of one pull or copy from a registry (every platform of an
    /// index) may declare in all, checked before anything is downloaded [default: 32 GiB;
    /// `WHITTLE_MAX_IMAGE_SIZE`].
    pub max_image_size: u64,
    /// Blobs up to this size are uploaded in one request; larger ones in chunks of this size.
    pub chunk_size: usize,
    /// Blobs transferred at the same time.
    pub jobs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            insecure: false,
            docker_config: None,
            limits: whittle_fetch::Limits::default(),
            max_blob_size: 10 << 30,
            max_image_size: 32 << 30,
            chunk_size: 16 << 20,
            jobs: 4,
        }
    }
}

impl Options {
    /// Defaults, with `insecure` set when `WHITTLE_INSECURE_REGISTRY` is `1` or `true`, the
    /// transfer limits of `whittle_fetch::Limits::from_env`, `max_blob_size` from
    /// `WHITTLE_MAX_BLOB_SIZE` and `max_image_size` from `WHITTLE_MAX_IMAGE_SIZE`. An invalid value makes every operation fail at its start with a
    /// message naming the variable.
    pub fn from_env() -> Self {
        let insecure = std::env::var("WHITTLE_INSECURE_REGISTRY")
            .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        let mut opts = Options {
            insecure,
            limits: whittle_fetch::Limits::from_env(),
            ..Options::default()
        };
        let mut problems: Vec<String> = opts.limits.invalid.take().into_iter().collect();
        for (var, field) in [
            (MAX_BLOB_SIZE_VAR, &mut opts.max_blob_size),
            (MAX_IMAGE_SIZE_VAR, &mut opts.max_image_size),
        ] {
            let Ok(v) = std::env::var(var) else { continue };
            match whittle_fetch::parse_size(v.trim()).filter(|n| *n > 0) {
                Some(n) => *field = n,
                None => problems.push(format!(
                    "{var}={:?} is not a size such as 10G, 512M or a number of bytes; fix or unset it",
                    v.chars().take(100).collect::<String>()
                )),
            }
        }
        if !problems.is_empty() {
            opts.limits.invalid = Some(problems.join("; "));
        }
        opts
    }

    /// Starts one operation (its deadline runs from now).
    fn start(&self) -> Result<whittle_fetch::Budget> {
        self.limits
            .start()
            .map_err(|e| Error::Invalid(e.to_string()))
    }
}

/// What a pull wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// Digest of what the layout's `index.json` points to (manifest or index).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Each image manifest's digest.
    pub manifests: Vec<String>,
    /// Number of distinct blobs (configs and layers).
    pub blobs: usize,
    /// Bytes downloaded (blobs reused from an existing layout are not counted).
    pub bytes: u64,
}

/// Push images a build made. One image is pushed as its manifest; several (one per platform)
/// as their manifests and an image index with the same bytes `whittle_oci::write` writes, so the
/// pushed digest equals the local one. `sboms[i]` (SPDX JSON), when given, is attached to image
/// `i`'s manifest.
pub fn push(
    images: &[Image],
    dest: &DockerReference,
    sboms: &[Vec<u8>],
    opts: &Options,
) -> Result<PushReport> {
    push_from(images, dest, sboms, None, opts)
}

/// [`push`], mounting the blobs the registry lacks in `dest`'s repository from `mount_from`, a
/// repository of the same registry (an image built on a base image pushed there mounts the
/// base's layers instead of uploading them); a blob `mount_from` does not have is uploaded.
pub fn push_from(
    images: &[Image],
    dest: &DockerReference,
    sboms: &[Vec<u8>],
    mount_from: Option<&str>,
    opts: &Options,
) -> Result<PushReport> {
    let (plan, blobs) = plan::plan_from_images(images)?;
    let attach: Vec<(String, Vec<u8>)> = plan
        .images
        .iter()
        .zip(sboms)
        .map(|(d, s)| (d.digest.clone(), s.clone()))
        .collect();
    let client = client::Client::new(&dest.registry, opts, &opts.start()?)?;
    push::push_plan(&client, &plan, &blobs, dest, mount_from, &attach)
}

/// Pull `reference` into an OCI layout directory `dest` (atomic; an existing layout there is
/// replaced and its blobs reused), naming it `tag` in `index.json`. `platform` picks one image of
/// a multi-platform index; without it the whole index is pulled. Every blob is verified.
pub fn pull(
    reference: &DockerReference,
    opts: &Options,
    dest: &Path,
    tag: Option<&str>,
    platform: Option<&Platform>,
) -> Result<PulledImage> {
    let budget = opts.start()?;
    let client = client::Client::new(&reference.registry, opts, &budget)?;
    let plan = pull::plan_from_registry(&client, reference, platform)?;
    let blobs = pull::RegistryBlobs {
        client: &client,
        repo: &reference.repository,
    };
    let bytes = sink::write_layout(&plan, &blobs, dest, tag, opts, &budget)?;
    summary(&plan, bytes)
}

fn summary(plan: &Plan, bytes: u64) -> Result<PulledImage> {
    let top = plan.top()?;
    Ok(PulledImage {
        digest: top.digest.clone(),
        media_type: top.media_type.clone(),
        manifests: plan.images.iter().map(|d| d.digest.clone()).collect(),
        blobs: plan.unique_blobs().len(),
        bytes,
    })
}

/// The error of every command that reads one image when `image` is multi-platform and no
/// platform was given: [`whittle_oci::ReadError::PlatformRequired`], listing the platforms.
fn platform_required(image: &ImageRef, plan: &Plan) -> Error {
    let choices: Vec<String> = plan
        .images
        .iter()
        .map(|d| {
            d.platform
                .as_ref()
                .map_or_else(|| d.digest.clone(), ToString::to_string)
        })
        .collect();
    whittle_oci::ReadError::PlatformRequired {
        image: image.to_string().into(),
        choices: choices.join(", "),
    }
    .into()
}

/// Open any image reference for reading: local references with `whittle_oci::read_image`,
/// `docker://` ones by pulling `platform`'s image (required for a multi-platform index) into a
/// temporary OCI layout, returned alongside (the image reads from it until it is dropped).
pub fn open(
    image: &ImageRef,
    platform: Option<&Platform>,
    opts: &Options,
) -> Result<(ReadImage, Option<tempfile::TempDir>)> {
    let ImageRef::Docker(r) = image else {
        return Ok((whittle_oci::read_image(image, platform)?, None));
    };
    let budget = opts.start()?;
    let client = client::Client::new(&r.registry, opts, &budget)?;
    let plan = pull::plan_from_registry(&client, r, platform)?;
    if plan.index.is_some() {
        return Err(platform_required(image, &plan));
    }
    let tmp = tempfile::Builder::new()
        .prefix("whittle-pull-")
        .tempdir()
        .map_err(Error::io(
            "creating a temporary directory in",
            std::env::temp_dir(),
        ))?;
    let dir = tmp.path().join("image");
    let blobs = pull::RegistryBlobs {
        client: &client,
        repo: &r.repository,
    };
    sink::write_layout(&plan, &blobs, &dir, None, opts, &budget)?;
    let img = whittle_oci::read_image(
        &ImageRef::Oci {
            path: dir,
            tag: None,
        },
        platform,
    )?;
    Ok((img, Some(tmp)))
}

/// One registry repository, for readers of small artifacts (signatures) that decide what to
/// fetch from a manifest: one client for all their requests, so credentials are looked up and a
/// token fetched once, and one deadline ([`Options::start`]) holds for all of them.
pub struct Repository {
    client: client::Client,
    repo: String,
}

impl Repository {
    /// `reference`'s repository (its tag and digest are ignored).
    pub fn new(reference: &DockerReference, opts: &Options) -> Result<Repository> {
        Ok(Repository {
            client: client::Client::new(&reference.registry, opts, &opts.start()?)?,
            repo: reference.repository.clone(),
        })
    }

    /// The manifest (or index) `reference` (a tag, or a digest: anything with a `:`) names and
    /// its digest, or `None` when the registry has none (HTTP 404). At most
    /// [`MAX_MANIFEST_SIZE`] bytes, verified against a digest reference and the registry's
    /// `Docker-Content-Digest`.
    pub fn find_manifest(&self, reference: &str) -> Result<Option<(Vec<u8>, String)>> {
        let expected = reference.contains(':').then_some(reference);
        let found = pull::find_manifest(&self.client, &self.repo, reference, expected)?;
        Ok(found.map(|(bytes, digest, _)| (bytes, digest)))
    }

    /// The blob `digest`, read into memory: exactly `size` bytes (callers bound `size` first),
    /// verified against its digest.
    pub fn fetch_blob(&self, digest: &str, size: u64) -> Result<Vec<u8>> {
        pull::fetch_small_blob(&self.client, &self.repo, digest, size)
    }
}

/// What [`copy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Digest of the copied manifest or index (the same at source and destination).
    pub digest: String,
    /// Each image manifest's digest.
    pub manifests: Vec<String>,
    /// The push, when the destination is a registry.
    pub push: Option<PushReport>,
    /// The source's digest when the copy converted Docker media types to OCI ones (writing an
    /// OCI layout or archive, as skopeo does): `digest` is then the converted one.
    pub converted_from: Option<String>,
}

/// Copy an image between any two references (`oci:`, `oci-archive:`, `docker-archive:`,
/// `docker://`), keeping manifests and blobs byte-for-byte (a `docker-archive` source has no
/// stored manifest: its synthesized one is used). `platform` picks one image of a
/// multi-platform source; without it the whole index is copied (not possible into a
/// `docker-archive`). Registry to registry on the same host mounts blobs instead of moving them,
/// and SBOMs attached to the copied manifests (referrers or `sha256-<hex>.sbom` tags) are
/// attached at the destination the same way [`push`] attaches them.
pub fn copy(
    src: &ImageRef,
    dest: &ImageRef,
    platform: Option<&Platform>,
    opts: &Options,
) -> Result<CopyReport> {
    // one operation: the source's and the destination's transfers share one deadline
    let budget = opts.start()?;
    let emit = |plan: &Plan,
                blobs: &dyn BlobSource,
                mount_from: Option<&str>,
                sboms: &[(String, Vec<u8>)]| {
        // a docker-archive holds one image: the error every one-image command gives
        if plan.index.is_some() && matches!(dest, ImageRef::DockerArchive { .. }) {
            return Err(platform_required(src, plan));
        }
        emit(plan, blobs, dest, mount_from, sboms, opts, &budget)
    };
    match src {
        ImageRef::Oci { path, tag } => {
            let plan = plan::plan_from_layout(path, tag.as_deref(), platform)?;
            emit(&plan, &DirBlobs(path.clone()), None, &[])
        }
        ImageRef::OciArchive { path, tag } => {
            let tmp = unpack_oci_archive(path)?;
            let plan = plan::plan_from_layout(tmp.path(), tag.as_deref(), platform)?;
            emit(&plan, &DirBlobs(tmp.path().to_path_buf()), None, &[])
        }
        ImageRef::DockerArchive { .. } => {
            let img = whittle_oci::read_image(src, platform)?;
            let (plan, blobs) = plan::plan_from_read_image(&img)?;
            emit(&plan, &blobs, None, &[])
        }
        ImageRef::Docker(r) => {
            let client = client::Client::new(&r.registry, opts, &budget)?;
            let plan = pull::plan_from_registry(&client, r, platform)?;
            let blobs = pull::RegistryBlobs {
                client: &client,
                repo: &r.repository,
            };
            let same = matches!(dest, ImageRef::Docker(d) if d.registry == r.registry);
            // registry to registry: the SBOMs whittle (or anyone, the same way) attached travel too
            let mut sboms = Vec::new();
            if matches!(dest, ImageRef::Docker(_)) {
                for d in plan.images.iter().chain(plan.index.iter()) {
                    if let Some(sbom) = pull::find_sbom(&client, &r.repository, &d.digest)? {
                        sboms.push((d.digest.clone(), sbom));
                    }
                }
            }
            emit(&plan, &blobs, same.then_some(r.repository.as_str()), &sboms)
        }
    }
}

/// Writes or pushes `plan`; `sboms` (subject digest, SPDX JSON) are attached when pushing.
fn emit(
    plan: &Plan,
    blobs: &dyn BlobSource,
    dest: &ImageRef,
    mount_from: Option<&str>,
    sboms: &[(String, Vec<u8>)],
    opts: &Options,
    budget: &whittle_fetch::Budget,
) -> Result<CopyReport> {
    // OCI layouts and archives hold OCI media types: skopeo and umoci read nothing else there
    let mut converted = None;
    let mut converted_from = None;
    if matches!(dest, ImageRef::Oci { .. } | ImageRef::OciArchive { .. }) {
        let mut oci = plan.clone();
        if plan::to_oci(&mut oci)? {
            converted_from = Some(plan.top()?.digest.clone());
            converted = Some(oci);
        }
    }
    let plan = converted.as_ref().unwrap_or(plan);
    let top = plan.top()?;
    let mut report = CopyReport {
        digest: top.digest.clone(),
        manifests: plan.images.iter().map(|d| d.digest.clone()).collect(),
        push: None,
        converted_from,
    };
    match dest {
        ImageRef::Docker(d) => {
            let client = client::Client::new(&d.registry, opts, budget)?;
            report.push = Some(push::push_plan(&client, plan, blobs, d, mount_from, sboms)?);
        }
        ImageRef::Oci { path, tag } => {
            sink::write_layout(plan, blobs, path, tag.as_deref(), opts, budget)?;
        }
        ImageRef::OciArchive { path, tag } => {
            sink::write_archive(plan, blobs, path, tag.as_deref(), None, budget)?;
        }
        ImageRef::DockerArchive { path, reference } => {
            sink::write_archive(plan, blobs, path, None, Some(reference.as_ref()), budget)?;
        }
    }
    Ok(report)
}

/// Unpack the layout files of an `oci-archive`, plain or gzip-compressed (`index.json`,
/// `oci-layout`, `blobs/sha256/*`; nothing else, nothing outside, at most
/// [`whittle_oci::read::MAX_GUNZIPPED_ARCHIVE`] bytes) into a temporary directory.
fn unpack_oci_archive(path: &Path) -> Result<tempfile::TempDir> {
    let tmp = tempfile::Builder::new()
        .prefix("whittle-oci-archive-")
        .tempdir()
        .map_err(Error::io(
            "creating a temporary directory in",
            std::env::temp_dir(),
        ))?;
    let blobs = tmp.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(Error::io("creating", &blobs))?;
    let f = std::fs::File::open(path).map_err(Error::io("opening", path))?;
    let mut buffered = std::io::BufReader::with_capacity(1 << 20, f);
    let gzipped = std::io::BufRead::fill_buf(&mut buffered)
        .map_err(Error::io("reading", path))?
        .starts_with(&[0x1f, 0x8b]);
    // `docker save | gzip`-style archives are read as they are; what they unpack to is bounded
    // like every archive whittle opens
    let plain: Box<dyn std::io::Read> = if gzipped {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let mut ar = tar::Archive::new(std::io::Read::take(
        plain,
        whittle_oci::read::MAX_GUNZIPPED_ARCHIVE,
    ));
    let entries = ar.entries().map_err(Error::io("reading", path))?;
    for e in entries {
        let mut e = e.map_err(Error::io("reading a tar entry of", path))?;
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let name = name.trim_start_matches("./");
        let target = if name == "index.json" || name == "oci-layout" {
            tmp.path().join(name)
        } else if let Some(hex) = name.strip_prefix("blobs/sha256/")
            && whittle_oci::digest_hex(&format!("sha256:{hex}")).is_some()
        {
            blobs.join(hex)
        } else {
            continue;
        };
        let mut out = std::fs::File::create(&target).map_err(Error::io("creating", &target))?;
        std::io::copy(&mut e, &mut out).map_err(Error::io("unpacking", &target))?;
    }
    Ok(tmp)
}
