//! Debian semantics over the generic solver: which packages of a `Packages` index an image
//! needs for a request.
//!
//! # Policy (what gets installed)
//!
//! Only what the requested packages need, transitively: nothing is added because it is
//! `Essential: yes` or `Priority: required` (no maintainer scripts run, so nothing needs the
//! essential set unless a package says so), and `Recommends`/`Suggests` are ignored.
//!
//! - `Depends` and `Pre-Depends` are both plain requirements (nothing is unpacked in stages).
//! - Versioned relations compare by Debian policy §5.6.12. A `Provides` satisfies a versioned
//!   relation only when it carries a version (`foo (= 1.2)`), per policy §7.5.
//! - Alternatives `a | b`: an alternative already installed (or provided by an installed
//!   package) wins — the solver decides forced requirements before alternatives, so one that
//!   is pulled in anyway is found. Otherwise alternatives are tried in written order, except
//!   that the names in [`AVOIDED`] (package managers, debconf, shells, perl) are tried last:
//!   they are attack surface an image should not carry. `install-info` is *not* avoided: it is
//!   one small C program with only `libc6` as dependency, where its usual rival `dpkg` pulls in
//!   `tar` and eight libraries.
//! - A name: the real package of that name first (highest version first), then the packages
//!   providing it, by name (avoided names last), then highest provided version.
//! - Architecture: only packages of the target architecture or `all` are considered. `:any`
//!   is met only by `Multi-Arch: allowed` packages (the multiarch spec, as apt reads it);
//!   `:native` and no qualifier are plain; `:<arch>` only when it is the target. Relations
//!   whose `[arch]` restriction excludes the target are dropped (wildcards: `any`,
//!   `linux-any`, `any-<arch>`).
//! - `Conflicts` and `Breaks` are both hard conflicts (with versions, also against provided
//!   names; a package never conflicts with itself).
//! - Several packages of one name and version (several repositories): the first given wins.
//!   At most one version of a name is installed.
//! - Names in [`DebRequest::exclude`] are never installed. A dependency that only excluded
//!   packages could meet is *waived*: the user has said the image does without them. A
//!   *request* for an excluded package still fails.
//! - With [`DebRequest::waive_script_only`], a dependency whose every alternative names a
//!   package of [`SCRIPT_ONLY`] (for that depender) is waived too: what it provides is used
//!   only by maintainer scripts, which whittle never runs (`python3-minimal`'s `dpkg`,
//!   `tzdata`'s `debconf | debconf-2.0`, `readline-common`'s `dpkg | install-info`). Such a
//!   package is still installed when it is requested, or when another package needs it for
//!   real (an entry's `used_by`, or a dependency that is not waived); the dependency is then
//!   met as usual. Among the alternatives of a dependency that is not waived, those names are
//!   tried last.
//! - Waived dependencies are listed, with the reason, in [`Resolution::waived`].

use std::collections::BTreeSet;

use whittle_deb::packages::MultiArch;
use whittle_deb::relation::valid_package_name;
use whittle_deb::{Op, Package, Relation, Version};

use crate::error::{Rejection, ResolveError};
use crate::solver::{self, Reason, SolveOptions, Universe};

/// Names tried last among alternatives and providers: package managers and their helpers,
/// debconf, shells and perl. They are still installed when nothing else can serve.
pub const AVOIDED: &[&str] = &[
    "apt",
    "apt-utils",
    "aptitude",
    "dpkg",
    "dselect",
    "debconf",
    "debconf-2.0",
    "cdebconf",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "mksh",
    "posh",
    "yash",
    "perl-base",
    "perl",
];

/// The first 16 bytes of `s`, big-endian, zero-padded: orders like `s` on its prefix.
fn prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    for (d, s) in b.iter_mut().zip(s.bytes()) {
        *d = s;
    }
    u128::from_be_bytes(b)
}

fn avoided(name: &str) -> bool {
    AVOIDED.contains(&name)
}

/// A package that other packages depend on only for their maintainer scripts (see
/// [`SCRIPT_ONLY`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptOnly {
    /// The name depended on (a package or a virtual name).
    pub name: &'static str,
    /// The dependers whose dependency on `name` is waived; empty: every package.
    pub only_for: &'static [&'static str],
    /// Packages that use `name` at runtime: their dependency on it is kept.
    pub used_by: &'static [&'static str],
    /// What maintainer scripts use it for, for the build log.
    pub why: &'static str,
}

