//! `host:debian` / `host:debian-security`: "the Debian mirror this host's apt already uses".
//!
//! Resolution order for `host:debian`: the `WHITTLE_DEBIAN_MIRROR` environment variable, else the
//! first `deb` entry of `/etc/apt/sources.list.d/*.sources` (deb822, files in name order), then
//! `/etc/apt/sources.list`, then `/etc/apt/sources.list.d/*.list`, whose suites include one not
//! ending in `-security`, `-updates`, `-backports` or `/updates`. `host:debian-security` uses
//! `WHITTLE_DEBIAN_SECURITY_MIRROR`, else the first entry with a suite ending in `-security`
//! (or `/updates`). Only `http://`, `https://` and `file:` URIs are taken; trailing `/` is removed.
//! Any other URI passes through unchanged.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The `host:` aliases understood in `deb` entries.
pub const ALIASES: [&str; 2] = ["host:debian", "host:debian-security"];
/// Environment variable overriding `host:debian`.
pub const MIRROR_ENV: &str = "WHITTLE_DEBIAN_MIRROR";
/// Environment variable overriding `host:debian-security`.
pub const SECURITY_MIRROR_ENV: &str = "WHITTLE_DEBIAN_SECURITY_MIRROR";
/// The largest apt sources file read.
pub const MAX_SOURCES_BYTES: u64 = 1 << 20;

/// Why a `host:` alias could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum HostMirrorError {
    /// The alias is not one of [`ALIASES`].
    #[error("unknown host mirror alias `{0}`; known aliases: host:debian, host:debian-security")]
    UnknownAlias(String),
    /// The environment variable holds something that is not a usable URI.
    #[error(
        "{var}={value:?} is not an http://, https:// or file:/ URI; set it to the Debian mirror's base URI"
    )]
    BadEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// No apt source matched.
    #[error(
        "cannot resolve `{alias}`: no matching `deb` entry in {searched}; set {env} to the mirror URI or write the URI in the config"
    )]
    NotFound {
        /// The alias.
        alias: String,
        /// The files looked at (or the apt directory when none exist).
        searched: String,
        /// The variable that would override it.
        env: &'static str,
    },
    /// An apt sources file could not be read.
    #[error("cannot read apt sources file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An apt sources file is larger than [`MAX_SOURCES_BYTES`].
    #[error("apt sources file {0} is larger than {MAX_SOURCES_BYTES} bytes; not reading it")]
    TooLarge(PathBuf),
}

/// Resolves `host:` aliases against an apt configuration under `root` and an environment map.
#[derive(Clone, Debug)]
pub struct HostMirrorResolver {
    root: PathBuf,
    env: BTreeMap<String, String>,
}

impl HostMirrorResolver {
    /// The real host: apt files under `/`, variables from the process environment.
    pub fn system() -> Self {
        let env = [MIRROR_ENV, SECURITY_MIRROR_ENV]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        HostMirrorResolver {
            root: PathBuf::from("/"),
            env,
        }
    }

    /// A resolver reading `ROOT/etc/apt/...` with the given environment (for tests and chroots).
    pub fn new(root: impl Into<PathBuf>, env: BTreeMap<String, String>) -> Self {
        HostMirrorResolver {
            root: root.into(),
            env,
        }
    }

