//! Writers: OCI layout directory, oci-archive, docker-archive; all atomic.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use whittle_fs::ustar::{Header, Kind, TarWriter};
use whittle_fs::{FileData, Meta};

use crate::error::{Error, Result};
use crate::image::{Blob, Image, digest_hex};
use crate::model::{ANNOTATION_REF_NAME, Descriptor, Index, MEDIA_TYPE_INDEX};
use crate::reference::{DockerReference, ImageRef};

/// Content of a layout's `oci-layout` file.
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// Annotation Docker/containerd put on `index.json` entries with the full image name.
const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Largest `index.json` of an existing layout read to keep its other images.
const MAX_OLD_INDEX: u64 = 16 << 20;

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
/// index blob lists them and `index.json` points to it (a `docker-archive` of several holds one
/// `manifest.json` entry each and no OCI index); registries are not supported yet. The output
/// appears atomically: it is written to a temporary sibling and renamed into place; on failure
/// nothing is left behind. An existing layout directory (only if it is empty or holds an
/// `oci-layout` file) keeps its other images, as skopeo's: only an entry with the same tag is
/// replaced (see [`StagedLayout::index_json_keeping_others`]); an existing archive file is
/// replaced.
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
            // several images (one per platform): one manifest.json entry each, named
            // `NAME:TAG-ARCH` as apko names them, and no OCI index (see `Layout::files`)
            let layout = Layout::build(images, None, Some(reference.as_ref()))?;
            write_archive(&layout, path)?;
            Ok(layout.written)
        }
        ImageRef::Docker(r) => Err(Error::RegistryNotSupported {
            reference: r.to_string(),
        }),
    }
}

