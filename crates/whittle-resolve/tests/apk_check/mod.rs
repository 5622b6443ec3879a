//! An independent checker of APK resolutions, written from apk's rules (not from the
//! resolver's code): shared by the real-index tests and the property test.

#![allow(dead_code)]

use std::collections::BTreeMap;

use whittle_apk::index::IndexEntry;
use whittle_apk::version::{Dependency, Op};

/// The version `q` offers for `name`: `Some(Some(v))` as the real package or a versioned
/// provides, `Some(None)` for an unversioned provides, `None` if it does not offer the name.
/// When several provides match, the versioned ones are listed first.
fn offers<'e>(q: &'e IndexEntry, name: &str) -> Vec<Option<&'e whittle_apk::version::Version>> {
    let mut out = Vec::new();
    if q.name == name {
        out.push(Some(&q.version));
    }
    for p in &q.provides {
        if p.name == name {
            out.push(p.constraint.as_ref().map(|c| &c.version));
        }
    }
    out
}

/// Whether `q` meets `dep`'s name and version (the conflict flag ignored).
pub fn meets(q: &IndexEntry, dep: &Dependency) -> bool {
    offers(q, &dep.name)
        .into_iter()
        .any(|v| match (&dep.constraint, v) {
            (None, _) => true,
            (Some(c), _) if c.op == Op::Checksum => q
                .checksum
                .is_some_and(|s| c.matches_checksum(&s.to_string())),
            (Some(_), None) => false,
            (Some(c), Some(v)) => c.matches(v),
        })
}

/// Checks that `chosen` is a consistent installation for the world `atoms` on `arch`:
/// requests and every dependency met, one package per name (and per versioned provided
/// name), no conflict.
pub fn check(chosen: &[&IndexEntry], atoms: &[Dependency], arch: &str) -> Result<(), String> {
    for p in chosen {
        if p.arch != arch && p.arch != "noarch" {
            return Err(format!("{} is for {}", p.name, p.arch));
        }
    }
    // Name claims: the package name (versioned) and each provides.
    let mut claims: BTreeMap<&str, Vec<(&str, bool)>> = BTreeMap::new();
    for p in chosen {
        claims.entry(&p.name).or_default().push((&p.name, true));
        for pr in &p.provides {
            if pr.name == p.name {
                continue;
            }
            let by = claims.entry(&pr.name).or_default();
            match by.iter_mut().find(|b| b.0 == p.name) {
                Some(b) => b.1 |= pr.constraint.is_some(),
                None => by.push((&p.name, pr.constraint.is_some())),
            }
        }
    }
    for (name, by) in &claims {
        if by.len() > 1 && by.iter().any(|b| b.1) {
            return Err(format!("{name} is claimed by several packages: {by:?}"));
        }
    }
    for a in atoms {
        let hit: Vec<&&IndexEntry> = chosen.iter().filter(|q| meets(q, a)).collect();
        if a.conflict && !hit.is_empty() {
            return Err(format!("world conflict {a} hit by {}", hit[0].name));
        }
        if !a.conflict && hit.is_empty() {
            return Err(format!("world atom {a} not met"));
        }
    }
    for p in chosen {
        for d in &p.depends {
            let hit: Vec<&&IndexEntry> = chosen
                .iter()
                .filter(|q| !std::ptr::eq(**q, *p) && meets(q, d))
                .collect();
            if d.conflict && !hit.is_empty() {
                return Err(format!("{} conflicts with {} ({d})", p.name, hit[0].name));
            }
            if !d.conflict && hit.is_empty() && !meets(p, d) {
                return Err(format!("{} {}: dependency {d} not met", p.name, p.version));
            }
        }
    }
    Ok(())
}

/// Whether every `i:` atom of `e` is met by `chosen`.
pub fn install_if_met(e: &IndexEntry, chosen: &[&IndexEntry]) -> bool {
    !e.install_if.is_empty()
        && e.install_if.iter().all(|a| {
            let hit = chosen.iter().any(|q| meets(q, a));
            if a.conflict { !hit } else { hit }
        })
}
