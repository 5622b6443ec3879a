//! Credentials (Docker's `config.json` and credential helpers) and `WWW-Authenticate` challenges.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

/// Largest `config.json` read.
const MAX_CONFIG_SIZE: u64 = 4 << 20;
/// Largest answer of a credential helper.
const MAX_HELPER_OUTPUT: u64 = 1 << 20;

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// User name and password (or token used as a password).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token realm.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// The directory holding Docker's `config.json`: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => dirs::home_dir().map(|h| h.join(".docker")),
    }
}

#[derive(serde::Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The host part of an `auths` key (`https://index.docker.io/v1/` → `index.docker.io`).
fn auth_key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The names a registry is stored under (Docker Hub has legacy spellings).
fn registry_aliases(registry: &str) -> Vec<&str> {
    if registry == whittle_oci::DOCKER_HUB
        || registry == "index.docker.io"
        || registry == "registry-1.docker.io"
    {
        vec!["index.docker.io", "docker.io", "registry-1.docker.io"]
    } else {
        vec![registry]
    }
}

/// Look up the credentials for `registry` (host with optional port) in `dir/config.json`:
/// `credHelpers`, then `auths`, then `credsStore`. `Ok(None)` when there are none.
pub fn lookup(dir: &Path, registry: &str) -> Result<Option<Credential>> {
    let path = dir.join("config.json");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                action: "opening",
                path,
                source,
            });
        }
    };
    let mut raw = Vec::new();
    file.take(MAX_CONFIG_SIZE)
        .read_to_end(&mut raw)
        .map_err(|source| Error::Io {
            action: "reading",
            path: path.clone(),
            source,
        })?;
    let config: ConfigFile = serde_json::from_slice(&raw).map_err(|e| Error::Credentials {
        message: format!(
            "`{}` is not valid JSON ({e}); fix it or point DOCKER_CONFIG elsewhere",
            path.display()
        ),
    })?;
    let aliases = registry_aliases(registry);
    for a in &aliases {
        if let Some(helper) = config.cred_helpers.get(*a) {
            return run_helper(helper, registry);
        }
    }
    for (key, entry) in &config.auths {
        if aliases.contains(&auth_key_host(key))
            && let Some(c) = entry_credential(entry, &path, key)?
        {
            return Ok(Some(c));
        }
    }
    match config.creds_store.as_deref() {
        Some(store) if !store.is_empty() => run_helper(store, registry),
        _ => Ok(None),
    }
}

fn entry_credential(entry: &AuthEntry, path: &Path, key: &str) -> Result<Option<Credential>> {
    if let Some(t) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken(t.to_string())));
    }
    if let Some(a) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = |why: &str| Error::Credentials {
            message: format!(
                "`auths.\"{key}\".auth` in `{}` {why}; it must be base64 of `user:password` (run `docker login` again)",
                path.display()
            ),
        };
        let decoded = STANDARD
            .decode(a.trim())
            .map_err(|_| bad("is not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8"))?;
        let (u, p) = text.split_once(':').ok_or_else(|| bad("has no `:`"))?;
        return Ok(Some(Credential::Basic {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Some(Credential::Basic {
            username: u.clone(),
            password: p.clone(),
        })),
        _ => Ok(None),
    }
}

#[derive(serde::Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Run `docker-credential-<name> get` with the registry on stdin.
fn run_helper(name: &str, registry: &str) -> Result<Option<Credential>> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Error::Credentials {
            message: format!(
                "credential helper name `{name}` in config.json has characters other than letters, digits, `-`, `_` and `.`"
            ),
        });
    }
    let program = format!("docker-credential-{name}");
    let fail = |why: String| Error::Credentials {
        message: format!("credential helper `{program} get` for {registry}: {why}"),
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run it ({e}); install it or remove it from config.json"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(registry.as_bytes())
            .map_err(|e| fail(format!("writing its input: {e}")))?;
    }
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(MAX_HELPER_OUTPUT)
            .read_to_end(&mut out)
            .map_err(|e| fail(format!("reading its output: {e}")))?;
    }
    let mut err = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        let _ = stderr.take(MAX_HELPER_OUTPUT).read_to_end(&mut err);
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("waiting for it: {e}")))?;
    if !status.success() {
        let msg =
            String::from_utf8_lossy(&out).trim().to_string() + String::from_utf8_lossy(&err).trim();
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        return Err(fail(format!("it failed ({status}): {msg}")));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out)
        .map_err(|e| fail(format!("its output is not the expected JSON: {e}")))?;
    if answer.username == "<token>" {
        return Ok(Some(Credential::IdentityToken(answer.secret)));
    }
    Ok(Some(Credential::Basic {
        username: answer.username,
        password: answer.secret,
    }))
}

