//! Whole-config tests: a good config, a table of bad ones, and never-panic properties.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use whittle_config::*;

const GOOD: &str = r#"# full example
contents:
  repositories:
    - deb [signed-by=keys/debian.gpg] https://example.org/debian bookworm main
    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=x86_64] host:debian bookworm main contrib
    - https://apk.example.org/alpine/v3.20/main
    - "@edge https://apk.example.org/alpine/edge/main"
  keyring: [keys/extra.gpg, "https://keys.example.org/alpine.rsa.pub"]
  packages: [gawk, "libc6=2.36-9+deb12u10", "foo>=1.0"]
  exclude: [dpkg]
  include-docs: true
  include-script-dependencies: true
entrypoint:
  command: /usr/bin/gawk -f
cmd: "'BEGIN { print 1 }'"
work-dir: /data/
environment: {PATH: /usr/bin, PORT: 8080}
accounts:
  groups: [{groupname: nonroot, gid: 65532, members: [nonroot]}]
  users: [{username: nonroot, uid: 65532, gid: 65532, shell: /sbin/nologin, homedir: /home/nonroot}]
  run-as: nonroot
paths:
  - {path: /data, type: directory, uid: 65532, gid: 65532, permissions: 0o755, recursive: false}
  - {path: /etc/x, type: empty-file, permissions: "0600"}
  - {path: /usr/bin/awk, type: symlink, source: gawk}
  - {path: /usr/bin/awk2, type: hardlink, source: /usr/bin/gawk}
  - {path: /data, type: permissions, permissions: 0700, recursive: true}
  - {path: /app/server, type: local, source: ./target/release/server, permissions: 493}
  - {path: /app/static, type: local, source: ./static}
annotations: {org.opencontainers.image.source: https://example.org/x}
archs: [amd64, aarch64]
"#;

#[test]
fn good_config_parses_into_expected_struct() {
    let cfg = Config::from_str("/proj/image.yaml", GOOD).unwrap();
    assert_eq!(cfg.origin, "/proj/image.yaml");
    assert_eq!(cfg.base_dir, PathBuf::from("/proj"));

    let c = &cfg.contents;
    assert_eq!(c.repositories.len(), 4);
    let Repository::Deb(d) = &c.repositories[0] else {
        panic!("deb expected")
    };
    assert_eq!(d.uri, "https://example.org/debian");
    assert_eq!(d.suite, "bookworm");
    assert_eq!(d.components, ["main"]);
    assert_eq!(
        d.signed_by,
        Some(ConfigPath {
            written: "keys/debian.gpg".into(),
            resolved: "/proj/keys/debian.gpg".into()
        })
    );
    assert_eq!(d.pos, Pos::new(4, 7));
    let Repository::Deb(h) = &c.repositories[1] else {
        panic!("deb expected")
    };
    assert_eq!(h.uri, "host:debian");
    assert!(h.is_host_alias());
    assert_eq!(h.arch, Some(vec![Arch::Amd64]));
    assert_eq!(h.components, ["main", "contrib"]);
    assert_eq!(
        c.repositories[2],
        Repository::Apk(ApkRepo {
            url: "https://apk.example.org/alpine/v3.20/main".into(),
            relative: None,
            tag: None,
            pos: Pos::new(6, 7)
        })
    );
    let Repository::Apk(e) = &c.repositories[3] else {
        panic!("apk expected")
    };
    assert_eq!(e.tag.as_deref(), Some("edge"));

    assert_eq!(
        c.keyring
            .iter()
            .map(|k| k.source.clone())
            .collect::<Vec<_>>(),
        vec![
            KeyringSource::File(ConfigPath {
                written: "keys/extra.gpg".into(),
                resolved: "/proj/keys/extra.gpg".into()
            }),
            KeyringSource::Url("https://keys.example.org/alpine.rsa.pub".into()),
        ]
    );
    let names: Vec<_> = c.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["gawk", "libc6", "foo"]);
    assert_eq!(c.packages[0].constraint, None);
    assert_eq!(
        c.packages[1].constraint,
        Some(VersionConstraint {
            op: ConstraintOp::Eq,
            version: "2.36-9+deb12u10".into()
        })
    );
    assert_eq!(
        c.packages[2].constraint.as_ref().unwrap().op,
        ConstraintOp::Ge
    );
    assert_eq!(c.packages[1].written, "libc6=2.36-9+deb12u10");
    assert_eq!(c.exclude, ["dpkg"]);
    assert!(c.include_docs);
    assert!(c.include_script_dependencies);

    assert_eq!(cfg.entrypoint, ["/usr/bin/gawk", "-f"]);
    assert_eq!(cfg.cmd, ["BEGIN { print 1 }"]);
    assert_eq!(cfg.work_dir.as_deref(), Some("/data"));
    assert_eq!(cfg.environment["PATH"], "/usr/bin");
    assert_eq!(cfg.environment["PORT"], "8080");

    let a = &cfg.accounts;
    assert_eq!(
        a.groups,
        [Group {
            groupname: "nonroot".into(),
            gid: 65532,
            members: vec!["nonroot".into()]
        }]
    );
    assert_eq!(
        a.users,
        [User {
            username: "nonroot".into(),
            uid: 65532,
            gid: 65532,
            shell: "/sbin/nologin".into(),
            homedir: "/home/nonroot".into()
        }]
    );
    let run_as = a.run_as.as_ref().unwrap();
    assert_eq!(run_as.uid, 65532);
    assert_eq!(run_as.oci_user(), "65532:65532");

    let p = &cfg.paths;
    assert_eq!(p.len(), 7);
    assert_eq!(
        p[0],
        PathSpec {
            path: "/data".into(),
            kind: PathKind::Directory,
            uid: 65532,
            gid: 65532,
            permissions: Some(0o755),
            recursive: false,
            pos: p[0].pos,
        }
    );
    assert_eq!(p[1].kind, PathKind::EmptyFile);
    assert_eq!(p[1].permissions, Some(0o600));
    assert_eq!(
        p[2].kind,
        PathKind::Symlink {
            target: "gawk".into()
        }
    );
    assert_eq!(
        p[3].kind,
        PathKind::Hardlink {
            target: "/usr/bin/gawk".into()
        }
    );
    assert_eq!(p[4].kind, PathKind::Permissions);
    assert_eq!(p[4].permissions, Some(0o700), "legacy octal 0700");
    assert!(p[4].recursive);
    assert_eq!(
        p[5].kind,
        PathKind::Local {
            source: ConfigPath {
                written: "./target/release/server".into(),
                resolved: "/proj/target/release/server".into()
            }
        }
    );
    assert_eq!(p[5].permissions, Some(0o755), "decimal 493");
    assert_eq!(p[6].permissions, None);

    assert_eq!(
        cfg.annotations["org.opencontainers.image.source"],
        "https://example.org/x"
    );
    assert_eq!(cfg.archs, [Arch::Amd64, Arch::Arm64]);
    assert!(
        cfg.warnings.is_empty(),
        "unexpected warnings: {:?}",
        cfg.warnings
    );
}

