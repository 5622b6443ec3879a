//! A `.deb` whose data archive holds a sparse file written by GNU tar in PAX format (the
//! `GNU.sparse.*` headers of formats 0.0, 0.1 and 1.0) is refused, naming the package and the
//! file, instead of landing in the image as `GNUSparseFile.<pid>/<name>`.

use whittle_deb::deb::{DebArchive, Error};

/// The real `netbase` package of the fixture with its data member replaced by `data_tar`
/// (uncompressed `data.tar`, which dpkg accepts).
fn with_data(deb: &[u8], data_tar: &[u8]) -> Vec<u8> {
    let mut ar = ar::Archive::new(deb);
    let mut members = Vec::new();
    while let Some(m) = ar.next_entry() {
        let mut m = m.unwrap();
        let name = String::from_utf8(m.header().identifier().to_vec()).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut m, &mut bytes).unwrap();
        if name.starts_with("data.tar") {
            members.push(("data.tar".to_string(), data_tar.to_vec()));
        } else {
            members.push((name, bytes));
        }
    }
    let mut b = ar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = ar::Header::new(name.into_bytes(), data.len() as u64);
        h.set_mode(0o644);
        b.append(&h, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn pax_sparse_files_are_refused_naming_package_and_path() {
    let Some(fx) = whittle_testutil::fixtures() else {
        return;
    };
    if !whittle_testutil::tool("tar") {
        return;
    }
    let netbase =
        std::fs::read(fx.join("deb/bookworm-mini/pool/main/n/netbase/netbase_6.4_all.deb"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (version, tar) in whittle_testutil::pax_sparse_tars(dir.path()) {
        let deb = with_data(&netbase, &tar);
        let archive = DebArchive::open("netbase_6.4_all.deb", &deb).unwrap();
        let mut seen = Vec::new();
        let err = archive
            .for_each_data_entry(|e| {
                seen.push(e.path.to_string());
                Ok::<(), Error>(())
            })
            .unwrap_err();
        assert!(matches!(err, Error::Refused { .. }), "{version}: {err}");
        let msg = err.to_string();
        assert!(msg.contains("package netbase"), "{version}: {msg}");
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
