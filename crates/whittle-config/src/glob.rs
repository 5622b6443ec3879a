//! Path patterns of `contents.path-exclude` / `contents.path-include`, with the meaning dpkg
//! gives its `--path-exclude` option: absolute glob patterns where `*` matches any run of
//! characters including `/`, `?` one character, `[...]` a class (`[!...]` or `[^...]` negated,
//! `a-z` ranges), and `\` quotes the next character.

/// One checked pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathGlob {
    text: String,
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

/// The longest pattern accepted.
pub const MAX_GLOB_LEN: usize = 4096;

impl PathGlob {
    /// Parses `text`, an absolute pattern (`/usr/lib/*/gconv/*`); the error says what is wrong.
    pub fn parse(text: &str) -> Result<PathGlob, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "`{text}` is not absolute: path patterns start with `/`, e.g. `/usr/share/doc/*`"
            ));
        }
        if text.len() > MAX_GLOB_LEN {
            return Err(format!("pattern longer than {MAX_GLOB_LEN} bytes"));
        }
        let b = text.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                b'?' => tokens.push(Token::Any),
                b'\\' => {
                    i += 1;
                    let Some(&c) = b.get(i) else {
                        return Err(format!("`{text}` ends with a lone `\\`"));
                    };
                    tokens.push(Token::Byte(c));
                }
                b'[' => {
                    let (token, next) = class(b, i)
                        .ok_or_else(|| format!("`{text}` has a `[` without its closing `]`"))?;
                    tokens.push(token);
                    i = next;
                    continue;
                }
                c => tokens.push(Token::Byte(c)),
            }
            i += 1;
        }
        // the leading `/` stands for the image root: paths are matched without it
        tokens.remove(0);
        Ok(PathGlob {
            text: text.to_string(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the image path `path` (relative, as in a package: `usr/bin/x`) matches.
    pub fn matches(&self, path: &str) -> bool {
        matches(&self.tokens, path.trim_start_matches('/').as_bytes())
    }
}

/// Parses the class starting at `b[start] == b'['`; returns it and the index after its `]`.
fn class(b: &[u8], start: usize) -> Option<(Token, usize)> {
    let mut i = start + 1;
    let negated = matches!(b.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut c = *b.get(i)?;
        if c == b']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if c == b'\\' {
            i += 1;
            c = *b.get(i)?;
        }
        if b.get(i + 1) == Some(&b'-') && b.get(i + 2).is_some_and(|&e| e != b']') {
            let end = *b.get(i + 2)?;
            ranges.push((c.min(end), c.max(end)));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

fn one(t: &Token, c: u8) -> bool {
    match t {
        Token::Byte(b) => *b == c,
        Token::Any => true,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
        Token::Star => false,
    }
}

/// Glob matching in O(pattern × text): on a mismatch, only the last `*` is moved forward.
fn matches(p: &[Token], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(Token::Star) => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(t) if one(t, s[si]) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| *t == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, path: &str) -> bool {
        PathGlob::parse(p).unwrap().matches(path)
    }

    #[test]
    fn dpkg_style_patterns() {
        assert!(m(
            "/usr/lib/*/gconv/*",
            "usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"
        ));
        assert!(m(
            "/usr/lib/*/gconv/*",
            "usr/lib/x86_64-linux-gnu/gconv/a/b"
        ));
        assert!(!m("/usr/lib/*/gconv/*", "usr/lib/x86_64-linux-gnu/gconv"));
        assert!(m("/usr/lib/*/gconv", "usr/lib/x86_64-linux-gnu/gconv"));
        // `*` crosses `/`, as in dpkg (fnmatch without FNM_PATHNAME)
        assert!(m("/usr/share/*", "usr/share/a/b/c"));
        assert!(m("/usr/bin/?awk", "usr/bin/gawk"));
        assert!(!m("/usr/bin/?awk", "usr/bin/awk"));
        assert!(m("/etc/[a-c]*", "etc/bash.bashrc"));
        assert!(!m("/etc/[!a-c]*", "etc/bash.bashrc"));
        assert!(m("/etc/[^a-c]*", "etc/passwd"));
        assert!(m("/x/[]]", "x/]"));
        assert!(m(r"/x/\*", "x/*"));
        assert!(!m(r"/x/\*", "x/y"));
        assert!(m("/x/[a-]", "x/-"));
        assert!(m("/", ""));
        assert!(!m("/usr", "usr/bin"));
    }

    #[test]
    fn malformed_patterns_are_refused_with_a_reason() {
        assert!(
            PathGlob::parse("usr/*")
                .unwrap_err()
                .contains("start with `/`")
        );
        assert!(PathGlob::parse("/x/[ab").unwrap_err().contains("`[`"));
        assert!(PathGlob::parse("/x\\").unwrap_err().contains("lone"));
        assert!(PathGlob::parse(&format!("/{}", "a".repeat(MAX_GLOB_LEN))).is_err());
    }

    #[test]
    fn many_stars_stay_fast() {
        let p = format!("/{}b", "*a".repeat(500));
        let path = "a".repeat(4000);
        assert!(!m(&p, &path));
    }

    proptest! {
        #[test]
        fn a_literal_pattern_matches_exactly_itself(path in "[a-z0-9._-][a-z0-9._/-]{0,40}", other in "[a-z0-9._-][a-z0-9._/-]{0,40}") {
            let g = PathGlob::parse(&format!("/{path}")).unwrap();
            prop_assert!(g.matches(&path));
            prop_assert_eq!(g.matches(&other), other == path);
        }

        #[test]
        fn a_star_matches_every_suffix(prefix in "[a-z][a-z/]{0,20}", rest in "[ -~]{0,40}") {
            let g = PathGlob::parse(&format!("/{prefix}*")).unwrap();
            let path = format!("{prefix}{rest}");
            prop_assert!(g.matches(&path));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,64}") {
            if let Ok(g) = PathGlob::parse(&s) {
                let _ = g.matches(&s);
            }
        }
    }
}
