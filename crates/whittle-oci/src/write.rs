//! Writers: OCI layout directory, oci-archive, docker-archive; all atomic.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use whittle_fs::Meta;
use whittle_fs::ustar::{Header, Kind, TarWriter};

use crate::error::{Error, Result};
use crate::image::{Blob, Image, digest_hex};
use crate::model::{ANNOTATION_REF_NAME, Descriptor, Index, MEDIA_TYPE_INDEX};
use crate::reference::{DockerReference, ImageRef};

/// Content of a layout's `oci-layout` file.
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// Annotation Docker/containerd put on `index.json` entries with the full image name.
const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// What [`write`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Digest of what `index.json` points to: the manifest (one image) or the image index (several).
    pub digest: String,
    /// Media type of that blob.
    pub media_type: String,
    /// Digest of each image's manifest, in input order.
    pub manifests: Vec<String>,
}

/// Write `images` to `dest`. One image: `index.json` lists its manifest (with platform and, when a
/// tag is given, `org.opencontainers.image.ref.name`). Several images (multi-platform): an image
/// index blob lists them and `index.json` points to it. `docker-archive` takes one image only;
/// registries are not supported yet. The output appears atomically: it is written to a temporary
/// sibling and renamed into place; on failure nothing is left behind. An existing layout
/// directory is replaced (only if it is empty or holds an `oci-layout` file); an existing archive
/// file is replaced.
pub fn write(images: &[Image], dest: &ImageRef) -> Result<Written> {
    match dest {
        ImageRef::Oci { path, tag } => {
            let layout = Layout::build(images, tag.as_deref(), None)?;
            write_dir(&layout, path)?;
            Ok(layout.written)
        }
        ImageRef::OciArchive { path, tag } => {
            let layout = Layout::build(images, tag.as_deref(), None)?;
            write_archive(&layout, path)?;
            Ok(layout.written)
        }
        ImageRef::DockerArchive { path, reference } => {
            if images.len() != 1 {
                return Err(Error::InvalidImage(format!(
                    "docker-archive holds one image but {} were given; write a multi-platform image with oci: or oci-archive:",
                    images.len()
                )));
            }
            let layout = Layout::build(images, None, Some(reference.as_ref()))?;
            write_archive(&layout, path)?;
            Ok(layout.written)
        }
        ImageRef::Docker(r) => Err(Error::RegistryNotSupported {
            reference: r.to_string(),
        }),
    }
}

/// All files of a layout, in memory (layers borrowed).
struct Layout<'a> {
    /// Blobs by hex digest.
    blobs: BTreeMap<String, Cow<'a, [u8]>>,
    index_json: Vec<u8>,
    /// Docker's `manifest.json`, for docker-archive.
    docker_manifest: Option<Vec<u8>>,
    written: Written,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

impl<'a> Layout<'a> {
    /// `docker`: `Some(name)` for a docker-archive (with its optional name).
    fn build(
        images: &'a [Image],
        tag: Option<&str>,
        docker: Option<Option<&DockerReference>>,
    ) -> Result<Layout<'a>> {
        if images.is_empty() {
            return Err(Error::InvalidImage("no image to write".into()));
        }
        let mut blobs: BTreeMap<String, Cow<'a, [u8]>> = BTreeMap::new();
        let mut add = |digest: &str, bytes: Cow<'a, [u8]>| -> Result<String> {
            let hex = digest_hex(digest).ok_or_else(|| {
                Error::InvalidImage(format!("`{digest}` is not a sha256:<64 hex> digest"))
            })?;
            blobs.entry(hex.to_string()).or_insert(bytes);
            Ok(format!("blobs/sha256/{hex}"))
        };
        let mut descs = Vec::with_capacity(images.len());
        let mut platforms = BTreeMap::new();
        let mut docker_entries = Vec::new();
        for img in images {
            let s = img.serialize()?;
            if let Some(prev) = platforms.insert(s.platform.clone(), s.manifest.digest.clone()) {
                return Err(Error::InvalidImage(format!(
                    "two images for the same platform {}/{}{} ({prev} and {})",
                    s.platform.os,
                    s.platform.architecture,
                    s.platform
                        .variant
                        .as_ref()
                        .map(|v| format!("/{v}"))
                        .unwrap_or_default(),
                    s.manifest.digest
                )));
            }
            let mut layer_paths = Vec::with_capacity(img.layers.len());
            for l in &img.layers {
                layer_paths.push(add(&l.digest, Cow::Borrowed(&l.blob))?);
            }
            let config_path = add(&s.config.digest, Cow::Owned(s.config.bytes.clone()))?;
            add(&s.manifest.digest, Cow::Owned(s.manifest.bytes.clone()))?;
            docker_entries.push(DockerManifestEntry {
                config: config_path,
                repo_tags: docker
                    .flatten()
                    .map(|r| vec![r.familiar()])
                    .unwrap_or_default(),
                layers: layer_paths,
            });
            let mut d = s.manifest.descriptor();
            d.platform = Some(s.platform);
            descs.push(d);
        }
        let manifests: Vec<String> = descs.iter().map(|d| d.digest.clone()).collect();
        let mut top: Descriptor = if descs.len() == 1 {
            descs.remove(0)
        } else {
            let index = Blob::json(MEDIA_TYPE_INDEX, &Index::new(descs), "the image index")?;
            add(&index.digest, Cow::Owned(index.bytes.clone()))?;
            index.descriptor()
        };
        let tag = match docker {
            Some(Some(r)) => {
                let t = r.tag.clone().unwrap_or_else(|| "latest".into());
                top.annotations.insert(
                    ANNOTATION_CONTAINERD_NAME.into(),
                    format!("{}/{}:{t}", r.registry, r.repository),
                );
                Some(t)
            }
            _ => tag.map(str::to_string),
        };
        if let Some(t) = tag {
            top.annotations.insert(ANNOTATION_REF_NAME.into(), t);
        }
        let written = Written {
            digest: top.digest.clone(),
            media_type: top.media_type.clone(),
            manifests,
        };
        let index_json =
            serde_json::to_vec(&Index::new(vec![top])).map_err(|source| Error::Json {
                what: "index.json",
                source,
            })?;
        let docker_manifest = match docker {
            Some(_) => Some(
                serde_json::to_vec(&docker_entries).map_err(|source| Error::Json {
                    what: "manifest.json",
                    source,
                })?,
            ),
            None => None,
        };
        Ok(Layout {
            blobs,
            index_json,
            docker_manifest,
            written,
        })
    }

    /// Every file of the layout as (path, bytes), sorted by path.
    fn files(&self) -> Vec<(String, &[u8])> {
        let mut v: Vec<(String, &[u8])> = self
            .blobs
            .iter()
            .map(|(h, b)| (format!("blobs/sha256/{h}"), b.as_ref()))
            .collect();
        v.push(("index.json".into(), &self.index_json));
        if let Some(m) = &self.docker_manifest {
            v.push(("manifest.json".into(), m));
        }
        v.push(("oci-layout".into(), OCI_LAYOUT));
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// The parent directory (created if missing) and file name of `dest`.
fn split_dest(dest: &Path) -> Result<(PathBuf, String)> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Error::InvalidImage(format!(
                "destination `{}` has no usable file name; name a new directory or file",
                dest.display()
            ))
        })?
        .to_string();
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(Error::io("creating directory", &parent))?;
    Ok((parent, name))
}

