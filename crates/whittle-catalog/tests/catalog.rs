//! The catalog over the real installed-database fixtures, the real alpine:3.10 image, and
//! synthetic layers exercising whiteouts. Expectations are written by hand from the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use whittle_catalog::*;

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn one(path: &str, file: &Path) -> Catalog {
    let mut m = BTreeMap::new();
    m.insert(path.to_string(), std::fs::read(file).unwrap());
    catalog_files(&m)
}

fn names(c: &Catalog) -> Vec<&str> {
    c.packages.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn apk_installed_databases() {
    let Some(f) = fixtures() else { return };
    let db = f.join("installed-db/apk");
    // alpine-3.10-x86_64.installed: 14 records, libcrypto1.1 has `o:openssl`
    let c = one(
        "lib/apk/db/installed",
        &db.join("alpine-3.10-x86_64.installed"),
    );
    assert_eq!(c.packages.len(), 14);
    assert!(c.findings.is_empty());
    let p = c
        .packages
        .iter()
        .find(|p| p.name == "libcrypto1.1")
        .unwrap();
    assert_eq!(p.version, "1.1.1d-r2");
    assert_eq!(p.source(), "openssl");
    assert_eq!(p.arch, "x86_64");
    assert_eq!(p.db, PackageDb::Apk);
    // corrupt.installed: "this is a corrupt db" then one valid record: the record is kept,
    // the garbage line is a finding
    let c = one("lib/apk/db/installed", &db.join("corrupt.installed"));
    assert_eq!(names(&c), ["alpine-baselayout-data"]);
    assert!(!c.findings.is_empty());
    // alpine-3.4-mixed-with-invalid-entry.installed: `P:invalidPackageWithoutAVersion` has no
    // V: (line 23): skipped with a finding, the other 15 kept
    let c = one(
        "lib/apk/db/installed",
        &db.join("alpine-3.4-mixed-with-invalid-entry.installed"),
    );
    assert_eq!(c.packages.len(), 15);
    assert!(!names(&c).contains(&"invalidPackageWithoutAVersion"));
    assert!(
        c.findings.iter().any(|f| f.message.contains("line 23")),
        "{:?}",
        c.findings
    );
}

#[test]
fn dpkg_status_and_status_d() {
    let Some(f) = fixtures() else { return };
    let d = f.join("installed-db/dpkg");
    // grype-debian-match-coverage.status: apt 1.8.2, `Source: apt-dev`
    let c = one(
        "var/lib/dpkg/status",
        &d.join("grype-debian-match-coverage.status"),
    );
    assert_eq!(names(&c), ["apt"]);
    assert_eq!(c.packages[0].source(), "apt-dev");
    assert_eq!(c.packages[0].source_ver(), "1.8.2");
    // ubuntu-18.04-texlive.status: 357 stanzas
    let c = one(
        "var/lib/dpkg/status",
        &d.join("ubuntu-18.04-texlive.status"),
    );
    assert!(
        c.packages.len() > 300 && c.packages.len() <= 357,
        "{}",
        c.packages.len()
    );
    assert!(c.findings.is_empty(), "{:?}", c.findings);
    // distroless status.d: libsqlite3-0 3.34.1-3 arm64, Source: sqlite3; the .md5sums and
    // .preinst beside it are not entries; the copyright file gives the license
    let s = d.join("distroless-status.d");
    let mut m = BTreeMap::new();
    for (name, path) in [
        ("libsqlite3-0", "var/lib/dpkg/status.d/libsqlite3-0"),
        (
            "libsqlite3-0.md5sums",
            "var/lib/dpkg/status.d/libsqlite3-0.md5sums",
        ),
        (
            "libsqlite3-0.preinst",
            "var/lib/dpkg/status.d/libsqlite3-0.preinst",
        ),
        (
            "usr_share_doc_libsqlite3-0_copyright",
            "usr/share/doc/libsqlite3-0/copyright",
        ),
    ] {
        m.insert(path.to_string(), std::fs::read(s.join(name)).unwrap());
    }
    let c = catalog_files(&m);
    assert_eq!(names(&c), ["libsqlite3-0"]);
    let p = &c.packages[0];
    assert_eq!(
        (p.version.as_str(), p.arch.as_str(), p.source()),
        ("3.34.1-3", "arm64", "sqlite3")
    );
    assert_eq!(p.db, PackageDb::DpkgStatusD);
    assert!(p.license.is_some());
    assert!(c.findings.is_empty(), "{:?}", c.findings);
}

#[test]
fn status_d_negative_samples() {
    let Some(f) = fixtures() else { return };
    let d = f.join("installed-db/dpkg/status.d-samples");
    let sd = |name: &str| one(&format!("var/lib/dpkg/status.d/{name}"), &d.join(name));
    // corrupt: `Pakij: apt` … and a line that is no field: no package, one finding, no crash
    let c = sd("corrupt");
    assert!(c.packages.is_empty());
    assert_eq!(c.findings.len(), 1);
    // empty: `Package:` with no value: a finding
    let c = sd("empty");
    assert!(c.packages.is_empty());
    assert_eq!(c.findings.len(), 1);
    // multiple: `Package:` (empty) and `no-version` are findings; tzdata and util-linux kept
    let c = sd("multiple");
    assert_eq!(names(&c), ["tzdata", "util-linux"]);
    assert_eq!(c.findings.len(), 2);
    assert_eq!(c.packages[0].source(), "tzdata-dev");
    // deinstall: the second stanza is `deinstall ok config-files`: not installed, left out
    let c = sd("deinstall");
    assert_eq!(names(&c), ["linux-image-6.14.0-1012-aws"]);
    assert_eq!(c.packages[0].source(), "linux-signed-aws-6.14");
    assert!(c.findings.is_empty());
}

fn layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
                // raw name bytes: the builder refuses `..`, a hostile layer need not
                let name = &mut h.as_ustar_mut().unwrap().name;
                name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                b.append(&h, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                h.set_cksum();
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

const A: &[u8] = b"Package: a\nStatus: install ok installed\nVersion: 1\n";
const B: &[u8] = b"Package: b\nStatus: install ok installed\nVersion: 2\n";

#[test]
fn whiteouts_apply_to_lower_layers_only() {
    let l1 = layer(&[
        ("etc/os-release", Some(b"ID=debian\nVERSION_ID=12\n")),
        ("var/lib/dpkg/status.d/a", Some(A)),
        ("var/lib/dpkg/status.d/b", Some(B)),
    ]);
    // file whiteout of a, then b re-added in the same layer as an opaque dir (kept)
    let l2 = layer(&[
        ("var/lib/dpkg/status.d/.wh.a", Some(b"")),
        ("./etc/x", Some(b"")),
    ]);
    let c = catalog_layers([l1.as_slice(), l2.as_slice()]).unwrap();
    assert_eq!(names(&c), ["b"]);
    assert_eq!(c.os.unwrap().ecosystems(), ["Debian:12"]);

    let l3 = layer(&[
        ("var/lib/dpkg/status.d/", None),
        ("var/lib/dpkg/status.d/.wh..wh..opq", Some(b"")),
        ("var/lib/dpkg/status.d/a", Some(A)),
    ]);
    let c = catalog_layers([l1.as_slice(), l3.as_slice()]).unwrap();
    assert_eq!(
        names(&c),
        ["a"],
        "opaque dir hides b but keeps a from the same layer"
    );

    // a not.a.wh..wh..opq file is not an opaque marker; a whole-dir whiteout removes all
    let l4 = layer(&[("var/lib/dpkg/status.d/not.a.wh..wh..opq", Some(b"x"))]);
    let c = catalog_layers([l1.as_slice(), l4.as_slice()]).unwrap();
    assert_eq!(names(&c), ["a", "b"]);
    let l5 = layer(&[("var/lib/dpkg/.wh.status.d", Some(b""))]);
    let c = catalog_layers([l1.as_slice(), l5.as_slice()]).unwrap();
    assert!(c.packages.is_empty());
    // a path with `..` is ignored, never escapes
    let l6 = layer(&[("var/lib/../lib/dpkg/status.d/.wh.b", Some(b""))]);
    let c = catalog_layers([l1.as_slice(), l6.as_slice()]).unwrap();
    assert_eq!(names(&c), ["a", "b"]);
}

#[test]
fn oversized_database_is_an_error() {
    let big = vec![b'a'; (layers::MAX_SMALL_FILE_BYTES + 1) as usize];
    let l = layer(&[("etc/os-release", Some(&big))]);
    let e = catalog_layers([l.as_slice()]).unwrap_err().to_string();
    assert!(e.contains("etc/os-release") && e.contains("limit"), "{e}");
}

#[test]
fn real_alpine_310_image() {
    let Some(f) = fixtures() else { return };
    let path = f.join("images/docker-archive/trivy-alpine-3.10.tar.gz");
    let r = whittle_oci::ImageRef::DockerArchive {
        path,
        reference: None,
    };
    let img = whittle_oci::read_image(&r, None).unwrap();
    let c = catalog_image(&img).unwrap();
    let os = c.os.clone().unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_str()),
        ("alpine", "3.10.4")
    );
    assert_eq!(c.packages.len(), 14);
    let musl = c.packages.iter().find(|p| p.name == "musl").unwrap();
    assert_eq!(musl.version, "1.1.22-r3");
    assert_eq!(musl.license.as_deref(), Some("MIT"));
    let input = sbom::sbom_input(&c, "alpine:3.10", "seed", 0, "whittle-test");
    let (os, libs): (Vec<_>, Vec<_>) = input
        .packages
        .iter()
        .partition(|p| p.kind == whittle_sbom::PackageKind::OperatingSystem);
    assert_eq!(libs.len(), 14);
    assert!(
        libs.iter()
            .all(|p| p.purl.as_deref().unwrap().starts_with("pkg:apk/alpine/"))
    );
    assert_eq!(
        os.iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect::<Vec<_>>(),
        [("alpine", "3.10.4")]
    );
    // musl's dependents: busybox links against it through `so:libc.musl-x86_64.so.1`
    let idx = |n: &str| input.packages.iter().position(|p| p.name == n).unwrap();
    assert!(input.relationships.iter().any(|r| r.from == idx("busybox")
        && r.to == idx("musl")
        && r.kind == whittle_sbom::RelationshipKind::DependsOn));
}

