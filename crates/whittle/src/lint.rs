//! `whittle lint`: the Dockerfile footguns that leak into images, found statically.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use whittle_report::{Finding, Severity};

use crate::render::{FindingsFormat, colour, heading, severity};

/// Lint Dockerfiles for the footguns that leak into images: a secret COPY-ed and removed in a
/// later RUN (it stays in the earlier layer), secret files copied at all (.env, id_rsa, *.pem,
/// .npmrc), secrets in ENV, ARG and LABEL, no USER or USER root, package-manager caches not
/// cleaned in the same RUN, single-stage images that keep a toolchain, `latest` or unpinned base
/// images, ADD of URLs without --checksum, `curl | sh`, `apt-get upgrade` and sudo.
///
/// Exit codes: 0 no finding at or above --fail-on (or no --fail-on), 1 error (e.g. an unreadable
/// file), 3 a finding at or above --fail-on.
///
/// Examples:
///   whittle lint
///   whittle lint app/Dockerfile build/Dockerfile.release --fail-on high
///   whittle lint --format sarif > lint.sarif
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct LintArgs {
    /// The Dockerfiles to lint [default: ./Dockerfile].
    #[arg(value_name = "DOCKERFILE")]
    files: Vec<PathBuf>,

    /// Output format: text for people, json, or sarif (2.1.0) for code-scanning UIs.
    #[arg(long, value_enum, default_value_t = FindingsFormat::Text)]
    format: FindingsFormat,

    /// Exit with code 3 when a finding is at or above this severity (info, low, medium, high,
    /// critical).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

/// A file that could not be linted.
#[derive(Debug, thiserror::Error)]
enum LintError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot lint {path}: {source}")]
    Parse {
        path: String,
        source: whittle_lint::ParseError,
    },
}

/// Runs `whittle lint`.
pub fn run(args: LintArgs) -> Result<ExitCode, Box<dyn Error>> {
    let files = if args.files.is_empty() {
        vec![PathBuf::from("Dockerfile")]
    } else {
        args.files
    };
    let mut per_file: Vec<(String, Vec<Finding>)> = Vec::new();
    for file in &files {
        let path = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|source| LintError::Read {
            path: path.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let findings = whittle_lint::lint(&path, &text).map_err(|source| LintError::Parse {
            path: path.clone(),
            source,
        })?;
        per_file.push((path, findings));
    }
    let all: Vec<Finding> = per_file.iter().flat_map(|(_, f)| f.clone()).collect();
    let target = per_file
        .iter()
        .map(|(p, _)| p.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let out = crate::render::findings(
        args.format,
        "whittle lint",
        &target,
        whittle_lint::RULES,
        &all,
        || text(&per_file, colour()),
    )?;
    Ok(crate::render::finish(&out, &all, args.fail_on)?)
}

/// Findings for people: per file, by line.
fn text(per_file: &[(String, Vec<Finding>)], colour: bool) -> String {
    let mut out = String::new();
    let mut total = Vec::new();
    for (path, findings) in per_file {
        let mut sorted: Vec<&Finding> = findings.iter().collect();
        sorted.sort_by_key(|f| (f.location.line, f.location.column));
        let _ = writeln!(out, "{}", heading(path, colour));
        if sorted.is_empty() {
            let _ = writeln!(out, "  no findings");
        }
        for f in sorted {
            let at = format!(
                "{}:{}",
                f.location.line.unwrap_or(0),
                f.location.column.unwrap_or(1)
            );
            let _ = write!(
                out,
                "  {at:<6} {} {:<21} {}",
                severity(f.severity, false, colour),
                f.rule,
                f.message
            );
            if let Some(e) = &f.evidence {
                let _ = write!(out, " [{e}]");
            }
            out.push('\n');
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "  {:<6} {:<8} fix: {fix}", "", "");
            }
        }
        total.extend(findings.iter().cloned());
    }
    let c = whittle_report::counts(&total);
    let parts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter(|s| c[**s as usize] > 0)
        .map(|s| format!("{} {}", c[*s as usize], s.as_str()))
        .collect();
    let n = total.len();
    let _ = writeln!(
        out,
        "{n} finding{} in {} file{}{}",
        if n == 1 { "" } else { "s" },
        per_file.len(),
        if per_file.len() == 1 { "" } else { "s" },
        if parts.is_empty() {
            String::new()
        } else {
            format!(": {}", parts.join(", "))
        }
    );
    out
}
