//! YAML → [`RawConfig`] → validated [`Config`], collecting every problem with its position.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

use crate::raw::{
    IntOrString, RawAccounts, RawBaseImage, RawConfig, RawContents, RawLayering, RawOsRelease,
    RawPath, RawPathType, StringOrList,
};
use crate::repo::{Repository, parse_repository};
use crate::suggest::{closest, did_you_mean};
use crate::{
    Accounts, Arch, Config, ConfigError, ConfigPath, ConstraintOp, Contents, Diagnostic, Group,
    Keyring, KeyringSource, OsRelease, PackageSpec, PathKind, PathSpec, Pos, Problem, RunAs, User,
    VersionConstraint, Warning, split_words,
};

/// apko fields whittle does not implement, with what to do instead, so the error names the
/// field and the way forward instead of suggesting a typo.
const APKO_UNSUPPORTED: [(&str, &str); 8] = [
    (
        "include",
        "apko's deprecated `include` (merging another config) is not supported; copy the included fields into this file",
    ),
    (
        "options",
        "apko's named `options` (config variants) are not supported; write one config file per variant",
    ),
    (
        "baseimage",
        "`baseimage` goes under `contents`: `contents: {baseimage: {image: oci:DIR}}`",
    ),
    (
        "type",
        "whittle has no service supervisor (`type: service-bundle`); set `entrypoint.command` to the program to run",
    ),
    (
        "shell-fragment",
        "`shell-fragment` is not supported; write the command with its arguments in `entrypoint.command`",
    ),
    (
        "services",
        "whittle has no service supervisor (`type: service-bundle`); set `entrypoint.command` to the program to run",
    ),
    (
        "certificates",
        "add certificates as files with a `paths` entry of `type: local` (e.g. under /usr/local/share/ca-certificates) and install `ca-certificates-bundle`/`ca-certificates`",
    ),
    (
        "image",
        "`image` (name/version) is not an image config field; give the image name with `-o` (e.g. `oci:DIR:TAG`), and a version as an `annotations` entry `org.opencontainers.image.version`",
    ),
];

const REFERENCE: &str = "see the config reference in crates/whittle-config/README.md";

/// The largest uid/gid accepted (`u32::MAX` means "no id" to the kernel).
const MAX_ID: u32 = u32::MAX - 1;

struct Ctx<'a> {
    origin: String,
    lines: Vec<&'a str>,
    base_dir: PathBuf,
    diags: Vec<Diagnostic>,
    warnings: Vec<Warning>,
}

fn pos<T>(s: &Spanned<T>) -> Pos {
    Pos::new(s.referenced.line(), s.referenced.column())
}

impl Ctx<'_> {
    fn diag(&self, pos: Pos, p: Problem) -> Diagnostic {
        let pos = if pos.is_known() { pos } else { Pos::new(1, 1) };
        let source_line = usize::try_from(pos.line)
            .ok()
            .and_then(|l| self.lines.get(l.saturating_sub(1)))
            .map(|l| {
                let l: String = l.chars().take(200).collect();
                l.trim_end().to_string()
            });
        Diagnostic {
            origin: self.origin.clone(),
            pos,
            message: p.message,
            hint: p.hint,
            source_line,
        }
    }

    fn err(&mut self, pos: Pos, p: Problem) {
        let d = self.diag(pos, p);
        self.diags.push(d);
    }

    fn warn(&mut self, pos: Option<Pos>, message: impl Into<String>) {
        self.warnings.push(Warning {
            origin: self.origin.clone(),
            pos,
            message: message.into(),
        });
    }
}

pub(crate) fn parse(origin: String, base_dir: PathBuf, text: &str) -> Result<Config, ConfigError> {
    let mut ctx = Ctx {
        origin,
        lines: text.lines().collect(),
        base_dir,
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---");
    if !meaningful {
        return Err(ConfigError::Syntax(Box::new(ctx.diag(
            Pos::new(1, 1),
            Problem::new("the config is empty")
                .hint("start with `contents:` (repositories, packages) and `entrypoint:`; see the config reference in crates/whittle-config/README.md"),
        ))));
    }
    let mut opts = serde_saphyr::Options::default();
    // apko (go-yaml) reads `0755` as octal; so do we.
    opts.legacy_octal_numbers = true;
    opts.with_snippet = false;
    let raw: RawConfig = match serde_saphyr::from_str_with_options(text, opts) {
        Ok(r) => r,
        Err(e) => return Err(ConfigError::Syntax(Box::new(syntax_diag(&ctx, &e)))),
    };
    let cfg = convert(&mut ctx, raw);
    if ctx.diags.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError::Invalid(ctx.diags))
    }
}

fn syntax_diag(ctx: &Ctx, e: &serde_saphyr::Error) -> Diagnostic {
    let inner = e.without_snippet();
    let msg = UserMessageFormatter.format_message(inner).into_owned();
    let p = e
        .location()
        .map(|l| Pos::new(l.line(), l.column()))
        .unwrap_or_default();
    let hint = syntax_hint(&msg, p);
    ctx.diag(p, Problem { message: msg, hint })
}

