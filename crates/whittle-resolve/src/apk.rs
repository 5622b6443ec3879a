//! APK (Alpine, Wolfi) semantics over the generic solver: which packages of one or more
//! `APKINDEX` files an image needs for a world (`/etc/apk/world`-style request), the way
//! apk-tools chooses them.
//!
//! # Semantics
//!
//! - **Repositories and pinning.** A universe is built over the entries of several
//!   repositories ([`ApkRepository`]), each with an optional tag (`@edge`). An untagged atom
//!   (`curl`) may only pick packages from untagged repositories; `curl@edge` may also pick from
//!   repositories tagged `edge`, and *prefers* them (apk's `pinning_preferred`: the tagged
//!   package wins even over a higher version in an untagged repository). A package's
//!   dependencies may use the untagged repositories and the tags of the repositories the
//!   package itself is in (apk inherits the pinning of the parent; see *Differences*), and
//!   prefer untagged ones. A tag no repository carries is an error, as in apk.
//! - **Architecture.** Only entries whose `A:` is the target architecture or `noarch` count.
//!   The same name and version in several repositories is one package: the first repository
//!   given wins, and the package counts as available from all of them.
//! - **Requirements.** Each `D:` atom is one requirement, with its version constraint
//!   (`< <= = >= > ~ <~ >~`, and `><` for an identity checksum `Q1…`), compared by apk rules.
//!   A requirement is served by a package of that name whose version matches, or by a package
//!   that provides the name (`p:`): `so:libc.musl-x86_64.so.1=1`, `cmd:busybox=1.35.0-r17`,
//!   `pc:zlib=1.2.12`, plain names with or without a version. A provides *with* a version is
//!   matched against the constraint with that version; a provides *without* a version serves
//!   only unversioned requirements, and (apk-tools ≥ 2.12.10) is chosen automatically only
//!   when its package has a `k:` provider priority, when it is the only provider of the name,
//!   or when the providing package is itself requested by name in the world.
//! - **One package per name.** At most one version of a name is installed. A versioned
//!   provides claims its name too: two packages that provide (or are) the same name cannot be
//!   installed together, unless both provide it without a version (apk's `assign_name`).
//! - **Conflicts.** `!name` (in `D:` or in the world) forbids every package named `name` or
//!   providing it; with a version constraint (`!name<2`) only those whose (provided) version
//!   matches it. An unversioned provides is hit only by an unversioned conflict.
//! - **Candidate order** for a name, best first: packages from preferred repositories (see
//!   pinning); then the real package of that name, highest version first; then the providers,
//!   by `provider_priority` (higher first), then by package name, then highest provided
//!   version, then highest package version. A name already served by a selected package is
//!   not chosen again (the solver decides forced requirements first).
//! - **`install_if`** (`i:`). After solving, every package whose `i:` atoms are all served by
//!   the selection (a `!name` atom: no selected package matches it) is added, unless its name
//!   is already installed; of several versions the best by the order above wins, from an
//!   untagged repository or one tagged like a package that triggered it. Its dependencies are
//!   then solved, and this repeats until nothing new triggers (a fixpoint; candidates are
//!   tried in name order, so the result is deterministic). A triggered package that cannot be
//!   installed (its dependencies fail, or it conflicts) is skipped, as apk disqualifies it.
//! - **Failures** are explained as a chain from the world atom down to the requirement nothing
//!   could meet ([`ResolveError::Unsatisfiable`]).
//!
//! # Differences from apk-tools
//!
//! - Pinning is inherited from the repositories a package comes from, not from the package
//!   that pulled it in: a dependency of an untagged package pulled in by an `@edge` package may
//!   not come from `edge` here (apk would allow it, but still prefer the untagged one).
//! - Among providers apk compares the provided version before the provider priority; here the
//!   real package comes first, then the priority (the documented order above). They agree
//!   wherever providers are unversioned (e.g. `ifupdown-any`) or unique (`so:`, `cmd:` names).
//! - apk's solver is greedy and reports an error instead of backtracking; this solver
//!   backtracks, so it may find a selection where apk reports a conflict.

use std::collections::BTreeSet;
use std::fmt;

use whittle_apk::index::IndexEntry;
use whittle_apk::version::{Dependency, Op, Version, parse_dependency};

use crate::error::{Rejection, ResolveError};
use crate::solver::{self, Reason, SolveOptions, Universe};

/// Most distinct repository tags a universe can hold (apk-tools allows 16).
pub const MAX_TAGS: usize = 31;

/// The entries of one repository index, with its pin tag.
#[derive(Debug, Clone, Copy)]
pub struct ApkRepository<'a> {
    /// The index entries (e.g. [`whittle_apk::index::Index::entries`]).
    pub entries: &'a [IndexEntry],
    /// The pin tag without `@` (`Some("edge")` for `@edge https://…`), `None` if untagged.
    pub tag: Option<&'a str>,
}

