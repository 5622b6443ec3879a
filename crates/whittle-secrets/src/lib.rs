//! Finds secrets in bytes, names and assignments: private keys, cloud and SaaS tokens, JWTs and
//! high-entropy `password=`/`secret=` values in file contents; secret-looking file names (`.env`,
//! `id_rsa`, `*.pem`, …); and secret name/value pairs (`ENV`, `ARG`, labels). Every match carries
//! redacted evidence only — never the secret itself.
//!
//! Speed matters: [`scan`] runs over every text file of an image. Binary (NUL-heavy) data is
//! skipped after a look at its first bytes, candidates are found by one SIMD multi-pattern search
//! (`aho-corasick`'s Teddy) over at most [`scan_prefix_limit`] bytes, and only candidates are
//! looked at closely.

use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::LazyLock;

/// One secret found by [`scan`] or [`secret_assignment`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretMatch {
    /// A stable rule id, kebab-case (`aws-access-key-id`, `private-key`, `password-assignment`).
    pub rule: &'static str,
    /// What the rule found, for people (`AWS access key id`).
    pub description: &'static str,
    /// The 1-based line of the match in the scanned data (1 for [`secret_assignment`]).
    pub line: usize,
    /// Redacted evidence: at most the first 4 and the last 2 characters (`AKIA…LE`).
    pub redacted: String,
}

/// How many bytes of a file [`scan`] looks at: 1 MiB. Secrets live in small text files; bytes
/// past this prefix are ignored, which bounds the time and memory spent on any one file.
pub fn scan_prefix_limit() -> usize {
    SCAN_PREFIX_LIMIT
}

const SCAN_PREFIX_LIMIT: usize = 1 << 20;
/// At most this many matches are returned by one [`scan`].
const MAX_MATCHES: usize = 64;
/// Longest value an assignment rule looks at.
const MAX_VALUE: usize = 256;
/// Longest key name an assignment rule looks at.
const MAX_KEY: usize = 64;
/// Minimum Shannon entropy (bits per byte) of a generic `password=`/`secret=` value.
const MIN_ENTROPY: f64 = 3.0;
/// Minimum length of a generic `password=`/`secret=` value found in file contents.
const MIN_GENERIC_LEN: usize = 8;

/// What a candidate anchor in [`PATTERNS`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PrivateKey,
    Aws,
    GithubClassic,
    GithubPat,
    Gitlab,
    Slack,
    Stripe,
    GoogleApi,
    Jwt,
    NpmAuth,
    NpmToken,
    Keyword,
}

/// Every anchor, case-sensitive (so the fast packed searcher applies). The keywords come in their
/// common spellings (`password`, `PASSWORD`, `Password` — the last also catches `dbPassword`).
const PATTERNS: &[(&str, Kind)] = &[
    ("PRIVATE KEY-----", Kind::PrivateKey),
    ("AKIA", Kind::Aws),
    ("ASIA", Kind::Aws),
    ("ghp_", Kind::GithubClassic),
    ("gho_", Kind::GithubClassic),
    ("ghu_", Kind::GithubClassic),
    ("ghs_", Kind::GithubClassic),
    ("ghr_", Kind::GithubClassic),
    ("github_pat_", Kind::GithubPat),
    ("glpat-", Kind::Gitlab),
    ("xoxb-", Kind::Slack),
    ("xoxa-", Kind::Slack),
    ("xoxp-", Kind::Slack),
    ("xoxr-", Kind::Slack),
    ("xoxs-", Kind::Slack),
    ("sk_live_", Kind::Stripe),
    ("AIza", Kind::GoogleApi),
    ("eyJ", Kind::Jwt),
    ("_authToken", Kind::NpmAuth),
    ("npm_", Kind::NpmToken),
    ("password", Kind::Keyword),
    ("PASSWORD", Kind::Keyword),
    ("Password", Kind::Keyword),
    ("passwd", Kind::Keyword),
    ("PASSWD", Kind::Keyword),
    ("secret", Kind::Keyword),
    ("SECRET", Kind::Keyword),
    ("Secret", Kind::Keyword),
    ("token", Kind::Keyword),
    ("TOKEN", Kind::Keyword),
    ("Token", Kind::Keyword),
    ("api_key", Kind::Keyword),
    ("API_KEY", Kind::Keyword),
    ("apikey", Kind::Keyword),
    ("APIKEY", Kind::Keyword),
    ("apiKey", Kind::Keyword),
    ("ApiKey", Kind::Keyword),
    ("api-key", Kind::Keyword),
    ("access_key", Kind::Keyword),
    ("ACCESS_KEY", Kind::Keyword),
    ("accessKey", Kind::Keyword),
];

static SEARCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(PATTERNS.iter().map(|(p, _)| p))
        .ok()
});

/// Finds secrets in `data` (the first [`scan_prefix_limit`] bytes of it), in the order they
/// appear. Binary data (many NUL bytes near the start) yields nothing. At most 64 matches.
///
/// Content rules: PEM/OpenSSH private keys, AWS access key ids and secret keys in assignments,
/// GitHub, GitLab, Slack, Stripe, Google API and npm tokens, JWTs, and `password=`/`secret=`/
/// `token:` assignments whose value has high entropy and is not a placeholder.
pub fn scan(data: &[u8]) -> Vec<SecretMatch> {
    let data = data.get(..SCAN_PREFIX_LIMIT).unwrap_or(data);
    let mut out = Vec::new();
    if looks_binary(data) {
        return out;
    }
    let Some(ac) = SEARCHER.as_ref() else {
        return out;
    };
    let mut lines = LineCounter::default();
    let mut skip_until = 0usize;
    for m in ac.find_iter(data) {
        let start = m.start();
        if start < skip_until {
            continue;
        }
        let Some((_, kind)) = PATTERNS.get(m.pattern().as_usize()) else {
            continue;
        };
        let found = match kind {
            Kind::PrivateKey => private_key(data, start),
            Kind::Aws => fixed_token(data, start, 4, 16, upper_digit, "aws-access-key-id"),
            Kind::GithubClassic => fixed_token(data, start, 4, 36, alnum, "github-token"),
            Kind::GithubPat => min_token(data, start, 11, 40, word, "github-token"),
            Kind::Gitlab => min_token(data, start, 6, 20, token_char, "gitlab-token"),
            Kind::Slack => min_token(data, start, 5, 10, slack_char, "slack-token"),
            Kind::Stripe => min_token(data, start, 8, 24, alnum, "stripe-secret-key"),
            Kind::GoogleApi => fixed_token(data, start, 4, 35, token_char, "google-api-key"),
            Kind::Jwt => jwt(data, start),
            Kind::NpmAuth => npm_auth(data, m.end()),
            Kind::NpmToken => fixed_token(data, start, 4, 36, alnum, "npm-token"),
            Kind::Keyword => keyword_assignment(data, start, m.end()),
        };
        if let Some((rule, s, e)) = found {
            let Some(secret) = data.get(s..e) else {
                continue;
            };
            out.push(SecretMatch {
                rule,
                description: describe(rule),
                line: lines.line_of(data, start),
                redacted: if rule == "private-key" {
                    private_key_label(secret)
                } else {
                    redact(&String::from_utf8_lossy(secret))
                },
            });
            skip_until = e;
            if out.len() >= MAX_MATCHES {
                break;
            }
        }
    }
    out
}

/// The description of each rule id.
fn describe(rule: &str) -> &'static str {
    match rule {
        "private-key" => "private key (PEM/OpenSSH)",
        "aws-access-key-id" => "AWS access key id",
        "aws-secret-access-key" => "AWS secret access key",
        "github-token" => "GitHub token",
        "gitlab-token" => "GitLab personal access token",
        "slack-token" => "Slack token",
        "stripe-secret-key" => "Stripe live secret key",
        "google-api-key" => "Google API key",
        "jwt" => "JSON Web Token",
        "npm-token" => "npm auth token",
        "password-assignment" => "password assigned in plain text",
        "secret-assignment" => "secret or token assigned in plain text",
        _ => "secret",
    }
}

/// Whether data is binary: more than 1 NUL byte in 32 of its first 8 KiB.
fn looks_binary(data: &[u8]) -> bool {
    let head = data.get(..8192).unwrap_or(data);
    let nuls = memchr::memchr_iter(0, head).count();
    nuls > 0 && nuls * 32 > head.len()
}

/// Counts lines incrementally over increasing offsets.
#[derive(Default)]
struct LineCounter {
    pos: usize,
    line: usize,
}

impl LineCounter {
    fn line_of(&mut self, data: &[u8], offset: usize) -> usize {
        if offset >= self.pos {
            let slice = data.get(self.pos..offset).unwrap_or_default();
            self.line += memchr::memchr_iter(b'\n', slice).count();
            self.pos = offset;
        }
        self.line + 1
    }
}

