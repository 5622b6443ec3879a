//! The image config: apko's YAML schema plus whittle's extensions, parsed with
//! `FILE:LINE:COLUMN` errors and hints, validated, with relative paths resolved against the
//! config file's directory. See this crate's README.md for the field reference.
//!
//! ```
//! let cfg = whittle_config::Config::from_str(
//!     "image.yaml",
//!     "contents:\n  repositories:\n    - deb [signed-by=k.gpg] host:debian bookworm main\n  packages: [gawk]\nentrypoint:\n  command: /usr/bin/gawk\n",
//! )
//! .unwrap();
//! assert_eq!(cfg.entrypoint, vec!["/usr/bin/gawk"]);
//! assert!(cfg.warnings.iter().any(|w| w.message.contains("run as root")));
//! ```

mod append;
mod arch;
mod error;
mod glob;
pub mod host_mirror;
mod raw;
mod repo;
mod suggest;
mod validate;
mod words;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use append::Append;
pub use arch::{Arch, UnknownArch};
pub use error::{ConfigError, Diagnostic, Pos, Warning};
pub use glob::{MAX_GLOB_LEN, PathGlob};
pub use repo::{ApkRepo, DebRepo, Repository};
pub use words::{WordsError, quote_word, split_words};

/// The largest config file accepted, in bytes.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// The image annotation naming the source repository (set by `vcs-url` and `--vcs`).
pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
/// The image annotation naming the source revision (set by `vcs-url URL@REV` and `--vcs`).
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";

/// Whether `value` may be written into a field of `/etc/passwd` or `/etc/group`: no `:` (the
/// field separator), no `,` (the member separator) and no control character (a line break would
/// start an account of its own). The one rule for every such field, checked when a config is read
/// and again when the files are written.
pub fn passwd_field_ok(value: &str) -> bool {
    !value
        .chars()
        .any(|c| c == ':' || c == ',' || c.is_control())
}

/// A host path from the config: as written, and resolved against the config file's directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConfigPath {
    /// The path as written in the config.
    pub written: String,
    /// The path made absolute against the config file's directory (not canonicalized).
    pub resolved: PathBuf,
}

impl ConfigPath {
    /// Resolve `written` against `base_dir` (absolute paths stay as they are).
    pub fn resolve(written: &str, base_dir: &Path) -> Self {
        let p = Path::new(written);
        let resolved = if p.is_absolute() {
            p.to_path_buf()
        } else {
            let joined = base_dir.join(p);
            // Drop `.` components so `./target/x` reads naturally in messages.
            joined.components().collect()
        };
        ConfigPath {
            written: written.to_string(),
            resolved,
        }
    }
}

/// Where a `local` source may be read from: its real path (symlinks resolved, except that a
/// source which is itself a symlink is copied as a link and so only its directory is resolved)
/// must lie inside `base_dir` (the config file's directory) or one of `allowed` (roots the user
/// allowed explicitly, e.g. `whittle build --allow-path DIR`). A config comes from a repository
/// that CI checks out: it must not copy the build machine's secrets (`source: /etc/shadow`,
/// `../../etc/shadow`, a symlink to either) into an image.
///
/// Returns the real path and whether it lies outside `base_dir` (the caller warns about those);
/// the error says where the source resolved to and what to do.
pub fn confine_local_source(
    source: &ConfigPath,
    base_dir: &Path,
    allowed: &[PathBuf],
) -> Result<(PathBuf, bool), String> {
    confine(
        &Confinement::config("local source"),
        source,
        base_dir,
        allowed,
    )
}

/// Who reads a host path, for [`confine`]'s rule and its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confinement<'a> {
    /// What the path is (`local source`, `repository directory`, `fetch source`).
    pub what: &'a str,
    /// Whose directory bounds it (`config`, `recipe`).
    pub owner: &'a str,
    /// What it would otherwise leak secrets into (`the image`, `a package`).
    pub product: &'a str,
    /// The command whose `--allow-path` allows more (`whittle build`).
    pub command: &'a str,
    /// Whether a path that is itself a symlink is read through (its target must be inside),
    /// rather than copied as a link (only its directory must be inside).
    pub follow: bool,
}

impl<'a> Confinement<'a> {
    /// A path an image config names (`what`): copied as a link when it is one.
    pub fn config(what: &'a str) -> Self {
        Confinement {
            what,
            owner: "config",
            product: "the image",
            command: "whittle build",
            follow: false,
        }
    }
}

