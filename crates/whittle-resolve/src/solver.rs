//! The generic backtracking solver, independent of any package format.
//!
//! A [`Universe`] describes packages by dense ids (`0..package_count()`): each package has
//! requirement clauses (an AND of OR-groups of requirements), conflicts, and a *slot* (at most
//! one package per slot is installed; formats use the package name). [`solve`] searches for a
//! set of packages that contains a candidate of every requested clause and of every clause of
//! every selected package, with no conflict (checked both ways) and no two packages in a slot.
//!
//! Search order, which makes results small and deterministic:
//! - the next clause to work on is the unmet clause with the fewest usable candidates (forced
//!   choices first, so that an alternative `a | b` is decided only after everything that is
//!   certainly needed is in — if `b` is pulled in anyway, `a` is never added); ties go to the
//!   clause discovered first;
//! - candidates are tried in the universe's preference order; dead ends backtrack to the latest
//!   choice that has untried candidates;
//! - after a solution is found, packages that are no longer needed (an alternative that a later
//!   choice made redundant) are pruned by re-walking the requirements from the requests.
//!
//! The search is bounded by [`SolveOptions::step_limit`]. On failure the error explains the
//! first dead end met along the preferred path.

use std::collections::{HashMap, VecDeque};

use crate::error::{AlternativeFailure, ChainLink, Rejection, ResolveError, Unsatisfiable};

/// Default bound on the number of package selections tried.
pub const DEFAULT_STEP_LIMIT: usize = 200_000;

/// A set of packages a solver can choose from, with their relations.
///
/// Packages are dense ids `0..package_count()`. Methods may compute lazily; the solver caches
/// what it asks for within one [`solve`] call and asks only about packages it reaches.
pub trait Universe {
    /// One requirement (one alternative of a clause), e.g. a parsed relation.
    type Requirement;

    /// Number of packages; ids are `0..package_count()`.
    fn package_count(&self) -> usize;

    /// The requirement clauses of `pkg`: every clause must be met, by any one of its
    /// alternatives. Alternatives are given as written (used in explanations).
    fn clauses(&self, pkg: usize) -> Vec<Vec<Self::Requirement>>;

    /// Packages that can serve `req`, best first, with policy (such as exclusions) applied.
    fn candidates(&self, req: &Self::Requirement) -> Vec<usize>;

    /// Packages that can serve a clause, best first. The default concatenates the candidates
    /// of the alternatives in written order, dropping repeats; override to reorder.
    fn clause_candidates(&self, alternatives: &[Self::Requirement]) -> Vec<usize> {
        let mut out = Vec::new();
        for req in alternatives {
            for c in self.candidates(req) {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// The packages `pkg` cannot be installed with (conflicts, breaks). The solver ignores
    /// `pkg` itself if it appears, and checks conflicts in both directions.
    fn conflicts(&self, pkg: usize) -> Vec<usize>;

    /// The slot of `pkg`: at most one package per slot is selected.
    fn slot(&self, pkg: usize) -> usize;

    /// Human-readable name of a package, e.g. `gawk 1:5.2.1-2`.
    fn package_name(&self, pkg: usize) -> String;

    /// Human-readable form of a requirement, e.g. `libc6 (>= 2.34)`.
    fn requirement_name(&self, req: &Self::Requirement) -> String;

    /// Why packages named by `req` are not among its candidates (no such package, wrong
    /// version, excluded...). Called only to explain a failure. Should be non-empty when
    /// `candidates(req)` is empty.
    fn explain(&self, req: &Self::Requirement) -> Vec<Rejection>;
}

/// Tuning of [`solve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SolveOptions {
    /// Maximum number of package selections tried before giving up with
    /// [`ResolveError::TooComplex`].
    pub step_limit: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            step_limit: DEFAULT_STEP_LIMIT,
        }
    }
}

/// Why a package is in a [`Solution`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// It serves request number `request` (an index into the requests given to [`solve`]).
    Requested {
        /// Index of the request.
        request: usize,
    },
    /// It serves clause number `clause` of package `by` (an index into
    /// [`Universe::clauses`]`(by)`).
    Required {
        /// The package that needs it.
        by: usize,
        /// The index of the clause of `by` that it serves.
        clause: usize,
    },
}

