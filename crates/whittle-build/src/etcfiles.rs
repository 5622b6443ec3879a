//! The `/etc` files Debian's maintainer scripts write that a runtime image needs, written
//! natively (whittle runs no script). Each is derived from the image's own files and written only
//! where nothing is yet (a package's or the config's file wins). Debian images only (those with a
//! dpkg database): the scripts are Debian's, musl ignores `nsswitch.conf`, Alpine's and Wolfi's
//! baselayout packages ship their own files, and Go's resolver reads a missing `nsswitch.conf`
//! as `hosts: files dns`.
//!
//! - `/etc/nsswitch.conf`: what libc-bin's `postinst` copies from
//!   `/usr/share/libc-bin/nsswitch.conf` (mode kept, as `cp -p`); without libc-bin, the file
//!   distroless puts into every image, static ones included ([`DISTROLESS_NSSWITCH`]): glibc's
//!   NSS without it resolves hosts `dns [!UNAVAIL=return] files` (DNS before `/etc/hosts`), and
//!   Go's resolver reads it too.
//! - `/etc/localtime` and `/etc/timezone`, when tzdata is installed: what tzdata's `config` and
//!   `postinst` write with debconf's default answer. The zone is the one an existing
//!   `/etc/localtime` link names, else the first word of an existing `/etc/timezone`, when
//!   `/usr/share/zoneinfo/ZONE` is a file of the image; otherwise `Etc/UTC`. `/etc/localtime`
//!   becomes the link `/usr/share/zoneinfo/ZONE` and `/etc/timezone` holds `ZONE`. An
//!   `/etc/localtime` that is not a link (a copied zone file) is left alone, and so is
//!   `/etc/timezone` then. (The script's renames of zones removed from tzdata are not made: such
//!   a zone is not a file of the image and gives `Etc/UTC`.)
//!
//! The C.UTF-8 locale needs nothing here: Debian 12's and 13's libc-bin ship it compiled
//! (`/usr/lib/locale/C.utf8`), so it is in the image exactly when libc-bin is.

use crate::ldcache::{file_data, link_target, lookup};
use crate::{Error, Events};
use whittle_fs::{Meta, Node, Tree};

/// `/etc/nsswitch.conf` as distroless writes it in every image (its `static/nsswitch.conf`,
/// Debian's former libc-bin default).
pub const DISTROLESS_NSSWITCH: &str = "# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.
# If you have the `glibc-doc-reference' and `info' packages installed, try:
# `info libc \"Name Service Switch\"' for information about this file.

passwd:         compat
group:          compat
shadow:         compat
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
";

/// libc-bin's default, which its `postinst` installs.
const LIBC_BIN_NSSWITCH: &str = "usr/share/libc-bin/nsswitch.conf";
const NSSWITCH: &str = "etc/nsswitch.conf";
const ZONEINFO: &str = "/usr/share/zoneinfo/";
/// tzdata's default answer (`tzdata/Areas` `Etc`, `tzdata/Zones/Etc` `UTC`).
pub const DEFAULT_ZONE: &str = "Etc/UTC";
/// Longest `/etc/timezone` read.
const MAX_TIMEZONE: usize = 4096;

/// Where `/etc/nsswitch.conf` came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nsswitch {
    /// Not a Debian image, or a package or the config put one there.
    Kept,
    /// Copied from libc-bin's default, as its `postinst` does.
    LibcBin,
    /// distroless's file (libc-bin is not installed).
    Distroless,
}

/// Writes the files (see the module documentation) and says so in the build log.
pub fn apply(tree: &mut Tree, events: &dyn Events) -> Result<(), Error> {
    match nsswitch(tree)? {
        Nsswitch::Kept => {}
        Nsswitch::LibcBin => events.step(&format!(
            "assemble  /{NSSWITCH} as libc-bin's postinst writes it (from /{LIBC_BIN_NSSWITCH})"
        )),
        Nsswitch::Distroless => events.step(&format!(
            "assemble  /{NSSWITCH} as distroless writes it (libc-bin, whose postinst writes one, is not installed)"
        )),
    }
    let written = timezone(tree)?;
    if !written.is_empty() {
        events.step(&format!(
            "assemble  {}, as tzdata's postinst writes them with its default answer",
            written.join(", ")
        ));
    }
    Ok(())
}