/// The one rule for any host path a config or recipe names: its real path (`..` and symlinks
/// resolved; see [`Confinement::follow`]) must lie inside `base_dir` (the config's or recipe's
/// directory) or one of `allowed` (`--allow-path` roots). Returns the real path and whether it
/// lies outside `base_dir`. A path that cannot be read is reported as such only when its
/// directory is inside: the error must not tell whether a file elsewhere on this machine exists.
pub fn confine(
    c: &Confinement<'_>,
    source: &ConfigPath,
    base_dir: &Path,
    allowed: &[PathBuf],
) -> Result<(PathBuf, bool), String> {
    let what = c.what;
    let resolved = &source.resolved;
    let roots = || std::iter::once(base_dir).chain(allowed.iter().map(PathBuf::as_path));
    let inside =
        |real: &Path, root: &Path| std::fs::canonicalize(root).is_ok_and(|r| real.starts_with(r));
    let real = std::fs::symlink_metadata(resolved).and_then(|md| {
        match (
            !c.follow && md.file_type().is_symlink(),
            resolved.file_name(),
            resolved.parent(),
        ) {
            (true, Some(name), Some(parent)) => std::fs::canonicalize(parent).map(|p| p.join(name)),
            _ => std::fs::canonicalize(resolved),
        }
    });
    let (real, found) = match real {
        Ok(real) => (real, true),
        Err(e)
            if resolved
                .parent()
                .and_then(|d| std::fs::canonicalize(d).ok())
                .is_some_and(|d| roots().any(|r| inside(&d, r))) =>
        {
            return Err(format!(
                "{what} `{}` ({}): {e}",
                source.written,
                resolved.display()
            ));
        }
        // not found and its directory is not inside: refused below, never accepted (a
        // `base/../x` that does not exist must not pass as lying under `base`)
        Err(_) => (resolved.clone(), false),
    };
    if found && inside(&real, base_dir) {
        return Ok((real, false));
    }
    if found && allowed.iter().any(|r| inside(&real, r)) {
        return Ok((real, true));
    }
    let (owner, dir) = (c.owner, base_dir.display());
    Err(format!(
        "{what} `{}` resolves to {}, outside the {owner}'s directory {dir}: a {owner} may only read files from its own directory tree (`..` and symlinks leading elsewhere are refused: it could otherwise copy this machine's secrets into {}); move it under {dir}, or, for a {owner} you trust, allow its directory with `{} --allow-path {}`",
        source.written,
        real.display(),
        c.product,
        c.command,
        real.parent().unwrap_or(Path::new("/")).display(),
    ))
}

/// A validated image config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The config's name as given (used in messages).
    pub origin: String,
    /// The directory relative paths were resolved against.
    pub base_dir: PathBuf,
    /// What goes into the image.
    pub contents: Contents,
    /// `entrypoint.command` split into argv; empty when not set.
    pub entrypoint: Vec<String>,
    /// `cmd` split into argv (or taken as a list); empty when not set.
    pub cmd: Vec<String>,
    /// `work-dir`: the absolute working directory, if set.
    pub work_dir: Option<String>,
    /// `environment`, sorted by name.
    pub environment: BTreeMap<String, String>,
    /// `accounts`: users, groups and the user the image runs as.
    pub accounts: Accounts,
    /// `paths`: filesystem changes, in the order written.
    pub paths: Vec<PathSpec>,
    /// `annotations` for the manifest/index, sorted by key.
    pub annotations: BTreeMap<String, String>,
    /// Target architectures, deduplicated in the order written; the host's when not set.
    pub archs: Vec<Arch>,
    /// `stop-signal`: the signal that stops the container (`SIGTERM`, `TERM`, `15`…).
    pub stop_signal: Option<String>,
    /// `volumes`: absolute paths marked as volumes in the image config, sorted, deduplicated.
    pub volumes: Vec<String>,
    /// `os-release`: the `/etc/os-release` to write (replacing a package's), if given.
    pub os_release: Option<OsRelease>,
    /// `layering`: how the image is split into layers; `None` is one layer.
    pub layering: Option<Layering>,
    /// `layer-compression`: how layers are compressed (gzip when not set).
    pub layer_compression: LayerCompression,
    /// Problems worth printing that do not stop the build.
    pub warnings: Vec<Warning>,
}

