//! Hermetic builds (no network) against Debian repositories the tests generate and sign with
//! their own OpenPGP key: resolution cases, failure messages, and tampering refused.

mod common;
use common::*;
use std::path::Path;

fn config(repo: &Repo, packages: &str, extra: &str) -> String {
    format!(
        "contents:\n  repositories:\n    - {}\n  packages: [{packages}]\n{extra}archs: [amd64]\n",
        repo.line()
    )
}

/// Builds and returns the installed package names (from the SBOM).
fn installed(repo: &Repo, packages: &str, extra: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    build(
        dir.path(),
        &config(repo, packages, extra),
        "oci:img",
        &dir.path().join("cache"),
        &["-q"],
    );
    sbom_packages(&dir.path().join("img.spdx.json"))
}

/// Builds expecting failure; returns stderr.
fn failure(repo: &Repo, packages: &str, extra: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    build_refused(dir.path(), &config(repo, packages, extra))
}

fn universe() -> Repo {
    make_repo(&[
        TestPkg::new(
            "app",
            "1.0-1",
            "Depends: liba (>= 2), mta | mail-transport-agent, shared-lib",
        ),
        TestPkg::new("liba", "1.0-1", ""),
        TestPkg::new("liba", "2.1-1", "Depends: dpkg | tiny-helper"),
        TestPkg::new("mta", "1.0", "Conflicts: shared-lib (<< 2)"),
        TestPkg::new("postfix-like", "3.0", "Provides: mail-transport-agent"),
        TestPkg::new("shared-lib", "1.5", ""),
        TestPkg::new("dpkg", "1.21", ""),
        TestPkg::new("tiny-helper", "1.0", ""),
        TestPkg::new("virt-user", "1.0", "Depends: awk"),
        TestPkg::new("mawk", "1.3", "Provides: awk"),
        TestPkg::new("gawk", "5.2", "Provides: awk"),
        TestPkg::new("needs-ghost", "1.0", "Depends: helper (>= 1)"),
        TestPkg::new("helper", "0.9", "Depends: ghost-lib"),
        TestPkg::new("breaker", "1.0", "Breaks: liba (<< 3)"),
    ])
}

#[test]
fn resolution_cases() {
    let repo = universe();
    // versioned dependency picks the right version; the conflict forces the virtual alternative;
    // the package manager is avoided in favour of the other alternative
    let names = installed(&repo, "app", "");
    assert_eq!(
        names,
        ["app", "liba", "postfix-like", "shared-lib", "tiny-helper"]
    );
    // a virtual package with several providers: a deterministic choice (by name)
    assert_eq!(installed(&repo, "virt-user", ""), ["gawk", "virt-user"]);
    // an explicit version request
    assert_eq!(installed(&repo, "liba=1.0-1", ""), ["liba"]);
    // exclude waives what only excluded packages provide
    assert_eq!(
        installed(&repo, "liba", "  exclude: [dpkg, tiny-helper]\n"),
        ["liba"]
    );
}

#[test]
fn resolution_failures_explain_the_chain() {
    let repo = universe();
    let err = failure(&repo, "needs-ghost", "");
    assert!(err.contains("needs-ghost 1.0"), "{err}");
    assert!(err.contains("helper (>= 1)"), "{err}");
    assert!(err.contains("0.9"), "the available version is named: {err}");
    let err = failure(&repo, "no-such-package", "");
    assert!(err.contains("no-such-package"), "{err}");
    let err = failure(&repo, "breaker, liba", "");
    assert!(err.contains("breaker") && err.contains("liba"), "{err}");
}

#[test]
fn tampered_inrelease_is_refused() {
    let repo = universe();
    let path = repo.path("dists/stable/InRelease");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("Suite: stable", "Suite: stablE", 1)).unwrap();
    let err = failure(&repo, "liba", "");
    assert!(err.to_lowercase().contains("signature"), "{err}");
    assert!(err.contains("not trusted"), "{err}");
}

#[test]
fn unknown_signer_is_refused() {
    let repo = universe();
    let other = make_repo(&[TestPkg::new("x", "1", "")]);
    std::fs::copy(&other.keyring, &repo.keyring).unwrap();
    let err = failure(&repo, "liba", "");
    assert!(err.to_lowercase().contains("key"), "{err}");
}

