//! Typed errors of key handling, signing and verification.

use std::path::{Path, PathBuf};

/// Everything that can go wrong reading keys, signing, storing or verifying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local file operation failed.
    #[error("{action} `{path}` failed: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key file is not a key whittle can read.
    #[error("{source_name}: {message}")]
    Key {
        /// The key's file (or where it came from).
        source_name: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A key of another algorithm than ECDSA P-256.
    #[error(
        "{source_name}: this is {algorithm} key; whittle signs and verifies with ECDSA P-256 keys only, as `cosign generate-key-pair` makes them (make one with `whittle generate-key-pair`)"
    )]
    KeyType {
        /// The key's file.
        source_name: String,
        /// The algorithm found (with article: `an RSA`).
        algorithm: String,
    },
    /// The password does not decrypt the key.
    #[error(
        "{source_name}: the password does not decrypt this key (wrong COSIGN_PASSWORD, or the key file is corrupt)"
    )]
    WrongPassword {
        /// The key's file.
        source_name: String,
    },
    /// An encrypted key and no password.
    #[error(
        "{source_name} is encrypted: set COSIGN_PASSWORD to its password (COSIGN_PASSWORD= for an empty one)"
    )]
    NoPassword {
        /// The key's file.
        source_name: String,
    },
    /// A payload, envelope, statement or signature manifest is malformed.
    #[error("{what}: {message}")]
    Format {
        /// What was read.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A limit was hit.
    #[error("{what} {message}; refused without reading further")]
    TooLarge {
        /// What was too large.
        what: String,
        /// By how much, against which limit.
        message: String,
    },
    /// Verification failed: no signature or attestation checks out.
    #[error("{0}")]
    NotVerified(String),
    /// The image reference is not one signatures can be stored for.
    #[error("{0}")]
    Unsupported(String),
    /// Talking to the registry or moving an artifact failed.
    #[error(transparent)]
    Registry(#[from] whittle_registry::Error),
    /// Reading or writing a local layout failed.
    #[error(transparent)]
    Oci(#[from] whittle_oci::Error),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// The file at `path` whole ([`whittle_fs::read_bounded`]); more than `limit` bytes is
    /// [`Error::TooLarge`].
    pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
        whittle_fs::read_bounded(path, limit).map_err(|source| {
            if source.kind() == std::io::ErrorKind::FileTooLarge {
                Error::TooLarge {
                    what: path.display().to_string(),
                    message: format!("is larger than {limit} bytes"),
                }
            } else {
                Error::io("reading", path)(source)
            }
        })
    }

    pub(crate) fn format(what: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Format {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
