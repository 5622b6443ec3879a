//! The recipe schema (melange's where it matters), parsed with `file:line:column` errors:
//! `package`, `environment` (an image config, kept as YAML text for `whittle-config`),
//! `pipeline` steps (`runs:` or `uses:` a built-in), `subpackages`, `vars`, `test`, and the
//! `${{package.version}}`-style substitutions.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, IgnoredAny};
use serde_saphyr::{MessageFormatter as _, Spanned};
use whittle_config::{Diagnostic, Pos};

use crate::apk::FoundOptions;
use crate::limits::{self, Limits};
use crate::{Error, Result};

/// Largest recipe file accepted.
pub const MAX_RECIPE_BYTES: u64 = 1 << 20;

/// Where `${{targets.destdir}}` and `${{targets.subpkgdir}}` live in the sandbox.
pub const OUT_DIR: &str = "/home/build/melange-out";
/// The workspace (source directory) in the sandbox.
pub const WORKSPACE: &str = "/home/build";

/// The built-in pipelines `uses:` may name, each with the `with:` inputs it takes.
pub const BUILTINS: &[(&str, &[&str])] = &[
    (
        "fetch",
        &[
            "uri",
            "expected-sha256",
            "expected-sha512",
            "strip-components",
            "extract",
        ],
    ),
    (
        "git-checkout",
        &[
            "repository",
            "destination",
            "branch",
            "tag",
            "expected-commit",
            "depth",
        ],
    ),
    ("autoconf/configure", &["dir", "host", "build", "opts"]),
    ("autoconf/make", &["dir", "opts"]),
    ("autoconf/make-install", &["dir", "opts"]),
    (
        "cargo/build",
        &["output", "opts", "modroot", "prefix", "install-dir"],
    ),
    ("cmake/configure", &["output-dir", "opts"]),
    ("cmake/build", &["output-dir", "opts"]),
    ("cmake/install", &["output-dir"]),
    ("meson/configure", &["output-dir", "opts"]),
    ("meson/compile", &["output-dir", "opts"]),
    ("meson/install", &["output-dir"]),
    (
        "go/build",
        &[
            "packages",
            "output",
            "tags",
            "ldflags",
            "modroot",
            "prefix",
            "install-dir",
            "vendor",
            "subpackage",
            "deps",
            "go-package",
        ],
    ),
    (
        "go/install",
        &[
            "package",
            "version",
            "prefix",
            "install-dir",
            "ldflags",
            "strip",
            "tags",
            "experiments",
            "amd64",
            "arm64",
            "go-package",
        ],
    ),
    ("python/build-wheel", &[]),
    ("python/install", &[]),
    ("strip", &["opts"]),
    ("patch", &["patches", "series", "strip-components", "fuzz"]),
    ("git-am", &["patches"]),
    ("split/dev", &["package", "prefix"]),
    ("split/static", &["package"]),
    ("split/locales", &["package"]),
    ("split/manpages", &["package"]),
    ("split/infodir", &["package"]),
    ("split/debug", &["package"]),
];

/// The `with:` inputs of built-in pipeline `uses`; `None` when there is no such built-in.
fn builtin_inputs(uses: &str) -> Option<&'static [&'static str]> {
    BUILTINS
        .iter()
        .find(|(name, _)| *name == uses)
        .map(|(_, inputs)| *inputs)
}

// ---- raw schema -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    package: RawPackage,
    #[serde(default)]
    environment: Option<Spanned<IgnoredAny>>,
    #[serde(default)]
    pipeline: Vec<Spanned<RawStep>>,
    #[serde(default)]
    subpackages: Vec<RawSubpackage>,
    #[serde(default)]
    vars: BTreeMap<String, Scalar>,
    #[serde(default, rename = "var-transforms")]
    var_transforms: Vec<Spanned<RawVarTransform>>,
    #[serde(default)]
    data: Vec<RawData>,
    #[serde(default)]
    test: Option<RawTest>,
}

/// `var-transforms`: `vars.TO` is `FROM` with every match of the regular expression `match`
/// replaced by `replace` (`$1`, `${name}` name groups), as melange.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVarTransform {
    from: String,
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    replace: String,
    to: String,
}

/// `data`: named item maps that `range` subpackages iterate over.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    name: String,
    items: BTreeMap<String, Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPackage {
    name: Spanned<String>,
    version: Spanned<Scalar>,
    #[serde(default)]
    epoch: u64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    copyright: Vec<RawCopyright>,
    #[serde(default)]
    dependencies: RawDeps,
    #[serde(default)]
    target_architecture: Vec<String>,
    #[serde(default)]
    timeout: Option<Spanned<Scalar>>,
    #[serde(default)]
    resources: Option<RawResources>,
    #[serde(default)]
    checks: RawChecks,
    #[serde(default)]
    options: RawOptions,
}

/// `options`: melange's switches for the dependencies found in the files.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawOptions {
    #[serde(default)]
    no_provides: bool,
    #[serde(default)]
    no_depends: bool,
    #[serde(default)]
    no_commands: bool,
}

impl RawOptions {
    fn found(&self) -> FoundOptions {
        FoundOptions {
            no_provides: self.no_provides,
            no_depends: self.no_depends,
            no_commands: self.no_commands,
        }
    }
}

/// `checks`: linters downgraded from required to warn for this package (melange's field).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    #[serde(default)]
    disabled: Vec<Spanned<String>>,
}

/// `package.resources`: melange's fields, plus `processes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    #[serde(default)]
    memory: Option<Spanned<Scalar>>,
    #[serde(default)]
    processes: Option<Spanned<Scalar>>,
    /// Accepted for melange compatibility; not enforced.
    #[serde(default)]
    #[allow(dead_code)]
    cpu: Option<Scalar>,
    /// Accepted for melange compatibility; not enforced.
    #[serde(default)]
    #[allow(dead_code)]
    cpumodel: Option<Scalar>,
    /// Accepted for melange compatibility; not enforced.
    #[serde(default)]
    #[allow(dead_code)]
    disk: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCopyright {
    license: String,
    /// Accepted for melange compatibility; not used.
    #[serde(default)]
    #[allow(dead_code)]
    paths: Vec<String>,
    /// Accepted for melange compatibility; not used.
    #[serde(default)]
    #[allow(dead_code)]
    attestation: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDeps {
    #[serde(default)]
    runtime: Vec<String>,
    #[serde(default)]
    provides: Vec<String>,
    #[serde(default)]
    replaces: Vec<String>,
    #[serde(default)]
    provider_priority: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStep {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "if")]
    condition: Option<Spanned<String>>,
    #[serde(default)]
    uses: Option<Spanned<String>>,
    #[serde(default)]
    with: BTreeMap<String, Spanned<Scalar>>,
    #[serde(default)]
    runs: Option<Spanned<String>>,
    #[serde(default)]
    working_directory: Option<String>,
    #[serde(default)]
    environment: BTreeMap<String, Scalar>,
    #[serde(default)]
    network: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubpackage {
    name: Spanned<String>,
    #[serde(default)]
    range: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    dependencies: RawDeps,
    #[serde(default)]
    pipeline: Vec<Spanned<RawStep>>,
    #[serde(default)]
    checks: RawChecks,
    #[serde(default)]
    options: RawOptions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    #[serde(default)]
    environment: Option<Spanned<IgnoredAny>>,
    #[serde(default)]
    pipeline: Vec<Spanned<RawStep>>,
}

/// A scalar read as text (`1.2`, `true` and `42` stay as written).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        // the scalar as written: `1.0` stays `1.0`, not the float 1
        d.deserialize_str(V)
    }
}

// ---- validated recipe -------------------------------------------------------------------

/// An embedded image config (`environment`): its YAML text, dedented, and where it sits in the
/// recipe so that its errors can point into the recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// The YAML text.
    pub text: String,
    /// Lines before its first line in the recipe.
    pub line_offset: u64,
    /// Columns removed from every line.
    pub column_offset: u64,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A shell script run in the sandbox.
    Shell(String),
    /// Download `uri` (host side), check its SHA-256 and unpack it into the workspace.
    Fetch {
        /// The URI (`https://`, `file://` or a path).
        uri: String,
        /// Expected lowercase hex SHA-256.
        sha256: String,
        /// Expected lowercase hex SHA-512 too, when the recipe gives `expected-sha512`.
        sha512: Option<String>,
        /// Leading path components dropped when unpacking.
        strip_components: usize,
        /// Unpack the archive (else keep the file as is).
        extract: bool,
    },
    /// Clone `repository` (host side) at `reference`, check that it is `expected_commit`, and
    /// put the checkout (with its `.git`) into `destination`.
    GitCheckout {
        /// What `git clone` takes: `https://…`, `file://…`, a path.
        repository: String,
        /// Sandbox path of the checkout (`working-directory` + `destination`).
        destination: String,
        /// `branch` or `tag` to clone; the default branch when `None`.
        reference: Option<String>,
        /// The commit the checkout must be (full hex object id).
        expected_commit: String,
        /// `depth` of the clone; full history when `None`.
        depth: Option<u32>,
    },
    /// Move files from package `from`'s directory into package `to`'s (melange's `split/*`
    /// pipelines, done by whittle on the host side).
    Split {
        /// Which files.
        kind: Split,
        /// The package the files leave.
        from: String,
        /// The package they go to.
        to: String,
    },
}

/// What a `split/*` pipeline moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// `split/dev`: headers, pkg-config and CMake files, `*-config` scripts, static libraries,
    /// `.so` development symlinks, …, under `prefix` (no leading `/`, `usr` by default).
    Dev {
        /// The installation prefix.
        prefix: String,
    },
    /// `split/static`: `*.a` under `lib/` and `usr/`.
    Static,
    /// `split/locales`: `usr/share/locale`.
    Locales,
    /// `split/manpages`: `usr/share/man`, `usr/local/share/man`, `usr/man` → `usr/share/man`.
    Manpages,
    /// `split/infodir`: `usr/share/info` (its `dir` index removed).
    Infodir,
    /// `split/debug`: the debug information of every ELF shared object and position-independent
    /// program, as `usr/lib/debug/PATH.debug` (`objcopy` in the sandbox; needs binutils).
    Debug,
}

/// One pipeline step, substitutions applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `file:line:column` of the step.
    pub at: String,
    /// Its name (`name:`, else `uses:`, else the first line of `runs:`).
    pub name: String,
    /// What it does.
    pub action: Action,
    /// Directory (in the sandbox) it runs in.
    pub working_directory: String,
    /// Extra environment variables.
    pub environment: BTreeMap<String, String>,
    /// Whether it may use the network.
    pub network: bool,
}

impl Step {
    /// `file:line:column: name`, how errors name the step.
    pub fn label(&self) -> String {
        format!("{}: {}", self.at, self.name)
    }
}

/// What `.PKGINFO` says, from `package` or a subpackage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageInfo {
    /// Package name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Upstream URL.
    pub url: String,
    /// `dependencies.runtime`.
    pub runtime: Vec<String>,
    /// `dependencies.provides`.
    pub provides: Vec<String>,
    /// `dependencies.replaces`.
    pub replaces: Vec<String>,
    /// `dependencies.provider-priority`.
    pub provider_priority: Option<u64>,
    /// `checks.disabled`: linters that only warn for this package.
    pub checks_disabled: Vec<String>,
    /// `options`: which found dependencies to leave out.
    pub options: FoundOptions,
}

/// A subpackage: its metadata and the steps that fill its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subpackage {
    /// Metadata.
    pub info: PackageInfo,
    /// Its pipeline.
    pub pipeline: Vec<Step>,
}

