//! Writes tiny images in all three formats and checks them with skopeo and umoci when installed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use whittle_fs::{LayerOptions, Meta, Node, Tree, write_layer};
use whittle_oci::{
    Error, History, Image, ImageConfig, ImageLayer, ImageRef, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST, Written, rfc3339, write,
};

const EPOCH: u64 = 1_700_000_000;
const HELLO: &[u8] = b"hello from whittle\n";

fn tiny_image(arch: &str) -> Image {
    let mut t = Tree::new();
    t.insert("etc/hello", Node::file(HELLO.to_vec()), Meta::root(0o644))
        .unwrap();
    t.insert(
        "usr/bin/app",
        Node::file(format!("#!/bin/false {arch}\n").into_bytes()),
        Meta::root(0o755),
    )
    .unwrap();
    t.insert("tmp", Node::Dir, Meta::root(0o1777)).unwrap();
    let layer = write_layer(
        &t,
        &LayerOptions {
            mtime: EPOCH,
            gzip_level: 6,
        },
    )
    .unwrap();
    let mut config = ImageConfig {
        created: Some(rfc3339(EPOCH)),
        architecture: arch.into(),
        os: "linux".into(),
        variant: (arch == "arm64").then(|| "v8".to_string()),
        ..Default::default()
    };
    config.config.user = Some("65532".into());
    config.config.env = vec!["PATH=/usr/bin".into(), "WHITTLE=1".into()];
    config.config.entrypoint = vec!["/usr/bin/app".into()];
    config.history = vec![History {
        created: Some(rfc3339(EPOCH)),
        created_by: Some("whittle test".into()),
        ..Default::default()
    }];
    let mut img = Image::new(config, vec![ImageLayer::from(layer)]);
    img.annotations = BTreeMap::from([(
        "org.opencontainers.image.created".to_string(),
        rfc3339(EPOCH),
    )]);
    img
}

/// `Some(path)` when the tool runs; otherwise prints SKIPPED (panics under CI=true).
fn tool(name: &str) -> Option<&str> {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(name);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} is required under CI=true");
    }
    println!("SKIPPED: {name} not found");
    None
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

fn r(s: String) -> ImageRef {
    ImageRef::parse(&s).unwrap()
}

/// The files of the tar archive at `path`, by name.
fn tar_files(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut ar = tar::Archive::new(&bytes[..]);
    let mut files = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = String::from_utf8(e.path_bytes().to_vec()).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        files.insert(p, data);
    }
    files
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn oci_layout_is_complete_deterministic_and_replaced_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tiny_image("amd64");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let wa = write(
        std::slice::from_ref(&img),
        &r(format!("oci:{}:v1", a.display())),
    )
    .unwrap();
    let wb = write(
        std::slice::from_ref(&img),
        &r(format!("oci:{}:v1", b.display())),
    )
    .unwrap();
    assert_eq!(wa, wb);
    assert_eq!(wa.media_type, MEDIA_TYPE_MANIFEST);
    assert_eq!(wa.manifests, std::slice::from_ref(&wa.digest));
    let snap = whittle_testutil::dir_files(&a);
    assert_eq!(snap, whittle_testutil::dir_files(&b));
    // 1 layer + config + manifest, index.json, oci-layout.
    assert_eq!(snap.len(), 5, "{:?}", snap.keys());
    let index = json(std::str::from_utf8(&snap["index.json"]).unwrap());
    let m = &index["manifests"][0];
    assert_eq!(m["digest"], wa.digest.as_str());
    assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], "v1");
    assert_eq!(m["platform"]["architecture"], "amd64");
    // Every blob's name is its digest.
    for (p, bytes) in &snap {
        if let Some(hex) = p.strip_prefix("blobs/sha256/") {
            assert_eq!(whittle_oci::sha256_digest(bytes), format!("sha256:{hex}"));
        }
    }

    // Replacing a tag of an existing layout works and leaves no temporary litter.
    let other = tiny_image("arm64");
    let w2 = write(&[other], &r(format!("oci:{}:v1", a.display()))).unwrap();
    assert_ne!(w2.digest, wa.digest);
    assert_eq!(names_in(tmp.path()), ["a", "b"]);
    let index = std::fs::read_to_string(a.join("index.json")).unwrap();
    assert!(index.contains(&w2.digest) && !index.contains(&wa.digest));
}

