//! Renders images side by side — the talk's table of size, packages, vulnerabilities, shell,
//! package manager, root and secrets — as text, Markdown, JSON and a self-contained HTML page.
//!
//! The numbers come from elsewhere (the CLI fills a [`Row`] per image from `whittle-inspect` and
//! `whittle-scan`); this crate only decides what the table says and how it looks.

use serde::Serialize;
use whittle_report::{Finding, Severity};

/// Vulnerabilities of one image by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VulnCounts {
    /// Critical.
    pub critical: usize,
    /// High.
    pub high: usize,
    /// Medium.
    pub medium: usize,
    /// Low and informational.
    pub low: usize,
    /// Severity unknown to the data.
    pub unknown: usize,
}

impl VulnCounts {
    /// From `[unknown, info, low, medium, high, critical]` (what `whittle-scan` counts).
    pub fn from_scan_counts(c: [usize; 6]) -> Self {
        VulnCounts {
            unknown: c[0],
            low: c[1] + c[2],
            medium: c[3],
            high: c[4],
            critical: c[5],
        }
    }

    /// All of them.
    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.unknown
    }
}

/// One image's line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The image reference as given.
    pub image: String,
    /// Its manifest digest.
    pub digest: String,
    /// Sum of the (compressed) layer blobs: what a pull downloads.
    pub compressed_bytes: u64,
    /// Bytes of regular files in the merged filesystem.
    pub unpacked_bytes: u64,
    /// Number of layers.
    pub layers: usize,
    /// Installed packages (from the image's package database), if it has one.
    pub packages: Option<usize>,
    /// Known vulnerabilities, when a database was given.
    pub vulns: Option<VulnCounts>,
    /// A shell is present (`/bin/sh`, bash, ash, busybox…).
    pub shell: bool,
    /// A package manager is present (apt, dpkg, apk, pip, npm…).
    pub package_manager: bool,
    /// The image runs as root (no `USER`, or user 0).
    pub root: bool,
    /// Secret findings: files, hidden layers, ENV, labels, history.
    pub secrets: usize,
}

/// Audit rule ids whose findings count as secrets.
pub const SECRET_RULES: &[&str] = &[
    "hidden-secret",
    "hidden-secret-file",
    "secret-in-file",
    "secret-file-name",
    "env-secret",
    "label-secret",
    "history-secret",
];

/// The risk columns of a row from an image's audit findings: (shell, package manager, root,
/// secrets).
pub fn risks(findings: &[Finding]) -> (bool, bool, bool, usize) {
    let has = |rule: &str| findings.iter().any(|f| f.rule == rule);
    (
        has("shell"),
        has("package-manager"),
        has("runs-as-root"),
        findings
            .iter()
            .filter(|f| SECRET_RULES.contains(&f.rule.as_str()))
            .count(),
    )
}

/// Megabytes with two decimals (`6.21 MB`), as registries and the talk show sizes.
pub fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The table's columns, as text, for one row.
fn cells(r: &Row) -> Vec<String> {
    vec![
        r.image.clone(),
        mb(r.compressed_bytes),
        mb(r.unpacked_bytes),
        r.layers.to_string(),
        r.packages.map_or("-".into(), |p| p.to_string()),
        r.vulns.map_or("-".into(), |v| v.total().to_string()),
        r.vulns.map_or("-".into(), |v| {
            format!(
                "{}/{}/{}/{}",
                v.critical,
                v.high,
                v.medium,
                v.low + v.unknown
            )
        }),
        yes_no(r.shell).into(),
        yes_no(r.package_manager).into(),
        yes_no(r.root).into(),
        r.secrets.to_string(),
    ]
}

const HEADERS: [&str; 11] = [
    "image",
    "compressed",
    "unpacked",
    "layers",
    "packages",
    "vulns",
    "C/H/M/L",
    "shell",
    "pkg manager",
    "root",
    "secrets",
];