impl<'a> ApkRepository<'a> {
    /// An untagged repository.
    pub fn new(entries: &'a [IndexEntry]) -> Self {
        ApkRepository { entries, tag: None }
    }

    /// A repository pinned to `tag` (without `@`).
    pub fn tagged(entries: &'a [IndexEntry], tag: &'a str) -> Self {
        ApkRepository {
            entries,
            tag: Some(tag),
        }
    }
}

/// Why an [`ApkUniverse`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApkUniverseError {
    /// More distinct tags than [`MAX_TAGS`].
    #[error(
        "{count} distinct repository tags given, at most {MAX_TAGS} are supported; \
         give fewer @tag repositories"
    )]
    TooManyTags {
        /// The number of distinct tags given.
        count: usize,
    },
    /// A tag is empty or has characters apk does not allow in tags.
    #[error(
        "repository {repo} has an invalid tag {tag:?}: use letters, digits and `+-._` \
         (e.g. @edge)"
    )]
    InvalidTag {
        /// Index of the repository in the slice given.
        repo: usize,
        /// The tag as given.
        tag: String,
    },
}

/// A package of a universe: repository number and entry index within that repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryRef {
    /// Index into the repositories given to [`ApkUniverse::new`].
    pub repo: usize,
    /// Index into that repository's entries.
    pub index: usize,
}

/// The packages of one or more APK repositories, indexed for one architecture.
///
/// Ids (used internally) are ordered by name, then highest version, then repository order,
/// so the packages of a name are one contiguous id range found by binary search.
#[derive(Debug)]
pub struct ApkUniverse<'a> {
    arch: String,
    repos: Vec<&'a [IndexEntry]>,
    /// Distinct tags; tag `i` is mask bit `i + 1` (bit 0 is "untagged").
    tags: Vec<String>,
    refs: Vec<EntryRef>,
    entries: Vec<&'a IndexEntry>,
    names: Vec<&'a str>,
    slots: Vec<usize>,
    /// Union of the masks of the repositories each package is in.
    masks: Vec<u32>,
    /// Provides entries sorted by provided name, then id.
    provides: Vec<Provide<'a>>,
    /// Ids with a non-empty `install_if`, in id (name) order.
    install_if: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Provide<'a> {
    name: &'a str,
    id: usize,
    version: Option<&'a Version>,
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'_'))
}

