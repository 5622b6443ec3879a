//! `/etc/ld.so.cache` as glibc's `ldconfig` writes it (libc-bin's `postinst` and its `ldconfig`
//! trigger run `ldconfig` after every library package; whittle runs no script), so that the
//! dynamic loader finds libraries from the cache instead of searching its directories.
//!
//! Written for images with glibc's dynamic loader in Debian's multiarch layout (the loader at
//! its ABI path, such as `/lib64/ld-linux-x86-64.so.2`, and `libc.so.6` in `/lib/<triplet>` or
//! `/usr/lib/<triplet>`); musl images and images without a C library get none. Everything comes
//! from the image's own files, as `ldconfig` run in the image would read them:
//!
//! - **directories**: those `/etc/ld.so.conf` names, with its `include` lines (glob patterns,
//!   relative ones from the including file's directory, matches in byte order) read from the
//!   tree, then Debian's trusted directories `/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`,
//!   `/usr/lib`; a directory reached twice (merged `/usr`: `/lib` is `/usr/lib`) is scanned once,
//!   under its first name. Symlinks are resolved inside the tree only.
//! - **libraries**: in each directory, every regular file or symlink whose name looks like a
//!   shared object (`lib*.so*`, `ld-*.so*`, `ld.so.*`, `ld64.so.*`) and which is an ELF shared
//!   object (`ET_DYN` with a dynamic section) of a kind the architecture's `ldconfig` accepts; it
//!   is listed under its `DT_SONAME` (its file name when it has none) as `DIR/SONAME`. A symlink
//!   whose name is neither that soname nor its `.so` development name counts as the file it
//!   points to; a development link (`libz.so -> libz.so.1.3`) is listed under its own name, as
//!   `ldconfig` does. Of several files with one soname in a directory, a file beats a link, then
//!   the higher version (glibc's `_dl_cache_libcmp`).
//! - **flags**: per architecture as glibc's `readelflib.c` gives them: `0x0303` (libc6, x86-64)
//!   for 64-bit x86 libraries, `0x0a03` (libc6, AArch64), `0x0903`/`0x0b03` for ARM hard/soft
//!   float, `0x0503` POWER and `0x0403` S/390 64-bit, RISC-V float ABI bits; 32-bit x86 and
//!   unmarked objects are libc6 (`3`) or plain ELF (`1`) depending on what they need (glibc 2.36;
//!   from glibc 2.37 on, always libc6).
//! - **format**: the `glibc-ld.so.cache1.1` format only (glibc 2.32 and later write it by
//!   default), entries sorted as `ldconfig` sorts them (sonames in descending
//!   `_dl_cache_libcmp` order, then flags), its tail-merged string table, and the extension directory with the generator string
//!   the image's glibc would write (`ldconfig (Debian GLIBC 2.36-9+deb12u13) stable release
//!   version 2.36`, from the banner in the image's `libc.so.6`): byte for byte what `ldconfig -r
//!   ROOT` writes for the same tree.
//!
//! Not modelled, and then no cache is written (with a warning; the loader searches its
//! directories itself, as without a cache): libraries in `glibc-hwcaps` subdirectories or, with
//! glibc before 2.37, in legacy hardware-capability subdirectories (`tls`, `x86_64`, `haswell`,
//! ...), which carry extra cache fields. `ldconfig`'s other job, making missing soname links, is
//! not done (Debian's packages ship them). Work is bounded: at most [`MAX_CONF_FILES`]
//! configuration files of [`MAX_CONF_BYTES`] each, [`MAX_DIRS`] directories, [`MAX_LIBRARIES`]
//! candidate files and a string table of [`MAX_STRINGS`] bytes; beyond a bound nothing is
//! written.

use crate::elf;
use crate::{Error, Events};
use whittle_fs::{Entry, FileData, MAX_SYMLINK_HOPS, Meta, Node, Tree};

/// Where the cache goes (tree path).
pub const CACHE: &str = "etc/ld.so.cache";
/// Most configuration files read (`/etc/ld.so.conf` and what it includes).
pub const MAX_CONF_FILES: usize = 64;
/// Largest configuration file read.
pub const MAX_CONF_BYTES: usize = 256 << 10;
/// Deepest `include` nesting followed (`ldconfig` recurses without end on a loop).
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// Most directories scanned.
pub const MAX_DIRS: usize = 256;
/// Most candidate library files read.
pub const MAX_LIBRARIES: usize = 65_536;
/// Largest string table written.
pub const MAX_STRINGS: usize = 16 << 20;
/// How much of `libc.so.6` is searched for its version banner (glibc's is 2 MB, the banner
/// near its end).
const MAX_LIBC_SCAN: usize = 64 << 20;

const FLAG_ANY: i32 = -1;
const FLAG_LIBC4: i32 = 0;
const FLAG_ELF: i32 = 1;
const FLAG_ELF_LIBC5: i32 = 2;
const FLAG_ELF_LIBC6: i32 = 3;
const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const EXTENSION_MAGIC: u32 = 0xeaa4_2174;
const HEADER: usize = 48;
const ENTRY: usize = 24;

/// How an architecture's `ldconfig` classifies an ELF file (glibc's per-architecture
/// `readelflib.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    X86,
    Arm,
    Power,
    S390,
    Riscv,
}

/// One of Debian's glibc architectures.
#[derive(Debug)]
struct Arch {
    triplet: &'static str,
    /// The program interpreter's tree path.
    loader: &'static str,
    family: Family,
    /// Whether `ldconfig` itself is 64-bit (its smallest file is an `Elf64_Ehdr`).
    lp64: bool,
    big_endian: bool,
    /// Whether C's `char` is signed (it orders non-ASCII sonames).
    signed_char: bool,
    /// glibc 2.36's known interpreters and libraries that make an object libc6 (or libc5).
    interpreters: &'static [(&'static str, i32)],
    libraries: &'static [(&'static str, i32)],
    /// Legacy hardware-capability subdirectory names `ldconfig` descends into before glibc 2.37
    /// (besides `tls`).
    hwcap_dirs: &'static [&'static str],
}

const LIBC6: &[(&str, i32)] = &[("libc.so.6", FLAG_ELF_LIBC6), ("libm.so.6", FLAG_ELF_LIBC6)];
const ARM_INTERPRETERS: &[(&str, i32)] = &[
    ("/lib/ld-linux.so.3", FLAG_ELF_LIBC6),
    ("/lib/ld-linux-armhf.so.3", FLAG_ELF_LIBC6),
];
const X86_PLATFORMS: [&str; 4] = ["i586", "i686", "haswell", "xeon_phi"];