/// Whether `tree` is a Debian image (whittle writes its dpkg database there).
fn debian(tree: &Tree) -> bool {
    matches!(tree.get("var/lib/dpkg").map(|e| &e.node), Some(Node::Dir))
}

/// Writes `/etc/nsswitch.conf` when a Debian image has none.
pub fn nsswitch(tree: &mut Tree) -> Result<Nsswitch, Error> {
    if !debian(tree) || tree.get(NSSWITCH).is_some() {
        return Ok(Nsswitch::Kept);
    }
    // the same content (not read: it may be a handle to the package's data)
    let default = lookup(tree, LIBC_BIN_NSSWITCH, true)
        .and_then(|(_, e)| Some((file_data(tree, e)?.clone(), e.meta)));
    Ok(match default {
        Some((data, meta)) => {
            tree.insert(NSSWITCH, Node::file(data), meta)?;
            Nsswitch::LibcBin
        }
        None => {
            tree.insert(
                NSSWITCH,
                Node::file(DISTROLESS_NSSWITCH.as_bytes().to_vec()),
                Meta::root(0o644),
            )?;
            Nsswitch::Distroless
        }
    })
}

/// Writes `/etc/localtime` and `/etc/timezone` when a Debian image has tzdata (see the module
/// documentation). Returns what was written, for the build log.
pub fn timezone(tree: &mut Tree) -> Result<Vec<String>, Error> {
    let zone_file = |tree: &Tree, zone: &str| {
        !zone.is_empty()
            && !zone
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
            && lookup(tree, &format!("{ZONEINFO}{zone}"), true)
                .is_some_and(|(_, e)| file_data(tree, e).is_some())
    };
    if !debian(tree) || !zone_file(tree, DEFAULT_ZONE) {
        return Ok(Vec::new());
    }
    let localtime = tree.get("etc/localtime").map(|e| e.node.clone());
    let timezone = tree.get("etc/timezone").map(|e| e.node.clone());
    let named = match &localtime {
        // tzdata's `config` reads the link's target, made absolute from /etc without resolving
        // links (`realpath -m -s`)
        Some(Node::Symlink(target)) => link_target("etc/localtime", target)
            .and_then(|p| p.strip_prefix(&ZONEINFO[1..]).map(str::to_string)),
        Some(_) => return Ok(Vec::new()),
        None => match &timezone {
            Some(Node::File(data)) => {
                let head = data.bytes_at_most(MAX_TIMEZONE as u64).unwrap_or_default();
                let line = head
                    .split(|&c| c == b'\n')
                    .next()
                    .and_then(|l| std::str::from_utf8(l).ok())
                    .unwrap_or_default();
                let word = line.split(' ').next().unwrap_or_default();
                let word = word.strip_prefix('/').unwrap_or(word);
                Some(word.strip_suffix('/').unwrap_or(word).to_string())
            }
            _ => None,
        },
    };
    let zone = named
        .filter(|z| z.contains('/') && zone_file(tree, z))
        .unwrap_or_else(|| DEFAULT_ZONE.to_string());
    let mut written = Vec::new();
    if localtime.is_none() {
        tree.insert(
            "etc/localtime",
            Node::symlink(format!("{ZONEINFO}{zone}")),
            Meta::root(0o777),
        )?;
        written.push(format!("/etc/localtime -> {ZONEINFO}{zone}"));
    }
    if timezone.is_none() {
        tree.insert(
            "etc/timezone",
            Node::file(format!("{zone}\n").into_bytes()),
            Meta::root(0o644),
        )?;
        written.push(format!("/etc/timezone ({zone})"));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::{put_file, skeleton};

    fn target(tree: &Tree, p: &str) -> Option<String> {
        match tree.get(p).map(|e| &e.node) {
            Some(Node::Symlink(t)) => Some(t.to_string()),
            _ => None,
        }
    }

    fn text(tree: &Tree, p: &str) -> Option<String> {
        match tree.get(p).map(|e| &e.node) {
            Some(Node::File(d)) => Some(String::from_utf8(d.read_to_vec().unwrap()).unwrap()),
            _ => None,
        }
    }

    fn with_tzdata() -> Tree {
        let mut t = skeleton("amd64").unwrap();
        for z in ["Etc/UTC", "Europe/Berlin"] {
            put_file(
                &mut t,
                &format!("usr/share/zoneinfo/{z}"),
                b"TZif".to_vec(),
                0o644,
            )
            .unwrap();
        }
        t
    }

    #[test]
    fn nsswitch_from_libc_bin_else_distroless_and_never_over_a_file() {
        let mut t = skeleton("amd64").unwrap();
        assert_eq!(nsswitch(&mut t).unwrap(), Nsswitch::Distroless);
        let got = text(&t, NSSWITCH).unwrap();
        assert_eq!(got, DISTROLESS_NSSWITCH);
        assert!(got.contains("\nhosts:          files dns\n"));
        assert_eq!(t.get(NSSWITCH).unwrap().meta, Meta::root(0o644));
        assert_eq!(nsswitch(&mut t).unwrap(), Nsswitch::Kept, "second run");

        let mut t = skeleton("amd64").unwrap();
        t.insert(
            LIBC_BIN_NSSWITCH,
            Node::file(b"passwd: files\n".to_vec()),
            Meta::root(0o600),
        )
        .unwrap();
        assert_eq!(nsswitch(&mut t).unwrap(), Nsswitch::LibcBin);
        assert_eq!(text(&t, NSSWITCH).as_deref(), Some("passwd: files\n"));
        assert_eq!(t.get(NSSWITCH).unwrap().meta.mode, 0o600, "cp -p");

        // an APK image (no dpkg database) gets none
        let mut t = Tree::new();
        assert_eq!(nsswitch(&mut t).unwrap(), Nsswitch::Kept);
        assert!(t.get(NSSWITCH).is_none());
    }

    #[test]
    fn tzdata_defaults_to_utc() {
        let mut t = skeleton("amd64").unwrap();
        assert!(timezone(&mut t).unwrap().is_empty(), "no tzdata, nothing");
        assert!(t.get("etc/localtime").is_none());

        let mut t = with_tzdata();
        let written = timezone(&mut t).unwrap();
        assert_eq!(
            written,
            [
                "/etc/localtime -> /usr/share/zoneinfo/Etc/UTC",
                "/etc/timezone (Etc/UTC)"
            ]
        );
        assert_eq!(
            target(&t, "etc/localtime").as_deref(),
            Some("/usr/share/zoneinfo/Etc/UTC")
        );
        assert_eq!(text(&t, "etc/timezone").as_deref(), Some("Etc/UTC\n"));
        assert!(timezone(&mut t).unwrap().is_empty(), "second run");
    }

    #[test]
    fn tzdata_follows_what_the_config_set() {
        // a link the config made names the zone: /etc/timezone follows it
        let mut t = with_tzdata();
        t.insert(
            "etc/localtime",
            Node::symlink("../usr/share/zoneinfo/./Europe/Berlin"),
            Meta::root(0o777),
        )
        .unwrap();
        assert_eq!(timezone(&mut t).unwrap(), ["/etc/timezone (Europe/Berlin)"]);
        assert_eq!(text(&t, "etc/timezone").as_deref(), Some("Europe/Berlin\n"));

        // /etc/timezone names it: the link follows
        let mut t = with_tzdata();
        put_file(
            &mut t,
            "etc/timezone",
            b"/Europe/Berlin/ x\n".to_vec(),
            0o644,
        )
        .unwrap();
        timezone(&mut t).unwrap();
        assert_eq!(
            target(&t, "etc/localtime").as_deref(),
            Some("/usr/share/zoneinfo/Europe/Berlin")
        );
        assert_eq!(
            text(&t, "etc/timezone").as_deref(),
            Some("/Europe/Berlin/ x\n")
        );

        // a zone the image does not have, or one climbing out: the default
        for bad in ["Mars/Olympus", "../../../etc/passwd", "Etc"] {
            let mut t = with_tzdata();
            put_file(
                &mut t,
                "etc/timezone",
                format!("{bad}\n").into_bytes(),
                0o644,
            )
            .unwrap();
            timezone(&mut t).unwrap();
            assert_eq!(
                target(&t, "etc/localtime").as_deref(),
                Some("/usr/share/zoneinfo/Etc/UTC"),
                "{bad}"
            );
        }

        // a copied zone file is left alone, and /etc/timezone is not invented beside it
        let mut t = with_tzdata();
        put_file(&mut t, "etc/localtime", b"TZif".to_vec(), 0o644).unwrap();
        assert!(timezone(&mut t).unwrap().is_empty());
        assert!(t.get("etc/timezone").is_none());
    }
}
