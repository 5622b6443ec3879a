//! How builds use the cache. Derived cache entries (decompressed package data, compressed
//! layers) that an attacker with write access to the cache directory swapped or edited are never
//! used: the build notices, warns, makes the entry again and produces exactly the image a clean
//! cache gives. A cache that cannot be written is used read-only. What killed builds left behind
//! is cleaned once nothing can own it. Real data: the signed Debian 12 closure of gawk in
//! ../shared/fixtures/deb/bookworm-mini.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use whittle_build::{BuildOptions, Events, SbomDest, build};
use whittle_fetch::Cache;
use whittle_testutil::fixtures;

/// Collects the warnings of a build.
#[derive(Default)]
struct Collect(Mutex<Vec<String>>);

impl whittle_fetch::Progress for Collect {
    fn start(&self, _: usize, _: u64, _: usize) {}
    fn done(&self, _: &str, _: u64, _: bool) {}
}

impl Events for Collect {
    fn step(&self, _: &str) {}
    fn warn(&self, msg: &str) {
        self.0.lock().unwrap().push(msg.to_string());
    }
}

impl Collect {
    fn warnings(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Every test of this file first pins the key that seals derived entries to a directory of its
/// own (instead of the user's state directory), before any build reads the environment.
fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // a child process of a test inherits its parent's
        if std::env::var_os("WHITTLE_CACHE_KEY").is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: every test calls setup() before anything reads the environment, and Once
        // holds them back until this is done.
        unsafe { std::env::set_var("WHITTLE_CACHE_KEY", dir.join("cache.key")) };
    });
}

fn sha256_file(p: &Path) -> String {
    whittle_fetch::sha256_hex(&std::fs::read(p).unwrap())
}