#[test]
fn archives_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tiny_image("amd64");
    for kind in ["oci-archive", "docker-archive"] {
        let f1 = tmp.path().join(format!("{kind}-1.tar"));
        let f2 = tmp.path().join(format!("{kind}-2.tar"));
        let suffix = if kind == "oci-archive" {
            "v1"
        } else {
            "example.com/app:v1"
        };
        let w1 = write(
            std::slice::from_ref(&img),
            &r(format!("{kind}:{}:{suffix}", f1.display())),
        )
        .unwrap();
        let w2 = write(
            std::slice::from_ref(&img),
            &r(format!("{kind}:{}:{suffix}", f2.display())),
        )
        .unwrap();
        assert_eq!(w1, w2);
        let (b1, b2) = (std::fs::read(&f1).unwrap(), std::fs::read(&f2).unwrap());
        assert_eq!(b1, b2, "{kind} differs between writes");
        // Entries sorted, owners 0:0, mtime 0.
        let mut ar = tar::Archive::new(&b1[..]);
        let mut paths = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            assert_eq!(e.header().mtime().unwrap(), 0);
            assert_eq!(e.header().uid().unwrap(), 0);
            paths.push(String::from_utf8(e.path_bytes().to_vec()).unwrap());
        }
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert_eq!(paths[0], "blobs/");
        assert_eq!(
            paths.contains(&"manifest.json".to_string()),
            kind == "docker-archive"
        );
    }
    assert_eq!(names_in(tmp.path()).len(), 4, "temporary files left behind");
}

#[test]
fn docker_archive_manifest_json_points_at_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tiny_image("amd64");
    let f = tmp.path().join("d.tar");
    write(
        std::slice::from_ref(&img),
        &r(format!("docker-archive:{}:alpine:3", f.display())),
    )
    .unwrap();
    let files = tar_files(&f);
    let m = json(std::str::from_utf8(&files["manifest.json"]).unwrap());
    assert_eq!(m[0]["RepoTags"][0], "alpine:3");
    let layer_path = m[0]["Layers"][0].as_str().unwrap();
    assert_eq!(files[layer_path], img.layers[0].blob.read_to_vec().unwrap());
    let config = json(std::str::from_utf8(&files[m[0]["Config"].as_str().unwrap()]).unwrap());
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        img.layers[0].diff_id.as_str()
    );
    let index = json(std::str::from_utf8(&files["index.json"]).unwrap());
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/alpine:3"
    );
}

/// Several platforms in a docker-archive: one `manifest.json` entry each, named `NAME:TAG-ARCH`
/// as apko's tarballs name them, and no OCI index or `oci-layout` (podman would load that
/// instead, one platform under `NAME:TAG`).
#[test]
fn docker_archive_of_several_platforms_names_each_by_arch() {
    let tmp = tempfile::tempdir().unwrap();
    let two = [tiny_image("amd64"), tiny_image("arm64")];
    let f = tmp.path().join("d.tar");
    let w = write(&two, &r(format!("docker-archive:{}:app:1.0", f.display()))).unwrap();
    assert_eq!(w.manifests.len(), 2);
    let files = tar_files(&f);
    let m = json(std::str::from_utf8(&files["manifest.json"]).unwrap());
    let tags: Vec<&str> = m
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["RepoTags"][0].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["app:1.0-amd64", "app:1.0-arm64"]);
    assert!(!files.contains_key("index.json") && !files.contains_key("oci-layout"));
}

#[test]
fn failures_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    // Same platform twice.
    let dup = [tiny_image("amd64"), tiny_image("amd64")];
    let e = write(&dup, &r(format!("oci:{}", tmp.path().join("x").display()))).unwrap_err();
    assert!(e.to_string().contains("same platform"), "{e}");
    let f = tmp.path().join("d.tar");
    let e = write(&dup, &r(format!("docker-archive:{}:a:1", f.display()))).unwrap_err();
    assert!(e.to_string().contains("same platform"), "{e}");
    assert!(!f.exists());

    // A bad layer digest is caught before anything is written.
    let mut bad = tiny_image("amd64");
    bad.layers[0].digest = "sha256:../../etc".into();
    let e = write(
        &[bad],
        &r(format!("oci:{}", tmp.path().join("y").display())),
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidImage(_)), "{e}");

    // A non-empty directory that is not a layout is never replaced.
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("precious"), b"keep").unwrap();
    let e = write(
        &[tiny_image("amd64")],
        &r(format!("oci:{}", home.display())),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not an OCI layout"), "{e}");
    assert_eq!(std::fs::read(home.join("precious")).unwrap(), b"keep");

    let e = write(
        &[tiny_image("amd64")],
        &r("docker://localhost:5000/a:b".into()),
    )
    .unwrap_err();
    assert!(matches!(e, Error::RegistryNotSupported { .. }), "{e}");
    let e = write(&[], &r(format!("oci:{}", tmp.path().join("z").display()))).unwrap_err();
    assert!(matches!(e, Error::InvalidImage(_)), "{e}");

    assert_eq!(names_in(tmp.path()), ["home"]);
}

