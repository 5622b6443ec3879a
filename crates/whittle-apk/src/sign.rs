//! APK v2 signatures: RSA PKCS#1 v1.5 over SHA-1 (`.SIGN.RSA.<keyname>`) or SHA-256
//! (`.SIGN.RSA256.<keyname>`) of the signed bytes, keys named by their file name (as in
//! `/etc/apk/keys`), a [`Keyring`] of trusted public keys, and a [`SigningKey`] for tests and
//! package/index signing.
//!
//! Verification only uses public keys and is constant with respect to secrets. Signing uses
//! the `rsa` crate, which carries the advisory RUSTSEC-2023-0071 ("Marvin": a timing side channel
//! on private-key operations observable by a *remote* party that can request many
//! decryptions/signatures and measure their timing). whittle signs only locally, on the user's
//! own machine, never as a network service, so that threat does not apply; do not expose
//! [`SigningKey::sign`] as an oracle to untrusted parties.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Largest PEM key file accepted (a 8192-bit public key is about 1.5 KiB).
pub const MAX_KEY_FILE: usize = 64 * 1024;

/// Largest RSA modulus accepted for public keys, in bits.
pub const MAX_KEY_BITS: usize = 8192;

/// Smallest RSA modulus accepted when generating a signing key, in bits.
pub const MIN_GENERATE_BITS: usize = 2048;

/// Errors from key parsing, verification and signing.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key file could not be parsed as PEM RSA key.
    #[error("{origin}: not a usable RSA {what} key: {reason} (expected PEM \"{expected}\")")]
    KeyParse {
        /// Where the key came from (file name or URL).
        origin: String,
        /// "public" or "private".
        what: &'static str,
        /// The accepted PEM labels.
        expected: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// A key file is larger than [`MAX_KEY_FILE`].
    #[error(
        "{origin}: key file is {size} bytes, more than the {max}-byte limit; is it really a key?"
    )]
    KeyTooLarge {
        /// Where the key came from.
        origin: String,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// No key with the given name is in the keyring.
    #[error(
        "no trusted key named {keyname:?} (trusted: {}); add the repository's public key to the keyring",
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )]
    UnknownKey {
        /// The key name the signature refers to.
        keyname: String,
        /// Names of the keys in the keyring.
        known: Vec<String>,
    },
    /// The signature does not verify with the named key.
    #[error(
        "{kind} signature by key {keyname:?} does not verify: the data was modified or signed by another key"
    )]
    BadSignature {
        /// The key used.
        keyname: String,
        /// The signature kind.
        kind: SigKind,
    },
    /// A precomputed digest had the wrong length for its kind.
    #[error("{kind} digest must be {expected} bytes, got {got}")]
    DigestLength {
        /// The signature kind.
        kind: SigKind,
        /// Expected digest length.
        expected: usize,
        /// Actual digest length.
        got: usize,
    },
    /// Key generation failed or the requested size is unsupported.
    #[error("cannot generate a {bits}-bit RSA key: {reason}")]
    Generate {
        /// Requested size.
        bits: usize,
        /// Why.
        reason: String,
    },
    /// Signing failed.
    #[error("signing with key {keyname:?} failed: {reason}")]
    Sign {
        /// The signing key's name.
        keyname: String,
        /// Why.
        reason: String,
    },
    /// Encoding a key as PEM failed.
    #[error("{origin}: cannot encode key as PEM: {reason}")]
    Encode {
        /// The key's name.
        origin: String,
        /// Why.
        reason: String,
    },
    /// Reading a key file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The two APK v2 signature kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigKind {
    /// `.SIGN.RSA.<key>`: RSA PKCS#1 v1.5 over SHA-1.
    Sha1,
    /// `.SIGN.RSA256.<key>`: RSA PKCS#1 v1.5 over SHA-256.
    Sha256,
}

