//! whittle-sign signs and verifies images in cosign's formats: it reads and writes cosign's
//! ECDSA P-256 keys (`ENCRYPTED SIGSTORE PRIVATE KEY`, password from `COSIGN_PASSWORD`),
//! signs a manifest digest as cosign's simple-signing payload, wraps in-toto statements in DSSE
//! envelopes, and stores both where cosign does (`sha256-<hex>.sig` / `.att` tags in a registry
//! repository or a local OCI layout), so cosign, Kyverno or policy-controller verify what
//! whittle signs, and whittle verifies what they sign with a key.
//!
//! Keyless signing (a Fulcio certificate and a Rekor entry instead of a key) would add a
//! certificate and bundle annotation to the same layers; [`SigningKey`] is where such a signer
//! would plug in.

mod error;
pub mod key;
pub mod payload;
pub mod provenance;
pub mod store;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

pub use error::{Error, Result};
pub use key::{PublicKey, SigningKey};
pub use payload::{Envelope, Statement, predicate_type};
pub use store::{Kind, Place, Target, resolve};

/// Annotation holding a signature layer's signature (base64 of ASN.1 DER).
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Annotation naming an attestation layer's predicate type.
pub const ANNOTATION_PREDICATE_TYPE: &str = "predicateType";
/// Largest simple-signing payload read (cosign's are a few hundred bytes).
pub const MAX_SIGNATURE_PAYLOAD: u64 = 1 << 20;

/// What [`sign`] or [`attest`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The tag (`sha256-<hex>.sig` / `.att`).
    pub tag: String,
    /// The artifact manifest's digest.
    pub digest: String,
    /// Whether a new layer was added (false: the same signature was there already).
    pub added: bool,
    /// Layers the artifact now has.
    pub layers: usize,
}

fn store_layer(
    target: &Target,
    kind: Kind,
    layer: (whittle_oci::Descriptor, Vec<u8>),
    opts: &whittle_registry::Options,
) -> Result<Stored> {
    let tag = kind.tag(&target.digest)?;
    let existing = store::read(&target.place, &tag, kind.max_layer(), opts)?;
    let (artifact, added) = match existing {
        None => (store::Artifact::new(vec![layer])?, true),
        Some(old) => match old.with_layer(layer)? {
            Some(new) => (new, true),
            None => (old, false),
        },
    };
    let digest = if added {
        store::write(&target.place, &tag, &artifact, opts)?
    } else {
        artifact.digest()
    };
    Ok(Stored {
        tag,
        digest,
        added,
        layers: artifact.layers.len(),
    })
}

/// Sign `target`'s digest with `key`: cosign's simple-signing payload as a layer of the
/// `sha256-<hex>.sig` manifest (added to the signatures already there; signing again with the
/// same key changes nothing, as ECDSA signatures here are deterministic).
pub fn sign(target: &Target, key: &SigningKey, opts: &whittle_registry::Options) -> Result<Stored> {
    let payload = payload::simple_signing(&target.place.name(), &target.digest);
    let sig = B64.encode(key.sign(&payload));
    let layer = store::Artifact::layer(
        payload::MEDIA_TYPE_SIMPLE_SIGNING,
        payload,
        BTreeMap::from([(ANNOTATION_SIGNATURE.to_string(), sig)]),
    );
    store_layer(target, Kind::Signature, layer, opts)
}

/// Attest `predicate` (JSON) of type `predicate_type` (a URI, see [`predicate_type`]) about
/// `target`'s digest: an in-toto v1 statement in a DSSE envelope signed with `key`, as a layer
/// of the `sha256-<hex>.att` manifest.
pub fn attest(
    target: &Target,
    key: &SigningKey,
    predicate_type: &str,
    predicate: serde_json::Value,
    opts: &whittle_registry::Options,
) -> Result<Stored> {
    let statement = Statement::new(
        &target.place.name(),
        &target.digest,
        predicate_type,
        predicate,
    );
    let envelope = Envelope::sign(key, payload::PAYLOAD_TYPE_IN_TOTO, &statement.to_json()?);
    let bytes =
        serde_json::to_vec(&envelope).map_err(|e| Error::format("DSSE envelope", e.to_string()))?;
    let layer = store::Artifact::layer(
        payload::MEDIA_TYPE_DSSE,
        bytes,
        BTreeMap::from([
            (ANNOTATION_SIGNATURE.to_string(), String::new()),
            (
                ANNOTATION_PREDICATE_TYPE.to_string(),
                predicate_type.to_string(),
            ),
        ]),
    );
    store_layer(target, Kind::Attestation, layer, opts)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The verified digest.
    pub digest: String,
    /// Signatures by the key for exactly that digest.
    pub signatures: usize,
    /// The verified statements of the asked-for predicate type.
    pub attestations: Vec<Statement>,
}