const ARCHES: &[Arch] = &[
    Arch {
        triplet: "x86_64-linux-gnu",
        loader: "lib64/ld-linux-x86-64.so.2",
        family: Family::X86,
        lp64: true,
        big_endian: false,
        signed_char: true,
        interpreters: &[
            ("/lib/ld-linux-x86-64.so.2", FLAG_ELF_LIBC6),
            ("/lib/ld-linux.so.2", FLAG_ELF_LIBC6),
            ("/libx32/ld-linux-x32.so.2", FLAG_ELF_LIBC6),
            ("/lib64/ld-linux-x86-64.so.2", FLAG_ELF_LIBC6),
        ],
        libraries: LIBC6,
        hwcap_dirs: &[
            "x86_64",
            "avx512_1",
            X86_PLATFORMS[0],
            X86_PLATFORMS[1],
            X86_PLATFORMS[2],
            X86_PLATFORMS[3],
        ],
    },
    Arch {
        triplet: "aarch64-linux-gnu",
        loader: "lib/ld-linux-aarch64.so.1",
        family: Family::Arm,
        lp64: true,
        big_endian: false,
        signed_char: false,
        interpreters: &[
            ("/lib/ld-linux-aarch64.so.1", FLAG_ELF_LIBC6),
            ("/lib/ld-linux-aarch64_be.so.1", FLAG_ELF_LIBC6),
            ("/lib/ld-linux-aarch64_ilp32.so.1", FLAG_ELF_LIBC6),
            ("/lib/ld-linux-aarch64_be_ilp32.so.1", FLAG_ELF_LIBC6),
            ARM_INTERPRETERS[0],
            ARM_INTERPRETERS[1],
        ],
        libraries: LIBC6,
        hwcap_dirs: &["atomics"],
    },
    Arch {
        triplet: "arm-linux-gnueabihf",
        loader: "lib/ld-linux-armhf.so.3",
        family: Family::Arm,
        lp64: false,
        big_endian: false,
        signed_char: false,
        interpreters: ARM_INTERPRETERS,
        libraries: LIBC6,
        hwcap_dirs: &["vfp", "neon"],
    },
    Arch {
        triplet: "arm-linux-gnueabi",
        loader: "lib/ld-linux.so.3",
        family: Family::Arm,
        lp64: false,
        big_endian: false,
        signed_char: false,
        interpreters: ARM_INTERPRETERS,
        libraries: LIBC6,
        hwcap_dirs: &["vfp", "neon"],
    },
    Arch {
        triplet: "i386-linux-gnu",
        loader: "lib/ld-linux.so.2",
        family: Family::X86,
        lp64: false,
        big_endian: false,
        signed_char: true,
        interpreters: &[
            ("/lib/ld-linux.so.2", FLAG_ELF_LIBC6),
            ("/lib/ld-linux.so.1", FLAG_ELF_LIBC5),
        ],
        libraries: &[
            ("libc.so.6", FLAG_ELF_LIBC6),
            ("libm.so.6", FLAG_ELF_LIBC6),
            ("libc.so.5", FLAG_ELF_LIBC5),
            ("libm.so.5", FLAG_ELF_LIBC5),
        ],
        hwcap_dirs: &[
            "sse2",
            X86_PLATFORMS[0],
            X86_PLATFORMS[1],
            X86_PLATFORMS[2],
            X86_PLATFORMS[3],
        ],
    },
    Arch {
        triplet: "powerpc64le-linux-gnu",
        loader: "lib64/ld64.so.2",
        family: Family::Power,
        lp64: true,
        big_endian: false,
        signed_char: false,
        interpreters: &[
            ("/lib/ld64.so.2", FLAG_ELF_LIBC6),
            ("/lib/ld.so.1", FLAG_ELF_LIBC6),
            ("/lib64/ld64.so.1", FLAG_ELF_LIBC6),
            ("/lib64/ld64.so.2", FLAG_ELF_LIBC6),
        ],
        libraries: LIBC6,
        hwcap_dirs: &[
            "altivec", "dfp", "power4", "ppc970", "power5", "power5+", "power6", "power6x",
            "power7", "power8", "power9", "power10",
        ],
    },
    Arch {
        triplet: "s390x-linux-gnu",
        loader: "lib/ld64.so.1",
        family: Family::S390,
        lp64: true,
        big_endian: true,
        signed_char: false,
        interpreters: &[
            ("/lib/ld64.so.1", FLAG_ELF_LIBC6),
            ("/lib/ld.so.1", FLAG_ELF_LIBC6),
        ],
        libraries: LIBC6,
        hwcap_dirs: &[
            "zarch", "ldisp", "eimm", "dfp", "vx", "vxe", "vxe2", "g5", "z900", "z990", "z9-109",
            "z10", "z196", "zEC12", "z13", "z14", "z15", "z16",
        ],
    },
    Arch {
        triplet: "riscv64-linux-gnu",
        loader: "lib/ld-linux-riscv64-lp64d.so.1",
        family: Family::Riscv,
        lp64: true,
        big_endian: false,
        signed_char: false,
        interpreters: &[
            ("/lib/ld-linux-riscv64-lp64d.so.1", FLAG_ELF_LIBC6),
            ("/lib/ld-linux-riscv64-lp64.so.1", FLAG_ELF_LIBC6),
        ],
        libraries: LIBC6,
        hwcap_dirs: &[],
    },
];

/// One entry of a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The name programs ask for (`libc.so.6`).
    pub soname: String,
    /// `ldconfig`'s flags (`0x0303`: libc6, x86-64).
    pub flags: i32,
    /// Where the loader opens it (`/lib/x86_64-linux-gnu/libc.so.6`).
    pub path: String,
}

/// What [`write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The image has no glibc loader in a layout whittle knows: no cache.
    NotGlibc,
    /// A package or the config already put `/etc/ld.so.cache` there; it is kept.
    Present,
    /// Written, with this many entries, from these directories (as named in the cache).
    Written {
        /// Number of entries.
        libraries: usize,
        /// The directories scanned, in order.
        dirs: Vec<String>,
    },
    /// Not written, for this reason (something not modelled, or a limit).
    NotWritten(String),
}

/// Writes the cache ([`write`]) and says so in the build log.
pub fn apply(tree: &mut Tree, events: &dyn Events) -> Result<(), Error> {
    match write(tree)? {
        Outcome::Written { libraries, dirs } => events.step(&format!(
            "assemble  /{CACHE} with {libraries} libraries from {}, as ldconfig would write it",
            dirs.join(", ")
        )),
        Outcome::NotWritten(why) => events.warn(&format!(
            "/{CACHE} not written: {why}; the dynamic loader searches its directories instead"
        )),
        Outcome::NotGlibc | Outcome::Present => {}
    }
    Ok(())
}

/// Writes `/etc/ld.so.cache` into `tree` as `ldconfig` would, when the image has glibc's loader
/// and no cache yet (see the module documentation).
pub fn write(tree: &mut Tree) -> Result<Outcome, Error> {
    if tree.get(CACHE).is_some() {
        return Ok(Outcome::Present);
    }
    let Some((arch, libc)) = ARCHES.iter().find_map(|a| Some((a, glibc_libc(tree, a)?))) else {
        return Ok(Outcome::NotGlibc);
    };
    let (bytes, libraries, dirs) = match build(tree, arch, &libc) {
        Ok(b) => b,
        Err(why) => return Ok(Outcome::NotWritten(why)),
    };
    tree.insert(CACHE, Node::file(bytes), Meta::root(0o644))?;
    Ok(Outcome::Written { libraries, dirs })
}

/// The image's `libc.so.6` (in `/lib/<triplet>` or `/usr/lib/<triplet>`), when `tree` holds
/// `arch`'s glibc loader and that library.
/// Only the part [`glibc_banner`] looks at is read.
fn glibc_libc<'t>(tree: &'t Tree, arch: &Arch) -> Option<std::borrow::Cow<'t, [u8]>> {
    let file = |p: &str| {
        let d = lookup(tree, p, true).and_then(|(_, e)| file_data(tree, e))?;
        match d.as_inline() {
            Some(b) => Some(std::borrow::Cow::Borrowed(&b[..b.len().min(MAX_LIBC_SCAN)])),
            None => {
                let mut head = vec![0u8; usize::try_from(d.len()).ok()?.min(MAX_LIBC_SCAN)];
                d.read_exact_at(0, &mut head).ok()?;
                Some(std::borrow::Cow::Owned(head))
            }
        }
    };
    lookup(tree, arch.loader, true).and_then(|(_, e)| file_data(tree, e))?;
    ["lib", "usr/lib"]
        .iter()
        .find_map(|d| file(&format!("{d}/{}/libc.so.6", arch.triplet)))
}

/// The cache's bytes, entry count and scanned directories, or why there is none.
fn build(
    tree: &Tree,
    arch: &'static Arch,
    libc: &[u8],
) -> Result<(Vec<u8>, usize, Vec<String>), String> {
    let (generator, version) = glibc_banner(libc).ok_or(
        "the image's libc.so.6 has no glibc version banner, so the ldconfig it matches is unknown",
    )?;
    let mut scan = Scan {
        tree,
        arch,
        modern: version >= (2, 37),
        dirs: Vec::new(),
        conf_files: 0,
        libraries: 0,
    };
    scan.parse_conf("/etc/ld.so.conf", 0)?;
    for d in ["/lib/", "/usr/lib/"] {
        scan.add_dir(format!("{d}{}", arch.triplet).as_bytes())?;
    }
    for d in ["/lib", "/usr/lib"] {
        scan.add_dir(d.as_bytes())?;
    }
    let mut entries = Vec::new();
    for i in 0..scan.dirs.len() {
        entries.extend(scan.search_dir(i)?);
    }
    let signed = arch.signed_char;
    entries.sort_by(|a, b| {
        libcmp(&b.soname, &a.soname, signed)
            .cmp(&0)
            .then(b.flags.cmp(&a.flags))
    });
    let dirs = scan.dirs.iter().map(|d| d.path.clone()).collect();
    let bytes = encode(&entries, &generator, arch.big_endian)?;
    Ok((bytes, entries.len(), dirs))
}

