//! The content-addressed cache: `blobs/sha256/<hex>` verified on every read, `urls/<hex>` holding
//! the last copy of signature-verified mutable files (InRelease) for offline builds, and
//! `derived/<hex>` records of derived entries, sealed with a key kept outside the cache.
//!
//! # What someone who can write the cache directory can do
//!
//! - Downloaded blobs are named by the SHA-256 a signed index gives and re-hashed on every read:
//!   a replaced blob is dropped and fetched again, never used.
//! - Copies by URL (`urls/`) are only ever used after their own verification (an `InRelease`
//!   signature, an `.apk`'s index checksum and signature).
//! - A derived entry (decompressed package data, a compressed layer, a resolution closure) is a
//!   blob plus a record `derived/<sha256 of key>` naming the blob's SHA-256 and size. The record
//!   carries an HMAC-SHA256 over the key, the SHA-256 and the size, under a 32-byte key stored
//!   *outside* the cache ([`Cache::default_key_path`]). A record moved to another key, edited to
//!   name another blob, or written by anyone who does not hold the key fails its seal; a blob
//!   whose content changed fails its SHA-256. Either is dropped with a warning and the entry is
//!   made again. Entries sealed with another key (a cache copied from another machine or user)
//!   are not trusted and are made again.
//! - What such a person *can* do: delete entries (they are fetched or made again), fill the disk,
//!   or make the cache unwritable (it is then used read-only, with a warning). Whoever can read
//!   the seal key (the same user) can forge derived entries: the key is as sensitive as the
//!   whittle binary itself.
//!
//! Writing never fails a build: a cache that cannot be written (read-only file system, no
//! permission, disk full) is used read-only from then on, with a warning, and is still verified.
//! Temporary files are written under `tmp/` and held with an exclusive `flock` until they are
//! renamed into place; [`Cache::clean_stale`] removes those that no process holds and that are
//! older than [`STALE_AFTER`] (left by a killed build).

use crate::{Error, sha256_hex};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Age after which a temporary file that no process holds is removed by [`Cache::clean_stale`].
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// First line of a derived entry's record.
const RECORD_MAGIC: &str = "whittle derived entry v2";
/// The largest record read (keys are short).
const MAX_RECORD: u64 = 16 << 10;
/// Length of the seal key in bytes.
const KEY_LEN: usize = 32;

/// A content-addressed blob cache rooted in a directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    seal: Seal,
    shared: Arc<Shared>,
    /// The shared tier (`--cache-from`/`--cache-to`) installed in this process, if any.
    remote: Option<Arc<crate::remote::Remote>>,
}

/// The key derived entries are sealed with, or why there is none.
#[derive(Clone)]
enum Seal {
    Key { key: Arc<[u8; KEY_LEN]>, id: String },
    Missing(String),
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seal::Key { id, .. } => write!(f, "Seal::Key({id})"),
            Seal::Missing(why) => write!(f, "Seal::Missing({why})"),
        }
    }
}

/// State shared by the clones of one opened cache.
#[derive(Debug, Default)]
struct Shared {
    /// Why the cache cannot be written, once that is known.
    read_only: Mutex<Option<String>>,
    /// Warnings not yet taken by [`Cache::take_warnings`].
    notices: Mutex<Vec<String>>,
    /// Derived entries sealed with another key, not yet reported.
    foreign: AtomicUsize,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Cache {
        path: path.display().to_string(),
        source,
    }
}

/// Why a derived entry was not used.
enum Reject {
    /// Sealed with another key: not made by this user on this machine.
    Foreign,
    /// Broken, moved or tampered with.
    Bad(String),
}

