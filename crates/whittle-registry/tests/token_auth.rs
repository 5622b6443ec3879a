//! The Bearer-token flow against a real `docker-registry` (distribution 2.8) configured with
//! `auth: token`, and a token service written here: it checks the Basic credentials (or the
//! identity token) whittle sends from a `config.json`, and issues RS256 JWTs that the registry
//! verifies against a self-signed certificate of the same key (made with the `openssl` CLI),
//! found through the libtrust key id in the JWT's `kid`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use whittle_oci::ImageRef;
use whittle_registry::Options;

mod common;
use common::*;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";
/// A user who may only pull.
const READER: &str = "bob";
const READER_PASSWORD: &str = "hunter2";
/// The identity (refresh) token the service accepts for `USER`.
const REFRESH: &str = "rt-alice-1";
const SERVICE: &str = "whittle-test";
const ISSUER: &str = "whittle-test-issuer";
/// Largest request the token service reads.
const MAX_REQUEST: u64 = 64 << 10;

/// One request the token service answered.
#[derive(Debug, Clone)]
struct Seen {
    /// `GET` (Basic or anonymous) or `POST` (OAuth2 refresh token).
    method: String,
    /// `alice`, `bob`, `anonymous`, or `refused`.
    who: String,
    /// The scopes asked for (`repository:NAME:ACTIONS`).
    scopes: Vec<String>,
    /// The `service` parameter.
    service: String,
}

/// The token service: `alice` gets every action she asks for, `bob` gets `pull`; anonymous
/// clients get `pull` on `public/*` and nothing else (the way Docker Hub answers for a private
/// repository).
struct TokenServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The `expires_in` of the answers (the JWTs themselves stay valid for 300 s).
    expires_in: Arc<AtomicU64>,
}

impl TokenServer {
    fn start(key: RsaPrivateKey, kid: String) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let signer = Arc::new((SigningKey::<Sha256>::new(key), kid));
        let jti = Arc::new(AtomicU64::new(0));
        let expires_in = Arc::new(AtomicU64::new(300));
        let (s, e) = (seen.clone(), expires_in.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (s, signer, jti, e) = (s.clone(), signer.clone(), jti.clone(), e.clone());
                std::thread::spawn(move || {
                    let ttl = e.load(Ordering::SeqCst);
                    serve(conn, &s, &signer.0, &signer.1, &jti, ttl)
                });
            }
        });
        TokenServer {
            port,
            seen,
            expires_in,
        }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The requests answered since the last call.
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn respond(conn: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.flush();
}

/// Answer one token request (one per connection).
fn serve(
    mut conn: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    signer: &SigningKey<Sha256>,
    kid: &str,
    jti: &AtomicU64,
    expires_in: u64,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap().take(MAX_REQUEST));
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (mut authorization, mut length) = (None, 0usize);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap() == 0 || h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        match k.trim().to_ascii_lowercase().as_str() {
            "authorization" => authorization = Some(v.trim().to_string()),
            "content-length" => length = v.trim().parse().unwrap(),
            _ => {}
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    assert_eq!(path, "/token");
    let mut params = parse_form(query);
    if method == "POST" {
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        params.extend(parse_form(std::str::from_utf8(&body).unwrap()));
    }
    let param = |k: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(pk, _)| pk == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let scopes: Vec<String> = param("scope")
        .iter()
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let who = if method == "POST" {
        let ok = param("grant_type") == ["refresh_token"] && param("refresh_token") == [REFRESH];
        if ok { USER } else { "refused" }
    } else {
        match authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
        {
            None => "anonymous",
            Some(b) => {
                let raw = STANDARD.decode(b).unwrap();
                if raw == format!("{USER}:{PASSWORD}").as_bytes() {
                    USER
                } else if raw == format!("{READER}:{READER_PASSWORD}").as_bytes() {
                    READER
                } else {
                    "refused"
                }
            }
        }
    };
    seen.lock().unwrap().push(Seen {
        method,
        who: who.to_string(),
        scopes: scopes.clone(),
        service: param("service").concat(),
    });
    if who == "refused" {
        respond(
            &mut conn,
            "401 Unauthorized",
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        );
        return;
    }
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let (kind, rest) = s.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| {
                    who == USER || (*a == "pull" && (who == READER || name.starts_with("public/")))
                })
                .collect();
            (!actions.is_empty())
                .then(|| serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": kid});
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": if who == "anonymous" { "" } else { who },
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 1,
        "iat": now,
        "jti": format!("whittle-test-{}", jti.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer.sign(signed.as_bytes()).to_bytes();
    let jwt = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature));
    let body = serde_json::json!({"token": jwt, "access_token": jwt, "expires_in": expires_in});
    respond(&mut conn, "200 OK", &body.to_string());
}

