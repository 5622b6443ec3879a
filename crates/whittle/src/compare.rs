//! `whittle compare`: the talk's table for any set of images.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CompareFormat {
    /// An aligned table (colour on a terminal; also `table`).
    #[value(alias = "table")]
    Text,
    /// A Markdown table.
    Markdown,
    /// A self-contained HTML page with bar charts.
    Html,
    /// JSON: one object per image.
    Json,
}

/// Compares images side by side: compressed and unpacked size, layers, packages, known
/// vulnerabilities by severity (when a vulnerability database exists, see `whittle db`), and
/// whether a shell, a package manager, root or secrets are in there (as `whittle audit` finds
/// them). Every image is read once, streaming, never extracted to disk.
///
/// Examples:
///   whittle compare oci:out/bloated:latest oci:out/minimal:latest
///   whittle compare oci:a oci:b --format html -o compare.html
///   whittle compare oci:a docker-archive:b.tar --format markdown
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CompareArgs {
    /// The images (oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO:TAG).
    #[arg(required = true)]
    images: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: CompareFormat,

    /// Write the output to FILE instead of stdout (atomically).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Vulnerability database directory [default: $WHITTLE_DB_DIR, else ~/.cache/whittle/db];
    /// without one, the vulnerability columns say `-`.
    #[arg(long, value_name = "DIR")]
    db: Option<PathBuf>,

    #[command(flatten)]
    platform: crate::source::PlatformArg,

    /// The HTML page's title.
    #[arg(long, default_value = "whittle compare")]
    title: String,
}

/// Measures one image.
fn row(
    reference: &str,
    platform: Option<&whittle_oci::Platform>,
    db: Option<&whittle_vulndb::Db>,
) -> Result<whittle_compare::Row, Box<dyn Error>> {
    let opened = crate::source::open(reference, platform)?;
    let img = opened.image();
    let a = whittle_inspect::analyze_image(img, reference, &whittle_inspect::Options::default())?;
    let findings = whittle_inspect::audit(&a);
    let report = whittle_inspect::inspect_report(&a, 0);
    let (shell, package_manager, root, secrets) = whittle_compare::risks(&findings);
    let (packages, vulns) = match db {
        Some(db) => {
            // the analysis kept the package databases and os-release: no second pass
            let files: std::collections::BTreeMap<String, Vec<u8>> = a
                .merged
                .entries()
                .iter()
                // file lists are the analysis's business, not the catalog's
                .filter(|(p, _)| !p.starts_with("var/lib/dpkg/info/"))
                .filter_map(|(p, e)| e.content.as_ref().map(|c| (p.clone(), c.clone())))
                .collect();
            let cat = whittle_catalog::catalog_files(&files);
            let scan = whittle_scan::scan(reference, &cat, db)?;
            for w in &scan.warnings {
                eprintln!("warning: {reference}: {w}");
            }
            (
                Some(cat.packages.len()),
                Some(whittle_compare::VulnCounts::from_scan_counts(scan.counts())),
            )
        }
        None => (a.packages.as_ref().map(|p| p.packages.len()), None),
    };
    Ok(whittle_compare::Row {
        image: reference.to_string(),
        digest: a.manifest_digest.clone(),
        compressed_bytes: compressed_size(img)?,
        unpacked_bytes: report.totals.bytes,
        layers: img.layers.len(),
        packages,
        vulns,
        shell,
        package_manager,
        root,
        secrets,
    })
}

/// What the layers weigh compressed: their blob sizes when stored compressed (registries, OCI
/// layouts), else — `docker save` archives keep them as plain tar — what gzip at its default
/// level makes of them, which is what `docker push` would upload.
fn compressed_size(img: &whittle_oci::ReadImage) -> Result<u64, Box<dyn Error>> {
    let mut total = 0;
    for (i, layer) in img.layers.iter().enumerate() {
        let mt = layer.media_type.as_str();
        if mt.contains("gzip") || mt.contains("zstd") || mt.contains("+") {
            total += layer.size;
            continue;
        }
        struct Count(u64);
        impl std::io::Write for Count {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0 += b.len() as u64;
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut gz = flate2::write::GzEncoder::new(Count(0), flate2::Compression::default());
        std::io::copy(&mut img.open_raw_layer(i)?, &mut gz)?;
        total += gz.finish()?.0;
    }
    Ok(total)
}

/// Runs `whittle compare`.
pub fn run(args: CompareArgs) -> Result<ExitCode, Box<dyn Error>> {
    let dir = whittle_vulndb::db_dir(args.db.as_deref());
    let db = match whittle_vulndb::Db::open(&dir) {
        Ok(db) => Some(db),
        Err(e) if args.db.is_some() => return Err(e.into()),
        Err(_) => {
            eprintln!(
                "note: no vulnerability database in {} (`whittle db import` / `whittle db update`): \
                 vulnerability columns say -",
                dir.display()
            );
            None
        }
    };
    let mut rows = Vec::with_capacity(args.images.len());
    for image in &args.images {
        rows.push(row(image, args.platform.get(), db.as_ref())?);
    }
    let text = match args.format {
        CompareFormat::Text => {
            whittle_compare::to_text(&rows, args.output.is_none() && crate::render::colour())
        }
        CompareFormat::Markdown => whittle_compare::to_markdown(&rows),
        CompareFormat::Html => whittle_compare::to_html(&rows, &args.title),
        CompareFormat::Json => {
            serde_json::to_string_pretty(&whittle_compare::to_json(&rows))? + "\n"
        }
    };
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let mut tmp = tempfile::NamedTempFile::new_in(&dir)
                .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
            std::io::Write::write_all(&mut tmp, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            tmp.persist(path)
                .map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
