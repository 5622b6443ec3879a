//! The files that tell scanners which OS an image is, written as the distribution's own package
//! would when no installed package ships them.
//!
//! Each scanner places an image its own way: trivy's Debian detector reads only
//! `/etc/debian_version` (its os-release reader does not accept `ID=debian`), its Alpine detector
//! `/etc/alpine-release`, and Wolfi and Chainguard it finds by os-release; syft reads os-release.
//! An image no scanner can place gets no OS advisories at all. Nothing here is guessed: the
//! distribution and its version come from the signed repository data, and a file whose content
//! cannot be derived from it is not written.
//!
//! - **Debian** ([`debian`]): the repositories' signed `Release` with `Origin: Debian` whose
//!   `Version:` is a point release (`12.12`: the main suite; `-updates` says `12-updates`,
//!   `-security` says `12`) gives `/etc/debian_version` (`12.12`, as base-files writes it) and
//!   `/usr/lib/os-release` with its `/etc/os-release` link (base-files' text, with
//!   `DEBIAN_VERSION_FULL` from Debian 13 on). Without a point release (testing, unstable) no
//!   `debian_version` is written; without any version, an os-release without `VERSION_ID`.
//! - **APK** ([`apk`]): the distribution is the one whose release package a signed index of the
//!   configured repositories lists — `alpine-release` or `alpine-base` (Alpine), `wolfi-baselayout`
//!   (Wolfi), `chainguard-baselayout` (Chainguard) — and its version is that package's `pkgver`
//!   (the package version without `-rN`), which is exactly what those packages write. Alpine gets
//!   `/etc/alpine-release` and `/etc/os-release` as `alpine-base`'s APKBUILD writes them; Wolfi
//!   and Chainguard an `/etc/os-release` as their baselayout writes it. The index `DESCRIPTION`
//!   (Alpine's is a git description such as `v3.16.3-13-g4d933a1fa3`, Wolfi's is empty), the
//!   repository URL and the key names are not used: they are not the distribution's own word.
//!   Repositories without a `@tag` are asked first, in config order, then tagged ones. An index
//!   that lists none of these packages names no distribution, and nothing is written.
//!
//! A file some installed package (or an earlier step) already put there is left alone, and a
//! release file is only written when the image's os-release, if any, names the same
//! distribution.

use crate::Error;
use crate::assemble::put_file;
use whittle_fs::{Meta, Node, Tree};

/// What [`debian`] or [`apk`] wrote: one `"/path (what)"` line each, for the build log.
pub type Written = Vec<String>;

/// Longest version written into a release file.
const MAX_VERSION_LEN: usize = 64;

/// Whether `v` is a plausible version to write into a one-line file: short, and only
/// letters, digits and `.`, `_`, `+`, `~`, `-` (a signed index could still say anything).
fn clean_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_VERSION_LEN
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~' | '-'))
}

/// Whether the tree has an os-release (file or link, at either place).
fn has_os_release(tree: &Tree) -> bool {
    tree.get("etc/os-release").is_some() || tree.get("usr/lib/os-release").is_some()
}

/// Whether `path` may be written: nothing is there yet, and the image's os-release, if it has
/// one, names `id`.
fn release_file_wanted(tree: &Tree, path: &str, id: &str) -> bool {
    tree.get(path).is_none() && (!has_os_release(tree) || crate::image::distro(tree, "").0 == id)
}

/// The Debian release the repositories give, see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianRelease {
    /// The major version (`12`), empty when no repository gives one.
    pub major: String,
    /// The point release (`12.12`), when the main suite's Release gives it.
    pub point: Option<String>,
    /// The codename (`bookworm`), empty when unknown.
    pub codename: String,
}

