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
        // copy into a docker-archive (one image) says the same after naming the source
        let err = run_fail(whittle().args([
            "copy",
            image,
            &format!("docker-archive:{}", dir.path().join("one.tar").display()),
        ]));
        let tail = |l: &str| l[l.find(" is a multi-platform image").unwrap()..].to_string();
        let copy_line = err.lines().find(|l| l.starts_with("error: ")).unwrap();
        assert!(copy_line.contains(" is a multi-platform image"), "{err}");
        assert_eq!(tail(copy_line), tail(first.as_deref().unwrap()));
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

/// Runs peer `bin` (trivy, syft) with the network off (`unshare -n`) and its caches under
/// `work`, panicking with its stderr when it fails.
fn peer_offline(bin: &Path, args: &[&str], work: &Path) {
    let out = std::process::Command::new("unshare")
        .arg("-n")
        .arg(bin)
        .args(args)
        .env("XDG_CACHE_HOME", work.join("peer-cache"))
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scan_reads_the_sboms_syft_and_trivy_write() {
    let Some(f) = fixtures() else { return };
    let (Some(syft), Some(trivy)) = (
        whittle_testutil::peers::peer("syft"),
        whittle_testutil::peers::peer("trivy"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let db = tiny_db(work);
    // syft reads no gzip-compressed docker-archive: give both peers the plain tar
    let gz = f.join("images/docker-archive/trivy-alpine-3.10.tar.gz");
    let tar = work.join("alpine.tar");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
        &mut plain,
    )
    .unwrap();
    std::fs::write(&tar, plain).unwrap();
    let p = |name: &str| work.join(name).to_str().unwrap().to_string();
    peer_offline(
        &syft,
        &[
            "scan",
            &format!("docker-archive:{}", tar.display()),
            "-q",
            "-o",
            &format!("cyclonedx-json={}", p("syft.cdx.json")),
            "-o",
            &format!("spdx-json={}", p("syft.spdx.json")),
            "-o",
            &format!("syft-json={}", p("syft.json")),
        ],
        work,
    );
    for (format, out) in [
        ("cyclonedx", "trivy.cdx.json"),
        ("spdx-json", "trivy.spdx.json"),
    ] {
        peer_offline(
            &trivy,
            &[
                "image",
                "--input",
                tar.to_str().unwrap(),
                "--scanners",
                "license",
                "--skip-db-update",
                "--offline-scan",
                "--skip-version-check",
                "--disable-telemetry",
                "-q",
                "--cache-dir",
                &p("trivy-cache"),
                "--format",
                format,
                "--output",
                &p(out),
            ],
            work,
        );
    }
    let scan = |target: &str| -> serde_json::Value {
        let (out, _) = run_both(
            whittle()
                .args(["scan", target, "--format", "json", "--db"])
                .arg(&db),
        );
        serde_json::from_str(&out).unwrap()
    };
    let image = scan(&format!("docker-archive:{}", gz.display()));
    assert_eq!(image["os"]["id"], "alpine");
    assert_eq!(image["ecosystems"], serde_json::json!(["Alpine:v3.10"]));
    assert!(image["summary"]["total"].as_u64().unwrap() > 0, "{image}");
    for sbom in [
        "syft.cdx.json",
        "syft.spdx.json",
        "syft.json",
        "trivy.cdx.json",
        "trivy.spdx.json",
    ] {
        let r = scan(&p(sbom));
        // the OS from the SBOM's own record, never trivy's bare `distro=3.10.4` as an id
        assert_eq!(r["os"]["id"], "alpine", "{sbom}: {r}");
        assert_eq!(r["os"]["version_id"], "3.10.4", "{sbom}: {r}");
        assert_eq!(r["ecosystems"], image["ecosystems"], "{sbom}");
        assert_eq!(r["packages"], image["packages"], "{sbom}");
        assert_eq!(r["summary"], image["summary"], "{sbom}");
        // every package has a purl in these SBOMs: nothing reported as unscanned
        assert!(
            !r["warnings"].to_string().contains("not scanned"),
            "{sbom}: {}",
            r["warnings"]
        );
        // grype's sbom:FILE form reads the same
        assert_eq!(scan(&format!("sbom:{}", p(sbom)))["summary"], r["summary"]);
    }
    // a package without a purl is reported, not dropped
    let mut cdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("trivy.cdx.json")).unwrap()).unwrap();
    let comps = cdx["components"].as_array_mut().unwrap();
    let lib = comps
        .iter_mut()
        .find(|c| c["name"] == "musl")
        .expect("musl in trivy's SBOM");
    lib.as_object_mut().unwrap().remove("purl");
    std::fs::write(p("stripped.cdx.json"), cdx.to_string()).unwrap();
    let r = scan(&p("stripped.cdx.json"));
    assert_eq!(
        r["packages"].as_u64().unwrap() + 1,
        image["packages"].as_u64().unwrap()
    );
    let w = r["warnings"].to_string();
    assert!(
        w.contains("1 package(s) have no purl and were not scanned: musl 1.1.22-r3"),
        "{w}"
    );
}

