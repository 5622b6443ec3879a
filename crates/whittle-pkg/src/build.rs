//! `whittle pkg build`: recipe → environment (built by whittle) → pipeline in the sandbox →
//! signed packages in `OUT/<arch>/` → test pipeline → `OUT/<arch>/APKINDEX.tar.gz`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use whittle_apk::sign::{SigKind, SigningKey};

use std::ffi::OsStr;

use crate::apk::{ApkOptions, PackageMeta, collect_dir, write_apk};
use crate::recipe::{Action, Embedded, OUT_DIR, Recipe, Step, WORKSPACE};
use crate::sandbox::{self, Sandbox};
use crate::{Error, Result};

/// Largest source download `fetch` accepts (it is held in memory to be checked).
pub const MAX_SOURCE_BYTES: u64 = 1 << 30;

/// Most entries an unpacked source archive may hold (Linux's tree has under 100,000).
pub const MAX_SOURCE_ENTRIES: usize = 1_000_000;

/// Everything a package build needs besides the recipe's content.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The recipe file.
    pub recipe: PathBuf,
    /// The signing key; `None` writes unsigned packages (trusted only through a signed index).
    pub key: Option<SigningKey>,
    /// Signature hash.
    pub sig: SigKind,
    /// Packages go to `OUT/<arch>/`.
    pub out_dir: PathBuf,
    /// apk architecture (`x86_64`, `aarch64`, …); the host's.
    pub arch: String,
    /// Copied into the workspace first (default: `<recipe dir>/<package name>/` if present).
    pub source_dir: Option<PathBuf>,
    /// The package cache (environment packages and `fetch` sources).
    pub cache_dir: PathBuf,
    /// Use only the cache.
    pub offline: bool,
    /// `builddate` and every file's mtime.
    pub source_date_epoch: u64,
    /// Copy the steps' output to stderr.
    pub verbose: bool,
    /// Run the recipe's `test` section.
    pub run_tests: bool,
    /// Directories of the user's own pipelines for `uses:` (melange's `--pipeline-dir`).
    pub pipeline_dirs: Vec<PathBuf>,
    /// Start from an empty workspace: copy no source directory (melange's `--empty-workspace`).
    pub empty_workspace: bool,
    /// What the command line adds to the recipe's `environment` (melange's `--keyring-append`,
    /// `--repository-append`; relative paths against the current directory).
    pub environment_append: whittle_config::Append,
    /// Resolve the environment afresh even when a lock lies beside the recipe.
    pub ignore_lock: bool,
    /// Install the environment from this lockfile instead of `<recipe stem>.lock.json`.
    pub lock_file: Option<PathBuf>,
    /// Directories besides the recipe's own and `source_dir` that a `fetch` of a local file
    /// (`file://PATH` or a path) may read from (`--allow-path`).
    pub allow_paths: Vec<PathBuf>,
    /// The linters run over every package made (melange's `--lint-require`/`--lint-warn`;
    /// `Policy::default()` is melange's defaults); a required one that trips fails the build.
    pub lint: crate::lint::Policy,
    /// Write the signed `APKINDEX.tar.gz` beside the packages (melange's `--generate-index`,
    /// on by default); no index is written without a key either way.
    pub generate_index: bool,
    /// Variables preloaded into the steps' environment (melange's `--env-file`, read with
    /// [`crate::envfile::read_env_file`]); the recipe's environment wins over them.
    pub env_preload: Vec<(String, String)>,
    /// melange's `--namespace` (e.g. `wolfi`), written as the packages' `.PKGINFO`
    /// `maintainer`, as melange writes it; `None` writes no maintainer.
    pub namespace: Option<String>,
}

/// The result of a build.
#[derive(Debug, Clone, Default)]
pub struct BuildOutput {
    /// The `.apk` files written.
    pub packages: Vec<PathBuf>,
    /// The index written, if the packages were signed.
    pub index: Option<PathBuf>,
    /// Test steps run.
    pub tests_run: usize,
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = p.display().to_string();
    move |source| Error::Io { path, source }
}

/// The apk architecture of this machine.
pub fn host_arch() -> String {
    match std::env::consts::ARCH {
        "x86" => "x86".into(),
        "arm" => "armv7".into(),
        "powerpc64" => "ppc64le".into(),
        other => other.into(),
    }
}

