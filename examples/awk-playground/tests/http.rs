//! The service binary over real HTTP on 127.0.0.1: the original's answers, and bounded on bad input.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Option<Server> {
    if Command::new("awk").arg("BEGIN{}").status().is_err() {
        println!("SKIPPED: awk not found");
        return None;
    }
    // port 0, read back from the log line: no window in which another test can take the port
    let (child, addr) = whittle_testutil::spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_awk-playground")).args(["--listen", "127.0.0.1:0"]),
        Duration::from_secs(10),
    );
    Some(Server {
        child,
        addr: addr.to_string(),
    })
}

fn raw(addr: &str, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // the server may answer (413) before reading everything: ignore a reset while sending
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post(addr: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let b = "----whittle-test-boundary";
    let mut body = String::new();
    for (n, v) in fields {
        body.push_str(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{b}--\r\n"));
    let req = format!(
        "POST /test HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw(addr, req.as_bytes())
}

#[test]
fn answers_like_the_original() {
    let Some(s) = start() else { return };
    let (status, body) = post(
        &s.addr,
        &[("text", "hello world"), ("awkScript", "{print $1}")],
    );
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"stderr":"","stdout":"hello\n"}"#);
    let (status, body) = post(
        &s.addr,
        &[("text", "a b\nc d\n"), ("awkScript", "{print $2}")],
    );
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"stderr":"","stdout":"b\nd\n"}"#)
    );
    let (status, _) = raw(&s.addr, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert_eq!(status, 200);
}

#[test]
fn bad_requests_get_clear_errors_and_the_service_stays_up() {
    let Some(s) = start() else { return };
    let (status, body) = post(&s.addr, &[("text", "x")]);
    assert_eq!(status, 400);
    assert!(body.contains("awkScript"), "{body}");
    let (status, _) = raw(
        &s.addr,
        b"POST /test HTTP/1.1\r\nContent-Length: 999999999\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n",
    );
    assert_eq!(status, 413);
    let (status, _) = raw(&s.addr, b"\x00\x01garbage\r\n\r\n");
    assert_eq!(status, 400);
    let (status, _) = raw(&s.addr, b"GET /nope HTTP/1.1\r\n\r\n");
    assert_eq!(status, 404);
    let (status, body) = post(&s.addr, &[("text", ""), ("awkScript", "BEGIN { exit 7 }")]);
    assert_eq!(status, 200);
    assert!(body.contains("awk exited with status 7"), "{body}");
    // still serving
    let (status, _) = post(&s.addr, &[("text", "hi"), ("awkScript", "{print}")]);
    assert_eq!(status, 200);
}
