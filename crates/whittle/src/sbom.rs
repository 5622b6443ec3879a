//! `whittle sbom`: the packages of any image as an SPDX 2.3 or CycloneDX 1.6 JSON SBOM.

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// SBOM formats.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SbomFormat {
    /// SPDX 2.3 JSON (also `spdx-json`, syft's and trivy's name).
    #[value(alias = "spdx-json")]
    Spdx,
    /// CycloneDX 1.6 JSON (also `cyclonedx-json`, syft's name).
    #[value(alias = "cyclonedx-json")]
    Cyclonedx,
}

/// The arguments of `whittle sbom`.
#[derive(clap::Args)]
pub struct SbomArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE.
    image: String,

    /// Output format.
    #[arg(long, value_enum, default_value = "spdx")]
    format: SbomFormat,

    #[command(flatten)]
    platform: crate::source::PlatformArg,

    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Creation time written in the SBOM [default: $SOURCE_DATE_EPOCH, else the image's
    /// creation time, else 0].
    #[arg(long, value_name = "SECONDS")]
    source_date_epoch: Option<u64>,
}

/// Reads an image and catalogs it (shared with `whittle scan`).
pub fn catalog(
    image: &str,
    platform: Option<&whittle_oci::Platform>,
) -> Result<(whittle_catalog::Catalog, crate::source::Opened), Box<dyn Error>> {
    let img = crate::source::open(image, platform)?;
    let cat = whittle_catalog::catalog_image(img.image())?;
    Ok((cat, img))
}

/// Runs `whittle sbom`.
pub fn run(args: SbomArgs) -> Result<ExitCode, Box<dyn Error>> {
    let (cat, img) = catalog(&args.image, args.platform.get())?;
    for f in &cat.findings {
        eprintln!("warning: {}", f.message);
    }
    let created = img
        .image()
        .config
        .created
        .as_deref()
        .and_then(whittle_sbom::parse_rfc3339);
    let epoch = args
        .source_date_epoch
        .or_else(|| {
            std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|s| s.trim().parse().ok())
        })
        .or(created)
        .unwrap_or(0);
    let digest = img.image().manifest_digest.clone();
    // an image holds no package archive: no checksum or download location is claimed
    let input = whittle_catalog::sbom::image_sbom_input(
        &cat,
        &whittle_catalog::sbom::ImageFacts {
            name: args.image.clone(),
            seed: digest.clone(),
            digest: Some(digest),
            epoch,
            tool: concat!("whittle-", env!("CARGO_PKG_VERSION")).into(),
            archives: Default::default(),
        },
    );
    let bytes = match args.format {
        SbomFormat::Spdx => whittle_sbom::to_spdx_json(&input)?,
        SbomFormat::Cyclonedx => whittle_sbom::to_cyclonedx_json(&input)?,
    };
    match &args.output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    if cat.os.is_none() {
        eprintln!("warning: no os-release in the image: the purls have no distro qualifier");
    }
    eprintln!("{}: {} packages", args.image, cat.packages.len());
    Ok(ExitCode::SUCCESS)
}
