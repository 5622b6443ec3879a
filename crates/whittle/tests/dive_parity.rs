//! `whittle inspect` against dive 0.13 (the real static binary `./dev peers` installs, run with
//! the network off, reading docker-archive tars without a container engine): on every
//! docker-archive fixture, the same efficiency, wasted bytes and per-path waste; for `.dive-ci`
//! thresholds on both sides of each image's own figures, `whittle inspect --ci` passes and fails
//! exactly when `dive --ci` does, rule by rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use whittle_testutil::peers;

fn whittle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_whittle"))
}

fn out(cmd: &mut Command) -> (i32, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// One docker-archive fixture: the plain tar dive reads (gunzipped into `work` when the fixture
/// is gzipped; dive reads only plain tars) and whittle's reference to the same image (the
/// archive's first image, which is the one dive reads).
struct Fixture {
    name: String,
    tar: PathBuf,
    reference: String,
}

fn fixtures(work: &Path) -> Option<Vec<Fixture>> {
    let dir = whittle_testutil::fixtures()?.join("images/docker-archive");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".tar") || n.ends_with(".tar.gz")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let tar = if name.ends_with(".gz") {
            let plain = work.join(name.trim_end_matches(".gz"));
            let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap());
            std::io::copy(&mut gz, &mut std::fs::File::create(&plain).unwrap()).unwrap();
            plain
        } else {
            f.clone()
        };
        let tags = first_image_tags(&tar);
        let reference = match tags {
            Some(t) => format!("docker-archive:{}:{t}", f.display()),
            None => format!("docker-archive:{}", f.display()),
        };
        out.push(Fixture {
            name,
            tar,
            reference,
        });
    }
    Some(out)
}

/// The first image's first tag when the archive's manifest.json lists several images.
fn first_image_tags(tar: &Path) -> Option<String> {
    let mut a = tar::Archive::new(std::fs::File::open(tar).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            let v: serde_json::Value = serde_json::from_reader(&mut e).unwrap();
            let images = v.as_array().unwrap();
            if images.len() < 2 {
                return None;
            }
            return images[0]["RepoTags"][0].as_str().map(str::to_string);
        }
    }
    None
}

