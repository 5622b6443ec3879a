//! What package scripts would have done, done natively after the packages are installed
//! (whittle runs no script): the links Debian's `update-alternatives` makes, and the CA bundle
//! `update-ca-certificates` writes (Debian's `ca-certificates` postinst, Alpine's trigger).

use crate::{Error, Events};
use whittle_deb::alternatives::Alternative;
use whittle_fs::{Meta, Node, Tree};

/// Does every native equivalent on an assembled tree (after the config's `paths`, so what the
/// config adds counts) and says in the build log what it did. APK builds pass no alternatives.
pub fn apply(
    tree: &mut Tree,
    alternatives: &[Alternative],
    events: &dyn Events,
) -> Result<(), Error> {
    let made = apply_alternatives(tree, alternatives)?;
    if !made.is_empty() {
        let list: Vec<String> = made
            .iter()
            .map(|(name, path)| format!("{name} -> {path}"))
            .collect();
        events.step(&format!(
            "assemble  alternatives, as update-alternatives would set them: {}",
            list.join(", ")
        ));
    }
    let certs = ca_certificates(tree)?;
    if certs > 0 {
        events.step(&format!(
            "assemble  {CA_BUNDLE} with {certs} certificates, as update-ca-certificates would write it"
        ));
    }
    Ok(())
}

/// Makes the links `update-alternatives` would: for each generic name, the installed alternative
/// of highest priority (the first of equal ones) wins; `LINK -> /etc/alternatives/NAME ->
/// PATH`, and the same for each slave whose path is in the image. A link path something else
/// already occupies (a package's own file) is left alone. Returns `name -> path` of each made.
pub fn apply_alternatives(
    tree: &mut Tree,
    alternatives: &[Alternative],
) -> Result<Vec<(String, String)>, Error> {
    let present = |tree: &Tree, p: &str| tree.get(p.trim_start_matches('/')).is_some();
    let mut best: std::collections::BTreeMap<&str, &Alternative> = Default::default();
    for a in alternatives {
        if !present(tree, &a.path) {
            continue;
        }
        match best.get(a.name.as_str()) {
            Some(b) if b.priority >= a.priority => {}
            _ => {
                best.insert(&a.name, a);
            }
        }
    }
    let mut made = Vec::new();
    for (name, a) in best {
        let link = |tree: &mut Tree, link: &str, name: &str, path: &str| -> Result<bool, Error> {
            let link = link.trim_start_matches('/');
            if tree.get(link).is_some() {
                return Ok(false);
            }
            let admin = format!("etc/alternatives/{name}");
            tree.insert(&admin, Node::symlink(path.to_string()), Meta::root(0o777))?;
            tree.insert(link, Node::symlink(format!("/{admin}")), Meta::root(0o777))?;
            Ok(true)
        };
        if !link(tree, &a.link, name, &a.path)? {
            continue;
        }
        for (l, n, p) in &a.slaves {
            if present(tree, p) {
                link(tree, l, n, p)?;
            }
        }
        made.push((name.to_string(), a.path.clone()));
    }
    Ok(made)
}