#[test]
fn example_gawk_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gawk.yaml");
    if !path.exists() {
        println!("SKIPPED: examples/gawk.yaml not found");
        return;
    }
    let cfg = Config::from_file(&path).unwrap();
    assert_eq!(cfg.entrypoint, ["/usr/bin/gawk"]);
    assert_eq!(cfg.accounts.run_as.unwrap().uid, 65532);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn baseimage_reads_as_apko_writes_it() {
    let read = |yaml: &str| {
        Config::from_str(
            "/srv/images/c.yaml",
            &format!("contents:\n  packages: [gawk]\n  baseimage:\n{yaml}"),
        )
        .unwrap()
    };
    // a relative local reference is read against the config's directory
    let c = read("    image: oci:base:1\n");
    let b = c.contents.base_image.as_ref().unwrap();
    assert_eq!(
        (b.image.as_str(), b.resolved.as_str()),
        ("oci:base:1", "oci:/srv/images/base:1")
    );
    assert_eq!((b.pos.line, b.pos.column), (4, 12));
    // on a base, no entrypoint and no run-as are the base's to give: no warnings
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let c = read("    image: registry.example/base:1\n    apkindex: x/APKINDEX\n");
    let b = c.contents.base_image.as_ref().unwrap();
    assert_eq!(b.resolved, "registry.example/base:1");
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("`apkindex` is not needed")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn layering_reads_as_apko_reads_it() {
    let read = |yaml: &str| {
        Config::from_str("l.yaml", &format!("contents:\n  packages: []\n{yaml}"))
            .unwrap()
            .layering
    };
    assert_eq!(read(""), None);
    // apko: an empty `layering` is one layer
    assert_eq!(read("layering: {}\n"), None);
    assert_eq!(
        read("layering:\n  strategy: origin\n  budget: 10\n"),
        Some(Layering { budget: 10 })
    );
    // budget 0 is apko's one package layer (and the top layer)
    assert_eq!(
        read("layering: {strategy: origin}\n"),
        Some(Layering { budget: 0 })
    );
}

#[test]
fn layer_compression_is_gzip_or_zstd() {
    let read = |yaml: &str| {
        Config::from_str("c.yaml", &format!("contents:\n  packages: []\n{yaml}"))
            .unwrap()
            .layer_compression
    };
    assert_eq!(read(""), LayerCompression::Gzip);
    assert_eq!(read("layer-compression: gzip\n"), LayerCompression::Gzip);
    assert_eq!(read("layer-compression: zstd\n"), LayerCompression::Zstd);
}

#[test]
fn minimal_config_warns_about_root_and_defaults_arch() {
    let cfg = Config::from_str(
        "m.yaml",
        "contents:\n  repositories: ['deb [signed-by=k.gpg] host:debian bookworm main']\n  packages: [gawk]\ncmd: [/usr/bin/gawk, 'BEGIN { print 1 }']\n",
    )
    .unwrap();
    assert_eq!(cfg.cmd, ["/usr/bin/gawk", "BEGIN { print 1 }"]);
    assert!(cfg.entrypoint.is_empty());
    // dependencies that only serve maintainer scripts are waived unless asked for
    assert!(!cfg.contents.include_script_dependencies);
    assert_eq!(cfg.archs, vec![Arch::host().unwrap()]);
    let w: Vec<String> = cfg.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("m.yaml: warning: no `accounts.run-as`: the image will run as root"));
    // Relative to the current directory when the origin has no directory.
    assert_eq!(cfg.base_dir, std::env::current_dir().unwrap());
}

