//! Packages that try to make the image differ from what whittle assembled: a file named like
//! an OCI whiteout (`.wh.NAME`) would delete a file of a lower layer (another package's, or a
//! base image's) when the image is unpacked, and alone unpacks to nothing. Refused, one layer
//! or layered, naming the package and the path.

mod common;
use common::*;

#[test]
fn a_package_file_named_like_a_whiteout_is_refused() {
    let mut evil = TestPkg::new("evil", "1.0", "");
    evil.files.push(TestFile {
        path: "usr/share/whittle-test/.wh.marker",
        data: b"x".to_vec(),
        mode: 0o644,
    });
    let repo = make_repo(&[TestPkg::new("good", "1.0", ""), evil]);
    for layering in ["", "layering: {strategy: origin, budget: 3}\n"] {
        let dir = tempfile::tempdir().unwrap();
        let err = build_refused(
            dir.path(),
            &format!(
                "contents:\n  repositories:\n    - {}\n  packages: [good, evil]\n{layering}archs: [amd64]\n",
                repo.line()
            ),
        );
        assert!(
            err.contains(
                "package evil: /usr/share/whittle-test/.wh.marker is named like an OCI whiteout"
            ),
            "{layering}: {err}"
        );
    }
    // the same repository without it builds
    let dir = tempfile::tempdir().unwrap();
    build(
        dir.path(),
        &format!(
            "contents:\n  repositories:\n    - {}\n  packages: [good]\narchs: [amd64]\n",
            repo.line()
        ),
        "oci:img",
        &dir.path().join("cache"),
        &["-q"],
    );
}

/// A config naming something endless as a keyring (`/dev/zero`, a FIFO, a huge file) was read
/// whole until memory ran out; it is read bounded and refused as too large.
#[test]
fn a_keyring_that_never_ends_is_refused_bounded() {
    let repo = make_repo(&[TestPkg::new("good", "1.0", "")]);
    let deb = format!(
        "contents:\n  repositories:\n    - {}\n  packages: [good]\narchs: [amd64]\n",
        repo.line()
            .replace(&repo.keyring.display().to_string(), "/dev/zero")
    );
    let apk = "contents:\n  repositories:\n    - /nonexistent/whittle-repo\n  keyring:\n    - /dev/zero\n  packages: [x]\narchs: [x86_64]\n";
    for (config, want) in [
        (deb.as_str(), ["/dev/zero", "larger than"]),
        (
            apk,
            [
                "image.yaml:5:7: keyring zero",
                "more than the 65536-byte limit",
            ],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let err = build_refused(dir.path(), config);
        assert!(want.iter().all(|w| err.contains(w)), "{err}");
    }
}