/// Runs the whole build.
pub fn build(opts: &BuildOptions, events: &dyn whittle_build::Events) -> Result<BuildOutput> {
    let recipe = crate::recipe::from_file(&opts.recipe, &opts.arch, &opts.pipeline_dirs)?;
    if !recipe.target_architecture.is_empty()
        && !recipe
            .target_architecture
            .iter()
            .any(|a| a == "all" || a == &opts.arch)
    {
        return Err(Error::Invalid {
            what: recipe.origin.clone(),
            message: format!(
                "package.target-architecture {:?} does not include {}",
                recipe.target_architecture, opts.arch
            ),
        });
    }
    let recipe_dir = recipe_dir(&opts.recipe);
    let work = tempfile::Builder::new()
        .prefix("whittle-pkg-")
        .tempdir()
        .map_err(io(Path::new("(temporary directory)")))?;
    // the steps may run as a host uid of their own (whittle as root): they must reach the
    // workspace and the environment inside, not list what else is here
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711))
        .map_err(io(work.path()))?;
    let workspace = work.path().join("workspace");
    let root = work.path().join("root");
    std::fs::create_dir_all(&workspace).map_err(io(&workspace))?;
    let source = opts.source_dir.clone().or_else(|| {
        let d = recipe_dir.join(&recipe.package.name);
        d.is_dir().then_some(d)
    });
    let source = source.filter(|_| !opts.empty_workspace);
    if let Some(src) = &source {
        events.step(&format!("source    {}", src.display()));
        copy_tree(src, &workspace)?;
    }
    for name in
        std::iter::once(&recipe.package.name).chain(recipe.subpackages.iter().map(|s| &s.info.name))
    {
        let d = out_dir(&workspace, name)?;
        std::fs::create_dir_all(&d).map_err(io(&d))?;
    }

    let needs_env = recipe
        .pipeline
        .iter()
        .chain(recipe.subpackages.iter().flat_map(|s| &s.pipeline))
        .any(|s| matches!(s.action, Action::Shell(_)));
    let mut env_vars = BTreeMap::new();
    if needs_env {
        let env = recipe.environment.as_ref().ok_or_else(|| Error::Invalid {
            what: recipe.origin.clone(),
            message: "the recipe has `runs:` steps but no `environment:`; add one (contents.repositories and contents.packages, e.g. a shell and a compiler)".into(),
        })?;
        env_vars = environment(
            &recipe,
            env,
            &recipe_dir,
            &root,
            opts,
            environment_lock(opts),
            events,
        )?;
    }
    // (collected first: a later line of the env files wins over an earlier one)
    let preload: BTreeMap<_, _> = opts.env_preload.iter().cloned().collect();
    for (k, v) in preload {
        env_vars.entry(k).or_insert(v);
    }
    env_vars.insert(
        "SOURCE_DATE_EPOCH".into(),
        opts.source_date_epoch.to_string(),
    );
    let sb = Sandbox::new(
        &root,
        &workspace,
        env_vars.clone(),
        opts.verbose,
        recipe.limits,
    );
    if needs_env {
        let (how, warnings) = sb.enforcement();
        events.step(&format!("limits    {how}"));
        for w in warnings {
            events.warn(&w);
        }
    }
    let fetcher = whittle_fetch::Fetcher::new(
        whittle_fetch::Cache::open(&opts.cache_dir).map_err(|e| Error::Invalid {
            what: opts.cache_dir.display().to_string(),
            message: e.to_string(),
        })?,
        opts.offline,
    );
    let sources = Sources {
        fetcher,
        local_roots: std::iter::once(recipe_dir.clone())
            .chain(opts.source_dir.clone())
            .chain(opts.allow_paths.iter().cloned())
            .collect(),
    };
    run_steps(
        &sb,
        &recipe.pipeline,
        &recipe.package.name,
        &workspace,
        &sources,
        events,
    )?;
    for sub in &recipe.subpackages {
        run_steps(
            &sb,
            &sub.pipeline,
            &sub.info.name,
            &workspace,
            &sources,
            events,
        )?;
    }

    // packages: made in memory, written only after the test section passed
    let arch_dir = opts.out_dir.join(&opts.arch);
    let mut out = BuildOutput::default();
    let mut made = Vec::new();
    let infos = std::iter::once(&recipe.package).chain(recipe.subpackages.iter().map(|s| &s.info));
    // the recipe read once for the linters, not once per package
    let mut lint_facts = crate::lint::recipe_facts_by_name(&recipe.text);
    for info in infos {
        let entries = collect_dir(&out_dir(&workspace, &info.name)?)?;
        let facts = lint_facts.remove(&info.name).unwrap_or_default();
        lint_package(&recipe, info, &entries, facts, opts, events)?;
        let meta = PackageMeta {
            name: info.name.clone(),
            version: recipe.full_version.clone(),
            arch: opts.arch.clone(),
            description: info.description.clone(),
            url: info.url.clone(),
            origin: recipe.package.name.clone(),
            commit: recipe.commit.clone(),
            maintainer: opts.namespace.clone(),
            packager: None,
            builddate: opts.source_date_epoch,
            licenses: recipe.licenses.clone(),
            depends: info.runtime.clone(),
            provides: info.provides.clone(),
            replaces: info.replaces.clone(),
            provider_priority: info.provider_priority,
        };
        let apk_opts = ApkOptions {
            mtime: opts.source_date_epoch,
            sig: opts.sig,
            scan: true,
            control_extra: vec![(".melange.yaml".into(), recipe.text.clone().into_bytes())],
            found: info.options,
        };
        let bytes = match &opts.key {
            Some(k) => write_apk(&meta, &entries, k, &apk_opts)?.bytes,
            None => unsigned_apk(&meta, &entries, &apk_opts)?,
        };
        let path = arch_dir.join(format!("{}-{}.apk", meta.name, meta.version));
        made.push((path, bytes, entries.len()));
    }

    // test
    if opts.run_tests
        && let Some(test) = &recipe.test
        && !test.pipeline.is_empty()
    {
        let test_root = work.path().join("test-root");
        let (troot, tvars) = match &test.environment {
            Some(env) => (
                test_root.clone(),
                // resolved afresh: a recipe's lock pins its build environment
                environment(&recipe, env, &recipe_dir, &test_root, opts, None, events)?,
            ),
            None => {
                if !needs_env {
                    return Err(Error::Invalid {
                        what: recipe.origin.clone(),
                        message: "the test section needs an environment: add test.environment or environment".into(),
                    });
                }
                (root.clone(), env_vars.clone())
            }
        };
        // install the main package's files into the test root
        copy_tree(&out_dir(&workspace, &recipe.package.name)?, &troot)?;
        let test_ws = work.path().join("test-workspace");
        std::fs::create_dir_all(&test_ws).map_err(io(&test_ws))?;
        let mut tv = tvars;
        tv.insert(
            "SOURCE_DATE_EPOCH".into(),
            opts.source_date_epoch.to_string(),
        );
        let tsb = Sandbox::new(&troot, &test_ws, tv, opts.verbose, recipe.limits);
        // `package.timeout` covers the test steps too
        tsb.spent.set(sb.spent.get());
        run_steps(
            &tsb,
            &test.pipeline,
            &format!("{} (test)", recipe.package.name),
            &test_ws,
            &sources,
            events,
        )?;
        out.tests_run = test.pipeline.len();
    }

    std::fs::create_dir_all(&arch_dir).map_err(io(&arch_dir))?;
    for (path, bytes, entries) in made {
        write_atomic(&path, &bytes)?;
        events.step(&format!(
            "package   {} ({entries} entries, {} bytes)",
            path.display(),
            bytes.len()
        ));
        out.packages.push(path);
    }

    if let Some(k) = opts.key.as_ref().filter(|_| opts.generate_index) {
        let (bytes, n) = crate::index::index_dir(&arch_dir, "", k, opts.sig)?;
        let path = arch_dir.join("APKINDEX.tar.gz");
        write_atomic(&path, &bytes)?;
        events.step(&format!("index     {} ({n} packages)", path.display()));
        out.index = Some(path);
    }
    Ok(out)
}

/// Runs the linters of `opts.lint` (those the recipe's `checks.disabled` names only warn) over
/// the files of package `info` before it is written: warnings are shown, a required linter
/// that trips fails the build.
fn lint_package(
    recipe: &Recipe,
    info: &crate::recipe::PackageInfo,
    entries: &[crate::apk::FileEntry],
    facts: crate::lint::RecipeFacts,
    opts: &BuildOptions,
    events: &dyn whittle_build::Events,
) -> Result<()> {
    use crate::lint;
    let pkg = lint::Package::from_entries(&info.name, entries, Some(facts));
    let artifact = format!("{}-{}.apk", info.name, recipe.full_version);
    let findings = lint::lint(
        &pkg,
        &artifact,
        &opts.lint.with_disabled(&info.checks_disabled),
    );
    for f in findings.iter().filter(|f| f.severity < lint::REQUIRED) {
        let paths = f
            .evidence
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        events.warn(&format!(
            "{}: lint {}: {}{paths}",
            info.name, f.rule, f.message
        ));
    }
    if lint::failed(&findings) {
        let required: Vec<_> = findings
            .into_iter()
            .filter(|f| f.severity >= lint::REQUIRED)
            .collect();
        return Err(Error::Lint {
            package: info.name.clone(),
            linters: required.iter().map(|f| f.rule.clone()).collect(),
            report: lint::text(&[(artifact, info.name.clone(), required)]),
        });
    }
    Ok(())
}

