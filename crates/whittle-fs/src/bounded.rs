//! Reading host files whose size is not to be trusted (keyrings, an old `index.json`, SBOMs):
//! never more than a limit in memory, whatever the file's size, even an endless one
//! (`/dev/zero`, a FIFO fed forever).

use std::io::{self, Read};
use std::path::Path;

/// The first `max` bytes of the file at `path` (all of it when it is shorter).
pub fn read_head(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}

/// The file at `path` whole, or an error of kind [`io::ErrorKind::FileTooLarge`] when it holds
/// more than `limit` bytes (at most `limit + 1` bytes are read to tell).
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let out = read_head(path, limit.saturating_add(1))?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("{} is larger than {limit} bytes", path.display()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_costs_at_most_the_limit() {
        let zero = Path::new("/dev/zero");
        assert_eq!(read_head(zero, 10).unwrap(), [0; 10]);
        let e = read_bounded(zero, 10).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("/dev/zero"), "{e}");
    }

    #[test]
    fn a_file_up_to_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_bounded(&p, 10).unwrap(), b"0123456789");
        assert_eq!(read_head(&p, 100).unwrap(), b"0123456789");
        assert_eq!(
            read_bounded(&p, 9).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        assert_eq!(
            read_bounded(&dir.path().join("missing"), 9)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
    }
}
