//! Errors and warnings with `FILE:LINE:COLUMN` positions.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line/column position in the config file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column number (in characters).
    pub column: u64,
}

impl Pos {
    /// A position from a line and a column.
    pub fn new(line: u64, column: u64) -> Self {
        Pos { line, column }
    }

    /// Whether this position is known (serde-saphyr reports 0:0 when it is not).
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

/// One problem found in a config: where it is, what is wrong, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The config file's name as given by the caller.
    pub origin: String,
    /// Where the offending value starts.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when we know.
    pub hint: Option<String>,
    /// The source line at `pos`, shown under the message.
    pub source_line: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.pos.line, self.pos.column, self.message
        )?;
        if let Some(src) = &self.source_line {
            let num = self.pos.line.to_string();
            let pad = " ".repeat(num.len());
            // Caret under the column; tabs are kept so the caret lines up.
            let mut caret = String::new();
            for (i, c) in src.chars().enumerate() {
                if (i as u64) + 1 >= self.pos.column {
                    break;
                }
                caret.push(if c == '\t' { '\t' } else { ' ' });
            }
            write!(f, "\n {num} | {src}\n {pad} | {caret}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Something legal but probably unwanted (e.g. the image runs as root); the CLI prints these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The config file's name as given by the caller.
    pub origin: String,
    /// Where the value concerned starts, if there is one.
    pub pos: Option<Pos>,
    /// The warning text.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) if p.is_known() => write!(
                f,
                "{}:{}:{}: warning: {}",
                self.origin, p.line, p.column, self.message
            ),
            _ => write!(f, "{}: warning: {}", self.origin, self.message),
        }
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}; check the path and its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file exceeds [`crate::MAX_CONFIG_BYTES`].
    #[error(
        "config file {origin} is larger than {limit} bytes; an image config is a few kilobytes, check that this is the right file"
    )]
    TooLarge {
        /// The file.
        origin: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The text is not valid YAML or does not match the schema (unknown key, wrong type).
    #[error("{0}")]
    Syntax(Box<Diagnostic>),
    /// The YAML matches the schema but values are invalid; every problem found is listed.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    out
}

impl ConfigError {
    /// The positioned problems this error carries (empty for I/O and size errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Syntax(d) => std::slice::from_ref(d.as_ref()),
            ConfigError::Invalid(ds) => ds,
            _ => &[],
        }
    }
}