/// A package without signature stream (control + data only).
fn unsigned_apk(
    meta: &PackageMeta,
    entries: &[crate::apk::FileEntry],
    opts: &ApkOptions,
) -> Result<Vec<u8>> {
    // sign with a throwaway key, then drop the signature stream
    let key = throwaway_key()?;
    let signed = write_apk(meta, entries, &key, opts)?;
    let pkg = whittle_apk::package::ApkPackage::open(&meta.name, &signed.bytes)?;
    let mut out = pkg.control_stream().to_vec();
    out.extend_from_slice(pkg.data_stream());
    Ok(out)
}

fn throwaway_key() -> Result<SigningKey> {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    if let Some(k) = KEY.get() {
        return Ok(k.clone());
    }
    let k = SigningKey::generate(whittle_apk::sign::MIN_GENERATE_BITS)?;
    Ok(KEY.get_or_init(|| k).clone())
}

/// What building the environment shows: only what concerns the recipe. Warnings about the
/// environment's config as an image (nothing to run, runs as root: whole-config warnings, with no
/// position) are dropped, since the user wrote a build environment, not an image; the others
/// are moved to the recipe's lines. The image build's steps show with `--verbose` only, and
/// never the internal image it writes.
struct EnvironmentEvents<'a> {
    inner: &'a dyn whittle_build::Events,
    /// The temporary config file's name, as whittle-build's warnings start with it.
    config: String,
    recipe: String,
    line_offset: u64,
    column_offset: u64,
    verbose: bool,
}

impl EnvironmentEvents<'_> {
    /// The warning `msg` as the user should see it, or `None` when it concerns only the
    /// environment's config as an image.
    fn relocate(&self, msg: &str) -> Option<String> {
        let Some(rest) = msg.strip_prefix(self.config.as_str()) else {
            return Some(msg.to_string());
        };
        if rest.starts_with(": ") {
            return None;
        }
        let mut parts = rest.strip_prefix(':')?.splitn(3, ':');
        let line: u64 = parts.next()?.parse().ok()?;
        let column: u64 = parts.next()?.parse().ok()?;
        Some(format!(
            "{}:{}:{}:{} (in `environment`)",
            self.recipe,
            line + self.line_offset,
            column + self.column_offset,
            self.shift_lines(parts.next()?)
        ))
    }

    /// `text` with every `line N` it mentions (another place in the same config) moved to the
    /// recipe's numbering.
    fn shift_lines(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("line ") {
            let (head, tail) = rest.split_at(i + "line ".len());
            out.push_str(head);
            let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            match tail[..digits].parse::<u64>() {
                Ok(n) => out.push_str(&(n + self.line_offset).to_string()),
                Err(_) => out.push_str(&tail[..digits]),
            }
            rest = &tail[digits..];
        }
        out.push_str(rest);
        out
    }
}

impl whittle_fetch::Progress for EnvironmentEvents<'_> {
    fn start(&self, count: usize, bytes: u64, cached: usize) {
        self.inner.start(count, bytes, cached);
    }
    fn done(&self, url: &str, bytes: u64, from_cache: bool) {
        self.inner.done(url, bytes, from_cache);
    }
}

impl whittle_build::Events for EnvironmentEvents<'_> {
    fn step(&self, msg: &str) {
        // which lock the environment is installed from is always said
        if (self.verbose || msg.starts_with("lock ")) && !msg.starts_with("write ") {
            self.inner.step(msg);
        }
    }
    fn warn(&self, msg: &str) {
        if let Some(m) = self.relocate(msg) {
            self.inner.warn(&m);
        }
    }
}

/// The lock the build environment is installed from: `--lockfile`, else
/// `<recipe stem>.lock.json` when there is one; none with `--ignore-lock`.
fn environment_lock(opts: &BuildOptions) -> Option<whittle_build::rootfs::RootfsLock> {
    if opts.ignore_lock {
        return None;
    }
    let file = match &opts.lock_file {
        Some(f) => f.clone(),
        None => Some(whittle_build::lock::lock_path(&opts.recipe)).filter(|p| p.exists())?,
    };
    Some(whittle_build::rootfs::RootfsLock {
        file,
        made_from: opts.recipe.clone(),
    })
}

/// What `whittle lock RECIPE` needs.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// The recipe file.
    pub recipe: PathBuf,
    /// apk architecture of the builds the lock is for (the host's).
    pub arch: String,
    /// Directories of the user's own pipelines for `uses:`.
    pub pipeline_dirs: Vec<PathBuf>,
    /// The package cache.
    pub cache_dir: PathBuf,
    /// Use only the cache.
    pub offline: bool,
}

/// `whittle lock RECIPE`: resolves the recipe's `environment:` and writes its lock beside the
/// recipe (`<recipe stem>.lock.json`), which `whittle pkg build` then installs the environment
/// from. The lock's `config.checksum` is that of the `environment:` section as whittle reads it
/// (dedented, line endings normalised): the rest of the recipe may change without making the
/// lock stale. A `test.environment` is not locked.
pub fn lock(
    opts: &LockOptions,
    events: &dyn whittle_build::Events,
) -> Result<whittle_build::lock::LockReport> {
    let recipe = crate::recipe::from_file(&opts.recipe, &opts.arch, &opts.pipeline_dirs)?;
    let env = recipe.environment.as_ref().ok_or_else(|| Error::Invalid {
        what: recipe.origin.clone(),
        message: "the recipe has no `environment:` to lock".into(),
    })?;
    let (tmp, _) = environment_config(&recipe, env, &recipe_dir(&opts.recipe))?;
    whittle_build::lock::lock(
        &whittle_build::lock::LockOptions {
            config: tmp.path().to_path_buf(),
            cache_dir: opts.cache_dir.clone(),
            offline: opts.offline,
            insecure_allow_unsigned_repositories: false,
            made_from: Some(opts.recipe.clone()),
        },
        &EnvironmentEvents {
            inner: events,
            config: tmp.path().display().to_string(),
            recipe: recipe.origin.clone(),
            line_offset: env.line_offset,
            column_offset: env.column_offset,
            verbose: true,
        },
    )
    .map_err(|e| {
        environment_error(
            &recipe,
            env,
            tmp.path(),
            whittle_build::rootfs::RootfsError::Build(e),
        )
    })
}

