//! Unpacking untrusted `.deb` files with large files kept on disk ([`whittle_fs::FileData`]):
//! what a hostile data archive can make whittle write, and what a build of many packages holds
//! open. Packages are made here (tar, xz, ar): nothing outside the test is needed.

use std::io::{Read, Write};

use whittle_build::assemble::{DebInput, unpack_deb};
use whittle_build::memory::MemoryBudget;
use whittle_config::Contents;
use whittle_fetch::Cache;

/// A tar header for a regular file of `size` bytes.
fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

/// A `.deb` named `name` whose `data.tar.xz` member is `data` (already compressed).
fn deb_of(name: &str, data: Vec<u8>) -> Vec<u8> {
    let text = format!("Package: {name}\nVersion: 1\nArchitecture: amd64\n");
    let mut control = tar::Builder::new(Vec::new());
    control
        .append_data(&mut header(text.len() as u64), "./control", text.as_bytes())
        .unwrap();
    let control = control.into_inner().unwrap();
    let mut ar = ar::Builder::new(Vec::new());
    for (member, bytes) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", control),
        ("data.tar.xz", data),
    ] {
        let h = ar::Header::new(member.as_bytes().to_vec(), bytes.len() as u64);
        ar.append(&h, bytes.as_slice()).unwrap();
    }
    ar.into_inner().unwrap()
}

/// `.xz` of `tar` followed by `tail` zero bytes.
fn xz_with_tail(tar: &[u8], tail: u64) -> Vec<u8> {
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(tar).unwrap();
    std::io::copy(&mut std::io::repeat(0).take(tail), &mut xz).unwrap();
    xz.finish().unwrap()
}

/// A cache in `dir`; without a seal key it keeps no derived entries (the package's data then
/// goes to an anonymous spill file).
fn cache(dir: &std::path::Path, sealed: bool) -> Cache {
    let key = dir.join("key");
    Cache::open_with_key(dir.join("cache"), sealed.then_some(key.as_path())).unwrap()
}

/// Unpacks `deb` (as package `name`) under a 4 MiB budget into a cache with a seal key (where
/// its data archive's copy goes) and into one without (a spill file): for each, whether sealed,
/// the outcome (the error as text), and the directory the cache is in.
fn unpack_both_ways(name: &str, deb: &[u8]) -> Vec<(bool, Result<(), String>, tempfile::TempDir)> {
    let sha = whittle_fetch::sha256_hex(deb);
    [true, false]
        .into_iter()
        .map(|sealed| {
            let dir = tempfile::tempdir().unwrap();
            let input = DebInput {
                name,
                bytes: deb,
                sha256: &sha,
            };
            let r = unpack_deb(
                &input,
                &Contents::default(),
                &cache(dir.path(), sealed),
                &MemoryBudget::new(4 << 20),
            )
            .map(drop)
            .map_err(|e| e.to_string());
            (sealed, r, dir)
        })
        .collect()
}

/// A data archive whose tar is followed by more data than the walk may read (64 MiB of zeros
/// after a 3-byte file, against a 4 MiB limit) is refused, whether its copy goes to the cache or
/// to a spill file: the copy the package's large files point into must not grow without bound
/// (up to the disk's end), and nothing of it is kept.
#[test]
fn data_after_the_tar_end_is_bounded() {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut header(3), "./usr/lib/x", &b"abc"[..])
        .unwrap();
    let deb = deb_of("tail", xz_with_tail(&tar.into_inner().unwrap(), 64 << 20));
    assert!(deb.len() < 1 << 20);
    for (sealed, r, dir) in unpack_both_ways("tail", &deb) {
        let err = r.err().unwrap_or_default();
        assert!(
            err.contains("package tail") && err.contains("after the end of its tar"),
            "sealed={sealed}: {err:?}"
        );
        if sealed {
            let blobs = std::fs::read_dir(dir.path().join("cache/blobs/sha256")).unwrap();
            assert_eq!(blobs.count(), 0, "nothing of it is kept in the cache");
        }
    }
}

/// The same tar followed by a few KiB of zeros (tar's record padding, as `tar -b` makes) is a
/// normal package.
#[test]
fn record_padding_after_the_tar_end_is_fine() {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut header(3), "./usr/lib/x", &b"abc"[..])
        .unwrap();
    let deb = deb_of("pad", xz_with_tail(&tar.into_inner().unwrap(), 20 << 10));
    for (sealed, r, _) in unpack_both_ways("pad", &deb) {
        r.unwrap_or_else(|e| panic!("sealed={sealed}: {e}"));
    }
}

/// The environment variable that makes [`many_packages_fit_in_the_default_open_files_limit`]
/// the child that unpacks.
const CHILD: &str = "WHITTLE_TEST_OPEN_FILES_CHILD";

