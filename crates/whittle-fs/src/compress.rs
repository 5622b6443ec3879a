//! Parallel layer compression whose bytes do not depend on the number of threads.
//!
//! The tar is cut into fixed-size blocks of [`BLOCK_SIZE`] bytes, each compressed on its own
//! by whichever of the threads picks it, and the outputs are stitched together in order:
//! - gzip (as `pigz`): one gzip member (no file name, mtime 0, OS byte 255) whose deflate stream
//!   is the blocks' raw deflate streams, each primed with the last 32 KiB of the input before it
//!   as its dictionary (input, not output: blocks still compress independently), each ended by a
//!   sync flush (an empty stored block, so the next starts on a byte boundary) and the last by
//!   the final block. Any gzip reader reads it as one stream.
//! - zstd: one zstd frame per block (with its content size), concatenated: zstd readers read
//!   consecutive frames as one stream.
//!
//! A block's output depends only on its bytes, the codec and the level, so 1 and N threads give
//! the same bytes.

use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::Crc;

use crate::error::{Error, Result};

/// Input bytes per independently compressed block. Part of the layer format: changing it
/// changes layer digests.
pub const BLOCK_SIZE: usize = 1 << 20;

/// Names the block format (block size, gzip dictionary priming, zstd frames) for caches of
/// compressed layers: change it with any change of the format here.
pub const FORMAT: &str = "blocks-1MiB-dict32KiB-v1";

/// The deflate window: how much of the input before a gzip block primes its compressor.
const DICTIONARY: usize = 32 << 10;

/// OCI media type of a zstd-compressed layer.
pub const MEDIA_TYPE_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// The gzip header's OS byte: 255, "unknown", as Go's compress/gzip writes it.
const GZIP_OS_UNKNOWN: u8 = 255;

/// Environment variable that sets the number of compression threads (default: the available
/// parallelism). The bytes written do not depend on it.
pub const THREADS_ENV: &str = "WHITTLE_THREADS";

/// Most threads [`threads`] returns, whatever `WHITTLE_THREADS` says.
const MAX_THREADS: usize = 256;

/// A layer codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// gzip (`tar+gzip`), levels 0 (store) to 9 (best).
    Gzip,
    /// zstd (`tar+zstd`), levels 1 to 22.
    Zstd,
}

impl Codec {
    /// The OCI layer media type of a tar compressed with this codec.
    pub fn media_type(self) -> &'static str {
        match self {
            Codec::Gzip => crate::layer::MEDIA_TYPE_TAR_GZIP,
            Codec::Zstd => MEDIA_TYPE_TAR_ZSTD,
        }
    }

    /// `gzip` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// The level used when none is given: 5 for gzip (zlib's level 5: 0.9 % larger than
    /// `pigz -6`, in 63 % of its CPU time; see [`zlib`]), 3 for zstd (as `zstd`).
    pub fn default_level(self) -> i32 {
        match self {
            Codec::Gzip => 5,
            Codec::Zstd => 3,
        }
    }

    /// Check that `level` is one this codec has.
    pub fn check_level(self, level: i32) -> Result<()> {
        let (lo, hi, what) = match self {
            Codec::Gzip => (0, 9, "0 (store) to 9 (best)"),
            Codec::Zstd => (1, 22, "1 (fast) to 22 (best)"),
        };
        if !(lo..=hi).contains(&level) {
            return Err(Error::InvalidOption(format!(
                "{} level {level} is out of range: use {what}",
                self.name()
            )));
        }
        Ok(())
    }
}

/// The number of compression threads: `WHITTLE_THREADS` when it is a positive number (at most
/// 256), otherwise the available parallelism.
pub fn threads() -> usize {
    std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map(|n| n.min(MAX_THREADS))
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(NonZeroUsize::get)
                .unwrap_or(1)
        })
}

/// Compress `data` with `codec` at `level` on `threads` threads (see the module docs for the
/// format); the bytes are the same for any number of threads, and the same as a
/// [`BlockWriter`] given `data` writes.
pub fn compress(data: &[u8], codec: Codec, level: i32, threads: usize) -> Result<Vec<u8>> {
    let mut w = BlockWriter::new(Vec::new(), codec, level, threads)?;
    w.write_all(data)?;
    w.finish()
}