impl Cache {
    /// Opens (creating it when needed) the cache at `root`, with the seal key at
    /// [`Cache::default_key_path`]. A directory that cannot be written is opened read-only.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let key = Self::default_key_path();
        Self::open_with_key(root, key.as_deref())
    }

    /// Opens the cache at `root` with the seal key in the file `key` (created when missing);
    /// without one, derived entries are neither used nor kept.
    pub fn open_with_key(root: impl Into<PathBuf>, key: Option<&Path>) -> Result<Self, Error> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(io_err(&root)(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory; give another --cache-dir",
            )));
        }
        let seal = match key {
            Some(path) => match load_or_create_key(path) {
                Ok(key) => {
                    let id = sha256_hex(&key[..])[..16].to_string();
                    Seal::Key {
                        key: Arc::new(key),
                        id,
                    }
                }
                Err(why) => Seal::Missing(format!("{}: {why}", path.display())),
            },
            None => Seal::Missing("no state directory to keep the cache key in".into()),
        };
        let cache = Cache {
            root,
            seal,
            shared: Arc::default(),
            remote: crate::remote::installed(),
        };
        if let Seal::Missing(why) = &cache.seal {
            cache.notice(format!(
                "cache key {why}: decompressed packages, layers and resolutions are not cached \
                 (nothing unsealed is trusted); set WHITTLE_CACHE_KEY to a writable file outside \
                 the cache directory"
            ));
        }
        for sub in ["blobs/sha256", "urls", "derived", "tmp"] {
            let p = cache.root.join(sub);
            if let Err(e) = std::fs::create_dir_all(&p) {
                cache.read_only(&p, &e);
                return Ok(cache);
            }
        }
        // one temporary file tells whether anything can be written
        if let Some(tmp) = cache.temp_file() {
            drop(tmp);
        }
        Ok(cache)
    }

    /// This cache with `remote` as its shared tier instead of the one installed in the process
    /// ([`crate::remote::install`]).
    pub fn with_remote(mut self, remote: Option<Arc<crate::remote::Remote>>) -> Self {
        self.remote = remote;
        self
    }

    /// The default location: `$WHITTLE_CACHE_DIR`, else the user's cache directory + `whittle`.
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("WHITTLE_CACHE_DIR") {
            return PathBuf::from(d);
        }
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("whittle")
    }

    /// Where the key that seals derived entries is kept: `$WHITTLE_CACHE_KEY`, else
    /// `whittle/cache.key` in the user's state directory (`~/.local/state`), deliberately not in
    /// the cache directory.
    pub fn default_key_path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("WHITTLE_CACHE_KEY") {
            return Some(PathBuf::from(p));
        }
        dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .map(|d| d.join("whittle").join("cache.key"))
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the entries this process uses are noted for a shared cache (`--cache-to` or
    /// `--cache-from`): then a blob is verified before it is noted, so that a damaged local copy
    /// is fetched again rather than offered to the shared cache.
    pub fn notes_for_shared_cache(&self) -> bool {
        self.remote.is_some()
    }

    /// Whether the cache can be written (a cache that cannot is used read-only).
    pub fn writable(&self) -> bool {
        self.shared
            .read_only
            .lock()
            .map(|r| r.is_none())
            .unwrap_or(false)
    }

    /// Warnings about the cache since the last call (entries that were dropped, a cache that
    /// cannot be written, a missing seal key), each once, for the user to see.
    pub fn take_warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = match self.shared.notices.lock() {
            Ok(mut n) => std::mem::take(&mut *n),
            Err(_) => Vec::new(),
        };
        out.extend(self.remote.iter().flat_map(|r| r.take_warnings()));
        let foreign = self.shared.foreign.swap(0, Ordering::Relaxed);
        if foreign > 0 {
            out.push(format!(
                "cache {}: {foreign} derived entr{} sealed with another cache key (a cache copied \
                 from another machine or user) not trusted; made again",
                self.root.display(),
                if foreign == 1 { "y was" } else { "ies were" }
            ));
        }
        out
    }

    fn notice(&self, msg: String) {
        if let Ok(mut n) = self.shared.notices.lock() {
            n.push(msg);
        }
    }

    /// Turns the cache read-only after a failed write, warning once.
    fn read_only(&self, path: &Path, e: &io::Error) {
        let Ok(mut ro) = self.shared.read_only.lock() else {
            return;
        };
        if ro.is_none() {
            *ro = Some(e.to_string());
            drop(ro);
            self.notice(format!(
                "cache {} cannot be written ({}: {e}); using it read-only: what it holds is \
                 still verified, nothing new is kept",
                self.root.display(),
                path.display()
            ));
        }
    }

    fn blob_path(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| {
            self.root
                .join("blobs/sha256")
                .join(sha256.to_ascii_lowercase())
        })
    }

    /// Whether a blob is present (not verified; [`Cache::get`] verifies).
    pub fn contains(&self, sha256: &str) -> bool {
        self.blob_path(sha256).is_some_and(|p| p.is_file())
    }

    /// The blob with this SHA-256, verified; a corrupt entry is deleted (with a warning) and
    /// reported as absent.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(path) = self.blob_path(sha256) else {
            return Ok(None);
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        if sha256_hex(&bytes).eq_ignore_ascii_case(sha256) {
            Ok(Some(bytes))
        } else {
            self.drop_bad(&path, None, "its content does not match its SHA-256");
            Ok(None)
        }
    }

    /// Removes a bad entry (blob and/or record) and warns about it.
    fn drop_bad(&self, blob: &Path, record: Option<&Path>, why: &str) {
        for p in [Some(blob), record].into_iter().flatten() {
            let _ = std::fs::remove_file(p);
        }
        self.notice(format!(
            "cache entry {} dropped: {why}; it was not used and is fetched or made again",
            record.unwrap_or(blob).display()
        ));
    }

    /// Stores a blob (the caller verified it) atomically; a cache that cannot be written keeps
    /// nothing (see [`Cache::writable`]).
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<(), Error> {
        if let Some(path) = self.blob_path(sha256) {
            self.write_atomic(&path, bytes);
        }
        Ok(())
    }

    fn url_path(&self, url: &str) -> PathBuf {
        self.root.join("urls").join(sha256_hex(url.as_bytes()))
    }

    /// The last stored copy of a mutable file fetched from `url`.
    pub fn get_by_url(&self, url: &str) -> Result<Option<Vec<u8>>, Error> {
        let path = self.url_path(url);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Remembers the copy of a mutable file fetched from `url`.
    pub fn put_by_url(&self, url: &str, bytes: &[u8]) -> Result<(), Error> {
        self.write_atomic(&self.url_path(url), bytes);
        Ok(())
    }

    /// The record of the derived entry `key` (for tools and tests).
    pub fn derived_record_path(&self, key: &str) -> PathBuf {
        self.root.join("derived").join(sha256_hex(key.as_bytes()))
    }

    /// The MAC of a record's fields, or `None` without a key.
    fn seal_of(&self, key: &str, sha256: &str, size: u64) -> Option<Hmac<Sha256>> {
        let Seal::Key { key: secret, .. } = &self.seal else {
            return None;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret[..]).ok()?;
        for field in [RECORD_MAGIC, key, sha256, &size.to_string()] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        Some(mac)
    }

    /// The blob `(sha256, size)` the record of `key` names, if the record is there and its seal
    /// verifies; a bad record is dropped with a warning.
    fn derived_lookup(&self, key: &str) -> Option<(String, u64)> {
        let Seal::Key { id, .. } = &self.seal else {
            return None;
        };
        let path = self.derived_record_path(key);
        let mut text = String::new();
        match File::open(&path) {
            Ok(f) => {
                if f.take(MAX_RECORD).read_to_string(&mut text).is_err() {
                    text.clear();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.derived_from_remote(key),
            Err(_) => return None,
        }
        match self.check_record(&text, key, id) {
            Ok(found) => {
                self.note(Some(key), &found.0, found.1);
                Some(found)
            }
            Err(Reject::Foreign) => {
                self.shared.foreign.fetch_add(1, Ordering::Relaxed);
                let _ = std::fs::remove_file(&path);
                None
            }
            Err(Reject::Bad(why)) => {
                let _ = std::fs::remove_file(&path);
                self.notice(format!(
                    "cache entry {} ({key}) dropped: {why}; it was not used and is made again",
                    path.display()
                ));
                None
            }
        }
    }

    fn check_record(&self, text: &str, key: &str, own_id: &str) -> Result<(String, u64), Reject> {
        let mut lines = text.lines();
        if lines.next() != Some(RECORD_MAGIC) {
            return Err(Reject::Bad("not a derived-entry record".into()));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .map(str::to_string)
                .ok_or_else(|| Reject::Bad(format!("record has no `{name}` line")))
        };
        let (rkey, sha, size, by, seal) = (
            field("key")?,
            field("sha256")?,
            field("size")?,
            field("sealed-by")?,
            field("seal")?,
        );
        if by != own_id {
            return Err(Reject::Foreign);
        }
        let size: u64 = size
            .parse()
            .map_err(|_| Reject::Bad("bad size in record".into()))?;
        let seal = hex::decode(&seal).map_err(|_| Reject::Bad("bad seal in record".into()))?;
        let ok = self
            .seal_of(key, &sha, size)
            .is_some_and(|mac| mac.verify_slice(&seal).is_ok());
        if !ok || rkey != key || self.blob_path(&sha).is_none() {
            return Err(Reject::Bad(
                "its seal does not verify (the record was moved, edited or not written by \
                 whittle with this machine's cache key)"
                    .into(),
            ));
        }
        Ok((sha.to_ascii_lowercase(), size))
    }

    /// Notes an entry used or made, for `--cache-to` (a derived entry with its seal; without a
    /// seal key nothing derived is shared).
    pub(crate) fn note(&self, key: Option<&str>, sha256: &str, size: u64) {
        let Some(r) = &self.remote else { return };
        match key {
            None => r.note(None, sha256, size, None),
            Some(k) => {
                if let Some(seal) = self.seal_text(k, sha256, size) {
                    r.note(Some(k), sha256, size, Some(seal));
                }
            }
        }
    }

    /// `<key id>:<HMAC hex>`: the seal of a derived entry's fields, as a shared cache carries it.
    fn seal_text(&self, key: &str, sha256: &str, size: u64) -> Option<String> {
        let (Some(mac), Seal::Key { id, .. }) = (self.seal_of(key, sha256, size), &self.seal)
        else {
            return None;
        };
        Some(format!("{id}:{}", hex::encode(mac.finalize().into_bytes())))
    }

    /// Whether `seal` (`<key id>:<HMAC hex>`) is this machine's key's seal of the fields.
    fn seal_verifies(&self, key: &str, sha256: &str, size: u64, seal: &str) -> bool {
        let Seal::Key { id, .. } = &self.seal else {
            return false;
        };
        let Some((by, mac)) = seal.split_once(':') else {
            return false;
        };
        let Ok(mac) = hex::decode(mac) else {
            return false;
        };
        by == id
            && self
                .seal_of(key, sha256, size)
                .is_some_and(|m| m.verify_slice(&mac).is_ok())
    }

    /// The blob `sha256` of `size` bytes from the shared tier on a local miss, verified and kept
    /// here; `None` without a shared tier, or when it does not have (a good copy of) it.
    pub(crate) fn get_remote(&self, sha256: &str, size: u64) -> Option<Vec<u8>> {
        let bytes = self.remote.as_ref()?.blob(sha256, size)?;
        self.put(sha256, &bytes).ok()?;
        Some(bytes)
    }

    /// The derived entry `key` from the shared tier's index, when its writer's seal verifies
    /// under this machine's key: its blob (from here when present, else from the shared tier,
    /// verified) and a record sealed with this machine's key.
    fn derived_from_remote(&self, key: &str) -> Option<(String, u64)> {
        let remote = self.remote.as_ref()?;
        let candidates = remote.lookup(key);
        let Some(c) = candidates
            .iter()
            .find(|c| self.seal_verifies(key, &c.sha256, c.size, &c.seal))
        else {
            if !candidates.is_empty() {
                remote.foreign();
            }
            return None;
        };
        let (sha, size) = (c.sha256.clone(), c.size);
        // the caller reads the blob back and verifies it against (sha, size): here a size
        // check is enough, reading and hashing it now would only do that work twice
        let here = self
            .blob_path(&sha)
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.len() == size);
        if !here {
            if !self.writable() {
                return None; // a read-only cache could not keep what it fetched
            }
            self.get_remote(&sha, size)?;
            if !self.contains(&sha) {
                return None; // it turned read-only while writing: nothing kept
            }
        }
        self.write_record(key, &sha, size);
        Some((sha, size))
    }

    fn write_record(&self, key: &str, sha256: &str, size: u64) {
        self.note(Some(key), sha256, size);
        let (Some(mac), Seal::Key { id, .. }) = (self.seal_of(key, sha256, size), &self.seal)
        else {
            return;
        };
        let text = format!(
            "{RECORD_MAGIC}\nkey {key}\nsha256 {sha256}\nsize {size}\nsealed-by {id}\nseal {}\n",
            hex::encode(mac.finalize().into_bytes())
        );
        self.write_atomic(&self.derived_record_path(key), text.as_bytes());
    }

    /// Derived data (a decompressed package, a compressed layer, ...) stored under `key`,
    /// verified: the record's seal binds it to `key`, and the content must match the SHA-256
    /// and size the record gives. `None` when absent or dropped as bad (with a warning).
    pub fn get_derived(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.get_derived_sha256(key)?.map(|(bytes, _)| bytes))
    }

    /// [`Cache::get_derived`] with the SHA-256 (hex) the bytes were just verified against, for
    /// callers that need the digest (a layer's) without hashing the bytes again.
    pub fn get_derived_sha256(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, Error> {
        let Some((sha, size)) = self.derived_lookup(key) else {
            return Ok(None);
        };
        let Some(blob) = self.blob_path(&sha) else {
            return Ok(None);
        };
        let bytes = match std::fs::read(&blob) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&blob)(e)),
        };
        if bytes.len() as u64 == size && sha256_hex(&bytes) == sha {
            Ok(Some((bytes, sha)))
        } else {
            self.drop_bad(
                &blob,
                Some(&self.derived_record_path(key)),
                "its content does not match the SHA-256 its record gives",
            );
            Ok(None)
        }
    }

    /// Like [`Cache::get_derived`], as a stream for entries too large to hold twice: what it
    /// reads is only known good once [`DerivedReader::finish`] returns `true`; until then the
    /// caller must treat it as untrusted and discard what it made from it otherwise.
    pub fn open_derived(&self, key: &str) -> Result<Option<DerivedReader>, Error> {
        let Some((sha256, size)) = self.derived_lookup(key) else {
            return Ok(None);
        };
        let Some(blob) = self.blob_path(&sha256) else {
            return Ok(None);
        };
        let file = match File::open(&blob) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&blob)(e)),
        };
        Ok(Some(DerivedReader {
            file,
            hasher: Sha256::new(),
            read: 0,
            sha256,
            size,
            blob,
            record: self.derived_record_path(key),
            cache: self.clone(),
        }))
    }

    /// Stores derived data under `key` (see [`Cache::get_derived`]).
    pub fn put_derived(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        if matches!(self.seal, Seal::Missing(_)) {
            return Ok(());
        }
        let hex = sha256_hex(bytes);
        self.put(&hex, bytes)?;
        self.write_record(key, &hex, bytes.len() as u64);
        Ok(())
    }

    /// A writer for derived data too large to hold in memory: fed piece by piece, kept under
    /// `key` by [`DerivedWriter::commit`]. `None` when the cache keeps no derived entries (read
    /// only, or no seal key).
    pub fn create_derived(&self, key: &str) -> Option<DerivedWriter> {
        if matches!(self.seal, Seal::Missing(_)) || !self.writable() {
            return None;
        }
        let tmp = self.temp_file()?;
        Some(DerivedWriter {
            tmp: Some(tmp),
            hasher: Sha256::new(),
            size: 0,
            key: key.to_string(),
            cache: self.clone(),
        })
    }

    /// A new temporary file in `tmp/`, locked until it is renamed or dropped; `None` (and the
    /// cache read-only) when it cannot be made.
    fn temp_file(&self) -> Option<tempfile::NamedTempFile> {
        if !self.writable() {
            return None;
        }
        let dir = self.root.join("tmp");
        let made = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .and_then(|t| t.as_file().lock().map(|()| t));
        match made {
            Ok(t) => Some(t),
            Err(e) => {
                self.read_only(&dir, &e);
                None
            }
        }
    }

    fn write_atomic(&self, dest: &Path, bytes: &[u8]) {
        let Some(mut tmp) = self.temp_file() else {
            return;
        };
        let done = tmp
            .write_all(bytes)
            .and_then(|()| tmp.persist(dest).map(drop).map_err(|e| e.error));
        if let Err(e) = done {
            self.read_only(dest, &e);
        }
    }

    /// Removes the temporary files under `tmp/` that were last written more than `older_than`
    /// ago and that no process holds (a live build holds a lock on each of its own); returns how
    /// many were removed and their bytes. Safe while other builds use the cache.
    pub fn clean_stale(&self, older_than: Duration) -> (usize, u64) {
        let mut removed = (0, 0);
        if !self.writable() {
            return removed;
        }
        let Ok(dir) = std::fs::read_dir(self.root.join("tmp")) else {
            return removed;
        };
        let now = SystemTime::now();
        for entry in dir.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > older_than);
            if !meta.is_file() || !old {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            if file.try_lock().is_ok() && std::fs::remove_file(&path).is_ok() {
                removed.0 += 1;
                removed.1 += meta.len();
            }
        }
        removed
    }
}

