//! Assembly: the image's filesystem tree from verified `.deb` files — merged-/usr, no maintainer
//! scripts, docs dropped by default — plus the files scanners and runtimes need (`status.d`,
//! `/etc/passwd`, `/etc/group`; the OS files are [`crate::osfiles`]).

use crate::Error;
use crate::memory::{Account, MemoryBudget};
use std::collections::BTreeSet;
use std::sync::Arc;
use whittle_config::Contents;
use whittle_deb::alternatives::{Alternative, parse_postinst};
use whittle_deb::deb::{DebArchive, EntryKind};
use whittle_fetch::{Cache, Fetcher, ItemError, Progress, Request};
use whittle_fs::{FileData, Meta, Node, Tree, normalize_archive_path};

/// What assembling the packages produced besides the tree.
#[derive(Debug, Default)]
pub struct Assembled {
    /// The newest file time seen in any package (the default image timestamp).
    pub newest_mtime: u64,
    /// Packages that ship maintainer scripts which were not run (`preinst`, `postinst`, ...).
    pub scripts_skipped: Vec<String>,
    /// Paths shipped by more than one package (the later package in name order won).
    pub overlaps: Vec<String>,
    /// Number of files dropped as documentation.
    pub docs_dropped: usize,
    /// Number of package entries left out by `path-exclude`.
    pub paths_dropped: usize,
    /// The packages' `update-alternatives --install` calls (from their `postinst`), in install
    /// order; [`crate::native::apply_alternatives`] makes the links.
    pub alternatives: Vec<Alternative>,
    /// One warning per package that ships symlinks pointing above the root (see [`LinkCheck`]).
    pub link_warnings: Vec<String>,
    /// Per package, in install order: the paths it wrote and its origin (for layering).
    pub packages: Vec<crate::source::PackageFiles>,
}

/// The symlinks of one package whose target climbs above the root directory
/// ([`whittle_fs::symlink_climbs_above_root`]): kept as they are (they resolve inside the
/// image, and nothing is ever read or written outside the tree), but reported, once per package,
/// since no package needs one. Absolute targets that stay below `/` (`/etc/alternatives/x`) are
/// normal in packages and not reported.
#[derive(Debug, Default)]
pub(crate) struct LinkCheck {
    first: Option<String>,
    more: usize,
}

impl LinkCheck {
    /// Notes the symlink that landed at the tree path `path` with `target`.
    pub(crate) fn note(&mut self, path: &str, target: &str) {
        if !whittle_fs::symlink_climbs_above_root(path, target) {
            return;
        }
        if self.first.is_some() {
            self.more += 1;
        } else {
            let short = |s: &str| -> String {
                match s.char_indices().nth(160) {
                    Some((i, _)) => format!("{}...", &s[..i]),
                    None => s.to_string(),
                }
            };
            self.first = Some(format!("/{} -> {}", short(path), short(target)));
        }
    }

    /// The warning for `package`, when one of its links climbs above the root.
    pub(crate) fn warning(&self, package: &str) -> Option<String> {
        let first = self.first.as_ref()?;
        let more = match self.more {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        Some(format!(
            "package {package}: symlink {first}{more} points above the image's root directory; \
             it is kept and resolves inside the image (\"..\" stops at \"/\"), nothing outside the \
             image is read or written, but packages have no reason to ship such links: check \
             where this package comes from"
        ))
    }
}

/// Architectures whose Debian 12 systems have a `/lib64 -> usr/lib64` link.
fn has_lib64(arch: &str) -> bool {
    matches!(arch, "amd64" | "ppc64el" | "loong64")
}

/// The skeleton of a merged-/usr Debian 12 root: `/bin`, `/sbin`, `/lib` (and `/lib64` where the
/// architecture has it) as symlinks into `/usr`, plus the directories every image needs.
pub fn skeleton(arch: &str) -> Result<Tree, Error> {
    let mut tree = crate::image_tree();
    let dir = |t: &mut Tree, p: &str, mode: u32| t.insert(p, Node::Dir, Meta::root(mode));
    for d in [
        "usr/bin",
        "usr/sbin",
        "usr/lib",
        "etc",
        "home",
        "var/lib/dpkg/status.d",
    ] {
        dir(&mut tree, d, 0o755)?;
    }
    dir(&mut tree, "tmp", 0o1777)?;
    dir(&mut tree, "root", 0o700)?;
    for l in ["bin", "sbin", "lib"] {
        tree.insert(l, Node::symlink(format!("usr/{l}")), Meta::root(0o777))?;
    }
    if has_lib64(arch) {
        dir(&mut tree, "usr/lib64", 0o755)?;
        tree.insert("lib64", Node::symlink("usr/lib64"), Meta::root(0o777))?;
    }
    Ok(tree)
}

/// Whether `path` (a package path, normalized) is documentation left out by default: everything
/// under `usr/share/{doc,man,info,locale,lintian}` except `usr/share/doc/<pkg>/copyright` and the
/// `usr/share/doc/<pkg>` directory or link itself.
pub fn is_doc(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        let parts: Vec<&str> = rest.split('/').collect();
        return !(parts.len() == 1 || (parts.len() == 2 && parts[1] == "copyright"));
    }
    [
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "usr/share/lintian",
    ]
    .iter()
    .any(|p| {
        path.strip_prefix(p)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    })
}

/// One `.deb` read into memory, ready to be installed into a tree.
pub struct Unpacked {
    name: String,
    entries: Vec<(String, Node, Meta)>,
    control_name: String,
    status: String,
    md5sums: Option<String>,
    scripts: Vec<&'static str>,
    newest_mtime: u64,
    docs_dropped: usize,
    paths_dropped: usize,
    alternatives: Vec<Alternative>,
}

/// One verified `.deb` to install: its name, bytes and SHA-256 (the key of its decompressed data
/// archive in the cache).
pub struct DebInput<'a> {
    /// Package name.
    pub name: &'a str,
    /// The verified `.deb`.
    pub bytes: &'a [u8],
    /// Its SHA-256, lowercase hex.
    pub sha256: &'a str,
}

