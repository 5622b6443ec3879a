//! `whittle lock`: resolves a config (or a package recipe's build environment) and writes its
//! lock beside it.

use std::path::{Path, PathBuf};

/// The arguments of `whittle lock`.
#[derive(clap::Args)]
pub struct LockArgs {
    /// The image config (YAML), or a `whittle pkg build` recipe (its `environment:` is
    /// locked); the lock is written beside it as `<stem>.lock.json`.
    config: PathBuf,

    /// A recipe's own pipelines for `uses:` (as `whittle pkg build --pipeline-dir`).
    #[arg(long, value_name = "DIR")]
    pipeline_dir: Vec<PathBuf>,

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
    let cache_dir = args
        .cache_dir
        .unwrap_or_else(whittle_fetch::Cache::default_dir);
    let term = crate::build::Terminal::new(args.quiet);
    let report = if is_recipe(&args.config) {
        if args.insecure_allow_unsigned_repositories {
            return Err(format!(
                "{}: a recipe's environment is built from signed repositories only; drop --insecure-allow-unsigned-repositories",
                args.config.display()
            )
            .into());
        }
        whittle_pkg::build::lock(
            &whittle_pkg::build::LockOptions {
                recipe: args.config,
                arch: whittle_pkg::build::host_arch(),
                pipeline_dirs: args.pipeline_dir,
                cache_dir,
                offline: args.offline,
            },
            &term,
        )?
    } else {
        let opts = whittle_build::lock::LockOptions {
            config: args.config,
            cache_dir,
            offline: args.offline,
            insecure_allow_unsigned_repositories: args.insecure_allow_unsigned_repositories,
            made_from: None,
        };
        whittle_build::lock::lock(&opts, &term)?
    };
    let count: usize = report.lock.contents.packages.values().map(Vec::len).sum();
    match &report.changes {
        None => println!(
            "locked {count} package{} in {}",
            if count == 1 { "" } else { "s" },
            report.path.display()
        ),
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

/// Whether `path` is a `whittle pkg build` recipe rather than an image config: it has a
/// top-level `package:` or `pipeline:` (an image config has neither). Only the first 1 MiB is
/// looked at; an unreadable file is left to the config reader to report.
fn is_recipe(path: &Path) -> bool {
    use std::io::Read;
    let mut text = Vec::new();
    if std::fs::File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut text))
        .is_err()
    {
        return false;
    }
    String::from_utf8_lossy(&text)
        .lines()
        .any(|l| l.starts_with("package:") || l.starts_with("pipeline:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_are_told_from_image_configs() {
        let dir = tempfile::tempdir().unwrap();
        let recipe = dir.path().join("hello.yaml");
        std::fs::write(
            &recipe,
            "package:\n  name: hello\nenvironment:\n  contents:\n    packages: [busybox]\n",
        )
        .unwrap();
        assert!(is_recipe(&recipe));
        let config = dir.path().join("image.yaml");
        std::fs::write(
            &config,
            "contents:\n  packages: [busybox]\n# package: not a key\n",
        )
        .unwrap();
        assert!(!is_recipe(&config));
        assert!(!is_recipe(&dir.path().join("missing.yaml")));
    }
}
