//! apko's and melange's commands, flags and configs as their users type them (issue 19):
//! `whittle build CONFIG NAME:TAG OUT.tar` with `./packages` and `./KEY.rsa.pub` relative to the
//! config, apko's `-k/-r/-p/--annotations/--build-date/--sbom-path`, and the talk's three
//! commands (`pkg keygen`, `pkg build --signing-key`, `build CONFIG TAG OUT.tar`) end to end.

mod common;
use common::apk::{KEY_NAME, Pkg, test_key, write_arch, write_public_key};
use common::*;
use std::path::Path;
use std::process::Command;

/// The files of an archive, by name.
fn tar_files(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut out = std::collections::BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).unwrap();
        out.insert(name, b);
    }
    out
}

/// `manifest.json` of a docker-archive: each entry's `RepoTags`.
fn repo_tags(path: &Path) -> Vec<Vec<String>> {
    let files = tar_files(path);
    let m: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    m.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["RepoTags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// A project directory as apko's users lay it out: `packages/<arch>/` (signed) and the public
/// key beside `apko.yaml`, which names both relative to itself.
fn project(dir: &Path, config_extra: &str) -> std::path::PathBuf {
    let proj = dir.join("proj");
    let key = test_key();
    let hello: &[u8] = b"#!/bin/false\n";
    for arch in ["x86_64", "aarch64"] {
        write_arch(
            &proj.join("packages"),
            arch,
            &key,
            &[Pkg::stand_in(
                "hello",
                vec![
                    ("usr/", b"", 0o755, None),
                    ("usr/bin/", b"", 0o755, None),
                    ("usr/bin/hello", hello, 0o755, None),
                ],
            )],
        );
    }
    write_public_key(&proj, &key);
    std::fs::write(
        proj.join("apko.yaml"),
        format!(
            "contents:\n  repositories: [./packages]\n  keyring: [./{KEY_NAME}]\n  packages: [hello]\n\
             entrypoint:\n  command: /usr/bin/hello\narchs: [x86_64]\n{config_extra}"
        ),
    )
    .unwrap();
    proj
}

#[test]
fn apkos_command_form_writes_a_docker_loadable_tarball() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "");
    let cache = dir.path().join("cache");
    run(whittle()
        .current_dir(&proj)
        .args([
            "build",
            "./apko.yaml",
            "vulnerable-awk-playground:apko",
            "vulnerable-awk-playground.tar",
            "--cache-dir",
        ])
        .arg(&cache));
    let tar = proj.join("vulnerable-awk-playground.tar");
    assert_eq!(repo_tags(&tar), [["vulnerable-awk-playground:apko"]]);
    // the SBOM beside it, as with -o
    assert!(proj.join("vulnerable-awk-playground.spdx.json").is_file());
    let inspect = run(whittle()
        .args(["inspect", "--format", "json"])
        .arg(format!("docker-archive:{}", tar.display())));
    assert!(inspect.contains("usr/bin/hello"), "{inspect}");
    if tool("skopeo") {
        let out = run(Command::new("skopeo")
            .arg("inspect")
            .arg(format!("docker-archive:{}", tar.display())));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Architecture"], "amd64", "{out}");
        assert_eq!(v["Layers"].as_array().unwrap().len(), 1, "{out}");
    }

    // several architectures: one image each, named TAG-ARCH as apko names them
    run(whittle()
        .current_dir(&proj)
        .args([
            "build",
            "apko.yaml",
            "app:1.0",
            "multi.tar",
            "--arch",
            "x86_64,aarch64",
        ])
        .arg("--cache-dir")
        .arg(&cache));
    let tags = repo_tags(&proj.join("multi.tar"));
    assert_eq!(tags, [["app:1.0-amd64"], ["app:1.0-arm64"]]);
    if tool("skopeo") {
        for (tag, arch) in [("app:1.0-amd64", "amd64"), ("app:1.0-arm64", "arm64")] {
            let out = run(Command::new("skopeo").arg("inspect").arg(format!(
                "docker-archive:{}:{tag}",
                proj.join("multi.tar").display()
            )));
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["Architecture"], arch, "{out}");
        }
    }

    // an existing directory gets an OCI layout, as apko writes one
    std::fs::create_dir(proj.join("layout")).unwrap();
    run(whittle()
        .current_dir(&proj)
        .args(["build", "apko.yaml", "app:1.0", "layout", "--cache-dir"])
        .arg(&cache));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(proj.join("layout/index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1.0"
    );

    // a registry name with a port, a file name with a colon: taken as they are
    run(whittle()
        .current_dir(&proj)
        .args([
            "build",
            "apko.yaml",
            "localhost:5000/team/app:1.0",
            "out:1.tar",
        ])
        .arg("--cache-dir")
        .arg(&cache));
    assert_eq!(
        repo_tags(&proj.join("out:1.tar")),
        [["localhost:5000/team/app:1.0"]]
    );
    let err = run_fail(
        whittle()
            .current_dir(&proj)
            .args(["build", "apko.yaml", "App:1", "x.tar"]),
    );
    assert!(
        err.contains("image name `App:1`") && err.contains("NAME:TAG OUT.tar"),
        "{err}"
    );

    // a half-given form says what to write
    let err = run_fail(
        whittle()
            .current_dir(&proj)
            .args(["build", "apko.yaml", "--cache-dir"])
            .arg(&cache),
    );
    assert!(
        err.contains("NAME:TAG OUT.tar") && err.contains("-o"),
        "{err}"
    );
    let err = run_fail(whittle().current_dir(&proj).args([
        "build",
        "apko.yaml",
        "app:1",
        "x.tar",
        "-o",
        "oci:x",
    ]));
    assert!(err.contains("cannot be used with"), "{err}");
}

