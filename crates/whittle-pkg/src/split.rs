//! melange's `split/*` pipelines, done on the host between two package directories of the
//! workspace: the same files move as with melange's scripts, without a shell in the build
//! environment. Nothing is followed through a symbolic link: a link is moved as a link, and a
//! path whose directory is a link (in the package the files leave or the one they go to) is
//! refused, so a step cannot make whittle move or write files outside the workspace.

use std::io;
use std::path::{Path, PathBuf};

use crate::recipe::Split;

/// Most entries one split walks.
pub const MAX_ENTRIES: usize = 1_000_000;

/// Moves the files `kind` names from package directory `src` to package directory `dst`.
/// A missing `src` moves nothing.
pub fn split(kind: &Split, src: &Path, dst: &Path) -> io::Result<()> {
    if !is_dir(src) {
        return Ok(());
    }
    match kind {
        Split::Dev { prefix } => dev(src, dst, prefix),
        Split::Static => {
            let mut libdirs = vec!["usr".to_string()];
            if is_dir(&src.join("lib")) {
                libdirs.insert(0, "lib".into());
            }
            for rel in find(src, &libdirs, |name, _| name.ends_with(".a"))? {
                move_rel(src, dst, &rel)?;
                remove_parent_if_empty(src, &rel);
            }
            Ok(())
        }
        Split::Locales => {
            if real_dir(src, "usr/share/locale") {
                move_rel(src, dst, "usr/share/locale")?;
            }
            Ok(())
        }
        Split::Manpages => {
            for mandir in ["usr/share/man", "usr/local/share/man", "usr/man"] {
                if !real_dir(src, mandir) {
                    continue;
                }
                for name in children(&src.join(mandir))? {
                    move_to(
                        src,
                        &format!("{mandir}/{name}"),
                        dst,
                        &format!("usr/share/man/{name}"),
                    )?;
                }
                // `rmdir --parents --ignore-fail-on-non-empty`
                let mut d = mandir;
                while std::fs::remove_dir(src.join(d)).is_ok() {
                    match d.rsplit_once('/') {
                        Some((parent, _)) => d = parent,
                        None => break,
                    }
                }
            }
            Ok(())
        }
        // run in the sandbox (objcopy): never a host-side split
        Split::Debug => Err(io::Error::other(
            "split/debug runs in the sandbox, not on the host",
        )),
        Split::Infodir => {
            if real_dir(src, "usr/share/info") {
                let index = src.join("usr/share/info/dir");
                if std::fs::symlink_metadata(&index).is_ok_and(|m| !m.is_dir()) {
                    std::fs::remove_file(&index)?;
                }
                move_rel(src, dst, "usr/share/info")?;
            }
            Ok(())
        }
    }
}

/// `split/dev`: melange's list, every candidate found before anything moves.
fn dev(src: &Path, dst: &Path, prefix: &str) -> io::Result<()> {
    let p = prefix.trim_end_matches('/');
    let mut candidates: Vec<String> = Vec::new();
    for fixed in [
        "include",
        "lib/pkgconfig",
        "share/pkgconfig",
        "share/aclocal",
        "share/gettext",
    ] {
        candidates.push(format!("{p}/{fixed}"));
    }
    let glob = |dir: &str, pred: &dyn Fn(&str) -> bool| -> io::Result<Vec<String>> {
        if !real_dir(src, dir) {
            return Ok(Vec::new());
        }
        Ok(children(&src.join(dir))?
            .into_iter()
            .filter(|n| pred(n))
            .map(|n| format!("{dir}/{n}"))
            .collect())
    };
    candidates.extend(glob(&format!("{p}/bin"), &|n| {
        n.ends_with("-config") || n.ends_with("_config")
    })?);
    candidates.push(format!("{p}/share/vala/vapi"));
    candidates.extend(glob(&format!("{p}/share"), &|n| {
        n.strip_prefix("gir-")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    })?);
    for base in ["share", "lib"] {
        for qt in glob(&format!("{p}/{base}"), &|n| n.starts_with("qt"))? {
            candidates.push(format!("{qt}/mkspecs"));
        }
    }
    for fixed in [
        "lib/cmake",
        "share/cmake",
        "lib/glade/modules",
        "share/glade/catalogs",
    ] {
        candidates.push(format!("{p}/{fixed}"));
    }
    candidates.extend(find(src, &[String::new()], |name, dir| {
        dir && name == "include"
    })?);
    let mut libdirs = vec![p.to_string()];
    if p.split('/').next() == Some("usr") && is_dir(&src.join("lib")) {
        libdirs.insert(0, "lib".into());
    }
    candidates.extend(find(src, &libdirs, |name, _| name.ends_with(".a"))?);
    candidates.extend(find(src, &libdirs, |name, _| {
        [".c", ".h", ".o", ".prl"].iter().any(|e| name.ends_with(e))
    })?);
    for rel in candidates {
        if exists_inside(src, &rel) {
            move_rel(src, dst, &rel)?;
            remove_parent_if_empty(src, &rel);
        }
    }
    // the `.so` links that linking against the library needs
    let mut sodirs = vec![format!("{p}/lib")];
    if p == "usr" {
        sodirs.insert(0, "lib".into());
    } else if let Some(root) = p.strip_suffix("/usr") {
        sodirs.insert(0, format!("{root}/lib"));
    }
    for d in sodirs {
        if !real_dir(src, &d) {
            continue;
        }
        for name in children(&src.join(&d))? {
            let rel = format!("{d}/{name}");
            let link = std::fs::symlink_metadata(src.join(&rel)).is_ok_and(|m| m.is_symlink());
            if name.ends_with(".so") && link {
                move_rel(src, dst, &rel)?;
            }
        }
    }
    Ok(())
}

