//! `whittle pkg`: build, sign and index APK packages from YAML recipes.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use whittle_pkg::SigKind;

/// The arguments of `whittle pkg`.
#[derive(clap::Args)]
pub struct PkgArgs {
    #[command(subcommand)]
    command: PkgCommand,
}

#[derive(clap::Subcommand)]
// parsed once per run: the size of `Build` does not matter
#[allow(clippy::large_enum_variant)]
enum PkgCommand {
    /// Generate an RSA 4096 signing key pair: NAME.rsa (mode 0600) and NAME.rsa.pub.
    ///
    /// Examples:
    ///   whittle pkg keygen                 (melange.rsa, melange.rsa.pub)
    ///   whittle pkg keygen keys/me
    #[command(verbatim_doc_comment)]
    Keygen {
        /// Path prefix of the key files [default: melange, as melange names them].
        #[arg(default_value = "melange")]
        name: PathBuf,
        /// Key size in bits (melange spells it `--key-size`).
        #[arg(long, visible_alias = "key-size", default_value_t = whittle_pkg::keys::DEFAULT_BITS)]
        bits: usize,
    },
    /// Build the packages of a melange-style recipe in a sandbox, sign and index them.
    ///
    /// The recipe's `environment` is built by whittle into a root filesystem; every pipeline
    /// step runs in bwrap with that root (read-only), the source directory at /home/build and no
    /// network unless the step says `network: true`. Packages go to OUT/ARCH/ with a signed
    /// APKINDEX.tar.gz beside them. A lock beside the recipe (`whittle lock RECIPE` writes
    /// RECIPE_STEM.lock.json) pins the environment's packages.
    ///
    /// Examples:
    ///   whittle pkg build hello.yaml --key whittle.rsa
    ///   whittle pkg build hello.yaml --key whittle.rsa --out packages --source-date-epoch 0
    ///   whittle lock hello.yaml && whittle pkg build hello.yaml --key whittle.rsa
    #[command(verbatim_doc_comment)]
    Build(BuildArgs),
    /// Write a signed APKINDEX.tar.gz for the .apk files of a directory.
    ///
    /// Examples:
    ///   whittle pkg index packages/x86_64 --key whittle.rsa
    #[command(verbatim_doc_comment)]
    Index {
        /// The directory holding the packages.
        dir: PathBuf,
        /// The private key (PEM).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Sign with RSA/SHA-1 (.SIGN.RSA.) instead of RSA/SHA-256.
        #[arg(long)]
        sha1: bool,
        /// The DESCRIPTION of the index.
        #[arg(long, default_value = "")]
        description: String,
        /// Where to write it [default: DIR/APKINDEX.tar.gz].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Run melange's package linters over built .apk files.
    ///
    /// Each linter is required (a finding fails: exit code 3) or warn (reported only), by
    /// melange's defaults unless --lint-require/--lint-warn name them. The linters: dev,
    /// documentation, opt, object, maninfo, sbom, setuidgid, srv, tempdir, usrlocal, varempty,
    /// worldwrite, strip, infodir, empty, python/docs, python/multiple, python/test, pkgconf,
    /// lddcheck, usrmerge, staticarchive, libtool/la-files. `whittle pkg build` runs them too.
    ///
    /// Exit codes: 0 no required linter tripped, 1 error (e.g. an unreadable package), 3 a
    /// required linter tripped.
    ///
    /// Examples:
    ///   whittle pkg lint packages/x86_64/hello-1.0-r0.apk
    ///   whittle pkg lint packages/x86_64/*.apk --lint-require dev,setuidgid --lint-warn strip
    ///   whittle pkg lint hello-1.0-r0.apk --format sarif > lint.sarif
    #[command(verbatim_doc_comment)]
    Lint {
        /// The packages.
        #[arg(required = true, value_name = "PKG.apk")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        lint: LintFlags,
        /// Output format: text for people, json, or sarif (2.1.0) for code-scanning UIs.
        #[arg(long, value_enum, default_value_t = crate::render::FindingsFormat::Text)]
        format: crate::render::FindingsFormat,
    },
    /// Sign (or re-sign) an existing .apk or APKINDEX.tar.gz in place.
    ///
    /// Examples:
    ///   whittle pkg sign hello-1.0-r0.apk --key whittle.rsa
    ///   whittle pkg sign APKINDEX.tar.gz --key whittle.rsa --sha1
    #[command(verbatim_doc_comment)]
    Sign {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The private key (PEM).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Sign with RSA/SHA-1 (.SIGN.RSA.) instead of RSA/SHA-256.
        #[arg(long)]
        sha1: bool,
    },
}

/// melange's linter flags (`whittle pkg lint`, `whittle pkg build`).
#[derive(clap::Args)]
struct LintFlags {
    /// Linters whose findings fail, comma-separated [default: melange's: dev, infodir,
    /// libtool/la-files, setuidgid, tempdir, usrmerge, varempty, worldwrite].
    #[arg(long, value_name = "LINTERS", value_delimiter = ',')]
    lint_require: Option<Vec<String>>,
    /// Linters whose findings are only shown, comma-separated [default: melange's: the others
    /// but documentation and empty].
    #[arg(long, value_name = "LINTERS", value_delimiter = ',')]
    lint_warn: Option<Vec<String>>,
}

impl LintFlags {
    fn policy(self) -> Result<whittle_pkg::lint::Policy, whittle_pkg::Error> {
        whittle_pkg::lint::Policy::new(self.lint_require, self.lint_warn)
    }
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The recipe (YAML) [default: as melange, the first of .melange.yaml, .melange.yml,
    /// melange.yaml, melange.yml in the current directory].
    recipe: Option<PathBuf>,
    /// The private key (PEM); without it the packages are unsigned and no index is written.
    #[arg(long, visible_alias = "signing-key", value_name = "FILE")]
    key: Option<PathBuf>,
    /// Output directory; packages go to OUT/ARCH/.
    #[arg(
        long,
        visible_alias = "out-dir",
        default_value = "packages",
        value_name = "DIR"
    )]
    out: PathBuf,
    /// The architecture, apk's or Debian's name (only the host's can run); melange's
    /// comma-separated list is accepted when it names only the host's.
    #[arg(long, value_delimiter = ',')]
    arch: Vec<String>,
    /// Source directory copied to /home/build [default: RECIPE_DIR/NAME/ when it exists].
    #[arg(long, value_name = "DIR")]
    source_dir: Option<PathBuf>,
    /// Let `fetch` read local files (`file://PATH` or a path) from DIR too; by default only the
    /// recipe's directory and --source-dir are read. Repeatable.
    #[arg(long = "allow-path", value_name = "DIR")]
    allow_paths: Vec<PathBuf>,
    /// Copy no source directory into /home/build (melange's flag).
    #[arg(long, conflicts_with = "source_dir")]
    empty_workspace: bool,
    /// How the steps run: `bubblewrap` (bwrap), the only runner whittle has (melange's flag).
    #[arg(long, value_name = "RUNNER", default_value = "bubblewrap")]
    runner: String,
    /// Trust this key for the environment's repositories too, as if listed under
    /// `environment.contents.keyring` (melange's flag). Repeatable, or comma-separated.
    #[arg(short = 'k', long, value_name = "KEY", value_delimiter = ',')]
    keyring_append: Vec<String>,
    /// Add this repository to `environment.contents.repositories` (melange's flag; a directory
    /// is relative to the current directory). Repeatable, or comma-separated.
    #[arg(short = 'r', long, value_name = "REPO", value_delimiter = ',')]
    repository_append: Vec<String>,
    /// A directory of your own pipelines (melange's flag): `uses: NAME` runs NAME.yaml from
    /// it (its `inputs` and `runs:` steps) when NAME is not built in. Repeatable.
    #[arg(long, value_name = "DIR")]
    pipeline_dir: Vec<PathBuf>,
    /// Package cache directory [default: $WHITTLE_CACHE_DIR, else ~/.cache/whittle].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Use only the cache: no network for the environment and sources.
    #[arg(long)]
    offline: bool,
    /// Resolve the environment afresh even when `<recipe stem>.lock.json` (written by
    /// `whittle lock RECIPE`) lies beside the recipe.
    #[arg(long)]
    ignore_lock: bool,
    /// Install the environment from this lockfile instead of the one beside the recipe.
    #[arg(long, value_name = "FILE", conflicts_with = "ignore_lock")]
    lockfile: Option<PathBuf>,
    /// builddate and file times [default: $SOURCE_DATE_EPOCH, else 0].
    #[arg(long, value_name = "SECONDS")]
    source_date_epoch: Option<u64>,
    /// Sign with RSA/SHA-1 (.SIGN.RSA.) instead of RSA/SHA-256.
    #[arg(long)]
    sha1: bool,
    /// Write the signed APKINDEX.tar.gz beside the packages (melange's flag, on by default);
    /// `--generate-index=false` writes only the packages.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    generate_index: bool,
    /// Preload the steps' environment with this file's KEY=VALUE lines (melange's flag; the
    /// recipe's `environment.environment` wins over them). Repeatable.
    #[arg(long, value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// The distribution the packages belong to (melange's flag, e.g. `wolfi`): written as
    /// their `.PKGINFO` `maintainer`, as melange writes it [default: none; melange writes
    /// `unknown`]. whittle's packages carry no SBOM, where melange also puts it.
    #[arg(long, value_name = "NAMESPACE", value_parser = namespace)]
    namespace: Option<String>,
    #[command(flatten)]
    lint: LintFlags,
    /// Do not run the recipe's test section.
    #[arg(long)]
    no_test: bool,
    /// Show every step's output as it runs.
    #[arg(short, long)]
    verbose: bool,
    /// Print only errors.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    shared_cache: crate::shared_cache::SharedCacheArgs,
}