fn inspect_json(reference: &str) -> serde_json::Value {
    let (code, stdout, stderr) = out(whittle().args([
        "inspect",
        reference,
        "--format",
        "json",
        "--top",
        "100000",
    ]));
    assert_eq!(code, 0, "{reference}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn efficiency_and_waste_equal_dives_on_every_docker_archive_fixture() {
    let work = tempfile::tempdir().unwrap();
    let Some(images) = fixtures(work.path()) else {
        return;
    };
    for img in &images {
        let w = tempfile::tempdir().unwrap();
        let Some(d) = peers::dive(&img.tar, w.path()) else {
            return;
        };
        let e = &inspect_json(&img.reference)["efficiency"];
        assert_eq!(e["score"].as_f64(), Some(d.efficiency), "{}", img.name);
        assert_eq!(e["wasted_bytes"].as_u64(), Some(d.wasted_bytes), "{}", img.name);
        assert_eq!(e["size_bytes"].as_u64(), Some(d.size_bytes), "{}", img.name);
        let ours: BTreeMap<String, (u64, u64)> = e["top_wasted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["path"].as_str().unwrap().to_string(),
                    (
                        p["references"].as_u64().unwrap(),
                        p["bytes"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(ours, d.paths, "{}", img.name);
    }
}

/// `.dive-ci` texts around an image's figures: each rule just at, above and below them, and
/// disabled, in dive's camelCase (the only spelling dive 0.13.1 reads from `.dive-ci`).
fn configs(e: &serde_json::Value) -> Vec<String> {
    let eff = e["score"].as_f64().unwrap();
    let wasted = e["wasted_bytes"].as_u64().unwrap();
    let user = e["user_wasted_ratio"].as_f64(); // null: no bytes above the first layer
    let mut out = vec![String::new()];
    for eff_t in [format!("{eff}"), format!("{}", (eff + 0.001).min(1.0)), format!("{}", (eff - 0.001).max(0.0))] {
        out.push(format!("rules:\n  lowestEfficiency: {eff_t}\n  highestWastedBytes: disabled\n  highestUserWastedPercent: disabled\n"));
    }
    let mut wasted_t = vec![wasted.to_string(), format!("{}", wasted + 1)];
    if wasted > 0 {
        wasted_t.push(format!("{}", wasted - 1));
        // dive's byte-size spelling: kB, rounded down and up
        wasted_t.push(format!("{}kB", wasted / 1000));
        wasted_t.push(format!("{} KB", wasted / 1000 + 1));
    }
    for t in wasted_t {
        out.push(format!("rules:\n  lowestEfficiency: disabled\n  highestWastedBytes: {t}\n  highestUserWastedPercent: disabled\n"));
    }
    let user_t = match user {
        Some(r) => vec![format!("{r}"), format!("{}", (r - 0.001).max(0.0)), format!("{}", (r + 0.001).min(1.0))],
        None => vec!["0".into(), "1".into()],
    };
    for t in user_t {
        out.push(format!("rules:\n  lowestEfficiency: {}\n  highestWastedBytes: disabled\n  highestUserWastedPercent: {t}\n", (eff - 0.01).max(0.0)));
    }
    out
}

/// The same rules in kebab-case.
fn kebab(config: &str) -> String {
    config
        .replace("lowestEfficiency", "lowest-efficiency")
        .replace("highestWastedBytes", "highest-wasted-bytes")
        .replace("highestUserWastedPercent", "highest-user-wasted-percent")
}

fn whittle_ci(reference: &str, config: Option<&Path>, dir: &Path) -> (bool, BTreeMap<String, String>, String) {
    let mut cmd = whittle();
    cmd.current_dir(dir).args(["inspect", reference, "--ci", "--format", "json"]);
    if let Some(c) = config {
        cmd.arg("--ci-config").arg(c);
    }
    let (code, stdout, stderr) = out(&mut cmd);
    assert!(code == 0 || code == 3, "{reference}: exit {code}: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["pass"].as_bool(), Some(code == 0), "{stdout}");
    let rules = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_ascii_uppercase(),
            )
        })
        .collect();
    (code == 0, rules, stdout)
}

#[test]
fn ci_rules_pass_and_fail_exactly_when_dives_do() {
    let work = tempfile::tempdir().unwrap();
    let Some(images) = fixtures(work.path()) else {
        return;
    };
    if peers::peer("dive").is_none() {
        return;
    }
    let mut checked = 0;
    let mut failed = 0;
    for img in &images {
        let e = inspect_json(&img.reference)["efficiency"].clone();
        for (i, text) in configs(&e).iter().enumerate() {
            let w = tempfile::tempdir().unwrap();
            let config = (!text.is_empty()).then(|| {
                let p = w.path().join(".dive-ci");
                std::fs::write(&p, text).unwrap();
                p
            });
            let theirs = peers::dive_ci(&img.tar, config.as_deref(), w.path()).unwrap();
            // whittle runs where no .dive-ci is, for the defaults case
            let (pass, rules, json) = whittle_ci(&img.reference, config.as_deref(), work.path());
            let ctx = format!("{} config {i}:\n{text}\ndive:\n{}\nwhittle:\n{json}", img.name, theirs.output);
            assert_eq!(pass, theirs.pass, "{ctx}");
            assert_eq!(rules, theirs.rules, "{ctx}");
            if let Some(c) = &config {
                let k = w.path().join("kebab.yaml");
                std::fs::write(&k, kebab(text)).unwrap();
                let (kpass, krules, _) = whittle_ci(&img.reference, Some(&k), work.path());
                assert_eq!((kpass, krules), (pass, rules.clone()), "kebab-case of {ctx}");
                assert!(c.is_file());
            }
            checked += 1;
            failed += usize::from(!pass);
        }
    }
    // both outcomes were exercised
    assert!(checked > 40 && failed > 5 && checked - failed > 5, "{checked} {failed}");
}

#[test]
fn ci_text_of_the_dive_image() {
    let Some(f) = whittle_testutil::fixtures() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("ci.yaml");
    std::fs::write(
        &cfg,
        "rules:\n  lowest-efficiency: 0.95\n  highest-wasted-bytes: 20kB\n  highestUserWastedPercent: disabled\n",
    )
    .unwrap();
    let (code, stdout, stderr) = out(whittle().current_dir(f.join("images")).args([
        "inspect",
        "docker-archive:docker-archive/dive-test-docker-image.tar",
        "--ci",
        "--ci-config",
        cfg.to_str().unwrap(),
    ]));
    assert_eq!(code, 3, "{stderr}");
    let stdout = stdout.replace(cfg.to_str().unwrap(), "CONFIG");
    insta::assert_snapshot!("inspect_ci_dive_text", stdout);
}

#[test]
fn bad_ci_config_names_file_and_key() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("rules.yaml");
    for (text, key) in [
        ("rules:\n  lowest-efficiency: 1.5\n", "lowest-efficiency"),
        ("rules:\n  highestWastedBytes: lots\n", "highestWastedBytes"),
        ("rules:\n  highest-user-wasted-percent: [0.1]\n", "highest-user-wasted-percent"),
    ] {
        std::fs::write(&cfg, text).unwrap();
        // the rules are read before the image: a missing image is not reached
        let (code, _, stderr) = out(whittle().args([
            "inspect",
            "docker-archive:/nonexistent.tar",
            "--ci",
            "--ci-config",
            cfg.to_str().unwrap(),
        ]));
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains(&format!("{}: `rules.{key}`: ", cfg.display())),
            "{stderr}"
        );
    }
    let (code, _, stderr) = out(whittle().args([
        "inspect",
        "docker-archive:/nonexistent.tar",
        "--ci",
        "--ci-config",
        d.path().join("missing.yaml").to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("missing.yaml: cannot read the CI rules file"), "{stderr}");
}
