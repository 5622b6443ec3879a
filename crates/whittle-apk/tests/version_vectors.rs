//! A table of APK version comparison, constraint and dependency vectors, derived by hand from
//! the rules of apk-tools' `version.c` (see the `whittle_apk::version` docs).

use std::cmp::Ordering::{self, Equal, Greater, Less};

use whittle_apk::version::{Constraint, Op, Version, parse_dependency};

fn v(s: &str) -> Version {
    Version::new_lenient(s)
}

const CMP: &[(&str, Ordering, &str)] = &[
    // numbers
    ("1.0", Less, "1.1"),
    ("1.0", Less, "1.0.1"),
    ("1.9", Less, "1.10"),
    ("1.0", Equal, "1.0"),
    ("01", Equal, "1"), // the first number is always numeric
    ("2", Greater, "1.99"),
    ("10", Greater, "9"),
    ("1.2.3", Less, "1.2.3.0"),
    ("1.0.0", Greater, "1.0"),
    ("20230101", Greater, "1.0"),
    ("1.0_pre20191002222144", Less, "1.0_pre20210530193627"), // 64-bit numbers
    // leading zeros after a dot: string comparison (Gentoo)
    ("1.01", Less, "1.1"),
    ("1.02", Greater, "1.010"),
    ("1.001", Less, "1.01"),
    ("1.05", Less, "1.5"),
    // letters
    ("1.0", Less, "1.0a"),
    ("1.0a", Less, "1.0b"),
    ("1.0z", Less, "1.1"),
    ("1.0a", Less, "1.0.1"),
    ("1.0a", Greater, "1.0_p1"),
    ("1.0a", Greater, "1.0_rc1"),
    // suffixes: alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p
    ("1.0_alpha", Less, "1.0_beta"),
    ("1.0_beta", Less, "1.0_pre"),
    ("1.0_pre", Less, "1.0_rc"),
    ("1.0_rc", Less, "1.0"),
    ("1.0", Less, "1.0_cvs"),
    ("1.0_cvs", Less, "1.0_svn"),
    ("1.0_svn", Less, "1.0_git"),
    ("1.0_git", Less, "1.0_hg"),
    ("1.0_hg", Less, "1.0_p"),
    ("1.0_p", Less, "1.0_p0"),
    ("1.0_p1", Less, "1.0_p2"),
    ("1.0_p9", Less, "1.0_p10"),
    ("1.0_alpha1", Less, "1.0_alpha2"),
    ("1.0_alpha10", Greater, "1.0_alpha9"),
    ("1.0_alpha_pre2", Less, "1.0_alpha"),
    ("1.0_p1", Greater, "1.0_alpha"),
    ("1.0_p1", Less, "1.0.1"),
    ("1.0_rc1", Less, "1.0-r0"),
    // revisions
    ("1.0", Less, "1.0-r0"),
    ("1.0-r0", Less, "1.0-r1"),
    ("1.0-r9", Less, "1.0-r10"),
    ("1.0-r1", Less, "1.0.1"),
    ("1.0-r1", Equal, "1.0-r01"),
    ("1.35.0-r17", Greater, "1.35.0-r9"),
    // commit hashes (string comparison, before the revision)
    ("1.0~abc", Less, "1.0~abd"),
    ("1.0~abc", Greater, "1.0"),
    ("1.0~abc", Greater, "1.0-r0"),
    ("1.0~abc-r1", Less, "1.0~abc-r2"),
    ("1.0~abc-r5", Less, "1.0~abd-r1"),
    // invalid versions: compared token by token up to the first invalid token
    ("1.0bc", Greater, "1.0"),
    ("1.0-foo", Equal, "1.0-bar"),
    ("1.0-foo", Less, "1.0"),
    ("1.0!", Less, "1.0_p1"),
    ("1.0_foo", Less, "1.0"),
    ("1.0.", Less, "1.0"),
    ("1.0-r", Less, "1.0"),
    ("", Less, "0"),
    ("6.8.0p2-r4", Equal, "6.8.0p2-r5"), // apk-tools 3 quirk: both invalid at the same token
];

#[test]
fn comparison_table() {
    assert!(CMP.len() >= 40);
    for &(a, want, b) in CMP {
        assert_eq!(v(a).cmp(&v(b)), want, "{a} vs {b}");
        assert_eq!(v(b).cmp(&v(a)), want.reverse(), "{b} vs {a}");
    }
}

#[test]
fn validity() {
    for ok in [
        "0",
        "1.0",
        "1.2.3.4.5",
        "1.0a",
        "1.0_alpha",
        "1.0_p",
        "1.0_rc1_p2",
        "1.0~a1b2-r3",
        "1.35.0-r17",
        "20230101",
        "1.0-r0",
        "01.02",
    ] {
        assert!(v(ok).is_valid(), "{ok}");
        assert!(ok.parse::<Version>().is_ok(), "{ok}");
    }
    for bad in [
        "",
        "a",
        "1.",
        ".1",
        "1..2",
        "1.0ab",
        "1.0a1",
        "1.0_foo",
        "1.0_",
        "1.0-",
        "1.0-r",
        "1.0-s1",
        "1.0~",
        "1.0~xyz",
        "1.0-r1-r2",
        "1.0 ",
        "v1.0",
        "1.0A",
        "1.0-r1_p1",
        "1.0~ab~cd",
    ] {
        assert!(!v(bad).is_valid(), "{bad:?}");
        assert!(bad.parse::<Version>().is_err(), "{bad:?}");
    }
}

