//! dive's CI rules (`.dive-ci`), read and checked as dive 0.13 does.
//!
//! The file is YAML; only its `rules:` map counts:
//! - `lowest-efficiency` (dive's deprecated spelling `lowestEfficiency`): a ratio 0–1; fails
//!   when the efficiency is below it. Default `0.9`.
//! - `highest-wasted-bytes` (`highestWastedBytes`): a byte size as dive reads it (`20MB`,
//!   `1.5 GiB`, `20000`, `1,000kb`; SI and IEC units, case-insensitive); fails when more bytes
//!   are wasted. Default `disabled`.
//! - `highest-user-wasted-percent` (`highestUserWastedPercent`): a ratio 0–1; fails when the
//!   wasted bytes over the bytes of the layers above the first exceed it. Default `0.1`.
//!
//! Any rule may be `disabled`. A rule the file leaves out keeps its default; when both spellings
//! of one rule are given, the camelCase one wins, as in dive. Keys match case-insensitively
//! (dive's config reader does). Other keys are ignored (dive ignores them too) but reported by
//! [`CiRules::unknown_keys`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dive::DiveFigures;

/// The largest `.dive-ci` file read, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// A `.dive-ci` file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {}{message}", key.as_ref().map(|k| format!("`rules.{k}`: ")).unwrap_or_default())]
pub struct CiConfigError {
    /// The file, as named on the command line.
    pub file: String,
    /// The key at fault (`lowestEfficiency`, as written), when one is.
    pub key: Option<String>,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// One rule's threshold: the text as configured, and its value (`None`: `disabled`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold<T> {
    /// The configured text (`0.9`, `20MB`, `disabled`).
    pub text: String,
    /// Its value; `None` when the rule is disabled.
    pub value: Option<T>,
}

/// The three rules of `dive --ci`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CiRules {
    /// Fail when the efficiency is below this.
    pub lowest_efficiency: Threshold<f64>,
    /// Fail when more bytes than this are wasted.
    pub highest_wasted_bytes: Threshold<u64>,
    /// Fail when wasted bytes over user bytes exceed this.
    pub highest_user_wasted_percent: Threshold<f64>,
    /// Keys under `rules:` that name no rule (as written).
    pub unknown_keys: Vec<String>,
}

impl Default for CiRules {
    /// dive's defaults: efficiency at least 0.9, user wasted percent at most 0.1, wasted bytes
    /// not checked.
    fn default() -> Self {
        CiRules {
            lowest_efficiency: Threshold {
                text: "0.9".into(),
                value: Some(0.9),
            },
            highest_wasted_bytes: Threshold {
                text: "disabled".into(),
                value: None,
            },
            highest_user_wasted_percent: Threshold {
                text: "0.1".into(),
                value: Some(0.1),
            },
            unknown_keys: Vec::new(),
        }
    }
}

/// A YAML scalar, turned into text as dive's config reader does.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct CiFile {
    #[serde(default)]
    rules: Option<BTreeMap<String, Scalar>>,
}

/// How a rule ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// Within its threshold.
    Pass,
    /// Over its threshold.
    Fail,
    /// Disabled.
    Skip,
}

impl RuleStatus {
    /// `PASS`, `FAIL` or `SKIP`, as dive prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "PASS",
            RuleStatus::Fail => "FAIL",
            RuleStatus::Skip => "SKIP",
        }
    }
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    /// dive's name for it (`lowestEfficiency`, …).
    pub rule: &'static str,
    /// The configured threshold text.
    pub threshold: String,
    /// How it ended.
    pub status: RuleStatus,
    /// Why it failed or was skipped (dive's words); empty when it passed.
    pub message: String,
}

/// The result of checking an image against the rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CiOutcome {
    /// Every rule, in dive's order (by name).
    pub rules: Vec<RuleResult>,
    /// Whether no rule failed.
    pub pass: bool,
}

const EFFICIENCY: (&str, &str) = ("lowestEfficiency", "lowest-efficiency");
const WASTED: (&str, &str) = ("highestWastedBytes", "highest-wasted-bytes");
const USER_WASTED: (&str, &str) = ("highestUserWastedPercent", "highest-user-wasted-percent");

