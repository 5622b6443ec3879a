//! The OS an image is built from: `os-release` (freedesktop.org) and the distributions' own
//! release files, read the way the scanners read them.
//!
//! Scanners place an image each their own way. syft reads `/etc/os-release`, else
//! `/usr/lib/os-release`. trivy's Debian detector reads only `/etc/debian_version` (its
//! os-release reader does not accept `ID=debian`) and reports its first line (`12.12`) as the
//! version; its Alpine detector reads `/etc/alpine-release` (and os-release); Wolfi and Chainguard
//! it finds by os-release. [`OsRelease::detect`] reads the same files in the same order: the
//! family and `VERSION_ID` from os-release (as syft), the point release from the distribution's
//! release file (as trivy), and, without an os-release, the family and version from the release
//! file alone (as trivy).

use std::collections::BTreeMap;

use serde::Serialize;

/// The release files of the distributions whose scanners read one, with the os-release `ID`
/// each belongs to: `(path inside the image, ID)`.
pub const RELEASE_FILES: &[(&str, &str)] = &[
    ("etc/debian_version", "debian"),
    ("etc/alpine-release", "alpine"),
];

/// Longest release-file version kept (`12.12`, `bookworm/sid`, `3.21.0_alpha20240606`).
pub const MAX_RELEASE_LEN: usize = 64;

