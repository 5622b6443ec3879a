//! Just enough of the POSIX shell grammar to see the simple commands of a `RUN`: words with
//! quotes and escapes, split at `;`, `&&`, `||`, `|`, `&`, newlines and parentheses.

/// A simple command of a shell text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Its words, quotes removed.
    pub words: Vec<String>,
    /// Whether its standard input is the previous command's output (`a | b`).
    pub piped: bool,
}

impl Command {
    /// The words from the program on: leading `VAR=value` assignments and the wrappers `sudo`,
    /// `env`, `exec`, `time`, `nohup`, `command` (with their options) skipped.
    pub fn program(&self) -> &[String] {
        let mut i = 0;
        while let Some(w) = self.words.get(i) {
            let assignment = w.split_once('=').is_some_and(|(n, _)| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
            let wrapper = matches!(
                w.as_str(),
                "sudo" | "env" | "exec" | "time" | "nohup" | "command"
            );
            let option_of_wrapper = i > 0 && w.starts_with('-');
            let option_value = i > 0
                && self
                    .words
                    .get(i - 1)
                    .is_some_and(|p| matches!(p.as_str(), "-u" | "-g" | "--user" | "--group"));
            if assignment || wrapper || option_of_wrapper || option_value {
                i += 1;
            } else {
                break;
            }
        }
        self.words.get(i..).unwrap_or_default()
    }

    /// The program's base name (`/usr/bin/apt-get` → `apt-get`), if any.
    pub fn name(&self) -> &str {
        self.program()
            .first()
            .map(|w| w.rsplit('/').next().unwrap_or(w))
            .unwrap_or("")
    }

    /// The first word after the program that is not an option (`install` in
    /// `apt-get -y install x`), or `""`.
    pub fn sub(&self) -> &str {
        self.program()
            .iter()
            .skip(1)
            .find(|w| !w.starts_with('-'))
            .map_or("", String::as_str)
    }

    /// Whether any word equals `w`.
    pub fn has(&self, w: &str) -> bool {
        self.words.iter().any(|x| x == w)
    }
}

/// At most this many commands are read from one text.
const MAX_COMMANDS: usize = 10_000;

/// Splits a shell text into its simple commands.
pub fn commands(text: &str) -> Vec<Command> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut piped = false;
    let mut chars = text.chars().peekable();
    fn finish(words: &mut Vec<String>, out: &mut Vec<Command>, piped: bool) {
        if !words.is_empty() && out.len() < MAX_COMMANDS {
            out.push(Command {
                words: std::mem::take(words),
                piped,
            });
        }
        words.clear();
    }
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            '&' if word.ends_with('>') || word.ends_with('<') => word.push(c),
            ';' | '\n' | '&' | '|' | '(' | ')' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let double = (c == '&' || c == '|') && chars.peek() == Some(&c);
                if double {
                    chars.next();
                }
                finish(&mut words, &mut out, piped);
                piped = c == '|' && !double;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => {
                // a comment runs to the end of the line
                for q in chars.by_ref() {
                    if q == '\n' {
                        break;
                    }
                }
                finish(&mut words, &mut out, piped);
                piped = false;
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    finish(&mut words, &mut out, piped);
    out
}

/// Splits a text into words the way `ENV`/`ARG`/`LABEL` do: at unquoted whitespace, with quotes
/// removed and backslash escapes applied.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    if q == c {
                        break;
                    }
                    if q == '\\' && c == '"' {
                        if let Some(n) = chars.next() {
                            word.push(n);
                        }
                        continue;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(text: &str) -> Vec<(String, bool)> {
        commands(text)
            .iter()
            .map(|c| (c.name().to_string(), c.piped))
            .collect()
    }

    #[test]
    fn splits_commands() {
        assert_eq!(
            names(
                "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y x; rm -rf /var/lib/apt/lists/*"
            ),
            [
                ("apt-get".into(), false),
                ("apt-get".into(), false),
                ("rm".into(), false)
            ]
        );
        assert_eq!(
            names("curl -fsSL https://x.invalid/i.sh | sudo -E bash -"),
            [("curl".into(), false), ("bash".into(), true)]
        );
        assert_eq!(
            names("a || b 2>&1 | c"),
            [("a".into(), false), ("b".into(), false), ("c".into(), true)]
        );
        let c = &commands("echo 'a && b' \"c\\\"d\" e\\ f # comment && rm x")[0];
        assert_eq!(c.words, ["echo", "a && b", "c\"d", "e f"]);
        assert_eq!(commands("echo hi # rm x").len(), 1);
    }

    #[test]
    fn program_skips_wrappers() {
        let c = &commands("sudo -u root env A=1 /usr/bin/pip install x")[0];
        assert_eq!(c.name(), "pip");
        assert_eq!(c.program()[1], "install");
    }

    #[test]
    fn env_words() {
        assert_eq!(
            words("A=1 B=\"two words\" C='x y' D=a\\ b"),
            ["A=1", "B=two words", "C=x y", "D=a b"]
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = commands(&text);
            let _ = words(&text);
        }
    }
}
