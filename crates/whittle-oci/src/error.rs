//! Typed errors of image references and writers.

use std::path::PathBuf;

/// Everything that can go wrong parsing a reference or writing an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image reference cannot be parsed.
    #[error("invalid image reference `{input}`: {reason}")]
    InvalidReference {
        /// The reference as given.
        input: String,
        /// What is wrong and how to spell it instead.
        reason: String,
    },
    /// The reference names a transport whittle does not handle.
    #[error(
        "image reference `{input}`: transport `{transport}` is not supported; use oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME[:TAG]] or docker://HOST/REPO[:TAG]"
    )]
    UnsupportedTransport {
        /// The reference as given.
        input: String,
        /// The transport name.
        transport: String,
    },
    /// Writing to a registry is not implemented yet.
    #[error(
        "pushing to a registry ({reference}) is not supported yet; write oci:DIR:TAG and push it with `skopeo copy oci:DIR:TAG docker://{reference}`"
    )]
    RegistryNotSupported {
        /// The registry reference.
        reference: String,
    },
    /// The images cannot be written as asked.
    #[error("cannot write the image: {0}")]
    InvalidImage(String),
    /// Serializing JSON failed.
    #[error("serializing {what} failed: {source}")]
    Json {
        /// What was serialized.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// A filesystem operation failed.
    #[error("{action} `{path}` failed: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
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
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
