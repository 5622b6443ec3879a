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
    let cache = mirror_cache();
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
    let config = mirror_config(
        "bookworm",
        "ca-certificates, gawk",
        "  exclude: [dpkg, install-info]\n",
        "amd64",
    );
    let log = build_logged(dir.path(), "img", &config);
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
    let config = |extra: &str| {
        mirror_config(
            "bookworm",
            "python3, ca-certificates, tzdata",
            extra,
            "amd64",
        )
    };
    let log = build_logged(dir.path(), "img", &config(""));
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
    let log = build_logged(
        dir.path(),
        "full",
        &config("  include-script-dependencies: true\n"),
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
    let config = mirror_config("bookworm", "openjdk-17-jre-headless", "", "amd64");
    let log = build_logged(dir.path(), "img", &config);
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

/// Writes the entries of a layer as files under `root` (what `ldconfig -r` reads).
fn materialize(entries: &Entries, root: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let mut hardlinks = Vec::new();
    for (path, (kind, bytes)) in entries {
        let to = root.join(path);
        if kind == "dir" {
            std::fs::create_dir_all(&to).unwrap();
            continue;
        }
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        match kind.as_str() {
            "file" => std::fs::write(&to, bytes).unwrap(),
            "symlink" => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(bytes), &to).unwrap()
            }
            _ => hardlinks.push((root.join(std::ffi::OsStr::from_bytes(bytes)), to)),
        }
    }
    for (from, to) in hardlinks {
        std::fs::hard_link(from, to).unwrap();
    }
}

/// The host's `ldconfig` (libc-bin), the oracle for `/etc/ld.so.cache`.
fn host_ldconfig() -> Option<&'static str> {
    let found = ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    if found.is_none() {
        skip("ldconfig (libc-bin)");
    }
    found
}

/// Sets environment variables of an unpacked bundle's process.
fn set_env(bundle: &Path, vars: &[&str]) {
    let path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let env = cfg["process"]["env"].as_array_mut().unwrap();
    for v in vars {
        let name = v.split('=').next().unwrap();
        env.retain(|e| !e.as_str().unwrap().starts_with(&format!("{name}=")));
        env.push(serde_json::json!(v));
    }
    std::fs::write(&path, serde_json::to_vec(&cfg).unwrap()).unwrap();
}

