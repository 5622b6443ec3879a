//! The on-disk database: one file, written atomically, verified as read.
//!
//! Layout (integers little-endian):
//! ```text
//! "WHTLVDB1"                        magic, 8 bytes
//! header_len: u64, index_len: u64
//! sha256(header ‖ index)            32 bytes
//! header                            JSON: DbHeader
//! index                             entries sorted by (ecosystem, package):
//!                                   u16 len + ecosystem, u16 len + package,
//!                                   u64 offset, u32 len, 8-byte sha256 prefix of the block
//! blocks                            per key, the JSON array of its records
//! ```
//! Opening reads and checks the header and index only; each block is checked when read, so a
//! scan touches only the keys of the image's packages.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{DB_FILE, DbError, Record};

const MAGIC: &[u8; 8] = b"WHTLVDB1";
const PREFIX: usize = 8 + 8 + 8 + 32;
/// Largest header + index accepted: 1 GiB.
const MAX_INDEX_BYTES: u64 = 1 << 30;
/// Largest block of one key: 256 MiB.
const MAX_BLOCK_BYTES: u32 = 256 << 20;

/// The length field of one package's block, refused when the block could not be read back
/// (over [`MAX_BLOCK_BYTES`]) instead of writing a database that fails on lookup.
fn block_len(len: usize, eco: &str, pkg: &str, dir: &Path) -> Result<u32, DbError> {
    u32::try_from(len)
        .ok()
        .filter(|l| *l <= MAX_BLOCK_BYTES)
        .ok_or_else(|| DbError::Format {
            path: dir.display().to_string(),
            message: format!(
                "the advisories for {eco}/{pkg} take {len} bytes, more than one package may                  ({MAX_BLOCK_BYTES}); import fewer sources for it"
            ),
        })
}
/// Smallest index entry: two empty strings' lengths, offset, length, hash prefix.
const MIN_ENTRY_BYTES: usize = 2 + 2 + 8 + 4 + 8;

/// One imported source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// The path or URL imported.
    pub name: String,
    /// When, in seconds since the Unix epoch.
    pub imported: u64,
    /// How many records it gave.
    pub records: usize,
    /// Files read by format (`osv`, `secdb`, `wolfi-advisories`).
    pub files: BTreeMap<String, usize>,
}

/// What the database holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbHeader {
    /// Format version (1).
    pub format: u32,
    /// When the file was written, seconds since the Unix epoch.
    pub written: u64,
    /// The imported sources.
    pub sources: Vec<SourceInfo>,
    /// Total records.
    pub records: usize,
    /// Distinct (ecosystem, package) keys.
    pub keys: usize,
    /// Records per ecosystem.
    pub ecosystems: BTreeMap<String, usize>,
}

#[derive(Debug, Clone)]
struct Entry {
    ecosystem: String,
    package: String,
    offset: u64,
    len: u32,
    hash: [u8; 8],
}

