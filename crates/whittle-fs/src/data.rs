//! The content of a regular file of the tree: small files in memory, large ones a handle to
//! their bytes in a file on disk, so that the tree's memory does not grow with the image.
//!
//! # Trust
//! A [`FileData::extent`] is read with `pread` at the offset it was made with, never past its
//! length, and the file never moves or grows under it. What it reads is what the file holds at
//! that range *when read*: whoever makes an extent vouches that the range holds verified bytes
//! and that nobody writes them in place afterwards. whittle makes extents only into files it
//! wrote itself or verified whole ([`crate`]'s users: a package's decompressed data archive in
//! the cache, written or verified against its sealed record during the build, or a build-scoped
//! anonymous spill file). Cache blobs are created `0600` and only ever replaced by rename, which
//! leaves an open descriptor's bytes as they were; writing them in place takes the cache owner's
//! rights, which already include the seal key (see `whittle_fetch::Cache`).

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Files of at least this many bytes are worth a handle instead of an in-memory copy.
pub const INLINE_MAX: u64 = 64 << 10;

/// A regular file's content (shared, cheap to clone).
#[derive(Clone)]
pub struct FileData(Repr);

#[derive(Clone)]
enum Repr {
    Inline(Arc<[u8]>),
    Extent {
        file: Arc<File>,
        offset: u64,
        len: u64,
        /// What names the whole backing file's verified content, when something does.
        origin: Option<Arc<str>>,
    },
}

impl FileData {
    /// Content held in memory.
    pub fn inline(bytes: impl Into<Arc<[u8]>>) -> Self {
        FileData(Repr::Inline(bytes.into()))
    }

    /// Content that is the `len` bytes of `file` at `offset` (see the module docs for what the
    /// caller vouches for). Reads fail (never return other bytes) when the file is shorter.
    pub fn extent(file: Arc<File>, offset: u64, len: u64) -> Self {
        FileData(Repr::Extent {
            file,
            offset,
            len,
            origin: None,
        })
    }

    /// An [`FileData::extent`] into a file whose whole content `origin` names: a key that
    /// always means the same bytes (e.g. the cache key of a package's decompressed data archive,
    /// a function of the package's SHA-256). The extent's content is then identified by
    /// `(origin, offset, len)` without reading it ([`FileData::identify`]).
    pub fn extent_of(origin: Arc<str>, file: Arc<File>, offset: u64, len: u64) -> Self {
        FileData(Repr::Extent {
            file,
            offset,
            len,
            origin: Some(origin),
        })
    }

