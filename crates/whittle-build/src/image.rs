//! From the assembled tree to an image: the config's accounts and `paths`, the OCI image config,
//! and the SPDX SBOM.

use crate::Error;
use crate::assemble::{self, Group, User};
use std::path::{Path, PathBuf};
use whittle_config::{Config, PathKind, PathSpec};
use whittle_fs::{Meta, Node, Tree};
use whittle_oci::{ContainerConfig, History, Image, ImageConfig, ImageLayer};

/// Writes `/etc/passwd`, `/etc/group` and home directories from `accounts`.
pub fn apply_accounts(tree: &mut Tree, config: &Config) -> Result<(), Error> {
    let users: Vec<User> = config
        .accounts
        .users
        .iter()
        .map(|u| User {
            name: u.username.clone(),
            uid: u.uid,
            gid: u.gid,
            home: u.homedir.clone(),
            shell: u.shell.clone(),
        })
        .collect();
    let groups: Vec<Group> = config
        .accounts
        .groups
        .iter()
        .map(|g| Group {
            name: g.groupname.clone(),
            gid: g.gid,
            members: g.members.clone(),
        })
        .collect();
    assemble::write_accounts(tree, &users, &groups)
}

/// Applies the `paths` entries in order, then writes `os-release` (as apko does, after paths).
/// `local` sources are read only from the config's directory tree or an `allowed` root
/// ([`whittle_config::confine_local_source`], checked again when the files are read).
pub fn apply_paths(tree: &mut Tree, config: &Config, allowed: &[PathBuf]) -> Result<(), Error> {
    for spec in &config.paths {
        apply_path(tree, spec, &config.base_dir, allowed).map_err(|message| Error::Path {
            origin: config.origin.clone(),
            line: spec.pos.line,
            column: spec.pos.column,
            path: spec.path.clone(),
            message,
        })?;
    }
    if let Some(os) = &config.os_release {
        apply_os_release(tree, os)?;
    }
    Ok(())
}

/// Writes `/etc/os-release` from the config's `os-release` (replacing a package's file or
/// symlink; a package's `/usr/lib/os-release` is left as it is), and
/// `/etc/<id>-release` with the version when both `id` and `version-id` are given (apko does
/// both).
pub fn apply_os_release(tree: &mut Tree, os: &whittle_config::OsRelease) -> Result<(), Error> {
    // a symlink (`-> ../usr/lib/os-release`): replace the link itself, never write through it
    // into a file a package owns
    if matches!(
        tree.get("etc/os-release").map(|e| &e.node),
        Some(Node::Symlink(_))
    ) {
        tree.remove("etc/os-release")?;
    }
    tree.insert(
        "etc/os-release",
        Node::file(os.to_file().into_bytes()),
        Meta::root(0o644),
    )?;
    if let (Some(id), Some(version)) = (&os.id, &os.version_id) {
        tree.insert(
            &format!("etc/{id}-release"),
            Node::file(format!("{version}\n").into_bytes()),
            Meta::root(0o644),
        )?;
    }
    Ok(())
}

