//! melange's package linters, by melange's names and with melange's default behaviour: each
//! linter is *required* (a finding fails `whittle pkg build` and `whittle pkg lint`), *warn*
//! (reported only) or off unless named in `--lint-require`/`--lint-warn`.
//!
//! A linter looks at one package's files ([`Package`], read from a built `.apk` with
//! [`Package::from_apk`] or from the files about to be packaged with [`Package::from_entries`])
//! and, for `pkgconf` and `lddcheck`, at the recipe (`.melange.yaml`) the package carries.
//! Findings are [`whittle_report::Finding`]s whose rule is the linter's name: required ones at
//! [`REQUIRED`] severity, warnings at [`WARN`].
//!
//! Where whittle differs from melange on purpose: `strip` also trips on the DWARF sections
//! compilers write today (`.debug_info`, `.zdebug_*`), not only on sections named exactly
//! `.debug`/`.zdebug`, and so leaves the separate debug files under `usr/lib/debug/` alone; `python/multiple` names a module by what precedes its first `.`
//! (`foo.cpython-312-x86_64-linux-gnu.so` and `foo/` are one package); an ELF file whose section
//! table cannot be read is not reported by `strip` (melange fails the linter).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use whittle_report::{Finding, Location, Rule, Severity};

use crate::apk::FileEntry;
use crate::tarw::Kind;
use crate::{Error, Result};

/// The severity of a finding of a required linter.
pub const REQUIRED: Severity = Severity::High;
/// The severity of a finding of a warn linter.
pub const WARN: Severity = Severity::Low;
/// Most `.apk` bytes `whittle pkg lint` reads (the largest package whittle writes).
pub const MAX_APK_BYTES: u64 = crate::apk::MAX_PACKAGE_DATA;
/// Most entries of one package the linters look at.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most paths one finding lists (the count says how many more there are).
const MAX_LISTED: usize = 20;

/// What melange does with a linter when neither `--lint-require` nor `--lint-warn` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// A finding fails the build.
    Require,
    /// A finding is reported.
    Warn,
    /// Not run.
    Ignore,
}

/// One linter.
#[derive(Debug, Clone, Copy)]
pub struct Linter {
    /// melange's name (`dev`, `python/docs`).
    pub name: &'static str,
    /// What to do about a finding (melange's explanation).
    pub explain: &'static str,
    /// melange's default.
    pub default: Behavior,
    check: fn(&Package) -> Option<Trip>,
}

/// What a linter found: a message and the paths it is about.
struct Trip {
    message: String,
    paths: Vec<String>,
}

/// Every linter whittle has, in melange's order.
pub const LINTERS: &[Linter] = &[
    Linter {
        name: "dev",
        explain: "If this package is creating /dev nodes, it should use udev instead; otherwise, remove any files in /dev",
        default: Behavior::Require,
        check: dev,
    },
    Linter {
        name: "documentation",
        explain: "Place documentation into a separate package or remove it",
        default: Behavior::Ignore,
        check: documentation,
    },
    Linter {
        name: "opt",
        explain: "This package should be a -compat package",
        default: Behavior::Warn,
        check: opt,
    },
    Linter {
        name: "object",
        explain: "This package contains intermediate object files (.o files)",
        default: Behavior::Warn,
        check: object,
    },
    Linter {
        name: "maninfo",
        explain: "Place documentation into a separate package or remove it",
        default: Behavior::Warn,
        check: maninfo,
    },
    Linter {
        name: "sbom",
        explain: "Remove any files in /var/lib/db/sbom from the package",
        default: Behavior::Warn,
        check: sbom,
    },
    Linter {
        name: "setuidgid",
        explain: "Unset the setuid/setgid bit on the relevant files, or remove this linter",
        default: Behavior::Require,
        check: setuidgid,
    },
    Linter {
        name: "srv",
        explain: "This package should be a -compat package",
        default: Behavior::Warn,
        check: srv,
    },
    Linter {
        name: "tempdir",
        explain: "Remove any offending files in temporary dirs in the pipeline, or add a /usr/lib/tmpfiles.d/ snippet in the case of dirs under /run/",
        default: Behavior::Require,
        check: tempdir,
    },
    Linter {
        name: "usrlocal",
        explain: "This package should be a -compat package",
        default: Behavior::Warn,
        check: usrlocal,
    },
    Linter {
        name: "varempty",
        explain: "Remove any offending files in /var/empty in the pipeline",
        default: Behavior::Require,
        check: varempty,
    },
    Linter {
        name: "worldwrite",
        explain: "Change the permissions of any permissive files in the package, disable the linter, or make this a -compat package",
        default: Behavior::Require,
        check: worldwrite,
    },
    Linter {
        name: "strip",
        explain: "Properly strip all binaries in the pipeline",
        default: Behavior::Warn,
        check: strip,
    },
    Linter {
        name: "infodir",
        explain: "Remove /usr/share/info/dir from the package (run split/infodir)",
        default: Behavior::Require,
        check: infodir,
    },
    Linter {
        name: "empty",
        explain: "Verify that this package is supposed to be empty; if it is, disable this linter; otherwise check the build",
        default: Behavior::Ignore,
        check: empty,
    },
    Linter {
        name: "python/docs",
        explain: "Remove all docs directories from the package",
        default: Behavior::Warn,
        check: python_docs,
    },
    Linter {
        name: "python/multiple",
        explain: "Split this package up into multiple packages and verify you are not improperly using pip install",
        default: Behavior::Warn,
        check: python_multiple,
    },
    Linter {
        name: "python/test",
        explain: "Remove all test directories from the package",
        default: Behavior::Warn,
        check: python_test,
    },
    Linter {
        name: "pkgconf",
        explain: "This package provides files in a pkgconfig directory, please add the pkgconf test pipeline",
        default: Behavior::Warn,
        check: pkgconf,
    },
    Linter {
        name: "lddcheck",
        explain: "This package provides shared object files, please add the ldd-check test pipeline",
        default: Behavior::Warn,
        check: lddcheck,
    },
    Linter {
        name: "usrmerge",
        explain: "Move binary to /usr/bin",
        default: Behavior::Require,
        check: usrmerge,
    },
    Linter {
        name: "staticarchive",
        explain: "This package contains static archives (.a files)",
        default: Behavior::Warn,
        check: staticarchive,
    },
    Linter {
        name: "libtool/la-files",
        explain: "Remove libtool archive (.la) files from the package, or disable this linter if they are required",
        default: Behavior::Require,
        check: la_files,
    },
];