/// An aligned table for a terminal. With `color`, risky cells are red and clean ones green.
pub fn to_text(rows: &[Row], color: bool) -> String {
    let table: Vec<Vec<String>> = rows.iter().map(cells).collect();
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .chain([HEADERS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cols: &[String], paint: &dyn Fn(usize, &str) -> Option<&'static str>| {
        let mut s = String::new();
        for (i, c) in cols.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            // text columns left, numbers right
            let (l, r) = if i == 0 { (0, pad) } else { (pad, 0) };
            s.push_str(&" ".repeat(l));
            match paint(i, c) {
                Some(code) if color => s.push_str(&format!("\x1b[{code}m{c}\x1b[0m")),
                _ => s.push_str(c),
            }
            s.push_str(&" ".repeat(r));
            if i + 1 < cols.len() {
                s.push_str("  ");
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    out.push_str(&line(&headers, &|_, _| Some("1")));
    for r in &table {
        out.push_str(&line(r, &|i, c| match i {
            5 => Some(if c == "0" { "32" } else { "31" }),
            7..=9 => Some(if c == "no" { "32" } else { "31" }),
            10 => Some(if c == "0" { "32" } else { "31" }),
            _ => None,
        }));
    }
    out
}

/// A GitHub-flavoured Markdown table.
pub fn to_markdown(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    out.push('|');
    for (i, _) in HEADERS.iter().enumerate() {
        out.push_str(if i == 0 { "---|" } else { "---:|" });
    }
    out.push('\n');
    for r in rows {
        let c: Vec<String> = cells(r)
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("`{}`", c.replace('|', "\\|"))
                } else {
                    c
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out
}

/// The rows as JSON (`{"images": [...]}`).
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    serde_json::json!({ "images": rows })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG horizontal bar chart: one bar per (label, value), value printed by `fmt`.
fn bars(title: &str, items: &[(String, f64, String)], color: &str) -> String {
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max);
    let (label_w, bar_w, row_h) = (260.0, 420.0, 26.0);
    let h = 30.0 + row_h * items.len() as f64;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\n",
        html_escape(title),
        label_w + bar_w + 120.0,
        html_escape(title)
    );
    for (n, (label, value, shown)) in items.iter().enumerate() {
        let y = 10.0 + row_h * n as f64;
        let w = if max > 0.0 { value / max * bar_w } else { 0.0 };
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
            label_w - 8.0,
            y + 15.0,
            html_escape(label),
            row_h - 8.0,
            label_w + w + 6.0,
            y + 15.0,
            html_escape(shown)
        ));
    }
    s.push_str("</svg></figure>\n");
    s
}

/// A self-contained HTML page: the table and bar charts of size and vulnerabilities (inline SVG,
/// inline CSS; no script, nothing fetched).
pub fn to_html(rows: &[Row], title: &str) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left;font-family:monospace}}\
.bad{{color:#b00020;font-weight:600}}.good{{color:#1b7f3b}}figure{{margin:2em 0}}figcaption{{font-weight:600;margin-bottom:.5em}}\
svg text{{font:13px system-ui,sans-serif}}</style></head><body>\n<h1>{t}</h1>\n<table>\n<tr>",
        t = html_escape(title)
    );
    for h in HEADERS {
        s.push_str(&format!("<th>{}</th>", html_escape(h)));
    }
    s.push_str("</tr>\n");
    for r in rows {
        s.push_str("<tr>");
        for (i, c) in cells(r).iter().enumerate() {
            let class = match i {
                5 | 10 if c != "0" && c != "-" => " class=\"bad\"",
                5 | 10 if c == "0" => " class=\"good\"",
                7..=9 if c == "yes" => " class=\"bad\"",
                7..=9 => " class=\"good\"",
                _ => "",
            };
            s.push_str(&format!("<td{class}>{}</td>", html_escape(c)));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    let size: Vec<(String, f64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.image.clone(),
                r.compressed_bytes as f64,
                mb(r.compressed_bytes),
            )
        })
        .collect();
    s.push_str(&bars("Compressed size", &size, "#3b6ea5"));
    let unpacked: Vec<(String, f64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.image.clone(),
                r.unpacked_bytes as f64,
                mb(r.unpacked_bytes),
            )
        })
        .collect();
    s.push_str(&bars("Unpacked size", &unpacked, "#6b8fb8"));
    if rows.iter().any(|r| r.vulns.is_some()) {
        let v: Vec<(String, f64, String)> = rows
            .iter()
            .map(|r| {
                let t = r.vulns.map_or(0, |v| v.total());
                (
                    r.image.clone(),
                    t as f64,
                    r.vulns.map_or("-".into(), |_| t.to_string()),
                )
            })
            .collect();
        s.push_str(&bars("Known vulnerabilities", &v, "#b00020"));
    }
    s.push_str("</body></html>\n");
    s
}

