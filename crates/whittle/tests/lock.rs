//! Lockfiles against a generated Debian repository, signed by a test key, that moves on:
//! `whittle lock`, builds from the lock (the same digest after the repository published a new
//! version), re-locking, a stale lock refused, `--offline` from a lock, packages gone from the
//! repository, and bad locks refused naming the field.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const NEXT_DAY: &str = "Sun, 02 Nov 2025 00:00:00 UTC";

fn packages(libx: &'static str) -> Vec<TestPkg> {
    vec![
        TestPkg::new("app", "1.0-1", "Depends: libx (>= 1)"),
        TestPkg::new("libx", libx, ""),
    ]
}

fn config(repo: &Repo, packages: &str) -> String {
    format!(
        "contents:\n  repositories:\n    - {}\n  packages: [{packages}]\narchs: [amd64]\n",
        repo.line()
    )
}

/// `whittle lock image.yaml` in `dir`; returns stdout.
fn lock(dir: &Path) -> String {
    run(whittle()
        .current_dir(dir)
        .args(["lock", "image.yaml", "--cache-dir", "cache"]))
}

/// `whittle build image.yaml -o oci:img` in `dir` with `cache` and `extra` arguments.
fn build_cmd(dir: &Path, cache: &str, extra: &[&str]) -> Command {
    let mut c = whittle();
    c.current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .args(["build", "image.yaml", "-o", "oci:img", "--cache-dir", cache])
        .args(extra);
    c
}

/// [`build_cmd`], succeeding; returns (digest, stderr).
fn build_in(dir: &Path, cache: &str, extra: &[&str]) -> (String, String) {
    let (out, err) = run_both(&mut build_cmd(dir, cache, extra));
    (out.trim().to_string(), err)
}

/// [`build_cmd`], failing; returns stderr.
fn build_fails(dir: &Path, cache: &str, extra: &[&str]) -> String {
    run_fail(&mut build_cmd(dir, cache, extra))
}

/// A fresh directory holding `image.yaml` = [`config`] of `repo` installing `app`.
fn app_project(repo: &Repo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("image.yaml"), config(repo, "app")).unwrap();
    dir
}

fn read_lock(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("image.lock.json")).unwrap()).unwrap()
}

