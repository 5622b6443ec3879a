//! Property test over random small Debian universes: every successful resolution satisfies
//! every relation of every chosen package and contains no conflict; every failure is real.

use std::collections::BTreeSet;

use proptest::prelude::*;
use whittle_deb::packages::parse_packages;
use whittle_deb::{Package, Relation};
use whittle_resolve::{DebRequest, DebUniverse, ResolveError, resolve};

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const OPS: [&str; 5] = ["<<", "<=", "=", ">=", ">>"];

fn relation() -> impl Strategy<Value = String> {
    (
        0..5usize,
        proptest::option::weighted(0.3, (0..5usize, 1..4u32)),
    )
        .prop_map(|(n, c)| match c {
            None => NAMES[n].to_string(),
            Some((op, v)) => format!("{} ({} {v})", NAMES[n], OPS[op]),
        })
}

fn provide() -> impl Strategy<Value = String> {
    (0..5usize, proptest::option::of(1..4u32)).prop_map(|(n, v)| match v {
        None => NAMES[n].to_string(),
        Some(v) => format!("{} (= {v})", NAMES[n]),
    })
}

fn stanza() -> impl Strategy<Value = String> {
    let clause = proptest::collection::vec(relation(), 1..3).prop_map(|a| a.join(" | "));
    (
        0..5usize,
        1..4u32,
        prop_oneof![3 => Just("amd64"), 1 => Just("all"), 1 => Just("arm64")],
        proptest::collection::vec(clause, 0..3),
        proptest::collection::vec(provide(), 0..2),
        proptest::collection::vec(relation(), 0..2),
        any::<bool>(),
    )
        .prop_map(|(n, v, arch, deps, provides, conflicts, breaks)| {
            let mut s = format!(
                "Package: {}\nVersion: {v}\nArchitecture: {arch}\nFilename: f\nSize: 1\nSHA256: {}\n",
                NAMES[n],
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
        let request = DebRequest { packages: req_text.clone(), exclude: exclude.clone() };
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
