//! The build pipeline, one step per module, in the order data flows:
//! config → [`source`] (Debian: [`debian`], [`assemble`]; APK: [`apk`]: resolve, fetch, install)
//! → OS files, accounts, `paths`, [`native`] → [`layers`] (or [`layering`]) → [`image`] → sink.
//! On a base image ([`base`]) the source installs into the base's tree and the layers hold
//! what differs from it, on top of the base's own.
//!
//! [`build`] runs it for every architecture of a config and writes the image(s) and SBOM(s).

pub mod apk;
pub mod assemble;
pub mod base;
pub mod debian;
pub mod elf;
pub mod etcfiles;
pub mod freshness;
pub mod image;
pub mod layering;
pub mod layers;
pub mod ldcache;
pub mod lock;
pub mod memory;
pub mod native;
pub mod osfiles;
pub mod rootfs;
pub mod source;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use whittle_config::{Config, Repository};
use whittle_fetch::{Cache, Fetcher};
use whittle_resolve::lock::LockPackage;

/// Errors of a build, each naming what it is about and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file is invalid.
    #[error("{0}")]
    Config(#[from] whittle_config::ConfigError),
    /// A repository line could not be used.
    #[error("repository `{line}`: {message}")]
    Repository {
        /// The line as written.
        line: String,
        /// What went wrong.
        message: String,
    },
    /// The repository's signed index (InRelease, APKINDEX) was refused.
    #[error(
        "repository `{line}`: {message}\nthe repository index is not trusted, so nothing from it is used; check the keys given by {keys}"
    )]
    Signature {
        /// The line as written.
        line: String,
        /// What went wrong.
        message: String,
        /// Where the repository's keys are configured (`signed-by=`, `contents.keyring`).
        keys: &'static str,
    },
    /// The repository's Release is older than one accepted before (see [`freshness`]).
    #[error(
        "repository `{line}`: {url} is dated {date}, older than the Release this machine already accepted for this repository (dated {newest}, signed by key {key}); the mirror serves an old Release: it is stale, or an old Release is being replayed to keep packages from being updated. Use an up-to-date mirror; to go back on purpose (e.g. an older snapshot at the same URI), add `allow-older-release=yes` to the repository's options (`deb [allow-older-release=yes signed-by=...] URI SUITE COMPONENT`)"
    )]
    OlderRelease {
        /// The line as written.
        line: String,
        /// The InRelease URL.
        url: String,
        /// Its `Date` (RFC 3339).
        date: String,
        /// The newest `Date` accepted before (RFC 3339).
        newest: String,
        /// The fingerprint of the key that signed that Release.
        key: String,
    },
    /// Dependency resolution failed.
    #[error("cannot resolve the packages for {arch}:\n{source}")]
    Resolve {
        /// The architecture.
        arch: String,
        /// The solver's explanation.
        source: whittle_resolve::ResolveError,
    },
    /// Downloading or the cache failed.
    #[error(transparent)]
    Fetch(#[from] whittle_fetch::Error),
    /// A package could not be unpacked.
    #[error("package {package}: {message}")]
    Package {
        /// The package.
        package: String,
        /// What went wrong.
        message: String,
    },
    /// A `paths` entry of the config could not be applied.
    #[error("{origin}:{line}:{column}: paths entry {path}: {message}")]
    Path {
        /// The config file.
        origin: String,
        /// Line of the entry.
        line: u64,
        /// Column of the entry.
        column: u64,
        /// The image path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The filesystem tree refused an operation.
    #[error("image filesystem: {0}")]
    Fs(#[from] whittle_fs::Error),
    /// Writing the image failed.
    #[error("writing the image: {0}")]
    Oci(#[from] whittle_oci::Error),
    /// Pushing the image to a registry failed.
    #[error("pushing the image: {0}")]
    Registry(#[from] whittle_registry::Error),
    /// Something the config asks for is not supported yet.
    #[error("{0}")]
    Unsupported(String),
    /// A setting from the environment is invalid.
    #[error("{0}")]
    Setting(String),
    /// An account field would break `/etc/passwd` or `/etc/group` into other fields or lines.
    #[error(
        "account `{account}`: {field} `{value}` contains `:`, `,`, a line break or another control character; write a plain value"
    )]
    AccountField {
        /// The user or group.
        account: String,
        /// The field (`home`, `shell`, `member`, …).
        field: &'static str,
        /// The value, escaped and shortened.
        value: String,
    },
    /// The lock beside the config cannot be used.
    #[error("{0}")]
    Lock(String),
    /// The base image (`contents.baseimage`) cannot be used.
    #[error("{at}: base image {image}: {message}")]
    Base {
        /// Where the config names it (`FILE:LINE:COLUMN`).
        at: String,
        /// The reference as written.
        image: String,
        /// What went wrong.
        message: String,
    },
    /// Writing the SBOM failed.
    #[error("writing the SBOM {path}: {message}")]
    Sbom {
        /// The SBOM file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// The most file content one image may hold: packages are untrusted input, and a closure that
/// unpacks to more than this is refused with a clear error instead of filling the disk. Memory
/// does not grow with it: files of [`whittle_fs::INLINE_MAX`] bytes or more stay on disk (the
/// cache's decompressed package data, or [`spill`]).
pub const MAX_IMAGE_BYTES: u64 = 64 << 30;

/// The process's spill file ([`whittle_fs::Spill`], an anonymous file made on first use in the
/// directory [`spill_in`] named, else in the system's temporary directory): where large
/// contents that have no other copy on disk are kept (a base image's layers and files, local
/// files an image copies in, an APK's large files).
pub(crate) fn spill() -> std::io::Result<whittle_fs::Spill> {
    static SPILL: std::sync::Mutex<Option<whittle_fs::Spill>> = std::sync::Mutex::new(None);
    let mut held = SPILL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = &*held {
        return Ok(s.clone());
    }
    let hint = SPILL_DIR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let s = match hint.map(|d| whittle_fs::Spill::new_in(&d)) {
        Some(Ok(s)) => s,
        _ => whittle_fs::Spill::new_in(&std::env::temp_dir())?,
    };
    *held = Some(s.clone());
    Ok(s)
}

/// Where [`spill`] makes its file, once a build named its cache.
static SPILL_DIR: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// Makes [`spill`] keep its file in `cache`'s `tmp/` when the cache is writable: on the
/// cache's disk, which holds the package data anyway (the system's temporary directory can be a
/// tmpfs, that is, memory).
pub(crate) fn spill_in(cache: &Cache) {
    if cache.writable() {
        *SPILL_DIR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cache.root().join("tmp"));
    }
}

/// Raises this process's soft limit of open files to its hard limit, once. An image's large
/// files are handles into files on disk ([`whittle_fs::FileData`]): one open file per package
/// that ships one (its decompressed data archive), per layer and per spill file, all held while
/// the image is built. The usual soft limit (1024) is less than an image of a thousand packages
/// holds; the hard limit is what the system allows the process (as Go's runtime does).
pub(crate) fn allow_open_files() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit(2) writes the struct passed by reference.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
            return;
        }
        // a hard limit of "unlimited" is not a number Linux takes for open files: its default
        // most (`fs.nr_open`) is
        let want = r.rlim_max.min(1 << 20);
        if r.rlim_cur < want {
            r.rlim_cur = want;
            // SAFETY: setrlimit(2) reads the struct passed by reference; a refusal leaves the
            // limit as it was.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
        }
    });
}

