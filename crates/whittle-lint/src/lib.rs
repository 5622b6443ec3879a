//! Lints a Dockerfile for the footguns that leak into images: secrets copied and later removed
//! (still in the earlier layer), secret files copied at all, secrets in `ENV`/`ARG`/`LABEL`,
//! running as root, package-manager caches kept, single-stage images that keep a toolchain,
//! `latest` or unpinned bases, `ADD` of URLs, `curl | sh`, `apt-get upgrade` and `sudo`.
//!
//! [`lint`] parses (with [`parse()`], its own parser for untrusted input) and returns
//! [`whittle_report::Finding`]s sorted by line.

pub mod parse;
pub mod shell;

pub use parse::{
    Args, Dockerfile, Flag, Heredoc, Instruction, MAX_DOCKERFILE_SIZE, ParseError, parse,
};

use shell::Command;
use whittle_report::{Finding, Location, Rule, Severity};

/// Every rule [`lint`] can report, for SARIF's rule table.
pub const RULES: &[Rule] = &[
    Rule {
        id: "secret-removed-later",
        description: "A secret file is copied in one layer and removed in a later RUN: it stays in the earlier layer",
    },
    Rule {
        id: "secret-file-copied",
        description: "A secret-looking file (.env, id_rsa, *.pem, .npmrc, …) is copied into the image",
    },
    Rule {
        id: "removed-later",
        description: "A file is copied in one layer and removed in a later one: its bytes still ship",
    },
    Rule {
        id: "env-secret",
        description: "A secret in ENV: it is stored in the image config and every container's environment",
    },
    Rule {
        id: "env-secret-from-arg",
        description: "ENV copies a secret build argument into the image config",
    },
    Rule {
        id: "arg-secret",
        description: "A secret build argument: ARG values are recorded in the image history",
    },
    Rule {
        id: "label-secret",
        description: "A secret in a LABEL: labels are stored in the image config",
    },
    Rule {
        id: "secret-in-run",
        description: "A secret written in a RUN command: commands are recorded in the image history",
    },
    Rule {
        id: "runs-as-root",
        description: "The image runs as root (no USER in the final stage, or USER root/0)",
    },
    Rule {
        id: "package-cache",
        description: "A package manager's cache or lists are not removed in the same RUN",
    },
    Rule {
        id: "toolchain-kept",
        description: "A single-stage image installs or uses a build toolchain and ships it",
    },
    Rule {
        id: "base-latest",
        description: "The base image uses the `latest` tag: builds are not reproducible",
    },
    Rule {
        id: "base-unpinned",
        description: "The base image has neither a tag nor a digest",
    },
    Rule {
        id: "add-url",
        description: "ADD of a URL without --checksum: the download is not verified",
    },
    Rule {
        id: "curl-pipe-shell",
        description: "A script downloaded and piped into a shell, unverified",
    },
    Rule {
        id: "apt-get-upgrade",
        description: "apt-get upgrade in a build: not reproducible; update the base image instead",
    },
    Rule {
        id: "sudo",
        description: "sudo in a RUN: builds run as root already, and sudo left in an image is an escalation path",
    },
];

/// Lints Dockerfile `text`; `artifact` names it in every finding's location (its path).
pub fn lint(artifact: &str, text: &str) -> Result<Vec<Finding>, ParseError> {
    Ok(lint_dockerfile(artifact, &parse(text)?))
}

/// One `FROM` and the instructions after it.
struct Stage<'a> {
    from: &'a Instruction,
    /// The image reference after `FROM`.
    base: String,
    /// `AS name`, lowercased.
    name: Option<String>,
    /// The earlier stage this one builds on (`FROM build AS test`).
    parent: Option<usize>,
    body: Vec<&'a Instruction>,
}

/// A file a `COPY`/`ADD` put into a stage.
struct Copied<'a> {
    stage: usize,
    path: String,
    base_name: String,
    source: String,
    secret: Option<&'static str>,
    instr: &'a Instruction,
}

