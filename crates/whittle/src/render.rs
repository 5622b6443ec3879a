//! Rendering shared by the commands that report findings (`audit`, `lint`, `scan`) and the
//! other human-facing reports: output formats, colour, severity labels, headings, and the exit
//! code of `--fail-on`.

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;

use whittle_report::{Finding, Rule, Severity};

/// Exit code when a finding is at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 3;

/// Output formats of the commands that report findings.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsFormat {
    /// Findings for people (also `table`, trivy's name).
    #[value(alias = "table")]
    Text,
    /// whittle's findings JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Whether to colour stdout: a terminal, and `NO_COLOR` unset.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// `s`, bold when colouring.
pub fn heading(s: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[1m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// The name of severity `s` padded to 8 columns (upper-case when `upper`), in its ANSI colour
/// when colouring.
pub fn severity(s: Severity, upper: bool, colour: bool) -> String {
    let name = if upper {
        format!("{:<8}", s.as_str().to_uppercase())
    } else {
        format!("{:<8}", s.as_str())
    };
    if !colour {
        return name;
    }
    let code = match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{name}\x1b[0m")
}

/// `findings` of `tool` (e.g. `whittle audit`) about `target` in `format`: whittle's findings
/// JSON or SARIF (with `rules`), each ending in a newline, or `text()` for people.
pub fn findings(
    format: FindingsFormat,
    tool: &str,
    target: &str,
    rules: &[Rule],
    findings: &[Finding],
    text: impl FnOnce() -> String,
) -> Result<String, serde_json::Error> {
    Ok(match format {
        FindingsFormat::Json => {
            serde_json::to_string_pretty(&whittle_report::to_json(tool, target, findings))? + "\n"
        }
        FindingsFormat::Sarif => {
            serde_json::to_string_pretty(&whittle_report::to_sarif(
                tool,
                env!("CARGO_PKG_VERSION"),
                rules,
                findings,
            ))? + "\n"
        }
        FindingsFormat::Text => text(),
    })
}

/// Writes `out` to stdout and returns the exit code: [`EXIT_FINDINGS`] when a finding is at or
/// above `fail_on`, else success.
pub fn finish(
    out: &str,
    findings: &[Finding],
    fail_on: Option<Severity>,
) -> std::io::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(match fail_on {
        Some(t) if whittle_report::fails(findings, t) => ExitCode::from(EXIT_FINDINGS),
        _ => ExitCode::SUCCESS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_labels_are_padded_and_coloured() {
        assert_eq!(severity(Severity::High, true, false), "HIGH    ");
        assert_eq!(severity(Severity::Low, false, false), "low     ");
        assert_eq!(
            severity(Severity::Critical, false, true),
            "\x1b[1;31mcritical\x1b[0m"
        );
        assert_eq!(heading("x", true), "\x1b[1mx\x1b[0m");
        assert_eq!(heading("x", false), "x");
    }

    #[test]
    fn text_format_uses_the_text_and_json_ends_in_a_newline() {
        let text = findings(FindingsFormat::Text, "t", "img", &[], &[], || {
            "people".into()
        });
        assert_eq!(text.unwrap(), "people");
        let json = findings(
            FindingsFormat::Json,
            "t",
            "img",
            &[],
            &[],
            || unreachable!(),
        );
        let json = json.unwrap();
        assert!(json.ends_with("}\n"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v.is_object());
    }
}