#[test]
fn a_lock_keeps_the_image_while_the_repository_moves_on() {
    let mut repo = make_repo(&packages("1.0-1"));
    let dir = app_project(&repo);
    let d = dir.path();

    let out = lock(d);
    assert!(out.contains("locked 2 packages"), "{out}");
    let l = read_lock(d);
    assert_eq!(l["version"], "v1");
    let cfg_sum = format!(
        "sha256:{}",
        sha256(&std::fs::read(d.join("image.yaml")).unwrap())
    );
    assert_eq!(l["config"]["checksum"], cfg_sum.as_str());
    let inrelease = std::fs::read(repo.path("dists/stable/InRelease")).unwrap();
    let r = &l["contents"]["repositories"][0];
    assert_eq!(r["url"], repo.uri().as_str());
    assert_eq!(
        r["release"]["checksum"],
        format!("sha256:{}", sha256(&inrelease)).as_str()
    );
    assert_eq!(r["release"]["date"], "2025-11-01T00:00:00Z");
    let k = &l["contents"]["keyring"][0];
    assert_eq!(k["fingerprints"][0], repo.key.fingerprint().as_str());
    assert!(!k["content"].as_str().unwrap().is_empty());
    let libx = l["contents"]["packages"]["amd64"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libx")
        .unwrap()
        .clone();
    let deb = std::fs::read(repo.path("pool/main/libx_1.0-1_amd64.deb")).unwrap();
    assert_eq!(libx["version"], "1.0-1");
    assert_eq!(libx["architecture"], "amd64");
    assert_eq!(libx["sha256"], sha256(&deb).as_str());
    assert_eq!(libx["size"], deb.len() as u64);
    assert_eq!(
        libx["url"],
        format!("{}/pool/main/libx_1.0-1_amd64.deb", repo.uri()).as_str()
    );

    let (d1, err) = build_in(d, "cache", &[]);
    assert!(
        err.contains("image.lock.json"),
        "the build says it uses the lock: {err}"
    );
    assert!(d1.starts_with("sha256:"), "{d1}");

    // the repository publishes libx 1.0-2 and re-signs; the lock keeps 1.0-1 (from a cold
    // cache too: the old file is still in the pool)
    repo.publish(&packages("1.0-2"), NEXT_DAY);
    let (again, _) = build_in(d, "cache2", &[]);
    assert_eq!(again, d1, "the same image from the lock");
    assert_eq!(sbom_versions(d)["libx"], "1.0-1");
    let (fresh, _) = build_in(d, "cache2", &["--ignore-lock"]);
    assert_ne!(fresh, d1, "--ignore-lock resolves today's packages");

    // re-locking prints the change and the build follows it
    let out = lock(d);
    assert!(out.contains("amd64 libx 1.0-1 → 1.0-2"), "{out}");
    assert!(
        out.contains("index 2025-11-01T00:00:00Z → 2025-11-02T00:00:00Z"),
        "the signed index moved on: {out}"
    );
    assert!(out.contains("2 change(s)"), "nothing else changed: {out}");
    let (d2, _) = build_in(d, "cache", &[]);
    assert_eq!(d2, fresh);
    assert_eq!(sbom_versions(d)["libx"], "1.0-2");

    // apko's --lockfile: another lock, used as the one beside the config would be
    std::fs::rename(d.join("image.lock.json"), d.join("pinned.json")).unwrap();
    let (named, err) = build_in(d, "cache", &["--lockfile", "pinned.json"]);
    assert!(err.contains("pinned.json"), "{err}");
    assert_eq!(named, d2);
    let err = build_fails(d, "cache", &["--lockfile", "missing.json"]);
    assert!(err.contains("missing.json"), "{err}");
    std::fs::rename(d.join("pinned.json"), d.join("image.lock.json")).unwrap();

    // --offline from the lock with a warm cache
    let (offline, _) = build_in(d, "cache", &["--offline"]);
    assert_eq!(offline, d2);

    // the config changes: the lock is refused, naming it and the command that refreshes it
    std::fs::write(d.join("image.yaml"), config(&repo, "app, libx")).unwrap();
    let err = build_fails(d, "cache", &[]);
    assert!(err.contains("image.lock.json"), "{err}");
    assert!(err.contains("whittle lock image.yaml"), "{err}");
    assert!(!d.join("img").exists() || d2 == offline);
    // line endings alone do not make it stale
    std::fs::write(
        d.join("image.yaml"),
        config(&repo, "app").replace('\n', "\r\n"),
    )
    .unwrap();
    let (crlf, _) = build_in(d, "cache", &["--offline"]);
    assert_eq!(crlf, d2);
}

/// Installed package → version, from the SBOM beside `img`.
fn sbom_versions(dir: &Path) -> std::collections::BTreeMap<String, String> {
    spdx_libraries(&std::fs::read(dir.join("img.spdx.json")).unwrap())
        .into_iter()
        .collect()
}

#[test]
fn packages_gone_from_the_repository_are_listed_and_the_cache_is_tried_first() {
    let mut repo = make_repo(&packages("1.0-1"));
    let dir = app_project(&repo);
    let d = dir.path();
    lock(d);
    let (d1, _) = build_in(d, "cache", &[]);
    // the mirror moves on and drops the old files
    repo.publish(&packages("1.0-2"), NEXT_DAY);
    std::fs::remove_file(repo.path("pool/main/libx_1.0-1_amd64.deb")).unwrap();
    std::fs::remove_file(repo.path("pool/main/app_1.0-1_amd64.deb")).unwrap();
    let (warm, _) = build_in(d, "cache", &[]);
    assert_eq!(warm, d1, "the cache still has them");
    let err = build_fails(d, "cold", &[]);
    assert!(err.contains("2 locked package(s)"), "{err}");
    assert!(err.contains("libx_1.0-1_amd64.deb"), "{err}");
    assert!(err.contains("app_1.0-1_amd64.deb"), "{err}");
    assert!(err.contains("snapshot"), "the way out is named: {err}");
}

#[test]
fn bad_locks_are_refused_naming_the_field() {
    let repo = make_repo(&packages("1.0-1"));
    let dir = app_project(&repo);
    let d = dir.path();
    lock(d);
    let good = read_lock(d);
    let refused = |edit: &dyn Fn(&mut serde_json::Value), expect: &[&str]| {
        let mut l = good.clone();
        edit(&mut l);
        std::fs::write(
            d.join("image.lock.json"),
            serde_json::to_vec_pretty(&l).unwrap(),
        )
        .unwrap();
        let err = build_fails(d, "cache", &[]);
        assert!(err.contains("image.lock.json"), "{err}");
        for e in expect {
            assert!(err.contains(e), "{e:?} in {err}");
        }
    };
    let libx = |l: &mut serde_json::Value| -> usize {
        l["contents"]["packages"]["amd64"]
            .as_array()
            .unwrap()
            .iter()
            .position(|p| p["name"] == "libx")
            .unwrap()
    };
    refused(&|l| l["version"] = "v7".into(), &["version", "v7"]);
    // a well-formed hash that does not match what the repository serves
    refused(
        &|l| {
            let i = libx(l);
            l["contents"]["packages"]["amd64"][i]["sha256"] = "0".repeat(64).into();
        },
        &["SHA-256 mismatch", "libx_1.0-1_amd64.deb"],
    );
    refused(
        &|l| {
            let i = libx(l);
            l["contents"]["packages"]["amd64"][i]["sha256"] = "not-a-hash".into();
        },
        &["sha256", "libx"],
    );
    refused(
        &|l| {
            let i = libx(l);
            l["contents"]["packages"]["amd64"][i]["url"] = "file:///etc/passwd".into();
        },
        &["url", "outside its repository"],
    );
    refused(
        &|l| {
            let i = libx(l);
            l["contents"]["packages"]["amd64"][i]["architecture"] = "arm64".into();
        },
        &["architecture", "arm64"],
    );
    // a lock naming another repository than the config's (consistently: URLs under it)
    {
        let mut l = good.clone();
        let evil = "file:///srv/elsewhere";
        let own = repo.uri();
        l["contents"]["repositories"][0]["url"] = evil.into();
        for p in l["contents"]["packages"]["amd64"].as_array_mut().unwrap() {
            p["repository"] = evil.into();
            let url = p["url"].as_str().unwrap().replacen(&own, evil, 1);
            p["url"] = url.into();
        }
        std::fs::write(
            d.join("image.lock.json"),
            serde_json::to_vec_pretty(&l).unwrap(),
        )
        .unwrap();
        let err = build_fails(d, "cache", &[]);
        assert!(
            err.contains("contents.repositories[0].url") && err.contains("not a repository of"),
            "{err}"
        );
    }
    // the command line adds to the config: the lock made from the config alone is refused
    std::fs::write(
        d.join("image.lock.json"),
        serde_json::to_vec(&good).unwrap(),
    )
    .unwrap();
    let err = build_fails(d, "cache", &["-p", "libx"]);
    assert!(
        err.contains("image.lock.json") && err.contains("--ignore-lock"),
        "{err}"
    );
    std::fs::write(d.join("image.lock.json"), b"{\"version\": \"v1\", ").unwrap();
    let err = build_fails(d, "cache", &[]);
    assert!(
        err.contains("image.lock.json") && err.contains("not valid JSON"),
        "{err}"
    );
    // --ignore-lock builds past a bad lock
    let (digest, _) = build_in(d, "cache", &["--ignore-lock"]);
    assert!(digest.starts_with("sha256:"), "{digest}");
}

use common::apk;

/// `bytes=FIRST-LAST` of apko's lock as a slice of `file`.
fn range<'a>(file: &'a [u8], r: &serde_json::Value) -> &'a [u8] {
    let (a, b) = r.as_str().unwrap()["bytes=".len()..]
        .split_once('-')
        .unwrap();
    &file[a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()]
}

