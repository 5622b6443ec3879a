//! A Dockerfile parser for untrusted input: parser directives (`# escape=`), comments, line
//! continuations, exec (JSON) and shell forms, flags (`--from=`, `--mount=`), BuildKit heredocs
//! (`<<EOF`), with 1-based line and column numbers. It never panics and refuses oversized input.

/// The largest Dockerfile [`parse`] accepts: 4 MiB.
pub const MAX_DOCKERFILE_SIZE: usize = 4 << 20;

/// Why a Dockerfile cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The file is larger than [`MAX_DOCKERFILE_SIZE`].
    #[error(
        "the Dockerfile is {size} bytes, more than the {limit}-byte limit: is this really a Dockerfile?"
    )]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dockerfile {
    /// The escape character (`\` unless a `# escape=` directive says otherwise).
    pub escape: char,
    /// Every instruction, in file order.
    pub instructions: Vec<Instruction>,
}

/// A `--name=value` flag of an instruction (`--from=build`, `--mount=type=secret,id=x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The name without the dashes (`from`).
    pub name: String,
    /// The value after `=`, if any.
    pub value: Option<String>,
}

/// The arguments of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// JSON exec form: `["/app", "--port", "80"]`.
    Exec(Vec<String>),
    /// Shell form: the text after the keyword and flags, continuations joined.
    Shell(String),
}

/// A BuildKit heredoc (`<<EOF … EOF`) attached to a `RUN`, `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (`EOF`).
    pub name: String,
    /// The lines between the instruction and the delimiter, joined with `\n`.
    pub body: String,
    /// The 1-based line of the body's first line.
    pub line: usize,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword in upper case (`RUN`).
    pub keyword: String,
    /// The 1-based line the instruction starts on.
    pub line: usize,
    /// The 1-based last line (after continuations and heredocs).
    pub end_line: usize,
    /// The 1-based column of the keyword.
    pub column: usize,
    /// Its `--flags`, in order.
    pub flags: Vec<Flag>,
    /// Its arguments.
    pub args: Args,
    /// Its heredocs, in order.
    pub heredocs: Vec<Heredoc>,
}

impl Instruction {
    /// The value of flag `--name`, if given (`Some("")` for a bare `--name`).
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_deref().unwrap_or(""))
    }

    /// The arguments as one text: the shell form as written, the exec form joined by spaces.
    pub fn text(&self) -> String {
        match &self.args {
            Args::Shell(s) => s.clone(),
            Args::Exec(v) => v.join(" "),
        }
    }

    /// The arguments and every heredoc body, for checks that look at all the instruction runs.
    pub fn full_text(&self) -> String {
        let mut t = self.text();
        for h in &self.heredocs {
            t.push('\n');
            t.push_str(&h.body);
        }
        t
    }
}

/// Parses a Dockerfile. Fails only on oversized input; anything else becomes instructions.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    if text.len() > MAX_DOCKERFILE_SIZE {
        return Err(ParseError::TooLarge {
            size: text.len(),
            limit: MAX_DOCKERFILE_SIZE,
        });
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let escape = directives(&lines);
    let mut out = Dockerfile {
        escape,
        instructions: Vec::new(),
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines.get(i).copied().unwrap_or_default();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let column = line.len() - trimmed.len() + 1;
        // join continuations: comment and empty lines inside are dropped
        let mut logical = String::new();
        let mut cur = trimmed;
        let mut last = i;
        loop {
            let body = cur.trim_end();
            match body.strip_suffix(escape) {
                Some(rest) => {
                    logical.push_str(rest);
                    logical.push(' ');
                }
                None => {
                    logical.push_str(cur);
                    break;
                }
            }
            // find the next line that is not a comment or empty
            i += 1;
            loop {
                match lines.get(i) {
                    None => break,
                    Some(l) if l.trim().is_empty() || l.trim_start().starts_with('#') => i += 1,
                    Some(_) => break,
                }
            }
            match lines.get(i) {
                Some(l) => {
                    cur = l;
                    last = i;
                }
                None => break,
            }
        }
        let mut end = last;
        i = last + 1;
        let (keyword, rest) = split_word(&logical);
        let keyword = keyword.to_ascii_uppercase();
        let (flags, rest) = parse_flags(rest);
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for (name, strip_tabs) in heredoc_markers(rest) {
                let body_start = i;
                let mut body = Vec::new();
                while let Some(l) = lines.get(i) {
                    end = i;
                    i += 1;
                    let cmp = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if cmp == name {
                        break;
                    }
                    body.push(cmp);
                }
                heredocs.push(Heredoc {
                    name,
                    body: body.join("\n"),
                    line: body_start + 1,
                });
            }
        }
        let args = exec_form(rest).map_or_else(|| Args::Shell(rest.trim().to_string()), Args::Exec);
        out.instructions.push(Instruction {
            keyword,
            line: start + 1,
            end_line: end + 1,
            column,
            flags,
            args,
            heredocs,
        });
    }
    Ok(out)
}