#[test]
fn warnings_for_root_trusted_duplicates() {
    let cfg = Config::from_str(
        "w.yaml",
        "contents:\n  repositories: ['deb [trusted=yes] file:/srv/repo ./']\n  packages: [a, a]\nentrypoint: {command: /a}\naccounts: {run-as: 0}\narchs: [amd64, x86_64]\n",
    )
    .unwrap();
    let all: String = cfg.warnings.iter().map(|w| w.to_string() + "\n").collect();
    assert!(all.contains("w.yaml:2:18: warning: `trusted=yes`"), "{all}");
    assert!(all.contains("package `a` is listed twice"), "{all}");
    assert!(
        all.contains("w.yaml:5:20: warning: `run-as` is root"),
        "{all}"
    );
    assert!(
        all.contains("architecture `x86_64` is listed twice"),
        "{all}"
    );
    assert_eq!(cfg.accounts.run_as.unwrap().oci_user(), "0:0");
}

/// (config text, expected `file:line:col`, expected fragments of message/hint)
const BAD: &[(&str, &str, &[&str])] = &[
    (
        "layer-compression: xz\n",
        "bad.yaml:1:20:",
        &["unknown layer-compression `xz`", "`gzip`", "`zstd`"],
    ),
    (
        "layering:\n  strategy: size\n  budget: 3\n",
        "bad.yaml:2:13:",
        &["unknown layering strategy `size`", "`origin`"],
    ),
    (
        "layering:\n  budget: 3\n",
        "bad.yaml:2:3:",
        &["`layering` without `strategy`"],
    ),
    (
        "layering: {strategy: origin, budget: 127}\n",
        "bad.yaml:1:",
        &["layering budget 127 is too large", "up to 126"],
    ),
    (
        "layering: {strategy: origin, budget: -1}\n",
        "bad.yaml:1:",
        &["budget"],
    ),
    (
        "entrypoin:\n  command: /x\n",
        "bad.yaml:1:1:",
        &[
            "unknown field `entrypoin`",
            "hint: did you mean `entrypoint`?",
        ],
    ),
    (
        "contents:\n  pakages: [a]\n",
        "bad.yaml:2:3:",
        &["unknown field `pakages`", "did you mean `packages`?"],
    ),
    (
        "workdir: /x\n",
        "bad.yaml:1:1:",
        &["did you mean `work-dir`?"],
    ),
    (
        "include: base.yaml\n",
        "bad.yaml:1:1:",
        &[
            "unknown field `include`",
            "not supported by whittle",
            "copy the included fields",
        ],
    ),
    (
        "entrypoint:\n  type: service-bundle\n  services:\n    nginx: /usr/sbin/nginx\n",
        "bad.yaml:2:3:",
        &[
            "unknown field `type`",
            "no service supervisor",
            "entrypoint.command",
        ],
    ),
    (
        "image:\n  name: apko-go\n  version: 1.0.0\n",
        "bad.yaml:1:1:",
        &["unknown field `image`", "org.opencontainers.image.version"],
    ),
    (
        "baseimage: {image: x}\n",
        "bad.yaml:1:1:",
        &["unknown field `baseimage`", "goes under `contents`"],
    ),
    (
        "certificates:\n  additional: []\n",
        "bad.yaml:1:1:",
        &["unknown field `certificates`", "type: local"],
    ),
    ("volumes: [data]\n", "bad.yaml:1:", &["not absolute"]),
    (
        "stop-signal: \"kill it\"\n",
        "bad.yaml:1:",
        &["is not a signal", "SIGTERM"],
    ),
    (
        "os-release:\n  id: Wolfi OS\n",
        "bad.yaml:2:",
        &["os-release.id", "lowercase"],
    ),
    (
        "os-release:\n  name: \"a\\nb\"\n",
        "bad.yaml:2:",
        &["line break"],
    ),
    (
        "os-release:\n  codename: x\n",
        "bad.yaml:2:3:",
        &["unknown field `codename`", "version-id"],
    ),
    (
        "paths:\n  - {path: /d, type: dir}\n",
        "bad.yaml:2:22:",
        &[
            "unknown variant `dir`",
            "did you mean `directory`?",
            "\n 2 |   - {path: /d, type: dir}\n   |                      ^",
        ],
    ),
    (
        "accounts:\n  users: [{username: a, uid: -1}]\n",
        "bad.yaml:2:30:",
        &["0 to 4294967294"],
    ),
    (
        "accounts:\n  users: [{username: a, uid: 4294967295}]\n  run-as: a\n",
        "bad.yaml:2:30:",
        &["uid 4294967295 is out of range"],
    ),
    (
        "accounts:\n  users: [{username: a}]\n",
        "bad.yaml:2:12:",
        &["missing field `uid`", "add `uid:`"],
    ),
    (
        "accounts:\n  users:\n    - {username: a, uid: 1}\n    - {username: a, uid: 2}\n  run-as: a\n",
        "bad.yaml:4:18:",
        &["user `a` is declared twice (first at line 3)"],
    ),
    (
        "accounts:\n  groups:\n    - {groupname: g, gid: 1}\n    - {groupname: g, gid: 2}\n",
        "bad.yaml:4:19:",
        &["group `g` is declared twice"],
    ),
    (
        "accounts:\n  users: [{username: nonroot, uid: 65532}]\n  run-as: nonrot\n",
        "bad.yaml:3:11:",
        &[
            "`run-as: nonrot` is not a declared user",
            "did you mean `nonroot`?",
        ],
    ),
    (
        "paths:\n  - {path: data, type: directory}\n",
        "bad.yaml:2:12:",
        &["path `data` is not absolute", "absolute path in the image"],
    ),
    (
        "paths:\n  - {path: /a/../etc/shadow, type: empty-file}\n",
        "bad.yaml:2:12:",
        &["contains `..`", "without `..`"],
    ),
    (
        "paths:\n  - path: /usr/bin/awk\n    type: symlink\n",
        "bad.yaml:3:11:",
        &["`type: symlink` needs a `source`", "source: gawk"],
    ),
    (
        "paths:\n  - {path: /app, type: local}\n",
        "bad.yaml:2:24:",
        &["`type: local` needs a `source`"],
    ),
    (
        "paths:\n  - {path: /x, type: permissions}\n",
        "bad.yaml:2:22:",
        &["needs `permissions`", "0o755"],
    ),
    (
        "paths:\n  - {path: /x, type: directory, permissions: 0o17777}\n",
        "bad.yaml:2:46:",
        &["exceed 0o7777"],
    ),
    (
        "paths:\n  - {path: /x, type: directory, permissions: \"rwx\"}\n",
        "bad.yaml:2:46:",
        &["not octal digits"],
    ),
    (
        "paths:\n  - {path: /x, type: directory}\n  - {path: /x/, type: empty-file}\n",
        "bad.yaml:3:12:",
        &[
            "already created by the entry at line 2",
            "type: permissions",
        ],
    ),
    (
        "paths:\n  - {path: /l, type: hardlink, source: relative}\n",
        "bad.yaml:2:40:",
        &["not absolute"],
    ),
    (
        "archs: [amd64, arm46]\n",
        "bad.yaml:1:16:",
        &["unknown architecture `arm46`", "did you mean `arm64`?"],
    ),
    (
        "contents:\n  repositories:\n    - deb https://example.org/debian bookworm main\n",
        "bad.yaml:3:7:",
        &["cannot be verified", "signed-by"],
    ),
    (
        "contents:\n  repositories:\n    - deb [signed-by=k] host:debain bookworm main\n",
        "bad.yaml:3:7:",
        &["unknown host mirror alias", "did you mean `host:debian`?"],
    ),
    (
        "contents:\n  packages: [gawk]\n  exclude: [gawk]\n",
        "bad.yaml:2:14:",
        &["both in `packages` and in `exclude`"],
    ),
    (
        "contents:\n  packages: [\"foo (>= 1)\"]\n",
        "bad.yaml:2:14:",
        &["parenthesized", "name>=version"],
    ),
    (
        "entrypoint:\n  command: \"/bin/x 'unterminated\"\n",
        "bad.yaml:2:12:",
        &["unterminated ' quote", "YAML list"],
    ),
    (
        "entrypoint:\n  command: \"\"\n",
        "bad.yaml:2:12:",
        &["`entrypoint.command` is empty"],
    ),
    ("work-dir: relative\n", "bad.yaml:1:11:", &["not absolute"]),
    (
        "cmd: {a: b}\n",
        "bad.yaml:1:6:",
        &["string or a list of strings"],
    ),
    ("- a\n- b\n", "bad.yaml:1:1:", &["keys such as `contents:`"]),
    (
        "cmd: a\ncmd: b\n",
        "bad.yaml:2:1:",
        &["duplicate", "merge the two entries"],
    ),
    ("cmd: a\n---\ncmd: b\n", "bad.yaml:", &["one YAML document"]),
    ("# nothing\n\n", "bad.yaml:1:1:", &["the config is empty"]),
    (
        "contents:\n  include-docs: maybe\n",
        "bad.yaml:2:17:",
        &["true"],
    ),
    (
        "contents:\n  include-script-dependencies: yes please\n",
        "bad.yaml:2:",
        &["true"],
    ),
    (
        "contents:\n  include-script-deps: true\n",
        "bad.yaml:2:3:",
        &["include-script-dependencies"],
    ),
    ("contents: [a]\n", "bad.yaml:1:11:", &["mapping"]),
    // fields that land in /etc/passwd and /etc/group cannot add fields or lines (issue 12)
    (
        "accounts:\n  users: [{username: u, uid: 1000, homedir: \"/home/u:/x\"}]\n",
        "bad.yaml:2:",
        &["`homedir`", "contains `:`", "/etc/passwd"],
    ),
    (
        "accounts:\n  users: [{username: u, uid: 1000, shell: \"/bin/sh\\nevil::0:0::/:/bin/sh\"}]\n",
        "bad.yaml:2:",
        &["`shell`", "line break", "/etc/passwd"],
    ),
    (
        "accounts:\n  groups: [{groupname: g, gid: 5, members: [\"a,root\"]}]\n",
        "bad.yaml:2:",
        &["invalid group member `a,root`"],
    ),
    (
        "accounts:\n  groups: [{groupname: g, gid: 5, members: [\"a\\nroot:x:0:\"]}]\n",
        "bad.yaml:2:",
        &["invalid group member `a\\nroot:x:0:`"],
    ),
    (
        "environment:\n  \"A\\nB\": x\n",
        "bad.yaml:2:",
        &["invalid environment variable name"],
    ),
    (
        "environment:\n  \"A B\": x\n",
        "bad.yaml:2:",
        &["invalid environment variable name"],
    ),
];