/// apko's fields of lock entry `p` for the package `file` listed in `index_text`: `checksum` is the
/// index's `C:`, and the three ranges cut the file into its signature, control and data streams,
/// each with its checksum as apko spells it.
fn assert_apkos_fields(p: &serde_json::Value, file: &[u8], index_text: &str) {
    use base64::Engine as _;
    use sha2::Digest;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let c = p["checksum"].as_str().unwrap();
    assert!(
        index_text.contains(&format!("C:{c}\nP:{}\n", p["name"].as_str().unwrap())),
        "{c} not in the index"
    );
    let sig = range(file, &p["signature"]["range"]);
    let control = range(file, &p["control"]["range"]);
    let data = range(file, &p["data"]["range"]);
    assert_eq!(sig.len() + control.len() + data.len(), file.len());
    assert_eq!(
        p["signature"]["checksum"],
        format!("sha1-{}", b64(&sha1::Sha1::digest(sig))).as_str()
    );
    assert_eq!(
        p["control"]["checksum"],
        format!("sha1-{}", b64(&sha1::Sha1::digest(control))).as_str()
    );
    assert_eq!(c, format!("Q1{}", b64(&sha1::Sha1::digest(control))));
    assert_eq!(
        p["data"]["checksum"],
        format!("sha256-{}", b64(&sha2::Sha256::digest(data))).as_str()
    );
}

/// The text of the `APKINDEX` member of a signed `APKINDEX.tar.gz`.
fn apkindex_text(index: &[u8]) -> String {
    let mut s = String::new();
    let mut a = tar::Archive::new(flate2::read::MultiGzDecoder::new(index));
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("APKINDEX") {
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
        }
    }
    s
}