/// `("ldconfig (Debian GLIBC 2.36-9+deb12u13) stable release version 2.36", (2, 36))` from the
/// banner `GNU C Library (...) stable release version 2.36.` in a `libc.so.6`.
fn glibc_banner(libc: &[u8]) -> Option<(String, (u32, u32))> {
    const START: &[u8] = b"GNU C Library ";
    const RELEASE: &str = " release version ";
    let parse = |rest: &[u8]| -> Option<(String, (u32, u32))> {
        let end = rest.iter().take(256).position(|&c| c == b'\n')?;
        let text = std::str::from_utf8(rest.get(..end)?).ok()?;
        let text = text.strip_suffix('.')?;
        if text.chars().any(char::is_control) {
            return None;
        }
        let (_, version) = text.rsplit_once(RELEASE)?;
        let mut parts = version.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((format!("ldconfig {text}"), (major, minor)))
    };
    let libc = &libc[..libc.len().min(MAX_LIBC_SCAN)];
    libc.windows(START.len())
        .enumerate()
        .filter(|(_, w)| *w == START)
        .find_map(|(at, _)| parse(libc.get(at + START.len()..)?))
}

/// A directory to scan.
#[derive(Debug)]
struct Dir {
    /// As named in the configuration (and in the cache).
    path: String,
    /// Its tree path, all symlinks followed (what `ldconfig` compares inodes of).
    real: String,
    /// glibc 2.36's `DIR=libc6` type, [`FLAG_ANY`] when none is given.
    flag: i32,
}

/// One library found in a directory (`ldconfig`'s `dlib_entry`).
struct Found {
    name: String,
    soname: String,
    flag: i32,
    is_link: bool,
}

struct Scan<'t> {
    tree: &'t Tree,
    arch: &'static Arch,
    /// glibc 2.37 or later: every object is libc6, no legacy hwcap subdirectories.
    modern: bool,
    dirs: Vec<Dir>,
    conf_files: usize,
    libraries: usize,
}

