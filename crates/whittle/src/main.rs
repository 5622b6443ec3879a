//! The `whittle` command line: argument parsing, progress and rendering. No format logic lives
//! here; every step is a call into the library crates.

mod build;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// whittle builds minimal, secure, reproducible container images from distro packages, without
/// a container engine, and shows what any image carries that it should not.
#[derive(Parser)]
#[command(name = "whittle", version, about, long_about = None, max_term_width = 100)]
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
    #[command(verbatim_doc_comment)]
    Build(build::BuildArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // library errors render their causes themselves
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
