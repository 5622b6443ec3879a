//! Lockfiles: the output of a resolution kept on disk (`<config stem>.lock.json`, apko's naming),
//! and the input of a later fetch that solves nothing.
//!
//! The shape follows apko's lock (`version`, `config` with its checksum, `contents` with
//! `keyring`, `repositories` and `packages`) so an apko user recognises it; each repository
//! also records the identity of the signed index it was resolved from, and packages are listed
//! per image architecture. [`Lock::parse`] refuses a lock that is not one, naming the field.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The one lock version this code reads and writes.
pub const LOCK_VERSION: &str = "v1";

/// The largest lockfile read: a lock lists packages, not their content.
pub const MAX_LOCK_BYTES: u64 = 64 << 20;

/// A lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// [`LOCK_VERSION`].
    pub version: String,
    /// The config the lock was made from.
    pub config: LockConfig,
    /// Keys, repositories and packages.
    pub contents: LockContents,
}

/// The config a lock was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockConfig {
    /// The config's file name.
    pub name: String,
    /// `sha256:<hex>` of the config with line endings normalised to `\n`.
    pub checksum: String,
}

/// What a lock pins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockContents {
    /// The keyrings that verified the repositories.
    pub keyring: Vec<LockKeyring>,
    /// The repositories, with the identity of their signed index.
    pub repositories: Vec<LockRepository>,
    /// Per image architecture (the package format's name: `amd64` for Debian, `x86_64` for
    /// APK), the packages in install order.
    pub packages: BTreeMap<String, Vec<LockPackage>>,
}

/// One keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockKeyring {
    /// The keyring as the config names it.
    pub name: String,
    /// Upper-case hex fingerprints of the keys that signed the repositories' indexes.
    pub fingerprints: Vec<String>,
    /// The keyring file, base64.
    pub content: String,
}

/// One repository and the signed index the lock was resolved from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockRepository {
    /// The repository line as written.
    pub name: String,
    /// Its base URL; every package of it lies under `url/`. A symbolic repository
    /// (`host:debian`: the mirror of the machine that builds, see [`is_symbolic`]) is kept as
    /// written, so that a lock is the same on machines with different mirrors.
    pub url: String,
    /// APK: the architecture of the index (apko's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The signed index.
    pub release: LockRelease,
}

/// The signed index of a repository — Debian: the `InRelease`, and the fields of its Release
/// the image's OS files are written from; APK: the `APKINDEX.tar.gz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LockRelease {
    /// `sha256:<hex>` of the verified `InRelease` (Debian) or `APKINDEX.tar.gz` (APK).
    pub checksum: String,
    /// Its `Date` (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// `Origin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `Codename`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `Version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// APK: the distribution's release package the index lists, `NAME VERSION`
    /// (`alpine-base 3.20.3-r0`): what the image's OS files are written from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_package: Option<String>,
}

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockPackage {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The package's own architecture (the image's, or `all` / `noarch`).
    pub architecture: String,
    /// The `url` of its repository in [`LockContents::repositories`].
    pub repository: String,
    /// Where to download it: a URL under `repository`, or, when the repository is symbolic
    /// ([`is_symbolic`]), a path relative to it (`pool/main/g/gawk/gawk_…_amd64.deb`); see
    /// [`LockPackage::url_from`].
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// APK: the index's `C:` value (`Q1` + base64 of the control stream's SHA-1), as apko
    /// writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// APK: the signature stream's byte range and SHA-1 (apko's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<RangeAndChecksum>,
    /// APK: the control stream's byte range and SHA-1 (apko's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<RangeAndChecksum>,
    /// APK: the data stream's byte range and SHA-256, the package's `datahash` (apko's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<RangeAndChecksum>,
}

/// A byte range of an `.apk` and its checksum, as apko's lock writes them
/// (`bytes=FIRST-LAST`, `sha1-<base64>` or `sha256-<base64>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeAndChecksum {
    /// `bytes=FIRST-LAST` (inclusive).
    pub range: String,
    /// `sha1-<base64>` or `sha256-<base64>`.
    pub checksum: String,
}