/// An empty image tree bounded by [`MAX_IMAGE_BYTES`].
pub(crate) fn image_tree() -> whittle_fs::Tree {
    whittle_fs::Tree::new().with_size_limit(MAX_IMAGE_BYTES)
}

/// Where the SBOM goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SbomDest {
    /// No SBOM.
    None,
    /// Beside the output: `DEST.spdx.json` (one arch) or `DEST.<arch>.spdx.json`.
    Beside,
    /// This file (with `.<arch>` inserted before `.spdx.json` when there are several archs).
    File(PathBuf),
}

/// Everything a build needs besides the config file's content.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The config file.
    pub config: PathBuf,
    /// The destination.
    pub output: whittle_oci::ImageRef,
    /// The package cache directory.
    pub cache_dir: PathBuf,
    /// Use only the cache.
    pub offline: bool,
    /// Override the config's architectures.
    pub archs: Vec<String>,
    /// Fixed timestamp; `None` means the newest package file time.
    pub source_date_epoch: Option<u64>,
    /// Where the SBOM goes.
    pub sbom: SbomDest,
    /// Accept unsigned repositories (loudly).
    pub insecure_allow_unsigned_repositories: bool,
    /// Host directories outside the config's own directory that `paths` `local` sources may be
    /// read from (`--allow-path`); each such read is warned about.
    pub allow_paths: Vec<PathBuf>,
    /// Resolve afresh even when a lock lies beside the config (`--ignore-lock`).
    pub ignore_lock: bool,
    /// Use this lockfile instead of the one beside the config (`--lockfile`, apko's flag).
    pub lock_file: Option<PathBuf>,
    /// The file `whittle lock` takes when it is not `config` (a recipe whose `environment:`
    /// is `config`): the lock's messages and refresh command name it.
    pub lock_made_from: Option<PathBuf>,
    /// What apko's `-k`/`-r`/`-b`/`-p`/`--annotations` flags add to the config (relative paths
    /// against the current directory).
    pub append: whittle_config::Append,
    /// The layers' codec, over the config's `layer-compression` (`--layer-compression`).
    pub layer_compression: Option<whittle_config::LayerCompression>,
}

