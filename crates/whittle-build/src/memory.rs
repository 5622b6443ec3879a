//! The one memory budget for unpacking packages. Package data is untrusted: a 1 MB `.deb` can
//! hold gigabytes of zeros. Every package a build unpacks — in parallel or one after the other,
//! Debian or APK — draws from one [`MemoryBudget`] *before* its decompressed bytes are held in
//! memory: an APK's through a [`BudgetReader`] between the decompressor and the tar walk, which
//! reserves each piece as it comes out; a `.deb`'s for the files it keeps in memory (those under
//! [`whittle_fs::INLINE_MAX`] bytes, and sparse files, which keep more than their archive holds);
//! its larger files stream to disk ([`crate::assemble::unpack_deb`]), and its decompressed data
//! archive is capped at the budget's limit. When the budget is spent, the package is refused with
//! an error naming it, its size so far and the limit, and how to raise it ([`UNPACK_LIMIT_VAR`]).
//! Reserved bytes stay drawn until the build of the architecture ends: the image's tree holds
//! them. What the `.deb` files' decompressed data archives take on disk is drawn from the same
//! budget's disk limit, for all packages together ([`Account::draw_disk`]).

use std::cell::Cell;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;

/// Default limit of the budget: the most decompressed package data one image build holds.
pub const DEFAULT_UNPACK_LIMIT: u64 = 2 << 30;

/// The environment variable that sets the limit (`8G`, `512M`, bytes...).
pub const UNPACK_LIMIT_VAR: &str = "WHITTLE_UNPACK_LIMIT";

/// The memory all packages of one build may unpack to, shared by the threads that unpack them.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
    disk_limit: u64,
    written: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        MemoryBudget {
            limit,
            used: AtomicU64::new(0),
            disk_limit: crate::MAX_IMAGE_BYTES,
            written: AtomicU64::new(0),
        }
    }

    /// The budget `$WHITTLE_UNPACK_LIMIT` sets, else [`DEFAULT_UNPACK_LIMIT`].
    pub fn from_env() -> Result<Self, Error> {
        Self::from_setting(std::env::var_os(UNPACK_LIMIT_VAR).as_deref())
    }

    /// The budget a value of [`UNPACK_LIMIT_VAR`] sets (`None`: the default).
    fn from_setting(value: Option<&std::ffi::OsStr>) -> Result<Self, Error> {
        let Some(value) = value else {
            return Ok(Self::new(DEFAULT_UNPACK_LIMIT));
        };
        let text = value.to_string_lossy();
        match whittle_fetch::parse_size(&text) {
            Some(n) if n > 0 => Ok(Self::new(n)),
            _ => Err(Error::Setting(format!(
                "{UNPACK_LIMIT_VAR}={:?}: not a size; write bytes or a number with K, M or G \
                 (e.g. {UNPACK_LIMIT_VAR}=8G)",
                text.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// This budget with `bytes` as the most the packages' decompressed data archives may take
    /// on disk in all ([`Account::draw_disk`]; [`crate::MAX_IMAGE_BYTES`] unless set).
    pub fn with_disk_limit(mut self, bytes: u64) -> Self {
        self.disk_limit = bytes;
        self
    }

    /// The most the packages' decompressed data archives may take on disk in all.
    pub fn disk_limit(&self) -> u64 {
        self.disk_limit
    }

    /// Bytes drawn now, by all packages.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn try_reserve(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|&t| t <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// A new account for one package (used by one thread).
    pub fn account(&self) -> Account<'_> {
        Account {
            budget: self,
            held: Cell::new(0),
            exceeded: Cell::new(false),
            disk_exceeded: Cell::new(false),
        }
    }
}

/// What one package drew from a [`MemoryBudget`].
#[derive(Debug)]
pub struct Account<'b> {
    budget: &'b MemoryBudget,
    held: Cell<u64>,
    exceeded: Cell<bool>,
    disk_exceeded: Cell<bool>,
}

impl Account<'_> {
    /// Makes sure this package holds at least `total` bytes of the budget; `false` (and
    /// [`Account::exceeded`]) when the budget cannot give them.
    pub fn grow_to(&self, total: u64) -> bool {
        let held = self.held.get();
        if total <= held {
            return true;
        }
        if self.budget.try_reserve(total - held) {
            self.held.set(total);
            true
        } else {
            self.exceeded.set(true);
            false
        }
    }

    /// The budget's limit in bytes.
    pub fn limit(&self) -> u64 {
        self.budget.limit
    }

    /// Draws `n` bytes written to disk (a package's large files stay there, out of the memory
    /// budget, in its decompressed data archive): every package of the build draws from one
    /// [`MemoryBudget::disk_limit`], never given back (the copies stay); `false` (and
    /// [`Account::disk_exceeded`]) past it.
    pub fn draw_disk(&self, n: u64) -> bool {
        let b = self.budget;
        let ok = b
            .written
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                w.checked_add(n).filter(|&t| t <= b.disk_limit)
            })
            .is_ok();
        if !ok {
            self.disk_exceeded.set(true);
        }
        ok
    }

    /// The budget's [`MemoryBudget::disk_limit`].
    pub fn disk_limit(&self) -> u64 {
        self.budget.disk_limit
    }

    /// Whether this package wrote more to disk than the budget's disk limit had left.
    pub fn disk_exceeded(&self) -> bool {
        self.disk_exceeded.get()
    }

    /// Bytes this package holds.
    pub fn held(&self) -> u64 {
        self.held.get()
    }

    /// Whether this package asked for more than the budget had left.
    pub fn exceeded(&self) -> bool {
        self.exceeded.get()
    }

    /// Gives everything back (what was read is thrown away).
    pub fn release_all(&self) {
        self.budget.release(self.held.replace(0));
        self.exceeded.set(false);
    }

    /// `inner`, drawing each piece it yields from this account before handing it on.
    pub fn reader<R: Read>(&self, inner: R) -> BudgetReader<'_, R> {
        BudgetReader {
            inner,
            account: self,
            read: self.held(),
        }
    }

    /// The error for a package (whose archive has `archive_size` bytes) that needs more than
    /// the budget: its name and size, what it had unpacked, what the other packages hold, the
    /// limit and how to raise it.
    pub fn refused(&self, package: &str, archive_size: u64) -> Error {
        let limit = self.budget.limit;
        let others = self.budget.used().saturating_sub(self.held());
        Error::Package {
            package: package.to_string(),
            message: format!(
                "its {} archive unpacks to more than the memory budget for unpacked packages \
                 allows (limit {}, of which the other packages of the image hold {}; refused \
                 after {}); a package this large is broken or a decompression bomb — if it is \
                 genuine, raise the limit: {UNPACK_LIMIT_VAR}={}",
                mib(archive_size),
                mib(limit),
                mib(others),
                mib(self.held()),
                suggest(limit)
            ),
        }
    }
}

