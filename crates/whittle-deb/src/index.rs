//! A lazy index over a `Packages` file. Parsing all ~63,000 stanzas of a full Debian index costs
//! most of a warm build, yet a resolution only ever looks at the packages reachable from what
//! was requested. [`PackagesIndex::new`] scans the text once (package and provided names only);
//! [`closure`] then parses just the stanzas a resolution could consider.

use crate::packages::Package;
use crate::relation::parse_relation_list;
use crate::{Error, control};
use std::collections::{HashMap, HashSet};

/// Largest `Packages` text indexed (4 GiB: offsets are 32-bit).
pub const MAX_INDEX_BYTES: usize = u32::MAX as usize;

/// Stanza ranges of one `Packages` text, by package name and by provided name.
#[derive(Debug)]
pub struct PackagesIndex<'t> {
    origin: String,
    text: &'t str,
    stanzas: Vec<(u32, u32)>,
    by_name: HashMap<&'t str, Vec<u32>>,
}

fn field<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let head = line.get(..name.len())?;
    if head.eq_ignore_ascii_case(name) && line.as_bytes().get(name.len()) == Some(&b':') {
        line.get(name.len() + 1..)
    } else {
        None
    }
}

impl<'t> PackagesIndex<'t> {
    /// Scans `text` (a whole `Packages` file); `origin` names it in errors.
    pub fn new(origin: &str, text: &'t str) -> Result<Self, Error> {
        if text.len() > MAX_INDEX_BYTES {
            return Err(Error::Syntax {
                origin: origin.to_string(),
                line: 0,
                message: format!("index larger than {MAX_INDEX_BYTES} bytes"),
            });
        }
        let bytes = text.as_bytes();
        let mut index = PackagesIndex {
            origin: origin.to_string(),
            text,
            stanzas: Vec::with_capacity(bytes.len() / 700),
            by_name: HashMap::with_capacity(bytes.len() / 700),
        };
        let mut pos = 0usize;
        let mut start: Option<usize> = None;
        let mut names: Vec<&'t str> = Vec::new();
        let mut provides: Option<(usize, usize)> = None; // value range incl. continuation lines
        let mut in_provides = false;
        let mut line_no = 0usize;
        loop {
            let end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
            let line = &text[pos..end];
            line_no += 1;
            if line.trim().is_empty() {
                if let Some(s) = start.take() {
                    index.finish(s, pos, &mut names, provides.take(), line_no)?;
                }
                in_provides = false;
            } else {
                start.get_or_insert(pos);
                let first = line.as_bytes()[0];
                if first == b' ' || first == b'\t' {
                    if in_provides && let Some(p) = provides.as_mut() {
                        p.1 = end;
                    }
                } else {
                    in_provides = false;
                    if let Some(v) = field(line, "Package") {
                        names.push(v.trim());
                    } else if field(line, "Provides").is_some() {
                        provides = Some((pos + "Provides:".len(), end));
                        in_provides = true;
                    }
                }
            }
            if end >= bytes.len() {
                break;
            }
            pos = end + 1;
        }
        if let Some(s) = start {
            index.finish(s, bytes.len(), &mut names, provides, line_no)?;
        }
        Ok(index)
    }

