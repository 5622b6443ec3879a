//! `whittle build`: builds an image from a config and renders the build's progress.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

mod apko;

/// The arguments of `whittle build`.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// The image config (YAML).
    config: PathBuf,

    /// Where to write the image: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE[:NAME:TAG],
    /// or a registry, docker://HOST[:PORT]/REPO:TAG (credentials from ~/.docker/config.json).
    #[arg(short, long, value_name = "DEST")]
    output: Option<String>,

    /// Use only the package cache: no network. Fails listing what is missing.
    #[arg(long)]
    offline: bool,

    /// Package cache directory [default: $WHITTLE_CACHE_DIR, else ~/.cache/whittle].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Build only these architectures (overrides `archs` in the config). Repeatable, or
    /// comma-separated as apko takes them; `host` is this machine's.
    #[arg(long = "arch", value_name = "ARCH")]
    archs: Vec<String>,

    /// Timestamp for every file and the image [default: $SOURCE_DATE_EPOCH, else the newest
    /// package file time].
    #[arg(long, value_name = "SECONDS")]
    source_date_epoch: Option<u64>,

    /// Where to write the SPDX SBOM [default: beside the output, DEST.spdx.json or
    /// DEST.<arch>.spdx.json]. apko's `--sbom=false` writes none (`--sbom=true`: the default);
    /// a file named `false` is `./false`.
    #[arg(long, value_name = "FILE")]
    sbom: Option<PathBuf>,

    /// Do not write an SBOM.
    #[arg(long, conflicts_with = "sbom")]
    no_sbom: bool,

    /// DANGEROUS: accept repositories whose InRelease is unsigned or not signed by a trusted key.
    /// Checksums are still verified, but anyone who can change the repository can change the image.
    #[arg(long)]
    insecure_allow_unsigned_repositories: bool,

    /// Let `paths` entries of type `local` read from DIR, outside the config's own directory
    /// (only for configs you trust: a config could otherwise copy this machine's secrets into
    /// the image). Each such source is warned about. Repeatable.
    #[arg(long = "allow-path", value_name = "DIR")]
    allow_paths: Vec<PathBuf>,

    /// Push over plain HTTP to a registry that is not on this machine (loopback registries always
    /// use HTTP) [default: $WHITTLE_INSECURE_REGISTRY]. Anyone on the network path can read and
    /// change what is pushed, and credentials travel unencrypted.
    #[arg(long)]
    insecure: bool,

    /// Resolve the packages afresh even when a lock (`<config stem>.lock.json`, written by
    /// `whittle lock`) lies beside the config.
    #[arg(long)]
    ignore_lock: bool,

    /// Use this lockfile instead of `<config stem>.lock.json` beside the config (apko's flag).
    #[arg(long, value_name = "FILE", conflicts_with = "ignore_lock")]
    lockfile: Option<PathBuf>,

    /// Compress the layers with this codec instead of the config's `layer-compression`
    /// (zstd layers need containerd 1.5 or Docker 23 to pull).
    #[arg(long, value_name = "CODEC")]
    layer_compression: Option<LayerCompressionArg>,

    /// Print only errors and the final digest.
    #[arg(short, long)]
    quiet: bool,

    /// apko's arguments and flags.
    #[command(flatten)]
    apko: apko::ApkoArgs,

    #[command(flatten)]
    sign: crate::sign::BuildSignArgs,

    #[command(flatten)]
    shared_cache: crate::shared_cache::SharedCacheArgs,
}

/// `--layer-compression`'s values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LayerCompressionArg {
    Gzip,
    Zstd,
}

/// Renders build events on stderr: steps, warnings and a download progress bar.
pub(crate) struct Terminal {
    quiet: bool,
    start: std::time::Instant,
    bar: Mutex<Option<ProgressBar>>,
}

impl Terminal {
    /// A terminal that shows steps unless `quiet`.
    pub(crate) fn new(quiet: bool) -> Terminal {
        Terminal {
            quiet,
            start: std::time::Instant::now(),
            bar: Mutex::new(None),
        }
    }

    fn line(&self, s: &str) {
        if let Ok(guard) = self.bar.lock() {
            match guard.as_ref() {
                Some(bar) => bar.println(s),
                None => eprintln!("{s}"),
            }
        }
    }
}

