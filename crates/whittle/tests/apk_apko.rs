//! apko parity (issue 3): busybox applet links made natively from a test-built, signed APK
//! repository, and apko-style configs (fields as in apko's own examples) that either build or are
//! refused with an error naming the field.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::apk::{Pkg, signed_repo};

fn manifest_and_config(layout: &Path) -> (serde_json::Value, serde_json::Value) {
    let layout = whittle_testutil::oci::Layout::new(layout);
    (layout.config(), layout.manifest())
}

const APPLETS: &[u8] = b"/bin/busybox\n/bin/sh\n/bin/ls\n/bin/gzip\n/sbin/ifconfig\n/usr/bin/awk\n/usr/sbin/crond\n/bin/sh\n";

/// A repository with a fake busybox (a script and its applet list, as Alpine and Wolfi ship
/// them), a package that owns `/bin/ls`, and a baselayout with `/etc/os-release`.
fn busybox_repo(root: &Path) -> PathBuf {
    signed_repo(
        root,
        &[
            Pkg {
                name: "busybox",
                version: "1.36.1-r5",
                extra: "",
                files: vec![
                    ("bin/", b"", 0o755, None),
                    ("bin/busybox", b"#!/bin/false\n", 0o755, None),
                    ("etc/", b"", 0o755, None),
                    ("etc/busybox-paths.d/", b"", 0o755, None),
                    ("etc/busybox-paths.d/busybox", APPLETS, 0o644, None),
                ],
            },
            Pkg {
                name: "fake-ls",
                version: "9.4-r0",
                extra: "",
                files: vec![("bin/ls", b"real ls\n", 0o755, None)],
            },
            Pkg {
                name: "baselayout",
                version: "1-r0",
                extra: "",
                files: vec![
                    ("etc/", b"", 0o755, None),
                    (
                        "usr/lib/os-release",
                        b"ID=test\nVERSION_ID=1\n",
                        0o644,
                        None,
                    ),
                    ("etc/os-release", b"", 0o777, Some("../usr/lib/os-release")),
                ],
            },
        ],
    )
}

fn repo_lines(repo: &Path, key: &Path) -> String {
    format!(
        "  keyring:\n    - {}\n  repositories:\n    - {}\n",
        key.display(),
        repo.display()
    )
}

#[test]
fn busybox_applet_links_are_made_natively() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let key = busybox_repo(&repo);
    // apko's alpine-base-rootless.yaml, pointed at the test repository
    let cfg = format!(
        "contents:\n{}  packages:\n    - busybox\n    - fake-ls\n\n\
         entrypoint:\n  command: /bin/sh -l\n\n\
         accounts:\n  groups:\n    - groupname: nonroot\n      gid: 10000\n  users:\n    - username: nonroot\n      uid: 10000\n  run-as: nonroot\n\n\
         # optional environment configuration\nenvironment:\n  PATH: /usr/sbin:/sbin:/usr/bin:/bin\n\
         archs: [x86_64]\n",
        repo_lines(&repo, &key)
    );
    let layout = dir.path().join("img");
    build(
        dir.path(),
        &cfg,
        &format!("oci:{}:t", layout.display()),
        &dir.path().join("cache"),
        &["--source-date-epoch", "1700000000"],
    );
    let files = layer_entries(&layout);
    for link in [
        "bin/sh",
        "bin/gzip",
        "sbin/ifconfig",
        "usr/bin/awk",
        "usr/sbin/crond",
    ] {
        assert_eq!(
            files.get(link),
            Some(&("symlink".to_string(), b"/bin/busybox".to_vec())),
            "{link}"
        );
    }
    // the file a package installed wins; busybox itself stays the file
    assert_eq!(files["bin/ls"], ("file".to_string(), b"real ls\n".to_vec()));
    assert_eq!(files["bin/busybox"].0, "file");
    let (config, _) = manifest_and_config(&layout);
    assert_eq!(config["config"]["User"], "10000:10000");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/bin/sh", "-l"])
    );
    assert!(
        config["config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("PATH=/usr/sbin:/sbin:/usr/bin:/bin"))
    );
    // the links are not owned by a package in the installed DB
    let db = String::from_utf8(files["lib/apk/db/installed"].1.clone()).unwrap();
    assert!(db.contains("P:busybox\n") && !db.contains("R:sh\n"), "{db}");

    // reproducible: the same digest again, from a cold cache
    let again = dir.path().join("again");
    build(
        dir.path(),
        &cfg,
        &format!("oci:{}:t", again.display()),
        &dir.path().join("cache2"),
        &["-q", "--source-date-epoch", "1700000000"],
    );
    assert_eq!(
        std::fs::read(layout.join("index.json")).unwrap(),
        std::fs::read(again.join("index.json")).unwrap()
    );
}

