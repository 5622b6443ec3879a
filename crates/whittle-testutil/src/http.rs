//! A scripted HTTP/1.1 server on 127.0.0.1 for tests of what whittle does with hostile or broken
//! servers (a body longer than announced, one that never ends, one byte every few seconds):
//! behaviour the real servers the other tests use cannot be made to show. Every request is
//! recorded, so a test can count what the client asked for.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// `GET`, `HEAD`, `PUT`, …
    pub method: String,
    /// The request target (path and query).
    pub path: String,
}

/// A running server; it stops when the test process ends.
pub struct HttpServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`, as a registry host.
    pub host: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl HttpServer {
    /// Serves each connection on its own thread: reads one request (head and a
    /// `Content-Length` body), records it, and lets `handler` write the answer on the stream
    /// (the connection is closed afterwards; write errors just end the handler).
    pub fn start(handler: impl Fn(&Hit, &mut TcpStream) + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let recorded = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let handler = Arc::clone(&handler);
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || {
                    let Some(hit) = read_request(&mut s) else {
                        return;
                    };
                    if let Ok(mut h) = recorded.lock() {
                        h.push(hit.clone());
                    }
                    handler(&hit, &mut s);
                    let _ = s.flush();
                    let _ = s.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        HttpServer {
            base: format!("http://{addr}"),
            host: addr.to_string(),
            hits,
        }
    }

    /// Every request so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// How many requests had a path ending with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.hits()
            .iter()
            .filter(|h| h.method == method && h.path.ends_with(suffix))
            .count()
    }
}

/// Reads a request's head and its `Content-Length` body (discarded).
fn read_request(s: &mut TcpStream) -> Option<Hit> {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut first = text.lines().next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let length: usize = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut left = length.saturating_sub(head.len() - end);
    while left > 0 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    Some(Hit { method, path })
}

/// Writes a complete answer: status line, `Content-Type`, `Content-Length`, extra headers, body.
pub fn respond(s: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

/// Writes a `200 OK` head announcing `length` bytes (none: read until the connection closes)
/// and then calls `body` to produce them as it likes (slowly, endlessly, too many).
pub fn respond_streaming(
    s: &mut TcpStream,
    length: Option<u64>,
    body: impl FnOnce(&mut TcpStream),
) {
    let mut head = String::from("HTTP/1.1 200 OK\r\nConnection: close\r\n");
    if let Some(n) = length {
        head.push_str(&format!("Content-Length: {n}\r\n"));
    }
    head.push_str("Content-Type: application/octet-stream\r\n\r\n");
    if s.write_all(head.as_bytes()).is_ok() {
        body(s);
    }
}

/// Writes zeros until the client goes away or `max` bytes are written.
pub fn zeros(s: &mut TcpStream, max: u64) {
    let chunk = [0u8; 64 << 10];
    let mut sent = 0u64;
    while sent < max {
        let n = (max - sent).min(chunk.len() as u64) as usize;
        if s.write_all(&chunk[..n]).is_err() {
            return;
        }
        sent += n as u64;
    }
}

/// Writes `bytes` one at a time, `every` apart, until the client goes away.
pub fn drip(s: &mut TcpStream, bytes: &[u8], every: Duration) {
    for b in bytes {
        if s.write_all(std::slice::from_ref(b))
            .and_then(|()| s.flush())
            .is_err()
        {
            return;
        }
        std::thread::sleep(every);
    }
}

/// `sha256:<hex>` of `bytes`.
fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A registry serving one image, `<any repo>:1`: a valid manifest and config, and one layer
/// that declares `layer_size` bytes and is served by `layer` (to misbehave as the test likes).
/// Returns the server and the layer's digest.
pub fn registry_with_layer(
    layer_size: u64,
    layer: impl Fn(&mut TcpStream) + Send + Sync + 'static,
) -> (HttpServer, String) {
    const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    let layer_digest = digest(b"whatever the layer was meant to be");
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    )
    .into_bytes();
    let config_digest = digest(&config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{layer_size}}}]}}"#,
        config.len()
    )
    .into_bytes();
    let manifest_digest = digest(&manifest);
    let ld = layer_digest.clone();
    let server = HttpServer::start(move |hit, s| {
        let p = hit.path.as_str();
        if p.ends_with("/manifests/1") || p.ends_with(&format!("/manifests/{manifest_digest}")) {
            respond(
                s,
                200,
                &[
                    ("Content-Type", MANIFEST),
                    ("Docker-Content-Digest", &manifest_digest),
                ],
                &manifest,
            );
        } else if p.ends_with(&format!("/blobs/{config_digest}")) {
            respond(s, 200, &[], &config);
        } else if p.ends_with(&format!("/blobs/{ld}")) {
            layer(s);
        } else {
            respond(s, 404, &[], b"{}");
        }
    });
    (server, layer_digest)
}

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().expect("local address").port()
}
