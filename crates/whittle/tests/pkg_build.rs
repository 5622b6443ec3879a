//! `whittle pkg` without network: keygen, a recipe that packages a fetched local tarball, the
//! index, byte-identical rebuilds, recipe errors with file:line:column, and an image built by
//! `whittle build` from the resulting local repository.

mod common;
use common::*;
use std::path::Path;

fn tarball(dir: &Path) -> (String, String) {
    tar_gz_file(
        dir,
        "hello-1.0.tar.gz",
        &[
            (
                "hello-1.0/usr/bin/hello",
                &b"#!/bin/sh\necho hello\n"[..],
                0o755,
            ),
            (
                "hello-1.0/usr/share/doc/hello/README",
                &b"read me\n"[..],
                0o644,
            ),
        ],
    )
}

fn recipe(uri: &str, sha: &str) -> String {
    format!(
        "package:\n  name: hello\n  version: 1.0\n  epoch: 0\n  description: says hello\n  copyright:\n    - license: MIT\n\
         pipeline:\n  - uses: fetch\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n      strip-components: 1\n\
         \x20     \n  - uses: fetch\n    working-directory: melange-out/hello\n    with:\n      uri: {uri}\n      expected-sha256: {sha}\n"
    )
}

#[test]
fn pkg_keygen_build_index_and_image() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(whittle()
        .current_dir(d)
        .args(["pkg", "keygen", "test", "--bits", "2048"]));
    assert!(d.join("test.rsa").is_file() && d.join("test.rsa.pub").is_file());
    let (uri, sha) = tarball(d);
    std::fs::write(d.join("hello.yaml"), recipe(&uri, &sha)).unwrap();
    pkg_build_hello_yaml(d, "repo");
    pkg_build_hello_yaml(d, "again");
    let apk = std::fs::read(d.join("repo/x86_64/hello-1.0-r0.apk")).unwrap();
    assert_eq!(
        apk,
        std::fs::read(d.join("again/x86_64/hello-1.0-r0.apk")).unwrap(),
        "byte-identical rebuild"
    );
    let pkg = whittle_apk::package::ApkPackage::open("hello", &apk).unwrap();
    let mut ring = whittle_apk::sign::Keyring::new();
    ring.add_file(&d.join("test.rsa.pub")).unwrap();
    pkg.verify(&ring, None).unwrap();
    assert!(
        pkg.pkginfo()
            .provides
            .contains(&"cmd:hello=1.0-r0".to_string())
    );
    assert_eq!(pkg.pkginfo().builddate, Some(1700000000));
    // the index verifies and lists it
    let idx = std::fs::read(d.join("repo/x86_64/APKINDEX.tar.gz")).unwrap();
    let idx = whittle_apk::index::verify_index("idx", &idx, &ring).unwrap();
    assert_eq!(idx.entries.len(), 1);
    // `pkg index` and `pkg sign` by hand give a verifying index / package
    run(whittle().current_dir(d).args([
        "pkg",
        "index",
        "again/x86_64",
        "--key",
        "test.rsa",
        "--sha1",
    ]));
    let i2 = std::fs::read(d.join("again/x86_64/APKINDEX.tar.gz")).unwrap();
    whittle_apk::index::verify_index("i2", &i2, &ring).unwrap();
    run(whittle().current_dir(d).args([
        "pkg",
        "sign",
        "again/x86_64/hello-1.0-r0.apk",
        "--key",
        "test.rsa",
        "--sha1",
    ]));
    let s = std::fs::read(d.join("again/x86_64/hello-1.0-r0.apk")).unwrap();
    whittle_apk::package::ApkPackage::open("s", &s)
        .unwrap()
        .verify(&ring, None)
        .unwrap();

    // an image from the local repository, through whittle's APK source
    let cfg = format!(
        "contents:\n  repositories:\n    - {}\n  keyring:\n    - {}\n  packages: [hello]\n\
         accounts:\n  groups: [{{groupname: nonroot, gid: 65532}}]\n  users: [{{username: nonroot, uid: 65532, gid: 65532}}]\n  run-as: nonroot\narchs: [x86_64]\n",
        d.join("repo").display(),
        d.join("test.rsa.pub").display()
    );
    build_image(d, &cfg);
    let sbom = std::fs::read_to_string(d.join("img.spdx.json")).unwrap();
    assert!(sbom.contains("\"hello\""), "{sbom}");
}