/// Reads the parser directives at the top of the file; returns the escape character.
fn directives(lines: &[&str]) -> char {
    let mut escape = '\\';
    for line in lines {
        let Some(comment) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = comment.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(char::is_whitespace) {
            break;
        }
        if key == "escape" {
            match value.trim() {
                "`" => escape = '`',
                "\\" => escape = '\\',
                _ => {}
            }
        }
    }
    escape
}

/// The first whitespace-separated word and the rest.
pub(crate) fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(p) => (s.get(..p).unwrap_or(s), s.get(p..).unwrap_or("")),
        None => (s, ""),
    }
}

/// Leading `--name[=value]` flags and the rest.
fn parse_flags(mut rest: &str) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    loop {
        let (word, after) = split_word(rest);
        let Some(flag) = word.strip_prefix("--") else {
            break;
        };
        if flag.is_empty() {
            break;
        }
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.trim_matches('"').to_string())),
            None => (flag, None),
        };
        flags.push(Flag {
            name: name.to_string(),
            value,
        });
        rest = after;
    }
    (flags, rest)
}

/// The heredoc delimiters in an instruction's text: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`
/// (not bash's `<<<` here-string). The bool says whether leading tabs are stripped (`<<-`).
fn heredoc_markers(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(p) = text.get(i..).and_then(|t| t.find("<<")) {
        let at = i + p;
        i = at + 2;
        if bytes.get(i) == Some(&b'<') {
            while bytes.get(i) == Some(&b'<') {
                i += 1;
            }
            continue;
        }
        let strip = bytes.get(i) == Some(&b'-');
        if strip {
            i += 1;
        }
        let quote = match bytes.get(i) {
            Some(q @ (b'"' | b'\'')) => {
                i += 1;
                Some(*q)
            }
            _ => None,
        };
        let start = i;
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            i += 1;
        }
        let name = text.get(start..i).unwrap_or_default();
        if let Some(q) = quote {
            if bytes.get(i) != Some(&q) {
                continue;
            }
            i += 1;
        }
        if !name.is_empty() && name.bytes().next().is_some_and(|b| !b.is_ascii_digit()) {
            out.push((name.to_string(), strip));
        }
        if out.len() >= 16 {
            break;
        }
    }
    out
}

