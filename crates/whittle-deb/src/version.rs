//! Debian version numbers, compared by Debian policy §5.6.12.
//!
//! Parsing and comparison follow dpkg (`parseversion`, `verrevcmp`) exactly:
//! - `[epoch:]upstream[-revision]`: the epoch is everything before the first `:`, the
//!   revision everything after the last `-`.
//! - Comparison: epochs numerically, then upstream, then revision, each with `verrevcmp`:
//!   alternating non-digit runs (compared character by character, where `~` sorts before
//!   everything, even the end of the string, and letters sort before non-letters) and digit
//!   runs (compared numerically; an absent run counts as 0).
//! - An absent revision compares like the empty string, which compares equal to `0`; so
//!   `1.0 == 1.0-0`, and also `1.0 == 1.00`. [`PartialEq`], [`Eq`] and [`Hash`] follow this
//!   order, not the spelling.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::Error;

/// Longest version string accepted, in bytes (real ones are under 100).
pub const MAX_VERSION_LEN: usize = 256;

/// A parsed Debian version `[epoch:]upstream[-revision]`.
///
/// Equality, ordering and hashing follow dpkg's comparison, so two spellings that dpkg treats
/// as the same version (`1.0`, `0:1.0`, `1.0-0`) are equal.
#[derive(Debug, Clone)]
pub struct Version {
    /// The epoch, 0 when absent.
    pub epoch: u32,
    /// The upstream version.
    pub upstream: String,
    /// The Debian revision, empty when absent.
    pub revision: String,
}

impl Version {
    /// Builds a version from its parts, validating them as [`FromStr`] would.
    pub fn new(epoch: u32, upstream: &str, revision: &str) -> Result<Version, Error> {
        let mut text = String::new();
        if epoch > 0 {
            text.push_str(&epoch.to_string());
            text.push(':');
        }
        text.push_str(upstream);
        if !revision.is_empty() {
            text.push('-');
            text.push_str(revision);
        }
        let v: Version = text.parse()?;
        if v.upstream != upstream || v.revision != revision {
            return Err(Error::Version {
                version: text,
                reason: "upstream part contains '-' or ':' that would be misread".to_owned(),
            });
        }
        Ok(v)
    }

    /// The version without its revision (`[epoch:]upstream`), e.g. to compare source
    /// versions of binNMUs.
    pub fn without_revision(&self) -> Version {
        Version {
            epoch: self.epoch,
            upstream: self.upstream.clone(),
            revision: String::new(),
        }
    }
}

fn invalid(version: &str, reason: &str) -> Error {
    Error::Version {
        version: crate::control::truncate(version, 80).to_owned(),
        reason: reason.to_owned(),
    }
}

impl FromStr for Version {
    type Err = Error;

