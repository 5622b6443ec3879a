//! Dependency discovery beyond ELF (melange's "SCA"): `pc:` provides and depends from the
//! pkg-config files a package ships, and `cmd:` depends on the interpreters its scripts name
//! in their `#!` line. Both read only a bounded prefix of each file.

use std::collections::BTreeSet;

use crate::apk::FileEntry;
use crate::tarw::Kind;

/// Most bytes of one `.pc` file read (real ones are a few hundred bytes).
pub const MAX_PC_BYTES: usize = 64 * 1024;
/// Bytes of a script read for its `#!` line (melange reads 80).
pub const SHEBANG_BYTES: usize = 80;

/// Directories whose scripts' interpreters become `cmd:` depends.
const SCRIPT_DIRS: &[&str] = &[
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "usr/local/bin",
    "usr/local/sbin",
];

/// Interpreters no dependency is made for, as melange: `sh` and `awk` are in every base and
/// provided under several names, `luajit` has incompatible variants, and `python3`/`python`
/// are symlinks to a versioned interpreter that Wolfi's packages give no `cmd:` provide (a
/// Python package names its interpreter in `dependencies.runtime`).
const IGNORED_INTERPRETERS: &[&str] = &["sh", "awk", "luajit", "python3", "python"];

/// What the files imply beyond ELF: `(provides, depends)`.
///
/// A regular `NAME.pc` in a `pkgconfig` directory under `usr/` or `lib/` provides
/// `pc:NAME=VERSION`; every module its `Requires:` and `Requires.private:` name that the
/// package does not provide itself becomes a `pc:MODULE` depend (melange's runtime pkg-config
/// depends). An executable script in a `bin`/`sbin` directory whose first line is
/// `#!/usr/bin/perl` (or `#!/usr/bin/env perl`, `#!/usr/bin/env -S perl -w`) depends on
/// `cmd:perl`, unless the package provides that command itself or the interpreter is one
/// melange skips (`sh`, `awk`, `luajit`, `python3`, `python`).
pub fn scan(entries: &[FileEntry], version: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut provides = BTreeSet::new();
    let mut pc_provided = BTreeSet::new();
    let mut pc_required = BTreeSet::new();
    let mut own_cmds = BTreeSet::new();
    let mut interpreters = BTreeSet::new();
    for e in entries {
        let (dir, base) = e.path.rsplit_once('/').unwrap_or(("", e.path.as_str()));
        if SCRIPT_DIRS.contains(&dir) && matches!(e.kind, Kind::File | Kind::Symlink) {
            own_cmds.insert(base.to_string());
        }
        if e.kind != Kind::File {
            continue;
        }
        if let Some(name) = base.strip_suffix(".pc")
            && is_pkgconfig_dir(dir)
            && is_atom_name(name)
        {
            provides.insert(format!("pc:{name}={version}"));
            pc_provided.insert(name.to_string());
            let text = String::from_utf8_lossy(&e.data[..e.data.len().min(MAX_PC_BYTES)]);
            pc_required.extend(pc_requires(&text));
        }
        if SCRIPT_DIRS.contains(&dir)
            && e.mode & 0o111 != 0
            && let Some(cmd) = shebang(&e.data[..e.data.len().min(SHEBANG_BYTES)])
        {
            interpreters.insert(cmd);
        }
    }
    let depends = pc_required
        .into_iter()
        .filter(|m| !pc_provided.contains(m))
        .map(|m| format!("pc:{m}"))
        .chain(
            interpreters
                .into_iter()
                .filter(|c| !own_cmds.contains(c))
                .map(|c| format!("cmd:{c}")),
        )
        .collect();
    (provides, depends)
}

/// Whether `name` (a file name, a SONAME: package content) can be written into a `cmd:`,
/// `so:` or `pc:` atom as it is: not empty, and no whitespace, control character or version
/// operator (`=<>~`), which would let a file name add or change `.PKGINFO` lines or atoms.
pub(crate) fn is_atom_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "=<>~".contains(c))
}

/// `usr/lib/pkgconfig`, `usr/share/pkgconfig`, `usr/lib/x86_64-linux-gnu/pkgconfig`,
/// `usr/local/lib/pkgconfig`, `lib/pkgconfig`…: a directory named `pkgconfig` under `usr/` or
/// `lib…/`.
fn is_pkgconfig_dir(dir: &str) -> bool {
    dir.ends_with("/pkgconfig") && (dir.starts_with("usr/") || dir.starts_with("lib"))
}

