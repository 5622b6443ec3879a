//! A small deterministic tar writer: ustar headers, PAX extended headers only when a field does
//! not fit, numeric owners only, one fixed mtime, no atime/ctime, no end-of-archive padding beyond
//! the two zero blocks. Used for layers and for OCI archives.

use std::io::{self, Read, Write};

use crate::tree::Meta;

const BLOCK: usize = 512;
/// Largest value of an 11-digit octal field (size, mtime): 8 GiB - 1.
const MAX_OCTAL_11: u64 = 0o777_7777_7777;
/// Largest value of a 7-digit octal field (uid, gid).
const MAX_OCTAL_7: u64 = 0o777_7777;

/// The kind of a tar entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (typeflag `0`).
    File,
    /// A directory (typeflag `5`; its name gets a trailing `/`).
    Dir,
    /// A symbolic link (typeflag `2`).
    Symlink,
    /// A hard link to an earlier entry (typeflag `1`).
    Hardlink,
}

impl Kind {
    /// The ustar typeflag byte.
    pub fn typeflag(self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::Hardlink => b'1',
            Kind::Symlink => b'2',
            Kind::Dir => b'5',
        }
    }
}

/// One entry's header fields.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// Path without leading `/` or `./` and without trailing `/`.
    pub path: &'a str,
    /// Entry kind.
    pub kind: Kind,
    /// Link target for symlinks and hardlinks (empty otherwise).
    pub link: &'a str,
    /// Mode bits and numeric owners.
    pub meta: Meta,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// Writes tar entries to `W`.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> TarWriter<W> {
    /// A writer appending to `out`.
    pub fn new(out: W) -> Self {
        TarWriter { out, written: 0 }
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Append an entry; `data` is the content of a regular file and must be empty otherwise.
    pub fn append(&mut self, h: &Header<'_>, data: &[u8]) -> io::Result<()> {
        self.append_from(h, data.len() as u64, &mut &data[..])
    }

    /// Append an entry whose content (`size` bytes, `0` for anything but a regular file) is read
    /// from `data`, streaming; fails when `data` holds fewer bytes.
    pub fn append_from(
        &mut self,
        h: &Header<'_>,
        size: u64,
        data: &mut dyn Read,
    ) -> io::Result<()> {
        if h.kind != Kind::File && size != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("tar entry `{}`: only regular files carry data", h.path),
            ));
        }
        let name = if h.kind == Kind::Dir {
            format!("{}/", h.path)
        } else {
            h.path.to_string()
        };
        let mut pax: Vec<(&str, String)> = Vec::new();
        let split = split_ustar_name(&name);
        if split.is_none() {
            pax.push(("path", name.clone()));
        }
        if h.link.len() > 100 || !h.link.is_ascii() {
            pax.push(("linkpath", h.link.to_string()));
        }
        if size > MAX_OCTAL_11 {
            pax.push(("size", size.to_string()));
        }
        if h.mtime > MAX_OCTAL_11 {
            pax.push(("mtime", h.mtime.to_string()));
        }
        if u64::from(h.meta.uid) > MAX_OCTAL_7 {
            pax.push(("uid", h.meta.uid.to_string()));
        }
        if u64::from(h.meta.gid) > MAX_OCTAL_7 {
            pax.push(("gid", h.meta.gid.to_string()));
        }
        if !pax.is_empty() {
            pax.sort_by(|a, b| a.0.cmp(b.0));
            let records = pax_records(&pax);
            let base = name.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            let base: String = base.chars().filter(char::is_ascii).take(80).collect();
            let pax_name = format!("PaxHeaders.0/{base}");
            let block = header_block(&RawHeader {
                name: &pax_name,
                typeflag: b'x',
                mode: 0o644,
                size: records.len() as u64,
                mtime: h.mtime.min(MAX_OCTAL_11),
                ..RawHeader::default()
            });
            self.write(&block)?;
            self.write(&records)?;
            self.pad(records.len() as u64)?;
        }
        let (prefix, short) = split.unwrap_or(("", ""));
        let short = if split.is_none() {
            truncated_ascii(&name, 100)
        } else {
            short.to_string()
        };
        let link = if h.link.len() > 100 || !h.link.is_ascii() {
            truncated_ascii(h.link, 100)
        } else {
            h.link.to_string()
        };
        let block = header_block(&RawHeader {
            name: &short,
            prefix,
            typeflag: h.kind.typeflag(),
            link: &link,
            mode: h.meta.mode & 0o7777,
            uid: h.meta.uid.min(MAX_OCTAL_7 as u32),
            gid: h.meta.gid.min(MAX_OCTAL_7 as u32),
            size: if size > MAX_OCTAL_11 { 0 } else { size },
            mtime: h.mtime.min(MAX_OCTAL_11),
            owner: "",
        });
        self.write(&block)?;
        if size != 0 {
            let copied = io::copy(&mut data.take(size), &mut CountingOut(self))?;
            if copied != size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "tar entry `{}`: content ended after {copied} of {size} bytes",
                        h.path
                    ),
                ));
            }
            self.pad(size)?;
        }
        Ok(())
    }

    /// Write the end-of-archive marker (two zero blocks) and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write(&[0u8; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rem = (len % BLOCK as u64) as usize;
        if rem != 0 {
            self.write(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }
}

/// A [`TarWriter`] as a plain writer of content bytes (counted like the rest).
struct CountingOut<'a, W: Write>(&'a mut TarWriter<W>);

impl<W: Write> Write for CountingOut<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.out.flush()
    }
}

