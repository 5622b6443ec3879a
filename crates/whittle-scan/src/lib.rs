//! Matches an image's packages against the local vulnerability database.
//!
//! [`scan`] takes a [`Catalog`] (from an image, or from an SBOM with [`catalog_from_sbom`]) and a
//! [`Db`]; for each package it looks up the records of the OS's ecosystems under the package's
//! source name (Debian: `Source:`, compared with the source version; apk: origin and name) and
//! keeps those whose ranges contain the version ([`affected`], with the format's own ordering).
//! Records saying "not affected" hide the same problem; matches are merged per (package, CVE).

pub mod sbom;

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use whittle_catalog::{Catalog, OsRelease, Package};
use whittle_report::{Finding, Location, Rule, Severity};
use whittle_vulndb::{Db, DbError, Event, Record};

pub use sbom::catalog_from_sbom;

/// Errors of scanning.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The database could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The SBOM could not be read.
    #[error("{0}")]
    Sbom(String),
}

/// Version ordering of a package format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Debian policy §5.6.12.
    Deb,
    /// apk-tools' rules.
    Apk,
}

impl Format {
    /// Compares two versions; `None` when one does not parse.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Format::Deb => {
                let a: whittle_deb::Version = a.parse().ok()?;
                let b: whittle_deb::Version = b.parse().ok()?;
                Some(a.cmp(&b))
            }
            Format::Apk => {
                let a = whittle_apk::version::Version::new_lenient(a);
                let b = whittle_apk::version::Version::new_lenient(b);
                Some(a.cmp(&b))
            }
        }
    }
}

/// Why a version is affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// The first fixed version above it, when the data has one.
    pub fixed: Option<String>,
}

fn event_version(e: &Event) -> &str {
    match e {
        Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
    }
}

/// Whether `version` is in one OSV range (events in any order), and the fix above it.
pub fn in_range(format: Format, version: &str, events: &[Event]) -> Option<Affected> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    // "0" is below every version; an unparsable version makes the range unusable
    let key_cmp = |a: &&Event, b: &&Event| -> Ordering {
        let (va, vb) = (event_version(a), event_version(b));
        match (va == "0", vb == "0") {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => format.compare(va, vb).unwrap_or(Ordering::Equal),
        }
    };
    sorted.sort_by(key_cmp);
    let mut affected = false;
    let mut fixed = None;
    for ev in sorted {
        let ev_v = event_version(ev);
        let ord = if ev_v == "0" {
            Ordering::Greater
        } else {
            format.compare(version, ev_v)?
        };
        match ev {
            Event::Introduced(_) => {
                if ord == Ordering::Less {
                    break;
                }
                affected = true;
            }
            Event::Fixed(f) | Event::Limit(f) => {
                if ord == Ordering::Less {
                    if affected && matches!(ev, Event::Fixed(_)) {
                        fixed = Some(f.clone());
                    }
                    break;
                }
                affected = false;
            }
            Event::LastAffected(_) => {
                if ord != Ordering::Greater {
                    break;
                }
                affected = false;
            }
        }
    }
    affected.then_some(Affected { fixed })
}

/// Whether `record` says `version` is affected: in one of its ranges or its `versions` list.
pub fn affected(format: Format, version: &str, record: &Record) -> Option<Affected> {
    if record.not_affected {
        return None;
    }
    let mut hit: Option<Affected> = None;
    for r in &record.ranges {
        if let Some(a) = in_range(format, version, r) {
            if a.fixed.is_some() {
                return Some(a);
            }
            hit = Some(a);
        }
    }
    if hit.is_none()
        && record
            .versions
            .iter()
            .any(|v| v == version || format.compare(v, version) == Some(Ordering::Equal))
    {
        // a listed version: the fix is the range's fixed event when there is one
        let fixed = record.ranges.iter().flatten().find_map(|e| match e {
            Event::Fixed(f) => Some(f.clone()),
            _ => None,
        });
        hit = Some(Affected { fixed });
    }
    hit
}

