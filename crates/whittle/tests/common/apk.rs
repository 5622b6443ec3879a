//! A signed APK repository written by the tests (the signature, control and data streams and the
//! signed `APKINDEX.tar.gz`, as apk-tools and melange write them), for any architecture.

use flate2::{Compression, write::GzEncoder};
use sha2::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};
use whittle_apk::sign::{SigKind, SigningKey, signature_member_name};

pub const KEY_NAME: &str = "whittle-test.rsa.pub";

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A tar of `(path, content, mode, symlink target)`; `finish` adds the end-of-archive blocks
/// (apk's signature and control streams carry none).
pub fn tar(entries: &[(&str, &[u8], u32, Option<&str>)], finish: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode, link) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match link {
            Some(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, t).unwrap();
            }
            None if path.ends_with('/') => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_cksum();
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
            None => {
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append_data(&mut h, path, *data).unwrap();
            }
        }
    }
    if finish {
        b.into_inner().unwrap()
    } else {
        b.get_ref().clone()
    }
}

pub fn signature_stream(key: &SigningKey, signed: &[u8]) -> Vec<u8> {
    let sig = key.sign(SigKind::Sha256, signed).unwrap();
    let name = signature_member_name(SigKind::Sha256, key.name());
    gzip(&tar(&[(&name, &sig, 0o644, None)], false))
}

/// A package of the test repository.
pub struct Pkg<'a> {
    /// `pkgname`.
    pub name: &'a str,
    /// `pkgver`.
    pub version: &'a str,
    /// More `.PKGINFO` lines (`provides = …` lines also become `p:` in the index).
    pub extra: &'a str,
    /// `(path, content, mode, symlink target)`; a path ending in `/` is a directory.
    pub files: Vec<(&'a str, &'a [u8], u32, Option<&'a str>)>,
}

impl<'a> Pkg<'a> {
    /// A stand-in package `name` 1.0-r0 holding `files` (for examples whose own repository cannot
    /// be reached).
    pub fn stand_in(name: &'a str, files: Vec<(&'a str, &'a [u8], u32, Option<&'a str>)>) -> Self {
        Pkg {
            name,
            version: "1.0-r0",
            extra: "",
            files,
        }
    }

    /// A stand-in `wolfi-baselayout`: Wolfi's os-release.
    pub fn wolfi_baselayout() -> Pkg<'static> {
        Pkg::stand_in(
            "wolfi-baselayout",
            vec![
                ("etc/", b"", 0o755, None),
                ("etc/os-release", b"ID=wolfi\nNAME=\"Wolfi\"\n", 0o644, None),
            ],
        )
    }
}

/// Writes a signed APK repository for x86_64 under `root`; returns the public key's path.
pub fn signed_repo(root: &Path, pkgs: &[Pkg]) -> PathBuf {
    let key = test_key();
    write_arch(root, "x86_64", &key, pkgs);
    write_public_key(root, &key)
}

/// A fresh RSA key named [`KEY_NAME`].
pub fn test_key() -> SigningKey {
    SigningKey::generate(2048).unwrap().with_name(KEY_NAME)
}

/// Writes `root/KEY_NAME` (the public key, as a keyring entry names it); returns its path.
pub fn write_public_key(root: &Path, key: &SigningKey) -> PathBuf {
    let pub_path = root.join(KEY_NAME);
    std::fs::write(&pub_path, key.public_key().to_pem().unwrap()).unwrap();
    pub_path
}

/// Writes the packages and the signed index of one architecture under `root/<apk_arch>`.
pub fn write_arch(root: &Path, apk_arch: &str, key: &SigningKey, pkgs: &[Pkg]) {
    let arch = root.join(apk_arch);
    std::fs::create_dir_all(&arch).unwrap();
    let mut index = String::new();
    for p in pkgs {
        let data = gzip(&tar(&p.files, true));
        let datahash = hex::encode(sha2::Sha256::digest(&data));
        let size: usize = p.files.iter().map(|f| f.1.len()).sum();
        let pkginfo = format!(
            "pkgname = {}\npkgver = {}\npkgdesc = test\nurl = https://example.org\narch = {apk_arch}\nlicense = MIT\nsize = {size}\nbuilddate = 1700000000\n{}datahash = {datahash}\n",
            p.name, p.version, p.extra
        );
        let control = gzip(&tar(
            &[(".PKGINFO", pkginfo.as_bytes(), 0o644, None)],
            false,
        ));
        let mut apk = signature_stream(key, &control);
        apk.extend_from_slice(&control);
        apk.extend_from_slice(&data);
        let c = whittle_apk::package::ApkPackage::open("test", &apk)
            .unwrap()
            .control_checksum_q1();
        index.push_str(&format!(
            "C:{c}\nP:{}\nV:{}\nA:{apk_arch}\nS:{}\nI:{size}\nT:test\nU:https://example.org\nL:MIT\n{}\n",
            p.name,
            p.version,
            apk.len(),
            p.extra
                .lines()
                .filter_map(|l| l.strip_prefix("provides = "))
                .map(|v| format!("p:{v}\n"))
                .collect::<String>()
        ));
        std::fs::write(arch.join(format!("{}-{}.apk", p.name, p.version)), apk).unwrap();
    }
    let body = gzip(&tar(
        &[
            ("DESCRIPTION", b"whittle test", 0o644, None),
            ("APKINDEX", index.as_bytes(), 0o644, None),
        ],
        true,
    ));
    let mut file = signature_stream(key, &body);
    file.extend_from_slice(&body);
    std::fs::write(arch.join("APKINDEX.tar.gz"), file).unwrap();
}

/// The content of `member` in the data of the `.apk` at `path` (read by whittle's own
/// [`whittle_apk::package::ApkPackage::for_each_data_entry`]), as text; `None` when the package
/// has no such member.
pub fn member_text(path: &Path, member: &str) -> Option<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pkg = whittle_apk::package::ApkPackage::open(&path.display().to_string(), &bytes).unwrap();
    let mut text = None;
    pkg.for_each_data_entry(|e| {
        if e.path == member {
            text = Some(String::from_utf8_lossy(e.data).into_owned());
        }
        Ok::<(), whittle_apk::package::Error>(())
    })
    .unwrap();
    text
}