/// apko's flags add to the config: everything but the entrypoint comes from the command line.
#[test]
fn apkos_append_flags_build_date_sbom_path_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "");
    std::fs::write(
        proj.join("bare.yaml"),
        "entrypoint:\n  command: /usr/bin/hello\narchs: [x86_64]\n",
    )
    .unwrap();
    std::fs::create_dir(proj.join("sboms")).unwrap();
    run(whittle()
        .current_dir(&proj)
        .args(["build", "bare.yaml", "app:2", "app.tar"])
        .args(["-r", "./packages", "-k", KEY_NAME, "-p", "hello"])
        .args(["--annotations", "org.example.team:build,org.example.x:y"])
        .args([
            "--build-date",
            "2024-01-01T00:00:00Z",
            "--sbom-path",
            "sboms",
        ])
        .arg("--cache-dir")
        .arg(dir.path().join("cache")));
    let files = tar_files(&proj.join("app.tar"));
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &files[&format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))],
    )
    .unwrap();
    assert_eq!(
        manifest["annotations"]["org.example.team"], "build",
        "{manifest}"
    );
    assert_eq!(manifest["annotations"]["org.example.x"], "y", "{manifest}");
    let cfg_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: serde_json::Value = serde_json::from_slice(
        &files[&format!("blobs/sha256/{}", cfg_digest.trim_start_matches("sha256:"))],
    )
    .unwrap();
    assert_eq!(config["created"], "2024-01-01T00:00:00Z", "{config}");
    assert!(proj.join("sboms/app.spdx.json").is_file());

    let err = run_fail(whittle().current_dir(&proj).args([
        "build",
        "bare.yaml",
        "app:2",
        "app.tar",
        "--build-date",
        "yesterday",
    ]));
    assert!(err.contains("RFC 3339"), "{err}");
    let err = run_fail(whittle().current_dir(&proj).args([
        "build",
        "bare.yaml",
        "app:2",
        "app.tar",
        "--annotations",
        "novalue",
    ]));
    assert!(
        err.contains("--annotations:1:1: `novalue` is not KEY:VALUE"),
        "{err}"
    );
}

/// A relative repository that leaves the config's directory is refused like a `local` source.
#[test]
fn relative_repositories_stay_inside_the_configs_directory() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "");
    let sub = proj.join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(
        sub.join("apko.yaml"),
        format!(
            "contents:\n  repositories: [../packages]\n  keyring: [../{KEY_NAME}]\n  packages: [hello]\narchs: [x86_64]\n"
        ),
    )
    .unwrap();
    let err =
        run_fail(
            whittle()
                .current_dir(&sub)
                .args(["build", "apko.yaml", "app:1", "app.tar"]),
        );
    assert!(
        err.contains("repository directory `../packages` resolves to")
            && err.contains("outside the config's directory")
            && err.contains("--allow-path"),
        "{err}"
    );
    run(whittle()
        .current_dir(&sub)
        .args(["build", "apko.yaml", "app:1", "app.tar", "--allow-path"])
        .arg(&proj)
        .arg("--cache-dir")
        .arg(dir.path().join("cache")));
}