/// What libc-bin's and tzdata's maintainer scripts write, done natively: `/etc/ld.so.cache`
/// byte for byte as the real `ldconfig` writes it (the host's on a Debian 12 image without
/// libc-bin; the image's own, run in it, on Debian 12 and 13 images with libc-bin), with the
/// loader using it; none without glibc; `/etc/nsswitch.conf` (distroless's, or libc-bin's
/// default when it is installed); `/etc/localtime` and `/etc/timezone` (UTC); `/tmp` 1777; and
/// C.UTF-8, which libc-bin ships, working where it is installed.
#[test]
fn ld_so_cache_and_etc_files_as_the_scripts_write_them() {
    if !whittle_testutil::mirror() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = |name: &str, suite: &str, packages: &str| {
        let work = dir.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        let log = build_logged(&work, "img", &mirror_config(suite, packages, "", "amd64"));
        (work.join("img"), log)
    };
    let runs = tool("umoci") && tool("runc") && is_root();
    let utc = (
        "symlink".to_string(),
        b"/usr/share/zoneinfo/Etc/UTC".to_vec(),
    );

    // Debian 12, no libc-bin
    let (py, log) = image("python", "bookworm", "python3, ca-certificates, tzdata");
    let Layer {
        entries: files,
        modes,
    } = read_layer(&py);
    assert!(log.contains("assemble  /etc/ld.so.cache with "), "{log}");
    assert!(
        log.contains("/etc/nsswitch.conf as distroless writes it"),
        "{log}"
    );
    assert!(log.contains("/etc/localtime -> /usr/share/zoneinfo/Etc/UTC, /etc/timezone (Etc/UTC), as tzdata's postinst writes them"), "{log}");
    assert_eq!(
        files["etc/nsswitch.conf"],
        (
            "file".to_string(),
            whittle_build::etcfiles::DISTROLESS_NSSWITCH
                .as_bytes()
                .to_vec()
        )
    );
    assert_eq!(files["etc/localtime"], utc);
    assert_eq!(files["etc/timezone"].1, b"Etc/UTC\n");
    assert_eq!(modes["tmp"], 0o1777);
    let ours = files["etc/ld.so.cache"].1.clone();
    let (entries, generator) = whittle_build::ldcache::decode(&ours).unwrap();
    assert!(
        entries.iter().any(|e| e.soname == "libssl.so.3"
            && e.flags == 0x0303
            && e.path == "/lib/x86_64-linux-gnu/libssl.so.3"),
        "{entries:#?}"
    );
    if let Some(ldconfig) = host_ldconfig() {
        let root = dir.path().join("python-root");
        materialize(&files, &root);
        std::fs::remove_file(root.join("etc/ld.so.cache")).unwrap();
        run(std::process::Command::new(ldconfig)
            .args(["-X", "-r"])
            .arg(&root)
            .args(["-C", "/oracle.cache"]));
        let theirs = std::fs::read(root.join("oracle.cache")).unwrap();
        let (their_entries, their_generator) = whittle_build::ldcache::decode(&theirs).unwrap();
        assert_eq!(
            entries, their_entries,
            "the same libraries, flags and order"
        );
        if generator == their_generator {
            assert_eq!(ours, theirs, "byte for byte");
        } else {
            // the host's glibc is not the mirror's: all but the generator string compared
            println!("host {their_generator:?}, image {generator:?}: generator strings differ");
        }
    }
    if runs {
        let bundle = dir.path().join("python-bundle");
        let rootfs = unpack(&py, "t", &bundle);
        use std::os::unix::fs::PermissionsExt;
        let tmp = std::fs::metadata(rootfs.join("tmp")).unwrap();
        assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
        set_env(&bundle, &["LD_DEBUG=libs"]);
        let (code, out, err) = runc(
            &bundle,
            &[
                "/usr/bin/python3",
                "-c",
                "import ssl, sqlite3, time, zoneinfo; print(ssl.create_default_context().cert_store_stats()['x509_ca'], time.tzname[0])",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("search cache=/etc/ld.so.cache"), "{err}");
        assert!(
            err.contains("trying file=/lib/x86_64-linux-gnu/libssl.so.3"),
            "{err}"
        );
        let (cas, zone) = out.trim().split_once(' ').unwrap();
        assert!(cas.parse::<usize>().unwrap() >= 100, "{out}");
        assert_eq!(zone, "UTC");
    }

    // no C library: no cache, the /etc files still
    let (stat, log) = image("static", "bookworm", "base-files, netbase, tzdata");
    let files = layer_entries(&stat);
    assert!(!files.contains_key("etc/ld.so.cache"), "{log}");
    assert!(!log.contains("ld.so.cache"), "{log}");
    assert_eq!(files["etc/localtime"], utc);
    assert!(files.contains_key("etc/nsswitch.conf"));

    // with libc-bin, Debian 12 and 13: its nsswitch.conf default, its C.UTF-8 and its ldconfig
    for suite in ["bookworm", "trixie"] {
        let (img, log) = image(suite, suite, "python3, libc-bin");
        let files = layer_entries(&img);
        assert!(
            log.contains("/etc/nsswitch.conf as libc-bin's postinst writes it"),
            "{log}"
        );
        assert_eq!(
            files["etc/nsswitch.conf"],
            files["usr/share/libc-bin/nsswitch.conf"]
        );
        assert!(files.contains_key("usr/lib/locale/C.utf8/LC_CTYPE"));
        if !runs {
            continue;
        }
        let bundle = dir.path().join(format!("{suite}-bundle"));
        let rootfs = unpack(&img, "t", &bundle);
        let (code, _, err) = runc(
            &bundle,
            &["/sbin/ldconfig", "-X", "-C", "/tmp/oracle.cache"],
        );
        assert_eq!(code, 0, "{err}");
        let theirs = std::fs::read(rootfs.join("tmp/oracle.cache")).unwrap();
        let ours = std::fs::read(rootfs.join("etc/ld.so.cache")).unwrap();
        assert_eq!(
            whittle_build::ldcache::decode(&ours),
            whittle_build::ldcache::decode(&theirs)
        );
        assert_eq!(
            ours, theirs,
            "{suite}: byte for byte what its ldconfig writes"
        );
        set_env(&bundle, &["LANG=C.UTF-8"]);
        let (code, out, err) = runc(
            &bundle,
            &[
                "/usr/bin/python3",
                "-c",
                "import locale; print(locale.setlocale(locale.LC_ALL, ''))",
            ],
        );
        assert_eq!((code, out.as_str(), err.as_str()), (0, "C.UTF-8\n", ""));
    }
}