impl Scan<'_> {
    /// Reads one configuration file (ldconfig's `parse_conf`); a missing one is no error.
    fn parse_conf(&mut self, path: &str, depth: usize) -> Result<(), String> {
        let Some(data) = lookup(self.tree, path, true).and_then(|(_, e)| file_data(self.tree, e))
        else {
            return Ok(());
        };
        self.conf_files += 1;
        if self.conf_files > MAX_CONF_FILES {
            return Err(format!(
                "/etc/ld.so.conf includes more than {MAX_CONF_FILES} files"
            ));
        }
        if data.len() > MAX_CONF_BYTES as u64 {
            return Err(format!("{path} is larger than {MAX_CONF_BYTES} bytes"));
        }
        let data = data.bytes().map_err(|e| format!("{path}: {e}"))?;
        for line in data.split(|&c| c == b'\n') {
            let line = line.split(|&c| c == 0).next().unwrap_or_default();
            let line = line.split(|&c| c == b'#').next().unwrap_or_default();
            let start = line
                .iter()
                .position(|c| !is_space(*c))
                .unwrap_or(line.len());
            let line = &line[start..];
            if line.is_empty() {
                continue;
            }
            if line.starts_with(b"include") && line.get(7).is_some_and(|c| is_blank(*c)) {
                for word in line[8..].split(|c| is_blank(*c)).filter(|w| !w.is_empty()) {
                    self.include(path, word, depth)?;
                }
            } else if line.len() > 5
                && line[..5].eq_ignore_ascii_case(b"hwcap")
                && is_blank(line[5])
            {
                // ignored by ldconfig since glibc 2.37 too
            } else {
                self.add_dir(line)?;
            }
        }
        Ok(())
    }

    /// An `include PATTERN` word: each match of the glob, in byte order.
    fn include(&mut self, from: &str, pattern: &[u8], depth: usize) -> Result<(), String> {
        if depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(format!(
                "ld.so.conf includes nest deeper than {MAX_INCLUDE_DEPTH} levels"
            ));
        }
        let Ok(pattern) = std::str::from_utf8(pattern) else {
            return Ok(());
        };
        let pattern = match (pattern.starts_with('/'), from.rsplit_once('/')) {
            (false, Some((dir, _))) => format!("{dir}/{pattern}"),
            _ => pattern.to_string(),
        };
        for file in glob(self.tree, &pattern, MAX_CONF_FILES)? {
            self.parse_conf(&file, depth + 1)?;
        }
        Ok(())
    }

    /// ldconfig's `add_dir_1`: a directory line, deduplicated by what it resolves to.
    fn add_dir(&mut self, line: &[u8]) -> Result<(), String> {
        let (mut path, flag) = match line.iter().position(|&c| c == b'=') {
            Some(eq) if !self.modern => {
                let flag = match &line[eq + 1..] {
                    b"libc4" => FLAG_LIBC4,
                    b"libc5" => FLAG_ELF_LIBC5,
                    b"libc6" | b"glibc2" => FLAG_ELF_LIBC6,
                    _ => FLAG_ANY,
                };
                (&line[..eq], flag)
            }
            _ => (line, FLAG_ANY),
        };
        while let Some((&last, rest)) = path.split_last() {
            if !is_space(last) {
                break;
            }
            path = rest;
        }
        while let Some(rest) = path.strip_suffix(b"/") {
            path = rest;
        }
        let Ok(path) = std::str::from_utf8(path) else {
            return Ok(());
        };
        if path.is_empty() {
            return Ok(());
        }
        let Some((
            real,
            Entry {
                node: Node::Dir, ..
            },
        )) = lookup(self.tree, path, true)
        else {
            return Ok(());
        };
        if let Some(known) = self.dirs.iter_mut().find(|d| d.real == real) {
            known.flag = flag;
            return Ok(());
        }
        if self.dirs.len() >= MAX_DIRS {
            return Err(format!("ld.so.conf names more than {MAX_DIRS} directories"));
        }
        // subdirectories whose libraries carry hardware-capability fields: not modelled
        if let Some((
            hwcaps,
            Entry {
                node: Node::Dir, ..
            },
        )) = lookup(self.tree, &format!("{real}/glibc-hwcaps"), true)
        {
            for (name, e) in children(self.tree, &hwcaps) {
                if name.starts_with('.') || name.contains(':') || file_like(e) {
                    continue;
                }
                if let Some((
                    sub,
                    Entry {
                        node: Node::Dir, ..
                    },
                )) = lookup(self.tree, &format!("{hwcaps}/{name}"), true)
                    && has_libraries(self.tree, &sub)
                {
                    return Err(format!(
                        "{path}/glibc-hwcaps/{name} holds libraries (glibc-hwcaps subdirectories are not modelled)"
                    ));
                }
            }
        }
        if !self.modern
            && path
                .rsplit('/')
                .next()
                .is_some_and(|last| self.legacy_hwcap(last))
            && has_libraries(self.tree, &real)
        {
            return Err(format!(
                "{path} is a hardware-capability directory (not modelled)"
            ));
        }
        self.dirs.push(Dir {
            path: path.to_string(),
            real,
            flag,
        });
        Ok(())
    }

    /// Whether glibc before 2.37 treats `name` as a hardware-capability subdirectory.
    fn legacy_hwcap(&self, name: &str) -> bool {
        name == "tls" || self.arch.hwcap_dirs.contains(&name)
    }

    /// ldconfig's `search_dir`: the cache entries of one directory, in the order `ldconfig`
    /// adds them.
    fn search_dir(&mut self, i: usize) -> Result<Vec<CacheEntry>, String> {
        let tree = self.tree;
        let (path, real, dir_flag) = {
            let d = &self.dirs[i];
            (d.path.clone(), d.real.clone(), d.flag)
        };
        let mut found: Vec<Found> = Vec::new();
        // where each soname is in `found` (a directory may hold thousands)
        let mut by_soname: std::collections::HashMap<String, usize> = Default::default();
        for (name, entry) in children(tree, &real) {
            if !is_dso(name) {
                // before 2.37, a subdirectory with a hardware-capability name is scanned too
                if !self.modern && !file_like(entry) && self.legacy_hwcap(name) {
                    let sub = lookup(tree, &format!("{real}/{name}"), true);
                    if let Some((
                        sub,
                        Entry {
                            node: Node::Dir, ..
                        },
                    )) = sub
                        && has_libraries(tree, &sub)
                    {
                        return Err(format!(
                            "{path}/{name} is a hardware-capability subdirectory with libraries (not modelled)"
                        ));
                    }
                }
                continue;
            }
            if self.skipped_name(name) {
                continue;
            }
            let is_link = matches!(entry.node, Node::Symlink(_));
            let data = if is_link {
                lookup(tree, &format!("{real}/{name}"), true).and_then(|(_, e)| file_data(tree, e))
            } else {
                file_data(tree, entry)
            };
            let Some(data) = data else {
                continue; // a directory, or a dangling link
            };
            self.libraries += 1;
            if self.libraries > MAX_LIBRARIES {
                return Err(format!(
                    "the library directories hold more than {MAX_LIBRARIES} candidate files"
                ));
            }
            let Some((mut flag, soname)) = self.process_file(name, data) else {
                continue;
            };
            let mut soname = soname.unwrap_or_else(|| name.to_string());
            // a link counts as a link only under its soname or its `.so` development name
            let mut is_link = is_link;
            if is_link && name != soname && !(name.ends_with(".so") && soname.starts_with(name)) {
                is_link = false;
            }
            if is_link {
                soname = name.to_string();
            }
            if !self.modern
                && flag == FLAG_ELF
                && (dir_flag == FLAG_ELF_LIBC5 || dir_flag == FLAG_ELF_LIBC6)
            {
                flag = dir_flag;
            }
            if let Some(f) = by_soname.get(&soname).map(|&i| &mut found[i]) {
                let newer = (!is_link && f.is_link)
                    || (is_link == f.is_link && libcmp(&f.name, name, self.arch.signed_char) < 0);
                if newer {
                    if !self.modern && f.flag != flag {
                        let libc = |x: i32| x == FLAG_ELF_LIBC5 || x == FLAG_ELF_LIBC6;
                        if (f.flag == FLAG_ELF && libc(flag)) || (libc(f.flag) && flag == FLAG_ELF)
                        {
                            f.flag = flag;
                        }
                    }
                    f.name = name.to_string();
                    f.is_link = is_link;
                }
            } else {
                by_soname.insert(soname.clone(), found.len());
                found.push(Found {
                    name: name.to_string(),
                    soname,
                    flag,
                    is_link,
                });
            }
        }
        // ldconfig keeps them in a list it adds to at the head
        Ok(found
            .into_iter()
            .rev()
            .map(|f| CacheEntry {
                path: format!("{path}/{}", f.soname),
                soname: f.soname,
                flags: f.flag,
            })
            .collect())
    }

    /// Temporary files `ldconfig` skips by name.
    fn skipped_name(&self, name: &str) -> bool {
        let b = name.as_bytes();
        let prelink = name.ends_with(".#prelink#")
            || (b.len() >= 17 && &b[b.len() - 17..b.len() - 6] == b".#prelink#.");
        prelink
            || (self.modern
                && (name.contains(';')
                    || name.ends_with(".dpkg-new")
                    || name.ends_with(".dpkg-tmp")))
    }

    /// ldconfig's `process_file` and the architecture's `process_elf_file`: the flags and
    /// soname of a candidate, `None` when it is not a library `ldconfig` lists.
    /// Only the parts of the file it needs are read (a library can be hundreds of megabytes).
    fn process_file(&self, name: &str, data: &FileData) -> Option<(i32, Option<String>)> {
        let arch = self.arch;
        // smaller than a.out's `struct exec` or the ELF header of ldconfig's own class
        if data.len() < if arch.lp64 { 64 } else { 52 } {
            return None;
        }
        let mut head = [0u8; 4];
        data.read_exact_at(0, &mut head).ok()?;
        // an a.out library (ZMAGIC, QMAGIC): named after its file, up to the major version
        if !arch.big_endian {
            let magic = u16::from_le_bytes([head[0], head[1]]);
            if magic == 0o413 || magic == 0o314 {
                let mut soname = name.to_string();
                if let Some(major) = soname.find(".so.")
                    && let Some(dot) = soname[major + 4..].find('.')
                {
                    soname.truncate(major + 4 + dot);
                }
                let flag = if self.modern {
                    FLAG_ELF_LIBC6
                } else {
                    FLAG_LIBC4
                };
                return Some((flag, Some(soname)));
            }
        }
        if !elf::is_elf(&head) {
            return None;
        }
        let d = elf::dynamic_of(data)?;
        if d.elf_type != elf::ET_DYN || !d.has_dynamic {
            return None;
        }
        // the generic reader's flag: libc6 from its interpreter or the C library it needs
        let generic = if self.modern {
            FLAG_ELF_LIBC6
        } else {
            let by_interp = d.interpreter.as_deref().and_then(|i| {
                arch.interpreters
                    .iter()
                    .find(|(n, _)| *n == i)
                    .map(|(_, f)| *f)
            });
            by_interp
                .or_else(|| {
                    d.needed
                        .iter()
                        .find_map(|n| arch.libraries.iter().find(|(l, _)| l == n).map(|(_, f)| *f))
                })
                .unwrap_or(FLAG_ELF)
        };
        const EM_386: u16 = 3;
        const EM_X86_64: u16 = 62;
        let flag = match arch.family {
            Family::X86 => match (d.machine, d.class64) {
                (EM_X86_64, true) => 0x0300 | FLAG_ELF_LIBC6,
                (EM_X86_64, false) => 0x0800 | FLAG_ELF_LIBC6,
                (EM_386, false) => generic,
                _ => return None,
            },
            Family::Arm if d.class64 => 0x0a00 | FLAG_ELF_LIBC6,
            Family::Arm => {
                const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
                if d.flags & 0xff00_0000 == EF_ARM_EABI_VER5 {
                    if d.flags & 0x400 != 0 {
                        0x0900 | FLAG_ELF_LIBC6
                    } else if d.flags & 0x200 != 0 {
                        0x0b00 | FLAG_ELF_LIBC6
                    } else {
                        FLAG_ELF_LIBC6
                    }
                } else {
                    generic
                }
            }
            Family::Power if d.class64 => 0x0500 | FLAG_ELF_LIBC6,
            Family::S390 if d.class64 => 0x0400 | FLAG_ELF_LIBC6,
            Family::Power | Family::S390 => generic,
            Family::Riscv => {
                const FLOAT_ABI: u32 = 0x6;
                const RVC: u32 = 0x1;
                if d.flags & !(FLOAT_ABI | RVC) != 0 {
                    return None;
                }
                match d.flags & FLOAT_ABI {
                    0 => generic | 0x0f00,
                    4 => generic | 0x1000,
                    _ => return None,
                }
            }
        };
        Some((flag, d.soname))
    }
}

/// glibc's `_dl_is_dso`: `lib*.so*`, `ld-*.so*`, `ld.so.*`, `ld64.so.*`.
fn is_dso(name: &str) -> bool {
    ((name.starts_with("lib") || name.starts_with("ld-")) && name.contains(".so"))
        || name.starts_with("ld.so.")
        || name.starts_with("ld64.so.")
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `isblank`.
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// A regular file (or a hardlink to one): `readdir`'s `DT_REG`.
fn file_like(e: &Entry) -> bool {
    matches!(e.node, Node::File(_) | Node::Hardlink(_))
}

/// Whether the directory at tree path `dir` holds a name `ldconfig` would read as a library.
fn has_libraries(tree: &Tree, dir: &str) -> bool {
    children(tree, dir).any(|(name, _)| is_dso(name))
}

/// The entries directly in the directory at tree path `dir` (`""` is the root), by name.
fn children<'t>(tree: &'t Tree, dir: &str) -> impl Iterator<Item = (&'t str, &'t Entry)> + use<'t> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let skip = prefix.len();
    under(tree, &prefix).filter_map(move |(p, e)| {
        let name = &p[skip..];
        (!name.is_empty() && !name.contains('/')).then_some((name, e))
    })
}

