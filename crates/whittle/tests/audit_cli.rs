//! `whittle audit` and `whittle inspect` end to end: the talk's secret image (built here with
//! whittle's own writer), fixture images, output formats and exit codes.

#[path = "../../whittle-inspect/tests/common/mod.rs"]
mod image;

use std::process::Command;

fn whittle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_whittle"))
}

/// A temp dir holding the secret image at `img` (reference `oci:img:test` from the dir).
fn secret_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    image::secret_image(&d.path().join("img"));
    d
}

fn out(cmd: &mut Command) -> (i32, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn audit_text_of_the_secret_image() {
    let d = secret_dir();
    let (code, stdout, stderr) = out(whittle()
        .current_dir(d.path())
        .args(["audit", "oci:img:test"]));
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("audit_secret_image_text", stdout);
}

#[test]
fn fail_on_exit_codes() {
    let d = secret_dir();
    let run = |extra: &[&str]| {
        let mut c = whittle();
        c.current_dir(d.path())
            .args(["audit", "oci:img:test"])
            .args(extra);
        out(&mut c).0
    };
    assert_eq!(run(&["--fail-on", "high"]), 3);
    assert_eq!(run(&["--fail-on", "critical", "--format", "json"]), 3);
    assert_eq!(run(&[]), 0);
    // a clean non-root image passes --fail-on medium
    let clean = tempfile::tempdir().unwrap();
    image::write_image(
        &clean.path().join("img"),
        whittle_oci::ContainerConfig {
            user: Some("65532".into()),
            ..Default::default()
        },
        vec![],
        vec![image::layer(image::tar(&[image::E::File(
            "app", b"x", 0o755,
        )]))],
    );
    let (code, _, stderr) = out(whittle().current_dir(clean.path()).args([
        "audit",
        "oci:img:test",
        "--fail-on",
        "medium",
    ]));
    assert_eq!(code, 0, "{stderr}");
    // errors exit 1 and say what is wrong
    let (code, _, stderr) = out(whittle().args(["audit", "oci:/nonexistent/layout"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/layout"), "{stderr}");
    let (code, _, stderr) = out(whittle().args(["audit", "oci:x", "--fail-on", "severe"]));
    assert_eq!(code, 2, "clap usage error: {stderr}");
}

#[test]
fn sarif_and_json_parse() {
    let d = secret_dir();
    let (code, stdout, _) =
        out(whittle()
            .current_dir(d.path())
            .args(["audit", "oci:img:test", "--format", "sarif"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "hidden-secret"));
    assert!(results.iter().any(|r| r["ruleId"] == "env-secret"));
    assert!(
        !stdout.contains("MIIEowIBAAKCAQEA"),
        "no secret in the output"
    );

    let (_, stdout, _) =
        out(whittle()
            .current_dir(d.path())
            .args(["audit", "oci:img:test", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["summary"]["critical"].as_u64().unwrap() >= 2);
    let f = v["findings"].as_array().unwrap();
    assert!(f.iter().any(|f| f["rule"] == "runs-as-root"));
}

#[test]
fn inspect_json_of_the_secret_image() {
    let d = secret_dir();
    let (code, stdout, stderr) =
        out(whittle()
            .current_dir(d.path())
            .args(["inspect", "oci:img:test", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["layers"][1]["removed"][1], "/app/secret.pem");
    assert_eq!(v["config"]["entrypoint"][0], "/app/server");
    assert_eq!(v["efficiency"]["final_bytes"], 12);
}

#[test]
fn inspect_text_of_the_dive_image() {
    let Some(f) = whittle_testutil::fixtures() else {
        return;
    };
    let (code, stdout, stderr) = out(whittle().current_dir(f.join("images")).args([
        "inspect",
        "docker-archive:docker-archive/dive-test-docker-image.tar",
        "--top",
        "5",
    ]));
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("inspect_dive_text", stdout);
}

#[test]
fn audit_text_of_the_dive_image() {
    let Some(f) = whittle_testutil::fixtures() else {
        return;
    };
    let (code, stdout, stderr) = out(whittle().current_dir(f.join("images")).args([
        "audit",
        "docker-archive:docker-archive/dive-test-docker-image.tar",
    ]));
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("audit_dive_text", stdout);
}
