//! Typed errors of registry operations.

use std::path::PathBuf;

use whittle_fetch::Stop;

/// Everything that can go wrong talking to a registry or moving an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request or transfer failed (after retries when the failure could pass).
    #[error(
        "{method} {url} failed after {attempts} attempt(s): {stop}{}",
        hint(stop)
    )]
    Http {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// Why it stopped.
        stop: Stop,
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
    /// A blob's length differs from the size its descriptor declares.
    #[error(
        "{what}: {}, but its descriptor declares {declared} bytes; the source serves something else than the manifest describes (corrupt or tampered with); nothing of it was kept",
        match actual { Some(n) => format!("it has {n} bytes"), None => "it is longer (refused at the first byte past that size)".to_string() }
    )]
    BlobSize {
        /// Which blob, from where.
        what: String,
        /// The size the descriptor declares.
        declared: u64,
        /// Its actual length, when it is shorter.
        actual: Option<u64>,
    },
    /// A manifest declares a blob larger than [`crate::Options::max_blob_size`].
    #[error(
        "{manifest} declares blob {blob} of {size} bytes, more than the limit of {limit} bytes for one blob; nothing was downloaded. If you trust the image and it really is that large, raise the limit with {}=<bytes> (e.g. {}={}G)",
        crate::MAX_BLOB_SIZE_VAR, crate::MAX_BLOB_SIZE_VAR, size.div_ceil(1 << 30)
    )]
    DeclaredTooLarge {
        /// The manifest (digest and repository).
        manifest: String,
        /// The blob's digest.
        blob: String,
        /// The declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The blobs of an image declare more than [`crate::Options::max_image_size`] in all.
    #[error(
        "{image} declares {size} bytes of blobs in all, more than the limit of {limit} bytes for one image; nothing was downloaded. If you trust the image and it really is that large, raise the limit with {}=<bytes> (e.g. {}={}G)",
        crate::MAX_IMAGE_SIZE_VAR, crate::MAX_IMAGE_SIZE_VAR, size.div_ceil(1 << 30)
    )]
    ImageTooLarge {
        /// The image reference.
        image: String,
        /// The sum of the declared sizes of its distinct blobs.
        size: u64,
        /// The limit.
        limit: u64,
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

/// What to do after a failed transfer, besides what [`Stop`] says.
fn hint(stop: &Stop) -> &'static str {
    match stop {
        Stop::Network(_) | Stop::Refused | Stop::Stalled { .. } => {
            "; check that the registry is up and reachable, then run the command again (blobs already pushed are skipped)"
        }
        _ => "",
    }
}

impl Error {
    /// Whether another attempt may succeed: network failures that may pass, and the statuses
    /// 5xx, 408 and 429. Integrity failures (sizes, digests) and refused connections are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Http { stop, .. } => stop.is_transient(),
            Error::Status { status, .. } => transient_status(*status),
            _ => false,
        }
    }
}

/// Whether an HTTP status may pass: 5xx, 408 (timeout) and 429 (too many requests).
pub(crate) fn transient_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
