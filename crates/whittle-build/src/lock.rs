//! Lockfiles in the pipeline: `whittle lock` runs the resolve step and writes its output
//! ([`whittle_resolve::lock::Lock`]) beside the config; `whittle build` finds it there and
//! feeds it to fetch instead of resolving (config → lock → fetch → assemble → …).

use crate::{Error, Events, debian};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use whittle_config::Config;
use whittle_deb::release::{Release, fmt_time};
use whittle_fetch::{Cache, Fetcher, Request};
use whittle_resolve::lock::{
    LOCK_VERSION, Lock, LockConfig, LockContents, LockKeyring, LockPackage, LockRelease,
    LockRepository, MAX_LOCK_BYTES,
};

/// The bytes of the lockfile at `path`, at most one more than [`MAX_LOCK_BYTES`] (so that
/// [`Lock::parse`] refuses an oversized one by name): a lock path that is a device, a pipe or a
/// huge file cannot exhaust memory.
fn read_lock_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_LOCK_BYTES + 1)
        .read_to_end(&mut text)?;
    Ok(text)
}

/// The lockfile of a config: `<config stem>.lock.json` beside it (apko's naming).
pub fn lock_path(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    config.with_file_name(format!("{stem}.lock.json"))
}

/// `sha256:<hex>` of a config's bytes with `\r\n` (and lone `\r`) line endings made `\n`: the
/// same config checked out on Windows and Linux has one checksum.
pub fn config_checksum(bytes: &[u8]) -> String {
    let mut norm = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' {
            norm.push(b'\n');
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        } else {
            norm.push(bytes[i]);
        }
        i += 1;
    }
    format!("sha256:{}", whittle_fetch::sha256_hex(&norm))
}

fn read_config(config: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(config)
        .map_err(|e| Error::Lock(format!("{}: cannot read the config: {e}", config.display())))
}

/// A lock read from beside a config and checked against it.
#[derive(Debug)]
pub struct Locked {
    path: PathBuf,
    /// What `whittle lock` takes to refresh it: the config, or the recipe it came from.
    config: PathBuf,
    lock: Lock,
    /// Where each repository of the lock is fetched from (a symbolic one: this machine's
    /// mirror).
    bases: BTreeMap<String, String>,
}