    /// Turn `host:debian` / `host:debian-security` into a URI; other URIs are returned as is.
    pub fn resolve(&self, uri: &str) -> Result<String, HostMirrorError> {
        let (security, env_var) = match uri {
            "host:debian" => (false, MIRROR_ENV),
            "host:debian-security" => (true, SECURITY_MIRROR_ENV),
            u if u.starts_with("host:") => return Err(HostMirrorError::UnknownAlias(u.into())),
            u => return Ok(u.to_string()),
        };
        if let Some(v) = self
            .env
            .get(env_var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            return if usable_uri(v) {
                Ok(v.trim_end_matches('/').to_string())
            } else {
                Err(HostMirrorError::BadEnv {
                    var: env_var,
                    value: v.to_string(),
                })
            };
        }
        let files = self.source_files()?;
        for (path, deb822) in &files {
            let text = read_limited(path)?;
            let entries = if *deb822 {
                parse_deb822(&text)
            } else {
                parse_one_line(&text)
            };
            for (uri, suites) in entries {
                if !usable_uri(&uri) {
                    continue;
                }
                let hit = if security {
                    suites.iter().any(|s| is_security_suite(s))
                } else {
                    suites.iter().any(|s| is_main_suite(s))
                };
                if hit {
                    return Ok(uri.trim_end_matches('/').to_string());
                }
            }
        }
        let searched = if files.is_empty() {
            format!("{} (no sources files)", self.apt_dir().display())
        } else {
            files
                .iter()
                .map(|(p, _)| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(HostMirrorError::NotFound {
            alias: uri.to_string(),
            searched,
            env: env_var,
        })
    }

    fn apt_dir(&self) -> PathBuf {
        self.root.join("etc/apt")
    }

    /// `(path, is_deb822)` in resolution order.
    fn source_files(&self) -> Result<Vec<(PathBuf, bool)>, HostMirrorError> {
        let apt = self.apt_dir();
        let d = apt.join("sources.list.d");
        let mut sources = Vec::new();
        let mut lists = Vec::new();
        match fs::read_dir(&d) {
            Ok(rd) => {
                for e in rd.flatten() {
                    let p = e.path();
                    match p.extension().and_then(|x| x.to_str()) {
                        Some("sources") => sources.push(p),
                        Some("list") => lists.push(p),
                        _ => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(HostMirrorError::Io { path: d, source }),
        }
        sources.sort();
        lists.sort();
        let mut out: Vec<(PathBuf, bool)> = sources.into_iter().map(|p| (p, true)).collect();
        let main = apt.join("sources.list");
        if main.is_file() {
            out.push((main, false));
        }
        out.extend(lists.into_iter().map(|p| (p, false)));
        Ok(out)
    }
}

/// Resolve `uri` on the real host (see the module docs).
pub fn resolve(uri: &str) -> Result<String, HostMirrorError> {
    HostMirrorResolver::system().resolve(uri)
}

/// Whether `uri` is a `host:` alias.
pub fn is_alias(uri: &str) -> bool {
    uri.starts_with("host:")
}

fn usable_uri(u: &str) -> bool {
    ["http://", "https://", "file:/"]
        .iter()
        .any(|p| u.starts_with(p))
        && !u.chars().any(char::is_whitespace)
}

fn is_security_suite(s: &str) -> bool {
    s.ends_with("-security") || s.ends_with("/updates")
}

fn is_main_suite(s: &str) -> bool {
    !(is_security_suite(s)
        || s.ends_with("-updates")
        || s.ends_with("-backports")
        || s.ends_with("-proposed-updates"))
}

fn read_limited(path: &Path) -> Result<String, HostMirrorError> {
    let f = fs::File::open(path).map_err(|source| HostMirrorError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut buf = Vec::new();
    f.take(MAX_SOURCES_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|source| HostMirrorError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > MAX_SOURCES_BYTES {
        return Err(HostMirrorError::TooLarge(path.to_path_buf()));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `(first URI, suites)` of each enabled `Types: deb` stanza.
fn parse_deb822(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    let mut flush = |fields: &mut BTreeMap<String, String>| {
        let types = fields.get("types").map(String::as_str).unwrap_or("");
        let enabled = fields
            .get("enabled")
            .map(|v| !matches!(v.trim(), "no" | "false"))
            .unwrap_or(true);
        if enabled && types.split_whitespace().any(|t| t == "deb") {
            let uri = fields
                .get("uris")
                .and_then(|u| u.split_whitespace().next())
                .map(str::to_string);
            let suites = fields
                .get("suites")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            if let Some(uri) = uri {
                out.push((uri, suites));
            }
        }
        fields.clear();
    };
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut fields);
            last = None;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last
                && let Some(v) = fields.get_mut(k)
            {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            fields.insert(k.clone(), v.trim().to_string());
            last = Some(k);
        }
    }
    flush(&mut fields);
    out
}

/// `(URI, [suite])` of each one-line `deb` entry.
fn parse_one_line(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue; // deb-src
        }
        let mut rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('[') {
            match after.find(']') {
                Some(end) => rest = after[end + 1..].trim_start(),
                None => continue,
            }
        }
        let mut parts = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (parts.next(), parts.next()) {
            out.push((uri.to_string(), vec![suite.to_string()]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_parsing() {
        let text = "# comment\nTypes: deb deb-src\nURIs: http://a.invalid/debian http://b.invalid/debian\nSuites: bookworm\n bookworm-updates\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://c.invalid\nSuites: x\n";
        let got = parse_deb822(text);
        assert_eq!(
            got,
            vec![(
                "http://a.invalid/debian".to_string(),
                vec!["bookworm".to_string(), "bookworm-updates".to_string()]
            )]
        );
    }

    #[test]
    fn one_line_parsing() {
        let text = "deb-src http://s.invalid/d bookworm main\n# deb http://x.invalid/d bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://a.invalid/d/ bookworm main # c\n";
        assert_eq!(
            parse_one_line(text),
            vec![(
                "http://a.invalid/d/".to_string(),
                vec!["bookworm".to_string()]
            )]
        );
    }

    #[test]
    fn suite_classes() {
        assert!(is_main_suite("bookworm"));
        assert!(!is_main_suite("bookworm-updates"));
        assert!(is_security_suite("bookworm-security"));
        assert!(is_security_suite("buster/updates"));
    }
}
