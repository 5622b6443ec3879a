//! `whittle inspect`: what an image holds, layer by layer, and what it wastes.

use std::error::Error;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use whittle_inspect::report::InspectReport;

use crate::render::{colour, heading};

/// Show what an image holds: config, history with the command that made each layer, per-layer
/// size and file changes, the largest files, size by package (dpkg or apk database), and
/// efficiency and wasted bytes as dive 0.13 counts them (every copy of a path that more than one
/// layer holds, the surviving copy included), beside the bytes the final tree hides (what
/// squashing the layers would save).
///
/// --ci checks the image against dive's CI rules (lowest-efficiency, highest-wasted-bytes,
/// highest-user-wasted-percent, or their camelCase names) from --ci-config (default .dive-ci
/// when it exists, else dive's defaults: efficiency 0.9, user wasted 0.1) and prints each
/// rule's PASS/FAIL/SKIP as dive does.
///
/// The image is read once, streaming; nothing is extracted. Exit codes: 0 done (with --ci:
/// every rule passed), 1 error (a bad CI config names the file and key), 3 a CI rule failed.
///
/// Examples:
///   whittle inspect oci:out/gawk:latest
///   whittle inspect docker-archive:app.tar --top 20
///   whittle inspect oci-archive:app.tar --format json | jq .efficiency
///   whittle inspect docker-archive:app.tar --ci --ci-config .dive-ci
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct InspectArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE[:NAME:TAG].
    image: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// How many of the largest files and most wasteful paths to list (and changed/removed paths
    /// per layer in text output).
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,

    #[command(flatten)]
    platform: crate::source::PlatformArg,

    /// Check the image against dive's CI rules instead of describing it.
    #[arg(long)]
    ci: bool,

    /// dive's CI rules file (YAML, `rules:`); without it, .dive-ci when it exists, else dive's
    /// defaults.
    #[arg(long, value_name = "FILE", requires = "ci")]
    ci_config: Option<std::path::PathBuf>,
}

/// Output formats of `whittle inspect`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for people (also `table`).
    #[value(alias = "table")]
    Text,
    /// The full report as JSON.
    Json,
}

/// Read and analyse an image for `inspect` and `audit`.
pub fn analyze(
    image: &str,
    platform: Option<&whittle_oci::Platform>,
) -> Result<whittle_inspect::Analysis, Box<dyn Error>> {
    let opened = crate::source::open(image, platform)?;
    Ok(whittle_inspect::analyze_image(
        opened.image(),
        image,
        &whittle_inspect::Options::default(),
    )?)
}

