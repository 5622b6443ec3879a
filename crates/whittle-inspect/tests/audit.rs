//! The talk's secret example and hostile layers, built in the test with whittle's own writer.

mod common;

use common::{E, layer, secret_image, tar, write_image};
use whittle_inspect::{
    InspectError, LayerError, Limits, Options, analyze, analyze_layers, audit, inspect_report,
};
use whittle_report::Severity;

fn findings_of(r: &whittle_oci::ImageRef) -> Vec<whittle_report::Finding> {
    audit(&analyze(r, &Options::default()).unwrap())
}

#[test]
fn the_deleted_secret_is_still_in_its_layer() {
    let dir = tempfile::tempdir().unwrap();
    let r = secret_image(&dir.path().join("img"));
    let a = analyze(&r, &Options::default()).unwrap();
    // the runtime view has no secret
    let paths: Vec<&str> = a.merged.entries().keys().map(String::as_str).collect();
    assert_eq!(paths, ["app", "app/server"]);
    let f = audit(&a);
    let pem = f
        .iter()
        .find(|f| {
            f.rule == "hidden-secret" && f.location.path.as_deref() == Some("/app/secret.pem")
        })
        .unwrap_or_else(|| panic!("no hidden-secret for the pem: {f:#?}"));
    assert_eq!(pem.severity, Severity::Critical);
    assert_eq!(pem.location.layer, Some(0), "layer 0 still holds it");
    assert!(
        pem.message.contains("deleted in layer 1"),
        "{}",
        pem.message
    );
    assert!(pem.message.contains("docker save"));
    let ev = pem.evidence.as_deref().unwrap();
    assert!(ev.contains("private-key"), "{ev}");
    assert!(
        !ev.contains("MIIEowIBAAKCAQEA"),
        "evidence must be redacted: {ev}"
    );
    // .env: its content (a password assignment) or at least its name
    let env = f
        .iter()
        .find(|f| f.location.path.as_deref() == Some("/app/.env"))
        .unwrap();
    assert!(matches!(
        env.rule.as_str(),
        "hidden-secret" | "hidden-secret-file"
    ));
    assert!(env.severity >= Severity::High);
    // the ENV secret
    let e = f.iter().find(|f| f.rule == "env-secret").unwrap();
    assert_eq!(e.location.path.as_deref(), Some("config.Env[1]"));
    assert!(e.message.contains("AWS_SECRET_ACCESS_KEY"));
    assert!(!e.evidence.as_deref().unwrap().contains("bPxRfiCYz"));
    // the ARG value in the history
    let h = f.iter().find(|f| f.rule == "history-secret").unwrap();
    assert_eq!(h.location.path.as_deref(), Some("history[1].created_by"));
    assert_eq!(h.location.layer, Some(1));
    // root
    let root = f.iter().find(|f| f.rule == "runs-as-root").unwrap();
    assert!(root.message.contains("no USER"));
    // most severe first
    assert_eq!(f[0].severity, Severity::Critical);
    // the inspect report of the same image
    let rep = inspect_report(&a, 5);
    assert_eq!(rep.layers[1].removed, ["/app/.env", "/app/secret.pem"]);
    assert_eq!(
        rep.layers[1]
            .created_by
            .as_deref()
            .map(|c| c.starts_with("|1 GITHUB_TOKEN")),
        Some(true)
    );
    assert_eq!(rep.history[2].layer, None);
    assert_eq!(rep.efficiency.final_bytes, 12);
    let deleted = (common::PEM.len() + "DB_PASSWORD=Zx9vQ2mLp8RtW4kN\n".len()) as u64;
    assert_eq!(rep.efficiency.hidden_bytes, deleted);
    // dive counts each deleted file's copy and its whiteout (0 bytes): the same bytes
    assert_eq!(rep.efficiency.wasted_bytes, deleted);
}

#[test]
fn non_root_user_and_clean_image_give_no_root_finding() {
    let dir = tempfile::tempdir().unwrap();
    let r = write_image(
        dir.path(),
        whittle_oci::ContainerConfig {
            user: Some("65532:65532".into()),
            ..Default::default()
        },
        vec![],
        vec![layer(tar(&[E::File("app/server", b"x", 0o755)]))],
    );
    let f = findings_of(&r);
    assert!(f.iter().all(|f| f.rule != "runs-as-root"), "{f:#?}");
    assert!(f.iter().all(|f| f.severity < Severity::Medium), "{f:#?}");
}