fn upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}
fn slack_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}
fn base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// Whether the byte before `start` ends a word (so a prefix is not inside a longer token).
fn boundary_before(data: &[u8], start: usize) -> bool {
    start == 0
        || data
            .get(start - 1)
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
}

/// Counts the bytes from `from` that satisfy `class`, up to `max`.
fn run_len(data: &[u8], from: usize, max: usize, class: fn(u8) -> bool) -> usize {
    data.get(from..)
        .unwrap_or_default()
        .iter()
        .take(max)
        .take_while(|b| class(**b))
        .count()
}

/// A prefix of `plen` bytes then exactly `body` bytes of `class`, on word boundaries.
fn fixed_token(
    data: &[u8],
    start: usize,
    plen: usize,
    body: usize,
    class: fn(u8) -> bool,
    rule: &'static str,
) -> Option<(&'static str, usize, usize)> {
    if !boundary_before(data, start) {
        return None;
    }
    let n = run_len(data, start + plen, body + 1, class);
    let after_ok = data
        .get(start + plen + n)
        .is_none_or(|b| !b.is_ascii_alphanumeric());
    (n == body && after_ok).then_some((rule, start, start + plen + body))
}

/// A prefix of `plen` bytes then at least `min` bytes of `class` (at most [`MAX_VALUE`]).
fn min_token(
    data: &[u8],
    start: usize,
    plen: usize,
    min: usize,
    class: fn(u8) -> bool,
    rule: &'static str,
) -> Option<(&'static str, usize, usize)> {
    if !boundary_before(data, start) {
        return None;
    }
    let n = run_len(data, start + plen, MAX_VALUE, class);
    (n >= min).then_some((rule, start, start + plen + n))
}

/// `-----BEGIN … PRIVATE KEY-----` followed by a key body (base64 or PEM headers).
fn private_key(data: &[u8], anchor: usize) -> Option<(&'static str, usize, usize)> {
    // the header starts at most 48 bytes before the anchor, on the same line
    let lo = anchor.saturating_sub(48);
    let before = data.get(lo..anchor)?;
    let begin = memchr::memmem::rfind(before, b"-----BEGIN ")?;
    if memchr::memchr(b'\n', before.get(begin..)?).is_some() {
        return None;
    }
    let start = lo + begin;
    let header_end = anchor + "PRIVATE KEY-----".len();
    let mut body = header_end;
    while matches!(data.get(body), Some(b'\r' | b'\n')) {
        body += 1;
    }
    let rest = data.get(body..)?;
    let looks_pem_headers = rest.starts_with(b"Proc-Type:");
    let b64 = rest
        .iter()
        .take(64)
        .take_while(|b| base64_char(**b) || **b == b'\n' || **b == b'\r')
        .count();
    (looks_pem_headers || b64 >= 40).then_some(("private-key", start, header_end))
}

/// The label of a private key header (`BEGIN RSA PRIVATE KEY`), which shows no secret.
fn private_key_label(header: &[u8]) -> String {
    String::from_utf8_lossy(header)
        .trim_matches('-')
        .trim()
        .to_string()
}

/// `eyJ<header>.eyJ<payload>.<signature>` (base64url parts).
fn jwt(data: &[u8], start: usize) -> Option<(&'static str, usize, usize)> {
    if !boundary_before(data, start) {
        return None;
    }
    let h = run_len(data, start, 2048, token_char);
    let p_start = start + h + 1;
    if h < 10 || data.get(start + h) != Some(&b'.') || !data.get(p_start..)?.starts_with(b"eyJ") {
        return None;
    }
    let p = run_len(data, p_start, 8192, token_char);
    let s_start = p_start + p + 1;
    if p < 10 || data.get(p_start + p) != Some(&b'.') {
        return None;
    }
    let s = run_len(data, s_start, 2048, token_char);
    (s >= 10).then_some(("jwt", start, s_start + s))
}

/// npm's `_authToken=VALUE` (in `.npmrc`), not a `${VAR}` reference.
fn npm_auth(data: &[u8], end: usize) -> Option<(&'static str, usize, usize)> {
    let mut i = end;
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if data.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while matches!(data.get(i), Some(b' ' | b'\t' | b'"' | b'\'')) {
        i += 1;
    }
    let n = run_len(data, i, MAX_VALUE, |b| {
        !b.is_ascii_whitespace() && b != b'"' && b != b'\''
    });
    let value = data.get(i..i + n)?;
    if n < 8 || is_placeholder(&String::from_utf8_lossy(value)) {
        return None;
    }
    Some(("npm-token", i, i + n))
}