/// The name between the first pair of backticks after `prefix`, and the names after
/// "expected one of " / "expected ".
fn unknown_and_expected(msg: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let name = rest[..end].to_string();
    let tail = &rest[end + 1..];
    let expected = tail
        .split_once("expected one of ")
        .or_else(|| tail.split_once("expected "))
        .map(|(_, list)| {
            list.split(',')
                .map(|s| s.trim().trim_matches('`').to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Some((name, expected))
}

fn syntax_hint(msg: &str, p: Pos) -> Option<String> {
    if let Some((name, expected)) = unknown_and_expected(msg, "unknown field `") {
        if let Some((_, what)) = APKO_UNSUPPORTED.iter().find(|(n, _)| *n == name) {
            return Some(format!(
                "`{name}` is not supported by whittle: {what} ({REFERENCE})"
            ));
        }
        if let Some(d) = did_you_mean(&name, expected.iter().map(String::as_str)) {
            return Some(d);
        }
        return Some(format!("remove `{name}` or fix its spelling; {REFERENCE}"));
    }
    if let Some((name, expected)) = unknown_and_expected(msg, "unknown variant `") {
        return Some(
            did_you_mean(&name, expected.iter().map(String::as_str))
                .unwrap_or_else(|| format!("use one of: {}", expected.join(", "))),
        );
    }
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        return Some(format!("add `{field}:` to this entry; {REFERENCE}"));
    }
    let m = msg.to_ascii_lowercase();
    let hint = if m.contains("invalid u32") || m.contains("invalid u64") {
        "expected a whole number from 0 to 4294967294 here".to_string()
    } else if m.contains("duplicate mapping key") {
        "each key may appear once in a mapping; merge the two entries".to_string()
    } else if m.contains("multiple") && m.contains("document") {
        "a config is one YAML document: remove the `---` separator and what follows, or split it into two files".to_string()
    } else if m.contains("expected mapping") || m.contains("expected struct") {
        if p == Pos::new(1, 1) {
            format!(
                "the config is a YAML mapping with keys such as `contents:` and `entrypoint:`; {REFERENCE}"
            )
        } else {
            "this key takes a mapping of `key: value` lines".to_string()
        }
    } else if m.contains("expected sequence") || m.contains("expected a sequence") {
        "this key takes a list: `- item` lines or `[a, b]`".to_string()
    } else if m.contains("expected string") {
        "this key takes a single string; quote it if it contains `: ` or ` #`, or starts with `[`, `{`, `*`, `&`, `!`, `@` or `%`".to_string()
    } else if m.contains("null") {
        "give a value here, or remove the key".to_string()
    } else if m.contains("bool") {
        "expected `true` or `false`".to_string()
    } else if m.contains("permissions") {
        "write permissions as 0o755, or as a quoted octal string such as \"0755\"".to_string()
    } else {
        REFERENCE.to_string()
    };
    Some(hint)
}

fn convert(ctx: &mut Ctx, raw: RawConfig) -> Config {
    let contents = raw
        .contents
        .map(|c| convert_contents(ctx, c))
        .unwrap_or_default();

    let entrypoint = match raw.entrypoint.and_then(|e| e.command) {
        Some(c) => {
            let p = pos(&c);
            let argv = argv(ctx, c, "entrypoint.command");
            if argv.is_empty() {
                ctx.err(
                    p,
                    Problem::new("`entrypoint.command` is empty")
                        .hint("give the program to run, e.g. `command: /usr/bin/gawk`, or remove `entrypoint`"),
                );
            }
            argv
        }
        None => Vec::new(),
    };
    let cmd = raw.cmd.map(|c| argv(ctx, c, "cmd")).unwrap_or_default();
    // (on a base image, the base's entrypoint, cmd and user are the defaults)
    let on_base = contents.base_image.is_some();
    if entrypoint.is_empty() && cmd.is_empty() && !on_base {
        ctx.warn(
            None,
            "no `entrypoint` or `cmd`: the image has nothing to run by default",
        );
    }

    let work_dir = raw.work_dir.and_then(|w| match image_path(&w.value) {
        Ok(p) => Some(p),
        Err(prob) => {
            ctx.err(
                pos(&w),
                prob.or_hint("`work-dir` is an absolute path in the image, e.g. `/home/nonroot`"),
            );
            None
        }
    });

    let mut environment = BTreeMap::new();
    for (k, v) in raw.environment {
        let p = pos(&v);
        if k.is_empty()
            || k.chars()
                .any(|c| c == '=' || c.is_whitespace() || c.is_control())
        {
            ctx.err(
                p,
                Problem::new(format!("invalid environment variable name `{}`", shown(&k)))
                    .hint("a name is non-empty, with no `=`, space or control character; portable names are letters, digits and `_`"),
            );
            continue;
        }
        if v.value.contains('\0') {
            ctx.err(
                p,
                Problem::new(format!("environment variable `{k}` contains a NUL byte")),
            );
            continue;
        }
        environment.insert(k, v.value);
    }

    let mut annotations = BTreeMap::new();
    for (k, v) in raw.annotations {
        if k.trim().is_empty() {
            ctx.err(
                pos(&v),
                Problem::new("empty annotation key")
                    .hint("use reverse-DNS keys such as `org.opencontainers.image.source`"),
            );
            continue;
        }
        annotations.insert(k, v.value);
    }

    let stop_signal = raw.stop_signal.and_then(|s| {
        let v = s.value.trim();
        let name = v.strip_prefix("SIG").unwrap_or(v);
        let ok = !name.is_empty()
            && (name.chars().all(|c| c.is_ascii_digit())
                || name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+' || c == '-'));
        if ok {
            Some(v.to_string())
        } else {
            ctx.err(
                pos(&s),
                Problem::new(format!("`stop-signal: {}` is not a signal", s.value)).hint(
                    "give a signal name or number, e.g. `SIGTERM`, `SIGINT`, `SIGRTMIN+3` or `15`",
                ),
            );
            None
        }
    });

    let mut volumes = Vec::new();
    for v in &raw.volumes {
        match image_path(&v.value) {
            Ok(p) => volumes.push(p),
            Err(prob) => ctx.err(
                pos(v),
                prob.or_hint("a volume is an absolute path in the image, e.g. `/data`"),
            ),
        }
    }
    volumes.sort();
    volumes.dedup();

    if let Some(v) = &raw.vcs_url {
        let url = v.value.trim();
        if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            ctx.err(
                pos(v),
                Problem::new("`vcs-url` is empty or contains spaces")
                    .hint("give the source repository, optionally with the commit: `https://github.com/org/repo@<commit>`"),
            );
        } else {
            // apko: `URL@REVISION` gives the source and revision annotations; explicit
            // `annotations` win.
            let (source, revision) = match url.rsplit_once('@') {
                Some((u, r)) if !r.is_empty() && !r.contains('/') && !u.is_empty() => (u, Some(r)),
                _ => (url, None),
            };
            annotations
                .entry(crate::ANNOTATION_SOURCE.to_string())
                .or_insert_with(|| source.to_string());
            if let Some(r) = revision {
                annotations
                    .entry(crate::ANNOTATION_REVISION.to_string())
                    .or_insert_with(|| r.to_string());
            }
        }
    }

    let os_release = raw.os_release.map(|o| convert_os_release(ctx, o));
    let layering = raw.layering.and_then(|l| convert_layering(ctx, l));
    let layer_compression = match raw.layer_compression {
        None => crate::LayerCompression::Gzip,
        Some(c) => match c.value.trim() {
            "gzip" => crate::LayerCompression::Gzip,
            "zstd" => crate::LayerCompression::Zstd,
            other => {
                ctx.err(
                    pos(&c),
                    Problem::new(format!("unknown layer-compression `{other}`"))
                        .hint("use `gzip` (every runtime reads it) or `zstd` (smaller, faster; containerd 1.5+, Docker 23+, podman)"),
                );
                crate::LayerCompression::Gzip
            }
        },
    };

    let accounts = convert_accounts(ctx, raw.accounts, on_base);
    let paths = convert_paths(ctx, raw.paths);

    let mut archs: Vec<Arch> = Vec::new();
    for a in &raw.archs {
        match Arch::parse(a.value.trim()) {
            Some(x) if archs.contains(&x) => {
                ctx.warn(
                    Some(pos(a)),
                    format!("architecture `{}` is listed twice (as {x})", a.value),
                );
            }
            Some(x) => archs.push(x),
            None => {
                let hint = did_you_mean(&a.value, Arch::SPELLINGS).unwrap_or_else(|| {
                    "known: amd64 (x86_64), arm64 (aarch64), armhf (armv7), armel, i386, ppc64el (ppc64le), s390x, riscv64".to_string()
                });
                ctx.err(
                    pos(a),
                    Problem::new(format!("unknown architecture `{}`", a.value)).hint(hint),
                );
            }
        }
    }
    if raw.archs.is_empty() {
        match Arch::host() {
            Some(h) => archs.push(h),
            None => ctx.err(
                Pos::new(1, 1),
                Problem::new(format!(
                    "no `archs` given and this host's architecture `{}` is not one whittle builds for",
                    std::env::consts::ARCH
                ))
                .hint("add `archs: [amd64]` (or arm64, …)"),
            ),
        }
    }

    if contents.packages.is_empty()
        && !paths
            .iter()
            .any(|p| matches!(p.kind, PathKind::Local { .. }))
    {
        ctx.warn(
            None,
            "no `contents.packages` and no `local` paths: the image will hold almost nothing",
        );
    }

    Config {
        origin: ctx.origin.clone(),
        base_dir: ctx.base_dir.clone(),
        contents,
        entrypoint,
        cmd,
        work_dir,
        environment,
        accounts,
        paths,
        annotations,
        archs,
        stop_signal,
        volumes,
        os_release,
        layering,
        layer_compression,
        warnings: std::mem::take(&mut ctx.warnings),
    }
}

/// apko's `layering`: `{}` is one layer (as apko reads it); otherwise `strategy: origin` (the
/// one strategy) and a budget up to [`crate::Layering::MAX_BUDGET`].
fn convert_layering(ctx: &mut Ctx, raw: Spanned<RawLayering>) -> Option<crate::Layering> {
    let at = pos(&raw);
    let RawLayering { strategy, budget } = raw.value;
    if strategy.is_none() && budget.as_ref().is_none_or(|b| b.value == 0) {
        return None;
    }
    match &strategy {
        Some(s) if s.value == "origin" => {}
        Some(s) => {
            ctx.err(
                pos(s),
                Problem::new(format!("unknown layering strategy `{}`", s.value))
                    .hint("the one strategy is `origin` (packages grouped by the source they were built from)"),
            );
            return None;
        }
        None => {
            ctx.err(
                at,
                Problem::new("`layering` without `strategy`")
                    .hint("write `layering: {strategy: origin, budget: 10}`"),
            );
            return None;
        }
    }
    let budget = budget.map_or(0, |b| b.value);
    if budget > crate::Layering::MAX_BUDGET {
        ctx.err(
            at,
            Problem::new(format!("layering budget {budget} is too large")).hint(format!(
                "container runtimes refuse images of more than 127 layers; give a budget up to {} (10 is a good start)",
                crate::Layering::MAX_BUDGET
            )),
        );
        return None;
    }
    Some(crate::Layering { budget })
}

fn convert_os_release(ctx: &mut Ctx, raw: Spanned<RawOsRelease>) -> OsRelease {
    let r = raw.value;
    let text = |ctx: &mut Ctx, v: Option<Spanned<String>>, field: &str| -> Option<String> {
        let v = v?;
        if v.value.contains(['\n', '\r', '\0']) {
            ctx.err(
                pos(&v),
                Problem::new(format!(
                    "`os-release.{field}` contains a line break or NUL byte"
                ))
                .hint("os-release values are one line of text"),
            );
            return None;
        }
        Some(v.value)
    };
    let name = text(ctx, r.name, "name");
    let pretty_name = text(ctx, r.pretty_name, "pretty-name");
    let home_url = text(ctx, r.home_url, "home-url");
    let bug_report_url = text(ctx, r.bug_report_url, "bug-report-url");
    let word = |ctx: &mut Ctx,
                v: Option<Spanned<String>>,
                field: &str,
                ok: fn(char) -> bool,
                hint: &str| {
        let v = v?;
        if v.value.is_empty() || !v.value.chars().all(ok) {
            ctx.err(
                pos(&v),
                Problem::new(format!("`os-release.{field}: {}` is not valid", v.value))
                    .hint(hint.to_string()),
            );
            return None;
        }
        Some(v.value)
    };
    let id = word(
        ctx,
        r.id,
        "id",
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'),
        "an os-release ID is lowercase letters, digits, `.`, `_` and `-`, e.g. `wolfi` or `alpine`",
    );
    let version_id = word(
        ctx,
        r.version_id,
        "version-id",
        |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~'),
        "an os-release VERSION_ID is letters, digits, `.`, `_`, `-` and `~`, e.g. `3.20` or `20230201`",
    );
    OsRelease {
        name,
        id,
        version_id,
        pretty_name,
        home_url,
        bug_report_url,
    }
}

fn argv(ctx: &mut Ctx, v: Spanned<StringOrList>, field: &str) -> Vec<String> {
    let p = pos(&v);
    match v.value {
        StringOrList::List(l) => {
            if l.iter().any(|s| s.contains('\0')) {
                ctx.err(p, Problem::new(format!("`{field}` contains a NUL byte")));
            }
            l
        }
        StringOrList::String(s) => match split_words(&s) {
            Ok(w) => w,
            Err(e) => {
                ctx.err(
                    p,
                    Problem::new(format!("cannot split `{field}` into words: {e}")).hint(
                        "close the quote, or write the arguments as a YAML list: [\"/bin/prog\", \"arg with spaces\"]",
                    ),
                );
                Vec::new()
            }
        },
    }
}

/// Validate and normalize an absolute path inside the image.
fn image_path(s: &str) -> Result<String, Problem> {
    if !s.starts_with('/') {
        return Err(Problem::new(format!("path `{s}` is not absolute")));
    }
    if s.contains('\0') {
        return Err(Problem::new("path contains a NUL byte"));
    }
    let mut parts = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Problem::new(format!("path `{s}` contains `..`"))
                    .hint("write the path without `..` components"));
            }
            c => parts.push(c),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Checks a value that lands in a field of `/etc/passwd` or `/etc/group` (a home directory, a
/// shell): [`crate::passwd_field_ok`] must hold, else the value could end the field or the line
/// and add an account of its own choosing.
fn passwd_field(value: String, field: &str) -> Result<String, Problem> {
    if crate::passwd_field_ok(&value) {
        Ok(value)
    } else {
        Err(Problem::new(format!(
            "`{field}` `{}` contains `:`, a line break or another control character",
            shown(&value)
        ))
        .hint("these would break /etc/passwd into other fields or lines; write a plain path"))
    }
}

/// `s` for a message: control characters escaped, at most 80 characters (a hostile config cannot
/// make an error message as large as itself).
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_debug).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let body = s.trim_end_matches('$');
    first_ok
        && s.len() <= 32
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `contents.baseimage`: a local reference's path is made absolute against the config's
/// directory; apko's `apkindex` is not needed (the base's own package database is read).
fn convert_base_image(ctx: &mut Ctx, b: &Spanned<RawBaseImage>) -> Option<crate::BaseImage> {
    if let Some(a) = &b.value.apkindex {
        ctx.warn(
            Some(pos(a)),
            "`apkindex` is not needed: whittle reads the base image's installed packages from its layers; remove it",
        );
    }
    let image = b.value.image.value.trim();
    let at = pos(&b.value.image);
    if image.is_empty() || image.len() > 4096 || image.chars().any(char::is_control) {
        ctx.err(
            at,
            Problem::new(format!("invalid base image reference `{}`", shown(image)))
                .hint("give `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE` or a registry reference such as `registry.example/base:1`"),
        );
        return None;
    }
    let local = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .find_map(|scheme| Some((*scheme, image.strip_prefix(scheme)?)));
    let resolved = match local {
        Some((scheme, rest)) if !rest.starts_with('/') => {
            format!("{scheme}{}", ctx.base_dir.join(rest).display())
        }
        _ => image.to_string(),
    };
    // the directory or archive a relative local reference reads (before any `:TAG`)
    let local = local.map(|(_, rest)| {
        let path = rest.split(':').next().unwrap_or(rest);
        ConfigPath::resolve(path, &ctx.base_dir)
    });
    Some(crate::BaseImage {
        image: image.to_string(),
        resolved,
        local,
        pos: at,
    })
}

fn convert_contents(ctx: &mut Ctx, c: RawContents) -> Contents {
    let mut out = Contents {
        include_docs: c.include_docs.unwrap_or(false),
        include_script_dependencies: c.include_script_dependencies.unwrap_or(false),
        ..Contents::default()
    };
    for (list, into) in [
        (&c.repositories, &mut out.repositories),
        (&c.build_repositories, &mut out.build_repositories),
    ] {
        for r in list {
            match parse_repository(&r.value, pos(r), &ctx.base_dir) {
                Ok(repo) => into.push(repo),
                Err(p) => ctx.err(pos(r), p),
            }
        }
    }
    for r in &c.runtime_repositories {
        match parse_repository(&r.value, pos(r), &ctx.base_dir) {
            Ok(Repository::Apk(_)) => out.runtime_repositories.push(r.value.trim().to_string()),
            Ok(Repository::Deb(_)) => ctx.err(
                pos(r),
                Problem::new("runtime_repositories is for APK repositories (written to /etc/apk/repositories)"),
            ),
            Err(p) => ctx.err(pos(r), p),
        }
    }
    for k in &c.keyring {
        let v = k.value.trim();
        if v.is_empty() {
            ctx.err(pos(k), Problem::new("empty keyring entry"));
        } else if v.starts_with("https://") || v.starts_with("http://") {
            out.keyring.push(Keyring {
                source: KeyringSource::Url(v.to_string()),
                pos: pos(k),
            });
        } else if v.contains("://") {
            ctx.err(
                pos(k),
                Problem::new(format!("unsupported keyring URL `{v}`"))
                    .hint("use an http(s):// URL or a file path relative to the config file"),
            );
        } else {
            out.keyring.push(Keyring {
                source: KeyringSource::File(ConfigPath::resolve(v, &ctx.base_dir)),
                pos: pos(k),
            });
        }
    }
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for p in &c.packages {
        match parse_package(&p.value) {
            Ok((name, constraint)) => {
                if let Some(first) = seen.get(&name) {
                    ctx.warn(
                        Some(pos(p)),
                        format!(
                            "package `{name}` is listed twice (first at line {})",
                            first.line
                        ),
                    );
                } else {
                    seen.insert(name.clone(), pos(p));
                }
                out.packages.push(PackageSpec {
                    name,
                    constraint,
                    written: p.value.clone(),
                    pos: pos(p),
                });
            }
            Err(prob) => ctx.err(pos(p), prob),
        }
    }
    let mut excl = HashSet::new();
    for e in &c.exclude {
        let name = e.value.trim();
        if name.is_empty() || !name.chars().all(package_name_char) {
            ctx.err(
                pos(e),
                Problem::new(format!("invalid package name `{}` in `exclude`", e.value))
                    .hint("exclude takes bare package names, without versions"),
            );
            continue;
        }
        if let Some(first) = seen.get(name) {
            ctx.err(
                *first,
                Problem::new(format!(
                    "package `{name}` is both in `packages` and in `exclude`"
                ))
                .hint("remove it from one of the two lists"),
            );
        }
        if excl.insert(name.to_string()) {
            out.exclude.push(name.to_string());
        }
    }
    for (list, field, into) in [
        (&c.path_exclude, "path-exclude", &mut out.path_exclude),
        (&c.path_include, "path-include", &mut out.path_include),
    ] {
        for p in list {
            match crate::PathGlob::parse(p.value.trim()) {
                Ok(g) => into.push(g),
                Err(why) => ctx.err(
                    pos(p),
                    Problem::new(format!("invalid pattern in `{field}`: {why}"))
                        .hint("patterns are dpkg's: `/usr/share/doc/*`, `/usr/lib/*/gconv/*`"),
                ),
            }
        }
    }
    if let Some(b) = &c.baseimage {
        out.base_image = convert_base_image(ctx, b);
    }
    if out.path_exclude.is_empty() && !out.path_include.is_empty() {
        ctx.warn(
            c.path_include.first().map(pos),
            "`path-include` has no effect without `path-exclude`",
        );
    }

    let mut needs_keyring = false;
    for r in &out.repositories {
        match r {
            Repository::Deb(d) if d.trusted => ctx.warn(
                Some(d.pos),
                "`trusted=yes` turns off signature checks for this repository; the build refuses it unless it is run with the explicit insecure option",
            ),
            Repository::Deb(d) if d.signed_by.is_none() => {
                if out.keyring.is_empty() {
                    ctx.err(
                        d.pos,
                        Problem::new("this deb repository has no `signed-by` and `contents.keyring` is empty, so its InRelease file cannot be verified")
                            .hint("add `[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]` (or your key file) after `deb`, or list the key under `contents.keyring`"),
                    );
                }
                needs_keyring = true;
            }
            Repository::Apk(_) => needs_keyring = true,
            Repository::Deb(_) => {}
        }
    }
    if !out.keyring.is_empty() && !needs_keyring {
        let p = out.keyring.first().map(|k| k.pos);
        ctx.warn(
            p,
            "`contents.keyring` is not used: every repository has its own `signed-by`",
        );
    }
    out
}

fn package_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_' | ':' | '@' | '/')
}

