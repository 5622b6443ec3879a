//! Debian machine-readable (DEP-5) `copyright` files → SPDX license expressions.

use std::collections::BTreeSet;

/// The largest copyright file examined; beyond it only the first part is read.
pub const MAX_COPYRIGHT_BYTES: usize = 4 << 20;

/// Most distinct licences taken from one copyright file (the largest real files name a few
/// dozen): a file of thousands of made-up `License:` stanzas made one package's expression
/// megabytes long, and the SPDX document one `LicenseRef` record per name.
const MAX_TERMS: usize = 256;

/// Longest `License:` value read as a short-name expression (real ones are a few words).
const MAX_EXPRESSION: usize = 256;

/// From a Debian `copyright` text, the licences it names as one SPDX expression: for a
/// machine-readable (DEP-5) file the `License:` short names of all its stanzas (header, `Files:`
/// and stand-alone licence paragraphs), for any other file the
/// `/usr/share/common-licenses/<NAME>` files it refers to. Short names are mapped to SPDX identifiers where standard (`GPL-2+` →
/// `GPL-2.0-or-later`, `Expat` → `MIT`, `public-domain` → `LicenseRef-public-domain`, anything
/// unknown → `LicenseRef-<sanitized>`), deduplicated, sorted and joined with ` AND `.
/// `None` when the text names no licence.
///
/// ```
/// let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
///             Files: *\nCopyright: x\nLicense: GPL-2+\n\nFiles: debian/*\nLicense: Expat\n";
/// assert_eq!(
///     whittle_sbom::debian_copyright_license(text).as_deref(),
///     Some("GPL-2.0-or-later AND MIT")
/// );
/// let old = "This is gawk, copyright FSF.\nSee /usr/share/common-licenses/GPL-3.\n";
/// assert_eq!(
///     whittle_sbom::debian_copyright_license(old).as_deref(),
///     Some("GPL-3.0-only")
/// );
/// ```
pub fn debian_copyright_license(text: &str) -> Option<String> {
    let text = truncate(text, MAX_COPYRIGHT_BYTES);
    let mut terms = BTreeSet::new();
    let stanzas = stanzas(text);
    let dep5 = stanzas
        .first()
        .is_some_and(|h| h.iter().any(|(k, _)| k.eq_ignore_ascii_case("format")));
    if dep5 {
        for st in &stanzas {
            for (k, v) in st {
                if terms.len() >= MAX_TERMS {
                    break;
                }
                if k.eq_ignore_ascii_case("license")
                    && let Some(expr) = expression(v)
                {
                    terms.insert(expr);
                }
            }
        }
    }
    // in a DEP-5 file such references only say where a named licence's text is
    if !dep5 {
        for name in common_license_refs(text).take(64) {
            terms.insert(common_license_to_spdx(name));
        }
    }
    join_and(terms)
}

/// `/usr/share/common-licenses/<NAME>` references in a text (the name up to the first character
/// outside `[A-Za-z0-9.+-]`, without a trailing `.`).
fn common_license_refs(text: &str) -> impl Iterator<Item = &str> {
    const MARK: &str = "/usr/share/common-licenses/";
    text.match_indices(MARK).filter_map(|(i, _)| {
        let rest = &text[i + MARK.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_')))
            .unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches('.');
        (!name.is_empty()).then_some(name)
    })
}

/// The SPDX id of a file in Debian's `/usr/share/common-licenses` (`BSD` there is the
/// 3-clause text).
fn common_license_to_spdx(name: &str) -> String {
    match name {
        "BSD" => "BSD-3-Clause".to_string(),
        n => short_name_to_spdx(n),
    }
}

/// Joins terms with ` AND `, parenthesizing `OR` expressions when there are several.
fn join_and(terms: BTreeSet<String>) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    let many = terms.len() > 1;
    let parts: Vec<String> = terms
        .into_iter()
        .map(|t| {
            if many && t.contains(" OR ") {
                format!("({t})")
            } else {
                t
            }
        })
        .collect();
    Some(parts.join(" AND "))
}

/// The SPDX licence exceptions whittle recognizes after `WITH`.
const EXCEPTIONS: &[&str] = &[
    "Autoconf-exception-2.0",
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
    "Classpath-exception-2.0",
    "Font-exception-2.0",
    "GCC-exception-2.0",
    "GCC-exception-3.1",
    "LLVM-exception",
    "Libtool-exception",
    "Linux-syscall-note",
    "Qt-GPL-exception-1.0",
    "Qt-LGPL-exception-1.1",
    "Universal-FOSS-exception-1.0",
    "WxWindows-exception-3.1",
    "eCos-exception-2.0",
    "openvpn-openssl-exception",
    "u-boot-exception-2.0",
];

