//! The Debian package source: a signed `InRelease`, verified `Packages` indexes, and the package
//! list of one repository line for one architecture.

use crate::freshness::{Observed, ReleaseHistory};
use crate::{Error, Events};
use std::io::Read;
use std::path::PathBuf;
use whittle_deb::release::{Error as ReleaseError, Keyring, Release, VerifyOptions, fmt_time};
use whittle_fetch::{Fetcher, Request};

/// Largest `InRelease` accepted (the real ones are ~150 KB).
const MAX_INRELEASE: u64 = 16 << 20;
/// Largest decompressed `Packages` index accepted (bookworm main amd64 is ~45 MB).
const MAX_PACKAGES: u64 = 1 << 30;

/// One Debian repository line of the config, with `host:` URIs already resolved.
#[derive(Debug, Clone)]
pub struct DebRepo {
    /// The line as written, for messages.
    pub line: String,
    /// Base URI (`http(s)://`, `file://` or a path), without a trailing slash.
    pub uri: String,
    /// The URI as a lock records it: as written (`host:debian` stays symbolic), without a
    /// trailing slash.
    pub lock_uri: String,
    /// The suite (`bookworm`).
    pub suite: String,
    /// Components (`main`).
    pub components: Vec<String>,
    /// Keyrings that may sign its `InRelease`.
    pub keyrings: Vec<PathBuf>,
    /// `[check-date=no]` makes this `false`: a Release dated in the future is accepted, and
    /// `Valid-Until` is not checked.
    pub check_date: bool,
    /// `[check-valid-until=no]` makes this `false`: an expired Release is accepted.
    pub check_valid_until: bool,
    /// `[allow-older-release=yes]`: a Release older than the newest one seen is accepted.
    pub allow_older_release: bool,
}

/// A repository whose `InRelease` was verified.
pub struct VerifiedRepo {
    /// The repository.
    pub repo: DebRepo,
    /// The verified Release.
    pub release: Release,
    /// SHA-256 (lowercase hex) of the verified `InRelease`: what a lock records of it.
    pub inrelease_sha256: String,
}

impl VerifiedRepo {
    /// The `dists/SUITE` URL.
    pub fn dist(&self) -> String {
        format!("{}/dists/{}", self.repo.uri, self.repo.suite)
    }

    /// The SHA-256 the signed Release gives for each component's uncompressed `Packages`
    /// (`None` if it lists none for some component): what the package index content is.
    pub fn packages_identity(&self, arch: &str) -> Option<Vec<String>> {
        self.repo
            .components
            .iter()
            .map(|c| {
                self.release
                    .find(&format!("{c}/binary-{arch}/Packages"))
                    .map(|e| e.sha256.clone())
            })
            .collect()
    }

    /// `(origin, text)` of the verified `Packages` index of each component.
    pub fn packages(&self, arch: &str, fetcher: &Fetcher) -> Result<Vec<(String, String)>, Error> {
        let dist = self.dist();
        self.repo
            .components
            .iter()
            .map(|comp| {
                let text = fetch_packages(&self.repo, &dist, &self.release, comp, arch, fetcher)?;
                Ok((format!("{dist}/{comp}/binary-{arch}/Packages"), text))
            })
            .collect()
    }
}

fn repo_err(repo: &DebRepo, message: impl Into<String>) -> Error {
    Error::Repository {
        line: repo.line.clone(),
        message: message.into(),
    }
}

/// Where a Debian repository's signing keys are configured, for error hints.
pub(crate) const DEB_KEYS: &str = "`signed-by=` (or `contents.keyring`)";

