//! melange's `--env-file`: `KEY=VALUE` lines preloaded into the build environment (the
//! recipe's own `environment.environment` and whittle's variables win over them, as in melange).
//!
//! The dotenv form melange reads: blank lines and `#` comments skipped, an optional `export `
//! prefix, values single-quoted (literal), double-quoted (`\n`, `\t`, `\"`, `\\` escapes) or
//! bare (a ` #` starts a comment; surrounding blanks trimmed).

use std::path::Path;

use crate::Error;

/// The largest env file read.
pub const MAX_ENV_FILE_BYTES: u64 = 1 << 20;

/// The variables of the env file `path`, in file order (a later line wins over an earlier one
/// when applied). A line that is not `KEY=VALUE`, a key that is not a shell name, or a file
/// larger than [`MAX_ENV_FILE_BYTES`] is an error naming `path:line`.
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, Error> {
    let bytes = crate::read_file(path, MAX_ENV_FILE_BYTES, "keep it to KEY=VALUE lines")?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Invalid {
        what: path.display().to_string(),
        message: format!("not UTF-8 text: {e}"),
    })?;
    parse(&text).map_err(|(line, message)| Error::Invalid {
        what: format!("{}:{line}", path.display()),
        message,
    })
}

/// The variables of an env file's text, or the 1-based line and what is wrong there.
fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let bad = |why: &str| (i + 1, why.to_string());
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| bad("not KEY=VALUE (write e.g. `CFLAGS=-O2`)"))?;
        let key = key.trim();
        let is_name = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !is_name {
            return Err(bad(&format!(
                "`{}` is not a variable name (letters, digits, `_`, not starting with a digit)",
                key.chars().take(64).collect::<String>()
            )));
        }
        let value = value.trim();
        let value = if let Some(v) = value.strip_prefix('\'') {
            v.strip_suffix('\'')
                .ok_or_else(|| bad("a single quote is not closed on its line"))?
                .to_string()
        } else if let Some(v) = value.strip_prefix('"') {
            let v = v
                .strip_suffix('"')
                .ok_or_else(|| bad("a double quote is not closed on its line"))?;
            unescape(v)
        } else {
            match value.find(" #") {
                Some(at) => value[..at].trim_end().to_string(),
                None => value.to_string(),
            }
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines() {
        let text = "# build flags\n\nCFLAGS=-O2 -g\nexport GOFLAGS = -trimpath # no vcs\nQ='a #b'\nD=\"x\\ny \\\"z\\\"\"\nEMPTY=\nDOTTED.NAME=1\n";
        let got = parse(text).unwrap();
        let want = [
            ("CFLAGS", "-O2 -g"),
            ("GOFLAGS", "-trimpath"),
            ("Q", "a #b"),
            ("D", "x\ny \"z\""),
            ("EMPTY", ""),
            ("DOTTED.NAME", "1"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, line, why) in [
            ("A=1\njust words\n", 2, "not KEY=VALUE"),
            ("1A=x\n", 1, "not a variable name"),
            ("=x\n", 1, "not a variable name"),
            ("A='open\n", 1, "single quote"),
            ("A=\"open\n", 1, "double quote"),
        ] {
            let (l, msg) = parse(text).unwrap_err();
            assert_eq!(l, line, "{text}");
            assert!(msg.contains(why), "{text}: {msg}");
        }
    }

    #[test]
    fn too_large_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.env");
        std::fs::write(&p, "A=1\n".repeat(300_000)).unwrap();
        let err = read_env_file(&p).unwrap_err().to_string();
        assert!(
            err.contains("big.env") && err.contains("larger than"),
            "{err}"
        );
        let missing = read_env_file(&dir.path().join("none.env")).unwrap_err();
        assert!(missing.to_string().contains("none.env"), "{missing}");
    }
}