/// The `test` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Its own environment, else the build environment is used.
    pub environment: Option<Embedded>,
    /// Steps run against the built package.
    pub pipeline: Vec<Step>,
}

/// A parsed, validated recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// The file name as given.
    pub origin: String,
    /// The recipe text (it goes into the package as `.melange.yaml`).
    pub text: String,
    /// The main package.
    pub package: PackageInfo,
    /// `package.version`.
    pub version: String,
    /// `package.epoch`.
    pub epoch: u64,
    /// `VERSION-rEPOCH`.
    pub full_version: String,
    /// The licenses of `package.copyright`.
    pub licenses: Vec<String>,
    /// `package.commit`.
    pub commit: Option<String>,
    /// `package.target-architecture` (empty or `all` = any).
    pub target_architecture: Vec<String>,
    /// `package.timeout` and `package.resources`, defaults filled in.
    pub limits: Limits,
    /// The build environment.
    pub environment: Option<Embedded>,
    /// The main pipeline.
    pub pipeline: Vec<Step>,
    /// Subpackages in order.
    pub subpackages: Vec<Subpackage>,
    /// The test section.
    pub test: Option<Test>,
}

struct Ctx<'a> {
    origin: String,
    lines: Vec<&'a str>,
    diags: Vec<Diagnostic>,
    /// Directories of the user's own pipeline YAMLs (melange's `--pipeline-dir`).
    pipeline_dirs: &'a [PathBuf],
    /// The main package's name (whose directory `split/*` moves files out of by default).
    main: String,
}

impl Ctx<'_> {
    fn diag(&self, pos: Pos, message: String, hint: Option<String>) -> Diagnostic {
        let pos = if pos.is_known() { pos } else { Pos::new(1, 1) };
        Diagnostic {
            origin: self.origin.clone(),
            pos,
            message,
            hint,
            source_line: usize::try_from(pos.line)
                .ok()
                .and_then(|l| self.lines.get(l.saturating_sub(1)))
                .map(|l| {
                    l.chars()
                        .take(200)
                        .collect::<String>()
                        .trim_end()
                        .to_string()
                }),
        }
    }
    fn err(&mut self, pos: Pos, message: impl Into<String>, hint: Option<&str>) {
        let d = self.diag(pos, message.into(), hint.map(str::to_string));
        self.diags.push(d);
    }
    fn at(&self, pos: Pos) -> String {
        format!("{}:{}:{}", self.origin, pos.line, pos.column)
    }
}

fn pos<T>(s: &Spanned<T>) -> Pos {
    Pos::new(s.referenced.line(), s.referenced.column())
}

/// Most bytes that substitutions may produce over a whole recipe (a 1 MiB recipe repeating
/// `${{vars.big}}`, a `var-transforms` replacement repeated at every match, or a large step in
/// a `range` of many items would otherwise expand to many gigabytes).
pub const MAX_EXPANDED_BYTES: usize = 64 << 20;

/// Most subpackages a recipe may have once its `range` subpackages are expanded.
pub const MAX_SUBPACKAGES: usize = 1000;

/// Values `${{…}}` may name: a shared base (the package's fields and vars) under a small
/// map of its own (a subpackage's, a pipeline's inputs), so copies do not copy the vars.
struct Vars {
    base: std::rc::Rc<BTreeMap<String, String>>,
    map: BTreeMap<String, String>,
    /// Bytes produced so far, shared by every `Vars` of one recipe.
    spent: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Vars {
    fn new(map: BTreeMap<String, String>) -> Self {
        Vars {
            base: std::rc::Rc::default(),
            map,
            spent: std::rc::Rc::default(),
        }
    }

    /// The same values and budget, with its own map to add to.
    fn child(&self) -> Self {
        Vars {
            base: self.base.clone(),
            map: self.map.clone(),
            spent: self.spent.clone(),
        }
    }

    /// The same values and budget with an empty map of its own (what it had moved to the
    /// shared base), so that [`Vars::child`] copies nothing.
    fn frozen(mut self) -> Self {
        let mut base = std::rc::Rc::unwrap_or_clone(self.base);
        base.append(&mut self.map);
        Vars {
            base: std::rc::Rc::new(base),
            map: BTreeMap::new(),
            spent: self.spent,
        }
    }

    fn get(&self, name: &str) -> Option<&String> {
        self.map.get(name).or_else(|| self.base.get(name))
    }

    /// Counts `n` more bytes produced against [`MAX_EXPANDED_BYTES`].
    fn spend(&self, n: usize, what: &str) -> std::result::Result<(), String> {
        let spent = self.spent.get().saturating_add(n);
        if spent > MAX_EXPANDED_BYTES {
            return Err(format!(
                "{what} would make the recipe more than {MAX_EXPANDED_BYTES} bytes once substituted; use shorter `vars`, fewer `${{{{…}}}}` or fewer `range` items"
            ));
        }
        self.spent.set(spent);
        Ok(())
    }

    /// `s` with every `${{ name }}` replaced; an unknown name is an error naming it.
    fn expand(&self, s: &str) -> std::result::Result<String, String> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find("${{") {
            out.push_str(rest.get(..i).unwrap_or_default());
            let after = rest.get(i + 3..).unwrap_or_default();
            let Some(end) = after.find("}}") else {
                return Err("`${{` without a closing `}}`".into());
            };
            let name = after.get(..end).unwrap_or_default().trim();
            match self.get(name) {
                Some(v) => {
                    self.spend(v.len().saturating_add(i), &format!("`${{{{{name}}}}}`"))?;
                    out.push_str(v);
                }
                None => {
                    let known: std::collections::BTreeSet<&str> = self
                        .map
                        .keys()
                        .chain(self.base.keys())
                        .map(String::as_str)
                        .collect();
                    let known: Vec<&str> = known.into_iter().collect();
                    return Err(format!(
                        "unknown substitution `${{{{{name}}}}}`; known: {}",
                        known.join(", ")
                    ));
                }
            }
            rest = after.get(end + 2..).unwrap_or_default();
        }
        self.spend(rest.len(), "the steps")?;
        out.push_str(rest);
        Ok(out)
    }
}

/// Reads and parses the recipe at `path` for architecture `arch` (apk name, e.g. `x86_64`).
pub fn from_file(path: &Path, arch: &str, pipeline_dirs: &[PathBuf]) -> Result<Recipe> {
    let bytes = crate::read_file(path, MAX_RECIPE_BYTES, "is this a recipe?")?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Invalid {
        what: path.display().to_string(),
        message: format!("not UTF-8 text: {e}"),
    })?;
    parse_with(&path.display().to_string(), &text, arch, pipeline_dirs)
}

/// Parses recipe `text` (`origin` names it in errors) for architecture `arch`.
pub fn parse(origin: &str, text: &str, arch: &str) -> Result<Recipe> {
    parse_with(origin, text, arch, &[])
}

/// [`parse`], with `uses:` also naming the user's own pipelines: `NAME.yaml` in one of
/// `pipeline_dirs` (melange's `--pipeline-dir`), looked up in order after the built-ins.
pub fn parse_with(
    origin: &str,
    text: &str,
    arch: &str,
    pipeline_dirs: &[PathBuf],
) -> Result<Recipe> {
    let mut ctx = Ctx {
        origin: origin.to_string(),
        lines: text.lines().collect(),
        diags: Vec::new(),
        pipeline_dirs,
        main: String::new(),
    };
    let mut opts = serde_saphyr::Options::default();
    opts.with_snippet = false;
    let raw: RawRecipe = match serde_saphyr::from_str_with_options(text, opts) {
        Ok(r) => r,
        Err(e) => {
            let inner = e.without_snippet();
            let msg = serde_saphyr::UserMessageFormatter
                .format_message(inner)
                .into_owned();
            let p = e
                .location()
                .map(|l| Pos::new(l.line(), l.column()))
                .unwrap_or_default();
            let hint = msg.starts_with("unknown field").then(|| {
                "remove it or fix its spelling; see crates/whittle-pkg/README.md".to_string()
            });
            return Err(Error::Recipe(vec![ctx.diag(p, msg, hint)]));
        }
    };
    let p = raw.package;
    let name = p.name.value.clone();
    ctx.main = name.clone();
    let version = p.version.value.0.clone();
    if !valid_name(&name) {
        ctx.err(
            pos(&p.name),
            format!("package name `{name}` is not valid"),
            Some("use letters, digits, `.`, `_`, `+` and `-`"),
        );
    }
    if !whittle_apk::version::Version::new_lenient(&format!("{version}-r{}", p.epoch)).is_valid() {
        ctx.err(
            pos(&p.version),
            format!("version `{version}` is not a valid apk version"),
            Some("use e.g. 1.2.3, 1.2.3_rc1 or 2024.01.02"),
        );
    }
    let full_version = format!("{version}-r{}", p.epoch);
    let limits = recipe_limits(&mut ctx, p.timeout.as_ref(), p.resources.as_ref());
    let mut map = BTreeMap::new();
    map.insert("package.name".to_string(), name.clone());
    map.insert("package.version".to_string(), version.clone());
    map.insert("package.epoch".to_string(), p.epoch.to_string());
    map.insert("package.full-version".to_string(), full_version.clone());
    map.insert("package.description".to_string(), p.description.clone());
    map.insert("targets.destdir".to_string(), format!("{OUT_DIR}/{name}"));
    map.insert(
        "targets.contextdir".to_string(),
        format!("{OUT_DIR}/{name}"),
    );
    map.insert("targets.outdir".to_string(), OUT_DIR.to_string());
    map.insert("build.arch".to_string(), arch.to_string());
    map.insert(
        "host.triplet.gnu".to_string(),
        format!("{arch}-pc-linux-gnu"),
    );
    for (k, v) in &raw.vars {
        map.insert(format!("vars.{k}"), v.0.clone());
    }
    // vars may refer to package fields
    let snapshot = Vars::new(map.clone());
    for (k, v) in &raw.vars {
        if let Ok(x) = snapshot.expand(&v.0) {
            map.insert(format!("vars.{k}"), x);
        }
    }
    let mut vars = snapshot.child();
    vars.map = map;
    if let Some(t) = raw.var_transforms.get(MAX_VAR_TRANSFORMS) {
        ctx.err(
            pos(t),
            format!("more than {MAX_VAR_TRANSFORMS} var-transforms"),
            Some("derive fewer variables; each is a regular expression to compile"),
        );
    }
    for t in raw.var_transforms.iter().take(MAX_VAR_TRANSFORMS) {
        if let Some((k, v)) = var_transform(&mut ctx, &vars, t) {
            vars.map.insert(k, v);
        }
    }
    let vars = vars.frozen();
    let provider_priority = p.dependencies.provider_priority.as_ref().and_then(|s| {
        let n = s.0.parse().ok();
        if n.is_none() {
            ctx.err(
                pos(&p.name),
                format!("dependencies.provider-priority `{}` is not a number", s.0),
                None,
            );
        }
        n
    });
    let package = PackageInfo {
        name: name.clone(),
        description: p.description.clone(),
        url: p.url.clone(),
        runtime: p.dependencies.runtime.clone(),
        provides: p.dependencies.provides.clone(),
        replaces: p.dependencies.replaces.clone(),
        provider_priority,
        checks_disabled: checks(&mut ctx, &p.checks),
        options: p.options.found(),
    };
    let pipeline = steps(&mut ctx, &vars, &raw.pipeline, &name);
    let mut subpackages = Vec::new();
    let mut seen = std::collections::BTreeSet::from([name.clone()]);
    let data: BTreeMap<&str, &BTreeMap<String, Scalar>> = raw
        .data
        .iter()
        .map(|d| (d.name.as_str(), &d.items))
        .collect();
    // every subpackage, a `range` one once per item of its data (sorted by key, as melange)
    let mut expanded = Vec::new();
    for s in &raw.subpackages {
        if expanded.len() > MAX_SUBPACKAGES {
            break;
        }
        let Some(range) = &s.range else {
            expanded.push((s, vars.child()));
            continue;
        };
        let Some(items) = data.get(range.value.as_str()) else {
            ctx.err(
                pos(range),
                format!("range `{}` is not defined", range.value),
                Some("define it under `data:` (name and items)"),
            );
            continue;
        };
        for (k, v) in items.iter().take(MAX_SUBPACKAGES + 1 - expanded.len()) {
            // each item's copy counts: one large item under many subpackages is large too
            if let Err(m) = vars.spend(k.len().saturating_add(v.0.len()), "`range` items") {
                ctx.err(pos(range), m, None);
                break;
            }
            let mut sv = vars.child();
            sv.map.insert("range.key".into(), k.clone());
            sv.map.insert("range.value".into(), v.0.clone());
            expanded.push((s, sv));
        }
    }
    if expanded.len() > MAX_SUBPACKAGES {
        let at = expanded
            .last()
            .map_or_else(|| pos(&p.name), |(s, _)| pos(&s.name));
        ctx.err(
            at,
            format!("more than {MAX_SUBPACKAGES} subpackages (each `range` item is one)"),
            Some("split the recipe, or use fewer `data` items"),
        );
        expanded.clear();
    }
    for (s, vars) in expanded {
        let sname = match vars.expand(&s.name.value) {
            Ok(n) => n,
            Err(m) => {
                ctx.err(pos(&s.name), m, None);
                continue;
            }
        };
        if !valid_name(&sname) || !seen.insert(sname.clone()) {
            ctx.err(
                pos(&s.name),
                format!("subpackage name `{sname}` is invalid or used twice"),
                Some("give every subpackage its own valid name"),
            );
        }
        let mut sv = vars.child();
        sv.map
            .insert("targets.subpkgdir".into(), format!("{OUT_DIR}/{sname}"));
        sv.map
            .insert("targets.contextdir".into(), format!("{OUT_DIR}/{sname}"));
        let pipeline = steps(&mut ctx, &sv, &s.pipeline, &sname);
        subpackages.push(Subpackage {
            info: PackageInfo {
                name: sname,
                description: expand_or_keep(&vars, s.description.as_deref().unwrap_or_default()),
                url: s.url.clone().unwrap_or_else(|| p.url.clone()),
                runtime: s
                    .dependencies
                    .runtime
                    .iter()
                    .map(|d| expand_or_keep(&vars, d))
                    .collect(),
                provides: s
                    .dependencies
                    .provides
                    .iter()
                    .map(|d| expand_or_keep(&vars, d))
                    .collect(),
                replaces: s.dependencies.replaces.clone(),
                provider_priority: None,
                checks_disabled: checks(&mut ctx, &s.checks),
                options: s.options.found(),
            },
            pipeline,
        });
    }
    let environment = raw
        .environment
        .as_ref()
        .map(|e| embedded(&ctx.lines, pos(e)));
    let test = raw.test.as_ref().map(|t| Test {
        environment: t.environment.as_ref().map(|e| embedded(&ctx.lines, pos(e))),
        pipeline: steps(&mut ctx, &vars, &t.pipeline, &name),
    });
    if !ctx.diags.is_empty() {
        return Err(Error::Recipe(ctx.diags));
    }
    Ok(Recipe {
        origin: origin.to_string(),
        text: text.to_string(),
        package,
        version,
        epoch: p.epoch,
        full_version,
        licenses: p.copyright.into_iter().map(|c| c.license).collect(),
        commit: p.commit,
        target_architecture: p.target_architecture,
        limits,
        environment,
        pipeline,
        subpackages,
        test,
    })
}