impl SigKind {
    /// The tar member name prefix for this kind (`.SIGN.RSA.` or `.SIGN.RSA256.`).
    pub fn member_prefix(self) -> &'static str {
        match self {
            SigKind::Sha1 => ".SIGN.RSA.",
            SigKind::Sha256 => ".SIGN.RSA256.",
        }
    }

    /// Length in bytes of this kind's digest.
    pub fn digest_len(self) -> usize {
        match self {
            SigKind::Sha1 => 20,
            SigKind::Sha256 => 32,
        }
    }

    /// Digest of `data` with this kind's hash.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            SigKind::Sha1 => Sha1::digest(data).to_vec(),
            SigKind::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn scheme(self) -> Pkcs1v15Sign {
        match self {
            SigKind::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
            SigKind::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        }
    }

    fn check_digest(self, digest: &[u8]) -> Result<(), SignError> {
        if digest.len() == self.digest_len() {
            Ok(())
        } else {
            Err(SignError::DigestLength {
                kind: self,
                expected: self.digest_len(),
                got: digest.len(),
            })
        }
    }
}

impl fmt::Display for SigKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SigKind::Sha1 => "RSA/SHA-1",
            SigKind::Sha256 => "RSA/SHA-256",
        })
    }
}

/// The tar member name of a signature: `.SIGN.RSA.<keyname>` or `.SIGN.RSA256.<keyname>`.
pub fn signature_member_name(kind: SigKind, keyname: &str) -> String {
    format!("{}{keyname}", kind.member_prefix())
}

/// Splits a signature member name into its kind and key name; `None` if `name` is not an
/// RSA signature member (apk-tools ignores other `.SIGN.*` members, e.g. `.SIGN.DSA.`) or the key
/// name is empty or contains a path separator.
pub fn parse_signature_member_name(name: &str) -> Option<(SigKind, &str)> {
    // RSA256 first: ".SIGN.RSA." is not a prefix of ".SIGN.RSA256." but be explicit.
    let (kind, key) = if let Some(k) = name.strip_prefix(SigKind::Sha256.member_prefix()) {
        (SigKind::Sha256, k)
    } else if let Some(k) = name.strip_prefix(SigKind::Sha1.member_prefix()) {
        (SigKind::Sha1, k)
    } else {
        return None;
    };
    if key.is_empty() || key.contains('/') || key.contains('\0') {
        return None;
    }
    Some((kind, key))
}

/// A trusted RSA public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    origin: String,
    key: RsaPublicKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("origin", &self.origin)
            .field("bits", &self.bits())
            .finish()
    }
}

impl PublicKey {
    /// Parses a PEM public key: PKCS#8 / SPKI (`BEGIN PUBLIC KEY`, what `openssl rsa -pubout`
    /// and apk keys use) or PKCS#1 (`BEGIN RSA PUBLIC KEY`). `origin` names the source in errors.
    pub fn from_pem(origin: impl Into<String>, bytes: &[u8]) -> Result<Self, SignError> {
        let origin = origin.into();
        const EXPECTED: &str = "BEGIN PUBLIC KEY\" or \"BEGIN RSA PUBLIC KEY";
        if bytes.len() > MAX_KEY_FILE {
            return Err(SignError::KeyTooLarge {
                origin,
                size: bytes.len(),
                max: MAX_KEY_FILE,
            });
        }
        let parse_err = |origin: String, reason: String| SignError::KeyParse {
            origin,
            what: "public",
            expected: EXPECTED,
            reason,
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t.trim(),
            Err(e) => return Err(parse_err(origin, format!("not UTF-8 text: {e}"))),
        };
        let key = if text.contains("BEGIN RSA PUBLIC KEY") {
            RsaPublicKey::from_pkcs1_pem(text).map_err(|e| e.to_string())
        } else if text.contains("BEGIN PUBLIC KEY") {
            RsaPublicKey::from_public_key_pem(text).map_err(|e| e.to_string())
        } else {
            Err("no PEM public key block found".to_string())
        };
        let key = key.map_err(|reason| parse_err(origin.clone(), reason))?;
        if key.size() * 8 > MAX_KEY_BITS {
            return Err(parse_err(
                origin,
                format!("modulus larger than {MAX_KEY_BITS} bits"),
            ));
        }
        Ok(PublicKey { origin, key })
    }