/// The cache key of the decompressed data archive of the package whose SHA-256 is `sha256`.
pub fn data_cache_key(sha256: &str) -> String {
    format!("data-tar:v1:{sha256}")
}

/// Reads one verified `.deb`, drawing what it keeps in memory from `budget`. Decompression is
/// the costly part: it runs in parallel, and the decompressed data archive is kept in the cache
/// as it streams by. Files of [`whittle_fs::INLINE_MAX`] bytes or more are not read into memory:
/// their content is a handle to their bytes in that decompressed archive ([`FileData::extent`]),
/// so memory does not grow with the image. A warm build reads the cached copy back as a stream,
/// verified against its sealed record (see [`Cache::open_derived`]), and its files point into
/// it: a copy that turns out wrong is dropped with a warning and the package is unpacked from
/// the `.deb` again; nothing read from it is used. Without a cache copy (a cache that cannot be
/// written) the archive streams into an anonymous spill file instead.
pub fn unpack_deb(
    deb_in: &DebInput<'_>,
    contents: &Contents,
    cache: &Cache,
    budget: &MemoryBudget,
) -> Result<Unpacked, Error> {
    // its large files hold its copy of the data archive open while the image is built
    crate::allow_open_files();
    let (name, deb_bytes) = (deb_in.name, deb_in.bytes);
    let pkg_err = |message: String| Error::Package {
        package: name.to_string(),
        message,
    };
    let deb = DebArchive::open(name, deb_bytes)
        .map_err(|e| pkg_err(e.to_string()))?
        .with_max_data_size(budget.limit())
        .with_inline_max(whittle_fs::INLINE_MAX);
    // once unpacked, what a warm build needs of the .deb besides its data archive, so that it
    // need not read it (nothing is kept of a package that is refused)
    let done = |u: Unpacked| -> Result<Unpacked, Error> {
        cache.put_derived(&control_cache_key(deb_in.sha256), &deb.control_record())?;
        Ok(u)
    };
    let key = data_cache_key(deb_in.sha256);
    let account = budget.account();
    let archive_size = deb_bytes.len() as u64;
    if let Some(u) = from_cached_copy(&deb, archive_size, &key, contents, cache, &account)? {
        return done(u);
    }
    if let Some(writer) = cache.create_derived(&key)
        && let Some(file) = writer.file()
    {
        let (files, whole) = unpack_through(
            &deb,
            Copy::Cache(Box::new(writer)),
            Backing::verified(file, &key),
            contents,
            &account,
        )?;
        let files = finish_unpack(&deb, archive_size, name, files, &account)?;
        if whole {
            return done(files);
        }
        // the copy its files point into could not be written whole: unpack again
        account.release_all();
    }
    let spill = crate::layers::spill_file(cache).map_err(|e| {
        pkg_err(format!(
            "cannot create a temporary file for its contents in the cache directory or {}: {e}",
            std::env::temp_dir().display()
        ))
    })?;
    let read_back = spill
        .try_clone()
        .map_err(|e| pkg_err(format!("temporary file: {e}")))?;
    let (files, whole) = unpack_through(
        &deb,
        Copy::Spill(spill, None),
        Backing {
            file: Arc::new(read_back),
            origin: None,
        },
        contents,
        &account,
    )?;
    let files = finish_unpack(&deb, archive_size, name, files, &account)?;
    if !whole {
        return Err(pkg_err(
            "cannot write its contents to a temporary file (disk full?)".into(),
        ));
    }
    done(files)
}

/// The cache key of what a warm build needs of the `.deb` whose SHA-256 is `sha256` besides its
/// data archive ([`DebArchive::control_record`]).
pub fn control_cache_key(sha256: &str) -> String {
    format!("deb-control:v1:{sha256}")
}

/// The package whose `.deb` (`size` bytes) has SHA-256 `sha256`, unpacked from the cache alone:
/// its control record and its decompressed data archive, derived entries kept when it was
/// unpacked before, both verified as they are read; the `.deb` is not read. `None` when either
/// is missing or the copy fails verification (then the `.deb` is unpacked).
pub fn unpack_cached(
    name: &str,
    (sha256, size): (&str, u64),
    contents: &Contents,
    cache: &Cache,
    budget: &MemoryBudget,
) -> Result<Option<Unpacked>, Error> {
    let key = data_cache_key(sha256);
    let Some(record) = cache.get_derived(&control_cache_key(sha256))? else {
        return Ok(None);
    };
    let Ok(deb) = DebArchive::from_control_record(name, &record) else {
        return Ok(None);
    };
    crate::allow_open_files();
    let deb = deb
        .with_max_data_size(budget.limit())
        .with_inline_max(whittle_fs::INLINE_MAX);
    from_cached_copy(&deb, size, &key, contents, cache, &budget.account())
}

/// `deb` unpacked from the verified copy of its data archive under `key`, when the cache has
/// one that verifies; its large files point into that copy.
fn from_cached_copy(
    deb: &DebArchive<'_>,
    archive_size: u64,
    key: &str,
    contents: &Contents,
    cache: &Cache,
    account: &Account<'_>,
) -> Result<Option<Unpacked>, Error> {
    if let Some(mut copy) = cache.open_derived(key)?
        && let Ok(file) = copy.file()
    {
        let backing = Backing::verified(file, key);
        let files = read_files(deb, &mut copy, contents, account, &backing);
        if copy.finish() {
            return finish_unpack(deb, archive_size, deb.origin(), files, account).map(Some);
        }
        account.release_all();
    }
    Ok(None)
}

