//! melange's most-used built-in pipelines on real (small) projects vendored under
//! `tests/data/pkg_pipelines/`: `cmake/*`, `git-am` and `meson/*`, `go/build` and `go/install`,
//! `python/build-wheel` and `python/install`, each in the bwrap sandbox with its build
//! environment from the host's Debian mirror. Every package is signed into a local repository,
//! an image is built from it, and the program runs in the image under runc. The packages'
//! dependency metadata is checked too: the meson project's pkg-config file becomes a `pc:`
//! provide, the Python console script's `#!/usr/bin/python3` no depend (melange skips python3:
//! the recipe names its interpreter package in `dependencies.runtime`, which the image resolves). Needs the network to the mirror: runs under CI=true (where it must pass) or
//! with WHITTLE_TEST_MIRROR=1; otherwise SKIPPED.

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// `tests/data/pkg_pipelines/NAME`.
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pkg_pipelines")
        .join(name)
}

/// Whether this test can run here (mirror allowed, bwrap present).
fn can_run() -> bool {
    whittle_testutil::mirror() && tool("bwrap")
}

/// A temporary directory holding the signing key `k.rsa`.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run(whittle()
        .current_dir(dir.path())
        .args(["pkg", "keygen", "k", "--bits", "2048"]));
    dir
}

/// `whittle pkg build` of `tests/data/pkg_pipelines/PROJECT.yaml` (its sources: the directory
/// `PROJECT/` beside it, melange's layout) into `d/repo`, with the shared mirror cache; the `.PKGINFO` of the
/// package `PROJECT-VERSION.apk` it wrote.
fn build(d: &Path, project: &str, version: &str) -> whittle_apk::package::PkgInfo {
    let recipe = data(&format!("{project}.yaml"));
    run(whittle()
        .current_dir(d)
        .args(["pkg", "build"])
        .arg(&recipe)
        .args(["--key", "k.rsa", "--out", "repo", "-q"])
        .args(["--source-date-epoch", "1700000000", "--cache-dir"])
        .arg(mirror_cache()));
    pkginfo(d, project, version)
}