#[test]
fn unsigned_repository_needs_the_loud_flag() {
    let repo = universe();
    let path = repo.path("dists/stable/InRelease");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("\n\n").unwrap() + 2;
    let end = text.find("-----BEGIN PGP SIGNATURE-----").unwrap();
    std::fs::write(&path, &text[start..end]).unwrap();
    let err = failure(&repo, "liba", "");
    assert!(
        err.to_lowercase().contains("not signed") || err.contains("unsigned"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("image.yaml"), config(&repo, "liba", "")).unwrap();
    let out = whittle()
        .current_dir(dir.path())
        .args([
            "build",
            "image.yaml",
            "-o",
            "oci:img",
            "--cache-dir",
            "cache",
        ])
        .arg("--insecure-allow-unsigned-repositories")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT verified"));
}

#[test]
fn tampered_packages_index_is_refused() {
    let repo = universe();
    for f in ["Packages", "Packages.gz"] {
        let path = repo.path(&format!("dists/stable/main/binary-amd64/{f}"));
        let mut data = std::fs::read(&path).unwrap();
        let n = data.len();
        data[n / 2] ^= 0x20;
        std::fs::write(&path, data).unwrap();
    }
    let err = failure(&repo, "liba", "");
    assert!(
        err.contains("mismatch") || err.contains("does not match"),
        "{err}"
    );
}

#[test]
fn tampered_deb_is_refused() {
    let repo = universe();
    let deb = std::fs::read_dir(repo.path("pool/main"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("tiny-helper")
        })
        .unwrap();
    let mut data = std::fs::read(&deb).unwrap();
    let n = data.len();
    data[n - 10] ^= 1;
    std::fs::write(&deb, data).unwrap();
    let err = failure(&repo, "liba", "");
    assert!(err.contains("SHA-256 mismatch"), "{err}");
    assert!(err.contains("tiny-helper"), "{err}");
}

#[test]
fn local_files_and_paths_are_applied() {
    let repo = universe();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ctx/static")).unwrap();
    std::fs::write(dir.path().join("ctx/app.bin"), b"#!not-a-shell\n").unwrap();
    std::fs::write(dir.path().join("ctx/static/index.html"), b"<h1>hi</h1>").unwrap();
    let extra = "paths:\n\
      \x20 - {path: /app/server, type: local, source: ./ctx/app.bin, permissions: 0o755}\n\
      \x20 - {path: /app/static, type: local, source: ./ctx/static}\n\
      \x20 - {path: /data, type: directory, uid: 65532, gid: 65532, permissions: 0o700}\n\
      \x20 - {path: /etc/marker, type: empty-file}\n\
      \x20 - {path: /usr/bin/srv, type: symlink, source: /app/server}\n";
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [liba=1.0-1]\n{extra}archs: [amd64]\n",
        repo.line()
    );
    build(
        dir.path(),
        &cfg,
        "oci-archive:img.tar",
        &dir.path().join("cache"),
        &["-q"],
    );
    // read the layer back and check the entries
    let mut outer = tar::Archive::new(std::fs::File::open(dir.path().join("img.tar")).unwrap());
    let mut blobs = std::collections::BTreeMap::new();
    for e in outer.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut v).unwrap();
        blobs.insert(p, v);
    }
    let layer = blobs
        .values()
        .find(|b| b.starts_with(&[0x1f, 0x8b]))
        .expect("a gzip layer");
    let mut inner = tar::Archive::new(flate2::read::GzDecoder::new(layer.as_slice()));
    let mut seen = std::collections::BTreeMap::new();
    for e in inner.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        seen.insert(
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string(),
            (
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned()),
            ),
        );
    }
    assert_eq!(seen["app/server"].0, 0o755);
    assert!(seen.contains_key("app/static/index.html"));
    assert_eq!(seen["data"].0 & 0o7777, 0o700);
    assert_eq!(seen["data"].1, 65532);
    assert!(seen.contains_key("etc/marker"));
    assert_eq!(seen["usr/bin/srv"].2.as_deref(), Some("/app/server"));
    assert!(seen.contains_key("var/lib/dpkg/status.d/liba"));
    assert!(seen.contains_key("usr/share/whittle-test/marker"));
}

