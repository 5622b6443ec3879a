//! dpkg status files and distroless `status.d` entries: real samples parse, and what we write
//! matches what distroless ships.

use std::path::{Path, PathBuf};

use whittle_deb::Version;
use whittle_deb::control::parse_stanzas;
use whittle_deb::status::{INSTALLED, status_d_entry, status_file};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn read(dir: &Path, rel: &str) -> String {
    let path = dir.join("installed-db/dpkg").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn distroless_entry_matches_sample() {
    let Some(dir) = fixtures() else { return };
    // The sample is a .deb control stanza as distroless wrote it for Debian 11 (without the
    // Status line that newer distroless, and we, insert after Package).
    let sample = read(&dir, "distroless-status.d/libsqlite3-0");
    let control = parse_stanzas("libsqlite3-0", &sample).unwrap();
    assert_eq!(control.len(), 1);
    let entry = status_d_entry(&control[0]);
    let expected = sample.replacen(
        "Package: libsqlite3-0\n",
        "Package: libsqlite3-0\nStatus: install ok installed\n",
        1,
    );
    assert_eq!(entry, expected);

    let back = parse_stanzas("status.d/libsqlite3-0", &entry).unwrap();
    assert_eq!(back.len(), 1);
    let names: Vec<&str> = back[0].fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "Package",
            "Status",
            "Source",
            "Version",
            "Architecture",
            "Maintainer",
            "Installed-Size",
            "Depends",
            "Breaks",
            "Section",
            "Priority",
            "Multi-Arch",
            "Homepage",
            "Description"
        ]
    );
    assert_eq!(back[0].get("Status"), Some(INSTALLED));
    for (k, v) in &control[0].fields {
        assert_eq!(back[0].get(k), Some(v.as_str()), "{k}");
    }
    // Writing the parsed entry again changes nothing.
    assert_eq!(status_d_entry(&back[0]), entry);
}

#[test]
fn real_status_files_parse() {
    let Some(dir) = fixtures() else { return };
    for (rel, count) in [
        ("debian-10-one-package.status", 1),
        ("grype-debian-match-coverage.status", 1),
        ("postgresql-third-party.status", 3),
        ("ubuntu-18.04-texlive.status", 357),
        ("status.d-samples/coreutils-relationships", 9),
        ("status.d-samples/deinstall", 2),
        ("status.d-samples/doc-examples", 16),
        ("status.d-samples/installed-size-4KB", 1),
        ("status.d-samples/libpam-runtime", 6),
        ("status.d-samples/multiple", 4),
        ("status.d-samples/single", 1),
        ("status.d-samples/empty", 1),
    ] {
        let text = read(&dir, rel);
        let stanzas = parse_stanzas(rel, &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stanzas.len(), count, "{rel}");
        for s in &stanzas {
            if let Some(v) = s.get("Version") {
                v.parse::<Version>()
                    .unwrap_or_else(|e| panic!("{rel}:{}: {e}", s.line));
            }
            for field in ["Depends", "Pre-Depends", "Recommends", "Suggests"] {
                if let Some(v) = s.get(field) {
                    whittle_deb::relation::parse_relations(v)
                        .unwrap_or_else(|e| panic!("{rel}:{}: {field}: {e}", s.line));
                }
            }
            // Our writer keeps every field of an installed package.
            let entry = status_d_entry(s);
            let back = &parse_stanzas("entry", &entry).unwrap()[0];
            for (k, v) in &s.fields {
                if !k.eq_ignore_ascii_case("Status") {
                    assert_eq!(back.get(k), Some(v.trim()), "{rel}: {k}");
                }
            }
        }
    }

    // Conffiles keep their layout (empty first line, indented entries).
    let text = read(&dir, "debian-10-one-package.status");
    let s = &parse_stanzas("status", &text).unwrap()[0];
    assert!(s
        .get_raw("Conffiles")
        .unwrap()
        .starts_with("\n /etc/apt/trusted.gpg.d/debian-archive-buster-automatic.gpg 9e93d0a43d3a60272034c15900e9df6f\n"));
    assert_eq!(s.get_lines("Conffiles").count(), 9);
    assert!(status_d_entry(s).contains("\nConffiles:\n /etc/apt/trusted.gpg.d/"));

    // The corrupt sample is rejected with its line.
    let e = parse_stanzas("corrupt", &read(&dir, "status.d-samples/corrupt")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("corrupt:5: line is neither a field"),
        "{e}"
    );
}

#[test]
fn texlive_status_round_trips_through_status_file() {
    let Some(dir) = fixtures() else { return };
    let text = read(&dir, "ubuntu-18.04-texlive.status");
    let stanzas = parse_stanzas("status", &text).unwrap();
    let written = status_file(&stanzas);
    let back = parse_stanzas("written", &written).unwrap();
    assert_eq!(back.len(), stanzas.len());
    let names: Vec<&str> = back.iter().map(|s| s.get("Package").unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(back.iter().all(|s| s.get("Status") == Some(INSTALLED)));
}

#[test]
fn host_dpkg_status_parses() {
    // This machine's own Debian 12 status file, when there is one.
    let Ok(text) = std::fs::read_to_string("/var/lib/dpkg/status") else {
        println!("SKIPPED: /var/lib/dpkg/status not found");
        return;
    };
    let stanzas = parse_stanzas("/var/lib/dpkg/status", &text).unwrap();
    assert!(!stanzas.is_empty());
    for s in &stanzas {
        let v = s.get("Version").unwrap_or("0");
        v.parse::<Version>()
            .unwrap_or_else(|e| panic!("line {}: {e}", s.line));
        for field in [
            "Depends",
            "Pre-Depends",
            "Breaks",
            "Conflicts",
            "Provides",
            "Replaces",
        ] {
            if let Some(v) = s.get(field) {
                whittle_deb::relation::parse_relations(v)
                    .unwrap_or_else(|e| panic!("line {}: {field}: {e}", s.line));
            }
        }
    }
}