/// A successful resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// The chosen packages with the reason each was pulled in, in discovery order (requests
    /// first, then breadth-first along requirements).
    pub packages: Vec<(usize, Reason)>,
    /// Number of package selections the search tried (a measure of its work).
    pub steps: usize,
}

/// Who owns a clause: a request or a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Root(usize),
    Pkg(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClauseRef {
    owner: Owner,
    index: usize,
}

struct Frame {
    clause: ClauseRef,
    viable: Vec<usize>,
    next: usize,
    trail_len: usize,
    pending_len: usize,
}

struct Info {
    slot: usize,
    /// Conflict targets (without the package itself), sorted and deduplicated.
    conflicts: Vec<usize>,
}

struct Search<'u, U: Universe> {
    u: &'u U,
    roots: Vec<Vec<usize>>,
    /// Candidates of each clause of each package selected so far (filled by `select`).
    clauses: Vec<Option<Vec<Vec<usize>>>>,
    info: Vec<Option<Info>>,
    reason: Vec<Option<Reason>>,
    slot_owner: HashMap<usize, usize>,
    /// How many selected packages conflict with a package.
    forbidden: Vec<u32>,
    trail: Vec<usize>,
    pending: Vec<ClauseRef>,
    steps: usize,
    limit: usize,
    first_failure: Option<Unsatisfiable>,
}

/// Solves `requests` (each a clause: an OR of requirements) over `universe`.
///
/// Deterministic: the same universe and requests always give the same solution.
pub fn solve<U: Universe>(
    universe: &U,
    requests: &[Vec<U::Requirement>],
    options: SolveOptions,
) -> Result<Solution, ResolveError> {
    let n = universe.package_count();
    let roots = requests
        .iter()
        .map(|alts| {
            let mut c = universe.clause_candidates(alts);
            c.retain(|&p| p < n);
            c
        })
        .collect();
    let mut s = Search {
        u: universe,
        roots,
        clauses: (0..n).map(|_| None).collect(),
        info: (0..n).map(|_| None).collect(),
        reason: vec![None; n],
        slot_owner: HashMap::new(),
        forbidden: vec![0; n],
        trail: Vec::new(),
        pending: (0..requests.len())
            .map(|i| ClauseRef {
                owner: Owner::Root(i),
                index: i,
            })
            .collect(),
        steps: 0,
        limit: options.step_limit,
        first_failure: None,
    };
    s.run(requests)?;
    let packages = s.prune();
    Ok(Solution {
        packages,
        steps: s.steps,
    })
}

