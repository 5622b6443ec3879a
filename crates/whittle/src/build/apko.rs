//! apko's spellings of `whittle build`: `build CONFIG TAG OUT.tar`, `-k/--keyring-append`,
//! `-r/--repository-append`, `-b/--build-repository-append`, `-p/--package-append`,
//! `--annotations`, `--build-date`, `--sbom-path`, and extra tags on push.

use std::path::{Path, PathBuf};

use whittle_oci::ImageRef;

/// apko's arguments and flags, as apko spells them.
#[derive(clap::Args)]
pub struct ApkoArgs {
    /// apko's form: the image's name and tag (`NAME:TAG`), with OUT instead of `-o`.
    #[arg(value_name = "TAG", requires = "out", conflicts_with = "output")]
    pub tag: Option<String>,

    /// apko's form: OUT.tar is written as a tarball `docker load` and `podman load` accept
    /// (docker-archive:OUT.tar:TAG); for several architectures it holds one image per
    /// architecture named TAG-ARCH (e.g. `app:1.0-amd64`, `app:1.0-arm64`), as apko names them,
    /// and, as apko's, only `manifest.json` and the blobs (no OCI index). An existing directory
    /// OUT gets an OCI layout.
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

    /// The SBOM formats (apko's flag): whittle writes SPDX 2.3 JSON only, so only `spdx` is
    /// taken (`whittle sbom IMAGE --format cyclonedx` writes CycloneDX); an empty list
    /// (`--sbom-formats=`) writes none.
    #[arg(long, value_name = "FORMATS", value_delimiter = ',')]
    pub sbom_formats: Vec<String>,

    /// Record the git repository the config lies in as the image's
    /// `org.opencontainers.image.source` (remote `origin`, without credentials) and
    /// `org.opencontainers.image.revision` (HEAD's commit) annotations, as apko does by
    /// default; `--vcs=false` records nothing. Read from the files under `.git` found from the
    /// config's directory up to the current directory (no network, no git program); a remote
    /// that is a local path is not recorded. The config's `vcs-url` (or its own source
    /// annotation) and `--annotations` win over these.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub vcs: bool,

    /// Where else to look for the config when it is not found as given (apko's flag; the
    /// first DIR/CONFIG that exists). whittle configs have no `include:`. Repeatable, or
    /// comma-separated.
    #[arg(long, value_name = "DIR", value_delimiter = ',')]
    pub include_paths: Vec<PathBuf>,

    /// apko's flag to skip repository signature checks: refused, whittle verifies every index
    /// and package (trust an apk repository's key with `-k KEY`).
    #[arg(long)]
    pub ignore_signatures: bool,
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

    /// The config file: `config` if it exists, else the first `--include-paths` DIR/`config`
    /// that does (apko's lookup). Refuses `--ignore-signatures` and SBOM formats other than
    /// SPDX first.
    pub fn config(&self, config: &Path) -> Result<PathBuf, String> {
        if self.ignore_signatures {
            return Err("--ignore-signatures: whittle verifies the signature of every index and package and has no way to skip it (anyone who can change an unverified repository can change the image); trust the repository's key with `-k KEY.rsa.pub` (or list it under `contents.keyring`)".into());
        }
        for f in &self.sbom_formats {
            let f = f.trim();
            if !f.is_empty() && !f.eq_ignore_ascii_case("spdx") {
                return Err(format!(
                    "--sbom-formats {f}: whittle build writes SPDX 2.3 JSON only (`--sbom-formats spdx`); for CycloneDX, convert the image afterwards with `whittle sbom IMAGE --format cyclonedx -o FILE`"
                ));
            }
        }
        if config.exists() {
            return Ok(config.to_path_buf());
        }
        Ok(self
            .include_paths
            .iter()
            .map(|d| d.join(config))
            .find(|p| p.exists())
            .unwrap_or_else(|| config.to_path_buf()))
    }

    /// Whether `--sbom-formats` names no format at all (apko then writes no SBOM).
    pub fn no_sbom_formats(&self) -> bool {
        !self.sbom_formats.is_empty() && self.sbom_formats.iter().all(|f| f.trim().is_empty())
    }

