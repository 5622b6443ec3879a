//! Reading the real images in `shared/fixtures/images` and merging their layers.

use std::io::Read;
use std::path::{Path, PathBuf};

use whittle_fs::{HiddenBy, LayerChanges, Overlay};
use whittle_oci::{ImageRef, Platform, ReadError, ReadImage, read_image};

fn images() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|f| f.join("images"))
}

fn open(spec: &str) -> ReadImage {
    read_image(&ImageRef::parse(spec).unwrap(), None).unwrap()
}

fn merge(img: &ReadImage) -> (Overlay, Vec<LayerChanges>) {
    let mut ov = Overlay::new();
    let mut changes = Vec::new();
    for i in 0..img.layers.len() {
        changes.push(ov.apply_layer(img.open_layer(i).unwrap()).unwrap());
    }
    (ov, changes)
}

fn paths(ov: &Overlay) -> Vec<String> {
    ov.tree().walk().map(|(p, _)| p.to_string()).collect()
}

fn check_dive(ov: &Overlay) {
    let t = ov.tree();
    for present in [
        "somefile.txt",
        "root/saved.txt",
        "root/.saved.txt",
        "root/.data/saved.again2.txt",
        "tmp/saved.again1.txt",
        "bin/busybox",
    ] {
        assert!(t.get(present).is_some(), "{present} missing");
    }
    for absent in [
        "root/example",
        "root/example/somefile1.txt",
        "root/example/somefile3.txt",
        "root/example/really/nested",
    ] {
        assert!(t.get(absent).is_none(), "{absent} should be whited out");
    }
    assert!(
        paths(ov)
            .iter()
            .all(|p| !p.rsplit('/').next().unwrap().starts_with(".wh."))
    );
    let saved = t.get("root/saved.txt").unwrap();
    assert_eq!(
        saved.meta.mode & 0o111,
        0o111,
        "chmod +x of the last layer applies"
    );
}

fn fs_paths(dir: &Path, spec: &str) -> Vec<String> {
    paths(&merge(&open(&format!("{spec}{}", dir.display()))).0)
}

#[test]
fn dive_docker_archive_merges_like_its_dockerfile() {
    let Some(dir) = images() else { return };
    let img = open(&format!(
        "docker-archive:{}",
        dir.join("docker-archive/dive-test-docker-image.tar")
            .display()
    ));
    assert_eq!(img.layers.len(), 14);
    assert_eq!(img.manifest.layers.len(), 14);
    assert!(img.manifest_digest.starts_with("sha256:"));
    let (ov, changes) = merge(&img);
    check_dive(&ov);
    // `rm -rf /root/example/` hides the files copied in earlier layers; the audit needs them.
    let rm = changes
        .iter()
        .find(|c| c.removed.iter().any(|p| p == "root/example"))
        .expect("a layer removes root/example");
    let hidden = rm
        .hidden
        .iter()
        .find(|h| h.path == "root/example/somefile1.txt")
        .expect("somefile1 recorded as hidden");
    assert_eq!(hidden.by, HiddenBy::Whiteout);
    assert!(hidden.size > 0);
    assert!(hidden.layer.is_some_and(|l| l < rm.layer));
}

#[test]
fn dive_kaniko_and_oci_variants_merge_to_the_same_tree() {
    let Some(dir) = images() else { return };
    let docker = fs_paths(
        &dir.join("docker-archive/dive-test-docker-image.tar"),
        "docker-archive:",
    );
    let kaniko_img = open(&format!(
        "docker-archive:{}",
        dir.join("docker-archive/dive-test-kaniko-image.tar")
            .display()
    ));
    assert!(
        kaniko_img
            .layers
            .iter()
            .all(|l| l.media_type.ends_with("gzip"))
    );
    let (kaniko, _) = merge(&kaniko_img);
    check_dive(&kaniko);
    // kaniko used another busybox and scripts: compare what the Dockerfile made.
    let made = |ps: Vec<String>| -> Vec<String> {
        ps.into_iter()
            .filter(|p| {
                (p.starts_with("root") || p.starts_with("tmp") || p == "somefile.txt")
                    && (!p.starts_with("root/.data/") || p.ends_with("saved.again2.txt"))
            })
            .collect()
    };
    assert_eq!(made(paths(&kaniko)), made(docker.clone()));
    // dive's OCI variants are one small image, stored with three compressions.
    let mut trees = Vec::new();
    for v in ["gzip", "uncompressed", "zstd"] {
        let f = dir.join(format!("oci-archive/dive-test-oci-{v}-image.tar"));
        let img = open(&format!("oci-archive:{}", f.display()));
        let (ov, _) = merge(&img);
        assert!(!ov.tree().is_empty(), "oci {v}");
        trees.push(paths(&ov));
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);
}

#[test]
fn ggcr_whiteouts_and_overwrites() {
    let Some(dir) = images() else { return };
    let da = |n: &str| {
        open(&format!(
            "docker-archive:{}",
            dir.join("docker-archive").join(n).display()
        ))
    };
    let (ov, _) = merge(&da("ggcr-whiteout_image.tar"));
    assert!(ov.tree().get("foo.txt").is_none());
    assert!(paths(&ov).iter().all(|p| !p.contains(".wh.")));
    let (ov, changes) = merge(&da("ggcr-whiteout_dir.tar"));
    // Layer 2 whites out `a/`; layer 3 creates `a/baz` afresh: a/foo must stay gone.
    assert_eq!(paths(&ov), ["a", "a/baz", "b", "b/bar"]);
    assert!(changes.iter().any(|c| c.removed.iter().any(|p| p == "a")));
    let (ov, changes) = merge(&da("ggcr-overwritten_file.tar"));
    assert!(
        changes
            .iter()
            .flat_map(|c| &c.hidden)
            .any(|h| h.by == HiddenBy::Overwritten && ov.tree().get(&h.path).is_some())
    );
}

