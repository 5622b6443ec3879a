//! Test helpers shared by every crate's tests: where the real test data is, which system tools
//! exist, and the rule that a missing one is a SKIP on a developer's machine but a failure under
//! `CI=true`.

use std::path::{Path, PathBuf};

pub mod http;
pub mod oci;
pub mod peers;
pub mod registry;

/// Whether tests run under CI (`CI=true`), where a missing fixture or tool is a failure.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `what` is missing: prints `SKIPPED: …` on a developer's machine, panics under CI.
pub fn skip(what: &str) {
    assert!(!ci(), "{what} is required under CI=true");
    println!("SKIPPED: {what} not available");
}

/// The shared fixtures directory (`$WHITTLE_FIXTURES`, else `../shared/fixtures` beside the
/// repository), or `None` (after [`skip`]) when it is absent.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("WHITTLE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!(
            "fixtures (looked in {}; set WHITTLE_FIXTURES)",
            dir.display()
        ));
        None
    }
}

/// Whether tests may use the host's Debian mirror (the network): under `CI=true` or with
/// `WHITTLE_TEST_MIRROR=1`.
pub fn mirror_allowed() -> bool {
    ci() || std::env::var("WHITTLE_TEST_MIRROR").is_ok_and(|v| v == "1")
}

/// [`mirror_allowed`], printing `SKIPPED: …` when it is not.
pub fn mirror() -> bool {
    let allowed = mirror_allowed();
    if !allowed {
        println!(
            "SKIPPED: set WHITTLE_TEST_MIRROR=1 (or CI=true) to build from the host's Debian mirror"
        );
    }
    allowed
}

/// Whether a system tool is on `PATH` (after [`skip`] when it is not).
pub fn tool(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()));
    if !found {
        skip(name);
    }
    found
}

/// Every file under `dir` with its bytes, by path relative to `dir` (for comparing two trees).
pub fn dir_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                out.insert(rel, bytes);
            }
        }
    }
    out
}

/// Answers one HTTP request on 127.0.0.1 with `200 OK`, `content_type` and `body`; returns the
/// base URL (`http://127.0.0.1:PORT`) and a handle whose result is the request's head.
pub fn serve_once(content_type: &str, body: Vec<u8>) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let content_type = content_type.to_string();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accepting the request");
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(&body);
        String::from_utf8_lossy(&head).into_owned()
    });
    (base, handle)
}

/// Starts a server with `cmd` (its stderr is taken over) and waits until it reports the address it
/// listens on, as a line containing `listening on ADDR` (docker-registry and the awk playground
/// both print one). Start servers on port 0 and read the port back this way: picking a "free"
/// port first and handing it over races with every other test binding or forking meanwhile.
/// The rest of stderr is drained on a thread. Panics, showing what the server printed, when it
/// exits or stays silent for `timeout`.
pub fn spawn_listening(
    cmd: &mut std::process::Command,
    timeout: std::time::Duration,
) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stderr = child.stderr.take().expect("stderr was piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            let addr = listening_addr(&line);
            let found = addr.is_some();
            if tx.send((line, addr)).is_err() || found {
                break;
            }
        }
        // keep the pipe drained so the server never blocks writing its log
        for _ in lines {}
    });
    let deadline = std::time::Instant::now() + timeout;
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, Some(addr))) => return (child, addr),
            Ok((line, None)) => said.push(line),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "{cmd:?} did not report `listening on ADDR` within {timeout:?} ({status:?}); it printed:\n{}",
                    said.join("\n")
                );
            }
        }
    }
}

/// The socket address after `listening on ` in a log line, if any.
fn listening_addr(line: &str) -> Option<std::net::SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Real GNU tar archives holding a sparse file in PAX format: `(version, tar)` for each
/// `--sparse-version` (0.0, 0.1, 1.0), each of `./usr/lib/sparse/data.bin`, a 1 MiB file that is a
/// hole but for 5 bytes in the middle, owned by 0:0. Made under `dir` with the host's `tar`
/// (check [`tool`]`("tar")` first).
pub fn pax_sparse_tars(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    use std::io::{Seek, SeekFrom, Write};
    let root = dir.join("sparse-root");
    let data = root.join("usr/lib/sparse");
    std::fs::create_dir_all(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let mut f = std::fs::File::create(data.join("data.bin")).expect("sparse file");
    f.set_len(1 << 20).expect("set_len");
    f.seek(SeekFrom::Start(500_000)).expect("seek");
    f.write_all(b"hello").expect("write");
    ["0.0", "0.1", "1.0"]
        .into_iter()
        .map(|version| {
            let out = dir.join(format!("sparse-{version}.tar"));
            let status = std::process::Command::new("tar")
                .args(["--sparse", "--format=pax", "--owner=0", "--group=0"])
                .arg(format!("--sparse-version={version}"))
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&out)
                .arg("./usr")
                .status()
                .expect("tar");
            assert!(status.success(), "tar --sparse-version={version}");
            (version, std::fs::read(&out).expect("tar output"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_either_servers_log_line() {
        assert_eq!(
            listening_addr(
                r#"time="x" level=info msg="listening on 127.0.0.1:42089" go.version=go1.19.8"#
            ),
            Some("127.0.0.1:42089".parse().unwrap())
        );
        assert_eq!(
            listening_addr("awk-playground: listening on [::1]:8080, running awk"),
            Some("[::1]:8080".parse().unwrap())
        );
        assert_eq!(listening_addr("listening on nothing"), None);
        assert_eq!(listening_addr("starting"), None);
    }

    #[test]
    fn reads_the_port_a_real_process_reports() {
        let (mut child, addr) = spawn_listening(
            std::process::Command::new("sh").args([
                "-c",
                "echo noise >&2; echo 'listening on 127.0.0.1:5' >&2; sleep 5",
            ]),
            std::time::Duration::from_secs(10),
        );
        assert_eq!(addr.port(), 5);
        let _ = child.kill();
        let _ = child.wait();
    }
}