/// What the CLI shows while a build runs.
pub trait Events: whittle_fetch::Progress {
    /// A step of the build started or finished.
    fn step(&self, msg: &str);
    /// Something the user should know.
    fn warn(&self, msg: &str);
}

/// One built image.
#[derive(Debug, Clone)]
pub struct ImageReport {
    /// Debian architecture name.
    pub arch: String,
    /// The manifest digest.
    pub manifest_digest: String,
    /// Number of packages installed.
    pub packages: usize,
    /// Size of the compressed layer(s).
    pub compressed_size: u64,
    /// The unpacked size: bytes of the regular files of the image's tree, each hard-linked file
    /// once ([`whittle_fs::Tree::total_size`]), the figure `whittle inspect` and `compare` print
    /// (not the tar's length, which adds headers and padding).
    pub unpacked_size: u64,
    /// Its SPDX SBOM as the build made it (none when no SBOM was asked for): what `--sign-key`
    /// attests, never a copy read back from where it was stored.
    pub sbom: Option<Vec<u8>>,
    /// Its config's `created` time (RFC 3339), as the build wrote it.
    pub created: Option<String>,
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// What the output's index points to (the manifest, or the image index for several archs).
    pub digest: String,
    /// One entry per architecture.
    pub images: Vec<ImageReport>,
    /// SBOM files written.
    pub sboms: Vec<PathBuf>,
    /// Where the lock the build used says each package comes from, by lowercase SHA-256
    /// ([`lock::Locked::downloads`]); empty without a lock.
    pub lock_downloads: std::collections::BTreeMap<String, String>,
}