/// melange linters whittle does not have (accepted in `--lint-warn`, refused in
/// `--lint-require` so that nothing required is silently skipped).
pub const NOT_IMPLEMENTED: &[&str] = &[
    "cudaruntimelib",
    "dll",
    "dylib",
    "nonlinux",
    "unsupportedarch",
    "binaryarch",
    "duplicate",
];

/// The rules (linters) for SARIF's `tool.driver.rules`.
pub fn rules() -> Vec<Rule> {
    LINTERS
        .iter()
        .map(|l| Rule {
            id: l.name,
            description: l.explain,
        })
        .collect()
}

/// Which linters run and how: melange's `--lint-require` and `--lint-warn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Linters whose findings fail.
    pub require: Vec<String>,
    /// Linters whose findings are reported.
    pub warn: Vec<String>,
}

impl Default for Policy {
    /// melange's defaults.
    fn default() -> Self {
        let names = |b: Behavior| -> Vec<String> {
            let mut v: Vec<String> = LINTERS
                .iter()
                .filter(|l| l.default == b)
                .map(|l| l.name.to_string())
                .collect();
            v.sort();
            v
        };
        Policy {
            require: names(Behavior::Require),
            warn: names(Behavior::Warn),
        }
    }
}

impl Policy {
    /// `require` and `warn` (each `None` for melange's default), every name checked: an unknown
    /// one is refused with the list of known ones. A name in both lists is required.
    pub fn new(require: Option<Vec<String>>, warn: Option<Vec<String>>) -> Result<Policy> {
        let d = Policy::default();
        let clean = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let require = require.map_or(d.require, clean);
        let warn = warn.map_or(d.warn, clean);
        let known = |n: &str| LINTERS.iter().any(|l| l.name == n);
        let mut bad = Vec::new();
        for n in &require {
            if !known(n) {
                bad.push(if NOT_IMPLEMENTED.contains(&n.as_str()) {
                    format!("{n:?} (a melange linter whittle does not have; name it in --lint-warn or drop it)")
                } else {
                    format!("{n:?}")
                });
            }
        }
        for n in &warn {
            if !known(n) && !NOT_IMPLEMENTED.contains(&n.as_str()) {
                bad.push(format!("{n:?}"));
            }
        }
        if !bad.is_empty() {
            return Err(Error::Invalid {
                what: "--lint-require/--lint-warn".into(),
                message: format!(
                    "unknown linter {}; the linters are {}",
                    bad.join(", "),
                    LINTERS
                        .iter()
                        .map(|l| l.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let mut seen = BTreeSet::new();
        let require: Vec<String> = require
            .into_iter()
            .filter(|n| seen.insert(n.clone()))
            .collect();
        let warn = warn
            .into_iter()
            .filter(|n| known(n) && seen.insert(n.clone()))
            .collect();
        Ok(Policy { require, warn })
    }

    /// This policy for a package whose recipe says `checks: disabled: [...]`: as melange, those
    /// linters are downgraded from required to warn.
    pub fn with_disabled(&self, disabled: &[String]) -> Policy {
        let require: Vec<String> = self
            .require
            .iter()
            .filter(|n| !disabled.contains(n))
            .cloned()
            .collect();
        let mut warn = self.warn.clone();
        for d in disabled {
            if !warn.contains(d) && LINTERS.iter().any(|l| l.name == d) {
                warn.push(d.clone());
            }
        }
        Policy { require, warn }
    }
}

/// One file system entry as the linters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `usr/bin/hello` (no leading `/`).
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// Permission bits (with setuid, setgid, sticky).
    pub mode: u32,
    /// A regular ELF file (executable, or named like a library) carrying debug sections.
    pub unstripped: bool,
}

impl Entry {
    fn new(path: &str, kind: Kind, mode: u32, data: &[u8]) -> Entry {
        Entry {
            path: path
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string(),
            kind,
            mode,
            unstripped: kind == Kind::File && unstripped(path, mode, data),
        }
    }
}

/// What the recipe a package carries (`.melange.yaml`) says that the linters use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipeFacts {
    /// The package's (or subpackage's) test pipeline runs `test/pkgconf`.
    pub tests_pkgconf: bool,
    /// Its test pipeline runs `test/ldd-check` (or `test/tw/ldd-check`).
    pub tests_ldd: bool,
    /// Its `checks.disabled`.
    pub disabled: Vec<String>,
}

/// A package to lint: its name, files and what its recipe says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// `pkgname`.
    pub name: String,
    /// Its entries, in archive order.
    pub entries: Vec<Entry>,
    /// What its recipe says; `None` when it carries none (`pkgconf` and `lddcheck` say so).
    pub recipe: Option<RecipeFacts>,
}

impl Package {
    /// The package `name` made of `entries` (the files about to be packaged), built from a
    /// recipe that says `recipe` about it ([`recipe_facts_by_name`]).
    pub fn from_entries(name: &str, entries: &[FileEntry], recipe: Option<RecipeFacts>) -> Package {
        Package {
            name: name.to_string(),
            entries: entries
                .iter()
                .map(|e| Entry::new(&e.path, e.kind, e.mode, &e.data))
                .collect(),
            recipe,
        }
    }

    /// Reads a built `.apk` (`origin` names it in errors): its `.PKGINFO` name, its files (the
    /// data stream, size-capped as whittle's reader caps it) and its `.melange.yaml`.
    pub fn from_apk(origin: &str, bytes: &[u8]) -> Result<Package> {
        let apk = whittle_apk::package::ApkPackage::open(origin, bytes)?;
        let name = apk.name().to_string();
        let mut entries = Vec::new();
        let mut too_many = false;
        apk.for_each_data_entry(|e| {
            use whittle_apk::package::EntryKind;
            if entries.len() >= MAX_ENTRIES {
                too_many = true;
                return Ok(());
            }
            let kind = match e.kind {
                EntryKind::Dir => Kind::Dir,
                EntryKind::File => Kind::File,
                EntryKind::Symlink { .. } => Kind::Symlink,
                EntryKind::Hardlink { .. } => Kind::Hardlink,
            };
            entries.push(Entry::new(e.path, kind, e.mode, e.data));
            Ok::<(), whittle_apk::package::Error>(())
        })?;
        if too_many {
            return Err(Error::Invalid {
                what: origin.to_string(),
                message: format!(
                    "the package has more than {MAX_ENTRIES} entries; whittle lints at most that many"
                ),
            });
        }
        let yaml = apk.control_member(".melange.yaml")?;
        let recipe = yaml.map(|y| recipe_facts(&String::from_utf8_lossy(&y), &name));
        Ok(Package {
            name,
            entries,
            recipe,
        })
    }

    /// Every path of the package, with the directories its entries imply (as melange's
    /// expanded-package file system has them).
    fn all_paths(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for e in &self.entries {
            let mut p = e.path.as_str();
            out.insert(p);
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !out.insert(parent) {
                    break;
                }
                p = parent;
            }
        }
        out
    }

    /// Entries that are not directories (files, symlinks, hard links), matching `pred`.
    fn non_dirs(&self, pred: impl Fn(&str) -> bool) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.kind != Kind::Dir && pred(&e.path))
            .map(|e| e.path.clone())
            .collect()
    }
}