#[test]
fn apk_locks_carry_apkos_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = d.join("repo");
    let signing = apk::test_key();
    let apk_pkgs = |libx: &'static str, content: &'static [u8]| {
        vec![
            apk::Pkg {
                name: "app",
                version: "1.0-r0",
                extra: "",
                files: vec![("usr/", b"", 0o755, None), ("usr/app", b"app", 0o644, None)],
            },
            apk::Pkg {
                name: "libx",
                version: libx,
                extra: "",
                files: vec![("usr/libx", content, 0o644, None)],
            },
            // listed, not installed: the OS files are written from it
            apk::Pkg::wolfi_baselayout(),
        ]
    };
    apk::write_arch(&repo, "x86_64", &signing, &apk_pkgs("1.0-r0", b"x"));
    let key = apk::write_public_key(&repo, &signing);
    std::fs::write(
        d.join("image.yaml"),
        format!(
            "contents:\n  repositories:\n    - {}\n  keyring:\n    - {}\n  packages: [app, libx]\narchs: [x86_64]\n",
            repo.display(),
            key.display()
        ),
    )
    .unwrap();
    let out = lock(d);
    assert!(out.contains("locked 2 packages"), "{out}");
    let l = read_lock(d);
    let index = std::fs::read(repo.join("x86_64/APKINDEX.tar.gz")).unwrap();
    let r = &l["contents"]["repositories"][0];
    assert_eq!(r["architecture"], "x86_64");
    assert_eq!(
        r["release"]["checksum"],
        format!("sha256:{}", sha256(&index)).as_str()
    );
    let index_text = apkindex_text(&index);
    let pkgs = l["contents"]["packages"]["x86_64"].as_array().unwrap();
    assert_eq!(pkgs.len(), 2);
    for p in pkgs {
        let file = std::fs::read(repo.join(format!(
            "x86_64/{}-{}.apk",
            p["name"].as_str().unwrap(),
            p["version"].as_str().unwrap()
        )))
        .unwrap();
        assert_eq!(p["sha256"], sha256(&file).as_str());
        assert_eq!(p["size"], file.len() as u64);
        assert_eq!(p["architecture"], "x86_64");
        assert_apkos_fields(p, &file, &index_text);
    }
    // the build uses the lock, and keeps its image while the repository moves on
    let (d1, err) = build_in(d, "cache", &[]);
    assert!(err.contains("image.lock.json"), "{err}");
    let (fresh, _) = build_in(d, "cache", &["--ignore-lock"]);
    assert_eq!(d1, fresh, "the lock gives what resolving gives");
    let os = layer_files(&d.join("img"));
    assert!(
        String::from_utf8_lossy(&os["etc/os-release"]).contains("ID=wolfi"),
        "OS files from the lock's release package"
    );
    apk::write_arch(&repo, "x86_64", &signing, &apk_pkgs("1.0-r1", b"y"));
    let (again, _) = build_in(d, "cold", &[]);
    assert_eq!(
        again, d1,
        "the same image from the lock after the repository moved on"
    );
    let (moved, _) = build_in(d, "cache", &["--ignore-lock"]);
    assert_ne!(moved, d1);
    let out = lock(d);
    assert!(out.contains("x86_64 libx 1.0-r0 → 1.0-r1"), "{out}");
    let (relocked, _) = build_in(d, "cache", &["--offline"]);
    assert_eq!(relocked, moved);
    // a package changed under the same name and version is refused by its SHA-256
    let l = read_lock(d);
    let p = l["contents"]["packages"]["x86_64"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "app")
        .unwrap()
        .clone();
    let path = repo.join("x86_64/app-1.0-r0.apk");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = build_fails(d, "cold2", &[]);
    assert!(
        err.contains("SHA-256 mismatch") && err.contains("image.lock.json"),
        "{err}"
    );
    assert!(err.contains(p["url"].as_str().unwrap()), "{err}");
}