/// Runs the whole pipeline.
pub fn build(opts: &BuildOptions, events: &dyn Events) -> Result<BuildReport, Error> {
    allow_open_files();
    let mut config = Config::from_file(&opts.config)?;
    if !opts.append.is_empty() {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::Unsupported(format!("the current directory: {e}")))?;
        config.append(&opts.append, &cwd)?;
    }
    if let Some(c) = opts.layer_compression {
        config.layer_compression = c;
    }
    // the compressor's fingerprint (part of every layer's cache key) on an idle core meanwhile
    layers::prepare(config.layer_compression);
    let file_warnings = config.check_files(&opts.allow_paths)?;
    for w in config.warnings.iter().chain(&file_warnings) {
        let at = match w.pos {
            Some(p) if p.is_known() => format!("{}:{}:{}", w.origin, p.line, p.column),
            _ => w.origin.clone(),
        };
        events.warn(&format!("{at}: {}", w.message));
    }
    let archs = select_archs(&config, &opts.archs)?;
    let source = if apk::is_apk(&config)? {
        source::Source::Apk
    } else {
        source::Source::Debian(debian_repos(
            &config,
            opts.insecure_allow_unsigned_repositories,
        )?)
    };
    let locked = if opts.ignore_lock {
        None
    } else {
        // (as a lock names each repository, where it is fetched from)
        let urls: Vec<(String, String)> = match &source {
            source::Source::Apk => apk::repo_urls(&config),
            source::Source::Debian(repos) => repos
                .iter()
                .map(|r| (r.lock_uri.clone(), r.uri.clone()))
                .collect(),
        };
        lock::Locked::beside(
            &opts.config,
            opts.lock_made_from.as_deref(),
            opts.lock_file.as_deref(),
            &urls,
            opts.append.changes_resolution(),
            events,
        )?
    };
    let fetcher = Fetcher::new(Cache::open(&opts.cache_dir)?, opts.offline);
    clean_stale(fetcher.cache(), &opts.output, events);
    spill_in(fetcher.cache());

    let mut images = Vec::new();
    let mut reports = Vec::new();
    let mut sbom_docs = Vec::new();
    for arch in &archs {
        let built = build_arch(
            &config,
            opts,
            &source,
            arch,
            &fetcher,
            events,
            locked.as_ref(),
        );
        cache_warnings(fetcher.cache(), events);
        let built = built?;
        reports.push(ImageReport {
            arch: arch.clone(),
            manifest_digest: String::new(),
            packages: built.packages,
            compressed_size: built.image.layers.iter().map(|l| l.size).sum(),
            unpacked_size: built.unpacked_size,
            sbom: (opts.sbom != SbomDest::None).then(|| built.sbom.clone()),
            created: built.image.config.created.clone(),
        });
        sbom_docs.push(built.sbom);
        images.push(built.image);
    }
    let digest = if let whittle_oci::ImageRef::Docker(dest) = &opts.output {
        // Registry sink: the SBOMs travel with the image (referrers or `sha256-<hex>.sbom` tags).
        events.step(&format!("push      {}", opts.output));
        let attach: &[Vec<u8>] = if opts.sbom == SbomDest::None {
            &[]
        } else {
            &sbom_docs
        };
        // a base image in the same registry: its layers are mounted, not uploaded
        let mount_from = config.contents.base_image.as_ref().and_then(|b| {
            match whittle_oci::ImageRef::parse(&b.resolved) {
                Ok(whittle_oci::ImageRef::Docker(r)) if r.registry == dest.registry => {
                    Some(r.repository)
                }
                _ => None,
            }
        });
        let pushed = whittle_registry::push_from(
            &images,
            dest,
            attach,
            mount_from.as_deref(),
            &whittle_registry::Options::from_env(),
        )?;
        events.step(&format!(
            "pushed    {} blobs uploaded ({:.1} MB), {} already there, {} mounted, {} SBOM(s) attached",
            pushed.uploaded,
            pushed.bytes_uploaded as f64 / 1e6,
            pushed.skipped,
            pushed.mounted,
            pushed.sboms.len()
        ));
        for (r, d) in reports.iter_mut().zip(&pushed.manifests) {
            r.manifest_digest = d.clone();
        }
        pushed.digest
    } else {
        events.step(&format!("write     {}", opts.output));
        let written = whittle_oci::write(&images, &opts.output)?;
        for (r, d) in reports.iter_mut().zip(&written.manifests) {
            r.manifest_digest = d.clone();
        }
        written.digest
    };
    let mut sboms = Vec::new();
    for (i, doc) in sbom_docs.into_iter().enumerate() {
        let Some(path) = sbom_path(&opts.sbom, &opts.output, &archs, i) else {
            continue;
        };
        write_atomic(&path, &doc).map_err(|e| Error::Sbom {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        sboms.push(path);
    }
    Ok(BuildReport {
        digest,
        images: reports,
        sboms,
        lock_downloads: locked
            .as_ref()
            .map(lock::Locked::downloads)
            .unwrap_or_default(),
    })
}

/// Shows what the cache has to say (entries dropped as bad, a cache used read-only).
fn cache_warnings(cache: &Cache, events: &dyn Events) {
    for w in cache.take_warnings() {
        events.warn(&w);
    }
}

/// Removes what killed builds left behind, when no live build can still own it: the cache's
/// temporary files (see [`Cache::clean_stale`]) and staging copies of this output (and of its
/// SBOM) beside it that nothing wrote to for [`whittle_fetch::STALE_AFTER`].
fn clean_stale(cache: &Cache, output: &whittle_oci::ImageRef, events: &dyn Events) {
    let (mut files, mut bytes) = cache.clean_stale(whittle_fetch::STALE_AFTER);
    if let whittle_oci::ImageRef::Oci { path, .. }
    | whittle_oci::ImageRef::OciArchive { path, .. }
    | whittle_oci::ImageRef::DockerArchive { path, .. } = output
    {
        let (f, b) = clean_staging(path, whittle_fetch::STALE_AFTER);
        files += f;
        bytes += b;
    }
    cache_warnings(cache, events);
    if files > 0 {
        events.step(&format!(
            "clean     removed {files} temporary files and directories left by interrupted builds ({:.1} MB)",
            bytes as f64 / 1e6
        ));
    }
}

/// Removes the staging copies `whittle_oci` makes beside `dest` (`.NAME.whittle-*`, for the
/// output and for its SBOM `NAME.spdx.json`) whose newest file is older than `older_than`;
/// returns how many and their bytes.
pub fn clean_staging(dest: &Path, older_than: std::time::Duration) -> (usize, u64) {
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return (0, 0);
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let name = name.to_string_lossy();
    let stem = dest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefixes = [
        format!(".{name}.whittle-"),
        format!(".{stem}.spdx.json.whittle-"),
    ];
    let Ok(dir) = std::fs::read_dir(parent) else {
        return (0, 0);
    };
    let now = std::time::SystemTime::now();
    let mut removed = (0, 0);
    for entry in dir.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if !prefixes.iter().any(|p| file_name.starts_with(p.as_str())) {
            continue;
        }
        let path = entry.path();
        let Some((newest, bytes)) = newest_and_size(&path) else {
            continue;
        };
        if now.duration_since(newest).is_ok_and(|age| age > older_than) {
            let gone = if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if gone.is_ok() {
                removed.0 += 1;
                removed.1 += bytes;
            }
        }
    }
    removed
}

