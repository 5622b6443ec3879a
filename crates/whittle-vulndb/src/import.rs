//! Importers: OSV JSON, Alpine/Wolfi/Chainguard secdb JSON, Wolfi advisories YAML, the Debian
//! security tracker's JSON ([`crate::debian_tracker`]); from files, directories, zips and
//! `.tar.gz` archives. Every importer yields [`Record`]s.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::DbError;
use crate::model::{
    Event, Record, cvss3_base_score, level_of_score, level_of_word, normalize_ecosystem,
};

/// Largest single advisory file (JSON or YAML) read: 256 MiB (a secdb or OSV export member).
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Largest total of uncompressed bytes read from one archive: 8 GiB.
pub const MAX_ARCHIVE_BYTES: u64 = 8 << 30;

/// What one import produced.
#[derive(Debug, Default)]
pub struct Imported {
    /// The records.
    pub records: Vec<Record>,
    /// Files read, by format (`osv`, `secdb`, `wolfi-advisories`, `debian-tracker`).
    pub files: BTreeMap<&'static str, usize>,
    /// Files skipped and why (not advisory data, withdrawn…), for the user.
    pub skipped: Vec<String>,
}

fn io_err(path: &str) -> impl Fn(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.to_string(),
        source,
    }
}

/// Imports `path`: a file (`.json`, `.yaml`/`.yml`, `.zip`, `.tar.gz`/`.tgz`) or a directory
/// (walked recursively). `source` is recorded in every record.
pub fn import_path(path: &Path, source: &str, out: &mut Imported) -> Result<(), DbError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(io_err(&shown))?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(io_err(&shown))?
            .collect::<Result<_, _>>()
            .map_err(io_err(&shown))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let ft = e.file_type().map_err(io_err(&shown))?;
            if ft.is_dir() || (ft.is_file() && is_data_name(&p.to_string_lossy())) {
                import_path(&p, source, out)?;
            }
        }
        return Ok(());
    }
    let lower = shown.to_ascii_lowercase();
    let file = std::fs::File::open(path).map_err(io_err(&shown))?;
    if lower.ends_with(".zip") {
        return import_zip(file, &shown, source, out);
    }
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        return import_tar(flate2::read::GzDecoder::new(file), &shown, source, out);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(DbError::TooLarge {
            path: shown,
            max: MAX_FILE_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(&shown))?;
    import_bytes(&shown, &bytes, source, out)
}

fn is_data_name(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    [".json", ".yaml", ".yml", ".zip", ".tar.gz", ".tgz"]
        .iter()
        .any(|s| l.ends_with(s))
}

fn read_member(r: impl Read, size: u64, name: &str, total: &mut u64) -> Result<Vec<u8>, DbError> {
    if size > MAX_FILE_BYTES {
        return Err(DbError::TooLarge {
            path: name.to_string(),
            max: MAX_FILE_BYTES,
        });
    }
    let mut buf = Vec::with_capacity(size as usize);
    r.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(name))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(DbError::TooLarge {
            path: name.to_string(),
            max: MAX_FILE_BYTES,
        });
    }
    *total += buf.len() as u64;
    if *total > MAX_ARCHIVE_BYTES {
        return Err(DbError::TooLarge {
            path: name.to_string(),
            max: MAX_ARCHIVE_BYTES,
        });
    }
    Ok(buf)
}

/// Imports every `.json`/`.yaml` member of a zip archive (e.g. OSV's `all.zip`).
pub fn import_zip<R: Read + std::io::Seek>(
    reader: R,
    name: &str,
    source: &str,
    out: &mut Imported,
) -> Result<(), DbError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| DbError::Archive {
        path: name.to_string(),
        message: e.to_string(),
    })?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let member = zip.by_index(i).map_err(|e| DbError::Archive {
            path: name.to_string(),
            message: e.to_string(),
        })?;
        if !member.is_file() {
            continue;
        }
        let member_name = member.name().map(|n| n.into_owned()).unwrap_or_default();
        let mname = format!("{name}!{member_name}");
        let l = member_name.to_ascii_lowercase();
        if !(l.ends_with(".json") || l.ends_with(".yaml") || l.ends_with(".yml")) {
            continue;
        }
        let size = member.size();
        let bytes = read_member(member, size, &mname, &mut total)?;
        import_member(&mname, &bytes, source, out);
    }
    Ok(())
}

