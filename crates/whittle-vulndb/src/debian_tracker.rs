//! The Debian security tracker's JSON (`https://security-tracker.debian.org/tracker/data/json`):
//! `{"<source package>": {"CVE-…": {"description", "releases": {"<codename>": {"status",
//! "fixed_version", "urgency", "repositories"}}}}}`.
//!
//! The file (about 70 MB) is parsed in one streaming pass: no JSON tree is built, each CVE
//! entry is converted as soon as it is read, and the number of records is capped
//! ([`MAX_RECORDS`]). One [`Record`] is produced per (source package, CVE, release), keyed by the
//! release's ecosystem ([`release_ecosystem`]) and the SOURCE package name, with the CVE id as its
//! id. The semantics follow what osv.dev's converter and anchore/vunnel do with the same feed:
//!
//! | tracker entry | record |
//! |---|---|
//! | `resolved`, `fixed_version` `"0"` | not affected (hides the same CVE from other sources; no summary stored) |
//! | `resolved`, `fixed_version` V | affected below V (`introduced 0`, `fixed V`) |
//! | `resolved` without `fixed_version` | affected, no fix known (like vunnel) |
//! | `open` | affected in every version, no fix known |
//! | `undetermined` | skipped: the security team has not decided whether the release is affected (vunnel skips it too; osv.dev reports it — whittle prefers no false positive, other sources still apply) |
//! | ids that are not `CVE-…` (`TEMP-…`) | skipped: tracker-internal ids (osv.dev and vunnel skip them) |
//! | release `sid` and unknown codenames | skipped: an unstable/testing image has no `VERSION_ID`, so no scan can look up `Debian:unstable` |
//!
//! Urgency to severity ([`urgency_severity`]): `unimportant` → info, `low`/`medium`/`high` →
//! those (a trailing `*`/`**`, which marks an urgency taken from NVD, is ignored), `not yet
//! assigned` → unknown, `end-of-life` → unknown with the summary prefixed `[end-of-life]` (the
//! word says the release gets no security support for the package, nothing about severity).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use whittle_report::Severity;

use crate::DbError;
use crate::model::{Event, Record, level_of_word};

/// The tracker's JSON export, a default `whittle db update` source.
pub const TRACKER_URL: &str = "https://security-tracker.debian.org/tracker/data/json";

/// Most records one tracker file may produce (the real file gives under a million).
pub const MAX_RECORDS: usize = 4_000_000;

/// Longest package name accepted (Debian's are far shorter).
const MAX_NAME: usize = 255;

/// Longest summary kept per record, in characters (the first line of the description).
const MAX_SUMMARY: usize = 160;

/// The ecosystem of a Debian release codename: `bookworm` → `Debian:12`; `None` for `sid`,
/// `experimental` and unknown names.
pub fn release_ecosystem(codename: &str) -> Option<&'static str> {
    Some(match codename {
        "wheezy" => "Debian:7",
        "jessie" => "Debian:8",
        "stretch" => "Debian:9",
        "buster" => "Debian:10",
        "bullseye" => "Debian:11",
        "bookworm" => "Debian:12",
        "trixie" => "Debian:13",
        "forky" => "Debian:14",
        "duke" => "Debian:15",
        _ => return None,
    })
}

/// Severity of a tracker urgency: `unimportant` → `Info`; `low`, `medium`, `high` (with or
/// without the NVD marker `*`/`**`) → those; `not yet assigned`, `end-of-life` and anything
/// else → `None` (unknown).
pub fn urgency_severity(urgency: &str) -> Option<Severity> {
    let u = urgency.trim().trim_end_matches('*').trim();
    match u {
        "unimportant" => Some(Severity::Info),
        "low" | "medium" | "high" => level_of_word(u),
        _ => None,
    }
}

