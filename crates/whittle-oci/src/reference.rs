//! Image references as skopeo spells them.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The registry Docker Hub references normalize to.
pub const DOCKER_HUB: &str = "docker.io";

/// Where an image is read from or written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `oci:DIR[:TAG]` (syft's `oci-dir:DIR[:TAG]`): an OCI image layout directory.
    Oci {
        /// The layout directory.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` of the image in `index.json`.
        tag: Option<String>,
    },
    /// `oci-archive:FILE[:TAG]`: an OCI image layout in a tar file.
    OciArchive {
        /// The archive file.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` of the image.
        tag: Option<String>,
    },
    /// `docker-archive:FILE[:NAME[:TAG]]`: a `docker save`/`docker load` tar file.
    DockerArchive {
        /// The archive file.
        path: PathBuf,
        /// The name recorded in `RepoTags` (never with a digest).
        reference: Option<DockerReference>,
    },
    /// `docker://HOST/REPO[:TAG|@DIGEST]`, syft's `registry:HOST/REPO[:TAG|@DIGEST]`, or a bare
    /// `HOST/REPO[:TAG]`: a registry.
    Docker(DockerReference),
}

/// A normalized registry reference (`docker.io/library/alpine:3.20`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerReference {
    /// Registry host, with port if any (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path (`library/alpine`).
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest (`sha256:<hex>`), if given.
    pub digest: Option<String>,
}

/// Transports skopeo knows that whittle does not handle.
const OTHER_TRANSPORTS: &[&str] = &[
    "dir",
    "containers-storage",
    "docker-daemon",
    "ostree",
    "sif",
    "tarball",
    "atomic",
];

impl ImageRef {
    /// Parse a reference the way skopeo spells it (see the variants). A bare reference must start
    /// with a registry host (`localhost:5000/app:1`, `ghcr.io/o/app:1`) and means `docker://`.
    pub fn parse(input: &str) -> Result<ImageRef> {
        let bad = |reason: &str| Error::InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = input.strip_prefix("docker://") {
            return Ok(ImageRef::Docker(DockerReference::parse(rest).map_err(
                |r| bad(&format!("{r} (expected docker://HOST/REPO[:TAG|@DIGEST])")),
            )?));
        }
        // syft's name for a registry source
        if let Some(rest) = input.strip_prefix("registry:") {
            return Ok(ImageRef::Docker(DockerReference::parse(rest).map_err(
                |r| bad(&format!("{r} (expected registry:HOST/REPO[:TAG|@DIGEST])")),
            )?));
        }
        if let Some((transport, rest)) = input.split_once(':') {
            // `oci-dir:` is syft's name for `oci:`
            let transport = if transport == "oci-dir" {
                "oci"
            } else {
                transport
            };
            match transport {
                "oci" | "oci-archive" => {
                    let (path, tag) = match rest.split_once(':') {
                        Some((p, t)) => (p, Some(t)),
                        None => (rest, None),
                    };
                    if path.is_empty() {
                        return Err(bad(&format!(
                            "the path is empty (expected {transport}:PATH[:TAG])"
                        )));
                    }
                    if let Some(t) = tag {
                        validate_oci_tag(t).map_err(|r| bad(&r))?;
                    }
                    let path = PathBuf::from(path);
                    let tag = tag.map(str::to_string);
                    return Ok(if transport == "oci" {
                        ImageRef::Oci { path, tag }
                    } else {
                        ImageRef::OciArchive { path, tag }
                    });
                }
                "docker-archive" => {
                    let (path, name) = match rest.split_once(':') {
                        Some((p, n)) => (p, Some(n)),
                        None => (rest, None),
                    };
                    if path.is_empty() {
                        return Err(bad(
                            "the path is empty (expected docker-archive:FILE[:NAME[:TAG]])",
                        ));
                    }
                    let reference = match name {
                        None => None,
                        Some(n) => {
                            let r = DockerReference::parse(n).map_err(|r| bad(&r))?;
                            if r.digest.is_some() {
                                return Err(bad(
                                    "a docker-archive name cannot carry a digest; use NAME:TAG",
                                ));
                            }
                            Some(r)
                        }
                    };
                    return Ok(ImageRef::DockerArchive {
                        path: PathBuf::from(path),
                        reference,
                    });
                }
                t if OTHER_TRANSPORTS.contains(&t) => {
                    return Err(Error::UnsupportedTransport {
                        input: input.to_string(),
                        transport: t.to_string(),
                    });
                }
                _ => {}
            }
        }
        let first = input.split('/').next().unwrap_or("");
        if !input.contains('/') || !looks_like_host(first) {
            return Err(bad(
                "no transport given and it does not start with a registry host; use oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME[:TAG]] or docker://[HOST/]REPO[:TAG]",
            ));
        }
        Ok(ImageRef::Docker(
            DockerReference::parse(input).map_err(|r| bad(&r))?,
        ))
    }

