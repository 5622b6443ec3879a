//! Hostile copies of the real images in `shared/fixtures/images`: a layer blob replaced by
//! another valid layer holding a planted package, a declared size of 1 TB, a wrong diff ID,
//! too many layers, an oversized manifest. Every one is refused, naming the image reference,
//! the blob and what was expected.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use whittle_oci::{ImageRef, ReadImage, read_image, sha256_digest};

fn images() -> Option<PathBuf> {
    whittle_testutil::fixtures().map(|f| f.join("images"))
}

fn open(spec: &str) -> Result<ReadImage, String> {
    read_image(&ImageRef::parse(spec).unwrap(), None).map_err(|e| e.to_string())
}

/// The error of opening `spec` (which must fail).
fn open_err(spec: &str) -> String {
    match open(spec) {
        Ok(_) => panic!("{spec} was read"),
        Err(e) => e,
    }
}

/// Read layer `i` to its end; the error as text.
fn read_layer(img: &ReadImage, i: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    img.open_layer(i)
        .map_err(|e| e.to_string())?
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Read every layer of the image `spec` names; the first error as text.
fn read_all(spec: &str) -> Result<(), String> {
    let img = open(spec)?;
    for i in 0..img.layers.len() {
        read_layer(&img, i)?;
    }
    Ok(())
}

/// A valid layer tar whose apk database lists a planted package, zero-padded to `size` bytes.
fn planted(size: usize) -> Vec<u8> {
    let db = b"P:planted-backdoor\nV:6.6.6-r0\nA:x86_64\n\n";
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(db.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "lib/apk/db/installed", &db[..])
        .unwrap();
    let mut t = b.into_inner().unwrap();
    assert!(t.len() <= size, "the planted layer does not fit");
    t.resize(size, 0);
    t
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// An OCI layout directory to rewrite.
struct Layout(PathBuf);

impl Layout {
    fn unpack(archive: &Path, dir: &Path) -> Layout {
        tar::Archive::new(std::fs::File::open(archive).unwrap())
            .unpack(dir)
            .unwrap();
        Layout(dir.to_path_buf())
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.0
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    fn json(&self, rel: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(rel).unwrap()).unwrap()
    }

    fn index(&self) -> Value {
        self.json(&self.0.join("index.json"))
    }

    fn manifest(&self) -> Value {
        let d = self.index()["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        self.json(&self.path(&d))
    }

    fn config(&self) -> Value {
        let d = self.manifest()["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        self.json(&self.path(&d))
    }

    /// Store `bytes` as a blob; its descriptor's digest and size.
    fn put(&self, bytes: &[u8]) -> (String, u64) {
        let d = sha256_digest(bytes);
        let p = self.path(&d);
        let _ = std::fs::remove_file(&p);
        std::fs::write(p, bytes).unwrap();
        (d, bytes.len() as u64)
    }

    /// A consistent image whose manifest is `m` (index.json points at it).
    fn set_manifest(&self, m: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(m).unwrap());
        let mut idx = self.index();
        idx["manifests"][0]["digest"] = json!(d);
        idx["manifests"][0]["size"] = json!(n);
        std::fs::write(self.0.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
    }

    /// A consistent image whose config is `c`.
    fn set_config(&self, c: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(c).unwrap());
        let mut m = self.manifest();
        m["config"]["digest"] = json!(d);
        m["config"]["size"] = json!(n);
        self.set_manifest(&m);
    }

    /// Overwrite the stored blob of layer `i` (manifest, config and index untouched).
    fn replace_layer(&self, i: usize, bytes: &[u8]) -> String {
        let d = self.manifest()["layers"][i]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let p = self.path(&d);
        let _ = std::fs::remove_file(&p);
        std::fs::write(p, bytes).unwrap();
        d
    }

    /// Pack as an `oci-archive` tar.
    fn pack(&self, dest: &Path) {
        let mut b = tar::Builder::new(std::fs::File::create(dest).unwrap());
        b.append_dir_all(".", &self.0).unwrap();
        b.finish().unwrap();
    }
}

/// Copy the tar `src` to `dest`, passing each member's bytes through `f`.
fn rewrite_tar(src: &Path, dest: &Path, mut f: impl FnMut(&str, Vec<u8>) -> Vec<u8>) {
    let mut ar = tar::Archive::new(std::fs::File::open(src).unwrap());
    let mut out = tar::Builder::new(std::fs::File::create(dest).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let data = f(&name, data);
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.append_data(&mut h, &name, &data[..]).unwrap();
    }
    out.finish().unwrap();
}

fn assert_refused(res: Result<(), String>, needles: &[&str]) {
    let err = res.expect_err("the hostile image was accepted");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    assert!(err.contains("tampered"), "{err}");
    assert!(err.len() < 1000, "unbounded error: {err}");
}

#[test]
fn a_declared_size_of_one_terabyte_is_refused() {
    let Some(dir) = images() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let l = Layout::unpack(
        &dir.join("oci-archive/dive-test-oci-uncompressed-image.tar"),
        &tmp.path().join("img"),
    );
    let mut m = l.manifest();
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_string();
    m["layers"][0]["size"] = json!(1u64 << 40);
    l.set_manifest(&m);
    let spec = format!("oci:{}", l.0.display());
    assert_refused(
        read_all(&spec),
        &[
            &spec,
            &layer,
            "12800 bytes",
            "the manifest declares 1099511627776",
        ],
    );
    // the same from an oci-archive
    let archive = tmp.path().join("img.tar");
    l.pack(&archive);
    let spec = format!("oci-archive:{}", archive.display());
    assert_refused(read_all(&spec), &[&spec, &layer, "1099511627776"]);
    // and a blob longer than its declared size
    m["layers"][0]["size"] = json!(100);
    l.set_manifest(&m);
    let spec = format!("oci:{}", l.0.display());
    assert_refused(read_all(&spec), &[&layer, "declares 100"]);
}

#[test]
fn a_wrong_diff_id_is_refused() {
    let Some(dir) = images() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let l = Layout::unpack(
        &dir.join("oci-archive/dive-test-oci-gzip-image.tar"),
        &tmp.path().join("img"),
    );
    let mut c = l.config();
    let n = c["rootfs"]["diff_ids"].as_array().unwrap().len();
    let wrong = sha256_digest(b"not this layer");
    c["rootfs"]["diff_ids"][n - 1] = json!(wrong);
    l.set_config(&c);
    let spec = format!("oci:{}", l.0.display());
    assert_refused(read_all(&spec), &[&spec, "rootfs.diff_ids", &wrong]);
    // a config listing fewer diff IDs than there are layers
    c["rootfs"]["diff_ids"] = json!([]);
    l.set_config(&c);
    assert_refused(read_all(&spec), &["rootfs.diff_ids lists 0 layers"]);
}

#[test]
fn a_replaced_layer_is_refused_in_every_transport() {
    let Some(dir) = images() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // oci: and oci-archive: a same-size valid layer: only the digest tells
    let l = Layout::unpack(
        &dir.join("oci-archive/dive-test-oci-uncompressed-image.tar"),
        &tmp.path().join("img"),
    );
    let layer = l.replace_layer(0, &planted(12800));
    let spec = format!("oci:{}", l.0.display());
    assert_refused(read_all(&spec), &[&spec, &layer, "the manifest names"]);
    let archive = tmp.path().join("img.tar");
    l.pack(&archive);
    let spec = format!("oci-archive:{}", archive.display());
    assert_refused(read_all(&spec), &[&spec, &layer]);

    // docker-archive (`docker save`): an uncompressed layer.tar, bound by the config's diff ID
    let src = dir.join("docker-archive/dive-test-docker-image.tar");
    let dest = tmp.path().join("docker.tar");
    rewrite_tar(&src, &dest, |name, data| {
        if name.starts_with("28cfe036") && name.ends_with("/layer.tar") {
            planted(data.len())
        } else {
            data
        }
    });
    let spec = format!("docker-archive:{}", dest.display());
    assert_refused(read_all(&spec), &[&spec, "rootfs.diff_ids"]);

    // docker-archive with gzip layers (kaniko): no digest anywhere but the config's diff IDs
    let src = dir.join("docker-archive/dive-test-kaniko-image.tar");
    let dest = tmp.path().join("kaniko.tar");
    rewrite_tar(&src, &dest, |name, data| {
        if name.starts_with("5a99c1aa") {
            gzip(&planted(2048))
        } else {
            data
        }
    });
    let spec = format!("docker-archive:{}", dest.display());
    assert_refused(
        read_all(&spec),
        &[&spec, "5a99c1aa", "uncompressed, but", "rootfs.diff_ids"],
    );
    // copying it (the stored bytes) is refused too
    let img = open(&spec).unwrap();
    let i = (0..img.layers.len())
        .find(|&i| read_layer(&img, i).is_err())
        .unwrap();
    let copied = img
        .open_raw_layer(i)
        .map_err(|e| e.to_string())
        .and_then(|mut r| {
            r.read_to_end(&mut Vec::new())
                .map(drop)
                .map_err(|e| e.to_string())
        });
    assert_refused(copied, &["rootfs.diff_ids"]);
}

#[test]
fn untouched_fixtures_still_verify() {
    let Some(dir) = images() else { return };
    for spec in [
        format!(
            "docker-archive:{}",
            dir.join("docker-archive/dive-test-kaniko-image.tar")
                .display()
        ),
        format!(
            "docker-archive:{}",
            dir.join("docker-archive/trivy-alpine-3.10.tar.gz")
                .display()
        ),
        format!(
            "oci-archive:{}",
            dir.join("oci-archive/dive-test-oci-zstd-image.tar")
                .display()
        ),
    ] {
        read_all(&spec).unwrap();
        let img = open(&spec).unwrap();
        for i in 0..img.layers.len() {
            let mut raw = Vec::new();
            img.open_raw_layer(i)
                .unwrap()
                .read_to_end(&mut raw)
                .unwrap();
            assert_eq!(raw.len() as u64, img.layers[i].size, "{spec} layer {i}");
        }
    }
}

#[test]
fn manifest_size_and_layer_count_are_bounded() {
    let Some(dir) = images() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let l = Layout::unpack(
        &dir.join("oci-archive/dive-test-oci-uncompressed-image.tar"),
        &tmp.path().join("img"),
    );
    let spec = format!("oci:{}", l.0.display());
    let good = l.manifest();
    // more layers than an image may have
    let mut m = good.clone();
    let one = m["layers"][0].clone();
    m["layers"] = Value::Array(vec![one; 1001]);
    l.set_manifest(&m);
    let err = open_err(&spec);
    assert!(err.contains("1001 layers"), "{err}");
    // a 5 MiB manifest (its digest and size are right)
    let mut m = good.clone();
    m["annotations"] = json!({ "pad": "x".repeat(5 << 20) });
    l.set_manifest(&m);
    let err = open_err(&spec);
    assert!(err.contains("over the limit"), "{err}");
    assert!(err.len() < 1000, "{err}");
    // a config whose declared size is wrong
    let mut m = good.clone();
    m["config"]["size"] = json!(m["config"]["size"].as_u64().unwrap() + 1);
    l.set_manifest(&m);
    let err = open_err(&spec);
    assert!(
        err.contains("the config") && err.contains("declares"),
        "{err}"
    );
}