#[test]
fn constraints() {
    let c = |op: Op, ver: &str| Constraint {
        op,
        version: ver.parse().unwrap(),
    };
    let cases: &[(Constraint, &str, bool)] = &[
        (c(Op::Less, "2"), "1.9", true),
        (c(Op::Less, "2"), "2", false),
        (c(Op::Less, "2"), "2_rc1", true),
        (c(Op::LessEq, "2"), "2", true),
        (c(Op::LessEq, "2"), "2-r0", false),
        (c(Op::Equal, "1.0"), "1.0", true),
        (c(Op::Equal, "1.0"), "1.0-r0", false),
        (c(Op::GreaterEq, "1.0"), "1.0-r0", true),
        (c(Op::Greater, "1.0"), "1.0", false),
        (c(Op::Greater, "1.0"), "1.0.1", true),
        (c(Op::Fuzzy, "1.2"), "1.2", true),
        (c(Op::Fuzzy, "1.2"), "1.2.9", true),
        (c(Op::Fuzzy, "1.2"), "1.2-r3", true),
        (c(Op::Fuzzy, "1.2"), "1.2_rc1", true),
        (c(Op::Fuzzy, "1.2"), "1.20", false),
        (c(Op::Fuzzy, "1.2"), "1.3", false),
        (c(Op::Fuzzy, "1.2.3"), "1.2", false),
        (c(Op::Fuzzy, "3.10"), "3.10.4-r0", true),
        (c(Op::LessFuzzy, "1.2"), "1.1", true),
        (c(Op::LessFuzzy, "1.2"), "1.2.5", true),
        (c(Op::LessFuzzy, "1.2"), "1.3", false),
        (c(Op::GreaterFuzzy, "1.2"), "1.2.5", true),
        (c(Op::GreaterFuzzy, "1.2"), "1.1.9", false),
        (c(Op::Checksum, "1.0"), "1.1", true),
        (c(Op::Checksum, "1.0"), "1.0", false),
    ];
    for (con, ver, want) in cases {
        assert_eq!(con.matches(&v(ver)), *want, "{ver} {con}");
    }
}

#[test]
fn dependency_atoms() {
    let d = parse_dependency("busybox").unwrap();
    assert_eq!(
        (d.name.as_str(), d.conflict, d.tag.as_deref()),
        ("busybox", false, None)
    );
    assert!(d.constraint.is_none());

    let d = parse_dependency("so:libc.musl-x86_64.so.1").unwrap();
    assert_eq!(d.name, "so:libc.musl-x86_64.so.1");
    assert_eq!(d.kind(), whittle_apk::version::DepKind::So);

    let d = parse_dependency("cmd:busybox=1.35.0-r17").unwrap();
    assert_eq!(d.kind(), whittle_apk::version::DepKind::Cmd);
    let c = d.constraint.as_ref().unwrap();
    assert_eq!((c.op, c.version.as_str()), (Op::Equal, "1.35.0-r17"));

    let d = parse_dependency("pc:zlib>=1.2").unwrap();
    assert_eq!(d.kind(), whittle_apk::version::DepKind::Pc);
    assert_eq!(d.constraint.unwrap().op, Op::GreaterEq);

    let d = parse_dependency("!foo").unwrap();
    assert!(d.conflict && d.constraint.is_none());
    let d = parse_dependency("!foo<2").unwrap();
    assert!(d.conflict);
    assert_eq!(d.constraint.unwrap().op, Op::Less);

    let d = parse_dependency("python3~3.10").unwrap();
    assert_eq!(d.constraint.unwrap().op, Op::Fuzzy);
    let d = parse_dependency("curl@edge>=8.0").unwrap();
    assert_eq!((d.name.as_str(), d.tag.as_deref()), ("curl", Some("edge")));
    assert_eq!(d.to_string(), "curl@edge>=8.0");
    let d = parse_dependency("foo@testing").unwrap();
    assert_eq!(d.tag.as_deref(), Some("testing"));
    let d = parse_dependency("foo><Q1iZ+C2JJdBlm2KKtAOkSkM7zZegY=").unwrap();
    let c = d.constraint.unwrap();
    assert_eq!(c.op, Op::Checksum);
    assert!(c.matches_checksum("Q1iZ+C2JJdBlm2KKtAOkSkM7zZegY="));
    assert!(!c.matches_checksum("Q1other"));
    let d = parse_dependency("/bin/sh").unwrap();
    assert_eq!(d.name, "/bin/sh");

    for bad in [
        "",
        "!",
        "foo<",
        "foo<=abc",
        "foo<>=1",
        "@edge",
        "foo@",
        "fo o",
        "foo=1.0-x",
        "foo=>",
        "foo=v2.4",
    ] {
        let e = parse_dependency(bad);
        assert!(e.is_err(), "{bad:?} accepted: {e:?}");
    }
    let lenient = whittle_apk::version::parse_dependency_lenient("pc:librtmp=v2.4").unwrap();
    assert!(lenient.broken);
    assert!(lenient.version_matches(&v("v2.4")));
}