fn build_image(d: &Path, cfg: &str) {
    std::fs::write(d.join("image.yaml"), cfg).unwrap();
    run(whittle().current_dir(d).args([
        "build",
        "image.yaml",
        "-o",
        "oci:img:t",
        "--cache-dir",
        "cache",
        "-q",
    ]));
}

#[test]
fn recipe_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (uri, sha) = tarball(d);
    let bad = recipe(&uri, &sha).replace("  description:", "  desc:");
    std::fs::write(d.join("bad.yaml"), bad).unwrap();
    let err = run_fail(
        whittle()
            .current_dir(d)
            .args(["pkg", "build", "bad.yaml", "-q"]),
    );
    assert!(
        err.contains("bad.yaml:5:3:") && err.contains("desc"),
        "{err}"
    );
    let nosum = recipe(&uri, &sha).replacen(&format!("      expected-sha256: {sha}\n"), "", 1);
    std::fs::write(d.join("nosum.yaml"), nosum).unwrap();
    let err = run_fail(
        whittle()
            .current_dir(d)
            .args(["pkg", "build", "nosum.yaml", "-q"]),
    );
    assert!(
        err.contains("nosum.yaml:9:5:") && err.contains("expected-sha256"),
        "{err}"
    );
    // a wrong checksum is refused too
    let wrong = recipe(&uri, &"f".repeat(64));
    std::fs::write(d.join("wrong.yaml"), wrong).unwrap();
    let err = run_fail(whittle().current_dir(d).args([
        "pkg",
        "build",
        "wrong.yaml",
        "-q",
        "--cache-dir",
        "cache",
    ]));
    // … and a local file's checksum is not told (it would disclose what the file holds)
    assert!(
        err.contains("does not match expected-sha256")
            && err.contains("wrong.yaml:")
            && !err.contains(&sha),
        "{err}"
    );
}

/// A recipe's `fetch` reads local files only from its own directory, `--source-dir` and
/// `--allow-path` directories: `/etc/passwd` (as `file://`, as a path, through a symlink beside
/// the recipe) or a tarball outside is refused naming the URI and the flag, even with the
/// file's right checksum, and nothing is kept in the cache; `--allow-path` lets it through.
#[test]
fn fetch_of_a_host_file_outside_the_recipe_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (uri, sha) = tarball(d);
    let r = d.join("recipe");
    std::fs::create_dir(&r).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", r.join("passwd")).unwrap();
    let passwd = sha256(&std::fs::read("/etc/passwd").unwrap_or_default());
    let build = |recipe: String, extra: &[&str]| {
        std::fs::write(r.join("hello.yaml"), recipe).unwrap();
        let mut cmd = whittle();
        cmd.current_dir(&r).args([
            "pkg",
            "build",
            "hello.yaml",
            "--out",
            "repo",
            "--arch",
            "x86_64",
            "--cache-dir",
            "cache",
            "-q",
        ]);
        cmd.args(extra);
        cmd
    };
    for bad in [
        "file:///etc/passwd",
        "/etc/passwd",
        "passwd",
        "file://passwd",
    ] {
        let err = run_fail(&mut build(recipe(bad, &passwd), &[]));
        assert!(
            err.contains(&format!("`{bad}`")) && err.contains("--allow-path"),
            "{bad}: {err}"
        );
    }
    let err = run_fail(&mut build(recipe(&uri, &sha), &[]));
    assert!(
        err.contains(&format!("`{uri}`")) && err.contains("--allow-path"),
        "{err}"
    );
    let cached: Vec<_> = walk(&r.join("cache"));
    assert!(cached.is_empty(), "{cached:?}");
    run(&mut build(
        recipe(&uri, &sha),
        &["--allow-path", d.to_str().unwrap()],
    ));
    assert!(r.join("repo/x86_64/hello-1.0-r0.apk").is_file());
}

