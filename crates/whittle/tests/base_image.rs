//! `contents.baseimage` (apko's spelling): an app config (gawk) built on a whittle-built base
//! (libc6) from the Debian fixture repository (`deb/bookworm-mini`): the base's layers stay
//! byte for byte at the bottom, the base's packages are not installed again, the base's config
//! is the default, the `org.opencontainers.image.base.*` annotations are set, `whittle sbom`
//! lists base and app packages, runc runs gawk, and a push to a docker-registry where the base
//! was pushed mounts the base's layers and uploads only the new ones. Bad bases are refused.

mod common;
use common::scanners::check_debian_peers;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use whittle_testutil::registry::Registry;

/// A config of `packages` from the fixture repository; `contents` adds lines under `contents:`
/// and `rest` top-level lines.
fn config(fix: &Path, packages: &str, contents: &str, rest: &str) -> String {
    let repo = fix.join("deb/bookworm-mini");
    format!(
        "contents:\n  repositories:\n    - deb [signed-by={key}] file://{repo} bookworm main\n  packages: [{packages}]\n{contents}archs: [amd64]\n{rest}",
        key = repo.join("keys/debian-archive-keyring.gpg").display(),
        repo = repo.display(),
    )
}

const BASE_REST: &str = "environment:\n  BASE_VAR: from-base\n  SHARED: base\nwork-dir: /home/nonroot\naccounts:\n  groups: [{groupname: nonroot, gid: 65532}]\n  users: [{username: nonroot, uid: 65532, gid: 65532}]\n  run-as: nonroot\n";
const APP_REST: &str = "entrypoint:\n  command: /usr/bin/gawk\nenvironment:\n  SHARED: app\n";

/// The parsed manifest and config of `oci:LAYOUT:TAG`.
fn manifest_and_config(layout: &Path, tag: &str) -> (String, serde_json::Value, serde_json::Value) {
    let r = whittle_oci::ImageRef::parse(&format!("oci:{}:{tag}", layout.display())).unwrap();
    let img = whittle_oci::read_image(&r, None).unwrap();
    let manifest = serde_json::to_value(&img.manifest).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&img.config_raw).unwrap();
    (img.manifest_digest.clone(), manifest, config)
}