    /// Where the key came from (as given to [`PublicKey::from_pem`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    /// The key as PKCS#8 PEM (`BEGIN PUBLIC KEY`), the form apk keeps in `/etc/apk/keys`.
    pub fn to_pem(&self) -> Result<String, SignError> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| SignError::Encode {
                origin: self.origin.clone(),
                reason: e.to_string(),
            })
    }

    /// Verifies `signature` over `signed` (hashed here with `kind`'s hash). `keyname` is only used
    /// in the error.
    pub fn verify(&self, kind: SigKind, signed: &[u8], signature: &[u8]) -> Result<(), SignError> {
        self.verify_digest(kind, &kind.digest(signed), signature)
    }

    /// Verifies `signature` over an already computed digest of the signed bytes (for streaming
    /// callers that hash while reading).
    pub fn verify_digest(
        &self,
        kind: SigKind,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), SignError> {
        kind.check_digest(digest)?;
        self.key
            .verify(kind.scheme(), digest, signature)
            .map_err(|_| SignError::BadSignature {
                keyname: self.origin.clone(),
                kind,
            })
    }
}

/// Trusted public keys by file name (e.g. `alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub`),
/// the name APK signatures refer to.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<String, PublicKey>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a key under `name`.
    pub fn insert(&mut self, name: impl Into<String>, key: PublicKey) {
        self.keys.insert(name.into(), key);
    }

    /// Parses `pem` and adds it under `name`.
    pub fn add_pem(&mut self, name: impl Into<String>, pem: &[u8]) -> Result<(), SignError> {
        let name = name.into();
        let key = PublicKey::from_pem(name.clone(), pem)?;
        self.keys.insert(name, key);
        Ok(())
    }

    /// Reads a key file; its file name (last path component) becomes the key name.
    pub fn add_file(&mut self, path: &Path) -> Result<(), SignError> {
        let io = |source| SignError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_KEY_FILE as u64 {
            return Err(SignError::KeyTooLarge {
                origin: path.display().to_string(),
                size: usize::try_from(meta.len()).unwrap_or(usize::MAX),
                max: MAX_KEY_FILE,
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let key = PublicKey::from_pem(path.display().to_string(), &bytes)?;
        self.keys.insert(name, key);
        Ok(())
    }

    /// Loads every regular file in `dir` ending in `.pub` (as apk reads `/etc/apk/keys`).
    pub fn from_dir(dir: &Path) -> Result<Self, SignError> {
        let io = |source| SignError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "pub") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut ring = Keyring::new();
        for p in paths {
            ring.add_file(&p)?;
        }
        Ok(ring)
    }

    /// The key named `name`, if trusted.
    pub fn get(&self, name: &str) -> Option<&PublicKey> {
        self.keys.get(name)
    }

    /// Names of all trusted keys, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn key(&self, keyname: &str) -> Result<&PublicKey, SignError> {
        self.keys.get(keyname).ok_or_else(|| SignError::UnknownKey {
            keyname: keyname.to_string(),
            known: self.keys.keys().cloned().collect(),
        })
    }

    /// Verifies `signature` over `signed_bytes` with the key named `keyname`:
    /// [`SignError::UnknownKey`] if it is not trusted, [`SignError::BadSignature`] if it does not
    /// verify.
    pub fn verify(
        &self,
        kind: SigKind,
        keyname: &str,
        signed_bytes: &[u8],
        signature: &[u8],
    ) -> Result<(), SignError> {
        self.verify_digest(kind, keyname, &kind.digest(signed_bytes), signature)
    }

    /// Like [`Keyring::verify`] with a precomputed digest of the signed bytes.
    pub fn verify_digest(
        &self,
        kind: SigKind,
        keyname: &str,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), SignError> {
        let key = self.key(keyname)?;
        key.verify_digest(kind, digest, signature)
            .map_err(|e| match e {
                SignError::BadSignature { kind, .. } => SignError::BadSignature {
                    keyname: keyname.to_string(),
                    kind,
                },
                other => other,
            })
    }
}