/// A real Alpine package in a lock: Alpine's own `alpine-baselayout` 3.2.0-r23 (aarch64, signed by
/// Alpine's key) in a repository beside stand-ins for what it depends on, indexed by `whittle pkg
/// index`. Its lock entry carries apko's fields, and its `checksum` is the `C:` Alpine's index gives
/// it (from the fixture's real index listing that package).
#[test]
fn a_real_alpine_package_is_locked_with_apkos_fields() {
    let Some(fx) = fixtures() else { return };
    let real = fx.join("apk/e2e-rsa256-real-alpine-apk");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = d.join("repo");
    let signing = apk::test_key();
    // what alpine-baselayout depends on (`alpine-baselayout-data=3.2.0-r23 /bin/sh
    // so:libc.musl-aarch64.so.1`), as stand-ins signed by the test key
    apk::write_arch(
        &repo,
        "aarch64",
        &signing,
        &[
            apk::Pkg {
                name: "alpine-baselayout-data",
                version: "3.2.0-r23",
                extra: "",
                files: vec![
                    ("etc/", b"", 0o755, None),
                    ("etc/hostname", b"x\n", 0o644, None),
                ],
            },
            apk::Pkg {
                name: "busybox-binsh",
                version: "1.35.0-r17",
                extra: "provides = /bin/sh\n",
                files: vec![("bin/", b"", 0o755, None), ("bin/sh", b"sh", 0o755, None)],
            },
            apk::Pkg {
                name: "musl",
                version: "1.2.3-r1",
                extra: "provides = so:libc.musl-aarch64.so.1=1\n",
                files: vec![
                    ("lib/", b"", 0o755, None),
                    ("lib/libc.musl-aarch64.so.1", b"c", 0o755, None),
                ],
            },
        ],
    );
    let test_pub = apk::write_public_key(&repo, &signing);
    let apk_name = "alpine-baselayout-3.2.0-r23.apk";
    std::fs::copy(real.join(apk_name), repo.join("aarch64").join(apk_name)).unwrap();
    // the index of all four, signed by a key `whittle pkg keygen` writes
    run(whittle()
        .current_dir(d)
        .args(["pkg", "keygen", "index.rsa"]));
    run(whittle()
        .current_dir(d)
        .args(["pkg", "index", "repo/aarch64", "--key", "index.rsa"]));
    let alpine_key =
        fx.join("apk/alpine-real/keys/alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub");
    std::fs::write(
        d.join("image.yaml"),
        format!(
            "contents:\n  repositories:\n    - ./repo\n  keyring:\n    - ./index.rsa.pub\n    - {}\n    - {}\n  packages: [alpine-baselayout]\narchs: [aarch64]\n",
            test_pub.display(),
            alpine_key.display()
        ),
    )
    .unwrap();
    let out = lock(d);
    assert!(out.contains("locked 4 packages"), "{out}");
    let l = read_lock(d);
    let entry = l["contents"]["packages"]["aarch64"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "alpine-baselayout")
        .unwrap()
        .clone();
    let file = std::fs::read(repo.join("aarch64").join(apk_name)).unwrap();
    assert_eq!(entry["version"], "3.2.0-r23");
    assert_eq!(entry["architecture"], "aarch64");
    assert_eq!(entry["size"], 11012);
    assert_eq!(entry["sha256"], sha256(&file).as_str());
    assert!(
        entry["url"].as_str().unwrap().ends_with(apk_name),
        "{entry}"
    );
    let index = std::fs::read(repo.join("aarch64/APKINDEX.tar.gz")).unwrap();
    assert_apkos_fields(&entry, &file, &apkindex_text(&index));
    // the checksum Alpine's own index metadata gives the package (the fixture's signed index)
    let alpine_index = apkindex_text(&std::fs::read(real.join("APKINDEX.tar.gz")).unwrap());
    assert!(
        alpine_index.contains(&format!(
            "C:{}\nP:alpine-baselayout\nV:3.2.0-r23\n",
            entry["checksum"].as_str().unwrap()
        )),
        "{entry}"
    );
    assert_eq!(entry["checksum"], "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=");
}

/// A tarball of one file `usr/bin/hello` printing `version`; returns its URI and SHA-256.
fn hello_tarball(dir: &Path, version: &str) -> (String, String) {
    let data = format!("#!/bin/sh\necho hello {version}\n");
    tar_gz_file(
        dir,
        &format!("hello-{version}.tar.gz"),
        &[(
            &format!("hello-{version}/usr/bin/hello"),
            data.as_bytes(),
            0o755,
        )],
    )
}

/// `whittle pkg build` of hello `version` into `d/repo` (signed and indexed with `test.rsa`).
fn pkg_build_hello(d: &Path, version: &str) {
    let (uri, sha) = hello_tarball(d, version);
    std::fs::write(
        d.join("hello.yaml"),
        format!(
            "package:\n  name: hello\n  version: {version}\n  epoch: 0\n  description: says hello\n  copyright:\n    - license: MIT\n\
             pipeline:\n  - uses: fetch\n    working-directory: melange-out/hello\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n      strip-components: 1\n"
        ),
    )
    .unwrap();
    pkg_build_hello_yaml(d, "repo");
}

