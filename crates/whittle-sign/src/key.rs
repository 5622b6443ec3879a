//! cosign's keys: ECDSA P-256, the private key as `ENCRYPTED SIGSTORE PRIVATE KEY` PEM (JSON of
//! scrypt parameters, salt, NaCl secretbox nonce and the sealed PKCS#8 DER) or plain PKCS#8 /
//! SEC1 PEM, the public key as SubjectPublicKeyInfo PEM.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The environment variable cosign reads a key's password from (set and empty: no password).
pub const PASSWORD_VAR: &str = "COSIGN_PASSWORD";
/// PEM label of the private keys cosign writes today.
pub const ENCRYPTED_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of the private keys older cosign releases wrote (same content).
pub const LEGACY_ENCRYPTED_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// Largest key file read.
pub const MAX_KEY_FILE: u64 = 64 << 10;
/// Most the scrypt parameters of a key may ask for, as 128·N·r·p bytes (the memory, times the
/// p passes that each take as long): 256 MiB, four times what cosign's own keys (N = 65536,
/// r = 8, p = 1) take, so reading a key costs at most four times cosign's time.
const MAX_SCRYPT_WORK: u64 = 256 << 20;
/// scrypt work factor of new keys: cosign's (N = 2^16, r = 8, p = 1).
const NEW_LOG_N: u8 = 16;

const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// The JSON inside an encrypted key's PEM.
#[derive(Serialize, Deserialize)]
struct Encrypted {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// An ECDSA P-256 private key.
#[derive(Clone)]
pub struct SigningKey(p256::ecdsa::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({:?})", self.public_key())
    }
}

/// An ECDSA P-256 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(p256::ecdsa::VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(sha256:{})", self.fingerprint())
    }
}

/// The password in [`PASSWORD_VAR`], when it is set.
pub fn password_from_env() -> Option<Vec<u8>> {
    std::env::var_os(PASSWORD_VAR).map(|p| p.into_encoded_bytes())
}

/// Read a key file, at most [`MAX_KEY_FILE`] bytes.
fn read_key_file(path: &Path) -> Result<String> {
    let buf = Error::read_bounded(path, MAX_KEY_FILE)?;
    String::from_utf8(buf).map_err(|_| Error::Key {
        source_name: path.display().to_string(),
        message: "is not a PEM file (not text)".into(),
    })
}

fn key_error(source: &str, message: impl Into<String>) -> Error {
    Error::Key {
        source_name: source.into(),
        message: message.into(),
    }
}

/// The one PEM block of `text` (label, DER), bounded by the input's size.
fn pem_block<'a>(text: &'a str, source: &str) -> Result<(&'a str, Vec<u8>)> {
    let trimmed = text.trim();
    if !trimmed.starts_with("-----BEGIN ") {
        return Err(key_error(
            source,
            "is not a PEM key (no `-----BEGIN` line); cosign keys are PEM files",
        ));
    }
    pem::decode_vec(trimmed.as_bytes())
        .map_err(|e| key_error(source, format!("is not a well-formed PEM block: {e}")))
}

/// Name of the algorithm of a PKCS#8 / SPKI key, from its OIDs.
fn algorithm_name(oid: &str, param: Option<&str>) -> String {
    match (oid, param) {
        ("1.2.840.113549.1.1.1", _) | ("1.2.840.113549.1.1.10", _) => "an RSA".into(),
        ("1.3.101.112", _) => "an Ed25519".into(),
        ("1.3.101.113", _) => "an Ed448".into(),
        (OID_EC, Some("1.3.132.0.34")) => "an ECDSA P-384".into(),
        (OID_EC, Some("1.3.132.0.35")) => "an ECDSA P-521".into(),
        (OID_EC, Some("1.3.132.0.10")) => "an ECDSA secp256k1".into(),
        (OID_EC, p) => format!("an EC key on curve {}", p.unwrap_or("(unnamed)")),
        (o, _) => format!("a key of algorithm {o}"),
    }
}