/// Verify that `target`'s digest is signed by `key` (a simple-signing payload for exactly that
/// digest in its `.sig` artifact) and, when `attestation` names a predicate type URI, that its
/// `.att` artifact holds a DSSE envelope signed by `key` whose statement has that type and is
/// about that digest. The error says why not.
pub fn verify(
    target: &Target,
    key: &PublicKey,
    attestation: Option<&str>,
    opts: &whittle_registry::Options,
) -> Result<Verified> {
    let tag = Kind::Signature.tag(&target.digest)?;
    let name = target.place.name();
    let sig = store::read(&target.place, &tag, MAX_SIGNATURE_PAYLOAD, opts)?.ok_or_else(|| {
        Error::NotVerified(format!(
            "{name}@{}: not signed (no `{tag}` signature manifest); sign it with `whittle sign`",
            target.digest
        ))
    })?;
    let mut other_key = 0;
    let mut other_digest = Vec::new();
    let mut malformed = Vec::new();
    let mut signatures = 0;
    for (d, payload) in &sig.layers {
        if d.media_type != payload::MEDIA_TYPE_SIMPLE_SIGNING {
            malformed.push(format!(
                "layer {} has media type {}",
                d.digest, d.media_type
            ));
            continue;
        }
        let Some(sig) = d
            .annotations
            .get(ANNOTATION_SIGNATURE)
            .and_then(|s| B64.decode(s).ok())
        else {
            malformed.push(format!(
                "layer {} has no base64 `{ANNOTATION_SIGNATURE}` annotation",
                d.digest
            ));
            continue;
        };
        if !key.verify(payload, &sig) {
            other_key += 1;
            continue;
        }
        match payload::parse_simple_signing(payload) {
            Ok(p) if p.critical.image.docker_manifest_digest == target.digest => signatures += 1,
            Ok(p) => other_digest.push(p.critical.image.docker_manifest_digest),
            Err(e) => malformed.push(format!("layer {}: {e}", d.digest)),
        }
    }
    if signatures == 0 {
        let mut why = Vec::new();
        if other_key > 0 {
            why.push(format!("{other_key} made by another key"));
        }
        if !other_digest.is_empty() {
            why.push(format!(
                "{} by this key but for another digest ({})",
                other_digest.len(),
                other_digest
                    .iter()
                    .take(3)
                    .map(|d| d.chars().take(80).collect::<String>())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !malformed.is_empty() {
            why.push(format!("{} malformed ({})", malformed.len(), malformed[0]));
        }
        return Err(Error::NotVerified(format!(
            "{name}@{}: no signature by key sha256:{} for this digest; of {} signature(s) in `{tag}`: {}",
            target.digest,
            key.fingerprint(),
            sig.layers.len(),
            why.join("; ")
        )));
    }
    let mut attestations = Vec::new();
    if let Some(want) = attestation {
        attestations = verify_attestations(target, key, want, opts)?;
    }
    Ok(Verified {
        digest: target.digest.clone(),
        signatures,
        attestations,
    })
}

fn verify_attestations(
    target: &Target,
    key: &PublicKey,
    want: &str,
    opts: &whittle_registry::Options,
) -> Result<Vec<Statement>> {
    let tag = Kind::Attestation.tag(&target.digest)?;
    let name = target.place.name();
    let att =
        store::read(&target.place, &tag, payload::MAX_PAYLOAD as u64, opts)?.ok_or_else(|| {
            Error::NotVerified(format!(
                "{name}@{}: no attestations (no `{tag}` manifest); add one with `whittle attest`",
                target.digest
            ))
        })?;
    let mut why = Vec::new();
    let mut found = Vec::new();
    for (d, bytes) in &att.layers {
        let checked = Envelope::parse(bytes).and_then(|e| {
            if e.payload_type != payload::PAYLOAD_TYPE_IN_TOTO {
                return Err(Error::format(
                    "DSSE envelope",
                    format!("payloadType is not {}", payload::PAYLOAD_TYPE_IN_TOTO),
                ));
            }
            Statement::parse(&e.verify(key)?)
        });
        match checked {
            Ok(s) if s.predicate_type != want => {
                why.push(format!("{}: predicate type {}", d.digest, s.predicate_type))
            }
            Ok(s) if !s.is_about(&target.digest) => {
                why.push(format!("{}: a statement about another digest", d.digest))
            }
            Ok(s) => found.push(s),
            Err(e) => why.push(format!("{}: {e}", d.digest)),
        }
    }
    if found.is_empty() {
        return Err(Error::NotVerified(format!(
            "{name}@{}: no attestation of type {want} signed by key sha256:{}; of {} in `{tag}`: {}",
            target.digest,
            key.fingerprint(),
            att.layers.len(),
            why.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(found)
}