fn layer_digests(manifest: &serde_json::Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// Builds `app.yaml` in `dir` to `oci:app:t` with the cache `cache`; its stderr.
fn build_app(dir: &Path, cache: &Path) -> String {
    let (_, err) = run_both(
        whittle()
            .current_dir(dir)
            .args(["build", "app.yaml", "-o", "oci:app:t", "--cache-dir"])
            .arg(cache),
    );
    err
}

/// Checks that `oci:APP:t` holds the layers of `oci:BASE:t`, byte for byte, at the bottom and
/// one new layer above, and names the base's digest; the base's manifest and config, then the
/// app's.
fn check_on_base(base: &Path, app: &Path) -> [serde_json::Value; 4] {
    let (base_digest, base_m, base_c) = manifest_and_config(base, "t");
    let (_, app_m, app_c) = manifest_and_config(app, "t");
    let base_layers = layer_digests(&base_m);
    let app_layers = layer_digests(&app_m);
    assert_eq!(app_layers.len(), base_layers.len() + 1);
    assert_eq!(app_layers[..base_layers.len()], base_layers[..]);
    assert_eq!(
        app_m["annotations"]["org.opencontainers.image.base.digest"],
        base_digest.as_str()
    );
    [base_m, base_c, app_m, app_c]
}

/// The top layer of `oci:LAYOUT:TAG`.
fn top_layer(layout: &Path, tag: &str) -> common::Layer {
    common::image_layers(layout, tag).pop().unwrap().1
}

/// The paths of the top layer of `oci:LAYOUT:TAG`.
fn top_layer_paths(layout: &Path, tag: &str) -> BTreeSet<String> {
    top_layer(layout, tag).entries.into_keys().collect()
}

#[test]
fn app_on_a_whittle_built_base_keeps_its_layers_and_merges_the_database() {
    let Some(fix) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let base = d.path().join("base");
    build(
        d.path(),
        &config(&fix, "libc6", "", BASE_REST),
        &format!("oci:{}:t", base.display()),
        &cache,
        &[],
    );
    // a relative `oci:` reference is read against the config's directory
    let app_cfg = config(
        &fix,
        "gawk",
        "  baseimage:\n    image: oci:base:t\n",
        APP_REST,
    );
    std::fs::write(d.path().join("app.yaml"), &app_cfg).unwrap();
    let err = build_app(d.path(), &cache);
    assert!(
        err.contains("already installed in the base image, not installed again:")
            && err.contains(" libc6"),
        "{err}"
    );
    let app = d.path().join("app");

    let [base_m, base_c, app_m, app_c] = check_on_base(&base, &app);
    let base_layers = layer_digests(&base_m);
    let app_layers = layer_digests(&app_m);
    let diff_ids = |c: &serde_json::Value| c["rootfs"]["diff_ids"].as_array().unwrap().clone();
    assert_eq!(diff_ids(&app_c)[..base_layers.len()], diff_ids(&base_c)[..]);
    assert_eq!(app_c["history"].as_array().unwrap().len(), app_layers.len());
    assert_eq!(
        app_m["annotations"]["org.opencontainers.image.base.name"],
        "oci:base:t"
    );
    // the base's config is the default; the app's wins where it sets something
    let env: BTreeSet<&str> = app_c["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(env.contains("BASE_VAR=from-base"), "{env:?}");
    assert!(
        env.contains("SHARED=app") && !env.contains("SHARED=base"),
        "{env:?}"
    );
    assert_eq!(app_c["config"]["User"], base_c["config"]["User"]);
    assert_eq!(app_c["config"]["WorkingDir"], "/home/nonroot");
    assert_eq!(app_c["config"]["Entrypoint"][0], "/usr/bin/gawk");

    // the new layer carries the new packages' database entries, not the base's
    let top = top_layer_paths(&app, "t");
    assert!(top.contains("var/lib/dpkg/status.d/gawk"), "{top:?}");
    assert!(!top.contains("var/lib/dpkg/status.d/libc6"), "{top:?}");
    assert!(
        !top.iter()
            .any(|p| p.starts_with("usr/lib/x86_64-linux-gnu/libc.so"))
    );

    // the SBOM of the image lists the base's and the app's packages
    let sbom = d.path().join("app.spdx.json");
    run(whittle()
        .args(["sbom", &format!("oci:{}:t", app.display()), "-o"])
        .arg(&sbom));
    let names = sbom_packages(&sbom);
    assert!(
        names.iter().any(|n| n == "libc6") && names.iter().any(|n| n == "gawk"),
        "{names:?}"
    );

    if tool("umoci") && tool("runc") && is_root() {
        let bundle = d.path().join("bundle");
        let rootfs = unpack(&app, "t", &bundle);
        let (code, out, err) = runc(&bundle, &["/usr/bin/gawk", "BEGIN { print 6*7 }"]);
        assert_eq!((code, out.trim()), (0, "42"), "{err}");
        // trivy and syft, reading the layers, list the base's and the app's packages as
        // `whittle sbom` does
        check_debian_peers(&app, "t", &d.path().join("peers"), &rootfs, "12");
    } else if !is_root() {
        skip("root (runc)");
    }
}

/// `pushed    N blobs uploaded (…), S already there, M mounted, …` → `(N, S, M)`.
fn push_counts(stderr: &str) -> (usize, usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.contains("blobs uploaded"))
        .unwrap_or_else(|| panic!("no push report in {stderr}"));
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter(|w| !w.is_empty() && !w.contains('.'))
        .map(|w| w.parse().unwrap())
        .collect();
    (nums[0], nums[1], nums[2])
}

#[test]
fn push_on_a_base_in_the_same_registry_uploads_only_the_new_layers() {
    let Some(fix) = fixtures() else { return };
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let host = reg.host();
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let base_ref = format!("{host}/base/glibc:1");
    build(
        d.path(),
        &config(&fix, "libc6", "", BASE_REST),
        &base_ref,
        &cache,
        &[],
    );
    let app_cfg = config(
        &fix,
        "gawk",
        &format!("  baseimage: {{image: {base_ref}}}\n"),
        APP_REST,
    );
    std::fs::write(d.path().join("app.yaml"), &app_cfg).unwrap();
    let push = |dest: &str| {
        run_both(
            whittle()
                .current_dir(d.path())
                .env("WHITTLE_INSECURE_REGISTRY", "1")
                .args(["build", "app.yaml", "--no-sbom", "-o", dest, "--cache-dir"])
                .arg(&cache),
        )
        .1
    };
    // another repository: the base's layer is mounted, the new layer and config uploaded
    let err = push(&format!("{host}/apps/gawk:1"));
    assert_eq!(push_counts(&err), (2, 0, 1), "{err}");
    // again: everything is there
    let err = push(&format!("{host}/apps/gawk:1"));
    assert_eq!(push_counts(&err), (0, 3, 0), "{err}");
}

#[test]
fn bad_base_images_are_refused_clearly() {
    let Some(fix) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let try_build = |image: &str| {
        let cfg = config(
            &fix,
            "gawk",
            &format!("  baseimage: {{image: \"{image}\"}}\n"),
            "",
        );
        std::fs::write(d.path().join("app.yaml"), cfg).unwrap();
        run_fail(
            whittle()
                .current_dir(d.path())
                .args(["build", "app.yaml", "-o", "oci:out:t", "--cache-dir"])
                .arg(&cache),
        )
    };
    // missing
    let err = try_build("oci:nowhere:t");
    assert!(
        err.contains("app.yaml:5:") && err.contains("base image oci:nowhere:t"),
        "{err}"
    );
    // a layer whose path climbs out of the image
    let evil = d.path().join("evil");
    write_layout(&evil, &tar_escaping("../../etc/x"), None);
    let err = try_build(&format!("oci:{}:t", evil.display()));
    assert!(
        err.contains("base image oci:") && err.contains("layer 0"),
        "{err}"
    );
    // a hard link to a file outside the image
    let linked = d.path().join("linked");
    write_layout(
        &linked,
        &tar_escaping_link("x", "../../../etc/passwd"),
        None,
    );
    let err = try_build(&format!("oci:{}:t", linked.display()));
    assert!(
        err.contains("base image oci:") && err.contains("layer 0"),
        "{err}"
    );
    // a layer declared larger than an image may be: refused before anything is read
    let huge = d.path().join("huge");
    write_layout(&huge, &tar_escaping("ok"), Some(65 << 30));
    let err = try_build(&format!("oci:{}:t", huge.display()));
    assert!(err.contains("more than an image may hold"), "{err}");
    assert!(!d.path().join("out").exists());
}

/// An uncompressed layer tar holding one file at `path` as written (the tar crate refuses
/// `..` in names, so the name is put in the header directly).
fn tar_escaping(path: &str) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.as_ustar_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(b"x");
    out.resize(1024, 0);
    out.resize(1024 + 1024, 0);
    out
}

