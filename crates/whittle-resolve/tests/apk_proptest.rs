//! Property test over random small APK universes: every resolution is a consistent
//! installation (requests and dependencies met, one package per name, no conflict), the
//! install_if fixpoint is reached, results are deterministic, and every failure is real
//! (no consistent set exists, checked by brute force).

mod apk_check;

use std::collections::BTreeSet;

use proptest::prelude::*;
use whittle_apk::index::{IndexEntry, parse_apkindex_text};
use whittle_apk::version::{Dependency, parse_dependency};
use whittle_resolve::{ApkRequest, ApkUniverse, ResolveError, resolve_apk};

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const OPS: [&str; 6] = ["<", "<=", "=", ">=", ">", "~"];

/// `name`, or `name<op><v>-r0` (`~` takes the bare version).
fn atom() -> impl Strategy<Value = String> {
    (
        0..5usize,
        proptest::option::weighted(0.25, (0..6usize, 1..4u32)),
    )
        .prop_map(|(n, c)| match c {
            None => NAMES[n].to_string(),
            Some((5, v)) => format!("{}~{v}", NAMES[n]),
            Some((op, v)) => format!("{}{}{v}-r0", NAMES[n], OPS[op]),
        })
}

/// A provides: `v<n>` virtual names or package names, with or without a version.
fn provide() -> impl Strategy<Value = String> {
    (
        prop_oneof![2 => (0..5usize).prop_map(|n| NAMES[n].to_string()),
                    3 => (0..2usize).prop_map(|n| format!("v{n}"))],
        proptest::option::of(1..4u32),
    )
        .prop_map(|(n, v)| match v {
            None => n,
            Some(v) => format!("{n}={v}-r0"),
        })
}

fn record() -> impl Strategy<Value = String> {
    let dep = prop_oneof![
        4 => atom(),
        1 => (0..2usize).prop_map(|n| format!("v{n}")),
        1 => atom().prop_map(|a| format!("!{a}")),
    ];
    (
        0..5usize,
        1..4u32,
        prop_oneof![8 => Just("x86_64"), 1 => Just("noarch"), 1 => Just("aarch64")],
        proptest::collection::vec(dep, 0..3),
        proptest::collection::vec(provide(), 0..2),
        proptest::option::weighted(0.3, 1..3u64),
        proptest::option::weighted(0.25, proptest::collection::vec(atom(), 1..3)),
    )
        .prop_map(|(n, v, arch, deps, provides, prio, iif)| {
            let mut s = format!("P:{}\nV:{v}-r0\nA:{arch}\n", NAMES[n]);
            if !deps.is_empty() {
                s.push_str(&format!("D:{}\n", deps.join(" ")));
            }
            if !provides.is_empty() {
                s.push_str(&format!("p:{}\n", provides.join(" ")));
            }
            if let Some(k) = prio {
                s.push_str(&format!("k:{k}\n"));
            }
            if let Some(i) = iif {
                s.push_str(&format!("i:{}\n", i.join(" ")));
            }
            s.push('\n');
            s
        })
}

/// Indices the universe considers: x86_64 or noarch, first of each name and version.
fn canonical(entries: &[IndexEntry]) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    (0..entries.len())
        .filter(|&i| {
            let e = &entries[i];
            (e.arch == "x86_64" || e.arch == "noarch")
                && seen.insert((e.name.clone(), e.version.to_string()))
        })
        .collect()
}

/// Whether `q` meets `dep` through something apk may choose automatically: its name, a
/// versioned provides, or an unversioned provides with a priority / as the only provider of
/// the name / of a package named in the world.
fn meets_selectably(
    q: &IndexEntry,
    dep: &Dependency,
    all: &[&IndexEntry],
    world_names: &BTreeSet<&str>,
) -> bool {
    if !apk_check::meets(q, dep) {
        return false;
    }
    let only_unversioned = q.name != dep.name
        && q.provides
            .iter()
            .filter(|p| p.name == dep.name)
            .all(|p| p.constraint.is_none());
    if !only_unversioned {
        return true;
    }
    let providers = all
        .iter()
        .map(|e| {
            usize::from(e.name == dep.name)
                + usize::from(e.provides.iter().any(|p| p.name == dep.name))
        })
        .sum::<usize>();
    q.provider_priority.unwrap_or(0) > 0 || providers == 1 || world_names.contains(q.name.as_str())
}

fn valid(set: &[&IndexEntry], world: &[Dependency], all: &[&IndexEntry]) -> bool {
    if apk_check::check(set, world, "x86_64").is_err() {
        return false;
    }
    let world_names: BTreeSet<&str> = world
        .iter()
        .filter(|d| !d.conflict)
        .map(|d| d.name.as_str())
        .collect();
    let served = |d: &Dependency| {
        set.iter()
            .any(|q| meets_selectably(q, d, all, &world_names))
    };
    world.iter().filter(|d| !d.conflict).all(served)
        && set
            .iter()
            .all(|p| p.depends.iter().filter(|d| !d.conflict).all(served))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    #[test]
    fn resolutions_are_valid_and_failures_real(
        records in proptest::collection::vec(record(), 4..13),
        world in proptest::collection::vec(
            prop_oneof![8 => atom(), 1 => atom().prop_map(|a| format!("!{a}"))], 1..3),
    ) {
        let entries = parse_apkindex_text("prop", records.concat().as_bytes()).unwrap();
        let u = ApkUniverse::single(&entries, "x86_64");
        let request = ApkRequest { packages: world.clone() };
        let deps: Vec<Dependency> = world.iter().map(|a| parse_dependency(a).unwrap()).collect();
        let result = resolve_apk(&u, &request);
        prop_assert_eq!(&result, &resolve_apk(&u, &request));
        let canon = canonical(&entries);
        let all: Vec<&IndexEntry> = canon.iter().map(|&i| &entries[i]).collect();
        match result {
            Ok(res) => {
                let chosen: Vec<&IndexEntry> =
                    res.entries().iter().map(|&r| u.entry(r).unwrap()).collect();
                for r in res.entries() {
                    prop_assert!(canon.contains(&r.index), "not canonical: {:?}", r);
                }
                let check = apk_check::check(&chosen, &deps, "x86_64");
                prop_assert!(check.is_ok(), "{:?}", check);
                prop_assert!(valid(&chosen, &deps, &all), "not selectable: {:?}", chosen);
                // The install_if fixpoint: whatever triggers with a free name was added or
                // is reported as skipped.
                let names: BTreeSet<&str> = chosen.iter().map(|e| e.name.as_str()).collect();
                let skipped: BTreeSet<&str> = res
                    .install_if_skipped
                    .iter()
                    .map(|&r| u.entry(r).unwrap().name.as_str())
                    .collect();
                for e in &all {
                    if apk_check::install_if_met(e, &chosen) && !names.contains(e.name.as_str()) {
                        prop_assert!(skipped.contains(e.name.as_str()), "{} not added", e.name);
                    }
                }
            }
            Err(ResolveError::Unsatisfiable(un)) => {
                prop_assert!(!un.alternatives.is_empty());
                for mask in 0u32..(1 << all.len()) {
                    let set: Vec<&IndexEntry> = all
                        .iter()
                        .enumerate()
                        .filter(|(b, _)| mask & (1 << b) != 0)
                        .map(|(_, e)| *e)
                        .collect();
                    prop_assert!(!valid(&set, &deps, &all), "missed {:?}",
                        set.iter().map(|e| format!("{}-{}", e.name, e.version)).collect::<Vec<_>>());
                }
            }
            Err(e) => prop_assert!(false, "unexpected error: {}", e),
        }
    }
}
