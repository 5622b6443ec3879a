//! `whittle generate-key-pair`, `sign`, `attest` and `verify`: cosign's key-based signing,
//! with everything format-related in whittle-sign.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use whittle_sign::{PublicKey, SigningKey};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The arguments of `whittle generate-key-pair`.
#[derive(clap::Args)]
pub struct GenerateKeyPairArgs {
    /// Write PREFIX.key and PREFIX.pub (cosign's flag).
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    output_key_prefix: PathBuf,
}

/// The registry options every signing command takes.
#[derive(clap::Args)]
pub struct RegistryArgs {
    /// Allow plain HTTP to registries that are not on loopback (loopback always may use it).
    #[arg(long)]
    insecure: bool,
}

impl RegistryArgs {
    fn options(&self) -> whittle_registry::Options {
        let env = whittle_registry::Options::from_env();
        whittle_registry::Options {
            insecure: self.insecure || env.insecure,
            ..env
        }
    }
}

/// The arguments of `whittle sign`.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The image: docker://HOST/REPO[:TAG|@DIGEST] (or a bare HOST/REPO:TAG) or oci:DIR[:TAG].
    image: String,
    /// The private key (cosign.key; an encrypted one takes its password from COSIGN_PASSWORD).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// The arguments of `whittle attest`.