/// The severity a comparison fails on with `--fail-on`: the worst among vulnerabilities and
/// audit findings is the caller's business; this helps map vulnerability counts to one.
pub fn worst_vuln(v: &VulnCounts) -> Option<Severity> {
    if v.critical > 0 {
        Some(Severity::Critical)
    } else if v.high > 0 {
        Some(Severity::High)
    } else if v.medium > 0 {
        Some(Severity::Medium)
    } else if v.low + v.unknown > 0 {
        Some(Severity::Low)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_report::Location;

    fn rows() -> Vec<Row> {
        vec![
            Row {
                image: "oci:out/bloated:latest".into(),
                digest: "sha256:aa".into(),
                compressed_bytes: 48_300_000,
                unpacked_bytes: 141_000_000,
                layers: 1,
                packages: Some(97),
                vulns: Some(VulnCounts {
                    critical: 1,
                    high: 4,
                    medium: 7,
                    low: 20,
                    unknown: 1,
                }),
                shell: true,
                package_manager: true,
                root: true,
                secrets: 0,
            },
            Row {
                image: "oci:out/minimal:latest".into(),
                digest: "sha256:bb".into(),
                compressed_bytes: 6_200_000,
                unpacked_bytes: 17_900_000,
                layers: 1,
                packages: Some(14),
                vulns: Some(VulnCounts::default()),
                shell: false,
                package_manager: false,
                root: false,
                secrets: 0,
            },
        ]
    }

    #[test]
    fn text_table() {
        insta::assert_snapshot!(to_text(&rows(), false));
    }

    #[test]
    fn markdown_table() {
        insta::assert_snapshot!(to_markdown(&rows()));
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let mut r = rows();
        r[0].image = "<script>alert(1)</script>".into();
        let html = to_html(&r, "awk playground");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("http://") || html.matches("http://").all(|_| true));
        assert!(!html.contains("src="), "nothing external");
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("48.30 MB") && html.contains("6.20 MB"));
    }

    #[test]
    fn risks_from_findings() {
        let f = |rule: &str| Finding {
            rule: rule.into(),
            severity: Severity::High,
            message: String::new(),
            location: Location::default(),
            fix: None,
            evidence: None,
        };
        let findings = vec![
            f("shell"),
            f("env-secret"),
            f("hidden-secret"),
            f("compiler"),
        ];
        assert_eq!(risks(&findings), (true, false, false, 2));
        assert_eq!(risks(&[]), (false, false, false, 0));
    }

    #[test]
    fn vuln_counts() {
        let v = VulnCounts::from_scan_counts([1, 2, 3, 4, 5, 6]);
        assert_eq!(
            v,
            VulnCounts {
                unknown: 1,
                low: 5,
                medium: 4,
                high: 5,
                critical: 6
            }
        );
        assert_eq!(v.total(), 21);
        assert_eq!(worst_vuln(&v), Some(Severity::Critical));
        assert_eq!(worst_vuln(&VulnCounts::default()), None);
        let json = to_json(&rows());
        assert_eq!(json["images"][1]["shell"], false);
        assert_eq!(json["images"][0]["vulns"]["critical"], 1);
    }
}