    /// Feeds what identifies the content to `out` without reading anything from disk: the
    /// bytes of in-memory content, `(origin, offset, len)` of an extent made with
    /// [`FileData::extent_of`]. `false` (nothing fed) for an extent without an origin, whose
    /// content only its bytes identify.
    pub fn identify(&self, out: &mut impl FnMut(&[u8])) -> bool {
        match &self.0 {
            Repr::Inline(b) => {
                out(b"inline ");
                out((b.len() as u64).to_string().as_bytes());
                out(b"\n");
                out(b);
                true
            }
            Repr::Extent {
                origin: Some(origin),
                offset,
                len,
                ..
            } => {
                let line = format!("extent {} {offset} {len} {origin}\n", origin.len());
                out(line.as_bytes());
                true
            }
            Repr::Extent { origin: None, .. } => false,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Inline(b) => b.len() as u64,
            Repr::Extent { len, .. } => *len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when they are held in memory.
    pub fn as_inline(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Inline(b) => Some(b),
            Repr::Extent { .. } => None,
        }
    }

    /// The bytes: borrowed when in memory, else read from disk (the whole file: for callers that
    /// parse a file they bounded by [`FileData::len`] first, or that write it out).
    pub fn bytes(&self) -> io::Result<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Inline(b) => Ok(Cow::Borrowed(b)),
            Repr::Extent { .. } => {
                let mut v = Vec::new();
                self.reader().read_to_end(&mut v)?;
                Ok(Cow::Owned(v))
            }
        }
    }

    /// The bytes when there are at most `max` of them (`None` for a larger file or one that
    /// cannot be read): for callers that only look at small files.
    pub fn bytes_at_most(&self, max: u64) -> Option<Cow<'_, [u8]>> {
        if self.len() > max {
            return None;
        }
        self.bytes().ok()
    }

    /// The content as UTF-8 text, when it is at most `max` bytes and valid UTF-8.
    pub fn text_at_most(&self, max: u64) -> Option<String> {
        String::from_utf8(self.bytes_at_most(max)?.into_owned()).ok()
    }

    /// A copy of the bytes.
    pub fn read_to_vec(&self) -> io::Result<Vec<u8>> {
        self.bytes().map(Cow::into_owned)
    }

    /// Fills `buf` with the bytes at `offset`: an error when they are not all there (past the
    /// content's end, or its backing file was truncated). For readers that need a few parts of
    /// a large file (an ELF header) without reading it whole.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let past = || io::Error::new(io::ErrorKind::UnexpectedEof, "past the file's end");
        let end = offset.checked_add(buf.len() as u64).ok_or_else(past)?;
        if end > self.len() {
            return Err(past());
        }
        match &self.0 {
            Repr::Inline(b) => {
                let start = usize::try_from(offset).map_err(|_| past())?;
                let src = b.get(start..start + buf.len()).ok_or_else(past)?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Repr::Extent {
                file, offset: at, ..
            } => file.read_exact_at(buf, at + offset),
        }
    }

    /// A reader of exactly [`FileData::len`] bytes (an error when the backing file is shorter).
    pub fn reader(&self) -> DataReader<'_> {
        DataReader { data: self, pos: 0 }
    }
}

/// Reads a [`FileData`] (see [`FileData::reader`]).
#[derive(Debug)]
pub struct DataReader<'a> {
    data: &'a FileData,
    pos: u64,
}

impl Read for DataReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.data.len();
        let want = usize::try_from(len.saturating_sub(self.pos))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let Some(out) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if out.is_empty() {
            return Ok(0);
        }
        let n = match &self.data.0 {
            Repr::Inline(b) => {
                let start = usize::try_from(self.pos).unwrap_or(usize::MAX);
                let src = b.get(start..start + want).unwrap_or_default();
                out.copy_from_slice(src);
                src.len()
            }
            Repr::Extent { file, offset, .. } => {
                let n = file.read_at(out, offset.saturating_add(self.pos))?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file content ends early: its backing file was truncated",
                    ));
                }
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl fmt::Debug for FileData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Inline(b) => f.debug_tuple("Inline").field(&b.len()).finish(),
            Repr::Extent { offset, len, .. } => f
                .debug_struct("Extent")
                .field("offset", offset)
                .field("len", len)
                .finish(),
        }
    }
}

/// Equal content (read from disk when needed; unreadable content is unequal to anything).
impl PartialEq for FileData {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        match (&self.0, &other.0) {
            (Repr::Inline(a), Repr::Inline(b)) => a == b,
            (
                Repr::Extent {
                    file: f1,
                    offset: o1,
                    ..
                },
                Repr::Extent {
                    file: f2,
                    offset: o2,
                    ..
                },
            ) if Arc::ptr_eq(f1, f2) && o1 == o2 => true,
            _ => same_stream(self.reader(), other.reader()),
        }
    }
}

impl Eq for FileData {}

fn same_stream(mut a: impl Read, mut b: impl Read) -> bool {
    let (mut x, mut y) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let n = match a.read(&mut x) {
            Ok(n) => n,
            Err(_) => return false,
        };
        let Some(want) = x.get(..n) else { return false };
        if n == 0 {
            return matches!(b.read(&mut y), Ok(0));
        }
        let Some(got) = y.get_mut(..n) else {
            return false;
        };
        if b.read_exact(got).is_err() || want != got {
            return false;
        }
    }
}