/// The images of a `docker save` archive (plain or gzip-compressed): `FILE:NAME:TAG` for each
/// `RepoTags` entry, or `FILE` alone for an archive of one untagged image.
fn docker_archive_refs(file: &Path) -> Vec<String> {
    let raw = std::fs::read(file).unwrap();
    let plain = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out).unwrap();
        out
    } else {
        raw
    };
    let mut ar = tar::Archive::new(&plain[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            let m: serde_json::Value = serde_json::from_str(&s).unwrap();
            let images = m.as_array().unwrap();
            if images.len() == 1 {
                return vec![format!("docker-archive:{}", file.display())];
            }
            return images
                .iter()
                .map(|i| {
                    format!(
                        "docker-archive:{}:{}",
                        file.display(),
                        i["RepoTags"][0].as_str().unwrap()
                    )
                })
                .collect();
        }
    }
    panic!("{}: no manifest.json", file.display());
}

#[test]
fn copy_into_an_oci_layout_converts_docker_media_types_for_skopeo_and_umoci() {
    let Some(f) = fixtures() else { return };
    if !tool("skopeo") || !tool("umoci") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(f.join("images/docker-archive"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_str()
                .is_some_and(|s| s.ends_with(".tar") || s.ends_with(".tar.gz"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut n = 0;
    for file in files {
        for src in docker_archive_refs(&file) {
            n += 1;
            let layout = dir.path().join(format!("img{n}"));
            let dest = format!("oci:{}:t", layout.display());
            let (out, err) = run_both(whittle().args(["copy", &src, &dest]));
            let digest = out.trim();
            assert!(
                err.contains("converted Docker media types to OCI")
                    && err.contains(&format!("to {digest}")),
                "{src}: {err}"
            );
            // nothing Docker is left in the layout's index or manifest
            let index = std::fs::read_to_string(layout.join("index.json")).unwrap();
            let manifest =
                std::fs::read_to_string(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
            for doc in [&index, &manifest] {
                assert!(!doc.contains("vnd.docker"), "{src}: {doc}");
            }
            let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
            assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
            assert_eq!(
                m["config"]["mediaType"],
                "application/vnd.oci.image.config.v1+json"
            );
            // skopeo reads it, with the digest whittle printed
            let sk = std::process::Command::new("skopeo")
                .args(["inspect", &dest])
                .output()
                .unwrap();
            assert!(
                sk.status.success(),
                "{src}: skopeo: {}",
                String::from_utf8_lossy(&sk.stderr)
            );
            let sk: serde_json::Value = serde_json::from_slice(&sk.stdout).unwrap();
            assert_eq!(sk["Digest"], digest, "{src}");
            // umoci unpacks it
            let bundle = dir.path().join(format!("bundle{n}"));
            let mut umoci = std::process::Command::new("umoci");
            umoci.arg("unpack");
            if !is_root() {
                umoci.arg("--rootless");
            }
            let um = umoci
                .arg("--image")
                .arg(format!("{}:t", layout.display()))
                .arg(&bundle)
                .output()
                .unwrap();
            assert!(
                um.status.success(),
                "{src}: umoci: {}",
                String::from_utf8_lossy(&um.stderr)
            );
            assert!(bundle.join("rootfs").is_dir());
            // the same image: the same final tree as whittle reads it from the archive
            let totals = |r: &str| {
                let out = run(whittle().args(["inspect", r, "--format", "json"]));
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                v["totals"].clone()
            };
            assert_eq!(totals(&src), totals(&dest), "{src}");
            // an OCI layout copied again is not converted again: byte for byte
            let again = format!("oci:{}:t", dir.path().join(format!("again{n}")).display());
            let (out2, err2) = run_both(whittle().args(["copy", &dest, &again]));
            assert_eq!(out2.trim(), digest);
            assert!(!err2.contains("converted"), "{err2}");
        }
    }
}

#[test]
fn build_inspect_and_compare_give_one_unpacked_size() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("image.yaml");
    std::fs::write(&cfg, fixture_config(&fix, "gawk", "")).unwrap();
    let layout = format!("oci:{}:gawk", dir.path().join("layout").display());
    let (_, err) = run_both(
        whittle()
            .current_dir(dir.path())
            .arg("build")
            .arg(&cfg)
            .args(["-o", &layout, "--cache-dir"])
            .arg(dir.path().join("cache")),
    );
    // image     amd64 sha256:…: 10 packages, 3.8 MB compressed, 8.5 MB unpacked
    let line = err.lines().find(|l| l.starts_with("image ")).unwrap();
    let built = line
        .rsplit(", ")
        .next()
        .and_then(|s| s.strip_suffix(" unpacked"))
        .unwrap_or_else(|| panic!("{line}"));
    // Final tree  N files, … other; 8.5 MB
    let text = run(whittle().args(["inspect", &layout]));
    let tree = text.lines().find(|l| l.starts_with("Final tree")).unwrap();
    let inspected = tree.rsplit("; ").next().unwrap();
    assert_eq!(built, inspected, "{line}\n{tree}");
    let json: serde_json::Value = serde_json::from_str(&run(
        whittle().args(["inspect", &layout, "--format", "json"])
    ))
    .unwrap();
    let bytes = json["totals"]["bytes"].as_u64().unwrap();
    // compare's "unpacked" column: the same bytes
    let cmp: serde_json::Value = serde_json::from_str(&run(whittle()
        .env("WHITTLE_DB_DIR", dir.path().join("no-db"))
        .args(["compare", &layout, "--format", "json"])))
    .unwrap();
    assert_eq!(cmp["images"][0]["unpacked_bytes"].as_u64(), Some(bytes));
    assert!(bytes > 0);
}

#[test]
fn syft_and_trivy_names_and_documented_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _) = two_arch_image(dir.path());
    let syft_layout = layout.replacen("oci:", "oci-dir:", 1);
    let sbom = |image: &str, format: &str| {
        run(whittle().env("SOURCE_DATE_EPOCH", "1").args([
            "sbom",
            image,
            "--platform",
            "linux/amd64",
            "--format",
            format,
        ]))
    };
    // syft's and trivy's format names give the same documents; oci-dir: is oci:
    let spdx = sbom(&layout, "spdx");
    assert_eq!(sbom(&layout, "spdx-json"), spdx);
    // the same image, only named as given
    assert_eq!(
        sbom(&syft_layout, "spdx-json")
            .replace("oci-dir:", "oci:")
            .replace("oci-dir-", "oci-"),
        spdx
    );
    assert_eq!(sbom(&layout, "cyclonedx-json"), sbom(&layout, "cyclonedx"));
    let copied = dir.path().join("copied");
    let digest = run(whittle().args([
        "copy",
        &syft_layout,
        &format!("oci-dir:{}:v2", copied.display()),
        "-q",
    ]));
    let index = std::fs::read_to_string(copied.join("index.json")).unwrap();
    assert!(index.contains(digest.trim()), "{index}");
    let table = run(whittle().args([
        "inspect",
        &layout,
        "--platform",
        "linux/amd64",
        "--format",
        "table",
    ]));
    assert!(table.contains("Final tree"), "{table}");

    // exit codes as documented: 2 for usage errors, 1 for errors
    let code = |args: &[&str]| whittle().args(args).output().unwrap().status.code();
    assert_eq!(code(&["no-such-command"]), Some(2));
    assert_eq!(code(&["sbom"]), Some(2));
    assert_eq!(code(&["sbom", &layout, "--format", "xml"]), Some(2));
    assert_eq!(code(&["inspect", &layout, "--platform", "linux"]), Some(2));
    assert_eq!(code(&["sbom", "oci:/nonexistent/layout"]), Some(1));
    assert_eq!(code(&["--help"]), Some(0));
    // every command's --help lists them, and the README lists every one of them
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let top = run(whittle().arg("--help"));
    let codes = &top[top.find("Exit codes:").expect("exit codes in --help")..];
    for cmd in [
        "build", "pkg", "copy", "inspect", "audit", "lint", "sbom", "db", "scan", "compare",
    ] {
        let help = run(whittle().args([cmd, "--help"]));
        assert!(help.ends_with(codes), "{cmd} --help:\n{help}");
    }
    for line in codes.lines().skip(1) {
        let n = line.split_whitespace().next().unwrap();
        assert!(
            readme.contains(&format!("| {n} | ")),
            "README lacks exit code {n}"
        );
    }
}

/// `--allow-path` widens what a config or recipe may read from this machine: both commands
/// that take it list it in `--help`, and the README says what it allows for each.
#[test]
fn allow_path_is_documented_for_build_and_pkg_build() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    for cmd in [&["build"][..], &["pkg", "build"]] {
        let help = run(whittle().args(cmd).arg("--help"));
        assert!(help.contains("--allow-path"), "{cmd:?} --help:\n{help}");
        let written = format!("`whittle {} --allow-path", cmd.join(" "));
        assert!(readme.contains(&written), "README lacks {written}");
    }
}