/// `package.timeout` and `package.resources`, each checked against its bounds; a bad value is
/// reported at its position and replaced by the default.
fn recipe_limits(
    ctx: &mut Ctx,
    timeout: Option<&Spanned<Scalar>>,
    resources: Option<&RawResources>,
) -> Limits {
    let mut l = Limits::default();
    if let Some(t) = timeout {
        match limits::parse_duration(&t.value.0) {
            Ok(d) if d <= limits::MAX_TIMEOUT => l.timeout = d,
            Ok(_) => ctx.err(
                pos(t),
                format!("package.timeout `{}` is longer than 30 days", t.value.0),
                Some("give a shorter duration, e.g. 12h"),
            ),
            Err(m) => ctx.err(pos(t), format!("package.timeout: {m}"), None),
        }
    }
    let Some(r) = resources else { return l };
    if let Some(m) = &r.memory {
        match limits::parse_bytes(&m.value.0) {
            Ok(n) if (limits::MIN_MEMORY..=limits::MAX_MEMORY).contains(&n) => l.memory = n,
            Ok(_) => ctx.err(
                pos(m),
                format!(
                    "package.resources.memory `{}` is outside {}..{}",
                    m.value.0,
                    limits::format_bytes(limits::MIN_MEMORY),
                    limits::format_bytes(limits::MAX_MEMORY)
                ),
                Some("give e.g. 4Gi"),
            ),
            Err(e) => ctx.err(pos(m), format!("package.resources.memory: {e}"), None),
        }
    }
    if let Some(p) = &r.processes {
        match p.value.0.parse::<u64>() {
            Ok(n) if (limits::MIN_PROCESSES..=limits::MAX_PROCESSES).contains(&n) => {
                l.processes = n
            }
            _ => ctx.err(
                pos(p),
                format!(
                    "package.resources.processes `{}` is not a number of processes from {} to {}",
                    p.value.0,
                    limits::MIN_PROCESSES,
                    limits::MAX_PROCESSES
                ),
                Some("give e.g. 4096"),
            ),
        }
    }
    l
}

/// `checks.disabled`, every name a linter whittle has (or a melange linter it lacks).
fn checks(ctx: &mut Ctx, c: &RawChecks) -> Vec<String> {
    let mut out = Vec::new();
    for d in &c.disabled {
        let n = d.value.trim();
        if crate::lint::LINTERS.iter().any(|l| l.name == n) {
            out.push(n.to_string());
        } else if !crate::lint::NOT_IMPLEMENTED.contains(&n) {
            ctx.err(
                pos(d),
                format!("checks.disabled: unknown linter `{n}`"),
                Some("name one of the linters `whittle pkg lint --help` lists"),
            );
        }
    }
    out
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// The block of text that a mapping value starting at `p` spans: the lines from `p` on whose
/// indentation is at least `p.column - 1` (blank and comment lines included), dedented.
fn embedded(lines: &[&str], p: Pos) -> Embedded {
    let first = usize::try_from(p.line.saturating_sub(1)).unwrap_or(0);
    let indent = usize::try_from(p.column.saturating_sub(1)).unwrap_or(0);
    let mut text = String::new();
    for (i, l) in lines.iter().enumerate().skip(first) {
        let lead = l.len() - l.trim_start().len();
        let blank = l.trim().is_empty() || l.trim_start().starts_with('#');
        if i > first && !blank && lead < indent {
            break;
        }
        let body = if i == first {
            l.get(indent..).unwrap_or_default()
        } else if blank {
            l.trim_start()
        } else {
            l.get(indent..).unwrap_or_default()
        };
        text.push_str(body);
        text.push('\n');
    }
    Embedded {
        text,
        line_offset: p.line.saturating_sub(1),
        column_offset: indent as u64,
    }
}

fn steps(ctx: &mut Ctx, vars: &Vars, raw: &[Spanned<RawStep>], pkg: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for s in raw {
        // `if:` false: the step does not run (and is not checked further), as in melange
        if let Some(c) = &s.value.condition {
            match condition(&c.value, vars) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(m) => {
                    ctx.err(
                        pos(c),
                        format!("if: {m}"),
                        Some("write e.g. `if: ${{build.arch}} == 'x86_64'`: quoted strings and `${{…}}` compared with == or !=, joined with && and ||, grouped with ( )"),
                    );
                    continue;
                }
            }
        }
        out.extend(step(ctx, vars, s, pkg));
    }
    out
}

/// `s` with its substitutions, or as written when one is unknown (melange substitutes the
/// subpackage fields that are not steps the same way).
fn expand_or_keep(vars: &Vars, s: &str) -> String {
    vars.expand(s).unwrap_or_else(|_| s.to_string())
}

/// Most nested parentheses of an `if:`.
const MAX_CONDITION_DEPTH: usize = 32;

/// Evaluates melange's step condition `expr`: quoted strings (`'…'`, `"…"`, with `\\` escapes)
/// and `${{name}}` substitutions compared with `==` or `!=`, combined left to right with `&&`
/// and `||`, grouped with parentheses.
fn condition(expr: &str, vars: &Vars) -> std::result::Result<bool, String> {
    struct P<'a> {
        src: &'a str,
        s: &'a [u8],
        i: usize,
        vars: &'a Vars,
    }
    impl P<'_> {
        fn ws(&mut self) {
            while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
                self.i += 1;
            }
        }
        fn eat(&mut self, t: &str) -> bool {
            self.ws();
            if self
                .s
                .get(self.i..)
                .is_some_and(|r| r.starts_with(t.as_bytes()))
            {
                self.i += t.len();
                true
            } else {
                false
            }
        }
        fn value(&mut self) -> std::result::Result<String, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(&q @ (b'\'' | b'"')) => {
                    self.i += 1;
                    let mut out = Vec::new();
                    loop {
                        match self.s.get(self.i) {
                            None => return Err("a string is not closed".into()),
                            Some(&c) if c == q => break,
                            Some(b'\\') if self.i + 1 < self.s.len() => {
                                self.i += 1;
                                match self.s[self.i] {
                                    c @ (b'\\' | b'\'' | b'"') => out.push(c),
                                    b'n' => out.push(b'\n'),
                                    b't' => out.push(b'\t'),
                                    c => out.extend([b'\\', c]),
                                }
                            }
                            Some(&c) => out.push(c),
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                    Ok(String::from_utf8_lossy(&out).into_owned())
                }
                Some(b'$') if self.s[self.i..].starts_with(b"${{") => {
                    // `$` is one byte: a character boundary
                    let rest = self.src.get(self.i..).unwrap_or_default();
                    let end = rest.find("}}").ok_or("`${{` without a closing `}}`")?;
                    self.i += end + 2;
                    self.vars.expand(&rest[..end + 2])
                }
                Some(&c) => Err(format!(
                    "unexpected `{}` at column {}: expected a quoted string or `${{{{…}}}}`",
                    c as char,
                    self.i + 1
                )),
                None => Err("the condition ends too early".into()),
            }
        }
        fn atom(&mut self, depth: usize) -> std::result::Result<bool, String> {
            if self.eat("(") {
                if depth >= MAX_CONDITION_DEPTH {
                    return Err(format!(
                        "more than {MAX_CONDITION_DEPTH} nested parentheses"
                    ));
                }
                let r = self.expr(depth + 1)?;
                if !self.eat(")") {
                    return Err(format!("expected `)` at column {}", self.i + 1));
                }
                return Ok(r);
            }
            let lhs = self.value()?;
            let eq = if self.eat("==") {
                true
            } else if self.eat("!=") {
                false
            } else {
                return Err(format!("expected == or != at column {}", self.i + 1));
            };
            let rhs = self.value()?;
            Ok((lhs == rhs) == eq)
        }
        fn expr(&mut self, depth: usize) -> std::result::Result<bool, String> {
            let mut r = self.atom(depth)?;
            loop {
                if self.eat("&&") {
                    let b = self.atom(depth)?;
                    r = r && b;
                } else if self.eat("||") {
                    let b = self.atom(depth)?;
                    r = r || b;
                } else {
                    return Ok(r);
                }
            }
        }
    }
    // each evaluation counts: a long condition in a step of many `range` subpackages
    vars.spend(expr.len(), "`if:` conditions")?;
    let mut p = P {
        src: expr,
        s: expr.as_bytes(),
        i: 0,
        vars,
    };
    let r = p.expr(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at column {}", p.i + 1));
    }
    Ok(r)
}

