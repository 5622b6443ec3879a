//! The newest Release `Date` accepted per Debian repository, remembered in the cache directory
//! (`releases/`), so that an older Release — validly signed, but replayed by a mirror or a
//! man in the middle to keep an image on known-vulnerable packages (a downgrade or freeze
//! attack) — is noticed instead of silently used.
//!
//! A repository is its URI, its suite and the key that signed its Release: one record per
//! signing key, so that a keyring change (a new archive key) does not reset the protection while
//! an old key still signs, and a different repository at the same URI (signed by another key)
//! starts its own history. Records are small text files replaced atomically (temporary file,
//! then rename) under an exclusive lock, so concurrent builds keep the newest date; a build
//! that cannot write them (read-only cache) still checks against what is there.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The directory of the records inside the cache.
const DIR: &str = "releases";
/// The largest record read (a real one is ~200 bytes).
const MAX_RECORD: u64 = 4096;

/// What [`ReleaseHistory::observe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Not older than anything recorded (or nothing was recorded); the date is now recorded.
    Fresh,
    /// Not older than anything recorded, but the record could not be written (read-only cache).
    NotRecorded(String),
    /// Older than the newest Release already accepted for this repository; nothing was written.
    Older {
        /// The newest `Date` accepted before.
        newest: SystemTime,
        /// The signing key (fingerprint) of that record.
        key: String,
    },
}

/// The records kept under a cache directory.
#[derive(Debug, Clone)]
pub struct ReleaseHistory {
    dir: PathBuf,
    /// Where a record is written before it is renamed into place: the cache's `tmp/`, which is
    /// cleaned of what killed builds leave, when there is one.
    tmp: PathBuf,
}

/// One repository as recorded: URI, suite, signing key.
struct RecordKey<'a> {
    uri: &'a str,
    suite: &'a str,
    key: &'a str,
}

