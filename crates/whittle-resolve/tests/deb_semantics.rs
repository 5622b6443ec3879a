//! Debian resolution semantics on small hand-written indexes.

use std::collections::BTreeSet;

use whittle_deb::Package;
use whittle_deb::packages::parse_packages;
use whittle_resolve::{ChosenReason, DebRequest, DebUniverse, ResolveError, WaiveReason, resolve};

/// One stanza: `name version arch` plus extra field lines.
fn stanza(name: &str, version: &str, arch: &str, extra: &str) -> String {
    let mut s = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
         Filename: pool/{name}_{version}_{arch}.deb\nSize: 1\n\
         SHA256: {}\n",
        "0".repeat(64)
    );
    for line in extra.lines().map(str::trim).filter(|l| !l.is_empty()) {
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    s
}

fn index(stanzas: &[String]) -> Vec<Package> {
    parse_packages("test", &stanzas.concat()).unwrap()
}

fn req(names: &[&str]) -> DebRequest {
    DebRequest {
        packages: names.iter().map(|s| s.to_string()).collect(),
        exclude: BTreeSet::new(),
        waive_script_only: false,
    }
}

/// `name=version` of every chosen package, sorted by name.
fn chosen(pkgs: &[Package], r: &DebRequest) -> Vec<String> {
    let u = DebUniverse::new(pkgs, "amd64");
    let res = resolve(&u, r).unwrap_or_else(|e| panic!("{e}"));
    res.indices()
        .iter()
        .map(|&i| format!("{}={}", pkgs[i].name, pkgs[i].version))
        .collect()
}

