//! Helpers shared by the registry integration tests: a real `docker-registry` started on
//! 127.0.0.1 with its own config and storage (killed on drop), deterministic test images, and
//! small readers of what a test produced.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use whittle_fs::{LayerOptions, Meta, Node, Tree, write_layer};
use whittle_oci::{DockerReference, Image, ImageConfig, ImageLayer, ImageRef, rfc3339};
use whittle_registry::Options;

pub const REGISTRY: &str = "/usr/bin/docker-registry";

/// How a test registry authenticates clients.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// Anyone may push and pull.
    None,
    /// Basic auth with one user (htpasswd file made with `htpasswd -B`).
    Htpasswd(&'a str, &'a str),
    /// Bearer tokens (JWTs) issued by a token service at `realm`, signed by the key of the
    /// certificate(s) in `rootcertbundle`.
    Token {
        /// URL of the token service.
        realm: &'a str,
        /// The registry's service name (the tokens' audience).
        service: &'a str,
        /// The trusted token issuer.
        issuer: &'a str,
        /// PEM file of the signing key's certificate.
        rootcertbundle: &'a Path,
    },
}

/// A running registry, killed on drop.
pub struct Registry {
    child: Child,
    /// The address it listens on.
    pub ip: std::net::IpAddr,
    /// The port it listens on.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Start a registry; `htpasswd` = Some((user, password)) turns on Basic auth.
    pub fn start(htpasswd: Option<(&str, &str)>) -> Option<Registry> {
        match htpasswd {
            Some((user, pass)) => Registry::start_with(Auth::Htpasswd(user, pass)),
            None => Registry::start_with(Auth::None),
        }
    }

    /// Start a registry on 127.0.0.1 with the given authentication.
    pub fn start_with(auth: Auth<'_>) -> Option<Registry> {
        Registry::start_at(std::net::Ipv4Addr::LOCALHOST.into(), auth)
    }

    /// Start a registry listening on `ip` with the given authentication.
    pub fn start_at(ip: std::net::IpAddr, auth: Auth<'_>) -> Option<Registry> {
        if !Path::new(REGISTRY).is_file() {
            whittle_testutil::skip("docker-registry (apt-get install docker-registry)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // port 0 and info-level logs: the registry reports the port it took ("listening on …")
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {}\n",
            dir.path().join("storage").display(),
            std::net::SocketAddr::new(ip, 0)
        );
        if let Auth::Token {
            realm,
            service,
            issuer,
            rootcertbundle,
        } = auth
        {
            config.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                rootcertbundle.display()
            ));
        }
        if let Auth::Htpasswd(user, pass) = auth {
            if !whittle_testutil::tool("htpasswd") {
                return None;
            }
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .unwrap();
            assert!(out.status.success());
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: whittle-test\n    path: {}\n",
                path.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let (child, addr) = whittle_testutil::spawn_listening(
            Command::new(REGISTRY)
                .arg("serve")
                .arg(&cfg)
                .stdout(Stdio::null()),
            Duration::from_secs(20),
        );
        Some(Registry {
            child,
            ip,
            port: addr.port(),
            _dir: dir,
        })
    }

    pub fn host(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }
}

/// Deterministic incompressible bytes.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn layer(files: &[(&str, Vec<u8>)]) -> ImageLayer {
    let mut t = Tree::new();
    for (p, b) in files {
        t.insert(p, Node::file(b.clone()), Meta::root(0o644))
            .unwrap();
    }
    ImageLayer::from(
        write_layer(
            &t,
            &LayerOptions {
                mtime: 1_700_000_000,
                gzip_level: 1,
            },
        )
        .unwrap(),
    )
}

/// An image with a shared base layer (`big` bytes of noise) and an app layer naming `app`.
pub fn image(arch: &str, app: &str, big: usize) -> Image {
    let base = layer(&[("usr/lib/base.bin", noise(big, 7))]);
    let top = layer(&[("app", format!("{app} {arch}\n").into_bytes())]);
    let config = ImageConfig {
        created: Some(rfc3339(1_700_000_000)),
        architecture: arch.into(),
        os: "linux".into(),
        variant: (arch == "arm64").then(|| "v8".to_string()),
        ..Default::default()
    };
    Image::new(config, vec![base, top])
}

pub fn opts() -> Options {
    Options {
        backoff: Duration::from_millis(20),
        chunk_size: 64 << 10,
        docker_config: Some(PathBuf::from("/nonexistent-whittle-docker-config")),
        ..Options::default()
    }
}

pub fn dref(host: &str, repo_tag: &str) -> DockerReference {
    match ImageRef::parse(&format!("docker://{host}/{repo_tag}")).unwrap() {
        ImageRef::Docker(r) => r,
        other => panic!("{other:?}"),
    }
}

pub fn skopeo_digest(reference: &str) -> Option<String> {
    if !whittle_testutil::tool("skopeo") {
        return None;
    }
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", reference])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(v["Digest"].as_str().unwrap().to_string())
}

/// Every file of a directory tree, by relative path.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
