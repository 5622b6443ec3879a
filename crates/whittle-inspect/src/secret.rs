//! The content facts about secrets, as whittle-secrets finds them, in a serializable shape.

use serde::Serialize;

/// A secret found in a file, a config value or a history line (never the whole secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secret {
    /// The whittle-secrets rule id (`private-key`, `aws-access-key-id`, …).
    pub rule: &'static str,
    /// What it looks like (`RSA private key`).
    pub description: &'static str,
    /// The 1-based line of the match.
    pub line: usize,
    /// Redacted evidence (`AKIA…MPLE`).
    pub redacted: String,
}

impl From<whittle_secrets::SecretMatch> for Secret {
    fn from(m: whittle_secrets::SecretMatch) -> Self {
        Secret {
            rule: m.rule,
            description: m.description,
            line: m.line,
            redacted: m.redacted,
        }
    }
}

/// How many leading bytes of a file the content scan reads.
pub fn prefix_limit() -> usize {
    whittle_secrets::scan_prefix_limit()
}

/// Secrets in `data`, at most `max`.
pub fn scan(data: &[u8], max: usize) -> Vec<Secret> {
    let mut v = whittle_secrets::scan(data);
    v.truncate(max);
    v.into_iter().map(Secret::from).collect()
}

/// What kind of secret a file name suggests (`.env`, `id_rsa`, `*.pem`), given a tree path.
pub fn file_name(path: &str) -> Option<&'static str> {
    whittle_secrets::secret_file_name(path)
}

/// A secret in a `NAME=value` assignment (ENV, ARG, label).
pub fn assignment(name: &str, value: &str) -> Option<Secret> {
    whittle_secrets::secret_assignment(name, value).map(Secret::from)
}

/// The evidence of a file's secrets: the first with its line and redacted value, then the other
/// kinds found (`private-key at line 3: BEGIN RSA PRIVATE KEY; also jwt-token`).
pub fn evidence(secrets: &[Secret]) -> String {
    let Some(first) = secrets.first() else {
        return String::new();
    };
    let mut out = format!("{} at line {}: {}", first.rule, first.line, first.redacted);
    let mut seen = vec![first.rule];
    for s in secrets {
        if !seen.contains(&s.rule) {
            seen.push(s.rule);
            out.push_str(if seen.len() == 2 { "; also " } else { ", " });
            out.push_str(s.rule);
        }
    }
    out
}
