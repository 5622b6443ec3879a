//! Hostile base images (`contents.baseimage`): layers whose declared sizes overflow, whiteouts
//! in odd places, hard links to later layers, a symlinked `/etc` the build writes through,
//! diff IDs that do not match, thousands of layers, a huge environment. Each is refused with a
//! message naming the base image, or built into an image whose paths stay inside it; none
//! crashes whittle or touches the host. The bases are written here (no fixtures needed).

mod common;
use common::*;
use std::path::Path;

/// One tar member: a regular file (`Some(content)`), a directory (`path` ends in `/`), a
/// symlink or a hard link (`link` = (type, target)), with the name written as given.
enum Member<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// An uncompressed layer tar of `members`, names written into the header as given.
fn layer(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = tar::Header::new_ustar();
        let (name, kind, data, link): (&str, tar::EntryType, &[u8], &str) = match m {
            Member::File(n, d) => (n, tar::EntryType::Regular, d, ""),
            Member::Dir(n) => (n, tar::EntryType::Directory, b"", ""),
            Member::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", t),
            Member::Hardlink(n, t) => (n, tar::EntryType::Link, b"", t),
        };
        let u = h.as_ustar_mut().unwrap();
        u.name[..name.len()].copy_from_slice(name.as_bytes());
        u.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(if matches!(m, Member::Dir(_)) {
            0o755
        } else {
            0o644
        });
        h.set_entry_type(kind);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// An OCI layout `DIR` tagged `t` of one amd64 image: `layers` as (blob, declared size, diff
/// ID; `None`s meaning the blob's own), `image`'s fields (`config`, `created`…) added to its
/// image config.
fn write_base(
    dir: &Path,
    layers: &[(Vec<u8>, Option<u64>, Option<String>)],
    image: serde_json::Value,
) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let digest = |b: &[u8]| format!("sha256:{}", sha256(b));
    let mut cfg = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter()
            .map(|(b, _, d)| d.clone().unwrap_or_else(|| digest(b))).collect::<Vec<_>>()},
        "config": {},
    });
    for (k, v) in image.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(&cfg), "size": cfg.len()},
        "layers": layers.iter().map(|(b, size, _)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest(b), "size": size.unwrap_or(b.len() as u64)})).collect::<Vec<_>>(),
    }))
    .unwrap();
    for (b, _, _) in layers {
        std::fs::write(blobs.join(sha256(b)), b).unwrap();
    }
    for b in [&cfg, &manifest] {
        std::fs::write(blobs.join(sha256(b)), b).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": digest(&manifest), "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "t"}}]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A files-only app (one file, `rest` added at the top level) on the base `oci:DIR:t`.
fn app_config(base: &Path, rest: &str) -> String {
    format!(
        "contents:\n  baseimage: {{image: \"oci:{}:t\"}}\narchs: [amd64]\npaths:\n  - {{path: /app/hello.txt, type: local, source: hello.txt}}\n{rest}",
        base.display()
    )
}

/// `whittle build` of `config` in `dir` to `oci:out:t`: (succeeded, stderr).
fn try_build(dir: &Path, config: &str) -> (bool, String) {
    try_build_env(dir, config, &[])
}

