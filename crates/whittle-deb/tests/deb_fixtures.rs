//! Every real `.deb` of the bookworm fixture opens and streams; damaged ones fail cleanly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use whittle_deb::deb::{DebArchive, EntryKind, Error};

fn fixtures() -> Option<PathBuf> {
    whittle_testutil::fixtures()
}

fn debs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            debs(&p, out);
        } else if p.extension().is_some_and(|x| x == "deb") {
            out.push(p);
        }
    }
}

fn pool() -> Option<Vec<PathBuf>> {
    let mut out = Vec::new();
    debs(&fixtures()?.join("deb/bookworm-mini/pool"), &mut out);
    out.sort();
    Some(out)
}

#[derive(Default, Debug)]
struct Summary {
    files: usize,
    dirs: usize,
    symlinks: usize,
    hardlinks: usize,
    bytes: u64,
}

fn summarize(deb: &DebArchive<'_>) -> Summary {
    let mut s = Summary::default();
    deb.for_each_data_entry(|e| {
        assert!(!e.path.starts_with('/') && !e.path.starts_with("./") && !e.path.ends_with('/'));
        assert!(
            !e.path.split('/').any(|c| c == ".." || c == "."),
            "{}",
            e.path
        );
        match e.kind {
            EntryKind::File => {
                s.files += 1;
                s.bytes += e.data.len() as u64;
            }
            EntryKind::Dir => s.dirs += 1,
            EntryKind::Symlink { target } => {
                assert!(!target.is_empty());
                s.symlinks += 1
            }
            EntryKind::Hardlink { .. } => s.hardlinks += 1,
        }
        if !matches!(e.kind, EntryKind::File) {
            assert!(e.data.is_empty());
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    s
}

#[test]
fn every_fixture_deb_opens_and_streams() {
    let Some(pool) = pool() else { return };
    assert!(pool.len() >= 26, "{}", pool.len());
    let mut symlinks = BTreeMap::new();
    for path in &pool {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let deb = DebArchive::open(name, &bytes).unwrap_or_else(|e| panic!("{e}"));
        // File names are <Package>_<Version without epoch>_<Architecture>.deb.
        let mut parts = name.trim_end_matches(".deb").split('_');
        assert_eq!(deb.package(), parts.next().unwrap(), "{name}");
        let version = deb.control().get("Version").unwrap();
        let version = version.split_once(':').map_or(version, |(_, v)| v);
        assert_eq!(version, parts.next().unwrap(), "{name}");
        assert_eq!(deb.control().get("Architecture"), parts.next(), "{name}");
        assert!(deb.control_text().starts_with("Package: "), "{name}");
        assert_eq!(deb.data_member(), "data.tar.xz");
        let s = summarize(&deb);
        assert!(s.files + s.dirs > 0, "{name}: {s:?}");
        // Every shipped file that has a checksum in md5sums was streamed.
        if let Some(md5) = deb.md5sums() {
            assert!(md5.lines().count() <= s.files, "{name}: {s:?}");
        }
        assert_eq!(
            s.hardlinks, 0,
            "{name}: no fixture package ships hard links"
        );
        symlinks.insert(deb.package().to_string(), s.symlinks);
    }
    // Counts as listed by `tar tv` of the real packages.
    assert_eq!(symlinks["tzdata"], 365);
    assert_eq!(symlinks["base-files"], 5);
    assert_eq!(symlinks["libc6"], 1);
    assert_eq!(symlinks["libreadline8"], 2);
    assert_eq!(symlinks["gawk"], 0);
}

fn read_fixture(rel: &str) -> Option<Vec<u8>> {
    Some(std::fs::read(fixtures()?.join("deb/bookworm-mini/pool/main").join(rel)).unwrap())
}

#[test]
fn gawk_ships_its_binary() {
    let Some(bytes) = read_fixture("g/gawk/gawk_5.2.1-2_amd64.deb") else {
        return;
    };
    let deb = DebArchive::open("gawk_5.2.1-2_amd64.deb", &bytes).unwrap();
    assert_eq!(deb.package(), "gawk");
    assert!(deb.md5sums().unwrap().contains("usr/bin/gawk\n"));
    let mut found = None;
    let mut root_seen = false;
    deb.for_each_data_entry(|e| {
        if e.path.is_empty() {
            root_seen = matches!(e.kind, EntryKind::Dir);
        }
        if e.path == "usr/bin/gawk" {
            found = Some((
                e.kind == EntryKind::File,
                e.mode,
                e.uid,
                e.gid,
                e.data.len(),
                e.data.starts_with(b"\x7fELF"),
            ));
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert!(root_seen, "the root directory is reported as \"\"");
    assert_eq!(found, Some((true, 0o755, 0, 0, 713_152, true)));
}

#[test]
fn libc6_symlink_and_base_files_sticky_dirs() {
    let Some(libc) = read_fixture("g/glibc/libc6_2.36-9+deb12u14_amd64.deb") else {
        return;
    };
    let deb = DebArchive::open("libc6.deb", &libc).unwrap();
    let mut link = None;
    deb.for_each_data_entry(|e| {
        if let EntryKind::Symlink { target } = e.kind {
            link = Some((e.path.to_string(), target.to_string()));
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(
        link,
        Some((
            "lib64/ld-linux-x86-64.so.2".into(),
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2".into()
        ))
    );
    let Some(base) = read_fixture("b/base-files/base-files_12.4+deb12u15_amd64.deb") else {
        return;
    };
    let deb = DebArchive::open("base-files.deb", &base).unwrap();
    assert!(deb.conffiles().unwrap().contains("/etc/issue"));
    let mut tmp_mode = None;
    deb.for_each_data_entry(|e| {
        if e.path == "tmp" {
            tmp_mode = Some(e.mode);
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(tmp_mode, Some(0o1777), "sticky bit kept");
}

#[test]
fn truncated_debs_fail_cleanly() {
    let Some(bytes) = read_fixture("g/gawk/gawk_5.2.1-2_amd64.deb") else {
        return;
    };
    for len in [0, 7, 8, 30, 68, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
        let err = DebArchive::open("gawk.deb", &bytes[..len]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("gawk.deb: "), "{msg}");
        assert!(
            matches!(
                err,
                Error::NotAr { .. } | Error::Ar { .. } | Error::MissingMember { .. }
            ),
            "{len}: {msg}"
        );
    }
}

#[test]
fn bit_flipped_data_fails_cleanly() {
    let Some(bytes) = read_fixture("g/gawk/gawk_5.2.1-2_amd64.deb") else {
        return;
    };
    // Flip bytes in the middle of data.tar.xz: the control part still opens, streaming fails.
    let mut bad = bytes.clone();
    let mid = bytes.len() / 2;
    for b in &mut bad[mid..mid + 8] {
        *b ^= 0x55;
    }
    let deb = DebArchive::open("gawk.deb", &bad).unwrap();
    let err = deb.for_each_data_entry(|_| Ok::<_, Error>(())).unwrap_err();
    assert!(matches!(err, Error::Archive { .. }), "{err}");
    assert!(err.to_string().contains("data.tar.xz"), "{err}");
    // A flipped bit in the debian-binary version.
    let mut bad = bytes.clone();
    let at = bytes.windows(4).position(|w| w == b"2.0\n").unwrap();
    bad[at] = b'3';
    assert!(matches!(
        DebArchive::open("gawk.deb", &bad),
        Err(Error::FormatVersion { .. })
    ));
}

type Seen = Vec<(String, String, u32, Vec<u8>)>;

fn collect(
    seen: &mut Seen,
) -> impl FnMut(whittle_deb::deb::DataEntry<'_>) -> Result<(), whittle_deb::deb::Error> + '_ {
    |e| {
        seen.push((
            e.path.to_string(),
            format!("{:?}", e.kind),
            e.mode,
            e.data.to_vec(),
        ));
        Ok(())
    }
}

/// Walking a copy of the decompressed data tar (as a cache keeps it) gives exactly the entries
/// of the streaming walk, for every real package.
#[test]
fn decompressed_data_tar_walks_identically() {
    let Some(paths) = pool() else { return };
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let deb = DebArchive::open(&path.display().to_string(), &bytes).unwrap();
        let (mut a, mut b) = (Seen::new(), Seen::new());
        deb.for_each_data_entry(collect(&mut a)).unwrap();
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut deb.data_reader().unwrap(), &mut tar).unwrap();
        deb.for_each_entry_of(tar.as_slice(), collect(&mut b))
            .unwrap();
        assert_eq!(a, b, "{}", path.display());
        assert!(!a.is_empty());
    }
}

/// A package opened again from its control record (what a warm build keeps instead of reading
/// the `.deb`) has the same control files and data member as the `.deb`, and reads the same
/// data archive; any cut of the record is refused, not misread.
#[test]
fn control_records_reopen_every_fixture_deb() {
    let Some(pool) = pool() else { return };
    for path in &pool {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let deb = DebArchive::open(name, &bytes).unwrap();
        let record = deb.control_record();
        let again = DebArchive::from_control_record(name, &record).unwrap();
        assert_eq!(again.control(), deb.control(), "{name}");
        assert_eq!(again.control_text(), deb.control_text(), "{name}");
        assert_eq!(again.md5sums(), deb.md5sums(), "{name}");
        assert_eq!(again.conffiles(), deb.conffiles(), "{name}");
        assert_eq!(again.postinst(), deb.postinst(), "{name}");
        assert_eq!(again.control_members(), deb.control_members(), "{name}");
        assert_eq!(again.data_member(), deb.data_member(), "{name}");
        assert_eq!(again.data_compression(), deb.data_compression(), "{name}");
        let walked = |d: &DebArchive<'_>| {
            let mut paths = Vec::new();
            d.for_each_entry_of(deb.data_reader().unwrap(), |e| {
                paths.push((e.path.to_string(), e.data.len()));
                Ok::<_, Error>(())
            })
            .unwrap();
            paths
        };
        assert_eq!(walked(&again), walked(&deb), "{name}");
        for cut in [0, 10, record.len() / 2, record.len() - 1] {
            assert!(
                DebArchive::from_control_record(name, &record[..cut]).is_err(),
                "{name}: record cut at {cut}"
            );
        }
        let mut longer = record.clone();
        longer.push(b'x');
        assert!(DebArchive::from_control_record(name, &longer).is_err());
    }
}