/// `name`, `name=ver`, `name>=ver`, … → name and constraint.
pub(crate) fn parse_package(s: &str) -> Result<(String, Option<VersionConstraint>), Problem> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Problem::new("empty package entry"));
    }
    if t.contains('|') {
        return Err(
            Problem::new(format!("`{t}`: alternatives are not supported"))
                .hint("list the one package you want"),
        );
    }
    if t.contains('(') || t.contains(')') {
        return Err(Problem::new(format!(
            "`{t}`: parenthesized constraints are not supported"
        ))
        .hint("write `name>=version` (or `=`, `<=`, `>`, `<`), e.g. `libc6>=2.36`"));
    }
    let split = t.find(['=', '<', '>', '~']);
    let (name, rest) = match split {
        Some(i) => (t[..i].trim(), Some(&t[i..])),
        None => (t, None),
    };
    if name.is_empty() {
        return Err(Problem::new(format!("`{t}` has no package name")));
    }
    if let Some(bad) = name.chars().find(|c| !package_name_char(*c)) {
        let mut p = Problem::new(format!(
            "invalid character {bad:?} in package name `{name}`"
        ));
        if bad.is_whitespace() {
            p = p.hint("one package per list entry; write versions as `name=version`");
        }
        return Err(p);
    }
    let constraint = match rest {
        None => None,
        Some(rest) => {
            const OPS: [(&str, ConstraintOp); 9] = [
                (">=", ConstraintOp::Ge),
                ("<=", ConstraintOp::Le),
                (">>", ConstraintOp::Gt),
                ("<<", ConstraintOp::Lt),
                ("=~", ConstraintOp::Fuzzy),
                ("=", ConstraintOp::Eq),
                (">", ConstraintOp::Gt),
                ("<", ConstraintOp::Lt),
                ("~", ConstraintOp::Fuzzy),
            ];
            let (op_text, op) = OPS
                .iter()
                .find(|(o, _)| rest.starts_with(o))
                .copied()
                .unwrap_or(("=", ConstraintOp::Eq));
            let version = rest[op_text.len()..].trim();
            if version.is_empty() {
                return Err(
                    Problem::new(format!("`{t}` has an operator but no version"))
                        .hint("write e.g. `libc6=2.36-9+deb12u10` or just the name"),
                );
            }
            if version
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '=' | '<' | '>'))
            {
                return Err(Problem::new(format!(
                    "invalid version `{version}` in `{t}`"
                )));
            }
            Some(VersionConstraint {
                op,
                version: version.to_string(),
            })
        }
    };
    Ok((name.to_string(), constraint))
}