/// `layer-compression: gzip | zstd`: the codec of the image's layers (OCI media types
/// `tar+gzip` and `tar+zstd`). zstd layers are smaller and decompress faster, but older runtimes
/// (containerd before 1.5, Docker before 23) cannot pull them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LayerCompression {
    /// gzip, read by every runtime.
    #[default]
    Gzip,
    /// zstd.
    Zstd,
}

/// apko's `layering: {strategy: origin, budget: N}`: the packages are grouped by origin, the
/// `budget - 1` largest groups (at least one) get a layer each, the remaining packages share one
/// more, and the files no package owns go in a top layer: at most `budget + 1` layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layering {
    /// The most layers the packages are spread over (the top layer comes on top of them).
    pub budget: u32,
}

impl Layering {
    /// The largest budget accepted: containerd refuses images of more than 127 layers.
    pub const MAX_BUDGET: u32 = 126;
}

/// apko's `os-release`: the fields of `/etc/os-release` (os-release(5)); only those given are
/// written. With `id` and `version-id`, `/etc/<id>-release` holding the version is written too.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OsRelease {
    /// `NAME`.
    pub name: Option<String>,
    /// `ID` (lowercase `a-z0-9._-`).
    pub id: Option<String>,
    /// `VERSION_ID` (`a-zA-Z0-9._~-`).
    pub version_id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
    /// `HOME_URL`.
    pub home_url: Option<String>,
    /// `BUG_REPORT_URL`.
    pub bug_report_url: Option<String>,
}

impl OsRelease {
    /// The `/etc/os-release` text, in apko's field order, quoted values escaped as os-release(5)
    /// says (`"`, `\`, `$` and `` ` `` get a backslash).
    pub fn to_file(&self) -> String {
        fn quoted(v: &str) -> String {
            let mut s = String::with_capacity(v.len() + 2);
            s.push('"');
            for c in v.chars() {
                if matches!(c, '"' | '\\' | '$' | '`') {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
            s
        }
        let mut out = String::new();
        let mut line = |k: &str, v: String| {
            out.push_str(k);
            out.push('=');
            out.push_str(&v);
            out.push('\n');
        };
        if let Some(v) = &self.id {
            line("ID", v.clone());
        }
        if let Some(v) = &self.name {
            line("NAME", quoted(v));
        }
        if let Some(v) = &self.pretty_name {
            line("PRETTY_NAME", quoted(v));
        }
        if let Some(v) = &self.version_id {
            line("VERSION_ID", v.clone());
        }
        if let Some(v) = &self.home_url {
            line("HOME_URL", quoted(v));
        }
        if let Some(v) = &self.bug_report_url {
            line("BUG_REPORT_URL", quoted(v));
        }
        out
    }
}

/// `contents`: repositories, keys and packages.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Contents {
    /// Parsed `repositories` entries.
    pub repositories: Vec<Repository>,
    /// `build_repositories` (apko): used to resolve and fetch, not written into the image's
    /// `/etc/apk/repositories`.
    pub build_repositories: Vec<Repository>,
    /// `runtime_repositories` (apko): written into `/etc/apk/repositories` only, never used by
    /// the build.
    pub runtime_repositories: Vec<String>,
    /// `keyring`: OpenPGP keyrings for `deb` entries without `signed-by`.
    pub keyring: Vec<Keyring>,
    /// `packages` to install with their dependencies.
    pub packages: Vec<PackageSpec>,
    /// `exclude`: package names never installed (whittle extension).
    pub exclude: Vec<String>,
    /// `include-docs`: keep `/usr/share/{doc,man,info,locale}` (copyright files are always kept).
    pub include_docs: bool,
    /// `include-script-dependencies`: install the dependencies that only serve maintainer
    /// scripts (dpkg, debconf, install-info, ...), which are waived by default (Debian).
    pub include_script_dependencies: bool,
    /// `path-exclude`: package files left out of the image (whittle extension, dpkg's
    /// `--path-exclude` patterns).
    pub path_exclude: Vec<PathGlob>,
    /// `path-include`: exceptions to `path-exclude` (dpkg's `--path-include`).
    pub path_include: Vec<PathGlob>,
    /// `baseimage` (apko's `contents.baseimage`): the image this one is built on top of.
    pub base_image: Option<BaseImage>,
}

/// `contents.baseimage`: the image a build puts its layers on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseImage {
    /// The reference as written: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE`, or a registry reference (`registry/repo:tag`, `docker://…`).
    pub image: String,
    /// A local reference's path made absolute against the config's directory (the reference
    /// as written otherwise).
    pub resolved: String,
    /// The directory or archive a local reference reads (`None` for a registry reference):
    /// confined to the config's directory like other host paths it names.
    pub local: Option<ConfigPath>,
    /// Where it was written.
    pub pos: Pos,
}

