//! Property test over random small Debian universes: every successful resolution satisfies
//! every relation of every chosen package and contains no conflict; every failure is real.

use std::collections::BTreeSet;

use proptest::prelude::*;
use whittle_deb::packages::parse_packages;
use whittle_deb::{Package, Relation};
use whittle_resolve::{DebRequest, DebUniverse, ResolveError, resolve};

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
/// The same universe shapes with `dpkg` (script-only, tried last) and `awk` (script-only only
/// for `base-files`) among the names.
const SCRIPT_NAMES: [&str; 5] = ["a", "base-files", "awk", "dpkg", "e"];
const OPS: [&str; 5] = ["<<", "<=", "=", ">=", ">>"];

fn relation() -> impl Strategy<Value = String> {
    relation_of(NAMES)
}

fn relation_of(names: [&'static str; 5]) -> impl Strategy<Value = String> {
    (
        0..5usize,
        proptest::option::weighted(0.3, (0..5usize, 1..4u32)),
    )
        .prop_map(move |(n, c)| match c {
            None => names[n].to_string(),
            Some((op, v)) => format!("{} ({} {v})", names[n], OPS[op]),
        })
}

fn provide(names: [&'static str; 5]) -> impl Strategy<Value = String> {
    (0..5usize, proptest::option::of(1..4u32)).prop_map(move |(n, v)| match v {
        None => names[n].to_string(),
        Some(v) => format!("{} (= {v})", names[n]),
    })
}

fn stanza() -> impl Strategy<Value = String> {
    stanza_of(NAMES)
}

fn stanza_of(names: [&'static str; 5]) -> impl Strategy<Value = String> {
    let clause = proptest::collection::vec(relation_of(names), 1..3).prop_map(|a| a.join(" | "));
    (
        0..5usize,
        1..4u32,
        prop_oneof![3 => Just("amd64"), 1 => Just("all"), 1 => Just("arm64")],
        proptest::collection::vec(clause, 0..3),
        proptest::collection::vec(provide(names), 0..2),
        proptest::collection::vec(relation_of(names), 0..2),
        any::<bool>(),
    )
        .prop_map(move |(n, v, arch, deps, provides, conflicts, breaks)| {
            let mut s = format!(
                "Package: {}\nVersion: {v}\nArchitecture: {arch}\nFilename: f\nSize: 1\nSHA256: {}\n",
                names[n],
                "0".repeat(64)
            );
            if !deps.is_empty() {
                s.push_str(&format!("Depends: {}\n", deps.join(", ")));
            }
            if !provides.is_empty() {
                s.push_str(&format!("Provides: {}\n", provides.join(", ")));
            }
            if !conflicts.is_empty() {
                let field = if breaks { "Breaks" } else { "Conflicts" };
                s.push_str(&format!("{field}: {}\n", conflicts.join(", ")));
            }
            s.push('\n');
            s
        })
}

/// Whether `q` satisfies (or, for conflicts, matches) `rel`, by Debian semantics.
fn serves(q: &Package, rel: &Relation) -> bool {
    (q.name == rel.name && rel.matches_version(&q.version))
        || q.provides.iter().any(|p| {
            p.name == rel.name
                && match (&rel.constraint, &p.constraint) {
                    (None, _) => true,
                    (Some(_), Some((_, v))) => rel.matches_version(v),
                    (Some(_), None) => false,
                }
        })
}

/// Whether a dependency is waived: no allowed package of the universe meets it, an excluded one does.
fn waived(pkgs: &[Package], dep: &[Relation], exclude: &BTreeSet<String>) -> bool {
    let considered = canonical(pkgs);
    let meets = |excluded: bool| {
        considered.iter().any(|&i| {
            exclude.contains(&pkgs[i].name) == excluded && dep.iter().any(|r| serves(&pkgs[i], r))
        })
    };
    !meets(false) && meets(true)
}

/// Whether the packages `set` (indices) form a valid installation for `requests`.
fn valid(
    pkgs: &[Package],
    set: &[usize],
    requests: &[Relation],
    exclude: &BTreeSet<String>,
) -> bool {
    let chosen: Vec<&Package> = set.iter().map(|&i| &pkgs[i]).collect();
    let names: BTreeSet<&str> = chosen.iter().map(|p| p.name.as_str()).collect();
    if names.len() != chosen.len() || chosen.iter().any(|p| exclude.contains(&p.name)) {
        return false;
    }
    if chosen
        .iter()
        .any(|p| p.architecture != "amd64" && p.architecture != "all")
    {
        return false;
    }
    if !requests.iter().all(|r| chosen.iter().any(|q| serves(q, r))) {
        return false;
    }
    for (i, p) in chosen.iter().enumerate() {
        for dep in p.pre_depends.iter().chain(&p.depends) {
            if !dep.iter().any(|r| chosen.iter().any(|q| serves(q, r)))
                && !waived(pkgs, dep, exclude)
            {
                return false;
            }
        }
        for rel in p.conflicts.iter().chain(&p.breaks) {
            if chosen
                .iter()
                .enumerate()
                .any(|(j, q)| i != j && serves(q, rel))
            {
                return false;
            }
        }
    }
    true
}

/// Indices the universe considers: target arch or all, first of each name and version.
fn canonical(pkgs: &[Package]) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    (0..pkgs.len())
        .filter(|&i| {
            let p = &pkgs[i];
            (p.architecture == "amd64" || p.architecture == "all")
                && seen.insert((p.name.clone(), p.version.to_string()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn resolutions_are_valid_and_failures_real(
        stanzas in proptest::collection::vec(stanza(), 2..10),
        requests in proptest::collection::vec(relation(), 1..3),
        excluded in proptest::option::of(0..5usize),
    ) {
        let pkgs = parse_packages("prop", &stanzas.concat()).unwrap();
        let exclude: BTreeSet<String> = excluded.map(|n| NAMES[n].to_string()).into_iter().collect();
        // Requests use the `name<op>version` form.
        let req_text: Vec<String> = requests
            .iter()
            .map(|r| r.replace(['(', ')', ' '], ""))
            .collect();
        let request = DebRequest { packages: req_text.clone(), exclude: exclude.clone(), waive_script_only: false };
        let rels: Vec<Relation> = requests.iter().map(|r| r.parse().unwrap()).collect();
        let u = DebUniverse::new(&pkgs, "amd64");
        let result = resolve(&u, &request);
        prop_assert_eq!(&result, &resolve(&u, &request));
        let canon = canonical(&pkgs);
        match result {
            Ok(res) => {
                let set = res.indices();
                prop_assert!(set.iter().all(|i| canon.contains(i)));
                prop_assert!(valid(&pkgs, &set, &rels, &exclude), "invalid: {:?}", set);
            }
            Err(ResolveError::Unsatisfiable(un)) => {
                prop_assert!(!un.alternatives.is_empty());
                for mask in 0u32..(1 << canon.len()) {
                    let set: Vec<usize> = canon
                        .iter()
                        .enumerate()
                        .filter(|(b, _)| mask & (1 << b) != 0)
                        .map(|(_, &i)| i)
                        .collect();
                    prop_assert!(!valid(&pkgs, &set, &rels, &exclude), "missed {:?}", set);
                }
            }
            Err(e) => prop_assert!(false, "unexpected error: {}", e),
        }
    }
}

/// Whether `dep` of `by` is waived as script-only: one alternative names a script-only entry
/// that applies to `by` (`dpkg` for everyone, `awk` for `base-files`) and nothing requested
/// serves it, and no other alternative can be met at all.
fn script_only(by: &str, dep: &[Relation], requested: &[Relation], pkgs: &[Package]) -> bool {
    let considered = canonical(pkgs);
    let script = |r: &Relation| {
        let applies = r.name == "dpkg" || (r.name == "awk" && by == "base-files");
        let named = requested.iter().any(|q| {
            q.name == r.name
                || considered
                    .iter()
                    .any(|&i| pkgs[i].name == q.name && serves(&pkgs[i], r))
        });
        applies && !named
    };
    dep.iter().any(script)
        && dep
            .iter()
            .all(|r| script(r) || !considered.iter().any(|&i| serves(&pkgs[i], r)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// With the waiver: every dependency of a chosen package is met, or is script-only; the
    /// package manager is installed only when something requested asks for it by name or
    /// really needs it (a dependency with another alternative that cannot be met).
    #[test]
    fn waived_resolutions_are_valid(
        stanzas in proptest::collection::vec(stanza_of(SCRIPT_NAMES), 2..10),
        requests in proptest::collection::vec(relation_of(SCRIPT_NAMES), 1..3),
    ) {
        let pkgs = parse_packages("prop", &stanzas.concat()).unwrap();
        let req_text: Vec<String> = requests
            .iter()
            .map(|r| r.replace(['(', ')', ' '], ""))
            .collect();
        let request = DebRequest {
            packages: req_text,
            exclude: BTreeSet::new(),
            waive_script_only: true,
        };
        let rels: Vec<Relation> = requests.iter().map(|r| r.parse().unwrap()).collect();
        let u = DebUniverse::new(&pkgs, "amd64");
        let Ok(res) = resolve(&u, &request) else { return Ok(()) };
        let chosen: Vec<&Package> = res.indices().iter().map(|&i| &pkgs[i]).collect();
        prop_assert!(rels.iter().all(|r| chosen.iter().any(|q| serves(q, r))));
        let mut waived = 0;
        for p in &chosen {
            for dep in p.pre_depends.iter().chain(&p.depends) {
                if dep.iter().any(|r| chosen.iter().any(|q| serves(q, r))) {
                    continue;
                }
                prop_assert!(script_only(&p.name, dep, &rels, &pkgs), "{} needs {:?}", p.name, dep);
                waived += 1;
            }
        }
        prop_assert_eq!(waived, res.waived.len());
        if chosen.iter().any(|p| p.name == "dpkg") {
            // something asks for dpkg by name (or a provider of it), or a dependency is not
            // all script-only and dpkg serves it
            let asked = rels.iter().any(|r| chosen.iter().any(|q| q.name == "dpkg" && serves(q, r)));
            let needed = chosen.iter().any(|p| {
                p.pre_depends.iter().chain(&p.depends).any(|dep| {
                    !script_only(&p.name, dep, &rels, &pkgs)
                        && dep.iter().any(|r| chosen.iter().any(|q| q.name == "dpkg" && serves(q, r)))
                })
            });
            prop_assert!(asked || needed, "dpkg installed for nothing");
        }
    }
}