/// The entries whose tree path starts with `prefix` (`usr/lib/jvm/`: everything below that
/// directory), in byte order. The tree keeps its entries sorted, so these are one run: the walk
/// skips to it and ends after it.
pub(crate) fn under<'t>(
    tree: &'t Tree,
    prefix: &str,
) -> impl Iterator<Item = (&'t str, &'t Entry)> + use<'t> {
    let (start, prefix) = (prefix.to_string(), prefix.to_string());
    tree.walk()
        .skip_while(move |(p, _)| *p < start.as_str())
        .take_while(move |(p, _)| p.starts_with(prefix.as_str()))
}

/// The content of a regular file entry, following hardlinks, read (from disk when it is kept
/// there: `None` when it cannot be read).
pub(crate) fn file_bytes<'t>(tree: &'t Tree, e: &'t Entry) -> Option<std::borrow::Cow<'t, [u8]>> {
    file_data(tree, e)?.bytes().ok()
}

/// The content of a regular file entry, following hardlinks, not read.
pub(crate) fn file_data<'t>(tree: &'t Tree, mut e: &'t Entry) -> Option<&'t whittle_fs::FileData> {
    for _ in 0..=MAX_SYMLINK_HOPS {
        match &e.node {
            Node::File(d) => return Some(d),
            Node::Hardlink(t) => e = tree.get(t)?,
            _ => return None,
        }
    }
    None
}

/// The tree path a symlink at the tree path `link` pointing to `target` names, read lexically:
/// an absolute target from the image's root, a relative one from the link's directory, `..`
/// never above the root. `None` when it names the root.
pub(crate) fn link_target(link: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        parts.extend(link.split('/'));
        parts.pop();
    }
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Resolves `path` (absolute or from the root; `.`, `..` and `//` allowed) inside the tree as
/// the kernel would in a chroot at its root: symlinks followed (absolute targets from the root,
/// `..` never above it, at most [`MAX_SYMLINK_HOPS`]), the last one too when `follow`. Returns
/// the tree path reached and its entry; `None` when something on the way is missing.
pub(crate) fn lookup<'t>(tree: &'t Tree, path: &str, follow: bool) -> Option<(String, &'t Entry)> {
    let mut stack: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut cur = String::new();
    let mut hops = 0;
    let mut last: Option<&Entry> = tree.get("");
    while let Some(c) = stack.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                cur.truncate(cur.rfind('/').unwrap_or(0));
                last = tree.get(&cur);
                continue;
            }
            _ => {}
        }
        let cand = if cur.is_empty() {
            c
        } else {
            format!("{cur}/{c}")
        };
        let e = tree.get(&cand)?;
        let more = stack.iter().any(|s| !s.is_empty() && s != ".");
        match &e.node {
            Node::Symlink(t) if more || follow => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                if t.starts_with('/') {
                    cur.clear();
                }
                stack.extend(t.split('/').rev().map(str::to_string));
                last = tree.get(&cur);
            }
            Node::Dir => {
                cur = cand;
                last = Some(e);
            }
            _ if more => return None,
            _ => {
                cur = cand;
                last = Some(e);
            }
        }
    }
    last.map(|e| (cur, e))
}

/// The paths a glob pattern (glibc `glob` without flags: `*`, `?`, `[...]` per component, a
/// leading `.` only matched literally) matches in the tree, in byte order; at most `max`.
fn glob(tree: &Tree, pattern: &str, max: usize) -> Result<Vec<String>, String> {
    let mut paths = vec![if pattern.starts_with('/') {
        String::new()
    } else {
        ".".to_string()
    }];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let magic = comp.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for p in &paths {
            if !magic {
                next.push(format!("{p}/{}", comp.replace('\\', "")));
                continue;
            }
            let Some((
                dir,
                Entry {
                    node: Node::Dir, ..
                },
            )) = lookup(tree, p, true)
            else {
                continue;
            };
            let matcher = whittle_config::PathGlob::parse(&format!("/{comp}")).ok();
            for (name, _) in children(tree, &dir) {
                if name.starts_with('.') && !comp.starts_with('.') {
                    continue;
                }
                let hit = match &matcher {
                    Some(m) => m.matches(&format!("/{name}")),
                    None => name == comp,
                };
                if hit {
                    next.push(format!("{p}/{name}"));
                    if next.len() > max {
                        return Err(format!("`include {pattern}` matches more than {max} files"));
                    }
                }
            }
        }
        paths = next;
    }
    let mut out: Vec<String> = paths
        .into_iter()
        .filter(|p| lookup(tree, p, false).is_some())
        .map(|p| p.strip_prefix("./").map(str::to_string).unwrap_or(p))
        .collect();
    out.sort();
    Ok(out)
}

/// glibc's `_dl_cache_libcmp`: runs of digits compare as numbers (`libfoo.so.10` after
/// `libfoo.so.9`), other bytes as C `char`s.
pub fn libcmp(a: &str, b: &str, signed_char: bool) -> i32 {
    let ch = |c: u8| -> i32 {
        if signed_char {
            i32::from(c as i8)
        } else {
            i32::from(c)
        }
    };
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0, 0);
    while at(a, i) != 0 {
        let (c1, c2) = (at(a, i), at(b, j));
        if c1.is_ascii_digit() {
            if !c2.is_ascii_digit() {
                return 1;
            }
            let (mut v1, mut v2) = (0i32, 0i32);
            while at(a, i).is_ascii_digit() {
                v1 = v1.wrapping_mul(10).wrapping_add(i32::from(at(a, i) - b'0'));
                i += 1;
            }
            while at(b, j).is_ascii_digit() {
                v2 = v2.wrapping_mul(10).wrapping_add(i32::from(at(b, j) - b'0'));
                j += 1;
            }
            if v1 != v2 {
                return v1.wrapping_sub(v2);
            }
        } else if c2.is_ascii_digit() {
            return -1;
        } else if c1 != c2 {
            return ch(c1) - ch(c2);
        } else {
            i += 1;
            j += 1;
        }
    }
    ch(at(a, i)) - ch(at(b, j))
}

/// glibc's string table: each distinct string once, ordered by their reversed bytes (largest
/// first, a longer string before its suffixes), each string that is the end of the one before it
/// stored inside it. Returns the table and each input string's offset.
fn string_table(strings: &[&str]) -> (Vec<u8>, std::collections::HashMap<String, usize>) {
    let mut unique: Vec<&str> = strings.to_vec();
    unique.sort_unstable();
    unique.dedup();
    unique.sort_by(|l, r| {
        let (l, r) = (l.as_bytes(), r.as_bytes());
        for k in 1..=l.len().min(r.len()) {
            let (lc, rc) = (l[l.len() - k], r[r.len() - k]);
            if lc != rc {
                return rc.cmp(&lc);
            }
        }
        r.len().cmp(&l.len())
    });
    let mut offsets = std::collections::HashMap::new();
    let mut table: Vec<u8> = Vec::new();
    let mut prev: Option<(&str, usize)> = None;
    for s in unique {
        let offset = match prev {
            Some((p, off)) if p.len() >= s.len() && p.ends_with(s) => off + p.len() - s.len(),
            _ => {
                let off = table.len();
                table.extend_from_slice(s.as_bytes());
                table.push(0);
                off
            }
        };
        offsets.insert(s.to_string(), offset);
        prev = Some((s, offset));
    }
    (table, offsets)
}

