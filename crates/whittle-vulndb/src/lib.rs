//! Imports advisories into a compact indexed local database.
//!
//! [`import`] reads OSV JSON (files, directories, zips), Alpine secdb JSON, Wolfi/Chainguard
//! secdb JSON, Wolfi advisories YAML (files or a `.tar.gz`) and the Debian security tracker's
//! JSON ([`debian_tracker`]), normalizes them into
//! [`Record`]s keyed by (ecosystem, package) and writes one file, `whittle-vulndb.bin`, in the
//! database directory (see [`store`] for the layout): a checksummed header and sorted index,
//! then the records of each key as one checksummed block. [`Db::open`] reads only the header and
//! index; [`Db::lookup`] reads and verifies the block of one key. [`update`] downloads sources
//! (by default the public OSV exports and the Debian security tracker) and imports them.

pub mod debian_tracker;
pub mod import;
pub mod model;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub use import::Imported;
pub use model::{Event, Record, normalize_ecosystem};
pub use store::{Db, DbHeader, SourceInfo};

/// File name of the database inside its directory.
pub const DB_FILE: &str = "whittle-vulndb.bin";

/// The default `whittle db update` sources: OSV's per-ecosystem exports, and the Debian
/// security tracker's JSON ([`debian_tracker::TRACKER_URL`]): per-release records (`Debian:10`,
/// `Debian:12`…) by source package with the tracker's urgency. A CVE found in both (OSV's
/// `DEBIAN-CVE-…`/DSA/DLA records alias the CVE) is merged into one match by the scan.
pub const DEFAULT_UPDATE_URLS: &[&str] = &[
    "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Alpine/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Wolfi/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Chainguard/all.zip",
    debian_tracker::TRACKER_URL,
];

/// Largest download accepted by [`update`]: 2 GiB.
pub const MAX_DOWNLOAD_BYTES: u64 = 2 << 30;

/// Errors of importing, updating and reading the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// There is no database yet.
    #[error(
        "no vulnerability database in {dir}; create it with `whittle db import PATH` or `whittle db update`"
    )]
    Missing {
        /// The database directory.
        dir: String,
    },
    /// The database file is damaged or from another version.
    #[error(
        "the vulnerability database {path} is damaged ({reason}); re-import it with `whittle db import` or `whittle db update`"
    )]
    Corrupt {
        /// The database file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An input file is not in a known advisory format.
    #[error("{path}: {message}")]
    Format {
        /// The input file (`archive!member` for archive members).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An archive could not be read.
    #[error("{path}: cannot read the archive: {message}")]
    Archive {
        /// The archive.
        path: String,
        /// The reader's message.
        message: String,
    },
    /// An input is larger than its limit.
    #[error("{path}: larger than the {max}-byte limit")]
    TooLarge {
        /// The input.
        path: String,
        /// The limit.
        max: u64,
    },
    /// A download failed.
    #[error("downloading {url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// The database directory: `explicit` (`--db`), else `$WHITTLE_DB_DIR`, else
/// `~/.cache/whittle/db` (the platform cache directory).
pub fn db_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("WHITTLE_DB_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::cache_dir()
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("whittle")
        .join("db")
}

/// What an import or update changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Per source: (name, records imported, files by format).
    pub sources: Vec<(String, usize, BTreeMap<String, usize>)>,
    /// Total records in the database afterwards.
    pub total_records: usize,
    /// Inputs skipped (not advisory data) and why.
    pub skipped: Vec<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Imports `paths` into the database in `dir` (created when missing). A source imported again
/// replaces its earlier records; other sources are kept.
pub fn import(dir: &Path, paths: &[PathBuf]) -> Result<ImportSummary, DbError> {
    let mut batches = Vec::new();
    for p in paths {
        let source = std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string();
        let mut got = Imported::default();
        import::import_path(p, &source, &mut got)?;
        batches.push((source, got));
    }
    merge(dir, batches)
}

/// Downloads each URL (`file://` and plain paths work too) and imports it like [`import`];
/// the source name is the URL. Zips are recognized by their magic bytes.
pub fn update(dir: &Path, urls: &[String]) -> Result<ImportSummary, DbError> {
    let transport = whittle_fetch::Transport::new();
    let mut batches = Vec::new();
    for url in urls {
        let bytes = transport
            .get(url, MAX_DOWNLOAD_BYTES)
            .map_err(|e| DbError::Download {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let mut got = Imported::default();
        if bytes.starts_with(b"PK\x03\x04") {
            import::import_zip(std::io::Cursor::new(bytes), url, url, &mut got)?;
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            import::import_tar(
                flate2::read::GzDecoder::new(bytes.as_slice()),
                url,
                url,
                &mut got,
            )?;
        } else {
            let name = if url.ends_with(".yaml") || url.ends_with(".yml") {
                url.clone()
            } else {
                format!("{url}.json")
            };
            import::import_bytes(&name, &bytes, url, &mut got)?;
        }
        batches.push((url.clone(), got));
    }
    merge(dir, batches)
}

fn merge(dir: &Path, batches: Vec<(String, Imported)>) -> Result<ImportSummary, DbError> {
    let (mut sources, mut records) = match Db::open(dir) {
        Ok(db) => (db.header().sources.clone(), db.all_records()?),
        Err(DbError::Missing { .. }) => (Vec::new(), Vec::new()),
        Err(e) => return Err(e),
    };
    let mut summary = ImportSummary {
        sources: Vec::new(),
        total_records: 0,
        skipped: Vec::new(),
    };
    let t = now();
    for (source, got) in batches {
        records.retain(|r| r.source != source);
        sources.retain(|s| s.name != source);
        let files: BTreeMap<String, usize> =
            got.files.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        summary
            .sources
            .push((source.clone(), got.records.len(), files.clone()));
        summary.skipped.extend(got.skipped);
        sources.push(SourceInfo {
            name: source,
            imported: t,
            records: got.records.len(),
            files,
        });
        records.extend(got.records);
    }
    summary.total_records = records.len();
    store::write(dir, sources, records)?;
    Ok(summary)
}
