//! `whittle audit`'s checks over an [`Analysis`]: what the image hides, leaks and risks, as
//! [`Finding`]s with a severity, the layer that holds the problem, a path and a fix.

use std::collections::BTreeMap;

use whittle_report::{Finding, Location, Rule, Severity};

use crate::merge::{HiddenBy, Resolved};
use crate::walk::Kind;
use crate::{Analysis, secret};

/// Every rule [`audit`] can report.
pub const RULES: &[Rule] = &[
    Rule {
        id: "hidden-secret",
        description: "A file with secret content is deleted or overwritten by a later layer but still stored in a lower layer (recoverable with `docker save`)",
    },
    Rule {
        id: "hidden-secret-file",
        description: "A secret-looking file (.env, id_rsa, *.pem, …) is deleted or overwritten by a later layer but still stored in a lower layer",
    },
    Rule {
        id: "hidden-files",
        description: "A layer hides files of lower layers; their bytes are still shipped",
    },
    Rule {
        id: "secret-in-file",
        description: "A file of the image holds a secret (private key, cloud key, token, password)",
    },
    Rule {
        id: "secret-file-name",
        description: "A file of the image has a name that usually holds a secret",
    },
    Rule {
        id: "env-secret",
        description: "A secret in the config's ENV",
    },
    Rule {
        id: "label-secret",
        description: "A secret in the config's labels",
    },
    Rule {
        id: "history-secret",
        description: "A secret in the image history (ARG and ENV values show in created_by)",
    },
    Rule {
        id: "uid0-account",
        description: "An account other than root has uid 0 in /etc/passwd: a second root",
    },
    Rule {
        id: "empty-password",
        description: "An account has an empty password (an empty /etc/passwd field, or an empty /etc/shadow hash): anyone can log in as it",
    },
    Rule {
        id: "runs-as-root",
        description: "The image runs as root (no USER, or user 0)",
    },
    Rule {
        id: "shell",
        description: "A shell is present: the next link of an attack chain",
    },
    Rule {
        id: "package-manager",
        description: "A package manager is present: an attacker can install tools",
    },
    Rule {
        id: "compiler",
        description: "A compiler or toolchain is present in the runtime image",
    },
    Rule {
        id: "package-cache",
        description: "Package manager caches or index lists were left in the image",
    },
    Rule {
        id: "setuid-file",
        description: "A setuid executable",
    },
    Rule {
        id: "setgid-file",
        description: "A setgid executable",
    },
    Rule {
        id: "world-writable",
        description: "A world-writable file, or a world-writable directory without the sticky bit",
    },
    Rule {
        id: "unowned-files",
        description: "Files no installed package owns (added by hand, scripts or builds)",
    },
    Rule {
        id: "layer-anomaly",
        description: "A layer entry that tries to leave the root or is malformed",
    },
    Rule {
        id: "symlink-loop",
        description: "A symlink that never resolves (a loop)",
    },
];

const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"];
const PACKAGE_MANAGERS: &[&str] = &[
    "apt", "apt-get", "dpkg", "apk", "pip", "pip3", "npm", "yum", "dnf", "rpm",
];
const COMPILERS: &[&str] = &[
    "gcc", "cc", "g++", "c++", "clang", "go", "rustc", "cargo", "javac",
];
const BIN_DIRS: &[&str] = &[
    "bin",
    "usr/bin",
    "sbin",
    "usr/sbin",
    "usr/local/bin",
    "usr/local/sbin",
    "usr/local/go/bin",
];