/// An RSA private key for signing packages and indexes.
///
/// See the module docs about RUSTSEC-2023-0071: sign only locally.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    key: RsaPrivateKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("bits", &self.key.n().bits())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key of `bits` bits (2048..=8192, a multiple of 8), named
    /// [`SigningKey::DEFAULT_NAME`] until renamed with [`SigningKey::with_name`].
    pub fn generate(bits: usize) -> Result<Self, SignError> {
        if !(MIN_GENERATE_BITS..=MAX_KEY_BITS).contains(&bits) || !bits.is_multiple_of(8) {
            return Err(SignError::Generate {
                bits,
                reason: format!(
                    "size must be a multiple of 8 between {MIN_GENERATE_BITS} and {MAX_KEY_BITS}"
                ),
            });
        }
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).map_err(|e| {
            SignError::Generate {
                bits,
                reason: e.to_string(),
            }
        })?;
        Ok(SigningKey {
            name: Self::DEFAULT_NAME.to_string(),
            key,
        })
    }

    /// Name given to generated keys.
    pub const DEFAULT_NAME: &'static str = "whittle-generated.rsa.pub";

    /// Renames the key: `name` is the public key's file name that signatures carry
    /// (e.g. `me-5f3c.rsa.pub`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Parses a PEM private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa` and melange write). `name` is the public
    /// key's file name that signatures will carry.
    pub fn from_pem(name: impl Into<String>, bytes: &[u8]) -> Result<Self, SignError> {
        let name = name.into();
        const EXPECTED: &str = "BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY";
        if bytes.len() > MAX_KEY_FILE {
            return Err(SignError::KeyTooLarge {
                origin: name,
                size: bytes.len(),
                max: MAX_KEY_FILE,
            });
        }
        let parse_err = |origin: String, reason: String| SignError::KeyParse {
            origin,
            what: "private",
            expected: EXPECTED,
            reason,
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t.trim(),
            Err(e) => return Err(parse_err(name, format!("not UTF-8 text: {e}"))),
        };
        let key = if text.contains("BEGIN RSA PRIVATE KEY") {
            RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| e.to_string())
        } else if text.contains("BEGIN PRIVATE KEY") {
            RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| e.to_string())
        } else {
            Err("no PEM private key block found".to_string())
        };
        let key = key.map_err(|reason| parse_err(name.clone(), reason))?;
        Ok(SigningKey { name, key })
    }

    /// The key name signatures carry (`.SIGN.RSA.<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub fn to_pem(&self) -> Result<String, SignError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| SignError::Encode {
                origin: self.name.clone(),
                reason: e.to_string(),
            })
    }

    /// The matching public key (origin = the key name).
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            origin: self.name.clone(),
            key: self.key.to_public_key(),
        }
    }

    /// Signs `data` (hashed with `kind`'s hash), RSA PKCS#1 v1.5 with blinding.
    pub fn sign(&self, kind: SigKind, data: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_digest(kind, &kind.digest(data))
    }

    /// Signs an already computed digest.
    pub fn sign_digest(&self, kind: SigKind, digest: &[u8]) -> Result<Vec<u8>, SignError> {
        kind.check_digest(digest)?;
        self.key
            .sign_with_rng(&mut rsa::rand_core::OsRng, kind.scheme(), digest)
            .map_err(|e| SignError::Sign {
                keyname: self.name.clone(),
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn test_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| {
            SigningKey::generate(2048)
                .unwrap()
                .with_name("test.rsa.pub")
        })
    }

    #[test]
    fn member_names_round_trip() {
        for kind in [SigKind::Sha1, SigKind::Sha256] {
            let n = signature_member_name(kind, "a@b-1234.rsa.pub");
            assert_eq!(
                parse_signature_member_name(&n),
                Some((kind, "a@b-1234.rsa.pub"))
            );
        }
        assert_eq!(parse_signature_member_name(".SIGN.DSA.x"), None);
        assert_eq!(parse_signature_member_name(".SIGN.RSA."), None);
        assert_eq!(parse_signature_member_name(".SIGN.RSA.../x"), None);
        assert_eq!(parse_signature_member_name("APKINDEX"), None);
    }

    #[test]
    fn sign_and_verify_both_kinds() {
        let key = test_key();
        let mut ring = Keyring::new();
        ring.insert(key.name(), key.public_key());
        for kind in [SigKind::Sha1, SigKind::Sha256] {
            let sig = key.sign(kind, b"hello").unwrap();
            assert_eq!(sig.len(), 256);
            ring.verify(kind, key.name(), b"hello", &sig).unwrap();
            let other = if kind == SigKind::Sha1 {
                SigKind::Sha256
            } else {
                SigKind::Sha1
            };
            assert!(matches!(
                ring.verify(other, key.name(), b"hello", &sig),
                Err(SignError::BadSignature { .. })
            ));
            assert!(matches!(
                ring.verify(kind, key.name(), b"hellO", &sig),
                Err(SignError::BadSignature { .. })
            ));
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert!(matches!(
                ring.verify(kind, key.name(), b"hello", &bad),
                Err(SignError::BadSignature { .. })
            ));
            assert!(matches!(
                ring.verify(kind, key.name(), b"hello", &sig[1..]),
                Err(SignError::BadSignature { .. })
            ));
            let err = ring
                .verify(kind, "other.rsa.pub", b"hello", &sig)
                .unwrap_err();
            assert!(matches!(err, SignError::UnknownKey { .. }));
            assert!(err.to_string().contains("test.rsa.pub"), "{err}");
        }
    }

    #[test]
    fn pem_round_trips_pkcs8_and_pkcs1() {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
        let key = test_key();
        let pub8 = key.public_key().to_pem().unwrap();
        assert!(pub8.starts_with("-----BEGIN PUBLIC KEY-----"));
        let p8 = PublicKey::from_pem("a", pub8.as_bytes()).unwrap();
        let pub1 = key.public_key().key.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(pub1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        let p1 = PublicKey::from_pem("b", pub1.as_bytes()).unwrap();
        assert_eq!(p1.key, p8.key);
        assert_eq!(p1.bits(), 2048);

        let priv8 = key.to_pem().unwrap();
        let s8 = SigningKey::from_pem("n", priv8.as_bytes()).unwrap();
        let priv1 = key.key.to_pkcs1_pem(LineEnding::LF).unwrap();
        let s1 = SigningKey::from_pem("n", priv1.as_bytes()).unwrap();
        let sig = s1.sign(SigKind::Sha256, b"x").unwrap();
        p8.verify(SigKind::Sha256, b"x", &sig).unwrap();
        let sig = s8.sign(SigKind::Sha1, b"x").unwrap();
        p1.verify(SigKind::Sha1, b"x", &sig).unwrap();
    }

    #[test]
    fn rejects_garbage_keys() {
        let e = PublicKey::from_pem("k.pub", b"hello").unwrap_err();
        assert!(e.to_string().contains("k.pub"), "{e}");
        let e = PublicKey::from_pem(
            "k.pub",
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap_err();
        assert!(matches!(e, SignError::KeyParse { .. }));
        let big = vec![b'A'; MAX_KEY_FILE + 1];
        assert!(matches!(
            PublicKey::from_pem("k", &big),
            Err(SignError::KeyTooLarge { .. })
        ));
        assert!(SigningKey::from_pem("k", b"nope").is_err());
        assert!(matches!(
            SigningKey::generate(1024),
            Err(SignError::Generate { .. })
        ));
    }

    #[test]
    fn digest_length_checked() {
        let key = test_key();
        assert!(matches!(
            key.sign_digest(SigKind::Sha256, &[0; 20]),
            Err(SignError::DigestLength { .. })
        ));
        assert!(matches!(
            key.public_key()
                .verify_digest(SigKind::Sha1, &[0; 32], &[0; 256]),
            Err(SignError::DigestLength { .. })
        ));
    }
}
