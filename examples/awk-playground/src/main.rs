//! `awk-playground [--listen ADDR] [--awk PATH]`: serves `POST /test` (multipart fields `text`
//! and `awkScript`) and answers `{"stderr": "...", "stdout": "..."}`.
//!
//! DELIBERATELY VULNERABLE to script injection: see the README.

use awk_playground::{Config, Limits, serve};
use std::net::TcpListener;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut listen =
        std::env::var("AWK_PLAYGROUND_LISTEN").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let mut awk = std::env::var("AWK_PLAYGROUND_AWK").unwrap_or_else(|_| "awk".into());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().unwrap_or_default(),
            "--awk" => awk = args.next().unwrap_or_default(),
            "-h" | "--help" => {
                println!(
                    "usage: awk-playground [--listen ADDR] [--awk PATH]\n\n\
                     Serves POST /test (multipart: text, awkScript) on ADDR [default 0.0.0.0:8080,\n\
                     env AWK_PLAYGROUND_LISTEN] running PATH [default awk, env AWK_PLAYGROUND_AWK].\n\
                     DELIBERATELY VULNERABLE to AWK script injection: a demo, never a service."
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("awk-playground: unknown argument {other:?}; see --help");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("awk-playground: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // the bound address, so that `--listen 127.0.0.1:0` tells where it ended up
    let bound = listener
        .local_addr()
        .map_or_else(|_| listen.clone(), |a| a.to_string());
    eprintln!("awk-playground: listening on {bound}, running {awk} (deliberately injectable)");
    serve(
        Config {
            awk,
            limits: Limits::default(),
        },
        listener,
    );
    ExitCode::SUCCESS
}