/// Paths a package database never lists but every system writes (generated files).
fn generated(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "var/lib/dpkg/",
        "var/lib/apt/",
        "var/cache/",
        "var/log/",
        "lib/apk/db/",
        "usr/lib/apk/db/",
        "etc/apk/",
        "etc/ssl/certs/",
        "etc/alternatives/",
        "var/lib/ucf/",
        "etc/rc",
    ];
    const FILES: &[&str] = &[
        "etc/passwd",
        "etc/group",
        "etc/shadow",
        "etc/gshadow",
        "etc/passwd-",
        "etc/group-",
        "etc/shadow-",
        "etc/gshadow-",
        "etc/hostname",
        "etc/hosts",
        "etc/resolv.conf",
        "etc/machine-id",
        "etc/ld.so.cache",
        "etc/os-release",
        // what a distribution's release package writes; whittle writes them natively when the
        // package is not installed (so that scanners can place the image)
        "usr/lib/os-release",
        "etc/debian_version",
        "etc/alpine-release",
        // what libc-bin's and tzdata's maintainer scripts write (whittle writes them natively)
        "etc/nsswitch.conf",
        "etc/localtime",
        "etc/timezone",
        "etc/shells",
        "etc/subuid",
        "etc/subgid",
        "usr/share/info/dir",
        "etc/mtab",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || FILES.contains(&path)
}

fn finding(
    rule: &str,
    severity: Severity,
    message: String,
    artifact: &str,
    layer: Option<usize>,
    path: Option<String>,
    fix: &str,
) -> Finding {
    Finding {
        rule: rule.to_string(),
        severity,
        message,
        location: Location {
            artifact: Some(artifact.to_string()),
            layer,
            path,
            line: None,
            column: None,
        },
        fix: Some(fix.to_string()),
        evidence: None,
    }
}

/// Every finding of the image, sorted most severe first.
pub fn audit(a: &Analysis) -> Vec<Finding> {
    let mut out = Vec::new();
    hidden(a, &mut out);
    config(a, &mut out);
    tree(a, &mut out);
    accounts(a, &mut out);
    whittle_report::sort(&mut out);
    out
}

fn hidden(a: &Analysis, out: &mut Vec<Finding>) {
    let art = a.image.as_str();
    for d in &a.diffs {
        let mut other = (0usize, 0u64);
        for h in &d.hidden {
            let how = match h.by {
                HiddenBy::Whiteout => "deleted",
                HiddenBy::OpaqueWhiteout => "hidden by an opaque directory",
                HiddenBy::Overwritten => "overwritten",
            };
            let abs = format!("/{}", h.path);
            if let Some(s) = h.secrets.first() {
                let mut f = finding(
                    "hidden-secret",
                    Severity::Critical,
                    format!(
                        "{abs} ({}) is {how} in layer {} but still stored in layer {}: recoverable with `docker save`",
                        s.description, h.hidden_in, h.layer
                    ),
                    art,
                    Some(h.layer),
                    Some(abs),
                    "rotate the secret now; never COPY secrets into a build (use build secrets mounts or a multi-stage build), then rebuild without it",
                );
                f.evidence = Some(secret::evidence(&h.secrets));
                out.push(f);
            } else if let Some(kind) = secret::file_name(&abs) {
                out.push(finding(
                    "hidden-secret-file",
                    Severity::High,
                    format!(
                        "{abs} (looks like {kind}) is {how} in layer {} but still stored in layer {}: recoverable with `docker save`",
                        h.hidden_in, h.layer
                    ),
                    art,
                    Some(h.layer),
                    Some(abs),
                    "treat its content as leaked; keep such files out of every layer (build secret mounts, multi-stage builds)",
                ));
            } else {
                other.0 += 1;
                other.1 += h.size;
            }
        }
        if other.0 > 0 {
            out.push(finding(
                "hidden-files",
                Severity::Info,
                format!(
                    "layer {} hides {} {} ({} bytes) of lower layers that are still shipped",
                    d.layer,
                    other.0,
                    if other.0 == 1 { "entry" } else { "entries" },
                    other.1
                ),
                art,
                Some(d.layer),
                None,
                "delete files in the same RUN that creates them, or squash with a multi-stage build",
            ));
        }
        for an in &d.anomalies {
            let severity = match an.kind {
                "path-traversal" => Severity::High,
                "absolute-path" | "non-utf8-path" => Severity::Low,
                _ => Severity::Medium,
            };
            out.push(finding(
                "layer-anomaly",
                severity,
                format!("layer {}: `{}`: {} ({})", d.layer, an.path, an.message, an.kind),
                art,
                Some(d.layer),
                Some(an.path.clone()),
                "do not use this image: its layers were crafted or corrupted; rebuild it from a trusted source",
            ));
        }
    }
}