struct Log {
    quiet: bool,
}

impl whittle_fetch::Progress for Log {
    fn start(&self, _: usize, _: u64, _: usize) {}
    fn done(&self, _: &str, _: u64, _: bool) {}
}

impl whittle_build::Events for Log {
    fn step(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
    fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }
}

/// The signing key at `path`; a missing one is named with the keys that are there (melange's
/// `melange keygen` writes melange.rsa, `whittle pkg keygen` whittle.rsa unless named).
fn load_key(path: &std::path::Path) -> Result<whittle_pkg::SigningKey, Box<dyn Error>> {
    if !path.exists() {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let mut here: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .take(10_000)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".rsa"))
            .collect();
        here.sort();
        here.truncate(5);
        let seen = if here.is_empty() {
            String::new()
        } else {
            format!(" (keys there: {})", here.join(", "))
        };
        return Err(format!(
            "signing key {} not found{seen}; `whittle pkg keygen NAME.rsa` writes NAME.rsa and NAME.rsa.pub",
            path.display()
        )
        .into());
    }
    Ok(whittle_pkg::keys::load(path)?)
}

/// The recipe melange builds when none is named: the first of its four names that exists here.
fn default_recipe() -> Result<PathBuf, String> {
    const NAMES: [&str; 4] = [
        ".melange.yaml",
        ".melange.yml",
        "melange.yaml",
        "melange.yml",
    ];
    NAMES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no recipe named and none of {} in the current directory: give the recipe, e.g. `whittle pkg build hello.yaml`",
                NAMES.join(", ")
            )
        })
}

