//! Property tests: apk version ordering laws and Display round-trips.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use whittle_apk::version::{Version, parse_dependency};

fn valid_version() -> impl Strategy<Value = String> {
    let num = "[0-9]{1,3}";
    (
        "[1-9][0-9]{0,2}|0",
        prop::collection::vec(num, 0..4),
        prop::option::of("[a-c]"),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p",
                ]),
                prop::option::of("[0-9]{1,2}"),
            ),
            0..3,
        ),
        prop::option::of("[0-9a-f]{1,4}"),
        prop::option::of("[0-9]{1,2}"),
    )
        .prop_map(|(first, dots, letter, sufs, hash, rev)| {
            let mut s = first;
            for d in dots {
                s.push('.');
                s.push_str(&d);
            }
            if let Some(l) = letter {
                s.push_str(&l);
            }
            for (suf, n) in sufs {
                s.push('_');
                s.push_str(suf);
                if let Some(n) = n {
                    s.push_str(&n);
                }
            }
            if let Some(h) = hash {
                s.push('~');
                s.push_str(&h);
            }
            if let Some(r) = rev {
                s.push_str("-r");
                s.push_str(&r);
            }
            s
        })
}

fn any_version() -> impl Strategy<Value = String> {
    prop_oneof![valid_version(), "[0-9a-z._~!-]{0,12}"]
}

fn hash_of(v: &Version) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_versions_are_valid_and_round_trip(s in valid_version()) {
        let v: Version = s.parse().unwrap();
        prop_assert_eq!(v.to_string(), s.clone());
        let again = v.to_string().parse::<Version>().unwrap();
        prop_assert_eq!(again.as_str(), s.as_str());
    }

    #[test]
    fn antisymmetric_reflexive_and_hash_consistent(a in any_version(), b in any_version()) {
        let (va, vb) = (Version::new_lenient(&a), Version::new_lenient(&b));
        prop_assert_eq!(va.cmp(&va), std::cmp::Ordering::Equal);
        prop_assert_eq!(va.cmp(&vb), vb.cmp(&va).reverse());
        if va == vb {
            prop_assert_eq!(hash_of(&va), hash_of(&vb));
        }
    }

    #[test]
    fn sorting_is_a_total_order(mut vs in prop::collection::vec(any_version(), 2..12)) {
        let mut sorted: Vec<Version> = vs.drain(..).map(|s| Version::new_lenient(&s)).collect();
        sorted.sort();
        for i in 0..sorted.len() {
            for j in i..sorted.len() {
                prop_assert!(sorted[i] <= sorted[j], "{} > {}", sorted[i], sorted[j]);
            }
        }
    }

    #[test]
    fn revision_and_post_suffix_increase(s in valid_version()) {
        let v = Version::new_lenient(&s);
        if v.revision().is_none() {
            let bumped = Version::new_lenient(&format!("{s}-r1"));
            prop_assert!(bumped > v);
            let r0 = Version::new_lenient(&format!("{s}-r0"));
            prop_assert!(r0 < bumped);
        }
        if !s.contains('~') && !s.contains("-r") {
            let rc = Version::new_lenient(&format!("{s}_rc1"));
            let p1 = Version::new_lenient(&format!("{s}_p1"));
            prop_assert!(rc < v);
            prop_assert!(p1 > v);
        }
    }

    #[test]
    fn dependency_display_round_trips(
        conflict in any::<bool>(),
        name in "(so:|cmd:|pc:)?[a-z][a-z0-9+._-]{0,10}",
        tag in prop::option::of("[a-z]{1,5}"),
        op in prop::option::of(prop::sample::select(vec!["<", "<=", "=", ">=", ">", "~", "<~", ">~"])),
        ver in valid_version(),
    ) {
        let mut s = String::new();
        if conflict { s.push('!'); }
        s.push_str(&name);
        if let Some(t) = &tag { s.push('@'); s.push_str(t); }
        if let Some(o) = op { s.push_str(o); s.push_str(&ver); }
        let d = parse_dependency(&s).unwrap();
        prop_assert_eq!(d.to_string(), s.clone());
        prop_assert_eq!(parse_dependency(&d.to_string()).unwrap(), d);
    }
}
