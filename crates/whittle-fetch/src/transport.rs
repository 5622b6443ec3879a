//! Getting bytes from a URL: `http(s)://` under the download [`Budget`](crate::Budget) (retried
//! only when the failure may pass), `file://` and plain local paths.

use crate::Error;
use crate::budget::{Budget, Limits, Stop};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long the addresses of a host name are reused before it is looked up again (curl's
/// default DNS cache time).
const DNS_TTL: Duration = Duration::from_secs(60);

/// How long a lookup may go unanswered before a second one is sent alongside it.
const DNS_HEDGE_AFTER: Duration = Duration::from_millis(500);

/// The most host names remembered; past it the memory is cleared.
const DNS_MAX_HOSTS: usize = 256;

/// One host's addresses and when they were looked up; its lock is held during the lookup, so
/// that threads asking for the same host at once wait for one lookup.
type DnsSlot = Arc<Mutex<Option<(Instant, ResolvedSocketAddrs)>>>;

/// The addresses looked up in this process, by `host:port` and IP family.
static RESOLVED: OnceLock<Mutex<HashMap<String, DnsSlot>>> = OnceLock::new();

/// A name resolver that looks each host name up once per [`DNS_TTL`] in the whole process.
/// ureq's own resolver looks the host up again for every request, even one sent on a pooled
/// connection: 40 lookups for a 36-package build, where one lost DNS answer costs the
/// resolver's whole timeout (5 s with glibc's defaults) — the better part of a cold build here.
/// A failed lookup is not remembered. A lookup unanswered after [`DNS_HEDGE_AFTER`] is sent
/// again alongside ([`hedged`]): a lost UDP answer costs half a second, not glibc's 5 s timeout.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CachedResolver;

/// Runs `attempt` on a thread; when it has not answered within `after`, runs it once more on
/// another and takes the first success (or, when both fail, the second failure). Each attempt
/// is bounded by its own timeout; one still running when the other answers is left to finish.
fn hedged<T: Send + 'static>(
    after: Duration,
    attempt: impl Fn() -> Result<T, ureq::Error> + Send + Sync + 'static,
) -> Result<T, ureq::Error> {
    let attempt = Arc::new(attempt);
    let (tx, rx) = std::sync::mpsc::channel();
    let start = |tx: std::sync::mpsc::Sender<Result<T, ureq::Error>>| {
        let attempt = Arc::clone(&attempt);
        std::thread::spawn(move || tx.send(attempt()).ok());
    };
    start(tx.clone());
    if let Ok(answer) = rx.recv_timeout(after) {
        return answer;
    }
    start(tx);
    let stopped = || ureq::Error::Io(std::io::Error::other("a name lookup thread stopped"));
    match rx.recv() {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(first)) => rx.recv().unwrap_or(Err(first)),
        Err(_) => Err(stopped()),
    }
}

impl Resolver for CachedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => DefaultResolver::host_and_port(scheme, authority),
            _ => None,
        };
        let Some(host) = host else {
            return DefaultResolver::default().resolve(uri, config, timeout);
        };
        let key = format!("{host} {:?}", config.ip_family());
        let slot = {
            let mut hosts = RESOLVED
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if hosts.len() >= DNS_MAX_HOSTS && !hosts.contains_key(&key) {
                hosts.clear();
            }
            hosts.entry(key).or_default().clone()
        };
        let mut known = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, addrs)) = &*known
            && at.elapsed() < DNS_TTL
        {
            return Ok(addrs.clone());
        }
        let (uri, config) = (uri.clone(), config.clone());
        let addrs = hedged(DNS_HEDGE_AFTER, move || {
            DefaultResolver::default().resolve(&uri, &config, timeout)
        })?;
        *known = Some((Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

/// An HTTP agent plus local-file access, with size limits on everything read and the time,
/// speed and retry [`Limits`] on every download.
pub struct Transport {
    agent: ureq::Agent,
    limits: Limits,
}

impl Default for Transport {
    fn default() -> Self {
        Self::new()
    }
}

/// Why one attempt failed.
enum Failure {
    Stop(Stop),
    Status(u16),
    TooLarge,
}

impl Failure {
    fn transient(&self) -> bool {
        match self {
            Failure::Stop(s) => s.is_transient(),
            Failure::Status(s) => *s >= 500 || *s == 408 || *s == 429,
            Failure::TooLarge => false,
        }
    }
}

impl Transport {
    /// A transport under the limits the environment sets ([`Limits::from_env`]).
    pub fn new() -> Self {
        Self::with_limits(Limits::from_env())
    }

    /// A transport under `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        Transport {
            agent: limits.agent(),
            limits,
        }
    }

    /// The limits downloads run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Starts an operation under this transport's limits (see [`Limits::start`]).
    pub fn start(&self) -> Result<Budget, Error> {
        self.limits
            .start()
            .map_err(|stop| Error::Setting(stop.to_string()))
    }

    /// Reads `url` whole, refusing more than `limit` bytes; an operation of its own.
    pub fn get(&self, url: &str, limit: u64) -> Result<Vec<u8>, Error> {
        self.get_within(url, limit, &self.start()?)
    }

    /// Reads `url` whole, refusing more than `limit` bytes, within the operation `budget`.
    pub fn get_within(&self, url: &str, limit: u64, budget: &Budget) -> Result<Vec<u8>, Error> {
        if let Some(path) = url.strip_prefix("file://") {
            return read_local(url, path, limit);
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            return self.get_http(url, limit, budget);
        }
        if url.starts_with('/') || url.starts_with("./") || !url.contains("://") {
            return read_local(url, url, limit);
        }
        Err(Error::Scheme {
            url: url.to_string(),
        })
    }

    fn get_http(&self, url: &str, limit: u64, budget: &Budget) -> Result<Vec<u8>, Error> {
        let mut attempts = 0;
        budget
            .retry(Failure::transient, |n| {
                attempts = n;
                self.get_once(url, limit, budget)
            })
            .map_err(|f| match f {
                Failure::TooLarge => Error::TooLarge {
                    url: url.to_string(),
                    limit,
                },
                Failure::Status(status) => Error::Status {
                    url: url.to_string(),
                    attempts,
                    status,
                },
                Failure::Stop(stop) => Error::Http {
                    url: url.to_string(),
                    attempts,
                    stop,
                },
            })
    }

    fn get_once(&self, url: &str, limit: u64, budget: &Budget) -> Result<Vec<u8>, Failure> {
        let stop = |e| Failure::Stop(Stop::from_ureq(e, &self.limits));
        let request = ureq::http::Request::get(url)
            .body(())
            .map_err(|e| Failure::Stop(Stop::Failed(format!("invalid URL: {e}"))))?;
        let resp = self
            .agent
            .run(budget.request(&self.agent, request))
            .map_err(stop)?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(Failure::Status(status));
        }
        budget
            .read_body(resp.into_body(), limit)
            .map_err(|stop| match stop {
                Stop::TooLong => Failure::TooLarge,
                s => Failure::Stop(s),
            })
    }
}