fn check_id(ctx: &mut Ctx, v: &Spanned<u32>, what: &str) -> u32 {
    if v.value > MAX_ID {
        ctx.err(
            pos(v),
            Problem::new(format!("{what} {} is out of range", v.value))
                .hint("ids go from 0 to 4294967294 (4294967295 means \"no id\")"),
        );
    }
    v.value
}

fn convert_accounts(ctx: &mut Ctx, raw: Option<RawAccounts>, on_base: bool) -> Accounts {
    let Some(raw) = raw else {
        if on_base {
            return Accounts::default();
        }
        ctx.warn(
            None,
            "no `accounts.run-as`: the image will run as root; add a user (e.g. `nonroot`, uid 65532) and set `accounts.run-as`",
        );
        return Accounts::default();
    };
    let mut out = Accounts::default();
    let mut group_names: HashMap<String, Pos> = HashMap::new();
    let mut gids: HashMap<u32, String> = HashMap::new();
    for g in &raw.groups {
        let name = &g.value.groupname;
        if !valid_name(&name.value) {
            ctx.err(
                pos(name),
                Problem::new(format!("invalid group name `{}`", shown(&name.value))).hint(
                    "up to 32 characters: a letter or `_`, then letters, digits, `_`, `-` or `.`",
                ),
            );
        }
        if let Some(first) = group_names.get(&name.value) {
            let line = first.line;
            ctx.err(
                pos(name),
                Problem::new(format!(
                    "group `{}` is declared twice (first at line {line})",
                    name.value
                ))
                .hint("remove one of the two entries or rename one"),
            );
        } else {
            group_names.insert(name.value.clone(), pos(name));
        }
        let gid = check_id(ctx, &g.value.gid, "gid");
        if let Some(other) = gids.get(&gid) {
            ctx.warn(
                Some(pos(&g.value.gid)),
                format!("gid {gid} is used by groups `{other}` and `{}`", name.value),
            );
        } else {
            gids.insert(gid, name.value.clone());
        }
        for m in &g.value.members {
            if !valid_name(&m.value) {
                ctx.err(
                    pos(m),
                    Problem::new(format!("invalid group member `{}`", shown(&m.value)))
                        .hint("members are user names: up to 32 characters, a letter or `_`, then letters, digits, `_`, `-` or `.`"),
                );
            }
        }
        out.groups.push(Group {
            groupname: name.value.clone(),
            gid,
            members: g.value.members.iter().map(|m| m.value.clone()).collect(),
        });
    }

    let mut user_names: HashMap<String, Pos> = HashMap::new();
    let mut uids: HashMap<u32, String> = HashMap::new();
    for u in &raw.users {
        let r = &u.value;
        let name = &r.username;
        if !valid_name(&name.value) {
            ctx.err(
                pos(name),
                Problem::new(format!("invalid user name `{}`", shown(&name.value))).hint(
                    "up to 32 characters: a letter or `_`, then letters, digits, `_`, `-` or `.`",
                ),
            );
        }
        if let Some(first) = user_names.get(&name.value) {
            let line = first.line;
            ctx.err(
                pos(name),
                Problem::new(format!(
                    "user `{}` is declared twice (first at line {line})",
                    name.value
                ))
                .hint("remove one of the two entries or rename one"),
            );
        } else {
            user_names.insert(name.value.clone(), pos(name));
        }
        let uid = check_id(ctx, &r.uid, "uid");
        if let Some(other) = uids.get(&uid) {
            ctx.warn(
                Some(pos(&r.uid)),
                format!("uid {uid} is used by users `{other}` and `{}`", name.value),
            );
        } else {
            uids.insert(uid, name.value.clone());
        }
        let gid = match &r.gid {
            Some(g) => {
                let gid = check_id(ctx, g, "gid");
                if gid != 0 && !gids.contains_key(&gid) {
                    ctx.warn(
                        Some(pos(g)),
                        format!(
                            "user `{}` has gid {gid}, which no declared group has",
                            name.value
                        ),
                    );
                }
                gid
            }
            None => uid,
        };
        let homedir = match &r.homedir {
            Some(h) => match image_path(&h.value).and_then(|p| passwd_field(p, "homedir")) {
                Ok(p) => p,
                Err(prob) => {
                    ctx.err(
                        pos(h),
                        prob.or_hint("`homedir` is an absolute path, e.g. `/home/nonroot`"),
                    );
                    String::new()
                }
            },
            None => format!("/home/{}", name.value),
        };
        let shell = match &r.shell {
            Some(s) => match image_path(&s.value).and_then(|p| passwd_field(p, "shell")) {
                Ok(p) => p,
                Err(prob) => {
                    ctx.err(
                        pos(s),
                        prob.or_hint("`shell` is an absolute path, e.g. `/sbin/nologin`"),
                    );
                    String::new()
                }
            },
            None => "/sbin/nologin".to_string(),
        };
        out.users.push(User {
            username: name.value.clone(),
            uid,
            gid,
            shell,
            homedir,
        });
    }

    for g in &raw.groups {
        for m in &g.value.members {
            if !user_names.contains_key(&m.value) && m.value != "root" {
                ctx.warn(
                    Some(pos(m)),
                    format!("group member `{}` is not a declared user", m.value),
                );
            }
        }
    }

    match &raw.run_as {
        None if on_base => {}
        None => ctx.warn(
            None,
            "no `accounts.run-as`: the image will run as root; set `accounts.run-as` to a declared user",
        ),
        Some(r) => {
            let p = pos(r);
            let run_as = match &r.value {
                IntOrString::Int(n) => numeric_run_as(ctx, p, *n, &out.users),
                IntOrString::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => {
                    match s.parse::<u64>() {
                        Ok(n) => numeric_run_as(ctx, p, n, &out.users),
                        Err(_) => {
                            ctx.err(p, Problem::new(format!("uid `{s}` is out of range")));
                            None
                        }
                    }
                }
                IntOrString::String(s) if s == "root" => Some(RunAs {
                    written: s.clone(),
                    uid: 0,
                    gid: Some(0),
                    username: Some("root".into()),
                }),
                IntOrString::String(s) => match out.users.iter().find(|u| &u.username == s) {
                    Some(u) => Some(RunAs {
                        written: s.clone(),
                        uid: u.uid,
                        gid: Some(u.gid),
                        username: Some(u.username.clone()),
                    }),
                    None => {
                        let names: Vec<&str> = out.users.iter().map(|u| u.username.as_str()).collect();
                        let hint = match closest(s, names.iter().copied()) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None if names.is_empty() => "declare it under `accounts.users`, or give a numeric uid".to_string(),
                            None => format!("declared users: {}; or give a numeric uid", names.join(", ")),
                        };
                        ctx.err(p, Problem::new(format!("`run-as: {s}` is not a declared user")).hint(hint));
                        None
                    }
                },
            };
            if let Some(ra) = &run_as
                && ra.uid == 0
            {
                ctx.warn(Some(p), "`run-as` is root: the image will run as root");
            }
            out.run_as = run_as;
        }
    }
    out
}

