//! The `whittle` command line: argument parsing, progress and rendering. No format logic lives
//! here; every step is a call into the library crates.

mod audit;
mod build;
mod compare;
mod copy;
mod db;
mod inspect;
mod lint;
mod lock;
mod pkg;
mod render;
mod sbom;
mod scan;
mod shared_cache;
mod sign;
mod source;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// whittle builds minimal, secure, reproducible container images from distro packages, without
/// a container engine, and shows what any image carries that it should not.
#[derive(Parser)]
#[command(
    name = "whittle",
    version,
    about,
    long_about = None,
    max_term_width = 100,
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an image from a declarative YAML config (apko's schema) and signed Debian packages.
    ///
    /// Resolves the packages against the configured signed repositories, downloads and verifies
    /// them (through a content-addressed cache), assembles the filesystem without running any
    /// maintainer script, and writes a reproducible image plus an SPDX 2.3 SBOM beside it.
    ///
    /// Examples:
    ///   whittle build examples/gawk.yaml -o oci:out/gawk:latest
    ///   whittle build app.yaml -o oci-archive:app.tar --offline
    ///   whittle build app.yaml -o docker-archive:app.tar:app:1.0
    ///   whittle build ./apko.yaml app:1.0 app.tar      (apko's form; docker load < app.tar)
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Build(build::BuildArgs),
    /// Build, sign and index APK packages from melange-style YAML recipes.
    ///
    /// Examples:
    ///   whittle pkg keygen me
    ///   whittle pkg build hello.yaml --key me.rsa --out packages
    ///   whittle pkg index packages/x86_64 --key me.rsa
    ///   whittle pkg build --signing-key melange.rsa     (melange's spelling: melange.yaml)
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Pkg(pkg::PkgArgs),
    /// Pin the packages a config resolves to in `<config stem>.lock.json`, for `whittle build`.
    ///
    /// `whittle build` then installs exactly those packages (checked against the lock's sizes
    /// and SHA-256s) without resolving; re-running `whittle lock` prints what changed. Given a
    /// `whittle pkg build` recipe, it locks the recipe's `environment:` for `whittle pkg build`.
    ///
    /// Examples:
    ///   whittle lock examples/gawk.yaml
    ///   whittle build examples/gawk.yaml -o oci:out/gawk      # uses examples/gawk.lock.json
    ///   whittle lock hello.yaml                               # a recipe: hello.lock.json
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Lock(lock::LockArgs),
    /// Copy an image between any two references, byte-for-byte (same digest at both ends).
    ///
    /// Sources and destinations: oci:DIR[:TAG] (also oci-dir:DIR[:TAG]), oci-archive:FILE[:TAG],
    /// docker-archive:FILE[:NAME:TAG], docker://HOST/REPO[:TAG] (or a bare HOST/REPO:TAG).
    /// Docker media types become OCI ones in an OCI layout or archive, as skopeo does (the
    /// layers are kept, the manifest's digest changes; copy says so).
    /// Registry credentials come from $DOCKER_CONFIG/config.json or ~/.docker/config.json.
    ///
    /// Examples:
    ///   whittle copy oci:out/app:latest docker://registry.example.invalid/app:1.0
    ///   whittle copy localhost:5000/app:1.0 oci:pulled/app:1.0 --platform linux/arm64
    ///   whittle copy docker://127.0.0.1:5000/a:1 docker-archive:a.tar:a:1 --digest-file a.digest
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Copy(copy::CopyArgs),
    #[command(about = "Show what an image holds: config, history, layers, largest files, packages, waste.", after_help = EXIT_CODES)]
    Inspect(inspect::InspectArgs),
    #[command(about = "Find what an image hides and risks: hidden secrets, root, shells, caches, setuid.", after_help = EXIT_CODES)]
    Audit(audit::AuditArgs),
    #[command(about = "Lint Dockerfiles for the footguns that leak secrets and tools into images.", after_help = EXIT_CODES)]
    Lint(lint::LintArgs),
    /// Write the SBOM of any image: OS and packages as SPDX 2.3 or CycloneDX 1.6 JSON.
    ///
    /// Reads the image's package databases (apk installed DB, dpkg status, distroless
    /// status.d) with whiteouts applied; every package gets a purl, Debian packages keep their
    /// source package.
    ///
    /// Examples:
    ///   whittle sbom oci:out/gawk:latest
    ///   whittle sbom docker-archive:alpine.tar --format cyclonedx -o alpine.cdx.json
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Sbom(sbom::SbomArgs),
    /// Manage the local vulnerability database used by `whittle scan`.
    ///
    /// Examples:
    ///   whittle db update
    ///   whittle db import Debian-all.zip alpine-secdb/ wolfi-advisories.tar.gz
    ///   whittle db status
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Db(db::DbArgs),
    /// List the known vulnerabilities of an image's or an SBOM's packages, offline.
    ///
    /// Matches each package against the local database (`whittle db`) for its OS release,
    /// with the format's own version rules; Debian packages by source package. One CVE is
    /// counted once per package, with its other ids listed.
    ///
    /// Examples:
    ///   whittle scan oci:out/gawk:latest
    ///   whittle scan image.spdx.json --format json
    ///   whittle scan docker-archive:app.tar --format sarif --fail-on high
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Scan(scan::ScanArgs),
    #[command(about = "Compare images side by side: size, packages, vulnerabilities, shell, root, secrets.", after_help = EXIT_CODES)]
    Compare(compare::CompareArgs),
    /// Generate a key pair in cosign's format: cosign.key (encrypted with COSIGN_PASSWORD), cosign.pub.
    ///
    /// An ECDSA P-256 key, the private half as `ENCRYPTED SIGSTORE PRIVATE KEY` PEM (scrypt and
    /// NaCl secretbox), as `cosign generate-key-pair` writes it.
    ///
    /// Examples:
    ///   COSIGN_PASSWORD=... whittle generate-key-pair
    ///   COSIGN_PASSWORD= whittle generate-key-pair --output-key-prefix ci   (no password)
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    GenerateKeyPair(sign::GenerateKeyPairArgs),
    /// Sign an image with a key as cosign does: a `sha256-<hex>.sig` manifest beside it.
    ///
    /// The signature (cosign's simple-signing payload for the manifest digest) is stored in the
    /// image's registry repository or OCI layout; `whittle copy` carries it along.
    ///
    /// Examples:
    ///   COSIGN_PASSWORD=... whittle sign localhost:5000/app:1.0 --key cosign.key
    ///   whittle sign oci:out/app:latest --key cosign.key
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Sign(sign::SignArgs),
    /// Attest a predicate (SBOM, provenance) about an image as cosign does: `sha256-<hex>.att`.
    ///
    /// The predicate goes in an in-toto v1 statement about the manifest digest, signed in a DSSE
    /// envelope.
    ///
    /// Examples:
    ///   whittle attest localhost:5000/app:1.0 --key cosign.key --predicate app.spdx.json --type spdxjson
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Attest(sign::AttestArgs),
    /// Verify an image's signature (and attestation) with a public key, for exactly its digest.
    ///
    /// Exits 0 only when a signature (and, with --attestation, an attestation of that type) by
    /// the key verifies for the digest the reference names; says why otherwise.
    ///
    /// Examples:
    ///   whittle verify localhost:5000/app:1.0 --key cosign.pub
    ///   whittle verify oci:out/app:latest --key cosign.pub --attestation slsaprovenance1
    #[command(verbatim_doc_comment, after_help = EXIT_CODES)]
    Verify(sign::VerifyArgs),
}