impl Locked {
    /// The lock beside `config`, if there is one: parsed, checked, and refused when the config
    /// changed since it was made.
    ///
    /// `repos` are the config's repositories, as a lock names each (`host:debian` stays
    /// symbolic) and where it is fetched from: a lock naming another is refused. `appended`
    /// says the command line added to the config (`-p`, `-r`, `-k`): the lock was made from
    /// the config alone, so it is refused then too.
    ///
    /// `made_from` is the file the lock was made from when it is not `config` (a recipe whose
    /// environment `config` is): the lock lies beside it, and messages name it.
    /// `explicit` names another lockfile (apko's `--lockfile`); it must exist.
    pub fn beside(
        config: &Path,
        made_from: Option<&Path>,
        explicit: Option<&Path>,
        repos: &[(String, String)],
        appended: bool,
        events: &dyn Events,
    ) -> Result<Option<Locked>, Error> {
        let source = made_from.unwrap_or(config);
        // what the lock was made from, for messages
        let what = match made_from {
            Some(_) => format!("the `environment:` of {}", source.display()),
            None => source.display().to_string(),
        };
        let path = explicit.map_or_else(|| lock_path(source), Path::to_path_buf);
        let text = match read_lock_bytes(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                return Ok(None);
            }
            Err(e) => {
                return Err(Error::Lock(format!("lockfile {}: {e}", path.display())));
            }
        };
        let lock = Lock::parse(&path.display().to_string(), &text)
            .map_err(|e| Error::Lock(e.to_string()))?;
        let checksum = config_checksum(&read_config(config)?);
        if lock.config.checksum != checksum {
            return Err(Error::Lock(format!(
                "lockfile {} was made from another version of {} (config.checksum {}, now {checksum}); refresh it with `whittle lock {}`, or build without it with --ignore-lock",
                path.display(),
                what,
                lock.config.checksum,
                source.display()
            )));
        }
        if appended {
            return Err(Error::Lock(format!(
                "lockfile {} pins what {what} alone resolves to, and the command line adds packages, repositories or keys to it: write them into {} and run `whittle lock {}`, or build without the lock with --ignore-lock",
                path.display(),
                match made_from {
                    Some(_) => "the environment",
                    None => "the config",
                },
                source.display()
            )));
        }
        let mut bases = BTreeMap::new();
        for (i, r) in lock.contents.repositories.iter().enumerate() {
            let Some((_, base)) = repos.iter().find(|(named, _)| *named == r.url) else {
                return Err(Error::Lock(format!(
                    "lockfile {}: contents.repositories[{i}].url: {} is not a repository of {}; refresh the lock with `whittle lock {}`",
                    path.display(),
                    r.url.chars().take(200).collect::<String>(),
                    source.display(),
                    source.display()
                )));
            };
            bases.insert(r.url.clone(), base.clone());
        }
        events.step(&format!(
            "lock      {}: {} repositories, {} packages pinned; nothing is resolved",
            path.display(),
            lock.contents.repositories.len(),
            lock.contents.packages.values().map(Vec::len).sum::<usize>()
        ));
        Ok(Some(Locked {
            path,
            config: source.to_path_buf(),
            lock,
            bases,
        }))
    }

    /// The locked packages of `arch`, in install order, each `url` where it is fetched from
    /// (a symbolic repository's packages: under this machine's mirror).
    pub fn packages(&self, arch: &str) -> Result<Vec<LockPackage>, Error> {
        self.lock
            .contents
            .packages
            .get(arch)
            .map(|pkgs| {
                pkgs.iter()
                    .map(|p| {
                        let mut p = p.clone();
                        if let Some(base) = self.bases.get(&p.repository) {
                            p.url = p.url_from(base);
                        }
                        p
                    })
                    .collect()
            })
            .ok_or_else(|| {
                Error::Lock(format!(
                    "lockfile {}: contents.packages has no {arch}; lock that architecture with `whittle lock {}`",
                    self.path.display(),
                    self.config.display()
                ))
            })
    }

    /// Where the lock says each package (of every architecture) comes from, by lowercase
    /// SHA-256; a symbolic repository (`host:debian`) keeps its name, as the lock does.
    pub fn downloads(&self) -> BTreeMap<String, String> {
        let url = |p: &LockPackage| {
            if whittle_resolve::lock::is_symbolic(&p.repository) {
                format!("{}/{}", p.repository, p.url)
            } else {
                p.url.clone()
            }
        };
        self.lock
            .contents
            .packages
            .values()
            .flatten()
            .map(|p| (p.sha256.to_ascii_lowercase(), url(p)))
            .collect()
    }

    /// The repositories the lock names.
    pub fn repositories(&self) -> &[LockRepository] {
        &self.lock.contents.repositories
    }

    /// The Release fields the lock kept (what the image's OS files are written from).
    pub fn releases(&self) -> Vec<Release> {
        self.lock
            .contents
            .repositories
            .iter()
            .map(|r| Release {
                origin: r.release.origin.clone(),
                codename: r.release.codename.clone(),
                version: r.release.version.clone(),
                ..Release::default()
            })
            .collect()
    }

    /// Fetches the locked packages (the cache first), each checked against the lock's size and
    /// SHA-256; packages the repository no longer has are listed together, with the way out.
    pub fn fetch_all(
        &self,
        reqs: &[Request],
        fetcher: &Fetcher,
        events: &dyn Events,
    ) -> Result<Vec<Vec<u8>>, Error> {
        fetcher
            .fetch_all(reqs, events)
            .map_err(|e| self.fetch_error(e, reqs, fetcher))
    }

    /// What a failure fetching the locked packages `reqs` means: packages the repository no
    /// longer has are listed together, with the way out; a mismatch names the lockfile.
    pub fn fetch_error(
        &self,
        e: whittle_fetch::Error,
        reqs: &[Request],
        fetcher: &Fetcher,
    ) -> Error {
        match e {
            e if is_gone(&e) => {
                // which ones: each is tried alone (what arrives is cached for the next run)
                let gone: Vec<&str> = reqs
                    .iter()
                    .filter(|r| fetcher.fetch(r).as_ref().is_err_and(is_gone))
                    .map(|r| r.url.as_str())
                    .collect();
                if gone.is_empty() {
                    return e.into();
                }
                Error::Lock(format!(
                    "{} locked package(s) of {} are neither in the cache nor in the repository any more:\n  {}\nmirrors drop old versions: point the repository line at an archive that keeps them (a URL of Debian's snapshot archive for the lock's Release date works as any repository) and run `whittle lock {}`, or refresh the lock to today's versions with `whittle lock {}`",
                    gone.len(),
                    self.path.display(),
                    gone.join("\n  "),
                    self.config.display(),
                    self.config.display()
                ))
            }
            whittle_fetch::Error::Mismatch {
                url,
                what,
                expected,
                actual,
            } => Error::Lock(format!(
                "{url}: {what} mismatch: lockfile {} says {expected}, the download has {actual}; the repository changed a published file or was tampered with — nothing was used",
                self.path.display()
            )),
            e => e.into(),
        }
    }
}