#[test]
fn apko_style_configs_build_or_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let key = busybox_repo(&repo);
    let repos = repo_lines(&repo, &key);

    // 1. wolfi-base.yaml / label.yaml style, plus the image-config fields of apko's schema
    let cfg = format!(
        "contents:\n  keyring:\n    - {}\n  repositories:\n    - '@local {}'\n  packages:\n    - busybox@local\n    - baselayout@local\n\n\
         entrypoint:\n  command: /bin/sh -l\ncmd: -c true\nwork-dir: /home/app\nstop-signal: SIGQUIT\n\
         volumes: [/data]\nvcs-url: https://github.com/example/app@0123abcd\n\
         annotations:\n  org.opencontainers.image.title: apko-style\n\
         os-release:\n  id: example\n  name: Example Linux\n  version-id: '2024.1'\n  pretty-name: Example Linux 2024.1\n  home-url: https://example.org/\n\
         accounts:\n  groups: [{{groupname: app, gid: 1000}}]\n  users: [{{username: app, uid: 1000, gid: 1000, homedir: /home/app}}]\n  run-as: app\n\
         paths:\n  - path: /data\n    type: directory\n    uid: 1000\n    gid: 1000\n    permissions: 0o750\n\
         \x20 - {{path: /etc/app.conf, type: empty-file, permissions: 0o640}}\n\
         \x20 - {{path: /usr/bin/vi, type: symlink, source: /bin/busybox}}\n\
         \x20 - {{path: /bin/bb, type: hardlink, source: /bin/busybox}}\n\
         \x20 - {{path: /etc/app.conf, type: permissions, uid: 1000, gid: 1000, permissions: 0o600}}\n\
         archs:\n- x86_64\n",
        key.display(),
        repo.display()
    );
    let layout = dir.path().join("full");
    build(
        dir.path(),
        &cfg,
        &format!("oci:{}:t", layout.display()),
        &dir.path().join("cache"),
        &["-q", "--source-date-epoch", "1700000000"],
    );
    let files = layer_entries(&layout);
    let os = String::from_utf8(files["etc/os-release"].1.clone()).unwrap();
    assert_eq!(files["etc/os-release"].0, "file");
    assert_eq!(
        os,
        "ID=example\nNAME=\"Example Linux\"\nPRETTY_NAME=\"Example Linux 2024.1\"\nVERSION_ID=2024.1\nHOME_URL=\"https://example.org/\"\n"
    );
    assert_eq!(files["etc/example-release"].1, b"2024.1\n");
    // the package's own file behind the symlink it shipped is left alone
    assert_eq!(files["usr/lib/os-release"].1, b"ID=test\nVERSION_ID=1\n");
    assert_eq!(files["usr/bin/vi"].0, "symlink");
    // a hardlink group: the first path in tar order carries the content
    assert_eq!(files["bin/bb"].0, "file");
    assert_eq!(
        files["bin/busybox"],
        ("hardlink".to_string(), b"bin/bb".to_vec())
    );
    assert_eq!(files["etc/app.conf"].0, "file");
    let (config, manifest) = manifest_and_config(&layout);
    let c = &config["config"];
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["WorkingDir"], "/home/app");
    assert_eq!(c["Cmd"], serde_json::json!(["-c", "true"]));
    assert_eq!(c["User"], "1000:1000");
    let ann = &manifest["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.source"],
        "https://github.com/example/app"
    );
    assert_eq!(ann["org.opencontainers.image.revision"], "0123abcd");
    assert_eq!(ann["org.opencontainers.image.title"], "apko-style");
    // the SBOM names the distro from the os-release written
    let sbom = std::fs::read_to_string(dir.path().join("full.spdx.json")).unwrap();
    assert!(sbom.contains("pkg:apk/example/busybox@1.36.1-r5"), "{sbom}");

    // 2-5. apko fields whittle refuses, each named with what to do
    for (name, cfg, field, hint) in [
        (
            "nginx.yaml",
            format!(
                "contents:\n{repos}  packages:\n    - busybox\n\nentrypoint:\n  type: service-bundle\n  services:\n    nginx: /usr/sbin/nginx -c /etc/nginx/nginx.conf -g \"daemon off;\"\n"
            ),
            "unknown field `type`",
            "entrypoint.command",
        ),
        (
            "options.yaml",
            format!(
                "contents:\n{repos}  packages:\n    - busybox\narchs:\n- x86_64\n\noptions:\n  debug:\n    contents:\n      packages:\n        add:\n          - busybox\n"
            ),
            "unknown field `options`",
            "one config file per variant",
        ),
        (
            "wolfi-go.yaml",
            format!(
                "image:\n  name: apko-go\n  version: 1.0.0\n\ncontents:\n{repos}  packages:\n    - busybox\n"
            ),
            "unknown field `image`",
            "-o",
        ),
        (
            "certificates.yaml",
            format!(
                "contents:\n{repos}  packages:\n    - busybox\nentrypoint:\n  command: /bin/sh -c\ncertificates:\n  additional:\n    - name: x\n      content: y\n"
            ),
            "unknown field `certificates`",
            "type: local",
        ),
    ] {
        std::fs::write(dir.path().join(name), &cfg).unwrap();
        let err = run_fail(whittle().current_dir(dir.path()).args([
            "build",
            name,
            "-o",
            "oci:refused",
            "--cache-dir",
            "cache",
        ]));
        assert!(err.contains(field) && err.contains(hint), "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: the error names the file: {err}"
        );
    }
    assert!(!dir.path().join("refused").exists());
}

