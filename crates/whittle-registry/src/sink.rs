//! Writing a plan's image to local destinations: an OCI layout directory (atomic, every blob
//! verified while copied), an `oci-archive` or a `docker-archive` tar (streamed, verified).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest as _, Sha256};
use whittle_oci::{
    ANNOTATION_REF_NAME, Descriptor, DockerReference, Index, StagedFile, StagedLayout,
};

use crate::Options;
use crate::error::{Error, Result};
use crate::plan::{BlobSource, Doc, Plan, require_hex};
use crate::push::parallel;

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Hashes and counts what passes through; fails on the first byte past `size`, and at EOF on a
/// digest or size mismatch (errors carrying a [`Mismatch`], see [`read_error`]).
pub(crate) struct Verify<R> {
    inner: R,
    hasher: Sha256,
    digest: String,
    size: u64,
    seen: u64,
    checked: bool,
}

/// How a blob differs from its descriptor.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Mismatch {
    /// More bytes than declared.
    #[error("blob {digest} is longer than the {declared} bytes its descriptor declares")]
    Longer { digest: String, declared: u64 },
    /// Fewer bytes than declared.
    #[error("blob {digest} has {actual} bytes, its descriptor declares {declared}")]
    Shorter {
        digest: String,
        declared: u64,
        actual: u64,
    },
    /// Another digest.
    #[error("blob {digest} has digest {actual}: corrupt or tampered with")]
    Digest { digest: String, actual: String },
}

impl<R: Read> Verify<R> {
    pub(crate) fn new(inner: R, digest: &str, size: u64) -> Self {
        Verify {
            inner,
            hasher: Sha256::new(),
            digest: digest.to_string(),
            size,
            seen: 0,
            checked: false,
        }
    }
}

impl<R: Read> Read for Verify<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let bad = |m: Mismatch| Err(io::Error::new(io::ErrorKind::InvalidData, m));
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        self.hasher.update(chunk);
        self.seen += n as u64;
        if self.seen > self.size {
            return bad(Mismatch::Longer {
                digest: self.digest.clone(),
                declared: self.size,
            });
        }
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            if self.seen != self.size {
                return bad(Mismatch::Shorter {
                    digest: self.digest.clone(),
                    declared: self.size,
                    actual: self.seen,
                });
            }
            let actual = format!(
                "sha256:{}",
                hex::encode(std::mem::take(&mut self.hasher).finalize())
            );
            if actual != self.digest {
                return bad(Mismatch::Digest {
                    digest: self.digest.clone(),
                    actual,
                });
            }
        }
        Ok(n)
    }
}

/// The error for a failed read of blob `digest` (declared `size`) from `source`: a size or
/// digest mismatch (never retried), or a transfer failure (retried when it may pass).
pub(crate) fn read_error(
    e: io::Error,
    source: &str,
    digest: &str,
    size: u64,
    budget: &whittle_fetch::Budget,
) -> Error {
    let what = || format!("blob {digest} from {source}");
    match e.get_ref().and_then(|i| i.downcast_ref::<Mismatch>()) {
        Some(Mismatch::Longer { .. }) => Error::BlobSize {
            what: what(),
            declared: size,
            actual: None,
        },
        Some(Mismatch::Shorter { actual, .. }) => Error::BlobSize {
            what: what(),
            declared: size,
            actual: Some(*actual),
        },
        Some(Mismatch::Digest { actual, .. }) => Error::DigestMismatch {
            what: what(),
            expected: digest.to_string(),
            actual: actual.clone(),
        },
        // a local source's own check (a docker-archive layer against its diff ID): the bytes
        // are wrong, another reading will not mend them, and no registry is involved
        None if e.kind() == io::ErrorKind::InvalidData
            && e.get_ref()
                .is_some_and(|i| !i.is::<whittle_fetch::Stop>() && !i.is::<ureq::Error>()) =>
        {
            Error::Invalid(format!("{}: {e}", what()))
        }
        None => match whittle_fetch::Stop::from_io(e, budget.limits()) {
            whittle_fetch::Stop::TooLong => Error::BlobSize {
                what: what(),
                declared: size,
                actual: None,
            },
            stop => Error::Http {
                method: "GET".into(),
                url: source.to_string(),
                attempts: 1,
                stop,
            },
        },
    }
}

/// Copies `r` into `w`, telling read failures (`Ok(Err)`) from write failures (`Err`).
fn pump(r: &mut dyn Read, w: &mut dyn Write) -> io::Result<Result<u64, io::Error>> {
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let got = match r.read(&mut buf) {
            Ok(0) => return Ok(Ok(n)),
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Ok(Err(e)),
        };
        w.write_all(buf.get(..got).unwrap_or_default())?;
        n += got as u64;
    }
}

/// The `index.json` entry for the plan's top document.
fn top_descriptor(plan: &Plan, tag: Option<&str>) -> Result<Descriptor> {
    let top = plan.top()?;
    let mut d = top.descriptor();
    if plan.index.is_some() {
        d.platform = None;
    }
    if let Some(t) = tag {
        d.annotations
            .insert(ANNOTATION_REF_NAME.into(), t.to_string());
    }
    Ok(d)
}