/// Most compiled size of a `var-transforms` regular expression.
const MAX_REGEX_BYTES: usize = 1 << 20;

/// Most `var-transforms` entries of a recipe (each regular expression may take milliseconds to
/// compile up to [`MAX_REGEX_BYTES`]; melange's recipes have a few).
pub const MAX_VAR_TRANSFORMS: usize = 100;

/// Longest value a `var-transforms` entry matches against (a version, a name: short).
const MAX_TRANSFORM_INPUT: usize = 64 << 10;

/// One `var-transforms` entry: `(vars.TO, value)`.
fn var_transform(
    ctx: &mut Ctx,
    vars: &Vars,
    t: &Spanned<RawVarTransform>,
) -> Option<(String, String)> {
    let v = &t.value;
    let from = match vars.expand(&v.from) {
        Ok(f) => f,
        Err(m) => {
            ctx.err(pos(t), format!("var-transforms: {m}"), None);
            return None;
        }
    };
    if from.len() > MAX_TRANSFORM_INPUT {
        ctx.err(
            pos(t),
            format!(
                "var-transforms: `from` is {} bytes once substituted, more than {MAX_TRANSFORM_INPUT}",
                from.len()
            ),
            Some("transform a short value (a version, a name)"),
        );
        return None;
    }
    let re = match regex::RegexBuilder::new(&v.pattern.value)
        .size_limit(MAX_REGEX_BYTES)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ctx.err(
                pos(&v.pattern),
                format!("var-transforms: `match` is not a regular expression: {e}"),
                None,
            );
            return None;
        }
    };
    // as Regex::replace_all, each replacement counted against the recipe's budget
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(&from) {
        let Some(m) = caps.get(0) else { continue };
        let before = out.len();
        out.push_str(from.get(last..m.start()).unwrap_or_default());
        caps.expand(&v.replace, &mut out);
        last = m.end();
        if let Err(m) = vars.spend(out.len() - before, "its replacements") {
            ctx.err(pos(t), format!("var-transforms: {m}"), None);
            return None;
        }
    }
    out.push_str(from.get(last..).unwrap_or_default());
    Some((format!("vars.{}", v.to), out))
}

fn step(ctx: &mut Ctx, vars: &Vars, s: &Spanned<RawStep>, pkg: &str) -> Option<Step> {
    let at_pos = pos(s);
    let r = &s.value;
    let expand = |ctx: &mut Ctx, v: &str, p: Pos| match vars.expand(v) {
        Ok(x) => Some(x),
        Err(m) => {
            ctx.err(p, m, None);
            None
        }
    };
    let mut with = BTreeMap::new();
    for (k, v) in &r.with {
        with.insert(k.clone(), (expand(ctx, &v.value.0, pos(v))?, pos(v)));
    }
    let mut environment = BTreeMap::new();
    for (k, v) in &r.environment {
        environment.insert(k.clone(), expand(ctx, &v.0, at_pos)?);
    }
    let working_directory = match &r.working_directory {
        Some(w) => {
            let w = expand(ctx, w, at_pos)?;
            if w.starts_with('/') {
                w
            } else {
                format!("{WORKSPACE}/{w}")
            }
        }
        None => WORKSPACE.to_string(),
    };
    let (name, action) = match (&r.uses, &r.runs) {
        (Some(_), Some(runs)) => {
            ctx.err(
                pos(runs),
                "a step has either `uses:` or `runs:`, not both",
                Some("split it into two steps"),
            );
            return None;
        }
        (None, None) => {
            ctx.err(
                at_pos,
                "the step has neither `uses:` nor `runs:`",
                Some("add `runs: <shell script>` or `uses: <built-in>`"),
            );
            return None;
        }
        (None, Some(runs)) => {
            if let Some((k, (_, p))) = with.iter().next() {
                ctx.err(*p, format!("`with.{k}` is only for `uses:` steps"), None);
                return None;
            }
            let script = expand(ctx, &runs.value, pos(runs))?;
            let first = script.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let name = r
                .name
                .clone()
                .unwrap_or_else(|| first.trim().chars().take(60).collect());
            (name, Action::Shell(script))
        }
        (Some(uses), None) => {
            let name = r.name.clone().unwrap_or_else(|| uses.value.clone());
            let action = if builtin_inputs(&uses.value).is_some() {
                builtin(ctx, &uses.value, pos(uses), at_pos, &with, pkg)?
            } else if let Some(file) = own_pipeline(ctx, &uses.value) {
                Action::Shell(own_pipeline_script(ctx, vars, &file, pos(uses), &with)?)
            } else {
                builtin(ctx, &uses.value, pos(uses), at_pos, &with, pkg)?
            };
            (name, action)
        }
    };
    Some(Step {
        at: ctx.at(at_pos),
        name,
        action,
        working_directory,
        environment,
        network: r.network,
    })
}

/// The largest pipeline YAML read from a `--pipeline-dir`.
const MAX_PIPELINE_BYTES: u64 = 256 << 10;

/// melange's pipeline file: its `inputs` and its `runs:` steps.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    needs: Option<IgnoredAny>,
    #[serde(default)]
    inputs: BTreeMap<String, RawInput>,
    #[serde(default)]
    pipeline: Vec<RawPipelineStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    default: Option<Scalar>,
    #[serde(default)]
    required: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipelineStep {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    runs: Option<String>,
    #[serde(default)]
    uses: Option<String>,
}

/// The file of the user's pipeline `uses` (`NAME.yaml` under a `--pipeline-dir`), if there is
/// one; `uses` must be a relative name without `..`.
fn own_pipeline(ctx: &Ctx, uses: &str) -> Option<PathBuf> {
    let ok = !uses.is_empty()
        && !uses.starts_with('/')
        && uses
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && uses
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if !ok {
        return None;
    }
    ctx.pipeline_dirs
        .iter()
        .map(|d| d.join(format!("{uses}.yaml")))
        .find(|f| f.is_file())
}

/// The user's pipeline `file` as one script: its `runs:` steps in order, each in a subshell,
/// with `${{inputs.NAME}}` from `with` (or the input's default) and the recipe's substitutions.
fn own_pipeline_script(
    ctx: &mut Ctx,
    vars: &Vars,
    file: &Path,
    uses_pos: Pos,
    with: &BTreeMap<String, (String, Pos)>,
) -> Option<String> {
    let shown = file.display().to_string();
    use std::io::Read as _;
    // read (and parsed) again for each `uses:`: each read counts against the recipe's budget,
    // before it is read
    let text = std::fs::metadata(file)
        .map_err(|e| e.to_string())
        .and_then(|m| match m.len() {
            n if n > MAX_PIPELINE_BYTES => Err(format!(
                "larger than {MAX_PIPELINE_BYTES} bytes; is this a pipeline?"
            )),
            n => vars.spend(
                usize::try_from(n).unwrap_or(usize::MAX),
                "the pipelines `uses:` reads",
            ),
        })
        .and_then(|()| {
            let mut t = String::new();
            std::fs::File::open(file)
                .and_then(|f| f.take(MAX_PIPELINE_BYTES).read_to_string(&mut t))
                .map_err(|e| e.to_string())?;
            Ok(t)
        });
    let raw: std::result::Result<RawPipeline, String> = text.and_then(|t| {
        serde_saphyr::from_str(&t).map_err(|e| {
            serde_saphyr::UserMessageFormatter
                .format_message(e.without_snippet())
                .into_owned()
        })
    });
    let raw = match raw {
        Ok(r) => r,
        Err(e) => {
            ctx.err(uses_pos, format!("pipeline {shown}: {e}"), None);
            return None;
        }
    };
    let mut inputs = vars.child();
    for (k, (_, p)) in with {
        if !raw.inputs.contains_key(k) {
            let known: Vec<&str> = raw.inputs.keys().map(String::as_str).collect();
            ctx.err(
                *p,
                format!("pipeline {shown} has no input `{k}`"),
                Some(&format!("its inputs: {}", known.join(", "))),
            );
            return None;
        }
    }
    for (k, input) in &raw.inputs {
        let value = match (with.get(k), &input.default) {
            (Some((v, _)), _) => v.clone(),
            (None, Some(d)) => d.0.clone(),
            (None, None) if input.required => {
                ctx.err(uses_pos, format!("pipeline {shown} needs `with.{k}`"), None);
                return None;
            }
            (None, None) => String::new(),
        };
        inputs.map.insert(format!("inputs.{k}"), value);
    }
    let mut script = String::new();
    for (i, st) in raw.pipeline.iter().enumerate() {
        let runs = match (&st.runs, &st.uses) {
            (Some(r), None) => r,
            _ => {
                ctx.err(
                    uses_pos,
                    format!(
                        "pipeline {shown}, step {}: only `runs:` steps are supported in your own pipelines",
                        i + 1
                    ),
                    Some("write the nested pipeline's steps into this one as `runs:` steps"),
                );
                return None;
            }
        };
        match inputs.expand(runs) {
            Ok(x) => script.push_str(&format!("(\n{x}\n)\n")),
            Err(m) => {
                ctx.err(uses_pos, format!("pipeline {shown}: {m}"), None);
                return None;
            }
        }
    }
    Some(script)
}