fn is_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// `root/rel` with every directory on the way a real directory (not a link); `None` otherwise.
fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    let mut p = root.to_path_buf();
    for (i, c) in parts.iter().enumerate() {
        p.push(c);
        if i + 1 < parts.len() && !is_dir(&p) {
            return None;
        }
    }
    Some(p)
}

fn exists_inside(root: &Path, rel: &str) -> bool {
    inside(root, rel).is_some_and(|p| std::fs::symlink_metadata(p).is_ok())
}

fn real_dir(root: &Path, rel: &str) -> bool {
    inside(root, rel).is_some_and(|p| is_dir(&p))
}

/// The names in directory `dir`, sorted.
fn children(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        if let Some(n) = e?.file_name().to_str() {
            out.push(n.to_string());
        }
        if out.len() > MAX_ENTRIES {
            return Err(io::Error::other(format!(
                "{} has more than {MAX_ENTRIES} entries",
                dir.display()
            )));
        }
    }
    out.sort();
    Ok(out)
}

/// Every path under the directories `starts` of `root` (`""` for `root` itself) whose name
/// matches `pred(name, is_dir)`, as `find` lists them (depth first, a match's own contents
/// included), without following links.
fn find(
    root: &Path,
    starts: &[String],
    pred: impl Fn(&str, bool) -> bool,
) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut seen = 0usize;
    for start in starts {
        if !start.is_empty() && !real_dir(root, start) {
            continue;
        }
        let mut stack = vec![start.clone()];
        while let Some(rel) = stack.pop() {
            let dir = if rel.is_empty() {
                root.to_path_buf()
            } else {
                root.join(&rel)
            };
            let mut names = children(&dir)?;
            names.reverse();
            for name in names {
                seen += 1;
                if seen > MAX_ENTRIES {
                    return Err(io::Error::other(format!(
                        "more than {MAX_ENTRIES} entries to look through"
                    )));
                }
                let child = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let d = is_dir(&root.join(&child));
                if pred(&name, d) {
                    out.push(child.clone());
                }
                if d {
                    stack.push(child);
                }
            }
        }
    }
    Ok(out)
}

/// Moves `src/rel` to `dst/rel`.
fn move_rel(src: &Path, dst: &Path, rel: &str) -> io::Result<()> {
    move_to(src, rel, dst, rel)
}

/// Moves `src/from` to `dst/to`, making `to`'s directories; a directory already there gets
/// the moved directory's entries, anything else there is replaced (as `mv` does).
fn move_to(src: &Path, from: &str, dst: &Path, to: &str) -> io::Result<()> {
    let refused = |what: &str| {
        io::Error::other(format!(
            "{what} passes through a symbolic link or leaves the package; whittle moves nothing through links"
        ))
    };
    let from_p = inside(src, from).ok_or_else(|| refused(from))?;
    make_dirs(dst, to)?;
    let to_p = inside(dst, to).ok_or_else(|| refused(to))?;
    let from_dir = is_dir(&from_p);
    match std::fs::symlink_metadata(&to_p) {
        Ok(m) if m.is_dir() && from_dir => {
            for name in children(&from_p)? {
                move_to(src, &format!("{from}/{name}"), dst, &format!("{to}/{name}"))?;
            }
            std::fs::remove_dir(&from_p)
        }
        Ok(m) if m.is_dir() => Err(io::Error::other(format!(
            "{to} is a directory in the package the files go to"
        ))),
        Ok(_) => {
            std::fs::remove_file(&to_p)?;
            std::fs::rename(&from_p, &to_p)
        }
        Err(_) => std::fs::rename(&from_p, &to_p),
    }
}

/// Makes the directories of `rel`'s parent under `root`, refusing a link on the way.
fn make_dirs(root: &Path, rel: &str) -> io::Result<()> {
    if std::fs::symlink_metadata(root).is_err() {
        std::fs::create_dir_all(root)?;
    }
    let parts: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    let mut p = root.to_path_buf();
    for c in parts.iter().take(parts.len().saturating_sub(1)) {
        if *c == ".." {
            return Err(io::Error::other(format!("{rel} leaves the package")));
        }
        p.push(c);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} is not a directory (a link?) in the package the files go to",
                    p.display()
                )));
            }
            Err(_) => std::fs::create_dir(&p)?,
        }
    }
    Ok(())
}