/// libtrust's key id (what distribution 2.8 matches a JWT's `kid` against): the SHA-256 of the
/// PKIX DER public key, truncated to 240 bits, base32 in 12 groups of 4 joined by `:`.
fn libtrust_key_id(key: &RsaPrivateKey) -> String {
    let der = key.to_public_key().to_public_key_der().unwrap();
    let hash = Sha256::digest(der.as_bytes());
    let b32 = base32(&hash[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

/// RFC 4648 base32 (30 bytes in, 48 characters out: no padding needed).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A signing key and its self-signed certificate (PEM at `dir/cert.pem`), made by `openssl`.
fn signing_key(dir: &Path) -> Option<RsaPrivateKey> {
    if !whittle_testutil::tool("openssl") {
        return None;
    }
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=whittle-test-issuer", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(dir.join("key.pem")).unwrap();
    Some(RsaPrivateKey::from_pkcs8_pem(&pem).unwrap())
}

/// A registry with token auth and its token service; `None` (skipped) without the tools.
fn start() -> Option<(Registry, TokenServer, tempfile::TempDir)> {
    start_kid(|kid| kid)
}

/// [`start`], with the `kid` the token service writes into its JWTs changed by `kid`.
fn start_kid(kid: impl Fn(String) -> String) -> Option<(Registry, TokenServer, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path())?;
    let kid = kid(libtrust_key_id(&key));
    let tokens = TokenServer::start(key, kid);
    let realm = tokens.realm();
    let reg = Registry::start_with(Auth::Token {
        realm: &realm,
        service: SERVICE,
        issuer: ISSUER,
        rootcertbundle: &dir.path().join("cert.pem"),
    })?;
    Some((reg, tokens, dir))
}

/// Options reading `config.json` from `dir` with `entry` as the registry's `auths` entry.
fn with_config(dir: &Path, host: &str, entry: &str) -> Options {
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{entry}}}}}"#),
    )
    .unwrap();
    Options {
        docker_config: Some(dir.to_path_buf()),
        ..opts()
    }
}

