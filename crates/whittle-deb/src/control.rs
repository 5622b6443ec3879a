//! RFC-822-style control files (deb822): stanzas of fields, with line numbers in errors.
//!
//! Rules (Debian policy §5.1, as dpkg reads them):
//! - `Name: value` starts a field; the name is printable ASCII without spaces or `:`, and
//!   must not start with `-` or `#`. The value is trimmed of surrounding spaces and tabs.
//! - A line starting with a space or tab continues the previous field. It is kept verbatim
//!   (leading whitespace included, trailing whitespace trimmed) after a `\n`; in descriptions
//!   a continuation line ` .` stands for an empty line.
//! - Empty lines (and lines of only spaces/tabs) separate stanzas; several in a row are one
//!   separator. Lines starting with `#` are comments and are ignored.
//! - A field name may appear only once per stanza (compared case-insensitively).
//! - OpenPGP armour is not handled here: strip it first.
//!
//! A trailing `\r` on a line is ignored, so CRLF files parse too.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::Error;

/// Most fields one stanza may hold; real stanzas have a few dozen. Bounds the work and memory an
/// adversarial file can cause per stanza.
pub const MAX_FIELDS_PER_STANZA: usize = 4096;

/// One stanza (paragraph) of a control file, fields in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    /// `(name, value)` pairs in file order. The value is the first line's text (trimmed)
    /// followed, for each continuation line, by `\n` and the line as written (its leading
    /// whitespace kept, trailing whitespace trimmed). A field whose first line is empty
    /// (e.g. `Conffiles:` or `SHA256:` in `Release`) has a value starting with `\n`.
    pub fields: Vec<(String, String)>,
    /// 1-based line number where the stanza starts in its file.
    pub line: usize,
}

impl Stanza {
    /// The value of field `name` (case-insensitive), first line and continuation lines joined
    /// with `\n`, leading/trailing whitespace of the whole value trimmed (continuation lines
    /// keep their own leading space; use [`Stanza::get_lines`] for one trimmed line at a time).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_raw(name).map(str::trim_ascii)
    }

    /// The stored value of field `name` (case-insensitive) exactly as in [`Stanza::fields`].
    pub fn get_raw(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.len() == name.len() && k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The lines of field `name`, each trimmed, empty lines skipped: handy for multi-line
    /// fields such as `SHA256`/`MD5Sum` in `Release` files or `Conffiles`. Yields nothing when
    /// the field is absent.
    pub fn get_lines<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_raw(name)
            .unwrap_or("")
            .split('\n')
            .map(str::trim_ascii)
            .filter(|l| !l.is_empty())
    }

    /// Whether field `name` (case-insensitive) is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_raw(name).is_some()
    }

    /// Writes the stanza back in deb822 form: one `Name: value` line per field, continuation
    /// lines indented, ending with a newline (no blank line after it).
    ///
    /// Values produced by [`parse_stanzas`] round-trip exactly. For hand-built values, a
    /// continuation line that does not start with a space or tab gets one, and an empty one
    /// is written as ` .`, so the output always parses back.
    pub fn to_text(&self) -> String {
        let mut out =
            String::with_capacity(self.fields.iter().map(|(k, v)| k.len() + v.len() + 3).sum());
        for (name, value) in &self.fields {
            write_field(&mut out, name, value);
        }
        out
    }
}

/// Appends one field in deb822 form (see [`Stanza::to_text`]).
pub(crate) fn write_field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    let mut lines = value.split('\n');
    let first = lines.next().unwrap_or("").trim_ascii();
    if !first.is_empty() {
        out.push(' ');
        out.push_str(first);
    }
    for line in lines {
        let line = line.trim_ascii_end();
        out.push('\n');
        if line.trim_ascii_start().is_empty() {
            out.push_str(" .");
        } else {
            if !line.starts_with([' ', '\t']) {
                out.push(' ');
            }
            out.push_str(line);
        }
    }
    out.push('\n');
}

impl std::fmt::Display for Stanza {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Tracks field names of the current stanza to reject duplicates in (amortised) linear time.
#[derive(Default)]
struct SeenNames {
    /// Lower-cased names, built only once a stanza has many fields.
    set: Option<HashSet<String>>,
}

/// Up to this many fields, duplicates are found by a linear scan (faster than hashing).
const LINEAR_SCAN_FIELDS: usize = 32;

impl SeenNames {
    fn reset(&mut self) {
        self.set = None;
    }

    /// Whether `name` is already among `fields`; records it otherwise.
    fn is_duplicate(&mut self, fields: &[(String, String)], name: &str) -> bool {
        if fields.len() < LINEAR_SCAN_FIELDS {
            return fields
                .iter()
                .any(|(k, _)| k.len() == name.len() && k.eq_ignore_ascii_case(name));
        }
        let set = self
            .set
            .get_or_insert_with(|| fields.iter().map(|(k, _)| k.to_ascii_lowercase()).collect());
        !set.insert(name.to_ascii_lowercase())
    }
}

/// Why `name` is not a valid field name, if it is not.
fn field_name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    match bytes.first() {
        None => Some("empty field name before ':'"),
        Some(b'-') => Some("field name starts with '-' (OpenPGP armour must be removed first)"),
        Some(_) if bytes.iter().any(|&b| !(b'!'..=b'~').contains(&b)) => {
            Some("field name contains spaces or characters outside printable ASCII")
        }
        Some(_) => None,
    }
}

