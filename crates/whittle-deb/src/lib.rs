//! Debian formats: versions, control files, dependency relations, signed `InRelease` files,
//! `Packages` indexes, `.deb` archives and distroless-style `status.d` entries.
//!
//! Everything here parses untrusted data: errors are typed ([`Error`]) and name the line or field.

pub mod control;
pub mod deb;
pub mod error;
pub mod packages;
pub mod relation;
pub mod release;
pub mod status;
pub mod version;

pub use error::Error;
pub use packages::Package;
pub use relation::{Dependency, Op, Relation};
pub use version::Version;