/// Reads the seal key at `path`, creating it (32 random bytes, hex, mode 0600) when missing.
fn load_or_create_key(path: &Path) -> Result<[u8; KEY_LEN], String> {
    match read_key(path) {
        Ok(Some(k)) => return Ok(k),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut key = [0u8; KEY_LEN];
    getrandom::getrandom(&mut key).map_err(|e| format!("no random numbers: {e}"))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("cannot write it: {e}"))?;
    tmp.write_all(format!("{}\n", hex::encode(key)).as_bytes())
        .map_err(|e| format!("cannot write it: {e}"))?;
    // another process may have made it meanwhile: then that one is the key
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(key),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            read_key(path)?.ok_or_else(|| "vanished while being created".to_string())
        }
        Err(e) => Err(format!("cannot write it: {}", e.error)),
    }
}

/// The key in `path`; `None` when there is no such file.
fn read_key(path: &Path) -> Result<Option<[u8; KEY_LEN]>, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.is_file() || meta.permissions().mode() & 0o022 != 0 {
        return Err("not a regular file that only its owner can write; remove it".into());
    }
    let mut text = String::new();
    File::open(path)
        .and_then(|f| f.take(256).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    let mut key = [0u8; KEY_LEN];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| "not a cache key (64 hex digits); remove it".to_string())?;
    Ok(Some(key))
}