/// An open database: header and index in memory, blocks read on demand.
#[derive(Debug)]
pub struct Db {
    path: PathBuf,
    file: File,
    header: DbHeader,
    index: Vec<Entry>,
    blocks_start: u64,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> DbError {
    DbError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn block_hash(bytes: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(bytes);
    let mut h = [0u8; 8];
    h.copy_from_slice(&d[..8]);
    h
}

impl Db {
    /// Opens the database in `dir`, reading and verifying its header and index.
    pub fn open(dir: &Path) -> Result<Db, DbError> {
        let path = dir.join(DB_FILE);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DbError::Missing {
                    dir: dir.display().to_string(),
                });
            }
            Err(source) => {
                return Err(DbError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let mut prefix = [0u8; PREFIX];
        file.read_exact(&mut prefix)
            .map_err(|_| corrupt(&path, "shorter than its fixed header"))?;
        let mut c = Cursor {
            buf: &prefix,
            pos: 0,
        };
        if c.take(8) != Some(MAGIC.as_slice()) {
            return Err(corrupt(&path, "not a whittle vulnerability database"));
        }
        let (hlen, ilen) = (c.u64().unwrap_or(0), c.u64().unwrap_or(0));
        let sum = c.take(32).unwrap_or(&[]).to_vec();
        let total = hlen
            .checked_add(ilen)
            .filter(|t| *t <= MAX_INDEX_BYTES)
            .ok_or_else(|| corrupt(&path, "index length out of range"))?;
        let mut meta = vec![0u8; total as usize];
        file.read_exact(&mut meta)
            .map_err(|_| corrupt(&path, "truncated index"))?;
        if Sha256::digest(&meta).as_slice() != sum.as_slice() {
            return Err(corrupt(&path, "index checksum mismatch"));
        }
        let (hbytes, ibytes) = meta.split_at(hlen as usize);
        let header: DbHeader =
            serde_json::from_slice(hbytes).map_err(|e| corrupt(&path, format!("header: {e}")))?;
        if header.format != 1 {
            return Err(corrupt(
                &path,
                format!("format {} is not supported", header.format),
            ));
        }
        let mut c = Cursor {
            buf: ibytes,
            pos: 0,
        };
        // `keys` is the file's own claim: never reserve more than the index bytes can hold
        let mut index = Vec::with_capacity(header.keys.min(ibytes.len() / MIN_ENTRY_BYTES));
        while c.pos < ibytes.len() {
            let e = (|| {
                Some(Entry {
                    ecosystem: c.string()?,
                    package: c.string()?,
                    offset: c.u64()?,
                    len: c.u32()?,
                    hash: c.take(8)?.try_into().ok()?,
                })
            })()
            .ok_or_else(|| corrupt(&path, "damaged index entry"))?;
            index.push(e);
        }
        Ok(Db {
            path,
            file,
            header,
            index,
            blocks_start: PREFIX as u64 + total,
        })
    }

    /// What the database holds.
    pub fn header(&self) -> &DbHeader {
        &self.header
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_block(&self, e: &Entry) -> Result<Vec<Record>, DbError> {
        if e.len > MAX_BLOCK_BYTES {
            return Err(corrupt(&self.path, "block length out of range"));
        }
        let at = self
            .blocks_start
            .checked_add(e.offset)
            .ok_or_else(|| corrupt(&self.path, "block offset out of range"))?;
        let mut buf = vec![0u8; e.len as usize];
        self.file
            .read_exact_at(&mut buf, at)
            .map_err(|_| corrupt(&self.path, "truncated records"))?;
        if block_hash(&buf) != e.hash {
            return Err(corrupt(
                &self.path,
                format!(
                    "checksum mismatch in the records of {} {}",
                    e.ecosystem, e.package
                ),
            ));
        }
        serde_json::from_slice(&buf).map_err(|err| {
            corrupt(
                &self.path,
                format!("records of {} {}: {err}", e.ecosystem, e.package),
            )
        })
    }

    /// The records of `package` in `ecosystem` (empty when none), verified.
    pub fn lookup(&self, ecosystem: &str, package: &str) -> Result<Vec<Record>, DbError> {
        let found = self.index.binary_search_by(|e| {
            (e.ecosystem.as_str(), e.package.as_str()).cmp(&(ecosystem, package))
        });
        match found {
            Ok(i) => self
                .index
                .get(i)
                .map_or(Ok(Vec::new()), |e| self.read_block(e)),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// Whether the database has any record for `ecosystem`.
    pub fn has_ecosystem(&self, ecosystem: &str) -> bool {
        self.header.ecosystems.contains_key(ecosystem)
    }

    /// Every record (reads the whole file).
    pub fn all_records(&self) -> Result<Vec<Record>, DbError> {
        // `records` is the file's own claim: grow as blocks are read instead of trusting it
        let mut out = Vec::new();
        for e in &self.index {
            out.extend(self.read_block(e)?);
        }
        Ok(out)
    }
}

/// Writes the database file in `dir` atomically (a temporary file renamed over the old one).
pub fn write(dir: &Path, sources: Vec<SourceInfo>, records: Vec<Record>) -> Result<(), DbError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| DbError::Io {
            path: p.clone(),
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut groups: BTreeMap<(String, String), Vec<Record>> = BTreeMap::new();
    let mut ecosystems: BTreeMap<String, usize> = BTreeMap::new();
    let count = records.len();
    for r in records {
        *ecosystems.entry(r.ecosystem.clone()).or_default() += 1;
        groups
            .entry((r.ecosystem.clone(), r.package.clone()))
            .or_default()
            .push(r);
    }
    let keys = groups.len();
    let mut index = Vec::new();
    let mut blocks = Vec::new();
    for ((eco, pkg), mut recs) in groups {
        recs.sort_by(|a, b| (&a.id, &a.source).cmp(&(&b.id, &b.source)));
        let bytes = serde_json::to_vec(&recs).map_err(|e| DbError::Format {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        for s in [&eco, &pkg] {
            let len = u16::try_from(s.len()).map_err(|_| DbError::Format {
                path: dir.display().to_string(),
                message: format!("ecosystem or package name too long: {s:.60}…"),
            })?;
            index.extend_from_slice(&len.to_le_bytes());
            index.extend_from_slice(s.as_bytes());
        }
        index.extend_from_slice(&(blocks.len() as u64).to_le_bytes());
        index.extend_from_slice(&block_len(bytes.len(), &eco, &pkg, dir)?.to_le_bytes());
        index.extend_from_slice(&block_hash(&bytes));
        blocks.extend_from_slice(&bytes);
    }
    let header = DbHeader {
        format: 1,
        written: crate::now(),
        sources,
        records: count,
        keys,
        ecosystems,
    };
    let hbytes = serde_json::to_vec(&header).map_err(|e| DbError::Format {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut sum = Sha256::new();
    sum.update(&hbytes);
    sum.update(&index);
    let path = dir.join(DB_FILE);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    {
        let f = tmp.as_file_mut();
        let mut w = std::io::BufWriter::new(f);
        w.write_all(MAGIC)
            .and_then(|_| w.write_all(&(hbytes.len() as u64).to_le_bytes()))
            .and_then(|_| w.write_all(&(index.len() as u64).to_le_bytes()))
            .and_then(|_| w.write_all(&sum.finalize()))
            .and_then(|_| w.write_all(&hbytes))
            .and_then(|_| w.write_all(&index))
            .and_then(|_| w.write_all(&blocks))
            .and_then(|_| w.flush())
            .map_err(io(&path))?;
    }
    tmp.as_file().sync_all().map_err(io(&path))?;
    tmp.persist(&path).map_err(|e| DbError::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    #[test]
    fn blocks_too_big_to_read_back_are_refused_when_written() {
        let dir = Path::new("/db");
        assert_eq!(block_len(10, "Debian:12", "glibc", dir).unwrap(), 10);
        assert_eq!(
            block_len(MAX_BLOCK_BYTES as usize, "e", "p", dir).unwrap(),
            MAX_BLOCK_BYTES
        );
        let err = block_len(MAX_BLOCK_BYTES as usize + 1, "Debian:12", "glibc", dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Debian:12/glibc"), "{err}");
        assert!(block_len(usize::MAX, "e", "p", dir).is_err());
    }

    fn rec(eco: &str, pkg: &str, id: &str) -> Record {
        Record {
            id: id.into(),
            aliases: vec![],
            ecosystem: eco.into(),
            package: pkg.into(),
            ranges: vec![vec![
                Event::Introduced("0".into()),
                Event::Fixed("1.0".into()),
            ]],
            versions: vec![],
            not_affected: false,
            severity: Some(whittle_report::Severity::High),
            score: Some(7.5),
            summary: "s".into(),
            source: "t".into(),
        }
    }

    #[test]
    fn roundtrip_lookup_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let recs = vec![
            rec("Debian:12", "glibc", "CVE-1"),
            rec("Alpine:v3.10", "musl", "CVE-2"),
            rec("Debian:12", "glibc", "CVE-3"),
        ];
        write(dir.path(), vec![], recs).unwrap();
        let db = Db::open(dir.path()).unwrap();
        assert_eq!(db.header().records, 3);
        assert_eq!(db.header().keys, 2);
        let got = db.lookup("Debian:12", "glibc").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].severity, Some(whittle_report::Severity::High));
        assert!(db.lookup("Debian:12", "musl").unwrap().is_empty());
        assert_eq!(db.all_records().unwrap().len(), 3);

        // flip a byte in the last block: the lookup of that key fails, naming re-import
        let path = dir.path().join(DB_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let db = Db::open(dir.path()).unwrap();
        let err = db.lookup("Debian:12", "glibc").unwrap_err().to_string();
        assert!(err.contains("re-import"), "{err}");
        // flip a header byte: opening fails
        bytes[PREFIX + 2] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let err = Db::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(Db::open(dir.path()), Err(DbError::Corrupt { .. })));
    }

    /// A file whose checksum is right but whose header and index lie (the checksum is not a
    /// signature): huge counts and an offset at the end of the address space.
    fn forged(dir: &Path, keys: &str, offset: u64) {
        let header = format!(
            r#"{{"format":1,"written":0,"sources":[],"records":{keys},"keys":{keys},"ecosystems":{{}}}}"#
        );
        let mut index = Vec::new();
        for s in ["Debian:12", "glibc"] {
            index.extend_from_slice(&(s.len() as u16).to_le_bytes());
            index.extend_from_slice(s.as_bytes());
        }
        index.extend_from_slice(&offset.to_le_bytes());
        index.extend_from_slice(&2u32.to_le_bytes());
        index.extend_from_slice(&block_hash(b"[]"));
        let mut sum = Sha256::new();
        sum.update(header.as_bytes());
        sum.update(&index);
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&(header.len() as u64).to_le_bytes());
        f.extend_from_slice(&(index.len() as u64).to_le_bytes());
        f.extend_from_slice(&sum.finalize());
        f.extend_from_slice(header.as_bytes());
        f.extend_from_slice(&index);
        f.extend_from_slice(b"[]");
        std::fs::write(dir.join(DB_FILE), f).unwrap();
    }

    #[test]
    fn lying_header_counts_and_offsets_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        // usize::MAX keys and records: reserving that much would abort
        forged(dir.path(), &usize::MAX.to_string(), 0);
        let db = Db::open(dir.path()).unwrap();
        assert!(db.lookup("Debian:12", "glibc").unwrap().is_empty());
        assert!(db.all_records().unwrap().is_empty());
        // an offset that overflows when added to the blocks' start
        forged(dir.path(), "1", u64::MAX);
        let db = Db::open(dir.path()).unwrap();
        let err = db.lookup("Debian:12", "glibc").unwrap_err().to_string();
        assert!(err.contains("offset out of range"), "{err}");
    }

    #[test]
    fn missing_db_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = Db::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("whittle db import"), "{err}");
    }
}