/// The JSON exec form (`["a", "b"]`), if the arguments are one.
fn exec_form(rest: &str) -> Option<Vec<String>> {
    let t = rest.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kw(df: &Dockerfile) -> Vec<(&str, usize)> {
        df.instructions
            .iter()
            .map(|i| (i.keyword.as_str(), i.line))
            .collect()
    }

    #[test]
    fn instructions_comments_and_continuations() {
        let df = parse(
            "# syntax=docker/dockerfile:1\nFROM debian:12 AS build\n\n# a comment\nRUN apt-get update && \\\n    # inner comment\n\n    apt-get install -y gcc\n  copy . /src\n",
        )
        .unwrap();
        assert_eq!(kw(&df), [("FROM", 2), ("RUN", 5), ("COPY", 9)]);
        let run = &df.instructions[1];
        assert_eq!(run.end_line, 8);
        assert_eq!(
            run.args,
            Args::Shell("apt-get update &&      apt-get install -y gcc".into())
        );
        assert_eq!(df.instructions[2].column, 3);
    }

    #[test]
    fn escape_directive() {
        let df = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo hi\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(df.instructions[1].text(), "dir c:\\    && echo hi");
        // a directive after an instruction is a comment
        let df = parse("FROM x\n# escape=`\nRUN a `\nRUN b\n").unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.instructions.len(), 3);
    }

    #[test]
    fn exec_and_shell_forms_and_flags() {
        let df = parse(
            "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nCOPY --from=b --chown=1:1 /app /app\nRUN --mount=type=secret,id=npm npm ci\nCMD [\"/app\", \"--port\", \"80\"]\nENTRYPOINT [broken\n",
        )
        .unwrap();
        let i = &df.instructions;
        assert_eq!(i[0].flag("platform"), Some("$BUILDPLATFORM"));
        assert_eq!(i[0].text(), "golang:1.22 AS b");
        assert_eq!(i[1].flag("from"), Some("b"));
        assert_eq!(i[1].flag("chown"), Some("1:1"));
        assert_eq!(i[2].flag("mount"), Some("type=secret,id=npm"));
        assert_eq!(i[2].text(), "npm ci");
        assert_eq!(
            i[3].args,
            Args::Exec(vec!["/app".into(), "--port".into(), "80".into()])
        );
        assert_eq!(i[4].args, Args::Shell("[broken".into()));
    }

    #[test]
    fn heredocs() {
        let df = parse(
            "FROM x\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\nCOPY <<-\"CONF\" /etc/app.conf\n\tkey=value\n\tCONF\nRUN cat <<<here\nUSER app\n",
        )
        .unwrap();
        assert_eq!(
            kw(&df),
            [
                ("FROM", 1),
                ("RUN", 2),
                ("COPY", 6),
                ("RUN", 9),
                ("USER", 10)
            ]
        );
        let run = &df.instructions[1];
        assert_eq!(run.end_line, 5);
        assert_eq!(run.heredocs[0].name, "EOF");
        assert_eq!(run.heredocs[0].line, 3);
        assert_eq!(
            run.heredocs[0].body,
            "apt-get update\napt-get install -y curl"
        );
        assert_eq!(df.instructions[2].heredocs[0].body, "key=value");
        assert!(df.instructions[3].heredocs.is_empty());
        // an unterminated heredoc runs to the end of the file
        let df = parse("RUN <<EOF\necho hi\n").unwrap();
        assert_eq!(df.instructions[0].heredocs[0].body, "echo hi\n");
        assert_eq!(df.instructions.len(), 1);
    }

    #[test]
    fn continuation_at_end_of_file_and_crlf() {
        let df = parse("FROM x\r\nRUN a \\\r\n").unwrap();
        assert_eq!(kw(&df), [("FROM", 1), ("RUN", 2)]);
        assert_eq!(df.instructions[1].end_line, 2);
    }

    #[test]
    fn too_large() {
        let big = "#".repeat(MAX_DOCKERFILE_SIZE + 1);
        assert!(matches!(parse(&big), Err(ParseError::TooLarge { .. })));
    }

    proptest! {
        #[test]
        fn never_panics_and_lines_are_inside(text in "(?s)[ -~\t\n\\\\`#<]{0,400}") {
            let lines = text.split('\n').count();
            let df = parse(&text).unwrap();
            let mut last = 0;
            for i in &df.instructions {
                prop_assert!(i.line >= 1 && i.line <= i.end_line && i.end_line <= lines);
                prop_assert!(i.line > last);
                last = i.end_line;
                for h in &i.heredocs {
                    prop_assert!(h.line >= 1 && h.line <= lines + 1);
                }
            }
        }

        #[test]
        fn arbitrary_unicode_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }
    }
}