fn key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// A `KEY = VALUE` / `"key": "value"` / `key: value` assignment whose key holds the keyword at
/// `kw_start..kw_end` and whose value looks like a real secret.
fn keyword_assignment(
    data: &[u8],
    kw_start: usize,
    kw_end: usize,
) -> Option<(&'static str, usize, usize)> {
    // the keyword must end a word part: `tokenizer` and `secretary` are not secrets
    let kw = data.get(kw_start..kw_end)?;
    let next = data.get(kw_end).copied();
    let part_ends = match next {
        None => true,
        Some(b) if !b.is_ascii_alphabetic() => true,
        Some(b) if b.is_ascii_uppercase() => kw.last().is_some_and(|l| l.is_ascii_lowercase()),
        Some(b's' | b'S') => data
            .get(kw_end + 1)
            .is_none_or(|b| !b.is_ascii_alphabetic()),
        Some(_) => false,
    };
    if !part_ends {
        return None;
    }
    // the whole key around the keyword
    let mut ks = kw_start;
    while ks > 0 && kw_start - ks < MAX_KEY && data.get(ks - 1).is_some_and(|b| key_char(*b)) {
        ks -= 1;
    }
    let ke = kw_end + run_len(data, kw_end, MAX_KEY, key_char);
    let key = String::from_utf8_lossy(data.get(ks..ke)?).to_ascii_lowercase();
    if excluded_key(&key) {
        return None;
    }
    // `key` then an optional closing quote, spaces, `=`/`:`/`:=`/`=>`, spaces
    let mut i = ke;
    if matches!(data.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match data.get(i) {
        Some(b'=') => {
            i += 1;
            match data.get(i) {
                Some(b'=' | b'~') => return None,
                Some(b'>') => i += 1,
                _ => {}
            }
        }
        Some(b':') => {
            i += 1;
            if data.get(i) == Some(&b'=') {
                i += 1;
            }
        }
        _ => return None,
    }
    while matches!(data.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let (vs, ve, quoted) = match data.get(i) {
        Some(q @ (b'"' | b'\'' | b'`')) => {
            let q = *q;
            let n = run_len(data, i + 1, MAX_VALUE + 1, |b| b != b'\n');
            let rest = data.get(i + 1..i + 1 + n)?;
            let close = memchr::memchr(q, rest)?;
            (i + 1, i + 1 + close, true)
        }
        _ => {
            let n = run_len(data, i, MAX_VALUE + 1, |b| {
                !b.is_ascii_whitespace() && !b",;&)}]\"'<>".contains(&b)
            });
            (i, i + n, false)
        }
    };
    let value = std::str::from_utf8(data.get(vs..ve)?).ok()?;
    if !looks_like_secret_value(value, quoted) {
        return None;
    }
    let rule = if key.contains("aws") && key.contains("secret") && is_aws_secret(value) {
        "aws-secret-access-key"
    } else if key.contains("pass") {
        "password-assignment"
    } else {
        "secret-assignment"
    };
    Some((rule, vs, ve))
}

/// A 40-character base64 string, the shape of an AWS secret access key.
fn is_aws_secret(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(base64_char)
}

/// Key names that name where a secret is, or what kind it is, rather than holding it.
fn excluded_key(key: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "file",
        "path",
        "dir",
        "url",
        "uri",
        "name",
        "type",
        "length",
        "len",
        "size",
        "format",
        "env",
        "var",
        "field",
        "ref",
        "prompt",
        "policy",
        "header",
        "endpoint",
        "expiry",
        "expires",
        "ttl",
        "regex",
        "pattern",
        "hint",
        "label",
        "required",
        "enabled",
        "encryption",
        "method",
        "algorithm",
        "algo",
        "mode",
        "scheme",
        "version",
        "count",
        "timeout",
        "age",
        "strength",
        "complexity",
        "command",
        "cmd",
        "prefix",
    ];
    let key = key.trim_end_matches(['_', '-', '.']);
    SUFFIXES.iter().any(|s| {
        key.strip_suffix(s)
            .is_some_and(|head| head.ends_with(['_', '-', '.']))
    })
}

/// Whether a generic assignment's value is a real-looking secret: long enough, high entropy, of
/// mixed character classes, and neither a placeholder nor code (`self.password`, `get()`).
fn looks_like_secret_value(value: &str, quoted: bool) -> bool {
    let len = value.len();
    if !(MIN_GENERIC_LEN..=MAX_VALUE).contains(&len) || is_placeholder(value) {
        return false;
    }
    if value.bytes().any(|b| b == b'(' || b == b' ' || b == b'\\') {
        return false;
    }
    // code, not a literal: indexing, calls, blocks, f-string fields, type annotations
    if !quoted && value.bytes().any(|b| b"[]{}".contains(&b)) {
        return false;
    }
    // lowercase words joined by `_`/`-` (`base64_encoded_64_byte_salt`) are prose
    let parts: Vec<&str> = value.split(['_', '-']).collect();
    let words = parts
        .iter()
        .filter(|p| p.len() >= 3 && p.bytes().all(|b| b.is_ascii_lowercase()))
        .count();
    if parts.len() >= 3 && words >= 2 {
        return false;
    }
    // paths, URLs and the next `name=` of a list are not secrets
    if value.starts_with('/')
        || value.contains("://")
        || (value.ends_with('=') && !value.len().is_multiple_of(4))
    {
        return false;
    }
    // a value that names the kind of secret is a label (`"challengePassword"`)
    let lower = value.to_ascii_lowercase();
    if ["password", "passwd", "secret", "token"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return false;
    }
    // words joined by dashes (`elevated-privileges`) are prose; a secret mixes in digits or case
    let classes = char_classes(value);
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    if classes < 2 || (!has_digit && classes < 3) || entropy(value.as_bytes()) < MIN_ENTROPY {
        return false;
    }
    if is_dotted_identifier(value) {
        return false;
    }
    // unquoted identifiers are usually variables in code; demand a mix of 3 classes
    let identifier = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && value.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    !(identifier && !quoted && classes < 3)
}

/// How many of lowercase, uppercase, digit, other a value mixes.
fn char_classes(value: &str) -> usize {
    let (mut l, mut u, mut d, mut o) = (false, false, false, false);
    for b in value.bytes() {
        match b {
            b'a'..=b'z' => l = true,
            b'A'..=b'Z' => u = true,
            b'0'..=b'9' => d = true,
            _ => o = true,
        }
    }
    [l, u, d, o].iter().filter(|x| **x).count()
}

/// `a.b`, `self.config.password`: member access, not a literal.
fn is_dotted_identifier(value: &str) -> bool {
    value.contains('.')
        && value.split('.').all(|part| {
            part.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Shannon entropy of `data` in bits per byte.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in data {
        counts[usize::from(*b)] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether a value is a placeholder, a reference to a variable or a template, not a secret
/// (`changeme`, `${TOKEN}`, `$PASSWORD`, `{{ .Values.pw }}`, `<your-key>`, `xxxx`, `****`).
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "changeme",
        "change_me",
        "change-me",
        "changeit",
        "password",
        "passwd",
        "secret",
        "token",
        "example",
        "sample",
        "dummy",
        "test",
        "testing",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "redacted",
        "placeholder",
        "default",
        "admin",
        "root",
        "foo",
        "bar",
        "foobar",
        "required",
        "optional",
        "empty",
        "todo",
        "fixme",
        "notsecret",
        "not-a-secret",
    ];
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    const MARKERS: &[&str] = &[
        "${",
        "{{",
        "$(",
        "%(",
        "<",
        "xxxx",
        "****",
        "....",
        "your_",
        "your-",
        "yourpass",
        "changeme",
        "replace",
        "insert",
        "_here",
        "-here",
        "process.env",
        "os.environ",
        "getenv",
        "env[",
        "secretkeyref",
        "/run/secrets/",
    ];
    if MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    let Some(&first) = v.as_bytes().first() else {
        return true;
    };
    if matches!(first, b'$' | b'%' | b'@' | b'&' | b'*') {
        return true;
    }
    // one repeated character (`aaaaaaaa`, `00000000`)
    v.bytes().all(|b| b == first)
}

/// Redacts a secret to at most its first 4 and last 2 characters, showing less of short ones
/// (never more than a quarter up front and an eighth at the end): `AKIA…LE`.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    let head = (n / 4).min(4);
    let tail = (n / 8).min(2);
    let mut out: String = chars.iter().take(head).collect();
    out.push('…');
    out.extend(chars.iter().skip(n - tail));
    out
}

/// Whether a path names a file that usually holds a secret, and which rule says so:
/// `.env`/`.env.*` (not `.env.example`), `id_rsa`/`id_ed25519`/…, `*.pem`/`*.key` (not CA
/// certificates), `*.p12`/`*.pfx`/`*.jks`, `.npmrc`, `.pypirc`, `.netrc`, `.git-credentials`,
/// `.aws/credentials`, `.docker/config.json`, `*.tfstate`.
pub fn secret_file_name(path: &str) -> Option<&'static str> {
    let path = path.trim_end_matches('/');
    let base = path.rsplit('/').next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    let lpath = path.to_ascii_lowercase();
    if lower == ".env" {
        return Some("env-file");
    }
    if let Some(suffix) = lower.strip_prefix(".env.") {
        const TEMPLATES: &[&str] = &["example", "sample", "template", "dist", "defaults", "tpl"];
        return (!TEMPLATES.contains(&suffix)).then_some("env-file");
    }
    if matches!(
        lower.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk"
    ) {
        return Some("ssh-private-key-file");
    }
    match lower.as_str() {
        ".npmrc" => return Some("npmrc-file"),
        ".pypirc" => return Some("pypirc-file"),
        ".netrc" | "_netrc" => return Some("netrc-file"),
        ".git-credentials" => return Some("git-credentials-file"),
        _ => {}
    }
    if lpath.ends_with(".aws/credentials") {
        return Some("aws-credentials-file");
    }
    if lpath.ends_with(".docker/config.json") {
        return Some("docker-config-file");
    }
    if lower.ends_with(".tfstate") || lower.ends_with(".tfstate.backup") {
        return Some("terraform-state-file");
    }
    if [".p12", ".pfx", ".jks", ".keystore"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return Some("keystore-file");
    }
    if lower.ends_with(".pem") || lower.ends_with(".key") {
        const CA_DIRS: &[&str] = &[
            "/etc/ssl/certs/",
            "/usr/share/ca-certificates/",
            "/etc/ca-certificates/",
            "/etc/pki/ca-trust/",
            "/usr/local/share/ca-certificates/",
            "/etc/pki/tls/certs/",
        ];
        let in_ca_dir = CA_DIRS
            .iter()
            .any(|d| lpath.starts_with(d) || lpath.contains(&d[1..]));
        let stem = lower.trim_end_matches(".pem").trim_end_matches(".key");
        let certificate = lower.ends_with(".pem")
            && (stem.contains("cert")
                || stem.contains("chain")
                || stem == "ca"
                || stem.ends_with("-ca")
                || stem.ends_with("_ca")
                || stem.contains("bundle")
                || stem.ends_with("pub")
                || stem.contains("public"));
        if !in_ca_dir && !certificate {
            return Some("private-key-file");
        }
    }
    None
}

/// Names that say their value is a secret (compared in upper case).
const SECRET_NAMES: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];