fn numeric_run_as(ctx: &mut Ctx, p: Pos, n: u64, users: &[User]) -> Option<RunAs> {
    match u32::try_from(n) {
        Ok(uid) if uid <= MAX_ID => {
            let user = users.iter().find(|u| u.uid == uid);
            Some(RunAs {
                written: n.to_string(),
                uid,
                gid: user.map(|u| u.gid).or((uid == 0).then_some(0)),
                username: user.map(|u| u.username.clone()),
            })
        }
        _ => {
            ctx.err(
                p,
                Problem::new(format!("`run-as` uid {n} is out of range"))
                    .hint("ids go from 0 to 4294967294"),
            );
            None
        }
    }
}

fn convert_paths(ctx: &mut Ctx, raw: Vec<Spanned<RawPath>>) -> Vec<PathSpec> {
    let mut out = Vec::new();
    let mut created: HashMap<String, Pos> = HashMap::new();
    for entry in raw {
        let entry_pos = pos(&entry);
        let r = entry.value;
        let kind_pos = pos(&r.kind);
        let kind = r.kind.value;
        let before = ctx.diags.len();
        let path = match image_path(&r.path.value) {
            Ok(p) => p,
            Err(prob) => {
                ctx.err(
                    pos(&r.path),
                    prob.or_hint("`path` is an absolute path in the image, e.g. `/data`"),
                );
                String::new()
            }
        };
        let uid = r.uid.as_ref().map(|v| check_id(ctx, v, "uid")).unwrap_or(0);
        let gid = r.gid.as_ref().map(|v| check_id(ctx, v, "gid")).unwrap_or(0);
        let recursive = r.recursive.as_ref().map(|v| v.value).unwrap_or(false);
        let type_name = match kind {
            RawPathType::Directory => "directory",
            RawPathType::EmptyFile => "empty-file",
            RawPathType::Symlink => "symlink",
            RawPathType::Hardlink => "hardlink",
            RawPathType::Permissions => "permissions",
            RawPathType::Local => "local",
        };

        let needs_source = matches!(
            kind,
            RawPathType::Symlink | RawPathType::Hardlink | RawPathType::Local
        );
        let source = match (&r.source, needs_source) {
            (None, true) => {
                let example = match kind {
                    RawPathType::Symlink => "source: gawk",
                    RawPathType::Hardlink => "source: /usr/bin/gawk",
                    _ => "source: ./target/release/server",
                };
                ctx.err(
                    kind_pos,
                    Problem::new(format!("`type: {type_name}` needs a `source`"))
                        .hint(format!("add e.g. `{example}`")),
                );
                None
            }
            (Some(s), false) => {
                ctx.err(
                    pos(s),
                    Problem::new(format!("`source` is not used by `type: {type_name}`"))
                        .hint("only symlink, hardlink and local take a `source`; remove it"),
                );
                None
            }
            (Some(s), true) if s.value.is_empty() || s.value.contains('\0') => {
                ctx.err(
                    pos(s),
                    Problem::new("`source` is empty or contains a NUL byte"),
                );
                None
            }
            (s, _) => s.as_ref().map(|s| (s.value.clone(), pos(s))),
        };

        let perms = r.permissions.as_ref().map(|p| (p.value.0, pos(p)));
        let permissions = match kind {
            RawPathType::Directory => Some(perms.map(|p| p.0).unwrap_or(0o755)),
            RawPathType::EmptyFile => Some(perms.map(|p| p.0).unwrap_or(0o644)),
            RawPathType::Local => perms.map(|p| p.0),
            RawPathType::Permissions => {
                if perms.is_none() {
                    ctx.err(
                        kind_pos,
                        Problem::new("`type: permissions` needs `permissions`")
                            .hint("add e.g. `permissions: 0o755`"),
                    );
                }
                perms.map(|p| p.0)
            }
            RawPathType::Symlink | RawPathType::Hardlink => {
                if let Some((_, p)) = perms {
                    ctx.err(
                        p,
                        Problem::new(format!("`permissions` do not apply to `type: {type_name}`"))
                            .hint("links take the target's permissions; remove it"),
                    );
                }
                None
            }
        };
        if recursive
            && matches!(
                kind,
                RawPathType::EmptyFile | RawPathType::Symlink | RawPathType::Hardlink
            )
            && let Some(rv) = &r.recursive
        {
            ctx.err(
                pos(rv),
                Problem::new(format!("`recursive` does not apply to `type: {type_name}`"))
                    .hint("only directory, permissions and local take `recursive`"),
            );
        }

        let kind = match (kind, source) {
            (RawPathType::Directory, _) => PathKind::Directory,
            (RawPathType::EmptyFile, _) => PathKind::EmptyFile,
            (RawPathType::Permissions, _) => PathKind::Permissions,
            (RawPathType::Symlink, Some((s, _))) => PathKind::Symlink { target: s },
            (RawPathType::Hardlink, Some((s, sp))) => match image_path(&s) {
                Ok(t) => PathKind::Hardlink { target: t },
                Err(prob) => {
                    ctx.err(sp, prob.or_hint("a hardlink `source` is the absolute path of an existing file in the image"));
                    PathKind::Hardlink { target: s }
                }
            },
            (RawPathType::Local, Some((s, _))) => PathKind::Local {
                source: ConfigPath::resolve(&s, &ctx.base_dir),
            },
            (_, None) => continue,
        };

        if !matches!(kind, PathKind::Permissions) && !path.is_empty() {
            if let Some(first) = created.get(&path) {
                let line = first.line;
                ctx.err(
                    pos(&r.path),
                    Problem::new(format!(
                        "`{path}` is already created by the entry at line {line}"
                    ))
                    .hint("use `type: permissions` to change an existing path"),
                );
            } else {
                created.insert(path.clone(), entry_pos);
            }
        }
        if ctx.diags.len() > before {
            continue;
        }
        out.push(PathSpec {
            path,
            kind,
            uid,
            gid,
            permissions,
            recursive,
            pos: entry_pos,
        });
    }
    out
}