/// An APK `L:` value (`MIT`, `GPL-2.0-only AND MIT`, `BSD-2-Clause OR MIT`, `GPL2+`,
/// `MPL-2.0 GPL-2.0-or-later`) as a valid SPDX expression: SPDX ids and operators are kept,
/// a space-separated list means all apply (`AND`), other names become `LicenseRef-…`, and a
/// `WITH` whose exception is not an SPDX exception id is folded into one `LicenseRef-…`.
///
/// ```
/// assert_eq!(whittle_sbom::apk_license("MPL-2.0 GPL-2.0-or-later"), "MPL-2.0 AND GPL-2.0-or-later");
/// assert_eq!(whittle_sbom::apk_license("GPL-2.0 WITH Foo"), "LicenseRef-GPL-2.0-only-WITH-Foo");
/// ```
pub fn apk_license(l: &str) -> String {
    let l = truncate(l, 4096);
    let mut out: Vec<String> = Vec::new();
    let is_op = |s: &str| matches!(s, "AND" | "OR" | "WITH");
    let toks: Vec<&str> = l.split_whitespace().collect();
    let mut i = 0;
    while i < toks.len() {
        let tok = toks[i];
        i += 1;
        let up = tok.to_ascii_uppercase();
        if matches!(up.as_str(), "AND" | "OR") {
            if out.last().is_some_and(|l| !is_op(l) && !l.ends_with('(')) {
                out.push(up);
            }
            continue;
        }
        if up == "WITH" {
            // `X WITH E`: keep when E is an SPDX exception, else one LicenseRef
            let Some(next) = toks.get(i) else { continue };
            i += 1;
            let core = next.trim_end_matches(')');
            let close = &next[core.len()..];
            let prev = out.pop().unwrap_or_default();
            let (open, base) = prev.split_at(prev.len() - prev.trim_start_matches('(').len());
            if let Some(e) = EXCEPTIONS.iter().find(|e| e.eq_ignore_ascii_case(core))
                && !base.starts_with("LicenseRef-")
                && !base.is_empty()
            {
                out.push(format!("{open}{base} WITH {e}{close}"));
            } else {
                let base = base.strip_prefix("LicenseRef-").unwrap_or(base);
                out.push(format!(
                    "{open}{}{close}",
                    license_ref(&format!("{base}-WITH-{core}"))
                ));
            }
            continue;
        }
        // apk lists several licenses separated by spaces: all of them apply
        if out.last().is_some_and(|l| !is_op(l) && !l.ends_with('(')) && !tok.starts_with(')') {
            out.push("AND".to_string());
        }
        let (open, rest) = tok.split_at(tok.len() - tok.trim_start_matches('(').len());
        let core = rest.trim_end_matches(')');
        let close = &rest[core.len()..];
        if core.is_empty() {
            if !open.is_empty() || !close.is_empty() {
                out.push(format!("{open}{close}"));
            }
            continue;
        }
        let already_spdx = (core.ends_with("-only") || core.ends_with("-or-later"))
            && core
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let id = if already_spdx {
            core.to_string()
        } else {
            short_name_to_spdx(core)
        };
        out.push(format!("{open}{id}{close}"));
    }
    while out.last().is_some_and(|l| is_op(l)) {
        out.pop();
    }
    let s = out.join(" ");
    // unbalanced parentheses make an invalid expression: drop them all
    let depth_ok = s.chars().try_fold(0i32, |d, c| match c {
        '(' => Some(d + 1),
        ')' if d == 0 => None,
        ')' => Some(d - 1),
        _ => Some(d),
    }) == Some(0);
    if depth_ok {
        s
    } else {
        s.replace(['(', ')'], "")
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Paragraphs as lists of (field, first-line value).
fn stanzas(text: &str) -> Vec<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':')
            && !k.contains(' ')
        {
            cur.push((k.trim(), v.trim()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A DEP-5 license short-name expression (`GPL-1+ or Artistic`) → SPDX expression.
fn expression(v: &str) -> Option<String> {
    let v = v.trim();
    // Free text on a License: line is not a short-name expression.
    if v.is_empty() || v.len() > MAX_EXPRESSION || v.split_whitespace().count() > 10 {
        return None;
    }
    // Split into terms on the `or` / `and` keywords (and `,` used as `and`).
    let mut out = String::new();
    let mut term: Vec<&str> = Vec::new();
    let mut ops: Vec<&str> = Vec::new();
    let mut terms: Vec<Vec<&str>> = Vec::new();
    for tok in v.split_whitespace() {
        let (tok, comma) = match tok.strip_suffix(',') {
            Some(t) => (t, true),
            None => (tok, false),
        };
        match tok.to_ascii_lowercase().as_str() {
            "or" | "and" if !term.is_empty() => {
                terms.push(std::mem::take(&mut term));
                ops.push(if tok.eq_ignore_ascii_case("or") {
                    "OR"
                } else {
                    "AND"
                });
            }
            _ => {
                if !tok.is_empty() {
                    term.push(tok);
                }
                if comma && !term.is_empty() {
                    terms.push(std::mem::take(&mut term));
                    ops.push("AND");
                }
            }
        }
    }
    if !term.is_empty() {
        terms.push(term);
    } else if !ops.is_empty() {
        ops.pop();
    }
    let mut mapped = Vec::new();
    for t in &terms {
        // Free text in a License: line is not a short name; skip such lines entirely.
        let with = t.iter().any(|w| w.eq_ignore_ascii_case("with"));
        if t.len() > if with { 5 } else { 2 } {
            return None;
        }
        mapped.push(term_to_spdx(t));
    }
    for (i, m) in mapped.iter().enumerate() {
        if i > 0 {
            out.push(' ');
            out.push_str(ops.get(i - 1).copied().unwrap_or("AND"));
            out.push(' ');
        }
        out.push_str(m);
    }
    (!out.is_empty()).then_some(out)
}

fn term_to_spdx(words: &[&str]) -> String {
    // `X with Y exception`
    if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("with")) {
        let base = words[..i].join(" ");
        let exc = words[i + 1..].join(" ").to_ascii_lowercase();
        let base_id = short_name_to_spdx(&base);
        let exc_id = EXCEPTIONS
            .iter()
            .copied()
            .find(|e| e.eq_ignore_ascii_case(&exc))
            .or(
                match exc
                    .trim_end_matches(" exception")
                    .trim_end_matches("-exception")
                {
                    "autoconf" if base_id.starts_with("GPL-3") => Some("Autoconf-exception-3.0"),
                    "autoconf" => Some("Autoconf-exception-2.0"),
                    "gcc" | "gcc-runtime" | "gcc runtime library" | "gcc-runtime-library"
                        if base_id.starts_with("GPL-2") =>
                    {
                        Some("GCC-exception-2.0")
                    }
                    "gcc" | "gcc-runtime" | "gcc runtime library" | "gcc-runtime-library" => {
                        Some("GCC-exception-3.1")
                    }
                    "bison" => Some("Bison-exception-2.2"),
                    "libtool" => Some("Libtool-exception"),
                    "classpath" => Some("Classpath-exception-2.0"),
                    "font" => Some("Font-exception-2.0"),
                    "llvm" => Some("LLVM-exception"),
                    _ => None,
                },
            );
        return match exc_id {
            Some(e) if !base_id.starts_with("LicenseRef-") => format!("{base_id} WITH {e}"),
            _ => license_ref(&words.join("-")),
        };
    }
    short_name_to_spdx(&words.join(" "))
}

/// One Debian short name → SPDX id (or `LicenseRef-…`).
pub fn short_name_to_spdx(name: &str) -> String {
    let n = name.trim().trim_end_matches(['.', ';']);
    let lower = n.to_ascii_lowercase();
    // GNU families: GPL-2+, GPLv2+, GPL-2.0+, LGPL-2.1, AGPL-3+, GFDL-1.3+.
    for (prefix, spdx) in [
        ("agpl", "AGPL"),
        ("lgpl", "LGPL"),
        ("gpl", "GPL"),
        ("gfdl", "GFDL"),
    ] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let rest = rest.trim_start_matches(['-', 'v', ' ']);
            let (ver, plus) = match rest.strip_suffix('+') {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let ver = ver.trim_end_matches(".0");
            let full = match (spdx, ver) {
                (_, "") => {
                    // No version: "any version".
                    return match spdx {
                        "GPL" => "GPL-1.0-or-later".into(),
                        "LGPL" => "LGPL-2.0-or-later".into(),
                        _ => license_ref(n),
                    };
                }
                ("GPL", "1" | "2" | "3") => format!("GPL-{ver}.0"),
                ("LGPL", "2" | "3") => format!("LGPL-{ver}.0"),
                ("LGPL", "2.1") => "LGPL-2.1".into(),
                ("AGPL", "1" | "3") => format!("AGPL-{ver}.0"),
                ("GFDL", "1.1" | "1.2" | "1.3") => format!("GFDL-{ver}"),
                _ => return license_ref(n),
            };
            return format!("{full}-{}", if plus { "or-later" } else { "only" });
        }
    }
    let id = match lower.as_str() {
        "expat" | "mit" | "mit/expat" => "MIT",
        "public-domain" | "public domain" | "pd" => "LicenseRef-public-domain",
        "apache-2" | "apache-2.0" | "apache 2.0" => "Apache-2.0",
        "apache-1.1" => "Apache-1.1",
        "bsd-2-clause" | "bsd-2" => "BSD-2-Clause",
        "bsd-3-clause" | "bsd-3" => "BSD-3-Clause",
        "bsd-4-clause" | "bsd-4" => "BSD-4-Clause",
        "bsd-0-clause" | "0bsd" => "0BSD",
        "isc" => "ISC",
        "zlib" => "Zlib",
        "x11" => "X11",
        "artistic" | "artistic-1" | "artistic-1.0" => "Artistic-1.0-Perl",
        "artistic-2" | "artistic-2.0" => "Artistic-2.0",
        "bsl-1.0" | "bsl-1" => "BSL-1.0",
        "cc0" | "cc0-1.0" => "CC0-1.0",
        "cc-by-3.0" => "CC-BY-3.0",
        "cc-by-4.0" => "CC-BY-4.0",
        "cc-by-sa-3.0" => "CC-BY-SA-3.0",
        "cc-by-sa-4.0" => "CC-BY-SA-4.0",
        "curl" => "curl",
        "ftl" => "FTL",
        "mpl-1.1" => "MPL-1.1",
        "mpl-2.0" | "mpl-2" => "MPL-2.0",
        "epl-1.0" => "EPL-1.0",
        "epl-2.0" => "EPL-2.0",
        "cddl-1.0" => "CDDL-1.0",
        "openssl" => "OpenSSL",
        "ssleay" => "SSLeay-standalone",
        "openldap-2.8" => "OLDAP-2.8",
        "psf-2" | "psf-2.0" | "python-2.0" => "Python-2.0",
        "fsfap" => "FSFAP",
        "fsful" => "FSFUL",
        "fsfullr" => "FSFULLR",
        "unicode-dfs-2016" => "Unicode-DFS-2016",
        "libpng" => "Libpng",
        "libpng-2.0" => "libpng-2.0",
        "ijg" => "IJG",
        "bzip2-1.0.6" => "bzip2-1.0.6",
        "tcl" => "TCL",
        "sleepycat" => "Sleepycat",
        "ofl-1.1" => "OFL-1.1",
        "wtfpl" => "WTFPL",
        "unlicense" => "Unlicense",
        "w3c" => "W3C",
        "sgi-b-2.0" => "SGI-B-2.0",
        "ntp" => "NTP",
        "mit-0" => "MIT-0",
        "beerware" => "Beerware",
        "gd" => "GD",
        "hpnd" => "HPND",
        "x11-distribute-modifications-variant" => "X11-distribute-modifications-variant",
        _ => return license_ref(n),
    };
    id.to_string()
}

/// `LicenseRef-` + the name with every character outside `[A-Za-z0-9.-]` turned into `-`.
pub fn license_ref(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    if s.is_empty() {
        "LicenseRef-unknown".to_string()
    } else {
        format!("LicenseRef-{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_names() {
        let table = [
            ("GPL-2+", "GPL-2.0-or-later"),
            ("GPL-2", "GPL-2.0-only"),
            ("GPLv3+", "GPL-3.0-or-later"),
            ("GPL-2.0+", "GPL-2.0-or-later"),
            ("GPL", "GPL-1.0-or-later"),
            ("LGPL-2.1+", "LGPL-2.1-or-later"),
            ("LGPLv2.1+", "LGPL-2.1-or-later"),
            ("LGPL-2", "LGPL-2.0-only"),
            ("LGPL-3+", "LGPL-3.0-or-later"),
            ("AGPL-3+", "AGPL-3.0-or-later"),
            ("GFDL-1.3+", "GFDL-1.3-or-later"),
            ("BSD-3-clause", "BSD-3-Clause"),
            ("BSD-3-Clause", "BSD-3-Clause"),
            ("Expat", "MIT"),
            ("Apache-2.0", "Apache-2.0"),
            ("public-domain", "LicenseRef-public-domain"),
            ("OpenLDAP-2.8", "OLDAP-2.8"),
            ("Artistic", "Artistic-1.0-Perl"),
            ("GPL-7", "LicenseRef-GPL-7"),
            ("BSD-BY-LC-NE", "LicenseRef-BSD-BY-LC-NE"),
            ("LGPLv3+_or_GPLv2+", "LicenseRef-LGPLv3-or-GPLv2"),
            ("permissive", "LicenseRef-permissive"),
        ];
        for (debian, spdx) in table {
            assert_eq!(short_name_to_spdx(debian), spdx, "{debian}");
        }
    }

    #[test]
    fn expressions() {
        assert_eq!(
            expression("GPL-1+ or Artistic").as_deref(),
            Some("GPL-1.0-or-later OR Artistic-1.0-Perl")
        );
        assert_eq!(
            expression("GPL-2+ with Autoconf exception").as_deref(),
            Some("GPL-2.0-or-later WITH Autoconf-exception-2.0")
        );
        assert_eq!(
            expression("BSL-1.0 and Jam").as_deref(),
            Some("BSL-1.0 AND LicenseRef-Jam")
        );
        assert_eq!(
            expression("BSD-3-clause, MIT").as_deref(),
            Some("BSD-3-Clause AND MIT")
        );
        assert_eq!(
            expression("Permission to use, copy, modify, and distribute this software"),
            None
        );
        assert_eq!(expression(""), None);
    }

    #[test]
    fn hostile_dep5_files_give_bounded_expressions() {
        let mut text = String::from("Format: x\n\n");
        for i in 0..10_000 {
            text.push_str(&format!("License: L{i} or M{i}\n\n"));
        }
        let e = debian_copyright_license(&text).unwrap();
        assert_eq!(e.split(" AND ").count(), MAX_TERMS, "{}", e.len());
        let long = format!(
            "Format: x\n\nLicense: {}\n\nLicense: MIT\n",
            "A".repeat(1 << 20)
        );
        assert_eq!(debian_copyright_license(&long).as_deref(), Some("MIT"));
    }

    #[test]
    fn not_dep5() {
        assert_eq!(
            debian_copyright_license("This is gawk, copyright FSF.\nLicense: GPL-3+\n"),
            None
        );
        assert_eq!(
            debian_copyright_license(
                "libc: see /usr/share/common-licenses/LGPL-2.1, /usr/share/common-licenses/GPL-2.\n\
                 and /usr/share/common-licenses/BSD"
            )
            .as_deref(),
            Some("BSD-3-Clause AND GPL-2.0-only AND LGPL-2.1-only")
        );
        assert_eq!(debian_copyright_license(""), None);
    }

    #[test]
    fn or_terms_are_parenthesized_when_combined() {
        let t = "Format: x\n\nFiles: *\nLicense: GPL-1+ or Artistic\n\nFiles: a\nLicense: Zlib\n\nLicense: Ignored-standalone\n Text.\n";
        assert_eq!(
            debian_copyright_license(t).as_deref(),
            Some(
                "(GPL-1.0-or-later OR Artistic-1.0-Perl) AND LicenseRef-Ignored-standalone AND Zlib"
            )
        );
    }

    #[test]
    fn apk_licenses() {
        assert_eq!(apk_license("MIT"), "MIT");
        assert_eq!(apk_license("MIT and BSD-2-Clause"), "MIT AND BSD-2-Clause");
        assert_eq!(apk_license("GPL-2.0-only"), "GPL-2.0-only");
        assert_eq!(
            apk_license("MPL-2.0 GPL-2.0-or-later"),
            "MPL-2.0 AND GPL-2.0-or-later"
        );
        assert_eq!(apk_license("(GPL-2.0 OR MIT)"), "(GPL-2.0-only OR MIT)");
        assert_eq!(
            apk_license("GPL-2.0-or-later WITH Bison-exception-2.2"),
            "GPL-2.0-or-later WITH Bison-exception-2.2"
        );
        assert_eq!(apk_license("(MIT AND"), "MIT");
        assert_eq!(apk_license("AND OR"), "");
    }

    proptest! {
        #[test]
        fn apk_license_never_panics(s in "[A-Za-z0-9() .+-]{0,60}") {
            let e = apk_license(&s);
            prop_assert!(!e.contains("AND AND") && !e.starts_with("AND"));
        }

        #[test]
        fn license_refs_are_valid_ids(s in "\\PC{0,40}") {
            let r = license_ref(&s);
            prop_assert!(r.starts_with("LicenseRef-"));
            prop_assert!(r["LicenseRef-".len()..].chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
        }

        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = debian_copyright_license(&format!("Format: x\n\n{s}"));
        }

        #[test]
        fn free_text_never_panics_and_gives_valid_terms(s in "(\\PC|/usr/share/common-licenses/){0,40}") {
            if let Some(e) = debian_copyright_license(&s) {
                for t in e.split(" AND ") {
                    prop_assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'), "{}", t);
                }
            }
        }
    }
}