/// The `.PKGINFO` of `d/repo/ARCH/NAME-VERSION.apk`.
fn pkginfo(d: &Path, name: &str, version: &str) -> whittle_apk::package::PkgInfo {
    let file = format!("{name}-{version}.apk");
    let apk = std::fs::read(d.join("repo").join(std::env::consts::ARCH).join(&file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    whittle_apk::package::ApkPackage::open(name, &apk)
        .unwrap()
        .pkginfo()
        .clone()
}

/// Builds an image of `packages` (one name) from `d/repo` and runs `args` in it under runc (as a
/// non-root user); the program's stdout. Without root, umoci or runc it says SKIPPED (and
/// fails under CI) after the image was built.
fn run_in_image(d: &Path, packages: &str, args: &[&str]) -> Option<String> {
    let cfg = format!(
        "contents:\n  repositories: [./repo]\n  keyring: [./k.rsa.pub]\n  packages: [{packages}]\n\
         entrypoint:\n  command: {}\n\
         accounts:\n  groups: [{{groupname: nonroot, gid: 65532}}]\n  users: [{{username: nonroot, uid: 65532, gid: 65532}}]\n  run-as: nonroot\n\
         archs: [{}]\n",
        args[0],
        std::env::consts::ARCH
    );
    std::fs::write(d.join(format!("{packages}.yaml")), cfg).unwrap();
    run(whittle()
        .current_dir(d)
        .arg("build")
        .arg(format!("{packages}.yaml"))
        .args(["-o", &format!("oci:{packages}-img:t"), "-q", "--cache-dir"])
        .arg(mirror_cache()));
    if !(tool("umoci") && tool("runc") && is_root()) {
        return None;
    }
    let bundle = d.join(format!("{packages}-bundle"));
    unpack(&d.join(format!("{packages}-img")), "t", &bundle);
    let (code, out, err) = runc(&bundle, args);
    assert_eq!(code, 0, "{args:?} in the image: stdout {out}\nstderr {err}");
    Some(out)
}

#[test]
fn cmake_pipelines_build_a_cmake_project() {
    if !can_run() {
        return;
    }
    let dir = workdir();
    let d = dir.path();
    let info = build(d, "greet-cmake", "1.0.0-r0");
    assert!(
        info.provides
            .iter()
            .any(|p| p == "cmd:greet-cmake=1.0.0-r0"),
        "{info:?}"
    );
    if let Some(out) = run_in_image(d, "greet-cmake", &["/usr/bin/greet-cmake", "image"]) {
        assert_eq!(out, "hello from cmake, image\n");
    }
}

#[test]
fn meson_pipelines_build_a_meson_project_and_its_pc_file_is_provided() {
    if !can_run() {
        return;
    }
    let dir = workdir();
    let d = dir.path();
    let info = build(d, "greet-meson", "1.0.0-r0");
    for want in ["cmd:greet-meson=1.0.0-r0", "pc:greet-meson=1.0.0-r0"] {
        assert!(info.provides.iter().any(|p| p == want), "{want}: {info:?}");
    }
    if let Some(out) = run_in_image(d, "greet-meson", &["/usr/bin/greet-meson", "image"]) {
        assert_eq!(out, "hello from patched meson, image\n");
    }
}

#[test]
fn go_build_pipeline_builds_a_go_module() {
    if !can_run() {
        return;
    }
    let dir = workdir();
    let d = dir.path();
    let info = build(d, "greet-go", "1.0.0-r0");
    assert!(
        info.provides.iter().any(|p| p == "cmd:greet-go=1.0.0-r0"),
        "{info:?}"
    );
    // CGO_ENABLED=0: a static program, nothing to depend on
    assert!(info.depend.is_empty(), "{info:?}");
    if let Some(out) = run_in_image(d, "greet-go", &["/usr/bin/greet-go", "image"]) {
        assert_eq!(out, "hello from go, image\n");
    }
    // the subpackage built with go/install
    let installed = pkginfo(d, "greet-go-installed", "1.0.0-r0");
    assert!(
        installed
            .provides
            .iter()
            .any(|p| p == "cmd:greet-go=1.0.0-r0"),
        "{installed:?}"
    );
    if let Some(out) = run_in_image(d, "greet-go-installed", &["/usr/bin/greet-go", "too"]) {
        assert_eq!(out, "hello from go, too\n");
    }
}

#[test]
fn python_build_wheel_pipeline_builds_a_pyproject_that_runs_on_its_named_interpreter() {
    if !can_run() {
        return;
    }
    let dir = workdir();
    let d = dir.path();
    let info = build(d, "greet-py", "1.0.0-r0");
    assert!(
        info.provides.iter().any(|p| p == "cmd:greet-py=1.0.0-r0"),
        "{info:?}"
    );
    // the console script's #!/usr/bin/python3 makes no cmd:python3 depend (as melange): the
    // runtime dependency is the one the recipe names
    assert_eq!(info.depend, ["python3-runtime"], "{info:?}");
    // the subpackage python/install wrote from the same wheel
    let wheel = pkginfo(d, "greet-py-wheel", "1.0.0-r0");
    assert!(
        wheel.provides.iter().any(|p| p == "cmd:greet-py=1.0.0-r0"),
        "{wheel:?}"
    );
    assert_eq!(wheel.depend, ["python3-runtime"], "{wheel:?}");
    let runtime = build(d, "python3-runtime", "3.11.0-r0");
    assert!(
        runtime
            .provides
            .iter()
            .any(|p| p == "cmd:python3=3.11.0-r0"),
        "{runtime:?}"
    );
    // the image asks only for greet-py: python3-runtime comes in as its runtime dependency
    if let Some(out) = run_in_image(d, "greet-py", &["/usr/bin/greet-py", "image"]) {
        assert_eq!(out, "hello from python, image\n");
    }
}
