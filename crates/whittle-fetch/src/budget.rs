//! The one download budget of whittle: every HTTP transfer — repository indexes and packages
//! here, registry pulls, pushes and copies in `whittle-registry` — runs under the same
//! [`Limits`] and the same retry policy:
//!
//! - an operation (a fetch, the packages of a build, a pull, a push, a copy) must finish within
//!   [`Limits::deadline`], every attempt and every wait between attempts counted;
//! - a connection silent for [`Limits::stall`] is dropped, and so is a body that arrives slower
//!   than [`Limits::min_speed`] (measured over the time spent waiting for it: a server sending one
//!   byte every few seconds is stopped within one `stall` window);
//! - only transient failures are retried ([`Stop::is_transient`]: connection resets, stalls, slow
//!   transfers; the callers add 5xx, 408 and 429): a refused connection, a body longer than
//!   announced, a digest mismatch fail at once.
//!
//! The limits come from the environment ([`Limits::from_env`]); an invalid setting is reported
//! when an operation starts ([`Limits::start`]).

use std::io::{self, Read};
use std::time::{Duration, Instant};

/// Environment variable: how long one operation's transfers may take in all (`3600`, `90s`,
/// `30m`, `2h`).
pub const DEADLINE_VAR: &str = "WHITTLE_TRANSFER_DEADLINE";
/// Environment variable: the slowest accepted transfer, in bytes per second (`1024`, `10K`,
/// `1M`; `0` accepts any speed).
pub const MIN_SPEED_VAR: &str = "WHITTLE_TRANSFER_MIN_SPEED";
/// Environment variable: the longest silence of a server, and the window over which the
/// minimum speed is measured (`30`, `2m`).
pub const STALL_VAR: &str = "WHITTLE_TRANSFER_STALL";

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Time, speed and retry limits of transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Retries after the first attempt, for transient failures only [default: 4].
    pub retries: u32,
    /// The wait before the first retry, doubled before each next one, at most 30 s
    /// [default: 500 ms].
    pub backoff: Duration,
    /// How long one operation may take in all [default: 1 h; `WHITTLE_TRANSFER_DEADLINE`].
    pub deadline: Duration,
    /// The slowest accepted transfer, bytes per second; 0 accepts any speed
    /// [default: 1024; `WHITTLE_TRANSFER_MIN_SPEED`].
    pub min_speed: u64,
    /// The longest silence (to connect, to answer, between two reads or writes), and the
    /// window over which `min_speed` is measured [default: 30 s; `WHITTLE_TRANSFER_STALL`].
    pub stall: Duration,
    /// What was wrong with the environment's settings ([`Limits::from_env`]), reported when an
    /// operation starts ([`Limits::start`]); `None` for limits made in code.
    pub invalid: Option<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            retries: 4,
            backoff: Duration::from_millis(500),
            deadline: Duration::from_secs(3600),
            min_speed: 1024,
            stall: Duration::from_secs(30),
            invalid: None,
        }
    }
}

impl Limits {
    /// The defaults, changed by `WHITTLE_TRANSFER_DEADLINE`, `WHITTLE_TRANSFER_MIN_SPEED` and
    /// `WHITTLE_TRANSFER_STALL` when they are set. An invalid value makes every operation fail
    /// at its start with a message naming the variable ([`Limits::start`]).
    pub fn from_env() -> Limits {
        Limits::from_vars(|k| std::env::var(k).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Limits {
        let mut limits = Limits::default();
        let mut problems = Vec::new();
        let positive = |v: &str| parse_duration(v).filter(|d| !d.is_zero());
        if let Some(d) = setting(&var, DEADLINE_VAR, positive, &mut problems) {
            limits.deadline = d;
        }
        if let Some(s) = setting(&var, MIN_SPEED_VAR, parse_size, &mut problems) {
            limits.min_speed = s;
        }
        if let Some(s) = setting(&var, STALL_VAR, positive, &mut problems) {
            limits.stall = s;
        }
        if !problems.is_empty() {
            limits.invalid = Some(problems.join("; "));
        }
        limits
    }

    /// Starts an operation: its deadline runs from now. Fails when a setting in the environment
    /// was invalid.
    pub fn start(&self) -> Result<Budget, Stop> {
        if let Some(p) = &self.invalid {
            return Err(Stop::Setting(p.clone()));
        }
        Ok(Budget {
            limits: self.clone(),
            until: Instant::now().checked_add(self.deadline),
        })
    }

    /// An HTTP agent that waits at most `stall` to connect, for an answer, and for each read
    /// or write; it follows up to 5 redirects and returns every status as a response. It keeps
    /// as many idle connections per host as a build downloads in parallel, and looks a host
    /// name up once per minute in the whole process ([`crate::transport::CachedResolver`]).
    pub fn agent(&self) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(self.stall))
            .timeout_recv_response(Some(self.stall))
            .timeout_per_read(Some(self.stall))
            .timeout_per_write(Some(self.stall))
            .http_status_as_error(false)
            .max_redirects(5)
            .max_idle_connections_per_host(crate::PARALLEL_DOWNLOADS)
            .max_idle_connections(4 * crate::PARALLEL_DOWNLOADS)
            .user_agent(concat!("whittle/", env!("CARGO_PKG_VERSION")))
            .build();
        ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            crate::transport::CachedResolver,
        )
    }

    /// The wait before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        self.backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(10))
            .min(MAX_BACKOFF)
    }
}

