//! Signing keys as abuild and melange keep them: `NAME.rsa` (private, PEM, mode 0600) beside
//! `NAME.rsa.pub` (public, PEM). Signatures name the key by its public file name.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use whittle_apk::sign::{MAX_KEY_FILE, SigningKey};

use crate::{Error, Result};

/// The key size `whittle pkg keygen` uses.
pub const DEFAULT_BITS: usize = 4096;

/// The files written by [`keygen`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    /// `NAME.rsa`.
    pub private: PathBuf,
    /// `NAME.rsa.pub`.
    pub public: PathBuf,
}

/// Generates an RSA key pair of `bits` bits: `<prefix>.rsa` (PKCS#8 PEM, mode 0600) and
/// `<prefix>.rsa.pub`. Existing files are never overwritten.
pub fn keygen(prefix: &Path, bits: usize) -> Result<KeyFiles> {
    let base = prefix.to_string_lossy();
    let base = base.strip_suffix(".rsa").unwrap_or(&base);
    let private = PathBuf::from(format!("{base}.rsa"));
    let public = PathBuf::from(format!("{base}.rsa.pub"));
    for p in [&private, &public] {
        if p.exists() {
            return Err(Error::Invalid {
                what: p.display().to_string(),
                message: "already exists; keys are never overwritten, choose another name".into(),
            });
        }
    }
    let pub_name = public
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = SigningKey::generate(bits)?.with_name(pub_name);
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| Error::Io { path, source }
    };
    let pem = key.to_pem()?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .map_err(io(&private))?;
    f.write_all(pem.as_bytes()).map_err(io(&private))?;
    let pub_pem = key.public_key().to_pem()?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&public)
        .and_then(|mut f| f.write_all(pub_pem.as_bytes()))
        .map_err(io(&public))?;
    Ok(KeyFiles { private, public })
}

/// Loads a private key file (PKCS#1 or PKCS#8 PEM). Signatures carry the public key's file
/// name: `NAME.rsa` signs as `NAME.rsa.pub` (melange's convention).
pub fn load(path: &Path) -> Result<SigningKey> {
    let bytes = crate::read_file(path, MAX_KEY_FILE as u64, "this is not a PEM key")?;
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "key.rsa".into());
    let name = if file.ends_with(".pub") {
        file
    } else {
        format!("{file}.pub")
    };
    Ok(SigningKey::from_pem(name, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_reads() {
        let dir = tempfile::tempdir().unwrap();
        let files = keygen(&dir.path().join("me"), 2048).unwrap();
        assert_eq!(files.private, dir.path().join("me.rsa"));
        let mode = std::fs::metadata(&files.private)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = load(&files.private).unwrap();
        assert_eq!(key.name(), "me.rsa.pub");
        let public = whittle_apk::sign::PublicKey::from_pem(
            "me.rsa.pub",
            &std::fs::read(&files.public).unwrap(),
        )
        .unwrap();
        let sig = key
            .sign(whittle_apk::sign::SigKind::Sha256, b"hello")
            .unwrap();
        public
            .verify(whittle_apk::sign::SigKind::Sha256, b"hello", &sig)
            .unwrap();
        // never overwritten
        let err = keygen(&dir.path().join("me.rsa"), 2048).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    }
}