impl<'a> ApkUniverse<'a> {
    /// Indexes `repos` for architecture `arch` (e.g. `x86_64`): only entries whose arch is
    /// `arch` or `noarch` count. Repositories earlier in the slice win when several carry the
    /// same name and version.
    pub fn new(repos: &[ApkRepository<'a>], arch: &str) -> Result<Self, ApkUniverseError> {
        let mut tags: Vec<String> = Vec::new();
        let mut repo_masks = Vec::with_capacity(repos.len());
        for (r, repo) in repos.iter().enumerate() {
            let mask = match repo.tag {
                None => 1,
                Some(t) if !valid_tag(t) => {
                    return Err(ApkUniverseError::InvalidTag {
                        repo: r,
                        tag: t.to_string(),
                    });
                }
                Some(t) => {
                    let i = match tags.iter().position(|x| x == t) {
                        Some(i) => i,
                        None => {
                            tags.push(t.to_string());
                            tags.len() - 1
                        }
                    };
                    if i >= MAX_TAGS {
                        let count = repos
                            .iter()
                            .filter_map(|r| r.tag)
                            .collect::<BTreeSet<_>>()
                            .len();
                        return Err(ApkUniverseError::TooManyTags { count });
                    }
                    1u32 << (i + 1)
                }
            };
            repo_masks.push(mask);
        }
        Ok(Self::index(repos, &repo_masks, tags, arch))
    }

    fn index(
        repos: &[ApkRepository<'a>],
        repo_masks: &[u32],
        tags: Vec<String>,
        arch: &str,
    ) -> Self {
        let mut keys: Vec<(EntryRef, &'a IndexEntry)> = Vec::new();
        for (r, repo) in repos.iter().enumerate() {
            for (i, e) in repo.entries.iter().enumerate() {
                if e.arch == arch || e.arch == "noarch" {
                    keys.push((EntryRef { repo: r, index: i }, e));
                }
            }
        }
        keys.sort_by(|a, b| {
            a.1.name
                .cmp(&b.1.name)
                .then_with(|| b.1.version.cmp(&a.1.version))
                .then(a.0.cmp(&b.0))
        });
        let mut refs: Vec<EntryRef> = Vec::with_capacity(keys.len());
        let mut entries: Vec<&'a IndexEntry> = Vec::with_capacity(keys.len());
        let mut masks: Vec<u32> = Vec::with_capacity(keys.len());
        for (r, e) in keys {
            let m = repo_masks.get(r.repo).copied().unwrap_or(1);
            if let (Some(last), Some(lm)) = (entries.last(), masks.last_mut())
                && last.name == e.name
                && last.version == e.version
            {
                *lm |= m;
                continue;
            }
            refs.push(r);
            entries.push(e);
            masks.push(m);
        }
        let names: Vec<&'a str> = entries.iter().map(|e| e.name.as_str()).collect();
        let mut slots = Vec::with_capacity(names.len());
        for (id, name) in names.iter().enumerate() {
            let slot = match id.checked_sub(1) {
                Some(prev) if names.get(prev) == Some(name) => {
                    slots.get(prev).copied().unwrap_or(id)
                }
                _ => id,
            };
            slots.push(slot);
        }
        let mut provides = Vec::new();
        let mut install_if = Vec::new();
        for (id, e) in entries.iter().enumerate() {
            for p in &e.provides {
                if p.conflict {
                    continue;
                }
                provides.push(Provide {
                    name: p.name.as_str(),
                    id,
                    version: p.constraint.as_ref().map(|c| &c.version),
                });
            }
            if !e.install_if.is_empty() {
                install_if.push(id);
            }
        }
        provides.sort_by(|a, b| a.name.cmp(b.name).then(a.id.cmp(&b.id)));
        provides.dedup_by(|b, a| a.name == b.name && a.id == b.id);
        ApkUniverse {
            arch: arch.to_string(),
            repos: repos.iter().map(|r| r.entries).collect(),
            tags,
            refs,
            entries,
            names,
            slots,
            masks,
            provides,
            install_if,
        }
    }

    /// A universe over one untagged repository.
    pub fn single(entries: &'a [IndexEntry], arch: &str) -> Self {
        Self::index(&[ApkRepository::new(entries)], &[1], Vec::new(), arch)
    }

    /// The target architecture.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Number of packages considered (target architecture or `noarch`, repeats removed).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no package is considered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry a reference points to.
    pub fn entry(&self, r: EntryRef) -> Option<&'a IndexEntry> {
        self.repos.get(r.repo).and_then(|e| e.get(r.index))
    }

    /// The tags of the repositories `r`'s package is available from (`None` = untagged),
    /// when `r` is a package this universe considers.
    pub fn repository_tags(&self, r: EntryRef) -> Option<Vec<Option<&str>>> {
        let id = self.refs.iter().position(|&x| x == r)?;
        let mask = self.masks.get(id).copied()?;
        Some(self.mask_tags(mask))
    }

    fn mask_tags(&self, mask: u32) -> Vec<Option<&str>> {
        let mut out = Vec::new();
        if mask & 1 != 0 {
            out.push(None);
        }
        for (i, t) in self.tags.iter().enumerate() {
            if mask & (1 << (i + 1)) != 0 {
                out.push(Some(t.as_str()));
            }
        }
        out
    }

    fn tag_bit(&self, tag: &str) -> Option<u32> {
        self.tags
            .iter()
            .position(|t| t == tag)
            .map(|i| 1u32 << (i + 1))
    }

    fn mask(&self, id: usize) -> u32 {
        self.masks.get(id).copied().unwrap_or(0)
    }

    fn display(&self, id: usize) -> String {
        self.entries
            .get(id)
            .map_or_else(String::new, |e| format!("{} {}", e.name, e.version))
    }

    /// Ids of the real packages named `name`, highest version first.
    fn real(&self, name: &str) -> std::ops::Range<usize> {
        let start = self.names.partition_point(|&n| n < name);
        let len = self
            .names
            .get(start..)
            .map_or(0, |s| s.partition_point(|&n| n == name));
        start..start + len
    }

    /// Provides entries for `name`, by id.
    fn providers(&self, name: &str) -> &[Provide<'a>] {
        let start = self.provides.partition_point(|p| p.name < name);
        let rest = self.provides.get(start..).unwrap_or(&[]);
        let len = rest.partition_point(|p| p.name == name);
        rest.get(..len).unwrap_or(&[])
    }

    /// Does the package `id`, providing the dependency's name at `version` (`None`: an
    /// unversioned provides), serve `dep`'s version part (apk's `apk_dep_is_provided`,
    /// ignoring the conflict flag)?
    fn version_serves(&self, dep: &Dependency, id: usize, version: Option<&Version>) -> bool {
        match (&dep.constraint, version) {
            (None, _) => true,
            (Some(c), _) if c.op == Op::Checksum => self
                .entries
                .get(id)
                .and_then(|e| e.checksum)
                .is_some_and(|sum| c.matches_checksum(&sum.to_string())),
            (Some(_), None) => false,
            (Some(c), Some(v)) => c.matches(v),
        }
    }

    /// Packages carrying or providing `dep.name` in a matching version, before any policy:
    /// `(id, provided version; None for an unversioned provides, is the real package)`.
    fn matching(&self, dep: &Dependency) -> Vec<(usize, Option<&'a Version>, bool)> {
        let mut out = Vec::new();
        for id in self.real(&dep.name) {
            let Some(e) = self.entries.get(id) else {
                continue;
            };
            if self.version_serves(dep, id, Some(&e.version)) {
                out.push((id, Some(&e.version), true));
            }
        }
        for p in self.providers(&dep.name) {
            if self.version_serves(dep, p.id, p.version) {
                out.push((p.id, p.version, false));
            }
        }
        out
    }

    /// Whether any package in `selected` serves the (positive) atom `dep`.
    fn served_by(&self, dep: &Dependency, selected: &[bool]) -> Vec<usize> {
        self.matching(dep)
            .into_iter()
            .map(|(id, _, _)| id)
            .filter(|&id| selected.get(id).copied().unwrap_or(false))
            .collect()
    }
}

/// What to install: world atoms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApkRequest {
    /// World atoms as in `/etc/apk/world`: `busybox`, `curl>=8`, `python3~3.10`, `foo@edge`,
    /// `!bar` (bar must not be installed), `so:libz.so.1`, `cmd:sh`.
    pub packages: Vec<String>,
}

/// Why a package was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApkChosenReason {
    /// It serves a world atom.
    Requested {
        /// The atom as given, e.g. `curl>=7`.
        request: String,
    },
    /// Another chosen package depends on it.
    Required {
        /// The depending package.
        by: EntryRef,
        /// The dependency it serves, as written, e.g. `so:libc.musl-x86_64.so.1`.
        dependency: String,
    },
    /// Its `install_if` conditions are all met by the selection.
    InstallIf {
        /// The `i:` atoms, space-separated, e.g. `busybox=1.35.0-r17 libssl1.1`.
        condition: String,
    },
}

