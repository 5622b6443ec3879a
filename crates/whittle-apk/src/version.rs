//! APK versions, constraints and dependency atoms, compared exactly as apk-tools does.
//!
//! The comparison transcribes apk-tools' `src/version.c` (current upstream, apk-tools 3), whose
//! grammar is `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}`:
//!
//! * the first number compares numerically; later `.`-numbers compare numerically unless either
//!   has a leading zero, then as strings (Gentoo rule: `1.02 > 1.010`, `1.01 < 1.1`);
//! * one optional lowercase letter after the numbers (`1.0a < 1.0b`, `1.0 < 1.0a`);
//! * suffixes `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`, each with
//!   an optional number (`_p < _p0 < _p1`), repeatable (`1_alpha_pre2 < 1_alpha`);
//! * `~<hex>` commit hash (compared as a string), then `-rN` revision;
//! * when one version is a prefix of the other, the longer one is greater unless it continues
//!   with a pre-release suffix (`1.0_rc1 < 1.0 < 1.0.1`, `1.0 < 1.0-r0`);
//! * numbers wrap at 2^64 as apk's `apk_blob_pull_uint` does.
//!
//! **Invalid versions.** Like apk, [`Version::new_lenient`] keeps any string (index `V:` fields
//! are not validated by apk) and compares it token by token up to the first invalid token: two
//! versions that become invalid at the same token compare equal, and a version that becomes
//! invalid sorts below one that continues validly or ends. [`Version::from_str`] rejects invalid
//! versions, as apk does for versions in dependencies (`apk_version_validate`).
//!
//! apk-tools 2.x (Alpine ≤ 3.22) differs in corner cases not seen in real repositories: it
//! orders leading-zero components by the count of zeros, matches `~` symmetrically, allows
//! letter–digit alternation (`1.0b2`), accepts suffixes by prefix, has no `~hash`, and uses
//! 32-bit numbers.
//!
//! [`Eq`], [`Ord`] and [`Hash`] all follow apk's comparison, so `1-r01 == 1-r1`; [`Display`]
//! prints the original string.
//!
//! [`Display`]: std::fmt::Display

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Longest version or dependency string accepted (apk itself has no limit; real ones are < 100).
pub const MAX_VERSION_LEN: usize = 1024;

/// Errors from parsing versions, constraints and dependencies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not a valid APK version.
    #[error(
        "invalid APK version {version:?}: {reason} (expected digit{{.digit}}...{{letter}}{{_suffix{{N}}}}...{{~hash}}{{-rN}}, e.g. 1.36.1-r2)"
    )]
    Invalid {
        /// The version text.
        version: String,
        /// What is wrong.
        reason: String,
    },
    /// Not a valid dependency atom.
    #[error(
        "invalid APK dependency {atom:?}: {reason} (expected [!]name[@tag][op version], op one of < <= = >= > ~ <~ >~ ><)"
    )]
    Dependency {
        /// The atom text.
        atom: String,
        /// What is wrong.
        reason: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Tokenizer (apk-tools version.c)

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
enum Tok {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

// Suffix values as in apk-tools' SUFFIX_* enum.
const SUFFIX_INVALID: u8 = 0;
const SUFFIX_NONE: u8 = 5;

fn suffix_value(s: &[u8]) -> u8 {
    match s {
        b"alpha" => 1,
        b"beta" => 2,
        b"pre" => 3,
        b"rc" => 4,
        b"cvs" => 6,
        b"svn" => 7,
        b"git" => 8,
        b"hg" => 9,
        b"p" => 10,
        _ => SUFFIX_INVALID,
    }
}

#[derive(Clone, Copy, Debug)]
struct TokState<'a> {
    tok: Tok,
    suffix: u8,
    number: u64,
    value: &'a [u8],
}

struct Tokens<'a> {
    rest: &'a [u8],
    st: TokState<'a>,
}

impl<'a> Tokens<'a> {
    fn first(s: &'a [u8]) -> Self {
        let mut t = Tokens {
            rest: s,
            st: TokState {
                tok: Tok::InitialDigit,
                suffix: 0,
                number: 0,
                value: &[],
            },
        };
        t.parse_digits();
        t
    }

