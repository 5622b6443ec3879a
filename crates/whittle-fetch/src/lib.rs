//! Verified downloads into a content-addressed cache: every blob is stored under its SHA-256,
//! checked again whenever it is read, written atomically (safe for concurrent builds), and
//! available without network in `--offline` mode.

mod budget;
mod cache;
pub mod remote;
mod transport;

pub use budget::{
    Budget, DEADLINE_VAR, Limits, MIN_SPEED_VAR, Paced, STALL_VAR, Stop, human, parse_duration,
    parse_size,
};
pub use cache::{Cache, DerivedReader, DerivedWriter, STALE_AFTER};
pub use transport::Transport;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// The most bytes of fetched items [`Fetcher::fetch_each`] lets wait for its consumers: past
/// it, a fetcher holds its item (and starts no other) until the consumers catch up, in the
/// order the items arrived. A warm build reads its packages from the cache far faster than it
/// unpacks them, and every one of them would otherwise be in memory at once. Downloads under
/// way are not counted (they never wait for each other), and an item larger than this goes
/// alone. What waits is then at most this plus one item per download thread.
pub const MAX_QUEUED_BYTES: u64 = 64 << 20;

/// Errors of fetching and caching.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A cache directory or file could not be read or written.
    #[error("cache {path}: {source}")]
    Cache {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading a `file://` URL or local path failed.
    #[error("{url}: {source}")]
    Local {
        /// The URL or path.
        url: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A download failed (after retries when the failure could pass).
    #[error("{url}: {stop}{}", tries(*attempts))]
    Http {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// Why it stopped.
        stop: Stop,
    },
    /// The server answered with an error status.
    #[error("{url}: the server answered HTTP {status}{}", tries(*attempts))]
    Status {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The HTTP status.
        status: u16,
    },
    /// A transfer setting in the environment is invalid.
    #[error("{0}")]
    Setting(String),
    /// The URL scheme is not supported.
    #[error("{url}: unsupported URL scheme (use http://, https://, file:// or a local path)")]
    Scheme {
        /// The URL.
        url: String,
    },
    /// A download was larger than allowed.
    #[error(
        "{url}: larger than the expected {limit} bytes; the repository index and the file disagree"
    )]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// Size or SHA-256 of a download differs from what the signed index promises.
    #[error(
        "{url}: {what} mismatch: the signed index says {expected}, the download has {actual}; \
         the file was tampered with or the mirror is inconsistent — nothing was used"
    )]
    Mismatch {
        /// The URL.
        url: String,
        /// `size` or `SHA-256`.
        what: &'static str,
        /// The expected value.
        expected: String,
        /// The actual value.
        actual: String,
    },
    /// An item was left undone although nothing failed (a worker thread stopped early).
    #[error("{url}: was not fetched (a download worker stopped early); run the build again")]
    NotDone {
        /// The URL.
        url: String,
    },
    /// `--offline` was given and these items are not in the cache.
    #[error(
        "offline: {} item(s) are not in the cache ({}):\n  {}\nrun the same build once without --offline to fill the cache",
        missing.len(), cache, missing.join("\n  ")
    )]
    Offline {
        /// The cache directory.
        cache: String,
        /// Labels (URLs) of what is missing.
        missing: Vec<String>,
    },
}

/// ` (after N attempts)` when there was more than one.
fn tries(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// One verified download: the URL, its expected SHA-256 (lowercase hex) and size.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where to get it.
    pub url: String,
    /// Expected SHA-256, lowercase hex.
    pub sha256: String,
    /// Expected size in bytes.
    pub size: u64,
}

/// Observes the progress of [`Fetcher::fetch_all`]; the CLI draws a progress bar from it.
pub trait Progress: Sync {
    /// `count` items, `bytes` bytes in all are about to be fetched; `cached` of them are present.
    fn start(&self, count: usize, bytes: u64, cached: usize);
    /// One item is done (from the cache or the network).
    fn done(&self, url: &str, bytes: u64, from_cache: bool);
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {
    fn start(&self, _: usize, _: u64, _: usize) {}
    fn done(&self, _: &str, _: u64, _: bool) {}
}

/// How many downloads a [`Fetcher`] runs at once (and how many idle connections per host an
/// agent keeps for them).
pub const PARALLEL_DOWNLOADS: usize = 8;

/// Fetches verified blobs through a [`Cache`].
pub struct Fetcher {
    cache: Cache,
    transport: Transport,
    offline: bool,
    parallelism: usize,
}

impl Fetcher {
    /// A fetcher over `cache`; with `offline`, only the cache is used.
    pub fn new(cache: Cache, offline: bool) -> Self {
        Fetcher {
            cache,
            transport: Transport::new(),
            offline,
            parallelism: PARALLEL_DOWNLOADS,
        }
    }