fn read_local(url: &str, path: &str, limit: u64) -> Result<Vec<u8>, Error> {
    let err = |source| Error::Local {
        url: url.to_string(),
        source,
    };
    let f = std::fs::File::open(path).map_err(err)?;
    let mut out = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(err)?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves `body` to `n` HTTP requests on 127.0.0.1; returns the base URL.
    fn serve(body: &'static [u8], n: usize) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(n) {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(body);
            }
        });
        format!("http://{addr}/f")
    }

    #[test]
    fn http_body_of_exactly_the_limit_is_accepted() {
        let url = serve(b"0123456789", 2);
        let t = Transport::new();
        assert_eq!(t.get(&url, 10).unwrap(), b"0123456789");
        assert!(matches!(t.get(&url, 9), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn a_deadline_too_far_to_represent_means_none() {
        let url = serve(b"0123456789", 1);
        let t = Transport::with_limits(Limits {
            deadline: std::time::Duration::from_secs(u64::MAX),
            ..Limits::default()
        });
        assert_eq!(t.get(&url, 10).unwrap(), b"0123456789");
    }

    /// The resolver answers from what it looked up within the last minute (a name that does
    /// not exist resolves while it is remembered), and looks the name up again after that.
    #[test]
    fn host_names_are_looked_up_once_a_minute() {
        let uri: ureq::http::Uri = "http://remembered.invalid:8080/x".parse().unwrap();
        let config = ureq::config::Config::default();
        let timeout = NextTimeout {
            after: ureq::unversioned::transport::time::Duration::NotHappening,
            reason: ureq::Timeout::Resolve,
            ..NextTimeout::default()
        };
        let key = format!("remembered.invalid:8080 {:?}", config.ip_family());
        let mut addrs = CachedResolver.empty();
        addrs.push("192.0.2.7:8080".parse().unwrap());
        let slot: DnsSlot = Arc::new(Mutex::new(Some((Instant::now(), addrs))));
        RESOLVED
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .insert(key, slot.clone());
        let got = CachedResolver.resolve(&uri, &config, timeout).unwrap();
        assert_eq!(got.first(), Some(&"192.0.2.7:8080".parse().unwrap()));
        // a minute later the name is looked up again: `.invalid` never resolves
        if let Some((at, _)) = slot.lock().unwrap().as_mut() {
            *at = Instant::now().checked_sub(DNS_TTL).unwrap();
        }
        let err = CachedResolver.resolve(&uri, &config, timeout).unwrap_err();
        assert!(!matches!(err, ureq::Error::Timeout(_)), "{err}");
        assert!(
            slot.lock().unwrap().is_some(),
            "a failed lookup keeps nothing new"
        );
    }

    /// A lookup that does not answer is sent again alongside after the delay, and the second
    /// answer is taken; one that answers in time is sent once.
    #[test]
    fn an_unanswered_lookup_is_sent_again_alongside() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let got = hedged(Duration::from_millis(20), move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                // the lost answer: this attempt answers long after the test has its result
                std::thread::sleep(Duration::from_secs(60));
            }
            Ok(n)
        });
        assert_eq!(got.unwrap(), 1, "the second attempt answered");
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let got = hedged(Duration::from_secs(60), move || {
            Ok(c.fetch_add(1, Ordering::SeqCst))
        });
        assert_eq!(got.unwrap(), 0);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "an answer in time is not asked again"
        );
        // both fail: the failure is reported
        let got: Result<(), _> = hedged(Duration::ZERO, || Err(ureq::Error::HostNotFound));
        assert!(matches!(got, Err(ureq::Error::HostNotFound)));
    }

    #[test]
    fn local_reads_respect_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let t = Transport::new();
        let url = format!("file://{}", p.display());
        assert_eq!(t.get(&url, 10).unwrap(), b"0123456789");
        assert!(matches!(t.get(&url, 9), Err(Error::TooLarge { .. })));
        assert!(matches!(
            t.get("gopher://x/y", 9),
            Err(Error::Scheme { .. })
        ));
        let missing = t.get("file:///nonexistent/whittle", 9).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/whittle"));
    }
}