/// The packages that run debconf's tools themselves: their dependency on `debconf` (or
/// `debconf-2.0`) is kept.
const DEBCONF_USERS: &[&str] = &[
    "cdebconf",
    "debconf-i18n",
    "debconf-utils",
    "python3-debconf",
];
/// Why `debconf`, `debconf-2.0` and `cdebconf` serve only maintainer scripts (one text, so
/// that [`WaiveReason`]'s message names them together).
const DEBCONF_WHY: &str = "asks the questions of config and postinst scripts (the image keeps \
                           each package's defaults)";

/// Dependencies that serve only maintainer scripts, waived when
/// [`DebRequest::waive_script_only`] is set. Each entry was decided from the packages' control
/// files, scripts and data (the evidence is in this crate's README): a dependency belongs here
/// when nothing but maintainer scripts (or triggers) uses what it provides. `perl-base` is not
/// here: every package of Debian 12 and 13 that declares it ships Perl code of its own.
pub const SCRIPT_ONLY: &[ScriptOnly] = &[
    ScriptOnly {
        name: "dpkg",
        only_for: &[],
        used_by: &[
            "apt-build",
            "apticron",
            "debhelper",
            "dlocate",
            "dpkg-repack",
            "libdpkg-perl",
            "lintian",
            "needrestart",
            "popularity-contest",
            "wajig",
        ],
        why: "the package manager, called by maintainer scripts (dpkg-maintscript-helper, \
              dpkg-trigger, update-alternatives, py3compile's dpkg -L)",
    },
    ScriptOnly {
        name: "debconf",
        only_for: &[],
        used_by: DEBCONF_USERS,
        why: DEBCONF_WHY,
    },
    ScriptOnly {
        name: "debconf-2.0",
        only_for: &[],
        used_by: DEBCONF_USERS,
        why: DEBCONF_WHY,
    },
    ScriptOnly {
        name: "cdebconf",
        only_for: &[],
        used_by: &[],
        why: DEBCONF_WHY,
    },
    ScriptOnly {
        name: "install-info",
        only_for: &[],
        used_by: &[],
        why: "its trigger registers info pages in /usr/share/info/dir; whittle leaves info \
              pages out",
    },
    ScriptOnly {
        name: "awk",
        only_for: &["base-files"],
        used_by: &[],
        why: "base-files pre-depends on awk only to keep it in Debian's essential set, for \
              maintainer scripts; no file of base-files runs it",
    },
    ScriptOnly {
        name: "debianutils",
        only_for: &["bash", "dash"],
        used_by: &[],
        why: "its update-shells trigger and add-shell keep /etc/shells; the shell itself runs \
              nothing of debianutils",
    },
    ScriptOnly {
        name: "util-linux",
        only_for: &[
            "openjdk-17-jre-headless",
            "openjdk-21-jre-headless",
            "openjdk-25-jre-headless",
        ],
        used_by: &[],
        why: "the postinst checks with mountpoint that /proc is mounted; the JRE runs \
              nothing of util-linux",
    },
];

/// The packages of one or more `Packages` indexes, indexed for one target architecture.
///
/// Indexing is two sorts (no hashing): ids are ordered by name, then highest version, then
/// input order, so the packages of a name are one contiguous id range found by binary search.
#[derive(Debug)]
pub struct DebUniverse<'a> {
    packages: &'a [Package],
    arch: String,
    /// Solver id → index into `packages` (packages of the target architecture or `all`, minus
    /// repeats of a name and version), sorted by name, highest version first.
    ids: Vec<usize>,
    /// Solver id → package name.
    names: Vec<&'a str>,
    /// Solver id → slot (the first id of the same name).
    slots: Vec<usize>,
    /// Provides entries, sorted by provided name, then provider name (avoided names last),
    /// then highest provided version.
    provides: Vec<Provide<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct Provide<'a> {
    name: &'a str,
    id: usize,
    version: Option<&'a Version>,
}