/// One vulnerability of one package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnMatch {
    /// Binary package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// The package name the data is keyed by (Debian source package, apk origin).
    pub matched_name: String,
    /// The version compared (Debian source version).
    pub matched_version: String,
    /// The vulnerability: a CVE id when the data names one, else the advisory id.
    pub id: String,
    /// The other ids of it (DSA/DLA, GHSA, ALPINE-…, CGA-…), sorted.
    pub aliases: Vec<String>,
    /// The ecosystem of the data (`Debian:12`).
    pub ecosystem: String,
    /// The first fixed version, when the data has one.
    pub fixed: Option<String>,
    /// Severity from the data; `None` is shown as `unknown`.
    pub severity: Option<Severity>,
    /// CVSS base score, when known.
    pub score: Option<f32>,
    /// Summary of the first advisory that has one.
    pub summary: String,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScanReport {
    /// What was scanned (image reference or SBOM path).
    pub target: String,
    /// The OS found.
    pub os: Option<OsRelease>,
    /// The ecosystems looked up.
    pub ecosystems: Vec<String>,
    /// Number of packages scanned.
    pub packages: usize,
    /// The vulnerabilities, worst first, then by package and id.
    pub matches: Vec<VulnMatch>,
    /// Problems that limit the result (unknown OS, ecosystem missing from the database, damaged
    /// package records, SBOM packages that could not be matched).
    pub warnings: Vec<String>,
}

impl ScanReport {
    /// Matches per severity, `[unknown, info, low, medium, high, critical]`.
    pub fn counts(&self) -> [usize; 6] {
        let mut c = [0; 6];
        for m in &self.matches {
            let i = m.severity.map_or(0, |s| s as usize + 1);
            if let Some(slot) = c.get_mut(i) {
                *slot += 1;
            }
        }
        c
    }

    /// Distinct vulnerability ids across all packages.
    pub fn distinct_ids(&self) -> usize {
        self.matches
            .iter()
            .map(|m| m.id.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}

fn format_of(p: &Package) -> Format {
    if p.db.is_deb() {
        Format::Deb
    } else {
        Format::Apk
    }
}

/// Scans `cat` against `db`. `target` names what was scanned in the report.
pub fn scan(target: &str, cat: &Catalog, db: &Db) -> Result<ScanReport, ScanError> {
    let mut report = ScanReport {
        target: target.to_string(),
        os: cat.os.clone(),
        packages: cat.packages.len(),
        // what the catalog could not read or match limits the result too
        warnings: cat.findings.iter().map(|f| f.message.clone()).collect(),
        ..ScanReport::default()
    };
    let ecosystems = cat
        .os
        .as_ref()
        .map(OsRelease::ecosystems)
        .unwrap_or_default();
    if cat.os.is_none() {
        report
            .warnings
            .push("no os-release found: the OS release is unknown, nothing was matched".into());
    } else if ecosystems.is_empty() {
        report.warnings.push(format!(
            "no vulnerability data is known for OS `{}`",
            cat.os.as_ref().map_or("", |o| o.id.as_str())
        ));
    }
    for eco in &ecosystems {
        if !db.has_ecosystem(eco) {
            report.warnings.push(format!(
                "the database has no records for {eco}: import or update it (e.g. `whittle db update`)"
            ));
        }
    }
    report.ecosystems = ecosystems.clone();
    // (package, version, id) -> match
    let mut merged: BTreeMap<(String, String, String), VulnMatch> = BTreeMap::new();
    // binary packages of one source (libc6, libc-bin…) share its records: read, verify and
    // parse each (ecosystem, name) block once
    let mut blocks: HashMap<(&str, String), Vec<Record>> = HashMap::new();
    for p in &cat.packages {
        let format = format_of(p);
        let mut names = vec![p.source().to_string()];
        if format == Format::Apk && p.name != p.source() {
            names.push(p.name.clone());
        }
        let version = match format {
            Format::Deb => p.source_ver().to_string(),
            Format::Apk => p.version.clone(),
        };
        for eco in &ecosystems {
            for name in &names {
                let records = match blocks.entry((eco.as_str(), name.clone())) {
                    Entry::Occupied(o) => o.into_mut(),
                    Entry::Vacant(v) => v.insert(db.lookup(eco, name)?),
                };
                if records.is_empty() {
                    continue;
                }
                let hidden: HashSet<&str> = records
                    .iter()
                    .filter(|r| r.not_affected)
                    .flat_map(Record::ids)
                    .collect();
                for r in records.iter() {
                    let Some(hit) = affected(format, &version, r) else {
                        continue;
                    };
                    if r.ids().any(|i| hidden.contains(i)) {
                        continue;
                    }
                    for key in r.cve_keys() {
                        let entry = merged
                            .entry((p.name.clone(), p.version.clone(), key.clone()))
                            .or_insert_with(|| VulnMatch {
                                package: p.name.clone(),
                                version: p.version.clone(),
                                matched_name: name.clone(),
                                matched_version: version.clone(),
                                id: key.clone(),
                                aliases: Vec::new(),
                                ecosystem: eco.clone(),
                                fixed: None,
                                severity: None,
                                score: None,
                                summary: String::new(),
                            });
                        for i in r.ids() {
                            if i != key && !entry.aliases.iter().any(|a| a == i) {
                                entry.aliases.push(i.to_string());
                            }
                        }
                        if entry.fixed.is_none() {
                            entry.fixed = hit.fixed.clone();
                        }
                        if r.severity > entry.severity {
                            entry.severity = r.severity;
                            entry.score = r.score;
                        }
                        if entry.summary.is_empty() {
                            entry.summary = r.summary.clone();
                        }
                    }
                }
            }
        }
    }
    let mut matches: Vec<VulnMatch> = merged.into_values().collect();
    for m in &mut matches {
        m.aliases.sort();
    }
    matches.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.id.cmp(&b.id))
    });
    report.matches = matches;
    Ok(report)
}