fn basic_entry(user: &str, password: &str) -> String {
    format!(
        r#"{{"auth":"{}"}}"#,
        STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn key_id_is_libtrusts_fingerprint_of_the_pkix_key() {
    assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    assert_eq!(base32(b"f"), "MY");
    let dir = tempfile::tempdir().unwrap();
    let Some(key) = signing_key(dir.path()) else {
        return;
    };
    // the DER hashed is the certificate's SubjectPublicKeyInfo, as Go's MarshalPKIXPublicKey
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(dir.path().join("cert.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let pem = String::from_utf8(out.stdout).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let cert_der = STANDARD.decode(b64).unwrap();
    let ours = key.to_public_key().to_public_key_der().unwrap();
    assert_eq!(ours.as_bytes(), cert_der.as_slice());
    let kid = libtrust_key_id(&key);
    let groups: Vec<&str> = kid.split(':').collect();
    assert_eq!(groups.len(), 12, "{kid}");
    assert!(groups.iter().all(|g| g.len() == 4), "{kid}");
    assert_eq!(
        groups.concat(),
        base32(&Sha256::digest(&cert_der)[..30]),
        "{kid}"
    );
}

#[test]
fn bearer_push_pull_and_mount_with_credentials() {
    let Some((reg, tokens, dir)) = start() else {
        return;
    };
    let host = reg.host();
    let o = with_config(dir.path(), &host, &basic_entry(USER, PASSWORD));
    assert_eq!(o.jobs, 4, "blobs go up in parallel");
    // 300 kB base layer in 64 kB chunks: many requests, all with one token
    let img = image("amd64", "token", 300_000);
    let dest = dref(&host, "tok/app:v1");
    let report = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &o).unwrap();
    assert_eq!((report.uploaded, report.skipped), (3, 0), "{report:?}");
    let seen = tokens.take();
    assert_eq!(seen.len(), 1, "one token for the whole push: {seen:#?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].who, USER);
    assert_eq!(seen[0].service, SERVICE);
    assert!(
        seen[0]
            .scopes
            .contains(&"repository:tok/app:pull,push".to_string()),
        "{seen:#?}"
    );

    // pull it back with a new client: one token, for pull
    let local = dir.path().join("local");
    let written = whittle_oci::write(
        std::slice::from_ref(&img),
        &ImageRef::Oci {
            path: local.clone(),
            tag: Some("v1".into()),
        },
    )
    .unwrap();
    assert_eq!(report.digest, written.digest);
    let pulled = dir.path().join("pulled");
    let p = whittle_registry::pull(&dest, &o, &pulled, Some("v1"), None).unwrap();
    assert_eq!(p.digest, written.digest);
    assert_eq!(tree(&pulled), tree(&local));
    let seen = tokens.take();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].scopes, ["repository:tok/app:pull"], "{seen:#?}");

    // registry to registry on the same host: a mount needs push here and pull there, in one token
    let c = whittle_registry::copy(
        &ImageRef::Docker(dest.clone()),
        &ImageRef::Docker(dref(&host, "tok/copy:v1")),
        None,
        &o,
    )
    .unwrap();
    let push = c.push.unwrap();
    assert_eq!((push.mounted, push.uploaded), (3, 0), "{push:?}");
    let seen = tokens.take();
    assert!(
        seen.iter().any(|s| s
            .scopes
            .contains(&"repository:tok/copy:pull,push".to_string())
            && s.scopes.contains(&"repository:tok/app:pull".to_string())),
        "{seen:#?}"
    );
    assert!(seen.len() <= 2, "one token per client: {seen:#?}");

    // another client (skopeo) sees the same digest through the same token service
    if whittle_testutil::tool("skopeo") {
        let out = Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--creds"])
            .arg(format!("{USER}:{PASSWORD}"))
            .arg(format!("docker://{host}/tok/copy:v1"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["Digest"], written.digest.as_str());
    }
}

#[test]
fn bearer_refusals_name_the_fix_and_public_pull_is_anonymous() {
    let Some((reg, tokens, dir)) = start() else {
        return;
    };
    let host = reg.host();
    let img = image("amd64", "refusals", 1000);
    let dest = dref(&host, "private/app:1");

    // a wrong password: the token service answers 401
    let wrong = with_config(dir.path(), &host, &basic_entry(USER, "wrong"));
    let e = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &wrong).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("refused the credentials") && msg.contains(&format!("docker login {host}")),
        "{msg}"
    );
    assert!(tokens.take().iter().all(|s| s.who == "refused"));

    // push it for real, and the same image to a public repository
    let alice = with_config(dir.path(), &host, &basic_entry(USER, PASSWORD));
    whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &alice).unwrap();
    let public = dref(&host, "public/app:1");
    whittle_registry::push(std::slice::from_ref(&img), &public, &[], &alice).unwrap();
    tokens.take();

    // no credentials at all: the anonymous token grants nothing on private/
    let anon = Options {
        docker_config: Some(dir.path().join("no-such-dir")),
        ..opts()
    };
    let out = dir.path().join("anon");
    let e = whittle_registry::pull(&dest, &anon, &out, None, None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("needs credentials")
            && msg.contains("repository:private/app:pull")
            && msg.contains(&format!("docker login {host}")),
        "{msg}"
    );
    assert!(!out.exists(), "nothing written on failure");
    let e = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &anon).unwrap_err();
    assert!(e.to_string().contains("docker login"), "{e}");
    assert!(tokens.take().iter().all(|s| s.who == "anonymous"));

    // but public/ is pullable anonymously (the flow of any public image on a hub)
    let p = whittle_registry::pull(&public, &anon, &out, None, None).unwrap();
    assert_eq!(p.blobs, 3);
    let seen = tokens.take();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].who, "anonymous");

    // credentials that are right but lack access: the message says so instead of blaming them
    let reader = with_config(dir.path(), &host, &basic_entry(READER, READER_PASSWORD));
    let p = whittle_registry::pull(&dest, &reader, &dir.path().join("bob"), None, None).unwrap();
    assert_eq!(p.blobs, 3);
    let e = whittle_registry::push(
        std::slice::from_ref(&img),
        &dref(&host, "private/app:2"),
        &[],
        &reader,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("did not grant `repository:private/app:pull,push`")
            && msg.contains("docker login"),
        "{msg}"
    );
    assert!(tokens.take().iter().all(|s| s.who == READER));
}

