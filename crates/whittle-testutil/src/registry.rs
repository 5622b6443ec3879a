//! A real `docker-registry` (Debian's package, distribution 2.8) for tests: started on a
//! loopback address with its own config and storage, on port 0 (it reports the port it took),
//! killed on drop. SKIPPED when the tool is missing, a failure under `CI=true`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
        if !crate::tool("docker-registry") {
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
            if !crate::tool("htpasswd") {
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
        let (child, addr) = crate::spawn_listening(
            Command::new("docker-registry")
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

    /// The registry's storage directory (`docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`
    /// holds each blob), for tests that alter what it serves.
    pub fn storage(&self) -> std::path::PathBuf {
        self._dir.path().join("storage")
    }

    /// `IP:PORT` (IPv6 in brackets), as a registry host in an image reference.
    pub fn host(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }
}
