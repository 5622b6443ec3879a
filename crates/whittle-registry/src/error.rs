//! Typed errors of registry operations.

use std::path::PathBuf;

/// Everything that can go wrong talking to a registry or moving an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry could not be reached (after retries).
    #[error(
        "{method} {url} failed after {attempts} attempt(s): {message}; check that the registry is up and reachable, then run the command again (blobs already pushed are skipped)"
    )]
    Http {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last cause.
        message: String,
    },
    /// The registry answered with an unexpected status.
    #[error("{method} {url}: the registry answered HTTP {status}{}: {what}", if body.is_empty() { String::new() } else { format!(" ({body})") })]
    Status {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (registry error JSON).
        body: String,
        /// What was being done.
        what: String,
    },
    /// The registry refused the credentials, or asked for some and there were none.
    #[error("{registry}: {message}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What happened and what to do.
        message: String,
    },
    /// Reading credentials failed.
    #[error("credentials: {message}")]
    Credentials {
        /// What went wrong and what to do.
        message: String,
    },
    /// Plain HTTP to a non-loopback host without `--insecure`.
    #[error("{0}")]
    Insecure(String),
    /// Content does not match its digest.
    #[error(
        "{what}: content has digest {actual}, expected {expected}; the registry or the network corrupted it (or it was tampered with)"
    )]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The expected digest.
        expected: String,
        /// The actual digest.
        actual: String,
    },
    /// A size limit was hit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// The image or answer is not what whittle can handle.
    #[error("{0}")]
    Invalid(String),
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
    /// Reading a local image failed.
    #[error(transparent)]
    Read(#[from] whittle_oci::ReadError),
    /// Building or writing a local image failed.
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
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