/// The fields of `os-release` a scanner needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `ID` (`debian`, `alpine`, `wolfi`, `chainguard`, `ubuntu`…), lowercase.
    pub id: String,
    /// `VERSION_ID` (`12`, `3.10.4`), empty when absent (rolling distros).
    pub version_id: String,
    /// `VERSION_CODENAME` (`bookworm`), empty when absent.
    pub version_codename: String,
    /// `PRETTY_NAME`, empty when absent.
    pub pretty_name: String,
    /// The first line of the distribution's own release file (`/etc/debian_version`: `12.12`,
    /// `/etc/alpine-release`: `3.20.3`), the version trivy reports; empty when the image has
    /// none (or it belongs to another distribution than os-release names).
    pub release: String,
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let inner = if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl OsRelease {
    /// Parses `os-release` text; unknown lines and comments are ignored.
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = unquote(v);
            match k.trim() {
                "ID" => os.id = v.to_ascii_lowercase(),
                "VERSION_ID" => os.version_id = v,
                "VERSION_CODENAME" => os.version_codename = v,
                "PRETTY_NAME" => os.pretty_name = v,
                _ => {}
            }
        }
        os
    }

    /// The OS of an image from its files (path inside the image, no leading `/` → content):
    /// os-release (`etc/os-release`, else `usr/lib/os-release`) and the release files of
    /// [`RELEASE_FILES`]. os-release gives the family and `VERSION_ID`; the release file of that
    /// family gives [`OsRelease::release`]. Without an os-release, the first release file found
    /// gives the family and the version (`VERSION_ID` is then the release, when it starts with a
    /// digit). `None` when the image has neither.
    pub fn detect(files: &BTreeMap<String, Vec<u8>>) -> Option<OsRelease> {
        let os_release = files
            .get("etc/os-release")
            .or_else(|| files.get("usr/lib/os-release"))
            .map(|b| OsRelease::parse(&String::from_utf8_lossy(b)));
        let release_of = |id: &str| {
            RELEASE_FILES
                .iter()
                .filter(|(_, of)| *of == id)
                .find_map(|(path, _)| files.get(*path).and_then(|b| release_line(b)))
        };
        match os_release {
            Some(mut os) => {
                if let Some(r) = release_of(&os.id) {
                    os.release = r;
                }
                Some(os)
            }
            None => RELEASE_FILES.iter().find_map(|(path, id)| {
                let release = release_line(files.get(*path)?)?;
                Some(OsRelease {
                    id: (*id).to_string(),
                    version_id: if release.starts_with(|c: char| c.is_ascii_digit()) {
                        release.clone()
                    } else {
                        String::new()
                    },
                    release,
                    ..OsRelease::default()
                })
            }),
        }
    }

    /// The OSV ecosystems whose advisories apply to this OS, most specific first:
    /// `Debian:12`, `Alpine:v3.18` (`Alpine:edge` for a pre-release), `Wolfi`,
    /// `Chainguard` + `Wolfi`, `Ubuntu:22.04`. Empty for an OS without known data.
    pub fn ecosystems(&self) -> Vec<String> {
        let major_minor = |v: &str| {
            let mut parts = v.split('.');
            match (parts.next(), parts.next()) {
                (Some(a), Some(b)) => format!("{a}.{}", b.split('_').next().unwrap_or(b)),
                (Some(a), None) => a.to_string(),
                _ => String::new(),
            }
        };
        match self.id.as_str() {
            "debian" => {
                let major = self.version_id.split('.').next().unwrap_or("");
                if major.is_empty() {
                    Vec::new()
                } else {
                    vec![format!("Debian:{major}")]
                }
            }
            "alpine" => {
                if self.version_id.contains("_alpha") || self.version_id.is_empty() {
                    vec!["Alpine:edge".to_string()]
                } else {
                    vec![format!("Alpine:v{}", major_minor(&self.version_id))]
                }
            }
            "wolfi" => vec!["Wolfi".to_string()],
            "chainguard" => vec!["Chainguard".to_string(), "Wolfi".to_string()],
            "ubuntu" if !self.version_id.is_empty() => {
                vec![format!("Ubuntu:{}", self.version_id)]
            }
            _ => Vec::new(),
        }
    }

    /// The purl `distro` qualifier: `debian-12`, `alpine-3.10.4`, `wolfi`.
    pub fn purl_distro(&self) -> String {
        if self.version_id.is_empty() {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.version_id)
        }
    }

    /// Reverse of [`OsRelease::purl_distro`] (`debian-12` → id `debian`, version `12`).
    pub fn from_purl_distro(distro: &str) -> OsRelease {
        let (id, ver) = match distro.split_once('-') {
            Some((i, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => (i, v),
            _ => (distro, ""),
        };
        OsRelease {
            id: id.to_ascii_lowercase(),
            version_id: ver.to_string(),
            ..OsRelease::default()
        }
    }
}

/// The version a release file gives, as trivy reads it: its first line, trimmed. `None` when it
/// is empty, longer than [`MAX_RELEASE_LEN`], or holds anything but printable ASCII (a damaged
/// or hostile file names no version).
pub fn release_line(bytes: &[u8]) -> Option<String> {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(first).ok()?.trim();
    (!line.is_empty()
        && line.len() <= MAX_RELEASE_LEN
        && line.bytes().all(|b| b.is_ascii_graphic()))
    .then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        list.iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect()
    }

    /// Debian 12 as base-files lays it out: os-release (family, `VERSION_ID` as syft reports
    /// them) and `/etc/debian_version` (the point release, as trivy reports it).
    #[test]
    fn debian_point_release_from_debian_version() {
        let os = OsRelease::detect(&files(&[
            (
                "usr/lib/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n",
            ),
            ("etc/debian_version", "12.12\n"),
        ]))
        .unwrap();
        assert_eq!(
            (os.id.as_str(), os.version_id.as_str(), os.release.as_str()),
            ("debian", "12", "12.12")
        );
        assert_eq!(os.ecosystems(), ["Debian:12"]);
        assert_eq!(os.purl_distro(), "debian-12");
        // no os-release: trivy still places the image by debian_version alone
        let os = OsRelease::detect(&files(&[("etc/debian_version", "13.1\n")])).unwrap();
        assert_eq!(
            (os.id.as_str(), os.version_id.as_str(), os.release.as_str()),
            ("debian", "13.1", "13.1")
        );
        assert_eq!(os.ecosystems(), ["Debian:13"]);
        // testing/unstable write a codename, not a number
        let os = OsRelease::detect(&files(&[("etc/debian_version", "forky/sid\n")])).unwrap();
        assert_eq!((os.id.as_str(), os.version_id.as_str()), ("debian", ""));
        assert_eq!(os.release, "forky/sid");
    }

    #[test]
    fn release_files_of_another_family_are_not_mixed_in() {
        // Ubuntu ships /etc/debian_version too: os-release decides, the Debian file is ignored
        let os = OsRelease::detect(&files(&[
            ("etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n"),
            ("etc/debian_version", "bookworm/sid\n"),
        ]))
        .unwrap();
        assert_eq!((os.id.as_str(), os.release.as_str()), ("ubuntu", ""));
        let os = OsRelease::detect(&files(&[
            ("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n"),
            ("etc/alpine-release", "3.20.3\n"),
        ]))
        .unwrap();
        assert_eq!(os.release, "3.20.3");
        let os = OsRelease::detect(&files(&[("etc/alpine-release", "3.16.3\n")])).unwrap();
        assert_eq!(
            (os.id.as_str(), os.version_id.as_str()),
            ("alpine", "3.16.3")
        );
        assert_eq!(os.ecosystems(), ["Alpine:v3.16"]);
        assert_eq!(OsRelease::detect(&files(&[("etc/passwd", "x")])), None);
    }

    #[test]
    fn damaged_release_files_name_no_version() {
        for bad in ["", "\n12", " \n", "12\u{1b}[31m", &"9".repeat(65), "12 12"] {
            assert_eq!(release_line(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(release_line(b"\xff\xfe"), None);
        assert_eq!(release_line(b" 12.12 \r\nmore").as_deref(), Some("12.12"));
        assert_eq!(
            OsRelease::detect(&files(&[("etc/debian_version", "\n")])),
            None
        );
    }

    proptest! {
        #[test]
        fn release_line_is_short_printable_ascii(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Some(l) = release_line(&bytes) {
                prop_assert!(!l.is_empty() && l.len() <= MAX_RELEASE_LEN);
                prop_assert!(l.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
    }

    #[test]
    fn alpine_310() {
        let os = OsRelease::parse(
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.10.4\nPRETTY_NAME=\"Alpine Linux v3.10\"\n",
        );
        assert_eq!(os.id, "alpine");
        assert_eq!(os.version_id, "3.10.4");
        assert_eq!(os.pretty_name, "Alpine Linux v3.10");
        assert_eq!(os.ecosystems(), ["Alpine:v3.10"]);
        assert_eq!(os.purl_distro(), "alpine-3.10.4");
        assert_eq!(
            OsRelease::from_purl_distro("alpine-3.10.4").ecosystems(),
            ["Alpine:v3.10"]
        );
    }

    #[test]
    fn debian_and_others() {
        let os = OsRelease::parse("# c\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
        assert_eq!(os.ecosystems(), ["Debian:12"]);
        assert_eq!(OsRelease::parse("ID=wolfi\n").ecosystems(), ["Wolfi"]);
        assert_eq!(
            OsRelease::parse("ID=chainguard\n").ecosystems(),
            ["Chainguard", "Wolfi"]
        );
        assert_eq!(
            OsRelease::parse("ID=alpine\nVERSION_ID=3.22.0_alpha20250108\n").ecosystems(),
            ["Alpine:edge"]
        );
        assert!(OsRelease::parse("garbage\n").ecosystems().is_empty());
        assert_eq!(OsRelease::from_purl_distro("wolfi").id, "wolfi");
    }
}