/// A documentation directory that is a symlink to another package's (Debian's `libgcc-s1 ->
/// gcc-12-base`) gives the package the licence of the copyright file there, through layers
/// and through an assembled tree alike.
#[test]
fn symlinked_doc_dir_gives_the_license() {
    let status = b"Package: gcc-12-base\nStatus: install ok installed\nVersion: 12.2.0-14\nArchitecture: amd64\n\n\
Package: libgcc-s1\nStatus: install ok installed\nVersion: 12.2.0-14\nArchitecture: amd64\nSource: gcc-12\nDepends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)\n";
    let copyright = b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-3+ with GCC-exception\n";
    let want = Some("GPL-3.0-or-later WITH GCC-exception-3.1");
    let lay = layer_with_link(status, copyright);
    let c = catalog_layers([&lay[..]]).unwrap();
    let lic = |c: &Catalog, n: &str| {
        c.packages
            .iter()
            .find(|p| p.name == n)
            .unwrap()
            .license
            .clone()
    };
    assert_eq!(lic(&c, "libgcc-s1").as_deref(), want);
    assert_eq!(lic(&c, "gcc-12-base").as_deref(), want);
    let tree = [
        ("var/lib/dpkg/status", TreeEntry::File(&status[..])),
        (
            "usr/share/doc/gcc-12-base/copyright",
            TreeEntry::File(&copyright[..]),
        ),
        ("usr/share/doc/libgcc-s1", TreeEntry::Symlink("gcc-12-base")),
        ("usr/share/doc/evil", TreeEntry::Symlink("../../../etc")),
    ];
    let t = catalog_entries(tree);
    assert_eq!(lic(&t, "libgcc-s1").as_deref(), want);
    assert_eq!(t.packages, c.packages);
}