/// Every file under `dir` (none when it does not exist).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// What is wrong with a recipe's `environment:` (or with what `-k`/`-r` add to it) is told at
/// the recipe's line or the flag, never in the temporary config whittle makes of it.
#[test]
fn environment_errors_name_the_recipe_or_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("env.yaml"),
        "package:\n  name: env\n  version: 1.0\n  epoch: 0\n  description: x\n  copyright:\n    - license: MIT\n\
         environment:\n  contents:\n    repositories:\n      - ./missing\n    packages: [busybox]\n\
         pipeline:\n  - runs: true\n",
    )
    .unwrap();
    let build = |extra: &[&str]| {
        run_fail(
            whittle()
                .current_dir(d)
                .args([
                    "pkg",
                    "build",
                    "env.yaml",
                    "-q",
                    "--offline",
                    "--cache-dir",
                    "cache",
                ])
                .args(extra),
        )
    };
    for extra in [&[][..], &["-r", "./other"]] {
        let err = build(extra);
        assert!(
            err.contains("env.yaml:11:9: repository directory `./missing` not found")
                && !err.contains("whittle-environment"),
            "{extra:?}: {err}"
        );
    }
    let err = build(&["-k", "./nokey.pub"]);
    assert!(
        err.contains("--keyring-append:1:1: keyring `./nokey.pub` not found")
            && !err.contains("whittle-environment"),
        "{err}"
    );
}

