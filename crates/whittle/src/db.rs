//! `whittle db`: the local vulnerability database (import, update, status).

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// The arguments of `whittle db`.
#[derive(clap::Args)]
pub struct DbArgs {
    /// Database directory [default: $WHITTLE_DB_DIR, else ~/.cache/whittle/db].
    #[arg(long, value_name = "DIR", global = true)]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: DbCommand,
}

/// `whittle db` subcommands.
#[derive(clap::Subcommand)]
pub enum DbCommand {
    /// Import advisories from files, directories or archives.
    ///
    /// Accepts OSV JSON records (files, directories, zips such as OSV's all.zip), Alpine secdb
    /// JSON, Wolfi/Chainguard secdb JSON, Wolfi advisories YAML (files or a .tar.gz of
    /// them), and the Debian security tracker's JSON (recognized by its shape, whatever the
    /// file's name; one record per source package, CVE and release: bookworm → Debian:12).
    /// Importing a path again replaces what it gave before.
    ///
    /// Examples:
    ///   whittle db import Debian-all.zip Alpine-all.zip
    ///   whittle db import secdb/v3.18/main.json wolfi-advisories.tar.gz
    ///   whittle db import debian-security-tracker.json
    #[command(verbatim_doc_comment)]
    Import {
        /// Files or directories to import.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Download and import advisories.
    ///
    /// Without --url, downloads OSV's exports for Debian, Alpine, Wolfi and Chainguard, and
    /// the Debian security tracker's JSON
    /// (https://security-tracker.debian.org/tracker/data/json). URLs can also come from
    /// $WHITTLE_DB_URLS (comma-separated).
    ///
    /// Examples:
    ///   whittle db update
    ///   whittle db update --url https://example.org/osv/Debian/all.zip
    #[command(verbatim_doc_comment)]
    Update {
        /// A source to download (zip, .tar.gz, JSON or YAML). Repeatable.
        #[arg(long = "url", value_name = "URL")]
        urls: Vec<String>,
    },
    /// Show the sources, record counts and age of the database.
    Status,
}

fn age(secs: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let d = now.saturating_sub(secs);
    match d {
        0..120 => format!("{d} s ago"),
        120..7200 => format!("{} min ago", d / 60),
        7200..172_800 => format!("{} h ago", d / 3600),
        _ => format!("{} days ago", d / 86_400),
    }
}

fn print_summary(s: &whittle_vulndb::ImportSummary) {
    for (name, n, files) in &s.sources {
        let files: Vec<String> = files.iter().map(|(k, v)| format!("{v} {k}")).collect();
        eprintln!("imported  {n} records from {name} ({})", files.join(", "));
    }
    for sk in &s.skipped {
        eprintln!("skipped   {sk}");
    }
    eprintln!("database  {} records", s.total_records);
}

/// Runs `whittle db`.
pub fn run(args: DbArgs) -> Result<ExitCode, Box<dyn Error>> {
    let dir = whittle_vulndb::db_dir(args.db.as_deref());
    match args.command {
        DbCommand::Import { paths } => {
            let s = whittle_vulndb::import(&dir, &paths)?;
            print_summary(&s);
        }
        DbCommand::Update { mut urls } => {
            if urls.is_empty()
                && let Ok(env) = std::env::var("WHITTLE_DB_URLS")
            {
                urls = env
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            if urls.is_empty() {
                urls = whittle_vulndb::DEFAULT_UPDATE_URLS
                    .iter()
                    .map(|u| u.to_string())
                    .collect();
            }
            let s = whittle_vulndb::update(&dir, &urls)?;
            print_summary(&s);
        }
        DbCommand::Status => {
            let db = whittle_vulndb::Db::open(&dir)?;
            let h = db.header();
            println!("database  {}", db.path().display());
            println!(
                "written   {} ({})",
                whittle_sbom::rfc3339_utc(h.written),
                age(h.written)
            );
            println!("records   {} in {} packages", h.records, h.keys);
            for (eco, n) in &h.ecosystems {
                println!("  {eco:<16} {n}");
            }
            println!("sources");
            for s in &h.sources {
                println!(
                    "  {} — {} records, imported {} ({})",
                    s.name,
                    s.records,
                    whittle_sbom::rfc3339_utc(s.imported),
                    age(s.imported)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