fn apply_path(
    tree: &mut Tree,
    spec: &PathSpec,
    base_dir: &Path,
    allowed: &[PathBuf],
) -> Result<(), String> {
    let path = assemble::tree_path(&spec.path).map_err(|e| e.to_string())?;
    let meta = |default: u32| Meta::new(spec.permissions.unwrap_or(default), spec.uid, spec.gid);
    let fs = |e: whittle_fs::Error| e.to_string();
    match &spec.kind {
        PathKind::Directory => {
            tree.insert(&path, Node::Dir, meta(0o755)).map_err(fs)?;
            if spec.recursive {
                tree.chown(&path, spec.uid, spec.gid, true).map_err(fs)?;
            }
        }
        PathKind::EmptyFile => {
            tree.insert(&path, Node::file(Vec::new()), meta(0o644))
                .map_err(fs)?;
        }
        PathKind::Symlink { target } => {
            tree.insert(
                &path,
                Node::symlink(target.clone()),
                Meta::new(0o777, spec.uid, spec.gid),
            )
            .map_err(fs)?;
        }
        PathKind::Hardlink { target } => {
            let t = assemble::tree_path(target).map_err(|e| e.to_string())?;
            match tree.get(&t) {
                Some(e) if matches!(e.node, Node::File(_)) => {}
                Some(_) => return Err(format!("hardlink source {target} is not a regular file")),
                None => {
                    return Err(format!(
                        "hardlink source {target} does not exist in the image; link to a file a package or an earlier paths entry provides"
                    ));
                }
            }
            let real = tree.real_path(&t).map_err(fs)?;
            tree.insert(&path, Node::hardlink(real), meta(0o644))
                .map_err(fs)?;
        }
        PathKind::Permissions => {
            if tree.get(&path).is_none() {
                return Err(
                    "permissions: the path does not exist in the image; create it first with a directory, empty-file or local entry".into(),
                );
            }
            if let Some(mode) = spec.permissions {
                tree.chmod(&path, mode, spec.recursive).map_err(fs)?;
            }
            tree.chown(&path, spec.uid, spec.gid, spec.recursive)
                .map_err(fs)?;
        }
        PathKind::Local { source } => {
            let (real, _) = whittle_config::confine_local_source(source, base_dir, allowed)?;
            copy_local(tree, &path, &real, spec)?;
        }
    }
    Ok(())
}

/// Copies a host file or directory (recursively, sorted) into the tree.
fn copy_local(tree: &mut Tree, dest: &str, src: &Path, spec: &PathSpec) -> Result<(), String> {
    let md = std::fs::symlink_metadata(src)
        .map_err(|e| format!("local source {}: {e}", src.display()))?;
    let fs = |e: whittle_fs::Error| e.to_string();
    use std::os::unix::fs::PermissionsExt;
    let host_mode = md.permissions().mode();
    let mode = |dir: bool| {
        spec.permissions
            .unwrap_or(if dir || host_mode & 0o111 != 0 {
                0o755
            } else {
                0o644
            })
    };
    if md.file_type().is_symlink() {
        let target = std::fs::read_link(src).map_err(|e| format!("{}: {e}", src.display()))?;
        tree.insert(
            dest,
            Node::symlink(target.to_string_lossy().into_owned()),
            Meta::new(0o777, spec.uid, spec.gid),
        )
        .map_err(fs)?;
    } else if md.is_dir() {
        tree.insert(dest, Node::Dir, Meta::new(mode(true), spec.uid, spec.gid))
            .map_err(fs)?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(|e| format!("{}: {e}", src.display()))?
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        for name in entries {
            let name_s = name.to_string_lossy();
            let child_dest = format!("{dest}/{name_s}");
            let child_spec = PathSpec {
                permissions: if spec.recursive {
                    spec.permissions
                } else {
                    None
                },
                ..spec.clone()
            };
            copy_local(tree, &child_dest, &src.join(&name), &child_spec)?;
        }
    } else if md.is_file() {
        // bounded before anything is read: the tree refuses more than this anyway
        if md.len() > crate::MAX_IMAGE_BYTES {
            return Err(format!(
                "local source {} is {} bytes, more than an image may hold ({} bytes)",
                src.display(),
                md.len(),
                crate::MAX_IMAGE_BYTES
            ));
        }
        let data = std::fs::File::open(src)
            .and_then(|f| {
                use std::io::Read;
                let mut f = f.take(md.len());
                if md.len() >= whittle_fs::INLINE_MAX {
                    // large: kept in the spill file, not in memory
                    return crate::spill()?.append(&mut f, md.len());
                }
                let mut data = Vec::new();
                f.read_to_end(&mut data)?;
                Ok(whittle_fs::FileData::inline(data))
            })
            .map_err(|e| format!("{}: {e}", src.display()))?;
        tree.insert(
            dest,
            Node::file(data),
            Meta::new(mode(false), spec.uid, spec.gid),
        )
        .map_err(fs)?;
    } else {
        return Err(format!(
            "local source {} is not a file, directory or symlink",
            src.display()
        ));
    }
    Ok(())
}

/// What the image history says of a layer of what no package owns (the layered image's top
/// layer; on a base image, a layer without packages).
pub const TOP_LAYER: &str = "whittle build: files no package owns (directories, accounts, paths, OS and native files, package databases)";

