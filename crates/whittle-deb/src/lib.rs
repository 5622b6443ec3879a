//! Debian formats: versions, control files, dependency relations, signed `InRelease` files,
//! `Packages` indexes, `.deb` archives and distroless-style `status.d` entries.
//!
//! Everything here parses untrusted data: errors are typed ([`Error`]) and name the line or field.
//!
//! - [`version`]: [`Version`], ordered exactly like dpkg (policy §5.6.12).
//! - [`control`]: deb822 stanzas ([`Stanza`], [`parse_stanzas`]) and writing them back.
//! - [`relation`]: `Depends`-style fields ([`Relation`], [`Dependency`], [`Op`]).
//! - [`packages`]: typed `Packages` records ([`Package`], [`parse_packages`]).
//! - [`status`]: distroless `status.d` entries and dpkg `status` files.
//! - [`release`], [`deb`]: signed `InRelease` indexes and `.deb` archives.
//! - [`alternatives`]: the literal `update-alternatives --install` calls of a `postinst`.

pub mod alternatives;
pub mod control;
pub mod deb;
pub mod error;
pub mod index;
pub mod packages;
pub mod relation;
pub mod release;
pub mod status;
pub mod version;

pub use control::{Stanza, parse_stanzas};
pub use error::Error;
pub use packages::{MultiArch, Package, parse_packages};
pub use relation::{Dependency, Op, Relation};
pub use version::Version;