/// The one architecture to build: `--arch` (apk's or Debian's name; melange's list when it
/// names one architecture), else the host's.
fn build_arch(given: &[String]) -> Result<String, String> {
    let host = whittle_pkg::build::host_arch();
    let apk = |a: &str| {
        whittle_config::Arch::parse(a)
            .and_then(|x| x.apk())
            .map_or_else(|| a.to_string(), str::to_string)
    };
    let mut archs: Vec<String> = given.iter().map(|a| apk(a.trim())).collect();
    archs.dedup();
    match archs.as_slice() {
        [] => Ok(host),
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "--arch {}: whittle builds for one architecture per run, and only the host's ({host}) can run its steps; run once per architecture on a machine of that architecture",
            given.join(",")
        )),
    }
}

/// `--namespace`: a name that fits on a `.PKGINFO` line and in a package URL.
fn namespace(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err("a namespace is 1 to 64 letters, digits, `-`, `.` or `_` (e.g. `wolfi`)".into())
    }
}

fn kind(sha1: bool) -> SigKind {
    if sha1 { SigKind::Sha1 } else { SigKind::Sha256 }
}

fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path)
        .map_err(|e| format!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// Runs `whittle pkg`.
pub fn run(args: PkgArgs) -> Result<ExitCode, Box<dyn Error>> {
    match args.command {
        PkgCommand::Keygen { name, bits } => {
            let files = whittle_pkg::keys::keygen(&name, bits)?;
            println!("{}", files.private.display());
            println!("{}", files.public.display());
        }
        PkgCommand::Build(a) => {
            let key = a.key.as_deref().map(load_key).transpose()?;
            let sde = match a.source_date_epoch {
                Some(s) => s,
                None => match std::env::var("SOURCE_DATE_EPOCH") {
                    Ok(v) => v
                        .trim()
                        .parse()
                        .map_err(|_| format!("SOURCE_DATE_EPOCH={v} is not a number of seconds"))?,
                    Err(_) => 0,
                },
            };
            let cache_dir = a
                .cache_dir
                .or_else(|| std::env::var_os("WHITTLE_CACHE_DIR").map(PathBuf::from))
                .unwrap_or_else(whittle_fetch::Cache::default_dir);
            if a.runner != "bubblewrap" {
                return Err(format!(
                    "--runner {}: whittle runs every step in bubblewrap (bwrap), with no container engine or VM; drop --runner or write --runner bubblewrap",
                    a.runner
                )
                .into());
            }
            let arch = build_arch(&a.arch)?;
            let opts = whittle_pkg::build::BuildOptions {
                recipe: match a.recipe {
                    Some(r) => r,
                    None => default_recipe()?,
                },
                key,
                sig: kind(a.sha1),
                out_dir: a.out,
                arch,
                source_dir: a.source_dir,
                allow_paths: a.allow_paths,
                cache_dir,
                offline: a.offline,
                source_date_epoch: sde,
                verbose: a.verbose,
                run_tests: !a.no_test,
                empty_workspace: a.empty_workspace,
                pipeline_dirs: a.pipeline_dir,
                environment_append: whittle_config::Append {
                    keyrings: a.keyring_append,
                    repositories: a.repository_append,
                    ..Default::default()
                },
                ignore_lock: a.ignore_lock,
                lock_file: a.lockfile,
                lint: a.lint.policy()?,
                generate_index: a.generate_index,
                env_preload: a
                    .env_file
                    .iter()
                    .map(|f| whittle_pkg::envfile::read_env_file(f))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
                namespace: a.namespace,
            };
            let shared = a.shared_cache.start()?;
            let out = whittle_pkg::build::build(&opts, &Log { quiet: a.quiet })?;
            if let Some(s) = &shared {
                s.finish(&opts.cache_dir, a.quiet);
            }
            for p in &out.packages {
                println!("{}", p.display());
            }
        }
        PkgCommand::Index {
            dir,
            key,
            sha1,
            description,
            output,
        } => {
            let key = load_key(&key)?;
            let (bytes, n) = whittle_pkg::index::index_dir(&dir, &description, &key, kind(sha1))?;
            let path = output.unwrap_or_else(|| dir.join("APKINDEX.tar.gz"));
            write(&path, &bytes)?;
            eprintln!("{n} packages indexed");
            println!("{}", path.display());
        }
        PkgCommand::Lint {
            files,
            lint,
            format,
        } => return lint_files(&files, lint.policy()?, format),
        PkgCommand::Sign { files, key, sha1 } => {
            let key = load_key(&key)?;
            for f in files {
                let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
                let origin = f.display().to_string();
                let is_index = f
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("APKINDEX"));
                let signed = if is_index {
                    whittle_pkg::index::sign_index(&origin, &bytes, &key, kind(sha1))?
                } else {
                    whittle_pkg::apk::sign_apk(&origin, &bytes, &key, kind(sha1))?
                };
                write(&f, &signed)?;
                println!("{origin}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `whittle pkg lint`: every package's findings, then the exit code.
fn lint_files(
    files: &[PathBuf],
    policy: whittle_pkg::lint::Policy,
    format: crate::render::FindingsFormat,
) -> Result<ExitCode, Box<dyn Error>> {
    use whittle_pkg::lint;
    let mut per_package = Vec::new();
    for f in files {
        let pkg = lint::read_apk(f)?;
        let artifact = f.display().to_string();
        let findings = lint::lint(&pkg, &artifact, &policy);
        per_package.push((artifact, pkg.name, findings));
    }
    let all: Vec<_> = per_package.iter().flat_map(|p| p.2.clone()).collect();
    let target: Vec<&str> = per_package.iter().map(|p| p.0.as_str()).collect();
    let out = crate::render::findings(
        format,
        "whittle pkg lint",
        &target.join(", "),
        &lint::rules(),
        &all,
        || lint::text(&per_package),
    )?;
    Ok(crate::render::finish(&out, &all, Some(lint::REQUIRED))?)
}
