//! A small ELF reader: the header fields and the dynamic section (`DT_SONAME`, `DT_NEEDED`) of
//! 32/64-bit, little or big endian files, as `so:` package metadata and `ld.so.cache` need them.
//! Everything is bounds-checked; a file that is not a well-formed ELF file gives `None`.

/// What the header and the dynamic section say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dynamic {
    /// `DT_SONAME`, if the file is a shared library with one.
    pub soname: Option<String>,
    /// `DT_NEEDED` entries in order.
    pub needed: Vec<String>,
    /// The program interpreter (`PT_INTERP`) of a dynamically linked program.
    pub interpreter: Option<String>,
    /// Whether the file has a dynamic section whose string table was found (`soname` and
    /// `needed` are only meaningful then).
    pub has_dynamic: bool,
    /// `e_type` (`ET_DYN` = 3 for shared objects and position-independent programs).
    pub elf_type: u16,
    /// `e_machine` (`EM_X86_64` = 62, `EM_AARCH64` = 183, ...).
    pub machine: u16,
    /// `e_flags` (ABI details on ARM and RISC-V).
    pub flags: u32,
    /// ELFCLASS64 (else ELFCLASS32).
    pub class64: bool,
}

/// `e_type` of a shared object.
pub const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_SONAME: u64 = 14;
/// Most program headers / dynamic entries read (real files have a few dozen).
const MAX_ENTRIES: usize = 65_536;
/// Most distinct `DT_NEEDED` libraries kept (real programs need a few dozen at most).
const MAX_NEEDED: usize = 1024;

/// The bytes an ELF file is read from: in memory, or a file's content on disk read a page at a
/// time (`pread`), so that a large library is parsed without being read whole.
enum Bytes<'a> {
    Mem(&'a [u8]),
    Disk {
        data: &'a whittle_fs::FileData,
        /// The last page read: its offset and bytes.
        page: std::cell::RefCell<(u64, Vec<u8>)>,
    },
}

/// Bytes read from disk at a time.
const PAGE: u64 = 16 << 10;

impl Bytes<'_> {
    /// The `n` bytes at `off` (`None` past the end).
    fn get(&self, off: u64, n: usize) -> Option<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        match self {
            Bytes::Mem(b) => {
                let off = usize::try_from(off).ok()?;
                b.get(off..off.checked_add(n)?).map(Cow::Borrowed)
            }
            Bytes::Disk { data, page } => {
                let end = off.checked_add(n as u64)?;
                if end > data.len() {
                    return None;
                }
                let start = off - off % PAGE;
                if end > start + PAGE {
                    // across pages (a long name): read as is
                    let mut buf = vec![0u8; n];
                    data.read_exact_at(off, &mut buf).ok()?;
                    return Some(Cow::Owned(buf));
                }
                let mut p = page.borrow_mut();
                if p.1.is_empty() || p.0 != start {
                    let len = usize::try_from(PAGE.min(data.len() - start)).ok()?;
                    let mut buf = vec![0u8; len];
                    data.read_exact_at(start, &mut buf).ok()?;
                    *p = (start, buf);
                }
                let at = usize::try_from(off - start).ok()?;
                Some(Cow::Owned(p.1.get(at..at + n)?.to_vec()))
            }
        }
    }

    fn len(&self) -> u64 {
        match self {
            Bytes::Mem(b) => b.len() as u64,
            Bytes::Disk { data, .. } => data.len(),
        }
    }
}

struct Reader<'a> {
    b: Bytes<'a>,
    le: bool,
    wide: bool,
}

impl Reader<'_> {
    /// The `N`-byte unsigned number at `off`, in the file's byte order.
    fn uint<const N: usize>(&self, off: u64) -> Option<u64> {
        let mut b: [u8; N] = self.b.get(off, N)?.as_ref().try_into().ok()?;
        if self.le {
            b.reverse();
        }
        Some(b.iter().fold(0, |v, &x| (v << 8) | u64::from(x)))
    }
    fn u16(&self, off: u64) -> Option<u16> {
        self.uint::<2>(off).map(|v| v as u16)
    }
    fn u32(&self, off: u64) -> Option<u32> {
        self.uint::<4>(off).map(|v| v as u32)
    }
    fn u64(&self, off: u64) -> Option<u64> {
        self.uint::<8>(off)
    }
    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, off: u64) -> Option<u64> {
        if self.wide {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }
    fn cstr(&self, off: u64) -> Option<String> {
        let n = self.b.len().checked_sub(off)?.min(4096);
        let rest = self.b.get(off, usize::try_from(n).ok()?)?;
        let end = rest.iter().position(|&c| c == 0)?;
        String::from_utf8(rest.get(..end)?.to_vec()).ok()
    }
}

