//! Signing in cosign's formats against a real `docker-registry` on 127.0.0.1: `whittle build
//! --sign-key` pushes signed images with SPDX and SLSA attestations; a verifier written here
//! from cosign's published formats (simple signing, DSSE PAE, in-toto), sharing no code with
//! whittle, checks them; `whittle verify` accepts them, refuses another key, an unsigned image
//! and a hostile signature manifest; `whittle copy` carries the signatures along.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::Verifier;
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;
use whittle_testutil::registry::Registry;

const PASSWORD: &str = "correct horse";
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// One HTTP/1.0 request to the registry (no keep-alive, no chunking): status and body.
fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

fn get_manifest(host: &str, repo: &str, reference: &str) -> Option<Value> {
    let (status, body) = http(
        host,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Accept", ACCEPT)],
        b"",
    );
    match status {
        200 => Some(serde_json::from_slice(&body).unwrap()),
        404 => None,
        s => panic!("GET manifest {repo}:{reference}: HTTP {s}"),
    }
}

fn get_blob(host: &str, repo: &str, digest: &str) -> Vec<u8> {
    let (status, body) = http(host, "GET", &format!("/v2/{repo}/blobs/{digest}"), &[], b"");
    assert_eq!(status, 200, "GET blob {repo}@{digest}");
    assert_eq!(
        format!("sha256:{}", sha256(&body)),
        digest,
        "blob content matches its digest"
    );
    body
}

/// cosign's tag of a digest's signature (`sig`) or attestation (`att`) manifest.
fn cosign_tag(digest: &str, kind: &str) -> String {
    format!("sha256-{}.{kind}", digest.strip_prefix("sha256:").unwrap())
}

/// DSSE's pre-authentication encoding, from the DSSE v1 protocol.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    m.extend_from_slice(payload);
    m
}

fn ecdsa_ok(key: &p256::ecdsa::VerifyingKey, message: &[u8], sig_b64: &str) -> bool {
    let Ok(der) = B64.decode(sig_b64) else {
        return false;
    };
    let Ok(sig) = p256::ecdsa::Signature::from_der(&der) else {
        return false;
    };
    key.verify(message, &sig).is_ok()
}

/// The test's own cosign verifier: the `.sig` manifest of `digest` in `repo` holds a
/// simple-signing payload for exactly that digest, signed by `key` in `signed_in`. Returns the
/// payload.
fn check_signature(
    host: &str,
    repo: &str,
    signed_in: &str,
    digest: &str,
    key: &p256::ecdsa::VerifyingKey,
) -> Value {
    let m = get_manifest(host, repo, &cosign_tag(digest, "sig")).expect("a .sig manifest");
    for layer in m["layers"].as_array().unwrap() {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        let payload = get_blob(host, repo, layer["digest"].as_str().unwrap());
        let sig = layer["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap();
        if !ecdsa_ok(key, &payload, sig) {
            continue;
        }
        let p: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(p["critical"]["type"], "cosign container image signature");
        assert_eq!(p["critical"]["image"]["docker-manifest-digest"], digest);
        assert_eq!(
            p["critical"]["identity"]["docker-reference"],
            format!("{host}/{signed_in}")
        );
        return p;
    }
    panic!("no signature of {repo}@{digest} verifies with the key");
}

/// The test's own DSSE/in-toto verifier: every attestation of `digest` is a DSSE envelope
/// signed by `key` over its PAE, holding an in-toto statement about exactly that digest.
/// Returns the statements.
fn check_attestations(
    host: &str,
    repo: &str,
    digest: &str,
    key: &p256::ecdsa::VerifyingKey,
) -> Vec<Value> {
    let m = get_manifest(host, repo, &cosign_tag(digest, "att")).expect("an .att manifest");
    let mut out = Vec::new();
    for layer in m["layers"].as_array().unwrap() {
        assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
        let env: Value =
            serde_json::from_slice(&get_blob(host, repo, layer["digest"].as_str().unwrap()))
                .unwrap();
        assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
        let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let message = pae("application/vnd.in-toto+json", &payload);
        assert!(
            env["signatures"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| ecdsa_ok(key, &message, s["sig"].as_str().unwrap())),
            "the envelope's PAE is signed by the key"
        );
        let st: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(
            st["subject"][0]["digest"]["sha256"],
            digest.strip_prefix("sha256:").unwrap()
        );
        assert_eq!(layer["annotations"]["predicateType"], st["predicateType"]);
        out.push(st);
    }
    out
}

fn keypair(dir: &Path, prefix: &str) -> (std::path::PathBuf, p256::ecdsa::VerifyingKey) {
    run(whittle()
        .current_dir(dir)
        .env("COSIGN_PASSWORD", PASSWORD)
        .args(["generate-key-pair", "--output-key-prefix", prefix]));
    let key = std::fs::read_to_string(dir.join(format!("{prefix}.key"))).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{key}"
    );
    let public = std::fs::read_to_string(dir.join(format!("{prefix}.pub"))).unwrap();
    (
        dir.join(format!("{prefix}.key")),
        p256::ecdsa::VerifyingKey::from_public_key_pem(&public).unwrap(),
    )
}

