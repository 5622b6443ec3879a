//! Findings: the one shape in which every whittle check (audit, lint, scan) reports what it found,
//! with ordered severities for `--fail-on`, and their JSON and SARIF 2.1.0 renderings.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// How bad a finding is, from `Info` (worth knowing) to `Critical` (fix before shipping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; not a risk by itself.
    Info,
    /// A small risk or a hygiene problem.
    Low,
    /// A risk an attacker can use as one link of a chain.
    Medium,
    /// A risk that leaks secrets or gives an attacker a foothold.
    High,
    /// Fix before shipping.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name (`"high"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The SARIF `level` this severity maps to.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Low | Severity::Medium => "warning",
            Severity::High | Severity::Critical => "error",
        }
    }

    /// The SARIF `security-severity` score (0.0–10.0) code-scanning UIs sort by.
    pub fn security_score(self) -> &'static str {
        match self {
            Severity::Info => "0.0",
            Severity::Low => "3.0",
            Severity::Medium => "5.5",
            Severity::High => "8.0",
            Severity::Critical => "9.5",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of `info low medium high critical`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}: use one of info, low, medium, high, critical")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" | "note" | "negligible" | "none" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" | "moderate" => Ok(Severity::Medium),
            "high" | "important" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Location {
    /// The file or image the finding is in (`Dockerfile`, `oci:out/app`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// The layer (0 = bottom) that holds it, for image findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// A path inside the image (`/etc/secret.key`), or a config key (`config.Env[2]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The 1-based line in `artifact`, for text files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The 1-based column in `artifact`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable rule id, kebab-case (`hidden-secret`, `env-secret`, `runs-as-root`).
    pub rule: String,
    /// How bad it is.
    pub severity: Severity,
    /// One line saying what was found, naming the thing (`/root/.ssh/id_rsa deleted in layer 3
    /// but still in layer 2`).
    pub message: String,
    /// Where it is.
    pub location: Location,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Redacted evidence (`AKIA…XMPL`); never the whole secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A rule's fixed description, for SARIF's `tool.driver.rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The id findings carry in [`Finding::rule`].
    pub id: &'static str,
    /// A one-line description of what the rule looks for.
    pub description: &'static str,
}

/// The highest severity among `findings`, if any.
pub fn highest(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// Whether `--fail-on threshold` should fail: some finding is at or above it.
pub fn fails(findings: &[Finding], threshold: Severity) -> bool {
    highest(findings).is_some_and(|s| s >= threshold)
}

/// Sorts findings the way people read them: most severe first, then by layer, path, line, rule.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.location.layer.cmp(&b.location.layer))
            .then_with(|| a.location.path.cmp(&b.location.path))
            .then_with(|| a.location.line.cmp(&b.location.line))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// Counts of findings per severity, lowest first (the order of [`Severity::ALL`]).
pub fn counts(findings: &[Finding]) -> [usize; 5] {
    let mut c = [0; 5];
    for f in findings {
        c[f.severity as usize] += 1;
    }
    c
}

/// whittle's JSON rendering: `{"tool": …, "target": …, "summary": {…}, "findings": […]}`.
pub fn to_json(tool: &str, target: &str, findings: &[Finding]) -> serde_json::Value {
    let c = counts(findings);
    let summary: serde_json::Map<String, serde_json::Value> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), c[*s as usize].into()))
        .collect();
    serde_json::json!({
        "tool": tool,
        "target": target,
        "summary": summary,
        "findings": findings,
    })
}

/// A SARIF 2.1.0 log of `findings`, made by `tool` (`whittle audit`), for code-scanning UIs.
///
/// `rules` describes every rule id the tool can report; findings whose rule is missing from it
/// still appear, with the rule id as their description.
pub fn to_sarif(
    tool: &str,
    version: &str,
    rules: &[Rule],
    findings: &[Finding],
) -> serde_json::Value {
    let mut rule_ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
    for f in findings {
        if !rule_ids.contains(&f.rule.as_str()) {
            rule_ids.push(&f.rule);
        }
    }
    let rule_objs: Vec<serde_json::Value> = rule_ids
        .iter()
        .map(|id| {
            let desc = rules
                .iter()
                .find(|r| r.id == *id)
                .map_or(*id, |r| r.description);
            // the worst severity this run saw for the rule sets its default level
            let sev = findings
                .iter()
                .filter(|f| f.rule == *id)
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Medium);
            serde_json::json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": desc},
                "defaultConfiguration": {"level": sev.sarif_level()},
                "properties": {"security-severity": sev.security_score(), "tags": ["security"]},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let index = rule_ids.iter().position(|id| *id == f.rule).unwrap_or(0);
            let mut text = f.message.clone();
            if let Some(fix) = &f.fix {
                text.push_str(". Fix: ");
                text.push_str(fix);
            }
            let uri = f
                .location
                .artifact
                .clone()
                .or_else(|| f.location.path.clone())
                .unwrap_or_else(|| "image".to_string());
            let mut physical = serde_json::json!({"artifactLocation": {"uri": uri}});
            if let Some(line) = f.location.line {
                physical["region"] = serde_json::json!({
                    "startLine": line,
                    "startColumn": f.location.column.unwrap_or(1),
                });
            }
            let mut logical = Vec::new();
            if let Some(layer) = f.location.layer {
                logical
                    .push(serde_json::json!({"name": format!("layer {layer}"), "kind": "module"}));
            }
            if let Some(path) = &f.location.path {
                logical.push(serde_json::json!({"fullyQualifiedName": path, "kind": "resource"}));
            }
            let mut location = serde_json::json!({"physicalLocation": physical});
            if !logical.is_empty() {
                location["logicalLocations"] = logical.into();
            }
            serde_json::json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": f.severity.sarif_level(),
                "message": {"text": text},
                "locations": [location],
                "properties": {"severity": f.severity.as_str()},
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": tool,
                "version": version,
                "informationUri": "https://example.invalid/whittle",
                "rules": rule_objs,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn finding(rule: &str, severity: Severity, layer: Option<usize>) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            message: format!("{rule} here"),
            location: Location {
                layer,
                path: Some("/etc/x".into()),
                ..Location::default()
            },
            fix: Some("remove it".into()),
            evidence: None,
        }
    }

    #[test]
    fn parses_names_and_aliases() {
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert_eq!("moderate".parse::<Severity>(), Ok(Severity::Medium));
        assert_eq!("negligible".parse::<Severity>(), Ok(Severity::Info));
        let err = "urgent".parse::<Severity>().unwrap_err();
        assert!(
            err.to_string()
                .contains("info, low, medium, high, critical")
        );
    }

    #[test]
    fn fail_on_threshold() {
        let f = vec![
            finding("a", Severity::Low, None),
            finding("b", Severity::High, None),
        ];
        assert!(fails(&f, Severity::High));
        assert!(fails(&f, Severity::Low));
        assert!(!fails(&f, Severity::Critical));
        assert!(!fails(&[], Severity::Info));
        assert_eq!(counts(&f), [0, 1, 0, 1, 0]);
    }

    #[test]
    fn sorts_most_severe_first_then_by_layer() {
        let mut f = vec![
            finding("a", Severity::Low, Some(0)),
            finding("b", Severity::High, Some(2)),
            finding("c", Severity::High, Some(1)),
        ];
        sort(&mut f);
        let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["c", "b", "a"]);
    }

    #[test]
    fn sarif_has_rules_results_and_regions() {
        let mut f = finding("env-secret", Severity::Critical, Some(1));
        f.location.artifact = Some("Dockerfile".into());
        f.location.line = Some(7);
        let log = to_sarif(
            "whittle lint",
            "0.1.0",
            &[Rule {
                id: "env-secret",
                description: "secret in ENV",
            }],
            &[f, finding("other", Severity::Info, None)],
        );
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "env-secret");
        assert_eq!(run["tool"]["driver"]["rules"][1]["id"], "other");
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(run["results"][0]["ruleIndex"], 0);
        assert_eq!(run["results"][1]["ruleIndex"], 1);
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            7
        );
        assert_eq!(run["results"][1]["level"], "note");
        assert!(
            run["results"][0]["message"]["text"]
                .as_str()
                .unwrap()
                .ends_with("Fix: remove it")
        );
    }

    #[test]
    fn json_summary_counts_every_severity() {
        let v = to_json(
            "whittle audit",
            "oci:x",
            &[finding("a", Severity::Medium, None)],
        );
        assert_eq!(v["summary"]["medium"], 1);
        assert_eq!(v["summary"]["critical"], 0);
        assert_eq!(v["findings"][0]["severity"], "medium");
    }

    proptest! {
        #[test]
        fn severity_order_matches_parse_of_name(a in 0usize..5, b in 0usize..5) {
            let (sa, sb) = (Severity::ALL[a], Severity::ALL[b]);
            prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
            prop_assert_eq!(sa.as_str().parse::<Severity>(), Ok(sa));
        }
    }
}
