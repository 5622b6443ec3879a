//! apko's spellings of `whittle build`: `build CONFIG TAG OUT.tar`, `-k/--keyring-append`,
//! `-r/--repository-append`, `-b/--build-repository-append`, `-p/--package-append`,
//! `--annotations`, `--build-date`, `--sbom-path`, and extra tags on push.

use std::path::PathBuf;

use whittle_oci::ImageRef;

/// apko's arguments and flags, as apko spells them.
#[derive(clap::Args)]
pub struct ApkoArgs {
    /// apko's form: the image's name and tag (`NAME:TAG`), with OUT instead of `-o`.
    #[arg(value_name = "TAG", requires = "out", conflicts_with = "output")]
    pub tag: Option<String>,

    /// apko's form: OUT.tar is written as a tarball `docker load` and `podman load` accept
    /// (docker-archive:OUT.tar:TAG); for several architectures it holds one image per
    /// architecture named TAG-ARCH (e.g. `app:1.0-amd64`, `app:1.0-arm64`), as apko names them. An
    /// existing directory OUT gets an OCI layout.
    #[arg(value_name = "OUT", requires = "tag")]
    pub out: Option<PathBuf>,

    /// Also tag the pushed image TAG (a `docker://` destination only). Repeatable.
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    pub extra_tags: Vec<String>,

    /// Trust this public key (file or http(s):// URL) too, as if listed under
    /// `contents.keyring` (apko's flag). Repeatable, or comma-separated.
    #[arg(short = 'k', long, value_name = "KEY", value_delimiter = ',')]
    pub keyring_append: Vec<String>,

    /// Add this repository to `contents.repositories` (apko's flag; a directory is relative to
    /// the current directory). Repeatable, or comma-separated.
    #[arg(short = 'r', long, value_name = "REPO", value_delimiter = ',')]
    pub repository_append: Vec<String>,

    /// Add this repository for the build only, not written into the image (apko's flag).
    /// Repeatable, or comma-separated.
    #[arg(short = 'b', long, value_name = "REPO", value_delimiter = ',')]
    pub build_repository_append: Vec<String>,

    /// Install this package too, as if listed under `contents.packages` (apko's flag).
    /// Repeatable, or comma-separated.
    #[arg(short = 'p', long, value_name = "PKG", value_delimiter = ',')]
    pub package_append: Vec<String>,

    /// Set this annotation on the image, KEY:VALUE (apko's flag; over the config's own).
    /// Repeatable, or comma-separated.
    #[arg(long, value_name = "KEY:VALUE", value_delimiter = ',')]
    pub annotations: Vec<String>,

    /// The timestamp, as an RFC 3339 date (apko's flag): `--source-date-epoch` spelled as a
    /// date, e.g. 2024-01-01T00:00:00Z.
    #[arg(long, value_name = "DATE", conflicts_with = "source_date_epoch")]
    pub build_date: Option<String>,

    /// Write the SBOM into DIR (apko's flag): DIR/NAME.spdx.json, NAME the output's file name
    /// without its extension (DIR/NAME.ARCH.spdx.json for several architectures).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["sbom", "no_sbom"])]
    pub sbom_path: Option<PathBuf>,
}

impl ApkoArgs {
    /// The destination: `-o DEST`, or apko's `TAG OUT`.
    pub fn output(&self, output: Option<&str>) -> Result<ImageRef, String> {
        let dest = self.dest(output)?;
        if !self.extra_tags.is_empty() && !matches!(dest, ImageRef::Docker(_)) {
            return Err(
                "--tag names more tags on a registry: the destination must be docker://HOST/REPO:TAG"
                    .into(),
            );
        }
        Ok(dest)
    }

    fn dest(&self, output: Option<&str>) -> Result<ImageRef, String> {
        match (output, &self.tag, &self.out) {
            (Some(o), _, _) => ImageRef::parse(o).map_err(|e| e.to_string()),
            (None, Some(tag), Some(out)) => {
                let bad = |why: String| {
                    format!(
                        "image name `{tag}`: {why} (apko's form is `whittle build CONFIG NAME:TAG OUT.tar`)"
                    )
                };
                let reference = whittle_oci::DockerReference::parse(tag).map_err(bad)?;
                if reference.digest.is_some() {
                    return Err(bad("a name with a digest cannot be given to an image".into()));
                }
                Ok(if out.is_dir() {
                    // apko writes an OCI layout into an existing directory, its index
                    // naming the image by its tag
                    ImageRef::Oci {
                        path: out.clone(),
                        tag: Some(reference.tag.unwrap_or_else(|| "latest".into())),
                    }
                } else {
                    ImageRef::DockerArchive {
                        path: out.clone(),
                        reference: Some(reference),
                    }
                })
            }
            _ => Err("say where to write the image: `-o DEST` (e.g. `-o oci:out/app:latest`) or apko's form `whittle build CONFIG NAME:TAG OUT.tar`".into()),
        }
    }

