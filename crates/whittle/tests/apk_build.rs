//! `whittle build` from signed APK repositories (issue 3, first slice): the real melange-built
//! repositories and the real Alpine `alpine-baselayout` package from ../shared/fixtures/apk.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn apk_fixtures() -> Option<PathBuf> {
    fixtures().map(|f| f.join("apk"))
}

fn config(repo: &Path, key: &Path, packages: &str, archs: &str) -> String {
    config_n(&[(repo, key)], packages, archs)
}

fn config_n(repos: &[(&Path, &Path)], packages: &str, archs: &str) -> String {
    let list = |f: &dyn Fn(&(&Path, &Path)) -> String| {
        repos
            .iter()
            .map(|r| format!("    - {}\n", f(r)))
            .collect::<String>()
    };
    format!(
        "contents:\n  repositories:\n{}  keyring:\n{}  packages: [{packages}]\n\
         accounts:\n  groups: [{{groupname: nonroot, gid: 65532}}]\n  users: [{{username: nonroot, uid: 65532, gid: 65532}}]\n  run-as: nonroot\n\
         archs: [{archs}]\n",
        list(&|r| r.0.display().to_string()),
        list(&|r| r.1.display().to_string()),
    )
}

#[test]
fn melange_repository_builds_with_installed_db() {
    let Some(apk) = apk_fixtures() else { return };
    let repo = apk.join("e2e-melange-rsa256");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &repo,
        &repo.join("keys/melange.rsa.pub"),
        "replayout, custom-ca-certs-1",
        "x86_64",
    );
    let layout = dir.path().join("img");
    build(
        dir.path(),
        &cfg,
        &format!("oci:{}:t", layout.display()),
        &dir.path().join("cache"),
        &[],
    );
    let files = layer_files(&layout);
    let installed = String::from_utf8(files["lib/apk/db/installed"].clone()).unwrap();
    // every resolved package, with the C: checksum the signed index gives
    for (name, c) in [
        ("custom-ca-certs-1", "C:Q1L7EnY9Q9b23ejRHAmb0g09QaLEo="),
        ("pretend-baselayout", "P:pretend-baselayout"),
        ("replayout", "P:replayout"),
    ] {
        assert!(
            installed.contains(&format!("P:{name}\n")),
            "{name}: {installed}"
        );
        assert!(installed.contains(c), "{c}");
    }
    assert!(installed.contains("R:cert-a.crt"));
    // the installed DB round-trips through whittle's own reader, without findings
    let db = whittle_apk::package::installed::parse_installed("installed", installed.as_bytes())
        .unwrap();
    assert!(db.findings.is_empty(), "{:?}", db.findings);
    let mut names: Vec<&str> = db.packages.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["custom-ca-certs-1", "pretend-baselayout", "replayout"]
    );
    assert_eq!(
        whittle_apk::package::installed::installed_db(&db.packages),
        installed,
        "written again byte for byte"
    );
    assert_eq!(files["etc/apk/world"], b"custom-ca-certs-1\nreplayout\n");
    assert_eq!(files["etc/apk/arch"], b"x86_64\n");
    assert_eq!(
        String::from_utf8(files["etc/apk/repositories"].clone()).unwrap(),
        format!("{}\n", repo.display())
    );
    assert!(files.contains_key("etc/apk/keys/melange.rsa.pub"));
    assert!(files.contains_key("usr/local/share/ca-certificates/cert-a.crt"));
    assert!(String::from_utf8_lossy(&files["etc/passwd"]).contains("nonroot:x:65532"));
    // the SBOM carries apk purls
    let sbom = std::fs::read_to_string(dir.path().join("img.spdx.json")).unwrap();
    assert!(sbom.contains("pkg:apk/"), "{sbom}");
    if tool("skopeo") {
        let out = run(std::process::Command::new("skopeo")
            .args(["inspect", &format!("oci:{}:t", layout.display())]));
        assert!(out.contains("\"Architecture\": \"amd64\""), "{out}");
    }

    // path-exclude: the files are neither in the image nor claimed by the installed DB;
    // path-include takes one back
    let cfg = cfg.replace(
        "  packages: [",
        "  path-exclude: [/usr/local/share/ca-certificates/*]\n  path-include: [/usr/local/share/ca-certificates]\n  packages: [",
    );
    let filtered = dir.path().join("filtered");
    std::fs::write(dir.path().join("image.yaml"), &cfg).unwrap();
    let (_, log) = run_both(
        whittle()
            .current_dir(dir.path())
            .args(["build", "image.yaml", "-o"])
            .arg(format!("oci:{}:t", filtered.display()))
            .arg("--cache-dir")
            .arg(dir.path().join("cache")),
    );
    assert!(log.contains("left out by path-exclude"), "{log}");
    let kept = layer_files(&filtered);
    assert!(!kept.contains_key("usr/local/share/ca-certificates/cert-a.crt"));
    assert!(kept.contains_key("usr/local/share/ca-certificates"));
    let installed = String::from_utf8(kept["lib/apk/db/installed"].clone()).unwrap();
    assert!(!installed.contains("R:cert-a.crt"), "{installed}");
    assert!(installed.contains("P:custom-ca-certs-1\n"), "{installed}");
}

