//! The image catalogue (`images/`): distroless's static, base-nossl, base, cc, python3, java and
//! nodejs for Debian 12 and Debian 13, each as root, nonroot and debug. Every config is built from
//! the host's Debian mirror (one package cache shared by the crate's tests: `mirror_cache`) and then:
//!
//! - runs a real program under runc as the image's user: a static C binary (static), a dynamic
//!   one that reads its user from `/etc/passwd` (base-nossl), a C program that loads the CA bundle
//!   through libssl (base), a C++ program using libstdc++ and OpenMP (cc), Python's TLS, sqlite3,
//!   zoneinfo and the C.UTF-8 locale (python3), `java -version` and `keytool -list -cacerts`
//!   (java), Node's root certificates and `Intl` (nodejs); debug variants also run busybox's
//!   shell;
//! - `whittle audit` finds no shell, package manager or setuid file in any but the debug variants,
//!   and the SBOM lists none of dpkg, apt, debconf, perl, bash, dash, tar or openssl;
//! - trivy and syft (when installed: `./dev peers`) place the image — Debian, its point release
//!   and `VERSION_ID` — and list exactly the packages `whittle sbom` lists; a nonroot variant,
//!   whose files scanners read (os-release, debian_version, status.d) must be byte for byte its
//!   root image's, is not scanned again.
//!
//! Needs the network (the host's mirror), runc, umoci, gcc and g++: under CI=true they must be
//! there; otherwise the test says SKIPPED. Also set WHITTLE_TEST_MIRROR=1 to run it by hand.

mod common;
use common::scanners::{check_build_sbom, check_debian_peers};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The catalogue's directory.
fn images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images")
}

const STATIC_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("static uid=%d\n", (int)getuid()); return 0; }
"#;

/// Uses glibc's NSS: the user's name comes from the image's `/etc/passwd`.
const NSS_C: &str = r#"
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
  struct passwd *p = getpwuid(getuid());
  if (!p) return 3;
  printf("glibc uid=%d user=%s\n", (int)getuid(), p->pw_name);
  return 0;
}
"#;

/// Loads the default trust store through libssl (declared here: the host needs no -dev package).
const SSL_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef struct x509_store_st X509_STORE;
const SSL_METHOD *TLS_client_method(void);
SSL_CTX *SSL_CTX_new(const SSL_METHOD *);
int SSL_CTX_set_default_verify_paths(SSL_CTX *);
X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *);
void *X509_STORE_get0_objects(const X509_STORE *);
int OPENSSL_sk_num(const void *);
const char *OpenSSL_version(int);
int main(void) {
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  if (!c || SSL_CTX_set_default_verify_paths(c) != 1) return 3;
  int n = OPENSSL_sk_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(c)));
  printf("libssl uid=%d certs=%d %s\n", (int)getuid(), n, OpenSSL_version(0));
  return n >= 100 ? 0 : 4;
}
"#;

const OMP_CC: &str = r#"
#include <cstdio>
#include <string>
#include <vector>
#include <omp.h>
#include <unistd.h>
int main() {
  std::vector<long> v(100000);
  for (size_t i = 0; i < v.size(); i++) v[i] = (long)i;
  long sum = 0;
#pragma omp parallel for reduction(+ : sum)
  for (size_t i = 0; i < v.size(); i++) sum += v[i];
  std::string s = "c++ uid=" + std::to_string(getuid()) + " sum=" + std::to_string(sum);
  std::printf("%s threads=%d\n", s.c_str(), omp_get_max_threads() > 0);
  return sum == 4999950000L ? 0 : 4;
}
"#;

