//! `whittle audit`: what an image hides, leaks and risks, as findings.

use std::error::Error;
use std::fmt::Write as _;
use std::process::ExitCode;

use whittle_report::{Finding, Severity};

use crate::inspect::analyze;
use crate::render::{FindingsFormat, colour, heading, severity};

/// Find what an image hides and risks: files deleted or overwritten by a later layer but still
/// stored in a lower one (with a content check for private keys, cloud keys, tokens, .env files,
/// high-entropy secrets), secrets in ENV, labels and history (ARG values show there), running as
/// root, shells, package managers and compilers, package caches and lists, setuid/setgid and
/// world-writable files, and files no installed package owns.
///
/// The image is read once, streaming; nothing is extracted.
///
/// Examples:
///   whittle audit oci:out/gawk:latest
///   whittle audit docker-archive:app.tar --fail-on high
///   whittle audit oci-archive:app.tar --format sarif > audit.sarif
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct AuditArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE[:NAME:TAG].
    image: String,

    /// Output format: text for people, json, or sarif (2.1.0) for code-scanning UIs.
    #[arg(long, value_enum, default_value_t = FindingsFormat::Text)]
    format: FindingsFormat,

    /// Exit with code 3 when a finding is at or above this severity (info, low, medium, high,
    /// critical).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,

    #[command(flatten)]
    platform: crate::source::PlatformArg,
}

/// Runs `whittle audit`.
pub fn run(args: AuditArgs) -> Result<ExitCode, Box<dyn Error>> {
    let a = analyze(&args.image, args.platform.get())?;
    let findings = whittle_inspect::audit(&a);
    let out = crate::render::findings(
        args.format,
        "whittle audit",
        &args.image,
        whittle_inspect::RULES,
        &findings,
        || render(&args.image, &findings, colour()),
    )?;
    Ok(crate::render::finish(&out, &findings, args.fail_on)?)
}

/// The text rendering of findings.
pub fn render(image: &str, findings: &[Finding], colour: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} {image}: {} findings\n",
        heading("Audit of", colour),
        findings.len()
    );
    for f in findings {
        let layer = f
            .location
            .layer
            .map_or("config".to_string(), |l| format!("layer {l}"));
        let _ = writeln!(
            o,
            "{}  {:<18}  {:<8}  {}",
            severity(f.severity, true, colour),
            f.rule,
            layer,
            f.location.path.as_deref().unwrap_or("")
        );
        let _ = writeln!(o, "          {}", f.message);
        if let Some(e) = &f.evidence {
            let _ = writeln!(o, "          evidence: {e}");
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(o, "          fix: {fix}");
        }
    }
    let c = whittle_report::counts(findings);
    let summary: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| format!("{} {}", c[*s as usize], s.as_str()))
        .collect();
    let _ = writeln!(
        o,
        "\n{} {}",
        heading("Summary:", colour),
        summary.join(", ")
    );
    o
}
