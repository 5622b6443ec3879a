//! Test image builders: raw layer tars (whiteouts included) written with whittle's own writer.
#![allow(dead_code)]

use std::io::Write;

use sha2::{Digest, Sha256};
use whittle_oci::{ContainerConfig, History, Image, ImageConfig, ImageLayer, ImageRef};

/// One tar entry of a test layer.
pub enum E<'a> {
    /// A file with content and mode.
    File(&'a str, &'a [u8], u32),
    /// A directory.
    Dir(&'a str),
    /// A symlink.
    Link(&'a str, &'a str),
}

/// An uncompressed layer tar.
pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            E::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_mode(*mode);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::Link(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, p, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A gzip layer from a tar.
pub fn layer(tar: Vec<u8>) -> ImageLayer {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let blob = gz.finish().unwrap();
    ImageLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: digest(&blob),
        diff_id: digest(&tar),
        size: blob.len() as u64,
        blob: blob.into(),
    }
}

/// Write an image to `oci:DIR` and return its reference.
pub fn write_image(
    dir: &std::path::Path,
    config: ContainerConfig,
    history: Vec<History>,
    layers: Vec<ImageLayer>,
) -> ImageRef {
    let cfg = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        config,
        history,
        ..ImageConfig::default()
    };
    let r = ImageRef::parse(&format!("oci:{}:test", dir.display())).unwrap();
    whittle_oci::write(&[Image::new(cfg, layers)], &r).unwrap();
    r
}

/// A real-looking (generated for this test, never used anywhere) PEM private key.
pub const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK
LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo
9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvre
dZnKRfH6b6o9+a3J1cuXo5Vgg8z5DFNnE2gz8jA2fxDExXHxZ2Jit3ea2q2Qvllx
-----END RSA PRIVATE KEY-----
";

/// The talk's example: layer 0 adds /app/secret.pem and /app/.env plus the app, layer 1
/// deletes both with whiteouts, ENV holds an AWS secret, and there is no USER.
pub fn secret_image(dir: &std::path::Path) -> ImageRef {
    let l0 = tar(&[
        E::Dir("app/"),
        E::File("app/server", b"#!/bin/true\n", 0o755),
        E::File("app/secret.pem", PEM.as_bytes(), 0o600),
        E::File("app/.env", b"DB_PASSWORD=Zx9vQ2mLp8RtW4kN\n", 0o644),
    ]);
    let l1 = tar(&[
        E::Dir("app/"),
        E::File("app/.wh.secret.pem", b"", 0o644),
        E::File("app/.wh..env", b"", 0o644),
    ]);
    let config = ContainerConfig {
        env: vec![
            "PATH=/usr/bin:/bin".into(),
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8rT2vX1k".into(),
        ],
        entrypoint: vec!["/app/server".into()],
        ..ContainerConfig::default()
    };
    let history = vec![
        History { created_by: Some("COPY . /app # buildkit".into()), ..History::default() },
        History { created_by: Some("|1 GITHUB_TOKEN=ghp_R8x2mQ7vLp4tW9kN3bZ6cY1dF5gH0jK2sA7e /bin/sh -c rm /app/secret.pem /app/.env".into()), ..History::default() },
        History { created_by: Some("ENTRYPOINT [\"/app/server\"]".into()), empty_layer: true, ..History::default() },
    ];
    write_image(dir, config, history, vec![layer(l0), layer(l1)])
}