const PYTHON: &str = r#"
import datetime, locale, os, sqlite3, ssl, zoneinfo
assert locale.setlocale(locale.LC_ALL, "") == "C.UTF-8"
n = ssl.create_default_context().cert_store_stats()["x509_ca"]
assert n >= 100, n
v = sqlite3.connect(":memory:").execute("select sqlite_version()").fetchone()[0]
t = datetime.datetime(2026, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")).utcoffset()
print(f"python uid={os.getuid()} certs={n} sqlite={v} paris={t}")
"#;

const NODE: &str = r#"
const n = require("tls").rootCertificates.length;
if (n < 100) process.exit(3);
const d = new Intl.DateTimeFormat("de-DE", { timeZone: "Europe/Berlin", dateStyle: "full" })
  .format(new Date(Date.UTC(2026, 6, 1, 12)));
console.log(`node uid=${process.getuid()} certs=${n} ${d}`);
"#;

/// The test programs, compiled once on the host: `static`, `nss`, `ssl`, `omp`.
fn programs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalogue-programs");
        std::fs::create_dir_all(&dir).unwrap();
        let libssl = ["libssl.so.3", "libcrypto.so.3"]
            .map(|l| format!("/usr/lib/{}-linux-gnu/{l}", std::env::consts::ARCH));
        let compile = |compiler: &str, src: &str, ext: &str, out: &str, args: &[&str]| {
            let file = dir.join(format!("{out}.{ext}"));
            std::fs::write(&file, src).unwrap();
            run(Command::new(compiler)
                .arg("-O2")
                .arg("-o")
                .arg(dir.join(out))
                .arg(&file)
                .args(args));
        };
        compile("gcc", STATIC_C, "c", "static", &["-static"]);
        compile("gcc", NSS_C, "c", "nss", &[]);
        compile("gcc", SSL_C, "c", "ssl", &[&libssl[0], &libssl[1]]);
        compile("g++", OMP_CC, "cc", "omp", &["-fopenmp"]);
        dir
    })
}

/// Whether everything this test needs is here (network, root, runc, umoci, compilers).
fn ready() -> bool {
    whittle_testutil::mirror()
        && ["runc", "umoci", "gcc", "g++"].iter().all(|t| tool(t))
        && is_root()
}

/// Builds `images/<release>/<name>.yaml` into `work/<name>` (tag `t`); returns the layout.
fn build_image(release: &str, name: &str, work: &Path) -> PathBuf {
    let layout = work.join(name);
    run(whittle()
        .args(["build", "-q", "--cache-dir"])
        .arg(mirror_cache())
        .arg(images().join(release).join(format!("{name}.yaml")))
        .arg("-o")
        .arg(format!("oci:{}:t", layout.display())));
    layout
}

/// Runs `args` in the unpacked `layout` under runc as the image's user; returns stdout and stderr,
/// asserting success.
fn run_in(layout: &Path, args: &[&str]) -> (String, String) {
    let bundle = layout.with_extension("bundle");
    rootfs(layout);
    let (code, out, err) = runc(&bundle, args);
    assert_eq!(code, 0, "{args:?} in {}: {out}\n{err}", layout.display());
    (out, err)
}

/// The image `layout` unpacked by umoci (once), with the test programs in `/usr/local/bin`.
fn rootfs(layout: &Path) -> PathBuf {
    let bundle = layout.with_extension("bundle");
    if !bundle.exists() {
        let rootfs = unpack(layout, "t", &bundle);
        let bin = rootfs.join("usr/local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        for p in ["static", "nss", "ssl", "omp"] {
            std::fs::copy(programs().join(p), bin.join(p)).unwrap();
        }
    }
    bundle.join("rootfs")
}

/// The image kind a config name is a variant of, and its variant.
fn kind(name: &str) -> (&str, &str) {
    for v in ["-nonroot", "-debug"] {
        if let Some(k) = name.strip_suffix(v) {
            return (k, &v[1..]);
        }
    }
    (name, "root")
}

/// What the image's user must be.
fn uid(variant: &str) -> &'static str {
    if variant == "nonroot" { "65532" } else { "0" }
}