fn write_dir(layout: &Layout<'_>, dest: &Path) -> Result<()> {
    let (parent, name) = split_dest(dest)?;
    let existing = match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {
            let is_layout = dest.join("oci-layout").is_file();
            let is_empty = fs::read_dir(dest)
                .map_err(Error::io("reading directory", dest))?
                .next()
                .is_none();
            if !is_layout && !is_empty {
                return Err(Error::InvalidImage(format!(
                    "`{}` exists and is not an OCI layout; remove it or choose another directory",
                    dest.display()
                )));
            }
            true
        }
        Ok(_) => {
            return Err(Error::InvalidImage(format!(
                "`{}` exists and is not a directory; remove it or choose another path",
                dest.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io("inspecting", dest)(e)),
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.whittle-"))
        .tempdir_in(&parent)
        .map_err(Error::io("creating a temporary directory in", &parent))?;
    let blobs = tmp.path().join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(Error::io("creating directory", &blobs))?;
    for (rel, bytes) in layout.files() {
        let p = tmp.path().join(&rel);
        fs::write(&p, bytes).map_err(Error::io("writing", &p))?;
    }
    for d in [tmp.path().to_path_buf(), tmp.path().join("blobs"), blobs] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755))
            .map_err(Error::io("setting permissions of", &d))?;
    }
    if !existing {
        let kept = tmp.keep();
        return fs::rename(&kept, dest).map_err(|e| {
            let _ = fs::remove_dir_all(&kept);
            Error::io("renaming the new layout to", dest)(e)
        });
    }
    // Move the old layout aside (onto an empty temporary directory), move the new one in, then
    // delete the old one; put the old one back if the second rename fails.
    let old = tempfile::Builder::new()
        .prefix(&format!(".{name}.whittle-old-"))
        .tempdir_in(&parent)
        .map_err(Error::io("creating a temporary directory in", &parent))?;
    fs::rename(dest, old.path()).map_err(Error::io("moving the old layout aside:", dest))?;
    let kept = tmp.keep();
    if let Err(e) = fs::rename(&kept, dest) {
        let _ = fs::rename(old.path(), dest);
        let _ = fs::remove_dir_all(&kept);
        return Err(Error::io("renaming the new layout to", dest)(e));
    }
    drop(old); // removes the old layout
    Ok(())
}

fn write_archive(layout: &Layout<'_>, dest: &Path) -> Result<()> {
    let (parent, name) = split_dest(dest)?;
    if dest.is_dir() {
        return Err(Error::InvalidImage(format!(
            "`{}` is a directory; an archive destination must be a file path",
            dest.display()
        )));
    }
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.whittle-"))
        .tempfile_in(&parent)
        .map_err(Error::io("creating a temporary file in", &parent))?;
    {
        let out = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let mut tar = TarWriter::new(out);
        write_tar_entries(&mut tar, layout).map_err(Error::io("writing", tmp.path()))?;
        let mut out = tar.finish().map_err(Error::io("writing", tmp.path()))?;
        out.flush().map_err(Error::io("writing", tmp.path()))?;
    }
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(Error::io("setting permissions of", tmp.path()))?;
    tmp.persist(dest)
        .map_err(|e| Error::io("renaming the new archive to", dest)(e.error))?;
    Ok(())
}

fn write_tar_entries<W: Write>(tar: &mut TarWriter<W>, layout: &Layout<'_>) -> std::io::Result<()> {
    let dir = |path| Header {
        path,
        kind: Kind::Dir,
        link: "",
        meta: Meta::root(0o755),
        mtime: 0,
    };
    tar.append(&dir("blobs"), &[])?;
    tar.append(&dir("blobs/sha256"), &[])?;
    for (path, bytes) in layout.files() {
        let h = Header {
            path: &path,
            kind: Kind::File,
            link: "",
            meta: Meta::root(0o644),
            mtime: 0,
        };
        tar.append(&h, bytes)?;
    }
    Ok(())
}
