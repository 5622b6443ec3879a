//! Memory does not grow with the image (issue 18): an image of 600 MiB of file content, from a
//! signed repository of big packages this test generates, builds (cold, then warm) in a `whittle`
//! process whose peak RSS stays far below the content's size. The content is not all zeros: a
//! 1 MiB pseudo-random block of words, rotated per file, so the compressor has work to do.
//! `bench/big-image.sh` is the same at 10 GB.

mod common;
use common::*;
use std::io::{Read, Write};
use std::path::Path;

/// Packages, files per package, and each file's size: 600 MiB in all.
const PACKAGES: usize = 3;
const FILES: usize = 2;
const FILE_SIZE: u64 = 100 << 20;
/// The peak RSS allowed, KiB: a sixth of the content (a build that held the files, or the
/// compressed layer, in memory would need more than 600 MiB; 25–35 MiB here, on 2 threads).
const MAX_PEAK_KIB: u64 = 100 << 10;

/// A 1 MiB block of 16-byte pseudo-random words drawn from 256 (compresses about 5:1).
fn block() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: Vec<[u8; 16]> = (0..256)
        .map(|_| {
            let mut w = [0u8; 16];
            w[..8].copy_from_slice(&next().to_le_bytes());
            w[8..].copy_from_slice(&next().to_le_bytes());
            w
        })
        .collect();
    (0..(1 << 16))
        .flat_map(|_| words[(next() % 256) as usize])
        .collect()
}

/// `len` bytes of `block` repeated, starting at `start`.
struct Pattern<'a> {
    block: &'a [u8],
    pos: usize,
    left: u64,
}

impl Read for Pattern<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(self.block.len() - self.pos)
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.block.len();
        self.left -= n as u64;
        Ok(n)
    }
}

