//! `whittle copy`: copies an image between any two references, byte-for-byte (Docker media
//! types become OCI ones in an OCI layout or archive, as skopeo does).

use std::path::PathBuf;

/// The arguments of `whittle copy`.
#[derive(clap::Args)]
pub struct CopyArgs {
    /// The image to copy: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG],
    /// docker://HOST/REPO[:TAG|@DIGEST] or a bare HOST/REPO[:TAG].
    src: String,

    /// Where to copy it (same forms).
    dest: String,

    /// Copy only this platform of a multi-platform image (OS/ARCH[/VARIANT], e.g. linux/arm64);
    /// without it the whole index is copied.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = crate::source::parse_platform)]
    platform: Option<whittle_oci::Platform>,

    /// Allow plain HTTP to registries that are not on loopback (loopback always may use it).
    #[arg(long)]
    insecure: bool,

    /// Write the digest of the copied manifest (or index) to this file.
    #[arg(long, value_name = "FILE")]
    digest_file: Option<PathBuf>,

    /// Print only errors and the digest.
    #[arg(short, long)]
    quiet: bool,
}

/// Runs `whittle copy`.
pub fn run(args: CopyArgs) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let src = whittle_oci::ImageRef::parse(&args.src)?;
    let dest = whittle_oci::ImageRef::parse(&args.dest)?;
    let env = whittle_registry::Options::from_env();
    let opts = whittle_registry::Options {
        insecure: args.insecure || env.insecure,
        ..env
    };
    let start = std::time::Instant::now();
    let report = whittle_registry::copy(&src, &dest, args.platform.as_ref(), &opts)?;
    if !args.quiet {
        if let Some(p) = &report.push {
            eprintln!(
                "pushed    {} blobs uploaded ({:.1} MB), {} already there, {} mounted, {} SBOM(s) attached",
                p.uploaded,
                p.bytes_uploaded as f64 / 1e6,
                p.skipped,
                p.mounted,
                p.sboms.len()
            );
        }
        if let Some(from) = &report.converted_from {
            eprintln!(
                "converted Docker media types to OCI (manifest, config, layers; layer bytes unchanged): the digest changes from {from} to {}",
                report.digest
            );
        }
        eprintln!(
            "copied    {src} -> {dest} ({} manifest(s)) in {:.2}s",
            report.manifests.len(),
            start.elapsed().as_secs_f64()
        );
    }
    // cosign's signatures and attestations (`sha256-<hex>.sig`/`.att`) travel with the image,
    // unless a conversion changed the digests they sign
    if report.converted_from.is_none() {
        let mut digests = report.manifests.clone();
        if !digests.contains(&report.digest) {
            digests.push(report.digest.clone());
        }
        // best-effort: the image is copied; a signature that cannot be carried is a warning
        let carried = whittle_sign::store::carry(&src, &dest, &digests, &opts);
        if !args.quiet && !carried.copied.is_empty() {
            eprintln!(
                "carried   {} signature/attestation manifest(s): {}",
                carried.copied.len(),
                carried.copied.join(", ")
            );
        }
        for (tag, why) in &carried.skipped {
            eprintln!("warning: {tag} not carried to {dest}: {why}");
        }
    }
    if let Some(f) = &args.digest_file {
        std::fs::write(f, format!("{}\n", report.digest))
            .map_err(|e| format!("writing the digest to {}: {e}", f.display()))?;
    }
    println!("{}", report.digest);
    Ok(std::process::ExitCode::SUCCESS)
}
