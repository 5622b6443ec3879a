//! Resolution against the real Alpine v3.16 x86_64 and Wolfi x86_64 indexes of the fixtures
//! (verified with their real signing keys first).

mod apk_check;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use whittle_apk::index::{IndexEntry, verify_index};
use whittle_apk::sign::Keyring;
use whittle_apk::version::parse_dependency;
use whittle_resolve::{
    ApkChosenReason, ApkRequest, ApkResolution, ApkUniverse, ResolveError, resolve_apk,
};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn load(index: &Path, keys: &Path) -> Vec<IndexEntry> {
    let bytes = std::fs::read(index).unwrap();
    let keyring = Keyring::from_dir(keys).unwrap();
    let idx = verify_index(&index.display().to_string(), &bytes, &keyring).unwrap();
    assert!(idx.verified_by.is_some());
    idx.entries
}

fn alpine(fx: &Path) -> &'static [IndexEntry] {
    static I: OnceLock<Vec<IndexEntry>> = OnceLock::new();
    I.get_or_init(|| {
        let base = fx.join("apk/alpine-real");
        load(
            &base.join("v3.16-main-x86_64/APKINDEX.tar.gz"),
            &base.join("keys"),
        )
    })
}

fn wolfi(fx: &Path) -> &'static [IndexEntry] {
    static I: OnceLock<Vec<IndexEntry>> = OnceLock::new();
    I.get_or_init(|| {
        let base = fx.join("apk/wolfi-real");
        load(&base.join("x86_64/APKINDEX.tar.gz"), &base.join("keys"))
    })
}

fn request(atoms: &[&str]) -> ApkRequest {
    ApkRequest {
        packages: atoms.iter().map(|s| s.to_string()).collect(),
    }
}