/// Decompresses `deb`'s data archive into `copy` while walking it; the files left unread point
/// into `backing` (another handle to `copy`'s file). `true` when the copy holds the whole stream.
fn unpack_through(
    deb: &DebArchive<'_>,
    copy: Copy,
    backing: Backing,
    contents: &Contents,
    account: &Account<'_>,
) -> Result<(Result<Files, whittle_deb::deb::Error>, bool), Error> {
    use std::io::Read;
    let inner = deb.data_reader().map_err(|e| Error::Package {
        package: deb.origin().to_string(),
        message: e.to_string(),
    })?;
    let mut tee = Tee {
        inner,
        copy,
        account,
    };
    let files = read_files(deb, &mut tee, contents, account, &backing);
    // the rest of the stream (the tar's end blocks) completes the copy; it is as untrusted as
    // the rest: a tar can be followed by any amount of data, all of which would land on disk
    let limit = account.limit();
    let rest = match &files {
        Ok(_) => match std::io::copy(&mut (&mut tee).take(limit), &mut std::io::sink()) {
            Ok(n) => Some(n),
            // a decompression error (a bad check at the stream's end), not the copy's: those
            // are kept in `tee.copy`
            Err(e) if !account.disk_exceeded() => {
                return Err(Error::Package {
                    package: deb.origin().to_string(),
                    message: format!(
                        "its data archive cannot be read to its end: {e}; the package is \
                         corrupt"
                    ),
                });
            }
            Err(_) => None,
        },
        Err(_) => None,
    };
    if rest == Some(limit) {
        return Err(Error::Package {
            package: deb.origin().to_string(),
            message: format!(
                "its data archive goes on for {limit} bytes or more after the end of its tar: \
                 the package is broken or a decompression bomb"
            ),
        });
    }
    if account.disk_exceeded() {
        return Err(Error::Package {
            package: deb.origin().to_string(),
            message: format!(
                "the packages of this image decompress to more than {} bytes on disk in all, \
                 the most one image may hold; an image this large is refused (a decompression \
                 bomb? else leave packages out)",
                account.disk_limit()
            ),
        });
    }
    let drained = rest.is_some();
    let whole = drained
        && match tee.copy {
            Copy::Cache(w) => w.commit(),
            Copy::Spill(_, failed) => failed.is_none(),
        };
    Ok((files, whole))
}

/// Where a [`Tee`] copies the stream to.
enum Copy {
    /// The cache's entry for the package's data archive.
    Cache(Box<whittle_fetch::DerivedWriter>),
    /// An anonymous spill file, and the first write error.
    Spill(std::fs::File, Option<std::io::Error>),
}

/// A reader that also feeds what it reads to a copy.
/// What it copies is drawn from the build's disk budget ([`Account::draw_disk`]).
struct Tee<'a, R> {
    inner: R,
    copy: Copy,
    account: &'a Account<'a>,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::Write;
        let n = self.inner.read(buf)?;
        if !self.account.draw_disk(n as u64) {
            return Err(std::io::Error::other(
                "the disk budget for unpacked packages is spent",
            ));
        }
        let got = buf.get(..n).unwrap_or_default();
        match &mut self.copy {
            Copy::Cache(w) => w.feed(got),
            Copy::Spill(f, failed @ None) => {
                if let Err(e) = f.write_all(got) {
                    *failed = Some(e);
                }
            }
            Copy::Spill(_, Some(_)) => {}
        }
        Ok(n)
    }
}

/// The file a package's large files point into, and the key naming its content when it is the
/// package's decompressed data archive in the cache (then a layer made of it can be found again
/// without reading it: [`whittle_fs::tar_recipe`]).
struct Backing {
    file: Arc<std::fs::File>,
    origin: Option<Arc<str>>,
}

impl Backing {
    /// The cache copy under `key`, being verified or written whole.
    fn verified(file: std::fs::File, key: &str) -> Self {
        Backing {
            file: Arc::new(file),
            origin: Some(Arc::from(key)),
        }
    }

    fn extent(&self, offset: u64, len: u64) -> FileData {
        match &self.origin {
            Some(o) => FileData::extent_of(o.clone(), self.file.clone(), offset, len),
            None => FileData::extent(self.file.clone(), offset, len),
        }
    }
}

/// What [`read_files`] took from a package's data archive.
struct Files {
    entries: Vec<(String, Node, Meta)>,
    newest_mtime: u64,
    docs_dropped: usize,
    paths_dropped: usize,
    left_out: BTreeSet<String>,
    bad_owner: Option<String>,
}

/// The entries of `deb`'s data archive read from `reader`, without what the image leaves out;
/// every file kept in memory is drawn from `account` (a sparse file keeps more than its archive
/// holds); the files the walk left unread are handles into `copy`, which holds (or will hold) the
/// same stream.
fn read_files(
    deb: &DebArchive<'_>,
    reader: impl std::io::Read,
    contents: &Contents,
    account: &Account<'_>,
    copy: &Backing,
) -> Result<Files, whittle_deb::deb::Error> {
    let mut out = Files {
        entries: Vec::new(),
        newest_mtime: 0,
        docs_dropped: 0,
        paths_dropped: 0,
        left_out: BTreeSet::new(),
        bad_owner: None,
    };
    let mut kept: u64 = 0;
    deb.for_each_entry_of(reader, |entry| {
        let path = entry.path;
        if path.is_empty() {
            return Ok(());
        }
        if !contents.include_docs && is_doc(path) {
            out.docs_dropped += 1;
            out.left_out.insert(path.to_string());
            return Ok(());
        }
        if contents.path_excluded(path) {
            out.paths_dropped += 1;
            out.left_out.insert(path.to_string());
            return Ok(());
        }
        kept = kept.saturating_add(entry.data.len() as u64);
        if !account.grow_to(kept) {
            return Err(whittle_deb::deb::Error::TooLarge {
                origin: deb.origin().to_string(),
                member: deb.data_member().to_string(),
                limit: 0,
            });
        }
        out.newest_mtime = out.newest_mtime.max(entry.mtime);
        let node = match &entry.kind {
            EntryKind::Dir => Node::Dir,
            EntryKind::File => match entry.data_offset {
                Some(at) => Node::file(copy.extent(at, entry.size)),
                None => Node::file(entry.data),
            },
            EntryKind::Symlink { target } => Node::symlink(target.to_string()),
            EntryKind::Hardlink { target } => Node::hardlink(target.to_string()),
        };
        // owner ids beyond 32 bits cannot be written to a layer: refused below
        let uid = u32::try_from(entry.uid).unwrap_or(u32::MAX);
        let gid = u32::try_from(entry.gid).unwrap_or(u32::MAX);
        if uid == u32::MAX || gid == u32::MAX {
            out.bad_owner.get_or_insert_with(|| path.to_string());
        }
        out.entries.push((
            path.to_string(),
            node,
            Meta::new(entry.mode & 0o7777, uid, gid),
        ));
        Ok(())
    })?;
    Ok(out)
}

