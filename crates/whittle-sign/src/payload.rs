//! What gets signed: cosign's simple-signing payload (the manifest digest), DSSE envelopes with
//! their pre-authentication encoding (PAE), and in-toto statements.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::key::{PublicKey, SigningKey};

/// Media type of a signature layer: the simple-signing payload.
pub const MEDIA_TYPE_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Media type of an attestation layer: a DSSE envelope.
pub const MEDIA_TYPE_DSSE: &str = "application/vnd.dsse.envelope.v1+json";
/// The `type` of cosign's simple-signing payloads.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// DSSE payload type of in-toto statements.
pub const PAYLOAD_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";
/// `_type` of in-toto v1 statements (what whittle writes).
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of in-toto v0.1 statements (what cosign writes; accepted when verifying).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// Largest payload, envelope or statement parsed (SBOMs of large images fit).
pub const MAX_PAYLOAD: usize = 64 << 20;
/// Most signatures one envelope may carry.
const MAX_ENVELOPE_SIGNATURES: usize = 64;

/// The predicate type URI of a `--type` name, as cosign maps them (`spdxjson`, `spdx`,
/// `cyclonedx`, `cyclonedxxml`, `slsaprovenance` (v0.2), `slsaprovenance02`,
/// `slsaprovenance1`, `vuln`, `link`, `custom`), or the URI itself when one is given.
pub fn predicate_type(name: &str) -> Result<String> {
    let uri = match name {
        "spdxjson" | "spdx" => "https://spdx.dev/Document",
        "cyclonedx" | "cyclonedxxml" => "https://cyclonedx.org/bom",
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "link" => "https://in-toto.io/Link/v1",
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        uri if uri.contains("://") && uri.len() <= 2048 && !uri.contains(char::is_whitespace) => {
            uri
        }
        other => {
            return Err(Error::format(
                "--type",
                format!(
                    "`{}` is neither a predicate type name (spdxjson, cyclonedx, slsaprovenance, slsaprovenance1, vuln, link, custom) nor a URI",
                    other.chars().take(80).collect::<String>()
                ),
            ));
        }
    };
    Ok(uri.to_string())
}