/// Resolves, checks consistency with the independent checker, and returns the names.
fn resolve_checked(u: &ApkUniverse<'_>, atoms: &[&str]) -> (ApkResolution, BTreeSet<String>) {
    let res = resolve_apk(u, &request(atoms)).unwrap_or_else(|e| panic!("{atoms:?}: {e}"));
    let chosen: Vec<&IndexEntry> = res.entries().iter().map(|&r| u.entry(r).unwrap()).collect();
    let deps: Vec<_> = atoms.iter().map(|a| parse_dependency(a).unwrap()).collect();
    apk_check::check(&chosen, &deps, u.arch()).unwrap_or_else(|e| panic!("{atoms:?}: {e}"));
    let names: BTreeSet<String> = chosen.iter().map(|e| e.name.clone()).collect();
    assert_eq!(names.len(), chosen.len(), "one package per name");
    (res, names)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn has(names: &BTreeSet<String>, want: &[&str]) {
    for w in want {
        assert!(names.contains(*w), "{w} missing from {names:?}");
    }
}

#[test]
fn alpine_busybox_is_busybox_and_musl() {
    let Some(fx) = fixtures() else { return };
    let u = ApkUniverse::single(alpine(&fx), "x86_64");
    assert_eq!(u.len(), 4929);
    let (res, names) = resolve_checked(&u, &["busybox"]);
    // busybox D: so:libc.musl-x86_64.so.1, which only musl provides; nothing else.
    assert_eq!(names, BTreeSet::from(["busybox".into(), "musl".into()]));
    let musl = res
        .packages
        .iter()
        .find(|c| u.entry(c.entry).unwrap().name == "musl")
        .unwrap();
    assert!(matches!(&musl.reason,
        ApkChosenReason::Required { dependency, .. } if dependency == "so:libc.musl-x86_64.so.1"));
    assert_eq!(
        u.entry(res.entries()[0]).unwrap().version.as_str(),
        "1.35.0-r17"
    );
}

#[test]
fn alpine_curl_closure() {
    let Some(fx) = fixtures() else { return };
    let u = ApkUniverse::single(alpine(&fx), "x86_64");
    let (_, names) = resolve_checked(&u, &["curl"]);
    // curl D: ca-certificates so:libc.musl… so:libcurl.so.4 so:libz.so.1; libcurl needs
    // brotli, nghttp2 and the OpenSSL 1.1 libraries; ca-certificates D: /bin/sh, which only
    // busybox provides; ssl_client then comes by install_if (busybox + libssl1.1) — the same
    // set `apk add curl` installs into an empty root.
    assert_eq!(
        names,
        set(&[
            "brotli-libs",
            "busybox",
            "ca-certificates",
            "curl",
            "libcrypto1.1",
            "libcurl",
            "libssl1.1",
            "musl",
            "nghttp2-libs",
            "ssl_client",
            "zlib",
        ])
    );
    println!("curl: {} packages: {names:?}", names.len());
}

#[test]
fn alpine_python3_closure() {
    let Some(fx) = fixtures() else { return };
    let u = ApkUniverse::single(alpine(&fx), "x86_64");
    let (_, names) = resolve_checked(&u, &["python3"]);
    // Every so: dependency of python3 has exactly one provider; gdbm and mpdecimal bring
    // libgcc/libstdc++, ncurses-libs brings ncurses-terminfo-base. No shell.
    assert_eq!(
        names,
        set(&[
            "expat",
            "gdbm",
            "libbz2",
            "libcrypto1.1",
            "libffi",
            "libgcc",
            "libssl1.1",
            "libstdc++",
            "mpdecimal",
            "musl",
            "ncurses-libs",
            "ncurses-terminfo-base",
            "python3",
            "readline",
            "sqlite-libs",
            "xz-libs",
            "zlib",
        ])
    );
    println!("python3: {} packages: {names:?}", names.len());
}

#[test]
fn alpine_base_uses_provider_priority_and_install_if() {
    let Some(fx) = fixtures() else { return };
    let u = ApkUniverse::single(alpine(&fx), "x86_64");
    let (res, names) = resolve_checked(&u, &["alpine-base"]);
    // The 14 packages of the alpine:3.16 image plus alpine-base, alpine-conf, openrc,
    // ifupdown-ng, busybox-suid, busybox-initscripts and mdev-conf.
    assert_eq!(
        names,
        set(&[
            "alpine-base",
            "alpine-baselayout",
            "alpine-baselayout-data",
            "alpine-conf",
            "alpine-keys",
            "apk-tools",
            "busybox",
            "busybox-initscripts",
            "busybox-suid",
            "ca-certificates-bundle",
            "ifupdown-ng",
            "libc-utils",
            "libcrypto1.1",
            "libssl1.1",
            "mdev-conf",
            "musl",
            "musl-utils",
            "openrc",
            "scanelf",
            "ssl_client",
            "zlib",
        ])
    );
    // openrc D: ifupdown-any — ifupdown-ng (k:900) over busybox-ifupdown (200), ifupdown (100).
    assert!(names.contains("ifupdown-ng"), "{names:?}");
    assert!(!names.contains("ifupdown") && !names.contains("busybox-ifupdown"));
    // ssl_client i: busybox=1.35.0-r17 libssl1.1 — both are in (apk-tools needs libssl1.1).
    let ssl = res
        .packages
        .iter()
        .find(|c| u.entry(c.entry).unwrap().name == "ssl_client")
        .expect("ssl_client added by install_if");
    assert_eq!(
        ssl.reason,
        ApkChosenReason::InstallIf {
            condition: "busybox=1.35.0-r17 libssl1.1".into()
        }
    );
    // Fixpoint: nothing left whose install_if is met and whose name is free.
    let chosen: Vec<&IndexEntry> = res.entries().iter().map(|&r| u.entry(r).unwrap()).collect();
    let skipped: BTreeSet<&str> = res
        .install_if_skipped
        .iter()
        .map(|&r| u.entry(r).unwrap().name.as_str())
        .collect();
    for e in alpine(&fx) {
        if apk_check::install_if_met(e, &chosen) && !names.contains(&e.name) {
            assert!(
                skipped.contains(e.name.as_str()),
                "{} should be installed",
                e.name
            );
        }
    }
    println!("alpine-base: {} packages: {names:?}", names.len());
}

#[test]
fn alpine_many_at_once_and_timing() {
    let Some(fx) = fixtures() else { return };
    let entries = alpine(&fx);
    let t = Instant::now();
    let u = ApkUniverse::single(entries, "x86_64");
    let build = t.elapsed();
    let atoms = [
        "busybox",
        "curl",
        "python3",
        "alpine-base",
        "git",
        "openssh",
    ];
    let (_, names) = resolve_checked(&u, &atoms);
    has(&names, &["git", "openssh", "ssl_client"]);
    // Warm timings (the universe is built once per index).
    let t = Instant::now();
    for a in ["busybox", "curl", "python3"] {
        resolve_apk(&u, &request(&[a])).unwrap();
    }
    let each = t.elapsed() / 3;
    // printed, not asserted: speed is measured in bench/, never in a timed test
    println!("universe: {build:?}, resolution: {each:?} each");
}

#[test]
fn alpine_failures_explain_themselves() {
    let Some(fx) = fixtures() else { return };
    let u = ApkUniverse::single(alpine(&fx), "x86_64");
    let e = resolve_apk(&u, &request(&["curl>=8"])).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("curl >=8 is required, but only 7.83.1-r4 available"),
        "{text}"
    );
    // A world conflict that the closure cannot avoid: musl is needed by everything.
    let e = resolve_apk(&u, &request(&["curl", "!musl"])).unwrap_err();
    assert!(matches!(e, ResolveError::Unsatisfiable(_)));
    let text = e.to_string();
    assert!(
        text.contains("musl 1.2.3-r2 conflicts with world (!musl)"),
        "{text}"
    );
    // Avoidable: `!ifupdown-ng` makes openrc take the next provider by priority.
    let (_, names) = resolve_checked(&u, &["alpine-base", "!ifupdown-ng"]);
    assert!(names.contains("busybox-ifupdown"), "{names:?}");
}

#[test]
fn wolfi_closures() {
    let Some(fx) = fixtures() else { return };
    let entries = wolfi(&fx);
    let u = ApkUniverse::single(entries, "x86_64");
    assert_eq!(u.len(), entries.len());
    let (_, names) = resolve_checked(&u, &["wolfi-base"]);
    // wolfi-base D: apk-tools busybox wolfi-keys; glibc provides so:libc.so.6.
    has(
        &names,
        &[
            "wolfi-base",
            "apk-tools",
            "busybox",
            "wolfi-keys",
            "glibc",
            "openssl",
            "zlib",
            "ca-certificates-bundle",
            "wolfi-baselayout",
        ],
    );
    let (_, names) = resolve_checked(&u, &["build-base"]);
    has(&names, &["gcc", "binutils", "make", "pkgconf", "glibc"]);
    println!("build-base: {names:?}");
    let (_, names) = resolve_checked(&u, &["python3"]);
    has(
        &names,
        &[
            "python3", "glibc", "openssl", "sqlite", "readline", "ncurses",
        ],
    );
    assert!(!names.contains("busybox"), "{names:?}");
    // A missing library is explained, not guessed.
    let e = resolve_apk(&u, &request(&["ca-certificates", "curl"])).unwrap_err();
    assert!(e.to_string().contains("no package named curl"), "{e}");
}
