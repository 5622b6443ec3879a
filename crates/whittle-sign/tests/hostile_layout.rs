//! `whittle verify` against a hostile OCI layout: signatures moved to another digest's tag,
//! signature annotations that are not base64 or are huge, a `.sig` entry whose digest climbs
//! out of the layout, a huge `index.json`. Each is a clear refusal, never a yes.

use std::collections::BTreeMap;
use std::path::Path;

use whittle_oci::{ANNOTATION_REF_NAME, MEDIA_TYPE_MANIFEST};
use whittle_sign::store::{self, Artifact, Kind};
use whittle_sign::{Error, Place, SigningKey, Target};

const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A layout at `dir` naming images A (`a`) and B (`b`) (their manifests are not needed to sign
/// or verify a digest).
fn layout(dir: &Path) -> Place {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let entry = |d: &str, tag: &str| {
        serde_json::json!({"mediaType": MEDIA_TYPE_MANIFEST, "digest": d, "size": 1,
            "annotations": {ANNOTATION_REF_NAME: tag}})
    };
    let index =
        serde_json::json!({"schemaVersion": 2, "manifests": [entry(A, "a"), entry(B, "b")]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    Place::Layout(dir.to_path_buf())
}

fn target(place: &Place, digest: &str) -> Target {
    Target {
        place: place.clone(),
        digest: digest.into(),
    }
}

fn opts() -> whittle_registry::Options {
    whittle_registry::Options::default()
}

fn not_verified(r: whittle_sign::Result<whittle_sign::Verified>) -> String {
    match r {
        Err(e @ Error::NotVerified(_)) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_signature_for_a_stored_under_bs_tag_does_not_verify_b() {
    let d = tempfile::tempdir().unwrap();
    let place = layout(&d.path().join("l"));
    let key = SigningKey::generate();
    whittle_sign::sign(&target(&place, A), &key, &opts()).unwrap();
    let public = key.public_key();
    assert!(whittle_sign::verify(&target(&place, A), &public, None, &opts()).is_ok());
    let sig_a = store::read(&place, &Kind::Signature.tag(A).unwrap(), 1 << 20, &opts())
        .unwrap()
        .unwrap();
    store::write(&place, &Kind::Signature.tag(B).unwrap(), &sig_a, &opts()).unwrap();
    let e = not_verified(whittle_sign::verify(
        &target(&place, B),
        &public,
        None,
        &opts(),
    ));
    assert!(e.contains("another digest") && e.contains(A), "{e}");
    // B's own digest, in upper case or without its algorithm, does not sign B either
    for claimed in [
        format!("sha256:{}", B[7..].to_uppercase()),
        B[7..].to_string(),
    ] {
        let payload = whittle_sign::payload::simple_signing("l", &claimed);
        let sig = base64_sig(&key, &payload);
        let layer = Artifact::layer(
            whittle_sign::payload::MEDIA_TYPE_SIMPLE_SIGNING,
            payload,
            BTreeMap::from([(whittle_sign::ANNOTATION_SIGNATURE.to_string(), sig)]),
        );
        let art = Artifact::new(vec![layer]).unwrap();
        store::write(&place, &Kind::Signature.tag(B).unwrap(), &art, &opts()).unwrap();
        let e = not_verified(whittle_sign::verify(
            &target(&place, B),
            &public,
            None,
            &opts(),
        ));
        assert!(e.contains("another digest"), "{claimed}: {e}");
    }
}

fn base64_sig(key: &SigningKey, payload: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key.sign(payload))
}

#[test]
fn signature_annotations_that_are_not_base64_or_huge_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let place = layout(&d.path().join("l"));
    let key = SigningKey::generate();
    let payload = whittle_sign::payload::simple_signing("l", A);
    let good = base64_sig(&key, &payload);
    for (sig, what) in [
        (format!("{good}!"), "base64"),
        ("%%%".to_string(), "base64"),
        ("A".repeat(8 << 20), "bytes"),
    ] {
        let layer = Artifact::layer(
            whittle_sign::payload::MEDIA_TYPE_SIMPLE_SIGNING,
            payload.clone(),
            BTreeMap::from([(whittle_sign::ANNOTATION_SIGNATURE.to_string(), sig)]),
        );
        let art = Artifact::new(vec![layer]).unwrap();
        store::write(&place, &Kind::Signature.tag(A).unwrap(), &art, &opts()).unwrap();
        let e = whittle_sign::verify(&target(&place, A), &key.public_key(), None, &opts())
            .unwrap_err()
            .to_string();
        assert!(e.contains(what), "{what}: {}", &e[..e.len().min(300)]);
    }
}

#[test]
fn a_sig_entry_whose_digest_leaves_the_layout_and_a_huge_index_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("l");
    let place = layout(&dir);
    std::fs::write(d.path().join("outside"), b"{}").unwrap();
    let tag = Kind::Signature.tag(A).unwrap();
    for digest in [
        "sha256:../../outside",
        "sha256:../../../../../../etc/passwd",
        "/etc/passwd",
    ] {
        let mut index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        index["manifests"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
            "mediaType": MEDIA_TYPE_MANIFEST, "digest": digest, "size": 2,
            "annotations": {ANNOTATION_REF_NAME: tag}}));
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        let e = whittle_sign::verify(
            &target(&place, A),
            &SigningKey::generate().public_key(),
            None,
            &opts(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("is not a sha256:<hex> digest"), "{digest}: {e}");
        layout(&dir);
    }
    // an index.json of 64 MiB is refused before it is parsed
    let mut big = std::fs::read(dir.join("index.json")).unwrap();
    big.resize(64 << 20, b' ');
    std::fs::write(dir.join("index.json"), big).unwrap();
    let image = whittle_oci::ImageRef::parse(&format!("oci:{}:a", dir.display())).unwrap();
    let e = whittle_sign::resolve(&image, &opts()).unwrap_err();
    assert!(
        matches!(e, Error::Registry(whittle_registry::Error::TooLarge { .. })),
        "{e}"
    );
}
