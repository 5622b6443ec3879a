//! Layer compression (issue 18): layers are compressed on several threads in fixed-size blocks,
//! so an image's digest does not depend on the thread count (`WHITTLE_THREADS`), and
//! `layer-compression: zstd` gives `tar+zstd` layers that skopeo and whittle's own readers read
//! (and runc runs, through umoci).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds the fixture gawk image (with `extra` config lines) on `threads` threads into
/// `oci:DIR/layout:gawk` with a cache of its own (so the layer is compressed, not reused);
/// returns the image digest.
fn build_on(dir: &Path, fix: &Path, extra: &str, threads: &str) -> String {
    let cfg = dir.join("image.yaml");
    std::fs::write(&cfg, fixture_config(fix, "gawk", extra)).unwrap();
    let out = run(whittle()
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("WHITTLE_THREADS", threads)
        .arg("build")
        .arg(&cfg)
        .arg("-o")
        .arg(format!("oci:{}:gawk", dir.join("layout").display()))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--no-sbom"));
    out.trim().to_string()
}

/// `layer-compression: zstd`, as a config line.
const ZSTD: &str = "layer-compression: zstd\n";

/// The fixture gawk image built by [`build_on`] on 2 threads, with gzip or ([`ZSTD`]) zstd
/// layers, once per test binary (the tests only read it): its directory, holding `layout`, and
/// its digest.
fn gawk_image(fix: &Path, zstd: bool) -> &'static (PathBuf, String) {
    static IMAGES: [OnceLock<(PathBuf, String)>; 2] = [OnceLock::new(), OnceLock::new()];
    IMAGES[usize::from(zstd)].get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("layer_compression")
            .join(if zstd { "zstd" } else { "gzip" });
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let digest = build_on(&dir, fix, if zstd { ZSTD } else { "" }, "2");
        // it outlives the test run: keep the layout only
        std::fs::remove_dir_all(dir.join("cache")).unwrap();
        (dir, digest)
    })
}

/// The manifest of the one image in `layout`.
fn manifest(layout: &Path) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap())
        .unwrap()
}

/// The layer blobs of the image in `layout`, with their media types.
fn layers(layout: &Path) -> Vec<(String, Vec<u8>)> {
    manifest(layout)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let d = l["digest"].as_str().unwrap();
            (
                l["mediaType"].as_str().unwrap().to_string(),
                std::fs::read(layout.join("blobs/sha256").join(&d[7..])).unwrap(),
            )
        })
        .collect()
}

#[test]
fn digests_do_not_depend_on_the_thread_count() {
    let Some(fix) = fixtures() else { return };
    for extra in ["", ZSTD] {
        let one = tempfile::tempdir().unwrap();
        let d1 = build_on(one.path(), &fix, extra, "1");
        let d2 = &gawk_image(&fix, extra == ZSTD).1;
        assert!(d1.starts_with("sha256:"), "{d1}");
        assert_eq!(&d1, d2, "1 and 2 threads give other images ({extra:?})");
        // the layer spans several blocks: the threads really shared the work
        let l = layers(&one.path().join("layout"));
        let tar_size: u64 = manifest(&one.path().join("layout"))["layers"][0]["size"]
            .as_u64()
            .unwrap();
        assert!(
            tar_size > 1 << 20,
            "the gawk layer is {tar_size} bytes, one block: the test proves nothing"
        );
        let mt = &l[0].0;
        if extra.is_empty() {
            assert_eq!(mt, "application/vnd.oci.image.layer.v1.tar+gzip");
        } else {
            assert_eq!(mt, "application/vnd.oci.image.layer.v1.tar+zstd");
        }
    }
}