/// A streaming compressor of the block format (see the module docs): bytes written to it are
/// cut into [`BLOCK_SIZE`] blocks, compressed a batch of `2 × threads` blocks at a time and
/// written to the inner writer in order, so memory stays bounded whatever the input's size.
/// [`BlockWriter::finish`] writes the last block and the trailer: without it the output is
/// incomplete. Its bytes are those [`compress`] gives for the same input.
#[derive(Debug)]
pub struct BlockWriter<W: Write> {
    inner: W,
    codec: Codec,
    level: i32,
    threads: usize,
    /// The block being filled (full blocks stay here until a later byte shows they are not
    /// the last).
    current: Vec<u8>,
    /// Full blocks that are not the last, each with the input's last [`DICTIONARY`] bytes
    /// before it.
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    /// The last [`DICTIONARY`] bytes of the input before `current`.
    tail: Vec<u8>,
    crc: Crc,
    header_written: bool,
}

impl<W: Write> BlockWriter<W> {
    /// A compressor writing `codec` at `level` to `inner` on `threads` threads.
    pub fn new(inner: W, codec: Codec, level: i32, threads: usize) -> Result<Self> {
        codec.check_level(level)?;
        Ok(BlockWriter {
            inner,
            codec,
            level,
            threads: threads.max(1),
            current: Vec::new(),
            pending: Vec::new(),
            tail: Vec::new(),
            crc: Crc::new(),
            header_written: false,
        })
    }

    /// Compress what is left, write the trailer and return the inner writer.
    pub fn finish(mut self) -> Result<W> {
        let last = std::mem::take(&mut self.current);
        let dict = std::mem::take(&mut self.tail);
        self.pending.push((dict, last));
        self.compress_pending(true)?;
        if self.codec == Codec::Gzip {
            self.inner.write_all(&self.crc.sum().to_le_bytes())?;
            // ISIZE: the length modulo 2^32 (RFC 1952)
            self.inner.write_all(&self.crc.amount().to_le_bytes())?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Move the full `current` block to `pending`; compress the batch when it is full.
    fn push_block(&mut self) -> Result<()> {
        let block = std::mem::replace(&mut self.current, Vec::with_capacity(BLOCK_SIZE));
        let tail = block
            .get(block.len().saturating_sub(DICTIONARY)..)
            .unwrap_or_default()
            .to_vec();
        let dict = std::mem::replace(&mut self.tail, tail);
        self.pending.push((dict, block));
        if self.pending.len() >= 2 * self.threads {
            self.compress_pending(false)?;
        }
        Ok(())
    }

    /// Compress the pending blocks (the last of them the input's last when `last`) and write
    /// them out.
    fn compress_pending(&mut self, last: bool) -> Result<()> {
        let (codec, level) = (self.codec, self.level);
        let final_index = self.pending.len().saturating_sub(1);
        let outputs = in_parallel(
            &self.pending,
            self.threads,
            |i, (dict, block): &(Vec<u8>, Vec<u8>)| match codec {
                Codec::Gzip => deflate_block(block, dict, level, last && i == final_index),
                Codec::Zstd => zstd::bulk::compress(block, level),
            },
        )?;
        self.pending.clear();
        if !self.header_written && codec == Codec::Gzip {
            self.inner.write_all(&[
                0x1f,
                0x8b,
                8,
                0,
                0,
                0,
                0,
                0,
                gzip_xfl(level),
                GZIP_OS_UNKNOWN,
            ])?;
        }
        self.header_written = true;
        for o in &outputs {
            self.inner.write_all(o)?;
        }
        Ok(())
    }
}

impl<W: Write> Write for BlockWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.len() >= BLOCK_SIZE {
            self.push_block().map_err(|e| match e {
                Error::Io(e) => e,
                e => io::Error::other(e),
            })?;
        }
        if self.current.capacity() == 0 {
            self.current.reserve_exact(BLOCK_SIZE);
        }
        let n = buf.len().min(BLOCK_SIZE - self.current.len());
        let part = buf.get(..n).unwrap_or(buf);
        self.current.extend_from_slice(part);
        self.crc.update(part);
        Ok(part.len())
    }

