//! The APK (Alpine, Wolfi) package source and installation: signed `APKINDEX.tar.gz` per
//! repository, verified `.apk` files, extraction without running scripts, and the files apk-tools
//! and scanners read (`lib/apk/db/installed`, `etc/apk/{world,arch,repositories,keys}`).

use crate::{BuiltArch, Error, Events};
use std::collections::BTreeMap;
use whittle_apk::index::{Index, IndexEntry};
use whittle_apk::package::installed::{DirsBuilder, InstalledPackage, installed_db};
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
                line: match &a.tag {
                    Some(t) => format!("@{t} {}", a.url),
                    None => a.url.clone(),
                },
                url: a.url.trim_end_matches('/').to_string(),
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
                let pem = std::fs::read(&p.resolved).map_err(|e| {
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
        })?
    };
    Ok(LoadedApkRepo {
        repo: repo.clone(),
        index,
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

/// Extracts verified packages (in order) into `tree`; returns their installed-DB records and the
/// packages whose scripts were not run.
fn install(
    tree: &mut Tree,
    pkgs: &[(&IndexEntry, Option<&str>, Vec<u8>)],
) -> Result<(Vec<InstalledPackage>, Vec<String>, u64), Error> {
    let mut records = Vec::new();
    let mut scripts = Vec::new();
    let mut newest = 0u64;
    for (entry, tag, bytes) in pkgs {
        let pkg = ApkPackage::open(&entry.name, bytes).map_err(|e| pkg_err(&entry.name, e))?;
        if !pkg.scripts().is_empty() {
            let names: Vec<&str> = pkg
                .scripts()
                .iter()
                .map(|s| s.name.trim_start_matches('.'))
                .collect();
            scripts.push(format!("{} ({})", entry.name, names.join(", ")));
        }
        newest = newest.max(pkg.pkginfo().builddate.unwrap_or(0));
        let mut dirs = DirsBuilder::new();
        let mut fs_err = None;
        pkg.for_each_data_entry(|e| {
            dirs.add(&e);
            if e.path.is_empty() {
                return Ok(());
            }
            newest = newest.max(e.mtime);
            let node = match &e.kind {
                EntryKind::Dir => Node::Dir,
                EntryKind::File => Node::file(e.data.to_vec()),
                EntryKind::Symlink { target } => Node::symlink(target.to_string()),
                EntryKind::Hardlink { target } => Node::hardlink(target.to_string()),
            };
            let meta = Meta::new(
                e.mode & 0o7777,
                u32::try_from(e.uid).unwrap_or(0),
                u32::try_from(e.gid).unwrap_or(0),
            );
            if let Err(err) = tree.insert(e.path, node, meta) {
                fs_err.get_or_insert_with(|| pkg_err(&entry.name, format!("/{}: {err}", e.path)));
            }
            Ok::<(), whittle_apk::package::Error>(())
        })
        .map_err(|e| pkg_err(&entry.name, e))?;
        if let Some(e) = fs_err {
            return Err(e);
        }
        let mut rec = InstalledPackage::from_pkginfo(
            pkg.pkginfo(),
            &pkg.control_checksum_q1(),
            bytes.len() as u64,
            dirs.finish(),
        );
        rec.repository_tag = tag.map(str::to_string);
        records.push(rec);
    }
    Ok((records, scripts, newest))
}

/// Builds the image of one architecture from APK repositories.
pub(crate) fn build_arch(
    config: &Config,
    opts: &crate::BuildOptions,
    arch: &str,
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<BuiltArch, Error> {
    let a = whittle_config::Arch::parse(arch)
        .ok_or_else(|| Error::Unsupported(format!("unknown architecture {arch}")))?;
    let apk_arch = a
        .apk()
        .ok_or_else(|| Error::Unsupported(format!("{arch} has no APK architecture")))?;
    let (keyring, pems) = keyring(config, fetcher)?;
    let mut loaded = Vec::new();
    for r in repos(config) {
        let l = load(
            &r,
            apk_arch,
            &keyring,
            fetcher,
            opts.insecure_allow_unsigned_repositories,
            events,
        )?;
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
    let chosen = resolve(config, &loaded, apk_arch)?;
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

    // fetch (verified)
    let mut pkgs = Vec::new();
    for &(r, i) in &chosen {
        let l = &loaded[r];
        let entry = &l.index.entries[i];
        let bytes = fetch_package(&l.repo, apk_arch, entry, &keyring, fetcher)?;
        pkgs.push((entry, l.repo.tag.as_deref(), bytes));
    }

    // assemble
    let mut tree = crate::image_tree();
    tree.insert("tmp", Node::Dir, Meta::root(0o1777))?;
    let (records, scripts, newest) = install(&mut tree, &pkgs)?;
    if !scripts.is_empty() {
        events.step(&format!(
            "assemble  package scripts not run (whittle runs none): {}",
            scripts.join(", ")
        ));
    }
    let put = |t: &mut Tree, p: &str, d: Vec<u8>| crate::assemble::put_file(t, p, d, 0o644);
    put(
        &mut tree,
        "lib/apk/db/installed",
        installed_db(&records).into_bytes(),
    )?;
    let mut world: Vec<String> = config
        .contents
        .packages
        .iter()
        .map(|p| p.written.clone())
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
    let lines: Vec<String> = loaded
        .iter()
        .filter(|l| l.repo.in_image)
        .map(|l| l.repo.line.clone())
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
    crate::image::apply_accounts(&mut tree, config)?;
    crate::image::apply_paths(&mut tree, config)?;
    let mtime = opts.source_date_epoch.unwrap_or(newest);
    events.step(&format!(
        "assemble  {} entries, {:.2} MB, timestamp {mtime}",
        tree.len(),
        tree.total_size() as f64 / 1e6
    ));

    let layer = crate::layers::layer(&tree, mtime, fetcher.cache())?;
    let uncompressed_size = layer.uncompressed_size;
    let names: Vec<String> = records.iter().map(|r| r.name.clone()).collect();
    // the distribution from os-release; without one, from the repositories
    let guess = if loaded.iter().any(|l| l.repo.url.contains("wolfi")) {
        "wolfi"
    } else {
        "alpine"
    };
    let (distro, release) = crate::image::distro(&tree, guess);
    let sbom_packages = records
        .iter()
        .map(|r| whittle_sbom::SbomPackage {
            name: r.name.clone(),
            version: r.version.clone(),
            arch: r.arch.clone().unwrap_or_default(),
            purl: Some(whittle_sbom::apk_purl(
                &distro,
                &r.name,
                &r.version,
                r.arch.as_deref().unwrap_or(""),
                &release,
            )),
            source_name: r.origin.clone(),
            source_version: None,
            supplier: r.maintainer.clone(),
            license_declared: None,
            homepage: (!r.url.is_empty()).then(|| r.url.clone()),
            download_location: None,
            checksums: Vec::new(),
            files_analyzed: false,
        })
        .collect();
    let img = crate::image::image(config, arch, mtime, layer, &names, "APK")?;
    let sbom = crate::image::sbom(config, arch, mtime, &img, sbom_packages)?;
    Ok(BuiltArch {
        image: img,
        packages: names.len(),
        uncompressed_size,
        sbom,
    })
}

/// Resolves the config's packages over the loaded repositories (apk-tools semantics, see
/// `whittle_resolve::apk`); returns `(repository, entry)` positions in install order (by name).
fn resolve(
    config: &Config,
    loaded: &[LoadedApkRepo],
    apk_arch: &str,
) -> Result<Vec<(usize, usize)>, Error> {
    let repos: Vec<whittle_resolve::apk::ApkRepository> = loaded
        .iter()
        .map(|l| whittle_resolve::apk::ApkRepository {
            entries: &l.index.entries,
            tag: l.repo.tag.as_deref(),
        })
        .collect();
    let universe = whittle_resolve::apk::ApkUniverse::new(&repos, apk_arch)
        .map_err(|e| Error::Unsupported(format!("{}: {e}", config.origin)))?;
    let request = whittle_resolve::apk::ApkRequest {
        packages: config
            .contents
            .packages
            .iter()
            .map(|p| p.written.clone())
            .collect(),
    };
    let res =
        whittle_resolve::apk::resolve(&universe, &request).map_err(|source| Error::Resolve {
            arch: apk_arch.to_string(),
            source,
        })?;
    Ok(res
        .packages
        .iter()
        .map(|c| (c.entry.repo, c.entry.index))
        .collect())
}
