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
    /// The predicate: a JSON file (an SPDX or CycloneDX SBOM, a SLSA provenance predicate…).
    #[arg(long, value_name = "FILE")]
    predicate: PathBuf,
    /// The predicate type: spdxjson, cyclonedx, slsaprovenance (v0.2), slsaprovenance1, vuln,
    /// link, custom, or a URI (cosign's names).
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
    eprintln!(
        "signed    {}@{} with key sha256:{}: {} ({} signature(s){})",
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
    Ok(ExitCode::SUCCESS)
}

/// Largest predicate file read.
const MAX_PREDICATE: u64 = whittle_sign::payload::MAX_PAYLOAD as u64 / 2;

/// Runs `whittle attest`.
pub fn attest(args: AttestArgs) -> Result<ExitCode> {
    let predicate_type = whittle_sign::predicate_type(&args.predicate_type)?;
    let key = SigningKey::load(&args.key)?;
    let predicate = read_json(&args.predicate)?;
    let opts = args.registry.options();
    let target = target(&args.image, &opts)?;
    let stored = whittle_sign::attest(&target, &key, &predicate_type, predicate, &opts)?;
    eprintln!(
        "attested  {}@{} ({predicate_type}) with key sha256:{}: {} ({} attestation(s){})",
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
    Ok(ExitCode::SUCCESS)
}

/// A JSON file, at most [`MAX_PREDICATE`] bytes.
fn read_json(path: &Path) -> Result<serde_json::Value> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let mut buf = Vec::new();
    f.take(MAX_PREDICATE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    if buf.len() as u64 > MAX_PREDICATE {
        return Err(format!(
            "{} is larger than {MAX_PREDICATE} bytes, the most one attestation carries",
            path.display()
        )
        .into());
    }
    serde_json::from_slice(&buf).map_err(|e| {
        format!(
            "{} is not JSON ({e}); a predicate is a JSON document",
            path.display()
        )
        .into()
    })
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
