//! A shared tier behind the local cache (`--cache-from` / `--cache-to`): a store many machines
//! read and write, an OCI registry repository in practice (whittle-registry implements
//! [`RemoteStore`] for it). It is consulted only on a local miss, and everything it gives is
//! verified as local entries are before it is used or kept:
//!
//! - a package blob is asked for by the SHA-256 and size the signed index (or lock) gives and
//!   re-hashed: a blob that does not match is reported and ignored, the package is fetched from
//!   its repository;
//! - a derived entry (decompressed package data, a compressed layer, a resolution) is found by
//!   its key in the store's index together with the seal its writer made: the HMAC-SHA256 over
//!   key, SHA-256 and size that local records carry, under the writer's cache key. It is used
//!   only when that seal verifies under this machine's key — that is, when the runners share one
//!   cache key (`WHITTLE_CACHE_KEY`, a CI secret) — and its blob is re-hashed against the
//!   digest; then it is kept locally as any entry. Whoever can push to the store but does not
//!   hold the key can withhold entries, never change what one gives. Entries sealed with another
//!   key are counted and reported once; packages are still shared.
//!
//! A store that fails, refuses or is too slow is reported once and not asked again in this
//! process: the build goes on fetching normally. Every entry the process used or made is noted,
//! so that after a build the caller can write them to the store ([`Remote::used`]).
//!
//! The shared tier is installed once per process ([`install`]) and picked up by every
//! [`crate::Cache`] opened afterwards, so the builders need no change to use it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// One entry of a shared cache: a blob and, for a derived entry, the key it is found by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemoteEntry {
    /// The derived entry's key; `None` for a blob found by its SHA-256 alone (a package).
    pub key: Option<String>,
    /// SHA-256 of the blob, lowercase hex.
    pub sha256: String,
    /// Size of the blob in bytes.
    pub size: u64,
    /// A derived entry's seal, `<key id>:<HMAC hex>` (see [`crate::Cache`]); `None` for blobs.
    pub seal: Option<String>,
}

/// Why a shared store did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// The store cannot be used (unreachable, too slow, refusing access): it is not asked again.
    Down(String),
    /// This blob is bad (its content does not match its digest): it is ignored.
    Bad(String),
}

/// A store shared by many machines (implemented for OCI registries by whittle-registry).
pub trait RemoteStore: Send + Sync {
    /// Where it is, for messages (`docker://host/repo`).
    fn name(&self) -> String;
    /// The derived entries the store holds (key, blob), newest first: the first entry of a key
    /// is the one used.
    fn index(&self) -> Result<Vec<RemoteEntry>, RemoteError>;
    /// The blob with this SHA-256 and size, at most `size` bytes read; `None` when the store
    /// does not have it.
    fn blob(&self, sha256: &str, size: u64) -> Result<Option<Vec<u8>>, RemoteError>;
}

/// The shared tier of this process: where entries are read from on a local miss (when a store
/// is given) and which entries the process used (for writing them back after the build).
pub struct Remote {
    from: Option<Box<dyn RemoteStore>>,
    index: OnceLock<HashMap<String, Vec<Candidate>>>,
    foreign: AtomicUsize,
    down: AtomicBool,
    notices: Mutex<Vec<String>>,
    used: Mutex<BTreeSet<RemoteEntry>>,
    hits: AtomicUsize,
    hit_bytes: AtomicU64,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("from", &self.from.as_ref().map(|s| s.name()))
            .field("down", &self.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

static INSTALLED: OnceLock<Arc<Remote>> = OnceLock::new();

/// The most blobs kept per derived key from a store's index (writers with other keys).
const MAX_CANDIDATES: usize = 8;

/// A blob the store's index gives for a derived key, with its writer's seal.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) seal: String,
}

/// Installs the shared tier for every [`crate::Cache`] opened from now on in this process;
/// `from` is read on local misses (`None`: only note what is used, for `--cache-to`). Only the
/// first call takes effect; it returns the tier in use.
pub fn install(from: Option<Box<dyn RemoteStore>>) -> Arc<Remote> {
    INSTALLED
        .get_or_init(|| Arc::new(Remote::new(from)))
        .clone()
}

/// The shared tier installed in this process, if any.
pub fn installed() -> Option<Arc<Remote>> {
    INSTALLED.get().cloned()
}

impl Remote {
    /// A shared tier reading from `from` (when given).
    pub fn new(from: Option<Box<dyn RemoteStore>>) -> Self {
        Remote {
            from,
            index: OnceLock::new(),
            foreign: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            notices: Mutex::new(Vec::new()),
            used: Mutex::new(BTreeSet::new()),
            hits: AtomicUsize::new(0),
            hit_bytes: AtomicU64::new(0),
        }
    }