/// Why a transfer stopped, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stop {
    /// The operation's deadline passed.
    #[error(
        "not finished within the deadline of {} for the whole operation; if the network is only slow, allow more time with {DEADLINE_VAR} (e.g. {DEADLINE_VAR}={})",
        human(*deadline),
        human(deadline.saturating_mul(2))
    )]
    Deadline {
        /// The deadline.
        deadline: Duration,
    },
    /// The body arrived slower than the minimum speed.
    #[error(
        "the server sent {bytes} bytes in {}, slower than the minimum of {min_speed} bytes/s; if the link is only slow, lower the minimum with {MIN_SPEED_VAR} (0 accepts any speed)",
        human(*waited)
    )]
    TooSlow {
        /// Bytes received in the window.
        bytes: u64,
        /// The time spent waiting for them.
        waited: Duration,
        /// The minimum speed.
        min_speed: u64,
    },
    /// The server was silent, or did not connect or answer, for too long.
    #[error(
        "{what} {}; if the server is only slow, allow it more time with {STALL_VAR} (e.g. {STALL_VAR}={})",
        human(*stall),
        human(stall.saturating_mul(4))
    )]
    Stalled {
        /// What did not happen in time (`the server was silent for`, …).
        what: &'static str,
        /// The longest accepted wait.
        stall: Duration,
    },
    /// Nothing listens at the address.
    #[error(
        "connection refused: nothing listens there; check the host and port, and that the server is running"
    )]
    Refused,
    /// The body is longer than allowed (the caller knows the size it expected).
    #[error("the body is longer than expected")]
    TooLong,
    /// A network failure that may pass (reset connection, truncated answer).
    #[error("{0}")]
    Network(String),
    /// A failure that will not pass by retrying (TLS, unknown host, invalid URL, …).
    #[error("{0}")]
    Failed(String),
    /// An invalid setting in the environment.
    #[error("{0}")]
    Setting(String),
}

impl Stop {
    /// Whether another attempt may succeed: stalls, slow transfers and network failures.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Stop::Stalled { .. } | Stop::TooSlow { .. } | Stop::Network(_)
        )
    }

    /// What a failed HTTP request or body read means, under `limits`.
    pub fn from_ureq(e: ureq::Error, limits: &Limits) -> Stop {
        match e {
            ureq::Error::Timeout(ureq::Timeout::Global) => Stop::Deadline {
                deadline: limits.deadline,
            },
            ureq::Error::Timeout(t) => Stop::Stalled {
                what: match t {
                    ureq::Timeout::Connect | ureq::Timeout::Resolve => "could not connect within",
                    ureq::Timeout::RecvResponse | ureq::Timeout::SendRequest => {
                        "no complete answer within"
                    }
                    _ => "the server was silent for",
                },
                stall: limits.stall,
            },
            ureq::Error::Io(e) => Stop::from_io(e, limits),
            ureq::Error::BodyExceedsLimit(_) => Stop::TooLong,
            ureq::Error::ConnectionFailed | ureq::Error::Protocol(_) => {
                Stop::Network(bounded(&e.to_string()))
            }
            ureq::Error::HostNotFound => {
                Stop::Failed("host not found: check the host name (and the DNS setup)".into())
            }
            e => Stop::Failed(bounded(&e.to_string())),
        }
    }

    /// What a failed read means: a [`Stop`] raised by a [`Paced`] reader, a wrapped HTTP error,
    /// or an I/O error of the connection.
    pub fn from_io(e: io::Error, limits: &Limits) -> Stop {
        if let Some(stop) = e.get_ref().and_then(|i| i.downcast_ref::<Stop>()) {
            return stop.clone();
        }
        if e.get_ref().is_some_and(|i| i.is::<ureq::Error>()) {
            return Stop::from_ureq(ureq::Error::from(e), limits);
        }
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Stop::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Stop::Stalled {
                what: "the server was silent for",
                stall: limits.stall,
            },
            _ => Stop::Network(bounded(&e.to_string())),
        }
    }

    /// This stop as an I/O error, for readers (undone by [`Stop::from_io`]).
    pub fn into_io(self) -> io::Error {
        let kind = match self {
            Stop::TooLong => io::ErrorKind::InvalidData,
            Stop::Refused => io::ErrorKind::ConnectionRefused,
            _ => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, self)
    }
}