    /// Parses like dpkg's `parseversion`: surrounding whitespace is ignored; empty versions,
    /// embedded spaces, empty or non-numeric or too large epochs, empty upstream or revision
    /// parts and characters outside `[A-Za-z0-9.+~-:]` (`[A-Za-z0-9.+~]` in the revision) are
    /// rejected. An upstream part not starting with a digit is accepted (dpkg only warns).
    fn from_str(s: &str) -> Result<Version, Error> {
        let text = s.trim_ascii();
        if text.is_empty() {
            return Err(invalid(s, "version string is empty"));
        }
        if text.len() > MAX_VERSION_LEN {
            return Err(invalid(
                s,
                &format!("version string is longer than {MAX_VERSION_LEN} bytes"),
            ));
        }
        if text.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(invalid(s, "version string has embedded spaces"));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() {
                    return Err(invalid(s, "epoch in version is empty"));
                }
                if !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(s, "epoch in version is not a number"));
                }
                let epoch: u32 = e
                    .parse()
                    .ok()
                    .filter(|&n| n <= i32::MAX as u32)
                    .ok_or_else(|| invalid(s, "epoch in version is too big"))?;
                if rest.is_empty() {
                    return Err(invalid(s, "nothing after colon in version number"));
                }
                (epoch, rest)
            }
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => {
                if r.is_empty() {
                    return Err(invalid(s, "revision number is empty"));
                }
                (u, r)
            }
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(invalid(s, "version number is empty"));
        }
        if let Some(c) = upstream
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || ".-+~:".contains(c)))
        {
            return Err(invalid(
                s,
                &format!("invalid character {c:?} in version number"),
            ));
        }
        if let Some(c) = revision
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || ".+~".contains(c)))
        {
            return Err(invalid(
                s,
                &format!("invalid character {c:?} in revision number"),
            ));
        }
        Ok(Version {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

impl fmt::Display for Version {
    /// `[epoch:]upstream[-revision]`; the epoch is written when non-zero or when the upstream
    /// part contains `:` (so the text parses back to the same parts).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch > 0 || self.upstream.contains(':') {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

/// dpkg's `order()`: the weight of a non-digit character (0 for digits and end of string).
#[inline]
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`, on byte strings.
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let is_digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // Non-digit prefix.
        while (i < a.len() && !is_digit(a, i)) || (j < b.len() && !is_digit(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run, numerically.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit(a, i) && is_digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if is_digit(a, i) {
            return Ordering::Greater;
        }
        if is_digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// Feeds `s` to `state` so that strings equal under [`verrevcmp`] hash the same: each
/// (non-digit run, digit run without leading zeros) pair is hashed.
fn hash_verrev<H: Hasher>(s: &str, state: &mut H) {
    let b = s.as_bytes();
    let mut i = 0usize;
    loop {
        let start = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        let non_digits = &b[start..i];
        while i < b.len() && b[i] == b'0' {
            i += 1;
        }
        let dstart = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        state.write(non_digits);
        state.write_u8(0xff);
        state.write(&b[dstart..i]);
        state.write_u8(0xfe);
        if i >= b.len() {
            break;
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.epoch.hash(state);
        hash_verrev(&self.upstream, state);
        hash_verrev(&self.revision, state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::hash_map::DefaultHasher;

    fn v(s: &str) -> Version {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn h(x: &Version) -> u64 {
        let mut s = DefaultHasher::new();
        x.hash(&mut s);
        s.finish()
    }

    #[test]
    fn parses_parts() {
        let x = v("2:1.2-3+deb12u1");
        assert_eq!(
            (x.epoch, x.upstream.as_str(), x.revision.as_str()),
            (2, "1.2", "3+deb12u1")
        );
        let x = v("1:2.3-4-5");
        assert_eq!((x.upstream.as_str(), x.revision.as_str()), ("2.3-4", "5"));
        let x = v("1:2:3");
        assert_eq!((x.epoch, x.upstream.as_str()), (1, "2:3"));
        let x = v("  1.0 ");
        assert_eq!(x.upstream, "1.0");
        // dpkg only warns about an upstream part not starting with a digit.
        assert_eq!(v("a1.0").upstream, "a1.0");
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "",
            "   ",
            ":1.0",
            "a:1.0",
            "1:",
            "1.0-",
            "-1",
            "1:-1",
            "1.0 2",
            "1.0_1",
            "1.0-1_2",
            "1.0-1:2",
            "99999999999:1",
            "1.0/2",
            "é",
        ] {
            let e = bad.parse::<Version>().unwrap_err();
            assert!(
                e.to_string().starts_with("invalid Debian version"),
                "{bad}: {e}"
            );
        }
        assert!(
            "1.0_1"
                .parse::<Version>()
                .unwrap_err()
                .to_string()
                .contains("invalid character '_'")
        );
        let long = "1".repeat(MAX_VERSION_LEN + 1);
        assert!(long.parse::<Version>().is_err());
    }

    /// Pairs `(a, b)` with `a < b`, from dpkg's rules and its test suite.
    const LESS: &[(&str, &str)] = &[
        ("1.0", "1.1"),
        ("1.0", "1.0.1"),
        ("1.0~rc1", "1.0"),
        ("1.0~~", "1.0~"),
        ("1.0~~a", "1.0~"),
        ("1.0~", "1.0"),
        ("1.0", "1.0a"),
        ("1.0a", "1.0+"),
        ("1.0+", "1.0."),
        ("1.0a", "1.0b"),
        ("1.0Z", "1.0a"),
        ("1.2", "1.10"),
        ("1.9", "1.10"),
        ("9", "10"),
        ("0:9", "1:1"),
        ("1:9.9", "2:0.1"),
        ("1.0-1", "1.0-2"),
        ("1.0-9", "1.0-10"),
        ("1.0-1", "1.0.1-1"),
        ("1.0-1", "1.0-1.1"),
        ("1.0-1~bpo1", "1.0-1"),
        ("1.0-1", "1.0-1+deb12u1"),
        ("1.0-1+b1", "1.0-1+b2"),
        ("2.36-9", "2.36-9+deb12u1"),
        ("5.2.1-2", "5.2.1-2.1"),
        ("1.0", "1.0-0.1"),
        ("a", "b"),
        ("1~", "1"),
        ("~", "0"),
        ("1.0.", "1.0.1"),
        ("1.0a", "1.0.0"),
        ("1-1", "1-a"),
        ("1:1.0", "1:1.0-1"),
    ];

    #[test]
    fn ordering_vectors() {
        for (a, b) in LESS {
            let (x, y) = (v(a), v(b));
            assert_eq!(x.cmp(&y), Ordering::Less, "{a} < {b}");
            assert_eq!(y.cmp(&x), Ordering::Greater, "{b} > {a}");
            assert_ne!(x, y);
        }
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1.0", "1.0-0"),
            ("1.0", "0:1.0"),
            ("1.0", "1.00"),
            ("1.0", "1."),
            ("1.01", "1.1"),
            ("0", "00"),
            ("1.0-00", "1.0"),
            ("a", "a0"),
        ] {
            let (x, y) = (v(a), v(b));
            assert_eq!(x, y, "{a} == {b}");
            assert_eq!(h(&x), h(&y), "hash {a} == {b}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "1.0",
            "1:1.0-1",
            "1.0-1-2",
            "0:1:2",
            "1.0~rc1+dfsg-3~bpo11+1",
        ] {
            let x = v(s);
            let back = v(&x.to_string());
            assert_eq!(
                (back.epoch, &back.upstream, &back.revision),
                (x.epoch, &x.upstream, &x.revision),
                "{s}"
            );
        }
        assert_eq!(v("0:1.0").to_string(), "1.0");
        assert_eq!(v("0:1:2").to_string(), "0:1:2");
    }

    #[test]
    fn new_validates() {
        assert_eq!(Version::new(1, "2.0", "3").unwrap().to_string(), "1:2.0-3");
        assert!(Version::new(0, "2-0", "").is_err());
        assert!(Version::new(0, "", "1").is_err());
        assert_eq!(v("1:2-3").without_revision().to_string(), "1:2");
    }

    fn version_strategy() -> impl Strategy<Value = Version> {
        (
            prop_oneof![Just(0u32), 0u32..3],
            "[0-9][0-9a-z.+~]{0,6}",
            prop_oneof![Just(String::new()), "[0-9a-z.+~]{1,5}"],
        )
            .prop_map(|(epoch, upstream, revision)| Version {
                epoch,
                upstream,
                revision,
            })
    }

    /// Short strings over a small alphabet, to hit equal-but-differently-spelled cases.
    fn small_part() -> impl Strategy<Value = String> {
        "[0~a.]{0,4}"
    }

    proptest! {
        #[test]
        fn antisymmetric(a in version_strategy(), b in version_strategy()) {
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        }

        #[test]
        fn transitive(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
            if a == b && b == c {
                prop_assert!(a == c);
            }
        }

        #[test]
        fn verrevcmp_laws(a in small_part(), b in small_part(), c in small_part()) {
            let ab = verrevcmp(&a, &b);
            prop_assert_eq!(ab, verrevcmp(&b, &a).reverse());
            if ab != Ordering::Greater && verrevcmp(&b, &c) != Ordering::Greater {
                prop_assert!(verrevcmp(&a, &c) != Ordering::Greater);
            }
        }

        #[test]
        fn hash_consistent_with_eq(a in small_part(), b in small_part()) {
            let x = Version { epoch: 0, upstream: format!("1{a}"), revision: b.clone() };
            let y = Version { epoch: 0, upstream: format!("1{b}"), revision: a.clone() };
            if x == y {
                prop_assert_eq!(h(&x), h(&y));
            }
            let x = Version { epoch: 0, upstream: format!("1{a}"), revision: String::new() };
            let y = Version { epoch: 0, upstream: format!("1{b}"), revision: String::new() };
            if x == y {
                prop_assert_eq!(h(&x), h(&y));
            }
        }

        #[test]
        fn display_round_trip(a in version_strategy()) {
            let text = a.to_string();
            let back: Version = text.parse().unwrap();
            prop_assert_eq!(&back, &a);
            prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = s.parse::<Version>();
        }
    }
}