/// `Basic <base64(user:password)>`.
pub(crate) fn basic_header(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer` (lower case).
    pub scheme: String,
    /// Parameters (`realm`, `service`, `scope`), keys lower case.
    pub params: BTreeMap<String, String>,
}

/// Parse the first challenge of a `WWW-Authenticate` value
/// (`Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"`).
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = match value.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((s, r)) => (s, r),
        None => (value, ""),
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut s = rest.trim_start();
    while !s.is_empty() {
        let eq = s.find('=')?;
        let key = s.get(..eq)?.trim().to_ascii_lowercase();
        if key.contains(|c: char| c.is_ascii_whitespace() || c == ',') {
            break; // the next challenge starts
        }
        s = s.get(eq + 1..)?.trim_start();
        let val;
        if let Some(q) = s.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => out.push(c),
                }
            }
            val = out;
            s = q.get(end?..)?;
        } else {
            let end = s.find(',').unwrap_or(s.len());
            val = s.get(..end)?.trim().to_string();
            s = s.get(end..)?;
        }
        params.insert(key, val);
        s = s.trim_start();
        match s.strip_prefix(',') {
            Some(r) => s = r.trim_start(),
            None => break,
        }
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_bearer_with_quotes_and_commas() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example.invalid/token",service="registry.example.invalid",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example.invalid/token");
        assert_eq!(c.params["service"], "registry.example.invalid");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
    }

    #[test]
    fn challenge_basic_and_garbage() {
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
        assert_eq!(parse_challenge("").map(|c| c.scheme), None);
        assert!(parse_challenge("Bearer realm=\"unterminated").is_none());
    }

    proptest::proptest! {
        #[test]
        fn challenge_parser_never_panics(s in ".{0,200}") {
            let _ = parse_challenge(&s);
        }

        #[test]
        fn challenge_round_trips_quoted_values(realm in "[ -~]{0,40}", service in "[a-z0-9.:-]{1,20}") {
            let esc = realm.replace('\\', "\\\\").replace('"', "\\\"");
            let c = parse_challenge(&format!("Bearer realm=\"{esc}\", service={service}")).unwrap();
            proptest::prop_assert_eq!(&c.params["realm"], &realm);
            proptest::prop_assert_eq!(&c.params["service"], &service);
        }
    }

    #[test]
    fn config_json_auths_identity_token_and_aliases() {
        let dir = tempfile_dir();
        std::fs::write(
            dir.join("config.json"),
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"127.0.0.1:5000":{"auth":"YWxpY2U6czNjcjN0OmV4dHJh"},"tok.example.invalid":{"identitytoken":"rt"},"bad.example.invalid":{"auth":"!!"}}}"#,
        )
        .unwrap();
        assert_eq!(
            lookup(&dir, "docker.io").unwrap(),
            Some(Credential::Basic {
                username: "u".into(),
                password: "p".into()
            })
        );
        assert_eq!(
            lookup(&dir, "127.0.0.1:5000").unwrap(),
            Some(Credential::Basic {
                username: "alice".into(),
                password: "s3cr3t:extra".into()
            })
        );
        assert_eq!(
            lookup(&dir, "tok.example.invalid").unwrap(),
            Some(Credential::IdentityToken("rt".into()))
        );
        assert_eq!(lookup(&dir, "other.example.invalid").unwrap(), None);
        let e = lookup(&dir, "bad.example.invalid").unwrap_err().to_string();
        assert!(
            e.contains("not base64") && e.contains("docker login"),
            "{e}"
        );
        assert_eq!(lookup(&dir.join("missing"), "docker.io").unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn credential_helper_is_run_with_the_registry_on_stdin() {
        let dir = tempfile_dir();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let helper = bin.join("docker-credential-whittletest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread host\necho \"{\\\"Username\\\":\\\"u-$host\\\",\\\"Secret\\\":\\\"pw\\\"}\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"credHelpers":{"reg.example.invalid":"whittletest"},"credsStore":"no-such-helper-xyz"}"#,
        )
        .unwrap();
        // run_helper resolves through PATH; call it with an absolute-looking PATH prefix
        let old = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin.clone()];
        paths.extend(std::env::split_paths(&old));
        // SAFETY of env mutation: this is the only test in this binary touching PATH.
        unsafe { std::env::set_var("PATH", std::env::join_paths(paths).unwrap()) };
        let got = lookup(&dir, "reg.example.invalid").unwrap();
        assert_eq!(
            got,
            Some(Credential::Basic {
                username: "u-reg.example.invalid".into(),
                password: "pw".into()
            })
        );
        let e = lookup(&dir, "elsewhere.example.invalid")
            .unwrap_err()
            .to_string();
        assert!(e.contains("docker-credential-no-such-helper-xyz"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        tempfile::tempdir().unwrap().keep()
    }
}
