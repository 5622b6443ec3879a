//! The talk's Dockerfiles, each with its expected findings written by hand.

use whittle_report::Severity::{self, *};

fn findings(name: &str) -> Vec<(String, usize, Severity)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dockerfiles")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let found = whittle_lint::lint(name, &text).unwrap();
    for f in &found {
        assert_eq!(f.location.artifact.as_deref(), Some(name));
        assert!(f.fix.is_some(), "{f:?}");
        if let Some(e) = &f.evidence {
            assert!(!text.contains(e.trim_matches('…')) || e.chars().count() <= 7);
        }
    }
    found
        .into_iter()
        .map(|f| (f.rule, f.location.line.unwrap_or(0), f.severity))
        .collect()
}

fn expect(list: &[(&str, usize, Severity)]) -> Vec<(String, usize, Severity)> {
    list.iter()
        .map(|(r, l, s)| (r.to_string(), *l, *s))
        .collect()
}

#[test]
fn bloated() {
    assert_eq!(
        findings("bloated.Dockerfile"),
        expect(&[
            ("base-latest", 2, Medium),
            ("runs-as-root", 2, Medium),
            ("apt-get-upgrade", 3, Low),
            ("package-cache", 4, Low),
            ("toolchain-kept", 4, Medium),
            ("secret-removed-later", 5, Critical),
            ("env-secret", 8, Critical),
        ])
    );
}

#[test]
fn multistage_good() {
    assert_eq!(findings("multistage-good.Dockerfile"), expect(&[]));
}

#[test]
fn awk_go() {
    assert_eq!(
        findings("awk-go.Dockerfile"),
        expect(&[
            ("runs-as-root", 2, Medium),
            ("toolchain-kept", 2, Medium),
            ("arg-secret", 6, Medium),
        ])
    );
}

#[test]
fn awk_node() {
    assert_eq!(
        findings("awk-node.Dockerfile"),
        expect(&[
            ("package-cache", 3, Low),
            ("secret-file-copied", 5, High),
            ("package-cache", 6, Low),
            ("toolchain-kept", 8, Medium),
            ("add-url", 9, Medium),
            ("curl-pipe-shell", 10, High),
        ])
    );
}