/// Runs `whittle inspect`.
pub fn run(args: InspectArgs) -> Result<ExitCode, Box<dyn Error>> {
    // a bad rules file fails before the image is read
    let ci = if args.ci {
        Some(ci_rules(args.ci_config.as_deref())?)
    } else {
        None
    };
    let a = analyze(&args.image, args.platform.get())?;
    let report = whittle_inspect::inspect_report(&a, args.top);
    if let Some((source, rules)) = ci {
        let outcome = rules.evaluate(&a.dive);
        let out = match args.format {
            Format::Json => {
                let v = serde_json::json!({
                    "image": report.image,
                    "ci_config": source,
                    "rules_configured": rules,
                    "efficiency": report.efficiency,
                    "rules": outcome.rules,
                    "pass": outcome.pass,
                });
                serde_json::to_string_pretty(&v)? + "\n"
            }
            Format::Text => render_ci(source.as_deref(), &report, &outcome, colour()),
        };
        std::io::stdout().lock().write_all(out.as_bytes())?;
        return Ok(if outcome.pass {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(crate::render::EXIT_FINDINGS)
        });
    }
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Text => render(&report, args.top, colour()),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// A human size: `0 B`, `512 B`, `1.5 kB`, `12.3 MB` (SI units).
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// `s` shortened to `max` characters with `…`.
pub fn clip(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The text rendering of the report.
pub fn render(r: &InspectReport, top: usize, color: bool) -> String {
    let mut o = String::new();
    let c = &r.config;
    let _ = writeln!(o, "{}", heading("Image", color));
    let _ = writeln!(o, "  reference   {}", r.image);
    let _ = writeln!(o, "  digest      {}", r.manifest_digest);
    let _ = writeln!(o, "  platform    {}", c.platform);
    if let Some(t) = &c.created {
        let _ = writeln!(o, "  created     {t}");
    }
    let _ = writeln!(
        o,
        "  user        {}",
        c.user
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or("(none: root)")
    );
    if let Some(w) = c.workdir.as_deref().filter(|w| !w.is_empty()) {
        let _ = writeln!(o, "  workdir     {w}");
    }
    if !c.entrypoint.is_empty() {
        let _ = writeln!(o, "  entrypoint  {}", json_list(&c.entrypoint));
    }
    if !c.cmd.is_empty() {
        let _ = writeln!(o, "  cmd         {}", json_list(&c.cmd));
    }
    for (i, e) in c.env.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {:<10}  {}",
            if i == 0 { "env" } else { "" },
            clip(e, 100)
        );
    }
    for (i, (k, v)) in c.labels.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {:<10}  {k}={}",
            if i == 0 { "labels" } else { "" },
            clip(v, 80)
        );
    }
    if !c.exposed_ports.is_empty() {
        let _ = writeln!(o, "  ports       {}", c.exposed_ports.join(", "));
    }
    if !c.volumes.is_empty() {
        let _ = writeln!(o, "  volumes     {}", c.volumes.join(", "));
    }

    let _ = writeln!(o, "\n{}", heading("Layers", color));
    let _ = writeln!(
        o,
        "  {:>3}  {:>9}  {:>9}  {:>6}  {:>6}  {:>6}  COMMAND",
        "#", "FILES", "BLOB", "+ADD", "~CHG", "-DEL"
    );
    for l in &r.layers {
        let _ = writeln!(
            o,
            "  {:>3}  {:>9}  {:>9}  {:>6}  {:>6}  {:>6}  {}",
            l.index,
            human(l.file_bytes),
            human(l.blob_size),
            l.added.len(),
            l.changed.len(),
            l.removed.len(),
            clip(l.created_by.as_deref().unwrap_or("-"), 70)
        );
    }
    let empty: Vec<_> = r.history.iter().filter(|h| h.empty_layer).collect();
    if !empty.is_empty() {
        let _ = writeln!(o, "  history without a layer:");
        for h in empty {
            let _ = writeln!(
                o,
                "       {}",
                clip(h.created_by.as_deref().unwrap_or("-"), 90)
            );
        }
    }
    let mut any = false;
    for l in &r.layers {
        if l.changed.is_empty() && l.removed.is_empty() {
            continue;
        }
        if !any {
            let _ = writeln!(o, "\n{}", heading("Changed and removed paths", color));
            any = true;
        }
        let _ = writeln!(o, "  layer {}", l.index);
        for (mark, list) in [("-", &l.removed), ("~", &l.changed)] {
            for p in list.iter().take(top) {
                let _ = writeln!(o, "    {mark} {p}");
            }
            if list.len() > top {
                let _ = writeln!(o, "    {mark} … {} more", list.len() - top);
            }
        }
    }

    let t = &r.totals;
    let _ = writeln!(
        o,
        "\n{}  {} files, {} dirs, {} symlinks, {} hard links, {} other; {}",
        heading("Final tree", color),
        t.files,
        t.dirs,
        t.symlinks,
        t.hardlinks,
        t.other,
        human(t.bytes)
    );
    let _ = writeln!(o, "  {:>9}  {:>5}  PATH", "SIZE", "LAYER");
    for f in &r.largest {
        let _ = writeln!(o, "  {:>9}  {:>5}  {}", human(f.size), f.layer, f.path);
    }

    if let Some(p) = &r.packages {
        let _ = writeln!(
            o,
            "\n{}  {} installed, {} in files they own",
            heading("Packages", color),
            p.count,
            human(p.owned_bytes)
        );
        let _ = writeln!(
            o,
            "  {:>9}  {:>9}  {:>6}  PACKAGE",
            "SIZE", "DECLARED", "FILES"
        );
        for pkg in p.packages.iter().take(top) {
            let _ = writeln!(
                o,
                "  {:>9}  {:>9}  {:>6}  {} {} ({})",
                if pkg.has_file_list {
                    human(pkg.size)
                } else {
                    "-".into()
                },
                pkg.declared_size.map_or("-".into(), human),
                pkg.files,
                pkg.name,
                pkg.version,
                pkg.manager
            );
        }
        if p.packages.len() > top {
            let _ = writeln!(o, "  … {} more", p.packages.len() - top);
        }
    }

    let e = &r.efficiency;
    let _ = writeln!(
        o,
        "\n{}  {}  {} wasted (dive's measure: every copy of each path more than one layer holds)",
        heading("Efficiency", color),
        percent(e.score),
        human(e.wasted_bytes),
    );
    let _ = writeln!(
        o,
        "  user wasted {} of the {} above the first layer; squashing would save {} of the {} stored in files",
        percent(e.user_wasted_ratio),
        human(e.user_size_bytes),
        human(e.hidden_bytes),
        human(e.total_bytes),
    );
    if !e.top_wasted.is_empty() {
        let _ = writeln!(o, "  {:>6}  {:>9}  PATH", "COUNT", "WASTED");
        for w in &e.top_wasted {
            let _ = writeln!(
                o,
                "  {:>6}  {:>9}  {}",
                w.references,
                human(w.bytes),
                w.path
            );
        }
    }
    o
}