    /// Does nothing: blocks are written when a batch is full and at [`BlockWriter::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The gzip header's XFL byte, as zlib and flate2 write it: 2 for the best level, 4 for the
/// fastest.
fn gzip_xfl(level: i32) -> u8 {
    match level {
        9 => 2,
        1 => 4,
        _ => 0,
    }
}

/// Raw deflate of one block with the preset dictionary `dict` (the input before it, empty for
/// the first): ended by a sync flush, or by the final block when `last`. zlib's own deflate
/// (see [`zlib`]).
fn deflate_block(block: &[u8], dict: &[u8], level: i32, last: bool) -> io::Result<Vec<u8>> {
    zlib::deflate_raw(block, dict, level, last)
}

/// zlib's deflate (the C library `gzip` and `pigz` use, built from `libz-sys`'s bundled source
/// so that every machine makes the same bytes), for one block at a time: its output at level 5
/// is 0.9 % larger than `pigz -6`'s and takes 63 % of its CPU time, where zlib-rs (flate2's
/// backend) is 3.6 % larger at level 6.
mod zlib {
    use std::io;
    use std::os::raw::{c_int, c_uint, c_void};

    use libz_sys as z;

    unsafe extern "C" fn zalloc(_: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
        // SAFETY: calloc with sizes from zlib; null on failure, which zlib reports as Z_MEM_ERROR
        unsafe { libc::calloc(items as libc::size_t, size as libc::size_t) }
    }

    unsafe extern "C" fn zfree(_: *mut c_void, address: *mut c_void) {
        // SAFETY: `address` came from `zalloc` (calloc), or is null
        unsafe { libc::free(address) }
    }

    /// A deflate stream, ended (its memory freed) when dropped.
    struct Stream(Box<z::z_stream>);

    impl Drop for Stream {
        fn drop(&mut self) {
            // SAFETY: initialised by deflateInit2_ in `deflate_raw` before `Stream` exists
            unsafe {
                z::deflateEnd(&mut *self.0);
            }
        }
    }

    fn failed(what: &str, code: c_int) -> io::Error {
        io::Error::other(format!("zlib {what} failed ({code})"))
    }

    /// Raw deflate (no zlib or gzip wrapper) of `input` at `level`, primed with `dict`, ended by
    /// a sync flush or, when `last`, by the final block.
    pub(super) fn deflate_raw(
        input: &[u8],
        dict: &[u8],
        level: i32,
        last: bool,
    ) -> io::Result<Vec<u8>> {
        deflate_raw_from(input, dict, level, last, input.len() / 2 + 4096)
    }