/// An uncompressed layer tar holding one hard link `path` to `target`, both as written.
fn tar_escaping_link(path: &str, target: &str) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    let u = h.as_ustar_mut().unwrap();
    u.name[..path.len()].copy_from_slice(path.as_bytes());
    u.linkname[..target.len()].copy_from_slice(target.as_bytes());
    h.set_size(0);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Link);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.resize(512 + 1024, 0);
    out
}

/// An OCI layout `DIR` tagged `t` holding one amd64 image of the uncompressed layer `blob`
/// (its manifest declaring `declared` bytes when given).
fn write_layout(dir: &Path, blob: &[u8], declared: Option<u64>) {
    let blob = blob.to_vec();
    let diff_id = format!("sha256:{}", sha256(&blob));
    let layer_digest = format!("sha256:{}", sha256(&blob));
    let cfg = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {}
    });
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", sha256(&cfg)), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": declared.unwrap_or(blob.len() as u64)}]
    }))
    .unwrap();
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for b in [&blob, &cfg, &manifest] {
        std::fs::write(blobs.join(sha256(b)), b).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": format!("sha256:{}", sha256(&manifest)), "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "t"}}]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// The files of the top layer of `oci:LAYOUT:TAG` by path.
fn top_layer_files(layout: &Path, tag: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let entries = top_layer(layout, tag).entries;
    entries
        .into_iter()
        .map(|(p, (_, bytes))| (p, bytes))
        .collect()
}

