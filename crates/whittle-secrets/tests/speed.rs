//! Throughput of `scan`: run with
//! `cargo test --release -p whittle-secrets --test speed -- --ignored --nocapture`
//! (or `bench/secrets.sh`). Set `WHITTLE_SECRETS_BENCH_DIR` to scan the files of a real tree
//! (e.g. an extracted rootfs) instead of generated text, and `WHITTLE_SECRETS_BENCH_SHOW=1` to
//! print every match.
//!
//! Figures on the 2-core development machine (release, MB/s; before = one Teddy pass of 41
//! anchors, after = trivy's whole rule set in four passes): generated text 235 → 200; the Rust
//! sources of `~/.cargo/registry/src` (145 MB) 3000 → 1440; `/usr/share` (548 MB, mostly
//! compressed, skipped as binary) 11600 → 4300. One pass of all 110 anchors ran at about 220 on
//! source code: Teddy filters well only with few, alike patterns per pass.

use std::time::Instant;

/// Generated text shaped like an image's text files: config, scripts, docs, code.
fn generated(total: usize) -> Vec<Vec<u8>> {
    let lines = [
        "# Configuration file for the service; see the manual for every option.\n",
        "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        "    def read_token(self, token):\n        return self.tokens[token]\n",
        "password = get_password(user)  # read at run time, never stored\n",
        "<p>The quick brown fox jumps over the lazy dog. ASIA Pacific, Secretary.</p>\n",
        "if [ -n \"$SECRET\" ]; then echo \"secret set\"; fi\n",
        "static const char *names[] = {\"alpha\", \"beta\", \"gamma\", \"delta\"};\n",
        "Package: libexample1\nVersion: 1.2.3-4\nDepends: libc6 (>= 2.36)\n",
    ];
    let mut files = Vec::new();
    let mut size = 0;
    let mut i = 0usize;
    while size < total {
        let mut f = Vec::with_capacity(64 << 10);
        while f.len() < 64 << 10 {
            // every line, in a pseudo-random order (a multiply-add on the index alone cycles
            // through two of them)
            f.extend_from_slice(lines[(i >> 33) % lines.len()].as_bytes());
            i = i
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
        }
        size += f.len();
        files.push(f);
    }
    files
}

fn from_dir(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>, budget: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if *budget == 0 {
            return;
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            from_dir(&e.path(), out, budget);
        } else if ft.is_file()
            && let Ok(data) = std::fs::read(e.path())
        {
            *budget = budget.saturating_sub(data.len());
            out.push((e.path().display().to_string(), data));
        }
    }
}

#[test]
#[ignore = "speed check: run in release with --ignored --nocapture"]
fn scan_throughput() {
    let files = match std::env::var_os("WHITTLE_SECRETS_BENCH_DIR") {
        Some(dir) => {
            let mut out = Vec::new();
            let mut budget = 1usize << 30;
            from_dir(std::path::Path::new(&dir), &mut out, &mut budget);
            out
        }
        None => generated(256 << 20)
            .into_iter()
            .map(|f| (String::new(), f))
            .collect(),
    };
    let bytes: usize = files.iter().map(|(_, f)| f.len()).sum();
    let mut found = 0;
    let start = Instant::now();
    for (_, f) in &files {
        found += whittle_secrets::scan(f).len();
    }
    let secs = start.elapsed().as_secs_f64();
    if std::env::var_os("WHITTLE_SECRETS_BENCH_SHOW").is_some() {
        for (path, f) in &files {
            for m in whittle_secrets::scan(f) {
                println!("{path}:{}: {} {}", m.line, m.rule, m.redacted);
            }
        }
    }
    println!(
        "scan: {} files, {:.1} MB in {:.3} s = {:.0} MB/s, {found} matches",
        files.len(),
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs
    );
    assert!(bytes > 0);
}