/// Where Debian's `ca-certificates` keeps the certificates it ships, and where local ones go.
const CA_DIRS: [&str; 2] = [
    "usr/share/ca-certificates/",
    "usr/local/share/ca-certificates/",
];
/// The bundle `update-ca-certificates` writes.
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// Writes what `update-ca-certificates` would after `ca-certificates` is installed: every
/// `*.crt` under `/usr/share/ca-certificates` (in byte order of their paths, as the package's
/// `postinst` lists them in `/etc/ca-certificates.conf`, all selected), then those under
/// `/usr/local/share/ca-certificates`, concatenated into `/etc/ssl/certs/ca-certificates.crt`,
/// with a `/etc/ssl/certs/NAME.pem` link to each. OpenSSL's hashed names are not made (the
/// bundle is what TLS libraries read). Nothing happens when no certificate is installed or a
/// package already ships the bundle. Returns the number of certificates bundled.
pub fn ca_certificates(tree: &mut Tree) -> Result<usize, Error> {
    if tree.get(CA_BUNDLE).is_some() {
        return Ok(0);
    }
    let mut certs: Vec<(usize, String, Vec<u8>)> = tree
        .walk()
        .filter_map(|(path, entry)| {
            let dir = CA_DIRS.iter().position(|d| path.starts_with(d))?;
            match &entry.node {
                Node::File(data) if path.ends_with(".crt") => {
                    Some((dir, path.to_string(), data.to_vec()))
                }
                _ => None,
            }
        })
        .collect();
    if certs.is_empty() {
        return Ok(0);
    }
    certs.sort();
    let mut bundle = Vec::new();
    let mut conf = String::from(
        "# Written by whittle as ca-certificates' postinst would: every certificate selected.\n",
    );
    for (dir, path, data) in &certs {
        bundle.extend_from_slice(data);
        if !bundle.ends_with(b"\n") {
            bundle.push(b'\n');
        }
        let rel = &path[CA_DIRS[*dir].len()..];
        if *dir == 0 {
            conf.push_str(rel);
            conf.push('\n');
        }
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let link = format!("etc/ssl/certs/{}.pem", name.trim_end_matches(".crt"));
        if tree.get(&link).is_none() {
            tree.insert(&link, Node::symlink(format!("/{path}")), Meta::root(0o777))?;
        }
    }
    tree.insert(CA_BUNDLE, Node::file(bundle), Meta::root(0o644))?;
    if tree.get("etc/ca-certificates.conf").is_none() {
        tree.insert(
            "etc/ca-certificates.conf",
            Node::file(conf.into_bytes()),
            Meta::root(0o644),
        )?;
    }
    Ok(certs.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::{put_file, skeleton};

    #[test]
    fn alternatives_pick_the_highest_priority_installed_one() {
        let alt = |link: &str, name: &str, path: &str, priority: i64| Alternative {
            link: link.into(),
            name: name.into(),
            path: path.into(),
            priority,
            slaves: vec![(
                format!("{link}.1"),
                format!("{name}.1"),
                format!("{path}.1"),
            )],
        };
        let mut tree = skeleton("amd64").unwrap();
        for f in [
            "usr/bin/mawk",
            "usr/bin/gawk",
            "usr/bin/gawk.1",
            "usr/bin/gcc",
            "usr/bin/vi",
        ] {
            put_file(&mut tree, f, b"x".to_vec(), 0o755).unwrap();
        }
        let made = apply_alternatives(
            &mut tree,
            &[
                alt("/usr/bin/awk", "awk", "/usr/bin/mawk", 5),
                alt("/usr/bin/awk", "awk", "/usr/bin/gawk", 10),
                alt("/usr/bin/cc", "cc", "/usr/bin/gcc", 20),
                alt("/usr/bin/ghost", "ghost", "/usr/bin/not-installed", 99),
                // a package's own file at the link path stays
                alt("/usr/bin/vi", "vi", "/usr/bin/gawk", 1),
            ],
        )
        .unwrap();
        assert_eq!(
            made,
            [
                ("awk".to_string(), "/usr/bin/gawk".to_string()),
                ("cc".to_string(), "/usr/bin/gcc".to_string())
            ]
        );
        let target = |p: &str| match tree.get(p).map(|e| &e.node) {
            Some(Node::Symlink(t)) => Some(t.to_string()),
            _ => None,
        };
        assert_eq!(
            target("usr/bin/awk").as_deref(),
            Some("/etc/alternatives/awk")
        );
        assert_eq!(
            target("etc/alternatives/awk").as_deref(),
            Some("/usr/bin/gawk")
        );
        // slaves only where their path is installed
        assert_eq!(
            target("usr/bin/awk.1").as_deref(),
            Some("/etc/alternatives/awk.1")
        );
        assert_eq!(target("usr/bin/cc.1"), None);
        assert!(matches!(
            tree.get("usr/bin/vi").map(|e| &e.node),
            Some(Node::File(_))
        ));
        assert!(tree.get("usr/bin/ghost").is_none());
    }

    #[test]
    fn ca_bundle_concatenates_shipped_then_local_certificates() {
        let mut tree = skeleton("amd64").unwrap();
        assert_eq!(ca_certificates(&mut tree).unwrap(), 0, "nothing installed");
        for (p, d) in [
            ("usr/share/ca-certificates/mozilla/B_Root.crt", &b"B\n"[..]),
            ("usr/share/ca-certificates/mozilla/A_Root.crt", &b"A"[..]),
            ("usr/local/share/ca-certificates/corp.crt", &b"LOCAL\n"[..]),
            (
                "usr/share/ca-certificates/mozilla/README",
                &b"not a cert"[..],
            ),
        ] {
            put_file(&mut tree, p, d.to_vec(), 0o644).unwrap();
        }
        assert_eq!(ca_certificates(&mut tree).unwrap(), 3);
        let file = |p: &str| match tree.get(p).map(|e| &e.node) {
            Some(Node::File(d)) => String::from_utf8(d.to_vec()).unwrap(),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(file(CA_BUNDLE), "A\nB\nLOCAL\n");
        assert!(
            file("etc/ca-certificates.conf").ends_with("mozilla/A_Root.crt\nmozilla/B_Root.crt\n")
        );
        assert!(matches!(
            tree.get("etc/ssl/certs/A_Root.pem").map(|e| &e.node),
            Some(Node::Symlink(t)) if &**t == "/usr/share/ca-certificates/mozilla/A_Root.crt"
        ));
        // a second run (or a package's own bundle) leaves it as it is
        assert_eq!(ca_certificates(&mut tree).unwrap(), 0);
    }
}
