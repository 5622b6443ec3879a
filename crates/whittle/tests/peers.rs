//! The OS is visible to every scanner: trivy and syft (the real static binaries `./dev`
//! installs, run with the network off) place whittle's images — family and version — and list
//! exactly the packages `whittle sbom` lists, names and versions; whittle's own catalog reads the
//! OS the same way (trivy's point release, syft's `VERSION_ID`). One build per image.
//!
//! The SBOM each build writes validates and says what `whittle sbom` says of the image, plus
//! the archives' checksums ([`check_build_sbom`]).
//!
//! Images: gawk from the real Debian 12 fixture repository; the gawk example from the host's
//! Debian mirror (gated by `whittle_testutil::mirror()`); Alpine and Wolfi images whose
//! distribution comes from the real signed Alpine v3.16 and Wolfi indexes in the fixtures.

mod common;
use common::scanners::{Expected, check_build_sbom, check_peers as check, sbom_set};
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `Version:` of a signed Release text (the point release base-files would write).
fn release_version(inrelease: &str) -> String {
    inrelease
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .unwrap()
        .trim()
        .to_string()
}

/// Builds `config` in `dir` into `oci:dir/layout:t` (a cache of its own); the layout, the
/// files of its layer and the build SBOM's `DEPENDS_ON` pairs (checked by [`check_build_sbom`]).
fn build_layout(dir: &Path, config: &str) -> (PathBuf, BTreeMap<String, Vec<u8>>, Deps) {
    let layout = dir.join("layout");
    build(
        dir,
        config,
        &format!("oci:{}:t", layout.display()),
        &dir.join("cache"),
        &["-q"],
    );
    let files = layer_files(&layout);
    let deps = check_build_sbom(&layout, "t", dir);
    (layout, files, deps)
}

/// `DEPENDS_ON` pairs by package name.
type Deps = std::collections::BTreeSet<(String, String)>;

#[test]
fn debian_fixture_image_is_placed_by_trivy_and_syft() {
    let Some(fix) = fixtures() else { return };
    let inrelease =
        std::fs::read_to_string(fix.join("deb/bookworm-mini/dists/bookworm/InRelease")).unwrap();
    let point = release_version(&inrelease);
    assert!(point.starts_with("12."), "{point}");
    let dir = tempfile::tempdir().unwrap();
    let (layout, files, deps) = build_layout(dir.path(), &fixture_config(&fix, "gawk", ""));
    // from the installed packages' Depends
    for (a, b) in [
        ("gawk", "libc6"),
        ("gawk", "libmpfr6"),
        ("libgcc-s1", "gcc-12-base"),
    ] {
        assert!(deps.contains(&(a.into(), b.into())), "{a} -> {b}: {deps:?}");
    }
    // what base-files would have written, without base-files
    assert_eq!(files["etc/debian_version"], format!("{point}\n").as_bytes());
    assert!(
        !sbom_set(&format!("oci:{}:t", layout.display()))
            .iter()
            .any(|(n, _)| n == "base-files")
    );
    check(
        &layout,
        "t",
        dir.path(),
        &Expected {
            family: "debian",
            trivy: &point,
            syft: "12",
        },
    );
}

#[test]
fn host_mirror_example_is_placed_by_trivy_and_syft() {
    if !whittle_testutil::mirror() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gawk.yaml");
    let layout = dir.path().join("layout");
    run(whittle()
        .args(["build", "-q", "-o"])
        .arg(format!("oci:{}:gawk", layout.display()))
        .arg("--cache-dir")
        .arg(mirror_cache())
        .arg(&example));
    let files = layer_files(&layout);
    check_build_sbom(&layout, "gawk", dir.path());
    let point = String::from_utf8(files["etc/debian_version"].clone()).unwrap();
    let point = point.trim();
    let (major, minor) = point.split_once('.').unwrap();
    assert!(
        major == "12" && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()),
        "{point}"
    );
    check(
        &layout,
        "gawk",
        dir.path(),
        &Expected {
            family: "debian",
            trivy: point,
            syft: "12",
        },
    );
}