/// `git-checkout` against a real git repository made here: a tag is cloned and checked against
/// `expected-commit`, the default branch is rewound to an older `expected-commit`, and a commit
/// that is not the expected one is refused.
#[test]
fn git_checkout_pins_the_commit() {
    if !tool("git") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let up = d.join("upstream");
    std::fs::create_dir_all(&up).unwrap();
    let git = |args: &[&str]| {
        run(std::process::Command::new("git")
            .current_dir(&up)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args))
        .trim()
        .to_string()
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(up.join("VERSION"), "1\n").unwrap();
    git(&["add", "VERSION"]);
    git(&["commit", "--quiet", "-m", "one"]);
    let first = git(&["rev-parse", "HEAD"]);
    git(&["tag", "-a", "v1", "-m", "release 1"]);
    std::fs::write(up.join("VERSION"), "2\n").unwrap();
    git(&["commit", "--quiet", "-am", "two"]);
    let second = git(&["rev-parse", "HEAD"]);
    let recipe = |with: &str| {
        format!(
            "package:\n  name: src\n  version: 1.0\n  epoch: 0\n  description: a checkout\n  copyright:\n    - license: MIT\n\
             pipeline:\n  - uses: git-checkout\n    with:\n      repository: file://{}\n      destination: melange-out/src/srv/src\n{with}",
            up.display()
        )
    };
    let build = |name: &str, text: String| {
        std::fs::write(d.join(name), text).unwrap();
        whittle()
            .current_dir(d)
            .args(["pkg", "build", name, "--out", "repo", "--arch", "x86_64"])
            .args([
                "--source-date-epoch",
                "1700000000",
                "--cache-dir",
                "cache",
                "-q",
            ])
            .output()
            .unwrap()
    };
    let version_in_package =
        || apk::member_text(&d.join("repo/x86_64/src-1.0-r0.apk"), "srv/src/VERSION");
    // an annotated tag, pinned to its commit
    let o = build(
        "tag.yaml",
        recipe(&format!(
            "      tag: v1\n      expected-commit: {first}\n      depth: 1\n"
        )),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(version_in_package().as_deref(), Some("1\n"));
    // no branch or tag: the default branch, rewound to the expected (older) commit
    let o = build(
        "old.yaml",
        recipe(&format!("      expected-commit: {first}\n")),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(version_in_package().as_deref(), Some("1\n"));
    // a branch that moved past the expected commit: refused, naming both commits
    let o = build(
        "moved.yaml",
        recipe(&format!(
            "      branch: main\n      expected-commit: {first}\n"
        )),
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&second) && err.contains(&first), "{err}");
    assert!(err.contains("moved.yaml:"), "{err}");
    // no expected-commit: refused before anything runs, with its position
    let o = build("unpinned.yaml", recipe("      tag: v1\n"));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unpinned.yaml:9:5"), "{err}");
    assert!(err.contains("expected-commit"), "{err}");
}

/// A recipe whose build environment is Debian's `busybox-static` from the fixture repository (a
/// shell and its applets, no network) and whose one step, `probe`, runs `script`; `package`
/// adds lines under `package:` (limits).
fn busybox_recipe(fix: &Path, package: &str, script: &str) -> String {
    let repo = fix.join("deb/bookworm-mini");
    let script: String = script
        .trim()
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    format!(
        "package:\n  name: probe\n  version: 1.0\n  epoch: 0\n  description: sandbox probe\n{package}\
         environment:\n  contents:\n    repositories:\n      - deb [signed-by={key}] file://{repo} bookworm main\n    packages: [busybox-static]\n\
         pipeline:\n  - name: probe\n    runs: |\n{script}",
        key = repo.join("keys/debian-archive-keyring.gpg").display(),
        repo = repo.display(),
    )
}

/// What [`probe`] built: its directory, `whittle pkg build`'s output, and how long it took.
struct Probe {
    dir: tempfile::TempDir,
    out: std::process::Output,
    took: std::time::Duration,
}

/// `whittle pkg build` of [`busybox_recipe`]`(package, script)` in a fresh directory (one cache
/// for the tests of this file); `None` (skipped) without the fixtures or bwrap.
fn probe(package: &str, script: &str) -> Option<Probe> {
    let fix = fixtures()?;
    if !tool("bwrap") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("probe.yaml"),
        busybox_recipe(&fix, package, script),
    )
    .unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pkg-build-cache");
    let start = std::time::Instant::now();
    let out = whittle()
        .current_dir(dir.path())
        .args([
            "pkg",
            "build",
            "probe.yaml",
            "--out",
            "repo",
            "--arch",
            "x86_64",
        ])
        .args(["--source-date-epoch", "1700000000", "-q", "--cache-dir"])
        .arg(&cache)
        .output()
        .unwrap();
    let took = start.elapsed();
    Some(Probe { dir, out, took })
}

/// The build failed; its stderr.
fn failed(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "the build should have failed; stderr:\n{err}"
    );
    err
}

/// Processes whose command line contains `marker`, after giving a killed sandbox a few seconds
/// to disappear.
fn processes_with(marker: &str) -> Vec<String> {
    let mut left = Vec::new();
    for _ in 0..50 {
        left = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| {
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                cmd.contains(marker)
                    .then(|| format!("{}: {cmd}", e.file_name().to_string_lossy()))
            })
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    left
}