/// A derived entry read as a stream (see [`Cache::open_derived`]).
#[derive(Debug)]
pub struct DerivedReader {
    file: File,
    hasher: Sha256,
    read: u64,
    sha256: String,
    size: u64,
    blob: PathBuf,
    record: PathBuf,
    cache: Cache,
}

impl Read for DerivedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        self.hasher.update(got);
        self.read += n as u64;
        if self.read > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "cache entry longer than its record says",
            ));
        }
        Ok(n)
    }
}

impl DerivedReader {
    /// Another handle to the entry's file, to read parts of it later with positioned reads
    /// (`pread`): only once [`DerivedReader::finish`] returned `true` are its bytes known good.
    /// They stay so while the handle is open: the cache replaces entries by rename only (an open
    /// handle keeps the old bytes), and creates them `0600`, so writing them in place takes the
    /// rights of the cache's owner, who can read the seal key anyway.
    pub fn file(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// The SHA-256 (hex) the entry's record gives, which [`DerivedReader::finish`] checks.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The size the entry's record gives, which [`DerivedReader::finish`] checks.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads what is left and tells whether everything read matched the record; a mismatch
    /// drops the entry (with a warning).
    pub fn finish(mut self) -> bool {
        let drained = io::copy(&mut self, &mut io::sink()).is_ok();
        let hex = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let ok = drained && self.read == self.size && hex == self.sha256;
        if !ok {
            self.cache.drop_bad(
                &self.blob,
                Some(&self.record),
                "its content does not match the SHA-256 its record gives",
            );
        }
        ok
    }
}

/// Derived data being written (see [`Cache::create_derived`]). Writing never fails: a cache
/// that cannot take it turns read-only (with a warning) and the entry is not kept.
#[derive(Debug)]
pub struct DerivedWriter {
    tmp: Option<tempfile::NamedTempFile>,
    hasher: Sha256,
    size: u64,
    key: String,
    cache: Cache,
}

impl DerivedWriter {
    /// Appends `bytes`.
    pub fn feed(&mut self, bytes: &[u8]) {
        let Some(tmp) = &mut self.tmp else { return };
        if let Err(e) = tmp.write_all(bytes) {
            self.cache.read_only(tmp.path(), &e);
            self.tmp = None;
            return;
        }
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Another handle to the file being written, to read parts of it later with positioned
    /// reads (`pread`): they hold everything fed only when [`DerivedWriter::commit`] returns
    /// `true` (see [`DerivedReader::file`] for why they stay good). `None` when writing already
    /// failed.
    pub fn file(&self) -> Option<File> {
        self.tmp.as_ref()?.as_file().try_clone().ok()
    }

    /// Keeps the entry under `key` instead of the key it was created with: for an entry whose
    /// key is a digest of what is written (known once it is written).
    pub fn set_key(&mut self, key: &str) {
        key.clone_into(&mut self.key);
    }

    /// Keeps what was fed as the entry's content (atomically: blob, then its sealed record);
    /// `true` when the file now holds everything fed (even if it could not be kept in the cache).
    pub fn commit(self) -> bool {
        let Some(tmp) = self.tmp else { return false };
        let hex = hex::encode(self.hasher.finalize());
        let Some(dest) = self.cache.blob_path(&hex) else {
            return true;
        };
        if let Err(e) = tmp.persist(&dest) {
            self.cache.read_only(&dest, &e.error);
            return true;
        }
        self.cache.write_record(&self.key, &hex, self.size);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache in `dir/cache` with its key in `dir/key`.
    fn open(dir: &Path) -> Cache {
        Cache::open_with_key(dir.join("cache"), Some(&dir.join("key"))).unwrap()
    }

    #[test]
    fn put_get_verifies_and_drops_corrupt_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        let data = b"hello";
        let h = sha256_hex(data);
        assert!(cache.get(&h).unwrap().is_none());
        cache.put(&h, data).unwrap();
        assert_eq!(cache.get(&h).unwrap().unwrap(), data);
        std::fs::write(dir.path().join("cache/blobs/sha256").join(&h), b"hellO").unwrap();
        assert!(
            cache.get(&h).unwrap().is_none(),
            "corrupt entry must not be returned"
        );
        assert!(!cache.contains(&h), "corrupt entry is removed");
        let w = cache.take_warnings();
        assert!(w.len() == 1 && w[0].contains("does not match"), "{w:?}");
    }

    #[test]
    fn derived_entries_are_verified() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        assert!(cache.get_derived("k").unwrap().is_none());
        cache.put_derived("k", b"derived bytes").unwrap();
        assert_eq!(cache.get_derived("k").unwrap().unwrap(), b"derived bytes");
        let blob = dir
            .path()
            .join("cache/blobs/sha256")
            .join(sha256_hex(b"derived bytes"));
        std::fs::write(blob, b"tampered").unwrap();
        assert!(cache.get_derived("k").unwrap().is_none());
        assert_eq!(cache.take_warnings().len(), 1);
        assert!(!cache.derived_record_path("k").exists(), "record dropped");
    }