/// A key `test.rsa`, hello 1.0 built with it into `d/repo`, and `d/image.yaml` installing hello
/// from `repo` with `key` (as the config names them).
fn hello_image(d: &Path, repo: &str, key: &str) {
    run(whittle()
        .current_dir(d)
        .args(["pkg", "keygen", "test", "--bits", "2048"]));
    pkg_build_hello(d, "1.0");
    std::fs::write(
        d.join("image.yaml"),
        format!(
            "contents:\n  repositories:\n    - {repo}\n  keyring:\n    - {key}\n  packages: [hello]\narchs: [x86_64]\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_lock_keeps_the_image_while_a_whittle_pkg_repository_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hello_image(
        d,
        &d.join("repo").display().to_string(),
        &d.join("test.rsa.pub").display().to_string(),
    );
    let out = lock(d);
    assert!(out.contains("locked 1 package in"), "{out}");
    let (d1, err) = build_in(d, "cache", &[]);
    assert!(err.contains("image.lock.json"), "{err}");
    // the repository publishes hello 1.1 (and indexes it beside 1.0)
    pkg_build_hello(d, "1.1");
    let (again, _) = build_in(d, "cache2", &[]);
    assert_eq!(again, d1, "the same image from the lock");
    let (fresh, _) = build_in(d, "cache", &["--ignore-lock"]);
    assert_ne!(fresh, d1);
    let out = lock(d);
    assert!(out.contains("x86_64 hello 1.0-r0 → 1.1-r0"), "{out}");
    let (relocked, _) = build_in(d, "cache", &[]);
    assert_eq!(relocked, fresh);
    // the config changes: refused, naming the lockfile and the command
    let cfg = std::fs::read_to_string(d.join("image.yaml")).unwrap();
    std::fs::write(
        d.join("image.yaml"),
        cfg.replace("packages: [hello]", "packages: [hello=1.0-r0]"),
    )
    .unwrap();
    let err = build_fails(d, "cache", &[]);
    assert!(
        err.contains("image.lock.json") && err.contains("whittle lock image.yaml"),
        "{err}"
    );
}

#[test]
fn every_architecture_is_locked_and_changes_are_shown() {
    let mut repo = make_repo_archs(&packages("1.0-1"), &["amd64", "arm64"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("image.yaml"),
        config(&repo, "app").replace("archs: [amd64]", "archs: [amd64, arm64]"),
    )
    .unwrap();
    lock(d);
    let l = read_lock(d);
    for arch in ["amd64", "arm64"] {
        let pkgs = l["contents"]["packages"][arch].as_array().unwrap();
        assert_eq!(pkgs.len(), 2, "{arch}");
        assert!(pkgs.iter().all(|p| p["architecture"] == arch), "{arch}");
    }
    let (d1, _) = build_in(d, "cache", &[]);
    // one architecture of the build, from the same lock
    let (one, _) = build_in(d, "cache", &["--arch", "arm64"]);
    assert_ne!(one, d1);
    // the repository moves on: libx 1.0-2, and app gains a dependency; `publish` writes amd64
    // only, so arm64 is gone from the index
    let mut next = packages("1.0-2");
    next[0] = TestPkg::new("app", "1.0-1", "Depends: libx (>= 1), extra");
    next.push(TestPkg::new("extra", "1.0", ""));
    repo.publish(&next, NEXT_DAY);
    let err =
        run_fail(
            whittle()
                .current_dir(d)
                .args(["lock", "image.yaml", "--cache-dir", "cache"]),
        );
    assert!(
        err.contains("arm64"),
        "a lock needs every architecture: {err}"
    );
    assert_eq!(read_lock(d), l, "a failed lock leaves the old one");
    std::fs::write(d.join("image.yaml"), config(&repo, "app")).unwrap();
    let out = lock(d).replace(&repo.uri(), "REPO");
    insta::assert_snapshot!("relock_changes", out);
}

/// The real Debian 12 fixture repository (signed by Debian's key): the image built from its lock
/// is the one resolving gives, OS files (from the Release the lock kept) included.
#[test]
fn the_real_debian_fixture_builds_the_same_from_its_lock() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("image.yaml"), fixture_config(&fx, "gawk", "")).unwrap();
    let out = lock(d);
    assert!(out.contains("locked"), "{out}");
    let l = read_lock(d);
    let r = &l["contents"]["repositories"][0]["release"];
    assert_eq!(r["origin"], "Debian");
    assert_eq!(r["codename"], "bookworm");
    assert!(r["version"].as_str().unwrap().starts_with("12."), "{r}");
    let inrelease = std::fs::read(fx.join("deb/bookworm-mini/dists/bookworm/InRelease")).unwrap();
    assert_eq!(
        r["checksum"],
        format!("sha256:{}", sha256(&inrelease)).as_str()
    );
    let (resolved, _) = build_in(d, "cache", &["--ignore-lock"]);
    let (locked, err) = build_in(d, "cache", &["--offline"]);
    assert!(err.contains("image.lock.json"), "{err}");
    assert_eq!(locked, resolved);
}

/// A recipe whose build environment is Debian's `busybox-static` from the fixture repository
/// and `libx` from `repo`; its one step copies libx's marker file (`libx VERSION`) into the
/// package, so the package says which libx its environment held.
fn env_recipe(fix: &Path, repo: &Repo, packages: &str, script: &str) -> String {
    let deb = fix.join("deb/bookworm-mini");
    format!(
        "package:\n  name: envver\n  version: 1.0\n  epoch: 0\n  description: which libx the environment held\n  copyright:\n    - license: MIT\n\
         environment:\n  contents:\n    repositories:\n      - deb [signed-by={key}] file://{deb} bookworm main\n      - {line}\n    packages: [{packages}]\n\
         pipeline:\n  - runs: |\n      mkdir -p ${{{{targets.destdir}}}}/usr/share/envver\n      cat /usr/share/whittle-test/marker > ${{{{targets.destdir}}}}/usr/share/envver/version\n      {script}\n",
        key = deb.join("keys/debian-archive-keyring.gpg").display(),
        deb = deb.display(),
        line = repo.line(),
    )
}