/// Parses every stanza of a deb822 control file. `origin` names the file in errors.
///
/// Returns the stanzas in file order; a file with no fields yields an empty list. Errors name
/// `origin` and the line: a line that is neither a field nor a continuation, a continuation
/// before any field, an invalid field name, a duplicate field, or a stanza with more than
/// [`MAX_FIELDS_PER_STANZA`] fields.
pub fn parse_stanzas(origin: &str, text: &str) -> Result<Vec<Stanza>, Error> {
    let syntax = |line: usize, message: String| Error::Syntax {
        origin: origin.to_owned(),
        line,
        message,
    };
    let bytes = text.as_bytes();
    let len = bytes.len();
    // End (exclusive) of the line starting at `from`: the next `\n` or the end of the text.
    let line_end = |from: usize| {
        bytes
            .get(from..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
            .map_or(len, |i| from + i)
    };
    // The line `[from, to)` without a trailing `\r`. Cuts are next to `\n` bytes (or the text's
    // ends), so they are always on char boundaries.
    let line_at = |from: usize, to: usize| {
        let line = text.get(from..to).unwrap_or("");
        line.strip_suffix('\r').unwrap_or(line)
    };

    let mut out = Vec::new();
    let mut cur = Stanza::default();
    let mut seen = SeenNames::default();
    let mut fields_hint = 8usize;
    // Continuation lines of the current field, as (start, end) byte ranges.
    let mut conts: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0usize;
    let mut lineno = 0usize;

    while pos < len {
        lineno += 1;
        let end = line_end(pos);
        let line = line_at(pos, end);
        pos = end + 1;
        let first = line.as_bytes().first().copied();
        match first {
            Some(b'#') => continue,
            Some(b' ' | b'\t') if !line.trim_ascii_start().is_empty() => {
                // Only reached after a comment line inside a field's continuation lines.
                let Some((_, value)) = cur.fields.last_mut() else {
                    return Err(syntax(
                        lineno,
                        "continuation line (starting with a space or tab) before any field; \
                         a stanza must start with `Name: value`"
                            .to_owned(),
                    ));
                };
                value.push('\n');
                value.push_str(line.trim_ascii_end());
                continue;
            }
            None | Some(b' ' | b'\t') => {
                // Blank or whitespace-only line: closes the current stanza.
                if !cur.fields.is_empty() {
                    fields_hint = cur.fields.len();
                    out.push(std::mem::take(&mut cur));
                    seen.reset();
                }
                continue;
            }
            Some(_) => {}
        }

        let Some(colon) = line.bytes().position(|b| b == b':') else {
            return Err(syntax(
                lineno,
                format!(
                    "line is neither a field (`Name: value`) nor a continuation \
                     (starting with a space): {:?}",
                    truncate(line, 80)
                ),
            ));
        };
        let name = line.get(..colon).unwrap_or("");
        if let Some(problem) = field_name_problem(name) {
            return Err(syntax(
                lineno,
                format!("{problem}: {:?}", truncate(line, 80)),
            ));
        }
        if cur.fields.is_empty() {
            cur.line = lineno;
            cur.fields.reserve(fields_hint);
        } else {
            if seen.is_duplicate(&cur.fields, name) {
                return Err(syntax(
                    lineno,
                    format!(
                        "field {name:?} appears twice in the stanza starting at line {}",
                        cur.line
                    ),
                ));
            }
            if cur.fields.len() >= MAX_FIELDS_PER_STANZA {
                return Err(syntax(
                    lineno,
                    format!(
                        "stanza starting at line {} has more than {MAX_FIELDS_PER_STANZA} fields",
                        cur.line
                    ),
                ));
            }
        }
        let first_value = line.get(colon + 1..).unwrap_or("").trim_ascii();

        // Collect the continuation lines first, to allocate the value once.
        conts.clear();
        let mut extra = 0usize;
        while pos < len && matches!(bytes.get(pos), Some(b' ' | b'\t')) {
            let end = line_end(pos);
            let cont = line_at(pos, end).trim_ascii_end();
            if cont.is_empty() || cont.trim_ascii_start().is_empty() {
                break; // whitespace-only: a separator, handled by the main loop
            }
            conts.push((pos, pos + cont.len()));
            extra += 1 + cont.len();
            pos = end + 1;
            lineno += 1;
        }
        let mut value = String::with_capacity(first_value.len() + extra);
        value.push_str(first_value);
        for &(from, to) in &conts {
            value.push('\n');
            value.push_str(text.get(from..to).unwrap_or(""));
        }
        cur.fields.push((name.to_owned(), value));
    }
    if !cur.fields.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// At most `max` bytes of `s` (cut on a char boundary), for error messages.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes `stanzas` as one deb822 file: stanzas separated by one blank line.
pub fn stanzas_to_text(stanzas: &[Stanza]) -> String {
    let mut out = String::new();
    for (i, s) in stanzas.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{s}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_continuations_and_stanzas() {
        let text = "Package: a\nVersion: 1.0\nDescription: short\n long line\n .\n  verbatim\n\n\n# c\nPackage: b\r\nConffiles:\n /etc/x 123\n";
        let s = parse_stanzas("t", text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].line, 1);
        assert_eq!(s[0].get("package"), Some("a"));
        assert_eq!(
            s[0].get("Description"),
            Some("short\n long line\n .\n  verbatim")
        );
        assert_eq!(s[1].line, 10);
        assert_eq!(s[1].get("Package"), Some("b"));
        assert_eq!(s[1].get_raw("Conffiles"), Some("\n /etc/x 123"));
        assert_eq!(s[1].get("Conffiles"), Some("/etc/x 123"));
        assert_eq!(
            s[1].get_lines("Conffiles").collect::<Vec<_>>(),
            ["/etc/x 123"]
        );
        assert_eq!(s[1].get("Missing"), None);
    }

    #[test]
    fn comment_inside_continuation_lines() {
        let s = parse_stanzas("t", "A: 1\n x\n# c\n y\nB: 2").unwrap();
        assert_eq!(s[0].get("A"), Some("1\n x\n y"));
        assert_eq!(s[0].get("B"), Some("2"));
    }

    #[test]
    fn line_numbers_count_continuations() {
        let e = parse_stanzas("t", "A: 1\n x\n y\n\nB: 2\n z\nbad\n").unwrap_err();
        assert!(e.to_string().starts_with("t:7:"), "{e}");
        let s = parse_stanzas("t", "A: 1\n x\n y\n\nB: 2\n").unwrap();
        assert_eq!(s[1].line, 5);
    }

    #[test]
    fn whitespace_only_line_separates() {
        let s = parse_stanzas("t", "A: 1\n \t \nB: 2\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].line, 3);
    }

    #[test]
    fn empty_value_is_allowed() {
        let s = parse_stanzas("t", "Package:").unwrap();
        assert_eq!(s[0].get("Package"), Some(""));
    }

    #[test]
    fn errors_name_origin_and_line() {
        let e = parse_stanzas("Packages", "A: 1\nB: 2\ngarbage here\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("Packages:3: line is neither a field"),
            "{msg}"
        );
        let e = parse_stanzas("f", " cont\n").unwrap_err();
        assert!(e.to_string().starts_with("f:1: continuation"), "{e}");
        let e = parse_stanzas("f", "A: 1\na: 2\n").unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        let e = parse_stanzas("f", "-----BEGIN PGP SIGNED MESSAGE-----\n").unwrap_err();
        assert!(e.to_string().starts_with("f:1:"), "{e}");
        let e = parse_stanzas("f", "A B: 1\n").unwrap_err();
        assert!(e.to_string().contains("spaces"), "{e}");
        let e = parse_stanzas("f", ": 1\n").unwrap_err();
        assert!(e.to_string().contains("empty field name"), "{e}");
    }

    #[test]
    fn duplicates_found_in_large_stanzas() {
        let mut text: String = (0..100).map(|i| format!("F{i}: v\n")).collect();
        text.push_str("f7: again\n");
        let e = parse_stanzas("f", &text).unwrap_err();
        assert!(e.to_string().starts_with("f:101:"), "{e}");
        // And a new stanza starts with a fresh set of names.
        let text: String = (0..100)
            .map(|i| format!("F{i}: v\n"))
            .chain(std::iter::once("\nF1: x\n".to_owned()))
            .collect();
        assert_eq!(parse_stanzas("f", &text).unwrap().len(), 2);
    }

    #[test]
    fn too_many_fields_rejected() {
        let text: String = (0..=MAX_FIELDS_PER_STANZA)
            .map(|i| format!("F{i}: v\n"))
            .collect();
        let e = parse_stanzas("f", &text).unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
    }

    #[test]
    fn to_text_round_trips() {
        let text = "Package: a\nConffiles:\n /etc/x 1\n /etc/y 2\nDescription: d\n l1\n .\n   l2\nEmpty:\n";
        let s = parse_stanzas("t", text).unwrap();
        assert_eq!(s[0].to_text(), text);
        assert_eq!(stanzas_to_text(&s), text);
        let two = parse_stanzas("t", "A: 1\n\nB: 2\n").unwrap();
        assert_eq!(stanzas_to_text(&two), "A: 1\n\nB: 2\n");
    }

    #[test]
    fn to_text_repairs_hand_built_values() {
        let s = Stanza {
            fields: vec![("Description".into(), "short\nno indent\n\n x".into())],
            line: 1,
        };
        let text = s.to_text();
        assert_eq!(text, "Description: short\n no indent\n .\n x\n");
        let back = parse_stanzas("t", &text).unwrap();
        assert_eq!(back[0].fields.len(), 1);
    }
}