/// A failure building or locking the environment: what the config check found in the
/// environment's temporary config file is reported at the recipe's lines (the file is
/// whittle's own, gone when the command ends).
fn environment_error(
    recipe: &Recipe,
    env: &Embedded,
    config: &Path,
    source: whittle_build::rootfs::RootfsError,
) -> Error {
    if let whittle_build::rootfs::RootfsError::Build(whittle_build::Error::Config(e)) = &source
        && !e.diagnostics().is_empty()
    {
        let config = config.display().to_string();
        return Error::Recipe(
            e.diagnostics()
                .iter()
                .cloned()
                .map(|d| {
                    if d.origin == config {
                        crate::recipe::relocate(recipe, env, d)
                    } else {
                        d
                    }
                })
                .collect(),
        );
    }
    Error::Environment {
        recipe: recipe.origin.clone(),
        source: Box::new(source),
    }
}

/// The directory of a recipe (`.` for a bare file name).
fn recipe_dir(recipe: &Path) -> PathBuf {
    recipe
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The recipe's `environment:` as an image config file beside the recipe (so that its relative
/// paths mean the same), and the config read from it; its errors point into the recipe.
fn environment_config(
    recipe: &Recipe,
    env: &Embedded,
    recipe_dir: &Path,
) -> Result<(tempfile::NamedTempFile, whittle_config::Config)> {
    let tmp = tempfile::Builder::new()
        .prefix(".whittle-environment-")
        .suffix(".yaml")
        .tempfile_in(recipe_dir)
        .map_err(io(recipe_dir))?;
    std::fs::write(tmp.path(), &env.text).map_err(io(tmp.path()))?;
    let config = whittle_config::Config::from_str(tmp.path(), &env.text).map_err(|e| {
        let diags: Vec<_> = e
            .diagnostics()
            .iter()
            .cloned()
            .map(|d| crate::recipe::relocate(recipe, env, d))
            .collect();
        if diags.is_empty() {
            Error::Invalid {
                what: recipe.origin.clone(),
                message: format!("environment: {e}"),
            }
        } else {
            Error::Recipe(diags)
        }
    })?;
    Ok((tmp, config))
}

/// Builds an embedded image config into `root` (from `lock` when given) and returns its
/// `environment:` variables.
fn environment(
    recipe: &Recipe,
    env: &Embedded,
    recipe_dir: &Path,
    root: &Path,
    opts: &BuildOptions,
    lock: Option<whittle_build::rootfs::RootfsLock>,
    events: &dyn whittle_build::Events,
) -> Result<BTreeMap<String, String>> {
    let (tmp, config) = environment_config(recipe, env, recipe_dir)?;
    let deb_arch = whittle_config::Arch::parse(&opts.arch)
        .map(|a| a.debian().to_string())
        .unwrap_or_else(|| opts.arch.clone());
    events.step(&format!(
        "environment {} packages",
        config.contents.packages.len()
    ));
    let env_events = EnvironmentEvents {
        inner: events,
        config: tmp.path().display().to_string(),
        recipe: recipe.origin.clone(),
        line_offset: env.line_offset,
        column_offset: env.column_offset,
        verbose: opts.verbose,
    };
    whittle_build::rootfs::build_rootfs(
        &whittle_build::rootfs::RootfsOptions {
            config: tmp.path().to_path_buf(),
            cache_dir: opts.cache_dir.clone(),
            offline: opts.offline,
            arch: deb_arch,
            source_date_epoch: Some(opts.source_date_epoch),
            append: opts.environment_append.clone(),
            lock,
        },
        root,
        &env_events,
    )
    .map_err(|source| environment_error(recipe, env, tmp.path(), source))?;
    sandbox::prepare_root(root)?;
    Ok(config.environment.clone().into_iter().collect())
}

/// Where a recipe's `fetch` steps get their sources: the network through the cache, and local
/// files only from `local_roots` (the recipe's directory, `--source-dir`, `--allow-path`s).
struct Sources {
    fetcher: whittle_fetch::Fetcher,
    local_roots: Vec<PathBuf>,
}

impl Sources {
    /// The host file a `fetch` URI names when it is local (`file://PATH` or a path, relative
    /// ones against the recipe's directory, the first of `local_roots`); `None` for a URL.
    fn local_path(&self, uri: &str) -> Option<PathBuf> {
        let path = match uri.strip_prefix("file://") {
            Some(p) => p,
            None if uri.contains("://") => return None,
            None => uri,
        };
        Some(self.local_roots.first()?.join(path))
    }

    /// Reads the local file `path` (named `uri` in the recipe) if its real path (`..` and
    /// symlinks resolved) lies under one of `local_roots`: a recipe comes from a repository and
    /// must not copy this machine's secrets (`/etc/shadow`, a link to it) into a package.
    fn read_local(&self, uri: &str, path: &Path) -> std::result::Result<Vec<u8>, String> {
        let (recipe_dir, allowed) = self
            .local_roots
            .split_first()
            .map_or((Path::new("."), &[][..]), |(d, rest)| (d.as_path(), rest));
        let source = whittle_config::ConfigPath {
            written: uri.to_string(),
            resolved: path.to_path_buf(),
        };
        let confinement = whittle_config::Confinement {
            what: "fetch source",
            owner: "recipe",
            product: "a package",
            command: "whittle pkg build",
            follow: true,
        };
        let (real, _) = whittle_config::confine(&confinement, &source, recipe_dir, allowed)?;
        read_bounded(&real).map_err(|e| format!("{}: {e}", real.display()))
    }
}

/// The recipe field `bytes` do not match (`expected-sha256`, then `expected-sha512`), if any.
fn mismatch(bytes: &[u8], sha256: &str, sha512: Option<&str>) -> Option<&'static str> {
    use sha2::Digest;
    if whittle_fetch::sha256_hex(bytes) != sha256 {
        return Some("expected-sha256");
    }
    sha512
        .filter(|h| hex::encode(sha2::Sha512::digest(bytes)) != *h)
        .map(|_| "expected-sha512")
}

/// Reads a regular file (not through a symlink) whole, refusing more than [`MAX_SOURCE_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than the {MAX_SOURCE_BYTES} bytes a source may have"
        )));
    }
    Ok(bytes)
}