/// Copies a flat fixture index (`DIR/APKINDEX.tar.gz`) into `to/<arch>/`, where a repository
/// keeps it.
fn index_repo(from: &Path, to: &Path, arch: &str) {
    std::fs::create_dir_all(to.join(arch)).unwrap();
    std::fs::copy(from, to.join(arch).join("APKINDEX.tar.gz")).unwrap();
}

/// Alpine: the packages of the melange-built fixture repository, next to the real signed
/// Alpine v3.16 main index, which lists `alpine-base 3.16.3-r0`: whittle writes what that
/// package would, `/etc/alpine-release` 3.16.3 and os-release.
#[test]
fn alpine_image_is_placed_by_trivy_and_syft() {
    let Some(fix) = fixtures() else { return };
    let apkfx = fix.join("apk");
    let dir = tempfile::tempdir().unwrap();
    let alpine = dir.path().join("alpine-v3.16-main");
    index_repo(
        &apkfx.join("alpine-real/v3.16-main-x86_64/APKINDEX.tar.gz"),
        &alpine,
        "x86_64",
    );
    let melange = apkfx.join("e2e-melange-rsa256");
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n    - {}\n  keyring:\n    - {}\n    - {}\n\
         \x20 packages: [custom-ca-certs-1, custom-ca-certs-2]\narchs: [x86_64]\n",
        melange.display(),
        alpine.display(),
        melange.join("keys/melange.rsa.pub").display(),
        apkfx
            .join("alpine-real/keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub")
            .display(),
    );
    let (layout, files, _) = build_layout(dir.path(), &cfg);
    assert_eq!(files["etc/alpine-release"], b"3.16.3\n");
    check(
        &layout,
        "t",
        dir.path(),
        &Expected {
            family: "alpine",
            trivy: "3.16.3",
            syft: "3.16.3",
        },
    );
}

/// Wolfi: stand-in packages next to the real Chainguard-signed index, which lists
/// `wolfi-baselayout 20230201-r15`: whittle writes Wolfi's os-release, version 20230201.
#[test]
fn wolfi_image_is_placed_by_trivy_and_syft() {
    let Some(fix) = fixtures() else { return };
    let apkfx = fix.join("apk");
    let dir = tempfile::tempdir().unwrap();
    let wolfi = dir.path().join("wolfi");
    index_repo(
        &apkfx.join("chainguard-multisig/APKINDEX.tar.gz"),
        &wolfi,
        "aarch64",
    );
    let own = dir.path().join("own");
    let key = apk::test_key();
    apk::write_arch(
        &own,
        "aarch64",
        &key,
        &[apk::Pkg::stand_in(
            "hello",
            vec![("usr/share/hello/", b"", 0o755, None)],
        )],
    );
    let own_key = apk::write_public_key(&own, &key);
    let keys: Vec<String> = std::fs::read_dir(apkfx.join("chainguard-multisig/keys"))
        .unwrap()
        .map(|e| format!("    - {}\n", e.unwrap().path().display()))
        .collect();
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n    - {}\n  keyring:\n    - {}\n{}\
         \x20 packages: [hello]\narchs: [aarch64]\n",
        own.display(),
        wolfi.display(),
        own_key.display(),
        keys.concat(),
    );
    let (layout, files, _) = build_layout(dir.path(), &cfg);
    let os = String::from_utf8(files["etc/os-release"].clone()).unwrap();
    assert!(os.starts_with("ID=wolfi\n"), "{os}");
    check(
        &layout,
        "t",
        dir.path(),
        &Expected {
            family: "wolfi",
            trivy: "20230201",
            syft: "20230201",
        },
    );
}

/// Not built by whittle: the real `alpine:3.10` image. whittle's catalog and `whittle sbom`
/// agree with both scanners on an image they were not written for.
#[test]
fn real_alpine_image_is_read_as_the_scanners_read_it() {
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    run(whittle()
        .arg("copy")
        .arg(format!(
            "docker-archive:{}",
            fix.join("images/docker-archive/trivy-alpine-3.10.tar.gz")
                .display()
        ))
        .arg(format!("oci:{}:t", layout.display())));
    check(
        &layout,
        "t",
        dir.path(),
        &Expected {
            family: "alpine",
            trivy: "3.10.4",
            syft: "3.10.4",
        },
    );
}