/// Whether a name (of an `ENV`, `ARG`, label or config key) says its value is a secret: it contains
/// PASSWORD/PASSWD/SECRET/TOKEN/API_KEY/PRIVATE_KEY/ACCESS_KEY/CREDENTIAL (any case) and does not
/// end in `_FILE`, `_PATH`, `_URL`, `_NAME`, … (which point at a secret rather than hold one).
pub fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAMES.iter().any(|n| upper.contains(n)) && !excluded_key(&name.to_ascii_lowercase())
}

/// Whether a name/value pair (an `ENV`, `ARG` or label) holds a secret: a name containing
/// PASSWORD/PASSWD/SECRET/TOKEN/API_KEY/PRIVATE_KEY/ACCESS_KEY/CREDENTIAL with a non-empty,
/// non-placeholder value (names ending in `_FILE`, `_PATH`, `_URL`, … point at a secret, they do
/// not hold one), or any value [`scan`] flags.
pub fn secret_assignment(name: &str, value: &str) -> Option<SecretMatch> {
    let value = value.trim().trim_matches(['"', '\'']);
    if value.is_empty() || value.len() > SCAN_PREFIX_LIMIT {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    let named = secret_name(name) && !is_placeholder(value);
    if named {
        let rule = if upper.contains("PASS") {
            "password-assignment"
        } else if upper.contains("AWS") && upper.contains("SECRET") && is_aws_secret(value) {
            "aws-secret-access-key"
        } else {
            "secret-assignment"
        };
        return Some(SecretMatch {
            rule,
            description: describe(rule),
            line: 1,
            redacted: redact(value),
        });
    }
    scan(value.as_bytes()).into_iter().next()
}

#[cfg(test)]
mod tests;
