//! A minimal, deterministic ustar writer laid out as melange (Go's `archive/tar`) writes APK
//! streams: `ustar\0` `00` headers, numeric owners 0:0 named `root`, PAX `x` headers named
//! `DIR/PaxHeaders.0/NAME` carrying `APK-TOOLS.checksum.SHA1` (and `path`/`linkpath` when a name
//! does not fit), and the end-of-archive blocks only where the caller asks for them.

/// The kind of a tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier member.
    Hardlink,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::Hardlink => b'1',
            Kind::Symlink => b'2',
            Kind::Dir => b'5',
        }
    }
}

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

fn octal(field: &mut [u8], value: u64) {
    // width-1 digits, zero padded, NUL terminated (Go's formatOctal)
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    let bytes = s.as_bytes();
    let start = bytes.len().saturating_sub(digits);
    let src = bytes.get(start..).unwrap_or_default();
    let n = src.len().min(digits);
    if let (Some(dst), Some(src)) = (field.get_mut(..n), src.get(..n)) {
        dst.copy_from_slice(src);
    }
    if let Some(last) = field.last_mut() {
        *last = 0;
    }
}

fn put(field: &mut [u8], s: &[u8]) {
    let n = s.len().min(field.len());
    if let (Some(dst), Some(src)) = (field.get_mut(..n), s.get(..n)) {
        dst.copy_from_slice(src);
    }
}

/// The largest value an 11-digit octal size field holds.
const MAX_OCTAL_SIZE: u64 = 0o77777777777;

#[allow(clippy::too_many_arguments)]
fn header(
    name: &str,
    flag: u8,
    mode: u32,
    size: u64,
    mtime: u64,
    link: &str,
    owner: &str,
) -> [u8; 512] {
    let mut h = [0u8; 512];
    put(&mut h[0..100], name.as_bytes());
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size.min(MAX_OCTAL_SIZE));
    octal(&mut h[136..148], mtime.min(MAX_OCTAL_SIZE));
    h[156] = flag;
    put(&mut h[157..257], link.as_bytes());
    put(&mut h[257..263], b"ustar\0");
    put(&mut h[263..265], b"00");
    put(&mut h[265..297], owner.as_bytes());
    put(&mut h[297..329], owner.as_bytes());
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    // checksum: sum of the header with the checksum field as spaces; 6 digits, NUL, space
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], sum);
    h[155] = b' ';
    h
}

/// One PAX record `"LEN key=value\n"` (LEN counts the whole record, itself included).
pub fn pax_record(key: &str, value: &str) -> String {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    loop {
        let total = body + len.to_string().len();
        if total == len {
            break;
        }
        len = total;
    }
    format!("{len} {key}={value}\n")
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
    if !pax.is_empty() {
        let body: String = pax.iter().map(|(k, v)| pax_record(k, v)).collect();
        let name = pax_name(m.path);
        let name = truncate(&name, 100);
        out.extend_from_slice(&header(name, b'x', 0, body.len() as u64, m.mtime, "", ""));
        out.extend_from_slice(body.as_bytes());
        pad(out, body.len());
    }
    let size = if m.kind == Kind::File {
        m.data.len() as u64
    } else {
        0
    };
    out.extend_from_slice(&header(
        truncate(m.path, 100),
        m.kind.flag(),
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
    fn pax_record_length_counts_itself() {
        let r = pax_record("APK-TOOLS.checksum.SHA1", &"a".repeat(40));
        assert!(r.starts_with("68 "), "{r}");
        assert_eq!(r.len(), 68);
        let r = pax_record("k", "v");
        assert_eq!(r, "6 k=v\n");
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