/// `NAME=value` tokens of a history line (`|2 TOKEN=x KEY=y /bin/sh -c …`, `ENV A=b`, `ARG A=b`).
fn assignments(line: &str) -> impl Iterator<Item = (&str, &str)> {
    line.split_whitespace().filter_map(|tok| {
        let tok = tok.trim_matches(['"', '\'', ';']);
        let (name, value) = tok.split_once('=')?;
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
        ok.then_some((name, value.trim_matches(['"', '\''])))
    })
}

fn config(a: &Analysis, out: &mut Vec<Finding>) {
    let art = a.image.as_str();
    let cc = &a.config.config;
    for (i, kv) in cc.env.iter().enumerate() {
        let (name, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        if let Some(s) = secret::assignment(name, value) {
            let mut f = finding(
                "env-secret",
                Severity::Critical,
                format!(
                    "ENV {name} holds a secret ({}): anyone who pulls the image can read it",
                    s.description
                ),
                art,
                None,
                Some(format!("config.Env[{i}]")),
                "rotate the secret; pass it at run time (orchestrator secrets, mounted files) instead of ENV",
            );
            f.evidence = Some(format!("{}: {}", s.rule, s.redacted));
            out.push(f);
        }
    }
    for (k, v) in &cc.labels {
        if let Some(s) = secret::assignment(k, v) {
            let mut f = finding(
                "label-secret",
                Severity::High,
                format!("label {k} holds a secret ({})", s.description),
                art,
                None,
                Some(format!("config.Labels.{k}")),
                "rotate the secret and remove the label",
            );
            f.evidence = Some(format!("{}: {}", s.rule, s.redacted));
            out.push(f);
        }
    }
    let (history, _) = crate::report::layer_commands(a);
    for (i, h) in history.iter().enumerate() {
        let Some(cmd) = h.created_by.as_deref() else {
            continue;
        };
        let mut seen = Vec::new();
        for (name, value) in assignments(cmd) {
            if let Some(s) = secret::assignment(name, value)
                && !seen.contains(&name)
            {
                seen.push(name);
                let mut f = finding(
                    "history-secret",
                    Severity::High,
                    format!(
                        "history entry {i} shows {name}={} ({}): build arguments and ENV values are kept in the history",
                        s.redacted, s.description
                    ),
                    art,
                    h.layer,
                    Some(format!("history[{i}].created_by")),
                    "rotate the secret; use build secret mounts (RUN --mount=type=secret) instead of ARG or ENV",
                );
                f.evidence = Some(format!("{}: {}", s.rule, s.redacted));
                out.push(f);
            }
        }
        if seen.is_empty()
            && let Some(s) = secret::scan(cmd.as_bytes(), 1).into_iter().next()
        {
            let mut f = finding(
                "history-secret",
                Severity::High,
                format!("history entry {i} contains a secret ({})", s.description),
                art,
                h.layer,
                Some(format!("history[{i}].created_by")),
                "rotate the secret; use build secret mounts (RUN --mount=type=secret) instead",
            );
            f.evidence = Some(format!("{}: {}", s.rule, s.redacted));
            out.push(f);
        }
    }
    let user = cc.user.as_deref().map(str::trim).unwrap_or("");
    let name = user.split(':').next().unwrap_or("");
    let root = match name {
        "" => Some("no USER is set: the container runs as root".to_string()),
        "0" | "root" => Some(format!("USER is `{user}`: the container runs as root")),
        _ => None,
    };
    if let Some(msg) = root {
        out.push(finding(
            "runs-as-root",
            Severity::Medium,
            msg,
            art,
            None,
            Some("config.User".into()),
            "set a non-root user (USER 65532:65532, or `run-as` in a whittle config)",
        ));
    }
}

fn tree(a: &Analysis, out: &mut Vec<Finding>) {
    let art = a.image.as_str();
    let m = &a.merged;
    // tools: shells, package managers, compilers
    for (rule, names, severity, fix) in [
        (
            "shell",
            SHELLS,
            Severity::Medium,
            "build on a shell-less base (distroless, whittle without busybox/bash/dash)",
        ),
        (
            "package-manager",
            PACKAGE_MANAGERS,
            Severity::Medium,
            "leave the package manager out of the runtime image (multi-stage build, whittle config without it)",
        ),
        (
            "compiler",
            COMPILERS,
            Severity::Medium,
            "build in a separate stage and copy only the artefact into the runtime image",
        ),
    ] {
        let mut seen = std::collections::HashSet::new();
        for dir in BIN_DIRS {
            for name in names {
                let path = format!("{dir}/{name}");
                let Some(e) = m.get(&path) else { continue };
                // follow symlinks: a dangling link is not a tool
                let Resolved::Found(target) = m.resolve(&path, true) else {
                    continue;
                };
                if !m.get(&target).is_some_and(|t| t.kind != Kind::Dir) {
                    continue;
                }
                if !seen.insert(target.clone()) && e.kind == Kind::Symlink {
                    continue;
                }
                out.push(finding(
                    rule,
                    severity,
                    format!("/{path} is present ({rule})"),
                    art,
                    Some(e.layer),
                    Some(format!("/{path}")),
                    fix,
                ));
            }
        }
    }
    // caches and lists
    let caches: &[(&str, &str)] = &[
        ("var/cache/apt", "apt package cache"),
        ("var/lib/apt/lists", "apt package lists"),
        ("var/cache/apk", "apk package cache"),
        ("root/.cache/pip", "pip cache"),
        ("root/.npm", "npm cache"),
        ("root/.cache/go-build", "Go build cache"),
    ];
    let mut cache_dirs: Vec<(String, &str)> =
        caches.iter().map(|(p, d)| ((*p).to_string(), *d)).collect();
    for (p, e) in m.entries() {
        if e.kind == Kind::Dir
            && let Some(rest) = p.strip_prefix("home/")
            && let Some((_, sub)) = rest.split_once('/')
            && (sub == ".cache/pip" || sub == ".npm")
        {
            cache_dirs.push((
                p.clone(),
                if sub == ".npm" {
                    "npm cache"
                } else {
                    "pip cache"
                },
            ));
        }
    }
    for (dir, what) in cache_dirs {
        let prefix = format!("{dir}/");
        let (mut n, mut bytes, mut layer) = (0usize, 0u64, None);
        for (p, e) in m.under(&prefix) {
            if e.kind == Kind::Dir || p.ends_with("/lock") {
                continue;
            }
            n += 1;
            bytes += e.size;
            layer = layer.max(Some(e.layer));
        }
        if n > 0 {
            out.push(finding(
                "package-cache",
                Severity::Low,
                format!("/{dir} holds {n} files ({bytes} bytes): {what} left in the image"),
                art,
                layer,
                Some(format!("/{dir}")),
                "clean it in the same RUN that fills it (apt-get clean && rm -rf /var/lib/apt/lists/*, apk --no-cache, pip --no-cache-dir, npm cache clean)",
            ));
        }
    }
    // modes, secrets in the final tree, unowned files, loops
    let owned = a.packages.as_ref().filter(|db| db.has_file_lists);
    let mut unowned: BTreeMap<String, (usize, u64, Vec<String>, usize)> = BTreeMap::new();
    for (p, e) in m.entries() {
        let abs = format!("/{p}");
        if matches!(e.kind, Kind::File | Kind::Hardlink) {
            if e.mode & 0o4000 != 0 {
                out.push(finding(
                    "setuid-file",
                    Severity::Medium,
                    format!("{abs} is setuid (mode {:o}, owner {})", e.mode, e.uid),
                    art,
                    Some(e.layer),
                    Some(abs.clone()),
                    "remove the setuid bit (chmod u-s) or the binary; containers rarely need it",
                ));
            } else if e.mode & 0o2000 != 0 {
                out.push(finding(
                    "setgid-file",
                    Severity::Low,
                    format!("{abs} is setgid (mode {:o}, group {})", e.mode, e.gid),
                    art,
                    Some(e.layer),
                    Some(abs.clone()),
                    "remove the setgid bit (chmod g-s) or the binary",
                ));
            }
        }
        let ww = e.mode & 0o002 != 0;
        let flagged = match e.kind {
            Kind::File | Kind::Hardlink => ww,
            Kind::Dir => ww && e.mode & 0o1000 == 0,
            _ => false,
        };
        if flagged {
            out.push(finding(
                "world-writable",
                Severity::Medium,
                format!("{abs} is world-writable (mode {:o})", e.mode),
                art,
                Some(e.layer),
                Some(abs.clone()),
                "drop the write bit for others (chmod o-w), or add the sticky bit for shared directories",
            ));
        }
        let package_file = owned.is_some_and(|db| db.owned.contains(p.as_str()));
        if let Some(s) = e.secrets.first() {
            let mut f = finding(
                "secret-in-file",
                if package_file {
                    Severity::Low
                } else {
                    Severity::High
                },
                format!(
                    "{abs} contains a {}{}",
                    s.description,
                    if package_file {
                        " (shipped by an installed package)"
                    } else {
                        ""
                    }
                ),
                art,
                Some(e.layer),
                Some(abs.clone()),
                "remove the file from the image and rotate the secret; provide secrets at run time",
            );
            f.evidence = Some(secret::evidence(&e.secrets));
            out.push(f);
        } else if e.kind == Kind::File
            && !package_file
            && let Some(kind) = secret::file_name(&abs)
        {
            out.push(finding(
                "secret-file-name",
                Severity::Medium,
                format!("{abs} looks like a secret file ({kind})"),
                art,
                Some(e.layer),
                Some(abs.clone()),
                "check it; keep secrets out of images and provide them at run time",
            ));
        }
        if e.kind == Kind::Symlink && m.resolve(p, true) == Resolved::Loop {
            out.push(finding(
                "symlink-loop",
                Severity::Low,
                format!(
                    "{abs} -> {} never resolves (symlink loop)",
                    e.link.as_deref().unwrap_or("")
                ),
                art,
                Some(e.layer),
                Some(abs.clone()),
                "remove or fix the link",
            ));
        }
        if let Some(db) = owned
            && matches!(e.kind, Kind::File | Kind::Hardlink)
            && !db.owned.contains(p.as_str())
            && !generated(p)
        {
            let dir = p.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            let g = unowned.entry(dir).or_insert((0, 0, Vec::new(), 0));
            g.0 += 1;
            g.1 += e.size;
            if g.2.len() < 3 {
                g.2.push(abs.clone());
            }
            g.3 = g.3.max(e.layer);
        }
    }
    if unowned.len() > 20 {
        // too many directories: group by the first two components
        let mut coarse: BTreeMap<String, (usize, u64, Vec<String>, usize)> = BTreeMap::new();
        for (d, (n, b, ex, l)) in unowned {
            let key: Vec<&str> = d.splitn(3, '/').take(2).collect();
            let g = coarse.entry(key.join("/")).or_insert((0, 0, Vec::new(), 0));
            g.0 += n;
            g.1 += b;
            for e in ex {
                if g.2.len() < 3 {
                    g.2.push(e);
                }
            }
            g.3 = g.3.max(l);
        }
        unowned = coarse;
    }
    for (dir, (n, bytes, examples, layer)) in unowned {
        out.push(finding(
            "unowned-files",
            Severity::Info,
            format!(
                "/{dir}: {n} files ({bytes} bytes) no installed package owns, e.g. {}",
                examples.join(", ")
            ),
            art,
            Some(layer),
            Some(format!("/{dir}")),
            "make sure each was meant to ship (application files are fine; build leftovers are not)",
        ));
    }
}

/// One problem of an account file: rule, severity, file, 1-based line, message, fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountIssue {
    /// `uid0-account` or `empty-password`.
    pub rule: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// `etc/passwd` or `etc/shadow`.
    pub file: &'static str,
    /// The line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Most findings of one rule about account files; a crafted file may list millions.
const MAX_ACCOUNT_FINDINGS: usize = 20;

/// An account name fit for a message: at most 64 characters, control characters escaped.
fn account_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if name.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

/// The lines of an account file that name an account: (1-based line, its `:` fields). Comments,
/// blank lines and NIS `+`/`-` entries are skipped.
fn account_lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.trim_end_matches('\r');
        let first = l.bytes().next()?;
        (!matches!(first, b'#' | b'+' | b'-')).then(|| (i + 1, l.split(':').collect()))
    })
}