    /// Every entry this process used or made (blobs and derived entries), sorted.
    pub fn used(&self) -> Vec<RemoteEntry> {
        self.used
            .lock()
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Entries taken from the store and their bytes.
    pub fn hits(&self) -> (usize, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.hit_bytes.load(Ordering::Relaxed),
        )
    }

    /// Warnings since the last call (a store that failed, blobs that did not verify).
    pub fn take_warnings(&self) -> Vec<String> {
        let mut out = self
            .notices
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default();
        let foreign = self.foreign.swap(0, Ordering::Relaxed);
        if foreign > 0
            && let Some(store) = &self.from
        {
            out.push(format!(
                "shared cache {}: {foreign} derived entr{} no seal this machine's cache key \
                 verifies (written by runners with another cache key, or altered), not used: \
                 made here instead, packages were still shared; give every runner the same \
                 WHITTLE_CACHE_KEY, kept as a CI secret, to share them",
                store.name(),
                if foreign == 1 { "y had" } else { "ies had" }
            ));
        }
        out
    }

    /// Counts a derived entry found with no seal this machine's key verifies.
    pub(crate) fn foreign(&self) {
        self.foreign.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes that the process used (or made) an entry.
    pub(crate) fn note(&self, key: Option<&str>, sha256: &str, size: u64, seal: Option<String>) {
        if let Ok(mut u) = self.used.lock() {
            u.insert(RemoteEntry {
                key: key.map(str::to_string),
                sha256: sha256.to_ascii_lowercase(),
                size,
                seal,
            });
        }
    }

    fn notice(&self, msg: String) {
        if let Ok(mut n) = self.notices.lock() {
            n.push(msg);
        }
    }

    /// The store to ask, unless there is none or it failed.
    fn store(&self) -> Option<&dyn RemoteStore> {
        if self.down.load(Ordering::Relaxed) {
            return None;
        }
        self.from.as_deref()
    }

    /// Reports the store as unusable, once; it is not asked again.
    fn fail(&self, store: &dyn RemoteStore, why: &str) {
        if !self.down.swap(true, Ordering::Relaxed) {
            self.notice(format!(
                "shared cache {}: {why}; not using it for the rest of this run, fetching normally",
                store.name()
            ));
        }
    }

    /// The blob `sha256` of `size` bytes from the store, verified; `None` when the store does
    /// not have it, failed, or gave something else (reported).
    pub(crate) fn blob(&self, sha256: &str, size: u64) -> Option<Vec<u8>> {
        let store = self.store()?;
        match store.blob(sha256, size) {
            Ok(Some(bytes)) => {
                let actual = crate::sha256_hex(&bytes);
                if bytes.len() as u64 != size || !actual.eq_ignore_ascii_case(sha256) {
                    self.notice(format!(
                        "shared cache {}: blob sha256:{sha256} does not match its digest (it has \
                         sha256:{actual}, {} bytes); it was not used",
                        store.name(),
                        bytes.len()
                    ));
                    return None;
                }
                self.hits.fetch_add(1, Ordering::Relaxed);
                self.hit_bytes.fetch_add(size, Ordering::Relaxed);
                Some(bytes)
            }
            Ok(None) => None,
            Err(RemoteError::Bad(why)) => {
                self.notice(format!(
                    "shared cache {}: blob sha256:{sha256} does not match its digest; it was not \
                     used ({why})",
                    store.name()
                ));
                None
            }
            Err(RemoteError::Down(why)) => {
                self.fail(store, &why);
                None
            }
        }
    }

    /// The blobs the store's index gives for derived entry `key` with their seals, newest
    /// first (at most [`MAX_CANDIDATES`]).
    pub(crate) fn lookup(&self, key: &str) -> Vec<Candidate> {
        let Some(store) = self.store() else {
            return Vec::new();
        };
        let index = self.index.get_or_init(|| match store.index() {
            Ok(entries) => {
                let mut map: HashMap<String, Vec<Candidate>> = HashMap::new();
                for e in entries {
                    let (Some(k), Some(seal)) = (e.key, e.seal) else {
                        continue;
                    };
                    let c = map.entry(k).or_default();
                    if c.len() < MAX_CANDIDATES {
                        c.push(Candidate {
                            sha256: e.sha256.to_ascii_lowercase(),
                            size: e.size,
                            seal,
                        });
                    }
                }
                map
            }
            Err(RemoteError::Down(why) | RemoteError::Bad(why)) => {
                self.fail(store, &why);
                HashMap::new()
            }
        });
        index.get(key).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256_hex;

    /// A store in memory that can be broken or made to lie.
    struct Mem {
        entries: Vec<RemoteEntry>,
        blobs: HashMap<String, Vec<u8>>,
        down: bool,
        asked: Arc<AtomicUsize>,
    }

    impl RemoteStore for Mem {
        fn name(&self) -> String {
            "mem".into()
        }
        fn index(&self) -> Result<Vec<RemoteEntry>, RemoteError> {
            if self.down {
                return Err(RemoteError::Down("connection refused".into()));
            }
            Ok(self.entries.clone())
        }
        fn blob(&self, sha256: &str, _size: u64) -> Result<Option<Vec<u8>>, RemoteError> {
            self.asked.fetch_add(1, Ordering::Relaxed);
            if self.down {
                return Err(RemoteError::Down("connection refused".into()));
            }
            Ok(self.blobs.get(sha256).cloned())
        }
    }

    fn mem(down: bool) -> (Mem, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let good = b"good".to_vec();
        let mut blobs = HashMap::new();
        blobs.insert(sha256_hex(&good), good.clone());
        // a blob stored under another blob's digest
        blobs.insert(sha256_hex(b"claimed"), b"altered".to_vec());
        let entries = vec![
            RemoteEntry {
                key: Some("k".into()),
                sha256: sha256_hex(&good),
                size: 4,
                seal: Some("id:aa".into()),
            },
            RemoteEntry {
                key: Some("k".into()),
                sha256: sha256_hex(b"older"),
                size: 5,
                seal: Some("id:bb".into()),
            },
            RemoteEntry {
                key: Some("unsealed".into()),
                sha256: sha256_hex(&good),
                size: 4,
                seal: None,
            },
        ];
        (
            Mem {
                entries,
                blobs,
                down,
                asked: asked.clone(),
            },
            asked,
        )
    }

    #[test]
    fn blobs_are_verified_and_the_newest_entry_of_a_key_wins() {
        let (m, _) = mem(false);
        let r = Remote::new(Some(Box::new(m)));
        let k = r.lookup("k");
        assert_eq!(k.len(), 2);
        assert_eq!(
            (k[0].sha256.as_str(), k[0].size),
            (&*sha256_hex(b"good"), 4)
        );
        assert_eq!(k[0].seal, "id:aa");
        assert!(r.lookup("other").is_empty());
        assert!(r.lookup("unsealed").is_empty(), "never used without a seal");
        assert_eq!(r.blob(&sha256_hex(b"good"), 4).unwrap(), b"good");
        assert!(r.blob(&sha256_hex(b"claimed"), 7).is_none(), "altered blob");
        let w = r.take_warnings();
        assert!(w.len() == 1 && w[0].contains("does not match"), "{w:?}");
        assert_eq!(r.hits(), (1, 4));
    }

    #[test]
    fn a_failing_store_is_reported_once_and_not_asked_again() {
        let (m, asked) = mem(true);
        let r = Remote::new(Some(Box::new(m)));
        for _ in 0..3 {
            assert!(r.blob(&sha256_hex(b"good"), 4).is_none());
            assert!(r.lookup("k").is_empty());
        }
        assert_eq!(asked.load(Ordering::Relaxed), 1);
        let w = r.take_warnings();
        assert!(w.len() == 1 && w[0].contains("fetching normally"), "{w:?}");
    }

    #[test]
    fn used_entries_are_noted_once() {
        let r = Remote::new(None);
        r.note(None, "AB", 1, None);
        r.note(None, "ab", 1, None);
        r.note(Some("k"), "cd", 2, Some("id:00".into()));
        assert_eq!(r.used().len(), 2);
        assert!(r.blob("ab", 1).is_none(), "no store: nothing read");
    }
}