#[test]
fn bad_config_names_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "contents:\n  packages: [gawk]\nentrypoin:\n  command: /x\n",
    )
    .unwrap();
    let err = run_fail(
        whittle()
            .current_dir(dir.path())
            .args(["build", "bad.yaml", "-o", "oci:img"]),
    );
    assert!(err.contains("bad.yaml:3:1"), "{err}");
    assert!(
        err.contains("entrypoint"),
        "a hint names the right key: {err}"
    );
}

#[test]
fn multi_arch_build_writes_an_image_index() {
    let repo = make_repo_archs(
        &[
            TestPkg::new("app", "1.0", "Depends: lib"),
            TestPkg::new("lib", "2.0", ""),
        ],
        &["amd64", "arm64"],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [app]\narchs: [amd64, aarch64]\n",
        repo.line()
    );
    let layout = dir.path().join("multi");
    let digest = build(
        dir.path(),
        &cfg,
        &format!("oci:{}:v1", layout.display()),
        &dir.path().join("cache"),
        &["-q"],
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    assert_eq!(
        index["manifests"][0]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let image_index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    let platforms: Vec<String> = image_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap(),
                m["platform"]["variant"]
                    .as_str()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    // one SBOM per architecture, each listing that architecture's packages
    for arch in ["amd64", "arm64"] {
        let sbom = dir.path().join(format!("multi.{arch}.spdx.json"));
        assert_eq!(sbom_packages(&sbom), ["app", "lib"], "{arch}");
        let text = std::fs::read_to_string(&sbom).unwrap();
        assert!(text.contains(&format!("arch={arch}")), "{arch} purls");
    }
    if tool("skopeo") {
        for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
            let mut cmd = std::process::Command::new("skopeo");
            cmd.args(["--override-os", "linux", "--override-arch", arch]);
            if let Some(v) = variant {
                cmd.args(["--override-variant", v]);
            }
            let out = run(cmd.args(["inspect", &format!("oci:{}:v1", layout.display())]));
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["Architecture"], arch);
        }
    }
}