impl<'a> DebUniverse<'a> {
    /// Indexes `packages` for architecture `arch` (e.g. `amd64`): only packages whose
    /// `Architecture` is `arch` or `all` are considered. When several packages have the same
    /// name and version, the first one given wins.
    pub fn new(packages: &'a [Package], arch: &str) -> DebUniverse<'a> {
        // Sort compact keys (a 16-byte name prefix decides most comparisons without touching
        // the packages, which matters for 60,000+ packages). Equal names and versions keep
        // input order, so the first given is kept by the dedup.
        let mut keys: Vec<(u128, &'a str, usize)> = packages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.architecture == arch || p.architecture == "all")
            .map(|(i, p)| (prefix(&p.name), p.name.as_str(), i))
            .collect();
        keys.sort_unstable_by(|a, b| {
            (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
                packages[b.2]
                    .version
                    .cmp(&packages[a.2].version)
                    .then(a.2.cmp(&b.2))
            })
        });
        keys.dedup_by(|b, a| a.1 == b.1 && packages[a.2].version == packages[b.2].version);
        let names: Vec<&'a str> = keys.iter().map(|k| k.1).collect();
        let ids: Vec<usize> = keys.iter().map(|k| k.2).collect();
        let mut slots = Vec::with_capacity(ids.len());
        for (id, name) in names.iter().enumerate() {
            let slot = match id.checked_sub(1) {
                Some(prev) if names[prev] == *name => slots[prev],
                _ => id,
            };
            slots.push(slot);
        }
        let mut provides = Vec::new();
        for (id, &i) in ids.iter().enumerate() {
            for rel in &packages[i].provides {
                if !restriction_allows(rel, arch) {
                    continue;
                }
                let version = match &rel.constraint {
                    Some((Op::Eq, v)) => Some(v),
                    _ => None,
                };
                provides.push(Provide {
                    name: rel.name.as_str(),
                    id,
                    version,
                });
            }
        }
        provides.sort_unstable_by(|a, b| {
            let (na, nb) = (names[a.id], names[b.id]);
            a.name
                .cmp(b.name)
                .then_with(|| avoided(na).cmp(&avoided(nb)))
                .then_with(|| na.cmp(nb))
                .then_with(|| b.version.cmp(&a.version))
                .then_with(|| {
                    packages[ids[b.id]]
                        .version
                        .cmp(&packages[ids[a.id]].version)
                })
                .then_with(|| a.id.cmp(&b.id))
        });
        provides.dedup_by(|b, a| a.name == b.name && a.id == b.id);
        DebUniverse {
            packages,
            arch: arch.to_string(),
            ids,
            names,
            slots,
            provides,
        }
    }

    /// The target architecture.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Number of packages considered (target architecture or `all`, repeats removed).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no package is considered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn pkg(&self, id: usize) -> Option<&'a Package> {
        self.ids.get(id).and_then(|&i| self.packages.get(i))
    }

    /// Ids of the real packages named `name`, highest version first.
    fn real(&self, name: &str) -> std::ops::Range<usize> {
        let start = self.names.partition_point(|&n| n < name);
        let end = start + self.names[start..].partition_point(|&n| n == name);
        start..end
    }

    /// Provides entries for `name`, in preference order.
    fn providers(&self, name: &str) -> &[Provide<'a>] {
        let start = self.provides.partition_point(|p| p.name < name);
        let len = self.provides[start..].partition_point(|p| p.name == name);
        &self.provides[start..start + len]
    }
}

/// What to install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebRequest {
    /// Requested packages: `name`, `name=version`, or `name<op>version` with `op` one of
    /// `>=`, `<=`, `>>`, `<<`. A name may be virtual (then a provider is chosen).
    pub packages: Vec<String>,
    /// Package names never to install.
    pub exclude: BTreeSet<String>,
    /// Waive dependencies that only serve maintainer scripts ([`SCRIPT_ONLY`]).
    pub waive_script_only: bool,
}

/// Why a package was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChosenReason {
    /// It serves a request.
    Requested {
        /// The request as given, e.g. `gawk`.
        request: String,
    },
    /// Another chosen package needs it.
    Required {
        /// The needing package, as an index into the slice given to [`DebUniverse::new`].
        by: usize,
        /// The relation (with its alternatives) it serves, e.g. `libc6 (>= 2.34)`.
        relation: String,
    },
}

