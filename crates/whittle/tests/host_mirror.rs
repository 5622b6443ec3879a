//! The README's main job against the host's real Debian mirror (read from its apt sources):
//! build examples/gawk.yaml, run it, then build again `--offline` from the cache and get the same
//! digest. Needs the network: runs under CI=true (where it must pass) or with
//! WHITTLE_TEST_MIRROR=1; otherwise it says SKIPPED.

mod common;
use common::*;
use std::path::Path;

#[test]
fn example_builds_from_the_host_mirror_then_offline() {
    if !whittle_testutil::mirror() {
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gawk.yaml");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let layout = dir.path().join("gawk");
    let build = |dest: &str, extra: &[&str]| {
        run(whittle()
            .arg("build")
            .arg(&example)
            .args(["-o", dest, "--cache-dir"])
            .arg(&cache)
            .args(extra))
        .trim()
        .to_string()
    };
    let online = build(&format!("oci:{}:latest", layout.display()), &[]);
    let offline = build(
        &format!("oci:{}:latest", dir.path().join("again").display()),
        &["--offline"],
    );
    assert_eq!(
        online, offline,
        "--offline rebuild from the cache gives the same image"
    );
    let names = sbom_packages(&dir.path().join("gawk.spdx.json"));
    assert!(names.iter().any(|n| n == "gawk"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "dpkg" || n == "install-info"),
        "{names:?}"
    );
    if tool("umoci") && tool("runc") && is_root() {
        let bundle = dir.path().join("bundle");
        unpack(&layout, "latest", &bundle);
        // the example's own entrypoint and cmd, as `docker run IMAGE` would run them
        let (code, out, err) = runc(&bundle, &[]);
        assert_eq!(
            (code, out.as_str()),
            (0, "hello from a minimal image\n"),
            "stderr: {err}"
        );
        let (code, out, err) = runc(&bundle, &["/usr/bin/gawk", "BEGIN { print 6*7 }"]);
        assert_eq!((code, out.as_str()), (0, "42\n"), "stderr: {err}");
    }
}

/// Debian's `ca-certificates` gets the bundle its `postinst` (`update-ca-certificates`) would
/// write, and `gawk` the `/usr/bin/awk` link its `postinst` (`update-alternatives`) would make;
/// openssl reads every certificate of the bundle.
#[test]
fn scripts_native_equivalents_ca_bundle_and_alternatives() {
    if !whittle_testutil::mirror() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = "contents:\n  repositories:\n    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main\n  packages: [ca-certificates, gawk]\n  exclude: [dpkg, install-info]\narchs: [amd64]\n";
    std::fs::write(dir.path().join("image.yaml"), config).unwrap();
    let (_, log) = run_both(
        whittle()
            .current_dir(dir.path())
            .args(["build", "image.yaml", "-o", "oci:img:t", "--cache-dir"])
            .arg(dir.path().join("cache")),
    );
    let files = layer_entries(&dir.path().join("img"));
    let shipped = files
        .keys()
        .filter(|p| p.starts_with("usr/share/ca-certificates/") && p.ends_with(".crt"))
        .count();
    assert!(shipped > 100, "Debian ships ~140 roots, found {shipped}");
    assert!(
        log.contains(&format!("with {shipped} certificates")),
        "{log}"
    );
    let (kind, bundle) = &files["etc/ssl/certs/ca-certificates.crt"];
    assert_eq!(kind, "file");
    let text = String::from_utf8(bundle.clone()).unwrap();
    assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), shipped);
    assert_eq!(
        files["usr/bin/awk"],
        ("symlink".to_string(), b"/etc/alternatives/awk".to_vec())
    );
    assert_eq!(
        files["etc/alternatives/awk"],
        ("symlink".to_string(), b"/usr/bin/gawk".to_vec())
    );
    if tool("openssl") {
        let path = dir.path().join("bundle.crt");
        std::fs::write(&path, bundle).unwrap();
        let out = run(std::process::Command::new("openssl")
            .args(["storeutl", "-noout", "-certs"])
            .arg(&path));
        assert!(out.contains(&format!("Total found: {shipped}")), "{out}");
    }
}