    /// The cache in use.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Whether only the cache is used.
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// This fetcher with other transfer limits than the environment's.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.transport = Transport::with_limits(limits);
        self
    }

    /// Fetches a file that is verified by other means (a signed `InRelease`): from the network,
    /// remembering the last copy by URL so that `--offline` builds can use it. `limit` caps its size.
    pub fn fetch_mutable(&self, url: &str, limit: u64) -> Result<Vec<u8>, Error> {
        if self.offline {
            return self.cache.get_by_url(url)?.ok_or_else(|| Error::Offline {
                cache: self.cache.root().display().to_string(),
                missing: vec![url.to_string()],
            });
        }
        let bytes = self.transport.get(url, limit)?;
        self.cache.put_by_url(url, &bytes)?;
        Ok(bytes)
    }

    /// Fetches one blob and checks its size and SHA-256; the cache is used when it holds it.
    pub fn fetch(&self, req: &Request) -> Result<Vec<u8>, Error> {
        self.fetch_within(req, &self.transport.start()?)
    }

    fn fetch_within(&self, req: &Request, budget: &Budget) -> Result<Vec<u8>, Error> {
        if let Some(bytes) = self.cache.get(&req.sha256)? {
            self.cache.note(None, &req.sha256, req.size);
            return Ok(bytes);
        }
        if self.offline {
            return Err(Error::Offline {
                cache: self.cache.root().display().to_string(),
                missing: vec![req.url.clone()],
            });
        }
        let bytes = match self.cache.get_remote(&req.sha256, req.size) {
            Some(bytes) => bytes,
            None => {
                let bytes = self.transport.get_within(&req.url, req.size, budget)?;
                verify(req, &bytes)?;
                self.cache.put(&req.sha256, &bytes)?;
                bytes
            }
        };
        self.cache.note(None, &req.sha256, req.size);
        Ok(bytes)
    }

    /// Fetches all blobs in parallel within one deadline, returned in the order given; fails with
    /// every missing item listed in `--offline` mode, or with the first error otherwise.
    pub fn fetch_all(
        &self,
        reqs: &[Request],
        progress: &dyn Progress,
    ) -> Result<Vec<Vec<u8>>, Error> {
        self.fetch_each(reqs, progress, self.parallelism, |_, bytes| {
            Ok::<_, Error>(bytes)
        })
        .map_err(|e| match e {
            ItemError::Fetch(e) | ItemError::Use(e) => e,
        })
    }

    /// Fetches all blobs as [`Fetcher::fetch_all`] does and hands each to `consume` (on up to
    /// `consumers` threads) as soon as it is there, while the others are still downloading;
    /// returns what `consume` made, in the order of `reqs`. Items are started largest first.
    /// A fetched item waits for `consume` only when [`MAX_QUEUED_BYTES`] of fetched items are
    /// not consumed yet (downloads under way are not held up; the deadline counts that wait),
    /// and each blob is dropped once consumed.
    ///
    /// A failure (a download or a `consume`) stops every item after it in the order of `reqs`
    /// from starting (what is under way finishes); the items before it are still done, so the
    /// error returned is always the first in the order of `reqs`, whichever thread saw which
    /// failure first.
    pub fn fetch_each<T, E>(
        &self,
        reqs: &[Request],
        progress: &dyn Progress,
        consumers: usize,
        consume: impl Fn(usize, Vec<u8>) -> Result<T, E> + Sync,
    ) -> Result<Vec<T>, ItemError<E>>
    where
        T: Send,
        E: Send,
    {
        self.fetch_each_blob(reqs, progress, consumers, |i, blob| {
            let bytes = blob.bytes().map_err(ItemError::Fetch)?;
            consume(i, bytes).map_err(ItemError::Use)
        })
    }