/// One operation's budget: the [`Limits`] and the moment its deadline passes.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    /// `None` when the deadline is too far to represent (no deadline).
    until: Option<Instant>,
}

impl Budget {
    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Time left before the deadline.
    pub fn left(&self) -> Duration {
        match self.until {
            Some(u) => u.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        }
    }

    /// `Err` once the deadline has passed.
    pub fn check(&self) -> Result<(), Stop> {
        if self.left().is_zero() {
            return Err(Stop::Deadline {
                deadline: self.limits.deadline,
            });
        }
        Ok(())
    }

    /// The one retry policy: runs `attempt(n)` for n = 1, 2, … until it succeeds, fails with an
    /// error `transient` does not accept, the retries are spent, or the wait before the next
    /// attempt would end past the deadline; waits [`Limits::delay`] between attempts.
    pub fn retry<T, E>(
        &self,
        transient: impl Fn(&E) -> bool,
        mut attempt: impl FnMut(u32) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut n = 1;
        loop {
            match attempt(n) {
                Err(e) if n <= self.limits.retries && transient(&e) => {
                    let wait = self.limits.delay(n);
                    if wait >= self.left() {
                        return Err(e);
                    }
                    std::thread::sleep(wait);
                    n += 1;
                }
                r => return r,
            }
        }
    }

    /// `request` with this budget's time left as its overall timeout (connecting, sending,
    /// answering and reading the body all count).
    pub fn request<S: ureq::AsSendBody>(
        &self,
        agent: &ureq::Agent,
        request: ureq::http::Request<S>,
    ) -> ureq::http::Request<S> {
        agent
            .configure_request(request)
            .timeout_global(self.timeout())
            .build()
    }

    /// The overall timeout of a request started now: the time left, or `None` when the
    /// deadline is too far to represent.
    pub fn timeout(&self) -> Option<Duration> {
        self.until.map(|_| self.left())
    }

    /// A response body read whole, held to this budget ([`Budget::pace`]): more than `limit`
    /// bytes is [`Stop::TooLong`], a body of exactly `limit` bytes is accepted.
    pub fn read_body(&self, body: ureq::Body, limit: u64) -> Result<Vec<u8>, Stop> {
        // ureq refuses a body of exactly its limit: allow one more byte and check
        let body = body
            .into_with_config()
            .limit(limit.saturating_add(1))
            .reader();
        let mut out = Vec::new();
        self.pace(body)
            .read_to_end(&mut out)
            .map_err(|e| Stop::from_io(e, &self.limits))?;
        if out.len() as u64 > limit {
            return Err(Stop::TooLong);
        }
        Ok(out)
    }

    /// `inner` (a response body) held to the deadline and the minimum speed: its reads fail
    /// with a [`Stop`] (see [`Stop::from_io`]) once either is missed.
    pub fn pace<R: Read>(&self, inner: R) -> Paced<R> {
        Paced {
            inner,
            budget: self.clone(),
            bytes: 0,
            waited: Duration::ZERO,
        }
    }
}

/// A reader held to a [`Budget`]; see [`Budget::pace`].
pub struct Paced<R> {
    inner: R,
    budget: Budget,
    /// Bytes and time spent inside `inner.read` in the current window.
    bytes: u64,
    waited: Duration,
}