#[test]
fn apk_app_on_an_apk_base_extends_its_installed_database() {
    let Some(fix) = fixtures() else { return };
    let repo = fix.join("apk/e2e-melange-rsa256");
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let cfg = |packages: &str, contents: &str| {
        format!(
            "contents:\n  repositories: [{repo}]\n  keyring: [{key}]\n  packages: [{packages}]\n{contents}archs: [x86_64]\n",
            repo = repo.display(),
            key = repo.join("keys/melange.rsa.pub").display(),
        )
    };
    let base = d.path().join("base");
    build(
        d.path(),
        &cfg("replayout", ""),
        &format!("oci:{}:t", base.display()),
        &cache,
        &[],
    );
    std::fs::write(
        d.path().join("app.yaml"),
        cfg(
            "replayout, custom-ca-certs-1",
            "  baseimage: {image: oci:base:t}\n",
        ),
    )
    .unwrap();
    let err = build_app(d.path(), &cache);
    assert!(
        err.contains("already installed in the base image, not installed again:")
            && err.contains("replayout"),
        "{err}"
    );
    let app = d.path().join("app");
    let [_, _, app_m, app_c] = check_on_base(&base, &app);
    // the top layer's database: the base's packages, then the new one, each once, readable
    let files = top_layer_files(&app, "t");
    let db = &files["lib/apk/db/installed"];
    let parsed = whittle_apk::package::installed::parse_installed("installed", db).unwrap();
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let names: Vec<&str> = parsed.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["pretend-baselayout", "replayout", "custom-ca-certs-1"],
        "{}",
        String::from_utf8_lossy(db)
    );
    let world = String::from_utf8(files["etc/apk/world"].clone()).unwrap();
    assert_eq!(world, "custom-ca-certs-1\nreplayout\n");
    assert!(
        !files
            .keys()
            .any(|p| p.contains("replayout") && !p.starts_with("lib/apk"))
    );

    // ko's way: no packages, only the app's files on the base: one layer of just them
    std::fs::write(d.path().join("hello.awk"), "BEGIN { print 1 }\n").unwrap();
    std::fs::write(
        d.path().join("ko.yaml"),
        "contents:\n  baseimage: {image: oci:app:t}\npaths:\n  - {path: /app/hello.awk, type: local, source: hello.awk}\n",
    )
    .unwrap();
    run(whittle()
        .current_dir(d.path())
        .args(["build", "ko.yaml", "-o", "oci:ko:t", "--cache-dir"])
        .arg(&cache));
    let ko = d.path().join("ko");
    let (_, ko_m, ko_c) = manifest_and_config(&ko, "t");
    let app_layers = layer_digests(&app_m);
    assert_eq!(layer_digests(&ko_m)[..app_layers.len()], app_layers[..]);
    // no package gives a time: the base's is the image's
    assert_eq!(ko_c["created"], app_c["created"]);
    assert_eq!(
        top_layer_paths(&ko, "t"),
        BTreeSet::from(["app".to_string(), "app/hello.awk".to_string()])
    );
}