fn layer_with_link(status: &[u8], copyright: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [
        ("var/lib/dpkg/status", status),
        ("usr/share/doc/gcc-12-base/copyright", copyright),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "usr/share/doc/libgcc-s1", "gcc-12-base")
        .unwrap();
    b.into_inner().unwrap()
}

/// `whittle sbom`'s regression: a layer blob replaced by another valid layer of the same size
/// (holding a planted package) was cataloged, because the tar reader stops at the end-of-archive
/// blocks and the blob's digest was never checked. It is refused now.
#[test]
fn a_replaced_layer_blob_is_refused_not_cataloged() {
    let os: &[u8] = b"ID=alpine\nVERSION_ID=3.20.0\n";
    let good = layer(&[
        ("etc/os-release", Some(os)),
        ("lib/apk/db/installed", Some(b"P:musl\nV:1.2.5-r0\n\n")),
    ]);
    let planted = layer(&[
        ("etc/os-release", Some(os)),
        ("lib/apk/db/installed", Some(b"P:planted\nV:6.6.6-r0\n\n")),
    ]);
    assert_eq!(good.len(), planted.len());
    let digest = whittle_oci::sha256_digest(&good);
    let dir = std::env::temp_dir().join(format!("whittle-catalog-replaced-{}", std::process::id()));
    let r = whittle_oci::ImageRef::Oci {
        path: dir.clone(),
        tag: Some("t".into()),
    };
    let config = whittle_oci::ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        ..Default::default()
    };
    let l = whittle_oci::ImageLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        digest: digest.clone(),
        diff_id: digest.clone(),
        size: good.len() as u64,
        blob: good.into(),
    };
    whittle_oci::write(&[whittle_oci::Image::new(config, vec![l])], &r).unwrap();
    let img = whittle_oci::read_image(&r, None).unwrap();
    assert_eq!(names(&catalog_image(&img).unwrap()), ["musl"]);
    let blob = dir
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, &planted).unwrap();
    let res = catalog_image(&img);
    // bytes that are no tar at all: the tampering is reported, not a tar error
    std::fs::write(&blob, vec![0x5a; planted.len()]).unwrap();
    let garbage = catalog_image(&img);
    std::fs::remove_dir_all(&dir).unwrap();
    for res in [res, garbage] {
        let err = res.expect_err("a replaced layer was cataloged").to_string();
        assert!(
            err.contains("layer 0") && err.contains(&digest) && err.contains("tampered"),
            "{err}"
        );
    }
}

/// The point release of `/etc/debian_version` joins the os-release family and version (trivy's
/// and syft's answers), through layers: a later layer's whiteout removes it again.
#[test]
fn release_files_are_read_through_layers() {
    let l1 = layer(&[
        (
            "usr/lib/os-release",
            Some(b"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"),
        ),
        ("etc/debian_version", Some(b"12.12\n")),
    ]);
    let c = catalog_layers([l1.as_slice()]).unwrap();
    let os = c.os.unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_str(), os.release.as_str()),
        ("debian", "12", "12.12")
    );
    let l2 = layer(&[("etc/.wh.debian_version", Some(b""))]);
    let c = catalog_layers([l1.as_slice(), l2.as_slice()]).unwrap();
    assert_eq!(c.os.unwrap().release, "");
    // an oversized release file is refused like an oversized os-release
    let big = vec![b'1'; (layers::MAX_SMALL_FILE_BYTES + 1) as usize];
    let l3 = layer(&[("etc/alpine-release", Some(&big))]);
    let e = catalog_layers([l3.as_slice()]).unwrap_err().to_string();
    assert!(
        e.contains("etc/alpine-release") && e.contains("limit"),
        "{e}"
    );
}