    fn parse_digits(&mut self) {
        let n = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at(n);
        self.st.number = digits.iter().fold(0u64, |acc, d| {
            acc.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
        self.st.value = digits;
        self.rest = rest;
        if n == 0 {
            self.st.tok = Tok::Invalid;
        }
    }

    fn next(&mut self) {
        let Some(&c) = self.rest.first() else {
            self.st.tok = Tok::End;
            return;
        };
        let cur = self.st.tok;
        match c {
            b'a'..=b'z' => {
                if cur > Tok::Digit {
                    return self.invalid();
                }
                self.st.value = &self.rest[..1];
                self.st.tok = Tok::Letter;
                self.rest = &self.rest[1..];
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if cur > Tok::Digit {
                        return self.invalid();
                    }
                    self.rest = &self.rest[1..];
                }
                self.st.tok = match cur {
                    Tok::InitialDigit | Tok::Digit => Tok::Digit,
                    Tok::Suffix => Tok::SuffixNo,
                    _ => return self.invalid(),
                };
                self.parse_digits();
            }
            b'_' => {
                if cur > Tok::SuffixNo {
                    return self.invalid();
                }
                let body = &self.rest[1..];
                let n = body.iter().take_while(|c| c.is_ascii_lowercase()).count();
                self.st.value = &body[..n];
                self.rest = &body[n..];
                self.st.suffix = suffix_value(self.st.value);
                if self.st.suffix == SUFFIX_INVALID {
                    return self.invalid();
                }
                self.st.tok = Tok::Suffix;
            }
            b'~' => {
                if cur >= Tok::CommitHash {
                    return self.invalid();
                }
                let body = &self.rest[1..];
                let n = body
                    .iter()
                    .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                    .count();
                if n == 0 {
                    return self.invalid();
                }
                self.st.value = &body[..n];
                self.rest = &body[n..];
                self.st.tok = Tok::CommitHash;
            }
            b'-' => {
                if cur >= Tok::RevisionNo || !self.rest.starts_with(b"-r") {
                    return self.invalid();
                }
                self.rest = &self.rest[2..];
                self.st.tok = Tok::RevisionNo;
                self.parse_digits();
            }
            _ => self.invalid(),
        }
    }

    fn invalid(&mut self) {
        self.st.tok = Tok::Invalid;
    }
}

fn token_cmp(a: &TokState<'_>, b: &TokState<'_>) -> Ordering {
    match a.tok {
        Tok::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            a.value.cmp(b.value)
        }
        Tok::Digit | Tok::InitialDigit | Tok::SuffixNo | Tok::RevisionNo => a.number.cmp(&b.number),
        Tok::Letter => a.value.first().cmp(&b.value.first()),
        Tok::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

/// `apk_version_compare_fuzzy`: with `fuzzy`, `a` equals `b` when `b` is a token prefix of `a`.
fn compare_fuzzy(a: &[u8], b: &[u8], fuzzy: bool) -> Ordering {
    let mut ta = Tokens::first(a);
    let mut tb = Tokens::first(b);
    while ta.st.tok == tb.st.tok && ta.st.tok < Tok::End {
        let r = token_cmp(&ta.st, &tb.st);
        if r != Ordering::Equal {
            return r;
        }
        ta.next();
        tb.next();
    }
    let (at, bt) = (ta.st.tok, tb.st.tok);
    if at == bt || (bt == Tok::End && fuzzy) {
        return Ordering::Equal;
    }
    if at == Tok::Suffix && ta.st.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if bt == Tok::Suffix && tb.st.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    // The non-terminating (lower token kind) version is greater.
    bt.cmp(&at)
}

/// Why `s` is not a valid version, or `None` if it is (`apk_version_validate`).
fn validate(s: &str) -> Option<String> {
    let mut t = Tokens::first(s.as_bytes());
    while t.st.tok < Tok::End {
        t.next();
    }
    if t.st.tok == Tok::End {
        return None;
    }
    let at = s.len() - t.rest.len();
    Some(if s.is_empty() {
        "empty version".to_string()
    } else if at == 0 && !s.starts_with(|c: char| c.is_ascii_digit()) {
        "must start with a digit".to_string()
    } else {
        format!(
            "unexpected {:?} at byte {at}",
            s[at..].chars().next().map_or(String::new(), String::from)
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Version

/// An APK package version (e.g. `1.36.1-r2`), ordered as apk-tools orders it.
#[derive(Clone)]
pub struct Version {
    raw: Box<str>,
}

impl Version {
    /// Keeps any string as a version, valid or not, as apk does for index `V:` fields; invalid
    /// versions compare as described in the module docs. Strings over [`MAX_VERSION_LEN`] are
    /// still kept (the caller bounds its input).
    pub fn new_lenient(s: &str) -> Self {
        Version { raw: s.into() }
    }

    /// The version text as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True if apk-tools' `apk_version_validate` accepts this version.
    pub fn is_valid(&self) -> bool {
        validate(&self.raw).is_none()
    }

    /// apk's fuzzy comparison: `Equal` when `prefix` is a token prefix of `self`
    /// (`1.2.3` vs `1.2` → Equal; `1.20` vs `1.2` → Greater).
    pub fn cmp_fuzzy(&self, prefix: &Version) -> Ordering {
        compare_fuzzy(self.raw.as_bytes(), prefix.raw.as_bytes(), true)
    }

    /// The `-rN` revision, if present and valid.
    pub fn revision(&self) -> Option<u64> {
        let mut t = Tokens::first(self.raw.as_bytes());
        while t.st.tok < Tok::End {
            if t.st.tok == Tok::RevisionNo {
                return Some(t.st.number);
            }
            t.next();
        }
        None
    }
}

impl FromStr for Version {
    type Err = VersionError;

    /// Parses a valid version; invalid ones are rejected with the offending position.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_VERSION_LEN {
            return Err(VersionError::Invalid {
                version: s.chars().take(64).collect::<String>() + "…",
                reason: format!("longer than {MAX_VERSION_LEN} bytes"),
            });
        }
        match validate(s) {
            None => Ok(Version::new_lenient(s)),
            Some(reason) => Err(VersionError::Invalid {
                version: s.to_string(),
                reason,
            }),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", &*self.raw)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_fuzzy(self.raw.as_bytes(), other.raw.as_bytes(), false)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Hash exactly what the comparison looks at, so that equal versions hash equally.
        let mut t = Tokens::first(self.raw.as_bytes());
        loop {
            t.st.tok.hash(state);
            match t.st.tok {
                Tok::End | Tok::Invalid => break,
                Tok::Digit if t.st.value.first() == Some(&b'0') => t.st.value.hash(state),
                Tok::Digit | Tok::InitialDigit | Tok::SuffixNo | Tok::RevisionNo => {
                    t.st.number.hash(state)
                }
                Tok::Letter => t.st.value.first().hash(state),
                Tok::Suffix => t.st.suffix.hash(state),
                Tok::CommitHash => t.st.value.hash(state),
            }
            t.next();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Constraints

/// A version comparison operator as written in APK dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Less,
    /// `<=`
    LessEq,
    /// `=`
    Equal,
    /// `>=`
    GreaterEq,
    /// `>`
    Greater,
    /// `~`: fuzzy, the constraint version is a token prefix of the candidate (`~1.2` matches
    /// `1.2`, `1.2.9`, `1.2-r3`, not `1.20`).
    Fuzzy,
    /// `<~`: less than, or fuzzy-equal.
    LessFuzzy,
    /// `>~`: greater than, or fuzzy-equal.
    GreaterFuzzy,
    /// `><`: apk's `APK_DEPMASK_CHECKSUM`. In dependencies (world entries of packages added from
    /// files) the "version" is the package's identity checksum (`Q1…`), matched with
    /// [`Constraint::matches_checksum`]; as a plain version mask (less | greater) it means
    /// "not equal", which is what [`Constraint::matches`] implements.
    Checksum,
}

impl Op {
    /// The operator's text (`<`, `<=`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Less => "<",
            Op::LessEq => "<=",
            Op::Equal => "=",
            Op::GreaterEq => ">=",
            Op::Greater => ">",
            Op::Fuzzy => "~",
            Op::LessFuzzy => "<~",
            Op::GreaterFuzzy => ">~",
            Op::Checksum => "><",
        }
    }

    /// Parses an operator as apk does: the OR of the characters' masks (`<`=less, `>`=greater,
    /// `=`=equal, `~`=fuzzy+equal), so `=<` is `<=`, `~=` is `~`. `None` for masks apk has no
    /// operator for (`<>=`, …) and for anything else.
    pub fn parse(s: &str) -> Option<Op> {
        const L: u8 = 1;
        const E: u8 = 2;
        const G: u8 = 4;
        const F: u8 = 8;
        if s.is_empty() {
            return None;
        }
        let mut m = 0u8;
        for c in s.bytes() {
            m |= match c {
                b'<' => L,
                b'>' => G,
                b'=' => E,
                b'~' => F | E,
                _ => return None,
            };
        }
        Some(match m {
            x if x == L => Op::Less,
            x if x == L | E => Op::LessEq,
            x if x == E => Op::Equal,
            x if x == G | E => Op::GreaterEq,
            x if x == G => Op::Greater,
            x if x == F | E => Op::Fuzzy,
            x if x == L | E | F => Op::LessFuzzy,
            x if x == G | E | F => Op::GreaterFuzzy,
            x if x == L | G => Op::Checksum,
            _ => return None,
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version constraint `<op><version>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    /// The operator.
    pub op: Op,
    /// The version (for [`Op::Checksum`], the checksum text, kept leniently).
    pub version: Version,
}

impl Constraint {
    /// Does `v` satisfy this constraint (apk's `apk_version_match`)?
    pub fn matches(&self, v: &Version) -> bool {
        let c = self.version.raw.as_bytes();
        let x = v.raw.as_bytes();
        let fuzzy = matches!(self.op, Op::Fuzzy | Op::LessFuzzy | Op::GreaterFuzzy);
        let r = compare_fuzzy(x, c, fuzzy);
        match self.op {
            Op::Less => r == Ordering::Less,
            Op::LessEq | Op::LessFuzzy => r != Ordering::Greater,
            Op::Equal | Op::Fuzzy => r == Ordering::Equal,
            Op::GreaterEq | Op::GreaterFuzzy => r != Ordering::Less,
            Op::Greater => r == Ordering::Greater,
            Op::Checksum => r != Ordering::Equal,
        }
    }

    /// For [`Op::Checksum`]: does the package identity `checksum` (the index `C:` text,
    /// `Q1…`) equal the pinned one? Always false for other operators.
    pub fn matches_checksum(&self, checksum: &str) -> bool {
        self.op == Op::Checksum && self.version.as_str() == checksum
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op, self.version)
    }
}

// ---------------------------------------------------------------------------------------------
// Dependencies

/// What a dependency name refers to, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepKind {
    /// A package name.
    Package,
    /// `so:` a shared library soname.
    So,
    /// `cmd:` a command.
    Cmd,
    /// `pc:` a pkg-config module.
    Pc,
    /// Another `prefix:` virtual (e.g. `py3.10:`, `ocaml4-intf:`).
    OtherVirtual,
}

/// A dependency atom as in APKINDEX `D:`/`p:`/`i:` and `/etc/apk/world`:
/// `[!]name[@tag][<op><version>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dependency {
    /// The name (with any `so:`/`cmd:`/`pc:` prefix).
    pub name: String,
    /// `!name`: a conflict (the constraint then says which versions conflict).
    pub conflict: bool,
    /// `name@tag`: only from repositories tagged `@tag`.
    pub tag: Option<String>,
    /// Version constraint, if any.
    pub constraint: Option<Constraint>,
    /// The constraint's version is not a valid APK version (only from
    /// [`parse_dependency_lenient`], as apk-tools 3 marks such atoms `broken` instead of
    /// rejecting the whole index; real Alpine indexes carry e.g. `pc:librtmp=v2.4`).
    pub broken: bool,
}

impl Dependency {
    /// The kind of name (package, `so:`, `cmd:`, `pc:`, other virtual).
    pub fn kind(&self) -> DepKind {
        if self.name.starts_with("so:") {
            DepKind::So
        } else if self.name.starts_with("cmd:") {
            DepKind::Cmd
        } else if self.name.starts_with("pc:") {
            DepKind::Pc
        } else if self.name.contains(':') {
            DepKind::OtherVirtual
        } else {
            DepKind::Package
        }
    }

    /// Does a provider at version `v` satisfy the version part (ignoring `conflict`)? No
    /// constraint matches any version.
    pub fn version_matches(&self, v: &Version) -> bool {
        self.constraint.as_ref().is_none_or(|c| c.matches(v))
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.conflict {
            f.write_str("!")?;
        }
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, "@{t}")?;
        }
        if let Some(c) = &self.constraint {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl FromStr for Dependency {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_dependency(s)
    }
}

fn is_pkgname_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'_')
}

fn is_depname_char(c: u8) -> bool {
    is_pkgname_char(c) || matches!(c, b',' | b':' | b'/' | b'[' | b']')
}

fn is_comparer(c: u8) -> bool {
    matches!(c, b'<' | b'>' | b'=' | b'~')
}

/// Parses one dependency atom (`busybox`, `so:libc.musl-x86_64.so.1`, `!foo<2`, `python3~3.10`,
/// `curl@edge>=8`, `foo><Q1abc…=`). Versions must be valid, except after `><` (as apk requires
/// for user input and `/etc/apk/world`).
pub fn parse_dependency(s: &str) -> Result<Dependency, VersionError> {
    parse_dependency_impl(s, false)
}

/// Like [`parse_dependency`], but an invalid version is kept (leniently) and the atom marked
/// [`Dependency::broken`], as apk-tools 3 does for index and package metadata. Malformed names
/// and operators are still errors.
pub fn parse_dependency_lenient(s: &str) -> Result<Dependency, VersionError> {
    parse_dependency_impl(s, true)
}

fn parse_dependency_impl(s: &str, lenient: bool) -> Result<Dependency, VersionError> {
    let err = |reason: String| VersionError::Dependency {
        atom: s.chars().take(200).collect(),
        reason,
    };
    if s.len() > MAX_VERSION_LEN {
        return Err(err(format!("longer than {MAX_VERSION_LEN} bytes")));
    }
    let (conflict, body) = match s.strip_prefix('!') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let split = body.bytes().position(is_comparer).unwrap_or(body.len());
    let (name_tag, op_ver) = body.split_at(split);
    let (name, tag) = match name_tag.split_once('@') {
        Some((n, t)) => (n, Some(t)),
        None => (name_tag, None),
    };
    if name.is_empty() {
        return Err(err("empty name".into()));
    }
    if let Some(bad) = name.bytes().find(|&c| !is_depname_char(c)) {
        return Err(err(format!(
            "character {:?} not allowed in a name",
            bad as char
        )));
    }
    if let Some(t) = tag
        && (t.is_empty() || !t.bytes().all(is_pkgname_char))
    {
        return Err(err(format!("invalid repository tag {t:?}")));
    }
    let mut broken = false;
    let constraint = if op_ver.is_empty() {
        None
    } else {
        let op_len = op_ver.bytes().take_while(|&c| is_comparer(c)).count();
        let (op_s, ver) = op_ver.split_at(op_len);
        let op = Op::parse(op_s).ok_or_else(|| err(format!("unknown operator {op_s:?}")))?;
        if ver.is_empty() {
            return Err(err(format!("operator {op_s:?} without a version")));
        }
        let version = if op == Op::Checksum {
            if ver.bytes().any(|c| c.is_ascii_whitespace()) {
                return Err(err("whitespace in checksum".into()));
            }
            Version::new_lenient(ver)
        } else if lenient && ver.len() <= MAX_VERSION_LEN {
            let v = Version::new_lenient(ver);
            broken = !v.is_valid();
            v
        } else {
            ver.parse::<Version>().map_err(|e| match e {
                VersionError::Invalid { reason, .. } => err(format!("version {ver:?}: {reason}")),
                other => other,
            })?
        };
        Some(Constraint { op, version })
    };
    Ok(Dependency {
        name: name.to_string(),
        conflict,
        tag: tag.map(str::to_string),
        constraint,
        broken,
    })
}

/// Parses a whitespace-separated list of atoms (an APKINDEX `D:`, `p:` or `i:` value, or the
/// lines of `/etc/apk/world`).
pub fn parse_dependencies(s: &str) -> Result<Vec<Dependency>, VersionError> {
    s.split_ascii_whitespace().map(parse_dependency).collect()
}

/// [`parse_dependencies`] with [`parse_dependency_lenient`] (for index and package metadata).
pub fn parse_dependencies_lenient(s: &str) -> Result<Vec<Dependency>, VersionError> {
    s.split_ascii_whitespace()
        .map(parse_dependency_lenient)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::new_lenient(s)
    }

    #[test]
    fn basic_order() {
        assert!(v("1.0") < v("1.0.1"));
        assert!(v("1.0_rc1") < v("1.0"));
        assert!(v("1.0-r1") > v("1.0"));
        assert_eq!(v("1-r01"), v("1-r1"));
        assert!(v("1.02") > v("1.010"));
    }

    #[test]
    fn validation_messages() {
        let e = "1.0-x".parse::<Version>().unwrap_err().to_string();
        assert!(e.contains("byte 3"), "{e}");
        let e = "abc".parse::<Version>().unwrap_err().to_string();
        assert!(e.contains("start with a digit"), "{e}");
        assert!("".parse::<Version>().is_err());
    }

    #[test]
    fn revision() {
        assert_eq!(v("1.36.1-r2").revision(), Some(2));
        assert_eq!(v("1.36.1").revision(), None);
    }

    #[test]
    fn op_parse_masks() {
        assert_eq!(Op::parse("=<"), Some(Op::LessEq));
        assert_eq!(Op::parse("~="), Some(Op::Fuzzy));
        assert_eq!(Op::parse("<>"), Some(Op::Checksum));
        assert_eq!(Op::parse("<>="), None);
        assert_eq!(Op::parse(""), None);
    }
}