impl Contents {
    /// Whether a package's file at `path` (relative: `usr/lib/…`) is left out by `path-exclude`
    /// (and not taken back by `path-include`).
    pub fn path_excluded(&self, path: &str) -> bool {
        self.path_exclude.iter().any(|g| g.matches(path))
            && !self.path_include.iter().any(|g| g.matches(path))
    }
}

/// A `contents.keyring` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    /// Where the keyring comes from.
    pub source: KeyringSource,
    /// Where it was written.
    pub pos: Pos,
}

/// Where a keyring comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyringSource {
    /// A local file.
    File(ConfigPath),
    /// An `http(s)://` URL.
    Url(String),
}

/// A `contents.packages` entry: `name`, or `name` + operator + version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageSpec {
    /// The package name (may contain `:`, e.g. `so:libc.so.6` or `libc6:amd64`).
    pub name: String,
    /// The version constraint, if any.
    pub constraint: Option<VersionConstraint>,
    /// The entry as written.
    pub written: String,
    /// Where it was written.
    pub pos: Pos,
}

/// A version constraint on a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionConstraint {
    /// The operator.
    pub op: ConstraintOp,
    /// The version (compared with the package format's own rules).
    pub version: String,
}

/// A version constraint operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstraintOp {
    /// `=`
    Eq,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `>` or Debian's `>>`
    Gt,
    /// `<` or Debian's `<<`
    Lt,
    /// `~` or `=~`: APK's fuzzy (prefix) match.
    Fuzzy,
}

impl ConstraintOp {
    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintOp::Eq => "=",
            ConstraintOp::Ge => ">=",
            ConstraintOp::Le => "<=",
            ConstraintOp::Gt => ">",
            ConstraintOp::Lt => "<",
            ConstraintOp::Fuzzy => "~",
        }
    }
}

/// `accounts`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Accounts {
    /// Groups to add to `/etc/group`.
    pub groups: Vec<Group>,
    /// Users to add to `/etc/passwd`.
    pub users: Vec<User>,
    /// Who the image runs as; `None` means root (a warning is emitted).
    pub run_as: Option<RunAs>,
}

/// A group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The group name.
    pub groupname: String,
    /// The group id.
    pub gid: u32,
    /// User names in the group.
    pub members: Vec<String>,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub username: String,
    /// The user id.
    pub uid: u32,
    /// The primary group id (defaults to `uid`).
    pub gid: u32,
    /// The login shell (defaults to `/sbin/nologin`: whittle images usually have no shell).
    pub shell: String,
    /// The home directory (defaults to `/home/<username>`).
    pub homedir: String,
}

/// The user the image runs as, resolved to numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// The value as written (a name or a number).
    pub written: String,
    /// The uid.
    pub uid: u32,
    /// The primary gid when `run-as` names a declared user (or `root`).
    pub gid: Option<u32>,
    /// The user name when `run-as` names a declared user (or `root`).
    pub username: Option<String>,
}

impl RunAs {
    /// The OCI config `User` value: numeric `uid[:gid]`, needing no `/etc/passwd` lookup.
    pub fn oci_user(&self) -> String {
        match self.gid {
            Some(g) => format!("{}:{g}", self.uid),
            None => self.uid.to_string(),
        }
    }
}

/// A `paths` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathSpec {
    /// The absolute, normalized path in the image.
    pub path: String,
    /// What to do there.
    pub kind: PathKind,
    /// Owner uid (default 0).
    pub uid: u32,
    /// Owner gid (default 0).
    pub gid: u32,
    /// Permission bits: given, or 0o755 for `directory`, 0o644 for `empty-file`; `None` means
    /// "not applicable" (links) or "from the source file" (`local`: 0o755 if executable, else 0o644).
    pub permissions: Option<u32>,
    /// Apply to everything below (only `directory`, `permissions` and `local`).
    pub recursive: bool,
    /// Where the entry was written.
    pub pos: Pos,
}

