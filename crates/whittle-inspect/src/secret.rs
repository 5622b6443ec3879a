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