impl CiRules {
    /// Read a `.dive-ci` file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<CiRules, CiConfigError> {
        let err = |key: Option<&str>, message: String| CiConfigError {
            file: file.to_string(),
            key: key.map(str::to_string),
            message,
        };
        if text.len() > MAX_CONFIG_BYTES {
            return Err(err(
                None,
                format!("larger than {MAX_CONFIG_BYTES} bytes; a CI config has three rules"),
            ));
        }
        let mut opts = serde_saphyr::Options::default();
        opts.with_snippet = false;
        let doc: Option<CiFile> = serde_saphyr::from_str_with_options(text, opts).map_err(|e| {
            err(
                None,
                format!("not a YAML map with a `rules:` map ({e}); see dive's .dive-ci"),
            )
        })?;
        let mut rules = CiRules::default();
        let Some(map) = doc.and_then(|d| d.rules) else {
            return Ok(rules);
        };
        // kebab-case first, so that dive's camelCase spelling wins when both are given
        let mut given: [Option<(String, String)>; 3] = [None, None, None];
        for camel_pass in [false, true] {
            for (key, value) in &map {
                let lower = key.to_ascii_lowercase();
                let slot = [EFFICIENCY, WASTED, USER_WASTED]
                    .iter()
                    .position(|(camel, kebab)| {
                        if camel_pass {
                            lower == camel.to_ascii_lowercase()
                        } else {
                            lower == *kebab
                        }
                    });
                let Some(slot) = slot else {
                    continue;
                };
                let text = match value {
                    Scalar::Bool(b) => b.to_string(),
                    Scalar::Int(i) => i.to_string(),
                    Scalar::Float(f) => f.to_string(),
                    Scalar::Text(s) => s.clone(),
                    Scalar::Other(_) => {
                        return Err(err(
                            Some(key),
                            "expected a single value (a ratio, a byte size or `disabled`), not a list or map".into(),
                        ));
                    }
                };
                if let Some(g) = given.get_mut(slot) {
                    *g = Some((key.clone(), text));
                }
            }
        }
        for key in map.keys() {
            let lower = key.to_ascii_lowercase();
            let known = [EFFICIENCY, WASTED, USER_WASTED]
                .iter()
                .any(|(camel, kebab)| lower == camel.to_ascii_lowercase() || lower == *kebab);
            if !known {
                rules.unknown_keys.push(key.clone());
            }
        }
        let [eff, wasted, user] = given;
        if let Some((key, text)) = eff {
            rules.lowest_efficiency = ratio(&text).map_err(|m| err(Some(&key), m))?;
        }
        if let Some((key, text)) = wasted {
            let value = if text == "disabled" {
                None
            } else {
                Some(parse_bytes(&text).map_err(|m| err(Some(&key), m))?)
            };
            rules.highest_wasted_bytes = Threshold { text, value };
        }
        if let Some((key, text)) = user {
            rules.highest_user_wasted_percent = ratio(&text).map_err(|m| err(Some(&key), m))?;
        }
        Ok(rules)
    }

    /// Check `figures` against the rules, as `dive --ci` does.
    pub fn evaluate(&self, figures: &DiveFigures) -> CiOutcome {
        let skip = |rule: &'static str, text: &str| RuleResult {
            rule,
            threshold: text.to_string(),
            status: RuleStatus::Skip,
            message: "rule disabled".into(),
        };
        let judge = |rule: &'static str, text: &str, failed: Option<String>| RuleResult {
            rule,
            threshold: text.to_string(),
            status: if failed.is_some() {
                RuleStatus::Fail
            } else {
                RuleStatus::Pass
            },
            message: failed.unwrap_or_default(),
        };
        let t = &self.highest_user_wasted_percent;
        let user = match t.value {
            None => skip(USER_WASTED.0, &t.text),
            Some(max) => judge(
                USER_WASTED.0,
                &t.text,
                // dive: fails when threshold < ratio (a NaN ratio passes)
                (max < figures.user_wasted_ratio).then(|| {
                    format!(
                        "too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes={} > threshold={max})",
                        figures.user_wasted_ratio
                    )
                }),
            ),
        };
        let t = &self.highest_wasted_bytes;
        let wasted = match t.value {
            None => skip(WASTED.0, &t.text),
            Some(max) => judge(
                WASTED.0,
                &t.text,
                (figures.wasted_bytes > max).then(|| {
                    format!(
                        "too many bytes wasted (wasted-bytes={} > threshold={max})",
                        figures.wasted_bytes
                    )
                }),
            ),
        };
        let t = &self.lowest_efficiency;
        let eff = match t.value {
            None => skip(EFFICIENCY.0, &t.text),
            Some(min) => judge(
                EFFICIENCY.0,
                &t.text,
                (min > figures.efficiency).then(|| {
                    format!(
                        "image efficiency is too low (efficiency={} < threshold={min})",
                        figures.efficiency
                    )
                }),
            ),
        };
        let rules = vec![user, wasted, eff];
        let pass = rules.iter().all(|r| r.status != RuleStatus::Fail);
        CiOutcome { rules, pass }
    }
}

/// A ratio rule's value as dive reads it: `disabled`, or a float 0–1.
fn ratio(text: &str) -> Result<Threshold<f64>, String> {
    if text == "disabled" {
        return Ok(Threshold {
            text: text.into(),
            value: None,
        });
    }
    let v: f64 = text.parse().map_err(|_| {
        format!("`{text}` is not a number; write a ratio between 0 and 1 (like 0.9) or `disabled`")
    })?;
    // dive's test, under which `NaN` is a valid ratio (and a rule that never fails)
    #[allow(clippy::manual_range_contains)]
    if v < 0.0 || v > 1.0 {
        return Err(format!(
            "`{text}` is outside 0–1; write a ratio (0.9 means 90 %) or `disabled`"
        ));
    }
    Ok(Threshold {
        text: text.into(),
        value: Some(v),
    })
}

