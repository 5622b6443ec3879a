//! An `.apk` whose data stream holds a sparse file written by GNU tar in PAX format
//! (`GNU.sparse.*` headers, formats 0.0, 0.1 and 1.0) is refused, naming the package file and
//! the path, instead of landing in the image as `GNUSparseFile.<pid>/<name>`.

use std::io::Write;

use whittle_apk::package::{ApkPackage, Error};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The control stream: a tar holding `.PKGINFO`.
fn control() -> Vec<u8> {
    let info = b"pkgname = sparse-test\npkgver = 1.0-r0\narch = x86_64\nsize = 1048576\n";
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(info.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, ".PKGINFO", &info[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn pax_sparse_files_are_refused_naming_package_and_path() {
    if !whittle_testutil::tool("tar") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (version, tar) in whittle_testutil::pax_sparse_tars(dir.path()) {
        let mut apk = gzip(&control());
        apk.extend(gzip(&tar));
        let pkg = ApkPackage::open("sparse-test-1.0-r0.apk", &apk).unwrap();
        let mut seen = Vec::new();
        let err = pkg
            .for_each_data_entry(|e| {
                seen.push(e.path.to_string());
                Ok::<(), Error>(())
            })
            .unwrap_err();
        assert!(matches!(err, Error::Refused { .. }), "{version}: {err}");
        let msg = err.to_string();
        assert!(msg.contains("sparse-test-1.0-r0.apk"), "{version}: {msg}");
        assert!(
            msg.contains("\"usr/lib/sparse/data.bin\""),
            "{version}: {msg}"
        );
        assert!(
            msg.contains("sparse file in PAX format"),
            "{version}: {msg}"
        );
        assert!(
            !seen.iter().any(|p| p.contains("GNUSparseFile")),
            "{version}: {seen:?}"
        );
    }
}