/// The unpacked package from what [`read_files`] gave; a spent budget (or a data archive past
/// the package size cap, which is the budget's limit) is refused naming the package and the
/// limit.
fn finish_unpack(
    deb: &DebArchive<'_>,
    archive_size: u64,
    name: &str,
    files: Result<Files, whittle_deb::deb::Error>,
    account: &Account<'_>,
) -> Result<Unpacked, Error> {
    let pkg_err = |message: String| Error::Package {
        package: name.to_string(),
        message,
    };
    let files = match files {
        Ok(f) => f,
        Err(_) if account.exceeded() => return Err(account.refused(name, archive_size)),
        Err(whittle_deb::deb::Error::TooLarge { .. }) => {
            return Err(account.refused(name, archive_size));
        }
        Err(e) => return Err(pkg_err(e.to_string())),
    };
    if let Some(path) = files.bad_owner {
        return Err(pkg_err(format!("/{path}: owner id out of range")));
    }
    let mut out = Unpacked {
        name: name.to_string(),
        entries: files.entries,
        control_name: deb.control().get("Package").unwrap_or(name).to_string(),
        status: whittle_deb::status::status_d_entry(deb.control()),
        md5sums: deb
            .md5sums()
            .and_then(|m| without_paths(m, &files.left_out)),
        scripts: [
            "preinst", "postinst", "prerm", "postrm", "config", "triggers",
        ]
        .into_iter()
        .filter(|s| deb.has_control_member(s))
        .collect(),
        newest_mtime: files.newest_mtime,
        docs_dropped: files.docs_dropped,
        paths_dropped: files.paths_dropped,
        alternatives: deb.postinst().map(parse_postinst).unwrap_or_default(),
    };
    add_conffile_sums(&mut out, deb.conffiles());
    Ok(out)
}