    /// What the flags add to the config.
    pub fn append(&self) -> whittle_config::Append {
        whittle_config::Append {
            keyrings: self.keyring_append.clone(),
            repositories: self.repository_append.clone(),
            build_repositories: self.build_repository_append.clone(),
            packages: self.package_append.clone(),
            annotations: self.annotations.clone(),
        }
    }

    /// `--build-date` in seconds since 1970, if given.
    pub fn build_date(&self) -> Result<Option<u64>, String> {
        self.build_date
            .as_deref()
            .map(|d| {
                rfc3339_seconds(d).ok_or_else(|| {
                    format!("--build-date {d:?} is not an RFC 3339 date after 1970, e.g. 2024-01-01T00:00:00Z")
                })
            })
            .transpose()
    }

    /// `--sbom-path DIR` as the SBOM file for `output`.
    pub fn sbom_file(&self, output: &ImageRef) -> Option<PathBuf> {
        let dir = self.sbom_path.as_ref()?;
        let name = match output {
            ImageRef::Oci { path, .. }
            | ImageRef::OciArchive { path, .. }
            | ImageRef::DockerArchive { path, .. } => {
                path.file_stem().map(|n| n.to_string_lossy().into_owned())
            }
            ImageRef::Docker(r) => r.repository.rsplit('/').next().map(str::to_string),
        }
        .unwrap_or_else(|| "sbom".into());
        Some(dir.join(format!("{name}.spdx.json")))
    }

    /// Tags the image just pushed to `output` (digest `digest`) with each `--tag` too.
    pub fn push_tags(&self, output: &ImageRef, digest: &str, quiet: bool) -> Result<(), String> {
        if self.extra_tags.is_empty() {
            return Ok(());
        }
        let ImageRef::Docker(dest) = output else {
            return Ok(()); // refused by `output` before the build
        };
        let opts = whittle_registry::Options::from_env();
        let src = ImageRef::Docker(whittle_oci::DockerReference {
            tag: None,
            digest: Some(digest.to_string()),
            ..dest.clone()
        });
        for t in &self.extra_tags {
            let to = ImageRef::Docker(whittle_oci::DockerReference {
                tag: Some(t.clone()),
                digest: None,
                ..dest.clone()
            });
            whittle_registry::copy(&src, &to, None, &opts)
                .map_err(|e| format!("tagging {to}: {e}"))?;
            if !quiet {
                eprintln!("tagged    {to}");
            }
        }
        Ok(())
    }
}

/// `--arch` values as apko takes them: comma-separated lists, and `host` for this machine's.
pub fn archs(given: &[String]) -> Vec<String> {
    given
        .iter()
        .flat_map(|a| a.split(','))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            if a == "host" {
                std::env::consts::ARCH.to_string()
            } else {
                a.to_string()
            }
        })
        .collect()
}

/// Seconds since 1970 of an RFC 3339 date-time (`2024-01-01T00:00:00Z`, `…+02:00`, fractions
/// ignored: [`whittle_sbom::parse_rfc3339`], the reader of image configs' `created`), or a bare
/// date (`2024-01-01`, midnight UTC); `None` if malformed or before 1970.
pub fn rfc3339_seconds(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.len() == 10 {
        return whittle_sbom::parse_rfc3339(&format!("{s}T00:00:00Z"));
    }
    whittle_sbom::parse_rfc3339(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apkos_arch_lists() {
        let given = ["x86_64,aarch64".to_string(), "host".into(), " ".into()];
        assert_eq!(archs(&given), ["x86_64", "aarch64", std::env::consts::ARCH]);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_seconds("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(rfc3339_seconds("2024-01-01"), Some(1_704_067_200));
        assert_eq!(
            rfc3339_seconds("2024-01-01T02:00:00.5+02:00"),
            Some(1_704_067_200)
        );
        assert_eq!(rfc3339_seconds("2000-02-29T12:34:56Z"), Some(951_827_696));
        for bad in [
            "",
            "2024-13-01",
            "yesterday",
            "1969-12-31T00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00",
        ] {
            assert_eq!(rfc3339_seconds(bad), None, "{bad}");
        }
    }
}