/// An account problem before its message is written: a crafted file may hold millions, and
/// only the first [`MAX_ACCOUNT_FINDINGS`] of each rule are ever written out.
struct AccountProblem<'a> {
    rule: &'static str,
    severity: Severity,
    file: &'static str,
    line: usize,
    name: &'a str,
    uid0: bool,
    /// For `empty-password`: what is empty.
    empty: &'static str,
}

impl AccountProblem<'_> {
    fn issue(&self) -> AccountIssue {
        let (shown, line, file) = (account_name(self.name), self.line, self.file);
        let message = if self.rule == "uid0-account" {
            format!(
                "/etc/passwd line {line}: account `{shown}` has uid 0: a second root, whoever logs in as it is root"
            )
        } else {
            format!(
                "/{file} line {line}: account `{shown}`{} has {}: anyone can log in as it (su, login) without one",
                if self.uid0 { " (uid 0)" } else { "" },
                self.empty
            )
        };
        AccountIssue {
            rule: self.rule,
            severity: self.severity,
            file,
            line,
            message,
        }
    }
}

/// The problems of [`account_issues`], in order, without their messages.
fn account_problems<'a>(
    passwd: &'a str,
    shadow: Option<&'a str>,
) -> impl Iterator<Item = AccountProblem<'a>> + 'a {
    let mut hashes: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for (line, f) in shadow.into_iter().flat_map(account_lines) {
        if let (Some(name), Some(hash)) = (f.first(), f.get(1)) {
            hashes.entry(name).or_insert((line, hash));
        }
    }
    account_lines(passwd)
        .flat_map(move |(line, f)| {
            let (Some(&name), Some(&pw)) = (f.first(), f.get(1)) else {
                return [None, None];
            };
            let uid0 = f.get(2).and_then(|u| u.parse::<u64>().ok()) == Some(0);
            let second_root = (uid0 && name != "root").then_some(AccountProblem {
                rule: "uid0-account",
                severity: Severity::High,
                file: "etc/passwd",
                line,
                name,
                uid0,
                empty: "",
            });
            let empty = if pw.is_empty() {
                Some(("etc/passwd", line, "an empty password field"))
            } else if pw == "x" {
                hashes
                    .get(name)
                    .filter(|(_, h)| h.is_empty())
                    .map(|(l, _)| ("etc/shadow", *l, "an empty password hash"))
            } else {
                None
            };
            let empty = empty.map(|(file, line, empty)| AccountProblem {
                rule: "empty-password",
                severity: if uid0 {
                    Severity::Critical
                } else {
                    Severity::High
                },
                file,
                line,
                name,
                uid0,
                empty,
            });
            [second_root, empty]
        })
        .flatten()
}

