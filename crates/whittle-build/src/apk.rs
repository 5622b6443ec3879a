//! The APK (Alpine, Wolfi) package source and installation: signed `APKINDEX.tar.gz` per
//! repository, verified `.apk` files, extraction without running scripts, and the files apk-tools
//! and scanners read (`lib/apk/db/installed`, `etc/apk/{world,arch,repositories,keys}`).

use crate::source::{Installed, PackageFiles};
use crate::{Error, Events};
use std::collections::BTreeMap;
use whittle_apk::index::{Index, IndexEntry};
use whittle_apk::package::installed::{
    DirsBuilder, InstalledPackage, installed_db, installed_db_entry,
};
use whittle_apk::package::{ApkPackage, EntryKind};
use whittle_apk::sign::Keyring;
use whittle_config::{Config, KeyringSource, Repository};
use whittle_fetch::Fetcher;
use whittle_fs::{Meta, Node, Tree};

/// Largest APKINDEX accepted (Alpine main is ~1 MB compressed).
const MAX_INDEX: u64 = 64 << 20;

/// One APK repository line of the config.
#[derive(Debug, Clone)]
pub struct ApkRepo {
    /// The line as written (`@tag URL` or `URL`).
    pub line: String,
    /// Base URL or local directory, without trailing slash.
    pub url: String,
    /// What a lock names it by: `url`, or a relative directory as written (`./packages`), so
    /// that a lock holds in another checkout.
    pub lock_url: String,
    /// Pinning tag.
    pub tag: Option<String>,
    /// Whether it is written to the image's `/etc/apk/repositories` (not for apko's
    /// `build_repositories`).
    pub in_image: bool,
}

/// A repository whose index was verified.
pub struct LoadedApkRepo {
    /// The repository.
    pub repo: ApkRepo,
    /// Its verified index.
    pub index: Index,
    /// SHA-256 (lowercase hex) of the `APKINDEX.tar.gz` it was read from.
    pub index_sha256: String,
}

/// Whether the config uses APK repositories (all of them must be APK then).
pub fn is_apk(config: &Config) -> Result<bool, Error> {
    let all: Vec<&Repository> = config
        .contents
        .repositories
        .iter()
        .chain(&config.contents.build_repositories)
        .collect();
    let apk = all
        .iter()
        .filter(|r| matches!(r, Repository::Apk(_)))
        .count();
    if apk > 0 && apk != all.len() {
        return Err(Error::Unsupported(format!(
            "{}: contents.repositories mixes Debian and APK repositories; an image is built from one package format",
            config.origin
        )));
    }
    Ok(apk > 0)
}

fn repos(config: &Config) -> Vec<ApkRepo> {
    let runtime = config.contents.repositories.iter().map(|r| (r, true));
    let build = config
        .contents
        .build_repositories
        .iter()
        .map(|r| (r, false));
    runtime
        .chain(build)
        .filter_map(|(r, in_image)| match r {
            Repository::Apk(a) => Some(ApkRepo {
                in_image,
                // a directory relative to the config as written: the image (and a lock) must not
                // depend on where the config was checked out
                line: {
                    let written = a.relative.as_ref().map_or(&a.url, |p| &p.written);
                    match &a.tag {
                        Some(t) => format!("@{t} {written}"),
                        None => written.clone(),
                    }
                },
                url: a.url.trim_end_matches('/').to_string(),
                lock_url: a
                    .relative
                    .as_ref()
                    .map_or(&a.url, |p| &p.written)
                    .trim_end_matches('/')
                    .to_string(),
                tag: a.tag.clone(),
            }),
            Repository::Deb(_) => None,
        })
        .collect()
}

/// The trusted APK keys: `contents.keyring` files and URLs (named by their file name, as apk
/// signatures name their key), with their PEM text for `etc/apk/keys`.
fn keyring(
    config: &Config,
    fetcher: &Fetcher,
) -> Result<(Keyring, BTreeMap<String, Vec<u8>>), Error> {
    let mut keyring = Keyring::new();
    let mut pems = BTreeMap::new();
    for k in &config.contents.keyring {
        let (name, pem) = match &k.source {
            KeyringSource::File(p) => {
                // bounded: a key larger than MAX_KEY_FILE is refused by add_pem
                let pem = std::fs::File::open(&p.resolved)
                    .and_then(|f| {
                        let mut b = Vec::new();
                        std::io::Read::read_to_end(
                            &mut std::io::Read::take(f, whittle_apk::sign::MAX_KEY_FILE as u64 + 1),
                            &mut b,
                        )?;
                        Ok(b)
                    })
                    .map_err(|e| {
                        Error::Unsupported(format!(
                            "{}:{}:{}: keyring {}: {e}",
                            config.origin, k.pos.line, k.pos.column, p.written
                        ))
                    })?;
                let name = p
                    .resolved
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, pem)
            }
            KeyringSource::Url(u) => {
                let pem = fetcher.fetch_mutable(u, 1 << 16)?;
                (u.rsplit('/').next().unwrap_or(u).to_string(), pem)
            }
        };
        keyring.add_pem(name.clone(), &pem).map_err(|e| {
            Error::Unsupported(format!(
                "{}:{}:{}: keyring {name}: {e}",
                config.origin, k.pos.line, k.pos.column
            ))
        })?;
        pems.insert(name, pem);
    }
    Ok((keyring, pems))
}

fn repo_err(repo: &ApkRepo, message: impl Into<String>) -> Error {
    Error::Repository {
        line: repo.line.clone(),
        message: message.into(),
    }
}