/// cosign's simple-signing payload. Its objects take exactly their fields (as containers/image
/// reads them): a verifier in Go matches keys case-insensitively, so a `Critical` or `Image`
/// beside the real one would be read differently there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleSigning {
    /// What is signed.
    pub critical: Critical,
    /// Free-form claims (cosign writes `null`).
    pub optional: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The `critical` part of a simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Critical {
    /// The image's name.
    pub identity: Identity,
    /// The signed manifest.
    pub image: ImageDigest,
    /// [`SIMPLE_SIGNING_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The repository the image was signed in (`host/repo`).
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDigest {
    /// `sha256:<hex>` of the signed manifest.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// URI of cosign's `custom` predicate type: the predicate is `{"Data": <the file's text>,
/// "Timestamp": <RFC 3339>}`.
pub const PREDICATE_CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

/// The predicate cosign puts in a statement of `type_name` (a `--type` value) for a predicate
/// file's bytes: `custom` wraps the text with a timestamp (seconds since 1970), `spdx` and
/// `cyclonedxxml` keep the text as a string, everything else must be a JSON document.
pub fn predicate_value(type_name: &str, file: &[u8], timestamp: u64) -> Result<serde_json::Value> {
    let text = || {
        String::from_utf8(file.to_vec())
            .map_err(|_| Error::format("predicate", "is not UTF-8 text"))
    };
    match type_name {
        "custom" => Ok(serde_json::json!({
            "Data": text()?,
            "Timestamp": whittle_oci::rfc3339(timestamp),
        })),
        "spdx" | "cyclonedxxml" => Ok(serde_json::Value::String(text()?)),
        _ => serde_json::from_slice(file).map_err(|e| {
            Error::format(
                "predicate",
                format!("is not JSON ({e}); a `{type_name}` predicate is a JSON document"),
            )
        }),
    }
}

/// The simple-signing payload of `digest` in `docker_reference`, serialized as cosign does.
pub fn simple_signing(docker_reference: &str, digest: &str) -> Vec<u8> {
    let p = SimpleSigning {
        critical: Critical {
            identity: Identity {
                docker_reference: docker_reference.into(),
            },
            image: ImageDigest {
                docker_manifest_digest: digest.into(),
            },
            kind: SIMPLE_SIGNING_TYPE.into(),
        },
        optional: None,
    };
    // serializing plain strings cannot fail
    serde_json::to_vec(&p).unwrap_or_default()
}

/// Parse a simple-signing payload (bounded by [`MAX_PAYLOAD`]).
pub fn parse_simple_signing(bytes: &[u8]) -> Result<SimpleSigning> {
    bounded(bytes, "simple-signing payload")?;
    let p: SimpleSigning = serde_json::from_slice(bytes)
        .map_err(|e| Error::format("simple-signing payload", e.to_string()))?;
    if p.critical.kind != SIMPLE_SIGNING_TYPE {
        return Err(Error::format(
            "simple-signing payload",
            format!(
                "critical.type is `{}`, not `{SIMPLE_SIGNING_TYPE}`",
                p.critical.kind.chars().take(80).collect::<String>()
            ),
        ));
    }
    Ok(p)
}

fn bounded(bytes: &[u8], what: &str) -> Result<()> {
    if bytes.len() > MAX_PAYLOAD {
        return Err(Error::TooLarge {
            what: what.into(),
            message: format!("has {} bytes, more than {MAX_PAYLOAD}", bytes.len()),
        });
    }
    Ok(())
}

/// DSSE's pre-authentication encoding: what an envelope's signatures sign.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {payload_type} {} ",
            payload_type.len(),
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Type of the payload ([`PAYLOAD_TYPE_IN_TOTO`]).
    pub payload_type: String,
    /// The payload, base64.
    pub payload: String,
    /// Signatures over [`pae`] of type and payload.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key hint (cosign writes an empty one).
    #[serde(default)]
    pub keyid: String,
    /// The signature, base64 of ASN.1 DER.
    pub sig: String,
}

impl Envelope {
    /// `payload` signed with `key` in an envelope of `payload_type`.
    pub fn sign(key: &SigningKey, payload_type: &str, payload: &[u8]) -> Envelope {
        Envelope {
            payload_type: payload_type.into(),
            payload: B64.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: B64.encode(key.sign(&pae(payload_type, payload))),
            }],
        }
    }

    /// Parse an envelope (bounded by [`MAX_PAYLOAD`], at most 64 signatures).
    pub fn parse(bytes: &[u8]) -> Result<Envelope> {
        bounded(bytes, "DSSE envelope")?;
        let e: Envelope = serde_json::from_slice(bytes)
            .map_err(|e| Error::format("DSSE envelope", e.to_string()))?;
        if e.signatures.len() > MAX_ENVELOPE_SIGNATURES {
            return Err(Error::TooLarge {
                what: "DSSE envelope".into(),
                message: format!(
                    "has {} signatures, more than {MAX_ENVELOPE_SIGNATURES}",
                    e.signatures.len()
                ),
            });
        }
        Ok(e)
    }

    /// The payload, when one of the signatures is `key`'s signature of its PAE.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>> {
        let payload = B64
            .decode(&self.payload)
            .map_err(|e| Error::format("DSSE envelope", format!("payload is not base64: {e}")))?;
        let message = pae(&self.payload_type, &payload);
        let signed = self.signatures.iter().any(|s| {
            B64.decode(&s.sig)
                .is_ok_and(|sig| key.verify(&message, &sig))
        });
        if signed {
            Ok(payload)
        } else {
            Err(Error::NotVerified(format!(
                "the DSSE envelope ({} signature(s)) is not signed by key sha256:{} (tampered with, or signed by another key)",
                self.signatures.len(),
                key.fingerprint()
            )))
        }
    }
}

/// An in-toto statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_V1`] (or v0.1).
    #[serde(rename = "_type")]
    pub kind: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    #[serde(default)]
    pub predicate: serde_json::Value,
}