/// All files of a layout (layers shared, in memory or in files).
struct Layout {
    /// Blobs by hex digest.
    blobs: BTreeMap<String, FileData>,
    index_json: Vec<u8>,
    /// The one entry of `index_json`.
    top: Descriptor,
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

impl Layout {
    /// `docker`: `Some(name)` for a docker-archive (with its optional name).
    fn build(
        images: &[Image],
        tag: Option<&str>,
        docker: Option<Option<&DockerReference>>,
    ) -> Result<Layout> {
        if images.is_empty() {
            return Err(Error::InvalidImage("no image to write".into()));
        }
        let mut blobs: BTreeMap<String, FileData> = BTreeMap::new();
        let mut add = |digest: &str, bytes: FileData| -> Result<String> {
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
                layer_paths.push(add(&l.digest, l.blob.clone())?);
            }
            let config_path = add(&s.config.digest, FileData::inline(s.config.bytes.clone()))?;
            add(
                &s.manifest.digest,
                FileData::inline(s.manifest.bytes.clone()),
            )?;
            let repo_tags = match docker.flatten() {
                Some(r) if images.len() > 1 => {
                    let mut r = r.clone();
                    let t = r.tag.take().unwrap_or_else(|| "latest".into());
                    r.tag = Some(format!("{t}-{}", s.platform.architecture.replace('/', "_")));
                    vec![r.familiar()]
                }
                Some(r) => vec![r.familiar()],
                None => Vec::new(),
            };
            docker_entries.push(DockerManifestEntry {
                config: config_path,
                repo_tags,
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
            add(&index.digest, FileData::inline(index.bytes.clone()))?;
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
            serde_json::to_vec(&Index::new(vec![top.clone()])).map_err(|source| Error::Json {
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
            top,
            docker_manifest,
            written,
        })
    }

    /// Every file of the layout as (path, content), sorted by path.
    fn files(&self) -> Vec<(String, FileData)> {
        let mut v: Vec<(String, FileData)> = self
            .blobs
            .iter()
            .map(|(h, b)| (format!("blobs/sha256/{h}"), b.clone()))
            .collect();
        // A docker-archive of several platforms is a docker-archive only, as apko's tarballs
        // are: with an OCI index beside it, podman loads the archive as an OCI archive, one
        // platform under NAME:TAG, and the per-platform NAME:TAG-ARCH names are lost.
        let docker_only = self.docker_manifest.is_some() && self.written.manifests.len() > 1;
        if !docker_only {
            v.push(("index.json".into(), self.index_json.clone().into()));
            v.push(("oci-layout".into(), OCI_LAYOUT.into()));
        }
        if let Some(m) = &self.docker_manifest {
            v.push(("manifest.json".into(), m.clone().into()));
        }
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

/// A new OCI layout directory, written into a temporary sibling of its destination and moved
/// into place by [`StagedLayout::commit`]; dropped without committing, it leaves nothing behind.
#[derive(Debug)]
pub struct StagedLayout {
    tmp: tempfile::TempDir,
    dest: PathBuf,
    parent: PathBuf,
    name: String,
    replaces: bool,
}

impl StagedLayout {
    /// Stage a layout for `dest`, which must be absent, an empty directory, or an OCI layout
    /// (a directory holding an `oci-layout` file; it is replaced on commit). The staging
    /// directory starts with an empty `blobs/sha256`.
    pub fn new(dest: &Path) -> Result<Self> {
        let (parent, name) = split_dest(dest)?;
        let replaces = match fs::symlink_metadata(dest) {
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
        Ok(StagedLayout {
            tmp,
            dest: dest.to_path_buf(),
            parent,
            name,
            replaces,
        })
    }

    /// The staging directory: write the layout's files below it.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The directory holding blobs by hex digest (`blobs/sha256` of the staging directory).
    pub fn blobs_dir(&self) -> PathBuf {
        self.tmp.path().join("blobs").join("sha256")
    }

    /// The existing layout [`commit`](Self::commit) replaces, if any (its blobs may be reused).
    pub fn replaced(&self) -> Option<&Path> {
        self.replaces.then_some(self.dest.as_path())
    }

    /// The `index.json` of the staged layout: `top`, and, when it replaces an existing layout,
    /// that layout's other images, as skopeo keeps them: every entry of the old `index.json`
    /// (other tags, their `.sig`/`.att`/`.sbom` entries) except the one with `top`'s
    /// `org.opencontainers.image.ref.name` (or, untagged, an untagged one with its digest),
    /// which `top` replaces in place; and every old blob not staged already (hard-linked, else
    /// copied). Call it once the new blobs are written.
    pub fn index_json_keeping_others(&self, top: &Descriptor) -> Result<Vec<u8>> {
        let new = serde_json::to_value(top).map_err(|source| Error::Json {
            what: "index.json",
            source,
        })?;
        let mut index = match self.replaced().map(|d| d.join("index.json")) {
            Some(p) if p.is_file() => read_old_index(&p)?,
            _ => serde_json::to_value(Index::new(Vec::new())).map_err(|source| Error::Json {
                what: "index.json",
                source,
            })?,
        };
        let name = |e: &serde_json::Value| {
            e.get("annotations")
                .and_then(|a| a.get(ANNOTATION_REF_NAME))
                .and_then(|n| n.as_str())
                .map(str::to_string)
        };
        let tag = name(&new);
        let entries = index
            .get_mut("manifests")
            .and_then(|m| m.as_array_mut())
            .ok_or_else(|| Error::InvalidImage("index.json has no manifests list".into()))?;
        let same = entries.iter().position(|e| match &tag {
            Some(_) => name(e) == tag,
            None => name(e).is_none() && e.get("digest") == new.get("digest"),
        });
        match same {
            Some(i) => entries[i] = new,
            None => entries.push(new),
        }
        if let Some(old) = self.replaced() {
            keep_old_blobs(&old.join("blobs"), &self.tmp.path().join("blobs"))?;
        }
        serde_json::to_vec(&index).map_err(|source| Error::Json {
            what: "index.json",
            source,
        })
    }

    /// Make the layout's directories `0755` and move it to its destination. An existing layout
    /// is moved aside first and deleted after; it is put back if the move fails.
    pub fn commit(self) -> Result<()> {
        let root = self.tmp.path();
        for d in [root.to_path_buf(), root.join("blobs"), self.blobs_dir()] {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))
                .map_err(Error::io("setting permissions of", &d))?;
        }
        let dest = &self.dest;
        if !self.replaces {
            let kept = self.tmp.keep();
            return fs::rename(&kept, dest).map_err(|e| {
                let _ = fs::remove_dir_all(&kept);
                Error::io("renaming the new layout to", dest)(e)
            });
        }
        // Move the old layout aside (onto an empty temporary directory), move the new one in,
        // then delete the old one; put the old one back if the second rename fails.
        let old = tempfile::Builder::new()
            .prefix(&format!(".{}.whittle-old-", self.name))
            .tempdir_in(&self.parent)
            .map_err(Error::io("creating a temporary directory in", &self.parent))?;
        fs::rename(dest, old.path()).map_err(Error::io("moving the old layout aside:", dest))?;
        let kept = self.tmp.keep();
        if let Err(e) = fs::rename(&kept, dest) {
            let _ = fs::rename(old.path(), dest);
            let _ = fs::remove_dir_all(&kept);
            return Err(Error::io("renaming the new layout to", dest)(e));
        }
        drop(old); // removes the old layout
        Ok(())
    }
}

/// A new file (an image archive), written as a temporary sibling of its destination and renamed
/// into place by [`StagedFile::commit`]; dropped without committing, it leaves nothing behind.
#[derive(Debug)]
pub struct StagedFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl StagedFile {
    /// Stage a file for `dest`, which must not be a directory (an existing file is replaced).
    pub fn new(dest: &Path) -> Result<Self> {
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
        Ok(StagedFile {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// The staged file, to write to.
    pub fn file(&self) -> &fs::File {
        self.tmp.as_file()
    }

    /// Where the staged file is (for messages).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Make the file `0644` and rename it to its destination.
    pub fn commit(self) -> Result<()> {
        self.tmp
            .as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(Error::io("setting permissions of", self.tmp.path()))?;
        let dest = self.dest;
        self.tmp
            .persist(&dest)
            .map_err(|e| Error::io("renaming the new archive to", &dest)(e.error))?;
        Ok(())
    }
}

/// An existing layout's `index.json`, bounded, as JSON with a `manifests` list.
fn read_old_index(p: &Path) -> Result<serde_json::Value> {
    let bad = |why: String| {
        Error::InvalidImage(format!(
            "`{}` {why}; remove the layout or choose another directory",
            p.display()
        ))
    };
    let bytes = whittle_fs::read_bounded(p, MAX_OLD_INDEX).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            bad(format!("is more than the {MAX_OLD_INDEX} bytes read"))
        } else {
            Error::io("reading", p)(e)
        }
    })?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("is not JSON: {e}")))?;
    if !v.get("manifests").is_some_and(|m| m.is_array()) {
        return Err(bad("is not an OCI index (no `manifests` list)".into()));
    }
    Ok(v)
}

/// Hard-link (else copy) every `old/ALG/HEX` blob missing from `new/ALG/`.
fn keep_old_blobs(old: &Path, new: &Path) -> Result<()> {
    let algs = match fs::read_dir(old) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("reading directory", old)(e)),
    };
    for alg in algs {
        let alg = alg.map_err(Error::io("reading directory", old))?;
        if !alg.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let into = new.join(alg.file_name());
        fs::create_dir_all(&into).map_err(Error::io("creating directory", &into))?;
        let dir = alg.path();
        for blob in fs::read_dir(&dir).map_err(Error::io("reading directory", &dir))? {
            let blob = blob.map_err(Error::io("reading directory", &dir))?;
            let to = into.join(blob.file_name());
            if !blob.file_type().is_ok_and(|t| t.is_file()) || to.exists() {
                continue;
            }
            let from = blob.path();
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).map_err(Error::io("copying", &from))?;
            }
        }
    }
    Ok(())
}

