//! APK resolution rules on hand-written indexes: constraints, provides (`so:`, `cmd:`,
//! versioned and unversioned), provider priority, conflicts, install_if, pinned tags, and
//! failure explanations.

use whittle_apk::index::{IndexEntry, parse_apkindex_text};
use whittle_resolve::{
    ApkChosenReason, ApkRepository, ApkRequest, ApkResolution, ApkUniverse, ApkUniverseError,
    ResolveError, resolve_apk,
};

/// Parses an index text where records are separated by blank lines; `A:x86_64` is added to
/// records without an `A:` line.
fn index(text: &str) -> Vec<IndexEntry> {
    let mut out = String::new();
    for rec in text.trim().split("\n\n") {
        let rec: String = rec
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        out.push_str(&rec);
        if !rec.contains("\nA:") && !rec.starts_with("A:") {
            out.push_str("A:x86_64\n");
        }
        out.push('\n');
    }
    parse_apkindex_text("test", out.as_bytes()).unwrap()
}

fn req(atoms: &[&str]) -> ApkRequest {
    ApkRequest {
        packages: atoms.iter().map(|s| s.to_string()).collect(),
    }
}

/// `name-version` of each chosen package, sorted by name.
fn names(u: &ApkUniverse<'_>, res: &ApkResolution) -> Vec<String> {
    res.entries()
        .iter()
        .map(|&r| {
            let e = u.entry(r).unwrap();
            format!("{}-{}", e.name, e.version)
        })
        .collect()
}

fn solve(entries: &[IndexEntry], atoms: &[&str]) -> Result<Vec<String>, ResolveError> {
    let u = ApkUniverse::single(entries, "x86_64");
    resolve_apk(&u, &req(atoms)).map(|r| names(&u, &r))
}

fn ok(entries: &[IndexEntry], atoms: &[&str]) -> Vec<String> {
    solve(entries, atoms).unwrap_or_else(|e| panic!("{atoms:?}: {e}"))
}