/// What the image history says of a layer holding `packages` of `format` (`Debian`, `APK`).
pub fn created_by(format: &str, packages: &[String]) -> String {
    format!(
        "whittle build: {} {format} packages ({})",
        packages.len(),
        packages.join(" ")
    )
}

/// The OCI image for one architecture: entrypoint, cmd, env, user, workdir, labels; `layers`
/// bottom first, each with what its history entry says made it (see [`created_by`]).
pub fn image(
    config: &Config,
    arch: &str,
    mtime: u64,
    layers: Vec<(ImageLayer, String)>,
) -> Result<Image, Error> {
    let a = whittle_config::Arch::parse(arch)
        .ok_or_else(|| Error::Unsupported(format!("unknown architecture {arch}")))?;
    let created = whittle_oci::rfc3339(mtime);
    let mut env: Vec<String> = Vec::new();
    if !config.environment.contains_key("PATH") {
        env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    env.extend(config.environment.iter().map(|(k, v)| format!("{k}={v}")));
    env.sort();
    let cfg = ImageConfig {
        created: Some(created.clone()),
        author: None,
        architecture: a.oci_architecture().to_string(),
        os: "linux".into(),
        variant: a.oci_variant().map(str::to_string),
        config: ContainerConfig {
            user: config.accounts.run_as.as_ref().map(|r| r.oci_user()),
            env,
            entrypoint: config.entrypoint.clone(),
            cmd: config.cmd.clone(),
            working_dir: config.work_dir.clone(),
            labels: config.annotations.clone(),
            volumes: config.volumes.iter().cloned().collect(),
            stop_signal: config.stop_signal.clone(),
            ..Default::default()
        },
        rootfs: Default::default(),
        history: layers
            .iter()
            .map(|(_, by)| History {
                created: Some(created.clone()),
                created_by: Some(by.clone()),
                comment: Some("whittle".into()),
                ..Default::default()
            })
            .collect(),
    };
    let layers = layers.into_iter().map(|(l, _)| l).collect();
    let mut img = Image::new(cfg, layers);
    img.annotations = config.annotations.clone();
    Ok(img)
}

/// The largest os-release file read.
const MAX_OS_RELEASE: u64 = 1 << 20;

/// `KEY=value` from an os-release file in the tree.
fn os_release_field(tree: &Tree, key: &str) -> Option<String> {
    let entry = tree
        .get("etc/os-release")
        .and_then(|e| match &e.node {
            Node::Symlink(_) => tree.get("usr/lib/os-release"),
            _ => Some(e),
        })
        .or_else(|| tree.get("usr/lib/os-release"))?;
    let Node::File(data) = &entry.node else {
        return None;
    };
    let data = data.bytes_at_most(MAX_OS_RELEASE)?;
    let text = std::str::from_utf8(&data).ok()?;
    text.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim_matches('"').to_string())
    })
}

/// `(ID, ID-VERSION_ID)` from the image's os-release, with `default_id` when it has none.
pub fn distro(tree: &Tree, default_id: &str) -> (String, String) {
    let id = os_release_field(tree, "ID").unwrap_or_else(|| default_id.into());
    let release = os_release_field(tree, "VERSION_ID")
        .map(|v| format!("{id}-{v}"))
        .unwrap_or_default();
    (id, release)
}

