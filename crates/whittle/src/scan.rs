//! `whittle scan`: known vulnerabilities of an image's (or an SBOM's) packages, offline.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use whittle_report::Severity;

/// Output formats.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ScanFormat {
    /// A table and a summary line (also `text`).
    #[value(alias = "text")]
    Table,
    /// JSON: summary and every match.
    Json,
    /// SARIF 2.1.0 for code-scanning UIs.
    Sarif,
}

/// The arguments of `whittle scan`.
#[derive(clap::Args)]
pub struct ScanArgs {
    /// The image (oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO:TAG)
    /// or an SPDX/CycloneDX/syft JSON SBOM file (also sbom:FILE, grype's name).
    target: String,

    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ScanFormat,

    /// Exit with status 3 when a vulnerability is at least this severe (info, low, medium,
    /// high, critical; unknown severity counts as low).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,

    #[command(flatten)]
    platform: crate::source::PlatformArg,

    /// Database directory [default: $WHITTLE_DB_DIR, else ~/.cache/whittle/db].
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,
}

/// The SBOM file `target` names: `sbom:FILE` (grype's form), or a path with no transport whose
/// file starts with `{`.
fn sbom_path(target: &str) -> Option<&str> {
    if let Some(path) = target.strip_prefix("sbom:") {
        return Some(path);
    }
    let p = Path::new(target);
    let json = !target.contains(':')
        && p.is_file()
        && std::fs::File::open(p)
            .and_then(|mut f| {
                let mut b = [0u8; 64];
                let n = std::io::Read::read(&mut f, &mut b)?;
                Ok(b[..n].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{'))
            })
            .unwrap_or(false);
    json.then_some(target)
}

/// Runs `whittle scan`.
pub fn run(args: ScanArgs) -> Result<ExitCode, Box<dyn Error>> {
    let dir = whittle_vulndb::db_dir(args.db.as_deref());
    let db = whittle_vulndb::Db::open(&dir)?;
    let cat = if let Some(path) = sbom_path(&args.target) {
        if args.platform.get().is_some() {
            eprintln!("warning: --platform is for images; an SBOM is read as it is");
        }
        let bytes = whittle_scan::sbom::read_bounded(Path::new(path))?;
        whittle_scan::catalog_from_sbom(path, &bytes)?
    } else {
        crate::sbom::catalog(&args.target, args.platform.get())?.0
    };
    let report = whittle_scan::scan(&args.target, &cat, &db)?;
    match args.format {
        ScanFormat::Table => print!("{}", whittle_scan::to_table(&report)),
        ScanFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&whittle_scan::to_json(&report))?
        ),
        ScanFormat::Sarif => {
            let findings = whittle_scan::to_findings(&report);
            let sarif = whittle_report::to_sarif(
                "whittle scan",
                env!("CARGO_PKG_VERSION"),
                whittle_scan::RULES,
                &findings,
            );
            println!("{}", serde_json::to_string_pretty(&sarif)?);
        }
    }
    if !matches!(args.format, ScanFormat::Table) {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(match (args.fail_on, whittle_scan::worst(&report)) {
        (Some(t), Some(w)) if w >= t => ExitCode::from(crate::render::EXIT_FINDINGS),
        _ => ExitCode::SUCCESS,
    })
}
