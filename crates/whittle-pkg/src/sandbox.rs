//! Running a step's shell script in a `bwrap` sandbox: new namespaces (`--unshare-all`, the
//! network only when the step asks), the environment's directory as a read-only root, fresh
//! `/proc`, `/dev` and `/tmp`, the workspace bound read-write at `/home/build`, a cleared
//! environment, and `--die-with-parent`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::recipe::WORKSPACE;
use crate::{Error, Result};

/// Bytes of a step's output kept for the error message.
const TAIL_BYTES: usize = 16 << 10;
/// Lines of output an error shows.
pub const TAIL_LINES: usize = 40;

/// The fixed parts of every run.
#[derive(Debug, Clone)]
pub struct Sandbox<'a> {
    /// The root filesystem (read-only inside).
    pub root: &'a Path,
    /// Bound read-write at `/home/build`.
    pub workspace: &'a Path,
    /// Environment variables of every step.
    pub env: BTreeMap<String, String>,
    /// Copy the steps' output to stderr as it comes.
    pub verbose: bool,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether the script exited with 0.
    pub success: bool,
    /// `exit status 2` or `killed by signal 9`.
    pub status: String,
    /// The last [`TAIL_LINES`] lines of combined stdout and stderr.
    pub tail: String,
}

/// The shell of `root`: `/bin/sh`, else `bash`, `dash` or `busybox sh`.
pub fn shell(root: &Path) -> Option<Vec<&'static str>> {
    for (p, argv) in [
        ("bin/sh", vec!["/bin/sh"]),
        ("usr/bin/sh", vec!["/usr/bin/sh"]),
        ("bin/bash", vec!["/bin/bash"]),
        ("usr/bin/dash", vec!["/usr/bin/dash"]),
        ("bin/dash", vec!["/bin/dash"]),
        ("bin/busybox", vec!["/bin/busybox", "sh"]),
        ("usr/bin/busybox", vec!["/usr/bin/busybox", "sh"]),
    ] {
        // relative symlinks (bin -> usr/bin) resolve inside `root`; absolute ones are checked
        // by their presence only
        let full = root.join(p);
        if full.exists() || std::fs::symlink_metadata(&full).is_ok() {
            return Some(argv);
        }
    }
    None
}

/// Makes the mount points bwrap needs in a writable `root`.
pub fn prepare_root(root: &Path) -> Result<()> {
    for d in ["proc", "dev", "tmp", "home/build", "etc"] {
        let p = root.join(d);
        if std::fs::symlink_metadata(&p).is_err() {
            std::fs::create_dir_all(&p).map_err(|source| Error::Io {
                path: p.display().to_string(),
                source,
            })?;
        }
    }
    let resolv = root.join("etc/resolv.conf");
    if std::fs::symlink_metadata(&resolv).is_err() {
        std::fs::write(&resolv, b"").map_err(|source| Error::Io {
            path: resolv.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Runs `script` with `sh -e` in the sandbox, in `cwd` (a sandbox path), with `env` added.
pub fn run(
    sb: &Sandbox<'_>,
    script: &str,
    cwd: &str,
    env: &BTreeMap<String, String>,
    network: bool,
) -> Result<Outcome> {
    let sh = shell(sb.root).ok_or_else(|| Error::Invalid {
        what: sb.root.display().to_string(),
        message: "the environment has no shell (/bin/sh, bash, dash or busybox); add one to environment.contents.packages (e.g. dash or busybox)".into(),
    })?;
    let mut cmd = Command::new("bwrap");
    cmd.arg("--unshare-all");
    if network {
        cmd.arg("--share-net");
    }
    cmd.args(["--die-with-parent", "--new-session", "--ro-bind"])
        .arg(sb.root)
        .arg("/")
        .args([
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind",
        ])
        .arg(sb.workspace)
        .arg(WORKSPACE);
    if network {
        cmd.args(["--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"]);
    }
    cmd.args(["--chdir", cwd, "--clearenv"]);
    let mut all = BTreeMap::new();
    all.insert(
        "PATH".to_string(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
    );
    all.insert("HOME".to_string(), WORKSPACE.to_string());
    all.extend(sb.env.clone());
    all.extend(env.clone());
    for (k, v) in &all {
        cmd.args(["--setenv", k, v]);
    }
    cmd.arg("--").args(&sh).args(["-e", "-c", script]);
    let (mut reader, writer) = std::io::pipe().map_err(|e| Error::Sandbox(e.to_string()))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| Error::Sandbox(e.to_string()))?;
    cmd.stdin(Stdio::null()).stdout(writer).stderr(writer2);
    let mut child = cmd.spawn().map_err(|e| Error::Sandbox(e.to_string()))?;
    // the pipe's write ends live in `cmd`: close them so that reading ends with the child
    drop(cmd);
    let mut tail: Vec<u8> = Vec::with_capacity(TAIL_BYTES);
    let mut buf = [0u8; 8192];
    let stderr = std::io::stderr();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Sandbox(e.to_string())),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        if sb.verbose {
            let _ = stderr.lock().write_all(chunk);
        }
        tail.extend_from_slice(chunk);
        if tail.len() > 2 * TAIL_BYTES {
            tail.drain(..tail.len() - TAIL_BYTES);
        }
    }
    let status = child.wait().map_err(|e| Error::Sandbox(e.to_string()))?;
    let text = String::from_utf8_lossy(&tail);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines
        .get(lines.len().saturating_sub(TAIL_LINES)..)
        .unwrap_or_default()
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let status_text = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    };
    Ok(Outcome {
        success: status.success(),
        status: status_text,
        tail,
    })
}
