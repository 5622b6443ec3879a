//! `contents.repositories` entries: one-line Debian `sources.list` entries and APK repositories.

use std::path::Path;

use crate::arch::Arch;
use crate::suggest::did_you_mean;
use crate::{ConfigPath, Pos, Problem};

/// A parsed `contents.repositories` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repository {
    /// A Debian archive, written as a one-line `sources.list` entry.
    Deb(DebRepo),
    /// An APK repository (Alpine, Wolfi). The build refuses these for now.
    Apk(ApkRepo),
}

impl Repository {
    /// Where the entry was written in the config.
    pub fn pos(&self) -> Pos {
        match self {
            Repository::Deb(d) => d.pos,
            Repository::Apk(a) => a.pos,
        }
    }
}

/// A Debian repository: `deb [options] URI SUITE [COMPONENT...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebRepo {
    /// `http://`, `https://` or `file:` URI without trailing `/`, or the symbolic
    /// `host:debian` / `host:debian-security` (resolve with [`crate::host_mirror`]).
    pub uri: String,
    /// The suite (`bookworm`); a suite ending in `/` is a flat repository with no components.
    pub suite: String,
    /// The components (`main`, `contrib`, …); empty for flat repositories.
    pub components: Vec<String>,
    /// `[signed-by=FILE]`: the OpenPGP keyring that must sign the `InRelease` file.
    pub signed_by: Option<ConfigPath>,
    /// `[arch=a,b]`: restrict the repository to these architectures.
    pub arch: Option<Vec<Arch>>,
    /// `[trusted=yes]`: skip signature checks. The build must refuse it without an explicit
    /// insecure flag.
    pub trusted: bool,
    /// `[check-date=no]` makes this `false` (apt's option): accept a Release dated in the future
    /// and skip the `Valid-Until` check too. Default `true`.
    pub check_date: bool,
    /// `[check-valid-until=no]` makes this `false` (apt's option): accept a Release past its
    /// `Valid-Until`, as snapshots of old archives are. Default `true`.
    pub check_valid_until: bool,
    /// `[allow-older-release=yes]`: accept a Release older than the newest one already seen for
    /// this repository (deliberately going back, e.g. to a snapshot served at the same URI).
    /// Default `false`: an older one is refused as a downgrade (replay) attack.
    pub allow_older_release: bool,
    /// The entry as written.
    pub written: String,
    /// Where the entry starts in the config.
    pub pos: Pos,
}

impl DebRepo {
    /// Whether the URI is a `host:` alias to be resolved with [`crate::host_mirror::resolve`].
    pub fn is_host_alias(&self) -> bool {
        self.uri.starts_with("host:")
    }

    /// Whether this is a flat repository (suite ends in `/`, no components).
    pub fn is_flat(&self) -> bool {
        self.suite.ends_with('/')
    }
}

/// An APK repository: `URL` or `@tag URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApkRepo {
    /// The repository URL, or its local directory (absolute: a relative one is resolved against
    /// the config file's directory, as apko does).
    pub url: String,
    /// The local directory as written, when it was written as a relative path (`./packages`,
    /// `out1`): such a directory must lie inside the config's directory
    /// ([`crate::Config::check_files`]).
    pub relative: Option<ConfigPath>,
    /// The pinning tag (`@edge`), without the `@`.
    pub tag: Option<String>,
    /// Where the entry starts in the config.
    pub pos: Pos,
}

const DEB_OPTIONS: [&str; 6] = [
    "signed-by",
    "arch",
    "trusted",
    "check-date",
    "check-valid-until",
    "allow-older-release",
];

/// The value of a yes/no option (`yes`/`true` or `no`/`false`).
fn yes_no(key: &str, value: &str) -> Result<bool, Problem> {
    match value {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(Problem::new(format!(
            "`{key}={value}`: expected `yes` or `no`"
        ))),
    }
}

/// Parse one repositories entry. Relative `signed-by` paths resolve against `base_dir`.
pub(crate) fn parse_repository(
    text: &str,
    pos: Pos,
    base_dir: &Path,
) -> Result<Repository, Problem> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Problem::new("empty repository entry").hint(
            "write `deb [signed-by=KEYRING] URI SUITE COMPONENT...` or an APK repository URL",
        ));
    }
    let first = t.split_whitespace().next().unwrap_or("");
    match first {
        "deb" => parse_deb(t, pos, base_dir),
        "deb-src" => Err(Problem::new("`deb-src` entries are not supported")
            .hint("images hold binary packages: use a `deb` entry")),
        _ if t.starts_with("Types:") || t.contains("\nURIs:") => {
            Err(Problem::new("deb822 stanzas are not accepted here")
                .hint("write a one-line entry: `deb [signed-by=KEYRING] URI SUITE COMPONENT...`"))
        }
        _ => parse_apk(t, pos, base_dir),
    }
}