/// The cache file: `glibc-ld.so.cache1.1` header and entries, the string table, and the
/// extension directory with the generator string.
pub fn encode(
    entries: &[CacheEntry],
    generator: &str,
    big_endian: bool,
) -> Result<Vec<u8>, String> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let strings: Vec<&str> = entries
        .iter()
        .flat_map(|e| [e.soname.as_str(), e.path.as_str()])
        .collect();
    let (table, offsets) = string_table(&strings);
    if table.len() > MAX_STRINGS {
        return Err(format!(
            "its string table would be larger than {MAX_STRINGS} bytes"
        ));
    }
    let str_offset = HEADER + ENTRY * entries.len();
    let too_big = || "the cache would be larger than 4 GiB".to_string();
    let off32 = |s: &str| -> Result<u32, String> {
        u32::try_from(str_offset + offsets.get(s).copied().unwrap_or(0)).map_err(|_| too_big())
    };
    let mut out = Vec::with_capacity(str_offset + table.len() + 64 + generator.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32b(u32::try_from(entries.len()).map_err(|_| too_big())?));
    out.extend_from_slice(&u32b(u32::try_from(table.len()).map_err(|_| too_big())?));
    out.push(if big_endian { 3 } else { 2 });
    out.extend_from_slice(&[0; 3]);
    let extension = (str_offset + table.len()).next_multiple_of(4);
    out.extend_from_slice(&u32b(u32::try_from(extension).map_err(|_| too_big())?));
    out.extend_from_slice(&[0; 12]);
    for e in entries {
        out.extend_from_slice(&u32b(e.flags as u32));
        out.extend_from_slice(&u32b(off32(&e.soname)?));
        out.extend_from_slice(&u32b(off32(&e.path)?));
        out.extend_from_slice(&u32b(0)); // osversion, unused
        out.extend_from_slice(&[0; 8]); // hwcap
    }
    out.extend_from_slice(&table);
    out.resize(extension, 0);
    out.extend_from_slice(&u32b(EXTENSION_MAGIC));
    out.extend_from_slice(&u32b(1)); // sections: the generator only
    out.extend_from_slice(&u32b(0)); // cache_extension_tag_generator
    out.extend_from_slice(&u32b(0)); // flags
    out.extend_from_slice(&u32b(u32::try_from(extension + 24).map_err(|_| too_big())?));
    out.extend_from_slice(&u32b(
        u32::try_from(generator.len()).map_err(|_| too_big())?,
    ));
    out.extend_from_slice(generator.as_bytes());
    Ok(out)
}