fn builtin(
    ctx: &mut Ctx,
    uses: &str,
    uses_pos: Pos,
    step_pos: Pos,
    with: &BTreeMap<String, (String, Pos)>,
    pkg: &str,
) -> Option<Action> {
    let Some(allowed) = builtin_inputs(uses) else {
        ctx.err(
            uses_pos,
            format!("unknown pipeline `{uses}`"),
            Some(&format!(
                "built-in pipelines: {}; your own pipeline `{uses}` is found as {uses}.yaml in a directory given with `--pipeline-dir`",
                BUILTINS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
            )),
        );
        return None;
    };
    for (k, (_, p)) in with {
        if !allowed.contains(&k.as_str()) {
            ctx.err(
                *p,
                format!("`{uses}` has no input `{k}`"),
                Some(&format!("its inputs: {}", allowed.join(", "))),
            );
            return None;
        }
    }
    let get = |k: &str, d: &str| with.get(k).map_or(d.to_string(), |v| v.0.clone());
    let dest = format!("{OUT_DIR}/{pkg}");
    let script = match uses {
        "fetch" => {
            let Some((uri, _)) = with.get("uri") else {
                ctx.err(step_pos, "`fetch` needs `with.uri`", None);
                return None;
            };
            let Some((sha, sha_pos)) = with.get("expected-sha256") else {
                ctx.err(
                    step_pos,
                    "`fetch` without `with.expected-sha256` is refused: an unchecked download could be anything",
                    Some("add `expected-sha256: <hex SHA-256 of the file>` (sha256sum FILE)"),
                );
                return None;
            };
            let sha = sha.to_ascii_lowercase();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                ctx.err(*sha_pos, "`expected-sha256` must be 64 hex digits", None);
                return None;
            }
            let sha512 = match with.get("expected-sha512") {
                Some((h, pos)) => {
                    let h = h.to_ascii_lowercase();
                    if h.len() != 128 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                        ctx.err(*pos, "`expected-sha512` must be 128 hex digits", None);
                        return None;
                    }
                    Some(h)
                }
                None => None,
            };
            let strip = get("strip-components", "1");
            let Ok(strip_components) = strip.parse() else {
                ctx.err(
                    step_pos,
                    format!("strip-components `{strip}` is not a number"),
                    None,
                );
                return None;
            };
            return Some(Action::Fetch {
                uri: uri.clone(),
                sha256: sha,
                sha512,
                strip_components,
                extract: get("extract", "true") != "false",
            });
        }
        "git-checkout" => {
            let Some((repository, _)) = with.get("repository") else {
                ctx.err(step_pos, "`git-checkout` needs `with.repository`", None);
                return None;
            };
            let Some((commit, commit_pos)) = with.get("expected-commit") else {
                ctx.err(
                    step_pos,
                    "`git-checkout` without `with.expected-commit` is refused: a branch or tag can move, the build would not be reproducible",
                    Some("add `expected-commit: <full commit hash>` (git rev-parse TAG^{commit})"),
                );
                return None;
            };
            let commit = commit.to_ascii_lowercase();
            if !matches!(commit.len(), 40 | 64) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                ctx.err(
                    *commit_pos,
                    "`expected-commit` must be a full commit hash (40 or 64 hex digits)",
                    None,
                );
                return None;
            }
            let reference = match (with.get("branch"), with.get("tag")) {
                (Some(_), Some((_, tag_pos))) => {
                    ctx.err(*tag_pos, "give `branch` or `tag`, not both", None);
                    return None;
                }
                (Some((r, _)), None) | (None, Some((r, _))) => Some(r.clone()),
                (None, None) => None,
            };
            let depth = match with.get("depth") {
                None => None,
                Some((d, _)) if d == "-1" => None,
                Some((d, pos)) => {
                    match d.parse::<u32>() {
                        Ok(n) if n > 0 => Some(n),
                        _ => {
                            ctx.err(
                            *pos,
                            format!("depth `{d}` is not a positive number (or -1 for the whole history)"),
                            None,
                        );
                            return None;
                        }
                    }
                }
            };
            return Some(Action::GitCheckout {
                repository: repository.clone(),
                destination: get("destination", "."),
                reference,
                expected_commit: commit,
                depth,
            });
        }
        "autoconf/configure" => format!(
            "cd {dir}\n./configure --prefix=/usr --sysconfdir=/etc --libdir=/usr/lib --mandir=/usr/share/man --infodir=/usr/share/info --localstatedir=/var {opts}\n",
            dir = sq(&get("dir", ".")),
            opts = get("opts", "")
        ),
        "autoconf/make" => format!(
            "make -C {dir} -j\"$(nproc 2>/dev/null || echo 2)\" {opts} V=1\n",
            dir = sq(&get("dir", ".")),
            opts = get("opts", "")
        ),
        "autoconf/make-install" => format!(
            "make -C {dir} install DESTDIR={dest} {opts} V=1\n",
            dir = sq(&get("dir", ".")),
            dest = sq(&dest),
            opts = get("opts", "")
        ),
        "cargo/build" => {
            let Some((output, _)) = with.get("output") else {
                ctx.err(
                    step_pos,
                    "`cargo/build` needs `with.output` (the binary's name)",
                    None,
                );
                return None;
            };
            format!(
                "cd {root}\ncargo build --release --offline {opts}\nmkdir -p {dest}/{prefix}/{bin}\ninstall -m755 target/release/{output} {dest}/{prefix}/{bin}/{output}\n",
                root = sq(&get("modroot", ".")),
                opts = get("opts", ""),
                dest = sq(&dest),
                prefix = sq(&get("prefix", "usr")),
                bin = sq(&get("install-dir", "bin")),
                output = sq(output),
            )
        }
        "cmake/configure" => format!(
            "cmake -B {out} -G Ninja -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_BUILD_TYPE=MinSizeRel {opts}\n",
            out = sq(&get("output-dir", "output")),
            opts = get("opts", ""),
        ),
        "cmake/build" => format!(
            "VERBOSE=1 cmake --build {out} {opts}\n",
            out = sq(&get("output-dir", "output")),
            opts = get("opts", ""),
        ),
        "cmake/install" => format!(
            "DESTDIR={dest} cmake --install {out}\n",
            dest = sq(&dest),
            out = sq(&get("output-dir", "output")),
        ),
        "meson/configure" => format!(
            "meson setup . {out} --prefix=/usr --wrap-mode=nodownload {opts}\n",
            out = sq(&get("output-dir", "output")),
            opts = get("opts", ""),
        ),
        "meson/compile" => format!(
            "meson compile -C {out} -j \"$(nproc 2>/dev/null || echo 2)\" {opts}\n",
            out = sq(&get("output-dir", "output")),
            opts = get("opts", ""),
        ),
        "meson/install" => format!(
            "DESTDIR={dest} meson install -C {out}\n",
            dest = sq(&dest),
            out = sq(&get("output-dir", "output")),
        ),
        "go/build" => {
            let (Some((packages, _)), Some((output, _))) =
                (with.get("packages"), with.get("output"))
            else {
                ctx.err(
                    step_pos,
                    "`go/build` needs `with.packages` (what to compile, e.g. `.` or `./cmd/tool`) and `with.output` (the binary's name)",
                    None,
                );
                return None;
            };
            let deps = get("deps", "");
            let deps = if deps.trim().is_empty() {
                String::new()
            } else {
                format!(
                    "for dep in {deps}; do go get \"$dep\"; done\ngo mod tidy\n{vendor}",
                    vendor = if get("vendor", "false") == "true" {
                        "go mod vendor\n"
                    } else {
                        ""
                    }
                )
            };
            format!(
                "{GO_ENV}cd {root}\n{deps}go build -o {dest}/{prefix}/{bin}/{output} -tags {tags} -ldflags {ldflags} -trimpath {packages}\n",
                root = sq(&get("modroot", ".")),
                dest = sq(&dest),
                prefix = sq(&get("prefix", "usr")),
                bin = sq(&get("install-dir", "bin")),
                output = sq(output),
                tags = sq(&get("tags", "")),
                ldflags = sq(&get("ldflags", "")),
            )
        }
        "go/install" => {
            let Some((package, _)) = with.get("package") else {
                ctx.err(
                    step_pos,
                    "`go/install` needs `with.package` (the import path to install)",
                    None,
                );
                return None;
            };
            let version = get("version", "");
            let at = if version.is_empty() {
                String::new()
            } else {
                format!("@{version}")
            };
            format!(
                "{GO_ENV}GOBIN=$(mktemp -d)\nexport GOBIN\nGOAMD64={amd64} GOARM64={arm64} GOEXPERIMENT={exp} go install -tags {tags} -ldflags {ldflags} {pkg}\nmkdir -p {dest}/{prefix}/{bin}\nfor f in \"$GOBIN\"/*; do mv \"$f\" {dest}/{prefix}/{bin}/; done\n",
                amd64 = sq(&get("amd64", "v2")),
                arm64 = sq(&get("arm64", "v8.0")),
                exp = sq(&get("experiments", "")),
                tags = sq(&get("tags", "")),
                ldflags = sq(format!("{} {}", get("strip", "-s -w"), get("ldflags", "")).trim()),
                pkg = sq(&format!("{package}{at}")),
                dest = sq(&dest),
                prefix = sq(&get("prefix", "usr")),
                bin = sq(&get("install-dir", "bin")),
            )
        }
        "python/build-wheel" | "python/install" => python_wheel(uses, &dest),
        "git-am" => {
            let Some((patches, patches_pos)) =
                with.get("patches").filter(|(p, _)| !p.trim().is_empty())
            else {
                ctx.err(
                    step_pos,
                    "`git-am` needs `with.patches` (patch files relative to the workspace, separated by spaces)",
                    None,
                );
                return None;
            };
            if let Some(f) = patches.split_whitespace().find(|f| !in_workspace(f)) {
                ctx.err(
                    *patches_pos,
                    format!("`git-am`: the patch path `{f}` leaves the workspace"),
                    Some("give patch files relative to the workspace, without `..`"),
                );
                return None;
            }
            let files: Vec<String> = patches.split_whitespace().map(sq).collect();
            format!(
                "git -c user.name=\"${{GIT_COMMITTER_NAME:-whittle}}\" -c user.email=\"${{GIT_COMMITTER_EMAIL:-whittle@localhost}}\" am {}\n",
                files.join(" ")
            )
        }
        "patch" => return patch(ctx, step_pos, with),
        s if s.starts_with("split/") => {
            let kind = match s {
                "split/dev" => {
                    let prefix = get("prefix", "/usr").trim_start_matches('/').to_string();
                    if prefix.split('/').any(|c| c == "..") {
                        ctx.err(step_pos, "`split/dev`: `prefix` may not contain `..`", None);
                        return None;
                    }
                    Split::Dev { prefix }
                }
                "split/static" => Split::Static,
                "split/locales" => Split::Locales,
                "split/manpages" => Split::Manpages,
                "split/infodir" => Split::Infodir,
                _ => Split::Debug,
            };
            let from = match with.get("package") {
                Some((p, _)) if !p.is_empty() => p.clone(),
                _ => ctx.main.clone(),
            };
            if from == pkg {
                ctx.err(
                    step_pos,
                    format!("`{s}` in package `{pkg}` would move its files into itself"),
                    Some("run it in a subpackage's pipeline, or name the package to split from with `with.package`"),
                );
                return None;
            }
            if !valid_name(&from) {
                ctx.err(
                    step_pos,
                    format!("`{s}`: `package` `{from}` is not a package name"),
                    None,
                );
                return None;
            }
            if kind == Split::Debug {
                return Some(Action::Shell(split_debug(&from, pkg)));
            }
            return Some(Action::Split {
                kind,
                from,
                to: pkg.to_string(),
            });
        }
        "strip" => format!(
            "find '{dest}' -type f -exec sh -c 'for f; do case \"$(head -c 4 \"$f\" | od -An -c | tr -d \" \")\" in 177ELF*) strip {opts} \"$f\";; esac; done' _ {{}} +\n",
            opts = get("opts", "--strip-unneeded"),
        ),
        _ => return None,
    };
    Some(Action::Shell(script))
}

/// `go/*`'s environment: the module cache and build cache in the sandbox's `/tmp` unless the
/// recipe's environment says otherwise, no module downloads unless `GOPROXY` is set, and the
/// toolchain the environment has (never a downloaded one).
const GO_ENV: &str = "export GOPATH=\"${GOPATH:-/tmp/go}\" GOCACHE=\"${GOCACHE:-/tmp/go-cache}\" GOPROXY=\"${GOPROXY:-off}\" GOTOOLCHAIN=local GOFLAGS=\"${GOFLAGS:--buildvcs=false}\"\n";

