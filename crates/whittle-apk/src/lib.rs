//! APK (Alpine, Wolfi) formats: versions and constraints compared as apk-tools does, signed
//! `APKINDEX.tar.gz` indexes, `.apk` packages (signature, control and data streams) and the
//! installed database (`lib/apk/db/installed`).
//!
//! Everything here parses untrusted data: errors are typed and name the file and field.

pub mod index;
pub mod package;
pub mod sign;
pub mod version;
