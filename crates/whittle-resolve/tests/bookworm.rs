//! Resolution against the real Debian 12 amd64 index of the `bookworm-mini` fixture.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use whittle_deb::Package;
use whittle_resolve::{ChosenReason, DebRequest, DebUniverse, Resolution, resolve};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

/// The parsed index, shared by the tests of this file (parsed once).
fn load(root: &std::path::Path) -> &'static [Package] {
    static INDEX: OnceLock<Vec<Package>> = OnceLock::new();
    INDEX.get_or_init(|| parse_index(root))
}

fn parse_index(root: &std::path::Path) -> Vec<Package> {
    let path = root.join("dists/bookworm/main/binary-amd64/Packages.xz");
    let file = std::fs::File::open(&path).unwrap();
    let mut text = String::new();
    liblzma::read::XzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    whittle_deb::packages::parse_packages(&path.display().to_string(), &text).unwrap()
}

/// The names of the chosen packages, sorted by name.
fn chosen_names<'p>(res: &Resolution, packages: &'p [Package]) -> Vec<&'p str> {
    res.indices()
        .iter()
        .map(|&i| packages[i].name.as_str())
        .collect()
}

/// File names of every .deb under `pool/`.
fn pool_files(dir: &std::path::Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            pool_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "deb") {
            out.insert(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn gawk_closure_is_in_the_pool_and_has_no_shell_or_package_manager() {
    let Some(fx) = fixtures() else { return };
    let root = fx.join("deb/bookworm-mini");
    let packages = load(&root);
    assert!(packages.len() > 60_000, "{}", packages.len());

    let start = Instant::now();
    let universe = DebUniverse::new(packages, "amd64");
    let indexed = start.elapsed();
    let request = DebRequest {
        packages: vec!["gawk".into()],
        exclude: BTreeSet::new(),
        waive_script_only: false,
    };
    let res = resolve(&universe, &request).unwrap_or_else(|e| panic!("{e}"));
    let total = start.elapsed();
    println!(
        "indexing {} packages: {indexed:?}; indexing + resolving gawk: {total:?}",
        packages.len()
    );

    let names: Vec<&str> = chosen_names(&res, packages);
    assert_eq!(
        names,
        [
            "gawk",
            "gcc-12-base",
            "install-info",
            "libc6",
            "libgcc-s1",
            "libgmp10",
            "libmpfr6",
            "libreadline8",
            "libsigsegv2",
            "libtinfo6",
            "readline-common",
        ]
    );
    for bad in ["dpkg", "apt", "bash", "dash", "busybox", "perl-base", "tar"] {
        assert!(!names.contains(&bad), "{bad} in {names:?}");
    }

    // Every chosen package's .deb is in the fixture pool, at its Filename.
    let mut pool = BTreeSet::new();
    pool_files(&root.join("pool"), &mut pool);
    for &i in &res.indices() {
        let p = &packages[i];
        assert!(
            root.join(&p.filename).is_file(),
            "{} not in pool",
            p.filename
        );
        assert!(pool.contains(p.filename.rsplit('/').next().unwrap()));
    }

    // Reasons chain back to the request.
    let rc = res
        .packages
        .iter()
        .find(|c| packages[c.index].name == "install-info")
        .unwrap();
    match &rc.reason {
        ChosenReason::Required { by, relation } => {
            assert_eq!(packages[*by].name, "readline-common");
            assert_eq!(relation, "dpkg (>= 1.15.4) | install-info");
        }
        other => panic!("{other:?}"),
    }

    // Deterministic.
    assert_eq!(resolve(&universe, &request).unwrap(), res);

    // With install-info excluded, the dpkg alternative is taken: that closure is in the pool too.
    let mut with_dpkg = request.clone();
    with_dpkg.exclude.insert("install-info".into());
    let res = resolve(&universe, &with_dpkg).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = chosen_names(&res, packages);
    assert!(
        names.contains(&"dpkg") && names.contains(&"tar"),
        "{names:?}"
    );
    assert!(!names.contains(&"install-info"));
    for &i in &res.indices() {
        assert!(
            root.join(&packages[i].filename).is_file(),
            "{}",
            packages[i].filename
        );
    }

    // Timing of indexing and of the resolution alone.
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(DebUniverse::new(packages, "amd64").len(), universe.len());
    }
    println!("indexing (warm): {:?} per run", start.elapsed() / 5);
    let start = Instant::now();
    for _ in 0..10 {
        resolve(&universe, &request).unwrap();
    }
    println!("resolving gawk: {:?} per run", start.elapsed() / 10);
}

#[test]
fn larger_requests_resolve_and_are_consistent() {
    let Some(fx) = fixtures() else { return };
    let packages = load(&fx.join("deb/bookworm-mini"));
    let universe = DebUniverse::new(packages, "amd64");
    for names in [
        &["python3"][..],
        &["curl", "ca-certificates"],
        &["openssh-server"],
        &["postgresql-15"],
        &["nginx", "awk"],
    ] {
        let request = DebRequest {
            packages: names.iter().map(|s| s.to_string()).collect(),
            exclude: BTreeSet::new(),
            waive_script_only: false,
        };
        let start = Instant::now();
        let res = resolve(&universe, &request).unwrap_or_else(|e| panic!("{names:?}: {e}"));
        println!(
            "{names:?}: {} packages in {:?}",
            res.packages.len(),
            start.elapsed()
        );
        let chosen: Vec<&Package> = res.indices().iter().map(|&i| &packages[i]).collect();
        // At most one package per name.
        let distinct: BTreeSet<&str> = chosen.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(distinct.len(), chosen.len());
        // Every dependency is met by a chosen package (name or versioned provides).
        for p in &chosen {
            for dep in p.pre_depends.iter().chain(&p.depends) {
                let met = dep.iter().any(|rel| {
                    if !rel.arch_restrictions.is_empty() {
                        return true; // checked in the unit tests
                    }
                    chosen.iter().any(|q| {
                        (q.name == rel.name && rel.matches_version(&q.version))
                            || q.provides.iter().any(|pr| {
                                pr.name == rel.name
                                    && match (&rel.constraint, &pr.constraint) {
                                        (None, _) => true,
                                        (Some(_), Some((_, v))) => rel.matches_version(v),
                                        (Some(_), None) => false,
                                    }
                            })
                    })
                });
                assert!(met, "{names:?}: {} needs {dep:?}", p.name);
            }
        }
    }
}

/// Resolving over the lazy closure of the index (what the build does) gives exactly the answer
/// resolving over every package gives.
#[test]
fn closure_resolution_equals_full_resolution() {
    let Some(fx) = fixtures() else { return };
    let root = fx.join("deb/bookworm-mini");
    let packages = load(&root);
    let full = DebUniverse::new(packages, "amd64");
    let path = root.join("dists/bookworm/main/binary-amd64/Packages.xz");
    let mut text = String::new();
    liblzma::read::XzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let index = whittle_deb::index::PackagesIndex::new("Packages", &text).unwrap();
    assert_eq!(index.len(), packages.len());
    for names in [
        &["gawk"][..],
        &["python3"],
        &["curl", "ca-certificates"],
        &["openssh-server"],
        &["postgresql-15"],
        &["nginx", "awk"],
        &["bash", "coreutils", "apt"],
    ] {
        let request = DebRequest {
            packages: names.iter().map(|s| s.to_string()).collect(),
            exclude: BTreeSet::new(),
            waive_script_only: false,
        };
        let expected: Vec<String> = resolve(&full, &request)
            .unwrap()
            .indices()
            .iter()
            .map(|&i| format!("{}={}", packages[i].name, packages[i].version))
            .collect();
        let sub: Vec<Package> = whittle_deb::index::closure(std::slice::from_ref(&index), names)
            .unwrap()
            .into_iter()
            .map(|(_, _, p)| p)
            .collect();
        assert!(
            sub.len() < packages.len() / 10,
            "{names:?}: closure of {}",
            sub.len()
        );
        let got: Vec<String> = resolve(&DebUniverse::new(&sub, "amd64"), &request)
            .unwrap()
            .indices()
            .iter()
            .map(|&i| format!("{}={}", sub[i].name, sub[i].version))
            .collect();
        assert_eq!(got, expected, "{names:?}");
    }
}

/// On the real index: python3 with certificates and time zones carries no package manager,
/// debconf, perl, shell or tar once the dependencies that only maintainer scripts use are
/// waived; every waiver is reported, and without the waiver they are back.
#[test]
fn python3_without_script_only_dependencies() {
    let Some(fx) = fixtures() else { return };
    let packages = load(&fx.join("deb/bookworm-mini"));
    let universe = DebUniverse::new(packages, "amd64");
    let names = ["python3", "ca-certificates", "tzdata"];
    let request = DebRequest {
        packages: names.iter().map(|s| s.to_string()).collect(),
        exclude: BTreeSet::new(),
        waive_script_only: true,
    };
    let res = resolve(&universe, &request).unwrap_or_else(|e| panic!("{e}"));
    let chosen: BTreeSet<&str> = chosen_names(&res, packages).into_iter().collect();
    for bad in [
        "dpkg",
        "apt",
        "debconf",
        "perl-base",
        "perl",
        "tar",
        "dash",
        "bash",
        "install-info",
    ] {
        assert!(!chosen.contains(bad), "{bad} in {chosen:?}");
    }
    for good in [
        "python3",
        "python3.11",
        "libssl3",
        "openssl",
        "ca-certificates",
        "tzdata",
    ] {
        assert!(chosen.contains(good), "{good} not in {chosen:?}");
    }
    let waived: Vec<(String, String)> = res
        .waived
        .iter()
        .map(|w| (packages[w.by].name.clone(), w.relation.clone()))
        .collect();
    let by: BTreeSet<&str> = waived.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        by,
        [
            "ca-certificates",
            "python3-minimal",
            "readline-common",
            "tzdata"
        ]
        .into(),
        "{waived:?}"
    );
    assert!(
        res.waived
            .iter()
            .all(|w| matches!(w.reason, whittle_resolve::WaiveReason::ScriptOnly(_)))
    );
    // Without the waiver: the old closure, with dpkg and tar and debconf.
    let old = resolve(
        &universe,
        &DebRequest {
            waive_script_only: false,
            ..request.clone()
        },
    )
    .unwrap();
    let old: BTreeSet<&str> = chosen_names(&old, packages).into_iter().collect();
    assert!(old.is_superset(&chosen));
    for back in ["dpkg", "tar", "debconf"] {
        assert!(old.contains(back), "{back} not in {old:?}");
    }
    // A shell (the debug images' business) needs neither debianutils nor awk.
    let shells = resolve(
        &universe,
        &DebRequest {
            packages: vec!["bash".into(), "dash".into()],
            ..request.clone()
        },
    )
    .unwrap();
    let shells: Vec<&str> = chosen_names(&shells, packages);
    assert_eq!(
        shells,
        [
            "base-files",
            "bash",
            "dash",
            "gcc-12-base",
            "libc6",
            "libgcc-s1",
            "libtinfo6"
        ]
    );
    println!(
        "python3 + ca-certificates + tzdata: {} packages, {} without the waiver",
        chosen.len(),
        old.len()
    );
}