#[test]
fn bad_configs_report_position_and_hint() {
    let mut failures = Vec::new();
    for (text, at, fragments) in BAD {
        let r = std::panic::catch_unwind(|| check_bad(text, at, fragments));
        if let Err(e) = r {
            failures.push(e.downcast_ref::<String>().cloned().unwrap_or_default());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn check_bad(text: &str, at: &str, fragments: &[&str]) {
    {
        let err = Config::from_str("bad.yaml", text)
            .map(|c| format!("unexpectedly parsed: {c:?}"))
            .unwrap_err_or_string();
        assert!(
            err.starts_with(at) || err.contains(&format!("\n{at}")),
            "config {text:?}: expected position {at}, got:\n{err}"
        );
        for f in fragments {
            assert!(
                err.contains(f),
                "config {text:?}: expected {f:?} in:\n{err}"
            );
        }
        assert!(
            err.contains("hint: "),
            "config {text:?}: no hint in:\n{err}"
        );
    }
}

trait ErrText {
    fn unwrap_err_or_string(self) -> String;
}
impl ErrText for Result<String, ConfigError> {
    fn unwrap_err_or_string(self) -> String {
        match self {
            Ok(s) => panic!("{s}"),
            Err(e) => e.to_string(),
        }
    }
}

#[test]
fn errors_show_source_line_and_caret() {
    let err = Config::from_str("x.yaml", "cmd: a\nentrypoin:\n  command: /x\n").unwrap_err();
    insta::assert_snapshot!(err.to_string(), @r"
    x.yaml:2:1: unknown field `entrypoin`, expected one of contents, entrypoint, cmd, work-dir, environment, accounts, paths, annotations, archs, stop-signal, volumes, vcs-url, os-release, layering, layer-compression
     2 | entrypoin:
       | ^
      hint: did you mean `entrypoint`?
    ");
    assert_eq!(err.diagnostics().len(), 1);
    assert_eq!(err.diagnostics()[0].pos, Pos::new(2, 1));
}

#[test]
fn all_validation_problems_are_reported() {
    let err = Config::from_str(
        "v.yaml",
        "work-dir: rel\narchs: [sparc]\npaths:\n  - {path: x, type: directory}\n",
    )
    .unwrap_err();
    let lines: Vec<u64> = err.diagnostics().iter().map(|d| d.pos.line).collect();
    assert_eq!(lines, [1, 4, 2]);
}

#[test]
fn from_file_resolves_relative_paths_and_checks_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/k.gpg"), b"x").unwrap();
    let cfg_path = dir.path().join("image.yaml");
    std::fs::write(
        &cfg_path,
        "contents:\n  repositories: ['deb [signed-by=keys/k.gpg] host:debian bookworm main']\n  packages: [gawk]\npaths:\n  - {path: /app/bin, type: local, source: ./bin/server}\n",
    )
    .unwrap();
    let cfg = Config::from_file(&cfg_path).unwrap();
    let Repository::Deb(d) = &cfg.contents.repositories[0] else {
        panic!()
    };
    assert_eq!(
        d.signed_by.as_ref().unwrap().resolved,
        dir.path().join("keys/k.gpg")
    );
    let err = cfg.check_files(&[]).unwrap_err().to_string();
    assert!(
        err.contains(":5:5: local source `./bin/server` not found"),
        "{err}"
    );
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::write(dir.path().join("bin/server"), b"elf").unwrap();
    assert!(cfg.check_files(&[]).unwrap().is_empty());
}

/// `local` sources stay inside the config's directory tree (issue 12): absolute host paths,
/// `..` and symlinks out are refused; `--allow-path` roots are accepted with a warning.
#[test]
fn local_sources_are_confined_to_the_config_directory() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"host secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(proj.join("sub")).unwrap();
    std::fs::write(proj.join("sub/ok"), b"ok").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), proj.join("sub/link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), proj.join("dirlink")).unwrap();
    let secret = outside.path().join("secret").display().to_string();
    let depth = proj.components().count();
    let dotdot = format!("{}{}", "../".repeat(depth), secret.trim_start_matches('/'));
    let check = |source: &str, allowed: &[PathBuf]| {
        let cfg_path = proj.join("image.yaml");
        std::fs::write(
            &cfg_path,
            format!("paths:\n  - {{path: /x, type: local, source: \"{source}\"}}\n"),
        )
        .unwrap();
        Config::from_file(&cfg_path).unwrap().check_files(allowed)
    };
    // inside: fine, no warning; a symlink source itself is copied as a link (not followed)
    assert!(check("./sub/ok", &[]).unwrap().is_empty());
    assert!(check("sub", &[]).unwrap().is_empty());
    assert!(check("sub/link", &[]).unwrap().is_empty());
    for bad in [
        secret.as_str(),
        dotdot.as_str(),
        "dirlink/secret",
        "/etc/passwd",
    ] {
        let err = check(bad, &[]).unwrap_err().to_string();
        assert!(
            err.contains("outside the config's directory"),
            "{bad}: {err}"
        );
        assert!(err.contains("--allow-path"), "{bad}: {err}");
        assert!(err.contains(":2:5:"), "{bad}: {err}");
    }
    let allowed = [outside.path().to_path_buf()];
    let warnings = check(&secret, &allowed).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("outside the config's directory")
    );
    assert!(check("dirlink/secret", &allowed).is_ok());
    assert!(check("/etc/passwd", &allowed).is_err());
}

/// apko's relative `repositories` and `keyring` entries (`./packages`, `./melange.rsa.pub`)
/// resolve against the config's directory and are confined to it like `local` sources.
#[test]
fn relative_repositories_and_keyrings_are_confined() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("repo")).unwrap();
    std::fs::write(outside.path().join("k.rsa.pub"), b"key").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(proj.join("packages")).unwrap();
    std::fs::write(proj.join("melange.rsa.pub"), b"key").unwrap();
    std::os::unix::fs::symlink(outside.path(), proj.join("out")).unwrap();
    let check = |repo: &str, key: &str, allowed: &[PathBuf]| {
        let cfg_path = proj.join("apko.yaml");
        std::fs::write(
            &cfg_path,
            format!("contents:\n  repositories: [\"{repo}\"]\n  keyring: [\"{key}\"]\n"),
        )
        .unwrap();
        Config::from_file(&cfg_path).unwrap().check_files(allowed)
    };
    assert!(
        check("./packages", "./melange.rsa.pub", &[])
            .unwrap()
            .is_empty()
    );
    assert!(
        check("packages", "melange.rsa.pub", &[])
            .unwrap()
            .is_empty()
    );
    for (repo, key, at) in [
        ("out/repo", "melange.rsa.pub", ":2:18:"),
        ("packages", "out/k.rsa.pub", ":3:13:"),
    ] {
        let err = check(repo, key, &[]).unwrap_err().to_string();
        assert!(err.contains("outside the config's directory"), "{err}");
        assert!(err.contains("--allow-path") && err.contains(at), "{err}");
    }
    let err = check("./missing", "melange.rsa.pub", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("repository directory `./missing` not found"),
        "{err}"
    );
    let warnings = check("out/repo", "out/k.rsa.pub", &[outside.path().to_path_buf()]).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}