/// [`try_build`] with the variables `env` set.
fn try_build_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> (bool, String) {
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(dir.join("app.yaml"), config).unwrap();
    let out = whittle()
        .current_dir(dir)
        .envs(env.iter().copied())
        .args([
            "build",
            "app.yaml",
            "-o",
            "oci:out:t",
            "--cache-dir",
            "cache",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "whittle crashed on a hostile base:\n{stderr}"
    );
    (out.status.success(), stderr)
}

#[test]
fn declared_layer_sizes_that_overflow_their_sum_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    let l = layer(&[Member::File("a", b"a")]);
    write_base(
        &base,
        &[(l.clone(), Some(1 << 63), None), (l, Some(1 << 63), None)],
        serde_json::json!({}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(!ok && err.contains("base image oci:"), "{err}");
    assert!(err.contains("more than an image may hold"), "{err}");
}

#[test]
fn a_hard_link_to_a_file_of_a_later_layer_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    write_base(
        &base,
        &[
            (layer(&[Member::Hardlink("x", "y")]), None, None),
            (layer(&[Member::File("y", b"secret")]), None, None),
        ],
        serde_json::json!({}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(!ok && err.contains("base image oci:"), "{err}");
    assert!(
        err.contains("layer 0") && err.contains("hard link /x to /y"),
        "{err}"
    );
    // the same link with its target below it is an ordinary base
    let good = d.path().join("good");
    write_base(
        &good,
        &[
            (layer(&[Member::File("y", b"text")]), None, None),
            (layer(&[Member::Hardlink("x", "y")]), None, None),
        ],
        serde_json::json!({}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&good, ""));
    assert!(ok, "{err}");
}

#[test]
fn writes_through_a_base_symlink_to_an_absolute_path_stay_in_the_image() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    write_base(
        &base,
        &[(
            layer(&[Member::Dir("tmp/"), Member::Symlink("etc", "/tmp")]),
            None,
            None,
        )],
        serde_json::json!({}),
    );
    let accounts = "accounts:\n  groups: [{groupname: app, gid: 1000}]\n  users: [{username: app, uid: 1000, gid: 1000}]\n  run-as: app\n";
    let (ok, err) = try_build(d.path(), &app_config(&base, accounts));
    assert!(ok, "{err}");
    // /etc/passwd is written where /etc leads inside the image (its /tmp), never on the host,
    // and the base's symlink is kept
    let layers = image_layers(&d.path().join("out"), "t");
    let top: Vec<&String> = layers.last().unwrap().1.entries.keys().collect();
    assert!(
        top.contains(&&"tmp/passwd".to_string()) && top.contains(&&"tmp/group".to_string()),
        "{top:?}"
    );
    assert!(!top.iter().any(|p| p.starts_with("etc")), "{top:?}");
    let passwd = &layers.last().unwrap().1.entries["tmp/passwd"].1;
    assert!(String::from_utf8_lossy(passwd).contains("app:x:1000:1000"));
}

/// The paths under `dir`, relative, sorted.
fn paths_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `oci:LAYOUT:t` unpacked by umoci (as a runtime would) into `dest`: its paths.
fn umoci_paths(layout: &Path, dest: &Path) -> Vec<String> {
    let out = std::process::Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:t", layout.display()))
        .arg(dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    paths_under(dest)
}

#[test]
fn whiteouts_in_odd_places_mean_to_whittle_what_they_mean_to_a_runtime() {
    let d = tempfile::tempdir().unwrap();
    let lower = layer(&[
        Member::Dir("a/"),
        Member::File("a/f", b"f"),
        Member::Dir("b/"),
        Member::File("b/g", b"g"),
    ]);
    // whiteouts that would name `..` or nothing are refused
    for odd in ["a/.wh...", ".wh..", ".wh."] {
        let base = d.path().join("refused");
        let _ = std::fs::remove_dir_all(&base);
        let upper = layer(&[Member::File(odd, b"")]);
        write_base(
            &base,
            &[(lower.clone(), None, None), (upper, None, None)],
            serde_json::json!({}),
        );
        let (ok, err) = try_build(d.path(), &app_config(&base, ""));
        assert!(
            !ok && err.contains("layer 1") && err.contains(odd),
            "{odd}: {err}"
        );
    }
    // the others: what the image holds, unpacked as a runtime does, is the base's tree
    // (unpacked the same way) with the app's files, none resurrected or removed
    if !tool("umoci") {
        return;
    }
    let app = ["app", "app/hello.txt", "etc", "etc/group", "etc/passwd"];
    for (n, odd) in [
        "b/.wh..wh..opq/x",
        "c/.wh..wh..opq",
        "a/.wh.f/x",
        "a/f/.wh.g",
        "a/.wh..wh..opq",
        ".wh.a",
        ".wh..wh..opq",
    ]
    .iter()
    .enumerate()
    {
        let base = d.path().join(format!("base{n}"));
        let upper = layer(&[Member::File(odd, b"")]);
        write_base(
            &base,
            &[(lower.clone(), None, None), (upper, None, None)],
            serde_json::json!({}),
        );
        let (ok, err) = try_build(d.path(), &app_config(&base, ""));
        assert!(ok, "{odd}: {err}");
        let mut want = umoci_paths(&base, &d.path().join(format!("base{n}.rootfs")));
        want.extend(app.iter().map(|p| p.to_string()));
        want.sort();
        want.dedup();
        let got = umoci_paths(
            &d.path().join("out"),
            &d.path().join(format!("out{n}.rootfs")),
        );
        assert_eq!(got, want, "{odd}");
    }
}

#[test]
fn mismatched_diff_ids_thousands_of_layers_and_a_huge_config_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let l = layer(&[Member::File("a", b"a")]);
    let base = d.path().join("diffid");
    write_base(
        &base,
        &[(l.clone(), None, Some(format!("sha256:{}", "0".repeat(64))))],
        serde_json::json!({}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(
        !ok && err.contains("diff_ids") && err.contains("layer 0"),
        "{err}"
    );
    let base = d.path().join("many");
    let many: Vec<_> = (0..10_000).map(|_| (l.clone(), None, None)).collect();
    write_base(&base, &many, serde_json::json!({}));
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(!ok && err.contains("10000 layers"), "{err}");
    // fewer than an image may have, more than a base may: refused before any is read
    let base = d.path().join("some");
    let some: Vec<_> = (0..300).map(|_| (l.clone(), None, None)).collect();
    write_base(&base, &some, serde_json::json!({}));
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(!ok && err.contains("300 layers, more than 256"), "{err}");
    let base = d.path().join("env");
    let env: Vec<String> = (0..200_000)
        .map(|i| format!("V{i}={}", "x".repeat(40)))
        .collect();
    write_base(
        &base,
        &[(l, None, None)],
        serde_json::json!({"config": {"Env": env}}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(!ok && err.contains("over the limit"), "{err}");
}

#[test]
fn symlink_loops_and_climbs_in_the_base_end_in_a_clear_error_or_stay_inside() {
    let d = tempfile::tempdir().unwrap();
    // /etc a loop: writing /etc/passwd cannot resolve it, and says so
    let base = d.path().join("loop");
    write_base(
        &base,
        &[(
            layer(&[
                Member::Symlink("etc", "etc2"),
                Member::Symlink("etc2", "/etc"),
            ]),
            None,
            None,
        )],
        serde_json::json!({}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(
        !ok && err.contains("etc/passwd") && err.contains("loop"),
        "{err}"
    );
    // /etc climbing far above the root: it is the image's root, as for a runtime
    let base = d.path().join("climb");
    write_base(
        &base,
        &[(
            layer(&[Member::Symlink("etc", "../../../../../../../../")]),
            None,
            None,
        )],
        serde_json::json!({}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(ok, "{err}");
    let layers = image_layers(&d.path().join("out"), "t");
    let top: Vec<&String> = layers.last().unwrap().1.entries.keys().collect();
    assert!(top.contains(&&"passwd".to_string()), "{top:?}");
    assert!(!top.iter().any(|p| p.contains("..")), "{top:?}");
}

#[test]
fn a_member_declaring_a_huge_size_is_refused_before_memory_is_taken() {
    let d = tempfile::tempdir().unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_path("bomb").unwrap();
    h.set_size(1 << 45);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut blob = h.as_bytes().to_vec();
    blob.extend_from_slice(&[b'x'; 512]);
    blob.resize(blob.len() + 1024, 0);
    let base = d.path().join("base");
    write_base(&base, &[(blob, None, None)], serde_json::json!({}));
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(
        !ok && err.contains("base image oci:") && err.contains("bomb"),
        "{err}"
    );
}

#[test]
fn replacing_a_hard_linked_base_file_leaves_the_link_as_a_runtime_sees_it() {
    if !tool("umoci") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    write_base(
        &base,
        &[(
            layer(&[
                Member::Dir("app/"),
                Member::File("app/hello.txt", b"old\n"),
                Member::Hardlink("app/alias", "app/hello.txt"),
            ]),
            None,
            None,
        )],
        serde_json::json!({}),
    );
    let (ok, err) = try_build(d.path(), &app_config(&base, ""));
    assert!(ok, "{err}");
    // the app's file replaces the link's target: whittle's tree keeps the link's old content
    // (as replacing a file in place does), and so does the image unpacked as a runtime does
    let top = image_layers(&d.path().join("out"), "t").pop().unwrap().1;
    assert_eq!(top.entries["app/alias"], ("file".into(), b"old\n".to_vec()));
    let rootfs = d.path().join("rootfs");
    umoci_paths(&d.path().join("out"), &rootfs);
    assert_eq!(std::fs::read(rootfs.join("app/alias")).unwrap(), b"old\n");
    assert_eq!(
        std::fs::read(rootfs.join("app/hello.txt")).unwrap(),
        b"hello\n"
    );
}

/// A base whose config says it was created on 9999-12-31 would date every file of the app to
/// then: the build is refused naming SOURCE_DATE_EPOCH, and with SOURCE_DATE_EPOCH set, that
/// date wins and the build succeeds.
#[test]
fn a_base_created_in_the_far_future_is_refused_unless_source_date_epoch_is_set() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path().join("base");
    write_base(
        &base,
        &[(layer(&[Member::File("a", b"a")]), None, None)],
        serde_json::json!({"created": "9999-12-31T23:59:59Z"}),
    );
    let config = app_config(&base, "");
    let (ok, err) = try_build(d.path(), &config);
    assert!(
        !ok && err.contains("9999-12-31") && err.contains("SOURCE_DATE_EPOCH"),
        "{err}"
    );
    let (ok, err) = try_build_env(d.path(), &config, &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert!(ok, "{err}");
}
