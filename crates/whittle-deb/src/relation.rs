//! Dependency relation fields (`Depends`, `Pre-Depends`, `Provides`, `Conflicts`, `Breaks`).
//!
//! Syntax (Debian policy §7.1, as dpkg reads it): a comma-separated list of dependencies,
//! each a `|`-separated list of alternative relations
//! `name[:archqual] [(op version)] [[arch !arch ...]] [<profile ...>...]`. Whitespace
//! (including the newlines of continuation lines) may appear between the parts and inside
//! the parentheses. Build profiles are checked for syntax and dropped. Empty list elements
//! (`a, , b` or a trailing comma) are skipped.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Version};

/// A version comparison operator of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<<`
    Lt,
    /// `<=` (and the obsolete `<`)
    Le,
    /// `=`
    Eq,
    /// `>=` (and the obsolete `>`)
    Ge,
    /// `>>`
    Gt,
}

impl Op {
    /// Whether `candidate` satisfies `op bound` (e.g. `candidate >= bound`).
    pub fn matches(self, candidate: &Version, bound: &Version) -> bool {
        let ord = candidate.cmp(bound);
        match self {
            Op::Lt => ord.is_lt(),
            Op::Le => ord.is_le(),
            Op::Eq => ord.is_eq(),
            Op::Ge => ord.is_ge(),
            Op::Gt => ord.is_gt(),
        }
    }

    /// The operator as written in control files (`<<`, `<=`, `=`, `>=`, `>>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Op {
    type Err = Error;

    /// Parses `<<`, `<=`, `=`, `>=`, `>>` and the obsolete `<` (as `<=`) and `>` (as `>=`).
    fn from_str(s: &str) -> Result<Op, Error> {
        Ok(match s {
            "<<" => Op::Lt,
            "<=" | "<" => Op::Le,
            "=" => Op::Eq,
            ">=" | ">" => Op::Ge,
            ">>" => Op::Gt,
            _ => {
                return Err(Error::Relation {
                    text: s.to_owned(),
                    reason: "unknown version operator; expected one of << <= = >= >>".to_owned(),
                });
            }
        })
    }
}

/// One relation: `name[:archqual] [(op version)] [[arch ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    /// Package (or virtual package) name.
    pub name: String,
    /// Architecture qualifier after `:` (`any`, `native`, or an architecture).
    pub arch_qualifier: Option<String>,
    /// Version constraint.
    pub constraint: Option<(Op, Version)>,
    /// Architecture restriction list `[amd64 !arm64]` (empty when absent), each entry as
    /// written (negated ones keep their `!`).
    pub arch_restrictions: Vec<String>,
}

impl Relation {
    /// A relation on `name` without qualifier, constraint or restrictions.
    pub fn new(name: impl Into<String>) -> Relation {
        Relation {
            name: name.into(),
            arch_qualifier: None,
            constraint: None,
            arch_restrictions: Vec::new(),
        }
    }

    /// Whether `version` satisfies the version constraint (always true without one).
    pub fn matches_version(&self, version: &Version) -> bool {
        match &self.constraint {
            None => true,
            Some((op, bound)) => op.matches(version, bound),
        }
    }
}

impl fmt::Display for Relation {
    /// `name[:qual][ (op version)][ [archs]]`, which [`parse_relation_list`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(q) = &self.arch_qualifier {
            write!(f, ":{q}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, " ({op} {v})")?;
        }
        if !self.arch_restrictions.is_empty() {
            write!(f, " [{}]", self.arch_restrictions.join(" "))?;
        }
        Ok(())
    }
}

impl FromStr for Relation {
    type Err = Error;

    /// Parses exactly one relation (no `,` or `|`).
    fn from_str(s: &str) -> Result<Relation, Error> {
        let mut p = Parser::new(s);
        let rel = p.relation()?;
        p.skip_ws();
        if !p.at_end() {
            return Err(p.err("unexpected text after the relation"));
        }
        Ok(rel)
    }
}