/// The kind of a `paths` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// `directory`: create it (and missing parents).
    Directory,
    /// `empty-file`: create an empty regular file.
    EmptyFile,
    /// `symlink` to `target` (written as `source`; relative or absolute).
    Symlink {
        /// The link target.
        target: String,
    },
    /// `hardlink` to the existing image file `target` (written as `source`).
    Hardlink {
        /// The absolute path of the existing file in the image.
        target: String,
    },
    /// `permissions`: change owner/mode of an existing path.
    Permissions,
    /// `local` (whittle extension): copy a file or directory (recursively) from the build context.
    Local {
        /// The host path, resolved against the config file's directory.
        source: ConfigPath,
    },
}

/// Internal: a problem with a value, before it is given a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            hint: None,
        }
    }
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Set the hint unless a more specific one is already there.
    pub(crate) fn or_hint(mut self, hint: impl Into<String>) -> Self {
        if self.hint.is_none() {
            self.hint = Some(hint.into());
        }
        self
    }
}

impl Config {
    /// Read and validate the config file at `path`; relative paths in it resolve against its
    /// directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let f = std::fs::File::open(path).map_err(read_err)?;
        let mut buf = Vec::new();
        f.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        let origin = path.display().to_string();
        if buf.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                origin,
                limit: MAX_CONFIG_BYTES,
            });
        }
        let text = String::from_utf8(buf).map_err(|e| {
            read_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 text ({e})"),
            ))
        })?;
        Self::from_str(path, &text)
    }

    /// Parse and validate config `text`; `origin` names it in messages and its parent
    /// directory (made absolute) is the base for relative paths.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(origin: impl AsRef<Path>, text: &str) -> Result<Config, ConfigError> {
        let origin = origin.as_ref();
        let origin_name = origin.display().to_string();
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                origin: origin_name,
                limit: MAX_CONFIG_BYTES,
            });
        }
        let parent = origin.parent().unwrap_or(Path::new(""));
        let base_dir = std::path::absolute(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        })
        .unwrap_or_else(|_| parent.to_path_buf());
        let base_dir: PathBuf = base_dir.components().collect();
        validate::parse(origin_name, base_dir, text)
    }

    /// Check that the host files the config names (keyrings, `signed-by`, `local` sources)
    /// exist, and that every `local` source lies inside the config's directory or one of
    /// `allowed` ([`confine_local_source`]), reporting each problem at its position. Returns one
    /// warning per source read from an allowed root outside the config's directory.
    pub fn check_files(&self, allowed: &[PathBuf]) -> Result<Vec<Warning>, ConfigError> {
        validate::check_files(self, allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One rule, two readers: a config keeps a symlink as a link (only its directory must be
    /// inside), a recipe's fetch reads through it (its target must be inside); each message names
    /// its owner and command; a missing file outside is reported as outside, never as missing.
    #[test]
    fn confine_follows_links_only_when_asked_and_names_its_caller() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        std::fs::create_dir(&base).unwrap();
        std::fs::write(dir.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), base.join("link")).unwrap();
        let link = ConfigPath::resolve("link", &base);
        let config = Confinement::config("local source");
        let (real, outside) = confine(&config, &link, &base, &[]).unwrap();
        assert!(
            real.ends_with("base/link") && !outside,
            "{}",
            real.display()
        );
        let recipe = Confinement {
            what: "fetch source",
            owner: "recipe",
            product: "a package",
            command: "whittle pkg build",
            follow: true,
        };
        let e = confine(&recipe, &link, &base, &[]).unwrap_err();
        assert!(
            e.contains("fetch source `link`")
                && e.contains("outside the recipe's directory")
                && e.contains("`whittle pkg build --allow-path"),
            "{e}"
        );
        let (_, outside) = confine(&recipe, &link, &base, &[dir.path().to_path_buf()]).unwrap();
        assert!(outside);
        let missing = ConfigPath::resolve("../nothing-here", &base);
        let e = confine(&config, &missing, &base, &[]).unwrap_err();
        assert!(
            e.contains("outside the config's directory") && !e.contains("No such"),
            "{e}"
        );
        let missing = ConfigPath::resolve("nothing-here", &base);
        let e = confine(&config, &missing, &base, &[]).unwrap_err();
        assert!(e.contains("No such file"), "{e}");
    }
}
