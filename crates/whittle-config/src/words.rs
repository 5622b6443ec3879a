//! Splitting a command string into argv the way a POSIX shell splits words
//! (quotes and backslashes only: no variables, globs or operators).

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

/// Split `s` into words: whitespace separates words; `'…'` is literal; `"…"` is literal except
/// for `\"`, `\\`, `\$`, `` \` `` and backslash-newline; outside quotes a backslash escapes the
/// next character. `''` and `""` make an empty word.
///
/// ```
/// assert_eq!(
///     whittle_config::split_words(r#"gawk -F: 'BEGIN { print "x" }'"#).unwrap(),
///     vec!["gawk", "-F:", r#"BEGIN { print "x" }"#]
/// );
/// ```
pub fn split_words(s: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, ch)) => cur.push(ch),
                        None => {
                            return Err(WordsError::UnterminatedQuote {
                                quote: '\'',
                                offset: i,
                            });
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\n')) => {}
                            Some((_, ch @ ('"' | '\\' | '$' | '`'))) => cur.push(ch),
                            Some((_, ch)) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => {
                                return Err(WordsError::UnterminatedQuote {
                                    quote: '"',
                                    offset: i,
                                });
                            }
                        },
                        Some((_, ch)) => cur.push(ch),
                        None => {
                            return Err(WordsError::UnterminatedQuote {
                                quote: '"',
                                offset: i,
                            });
                        }
                    }
                }
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, ch)) => {
                    in_word = true;
                    cur.push(ch);
                }
                None => return Err(WordsError::TrailingBackslash),
            },
            ch => {
                in_word = true;
                cur.push(ch);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ", &[]),
            ("/usr/bin/gawk", &["/usr/bin/gawk"]),
            ("a  b\tc\n d", &["a", "b", "c", "d"]),
            ("BEGIN { print 1 }", &["BEGIN", "{", "print", "1", "}"]),
            ("'BEGIN { print 1 }'", &["BEGIN { print 1 }"]),
            (r#"say "a \"b\" \\ \$x \n""#, &["say", r#"a "b" \ $x \n"#]),
            (r"a\ b c", &["a b", "c"]),
            ("'' \"\"", &["", ""]),
            ("a'b'\"c\"d", &["abcd"]),
            ("a\\\nb", &["ab"]),
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

        /// Words quoted with single quotes (no `'` inside) round-trip.
        #[test]
        fn single_quoted_roundtrip(words in proptest::collection::vec("[^']{0,12}", 0..6)) {
            let joined = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
            prop_assert_eq!(split_words(&joined).unwrap(), words);
        }

        /// Plain words without special characters split on whitespace.
        #[test]
        fn plain_words(words in proptest::collection::vec("[a-zA-Z0-9/._=-]{1,10}", 0..6)) {
            prop_assert_eq!(split_words(&words.join("  ")).unwrap(), words);
        }
    }
}
