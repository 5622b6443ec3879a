//! Helpers shared by the registry integration tests: the real `docker-registry` of
//! `whittle_testutil::registry`, deterministic test images, and small readers of what a test
//! produced.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use whittle_fs::{LayerOptions, Meta, Node, Tree, write_layer};
use whittle_oci::{DockerReference, Image, ImageConfig, ImageLayer, ImageRef, rfc3339};
use whittle_registry::Options;

pub use whittle_testutil::dir_files as tree;
pub use whittle_testutil::registry::{Auth, Registry};

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
        limits: whittle_fetch::Limits {
            backoff: Duration::from_millis(20),
            ..whittle_fetch::Limits::default()
        },
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