/// The newest modification time under `path` (itself included, symlinks not followed) and the
/// bytes of its files; `None` when it cannot be read whole (then it is left alone).
fn newest_and_size(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let mut newest = std::time::UNIX_EPOCH;
    let mut bytes = 0;
    let mut todo = vec![path.to_path_buf()];
    let mut seen = 0usize;
    while let Some(p) = todo.pop() {
        seen += 1;
        if seen > 1_000_000 {
            return None;
        }
        let meta = std::fs::symlink_metadata(&p).ok()?;
        newest = newest.max(meta.modified().ok()?);
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).ok()? {
                todo.push(e.ok()?.path());
            }
        } else {
            bytes += meta.len();
        }
    }
    Some((newest, bytes))
}

fn select_archs(config: &Config, given: &[String]) -> Result<Vec<String>, Error> {
    if given.is_empty() {
        return Ok(config
            .archs
            .iter()
            .map(|a| a.debian().to_string())
            .collect());
    }
    given
        .iter()
        .map(|a| {
            whittle_config::Arch::parse(a)
                .map(|a| a.debian().to_string())
                .ok_or_else(|| {
                    Error::Unsupported(format!(
                        "--arch {a}: unknown architecture; use amd64, arm64, armhf, i386, ppc64el, s390x or riscv64"
                    ))
                })
        })
        .collect()
}

/// The Debian repositories of the config, `host:` aliases resolved, keyrings attached.
fn debian_repos(config: &Config, insecure: bool) -> Result<Vec<debian::DebRepo>, Error> {
    let mut out = Vec::new();
    let extra_keyrings: Vec<PathBuf> = config
        .contents
        .keyring
        .iter()
        .map(|k| match &k.source {
            whittle_config::KeyringSource::File(p) => Ok(p.resolved.clone()),
            whittle_config::KeyringSource::Url(u) => Err(Error::Unsupported(format!(
                "{}:{}:{}: keyring URL {u}: only local keyring files are supported for Debian repositories; download it and give its path",
                config.origin, k.pos.line, k.pos.column
            ))),
        })
        .collect::<Result<_, _>>()?;
    for repo in &config.contents.repositories {
        match repo {
            Repository::Deb(d) => {
                let at = format!("{}:{}:{}", config.origin, d.pos.line, d.pos.column);
                if d.trusted && !insecure {
                    return Err(Error::Repository {
                        line: d.written.clone(),
                        message: format!(
                            "{at}: [trusted=yes] turns off signature checks; remove it and give [signed-by=KEYRING], or pass --insecure-allow-unsigned-repositories"
                        ),
                    });
                }
                if d.is_flat() {
                    return Err(Error::Unsupported(format!(
                        "{at}: flat repositories (suite ending in /) are not supported yet"
                    )));
                }
                let uri = if d.is_host_alias() {
                    whittle_config::host_mirror::resolve(&d.uri).map_err(|e| Error::Repository {
                        line: d.written.clone(),
                        message: format!("{at}: {e}"),
                    })?
                } else {
                    d.uri.clone()
                };
                let mut keyrings: Vec<PathBuf> =
                    d.signed_by.iter().map(|p| p.resolved.clone()).collect();
                if keyrings.is_empty() {
                    keyrings = extra_keyrings.clone();
                }
                out.push(debian::DebRepo {
                    line: d.written.clone(),
                    uri: uri.trim_end_matches('/').to_string(),
                    lock_uri: d.uri.trim_end_matches('/').to_string(),
                    suite: d.suite.clone(),
                    components: d.components.clone(),
                    keyrings,
                    check_date: d.check_date,
                    check_valid_until: d.check_valid_until,
                    allow_older_release: d.allow_older_release,
                });
            }
            Repository::Apk(a) => {
                // `apk::is_apk` sends APK configs elsewhere; a mix is refused
                return Err(Error::Unsupported(format!(
                    "{}:{}:{}: APK repository {} next to Debian ones: an image is built from one package format",
                    config.origin, a.pos.line, a.pos.column, a.url
                )));
            }
        }
    }
    if out.is_empty() && !config.contents.packages.is_empty() {
        return Err(Error::Unsupported(format!(
            "{}: contents.packages is set but contents.repositories lists no repository",
            config.origin
        )));
    }
    Ok(out)
}

/// The result of building one architecture.
pub(crate) struct BuiltArch {
    pub(crate) image: whittle_oci::Image,
    pub(crate) packages: usize,
    pub(crate) unpacked_size: u64,
    pub(crate) sbom: Vec<u8>,
}