/// Rule id of vulnerability findings.
pub const RULE_VULNERABLE: &str = "scan/vulnerable-package";

/// The rules [`to_findings`] reports, for SARIF.
pub const RULES: &[Rule] = &[Rule {
    id: RULE_VULNERABLE,
    description: "An installed package has a known vulnerability",
}];

/// The report as findings (unknown severity becomes `Low` so `--fail-on low` counts it).
pub fn to_findings(report: &ScanReport) -> Vec<Finding> {
    report
        .matches
        .iter()
        .map(|m| Finding {
            rule: RULE_VULNERABLE.to_string(),
            severity: m.severity.unwrap_or(Severity::Low),
            message: format!(
                "{} {} is affected by {}{} (severity {}){}",
                m.package,
                m.version,
                m.id,
                if m.aliases.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", m.aliases.join(", "))
                },
                m.severity.map_or("unknown", Severity::as_str),
                if m.summary.is_empty() {
                    String::new()
                } else {
                    format!(": {}", m.summary)
                }
            ),
            location: Location {
                artifact: Some(report.target.clone()),
                layer: None,
                path: None,
                line: None,
                column: None,
            },
            fix: Some(match &m.fixed {
                Some(f) => format!("upgrade {} to {f} or later", m.matched_name),
                None => "no fixed version is known yet".to_string(),
            }),
            evidence: Some(format!("{} {}", m.ecosystem, m.matched_version)),
        })
        .collect()
}

/// The highest severity present, counting unknown as `Low` (like [`to_findings`]).
pub fn worst(report: &ScanReport) -> Option<Severity> {
    report
        .matches
        .iter()
        .map(|m| m.severity.unwrap_or(Severity::Low))
        .max()
}