/// A ratio as dive prints it: `98.4421 %` (`-` when it is not a number).
fn percent(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{:.4} %", ratio * 100.0)
    } else if ratio.is_nan() {
        "-".into()
    } else {
        "∞".into()
    }
}

/// The CI rules: from `file`, else `.dive-ci` when it exists, else dive's defaults; with the
/// file they came from.
fn ci_rules(
    file: Option<&std::path::Path>,
) -> Result<(Option<String>, whittle_inspect::CiRules), Box<dyn Error>> {
    use std::io::Read as _;
    let default = std::path::Path::new(".dive-ci");
    let path = match file {
        Some(f) => f,
        None if default.is_file() => default,
        None => return Ok((None, whittle_inspect::CiRules::default())),
    };
    let name = path.display().to_string();
    let f = std::fs::File::open(path)
        .map_err(|e| format!("{name}: cannot read the CI rules file: {e}"))?;
    let mut text = String::new();
    f.take(whittle_inspect::ci::MAX_CONFIG_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{name}: cannot read the CI rules file: {e}"))?;
    let rules = whittle_inspect::CiRules::parse(&text, &name)?;
    for k in &rules.unknown_keys {
        eprintln!(
            "warning: {name}: `rules.{k}` is not a rule whittle (or dive) checks; ignored (rules: lowest-efficiency, highest-wasted-bytes, highest-user-wasted-percent)"
        );
    }
    Ok((Some(name), rules))
}

/// The text of `inspect --ci`, laid out as `dive --ci` prints it.
pub fn render_ci(
    source: Option<&str>,
    r: &InspectReport,
    outcome: &whittle_inspect::CiOutcome,
    color: bool,
) -> String {
    use whittle_inspect::ci::RuleStatus;
    let mut o = String::new();
    let e = &r.efficiency;
    match source {
        Some(f) => {
            let _ = writeln!(o, "  Using CI config: {f}");
        }
        None => {
            let _ = writeln!(o, "  Using default CI config");
        }
    }
    let _ = writeln!(o, "{} {}", heading("Image:", color), r.image);
    let _ = writeln!(o, "  efficiency: {}", percent(e.score));
    let _ = writeln!(
        o,
        "  wastedBytes: {} bytes ({})",
        e.wasted_bytes,
        human(e.wasted_bytes)
    );
    let _ = writeln!(o, "  userWastedPercent: {}", percent(e.user_wasted_ratio));
    let _ = writeln!(o, "{}", heading("Inefficient Files:", color));
    let _ = writeln!(o, "{:>5}  {:>12}  File Path", "Count", "Wasted Space");
    if e.top_wasted.is_empty() {
        let _ = writeln!(o, "None");
    }
    for w in &e.top_wasted {
        let _ = writeln!(o, "{:>5}  {:>12}  {}", w.references, human(w.bytes), w.path);
    }
    let _ = writeln!(o, "{}", heading("Results:", color));
    let mut tally = [0usize; 3];
    for rule in &outcome.rules {
        let status = match rule.status {
            RuleStatus::Pass => {
                tally[0] += 1;
                rule.status.as_str().to_string()
            }
            RuleStatus::Fail => {
                tally[1] += 1;
                if color {
                    format!("\x1b[1;7;31m{}\x1b[0m", rule.status.as_str())
                } else {
                    rule.status.as_str().to_string()
                }
            }
            RuleStatus::Skip => {
                tally[2] += 1;
                rule.status.as_str().to_string()
            }
        };
        if rule.message.is_empty() {
            let _ = writeln!(o, "  {status}: {}", rule.rule);
        } else {
            let _ = writeln!(o, "  {status}: {}: {}", rule.rule, rule.message);
        }
    }
    let _ = writeln!(
        o,
        "Result:{} [Total:{}] [Passed:{}] [Failed:{}] [Warn:0] [Skipped:{}]",
        if outcome.pass { "PASS" } else { "FAIL" },
        outcome.rules.len(),
        tally[0],
        tally[1],
        tally[2]
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1500), "1.5 kB");
        assert_eq!(human(12_300_000), "12.3 MB");
    }

    #[test]
    fn clipping() {
        assert_eq!(clip("a  b\n c", 10), "a b c");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