/// Fetches and verifies the index of one repository for `apk_arch`.
pub fn load(
    repo: &ApkRepo,
    apk_arch: &str,
    keyring: &Keyring,
    fetcher: &Fetcher,
    insecure: bool,
    events: &dyn Events,
) -> Result<LoadedApkRepo, Error> {
    let url = format!("{}/{apk_arch}/APKINDEX.tar.gz", repo.url);
    let bytes = fetcher.fetch_mutable(&url, MAX_INDEX)?;
    let index = if insecure {
        events.warn(&format!(
            "{url}: signature NOT verified (--insecure-allow-unsigned-repositories)"
        ));
        whittle_apk::index::parse_index_unverified(&url, &bytes)
            .map_err(|e| repo_err(repo, e.to_string()))?
    } else {
        if keyring.is_empty() {
            return Err(repo_err(
                repo,
                "no keys to verify this repository: list its public key(s) in contents.keyring",
            ));
        }
        whittle_apk::index::verify_index(&url, &bytes, keyring).map_err(|e| Error::Signature {
            line: repo.line.clone(),
            message: e.to_string(),
            keys: "`contents.keyring` (APK public keys, named as in the index's signature)",
        })?
    };
    Ok(LoadedApkRepo {
        repo: repo.clone(),
        index,
        index_sha256: whittle_fetch::sha256_hex(&bytes),
    })
}

/// Downloads one package and verifies it: the index's `C:` checksum of its control stream (the
/// index is signed), its own signature when it carries one by a trusted key, and `datahash`.
fn fetch_package(
    repo: &ApkRepo,
    apk_arch: &str,
    entry: &IndexEntry,
    keyring: &Keyring,
    fetcher: &Fetcher,
) -> Result<Vec<u8>, Error> {
    let url = format!("{}/{apk_arch}/{}", repo.url, entry.filename());
    let bytes = fetcher.fetch_mutable(&url, entry.size.max(1) + (1 << 20))?;
    let checksum = entry.checksum.as_ref().map(|c| c.to_string());
    let pkg = ApkPackage::open(&url, &bytes).map_err(|e| pkg_err(&entry.name, e))?;
    pkg.verify(keyring, checksum.as_deref())
        .map_err(|e| pkg_err(&entry.name, e))?;
    if entry.size != 0 && bytes.len() as u64 != entry.size {
        return Err(Error::Package {
            package: entry.name.clone(),
            message: format!(
                "{url}: {} bytes, the signed index says {}; refusing it",
                bytes.len(),
                entry.size
            ),
        });
    }
    Ok(bytes)
}

fn pkg_err(name: &str, e: impl std::fmt::Display) -> Error {
    Error::Package {
        package: name.to_string(),
        message: e.to_string(),
    }
}

/// What [`install`] did.
struct Unpacked {
    /// The installed-DB records, in install order.
    records: Vec<InstalledPackage>,
    /// What each package wrote, in install order (for layering).
    packages: Vec<PackageFiles>,
    /// Packages whose scripts were not run, with the scripts' names.
    scripts: Vec<String>,
    /// The newest build date or file time seen.
    newest: u64,
    /// Entries left out by `path-exclude` (neither in the tree nor in the installed DB).
    dropped: usize,
    /// One warning per package that ships symlinks pointing above the root.
    link_warnings: Vec<String>,
}

/// Extracts verified packages (in order) into `tree`, leaving out what `contents.path-exclude`
/// names; what they unpack to is drawn from `budget` before it is buffered.
fn install(
    tree: &mut Tree,
    pkgs: &[(String, Option<String>, Vec<u8>)],
    contents: &whittle_config::Contents,
    budget: &crate::memory::MemoryBudget,
) -> Result<Unpacked, Error> {
    let mut records = Vec::new();
    let mut packages = Vec::new();
    let mut scripts = Vec::new();
    let mut newest = 0u64;
    let mut dropped = 0usize;
    let mut link_warnings = Vec::new();
    for (name, tag, bytes) in pkgs {
        let pkg = ApkPackage::open(name, bytes)
            .map_err(|e| pkg_err(name, e))?
            .with_max_data_size(budget.limit());
        if !pkg.scripts().is_empty() {
            let names: Vec<&str> = pkg
                .scripts()
                .iter()
                .map(|s| s.name.trim_start_matches('.'))
                .collect();
            scripts.push(format!("{} ({})", name, names.join(", ")));
        }
        let mut pkg_newest = pkg.pkginfo().builddate.unwrap_or(0);
        let mut paths = Vec::new();
        let mut dirs = DirsBuilder::new();
        let mut fs_err = None;
        let mut links = crate::assemble::LinkCheck::default();
        let account = budget.account();
        let mut kept: u64 = 0;
        // large files are kept in the spill file rather than in memory (in memory when it
        // cannot be made)
        let spill = crate::spill().ok();
        let walked = pkg.for_each_entry_of(account.reader(pkg.data_reader()), |e| {
            if !e.path.is_empty() && contents.path_excluded(e.path) {
                dropped += 1;
                return Ok(());
            }
            kept = kept.saturating_add(e.data.len() as u64);
            if !account.grow_to(kept) {
                return Err(whittle_apk::package::Error::TooLarge {
                    origin: name.clone(),
                    stream: whittle_apk::package::Stream::Data,
                    limit: budget.limit(),
                });
            }
            dirs.add(&e);
            if e.path.is_empty() {
                return Ok(());
            }
            pkg_newest = pkg_newest.max(e.mtime);
            let node = match &e.kind {
                EntryKind::Dir => Node::Dir,
                EntryKind::File => match &spill {
                    Some(s) => Node::file(s.keep(e.data).unwrap_or_else(|_| e.data.into())),
                    None => Node::file(e.data),
                },
                EntryKind::Symlink { target } => Node::symlink(target.to_string()),
                EntryKind::Hardlink { target } => Node::hardlink(target.to_string()),
            };
            let meta = Meta::new(
                e.mode & 0o7777,
                u32::try_from(e.uid).unwrap_or(0),
                u32::try_from(e.gid).unwrap_or(0),
            );
            match tree.insert(e.path, node, meta) {
                Ok(ins) => {
                    if let EntryKind::Symlink { target } = &e.kind {
                        links.note(&ins.path, target);
                    }
                    if ins.outcome != whittle_fs::Outcome::KeptSymlink {
                        paths.push(ins.path);
                    }
                }
                Err(err) => {
                    fs_err.get_or_insert_with(|| pkg_err(name, format!("/{}: {err}", e.path)));
                }
            }
            Ok::<(), whittle_apk::package::Error>(())
        });
        match walked {
            Ok(()) => {}
            Err(_) if account.exceeded() => {
                return Err(account.refused(name, bytes.len() as u64));
            }
            Err(whittle_apk::package::Error::TooLarge { .. }) => {
                return Err(account.refused(name, bytes.len() as u64));
            }
            Err(e) => return Err(pkg_err(name, e)),
        }
        if let Some(e) = fs_err {
            return Err(e);
        }
        link_warnings.extend(links.warning(name));
        let mut rec = InstalledPackage::from_pkginfo(
            pkg.pkginfo(),
            &pkg.control_checksum_q1(),
            bytes.len() as u64,
            dirs.finish(),
        );
        rec.repository_tag = tag.clone();
        newest = newest.max(pkg_newest);
        packages.push(PackageFiles {
            name: rec.name.clone(),
            origin: rec.origin.clone().unwrap_or_else(|| rec.name.clone()),
            paths,
            db_entry: Some(installed_db_entry(&rec)),
            newest_mtime: pkg_newest,
        });
        records.push(rec);
    }
    Ok(Unpacked {
        records,
        packages,
        scripts,
        newest,
        dropped,
        link_warnings,
    })
}