/// Reads a built `.apk` file for [`Package::from_apk`], refusing one larger than
/// [`MAX_APK_BYTES`].
pub fn read_apk(path: &std::path::Path) -> Result<Package> {
    let bytes = crate::read_file(
        path,
        MAX_APK_BYTES,
        "whittle lints packages up to that size",
    )?;
    Package::from_apk(&path.display().to_string(), &bytes)
}

#[derive(Deserialize, Default)]
struct LooseRecipe {
    #[serde(default)]
    package: LoosePackage,
    #[serde(default)]
    test: Option<LooseTest>,
    #[serde(default)]
    subpackages: Vec<LooseSub>,
}

#[derive(Deserialize, Default)]
struct LoosePackage {
    #[serde(default)]
    name: String,
    #[serde(default)]
    checks: LooseChecks,
}

#[derive(Deserialize, Default)]
struct LooseChecks {
    #[serde(default)]
    disabled: Vec<String>,
}

#[derive(Deserialize, Default)]
struct LooseTest {
    #[serde(default)]
    pipeline: Vec<LooseStep>,
}

#[derive(Deserialize, Default)]
struct LooseStep {
    #[serde(default)]
    uses: Option<String>,
}

#[derive(Deserialize, Default)]
struct LooseSub {
    #[serde(default)]
    name: String,
    #[serde(default)]
    test: Option<LooseTest>,
    #[serde(default)]
    checks: LooseChecks,
}

/// What recipe `text` says about each of its packages, by name: the main package and its
/// subpackages, whose names may be written `${{package.name}}-doc` (the first of a name wins,
/// the main package over all). A recipe that cannot be read says nothing.
pub fn recipe_facts_by_name(text: &str) -> BTreeMap<String, RecipeFacts> {
    let Ok(r) = serde_saphyr::from_str::<LooseRecipe>(text) else {
        return BTreeMap::new();
    };
    let facts = |test: Option<LooseTest>, checks: LooseChecks| {
        let uses: Vec<String> = test
            .map(|t| t.pipeline.into_iter().filter_map(|s| s.uses).collect())
            .unwrap_or_default();
        RecipeFacts {
            tests_pkgconf: uses.iter().any(|u| u == "test/pkgconf"),
            tests_ldd: uses
                .iter()
                .any(|u| u == "test/ldd-check" || u == "test/tw/ldd-check"),
            disabled: checks.disabled,
        }
    };
    let main = r.package.name;
    let mut out = BTreeMap::new();
    for s in r.subpackages {
        out.entry(s.name.replace("${{package.name}}", &main))
            .or_insert_with(|| facts(s.test, s.checks));
    }
    out.insert(main, facts(r.test, r.package.checks));
    out
}

/// What recipe `text` says about package `name` ([`recipe_facts_by_name`]; nothing for a
/// package it does not have).
pub fn recipe_facts(text: &str, name: &str) -> RecipeFacts {
    recipe_facts_by_name(text).remove(name).unwrap_or_default()
}

/// Runs the linters of `policy` over `pkg`, whose file (or build) `artifact` names: its
/// findings, required ones first.
pub fn lint(pkg: &Package, artifact: &str, policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for (names, severity) in [(&policy.require, REQUIRED), (&policy.warn, WARN)] {
        for name in names {
            let Some(linter) = LINTERS.iter().find(|l| l.name == name) else {
                continue;
            };
            let Some(trip) = (linter.check)(pkg) else {
                continue;
            };
            let listed: Vec<&str> = trip
                .paths
                .iter()
                .take(MAX_LISTED)
                .map(String::as_str)
                .collect();
            let mut evidence = listed.join(", ");
            if trip.paths.len() > MAX_LISTED {
                evidence.push_str(&format!(" and {} more", trip.paths.len() - MAX_LISTED));
            }
            out.push(Finding {
                rule: linter.name.to_string(),
                severity,
                message: trip.message,
                location: Location {
                    artifact: Some(artifact.to_string()),
                    path: trip.paths.first().map(|p| format!("/{p}")),
                    ..Location::default()
                },
                fix: Some(linter.explain.to_string()),
                evidence: (!evidence.is_empty()).then_some(evidence),
            });
        }
    }
    out
}

/// Whether a required linter tripped.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity >= REQUIRED)
}

/// The findings of several packages for people: per package (`artifact (name)`), each finding
/// with its paths and what to do, then a summary line.
pub fn text(per_package: &[(String, String, Vec<Finding>)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (mut required, mut warnings) = (0, 0);
    for (artifact, name, findings) in per_package {
        let _ = writeln!(out, "{artifact} ({name})");
        if findings.is_empty() {
            let _ = writeln!(out, "  no findings");
        }
        for f in findings {
            let label = if f.severity >= REQUIRED {
                required += 1;
                "required"
            } else {
                warnings += 1;
                "warning"
            };
            let _ = writeln!(out, "  {label:<9} {:<17} {}", f.rule, f.message);
            if let Some(e) = &f.evidence {
                let _ = writeln!(out, "  {:<27} paths: {e}", "");
            }
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "  {:<27} fix: {fix}", "");
            }
        }
    }
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let _ = writeln!(
        out,
        "{}: {}, {}",
        plural(per_package.len(), "package", "packages"),
        plural(
            required,
            "required linter failed",
            "required linters failed"
        ),
        plural(warnings, "warning", "warnings")
    );
    out
}