/// melange's spellings on `whittle pkg`: the ones whittle has under its own names are aliases,
/// the runners it does not have are refused with what to do.
#[test]
fn melanges_flags_are_accepted_or_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(whittle().current_dir(dir.path()).args([
        "pkg",
        "keygen",
        "melange.rsa",
        "--key-size",
        "2048",
    ]));
    assert!(out.contains("melange.rsa.pub"), "{out}");
    assert!(dir.path().join("melange.rsa").is_file());
    // a recipe with no `runs:` step needs no environment: it builds anywhere
    std::fs::write(
        dir.path().join("melange.yaml"),
        "package:\n  name: empty\n  version: 1.0.0\n  epoch: 0\n  description: nothing\n  copyright:\n    - license: MIT\npipeline: []\n",
    )
    .unwrap();
    let out = run(whittle().current_dir(dir.path()).args([
        "pkg",
        "build",
        "melange.yaml",
        "--signing-key",
        "melange.rsa",
        "--out-dir",
        "out1",
        "--runner",
        "bubblewrap",
        "--empty-workspace",
        "--arch",
        std::env::consts::ARCH,
    ]));
    assert!(out.contains("empty-1.0.0-r0.apk"), "{out}");
    let arch_dir = dir.path().join("out1").join(std::env::consts::ARCH);
    assert!(arch_dir.join("APKINDEX.tar.gz").is_file());
    for (args, want) in [
        (&["--runner", "docker"][..], "bubblewrap"),
        (
            &["--arch", "x86_64,aarch64"][..],
            "one architecture per run",
        ),
    ] {
        let err = run_fail(
            whittle()
                .current_dir(dir.path())
                .args(["pkg", "build", "melange.yaml"])
                .args(args),
        );
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // the key melange's keygen would have written, when whittle's wrote another name
    let err = run_fail(whittle().current_dir(dir.path()).args([
        "pkg",
        "build",
        "melange.yaml",
        "--signing-key",
        "whittle.rsa",
    ]));
    assert!(
        err.contains("signing key whittle.rsa not found (keys there: melange.rsa)")
            && err.contains("whittle pkg keygen NAME.rsa"),
        "{err}"
    );
    // --pipeline-dir: `uses:` finds the user's pipelines there (run with the mirror in
    // whittle-pkg's own tests of them); one that is not there is named with the flag
    std::fs::create_dir(dir.path().join("pipelines")).unwrap();
    std::fs::write(
        dir.path().join("uses.yaml"),
        "package:\n  name: u\n  version: 1\n  epoch: 0\n  description: d\npipeline:\n  - uses: my/step\n",
    )
    .unwrap();
    let err = run_fail(whittle().current_dir(dir.path()).args([
        "pkg",
        "build",
        "uses.yaml",
        "--pipeline-dir",
        "pipelines",
    ]));
    assert!(
        err.contains("unknown pipeline `my/step`") && err.contains("--pipeline-dir"),
        "{err}"
    );
}

/// The talk's recipe: a small C program, its environment from the host's Debian mirror (the
/// talk's came from Wolfi).
const TALK_RECIPE: &str = r#"package:
  name: hello-c
  version: 1.0.0
  epoch: 0
  description: a static C hello
  copyright:
    - license: MIT
environment:
  contents:
    repositories:
      - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main
    packages: [dash, coreutils, gcc, libc6-dev, binutils]
pipeline:
  - runs: |
      gcc -static -O2 -o hello hello.c
      mkdir -p ${{targets.destdir}}/usr/bin
      cp hello ${{targets.destdir}}/usr/bin/hello
"#;