fn parse_deb(t: &str, pos: Pos, base_dir: &Path) -> Result<Repository, Problem> {
    let rest = t["deb".len()..].trim_start();
    let (opts, rest) = if let Some(after) = rest.strip_prefix('[') {
        let end = after.find(']').ok_or_else(|| {
            Problem::new("unterminated `[` option list in deb entry").hint(
                "close the options with `]`, e.g. `deb [signed-by=keys/debian.gpg] URI SUITE main`",
            )
        })?;
        (Some(&after[..end]), after[end + 1..].trim_start())
    } else {
        (None, rest)
    };

    let mut signed_by = None;
    let mut arch = None;
    let mut trusted = false;
    let mut check_date = true;
    let mut check_valid_until = true;
    let mut allow_older_release = false;
    if let Some(opts) = opts {
        for opt in opts.split_whitespace() {
            let (key, value) = opt.split_once('=').ok_or_else(|| {
                Problem::new(format!("deb option `{opt}` has no value"))
                    .hint("options are written `key=value`, e.g. `signed-by=keys/debian.gpg`")
            })?;
            if key.ends_with('+') || key.ends_with('-') {
                return Err(Problem::new(format!(
                    "deb option `{opt}`: `+=`/`-=` are not supported"
                ))
                .hint("write the complete value with `=`"));
            }
            if value.is_empty() {
                return Err(Problem::new(format!(
                    "deb option `{key}` has an empty value"
                )));
            }
            match key {
                "signed-by" => {
                    if signed_by.is_some() {
                        return Err(Problem::new("`signed-by` given twice"));
                    }
                    if value.contains(',') || looks_like_fingerprint(value) {
                        return Err(Problem::new(format!(
                            "`signed-by={value}`: key fingerprints are not supported"
                        ))
                        .hint("give one keyring file (binary or ASCII-armored), absolute or relative to the config file"));
                    }
                    signed_by = Some(ConfigPath::resolve(value, base_dir));
                }
                "arch" => {
                    let mut list = Vec::new();
                    for a in value.split(',') {
                        let parsed = Arch::parse(a).ok_or_else(|| {
                            Problem::new(format!("unknown architecture `{a}` in `arch=`")).hint(
                                did_you_mean(a, Arch::SPELLINGS).unwrap_or_else(|| {
                                    "use Debian names such as amd64, arm64, armhf, i386".to_string()
                                }),
                            )
                        })?;
                        if !list.contains(&parsed) {
                            list.push(parsed);
                        }
                    }
                    arch = Some(list);
                }
                "trusted" => trusted = yes_no(key, value)?,
                "check-date" => check_date = yes_no(key, value)?,
                "check-valid-until" => check_valid_until = yes_no(key, value)?,
                "allow-older-release" => allow_older_release = yes_no(key, value)?,
                _ => {
                    let mut hint = format!("supported options: {}", DEB_OPTIONS.join(", "));
                    if let Some(dym) = did_you_mean(key, DEB_OPTIONS) {
                        hint = format!("{dym} ({hint})");
                    }
                    return Err(Problem::new(format!("unsupported deb option `{key}`")).hint(hint));
                }
            }
        }
    }

    let mut parts = rest.split_whitespace();
    let uri = parts.next().ok_or_else(|| {
        Problem::new("deb entry has no URI")
            .hint("write `deb [signed-by=KEYRING] URI SUITE COMPONENT...`")
    })?;
    let uri = check_deb_uri(uri)?;
    let suite = parts.next().ok_or_else(|| {
        Problem::new(format!("deb entry `{uri}` has no suite"))
            .hint("add the suite and components, e.g. `bookworm main`")
    })?;
    let components: Vec<String> = parts.map(str::to_string).collect();
    if suite.ends_with('/') {
        if !components.is_empty() {
            return Err(Problem::new(format!(
                "flat repository suite `{suite}` cannot have components"
            ))
            .hint("remove the components, or remove the trailing `/` from the suite"));
        }
    } else if components.is_empty() {
        return Err(
            Problem::new(format!("deb entry suite `{suite}` has no components"))
                .hint("add at least one component, e.g. `main`"),
        );
    }
    if let Some(c) = components
        .iter()
        .find(|c| c.contains("..") || c.starts_with('/'))
    {
        return Err(Problem::new(format!("invalid component `{c}`")));
    }
    if suite.contains("..") {
        return Err(Problem::new(format!("invalid suite `{suite}`")));
    }

    Ok(Repository::Deb(DebRepo {
        uri,
        suite: suite.to_string(),
        components,
        signed_by,
        arch,
        trusted,
        check_date,
        check_valid_until,
        allow_older_release,
        written: t.to_string(),
        pos,
    }))
}