/// Builds one architecture: the package source installs the packages into a tree, then the
/// steps every format shares: OS files, accounts, `paths`, what scripts would have done, the
/// layer(s), the image and its SBOM.
fn build_arch(
    config: &Config,
    opts: &BuildOptions,
    source: &source::Source,
    arch: &str,
    fetcher: &Fetcher,
    events: &dyn Events,
    locked: Option<&lock::Locked>,
) -> Result<BuiltArch, Error> {
    let base = base::open(config, arch)?;
    if let Some(b) = &base {
        events.step(&format!(
            "base      {} {}: {} layers, {} packages installed",
            b.name,
            b.digest,
            b.layers.len(),
            b.package_count()
        ));
    }
    let source::Installed {
        mut tree,
        packages,
        newest_mtime,
        archives,
        alternatives,
        os,
        format,
        left_out,
    } = source.install(config, opts, (arch, base.as_ref()), fetcher, events, locked)?;
    os_files(&mut tree, os, events)?;
    image::apply_accounts(&mut tree, config)?;
    image::apply_paths(&mut tree, config, &opts.allow_paths)?;
    // after `paths`: a link or certificate the config adds is taken into account
    native::apply(&mut tree, &alternatives, events)?;
    // (on a base image, never older than the base; SOURCE_DATE_EPOCH wins)
    let mtime = match (opts.source_date_epoch, &base) {
        (Some(t), _) => t,
        (None, Some(b)) => newest_mtime.max(b.created()?),
        (None, None) => newest_mtime,
    };
    events.step(&format!(
        "assemble  {} entries, {:.2} MB{left_out}, timestamp {mtime}",
        tree.len(),
        tree.total_size() as f64 / 1e6,
    ));

    // layers + image (on a base: of what differs from it)
    let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
    let new_tree = match &base {
        Some(b) => std::borrow::Cow::Owned(base::diff(&tree, &b.tree)?),
        None => std::borrow::Cow::Borrowed(&tree),
    };
    layering::refuse_package_whiteouts(&packages)?;
    let layers = match config.layering {
        None => vec![(
            layers::layer(&new_tree, mtime, config.layer_compression, fetcher.cache())?,
            if names.is_empty() {
                image::TOP_LAYER.to_string()
            } else {
                image::created_by(format, &names)
            },
        )],
        Some(l) => layered(
            &new_tree,
            &packages,
            (l.budget, config.layer_compression),
            (mtime, opts.source_date_epoch.is_some()),
            format,
            fetcher,
            events,
        )?,
    };
    let unpacked_size = tree.total_size();
    let mut img = image::image(config, arch, mtime, layers)?;
    if let Some(b) = base {
        img = base::stack(img, b, config);
    }
    let sbom = image::sbom(config, arch, mtime, &img, &tree, archives)?;
    Ok(BuiltArch {
        image: img,
        packages: names.len(),
        unpacked_size,
        sbom,
    })
}

/// The layers of `layering: {strategy: origin, budget}` (see [`layering`]), bottom first, each
/// with its history line; `mtime` is the image's timestamp and whether it was given.
fn layered(
    tree: &whittle_fs::Tree,
    packages: &[source::PackageFiles],
    (budget, compression): (u32, whittle_config::LayerCompression),
    (mtime, fixed): (u64, bool),
    format: &str,
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<Vec<(whittle_oci::ImageLayer, String)>, Error> {
    let groups = layering::groups(packages, tree, budget);
    let plans = layering::split(tree, packages, &groups, mtime, fixed)?;
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        let layer = layers::layer(&plan.tree, plan.mtime, compression, fetcher.cache())?;
        let by = if plan.packages.is_empty() {
            image::TOP_LAYER.to_string()
        } else {
            image::created_by(format, &plan.packages)
        };
        events.step(&format!(
            "layer     {} {:.2} MB: {}",
            &layer.digest[..layer.digest.len().min(19)],
            layer.size as f64 / 1e6,
            if plan.packages.is_empty() {
                "top (what no package owns)".to_string()
            } else {
                plan.packages.join(" ")
            }
        ));
        out.push((layer, by));
    }
    Ok(out)
}

/// Writes the OS files the distribution's release package would (when no package shipped
/// them) and says so in the build log.
fn os_files(
    tree: &mut whittle_fs::Tree,
    os: source::OsSource,
    events: &dyn Events,
) -> Result<(), Error> {
    match os {
        source::OsSource::Debian(releases) => {
            let releases: Vec<&whittle_deb::release::Release> = releases.iter().collect();
            let written = osfiles::debian(tree, &releases)?;
            if !written.is_empty() {
                events.step(&format!(
                    "assemble  OS files as base-files writes them (not installed), from the signed Release: {}",
                    written.join(", ")
                ));
            }
        }
        source::OsSource::Apk(distro) => {
            let (distro, written) = osfiles::apk_files(tree, distro)?;
            match &distro {
                Some(d) if !written.is_empty() => events.step(&format!(
                    "assemble  OS files as {} writes them (not installed; the signed index lists it): {}",
                    d.package,
                    written.join(", ")
                )),
                Some(_) => {}
                None if !image::distro(tree, "").0.is_empty() => {}
                None => events.step(
                    "assemble  no repository index lists a distribution's release package \
                     (alpine-release, alpine-base, wolfi-baselayout, chainguard-baselayout): no OS files \
                     written and no package ships os-release: scanners cannot place the image (set `os-release` in the config)",
                ),
            }
        }
    }
    Ok(())
}