/// Where busybox is.
const BUSYBOX: &str = "bin/busybox";
/// The directory of busybox's applet lists, one file per package (one absolute path per line).
const BUSYBOX_PATHS: &str = "etc/busybox-paths.d";
/// The largest applet list read (a real one is ~5 KB).
const MAX_BUSYBOX_PATHS: usize = 1 << 20;
/// Built-in applet lists for busybox packages that ship no `/etc/busybox-paths.d/<package>`, by
/// upstream busybox version, oldest first (the last one is used for versions not listed, as apko
/// uses its newest). Each file says where its list comes from.
const BUSYBOX_FALLBACKS: &[(&str, &str)] =
    &[("1.35.0", include_str!("busybox-applets-1.35.0.txt"))];

/// What [`busybox_links`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusyboxLinks {
    /// No `/bin/busybox` in the image, or no installed package is busybox: nothing to do.
    None,
    /// Links were made from the package's applet list.
    Made {
        /// The package whose list was read.
        package: String,
        /// Links created.
        made: usize,
        /// Listed paths left as they were because something (a package) is already there.
        kept: usize,
    },
    /// The busybox package ships no applet list: links were made from whittle's built-in list
    /// for its busybox version (see [`busybox_fallback`]).
    Fallback {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// The busybox version of the built-in list used.
        list_version: &'static str,
        /// Whether that list is for this busybox version (else it is the newest list whittle has).
        exact: bool,
        /// Links created.
        made: usize,
        /// Listed paths left as they were because something (a package) is already there.
        kept: usize,
    },
}

/// The built-in applet list whittle uses for a busybox package without an applet list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyboxFallback {
    /// The busybox version the list is for (`1.35.0`).
    pub list_version: &'static str,
    /// Whether it is the list for the version asked about.
    pub exact: bool,
    /// The applet paths, absolute (`/bin/sh`, `/usr/bin/awk`, …), in the list's order.
    pub paths: Vec<String>,
}

/// The upstream busybox version of an APK package version: `1.35.0-r17` → `1.35.0`.
fn busybox_upstream(version: &str) -> &str {
    match version.rsplit_once("-r") {
        Some((v, rel)) if !rel.is_empty() && rel.bytes().all(|b| b.is_ascii_digit()) => v,
        _ => version,
    }
}

/// Expands a built-in list (`<dir>: <applet> <applet> …` lines, `#` comments) to absolute paths.
fn fallback_paths(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .flat_map(|(dir, applets)| {
            let dir = dir.trim().trim_end_matches('/');
            applets
                .split_whitespace()
                .map(move |a| format!("{dir}/{a}"))
        })
        .collect()
}

/// The built-in applet list for the busybox package version `version` (`1.35.0-r17`): the list
/// for its upstream version, else the newest list whittle has (`exact` is false then). `None`
/// only if whittle carries no list at all.
pub fn busybox_fallback(version: &str) -> Option<BusyboxFallback> {
    let upstream = busybox_upstream(version);
    let (list_version, text, exact) = match BUSYBOX_FALLBACKS.iter().find(|(v, _)| *v == upstream) {
        Some((v, t)) => (*v, *t, true),
        None => {
            let (v, t) = BUSYBOX_FALLBACKS.last()?;
            (*v, *t, false)
        }
    };
    Some(BusyboxFallback {
        list_version,
        exact,
        paths: fallback_paths(text),
    })
}

/// Links each listed path (`(line number, path)`) to `/bin/busybox` unless something is there
/// already; returns (made, kept).
fn link_applets<'a>(
    tree: &mut Tree,
    paths: impl Iterator<Item = (usize, &'a str)>,
    bad: &dyn Fn(String) -> Error,
) -> Result<(usize, usize), Error> {
    let (mut made, mut kept) = (0, 0);
    for (n, line) in paths {
        let path =
            whittle_fs::normalize_archive_path(line).map_err(|e| bad(format!("line {n}: {e}")))?;
        if path.is_empty() || path == BUSYBOX {
            continue;
        }
        if tree.get(&path).is_some() {
            kept += 1;
            continue;
        }
        tree.insert(
            &path,
            Node::symlink(format!("/{BUSYBOX}")),
            Meta::root(0o777),
        )
        .map_err(|e| bad(format!("line {n}: /{path}: {e}")))?;
        made += 1;
    }
    Ok((made, kept))
}

