//! `whittle build` against the real Debian 12 data in ../shared/fixtures/deb/bookworm-mini (a real
//! signed InRelease, the complete real Packages.xz, the real .deb closure of gawk), used as a
//! file:// repository. The image must start under runc, be accepted by skopeo and umoci, carry no
//! shell, and have the same digest when built elsewhere at another time.

mod common;
use common::*;
use std::path::Path;

#[test]
fn gawk_image_runs_is_minimal_and_reproducible() {
    let Some(fix) = fixtures() else { return };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let config = fixture_config(&fix, "gawk", "");
    let layout_a = a.path().join("layout");
    let digest_a = build(
        a.path(),
        &config,
        &format!("oci:{}:gawk", layout_a.display()),
        &a.path().join("cache"),
        &[],
    );
    assert!(digest_a.starts_with("sha256:"), "{digest_a}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // another directory, another cache, another time: the same image
    let digest_b = build(
        b.path(),
        &config,
        "oci-archive:gawk.tar",
        &b.path().join("cache"),
        &[],
    );
    assert_eq!(digest_a, digest_b, "builds must be reproducible");

    // SBOM beside the output, world-readable like the image (not a temporary file's 0600),
    // listing the resolved closure, no package manager, no shell
    let sbom = a.path().join("layout.spdx.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sbom).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "SBOM mode {mode:o}");
    let names = sbom_packages(&sbom);
    for must in ["gawk", "libc6", "libmpfr6", "libgmp10", "libreadline8"] {
        assert!(
            names.iter().any(|n| n == must),
            "{must} missing from {names:?}"
        );
    }
    for never in [
        "dpkg",
        "apt",
        "bash",
        "dash",
        "coreutils",
        "debconf",
        "base-files",
    ] {
        assert!(
            !names.iter().any(|n| n == never),
            "{never} must not be installed: {names:?}"
        );
    }

    // layer size budget: the compressed gawk image is at most 7 MB
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout_a.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(manifest_digest, digest_a);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout_a.join("blobs/sha256").join(&digest_a[7..])).unwrap(),
    )
    .unwrap();
    let compressed: u64 = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum();
    assert!(
        compressed <= 7_000_000,
        "compressed image is {compressed} bytes"
    );

    // skopeo reads both outputs and sees our digest
    if tool("skopeo") {
        for r in [
            format!("oci:{}:gawk", layout_a.display()),
            format!("oci-archive:{}", b.path().join("gawk.tar").display()),
        ] {
            let out = run(std::process::Command::new("skopeo").args(["inspect", &r]));
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["Digest"], digest_a.as_str(), "{r}");
            assert_eq!(v["Architecture"], "amd64");
        }
    }

    // umoci unpacks it; runc runs gawk as the non-root user; there is no shell
    if tool("umoci") && tool("runc") && is_root() {
        let bundle = a.path().join("bundle");
        let rootfs = unpack(&layout_a, "gawk", &bundle);
        for sh in [
            "bin/sh",
            "usr/bin/sh",
            "bin/bash",
            "usr/bin/bash",
            "usr/bin/dash",
        ] {
            assert!(
                std::fs::symlink_metadata(rootfs.join(sh)).is_err(),
                "{sh} must not exist"
            );
        }
        // merged /usr
        assert_eq!(
            std::fs::read_link(rootfs.join("bin")).unwrap(),
            Path::new("usr/bin")
        );
        assert!(rootfs.join("var/lib/dpkg/status.d/gawk").is_file());
        assert!(rootfs.join("usr/share/doc/gawk/copyright").is_file());
        assert!(
            !rootfs.join("usr/share/man").exists(),
            "man pages are dropped"
        );
        let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
        assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");

        let (code, out, err) = runc(&bundle, &["/usr/bin/gawk", "BEGIN { print 6*7 }"]);
        assert_eq!((code, out.as_str()), (0, "42\n"), "stderr: {err}");
        let (code, out, _) = runc(
            &bundle,
            &["/usr/bin/gawk", "BEGIN { print PROCINFO[\"uid\"] }"],
        );
        assert_eq!((code, out.as_str()), (0, "65532\n"), "runs as non-root");
        // the talk's exploit finds no shell: system() fails
        let (_, out, _) = runc(
            &bundle,
            &[
                "/usr/bin/gawk",
                "BEGIN { r = system(\"cat /etc/passwd\"); print \"status\", r }",
            ],
        );
        assert!(!out.contains("root:x:0:0"), "a shell ran: {out}");
        assert!(
            !out.contains("status 0"),
            "system() must fail without /bin/sh: {out}"
        );
    }
}