#[test]
fn identity_token_is_exchanged_as_a_refresh_token() {
    let Some((reg, tokens, dir)) = start() else {
        return;
    };
    let host = reg.host();
    let o = with_config(
        dir.path(),
        &host,
        &format!(r#"{{"identitytoken":"{REFRESH}"}}"#),
    );
    let img = image("amd64", "refresh", 1000);
    let dest = dref(&host, "rt/app:1");
    let r = whittle_registry::push(std::slice::from_ref(&img), &dest, &[], &o).unwrap();
    assert_eq!(r.uploaded, 3);
    let seen = tokens.take();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].who.as_str()),
        ("POST", USER)
    );
    assert!(
        seen[0]
            .scopes
            .contains(&"repository:rt/app:pull,push".to_string())
    );

    // tokens that the service says expire at once are not reused: a new one per request
    tokens.expires_in.store(0, Ordering::SeqCst);
    let p = whittle_registry::pull(&dest, &o, &dir.path().join("p0"), None, None).unwrap();
    assert_eq!(p.blobs, 3);
    let seen = tokens.take();
    assert!(seen.len() >= 4, "manifest + 3 blobs: {seen:#?}");
    assert!(seen.iter().all(|s| s.method == "POST" && s.who == USER));
    tokens.expires_in.store(300, Ordering::SeqCst);

    let stale = with_config(dir.path(), &host, r#"{"identitytoken":"expired"}"#);
    let e = whittle_registry::pull(&dest, &stale, &dir.path().join("p"), None, None).unwrap_err();
    assert!(
        e.to_string().contains("refused the credentials") && e.to_string().contains("docker login"),
        "{e}"
    );
}

#[test]
fn tokens_the_registry_does_not_trust_are_reported_as_misconfiguration() {
    // the token service names a key the registry does not know: every token is invalid
    let Some((reg, tokens, dir)) = start_kid(|kid| kid.replace(|c: char| c != ':', "A")) else {
        return;
    };
    let host = reg.host();
    let o = with_config(dir.path(), &host, &basic_entry(USER, PASSWORD));
    let img = image("amd64", "untrusted", 1000);
    let e = whittle_registry::push(std::slice::from_ref(&img), &dref(&host, "x/app:1"), &[], &o)
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("invalid_token") && msg.contains("misconfigured"),
        "{msg}"
    );
    assert!(tokens.take().iter().all(|s| s.who == USER));
}