fn run_steps(
    sb: &Sandbox<'_>,
    steps: &[Step],
    package: &str,
    workspace: &Path,
    sources: &Sources,
    events: &dyn whittle_build::Events,
) -> Result<()> {
    let fetcher = &sources.fetcher;
    for step in steps {
        events.step(&format!("step      {package}: {}", step.name));
        match &step.action {
            Action::Shell(script) => {
                let cwd_host = host_path(workspace, &step.working_directory);
                if let Some(d) = cwd_host
                    && !d.is_dir()
                {
                    std::fs::create_dir_all(&d).map_err(io(&d))?;
                    sb.workspace_changed();
                }
                let o = sandbox::run(
                    sb,
                    script,
                    &step.working_directory,
                    &step.environment,
                    step.network,
                )?;
                if let Some(hit) = o.limit {
                    return Err(Error::Limit {
                        step: step.label(),
                        package: package.to_string(),
                        message: hit.describe(&sb.limits),
                        tail: o.tail,
                    });
                }
                if !o.success {
                    return Err(Error::Step {
                        step: step.label(),
                        package: package.to_string(),
                        status: o.status,
                        tail: o.tail,
                    });
                }
            }
            Action::Split { kind, from, to } => {
                sb.workspace_changed();
                let src = out_dir(workspace, from)?;
                let dst = out_dir(workspace, to)?;
                crate::split::split(kind, &src, &dst).map_err(|e| Error::Invalid {
                    what: step.label(),
                    message: format!("moving files from {from} to {to}: {e}"),
                })?;
            }
            Action::GitCheckout {
                repository,
                destination,
                reference,
                expected_commit,
                depth,
            } => {
                sb.workspace_changed();
                let gerr = |message: String| Error::Fetch {
                    step: step.label(),
                    uri: repository.clone(),
                    message,
                };
                let sandbox_dest = if destination.starts_with('/') {
                    destination.clone()
                } else {
                    format!(
                        "{}/{destination}",
                        step.working_directory.trim_end_matches('/')
                    )
                };
                let dest = host_path(workspace, &sandbox_dest).ok_or_else(|| {
                    gerr(format!("destination {sandbox_dest} must be inside /home/build and not pass through a symlink"))
                })?;
                std::fs::create_dir_all(&dest).map_err(io(&dest))?;
                git_checkout(
                    repository,
                    reference.as_deref(),
                    expected_commit,
                    *depth,
                    workspace,
                    &dest,
                )
                .map_err(gerr)?;
            }
            Action::Fetch {
                uri,
                sha256,
                sha512,
                strip_components,
                extract,
            } => {
                sb.workspace_changed();
                let ferr = |message: String| Error::Fetch {
                    step: step.label(),
                    uri: uri.clone(),
                    message,
                };
                let bytes = if let Some(path) = sources.local_path(uri) {
                    // a local file is read where it lies (never from or into the cache), and a
                    // mismatch does not tell its checksum: that would disclose what it holds
                    let b = sources.read_local(uri, &path).map_err(ferr)?;
                    if let Some(field) = mismatch(&b, sha256, sha512.as_deref()) {
                        return Err(ferr(format!(
                            "{} does not match {field} at {}; check the file or the checksum",
                            path.display(),
                            step.at
                        )));
                    }
                    b
                } else if let Some(b) = fetcher
                    .cache()
                    .get(sha256)
                    .map_err(|e| ferr(e.to_string()))?
                {
                    b
                } else {
                    // checked before anything is kept: nothing unverified enters the cache
                    let b = if fetcher.offline() {
                        fetcher.fetch_mutable(uri, MAX_SOURCE_BYTES)
                    } else {
                        whittle_fetch::Transport::new().get(uri, MAX_SOURCE_BYTES)
                    }
                    .map_err(|e| ferr(e.to_string()))?;
                    if let Some(field) = mismatch(&b, sha256, sha512.as_deref()) {
                        // a download's SHA-256 is told: it is what the recipe may need
                        let actual = whittle_fetch::sha256_hex(&b);
                        return Err(ferr(format!(
                            "the download does not match {field} (its SHA-256 is {actual}); the file changed or the checksum is wrong"
                        )));
                    }
                    fetcher
                        .cache()
                        .put(sha256, &b)
                        .map_err(|e| ferr(e.to_string()))?;
                    b
                };
                let dest = host_path(workspace, &step.working_directory)
                    .ok_or_else(|| {
                        ferr("working-directory must be inside /home/build and not pass through a symlink".into())
                    })?;
                std::fs::create_dir_all(&dest).map_err(io(&dest))?;
                let base = uri
                    .rsplit('/')
                    .next()
                    .filter(|b| !b.is_empty() && *b != "." && *b != "..")
                    .unwrap_or("source");
                if *extract && let Some(reader) = archive_reader(&bytes) {
                    unpack(reader, &dest, *strip_components).map_err(|e| ferr(e.to_string()))?;
                } else {
                    let p = dest.join(base);
                    // a symlink left there by an earlier step is replaced, never written through
                    if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                        std::fs::remove_file(&p).map_err(io(&p))?;
                    }
                    std::fs::write(&p, &bytes).map_err(io(&p))?;
                }
            }
        }
    }
    Ok(())
}

/// Clones `repository` into a scratch directory of `workspace` (host side, with the host's
/// `git`, no prompts, no system or global git config), checks out `reference` or
/// `expected_commit`, refuses any other commit, and moves the checkout into `dest`.
fn git_checkout(
    repository: &str,
    reference: Option<&str>,
    expected_commit: &str,
    depth: Option<u32>,
    workspace: &Path,
    dest: &Path,
) -> std::result::Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix(".whittle-git-")
        .tempdir_in(workspace)
        .map_err(|e| {
            format!(
                "creating a scratch directory in {}: {e}",
                workspace.display()
            )
        })?;
    let checkout = scratch.path().join("checkout");
    let git = |args: &[&OsStr]| -> std::result::Result<String, String> {
        let out = std::process::Command::new("git")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            // git runs on the host: no ssh (the user's keys and agent) and no remote helpers
            // (`name::address` runs git-remote-name) for a recipe's URL
            .env("GIT_ALLOW_PROTOCOL", "https:http:git:file")
            .args([
                "-c",
                "advice.detachedHead=false",
                "-c",
                "core.hooksPath=/dev/null",
            ])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run git: {e}; install git"))?;
        if !out.status.success() {
            return Err(format!(
                "git {} failed ({}): {}",
                args.first()
                    .map_or(String::new(), |a| a.to_string_lossy().into_owned()),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let o = OsStr::new;
    let depth_arg = depth.map(|d| format!("--depth={d}"));
    let mut clone = vec![o("clone"), o("--quiet")];
    if let Some(r) = reference {
        clone.extend([o("--branch"), o(r)]);
    }
    if let Some(d) = &depth_arg {
        clone.push(o(d));
    }
    clone.extend([o("--"), o(repository), checkout.as_os_str()]);
    git(&clone)?;
    let dir = checkout.as_os_str();
    if reference.is_none() {
        git(&[
            o("-C"),
            dir,
            o("checkout"),
            o("--quiet"),
            o("--detach"),
            o(expected_commit),
        ])?;
    }
    let head = git(&[o("-C"), dir, o("rev-parse"), o("HEAD^{commit}")])?;
    if !head.eq_ignore_ascii_case(expected_commit) {
        return Err(format!(
            "checked out commit {head}, the recipe expects {expected_commit}; the {} moved or `expected-commit` is wrong",
            reference.map_or("default branch".to_string(), |r| format!(
                "branch or tag `{r}`"
            ))
        ));
    }
    move_stripped(&checkout, dest, 0).map_err(|e| format!("moving the checkout into place: {e}"))
}

/// The host directory of a sandbox path under `/home/build`; `None` when it is elsewhere, has
/// a `..` component, or passes through a symlink (the sandbox writes the workspace: a link it
/// made, e.g. `src -> /`, must not be followed by host-side writes or reads).
fn host_path(workspace: &Path, sandbox_path: &str) -> Option<PathBuf> {
    let rest = sandbox_path.strip_prefix(WORKSPACE)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None; // `/home/buildx` is not under `/home/build`
    }
    let mut p = workspace.to_path_buf();
    for c in rest.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            return None;
        }
        p.push(c);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return None;
        }
    }
    Some(p)
}