/// A local base image is a host path the config names: a relative one that climbs out of the
/// config's directory (`..`, a symlink) is refused like a relative repository, allowed by
/// `--allow-path` with a warning; absolute ones and registry references are not confined.
#[test]
fn relative_base_images_are_confined() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("base")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(proj.join("base")).unwrap();
    std::os::unix::fs::symlink(outside.path(), proj.join("out")).unwrap();
    let check = |image: &str, allowed: &[PathBuf]| {
        let cfg_path = proj.join("apko.yaml");
        std::fs::write(
            &cfg_path,
            format!("contents:\n  baseimage: {{image: \"{image}\"}}\n"),
        )
        .unwrap();
        Config::from_file(&cfg_path).unwrap().check_files(allowed)
    };
    for ok in [
        "oci:base:t".to_string(),
        "oci:./base".to_string(),
        format!("oci:{}:t", outside.path().join("base").display()),
        "registry.example/base:1".to_string(),
    ] {
        assert!(check(&ok, &[]).unwrap().is_empty(), "{ok}");
    }
    for bad in ["oci:out/base:t", "oci-archive:../proj/out/base"] {
        let err = check(bad, &[]).unwrap_err().to_string();
        assert!(
            err.contains("base image") && err.contains("outside the config's directory"),
            "{err}"
        );
        assert!(err.contains("--allow-path") && err.contains(":2:"), "{err}");
    }
    let warnings = check("oci:out/base:t", &[outside.path().to_path_buf()]).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn from_file_errors() {
    let err = Config::from_file("/nonexistent/dir/image.yaml").unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/dir/image.yaml"));

    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_CONFIG_BYTES + 1).unwrap();
    assert!(matches!(
        Config::from_file(&big).unwrap_err(),
        ConfigError::TooLarge { .. }
    ));
}