impl RecordKey<'_> {
    fn file_name(&self) -> String {
        let id = format!("{}\n{}\n{}", self.uri, self.suite, self.key);
        whittle_fetch::sha256_hex(id.as_bytes())
    }

    fn render(&self, date: SystemTime) -> String {
        format!(
            "uri {}\nsuite {}\nkey {}\ndate {}\n",
            self.uri,
            self.suite,
            self.key,
            secs(date)
        )
    }

    /// The date of a record of this repository; `None` when the text is not one.
    fn parse(&self, text: &str) -> Option<SystemTime> {
        let mut date = None;
        let mut matches = 0;
        for line in text.lines() {
            let (name, value) = line.split_once(' ')?;
            match name {
                "uri" => matches += usize::from(value == self.uri),
                "suite" => matches += usize::from(value == self.suite),
                "key" => matches += usize::from(value == self.key),
                "date" => date = value.parse::<u64>().ok(),
                _ => {}
            }
        }
        (matches == 3)
            .then_some(date)
            .flatten()
            .and_then(|d| UNIX_EPOCH.checked_add(Duration::from_secs(d)))
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl ReleaseHistory {
    /// The records of the cache rooted at `cache_root`.
    pub fn new(cache_root: &Path) -> Self {
        let dir = cache_root.join(DIR);
        let tmp = cache_root.join("tmp");
        ReleaseHistory {
            tmp: if tmp.is_dir() { tmp } else { dir.clone() },
            dir,
        }
    }

    /// Compares the `date` of a Release of `uri` + `suite` signed by `keys` (fingerprints) with
    /// the newest one recorded for any of those keys, and records it when it is not older.
    /// Nothing is recorded when `keys` is empty (an unsigned repository has no history).
    pub fn observe(
        &self,
        uri: &str,
        suite: &str,
        keys: &[String],
        date: SystemTime,
    ) -> std::io::Result<Observed> {
        if keys.is_empty() {
            return Ok(Observed::Fresh);
        }
        let records: Vec<RecordKey<'_>> = keys
            .iter()
            .map(|key| RecordKey { uri, suite, key })
            .collect();
        // The lock serializes read-compare-write across processes; without it (read-only
        // cache) the records are still read, they are only ever replaced whole.
        let lock = self.lock();
        let mut newest: Option<(SystemTime, &str)> = None;
        for r in &records {
            if let Some(d) = self.read(r)?
                && newest.is_none_or(|(n, _)| d > n)
            {
                newest = Some((d, r.key));
            }
        }
        if let Some((n, key)) = newest
            && date < n
        {
            return Ok(Observed::Older {
                newest: n,
                key: key.to_string(),
            });
        }
        let lock = match lock {
            Ok(l) => l,
            Err(e) => return Ok(Observed::NotRecorded(e.to_string())),
        };
        for r in &records {
            if self.read(r)?.is_none_or(|d| d < date)
                && let Err(e) = self.write(r, date)
            {
                return Ok(Observed::NotRecorded(e.to_string()));
            }
        }
        drop(lock);
        Ok(Observed::Fresh)
    }

    /// Takes the exclusive lock of the records (released when the file is dropped).
    fn lock(&self) -> std::io::Result<File> {
        std::fs::create_dir_all(&self.dir)?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        f.lock()?;
        Ok(f)
    }

    fn read(&self, r: &RecordKey<'_>) -> std::io::Result<Option<SystemTime>> {
        use std::io::Read;
        let path = self.dir.join(r.file_name());
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut text = String::new();
        // A damaged record (not text, too long, another repository's) counts as none; it is
        // replaced by the next write.
        if f.take(MAX_RECORD).read_to_string(&mut text).is_err() {
            return Ok(None);
        }
        Ok(r.parse(&text))
    }

    fn write(&self, r: &RecordKey<'_>, date: SystemTime) -> std::io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(&self.tmp)?;
        tmp.write_all(r.render(date).as_bytes())?;
        tmp.persist(self.dir.join(r.file_name()))
            .map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn older_release_of_the_same_repository_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let h = ReleaseHistory::new(dir.path());
        let ab = keys(&["A", "B"]);
        assert_eq!(h.observe("u", "s", &ab, at(100)).unwrap(), Observed::Fresh);
        assert_eq!(h.observe("u", "s", &ab, at(100)).unwrap(), Observed::Fresh);
        assert_eq!(h.observe("u", "s", &ab, at(200)).unwrap(), Observed::Fresh);
        assert_eq!(
            h.observe("u", "s", &ab, at(150)).unwrap(),
            Observed::Older {
                newest: at(200),
                key: "A".into()
            }
        );
        // refused dates are not recorded
        assert_eq!(h.observe("u", "s", &ab, at(200)).unwrap(), Observed::Fresh);
        // a key rotation: signed by B and C now; B's record still protects
        assert!(matches!(
            h.observe("u", "s", &keys(&["B", "C"]), at(150)).unwrap(),
            Observed::Older { key, .. } if key == "B"
        ));
        // another suite, another URI, another key: separate histories
        assert_eq!(h.observe("u", "t", &ab, at(1)).unwrap(), Observed::Fresh);
        assert_eq!(h.observe("v", "s", &ab, at(1)).unwrap(), Observed::Fresh);
        assert_eq!(
            h.observe("u", "s", &keys(&["C"]), at(1)).unwrap(),
            Observed::Fresh
        );
        // unsigned: no history
        assert_eq!(h.observe("u", "s", &[], at(1)).unwrap(), Observed::Fresh);
    }

    #[test]
    fn damaged_records_count_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let h = ReleaseHistory::new(dir.path());
        let k = keys(&["A"]);
        h.observe("u", "s", &k, at(500)).unwrap();
        let r = RecordKey {
            uri: "u",
            suite: "s",
            key: "A",
        };
        let path = dir.path().join(DIR).join(r.file_name());
        for junk in [
            &b"\xff\xfe"[..],
            b"date 9999999999\n",
            b"uri v\nsuite s\nkey A\ndate 1\n",
        ] {
            std::fs::write(&path, junk).unwrap();
            assert_eq!(h.observe("u", "s", &k, at(10)).unwrap(), Observed::Fresh);
            assert_eq!(
                r.parse(&std::fs::read_to_string(&path).unwrap()),
                Some(at(10))
            );
        }
    }

    #[test]
    fn concurrent_builds_keep_the_newest_date() {
        let dir = tempfile::tempdir().unwrap();
        let k = keys(&["A"]);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (dir, k) = (dir.path(), &k);
                s.spawn(move || {
                    let h = ReleaseHistory::new(dir);
                    for i in 0..25 {
                        let _ = h.observe("u", "s", k, at(1000 + i * 4 + t)).unwrap();
                    }
                });
            }
        });
        let h = ReleaseHistory::new(dir.path());
        assert!(matches!(
            h.observe("u", "s", &k, at(1098)).unwrap(),
            Observed::Older { newest, .. } if newest == at(1099)
        ));
    }

    #[test]
    fn a_cache_that_cannot_be_written_still_checks() {
        let dir = tempfile::tempdir().unwrap();
        let h = ReleaseHistory::new(dir.path());
        let k = keys(&["A"]);
        h.observe("u", "s", &k, at(500)).unwrap();
        // the lock cannot be taken (as in a read-only cache, also when running as root)
        let lock = dir.path().join(DIR).join(".lock");
        std::fs::remove_file(&lock).unwrap();
        std::fs::create_dir(&lock).unwrap();
        assert!(matches!(
            h.observe("u", "s", &k, at(400)).unwrap(),
            Observed::Older { .. }
        ));
        assert!(matches!(
            h.observe("u", "s", &k, at(600)).unwrap(),
            Observed::NotRecorded(_)
        ));
        assert!(matches!(
            h.observe("u", "s", &k, at(550)).unwrap(),
            Observed::NotRecorded(_)
        ));
    }
}
