//! `whittle lock`: resolves a config and writes its lock beside it.

use std::path::PathBuf;

/// The arguments of `whittle lock`.
#[derive(clap::Args)]
pub struct LockArgs {
    /// The image config (YAML); the lock is written beside it as `<stem>.lock.json`.
    config: PathBuf,

    /// Use only the package cache: no network.
    #[arg(long)]
    offline: bool,

    /// Package cache directory [default: $WHITTLE_CACHE_DIR, else ~/.cache/whittle].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// DANGEROUS: accept repositories whose InRelease is unsigned or not signed by a trusted key.
    #[arg(long)]
    insecure_allow_unsigned_repositories: bool,

    /// Print only errors and what changed.
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `whittle lock`.
pub fn run(args: LockArgs) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let opts = whittle_build::lock::LockOptions {
        config: args.config,
        cache_dir: args
            .cache_dir
            .unwrap_or_else(whittle_fetch::Cache::default_dir),
        offline: args.offline,
        insecure_allow_unsigned_repositories: args.insecure_allow_unsigned_repositories,
    };
    let term = crate::build::Terminal::new(args.quiet);
    let report = whittle_build::lock::lock(&opts, &term)?;
    let count: usize = report.lock.contents.packages.values().map(Vec::len).sum();
    match &report.changes {
        None => println!("locked {count} packages in {}", report.path.display()),
        Some(c) if c.is_empty() => println!("{}: unchanged", report.path.display()),
        Some(c) => {
            println!("{}: {} change(s)", report.path.display(), c.len());
            for line in c {
                println!("  {line}");
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