#[test]
fn skopeo_inspects_all_formats_and_copies_without_changes() {
    let Some(skopeo) = tool("skopeo") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let img = tiny_image("amd64");
    let dir = tmp.path().join("layout");
    let oa = tmp.path().join("img.oci.tar");
    let da = tmp.path().join("img.docker.tar");
    let w: Written = write(
        std::slice::from_ref(&img),
        &r(format!("oci:{}:v1", dir.display())),
    )
    .unwrap();
    let wa = write(
        std::slice::from_ref(&img),
        &r(format!("oci-archive:{}:v1", oa.display())),
    )
    .unwrap();
    write(
        std::slice::from_ref(&img),
        &r(format!(
            "docker-archive:{}:example.com/app:v1",
            da.display()
        )),
    )
    .unwrap();
    assert_eq!(w.digest, wa.digest);

    for src in [
        format!("oci:{}:v1", dir.display()),
        format!("oci-archive:{}", oa.display()),
    ] {
        let info = json(&run(Command::new(skopeo).args(["inspect", &src])));
        assert_eq!(info["Digest"], w.digest.as_str(), "{src}");
        assert_eq!(info["Architecture"], "amd64");
        assert_eq!(info["Os"], "linux");
        assert_eq!(info["Env"][1], "WHITTLE=1");
        assert_eq!(info["Layers"][0], img.layers[0].digest.as_str());
        let config = json(&run(
            Command::new(skopeo).args(["inspect", "--config", &src])
        ));
        assert_eq!(config["config"]["User"], "65532");
        assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    }
    // docker-archive: skopeo builds its own manifest (uncompressed layer digests), so compare the
    // config and the layer's diff ID.
    let src = format!("docker-archive:{}", da.display());
    let info = json(&run(Command::new(skopeo).args(["inspect", &src])));
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Env"][0], "PATH=/usr/bin");
    let config = json(&run(
        Command::new(skopeo).args(["inspect", "--config", &src])
    ));
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        img.layers[0].diff_id.as_str()
    );

    // Copy round trip keeps the manifest digest.
    let copy = tmp.path().join("copy");
    run(Command::new(skopeo).args([
        "--insecure-policy",
        "copy",
        "--quiet",
        &format!("oci:{}:v1", dir.display()),
        &format!("oci:{}:v1", copy.display()),
    ]));
    let info = json(&run(
        Command::new(skopeo).args(["inspect", &format!("oci:{}:v1", copy.display())])
    ));
    assert_eq!(info["Digest"], w.digest.as_str());
}

#[test]
fn skopeo_reads_a_multi_platform_index() {
    let Some(skopeo) = tool("skopeo") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("multi");
    let imgs = [tiny_image("amd64"), tiny_image("arm64")];
    let w = write(&imgs, &r(format!("oci:{}:multi", dir.display()))).unwrap();
    assert_eq!(w.media_type, MEDIA_TYPE_INDEX);
    assert_eq!(w.manifests.len(), 2);
    let src = format!("oci:{}:multi", dir.display());
    let raw = json(&run(Command::new(skopeo).args(["inspect", "--raw", &src])));
    assert_eq!(raw["mediaType"], MEDIA_TYPE_INDEX);
    assert_eq!(raw["manifests"][1]["digest"], w.manifests[1].as_str());
    assert_eq!(raw["manifests"][1]["platform"]["variant"], "v8");
    // skopeo reports the index digest and the selected platform's config; copying one platform
    // out keeps that platform's manifest byte for byte.
    for (i, arch) in ["amd64", "arm64"].into_iter().enumerate() {
        let platform = ["--override-arch", arch, "--override-os", "linux"];
        let info = json(&run(Command::new(skopeo)
            .args(platform)
            .args(["inspect", &src])));
        assert_eq!(info["Digest"], w.digest.as_str());
        assert_eq!(info["Architecture"], arch);
        let one = format!("oci:{}:{arch}", tmp.path().join(arch).display());
        run(Command::new(skopeo).args(platform).args([
            "--insecure-policy",
            "copy",
            "--quiet",
            &src,
            &one,
        ]));
        let info = json(&run(Command::new(skopeo).args(["inspect", &one])));
        assert_eq!(info["Digest"], w.manifests[i].as_str());
    }
}