/// A lock that cannot be used, naming the field and what to do.
#[derive(Debug, thiserror::Error)]
#[error("lockfile {file}: {field}: {message}")]
pub struct LockError {
    /// The lockfile.
    pub file: String,
    /// The field (`contents.packages.amd64[2].sha256`), or `(file)`.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Lock {
    /// Parses and checks a lockfile's text: JSON of this shape, [`LOCK_VERSION`], well-formed
    /// checksums, every package's URL under its repository's and its architecture the image's
    /// (or `all`).
    pub fn parse(file: &str, text: &[u8]) -> Result<Lock, LockError> {
        let err = |field: &str, message: String| LockError {
            file: file.to_string(),
            field: field.to_string(),
            message,
        };
        if text.len() as u64 > MAX_LOCK_BYTES {
            return Err(err(
                "(file)",
                format!("larger than {MAX_LOCK_BYTES} bytes; not a lockfile"),
            ));
        }
        // the version first, so that a lock of another version says so rather than failing on
        // a field it may not have
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
            err(
                "(file)",
                format!("not valid JSON ({e}); remake it with `whittle lock CONFIG`"),
            )
        })?;
        match value.get("version").and_then(|v| v.as_str()) {
            Some(LOCK_VERSION) => {}
            Some(v) => {
                return Err(err(
                    "version",
                    format!(
                        "unknown lock version {:?}; this whittle reads {LOCK_VERSION:?}: remake it with `whittle lock CONFIG`",
                        v.chars().take(40).collect::<String>()
                    ),
                ));
            }
            None => {
                return Err(err(
                    "version",
                    format!("missing or not a string; expected {LOCK_VERSION:?}"),
                ));
            }
        }
        let lock: Lock = serde_json::from_value(value).map_err(|e| {
            err(
                "(file)",
                format!("not a whittle lock ({e}); remake it with `whittle lock CONFIG`"),
            )
        })?;
        lock.check()
            .map_err(|(field, message)| err(&field, message))?;
        Ok(lock)
    }

    fn check(&self) -> Result<(), (String, String)> {
        if !is_sha256_tagged(&self.config.checksum) {
            return Err((
                "config.checksum".into(),
                format!(
                    "{:?} is not sha256:<64 hex digits>",
                    short(&self.config.checksum)
                ),
            ));
        }
        for (i, r) in self.contents.repositories.iter().enumerate() {
            if !is_sha256_tagged(&r.release.checksum) {
                return Err((
                    format!("contents.repositories[{i}].release.checksum"),
                    format!(
                        "{:?} is not sha256:<64 hex digits>",
                        short(&r.release.checksum)
                    ),
                ));
            }
        }
        for (arch, pkgs) in &self.contents.packages {
            for (i, p) in pkgs.iter().enumerate() {
                let at = |f: &str| format!("contents.packages.{arch}[{i}].{f}");
                if !is_sha256_hex(&p.sha256) {
                    return Err((
                        at("sha256"),
                        format!(
                            "{:?} ({}) is not 64 lowercase hex digits",
                            short(&p.sha256),
                            p.name
                        ),
                    ));
                }
                if p.architecture != *arch && p.architecture != "all" && p.architecture != "noarch"
                {
                    return Err((
                        at("architecture"),
                        format!(
                            "{} is a package for {}, listed for {arch}; remake the lock with `whittle lock CONFIG`",
                            p.name,
                            short(&p.architecture)
                        ),
                    ));
                }
                if !self
                    .contents
                    .repositories
                    .iter()
                    .any(|r| r.url == p.repository)
                {
                    return Err((
                        at("repository"),
                        format!(
                            "{:?} is not one of contents.repositories",
                            short(&p.repository)
                        ),
                    ));
                }
                let inside = p
                    .relative_url()
                    .is_some_and(whittle_deb::packages::is_path_below);
                if !inside {
                    return Err((
                        at("url"),
                        format!(
                            "{:?} ({}) is outside its repository {:?}",
                            short(&p.url),
                            p.name,
                            short(&p.repository)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The lock as written to disk: pretty JSON ending in a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// What changed from `old` to `self`, one line per package and repository index:
    /// `amd64 gawk 1:5.2.1-2 → 1:5.2.1-3`, `+ amd64 libfoo 1.0`, `- amd64 libbar 2.0`.
    pub fn changes_from(&self, old: &Lock) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.contents.repositories {
            match old.contents.repositories.iter().find(|o| o.url == r.url) {
                Some(o) if o.release.checksum != r.release.checksum => out.push(format!(
                    "repository {}: index {} → {}",
                    r.url,
                    o.release.date.as_deref().unwrap_or("?"),
                    r.release.date.as_deref().unwrap_or("?")
                )),
                Some(_) => {}
                None => out.push(format!("+ repository {}", r.url)),
            }
        }
        let archs: std::collections::BTreeSet<&String> = self
            .contents
            .packages
            .keys()
            .chain(old.contents.packages.keys())
            .collect();
        let empty = Vec::new();
        for arch in archs {
            let new: BTreeMap<&str, &LockPackage> = self
                .contents
                .packages
                .get(arch)
                .unwrap_or(&empty)
                .iter()
                .map(|p| (p.name.as_str(), p))
                .collect();
            let was: BTreeMap<&str, &LockPackage> = old
                .contents
                .packages
                .get(arch)
                .unwrap_or(&empty)
                .iter()
                .map(|p| (p.name.as_str(), p))
                .collect();
            for (name, p) in &new {
                match was.get(name) {
                    Some(o) if o.version != p.version => {
                        out.push(format!("{arch} {name} {} → {}", o.version, p.version));
                    }
                    Some(o) if o.sha256 != p.sha256 => {
                        out.push(format!(
                            "{arch} {name} {}: rebuilt (SHA-256 {} → {})",
                            p.version,
                            &o.sha256[..12.min(o.sha256.len())],
                            &p.sha256[..12.min(p.sha256.len())]
                        ));
                    }
                    Some(_) => {}
                    None => out.push(format!("+ {arch} {name} {}", p.version)),
                }
            }
            for (name, o) in &was {
                if !new.contains_key(name) {
                    out.push(format!("- {arch} {name} {}", o.version));
                }
            }
        }
        out
    }
}

/// Whether a repository URL is symbolic: `host:debian`, `host:debian-security` (the mirror the
/// building machine's apt uses), or an APK directory relative to the config (`./packages`,
/// `../repo`: no scheme, not absolute). Its packages' URLs are kept relative to it.
pub fn is_symbolic(repository: &str) -> bool {
    repository.starts_with("host:") || !(repository.contains(':') || repository.starts_with('/'))
}

impl LockPackage {
    /// The package's path under its repository: the rest of its URL, or the URL itself when
    /// the repository is symbolic. `None` when the URL is not under the repository.
    pub fn relative_url(&self) -> Option<&str> {
        if is_symbolic(&self.repository) {
            Some(self.url.as_str())
        } else {
            self.url
                .strip_prefix(self.repository.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        }
    }

    /// Where to download the package when its repository is served from `base` (for a symbolic
    /// repository, the URL it stands for on this machine; else its own URL).
    pub fn url_from(&self, base: &str) -> String {
        if is_symbolic(&self.repository) {
            format!("{}/{}", base.trim_end_matches('/'), self.url)
        } else {
            self.url.clone()
        }
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_sha256_tagged(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(is_sha256_hex)
}

/// At most 100 characters of an untrusted value, for messages.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(100).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lock {
        let repo = "file:///srv/debian".to_string();
        Lock {
            version: LOCK_VERSION.into(),
            config: LockConfig {
                name: "a.yaml".into(),
                checksum: format!("sha256:{}", "a".repeat(64)),
            },
            contents: LockContents {
                keyring: vec![],
                repositories: vec![LockRepository {
                    name: "deb file:///srv/debian bookworm main".into(),
                    url: repo.clone(),
                    architecture: None,
                    release: LockRelease {
                        checksum: format!("sha256:{}", "b".repeat(64)),
                        ..LockRelease::default()
                    },
                }],
                packages: BTreeMap::from([(
                    "amd64".to_string(),
                    vec![LockPackage {
                        name: "gawk".into(),
                        version: "1.0-1".into(),
                        architecture: "amd64".into(),
                        repository: repo.clone(),
                        url: format!("{repo}/pool/main/g/gawk/gawk_1.0-1_amd64.deb"),
                        size: 10,
                        sha256: "c".repeat(64),
                        checksum: None,
                        signature: None,
                        control: None,
                        data: None,
                    }],
                )]),
            },
        }
    }

    fn refused(lock: &Lock) -> String {
        let text = lock.to_json();
        match Lock::parse("a.lock.json", &text) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.field,
        }
    }

    #[test]
    fn round_trip() {
        let l = sample();
        assert_eq!(Lock::parse("a.lock.json", &l.to_json()).ok(), Some(l));
    }

    #[test]
    fn bad_locks_name_the_field() {
        let e = Lock::parse("a.lock.json", b"{not json")
            .err()
            .map(|e| e.field);
        assert_eq!(e.as_deref(), Some("(file)"));
        let mut l = sample();
        l.version = "v9".into();
        assert_eq!(refused(&l), "version");
        let mut l = sample();
        l.contents.packages.get_mut("amd64").unwrap()[0].sha256 = "xyz".into();
        assert_eq!(refused(&l), "contents.packages.amd64[0].sha256");
        let mut l = sample();
        l.contents.packages.get_mut("amd64").unwrap()[0].url =
            "file:///srv/debian/../etc/passwd".into();
        assert_eq!(refused(&l), "contents.packages.amd64[0].url");
        let mut l = sample();
        l.contents.packages.get_mut("amd64").unwrap()[0].url =
            "file:///srv/debian-evil/x.deb".into();
        assert_eq!(refused(&l), "contents.packages.amd64[0].url");
        let mut l = sample();
        l.contents.packages.get_mut("amd64").unwrap()[0].architecture = "arm64".into();
        assert_eq!(refused(&l), "contents.packages.amd64[0].architecture");
        let mut l = sample();
        l.config.checksum = "md5:1".into();
        assert_eq!(refused(&l), "config.checksum");
    }

    #[test]
    fn symbolic_repositories_keep_relative_urls() {
        let mut l = sample();
        l.contents.repositories[0].url = "host:debian".into();
        let p = &mut l.contents.packages.get_mut("amd64").unwrap()[0];
        p.repository = "host:debian".into();
        p.url = "pool/main/g/gawk/gawk_1.0-1_amd64.deb".into();
        let back = Lock::parse("a.lock.json", &l.to_json()).unwrap();
        assert_eq!(
            back.contents.packages["amd64"][0].url_from("http://mirror.example/debian/"),
            "http://mirror.example/debian/pool/main/g/gawk/gawk_1.0-1_amd64.deb"
        );
        // still nothing outside the repository: no absolute URL, no way up
        for url in [
            "file:///etc/passwd",
            "../etc/passwd",
            "/etc/passwd",
            "pool/../../x.deb",
            // what servers and URL parsers take for `..` or `/`
            "pool/%2e%2e/%2E%2E/etc/passwd",
            "pool/.%2e/x.deb",
            "pool/%2e/x.deb",
            "pool%2f..%2f..%2fx.deb",
            "pool%5c..%5cx.deb",
            "pool\\..\\x.deb",
            "pool/x.deb%00",
            "//evil.example/x.deb",
            "http://evil.example/x.deb",
            "pool/x.deb?../../y",
            "pool/x .deb",
            "pool/x\n.deb",
        ] {
            let mut bad = l.clone();
            bad.contents.packages.get_mut("amd64").unwrap()[0].url = url.into();
            assert_eq!(refused(&bad), "contents.packages.amd64[0].url", "{url}");
        }
        let long = format!("pool/{}.deb", "a".repeat(100_000));
        let mut bad = l.clone();
        bad.contents.packages.get_mut("amd64").unwrap()[0].url = long;
        assert_eq!(refused(&bad), "contents.packages.amd64[0].url");
        // an escape that is not a way out is a file name (some pools write epochs as %3a)
        let mut ok = l.clone();
        ok.contents.packages.get_mut("amd64").unwrap()[0].url =
            "pool/main/g/gawk/gawk_1%3a5.2_amd64.deb".into();
        assert!(Lock::parse("a.lock.json", &ok.to_json()).is_ok());
        // a package of a real URL is where its URL says
        let s = sample();
        let p = &s.contents.packages["amd64"][0];
        assert_eq!(p.url_from("http://elsewhere"), p.url);
        // an APK directory relative to the config is symbolic too (the checkout's directory)
        assert!(is_symbolic("./packages") && is_symbolic("../repo") && is_symbolic("out"));
        assert!(!is_symbolic("/srv/packages") && !is_symbolic("file:///srv/packages"));
        let mut rel = l.clone();
        rel.contents.repositories[0].url = "./packages".into();
        let p = &mut rel.contents.packages.get_mut("amd64").unwrap()[0];
        p.repository = "./packages".into();
        p.url = "x86_64/hello-1.0-r0.apk".into();
        let back = Lock::parse("a.lock.json", &rel.to_json()).unwrap();
        assert_eq!(
            back.contents.packages["amd64"][0].url_from("/work/b/packages"),
            "/work/b/packages/x86_64/hello-1.0-r0.apk"
        );
    }

    #[test]
    fn changes_are_listed() {
        let old = sample();
        let mut new = sample();
        new.contents.packages.get_mut("amd64").unwrap()[0].version = "1.0-2".into();
        assert_eq!(new.changes_from(&old), vec!["amd64 gawk 1.0-1 → 1.0-2"]);
        assert!(old.changes_from(&old).is_empty());
    }

    proptest::proptest! {
        /// Any bytes, and any edit of a good lock's text, give a lock or an error naming a
        /// field — never a panic.
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Lock::parse("x.lock.json", &bytes);
        }

        #[test]
        fn edited_locks_are_parsed_or_refused(at in 0usize..2000, byte in proptest::num::u8::ANY) {
            let mut text = sample().to_json();
            let i = at % text.len();
            text[i] = byte;
            match Lock::parse("x.lock.json", &text) {
                Ok(l) => proptest::prop_assert_eq!(l.version.as_str(), LOCK_VERSION),
                Err(e) => proptest::prop_assert!(!e.field.is_empty()),
            }
        }
    }
}
