//! `update-alternatives --install` calls read from a `postinst` script, so that an image gets the
//! links (`/usr/bin/cc` → `gcc`, `/usr/bin/awk` → `gawk`) that dpkg would have made by running
//! it. Only literal calls are understood: a call whose arguments use shell variables or command
//! substitution is skipped, never guessed.

/// Most calls read from one script.
pub const MAX_CALLS: usize = 256;

/// One `update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    /// The generic name's link (`/usr/bin/cc`).
    pub link: String,
    /// The generic name (`cc`).
    pub name: String,
    /// The alternative (`/usr/bin/gcc`).
    pub path: String,
    /// Its priority: the highest of the installed alternatives wins.
    pub priority: i64,
    /// Links that follow the master: (link, name, path).
    pub slaves: Vec<(String, String, String)>,
}

/// The literal `update-alternatives --install` calls in `script`, in order.
pub fn parse_postinst(script: &str) -> Vec<Alternative> {
    let mut out = Vec::new();
    // join continuation lines, then look at each command of each line
    let joined = script.replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or_default();
        for command in line.split([';', '&', '|']) {
            if out.len() >= MAX_CALLS {
                return out;
            }
            if let Some(alt) = parse_call(command) {
                out.push(alt);
            }
        }
    }
    out
}

fn parse_call(command: &str) -> Option<Alternative> {
    let words = split_words(command)?;
    let start = words
        .iter()
        .position(|w| w == "update-alternatives" || w.ends_with("/update-alternatives"))?;
    let mut it = words[start + 1..].iter();
    let mut alt: Option<Alternative> = None;
    while let Some(w) = it.next() {
        match w.as_str() {
            "--install" => {
                let link = it.next()?;
                let name = it.next()?;
                let path = it.next()?;
                let priority = it.next()?.parse().ok()?;
                alt = Some(Alternative {
                    link: link.clone(),
                    name: name.clone(),
                    path: path.clone(),
                    priority,
                    slaves: Vec::new(),
                });
            }
            "--slave" => {
                let (link, name, path) = (it.next()?, it.next()?, it.next()?);
                alt.as_mut()?
                    .slaves
                    .push((link.clone(), name.clone(), path.clone()));
            }
            "--quiet" | "--verbose" | "--force" | "--debug" => {}
            // --altdir, --admindir, --log, --remove, --set, --auto, …: not a plain install
            _ if w.starts_with('-') => return None,
            // the next command on the line (`|| true` was split off already)
            _ => break,
        }
    }
    let alt = alt?;
    let absolute = |p: &str| p.starts_with('/') && !p.contains("/../") && !p.ends_with("/..");
    let ok = absolute(&alt.link)
        && absolute(&alt.path)
        && valid_name(&alt.name)
        && alt
            .slaves
            .iter()
            .all(|(l, n, p)| absolute(l) && absolute(p) && valid_name(n));
    ok.then_some(alt)
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 255 && !n.contains('/') && n != "." && n != ".."
}

/// Shell-like words of one command: `'…'` and `"…"` quoting; `None` when a word needs the
/// shell (`$`, backquotes, globs) to know its value.
fn split_words(command: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                for q in chars.by_ref() {
                    match q {
                        '"' => break,
                        '$' | '`' | '\\' => return None,
                        q => cur.push(q),
                    }
                }
            }
            '$' | '`' | '*' | '?' | '[' | '\\' | '(' | ')' | '<' | '>' => {
                if words.is_empty() && !in_word {
                    // before the command word: not a call we read (`if [ … ]`)
                    return Some(Vec::new());
                }
                return None;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_debian_postinst_calls() {
        // gcc's and mawk's postinst, as bookworm ships them (abridged)
        let gcc = "#! /bin/sh -e\n\nif [ \"$1\" = \"configure\" ]\nthen\n    update-alternatives --quiet --install /usr/bin/cc cc /usr/bin/gcc 20 \\\n        --slave /usr/share/man/man1/cc.1.gz cc.1.gz /usr/share/man/man1/gcc.1.gz\n    update-alternatives --quiet --install /usr/bin/c89 c89 /usr/bin/c89-gcc 20 \\\n        --slave /usr/share/man/man1/c89.1.gz c89.1.gz /usr/share/man/man1/c89-gcc.1.gz\nfi\nexit 0\n";
        let alts = parse_postinst(gcc);
        assert_eq!(alts.len(), 2);
        assert_eq!(
            alts[0],
            Alternative {
                link: "/usr/bin/cc".into(),
                name: "cc".into(),
                path: "/usr/bin/gcc".into(),
                priority: 20,
                slaves: vec![(
                    "/usr/share/man/man1/cc.1.gz".into(),
                    "cc.1.gz".into(),
                    "/usr/share/man/man1/gcc.1.gz".into()
                )],
            }
        );
        let mawk = "update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 || true\n";
        assert_eq!(parse_postinst(mawk)[0].priority, 5);
        assert_eq!(parse_postinst(mawk)[0].path, "/usr/bin/mawk");
    }

    #[test]
    fn calls_with_variables_or_other_actions_are_skipped() {
        for s in [
            "update-alternatives --install /usr/bin/x x \"$DIR/x\" 10\n",
            "update-alternatives --install /usr/bin/x x /usr/bin/x-$V 10\n",
            "update-alternatives --remove x /usr/bin/x\n",
            "update-alternatives --install /usr/bin/x x /usr/bin/y notanumber\n",
            "update-alternatives --install x x /usr/bin/y 1\n",
            "update-alternatives --install /usr/bin/x ../x /usr/bin/y 1\n",
            "update-alternatives --install /usr/bin/x x /usr/bin/../../y 1\n",
            "update-alternatives --install /usr/bin/x x\n",
            "echo update-alternatives\n",
        ] {
            assert!(parse_postinst(s).is_empty(), "{s}");
        }
        // quoted literals are fine; a comment is not a call
        let q =
            "update-alternatives --install '/usr/bin/x' \"x\" /usr/bin/y 3 # --install /a b /c 9\n";
        assert_eq!(parse_postinst(q)[0].link, "/usr/bin/x");
        assert_eq!(parse_postinst(q).len(), 1);
    }

    #[test]
    fn at_most_max_calls() {
        let s = "update-alternatives --install /usr/bin/x x /usr/bin/y 1\n".repeat(MAX_CALLS + 10);
        assert_eq!(parse_postinst(&s).len(), MAX_CALLS);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse_postinst(&s);
        }

        #[test]
        fn literal_calls_round_trip(name in "[a-z][a-z0-9.+-]{0,15}", prio in -100i64..1000) {
            let s = format!("update-alternatives --install /usr/bin/{name} {name} /usr/lib/{name}/bin {prio}\n");
            let alts = parse_postinst(&s);
            prop_assert_eq!(alts.len(), 1);
            prop_assert_eq!(&alts[0].name, &name);
            prop_assert_eq!(alts[0].priority, prio);
        }
    }
}