/// Refuses a PKCS#8 private key that is not ECDSA P-256, naming what it is.
fn check_pkcs8_algorithm(der: &[u8], source: &str) -> Result<()> {
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der)
        .map_err(|e| key_error(source, format!("is not a PKCS#8 private key: {e}")))?;
    let oid = info.algorithm.oid.to_string();
    let param = info.algorithm.parameters_oid().ok().map(|o| o.to_string());
    if oid == OID_EC && param.as_deref() == Some(OID_P256) {
        return Ok(());
    }
    Err(Error::KeyType {
        source_name: source.into(),
        algorithm: algorithm_name(&oid, param.as_deref()),
    })
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> SigningKey {
        SigningKey(p256::ecdsa::SigningKey::random(&mut OsRng))
    }

    /// Read a private key file: encrypted with the password in [`PASSWORD_VAR`] (as cosign
    /// reads it), or plain PKCS#8 / SEC1 PEM.
    pub fn load(path: &Path) -> Result<SigningKey> {
        let text = read_key_file(path)?;
        SigningKey::from_pem(
            &text,
            password_from_env().as_deref(),
            &path.display().to_string(),
        )
    }

    /// Parse a private key PEM (`source` names it in errors). `password` decrypts an encrypted
    /// key; plain keys ignore it.
    pub fn from_pem(text: &str, password: Option<&[u8]>, source: &str) -> Result<SigningKey> {
        let (label, der) = pem_block(text, source)?;
        match label {
            ENCRYPTED_LABEL | LEGACY_ENCRYPTED_LABEL => {
                let password = password.ok_or_else(|| Error::NoPassword {
                    source_name: source.into(),
                })?;
                let pkcs8 = decrypt(&der, password, source)?;
                SigningKey::from_pkcs8(&pkcs8, source)
            }
            "PRIVATE KEY" => SigningKey::from_pkcs8(&der, source),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
                .map(|k| SigningKey(k.into()))
                .map_err(|_| {
                    key_error(
                        source,
                        "is an EC private key, but not on curve P-256 (or malformed); whittle signs with ECDSA P-256 keys only",
                    )
                }),
            "RSA PRIVATE KEY" => Err(Error::KeyType {
                source_name: source.into(),
                algorithm: "an RSA".into(),
            }),
            "OPENSSH PRIVATE KEY" => Err(key_error(
                source,
                "is an OpenSSH key; whittle reads cosign's keys (make one with `whittle generate-key-pair`)",
            )),
            "PUBLIC KEY" => Err(key_error(
                source,
                "is a public key; signing needs the private key (cosign.key), verifying takes the public one",
            )),
            other => Err(key_error(
                source,
                format!(
                    "holds a `{}` PEM block, not a private key; expected `{ENCRYPTED_LABEL}` or `PRIVATE KEY`",
                    other.chars().take(60).collect::<String>()
                ),
            )),
        }
    }

    fn from_pkcs8(der: &[u8], source: &str) -> Result<SigningKey> {
        check_pkcs8_algorithm(der, source)?;
        p256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(SigningKey)
            .map_err(|e| key_error(source, format!("is a malformed P-256 private key: {e}")))
    }

    /// The key as cosign writes it: `ENCRYPTED SIGSTORE PRIVATE KEY` PEM, scrypt (N = 65536,
    /// r = 8, p = 1) and NaCl secretbox with a random salt and nonce.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String> {
        let der = self
            .0
            .to_pkcs8_der()
            .map_err(|e| key_error("new key", format!("encoding PKCS#8: {e}")))?;
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut nonce);
        let key = derive(password, &salt, NEW_LOG_N, 8, 1, "new key")?;
        let sealed = XSalsa20Poly1305::new((&key).into())
            .encrypt((&nonce).into(), der.as_bytes())
            .map_err(|_| key_error("new key", "sealing failed"))?;
        let json = serde_json::to_vec(&Encrypted {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams {
                    n: 1 << NEW_LOG_N,
                    r: 8,
                    p: 1,
                },
                salt: B64.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(sealed),
        })
        .map_err(|e| key_error("new key", e.to_string()))?;
        pem::encode_string(ENCRYPTED_LABEL, LineEnding::LF, &json)
            .map_err(|e| key_error("new key", format!("PEM encoding: {e}")))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// ECDSA P-256 / SHA-256 signature of `message`, ASN.1 DER (as cosign stores them).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.0.sign(message);
        sig.to_der().as_bytes().to_vec()
    }
}

