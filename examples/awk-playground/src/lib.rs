//! The awk playground: an HTTP service that runs a user's AWK script over a user's text.
//!
//! DELIBERATELY VULNERABLE to script injection — AWK's `system()` runs any command through
//! `/bin/sh`. It exists to show what a minimal image takes away from an attacker. It is bounded
//! (request size, execution time, output size, concurrent requests) so that it cannot be knocked
//! over, but it must never run anywhere that matters.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Limits that keep the service standing whatever a client sends.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Largest request head (request line + headers), in bytes.
    pub max_head: usize,
    /// How long awk may run before it is killed.
    pub timeout: Duration,
    /// Bytes of stdout and of stderr kept; the rest is dropped and marked.
    pub max_output: usize,
    /// Requests served at once; more get 503.
    pub max_concurrent: usize,
    /// How long a client may take to send its request.
    pub read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1 << 20,
            max_head: 16 << 10,
            timeout: Duration::from_secs(5),
            max_output: 64 << 10,
            max_concurrent: 32,
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// The service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The awk program to run (`/usr/bin/gawk`, or a name looked up on `PATH`).
    pub awk: String,
    /// Limits.
    pub limits: Limits,
}

/// What awk printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// awk's standard output (capped).
    pub stdout: String,
    /// awk's standard error (capped), plus a note when awk failed or was killed.
    pub stderr: String,
}

impl Outcome {
    /// The JSON body the original service answers: `{"stderr":"…","stdout":"…"}`.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"stderr\":{},\"stdout\":{}}}",
            json_string(&self.stderr),
            json_string(&self.stdout)
        )
    }
}

/// A JSON string literal of `s`.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs `script` over `text` with `awk`, within the limits. Never panics on any input.
pub fn run_awk(cfg: &Config, script: &str, text: &[u8]) -> Outcome {
    let mut child = match Command::new(&cfg.awk)
        .arg("--")
        .arg(script)
        // its own process group, so that whatever the script starts dies with it
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                stdout: String::new(),
                stderr: format!("cannot run {}: {e}\n", cfg.awk),
            };
        }
    };
    let cap = cfg.limits.max_output;
    let stdin = child.stdin.take();
    let text = text.to_vec();
    let feeder = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // awk may exit without reading its input: a broken pipe is fine
            let _ = stdin.write_all(&text);
        }
    });
    let out = child.stdout.take().map(|s| capped_reader(s, cap));
    let err = child.stderr.take().map(|s| capped_reader(s, cap));
    let started = Instant::now();
    let mut note = String::new();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    note = match status.code() {
                        Some(code) => format!("awk exited with status {code}\n"),
                        None => "awk was killed by a signal\n".to_string(),
                    };
                }
                break;
            }
            Ok(None) if started.elapsed() >= cfg.limits.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                note = format!(
                    "awk was killed: time limit of {:?} exceeded\n",
                    cfg.limits.timeout
                );
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                note = format!("waiting for awk failed: {e}\n");
                break;
            }
        }
    }
    // anything the script left running (`system("sleep 99 &")`) would hold the pipes open
    kill_group(child.id());
    let _ = feeder.join();
    let collect = |h: Option<std::thread::JoinHandle<String>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let stdout = collect(out);
    let mut stderr = collect(err);
    stderr.push_str(&note);
    Outcome { stdout, stderr }
}

/// Sends SIGKILL to the process group `pgid` (the child was started as its leader).
fn kill_group(pgid: u32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    const SIGKILL: i32 = 9;
    if let Ok(pid) = i32::try_from(pgid)
        && pid > 0
    {
        // SAFETY: kill(2) takes plain integers; a group that is already gone gives ESRCH.
        unsafe {
            kill(-pid, SIGKILL);
        }
    }
}

/// Reads a child's stream to the end on a thread, keeping at most `cap` bytes.
fn capped_reader(mut r: impl Read + Send + 'static, cap: usize) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        let mut dropped = false;
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    dropped |= n > room;
                }
            }
        }
        let mut s = String::from_utf8_lossy(&kept).into_owned();
        if dropped {
            s.push_str(&format!("\n[output truncated at {cap} bytes]\n"));
        }
        s
    })
}

/// A parsed HTTP request (only what the service needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a request was refused, with the HTTP status to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status code.
    pub status: u16,
    /// A message for the client.
    pub message: String,
}

fn http_err(status: u16, message: impl Into<String>) -> HttpError {
    HttpError {
        status,
        message: message.into(),
    }
}