fn config(dir: &Path, fix: &Path) -> PathBuf {
    let repo = fix.join("deb/bookworm-mini");
    let text = format!(
        "contents:\n  repositories:\n    - deb [signed-by={key}] file://{repo} bookworm main\n  packages: [gawk]\n\
         entrypoint:\n  command: /usr/bin/gawk\narchs: [amd64]\n\
         accounts:\n  groups: [{{groupname: nonroot, gid: 65532}}]\n  users: [{{username: nonroot, uid: 65532, gid: 65532}}]\n  run-as: nonroot\n",
        key = repo.join("keys/debian-archive-keyring.gpg").display(),
        repo = repo.display(),
    );
    let path = dir.join("image.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Builds into `oci:DIR/NAME`; returns the digest and the warnings.
fn build_into(dir: &Path, cfg: &Path, cache: &Path, name: &str) -> (String, Vec<String>) {
    let events = Collect::default();
    let report = build(
        &BuildOptions {
            config: cfg.to_path_buf(),
            output: whittle_oci::ImageRef::Oci {
                path: dir.join(name),
                tag: None,
            },
            cache_dir: cache.to_path_buf(),
            offline: false,
            archs: Vec::new(),
            source_date_epoch: None,
            sbom: SbomDest::None,
            insecure_allow_unsigned_repositories: false,
            allow_paths: Vec::new(),
            ignore_lock: false,
            lock_file: None,
            lock_made_from: None,
            append: Default::default(),
            layer_compression: None,
        },
        &events,
    )
    .unwrap();
    (report.digest, events.warnings())
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// `(layer digest, diff ID)` of the single-layer image in the OCI layout `layout`.
fn layer_of(layout: &Path) -> (String, String) {
    let blob = |d: &str| layout.join("blobs/sha256").join(&d[7..]);
    let index = json(&layout.join("index.json"));
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json(&blob(manifest["config"]["digest"].as_str().unwrap()));
    (
        manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string(),
        config["rootfs"]["diff_ids"][0]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Whether the layer of `layout` holds `path`.
fn layer_has(layout: &Path, path: &str) -> bool {
    let (digest, _) = layer_of(layout);
    let blob = std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(blob.as_slice()));
    ar.entries()
        .unwrap()
        .any(|e| e.unwrap().path().unwrap().to_str() == Some(path))
}

/// The 64-hex words a cache record holds (whatever its format), in order.
fn hexes_in(record: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(record)
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 64)
        .map(str::to_string)
        .collect()
}

/// The blob a record names: the last 64-hex word that names a blob (a key may name blobs too).
fn named_blob(record: &[u8], cache_dir: &Path) -> String {
    hexes_in(record)
        .into_iter()
        .rfind(|h| cache_dir.join("blobs/sha256").join(h).is_file())
        .expect("the record names its blob")
}

/// Rewrites the record of `key` so that it names `new_hex` instead of the blob it named: what
/// an attacker who can write the cache directory does to make a derived entry point elsewhere.
fn point_record(cache: &Cache, key: &str, new_hex: &str, cache_dir: &Path) {
    let path = cache.derived_record_path(key);
    let record = std::fs::read(&path).unwrap();
    let old = named_blob(&record, cache_dir);
    let text = String::from_utf8(record).unwrap().replace(&old, new_hex);
    std::fs::write(&path, text).unwrap();
}

#[test]
fn a_swapped_package_data_entry_is_detected_and_made_again() {
    setup();
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let cfg = config(dir.path(), &fix);
    let (clean, warnings) = build_into(dir.path(), &cfg, &cache_dir, "clean");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(layer_has(&dir.path().join("clean"), "usr/bin/gawk"));

    let pool = fix.join("deb/bookworm-mini/pool/main");
    let gawk = sha256_file(&pool.join("g/gawk/gawk_5.2.1-2_amd64.deb"));
    let sigsegv = std::fs::read_dir(pool.join("libs/libsigsegv"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap();
    let sigsegv = sha256_file(&sigsegv);
    let cache = Cache::open(&cache_dir).unwrap();
    let gawk_key = whittle_build::assemble::data_cache_key(&gawk);
    let sigsegv_key = whittle_build::assemble::data_cache_key(&sigsegv);

    // 1. the record of gawk's data replaced by libsigsegv2's record
    std::fs::copy(
        cache.derived_record_path(&sigsegv_key),
        cache.derived_record_path(&gawk_key),
    )
    .unwrap();
    let (digest, warnings) = build_into(dir.path(), &cfg, &cache_dir, "swapped");
    assert_eq!(digest, clean, "a swapped data entry changed the image");
    assert!(layer_has(&dir.path().join("swapped"), "usr/bin/gawk"));
    assert!(
        warnings.iter().any(|w| w.contains("cache")),
        "no warning about the cache entry: {warnings:?}"
    );

    // 2. gawk's record edited to name libsigsegv2's data blob
    let sigsegv_blob = named_blob(
        &std::fs::read(cache.derived_record_path(&sigsegv_key)).unwrap(),
        &cache_dir,
    );
    point_record(&cache, &gawk_key, &sigsegv_blob, &cache_dir);
    let (digest, warnings) = build_into(dir.path(), &cfg, &cache_dir, "edited");
    assert_eq!(digest, clean, "an edited data entry changed the image");
    assert!(
        warnings.iter().any(|w| w.contains("cache")),
        "no warning about the cache entry: {warnings:?}"
    );

    // made again: the next build uses the cache silently
    let (digest, warnings) = build_into(dir.path(), &cfg, &cache_dir, "again");
    assert_eq!(digest, clean);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn a_compressed_layer_entry_pointing_at_a_plain_tar_is_detected() {
    setup();
    let Some(fix) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let cfg = config(dir.path(), &fix);
    let (clean, _) = build_into(dir.path(), &cfg, &cache_dir, "clean");
    let layout = dir.path().join("clean");
    let (digest, diff_id) = layer_of(&layout);

    // the plain tar of the layer, stored as a valid blob under its own SHA-256
    let gz = std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut plain)
        .unwrap();
    let plain_hex = whittle_fetch::sha256_hex(&plain);
    assert_eq!(format!("sha256:{plain_hex}"), diff_id);
    std::fs::write(cache_dir.join("blobs/sha256").join(&plain_hex), &plain).unwrap();

    let cache = Cache::open(&cache_dir).unwrap();
    point_record(
        &cache,
        &whittle_build::layers::cache_key(&diff_id, whittle_config::LayerCompression::Gzip),
        &plain_hex,
        &cache_dir,
    );
    let (rebuilt, warnings) = build_into(dir.path(), &cfg, &cache_dir, "rebuilt");
    assert_eq!(rebuilt, clean, "a plain tar was used as the gzip layer");
    assert_eq!(layer_of(&dir.path().join("rebuilt")).0, digest);
    assert!(
        warnings.iter().any(|w| w.contains("cache")),
        "no warning about the cache entry: {warnings:?}"
    );
}

/// A warm online build with a cache it cannot write (a read-only bind mount, which stops root
/// too, in a mount namespace of its own): the cache is used read-only with a warning, verified,
/// and the image is the same. The build runs in a child process (this test again) inside
/// `unshare -m`.
#[test]
fn a_read_only_cache_gives_a_working_warm_build() {
    setup();
    const CHILD: &str = "WHITTLE_TEST_READ_ONLY_CHILD";
    let Some(fix) = fixtures() else { return };
    if let Some(dir) = std::env::var_os(CHILD) {
        let dir = Path::new(&dir);
        let cache_dir = dir.join("cache");
        let probe = std::fs::write(cache_dir.join("probe"), b"x");
        if probe.is_ok() {
            println!("NOT-READ-ONLY");
            return;
        }
        let out = tempfile::tempdir().unwrap();
        let (digest, warnings) = build_into(out.path(), &config(dir, &fix), &cache_dir, "ro");
        println!("DIGEST: {digest}");
        for w in warnings {
            println!("WARNING: {}", w.replace('\n', " "));
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let cfg = config(dir.path(), &fix);
    let (warm, _) = build_into(dir.path(), &cfg, &cache_dir, "warm");
    let test = "a_read_only_cache_gives_a_working_warm_build";
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(
            "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && \
             exec \"$2\" --exact \"$3\" --nocapture --test-threads=1",
        )
        .args([
            "sh".as_ref(),
            cache_dir.as_os_str(),
            exe.as_os_str(),
            test.as_ref(),
        ])
        .env(CHILD, dir.path())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        other => {
            // unshare needs root (CAP_SYS_ADMIN); chmod does not stop root, but it does stop
            // everyone else
            let root = std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
            if root {
                whittle_testutil::skip(&format!(
                    "a read-only bind mount (unshare -m as root failed: {other:?})"
                ));
                return;
            }
            set_writable(&cache_dir, false);
            let out = std::process::Command::new(&exe)
                .args(["--exact", test, "--nocapture", "--test-threads=1"])
                .env(CHILD, dir.path())
                .output()
                .unwrap();
            set_writable(&cache_dir, true);
            out
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(!stdout.contains("NOT-READ-ONLY"), "{stdout}");
    let digest = stdout
        .lines()
        .find_map(|l| l.split_once("DIGEST: ").map(|(_, d)| d))
        .unwrap_or_else(|| panic!("no build: {stdout}"));
    assert_eq!(digest, warm);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("WARNING: ") && l.contains("read-only")),
        "{stdout}"
    );
}

fn set_writable(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
        let mode = meta.permissions().mode();
        let mode = if writable {
            mode | 0o200
        } else {
            mode & !0o222
        };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// What a killed build leaves beside its output (a staging copy of an OCI layout, a staged
/// archive) is removed at the start of the next build once nothing wrote to it for
/// `STALE_AFTER`; a fresh one (a build still writing) is kept.
#[test]
fn stale_staging_copies_are_cleaned_fresh_ones_kept() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let old = std::time::SystemTime::now()
        - whittle_fetch::STALE_AFTER
        - std::time::Duration::from_secs(60);
    // a layout being staged, left behind (a kill: no destructor runs)
    let killed = whittle_oci::StagedLayout::new(&dest).unwrap();
    let killed_path = killed.path().to_path_buf();
    std::fs::write(killed.blobs_dir().join("aa"), vec![1u8; 1000]).unwrap();
    std::mem::forget(killed);
    let mut todo = vec![killed_path.clone()];
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
        std::fs::File::open(&p).unwrap().set_modified(old).unwrap();
    }
    // another one, still being written
    let live = whittle_oci::StagedLayout::new(&dest).unwrap();
    // an unrelated hidden file
    std::fs::write(dir.path().join(".keep.whittle-x"), b"x").unwrap();
    std::fs::File::open(dir.path().join(".keep.whittle-x"))
        .unwrap()
        .set_modified(old)
        .unwrap();

    let (n, bytes) = whittle_build::clean_staging(&dest, whittle_fetch::STALE_AFTER);
    assert_eq!((n, bytes), (1, 1000));
    assert!(!killed_path.exists());
    assert!(live.path().exists());
    assert!(dir.path().join(".keep.whittle-x").exists());
}