/// Whether `b` starts with the ELF magic.
pub fn is_elf(b: &[u8]) -> bool {
    b.starts_with(b"\x7fELF")
}

impl<'a> Reader<'a> {
    /// A reader of ELF file `b` in its class (32/64-bit) and byte order; `None` when `b` is not
    /// ELF or names neither.
    fn new(b: Bytes<'a>) -> Option<Self> {
        let head = b.get(0, 6)?;
        if !is_elf(&head) {
            return None;
        }
        let wide = match head[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let le = match head[5] {
            1 => true,
            2 => false,
            _ => return None,
        };
        drop(head);
        Some(Reader { b, le, wide })
    }
}

/// Reads the dynamic section of `b`; `None` when `b` is not a readable ELF file.
pub fn dynamic(b: &[u8]) -> Option<Dynamic> {
    dynamic_in(Reader::new(Bytes::Mem(b))?)
}

/// [`dynamic`] of a file's content, reading only the parts it needs (a few pages of a library
/// that can be hundreds of megabytes).
pub fn dynamic_of(data: &whittle_fs::FileData) -> Option<Dynamic> {
    match data.as_inline() {
        Some(b) => dynamic(b),
        None => dynamic_in(Reader::new(Bytes::Disk {
            data,
            page: Default::default(),
        })?),
    }
}

fn dynamic_in(r: Reader<'_>) -> Option<Dynamic> {
    let wide = r.wide;
    let (phoff, phentsize, phnum, flags) = if wide {
        (r.u64(0x20)?, r.u16(0x36)?, r.u16(0x38)?, r.u32(0x30)?)
    } else {
        (
            u64::from(r.u32(0x1c)?),
            r.u16(0x2a)?,
            r.u16(0x2c)?,
            r.u32(0x24)?,
        )
    };
    // the size of an `Elf64_Phdr` / `Elf32_Phdr`, as the loader requires (and as `ldconfig`
    // reads them): a table of zero-sized entries would be the same bytes read 65535 times
    if usize::from(phentsize) != if wide { 56 } else { 32 } {
        return None;
    }
    let mut loads = Vec::new(); // (vaddr, offset, filesz)
    let mut dyn_seg = None; // (offset, size)
    let mut out = Dynamic {
        elf_type: r.u16(0x10)?,
        machine: r.u16(0x12)?,
        flags,
        class64: wide,
        ..Dynamic::default()
    };
    for i in 0..usize::from(phnum).min(MAX_ENTRIES) {
        let ph = phoff.checked_add((i as u64).checked_mul(u64::from(phentsize))?)?;
        let ptype = r.u32(ph)?;
        let (offset, vaddr, filesz) = if wide {
            (
                r.u64(ph.checked_add(8)?)?,
                r.u64(ph.checked_add(16)?)?,
                r.u64(ph.checked_add(32)?)?,
            )
        } else {
            (
                u64::from(r.u32(ph.checked_add(4)?)?),
                u64::from(r.u32(ph.checked_add(8)?)?),
                u64::from(r.u32(ph.checked_add(16)?)?),
            )
        };
        match ptype {
            PT_LOAD => loads.push((vaddr, offset, filesz)),
            PT_DYNAMIC => dyn_seg = Some((offset, filesz)),
            // the first one (a crafted file cannot make many 4 KiB reads of it)
            PT_INTERP if out.interpreter.is_none() => {
                out.interpreter = Some(r.cstr(offset).unwrap_or_default());
            }
            _ => {}
        }
    }
    let Some((doff, dsize)) = dyn_seg else {
        return Some(out);
    };
    let entsize: u64 = if wide { 16 } else { 8 };
    let mut strtab = None;
    let mut needed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut soname = None;
    for i in 0..(dsize / entsize).min(MAX_ENTRIES as u64) {
        let at = doff.checked_add(i * entsize)?;
        let tag = r.word(at)?;
        let val = r.word(at.checked_add(entsize / 2)?)?;
        match tag {
            DT_NULL => break,
            // one library named many times is one dependency; a crafted file cannot make
            // thousands of 4 KiB names out of one string
            DT_NEEDED if needed.len() < MAX_NEEDED && seen.insert(val) => needed.push(val),
            DT_NEEDED => {}
            DT_SONAME => soname = Some(val),
            DT_STRTAB => strtab = Some(val),
            _ => {}
        }
    }
    let strtab = strtab?;
    // the string table's virtual address → file offset through the PT_LOAD segments
    let base = loads
        .iter()
        .find(|(vaddr, _, filesz)| strtab >= *vaddr && strtab - vaddr < *filesz)
        .and_then(|(vaddr, offset, _)| (strtab - vaddr).checked_add(*offset))?;
    for n in needed {
        out.needed.push(r.cstr(base.checked_add(n)?)?);
    }
    if let Some(s) = soname {
        out.soname = Some(r.cstr(base.checked_add(s)?)?);
    }
    out.has_dynamic = true;
    Some(out)
}

/// The section names of ELF file `b`; `None` when it is not ELF or its section table cannot be
/// read. Bounded by the 16-bit section count and the size of `b`.
pub fn section_names(b: &[u8]) -> Option<Vec<String>> {
    let r = Reader::new(Bytes::Mem(b))?;
    let wide = r.wide;
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (r.u64(0x28)?, r.u16(0x3a)?, r.u16(0x3c)?, r.u16(0x3e)?)
    } else {
        (
            u64::from(r.u32(0x20)?),
            r.u16(0x2e)?,
            r.u16(0x30)?,
            r.u16(0x32)?,
        )
    };
    if shoff == 0 || shnum == 0 || usize::from(shentsize) != if wide { 64 } else { 40 } {
        return None;
    }
    // (name offset, file offset, size) of section `i`
    let header = |i: u16| -> Option<(u64, u64, u64)> {
        let at = shoff.checked_add(u64::from(i).checked_mul(u64::from(shentsize))?)?;
        let name = u64::from(r.u32(at)?);
        if wide {
            Some((
                name,
                r.u64(at.checked_add(0x18)?)?,
                r.u64(at.checked_add(0x20)?)?,
            ))
        } else {
            Some((
                name,
                u64::from(r.u32(at.checked_add(0x10)?)?),
                u64::from(r.u32(at.checked_add(0x14)?)?),
            ))
        }
    };
    let (_, str_off, str_size) = header(shstrndx)?;
    let strtab = b.get(
        usize::try_from(str_off).ok()?..usize::try_from(str_off.checked_add(str_size)?).ok()?,
    )?;
    let mut names = Vec::new();
    for i in 0..shnum {
        let (name, _, _) = header(i)?;
        let rest = strtab.get(usize::try_from(name).ok()?..)?;
        let end = rest.iter().take(256).position(|&c| c == 0)?;
        names.push(String::from_utf8_lossy(&rest[..end]).into_owned());
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_host_libc_and_a_program() {
        // any dynamically linked program on this machine, and the C library it needs
        let prog = std::fs::read("/bin/sh").or_else(|_| std::fs::read("/usr/bin/env"));
        let Ok(prog) = prog else {
            whittle_testutil::skip("/bin/sh");
            return;
        };
        let d = dynamic(&prog).expect("an ELF program");
        if let Some(interp) = &d.interpreter {
            assert!(interp.starts_with('/') && interp.contains("ld"), "{interp}");
            assert!(
                d.needed.iter().any(|n| n.starts_with("libc.")),
                "{:?}",
                d.needed
            );
            assert!(d.soname.is_none());
        }
        for lib in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/aarch64-linux-gnu/libc.so.6",
        ] {
            if let Ok(b) = std::fs::read(lib) {
                let d = dynamic(&b).unwrap();
                assert_eq!(d.soname.as_deref(), Some("libc.so.6"));
                assert!(d.has_dynamic && d.class64 && d.elf_type == ET_DYN);
                assert!(d.machine == 62 || d.machine == 183, "{}", d.machine);
                // the same read a page at a time from a file (as a large library in the tree
                // is), and from its first part only (the dynamic section is past it: no answer)
                let dir = tempfile::tempdir().unwrap();
                let spill = whittle_fs::Spill::new_in(dir.path()).unwrap();
                let on_disk = spill.keep(&b).unwrap();
                assert!(on_disk.as_inline().is_none());
                assert_eq!(dynamic_of(&on_disk), Some(d));
                let cut = spill.keep(&b[..b.len() / 2]).unwrap();
                assert_eq!(dynamic_of(&cut), dynamic(&b[..b.len() / 2]));
                return;
            }
        }
    }