/// A terminal table of the matches with a summary line.
pub fn to_table(report: &ScanReport) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "PACKAGE".into(),
        "VERSION".into(),
        "VULNERABILITY".into(),
        "SEVERITY".into(),
        "FIXED IN".into(),
        "ALSO KNOWN AS".into(),
    ]];
    for m in &report.matches {
        rows.push([
            m.package.clone(),
            m.version.clone(),
            m.id.clone(),
            m.severity.map_or("unknown", Severity::as_str).to_string(),
            m.fixed.clone().unwrap_or_else(|| "-".into()),
            m.aliases.join(","),
        ]);
    }
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    if !report.matches.is_empty() {
        for r in &rows {
            let mut line = String::new();
            for (i, (c, w)) in r.iter().zip(widths.iter()).enumerate() {
                if i + 1 == r.len() {
                    line.push_str(c);
                } else {
                    line.push_str(&format!("{c:<w$}  "));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    let c = report.counts();
    let os = report
        .os
        .as_ref()
        .map(|o| format!("{} {}", o.id, o.version_id))
        .unwrap_or_else(|| "unknown OS".into());
    out.push_str(&format!(
        "{}: {} ({}), {} packages, {} vulnerabilities ({} distinct): critical {}, high {}, medium {}, low {}, info {}, unknown {}\n",
        report.target,
        os.trim(),
        report.ecosystems.join(", "),
        report.packages,
        report.matches.len(),
        report.distinct_ids(),
        c[5],
        c[4],
        c[3],
        c[2],
        c[1],
        c[0]
    ));
    for w in &report.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The report as JSON: target, OS, counts by severity and every match.
pub fn to_json(report: &ScanReport) -> serde_json::Value {
    let c = report.counts();
    serde_json::json!({
        "tool": "whittle scan",
        "target": report.target,
        "os": report.os,
        "ecosystems": report.ecosystems,
        "packages": report.packages,
        "summary": {
            "total": report.matches.len(),
            "distinct": report.distinct_ids(),
            "critical": c[5], "high": c[4], "medium": c[3], "low": c[2], "info": c[1], "unknown": c[0],
        },
        "vulnerabilities": report.matches.iter().map(|m| serde_json::json!({
            "package": m.package,
            "version": m.version,
            "matched": {"name": m.matched_name, "version": m.matched_version, "ecosystem": m.ecosystem},
            "id": m.id,
            "aliases": m.aliases,
            "severity": m.severity.map_or("unknown", Severity::as_str),
            "score": m.score,
            "fixed": m.fixed,
            "summary": m.summary,
        })).collect::<Vec<_>>(),
        "warnings": report.warnings,
    })
}

/// The distinct ids of the report, for tests and summaries.
pub fn ids(report: &ScanReport) -> BTreeSet<(String, String)> {
    report
        .matches
        .iter()
        .map(|m| (m.package.clone(), m.id.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(i: &str, f: &str) -> Vec<Event> {
        vec![Event::Introduced(i.into()), Event::Fixed(f.into())]
    }

    #[test]
    fn deb_ranges() {
        let r = ev("0", "2.9.4+dfsg1-2.2+deb9u7");
        let hit = in_range(Format::Deb, "2.9.4+dfsg1-2.2+deb9u6", &r).unwrap();
        assert_eq!(hit.fixed.as_deref(), Some("2.9.4+dfsg1-2.2+deb9u7"));
        assert!(in_range(Format::Deb, "2.9.4+dfsg1-2.2+deb9u7", &r).is_none());
        assert!(in_range(Format::Deb, "2.9.4+dfsg1-2.2+deb10u1", &r).is_none());
        // epoch: 1:1.0 > 2.0
        assert!(in_range(Format::Deb, "1:1.0-1", &ev("0", "2.0-1")).is_none());
        // tilde sorts before everything
        assert!(in_range(Format::Deb, "2.0~rc1-1", &ev("0", "2.0-1")).is_some());
        // last_affected is inclusive
        let la = vec![
            Event::Introduced("1.0".into()),
            Event::LastAffected("1.5".into()),
        ];
        assert!(in_range(Format::Deb, "1.5", &la).is_some());
        assert!(in_range(Format::Deb, "1.5.1", &la).is_none());
        assert!(in_range(Format::Deb, "0.9", &la).is_none());
        // two intervals in one range
        let two = vec![
            Event::Introduced("1.0".into()),
            Event::Fixed("1.2".into()),
            Event::Introduced("2.0".into()),
            Event::Fixed("2.3".into()),
        ];
        assert!(in_range(Format::Deb, "1.5", &two).is_none());
        assert_eq!(
            in_range(Format::Deb, "2.1", &two).unwrap().fixed.as_deref(),
            Some("2.3")
        );
    }

    #[test]
    fn apk_ranges() {
        let r = ev("0.9.13", "1.2.3-r4");
        assert!(in_range(Format::Apk, "1.2.3-r3", &r).is_some());
        assert!(in_range(Format::Apk, "1.2.3-r4", &r).is_none());
        assert!(in_range(Format::Apk, "1.1.22-r3", &r).is_some());
        assert!(in_range(Format::Apk, "0.9.12-r0", &r).is_none());
        // _rc before release, _p after
        assert!(in_range(Format::Apk, "1.2.3_rc1-r0", &ev("0", "1.2.3-r0")).is_some());
        assert!(in_range(Format::Apk, "1.2.3_p1-r0", &ev("0", "1.2.3-r0")).is_none());
    }

    proptest! {
        #[test]
        fn introduced_zero_fixed_is_a_threshold(a in 0u32..50, b in 0u32..50, f in 0u32..50) {
            let v = format!("{a}.{b}-r0");
            let fixed = format!("{f}.0-r0");
            let hit = in_range(Format::Apk, &v, &ev("0", &fixed)).is_some();
            prop_assert_eq!(hit, (a, b) < (f, 0));
        }
    }
}