    /// What the flags add to the config `config`: with `--vcs` (the default) its git
    /// repository, which stands in for a `vcs-url` the config does not give (see
    /// [`whittle_config::Append::vcs`]).
    pub fn append(&self, config: &Path) -> whittle_config::Append {
        whittle_config::Append {
            vcs: self.vcs.then(|| vcs_source(config)).flatten(),
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

/// Largest `.git` file read for `--vcs` (HEAD, config, a ref, `commondir`); `packed-refs`
/// may be larger.
const GIT_FILE_LIMIT: u64 = 1 << 20;
const PACKED_REFS_LIMIT: u64 = 64 << 20;

fn read_bounded(path: &Path, limit: u64) -> Option<String> {
    String::from_utf8(whittle_fs::read_bounded(path, limit).ok()?).ok()
}

/// apko's VCS probe: the git repository found from `config`'s directory up to the current
/// directory (none when the config lies outside it), as (origin URL, HEAD commit). The URL
/// loses its credentials, and `user@host:path` becomes `git+ssh://host/path`, as apko writes
/// them; a remote that is a local path gives `None` (it would put this machine's paths into
/// the image). Anything missing or malformed gives `None`, as apko then records nothing.
pub fn vcs_source(config: &Path) -> Option<(String, String)> {
    let top = std::path::absolute(std::env::current_dir().ok()?).ok()?;
    let mut dir = std::path::absolute(config).ok()?.parent()?.to_path_buf();
    if !dir.starts_with(&top) {
        return None;
    }
    let git_dir = loop {
        let dot = dir.join(".git");
        if dot.is_dir() {
            break dot;
        }
        if dot.is_file() {
            // a worktree or submodule: `gitdir: PATH`
            let text = read_bounded(&dot, GIT_FILE_LIMIT)?;
            let to = text.trim().strip_prefix("gitdir:")?.trim();
            break dir.join(to);
        }
        if dir == top || !dir.pop() {
            return None;
        }
    };
    let common = match read_bounded(&git_dir.join("commondir"), GIT_FILE_LIMIT) {
        Some(c) => git_dir.join(c.trim()),
        None => git_dir.clone(),
    };
    let url = origin_url(&read_bounded(&common.join("config"), GIT_FILE_LIMIT)?)?;
    let mut head = read_bounded(&git_dir.join("HEAD"), GIT_FILE_LIMIT)?
        .trim()
        .to_string();
    for _ in 0..5 {
        let Some(name) = head.strip_prefix("ref:").map(|r| r.trim().to_string()) else {
            break;
        };
        if name.split('/').any(|c| c.is_empty() || c == "..") || !name.starts_with("refs/") {
            return None;
        }
        head = match [&git_dir, &common]
            .iter()
            .find_map(|d| read_bounded(&d.join(&name), GIT_FILE_LIMIT))
        {
            Some(r) => r.trim().to_string(),
            None => read_bounded(&common.join("packed-refs"), PACKED_REFS_LIMIT)?
                .lines()
                .find_map(|l| {
                    let (hash, r) = l.split_once(' ')?;
                    (r.trim() == name).then(|| hash.to_string())
                })?,
        };
    }
    let is_hash = matches!(head.len(), 40 | 64) && head.bytes().all(|b| b.is_ascii_hexdigit());
    is_hash.then(|| (url, head.to_ascii_lowercase()))
}

/// The URL of remote `origin` in a git config, as apko records it (see [`vcs_source`]).
fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    let mut url = None;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            let section: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            in_origin = section.eq_ignore_ascii_case("[remote\"origin\"]");
        } else if in_origin
            && let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case("url")
        {
            url = Some(v.trim().trim_matches('"').to_string());
            break;
        }
    }
    let url = url.filter(|u| !u.is_empty())?;
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && scheme != "file" => {
            (scheme.to_string(), rest.to_string())
        }
        Some(_) => return None,
        None => {
            // scp-like `user@host:path`; a path (`/srv/repo`, `../repo`, `C:\\x`) is refused
            let (host, path) = url.split_once(':')?;
            if host.is_empty() || host.contains('/') || host.contains('\\') || host.len() == 1 {
                return None;
            }
            ("git+ssh".to_string(), format!("{host}/{path}"))
        }
    };
    let (authority, path) = rest.split_once('/').unwrap_or((&rest, ""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return None;
    }
    Some(if path.is_empty() && !rest.contains('/') {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}/{path}")
    })
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
    fn origin_urls_as_apko_records_them() {
        let cfg = |u: &str| {
            format!(
                "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = {u}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
            )
        };
        for (given, want) in [
            (
                "https://github.com/a/b.git",
                Some("https://github.com/a/b.git"),
            ),
            (
                "https://me:tok@github.com/a/b",
                Some("https://github.com/a/b"),
            ),
            (
                "git@github.com:a/b.git",
                Some("git+ssh://github.com/a/b.git"),
            ),
            ("ssh://git@host:22/x", Some("ssh://host:22/x")),
            ("/srv/git/b", None),
            ("../b", None),
            ("file:///srv/b", None),
            ("", None),
        ] {
            assert_eq!(origin_url(&cfg(given)).as_deref(), want, "{given}");
        }
        assert_eq!(
            origin_url("[remote \"upstream\"]\n\turl = https://h/x\n"),
            None
        );
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