/// Dependencies that only serve maintainer scripts are waived: python3 with certificates and
/// time zones has no package manager, debconf, perl, shell or tar, the build log names each
/// waived dependency and why, and Python's TLS still sees the CA bundle whittle writes. With
/// `include-script-dependencies: true` they are installed as before.
#[test]
fn python3_without_script_only_dependencies_runs() {
    if !whittle_testutil::mirror() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let config = |extra: &str| {
        format!(
            "contents:\n  repositories:\n    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main\n  packages: [python3, ca-certificates, tzdata]\n{extra}archs: [amd64]\n"
        )
    };
    std::fs::write(dir.path().join("image.yaml"), config("")).unwrap();
    let (_, log) = run_both(
        whittle()
            .current_dir(dir.path())
            .args(["build", "image.yaml", "-o", "oci:img:t", "--cache-dir"])
            .arg(&cache),
    );
    let names = sbom_packages(&dir.path().join("img.spdx.json"));
    for bad in [
        "dpkg",
        "apt",
        "debconf",
        "perl-base",
        "perl",
        "tar",
        "dash",
        "bash",
        "install-info",
    ] {
        assert!(!names.iter().any(|n| n == bad), "{bad} in {names:?}");
    }
    for (by, dep) in [
        ("python3-minimal", "\"dpkg (>= 1.13.20)\""),
        ("tzdata", "\"debconf (>= 0.5) | debconf-2.0\""),
        ("ca-certificates", "\"debconf (>= 0.5) | debconf-2.0\""),
        ("readline-common", "\"dpkg (>= 1.15.4) | install-info\""),
    ] {
        let line = format!("waived: {by} depends on {dep}, which only maintainer scripts use");
        assert!(log.contains(&line), "{line} not in:\n{log}");
    }
    let files = layer_entries(&dir.path().join("img"));
    for gone in [
        "usr/bin/sh",
        "usr/bin/bash",
        "usr/bin/perl",
        "usr/bin/tar",
        "usr/bin/dpkg",
    ] {
        assert!(!files.contains_key(gone), "{gone} in the image");
    }
    if tool("umoci") && tool("runc") && is_root() {
        let bundle = dir.path().join("bundle");
        unpack(&dir.path().join("img"), "t", &bundle);
        let (code, out, err) = runc(
            &bundle,
            &[
                "/usr/bin/python3",
                "-c",
                "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])",
            ],
        );
        assert_eq!(code, 0, "stderr: {err}");
        let cas: usize = out.trim().parse().unwrap_or_else(|_| panic!("{out}"));
        assert!(cas >= 100, "Python's TLS sees {cas} CA certificates");
    }

    // The switch turns the waiver off: the old closure, from the same cache.
    std::fs::write(
        dir.path().join("full.yaml"),
        config("  include-script-dependencies: true\n"),
    )
    .unwrap();
    let (_, log) = run_both(
        whittle()
            .current_dir(dir.path())
            .args(["build", "full.yaml", "-o", "oci:full:t", "--cache-dir"])
            .arg(&cache),
    );
    assert!(!log.contains("waived:"), "{log}");
    let full = sbom_packages(&dir.path().join("full.spdx.json"));
    for back in ["dpkg", "tar", "debconf"] {
        assert!(full.iter().any(|n| n == back), "{back} not in {full:?}");
    }
    assert!(names.iter().all(|n| full.contains(n)));
}

/// The plain `openjdk-17-jre-headless` config gives an image in which Java runs: `/usr/bin/java`
/// and `/usr/bin/keytool` exist (openjdk's `postinst` registers them in a loop; whittle reads the
/// JVM's `.jinfo` file), and the trust store `ca-certificates-java` would write holds every
/// certificate of the image's CA bundle.
#[test]
fn openjdk_runs_and_its_trust_store_holds_the_ca_bundle() {
    if !whittle_testutil::mirror() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = "contents:\n  repositories:\n    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main\n  packages: [openjdk-17-jre-headless]\narchs: [amd64]\n";
    std::fs::write(dir.path().join("image.yaml"), config).unwrap();
    let (_, log) = run_both(
        whittle()
            .current_dir(dir.path())
            .args(["build", "image.yaml", "-o", "oci:img:t", "--cache-dir"])
            .arg(dir.path().join("cache")),
    );
    let jvm = "/usr/lib/jvm/java-17-openjdk-amd64";
    for tool in ["java", "keytool"] {
        assert!(
            log.contains(&format!("{tool} -> {jvm}/bin/{tool}")),
            "{tool} not in:\n{log}"
        );
    }
    if !(tool("umoci") && tool("runc") && is_root()) {
        return;
    }
    let bundle = dir.path().join("bundle");
    let rootfs = unpack(&dir.path().join("img"), "t", &bundle);
    let pem = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    let certs = pem.matches("-----BEGIN CERTIFICATE-----").count();
    assert!(
        certs >= 100,
        "the image's CA bundle holds {certs} certificates"
    );
    assert!(
        log.contains(&format!(
            "assemble  /etc/ssl/certs/java/cacerts with {certs} certificates, as ca-certificates-java would write it\n"
        )),
        "{log}"
    );
    assert_eq!(
        std::fs::read_link(rootfs.join("usr/bin/java")).unwrap(),
        Path::new("/etc/alternatives/java")
    );

    let (code, out, err) = runc(&bundle, &["/usr/bin/java", "-version"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("openjdk version \"17."), "{err}");
    // the JRE's lib/security/cacerts links to the keystore whittle wrote
    let (code, out, err) = runc(
        &bundle,
        &[
            "/usr/bin/keytool",
            "-list",
            "-cacerts",
            "-storepass",
            "changeit",
        ],
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains(&format!("Your keystore contains {certs} entries")),
        "{out}"
    );
    assert_eq!(out.matches("trustedCertEntry").count(), certs, "{out}");
}