/// One chosen package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkChosen {
    /// The package.
    pub entry: EntryRef,
    /// Why it is installed.
    pub reason: ApkChosenReason,
}

/// The packages to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkResolution {
    /// Chosen packages, sorted by name.
    pub packages: Vec<ApkChosen>,
    /// Packages whose `install_if` triggered but which could not be installed (their
    /// dependencies failed or they conflict with the selection), sorted by name.
    pub install_if_skipped: Vec<EntryRef>,
}

impl ApkResolution {
    /// The chosen packages, sorted by name.
    pub fn entries(&self) -> Vec<EntryRef> {
        self.packages.iter().map(|c| c.entry).collect()
    }
}

/// Resolves `request` over `universe` with the default step limit.
pub fn resolve(
    universe: &ApkUniverse<'_>,
    request: &ApkRequest,
) -> Result<ApkResolution, ResolveError> {
    resolve_with(universe, request, SolveOptions::default())
}

/// Parses one world atom; the error names the atom.
fn parse_world_atom(text: &str) -> Result<Dependency, ResolveError> {
    parse_dependency(text.trim()).map_err(|e| ResolveError::InvalidRequest {
        request: text.to_string(),
        reason: e.to_string(),
    })
}

/// Resolves `request` over `universe` with explicit solver options (the limit applies to
/// each of the solver runs: one, plus one per round of `install_if` additions).
pub fn resolve_with(
    universe: &ApkUniverse<'_>,
    request: &ApkRequest,
    options: SolveOptions,
) -> Result<ApkResolution, ResolveError> {
    let atoms = request
        .packages
        .iter()
        .map(|t| parse_world_atom(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut positive: Vec<(usize, &Dependency, u32, u32)> = Vec::new();
    let mut world_conflicts: Vec<&Dependency> = Vec::new();
    for (i, dep) in atoms.iter().enumerate() {
        let (allowed, preferred) = match &dep.tag {
            None => (1, 1),
            Some(t) => {
                let bit = universe
                    .tag_bit(t)
                    .ok_or_else(|| ResolveError::InvalidRequest {
                        request: request.packages.get(i).cloned().unwrap_or_default(),
                        reason: format!(
                            "no repository is tagged @{t} (tags: {})",
                            if universe.tags.is_empty() {
                                "none".to_string()
                            } else {
                                universe
                                    .tags
                                    .iter()
                                    .map(|t| format!("@{t}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    })?;
                (1 | bit, bit)
            }
        };
        if dep.conflict {
            world_conflicts.push(dep);
        } else {
            positive.push((i, dep, allowed, preferred));
        }
    }
    let requested_names: BTreeSet<&str> = positive.iter().map(|p| p.1.name.as_str()).collect();
    let problem = Problem {
        u: universe,
        world: universe.len(),
        world_conflicts: &world_conflicts,
        requested_names,
    };
    // Root clauses: the world's conflicts (a pseudo package, selected first so that
    // explanations blame the packages it rules out), the positive atoms, then install_if
    // additions.
    let mut roots: Vec<Vec<Req<'_>>> = Vec::new();
    if !world_conflicts.is_empty() {
        roots.push(vec![Req::Exact { id: problem.world }]);
    }
    let offset = roots.len();
    roots.extend(positive.iter().map(|&(_, dep, allowed, preferred)| {
        vec![Req::Dep {
            dep,
            allowed,
            preferred,
        }]
    }));
    let mut solution = solver::solve(&problem, &roots, options)?;
    let mut skipped: BTreeSet<usize> = BTreeSet::new();
    loop {
        let triggered = problem.triggered(&solution, &skipped);
        if triggered.is_empty() {
            break;
        }
        // Some(solution) when the roots can be met, None when not; too complex is an error.
        let attempt = |with: &Vec<Vec<Req>>| match solver::solve(&problem, with, options) {
            Ok(s) => Ok(Some(s)),
            Err(ResolveError::TooComplex { limit }) => Err(ResolveError::TooComplex { limit }),
            Err(_) => Ok(None),
        };
        let mut all = roots.clone();
        all.extend(triggered.iter().map(|&id| vec![Req::Exact { id }]));
        match attempt(&all)? {
            Some(s) => {
                roots = all;
                solution = s;
            }
            None => {
                // One at a time, in name order: keep those that fit.
                for id in triggered {
                    let mut one = roots.clone();
                    one.push(vec![Req::Exact { id }]);
                    match attempt(&one)? {
                        Some(s) => {
                            roots = one;
                            solution = s;
                        }
                        None => {
                            skipped.insert(id);
                        }
                    }
                }
            }
        }
    }
    let mut packages = Vec::with_capacity(solution.packages.len());
    for (id, why) in solution.packages {
        let Some(&entry) = universe.refs.get(id) else {
            continue; // the world pseudo package
        };
        let reason = match why {
            Reason::Requested { request: i } if i < offset + positive.len() => {
                ApkChosenReason::Requested {
                    request: positive
                        .get(i.wrapping_sub(offset))
                        .and_then(|p| request.packages.get(p.0))
                        .cloned()
                        .unwrap_or_default(),
                }
            }
            Reason::Requested { .. } => ApkChosenReason::InstallIf {
                condition: universe
                    .entries
                    .get(id)
                    .map(|e| join_atoms(&e.install_if))
                    .unwrap_or_default(),
            },
            Reason::Required { by, clause } => ApkChosenReason::Required {
                by: universe.refs.get(by).copied().unwrap_or(EntryRef {
                    repo: usize::MAX,
                    index: usize::MAX,
                }),
                dependency: problem
                    .clauses(by)
                    .get(clause)
                    .and_then(|c| c.first())
                    .map(|r| problem.requirement_name(r))
                    .unwrap_or_default(),
            },
        };
        packages.push((id, ApkChosen { entry, reason }));
    }
    // Ids are in name order already.
    packages.sort_by_key(|(id, _)| *id);
    Ok(ApkResolution {
        packages: packages.into_iter().map(|(_, c)| c).collect(),
        install_if_skipped: skipped
            .into_iter()
            .filter_map(|id| universe.refs.get(id).copied())
            .collect(),
    })
}

fn join_atoms(atoms: &[Dependency]) -> String {
    atoms
        .iter()
        .map(Dependency::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One requirement handed to the solver.
#[derive(Debug, Clone)]
enum Req<'p> {
    /// An atom, with the repositories it may use (`allowed`) and prefers (`preferred`), as
    /// tag masks.
    Dep {
        dep: &'p Dependency,
        allowed: u32,
        preferred: u32,
    },
    /// Exactly this package (an `install_if` addition or the world pseudo package).
    Exact { id: usize },
}

/// A universe with a request's world applied.
struct Problem<'p, 'a> {
    u: &'p ApkUniverse<'a>,
    /// Id of the pseudo package holding the world's conflicts (`u.len()`).
    world: usize,
    world_conflicts: &'p [&'p Dependency],
    /// Names requested in the world: their unversioned provides may be chosen.
    requested_names: BTreeSet<&'p str>,
}

impl<'p> Problem<'p, '_> {
    /// Whether an unversioned provides of `name` by `id` may be chosen automatically.
    fn virtual_selectable(&self, name: &str, id: usize) -> bool {
        let Some(e) = self.u.entries.get(id) else {
            return false;
        };
        e.provider_priority.unwrap_or(0) > 0
            || self.u.real(name).len() + self.u.providers(name).len() == 1
            || self.requested_names.contains(e.name.as_str())
    }

    /// Packages conflicting with the (negative) atom `dep`: those whose name or provides
    /// match it, with apk's rule that an unversioned provides only meets an unversioned
    /// conflict.
    fn conflicting(&self, dep: &Dependency) -> Vec<usize> {
        self.u
            .matching(dep)
            .into_iter()
            .map(|(id, _, _)| id)
            .collect()
    }

    /// Packages whose `install_if` is met by `solution` and whose name is free, best version
    /// of each name, in name order; not those in `skipped`.
    fn triggered(&self, solution: &solver::Solution, skipped: &BTreeSet<usize>) -> Vec<usize> {
        let u = self.u;
        let mut selected = vec![false; u.len()];
        let mut taken = BTreeSet::new();
        for &(id, _) in &solution.packages {
            if let Some(s) = selected.get_mut(id) {
                *s = true;
                taken.insert(u.slots.get(id).copied().unwrap_or(id));
            }
        }
        let mut out: Vec<usize> = Vec::new();
        let mut best_of_slot: Vec<(usize, usize, bool)> = Vec::new(); // (slot, id, preferred)
        for &id in &u.install_if {
            let slot = u.slots.get(id).copied().unwrap_or(id);
            if taken.contains(&slot) || skipped.contains(&id) {
                continue;
            }
            let Some(e) = u.entries.get(id) else { continue };
            let mut allowed = 1u32;
            let mut ok = true;
            for atom in &e.install_if {
                let by = u.served_by(atom, &selected);
                if atom.conflict {
                    ok = by.is_empty();
                } else {
                    ok = !by.is_empty();
                    for b in by {
                        allowed |= u.mask(b);
                    }
                }
                if !ok {
                    break;
                }
            }
            if !ok || u.mask(id) & allowed == 0 {
                continue;
            }
            let preferred = u.mask(id) & 1 != 0;
            // Ids of a slot come highest version first; keep the first preferred one.
            match best_of_slot.iter_mut().find(|b| b.0 == slot) {
                Some(b) => {
                    if preferred && !b.2 {
                        *b = (slot, id, true);
                    }
                }
                None => best_of_slot.push((slot, id, preferred)),
            }
        }
        out.extend(best_of_slot.into_iter().map(|b| b.1));
        out.sort_unstable();
        out
    }
}

impl<'p> Universe for Problem<'p, '_> {
    type Requirement = Req<'p>;

    fn package_count(&self) -> usize {
        self.world + 1
    }

    fn clauses(&self, pkg: usize) -> Vec<Vec<Req<'p>>> {
        let Some(&e) = self.u.entries.get(pkg) else {
            return Vec::new();
        };
        let allowed = 1 | self.u.mask(pkg);
        e.depends
            .iter()
            .filter(|d| !d.conflict)
            .map(|dep| {
                vec![Req::Dep {
                    dep,
                    allowed,
                    preferred: 1,
                }]
            })
            .collect()
    }

    fn candidates(&self, req: &Req<'p>) -> Vec<usize> {
        let (dep, allowed, preferred) = match *req {
            Req::Exact { id } => return vec![id],
            Req::Dep {
                dep,
                allowed,
                preferred,
            } => (dep, allowed, preferred),
        };
        let u = self.u;
        let mut found: Vec<(usize, Option<&Version>, bool)> = u
            .matching(dep)
            .into_iter()
            .filter(|&(id, version, real)| {
                u.mask(id) & allowed != 0
                    && (real || version.is_some() || self.virtual_selectable(&dep.name, id))
            })
            .collect();
        found.sort_by(|a, b| {
            let pref = |id: usize| u.mask(id) & preferred == 0;
            let ea = u.entries.get(a.0);
            let eb = u.entries.get(b.0);
            let prio = |e: Option<&&IndexEntry>| {
                std::cmp::Reverse(e.and_then(|e| e.provider_priority).unwrap_or(0))
            };
            pref(a.0)
                .cmp(&pref(b.0))
                .then_with(|| b.2.cmp(&a.2)) // real first
                .then_with(|| {
                    if a.2 && b.2 {
                        a.0.cmp(&b.0) // ids: highest version first
                    } else {
                        prio(ea)
                            .cmp(&prio(eb))
                            .then_with(|| u.names.get(a.0).cmp(&u.names.get(b.0)))
                            .then_with(|| b.1.cmp(&a.1))
                            .then(a.0.cmp(&b.0))
                    }
                })
        });
        let mut out: Vec<usize> = Vec::with_capacity(found.len());
        for (id, _, _) in found {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    fn conflicts(&self, pkg: usize) -> Vec<usize> {
        if pkg == self.world {
            return self
                .world_conflicts
                .iter()
                .flat_map(|d| self.conflicting(d))
                .collect();
        }
        let u = self.u;
        let Some(&e) = u.entries.get(pkg) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for dep in e.depends.iter().filter(|d| d.conflict) {
            out.extend(self.conflicting(dep));
        }
        // A provided name is claimed like a package name, unless both sides provide it
        // without a version.
        let own_slot = u.slots.get(pkg).copied().unwrap_or(pkg);
        for p in e.provides.iter().filter(|p| !p.conflict) {
            if p.name == e.name {
                continue;
            }
            let versioned = p.constraint.is_some();
            out.extend(u.real(&p.name));
            for q in u.providers(&p.name) {
                let same_slot = u.slots.get(q.id).copied().unwrap_or(q.id) == own_slot;
                if !same_slot && (versioned || q.version.is_some()) {
                    out.push(q.id);
                }
            }
        }
        out
    }

    fn slot(&self, pkg: usize) -> usize {
        self.u.slots.get(pkg).copied().unwrap_or(pkg)
    }

    fn package_name(&self, pkg: usize) -> String {
        if pkg == self.world {
            format!("world ({})", {
                let v: Vec<String> = self.world_conflicts.iter().map(|d| d.to_string()).collect();
                v.join(" ")
            })
        } else {
            self.u.display(pkg)
        }
    }

    fn requirement_name(&self, req: &Req<'p>) -> String {
        match *req {
            Req::Dep { dep, .. } => dep.to_string(),
            Req::Exact { id } if id == self.world => self.package_name(id),
            Req::Exact { id } => match self.u.entries.get(id) {
                Some(e) => format!(
                    "{}={} (install_if {})",
                    e.name,
                    e.version,
                    join_atoms(&e.install_if)
                ),
                None => String::new(),
            },
        }
    }

    fn explain(&self, req: &Req<'p>) -> Vec<Rejection> {
        let Req::Dep { dep, allowed, .. } = *req else {
            return Vec::new();
        };
        let u = self.u;
        let mut out = Vec::new();
        let matching = u.matching(dep);
        for &(id, version, real) in &matching {
            if u.mask(id) & allowed == 0 {
                let tags: Vec<String> = u
                    .mask_tags(u.mask(id))
                    .into_iter()
                    .map(|t| t.map_or_else(|| "untagged".to_string(), |t| format!("@{t}")))
                    .collect();
                out.push(Rejection::Architecture {
                    package: u.display(id),
                    detail: format!(
                        "it is only in repositories tagged {}; request it as {}@<tag> \
                         to allow them",
                        tags.join(", "),
                        dep.name
                    ),
                });
            } else if !real && version.is_none() && !self.virtual_selectable(&dep.name, id) {
                let n = u.real(&dep.name).len() + u.providers(&dep.name).len();
                out.push(Rejection::Architecture {
                    package: u.display(id),
                    detail: format!(
                        "it provides {} without a version or provider_priority, and {n} \
                         packages provide that name: apk does not choose among them; \
                         request one by name",
                        dep.name
                    ),
                });
            }
        }
        if matching.is_empty() {
            let real = u.real(&dep.name);
            let provided = u.providers(&dep.name);
            if real.is_empty() && provided.is_empty() {
                let elsewhere: BTreeSet<&str> = u
                    .repos
                    .iter()
                    .flat_map(|r| r.iter())
                    .filter(|e| e.name == dep.name)
                    .map(|e| e.arch.as_str())
                    .collect();
                if elsewhere.is_empty() {
                    out.push(Rejection::NoSuchPackage {
                        name: dep.name.clone(),
                    });
                } else {
                    out.push(Rejection::Architecture {
                        package: dep.name.clone(),
                        detail: format!(
                            "only built for {}, not {} or noarch",
                            elsewhere.into_iter().collect::<Vec<_>>().join(", "),
                            u.arch
                        ),
                    });
                }
            } else {
                let mut available = Vec::new();
                for id in real {
                    if let Some(e) = u.entries.get(id) {
                        available.push(e.version.to_string());
                    }
                }
                for p in provided {
                    let by = u.names.get(p.id).copied().unwrap_or("");
                    available.push(match p.version {
                        Some(v) => format!("{v} (provided by {by})"),
                        None => format!("an unversioned provides of {by}"),
                    });
                }
                out.push(Rejection::WrongVersion {
                    name: dep.name.clone(),
                    available,
                    required: dep
                        .constraint
                        .as_ref()
                        .map_or_else(String::new, |c| c.to_string()),
                });
            }
        }
        out
    }
}

impl fmt::Display for EntryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "repository {} entry {}", self.repo, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_apk::index::parse_apkindex_text;

    fn entries(text: &str) -> Vec<IndexEntry> {
        parse_apkindex_text("unit", text.as_bytes()).unwrap()
    }

    #[test]
    fn ids_are_sorted_and_slotted_by_name() {
        let e = entries(
            "P:b\nV:1-r0\nA:x86_64\n\nP:a\nV:1-r0\nA:noarch\n\nP:b\nV:2-r0\nA:x86_64\n\n\
             P:c\nV:1-r0\nA:aarch64\n",
        );
        let u = ApkUniverse::single(&e, "x86_64");
        assert_eq!(u.names, ["a", "b", "b"]);
        assert_eq!(u.slots, [0, 1, 1]);
        assert_eq!(u.real("b"), 1..3);
        assert_eq!(u.entries[1].version.as_str(), "2-r0");
        assert!(u.real("c").is_empty() && u.real("zzz").is_empty() && u.real("").is_empty());
        assert_eq!(u.refs[0], EntryRef { repo: 0, index: 1 });
    }

    #[test]
    fn repeats_across_repositories_merge_their_tags() {
        let main = entries("P:a\nV:1-r0\nA:x86_64\n");
        let edge = entries("P:a\nV:1-r0\nA:x86_64\n\nP:a\nV:2-r0\nA:x86_64\n");
        let u = ApkUniverse::new(
            &[
                ApkRepository::tagged(&edge, "edge"),
                ApkRepository::new(&main),
            ],
            "x86_64",
        )
        .unwrap();
        assert_eq!(u.len(), 2);
        // a 2 only in edge; a 1 in both, the edge entry (given first) kept.
        assert_eq!(u.masks, [0b10, 0b11]);
        assert_eq!(u.refs[1], EntryRef { repo: 0, index: 0 });
        assert_eq!(u.tag_bit("edge"), Some(0b10));
        assert_eq!(u.tag_bit("main"), None);
        assert_eq!(u.mask_tags(0b11), [None, Some("edge")]);
    }

    #[test]
    fn tags_are_validated() {
        for good in ["edge", "v3.16", "a_b-c+d"] {
            assert!(valid_tag(good), "{good}");
        }
        for bad in ["", "a b", "x@y", "ä"] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn provided_names_conflict_unless_both_unversioned() {
        let e = entries(
            "P:sh\nV:1-r0\n\nP:p1\nV:1-r0\np:sh=1 virt\n\nP:p2\nV:1-r0\np:virt\n\n\
             P:p3\nV:1-r0\np:virt=2\n\nP:self\nV:1-r0\np:self=1-r0\n",
        );
        let u = ApkUniverse::single(&e, "");
        let w = Vec::new();
        let p = Problem {
            u: &u,
            world: u.len(),
            world_conflicts: &w,
            requested_names: BTreeSet::new(),
        };
        let id = |n: &str| u.real(n).start;
        let mut c = p.conflicts(id("p1"));
        c.sort_unstable();
        // sh=1 claims the name `sh`; unversioned virt only clashes with p3's virt=2.
        assert_eq!(c, [id("p3"), id("sh")]);
        assert_eq!(p.conflicts(id("p2")), [id("p3")]);
        assert!(p.conflicts(id("self")).is_empty());
        assert_eq!(p.package_count(), u.len() + 1);
    }

    #[test]
    fn candidate_order() {
        let e = entries(
            "P:x\nV:1-r0\n\nP:x\nV:3-r0\n\nP:pz\nV:1-r0\np:x=9\n\nP:pa\nV:1-r0\np:x=2\n\n\
             P:pk\nV:1-r0\nk:5\np:x=1\n\nP:pa\nV:2-r0\np:x=1\n",
        );
        let u = ApkUniverse::single(&e, "");
        let w = Vec::new();
        let p = Problem {
            u: &u,
            world: u.len(),
            world_conflicts: &w,
            requested_names: BTreeSet::new(),
        };
        let dep = parse_dependency("x").unwrap();
        let order: Vec<String> = p
            .candidates(&Req::Dep {
                dep: &dep,
                allowed: 1,
                preferred: 1,
            })
            .into_iter()
            .map(|id| u.display(id))
            .collect();
        assert_eq!(
            order,
            [
                "x 3-r0", "x 1-r0", "pk 1-r0", "pa 1-r0", "pa 2-r0", "pz 1-r0"
            ]
        );
    }
}