/// scrypt key of the secretbox.
fn derive(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
    source: &str,
) -> Result<[u8; 32]> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| key_error(source, format!("invalid scrypt parameters: {e}")))?;
    let mut out = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut out)
        .map_err(|e| key_error(source, format!("scrypt: {e}")))?;
    Ok(out)
}

/// The PKCS#8 DER sealed in an encrypted key's JSON. The scrypt parameters are bounded
/// ([`MAX_SCRYPT_WORK`]) before any work.
fn decrypt(json: &[u8], password: &[u8], source: &str) -> Result<Vec<u8>> {
    let enc: Encrypted = serde_json::from_slice(json).map_err(|e| {
        key_error(
            source,
            format!("the encrypted key's JSON is not cosign's (kdf, cipher, ciphertext): {e}"),
        )
    })?;
    if enc.kdf.name != "scrypt" {
        return Err(key_error(
            source,
            format!(
                "key derivation `{}` is not scrypt",
                enc.kdf.name.chars().take(40).collect::<String>()
            ),
        ));
    }
    if enc.cipher.name != "nacl/secretbox" {
        return Err(key_error(
            source,
            format!(
                "cipher `{}` is not nacl/secretbox",
                enc.cipher.name.chars().take(40).collect::<String>()
            ),
        ));
    }
    let ScryptParams { n, r, p } = enc.kdf.params;
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
        return Err(key_error(
            source,
            format!(
                "scrypt parameters N={n} r={r} p={p} are invalid (N a power of two ≥ 2, r and p ≥ 1)"
            ),
        ));
    }
    // p runs the 128·N·r-byte mix p times: bounding the product bounds memory and time
    let work = 128u64
        .saturating_mul(n)
        .saturating_mul(u64::from(r))
        .saturating_mul(u64::from(p));
    if work > MAX_SCRYPT_WORK {
        return Err(Error::TooLarge {
            what: format!("{source}: scrypt parameters N={n} r={r} p={p}"),
            message: format!(
                "would take 128·N·r·p = {work} bytes of mixing (limit {MAX_SCRYPT_WORK}); cosign's own keys use N=65536 r=8 p=1"
            ),
        });
    }
    let b64 = |what: &str, s: &str| {
        B64.decode(s)
            .map_err(|e| key_error(source, format!("{what} is not base64: {e}")))
    };
    let salt = b64("kdf.salt", &enc.kdf.salt)?;
    let nonce = b64("cipher.nonce", &enc.cipher.nonce)?;
    let sealed = b64("ciphertext", &enc.ciphertext)?;
    let nonce: [u8; 24] = nonce.try_into().map_err(|v: Vec<u8>| {
        key_error(
            source,
            format!("cipher.nonce has {} bytes, secretbox takes 24", v.len()),
        )
    })?;
    let key = derive(password, &salt, n.trailing_zeros() as u8, r, p, source)?;
    XSalsa20Poly1305::new((&key).into())
        .decrypt((&nonce).into(), sealed.as_slice())
        .map_err(|_| Error::WrongPassword {
            source_name: source.into(),
        })
}

impl PublicKey {
    /// Read a public key file (`PUBLIC KEY` PEM, as cosign.pub).
    pub fn load(path: &Path) -> Result<PublicKey> {
        let text = read_key_file(path)?;
        PublicKey::from_pem(&text, &path.display().to_string())
    }