    /// [`Fetcher::fetch_each`] for consumers that may not need the bytes: an item the cache
    /// holds is handed over unread, as a [`Blob`] that reads (and verifies) it only when asked,
    /// so that a consumer that has what it needs from elsewhere (a derived entry made from the
    /// blob before) never reads it. With a shared cache ([`Cache::notes_for_shared_cache`]) every item is read
    /// and verified before it is noted as used, as [`Fetcher::fetch_each`] does.
    pub fn fetch_each_blob<T, E>(
        &self,
        reqs: &[Request],
        progress: &dyn Progress,
        consumers: usize,
        consume: impl Fn(usize, Blob<'_>) -> Result<T, ItemError<E>> + Sync,
    ) -> Result<Vec<T>, ItemError<E>>
    where
        T: Send,
        E: Send,
    {
        let cached: Vec<bool> = reqs
            .iter()
            .map(|r| self.cache.contains(&r.sha256))
            .collect();
        if self.offline {
            let missing: Vec<String> = reqs
                .iter()
                .zip(&cached)
                .filter(|(_, c)| !**c)
                .map(|(r, _)| r.url.clone())
                .collect();
            if !missing.is_empty() {
                return Err(ItemError::Fetch(Error::Offline {
                    cache: self.cache.root().display().to_string(),
                    missing,
                }));
            }
        }
        let budget = self.transport.start().map_err(ItemError::Fetch)?;
        progress.start(
            reqs.len(),
            reqs.iter().map(|r| r.size).sum(),
            cached.iter().filter(|c| **c).count(),
        );
        // the largest first: the longest downloads and the longest to consume start earliest,
        // so that no thread is left alone with a big item at the end
        let mut order: Vec<usize> = (0..reqs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(reqs.get(i).map_or(0, |r| r.size)));
        let next = AtomicUsize::new(0);
        // the first item in the order of `reqs` that failed (`usize::MAX`: none)
        let failed_at = AtomicUsize::new(usize::MAX);
        let wanted = |i: usize| i < failed_at.load(Ordering::Relaxed);
        let slots: Vec<Slot<T, E>> = reqs.iter().map(|_| Mutex::new(None)).collect();
        let settle = |i: usize, r: Result<T, ItemError<E>>| {
            if r.is_err() {
                // nothing after it is started; what is under way finishes
                failed_at.fetch_min(i, Ordering::Relaxed);
            }
            if let Some(slot) = slots.get(i) {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            }
        };
        let fetchers = self.parallelism.min(reqs.len()).max(1);
        let consumers = consumers.min(reqs.len()).max(1);
        // bytes fetched and not consumed yet, and consumers still running
        let queue = Queue {
            state: Mutex::new(QueueState {
                bytes: 0,
                consumers,
                next_ticket: 0,
                serving: 0,
            }),
            changed: Condvar::new(),
        };
        let size_of = |i: usize| reqs.get(i).map_or(0, |r| r.size);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Blob<'_>)>();
        let rx = Mutex::new(rx);
        std::thread::scope(|s| {
            for _ in 0..fetchers {
                let tx = tx.clone();
                let (next, wanted, budget, cached, settle, order, queue) =
                    (&next, &wanted, &budget, &cached, &settle, &order, &queue);
                s.spawn(move || {
                    while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let Some(req) = reqs.get(i).filter(|_| wanted(i)) else {
                            continue;
                        };
                        let fetched = if cached[i] && !self.cache.notes_for_shared_cache() {
                            // read by the consumer if it needs it (see `Blob::bytes`)
                            self.cache.note(None, &req.sha256, req.size);
                            Ok(None)
                        } else {
                            self.fetch_within(req, budget).map(Some)
                        };
                        match fetched {
                            Ok(bytes) => {
                                let bytes = Blob {
                                    fetcher: self,
                                    req,
                                    bytes,
                                };
                                progress.done(&req.url, req.size, cached[i]);
                                queue.admit(req.size);
                                if !wanted(i) {
                                    queue.release(req.size); // an earlier item failed meanwhile
                                    continue;
                                }
                                if tx.send((i, bytes)).is_err() {
                                    queue.release(req.size);
                                    break;
                                }
                            }
                            Err(e) => settle(i, Err(ItemError::Fetch(e))),
                        }
                    }
                });
            }
            // the consumers end when every fetcher has dropped its sender
            drop(tx);
            for _ in 0..consumers {
                s.spawn(|| {
                    // fetchers stop waiting for consumers that are gone (a panic included)
                    let _gone = ConsumerGone(&queue);
                    loop {
                        let item = rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((i, bytes))) = item else { break };
                        // released when done with, whether `consume` returns or panics
                        let _done = Consumed(&queue, size_of(i));
                        if wanted(i) {
                            settle(i, consume(i, bytes));
                        } // else drained unused: an earlier item failed
                    }
                });
            }
        });
        let mut out = Vec::with_capacity(reqs.len());
        let mut first_err = None;
        for (i, (slot, req)) in slots.into_iter().zip(reqs).enumerate() {
            match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
                Some(Ok(t)) => out.push(t),
                Some(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                // left undone after the failure reported, else a worker stopped
                None if wanted(i) => {
                    first_err.get_or_insert(ItemError::Fetch(Error::NotDone {
                        url: req.url.clone(),
                    }));
                }
                None => {}
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// One item [`Fetcher::fetch_each_blob`] hands over: its verified bytes, or, when the cache held
/// it, a way to read them from there.
pub struct Blob<'a> {
    fetcher: &'a Fetcher,
    req: &'a Request,
    bytes: Option<Vec<u8>>,
}

impl<'a> Blob<'a> {
    /// The bytes, size and SHA-256 checked: read from the cache now when they were not fetched
    /// (downloaded again should the cache have lost them meanwhile, unless `--offline`).
    pub fn bytes(self) -> Result<Vec<u8>, Error> {
        match self.bytes {
            Some(b) => Ok(b),
            None => self.fetcher.fetch(self.req),
        }
    }

    /// Whether the bytes were read (downloaded or read from the cache and verified) before the
    /// blob was handed over.
    pub fn is_fetched(&self) -> bool {
        self.bytes.is_some()
    }

    /// The request this blob answers.
    pub fn request(&self) -> &'a Request {
        self.req
    }
}

/// The items [`Fetcher::fetch_each`] has handed to its consumers and they have not finished
/// with, bounded by [`MAX_QUEUED_BYTES`].
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

/// See [`Queue`].
struct QueueState {
    /// Bytes handed over and not consumed yet.
    bytes: u64,
    /// Consumers still running.
    consumers: usize,
    /// The turn of the next item to arrive, and of the item admitted next (first come, first
    /// served: a large item is not passed forever by small ones).
    next_ticket: u64,
    serving: u64,
}

impl Queue {
    /// Waits for this item's turn and until its `size` bytes fit under [`MAX_QUEUED_BYTES`]
    /// (at once when nothing waits to be consumed, or no consumer is left), then counts them.
    fn admit(&self, size: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        while st.serving != ticket
            || (st.bytes > 0
                && st.bytes.saturating_add(size) > MAX_QUEUED_BYTES
                && st.consumers > 0)
        {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.serving += 1;
        st.bytes = st.bytes.saturating_add(size);
        self.changed.notify_all();
    }

    /// `size` bytes are consumed (or will not be).
    fn release(&self, size: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.bytes = st.bytes.saturating_sub(size);
        self.changed.notify_all();
    }
}

/// Releases an item's bytes from a [`Queue`] when its consumer is done with it.
struct Consumed<'a>(&'a Queue, u64);

impl Drop for Consumed<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

/// Counts a consumer of a [`Queue`] out when it ends, however it ends.
struct ConsumerGone<'a>(&'a Queue);

impl Drop for ConsumerGone<'_> {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        st.consumers = st.consumers.saturating_sub(1);
        self.0.changed.notify_all();
    }
}

/// What became of one item of [`Fetcher::fetch_each`]: nothing yet, or its outcome.
type Slot<T, E> = Mutex<Option<Result<T, ItemError<E>>>>;

/// A failure of [`Fetcher::fetch_each`]: fetching an item, or what the caller did with it.
#[derive(Debug)]
pub enum ItemError<E> {
    /// Fetching failed (or `--offline` found items missing, or a setting is invalid).
    Fetch(Error),
    /// The caller's `consume` failed.
    Use(E),
}

/// Checks size and SHA-256 of `bytes` against `req`.
pub fn verify(req: &Request, bytes: &[u8]) -> Result<(), Error> {
    if bytes.len() as u64 != req.size {
        return Err(Error::Mismatch {
            url: req.url.clone(),
            what: "size",
            expected: req.size.to_string(),
            actual: bytes.len().to_string(),
        });
    }
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(&req.sha256) {
        return Err(Error::Mismatch {
            url: req.url.clone(),
            what: "SHA-256",
            expected: req.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