/// The resolve step of one architecture: every repository's verified index and the packages
/// the solver chose, as a lock records them. `installed` (a base image's packages) are
/// candidates pinned as requested: the solver keeps them and they are not among the packages
/// returned.
pub(crate) fn resolve_arch(
    config: &Config,
    insecure: bool,
    repos: &[debian::DebRepo],
    (arch, installed): (&str, Vec<whittle_deb::Package>),
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<(Vec<debian::VerifiedRepo>, Vec<LockPackage>), Error> {
    // resolve: every repository's verified index, the packages reachable from the request,
    // then the solver
    let verified = repos
        .iter()
        .map(|r| debian::verify(r, fetcher, insecure, events))
        .collect::<Result<Vec<_>, _>>()?;
    // (a base's packages too: what they need and the base lacks comes from the repositories)
    let roots: Vec<&str> = config
        .contents
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .chain(installed.iter().map(|p| p.name.as_str()))
        .collect();
    let (mut all, repo_of) = reachable_packages(&verified, arch, &roots, fetcher, events)?;
    let from_repos = all.len();
    let pinned: BTreeSet<String> = installed
        .iter()
        .map(|p| format!("{}={}", p.name, p.version))
        .collect();
    all.extend(installed);
    let universe = whittle_resolve::DebUniverse::new(&all, arch);
    let request = whittle_resolve::DebRequest {
        packages: config
            .contents
            .packages
            .iter()
            .map(|p| match &p.constraint {
                None => p.name.clone(),
                Some(c) => format!("{}{}{}", p.name, deb_op(c.op), c.version),
            })
            .chain(pinned.iter().cloned())
            .collect(),
        exclude: config
            .contents
            .exclude
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        waive_script_only: !config.contents.include_script_dependencies,
    };
    let on_base = from_repos < all.len();
    let resolution = whittle_resolve::resolve(&universe, &request)
        .map_err(|source| base::resolve_error(config, on_base, arch, source))?;
    // (what the base has installed stays out)
    let (chosen, kept): (Vec<usize>, Vec<usize>) =
        resolution.indices().into_iter().partition(|&i| {
            i < from_repos && !pinned.contains(&format!("{}={}", all[i].name, all[i].version))
        });
    let kept: Vec<String> = kept.iter().map(|&i| all[i].name.clone()).collect();
    base::report_kept(events, &kept);

    events.step(&format!(
        "resolve   {} packages: {}",
        chosen.len(),
        chosen
            .iter()
            .map(|&i| format!("{}={}", all[i].name, all[i].version))
            .collect::<Vec<_>>()
            .join(" ")
    ));

    for w in &resolution.waived {
        let hint = match w.reason {
            whittle_resolve::WaiveReason::ScriptOnly(_) => {
                " (to install it anyway, name it in contents.packages)"
            }
            whittle_resolve::WaiveReason::Excluded => "",
        };
        events.step(&format!(
            "resolve   waived: {} depends on \"{}\", {}{hint}",
            all[w.by].name, w.relation, w.reason
        ));
    }

    let packages = chosen
        .iter()
        .map(|&i| {
            let repository = verified[repo_of[i]].repo.uri.clone();
            LockPackage {
                name: all[i].name.clone(),
                version: all[i].version.to_string(),
                architecture: all[i].architecture.clone(),
                url: format!("{repository}/{}", all[i].filename),
                repository,
                size: all[i].size,
                sha256: all[i].sha256.clone(),
                checksum: None,
                signature: None,
                control: None,
                data: None,
            }
        })
        .collect();
    Ok((verified, packages))
}

/// The packages a resolution of `roots` could consider (see [`whittle_deb::index::closure`]),
/// for `arch`, each with the position of its repository. The closure is a pure function of the
/// signed index contents and the roots, so it is kept in the cache: a warm build neither reads
/// nor scans the full indexes.
fn reachable_packages(
    verified: &[debian::VerifiedRepo],
    arch: &str,
    roots: &[&str],
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<(Vec<whittle_deb::Package>, Vec<usize>), Error> {
    let key = verified
        .iter()
        .map(|v| v.packages_identity(arch))
        .collect::<Option<Vec<_>>>()
        .map(|ids| {
            let mut sorted: Vec<&str> = roots.to_vec();
            sorted.sort_unstable();
            let text = format!("{arch}\n{}\n{}", ids.concat().join(","), sorted.join(","));
            format!("closure:v1:{}", whittle_fetch::sha256_hex(text.as_bytes()))
        });
    let index_err = |message: String| Error::Repository {
        line: "(package index)".into(),
        message,
    };
    let cached: Option<Vec<(usize, String)>> = match &key {
        Some(k) => fetcher
            .cache()
            .get_derived(k)?
            .and_then(|b| serde_json::from_slice(&b).ok()),
        None => None,
    };
    let stanzas: Vec<(usize, String)> = match cached {
        Some(s) => {
            for v in verified {
                events.step(&format!(
                    "index     {} {} [{}] {arch}: signature verified, index unchanged (closure of {} packages from the cache)",
                    v.repo.uri,
                    v.repo.suite,
                    v.repo.components.join(" "),
                    s.len()
                ));
            }
            s
        }
        None => {
            let mut texts = Vec::new();
            for (i, v) in verified.iter().enumerate() {
                for t in v.packages(arch, fetcher)? {
                    texts.push((i, t));
                }
            }
            let mut indexes = Vec::new();
            for (i, (origin, text)) in &texts {
                let idx = whittle_deb::index::PackagesIndex::new(origin, text)
                    .map_err(|e| index_err(e.to_string()))?;
                if let Some(v) = verified.get(*i) {
                    events.step(&format!(
                        "index     {} {} {arch}: {} packages, signature verified",
                        v.repo.uri,
                        v.repo.suite,
                        idx.len()
                    ));
                }
                indexes.push(idx);
            }
            let reached = whittle_deb::index::closure(&indexes, roots)
                .map_err(|e| index_err(e.to_string()))?;
            let s: Vec<(usize, String)> = reached
                .into_iter()
                .map(|(n, text, _)| (texts.get(n).map_or(0, |t| t.0), text.to_string()))
                .collect();
            if let Some(k) = &key {
                let bytes = serde_json::to_vec(&s).map_err(|e| index_err(e.to_string()))?;
                fetcher.cache().put_derived(k, &bytes)?;
            }
            s
        }
    };
    let mut all = Vec::with_capacity(stanzas.len());
    let mut repo_of = Vec::with_capacity(stanzas.len());
    for (i, text) in stanzas {
        let origin = verified.get(i).map_or("Packages".to_string(), |v| v.dist());
        let parsed = whittle_deb::control::parse_stanzas(&origin, &text)
            .map_err(|e| index_err(e.to_string()))?;
        for st in parsed {
            let p = whittle_deb::Package::from_owned_stanza(&origin, st)
                .map_err(|e| index_err(e.to_string()))?;
            if p.architecture == arch || p.architecture == "all" {
                all.push(p);
                repo_of.push(i);
            }
        }
    }
    Ok((all, repo_of))
}

fn deb_op(op: whittle_config::ConstraintOp) -> &'static str {
    use whittle_config::ConstraintOp as O;
    match op {
        O::Eq | O::Fuzzy => "=",
        O::Ge => ">=",
        O::Le => "<=",
        O::Gt => ">>",
        O::Lt => "<<",
    }
}

/// Where the SBOM of image `i` goes.
fn sbom_path(
    dest: &SbomDest,
    output: &whittle_oci::ImageRef,
    archs: &[String],
    i: usize,
) -> Option<PathBuf> {
    let base = match dest {
        SbomDest::None => return None,
        SbomDest::File(p) => p.clone(),
        SbomDest::Beside => {
            let p = match output {
                whittle_oci::ImageRef::Oci { path, .. }
                | whittle_oci::ImageRef::OciArchive { path, .. }
                | whittle_oci::ImageRef::DockerArchive { path, .. } => path.clone(),
                whittle_oci::ImageRef::Docker(_) => return None,
            };
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into());
            p.with_file_name(format!("{stem}.spdx.json"))
        }
    };
    if archs.len() <= 1 {
        return Some(base);
    }
    let name = base
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".spdx.json").unwrap_or(&name);
    Some(base.with_file_name(format!("{stem}.{}.spdx.json", archs.get(i)?)))
}

/// Writes a file atomically and world-readable like every output (the one staged-file writer
/// of `whittle-oci`: temporary sibling, mode 0644, rename).
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), whittle_oci::Error> {
    use std::io::Write;
    let staged = whittle_oci::StagedFile::new(path)?;
    let mut f = staged.file();
    f.write_all(data).map_err(|source| whittle_oci::Error::Io {
        action: "writing",
        path: staged.path().to_path_buf(),
        source,
    })?;
    staged.commit()
}