/// Alternatives `a | b | c`: satisfied when any one relation is.
pub type Dependency = Vec<Relation>;

/// Longest relation field accepted, in bytes (the longest real ones are a few KB).
pub const MAX_RELATION_FIELD_LEN: usize = 1 << 20;

/// Parses a `Depends`-style field: comma-separated dependencies with `|` alternatives.
/// An empty (or all-whitespace) value gives an empty list.
pub fn parse_relations(value: &str) -> Result<Vec<Dependency>, Error> {
    let mut p = Parser::new(value);
    p.check_len()?;
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        if p.at_end() {
            break;
        }
        if p.eat(b',') {
            continue;
        }
        let mut alts = vec![p.relation()?];
        loop {
            p.skip_ws();
            if p.eat(b'|') {
                alts.push(p.relation()?);
            } else {
                break;
            }
        }
        out.push(alts);
        p.skip_ws();
        if !p.at_end() && !p.eat(b',') {
            return Err(p.err("expected ',' or '|' between relations"));
        }
    }
    Ok(out)
}

/// Parses a field without alternatives (`Provides`, `Conflicts`, `Breaks`, `Replaces`):
/// comma-separated relations. A `|` is an error.
pub fn parse_relation_list(value: &str) -> Result<Vec<Relation>, Error> {
    let mut p = Parser::new(value);
    p.check_len()?;
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        if p.at_end() {
            break;
        }
        if p.eat(b',') {
            continue;
        }
        out.push(p.relation()?);
        p.skip_ws();
        if p.peek() == Some(b'|') {
            return Err(p.err("alternatives ('|') are not allowed in this field"));
        }
        if !p.at_end() && !p.eat(b',') {
            return Err(p.err("expected ',' between relations"));
        }
    }
    Ok(out)
}

/// Writes dependencies back as a field value: `a (>= 1) | b, c`.
pub fn format_relations(deps: &[Dependency]) -> String {
    let mut out = String::new();
    for (i, dep) in deps.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, rel) in dep.iter().enumerate() {
            if j > 0 {
                out.push_str(" | ");
            }
            out.push_str(&rel.to_string());
        }
    }
    out
}

/// Writes a relation list back as a field value: `a (= 1), b`.
pub fn format_relation_list(rels: &[Relation]) -> String {
    let mut out = String::new();
    for (i, rel) in rels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&rel.to_string());
    }
    out
}

/// Whether `name` is a valid package name as dpkg accepts it: ASCII letters, digits and
/// `+ - . _`, starting with a letter or digit (policy §5.6.1 is stricter: lowercase, no `_`).
pub fn valid_package_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric) && b.iter().all(|&c| is_name_byte(c))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_')
}