/// Runs the program that proves an image of `kind` works; returns what it printed.
fn prove(layout: &Path, kind: &str, variant: &str) -> String {
    let uid = uid(variant);
    let out = match kind {
        "static" => run_in(layout, &["/usr/local/bin/static"]).0,
        "base-nossl" => run_in(layout, &["/usr/local/bin/nss"]).0,
        "base" => run_in(layout, &["/usr/local/bin/ssl"]).0,
        "cc" => run_in(layout, &["/usr/local/bin/omp"]).0,
        "python3" => run_in(layout, &["/usr/bin/python3", "-c", PYTHON]).0,
        "nodejs" => run_in(layout, &["/usr/bin/node", "-e", NODE]).0,
        "java" => {
            // the JVM starts, as the image's user, in the C.UTF-8 locale LANG names
            let (_, props) = run_in(
                layout,
                &["/usr/bin/java", "-XshowSettings:properties", "-version"],
            );
            assert!(props.contains("OpenJDK"), "{props}");
            let name = if variant == "nonroot" {
                "nonroot"
            } else {
                "root"
            };
            assert!(props.contains(&format!("user.name = {name}\n")), "{props}");
            assert!(props.contains("sun.jnu.encoding = UTF-8\n"), "{props}");
            let (list, _) = run_in(
                layout,
                &[
                    "/usr/bin/keytool",
                    "-list",
                    "-cacerts",
                    "-storepass",
                    "changeit",
                ],
            );
            let n: usize = list
                .lines()
                .find_map(|l| l.strip_prefix("Your keystore contains "))
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("keytool: {list}"));
            assert!(n >= 100, "{n} trusted certificates: {list}");
            let bundle =
                std::fs::read(rootfs(layout).join("etc/ssl/certs/ca-certificates.crt")).unwrap();
            let certs = String::from_utf8_lossy(&bundle)
                .matches("-----BEGIN CERTIFICATE-----")
                .count();
            assert_eq!(n, certs, "the trust store holds the CA bundle");
            format!("java certs={n} uid={uid}")
        }
        other => panic!("no program for {other}"),
    };
    assert!(
        out.contains(&format!("uid={uid}")),
        "{kind}-{variant}: {out}"
    );
    if variant == "debug" {
        let (sh, _) = run_in(
            layout,
            &["/busybox/sh", "-c", "echo $((6 * 7)); ls /busybox"],
        );
        assert!(sh.starts_with("42\n") && sh.contains("sh"), "{sh}");
    }
    out
}

/// What no image but a debug variant may carry.
const NEVER: &[&str] = &[
    "dpkg",
    "apt",
    "debconf",
    "perl-base",
    "perl",
    "bash",
    "dash",
    "tar",
    "openssl",
];

