//! `whittle copy SRC oci:DIR:TAG` into an existing layout keeps its other tags, as skopeo does.

mod common;
use common::*;
use std::process::Command;

fn refs(index: &std::path::Path) -> Vec<(String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(index).unwrap()).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The digest `skopeo inspect` gives the image at `reference`.
fn skopeo_digest(reference: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", reference])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    info["Digest"].as_str().unwrap_or_default().to_string()
}

#[test]
fn copy_into_a_layout_keeps_its_other_tags_and_replaces_the_same_tag() {
    let Some(f) = fixtures() else { return };
    if !tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let src = |name: &str| {
        format!(
            "docker-archive:{}",
            f.join("images/docker-archive").join(name).display()
        )
    };
    let copy = |name: &str, tag: &str| {
        run(whittle().args([
            "copy",
            "-q",
            &src(name),
            &format!("oci:{}:{tag}", layout.display()),
        ]))
        .trim()
        .to_string()
    };
    let v1 = copy("ggcr-whiteout_image.tar", "v1");
    let v2 = copy("ggcr-whiteout_dir.tar", "v2");
    assert_ne!(v1, v2);
    let index = layout.join("index.json");
    assert_eq!(
        refs(&index),
        [
            ("v1".to_string(), v1.clone()),
            ("v2".to_string(), v2.clone())
        ]
    );
    // the same tag again, another image: replaced in place, v2 kept
    let v1b = copy("ggcr-overwritten_file.tar", "v1");
    assert_ne!(v1b, v1);
    assert_eq!(
        refs(&index),
        [
            ("v1".to_string(), v1b.clone()),
            ("v2".to_string(), v2.clone())
        ]
    );
    for (tag, digest) in [("v1", &v1b), ("v2", &v2)] {
        let reference = format!("oci:{}:{tag}", layout.display());
        assert_eq!(&skopeo_digest(&reference), digest, "{tag}");
    }
    // no temporary litter beside the layout
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["layout"]);
}

/// `whittle build -o oci:DIR:TAG` shares the writer: a second tag keeps the first, the same tag
/// again replaces it.
#[test]
fn build_into_a_layout_keeps_its_other_tags() {
    let repo = make_repo(&[
        TestPkg::new("app", "1.0", "Depends: lib"),
        TestPkg::new("lib", "2.0", ""),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let layout = d.join("layout");
    let cfg = |pkgs: &str| {
        format!(
            "contents:\n  repositories:\n    - {}\n  packages: [{pkgs}]\narchs: [amd64]\n",
            repo.line()
        )
    };
    let at = |tag: &str| format!("oci:{}:{tag}", layout.display());
    let extra = ["--no-sbom", "--ignore-lock"];
    let v1 = build(d, &cfg("app"), &at("v1"), &cache, &extra);
    let v2 = build(d, &cfg("lib"), &at("v2"), &cache, &extra);
    assert_ne!(v1, v2);
    let index = layout.join("index.json");
    assert_eq!(
        refs(&index),
        [
            ("v1".to_string(), v1.clone()),
            ("v2".to_string(), v2.clone())
        ]
    );
    let v1b = build(d, &cfg("lib"), &at("v1"), &cache, &extra);
    assert_eq!(v1b, v2);
    assert_eq!(
        refs(&index),
        [
            ("v1".to_string(), v2.clone()),
            ("v2".to_string(), v2.clone())
        ]
    );
    // v1's old image stays readable by digest: its blobs are kept
    assert!(layout.join("blobs/sha256").join(&v1[7..]).is_file());
    if tool("skopeo") {
        for (tag, digest) in [("v1", &v2), ("v2", &v2)] {
            assert_eq!(&skopeo_digest(&at(tag)), digest, "{tag}");
        }
    }
}