/// A build of more packages with large files than the process may hold files open (here 300
/// packages under a soft limit of 128, as 1024 is for thousands of packages on many systems)
/// unpacks them all, cold and warm: each package's large files are handles into its own copy
/// of its data archive, one open file per package while the image's tree lives. Run in a child
/// process (this test again) whose limit is lowered by the shell.
#[test]
fn many_packages_fit_in_the_default_open_files_limit() {
    const PACKAGES: usize = 300;
    if let Some(dir) = std::env::var_os(CHILD) {
        let dir = std::path::Path::new(&dir);
        let cache = cache(dir, true);
        let budget = MemoryBudget::new(1 << 30);
        let debs: Vec<(String, Vec<u8>)> = (0..PACKAGES)
            .map(|i| {
                let name = format!("p{i}");
                let mut tar = tar::Builder::new(Vec::new());
                let big = vec![i as u8; 100 << 10];
                tar.append_data(
                    &mut header(big.len() as u64),
                    format!("./usr/lib/{name}"),
                    &big[..],
                )
                .unwrap();
                (
                    name.clone(),
                    deb_of(&name, xz_with_tail(&tar.into_inner().unwrap(), 0)),
                )
            })
            .collect();
        for warm in [false, true] {
            let mut kept = Vec::new();
            for (name, deb) in &debs {
                let sha = whittle_fetch::sha256_hex(deb);
                let input = DebInput {
                    name,
                    bytes: deb,
                    sha256: &sha,
                };
                match unpack_deb(&input, &Contents::default(), &cache, &budget) {
                    Ok(u) => kept.push(u),
                    Err(e) => {
                        println!("ERROR: warm={warm} {name}: {e}");
                        return;
                    }
                }
            }
            drop(kept);
        }
        println!("ALL UNPACKED");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -Sn 128 && exec \"$0\" --exact many_packages_fit_in_the_default_open_files_limit --nocapture --test-threads=1")
        .arg(&exe)
        .env(CHILD, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ALL UNPACKED"), "{stdout}\n{stderr}");
}

/// A large file (left unread by the walk, a handle into the copy) whose declared size runs past
/// the end of the decompressed stream is an error, not a handle reading what follows or fails
/// later: with or without a cache copy.
#[test]
fn a_large_file_cut_short_is_refused() {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(
        &mut header(200 << 10),
        "./usr/lib/big",
        &vec![7u8; 200 << 10][..],
    )
    .unwrap();
    let mut tar = tar.into_inner().unwrap();
    tar.truncate(512 + (100 << 10));
    let deb = deb_of("cut", xz_with_tail(&tar, 0));
    for (sealed, r, _) in unpack_both_ways("cut", &deb) {
        let err = r.err().unwrap_or_default();
        assert!(err.contains("package cut"), "sealed={sealed}: {err:?}");
    }
}

/// What the packages of one build write to disk (their decompressed data archives, which their
/// large files point into) is bounded in all, not only per package: here three packages of
/// 2 MiB each against 5 MiB. Their large files are out of the memory budget, so without it a
/// closure of many small `.deb` files expanding to gigabytes each would fill the disk.
#[test]
fn what_the_packages_write_to_disk_is_bounded_in_all() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache(dir.path(), true);
    let budget = MemoryBudget::new(1 << 30).with_disk_limit(5 << 20);
    let mut results = Vec::new();
    for i in 0..3u8 {
        let name = format!("d{i}");
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_data(
            &mut header(2 << 20),
            format!("./usr/lib/{name}"),
            &vec![i; 2 << 20][..],
        )
        .unwrap();
        let deb = deb_of(&name, xz_with_tail(&tar.into_inner().unwrap(), 0));
        let sha = whittle_fetch::sha256_hex(&deb);
        let input = DebInput {
            name: &name,
            bytes: &deb,
            sha256: &sha,
        };
        results.push(
            unpack_deb(&input, &Contents::default(), &cache, &budget)
                .err()
                .map(|e| e.to_string()),
        );
    }
    assert!(results[0].is_none() && results[1].is_none(), "{results:?}");
    let err = results[2].clone().unwrap_or_default();
    assert!(
        err.contains("package d2") && err.contains("5242880 bytes on disk in all"),
        "{err}"
    );
}

/// A data archive whose compressed stream is damaged after the tar's end (its `.xz` index, after
/// 1 MiB of record padding) is refused as a corrupt package, not blamed on the disk.
#[test]
fn a_stream_damaged_after_the_tar_end_is_a_corrupt_package() {
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut header(3), "./usr/lib/x", &b"abc"[..])
        .unwrap();
    // the tar's walk reads ahead (128 KiB): the damage is past what it reads
    let mut xz = xz_with_tail(&tar.into_inner().unwrap(), 1 << 20);
    let at = xz.len() - 20;
    xz[at] ^= 0xff;
    let deb = deb_of("damaged", xz);
    for (sealed, r, _) in unpack_both_ways("damaged", &deb) {
        let err = r.err().unwrap_or_default();
        assert!(
            err.contains("package damaged") && err.contains("corrupt") && !err.contains("disk"),
            "sealed={sealed}: {err:?}"
        );
    }
}