fn write_dir(layout: &Layout, dest: &Path) -> Result<()> {
    let staged = StagedLayout::new(dest)?;
    for (rel, bytes) in layout.files() {
        if rel == "index.json" {
            continue;
        }
        let p = staged.path().join(&rel);
        let mut out = fs::File::create(&p).map_err(Error::io("writing", &p))?;
        std::io::copy(&mut bytes.reader(), &mut out).map_err(Error::io("writing", &p))?;
    }
    let index = staged.index_json_keeping_others(&layout.top)?;
    let p = staged.path().join("index.json");
    fs::write(&p, index).map_err(Error::io("writing", &p))?;
    staged.commit()
}

fn write_archive(layout: &Layout, dest: &Path) -> Result<()> {
    let staged = StagedFile::new(dest)?;
    {
        let out = BufWriter::with_capacity(1 << 20, staged.file());
        let mut tar = TarWriter::new(out);
        write_tar_entries(&mut tar, layout).map_err(Error::io("writing", staged.path()))?;
        let mut out = tar.finish().map_err(Error::io("writing", staged.path()))?;
        out.flush().map_err(Error::io("writing", staged.path()))?;
    }
    staged.commit()
}

fn write_tar_entries<W: Write>(tar: &mut TarWriter<W>, layout: &Layout) -> std::io::Result<()> {
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
        tar.append_from(&h, bytes.len(), &mut bytes.reader())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn staged_layout_replaces_a_layout_and_leaves_nothing_when_dropped() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("out");
        let staged = StagedLayout::new(&dest).unwrap();
        assert_eq!(staged.replaced(), None);
        assert!(staged.blobs_dir().is_dir());
        drop(staged);
        assert!(names(root.path()).is_empty(), "{:?}", names(root.path()));

        let staged = StagedLayout::new(&dest).unwrap();
        fs::write(staged.path().join("oci-layout"), OCI_LAYOUT).unwrap();
        fs::write(staged.path().join("first"), b"1").unwrap();
        staged.commit().unwrap();
        assert_eq!(names(&dest), ["blobs", "first", "oci-layout"]);
        let mode = fs::metadata(dest.join("blobs/sha256"))
            .unwrap()
            .permissions();
        assert_eq!(mode.mode() & 0o777, 0o755);

        let staged = StagedLayout::new(&dest).unwrap();
        assert_eq!(staged.replaced(), Some(dest.as_path()));
        fs::write(staged.path().join("oci-layout"), OCI_LAYOUT).unwrap();
        staged.commit().unwrap();
        assert_eq!(names(&dest), ["blobs", "oci-layout"]);
        assert_eq!(names(root.path()), ["out"], "the old layout is removed");

        fs::remove_file(dest.join("oci-layout")).unwrap();
        let e = StagedLayout::new(&dest).unwrap_err().to_string();
        assert!(e.contains("not an OCI layout"), "{e}");
    }

    #[test]
    fn staged_file_is_renamed_into_place_and_refuses_directories() {
        let root = tempfile::tempdir().unwrap();
        let e = StagedFile::new(root.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let dest = root.path().join("sub/image.tar");
        let staged = StagedFile::new(&dest).unwrap();
        staged.file().write_all(b"tar").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"tar");
        let mode = fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(names(&root.path().join("sub")), ["image.tar"]);
    }
}