/// Checks one catalogue release: every config builds, runs, is audited clean and is placed by
/// the peers. `point` is the Debian major version (`12`).
fn release(release: &str, major: &str) {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(images().join(release))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        21,
        "7 images × root, nonroot, debug: {names:?}"
    );
    let mut seen = std::collections::HashMap::new();
    for name in &names {
        let started = std::time::Instant::now();
        let (kind, variant) = kind(name);
        let layout = build_image(release, name, dir.path());
        let packages = sbom_packages(&layout.with_extension("spdx.json"));
        let debug = variant == "debug";
        for bad in NEVER {
            assert!(
                !packages.iter().any(|p| p == bad),
                "{name} has {bad}: {packages:?}"
            );
        }
        if kind == "static" {
            assert!(
                !packages.iter().any(|p| p == "libc6"),
                "{name}: {packages:?}"
            );
        }
        let out = prove(&layout, kind, variant);
        eprintln!(
            "{release}/{name}: {} packages; {}",
            packages.len(),
            out.lines().next().unwrap_or("")
        );
        let audit = run(whittle()
            .args(["audit", "--format", "json"])
            .arg(format!("oci:{}:t", layout.display())));
        let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
        let rules: Vec<&str> = audit["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        // the distribution's own files hold no secret (issue 14: rules as wide as trivy's, and
        // no false finding on real packages)
        let secrets: Vec<&serde_json::Value> = audit["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| matches!(f["rule"].as_str(), Some("secret-in-file" | "hidden-secret")))
            .collect();
        assert!(secrets.is_empty(), "{name}: secret findings: {secrets:#?}");
        for rule in ["shell", "package-manager", "setuid-file"] {
            let found = rules.contains(&rule);
            if debug && rule == "shell" {
                assert!(found, "{name}: audit sees busybox's shell: {rules:?}");
            } else if !debug {
                assert!(!found, "{name}: {rule}: {audit:#}");
            }
        }
        assert_eq!(
            rules.contains(&"runs-as-root"),
            variant != "nonroot",
            "{name}: {rules:?}"
        );
        // what scanners read; a nonroot variant differs from its root image only in the user, so
        // its view must be the root image's, byte for byte (the peers ran on that)
        let view = scanner_view(&rootfs(&layout));
        if variant == "nonroot" {
            assert!(
                view == seen[kind],
                "{name}: what scanners read differs from {kind}'s"
            );
        } else {
            peers_agree(&layout, major, &dir.path().join(format!("{name}-peers")));
            if variant == "root" {
                seen.insert(kind.to_string(), view);
            }
        }
        eprintln!("{release}/{name}: {:.1} s", started.elapsed().as_secs_f64());
        // 42 unpacked images would hold gigabytes: keep only the layouts
        std::fs::remove_dir_all(layout.with_extension("bundle")).unwrap();
    }
}

/// The files by which scanners find the OS and the packages of the unpacked image `rootfs`.
fn scanner_view(rootfs: &Path) -> Vec<(String, Vec<u8>)> {
    let mut view = Vec::new();
    for f in ["etc/os-release", "usr/lib/os-release", "etc/debian_version"] {
        if let Ok(bytes) = std::fs::read(rootfs.join(f)) {
            view.push((f.to_string(), bytes));
        }
    }
    let status = rootfs.join("var/lib/dpkg/status.d");
    let mut entries: Vec<_> = std::fs::read_dir(&status)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for e in entries {
        view.push((e.clone(), std::fs::read(status.join(&e)).unwrap()));
    }
    assert!(view.len() > 3, "{view:?}");
    view
}

/// trivy and syft place the image (family, point release, `VERSION_ID`) and list exactly the
/// packages `whittle sbom` lists; the build's SBOM says what `whittle sbom` says.
fn peers_agree(layout: &Path, major: &str, work: &Path) {
    check_build_sbom(layout, "t", work);
    check_debian_peers(layout, "t", work, &rootfs(layout), major);
}

#[test]
fn debian12_catalogue_builds_runs_and_is_seen_by_every_scanner() {
    release("debian12", "12");
}

#[test]
fn debian13_catalogue_builds_runs_and_is_seen_by_every_scanner() {
    release("debian13", "13");
}

/// Every variant is its image plus what the variant says: the same packages (debug: plus
/// busybox), the same repositories; nonroot runs as 65532 in its home.
#[test]
fn variants_differ_only_in_user_and_busybox() {
    use whittle_config::Config;
    let packages = |c: &Config| -> Vec<String> {
        c.contents
            .packages
            .iter()
            .map(|p| p.written.clone())
            .collect()
    };
    let run_as = |c: &Config| c.accounts.run_as.as_ref().map(|r| r.written.clone());
    for release in ["debian12", "debian13"] {
        let dir = images().join(release);
        let read = |n: &str| {
            Config::from_file(dir.join(format!("{n}.yaml")))
                .unwrap_or_else(|e| panic!("{release}/{n}: {e}"))
        };
        for kind in [
            "static",
            "base-nossl",
            "base",
            "cc",
            "python3",
            "java",
            "nodejs",
        ] {
            let root = read(kind);
            let nonroot = read(&format!("{kind}-nonroot"));
            let debug = read(&format!("{kind}-debug"));
            assert_eq!(packages(&root), packages(&nonroot), "{release}/{kind}");
            let mut with_busybox = packages(&root);
            with_busybox.push("busybox-static".into());
            assert_eq!(with_busybox, packages(&debug), "{release}/{kind}");
            assert_eq!(
                (run_as(&nonroot).as_deref(), nonroot.work_dir.as_deref()),
                (Some("nonroot"), Some("/home/nonroot")),
                "{release}/{kind}-nonroot"
            );
            assert_eq!(
                (run_as(&root).as_deref(), run_as(&debug).as_deref()),
                (Some("root"), Some("root")),
                "{release}/{kind}"
            );
            assert!(
                debug
                    .environment
                    .get("PATH")
                    .is_some_and(|p| p.ends_with(":/busybox")),
                "{release}/{kind}-debug: PATH"
            );
        }
    }
}