pub(crate) fn check_files(cfg: &Config, allowed: &[PathBuf]) -> Result<Vec<Warning>, ConfigError> {
    let lines: Vec<&str> = Vec::new();
    let mut ctx = Ctx {
        origin: cfg.origin.clone(),
        lines,
        base_dir: cfg.base_dir.clone(),
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    let check = |ctx: &mut Ctx, p: &ConfigPath, at: Pos, what: &str| {
        if !p.resolved.exists() {
            ctx.err(
                at,
                Problem::new(format!(
                    "{what} `{}` not found (looked at {})",
                    p.written,
                    p.resolved.display()
                ))
                .hint("relative paths are relative to the config file's directory"),
            );
        }
    };
    // relative keyrings and repository directories: checked, and confined like `local` sources
    // (absolute ones name system locations, e.g. /usr/share/keyrings, on purpose)
    let mut named: Vec<(&ConfigPath, Pos, &str)> = Vec::new();
    for k in &cfg.contents.keyring {
        if let KeyringSource::File(p) = &k.source {
            named.push((p, k.pos, "keyring"));
        }
    }
    for r in cfg
        .contents
        .repositories
        .iter()
        .chain(&cfg.contents.build_repositories)
    {
        match r {
            Repository::Deb(d) => {
                if let Some(p) = &d.signed_by {
                    named.push((p, d.pos, "signed-by keyring"));
                }
            }
            Repository::Apk(a) => {
                if let Some(p) = &a.relative {
                    named.push((p, a.pos, "repository directory"));
                }
            }
        }
    }
    let confine_named = |ctx: &mut Ctx, p: &ConfigPath, at: Pos, what: &str| {
        if Path::new(&p.written).is_absolute() || std::fs::symlink_metadata(&p.resolved).is_err() {
            return;
        }
        match crate::confine(&crate::Confinement::config(what), p, &cfg.base_dir, allowed) {
            Ok((real, true)) => ctx.warn(
                Some(at),
                format!(
                    "{what} `{}` is read from {}, outside the config's directory (allowed by --allow-path)",
                    p.written,
                    real.display()
                ),
            ),
            Ok((_, false)) => {}
            Err(message) => ctx.err(at, Problem::new(message)),
        }
    };
    for (p, at, what) in named {
        check(&mut ctx, p, at, what);
        confine_named(&mut ctx, p, at, what);
    }
    // a local base image's layers become the image's bottom layers: confined the same way (a
    // missing one is reported when it is opened, naming the reference)
    if let Some(b) = &cfg.contents.base_image
        && let Some(p) = &b.local
    {
        confine_named(&mut ctx, p, b.pos, "base image");
    }
    for p in &cfg.paths {
        if let PathKind::Local { source } = &p.kind {
            check(&mut ctx, source, p.pos, "local source");
            // nothing there at all (a dangling symlink is checked: it is copied as a link)
            if std::fs::symlink_metadata(&source.resolved).is_err() {
                continue;
            }
            match crate::confine_local_source(source, &cfg.base_dir, allowed) {
                Ok((real, true)) => ctx.warn(
                    Some(p.pos),
                    format!(
                        "local source `{}` is read from {}, outside the config's directory (allowed by --allow-path)",
                        source.written,
                        real.display()
                    ),
                ),
                Ok((_, false)) => {}
                Err(message) => ctx.err(
                    p.pos,
                    Problem::new(message).hint(
                        "keep the files an image needs beside its config (e.g. in the same repository)",
                    ),
                ),
            }
        }
    }
    if ctx.diags.is_empty() {
        Ok(ctx.warnings)
    } else {
        Err(ConfigError::Invalid(ctx.diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages() {
        let ok = |s: &str| parse_package(s).unwrap();
        assert_eq!(ok("gawk"), ("gawk".to_string(), None));
        let (n, c) = ok("libc6=2.36-9+deb12u10");
        assert_eq!(n, "libc6");
        assert_eq!(
            c,
            Some(VersionConstraint {
                op: ConstraintOp::Eq,
                version: "2.36-9+deb12u10".into()
            })
        );
        assert_eq!(ok("foo>=1.0").1.unwrap().op, ConstraintOp::Ge);
        assert_eq!(ok("foo << 2").1.unwrap().op, ConstraintOp::Lt);
        assert_eq!(ok("foo>>2").1.unwrap().op, ConstraintOp::Gt);
        assert_eq!(ok("foo~1.2").1.unwrap().op, ConstraintOp::Fuzzy);
        assert_eq!(
            ok("foo=~1.2").1.unwrap(),
            VersionConstraint {
                op: ConstraintOp::Fuzzy,
                version: "1.2".into()
            }
        );
        assert_eq!(ok("so:libc.so.6").0, "so:libc.so.6");
        for bad in [
            "",
            "=1",
            "foo=",
            "foo bar",
            "a | b",
            "foo (>= 1)",
            "foo>=1 2",
        ] {
            assert!(parse_package(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_paths() {
        assert_eq!(image_path("/data/").unwrap(), "/data");
        assert_eq!(image_path("//a/./b").unwrap(), "/a/b");
        assert_eq!(image_path("/").unwrap(), "/");
        assert!(image_path("data").is_err());
        assert!(image_path("/a/../etc").is_err());
    }

    #[test]
    fn names() {
        assert!(valid_name("nonroot"));
        assert!(valid_name("_apt"));
        assert!(valid_name("build$"));
        assert!(!valid_name("1abc"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(33)));
    }

    #[test]
    fn hint_extraction() {
        let (n, e) = unknown_and_expected(
            "unknown field `entrypoin`, expected one of contents, entrypoint, cmd",
            "unknown field `",
        )
        .unwrap();
        assert_eq!(n, "entrypoin");
        assert_eq!(e, ["contents", "entrypoint", "cmd"]);
    }
}
