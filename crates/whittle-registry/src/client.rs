//! One registry's HTTP client: URLs, authentication (Basic, Bearer tokens cached per scope,
//! fetched once however many threads need one, renewed before they expire), and every request
//! and body read under the operation's download budget (`whittle_fetch::Budget`: deadline,
//! minimum speed, the one retry policy).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ureq::http;
use whittle_fetch::{Budget, Stop};

use crate::Options;
use crate::auth::{self, Challenge, Credential};
use crate::error::{Error, Result, transient_status};

/// Largest token response read.
const MAX_TOKEN_SIZE: u64 = 1 << 20;
/// How much of an error body is kept for messages.
const MAX_ERROR_BODY: u64 = 4096;
/// How long an error body is read for.
const ERROR_BODY_TIME: Duration = Duration::from_secs(5);

/// A response from the registry.
pub(crate) type Response = http::Response<ureq::Body>;

/// Whether `registry` (host with optional port) is a loopback address.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if registry.matches(':').count() > 1 {
        registry
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                registry
            }
        })
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Default)]
struct AuthState {
    basic: bool,
    bearer: Option<Challenge>,
    tokens: HashMap<String, Token>,
}

/// A Bearer token and when to fetch a new one instead of using it.
struct Token {
    value: String,
    renew_at: Instant,
}

impl AuthState {
    /// The token for `scope`, unless it is (about to be) expired.
    fn usable(&self, scope: &str) -> Option<String> {
        self.tokens
            .get(scope)
            .filter(|t| Instant::now() < t.renew_at)
            .map(|t| t.value.clone())
    }
}

/// How long after it was asked for a token is used: `expires_in` seconds (60 when the token
/// service does not say, as the distribution spec defines) less a margin of a fifth, at most
/// 30 s, so that a request does not start with a token about to expire.
fn renew_after(expires_in: Option<u64>) -> Duration {
    let secs = expires_in.unwrap_or(60).min(86_400);
    Duration::from_secs(secs - (secs / 5).min(30))
}

/// A client for one registry host.
pub(crate) struct Client {
    agent: ureq::Agent,
    /// The operation's budget: every request and body read of this client is held to it.
    budget: Budget,
    /// `scheme://host[:port]` of the API.
    base: String,
    registry: String,
    opts: Options,
    creds: OnceLock<std::result::Result<Option<Credential>, String>>,
    state: Mutex<AuthState>,
    /// Held while a token is fetched, so that threads hitting the same challenge at once
    /// fetch one token and share it instead of each asking the token service.
    fetching: Mutex<()>,
}

impl Client {
    /// A client for `registry` within the operation `budget`; plain HTTP only for loopback
    /// hosts or with `opts.insecure`.
    pub(crate) fn new(registry: &str, opts: &Options, budget: &Budget) -> Result<Client> {
        let scheme = if opts.insecure || is_loopback(registry) {
            "http"
        } else {
            "https"
        };
        let host = if registry == whittle_oci::DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        Ok(Client {
            agent: budget.limits().agent(),
            budget: budget.clone(),
            base: format!("{scheme}://{host}"),
            registry: registry.to_string(),
            opts: opts.clone(),
            creds: OnceLock::new(),
            state: Mutex::new(AuthState::default()),
            fetching: Mutex::new(()),
        })
    }

    /// The registry host this client talks to.
    pub(crate) fn registry(&self) -> &str {
        &self.registry
    }