/// The Debian release of `releases` (the configured repositories' verified Releases, in config
/// order), or `None` when none of them is Debian's (`Origin: Debian`).
pub fn debian_release(releases: &[&whittle_deb::release::Release]) -> Option<DebianRelease> {
    let debian: Vec<_> = releases
        .iter()
        .filter(|r| r.origin.as_deref() == Some("Debian"))
        .collect();
    let is_point = |v: &str| {
        let mut parts = v.split('.');
        parts.clone().count() >= 2
            && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let codename = |r: &whittle_deb::release::Release| {
        // `bookworm-security`, `bookworm-updates`: the release is `bookworm`
        let c = r.codename.as_deref().unwrap_or_default();
        let c = c.split('-').next().unwrap_or_default();
        if clean_version(c) {
            c.to_string()
        } else {
            String::new()
        }
    };
    let major = |v: &str| -> String { v.chars().take_while(char::is_ascii_digit).collect() };
    let first = debian.first()?;
    if let Some(r) = debian.iter().find(|r| {
        r.version
            .as_deref()
            .is_some_and(|v| is_point(v) && v.len() <= MAX_VERSION_LEN)
    }) {
        let v = r.version.as_deref().unwrap_or_default();
        return Some(DebianRelease {
            major: major(v),
            point: Some(v.to_string()),
            codename: codename(r),
        });
    }
    let with_major = debian
        .iter()
        .find(|r| r.version.as_deref().is_some_and(|v| !major(v).is_empty()));
    let r = with_major.unwrap_or(first);
    Some(DebianRelease {
        major: r.version.as_deref().map(major).unwrap_or_default(),
        point: None,
        codename: codename(r),
    })
}

/// base-files' `os-release` for `rel`.
fn debian_os_release(rel: &DebianRelease) -> String {
    let DebianRelease {
        major,
        point,
        codename,
    } = rel;
    let mut text = String::new();
    if major.is_empty() {
        text.push_str("PRETTY_NAME=\"Debian GNU/Linux\"\nNAME=\"Debian GNU/Linux\"\n");
    } else {
        let named = if codename.is_empty() {
            major.clone()
        } else {
            format!("{major} ({codename})")
        };
        text.push_str(&format!(
            "PRETTY_NAME=\"Debian GNU/Linux {named}\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"{major}\"\nVERSION=\"{named}\"\n"
        ));
    }
    if !codename.is_empty() {
        text.push_str(&format!("VERSION_CODENAME={codename}\n"));
    }
    // base-files writes the point release into os-release from Debian 13 (trixie) on
    if let Some(p) = point
        && major.parse::<u32>().is_ok_and(|m| m >= 13)
    {
        text.push_str(&format!("DEBIAN_VERSION_FULL={p}\n"));
    }
    text.push_str(
        "ID=debian\nHOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\n\
         BUG_REPORT_URL=\"https://bugs.debian.org/\"\n",
    );
    text
}

/// Writes `/etc/debian_version` and `/usr/lib/os-release` (+ the `/etc/os-release` link) from
/// the repositories' Releases where no package shipped them (base-files does); see the module
/// documentation.
pub fn debian(
    tree: &mut Tree,
    releases: &[&whittle_deb::release::Release],
) -> Result<Written, Error> {
    let mut written = Vec::new();
    let Some(rel) = debian_release(releases) else {
        return Ok(written);
    };
    if !has_os_release(tree) {
        put_file(
            tree,
            "usr/lib/os-release",
            debian_os_release(&rel).into_bytes(),
            0o644,
        )?;
        tree.insert(
            "etc/os-release",
            Node::symlink("../usr/lib/os-release"),
            Meta::root(0o777),
        )?;
        let what = match rel.major.as_str() {
            "" => "Debian".to_string(),
            m => format!("Debian {m}"),
        };
        written.push(format!("/usr/lib/os-release ({what})"));
    }
    if let Some(point) = &rel.point
        && release_file_wanted(tree, "etc/debian_version", "debian")
    {
        put_file(
            tree,
            "etc/debian_version",
            format!("{point}\n").into_bytes(),
            0o644,
        )?;
        written.push(format!("/etc/debian_version ({point})"));
    }
    Ok(written)
}

/// An APK distribution: its os-release `ID` and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkDistro {
    /// `alpine`, `wolfi` or `chainguard`.
    pub id: &'static str,
    /// The release package's `pkgver` (`3.20.3`, `20230201`).
    pub version: String,
    /// The package it was read from (`alpine-base`).
    pub package: String,
}

/// The release packages of the APK distributions, most specific first: `(package, ID)`.
pub const APK_RELEASE_PACKAGES: &[(&str, &str)] = &[
    ("alpine-release", "alpine"),
    ("alpine-base", "alpine"),
    ("wolfi-baselayout", "wolfi"),
    ("chainguard-baselayout", "chainguard"),
];