/// The module names of a `.pc` file's `Requires:` and `Requires.private:` fields (version
/// constraints dropped). Fields are `Key: value` lines; `name=value` lines are variables.
pub fn pc_requires(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if key.contains('=')
            || !(key.eq_ignore_ascii_case("Requires")
                || key.eq_ignore_ascii_case("Requires.private"))
        {
            continue;
        }
        let value = value.split('#').next().unwrap_or_default();
        let mut toks = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty());
        while let Some(t) = toks.next() {
            if matches!(t, "=" | "<" | ">" | "<=" | ">=" | "!=") {
                toks.next(); // the version
                continue;
            }
            // a name glued to its operator (`foo>=1.0`) keeps only the name
            let name = t.split(['=', '<', '>', '!']).next().unwrap_or_default();
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b));
            if ok {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// The command a script's `#!` line runs: `#!/usr/bin/python3.12 -u` → `python3.12`,
/// `#!/usr/bin/env perl` → `perl`, `#!/usr/bin/env -S perl -w` → `perl`; `None` for no `#!`
/// line, an ignored interpreter, or an `env` line whose command cannot be told.
pub fn shebang(head: &[u8]) -> Option<String> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut toks = line.split_whitespace();
    let mut bin = toks.next()?;
    if bin.rsplit('/').next() == Some("env") {
        bin = match (toks.next(), toks.next()) {
            (Some("-S"), Some(cmd)) if !cmd.starts_with('-') => cmd,
            (Some(cmd), _) if !cmd.starts_with('-') && !cmd.contains('=') => cmd,
            _ => return None,
        };
    }
    let base = bin.rsplit('/').next()?;
    let ok = !base.is_empty()
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b));
    (ok && !IGNORED_INTERPRETERS.contains(&base)).then(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::apk::test_file as file;

    const ZLIB_PC: &str = "prefix=/usr\nlibdir=${prefix}/lib\n\nName: foo\nDescription: x\nVersion: 1.2.3\nRequires: zlib >= 1.2, libpng\nRequires.private: libffi>=3 ,foo-internal\nLibs: -L${libdir} -lfoo\n";

    #[test]
    fn pc_files_provide_and_their_requires_are_depends() {
        let e = vec![
            file("usr/lib/pkgconfig/foo.pc", 0o644, ZLIB_PC.as_bytes()),
            file("usr/lib/pkgconfig/foo-internal.pc", 0o644, b"Name: i\n"),
            // not in a pkgconfig directory: neither provides nor depends
            file("usr/share/doc/foo/bar.pc", 0o644, b"Requires: nope\n"),
        ];
        let (p, d) = scan(&e, "1.0-r0");
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            ["pc:foo-internal=1.0-r0", "pc:foo=1.0-r0"]
        );
        assert_eq!(
            d.into_iter().collect::<Vec<_>>(),
            ["pc:libffi", "pc:libpng", "pc:zlib"]
        );
    }

    #[test]
    fn multiarch_pkgconfig_dirs_count() {
        let e = vec![file(
            "usr/lib/x86_64-linux-gnu/pkgconfig/bar.pc",
            0o644,
            b"Requires: glib-2.0\n",
        )];
        let (p, d) = scan(&e, "2-r1");
        assert!(p.contains("pc:bar=2-r1"), "{p:?}");
        assert!(d.contains("pc:glib-2.0"), "{d:?}");
    }

    #[test]
    fn requires_parsing_drops_versions_and_variables() {
        assert_eq!(
            pc_requires("requires=not-a-field\nRequires: a = 1, b<2 c\nRequires.private:\n"),
            ["a", "b", "c"]
        );
        assert!(pc_requires("Requires: ${x}\n").is_empty());
    }

    #[test]
    fn shebangs_name_their_interpreter() {
        assert_eq!(
            shebang(b"#!/usr/bin/python3.12 -u\nimport x").as_deref(),
            Some("python3.12")
        );
        // melange skips these: Wolfi's python3 is a symlink with no `cmd:python3` provide
        assert_eq!(shebang(b"#!/usr/bin/python3\n"), None);
        assert_eq!(shebang(b"#!/usr/bin/python\n"), None);
        assert_eq!(shebang(b"#!/usr/bin/env python3\n"), None);
        assert_eq!(shebang(b"#!/usr/bin/env perl\n").as_deref(), Some("perl"));
        assert_eq!(
            shebang(b"#! /usr/bin/env -S perl -w\n").as_deref(),
            Some("perl")
        );
        assert_eq!(shebang(b"#!/bin/bash -e\n").as_deref(), Some("bash"));
        assert_eq!(shebang(b"#!/bin/sh\n"), None);
        assert_eq!(shebang(b"#!/usr/bin/env -i FOO=1 perl\n"), None);
        assert_eq!(shebang(b"#!/usr/bin/env\n"), None);
        assert_eq!(shebang(b"\x7fELF"), None);
        assert_eq!(shebang(b"#!"), None);
    }

    #[test]
    fn script_depends_skip_own_commands_and_non_scripts() {
        let e = vec![
            file("usr/bin/tool", 0o755, b"#!/usr/bin/perl\n"),
            file("usr/bin/py", 0o755, b"#!/usr/bin/python3\n"),
            file("usr/bin/helper", 0o755, b"#!/usr/bin/env mytool\n"),
            file("usr/bin/mytool", 0o755, b"\x7fELF"),
            // not executable, not in a bin directory
            file("usr/bin/notes", 0o644, b"#!/usr/bin/env ruby\n"),
            file("usr/share/x/run", 0o755, b"#!/usr/bin/env node\n"),
        ];
        let (p, d) = scan(&e, "1-r0");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(d.into_iter().collect::<Vec<_>>(), ["cmd:perl"]);
    }

    #[test]
    fn only_a_bounded_prefix_is_read() {
        // the interpreter name runs past the bytes read: what fits is taken, no more
        let mut long = b"#!/usr/bin/".to_vec();
        long.extend(std::iter::repeat_n(b'p', 200));
        let e = vec![file("usr/bin/x", 0o755, &long)];
        let (_, d) = scan(&e, "1");
        let dep = d.into_iter().next().unwrap();
        assert_eq!(
            dep.len(),
            "cmd:".len() + SHEBANG_BYTES - "#!/usr/bin/".len()
        );
        // Requires past the first MAX_PC_BYTES are not seen
        let mut pc = vec![b'#'; MAX_PC_BYTES];
        pc.extend(b"\nRequires: late\n");
        let e = vec![file("usr/lib/pkgconfig/x.pc", 0o644, &pc)];
        assert!(scan(&e, "1").1.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = shebang(&data);
            let _ = pc_requires(&String::from_utf8_lossy(&data));
            let e = vec![
                file("usr/bin/x", 0o755, &data),
                file("usr/lib/pkgconfig/x.pc", 0o644, &data),
            ];
            let _ = scan(&e, "1");
        }
    }
}