/// What the build knows of a package archive: its SHA-256 and the URL it came from (kept only
/// when it is a `http(s)` or `ftp` URL, without user information: a local repository's path
/// says nothing to a reader elsewhere, and SPDX allows no `file:` download location).
pub fn archive_facts(sha256: &str, url: &str) -> whittle_catalog::sbom::Archive {
    let url = url.trim();
    let url = ["https://", "http://", "ftp://"]
        .iter()
        .find_map(|scheme| {
            let rest = url.strip_prefix(scheme)?;
            // `user:password@host/…`: credentials never go into an SBOM
            let (auth, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
            (!host.is_empty()).then(|| format!("{scheme}{host}/{path}"))
        })
        .filter(|u| !u.chars().any(|c| c.is_whitespace() || c.is_control()));
    whittle_catalog::sbom::Archive {
        sha256: Some(sha256.to_ascii_lowercase())
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        url,
    }
}

/// The SPDX 2.3 JSON SBOM of one image: its packages as `whittle sbom` reads them from an
/// image (the same catalog over the assembled tree: packages, purls, licences, sources,
/// dependencies, the OS), with what the build alone knows: each archive's SHA-256 and URL
/// (`archives`, by `(name, version, arch)`) and the manifest digest.
pub fn sbom(
    config: &Config,
    arch: &str,
    mtime: u64,
    img: &Image,
    tree: &Tree,
    archives: std::collections::BTreeMap<(String, String, String), whittle_catalog::sbom::Archive>,
) -> Result<Vec<u8>, Error> {
    let sbom_err = |message: String| Error::Sbom {
        path: String::new(),
        message,
    };
    let digest = img
        .serialize()
        .map_err(|e| sbom_err(e.to_string()))?
        .manifest
        .descriptor()
        .digest;
    let name = config
        .annotations
        .get("org.opencontainers.image.title")
        .cloned()
        .unwrap_or_else(|| {
            Path::new(&config.origin)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into())
        });
    // the catalog reads only a few small files: only those are read (from disk when kept there)
    let mut files: Vec<(&str, std::borrow::Cow<'_, [u8]>)> = Vec::new();
    let mut links: Vec<(&str, &str)> = Vec::new();
    for (path, entry) in tree.walk() {
        let data = match &entry.node {
            Node::Symlink(t) => {
                links.push((path, t));
                continue;
            }
            Node::File(d) => d,
            Node::Hardlink(t) => match tree.get(t).map(|e| &e.node) {
                Some(Node::File(d)) => d,
                _ => continue,
            },
            Node::Dir => continue,
        };
        use whittle_catalog::layers::Want;
        match whittle_catalog::layers::wanted(path) {
            Some(Want::Keep(max)) if data.len() > max => {
                return Err(sbom_err(format!(
                    "{path} is {} bytes, more than the {max}-byte limit: not read",
                    data.len()
                )));
            }
            Some(Want::Keep(max) | Want::KeepSmall(max)) if data.len() <= max => {
                let bytes = data
                    .bytes()
                    .map_err(|e| whittle_fs::Error::content(path, e))?;
                files.push((path, bytes));
            }
            _ => {}
        }
    }
    let cat = whittle_catalog::catalog_entries(
        files
            .iter()
            .map(|(p, d)| (*p, whittle_catalog::TreeEntry::File(d)))
            .chain(
                links
                    .iter()
                    .map(|(p, t)| (*p, whittle_catalog::TreeEntry::Symlink(t))),
            ),
    );
    if let Some(f) = cat.findings.first() {
        return Err(sbom_err(f.message.clone()));
    }
    let input = whittle_catalog::sbom::image_sbom_input(
        &cat,
        &whittle_catalog::sbom::ImageFacts {
            name: format!("{name} ({arch})"),
            seed: digest.clone(),
            digest: Some(digest),
            epoch: mtime,
            tool: concat!("whittle-", env!("CARGO_PKG_VERSION")).into(),
            archives,
        },
    );
    whittle_sbom::to_spdx_json(&input).map_err(|e| sbom_err(e.to_string()))
}

#[cfg(test)]
mod sbom_tests {
    use super::archive_facts;

    #[test]
    fn archive_urls_lose_credentials_and_local_paths() {
        let h = "AB".repeat(32);
        let a = archive_facts(
            &h,
            "https://u:p@mirror.example/debian/pool/g/gawk_1_amd64.deb",
        );
        assert_eq!(a.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(
            a.url.as_deref(),
            Some("https://mirror.example/debian/pool/g/gawk_1_amd64.deb")
        );
        assert_eq!(archive_facts(&h, "file:///srv/repo/x.deb").url, None);
        assert_eq!(archive_facts(&h, "/srv/repo/x.apk").url, None);
        assert_eq!(archive_facts("zz", "http:///x").sha256, None);
        assert_eq!(archive_facts("zz", "http:///x").url, None);
    }
}