#[test]
fn offline_build_uses_only_the_cache() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(&fix, "gawk", "");
    let cache = dir.path().join("cache");
    let online = build(dir.path(), &config, "oci:online", &cache, &[]);
    let offline = build(dir.path(), &config, "oci:offline", &cache, &["--offline"]);
    assert_eq!(online, offline);

    // an empty cache offline: a clear error naming what is missing
    std::fs::write(dir.path().join("image.yaml"), &config).unwrap();
    let err = run_fail(
        whittle()
            .current_dir(dir.path())
            .args([
                "build",
                "image.yaml",
                "-o",
                "oci:x",
                "--offline",
                "--cache-dir",
            ])
            .arg(dir.path().join("empty-cache")),
    );
    assert!(err.contains("offline"), "{err}");
    assert!(err.contains("InRelease"), "{err}");
    assert!(!dir.path().join("x").exists(), "no partial output");
}

#[test]
fn docker_archive_output_is_readable_by_skopeo() {
    let Some(fix) = fixtures() else { return };
    if !tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(&fix, "gawk", "");
    build(
        dir.path(),
        &config,
        "docker-archive:gawk.tar:whittle/gawk:1",
        &dir.path().join("cache"),
        &["--no-sbom"],
    );
    let out = run(std::process::Command::new("skopeo").args([
        "inspect",
        &format!("docker-archive:{}", dir.path().join("gawk.tar").display()),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Architecture"], "amd64");
    // the name is recorded in manifest.json, as `docker load` reads it
    let mut ar = tar::Archive::new(std::fs::File::open(dir.path().join("gawk.tar")).unwrap());
    let manifest = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().to_str() == Some("manifest.json"))
        .map(|e| serde_json::from_reader::<_, serde_json::Value>(e).unwrap())
        .expect("manifest.json in the docker-archive");
    assert_eq!(manifest[0]["RepoTags"][0], "whittle/gawk:1");
    assert!(!dir.path().join("gawk.spdx.json").exists(), "--no-sbom");
}

/// `path-exclude` / `path-include` (dpkg's patterns): glibc's gconv modules and gawk's library
/// scripts left out, one script taken back; the build log counts them; gawk still runs its job.
#[test]
fn path_exclude_leaves_package_files_out() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let full = build(
        dir.path(),
        &fixture_config(&fix, "gawk", ""),
        "oci:full:t",
        &cache,
        &[],
    );
    let config = fixture_config(&fix, "gawk", "").replace(
        "  packages: [",
        "  path-exclude: [/usr/lib/*/gconv/*, /usr/share/awk/*]\n  path-include: [/usr/share/awk/ord.awk]\n  packages: [",
    );
    std::fs::write(dir.path().join("image.yaml"), &config).unwrap();
    let (digest, log) = run_both(
        whittle()
            .current_dir(dir.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .args(["build", "image.yaml", "-o", "oci:slim:t", "--cache-dir"])
            .arg(&cache),
    );
    assert_ne!(digest.trim(), full);
    assert!(log.contains("entries left out by path-exclude"), "{log}");
    let all = layer_files(&dir.path().join("full"));
    let slim = layer_files(&dir.path().join("slim"));
    let gconv = |f: &std::collections::BTreeMap<String, Vec<u8>>| {
        f.keys().filter(|p| p.contains("/gconv/")).count()
    };
    assert!(gconv(&all) > 10, "the fixture's libc6 ships gconv modules");
    assert_eq!(gconv(&slim), 0);
    assert!(all.contains_key("usr/share/awk/join.awk"));
    assert!(!slim.contains_key("usr/share/awk/join.awk"));
    assert!(slim.contains_key("usr/share/awk/ord.awk"), "path-include");
    assert!(slim.contains_key("usr/bin/gawk"));
    // the package DB tells scanners only about files that are there
    let sums = |f: &std::collections::BTreeMap<String, Vec<u8>>| {
        String::from_utf8(f["var/lib/dpkg/status.d/libc6.md5sums"].clone()).unwrap()
    };
    assert!(
        sums(&all).contains("/gconv/"),
        "gconv modules are listed where they ship"
    );
    assert!(sums(&all).contains("libc.so.6"));
    assert!(!sums(&slim).contains("/gconv/"), "{}", sums(&slim));
    assert!(
        !sums(&all).contains("usr/share/doc/libc6/NEWS"),
        "left-out docs are not listed"
    );
    let size = |f: &std::collections::BTreeMap<String, Vec<u8>>| -> usize {
        f.values().map(Vec::len).sum()
    };
    assert!(
        size(&slim) + 5_000_000 < size(&all),
        "{} vs {}",
        size(&slim),
        size(&all)
    );

    // a relative pattern is refused with its position
    std::fs::write(
        dir.path().join("image.yaml"),
        config.replace("[/usr/lib/*/gconv/*,", "[usr/lib/*/gconv/*,"),
    )
    .unwrap();
    let err = run_fail(
        whittle()
            .current_dir(dir.path())
            .args(["build", "image.yaml", "-o", "oci:bad:t", "--cache-dir"])
            .arg(&cache),
    );
    assert!(err.contains("image.yaml:"), "{err}");
    assert!(err.contains("path-exclude"), "{err}");
    assert!(err.contains("start with `/`"), "{err}");
}

/// Issue 12: a config cannot inject an account into `/etc/passwd`, nor copy a host file from
/// outside its own directory unless `--allow-path` says so; nothing is written when it is refused.
#[test]
fn hostile_configs_cannot_add_accounts_or_read_host_files() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir(&proj).unwrap();
    let outside = dir.path().join("host-secrets");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("shadow"), b"root:$6$secret:19000::::::\n").unwrap();
    let cfg_path = proj.join("image.yaml");
    // builds the config `text` in `proj`
    let attempt = |text: &str, args: &[&str]| {
        std::fs::write(&cfg_path, text).unwrap();
        whittle()
            .current_dir(&proj)
            .arg("build")
            .arg(&cfg_path)
            .args(["-o", "oci:out:t", "--cache-dir"])
            .arg(dir.path().join("cache"))
            .args(args)
            .output()
            .unwrap()
    };
    let refused = |text: &str, want: &[&str]| {
        let out = attempt(text, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text}: built anyway:\n{err}");
        for w in want {
            assert!(err.contains(w), "{text}: {w:?} not in:\n{err}");
        }
        assert!(
            !proj.join("out").exists(),
            "no output after a refused config"
        );
    };
    let with_paths = |source: &str| {
        fixture_config(
            &fix,
            "gawk",
            &format!("paths:\n  - {{path: /stolen, type: local, source: \"{source}\"}}\n"),
        )
    };
    // fixture_config already declares `nonroot`: these are extra users
    let users = |u: &str| {
        fixture_config(&fix, "gawk", "").replace(
            "users: [{username: nonroot, uid: 65532, gid: 65532}]",
            &format!("users: [{{username: nonroot, uid: 65532, gid: 65532}}, {u}]"),
        )
    };
    for (user, want) in [
        (
            r#"{username: u, uid: 1000, homedir: "/home/u:/x"}"#,
            "`homedir`",
        ),
        (
            r#"{username: u, uid: 1000, shell: "/bin/sh\nevil::0:0::/:/bin/sh"}"#,
            "`shell`",
        ),
    ] {
        refused(&users(user), &[want, "/etc/passwd"]);
    }
    let secret = outside.join("shadow").display().to_string();
    for source in [secret.as_str(), "../host-secrets/shadow"] {
        refused(
            &with_paths(source),
            &["outside the config's directory", "--allow-path"],
        );
    }
    std::fs::create_dir(proj.join("d")).unwrap();
    std::os::unix::fs::symlink(&outside, proj.join("d/up")).unwrap();
    refused(
        &with_paths("d/up/shadow"),
        &["outside the config's directory"],
    );
    // the explicit opt-in works, loudly
    let out = attempt(
        &with_paths(&secret),
        &["--allow-path", outside.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning:") && err.contains("outside the config's directory"),
        "{err}"
    );
    assert_eq!(
        layer_files(&proj.join("out"))
            .get("stolen")
            .map(Vec::as_slice),
        Some(&b"root:$6$secret:19000::::::\n"[..])
    );
}

/// Issue 12: an InRelease whose signature block is 300 KB of garbage gives a short error (the
/// OpenPGP parser's debug dump, with its backtrace and bytes, is not passed on).
#[test]
fn a_garbage_signature_gives_a_short_error() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let src = fix.join("deb/bookworm-mini");
    std::fs::create_dir_all(repo.join("dists/bookworm")).unwrap();
    std::os::unix::fs::symlink(src.join("keys"), repo.join("keys")).unwrap();
    let inrelease = std::fs::read_to_string(src.join("dists/bookworm/InRelease")).unwrap();
    let signed = &inrelease[..inrelease.find("-----BEGIN PGP SIGNATURE-----").unwrap()];
    // deterministic junk: base64 of a long pseudo-random byte run
    let mut x: u32 = 12345;
    let line: String = (0..300_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                [(x >> 16) as usize % 64] as char
        })
        .collect();
    let body: Vec<&str> = line
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    std::fs::write(
        repo.join("dists/bookworm/InRelease"),
        format!(
            "{signed}-----BEGIN PGP SIGNATURE-----\n\n{}\n-----END PGP SIGNATURE-----\n",
            body.join("\n")
        ),
    )
    .unwrap();
    let config = fixture_config(&fix, "gawk", "").replace(
        &format!("file://{}", src.display()),
        &format!("file://{}", repo.display()),
    );
    std::fs::write(dir.path().join("image.yaml"), config).unwrap();
    let err = run_fail(
        whittle()
            .arg("build")
            .arg(dir.path().join("image.yaml"))
            .args(["-o", "oci:out:t", "--cache-dir"])
            .arg(dir.path().join("cache")),
    );
    assert!(err.contains("InRelease"), "{err}");
    assert!(
        err.len() < 2_000,
        "{} bytes of error:\n{}",
        err.len(),
        &err[..2_000]
    );
}
