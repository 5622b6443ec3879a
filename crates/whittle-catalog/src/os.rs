//! `os-release` (freedesktop.org): the OS an image is built from.

use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;

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
