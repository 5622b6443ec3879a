//! Getting bytes from a URL: `http(s)://` with retries, `file://` and plain local paths.

use crate::Error;
use std::io::Read;
use std::time::Duration;

/// An HTTP agent plus local-file access, with size limits on everything read.
pub struct Transport {
    agent: ureq::Agent,
}

impl Default for Transport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport {
    /// A transport with a 5-minute overall timeout per request and 30 s to connect.
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(300)))
            .timeout_connect(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .user_agent(concat!("whittle/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Transport { agent }
    }

    /// Reads `url` whole, refusing more than `limit` bytes.
    pub fn get(&self, url: &str, limit: u64) -> Result<Vec<u8>, Error> {
        if let Some(path) = url.strip_prefix("file://") {
            return read_local(url, path, limit);
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            return self.get_http(url, limit);
        }
        if url.starts_with('/') || url.starts_with("./") || !url.contains("://") {
            return read_local(url, url, limit);
        }
        Err(Error::Scheme {
            url: url.to_string(),
        })
    }

    fn get_http(&self, url: &str, limit: u64) -> Result<Vec<u8>, Error> {
        let mut last = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            match self.agent.get(url).call() {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    if status == 200 {
                        // ureq refuses a body of exactly `limit` bytes: allow one more and check
                        let body = resp
                            .body_mut()
                            .with_config()
                            .limit(limit.saturating_add(1))
                            .read_to_vec();
                        return match body {
                            Ok(b) if b.len() as u64 > limit => Err(Error::TooLarge {
                                url: url.to_string(),
                                limit,
                            }),
                            Ok(b) => Ok(b),
                            Err(ureq::Error::BodyExceedsLimit(_)) => Err(Error::TooLarge {
                                url: url.to_string(),
                                limit,
                            }),
                            Err(e) => {
                                last = e.to_string();
                                continue;
                            }
                        };
                    }
                    last = format!("HTTP status {status}");
                    if !(status >= 500 || status == 429 || status == 408) {
                        break;
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Http {
            url: url.to_string(),
            message: last,
        })
    }
}

fn read_local(url: &str, path: &str, limit: u64) -> Result<Vec<u8>, Error> {
    let err = |source| Error::Local {
        url: url.to_string(),
        source,
    };
    let f = std::fs::File::open(path).map_err(err)?;
    let mut out = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(err)?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves `body` to `n` HTTP requests on 127.0.0.1; returns the base URL.
    fn serve(body: &'static [u8], n: usize) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(n) {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(body);
            }
        });
        format!("http://{addr}/f")
    }

    #[test]
    fn http_body_of_exactly_the_limit_is_accepted() {
        let url = serve(b"0123456789", 2);
        let t = Transport::new();
        assert_eq!(t.get(&url, 10).unwrap(), b"0123456789");
        assert!(matches!(t.get(&url, 9), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn local_reads_respect_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let t = Transport::new();
        let url = format!("file://{}", p.display());
        assert_eq!(t.get(&url, 10).unwrap(), b"0123456789");
        assert!(matches!(t.get(&url, 9), Err(Error::TooLarge { .. })));
        assert!(matches!(
            t.get("gopher://x/y", 9),
            Err(Error::Scheme { .. })
        ));
        let missing = t.get("file:///nonexistent/whittle", 9).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/whittle"));
    }
}