    #[test]
    fn derived_records_are_bound_to_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        cache.put_derived("gawk", b"gawk data").unwrap();
        cache
            .put_derived("libsigsegv2", b"libsigsegv2 data")
            .unwrap();
        let (gawk, other) = (
            cache.derived_record_path("gawk"),
            cache.derived_record_path("libsigsegv2"),
        );

        // a record moved to another key
        std::fs::copy(&other, &gawk).unwrap();
        assert!(cache.get_derived("gawk").unwrap().is_none());
        let w = cache.take_warnings();
        assert!(w.len() == 1 && w[0].contains("seal"), "{w:?}");

        // a record edited to name another (valid) blob, the key line kept
        cache.put_derived("gawk", b"gawk data").unwrap();
        let text = std::fs::read_to_string(&gawk)
            .unwrap()
            .replace(&sha256_hex(b"gawk data"), &sha256_hex(b"libsigsegv2 data"));
        std::fs::write(&gawk, text).unwrap();
        assert!(cache.open_derived("gawk").unwrap().is_none());
        assert_eq!(cache.take_warnings().len(), 1);

        // a record written without the key (a plain hex, as version 1 kept them)
        std::fs::write(&gawk, sha256_hex(b"libsigsegv2 data")).unwrap();
        assert!(cache.get_derived("gawk").unwrap().is_none());
        assert_eq!(cache.take_warnings().len(), 1);

