//! The conventions every command shares (issue 14): one `--platform` with one error when a
//! multi-platform image is read without it, syft's and trivy's names for formats and sources,
//! documented exit codes, one "unpacked size".

mod common;
use common::*;
use std::path::Path;

/// A two-architecture image (amd64, arm64) built by whittle from a hermetic repository, as an
/// OCI layout tagged `v1` and as an oci-archive.
fn two_arch_image(dir: &Path) -> (String, String) {
    let repo = make_repo_archs(
        &[
            TestPkg::new("app", "1.0", "Depends: lib"),
            TestPkg::new("lib", "2.0", ""),
        ],
        &["amd64", "arm64"],
    );
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [app]\narchs: [amd64, aarch64]\n",
        repo.line()
    );
    let cache = dir.join("cache");
    let layout = format!("oci:{}:v1", dir.join("multi").display());
    let archive = format!("oci-archive:{}", dir.join("multi.tar").display());
    build(dir, &cfg, &layout, &cache, &["-q"]);
    build(dir, &cfg, &archive, &cache, &["-q"]);
    (layout, archive)
}

/// An Alpine-only vulnerability database, enough for `scan` to open one.
fn tiny_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("db");
    let secdb = dir.join("secdb.json");
    std::fs::write(
        &secdb,
        r#"{"distroversion":"v3.10","reponame":"main","packages":[
{"pkg":{"name":"openssl","secfixes":{"1.1.1g-r0":["CVE-2020-1967"]}}}]}"#,
    )
    .unwrap();
    run(whittle()
        .args(["db", "import"])
        .arg(&secdb)
        .arg("--db")
        .arg(&db));
    db
}

#[test]
fn every_one_image_command_takes_platform_and_fails_the_same_way_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, archive) = two_arch_image(dir.path());
    let db = tiny_db(dir.path());
    let db = db.to_str().unwrap();
    for image in [&layout, &archive] {
        let commands: Vec<Vec<&str>> = vec![
            vec!["inspect", image],
            vec!["audit", image],
            vec!["sbom", image],
            vec!["scan", image, "--db", db],
            vec!["compare", image, "--db", db],
        ];
        let mut first: Option<String> = None;
        for args in &commands {
            let out = whittle().args(args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            let line = err
                .lines()
                .find(|l| l.starts_with("error: "))
                .unwrap_or_else(|| panic!("{args:?}: no error line in {err}"))
                .to_string();
            assert!(
                line.contains("choose one with --platform")
                    && line.contains("linux/amd64")
                    && line.contains("linux/arm64"),
                "{args:?}: {line}"
            );
            match &first {
                None => first = Some(line),
                Some(f) => assert_eq!(&line, f, "{args:?}: the same error everywhere"),
            }
        }
        // with --platform every command reads the one image
        for args in &commands {
            let mut cmd = whittle();
            cmd.args(args).args(["--platform", "linux/arm64"]);
            let (stdout, _) = run_both(&mut cmd);
            if args[0] == "sbom" {
                let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                let purls = doc.to_string();
                assert!(purls.contains("arch=arm64"), "{args:?}: {purls}");
                assert!(!purls.contains("arch=amd64"), "{args:?}: {purls}");
            }
            if args[0] == "inspect" {
                assert!(stdout.contains("linux/arm64"), "{stdout}");
            }
        }
        // a platform that is not there: the available ones are listed
        let err = run_fail(whittle().args(["sbom", image, "--platform", "linux/s390x"]));
        assert!(
            err.contains("linux/s390x") && err.contains("linux/amd64, linux/arm64"),
            "{err}"
        );
    }
    // a malformed platform is a usage error (exit 2)
    let out = whittle()
        .args(["sbom", &layout, "--platform", "linux"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OS/ARCH[/VARIANT]"));
}