/// A JSON key as Go's encoding/json compares keys: ASCII case folded, and the two non-ASCII
/// letters that fold to ASCII ones (`ſ` to `s`, the Kelvin sign to `k`) taken as those.
fn go_fold(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{17f}' => 'S',
            '\u{212a}' => 'K',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// Refuses a statement with a key that differs from one of its fields only in case (`Subject`
/// beside `subject`): in-toto's Go readers match keys case-insensitively, keeping the last, so
/// it would be about other subjects there. Other unknown keys are ignored, as in-toto says.
fn refuse_case_variants(bytes: &[u8]) -> Result<()> {
    use serde::de::IgnoredAny;
    type Keys = std::collections::BTreeMap<String, IgnoredAny>;
    #[derive(Deserialize)]
    struct Subjects {
        subject: Vec<Keys>,
    }
    let check = |keys: &Keys, fields: &[&str], what: &str| -> Result<()> {
        for k in keys.keys() {
            if let Some(f) = fields
                .iter()
                .find(|f| **f != k.as_str() && go_fold(f) == go_fold(k))
            {
                return Err(Error::format(
                    "in-toto statement",
                    format!(
                        "{what} has a key `{}` beside `{f}`: ambiguous, readers that ignore case disagree on what it says",
                        k.chars().take(80).collect::<String>()
                    ),
                ));
            }
        }
        Ok(())
    };
    let parse_error = |e: serde_json::Error| Error::format("in-toto statement", e.to_string());
    let top: Keys = serde_json::from_slice(bytes).map_err(parse_error)?;
    check(
        &top,
        &["_type", "subject", "predicateType", "predicate"],
        "the statement",
    )?;
    let subjects: Subjects = serde_json::from_slice(bytes).map_err(parse_error)?;
    for (i, keys) in subjects.subject.iter().enumerate() {
        check(keys, &["name", "digest"], &format!("subject {i}"))?;
    }
    Ok(())
}

/// One subject of a [`Statement`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Its name (the repository).
    pub name: String,
    /// Its digests by algorithm (`sha256` → hex).
    pub digest: std::collections::BTreeMap<String, String>,
}