/// `python/build-wheel` and `python/install`: melange's build-then-install with Debian's
/// `python3-build` (without build isolation, which would download the build backend) and
/// `python3-installer`, installing into `/usr` (Debian's `deb_system` scheme, not its default
/// `/usr/local`); compiled `.pyc` files are removed as melange does. `python/install` installs
/// the wheels already in `dist/` and builds one only when there is none.
fn python_wheel(uses: &str, dest: &str) -> String {
    let build = "\"$PY\" -m build --wheel --no-isolation\n";
    let build = if uses == "python/install" {
        format!("ls dist/*.whl >/dev/null 2>&1 || {build}")
    } else {
        build.to_string()
    };
    format!(
        r#"PY=$(command -v python3 || command -v python) || {{ echo '{uses}: no python3 in the build environment (add python3, python3-build, python3-installer and the build backend, e.g. python3-setuptools python3-wheel)' >&2; exit 1; }}
export DEB_PYTHON_INSTALL_LAYOUT=deb
{build}"$PY" -m installer -d {dest} dist/*.whl
find {dest} -name __pycache__ -prune -exec rm -rf {{}} +
find {dest} -name '*.pyc' -exec rm -f {{}} +
"#,
        dest = sq(dest)
    )
}

/// Whether `path` stays in the workspace: relative, with no `..` component.
fn in_workspace(path: &str) -> bool {
    !path.starts_with('/') && path.split('/').all(|c| c != "..")
}

/// `s` single-quoted for the shell.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `split/debug`'s script (run in the sandbox, with `objcopy`): like melange's, with the ELF
/// type read by `od` instead of `scanelf`. `from` and `to` are package names (checked).
fn split_debug(from: &str, to: &str) -> String {
    format!(
        r#"F='{OUT_DIR}/{from}'
T='{OUT_DIR}/{to}'
[ -d "$F" ] || exit 0
mkdir -p "$F/.dbg-tmp"
find "$F" -path "$F/.dbg-tmp" -prune -o -type f -print | while IFS= read -r src; do
  [ "$(od -An -c -N4 "$src" | tr -d ' 
')" = '177ELF' ] || continue
  # e_type ET_DYN (3), in either byte order
  case "$(od -An -tu1 -j16 -N2 "$src" | tr -s ' 
' ' ')" in
    ' 3 0 '|' 0 3 ') ;;
    *) continue ;;
  esac
  dst="$T/usr/lib/debug/${{src#"$F"/}}.debug"
  mkdir -p "${{dst%/*}}"
  ino=$(stat -c %i "$src")
  if ! [ -e "$F/.dbg-tmp/$ino" ]; then
    tmp="$F/.dbg-tmp/${{src##*/}}"
    objcopy --only-keep-debug "$src" "$dst"
    objcopy --add-gnu-debuglink="$dst" --strip-unneeded -R .comment "$src" "$tmp"
    cat "$tmp" > "$src"
    rm "$tmp"
    ln "$dst" "$F/.dbg-tmp/$ino"
  fi
done
rm -r "$F/.dbg-tmp"
"#
    )
}

/// melange's `patch` pipeline: each file of `patches` (whitespace-separated) or of the quilt
/// `series` file (blank and `#` lines skipped) applied with `patch -pN` in the working
/// directory; `--fuzz` is passed when it is not patch's default 2. Needs `patch` in the
/// environment.
fn patch(ctx: &mut Ctx, step_pos: Pos, with: &BTreeMap<String, (String, Pos)>) -> Option<Action> {
    let number = |ctx: &mut Ctx, k: &str, d: &str| -> Option<String> {
        let (v, p) = with.get(k).map_or((d, step_pos), |(v, p)| (v.trim(), *p));
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            ctx.err(
                p,
                format!("`patch`: `{k}` must be a non-negative integer, not `{v}`"),
                None,
            );
            return None;
        }
        Some(v.to_string())
    };
    let strip = number(ctx, "strip-components", "1")?;
    let fuzz = number(ctx, "fuzz", "2")?;
    let fuzz = if fuzz == "2" {
        String::new()
    } else {
        format!(" --fuzz={fuzz}")
    };
    // names go into the script single-quoted: refuse the quote itself (and melange's list)
    let bad = |n: &str| {
        ["'", "`", "$(", "${", ";", "|", "&", ">", "<"]
            .iter()
            .any(|m| n.contains(m))
    };
    let series = with
        .get("series")
        .map(|(s, p)| (s.trim(), *p))
        .filter(|(s, _)| !s.is_empty());
    let patches: Vec<&str> = with
        .get("patches")
        .map(|(s, _)| s.split_whitespace().collect())
        .unwrap_or_default();
    let mut script = String::from("set -e\n");
    match (series, patches.is_empty()) {
        (Some((s, p)), _) => {
            if bad(s) {
                ctx.err(
                    p,
                    "`patch`: the series path contains shell characters",
                    None,
                );
                return None;
            }
            if !in_workspace(s) {
                ctx.err(
                    p,
                    format!("`patch`: the series path `{s}` leaves the workspace"),
                    Some("give it relative to the workspace, without `..`"),
                );
                return None;
            }
            script.push_str(&format!(
                "[ -f '{s}' ] || {{ echo 'series file does not exist: {s}' >&2; exit 1; }}\n\
                 grep -v -E '^(#|$)' '{s}' | while IFS= read -r p || [ -n \"$p\" ]; do\n\
                 \x20 echo \"applying patch file $p\"\n\
                 \x20 patch -p{strip}{fuzz} < \"$p\"\n\
                 done\n"
            ));
        }
        (None, false) => {
            for f in &patches {
                let p = with.get("patches").map_or(step_pos, |(_, p)| *p);
                if bad(f) {
                    ctx.err(
                        p,
                        format!("`patch`: the patch path `{f}` contains shell characters"),
                        None,
                    );
                    return None;
                }
                if !in_workspace(f) {
                    ctx.err(
                        p,
                        format!("`patch`: the patch path `{f}` leaves the workspace"),
                        Some("give patch files relative to the workspace, without `..`"),
                    );
                    return None;
                }
                script.push_str(&format!(
                    "echo 'applying patch file {f}'\npatch -p{strip}{fuzz} < '{f}'\n"
                ));
            }
        }
        (None, true) => {
            ctx.err(
                step_pos,
                "`patch` needs `with.patches` (files, whitespace-separated) or `with.series`",
                None,
            );
            return None;
        }
    }
    Some(Action::Shell(script))
}