impl<R: Read> Read for Paced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.budget.check().map_err(Stop::into_io)?;
        let start = Instant::now();
        let n = self.inner.read(buf)?;
        // only the time spent waiting for the server counts: a consumer that takes its time
        // between reads (writing to a slow disk, uploading what it read) is not the server's
        // fault
        self.waited += start.elapsed();
        self.bytes += n as u64;
        let limits = &self.budget.limits;
        if self.waited >= limits.stall {
            let wanted = (limits.min_speed as f64 * self.waited.as_secs_f64()) as u64;
            if self.bytes < wanted {
                return Err(Stop::TooSlow {
                    bytes: self.bytes,
                    waited: self.waited,
                    min_speed: limits.min_speed,
                }
                .into_io());
            }
            self.bytes = 0;
            self.waited = Duration::ZERO;
        }
        Ok(n)
    }
}

/// `s`, cut to at most 300 bytes at a character boundary.
fn bounded(s: &str) -> String {
    if s.len() <= 300 {
        return s.to_string();
    }
    let mut cut = 300;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

/// The value of the variable `name`, parsed; a problem noted when it does not parse.
fn setting<T>(
    var: &dyn Fn(&str) -> Option<String>,
    name: &str,
    parse: fn(&str) -> Option<T>,
    problems: &mut Vec<String>,
) -> Option<T> {
    let v = var(name)?;
    let parsed = parse(v.trim());
    if parsed.is_none() {
        let expected = match name {
            MIN_SPEED_VAR => {
                "a speed in bytes per second such as 1024, 10K or 1M (0 accepts any speed)"
            }
            _ => "a duration above zero such as 3600, 90s, 30m or 2h",
        };
        problems.push(format!(
            "{name}={:?} is not {expected}; fix or unset it",
            bounded(&v)
        ));
    }
    parsed
}

/// A duration as a person writes it: `45s`, `30m`, `2h`, `1.5s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() != 0 {
        format!("{:.1}s", d.as_secs_f64())
    } else if s != 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s != 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A duration written as seconds (`90`) or with a unit (`90s`, `30m`, `2h`).