/// The talk's apko.yaml: the packages and the key relative to it.
const TALK_APKO: &str = "contents:\n  repositories: [./packages]\n  keyring: [./melange.rsa.pub]\n  packages: [hello-c]\n\
    entrypoint:\n  command: /usr/bin/hello\n\
    accounts:\n  groups: [{groupname: nonroot, gid: 65532}]\n  users: [{username: nonroot, uid: 65532, gid: 65532}]\n  run-as: nonroot\n";

/// Acceptance of issue 19: the talk's three commands, typed as in the talk with `whittle pkg`
/// for `melange` and `whittle` for `apko` (the key named as melange names it), give a tarball
/// skopeo reads as a docker-archive with the tag in its manifest.json, and it runs under runc.
/// Needs the host's Debian mirror (CI=true or WHITTLE_TEST_MIRROR=1), bwrap, skopeo, umoci,
/// runc and root.
#[test]
fn the_talks_three_commands_as_typed() {
    if !whittle_testutil::mirror() {
        return;
    }
    if !(tool("bwrap") && tool("skopeo") && tool("umoci") && tool("runc") && is_root()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_hello_c(d);
    std::fs::write(d.join("melange.yaml"), TALK_RECIPE).unwrap();
    std::fs::write(d.join("apko.yaml"), TALK_APKO).unwrap();
    let typed = |args: &[&str]| {
        run(whittle()
            .current_dir(d)
            .env("WHITTLE_CACHE_DIR", mirror_cache())
            .args(args))
    };
    typed(&["pkg", "keygen", "melange.rsa"]);
    let (_, log) = run_both(
        whittle()
            .current_dir(d)
            .env("WHITTLE_CACHE_DIR", mirror_cache())
            .args(["pkg", "build", "--signing-key", "melange.rsa"]),
    );
    // only what concerns the recipe: nothing about the environment as an image (issue 19, 6)
    for internal in [
        "warning",
        "whittle-environment",
        "entrypoint",
        "root",
        "oci:",
    ] {
        assert!(!log.contains(internal), "{internal}: {log}");
    }
    assert!(log.contains("hello-c-1.0.0-r0.apk"), "{log}");
    typed(&[
        "build",
        "./apko.yaml",
        "vulnerable-awk-playground:apko",
        "vulnerable-awk-playground.tar",
    ]);
    let tar = d.join("vulnerable-awk-playground.tar");
    assert_eq!(repo_tags(&tar), [["vulnerable-awk-playground:apko"]]);
    let archive = format!("docker-archive:{}", tar.display());
    let out = run(Command::new("skopeo").args(["inspect", &archive]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Os"], "linux", "{out}");
    // runc runs an unpacked OCI layout: the tarball copied into one, byte for byte
    let layout = d.join("layout");
    run(whittle().args([
        "copy",
        "-q",
        &archive,
        &format!("oci:{}:t", layout.display()),
    ]));
    let bundle = d.join("bundle");
    unpack(&layout, "t", &bundle);
    let (code, out, err) = runc(&bundle, &[]);
    assert_eq!((code, out.as_str()), (0, "hello from hello-c\n"), "{err}");
}

/// Several tags on push: `-t` names the pushed image again, each tag serving the same bytes.
#[test]
fn push_with_several_tags() {
    let Some(reg) = whittle_testutil::registry::Registry::start(None) else {
        return;
    };
    if !tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "");
    let host = format!("127.0.0.1:{}", reg.port);
    let digest = run(whittle()
        .current_dir(&proj)
        .args([
            "build",
            "apko.yaml",
            "-o",
            &format!("docker://{host}/app:1.0"),
        ])
        .args(["-t", "latest", "--tag", "1", "--no-sbom", "--cache-dir"])
        .arg(dir.path().join("cache")));
    for tag in ["1.0", "latest", "1"] {
        let raw = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{host}/app:{tag}"))
            .output()
            .unwrap();
        assert!(raw.status.success(), "{tag}");
        assert_eq!(
            format!("sha256:{}", sha256(&raw.stdout)),
            digest.trim(),
            "{tag}"
        );
    }
    let err = run_fail(whittle().current_dir(&proj).args([
        "build",
        "apko.yaml",
        "app:1",
        "app.tar",
        "-t",
        "latest",
    ]));
    assert!(err.contains("docker://"), "{err}");
    assert!(!proj.join("app.tar").exists(), "refused before building");
}

/// melange's `--pipeline-dir`: the user's own pipeline runs in the sandbox with its inputs.
/// Needs the host's Debian mirror (CI=true or WHITTLE_TEST_MIRROR=1) and bwrap.
#[test]
fn own_pipelines_run_from_the_pipeline_dir() {
    if !mirror_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("pipelines/text")).unwrap();
    std::fs::write(
        d.join("pipelines/text/write.yaml"),
        "name: write a text file\ninputs:\n  text:\n    required: true\n  path:\n    default: usr/share/doc/note\npipeline:\n  - runs: mkdir -p \"$(dirname ${{targets.destdir}}/${{inputs.path}})\"\n  - runs: printf '%s\\n' '${{inputs.text}}' > ${{targets.destdir}}/${{inputs.path}}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("melange.yaml"),
        "package:\n  name: note\n  version: 1.0.0\n  epoch: 0\n  description: a note\n  copyright:\n    - license: MIT\n\
         environment:\n  contents:\n    repositories:\n      - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main\n    packages: [dash, coreutils]\n\
         pipeline:\n  - uses: text/write\n    with:\n      text: written by ${{package.name}}\n",
    )
    .unwrap();
    run(whittle()
        .current_dir(d)
        .env("WHITTLE_CACHE_DIR", mirror_cache())
        .args([
            "pkg",
            "build",
            "--pipeline-dir",
            "pipelines",
            "--out-dir",
            "out",
        ]));
    let note = common::apk::member_text(
        &d.join("out")
            .join(std::env::consts::ARCH)
            .join("note-1.0.0-r0.apk"),
        "usr/share/doc/note",
    );
    assert_eq!(note.as_deref(), Some("written by note\n"));
}

/// A relative repository is written into the image's /etc/apk/repositories as the config
/// writes it: the same config checked out elsewhere gives the same image.
#[test]
fn relative_repositories_keep_the_image_independent_of_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "");
    let moved = dir.path().join("elsewhere/checkout");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    run(Command::new("cp").arg("-a").arg(&proj).arg(&moved));
    let build = |at: &Path| {
        run(whittle()
            .current_dir(at)
            .args([
                "build",
                "apko.yaml",
                "app:1",
                "app.tar",
                "-q",
                "--cache-dir",
            ])
            .arg(dir.path().join("cache")))
    };
    assert_eq!(build(&proj), build(&moved));
    let files = tar_files(&moved.join("app.tar"));
    let m: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let layer = &files[m[0]["Layers"][0].as_str().unwrap()];
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]));
    let repos = a
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap() == Path::new("etc/apk/repositories"))
        .map(|mut e| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            s
        });
    assert_eq!(repos.as_deref(), Some("./packages\n"));
}