/// The recipe position of a diagnostic that `whittle-config` reported inside `e`.
pub fn relocate(recipe: &Recipe, e: &Embedded, mut d: Diagnostic) -> Diagnostic {
    d.origin = recipe.origin.clone();
    if d.pos.is_known() {
        d.pos.line += e.line_offset;
        d.pos.column += e.column_offset;
        d.source_line = usize::try_from(d.pos.line)
            .ok()
            .and_then(|l| recipe.text.lines().nth(l.saturating_sub(1)))
            .map(|l| l.trim_end().to_string());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RECIPE: &str = "\
package:
  name: hello
  version: 1.2.3
  epoch: 2
  description: says hello
  copyright:
    - license: MIT
  dependencies:
    runtime: [busybox]
vars:
  greeting: hi-${{package.name}}
environment:
  contents:
    packages:
      - gcc
pipeline:
  - uses: fetch
    with:
      uri: file:///src.tar.gz
      expected-sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  - name: build
    runs: |
      echo ${{vars.greeting}} > ${{targets.destdir}}/x-${{package.version}}
subpackages:
  - name: ${{package.name}}-doc
    pipeline:
      - runs: mv ${{targets.destdir}}/doc ${{targets.subpkgdir}}/
test:
  pipeline:
    - runs: hello
";

    /// `--pipeline-dir`: `uses: NAME` runs the user's NAME.yaml with its inputs substituted.
    #[test]
    fn own_pipelines_from_a_pipeline_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("greet")).unwrap();
        std::fs::write(
            dir.path().join("greet/hello.yaml"),
            "name: hello\ninputs:\n  who:\n    required: true\n  greeting:\n    default: hi\npipeline:\n  - runs: echo ${{inputs.greeting}} ${{inputs.who}}\n  - runs: mkdir -p ${{targets.destdir}}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("nested.yaml"),
            "pipeline:\n  - uses: greet/hello\n",
        )
        .unwrap();
        let recipe = |step: &str| {
            format!(
                "package:\n  name: p\n  version: 1\n  epoch: 0\n  description: d\npipeline:\n  - {step}\n"
            )
        };
        let dirs = [dir.path().to_path_buf()];
        let r = parse_with(
            "r.yaml",
            &recipe("uses: greet/hello\n    with:\n      who: world"),
            "x86_64",
            &dirs,
        )
        .unwrap();
        assert_eq!(
            r.pipeline[0].action,
            Action::Shell(format!("(\necho hi world\n)\n(\nmkdir -p {OUT_DIR}/p\n)\n"))
        );
        assert_eq!(r.pipeline[0].name, "greet/hello");
        for (step, want) in [
            ("uses: greet/hello", "needs `with.who`"),
            (
                "uses: greet/hello\n    with:\n      whom: x",
                "has no input `whom`",
            ),
            ("uses: nested", "only `runs:` steps"),
            ("uses: ../greet/hello", "unknown pipeline"),
        ] {
            let err = parse_with("r.yaml", &recipe(step), "x86_64", &dirs)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{step}: {err}");
        }
        // without the directory: unknown, with the hint naming the flag
        let err = parse("r.yaml", &recipe("uses: greet/hello"), "x86_64")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--pipeline-dir"), "{err}");
    }

    /// A recipe repeating `uses:` of a large pipeline file read and parsed it each time, for
    /// every step (minutes); each read now counts against the expansion budget.
    #[test]
    fn repeated_uses_of_a_large_pipeline_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let comment = format!("# {}\n", "x".repeat(200));
        std::fs::write(
            dir.path().join("big.yaml"),
            format!(
                "{}pipeline:\n  - runs: echo\n",
                comment.repeat(250_000 / comment.len())
            ),
        )
        .unwrap();
        let mut text = "package:\n  name: p\n  version: 1\n  epoch: 0\npipeline:\n".to_string();
        while text.len() < 900_000 {
            text.push_str("  - uses: big\n");
        }
        let t = std::time::Instant::now();
        let e = parse_with("r.yaml", &text, "x86_64", &[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("the pipelines `uses:` reads would make"), "{e}");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            t.elapsed()
        );
    }

    fn shell(r: &Recipe) -> Vec<String> {
        r.pipeline
            .iter()
            .filter_map(|s| match &s.action {
                Action::Shell(x) => Some(x.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn if_conditions_select_steps_as_melange() {
        let text = "package:\n  name: hello\n  version: 1\n  epoch: 0\npipeline:\n\
                    \x20 - if: ${{build.arch}} == 'x86_64'\n    runs: echo x86\n\
                    \x20 - if: ${{build.arch}} == \"aarch64\"\n    uses: not/a-pipeline-whittle-has\n\
                    \x20 - if: ${{package.name}} != 'hello' || (${{build.arch}} == 'x86_64' && 'a' == 'a')\n    runs: echo grouped\n\
                    \x20 - if: ${{package.name}} != 'hello'\n    runs: echo never\n";
        let r = parse("r.yaml", text, "x86_64").unwrap();
        assert_eq!(shell(&r), ["echo x86", "echo grouped"]);
        let r = parse("r.yaml", text, "aarch64").unwrap_err().to_string();
        assert!(
            r.contains("r.yaml:9:11: unknown pipeline `not/a-pipeline-whittle-has`"),
            "{r}"
        );
        // melange's operators are left to right: false || true && false is false
        let vars = Vars::new(BTreeMap::new());
        assert_eq!(
            condition("'a' == 'b' || 'a' == 'a' && 'a' == 'b'", &vars),
            Ok(false)
        );
        assert_eq!(condition(r"'it\'s' == 'it\'s'", &vars), Ok(true));
        for bad in [
            "x86_64 == 'x'",
            "'a' = 'a'",
            "('a' == 'a'",
            "'a' == 'a' junk",
            "'a",
            "",
        ] {
            assert!(condition(bad, &vars).is_err(), "{bad}");
        }
        let deep = format!("{}'a' == 'a'{}", "(".repeat(100), ")".repeat(100));
        assert!(condition(&deep, &vars).unwrap_err().contains("nested"));
        let bad = text.replace(
            "== 'x86_64'\n    runs: echo x86",
            "= 'x86_64'\n    runs: echo x86",
        );
        let e = parse("r.yaml", &bad, "x86_64").unwrap_err().to_string();
        assert!(e.contains("r.yaml:6:9: if: expected == or !="), "{e}");
    }

    /// A long `if:` of many substitutions is read in one pass (it was validated as UTF-8 again
    /// from each `${{` to its end: quadratic).
    #[test]
    fn a_long_condition_is_read_in_linear_time() {
        let vars = Vars::new(BTreeMap::from([("a".to_string(), "x".to_string())]));
        let expr = vec!["${{a}} == ${{a}}"; 150_000].join(" && ");
        let t = std::time::Instant::now();
        assert_eq!(condition(&expr, &vars), Ok(true));
        // quadratic, a third of this took a second; read once, milliseconds
        assert!(
            t.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            t.elapsed()
        );
        // and a recipe evaluating it for every item of a range is refused
        let items: String = (0..200).map(|i| format!("      k{i}: v\n")).collect();
        let text = format!(
            "package:\n  name: p\n  version: 1.0\n  epoch: 0\ndata:\n  - name: d\n    items:\n{items}subpackages:\n  - range: d\n    name: p-${{{{range.key}}}}\n    pipeline:\n      - if: {}\n        runs: echo\n",
            vec!["${{range.value}} == 'v'"; 20_000].join(" && ")
        );
        assert!(text.len() < MAX_RECIPE_BYTES as usize);
        let t = std::time::Instant::now();
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(
            e.contains("`if:` conditions would make the recipe more than"),
            "{e}"
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn var_transforms_and_range_subpackages() {
        let text = "package:\n  name: py\n  version: 1.2.3\n  epoch: 0\n\
                    var-transforms:\n  - from: ${{package.version}}\n    match: \\.(\\d+)$\n    replace: _$1\n    to: mangled\n\
                    data:\n  - name: pythons\n    items:\n      '3.12': '312'\n      '3.11': '311'\n\
                    pipeline:\n  - runs: echo ${{vars.mangled}}\n\
                    subpackages:\n  - range: pythons\n    name: py${{range.value}}-x\n    description: for python ${{range.key}}\n\
                    \x20   pipeline:\n      - runs: echo ${{range.key}} ${{targets.subpkgdir}}\n";
        let r = parse("r.yaml", text, "x86_64").unwrap();
        assert_eq!(shell(&r), ["echo 1.2_3"]);
        let subs: Vec<(&str, &str)> = r
            .subpackages
            .iter()
            .map(|s| (s.info.name.as_str(), s.info.description.as_str()))
            .collect();
        assert_eq!(
            subs,
            [
                ("py311-x", "for python 3.11"),
                ("py312-x", "for python 3.12")
            ]
        );
        assert_eq!(
            r.subpackages[1].pipeline[0].action,
            Action::Shell("echo 3.12 /home/build/melange-out/py312-x".into())
        );
        let e = parse(
            "r.yaml",
            &text.replace("range: pythons", "range: pythonz"),
            "x86_64",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("r.yaml:18:12: range `pythonz` is not defined"),
            "{e}"
        );
        let e = parse("r.yaml", &text.replace("\\.(\\d+)$", "(unclosed"), "x86_64")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("r.yaml:7:12: var-transforms: `match` is not a regular expression"),
            "{e}"
        );
    }

    /// Recipes that are small but would expand to gigabytes are refused, bounded in time and
    /// memory: a replacement repeated at every match, transforms feeding each other, a large
    /// step or large vars copied for each of many `range` items.
    #[test]
    fn expansions_of_a_small_recipe_are_bounded() {
        let head = "package:\n  name: p\n  version: 1.0\n  epoch: 0\n";
        let big = "a".repeat(60_000);
        // every `a` replaced by 60 kB: 3.6 GB
        let text = format!(
            "{head}vars:\n  big: {big}\nvar-transforms:\n  - from: ${{{{vars.big}}}}\n    match: a\n    replace: {big}\n    to: huge\n"
        );
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(
            e.contains("r.yaml:8:5: var-transforms: its replacements would make"),
            "{e}"
        );
        // each transform doubling the last: 2^60 bytes
        let mut text = format!("{head}vars:\n  x: ab\nvar-transforms:\n");
        for _ in 0..60 {
            text.push_str("  - from: ${{vars.x}}\n    match: (.*)\n    replace: $1$1\n    to: x\n");
        }
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.contains("`from` is 131072 bytes once substituted"), "{e}");
        // 20 000 range items, or 500 each copying a 400 kB step (200 MB)
        let step = "b".repeat(400_000);
        for (n, want) in [
            (20_000, "more than 1000 subpackages"),
            (500, "the steps would make the recipe more than"),
        ] {
            let items: String = (0..n).map(|i| format!("      k{i}: v\n")).collect();
            let text = format!(
                "{head}vars:\n  big: {}\ndata:\n  - name: d\n    items:\n{items}subpackages:\n  - range: d\n    name: p-${{{{range.key}}}}\n    pipeline:\n      - runs: {step}\n",
                "c".repeat(100_000)
            );
            assert!(text.len() < MAX_RECIPE_BYTES as usize);
            let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        // one 900 kB item copied for 100 subpackages
        let mut text = format!(
            "{head}data:\n  - name: d\n    items:\n      k: {}\nsubpackages:\n",
            "v".repeat(900_000)
        );
        for i in 0..100 {
            text.push_str(&format!("  - range: d\n    name: p{i}\n"));
        }
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.contains("`range` items would make"), "{e}");
        // 17 000 regular expressions each compiled up to the size limit took minutes
        let mut text = format!("{head}var-transforms:\n");
        while text.len() < 1_000_000 {
            text.push_str("  - {from: x, match: '\\w{60}\\w{60}', replace: y, to: z}\n");
        }
        let t = std::time::Instant::now();
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.contains("more than 100 var-transforms"), "{e}");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            t.elapsed()
        );
        // a long value is not matched against
        let text = format!(
            "{head}vars:\n  big: {}\nvar-transforms:\n  - {{from: '${{{{vars.big}}}}', match: a, replace: b, to: c}}\n",
            "a".repeat(100_000)
        );
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.contains("`from` is 100000 bytes once substituted"), "{e}");
        // a range just within the limit is fine
        let items: String = (0..MAX_SUBPACKAGES)
            .map(|i| format!("      k{i}: v\n"))
            .collect();
        let text = format!(
            "{head}data:\n  - name: d\n    items:\n{items}subpackages:\n  - range: d\n    name: p-${{{{range.key}}}}\n    pipeline:\n      - runs: echo ${{{{range.value}}}}\n"
        );
        assert_eq!(
            parse("r.yaml", &text, "x86_64").unwrap().subpackages.len(),
            MAX_SUBPACKAGES
        );
    }

    #[test]
    fn split_and_patch_pipelines() {
        let text = "package:\n  name: lib\n  version: 1\n  epoch: 0\npipeline:\n\
                    \x20 - uses: patch\n    with:\n      patches: fix-1.patch  fix-2.patch\n      strip-components: 0\n\
                    subpackages:\n  - name: lib-dev\n    pipeline:\n      - uses: split/dev\n\
                    \x20 - name: lib-doc\n    pipeline:\n      - uses: split/manpages\n        with:\n          package: lib-dev\n";
        let r = parse("r.yaml", text, "x86_64").unwrap();
        assert_eq!(
            shell(&r),
            [
                "set -e\necho 'applying patch file fix-1.patch'\npatch -p0 < 'fix-1.patch'\necho 'applying patch file fix-2.patch'\npatch -p0 < 'fix-2.patch'\n"
            ]
        );
        assert_eq!(
            r.subpackages[0].pipeline[0].action,
            Action::Split {
                kind: Split::Dev {
                    prefix: "usr".into()
                },
                from: "lib".into(),
                to: "lib-dev".into()
            }
        );
        assert_eq!(
            r.subpackages[1].pipeline[0].action,
            Action::Split {
                kind: Split::Manpages,
                from: "lib-dev".into(),
                to: "lib-doc".into()
            }
        );
        let series = text.replace(
            "patches: fix-1.patch  fix-2.patch\n      strip-components: 0",
            "series: debian/patches/series\n      fuzz: 3",
        );
        let r = parse("r.yaml", &series, "x86_64").unwrap();
        assert!(
            shell(&r)[0].contains("patch -p1 --fuzz=3 < \"$p\""),
            "{:?}",
            shell(&r)
        );
        for (from, to, want) in [
            (
                "fix-2.patch",
                "x';rm -rf /'",
                "r.yaml:8:16: `patch`: the patch path",
            ),
            (
                "strip-components: 0",
                "strip-components: -1",
                "r.yaml:9:25: `patch`: `strip-components` must be",
            ),
            (
                "      - uses: split/dev\n",
                "      - uses: split/dev\n        with:\n          package: lib-dev\n",
                "would move its files into itself",
            ),
        ] {
            let e = parse("r.yaml", &text.replace(from, to), "x86_64")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
        let dbg = text.replace("uses: split/manpages", "uses: split/debug");
        let r = parse("r.yaml", &dbg, "x86_64").unwrap();
        let Action::Shell(script) = &r.subpackages[1].pipeline[0].action else {
            panic!("split/debug runs in the sandbox");
        };
        assert!(
            script.contains(
                "F='/home/build/melange-out/lib-dev'\nT='/home/build/melange-out/lib-doc'\n"
            ),
            "{script}"
        );
        assert!(script.contains("objcopy --only-keep-debug"), "{script}");
        let main =
            "package:\n  name: lib\n  version: 1\n  epoch: 0\npipeline:\n  - uses: split/dev\n";
        let e = parse("r.yaml", main, "x86_64").unwrap_err().to_string();
        assert!(
            e.contains("`split/dev` in package `lib` would move its files into itself"),
            "{e}"
        );
    }

    #[test]
    fn parses_and_substitutes() {
        let r = parse("r.yaml", RECIPE, "x86_64").unwrap();
        assert_eq!(r.full_version, "1.2.3-r2");
        assert_eq!(r.licenses, ["MIT"]);
        assert_eq!(r.package.runtime, ["busybox"]);
        assert_eq!(
            r.pipeline[1].action,
            Action::Shell("echo hi-hello > /home/build/melange-out/hello/x-1.2.3\n".into())
        );
        assert_eq!(r.pipeline[1].at, "r.yaml:21:5");
        assert!(matches!(
            r.pipeline[0].action,
            Action::Fetch {
                strip_components: 1,
                ..
            }
        ));
        assert_eq!(r.subpackages[0].info.name, "hello-doc");
        assert_eq!(
            r.subpackages[0].pipeline[0].action,
            Action::Shell(
                "mv /home/build/melange-out/hello/doc /home/build/melange-out/hello-doc/".into()
            )
        );
        let env = r.environment.unwrap();
        assert_eq!(env.text, "contents:\n  packages:\n    - gcc\n");
        assert_eq!((env.line_offset, env.column_offset), (12, 2));
        assert_eq!(r.test.unwrap().pipeline.len(), 1);
    }

    #[test]
    fn limits_have_defaults_and_are_read_with_positions() {
        let r = parse("r.yaml", RECIPE, "x86_64").unwrap();
        assert_eq!(r.limits, Limits::default());
        let text = RECIPE.replace(
            "  epoch: 2\n",
            "  epoch: 2\n  timeout: 1h30m\n  resources:\n    memory: 512Mi\n    processes: 64\n    cpu: \"4\"\n",
        );
        let r = parse("r.yaml", &text, "x86_64").unwrap();
        assert_eq!(
            r.limits,
            Limits {
                processes: 64,
                memory: 512 << 20,
                timeout: std::time::Duration::from_secs(5400),
            }
        );
        for (bad, at, want) in [
            ("  timeout: 10\n", "r.yaml:5:12: ", "package.timeout"),
            ("  timeout: soon\n", "r.yaml:5:12: ", "e.g. 90s"),
            (
                "  resources:\n    memory: 1Mi\n",
                "r.yaml:6:13: ",
                "package.resources.memory",
            ),
            (
                "  resources:\n    memory: 2GB\n",
                "r.yaml:6:13: ",
                "unknown unit `GB`",
            ),
            (
                "  resources:\n    processes: 0\n",
                "r.yaml:6:16: ",
                "package.resources.processes",
            ),
            ("  resources:\n    threads: 4\n", "r.yaml:6:5: ", "threads"),
        ] {
            let text = RECIPE.replace("  epoch: 2\n", &format!("  epoch: 2\n{bad}"));
            let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
            assert!(e.starts_with(at) && e.contains(want), "{bad}: {e}");
        }
    }

    /// A recipe (or key) path naming something endless was sized with `metadata` (0 for
    /// `/dev/zero` or a FIFO) and then read whole; it is read bounded and refused as too large.
    #[test]
    fn an_endless_recipe_or_key_file_is_refused_bounded() {
        let zero = Path::new("/dev/zero");
        let e = from_file(zero, "x86_64", &[]).unwrap_err().to_string();
        assert!(e.contains("/dev/zero") && e.contains("larger than"), "{e}");
        let e = crate::keys::load(zero).unwrap_err().to_string();
        assert!(e.contains("/dev/zero") && e.contains("larger than"), "{e}");
    }

    #[test]
    fn unknown_field_is_refused_with_its_position() {
        let text = RECIPE.replace("  description: says hello", "  descripton: says hello");
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.starts_with("r.yaml:5:3: "), "{e}");
        assert!(e.contains("descripton"), "{e}");
    }

    #[test]
    fn git_checkout_inputs_are_checked() {
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let with = |w: &str| {
            format!(
                "package:\n  name: x\n  version: 1\n  epoch: 0\npipeline:\n  - uses: git-checkout\n    with:\n      repository: https://example.org/x.git\n{w}"
            )
        };
        let ok = parse(
            "r.yaml",
            &with(&format!(
                "      tag: v1\n      expected-commit: {commit}\n      depth: 1\n"
            )),
            "x86_64",
        )
        .unwrap();
        assert_eq!(
            ok.pipeline[0].action,
            Action::GitCheckout {
                repository: "https://example.org/x.git".into(),
                destination: ".".into(),
                reference: Some("v1".into()),
                expected_commit: commit.into(),
                depth: Some(1),
            }
        );
        for (w, want) in [
            (
                format!("      branch: a\n      tag: b\n      expected-commit: {commit}\n"),
                "not both",
            ),
            (
                format!("      expected-commit: {commit}\n      depth: 0\n"),
                "depth `0`",
            ),
            (
                "      expected-commit: abc\n".to_string(),
                "full commit hash",
            ),
            (
                format!("      expected-commit: {commit}\n      ref: x\n"),
                "has no input `ref`",
            ),
        ] {
            let e = parse("r.yaml", &with(&w), "x86_64")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{w}: {e}");
        }
    }

    #[test]
    fn options_are_read_for_packages_and_subpackages() {
        let text = "package:\n  name: x\n  version: 1\n  epoch: 0\n  options:\n    no-commands: true\nsubpackages:\n  - name: x-dev\n    options:\n      no-depends: true\n      no-provides: true\n";
        let r = parse("r.yaml", text, "x86_64").unwrap();
        assert_eq!(
            (r.package.options, r.subpackages[0].info.options),
            (
                FoundOptions {
                    no_commands: true,
                    ..Default::default()
                },
                FoundOptions {
                    no_depends: true,
                    no_provides: true,
                    ..Default::default()
                }
            )
        );
        let e = parse(
            "r.yaml",
            &text.replace("no-commands", "no-versions"),
            "x86_64",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("r.yaml:6:5") && e.contains("no-versions"),
            "{e}"
        );
    }

    #[test]
    fn language_pipelines_have_melanges_inputs_and_defaults() {
        let step = |uses: &str, with: &str| -> std::result::Result<String, String> {
            let text = format!(
                "package:\n  name: x\n  version: 1\n  epoch: 0\npipeline:\n  - uses: {uses}\n{with}"
            );
            match parse("r.yaml", &text, "x86_64") {
                Ok(r) => match &r.pipeline[0].action {
                    Action::Shell(s) => Ok(s.clone()),
                    other => Err(format!("{other:?}")),
                },
                Err(e) => Err(e.to_string()),
            }
        };
        let dest = format!("'{OUT_DIR}/x'");
        for (uses, with, want) in [
            (
                "cmake/configure",
                "",
                "cmake -B 'output' -G Ninja -DCMAKE_INSTALL_PREFIX=/usr",
            ),
            (
                "cmake/configure",
                "    with:\n      output-dir: b\n      opts: -DX=1\n",
                "-B 'b' -G Ninja",
            ),
            ("cmake/build", "", "cmake --build 'output'"),
            (
                "cmake/install",
                "",
                &format!("DESTDIR={dest} cmake --install 'output'"),
            ),
            (
                "meson/configure",
                "",
                "meson setup . 'output' --prefix=/usr --wrap-mode=nodownload",
            ),
            ("meson/compile", "", "meson compile -C 'output'"),
            (
                "meson/install",
                "",
                &format!("DESTDIR={dest} meson install -C 'output'"),
            ),
            (
                "go/build",
                "    with:\n      packages: ./cmd/x\n      output: x\n",
                &format!(
                    "go build -o {dest}/'usr'/'bin'/'x' -tags '' -ldflags '' -trimpath ./cmd/x"
                ),
            ),
            (
                "go/install",
                "    with:\n      package: example.org/x\n      version: v1\n",
                "-ldflags '-s -w' 'example.org/x@v1'",
            ),
            ("python/build-wheel", "", "-m build --wheel --no-isolation"),
            ("python/install", "", "ls dist/*.whl"),
            (
                "git-am",
                "    with:\n      patches: a.patch b.patch\n",
                "am 'a.patch' 'b.patch'",
            ),
        ] {
            let script = step(uses, with).unwrap_or_else(|e| panic!("{uses}: {e}"));
            assert!(script.contains(want), "{uses}: {script}");
        }
        assert!(
            step("cmake/configure", "    with:\n      opts: -DX=1\n")
                .unwrap()
                .contains("MinSizeRel -DX=1")
        );
        for (uses, with, want) in [
            (
                "go/build",
                "    with:\n      packages: .\n",
                "needs `with.packages`",
            ),
            ("go/install", "", "needs `with.package`"),
            ("git-am", "", "needs `with.patches`"),
            (
                "git-am",
                "    with:\n      patches: a.patch ../../etc/x.patch\n",
                "`../../etc/x.patch` leaves the workspace",
            ),
            (
                "git-am",
                "    with:\n      patches: /tmp/x.patch\n",
                "leaves the workspace",
            ),
            (
                "patch",
                "    with:\n      patches: ok.patch ../up.patch\n",
                "`../up.patch` leaves the workspace",
            ),
            (
                "patch",
                "    with:\n      series: /etc/series\n",
                "`/etc/series` leaves the workspace",
            ),
            (
                "meson/install",
                "    with:\n      opts: x\n",
                "has no input `opts`",
            ),
        ] {
            let e = step(uses, with).unwrap_err();
            assert!(e.contains(want), "{uses}: {e}");
        }
        // inputs are quoted for the shell
        let s = step("cmake/build", "    with:\n      output-dir: \"it's\"\n").unwrap();
        assert!(s.contains(r"'it'\''s'"), "{s}");
        // everywhere: a value with a quote and shell characters stays one word
        let hostile = r#""it's $(touch /pwned); `id` > x""#;
        let quoted = r"'it'\''s $(touch /pwned); `id` > x'";
        for (uses, inputs) in [
            ("autoconf/configure", &["dir"][..]),
            ("autoconf/make", &["dir"]),
            ("autoconf/make-install", &["dir"]),
            (
                "cargo/build",
                &["modroot", "prefix", "install-dir", "output"],
            ),
            ("cmake/configure", &["output-dir"]),
            ("meson/install", &["output-dir"]),
            ("go/build", &["modroot", "output", "tags", "ldflags"]),
        ] {
            let mut with = String::from("    with:\n");
            if uses == "go/build" {
                with.push_str("      packages: .\n");
            }
            for k in inputs {
                with.push_str(&format!("      {k}: {hostile}\n"));
            }
            let s = step(uses, &with).unwrap_or_else(|e| panic!("{uses}: {e}"));
            let bare = s.replace(quoted, "");
            assert!(
                s.contains(quoted) && !bare.contains("it's") && !bare.contains("pwned"),
                "{uses}: {s}"
            );
        }
    }

    #[test]
    fn fetch_without_checksum_is_refused_with_its_position() {
        let text = RECIPE.replace(
            "      expected-sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
            "",
        );
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.starts_with("r.yaml:17:5: "), "{e}");
        assert!(e.contains("expected-sha256"), "{e}");
        // an expected-sha512 beside it must be one
        let sha256 = "      expected-sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
        let text = RECIPE.replace(sha256, &format!("{sha256}      expected-sha512: abc\n"));
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(
            e.contains("`expected-sha512` must be 128 hex digits"),
            "{e}"
        );
    }

    #[test]
    fn unknown_substitution_and_builtin_are_refused() {
        let text = RECIPE.replace("${{vars.greeting}}", "${{vars.nope}}");
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(
            e.starts_with("r.yaml:23:7: ") && e.contains("vars.nope"),
            "{e}"
        );
        let text = RECIPE.replace("uses: fetch", "uses: fetsh");
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.contains("r.yaml:17:11") && e.contains("fetsh"), "{e}");
    }

    #[test]
    fn substitution_blowup_is_refused() {
        let big = "a".repeat(400_000);
        let refs = "${{vars.big}}".repeat(40_000);
        let text = format!(
            "package:\n  name: x\n  version: 1\nvars:\n  big: {big}\npipeline:\n  - runs: {refs}\n"
        );
        assert!(text.len() < MAX_RECIPE_BYTES as usize);
        let e = parse("r.yaml", &text, "x86_64").unwrap_err().to_string();
        assert!(e.contains("more than") && e.contains("vars.big"), "{e}");
    }

    proptest! {
        #[test]
        fn conditions_never_panic(s in "[()'\"=!&|$\\{} a-z]{0,200}") {
            let v = Vars::new(BTreeMap::from([("a".to_string(), "x".to_string())]));
            let _ = condition(&s, &v);
        }

        #[test]
        fn a_condition_compares_as_written(
            a in "[a-z0-9_.]{0,8}",
            b in "[a-z0-9_.]{0,8}",
            c in "[a-z0-9_.]{0,8}",
        ) {
            let v = Vars::new(BTreeMap::from([("build.arch".to_string(), a.clone())]));
            let e = format!("${{{{build.arch}}}} == '{b}' || \"{c}\" != '{a}'");
            prop_assert_eq!(condition(&e, &v), Ok(a == b || c != a));
        }

        #[test]
        fn expansion_without_markers_is_identity(s in "[^$]{0,200}") {
            let v = Vars::new(BTreeMap::new());
            prop_assert_eq!(v.expand(&s).unwrap(), s);
        }

        #[test]
        fn expansion_replaces_every_occurrence(parts in proptest::collection::vec("[a-z ]{0,10}", 1..8)) {
            let v = Vars::new(BTreeMap::from([("x".to_string(), "Y".to_string())]));
            let text = parts.join("${{ x }}");
            let want = parts.join("Y");
            prop_assert_eq!(v.expand(&text).unwrap(), want);
        }
    }
}
