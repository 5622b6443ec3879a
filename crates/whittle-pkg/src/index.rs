//! Writing signed `APKINDEX.tar.gz` files: a signature stream over the index stream, which holds
//! `APKINDEX` (one record per package, fields in apk-tools' order `C P V A S I T U L o m t c k D
//! p i`) and `DESCRIPTION`.

use std::path::Path;

use whittle_apk::package::ApkPackage;
use whittle_apk::sign::{SigKind, SigningKey};
use whittle_apk::version::Version;

use crate::apk::{gzip, signature_stream};
use crate::tarw::{self, Kind, Member};
use crate::{Error, Result};

/// Most `.apk` files one index covers.
pub const MAX_PACKAGES: usize = 100_000;

/// One package's index record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record text, ending with an empty line.
    pub text: String,
    /// Package name (sort key).
    pub name: String,
    /// Package version (sort key).
    pub version: String,
}

/// The index record of the package `bytes` (`origin` names it in errors). Its data hash is
/// checked first: a damaged package is refused instead of indexed.
pub fn record(origin: &str, bytes: &[u8]) -> Result<Record> {
    let pkg = ApkPackage::open(origin, bytes)?;
    if !pkg.verify_datahash()? {
        return Err(Error::Invalid {
            what: origin.to_string(),
            message: ".PKGINFO has no datahash; rebuild the package with `whittle pkg build`"
                .into(),
        });
    }
    let i = pkg.pkginfo();
    let mut t = String::new();
    let mut f = |k: char, v: &str| {
        t.push(k);
        t.push(':');
        t.push_str(v);
        t.push('\n');
    };
    f('C', &pkg.control_checksum_q1());
    f('P', &i.pkgname);
    f('V', &i.pkgver);
    f('A', i.arch.as_deref().unwrap_or("noarch"));
    f('S', &bytes.len().to_string());
    f('I', &i.size.unwrap_or(0).to_string());
    f('T', i.pkgdesc.as_deref().unwrap_or(""));
    if let Some(u) = i.url.as_deref().filter(|u| !u.is_empty()) {
        f('U', u);
    }
    if let Some(l) = &i.license {
        f('L', l);
    }
    f('o', i.origin.as_deref().unwrap_or(&i.pkgname));
    if let Some(m) = &i.maintainer {
        f('m', m);
    }
    f('t', &i.builddate.unwrap_or(0).to_string());
    if let Some(c) = &i.commit {
        f('c', c);
    }
    if let Some(k) = i.provider_priority {
        f('k', &k.to_string());
    }
    for (k, list) in [('D', &i.depend), ('p', &i.provides), ('i', &i.install_if)] {
        if !list.is_empty() {
            f(k, &list.join(" "));
        }
    }
    t.push('\n');
    Ok(Record {
        text: t,
        name: i.pkgname.clone(),
        version: i.pkgver.clone(),
    })
}

/// The `APKINDEX` text of `records`, sorted by name then version (apk-tools' ordering).
pub fn index_text(mut records: Vec<Record>) -> String {
    records.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| Version::new_lenient(&a.version).cmp(&Version::new_lenient(&b.version)))
    });
    records.into_iter().map(|r| r.text).collect()
}

/// A signed `APKINDEX.tar.gz` of the index text `apkindex`.
pub fn write_index(
    apkindex: &str,
    description: &str,
    key: &SigningKey,
    kind: SigKind,
) -> Result<Vec<u8>> {
    let mut tar = Vec::new();
    for (name, body) in [
        ("APKINDEX", apkindex.as_bytes()),
        ("DESCRIPTION", description.as_bytes()),
    ] {
        tarw::append(
            &mut tar,
            &Member {
                path: name,
                kind: Kind::File,
                mode: 0o644,
                mtime: 0,
                link: "",
                data: body,
                pax: Vec::new(),
            },
        );
    }
    tarw::finish(&mut tar);
    let stream = gzip(&tar)?;
    let mut out = signature_stream(key, kind, &stream)?;
    out.extend_from_slice(&stream);
    Ok(out)
}

/// Indexes every `*.apk` in `dir` (not below it) into a signed `APKINDEX.tar.gz`, returned with
/// the number of packages.
pub fn index_dir(
    dir: &Path,
    description: &str,
    key: &SigningKey,
    kind: SigKind,
) -> Result<(Vec<u8>, usize)> {
    let io = |source| Error::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "apk") && p.is_file())
        .collect();
    files.sort();
    if files.len() > MAX_PACKAGES {
        return Err(Error::Invalid {
            what: dir.display().to_string(),
            message: format!("more than {MAX_PACKAGES} packages; split the repository"),
        });
    }
    let mut records = Vec::with_capacity(files.len());
    for f in &files {
        let bytes = std::fs::read(f).map_err(|source| Error::Io {
            path: f.display().to_string(),
            source,
        })?;
        records.push(record(&f.display().to_string(), &bytes)?);
    }
    let n = records.len();
    Ok((
        write_index(&index_text(records), description, key, kind)?,
        n,
    ))
}

/// Re-signs an existing `APKINDEX.tar.gz`: its signatures are replaced by one of `kind` by
/// `key`; the index stream is kept byte for byte.
pub fn sign_index(origin: &str, bytes: &[u8], key: &SigningKey, kind: SigKind) -> Result<Vec<u8>> {
    let split = whittle_apk::index::split_index(origin, bytes)?;
    let mut out = signature_stream(key, kind, split.index_stream)?;
    out.extend_from_slice(split.index_stream);
    Ok(out)
}