/// `rmdir "$PACKAGE_DIR/${i%/*}" 2>/dev/null || :`
fn remove_parent_if_empty(root: &Path, rel: &str) {
    if let Some((parent, _)) = rel.rsplit_once('/')
        && let Some(p) = inside(root, parent)
    {
        let _ = std::fs::remove_dir(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path, files: &[&str]) {
        for f in files {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f.as_bytes()).unwrap();
        }
    }

    /// Every file and link under `root`, relative, sorted.
    fn listing(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = find(root, &[String::new()], |_, d| !d).unwrap();
        v.sort();
        v
    }

    #[test]
    fn dev_moves_headers_pkgconfig_static_libs_and_so_links() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("lib"), d.path().join("lib-dev"));
        tree(
            &src,
            &[
                "usr/include/x.h",
                "usr/include/sub/y.h",
                "usr/lib/libx.so.1",
                "usr/lib/libx.a",
                "usr/lib/pkgconfig/x.pc",
                "usr/lib/cmake/X/XConfig.cmake",
                "usr/bin/x-config",
                "usr/bin/x",
                "usr/share/doc/x/README",
                "usr/share/x/data/include/a.inc",
            ],
        );
        std::os::unix::fs::symlink("libx.so.1", src.join("usr/lib/libx.so")).unwrap();
        split(
            &Split::Dev {
                prefix: "usr".into(),
            },
            &src,
            &dst,
        )
        .unwrap();
        assert_eq!(
            listing(&src),
            ["usr/bin/x", "usr/lib/libx.so.1", "usr/share/doc/x/README"]
        );
        assert_eq!(
            listing(&dst),
            [
                "usr/bin/x-config",
                "usr/include/sub/y.h",
                "usr/include/x.h",
                "usr/lib/cmake/X/XConfig.cmake",
                "usr/lib/libx.a",
                "usr/lib/libx.so",
                "usr/lib/pkgconfig/x.pc",
                "usr/share/x/data/include/a.inc",
            ]
        );
        assert!(
            std::fs::symlink_metadata(dst.join("usr/lib/libx.so"))
                .unwrap()
                .is_symlink()
        );
    }

    #[test]
    fn static_locales_manpages_infodir() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("p");
        tree(
            &src,
            &[
                "usr/lib/libp.a",
                "usr/lib/libp.so.1",
                "usr/share/locale/de/LC_MESSAGES/p.mo",
                "usr/share/man/man1/p.1",
                "usr/man/man5/p.conf.5",
                "usr/share/info/p.info",
                "usr/share/info/dir",
            ],
        );
        let to = |n: &str| d.path().join(n);
        split(&Split::Static, &src, &to("static")).unwrap();
        split(&Split::Locales, &src, &to("lang")).unwrap();
        split(&Split::Manpages, &src, &to("doc")).unwrap();
        split(&Split::Infodir, &src, &to("info")).unwrap();
        assert_eq!(listing(&src), ["usr/lib/libp.so.1"]);
        assert_eq!(listing(&to("static")), ["usr/lib/libp.a"]);
        assert_eq!(
            listing(&to("lang")),
            ["usr/share/locale/de/LC_MESSAGES/p.mo"]
        );
        assert_eq!(
            listing(&to("doc")),
            ["usr/share/man/man1/p.1", "usr/share/man/man5/p.conf.5"]
        );
        assert_eq!(listing(&to("info")), ["usr/share/info/p.info"]);
        assert!(!src.join("usr/man").exists(), "empty man dirs removed");
        // nothing there: nothing moves, no error
        split(&Split::Locales, &to("missing"), &to("lang")).unwrap();
    }

    #[test]
    fn links_are_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst, outside) = (d.path().join("p"), d.path().join("q"), d.path().join("o"));
        tree(&outside, &["locale/x.mo", "man/man1/o.1"]);
        std::fs::create_dir_all(src.join("usr")).unwrap();
        // the package's usr/share is a link to a directory outside it
        std::os::unix::fs::symlink(&outside, src.join("usr/share")).unwrap();
        split(&Split::Locales, &src, &dst).unwrap();
        split(&Split::Manpages, &src, &dst).unwrap();
        assert!(outside.join("locale/x.mo").exists() && outside.join("man/man1/o.1").exists());
        assert!(!dst.exists() || listing(&dst).is_empty());
        // the destination's usr is a link outside: refused, nothing written there
        let src2 = d.path().join("p2");
        tree(&src2, &["usr/share/locale/de/p.mo"]);
        std::fs::create_dir_all(&dst).unwrap();
        std::os::unix::fs::symlink(&outside, dst.join("usr")).unwrap();
        let e = split(&Split::Locales, &src2, &dst).unwrap_err();
        assert!(e.to_string().contains("link"), "{e}");
        assert!(!outside.join("share").exists());
    }
}