#[test]
fn alias_bomb_is_refused_not_expanded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(Config::from_str("bomb.yaml", &text).is_err());
}

fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "contents:",
        "  packages:",
        "  - ",
        "repositories:",
        "- deb ",
        "[signed-by=k]",
        "host:debian",
        " bookworm main",
        "paths:",
        "  - {path: /x, type: ",
        "directory}",
        "symlink",
        "permissions: 0o755",
        "accounts:",
        "run-as: ",
        "users:",
        "uid: ",
        "65532",
        "-1",
        "\"",
        "'",
        "{",
        "}",
        "[",
        "]",
        ":",
        "\n",
        "  ",
        "&a ",
        "*a",
        "---\n",
        "#",
        "cmd: ",
        "entrypoint:",
        "  command: ",
        "archs: [",
        "x86_64",
        "~",
        "null",
        "\t",
        "é",
        "\u{0}",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_yamlish_never_panics(text in yamlish()) {
        match Config::from_str("p.yaml", &text) {
            Ok(_) => {}
            Err(e) => {
                let s = e.to_string();
                prop_assert!(s.starts_with("p.yaml"), "{}", s);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Config::from_str("p.yaml", &text);
    }

    /// Whatever `homedir`, `shell`, `username` and group `members` hold, an accepted config only
    /// carries values that cannot end a field or a line of /etc/passwd or /etc/group.
    #[test]
    fn accepted_account_fields_cannot_break_passwd(
        home in "(/[a-z:,\n\r\t\u{0}\u{7f}\u{85} é]{0,6}){1,3}",
        shell in "/[a-z:,\n\r\u{1b}/ ]{0,12}",
        user in "[a-z_:,\n][a-z0-9:,\n.-]{0,8}",
        member in "[a-z_:,\n][a-z0-9:,\n.-]{0,8}",
    ) {
        let text = format!(
            "accounts:\n  groups: [{{groupname: g, gid: 5, members: [{}]}}]\n  users: [{{username: {}, uid: 1000, gid: 5, homedir: {}, shell: {}}}]\n  run-as: 1000\n",
            yaml_quoted(&member), yaml_quoted(&user), yaml_quoted(&home), yaml_quoted(&shell)
        );
        if let Ok(cfg) = Config::from_str("p.yaml", &text) {
            let u = &cfg.accounts.users[0];
            for v in [&u.username, &u.homedir, &u.shell] {
                prop_assert!(passwd_field_ok(v), "{:?} accepted", v);
            }
            for m in &cfg.accounts.groups[0].members {
                prop_assert!(passwd_field_ok(m), "{:?} accepted", m);
            }
        }
    }
}

/// `s` as a YAML double-quoted scalar (every non-printable character escaped).
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || (c as u32) > 0x7e => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn example_apk_configs_parse() {
    for (name, keys) in [("alpine.yaml", 2), ("wolfi.yaml", 1)] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples")
            .join(name);
        let cfg = Config::from_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            cfg.contents
                .repositories
                .iter()
                .all(|r| matches!(r, whittle_config::Repository::Apk(_))),
            "{name}"
        );
        assert_eq!(cfg.contents.keyring.len(), keys, "{name}");
        assert!(cfg.warnings.is_empty(), "{name}: {:?}", cfg.warnings);
    }
}