    /// Parse a `PUBLIC KEY` PEM (`source` names it in errors).
    pub fn from_pem(text: &str, source: &str) -> Result<PublicKey> {
        let (label, der) = pem_block(text, source)?;
        if label != "PUBLIC KEY" {
            return Err(key_error(
                source,
                format!(
                    "holds a `{}` PEM block; verifying takes the public key (cosign.pub, `PUBLIC KEY`)",
                    label.chars().take(60).collect::<String>()
                ),
            ));
        }
        let spki = p256::pkcs8::SubjectPublicKeyInfoRef::try_from(der.as_slice())
            .map_err(|e| key_error(source, format!("is not a SubjectPublicKeyInfo: {e}")))?;
        let oid = spki.algorithm.oid.to_string();
        let param = spki.algorithm.parameters_oid().ok().map(|o| o.to_string());
        if !(oid == OID_EC && param.as_deref() == Some(OID_P256)) {
            return Err(Error::KeyType {
                source_name: source.into(),
                algorithm: algorithm_name(&oid, param.as_deref()),
            });
        }
        p256::ecdsa::VerifyingKey::from_public_key_der(&der)
            .map(PublicKey)
            .map_err(|e| key_error(source, format!("is a malformed P-256 public key: {e}")))
    }

    /// The key as `PUBLIC KEY` PEM (cosign.pub).
    pub fn to_pem(&self) -> Result<String> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| key_error("public key", e.to_string()))
    }

    /// Hex SHA-256 of the key's DER SubjectPublicKeyInfo: names the key in messages.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let der = self
            .0
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        hex::encode(sha2::Sha256::digest(der))
    }

    /// Whether `signature` (ASN.1 DER, or the 64-byte r‖s form) is this key's signature of
    /// `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let sig = p256::ecdsa::Signature::from_der(signature)
            .or_else(|_| p256::ecdsa::Signature::from_slice(signature));
        sig.is_ok_and(|s| self.0.verify(message, &s).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture keys with their passwords, or None (SKIPPED, a failure under CI).
    fn fixtures() -> Option<Vec<(String, &'static [u8], &'static str)>> {
        let dir = whittle_testutil::fixtures()?.join("cosign");
        let keys = [
            ("cosign_generated_encrypted_empty_private.key", &b""[..]),
            ("ecdsa_encrypted_private.key", &b"123"[..]),
            ("ecdsa_private.key", &b""[..]),
        ];
        keys.into_iter()
            .map(|(name, pw)| match std::fs::read_to_string(dir.join(name)) {
                Ok(t) => Some((t, pw, name)),
                Err(e) => {
                    whittle_testutil::skip(&format!("fixture cosign/{name} ({e})"));
                    None
                }
            })
            .collect()
    }

    #[test]
    fn cosign_written_keys_load_and_sign() {
        let Some(keys) = fixtures() else { return };
        for (text, pw, name) in keys {
            let key = SigningKey::from_pem(&text, Some(pw), name).unwrap();
            let sig = key.sign(b"payload");
            assert!(key.public_key().verify(b"payload", &sig), "{name}");
            assert!(!key.public_key().verify(b"other", &sig), "{name}");
        }
    }

    #[test]
    fn wrong_or_missing_password_is_refused_by_name() {
        let Some(keys) = fixtures() else { return };
        let (text, _, name) = &keys[0];
        let e = SigningKey::from_pem(text, Some(b"nope"), name).unwrap_err();
        assert!(matches!(e, Error::WrongPassword { .. }), "{e}");
        assert!(e.to_string().contains(name) && e.to_string().contains("COSIGN_PASSWORD"));
        let e = SigningKey::from_pem(text, None, name).unwrap_err();
        assert!(matches!(e, Error::NoPassword { .. }), "{e}");
    }

    #[test]
    fn generated_keys_round_trip_through_cosigns_format() {
        let key = SigningKey::generate();
        let pem = key.to_encrypted_pem(b"pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = SigningKey::from_pem(&pem, Some(b"pw"), "k").unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let public = PublicKey::from_pem(&key.public_key().to_pem().unwrap(), "p").unwrap();
        assert_eq!(public, key.public_key());
        assert!(matches!(
            SigningKey::from_pem(&pem, Some(b"px"), "k"),
            Err(Error::WrongPassword { .. })
        ));
    }

    // a 1024-bit RSA key and an Ed25519 key (PKCS#8), generated for this test with openssl
    const RSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBAM4SCTz95AHY9//y
+v5SQ/v4GI0/lBvCc0dBj0Alw5T4zUM5YCu0KoyL1Y4Bcahrz29bec0jas3HFX1+
lp5/9V4yOOXF2yjD5INJENe4LZPFLnH/PwMVEtYGIK88a5uMymEBZcHcMA8wdctp
1gQNvyOk73og+N8FkshtM88WWaWLAgMBAAECgYEAklgAs43i9OTvCpe2ZBJsMW75
kKYMOsKXN415fCbVhOBEdW8zuxXR+cn8uUKRQvh9cinWkDaMzOKLgnn54UoiJ6EZ
Oko3vyGA/dZ102tUUtyRBkW4A/WKBIo8zqHtYIGNNew+X08vz6LtgzW24djgUuPt
C+VSFaedVlXu9cjvIAECQQD/SvS0fHexV3pWhCN/5wZS4L8PtkfbhsYR64oQfD9J
8SnB/S0PK6+xCnJHvrnghl+Rzdc92XcJm+i90/tYK1gBAkEAzqQsbmoi2NcHskYR
gurkhikd3AoA806Zrsj4KcovrkMUXfppGNbslEJyRjeXLwZiKoT8UmKSYg62euHe
i9jdiwJAdxAZQlfOZto6h0EHYW54p4yD7yr/JmYb2F22vWuFBNJBvGR8cFfaj8Ik
fEt6WzmwNsr+eK0EdGnPSUElNwC4AQJBALIC+gewRQ65xvaLqAA4696rQv7QW1s+
ZeQNWsNdWs/rF3uSAcGVPL7HsvvMXd/zxtNMNrWeFu6EMC0RsQ6WJtsCQQD50SWz
Q6xsdyOH1aQ7rnDlf2PqRmXqmdncVcmeQOVqkJLl3GJDU4+KT06zgY5gSQq2oFcF
etZsmENl0UqFx5tM
-----END PRIVATE KEY-----
";
    const ED25519_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILwc5jgNRRIs7sHN9ps7TJWZugMJP3RiydubFMXkwP/K
-----END PRIVATE KEY-----
";

    #[test]
    fn keys_of_other_algorithms_are_named_and_refused() {
        for (pem, what) in [(RSA_PKCS8, "RSA"), (ED25519_PKCS8, "Ed25519")] {
            let e = SigningKey::from_pem(pem, None, "k.pem").unwrap_err();
            assert!(
                matches!(&e, Error::KeyType { algorithm, .. } if algorithm.contains(what)),
                "{what}: {e}"
            );
            assert!(e.to_string().contains("ECDSA P-256"), "{e}");
        }
        let e = SigningKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            None,
            "k",
        )
        .unwrap_err();
        assert!(e.to_string().contains("public key"), "{e}");
        let e = PublicKey::from_pem(RSA_PKCS8, "p").unwrap_err();
        assert!(e.to_string().contains("PUBLIC KEY"), "{e}");
    }

    #[test]
    fn scrypt_parameters_are_bounded_before_any_work() {
        let json = br#"{"kdf":{"name":"scrypt","params":{"N":1073741824,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}"#;
        let pem = pem::encode_string(ENCRYPTED_LABEL, LineEnding::LF, json).unwrap();
        let start = std::time::Instant::now();
        let e = SigningKey::from_pem(&pem, Some(b""), "big.key").unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn scrypt_work_is_bounded_not_only_its_memory() {
        // 256 MiB of memory (the limit) but p = 16 passes: 64 times the work of cosign's keys
        let json = br#"{"kdf":{"name":"scrypt","params":{"N":1048576,"r":2,"p":16},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},"ciphertext":""}"#;
        let pem = pem::encode_string(ENCRYPTED_LABEL, LineEnding::LF, json).unwrap();
        let start = std::time::Instant::now();
        let e = SigningKey::from_pem(&pem, Some(b""), "slow.key").unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("slow.key"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_pem_with_something_after_its_block_is_refused() {
        let key = SigningKey::generate();
        let public = key.public_key().to_pem().unwrap();
        let other = SigningKey::generate().public_key().to_pem().unwrap();
        for tail in ["garbage\n", other.as_str()] {
            let text = format!("{public}{tail}");
            let e = PublicKey::from_pem(&text, "two.pub").unwrap_err();
            assert!(e.to_string().contains("two.pub"), "{e}");
        }
        let private = key.to_encrypted_pem(b"").unwrap();
        assert!(SigningKey::from_pem(&format!("{private}{other}"), Some(b""), "k").is_err());
    }

    fn public_pem(b64: &str) -> String {
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    #[test]
    fn public_keys_off_p256_or_off_the_curve_are_refused() {
        // generated with openssl: a P-384 key, a 1024-bit RSA key
        let p384 = "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEqjhp0m7p8Habyp3GziTZhoVzsrM0NQ7d\nOotQWiKtTLKNCfQ/hWLXOLZnhJBA0oej9cPntVtkcutgUE5ZL4SsXZ7S4Y0hn9tZ\nQpHOLhmo2as1zndImZnAXTgI2V0hgbtO";
        let rsa = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDvF2pYj+BpuA7Ko9C05vXBDjak\ndHEdQM2R0b+dWVc3htMIKG9zI4z2lPfs5u2MmQXZDIVNa31ERI1DHJaJqR1T9sBF\nFDoNZhaIAG+RzBqo+hfTEi7FFsYzVHZCy+IJrQsNmzYQZtoJ54QtGdRxk159ytJL\n6awa+OrH5uSBRuVswQIDAQAB";
        for (b64, what) in [(p384, "P-384"), (rsa, "RSA")] {
            let e = PublicKey::from_pem(&public_pem(b64), "other.pub").unwrap_err();
            assert!(
                matches!(&e, Error::KeyType { algorithm, .. } if algorithm.contains(what)),
                "{what}: {e}"
            );
        }
        // P-256 SubjectPublicKeyInfo with the point at infinity, and with (1, 1)
        for b64 in [
            "MBkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDAgAA",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ==",
        ] {
            let e = PublicKey::from_pem(&public_pem(b64), "bad.pub").unwrap_err();
            assert!(e.to_string().contains("bad.pub"), "{e}");
        }
        // the compressed form of a key is the same key (same fingerprint, same signatures)
        let compressed = public_pem(
            "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgACoUvpVZITeOtf924gWr/ElZXmsi5j\nUcRllmez6KlSw0Y=",
        );
        let uncompressed = public_pem(
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoUvpVZITeOtf924gWr/ElZXmsi5j\nUcRllmez6KlSw0alPMDHK6acOsVQ5JmNyNs6XUVaV6g+3S5GjN3nBwDbng==",
        );
        assert_eq!(
            PublicKey::from_pem(&compressed, "c").unwrap(),
            PublicKey::from_pem(&uncompressed, "u").unwrap()
        );
    }

    proptest::proptest! {
        #[test]
        fn private_key_parser_never_panics(s in "\\PC{0,600}") {
            let _ = SigningKey::from_pem(&s, Some(b""), "fuzz");
            let _ = PublicKey::from_pem(&s, "fuzz");
        }

        #[test]
        fn encrypted_json_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let pem = pem::encode_string(ENCRYPTED_LABEL, LineEnding::LF, &bytes).unwrap();
            let _ = SigningKey::from_pem(&pem, Some(b""), "fuzz");
        }
    }
}
