//! `--cache-from` / `--cache-to` of `whittle build` and `whittle pkg build`: whittle's cache
//! shared through a registry repository (see `whittle_registry::cache`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use whittle_fetch::remote::{Remote, RemoteStore};
use whittle_oci::DockerReference;

/// Environment variable: the default of `--cache-from`.
pub const CACHE_FROM_VAR: &str = "WHITTLE_CACHE_FROM";
/// Environment variable: the default of `--cache-to`.
pub const CACHE_TO_VAR: &str = "WHITTLE_CACHE_TO";

/// The shared-cache flags.
#[derive(clap::Args, Debug, Default)]
pub struct SharedCacheArgs {
    /// On a local cache miss, read the entry from this registry repository (HOST/REPO or
    /// docker://HOST/REPO; credentials as for pushes), verified as local entries are: packages
    /// by their signed SHA-256, derived entries by a seal under the cache key, so runners share
    /// them only when they share $WHITTLE_CACHE_KEY; a registry that fails or is slow is given up
    /// on with a warning [default: $WHITTLE_CACHE_FROM].
    #[arg(long, value_name = "REF")]
    cache_from: Option<String>,

    /// After a successful build, write the cache entries it used to this registry repository
    /// (only blobs it lacks are uploaded; one manifest tagged cache-YYYYMMDD-… per build)
    /// [default: $WHITTLE_CACHE_TO].
    #[arg(long, value_name = "REF")]
    cache_to: Option<String>,
}

/// The shared cache of this run.
pub struct SharedCache {
    to: Option<DockerReference>,
    from: Option<String>,
    remote: Arc<Remote>,
}

/// The repository a flag or variable names.
fn repository(flag: &str, value: &str) -> Result<DockerReference, String> {
    let v = value.trim();
    DockerReference::parse(v.strip_prefix("docker://").unwrap_or(v))
        .map_err(|e| format!("{flag} {value:?}: {e}; give a registry repository, e.g. registry.example.com/team/whittle-cache"))
}

fn setting(flag: &Option<String>, var: &str) -> Option<String> {
    flag.clone()
        .or_else(|| std::env::var(var).ok())
        .filter(|v| !v.trim().is_empty())
}

impl SharedCacheArgs {
    /// Installs the shared cache for this process (before any cache is opened); `None` when
    /// neither flag nor variable is set.
    pub fn start(&self) -> Result<Option<SharedCache>, Box<dyn std::error::Error>> {
        let from = setting(&self.cache_from, CACHE_FROM_VAR)
            .map(|v| repository("--cache-from", &v))
            .transpose()?;
        let to = setting(&self.cache_to, CACHE_TO_VAR)
            .map(|v| repository("--cache-to", &v))
            .transpose()?;
        if from.is_none() && to.is_none() {
            return Ok(None);
        }
        let store: Option<Box<dyn RemoteStore>> = match &from {
            Some(r) => {
                // a cache must never cost more than it saves: a short stall limit, one retry,
                // and a deadline for all of this run's reads
                let mut opts = whittle_registry::Options::from_env();
                opts.limits.retries = opts.limits.retries.min(1);
                opts.limits.stall = opts.limits.stall.min(Duration::from_secs(10));
                opts.limits.deadline = opts.limits.deadline.min(Duration::from_secs(600));
                Some(Box::new(whittle_registry::cache::RegistryCache::new(
                    r, &opts,
                )?))
            }
            None => None,
        };
        Ok(Some(SharedCache {
            to,
            from: store.as_ref().map(|s| s.name()),
            remote: whittle_fetch::remote::install(store),
        }))
    }
}

impl SharedCache {
    /// After a successful build: reports what came from the shared cache and writes the
    /// entries used to `--cache-to`. A failure to write is a warning: the build succeeded.
    pub fn finish(&self, cache_dir: &Path, quiet: bool) {
        for w in self.remote.take_warnings() {
            eprintln!("warning: {w}");
        }
        if let Some(from) = &self.from
            && !quiet
        {
            let (n, bytes) = self.remote.hits();
            eprintln!(
                "cache     {n} entr{} ({}) read from {from}",
                if n == 1 { "y" } else { "ies" },
                crate::inspect::human(bytes)
            );
        }
        let Some(to) = &self.to else { return };
        let opts = whittle_registry::Options::from_env();
        let used = self.remote.used();
        match whittle_registry::cache::push_cache(to, cache_dir, &used, &opts) {
            Ok(r) if !quiet => eprintln!(
                "cache     {} entries written to docker://{}/{}:{} ({} uploaded, {})",
                r.entries,
                to.registry,
                to.repository,
                r.tag,
                r.uploaded,
                crate::inspect::human(r.bytes_uploaded)
            ),
            Ok(_) => {}
            Err(e) => eprintln!(
                "warning: writing the shared cache docker://{}/{} failed: {e}; the build itself succeeded",
                to.registry, to.repository
            ),
        }
    }
}