#[test]
fn docker25_hybrid_and_multi_image_archive() {
    let Some(dir) = images() else { return };
    let img = open(&format!(
        "docker-archive:{}",
        dir.join("docker-archive/ggcr-hello-world-docker-v25-oci-hybrid.tar")
            .display()
    ));
    assert_eq!(img.layers.len(), 1);
    assert!(
        img.layers[0]
            .digest
            .as_deref()
            .unwrap()
            .starts_with("sha256:")
    );
    let (ov, _) = merge(&img);
    assert!(ov.tree().get("hello").is_some(), "{:?}", paths(&ov));

    let link = dir.join("docker-archive/ggcr-test_link.tar");
    let err = read_image(
        &ImageRef::parse(&format!("docker-archive:{}", link.display())).unwrap(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, ReadError::Ambiguous { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("test_image_1") && msg.contains("test_image_3"),
        "{msg}"
    );
    let img = open(&format!(
        "docker-archive:{}:bazel/v1/tarball:test_image_3",
        link.display()
    ));
    assert_eq!(img.layers.len(), 2);
    for i in 0..2 {
        let mut n = 0u64;
        let mut r = img.open_layer(i).unwrap();
        n += std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert!(n > 0, "layer {i} (symlinked member) readable");
    }
    let missing = read_image(
        &ImageRef::parse(&format!(
            "docker-archive:{}:bazel/v1/tarball:nope",
            link.display()
        ))
        .unwrap(),
        None,
    )
    .unwrap_err();
    assert!(matches!(missing, ReadError::NotFound { .. }), "{missing}");
}

#[test]
fn trivy_alpine_gzipped_archive() {
    let Some(dir) = images() else { return };
    let mut gz = flate2::read::GzDecoder::new(
        std::fs::File::open(dir.join("docker-archive/trivy-alpine-3.10.tar.gz")).unwrap(),
    );
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::io::copy(&mut gz, &mut std::fs::File::create(tmp.path()).unwrap()).unwrap();
    let img = open(&format!("docker-archive:{}", tmp.path().display()));
    // `docker save | gzip` is read as it is, exactly like its decompressed tar
    let gz_path = dir.join("docker-archive/trivy-alpine-3.10.tar.gz");
    let from_gz = open(&format!("docker-archive:{}", gz_path.display()));
    assert_eq!(from_gz.source(), gz_path.as_path());
    assert_eq!(from_gz.manifest_digest, img.manifest_digest);
    assert_eq!(from_gz.layers, img.layers);
    let mut a = Vec::new();
    from_gz.open_layer(0).unwrap().read_to_end(&mut a).unwrap();
    let mut b = Vec::new();
    img.open_layer(0).unwrap().read_to_end(&mut b).unwrap();
    assert!(!a.is_empty() && a == b);
    assert_eq!(img.config.architecture, "amd64");
    let (ov, _) = merge(&img);
    let t = ov.tree();
    assert!(t.get("lib/apk/db/installed").is_some());
    let Some(whittle_fs::Node::File(os)) = t.get("etc/os-release").map(|e| e.node.clone()) else {
        panic!("etc/os-release is not a file")
    };
    assert!(String::from_utf8_lossy(&os.read_to_vec().unwrap()).contains("3.10.4"));
}

#[test]
fn regclient_layout_multi_platform() {
    let Some(dir) = images() else { return };
    let layout = dir.join("oci-layout/regclient-testrepo");
    let r = |tag: &str| ImageRef::parse(&format!("oci:{}:{tag}", layout.display())).unwrap();
    let err = read_image(&r("v1"), None).unwrap_err();
    assert!(matches!(err, ReadError::PlatformRequired { .. }), "{err}");
    assert!(err.to_string().contains("linux/amd64"), "{err}");
    assert!(err.to_string().contains("--platform"), "{err}");
    let amd64 = Platform {
        architecture: "amd64".into(),
        os: "linux".into(),
        variant: None,
    };
    let img = read_image(&r("v1"), Some(&amd64)).unwrap();
    assert_eq!(img.config.architecture, "amd64");
    let (ov, _) = merge(&img);
    assert!(!ov.tree().is_empty());
    let none = read_image(
        &ImageRef::parse(&format!("oci:{}", layout.display())).unwrap(),
        None,
    )
    .unwrap_err();
    assert!(matches!(none, ReadError::Ambiguous { what: "images", .. }));
    let missing = read_image(&r("no-such-tag"), None).unwrap_err();
    assert!(matches!(missing, ReadError::NotFound { .. }));
}

#[test]
fn layout_blob_tampering_is_detected() {
    let Some(dir) = images() else { return };
    let src = dir.join("oci-archive/dive-test-oci-uncompressed-image.tar");
    let tmp = tempfile::tempdir().unwrap();
    let mut ar = tar::Archive::new(std::fs::File::open(src).unwrap());
    ar.unpack(tmp.path()).unwrap();
    let img = open(&format!("oci:{}", tmp.path().display()));
    let layer = img.manifest.layers.last().unwrap().digest.clone();
    let blob = tmp
        .path()
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let mut data = std::fs::read(&blob).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    std::fs::write(&blob, data).unwrap();
    let mut r = img.open_layer(img.layers.len() - 1).unwrap();
    let err = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("tampered"), "{err}");
}
