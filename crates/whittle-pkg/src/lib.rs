//! Turns a melange-style recipe into signed `.apk` packages and indexes: [`recipe`] parses the
//! YAML with `file:line:column` errors, [`build`] assembles the environment and runs the
//! pipeline in a `bwrap` sandbox ([`sandbox`]) within the recipe's [`limits`] (enforced with
//! [`cgroup`]s where possible), [`apk`] writes byte-reproducible packages (with the
//! dependencies found in their files: ELF, and [`sca`]'s pkg-config and `#!`), [`index`] writes
//! signed `APKINDEX.tar.gz` files and [`keys`] makes and loads signing keys. [`lint`] runs
//! melange's package linters over built packages (and after every build).
//!
//! Signing uses the `rsa` crate through `whittle-apk` (RUSTSEC-2023-0071 is a timing side
//! channel on private-key operations observed by a remote party; whittle signs locally only,
//! which is the accepted risk).

pub mod apk;
pub mod build;
pub mod cgroup;
pub mod envfile;
pub mod index;
pub mod keys;
pub mod limits;
pub mod lint;
pub mod recipe;
pub mod sandbox;
pub mod sca;
pub mod split;
pub mod tarw;

pub use whittle_apk::sign::{SigKind, SigningKey};
/// The ELF reader `so:` metadata comes from (shared with the image build's `ld.so.cache`).
pub use whittle_build::elf;

/// Errors of package building, signing and indexing; each names the file, step or field it is
/// about and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The recipe is invalid; every problem is listed with `file:line:column`.
    #[error("{}", render(.0))]
    Recipe(Vec<whittle_config::Diagnostic>),
    /// Something given is not usable.
    #[error("{what}: {message}")]
    Invalid {
        /// What it is about (file, field, step).
        what: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Signing, or loading or generating a key, failed.
    #[error(transparent)]
    Sign(Box<whittle_apk::sign::SignError>),
    /// An existing package could not be read.
    #[error(transparent)]
    Package(Box<whittle_apk::package::Error>),
    /// An existing index could not be read.
    #[error(transparent)]
    Index(Box<whittle_apk::index::IndexError>),
    /// The build environment could not be assembled.
    #[error("building the environment of {recipe}: {source}")]
    Environment {
        /// The recipe.
        recipe: String,
        /// What failed.
        #[source]
        source: Box<whittle_build::rootfs::RootfsError>,
    },
    /// A source download failed or did not match its checksum.
    #[error("{step}: fetching {uri}: {message}")]
    Fetch {
        /// The step (`file:line:column: name`).
        step: String,
        /// The URI.
        uri: String,
        /// What went wrong.
        message: String,
    },
    /// A pipeline step failed.
    #[error("step `{step}` of {package} failed ({status}); the last lines of its output:\n{tail}")]
    Step {
        /// The step (`file:line:column: name`).
        step: String,
        /// The package being built.
        package: String,
        /// The exit status.
        status: String,
        /// The end of the step's output.
        tail: String,
    },
    /// A pipeline step reached one of the recipe's limits (`package.timeout`,
    /// `package.resources`).
    #[error("step `{step}` of {package} {message}; the last lines of its output:\n{tail}")]
    Limit {
        /// The step (`file:line:column: name`).
        step: String,
        /// The package being built.
        package: String,
        /// Which limit, and how to raise it.
        message: String,
        /// The end of the step's output.
        tail: String,
    },
    /// A required linter tripped on a package the build made (nothing was written).
    #[error("{package}: required linter {} failed:\n{report}", .linters.join(", "))]
    Lint {
        /// The package.
        package: String,
        /// The linters that tripped.
        linters: Vec<String>,
        /// Their findings, as `whittle pkg lint` prints them.
        report: String,
    },
    /// The sandbox could not be started.
    #[error("starting the sandbox (bwrap): {0}")]
    Sandbox(String),
}

impl From<whittle_apk::sign::SignError> for Error {
    fn from(e: whittle_apk::sign::SignError) -> Self {
        Error::Sign(Box::new(e))
    }
}

impl From<whittle_apk::package::Error> for Error {
    fn from(e: whittle_apk::package::Error) -> Self {
        Error::Package(Box::new(e))
    }
}

impl From<whittle_apk::index::IndexError> for Error {
    fn from(e: whittle_apk::index::IndexError) -> Self {
        Error::Index(Box::new(e))
    }
}

fn render(diags: &[whittle_config::Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The file at `path` whole ([`whittle_fs::read_bounded`]: an endless one, `/dev/zero` or a
/// FIFO, costs at most `limit` bytes); one larger than `limit` is [`Error::Invalid`] saying so,
/// followed by `hint`.
pub(crate) fn read_file(path: &std::path::Path, limit: u64, hint: &str) -> Result<Vec<u8>> {
    whittle_fs::read_bounded(path, limit).map_err(|source| {
        if source.kind() == std::io::ErrorKind::FileTooLarge {
            Error::Invalid {
                what: path.display().to_string(),
                message: format!("larger than {limit} bytes; {hint}"),
            }
        } else {
            Error::Io {
                path: path.display().to_string(),
                source,
            }
        }
    })
}