/// The distribution of the verified indexes `indexes` (`(index, tagged)`, in config order):
/// the first untagged index, then the first tagged one, that lists a package of
/// [`APK_RELEASE_PACKAGES`], with that package's highest `pkgver` there. `None` when no index
/// lists one (or its version is not a plain version).
pub fn apk_distro(indexes: &[(&whittle_apk::index::Index, bool)]) -> Option<ApkDistro> {
    first_distro(
        indexes
            .iter()
            .map(|(index, tagged)| (index_distro(index), *tagged)),
    )
}

/// The distribution one index gives: the first of [`APK_RELEASE_PACKAGES`] it lists (with a
/// plain version), at its highest version.
pub fn index_distro(index: &whittle_apk::index::Index) -> Option<ApkDistro> {
    APK_RELEASE_PACKAGES.iter().find_map(|(name, _)| {
        let newest = index
            .entries
            .iter()
            .filter(|e| e.name == *name)
            .max_by(|a, b| a.version.cmp(&b.version))?;
        distro_of_package(name, newest.version.as_str())
    })
}

/// The distribution release package `name` at version `full` (`3.20.3-r0`) stands for.
pub fn distro_of_package(name: &str, full: &str) -> Option<ApkDistro> {
    let id = APK_RELEASE_PACKAGES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, id)| *id)?;
    // `3.20.3-r0` → `3.20.3`: the `-rN` is the package's own release
    let pkgver = match full.rsplit_once("-r") {
        Some((v, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => v,
        _ => full,
    };
    clean_version(pkgver).then(|| ApkDistro {
        id,
        version: pkgver.to_string(),
        package: format!("{name} {full}"),
    })
}

/// The first distribution of untagged repositories, else of tagged ones (`(found, tagged)` in
/// config order).
pub fn first_distro(found: impl Iterator<Item = (Option<ApkDistro>, bool)>) -> Option<ApkDistro> {
    let found: Vec<(Option<ApkDistro>, bool)> = found.collect();
    let untagged = found.iter().filter(|(_, tagged)| !tagged);
    let tagged = found.iter().filter(|(_, tagged)| *tagged);
    untagged.chain(tagged).find_map(|(d, _)| d.clone())
}

/// The `/etc/os-release` the distribution's release package writes.
fn apk_os_release(d: &ApkDistro) -> String {
    let v = &d.version;
    match d.id {
        "alpine" => {
            // alpine-base's APKBUILD: `v3.20`, or `edge` for a pre-release
            let rel = if ["_alpha", "_beta", "_pre"].iter().any(|p| v.contains(p)) {
                "edge".to_string()
            } else {
                let mm: Vec<&str> = v.split('.').take(2).collect();
                format!("v{}", mm.join("."))
            };
            format!(
                "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID={v}\nPRETTY_NAME=\"Alpine Linux {rel}\"\n\
                 HOME_URL=\"https://alpinelinux.org/\"\n\
                 BUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n"
            )
        }
        "wolfi" => format!(
            "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"{v}\"\nHOME_URL=\"https://wolfi.dev\"\n"
        ),
        _ => format!(
            "ID=chainguard\nNAME=\"Chainguard\"\nPRETTY_NAME=\"Chainguard\"\nVERSION_ID=\"{v}\"\nHOME_URL=\"https://chainguard.dev/\"\n"
        ),
    }
}

/// Writes what the distribution's release package would (see the module documentation) where no
/// installed package shipped it; returns the distribution found and what was written.
pub fn apk(
    tree: &mut Tree,
    indexes: &[(&whittle_apk::index::Index, bool)],
) -> Result<(Option<ApkDistro>, Written), Error> {
    apk_files(tree, apk_distro(indexes))
}

/// Writes the OS files of distribution `distro` (see [`apk`]).
pub fn apk_files(
    tree: &mut Tree,
    distro: Option<ApkDistro>,
) -> Result<(Option<ApkDistro>, Written), Error> {
    let mut written = Vec::new();
    let Some(d) = distro else {
        return Ok((None, written));
    };
    if !has_os_release(tree) {
        put_file(
            tree,
            "etc/os-release",
            apk_os_release(&d).into_bytes(),
            0o644,
        )?;
        written.push(format!("/etc/os-release ({} {})", d.id, d.version));
    }
    if d.id == "alpine" && release_file_wanted(tree, "etc/alpine-release", "alpine") {
        put_file(
            tree,
            "etc/alpine-release",
            format!("{}\n", d.version).into_bytes(),
            0o644,
        )?;
        written.push(format!("/etc/alpine-release ({})", d.version));
    }
    Ok((Some(d), written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use whittle_deb::release::Release;

    fn release(origin: &str, label: &str, version: Option<&str>, codename: &str) -> Release {
        let mut text = format!("Origin: {origin}\nLabel: {label}\nCodename: {codename}\n");
        if let Some(v) = version {
            text.push_str(&format!("Version: {v}\n"));
        }
        text.push_str("SHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 0 main/binary-amd64/Packages\n");
        Release::parse_unsigned("Release", &text).unwrap()
    }

    fn text(tree: &Tree, path: &str) -> Option<String> {
        match &tree.get(path)?.node {
            Node::File(d) => Some(String::from_utf8(d.read_to_vec().unwrap()).unwrap()),
            Node::Symlink(t) => Some(format!("-> {t}")),
            _ => None,
        }
    }

    /// base-files 12.4+deb12u12's own files, byte for byte.
    #[test]
    fn debian_12_as_base_files_writes_it() {
        let main = release("Debian", "Debian", Some("12.12"), "bookworm");
        let mut tree = Tree::new();
        let written = debian(&mut tree, &[&main]).unwrap();
        assert_eq!(
            text(&tree, "etc/debian_version").as_deref(),
            Some("12.12\n")
        );
        assert_eq!(
            text(&tree, "usr/lib/os-release").as_deref(),
            Some(
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                 VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n\
                 HOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\n\
                 BUG_REPORT_URL=\"https://bugs.debian.org/\"\n"
            )
        );
        assert_eq!(
            text(&tree, "etc/os-release").as_deref(),
            Some("-> ../usr/lib/os-release")
        );
        assert_eq!(
            written,
            [
                "/usr/lib/os-release (Debian 12)",
                "/etc/debian_version (12.12)"
            ]
        );
        assert_eq!(
            tree.get("etc/debian_version").unwrap().meta,
            Meta::root(0o644)
        );
    }

    /// trixie's base-files adds DEBIAN_VERSION_FULL; the updates and security suites (listed
    /// first) give no point release, the main suite does.
    #[test]
    fn debian_13_point_release_comes_from_the_main_suite() {
        let updates = release("Debian", "Debian", Some("13-updates"), "trixie-updates");
        let security = release("Debian", "Debian-Security", Some("13"), "trixie-security");
        let main = release("Debian", "Debian", Some("13.1"), "trixie");
        let mut tree = Tree::new();
        debian(&mut tree, &[&updates, &security, &main]).unwrap();
        assert_eq!(text(&tree, "etc/debian_version").as_deref(), Some("13.1\n"));
        let os = text(&tree, "usr/lib/os-release").unwrap();
        assert!(
            os.contains("VERSION_CODENAME=trixie\nDEBIAN_VERSION_FULL=13.1\nID=debian\n"),
            "{os}"
        );
        // without the main suite: the major version, but no point release is invented
        let mut tree = Tree::new();
        let written = debian(&mut tree, &[&updates, &security]).unwrap();
        assert!(tree.get("etc/debian_version").is_none());
        let os = text(&tree, "usr/lib/os-release").unwrap();
        assert!(
            os.contains(
                "VERSION_ID=\"13\"\nVERSION=\"13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n"
            ),
            "{os}"
        );
        assert_eq!(written, ["/usr/lib/os-release (Debian 13)"]);
        // testing: no Version at all
        let testing = release("Debian", "Debian", None, "forky");
        let mut tree = Tree::new();
        debian(&mut tree, &[&testing]).unwrap();
        assert!(tree.get("etc/debian_version").is_none());
        assert!(text(&tree, "usr/lib/os-release").unwrap().starts_with(
            "PRETTY_NAME=\"Debian GNU/Linux\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=forky\n"
        ));
        // not Debian's: nothing
        let other = release("Example", "Example", Some("1.2"), "x");
        let mut tree = Tree::new();
        assert!(debian(&mut tree, &[&other]).unwrap().is_empty());
        assert!(tree.is_empty());
    }

    #[test]
    fn packaged_files_are_left_alone() {
        let main = release("Debian", "Debian", Some("12.12"), "bookworm");
        // base-files installed: both there, nothing written
        let mut tree = Tree::new();
        put_file(&mut tree, "etc/debian_version", b"12.11\n".to_vec(), 0o644).unwrap();
        put_file(
            &mut tree,
            "usr/lib/os-release",
            b"ID=debian\n".to_vec(),
            0o644,
        )
        .unwrap();
        assert!(debian(&mut tree, &[&main]).unwrap().is_empty());
        assert_eq!(
            text(&tree, "etc/debian_version").as_deref(),
            Some("12.11\n")
        );
        // an os-release of another distribution: no debian_version beside it
        let mut tree = Tree::new();
        put_file(&mut tree, "etc/os-release", b"ID=ubuntu\n".to_vec(), 0o644).unwrap();
        assert!(debian(&mut tree, &[&main]).unwrap().is_empty());
        assert!(tree.get("etc/debian_version").is_none());
    }

    #[test]
    fn versions_written_are_plain() {
        for bad in ["", "12.12\nID=x", "12 12", "../x", &"1".repeat(65), "-1"] {
            assert!(!clean_version(bad), "{bad:?}");
        }
        assert!(clean_version("3.21.0_alpha20240606"));
        // a Release whose Version is not a plain point release gives none
        let odd = release("Debian", "Debian", Some("12.12.x"), "book\tworm");
        let rel = debian_release(&[&odd]).unwrap();
        assert_eq!(rel.point, None);
        assert_eq!(rel.major, "12");
        assert_eq!(rel.codename, "");
    }

    fn index(entries: &[(&str, &str)]) -> whittle_apk::index::Index {
        let text: String = entries
            .iter()
            .map(|(n, v)| format!("P:{n}\nV:{v}\nA:x86_64\n\n"))
            .collect();
        whittle_apk::index::Index {
            origin: "test".into(),
            description: String::new(),
            entries: whittle_apk::index::parse_apkindex_text("test", text.as_bytes()).unwrap(),
            verified_by: None,
        }
    }

    #[test]
    fn alpine_as_alpine_base_writes_it() {
        let main = index(&[
            ("musl", "1.2.5-r0"),
            ("alpine-base", "3.20.3-r0"),
            ("alpine-base", "3.20.2-r0"),
        ]);
        let mut tree = Tree::new();
        let (d, written) = apk(&mut tree, &[(&main, false)]).unwrap();
        let d = d.unwrap();
        assert_eq!((d.id, d.version.as_str()), ("alpine", "3.20.3"));
        assert_eq!(
            text(&tree, "etc/alpine-release").as_deref(),
            Some("3.20.3\n")
        );
        assert_eq!(
            text(&tree, "etc/os-release").as_deref(),
            Some(
                "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n\
                 HOME_URL=\"https://alpinelinux.org/\"\n\
                 BUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n"
            )
        );
        assert_eq!(
            written,
            [
                "/etc/os-release (alpine 3.20.3)",
                "/etc/alpine-release (3.20.3)"
            ]
        );
        let edge = index(&[("alpine-release", "3.21.0_alpha20240606-r0")]);
        let mut tree = Tree::new();
        apk(&mut tree, &[(&edge, false)]).unwrap();
        assert!(
            text(&tree, "etc/os-release")
                .unwrap()
                .contains("PRETTY_NAME=\"Alpine Linux edge\"\n")
        );
    }

    #[test]
    fn wolfi_and_which_repository_decides() {
        let wolfi = index(&[("wolfi-baselayout", "20230201-r15")]);
        let extra = index(&[("alpine-base", "3.20.3-r0")]);
        let none = index(&[("hello", "1-r0")]);
        // the tagged repository is asked only when no untagged one names a distribution
        let mut tree = Tree::new();
        let (d, _) = apk(
            &mut tree,
            &[(&extra, true), (&none, false), (&wolfi, false)],
        )
        .unwrap();
        assert_eq!(d.unwrap().id, "wolfi");
        assert_eq!(
            text(&tree, "etc/os-release").as_deref(),
            Some(
                "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\nHOME_URL=\"https://wolfi.dev\"\n"
            )
        );
        assert!(tree.get("etc/alpine-release").is_none());
        let mut tree = Tree::new();
        let (d, written) = apk(&mut tree, &[(&none, false)]).unwrap();
        assert!(d.is_none() && written.is_empty() && tree.is_empty());
        // a package's own os-release (here: another distribution) stays, and no alpine-release
        let mut tree = Tree::new();
        put_file(&mut tree, "etc/os-release", b"ID=pretend\n".to_vec(), 0o644).unwrap();
        let (_, written) = apk(&mut tree, &[(&extra, false)]).unwrap();
        assert!(written.is_empty());
        assert!(tree.get("etc/alpine-release").is_none());
    }
}