#[test]
fn sha1_signed_repository_builds() {
    let Some(apk) = apk_fixtures() else { return };
    // the private packages (RSA/SHA-1 signatures) depend on the melange repository's (RSA256)
    let private = apk.join("e2e-private-rsa-sha1");
    let melange = apk.join("e2e-melange-rsa256");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_n(
        &[
            (&private, &private.join("keys/private_pkg_key.rsa.pub")),
            (&melange, &melange.join("keys/melange.rsa.pub")),
        ],
        "package-x, package-y",
        "aarch64",
    );
    build(
        dir.path(),
        &cfg,
        "oci:img",
        &dir.path().join("cache"),
        &["-q"],
    );
    let names = sbom_packages(&dir.path().join("img.spdx.json"));
    assert!(
        names.contains(&"package-x".to_string()) && names.contains(&"package-y".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"pretend-baselayout".to_string()),
        "{names:?}"
    );
}

/// A copy of a repository directory (to tamper with).
fn copy_repo(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_repo(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
            let mut perm = std::fs::metadata(&to).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&to, perm).unwrap();
        }
    }
}

#[test]
fn tampered_or_untrusted_apk_repositories_are_refused() {
    let Some(apk) = apk_fixtures() else { return };
    let src = apk.join("e2e-melange-rsa256");
    let key = src.join("keys/melange.rsa.pub");

    // a flipped byte in a package
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_repo(&src, &repo);
    let pkg = repo.join("x86_64/replayout-1.0.0-r0.apk");
    let mut data = std::fs::read(&pkg).unwrap();
    let n = data.len();
    data[n - 40] ^= 0x01;
    std::fs::write(&pkg, data).unwrap();
    let err = build_refused(dir.path(), &config(&repo, &key, "replayout", "x86_64"));
    assert!(err.contains("replayout"), "{err}");

    // a key that did not sign the index
    let dir = tempfile::tempdir().unwrap();
    let other = apk.join("e2e-private-rsa-sha1/keys/private_pkg_key.rsa.pub");
    let err = build_refused(dir.path(), &config(&src, &other, "replayout", "x86_64"));
    assert!(
        err.contains("melange.rsa.pub") || err.to_lowercase().contains("key"),
        "{err}"
    );
    // the hint names where APK keys go, not Debian's signed-by=
    assert!(err.contains("contents.keyring"), "{err}");
    assert!(!err.contains("signed-by"), "{err}");

    // an unsigned index
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("x86_64")).unwrap();
    std::fs::copy(
        apk.join("edge-cases/APKINDEX-unsigned.tar.gz"),
        repo.join("x86_64/APKINDEX.tar.gz"),
    )
    .unwrap();
    let err = build_refused(dir.path(), &config(&repo, &key, "anything", "x86_64"));
    assert!(err.to_lowercase().contains("unsigned"), "{err}");
}

#[test]
fn repository_over_http_works_like_a_local_one() {
    let Some(apk) = apk_fixtures() else { return };
    let repo = apk.join("e2e-melange-rsa256");
    let key = repo.join("keys/melange.rsa.pub");
    let url = serve_dir(&repo);
    let dir = tempfile::tempdir().unwrap();
    let local = build(
        dir.path(),
        &config(&repo, &key, "replayout", "x86_64"),
        "oci:local",
        &dir.path().join("cache-local"),
        &["-q", "--source-date-epoch", "1700000000"],
    );
    let cfg = config(Path::new(&url), &key, "replayout", "x86_64");
    let http = build(
        dir.path(),
        &cfg,
        "oci:http",
        &dir.path().join("cache-http"),
        &["-q", "--source-date-epoch", "1700000000"],
    );
    // only /etc/apk/repositories differs: the image has the URL it was built from
    assert_ne!(local, http);
    let files = layer_files(&dir.path().join("http"));
    assert_eq!(
        String::from_utf8(files["etc/apk/repositories"].clone()).unwrap(),
        format!("{url}\n")
    );
    let local_files = layer_files(&dir.path().join("local"));
    let mut a = files.clone();
    let mut b = local_files.clone();
    a.remove("etc/apk/repositories");
    b.remove("etc/apk/repositories");
    assert_eq!(a, b, "the same files from HTTP and from the directory");
    assert_eq!(
        sbom_packages(&dir.path().join("http.spdx.json")),
        ["pretend-baselayout", "replayout"]
    );
}