    #[test]
    fn non_elf_is_none() {
        assert_eq!(dynamic(b"#!/bin/sh\necho hi\n"), None);
        assert_eq!(dynamic(b"\x7fELF"), None);
    }

    #[test]
    fn a_load_offset_near_the_end_of_u64_is_none_not_an_overflow() {
        // ELF64 LE: PT_LOAD at offset u64::MAX, PT_DYNAMIC with DT_STRTAB = 1
        let mut b = vec![0u8; 64 + 2 * 56 + 32];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        let ph0 = 64;
        b[ph0..ph0 + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        b[ph0 + 8..ph0 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        b[ph0 + 32..ph0 + 40].copy_from_slice(&0x1000u64.to_le_bytes());
        let ph1 = 64 + 56;
        b[ph1..ph1 + 4].copy_from_slice(&PT_DYNAMIC.to_le_bytes());
        b[ph1 + 8..ph1 + 16].copy_from_slice(&176u64.to_le_bytes());
        b[ph1 + 32..ph1 + 40].copy_from_slice(&32u64.to_le_bytes());
        b[176..184].copy_from_slice(&DT_STRTAB.to_le_bytes());
        b[184..192].copy_from_slice(&1u64.to_le_bytes());
        assert_eq!(dynamic(&b), None);
    }

    #[test]
    fn program_headers_of_another_size_are_not_read() {
        // ELF64 LE with 65535 program headers of size 0: the same bytes, read as many times
        let mut b = vec![0u8; 64 + 56];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(dynamic(&b), None);
        // the size of an Elf64_Phdr, one (null) header: an ELF file without a dynamic section
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        assert!(dynamic(&b).is_some_and(|d| !d.has_dynamic && d.class64));
    }

    #[test]
    fn repeated_and_excess_needed_entries_are_bounded() {
        // ELF64 LE: one PT_LOAD mapping the file at vaddr 0, a PT_DYNAMIC of 3000 DT_NEEDED
        // naming the same string, then 2000 distinct ones, then DT_STRTAB = 0
        let n_dyn = 3000 + 2000 + 2;
        let dyn_off = 64 + 2 * 56;
        let str_off = dyn_off + n_dyn * 16;
        let mut strings = b"libsame.so\0".to_vec();
        let mut distinct = Vec::new();
        for i in 0..2000 {
            distinct.push(strings.len() as u64);
            strings.extend_from_slice(format!("lib{i}.so\0").as_bytes());
        }
        let mut b = vec![0u8; str_off + strings.len()];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        let len = b.len() as u64;
        b[64..68].copy_from_slice(&PT_LOAD.to_le_bytes());
        b[64 + 32..64 + 40].copy_from_slice(&len.to_le_bytes());
        let ph1 = 64 + 56;
        b[ph1..ph1 + 4].copy_from_slice(&PT_DYNAMIC.to_le_bytes());
        b[ph1 + 8..ph1 + 16].copy_from_slice(&(dyn_off as u64).to_le_bytes());
        b[ph1 + 32..ph1 + 40].copy_from_slice(&((n_dyn * 16) as u64).to_le_bytes());
        let mut at = dyn_off;
        let mut put = |b: &mut Vec<u8>, tag: u64, val: u64| {
            b[at..at + 8].copy_from_slice(&tag.to_le_bytes());
            b[at + 8..at + 16].copy_from_slice(&val.to_le_bytes());
            at += 16;
        };
        for _ in 0..3000 {
            put(&mut b, DT_NEEDED, 0);
        }
        for off in &distinct {
            put(&mut b, DT_NEEDED, *off);
        }
        put(&mut b, DT_STRTAB, str_off as u64);
        put(&mut b, DT_NULL, 0);
        b[str_off..].copy_from_slice(&strings);
        let d = dynamic(&b).unwrap();
        assert_eq!(d.needed.len(), MAX_NEEDED);
        assert_eq!(d.needed[0], "libsame.so");
        assert_eq!(d.needed.iter().filter(|n| *n == "libsame.so").count(), 1);
    }

    #[test]
    fn section_names_of_a_host_program() {
        let Ok(prog) = std::fs::read("/bin/sh") else {
            whittle_testutil::skip("/bin/sh");
            return;
        };
        let names = section_names(&prog).expect("a readable section table");
        assert!(names.iter().any(|n| n == ".text"), "{names:?}");
        assert!(names.iter().any(|n| n == ".dynamic"), "{names:?}");
        assert_eq!(section_names(b"#!/bin/sh\n"), None);
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(mut b in proptest::collection::vec(any::<u8>(), 0..4096), wide in any::<bool>()) {
            if b.len() >= 6 {
                b[..4].copy_from_slice(b"\x7fELF");
                b[4] = if wide { 2 } else { 1 };
                b[5] = 1;
            }
            let _ = dynamic(&b);
            let _ = section_names(&b);
        }
    }
}