/// One chosen package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// Index into the slice given to [`DebUniverse::new`].
    pub index: usize,
    /// Why it is installed.
    pub reason: ChosenReason,
}

/// Why a dependency was left unmet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaiveReason {
    /// Only excluded packages could meet it.
    Excluded,
    /// Its alternatives serve only maintainer scripts: the [`SCRIPT_ONLY`] entries that apply
    /// (an alternative that is also excluded is listed here).
    ScriptOnly(Vec<&'static ScriptOnly>),
}

impl std::fmt::Display for WaiveReason {
    /// `which only excluded packages provide`, or `which only maintainer scripts use (whittle
    /// runs none): dpkg: the package manager, ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaiveReason::Excluded => f.write_str("which only excluded packages provide"),
            WaiveReason::ScriptOnly(entries) => {
                f.write_str("which only maintainer scripts use (whittle runs none): ")?;
                // entries that share their reason are named together: `debconf, debconf-2.0: …`
                for (i, e) in entries.iter().enumerate() {
                    let next_same = entries.get(i + 1).is_some_and(|n| n.why == e.why);
                    f.write_str(e.name)?;
                    if next_same {
                        f.write_str(", ")?;
                    } else {
                        write!(f, ": {}", e.why)?;
                        if i + 1 < entries.len() {
                            f.write_str("; ")?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// A dependency left unmet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waived {
    /// The depending package, as an index into the slice given to [`DebUniverse::new`].
    pub by: usize,
    /// The dependency as written (alternatives for the target architecture), e.g.
    /// `dpkg (>= 1.13.20)`.
    pub relation: String,
    /// Why it is waived.
    pub reason: WaiveReason,
}

/// The packages to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Chosen packages sorted by name.
    pub packages: Vec<Chosen>,
    /// Dependencies of chosen packages left unmet, in the order of `packages`.
    pub waived: Vec<Waived>,
}

impl Resolution {
    /// The chosen indices (into the slice given to [`DebUniverse::new`]), sorted by name.
    pub fn indices(&self) -> Vec<usize> {
        self.packages.iter().map(|c| c.index).collect()
    }
}

/// Resolves `request` over `universe` with the default step limit.
pub fn resolve(
    universe: &DebUniverse<'_>,
    request: &DebRequest,
) -> Result<Resolution, ResolveError> {
    resolve_with(universe, request, SolveOptions::default())
}

/// Resolves `request` over `universe` with explicit solver options.
pub fn resolve_with(
    universe: &DebUniverse<'_>,
    request: &DebRequest,
    options: SolveOptions,
) -> Result<Resolution, ResolveError> {
    let roots = request
        .packages
        .iter()
        .map(|r| parse_request(r).map(|rel| vec![rel]))
        .collect::<Result<Vec<_>, _>>()?;
    let problem = Problem {
        u: universe,
        exclude: &request.exclude,
        waive_script_only: request.waive_script_only,
        requested: roots.iter().flatten().map(|r| r.name.clone()).collect(),
    };
    let solution = solver::solve(&problem, &roots, options)?;
    let ids: BTreeSet<usize> = solution.packages.iter().map(|(id, _)| *id).collect();
    let mut packages = Vec::with_capacity(solution.packages.len());
    let mut waived = Vec::new();
    for (id, why) in solution.packages {
        let Some(&index) = universe.ids.get(id) else {
            continue;
        };
        // a waived dependency that a chosen package meets anyway is met, not waived
        for (alts, reason) in problem.waived_deps(id) {
            let met = alts
                .iter()
                .any(|r| problem.candidates(r).iter().any(|c| ids.contains(c)));
            if !met {
                waived.push(Waived {
                    by: index,
                    relation: join_alts(&alts),
                    reason,
                });
            }
        }
        let reason = match why {
            Reason::Requested { request: i } => ChosenReason::Requested {
                request: request.packages.get(i).cloned().unwrap_or_default(),
            },
            Reason::Required { by, clause } => ChosenReason::Required {
                by: universe.ids.get(by).copied().unwrap_or(usize::MAX),
                relation: problem
                    .clauses(by)
                    .get(clause)
                    .map(|alts| join_alts(alts))
                    .unwrap_or_default(),
            },
        };
        packages.push(Chosen { index, reason });
    }
    let all = universe.packages;
    let order = |a: usize, b: usize| {
        let (pa, pb) = (&all[a], &all[b]);
        pa.name
            .cmp(&pb.name)
            .then_with(|| pa.version.cmp(&pb.version))
    };
    packages.sort_by(|a, b| order(a.index, b.index));
    // in the order of `packages`; a package's own waivers keep their order (stable sort)
    waived.sort_by(|a, b| order(a.by, b.by));
    Ok(Resolution { packages, waived })
}

/// Parses `name`, `name=version`, `name>=version`, `name<=version`, `name>>version`,
/// `name<<version` into a relation.
pub fn parse_request(text: &str) -> Result<Relation, ResolveError> {
    let bad = |reason: &str| ResolveError::InvalidRequest {
        request: text.to_string(),
        reason: reason.to_string(),
    };
    let t = text.trim();
    let (name, constraint) = match t.find(['<', '>', '=']) {
        None => (t, None),
        Some(pos) => {
            let (name, rest) = t.split_at(pos);
            let (op, ver) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                (">>", Op::Gt),
                ("<<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (*op, v.trim())))
            .ok_or_else(|| bad("unknown operator"))?;
            let version: Version = ver
                .parse()
                .map_err(|e: whittle_deb::Error| bad(&format!("bad version: {e}")))?;
            (name.trim(), Some((op, version)))
        }
    };
    if !valid_package_name(name) {
        return Err(bad("not a valid Debian package name"));
    }
    let mut rel = Relation::new(name);
    rel.constraint = constraint;
    Ok(rel)
}

fn join_alts(alts: &[Relation]) -> String {
    alts.iter()
        .map(Relation::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Whether an architecture wildcard or name `pattern` matches `arch` (Linux architectures).
fn arch_matches(pattern: &str, arch: &str) -> bool {
    pattern == arch
        || pattern == "any"
        || pattern == "linux-any"
        || pattern.strip_prefix("any-") == Some(arch)
        || pattern.strip_prefix("linux-") == Some(arch)
}

/// Whether a relation's `[arch ...]` restriction keeps it for `arch`.
fn restriction_allows(rel: &Relation, arch: &str) -> bool {
    if rel.arch_restrictions.is_empty() {
        return true;
    }
    let negated = rel.arch_restrictions.iter().any(|a| a.starts_with('!'));
    if negated {
        !rel.arch_restrictions
            .iter()
            .filter_map(|a| a.strip_prefix('!'))
            .any(|a| arch_matches(a, arch))
    } else {
        rel.arch_restrictions.iter().any(|a| arch_matches(a, arch))
    }
}

/// A universe with a request's policy (exclusions, waivers) applied.
struct Problem<'u, 'a> {
    u: &'u DebUniverse<'a>,
    exclude: &'u BTreeSet<String>,
    waive_script_only: bool,
    /// Names the request asks for.
    requested: BTreeSet<String>,
}

/// What an architecture qualifier demands of a candidate.
enum Qual {
    Plain,
    MultiArchAllowed,
    Never,
}

impl Problem<'_, '_> {
    /// `Pre-Depends` and `Depends` of `pkg`, each reduced to the alternatives that apply to the
    /// target architecture (dependencies left with none are dropped).
    fn arch_deps(&self, pkg: usize) -> Vec<Vec<Relation>> {
        let Some(p) = self.u.pkg(pkg) else {
            return Vec::new();
        };
        p.pre_depends
            .iter()
            .chain(&p.depends)
            .map(|dep| self.for_arch(dep))
            .filter(|alts| !alts.is_empty())
            .collect()
    }

    /// The alternatives of a dependency that apply to the target architecture.
    fn for_arch(&self, dep: &[Relation]) -> Vec<Relation> {
        dep.iter()
            .filter(|r| restriction_allows(r, &self.u.arch))
            .cloned()
            .collect()
    }

    /// The [`SCRIPT_ONLY`] entry that waives `rel` as a dependency of `depender`, if any. None
    /// when `rel` or a package meeting it is requested: a requested package is met as usual.
    fn script_only(&self, depender: &str, rel: &Relation) -> Option<&'static ScriptOnly> {
        if !self.waive_script_only {
            return None;
        }
        let entry = SCRIPT_ONLY.iter().find(|e| e.name == rel.name)?;
        if (!entry.only_for.is_empty() && !entry.only_for.contains(&depender))
            || entry.used_by.contains(&depender)
            || self.requested.contains(&rel.name)
            || self.matching(rel).iter().any(|&id| {
                self.u
                    .pkg(id)
                    .is_some_and(|p| self.requested.contains(&p.name))
            })
        {
            return None;
        }
        Some(entry)
    }

    /// Why dependency `alts` of `pkg` is waived, if it is: no alternative can be met except by
    /// a package that serves only maintainer scripts or is excluded, and one of them is (a
    /// dependency nothing at all can meet is not waived: it fails).
    fn waived(&self, pkg: usize, alts: &[Relation]) -> Option<WaiveReason> {
        let scripts_possible = self.waive_script_only
            && alts
                .iter()
                .any(|r| SCRIPT_ONLY.iter().any(|e| e.name == r.name));
        if self.exclude.is_empty() && !scripts_possible {
            return None;
        }
        let depender = *self.u.names.get(pkg)?;
        let mut scripts: Vec<&'static ScriptOnly> = Vec::new();
        let mut excluded = false;
        for rel in alts {
            if let Some(entry) = self.script_only(depender, rel) {
                if !scripts.iter().any(|e| e.name == entry.name) {
                    scripts.push(entry);
                }
                continue;
            }
            if !self.candidates(rel).is_empty() {
                return None;
            }
            excluded |= self.matching(rel).iter().any(|&id| {
                self.u
                    .pkg(id)
                    .is_some_and(|p| self.exclude.contains(&p.name))
            });
        }
        if !scripts.is_empty() {
            Some(WaiveReason::ScriptOnly(scripts))
        } else if excluded {
            Some(WaiveReason::Excluded)
        } else {
            None
        }
    }

    /// The waived dependencies of `pkg` (alternatives for the target architecture) and why.
    fn waived_deps(&self, pkg: usize) -> Vec<(Vec<Relation>, WaiveReason)> {
        self.arch_deps(pkg)
            .into_iter()
            .filter_map(|alts| self.waived(pkg, &alts).map(|why| (alts, why)))
            .collect()
    }

    /// Whether alternatives named `name` are tried last: avoided names, and (when waivers are
    /// on) names that serve only maintainer scripts.
    fn tried_last(&self, name: &str) -> bool {
        avoided(name) || (self.waive_script_only && SCRIPT_ONLY.iter().any(|e| e.name == name))
    }

    fn qual(&self, rel: &Relation) -> Qual {
        match rel.arch_qualifier.as_deref() {
            None | Some("native") => Qual::Plain,
            Some("any") => Qual::MultiArchAllowed,
            Some(a) if a == self.u.arch => Qual::Plain,
            Some(_) => Qual::Never,
        }
    }

    fn qual_ok(q: &Qual, p: &Package) -> bool {
        match q {
            Qual::Plain => true,
            Qual::MultiArchAllowed => p.multi_arch == MultiArch::Allowed,
            Qual::Never => false,
        }
    }

    /// Real packages and providers matching `rel`, before policy.
    fn matching(&self, rel: &Relation) -> Vec<usize> {
        let mut out = Vec::new();
        for id in self.u.real(&rel.name) {
            if self
                .u
                .pkg(id)
                .is_some_and(|p| rel.matches_version(&p.version))
            {
                out.push(id);
            }
        }
        for &Provide { id, version, .. } in self.u.providers(&rel.name) {
            {
                let ok = match (&rel.constraint, version) {
                    (None, _) => true,
                    (Some((op, bound)), Some(v)) => op.matches(v, bound),
                    (Some(_), None) => false,
                };
                if ok && !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        out
    }

    fn display(&self, id: usize) -> String {
        self.u
            .pkg(id)
            .map_or_else(String::new, |p| format!("{} {}", p.name, p.version))
    }
}

impl Universe for Problem<'_, '_> {
    type Requirement = Relation;

    fn package_count(&self) -> usize {
        self.u.ids.len()
    }

    fn clauses(&self, pkg: usize) -> Vec<Vec<Relation>> {
        self.arch_deps(pkg)
            .into_iter()
            .filter(|alts| self.waived(pkg, alts).is_none())
            .collect()
    }

    fn candidates(&self, rel: &Relation) -> Vec<usize> {
        let q = self.qual(rel);
        let mut out = self.matching(rel);
        out.retain(|&id| {
            self.u
                .pkg(id)
                .is_some_and(|p| Self::qual_ok(&q, p) && !self.exclude.contains(&p.name))
        });
        out
    }

    fn clause_candidates(&self, alternatives: &[Relation]) -> Vec<usize> {
        let mut out = Vec::new();
        let preferred = alternatives.iter().filter(|r| !self.tried_last(&r.name));
        let last = alternatives.iter().filter(|r| self.tried_last(&r.name));
        for rel in preferred.chain(last) {
            for c in self.candidates(rel) {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    fn conflicts(&self, pkg: usize) -> Vec<usize> {
        let Some(p) = self.u.pkg(pkg) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for rel in p.conflicts.iter().chain(&p.breaks) {
            if !restriction_allows(rel, &self.u.arch) || matches!(self.qual(rel), Qual::Never) {
                continue;
            }
            out.extend(self.matching(rel));
        }
        out
    }

    fn slot(&self, pkg: usize) -> usize {
        self.u.slots.get(pkg).copied().unwrap_or(pkg)
    }

    fn package_name(&self, pkg: usize) -> String {
        self.display(pkg)
    }

    fn requirement_name(&self, req: &Relation) -> String {
        req.to_string()
    }

    fn explain(&self, rel: &Relation) -> Vec<Rejection> {
        let mut out = Vec::new();
        let q = self.qual(rel);
        if matches!(q, Qual::Never) {
            out.push(Rejection::Architecture {
                package: rel.name.clone(),
                detail: format!("only {} and all packages are considered", self.u.arch),
            });
            return out;
        }
        let matching = self.matching(rel);
        for &id in &matching {
            let Some(p) = self.u.pkg(id) else { continue };
            if self.exclude.contains(&p.name) {
                out.push(Rejection::Excluded {
                    package: self.display(id),
                });
            } else if !Self::qual_ok(&q, p) {
                out.push(Rejection::Architecture {
                    package: self.display(id),
                    detail: format!("{}:any needs a package with Multi-Arch: allowed", rel.name),
                });
            }
        }
        if matching.is_empty() {
            let real = self.u.real(&rel.name);
            let provided = self.u.providers(&rel.name);
            if real.is_empty() && provided.is_empty() {
                let elsewhere: BTreeSet<&str> = self
                    .u
                    .packages
                    .iter()
                    .filter(|p| p.name == rel.name)
                    .map(|p| p.architecture.as_str())
                    .collect();
                if elsewhere.is_empty() {
                    out.push(Rejection::NoSuchPackage {
                        name: rel.name.clone(),
                    });
                } else {
                    out.push(Rejection::Architecture {
                        package: rel.name.clone(),
                        detail: format!(
                            "only built for {}, not {}",
                            elsewhere.into_iter().collect::<Vec<_>>().join(", "),
                            self.u.arch
                        ),
                    });
                }
            } else {
                let mut available = Vec::new();
                for id in real {
                    if let Some(p) = self.u.pkg(id) {
                        available.push(p.version.to_string());
                    }
                }
                for &Provide { id, version, .. } in provided {
                    let by = self.u.pkg(id).map_or("", |p| p.name.as_str());
                    available.push(match version {
                        Some(v) => format!("{v} (provided by {by})"),
                        None => format!("an unversioned Provides of {by}"),
                    });
                }
                let required = rel
                    .constraint
                    .as_ref()
                    .map_or_else(String::new, |(op, v)| format!("({op} {v})"));
                out.push(Rejection::WrongVersion {
                    name: rel.name.clone(),
                    available,
                    required,
                });
            }
        }
        out
    }
}