/// `whittle pkg build envver.yaml` in `d` with `cache` (and `extra`); returns what the built
/// package's `usr/share/envver/version` says and the build's stderr.
fn pkg_build_envver(d: &Path, cache: &str, extra: &[&str]) -> (String, String) {
    let (_, err) = run_both(
        whittle()
            .current_dir(d)
            .args([
                "pkg",
                "build",
                "envver.yaml",
                "--out",
                "out",
                "--arch",
                "x86_64",
            ])
            .args(["--source-date-epoch", "1700000000", "--cache-dir", cache])
            .args(extra),
    );
    let version = common::apk::member_text(
        &d.join("out/x86_64/envver-1.0-r0.apk"),
        "usr/share/envver/version",
    )
    .unwrap_or_else(|| panic!("the package has no usr/share/envver/version; stderr:\n{err}"));
    (version.trim().to_string(), err)
}

/// `whittle pkg build` environments take a lock (`whittle lock RECIPE`): the package is built
/// in an environment holding the locked libx after the repository published a newer one;
/// re-locking moves it on; a changed environment is refused, a changed pipeline is not.
#[test]
fn a_recipe_lock_keeps_the_build_environment_while_the_repository_moves_on() {
    let Some(fx) = fixture_build_env() else {
        return;
    };
    let mut repo = make_repo(&[TestPkg::new("libx", "1.0-1", "")]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recipe = |repo: &Repo, packages: &str, script: &str| {
        std::fs::write(
            d.join("envver.yaml"),
            env_recipe(&fx, repo, packages, script),
        )
        .unwrap();
    };
    recipe(&repo, "busybox-static, libx", "true");
    let lock_recipe = || {
        run(whittle()
            .current_dir(d)
            .args(["lock", "envver.yaml", "--cache-dir", "cache"]))
    };
    let out = lock_recipe();
    assert!(out.contains("envver.lock.json"), "{out}");
    let l: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("envver.lock.json")).unwrap()).unwrap();
    assert_eq!(l["config"]["name"], "envver.yaml");
    let libx = l["contents"]["packages"]["amd64"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libx")
        .unwrap()
        .clone();
    assert_eq!(libx["version"], "1.0-1");

    // the repository publishes libx 1.0-2; the lock keeps 1.0-1, from a cold cache too
    repo.publish(&[TestPkg::new("libx", "1.0-2", "")], NEXT_DAY);
    let (held, err) = pkg_build_envver(d, "cache2", &[]);
    assert!(err.contains("envver.lock.json"), "the build says so: {err}");
    assert_eq!(held, "libx 1.0-1");
    let (fresh, _) = pkg_build_envver(d, "cache2", &["--ignore-lock"]);
    assert_eq!(fresh, "libx 1.0-2");

    // the pipeline changes: the environment's lock still holds
    recipe(&repo, "busybox-static, libx", "echo changed");
    let (held, _) = pkg_build_envver(d, "cache2", &[]);
    assert_eq!(held, "libx 1.0-1");

    // re-locking prints the change, and the build follows it
    let out = lock_recipe();
    assert!(out.contains("amd64 libx 1.0-1 → 1.0-2"), "{out}");
    let (moved, _) = pkg_build_envver(d, "cache2", &["--offline"]);
    assert_eq!(moved, "libx 1.0-2");

    // --lockfile names another lock; a missing one is an error naming it
    std::fs::rename(d.join("envver.lock.json"), d.join("pinned.json")).unwrap();
    let (named, err) = pkg_build_envver(d, "cache2", &["--lockfile", "pinned.json"]);
    assert!(err.contains("pinned.json"), "{err}");
    assert_eq!(named, "libx 1.0-2");
    let err = run_fail(whittle().current_dir(d).args([
        "pkg",
        "build",
        "envver.yaml",
        "--out",
        "out",
        "--cache-dir",
        "cache2",
        "--lockfile",
        "missing.json",
    ]));
    assert!(err.contains("missing.json"), "{err}");
    std::fs::rename(d.join("pinned.json"), d.join("envver.lock.json")).unwrap();
    // melange's --keyring-append adds to the environment the lock was made from: refused
    let err = run_fail(
        whittle()
            .current_dir(d)
            .args(["pkg", "build", "envver.yaml", "--out", "out"])
            .args(["--cache-dir", "cache2", "--keyring-append"])
            .arg(&repo.keyring),
    );
    assert!(
        err.contains("envver.lock.json") && err.contains("--ignore-lock"),
        "{err}"
    );

    // the environment changes: the lock is refused, naming it and the command that refreshes it
    recipe(&repo, "libx, busybox-static", "true");
    let err = run_fail(whittle().current_dir(d).args([
        "pkg",
        "build",
        "envver.yaml",
        "--out",
        "out",
        "--cache-dir",
        "cache2",
    ]));
    assert!(
        err.contains("envver.lock.json") && err.contains("whittle lock envver.yaml"),
        "{err}"
    );
}