/// `whittle build --layer-compression` overrides the config's `layer-compression`: the image is
/// the one the config would give with that value; an unknown codec is refused naming the values.
#[test]
fn the_layer_compression_flag_overrides_the_config() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gzip = &gawk_image(&fix, false).1;
    let zstd = &gawk_image(&fix, true).1;
    assert_ne!(gzip, zstd);
    let by_flag = |extra: &str, codec: &str| {
        let cfg = d.join(format!("flag-{codec}.yaml"));
        std::fs::write(&cfg, fixture_config(&fix, "gawk", extra)).unwrap();
        let layout = d.join(format!("flag-{codec}"));
        let out = run(whittle()
            .current_dir(d)
            .env_remove("SOURCE_DATE_EPOCH")
            .arg("build")
            .arg(&cfg)
            .arg("-o")
            .arg(format!("oci:{}:gawk", layout.display()))
            .args([
                "--cache-dir",
                "cache",
                "--no-sbom",
                "--layer-compression",
                codec,
            ]));
        (out.trim().to_string(), layout)
    };
    let (flag_zstd, layout) = by_flag("", "zstd");
    assert_eq!(
        &flag_zstd, zstd,
        "--layer-compression zstd over a gzip config"
    );
    assert_eq!(
        layers(&layout)[0].0,
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let (flag_gzip, _) = by_flag(ZSTD, "gzip");
    assert_eq!(
        &flag_gzip, gzip,
        "--layer-compression gzip over a zstd config"
    );
    let err = run_fail(whittle().args(["build", "x.yaml", "--layer-compression", "xz"]));
    assert!(err.contains("gzip") && err.contains("zstd"), "{err}");
}

#[test]
fn zstd_image_is_read_by_skopeo_umoci_runc_and_whittle() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let layout = gawk_image(&fix, true).0.join("layout");
    for (mt, blob) in layers(&layout) {
        assert_eq!(mt, "application/vnd.oci.image.layer.v1.tar+zstd");
        assert_eq!(&blob[..4], &[0x28, 0xb5, 0x2f, 0xfd], "not a zstd frame");
    }
    let reference = format!("oci:{}:gawk", layout.display());

    // whittle's own readers decompress and verify zstd layers
    let out = run(whittle().args(["inspect", "--top", "1000", &reference]));
    assert!(out.contains("usr/bin/gawk"), "{out}");
    let sbom = run(whittle().args(["sbom", &reference]));
    assert!(sbom.contains("gawk"), "{sbom}");
    let copied = dir.path().join("copied");
    run(whittle().args([
        "copy",
        &reference,
        &format!("oci:{}:gawk", copied.display()),
    ]));
    assert_eq!(
        layers(&copied),
        layers(&layout),
        "copy keeps the zstd layers"
    );

    // skopeo copies it (checking every blob's digest) to a dir: transport, and decompresses
    // it to write a gzip copy, which umoci unpacks and runc runs gawk from. (umoci reads
    // tar+zstd itself from 0.5 on; Debian 12's umoci 0.4.7 refuses the media type.)
    if tool("skopeo") {
        let target = dir.path().join("skopeo-dir");
        run(Command::new("skopeo").args([
            "copy",
            &reference,
            &format!("dir:{}", target.display()),
        ]));
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(target.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(
            m["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let gz = dir.path().join("gz");
        run(Command::new("skopeo").args([
            "copy",
            "--dest-compress",
            "--dest-compress-format",
            "gzip",
            &reference,
            &format!("oci:{}:gawk", gz.display()),
        ]));
        let (mt, _) = &layers(&gz)[0];
        assert_eq!(mt, "application/vnd.oci.image.layer.v1.tar+gzip");
        if tool("umoci") && tool("runc") && is_root() {
            let bundle = dir.path().join("bundle");
            let rootfs = unpack(&gz, "gawk", &bundle);
            assert!(rootfs.join("usr/bin/gawk").is_file());
            let (code, out, err) = runc(&bundle, &["/usr/bin/gawk", "BEGIN { print 6*7 }"]);
            assert_eq!((code, out.as_str()), (0, "42\n"), "stderr: {err}");
        }
    }
}
