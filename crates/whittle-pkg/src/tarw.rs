//! A minimal, deterministic ustar writer laid out as melange (Go's `archive/tar`) writes APK
//! streams: `ustar\0` `00` headers, numeric owners 0:0 named `root`, PAX `x` headers named
//! `DIR/PaxHeaders.0/NAME` carrying `APK-TOOLS.checksum.SHA1` (and `path`/`linkpath` when a name
//! does not fit), and the end-of-archive blocks only where the caller asks for them.

pub use whittle_fs::ustar::Kind;

/// One member to write.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// Path inside the archive, without a leading `/` (and without a trailing one for dirs).
    pub path: &'a str,
    /// What it is.
    pub kind: Kind,
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
    /// Modification time in seconds.
    pub mtime: u64,
    /// Link target for symlinks and hard links.
    pub link: &'a str,
    /// Content of a regular file.
    pub data: &'a [u8],
    /// PAX records written in an `x` header before the member (key, value).
    pub pax: Vec<(&'a str, String)>,
}

use whittle_fs::ustar::pax_record;
use whittle_fs::ustar::{RawHeader, header_block};

/// The largest value an 11-digit octal size field holds.
const MAX_OCTAL_SIZE: u64 = 0o77777777777;

/// A header block as melange writes it: owners 0:0, named `owner`, no prefix field.
fn header(
    name: &str,
    flag: u8,
    mode: u32,
    size: u64,
    mtime: u64,
    link: &str,
    owner: &str,
) -> [u8; 512] {
    header_block(&RawHeader {
        name,
        prefix: "",
        typeflag: flag,
        link,
        mode: mode & 0o7777,
        uid: 0,
        gid: 0,
        size: size.min(MAX_OCTAL_SIZE),
        mtime: mtime.min(MAX_OCTAL_SIZE),
        owner,
    })
}

fn pad(out: &mut Vec<u8>, len: usize) {
    let rem = len % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// `dir/PaxHeaders.0/base`, as Go names PAX headers.
fn pax_name(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, base)) => format!("{dir}/PaxHeaders.0/{base}"),
        None => format!("PaxHeaders.0/{path}"),
    }
}

/// Appends `m` (and its PAX header when it has records or a long name) to `out`.
pub fn append(out: &mut Vec<u8>, m: &Member<'_>) {
    let mut pax = m.pax.clone();
    if m.path.len() > 100 {
        pax.push(("path", m.path.to_string()));
    }
    if m.link.len() > 100 {
        pax.push(("linkpath", m.link.to_string()));
    }
    let size = if m.kind == Kind::File {
        m.data.len() as u64
    } else {
        0
    };
    pax.extend(overflow_records(size, m.mtime));
    if !pax.is_empty() {
        let body: String = pax.iter().map(|(k, v)| pax_record(k, v)).collect();
        let name = pax_name(m.path);
        let name = truncate(&name, 100);
        out.extend_from_slice(&header(name, b'x', 0, body.len() as u64, m.mtime, "", ""));
        out.extend_from_slice(body.as_bytes());
        pad(out, body.len());
    }
    out.extend_from_slice(&header(
        truncate(m.path, 100),
        m.kind.typeflag(),
        m.mode,
        size,
        m.mtime,
        truncate(m.link, 100),
        "root",
    ));
    if m.kind == Kind::File {
        out.extend_from_slice(m.data);
        pad(out, m.data.len());
    }
}

/// PAX `size` and `mtime` records for values an 11-digit octal field cannot hold (as Go's
/// `archive/tar` writes them); the header fields then hold the largest octal value.
fn overflow_records(size: u64, mtime: u64) -> Vec<(&'static str, String)> {
    let mut records = Vec::new();
    if size > MAX_OCTAL_SIZE {
        records.push(("size", size.to_string()));
    }
    if mtime > MAX_OCTAL_SIZE {
        records.push(("mtime", mtime.to_string()));
    }
    records
}