    /// `base/v2/<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v2/{path}", self.base)
    }

    /// An absolute URL for a `Location` header value.
    pub(crate) fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    pub(crate) fn options(&self) -> &Options {
        &self.opts
    }

    /// The operation's budget.
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The error for a failed request or body read.
    pub(crate) fn failed(&self, method: &str, url: &str, stop: Stop) -> Error {
        Error::Http {
            method: method.to_string(),
            url: url.to_string(),
            attempts: 1,
            stop,
        }
    }

    /// A response body read whole, held to the budget; more than `limit` bytes is
    /// [`Error::TooLarge`] naming `what`.
    pub(crate) fn read_body(
        &self,
        url: &str,
        resp: Response,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        self.budget
            .read_body(resp.into_body(), limit)
            .map_err(|stop| match stop {
                Stop::TooLong => Error::TooLarge {
                    what: format!("{what} {url}"),
                    limit,
                },
                stop => self.failed("GET", url, stop),
            })
    }

    fn credentials(&self) -> Result<Option<Credential>> {
        let got = self.creds.get_or_init(|| {
            let Some(dir) = self
                .opts
                .docker_config
                .clone()
                .or_else(auth::docker_config_dir)
            else {
                return Ok(None);
            };
            auth::lookup(&dir, &self.registry).map_err(|e| e.to_string())
        });
        got.clone()
            .map_err(|message| Error::Credentials { message })
    }

    fn config_hint(&self) -> String {
        self.opts
            .docker_config
            .clone()
            .or_else(auth::docker_config_dir)
            .map(|d| d.join("config.json").display().to_string())
            .unwrap_or_else(|| "~/.docker/config.json".into())
    }

    /// The `Authorization` value for `scope`, fetching a token when the registry uses Bearer.
    fn auth_header(&self, scope: &str) -> Result<Option<String>> {
        let (basic, bearer, cached) = {
            let st = self
                .state
                .lock()
                .map_err(|_| Error::Invalid("auth state poisoned".into()))?;
            (st.basic, st.bearer.clone(), st.usable(scope))
        };
        if basic {
            return Ok(match self.credentials()? {
                Some(Credential::Basic { username, password }) => {
                    Some(auth::basic_header(&username, &password))
                }
                _ => None,
            });
        }
        if let Some(t) = cached {
            return Ok(Some(format!("Bearer {t}")));
        }
        let Some(ch) = bearer else { return Ok(None) };
        let _one = self
            .fetching
            .lock()
            .map_err(|_| Error::Invalid("auth state poisoned".into()))?;
        // another thread may have fetched it while this one waited
        if let Some(t) = self.cached_token(scope) {
            return Ok(Some(format!("Bearer {t}")));
        }
        let t = self.fetch_token(&ch, scope)?;
        Ok(Some(format!("Bearer {t}")))
    }

    fn cached_token(&self, scope: &str) -> Option<String> {
        self.state.lock().ok().and_then(|st| st.usable(scope))
    }

    /// Get a token for `scope` (space-separated scopes) from the challenge's realm.
    fn fetch_token(&self, ch: &Challenge, scope: &str) -> Result<String> {
        let realm = ch.params.get("realm").ok_or_else(|| Error::Unauthorized {
            registry: self.registry.clone(),
            message: "the Bearer challenge has no realm; the registry is misconfigured".into(),
        })?;
        let plain_ok = realm.starts_with("http://") && self.base.starts_with("http://");
        if !(realm.starts_with("https://") || plain_ok) {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!(
                    "token realm `{realm}` is not https; refusing to send credentials there"
                ),
            });
        }
        let mut scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        if let Some(s) = ch.params.get("scope") {
            for s in s.split(' ') {
                if !s.is_empty() && !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
        }
        let service = ch.params.get("service").cloned().unwrap_or_default();
        let creds = self.credentials()?;
        let asked_at = Instant::now();
        let resp = match &creds {
            Some(Credential::IdentityToken(rt)) => {
                let mut form: Vec<(&str, &str)> = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt),
                    ("service", &service),
                    ("client_id", "whittle"),
                ];
                let joined = scopes.join(" ");
                form.push(("scope", &joined));
                self.agent
                    .post(realm)
                    .config()
                    .timeout_global(self.budget.timeout())
                    .build()
                    .send_form(form)
            }
            _ => {
                let mut req = self
                    .agent
                    .get(realm)
                    .config()
                    .timeout_global(self.budget.timeout())
                    .build()
                    .query("service", &service);
                for s in &scopes {
                    req = req.query("scope", *s);
                }
                if let Some(Credential::Basic { username, password }) = &creds {
                    req = req.header("authorization", auth::basic_header(username, password));
                }
                req.call()
            }
        };
        let resp =
            resp.map_err(|e| self.failed("GET", realm, Stop::from_ureq(e, self.budget.limits())))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                message: match creds {
                    Some(_) => format!(
                        "the token service refused the credentials from {}; run `docker login {}` again",
                        self.config_hint(),
                        self.registry
                    ),
                    None => format!(
                        "the registry needs credentials and none were found in {}; run `docker login {}` or set DOCKER_CONFIG",
                        self.config_hint(),
                        self.registry
                    ),
                },
            });
        }
        let body = self.read_body(realm, resp, MAX_TOKEN_SIZE, "token answer")?;
        if status != 200 {
            return Err(Error::Status {
                method: "GET".into(),
                url: realm.clone(),
                status,
                body: excerpt(&body),
                what: "getting a registry token".into(),
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let t: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            Error::Invalid(format!(
                "the token service at {realm} answered invalid JSON: {e}"
            ))
        })?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Invalid(format!("the token service at {realm} answered no token"))
            })?;
        if let Ok(mut st) = self.state.lock() {
            st.tokens.insert(
                scope.to_string(),
                Token {
                    value: token.clone(),
                    renew_at: asked_at + renew_after(t.expires_in),
                },
            );
        }
        Ok(token)
    }

    /// React to a 401 to a request sent with `used` (its `Authorization` value): remember the
    /// challenge and fetch a token, unless another thread already replaced the token that was
    /// refused. `Err` when nothing can help.
    fn answer_challenge(&self, resp: &Response, scope: &str, used: Option<&str>) -> Result<()> {
        let ch = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(auth::parse_challenge)
            .find(|c| c.scheme == "bearer" || c.scheme == "basic")
            .ok_or_else(|| Error::Unauthorized {
                registry: self.registry.clone(),
                message: "the registry answered 401 without a Basic or Bearer challenge".into(),
            })?;
        if ch.scheme == "basic" {
            match self.credentials()? {
                Some(Credential::Basic { .. }) => {}
                Some(Credential::IdentityToken(_)) => {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        message: format!(
                            "the registry wants a user name and password but {} holds an identity token for it",
                            self.config_hint()
                        ),
                    });
                }
                None => {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        message: format!(
                            "the registry needs credentials and none were found in {}; run `docker login {}` or set DOCKER_CONFIG to a directory whose config.json has them",
                            self.config_hint(),
                            self.registry
                        ),
                    });
                }
            }
            if let Ok(mut st) = self.state.lock() {
                st.basic = true;
            }
            return Ok(());
        }
        let _one = self
            .fetching
            .lock()
            .map_err(|_| Error::Invalid("auth state poisoned".into()))?;
        if let Ok(mut st) = self.state.lock() {
            st.bearer = Some(ch.clone());
            let fresh = st
                .tokens
                .get(scope)
                .is_some_and(|t| used != Some(format!("Bearer {}", t.value).as_str()));
            if fresh {
                return Ok(()); // fetched by another thread after this request was sent
            }
            st.tokens.remove(scope);
        }
        self.fetch_token(&ch, scope).map(|_| ())
    }

    /// The error for a 401 (`resp`) that a fresh token or the credentials did not cure.
    fn refused(&self, method: &str, url: &str, scope: &str, resp: &Response) -> Error {
        let basic = self.state.lock().map(|st| st.basic).unwrap_or(false);
        let error = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(auth::parse_challenge)
            .find_map(|c| c.params.get("error").cloned());
        if !basic && error.as_deref() == Some("invalid_token") {
            return Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!(
                    "the registry rejected the token its own token service issued ({method} {url}: `invalid_token`: an untrusted signing key, issuer or audience, or clocks that disagree); the registry or its token service is misconfigured, tell its operator"
                ),
            };
        }
        let message = match self.credentials() {
            Ok(None) | Err(_) => format!(
                "the registry needs credentials for `{scope}` ({method} {url}) and none were found in {}; run `docker login {}` or set DOCKER_CONFIG to a directory whose config.json has them",
                self.config_hint(),
                self.registry
            ),
            Ok(Some(_)) if basic => format!(
                "the registry refused the credentials from {} ({method} {url}); check them or run `docker login {}` again",
                self.config_hint(),
                self.registry
            ),
            Ok(Some(_)) => format!(
                "the token service did not grant `{scope}` to the credentials from {} ({method} {url}): the account has no such access, or the repository name is wrong; check the name, or run `docker login {}` with an account that has access",
                self.config_hint(),
                self.registry
            ),
        };
        Error::Unauthorized {
            registry: self.registry.clone(),
            message,
        }
    }

    /// Send a request with authentication. With `retry`, failures that may pass (connection
    /// errors, stalls, 5xx, 408, 429) are retried under the one policy of the budget; callers
    /// that retry a whole sequence of requests themselves pass `false`. Answers of other
    /// statuses (and the last transient one) are returned as they are.
    pub(crate) fn send(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        retry: bool,
    ) -> Result<Response> {
        let mut attempts = 0;
        let result = self.budget.retry(
            |f: &Failure| {
                retry
                    && match f {
                        Failure::Answer(_) => true,
                        Failure::Error(e) => e.is_transient(),
                    }
            },
            |n| {
                attempts = n;
                self.send_once(method, url, scope, headers, body)
            },
        );
        match result {
            Ok(resp) => Ok(resp),
            Err(Failure::Answer(resp)) => Ok(*resp),
            Err(Failure::Error(Error::Http {
                method, url, stop, ..
            })) => Err(Error::Http {
                method,
                url,
                attempts,
                stop,
            }),
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// One attempt of [`Client::send`]: answers a 401 challenge once, and reports a 5xx, 408
    /// or 429 answer as [`Failure::Answer`].
    fn send_once(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::result::Result<Response, Failure> {
        let mut reauthed = false;
        loop {
            // Credentials go to the registry only: an upload `Location` may name another host
            // or plain HTTP.
            let auth = if same_origin(&self.base, url) {
                self.auth_header(scope)?
            } else {
                None
            };
            let mut b = http::Request::builder().method(method).uri(url);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            if let Some(a) = &auth {
                b = b.header("authorization", a.as_str());
            }
            let invalid = |e: http::Error| Error::Invalid(format!("building {method} {url}: {e}"));
            let result = match body {
                Some(bytes) => {
                    let r = b.body(bytes).map_err(invalid)?;
                    self.agent.run(self.budget.request(&self.agent, r))
                }
                None => {
                    let r = b.body(()).map_err(invalid)?;
                    self.agent.run(self.budget.request(&self.agent, r))
                }
            };
            let resp = match result {
                Ok(resp) => resp,
                Err(e) => {
                    let message = e.to_string();
                    if url.starts_with("https://") && answered_plain_http(&message) {
                        return Err(Error::Insecure(format!(
                            "{method} {url}: {} answered in plain HTTP, not TLS ({message}); if it really serves plain HTTP, pass --insecure (or set WHITTLE_INSECURE_REGISTRY=1), knowing that anyone on the network path can then read and change what is sent, credentials included",
                            self.registry
                        ))
                        .into());
                    }
                    let stop = Stop::from_ureq(e, self.budget.limits());
                    return Err(self.failed(method, url, stop).into());
                }
            };
            let status = resp.status().as_u16();
            if status == 401 {
                if reauthed {
                    return Err(self.refused(method, url, scope, &resp).into());
                }
                reauthed = true;
                self.answer_challenge(&resp, scope, auth.as_deref())?;
                continue;
            }
            if transient_status(status) {
                return Err(Failure::Answer(Box::new(resp)));
            }
            return Ok(resp);
        }
    }
}

/// Why one attempt of [`Client::send`] failed.
enum Failure {
    /// An answer whose status may pass (5xx, 408, 429).
    Answer(Box<Response>),
    /// Any other failure.
    Error(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// Whether `url` is on `base` (`scheme://host[:port]`): same scheme, host and port.
fn same_origin(base: &str, url: &str) -> bool {
    url.get(..base.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(base))
        && url
            .as_bytes()
            .get(base.len())
            .is_none_or(|b| matches!(b, b'/' | b'?' | b'#'))
}

/// Whether a TLS failure means the server answered in plain text: rustls reports the first byte
/// of `HTTP/1.1 400 …` (`H`, 0x48) as a record of an invalid content type.
fn answered_plain_http(message: &str) -> bool {
    message.contains("InvalidContentType")
}

/// The error for an unexpected answer.
pub(crate) fn status_error(method: &str, url: &str, mut resp: Response, what: &str) -> Error {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    // an error body only serves the message: a few seconds, a few kilobytes
    let quick = whittle_fetch::Limits {
        deadline: ERROR_BODY_TIME,
        ..whittle_fetch::Limits::default()
    };
    if let Ok(b) = quick.start() {
        let _ = b
            .pace(resp.body_mut().as_reader())
            .take(MAX_ERROR_BODY)
            .read_to_end(&mut body);
    }
    Error::Status {
        method: method.to_string(),
        url: url.to_string(),
        status,
        body: excerpt(&body),
        what: what.to_string(),
    }
}

/// One line of a response body, for messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let mut one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.len() > 300 {
        let mut cut = 300;
        while !one.is_char_boundary(cut) {
            cut -= 1;
        }
        one.truncate(cut);
        one.push('…');
    }
    one
}

/// A header value as a string.
pub(crate) fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "registry.example.invalid",
            "10.0.0.1:5000",
            "[fe80::1]:5000",
            "localhost.example.invalid",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(renew_after(None), Duration::from_secs(48));
        assert_eq!(renew_after(Some(300)), Duration::from_secs(270));
        assert_eq!(renew_after(Some(3600)), Duration::from_secs(3570));
        assert_eq!(renew_after(Some(4)), Duration::from_secs(4));
        assert_eq!(renew_after(Some(0)), Duration::ZERO);
        assert_eq!(renew_after(Some(u64::MAX)), Duration::from_secs(86_370));
        let mut st = AuthState::default();
        st.tokens.insert(
            "s".into(),
            Token {
                value: "old".into(),
                renew_at: Instant::now(),
            },
        );
        assert_eq!(st.usable("s"), None, "expired tokens are not used");
        st.tokens.insert(
            "s".into(),
            Token {
                value: "new".into(),
                renew_at: Instant::now() + Duration::from_secs(60),
            },
        );
        assert_eq!(st.usable("s").as_deref(), Some("new"));
        assert_eq!(st.usable("other"), None);
    }

    #[test]
    fn plain_http_answers_to_tls_are_recognised() {
        assert!(answered_plain_http(
            "io: received corrupt message of type InvalidContentType"
        ));
        assert!(!answered_plain_http(
            "io: Connection refused (os error 111)"
        ));
    }

    #[test]
    fn credentials_stay_on_the_registry() {
        let base = "https://reg.example.invalid";
        assert!(same_origin(
            base,
            "https://reg.example.invalid/v2/a/blobs/uploads/x?y=1"
        ));
        assert!(same_origin(base, "HTTPS://Reg.Example.Invalid/v2/"));
        assert!(same_origin(base, base));
        assert!(!same_origin(base, "http://reg.example.invalid/v2/a"));
        assert!(!same_origin(
            base,
            "https://reg.example.invalid.evil.invalid/v2/a"
        ));
        assert!(!same_origin(base, "https://reg.example.invalid:8443/v2/a"));
        assert!(!same_origin(
            base,
            "https://reg.example.invalid@evil.invalid/v2/a"
        ));
        assert!(!same_origin(base, "https://other.invalid/v2/a"));
    }

    #[test]
    fn excerpt_is_one_bounded_line() {
        assert_eq!(excerpt(b"a\n  b\tc"), "a b c");
        let long = "é".repeat(400);
        let e = excerpt(long.as_bytes());
        assert!(e.len() <= 304 && e.ends_with('…'));
    }

    #[test]
    fn plain_http_only_for_loopback_or_insecure() {
        let o = Options::default();
        let b = o.limits.start().unwrap();
        assert!(
            Client::new("127.0.0.1:5000", &o, &b)
                .unwrap()
                .base
                .starts_with("http://")
        );
        assert!(
            Client::new("reg.example.invalid", &o, &b)
                .unwrap()
                .base
                .starts_with("https://")
        );
        let insecure = Options {
            insecure: true,
            ..Options::default()
        };
        assert!(
            Client::new("reg.example.invalid", &insecure, &b)
                .unwrap()
                .base
                .starts_with("http://")
        );
        assert_eq!(
            Client::new("docker.io", &o, &b).unwrap().base,
            "https://registry-1.docker.io"
        );
    }
}
