//! Splitting a command string into argv exactly as apko does (Go's `github.com/google/shlex`,
//! which apko applies to `entrypoint.command` and `cmd`): whitespace separates words, `'…'` is
//! literal, `"…"` is literal except that a backslash takes the next character as it is, outside
//! quotes a backslash takes the next character as it is, and a `#` that starts a word begins a
//! comment running to the end of the line. No variables, globs or operators.

/// Why a string could not be split into words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    /// A `'` or `"` was opened at this character offset and never closed.
    #[error("unterminated {quote} quote starting at character {offset}")]
    UnterminatedQuote {
        /// The quote character.
        quote: char,
        /// 0-based character offset of the opening quote.
        offset: usize,
    },
    /// The string ends with a lone backslash.
    #[error("the command ends with a lone backslash")]
    TrailingBackslash,
}

/// Split `s` into words the way apko splits `entrypoint.command` and `cmd` (google/shlex):
///
/// - space, tab, CR and LF separate words;
/// - `'…'` is literal; `"…"` is literal except that `\` takes the next character as it is
///   (`"\n"` is `n`, `"\""` is `"`, `"\\"` is `\`);
/// - outside quotes `\` takes the next character as it is (`a\ b` is one word, `\#` a literal
///   `#`);
/// - a `#` at the start of a word begins a comment that runs to the end of the line (`a#b` is
///   the word `a#b`);
/// - quotes join with what touches them (`a'b'"c"` is `abc`); `''` and `""` make an empty word.
///
/// ```
/// assert_eq!(
///     whittle_config::split_words(r#"gawk -F: 'BEGIN { print "x" }'"#).unwrap(),
///     vec!["gawk", "-F:", r#"BEGIN { print "x" }"#]
/// );
/// ```
pub fn split_words(s: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut chars = s.chars().enumerate().peekable();
    loop {
        // between words: skip separators and comments
        let Some(&(_, c)) = chars.peek() else {
            return Ok(words);
        };
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                chars.next();
                continue;
            }
            '#' => {
                for (_, ch) in chars.by_ref() {
                    if ch == '\n' {
                        break;
                    }
                }
                continue;
            }
            _ => {}
        }
        // one word, up to an unquoted separator (a `#` inside a word is literal)
        let mut cur = String::new();
        while let Some(&(i, c)) = chars.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' => break,
                '\'' | '"' => {
                    // `'…'` is literal; in `"…"` a backslash takes the next character
                    chars.next();
                    let unterminated = WordsError::UnterminatedQuote {
                        quote: c,
                        offset: i,
                    };
                    loop {
                        match chars.next() {
                            Some((_, ch)) if ch == c => break,
                            Some((_, '\\')) if c == '"' => match chars.next() {
                                Some((_, ch)) => cur.push(ch),
                                None => return Err(unterminated),
                            },
                            Some((_, ch)) => cur.push(ch),
                            None => return Err(unterminated),
                        }
                    }
                }
                '\\' => {
                    chars.next();
                    match chars.next() {
                        Some((_, ch)) => cur.push(ch),
                        None => return Err(WordsError::TrailingBackslash),
                    }
                }
                ch => {
                    chars.next();
                    cur.push(ch);
                }
            }
        }
        words.push(cur);
    }
}

/// Quote `word` so that [`split_words`] gives it back unchanged (single quotes; a `'` inside is
/// written `'"'"'`).
pub fn quote_word(word: &str) -> String {
    format!("'{}'", word.replace('\'', r#"'"'"'"#))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Cases checked against google/shlex's rules (the splitter apko uses).
    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ", &[]),
            ("/usr/bin/gawk", &["/usr/bin/gawk"]),
            ("a  b\tc\n d", &["a", "b", "c", "d"]),
            ("BEGIN { print 1 }", &["BEGIN", "{", "print", "1", "}"]),
            ("'BEGIN { print 1 }'", &["BEGIN { print 1 }"]),
            (r#"say "a \"b\" \\ \$x \n""#, &["say", r#"a "b" \ $x n"#]),
            (r"a\ b c", &["a b", "c"]),
            ("'' \"\"", &["", ""]),
            ("a'b'\"c\"d", &["abcd"]),
            // a backslash keeps the next character, newline included (no line continuation)
            ("a\\\nb", &["a\nb"]),
            ("prog # a comment\nnext", &["prog", "next"]),
            ("a#b '#c' \\#d", &["a#b", "#c", "#d"]),
            ("#only a comment", &[]),
            ("x 'it'\"'\"'s'", &["x", "it's"]),
        ];
        for (input, want) in cases {
            assert_eq!(split_words(input).unwrap(), *want, "input {input:?}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            split_words("echo 'abc"),
            Err(WordsError::UnterminatedQuote {
                quote: '\'',
                offset: 5
            })
        );
        assert_eq!(
            split_words("\"abc\\"),
            Err(WordsError::UnterminatedQuote {
                quote: '"',
                offset: 0
            })
        );
        assert_eq!(split_words("abc\\"), Err(WordsError::TrailingBackslash));
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,64}") {
            let _ = split_words(&s);
        }

        /// Any words, quoted with [`quote_word`] and joined by any separators, split back.
        #[test]
        fn quoted_roundtrip(
            words in proptest::collection::vec(".{0,12}", 0..6),
            sep in "[ \t\r\n]{1,3}",
        ) {
            let joined = words.iter().map(|w| quote_word(w)).collect::<Vec<_>>().join(&sep);
            prop_assert_eq!(split_words(&joined).unwrap(), words);
        }

        /// Words escaped character by character with `\` split back.
        #[test]
        fn backslash_roundtrip(words in proptest::collection::vec(".{1,12}", 0..6)) {
            let joined = words
                .iter()
                .map(|w| w.chars().flat_map(|c| ['\\', c]).collect::<String>())
                .collect::<Vec<_>>()
                .join(" ");
            prop_assert_eq!(split_words(&joined).unwrap(), words);
        }

        /// Plain words without special characters split on whitespace.
        #[test]
        fn plain_words(words in proptest::collection::vec("[a-zA-Z0-9/._=:-]{1,10}", 0..6)) {
            prop_assert_eq!(split_words(&words.join("  ")).unwrap(), words);
        }

        /// Every word comes out whole: splitting never yields more words than separators allow.
        #[test]
        fn word_count_bound(s in "[ a-z'\"#\\\\\n]{0,40}") {
            if let Ok(w) = split_words(&s) {
                prop_assert!(w.len() <= s.len() / 2 + 1);
            }
        }
    }
}