/// The host directory of package `name`'s `${{targets.destdir}}`, refused when the sandbox
/// replaced it (or `melange-out`) by a symlink.
fn out_dir(workspace: &Path, name: &str) -> Result<PathBuf> {
    host_path(workspace, &format!("{OUT_DIR}/{name}")).ok_or_else(|| Error::Invalid {
        what: format!("{OUT_DIR}/{name}"),
        message:
            "the build replaced the package directory by a symlink; write files into it instead"
                .into(),
    })
}

/// A tar reader over `bytes` if it is a (gzip/xz-compressed) tar archive.
fn archive_reader(bytes: &[u8]) -> Option<Box<dyn Read + '_>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(Box::new(flate2::read::GzDecoder::new(bytes)));
    }
    if bytes.starts_with(b"\xfd7zXZ\0") {
        return Some(Box::new(liblzma::read::XzDecoder::new(bytes)));
    }
    if bytes.get(257..262) == Some(b"ustar") {
        return Some(Box::new(bytes));
    }
    None
}

/// Unpacks a tar stream into `dest`, dropping `strip` leading components (like
/// `tar --strip-components`). Entries are unpacked with the `tar` crate's `unpack_in`, which
/// refuses paths that would leave the directory.
fn unpack(reader: impl Read, dest: &Path, strip: usize) -> std::io::Result<()> {
    unpack_at_most(reader, dest, strip, MAX_SOURCE_ENTRIES)
}

fn unpack_at_most(
    reader: impl Read,
    dest: &Path,
    strip: usize,
    max_entries: usize,
) -> std::io::Result<()> {
    let stage = tempfile::Builder::new()
        .prefix(".whittle-unpack-")
        .tempdir_in(dest)?;
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let mut total = 0u64;
    for (i, e) in ar.entries()?.enumerate() {
        if i >= max_entries {
            return Err(std::io::Error::other(format!(
                "the archive has more than {max_entries} entries; refusing it"
            )));
        }
        let mut e = e?;
        total = total.saturating_add(e.size());
        if total > 8 * MAX_SOURCE_BYTES {
            return Err(std::io::Error::other(
                "the archive unpacks to more than 8 GiB; refusing it",
            ));
        }
        e.unpack_in(stage.path())?;
    }
    move_stripped(stage.path(), dest, strip)
}

fn move_stripped(from: &Path, dest: &Path, strip: usize) -> std::io::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if strip == 0 {
            let to = dest.join(e.file_name());
            if std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) && e.file_type()?.is_dir() {
                move_stripped(&e.path(), &to, 0)?;
            } else {
                std::fs::rename(e.path(), to)?;
            }
        } else if e.file_type()?.is_dir() {
            move_stripped(&e.path(), dest, strip - 1)?;
        }
    }
    Ok(())
}

/// Copies the tree under `src` into `dst` (merging with what is there), keeping modes and
/// symlinks. A directory of `src` over a symlink in `dst` (`bin -> usr/bin`) is copied through
/// the link only when the link resolves inside `dst`; otherwise it is refused.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    let top = std::fs::canonicalize(dst).map_err(io(dst))?;
    copy_tree_in(src, dst, &top)
}