/// A package's own /etc/passwd with a second uid-0 account and an empty root password, and a
/// later layer whose /etc/shadow leaves another account without a password hash.
#[test]
fn second_root_and_empty_passwords_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let passwd = b"root::0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
evil:x:0:0::/:/bin/sh\n\
app:x:1000:1000::/home/app:/bin/sh\n";
    let r = write_image(
        dir.path(),
        whittle_oci::ContainerConfig {
            user: Some("1000".into()),
            ..Default::default()
        },
        vec![],
        vec![
            layer(tar(&[
                E::File("etc/passwd", passwd, 0o644),
                E::File(
                    "etc/shadow",
                    b"daemon:*:19000::::::\nevil:!:19000::::::\n",
                    0o640,
                ),
            ])),
            layer(tar(&[E::File(
                "etc/shadow",
                b"daemon:*:19000::::::\nevil:!:19000::::::\napp::19000::::::\n",
                0o640,
            )])),
        ],
    );
    let f = findings_of(&r);
    let of = |rule: &str| f.iter().filter(|x| x.rule == rule).collect::<Vec<_>>();
    let uid0 = of("uid0-account");
    assert_eq!(uid0.len(), 1, "{f:#?}");
    assert_eq!(uid0[0].severity, Severity::High);
    assert_eq!(uid0[0].location.path.as_deref(), Some("/etc/passwd"));
    assert_eq!(
        (uid0[0].location.line, uid0[0].location.layer),
        (Some(3), Some(0))
    );
    assert!(
        uid0[0].message.contains("`evil` has uid 0"),
        "{}",
        uid0[0].message
    );
    let empty = of("empty-password");
    assert_eq!(empty.len(), 2, "{f:#?}");
    assert_eq!(empty[0].severity, Severity::Critical);
    assert!(
        empty[0].message.contains("`root` (uid 0)"),
        "{}",
        empty[0].message
    );
    assert_eq!(
        (empty[0].location.path.as_deref(), empty[0].location.line),
        (Some("/etc/passwd"), Some(1))
    );
    assert_eq!(empty[1].severity, Severity::High);
    assert!(empty[1].message.contains("`app`"), "{}", empty[1].message);
    assert_eq!(
        (empty[1].location.path.as_deref(), empty[1].location.layer),
        (Some("/etc/shadow"), Some(1))
    );
    // the rules are listed for SARIF
    for id in ["uid0-account", "empty-password"] {
        assert!(whittle_inspect::RULES.iter().any(|r| r.id == id), "{id}");
    }
}

#[test]
fn tree_risks_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let r = write_image(
        dir.path(),
        whittle_oci::ContainerConfig {
            user: Some("0".into()),
            ..Default::default()
        },
        vec![],
        vec![layer(tar(&[
            E::File("usr/bin/dash", b"ELF", 0o755),
            E::Link("bin", "usr/bin"),
            E::Link("usr/bin/sh", "dash"),
            E::File("usr/bin/apt-get", b"ELF", 0o755),
            E::File("usr/bin/gcc", b"ELF", 0o755),
            E::File("usr/bin/passwd", b"ELF", 0o4755),
            E::File("usr/bin/wall", b"ELF", 0o2755),
            E::File("etc/writable", b"x", 0o666),
            E::Dir("tmp/"),
            E::File(
                "var/lib/apt/lists/deb_bookworm_Packages",
                b"Package: x\n",
                0o644,
            ),
            E::File("var/lib/apt/lists/lock", b"", 0o640),
            E::File("root/.ssh/id_rsa", b"not a key but a name", 0o600),
            E::Link("loop/a", "b"),
            E::Link("loop/b", "a"),
        ]))],
    );
    let f = findings_of(&r);
    let has = |rule: &str, path: &str| {
        f.iter()
            .any(|f| f.rule == rule && f.location.path.as_deref() == Some(path))
    };
    assert!(has("runs-as-root", "config.User"));
    assert!(
        has("shell", "/usr/bin/sh") && has("shell", "/usr/bin/dash"),
        "{f:#?}"
    );
    assert!(has("package-manager", "/usr/bin/apt-get"));
    assert!(has("compiler", "/usr/bin/gcc"));
    assert!(has("setuid-file", "/usr/bin/passwd"));
    assert!(has("setgid-file", "/usr/bin/wall"));
    assert!(has("world-writable", "/etc/writable"));
    assert!(has("package-cache", "/var/lib/apt/lists"));
    assert!(has("secret-file-name", "/root/.ssh/id_rsa"));
    assert!(has("symlink-loop", "/loop/a") && has("symlink-loop", "/loop/b"));
    // tmp/ from the tar builder is 0755; a sticky 1777 dir is fine; a 0777 one is not
    assert!(!has("world-writable", "/tmp"));
    let cache = f.iter().find(|f| f.rule == "package-cache").unwrap();
    assert!(
        cache.message.contains("1 files"),
        "the lock file is not cache: {}",
        cache.message
    );
}

