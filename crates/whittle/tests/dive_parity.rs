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
    let (code, stdout, stderr) =
        out(whittle().args(["inspect", reference, "--format", "json", "--top", "100000"]));
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
        if !same_figures_as_dive(img) {
            return;
        }
    }
}

/// Whether whittle's efficiency, wasted bytes, image size and per-path waste of `img` are
/// dive's (panics when they differ); `false` when dive is missing.
fn same_figures_as_dive(img: &Fixture) -> bool {
    {
        let w = tempfile::tempdir().unwrap();
        let Some(d) = peers::dive(&img.tar, w.path()) else {
            return false;
        };
        let e = &inspect_json(&img.reference)["efficiency"];
        assert_eq!(e["score"].as_f64(), Some(d.efficiency), "{}", img.name);
        assert_eq!(
            e["wasted_bytes"].as_u64(),
            Some(d.wasted_bytes),
            "{}",
            img.name
        );
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
    true
}

/// `.dive-ci` texts around an image's figures: each rule just at, above and below them, and
/// disabled, in dive's camelCase (the only spelling dive 0.13.1 reads from `.dive-ci`).
fn configs(e: &serde_json::Value) -> Vec<String> {
    let eff = e["score"].as_f64().unwrap();
    let wasted = e["wasted_bytes"].as_u64().unwrap();
    let user = e["user_wasted_ratio"].as_f64(); // null: no bytes above the first layer
    let mut out = vec![String::new()];
    for eff_t in [
        format!("{eff}"),
        format!("{}", (eff + 0.001).min(1.0)),
        format!("{}", (eff - 0.001).max(0.0)),
    ] {
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
        Some(r) => vec![
            format!("{r}"),
            format!("{}", (r - 0.001).max(0.0)),
            format!("{}", (r + 0.001).min(1.0)),
        ],
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

fn whittle_ci(
    reference: &str,
    config: Option<&Path>,
    dir: &Path,
) -> (bool, BTreeMap<String, String>, String) {
    let mut cmd = whittle();
    cmd.current_dir(dir)
        .args(["inspect", reference, "--ci", "--format", "json"]);
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
            let ctx = format!(
                "{} config {i}:\n{text}\ndive:\n{}\nwhittle:\n{json}",
                img.name, theirs.output
            );
            assert_eq!(pass, theirs.pass, "{ctx}");
            assert_eq!(rules, theirs.rules, "{ctx}");
            if let Some(c) = &config {
                let k = w.path().join("kebab.yaml");
                std::fs::write(&k, kebab(text)).unwrap();
                let (kpass, krules, _) = whittle_ci(&img.reference, Some(&k), work.path());
                assert_eq!(
                    (kpass, krules),
                    (pass, rules.clone()),
                    "kebab-case of {ctx}"
                );
                assert!(c.is_file());
            }
            checked += 1;
            failed += usize::from(!pass);
        }
    }
    // both outcomes were exercised
    assert!(
        checked > 40 && failed > 5 && checked - failed > 5,
        "{checked} {failed}"
    );
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
        (
            "rules:\n  highest-user-wasted-percent: [0.1]\n",
            "highest-user-wasted-percent",
        ),
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
    assert!(
        stderr.contains("missing.yaml: cannot read the CI rules file"),
        "{stderr}"
    );
}

/// One entry of a hand-made layer.
enum Ent<'a> {
    Dir,
    File(usize),
    Symlink(&'a str),
    Hardlink(&'a str),
}

fn layer_tar(entries: &[(&str, Ent)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, e) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_mtime(0);
        h.set_size(0);
        match e {
            Ent::Dir => h.set_entry_type(tar::EntryType::Directory),
            Ent::File(n) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(*n as u64);
            }
            Ent::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name(t).unwrap();
            }
            Ent::Hardlink(t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_link_name(t).unwrap();
            }
        }
        let data = match e {
            Ent::File(n) => vec![b'x'; *n],
            _ => Vec::new(),
        };
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// A `docker save` archive of `layers` (tag `edge:1`).
fn docker_archive(path: &Path, layers: &[Vec<u8>]) {
    use sha2::Digest as _;
    let hex = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", hex(l)))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().enumerate().map(|(i, _)| serde_json::json!({"created_by": format!("layer {i}")})).collect::<Vec<_>>(),
    })
    .to_string();
    let config_name = format!("{}.json", hex(config.as_bytes()));
    let names: Vec<String> = layers
        .iter()
        .map(|l| format!("{}/layer.tar", hex(l)))
        .collect();
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": ["edge:1"], "Layers": names}])
            .to_string();
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    for (n, l) in names.iter().zip(layers) {
        add(n, l);
    }
    add(&config_name, config.as_bytes());
    add("manifest.json", manifest.as_bytes());
    b.into_inner().unwrap();
}