    fn finish(
        &mut self,
        start: usize,
        end: usize,
        names: &mut Vec<&'t str>,
        provides: Option<(usize, usize)>,
        line: usize,
    ) -> Result<(), Error> {
        let id = u32::try_from(self.stanzas.len()).unwrap_or(u32::MAX);
        // offsets fit: the text is at most MAX_INDEX_BYTES
        self.stanzas
            .push((start as u32, end.min(MAX_INDEX_BYTES) as u32));
        for n in names.drain(..) {
            self.by_name.entry(n).or_default().push(id);
        }
        if let Some((a, b)) = provides {
            let value = &self.text[a..b];
            let rels = parse_relation_list(value).map_err(|e| Error::Syntax {
                origin: self.origin.clone(),
                line,
                message: format!("Provides: {e}"),
            })?;
            // the names come in the order of the text: each is looked for after the one before
            // (a search from the start each time is quadratic in a long Provides)
            let mut from = 0;
            for r in rels {
                // borrow the name from the text, not from the parsed relation
                let off = value
                    .get(from..)
                    .and_then(|rest| rest.find(r.name.as_str()))
                    .map(|o| from + o)
                    .or_else(|| value.find(r.name.as_str()));
                if let Some(off) = off {
                    from = off + r.name.len();
                    let name = &self.text[a + off..a + off + r.name.len()];
                    let ids = self.by_name.entry(name).or_default();
                    if ids.last() != Some(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of stanzas.
    pub fn len(&self) -> usize {
        self.stanzas.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.stanzas.is_empty()
    }

    /// Stanzas whose `Package` is `name` or whose `Provides` names it.
    pub fn lookup(&self, name: &str) -> &[u32] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The text of stanza `id` (empty if there is no such stanza).
    pub fn stanza_text(&self, id: u32) -> &'t str {
        self.stanzas
            .get(id as usize)
            .and_then(|&(a, b)| self.text.get(a as usize..b as usize))
            .unwrap_or("")
    }

    /// Parses stanza `id` into a package.
    pub fn parse(&self, id: u32) -> Result<Package, Error> {
        let &(a, b) = self.stanzas.get(id as usize).ok_or_else(|| Error::Syntax {
            origin: self.origin.clone(),
            line: 0,
            message: format!("no stanza {id}"),
        })?;
        let text = &self.text[a as usize..b as usize];
        let at_line = || {
            let before = &self.text.as_bytes()[..a as usize];
            format!(
                "{} (stanza at line {})",
                self.origin,
                memchr::memchr_iter(b'\n', before).count() + 1
            )
        };
        let mut stanzas = control::parse_stanzas(&self.origin, text)
            .map_err(|_| ())
            .or_else(|()| control::parse_stanzas(&at_line(), text))?;
        let stanza = stanzas.pop().ok_or_else(|| Error::Syntax {
            origin: at_line(),
            line: 0,
            message: "empty stanza".into(),
        })?;
        Package::from_owned_stanza(&self.origin, stanza.clone())
            .or_else(|_| Package::from_owned_stanza(&at_line(), stanza))
    }
}

/// The packages of `indexes` that a resolution of `roots` could ever consider: those named or
/// provided by a root, then, transitively, by any alternative of their `Pre-Depends`/`Depends`.
/// (`Conflicts`/`Breaks` only constrain packages within this set, so resolving over it gives the
/// same answer as resolving over everything.) Each package is returned once, with the position
/// of its index in `indexes` and its stanza text, in a deterministic order: by index, then by
/// file position.
pub fn closure<'t>(
    indexes: &[PackagesIndex<'t>],
    roots: &[&str],
) -> Result<Vec<(usize, &'t str, Package)>, Error> {
    let mut seen_names: HashSet<String> = HashSet::new();
    let mut seen: HashSet<(usize, u32)> = HashSet::new();
    let mut work: Vec<String> = roots.iter().map(|s| s.to_string()).collect();
    let mut out: Vec<(usize, u32, Package)> = Vec::new();
    while let Some(name) = work.pop() {
        if !seen_names.insert(name.clone()) {
            continue;
        }
        for (i, idx) in indexes.iter().enumerate() {
            for &id in idx.lookup(&name) {
                if !seen.insert((i, id)) {
                    continue;
                }
                let p = idx.parse(id)?;
                for dep in p.pre_depends.iter().chain(&p.depends) {
                    for rel in dep {
                        if !seen_names.contains(&rel.name) {
                            work.push(rel.name.clone());
                        }
                    }
                }
                out.push((i, id, p));
            }
        }
    }
    out.sort_by_key(|(i, id, _)| (*i, *id));
    Ok(out
        .into_iter()
        .map(|(i, id, p)| (i, indexes.get(i).map_or("", |x| x.stanza_text(id)), p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b | c, v\nFilename: a.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n\n\
Package: b\nVersion: 1\nArchitecture: amd64\nFilename: b.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n\n\
Package: c\nVersion: 1\nArchitecture: all\nProvides: v,\n w (= 2)\nFilename: c.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n\n\
Package: unrelated\nVersion: 1\nArchitecture: amd64\nDepends: a\nFilename: u.deb\nSize: 1\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n";

    #[test]
    fn indexes_names_and_provides() {
        let idx = PackagesIndex::new("Packages", TEXT).unwrap();
        assert_eq!(idx.len(), 4);
        assert_eq!(idx.lookup("a"), &[0]);
        assert_eq!(idx.lookup("v"), &[2]);
        assert_eq!(
            idx.lookup("w"),
            &[2],
            "continuation lines of Provides count"
        );
        assert!(idx.lookup("nothing").is_empty());
        assert_eq!(idx.parse(3).unwrap().name, "unrelated");
    }

    /// Every name of a long `Provides` is indexed, names that are parts of others too.
    #[test]
    fn every_provided_name_is_indexed() {
        let names: Vec<String> = (0..2000)
            .flat_map(|i| [format!("lib-x{i}-dev"), format!("x{i}")])
            .collect();
        let text = format!(
            "Package: many\nVersion: 1\nArchitecture: amd64\nProvides: {}\n",
            names
                .iter()
                .map(|n| format!("{n} (= 1)"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let idx = PackagesIndex::new("Packages", &text).unwrap();
        for n in &names {
            assert_eq!(idx.lookup(n), &[0], "{n}");
        }
        assert!(idx.lookup("x2000").is_empty());
    }

    #[test]
    fn closure_follows_all_alternatives_and_provides_only() {
        let idx = PackagesIndex::new("Packages", TEXT).unwrap();
        let names: Vec<String> = closure(&[idx], &["a"])
            .unwrap()
            .into_iter()
            .map(|(_, _, p)| p.name)
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn errors_name_the_stanza_line() {
        let bad = TEXT.replace("Package: b\nVersion: 1", "Package: b\nVersion: !!");
        let idx = PackagesIndex::new("Packages", &bad).unwrap();
        let err = closure(&[idx], &["a"]).unwrap_err().to_string();
        assert!(err.contains("stanza at line 9"), "{err}");
    }
}
