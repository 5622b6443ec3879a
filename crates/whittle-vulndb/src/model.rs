//! The normalized advisory record every importer produces.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use whittle_report::Severity;

/// One event of an OSV `ECOSYSTEM` range, in the format's own version syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Versions from this one on are affected (`0`: from the first version).
    Introduced(String),
    /// This version and later are not affected.
    Fixed(String),
    /// Versions after this one are not affected.
    LastAffected(String),
    /// Upper bound of the range (exclusive), like `fixed` for matching.
    Limit(String),
}

/// What an advisory says about one package of one ecosystem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Advisory id (`DLA-3012-1`, `CVE-2021-3711`, `CGA-…`, `ALPINE-CVE-…`).
    pub id: String,
    /// Other ids of the same problem (OSV `aliases` and `upstream`, Wolfi `aliases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Normalized ecosystem: `Debian:12`, `Alpine:v3.18`, `Alpine:edge`, `Wolfi`, `Chainguard`.
    pub ecosystem: String,
    /// Package name: the SOURCE package for Debian and Alpine (apk origin).
    pub package: String,
    /// Affected ranges, each a list of events in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Vec<Event>>,
    /// Explicitly listed affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// The source says this package is NOT affected (secdb fixed version `0`, Wolfi
    /// false-positive determination): it hides matches of the same problem from other sources.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_affected: bool,
    /// Severity from the data (CVSS score, database severity), `None` when the data has none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_sev",
        deserialize_with = "de_sev"
    )]
    pub severity: Option<Severity>,
    /// CVSS base score when the data has a vector or score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// The import source (file path or URL) the record came from.
    pub source: String,
}

impl Record {
    /// Every id of the record: its id, then its aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// The CVE ids the record is about (its id and aliases starting with `CVE-`); when none,
    /// the record's own id. Matches are merged by these keys.
    pub fn cve_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .ids()
            .filter(|i| i.starts_with("CVE-"))
            .map(str::to_string)
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            keys.push(self.id.clone());
        }
        keys
    }
}

#[allow(clippy::ref_option)]
fn ser_sev<S: Serializer>(s: &Option<Severity>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => ser.serialize_str(s.as_str()),
        None => ser.serialize_none(),
    }
}

fn de_sev<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Severity>, D::Error> {
    let s: Option<String> = Option::deserialize(de)?;
    match s {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Normalizes an ecosystem name: `alpine:v3.18` → `Alpine:v3.18`, `Ubuntu:22.04:LTS` →
/// `Ubuntu:22.04`, `debian:12` → `Debian:12`, `wolfi` → `Wolfi`.
pub fn normalize_ecosystem(eco: &str) -> String {
    let eco = eco.trim();
    let (name, rest) = match eco.split_once(':') {
        Some((n, r)) => (n, Some(r)),
        None => (eco, None),
    };
    let name = match name.to_ascii_lowercase().as_str() {
        "debian" => "Debian".to_string(),
        "alpine" => "Alpine".to_string(),
        "wolfi" => "Wolfi".to_string(),
        "chainguard" => "Chainguard".to_string(),
        "ubuntu" => "Ubuntu".to_string(),
        _ => name.to_string(),
    };
    match rest {
        None => name,
        Some(r) => {
            let r = match name.as_str() {
                "Ubuntu" => r.split(':').next().unwrap_or(r).to_string(),
                "Alpine" if !r.starts_with('v') && r != "edge" => format!("v{r}"),
                _ => r.to_string(),
            };
            format!("{name}:{r}")
        }
    }
}

/// Severity level of a CVSS base score (FIRST's qualitative scale; 0.0 is `Info`).
pub fn level_of_score(score: f32) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

/// Severity of a word used by databases (`CRITICAL`, `HIGH`, `MODERATE`, `medium`, `low`,
/// `negligible`…); `None` for unknown words.
pub fn level_of_word(w: &str) -> Option<Severity> {
    match w.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" | "important" => Some(Severity::High),
        "medium" | "moderate" => Some(Severity::Medium),
        "low" => Some(Severity::Low),
        "negligible" | "none" | "unimportant" | "info" => Some(Severity::Info),
        _ => None,
    }
}

/// The CVSS v3.x base score of a vector (`CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N` →
/// 9.1); `None` when the vector is not a complete v3 vector.
pub fn cvss3_base_score(vector: &str) -> Option<f32> {
    let mut parts = vector.split('/');
    if !parts.next()?.starts_with("CVSS:3") {
        return None;
    }
    let (mut av, mut ac, mut pr, mut ui, mut s, mut c, mut i, mut a) =
        (None, None, None, None, None, None, None, None);
    for p in parts {
        let (k, v) = p.split_once(':')?;
        match k {
            "AV" => av = Some(v),
            "AC" => ac = Some(v),
            "PR" => pr = Some(v),
            "UI" => ui = Some(v),
            "S" => s = Some(v),
            "C" => c = Some(v),
            "I" => i = Some(v),
            "A" => a = Some(v),
            _ => {}
        }
    }
    let changed = match s? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let av = match av? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match ac? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (pr?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match ui? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |x: Option<&str>| match x? {
        "H" => Some(0.56),
        "L" => Some(0.22),
        "N" => Some(0.0),
        _ => None,
    };
    let (c, i, a) = (cia(c)?, cia(i)?, cia(a)?);
    let iss: f64 = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploit = 8.22 * av * ac * pr * ui;
    let roundup = |x: f64| {
        let n = (x * 100_000.0).round() as i64;
        if n % 10_000 == 0 {
            n as f64 / 100_000.0
        } else {
            ((n / 10_000) + 1) as f64 / 10.0
        }
    };
    let score = if impact <= 0.0 {
        0.0
    } else if changed {
        roundup((1.08 * (impact + exploit)).min(10.0))
    } else {
        roundup((impact + exploit).min(10.0))
    };
    Some(score as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss3_known_scores() {
        // NVD's published base scores for these vectors
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"),
            Some(9.1)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"),
            Some(5.5)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(cvss3_base_score("CVSS:3.1/AV:N/AC:L"), None);
        assert_eq!(cvss3_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
    }

    #[test]
    fn ecosystems_and_levels() {
        assert_eq!(normalize_ecosystem("alpine:3.18"), "Alpine:v3.18");
        assert_eq!(normalize_ecosystem("Alpine:v3.18"), "Alpine:v3.18");
        assert_eq!(normalize_ecosystem("Ubuntu:22.04:LTS"), "Ubuntu:22.04");
        assert_eq!(normalize_ecosystem("debian:12"), "Debian:12");
        assert_eq!(normalize_ecosystem("wolfi"), "Wolfi");
        assert_eq!(level_of_score(9.8), Severity::Critical);
        assert_eq!(level_of_score(7.0), Severity::High);
        assert_eq!(level_of_score(3.9), Severity::Low);
        assert_eq!(level_of_word("MODERATE"), Some(Severity::Medium));
        assert_eq!(level_of_word("weird"), None);
    }
}