/// dive's corner cases, each compared with the real dive: a file twice in one layer, a deleted
/// directory (counted as the bytes below it) and a deleted file (0), a directory only implied by
/// its children (dive then sizes its deletion 0), an opaque directory (dive ignores the marker),
/// a directory replaced by a file, symlinks and hard links, and a whiteout of a path no lower
/// layer holds (dive stops counting that layer there).
#[test]
fn corner_cases_equal_dives() {
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("edge.tar");
    let layers = [
        layer_tar(&[
            ("a/", Ent::Dir),
            ("a/b/", Ent::Dir),
            ("a/b/f1", Ent::File(100)),
            ("a/g", Ent::File(50)),
            ("a/same", Ent::File(5)),
            ("a/same", Ent::File(7)),
            ("x", Ent::File(10)),
            ("e/", Ent::Dir),
            ("o/", Ent::Dir),
            ("o/keep", Ent::File(3)),
            ("o/lose", Ent::File(4)),
            ("s", Ent::Symlink("x")),
            ("h", Ent::Hardlink("x")),
        ]),
        layer_tar(&[
            ("a/.wh.b", Ent::File(0)),
            ("a/.wh.g", Ent::File(0)),
            ("x", Ent::File(20)),
            ("n/m/file", Ent::File(9)),
            ("o/.wh..wh..opq", Ent::File(0)),
            ("o/new", Ent::File(6)),
        ]),
        layer_tar(&[
            ("a", Ent::File(11)),
            (".wh.e", Ent::File(0)),
            ("n/.wh.m", Ent::File(0)),
            ("s", Ent::File(8)),
        ]),
        layer_tar(&[
            ("y/", Ent::Dir),
            ("y/file", Ent::File(1)),
            ("z/", Ent::Dir),
            ("z/.wh.missing", Ent::File(0)),
            ("zz/", Ent::Dir),
            ("zz/file", Ent::File(2)),
        ]),
        layer_tar(&[
            ("o/", Ent::Dir),
            ("o/keep", Ent::File(3)),
            ("x", Ent::File(30)),
            ("zz/", Ent::Dir),
            ("zz/file", Ent::File(2)),
        ]),
    ];
    docker_archive(&tar, &layers);
    let img = Fixture {
        name: "edge.tar".into(),
        reference: format!("docker-archive:{}", tar.display()),
        tar,
    };
    if !same_figures_as_dive(&img) {
        return;
    }
    let e = &inspect_json(&img.reference)["efficiency"];
    // the corner cases took effect: three copies of x, a deleted file and a deleted empty
    // directory referenced twice; a file twice in one layer is one reference, and zz/file of
    // the layer whose missing whiteout stopped the count is not referenced
    let paths: BTreeMap<&str, u64> = e["top_wasted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap(),
                p["references"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        paths,
        BTreeMap::from([("/a/g", 2), ("/e", 2), ("/o/keep", 2), ("/s", 2), ("/x", 3)])
    );
}