/// `cp -r` of each of `from` into the new directory `to`.
fn copy_into(to: &Path, from: impl IntoIterator<Item = std::path::PathBuf>) {
    std::fs::create_dir(to).unwrap();
    for f in from {
        let st = std::process::Command::new("cp")
            .arg("-r")
            .arg(&f)
            .arg(to)
            .status()
            .unwrap();
        assert!(st.success(), "cp -r {}", f.display());
    }
}

/// Writes `lock` to `path` with its first `arch` package's URL leaving the repository.
fn write_escaping_lock(path: &Path, lock: &serde_json::Value, arch: &str) {
    let mut bad = lock.clone();
    bad["contents"]["packages"][arch][0]["url"] = "../../etc/passwd".into();
    std::fs::write(path, serde_json::to_vec_pretty(&bad).unwrap()).unwrap();
}

/// A lock of an APK repository given as a directory relative to the config (`./repo`) names it
/// as written and its packages' URLs relative to it: the checkout copied elsewhere builds the
/// same image from the lock.
#[test]
fn a_relative_apk_repository_lock_holds_in_another_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hello_image(d, "./repo", "./test.rsa.pub");
    let out = lock(d);
    assert!(out.contains("locked 1 package in"), "{out}");
    let l = read_lock(d);
    assert_eq!(l["contents"]["repositories"][0]["url"], "./repo");
    let p = &l["contents"]["packages"]["x86_64"][0];
    assert_eq!(p["repository"], "./repo");
    assert_eq!(p["url"], "x86_64/hello-1.0-r0.apk");
    let (here, _) = build_in(d, "cache", &[]);
    // another checkout: the same files elsewhere, the first one gone, nothing cached
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("checkout");
    let files = ["image.yaml", "image.lock.json", "test.rsa.pub", "repo"];
    copy_into(&copy, files.map(|f| d.join(f)));
    std::fs::rename(d.join("repo"), d.join("repo-moved")).unwrap();
    let (there, err) = build_in(&copy, "cold", &[]);
    assert!(err.contains("image.lock.json"), "{err}");
    assert_eq!(
        there, here,
        "the same image from the lock in another checkout"
    );
    // a package URL still cannot leave the repository
    write_escaping_lock(&copy.join("image.lock.json"), &l, "x86_64");
    let err = build_fails(&copy, "cold", &[]);
    assert!(err.contains("outside its repository"), "{err}");
}

/// A lock of a `host:debian` repository keeps `host:debian` as written and its packages' URLs
/// relative to it: the same lock builds the same image on a machine whose mirror is elsewhere.
#[test]
fn a_host_mirror_lock_holds_on_a_machine_with_another_mirror() {
    let repo = make_repo(&packages("1.0-1"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("image.yaml"),
        format!(
            "contents:\n  repositories:\n    - deb [signed-by={}] host:debian stable main\n  packages: [app]\narchs: [amd64]\n",
            repo.keyring.display()
        ),
    )
    .unwrap();
    run(whittle()
        .current_dir(d)
        .env("WHITTLE_DEBIAN_MIRROR", repo.uri())
        .env_remove("SOURCE_DATE_EPOCH")
        .args(["lock", "image.yaml", "--cache-dir", "cache"]));
    let l = read_lock(d);
    assert_eq!(l["contents"]["repositories"][0]["url"], "host:debian");
    for p in l["contents"]["packages"]["amd64"].as_array().unwrap() {
        assert_eq!(p["repository"], "host:debian");
        let url = p["url"].as_str().unwrap();
        assert!(
            url.starts_with("pool/main/"),
            "relative to the mirror: {url}"
        );
    }
    let mirror = |uri: &str, cache: &str| {
        let mut c = build_cmd(d, cache, &[]);
        c.env("WHITTLE_DEBIAN_MIRROR", uri);
        c
    };
    let build = |uri: &str, cache: &str| run(&mut mirror(uri, cache)).trim().to_string();
    let here = build(&repo.uri(), "cache");
    // another machine: the same archive served from another place, nothing cached
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("debian");
    copy_into(&copy, ["dists", "pool"].map(|sub| repo.path(sub)));
    let there = build(&format!("file://{}", copy.display()), "cold");
    assert_eq!(
        there, here,
        "the same image from the lock on another mirror"
    );
    // a lock's package URL still cannot leave the repository
    write_escaping_lock(&d.join("image.lock.json"), &l, "amd64");
    let err = run_fail(&mut mirror(&repo.uri(), "cache"));
    assert!(err.contains("outside its repository"), "{err}");
}