/// `whittle build` of `repo`'s `packages` with the repository line `line` and the cache `cache`
/// (kept between calls); returns (success, stderr).
fn build_with_cache(dir: &Path, line: &str, packages: &str, cache: &Path) -> (bool, String) {
    let cfg = format!(
        "contents:\n  repositories:\n    - {line}\n  packages: [{packages}]\narchs: [amd64]\n"
    );
    std::fs::write(dir.join("image.yaml"), cfg).unwrap();
    let out = whittle()
        .current_dir(dir)
        .args(["build", "image.yaml", "-o", "oci:img", "-q", "--cache-dir"])
        .arg(cache)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `repo.line()` with more options inside its `[...]`.
fn with_options(repo: &Repo, options: &str) -> String {
    repo.line()
        .replacen("deb [", &format!("deb [{options} "), 1)
}

#[test]
fn older_release_than_one_seen_is_refused_as_a_downgrade() {
    let repo = make_repo(&[TestPkg::new("liba", "1.0", "")]);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let (ok, err) = build_with_cache(dir.path(), &repo.line(), "liba", &cache);
    assert!(ok, "{err}");
    // the mirror now serves an older Release, validly signed by the same key (a replay)
    repo.resign_with_date("Wed, 01 Oct 2025 00:00:00 UTC");
    std::fs::remove_dir_all(dir.path().join("img")).unwrap();
    let (ok, err) = build_with_cache(dir.path(), &repo.line(), "liba", &cache);
    assert!(!ok, "an older Release was accepted:\n{err}");
    assert!(err.contains(&repo.line()), "names the repository: {err}");
    assert!(err.contains("2025-10-01T00:00:00Z"), "its date: {err}");
    assert!(
        err.contains("2025-11-01T00:00:00Z"),
        "the newest seen: {err}"
    );
    assert!(err.contains("allow-older-release=yes"), "what to do: {err}");
    assert!(!dir.path().join("img").exists(), "no output");
    // going back on purpose, said in the repository line
    let line = with_options(&repo, "allow-older-release=yes");
    let (ok, err) = build_with_cache(dir.path(), &line, "liba", &cache);
    assert!(ok, "{err}");
    assert!(err.contains("warning:") && err.contains("older"), "{err}");
    // ... which does not lower what was recorded
    let (ok, _) = build_with_cache(dir.path(), &repo.line(), "liba", &cache);
    assert!(!ok);
    // a newer Release is fine again, and becomes the newest
    repo.resign_with_date("Mon, 01 Dec 2025 00:00:00 UTC");
    let (ok, err) = build_with_cache(dir.path(), &repo.line(), "liba", &cache);
    assert!(ok, "{err}");
    repo.resign_with_date("Sat, 01 Nov 2025 00:00:00 UTC");
    let (ok, err) = build_with_cache(dir.path(), &repo.line(), "liba", &cache);
    assert!(!ok && err.contains("2025-12-01T00:00:00Z"), "{err}");
    // another cache has seen nothing
    let (ok, err) = build_with_cache(dir.path(), &repo.line(), "liba", &dir.path().join("c2"));
    assert!(ok, "{err}");
}

#[test]
fn release_dated_in_the_future_is_not_valid_yet() {
    let repo = make_repo(&[TestPkg::new("liba", "1.0", "")]);
    repo.resign_with_date("Mon, 01 Jan 2035 00:00:00 UTC");
    let err = failure(&repo, "liba", "");
    assert!(err.contains("not valid yet"), "{err}");
    assert!(err.contains("2035-01-01T00:00:00Z"), "{err}");
    assert!(err.contains("check-date=no"), "what to do: {err}");
    assert!(!err.contains("not trusted"), "not a keyring problem: {err}");
    let dir = tempfile::tempdir().unwrap();
    let line = with_options(&repo, "check-date=no");
    let (ok, err) = build_with_cache(dir.path(), &line, "liba", &dir.path().join("cache"));
    assert!(ok, "{err}");
}

#[test]
fn expired_release_is_refused_unless_check_valid_until_is_off() {
    let repo = make_repo(&[TestPkg::new("liba", "1.0", "")]);
    repo.resign(&repo.release.replace(
        "Components:",
        "Valid-Until: Sat, 08 Nov 2025 00:00:00 UTC\nComponents:",
    ));
    let err = failure(&repo, "liba", "");
    assert!(err.contains("expired at 2025-11-08T00:00:00Z"), "{err}");
    assert!(err.contains("check-valid-until=no"), "what to do: {err}");
    assert!(!err.contains("allow_expired"), "no internal names: {err}");
    for option in ["check-valid-until=no", "check-date=no"] {
        let dir = tempfile::tempdir().unwrap();
        let line = with_options(&repo, option);
        let (ok, err) = build_with_cache(dir.path(), &line, "liba", &dir.path().join("cache"));
        assert!(ok, "{option}: {err}");
    }
}

#[test]
fn links_above_the_root_are_reported_once_per_package() {
    let repo = make_repo(&[
        TestPkg::new("linky", "1.0", "")
            .with_link("usr/bin/a", "../../../etc/shadow")
            .with_link("usr/bin/b", "/../../../../root/.ssh")
            .with_link("usr/bin/c", "../../etc/fine"),
        // what Debian packages do: absolute links between top-level directories, relative ones
        // within; `bin/` lands in `usr/bin/` (merged /usr), so `../../usr` stays inside
        TestPkg::new("ordinary", "1.0", "")
            .with_link("usr/bin/ord", "/etc/alternatives/ord")
            .with_link("usr/lib/libo.so", "libo.so.1")
            .with_link("bin/ord2", "../../usr/bin/ord"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("img");
    let (ok, err) = build_with_cache(
        dir.path(),
        &repo.line(),
        "linky, ordinary",
        &dir.path().join("cache"),
    );
    assert!(ok, "{err}");
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("root directory"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for linky, none for ordinary:\n{err}"
    );
    let w = warnings[0];
    assert!(
        w.starts_with(
            "warning: package linky: symlink /usr/bin/a -> ../../../etc/shadow (and 1 more)"
        ),
        "{w}"
    );
    assert!(!err.contains("package ordinary"), "{err}");
    // the links are kept as the package ships them
    let files = layer_entries(&layout);
    assert_eq!(files["usr/bin/a"].1, b"../../../etc/shadow");
    assert_eq!(files["usr/bin/ord2"].1, b"../../usr/bin/ord");
}