/// `N bytes (X.Y MiB)`.
fn mib(n: u64) -> String {
    format!("{n} bytes ({:.1} MiB)", n as f64 / f64::from(1 << 20))
}

/// A limit twice `limit`, written as people write it.
fn suggest(limit: u64) -> String {
    let g = limit.saturating_mul(2).div_ceil(1 << 30);
    format!("{}G", g.max(1))
}

/// A reader that draws what it yields from an [`Account`] first; it fails once the budget is
/// spent (see [`Account::exceeded`]).
#[derive(Debug)]
pub struct BudgetReader<'a, R> {
    inner: R,
    account: &'a Account<'a>,
    read: u64,
}

impl<R: Read> Read for BudgetReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        if self.account.grow_to(self.read) {
            Ok(n)
        } else {
            Err(io::Error::other("the memory budget for unpacking is spent"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_share_one_limit_and_give_back() {
        let b = MemoryBudget::new(100);
        let (x, y) = (b.account(), b.account());
        assert!(x.grow_to(60));
        assert!(x.grow_to(40), "already held");
        assert!(!y.grow_to(50), "only 40 left");
        assert!(y.exceeded() && !x.exceeded());
        assert!(y.grow_to(40));
        assert_eq!(b.used(), 100);
        x.release_all();
        assert_eq!(b.used(), 40);
        assert!(y.grow_to(100));
    }

    #[test]
    fn a_reader_stops_when_the_budget_is_spent() {
        let b = MemoryBudget::new(1000);
        let a = b.account();
        let mut all = Vec::new();
        let err = a
            .reader(io::repeat(0).take(5000))
            .read_to_end(&mut all)
            .unwrap_err();
        assert!(a.exceeded(), "{err}");
        assert!(all.len() <= 1000, "{}", all.len());
        let msg = a.refused("bomb", 42).to_string();
        for part in ["bomb", "its 42 bytes", "limit 1000 bytes", UNPACK_LIMIT_VAR] {
            assert!(msg.contains(part), "{msg}");
        }
        assert!(!msg.contains("::"), "{msg}");
    }

    #[test]
    fn the_limit_comes_from_the_setting() {
        let limit = |v: &str| MemoryBudget::from_setting(Some(std::ffi::OsStr::new(v)));
        assert_eq!(limit("3G").unwrap().limit(), 3 << 30);
        assert_eq!(limit("512M").unwrap().limit(), 512 << 20);
        for bad in ["lots", "0", ""] {
            let e = limit(bad).unwrap_err().to_string();
            assert!(
                e.contains("WHITTLE_UNPACK_LIMIT=") && e.contains("8G"),
                "{e}"
            );
        }
        assert_eq!(
            MemoryBudget::from_setting(None).unwrap().limit(),
            DEFAULT_UNPACK_LIMIT
        );
        assert_eq!(suggest(2 << 30), "4G");
    }
}