/// Builds `packages` from a signed test repository of `pkgs`; returns the layer's entries and
/// the build's stderr.
fn build_packages(pkgs: &[Pkg], packages: &str) -> (BTreeMap<String, (String, Vec<u8>)>, String) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let key = signed_repo(&repo, pkgs);
    let cfg = format!(
        "contents:\n{}  packages: [{packages}]\nentrypoint:\n  command: /bin/busybox\naccounts:\n  run-as: 65532\narchs: [x86_64]\n",
        repo_lines(&repo, &key)
    );
    std::fs::write(dir.path().join("image.yaml"), &cfg).unwrap();
    let out = whittle()
        .current_dir(dir.path())
        .args([
            "build",
            "image.yaml",
            "-o",
            "oci:img",
            "--cache-dir",
            "cache",
            "--source-date-epoch",
            "1700000000",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (layer_entries(&dir.path().join("img")), err)
}

fn links_to_busybox(files: &BTreeMap<String, (String, Vec<u8>)>) -> Vec<&str> {
    files
        .iter()
        .filter(|(_, v)| v.0 == "symlink" && v.1 == b"/bin/busybox")
        .map(|(k, _)| k.as_str())
        .collect()
}

/// An Alpine v3.16-style busybox: `/bin/busybox` and no applet list.
fn old_busybox(version: &str) -> Pkg<'_> {
    Pkg {
        name: "busybox",
        version,
        extra: "",
        files: vec![
            ("bin/", b"", 0o755, None),
            ("bin/busybox", b"#!/bin/false\n", 0o755, None),
        ],
    }
}