/// Issue #12 item 4: a step keeps no capability (even when whittle runs as root), gets no new
/// privileges, cannot remount the environment read-write nor write into it; what it writes into
/// the package keeps its mode and is owned by 0:0 in the `.apk`, as before.
#[test]
fn sandbox_steps_have_no_capabilities_and_cannot_write_the_environment() {
    let script = r#"
grep -E '^(CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status
grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status || { echo 'FAIL: capabilities kept'; exit 1; }
grep -q '^CapPrm:[[:space:]]*0000000000000000$' /proc/self/status || { echo 'FAIL: capabilities kept'; exit 1; }
grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status || { echo 'FAIL: new privileges allowed'; exit 1; }
if mount -o remount,bind,rw /; then echo 'FAIL: remounted / read-write'; exit 1; fi
if echo pwned > /pwned; then echo 'FAIL: wrote into the environment root'; exit 1; fi
if echo pwned > /usr/pwned; then echo 'FAIL: wrote into the environment'; exit 1; fi
mkdir -p ${{targets.destdir}}/usr/bin
printf '#!/bin/sh\necho probe\n' > ${{targets.destdir}}/usr/bin/probe
chmod 4755 ${{targets.destdir}}/usr/bin/probe
"#;
    // the setuid file trips melange's required `setuidgid` linter: downgraded, as melange's
    // `checks.disabled` does
    let checks = "  checks:\n    disabled: [setuidgid]\n";
    let Some(Probe { dir, out, .. }) = probe(checks, script) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let apk = std::fs::read(dir.path().join("repo/x86_64/probe-1.0-r0.apk")).unwrap();
    let pkg = whittle_apk::package::ApkPackage::open("probe", &apk).unwrap();
    let mut seen = Vec::new();
    pkg.for_each_data_entry(|e| {
        seen.push((e.path.to_string(), e.mode, e.uid, e.gid));
        Ok::<(), whittle_apk::package::Error>(())
    })
    .unwrap();
    assert!(
        seen.iter().all(|(_, _, uid, gid)| (*uid, *gid) == (0, 0)),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(p, mode, _, _)| p == "usr/bin/probe" && *mode == 0o4755),
        "{seen:?}"
    );
}

/// Issue #12 item 5: a (bounded) fork bomb fails the build with an error naming the process
/// limit and how to raise it, in bounded time, and leaves no process behind.
#[test]
fn a_fork_bomb_reaches_the_process_limit() {
    // 511 shells alive at once without a limit; 2^9 sleeps of 20 s
    let script = r#"
: whittle-fork-bomb-marker
b() { if [ "$1" -gt 0 ]; then b $(($1 - 1)) & b $(($1 - 1)) & wait; else sleep 20; fi; }
b 8
"#;
    let Some(Probe { out, took, .. }) =
        probe("  timeout: 15s\n  resources:\n    processes: 64\n", script)
    else {
        return;
    };
    let err = failed(&out);
    assert!(
        err.contains("package.resources.processes") && err.contains("64"),
        "{err}"
    );
    assert!(err.contains("probe.yaml:"), "{err}");
    assert!(took.as_secs() < 120, "took {took:?}: {err}");
    assert_eq!(
        processes_with("whittle-fork-bomb-marker"),
        Vec::<String>::new()
    );
    // the machine still starts processes
    assert!(
        std::process::Command::new("true")
            .status()
            .unwrap()
            .success()
    );
}

/// Issue #12 item 5: a step that needs more memory than `package.resources.memory` fails with
/// an error naming it.
#[test]
fn a_step_over_the_memory_limit_fails_clearly() {
    // busybox dd allocates its block: 256 MiB, filled from /dev/zero
    let Some(Probe { out, .. }) = probe(
        "  resources:\n    memory: 64Mi\n",
        "dd if=/dev/zero of=/dev/null bs=256M count=2",
    ) else {
        return;
    };
    let err = failed(&out);
    assert!(
        err.contains("package.resources.memory") && err.contains("64Mi"),
        "{err}"
    );
    assert!(err.contains("probe.yaml:"), "{err}");
}

/// Issue #12 item 5: a step that runs past `package.timeout` is stopped with its whole process
/// tree, and the error names the field.
#[test]
fn a_step_past_the_timeout_is_stopped_with_its_processes() {
    let script = r#"
: whittle-timeout-marker
sleep 100 &
sleep 100
"#;
    let Some(Probe { out, took, .. }) = probe("  timeout: 2s\n", script) else {
        return;
    };
    let err = failed(&out);
    assert!(
        err.contains("package.timeout") && err.contains("2s"),
        "{err}"
    );
    assert!(err.contains("probe.yaml:"), "{err}");
    assert!(took.as_secs() < 60, "took {took:?}: {err}");
    assert_eq!(
        processes_with("whittle-timeout-marker"),
        Vec::<String>::new()
    );
}
