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
//!   packages could meet is *waived*: the user has said the image does without them (the way to
//!   drop `dpkg (>= 1.15.4) | install-info`, which only serves a maintainer script that never
//!   runs). Waived dependencies are listed in [`Resolution::waived`]. A *request* for an excluded
//!   package still fails.

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

/// The packages to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Chosen packages sorted by name.
    pub packages: Vec<Chosen>,
    /// Dependencies left unmet because only excluded packages could meet them: (index of the
    /// depending package, the relation as written).
    pub waived: Vec<(usize, String)>,
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
    };
    let solution = solver::solve(&problem, &roots, options)?;
    let mut packages = Vec::with_capacity(solution.packages.len());
    for (id, why) in solution.packages {
        let Some(&index) = universe.ids.get(id) else {
            continue;
        };
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
    packages.sort_by(|a, b| {
        let (pa, pb) = (&all[a.index], &all[b.index]);
        pa.name
            .cmp(&pb.name)
            .then_with(|| pa.version.cmp(&pb.version))
    });
    let mut waived = Vec::new();
    for c in &packages {
        if let Some(id) = universe.ids.iter().position(|&i| i == c.index) {
            for rel in problem.waived_deps(id) {
                waived.push((c.index, rel));
            }
        }
    }
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

/// A universe with a request's policy (exclusions) applied.
struct Problem<'u, 'a> {
    u: &'u DebUniverse<'a>,
    exclude: &'u BTreeSet<String>,
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

    /// Whether a dependency is waived: no allowed package can meet it, but an excluded one could.
    fn waived(&self, alts: &[Relation]) -> bool {
        !self.exclude.is_empty()
            && alts.iter().any(|r| {
                self.matching(r).iter().any(|&id| {
                    self.u
                        .pkg(id)
                        .is_some_and(|p| self.exclude.contains(&p.name))
                })
            })
            && self.clause_candidates(alts).is_empty()
    }

    /// The dependencies of `pkg` waived because of exclusions, as written.
    fn waived_deps(&self, pkg: usize) -> Vec<String> {
        self.arch_deps(pkg)
            .into_iter()
            .filter(|alts| self.waived(alts))
            .map(|alts| join_alts(&alts))
            .collect()
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
            .filter(|alts| !self.waived(alts))
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
        let preferred = alternatives.iter().filter(|r| !avoided(&r.name));
        let last = alternatives.iter().filter(|r| avoided(&r.name));
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