    /// [`deflate_raw`] into an output buffer of `capacity` bytes at first.
    pub(super) fn deflate_raw_from(
        input: &[u8],
        dict: &[u8],
        level: i32,
        last: bool,
        capacity: usize,
    ) -> io::Result<Vec<u8>> {
        let too_big = || io::Error::other("block too large for zlib");
        let avail_in = c_uint::try_from(input.len()).map_err(|_| too_big())?;
        let dict_len = c_uint::try_from(dict.len()).map_err(|_| too_big())?;
        let mut strm = Box::new(z::z_stream {
            next_in: input.as_ptr().cast_mut(),
            avail_in,
            total_in: 0,
            next_out: std::ptr::null_mut(),
            avail_out: 0,
            total_out: 0,
            msg: std::ptr::null_mut(),
            state: std::ptr::null_mut(),
            zalloc,
            zfree,
            opaque: std::ptr::null_mut(),
            data_type: 0,
            adler: 0,
            reserved: 0,
        });
        let size = c_int::try_from(std::mem::size_of::<z::z_stream>()).map_err(|_| too_big())?;
        // SAFETY: `strm` is a valid z_stream with allocators; window bits -15 is raw deflate;
        // zlib only reads `next_in` (deflate never writes its input)
        let rc = unsafe {
            z::deflateInit2_(
                &mut *strm,
                level,
                z::Z_DEFLATED,
                -15,
                8,
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                size,
            )
        };
        if rc != z::Z_OK {
            return Err(failed("deflateInit2", rc));
        }
        let mut stream = Stream(strm);
        if !dict.is_empty() {
            // SAFETY: the stream is initialised; `dict` outlives the call
            let rc = unsafe { z::deflateSetDictionary(&mut *stream.0, dict.as_ptr(), dict_len) };
            if rc != z::Z_OK {
                return Err(failed("deflateSetDictionary", rc));
            }
        }
        let flush = if last { z::Z_FINISH } else { z::Z_SYNC_FLUSH };
        // room for all the output at once: a sync flush that fills the buffer exactly returns
        // with none left, and the call for more space writes a second marker (zlib wants more
        // than six bytes free), so the bytes would depend on the buffer; the loop below only
        // grows the buffer should zlib's bound (for the final block: 64 more for the marker) fail
        // SAFETY: the stream is initialised
        let bound = unsafe { z::deflateBound(&mut *stream.0, z::uLong::from(avail_in)) };
        let bound = usize::try_from(bound).map_err(|_| too_big())?;
        let mut out: Vec<u8> = Vec::with_capacity(capacity.max(bound.saturating_add(64)));
        loop {
            let spare = out.capacity() - out.len();
            let avail_out = c_uint::try_from(spare).unwrap_or(c_uint::MAX);
            let s = &mut *stream.0;
            // SAFETY: `next_out` points at `avail_out` writable bytes of `out`'s spare capacity
            s.next_out = unsafe { out.as_mut_ptr().add(out.len()) };
            s.avail_out = avail_out;
            // SAFETY: the stream is initialised and its buffers are valid for this call
            let rc = unsafe { z::deflate(s, flush) };
            let written = (avail_out - s.avail_out) as usize;
            // SAFETY: zlib wrote `written` bytes into the spare capacity
            unsafe { out.set_len(out.len() + written) };
            match rc {
                z::Z_STREAM_END if last => return Ok(out),
                // a sync flush is complete when all input is in and output space was left over
                z::Z_OK | z::Z_BUF_ERROR if !last && s.avail_in == 0 && s.avail_out > 0 => {
                    return Ok(out);
                }
                z::Z_OK | z::Z_BUF_ERROR => out.reserve(out.capacity().max(4096)),
                code => return Err(failed("deflate", code)),
            }
        }
    }
}

/// `f(i, items[i])` for every item on up to `threads` scoped threads, results in order; the
/// first error is returned.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(usize, &T) -> io::Result<R> + Sync,
) -> Result<Vec<R>> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items
            .iter()
            .enumerate()
            .map(|(i, t)| f(i, t).map_err(Error::from))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<io::Result<R>>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(i, item);
                    let failed = r.is_err();
                    if let Ok(mut slots) = slots.lock()
                        && let Some(slot) = slots.get_mut(i)
                    {
                        *slot = Some(r);
                    }
                    if failed {
                        // the others stop at their next block
                        next.store(items.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    let slots = slots
        .into_inner()
        .map_err(|_| Error::Io(io::Error::other("a compression thread panicked")))?;
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot {
            Some(r) => out.push(r?),
            None => {
                return Err(Error::Io(io::Error::other(
                    "a compression thread stopped before its block was done",
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Compressible but not trivial bytes: a few blocks and a partial one.
    fn sample(len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len);
        let mut x: u32 = 1;
        while v.len() < len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            v.extend_from_slice(format!("{} whittle {}\n", x % 1000, x >> 20).as_bytes());
        }
        v.truncate(len);
        v
    }

    fn gunzip(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn same_bytes_with_any_thread_count_and_round_trip() {
        let data = sample(3 * BLOCK_SIZE + 12_345);
        for codec in [Codec::Gzip, Codec::Zstd] {
            let level = codec.default_level();
            let one = compress(&data, codec, level, 1).unwrap();
            for n in [2, 3, 8] {
                assert_eq!(
                    one,
                    compress(&data, codec, level, n).unwrap(),
                    "{codec:?} {n}"
                );
            }
            let back = match codec {
                Codec::Gzip => gunzip(&one),
                Codec::Zstd => zstd::stream::decode_all(one.as_slice()).unwrap(),
            };
            assert_eq!(back, data, "{codec:?}");
        }
    }

    #[test]
    fn gzip_is_one_member_with_the_whole_crc() {
        let data = sample(2 * BLOCK_SIZE + 7);
        let gz = compress(&data, Codec::Gzip, 6, 2).unwrap();
        // a single-member reader (not MultiGzDecoder) reads all of it and checks the CRC
        assert_eq!(gunzip(&gz), data);
        let n = gz.len();
        assert_eq!(&gz[n - 4..], &(data.len() as u32).to_le_bytes());
    }

    #[test]
    fn empty_and_tiny_inputs() {
        for data in [&b""[..], b"x"] {
            assert_eq!(gunzip(&compress(data, Codec::Gzip, 9, 4).unwrap()), data);
            let z = compress(data, Codec::Zstd, 3, 4).unwrap();
            assert_eq!(zstd::stream::decode_all(z.as_slice()).unwrap(), data);
        }
    }

    /// Bytes deflate cannot shrink: stored blocks, output larger than input.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn block_boundaries_round_trip_with_any_thread_count() {
        for len in [BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 2 * BLOCK_SIZE] {
            for data in [sample(len), noise(len)] {
                for (codec, level) in [(Codec::Gzip, 0), (Codec::Gzip, 1), (Codec::Zstd, 1)] {
                    let one = compress(&data, codec, level, 1).unwrap();
                    assert_eq!(one, compress(&data, codec, level, 3).unwrap(), "{len}");
                    let back = match codec {
                        Codec::Gzip => gunzip(&one),
                        Codec::Zstd => zstd::stream::decode_all(one.as_slice()).unwrap(),
                    };
                    assert!(back == data, "{codec:?} {level} {len}");
                }
            }
        }
    }

    /// Writes of any size, batches flushed mid-stream: the bytes `compress` gives.
    #[test]
    fn streaming_writes_give_the_same_bytes() {
        let data = sample(5 * BLOCK_SIZE + 3);
        for codec in [Codec::Gzip, Codec::Zstd] {
            let whole = compress(&data, codec, 1, 2).unwrap();
            for (threads, chunk) in [(1, 7777), (2, BLOCK_SIZE), (1, 3 * BLOCK_SIZE + 1)] {
                let mut w = BlockWriter::new(Vec::new(), codec, 1, threads).unwrap();
                for part in data.chunks(chunk) {
                    w.write_all(part).unwrap();
                }
                assert!(w.finish().unwrap() == whole, "{codec:?} {threads} {chunk}");
            }
        }
    }

    /// The zlib FFI at its edges, each block after the input it is primed with as in a layer:
    /// empty, incompressible (stored blocks: output larger than input, the output buffer grown
    /// in the loop), exactly one block, levels 0 to 9, dictionaries of 0, 1, the window and more
    /// than the window's bytes. Each pair inflates to the input, a sync-flushed block ends with
    /// the empty stored block, and the same call makes the same bytes.
    #[test]
    fn zlib_deflate_at_its_edges_round_trips() {
        let inflate = |b: &[u8]| {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(b)
                .read_to_end(&mut out)
                .unwrap();
            out
        };
        let cases: [(Vec<u8>, Vec<u8>); 7] = [
            (Vec::new(), Vec::new()),
            (Vec::new(), sample(1000)),
            (b"x".to_vec(), sample(1000)),
            (sample(DICTIONARY), sample(BLOCK_SIZE)),
            (sample(DICTIONARY + 1), sample(5000)),
            (noise(DICTIONARY), noise(BLOCK_SIZE)),
            (sample(3 * DICTIONARY), Vec::new()),
        ];
        for level in 0..=9 {
            for (prev, block) in &cases {
                let dict = &prev[prev.len().saturating_sub(DICTIONARY)..];
                let first = zlib::deflate_raw(prev, &[], level, false).unwrap();
                assert!(first.ends_with(&[0, 0, 0xff, 0xff]), "level {level}");
                for whole_prev in [false, true] {
                    let d = if whole_prev { prev.as_slice() } else { dict };
                    let second = zlib::deflate_raw(block, d, level, true).unwrap();
                    assert_eq!(second, zlib::deflate_raw(block, d, level, true).unwrap());
                    let got = inflate(&[first.as_slice(), &second].concat());
                    assert!(
                        got == [prev.as_slice(), block].concat(),
                        "level {level}, {} then {} bytes",
                        prev.len(),
                        block.len()
                    );
                }
            }
        }
        for bad in [10, -2, 100] {
            assert!(zlib::deflate_raw(b"x", &[], bad, true).is_err());
        }
    }

    /// Found reviewing the FFI: a sync flush whose marker exactly filled the output buffer
    /// returned with no space left, and the call for more space wrote a second marker (zlib
    /// asks for more than six bytes free): the bytes of a block depended on where the buffer
    /// first ran out. Same bytes whatever the starting buffer.
    #[test]
    fn zlib_output_does_not_depend_on_the_output_buffer() {
        for (data, level) in [(sample(100_000), 5), (noise(70_000), 0), (noise(3000), 9)] {
            for last in [false, true] {
                let want = zlib::deflate_raw(&data, &[], level, last).unwrap();
                for cap in [
                    want.len(),
                    want.len() - 1,
                    want.len() - 5,
                    want.len() + 1,
                    1,
                ] {
                    let got = zlib::deflate_raw_from(&data, &[], level, last, cap).unwrap();
                    assert!(
                        got == want,
                        "level {level}, start {cap}: {} vs {}",
                        got.len(),
                        want.len()
                    );
                }
            }
        }
    }

    #[test]
    fn levels_are_checked() {
        assert!(compress(b"x", Codec::Gzip, 10, 1).is_err());
        assert!(compress(b"x", Codec::Gzip, -1, 1).is_err());
        assert!(compress(b"x", Codec::Zstd, 0, 1).is_err());
        assert!(compress(b"x", Codec::Zstd, 23, 1).is_err());
    }

    /// Independent blocks cost little: at most 2% over one gzip stream at the same level.
    #[test]
    fn gzip_blocks_cost_at_most_two_percent() {
        let data = sample(4 * BLOCK_SIZE);
        let blocks = compress(&data, Codec::Gzip, 6, 2).unwrap().len();
        let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        std::io::Write::write_all(&mut one, &data).unwrap();
        let one = one.finish().unwrap().len();
        assert!(blocks * 100 <= one * 102, "{blocks} vs {one}");
    }

    /// Catches any change of the block format or of the compressors' output (a flate2/zlib-rs
    /// or zstd upgrade, another block size): if this fails, layer digests change for users.
    /// (Introduced with the block format, issue 18: layers were one level-9 gzip stream before,
    /// so every layer over 1 MiB, and every layer whittle build made at level 9, changed digest.
    /// Then, on purpose, gzip blocks moved from zlib-rs level 6 to zlib's level 5: every gzip
    /// layer changed digest again, for output 2.6 % smaller — see [`zlib`].)
    #[test]
    fn golden_block_digests() {
        use sha2::{Digest, Sha256};
        let data = sample(2 * BLOCK_SIZE + 100);
        let digest = |codec| {
            hex::encode(Sha256::digest(
                compress(&data, codec, codec.default_level(), 2).unwrap(),
            ))
        };
        assert_eq!(
            digest(Codec::Gzip),
            "060bb4ab12a9d198d1f49f15b242006c827ca95dd9209087846a09491e3b8820"
        );
        assert_eq!(
            digest(Codec::Zstd),
            "1f2a31d5d863fbc3013a1e8bd2953f558794ea2bf3d941ea8e90b56b8859ef82"
        );
    }
}