#[test]
fn apko_image_config_fields() {
    let text = r#"
contents:
  packages: [busybox]
stop-signal: SIGQUIT
volumes: [/var/lib/data/, /cache, /cache]
vcs-url: https://github.com/example/app@0123abc
annotations:
  org.opencontainers.image.revision: pinned
os-release:
  name: Example "OS"
  id: example
  version-id: "2024.1"
  pretty-name: Example $OS
  home-url: https://example.org/
  bug-report-url: https://example.org/bugs
"#;
    let c = Config::from_str("apko.yaml", text).unwrap();
    assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(c.volumes, ["/cache", "/var/lib/data"]);
    assert_eq!(
        c.annotations["org.opencontainers.image.source"],
        "https://github.com/example/app"
    );
    // an explicit annotation wins over vcs-url's revision
    assert_eq!(c.annotations["org.opencontainers.image.revision"], "pinned");
    let os = c.os_release.unwrap();
    assert_eq!(
        os.to_file(),
        "ID=example\nNAME=\"Example \\\"OS\\\"\"\nPRETTY_NAME=\"Example \\$OS\"\nVERSION_ID=2024.1\n\
         HOME_URL=\"https://example.org/\"\nBUG_REPORT_URL=\"https://example.org/bugs\"\n"
    );

    // a URL without a revision sets only the source; numeric and bare signal names pass
    let c = Config::from_str(
        "a.yaml",
        "vcs-url: https://github.com/example/app\nstop-signal: 15\n",
    )
    .unwrap();
    assert_eq!(c.annotations.len(), 1);
    assert_eq!(c.stop_signal.as_deref(), Some("15"));
    assert!(c.os_release.is_none() && c.volumes.is_empty());
    assert!(Config::from_str("a.yaml", "stop-signal: SIGRTMIN+3\n").is_ok());
}

/// Every config shipped in `examples/` (incl. the awk playground's Debian and Wolfi variants)
/// parses without error, whether or not this machine can reach its repositories.
#[test]
fn every_example_config_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for dir in [root.clone(), root.join("awk-playground")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "yaml") {
                let cfg = Config::from_file(&path)
                    .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
                assert!(!cfg.contents.packages.is_empty(), "{}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 6, "found {seen} example configs");
}
