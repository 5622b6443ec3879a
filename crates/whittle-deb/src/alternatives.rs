//! The alternatives dpkg would have registered by running `postinst` scripts, so that an image
//! gets the links (`/usr/bin/cc` → `gcc`, `/usr/bin/awk` → `gawk`, `/usr/bin/java`) without
//! running them. Two sources, both package data:
//!
//! - literal `update-alternatives --install` calls in a `postinst` ([`parse_postinst`]); a call
//!   whose arguments use shell variables or command substitution is skipped, never guessed;
//! - a JVM's `.jinfo` file ([`parse_jinfo`]): Debian's OpenJDK packages register their tools in a
//!   loop over shell variables (`for i in $jre_tools; do update-alternatives --install
//!   /usr/bin/$i $i $basedir/bin/$i $priority ...`), and list the same tools, paths and priority
//!   in `/usr/lib/jvm/.java-1.17.0-openjdk-amd64.jinfo`, the file `update-java-alternatives` reads.

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
    alt.filter(valid)
}

/// Whether every path of `alt` is absolute without `..` and every name a plain file name.
fn valid(alt: &Alternative) -> bool {
    let absolute = |p: &str| p.starts_with('/') && !p.contains("/../") && !p.ends_with("/..");
    absolute(&alt.link)
        && absolute(&alt.path)
        && valid_name(&alt.name)
        && alt
            .slaves
            .iter()
            .all(|(l, n, p)| absolute(l) && absolute(p) && valid_name(n))
}

/// The kinds of `.jinfo` lines whose tool is registered as `/usr/bin/NAME` (`hl`: the headless
/// runtime's, `jre`: the GUI runtime's, `jdkhl`/`jdk`: the development kit's, each registered by
/// the package that ships the tool). `plugin` lines name browser plugins, not commands.
const JINFO_COMMANDS: [&str; 4] = ["hl", "jre", "jdkhl", "jdk"];

/// The alternatives a JVM's `.jinfo` file lists (`/usr/lib/jvm/.NAME.jinfo`: `priority=N`, then
/// lines `KIND NAME PATH`): for each command line, `/usr/bin/NAME` → `PATH` at the file's
/// priority, as the JVM packages' `postinst` registers them (the man page slaves it adds are not
/// listed there, and not made). A file without a numeric `priority=` gives nothing; lines of
/// other kinds, malformed lines and relative paths are skipped. At most [`MAX_CALLS`].
pub fn parse_jinfo(text: &str) -> Vec<Alternative> {
    let priority = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("priority=")
            .and_then(|p| p.trim().parse::<i64>().ok())
    });
    let Some(priority) = priority else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (kind, name, path) = (words.next()?, words.next()?, words.next()?);
            if words.next().is_some() || !JINFO_COMMANDS.contains(&kind) {
                return None;
            }
            Some(Alternative {
                link: format!("/usr/bin/{name}"),
                name: name.to_string(),
                path: path.to_string(),
                priority,
                slaves: Vec::new(),
            })
        })
        .filter(valid)
        .take(MAX_CALLS)
        .collect()
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

    /// openjdk-17-jre-headless's `.jinfo` as bookworm ships it (abridged: the JDK's lines are
    /// there too, for tools the JRE does not ship).
    const JINFO_17: &str = "name=java-17-openjdk-amd64\nalias=java-1.17.0-openjdk-amd64\npriority=1711\nsection=main\n\nhl java /usr/lib/jvm/java-17-openjdk-amd64/bin/java\nhl jpackage /usr/lib/jvm/java-17-openjdk-amd64/bin/jpackage\nhl keytool /usr/lib/jvm/java-17-openjdk-amd64/bin/keytool\nhl rmiregistry /usr/lib/jvm/java-17-openjdk-amd64/bin/rmiregistry\nhl jexec /usr/lib/jvm/java-17-openjdk-amd64/lib/jexec\njdkhl jar /usr/lib/jvm/java-17-openjdk-amd64/bin/jar\njdk jconsole /usr/lib/jvm/java-17-openjdk-amd64/bin/jconsole\n";

    #[test]
    fn reads_the_jvm_tools_of_a_jinfo_file() {
        let alts = parse_jinfo(JINFO_17);
        let names: Vec<&str> = alts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "java",
                "jpackage",
                "keytool",
                "rmiregistry",
                "jexec",
                "jar",
                "jconsole"
            ]
        );
        assert_eq!(
            alts[0],
            Alternative {
                link: "/usr/bin/java".into(),
                name: "java".into(),
                path: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java".into(),
                priority: 1711,
                slaves: Vec::new(),
            }
        );
        // the postinst registers jexec as /usr/bin/jexec too
        assert_eq!(alts[4].link, "/usr/bin/jexec");
        assert_eq!(alts[4].path, "/usr/lib/jvm/java-17-openjdk-amd64/lib/jexec");
        // the postinst's loop is not read: its calls use variables
        let postinst = "jre_tools='java keytool'\nfor i in $jre_tools; do\n  update-alternatives --install /usr/bin/$i $i $basedir/bin/$i $priority $slave1\ndone\n";
        assert!(parse_postinst(postinst).is_empty());
    }

    #[test]
    fn jinfo_lines_that_are_not_commands_or_not_safe_are_skipped() {
        for s in [
            // no priority, or not a number: nothing is guessed
            "hl java /usr/lib/jvm/x/bin/java\n",
            "priority=high\nhl java /usr/lib/jvm/x/bin/java\n",
            // browser plugins, unknown kinds, malformed lines
            "priority=1\nplugin libnpjp2.so /usr/lib/jvm/x/lib/libnpjp2.so\n",
            "priority=1\nfoo java /usr/lib/jvm/x/bin/java\n",
            "priority=1\nhl java\nhl java /a/b extra\n",
            // names that are not file names, paths that are relative or climb
            "priority=1\nhl ../../etc/passwd /usr/lib/jvm/x/bin/java\n",
            "priority=1\nhl sub/java /usr/lib/jvm/x/bin/java\n",
            "priority=1\nhl java bin/java\n",
            "priority=1\nhl java /usr/lib/jvm/../../../etc/shadow\n",
        ] {
            assert!(parse_jinfo(s).is_empty(), "{s}");
        }
        let many = format!(
            "priority=1\n{}",
            "hl java /usr/lib/jvm/x/bin/java\n".repeat(MAX_CALLS + 5)
        );
        assert_eq!(parse_jinfo(&many).len(), MAX_CALLS);
        // a negative priority is a priority
        assert_eq!(parse_jinfo("priority=-5\nhl x /opt/x\n")[0].priority, -5);
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
            let _ = parse_jinfo(&s);
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