/// Fetches and verifies the `InRelease` of one repository: its signatures, its `Date` and
/// `Valid-Until` against the clock, and its `Date` against the newest Release of the same
/// repository accepted before (see [`crate::freshness`]).
pub fn verify(
    repo: &DebRepo,
    fetcher: &Fetcher,
    insecure_unsigned: bool,
    events: &dyn Events,
) -> Result<VerifiedRepo, Error> {
    let dist = format!("{}/dists/{}", repo.uri, repo.suite);
    let inrelease_url = format!("{dist}/InRelease");
    let bytes = fetcher.fetch_mutable(&inrelease_url, MAX_INRELEASE)?;
    let mut keyring = Keyring::new();
    for path in &repo.keyrings {
        let data = whittle_deb::release::read_keyring_file(path).map_err(|e| {
            repo_err(
                repo,
                format!(
                    "cannot read keyring {}: {e}; give an existing OpenPGP keyring in \
                     [signed-by=...] or contents.keyring",
                    path.display()
                ),
            )
        })?;
        keyring.extend(
            Keyring::from_bytes(&path.display().to_string(), &data)
                .map_err(|e| repo_err(repo, e.to_string()))?,
        );
    }
    let release = if insecure_unsigned {
        events.warn(&format!(
            "{inrelease_url}: signature NOT verified (--insecure-allow-unsigned-repositories)"
        ));
        let text = String::from_utf8_lossy(&bytes);
        let body = strip_clearsign(&text);
        Release::parse_unsigned(&inrelease_url, &body).map_err(|e| repo_err(repo, e.to_string()))?
    } else {
        if keyring.is_empty() {
            return Err(repo_err(
                repo,
                "no keyring to verify this repository: add [signed-by=KEYRING] to the line or \
                 list the keyring in contents.keyring",
            ));
        }
        let opts = VerifyOptions {
            check_date: repo.check_date,
            check_valid_until: repo.check_valid_until,
            ..VerifyOptions::now()
        };
        let release =
            whittle_deb::release::verify_inrelease(&inrelease_url, &bytes, &keyring, opts)
                .map_err(|e| match e {
                    // the signature is fine; the clock says no
                    ReleaseError::ReleaseExpired { .. }
                    | ReleaseError::ReleaseNotYetValid { .. } => repo_err(repo, e.to_string()),
                    e => Error::Signature {
                        line: repo.line.clone(),
                        message: e.to_string(),
                        keys: DEB_KEYS,
                    },
                })?;
        check_not_older(repo, &inrelease_url, &release, fetcher, events)?;
        release
    };
    Ok(VerifiedRepo {
        repo: repo.clone(),
        release,
        inrelease_sha256: whittle_fetch::sha256_hex(&bytes),
    })
}

/// Refuses a Release older than the newest one accepted before for the same repository (URI,
/// suite, signing key), unless the line says `allow-older-release=yes`; records it otherwise.
fn check_not_older(
    repo: &DebRepo,
    url: &str,
    release: &Release,
    fetcher: &Fetcher,
    events: &dyn Events,
) -> Result<(), Error> {
    let Some(date) = release.date else {
        return Ok(()); // nothing to compare (Debian's Releases always have a Date)
    };
    let history = ReleaseHistory::new(fetcher.cache().root());
    let observed = history
        .observe(&repo.uri, &repo.suite, &release.signed_by, date)
        .unwrap_or_else(|e| Observed::NotRecorded(e.to_string()));
    match observed {
        Observed::Fresh => Ok(()),
        Observed::NotRecorded(why) => {
            events.warn(&format!(
                "{url}: the date of this Release could not be recorded in the cache ({why}); a later build with this cache cannot tell whether an older Release is replayed"
            ));
            Ok(())
        }
        Observed::Older { newest, key } if repo.allow_older_release => {
            events.warn(&format!(
                "{url}: this Release is dated {}, older than the one accepted before ({}, signed by key {key}); used because of allow-older-release=yes",
                fmt_time(date),
                fmt_time(newest)
            ));
            Ok(())
        }
        Observed::Older { newest, key } => Err(Error::OlderRelease {
            line: repo.line.clone(),
            url: url.to_string(),
            date: fmt_time(date),
            newest: fmt_time(newest),
            key,
        }),
    }
}

/// The decompressed `Packages` text of one component, verified against the Release's SHA-256 of
/// the uncompressed index when it lists one (and then cached decompressed, so that a warm build
/// skips decompression), else against the compressed file's.
fn fetch_packages(
    repo: &DebRepo,
    dist: &str,
    release: &Release,
    comp: &str,
    arch: &str,
    fetcher: &Fetcher,
) -> Result<String, Error> {
    let base = format!("{comp}/binary-{arch}/Packages");
    let plain = release.find(&base).cloned();
    if let Some(entry) = &plain
        && let Some(bytes) = fetcher.cache().get(&entry.sha256)?
    {
        return into_text(repo, &base, bytes);
    }
    for ext in ["xz", "gz", ""] {
        let path = if ext.is_empty() {
            base.clone()
        } else {
            format!("{base}.{ext}")
        };
        let Some(entry) = release.find(&path) else {
            continue;
        };
        let req = Request {
            url: format!("{dist}/{path}"),
            sha256: entry.sha256.clone(),
            size: entry.size,
        };
        let compressed = fetcher.fetch(&req)?;
        let limit = plain.as_ref().map_or(MAX_PACKAGES, |p| p.size);
        let (data, actual) = decompress(ext, &compressed, limit)
            .map_err(|e| repo_err(repo, format!("{}: cannot decompress: {e}", req.url)))?;
        if let Some(p) = &plain {
            if actual != p.sha256 || data.len() as u64 != p.size {
                return Err(repo_err(
                    repo,
                    format!(
                        "{}: decompressed index does not match the SHA-256 the signed Release \
                         gives for {base}; refusing it",
                        req.url
                    ),
                ));
            }
            fetcher.cache().put(&p.sha256, &data)?;
        }
        return into_text(repo, &base, data);
    }
    Err(repo_err(
        repo,
        format!(
            "the Release of suite {} lists no {base}(.xz|.gz): is `{comp}` a component and \
             `{arch}` an architecture of this repository? It has components [{}] and \
             architectures [{}]",
            repo.suite,
            release.components.join(", "),
            release.architectures.join(", ")
        ),
    ))
}