/// Reads a `glibc-ld.so.cache1.1` file (of either byte order): its entries and the generator
/// string of its extension directory; `None` when it is not one.
pub fn decode(data: &[u8]) -> Option<(Vec<CacheEntry>, Option<String>)> {
    if !data.starts_with(MAGIC) || data.len() < HEADER {
        return None;
    }
    let big_endian = *data.get(28)? & 3 == 3;
    let u32at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let cstr = |at: usize| -> Option<String> {
        let rest = data.get(at..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        String::from_utf8(rest[..end].to_vec()).ok()
    };
    let n = usize::try_from(u32at(20)?).ok()?;
    let mut entries = Vec::new();
    for i in 0..n {
        let at = HEADER.checked_add(i.checked_mul(ENTRY)?)?;
        entries.push(CacheEntry {
            flags: u32at(at)? as i32,
            soname: cstr(usize::try_from(u32at(at + 4)?).ok()?)?,
            path: cstr(usize::try_from(u32at(at + 8)?).ok()?)?,
        });
    }
    let ext = usize::try_from(u32at(32)?).ok()?;
    let mut generator = None;
    if ext != 0 && u32at(ext)? == EXTENSION_MAGIC {
        for s in 0..usize::try_from(u32at(ext + 4)?).ok()?.min(16) {
            let sec = ext + 8 + 16 * s;
            if u32at(sec)? == 0 {
                let (off, len) = (
                    usize::try_from(u32at(sec + 8)?).ok()?,
                    usize::try_from(u32at(sec + 12)?).ok()?,
                );
                let bytes = data.get(off..off.checked_add(len)?)?;
                generator = Some(String::from_utf8_lossy(bytes).into_owned());
            }
        }
    }
    Some((entries, generator))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::{put_file, skeleton};

    /// A minimal ELF shared object: one `PT_LOAD` mapping the file, a `PT_DYNAMIC` with
    /// `DT_NEEDED`s, `DT_SONAME` and `DT_STRTAB`, and an optional `PT_INTERP`.
    fn fake_so(
        class64: bool,
        machine: u16,
        flags: u32,
        soname: Option<&str>,
        needed: &[&str],
        interp: Option<&str>,
    ) -> Vec<u8> {
        let (ehsize, phsize, word) = if class64 { (64, 56, 8) } else { (52, 32, 4) };
        let mut strings = vec![0u8];
        let mut add = |s: &str| {
            let at = strings.len() as u64;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            at
        };
        let mut dynamic: Vec<(u64, u64)> = needed.iter().map(|n| (1, add(n))).collect();
        if let Some(s) = soname {
            dynamic.push((14, add(s)));
        }
        let interp_at = interp.map(add);
        let phnum = if interp.is_some() { 3 } else { 2 };
        let dyn_off = ehsize + phnum * phsize;
        let str_off = dyn_off + (dynamic.len() + 2) * 2 * word;
        dynamic.push((5, str_off as u64));
        dynamic.push((0, 0));
        let total = str_off + strings.len();
        let mut b = vec![0u8; total];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = if class64 { 2 } else { 1 };
        b[5] = 1;
        b[6] = 1;
        let put = |b: &mut Vec<u8>, at: usize, v: u64, n: usize| {
            b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
        };
        put(&mut b, 16, u64::from(elf::ET_DYN), 2);
        put(&mut b, 18, u64::from(machine), 2);
        if class64 {
            put(&mut b, 0x20, ehsize as u64, 8);
            put(&mut b, 0x30, u64::from(flags), 4);
            put(&mut b, 0x36, phsize as u64, 2);
            put(&mut b, 0x38, phnum as u64, 2);
        } else {
            put(&mut b, 0x1c, ehsize as u64, 4);
            put(&mut b, 0x24, u64::from(flags), 4);
            put(&mut b, 0x2a, phsize as u64, 2);
            put(&mut b, 0x2c, phnum as u64, 2);
        }
        // (type, offset, vaddr, filesz)
        let mut phdrs = vec![
            (1u32, 0u64, 0u64, total as u64),
            (
                2,
                dyn_off as u64,
                dyn_off as u64,
                (str_off - dyn_off) as u64,
            ),
        ];
        if let Some(at) = interp_at {
            phdrs.push((3, str_off as u64 + at, 0, 0));
        }
        for (i, (t, off, vaddr, size)) in phdrs.into_iter().enumerate() {
            let ph = ehsize + i * phsize;
            put(&mut b, ph, u64::from(t), 4);
            if class64 {
                put(&mut b, ph + 8, off, 8);
                put(&mut b, ph + 16, vaddr, 8);
                put(&mut b, ph + 32, size, 8);
            } else {
                put(&mut b, ph + 4, off, 4);
                put(&mut b, ph + 8, vaddr, 4);
                put(&mut b, ph + 16, size, 4);
            }
        }
        for (i, (tag, val)) in dynamic.into_iter().enumerate() {
            let at = dyn_off + i * 2 * word;
            put(&mut b, at, tag, word);
            put(&mut b, at + word, val, word);
        }
        b[str_off..].copy_from_slice(&strings);
        b
    }

    fn arch(triplet: &str) -> &'static Arch {
        ARCHES.iter().find(|a| a.triplet == triplet).unwrap()
    }

    fn scan<'t>(tree: &'t Tree, triplet: &str, modern: bool) -> Scan<'t> {
        Scan {
            tree,
            arch: arch(triplet),
            modern,
            dirs: Vec::new(),
            conf_files: 0,
            libraries: 0,
        }
    }

    #[test]
    fn flags_per_architecture_as_readelflib_gives_them() {
        let t = Tree::new();
        let so = |class64, machine, flags, needed: &[&str], interp| {
            fake_so(class64, machine, flags, Some("libx.so.1"), needed, interp)
        };
        let flag = |triplet: &str, modern: bool, data: &[u8]| {
            scan(&t, triplet, modern)
                .process_file("libx.so.1", &FileData::from(data))
                .map(|(f, s)| {
                    assert_eq!(s.as_deref(), Some("libx.so.1"));
                    f
                })
        };
        let x86_64 = so(true, 62, 0, &[], None);
        assert_eq!(flag("x86_64-linux-gnu", false, &x86_64), Some(0x0303));
        assert_eq!(flag("x86_64-linux-gnu", true, &x86_64), Some(0x0303));
        assert_eq!(
            flag("x86_64-linux-gnu", false, &so(false, 62, 0, &[], None)),
            Some(0x0803)
        );
        // i386 objects: libc6 when they need libc (or run under its loader), else plain ELF,
        // until glibc 2.37
        let i386 = so(false, 3, 0, &["libc.so.6"], None);
        assert_eq!(flag("x86_64-linux-gnu", false, &i386), Some(3));
        let bare = so(false, 3, 0, &[], None);
        assert_eq!(flag("i386-linux-gnu", false, &bare), Some(1));
        assert_eq!(flag("i386-linux-gnu", true, &bare), Some(3));
        let old = so(false, 3, 0, &[], Some("/lib/ld-linux.so.1"));
        assert_eq!(flag("i386-linux-gnu", false, &old), Some(2));
        // another machine on x86: not listed
        assert_eq!(
            flag("x86_64-linux-gnu", false, &so(true, 183, 0, &[], None)),
            None
        );
        // ARM: AArch64, hard and soft float EABI5, unmarked
        assert_eq!(
            flag("aarch64-linux-gnu", false, &so(true, 183, 0, &[], None)),
            Some(0x0a03)
        );
        assert_eq!(
            flag(
                "arm-linux-gnueabihf",
                false,
                &so(false, 40, 0x0500_0400, &[], None)
            ),
            Some(0x0903)
        );
        assert_eq!(
            flag(
                "arm-linux-gnueabi",
                false,
                &so(false, 40, 0x0500_0200, &[], None)
            ),
            Some(0x0b03)
        );
        assert_eq!(
            flag(
                "arm-linux-gnueabi",
                false,
                &so(false, 40, 0x0500_0000, &[], None)
            ),
            Some(3)
        );
        assert_eq!(
            flag("arm-linux-gnueabi", false, &so(false, 40, 0, &[], None)),
            Some(1)
        );
        // POWER, S/390 64-bit; RISC-V float ABI
        assert_eq!(
            flag("powerpc64le-linux-gnu", false, &so(true, 21, 2, &[], None)),
            Some(0x0503)
        );
        assert_eq!(
            flag(
                "riscv64-linux-gnu",
                false,
                &so(true, 243, 0x5, &["libc.so.6"], None)
            ),
            Some(0x1003)
        );
        assert_eq!(
            flag("riscv64-linux-gnu", true, &so(true, 243, 0x1, &[], None)),
            Some(0x0f03)
        );
        assert_eq!(
            flag("riscv64-linux-gnu", true, &so(true, 243, 0x2, &[], None)),
            None
        );
        // not a shared object, not ELF, too small
        let mut exec = x86_64.clone();
        exec[16] = 2;
        assert_eq!(flag("x86_64-linux-gnu", false, &exec), None);
        assert_eq!(flag("x86_64-linux-gnu", false, &[b'/'; 100]), None);
        assert_eq!(flag("x86_64-linux-gnu", false, &x86_64[..63]), None);
        // no DT_SONAME: the file name is used (by the caller)
        let nameless = fake_so(true, 62, 0, None, &[], None);
        assert_eq!(
            scan(&t, "x86_64-linux-gnu", false).process_file("libq.so", &nameless.clone().into()),
            Some((0x0303, None))
        );
        // an a.out (ZMAGIC) library: named up to its major version
        let mut aout = vec![0u8; 64];
        aout[..2].copy_from_slice(&0o413u16.to_le_bytes());
        assert_eq!(
            scan(&t, "i386-linux-gnu", false).process_file("libold.so.4.1.2", &aout.clone().into()),
            Some((0, Some("libold.so.4".to_string())))
        );
    }

    #[test]
    fn library_order_and_string_table_are_glibcs() {
        assert!(libcmp("libfoo.so.10", "libfoo.so.9", true) > 0);
        assert!(libcmp("libfoo.so.1", "libfoo.so.1.2", true) < 0);
        assert_eq!(libcmp("libfoo.so.01", "libfoo.so.1", true), 0);
        assert!(libcmp("liba.so", "libb.so", true) < 0);
        // bytes above 0x7f: negative as x86's signed char, large as ARM's unsigned one
        assert!(libcmp("lib\u{e9}.so", "libz.so", true) < 0);
        assert!(libcmp("lib\u{e9}.so", "libz.so", false) > 0);

        let (table, at) =
            string_table(&["libc.so.6", "/lib/x/libc.so.6", "libm.so.6", "libc.so.6"]);
        assert_eq!(table, b"libm.so.6\0/lib/x/libc.so.6\0");
        assert_eq!(
            (at["libm.so.6"], at["/lib/x/libc.so.6"], at["libc.so.6"]),
            (0, 10, 17)
        );
    }

    #[test]
    fn encoding_reads_back() {
        let entries = vec![
            CacheEntry {
                soname: "libz.so.1".into(),
                flags: 0x0303,
                path: "/lib/x86_64-linux-gnu/libz.so.1".into(),
            },
            CacheEntry {
                soname: "libc.so.6".into(),
                flags: 0x0303,
                path: "/lib/x86_64-linux-gnu/libc.so.6".into(),
            },
        ];
        for big_endian in [false, true] {
            let bytes = encode(&entries, "ldconfig (test) 2.36", big_endian).unwrap();
            assert_eq!(
                decode(&bytes),
                Some((entries.clone(), Some("ldconfig (test) 2.36".into())))
            );
            assert_eq!(bytes[28], if big_endian { 3 } else { 2 });
        }
        assert_eq!(decode(b"ld.so-1.7.0"), None);
    }

    #[test]
    fn lookup_and_glob_stay_inside_the_tree() {
        let mut t = skeleton("amd64").unwrap();
        put_file(&mut t, "etc/ld.so.conf.d/b.conf", b"x".to_vec(), 0o644).unwrap();
        put_file(&mut t, "etc/ld.so.conf.d/a.conf", b"x".to_vec(), 0o644).unwrap();
        put_file(&mut t, "etc/ld.so.conf.d/.h.conf", b"x".to_vec(), 0o644).unwrap();
        put_file(&mut t, "etc/ld.so.conf.d/c.txt", b"x".to_vec(), 0o644).unwrap();
        t.insert(
            "etc/up",
            Node::symlink("../../../../etc"),
            Meta::root(0o777),
        )
        .unwrap();
        t.insert("etc/loop", Node::symlink("loop"), Meta::root(0o777))
            .unwrap();
        assert_eq!(
            glob(&t, "/etc/ld.so.conf.d/*.conf", 10).unwrap(),
            ["/etc/ld.so.conf.d/a.conf", "/etc/ld.so.conf.d/b.conf"]
        );
        assert_eq!(
            glob(&t, "/etc/up/up/ld.so.conf.d/[a-b].conf", 10).unwrap(),
            [
                "/etc/up/up/ld.so.conf.d/a.conf",
                "/etc/up/up/ld.so.conf.d/b.conf"
            ]
        );
        assert!(glob(&t, "/etc/ld.so.conf.d/*", 2).is_err(), "bounded");
        assert_eq!(
            lookup(&t, "/etc/up/../../lib/../..//etc/./up", true)
                .unwrap()
                .0,
            "etc"
        );
        assert_eq!(lookup(&t, "lib", false).unwrap().0, "lib");
        assert_eq!(lookup(&t, "lib", true).unwrap().0, "usr/lib");
        assert!(lookup(&t, "/etc/loop", true).is_none());
        assert!(lookup(&t, "/etc/ld.so.conf.d/a.conf/x", true).is_none());
    }

    /// A tree with the host's own glibc (loader, libc, libm) in Debian's layout.
    fn host_glibc() -> Option<(Tree, &'static str)> {
        let (triplet, loader) = match std::env::consts::ARCH {
            "x86_64" => ("x86_64-linux-gnu", "ld-linux-x86-64.so.2"),
            "aarch64" => ("aarch64-linux-gnu", "ld-linux-aarch64.so.1"),
            _ => {
                whittle_testutil::skip("a Debian amd64 or arm64 host");
                return None;
            }
        };
        let debian_arch = if triplet.starts_with("x86") {
            "amd64"
        } else {
            "arm64"
        };
        let mut t = skeleton(debian_arch).unwrap();
        for lib in [loader, "libc.so.6", "libm.so.6"] {
            let Ok(data) = std::fs::read(format!("/lib/{triplet}/{lib}")) else {
                whittle_testutil::skip(&format!("/lib/{triplet}/{lib}"));
                return None;
            };
            put_file(&mut t, &format!("usr/lib/{triplet}/{lib}"), data, 0o644).unwrap();
        }
        let abi = arch(triplet).loader;
        t.insert(
            abi,
            Node::symlink(format!("/lib/{triplet}/{loader}")),
            Meta::root(0o777),
        )
        .unwrap();
        Some((t, triplet))
    }

    fn ldconfig() -> Option<&'static str> {
        let found = ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file());
        if found.is_none() {
            whittle_testutil::skip("ldconfig (libc-bin)");
        }
        found
    }

    /// What the real `ldconfig -r ROOT` writes for `tree`.
    fn oracle(ldconfig: &str, tree: &Tree) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        crate::rootfs::write_tree(tree, dir.path()).unwrap();
        let out = std::process::Command::new(ldconfig)
            .arg("-X")
            .arg("-r")
            .arg(dir.path())
            .args(["-C", "/oracle.cache"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(dir.path().join("oracle.cache")).unwrap()
    }

    #[test]
    fn byte_for_byte_what_the_real_ldconfig_writes() {
        let (Some(ldconfig), Some((mut t, triplet))) = (ldconfig(), host_glibc()) else {
            return;
        };
        let lib = format!("usr/lib/{triplet}");
        let libm = match &t.get(&format!("{lib}/libm.so.6")).unwrap().node {
            Node::File(d) => d.read_to_vec().unwrap(),
            _ => unreachable!(),
        };
        let link = |t: &mut Tree, at: &str, to: &str| {
            t.insert(at, Node::symlink(to), Meta::root(0o777)).unwrap();
        };
        // a versioned file, its soname link and development link; a second file with the same
        // soname but a lower version; a link under another name; a linker script; a dangling
        // link; a library without a soname; a name that is no library's
        let so = |soname: Option<&str>| {
            fake_so(
                true,
                if triplet.starts_with("x86") { 62 } else { 183 },
                0,
                soname,
                &["libc.so.6"],
                None,
            )
        };
        put_file(
            &mut t,
            &format!("{lib}/libdemo.so.1.2.3"),
            so(Some("libdemo.so.1")),
            0o644,
        )
        .unwrap();
        link(&mut t, &format!("{lib}/libdemo.so.1"), "libdemo.so.1.2.3");
        link(&mut t, &format!("{lib}/libdemo.so"), "libdemo.so.1.2.3");
        put_file(
            &mut t,
            &format!("{lib}/libdemo.so.1.0.9"),
            so(Some("libdemo.so.1")),
            0o644,
        )
        .unwrap();
        link(&mut t, &format!("{lib}/libother.so.7"), "libdemo.so.1.2.3");
        put_file(
            &mut t,
            &format!("{lib}/libc.so"),
            b"/* GNU ld script\n */\nGROUP ( /lib/x/libc.so.6 )\n".to_vec(),
            0o644,
        )
        .unwrap();
        link(&mut t, &format!("{lib}/libgone.so.1"), "libgone.so.1.0");
        put_file(&mut t, &format!("{lib}/libplain.so"), so(None), 0o644).unwrap();
        put_file(
            &mut t,
            &format!("{lib}/notalib.so.1"),
            so(Some("notalib.so.1")),
            0o644,
        )
        .unwrap();
        // configuration: an include (hidden files and other names not matched), a comment, a
        // hwcap line, a directory given twice (once through a link), a type suffix, a missing one
        put_file(
            &mut t,
            "etc/ld.so.conf",
            b"include /etc/ld.so.conf.d/*.conf\n  /opt/b/ # comment\n\thwcap 0 x\n/opt/a=libc6\n/opt/none\n".to_vec(),
            0o644,
        )
        .unwrap();
        put_file(
            &mut t,
            "etc/ld.so.conf.d/one.conf",
            b"/opt/a\n/opt/via-link\n".to_vec(),
            0o644,
        )
        .unwrap();
        put_file(
            &mut t,
            "etc/ld.so.conf.d/.hidden.conf",
            b"/opt/hidden\n".to_vec(),
            0o644,
        )
        .unwrap();
        put_file(&mut t, "opt/a/libm.so.6", libm.clone(), 0o644).unwrap();
        put_file(
            &mut t,
            "opt/b/libdemo.so.2",
            so(Some("libdemo.so.2")),
            0o644,
        )
        .unwrap();
        link(&mut t, "opt/via-link", "b");
        put_file(
            &mut t,
            "opt/hidden/libhidden.so.1",
            so(Some("libhidden.so.1")),
            0o644,
        )
        .unwrap();

        let expected = oracle(ldconfig, &t);
        let outcome = write(&mut t).unwrap();
        let got = match &t.get(CACHE).unwrap().node {
            Node::File(d) => d.read_to_vec().unwrap(),
            _ => unreachable!(),
        };
        let (theirs, generator) = decode(&expected).expect("ldconfig writes the 1.1 format");
        assert_eq!(decode(&got).unwrap().0, theirs, "{outcome:?}");
        assert!(generator.unwrap().starts_with("ldconfig "));
        assert_eq!(got, expected, "byte for byte");
        // what the scan saw, as ldconfig sees it
        let sonames: Vec<&str> = theirs.iter().map(|e| e.soname.as_str()).collect();
        assert!(
            sonames.contains(&"libdemo.so") && sonames.contains(&"libplain.so"),
            "{sonames:?}"
        );
        assert!(!sonames.contains(&"libhidden.so.1") && !sonames.contains(&"notalib.so.1"));
        let Outcome::Written { libraries, dirs } = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(libraries, theirs.len());
        // the include first; /opt/b is /opt/via-link, /lib/T is /usr/lib/T (merged /usr)
        assert_eq!(
            dirs,
            [
                "/opt/a",
                "/opt/via-link",
                format!("/lib/{triplet}").as_str(),
                "/lib"
            ]
        );
    }

    #[test]
    fn only_images_with_glibc_get_a_cache_and_none_is_replaced() {
        // musl: no cache
        let mut t = skeleton("amd64").unwrap();
        put_file(
            &mut t,
            "usr/lib/ld-musl-x86_64.so.1",
            fake_so(true, 62, 0, Some("libc.musl-x86_64.so.1"), &[], None),
            0o755,
        )
        .unwrap();
        t.insert(
            "usr/lib/libc.musl-x86_64.so.1",
            Node::symlink("ld-musl-x86_64.so.1"),
            Meta::root(0o777),
        )
        .unwrap();
        assert_eq!(write(&mut t).unwrap(), Outcome::NotGlibc);
        assert!(t.get(CACHE).is_none());
        let Some((mut t, _)) = host_glibc() else {
            return;
        };
        put_file(&mut t, CACHE, b"mine".to_vec(), 0o644).unwrap();
        assert_eq!(write(&mut t).unwrap(), Outcome::Present);
        assert!(
            matches!(&t.get(CACHE).unwrap().node, Node::File(d) if d.as_inline() == Some(&b"mine"[..]))
        );
    }

    #[test]
    fn hwcaps_subdirectories_and_limits_leave_no_cache() {
        let Some((base, triplet)) = host_glibc() else {
            return;
        };
        let so = fake_so(true, 62, 0, Some("libv.so.1"), &[], None);
        let mut t = base.clone();
        put_file(
            &mut t,
            &format!("usr/lib/{triplet}/glibc-hwcaps/x86-64-v3/libv.so.1"),
            so.clone(),
            0o644,
        )
        .unwrap();
        assert!(
            matches!(write(&mut t).unwrap(), Outcome::NotWritten(w) if w.contains("glibc-hwcaps"))
        );
        assert!(t.get(CACHE).is_none());
        // before glibc 2.37, legacy hardware-capability subdirectories count too
        let mut t = base.clone();
        put_file(
            &mut t,
            &format!("usr/lib/{triplet}/tls/libv.so.1"),
            so.clone(),
            0o644,
        )
        .unwrap();
        let mut s = scan(&t, triplet, false);
        s.add_dir(format!("/lib/{triplet}").as_bytes()).unwrap();
        assert!(s.search_dir(0).unwrap_err().contains("tls"));
        let mut s = scan(&t, triplet, true);
        s.add_dir(format!("/lib/{triplet}").as_bytes()).unwrap();
        assert!(s.search_dir(0).is_ok(), "ignored from 2.37 on");
        // an include loop is cut off
        let mut t = base;
        put_file(
            &mut t,
            "etc/ld.so.conf",
            b"include /etc/ld.so.conf\n".to_vec(),
            0o644,
        )
        .unwrap();
        assert!(matches!(write(&mut t).unwrap(), Outcome::NotWritten(w) if w.contains("include")));
    }
}
