//! whittle-resolve: dependency solving — chooses the packages an image needs, with each
//! package format's semantics (Debian and APK), over a generic backtracking solver.
//!
//! - [`solver`]: the format-independent core ([`solver::Universe`], [`solver::solve`]).
//! - [`deb`]: Debian semantics ([`deb::DebUniverse`], [`deb::resolve`]).
//! - [`apk`]: APK (Alpine, Wolfi) semantics ([`apk::ApkUniverse`], [`apk::resolve`]).
//! - [`lock`]: lockfiles, the output of a resolution and the input of a later fetch.
//! - [`error`]: [`ResolveError`], whose `Display` explains failures as a chain of requirements.

#![warn(missing_docs)]

pub mod error;
pub mod lock;
pub mod solver;

pub use error::{ResolveError, Unsatisfiable};
pub mod deb;

pub use deb::{
    Chosen, ChosenReason, DebRequest, DebUniverse, Resolution, SCRIPT_ONLY, ScriptOnly,
    WaiveReason, Waived, resolve,
};
pub mod apk;

pub use apk::{
    ApkChosen, ApkChosenReason, ApkRepository, ApkRequest, ApkResolution, ApkUniverse,
    ApkUniverseError, EntryRef, resolve as resolve_apk,
};