fn into_text(repo: &DebRepo, what: &str, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| repo_err(repo, format!("{what} is not UTF-8 text")))
}

/// The most memory the threads decoding an `.xz` index may take for their blocks; past it
/// liblzma decodes on one thread.
const XZ_THREADS_MEMORY: u64 = 256 << 20;

/// `data` (a verified index, compressed as `ext` says) decompressed, at most `limit` bytes, and
/// the SHA-256 of that (lowercase hex), hashed as it is decoded. An `.xz` file of several blocks
/// (Debian's `Packages.xz` has two) is decoded on all cores, while this thread hashes.
fn decompress(ext: &str, data: &[u8], limit: u64) -> std::io::Result<(Vec<u8>, String)> {
    let mut out = Vec::with_capacity(usize::try_from(limit.min(256 << 20)).unwrap_or(0));
    let reader: Box<dyn Read + '_> = match ext {
        "xz" => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let stream = liblzma::stream::MtStreamBuilder::new()
                .threads(u32::try_from(threads).unwrap_or(1))
                .memlimit_threading(XZ_THREADS_MEMORY)
                .memlimit_stop(u64::MAX)
                .decoder()
                .map_err(std::io::Error::other)?;
            Box::new(liblzma::read::XzDecoder::new_stream(data, stream))
        }
        "gz" => Box::new(flate2::read::GzDecoder::new(data)),
        _ => Box::new(data),
    };
    let mut hashing = Hashing {
        inner: reader.take(limit.saturating_add(1)),
        hasher: sha2::Sha256::default(),
    };
    hashing.read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "larger than the {limit} bytes the Release promises"
        )));
    }
    Ok((out, hex::encode(sha2::Digest::finalize(hashing.hasher))))
}

/// A reader that hashes what it reads.
struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// The signed text of a clear-signed message without checking anything (insecure mode only).
fn strip_clearsign(text: &str) -> String {
    let Some(start) = text.find("\n\n") else {
        return text.to_string();
    };
    if !text
        .trim_start()
        .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
    {
        return text.to_string();
    }
    let body = &text[start + 2..];
    let end = body
        .find("\n-----BEGIN PGP SIGNATURE-----")
        .unwrap_or(body.len());
    body[..end]
        .lines()
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::decompress;

    /// An index in `blocks` `.xz` blocks, made with liblzma's threaded encoder.
    fn xz_blocks(text: &[u8], block_size: u64) -> Vec<u8> {
        use std::io::Write;
        let stream = liblzma::stream::MtStreamBuilder::new()
            .threads(2)
            .block_size(block_size)
            .preset(1)
            .encoder()
            .unwrap();
        let mut w = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        w.write_all(text).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn an_index_of_many_xz_blocks_decodes_whole_hashed_and_within_its_limit() {
        let text: Vec<u8> = (0..40_000)
            .flat_map(|i| format!("Package: p{i}\nVersion: {i}\n\n").into_bytes())
            .collect();
        let len = text.len() as u64;
        for block in [64 << 10, 1 << 30] {
            let xz = xz_blocks(&text, block);
            let (data, sha256) = decompress("xz", &xz, len).unwrap();
            assert_eq!(data, text, "block {block}");
            assert_eq!(sha256, whittle_fetch::sha256_hex(&text));
            let err = decompress("xz", &xz, len - 1).unwrap_err();
            assert!(err.to_string().contains("larger than"), "{err}");
            let mut bad = xz.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0xff;
            assert!(
                decompress("xz", &bad, len).is_err(),
                "a damaged block is an error"
            );
        }
    }
}