/// Creates busybox's applet links as apko does (what busybox's `post-install` script would do
/// with `busybox --install -s`, which whittle never runs): when `/bin/busybox` exists and an
/// installed package is `busybox` (or, failing that, provides something named `busybox`), every
/// absolute path listed in its `/etc/busybox-paths.d/<package>` becomes a symlink to
/// `/bin/busybox`; a package without that list (Alpine busybox before 1.36.0-r8, Wolfi before
/// 1.36.0-r3) gets the links of whittle's built-in list for its busybox version
/// ([`busybox_fallback`]). Missing parent directories are created `0755 0:0`, and a path that
/// already exists (a file, link or directory a package installed) is kept as it is. The order
/// and content depend only on the list, so the result is reproducible.
pub fn busybox_links(tree: &mut Tree, records: &[InstalledPackage]) -> Result<BusyboxLinks, Error> {
    if tree.get(BUSYBOX).is_none() {
        return Ok(BusyboxLinks::None);
    }
    let Some(pkg) = records.iter().find(|r| r.name == "busybox").or_else(|| {
        records
            .iter()
            .find(|r| r.provides.iter().any(|p| p.contains("busybox")))
    }) else {
        return Ok(BusyboxLinks::None);
    };
    let list_path = format!("{BUSYBOX_PATHS}/{}", pkg.name);
    let bad = |message: String| Error::Package {
        package: pkg.name.clone(),
        message: format!("/{list_path}: {message}"),
    };
    let list = match tree.get(&list_path).map(|e| &e.node) {
        Some(Node::File(data)) => data.clone(),
        _ => {
            let Some(fallback) = busybox_fallback(&pkg.version) else {
                return Ok(BusyboxLinks::None);
            };
            let bad = |message: String| Error::Package {
                package: pkg.name.clone(),
                message: format!(
                    "built-in busybox {} applet list: {message}",
                    fallback.list_version
                ),
            };
            let paths = fallback.paths.iter().map(String::as_str);
            let (made, kept) = link_applets(tree, (1..).zip(paths), &bad)?;
            return Ok(BusyboxLinks::Fallback {
                package: pkg.name.clone(),
                version: pkg.version.clone(),
                list_version: fallback.list_version,
                exact: fallback.exact,
                made,
                kept,
            });
        }
    };
    if list.len() > MAX_BUSYBOX_PATHS as u64 {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_BUSYBOX_PATHS} an applet list may have; refusing it",
            list.len()
        )));
    }
    let list = list
        .bytes()
        .map_err(|e| bad(format!("cannot read it: {e}")))?;
    let text = std::str::from_utf8(&list).map_err(|e| bad(format!("not UTF-8 text ({e})")))?;
    let lines = (1..)
        .zip(text.lines().map(str::trim))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (made, kept) = link_applets(tree, lines, &bad)?;
    Ok(BusyboxLinks::Made {
        package: pkg.name.clone(),
        made,
        kept,
    })
}

/// The APK package source of one architecture: resolves (or takes what the lock pins), fetches
/// and verifies the packages, installs them into a fresh tree with busybox's applet links, and
/// writes apk-tools' database (`lib/apk/db/installed`, `etc/apk/{world,arch,repositories,keys}`).
pub(crate) fn install_arch(
    config: &Config,
    opts: &crate::BuildOptions,
    (arch, base): (&str, Option<&crate::base::Base>),
    fetcher: &Fetcher,
    events: &dyn Events,
    locked: Option<&crate::lock::Locked>,
) -> Result<Installed, Error> {
    // resolve and fetch, or fetch what the lock pins
    let Fetched {
        apk_arch,
        pems,
        pkgs,
        archives,
        repo_lines,
        distro,
    } = match locked {
        Some(l) => fetch_locked(config, arch, l, fetcher, events)?,
        None => resolve_and_fetch(
            config,
            opts.insecure_allow_unsigned_repositories,
            (arch, base.map(|b| b.apk_candidates()).unwrap_or_default()),
            fetcher,
            events,
        )?,
    };

    // on a base image: what it has installed is not installed again
    let pkgs = match base {
        Some(b) => b.missing(
            pkgs,
            &b.apks,
            |p| {
                let version = archives.keys().find(|k| k.0 == p.0).map(|k| k.1.clone());
                (p.0.clone(), version)
            },
            events,
        )?,
        None => pkgs,
    };

    // assemble
    let mut tree = match base {
        Some(b) => b.tree.clone(),
        None => crate::image_tree(),
    };
    if tree.get("tmp").is_none() {
        tree.insert("tmp", Node::Dir, Meta::root(0o1777))?;
    }
    let budget = crate::memory::MemoryBudget::from_env()?;
    let Unpacked {
        records,
        packages,
        scripts,
        newest,
        dropped,
        link_warnings,
    } = install(&mut tree, &pkgs, &config.contents, &budget)?;
    drop(pkgs); // in the tree now: the archives need not stay for the layer
    for w in &link_warnings {
        events.warn(w);
    }
    match busybox_links(&mut tree, &records)? {
        BusyboxLinks::None => {}
        BusyboxLinks::Made {
            package,
            made,
            kept,
        } => events.step(&format!(
            "assemble  busybox applet links from /{BUSYBOX_PATHS}/{package}: {made} made, {kept} kept (a package provides them)"
        )),
        BusyboxLinks::Fallback {
            package,
            version,
            list_version,
            exact: true,
            made,
            kept,
        } => events.step(&format!(
            "assemble  busybox applet links: {package} {version} ships no /{BUSYBOX_PATHS}/{package}, \
             so whittle's built-in busybox {list_version} list was used: {made} made, {kept} kept (a package provides them)"
        )),
        BusyboxLinks::Fallback {
            package,
            version,
            list_version,
            exact: false,
            made,
            kept,
        } => events.warn(&format!(
            "{package} {version} ships no /{BUSYBOX_PATHS}/{package} applet list and whittle has no built-in \
             list for busybox {}, so the busybox {list_version} list was used ({made} links made, {kept} kept): \
             some links may name applets this busybox lacks, or miss some; add missing ones as `paths` \
             symlink entries to /bin/busybox, or use a busybox that ships the list (Alpine >= 1.36.0-r8, Wolfi >= 1.36.0-r3)",
            busybox_upstream(&version)
        )),
    }
    if !scripts.is_empty() {
        events.step(&format!(
            "assemble  package scripts not run (whittle runs none): {}",
            scripts.join(", ")
        ));
    }
    let put = |t: &mut Tree, p: &str, d: Vec<u8>| crate::assemble::put_file(t, p, d, 0o644);
    // the base's database as stored, the new packages' entries after it
    let mut db = base.map(|b| b.apk_db.clone()).unwrap_or_default();
    while !db.is_empty() && !db.ends_with("\n\n") {
        db.push('\n');
    }
    db.push_str(&installed_db(&records));
    put(&mut tree, "lib/apk/db/installed", db.into_bytes())?;
    let base_world = match tree.get("etc/apk/world").map(|e| &e.node) {
        Some(Node::File(d)) if base.is_some() => {
            // a list of package names (a few KiB); the base's file is untrusted
            const MAX_WORLD: u64 = 1 << 20;
            if d.len() > MAX_WORLD {
                return Err(Error::Unsupported(format!(
                    "the base image's /etc/apk/world is {} bytes, more than the {MAX_WORLD} a list of packages may have",
                    d.len()
                )));
            }
            d.bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| whittle_fs::Error::content("etc/apk/world", e))?
        }
        _ => String::new(),
    };
    let mut world: Vec<String> = config
        .contents
        .packages
        .iter()
        .map(|p| p.written.clone())
        .chain(
            base_world
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        )
        .collect();
    world.sort();
    world.dedup();
    put(
        &mut tree,
        "etc/apk/world",
        format!("{}\n", world.join("\n")).into_bytes(),
    )?;
    put(
        &mut tree,
        "etc/apk/arch",
        format!("{apk_arch}\n").into_bytes(),
    )?;
    let lines: Vec<String> = repo_lines
        .into_iter()
        .chain(config.contents.runtime_repositories.iter().cloned())
        .collect();
    put(
        &mut tree,
        "etc/apk/repositories",
        format!("{}\n", lines.join("\n")).into_bytes(),
    )?;
    for (name, pem) in &pems {
        put(&mut tree, &format!("etc/apk/keys/{name}"), pem.clone())?;
    }
    Ok(Installed {
        tree,
        packages,
        newest_mtime: newest,
        archives,
        alternatives: Vec::new(),
        os: crate::source::OsSource::Apk(distro),
        format: "APK",
        left_out: match dropped {
            0 => String::new(),
            n => format!(", {n} entries left out by path-exclude"),
        },
    })
}

