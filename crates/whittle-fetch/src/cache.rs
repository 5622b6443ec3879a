//! The content-addressed cache: `blobs/sha256/<hex>` verified on every read, and `urls/<hex>`
//! holding the last copy of signature-verified mutable files (InRelease) for offline builds.

use crate::{Error, sha256_hex};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A content-addressed blob cache rooted in a directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Cache {
        path: path.display().to_string(),
        source,
    }
}

impl Cache {
    /// Opens (creating it when needed) the cache at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        for sub in ["blobs/sha256", "urls", "tmp"] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(Cache { root })
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

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
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

    /// The blob with this SHA-256, verified; a corrupt entry is deleted and reported as absent.
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
            let _ = std::fs::remove_file(&path);
            Ok(None)
        }
    }

    /// Stores a blob (the caller verified it) atomically.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<(), Error> {
        match self.blob_path(sha256) {
            Some(path) => self.write_atomic(&path, bytes),
            None => Ok(()),
        }
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
        self.write_atomic(&self.url_path(url), bytes)
    }

    /// Derived data (a decompressed package, a compressed layer, ...) stored under `key`: the
    /// content is kept content-addressed and verified on read like any blob; `None` when absent
    /// or corrupt.
    pub fn get_derived(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(hex) = self.get_by_url(&format!("derived:{key}"))? else {
            return Ok(None);
        };
        match String::from_utf8(hex) {
            Ok(hex) => self.get(hex.trim()),
            Err(_) => Ok(None),
        }
    }

    /// Stores derived data under `key` (see [`Cache::get_derived`]).
    pub fn put_derived(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        let hex = sha256_hex(bytes);
        self.put(&hex, bytes)?;
        self.put_by_url(&format!("derived:{key}"), hex.as_bytes())
    }

    fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> Result<(), Error> {
        let dir = self.root.join("tmp");
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_err(&dir))?;
        tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
        tmp.persist(dest).map_err(|e| io_err(dest)(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_verifies_and_drops_corrupt_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let data = b"hello";
        let h = sha256_hex(data);
        assert!(cache.get(&h).unwrap().is_none());
        cache.put(&h, data).unwrap();
        assert_eq!(cache.get(&h).unwrap().unwrap(), data);
        std::fs::write(dir.path().join("blobs/sha256").join(&h), b"hellO").unwrap();
        assert!(
            cache.get(&h).unwrap().is_none(),
            "corrupt entry must not be returned"
        );
        assert!(!cache.contains(&h), "corrupt entry is removed");
    }

    #[test]
    fn derived_entries_are_verified() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        assert!(cache.get_derived("k").unwrap().is_none());
        cache.put_derived("k", b"derived bytes").unwrap();
        assert_eq!(cache.get_derived("k").unwrap().unwrap(), b"derived bytes");
        let blob = dir
            .path()
            .join("blobs/sha256")
            .join(sha256_hex(b"derived bytes"));
        std::fs::write(blob, b"tampered").unwrap();
        assert!(cache.get_derived("k").unwrap().is_none());
    }

    #[test]
    fn rejects_non_hash_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.put("../../etc/passwd", b"x").unwrap();
        assert!(cache.get("../../etc/passwd").unwrap().is_none());
        assert!(!dir.path().join("etc").exists());
    }

    #[test]
    fn concurrent_writers_of_the_same_blob() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let data = vec![7u8; 1 << 20];
        let h = sha256_hex(&data);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        cache.put(&h, &data).unwrap();
                        assert_eq!(cache.get(&h).unwrap().unwrap().len(), data.len());
                    }
                });
            }
        });
    }
}