/// Split a name into (prefix, name) ustar fields, as Go's archive/tar does; `None` when a PAX
/// `path` record is needed (too long or not ASCII).
fn split_ustar_name(name: &str) -> Option<(&str, &str)> {
    if !name.is_ascii() {
        return None;
    }
    if name.len() <= 100 {
        return Some(("", name));
    }
    let mut len = name.len();
    if len > 156 {
        len = 156;
    } else if name.as_bytes().get(len - 1) == Some(&b'/') {
        len -= 1;
    }
    let i = name.get(..len)?.rfind('/')?;
    let (prefix, rest) = (name.get(..i)?, name.get(i + 1..)?);
    if i == 0 || rest.is_empty() || rest.len() > 100 || prefix.len() > 155 {
        return None;
    }
    Some((prefix, rest))
}

fn truncated_ascii(s: &str, max: usize) -> String {
    s.chars().filter(char::is_ascii).take(max).collect()
}

fn pax_records(recs: &[(&str, String)]) -> Vec<u8> {
    recs.iter()
        .map(|(k, v)| pax_record(k, v))
        .collect::<String>()
        .into_bytes()
}

/// One PAX record `"LEN key=value\n"` (LEN counts the whole record, itself included).
pub fn pax_record(key: &str, value: &str) -> String {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    let s = s.as_bytes();
    let start = s.len().saturating_sub(digits);
    field[..digits].copy_from_slice(&s[start..]);
    field[digits] = 0;
}

/// The fields of one raw ustar header block, written as they are (see [`header_block`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawHeader<'a> {
    /// The `name` field (at most 100 bytes are kept).
    pub name: &'a str,
    /// The `prefix` field (at most 155 bytes are kept).
    pub prefix: &'a str,
    /// The typeflag byte (`0` file, `1` hard link, `2` symlink, `5` directory, `x` PAX).
    pub typeflag: u8,
    /// The `linkname` field (at most 100 bytes are kept).
    pub link: &'a str,
    /// Mode bits, as given (mask them first).
    pub mode: u32,
    /// Numeric owner (at most 7 octal digits are kept).
    pub uid: u32,
    /// Numeric group (at most 7 octal digits are kept).
    pub gid: u32,
    /// Size in bytes (at most 11 octal digits are kept: clamp it first).
    pub size: u64,
    /// Modification time (at most 11 octal digits are kept: clamp it first).
    pub mtime: u64,
    /// The `uname` and `gname` fields (empty for numeric owners only).
    pub owner: &'a str,
}

/// One 512-byte ustar header block (`ustar\0` magic, version `00`, device numbers 0, checksum
/// as Go's `archive/tar` writes it): octal fields zero padded and NUL terminated, strings
/// truncated to their fields.
pub fn header_block(h: &RawHeader<'_>) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put(&mut b[0..100], h.name);
    octal(&mut b[100..108], u64::from(h.mode));
    octal(&mut b[108..116], u64::from(h.uid));
    octal(&mut b[116..124], u64::from(h.gid));
    octal(&mut b[124..136], h.size);
    octal(&mut b[136..148], h.mtime);
    b[156] = h.typeflag;
    put(&mut b[157..257], h.link);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    put(&mut b[265..297], h.owner);
    put(&mut b[297..329], h.owner);
    octal(&mut b[329..337], 0);
    octal(&mut b[337..345], 0);
    put(&mut b[345..500], h.prefix);
    b[148..156].fill(b' ');
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    octal(&mut b[148..155], u64::from(sum));
    b[155] = b' ';
    b
}

fn put(field: &mut [u8], s: &str) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_examples() {
        assert_eq!(pax_record("k", "v"), "6 k=v\n");
        let r = pax_record("APK-TOOLS.checksum.SHA1", &"a".repeat(40));
        assert!(r.starts_with("68 ") && r.len() == 68, "{r}");
    }

    #[test]
    fn pax_record_lengths_are_self_consistent() {
        for v in ["", "a", &"x".repeat(93), &"y".repeat(94), &"z".repeat(995)] {
            let r = pax_records(&[("path", v.to_string())]);
            let s = String::from_utf8(r.clone()).unwrap();
            let (n, _) = s.split_once(' ').unwrap();
            assert_eq!(n.parse::<usize>().unwrap(), r.len(), "{s:?}");
        }
    }

    #[test]
    fn ustar_split_follows_go() {
        assert_eq!(split_ustar_name("a/b"), Some(("", "a/b")));
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert_eq!(split_ustar_name(&long), Some((&long[..120], &long[121..])));
        assert_eq!(split_ustar_name(&"f".repeat(101)), None);
        assert_eq!(split_ustar_name("héllo"), None);
        let dir = format!("{}/{}/", "d".repeat(120), "e".repeat(100));
        assert_eq!(split_ustar_name(&dir), None); // "e…e/" is 101 bytes
    }

    #[test]
    fn header_checksum_and_fields() {
        let b = header_block(&RawHeader {
            name: "etc/",
            typeflag: b'5',
            mode: 0o755,
            mtime: 1_700_000_000,
            owner: "root",
            ..RawHeader::default()
        });
        assert_eq!(&b[100..108], b"0000755\0");
        assert_eq!(&b[257..265], b"ustar\x0000");
        assert_eq!(&b[265..270], b"root\0");
        assert_eq!(&b[297..302], b"root\0");
        assert_eq!(&b[124..136], b"00000000000\0");
        assert_eq!(
            &b[136..148],
            format!("{:011o}\0", 1_700_000_000u64).as_bytes()
        );
        let mut c = b;
        c[148..156].fill(b' ');
        let sum: u32 = c.iter().map(|&x| u32::from(x)).sum();
        assert_eq!(&b[148..156], format!("{sum:06o}\0 ").as_bytes());
    }
}