/// A byte cursor over a relation field.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { text, pos: 0 }
    }

    fn check_len(&self) -> Result<(), Error> {
        if self.text.len() > MAX_RELATION_FIELD_LEN {
            return Err(Error::Relation {
                text: crate::control::truncate(self.text, 80).to_owned(),
                reason: format!("field is longer than {MAX_RELATION_FIELD_LEN} bytes"),
            });
        }
        Ok(())
    }

    fn err(&self, reason: &str) -> Error {
        let at = if self.at_end() {
            "at the end".to_owned()
        } else {
            let rest = self.text.get(self.pos..).unwrap_or("");
            format!("at {:?}", crate::control::truncate(rest, 40))
        };
        Error::Relation {
            text: crate::control::truncate(self.text, 200).to_owned(),
            reason: format!("{reason} ({at}, byte {})", self.pos),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Takes bytes while `f` holds; returns the (possibly empty) slice.
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        // Only ASCII bytes are ever accepted by the predicates used here, so the cut is on a
        // char boundary.
        self.text.get(start..self.pos).unwrap_or("")
    }

    /// A word inside `[...]`, `<...>` or after `:`: anything but whitespace and delimiters.
    fn word(&mut self) -> &'a str {
        self.take_while(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b',' | b'|' | b'[' | b']' | b'<' | b'>' | b'(' | b')')
        })
    }

    fn relation(&mut self) -> Result<Relation, Error> {
        self.skip_ws();
        let name = self.take_while(is_name_byte);
        if name.is_empty() {
            return Err(self.err("expected a package name"));
        }
        if !valid_package_name(name) {
            return Err(self.err("package name must start with a letter or digit"));
        }
        let mut rel = Relation::new(name);
        if self.eat(b':') {
            let q = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'-');
            if q.is_empty() {
                return Err(self.err("expected an architecture qualifier after ':'"));
            }
            rel.arch_qualifier = Some(q.to_owned());
        }
        self.skip_ws();
        if self.eat(b'(') {
            self.skip_ws();
            let op = self.take_while(|b| matches!(b, b'<' | b'>' | b'='));
            if op.is_empty() {
                return Err(self.err("expected a version operator (<< <= = >= >>) after '('"));
            }
            let op: Op = op
                .parse()
                .map_err(|_| self.err("unknown version operator"))?;
            self.skip_ws();
            let ver = self.take_while(|b| b.is_ascii_graphic() && b != b')');
            if ver.is_empty() {
                return Err(self.err("expected a version after the operator"));
            }
            let ver: Version = ver.parse().map_err(|e| match e {
                Error::Version { reason, .. } => self.err(&format!("bad version: {reason}")),
                other => other,
            })?;
            self.skip_ws();
            if !self.eat(b')') {
                return Err(self.err("expected ')' after the version"));
            }
            rel.constraint = Some((op, ver));
            self.skip_ws();
        }
        if self.eat(b'[') {
            loop {
                self.skip_ws();
                if self.eat(b']') {
                    break;
                }
                let start = self.pos;
                self.eat(b'!');
                let arch = self.word();
                if arch.is_empty() {
                    return Err(self.err("expected an architecture or ']' in the restriction list"));
                }
                rel.arch_restrictions
                    .push(self.text.get(start..self.pos).unwrap_or(arch).to_owned());
            }
            if rel.arch_restrictions.is_empty() {
                return Err(self.err("empty architecture restriction list '[]'"));
            }
            self.skip_ws();
        }
        while self.eat(b'<') {
            let mut terms = 0usize;
            loop {
                self.skip_ws();
                if self.eat(b'>') {
                    break;
                }
                self.eat(b'!');
                if self.word().is_empty() {
                    return Err(self.err("expected a build profile or '>' in the profile list"));
                }
                terms += 1;
            }
            if terms == 0 {
                return Err(self.err("empty build profile list '<>'"));
            }
            self.skip_ws();
        }
        Ok(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parses_depends() {
        let deps = parse_relations(
            "libc6 (>= 2.34), libreadline8 (>=6.0) | libedit2,\n libsigsegv2 ( << 2.15 ) , python3:any, foo:amd64 [amd64 !i386] <!nocheck> <stage1 cross>,",
        )
        .unwrap();
        assert_eq!(deps.len(), 5);
        assert_eq!(deps[0][0].name, "libc6");
        assert_eq!(deps[0][0].constraint, Some((Op::Ge, v("2.34"))));
        assert_eq!(deps[1].len(), 2);
        assert_eq!(deps[1][0].constraint, Some((Op::Ge, v("6.0"))));
        assert_eq!(deps[1][1], Relation::new("libedit2"));
        assert_eq!(deps[2][0].constraint, Some((Op::Lt, v("2.15"))));
        assert_eq!(deps[3][0].arch_qualifier.as_deref(), Some("any"));
        assert_eq!(deps[4][0].arch_qualifier.as_deref(), Some("amd64"));
        assert_eq!(deps[4][0].arch_restrictions, ["amd64", "!i386"]);
        assert_eq!(
            format_relations(&deps),
            "libc6 (>= 2.34), libreadline8 (>= 6.0) | libedit2, libsigsegv2 (<< 2.15), python3:any, foo:amd64 [amd64 !i386]"
        );
    }

    #[test]
    fn obsolete_operators() {
        let r: Relation = "a (< 1)".parse().unwrap();
        assert_eq!(r.constraint, Some((Op::Le, v("1"))));
        let r: Relation = "a (> 1)".parse().unwrap();
        assert_eq!(r.constraint, Some((Op::Ge, v("1"))));
    }

    #[test]
    fn empty_and_skipped() {
        assert!(parse_relations("").unwrap().is_empty());
        assert!(parse_relations("  \n ").unwrap().is_empty());
        assert_eq!(parse_relations("a, , b,").unwrap().len(), 2);
    }

    #[test]
    fn relation_list() {
        let rels = parse_relation_list("awk, mawk (= 1.3.4-1), c:any").unwrap();
        assert_eq!(rels.len(), 3);
        assert_eq!(rels[1].constraint, Some((Op::Eq, v("1.3.4-1"))));
        assert_eq!(format_relation_list(&rels), "awk, mawk (= 1.3.4-1), c:any");
        let e = parse_relation_list("a | b").unwrap_err();
        assert!(e.to_string().contains("alternatives"), "{e}");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "a (>= )",
            "a (1.0)",
            "a (>= 1.0",
            "a (=> 1.0)",
            "a (>= 1_0)",
            "a [",
            "a []",
            "a <>",
            "a <foo",
            "a |",
            "| a",
            "a b",
            "-a",
            "a:",
            "a (>= 1) (>= 2)",
            "é",
        ] {
            assert!(parse_relations(bad).is_err(), "{bad:?} should fail");
        }
        let e = parse_relations("libc6 (>= 2.34), x (=> 1)").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("unknown version operator"), "{msg}");
        assert!(msg.contains("libc6 (>= 2.34)"), "{msg}");
    }

    #[test]
    fn matches_version() {
        let r: Relation = "a (>= 1.0-1)".parse().unwrap();
        assert!(r.matches_version(&v("1.0-1")));
        assert!(r.matches_version(&v("1:0.1")));
        assert!(!r.matches_version(&v("1.0-0")));
        assert!(Relation::new("a").matches_version(&v("0")));
        assert!(Op::Lt.matches(&v("1.0~rc1"), &v("1.0")));
        assert!(!Op::Gt.matches(&v("1.0"), &v("1.0")));
        assert!(Op::Eq.matches(&v("1.0"), &v("1.0-0")));
        assert!(Op::Le.matches(&v("1.0"), &v("1.0")));
    }

    fn relation_strategy() -> impl Strategy<Value = Relation> {
        (
            "[a-z0-9][a-z0-9+.-]{0,8}",
            proptest::option::of(prop_oneof![Just("any".to_owned()), "[a-z0-9]{1,6}"]),
            proptest::option::of((
                prop_oneof![
                    Just(Op::Lt),
                    Just(Op::Le),
                    Just(Op::Eq),
                    Just(Op::Ge),
                    Just(Op::Gt)
                ],
                "[1-9]:[0-9][a-z0-9.+~]{0,5}-[0-9a-z.+~]{1,4}",
            )),
            proptest::collection::vec("!?[a-z0-9-]{1,6}", 0..3),
        )
            .prop_map(|(name, arch_qualifier, c, arch_restrictions)| Relation {
                name,
                arch_qualifier,
                constraint: c.map(|(op, ver)| (op, ver.parse().unwrap())),
                arch_restrictions,
            })
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = parse_relations(&s);
            let _ = parse_relation_list(&s);
        }

        #[test]
        fn never_panics_on_relation_alphabet(s in "[a-z0-9 ,|:()<>=!\\[\\]~.+-]{0,60}") {
            let _ = parse_relations(&s);
        }

        #[test]
        fn display_round_trips(deps in proptest::collection::vec(proptest::collection::vec(relation_strategy(), 1..3), 0..4)) {
            let text = format_relations(&deps);
            let back = parse_relations(&text).unwrap();
            prop_assert_eq!(&back, &deps);
            prop_assert_eq!(format_relations(&back), text);
        }
    }
}
