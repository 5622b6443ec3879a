//! Hostile copies of the real alpine:3.10 image (`shared/fixtures/images`) in every local
//! transport: its layer blob replaced by another valid layer of the same size that lists a
//! planted package, a manifest declaring 1 TB for the layer, a config with a wrong diff ID.
//! `sbom`, `scan`, `inspect`, `audit`, `compare` and `copy` all refuse them, naming the image,
//! the layer and what was expected; none reports the planted package.

mod common;
use common::*;

use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};
use whittle_testutil::oci::Layout;

/// A secdb for the test (openssl fixed in 1.1.1g-r0), so that `scan` has a database.
const SECDB: &str = r#"{"distroversion":"v3.10","reponame":"main","packages":[
{"pkg":{"name":"openssl","secfixes":{"1.1.1g-r0":["CVE-2020-1967"]}}}]}"#;

const PLANTED: &str = "planted-backdoor";

/// A valid layer tar listing the planted package (alpine os-release, apk database), padded with
/// zero blocks to `size` bytes.
fn planted(size: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [
        (
            "etc/os-release",
            "ID=alpine\nVERSION_ID=3.10.4\n".to_string(),
        ),
        (
            "lib/apk/db/installed",
            format!("P:{PLANTED}\nV:1.0.0-r0\nA:x86_64\no:openssl\n\n"),
        ),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    let mut t = b.into_inner().unwrap();
    assert!(t.len() <= size);
    t.resize(size, 0);
    t
}

/// Copy the tar `src` to `dest`, passing each member's bytes through `f`.
fn rewrite_tar(src: &Path, dest: &Path, mut f: impl FnMut(&str, Vec<u8>) -> Vec<u8>) {
    let mut ar = tar::Archive::new(std::fs::File::open(src).unwrap());
    let mut out = tar::Builder::new(std::fs::File::create(dest).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let data = f(&name, data);
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.append_data(&mut h, &name, &data[..]).unwrap();
    }
    out.finish().unwrap();
}

fn copy_dir(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dest.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// One hostile image: its reference, and what every refusal must say.
struct Case {
    reference: String,
    says: Vec<String>,
}

fn cases(dir: &Path) -> Vec<Case> {
    let f = fixtures().unwrap();
    // the real `docker save alpine:3.10`, decompressed, and the same image as an OCI layout
    let alpine = dir.join("alpine.tar");
    std::io::copy(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(f.join("images/docker-archive/trivy-alpine-3.10.tar.gz")).unwrap(),
        ),
        &mut std::fs::File::create(&alpine).unwrap(),
    )
    .unwrap();
    let layout = dir.join("layout");
    run(whittle()
        .arg("copy")
        .arg(format!("docker-archive:{}", alpine.display()))
        .arg(format!("oci:{}:3.10", layout.display())));
    let good = Layout(layout);
    let manifest = good.manifest();
    let first = &manifest["layers"][0];
    let layer = first["digest"].as_str().unwrap().to_string();
    let size = first["size"].as_u64().unwrap();
    let mut out = Vec::new();

    // docker-archive: layer.tar replaced by a same-size valid layer
    let replaced = dir.join("replaced.tar");
    rewrite_tar(&alpine, &replaced, |name, data| {
        if name.ends_with("/layer.tar") {
            planted(data.len())
        } else {
            data
        }
    });
    out.push(Case {
        reference: format!("docker-archive:{}", replaced.display()),
        says: vec!["layer 0".into(), "rootfs.diff_ids".into(), layer.clone()],
    });

    // oci: and oci-archive: the layer blob replaced in place
    let oci = Layout(dir.join("oci-replaced"));
    copy_dir(&good.0, &oci.0);
    std::fs::write(oci.blob(&layer), planted(size as usize)).unwrap();
    out.push(Case {
        reference: format!("oci:{}:3.10", oci.0.display()),
        says: vec![layer.clone(), "the manifest names".into()],
    });
    let archive = dir.join("oci-replaced.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    b.append_dir_all(".", &oci.0).unwrap();
    b.finish().unwrap();
    out.push(Case {
        reference: format!("oci-archive:{}", archive.display()),
        says: vec![layer.clone(), "the manifest names".into()],
    });

    // oci: a manifest declaring 1 TB for the layer (index, manifest and config consistent)
    let big = Layout(dir.join("oci-1tb"));
    copy_dir(&good.0, &big.0);
    let mut m = big.manifest();
    m["layers"][0]["size"] = json!(1u64 << 40);
    big.set_manifest(&m);
    out.push(Case {
        reference: format!("oci:{}:3.10", big.0.display()),
        says: vec![
            layer.clone(),
            format!("is {size} bytes, but the manifest declares 1099511627776"),
        ],
    });

    // oci: a config whose diff ID is not the layer's
    let wrong = format!("sha256:{}", sha256(b"another layer"));
    let diff = Layout(dir.join("oci-diff-id"));
    copy_dir(&good.0, &diff.0);
    let mut c = diff.config();
    c["rootfs"]["diff_ids"][0] = json!(wrong);
    diff.set_config(&c);
    out.push(Case {
        reference: format!("oci:{}:3.10", diff.0.display()),
        says: vec![layer.clone(), "rootfs.diff_ids names".into(), wrong.clone()],
    });

    // docker-archive: the config's diff ID changed (manifest.json records no digests)
    let cfg_changed = dir.join("diff-id.tar");
    rewrite_tar(&alpine, &cfg_changed, |name, data| {
        if name.ends_with(".json") && name != "manifest.json" {
            let mut c: Value = serde_json::from_slice(&data).unwrap();
            c["rootfs"]["diff_ids"][0] = json!(wrong);
            serde_json::to_vec(&c).unwrap()
        } else {
            data
        }
    });
    out.push(Case {
        reference: format!("docker-archive:{}", cfg_changed.display()),
        says: vec!["layer 0".into(), wrong.clone()],
    });
    out
}

#[test]
fn every_command_refuses_a_tampered_image() {
    if fixtures().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let secdb = tmp.path().join("secdb.json");
    std::fs::write(&secdb, SECDB).unwrap();
    run(whittle()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(&secdb));
    for (n, case) in cases(tmp.path()).iter().enumerate() {
        let r = case.reference.as_str();
        let dest = format!("oci:{}", tmp.path().join(format!("copy-{n}")).display());
        let commands: Vec<Vec<String>> = vec![
            vec!["sbom".into(), r.into()],
            vec![
                "scan".into(),
                r.into(),
                "--db".into(),
                db.display().to_string(),
            ],
            vec!["inspect".into(), r.into()],
            vec!["audit".into(), r.into()],
            vec![
                "compare".into(),
                "--db".into(),
                db.display().to_string(),
                r.into(),
            ],
            vec!["copy".into(), r.into(), dest],
        ];
        for args in commands {
            // copy moves blobs unchanged and checks them against their digests; a diff ID of an
            // OCI config is not checked there (the blob itself is intact)
            if args[0] == "copy" && r.contains("oci-diff-id") {
                continue;
            }
            let out = whittle().args(&args).output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "`whittle {}` accepted a tampered image:\n{stdout}\n{stderr}",
                args.join(" ")
            );
            assert!(!stdout.contains(PLANTED), "{stdout}");
            assert!(stderr.contains("tampered"), "{}: {stderr}", args[0]);
            if args[0] != "copy" {
                assert!(stderr.contains(r), "{}: {stderr}", args[0]);
                for s in &case.says {
                    assert!(
                        stderr.contains(s.as_str()),
                        "{}: `{s}` not in {stderr}",
                        args[0]
                    );
                }
            }
        }
    }
}