/// The exit codes of every command, shown under each `--help` and in the README.
const EXIT_CODES: &str = "Exit codes:
  0  success (audit, lint, scan: nothing at or above --fail-on; inspect --ci: every rule passed)
  1  error: the message names the file, field or reference and what to do
  2  usage error: an unknown command or option, a missing or malformed argument
  3  audit, lint, scan: a finding at or above --fail-on; inspect --ci: a CI rule failed";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(args),
        Command::Pkg(args) => pkg::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Copy(args) => copy::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Sbom(args) => sbom::run(args),
        Command::Db(args) => db::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Compare(args) => compare::run(args),
        Command::GenerateKeyPair(args) => sign::generate_key_pair(args),
        Command::Sign(args) => sign::sign(args),
        Command::Attest(args) => sign::attest(args),
        Command::Verify(args) => sign::verify(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // library errors render their causes themselves
            eprintln!("error: {}", bounded_message(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// The most of an error message printed: errors quote untrusted input (paths, fields, server
/// replies), and no input may make a message as large as itself.
const MAX_ERROR_BYTES: usize = 8 << 10;

/// `msg` cut to [`MAX_ERROR_BYTES`] at a character boundary, saying how much was left out.
fn bounded_message(msg: &str) -> std::borrow::Cow<'_, str> {
    if msg.len() <= MAX_ERROR_BYTES {
        return msg.into();
    }
    let mut end = MAX_ERROR_BYTES;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} more bytes of this message left out)",
        &msg[..end],
        msg.len() - end
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut() {
        assert_eq!(bounded_message("short"), "short");
        let long = "é".repeat(MAX_ERROR_BYTES);
        let cut = bounded_message(&long);
        assert!(cut.len() < MAX_ERROR_BYTES + 100, "{}", cut.len());
        assert!(cut.ends_with(&format!(
            "({} more bytes of this message left out)",
            long.len() - MAX_ERROR_BYTES
        )));
    }
}