/// The manifest annotations of the one image in an apko-form tarball.
fn manifest_annotations(tar: &Path) -> serde_json::Value {
    let files = tar_files(tar);
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &files[&format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))],
    )
    .unwrap();
    manifest["annotations"].clone()
}

/// apko's `--vcs` (on by default): the git repository the config lies in, read from `.git`
/// (written here as git writes it: a branch in packed-refs, an origin with credentials),
/// becomes the source/revision annotations; `--vcs=false` and a config outside the current
/// directory record none; `--annotations` win.
#[test]
fn apkos_vcs_annotations_come_from_the_configs_git_repository() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "");
    let git = proj.join(".git");
    std::fs::create_dir_all(git.join("refs/heads")).unwrap();
    std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(
        git.join("config"),
        "[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\turl = https://me:secret@example.com/org/app.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\tremote = origin\n",
    )
    .unwrap();
    let rev = "0123456789abcdef0123456789abcdef01234567";
    std::fs::write(
        git.join("packed-refs"),
        format!("# pack-refs with: peeled fully-peeled sorted\n{rev} refs/heads/main\n"),
    )
    .unwrap();
    let cache = dir.path().join("cache");
    let build = |cwd: &Path, config: &Path, out: &str, extra: &[&str]| {
        run(whittle()
            .current_dir(cwd)
            .arg("build")
            .arg(config)
            .args(["app:1", out, "--cache-dir"])
            .arg(&cache)
            .args(extra));
        manifest_annotations(&cwd.join(out))
    };
    let a = build(&proj, Path::new("apko.yaml"), "vcs.tar", &[]);
    assert_eq!(
        a["org.opencontainers.image.source"], "https://example.com/org/app.git",
        "{a}"
    );
    assert_eq!(a["org.opencontainers.image.revision"], rev, "{a}");
    // a loose ref is read before packed-refs
    let newer = "89abcdef0123456789abcdef0123456789abcdef";
    std::fs::write(git.join("refs/heads/main"), format!("{newer}\n")).unwrap();
    let a = build(&proj, Path::new("apko.yaml"), "vcs2.tar", &[]);
    assert_eq!(a["org.opencontainers.image.revision"], newer, "{a}");
    let a = build(&proj, Path::new("apko.yaml"), "novcs.tar", &["--vcs=false"]);
    assert!(a.get("org.opencontainers.image.revision").is_none(), "{a}");
    let a = build(
        &proj,
        Path::new("apko.yaml"),
        "mine.tar",
        &[
            "--annotations",
            "org.opencontainers.image.source:https://mine.example/x",
        ],
    );
    assert_eq!(
        a["org.opencontainers.image.source"], "https://mine.example/x",
        "{a}"
    );
    // as apko: only from the config's directory up to the current directory
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let a = build(&elsewhere, &proj.join("apko.yaml"), "out.tar", &[]);
    assert!(a.get("org.opencontainers.image.source").is_none(), "{a}");
    // an scp-like remote is written as apko writes it; a local path is not recorded
    let cfg = |url: &str| {
        std::fs::write(
            git.join("config"),
            format!("[remote \"origin\"]\n\turl = {url}\n"),
        )
        .unwrap()
    };
    cfg("git@github.com:org/app.git");
    let a = build(&proj, Path::new("apko.yaml"), "ssh.tar", &[]);
    assert_eq!(
        a["org.opencontainers.image.source"], "git+ssh://github.com/org/app.git",
        "{a}"
    );
    cfg("/srv/git/app");
    let a = build(&proj, Path::new("apko.yaml"), "local.tar", &[]);
    assert!(a.get("org.opencontainers.image.source").is_none(), "{a}");
}