/// `md5sums` without the lines of files the image does not carry (left-out docs and
/// `path-exclude` matches), so that scanners reading it are told only about files that are there.
fn without_paths(md5sums: &str, left_out: &BTreeSet<String>) -> Option<String> {
    if left_out.is_empty() {
        return Some(md5sums.to_string());
    }
    let kept: String = md5sums
        .lines()
        .filter(|l| {
            l.split_once("  ")
                .is_none_or(|(_, p)| !left_out.contains(p.trim_start_matches("./")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// Appends the package's conffiles to its `md5sums` (a `.deb`'s `md5sums` leaves them out; dpkg
/// records them in `Conffiles:` when it configures the package, which whittle never does), so
/// that scanners and `whittle audit` see them as owned by the package.
fn add_conffile_sums(out: &mut Unpacked, conffiles: Option<&str>) {
    use md5::Digest;
    let Some(conffiles) = conffiles else { return };
    let mut sums = out.md5sums.take().unwrap_or_default();
    for line in conffiles.lines() {
        // `/etc/x` or `remove-on-upgrade /etc/x`: the path is the last word
        let Some(path) = line.split_whitespace().last() else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        let listed = sums
            .lines()
            .any(|l| l.split_once("  ").is_some_and(|(_, p)| p == rel));
        let content = out.entries.iter().find_map(|(p, node, _)| match node {
            Node::File(data) if p == rel => Some(data),
            _ => None,
        });
        if let (false, Some(data)) = (listed, content) {
            if !sums.is_empty() && !sums.ends_with('\n') {
                sums.push('\n');
            }
            let mut md5 = md5::Md5::new();
            if std::io::copy(&mut data.reader(), &mut md5).is_err() {
                continue; // unreadable: the layer write reports it
            }
            sums.push_str(&format!("{}  {rel}\n", hex::encode(md5.finalize())));
        }
    }
    out.md5sums = (!sums.is_empty()).then_some(sums);
}

/// Installs an unpacked package into the tree and writes its `status.d` entries.
pub fn install(tree: &mut Tree, pkg: Unpacked, out: &mut Assembled) -> Result<(), Error> {
    let name = pkg.name;
    if !pkg.scripts.is_empty() {
        out.scripts_skipped
            .push(format!("{name} ({})", pkg.scripts.join(", ")));
    }
    out.newest_mtime = out.newest_mtime.max(pkg.newest_mtime);
    out.docs_dropped += pkg.docs_dropped;
    out.paths_dropped += pkg.paths_dropped;
    out.alternatives.extend(pkg.alternatives);
    let mut links = LinkCheck::default();
    let mut files = crate::source::PackageFiles {
        origin: crate::source::deb_origin(&pkg.status, &name),
        name: name.clone(),
        newest_mtime: pkg.newest_mtime,
        ..Default::default()
    };
    for (path, node, meta) in pkg.entries {
        let target = match &node {
            Node::Symlink(t) => Some(t.clone()),
            _ => None,
        };
        let ins = tree.insert(&path, node, meta).map_err(|e| Error::Package {
            package: name.clone(),
            message: format!("/{path}: {e}"),
        })?;
        if let Some(t) = target {
            links.note(&ins.path, &t);
        }
        if ins.outcome != whittle_fs::Outcome::KeptSymlink {
            files.paths.push(ins.path.clone());
        }
        if let whittle_fs::Outcome::Replaced(prev) = ins.outcome
            && !prev.node.is_dir()
        {
            out.overlaps
                .push(format!("/{} (replaced by {name})", ins.path));
        }
    }
    out.link_warnings.extend(links.warning(&name));
    let dir = "var/lib/dpkg/status.d";
    let status = format!("{dir}/{}", pkg.control_name);
    put_file(tree, &status, pkg.status.into_bytes(), 0o644)?;
    files.paths.push(status);
    if let Some(md5) = pkg.md5sums {
        let sums = format!("{dir}/{}.md5sums", pkg.control_name);
        put_file(tree, &sums, md5.into_bytes(), 0o644)?;
        files.paths.push(sums);
    }
    out.packages.push(files);
    Ok(())
}

/// The packages [`install_all`] fetches and installs.
pub struct Debs<'a> {
    /// Package names, in install order.
    pub names: &'a [&'a str],
    /// Their downloads, in the same order.
    pub reqs: &'a [Request],
    /// What fetches them (its cache also keeps their decompressed data archives).
    pub fetcher: &'a Fetcher,
    /// Shown the downloads' progress.
    pub progress: &'a dyn Progress,
}

/// Fetches the packages and unpacks each on all cores as soon as it is there, while the others
/// are still downloading ([`Fetcher::fetch_each`]), all drawing from one memory `budget`; then
/// installs them in the order given (deterministic). The first failure stops the others from
/// starting packages; the one reported is the first in package order. A download's failure is
/// handed back as such ([`ItemError::Fetch`]) for the caller to explain.
pub fn install_all(
    tree: &mut Tree,
    debs: &Debs<'_>,
    contents: &Contents,
    budget: &MemoryBudget,
    out: &mut Assembled,
) -> Result<(), ItemError<Error>> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let cache = debs.fetcher.cache();
    let unpacked = debs
        .fetcher
        .fetch_each_blob(debs.reqs, debs.progress, workers, |i, blob| {
            let name = debs.names.get(i).copied().unwrap_or_default();
            let req = blob.request();
            let sha256 = req.sha256.as_str();
            // warm: from the cache alone, the .deb left unread
            if let Some(u) = unpack_cached(name, (sha256, req.size), contents, cache, budget)
                .map_err(ItemError::Use)?
            {
                return Ok(u);
            }
            let bytes = blob.bytes().map_err(ItemError::Fetch)?;
            let input = DebInput {
                name,
                bytes: &bytes,
                sha256,
            };
            unpack_deb(&input, contents, cache, budget).map_err(ItemError::Use)
        })?;
    for u in unpacked {
        install(tree, u, out).map_err(ItemError::Use)?;
    }
    Ok(())
}

/// Writes a root-owned regular file.
pub fn put_file(tree: &mut Tree, path: &str, data: Vec<u8>, mode: u32) -> Result<(), Error> {
    tree.insert(path, Node::file(data), Meta::root(mode))?;
    Ok(())
}

/// One account of the image.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory (absolute).
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One group of the image.
#[derive(Debug, Clone)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Numeric group id.
    pub gid: u32,
    /// Member user names.
    pub members: Vec<String>,
}

/// The home Debian gives accounts that have none (`nobody`): never created.
const NO_HOME: &str = "/nonexistent";

/// The largest `/etc/passwd` or `/etc/group` read.
const MAX_ACCOUNTS_FILE: u64 = 16 << 20;

/// The text of a regular file of the tree, if it is one, is UTF-8 and at most
/// [`MAX_ACCOUNTS_FILE`] bytes.
fn file_text(tree: &Tree, path: &str) -> Option<String> {
    match &tree.get(path)?.node {
        Node::File(d) => d.text_at_most(MAX_ACCOUNTS_FILE),
        _ => None,
    }
}

/// Whether a passwd/group text already has an entry named `name`.
fn has_entry(text: &str, name: &str) -> bool {
    text.lines().any(|l| l.split(':').next() == Some(name))
}

/// Writes `/etc/passwd` and `/etc/group` and the users' home directories, owned by them. When a
/// package shipped these files (Alpine's `alpine-baselayout`), the configured accounts are
/// appended to them; otherwise they hold root plus the configured accounts. A home of `/` or
/// `/nonexistent` (Debian's name for "no home", as `nobody` has) is not created.
pub fn write_accounts(tree: &mut Tree, users: &[User], groups: &[Group]) -> Result<(), Error> {
    let mut passwd = file_text(tree, "etc/passwd")
        .unwrap_or_else(|| String::from("root:x:0:0:root:/root:/sbin/nologin\n"));
    let mut group = file_text(tree, "etc/group").unwrap_or_else(|| String::from("root:x:0:\n"));
    for text in [&mut passwd, &mut group] {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
    }
    let check = |account: &str, field: &'static str, value: &str| {
        if whittle_config::passwd_field_ok(value) {
            Ok(())
        } else {
            Err(Error::AccountField {
                account: account
                    .chars()
                    .take(64)
                    .flat_map(char::escape_debug)
                    .collect(),
                field,
                value: value
                    .chars()
                    .take(80)
                    .flat_map(char::escape_debug)
                    .collect(),
            })
        }
    };
    for u in users {
        for (field, value) in [("name", &u.name), ("home", &u.home), ("shell", &u.shell)] {
            check(&u.name, field, value)?;
        }
    }
    for g in groups {
        check(&g.name, "name", &g.name)?;
        for m in &g.members {
            check(&g.name, "member", m)?;
        }
    }
    let mut seen = BTreeSet::new();
    for u in users {
        if has_entry(&passwd, &u.name) {
            continue;
        }
        passwd.push_str(&format!(
            "{}:x:{}:{}:{}:{}:{}\n",
            u.name, u.uid, u.gid, u.name, u.home, u.shell
        ));
        if u.home != "/" && u.home != NO_HOME && seen.insert(u.home.clone()) {
            let home = u.home.trim_start_matches('/');
            tree.insert(home, Node::Dir, Meta::new(0o755, u.uid, u.gid))?;
        }
    }
    for g in groups {
        if has_entry(&group, &g.name) {
            continue;
        }
        group.push_str(&format!("{}:x:{}:{}\n", g.name, g.gid, g.members.join(",")));
    }
    put_file(tree, "etc/passwd", passwd.into_bytes(), 0o644)?;
    put_file(tree, "etc/group", group.into_bytes(), 0o644)?;
    Ok(())
}

