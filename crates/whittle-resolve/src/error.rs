//! Resolution errors, with explanations a person can read.

use std::fmt;

/// Why resolution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No set of packages satisfies the request; the explanation shows why.
    #[error("{0}")]
    Unsatisfiable(Box<Unsatisfiable>),
    /// The search gave up after `limit` steps.
    #[error(
        "dependency resolution is too complex: gave up after {limit} steps; \
         pin versions (name=version) or exclude packages to narrow the search"
    )]
    TooComplex {
        /// The step limit that was reached.
        limit: usize,
    },
    /// A requested package could not be understood.
    #[error(
        "invalid package request {request:?}: {reason} \
         (use \"name\", \"name=version\" or \"name>=version\")"
    )]
    InvalidRequest {
        /// The request as given.
        request: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The explanation of an unsatisfiable request: the chain of requirements from a requested
/// package down to the requirement that could not be met, and why each of its alternatives was
/// rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsatisfiable {
    /// From the requested package down to the package owning the unmet requirement. Empty when
    /// the unmet requirement is itself a request.
    pub chain: Vec<ChainLink>,
    /// The unmet requirement as written (alternatives joined with ` | `).
    pub requirement: String,
    /// For each alternative of the unmet requirement, why nothing could serve it.
    pub alternatives: Vec<AlternativeFailure>,
}

/// One selected package on the way to an unmet requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// The package, e.g. `libreadline8 8.2-1.3`.
    pub package: String,
    /// The requirement that pulled it in, as written (the request itself for the first link).
    pub via: String,
}

/// One alternative of an unmet requirement and the reasons it could not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlternativeFailure {
    /// The alternative as written, e.g. `dpkg (>= 1.15.4)`.
    pub requirement: String,
    /// Why each package that could have served it was rejected (never empty).
    pub rejections: Vec<Rejection>,
}

/// Why a package (or a name) could not serve a requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No package of this name exists (nor provides it) for the target architecture.
    NoSuchPackage {
        /// The name looked up.
        name: String,
    },
    /// Packages of this name exist, but in no acceptable version.
    WrongVersion {
        /// The name looked up.
        name: String,
        /// The versions available (highest first), with `provided by X` notes for provides.
        available: Vec<String>,
        /// The version constraint, e.g. `>= 2.0`.
        required: String,
    },
    /// The package is excluded by policy (the request's exclude list).
    Excluded {
        /// The package.
        package: String,
    },
    /// The package exists but not in an acceptable architecture / Multi-Arch form.
    Architecture {
        /// The package.
        package: String,
        /// What was required, e.g. `Multi-Arch: allowed (for :any)`.
        detail: String,
    },
    /// The package conflicts with (or breaks, or is broken by) a selected package.
    Conflicts {
        /// The rejected package.
        package: String,
        /// The selected package it cannot coexist with.
        with: String,
        /// Why that package was selected, e.g. `required by gawk 1:5.2.1-2`.
        with_origin: String,
    },
    /// Another version of the same package is already selected.
    OtherVersionSelected {
        /// The rejected package.
        package: String,
        /// The selected package with the same name.
        selected: String,
        /// Why that package was selected.
        selected_origin: String,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NoSuchPackage { name } => {
                write!(f, "no package named {name} (nor one providing it)")
            }
            Rejection::WrongVersion {
                name,
                available,
                required,
            } => write!(
                f,
                "{name} {required} is required, but only {} available",
                available.join(", ")
            ),
            Rejection::Excluded { package } => {
                write!(f, "{package} is excluded by policy (exclude list)")
            }
            Rejection::Architecture { package, detail } => {
                write!(f, "{package} does not qualify: {detail}")
            }
            Rejection::Conflicts {
                package,
                with,
                with_origin,
            } => write!(f, "{package} conflicts with {with} ({with_origin})"),
            Rejection::OtherVersionSelected {
                package,
                selected,
                selected_origin,
            } => write!(
                f,
                "{package} cannot be installed: {selected} is already selected ({selected_origin})"
            ),
        }
    }
}

impl fmt::Display for Unsatisfiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "cannot satisfy \"{}\":", self.requirement)?;
        let mut depth = 1;
        for (i, link) in self.chain.iter().enumerate() {
            let pad = "  ".repeat(depth);
            if i == 0 {
                writeln!(f, "{pad}{} (requested as \"{}\")", link.package, link.via)?;
            } else {
                writeln!(f, "{pad}requires \"{}\": {}", link.via, link.package)?;
            }
            depth += 1;
        }
        let pad = "  ".repeat(depth);
        if self.chain.is_empty() {
            writeln!(f, "{pad}requested \"{}\", but:", self.requirement)?;
        } else {
            writeln!(f, "{pad}requires \"{}\", but:", self.requirement)?;
        }
        let mut first = true;
        for alt in &self.alternatives {
            for r in &alt.rejections {
                if !first {
                    writeln!(f)?;
                }
                first = false;
                write!(f, "{pad}  - {}: {r}", alt.requirement)?;
            }
        }
        Ok(())
    }
}
