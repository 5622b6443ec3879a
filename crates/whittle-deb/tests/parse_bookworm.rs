//! Parses the complete real Debian 12 `Packages` index (amd64, main) and checks facts taken
//! from the data itself.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use whittle_deb::control::parse_stanzas;
use whittle_deb::packages::{MultiArch, parse_packages};
use whittle_deb::relation::format_relations;
use whittle_deb::{Op, Package, Relation, Version};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn packages_text(dir: &std::path::Path) -> String {
    let path = dir.join("deb/bookworm-mini/dists/bookworm/main/binary-amd64/Packages.xz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    liblzma::read::XzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn find<'a>(pkgs: &'a [Package], name: &str) -> &'a Package {
    pkgs.iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} not in Packages"))
}

#[test]
fn parses_all_of_bookworm_main_amd64() {
    let Some(dir) = fixtures() else { return };
    let text = packages_text(&dir);

    let start = Instant::now();
    let stanzas = parse_stanzas("Packages", &text).unwrap();
    let stanza_time = start.elapsed();
    assert_eq!(stanzas.len(), 63440);
    drop(stanzas);

    let start = Instant::now();
    let pkgs = parse_packages("Packages", &text).unwrap();
    println!(
        "parse_stanzas: {stanza_time:?}, parse_packages: {:?} for {} bytes",
        start.elapsed(),
        text.len()
    );
    assert_eq!(pkgs.len(), 63440);

    // gawk, as listed in the index.
    let gawk = find(&pkgs, "gawk");
    assert_eq!(gawk.version, v("1:5.2.1-2"));
    assert_eq!(gawk.version.epoch, 1);
    assert_eq!(gawk.architecture, "amd64");
    assert_eq!(gawk.multi_arch, MultiArch::Foreign);
    assert_eq!(gawk.filename, "pool/main/g/gawk/gawk_5.2.1-2_amd64.deb");
    assert_eq!(gawk.size, 672772);
    assert_eq!(
        gawk.sha256,
        "9cd63c1b35ff082092c221a23dcb167f72c4d1c3de3a42e11f16181f42ab3b55"
    );
    assert_eq!(gawk.provides, [Relation::new("awk")]);
    assert!(gawk.depends.is_empty());
    assert_eq!(
        format_relations(&gawk.pre_depends),
        "libc6 (>= 2.34), libgmp10 (>= 2:6.2.1+dfsg1), libmpfr6 (>= 3.1.3), libreadline8 (>= 6.0), libsigsegv2 (>= 2.9)"
    );
    assert_eq!(gawk.stanza.get("Suggests"), Some("gawk-doc"));
    assert_eq!(
        gawk.stanza.get("Tag"),
        Some(
            "devel::interpreter, implemented-in::c, interface::commandline,\n role::program, scope::utility, suite::gnu, use::converting,\n use::filtering, use::scanning, works-with::text"
        )
    );

    // libc6: source differs from the name, Multi-Arch same, long Breaks list.
    let libc = find(&pkgs, "libc6");
    assert_eq!(libc.source, "glibc");
    assert_eq!(libc.source_version, libc.version);
    assert_eq!(libc.multi_arch, MultiArch::Same);
    assert!(
        libc.breaks
            .iter()
            .any(|r| r.name == "busybox" && r.constraint == Some((Op::Lt, v("1.30.1-6"))))
    );

    // A binNMU: Source carries the version without the +bN suffix.
    let qt = find(&pkgs, "2048-qt");
    assert_eq!(qt.version, v("0.1.6-2+b2"));
    assert_eq!(qt.source, "2048-qt");
    assert_eq!(qt.source_version, v("0.1.6-2"));
    assert!(qt.source_version < qt.version);

    // Versioned Provides.
    let apt = find(&pkgs, "apt");
    assert!(apt.provides.iter().any(|r| {
        r.name == "apt-transport-https"
            && r.constraint
                .as_ref()
                .is_some_and(|(op, ver)| *op == Op::Eq && *ver == apt.version)
    }));

    // Essential packages and arch-qualified dependencies.
    let coreutils = find(&pkgs, "coreutils");
    assert!(coreutils.essential);
    assert_eq!(coreutils.priority.as_deref(), Some("required"));
    assert_eq!(pkgs.iter().filter(|p| p.essential).count(), 23);
    assert!(
        pkgs.iter()
            .flat_map(|p| p.depends.iter().flatten())
            .any(|r| r.name == "python3" && r.arch_qualifier.as_deref() == Some("any"))
    );

    // Every parsed relation writes back to text that parses to the same relations.
    for p in &pkgs {
        let text = format_relations(&p.depends);
        assert_eq!(
            whittle_deb::relation::parse_relations(&text).unwrap(),
            p.depends,
            "{}",
            p.name
        );
    }
    // Every version round-trips through Display and sorts consistently.
    let mut versions: Vec<&Version> = pkgs.iter().map(|p| &p.version).collect();
    versions.sort();
    for w in versions.windows(2) {
        assert!(w[0] <= w[1]);
    }
    for p in &pkgs {
        assert_eq!(p.version.to_string().parse::<Version>().unwrap(), p.version);
    }
}

#[test]
fn stanzas_write_back_identically() {
    let Some(dir) = fixtures() else { return };
    let text = packages_text(&dir);
    let stanzas = parse_stanzas("Packages", &text).unwrap();
    let written = whittle_deb::control::stanzas_to_text(&stanzas);
    // Written back and read again, every stanza is the same; the text differs from the
    // original only by trailing spaces the index has on a few lines (values are trimmed).
    let again = parse_stanzas("written", &written).unwrap();
    assert_eq!(again, stanzas);
    let trimmed: String = text
        .lines()
        .map(|l| l.trim_end().to_owned() + "\n")
        .collect();
    assert_eq!(written + "\n", trimmed);
}