fn looks_like_fingerprint(v: &str) -> bool {
    (v.len() == 16 || v.len() == 40) && v.chars().all(|c| c.is_ascii_hexdigit())
}

fn check_deb_uri(uri: &str) -> Result<String, Problem> {
    if let Some(alias) = uri.strip_prefix("host:") {
        return match alias {
            "debian" | "debian-security" => Ok(uri.to_string()),
            _ => Err(
                Problem::new(format!("unknown host mirror alias `{uri}`")).hint(
                    did_you_mean(uri, crate::host_mirror::ALIASES).unwrap_or_else(|| {
                        format!("known aliases: {}", crate::host_mirror::ALIASES.join(", "))
                    }),
                ),
            ),
        };
    }
    let ok = ["http://", "https://", "file:/"]
        .iter()
        .any(|p| uri.starts_with(p));
    if !ok {
        return Err(Problem::new(format!("unsupported repository URI `{uri}`")).hint(
            "use an http://, https:// or file:/ URI, or `host:debian` for the mirror this host's apt uses",
        ));
    }
    let trimmed = uri.trim_end_matches('/');
    if trimmed.ends_with(':') || trimmed.ends_with("//") || trimmed == "file:" {
        return Err(Problem::new(format!(
            "repository URI `{uri}` has no host or path"
        )));
    }
    Ok(trimmed.to_string())
}

/// Whether an APK repository entry is a relative directory (`./packages`, `out1`, `../repo`)
/// rather than a host name without its scheme (`dl.example.org/alpine`).
fn is_relative_dir(url: &str) -> bool {
    if url.contains("://") || url.starts_with('/') || url.contains(char::is_whitespace) {
        return false;
    }
    let first = url.split('/').next().unwrap_or("");
    first == "." || first == ".." || !(first.contains('.') && url.contains('/'))
}