/// The verified packages of one architecture, in install order, and what the image needs to
/// know of the repositories they came from.
struct Fetched {
    apk_arch: &'static str,
    /// The trusted keys' PEM text by name, for `etc/apk/keys`.
    pems: BTreeMap<String, Vec<u8>>,
    /// `(name, repository tag, .apk bytes)`.
    pkgs: Vec<(String, Option<String>, Vec<u8>)>,
    /// SBOM facts by `(name, version, arch)`.
    archives: BTreeMap<(String, String, String), whittle_catalog::sbom::Archive>,
    /// The repository lines the image lists in `etc/apk/repositories`.
    repo_lines: Vec<String>,
    /// The distribution the indexes give (for the OS files).
    distro: Option<crate::osfiles::ApkDistro>,
}

/// Resolves over today's verified indexes and fetches the chosen packages, each verified
/// against the index.
fn resolve_and_fetch(
    config: &Config,
    insecure: bool,
    (arch, installed): (&str, Vec<IndexEntry>),
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<Fetched, Error> {
    let Resolved {
        apk_arch,
        keyring,
        pems,
        loaded,
        chosen,
    } = load_and_resolve(config, insecure, (arch, installed), fetcher, events)?;
    let mut pkgs = Vec::new();
    let mut archives = BTreeMap::new();
    for &(r, i) in &chosen {
        let l = &loaded[r];
        let entry = &l.index.entries[i];
        let bytes = fetch_package(&l.repo, apk_arch, entry, &keyring, fetcher)?;
        use sha2::Digest;
        archives.insert(
            (
                entry.name.clone(),
                entry.version.to_string(),
                entry.arch.clone(),
            ),
            crate::image::archive_facts(
                &hex::encode(sha2::Sha256::digest(&bytes)),
                &format!("{}/{apk_arch}/{}", l.repo.url, entry.filename()),
            ),
        );
        pkgs.push((entry.name.clone(), l.repo.tag.clone(), bytes));
    }
    let indexes: Vec<(&Index, bool)> = loaded
        .iter()
        .map(|l| (&l.index, l.repo.tag.is_some()))
        .collect();
    Ok(Fetched {
        apk_arch,
        pems,
        pkgs,
        archives,
        repo_lines: in_image_lines(config),
        distro: crate::osfiles::apk_distro(&indexes),
    })
}

/// The lines of the repositories the image lists (`repositories`, not `build_repositories`).
fn in_image_lines(config: &Config) -> Vec<String> {
    repos(config)
        .into_iter()
        .filter(|r| r.in_image)
        .map(|r| r.line)
        .collect()
}

/// The config's APK repositories as a lock names each, and where each is fetched from.
pub(crate) fn repo_urls(config: &Config) -> Vec<(String, String)> {
    repos(config)
        .into_iter()
        .map(|r| (r.lock_url, r.url))
        .collect()
}

/// Fetches the packages a lock pins for `arch` (the cache first), each checked against the
/// lock's size and SHA-256 and verified as from an index (the lock's `C:` checksum, the
/// package's signature by a trusted key, `datahash`); nothing is resolved.
fn fetch_locked(
    config: &Config,
    arch: &str,
    locked: &crate::lock::Locked,
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<Fetched, Error> {
    let apk_arch = whittle_config::Arch::parse(arch)
        .and_then(|a| a.apk())
        .ok_or_else(|| Error::Unsupported(format!("{arch} has no APK architecture")))?;
    let (keyring, pems) = keyring(config, fetcher)?;
    let packages = locked.packages(apk_arch)?;
    let reqs: Vec<whittle_fetch::Request> = packages
        .iter()
        .map(|p| whittle_fetch::Request {
            url: p.url.clone(),
            sha256: p.sha256.clone(),
            size: p.size,
        })
        .collect();
    let bytes = locked.fetch_all(&reqs, fetcher, events)?;
    let repos = repos(config);
    let tag_of = |url: &str| {
        repos
            .iter()
            .find(|r| r.lock_url == url)
            .and_then(|r| r.tag.clone())
    };
    let mut pkgs = Vec::new();
    let mut archives = BTreeMap::new();
    for (p, b) in packages.iter().zip(bytes) {
        let pkg = ApkPackage::open(&p.url, &b).map_err(|e| pkg_err(&p.name, e))?;
        pkg.verify(&keyring, p.checksum.as_deref())
            .map_err(|e| pkg_err(&p.name, e))?;
        archives.insert(
            (p.name.clone(), p.version.clone(), p.architecture.clone()),
            crate::image::archive_facts(&p.sha256, &p.url),
        );
        pkgs.push((p.name.clone(), tag_of(&p.repository), b));
    }
    let distro = crate::osfiles::first_distro(
        locked
            .repositories()
            .iter()
            .filter(|r| r.architecture.as_deref() == Some(apk_arch))
            .map(|r| {
                let d = r.release.os_package.as_deref().and_then(|s| {
                    let (name, version) = s.split_once(' ')?;
                    crate::osfiles::distro_of_package(name, version)
                });
                (d, tag_of(&r.url).is_some())
            }),
    );
    Ok(Fetched {
        apk_arch,
        pems,
        pkgs,
        archives,
        repo_lines: in_image_lines(config),
        distro,
    })
}

/// The verified indexes of a config's repositories for one architecture and the packages
/// resolved over them.
struct Resolved {
    apk_arch: &'static str,
    keyring: Keyring,
    pems: BTreeMap<String, Vec<u8>>,
    loaded: Vec<LoadedApkRepo>,
    /// `(repository, entry)` positions in install order.
    chosen: Vec<(usize, usize)>,
}

/// The resolve step of one architecture: keys, verified indexes, the solver (`installed`: a
/// base image's packages, kept at their versions and not among those chosen).
fn load_and_resolve(
    config: &Config,
    insecure: bool,
    (arch, installed): (&str, Vec<IndexEntry>),
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<Resolved, Error> {
    let a = whittle_config::Arch::parse(arch)
        .ok_or_else(|| Error::Unsupported(format!("unknown architecture {arch}")))?;
    let apk_arch = a
        .apk()
        .ok_or_else(|| Error::Unsupported(format!("{arch} has no APK architecture")))?;
    let (keyring, pems) = keyring(config, fetcher)?;
    let mut loaded = Vec::new();
    for r in repos(config) {
        let l = load(&r, apk_arch, &keyring, fetcher, insecure, events)?;
        events.step(&format!(
            "index     {} {apk_arch}: {} packages{}",
            r.line,
            l.index.entries.len(),
            if l.index.verified_by.is_some() {
                ", signature verified"
            } else {
                ""
            }
        ));
        loaded.push(l);
    }

    // resolve
    let chosen = resolve(config, &loaded, apk_arch, &installed, events)?;
    events.step(&format!(
        "resolve   {} packages: {}",
        chosen.len(),
        chosen
            .iter()
            .map(|&(r, i)| format!(
                "{}={}",
                loaded[r].index.entries[i].name, loaded[r].index.entries[i].version
            ))
            .collect::<Vec<_>>()
            .join(" ")
    ));

    Ok(Resolved {
        apk_arch,
        keyring,
        pems,
        loaded,
        chosen,
    })
}

/// What `whittle lock` records of an APK config for one architecture: the repositories with
/// their index checksums, the keys, and every resolved package (under the APK architecture) — downloaded and verified as a
/// build does, with the byte ranges and checksums of its streams as apko's lock gives them.
pub(crate) fn lock_arch(
    config: &Config,
    insecure: bool,
    arch: &str,
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<whittle_resolve::lock::LockContents, Error> {
    use base64::Engine as _;
    use sha2::Digest;
    use whittle_resolve::lock::{
        LockKeyring, LockPackage, LockRelease, LockRepository, RangeAndChecksum,
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    // on a base image: what it has installed is not locked (it comes with the base)
    let installed = crate::base::open(config, arch)?
        .map(|b| b.apk_candidates())
        .unwrap_or_default();
    let r = load_and_resolve(config, insecure, (arch, installed), fetcher, events)?;
    let repositories = r
        .loaded
        .iter()
        .map(|l| LockRepository {
            name: l.repo.line.clone(),
            url: l.repo.lock_url.clone(),
            architecture: Some(r.apk_arch.to_string()),
            release: LockRelease {
                checksum: format!("sha256:{}", l.index_sha256),
                os_package: crate::osfiles::index_distro(&l.index).map(|d| d.package),
                ..LockRelease::default()
            },
        })
        .collect();
    let keyring = r
        .pems
        .iter()
        .map(|(name, pem)| LockKeyring {
            name: name.clone(),
            fingerprints: vec![format!("sha256:{}", hex::encode(sha2::Sha256::digest(pem)))],
            content: b64(pem),
        })
        .collect();
    let mut packages = Vec::new();
    for &(ri, ei) in &r.chosen {
        let l = &r.loaded[ri];
        let entry = &l.index.entries[ei];
        let bytes = fetch_package(&l.repo, r.apk_arch, entry, &r.keyring, fetcher)?;
        let url = format!("{}/{}/{}", l.repo.url, r.apk_arch, entry.filename());
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        // kept under its SHA-256, as a build from the lock looks it up (`--offline` too)
        fetcher.cache().put(&sha256, &bytes)?;
        let pkg = ApkPackage::open(&url, &bytes).map_err(|e| pkg_err(&entry.name, e))?;
        // the streams are slices of `bytes`: their offsets are where they start in the file
        let offset = |part: &[u8]| (part.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
        let control = pkg.control_stream();
        let data = pkg.data_stream();
        let (c0, d0) = (offset(control), offset(data));
        let range = |first: usize, len: usize| format!("bytes={first}-{}", first + len.max(1) - 1);
        packages.push(LockPackage {
            name: entry.name.clone(),
            version: entry.version.to_string(),
            architecture: entry.arch.clone(),
            repository: l.repo.lock_url.clone(),
            // under a relative directory: the path below it (the lock holds in another checkout)
            url: if l.repo.lock_url == l.repo.url {
                url
            } else {
                format!("{}/{}", r.apk_arch, entry.filename())
            },
            size: bytes.len() as u64,
            sha256,
            checksum: Some(pkg.control_checksum_q1()),
            signature: (c0 > 0).then(|| RangeAndChecksum {
                range: range(0, c0),
                checksum: format!("sha1-{}", b64(&sha1::Sha1::digest(&bytes[..c0]))),
            }),
            control: Some(RangeAndChecksum {
                range: range(c0, control.len()),
                checksum: format!("sha1-{}", b64(&pkg.control_sha1())),
            }),
            data: Some(RangeAndChecksum {
                range: range(d0, data.len()),
                checksum: format!("sha256-{}", b64(&sha2::Sha256::digest(data))),
            }),
        });
    }
    Ok(whittle_resolve::lock::LockContents {
        keyring,
        repositories,
        packages: BTreeMap::from([(r.apk_arch.to_string(), packages)]),
    })
}

/// Resolves the config's packages over the loaded repositories (apk-tools semantics, see
/// `whittle_resolve::apk`); returns `(repository, entry)` positions in install order (by name).
fn resolve(
    config: &Config,
    loaded: &[LoadedApkRepo],
    apk_arch: &str,
    installed: &[IndexEntry],
    events: &dyn Events,
) -> Result<Vec<(usize, usize)>, Error> {
    // a base image's packages: one more repository, each pinned in the world
    let repos: Vec<whittle_resolve::apk::ApkRepository> = loaded
        .iter()
        .map(|l| whittle_resolve::apk::ApkRepository {
            entries: &l.index.entries,
            tag: l.repo.tag.as_deref(),
        })
        .chain(
            (!installed.is_empty()).then_some(whittle_resolve::apk::ApkRepository {
                entries: installed,
                tag: None,
            }),
        )
        .collect();
    let universe = whittle_resolve::apk::ApkUniverse::new(&repos, apk_arch)
        .map_err(|e| Error::Unsupported(format!("{}: {e}", config.origin)))?;
    let request = whittle_resolve::apk::ApkRequest {
        packages: config
            .contents
            .packages
            .iter()
            .map(|p| p.written.clone())
            .chain(
                installed
                    .iter()
                    .map(|e| format!("{}={}", e.name, e.version)),
            )
            .collect(),
    };
    let res = whittle_resolve::apk::resolve(&universe, &request).map_err(|source| {
        crate::base::resolve_error(config, !installed.is_empty(), apk_arch, source)
    })?;
    // (what the base has installed stays out)
    let mut chosen = Vec::new();
    let mut kept = Vec::new();
    for c in &res.packages {
        let (r, i) = (c.entry.repo, c.entry.index);
        let entry = loaded.get(r).map(|l| &l.index.entries[i]);
        let name_version = entry.map_or_else(
            || (&installed[i].name, &installed[i].version),
            |e| (&e.name, &e.version),
        );
        if entry.is_none()
            || installed
                .iter()
                .any(|b| (&b.name, &b.version) == name_version)
        {
            kept.push(name_version.0.clone());
        } else {
            chosen.push((r, i));
        }
    }
    crate::base::report_kept(events, &kept);
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, provides: &[&str]) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: "1.36.1-r0".into(),
            provides: provides.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    fn tree_with(list: Option<(&str, &str)>) -> Tree {
        let mut t = Tree::new();
        t.insert(
            BUSYBOX,
            Node::file(b"#!/bin/false\n".to_vec()),
            Meta::root(0o755),
        )
        .unwrap();
        // a package's own file and directory at listed paths
        t.insert(
            "bin/ls",
            Node::file(b"coreutils ls".to_vec()),
            Meta::root(0o755),
        )
        .unwrap();
        t.insert("usr/sbin", Node::Dir, Meta::root(0o755)).unwrap();
        if let Some((name, text)) = list {
            t.insert(
                &format!("{BUSYBOX_PATHS}/{name}"),
                Node::file(text.as_bytes().to_vec()),
                Meta::root(0o644),
            )
            .unwrap();
        }
        t
    }

    fn link(t: &Tree, p: &str) -> Option<String> {
        match &t.get(p)?.node {
            Node::Symlink(target) => Some(target.to_string()),
            _ => None,
        }
    }

    #[test]
    fn links_from_the_applet_list_keep_package_files() {
        let list = "/bin/busybox\n/bin/ls\n/bin/sh\n\n/usr/bin/awk\n/usr/sbin/crond\n/bin/sh\n";
        let mut t = tree_with(Some(("busybox", list)));
        let r = busybox_links(&mut t, &[pkg("busybox", &[])]).unwrap();
        assert_eq!(
            r,
            BusyboxLinks::Made {
                package: "busybox".into(),
                made: 3,
                kept: 2
            }
        );
        for p in ["bin/sh", "usr/bin/awk", "usr/sbin/crond"] {
            assert_eq!(link(&t, p).as_deref(), Some("/bin/busybox"), "{p}");
            assert_eq!(t.get(p).unwrap().meta, Meta::root(0o777));
        }
        // the package's file wins, busybox itself is untouched
        assert!(
            matches!(&t.get("bin/ls").unwrap().node, Node::File(d) if d.as_inline() == Some(&b"coreutils ls"[..]))
        );
        assert!(matches!(t.get(BUSYBOX).unwrap().node, Node::File(_)));
        assert_eq!(t.get("usr/bin").unwrap().meta, Meta::root(0o755));
    }

    #[test]
    fn a_provider_of_busybox_and_a_missing_list() {
        // the list is named after the providing package
        let mut t = tree_with(Some(("busybox-full", "/bin/vi\n")));
        let r = busybox_links(&mut t, &[pkg("busybox-full", &["busybox=1.36.1-r0"])]).unwrap();
        assert!(matches!(r, BusyboxLinks::Made { made: 1, .. }));
        assert_eq!(link(&t, "bin/vi").as_deref(), Some("/bin/busybox"));

        // no list: the built-in one for the version (pkg() is 1.36.1: not exact, the newest)
        let mut t = tree_with(None);
        let r = busybox_links(&mut t, &[pkg("busybox", &[])]).unwrap();
        assert!(
            matches!(r, BusyboxLinks::Fallback { exact: false, list_version: "1.35.0", made, kept: 1, .. } if made > 300),
            "{r:?}"
        );
        assert_eq!(link(&t, "bin/sh").as_deref(), Some("/bin/busybox"));

        // no busybox package, or no /bin/busybox: nothing
        let mut t = tree_with(Some(("busybox", "/bin/sh\n")));
        assert_eq!(
            busybox_links(&mut t, &[pkg("gawk", &[])]).unwrap(),
            BusyboxLinks::None
        );
        let mut t = Tree::new();
        assert_eq!(
            busybox_links(&mut t, &[pkg("busybox", &[])]).unwrap(),
            BusyboxLinks::None
        );
    }

    #[test]
    fn an_escaping_applet_path_is_refused() {
        let mut t = tree_with(Some(("busybox", "/bin/sh\n/../../etc/x\n")));
        let e = busybox_links(&mut t, &[pkg("busybox", &[])])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("etc/busybox-paths.d/busybox") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn links_follow_a_symlinked_bin() {
        // Wolfi-style merged /usr: /bin -> usr/bin
        let mut t = Tree::new();
        t.insert(
            "usr/bin/busybox",
            Node::file(b"x".to_vec()),
            Meta::root(0o755),
        )
        .unwrap();
        t.insert("bin", Node::symlink("usr/bin"), Meta::root(0o777))
            .unwrap();
        t.insert(
            &format!("{BUSYBOX_PATHS}/busybox"),
            Node::file(b"/bin/sh\n".to_vec()),
            Meta::root(0o644),
        )
        .unwrap();
        busybox_links(&mut t, &[pkg("busybox", &[])]).unwrap();
        assert_eq!(link(&t, "usr/bin/sh").as_deref(), Some("/bin/busybox"));
    }

    #[test]
    fn the_fallback_for_alpine_3_16_and_3_17() {
        for version in ["1.35.0-r17", "1.35.0-r29", "1.35.0-r2"] {
            let mut t = tree_with(None);
            let mut p = pkg("busybox", &[]);
            p.version = version.into();
            let r = busybox_links(&mut t, &[p]).unwrap();
            let BusyboxLinks::Fallback {
                version: v,
                list_version,
                exact,
                made,
                kept,
                ..
            } = r
            else {
                panic!("{r:?}")
            };
            assert_eq!((v.as_str(), list_version, exact), (version, "1.35.0", true));
            // 313 listed; /bin/ls belongs to a package
            assert_eq!((made, kept), (312, 1));
            for (p, present) in [
                ("bin/sh", true),
                ("bin/ash", true),
                ("usr/bin/awk", true),
                ("usr/bin/vi", true),
                ("usr/bin/cpio", true),
                ("sbin/nologin", true),
                ("usr/sbin/lspci", true),
                ("usr/sbin/crond", true),
                ("usr/bin/[", true),
                ("bin/bash", false),
                ("usr/bin/dpkg", false),
                ("usr/bin/ssl_client", false),
                ("linuxrc", false),
            ] {
                assert_eq!(link(&t, p).is_some(), present, "{p}");
            }
            assert!(matches!(&t.get("bin/ls").unwrap().node, Node::File(_)));
            assert!(matches!(t.get(BUSYBOX).unwrap().node, Node::File(_)));
        }
    }

    #[test]
    fn the_fallback_tables_are_sound() {
        let dirs = ["/bin", "/sbin", "/usr/bin", "/usr/sbin"];
        let mut prev: Option<&str> = None;
        for (version, text) in BUSYBOX_FALLBACKS {
            // versions are plain, increasing x.y.z
            let parts: Vec<u32> = version.split('.').map(|n| n.parse().unwrap()).collect();
            assert_eq!(parts.len(), 3, "{version}");
            if let Some(p) = prev {
                let pp: Vec<u32> = p.split('.').map(|n| n.parse().unwrap()).collect();
                assert!(pp < parts, "{p} before {version}");
            }
            prev = Some(version);
            // every entry line names one of the four directories
            for line in text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let (dir, applets) = line.split_once(": ").expect(line);
                assert!(dirs.contains(&dir), "{version}: {line}");
                assert!(!applets.trim().is_empty(), "{version}: {line}");
            }
            let paths = busybox_fallback(&format!("{version}-r0")).unwrap().paths;
            assert!(paths.len() > 300, "{version}: {}", paths.len());
            let mut seen = std::collections::BTreeSet::new();
            let mut names = std::collections::BTreeSet::new();
            for p in &paths {
                assert!(p.starts_with('/'), "{p}");
                let (dir, name) = p.rsplit_once('/').unwrap();
                assert!(dirs.contains(&dir), "{p}");
                assert!(!name.is_empty() && name != "." && name != "..", "{p}");
                assert!(!p.contains("..") && !p.contains("//"), "{p}");
                assert_ne!(p, "/bin/busybox");
                assert_eq!(whittle_fs::normalize_archive_path(p).unwrap(), p[1..]);
                assert!(seen.insert(p.clone()), "{version}: {p} twice");
                // an applet lives in one directory only
                assert!(names.insert(name.to_string()), "{version}: {name} twice");
            }
            for must in ["/bin/sh", "/bin/ls", "/usr/bin/awk", "/bin/busybox"] {
                assert_eq!(
                    paths.iter().any(|p| p == must),
                    must != "/bin/busybox",
                    "{version}: {must}"
                );
            }
        }
    }

    #[test]
    fn busybox_versions_map_to_lists() {
        assert_eq!(busybox_upstream("1.35.0-r17"), "1.35.0");
        assert_eq!(busybox_upstream("1.36.1"), "1.36.1");
        assert_eq!(busybox_upstream("1.36.1-rc"), "1.36.1-rc");
        assert_eq!(busybox_upstream("1.36.1_p2-r0"), "1.36.1_p2");
        let f = busybox_fallback("1.35.0-r29").unwrap();
        assert!(f.exact && f.list_version == "1.35.0");
        for other in ["1.34.1-r7", "1.36.0-r7", "", "garbage"] {
            let f = busybox_fallback(other).unwrap();
            assert!(!f.exact && f.list_version == "1.35.0", "{other}");
        }
    }

    #[test]
    fn any_version_gets_a_list_and_upstream_is_a_prefix() {
        // whittle-build has no proptest dev-dependency: a generated sweep instead
        let parts = [
            "", "1", "1.35.0", "1.36.1", "-", "-r", "-r0", "-r17", "_p1", "-rc", "x", ".",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    let v = format!("{a}{b}{c}");
                    let u = busybox_upstream(&v);
                    assert!(v.starts_with(u), "{v}");
                    let f = busybox_fallback(&v).unwrap();
                    assert_eq!(f.exact, u == "1.35.0", "{v}");
                    assert!(!f.paths.is_empty());
                }
            }
        }
    }
}