pub fn parse_duration(v: &str) -> Option<Duration> {
    let (digits, unit) = split_unit(v);
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// A size written in bytes (`1024`) or with a binary unit (`10K`, `512M`, `16G`, `1T`; `KiB`,
/// `MiB`, … and a trailing `B` are accepted too).
pub fn parse_size(v: &str) -> Option<u64> {
    let (digits, unit) = split_unit(v);
    let n: u64 = digits.parse().ok()?;
    let unit = unit.strip_suffix(['B', 'b']).unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

fn split_unit(v: &str) -> (&str, &str) {
    let v = v.trim();
    let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    (&v[..end], v[end..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(retries: u32) -> Limits {
        Limits {
            retries,
            backoff: Duration::from_millis(1),
            ..Limits::default()
        }
    }

    #[test]
    fn retries_transient_errors_up_to_the_limit_then_gives_the_last_error() {
        let b = limits(3).start().unwrap();
        let mut seen = Vec::new();
        let r: Result<(), u32> = b.retry(
            |_| true,
            |n| {
                seen.push(n);
                Err(n)
            },
        );
        assert_eq!(r, Err(4));
        assert_eq!(seen, [1, 2, 3, 4]);
    }

    #[test]
    fn stops_at_success_or_at_a_permanent_error() {
        let b = limits(5).start().unwrap();
        let r: Result<u32, u32> = b.retry(|_| true, |n| if n < 3 { Err(n) } else { Ok(n) });
        assert_eq!(r, Ok(3));
        let mut calls = 0;
        let r: Result<(), &str> = b.retry(
            |e| *e != "permanent",
            |_| {
                calls += 1;
                Err("permanent")
            },
        );
        assert_eq!((r, calls), (Err("permanent"), 1));
    }

    #[test]
    fn never_waits_past_the_deadline() {
        let b = Limits {
            retries: 10,
            backoff: Duration::from_secs(20),
            deadline: Duration::from_secs(5),
            ..Limits::default()
        }
        .start()
        .unwrap();
        let mut calls = 0;
        let r: Result<(), ()> = b.retry(
            |_| true,
            |_| {
                calls += 1;
                Err(())
            },
        );
        assert_eq!((r, calls), (Err(()), 1), "a 20 s wait does not fit in 5 s");
    }

    #[test]
    fn delays_double_and_are_capped() {
        let l = Limits::default();
        assert_eq!(l.delay(1), Duration::from_millis(500));
        assert_eq!(l.delay(2), Duration::from_secs(1));
        assert_eq!(l.delay(3), Duration::from_secs(2));
        assert_eq!(l.delay(40), Duration::from_secs(30));
    }

    #[test]
    fn settings_come_from_the_environment_and_bad_ones_are_named() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let l = Limits::from_vars(vars(&[
            (DEADLINE_VAR, "2h"),
            (MIN_SPEED_VAR, "10K"),
            (STALL_VAR, "90"),
        ]));
        assert_eq!(l.deadline, Duration::from_secs(7200));
        assert_eq!(l.min_speed, 10 << 10);
        assert_eq!(l.stall, Duration::from_secs(90));
        assert!(l.start().is_ok());
        assert_eq!(Limits::from_vars(|_| None), Limits::default());
        let bad = Limits::from_vars(vars(&[(DEADLINE_VAR, "soon"), (STALL_VAR, "0")]));
        let e = bad.start().unwrap_err().to_string();
        assert!(
            e.contains(DEADLINE_VAR) && e.contains("\"soon\"") && e.contains(STALL_VAR),
            "{e}"
        );
        let huge = "9".repeat(5000);
        let e = Limits::from_vars(|k| (k == MIN_SPEED_VAR).then(|| huge.clone()))
            .start()
            .unwrap_err()
            .to_string();
        assert!(e.len() < 600, "bounded: {}", e.len());
    }

    #[test]
    fn sizes_and_durations_parse_as_people_write_them() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("10K"), Some(10 << 10));
        assert_eq!(parse_size("16GiB"), Some(16 << 30));
        assert_eq!(parse_size("2 MB"), Some(2 << 20));
        assert_eq!(parse_size("1t"), Some(1 << 40));
        assert_eq!(parse_size("0"), Some(0));
        for bad in [
            "",
            "K",
            "-1",
            "1.5G",
            "1X",
            "99999999999999999999",
            "16777216T",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "s", "1d", "-5", "1.5h", "99999999999999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_secs(90)), "90s");
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }

    /// A reader that takes `every` for each byte, like a dripping server.
    struct Drip(Duration);
    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(self.0);
            buf[0] = 0;
            Ok(1)
        }
    }

    #[test]
    fn a_dripping_reader_is_stopped_within_one_window() {
        let b = Limits {
            stall: Duration::from_millis(200),
            ..Limits::default()
        }
        .start()
        .unwrap();
        let mut r = b.pace(Drip(Duration::from_millis(20)));
        let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
        let stop = Stop::from_io(e, b.limits());
        assert!(matches!(stop, Stop::TooSlow { .. }), "{stop}");
        assert!(stop.is_transient());
        assert!(stop.to_string().contains(MIN_SPEED_VAR), "{stop}");
    }

    #[test]
    fn time_the_consumer_spends_between_reads_is_not_counted() {
        let b = Limits {
            stall: Duration::from_millis(50),
            min_speed: 1 << 20,
            ..Limits::default()
        }
        .start()
        .unwrap();
        let mut r = b.pace(&[7u8; 4096][..]);
        let mut buf = [0u8; 64];
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(r.read(&mut buf).unwrap(), 64);
        }
    }

    #[test]
    fn a_passed_deadline_stops_reads() {
        let b = Limits {
            deadline: Duration::from_millis(1),
            ..Limits::default()
        }
        .start()
        .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let e = b.pace(&b"abc"[..]).read(&mut [0u8; 3]).unwrap_err();
        let stop = Stop::from_io(e, b.limits());
        assert!(matches!(stop, Stop::Deadline { .. }), "{stop}");
        assert!(!stop.is_transient());
        assert!(stop.to_string().contains(DEADLINE_VAR), "{stop}");
    }

    #[test]
    fn refused_connections_and_long_bodies_are_not_transient() {
        let l = Limits::default();
        let refused = Stop::from_io(io::Error::from(io::ErrorKind::ConnectionRefused), &l);
        assert_eq!(refused, Stop::Refused);
        assert!(!refused.is_transient());
        assert_eq!(
            Stop::from_io(ureq::Error::BodyExceedsLimit(9).into_io(), &l),
            Stop::TooLong
        );
        let reset = Stop::from_io(io::Error::from(io::ErrorKind::ConnectionReset), &l);
        assert!(reset.is_transient(), "{reset}");
        assert!(Stop::from_ureq(ureq::Error::Timeout(ureq::Timeout::PerRead), &l).is_transient());
        assert_eq!(
            Stop::from_ureq(ureq::Error::Timeout(ureq::Timeout::Global), &l),
            Stop::Deadline {
                deadline: l.deadline
            }
        );
    }
}