fn parse_apk(t: &str, pos: Pos, base_dir: &Path) -> Result<Repository, Problem> {
    let mut parts = t.split_whitespace();
    let mut tag = None;
    let mut url = parts.next().unwrap_or("");
    if let Some(name) = url.strip_prefix('@') {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(
                Problem::new(format!("invalid APK repository tag `{url}`")).hint(
                    "a tag is `@` followed by letters, digits, `-`, `_` or `.`, e.g. `@edge URL`",
                ),
            );
        }
        tag = Some(name.to_string());
        url = parts.next().ok_or_else(|| {
            Problem::new(format!("APK repository tag `@{name}` has no URL"))
                .hint("write `@TAG URL`")
        })?;
    }
    if parts.next().is_some() {
        return Err(Problem::new(format!(
            "unexpected words after APK repository URL in `{t}`"
        ))
        .hint("Debian entries start with `deb`; APK entries are `URL` or `@TAG URL`"));
    }
    if is_relative_dir(url) {
        let path = ConfigPath::resolve(url, base_dir);
        return Ok(Repository::Apk(ApkRepo {
            url: path.resolved.display().to_string(),
            relative: Some(path),
            tag,
            pos,
        }));
    }
    let ok = ["http://", "https://", "file:/", "/"]
        .iter()
        .any(|p| url.starts_with(p));
    if !ok {
        let mut p = Problem::new(format!("unsupported repository `{url}`"));
        p = p.hint(if did_you_mean(url, ["deb"]).is_some() {
            "Debian entries start with `deb `, e.g. `deb [signed-by=KEYRING] URI SUITE main`"
                .to_string()
        } else {
            "Debian entries start with `deb`; APK repositories are http(s):// URLs or directories (relative to the config file); a host name needs its scheme, e.g. `https://`"
                .to_string()
        });
        return Err(p);
    }
    Ok(Repository::Apk(ApkRepo {
        url: url.trim_end_matches('/').to_string(),
        relative: None,
        tag,
        pos,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(s: &str) -> Result<Repository, Problem> {
        parse_repository(s, Pos::new(1, 1), Path::new("/cfg"))
    }

    #[test]
    fn deb_full() {
        let Repository::Deb(d) = parse(
            "deb [signed-by=keys/debian.gpg arch=amd64,aarch64 trusted=no] https://example.org/debian/ bookworm main contrib",
        )
        .unwrap() else {
            panic!("not deb")
        };
        assert_eq!(d.uri, "https://example.org/debian");
        assert_eq!(d.suite, "bookworm");
        assert_eq!(d.components, ["main", "contrib"]);
        let sb = d.signed_by.clone().unwrap();
        assert_eq!(sb.written, "keys/debian.gpg");
        assert_eq!(sb.resolved, PathBuf::from("/cfg/keys/debian.gpg"));
        assert_eq!(d.arch, Some(vec![Arch::Amd64, Arch::Arm64]));
        assert!(!d.trusted);
        assert!(!d.is_host_alias());
        assert!(d.check_date && d.check_valid_until && !d.allow_older_release);
    }

    #[test]
    fn deb_freshness_options() {
        let Repository::Deb(d) = parse(
            "deb [check-date=no check-valid-until=no allow-older-release=yes signed-by=k.gpg] https://x/d bookworm main",
        )
        .unwrap() else {
            panic!("not deb")
        };
        assert!(!d.check_date && !d.check_valid_until && d.allow_older_release);
        let err = parse("deb [check-valid-until=never] https://x/d bookworm main").unwrap_err();
        assert!(err.message.contains("`yes` or `no`"), "{}", err.message);
        let err = parse("deb [check-valid-untill=no] https://x/d bookworm main").unwrap_err();
        let hint = err.hint.unwrap_or_default();
        assert!(hint.contains("check-valid-until"), "{hint}");
    }

    #[test]
    fn deb_host_alias_trusted_flat() {
        let Repository::Deb(d) =
            parse("deb [trusted=yes] host:debian-security bookworm-security main").unwrap()
        else {
            panic!()
        };
        assert!(d.is_host_alias());
        assert!(d.trusted);
        assert!(d.signed_by.is_none());
        let Repository::Deb(d) = parse("deb file:/srv/repo ./").unwrap() else {
            panic!()
        };
        assert!(d.is_flat());
        assert_eq!(d.uri, "file:/srv/repo");
    }

    #[test]
    fn apk() {
        assert_eq!(
            parse("https://dl.example/alpine/v3.20/main").unwrap(),
            Repository::Apk(ApkRepo {
                url: "https://dl.example/alpine/v3.20/main".into(),
                relative: None,
                tag: None,
                pos: Pos::new(1, 1)
            })
        );
        let Repository::Apk(a) = parse("@edge https://x.example/edge/").unwrap() else {
            panic!()
        };
        assert_eq!(a.tag.as_deref(), Some("edge"));
        assert_eq!(a.url, "https://x.example/edge");
    }

    #[test]
    fn apk_relative_directories() {
        for (written, resolved) in [
            ("./packages", "/cfg/packages"),
            ("out1", "/cfg/out1"),
            ("../repo/", "/cfg/../repo"),
            ("packages/x", "/cfg/packages/x"),
        ] {
            let Repository::Apk(a) = parse(written).unwrap() else {
                panic!("{written}")
            };
            assert_eq!(a.url, resolved, "{written}");
            assert_eq!(a.relative.unwrap().written, written);
        }
        let Repository::Apk(a) = parse("@local ./packages").unwrap() else {
            panic!()
        };
        assert_eq!(
            (a.tag.as_deref(), a.url.as_str()),
            (Some("local"), "/cfg/packages")
        );
        let Repository::Apk(a) = parse("/srv/apk").unwrap() else {
            panic!()
        };
        assert!(a.relative.is_none());
    }

    #[test]
    fn bad_entries() {
        let cases = [
            (
                "deb [signed-by=a.gpg host:debian bookworm main",
                "unterminated",
            ),
            (
                "deb [signedby=a.gpg] host:debian bookworm main",
                "did you mean `signed-by`",
            ),
            (
                "deb [arch=sparc] host:debian bookworm main",
                "unknown architecture",
            ),
            (
                "deb [trusted=maybe] host:debian bookworm main",
                "`yes` or `no`",
            ),
            (
                "deb host:debain bookworm main",
                "did you mean `host:debian`",
            ),
            (
                "deb ftp://x/debian bookworm main",
                "unsupported repository URI",
            ),
            ("deb https://x/debian", "no suite"),
            ("deb https://x/debian bookworm", "no components"),
            ("deb https://x/debian ./ main", "cannot have components"),
            ("deb-src https://x/debian bookworm main", "deb-src"),
            (
                "deb [signed-by=0123456789ABCDEF] https://x/d bookworm main",
                "fingerprints",
            ),
            ("debian https://x bookworm main", "unexpected words"),
            ("@ https://x", "invalid APK repository tag"),
            ("example.org/alpine", "unsupported repository"),
            ("   ", "empty"),
        ];
        for (input, want) in cases {
            let err = parse(input).unwrap_err();
            let text = format!("{} {}", err.message, err.hint.clone().unwrap_or_default());
            assert!(text.contains(want), "{input:?}: {text}");
        }
    }
}