    /// The tag (`oci`/`oci-archive` ref name, or the registry/archive reference's tag), if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ImageRef::Oci { tag, .. } | ImageRef::OciArchive { tag, .. } => tag.as_deref(),
            ImageRef::DockerArchive { reference, .. } => {
                reference.as_ref().and_then(|r| r.tag.as_deref())
            }
            ImageRef::Docker(r) => r.tag.as_deref(),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Oci { path, tag } | ImageRef::OciArchive { path, tag } => {
                let t = if matches!(self, ImageRef::Oci { .. }) {
                    "oci"
                } else {
                    "oci-archive"
                };
                write!(f, "{t}:{}", path.display())?;
                if let Some(tag) = tag {
                    write!(f, ":{tag}")?;
                }
                Ok(())
            }
            ImageRef::DockerArchive { path, reference } => {
                write!(f, "docker-archive:{}", path.display())?;
                if let Some(r) = reference {
                    write!(f, ":{}", r.familiar_name())?;
                    if let Some(t) = &r.tag {
                        write!(f, ":{t}")?;
                    }
                }
                Ok(())
            }
            ImageRef::Docker(r) => write!(f, "docker://{r}"),
        }
    }
}

impl DockerReference {
    /// Parse and normalize `[HOST/]REPO[:TAG][@DIGEST]` (Docker Hub names gain `docker.io/` and,
    /// for one-component names, `library/`). The error is a reason, without the input.
    pub fn parse(s: &str) -> Result<DockerReference, String> {
        let (rest, digest) = match s.rsplit_once('@') {
            Some((r, d)) => {
                validate_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                validate_tag(t)?;
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err("the repository name is empty".into());
        }
        let (registry, repository) = match name.split_once('/') {
            Some((h, r)) if looks_like_host(h) => (h.to_string(), r.to_string()),
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        validate_host(&registry)?;
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        for c in repository.split('/') {
            validate_path_component(c)?;
        }
        if registry.len() + 1 + repository.len() > 255 {
            return Err("the name is longer than 255 characters".into());
        }
        Ok(DockerReference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The short name Docker shows (`alpine`, `ghcr.io/o/app`), without tag.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// The short form Docker shows in `RepoTags` (`alpine:3.20`, `ghcr.io/o/app:1`), with the
    /// tag or `latest`.
    pub fn familiar(&self) -> String {
        format!(
            "{}:{}",
            self.familiar_name(),
            self.tag.as_deref().unwrap_or("latest")
        )
    }
}

impl fmt::Display for DockerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn looks_like_host(s: &str) -> bool {
    s.contains('.') || s.contains(':') || s == "localhost" || s.starts_with('[')
}

fn validate_host(h: &str) -> Result<(), String> {
    let (host, port) = if h.starts_with('[') {
        match h.find(']') {
            Some(i) => (&h[..=i], h[i + 1..].strip_prefix(':')),
            None => return Err(format!("registry host `{h}` has an unclosed `[`")),
        }
    } else {
        match h.rsplit_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (h, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    if !host_ok {
        return Err(format!("registry host `{h}` is not a valid host name"));
    }
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("registry port in `{h}` is not a number"));
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn validate_path_component(c: &str) -> Result<(), String> {
    let err = || {
        format!(
            "repository component `{c}` is invalid: use lowercase letters and digits separated by `.`, `_`, `__` or `-`"
        )
    };
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(err());
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return Err(err());
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn validate_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag `{t}` is invalid: use up to 128 letters, digits, `_`, `.`, `-`, not starting with `.` or `-`"
        ))
    }
}

fn validate_digest(d: &str) -> Result<(), String> {
    let ok = match d.split_once(':') {
        Some(("sha256", h)) => h.len() == 64,
        Some(("sha512", h)) => h.len() == 128,
        _ => false,
    } && d.split_once(':').is_some_and(|(_, h)| {
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "digest `{d}` is invalid: expected sha256:<64 lowercase hex digits>"
        ))
    }
}

/// OCI layout ref names: `[A-Za-z0-9._-]+` components joined by `:`, `@`, `/` or `+`.
fn validate_oci_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.split([':', '@', '/', '+']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag `{t}` is invalid: use letters, digits, `.`, `_`, `-` (components may be joined by `:`, `@`, `/`, `+`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(r: &str, repo: &str, tag: Option<&str>, digest: Option<&str>) -> DockerReference {
        DockerReference {
            registry: r.into(),
            repository: repo.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn transports() {
        assert_eq!(
            ImageRef::parse("oci:out/img:v1").unwrap(),
            ImageRef::Oci {
                path: "out/img".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            ImageRef::parse("oci:/abs/dir").unwrap(),
            ImageRef::Oci {
                path: "/abs/dir".into(),
                tag: None
            }
        );
        // syft's names
        assert_eq!(
            ImageRef::parse("oci-dir:out").unwrap(),
            ImageRef::parse("oci:out").unwrap()
        );
        assert_eq!(
            ImageRef::parse("oci-dir:out/img:v1").unwrap(),
            ImageRef::parse("oci:out/img:v1").unwrap()
        );
        assert_eq!(
            ImageRef::parse("registry:localhost:5000/app:1").unwrap(),
            ImageRef::parse("docker://localhost:5000/app:1").unwrap()
        );
        assert_eq!(
            ImageRef::parse("oci-archive:img.tar:latest").unwrap(),
            ImageRef::OciArchive {
                path: "img.tar".into(),
                tag: Some("latest".into())
            }
        );
        assert_eq!(
            ImageRef::parse("docker-archive:img.tar:alpine:3.20").unwrap(),
            ImageRef::DockerArchive {
                path: "img.tar".into(),
                reference: Some(docker("docker.io", "library/alpine", Some("3.20"), None))
            }
        );
        assert_eq!(
            ImageRef::parse("docker-archive:img.tar").unwrap(),
            ImageRef::DockerArchive {
                path: "img.tar".into(),
                reference: None
            }
        );
    }

    #[test]
    fn registries() {
        let d = "sha256:".to_string() + &"ab".repeat(32);
        assert_eq!(
            ImageRef::parse("docker://alpine").unwrap(),
            ImageRef::Docker(docker("docker.io", "library/alpine", None, None))
        );
        assert_eq!(
            ImageRef::parse("localhost:5000/team/app:1.0").unwrap(),
            ImageRef::Docker(docker("localhost:5000", "team/app", Some("1.0"), None))
        );
        assert_eq!(
            ImageRef::parse(&format!("docker://ghcr.io/o/app:1@{d}")).unwrap(),
            ImageRef::Docker(docker("ghcr.io", "o/app", Some("1"), Some(&d)))
        );
        assert_eq!(
            ImageRef::parse("docker://index.docker.io/x/y").unwrap(),
            ImageRef::Docker(docker("docker.io", "x/y", None, None))
        );
        let r = ImageRef::parse("example.com/a/b:t").unwrap();
        assert_eq!(r.to_string(), "docker://example.com/a/b:t");
        assert_eq!(r.tag(), Some("t"));
    }

    #[test]
    fn errors_are_clear() {
        let msg = |s: &str| ImageRef::parse(s).unwrap_err().to_string();
        assert!(msg("myimage.tar").contains("no transport given"));
        assert!(msg("alpine:3").contains("no transport given"));
        assert!(msg("dir:/tmp/x").contains("transport `dir` is not supported"));
        assert!(msg("oci:").contains("path is empty"));
        assert!(msg("oci:d:bad tag").contains("tag `bad tag` is invalid"));
        assert!(msg("docker://Example.com/UPPER:1").contains("`UPPER`"));
        assert!(msg("docker://h.io/a:-x").contains("tag `-x`"));
        assert!(msg("docker://h.io/a@sha256:12").contains("digest"));
        assert!(msg("docker-archive:f.tar:a@sha256:".to_string().as_str()).contains("digest"));
        assert!(msg("docker://h.io:x/a").contains("port"));
        assert!(msg("docker://").contains("empty"));
    }

    #[test]
    fn familiar_names() {
        let r = DockerReference::parse("alpine").unwrap();
        assert_eq!(r.familiar(), "alpine:latest");
        let r = DockerReference::parse("ghcr.io/o/app:1").unwrap();
        assert_eq!(r.familiar(), "ghcr.io/o/app:1");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "[a-zA-Z0-9:/@._-]{0,40}") {
            if let Ok(r) = ImageRef::parse(&s) {
                let again = ImageRef::parse(&r.to_string()).unwrap();
                proptest::prop_assert_eq!(again, r);
            }
        }
    }
}
