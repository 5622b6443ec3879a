//! Errors of the Debian format readers (versions, control files, relations, `Packages`).
//!
//! `release.rs` and `deb.rs` define their own error enums; this one covers the text parsers.

/// Errors of the Debian text parsers: each names the file and line, the package and field, or
/// the offending text, and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A deb822 control file is malformed at `origin:line`.
    #[error("{origin}:{line}: {message}")]
    Syntax {
        /// The file (or other source) being parsed.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A version string is not a valid Debian version.
    #[error(
        "invalid Debian version {version:?}: {reason} (expected [epoch:]upstream[-revision], Debian policy 5.6.12)"
    )]
    Version {
        /// The rejected version text.
        version: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A relation field (`Depends`, `Provides`, ...) is malformed.
    #[error("invalid relation in {text:?}: {reason}")]
    Relation {
        /// The rejected field value (or its part around the error).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field of a package stanza is missing or invalid.
    #[error("{origin}:{line}: package {package:?}: field {field}: {reason}")]
    Field {
        /// The file being parsed.
        origin: String,
        /// 1-based line where the package's stanza starts.
        line: usize,
        /// The package name (empty when the `Package` field itself is missing).
        package: String,
        /// The field name.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}