/// apko's `--sbom=false`, `--sbom-formats`, `--include-paths` and `--ignore-signatures`.
#[test]
fn apkos_sbom_switches_include_paths_and_ignore_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "");
    let cache = dir.path().join("cache");
    let build = |args: &[&str]| {
        let mut c = whittle();
        c.current_dir(&proj)
            .args(["build", "apko.yaml", "app:1"])
            .args(args)
            .arg("--cache-dir")
            .arg(&cache);
        c
    };
    run(&mut build(&["off.tar", "--sbom=false"]));
    assert!(proj.join("off.tar").is_file() && !proj.join("off.spdx.json").exists());
    run(&mut build(&["empty.tar", "--sbom-formats="]));
    assert!(proj.join("empty.tar").is_file() && !proj.join("empty.spdx.json").exists());
    run(&mut build(&[
        "on.tar",
        "--sbom=true",
        "--sbom-formats",
        "spdx",
    ]));
    assert!(proj.join("on.spdx.json").is_file());
    let err = run_fail(&mut build(&["cdx.tar", "--sbom-formats", "spdx,cyclonedx"]));
    assert!(
        err.contains("--sbom-formats cyclonedx") && err.contains("whittle sbom"),
        "{err}"
    );
    let err = run_fail(&mut build(&["sig.tar", "--ignore-signatures"]));
    assert!(
        err.contains("--ignore-signatures") && err.contains("-k"),
        "{err}"
    );
    assert!(!proj.join("cdx.tar").exists() && !proj.join("sig.tar").exists());

    // --include-paths: the config found in DIR when not found as given
    let out = dir.path().join("inc.tar");
    run(whittle()
        .current_dir(dir.path())
        .args(["build", "apko.yaml", "app:1"])
        .arg(&out)
        .args(["--include-paths", "nothing-here,proj", "--cache-dir"])
        .arg(&cache));
    assert_eq!(repo_tags(&out), [["app:1"]]);
}

