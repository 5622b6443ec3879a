//! Assembling an image config into a plain directory (a root filesystem for a sandbox, e.g. the
//! build environment of `whittle pkg build`): the config is built exactly as [`crate::build`]
//! builds an image, then the image's layers are merged and written out as files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::{BuildOptions, Error, Events, SbomDest, build};

/// Why a root filesystem could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// Building the config failed.
    #[error(transparent)]
    Build(#[from] Error),
    /// Reading the built image back failed.
    #[error("reading the assembled environment back: {0}")]
    Read(String),
    /// Writing a file of the root filesystem failed.
    #[error("writing {path}: {source}; check the destination directory and free space")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl From<whittle_oci::ReadError> for RootfsError {
    fn from(e: whittle_oci::ReadError) -> Self {
        RootfsError::Read(e.to_string())
    }
}

/// What a root filesystem is built from.
#[derive(Debug, Clone)]
pub struct RootfsOptions {
    /// The image config file.
    pub config: PathBuf,
    /// The package cache directory.
    pub cache_dir: PathBuf,
    /// Use only the cache.
    pub offline: bool,
    /// The architecture (Debian or apk name; one).
    pub arch: String,
    /// Fixed timestamp of the files.
    pub source_date_epoch: Option<u64>,
    /// What the command line adds to the config (melange's `--keyring-append`,
    /// `--repository-append`).
    pub append: whittle_config::Append,
    /// Install exactly the packages of this lock instead of resolving (refused when stale).
    pub lock: Option<RootfsLock>,
}

/// The lock a root filesystem is installed from.
#[derive(Debug, Clone)]
pub struct RootfsLock {
    /// The lockfile.
    pub file: PathBuf,
    /// The file `whittle lock` made it from (a recipe whose `environment:` is the config): its
    /// messages and refresh command name it.
    pub made_from: PathBuf,
}

/// Builds `opts.config` for `opts.arch` and writes its merged filesystem into `dest` (created
/// if missing; it should be empty). Owners are applied when running as root.
pub fn build_rootfs(
    opts: &RootfsOptions,
    dest: &Path,
    events: &dyn Events,
) -> Result<(), RootfsError> {
    let tmp = tempfile::tempdir().map_err(|source| RootfsError::Write {
        path: "(temporary directory)".into(),
        source,
    })?;
    let layout = tmp.path().join("img");
    let image = whittle_oci::ImageRef::Oci {
        path: layout,
        tag: None,
    };
    build(
        &BuildOptions {
            config: opts.config.clone(),
            output: image.clone(),
            cache_dir: opts.cache_dir.clone(),
            offline: opts.offline,
            archs: vec![opts.arch.clone()],
            source_date_epoch: opts.source_date_epoch,
            sbom: SbomDest::None,
            insecure_allow_unsigned_repositories: false,
            allow_paths: Vec::new(),
            ignore_lock: opts.lock.is_none(),
            lock_file: opts.lock.as_ref().map(|l| l.file.clone()),
            lock_made_from: opts.lock.as_ref().map(|l| l.made_from.clone()),
            append: opts.append.clone(),
            layer_compression: None,
        },
        events,
    )?;
    let read =
        whittle_oci::read_image(&image, None).map_err(|e| RootfsError::Read(e.to_string()))?;
    let spill = crate::spill().map_err(|e| {
        RootfsError::Read(format!(
            "cannot create a temporary file in {}: {e}",
            std::env::temp_dir().display()
        ))
    })?;
    let mut overlay = whittle_fs::Overlay::new()
        .with_size_limit(crate::MAX_IMAGE_BYTES)
        .with_spill(spill);
    for i in 0..read.layers.len() {
        // verified to the layer's end (digest, size, diff ID), not only to the tar's end
        read.read_layer(i, |layer| {
            overlay
                .apply_layer(layer)
                .map_err(|e| RootfsError::Read(e.to_string()))
        })?;
    }
    write_tree(overlay.tree(), dest)
}

/// Writes `tree` as files under `dest`. Directory modes are set last (deepest first), so
/// read-only directories can still be filled.
pub fn write_tree(tree: &whittle_fs::Tree, dest: &Path) -> Result<(), RootfsError> {
    use whittle_fs::Node;
    let w = |p: &Path| {
        let path = p.display().to_string();
        move |source| RootfsError::Write { path, source }
    };
    std::fs::create_dir_all(dest).map_err(w(dest))?;
    let root = is_root();
    let mut dirs = Vec::new();
    let mut links = Vec::new();
    for (path, entry) in tree.walk() {
        if path.is_empty() {
            continue;
        }
        let to = dest.join(path);
        match &entry.node {
            Node::Dir => {
                std::fs::create_dir_all(&to).map_err(w(&to))?;
                dirs.push((to.clone(), entry.meta.mode));
            }
            Node::File(data) => {
                let mut out = std::fs::File::create(&to).map_err(w(&to))?;
                std::io::copy(&mut data.reader(), &mut out).map_err(w(&to))?;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(entry.meta.mode))
                    .map_err(w(&to))?;
            }
            Node::Symlink(target) => {
                std::os::unix::fs::symlink(target, &to).map_err(w(&to))?;
            }
            Node::Hardlink(target) => {
                // its target may sort after it: linked once every file exists
                links.push((dest.join(target), to));
                continue;
            }
        }
        if root {
            std::os::unix::fs::lchown(&to, Some(entry.meta.uid), Some(entry.meta.gid))
                .map_err(w(&to))?;
        }
    }
    for (from, to) in links {
        std::fs::hard_link(&from, &to).map_err(w(&to))?;
    }
    for (dir, mode) in dirs.into_iter().rev() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).map_err(w(&dir))?;
    }
    Ok(())
}

/// Whether this process runs as root (owners can then be applied): `/proc/self` is owned by
/// the process's effective uid.
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_fs::{Meta, Node, Tree};

    #[test]
    fn tree_is_written_with_links_and_modes() {
        let mut t = Tree::new();
        t.insert("usr/bin", Node::Dir, Meta::root(0o755)).unwrap();
        t.insert(
            "usr/bin/tool",
            Node::file(b"#!x".to_vec()),
            Meta::root(0o755),
        )
        .unwrap();
        t.insert("bin", Node::symlink("usr/bin"), Meta::root(0o777))
            .unwrap();
        t.insert(
            "usr/bin/again",
            Node::hardlink("usr/bin/tool"),
            Meta::root(0o755),
        )
        .unwrap();
        t.insert("ro", Node::Dir, Meta::root(0o555)).unwrap();
        t.insert("ro/f", Node::file(b"x".to_vec()), Meta::root(0o444))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_tree(&t, dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("bin/tool")).unwrap(), b"#!x");
        let m = std::fs::metadata(dir.path().join("usr/bin/tool")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o755);
        assert_eq!(std::os::unix::fs::MetadataExt::nlink(&m), 2);
        assert_eq!(
            std::fs::read_link(dir.path().join("bin")).unwrap(),
            Path::new("usr/bin")
        );
        let m = std::fs::metadata(dir.path().join("ro")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o555);
        // let the temporary directory be removed
        std::fs::set_permissions(
            dir.path().join("ro"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
}