#[derive(clap::Args)]
pub struct AttestArgs {
    /// The image: docker://HOST/REPO[:TAG|@DIGEST] (or a bare HOST/REPO:TAG) or oci:DIR[:TAG].
    image: String,
    /// The private key (cosign.key; an encrypted one takes its password from COSIGN_PASSWORD).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The predicate file: JSON (an SPDX or CycloneDX SBOM, a SLSA provenance predicate…); for
    /// `custom` and `spdx` any text, as cosign takes them.
    #[arg(long, value_name = "FILE")]
    predicate: PathBuf,
    /// The predicate type: spdxjson, spdx, cyclonedx, slsaprovenance (v0.2), slsaprovenance1,
    /// vuln, link, custom (cosign's default: the text wrapped with a timestamp), or a URI.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    predicate_type: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// The arguments of `whittle verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The image: docker://HOST/REPO[:TAG|@DIGEST] (or a bare HOST/REPO:TAG) or oci:DIR[:TAG].
    image: String,
    /// The public key (cosign.pub).
    #[arg(long, value_name = "PUB")]
    key: PathBuf,
    /// Also require an attestation of this predicate type (spdxjson, cyclonedx,
    /// slsaprovenance, slsaprovenance1, … or a URI), signed by the same key.
    #[arg(long, value_name = "TYPE")]
    attestation: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Runs `whittle generate-key-pair`.
pub fn generate_key_pair(args: GenerateKeyPairArgs) -> Result<ExitCode> {
    let password = whittle_sign::key::password_from_env().ok_or(
        "set COSIGN_PASSWORD to the password the private key is encrypted with (COSIGN_PASSWORD= for none), as cosign reads it",
    )?;
    let prefix = args.output_key_prefix.display().to_string();
    let (key_path, pub_path) = (
        PathBuf::from(format!("{prefix}.key")),
        PathBuf::from(format!("{prefix}.pub")),
    );
    for p in [&key_path, &pub_path] {
        if p.exists() {
            return Err(format!(
                "{} exists; move it away or choose another --output-key-prefix",
                p.display()
            )
            .into());
        }
    }
    let key = SigningKey::generate();
    write_new(
        &key_path,
        key.to_encrypted_pem(&password)?.as_bytes(),
        0o600,
    )?;
    write_new(&pub_path, key.public_key().to_pem()?.as_bytes(), 0o644)?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Create `path` (it must not exist) with `mode` and `bytes`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

fn target(image: &str, opts: &whittle_registry::Options) -> Result<whittle_sign::Target> {
    let image = whittle_oci::ImageRef::parse(image)?;
    Ok(whittle_sign::resolve(&image, opts)?)
}

/// Runs `whittle sign`.
pub fn sign(args: SignArgs) -> Result<ExitCode> {
    let key = SigningKey::load(&args.key)?;
    let opts = args.registry.options();
    let target = target(&args.image, &opts)?;
    let stored = whittle_sign::sign(&target, &key, &opts)?;
    stored_report("signed   ", "", "signature", &target, &key, &stored);
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr what `sign`/`attest` stored and prints the image digest on stdout.
fn stored_report(
    verb: &str,
    detail: &str,
    what: &str,
    target: &whittle_sign::Target,
    key: &SigningKey,
    stored: &whittle_sign::Stored,
) {
    eprintln!(
        "{verb} {}@{}{detail} with key sha256:{}: {} ({} {what}(s){})",
        target.place.name(),
        target.digest,
        key.public_key().fingerprint(),
        stored.tag,
        stored.layers,
        if stored.added {
            ""
        } else {
            ", this one was there already"
        }
    );
    println!("{}", target.digest);
}

/// Largest predicate file read.
const MAX_PREDICATE: u64 = whittle_sign::payload::MAX_PAYLOAD as u64 / 2;

/// Runs `whittle attest`.
pub fn attest(args: AttestArgs) -> Result<ExitCode> {
    let predicate_type = whittle_sign::predicate_type(&args.predicate_type)?;
    let key = SigningKey::load(&args.key)?;
    let file = whittle_fs::read_bounded(&args.predicate, MAX_PREDICATE)
        .map_err(|e| format!("--predicate {}: {e}", args.predicate.display()))?;
    // cosign dates `custom` predicates; SOURCE_DATE_EPOCH keeps a re-run identical
    let now = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    let predicate = whittle_sign::payload::predicate_value(&args.predicate_type, &file, now)
        .map_err(|e| format!("{}: {e}", args.predicate.display()))?;
    let opts = args.registry.options();
    let target = target(&args.image, &opts)?;
    let stored = whittle_sign::attest(&target, &key, &predicate_type, predicate, &opts)?;
    let detail = format!(" ({predicate_type})");
    stored_report("attested ", &detail, "attestation", &target, &key, &stored);
    Ok(ExitCode::SUCCESS)
}

/// Runs `whittle verify`.
pub fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let key = PublicKey::load(&args.key)?;
    let want = args
        .attestation
        .as_deref()
        .map(whittle_sign::predicate_type)
        .transpose()?;
    let opts = args.registry.options();
    let target = target(&args.image, &opts)?;
    let v = whittle_sign::verify(&target, &key, want.as_deref(), &opts)?;
    eprintln!(
        "verified  {}@{}: {} signature(s) by key sha256:{}",
        target.place.name(),
        v.digest,
        v.signatures,
        key.fingerprint()
    );
    if let Some(t) = &want {
        eprintln!(
            "verified  {} attestation(s) of type {t} about that digest",
            v.attestations.len()
        );
    }
    println!("{}", v.digest);
    Ok(ExitCode::SUCCESS)
}

/// `whittle build`'s signing flag.
#[derive(clap::Args)]
pub struct BuildSignArgs {
    /// Sign every built manifest and the index with this cosign key (COSIGN_PASSWORD), and
    /// attest each image's SPDX SBOM and a SLSA v1 provenance (every installed package, the
    /// config; dated by SOURCE_DATE_EPOCH). Needs an oci: or docker:// output.
    #[arg(long, value_name = "KEY")]
    sign_key: Option<PathBuf>,
}

/// The key a build signs with, loaded before the build so a wrong password fails at once.
pub struct BuildSigner {
    key: SigningKey,
    place: whittle_sign::Place,
}

impl BuildSignArgs {
    /// The signer, when `--sign-key` is given and `output` can hold signatures.
    pub fn signer(&self, output: &whittle_oci::ImageRef) -> Result<Option<BuildSigner>> {
        let Some(path) = &self.sign_key else {
            return Ok(None);
        };
        let place = whittle_sign::Place::of(output).ok_or_else(|| {
            format!(
                "--sign-key: signatures are stored in registries and OCI layouts; {output} is neither (use -o oci:DIR[:TAG] or docker://HOST/REPO:TAG)"
            )
        })?;
        Ok(Some(BuildSigner {
            key: SigningKey::load(path)?,
            place,
        }))
    }
}

impl BuildSigner {
    /// Sign and attest what `report` says the build of `build` wrote.
    pub fn sign_build(
        &self,
        build: &whittle_build::BuildOptions,
        report: &whittle_build::BuildReport,
        quiet: bool,
    ) -> Result<()> {
        let config = build.config.as_path();
        let opts = whittle_registry::Options::from_env();
        let config_bytes = whittle_fs::read_bounded(config, MAX_PREDICATE)
            .map_err(|e| format!("{}: {e}", config.display()))?;
        let config_name = config
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = |digest: &str| whittle_sign::Target {
            place: self.place.clone(),
            digest: digest.to_string(),
        };
        let mut signed = 0;
        let mut attested = 0;
        let mut all_sboms = Vec::new();
        let mut created = 0;
        let provenance = |digest: &str, sboms: &[&[u8]], archs: &[&str], created: u64| {
            let predicate =
                whittle_sign::provenance::predicate(&whittle_sign::provenance::Build {
                    config_name: &config_name,
                    config: &config_bytes,
                    sboms,
                    created,
                    archs,
                    builder_version: env!("CARGO_PKG_VERSION"),
                    downloads: &report.lock_downloads,
                })?;
            whittle_sign::attest(
                &target(digest),
                &self.key,
                whittle_sign::provenance::PREDICATE_TYPE,
                predicate,
                &opts,
            )
        };
        for img in &report.images {
            let t = target(&img.manifest_digest);
            whittle_sign::sign(&t, &self.key, &opts)?;
            signed += 1;
            // the SBOM the build made, not what the registry holds under its tag
            let sbom = img.sbom.clone();
            if let Some(s) = &sbom
                && s.len() as u64 > MAX_PREDICATE
            {
                return Err(format!(
                    "the build's SBOM of {} has {} bytes, more than an attestation may hold ({MAX_PREDICATE})",
                    img.arch,
                    s.len()
                )
                .into());
            }
            if let Some(sbom) = &sbom {
                let doc: serde_json::Value = serde_json::from_slice(sbom)
                    .map_err(|e| format!("the build's SBOM of {}: {e}", img.arch))?;
                whittle_sign::attest(&t, &self.key, "https://spdx.dev/Document", doc, &opts)?;
                attested += 1;
            }
            created = created_of(img.created.as_deref())?;
            let sboms: Vec<&[u8]> = sbom.iter().map(Vec::as_slice).collect();
            provenance(&img.manifest_digest, &sboms, &[&img.arch], created)?;
            attested += 1;
            all_sboms.extend(sbom);
        }
        // a multi-platform image: the index too, and its provenance lists every platform's
        // packages (a policy that checks the tag's digest finds it)
        if !report
            .images
            .iter()
            .any(|i| i.manifest_digest == report.digest)
        {
            whittle_sign::sign(&target(&report.digest), &self.key, &opts)?;
            signed += 1;
            let sboms: Vec<&[u8]> = all_sboms.iter().map(Vec::as_slice).collect();
            let archs: Vec<&str> = report.images.iter().map(|i| i.arch.as_str()).collect();
            provenance(&report.digest, &sboms, &archs, created)?;
            attested += 1;
        }
        if !quiet {
            eprintln!(
                "signed    {signed} manifest(s) with key sha256:{}, {attested} attestation(s) (SPDX, SLSA v1 provenance)",
                self.key.public_key().fingerprint()
            );
        }
        Ok(())
    }
}

/// The `created` time of a built image's config, in seconds since 1970.
fn created_of(created: Option<&str>) -> Result<u64> {
    let created = created.unwrap_or_default();
    whittle_sbom::parse_rfc3339(created).ok_or_else(|| {
        format!("the built image's config has no readable `created` time ({created:?})").into()
    })
}