/// Whether `bytes` look like the tracker's JSON: an object whose first member is an object
/// whose first key is a `CVE-` or `TEMP-` id. Reads at most the first few kilobytes.
pub fn looks_like(bytes: &[u8]) -> bool {
    let head = bytes.get(..bytes.len().min(8192)).unwrap_or(bytes);
    let mut i = 0;
    let ws = |i: &mut usize| {
        while head.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    let expect = |i: &mut usize, c: u8| -> bool {
        ws(i);
        if head.get(*i) == Some(&c) {
            *i += 1;
            true
        } else {
            false
        }
    };
    // the content of a JSON string starting at `*i` (after the quote); moves past its end
    let string = |i: &mut usize| -> Option<std::ops::Range<usize>> {
        let start = *i;
        loop {
            match head.get(*i)? {
                b'\\' => *i += 2,
                b'"' => {
                    *i += 1;
                    return Some(start..*i - 1);
                }
                _ => *i += 1,
            }
        }
    };
    if !(expect(&mut i, b'{') && expect(&mut i, b'"')) || string(&mut i).is_none() {
        return false;
    }
    if !(expect(&mut i, b':') && expect(&mut i, b'{') && expect(&mut i, b'"')) {
        return false;
    }
    match string(&mut i).and_then(|r| head.get(r)) {
        Some(key) => key.starts_with(b"CVE-") || key.starts_with(b"TEMP-"),
        None => false,
    }
}

/// What one tracker file gave besides its records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TrackerStats {
    /// Records produced.
    pub records: usize,
    /// Entries with an id that is not a CVE id (`TEMP-…`), skipped.
    pub non_cve: usize,
    /// Release entries with status `undetermined`, skipped.
    pub undetermined: usize,
    /// Release entries of releases without an ecosystem (`sid`, unknown codenames), skipped.
    pub other_releases: BTreeMap<String, usize>,
}

impl TrackerStats {
    /// A one-line account of what was skipped, `None` when nothing was.
    pub fn skipped_note(&self, name: &str) -> Option<String> {
        let mut parts = Vec::new();
        if self.non_cve > 0 {
            parts.push(format!(
                "{} entries without a CVE id (TEMP-…)",
                self.non_cve
            ));
        }
        if self.undetermined > 0 {
            parts.push(format!(
                "{} `undetermined` release entries",
                self.undetermined
            ));
        }
        if !self.other_releases.is_empty() {
            let rels: Vec<String> = self
                .other_releases
                .iter()
                .map(|(r, n)| format!("{r} ({n})"))
                .collect();
            parts.push(format!(
                "entries of releases with no ecosystem: {}",
                rels.join(", ")
            ));
        }
        (!parts.is_empty()).then(|| format!("{name}: Debian tracker: skipped {}", parts.join("; ")))
    }
}

/// Imports a tracker file's content into `out`, refusing it when it is not valid tracker JSON
/// (the error names the file, line and column) or would give more than `max_records` records.
pub fn import(
    name: &str,
    bytes: &[u8],
    source: &str,
    max_records: usize,
    out: &mut Vec<Record>,
) -> Result<TrackerStats, DbError> {
    let mut ctx = Ctx {
        source,
        out,
        max_records,
        stats: TrackerStats::default(),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Top { ctx: &mut ctx }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    let stats = ctx.stats;
    parsed.map_err(|e| DbError::Format {
        path: name.to_string(),
        message: format!(
            "not valid Debian security tracker JSON: {e}; download it again from {TRACKER_URL}"
        ),
    })?;
    Ok(stats)
}

struct Ctx<'a> {
    source: &'a str,
    out: &'a mut Vec<Record>,
    max_records: usize,
    stats: TrackerStats,
}

#[derive(Deserialize)]
struct CveEntry {
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "releases")]
    releases: Vec<(String, Release)>,
}

#[derive(Deserialize)]
struct Release {
    #[serde(default)]
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
}

/// `releases` is an object, or `[]` when a CVE has no release entries (PHP-style empty map).
fn releases<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Release)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, Release)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of releases (or an empty list)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(e) = m.next_entry::<String, Release>()? {
                v.push(e);
            }
            Ok(v)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            if s.next_element::<IgnoredAny>()?.is_some() {
                return Err(A::Error::custom(
                    "`releases` is a non-empty list; expected an object of releases",
                ));
            }
            Ok(Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

struct Top<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of source packages")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(pkg) = m.next_key::<String>()? {
            if pkg.is_empty() || pkg.len() > MAX_NAME {
                return Err(A::Error::custom(format!(
                    "package name `{pkg:.60}` is empty or longer than {MAX_NAME} bytes"
                )));
            }
            m.next_value_seed(Package {
                ctx: &mut *self.ctx,
                name: &pkg,
            })?;
        }
        Ok(())
    }
}

struct Package<'c, 'a, 'n> {
    ctx: &'c mut Ctx<'a>,
    name: &'n str,
}

impl<'de> DeserializeSeed<'de> for Package<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Package<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object of CVE entries for package `{}`", self.name)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(id) = m.next_key::<String>()? {
            if !id.starts_with("CVE-") {
                m.next_value::<IgnoredAny>()?;
                self.ctx.stats.non_cve += 1;
                continue;
            }
            let entry: CveEntry = m.next_value()?;
            self.ctx
                .convert(self.name, &id, entry)
                .map_err(A::Error::custom)?;
        }
        Ok(())
    }
}