/// Reads one request from `r` within the limits.
pub fn read_request(r: &mut impl BufRead, limits: &Limits) -> Result<Request, HttpError> {
    let mut head_bytes = 0usize;
    let mut line = Vec::new();
    let mut next_line = |r: &mut dyn BufRead, line: &mut Vec<u8>| -> Result<(), HttpError> {
        line.clear();
        let room = limits.max_head.saturating_sub(head_bytes) as u64 + 1;
        let n = r
            .take(room)
            .read_until(b'\n', line)
            .map_err(|e| http_err(400, format!("reading the request: {e}")))?;
        head_bytes += n;
        if head_bytes > limits.max_head {
            return Err(http_err(431, "request head too large"));
        }
        if n == 0 || !line.ends_with(b"\n") {
            return Err(http_err(400, "incomplete request head"));
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        Ok(())
    };
    next_line(r, &mut line)?;
    let request_line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts
        .next()
        .ok_or_else(|| http_err(400, "malformed request line"))?;
    let path = target.split('?').next().unwrap_or("/").to_string();
    let mut content_length = None;
    let mut content_type = None;
    loop {
        next_line(r, &mut line)?;
        if line.is_empty() {
            break;
        }
        let header = String::from_utf8_lossy(&line);
        let Some((name, value)) = header.split_once(':') else {
            return Err(http_err(400, "malformed header line"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| http_err(400, "bad Content-Length"))?;
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(http_err(
                411,
                "chunked bodies are not supported; send Content-Length",
            ));
        }
    }
    let len = content_length.unwrap_or(0);
    if len > limits.max_body {
        return Err(http_err(
            413,
            format!(
                "body of {len} bytes exceeds the limit of {}",
                limits.max_body
            ),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .map_err(|_| http_err(400, "body shorter than Content-Length"))?;
    Ok(Request {
        method,
        path,
        content_type,
        body,
    })
}

/// The fields of a `multipart/form-data` body, by name (later fields of the same name win).
pub fn parse_multipart(
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(String, Vec<u8>)>, HttpError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(|| http_err(400, "multipart/form-data without a boundary"))?;
    let delim = format!("--{boundary}").into_bytes();
    let mut fields = Vec::new();
    let mut pos = find(body, &delim, 0).ok_or_else(|| http_err(400, "no multipart boundary"))?;
    loop {
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            break;
        }
        // skip the CRLF after the boundary
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        }
        let head_end = find(body, b"\r\n\r\n", pos)
            .ok_or_else(|| http_err(400, "multipart part without headers"))?;
        let head = String::from_utf8_lossy(&body[pos..head_end]);
        let name = head
            .split("\r\n")
            .filter(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .flat_map(|l| l.split(';'))
            .find_map(|p| p.trim().strip_prefix("name="))
            .map(|n| n.trim_matches('"').to_string())
            .ok_or_else(|| http_err(400, "multipart part without a name"))?;
        let data_start = head_end + 4;
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(&delim);
        let data_end = find(body, &end_delim, data_start)
            .ok_or_else(|| http_err(400, "unterminated multipart part"))?;
        fields.push((name, body[data_start..data_end].to_vec()));
        pos = data_end + 2;
    }
    Ok(fields)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Answers one parsed request: `(status, content type, body)`.
pub fn handle(cfg: &Config, req: &Request) -> (u16, &'static str, String) {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/healthz") => (200, "text/plain", "ok\n".into()),
        ("POST", "/test") => {
            let ct = req.content_type.as_deref().unwrap_or_default();
            if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
                return error_json(
                    415,
                    "send multipart/form-data with fields text and awkScript",
                );
            }
            let fields = match parse_multipart(ct, &req.body) {
                Ok(f) => f,
                Err(e) => return error_json(e.status, &e.message),
            };
            let get = |name: &str| {
                fields
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            let (Some(text), Some(script)) = (get("text"), get("awkScript")) else {
                return error_json(400, "fields text and awkScript are required");
            };
            let script = String::from_utf8_lossy(&script).into_owned();
            let outcome = run_awk(cfg, &script, &text);
            (200, "application/json", outcome.to_json())
        }
        (_, "/test") => error_json(405, "use POST"),
        _ => error_json(404, "not found: POST /test or GET /healthz"),
    }
}

fn error_json(status: u16, message: &str) -> (u16, &'static str, String) {
    (
        status,
        "application/json",
        format!("{{\"error\":{}}}", json_string(message)),
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    );
}

/// Serves one connection.
pub fn serve_connection(cfg: &Config, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(cfg.limits.read_timeout));
    let _ = stream.set_write_timeout(Some(cfg.limits.read_timeout));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let (status, ct, body) = match read_request(&mut reader, &cfg.limits) {
        Ok(req) => handle(cfg, &req),
        Err(e) => error_json(e.status, &e.message),
    };
    respond(&mut stream, status, ct, &body);
}

/// Accepts connections forever, one thread each, at most `max_concurrent` at once.
pub fn serve(cfg: Config, listener: TcpListener) {
    let cfg = Arc::new(cfg);
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= cfg.limits.max_concurrent {
            active.fetch_sub(1, Ordering::SeqCst);
            let (s, ct, b) = error_json(503, "too many requests at once; retry");
            respond(&mut stream, s, ct, &b);
            continue;
        }
        let (cfg, active) = (Arc::clone(&cfg), Arc::clone(&active));
        std::thread::spawn(move || {
            serve_connection(&cfg, stream);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
        let b = "XyZ123";
        let mut body = String::new();
        for (n, v) in fields {
            body.push_str(&format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{b}--\r\n"));
        (
            format!("multipart/form-data; boundary={b}"),
            body.into_bytes(),
        )
    }

    fn cfg() -> Config {
        Config {
            awk: "awk".into(),
            limits: Limits {
                timeout: Duration::from_millis(500),
                max_output: 100,
                ..Limits::default()
            },
        }
    }

    #[test]
    fn multipart_fields_round_trip() {
        let (ct, body) = multipart(&[("text", "hello world"), ("awkScript", "{print $1}")]);
        let f = parse_multipart(&ct, &body).unwrap();
        assert_eq!(f[0], ("text".to_string(), b"hello world".to_vec()));
        assert_eq!(f[1], ("awkScript".to_string(), b"{print $1}".to_vec()));
    }

    #[test]
    fn multipart_garbage_is_an_error_not_a_panic() {
        for body in [
            &b""[..],
            b"--b",
            b"--b\r\nno headers",
            b"--b\r\n\r\n\r\n",
            b"x--b--",
        ] {
            let _ = parse_multipart("multipart/form-data; boundary=b", body);
        }
        assert!(parse_multipart("multipart/form-data", b"--b--").is_err());
        assert!(
            parse_multipart("multipart/form-data; boundary=b", b"--b\r\nX: y\r\n\r\nabc").is_err()
        );
    }

    #[test]
    fn json_escapes_control_characters() {
        let o = Outcome {
            stdout: "a\"b\\c\n\u{1}".into(),
            stderr: String::new(),
        };
        assert_eq!(o.to_json(), r#"{"stderr":"","stdout":"a\"b\\c\n\u0001"}"#);
    }

    #[test]
    fn request_limits() {
        let l = Limits {
            max_body: 10,
            max_head: 64,
            ..Limits::default()
        };
        let big = b"POST /test HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world";
        assert_eq!(read_request(&mut &big[..], &l).unwrap_err().status, 413);
        let long_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100));
        assert_eq!(
            read_request(&mut long_head.as_bytes(), &l)
                .unwrap_err()
                .status,
            431
        );
        let ok = b"POST /test?x=1 HTTP/1.1\r\nContent-Length: 2\r\nContent-Type: t\r\n\r\nhi";
        let r = read_request(&mut &ok[..], &l).unwrap();
        assert_eq!((r.path.as_str(), r.body.as_slice()), ("/test", &b"hi"[..]));
        assert_eq!(
            read_request(
                &mut &b"POST /test HTTP/1.1\r\nContent-Length: 5\r\n\r\nhi"[..],
                &l
            )
            .unwrap_err()
            .status,
            400
        );
    }

    fn have_awk() -> bool {
        Command::new("awk").arg("BEGIN{}").status().is_ok()
    }

    #[test]
    fn runs_awk_like_the_original() {
        if !have_awk() {
            println!("SKIPPED: awk not found");
            return;
        }
        let (ct, body) = multipart(&[("text", "hello world"), ("awkScript", "{print $1}")]);
        let req = Request {
            method: "POST".into(),
            path: "/test".into(),
            content_type: Some(ct),
            body,
        };
        let (status, _, json) = handle(&cfg(), &req);
        assert_eq!(status, 200);
        assert_eq!(json, r#"{"stderr":"","stdout":"hello\n"}"#);
    }

    #[test]
    fn bounded_time_output_and_errors() {
        if !have_awk() {
            println!("SKIPPED: awk not found");
            return;
        }
        let o = run_awk(&cfg(), "BEGIN { while (1) {} }", b"");
        assert!(o.stderr.contains("time limit"), "{o:?}");
        let o = run_awk(&cfg(), "BEGIN { while (1) print \"xxxxxxxx\" }", b"");
        assert!(
            o.stdout.contains("[output truncated at 100 bytes]"),
            "{o:?}"
        );
        let t = Instant::now();
        let o = run_awk(
            &cfg(),
            "BEGIN { system(\"sleep 30 &\"); print \"done\" }",
            b"",
        );
        assert_eq!(o.stdout, "done\n");
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "a background child held the request"
        );
        let o = run_awk(&cfg(), "BEGIN { exit 3 }", b"");
        assert!(o.stderr.contains("status 3"), "{o:?}");
        let o = run_awk(&cfg(), "{ syntax error", b"x");
        assert!(o.stderr.contains("status"), "{o:?}");
        let missing = Config {
            awk: "/nonexistent/awk".into(),
            ..cfg()
        };
        assert!(run_awk(&missing, "{}", b"").stderr.contains("cannot run"));
    }
}
