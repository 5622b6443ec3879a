//! `whittle lint`: text output (snapshot), JSON and SARIF that parse, exit codes, errors.

use assert_cmd::cargo::cargo_bin;
use std::path::PathBuf;
use std::process::{Command, Output};

fn dockerfiles() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../whittle-lint/tests/dockerfiles")
}

fn lint(args: &[&str]) -> Output {
    Command::new(cargo_bin("whittle"))
        .current_dir(dockerfiles())
        .env_remove("NO_COLOR")
        .arg("lint")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn text_output_groups_by_file_and_sorts_by_line() {
    let o = lint(&["bloated.Dockerfile"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "no colour when not a terminal");
    insta::assert_snapshot!("lint_bloated", out);
}

#[test]
fn fail_on_sets_exit_code_3() {
    let o = lint(&["bloated.Dockerfile", "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(3));
    let o = lint(&["multistage-good.Dockerfile", "--fail-on", "info"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("no findings"));
    let o = lint(&["awk-go.Dockerfile", "--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(0), "medium findings only");
}

#[test]
fn json_and_sarif_parse() {
    let o = lint(&[
        "--format",
        "json",
        "bloated.Dockerfile",
        "awk-node.Dockerfile",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tool"], "whittle lint");
    assert_eq!(v["summary"]["critical"], 2);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 13);
    assert!(
        findings
            .iter()
            .any(|f| f["location"]["artifact"] == "awk-node.Dockerfile"
                && f["rule"] == "curl-pipe-shell")
    );
    let o = lint(&["--format", "sarif", "bloated.Dockerfile"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    let region = &results[0]["locations"][0]["physicalLocation"]["region"];
    assert!(region["startLine"].as_u64().unwrap() >= 1);
    assert!(
        v["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len()
            >= 17
    );
}

#[test]
fn default_file_and_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(cargo_bin("whittle"))
        .current_dir(dir.path())
        .arg("lint")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot read Dockerfile"), "{err}");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM alpine:3.20\nUSER 65532\n",
    )
    .unwrap();
    let o = Command::new(cargo_bin("whittle"))
        .current_dir(dir.path())
        .args(["lint", "--fail-on", "info"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).starts_with("Dockerfile\n  no findings\n"));
}