/// A download that failed because the file is not there (HTTP 404/410, a missing local file).
fn is_gone(e: &whittle_fetch::Error) -> bool {
    match e {
        whittle_fetch::Error::Status { status, .. } => matches!(status, 404 | 410),
        whittle_fetch::Error::Local { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// What `whittle lock` needs.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// The config file.
    pub config: PathBuf,
    /// The package cache directory.
    pub cache_dir: PathBuf,
    /// Use only the cache.
    pub offline: bool,
    /// Accept unsigned repositories (loudly).
    pub insecure_allow_unsigned_repositories: bool,
    /// The file the config was taken from, when it is not a config itself (a recipe whose
    /// `environment:` is `config`): the lock is written beside it and named after it.
    pub made_from: Option<PathBuf>,
}

/// What `whittle lock` did.
#[derive(Debug)]
pub struct LockReport {
    /// The lockfile written.
    pub path: PathBuf,
    /// The lock.
    pub lock: Lock,
    /// What changed from the lock that was there (`None`: there was none, or it was unreadable).
    pub changes: Option<Vec<String>>,
}

/// Resolves every architecture of a config and writes its lock beside it (atomically).
pub fn lock(opts: &LockOptions, events: &dyn Events) -> Result<LockReport, Error> {
    let config = Config::from_file(&opts.config)?;
    for w in &config.warnings {
        events.warn(&format!("{}: {}", w.origin, w.message));
    }
    let insecure = opts.insecure_allow_unsigned_repositories;
    let fetcher = Fetcher::new(Cache::open(&opts.cache_dir)?, opts.offline);
    let archs = crate::select_archs(&config, &[])?;
    let contents = if crate::apk::is_apk(&config)? {
        apk_contents(&config, insecure, &archs, &fetcher, events)?
    } else {
        debian_contents(&config, opts, &archs, &fetcher, events)?
    };
    let bytes = read_config(&opts.config)?;
    let source = opts.made_from.as_deref().unwrap_or(&opts.config);
    let lock = Lock {
        version: LOCK_VERSION.into(),
        config: LockConfig {
            name: source
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            checksum: config_checksum(&bytes),
        },
        contents,
    };
    let path = lock_path(source);
    let changes = read_lock_bytes(&path)
        .ok()
        .and_then(|old| Lock::parse(&path.display().to_string(), &old).ok())
        .map(|old| lock.changes_from(&old));
    crate::write_atomic(&path, &lock.to_json())
        .map_err(|e| Error::Lock(format!("writing lockfile {}: {e}", path.display())))?;
    Ok(LockReport {
        path,
        lock,
        changes,
    })
}

/// The lock contents of an APK config: per APK architecture, apko's fields.
fn apk_contents(
    config: &Config,
    insecure: bool,
    archs: &[String],
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<LockContents, Error> {
    let mut contents = LockContents {
        keyring: Vec::new(),
        repositories: Vec::new(),
        packages: BTreeMap::new(),
    };
    for arch in archs {
        let one = crate::apk::lock_arch(config, insecure, arch, fetcher, events)?;
        for w in fetcher.cache().take_warnings() {
            events.warn(&w);
        }
        contents.repositories.extend(one.repositories);
        for k in one.keyring {
            if !contents.keyring.contains(&k) {
                contents.keyring.push(k);
            }
        }
        contents.packages.extend(one.packages);
    }
    Ok(contents)
}

/// The lock contents of a Debian config.
fn debian_contents(
    config: &Config,
    opts: &LockOptions,
    archs: &[String],
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<LockContents, Error> {
    let insecure = opts.insecure_allow_unsigned_repositories;
    let repos = crate::debian_repos(config, insecure)?;
    let mut packages = BTreeMap::new();
    let mut verified_repos: Vec<debian::VerifiedRepo> = Vec::new();
    for arch in archs {
        // on a base image: what it has installed is not locked (it comes with the base)
        let installed = crate::base::open(config, arch)?
            .map(|b| b.deb_candidates())
            .unwrap_or_default();
        let (verified, pkgs) =
            crate::resolve_arch(config, insecure, &repos, (arch, installed), fetcher, events)?;
        for w in fetcher.cache().take_warnings() {
            events.warn(&w);
        }
        packages.insert(arch.clone(), pkgs);
        if verified_repos.is_empty() {
            verified_repos = verified;
        }
    }
    // a symbolic repository (`host:debian`) is kept as written and its packages' URLs relative
    // to it: the lock holds on a machine with another mirror
    for pkgs in packages.values_mut() {
        for p in pkgs.iter_mut() {
            let Some(v) = verified_repos
                .iter()
                .find(|v| v.repo.uri == p.repository && v.repo.lock_uri != v.repo.uri)
            else {
                continue;
            };
            if let Some(rest) = p.relative_url().map(str::to_string) {
                p.repository = v.repo.lock_uri.clone();
                p.url = rest;
            }
        }
    }
    let repositories = verified_repos
        .iter()
        .map(|v| LockRepository {
            name: v.repo.line.clone(),
            url: v.repo.lock_uri.clone(),
            architecture: None,
            release: LockRelease {
                checksum: format!("sha256:{}", v.inrelease_sha256),
                date: v.release.date.map(fmt_time),
                origin: v.release.origin.clone(),
                codename: v.release.codename.clone(),
                version: v.release.version.clone(),
                os_package: None,
            },
        })
        .collect();
    // keyrings named relative to the config when they lie beside it: a lock made on one
    // machine reads the same on another
    let base = opts.config.parent().unwrap_or(Path::new(""));
    let mut keyring: Vec<LockKeyring> = Vec::new();
    for v in &verified_repos {
        for k in &v.repo.keyrings {
            let name = k.strip_prefix(base).unwrap_or(k).display().to_string();
            if keyring.iter().any(|e| e.name == name) {
                continue;
            }
            let content = whittle_deb::release::read_keyring_file(k)
                .map_err(|e| Error::Lock(format!("keyring {name}: {e}")))?;
            let in_ring = whittle_deb::release::Keyring::from_bytes(&name, &content)
                .map(|r| r.fingerprints())
                .unwrap_or_default();
            keyring.push(LockKeyring {
                name,
                fingerprints: in_ring,
                content: base64::engine::general_purpose::STANDARD.encode(&content),
            });
        }
    }
    Ok(LockContents {
        keyring,
        repositories,
        packages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_do_not_change_the_checksum() {
        let unix = config_checksum(b"a: 1\nb: 2\n");
        assert_eq!(config_checksum(b"a: 1\r\nb: 2\r\n"), unix);
        assert_eq!(config_checksum(b"a: 1\rb: 2\r"), unix);
        assert_ne!(config_checksum(b"a: 1\nb: 3\n"), unix);
    }

    #[test]
    fn a_lock_path_that_never_ends_is_read_bounded() {
        // e.g. a lockfile that is a link to /dev/zero: read up to the limit, then refused by name
        if !Path::new("/dev/zero").exists() {
            return;
        }
        let text = read_lock_bytes(Path::new("/dev/zero")).unwrap();
        assert_eq!(text.len() as u64, MAX_LOCK_BYTES + 1);
        let e = Lock::parse("x.lock.json", &text).unwrap_err().to_string();
        assert!(
            e.contains("x.lock.json") && e.contains("larger than"),
            "{e}"
        );
    }

    #[test]
    fn lock_path_is_beside_the_config() {
        assert_eq!(
            lock_path(Path::new("/x/gawk.yaml")),
            PathBuf::from("/x/gawk.lock.json")
        );
    }
}