#[test]
fn busybox_without_an_applet_list_gets_the_built_in_links() {
    let (files, err) = build_packages(
        &[
            old_busybox("1.35.0-r17"),
            Pkg {
                name: "fake-ls",
                version: "9.4-r0",
                extra: "",
                files: vec![("bin/ls", b"real ls\n", 0o755, None)],
            },
            Pkg {
                name: "fake-gawk",
                version: "5.2-r0",
                extra: "",
                files: vec![("usr/bin/awk", b"real awk\n", 0o755, None)],
            },
        ],
        "busybox, fake-ls, fake-gawk",
    );
    assert!(
        err.contains("built-in busybox 1.35.0 list") && err.contains("busybox 1.35.0-r17"),
        "{err}"
    );
    assert!(
        err.lines()
            .filter(|l| l.contains("busybox"))
            .all(|l| !l.contains("warning")),
        "an exact list is no warning: {err}"
    );
    for link in [
        "bin/sh",
        "bin/ash",
        "bin/gzip",
        "bin/grep",
        "sbin/ifconfig",
        "sbin/nologin",
        "usr/bin/vi",
        "usr/bin/wget",
        "usr/bin/[",
        "usr/sbin/crond",
        "usr/sbin/adduser",
    ] {
        assert_eq!(
            files.get(link),
            Some(&("symlink".to_string(), b"/bin/busybox".to_vec())),
            "{link}"
        );
    }
    // files packages installed win; busybox itself stays the file
    assert_eq!(files["bin/ls"], ("file".to_string(), b"real ls\n".to_vec()));
    assert_eq!(
        files["usr/bin/awk"],
        ("file".to_string(), b"real awk\n".to_vec())
    );
    assert_eq!(files["bin/busybox"].0, "file");
    // applets Alpine's busybox does not have get no link
    for absent in ["bin/bash", "usr/bin/dpkg", "usr/bin/ssl_client", "linuxrc"] {
        assert!(!files.contains_key(absent), "{absent}");
    }
    // 313 listed, two of them owned by packages
    assert_eq!(links_to_busybox(&files).len(), 311);
    // missing parents were created as plain directories
    assert_eq!(files["usr/sbin"].0, "dir");
    // the links are not recorded as owned by busybox in the installed DB
    let db = String::from_utf8(files["lib/apk/db/installed"].1.clone()).unwrap();
    assert!(db.contains("P:busybox\n") && !db.contains("R:sh\n"), "{db}");
}

#[test]
fn the_built_in_links_follow_a_wolfi_style_merged_usr() {
    let (files, err) = build_packages(
        &[
            Pkg {
                name: "wolfi-baselayout",
                version: "20230201-r0",
                extra: "",
                files: vec![
                    ("usr/", b"", 0o755, None),
                    ("usr/bin/", b"", 0o755, None),
                    ("usr/sbin/", b"", 0o755, None),
                    ("bin", b"", 0o777, Some("usr/bin")),
                    ("sbin", b"", 0o777, Some("usr/sbin")),
                ],
            },
            Pkg {
                name: "busybox",
                version: "1.35.0-r2",
                extra: "",
                files: vec![
                    ("usr/", b"", 0o755, None),
                    ("usr/bin/", b"", 0o755, None),
                    ("usr/bin/busybox", b"#!/bin/false\n", 0o755, None),
                ],
            },
        ],
        "wolfi-baselayout, busybox",
    );
    assert!(err.contains("built-in busybox 1.35.0 list"), "{err}");
    assert_eq!(files["bin"], ("symlink".to_string(), b"usr/bin".to_vec()));
    assert_eq!(files["sbin"], ("symlink".to_string(), b"usr/sbin".to_vec()));
    for link in [
        "usr/bin/sh",
        "usr/bin/awk",
        "usr/sbin/ifconfig",
        "usr/sbin/crond",
    ] {
        assert_eq!(
            files.get(link),
            Some(&("symlink".to_string(), b"/bin/busybox".to_vec())),
            "{link}"
        );
    }
    // nothing was written through, or instead of, the /bin and /sbin links
    assert!(
        !files
            .keys()
            .any(|k| k.starts_with("bin/") || k.starts_with("sbin/"))
    );
    assert_eq!(files["usr/bin/busybox"].0, "file");
    // /bin and /usr/bin (and /sbin, /usr/sbin) hold no applet twice: one link per name
    assert_eq!(links_to_busybox(&files).len(), 313);
}