fn index_json(plan: &Plan, tag: Option<&str>) -> Result<Vec<u8>> {
    serde_json::to_vec(&Index::new(vec![top_descriptor(plan, tag)?]))
        .map_err(|e| Error::Invalid(format!("serializing index.json: {e}")))
}

fn all_docs(plan: &Plan) -> impl Iterator<Item = &Doc> {
    plan.images.iter().chain(plan.index.iter())
}

/// Copy one blob into `dir/blobs/sha256/<hex>`, verifying it; a blob already in `reuse` (an
/// existing layout) is copied from there instead. Transfer failures that may pass are retried
/// under the budget; a blob that differs from its descriptor is refused at once.
fn copy_blob(
    blobs: &dyn BlobSource,
    digest: &str,
    size: u64,
    dir: &Path,
    reuse: Option<&Path>,
    budget: &whittle_fetch::Budget,
) -> Result<u64> {
    let hex = require_hex(digest, "blob")?;
    let dest = dir.join("blobs/sha256").join(hex);
    if let Some(old) = reuse.map(|r| r.join("blobs/sha256").join(hex))
        && fs::metadata(&old).is_ok_and(|m| m.len() == size)
    {
        let mut v = Verify::new(
            File::open(&old).map_err(Error::io("opening", &old))?,
            digest,
            size,
        );
        let mut out = File::create(&dest).map_err(Error::io("creating", &dest))?;
        if io::copy(&mut v, &mut out).is_ok() {
            return Ok(0);
        }
    }
    let mut attempts = 0;
    budget
        .retry(Error::is_transient, |n| {
            attempts = n;
            let mut v = Verify::new(blobs.open(digest, size)?, digest, size);
            let mut out = BufWriter::with_capacity(
                1 << 20,
                File::create(&dest).map_err(Error::io("creating", &dest))?,
            );
            let copied = pump(&mut v, &mut out).map_err(Error::io("writing", &dest))?;
            let n = copied.map_err(|e| read_error(e, &blobs.name(digest), digest, size, budget))?;
            out.flush().map_err(Error::io("writing", &dest))?;
            Ok(n)
        })
        .map_err(|e| match e {
            Error::Http {
                method, url, stop, ..
            } => Error::Http {
                method,
                url,
                attempts,
                stop,
            },
            e => e,
        })
}

/// Write the plan's image as an OCI layout at `dest` (atomically: a temporary sibling renamed
/// into place; an existing layout keeps its other tags and blobs, as skopeo's, the same tag is
/// replaced, its blobs reused). Returns bytes fetched.
pub(crate) fn write_layout(
    plan: &Plan,
    blobs: &dyn BlobSource,
    dest: &Path,
    tag: Option<&str>,
    opts: &Options,
    budget: &whittle_fetch::Budget,
) -> Result<u64> {
    let staged = StagedLayout::new(dest)?;
    let unique = plan.unique_blobs();
    let fetched = parallel(&unique, opts.jobs, |(d, s)| {
        copy_blob(blobs, d, *s, staged.path(), staged.replaced(), budget)
    })?;
    let bdir = staged.blobs_dir();
    for doc in all_docs(plan) {
        let hex = require_hex(&doc.digest, "manifest")?;
        let p = bdir.join(hex);
        fs::write(&p, &doc.bytes).map_err(Error::io("writing", &p))?;
    }
    let idx = staged.path().join("index.json");
    let index = staged.index_json_keeping_others(&top_descriptor(plan, tag)?)?;
    fs::write(&idx, index).map_err(Error::io("writing", &idx))?;
    let ol = staged.path().join("oci-layout");
    fs::write(&ol, OCI_LAYOUT).map_err(Error::io("writing", &ol))?;
    staged.commit()?;
    Ok(fetched.iter().sum())
}