impl Statement {
    /// An in-toto v1 statement about `digest` (`sha256:<hex>`) named `name`.
    pub fn new(
        name: &str,
        digest: &str,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Self {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        Statement {
            kind: STATEMENT_V1.into(),
            subject: vec![Subject {
                name: name.into(),
                digest: [("sha256".to_string(), hex.to_string())].into(),
            }],
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// Parse a statement (v1 or v0.1; bounded by [`MAX_PAYLOAD`]).
    pub fn parse(bytes: &[u8]) -> Result<Statement> {
        bounded(bytes, "in-toto statement")?;
        let s: Statement = serde_json::from_slice(bytes)
            .map_err(|e| Error::format("in-toto statement", e.to_string()))?;
        refuse_case_variants(bytes)?;
        if s.kind != STATEMENT_V1 && s.kind != STATEMENT_V01 {
            return Err(Error::format(
                "in-toto statement",
                format!(
                    "_type is `{}`, not {STATEMENT_V1}",
                    s.kind.chars().take(80).collect::<String>()
                ),
            ));
        }
        Ok(s)
    }

    /// Whether one subject has the SHA-256 of `digest` (`sha256:<hex>`).
    pub fn is_about(&self, digest: &str) -> bool {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").is_some_and(|h| h == hex))
    }

    /// The statement as JSON.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::format("in-toto statement", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:7b8c1a5e09cb3c9a2c8e0f0a8e1a7f5a6d38c1d1ab2c3e4f5a6b7c8d9e0f1a2b";

    #[test]
    fn simple_signing_payload_is_cosigns() {
        let p = simple_signing("127.0.0.1:5000/app", DIGEST);
        assert_eq!(
            String::from_utf8(p.clone()).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/app"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        let back = parse_simple_signing(&p).unwrap();
        assert_eq!(back.critical.image.docker_manifest_digest, DIGEST);
    }

    #[test]
    fn pae_is_dsses() {
        // the example of the DSSE specification's protocol document
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn envelopes_verify_and_tampering_is_refused() {
        let key = SigningKey::generate();
        let st = Statement::new(
            "r",
            DIGEST,
            "https://spdx.dev/Document",
            serde_json::json!({}),
        );
        let env = Envelope::sign(&key, PAYLOAD_TYPE_IN_TOTO, &st.to_json().unwrap());
        let bytes = serde_json::to_vec(&env).unwrap();
        let back = Envelope::parse(&bytes).unwrap();
        let payload = back.verify(&key.public_key()).unwrap();
        assert!(Statement::parse(&payload).unwrap().is_about(DIGEST));
        // another key
        let e = back
            .verify(&SigningKey::generate().public_key())
            .unwrap_err();
        assert!(matches!(e, Error::NotVerified(_)), "{e}");
        // payload changed after signing
        let mut tampered = back.clone();
        let other = Statement::new(
            "r",
            &DIGEST.replace('7', "8"),
            "x://y",
            serde_json::json!({}),
        );
        tampered.payload = B64.encode(other.to_json().unwrap());
        assert!(tampered.verify(&key.public_key()).is_err());
        // payload type changed after signing (PAE covers it)
        let mut tampered = back;
        tampered.payload_type = "application/json".into();
        assert!(tampered.verify(&key.public_key()).is_err());
    }

    #[test]
    fn predicate_types_follow_cosign() {
        assert_eq!(
            predicate_type("spdxjson").unwrap(),
            "https://spdx.dev/Document"
        );
        assert_eq!(
            predicate_type("slsaprovenance1").unwrap(),
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(
            predicate_type("https://x.example/p").unwrap(),
            "https://x.example/p"
        );
        assert!(predicate_type("sbom").is_err());
    }

    #[test]
    fn predicates_are_what_cosign_puts_in_statements() {
        let custom = predicate_value("custom", b"hello", 0).unwrap();
        assert_eq!(
            custom,
            serde_json::json!({"Data": "hello", "Timestamp": "1970-01-01T00:00:00Z"})
        );
        assert_eq!(
            predicate_value("spdx", b"SPDXVersion: SPDX-2.3", 0).unwrap(),
            "SPDXVersion: SPDX-2.3"
        );
        assert_eq!(
            predicate_value("spdxjson", br#"{"a":1}"#, 0).unwrap(),
            serde_json::json!({"a": 1})
        );
        let e = predicate_value("slsaprovenance1", b"not json", 0).unwrap_err();
        assert!(e.to_string().contains("JSON"), "{e}");
    }

    #[test]
    fn ambiguous_simple_signing_payloads_are_refused() {
        let critical = |d: &str| {
            format!(
                r#"{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"{SIMPLE_SIGNING_TYPE}"}}"#
            )
        };
        let other = DIGEST.replace('7', "8");
        let (a, b) = (critical(DIGEST), critical(&other));
        // Go's encoding/json (cosign, policy-controller) matches keys case-insensitively and
        // keeps the last of duplicates: these read as `other` there, so they must not read as
        // DIGEST here
        for payload in [
            format!(r#"{{"critical":{a},"critical":{b},"optional":null}}"#),
            format!(r#"{{"critical":{a},"Critical":{b},"optional":null}}"#),
            format!(r#"{{"critical":{a},"CRITICAL":{b}}}"#),
            format!(
                r#"{{"critical":{},"optional":null}}"#,
                a.replacen(
                    r#""image":"#,
                    &format!(r#""Image":{{"docker-manifest-digest":"{other}"}},"image":"#),
                    1
                )
            ),
            format!(
                r#"{{"critical":{},"optional":null}}"#,
                a.replacen(
                    r#""type""#,
                    &format!(r#""image":{{"docker-manifest-digest":"{other}"}},"type""#),
                    1
                )
            ),
        ] {
            assert!(
                parse_simple_signing(payload.as_bytes()).is_err(),
                "accepted: {payload}"
            );
        }
        // cosign's own payload still reads
        let ok = format!(r#"{{"critical":{a},"optional":{{"k":"v"}}}}"#);
        assert_eq!(
            parse_simple_signing(ok.as_bytes())
                .unwrap()
                .critical
                .image
                .docker_manifest_digest,
            DIGEST
        );
    }

    #[test]
    fn statements_with_case_variant_keys_are_refused() {
        let other = DIGEST.replace('7', "8");
        let hex = |d: &str| d.strip_prefix("sha256:").unwrap().to_string();
        let (a, b) = (hex(DIGEST), hex(&other));
        let subject = |h: &str| format!(r#"[{{"name":"r","digest":{{"sha256":"{h}"}}}}]"#);
        let ok = format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":{},"predicateType":"x://y","predicate":{{"Subject":1}},"extra":1}}"#,
            subject(&a)
        );
        assert!(Statement::parse(ok.as_bytes()).unwrap().is_about(DIGEST));
        for bad in [
            format!(
                r#"{{"_type":"{STATEMENT_V1}","subject":{},"Subject":{},"predicateType":"x://y"}}"#,
                subject(&a),
                subject(&b)
            ),
            format!(
                r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"r","digest":{{"sha256":"{a}"}},"Digest":{{"sha256":"{b}"}}}}],"predicateType":"x://y"}}"#
            ),
            format!(
                r#"{{"_type":"{STATEMENT_V1}","subject":{},"predicateType":"x://y","PredicateType":"z://w"}}"#,
                subject(&a)
            ),
            // Go folds `ſ` (U+017F) to `s`
            format!(
                "{{\"_type\":\"{STATEMENT_V1}\",\"subject\":{},\"\u{17f}ubject\":{},\"predicateType\":\"x://y\"}}",
                subject(&a),
                subject(&b)
            ),
            format!(
                "{{\"_type\":\"{STATEMENT_V1}\",\"subject\":[{{\"name\":\"r\",\"digest\":{{\"sha256\":\"{a}\"}},\"dige\u{17f}t\":{{\"sha256\":\"{b}\"}}}}],\"predicateType\":\"x://y\"}}"
            ),
        ] {
            let e = Statement::parse(bad.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("ambiguous"), "{e}");
        }
        // a duplicate key is refused as well
        let dup = format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":{},"subject":{},"predicateType":"x://y"}}"#,
            subject(&a),
            subject(&b)
        );
        assert!(Statement::parse(dup.as_bytes()).is_err());
    }

    #[test]
    fn an_envelope_verifies_by_any_one_signature_of_the_key_and_bounds_their_number() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let st = Statement::new("r", DIGEST, "x://y", serde_json::json!({}));
        let mut env = Envelope::sign(&key, PAYLOAD_TYPE_IN_TOTO, &st.to_json().unwrap());
        let good = env.signatures[0].clone();
        let junk = |sig: &str| EnvelopeSignature {
            keyid: "k".into(),
            sig: sig.into(),
        };
        // DSSE: one valid signature of the key among others (junk, another key's) suffices
        env.signatures = vec![
            junk("not base64!"),
            junk(&B64.encode(other.sign(b"x"))),
            good.clone(),
        ];
        assert!(env.verify(&key.public_key()).is_ok());
        // without it, nothing else counts: not another key's valid one, not junk
        let other_env = Envelope::sign(&other, PAYLOAD_TYPE_IN_TOTO, &st.to_json().unwrap());
        env.signatures = vec![junk(""), other_env.signatures[0].clone()];
        assert!(env.verify(&key.public_key()).is_err());
        // 65 signatures are refused before any is checked
        env.signatures = vec![good; 65];
        let e = Envelope::parse(&serde_json::to_vec(&env).unwrap()).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn envelope_and_statement_parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(e) = Envelope::parse(&bytes) {
                let _ = e.verify(&SigningKey::generate().public_key());
            }
            let _ = Statement::parse(&bytes);
            let _ = parse_simple_signing(&bytes);
        }
    }
}