impl whittle_fetch::Progress for Terminal {
    fn start(&self, count: usize, bytes: u64, cached: usize) {
        if self.quiet {
            return;
        }
        let fetch = count - cached;
        self.line(&format!(
            "fetch     {count} packages ({:.1} MB), {cached} cached, {fetch} to download",
            bytes as f64 / 1e6
        ));
        if std::io::stderr().is_terminal() && fetch > 0 {
            let bar = ProgressBar::new(bytes);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            if let Ok(mut g) = self.bar.lock() {
                *g = Some(bar);
            }
        }
    }
    fn done(&self, url: &str, bytes: u64, _from_cache: bool) {
        if let Ok(g) = self.bar.lock()
            && let Some(bar) = g.as_ref()
        {
            bar.inc(bytes);
            bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
        }
    }
}

impl whittle_build::Events for Terminal {
    fn step(&self, msg: &str) {
        if let Ok(mut g) = self.bar.lock()
            && let Some(bar) = g.take()
        {
            bar.finish_and_clear();
        }
        if !self.quiet {
            self.line(&format!(
                "{:6.2}s {msg}",
                self.start.elapsed().as_secs_f64()
            ));
        }
    }
    fn warn(&self, msg: &str) {
        self.line(&format!("warning: {msg}"));
    }
}

/// Runs `whittle build`.
pub fn run(args: BuildArgs) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    if args.insecure {
        // whittle-build's registry sink reads this through `whittle_registry::Options::from_env`.
        // SAFETY: set before the build starts any thread; nothing else reads the environment
        // concurrently.
        unsafe { std::env::set_var("WHITTLE_INSECURE_REGISTRY", "1") };
    }
    let output = args.apko.output(args.output.as_deref())?;
    let signer = args.sign.signer(&output)?;
    let source_date_epoch = match args.source_date_epoch.or(args.apko.build_date()?) {
        Some(s) => Some(s),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.trim().is_empty() => Some(v.trim().parse::<u64>().map_err(|_| {
                format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds since 1970")
            })?),
            _ => None,
        },
    };
    let config = args.apko.config(&args.config)?;
    // apko's boolean `--sbom=false`/`--sbom=true` over whittle's `--sbom FILE`
    let (sbom, no_sbom) = match args.sbom.as_deref().and_then(|p| p.to_str()) {
        Some("false") => (None, true),
        Some("true") => (None, args.no_sbom),
        _ => (args.sbom, args.no_sbom),
    };
    let opts = whittle_build::BuildOptions {
        append: args.apko.append(&config),
        config,
        output: output.clone(),
        cache_dir: args
            .cache_dir
            .unwrap_or_else(whittle_fetch::Cache::default_dir),
        offline: args.offline,
        archs: apko::archs(&args.archs),
        source_date_epoch,
        sbom: if no_sbom || args.apko.no_sbom_formats() {
            whittle_build::SbomDest::None
        } else {
            sbom.or(args.apko.sbom_file(&output)).map_or(
                whittle_build::SbomDest::Beside,
                whittle_build::SbomDest::File,
            )
        },
        insecure_allow_unsigned_repositories: args.insecure_allow_unsigned_repositories,
        allow_paths: args.allow_paths,
        ignore_lock: args.ignore_lock,
        lock_file: args.lockfile,
        lock_made_from: None,
        layer_compression: args.layer_compression.map(|c| match c {
            LayerCompressionArg::Gzip => whittle_config::LayerCompression::Gzip,
            LayerCompressionArg::Zstd => whittle_config::LayerCompression::Zstd,
        }),
    };
    let term = Terminal::new(args.quiet);
    let shared = args.shared_cache.start()?;
    let report = whittle_build::build(&opts, &term)?;
    if let Some(s) = &shared {
        s.finish(&opts.cache_dir, args.quiet);
    }
    for img in &report.images {
        if !args.quiet {
            eprintln!(
                "image     {} {}: {} packages, {} compressed, {} unpacked",
                img.arch,
                img.manifest_digest,
                img.packages,
                crate::inspect::human(img.compressed_size),
                crate::inspect::human(img.unpacked_size)
            );
        }
    }
    for p in &report.sboms {
        if !args.quiet {
            eprintln!("sbom      {}", p.display());
        }
    }
    args.apko.push_tags(&output, &report.digest, args.quiet)?;
    if let Some(signer) = &signer {
        signer.sign_build(&opts, &report, args.quiet)?;
    }
    println!("{}", report.digest);
    Ok(std::process::ExitCode::SUCCESS)
}