/// Write the plan's image as a tar: an OCI layout (`oci-archive`), plus Docker's
/// `manifest.json` when `docker` is given (`docker-archive`, one image only). Atomic.
pub(crate) fn write_archive(
    plan: &Plan,
    blobs: &dyn BlobSource,
    dest: &Path,
    tag: Option<&str>,
    docker: Option<Option<&DockerReference>>,
    budget: &whittle_fetch::Budget,
) -> Result<()> {
    let staged = StagedFile::new(dest)?;
    let mut index_tag = tag.map(str::to_string);
    let docker_manifest = match docker {
        None => None,
        Some(r) => {
            let img = match (&plan.index, plan.images.as_slice()) {
                (None, [one]) => one,
                _ => {
                    return Err(Error::Invalid(
                        "docker-archive holds one image but the source is multi-platform; pick one with --platform or write oci:/oci-archive:".into(),
                    ));
                }
            };
            let path = |d: &str| -> Result<String> {
                Ok(format!("blobs/sha256/{}", require_hex(d, "blob")?))
            };
            let mut it = img.blobs.iter();
            let config = it
                .next()
                .ok_or_else(|| Error::Invalid("the manifest has no config".into()))?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Entry {
                config: String,
                repo_tags: Vec<String>,
                layers: Vec<String>,
            }
            let entry = Entry {
                config: path(&config.0)?,
                repo_tags: r.map(|r| vec![r.familiar()]).unwrap_or_default(),
                layers: it.map(|(d, _)| path(d)).collect::<Result<_>>()?,
            };
            if let Some(r) = r {
                index_tag = Some(r.tag.clone().unwrap_or_else(|| "latest".into()));
            }
            Some(
                serde_json::to_vec(&[entry])
                    .map_err(|e| Error::Invalid(format!("serializing manifest.json: {e}")))?,
            )
        }
    };
    let werr = Error::io("writing", staged.path());
    let result = (|| -> io::Result<()> {
        let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, staged.file()));
        let head = |path: &str, size: u64, dir: bool| -> io::Result<tar::Header> {
            let mut h = tar::Header::new_ustar();
            h.set_path(path)?;
            h.set_size(size);
            h.set_mode(if dir { 0o755 } else { 0o644 });
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_cksum();
            Ok(h)
        };
        tar.append(&head("blobs/", 0, true)?, io::empty())?;
        tar.append(&head("blobs/sha256/", 0, true)?, io::empty())?;
        // Sorted by path, like whittle's own archives.
        let mut files: BTreeMap<String, Either> = BTreeMap::new();
        for (d, s) in plan.unique_blobs() {
            let hex = digest_hex_io(&d)?;
            files.insert(format!("blobs/sha256/{hex}"), Either::Blob(d, s));
        }
        for doc in all_docs(plan) {
            let hex = digest_hex_io(&doc.digest)?;
            files.insert(
                format!("blobs/sha256/{hex}"),
                Either::Bytes(doc.bytes.clone()),
            );
        }
        let idx = index_json(plan, index_tag.as_deref()).map_err(io::Error::other)?;
        files.insert("index.json".into(), Either::Bytes(idx));
        if let Some(m) = &docker_manifest {
            files.insert("manifest.json".into(), Either::Bytes(m.clone()));
        }
        files.insert("oci-layout".into(), Either::Bytes(OCI_LAYOUT.to_vec()));
        for (path, f) in files {
            match f {
                Either::Bytes(b) => {
                    tar.append(&head(&path, b.len() as u64, false)?, b.as_slice())?
                }
                Either::Blob(d, s) => {
                    // what is streamed into the archive cannot be taken back: only opening
                    // the blob is retried
                    let r = budget
                        .retry(Error::is_transient, |_| blobs.open(&d, s))
                        .map_err(io::Error::other)?;
                    tar.append(&head(&path, s, false)?, Verify::new(r, &d, s))?
                }
            }
        }
        let mut out = tar.into_inner()?;
        out.flush()
    })();
    result.map_err(werr)?;
    Ok(staged.commit()?)
}

enum Either {
    Bytes(Vec<u8>),
    Blob(String, u64),
}

fn digest_hex_io(d: &str) -> io::Result<String> {
    require_hex(d, "blob")
        .map(str::to_string)
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_accepts_exact_content_and_rejects_others() {
        let d = whittle_oci::sha256_digest(b"hello");
        let mut out = Vec::new();
        Verify::new(&b"hello"[..], &d, 5)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        let budget = whittle_fetch::Limits::default().start().unwrap();
        let fail = |data: &'static [u8]| {
            let e = Verify::new(data, &d, 5)
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            let msg = e.to_string();
            (read_error(e, "there", &d, 5, &budget), msg)
        };
        // a local reader's verdict (whittle-oci's diff ID check) is final, not a network fault
        let local = read_error(
            io::Error::new(
                io::ErrorKind::InvalidData,
                "`docker-archive:x.tar`: layer 1 is corrupt or was tampered with",
            ),
            "the local image",
            &d,
            5,
            &budget,
        );
        assert!(!local.is_transient(), "{local}");
        assert!(!local.to_string().contains("registry"), "{local}");
        let (e, msg) = fail(b"hellx");
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
        assert!(msg.contains("tampered") && msg.contains(&d), "{msg}");
        let (e, msg) = fail(b"hello!");
        assert!(
            matches!(
                e,
                Error::BlobSize {
                    declared: 5,
                    actual: None,
                    ..
                }
            ),
            "{e}"
        );
        assert!(msg.contains("longer") && msg.contains(&d), "{msg}");
        let (e, _) = fail(b"hell");
        assert!(
            matches!(
                e,
                Error::BlobSize {
                    actual: Some(4),
                    ..
                }
            ),
            "{e}"
        );
        assert!(!e.is_transient());
    }

    #[test]
    fn a_blob_is_refused_at_the_first_byte_past_its_size() {
        let d = whittle_oci::sha256_digest(b"hello");
        let mut v = Verify::new(std::io::repeat(0), &d, 5);
        let mut buf = [0u8; 4];
        assert_eq!(v.read(&mut buf).unwrap(), 4);
        assert!(v.read(&mut buf).is_err(), "8 > 5 bytes");
    }
}