/// What is wrong with the accounts of `passwd` (the text of `/etc/passwd`) and `shadow` (of
/// `/etc/shadow`, when the image has one): accounts other than `root` with uid 0, and accounts
/// whose password is empty (an empty `/etc/passwd` field, or `x` there and an empty hash in
/// `/etc/shadow`). A locked (`!`, `*`) or missing password is not empty. Issues are made as the
/// caller takes them: take only as many as it will show.
pub fn account_issues<'a>(
    passwd: &'a str,
    shadow: Option<&'a str>,
) -> impl Iterator<Item = AccountIssue> + 'a {
    account_problems(passwd, shadow).map(|p| p.issue())
}

fn accounts(a: &Analysis, out: &mut Vec<Finding>) {
    let art = a.image.as_str();
    let text = |p: &str| {
        a.merged.get(p).and_then(|e| {
            let c = e.content.as_deref()?;
            Some((String::from_utf8_lossy(c), e.layer))
        })
    };
    let Some((passwd, passwd_layer)) = text("etc/passwd") else {
        return;
    };
    let shadow = text("etc/shadow");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for problem in account_problems(&passwd, shadow.as_ref().map(|(s, _)| s.as_ref())) {
        let n = counts.entry(problem.rule).or_default();
        *n += 1;
        if *n > MAX_ACCOUNT_FINDINGS {
            continue;
        }
        let issue = problem.issue();
        let layer = match (&shadow, issue.file) {
            (Some((_, l)), "etc/shadow") => *l,
            _ => passwd_layer,
        };
        let fix = match issue.rule {
            "uid0-account" => {
                "give the account its own non-zero uid, or remove it: only root has uid 0"
            }
            _ => {
                "lock the account (`!` or `*` as its /etc/shadow hash, `x` in /etc/passwd) or remove it"
            }
        };
        let mut f = finding(
            issue.rule,
            issue.severity,
            issue.message,
            art,
            Some(layer),
            Some(format!("/{}", issue.file)),
            fix,
        );
        f.location.line = Some(issue.line);
        out.push(f);
    }
    for (rule, n) in counts {
        if n > MAX_ACCOUNT_FINDINGS {
            out.push(finding(
                rule,
                Severity::High,
                format!(
                    "{} more accounts are reported by {rule} (only the first {MAX_ACCOUNT_FINDINGS} are listed)",
                    n - MAX_ACCOUNT_FINDINGS
                ),
                art,
                Some(passwd_layer),
                Some("/etc/passwd".into()),
                "do not use this image: its account files were crafted",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_issues_of_passwd_and_shadow() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n\
                      # a comment\n\
                      +nis::0:0:::\n\
                      toor::00:0::/:/bin/sh\n\
                      daemon:x:1:1::/:/sbin/nologin\n\
                      app:x:1000:1000::/home/app:/bin/false\n\
                      nobody:*:65534:65534::/:/sbin/nologin\n\
                      short\n";
        let shadow = "root:!::0:::::\ndaemon:*:::::::\napp::19000:0:99999:7:::\n";
        let got: Vec<(&str, Severity, &str, usize)> = account_issues(passwd, Some(shadow))
            .map(|i| (i.rule, i.severity, i.file, i.line))
            .collect();
        assert_eq!(
            got,
            [
                ("uid0-account", Severity::High, "etc/passwd", 4),
                ("empty-password", Severity::Critical, "etc/passwd", 4),
                ("empty-password", Severity::High, "etc/shadow", 3),
            ]
        );
        // no /etc/shadow: `x` is no password at all, an empty field is
        let got: Vec<_> =
            account_issues("root::0:0::/root:/bin/sh\nu:x:5:5::/:/bin/sh\n", None).collect();
        assert_eq!(got.len(), 1);
        assert!(
            got[0]
                .message
                .contains("`root` (uid 0) has an empty password field")
        );
        // names are bounded and escaped in messages
        for name in ["a".repeat(100_000), "ev\u{1b}[31mil".to_string()] {
            let passwd = format!("{name}:x:0:0::/:/bin/sh");
            let got: Vec<_> = account_issues(&passwd, None).collect();
            assert!(
                got[0].message.len() < 300 && !got[0].message.contains('\u{1b}'),
                "{}",
                got[0].message
            );
        }
    }

    #[test]
    fn history_assignments() {
        let got: Vec<_> =
            assignments("|2 AWS_SECRET=abc TOKEN='x y' /bin/sh -c echo a=b").collect();
        assert_eq!(got, [("AWS_SECRET", "abc"), ("TOKEN", "x"), ("a", "b")]);
    }

    #[test]
    fn generated_files_are_not_unowned() {
        assert!(generated("etc/passwd"));
        assert!(generated("var/lib/dpkg/status"));
        assert!(generated("etc/debian_version"));
        assert!(generated("usr/lib/os-release"));
        assert!(generated("etc/nsswitch.conf") && generated("etc/timezone"));
        assert!(!generated("app/server"));
    }
}