/// melange's defaults and flags on `whittle pkg`: keygen names the key `melange.rsa`,
/// `--generate-index=false` writes the packages without an index, `--namespace` is the
/// packages' maintainer, a missing `--env-file` is named.
#[test]
fn melanges_keygen_name_and_generate_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(whittle()
        .current_dir(d)
        .args(["pkg", "keygen", "--key-size", "2048"]));
    assert!(out.contains("melange.rsa.pub"), "{out}");
    assert!(d.join("melange.rsa").is_file() && d.join("melange.rsa.pub").is_file());
    std::fs::write(
        d.join("melange.yaml"),
        "package:\n  name: empty\n  version: 1.0.0\n  epoch: 0\n  description: nothing\n  copyright:\n    - license: MIT\npipeline: []\n",
    )
    .unwrap();
    let arch_dir = |o: &str| d.join(o).join(std::env::consts::ARCH);
    for (out, flag, index) in [
        ("a", "--generate-index=false", false),
        ("b", "--generate-index", true),
        ("c", "--generate-index=true", true),
    ] {
        run(whittle().current_dir(d).args([
            "pkg",
            "build",
            "--signing-key",
            "melange.rsa",
            "--out-dir",
            out,
            flag,
        ]));
        assert!(arch_dir(out).join("empty-1.0.0-r0.apk").is_file(), "{flag}");
        assert_eq!(
            arch_dir(out).join("APKINDEX.tar.gz").is_file(),
            index,
            "{flag}"
        );
    }
    let err =
        run_fail(
            whittle()
                .current_dir(d)
                .args(["pkg", "build", "--env-file", "missing.env"]),
        );
    assert!(err.contains("missing.env"), "{err}");
    // --namespace: the packages' maintainer, as melange writes it
    let pkginfo = |out: &str| {
        let apk = std::fs::read(arch_dir(out).join("empty-1.0.0-r0.apk")).unwrap();
        let pkg = whittle_apk::package::ApkPackage::open("empty", &apk).unwrap();
        pkg.pkginfo_text().to_string()
    };
    run(whittle()
        .current_dir(d)
        .args(["pkg", "build", "--out-dir", "ns", "--namespace", "wolfi"]));
    assert!(
        pkginfo("ns").contains("\nmaintainer = wolfi\n"),
        "{}",
        pkginfo("ns")
    );
    assert!(!pkginfo("a").contains("maintainer"), "{}", pkginfo("a"));
    let err = run_fail(
        whittle()
            .current_dir(d)
            .args(["pkg", "build", "--namespace", "a b\nc"]),
    );
    assert!(err.contains("a namespace is"), "{err}");
}

/// melange's `--env-file`: its variables reach the steps, the recipe's own environment wins.
/// Needs the host's Debian mirror (CI=true or WHITTLE_TEST_MIRROR=1) and bwrap.
#[test]
fn melanges_env_file_reaches_the_steps() {
    if !mirror_sandbox() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("build.env"),
        "# preloaded\nGREETING=hello from the env file\nexport WHO='the file'\nWHO=\"the file, again\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("melange.yaml"),
        "package:\n  name: envnote\n  version: 1.0.0\n  epoch: 0\n  description: a note\n  copyright:\n    - license: MIT\n\
         environment:\n  contents:\n    repositories:\n      - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main\n    packages: [dash, coreutils]\n  environment:\n    WHO: the recipe\n\
         pipeline:\n  - runs: mkdir -p ${{targets.destdir}}/usr/share/doc && printf '%s/%s\\n' \"$GREETING\" \"$WHO\" > ${{targets.destdir}}/usr/share/doc/note\n",
    )
    .unwrap();
    run(whittle()
        .current_dir(d)
        .env("WHITTLE_CACHE_DIR", mirror_cache())
        .args([
            "pkg",
            "build",
            "--env-file",
            "build.env",
            "--out-dir",
            "out",
        ]));
    let note = common::apk::member_text(
        &d.join("out")
            .join(std::env::consts::ARCH)
            .join("envnote-1.0.0-r0.apk"),
        "usr/share/doc/note",
    );
    assert_eq!(
        note.as_deref(),
        Some("hello from the env file/the recipe\n")
    );
}