fn copy_tree_in(src: &Path, dst: &Path, top: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    for e in std::fs::read_dir(src).map_err(io(src))? {
        let e = e.map_err(io(src))?;
        let from = e.path();
        let to = dst.join(e.file_name());
        let meta = std::fs::symlink_metadata(&from).map_err(io(&from))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            if std::fs::symlink_metadata(&to).is_ok_and(|m| m.file_type().is_symlink()) {
                // a directory over a symlinked one (bin -> usr/bin): follow the link, but only
                // inside `top` (an absolute `var/run -> /run` resolves on the host)
                let real = std::fs::canonicalize(&to).map_err(io(&to))?;
                if !real.starts_with(top) {
                    return Err(Error::Invalid {
                        what: to.display().to_string(),
                        message: format!(
                            "is a symlink to {} outside {}; the package's directory {} cannot be installed over it",
                            real.display(),
                            top.display(),
                            from.display()
                        ),
                    });
                }
                copy_tree_in(&from, &real, top)?;
                continue;
            }
            copy_tree_in(&from, &to, top)?;
            std::fs::set_permissions(&to, meta.permissions()).map_err(io(&to))?;
        } else {
            if std::fs::symlink_metadata(&to).is_ok() {
                std::fs::remove_file(&to).map_err(io(&to))?;
            }
            if ft.is_symlink() {
                let t = std::fs::read_link(&from).map_err(io(&from))?;
                std::os::unix::fs::symlink(t, &to).map_err(io(&to))?;
            } else if ft.is_file() {
                std::fs::copy(&from, &to).map_err(io(&to))?;
                std::fs::set_permissions(
                    &to,
                    std::fs::Permissions::from_mode(meta.permissions().mode()),
                )
                .map_err(io(&to))?;
            }
        }
    }
    Ok(())
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(data).map_err(io(path))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Seen(std::sync::Mutex<Vec<String>>);
    impl whittle_fetch::Progress for Seen {
        fn start(&self, _: usize, _: u64, _: usize) {}
        fn done(&self, _: &str, _: u64, _: bool) {}
    }
    impl whittle_build::Events for Seen {
        fn step(&self, msg: &str) {
            self.0.lock().unwrap().push(format!("step {msg}"));
        }
        fn warn(&self, msg: &str) {
            self.0.lock().unwrap().push(format!("warn {msg}"));
        }
    }

    #[test]
    fn git_checkout_refuses_ssh_and_remote_helpers() {
        if !whittle_testutil::tool("git") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for (url, transport) in [
            ("ssh://git@example.invalid/x.git", "ssh"),
            ("git@example.invalid:x.git", "ssh"),
            ("ext::sh -c 'touch /tmp/pwned'", "ext"),
            ("whittle-fake::x", "whittle-fake"),
        ] {
            let e =
                git_checkout(url, None, &"0".repeat(40), None, dir.path(), dir.path()).unwrap_err();
            assert!(
                e.contains(&format!("transport '{transport}' not allowed")),
                "{url}: {e}"
            );
        }
    }

    /// The environment's image-wide warnings are dropped, the others moved to the recipe.
    #[test]
    fn environment_events_show_only_what_concerns_the_recipe() {
        let seen = Seen(std::sync::Mutex::new(Vec::new()));
        let ev = EnvironmentEvents {
            inner: &seen,
            config: "/r/.whittle-environment-x.yaml".into(),
            recipe: "hello.yaml".into(),
            line_offset: 10,
            column_offset: 2,
            verbose: false,
        };
        use whittle_build::Events;
        ev.warn("/r/.whittle-environment-x.yaml: no `entrypoint` or `cmd`: the image has nothing to run by default");
        ev.warn("/r/.whittle-environment-x.yaml: no `accounts.run-as`: the image will run as root");
        ev.warn(
            "/r/.whittle-environment-x.yaml:2:20: package `dash` is listed twice (first at line 1)",
        );
        ev.warn("cache: dropped a bad entry");
        ev.step("resolve   56 packages");
        ev.step("write     oci:/tmp/x/img");
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "warn hello.yaml:12:22: package `dash` is listed twice (first at line 11) (in `environment`)",
                "warn cache: dropped a bad entry",
            ]
        );
        let verbose = EnvironmentEvents {
            verbose: true,
            ..ev
        };
        verbose.step("resolve   56 packages");
        verbose.step("write     oci:/tmp/x/img");
        assert_eq!(
            seen.0.lock().unwrap().last().unwrap(),
            "step resolve   56 packages"
        );
    }

    #[test]
    fn host_paths_stay_in_the_workspace() {
        let ws = Path::new("/w");
        assert_eq!(host_path(ws, "/home/build"), Some(PathBuf::from("/w")));
        assert_eq!(
            host_path(ws, "/home/build/src/x"),
            Some(PathBuf::from("/w/src/x"))
        );
        assert_eq!(host_path(ws, "/home/build/../etc"), None);
        assert_eq!(host_path(ws, "/etc"), None);
    }

    #[test]
    fn host_paths_do_not_pass_through_symlinks_the_sandbox_made() {
        let ws = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.path().join("src")).unwrap();
        std::fs::create_dir(ws.path().join("real")).unwrap();
        assert_eq!(host_path(ws.path(), "/home/build/src"), None);
        assert_eq!(host_path(ws.path(), "/home/build/src/deeper"), None);
        assert_eq!(host_path(ws.path(), "/home/buildx/y"), None);
        assert_eq!(
            host_path(ws.path(), "/home/build/real/new"),
            Some(ws.path().join("real/new"))
        );
        // `melange-out` replaced by a link to the host: the package is not read from there
        std::os::unix::fs::symlink(outside.path(), ws.path().join("melange-out")).unwrap();
        let e = out_dir(ws.path(), "hello").unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
    }

    struct Quiet;
    impl whittle_fetch::Progress for Quiet {
        fn start(&self, _: usize, _: u64, _: usize) {}
        fn done(&self, _: &str, _: u64, _: bool) {}
    }
    impl whittle_build::Events for Quiet {
        fn step(&self, _: &str) {}
        fn warn(&self, _: &str) {}
    }

    /// Sources reading local files from `recipe_dir` only, caching in `dir/cache`.
    fn recipe_sources(dir: &Path, recipe_dir: &Path) -> Sources {
        Sources {
            fetcher: whittle_fetch::Fetcher::new(
                whittle_fetch::Cache::open(dir.join("cache")).unwrap(),
                false,
            ),
            local_roots: vec![recipe_dir.to_path_buf()],
        }
    }

    /// A `fetch` of `uri` into the workspace, expecting `content`'s SHA-256, not extracted.
    fn fetch_step(uri: &str, content: &[u8]) -> Step {
        Step {
            at: "r.yaml:1:1".into(),
            name: "fetch".into(),
            action: Action::Fetch {
                uri: uri.into(),
                sha256: whittle_fetch::sha256_hex(content),
                sha512: None,
                strip_components: 0,
                extract: false,
            },
            working_directory: WORKSPACE.into(),
            environment: BTreeMap::new(),
            network: false,
        }
    }

    /// Files in the cache directory `cache` (recursively).
    fn cached_files(cache: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut todo = vec![cache.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    todo.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out
    }

    /// A recipe's `fetch` of a host file outside its directory (`file://`, a path, a symlink
    /// beside the recipe, `..`) is refused naming the URI and `--allow-path`, even with the
    /// file's right checksum; nothing is cached. Allowed roots are read.
    #[test]
    fn fetch_reads_local_files_only_from_allowed_directories() {
        let dir = tempfile::tempdir().unwrap();
        let recipe_dir = dir.path().join("recipe");
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(&recipe_dir).unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        let outside = dir.path().join("secret");
        std::fs::write(&outside, b"secret\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", recipe_dir.join("passwd")).unwrap();
        std::os::unix::fs::symlink(&outside, recipe_dir.join("secret")).unwrap();
        let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
        let sources = recipe_sources(dir.path(), &recipe_dir);
        let sb = Sandbox::new(
            dir.path(),
            &ws,
            BTreeMap::new(),
            false,
            crate::limits::Limits::default(),
        );
        let run = |uri: &str, content: &[u8]| {
            run_steps(&sb, &[fetch_step(uri, content)], "p", &ws, &sources, &Quiet)
                .map_err(|e| e.to_string())
        };
        for (uri, content) in [
            ("file:///etc/passwd", &passwd[..]),
            ("/etc/passwd", &passwd),
            ("passwd", &passwd),
            ("file://passwd", &passwd),
            ("../secret", b"secret\n"),
            ("secret", b"secret\n"),
            ("/nonexistent/whittle", b""),
        ] {
            let e = run(uri, content).unwrap_err();
            assert!(
                e.contains(&format!("`{uri}`")) && e.contains("--allow-path"),
                "{uri}: {e}"
            );
        }
        assert_eq!(
            cached_files(&dir.path().join("cache")),
            Vec::<PathBuf>::new()
        );
        // a mismatch names the file and the step, never the file's checksum
        std::fs::write(recipe_dir.join("src.txt"), b"mine\n").unwrap();
        let e = run("src.txt", b"other").unwrap_err();
        assert!(
            e.contains("does not match expected-sha256")
                && e.contains("r.yaml:1:1")
                && !e.contains(&whittle_fetch::sha256_hex(b"mine\n")),
            "{e}"
        );
        // expected-sha512 is checked too when given
        let with_sha512 = |h: String| {
            let mut step = fetch_step("src.txt", b"mine\n");
            if let Action::Fetch { sha512, .. } = &mut step.action {
                *sha512 = Some(h);
            }
            run_steps(&sb, &[step], "p", &ws, &sources, &Quiet).map_err(|e| e.to_string())
        };
        let e = with_sha512("0".repeat(128)).unwrap_err();
        assert!(e.contains("does not match expected-sha512"), "{e}");
        use sha2::Digest;
        with_sha512(hex::encode(sha2::Sha512::digest(b"mine\n"))).unwrap();
        // inside the recipe's directory (or an allowed one): read, not cached
        run("src.txt", b"mine\n").unwrap();
        assert_eq!(std::fs::read(ws.join("src.txt")).unwrap(), b"mine\n");
        let allowed = Sources {
            local_roots: vec![recipe_dir.clone(), dir.path().to_path_buf()],
            ..recipe_sources(dir.path(), &recipe_dir)
        };
        run_steps(
            &sb,
            &[fetch_step("secret", b"secret\n")],
            "p",
            &ws,
            &allowed,
            &Quiet,
        )
        .unwrap();
        assert_eq!(std::fs::read(ws.join("secret")).unwrap(), b"secret\n");
        assert_eq!(
            cached_files(&dir.path().join("cache")),
            Vec::<PathBuf>::new()
        );
    }

    /// A download is checked before it is cached: a wrong one leaves the cache empty (and its
    /// SHA-256 is told, to fix the recipe); a right one is kept by checksum for `--offline`.
    #[test]
    fn fetch_caches_a_download_only_once_it_matches() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        let sb = Sandbox::new(
            dir.path(),
            &ws,
            BTreeMap::new(),
            false,
            crate::limits::Limits::default(),
        );
        let cache = dir.path().join("cache");
        let (base, served) =
            whittle_testutil::serve_once("application/octet-stream", b"v2\n".to_vec());
        let step = fetch_step(&format!("{base}/src.txt"), b"v1\n");
        let sources = recipe_sources(dir.path(), dir.path());
        let e = run_steps(&sb, &[step], "p", &ws, &sources, &Quiet)
            .unwrap_err()
            .to_string();
        served.join().unwrap();
        assert!(e.contains(&whittle_fetch::sha256_hex(b"v2\n")), "{e}");
        assert_eq!(cached_files(&cache), Vec::<PathBuf>::new());
        let (base, served) =
            whittle_testutil::serve_once("application/octet-stream", b"v1\n".to_vec());
        let step = fetch_step(&format!("{base}/src.txt"), b"v1\n");
        run_steps(&sb, std::slice::from_ref(&step), "p", &ws, &sources, &Quiet).unwrap();
        served.join().unwrap();
        assert_eq!(cached_files(&cache).len(), 1);
        // the server is gone: offline, the checked copy is used
        std::fs::remove_file(ws.join("src.txt")).unwrap();
        let offline = Sources {
            fetcher: whittle_fetch::Fetcher::new(whittle_fetch::Cache::open(&cache).unwrap(), true),
            local_roots: vec![dir.path().to_path_buf()],
        };
        run_steps(&sb, &[step], "p", &ws, &offline, &Quiet).unwrap();
        assert_eq!(std::fs::read(ws.join("src.txt")).unwrap(), b"v1\n");
    }

    #[test]
    fn fetch_replaces_a_symlink_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        let src = dir.path().join("data.bin");
        std::fs::write(&src, b"payload").unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        // an earlier step left `data.bin -> victim` in the workspace
        std::os::unix::fs::symlink(&victim, ws.join("data.bin")).unwrap();
        let sources = recipe_sources(dir.path(), dir.path());
        let step = fetch_step(&format!("file://{}", src.display()), b"payload");
        let sb = Sandbox::new(
            dir.path(),
            &ws,
            BTreeMap::new(),
            false,
            crate::limits::Limits::default(),
        );
        run_steps(&sb, &[step], "p", &ws, &sources, &Quiet).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(ws.join("data.bin")).unwrap(), b"payload");
        assert!(
            !std::fs::symlink_metadata(ws.join("data.bin"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn copy_tree_follows_links_only_inside_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let (src, root, outside) = (
            dir.path().join("src"),
            dir.path().join("root"),
            dir.path().join("outside"),
        );
        std::fs::create_dir_all(src.join("bin")).unwrap();
        std::fs::write(src.join("bin/hello"), b"x").unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        copy_tree(&src, &root).unwrap();
        assert_eq!(std::fs::read(root.join("usr/bin/hello")).unwrap(), b"x");
        // `var/run -> /…` style: an absolute link that leaves the root is refused
        std::fs::create_dir_all(src.join("run")).unwrap();
        std::fs::write(src.join("run/pid"), b"1").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("run")).unwrap();
        let e = copy_tree(&src, &root).unwrap_err().to_string();
        assert!(e.contains("outside"), "{e}");
        assert!(!outside.join("pid").exists());
    }

    #[test]
    fn unpack_strips_components() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "pkg-1.0/src/a.c", &b"hi"[..])
            .unwrap();
        let bytes = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        unpack(bytes.as_slice(), dir.path(), 1).unwrap();
        assert_eq!(std::fs::read(dir.path().join("src/a.c")).unwrap(), b"hi");
        assert!(!dir.path().join("pkg-1.0").exists());
    }

    #[test]
    fn unpack_refuses_archives_with_too_many_entries() {
        let mut b = tar::Builder::new(Vec::new());
        for i in 0..5 {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, format!("f{i}"), &b""[..]).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = unpack_at_most(bytes.as_slice(), dir.path(), 0, 4).unwrap_err();
        assert!(e.to_string().contains("more than 4 entries"), "{e}");
        // nothing of it reached the destination
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                !e.file_name()
                    .to_string_lossy()
                    .starts_with(".whittle-unpack-")
            })
            .collect();
        assert!(left.is_empty(), "{left:?}");
        unpack_at_most(bytes.as_slice(), dir.path(), 0, 5).unwrap();
        assert!(dir.path().join("f4").exists());
    }
}