        // the other entry is untouched
        assert_eq!(
            cache.get_derived("libsigsegv2").unwrap().unwrap(),
            b"libsigsegv2 data"
        );
    }

    #[test]
    fn entries_sealed_with_another_key_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        cache.put_derived("k", b"data").unwrap();
        let elsewhere =
            Cache::open_with_key(dir.path().join("cache"), Some(&dir.path().join("key2"))).unwrap();
        assert!(elsewhere.get_derived("k").unwrap().is_none());
        let w = elsewhere.take_warnings();
        assert!(w.len() == 1 && w[0].contains("another cache key"), "{w:?}");
        // without any key, nothing derived is used or kept
        let keyless = Cache::open_with_key(dir.path().join("cache"), None).unwrap();
        keyless.put_derived("k2", b"x").unwrap();
        assert!(!keyless.derived_record_path("k2").exists());
        assert!(keyless.take_warnings()[0].contains("WHITTLE_CACHE_KEY"));
    }

    #[test]
    fn the_key_is_created_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/whittle/cache.key");
        let keys: Vec<[u8; KEY_LEN]> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| load_or_create_key(&path).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for all");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(load_or_create_key(&path).is_err(), "a key others can write");
    }

    #[test]
    fn streamed_entries_are_verified_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut w = cache.create_derived("big").unwrap();
        for chunk in data.chunks(7777) {
            w.feed(chunk);
        }
        w.commit();
        let mut r = cache.open_derived("big").unwrap().unwrap();
        let mut first = vec![0u8; 1000];
        r.read_exact(&mut first).unwrap();
        assert_eq!(first, data[..1000]);
        assert!(r.finish(), "the rest is drained and checked");

        // one byte changed: read in full, then refused
        let blob = dir
            .path()
            .join("cache/blobs/sha256")
            .join(sha256_hex(&data));
        let mut bad = data.clone();
        bad[500_000] ^= 1;
        std::fs::write(&blob, &bad).unwrap();
        let mut r = cache.open_derived("big").unwrap().unwrap();
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert!(!r.finish());
        assert!(cache.open_derived("big").unwrap().is_none(), "dropped");
        assert_eq!(cache.take_warnings().len(), 1);
    }

    /// A shared store in memory holding `blobs` and the derived entries `index`.
    struct Store {
        blobs: Vec<Vec<u8>>,
        index: Vec<crate::remote::RemoteEntry>,
    }

    impl crate::remote::RemoteStore for Store {
        fn name(&self) -> String {
            "test store".into()
        }
        fn index(&self) -> Result<Vec<crate::remote::RemoteEntry>, crate::remote::RemoteError> {
            Ok(self.index.clone())
        }
        fn blob(
            &self,
            sha256: &str,
            _size: u64,
        ) -> Result<Option<Vec<u8>>, crate::remote::RemoteError> {
            // the store may lie: it answers by position, whatever was asked
            Ok(self
                .index
                .iter()
                .position(|e| e.sha256 == sha256)
                .and_then(|i| self.blobs.get(i).cloned()))
        }
    }

    #[test]
    fn derived_entries_from_the_shared_tier_are_verified_and_kept_sealed() {
        let dir = tempfile::tempdir().unwrap();
        // the writer: another runner holding the same key
        let writer =
            Cache::open_with_key(dir.path().join("w"), Some(&dir.path().join("key"))).unwrap();
        let stranger =
            Cache::open_with_key(dir.path().join("s"), Some(&dir.path().join("k2"))).unwrap();
        let entry = |by: &Cache, key: &str, data: &[u8]| crate::remote::RemoteEntry {
            key: Some(key.into()),
            sha256: sha256_hex(data),
            size: data.len() as u64,
            seal: by.seal_text(key, &sha256_hex(data), data.len() as u64),
        };
        let mut moved = entry(&writer, "layer", b"layer");
        moved.key = Some("moved".into());
        let store = Store {
            // "bad" names the digest of "claimed" but the store gives other bytes
            blobs: vec![
                b"layer".to_vec(),
                b"altered".to_vec(),
                b"layer".to_vec(),
                b"layer".to_vec(),
            ],
            index: vec![
                entry(&writer, "good", b"layer"),
                entry(&writer, "bad", b"claimed"),
                entry(&stranger, "foreign", b"layer"),
                moved,
            ],
        };
        let remote = Arc::new(crate::remote::Remote::new(Some(Box::new(store))));
        let cache = open(dir.path()).with_remote(Some(remote.clone()));
        assert_eq!(cache.get_derived("good").unwrap().unwrap(), b"layer");
        assert!(cache.get_derived("bad").unwrap().is_none());
        assert!(cache.get_derived("foreign").unwrap().is_none());
        assert!(
            cache.get_derived("moved").unwrap().is_none(),
            "a seal moved to another key"
        );
        let w = cache.take_warnings();
        assert!(w.len() == 2, "{w:?}");
        assert!(w[0].contains("does not match"), "{w:?}");
        assert!(w[1].contains("2 derived entries had no seal"), "{w:?}");
        assert_eq!(remote.hits(), (1, 5));
        // kept here under this machine's seal: a cache without the shared tier has it
        let alone = open(dir.path());
        assert_eq!(alone.get_derived("good").unwrap().unwrap(), b"layer");
        assert!(alone.get_derived("bad").unwrap().is_none());
        assert_eq!(remote.used().len(), 1, "only what was used is written back");
    }

    #[test]
    fn a_read_only_cache_fetches_no_derived_entry_it_could_not_keep() {
        let dir = tempfile::tempdir().unwrap();
        let writer =
            Cache::open_with_key(dir.path().join("w"), Some(&dir.path().join("key"))).unwrap();
        let store = Store {
            blobs: vec![b"layer".to_vec()],
            index: vec![crate::remote::RemoteEntry {
                key: Some("good".into()),
                sha256: sha256_hex(b"layer"),
                size: 5,
                seal: writer.seal_text("good", &sha256_hex(b"layer"), 5),
            }],
        };
        let remote = Arc::new(crate::remote::Remote::new(Some(Box::new(store))));
        // `tmp` is a file: nothing can be written
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        std::fs::write(dir.path().join("cache/tmp"), b"").unwrap();
        let cache = open(dir.path()).with_remote(Some(remote.clone()));
        assert!(!cache.writable());
        assert!(cache.get_derived("good").unwrap().is_none());
        assert_eq!(remote.hits(), (0, 0), "nothing fetched to be thrown away");
    }

    #[test]
    fn a_short_or_bad_key_file_shares_no_derived_entry() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        let writer = Cache::open_with_key(dir.path().join("w"), Some(&key)).unwrap();
        let seal = writer.seal_text("layer", &sha256_hex(b"layer"), 5);
        let full = std::fs::read_to_string(&key).unwrap();
        for bad in [&full[..10], "", "zz", &full.repeat(2)] {
            let short = dir.path().join("short");
            std::fs::write(&short, bad).unwrap();
            std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
            let store = Store {
                blobs: vec![b"layer".to_vec()],
                index: vec![crate::remote::RemoteEntry {
                    key: Some("layer".into()),
                    sha256: sha256_hex(b"layer"),
                    size: 5,
                    seal: seal.clone(),
                }],
            };
            let remote = Arc::new(crate::remote::Remote::new(Some(Box::new(store))));
            let cache = Cache::open_with_key(dir.path().join("r"), Some(&short))
                .unwrap()
                .with_remote(Some(remote.clone()));
            assert!(cache.get_derived("layer").unwrap().is_none(), "{bad:?}");
            assert!(remote.used().is_empty(), "nothing unsealed is written back");
            let w = cache.take_warnings();
            assert!(
                w.iter()
                    .any(|w| w.contains(&short.display().to_string()) && w.contains("64 hex")),
                "{w:?}"
            );
            // the file is left alone for the user to fix, never replaced by a new key
            assert_eq!(std::fs::read_to_string(&short).unwrap(), bad);
        }
    }

    #[test]
    fn rejects_non_hash_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        cache.put("../../etc/passwd", b"x").unwrap();
        assert!(cache.get("../../etc/passwd").unwrap().is_none());
        assert!(!dir.path().join("etc").exists());
    }

    #[test]
    fn concurrent_writers_of_the_same_blob() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        let data = vec![7u8; 1 << 20];
        let h = sha256_hex(&data);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        cache.put(&h, &data).unwrap();
                        cache.put_derived("same", &data).unwrap();
                        assert_eq!(cache.get(&h).unwrap().unwrap().len(), data.len());
                        assert_eq!(cache.get_derived("same").unwrap().unwrap(), data);
                    }
                });
            }
        });
        assert!(cache.take_warnings().is_empty());
    }

    #[test]
    fn stale_temporary_files_are_removed_live_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = open(dir.path());
        let tmp = dir.path().join("cache/tmp");
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        let age = |p: &Path| {
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap()
        };
        // left by a killed build: old, nobody holds it
        std::fs::write(tmp.join(".tmp-killed"), vec![0u8; 4096]).unwrap();
        age(&tmp.join(".tmp-killed"));
        // fresh: a build that started a moment ago
        std::fs::write(tmp.join(".tmp-fresh"), b"x").unwrap();
        // old but held by a live writer (a stalled build)
        let mut live = cache.create_derived("slow").unwrap();
        live.feed(b"partial");
        let live_path = live.tmp.as_ref().unwrap().path().to_path_buf();
        age(&live_path);

        assert_eq!(cache.clean_stale(STALE_AFTER), (1, 4096));
        assert!(!tmp.join(".tmp-killed").exists());
        assert!(tmp.join(".tmp-fresh").exists());
        assert!(live_path.exists(), "a file a live process holds is kept");
        live.commit();
        assert!(cache.open_derived("slow").unwrap().unwrap().finish());
    }
}