impl Ctx<'_> {
    fn convert(&mut self, pkg: &str, id: &str, entry: CveEntry) -> Result<(), String> {
        let summary: String = entry
            .description
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(MAX_SUMMARY)
            .collect();
        for (release, r) in entry.releases {
            let Some(eco) = release_ecosystem(&release) else {
                *self.stats.other_releases.entry(release).or_default() += 1;
                continue;
            };
            let fixed = r
                .fixed_version
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty());
            let (ranges, not_affected) = match (r.status.as_str(), fixed) {
                ("resolved", Some("0")) => (Vec::new(), true),
                ("resolved", Some(v)) => (
                    vec![vec![Event::Introduced("0".into()), Event::Fixed(v.into())]],
                    false,
                ),
                ("resolved", None) | ("open", _) => {
                    (vec![vec![Event::Introduced("0".into())]], false)
                }
                ("undetermined", _) => {
                    self.stats.undetermined += 1;
                    continue;
                }
                (other, _) => {
                    return Err(format!(
                        "{pkg} {id} {release}: unknown status `{other:.40}` (expected resolved, open or undetermined)"
                    ));
                }
            };
            let urgency = r.urgency.as_deref().unwrap_or("");
            // a not-affected record is never shown: no summary to store
            let summary = if not_affected {
                String::new()
            } else if urgency.trim() == "end-of-life" {
                format!("[end-of-life] {summary}").trim_end().to_string()
            } else {
                summary.clone()
            };
            if self.out.len() >= self.max_records {
                return Err(format!(
                    "more than {} records: refusing the file (the real tracker gives under a million)",
                    self.max_records
                ));
            }
            self.out.push(Record {
                id: id.to_string(),
                aliases: Vec::new(),
                ecosystem: eco.to_string(),
                package: pkg.to_string(),
                ranges,
                versions: Vec::new(),
                not_affected,
                severity: urgency_severity(urgency),
                score: None,
                summary,
                source: self.source.to_string(),
            });
            self.stats.records += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(json: &str) -> Result<(Vec<Record>, TrackerStats), DbError> {
        let mut out = Vec::new();
        let st = import("t.json", json.as_bytes(), "src", MAX_RECORDS, &mut out)?;
        Ok((out, st))
    }

    #[test]
    fn statuses_map_to_ranges() {
        let j = r#"{"p": {
            "CVE-1": {"description": "first line\nsecond", "releases": {
                "bookworm": {"status": "resolved", "fixed_version": "1.2-3", "urgency": "high**"},
                "bullseye": {"status": "resolved", "fixed_version": "0", "urgency": "unimportant"},
                "buster": {"status": "open", "urgency": "end-of-life"},
                "trixie": {"status": "undetermined"},
                "sid": {"status": "open"}}},
            "TEMP-0000000-AB12CD": {"releases": {"bookworm": {"status": "open"}}},
            "CVE-2": {"releases": []}}}"#;
        let (recs, st) = run(j).unwrap();
        assert_eq!(recs.len(), 3);
        let by = |eco: &str| recs.iter().find(|r| r.ecosystem == eco).unwrap();
        let b = by("Debian:12");
        assert_eq!(
            b.ranges,
            [[Event::Introduced("0".into()), Event::Fixed("1.2-3".into())]]
        );
        assert_eq!(b.severity, Some(Severity::High));
        assert_eq!(b.summary, "first line");
        assert_eq!((b.id.as_str(), b.package.as_str()), ("CVE-1", "p"));
        let na = by("Debian:11");
        assert!(na.not_affected && na.ranges.is_empty() && na.summary.is_empty());
        assert_eq!(na.severity, Some(Severity::Info));
        let eol = by("Debian:10");
        assert_eq!(eol.ranges, [[Event::Introduced("0".into())]]);
        assert_eq!(eol.severity, None);
        assert_eq!(eol.summary, "[end-of-life] first line");
        assert_eq!(st.non_cve, 1);
        assert_eq!(st.undetermined, 1);
        assert_eq!(st.other_releases.get("sid"), Some(&1));
        let note = st.skipped_note("t.json").unwrap();
        assert!(note.contains("1 entries without a CVE id") && note.contains("sid (1)"));
    }

    #[test]
    fn urgencies() {
        assert_eq!(urgency_severity("unimportant"), Some(Severity::Info));
        assert_eq!(urgency_severity("low"), Some(Severity::Low));
        assert_eq!(urgency_severity("low*"), Some(Severity::Low));
        assert_eq!(urgency_severity("medium**"), Some(Severity::Medium));
        assert_eq!(urgency_severity("high"), Some(Severity::High));
        assert_eq!(urgency_severity("not yet assigned"), None);
        assert_eq!(urgency_severity("end-of-life"), None);
        assert_eq!(urgency_severity(""), None);
    }

    #[test]
    fn update_default_includes_the_tracker() {
        assert!(crate::DEFAULT_UPDATE_URLS.contains(&TRACKER_URL));
        assert!(TRACKER_URL.starts_with("https://security-tracker.debian.org/"));
    }

    #[test]
    fn codenames() {
        assert_eq!(release_ecosystem("bookworm"), Some("Debian:12"));
        assert_eq!(release_ecosystem("buster"), Some("Debian:10"));
        assert_eq!(release_ecosystem("forky"), Some("Debian:14"));
        assert_eq!(release_ecosystem("sid"), None);
        assert_eq!(release_ecosystem("Bookworm"), None);
    }

    #[test]
    fn sniffing() {
        assert!(looks_like(br#" { "a" : {"CVE-2020-1": {}}}"#));
        assert!(looks_like(br#"{"a\"b": {"TEMP-0": 1}}"#));
        assert!(!looks_like(br#"{"id": "CVE-1", "affected": []}"#));
        assert!(!looks_like(br#"{"packages": [{"pkg": {}}]}"#));
        assert!(!looks_like(br#"{"a": {"id": "CVE-1"}}"#));
        assert!(!looks_like(b"{}"));
        assert!(!looks_like(b"[{\"a\": 1}]"));
        assert!(!looks_like(b"{\"unterminated"));
    }

    #[test]
    fn damaged_input_is_refused_with_position() {
        let e = run(r#"{"p": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.json") && e.contains("line 1"), "{e}");
        let e = run(r#"{"p": {"CVE-1": {"releases": {"bookworm": {"status": "fixed"}}}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown status `fixed`"), "{e}");
        let e = run(r#"{"p": ["CVE-1"]}"#).unwrap_err().to_string();
        assert!(e.contains("package `p`"), "{e}");
        let e = run(r#"{"p": {}} trailing"#).unwrap_err().to_string();
        assert!(e.contains("trailing"), "{e}");
    }

    #[test]
    fn record_cap() {
        let j = r#"{"p": {"CVE-1": {"releases": {"bookworm": {"status": "open"}, "trixie": {"status": "open"}}}}}"#;
        let mut out = Vec::new();
        let e = import("big.json", j.as_bytes(), "s", 1, &mut out)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("big.json") && e.contains("more than 1 records"),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = looks_like(&b);
            let mut out = Vec::new();
            let _ = import("x", &b, "s", 10, &mut out);
            prop_assert!(out.len() <= 10);
        }

        #[test]
        fn truncated_tracker_json_is_refused(cut in 1usize..120) {
            let j = r#"{"p": {"CVE-1": {"description": "d", "releases": {"bookworm": {"status": "open", "urgency": "low"}}}}}"#;
            let cut = cut.min(j.len() - 1);
            let mut out = Vec::new();
            let r = import("x.json", &j.as_bytes()[..cut], "s", 10, &mut out);
            prop_assert!(r.is_err());
            prop_assert!(r.unwrap_err().to_string().contains("x.json"));
        }

        #[test]
        fn every_release_entry_becomes_one_record(
            rels in proptest::collection::btree_map(
                prop_oneof![Just("buster"), Just("bullseye"), Just("bookworm"), Just("trixie"), Just("sid")],
                (prop_oneof![Just("open"), Just("resolved"), Just("undetermined")], 0u8..3),
                0..5)
        ) {
            let body: Vec<String> = rels.iter().map(|(r, (s, f))| {
                let fixed = match f { 0 => String::new(), 1 => r#","fixed_version":"0""#.into(), _ => r#","fixed_version":"1.0-1""#.into() };
                format!(r#""{r}":{{"status":"{s}"{fixed}}}"#)
            }).collect();
            let j = format!(r#"{{"p":{{"CVE-9":{{"releases":{{{}}}}}}}}}"#, body.join(","));
            let (recs, st) = run(&j).unwrap();
            let expected = rels.iter().filter(|(r, (s, _))| **r != "sid" && *s != "undetermined").count();
            prop_assert_eq!(recs.len(), expected);
            prop_assert_eq!(st.records, expected);
            for r in &recs {
                prop_assert_eq!(r.not_affected, r.ranges.is_empty());
            }
        }
    }
}