fn tar_header(size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

/// Writes the `.deb` of package `name` (its files streamed, never in memory) to `path`.
fn write_deb(path: &Path, name: &str, block: &[u8], seed: usize) {
    let dir = path.parent().unwrap();
    // zstd's long-distance matching spans the repeating block: the packages stay small (the
    // `.deb` files themselves are still read whole, which is not what this test is about)
    let data_path = dir.join(format!("{name}.data.tar.zst"));
    {
        let mut zst =
            zstd::stream::write::Encoder::new(std::fs::File::create(&data_path).unwrap(), 3)
                .unwrap();
        zst.long_distance_matching(true).unwrap();
        zst.window_log(21).unwrap();
        let mut tar = tar::Builder::new(zst);
        for f in 0..FILES {
            let start = (seed * FILES + f) * 4099 % block.len();
            let mut h = tar_header(FILE_SIZE, 0o644);
            let p = format!("./usr/share/{name}/big{f}.bin");
            let data = Pattern {
                block,
                pos: start,
                left: FILE_SIZE,
            };
            tar.append_data(&mut h, p, data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }
    let control = format!(
        "Package: {name}\nVersion: 1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: big\n"
    );
    let mut ctl = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut h = tar_header(control.len() as u64, 0o644);
    ctl.append_data(&mut h, "./control", control.as_bytes())
        .unwrap();
    let ctl = ctl.into_inner().unwrap().finish().unwrap();
    let mut ar = ar::Builder::new(std::fs::File::create(path).unwrap());
    let member = |n: &str, len: u64| ar::Header::new(n.as_bytes().to_vec(), len);
    ar.append(&member("debian-binary", 4), &b"2.0\n"[..])
        .unwrap();
    ar.append(&member("control.tar.gz", ctl.len() as u64), &ctl[..])
        .unwrap();
    let len = std::fs::metadata(&data_path).unwrap().len();
    ar.append(
        &member("data.tar.zst", len),
        std::fs::File::open(&data_path).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(&data_path).unwrap();
}

fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut h).unwrap();
    hex::encode(h.finalize())
}

/// A signed repository of the big packages in `dir`; returns its `deb` line.
fn big_repo(dir: &Path) -> String {
    let block = block();
    let pool = dir.join("pool");
    std::fs::create_dir_all(&pool).unwrap();
    let mut index = String::new();
    for i in 0..PACKAGES {
        let name = format!("big{i}");
        let rel = format!("pool/{name}_1_all.deb");
        write_deb(&dir.join(&rel), &name, &block, i);
        let deb = dir.join(&rel);
        index.push_str(&format!(
            "Package: {name}\nVersion: 1\nArchitecture: all\nFilename: {rel}\nSize: {}\nSHA256: {}\nDescription: big\n\n",
            std::fs::metadata(&deb).unwrap().len(),
            sha256_file(&deb),
        ));
    }
    let bin = dir.join("dists/stable/main/binary-amd64");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("Packages"), &index).unwrap();
    let release = format!(
        "Suite: stable\nCodename: stable\nDate: Sat, 01 Nov 2025 00:00:00 UTC\nArchitectures: amd64\n\
         Components: main\nSHA256:\n {} {} main/binary-amd64/Packages\n",
        sha256_file(&bin.join("Packages")),
        index.len()
    );
    let key =
        whittle_deb::release::SigningKey::generate("Whittle Test <test@example.org>").unwrap();
    let keyring = dir.join("keyring.gpg");
    std::fs::write(&keyring, key.public_keyring_bytes()).unwrap();
    std::fs::write(
        dir.join("dists/stable/InRelease"),
        key.clearsign(&release).unwrap(),
    )
    .unwrap();
    format!(
        "deb [signed-by={}] file://{} stable main",
        keyring.display(),
        dir.display()
    )
}

/// Builds `cfg` under `/usr/bin/time`; returns the peak RSS (KiB) and stderr.
fn build_measured(dir: &Path, out: &str) -> (u64, String) {
    let o = std::process::Command::new("/usr/bin/time")
        .args(["-f", "PEAK-KIB %M"])
        .arg(env!("CARGO_BIN_EXE_whittle"))
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        // the compressor's buffers grow with its threads: the same on every machine
        .env("WHITTLE_THREADS", "2")
        .args(["build", "image.yaml", "-o", out, "--cache-dir", "cache"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let peak = stderr
        .lines()
        .find_map(|l| l.strip_prefix("PEAK-KIB "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stderr}"));
    (peak, stderr)
}

#[test]
fn a_big_image_builds_in_memory_far_below_its_size() {
    if !Path::new("/usr/bin/time").is_file() {
        skip("/usr/bin/time (GNU time)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let line = big_repo(&dir.path().join("repo"));
    let names: Vec<String> = (0..PACKAGES).map(|i| format!("big{i}")).collect();
    std::fs::write(
        dir.path().join("image.yaml"),
        format!(
            "contents:\n  repositories:\n    - {line}\n  packages: [{}]\narchs: [amd64]\n",
            names.join(", ")
        ),
    )
    .unwrap();
    let content = PACKAGES as u64 * FILES as u64 * FILE_SIZE;
    let mut archives = Vec::new();
    for run in ["cold", "warm"] {
        let out = format!("oci-archive:{run}.tar");
        let (peak, stderr) = build_measured(dir.path(), &out);
        println!(
            "{run}: peak RSS {} MiB for {} MiB of content",
            peak >> 10,
            content >> 20
        );
        // the image holds all of it
        let mb = stderr
            .lines()
            .find_map(|l| l.split_once("entries, ").map(|(_, r)| r))
            .and_then(|r| r.split(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no assemble line in {stderr}"));
        assert!(mb * 1e6 >= content as f64, "{stderr}");
        assert!(
            peak < MAX_PEAK_KIB,
            "{run} build: peak RSS {peak} KiB for {content} bytes of content"
        );
        archives.push(
            std::fs::metadata(dir.path().join(format!("{run}.tar")))
                .unwrap()
                .len(),
        );
    }
    // cold and warm give the same image
    let same = {
        let mut a = std::fs::File::open(dir.path().join("cold.tar")).unwrap();
        let mut b = std::fs::File::open(dir.path().join("warm.tar")).unwrap();
        let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
        loop {
            let n = a.read(&mut x).unwrap();
            let m = b.read(&mut y).unwrap();
            if n != m || x[..n] != y[..m] {
                break false;
            }
            if n == 0 {
                break true;
            }
        }
    };
    assert!(same, "cold and warm archives differ ({archives:?} bytes)");
    std::io::stdout().flush().unwrap();
}