fn err(entries: &[IndexEntry], atoms: &[&str]) -> String {
    match solve(entries, atoms) {
        Ok(v) => panic!("{atoms:?} resolved to {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn highest_version_and_constraint_operators() {
    let idx = index(
        "P:foo\nV:1.0-r0\n\nP:foo\nV:1.2-r0\n\nP:foo\nV:1.2.9-r1\n\nP:foo\nV:1.20-r0\n\n\
         P:foo\nV:2.0_rc1-r0\n\nP:foo\nV:2.0-r0",
    );
    let cases: &[(&str, &str)] = &[
        ("foo", "foo-2.0-r0"),
        ("foo<2", "foo-1.20-r0"), // 2.0_rc1 > 2: more components
        ("foo<2.0", "foo-2.0_rc1-r0"),
        ("foo<2.0_rc1", "foo-1.20-r0"),
        ("foo<=1.2-r0", "foo-1.2-r0"),
        ("foo=1.0-r0", "foo-1.0-r0"),
        ("foo>=1.20", "foo-2.0-r0"),
        ("foo>1.2.9-r1", "foo-2.0-r0"),
        ("foo~1.2", "foo-1.2.9-r1"),
        ("foo~1", "foo-1.20-r0"),
        ("foo<~1.2", "foo-1.2.9-r1"),
        ("foo>~2.0", "foo-2.0-r0"),
    ];
    for (atom, want) in cases {
        assert_eq!(ok(&idx, &[atom]), [*want], "{atom}");
    }
    // Two atoms on the same name narrow each other.
    assert_eq!(ok(&idx, &["foo<2.0", "foo>1.2"]), ["foo-2.0_rc1-r0"]);
    // `=1.2` is not `1.2-r0` (the revision is one more component).
    assert!(err(&idx, &["foo=1.2"]).contains("foo =1.2 is required"));
    let e = err(&idx, &["foo>2.0-r0"]);
    assert!(e.contains("foo >2.0-r0 is required, but only"), "{e}");
    assert!(e.contains("2.0-r0, 2.0_rc1-r0, 1.20-r0"), "{e}");
}

#[test]
fn so_and_cmd_provides_serve_dependencies() {
    let idx = index(
        "P:app\nV:1-r0\nD:so:libc.musl-x86_64.so.1 so:libz.so.1 cmd:sh\n\n\
         P:musl\nV:1.2.3-r2\np:so:libc.musl-x86_64.so.1=1\n\n\
         P:zlib\nV:1.2.12-r3\nD:so:libc.musl-x86_64.so.1\np:so:libz.so.1=1.2.12\n\n\
         P:busybox\nV:1.35.0-r17\nD:so:libc.musl-x86_64.so.1\n\
         p:/bin/sh cmd:busybox=1.35.0-r17 cmd:sh=1.35.0-r17",
    );
    assert_eq!(
        ok(&idx, &["app"]),
        [
            "app-1-r0",
            "busybox-1.35.0-r17",
            "musl-1.2.3-r2",
            "zlib-1.2.12-r3"
        ]
    );
    // Versioned requirement on a provided name compares the provided version.
    assert_eq!(
        ok(&idx, &["so:libz.so.1>=1.2"]),
        ["musl-1.2.3-r2", "zlib-1.2.12-r3"]
    );
    assert!(err(&idx, &["so:libz.so.1>=1.3"]).contains("1.2.12 (provided by zlib)"));
    // `cmd:sh=1.35.0-r17` and the unversioned `/bin/sh` (only provider: chosen).
    assert_eq!(
        ok(&idx, &["cmd:sh~1.35"]),
        ["busybox-1.35.0-r17", "musl-1.2.3-r2"]
    );
    assert_eq!(
        ok(&idx, &["/bin/sh"]),
        ["busybox-1.35.0-r17", "musl-1.2.3-r2"]
    );
    // Reasons name the dependency as written.
    let u = ApkUniverse::single(&idx, "x86_64");
    let res = resolve_apk(&u, &req(&["app"])).unwrap();
    let musl = res
        .packages
        .iter()
        .find(|c| u.entry(c.entry).unwrap().name == "musl")
        .unwrap();
    match &musl.reason {
        ApkChosenReason::Required { dependency, by } => {
            assert_eq!(dependency, "so:libc.musl-x86_64.so.1");
            assert_eq!(u.entry(*by).unwrap().name, "app");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        res.packages[0].reason,
        ApkChosenReason::Requested {
            request: "app".into()
        }
    );
}

#[test]
fn unversioned_provides_serve_only_unversioned_requirements() {
    let idx = index(
        "P:a\nV:1-r0\nD:virt>=1\n\n\
         P:b\nV:1-r0\nD:virt\n\n\
         P:novers\nV:5-r0\nk:10\np:virt\n\n\
         P:vers\nV:1-r0\np:virt=2",
    );
    // `virt>=1` can only be met by the versioned provides.
    assert_eq!(ok(&idx, &["a"]), ["a-1-r0", "vers-1-r0"]);
    // An unversioned requirement takes the unversioned provider with the higher priority.
    assert_eq!(ok(&idx, &["b"]), ["b-1-r0", "novers-5-r0"]);
    let e = err(&idx, &["virt>=3"]);
    assert!(e.contains("2 (provided by vers)"), "{e}");
    assert!(e.contains("an unversioned provides of novers"), "{e}");
}

#[test]
fn unversioned_provides_without_priority_need_a_choice() {
    let idx = index(
        "P:app\nV:1-r0\nD:virt\n\n\
         P:one\nV:1-r0\np:virt\n\n\
         P:two\nV:1-r0\np:virt",
    );
    let e = err(&idx, &["app"]);
    assert!(
        e.contains(
            "one 1-r0 does not qualify: it provides virt without a version or provider_priority"
        ),
        "{e}"
    );
    assert!(e.contains("request one by name"), "{e}");
    // Naming a provider in the world settles it; both providers may coexist.
    assert_eq!(ok(&idx, &["app", "two"]), ["app-1-r0", "two-1-r0"]);
    assert_eq!(ok(&idx, &["one", "two"]), ["one-1-r0", "two-1-r0"]);
    // A single unversioned provider is chosen automatically.
    let single = index("P:app\nV:1-r0\nD:virt\n\nP:one\nV:1-r0\np:virt");
    assert_eq!(ok(&single, &["app"]), ["app-1-r0", "one-1-r0"]);
}

#[test]
fn provider_priority_then_name_then_version() {
    let idx = index(
        "P:openrc\nV:0.44-r7\nD:ifupdown-any\n\n\
         P:ifupdown\nV:0.8-r0\nk:100\np:ifupdown-any\n\n\
         P:ifupdown-ng\nV:0.12-r0\nk:900\np:ifupdown-any\n\n\
         P:busybox-ifupdown\nV:1.35-r17\nk:200\np:ifupdown-any",
    );
    assert_eq!(
        ok(&idx, &["openrc"]),
        ["ifupdown-ng-0.12-r0", "openrc-0.44-r7"]
    );
    // Equal priority: by name.
    let idx = index(
        "P:app\nV:1-r0\nD:cmd:foo\n\n\
         P:zz\nV:9-r0\np:cmd:foo=9\n\n\
         P:aa\nV:1-r0\np:cmd:foo=1\n\n\
         P:mm\nV:1-r0\nk:1\np:cmd:foo=1",
    );
    assert_eq!(ok(&idx, &["app"]), ["app-1-r0", "mm-1-r0"]);
    let idx =
        index("P:app\nV:1-r0\nD:cmd:foo\n\nP:zz\nV:9-r0\np:cmd:foo=9\n\nP:aa\nV:1-r0\np:cmd:foo=1");
    assert_eq!(ok(&idx, &["app"]), ["aa-1-r0", "app-1-r0"]);
    // Same provider name: the highest provided version.
    let idx = index(
        "P:app\nV:1-r0\nD:so:libx.so.1\n\n\
         P:libx\nV:1-r0\np:so:libx.so.1=1\n\n\
         P:libx\nV:2-r0\np:so:libx.so.1=2",
    );
    assert_eq!(ok(&idx, &["app"]), ["app-1-r0", "libx-2-r0"]);
}

#[test]
fn real_package_beats_providers() {
    let idx = index(
        "P:app\nV:1-r0\nD:sh\n\n\
         P:sh\nV:1-r0\n\n\
         P:bash\nV:5-r0\nk:1000\np:sh=7",
    );
    assert_eq!(ok(&idx, &["app"]), ["app-1-r0", "sh-1-r0"]);
    // ... unless its version does not fit.
    let idx = index("P:app\nV:1-r0\nD:sh>=2\n\nP:sh\nV:1-r0\n\nP:bash\nV:5-r0\np:sh=7");
    assert_eq!(ok(&idx, &["app"]), ["app-1-r0", "bash-5-r0"]);
}

#[test]
fn versioned_provides_claim_the_name() {
    let idx = index(
        "P:libressl\nV:3-r0\np:so:libssl.so.1=1\n\n\
         P:openssl\nV:1-r0\np:so:libssl.so.1=1\n\n\
         P:sh\nV:1-r0\n\n\
         P:mksh\nV:1-r0\np:sh=1",
    );
    let e = err(&idx, &["libressl", "openssl"]);
    assert!(e.contains("conflicts with"), "{e}");
    // A package providing a name conflicts with the real package of that name.
    let e = err(&idx, &["sh=1-r0", "mksh"]);
    assert!(e.contains("conflicts with"), "{e}");
    // (A plain `sh` is already served by mksh's provides.)
    assert_eq!(ok(&idx, &["mksh", "sh"]), ["mksh-1-r0"]);
    // Two unversioned provides of a name coexist.
    let idx = index("P:x\nV:1-r0\np:virt\n\nP:y\nV:1-r0\np:virt");
    assert_eq!(ok(&idx, &["x", "y"]), ["x-1-r0", "y-1-r0"]);
    // An unversioned provides and a versioned one do not.
    let idx = index("P:x\nV:1-r0\np:virt\n\nP:y\nV:1-r0\np:virt=1");
    assert!(err(&idx, &["x", "y"]).contains("conflicts with"));
}

#[test]
fn conflicts_in_dependencies_and_world() {
    let idx = index(
        "P:a\nV:1-r0\nD:!b<2 c\n\n\
         P:b\nV:1-r0\n\nP:b\nV:3-r0\n\n\
         P:c\nV:1-r0\nD:b\n\n\
         P:d\nV:1-r0\nD:!c",
    );
    // a forbids b < 2; c's `b` takes b 3 anyway (highest), and b=1 is refused.
    assert_eq!(ok(&idx, &["a"]), ["a-1-r0", "b-3-r0", "c-1-r0"]);
    let e = err(&idx, &["a", "b=1-r0"]);
    assert!(e.contains("b 1-r0 conflicts with a 1-r0"), "{e}");
    assert!(err(&idx, &["d", "c"]).contains("conflicts with"));
    // A world conflict removes a candidate: the next provider is taken.
    let idx = index(
        "P:app\nV:1-r0\nD:cmd:sh\n\n\
         P:busybox\nV:1-r0\nk:100\np:cmd:sh=1\n\n\
         P:dash\nV:1-r0\np:cmd:sh=1",
    );
    assert_eq!(ok(&idx, &["app"]), ["app-1-r0", "busybox-1-r0"]);
    assert_eq!(ok(&idx, &["app", "!busybox"]), ["app-1-r0", "dash-1-r0"]);
    // A world conflict on a provided name hits every provider; the failure names the world.
    let e = err(&idx, &["app", "!cmd:sh"]);
    assert!(e.contains("conflicts with world (!cmd:sh)"), "{e}");
    // A versioned conflict does not hit an unversioned provides.
    let idx = index("P:x\nV:1-r0\np:virt\n\nP:virt2\nV:1-r0");
    assert_eq!(ok(&idx, &["x", "!virt<5"]), ["x-1-r0"]);
    assert!(err(&idx, &["x", "!virt"]).contains("conflicts with world"));
}

#[test]
fn install_if_adds_packages_to_a_fixpoint() {
    let idx = index(
        "P:foo\nV:1-r0\n\n\
         P:docs\nV:1-r0\n\n\
         P:foo-doc\nV:1-r0\ni:foo docs\nD:man\n\n\
         P:man\nV:2-r0\n\n\
         P:man-extra\nV:1-r0\ni:man foo-doc=1-r0\n\n\
         P:never\nV:1-r0\ni:foo missing\n\n\
         P:old\nV:1-r0\ni:foo<1\n\n\
         P:noconf\nV:1-r0\ni:foo !docs",
    );
    assert_eq!(ok(&idx, &["foo"]), ["foo-1-r0", "noconf-1-r0"]);
    assert_eq!(
        ok(&idx, &["foo", "docs"]),
        [
            "docs-1-r0",
            "foo-1-r0",
            "foo-doc-1-r0",
            "man-2-r0",
            "man-extra-1-r0"
        ]
    );
    let u = ApkUniverse::single(&idx, "x86_64");
    let res = resolve_apk(&u, &req(&["docs", "foo"])).unwrap();
    let reason = |name: &str| {
        res.packages
            .iter()
            .find(|c| u.entry(c.entry).unwrap().name == name)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(
        reason("foo-doc"),
        ApkChosenReason::InstallIf {
            condition: "foo docs".into()
        }
    );
    assert_eq!(
        reason("man-extra"),
        ApkChosenReason::InstallIf {
            condition: "man foo-doc=1-r0".into()
        }
    );
    assert!(matches!(reason("man"), ApkChosenReason::Required { .. }));
    assert!(res.install_if_skipped.is_empty());
}

#[test]
fn install_if_picks_the_best_version_and_skips_what_cannot_install() {
    let idx = index(
        "P:foo\nV:1-r0\n\n\
         P:foo-bash\nV:1-r0\ni:foo\n\n\
         P:foo-bash\nV:2-r0\ni:foo\n\n\
         P:foo-broken\nV:1-r0\ni:foo\nD:nothing-here\n\n\
         P:foo-bad\nV:1-r0\ni:foo\nD:!foo",
    );
    let u = ApkUniverse::single(&idx, "x86_64");
    let res = resolve_apk(&u, &req(&["foo"])).unwrap();
    assert_eq!(names(&u, &res), ["foo-1-r0", "foo-bash-2-r0"]);
    let skipped: Vec<&str> = res
        .install_if_skipped
        .iter()
        .map(|&r| u.entry(r).unwrap().name.as_str())
        .collect();
    assert_eq!(skipped, ["foo-bad", "foo-broken"]);
    // Deterministic.
    assert_eq!(res, resolve_apk(&u, &req(&["foo"])).unwrap());
}

#[test]
fn pinned_tags_restrict_and_prefer_repositories() {
    let main = index(
        "P:foo\nV:1-r0\nD:lib\n\n\
         P:lib\nV:1-r0\n\n\
         P:bar\nV:3-r0",
    );
    let edge = index(
        "P:foo\nV:2-r0\nD:lib>=2\n\n\
         P:lib\nV:2-r0\n\n\
         P:bar\nV:2-r0\n\n\
         P:newonly\nV:1-r0",
    );
    let u = ApkUniverse::new(
        &[
            ApkRepository::new(&main),
            ApkRepository::tagged(&edge, "edge"),
        ],
        "x86_64",
    )
    .unwrap();
    let run = |atoms: &[&str]| resolve_apk(&u, &req(atoms)).map(|r| names(&u, &r));
    // Untagged: only the untagged repository.
    assert_eq!(run(&["foo"]).unwrap(), ["foo-1-r0", "lib-1-r0"]);
    // Tagged: edge preferred; its dependency may come from edge too.
    assert_eq!(run(&["foo@edge"]).unwrap(), ["foo-2-r0", "lib-2-r0"]);
    // The pinned repository wins even over a higher version elsewhere.
    assert_eq!(run(&["bar@edge"]).unwrap(), ["bar-2-r0"]);
    assert_eq!(run(&["bar"]).unwrap(), ["bar-3-r0"]);
    // A version the pinned repository lacks falls back to the untagged one.
    assert_eq!(run(&["bar@edge>2-r0"]).unwrap(), ["bar-3-r0"]);
    // Only in edge: refused without the tag, with the way out in the message.
    let e = run(&["newonly"]).unwrap_err().to_string();
    assert!(
        e.contains("newonly 1-r0 does not qualify: it is only in repositories tagged @edge"),
        "{e}"
    );
    assert_eq!(run(&["newonly@edge"]).unwrap(), ["newonly-1-r0"]);
    // An unknown tag is an error that names it.
    let e = run(&["foo@testing"]).unwrap_err();
    assert!(
        matches!(&e, ResolveError::InvalidRequest { reason, .. } if reason.contains("@testing") && reason.contains("@edge")),
        "{e}"
    );
    let tags = u
        .repository_tags(resolve_apk(&u, &req(&["bar@edge"])).unwrap().entries()[0])
        .unwrap();
    assert_eq!(tags, [Some("edge")]);
}

#[test]
fn same_package_in_two_repositories_is_one_package() {
    let a = index("P:foo\nV:1-r0\nD:x");
    let b = index("P:foo\nV:1-r0\nD:y\n\nP:y\nV:1-r0");
    let u = ApkUniverse::new(
        &[ApkRepository::new(&a), ApkRepository::tagged(&b, "b")],
        "x86_64",
    )
    .unwrap();
    assert_eq!(u.len(), 2);
    // The first repository's entry wins (and its dependency `x` is missing).
    let e = resolve_apk(&u, &req(&["foo"])).unwrap_err().to_string();
    assert!(e.contains("no package named x"), "{e}");
    let tags = u
        .repository_tags(whittle_resolve::EntryRef { repo: 0, index: 0 })
        .unwrap();
    assert_eq!(tags, [None, Some("b")]);
}

#[test]
fn architecture_filter() {
    let idx = index(
        "P:app\nV:1-r0\nD:data armonly\n\n\
         P:data\nV:1-r0\nA:noarch\n\n\
         P:armonly\nV:1-r0\nA:aarch64\n\n\
         P:app2\nV:1-r0\nD:data",
    );
    assert_eq!(ok(&idx, &["app2"]), ["app2-1-r0", "data-1-r0"]);
    let e = err(&idx, &["app"]);
    assert!(
        e.contains("armonly does not qualify: only built for aarch64, not x86_64 or noarch"),
        "{e}"
    );
    let u = ApkUniverse::single(&idx, "aarch64");
    assert_eq!(u.len(), 2);
}

#[test]
fn failure_is_explained_as_a_chain() {
    let idx = index(
        "P:app\nV:1-r0\nD:mid\n\n\
         P:mid\nV:2-r0\nD:leaf>=5\n\n\
         P:leaf\nV:3-r0",
    );
    assert_eq!(
        err(&idx, &["app"]),
        "cannot satisfy \"leaf>=5\":\n\
         \x20 app 1-r0 (requested as \"app\")\n\
         \x20   requires \"mid\": mid 2-r0\n\
         \x20     requires \"leaf>=5\", but:\n\
         \x20       - leaf>=5: leaf >=5 is required, but only 3-r0 available"
    );
    assert_eq!(
        err(&idx, &["nope"]),
        "cannot satisfy \"nope\":\n\
         \x20 requested \"nope\", but:\n\
         \x20   - nope: no package named nope (nor one providing it)"
    );
    let ResolveError::Unsatisfiable(un) = solve(&idx, &["app"]).unwrap_err() else {
        panic!()
    };
    assert_eq!(un.chain.len(), 2);
    assert_eq!(un.requirement, "leaf>=5");
}

#[test]
fn invalid_requests_and_tags() {
    let idx = index("P:foo\nV:1-r0");
    for bad in ["foo>=", "foo>=1..2", "", "foo@", "fo o"] {
        let e = solve(&idx, &[bad]).unwrap_err();
        assert!(
            matches!(&e, ResolveError::InvalidRequest { request, .. } if request == bad),
            "{bad:?}: {e}"
        );
    }
    let e = ApkUniverse::new(&[ApkRepository::tagged(&idx, "bad tag")], "x86_64").unwrap_err();
    assert!(matches!(e, ApkUniverseError::InvalidTag { repo: 0, .. }));
    let tags: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
    let repos: Vec<ApkRepository<'_>> = tags
        .iter()
        .map(|t| ApkRepository::tagged(&idx, t))
        .collect();
    let e = ApkUniverse::new(&repos, "x86_64").unwrap_err();
    assert_eq!(e, ApkUniverseError::TooManyTags { count: 40 });
    assert!(e.to_string().contains("at most 31"));
}

#[test]
fn checksum_pinned_atoms() {
    let idx = index(
        "P:foo\nV:1-r0\nC:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\
         P:foo\nV:2-r0\nC:Q1//////////////////////////8=",
    );
    assert_eq!(
        ok(&idx, &["foo><Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="]),
        ["foo-1-r0"]
    );
    assert_eq!(ok(&idx, &["foo"]), ["foo-2-r0"]);
}