fn failure(pkgs: &[Package], r: &DebRequest) -> String {
    let u = DebUniverse::new(pkgs, "amd64");
    match resolve(&u, r) {
        Ok(res) => panic!("expected a failure, got {:?}", res.indices()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn depends_and_pre_depends_with_reasons() {
    let p = index(&[
        stanza(
            "app",
            "1.0",
            "amd64",
            "Pre-Depends: libc6 (>= 2.30)\nDepends: data",
        ),
        stanza("libc6", "2.36-9", "amd64", ""),
        stanza("data", "1", "all", ""),
        stanza(
            "unrelated",
            "1",
            "all",
            "Essential: yes\nPriority: required",
        ),
    ]);
    assert_eq!(
        chosen(&p, &req(&["app"])),
        ["app=1.0", "data=1", "libc6=2.36-9"]
    );
    let u = DebUniverse::new(&p, "amd64");
    let res = resolve(&u, &req(&["app"])).unwrap();
    assert_eq!(
        res.packages[0].reason,
        ChosenReason::Requested {
            request: "app".into()
        }
    );
    assert_eq!(
        res.packages[2].reason,
        ChosenReason::Required {
            by: 0,
            relation: "libc6 (>= 2.30)".into()
        }
    );
}

#[test]
fn alternatives_in_written_order_unless_already_needed() {
    let p = index(&[
        stanza("app", "1", "amd64", "Depends: a | b"),
        stanza("a", "1", "amd64", ""),
        stanza("b", "1", "amd64", ""),
        stanza("app2", "1", "amd64", "Depends: a | b, needs-b"),
        stanza("needs-b", "1", "amd64", "Depends: b"),
    ]);
    assert_eq!(chosen(&p, &req(&["app"])), ["a=1", "app=1"]);
    assert_eq!(chosen(&p, &req(&["app2"])), ["app2=1", "b=1", "needs-b=1"]);
}

#[test]
fn package_manager_is_tried_last() {
    let p = index(&[
        stanza(
            "readline-common",
            "8.2",
            "all",
            "Depends: dpkg (>= 1.15.4) | install-info",
        ),
        stanza("dpkg", "1.21.23", "amd64", "Essential: yes\nDepends: tar"),
        stanza("tar", "1.34", "amd64", ""),
        stanza("install-info", "6.8", "amd64", ""),
    ]);
    assert_eq!(
        chosen(&p, &req(&["readline-common"])),
        ["install-info=6.8", "readline-common=8.2"]
    );
    // When only the package manager can serve, it is installed.
    let mut r = req(&["readline-common"]);
    r.exclude.insert("install-info".into());
    assert_eq!(
        chosen(&p, &r),
        ["dpkg=1.21.23", "readline-common=8.2", "tar=1.34"]
    );
}

#[test]
fn virtual_packages_one_and_several_providers() {
    let p = index(&[
        stanza("app", "1", "amd64", "Depends: awk"),
        stanza("mawk", "1.3", "amd64", "Provides: awk"),
        stanza("gawk", "5.2", "amd64", "Provides: awk"),
        stanza("only", "1", "amd64", "Depends: mta"),
        stanza("exim", "4", "amd64", "Provides: mta"),
        stanza("real", "1", "amd64", "Depends: both"),
        stanza("both", "2", "amd64", ""),
        stanza("aaa-provider", "1", "amd64", "Provides: both"),
    ]);
    // Several providers: by name.
    assert_eq!(chosen(&p, &req(&["app"])), ["app=1", "gawk=5.2"]);
    assert_eq!(chosen(&p, &req(&["only"])), ["exim=4", "only=1"]);
    // A real package of that name wins over providers.
    assert_eq!(chosen(&p, &req(&["real"])), ["both=2", "real=1"]);
    // A requested virtual name picks a provider; an already chosen provider is reused.
    assert_eq!(chosen(&p, &req(&["mawk", "app"])), ["app=1", "mawk=1.3"]);
}

#[test]
fn versioned_constraints_and_provides() {
    let p = index(&[
        stanza("lib", "1.0", "amd64", ""),
        stanza("lib", "2.0", "amd64", ""),
        stanza("lib", "3.0", "amd64", ""),
        stanza("old", "1", "amd64", "Depends: lib (<< 2.0)"),
        stanza("mid", "1", "amd64", "Depends: lib (= 2.0)"),
        stanza("new", "1", "amd64", "Depends: lib (>= 1.5)"),
        stanza("v", "1", "amd64", "Depends: virt (>= 2)"),
        stanza("unv-provider", "1", "amd64", "Provides: virt"),
        stanza("ver-provider", "1", "amd64", "Provides: virt (= 2.1)"),
        stanza("w", "1", "amd64", "Depends: virt (>= 3)"),
    ]);
    assert_eq!(chosen(&p, &req(&["old"])), ["lib=1.0", "old=1"]);
    assert_eq!(chosen(&p, &req(&["mid"])), ["lib=2.0", "mid=1"]);
    assert_eq!(chosen(&p, &req(&["new"])), ["lib=3.0", "new=1"]);
    assert_eq!(chosen(&p, &req(&["lib=2.0"])), ["lib=2.0"]);
    assert_eq!(chosen(&p, &req(&["lib<<3"])), ["lib=2.0"]);
    // Only a versioned Provides satisfies a versioned relation.
    assert_eq!(chosen(&p, &req(&["v"])), ["v=1", "ver-provider=1"]);
    // Two versions of one name are never installed together.
    assert!(failure(&p, &req(&["old", "new"])).contains("lib 3.0 cannot be installed"));
    let msg = failure(&p, &req(&["w"]));
    assert_eq!(
        msg,
        "cannot satisfy \"virt (>= 3)\":\n  \
         w 1 (requested as \"w\")\n    \
         requires \"virt (>= 3)\", but:\n      \
         - virt (>= 3): virt (>= 3) is required, but only an unversioned Provides of \
         unv-provider, 2.1 (provided by ver-provider) available"
    );
}

#[test]
fn conflicts_and_breaks_force_the_second_alternative() {
    let p = index(&[
        stanza("app", "1", "amd64", "Depends: x, a | b"),
        stanza("x", "1", "amd64", "Conflicts: a"),
        stanza("a", "1", "amd64", ""),
        stanza("b", "1", "amd64", ""),
        stanza("app2", "1", "amd64", "Depends: y, c | d"),
        stanza("y", "1", "amd64", ""),
        stanza("c", "1", "amd64", "Breaks: y (<< 2)"),
        stanza("d", "1", "amd64", ""),
        stanza("app3", "1", "amd64", "Depends: z, e | f"),
        stanza("z", "1", "amd64", "Provides: zz (= 1)"),
        stanza("e", "1", "amd64", "Conflicts: zz (<< 2)"),
        stanza("f", "1", "amd64", ""),
        // Provides + Conflicts on the same virtual name: no conflict with itself.
        stanza(
            "mta",
            "1",
            "amd64",
            "Provides: mail-transport\nConflicts: mail-transport",
        ),
    ]);
    assert_eq!(chosen(&p, &req(&["app"])), ["app=1", "b=1", "x=1"]);
    assert_eq!(chosen(&p, &req(&["app2"])), ["app2=1", "d=1", "y=1"]);
    assert_eq!(chosen(&p, &req(&["app3"])), ["app3=1", "f=1", "z=1"]);
    assert_eq!(chosen(&p, &req(&["mta"])), ["mta=1"]);
}

#[test]
fn conflict_failure_names_who_required_what() {
    let p = index(&[
        stanza("app", "1", "amd64", "Depends: x, a"),
        stanza("x", "1", "amd64", "Breaks: a"),
        stanza("a", "1", "amd64", ""),
    ]);
    assert_eq!(
        failure(&p, &req(&["app"])),
        "cannot satisfy \"a\":\n  \
         app 1 (requested as \"app\")\n    \
         requires \"a\", but:\n      \
         - a: a 1 conflicts with x 1 (required by app 1)"
    );
}

#[test]
fn exclude_never_installs_and_explains() {
    let p = index(&[
        stanza("gawk", "1:5.2.1-2", "amd64", "Pre-Depends: libreadline8"),
        stanza(
            "libreadline8",
            "8.2-1.3",
            "amd64",
            "Depends: readline-common",
        ),
        stanza(
            "readline-common",
            "8.2-1.3",
            "all",
            "Depends: dpkg (>= 1.15.4) | install-info",
        ),
        stanza("dpkg", "1.21.23", "amd64", ""),
        stanza("install-info", "6.8-6+b1", "amd64", ""),
    ]);
    let mut r = req(&["gawk"]);
    r.exclude = ["dpkg", "install-info"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Only excluded packages could meet readline-common's dependency: it is waived, and said so.
    let u = DebUniverse::new(&p, "amd64");
    let res = resolve(&u, &r).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = res.indices().iter().map(|&i| p[i].name.as_str()).collect();
    assert_eq!(names, ["gawk", "libreadline8", "readline-common"]);
    assert_eq!(res.waived.len(), 1);
    assert_eq!(p[res.waived[0].by].name, "readline-common");
    assert_eq!(res.waived[0].relation, "dpkg (>= 1.15.4) | install-info");
    // Excluding only one alternative takes the other.
    let mut r1 = req(&["gawk"]);
    r1.exclude.insert("install-info".into());
    let res = resolve(&u, &r1).unwrap_or_else(|e| panic!("{e}"));
    assert!(res.waived.is_empty());
    assert!(res.indices().iter().any(|&i| p[i].name == "dpkg"));
    // Excluding a requested package fails at the request.
    let mut r = req(&["dpkg"]);
    r.exclude.insert("dpkg".into());
    assert!(failure(&p, &r).starts_with("cannot satisfy \"dpkg\":\n  requested \"dpkg\", but:"));
}

#[test]
fn architectures() {
    let p = index(&[
        stanza(
            "app",
            "1",
            "amd64",
            "Depends: lib, data, armonly, cross [!amd64], native [amd64]",
        ),
        stanza("lib", "2", "arm64", ""),
        stanza("lib", "1", "amd64", ""),
        stanza("data", "1", "all", ""),
        stanza("armonly", "1", "arm64", ""),
        stanza("armonly", "1", "amd64", ""),
        stanza("native", "1", "amd64", ""),
        stanza(
            "tool",
            "1",
            "amd64",
            "Depends: python3:any, helper:native, qual:amd64",
        ),
        stanza("python3", "3.11", "amd64", "Multi-Arch: allowed"),
        stanza("helper", "1", "amd64", ""),
        stanza("qual", "1", "amd64", ""),
        stanza("bad", "1", "amd64", "Depends: perlish:any"),
        stanza("perlish", "1", "amd64", "Multi-Arch: foreign"),
        stanza("nope", "1", "amd64", "Depends: lib:arm64"),
        stanza("missing", "1", "amd64", "Depends: armonly2"),
        stanza("armonly2", "1", "arm64", ""),
    ]);
    assert_eq!(
        chosen(&p, &req(&["app"])),
        ["app=1", "armonly=1", "data=1", "lib=1", "native=1"]
    );
    assert_eq!(
        chosen(&p, &req(&["tool"])),
        ["helper=1", "python3=3.11", "qual=1", "tool=1"]
    );
    assert!(
        failure(&p, &req(&["bad"]))
            .ends_with("- perlish:any: perlish 1 does not qualify: perlish:any needs a package with Multi-Arch: allowed"),
    );
    assert!(failure(&p, &req(&["nope"])).ends_with(
        "- lib:arm64: lib does not qualify: only amd64 and all packages are considered"
    ));
    assert!(
        failure(&p, &req(&["missing"]))
            .ends_with("- armonly2: armonly2 does not qualify: only built for arm64, not amd64")
    );
}

#[test]
fn duplicates_first_given_wins_and_highest_version() {
    let mut first = stanza("lib", "1.0", "amd64", "");
    first = first.replace("pool/lib_1.0_amd64.deb", "pool/first.deb");
    let p = index(&[
        first,
        stanza("lib", "1.0", "amd64", ""),
        stanza("lib", "0.9", "amd64", ""),
    ]);
    let u = DebUniverse::new(&p, "amd64");
    assert_eq!(u.len(), 2);
    let res = resolve(&u, &req(&["lib"])).unwrap();
    assert_eq!(res.indices(), [0]);
    assert_eq!(p[0].filename, "pool/first.deb");
}

#[test]
fn invalid_requests() {
    let p = index(&[stanza("a", "1", "amd64", "")]);
    let u = DebUniverse::new(&p, "amd64");
    for bad in ["", "a b", "-a", "a=", "a~1", "a=>1", "a==1"] {
        let err = resolve(&u, &req(&[bad])).unwrap_err();
        assert!(
            matches!(err, ResolveError::InvalidRequest { .. }),
            "{bad}: {err}"
        );
    }
    assert_eq!(resolve(&u, &req(&[])).unwrap().packages, vec![]);
}

/// A synthetic index shaped like Debian 12's packages around dpkg, debconf and install-info
/// (relations as Debian writes them).
fn script_only_index() -> Vec<Package> {
    index(&[
        stanza(
            "python3-minimal",
            "3.11.2-1+b1",
            "amd64",
            "Pre-Depends: python3.11-minimal\nDepends: dpkg (>= 1.13.20)",
        ),
        stanza("python3.11-minimal", "3.11.2-6", "amd64", "Depends: libc6"),
        stanza("libc6", "2.36-9", "amd64", ""),
        stanza("dpkg", "1.21.23", "amd64", "Depends: tar (>= 1.28-1)"),
        stanza("tar", "1.34+dfsg-1.2", "amd64", ""),
        stanza(
            "tzdata",
            "2024a-0",
            "all",
            "Depends: debconf (>= 0.5) | debconf-2.0",
        ),
        stanza("debconf", "1.5.82", "all", "Provides: debconf-2.0"),
        stanza(
            "debconf-utils",
            "1.5.82",
            "all",
            "Depends: debconf (= 1.5.82)",
        ),
        stanza(
            "readline-common",
            "8.2-1.3",
            "all",
            "Depends: dpkg (>= 1.15.4) | install-info",
        ),
        stanza("install-info", "6.8-6+b1", "amd64", "Depends: libc6"),
        stanza(
            "libdpkg-perl",
            "1.21.23",
            "all",
            "Depends: dpkg (>= 1.18.11)",
        ),
        stanza("base-files", "12.4", "amd64", "Pre-Depends: awk"),
        stanza("mawk", "1.3.4", "amd64", "Provides: awk\nDepends: libc6"),
        stanza(
            "openjdk-17-jre-headless",
            "17.0.11",
            "amd64",
            "Depends: util-linux (>= 2.26.2-4), libc6",
        ),
        stanza("util-linux", "2.38.1", "amd64", "Depends: libc6"),
        stanza("sysstat-like", "1.0", "amd64", "Depends: util-linux"),
        stanza(
            "perl-module",
            "1.0",
            "amd64",
            "Depends: perl-base (>= 5.36)",
        ),
        stanza(
            "perl-base",
            "5.36.0",
            "amd64",
            "Pre-Depends: dpkg (>= 1.17.17)",
        ),
        stanza("picker", "1.0", "all", "Depends: install-info | mawk"),
    ])
}

fn waiving(names: &[&str]) -> DebRequest {
    DebRequest {
        waive_script_only: true,
        ..req(names)
    }
}

/// `by: relation` of every waived dependency, and the table entries named as the reason.
fn waivers(pkgs: &[Package], r: &DebRequest) -> Vec<String> {
    let u = DebUniverse::new(pkgs, "amd64");
    let res = resolve(&u, r).unwrap_or_else(|e| panic!("{e}"));
    res.waived
        .iter()
        .map(|w| {
            let why = match &w.reason {
                WaiveReason::Excluded => "excluded".to_string(),
                WaiveReason::ScriptOnly(entries) => {
                    entries.iter().map(|e| e.name).collect::<Vec<_>>().join("+")
                }
            };
            format!("{}: {} [{why}]", pkgs[w.by].name, w.relation)
        })
        .collect()
}

#[test]
fn script_only_dependencies_are_waived_by_default() {
    let p = script_only_index();
    let r = waiving(&["python3-minimal", "tzdata", "readline-common", "base-files"]);
    assert_eq!(
        chosen(&p, &r),
        [
            "base-files=12.4",
            "libc6=2.36-9",
            "python3-minimal=3.11.2-1+b1",
            "python3.11-minimal=3.11.2-6",
            "readline-common=8.2-1.3",
            "tzdata=2024a-0",
        ]
    );
    assert_eq!(
        waivers(&p, &r),
        [
            "base-files: awk [awk]",
            "python3-minimal: dpkg (>= 1.13.20) [dpkg]",
            "readline-common: dpkg (>= 1.15.4) | install-info [dpkg+install-info]",
            "tzdata: debconf (>= 0.5) | debconf-2.0 [debconf+debconf-2.0]",
        ]
    );
    // The reason says what the scripts use it for.
    let u = DebUniverse::new(&p, "amd64");
    let res = resolve(&u, &r).unwrap();
    let text = res.waived[1].reason.to_string();
    assert!(
        text.starts_with(
            "which only maintainer scripts use (whittle runs none): dpkg: the package manager"
        ),
        "{text}"
    );
    // An entry limited to some dependers applies to them only: the JRE's util-linux (a
    // mountpoint call in its postinst) is waived, another package's is not.
    let r = waiving(&["openjdk-17-jre-headless", "sysstat-like"]);
    assert_eq!(
        chosen(&p, &r),
        [
            "libc6=2.36-9",
            "openjdk-17-jre-headless=17.0.11",
            "sysstat-like=1.0",
            "util-linux=2.38.1",
        ]
    );
    assert_eq!(waivers(&p, &r), Vec::<String>::new());
    assert_eq!(
        waivers(&p, &waiving(&["openjdk-17-jre-headless"])),
        ["openjdk-17-jre-headless: util-linux (>= 2.26.2-4) [util-linux]"]
    );
    // A dependency with a real alternative takes it, even when the script-only one comes first.
    assert_eq!(
        chosen(&p, &waiving(&["picker"])),
        ["libc6=2.36-9", "mawk=1.3.4", "picker=1.0"]
    );
}

#[test]
fn a_named_script_only_package_is_installed_and_met_as_usual() {
    let p = script_only_index();
    let r = waiving(&["python3-minimal", "dpkg", "tzdata", "debconf"]);
    assert_eq!(
        chosen(&p, &r),
        [
            "debconf=1.5.82",
            "dpkg=1.21.23",
            "libc6=2.36-9",
            "python3-minimal=3.11.2-1+b1",
            "python3.11-minimal=3.11.2-6",
            "tar=1.34+dfsg-1.2",
            "tzdata=2024a-0",
        ]
    );
    assert_eq!(waivers(&p, &r), Vec::<String>::new());
    // The dependency is a requirement again: its version must be met.
    let old = index(&[
        stanza(
            "python3-minimal",
            "3.11.2-1+b1",
            "amd64",
            "Depends: dpkg (>= 1.13.20)",
        ),
        stanza("dpkg", "1.10", "amd64", ""),
    ]);
    let msg = failure(&old, &waiving(&["python3-minimal", "dpkg"]));
    assert!(msg.contains("dpkg (>= 1.13.20)"), "{msg}");
    // A virtual name is named too when its provider is requested.
    assert_eq!(
        chosen(&p, &waiving(&["tzdata", "debconf-2.0"])),
        ["debconf=1.5.82", "tzdata=2024a-0"]
    );
}

#[test]
fn switching_the_waiver_off_restores_the_full_closure() {
    let p = script_only_index();
    let names = ["python3-minimal", "tzdata", "readline-common", "base-files"];
    let r = req(&names);
    assert!(!r.waive_script_only);
    assert_eq!(
        chosen(&p, &r),
        [
            "base-files=12.4",
            "debconf=1.5.82",
            "dpkg=1.21.23",
            "libc6=2.36-9",
            "mawk=1.3.4",
            "python3-minimal=3.11.2-1+b1",
            "python3.11-minimal=3.11.2-6",
            "readline-common=8.2-1.3",
            "tar=1.34+dfsg-1.2",
            "tzdata=2024a-0",
        ]
    );
    assert_eq!(waivers(&p, &r), Vec::<String>::new());
    // Exclusions still waive what only they forbid.
    let mut r = req(&["readline-common"]);
    r.exclude = ["dpkg", "install-info"].map(String::from).into();
    assert_eq!(
        waivers(&p, &r),
        ["readline-common: dpkg (>= 1.15.4) | install-info [excluded]"]
    );
}

#[test]
fn a_script_only_package_another_package_really_needs_is_installed() {
    let p = script_only_index();
    // libdpkg-perl runs dpkg: its dependency is kept, and python3-minimal's is then met.
    let r = waiving(&["python3-minimal", "libdpkg-perl"]);
    assert_eq!(
        chosen(&p, &r),
        [
            "dpkg=1.21.23",
            "libc6=2.36-9",
            "libdpkg-perl=1.21.23",
            "python3-minimal=3.11.2-1+b1",
            "python3.11-minimal=3.11.2-6",
            "tar=1.34+dfsg-1.2",
        ]
    );
    assert_eq!(waivers(&p, &r), Vec::<String>::new());
    let u = DebUniverse::new(&p, "amd64");
    let res = resolve(&u, &r).unwrap();
    let dpkg = res
        .packages
        .iter()
        .find(|c| p[c.index].name == "dpkg")
        .unwrap();
    match &dpkg.reason {
        ChosenReason::Required { by, relation } => {
            assert_eq!(p[*by].name, "libdpkg-perl");
            assert_eq!(relation, "dpkg (>= 1.18.11)");
        }
        other => panic!("{other:?}"),
    }
    // debconf-utils runs debconf's tools: tzdata's dependency is met by the same debconf.
    let r = waiving(&["tzdata", "debconf-utils"]);
    assert_eq!(
        chosen(&p, &r),
        ["debconf=1.5.82", "debconf-utils=1.5.82", "tzdata=2024a-0"]
    );
    assert_eq!(waivers(&p, &r), Vec::<String>::new());
    // perl-base is not script-only (whoever declares it ships Perl code); the package manager
    // it pre-depends on for its own scripts is.
    let r = waiving(&["perl-module"]);
    assert_eq!(chosen(&p, &r), ["perl-base=5.36.0", "perl-module=1.0"]);
    assert_eq!(waivers(&p, &r), ["perl-base: dpkg (>= 1.17.17) [dpkg]"]);
}