/// Lints a parsed Dockerfile; findings are sorted by line, column and rule.
pub fn lint_dockerfile(artifact: &str, df: &Dockerfile) -> Vec<Finding> {
    let mut lint = Linter {
        artifact,
        findings: Vec::new(),
    };
    let mut stages: Vec<Stage> = Vec::new();
    for i in &df.instructions {
        if i.keyword == "FROM" {
            let text = i.text();
            let mut ws = text.split_whitespace();
            let base = ws.next().unwrap_or("").to_string();
            let name = match (ws.next(), ws.next()) {
                (Some(a), Some(n)) if a.eq_ignore_ascii_case("as") => Some(n.to_ascii_lowercase()),
                _ => None,
            };
            let parent = stages
                .iter()
                .position(|s| s.name.as_deref() == Some(base.to_ascii_lowercase().as_str()));
            stages.push(Stage {
                from: i,
                base,
                name,
                parent,
                body: Vec::new(),
            });
        } else if let Some(s) = stages.last_mut() {
            s.body.push(i);
        } else if i.keyword == "ARG" {
            // global ARGs before the first FROM
            lint.arg(i, true);
        }
    }
    // the stages whose layers ship: the last one and those it builds on
    let mut shipped = vec![false; stages.len()];
    let mut cur = stages.len().checked_sub(1);
    while let Some(s) = cur {
        if shipped.get(s).copied().unwrap_or(true) {
            break;
        }
        if let Some(x) = shipped.get_mut(s) {
            *x = true;
        }
        cur = stages.get(s).and_then(|st| st.parent);
    }
    let mut copied: Vec<Copied> = Vec::new();
    let mut removed: Vec<(usize, String, &Instruction)> = Vec::new();
    for (si, stage) in stages.iter().enumerate() {
        let ships = shipped.get(si).copied().unwrap_or(false);
        lint.base(stage, stages.get(..si).unwrap_or_default());
        let mut workdir = String::from("/");
        let pip_no_cache = stage.body.iter().any(|i| {
            i.keyword == "ENV" && i.text().to_ascii_uppercase().contains("PIP_NO_CACHE_DIR")
        });
        for i in &stage.body {
            match i.keyword.as_str() {
                "WORKDIR" => workdir = join(&workdir, i.text().trim()),
                "ENV" => lint.env(i, ships),
                "ARG" => lint.arg(i, ships),
                "LABEL" => lint.label(i),
                "COPY" | "ADD" => {
                    lint.add_url(i);
                    for c in copies(i, &workdir) {
                        copied.push(Copied { stage: si, ..c });
                    }
                }
                "RUN" => {
                    let cmds = shell::commands(&i.full_text());
                    lint.run(i, &cmds, ships, pip_no_cache);
                    for c in &cmds {
                        if c.name() == "rm" {
                            for w in c.program().iter().skip(1).filter(|w| !w.starts_with('-')) {
                                removed.push((si, join(&workdir, w), i));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    lint.copied_files(&copied, &removed, &shipped);
    if stages.len() == 1
        && let Some(stage) = stages.first()
    {
        lint.toolchain(stage);
    }
    lint.user(&stages);
    let mut findings = lint.findings;
    findings.sort_by(|a, b| {
        a.location
            .line
            .cmp(&b.location.line)
            .then_with(|| a.location.column.cmp(&b.location.column))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.message.cmp(&b.message))
    });
    findings.dedup();
    findings
}

/// Joins a path to a working directory and normalises `.`/`..`/`//`.
fn join(dir: &str, path: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{dir}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn base_name(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    p.rsplit('/').next().unwrap_or(p)
}

/// The files a `COPY`/`ADD` puts into the image (heredoc and URL sources left out).
fn copies<'a>(i: &'a Instruction, workdir: &str) -> Vec<Copied<'a>> {
    let mut args = match &i.args {
        Args::Exec(v) => v.clone(),
        Args::Shell(s) => shell::words(s),
    };
    let Some(dest) = args.pop() else {
        return Vec::new();
    };
    let sources: Vec<String> = args
        .into_iter()
        .filter(|s| !s.starts_with("<<") && !s.contains("://") && !s.starts_with("git@"))
        .collect();
    let dir = dest.ends_with('/') || sources.len() > 1 || dest == "." || i.heredocs.len() > 1;
    let dest = join(workdir, &dest);
    sources
        .into_iter()
        .map(|source| {
            let name = base_name(&source).to_string();
            let path = if dir || name.contains('*') {
                join(&dest, &name)
            } else {
                dest.clone()
            };
            Copied {
                stage: 0,
                secret: whittle_secrets::secret_file_name(&source)
                    .or_else(|| whittle_secrets::secret_file_name(&path)),
                base_name: name,
                path,
                source,
                instr: i,
            }
        })
        .collect()
}

struct Linter<'a> {
    artifact: &'a str,
    findings: Vec<Finding>,
}

/// Package names that are build toolchains.
const TOOLCHAIN_PACKAGES: &[&str] = &[
    "gcc",
    "g++",
    "build-essential",
    "build-base",
    "clang",
    "golang",
    "golang-go",
    "go",
    "cargo",
    "rustc",
    "rust",
    "maven",
    "gradle",
    "openjdk-17-jdk",
    "default-jdk",
];

/// Base images that are build toolchains.
const TOOLCHAIN_IMAGES: &[&str] = &["golang", "rust", "gcc", "maven", "gradle", "buildpack-deps"];

impl Linter<'_> {
    fn push(
        &mut self,
        i: &Instruction,
        rule: &str,
        severity: Severity,
        message: String,
        fix: &str,
        evidence: Option<String>,
    ) {
        self.findings.push(Finding {
            rule: rule.to_string(),
            severity,
            message,
            location: Location {
                artifact: Some(self.artifact.to_string()),
                line: Some(i.line),
                column: Some(i.column),
                ..Location::default()
            },
            fix: Some(fix.to_string()),
            evidence,
        });
    }

    /// `FROM x:latest`, `FROM x` (no tag or digest).
    fn base(&mut self, stage: &Stage, earlier: &[Stage]) {
        let base = stage.base.as_str();
        let lower = base.to_ascii_lowercase();
        if lower == "scratch"
            || base.contains('$')
            || earlier
                .iter()
                .any(|s| s.name.as_deref() == Some(lower.as_str()))
            || base.contains('@')
        {
            return;
        }
        let last = base.rsplit('/').next().unwrap_or(base);
        match last.split_once(':') {
            Some((_, "latest")) => self.push(
                stage.from,
                "base-latest",
                Severity::Medium,
                format!("base image {base} uses the `latest` tag, which changes under you"),
                "pin a version tag and a digest: FROM image:1.2.3@sha256:…",
                None,
            ),
            Some(_) => {}
            None => self.push(
                stage.from,
                "base-unpinned",
                Severity::Medium,
                format!("base image {base} has no tag or digest (it means `latest`)"),
                "pin a version tag and a digest: FROM image:1.2.3@sha256:…",
                None,
            ),
        }
    }

    /// `NAME=value` pairs of an `ENV`/`ARG`/`LABEL` (and `ENV NAME value`, the legacy form).
    fn pairs(i: &Instruction, legacy: bool) -> Vec<(String, Option<String>)> {
        let text = i.text();
        let words = shell::words(&text);
        if legacy
            && let Some(first) = words.first()
            && !first.contains('=')
        {
            let (_, rest) = parse::split_word(&text);
            let value = shell::words(rest).join(" ");
            return vec![(first.clone(), Some(value))];
        }
        words
            .into_iter()
            .map(|w| match w.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (w, None),
            })
            .collect()
    }

    fn env(&mut self, i: &Instruction, ships: bool) {
        for (name, value) in Self::pairs(i, true) {
            let value = value.unwrap_or_default();
            let sev = |s: Severity| if ships { s } else { Severity::Medium.min(s) };
            if let Some(m) = whittle_secrets::secret_assignment(&name, &value) {
                self.push(
                    i,
                    "env-secret",
                    sev(Severity::Critical),
                    format!("ENV {name} holds a secret ({}); it is stored in the image config", m.description),
                    "pass secrets at run time (a mounted file or the orchestrator's secrets), or at build time with RUN --mount=type=secret",
                    Some(m.redacted),
                );
            } else if whittle_secrets::secret_name(&name) && value.trim_start().starts_with('$') {
                self.push(
                    i,
                    "env-secret-from-arg",
                    sev(Severity::High),
                    format!("ENV {name}={value} copies a build argument into the image config"),
                    "use RUN --mount=type=secret,id=… for build-time secrets and inject run-time secrets when the container starts",
                    None,
                );
            }
        }
    }

    fn arg(&mut self, i: &Instruction, ships: bool) {
        for (name, value) in Self::pairs(i, false) {
            match value.filter(|v| !v.is_empty()) {
                Some(value) => {
                    if let Some(m) = whittle_secrets::secret_assignment(&name, &value) {
                        self.push(
                            i,
                            "arg-secret",
                            if ships { Severity::High } else { Severity::Medium },
                            format!("ARG {name} has a secret default ({}); ARG values are recorded in the image history", m.description),
                            "remove the default and use RUN --mount=type=secret,id=… instead of a build argument",
                            Some(m.redacted),
                        );
                    }
                }
                None if whittle_secrets::secret_name(&name) => self.push(
                    i,
                    "arg-secret",
                    Severity::Medium,
                    format!("ARG {name} looks like a secret: its value is recorded in the history of every RUN that uses it"),
                    "use RUN --mount=type=secret,id=… instead of a build argument",
                    None,
                ),
                None => {}
            }
        }
    }

    fn label(&mut self, i: &Instruction) {
        for (name, value) in Self::pairs(i, false) {
            if let Some(m) = value
                .as_deref()
                .and_then(|v| whittle_secrets::secret_assignment(&name, v))
            {
                self.push(
                    i,
                    "label-secret",
                    Severity::High,
                    format!(
                        "LABEL {name} holds a secret ({}); labels are stored in the image config",
                        m.description
                    ),
                    "remove the secret from the label",
                    Some(m.redacted),
                );
            }
        }
    }

    fn add_url(&mut self, i: &Instruction) {
        if i.keyword != "ADD" || i.flag("checksum").is_some() {
            return;
        }
        let words = match &i.args {
            Args::Exec(v) => v.clone(),
            Args::Shell(s) => shell::words(s),
        };
        let n = words.len().saturating_sub(1);
        for w in words.iter().take(n) {
            let lower = w.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                self.push(
                    i,
                    "add-url",
                    Severity::Medium,
                    format!("ADD downloads {w} without verifying it"),
                    "use ADD --checksum=sha256:… or download with curl and check a pinned checksum",
                    None,
                );
            }
        }
    }

    fn run(&mut self, i: &Instruction, cmds: &[Command], ships: bool, pip_no_cache: bool) {
        let text = i.full_text();
        let has_cache_mount = i.flags.iter().any(|f| {
            f.name == "mount" && f.value.as_deref().is_some_and(|v| v.contains("type=cache"))
        });
        let removes = |needle: &str| {
            cmds.iter()
                .any(|c| c.name() == "rm" && c.program().iter().any(|w| w.contains(needle)))
        };
        let mut reported = std::collections::BTreeSet::new();
        for (k, c) in cmds.iter().enumerate() {
            let prog = c.program();
            let name = c.name();
            if c.words.first().is_some_and(|w| w == "sudo") && reported.insert("sudo") {
                self.push(
                    i,
                    "sudo",
                    Severity::Low,
                    "RUN uses sudo".into(),
                    "drop sudo: build steps run as the current USER; switch with USER root … USER app",
                    None,
                );
            }
            let sub = c.sub();
            if matches!(name, "apt-get" | "apt" | "aptitude")
                && matches!(sub, "upgrade" | "dist-upgrade" | "full-upgrade")
                || (name == "apk" && sub == "upgrade")
            {
                self.push(
                    i,
                    "apt-get-upgrade",
                    Severity::Low,
                    format!("RUN {name} {sub} makes the image depend on the day it was built"),
                    "use an up-to-date, pinned base image instead of upgrading in the build",
                    None,
                );
            }
            if c.piped
                && matches!(
                    name,
                    "sh" | "bash" | "zsh" | "ash" | "dash" | "ksh" | "python" | "python3"
                )
                && k.checked_sub(1)
                    .and_then(|p| cmds.get(p))
                    .is_some_and(|p| matches!(p.name(), "curl" | "wget"))
            {
                self.push(
                    i,
                    "curl-pipe-shell",
                    Severity::High,
                    format!("a downloaded script is piped into {name} without verification"),
                    "download to a file, check a pinned checksum (sha256sum -c), then run it",
                    None,
                );
            }
            if ships && !has_cache_mount {
                let installs = prog
                    .iter()
                    .any(|w| matches!(w.as_str(), "install" | "add" | "ci" | "i"));
                let cache = match name {
                    "apt-get" | "apt" | "aptitude"
                        if sub == "install" && !removes("/var/lib/apt/lists") =>
                    {
                        Some((
                            "apt",
                            "add `&& rm -rf /var/lib/apt/lists/*` at the end of the same RUN",
                        ))
                    }
                    "apk" if sub == "add" && !c.has("--no-cache") && !removes("/var/cache/apk") => {
                        Some(("apk", "use `apk add --no-cache`"))
                    }
                    "pip" | "pip3"
                        if sub == "install" && !c.has("--no-cache-dir") && !pip_no_cache =>
                    {
                        Some(("pip", "use `pip install --no-cache-dir`"))
                    }
                    "npm" if installs && !text.contains("npm cache clean") => {
                        Some(("npm", "add `&& npm cache clean --force` to the same RUN"))
                    }
                    "dnf" | "yum" | "microdnf"
                        if sub == "install" && !text.contains("clean all") =>
                    {
                        Some((name, "add `&& dnf clean all` (or yum) to the same RUN"))
                    }
                    _ => None,
                };
                if let Some((pm, fix)) = cache
                    && reported.insert(pm)
                {
                    self.push(
                        i,
                        "package-cache",
                        Severity::Low,
                        format!("{pm} install leaves its cache/lists in the layer"),
                        fix,
                        None,
                    );
                }
            }
        }
        if let Some(m) = whittle_secrets::scan(text.as_bytes()).into_iter().next() {
            self.push(
                i,
                "secret-in-run",
                if ships {
                    Severity::High
                } else {
                    Severity::Medium
                },
                format!(
                    "RUN contains a {}; commands are recorded in the image history",
                    m.description
                ),
                "use RUN --mount=type=secret,id=… and read the secret from /run/secrets/…",
                Some(m.redacted),
            );
        }
    }

    fn copied_files(
        &mut self,
        copied: &[Copied],
        removed: &[(usize, String, &Instruction)],
        shipped: &[bool],
    ) {
        for c in copied {
            let ships = shipped.get(c.stage).copied().unwrap_or(false);
            let removal = removed.iter().find(|(stage, path, at)| {
                *stage == c.stage
                    && at.line > c.instr.line
                    && (*path == c.path
                        || c.path
                            .starts_with(&format!("{}/", path.trim_end_matches('/')))
                        || base_name(path) == c.base_name)
            });
            match (c.secret, removal) {
                (Some(rule), Some((_, _, at))) => self.push(
                    c.instr,
                    "secret-removed-later",
                    if ships { Severity::Critical } else { Severity::Medium },
                    format!(
                        "{} ({rule}) is copied to {} at line {} and removed at line {}, but it stays in the layer of line {}",
                        c.source, c.path, c.instr.line, at.line, c.instr.line
                    ),
                    "never COPY secrets: use RUN --mount=type=secret,id=… (or a multi-stage build that copies only the result)",
                    None,
                ),
                (Some(rule), None) => self.push(
                    c.instr,
                    "secret-file-copied",
                    if ships { Severity::High } else { Severity::Medium },
                    format!("{} ({rule}) is copied into the image at {}", c.source, c.path),
                    "keep it out of the build context (.dockerignore) and use RUN --mount=type=secret,id=… at build time",
                    None,
                ),
                (None, Some((_, _, at))) if ships => self.push(
                    c.instr,
                    "removed-later",
                    Severity::Low,
                    format!(
                        "{} is copied at line {} and removed at line {}: its bytes still ship in the earlier layer",
                        c.source, c.instr.line, at.line
                    ),
                    "copy it in a build stage, or use RUN --mount=type=bind so it never becomes a layer",
                    None,
                ),
                _ => {}
            }
        }
    }

    /// A single-stage image that installs, uses or starts from a toolchain.
    fn toolchain(&mut self, stage: &Stage) {
        let repo = stage.base.rsplit('/').next().unwrap_or("");
        let repo = repo
            .split([':', '@'])
            .next()
            .unwrap_or(repo)
            .to_ascii_lowercase();
        if TOOLCHAIN_IMAGES.contains(&repo.as_str()) {
            self.push(
                stage.from,
                "toolchain-kept",
                Severity::Medium,
                format!("single-stage image built on the {repo} toolchain image ships the whole toolchain"),
                "use a multi-stage build: compile in this stage, then COPY --from it into a minimal runtime image (distroless, a whittle image)",
                None,
            );
            return;
        }
        for i in stage.body.iter().filter(|i| i.keyword == "RUN") {
            for c in shell::commands(&i.full_text()) {
                let prog = c.program();
                let name = c.name();
                let sub = c.sub();
                let installed = matches!(name, "apt-get" | "apt" | "apk" | "dnf" | "yum")
                    && matches!(sub, "install" | "add");
                let tool = if installed {
                    prog.iter()
                        .skip(1)
                        .map(|w| w.split(['=', ':']).next().unwrap_or(w))
                        .find(|w| TOOLCHAIN_PACKAGES.contains(w))
                        .map(str::to_string)
                } else if (matches!(name, "go" | "cargo") && sub == "build")
                    || (name == "npm" && sub == "run" && prog.get(2).is_some_and(|w| w == "build"))
                {
                    Some(format!("{name} {sub}"))
                } else {
                    None
                };
                if let Some(tool) = tool {
                    self.push(
                        i,
                        "toolchain-kept",
                        Severity::Medium,
                        format!("single-stage image uses a toolchain ({tool}) and ships it"),
                        "use a multi-stage build: compile in one stage, then COPY --from it into a minimal runtime image",
                        None,
                    );
                    return;
                }
            }
        }
    }

    /// No `USER` in the final stage (or the stages it builds on), or `USER root`/`USER 0`.
    fn user(&mut self, stages: &[Stage]) {
        let Some(last) = stages.last() else {
            return;
        };
        let mut cur = Some(stages.len() - 1);
        while let Some(s) = cur {
            let Some(stage) = stages.get(s) else { break };
            if let Some(u) = stage.body.iter().rev().find(|i| i.keyword == "USER") {
                let text = u.text();
                let user = text.trim();
                let name = user.split(':').next().unwrap_or(user);
                if matches!(name, "root" | "0") {
                    self.push(
                        u,
                        "runs-as-root",
                        Severity::Medium,
                        format!("the image runs as {user}"),
                        "add a non-root user and end with USER <uid> (e.g. USER 65532)",
                        None,
                    );
                }
                return;
            }
            if stage.parent.is_none() {
                let base = stage.base.to_ascii_lowercase();
                let nonroot_base = base.contains("nonroot")
                    || (base.starts_with("cgr.dev/chainguard/") && !base.contains("-dev"));
                if nonroot_base {
                    return;
                }
            }
            cur = stage.parent;
        }
        self.push(
            last.from,
            "runs-as-root",
            Severity::Medium,
            "the final stage has no USER: the image runs as root".into(),
            "add a non-root user and end with USER <uid> (e.g. USER 65532), or use a :nonroot base",
            None,
        );
    }
}

#[cfg(test)]
mod tests;