/// The two zero blocks that end an archive.
pub fn finish(out: &mut Vec<u8>) {
    out.resize(out.len() + 1024, 0);
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_past_the_octal_fields_travel_in_pax_records() {
        assert!(overflow_records(MAX_OCTAL_SIZE, MAX_OCTAL_SIZE).is_empty());
        assert_eq!(
            overflow_records(8 << 30, 0),
            [("size", (8u64 << 30).to_string())]
        );
        // a real member with an mtime past year 4147: a tar reader sees the exact value
        let mtime = MAX_OCTAL_SIZE + 12_345;
        let mut out = Vec::new();
        append(
            &mut out,
            &Member {
                path: "far/future",
                kind: Kind::File,
                mode: 0o644,
                mtime,
                link: "",
                data: b"x",
                pax: Vec::new(),
            },
        );
        finish(&mut out);
        let mut ar = tar::Archive::new(&out[..]);
        let mut e = ar.entries().unwrap().next().unwrap().unwrap();
        let pax: Vec<(String, String)> = e
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (r.key().unwrap().to_string(), r.value().unwrap().to_string())
            })
            .collect();
        assert_eq!(pax, [("mtime".to_string(), mtime.to_string())]);
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        assert_eq!(data, b"x");
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("APK-TOOLS.checksum.SHA1", &"a".repeat(40));
        assert!(r.starts_with("68 "), "{r}");
        assert_eq!(r.len(), 68);
        let r = pax_record("k", "v");
        assert_eq!(r, "6 k=v\n");
    }

    /// The exact bytes of a varied archive, pinned (melange's layout must not drift).
    #[test]
    fn archive_bytes_are_pinned() {
        use sha2::Digest as _;
        let long = format!("{}/{}", "d".repeat(90), "f".repeat(30));
        let members = [
            Member {
                path: "etc",
                kind: Kind::Dir,
                mode: 0o755,
                mtime: 1_700_000_000,
                link: "",
                data: b"",
                pax: vec![],
            },
            Member {
                path: "etc/os-release",
                kind: Kind::File,
                mode: 0o644,
                mtime: 1_700_000_000,
                link: "",
                data: b"ID=wolfi\n",
                pax: vec![("APK-TOOLS.checksum.SHA1", "ab".repeat(20))],
            },
            Member {
                path: "etc/link",
                kind: Kind::Symlink,
                mode: 0o777,
                mtime: 5,
                link: "os-release",
                data: b"",
                pax: vec![],
            },
            Member {
                path: "etc/hard",
                kind: Kind::Hardlink,
                mode: 0o4755,
                mtime: 5,
                link: "etc/os-release",
                data: b"",
                pax: vec![],
            },
            Member {
                path: &long,
                kind: Kind::Symlink,
                mode: 0o777,
                // past the octal field: a PAX mtime record, as Go writes it
                mtime: u64::MAX,
                link: &"t".repeat(120),
                data: b"",
                pax: vec![],
            },
            Member {
                path: "h\u{e9}llo",
                kind: Kind::File,
                mode: 0o600,
                mtime: 0,
                link: "",
                data: &[7u8; 700],
                pax: vec![],
            },
        ];
        let mut out = Vec::new();
        for m in &members {
            append(&mut out, m);
        }
        finish(&mut out);
        assert_eq!(out.len() % 512, 0);
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&out)),
            "adc50662f991ca1867e1073059173b2819ed7bcceea1f31914cfa238e6e6e702"
        );
    }

    proptest! {
        #[test]
        fn pax_record_length_is_exact(key in "[a-zA-Z.]{1,30}", value in ".{0,300}") {
            let r = pax_record(&key, &value);
            let (len, _) = r.split_once(' ').unwrap();
            prop_assert_eq!(len.parse::<usize>().unwrap(), r.len());
        }

        #[test]
        fn members_read_back_with_the_tar_crate(
            names in proptest::collection::btree_set("[a-z]{1,8}(/[a-z]{1,8}){0,20}", 1..6),
            data in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let mut out = Vec::new();
            for n in &names {
                append(&mut out, &Member { path: n, kind: Kind::File, mode: 0o644, mtime: 7,
                    link: "", data: &data, pax: vec![("APK-TOOLS.checksum.SHA1", "x".into())] });
            }
            finish(&mut out);
            let mut ar = tar::Archive::new(out.as_slice());
            let mut got = Vec::new();
            for e in ar.entries().unwrap() {
                let mut e = e.unwrap();
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut v).unwrap();
                prop_assert_eq!(&v, &data);
                prop_assert_eq!(e.header().mtime().unwrap(), 7);
                got.push(e.path().unwrap().to_string_lossy().into_owned());
            }
            prop_assert_eq!(got, names.into_iter().collect::<Vec<_>>());
        }
    }
}