#[test]
fn umoci_unpacks_the_layout() {
    let Some(umoci) = tool("umoci") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    write(
        &[tiny_image("amd64")],
        &r(format!("oci:{}:v1", dir.display())),
    )
    .unwrap();
    let bundle = tmp.path().join("bundle");
    let mut cmd = Command::new(umoci);
    cmd.args(["unpack", "--image"])
        .arg(format!("{}:v1", dir.display()))
        .arg(&bundle);
    if std::env::var("USER").as_deref() != Ok("root") && !is_root() {
        cmd.arg("--rootless");
    }
    run(&mut cmd);
    let rootfs = bundle.join("rootfs");
    assert_eq!(std::fs::read(rootfs.join("etc/hello")).unwrap(), HELLO);
    let app = std::fs::metadata(rootfs.join("usr/bin/app")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(app.permissions().mode() & 0o7777, 0o755);
    let tmpd = std::fs::metadata(rootfs.join("tmp")).unwrap();
    assert_eq!(tmpd.permissions().mode() & 0o7777, 0o1777);
    let config = json(&std::fs::read_to_string(bundle.join("config.json")).unwrap());
    assert_eq!(config["process"]["args"][0], "/usr/bin/app");
    assert_eq!(config["process"]["user"]["uid"], 65532);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Writing into an existing layout keeps its other tags (and their blobs), as skopeo does:
/// only the entry with the same `org.opencontainers.image.ref.name` is replaced, in place.
#[test]
fn writing_a_tag_into_a_layout_keeps_its_other_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let at = |tag: &str| r(format!("oci:{}:{tag}", dir.display()));
    let amd = tiny_image("amd64");
    let arm = tiny_image("arm64");
    let v1 = write(std::slice::from_ref(&amd), &at("v1")).unwrap();
    let sig_tag = format!("sha256-{}.sig", &v1.digest["sha256:".len()..]);
    let sig = write(std::slice::from_ref(&arm), &at(&sig_tag)).unwrap();
    let v2 = write(std::slice::from_ref(&arm), &at("v2")).unwrap();
    // v1 again, now the arm64 image: replaces v1 only
    let v1b = write(std::slice::from_ref(&arm), &at("v1")).unwrap();
    let index = json(&std::fs::read_to_string(dir.join("index.json")).unwrap());
    let entries: Vec<(&str, &str)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap(),
                e["digest"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("v1", v1b.digest.as_str()),
            (sig_tag.as_str(), sig.digest.as_str()),
            ("v2", v2.digest.as_str()),
        ]
    );
    assert_ne!(v1.digest, v1b.digest);
    // the replaced image's blobs are kept (skopeo does not collect garbage either)
    let blobs = names_in(&dir.join("blobs/sha256"));
    assert!(blobs.contains(&v1.digest["sha256:".len()..].to_string()));
    assert!(!names_in(tmp.path()).iter().any(|n| n.starts_with('.')));

    let Some(skopeo) = tool("skopeo") else { return };
    for (tag, digest, arch) in [
        ("v1", &v1b.digest, "arm64"),
        ("v2", &v2.digest, "arm64"),
        (sig_tag.as_str(), &sig.digest, "arm64"),
    ] {
        let info = json(&run(
            Command::new(skopeo).args(["inspect", &format!("oci:{}:{tag}", dir.display())])
        ));
        assert_eq!(info["Digest"], digest.as_str(), "{tag}");
        assert_eq!(info["Architecture"], arch, "{tag}");
    }
    // skopeo copying v3 into the same layout keeps whittle's tags too: the two agree
    run(Command::new(skopeo).args([
        "--insecure-policy",
        "copy",
        "--quiet",
        &format!("oci:{}:v2", dir.display()),
        &format!("oci:{}:v3", dir.display()),
    ]));
    let index = json(&std::fs::read_to_string(dir.join("index.json")).unwrap());
    assert_eq!(index["manifests"].as_array().unwrap().len(), 4);
}