#[test]
fn a_busybox_version_without_a_built_in_list_warns_and_uses_the_newest() {
    let (files, err) = build_packages(&[old_busybox("1.34.1-r7")], "busybox");
    assert!(
        err.contains("no built-in list for busybox 1.34.1")
            && err.contains("the busybox 1.35.0 list was used"),
        "{err}"
    );
    assert_eq!(
        files.get("bin/sh"),
        Some(&("symlink".to_string(), b"/bin/busybox".to_vec()))
    );
}

/// The built-in 1.35.0 list against real data: a real `alpine:3.10` image (busybox 1.30.1) links
/// exactly the list's paths except the six applets Alpine enabled only later (see the list's
/// header), locations included.
#[test]
fn the_built_in_list_matches_a_real_alpine_image() {
    let Some(fx) = fixtures() else { return };
    let archive = fx.join("images/docker-archive/trivy-alpine-3.10.tar.gz");
    let bytes = std::fs::read(&archive).unwrap();
    let mut outer = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut real = std::collections::BTreeSet::new();
    for e in outer.entries().unwrap() {
        let mut e = e.unwrap();
        if !e.path().unwrap().ends_with("layer.tar") {
            continue;
        }
        let mut layer = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut layer).unwrap();
        for l in tar::Archive::new(layer.as_slice()).entries().unwrap() {
            let l = l.unwrap();
            if l.header().entry_type() == tar::EntryType::Symlink
                && l.link_name_bytes().unwrap().as_ref() == b"/bin/busybox"
            {
                real.insert(format!("/{}", l.path().unwrap().display()));
            }
        }
    }
    assert_eq!(real.len(), 307, "{archive:?}");
    let later = [
        "/bin/chattr",
        "/bin/lsattr",
        "/sbin/pivot_root",
        "/sbin/zcip",
        "/usr/bin/last",
        "/usr/bin/who",
    ];
    let list: std::collections::BTreeSet<String> =
        whittle_build::apk::busybox_fallback("1.35.0-r17")
            .unwrap()
            .paths
            .into_iter()
            .filter(|p| !later.contains(&p.as_str()))
            .collect();
    assert_eq!(list, real);
}

/// `ca-certificates`' trigger is not run: its bundle is written natively, as for Debian; a
/// `-bundle` package that ships the bundle keeps its own.
#[test]
fn ca_certificates_get_their_bundle() {
    let cert: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let pkgs = [
        Pkg {
            name: "ca-certificates",
            version: "20240226-r0",
            extra: "",
            files: vec![
                (
                    "usr/share/ca-certificates/mozilla/Root_A.crt",
                    cert,
                    0o644,
                    None,
                ),
                (
                    "usr/share/ca-certificates/mozilla/Root_B.crt",
                    cert,
                    0o644,
                    None,
                ),
            ],
        },
        Pkg {
            name: "ca-certificates-bundle",
            version: "20240226-r0",
            extra: "",
            files: vec![(
                "etc/ssl/certs/ca-certificates.crt",
                b"SHIPPED\n",
                0o644,
                None,
            )],
        },
    ];
    let (files, err) = build_packages(&pkgs, "ca-certificates");
    assert!(err.contains("with 2 certificates"), "{err}");
    let bundle = &files["etc/ssl/certs/ca-certificates.crt"];
    assert_eq!(bundle.0, "file");
    assert_eq!(bundle.1, [cert, cert].concat());
    assert_eq!(
        files["etc/ssl/certs/Root_A.pem"],
        (
            "symlink".to_string(),
            b"/usr/share/ca-certificates/mozilla/Root_A.crt".to_vec()
        )
    );
    let (files, err) = build_packages(&pkgs, "ca-certificates, ca-certificates-bundle");
    assert!(
        !err.contains("certificates, as update-ca-certificates"),
        "{err}"
    );
    assert_eq!(files["etc/ssl/certs/ca-certificates.crt"].1, b"SHIPPED\n");
}