/// Normalizes a config path (`/usr/bin/x`) into a tree path (`usr/bin/x`).
pub fn tree_path(path: &str) -> Result<String, Error> {
    normalize_archive_path(path).map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.deb` whose `data.tar.xz` holds `count` files of `size` zero bytes (`path`, `path.1`,
    /// ...), made as a stream (the zeros are never held in memory).
    fn zeros_deb(name: &str, path: &str, size: u64, count: usize) -> Vec<u8> {
        use std::io::Read;
        let xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        let mut data = tar::Builder::new(xz);
        for i in 0..count {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(size);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_700_000_000);
            let p = if i == 0 {
                path.to_string()
            } else {
                format!("{path}.{i}")
            };
            data.append_data(&mut h, p, std::io::repeat(0).take(size))
                .unwrap();
        }
        let data = data.into_inner().unwrap().finish().unwrap();
        let mut control = tar::Builder::new(Vec::new());
        let text = format!("Package: {name}\nVersion: 1\nArchitecture: amd64\n");
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        control
            .append_data(&mut h, "./control", text.as_bytes())
            .unwrap();
        let control = control.into_inner().unwrap();
        let mut ar = ar::Builder::new(Vec::new());
        for (member, bytes) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control),
            ("data.tar.xz", data),
        ] {
            let h = ar::Header::new(member.as_bytes().to_vec(), bytes.len() as u64);
            ar.append(&h, bytes.as_slice()).unwrap();
        }
        ar.into_inner().unwrap()
    }

    fn input<'a>(name: &'a str, deb: &'a [u8], sha: &'a str) -> DebInput<'a> {
        DebInput {
            name,
            bytes: deb,
            sha256: sha,
        }
    }

    fn cache(dir: &std::path::Path) -> Cache {
        Cache::open_with_key(dir.join("cache"), Some(&dir.join("key"))).unwrap()
    }

    fn peak_rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// A 40 KB `.deb` holding 256 MiB of zeros (in 8 MiB files, or in one file), against a
    /// 32 MiB budget: refused, naming the package and the limit, and the process never held
    /// much more than the budget. Measured in a child process (this test run again), whose peak
    /// memory is its own.
    #[test]
    fn a_decompression_bomb_is_refused_with_bounded_memory() {
        if let Some(dir) = std::env::var_os(CHILD) {
            let dir = std::path::Path::new(&dir);
            let deb = std::fs::read(dir.join("bomb.deb")).unwrap();
            let sha = whittle_fetch::sha256_hex(&deb);
            let budget = MemoryBudget::new(32 << 20);
            let r = unpack_deb(
                &input("bomb", &deb, &sha),
                &Contents::default(),
                &cache(dir),
                &budget,
            );
            let err = r.err().map(|e| e.to_string()).unwrap_or_default();
            println!("ERROR: {err}");
            println!("PEAK: {}", peak_rss_kib());
            return;
        }
        for (size, count) in [(8 << 20, 32), (256 << 20, 1)] {
            bomb_in_child(size, count);
        }
    }

    const CHILD: &str = "WHITTLE_TEST_BOMB_CHILD";

    fn bomb_in_child(size: u64, count: usize) {
        let dir = tempfile::tempdir().unwrap();
        let deb = zeros_deb("bomb", "./usr/share/zeros", size, count);
        assert!(deb.len() < 1 << 20, "{}", deb.len());
        std::fs::write(dir.path().join("bomb.deb"), &deb).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "assemble::tests::a_decompression_bomb_is_refused_with_bounded_memory",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        let err = stdout
            .lines()
            .find_map(|l| l.split_once("ERROR: ").map(|(_, e)| e))
            .unwrap_or_default();
        for part in [
            "package bomb",
            "limit 33554432 bytes",
            "WHITTLE_UNPACK_LIMIT=",
        ] {
            assert!(err.contains(part), "{stdout}");
        }
        let peak: u64 = stdout
            .lines()
            .find_map(|l| l.split_once("PEAK: ").map(|(_, p)| p))
            .and_then(|v| v.parse().ok())
            .unwrap();
        // the budget (32 MiB) plus the process itself; 256 MiB if the zeros were buffered
        assert!(peak < 160 << 10, "peak RSS {peak} KiB");
        // nothing of it was kept in the cache
        let blobs = std::fs::read_dir(dir.path().join("cache/blobs/sha256")).unwrap();
        assert_eq!(blobs.count(), 0);
    }

    /// Packages unpacked in parallel draw from one budget: two packages of 3 MiB each (in
    /// files small enough to be held in memory) fit in 7 MiB, not in 5 MiB, whichever thread
    /// gets there first.
    #[test]
    fn packages_unpacked_in_parallel_share_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let reqs: Vec<Request> = ["a", "b"]
            .map(|name| {
                let deb = zeros_deb(name, &format!("./usr/lib/{name}"), 60 << 10, 52);
                let path = dir.path().join(format!("{name}.deb"));
                std::fs::write(&path, &deb).unwrap();
                Request {
                    url: path.display().to_string(),
                    sha256: whittle_fetch::sha256_hex(&deb),
                    size: deb.len() as u64,
                }
            })
            .into();
        let fetcher = Fetcher::new(cache(dir.path()), false);
        let debs = Debs {
            names: &["a", "b"],
            reqs: &reqs,
            fetcher: &fetcher,
            progress: &whittle_fetch::NoProgress,
        };
        let contents = Contents::default();
        for warm in [false, true] {
            let small = MemoryBudget::new(5 << 20);
            let err = install_all(
                &mut skeleton("amd64").unwrap(),
                &debs,
                &contents,
                &small,
                &mut Assembled::default(),
            )
            .unwrap_err();
            let err = match err {
                ItemError::Use(e) => e.to_string(),
                ItemError::Fetch(e) => panic!("{e}"),
            };
            assert!(err.contains("limit 5242880 bytes"), "warm={warm}: {err}");
            let big = MemoryBudget::new(7 << 20);
            let mut tree = skeleton("amd64").unwrap();
            install_all(&mut tree, &debs, &contents, &big, &mut Assembled::default())
                .unwrap_or_else(|_| panic!("warm={warm}"));
            assert!(tree.get("usr/lib/a").is_some() && tree.get("usr/lib/b").is_some());
            assert!(big.used() <= big.limit() && big.used() >= 6 << 20);
        }
    }

    /// A warm build unpacks a package from the cache alone — its control record and its
    /// decompressed data archive — without reading the `.deb`: here the cached `.deb` is
    /// damaged in place and its source gone, so any read of it would fail; the tree is the one
    /// the cold build made. A damaged control record is not used: the `.deb` is read again.
    #[test]
    fn a_warm_unpack_does_not_read_the_deb() {
        let dir = tempfile::tempdir().unwrap();
        let deb = zeros_deb("w", "./usr/lib/w", 100 << 10, 3);
        let sha = whittle_fetch::sha256_hex(&deb);
        let src = dir.path().join("w.deb");
        std::fs::write(&src, &deb).unwrap();
        let reqs = [Request {
            url: src.display().to_string(),
            sha256: sha.clone(),
            size: deb.len() as u64,
        }];
        let fetcher = Fetcher::new(cache(dir.path()), false);
        let debs = Debs {
            names: &["w"],
            reqs: &reqs,
            fetcher: &fetcher,
            progress: &whittle_fetch::NoProgress,
        };
        let (contents, budget) = (Contents::default(), MemoryBudget::new(64 << 20));
        let build = || {
            let mut tree = skeleton("amd64").unwrap();
            install_all(
                &mut tree,
                &debs,
                &contents,
                &budget,
                &mut Assembled::default(),
            )
            .map(|()| tree)
        };
        let cold = build().unwrap_or_else(|_| panic!("cold"));
        assert!(matches!(
            cold.get("usr/lib/w.2").map(|e| &e.node),
            Some(Node::File(d)) if d.len() == 100 << 10
        ));
        let blob = dir.path().join("cache/blobs/sha256").join(&sha);
        std::fs::write(&blob, vec![b'x'; deb.len()]).unwrap();
        std::fs::remove_file(&src).unwrap();
        let warm = build().unwrap_or_else(|_| panic!("warm read the .deb"));
        assert!(
            cold.walk()
                .map(|(p, e)| (p, e.meta))
                .eq(warm.walk().map(|(p, e)| (p, e.meta)))
        );
        for (p, e) in cold.walk() {
            assert_eq!(Some(&e.node), warm.get(p).map(|w| &w.node), "/{p}");
        }
        // a control record that does not verify is never used: the damaged .deb is read
        let record = fetcher
            .cache()
            .get_derived(&control_cache_key(&sha))
            .unwrap()
            .unwrap();
        let cached = unpack_cached(
            "w",
            (&sha, deb.len() as u64),
            &contents,
            fetcher.cache(),
            &budget,
        );
        assert!(matches!(cached, Ok(Some(_))));
        let record_blob = dir
            .path()
            .join("cache/blobs/sha256")
            .join(whittle_fetch::sha256_hex(&record));
        std::fs::write(&record_blob, vec![b'x'; record.len()]).unwrap();
        assert!(matches!(
            unpack_cached(
                "w",
                (&sha, deb.len() as u64),
                &contents,
                fetcher.cache(),
                &budget
            ),
            Ok(None)
        ));
        assert!(build().is_err(), "the damaged .deb was not read");
    }

    /// Packages that cannot be unpacked: the one reported is the first in package order, though
    /// a larger broken one after it starts first (largest first) and fails first; nothing is
    /// installed.
    #[test]
    fn the_first_package_in_order_that_fails_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let good = zeros_deb("good", "./usr/lib/good", 1 << 10, 1);
        let debs: [(&str, Vec<u8>); 3] = [
            ("good", good),
            ("broken-small", b"not a deb".to_vec()),
            ("broken-large", vec![b'x'; 1 << 20]),
        ];
        let reqs: Vec<Request> = debs
            .iter()
            .map(|(name, deb)| {
                let path = dir.path().join(format!("{name}.deb"));
                std::fs::write(&path, deb).unwrap();
                Request {
                    url: path.display().to_string(),
                    sha256: whittle_fetch::sha256_hex(deb),
                    size: deb.len() as u64,
                }
            })
            .collect();
        let fetcher = Fetcher::new(cache(dir.path()), false);
        let names = debs.map(|(n, _)| n);
        let all = Debs {
            names: &names,
            reqs: &reqs,
            fetcher: &fetcher,
            progress: &whittle_fetch::NoProgress,
        };
        let mut tree = skeleton("amd64").unwrap();
        let err = install_all(
            &mut tree,
            &all,
            &Contents::default(),
            &MemoryBudget::new(64 << 20),
            &mut Assembled::default(),
        )
        .unwrap_err();
        match err {
            ItemError::Use(Error::Package { package, .. }) => assert_eq!(package, "broken-small"),
            e => panic!("unexpected {e:?}"),
        }
        assert!(tree.get("usr/lib/good").is_none(), "nothing installed");
    }

    #[test]
    fn md5sums_keep_only_files_the_image_carries() {
        let sums = "aa  usr/bin/gawk\nbb  usr/share/doc/gawk/NEWS.gz\ncc  usr/lib/x/gconv/A.so\n";
        let gone: BTreeSet<String> = ["usr/share/doc/gawk/NEWS.gz", "usr/lib/x/gconv/A.so"]
            .map(String::from)
            .into();
        assert_eq!(
            without_paths(sums, &gone).as_deref(),
            Some("aa  usr/bin/gawk\n")
        );
        assert_eq!(without_paths(sums, &BTreeSet::new()).as_deref(), Some(sums));
        let all: BTreeSet<String> = [
            "usr/bin/gawk",
            "usr/share/doc/gawk/NEWS.gz",
            "usr/lib/x/gconv/A.so",
        ]
        .map(String::from)
        .into();
        assert_eq!(without_paths(sums, &all), None);
    }

    #[test]
    fn conffiles_join_the_md5sums() {
        let file = |p: &str, d: &[u8]| {
            (
                p.to_string(),
                Node::file(d.to_vec()),
                Meta::new(0o644, 0, 0),
            )
        };
        let mut u = Unpacked {
            name: "gawk".into(),
            entries: vec![
                file("etc/profile.d/gawk.sh", b""),
                file("etc/listed.conf", b"x"),
                file("usr/bin/gawk", b"elf"),
            ],
            control_name: "gawk".into(),
            status: String::new(),
            md5sums: Some("0123  usr/bin/gawk\n0456  etc/listed.conf".into()),
            scripts: vec![],
            newest_mtime: 0,
            docs_dropped: 0,
            paths_dropped: 0,
            alternatives: Vec::new(),
        };
        add_conffile_sums(
            &mut u,
            Some("/etc/profile.d/gawk.sh\n/etc/listed.conf\nremove-on-upgrade /etc/gone\n"),
        );
        // md5 of the empty file; the already listed one and the missing one are left alone
        assert_eq!(
            u.md5sums.as_deref(),
            Some(
                "0123  usr/bin/gawk\n0456  etc/listed.conf\n\
                 d41d8cd98f00b204e9800998ecf8427e  etc/profile.d/gawk.sh\n"
            )
        );
        let mut none = Unpacked { md5sums: None, ..u };
        add_conffile_sums(&mut none, None);
        assert_eq!(none.md5sums, None, "no conffiles: nothing to add");
    }

    #[test]
    fn docs_are_recognized_but_copyright_kept() {
        assert!(is_doc("usr/share/doc/gawk/NEWS.gz"));
        assert!(is_doc("usr/share/doc/gawk/examples/x.awk"));
        assert!(!is_doc("usr/share/doc/gawk/copyright"));
        assert!(!is_doc("usr/share/doc/gawk"));
        assert!(is_doc("usr/share/man/man1/gawk.1.gz"));
        assert!(is_doc("usr/share/locale/de/LC_MESSAGES/gawk.mo"));
        assert!(!is_doc("usr/share/awk/ord.awk"));
        assert!(is_doc("usr/share/man"));
        assert!(!is_doc("usr/share/manifest"));
        assert!(!is_doc("usr/bin/gawk"));
    }

    #[test]
    fn skeleton_is_merged_usr() {
        let mut t = skeleton("amd64").unwrap();
        t.insert("bin/x", Node::file(b"x".to_vec()), Meta::root(0o755))
            .unwrap();
        t.insert("lib64/ld.so", Node::file(b"x".to_vec()), Meta::root(0o755))
            .unwrap();
        assert!(t.get("usr/bin/x").is_some());
        assert!(t.get("usr/lib64/ld.so").is_some());
        assert!(skeleton("arm64").unwrap().get("lib64").is_none());
    }

    #[test]
    fn accounts_files() {
        let mut t = skeleton("amd64").unwrap();
        write_accounts(
            &mut t,
            &[
                User {
                    name: "nonroot".into(),
                    uid: 65532,
                    gid: 65532,
                    home: "/home/nonroot".into(),
                    shell: "/sbin/nologin".into(),
                },
                User {
                    name: "nobody".into(),
                    uid: 65534,
                    gid: 65534,
                    home: "/nonexistent".into(),
                    shell: "/sbin/nologin".into(),
                },
            ],
            &[Group {
                name: "nonroot".into(),
                gid: 65532,
                members: vec![],
            }],
        )
        .unwrap();
        let Some(e) = t.get("etc/passwd") else {
            panic!("no passwd")
        };
        let Node::File(data) = &e.node else {
            panic!("not a file")
        };
        assert_eq!(
            std::str::from_utf8(&data.read_to_vec().unwrap()).unwrap(),
            "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
        );
        assert_eq!(t.get("home/nonroot").unwrap().meta.uid, 65532);
        // Debian's "no home" is never made
        assert!(t.get("nonexistent").is_none());
    }

    #[test]
    fn account_fields_cannot_add_lines_or_fields() {
        let user = |home: &str, shell: &str| User {
            name: "u".into(),
            uid: 1000,
            gid: 1000,
            home: home.into(),
            shell: shell.into(),
        };
        for (home, shell) in [
            ("/home/u:/x", "/sbin/nologin"),
            ("/home/u", "/bin/sh\nevil::0:0::/:/bin/sh"),
            ("/home/u", "/bin/sh\r"),
        ] {
            let mut t = skeleton("amd64").unwrap();
            let err = write_accounts(&mut t, &[user(home, shell)], &[]).unwrap_err();
            assert!(matches!(err, Error::AccountField { .. }), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
            assert!(t.get("etc/passwd").is_none());
        }
        let mut t = skeleton("amd64").unwrap();
        let group = Group {
            name: "g".into(),
            gid: 5,
            members: vec!["a,root".into()],
        };
        assert!(write_accounts(&mut t, &[], &[group]).is_err());
    }

    #[test]
    fn accounts_are_appended_to_a_packaged_passwd() {
        let mut t = Tree::new();
        put_file(
            &mut t,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/ash\nnobody:x:65534:65534:nobody:/:/sbin/nologin".to_vec(),
            0o644,
        )
        .unwrap();
        put_file(&mut t, "etc/group", b"root:x:0:root\n".to_vec(), 0o644).unwrap();
        let user = |name: &str, uid| User {
            name: name.into(),
            uid,
            gid: uid,
            home: "/".into(),
            shell: "/sbin/nologin".into(),
        };
        write_accounts(
            &mut t,
            &[user("nobody", 1), user("app", 1000)],
            &[Group {
                name: "app".into(),
                gid: 1000,
                members: vec![],
            }],
        )
        .unwrap();
        let text = |p: &str| match &t.get(p).unwrap().node {
            Node::File(d) => String::from_utf8(d.read_to_vec().unwrap()).unwrap(),
            _ => panic!(),
        };
        assert_eq!(
            text("etc/passwd"),
            "root:x:0:0:root:/root:/bin/ash\nnobody:x:65534:65534:nobody:/:/sbin/nologin\napp:x:1000:1000:app:/:/sbin/nologin\n"
        );
        assert_eq!(text("etc/group"), "root:x:0:root\napp:x:1000:\n");
    }
}