// ---- the linters ------------------------------------------------------------------------

fn files(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn trip_paths(paths: Vec<String>, message: impl FnOnce(usize) -> String) -> Option<Trip> {
    (!paths.is_empty()).then(|| Trip {
        message: message(paths.len()),
        paths,
    })
}

fn dev(p: &Package) -> Option<Trip> {
    trip_paths(p.non_dirs(|x| x.starts_with("dev/")), |_| {
        format!("{} writes to /dev", p.name)
    })
}

/// melange's `(?:READ(?:\.?ME)?|TODO|CREDITS|\.(?:md|docx?|rst|[0-9][a-z]))$`.
fn is_documentation(path: &str) -> bool {
    let b = path.as_bytes();
    if [
        "READ", "README", "READ.ME", "TODO", "CREDITS", ".md", ".doc", ".docx", ".rst",
    ]
    .iter()
    .any(|s| path.ends_with(s))
    {
        return true;
    }
    // `.` digit lowercase letter
    b.len() >= 3 && {
        let t = &b[b.len() - 3..];
        t[0] == b'.' && t[1].is_ascii_digit() && t[2].is_ascii_lowercase()
    }
}

fn documentation(p: &Package) -> Option<Trip> {
    if p.name.ends_with("-doc") {
        return None;
    }
    trip_paths(p.non_dirs(is_documentation), |n| {
        format!(
            "{} contains {} but is not a documentation package",
            p.name,
            files(n, "documentation file", "documentation files")
        )
    })
}

fn compat(p: &Package, prefix: &str, message: &str) -> Option<Trip> {
    if p.name.ends_with("-compat") {
        return None;
    }
    trip_paths(p.non_dirs(|x| x.starts_with(prefix)), |_| {
        format!("{} {message}", p.name)
    })
}

fn opt(p: &Package) -> Option<Trip> {
    compat(p, "opt/", "writes to /opt")
}

fn srv(p: &Package) -> Option<Trip> {
    compat(p, "srv/", "writes to /srv")
}

fn usrlocal(p: &Package) -> Option<Trip> {
    compat(
        p,
        "usr/local/",
        "contains /usr/local path in non-compat package",
    )
}

/// Go's `filepath.Ext`: from the last `.` of the last component.
fn ext(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.rfind('.').map_or("", |i| &base[i..])
}

fn object(p: &Package) -> Option<Trip> {
    trip_paths(p.non_dirs(|x| ext(x) == ".o"), |n| {
        format!(
            "{} contains {}. This is usually wrong. In most cases they should be removed",
            p.name,
            files(n, "intermediate object file", "intermediate object files")
        )
    })
}

const COMPRESSIONS: &[&str] = &["", ".gz", ".bz2", ".xz", ".lzma", ".Z"];

/// melange's ManRegex: `usr/[local/]share/man[/manN…][/NAME.N…[.gz…]]` or the same under
/// `usr/man`.
fn is_man(path: &str) -> bool {
    let rest = path
        .strip_prefix("usr/local/share/man")
        .or_else(|| path.strip_prefix("usr/share/man"))
        .or_else(|| path.strip_prefix("usr/man"));
    let Some(mut rest) = rest else {
        return false;
    };
    // optional `/man[0-9][^/]*`
    if let Some(r) = rest.strip_prefix("/man")
        && r.as_bytes().first().is_some_and(u8::is_ascii_digit)
    {
        let end = r.find('/').unwrap_or(r.len());
        rest = &r[end..];
    }
    if rest.is_empty() {
        return true;
    }
    // `/[^/]+\.[0-9][^/]*` with an optional compression suffix (subsumed by `[^/]*`)
    let Some(name) = rest.strip_prefix('/') else {
        return false;
    };
    if name.contains('/') {
        return false;
    }
    let b = name.as_bytes();
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'.' && b[i + 1].is_ascii_digit())
}