#[test]
fn signed_builds_verify_with_cosigns_formats_and_travel_with_copy() {
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pkgs = [
        TestPkg::new("app", "1.0", "Depends: lib"),
        TestPkg::new("lib", "2.0", ""),
    ];
    let repo = make_repo_archs(&pkgs, &["amd64", "arm64"]);
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [app]\narchs: [amd64, aarch64]\n",
        repo.line()
    );
    std::fs::write(d.join("image.yaml"), &cfg).unwrap();
    // a lock: the provenance names where each package was downloaded from
    run(whittle()
        .current_dir(d)
        .args(["lock", "image.yaml", "--cache-dir", "cache", "-q"]));
    let (key, public) = keypair(d, "cosign");
    keypair(d, "other");

    let build_to = |dest: &str, extra: &[&str]| {
        let out = run(whittle()
            .current_dir(d)
            .env("COSIGN_PASSWORD", PASSWORD)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([
                "build",
                "image.yaml",
                "-o",
                dest,
                "--cache-dir",
                "cache",
                "-q",
            ])
            .args(extra));
        out.trim().to_string()
    };
    let index_digest = build_to(
        &format!("{host}/signed/app:1"),
        &["--sign-key", key.to_str().unwrap()],
    );

    // the test's verifier: the index and both manifests signed, each manifest attested
    let index = get_manifest(&host, "signed/app", "1").unwrap();
    check_signature(&host, "signed/app", "signed/app", &index_digest, &public);
    let manifests: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["digest"].as_str().unwrap().to_string(),
                m["platform"]["architecture"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(manifests.len(), 2);
    for (digest, arch) in &manifests {
        check_signature(&host, "signed/app", "signed/app", digest, &public);
        let statements = check_attestations(&host, "signed/app", digest, &public);
        let types: BTreeSet<&str> = statements
            .iter()
            .map(|s| s["predicateType"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            BTreeSet::from([
                "https://spdx.dev/Document",
                "https://slsa.dev/provenance/v1"
            ])
        );
        let spdx = statements
            .iter()
            .find(|s| s["predicateType"] == "https://spdx.dev/Document")
            .unwrap();
        assert_eq!(spdx["predicate"]["spdxVersion"], "SPDX-2.3");
        // provenance: every installed package, by its package URL and the .deb's SHA-256
        let slsa = statements
            .iter()
            .find(|s| s["predicateType"] == "https://slsa.dev/provenance/v1")
            .unwrap();
        let deps = slsa["predicate"]["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        let deb_arch = if arch == "arm64" { "arm64" } else { "amd64" };
        for p in &pkgs {
            let deb = std::fs::read(repo.path(&format!(
                "pool/main/{}_{}_{deb_arch}.deb",
                p.name, p.version
            )))
            .unwrap();
            let want = sha256(&deb);
            assert!(
                deps.iter()
                    .any(|dep| dep["digest"]["sha256"] == want.as_str()
                        && dep["uri"].as_str().unwrap().starts_with("pkg:deb/")
                        && dep["uri"]
                            .as_str()
                            .unwrap()
                            .contains(&format!("/{}@{}", p.name, p.version))),
                "{arch}: {} {} (sha256 {want}) not in {deps:?}",
                p.name,
                p.version
            );
            let url = format!(
                "{}/pool/main/{}_{}_{deb_arch}.deb",
                repo.uri(),
                p.name,
                p.version
            );
            assert!(
                deps.iter()
                    .any(|dep| dep["digest"]["sha256"] == want.as_str()
                        && dep["downloadLocation"] == url.as_str()),
                "{arch}: {url} is not the download location of {} in {deps:?}",
                p.name
            );
        }
        let config = deps.iter().find(|dep| dep["name"] == "config").unwrap();
        assert_eq!(config["digest"]["sha256"], sha256(cfg.as_bytes()).as_str());
        assert_eq!(
            slsa["predicate"]["runDetails"]["metadata"]["startedOn"],
            "2023-11-14T22:13:20Z"
        );
    }

    // the index's provenance lists every platform's packages
    let statements = check_attestations(&host, "signed/app", &index_digest, &public);
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
    let deps = statements[0]["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert_eq!(deps.len(), 1 + pkgs.len() * manifests.len(), "{deps:?}");

    // a rebuild signs and attests the same way: nothing new is added
    let again = build_to(
        &format!("{host}/signed/app:1"),
        &["--sign-key", key.to_str().unwrap()],
    );
    assert_eq!(again, index_digest);
    let (digest0, _) = &manifests[0];
    let att = get_manifest(&host, "signed/app", &cosign_tag(digest0, "att")).unwrap();
    assert_eq!(
        att["layers"].as_array().unwrap().len(),
        2,
        "the same statements, not new ones"
    );

    // whittle verify: accepts, with each attestation type, for exactly the digest
    let pubkey = d.join("cosign.pub");
    let verify = |image: &str, key: &Path, extra: &[&str]| {
        whittle()
            .args(["verify", image, "--key"])
            .arg(key)
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = verify(&format!("{host}/signed/app:1"), &pubkey, &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), index_digest);
    let ok = verify(
        &format!("{host}/signed/app:1"),
        &pubkey,
        &["--attestation", "slsaprovenance1"],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for t in ["spdxjson", "slsaprovenance1"] {
        let ok = verify(
            &format!("{host}/signed/app@{digest0}"),
            &pubkey,
            &["--attestation", t],
        );
        assert!(
            ok.status.success(),
            "{t}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }
    // refuses another key, an attestation that is not there, an unsigned image
    let no = verify(&format!("{host}/signed/app:1"), &d.join("other.pub"), &[]);
    assert_eq!(no.status.code(), Some(1));
    let err = String::from_utf8_lossy(&no.stderr);
    assert!(err.contains("another key"), "{err}");
    let no = verify(
        &format!("{host}/signed/app@{digest0}"),
        &pubkey,
        &["--attestation", "cyclonedx"],
    );
    assert_eq!(no.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no.stderr).contains("https://cyclonedx.org/bom"));
    let unsigned = build_to(&format!("{host}/unsigned/app:1"), &[]);
    assert_eq!(unsigned, index_digest, "same build, same digest");
    let no = verify(&format!("{host}/unsigned/app:1"), &pubkey, &[]);
    assert_eq!(no.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&no.stderr).contains("not signed"),
        "{}",
        String::from_utf8_lossy(&no.stderr)
    );

    // whittle copy to another repository carries signatures and attestations; verify there
    run(whittle().args([
        "copy",
        &format!("{host}/signed/app:1"),
        &format!("{host}/copied/app:1"),
        "-q",
    ]));
    check_signature(&host, "copied/app", "signed/app", &index_digest, &public);
    check_attestations(&host, "copied/app", digest0, &public);
    let ok = verify(
        &format!("{host}/copied/app@{digest0}"),
        &pubkey,
        &["--attestation", "spdxjson"],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // and into an OCI layout and back out
    let layout = d.join("layout");
    run(whittle()
        .args(["copy", &format!("{host}/signed/app:1")])
        .arg(format!("oci:{}:1", layout.display()))
        .arg("-q"));
    let ok = verify(&format!("oci:{}:1", layout.display()), &pubkey, &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // the tags beside the image do not make the layout ambiguous to whittle's readers
    let index_json: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index_json["manifests"].as_array().unwrap().len(),
        1 + 2 + 2 * 2
    );
    let shown = run(whittle()
        .arg("inspect")
        .arg(format!("oci:{}", layout.display()))
        .args(["--platform", "linux/amd64"]));
    assert!(shown.contains("digest"), "{shown}");
    let ok = verify(&format!("oci:{}", layout.display()), &pubkey, &[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    run(whittle()
        .arg("copy")
        .arg(format!("oci:{}:1", layout.display()))
        .arg(format!("{host}/relayed/app:1"))
        .arg("-q"));
    check_signature(&host, "relayed/app", "signed/app", &index_digest, &public);

    // a signature of another digest moved to this digest's tag is refused for what it is
    let (digest1, _) = &manifests[1];
    let moved = get_manifest(&host, "copied/app", &cosign_tag(digest0, "sig")).unwrap();
    let (status, _) = http(
        &host,
        "PUT",
        &format!("/v2/copied/app/manifests/{}", cosign_tag(digest1, "sig")),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &serde_json::to_vec(&moved).unwrap(),
    );
    assert_eq!(status, 201);
    let no = verify(&format!("{host}/copied/app@{digest1}"), &pubkey, &[]);
    assert_eq!(no.status.code(), Some(1));
    let err = String::from_utf8_lossy(&no.stderr);
    assert!(
        err.contains("another digest") && err.contains(digest0.as_str()),
        "{err}"
    );

    // a hostile signature manifest: 10,000 layers (of a blob the repository has) is refused
    // before any of them is fetched
    let sig = get_manifest(&host, "copied/app", &cosign_tag(&index_digest, "sig")).unwrap();
    let mut hostile = sig.clone();
    hostile["layers"] = Value::Array(vec![sig["layers"][0].clone(); 10_000]);
    let body = serde_json::to_vec(&hostile).unwrap();
    let (status, reply) = http(
        &host,
        "PUT",
        &format!(
            "/v2/copied/app/manifests/{}",
            cosign_tag(&index_digest, "sig")
        ),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &body,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&reply));
    let start = std::time::Instant::now();
    let no = verify(&format!("{host}/copied/app:1"), &pubkey, &[]);
    assert_eq!(no.status.code(), Some(1));
    let err = String::from_utf8_lossy(&no.stderr);
    assert!(err.contains("10000 layers"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn cosigns_own_keys_sign() {
    let Some(fix) = fixtures() else { return };
    let Some(reg) = Registry::start(None) else {
        return;
    };
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let repo = make_repo(&[TestPkg::new("app", "1.0", "")]);
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [app]\n",
        repo.line()
    );
    let digest = build(
        dir.path(),
        &cfg,
        &format!("{host}/fixture/app:1"),
        &dir.path().join("cache"),
        &["-q"],
    );
    let keys = [
        ("cosign_generated_encrypted_empty_private.key", ""),
        ("ecdsa_encrypted_private.key", "123"),
        ("ecdsa_private.key", ""),
    ];
    for (i, (name, password)) in keys.iter().enumerate() {
        let out = run(whittle()
            .env("COSIGN_PASSWORD", password)
            .args(["sign", &format!("{host}/fixture/app:1"), "--key"])
            .arg(fix.join("cosign").join(name)));
        assert_eq!(out.trim(), digest);
        let sig = get_manifest(&host, "fixture/app", &cosign_tag(&digest, "sig")).unwrap();
        assert_eq!(
            sig["layers"].as_array().unwrap().len(),
            i + 1,
            "{name} added its signature"
        );
    }
    // the unencrypted key's public half (derived here) verifies, by the test and by whittle
    let text = std::fs::read_to_string(fix.join("cosign/ecdsa_private.key")).unwrap();
    let secret = <p256::SecretKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&text).unwrap();
    let public = p256::ecdsa::VerifyingKey::from(&p256::ecdsa::SigningKey::from(secret));
    check_signature(&host, "fixture/app", "fixture/app", &digest, &public);
    let pem = p256::pkcs8::EncodePublicKey::to_public_key_pem(&public, p256::pkcs8::LineEnding::LF)
        .unwrap();
    std::fs::write(dir.path().join("fixture.pub"), pem).unwrap();
    run(whittle()
        .args(["verify", &format!("{host}/fixture/app:1"), "--key"])
        .arg(dir.path().join("fixture.pub")));
    // the wrong password is refused by name
    let err = run_fail(
        whittle()
            .env("COSIGN_PASSWORD", "nope")
            .args(["sign", &format!("{host}/fixture/app:1"), "--key"])
            .arg(fix.join("cosign/ecdsa_encrypted_private.key")),
    );
    assert!(
        err.contains("ecdsa_encrypted_private.key") && err.contains("password"),
        "{err}"
    );
}

/// A copy of the fixture layout's `v1` image (an index) at `dir/name`, as `oci:` reference.
fn fixture_layout(fix: &Path, dir: &Path, name: &str) -> String {
    let src = fix.join("images/oci-layout/regclient-testrepo");
    let dest = format!("oci:{}:v1", dir.join(name).display());
    run(whittle()
        .arg("copy")
        .arg(format!("oci:{}:v1", src.display()))
        .arg(&dest)
        .arg("-q"));
    dest
}

fn sign_with(image: &str, key: &Path) {
    run(whittle()
        .env("COSIGN_PASSWORD", PASSWORD)
        .args(["sign", image, "--key"])
        .arg(key));
}

fn verifies(image: &str, key: &Path, extra: &[&str]) -> (bool, String) {
    let out = whittle()
        .args(["verify", image, "--key"])
        .arg(key)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `whittle attest` on a local OCI layout: a predicate file attested as one type verifies with
/// `--attestation` of that type, not of another.
#[test]
fn attest_a_predicate_on_a_layout_and_verify_its_type() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path(), "a");
    let public = dir.path().join("a.pub");
    let image = fixture_layout(&fix, dir.path(), "l");
    sign_with(&image, &key);
    let predicate = dir.path().join("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/t","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/b"}}}"#,
    )
    .unwrap();
    let (ok, err) = verifies(&image, &public, &["--attestation", "slsaprovenance1"]);
    assert!(!ok, "no attestation yet: {err}");
    run(whittle()
        .env("COSIGN_PASSWORD", PASSWORD)
        .args(["attest", &image, "--type", "slsaprovenance1", "--key"])
        .arg(&key)
        .arg("--predicate")
        .arg(&predicate));
    let (ok, err) = verifies(&image, &public, &["--attestation", "slsaprovenance1"]);
    assert!(ok, "{err}");
    let (ok, err) = verifies(&image, &public, &["--attestation", "cyclonedx"]);
    assert!(!ok && err.contains("https://cyclonedx.org/bom"), "{err}");
}

/// `whittle copy` carries signatures best-effort: a signed source's signature arrives; a source
/// whose `.sig` is unreadable still gets its image copied, with a warning naming the tag, and no
/// signature is written. (Keeping the destination's own signatures is
/// `whittle_sign::store`'s unit test: copying into a layout rewrites its index.)
#[test]
fn copy_carries_signatures_and_survives_an_unreadable_one() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path(), "a");
    let public = dir.path().join("a.pub");
    let src = fixture_layout(&fix, dir.path(), "src");
    sign_with(&src, &key);
    let dest = format!("oci:{}:v1", dir.path().join("dest").display());
    run(whittle().args(["copy", &src, &dest, "-q"]));
    let (ok, err) = verifies(&dest, &public, &[]);
    assert!(ok, "{err}");
    // the source's signature layer is corrupted (its blob no longer matches its digest)
    let layout = dir.path().join("src");
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let sig = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .is_some_and(|n| n.ends_with(".sig"))
        })
        .expect("a .sig entry");
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.strip_prefix("sha256:").unwrap())
    };
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(sig["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    std::fs::remove_file(&layer).unwrap();
    std::fs::write(&layer, b"tampered").unwrap();
    let other = format!("oci:{}:v1", dir.path().join("other").display());
    let (out, err) = run_both(whittle().args(["copy", &src, &other]));
    assert!(out.trim().starts_with("sha256:"), "{out}");
    assert!(
        err.contains("warning: sha256-") && err.contains(".sig not carried"),
        "{err}"
    );
    let (ok, err) = verifies(&other, &public, &[]);
    assert!(!ok && err.contains("not signed"), "{err}");
    // the image itself arrived, under its tag
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("other/index.json")).unwrap())
            .unwrap();
    assert!(
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["digest"] == out.trim()
                && m["annotations"]["org.opencontainers.image.ref.name"] == "v1"),
        "{index}"
    );
}