#[test]
fn the_bases_packages_count_as_installed_for_the_solver() {
    // the base has lib 1.0; the repository has moved on to lib 2.0
    let mut repo = make_repo(&[TestPkg::new("lib", "1.0", "")]);
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let line = repo.line();
    let cfg = |packages: &str, contents: &str| {
        format!(
            "contents:\n  repositories:\n    - {}\n  packages: [{packages}]\n{contents}archs: [amd64]\n",
            line
        )
    };
    build(
        d.path(),
        &cfg("lib", ""),
        &format!("oci:{}:t", d.path().join("base").display()),
        &cache,
        &[],
    );
    repo.publish(
        &[
            TestPkg::new("lib", "2.0", ""),
            TestPkg::new("app", "1.0", "Depends: lib (>= 1.0)"),
            TestPkg::new("app2", "1.0", "Depends: lib (>= 2.0)"),
        ],
        "Sun, 02 Nov 2025 00:00:00 UTC",
    );
    let on_base = "  baseimage: {image: oci:base:t}\n";
    // lib 1.0 meets app's dependency: only app is installed
    std::fs::write(d.path().join("app.yaml"), cfg("app", on_base)).unwrap();
    let err = build_app(d.path(), &cache);
    assert!(err.contains("resolve   1 packages: app=1.0"), "{err}");
    let top = top_layer_paths(&d.path().join("app"), "t");
    assert!(top.contains("var/lib/dpkg/status.d/app"), "{top:?}");
    assert!(!top.contains("var/lib/dpkg/status.d/lib"), "{top:?}");
    // a lock made on the base pins only app, and the build from it is the same image
    run(whittle()
        .current_dir(d.path())
        .args(["lock", "app.yaml", "--cache-dir"])
        .arg(&cache));
    let lock = std::fs::read_to_string(d.path().join("app.lock.json")).unwrap();
    assert!(
        lock.contains("\"app\"") && !lock.contains("\"lib\""),
        "{lock}"
    );
    let (from_lock, err) = run_both(
        whittle()
            .current_dir(d.path())
            .args(["build", "app.yaml", "-o", "oci:app-locked:t", "--cache-dir"])
            .arg(&cache),
    );
    assert!(err.contains("app.lock.json"), "{err}");
    let (unlocked, _, _) = manifest_and_config(&d.path().join("app"), "t");
    assert_eq!(from_lock.trim(), unlocked);
    // app2 needs lib 2.0, which the base's lib 1.0 is not: the solver says so
    std::fs::write(d.path().join("app2.yaml"), cfg("app2", on_base)).unwrap();
    let err = run_fail(
        whittle()
            .current_dir(d.path())
            .args(["build", "app2.yaml", "-o", "oci:app2:t", "--cache-dir"])
            .arg(&cache),
    );
    assert!(
        err.contains("base image oci:base:t: cannot resolve the packages for amd64 on it")
            && err.contains("lib 1.0 is already selected"),
        "{err}"
    );
}

#[test]
fn a_multi_arch_base_gives_each_arch_its_own_base_image() {
    let repo = make_repo_archs(
        &[
            TestPkg::new("lib", "1.0", ""),
            TestPkg::new("app", "1.0", "Depends: lib"),
        ],
        &["amd64", "arm64"],
    );
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let cfg = |packages: &str, contents: &str| {
        format!(
            "contents:\n  repositories:\n    - {}\n  packages: [{packages}]\n{contents}archs: [amd64, arm64]\n",
            repo.line()
        )
    };
    build(d.path(), &cfg("lib", ""), "oci:base:t", &cache, &[]);
    build(
        d.path(),
        &cfg("app", "  baseimage: {image: oci:base:t}\n"),
        "oci:app:t",
        &cache,
        &[],
    );
    let layers = |layout: &str, arch: &str| {
        let r = whittle_oci::ImageRef::parse(&format!("oci:{}:t", d.path().join(layout).display()))
            .unwrap();
        let p = whittle_oci::Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: None,
        };
        let img = whittle_oci::read_image(&r, Some(&p)).unwrap();
        (
            img.manifest_digest.clone(),
            img.manifest.annotations.clone(),
            img.layers
                .iter()
                .map(|l| l.digest.clone().unwrap())
                .collect::<Vec<_>>(),
        )
    };
    let (amd_base, _, amd_base_layers) = layers("base", "amd64");
    let (arm_base, _, arm_base_layers) = layers("base", "arm64");
    assert_ne!(amd_base_layers, arm_base_layers);
    for (arch, base, base_layers) in [
        ("amd64", amd_base, amd_base_layers),
        ("arm64", arm_base, arm_base_layers),
    ] {
        let (_, annotations, app_layers) = layers("app", arch);
        assert_eq!(app_layers.len(), 2, "{arch}");
        assert_eq!(app_layers[0], base_layers[0], "{arch}");
        assert_eq!(
            annotations["org.opencontainers.image.base.digest"], base,
            "{arch}"
        );
    }
}