/// melange's InfoRegex: `usr/[local/]share/info/(dir|NAME.info[-N][.gz…])`.
fn is_info(path: &str) -> bool {
    let Some(name) = path
        .strip_prefix("usr/local/share/info/")
        .or_else(|| path.strip_prefix("usr/share/info/"))
    else {
        return false;
    };
    if name == "dir" {
        return true;
    }
    if name.contains('/') {
        return false;
    }
    COMPRESSIONS.iter().any(|c| {
        let Some(stem) = name.strip_suffix(c) else {
            return false;
        };
        let stem = match stem.rsplit_once("-") {
            Some((s, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                if s.ends_with(".info") && s.len() > ".info".len() {
                    return true;
                }
                stem
            }
            _ => stem,
        };
        stem.ends_with(".info") && stem.len() > ".info".len()
    })
}

fn maninfo(p: &Package) -> Option<Trip> {
    if p.name.ends_with("-doc") {
        return None;
    }
    trip_paths(p.non_dirs(|x| is_man(x) || is_info(x)), |n| {
        format!(
            "{} contains {} but is not a documentation package",
            p.name,
            files(n, "man/info file", "man/info files")
        )
    })
}

fn sbom(p: &Package) -> Option<Trip> {
    trip_paths(
        p.non_dirs(|x| {
            x.rsplit_once('/')
                .is_some_and(|(d, _)| d == "var/lib/db/sbom")
                && !x.ends_with(".spdx.json")
        }),
        |_| format!("{} writes to var/lib/db/sbom", p.name),
    )
}

fn mode_paths(p: &Package, bits: impl Fn(u32) -> Vec<&'static str>) -> Vec<String> {
    p.entries
        .iter()
        .filter(|e| e.kind == Kind::File)
        .filter_map(|e| {
            let b = bits(e.mode);
            (!b.is_empty()).then(|| format!("{} ({:o} {})", e.path, e.mode & 0o7777, b.join(" ")))
        })
        .collect()
}

fn setuidgid(p: &Package) -> Option<Trip> {
    let found = mode_paths(p, |m| {
        [(0o4000, "setuid"), (0o2000, "setgid"), (0o1000, "sticky")]
            .into_iter()
            .filter(|(b, _)| m & b != 0)
            .map(|(_, n)| n)
            .collect()
    });
    trip_paths(found, |n| {
        format!(
            "{} contains {} with special permissions (setuid/setgid)",
            p.name,
            files(n, "file", "files")
        )
    })
}

fn worldwrite(p: &Package) -> Option<Trip> {
    let found = mode_paths(p, |m| {
        if m & 0o002 == 0 {
            return Vec::new();
        }
        let mut v = vec!["world-writable"];
        if m & 0o111 != 0 {
            v.push("executable");
        }
        v
    });
    trip_paths(found, |n| {
        format!(
            "{} contains {}",
            p.name,
            files(n, "world-writeable file", "world-writeable files")
        )
    })
}

fn tempdir(p: &Package) -> Option<Trip> {
    let snippet = p
        .all_paths()
        .iter()
        .any(|x| x.starts_with("usr/lib/tmpfiles.d/"));
    let mut found = Vec::new();
    for e in &p.entries {
        let x = e.path.as_str();
        let dir = e.kind == Kind::Dir;
        let hit = (!dir && (x.starts_with("tmp/") || x.starts_with("var/tmp/")))
            || x.starts_with("var/run/")
            || (x.starts_with("run/") && (!dir || !snippet));
        if hit {
            found.push(e.path.clone());
        }
    }
    trip_paths(found, |_| format!("{} writes to a temp dir", p.name))
}

fn varempty(p: &Package) -> Option<Trip> {
    trip_paths(p.non_dirs(|x| x.starts_with("var/empty/")), |_| {
        format!("{} writes to /var/empty", p.name)
    })
}

fn infodir(p: &Package) -> Option<Trip> {
    trip_paths(p.non_dirs(|x| x.starts_with("usr/share/info/dir/")), |_| {
        format!("{} writes to /usr/share/info/dir/", p.name)
    })
}

fn strip(p: &Package) -> Option<Trip> {
    let found: Vec<String> = p
        .entries
        .iter()
        .filter(|e| {
            // separate debug files (`split/debug`) hold the debug sections on purpose
            e.unstripped
                && !e.path.starts_with("var/lib/db/sbom/")
                && !e.path.starts_with("usr/lib/debug/")
        })
        .map(|e| e.path.clone())
        .collect();
    trip_paths(found, |n| {
        format!(
            "{} contains {}",
            p.name,
            files(n, "unstripped binary", "unstripped binaries")
        )
    })
}

fn empty(p: &Package) -> Option<Trip> {
    let any = p
        .entries
        .iter()
        .any(|e| e.kind != Kind::Dir && !e.path.starts_with("var/lib/db/sbom/"));
    (!any).then(|| Trip {
        message: format!("{} is empty but no-provides is not set", p.name),
        paths: Vec::new(),
    })
}

/// The entries of `usr/lib/python3.*/site-packages/` (their base names), or the trip of more
/// than one Python version.
fn site_packages(p: &Package) -> Result<Vec<String>, Trip> {
    let all = p.all_paths();
    let versions: Vec<&str> = all
        .iter()
        .copied()
        .filter(|x| {
            x.strip_prefix("usr/lib/python3.")
                .is_some_and(|r| !r.contains('/'))
        })
        .collect();
    match versions.as_slice() {
        [] => Ok(Vec::new()),
        [one] => {
            let prefix = format!("{one}/site-packages/");
            Ok(all
                .iter()
                .filter_map(|x| x.strip_prefix(prefix.as_str()))
                .filter(|r| !r.is_empty() && !r.contains('/'))
                .map(str::to_string)
                .collect())
        }
        many => Err(Trip {
            message: format!(
                "more than one Python version detected: {} found",
                many.len()
            ),
            paths: many.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

fn python_dir(p: &Package, names: [&str; 2], what: &str) -> Option<Trip> {
    let pkgs = match site_packages(p) {
        Ok(v) => v,
        Err(t) => return Some(t),
    };
    let found: Vec<String> = pkgs
        .into_iter()
        .filter(|b| names.contains(&b.as_str()))
        .collect();
    trip_paths(found, |_| {
        format!("{what} directory encountered in Python site-packages directory")
    })
}

fn python_docs(p: &Package) -> Option<Trip> {
    python_dir(p, ["doc", "docs"], "docs")
}

fn python_test(p: &Package) -> Option<Trip> {
    python_dir(p, ["test", "tests"], "tests")
}

fn python_multiple(p: &Package) -> Option<Trip> {
    let pkgs = match site_packages(p) {
        Ok(v) => v,
        Err(t) => return Some(t),
    };
    let mut names = BTreeSet::new();
    for base in &pkgs {
        if base.starts_with('_')
            || ["test", "tests", "doc", "docs"].contains(&base.as_str())
            || [".egg-info", ".dist-info", ".pth"].contains(&ext(base))
        {
            continue;
        }
        let stem = base.split('.').next().unwrap_or(base);
        if !stem.is_empty() {
            names.insert(format!("{stem:?}"));
        }
    }
    (names.len() > 1).then(|| {
        let list: Vec<String> = names.into_iter().collect();
        Trip {
            message: format!(
                "multiple Python packages detected: {} found ({})",
                list.len(),
                list.join(", ")
            ),
            paths: list,
        }
    })
}

fn pkgconf(p: &Package) -> Option<Trip> {
    if p.recipe.as_ref().is_some_and(|r| r.tests_pkgconf) {
        return None;
    }
    let found = p
        .non_dirs(|x| x.starts_with("usr/lib/pkgconfig/") || x.starts_with("usr/share/pkgconfig/"));
    trip_paths(found, |_| match p.recipe {
        None => format!(
            "{} contains pkgconfig files but missing .melange.yaml",
            p.name
        ),
        Some(_) => format!(
            "{} contains pkgconfig files but test/pkgconf is not configured",
            p.name
        ),
    })
}

/// melange's IsSharedObjectFileRegex: `\.so(\.[0-9]+)*$`.
fn is_shared_object(path: &str) -> bool {
    let mut rest = path;
    loop {
        if rest.ends_with(".so") {
            return true;
        }
        match rest.rsplit_once('.') {
            Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                rest = head
            }
            _ => return false,
        }
    }
}

fn lddcheck(p: &Package) -> Option<Trip> {
    if p.recipe.as_ref().is_some_and(|r| r.tests_ldd) {
        return None;
    }
    trip_paths(p.non_dirs(is_shared_object), |_| match p.recipe {
        None => format!(
            "{} contains shared objects but missing .melange.yaml",
            p.name
        ),
        Some(_) => format!(
            "{} contains shared objects but test/ldd-check is not configured",
            p.name
        ),
    })
}

fn usrmerge(p: &Package) -> Option<Trip> {
    const DIRS: [&str; 5] = ["sbin", "bin", "usr/sbin", "lib", "lib64"];
    let found: Vec<String> = p
        .all_paths()
        .into_iter()
        .filter(|x| {
            DIRS.iter()
                .any(|d| *x == *d || x.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
        })
        .map(str::to_string)
        .collect();
    trip_paths(found, |n| {
        format!(
            "{} contains {} in violation of usrmerge",
            p.name,
            files(n, "path", "paths")
        )
    })
}

fn staticarchive(p: &Package) -> Option<Trip> {
    if p.name.ends_with("-dev") || p.name.ends_with("-static") {
        return None;
    }
    trip_paths(p.non_dirs(|x| ext(x) == ".a"), |n| {
        format!(
            "{} contains {}. Static archives bloat packages and should typically be in -dev packages or removed",
            p.name,
            files(n, "static archive", "static archives")
        )
    })
}

fn la_files(p: &Package) -> Option<Trip> {
    trip_paths(p.non_dirs(|x| ext(x) == ".la"), |n| {
        format!(
            "{} contains {}. Remove them in the build pipeline; if this package legitimately needs to ship .la files, disable this linter via checks.disabled",
            p.name,
            files(
                n,
                "libtool archive (.la) file",
                "libtool archive (.la) files"
            )
        )
    })
}

// ---- ELF debug sections -----------------------------------------------------------------

/// Whether a file is a regular ELF file `strip` looks at (executable, or its extension starts
/// like `.a`, `.so`, `.dylib`, as melange's object-file pattern matches it) with debug sections.
fn unstripped(path: &str, mode: u32, data: &[u8]) -> bool {
    let e = ext(path);
    let object_like = e.starts_with(".a") || e.starts_with(".so") || e.starts_with(".dylib");
    if data.len() < 4 || (mode & 0o111 == 0 && !object_like) || !crate::elf::is_elf(data) {
        return false;
    }
    crate::elf::section_names(data).is_some_and(|names| {
        names.iter().any(|n| {
            n == ".debug" || n == ".zdebug" || n.starts_with(".debug_") || n.starts_with(".zdebug_")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: Kind, mode: u32, data: &[u8]) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind,
            mode,
            link: if kind == Kind::Symlink {
                "target".into()
            } else {
                String::new()
            },
            data: data.to_vec(),
        }
    }

    fn file(path: &str) -> FileEntry {
        entry(path, Kind::File, 0o644, b"x\n")
    }

    fn dir(path: &str) -> FileEntry {
        entry(path, Kind::Dir, 0o755, b"")
    }

    /// A minimal ELF64 little-endian file whose section table names `sections`.
    pub(crate) fn elf_with_sections(sections: &[&str]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut offsets = vec![0u32];
        for s in sections.iter().chain([&".shstrtab"]) {
            offsets.push(strtab.len() as u32);
            strtab.extend_from_slice(s.as_bytes());
            strtab.push(0);
        }
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // 64-bit
        b[5] = 1; // little endian
        b[6] = 1;
        b[16] = 2; // ET_EXEC
        b[18] = 62; // x86-64
        let str_off = b.len() as u64;
        b.extend_from_slice(&strtab);
        while !b.len().is_multiple_of(8) {
            b.push(0);
        }
        let shoff = b.len() as u64;
        let n = offsets.len() as u16;
        for (i, name) in offsets.iter().enumerate() {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            if i == offsets.len() - 1 {
                h[0x18..0x20].copy_from_slice(&str_off.to_le_bytes());
                h[0x20..0x28].copy_from_slice(&(strtab.len() as u64).to_le_bytes());
            }
            b.extend_from_slice(&h);
        }
        b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&n.to_le_bytes());
        b[0x3e..0x40].copy_from_slice(&(n - 1).to_le_bytes());
        b
    }

    fn pkg(name: &str, entries: &[FileEntry]) -> Package {
        let recipe = recipe_facts("package:\n  name: x\n", name);
        Package::from_entries(name, entries, Some(recipe))
    }

    /// The linters (by name) that trip on `p` when every linter runs.
    fn tripped(p: &Package) -> Vec<String> {
        let all = Policy {
            require: Vec::new(),
            warn: LINTERS.iter().map(|l| l.name.to_string()).collect(),
        };
        lint(p, "t.apk", &all).into_iter().map(|f| f.rule).collect()
    }

    /// For each linter: a package that trips it (and what else it trips) and one that does not
    /// trip it (and trips nothing else either).
    #[test]
    fn each_linter_has_a_package_that_trips_it_and_one_that_does_not() {
        let unstripped = elf_with_sections(&[".text", ".debug_info"]);
        let stripped = elf_with_sections(&[".text", ".data"]);
        let ok_usr = [
            dir("usr"),
            dir("usr/bin"),
            entry("usr/bin/x", Kind::File, 0o755, b"#!/bin/sh\n"),
        ];
        #[allow(clippy::type_complexity)]
        let cases: Vec<(&str, (&str, Vec<FileEntry>), (&str, Vec<FileEntry>))> = vec![
            (
                "dev",
                ("p", vec![dir("dev"), file("dev/null")]),
                ("p", vec![dir("dev")]),
            ),
            (
                "documentation",
                ("p", vec![file("usr/share/doc/p/README")]),
                ("p-doc", vec![file("usr/share/doc/p/README")]),
            ),
            (
                "opt",
                ("p", vec![file("opt/p/x")]),
                ("p-compat", vec![file("opt/p/x")]),
            ),
            (
                "object",
                ("p", vec![file("usr/lib/p/x.o")]),
                ("p", vec![file("usr/lib/p/x.c")]),
            ),
            (
                "maninfo",
                ("p", vec![file("usr/share/man/man1/p.1.gz")]),
                ("p-doc", vec![file("usr/share/man/man1/p.1.gz")]),
            ),
            (
                "sbom",
                ("p", vec![file("var/lib/db/sbom/p.txt")]),
                ("p", vec![file("var/lib/db/sbom/p.spdx.json")]),
            ),
            (
                "setuidgid",
                ("p", vec![entry("usr/bin/su", Kind::File, 0o4755, b"x")]),
                ("p", vec![entry("usr/bin/su", Kind::File, 0o755, b"x")]),
            ),
            (
                "srv",
                ("p", vec![file("srv/www/index.html")]),
                ("p-compat", vec![file("srv/www/index.html")]),
            ),
            (
                "tempdir",
                ("p", vec![file("tmp/x")]),
                ("p", vec![dir("run/p"), file("usr/lib/tmpfiles.d/p.conf")]),
            ),
            (
                "usrlocal",
                ("p", vec![file("usr/local/bin/x")]),
                ("p-compat", vec![file("usr/local/bin/x")]),
            ),
            (
                "varempty",
                ("p", vec![file("var/empty/x")]),
                ("p", vec![dir("var/empty")]),
            ),
            (
                "worldwrite",
                ("p", vec![entry("usr/share/p/x", Kind::File, 0o666, b"x")]),
                ("p", vec![entry("var/tmpdir", Kind::Dir, 0o777, b"")]),
            ),
            (
                "strip",
                (
                    "p",
                    vec![entry("usr/bin/x", Kind::File, 0o755, &unstripped)],
                ),
                (
                    "p",
                    vec![
                        entry("usr/bin/x", Kind::File, 0o755, &stripped),
                        // split/debug's file keeps the debug sections
                        entry(
                            "usr/lib/debug/usr/bin/x.debug",
                            Kind::File,
                            0o755,
                            &unstripped,
                        ),
                    ],
                ),
            ),
            (
                "infodir",
                ("p", vec![file("usr/share/info/dir/x")]),
                ("p-doc", vec![file("usr/share/info/p.info")]),
            ),
            ("empty", ("p", vec![dir("usr")]), ("p", ok_usr.to_vec())),
            (
                "python/docs",
                (
                    "p",
                    vec![file("usr/lib/python3.12/site-packages/docs/x.txt")],
                ),
                (
                    "p",
                    vec![file("usr/lib/python3.12/site-packages/p/__init__.py")],
                ),
            ),
            (
                "python/multiple",
                (
                    "p",
                    vec![
                        file("usr/lib/python3.12/site-packages/a/__init__.py"),
                        file("usr/lib/python3.12/site-packages/b.py"),
                    ],
                ),
                (
                    "p",
                    vec![
                        file("usr/lib/python3.12/site-packages/a/__init__.py"),
                        file(
                            "usr/lib/python3.12/site-packages/a.cpython-312-x86_64-linux-gnu.so.txt",
                        ),
                        file("usr/lib/python3.12/site-packages/a-1.0.dist-info/METADATA"),
                        file("usr/lib/python3.12/site-packages/_a.pth"),
                    ],
                ),
            ),
            (
                "python/test",
                (
                    "p",
                    vec![file("usr/lib/python3.12/site-packages/tests/t.py")],
                ),
                (
                    "p",
                    vec![file("usr/lib/python3.12/site-packages/p/tests/t.py")],
                ),
            ),
            (
                "pkgconf",
                ("p-dev", vec![file("usr/lib/pkgconfig/p.pc")]),
                ("p-dev", vec![file("usr/include/p.h")]),
            ),
            (
                "lddcheck",
                ("p", vec![file("usr/lib/libp.so.1.2")]),
                ("p", vec![file("usr/lib/libp.sonic")]),
            ),
            (
                "usrmerge",
                ("p", vec![file("bin/sh")]),
                ("p", vec![file("usr/bin/sh"), file("usr/libexec/x")]),
            ),
            (
                "staticarchive",
                ("p", vec![file("usr/lib/libp.a")]),
                ("p-static", vec![file("usr/lib/libp.a")]),
            ),
            (
                "libtool/la-files",
                ("p", vec![file("usr/lib/libp.la")]),
                ("p", vec![file("usr/lib/libp.lab")]),
            ),
        ];
        let covered: BTreeSet<&str> = cases.iter().map(|c| c.0).collect();
        let all: BTreeSet<&str> = LINTERS.iter().map(|l| l.name).collect();
        assert_eq!(covered, all, "every linter has a case");
        for (name, (tn, trips), (on, ok)) in cases {
            let t = tripped(&pkg(tn, &trips));
            assert!(
                t.iter().any(|r| r == name),
                "{name} should trip on {trips:?}: {t:?}"
            );
            let o = tripped(&pkg(on, &ok));
            assert!(
                !o.iter().any(|r| r == name),
                "{name} should not trip on {ok:?}: {o:?}"
            );
        }
    }

    #[test]
    fn melange_patterns() {
        for p in [
            "a/README",
            "a/READ.ME",
            "TODO",
            "x.md",
            "x.docx",
            "man.1p",
            "CREDITS",
        ] {
            assert!(is_documentation(p), "{p}");
        }
        for p in ["a/README.txt", "x.d", "x.1", "x.12"] {
            assert!(!is_documentation(p), "{p}");
        }
        for p in [
            "usr/share/man",
            "usr/share/man/man1",
            "usr/share/man/man8/x.8.gz",
            "usr/local/share/man/man3p/x.3p.xz",
            "usr/man/man1/ls.1",
        ] {
            assert!(is_man(p), "{p}");
        }
        for p in [
            "usr/share/man/man1/x",
            "usr/share/manual/x.1",
            "usr/share/man/man1/a/b.1",
        ] {
            assert!(!is_man(p), "{p}");
        }
        for p in [
            "usr/share/info/dir",
            "usr/share/info/x.info",
            "usr/share/info/x.info-2.gz",
            "usr/local/share/info/x.info.xz",
        ] {
            assert!(is_info(p), "{p}");
        }
        for p in [
            "usr/share/info/.info",
            "usr/share/info/x.infos",
            "usr/share/info/a/x.info",
        ] {
            assert!(!is_info(p), "{p}");
        }
        for p in [
            "usr/lib/libz.so",
            "usr/lib/libz.so.1",
            "usr/lib/libz.so.1.3.1",
        ] {
            assert!(is_shared_object(p), "{p}");
        }
        for p in ["usr/lib/libz.so.1a", "usr/lib/libz.sox", "usr/lib/libz.a"] {
            assert!(!is_shared_object(p), "{p}");
        }
    }

    #[test]
    fn usrmerge_lists_symlinks_and_directories_and_tempdir_honours_tmpfiles() {
        let p = pkg(
            "p",
            &[entry("bin", Kind::Symlink, 0o777, b""), file("usr/bin/x")],
        );
        assert_eq!(tripped(&p), vec!["usrmerge".to_string()]);
        let run = pkg("p", &[dir("run"), dir("run/p")]);
        assert!(tripped(&run).contains(&"tempdir".to_string()));
        let var_run = pkg("p", &[dir("var/run/p"), file("usr/lib/tmpfiles.d/p.conf")]);
        assert!(tripped(&var_run).contains(&"tempdir".to_string()));
    }

    #[test]
    fn python_versions_and_recipe_tests() {
        let two = pkg(
            "p",
            &[
                file("usr/lib/python3.11/x.py"),
                file("usr/lib/python3.12/x.py"),
            ],
        );
        let f = lint(&two, "t.apk", &Policy::default());
        assert!(
            f.iter()
                .any(|f| f.rule == "python/docs"
                    && f.message.contains("more than one Python version"))
        );
        let yaml = "package:\n  name: p\ntest:\n  pipeline:\n    - uses: test/pkgconf\nsubpackages:\n  - name: ${{package.name}}-dev\n    checks:\n      disabled: [setuidgid]\n    test:\n      pipeline:\n        - uses: test/tw/ldd-check\n";
        let facts = recipe_facts(yaml, "p");
        assert!(facts.tests_pkgconf && !facts.tests_ldd);
        let dev = recipe_facts(yaml, "p-dev");
        assert!(dev.tests_ldd && !dev.tests_pkgconf);
        assert_eq!(dev.disabled, vec!["setuidgid".to_string()]);
        let p = Package::from_entries("p", &[file("usr/lib/pkgconfig/p.pc")], Some(facts));
        assert!(!tripped(&p).contains(&"pkgconf".to_string()));
        let none = Package::from_entries("p", &[file("usr/lib/pkgconfig/p.pc")], None);
        let f = lint(&none, "t.apk", &Policy::default());
        assert!(f[0].message.contains("missing .melange.yaml"), "{f:?}");
    }

    #[test]
    fn policy_defaults_names_and_disabled() {
        let d = Policy::default();
        assert_eq!(
            d.require,
            [
                "dev",
                "infodir",
                "libtool/la-files",
                "setuidgid",
                "tempdir",
                "usrmerge",
                "varempty",
                "worldwrite"
            ]
        );
        assert!(d.warn.contains(&"strip".to_string()) && !d.warn.contains(&"empty".to_string()));
        let e = Policy::new(Some(vec!["dve".into()]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"dve\"") && e.contains("usrmerge"), "{e}");
        let e = Policy::new(Some(vec!["dll".into()]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not have"), "{e}");
        let p = Policy::new(
            Some(vec!["dev".into()]),
            Some(vec!["dev".into(), "dll".into(), "opt".into()]),
        )
        .unwrap();
        assert_eq!(
            (p.require.clone(), p.warn.clone()),
            (vec!["dev".to_string()], vec!["opt".to_string()])
        );
        let q = d.with_disabled(&["setuidgid".into()]);
        assert!(
            !q.require.contains(&"setuidgid".to_string())
                && q.warn.contains(&"setuidgid".to_string())
        );
        // a required finding fails, a warning does not
        let su = pkg("p", &[entry("usr/bin/su", Kind::File, 0o4755, b"x")]);
        assert!(failed(&lint(&su, "t.apk", &d)));
        assert!(!failed(&lint(&su, "t.apk", &q)));
        assert_eq!(lint(&su, "t.apk", &q)[0].severity, WARN);
    }

    #[test]
    fn section_names_reads_a_crafted_file_and_refuses_a_truncated_one() {
        let b = elf_with_sections(&[".text", ".debug_line"]);
        assert_eq!(
            crate::elf::section_names(&b).unwrap(),
            ["", ".text", ".debug_line", ".shstrtab"]
        );
        assert!(crate::elf::section_names(&b[..b.len() - 40]).is_none());
        assert!(
            !unstripped("usr/share/x", 0o644, &b),
            "not executable, not a library"
        );
        assert!(unstripped("usr/lib/libx.so", 0o644, &b));
    }

    #[test]
    fn reads_a_built_apk() {
        let key = crate::SigningKey::generate(whittle_apk::sign::MIN_GENERATE_BITS).unwrap();
        let meta = crate::apk::PackageMeta {
            name: "p".into(),
            version: "1.0-r0".into(),
            arch: "x86_64".into(),
            ..Default::default()
        };
        let opts = crate::apk::ApkOptions {
            control_extra: vec![(
                ".melange.yaml".into(),
                b"package:\n  name: p\ntest:\n  pipeline:\n    - uses: test/ldd-check\n".to_vec(),
            )],
            ..Default::default()
        };
        let entries = [
            dir("usr"),
            dir("usr/lib"),
            file("usr/lib/libp.so.1"),
            entry("usr/bin/su", Kind::File, 0o4755, b"x"),
            file("opt/p/a"),
            file("opt/p/b"),
        ];
        let apk = crate::apk::write_apk(&meta, &entries, &key, &opts).unwrap();
        let p = Package::from_apk("p.apk", &apk.bytes).unwrap();
        assert_eq!(p.name, "p");
        assert!(p.recipe.as_ref().unwrap().tests_ldd);
        let f = lint(&p, "p.apk", &Policy::default());
        let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["setuidgid", "opt"]);
        assert_eq!(f[0].evidence.as_deref(), Some("usr/bin/su (4755 setuid)"));
        insta::assert_snapshot!(text(&[
            ("p.apk".into(), p.name.clone(), f),
            ("q.apk".into(), "q".into(), Vec::new()),
        ]));
    }
}