impl<U: Universe> Search<'_, U> {
    fn run(&mut self, requests: &[Vec<U::Requirement>]) -> Result<(), ResolveError> {
        let mut frames: Vec<Frame> = Vec::new();
        loop {
            match self.choose() {
                None => return Ok(()),
                Some((clause, viable)) if viable.is_empty() => {
                    if self.first_failure.is_none() {
                        self.first_failure = Some(self.explain(clause, requests));
                    }
                }
                Some((clause, viable)) => {
                    frames.push(Frame {
                        clause,
                        viable,
                        next: 0,
                        trail_len: self.trail.len(),
                        pending_len: self.pending.len(),
                    });
                }
            }
            // Take the next candidate of the latest choice that has one left.
            loop {
                let Some(f) = frames.last_mut() else {
                    return Err(self.failure(requests));
                };
                let (trail_len, pending_len) = (f.trail_len, f.pending_len);
                let next = f.viable.get(f.next).copied();
                f.next += 1;
                let clause = f.clause;
                self.undo(trail_len, pending_len);
                match next {
                    Some(pkg) => {
                        self.select(pkg, reason_of(clause))?;
                        break;
                    }
                    None => {
                        frames.pop();
                    }
                }
            }
        }
    }

    fn failure(&mut self, requests: &[Vec<U::Requirement>]) -> ResolveError {
        let un = match self.first_failure.take() {
            Some(un) => un,
            // Not expected: every exhausted search meets a dead end first.
            None => Unsatisfiable {
                chain: Vec::new(),
                requirement: requests
                    .iter()
                    .map(|r| self.alts_name(r))
                    .collect::<Vec<_>>()
                    .join(", "),
                alternatives: Vec::new(),
            },
        };
        ResolveError::Unsatisfiable(Box::new(un))
    }

    /// Candidates of a clause whose owner is a request or a selected (or once selected)
    /// package.
    fn cands(&self, c: ClauseRef) -> &[usize] {
        let all = match c.owner {
            Owner::Root(i) => return self.roots.get(i).map_or(&[], Vec::as_slice),
            Owner::Pkg(p) => self.clauses.get(p).and_then(Option::as_ref),
        };
        all.and_then(|a| a.get(c.index)).map_or(&[], Vec::as_slice)
    }

    fn fill_clauses(&mut self, p: usize) -> usize {
        let u = self.u;
        let n = u.package_count();
        match self.clauses.get_mut(p) {
            Some(Some(c)) => c.len(),
            Some(slot) => {
                let c: Vec<Vec<usize>> = u
                    .clauses(p)
                    .iter()
                    .map(|alts| {
                        let mut c = u.clause_candidates(alts);
                        c.retain(|&q| q < n);
                        c
                    })
                    .collect();
                let len = c.len();
                *slot = Some(c);
                len
            }
            None => 0,
        }
    }

    fn info(&mut self, p: usize) -> Option<&Info> {
        let u = self.u;
        let n = u.package_count();
        let slot = self.info.get_mut(p)?;
        Some(slot.get_or_insert_with(|| {
            let mut conflicts = u.conflicts(p);
            conflicts.retain(|&q| q != p && q < n);
            conflicts.sort_unstable();
            conflicts.dedup();
            Info {
                slot: u.slot(p),
                conflicts,
            }
        }))
    }

    fn is_selected(&self, p: usize) -> bool {
        self.reason.get(p).is_some_and(Option::is_some)
    }

    fn viable(&mut self, p: usize) -> bool {
        if self.is_selected(p) || self.forbidden.get(p).is_some_and(|&n| n > 0) {
            return false;
        }
        let _ = self.info(p);
        let Some(Some(info)) = self.info.get(p) else {
            return false;
        };
        !self.slot_owner.contains_key(&info.slot)
            && info
                .conflicts
                .iter()
                .all(|&q| self.reason.get(q).is_none_or(Option::is_none))
    }

    /// Picks the unmet clause with the fewest usable candidates (first discovered on ties).
    /// Returns it with its usable candidates (empty: dead end), or `None` when all are met.
    fn choose(&mut self) -> Option<(ClauseRef, Vec<usize>)> {
        let mut best: Option<(usize, usize)> = None; // (count, position)
        for i in 0..self.pending.len() {
            let c = self.pending[i];
            if self.cands(c).iter().any(|&p| self.is_selected(p)) {
                continue;
            }
            let mut count = 0;
            for j in 0..self.cands(c).len() {
                let p = self.cands(c)[j];
                if self.viable(p) {
                    count += 1;
                    if count >= 2 {
                        break;
                    }
                }
            }
            if best.is_none_or(|(bc, _)| count < bc) {
                best = Some((count, i));
            }
            if count == 0 {
                break;
            }
        }
        let (_, pos) = best?;
        let c = self.pending[pos];
        let mut viable = Vec::new();
        for j in 0..self.cands(c).len() {
            let p = self.cands(c)[j];
            if self.viable(p) {
                viable.push(p);
            }
        }
        Some((c, viable))
    }

    fn select(&mut self, p: usize, why: Reason) -> Result<(), ResolveError> {
        self.steps += 1;
        if self.steps > self.limit {
            return Err(ResolveError::TooComplex { limit: self.limit });
        }
        let Some(info) = self.info(p) else {
            return Ok(());
        };
        let slot = info.slot;
        let conflicts = info.conflicts.clone();
        self.trail.push(p);
        if let Some(r) = self.reason.get_mut(p) {
            *r = Some(why);
        }
        self.slot_owner.insert(slot, p);
        for q in conflicts {
            if let Some(n) = self.forbidden.get_mut(q) {
                *n += 1;
            }
        }
        let n_clauses = self.fill_clauses(p);
        self.pending.extend((0..n_clauses).map(|index| ClauseRef {
            owner: Owner::Pkg(p),
            index,
        }));
        Ok(())
    }

    fn undo(&mut self, trail_len: usize, pending_len: usize) {
        while self.trail.len() > trail_len {
            let Some(p) = self.trail.pop() else { break };
            if let Some(r) = self.reason.get_mut(p) {
                *r = None;
            }
            if let Some(Some(info)) = self.info.get(p) {
                self.slot_owner.remove(&info.slot);
                for &q in &info.conflicts {
                    if let Some(n) = self.forbidden.get_mut(q) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
        }
        self.pending.truncate(pending_len);
    }

    fn alts_name(&self, alts: &[U::Requirement]) -> String {
        alts.iter()
            .map(|r| self.u.requirement_name(r))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn origin(&self, p: usize) -> String {
        match self.reason.get(p).copied().flatten() {
            Some(Reason::Requested { .. }) | None => "requested".to_string(),
            Some(Reason::Required { by, .. }) => {
                format!("required by {}", self.u.package_name(by))
            }
        }
    }

    /// Builds the explanation of a dead end at clause `c` in the current state.
    fn explain(&mut self, c: ClauseRef, requests: &[Vec<U::Requirement>]) -> Unsatisfiable {
        let u = self.u;
        let owned;
        let alts: &[U::Requirement] = match c.owner {
            Owner::Root(i) => requests.get(i).map_or(&[], Vec::as_slice),
            Owner::Pkg(p) => {
                owned = u.clauses(p);
                owned.get(c.index).map_or(&[], Vec::as_slice)
            }
        };
        let mut alternatives = Vec::new();
        for req in alts {
            let mut rejections = u.explain(req);
            for q in u.candidates(req) {
                rejections.extend(self.why_not(q));
            }
            if rejections.is_empty() {
                rejections.push(Rejection::NoSuchPackage {
                    name: u.requirement_name(req),
                });
            }
            alternatives.push(AlternativeFailure {
                requirement: u.requirement_name(req),
                rejections,
            });
        }
        // The chain from a request down to the owner of the clause.
        let mut chain = Vec::new();
        let mut cur = match c.owner {
            Owner::Root(_) => None,
            Owner::Pkg(p) => Some(p),
        };
        while let Some(p) = cur {
            if chain.len() > self.trail.len() {
                break; // cannot happen: reasons form a tree over the trail
            }
            let (via, parent) = match self.reason.get(p).copied().flatten() {
                Some(Reason::Requested { request }) => (
                    requests
                        .get(request)
                        .map(|r| self.alts_name(r))
                        .unwrap_or_default(),
                    None,
                ),
                Some(Reason::Required { by, clause }) => (
                    u.clauses(by)
                        .get(clause)
                        .map(|r| self.alts_name(r))
                        .unwrap_or_default(),
                    Some(by),
                ),
                None => (String::new(), None),
            };
            chain.push(ChainLink {
                package: u.package_name(p),
                via,
            });
            cur = parent;
        }
        chain.reverse();
        Unsatisfiable {
            chain,
            requirement: self.alts_name(alts),
            alternatives,
        }
    }

    /// Why candidate `q` is not usable in the current state.
    fn why_not(&mut self, q: usize) -> Vec<Rejection> {
        let u = self.u;
        let mut out = Vec::new();
        let Some(info) = self.info(q) else {
            return out;
        };
        let (slot, own) = (info.slot, info.conflicts.clone());
        if let Some(&s) = self.slot_owner.get(&slot) {
            out.push(Rejection::OtherVersionSelected {
                package: u.package_name(q),
                selected: u.package_name(s),
                selected_origin: self.origin(s),
            });
        }
        for s in self.trail.clone() {
            let theirs = self.info(s).is_some_and(|i| i.conflicts.contains(&q));
            if own.contains(&s) || theirs {
                out.push(Rejection::Conflicts {
                    package: u.package_name(q),
                    with: u.package_name(s),
                    with_origin: self.origin(s),
                });
            }
        }
        out
    }

    /// Re-walks the requirements from the requests over the selected packages, keeping only
    /// what is needed: forced (single-satisfier) clauses first, then alternatives in order.
    fn prune(&self) -> Vec<(usize, Reason)> {
        let n = self.reason.len();
        let mut kept = vec![false; n];
        let mut order: Vec<(usize, Reason)> = Vec::new();
        let mut work: VecDeque<ClauseRef> = (0..self.roots.len())
            .map(|i| ClauseRef {
                owner: Owner::Root(i),
                index: i,
            })
            .collect();
        let mut deferred: VecDeque<ClauseRef> = VecDeque::new();
        let is_kept = |kept: &[bool], p: usize| kept.get(p).copied().unwrap_or(false);
        loop {
            while let Some(c) = work.pop_front() {
                let cands = self.cands(c);
                if cands.iter().any(|&p| is_kept(&kept, p)) {
                    continue;
                }
                let mut sats = cands.iter().copied().filter(|&p| self.is_selected(p));
                match (sats.next(), sats.next()) {
                    (Some(p), None) => self.keep(p, reason_of(c), &mut kept, &mut order, &mut work),
                    _ => deferred.push_back(c),
                }
            }
            // Decide the first deferred clause still unmet, by preference order.
            let mut progressed = false;
            while let Some(c) = deferred.pop_front() {
                let cands = self.cands(c);
                if cands.iter().any(|&p| is_kept(&kept, p)) {
                    continue;
                }
                if let Some(p) = cands.iter().copied().find(|&p| self.is_selected(p)) {
                    self.keep(p, reason_of(c), &mut kept, &mut order, &mut work);
                    progressed = true;
                    break;
                }
            }
            if !progressed {
                break;
            }
        }
        order
    }

    fn keep(
        &self,
        p: usize,
        why: Reason,
        kept: &mut [bool],
        order: &mut Vec<(usize, Reason)>,
        work: &mut VecDeque<ClauseRef>,
    ) {
        if let Some(k) = kept.get_mut(p) {
            *k = true;
        }
        order.push((p, why));
        let n = self
            .clauses
            .get(p)
            .and_then(Option::as_ref)
            .map_or(0, Vec::len);
        work.extend((0..n).map(|index| ClauseRef {
            owner: Owner::Pkg(p),
            index,
        }));
    }
}

fn reason_of(c: ClauseRef) -> Reason {
    match c.owner {
        Owner::Root(i) => Reason::Requested { request: i },
        Owner::Pkg(p) => Reason::Required {
            by: p,
            clause: c.index,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A toy universe: packages `(name, version)`, requirements `(name, minimum version)`.
    #[derive(Debug, Clone, Default)]
    struct Toy {
        pkgs: Vec<ToyPkg>,
    }

    #[derive(Debug, Clone)]
    struct ToyPkg {
        name: String,
        version: u32,
        deps: Vec<Vec<(String, u32)>>,
        conflicts: Vec<String>,
    }

    impl Toy {
        fn add(&mut self, name: &str, version: u32, deps: &[&[(&str, u32)]], conflicts: &[&str]) {
            self.pkgs.push(ToyPkg {
                name: name.to_string(),
                version,
                deps: deps
                    .iter()
                    .map(|c| c.iter().map(|(n, v)| (n.to_string(), *v)).collect())
                    .collect(),
                conflicts: conflicts.iter().map(|s| s.to_string()).collect(),
            });
        }
        fn names(&self, sol: &Solution) -> Vec<String> {
            let mut v: Vec<String> = sol
                .packages
                .iter()
                .map(|(p, _)| format!("{}{}", self.pkgs[*p].name, self.pkgs[*p].version))
                .collect();
            v.sort();
            v
        }
        fn req(name: &str, v: u32) -> Vec<(String, u32)> {
            vec![(name.to_string(), v)]
        }
        /// Whether `set` is a valid installation for `requests`.
        fn valid(&self, set: &[usize], requests: &[Vec<(String, u32)>]) -> bool {
            let has = |r: &(String, u32)| set.iter().any(|&p| self.matches(p, r));
            if !requests.iter().all(|c| c.iter().any(has)) {
                return false;
            }
            for &p in set {
                if !self.pkgs[p].deps.iter().all(|c| c.iter().any(has)) {
                    return false;
                }
                for &q in set {
                    if p != q
                        && (self.pkgs[p].name == self.pkgs[q].name
                            || self.pkgs[p].conflicts.contains(&self.pkgs[q].name))
                    {
                        return false;
                    }
                }
            }
            true
        }
        fn matches(&self, p: usize, r: &(String, u32)) -> bool {
            self.pkgs[p].name == r.0 && self.pkgs[p].version >= r.1
        }
    }

    impl Universe for Toy {
        type Requirement = (String, u32);
        fn package_count(&self) -> usize {
            self.pkgs.len()
        }
        fn clauses(&self, pkg: usize) -> Vec<Vec<(String, u32)>> {
            self.pkgs[pkg].deps.clone()
        }
        fn candidates(&self, req: &(String, u32)) -> Vec<usize> {
            let mut c: Vec<usize> = (0..self.pkgs.len())
                .filter(|&p| self.matches(p, req))
                .collect();
            c.sort_by_key(|&p| std::cmp::Reverse(self.pkgs[p].version));
            c
        }
        fn conflicts(&self, pkg: usize) -> Vec<usize> {
            (0..self.pkgs.len())
                .filter(|&q| self.pkgs[pkg].conflicts.contains(&self.pkgs[q].name))
                .collect()
        }
        fn slot(&self, pkg: usize) -> usize {
            self.pkgs
                .iter()
                .position(|p| p.name == self.pkgs[pkg].name)
                .unwrap()
        }
        fn package_name(&self, pkg: usize) -> String {
            format!("{} {}", self.pkgs[pkg].name, self.pkgs[pkg].version)
        }
        fn requirement_name(&self, req: &(String, u32)) -> String {
            if req.1 == 0 {
                req.0.clone()
            } else {
                format!("{} (>= {})", req.0, req.1)
            }
        }
        fn explain(&self, req: &(String, u32)) -> Vec<Rejection> {
            let avail: Vec<String> = self
                .pkgs
                .iter()
                .filter(|p| p.name == req.0 && p.version < req.1)
                .map(|p| p.version.to_string())
                .collect();
            if self.pkgs.iter().all(|p| p.name != req.0) {
                vec![Rejection::NoSuchPackage {
                    name: req.0.clone(),
                }]
            } else if !avail.is_empty() && self.candidates(req).is_empty() {
                vec![Rejection::WrongVersion {
                    name: req.0.clone(),
                    available: avail,
                    required: format!(">= {}", req.1),
                }]
            } else {
                Vec::new()
            }
        }
    }

    fn run(t: &Toy, reqs: &[Vec<(String, u32)>]) -> Result<Solution, ResolveError> {
        solve(t, reqs, SolveOptions::default())
    }

    #[test]
    fn chain_and_versions() {
        let mut t = Toy::default();
        t.add("app", 1, &[&[("lib", 2)]], &[]);
        t.add("lib", 1, &[], &[]);
        t.add("lib", 3, &[&[("base", 0)]], &[]);
        t.add("lib", 2, &[], &[]);
        t.add("base", 1, &[], &[]);
        let sol = run(&t, &[Toy::req("app", 0)]).unwrap();
        assert_eq!(t.names(&sol), ["app1", "base1", "lib3"]);
        assert_eq!(sol.packages[0], (0, Reason::Requested { request: 0 }));
        assert_eq!(sol.packages[1], (2, Reason::Required { by: 0, clause: 0 }));
    }

    #[test]
    fn alternative_already_needed_is_preferred() {
        // app needs (a | b) and c; c needs b: a must not be installed.
        let mut t = Toy::default();
        t.add("app", 1, &[&[("a", 0), ("b", 0)], &[("c", 0)]], &[]);
        t.add("a", 1, &[], &[]);
        t.add("b", 1, &[], &[]);
        t.add("c", 1, &[&[("b", 0)]], &[]);
        let sol = run(&t, &[Toy::req("app", 0)]).unwrap();
        assert_eq!(t.names(&sol), ["app1", "b1", "c1"]);
    }

    #[test]
    fn redundant_alternative_is_pruned() {
        // Both clauses have two candidates; the first picks a, then the second needs
        // (b | a)... b-first order means the search may pick a then find b needed via d.
        let mut t = Toy::default();
        t.add(
            "app",
            1,
            &[&[("a", 0), ("b", 0)], &[("d", 0), ("e", 0)]],
            &[],
        );
        t.add("a", 1, &[], &[]);
        t.add("b", 1, &[], &[]);
        t.add("d", 1, &[&[("b", 0)]], &[]);
        t.add("e", 1, &[], &[]);
        let sol = run(&t, &[Toy::req("app", 0)]).unwrap();
        assert_eq!(t.names(&sol), ["app1", "b1", "d1"]);
    }

    #[test]
    fn conflict_forces_second_alternative_both_ways() {
        let mut t = Toy::default();
        t.add("app", 1, &[&[("x", 0)], &[("a", 0), ("b", 0)]], &[]);
        t.add("x", 1, &[], &["a"]); // x conflicts with a
        t.add("a", 1, &[], &[]);
        t.add("b", 1, &[], &[]);
        let sol = run(&t, &[Toy::req("app", 0)]).unwrap();
        assert_eq!(t.names(&sol), ["app1", "b1", "x1"]);

        let mut t = Toy::default();
        t.add("app", 1, &[&[("x", 0)], &[("a", 0), ("b", 0)]], &[]);
        t.add("x", 1, &[], &[]);
        t.add("a", 1, &[], &["x"]); // a conflicts with x
        t.add("b", 1, &[], &[]);
        let sol = run(&t, &[Toy::req("app", 0)]).unwrap();
        assert_eq!(t.names(&sol), ["app1", "b1", "x1"]);
    }

    #[test]
    fn backtracks_out_of_a_deep_dead_end() {
        // a -> (p | q); p -> r -> s (>= 2) which does not exist; q is fine.
        let mut t = Toy::default();
        t.add("a", 1, &[&[("p", 0), ("q", 0)]], &[]);
        t.add("p", 1, &[&[("r", 0)]], &[]);
        t.add("r", 1, &[&[("s", 2)]], &[]);
        t.add("s", 1, &[], &[]);
        t.add("q", 1, &[], &[]);
        let sol = run(&t, &[Toy::req("a", 0)]).unwrap();
        assert_eq!(t.names(&sol), ["a1", "q1"]);
    }

    #[test]
    fn slot_allows_one_version() {
        // app needs lib >= 2 (only lib 2) and old needs lib = 1 → choose other alternative.
        let mut t = Toy::default();
        t.add("app", 1, &[&[("lib", 2)], &[("old", 0), ("new", 0)]], &[]);
        t.add("lib", 1, &[], &[]);
        t.add("lib", 2, &[], &[]);
        t.add("old", 1, &[&[("libone", 0)]], &[]);
        t.add("libone", 1, &[], &["lib"]);
        t.add("new", 1, &[], &[]);
        let sol = run(&t, &[Toy::req("app", 0)]).unwrap();
        assert_eq!(t.names(&sol), ["app1", "lib2", "new1"]);
    }

    #[test]
    fn failure_shows_the_chain() {
        let mut t = Toy::default();
        t.add("app", 1, &[&[("mid", 0)]], &[]);
        t.add(
            "mid",
            1,
            &[&[("x", 0)], &[("leaf", 5), ("gone", 0), ("y", 0)]],
            &[],
        );
        t.add("leaf", 3, &[], &[]);
        t.add("x", 1, &[], &["y"]);
        t.add("y", 1, &[], &[]);
        let err = run(&t, &[Toy::req("app", 0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot satisfy \"leaf (>= 5) | gone | y\":\n\
             \x20 app 1 (requested as \"app\")\n\
             \x20   requires \"mid\": mid 1\n\
             \x20     requires \"leaf (>= 5) | gone | y\", but:\n\
             \x20       - leaf (>= 5): leaf >= 5 is required, but only 3 available\n\
             \x20       - gone: no package named gone (nor one providing it)\n\
             \x20       - y: y 1 conflicts with x 1 (required by mid 1)"
        );
        let ResolveError::Unsatisfiable(un) = err else {
            panic!("wrong error")
        };
        assert_eq!(un.chain.len(), 2);
        assert_eq!(un.alternatives.len(), 3);
    }

    #[test]
    fn failing_request_has_empty_chain() {
        let t = Toy::default();
        let err = run(&t, &[Toy::req("nothing", 0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot satisfy \"nothing\":\n\
             \x20 requested \"nothing\", but:\n\
             \x20   - nothing: no package named nothing (nor one providing it)"
        );
    }

    #[test]
    fn step_limit_gives_too_complex() {
        // Pigeonhole: 6 holders each need one of 5 slots exclusively -> exhaustive search.
        let mut t = Toy::default();
        let holders = 7;
        let slots = 6;
        let mut root: Vec<(String, u32)> = Vec::new();
        for h in 0..holders {
            root.push((format!("h{h}"), 0));
        }
        for h in 0..holders {
            let alts: Vec<(String, u32)> = (0..slots).map(|s| (format!("s{s}h{h}"), 0)).collect();
            t.pkgs.push(ToyPkg {
                name: format!("h{h}"),
                version: 1,
                deps: vec![alts],
                conflicts: vec![],
            });
            for s in 0..slots {
                let others = (0..holders)
                    .filter(|&o| o != h)
                    .map(|o| format!("s{s}h{o}"))
                    .collect();
                t.pkgs.push(ToyPkg {
                    name: format!("s{s}h{h}"),
                    version: 1,
                    deps: vec![],
                    conflicts: others,
                });
            }
        }
        let reqs: Vec<Vec<(String, u32)>> = root.into_iter().map(|r| vec![r]).collect();
        let err = solve(&t, &reqs, SolveOptions { step_limit: 500 }).unwrap_err();
        assert_eq!(err, ResolveError::TooComplex { limit: 500 });
        assert!(err.to_string().contains("too complex"));
        // With a generous limit the search proves it impossible.
        let err = solve(&t, &reqs, SolveOptions::default()).unwrap_err();
        assert!(matches!(err, ResolveError::Unsatisfiable(_)), "{err}");
    }

    fn toy_strategy() -> impl Strategy<Value = (Toy, Vec<Vec<(String, u32)>>)> {
        let names = ["a", "b", "c", "d", "e"];
        let req = (0..5usize, 0..3u32).prop_map(move |(n, v)| (names[n].to_string(), v));
        let clause = proptest::collection::vec(req.clone(), 1..3);
        let pkg = (
            0..5usize,
            1..3u32,
            proptest::collection::vec(clause.clone(), 0..3),
            proptest::collection::vec(0..5usize, 0..2),
        )
            .prop_map(move |(n, v, deps, conf)| ToyPkg {
                name: names[n].to_string(),
                version: v,
                deps,
                conflicts: conf.into_iter().map(|c| names[c].to_string()).collect(),
            });
        (
            proptest::collection::vec(pkg, 1..9),
            proptest::collection::vec(clause, 1..3),
        )
            .prop_map(|(pkgs, reqs)| (Toy { pkgs }, reqs))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Solutions are valid; failures are real (no valid set exists, checked by brute force);
        /// the result is deterministic.
        #[test]
        fn sound_complete_deterministic((t, reqs) in toy_strategy()) {
            let r = run(&t, &reqs);
            prop_assert_eq!(&r, &run(&t, &reqs));
            match r {
                Ok(sol) => {
                    let set: Vec<usize> = sol.packages.iter().map(|(p, _)| *p).collect();
                    prop_assert!(t.valid(&set, &reqs), "invalid solution {:?}", set);
                }
                Err(ResolveError::Unsatisfiable(_)) => {
                    let n = t.pkgs.len();
                    for mask in 0u32..(1 << n) {
                        let set: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
                        prop_assert!(!t.valid(&set, &reqs), "missed solution {:?}", set);
                    }
                }
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
        }
    }
}