/// A raw 512-byte ustar header with any name (the tar crate refuses `..` when building).
fn raw_header(name: &[u8], kind: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let s = format!("{size:011o}");
    h[124..124 + s.len()].copy_from_slice(s.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let c = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(c.as_bytes());
    h
}

fn raw_tar(parts: &[([u8; 512], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, data) in parts {
        out.extend_from_slice(h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn path_traversal_and_absolute_paths_are_findings_not_writes() {
    let t = raw_tar(&[
        (raw_header(b"../../etc/passwd", b'0', 4, b""), b"evil"),
        (raw_header(b"/etc/abs", b'0', 1, b""), b"a"),
        (raw_header(b"x/../../y", b'0', 1, b""), b"b"),
        (raw_header(b"hl", b'1', 0, b"../../etc/shadow"), b""),
        (raw_header(b"ok", b'0', 1, b""), b"c"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let r = write_image(dir.path(), Default::default(), vec![], vec![layer(t)]);
    let a = analyze(&r, &Options::default()).unwrap();
    let paths: Vec<&str> = a.merged.entries().keys().map(String::as_str).collect();
    assert_eq!(paths, ["etc", "etc/abs", "ok"]);
    let f = audit(&a);
    let traversal: Vec<_> = f
        .iter()
        .filter(|f| f.rule == "layer-anomaly" && f.severity == Severity::High)
        .collect();
    assert_eq!(traversal.len(), 3, "{f:#?}");
    assert!(
        f.iter()
            .any(|f| f.rule == "layer-anomaly" && f.message.contains("absolute-path"))
    );
}

#[test]
fn absurd_sizes_and_truncated_layers_are_clear_errors() {
    // a header claiming 1 TiB followed by 3 bytes
    let mut t = raw_header(b"big", b'0', 1 << 40, b"").to_vec();
    t.extend_from_slice(b"abc");
    let err = analyze_layers([&t[..]], &Limits::default()).unwrap_err();
    assert_eq!(err.0, 0);
    assert!(
        matches!(err.1, LayerError::TooLarge { .. } | LayerError::Tar { .. }),
        "{:?}",
        err.1
    );
    // within the size limit but cut short
    let full = tar(&[E::File("a", &[7u8; 5000], 0o644), E::File("b", b"x", 0o644)]);
    let cut = &full[..2000];
    let err = analyze_layers([cut], &Limits::default()).unwrap_err();
    assert!(matches!(err.1, LayerError::Tar { .. }), "{:?}", err.1);
    assert!(err.1.to_string().contains("truncated"), "{}", err.1);
    // the same through an image: the error names the layer and its digest
    let dir = tempfile::tempdir().unwrap();
    let r = write_image(
        dir.path(),
        Default::default(),
        vec![],
        vec![
            layer(tar(&[E::File("ok", b"1", 0o644)])),
            layer(cut.to_vec()),
        ],
    );
    let e = analyze(&r, &Options::default()).unwrap_err();
    assert!(matches!(e, InspectError::Layer { layer: 1, .. }), "{e}");
    assert!(e.to_string().contains("layer 1 (sha256:"), "{e}");
}

#[test]
fn limits_stop_hostile_counts_sizes_and_paths() {
    let names: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
    let entries: Vec<E> = names.iter().map(|n| E::File(n, b"", 0o644)).collect();
    let many = tar(&entries);
    let limits = Limits {
        max_entries: 100,
        ..Limits::default()
    };
    let err = analyze_layers([&many[..]], &limits).unwrap_err();
    assert!(matches!(err.1, LayerError::TooManyEntries { limit: 100 }));

    let long = "d/".repeat(3000) + "f";
    let t = tar(&[E::File(&long, b"x", 0o644)]);
    let err = analyze_layers([&t[..]], &Limits::default()).unwrap_err();
    assert!(
        matches!(err.1, LayerError::PathTooLong { .. }),
        "{:?}",
        err.1
    );

    let t = tar(&[
        E::File("a", &[1u8; 600], 0o644),
        E::File("b", &[1u8; 600], 0o644),
    ]);
    let limits = Limits {
        max_total_size: 1000,
        ..Limits::default()
    };
    let err = analyze_layers([&t[..]], &limits).unwrap_err();
    assert!(matches!(err.1, LayerError::TooLarge { ref path, .. } if path == "b"));
}

#[test]
fn package_database_capture_is_bounded() {
    let t = tar(&[E::File("var/lib/dpkg/status", &[b'a'; 2048], 0o644)]);
    let limits = Limits {
        max_captured: 1024,
        ..Limits::default()
    };
    let err = analyze_layers([&t[..]], &limits).unwrap_err();
    assert!(matches!(err.1, LayerError::CaptureLimit { .. }));
}