/// Imports every `.json`/`.yaml` member of an (uncompressed) tar stream.
pub fn import_tar(
    reader: impl Read,
    name: &str,
    source: &str,
    out: &mut Imported,
) -> Result<(), DbError> {
    let arch_err = |e: std::io::Error| DbError::Archive {
        path: name.to_string(),
        message: e.to_string(),
    };
    let mut ar = tar::Archive::new(reader);
    let mut total = 0u64;
    for entry in ar.entries().map_err(arch_err)? {
        let entry = entry.map_err(arch_err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let l = member.to_ascii_lowercase();
        if !(l.ends_with(".json") || l.ends_with(".yaml") || l.ends_with(".yml")) {
            continue;
        }
        let mname = format!("{name}!{member}");
        let size = entry.header().size().map_err(arch_err)?;
        let bytes = read_member(entry, size, &mname, &mut total)?;
        import_member(&mname, &bytes, source, out);
    }
    Ok(())
}

/// Imports one member of an archive; a member in an unknown or damaged format is skipped
/// (listed in [`Imported::skipped`]) so one bad file does not stop an export's import.
fn import_member(name: &str, bytes: &[u8], source: &str, out: &mut Imported) {
    if let Err(e) = import_bytes(name, bytes, source, out) {
        out.skipped.push(format!("{e}"));
    }
}

/// Imports one file's content, detecting its format: YAML is Wolfi advisories; JSON whose first
/// member is an object keyed by `CVE-`/`TEMP-` ids is the Debian security tracker's (parsed
/// streaming, see [`crate::debian_tracker`]); JSON with `packages` is a secdb; JSON with `id` and
/// `affected` is OSV (a list of OSV records too).
pub fn import_bytes(
    name: &str,
    bytes: &[u8],
    source: &str,
    out: &mut Imported,
) -> Result<(), DbError> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        let text = std::str::from_utf8(bytes).map_err(|_| DbError::Format {
            path: name.to_string(),
            message: "not UTF-8 text".into(),
        })?;
        let n = wolfi_advisories(name, text, source, &mut out.records)?;
        if n.is_some() {
            *out.files.entry("wolfi-advisories").or_default() += 1;
        } else {
            out.skipped
                .push(format!("{name}: YAML without `advisories`: skipped"));
        }
        return Ok(());
    }
    if crate::debian_tracker::looks_like(bytes) {
        let stats = crate::debian_tracker::import(
            name,
            bytes,
            source,
            crate::debian_tracker::MAX_RECORDS,
            &mut out.records,
        )?;
        *out.files.entry("debian-tracker").or_default() += 1;
        out.skipped.extend(stats.skipped_note(name));
        return Ok(());
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| DbError::Format {
        path: name.to_string(),
        message: format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    match &value {
        Value::Object(o) if o.contains_key("packages") => {
            secdb(name, &value, source, &mut out.records)?;
            *out.files.entry("secdb").or_default() += 1;
        }
        Value::Object(o) if o.contains_key("id") => {
            if osv(name, value, source, &mut out.records)? {
                *out.files.entry("osv").or_default() += 1;
            } else {
                out.skipped
                    .push(format!("{name}: withdrawn or without affected packages"));
            }
        }
        Value::Array(items) => {
            let full = items
                .iter()
                .filter(|v| v.get("id").is_some() && v.get("affected").is_some())
                .count();
            if full == 0 {
                out.skipped.push(format!(
                    "{name}: a list without OSV records (an index of ids?): skipped"
                ));
                return Ok(());
            }
            if let Value::Array(items) = value {
                for v in items {
                    if v.get("affected").is_some() {
                        osv(name, v, source, &mut out.records)?;
                    }
                }
            }
            *out.files.entry("osv").or_default() += 1;
        }
        _ => out.skipped.push(format!(
            "{name}: neither OSV nor secdb JSON (no `id` or `packages`): skipped"
        )),
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OsvRecord {
    id: String,
    aliases: Vec<String>,
    upstream: Vec<String>,
    summary: String,
    details: String,
    withdrawn: Option<String>,
    severity: Vec<OsvSeverity>,
    affected: Vec<OsvAffected>,
    database_specific: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OsvSeverity {
    #[serde(rename = "type")]
    ty: String,
    score: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OsvAffected {
    package: Option<OsvPackage>,
    ranges: Vec<OsvRange>,
    versions: Vec<String>,
    severity: Vec<OsvSeverity>,
    database_specific: Option<Value>,
    ecosystem_specific: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OsvRange {
    #[serde(rename = "type")]
    ty: String,
    events: Vec<BTreeMap<String, String>>,
}

/// Severity and score from OSV `severity` entries and a `database_specific.severity` word.
fn osv_severity(
    sev: &[OsvSeverity],
    specific: &[Option<&Value>],
) -> (Option<whittle_report::Severity>, Option<f32>) {
    let mut best: Option<f32> = None;
    for s in sev {
        let score = match s.ty.as_str() {
            "CVSS_V3" => cvss3_base_score(&s.score),
            _ => s.score.trim().parse::<f32>().ok(),
        };
        if let Some(sc) = score {
            best = Some(best.map_or(sc, |b: f32| b.max(sc)));
        }
    }
    if let Some(b) = best {
        return (Some(level_of_score(b)), Some(b));
    }
    for s in sev {
        if let Some(l) = level_of_word(&s.score) {
            return (Some(l), None);
        }
    }
    for v in specific.iter().flatten() {
        for key in ["severity", "cvss_severity", "urgency"] {
            if let Some(l) = v.get(key).and_then(Value::as_str).and_then(level_of_word) {
                return (Some(l), None);
            }
        }
    }
    (None, None)
}

/// Converts one OSV record; `Ok(false)` when withdrawn or with no usable `affected` entry.
fn osv(name: &str, value: Value, source: &str, out: &mut Vec<Record>) -> Result<bool, DbError> {
    let rec: OsvRecord = serde_json::from_value(value).map_err(|e| DbError::Format {
        path: name.to_string(),
        message: format!("not an OSV record: {e}"),
    })?;
    if rec.withdrawn.is_some() || rec.id.is_empty() {
        return Ok(false);
    }
    let mut aliases: Vec<String> = rec
        .aliases
        .iter()
        .chain(rec.upstream.iter())
        .filter(|a| **a != rec.id)
        .cloned()
        .collect();
    aliases.sort();
    aliases.dedup();
    let summary = if rec.summary.is_empty() {
        rec.details
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect()
    } else {
        rec.summary.clone()
    };
    let mut any = false;
    for a in &rec.affected {
        let Some(pkg) = &a.package else { continue };
        if pkg.name.is_empty() || pkg.ecosystem.is_empty() {
            continue;
        }
        let ranges: Vec<Vec<Event>> = a
            .ranges
            .iter()
            .filter(|r| r.ty == "ECOSYSTEM")
            .map(|r| {
                r.events
                    .iter()
                    .flat_map(|e| e.iter())
                    .filter_map(|(k, v)| match k.as_str() {
                        "introduced" => Some(Event::Introduced(v.clone())),
                        "fixed" => Some(Event::Fixed(v.clone())),
                        "last_affected" => Some(Event::LastAffected(v.clone())),
                        "limit" => Some(Event::Limit(v.clone())),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|r| !r.is_empty())
            .collect();
        if ranges.is_empty() && a.versions.is_empty() {
            continue;
        }
        let sev_list: &[OsvSeverity] = if a.severity.is_empty() {
            &rec.severity
        } else {
            &a.severity
        };
        let (severity, score) = osv_severity(
            sev_list,
            &[
                a.database_specific.as_ref(),
                a.ecosystem_specific.as_ref(),
                rec.database_specific.as_ref(),
            ],
        );
        any = true;
        out.push(Record {
            id: rec.id.clone(),
            aliases: aliases.clone(),
            ecosystem: normalize_ecosystem(&pkg.ecosystem),
            package: pkg.name.clone(),
            ranges,
            versions: a.versions.clone(),
            not_affected: false,
            severity,
            score,
            summary: summary.clone(),
            source: source.to_string(),
        });
    }
    Ok(any)
}

/// The ecosystem a secdb file is about: `distroversion` (`v3.10` → `Alpine:v3.10`), else
/// `Chainguard` for the `chainguard` repository, else `Wolfi`.
fn secdb_ecosystem(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let dv = s("distroversion");
    if !dv.is_empty() {
        return normalize_ecosystem(&format!("Alpine:{dv}"));
    }
    let repo = s("reponame").to_ascii_lowercase();
    let url = s("urlprefix").to_ascii_lowercase();
    if repo == "chainguard" || url.contains("cgr.dev") || url.contains("chainguard") {
        "Chainguard".into()
    } else {
        "Wolfi".into()
    }
}

/// Converts a secdb file. `secfixes` maps a fixed version to CVE ids: versions before it are
/// affected; the version `0` means the package was never affected.
fn secdb(name: &str, v: &Value, source: &str, out: &mut Vec<Record>) -> Result<(), DbError> {
    let eco = secdb_ecosystem(v);
    let packages = match v.get("packages") {
        Some(Value::Array(a)) => a.as_slice(),
        // an empty release is written as `"packages": {}`
        Some(Value::Object(o)) if o.is_empty() => &[],
        _ => {
            return Err(DbError::Format {
                path: name.to_string(),
                message: "`packages` is not a list".into(),
            });
        }
    };
    for p in packages {
        let Some(pkg) = p.get("pkg") else { continue };
        let Some(pname) = pkg.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some(fixes) = pkg.get("secfixes").and_then(Value::as_object) else {
            continue;
        };
        for (fixed, ids) in fixes {
            let Some(ids) = ids.as_array() else { continue };
            let fixed = fixed.trim();
            for id in ids.iter().filter_map(Value::as_str) {
                let mut words = id.split_whitespace();
                let Some(first) = words.next() else { continue };
                let aliases: Vec<String> = words.map(str::to_string).collect();
                let not_affected = fixed == "0";
                out.push(Record {
                    id: first.to_string(),
                    aliases,
                    ecosystem: eco.clone(),
                    package: pname.to_string(),
                    ranges: if not_affected {
                        Vec::new()
                    } else {
                        vec![vec![
                            Event::Introduced("0".into()),
                            Event::Fixed(fixed.to_string()),
                        ]]
                    },
                    versions: Vec::new(),
                    not_affected,
                    severity: None,
                    score: None,
                    summary: String::new(),
                    source: source.to_string(),
                });
            }
        }
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WolfiDoc {
    package: WolfiPackage,
    advisories: Option<Vec<WolfiAdvisory>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WolfiPackage {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WolfiAdvisory {
    id: String,
    aliases: Vec<String>,
    events: Vec<WolfiEvent>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WolfiEvent {
    timestamp: String,
    #[serde(rename = "type")]
    ty: String,
    data: Option<WolfiEventData>,
}

/// Only the field matching needs; other data (component ids that look like floats…) is skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WolfiEventData {
    #[serde(rename = "fixed-version")]
    fixed_version: Option<String>,
}

/// Converts a Wolfi advisories document (`<package>.advisories.yaml`, schema 2). The latest
/// event decides: `fixed` → affected before `fixed-version`; `false-positive-determination`
/// → not affected; `true-positive-determination`, `fix-not-planned`, `pending-upstream-fix`,
/// `analysis-not-planned` → every version affected; `detection` alone → nothing (unconfirmed).
/// Returns `None` when the YAML has no `advisories` key.
fn wolfi_advisories(
    name: &str,
    text: &str,
    source: &str,
    out: &mut Vec<Record>,
) -> Result<Option<usize>, DbError> {
    let mut opts = serde_saphyr::Options::default();
    // ids such as `03622160e6925503` look like huge floats; ignored fields must not fail
    opts.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
    opts.with_snippet = false;
    let doc: WolfiDoc =
        serde_saphyr::from_str_with_options(text, opts).map_err(|e| DbError::Format {
            path: name.to_string(),
            message: format!("invalid Wolfi advisories YAML: {e}"),
        })?;
    let Some(advisories) = doc.advisories else {
        return Ok(None);
    };
    if doc.package.name.is_empty() {
        return Err(DbError::Format {
            path: name.to_string(),
            message: "`package.name` is missing".into(),
        });
    }
    let mut n = 0;
    for adv in advisories {
        // the latest event by timestamp (RFC 3339 UTC sorts as text); ties: the later one
        let Some(last) = adv
            .events
            .iter()
            .enumerate()
            .max_by(|(ia, a), (ib, b)| a.timestamp.cmp(&b.timestamp).then(ia.cmp(ib)))
            .map(|(_, e)| e)
        else {
            continue;
        };
        let (ranges, not_affected) = match last.ty.as_str() {
            "fixed" => {
                let Some(v) = last.data.as_ref().and_then(|d| d.fixed_version.as_deref()) else {
                    continue;
                };
                (
                    vec![vec![Event::Introduced("0".into()), Event::Fixed(v.into())]],
                    false,
                )
            }
            "false-positive-determination" => (Vec::new(), true),
            "true-positive-determination"
            | "fix-not-planned"
            | "pending-upstream-fix"
            | "analysis-not-planned" => (vec![vec![Event::Introduced("0".into())]], false),
            _ => continue,
        };
        let mut aliases = adv.aliases.clone();
        aliases.retain(|a| *a != adv.id);
        out.push(Record {
            id: adv.id.clone(),
            aliases,
            ecosystem: "Wolfi".into(),
            package: doc.package.name.clone(),
            ranges,
            versions: Vec::new(),
            not_affected,
            severity: None,
            score: None,
            summary: String::new(),
            source: source.to_string(),
        });
        n += 1;
    }
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secdb_zero_means_not_affected() {
        let j = br#"{"distroversion":"v3.10","packages":[{"pkg":{"name":"musl","secfixes":{"1.1.22-r3":["CVE-2019-14697"],"0":["CVE-2000-1 XSA-1"]}}}]}"#;
        let mut out = Imported::default();
        import_bytes("x.json", j, "t", &mut out).unwrap();
        assert_eq!(out.records.len(), 2);
        let na = out.records.iter().find(|r| r.not_affected).unwrap();
        assert_eq!(na.id, "CVE-2000-1");
        assert_eq!(na.aliases, ["XSA-1"]);
        let fixed = out.records.iter().find(|r| !r.not_affected).unwrap();
        assert_eq!(fixed.ecosystem, "Alpine:v3.10");
        assert_eq!(
            fixed.ranges,
            [[
                Event::Introduced("0".into()),
                Event::Fixed("1.1.22-r3".into())
            ]]
        );
    }

    #[test]
    fn wolfi_latest_event_decides() {
        let y = "schema-version: 2.0.1\npackage:\n  name: foo\nadvisories:\n  - id: CGA-1\n    aliases: [CVE-1]\n    events:\n      - timestamp: 2023-01-02T00:00:00Z\n        type: false-positive-determination\n        data: {type: vulnerable-code-not-included-in-package}\n      - timestamp: 2023-01-01T00:00:00Z\n        type: detection\n  - id: CGA-2\n    events:\n      - timestamp: 2023-01-01T00:00:00Z\n        type: fixed\n        data:\n          fixed-version: 1.2-r1\n  - id: CGA-3\n    events:\n      - timestamp: 2023-01-01T00:00:00Z\n        type: detection\n";
        let mut out = Imported::default();
        import_bytes("foo.advisories.yaml", y.as_bytes(), "t", &mut out).unwrap();
        assert_eq!(out.records.len(), 2);
        assert!(out.records[0].not_affected);
        assert_eq!(out.records[0].aliases, ["CVE-1"]);
        assert_eq!(
            out.records[1].ranges,
            [[Event::Introduced("0".into()), Event::Fixed("1.2-r1".into())]]
        );
    }

    #[test]
    fn bad_json_names_the_file() {
        let mut out = Imported::default();
        let e = import_bytes("a/b.json", b"{ nope", "t", &mut out).unwrap_err();
        assert!(e.to_string().contains("a/b.json"), "{e}");
    }
}