impl From<Vec<u8>> for FileData {
    fn from(v: Vec<u8>) -> Self {
        FileData::inline(v)
    }
}

impl From<&[u8]> for FileData {
    fn from(v: &[u8]) -> Self {
        FileData::inline(v)
    }
}

impl<const N: usize> From<&[u8; N]> for FileData {
    fn from(v: &[u8; N]) -> Self {
        FileData::inline(&v[..])
    }
}

impl From<Arc<[u8]>> for FileData {
    fn from(v: Arc<[u8]>) -> Self {
        FileData::inline(v)
    }
}

impl From<String> for FileData {
    fn from(v: String) -> Self {
        FileData::inline(v.into_bytes())
    }
}

/// A build-scoped anonymous file that large contents are written to when no other copy of
/// them exists on disk (files whittle makes, packages without a cached copy): gone with the last
/// handle, never named in the file system.
#[derive(Debug, Clone)]
pub struct Spill {
    file: Arc<File>,
    end: Arc<std::sync::Mutex<u64>>,
}

impl Spill {
    /// A spill file in `dir` (an anonymous temporary file, `O_TMPFILE` where supported).
    pub fn new_in(dir: &std::path::Path) -> io::Result<Self> {
        Ok(Spill {
            file: Arc::new(tempfile::tempfile_in(dir)?),
            end: Arc::new(std::sync::Mutex::new(0)),
        })
    }

    /// Appends `bytes` and gives their handle; small contents stay in memory.
    pub fn keep(&self, bytes: &[u8]) -> io::Result<FileData> {
        if (bytes.len() as u64) < INLINE_MAX {
            return Ok(FileData::inline(bytes));
        }
        self.append(&mut &bytes[..], bytes.len() as u64)
    }

    /// Copies exactly `len` bytes from `reader` to the end of the spill file and gives their
    /// handle (an error when `reader` ends early).
    pub fn append(&self, reader: &mut dyn Read, len: u64) -> io::Result<FileData> {
        let mut end = self
            .end
            .lock()
            .map_err(|_| io::Error::other("spill file lock poisoned"))?;
        let start = *end;
        let mut buf = vec![0u8; 256 << 10];
        let mut at = start;
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            let Some(chunk) = buf.get_mut(..want) else {
                break;
            };
            let n = reader.read(chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "content ended early",
                ));
            }
            self.file
                .write_all_at(chunk.get(..n).unwrap_or_default(), at)?;
            at += n as u64;
            left -= n as u64;
        }
        *end = at;
        Ok(FileData::extent(self.file.clone(), start, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_read_their_range_and_compare_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new_in(dir.path()).unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let a = spill.keep(&big).unwrap();
        let b = spill.keep(&big[1..]).unwrap();
        assert!(a.as_inline().is_none(), "large contents are spilled");
        assert_eq!(a.len(), big.len() as u64);
        assert_eq!(a.read_to_vec().unwrap(), big);
        assert_eq!(&b.bytes().unwrap()[..], &big[1..]);
        assert_eq!(a, FileData::inline(big.clone()));
        assert_ne!(a, b);
        let small = spill.keep(b"hi").unwrap();
        assert_eq!(small.as_inline(), Some(&b"hi"[..]));
        assert_eq!(small.text_at_most(2).as_deref(), Some("hi"));
        assert_eq!(small.text_at_most(1), None);
    }

    #[test]
    fn an_extent_past_the_file_end_fails_instead_of_reading_short() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new_in(dir.path()).unwrap();
        let a = spill.keep(&vec![1u8; 100_000]).unwrap();
        let Repr::Extent { file, .. } = &a.0 else {
            panic!("not an extent")
        };
        let past = FileData::extent(file.clone(), 90_000, 20_000);
        assert!(past.read_to_vec().is_err());
        assert_ne!(past, FileData::inline(vec![1u8; 20_000]));
    }
}