/// A byte size as dive reads it (go-humanize's `ParseBytes`): digits, `.` and `,` (commas
/// dropped), then an optional unit after optional spaces, case-insensitive: `b`, `k`/`kb`,
/// `ki`/`kib`, … up to `e`/`eb`/`ei`/`eib`. Fractions are truncated to whole bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(digits);
    let num: String = num.chars().filter(|&c| c != ',').collect();
    let bad = || {
        format!(
            "`{text}` is not a byte size; write a number with an optional unit (20MB, 1.5GiB, 20000) or `disabled`"
        )
    };
    let value: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "e" | "eb" => 1e18,
        "ki" | "kib" => 1024f64,
        "mi" | "mib" => 1024f64.powi(2),
        "gi" | "gib" => 1024f64.powi(3),
        "ti" | "tib" => 1024f64.powi(4),
        "pi" | "pib" => 1024f64.powi(5),
        "ei" | "eib" => 1024f64.powi(6),
        _ => return Err(bad()),
    };
    let bytes = value * scale;
    if bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    // truncation toward zero, as Go's uint64(f)
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(efficiency: f64, wasted: u64, user: u64) -> DiveFigures {
        DiveFigures {
            efficiency,
            wasted_bytes: wasted,
            size_bytes: user * 2,
            user_size_bytes: user,
            user_wasted_ratio: wasted as f64 / user as f64,
            paths: Vec::new(),
        }
    }

    #[test]
    fn byte_sizes_read_as_dive_reads_them() {
        assert_eq!(parse_bytes("20MB"), Ok(20_000_000));
        assert_eq!(parse_bytes("20Mb"), Ok(20_000_000));
        assert_eq!(parse_bytes("1.5 GiB"), Ok(1_610_612_736));
        assert_eq!(parse_bytes("1,000kb"), Ok(1_000_000));
        assert_eq!(parse_bytes("42"), Ok(42));
        assert_eq!(parse_bytes("0.5b"), Ok(0));
        assert!(parse_bytes("MB").is_err());
        assert!(parse_bytes("20 XB").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("1.2.3").is_err());
    }

    #[test]
    fn defaults_without_rules() {
        assert_eq!(CiRules::parse("", ".dive-ci").unwrap(), CiRules::default());
        assert_eq!(
            CiRules::parse("plugins: [a]\n", ".dive-ci").unwrap(),
            CiRules::default()
        );
    }

    #[test]
    fn both_spellings_camel_case_wins() {
        let r = CiRules::parse(
            "rules:\n  lowest-efficiency: 0.5\n  lowestEfficiency: 0.95\n  highest-wasted-bytes: 20MB\n  HighestUserWastedPercent: disabled\n  plugin1/rule1: error\n",
            "x",
        )
        .unwrap();
        assert_eq!(r.lowest_efficiency.value, Some(0.95));
        assert_eq!(r.highest_wasted_bytes.value, Some(20_000_000));
        assert_eq!(r.highest_user_wasted_percent.value, None);
        assert_eq!(r.unknown_keys, ["plugin1/rule1"]);
    }

    #[test]
    fn bad_values_name_file_and_key() {
        let e = CiRules::parse("rules:\n  lowestEfficiency: 1.5\n", "ci.yaml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ci.yaml: `rules.lowestEfficiency`: `1.5` is outside"),
            "{e}"
        );
        let e = CiRules::parse("rules:\n  highest-wasted-bytes: lots\n", "ci.yaml").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("highest-wasted-bytes"));
        let e = CiRules::parse("rules:\n  lowest-efficiency: [1]\n", "ci.yaml").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("lowest-efficiency"));
        let e = CiRules::parse("rules: [", "ci.yaml").unwrap_err();
        assert_eq!(e.key, None);
        assert!(e.to_string().starts_with("ci.yaml: "), "{e}");
    }

    #[test]
    fn rules_fail_as_dive_decides() {
        let rules = CiRules::parse(
            "rules:\n  lowestEfficiency: 0.9\n  highestWastedBytes: 100\n  highestUserWastedPercent: 0.1\n",
            "x",
        )
        .unwrap();
        let ok = rules.evaluate(&figures(0.9, 100, 1000));
        assert!(ok.pass, "{ok:?}");
        let names: Vec<&str> = ok.rules.iter().map(|r| r.rule).collect();
        assert_eq!(
            names,
            [
                "highestUserWastedPercent",
                "highestWastedBytes",
                "lowestEfficiency"
            ]
        );
        let bad = rules.evaluate(&figures(0.89, 101, 1000));
        let status: Vec<RuleStatus> = bad.rules.iter().map(|r| r.status).collect();
        assert_eq!(
            status,
            [RuleStatus::Fail, RuleStatus::Fail, RuleStatus::Fail]
        );
        assert!(!bad.pass);
        // no bytes above the base layer: 0/0 is NaN and passes, 1/0 is infinite and fails
        assert!(rules.evaluate(&figures(1.0, 0, 0)).pass);
        assert!(!CiRules::default().evaluate(&figures(1.0, 1, 0)).pass);
    }
}
