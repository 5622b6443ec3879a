//! Running a step's shell script in a `bwrap` sandbox: new namespaces (`--unshare-all`, the
//! network only when the step asks), the environment's directory as a read-only root, fresh
//! `/proc`, `/dev` and `/tmp`, the workspace bound read-write at `/home/build`, a cleared
//! environment, and `--die-with-parent`.
//!
//! A step has no privilege: bwrap drops every capability (`--cap-drop ALL`), sets no new
//! privileges, and runs in a user namespace as uid 0 mapped to an unprivileged host uid —
//! the invoking user's, or, when whittle runs as root, an otherwise unused uid of its own
//! (the workspace is handed to it before a step, when whittle has written into it since the
//! last step). It cannot create further user namespaces (`--disable-userns`, where bwrap has
//! it). Its limits ([`Limits`]) hold for all of its processes: the process and memory limits
//! through a per-step cgroup where one can be made ([`crate::cgroup`]), else through
//! `RLIMIT_NPROC` (which the kernel enforces for a non-root host uid) and `RLIMIT_DATA` (per
//! process); the time limit by killing `bwrap`, whose pid namespace takes every process of the
//! step with it.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::cgroup::{Places, StepGroups, Version};
use crate::limits::{Limits, format_bytes, format_duration};
use crate::recipe::WORKSPACE;
use crate::{Error, Result};

/// Bytes of a step's output kept for the error message.
const TAIL_BYTES: usize = 16 << 10;
/// Lines of output an error shows.
pub const TAIL_LINES: usize = 40;
/// How often a running step's limits are checked.
const POLL: Duration = Duration::from_millis(100);

/// The first host uid (and gid) steps run as when whittle runs as root; each sandbox takes
/// one of [`SANDBOX_UIDS`] from here (above the ranges systemd gives users, dynamic users and
/// containers).
pub const SANDBOX_UID_BASE: u32 = 1_900_000_000;
/// How many uids from [`SANDBOX_UID_BASE`] are used.
pub const SANDBOX_UIDS: u32 = 1 << 24;

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
    /// What the steps may use.
    pub limits: Limits,
    /// Wall time the steps have taken so far (counted against `limits.timeout`).
    pub spent: Cell<Duration>,
    /// The host uid and gid steps run as when whittle runs as root (`None`: the invoking
    /// user's own, through bwrap's user namespace).
    pub host_uid: Option<u32>,
    /// Whether whittle wrote into the workspace since it was last handed to `host_uid` (what
    /// the steps write is theirs already): the next step hands it over first.
    workspace_stale: Cell<bool>,
}

impl<'a> Sandbox<'a> {
    /// A sandbox over `root` and `workspace`; when this process runs as root, the steps get a
    /// host uid of their own.
    pub fn new(
        root: &'a Path,
        workspace: &'a Path,
        env: BTreeMap<String, String>,
        verbose: bool,
        limits: Limits,
    ) -> Self {
        // SAFETY: geteuid(2) cannot fail and has no preconditions.
        let root_user = unsafe { libc::geteuid() } == 0;
        Sandbox {
            root,
            workspace,
            env,
            verbose,
            limits,
            spent: Cell::new(Duration::ZERO),
            host_uid: root_user.then(sandbox_uid),
            workspace_stale: Cell::new(true),
        }
    }

    /// Notes that whittle (not a step) wrote into the workspace: before the next step runs,
    /// the workspace is handed to the steps' host uid again ([`hand_over`]).
    pub fn workspace_changed(&self) {
        self.workspace_stale.set(true);
    }

    /// How the limits are enforced on this machine, and warnings where they are weaker than
    /// the recipe says.
    pub fn enforcement(&self) -> (String, Vec<String>) {
        let places = Places::get();
        let l = &self.limits;
        let how = |v: Version| match v {
            Version::V1 => "cgroup v1",
            Version::V2 => "cgroup v2",
        };
        let mut warnings = Vec::new();
        let processes = match &places.pids {
            Some(p) => format!("{} processes ({})", l.processes, how(p.version)),
            None => {
                if self.host_uid.is_none() {
                    warnings.push(format!(
                        "no pids cgroup can be made here: package.resources.processes ({}) is enforced as RLIMIT_NPROC, which counts every process of your user (whittle adds those running when a step starts)",
                        l.processes
                    ));
                }
                format!("{} processes (RLIMIT_NPROC)", l.processes)
            }
        };
        let memory = match &places.memory {
            Some(p) => format!("{} memory ({})", format_bytes(l.memory), how(p.version)),
            None => {
                warnings.push(format!(
                    "no memory cgroup can be made here: package.resources.memory ({}) is enforced for each process alone (RLIMIT_DATA), not for a step's processes together",
                    format_bytes(l.memory)
                ));
                format!(
                    "{} memory per process (RLIMIT_DATA)",
                    format_bytes(l.memory)
                )
            }
        };
        let user = match self.host_uid {
            Some(u) => format!("host uid {u}"),
            None => "your uid".to_string(),
        };
        (
            format!(
                "{processes}, {memory}, {} for all steps; steps run without capabilities as {user}",
                format_duration(l.timeout)
            ),
            warnings,
        )
    }
}

/// A host uid for one sandbox: distinct for the sandboxes of this process and (unless process
/// ids collide modulo 65536) of concurrent whittle processes.
fn sandbox_uid() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) & 0xff;
    SANDBOX_UID_BASE + (((std::process::id() & 0xffff) << 8) | n) % SANDBOX_UIDS
}

/// Which limit a failed step reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// The steps ran longer than `package.timeout`; the step was stopped.
    Timeout,
    /// `package.resources.processes`; `certain` when a cgroup counted it, else the output
    /// shows failed forks.
    Processes {
        /// Counted by a cgroup (and the step stopped), not guessed from the output.
        certain: bool,
    },
    /// `package.resources.memory`; `certain` when a cgroup's OOM killer acted, else the output
    /// shows failed allocations.
    Memory {
        /// Counted by a cgroup, not guessed from the output.
        certain: bool,
    },
}

impl Hit {
    /// What happened and how to raise the limit, for the error after "step `…` of PACKAGE".
    pub fn describe(self, l: &Limits) -> String {
        match self {
            Hit::Timeout => format!(
                "was stopped: the build's steps ran for {}, the recipe's `package.timeout`; raise it in the recipe (e.g. `timeout: 2h` under `package:`) if the build needs longer",
                format_duration(l.timeout)
            ),
            Hit::Processes { certain: true } => format!(
                "was stopped when it reached {} processes and threads at once, the recipe's `package.resources.processes`; raise it in the recipe (`processes:` under `package.resources:`) if the build needs more",
                l.processes
            ),
            Hit::Processes { certain: false } => format!(
                "failed and its output shows failed forks: it likely reached the recipe's `package.resources.processes` ({}, enforced here as the host user's process limit: no pids cgroup could be made); raise it in the recipe (`processes:` under `package.resources:`) if the build needs more",
                l.processes
            ),
            Hit::Memory { certain: true } => format!(
                "ran out of memory: its processes together reached {}, the recipe's `package.resources.memory`; raise it in the recipe (`memory:` under `package.resources:`) if the build needs more",
                format_bytes(l.memory)
            ),
            Hit::Memory { certain: false } => format!(
                "failed and its output shows failed allocations: it likely reached the recipe's `package.resources.memory` ({}, enforced here for each process alone: no memory cgroup could be made); raise it in the recipe (`memory:` under `package.resources:`) if the build needs more",
                format_bytes(l.memory)
            ),
        }
    }
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
    /// The limit a failed run reached, if one did (or likely did).
    pub limit: Option<Hit>,
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

/// Makes the mount points bwrap needs in a writable `root`, and lets every user reach into it
/// (the steps may run as another host uid than the one that made it).
pub fn prepare_root(root: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        Error::Io {
            path: root.display().to_string(),
            source,
        }
    })?;
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

/// Options of the installed bwrap that older versions lack.
#[derive(Debug, Clone, Copy, Default)]
struct BwrapFeatures {
    /// `--disable-userns` (0.8.0).
    disable_userns: bool,
    /// `--size` for `--tmpfs` (0.8.0).
    tmpfs_size: bool,
}

fn bwrap_features() -> BwrapFeatures {
    static F: OnceLock<BwrapFeatures> = OnceLock::new();
    *F.get_or_init(|| {
        let help = Command::new("bwrap")
            .arg("--help")
            .stdin(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        BwrapFeatures {
            disable_userns: help.contains("--disable-userns"),
            tmpfs_size: help.contains("--size"),
        }
    })
}

/// Runs `script` with `sh -e` in the sandbox, in `cwd` (a sandbox path), with `env` added,
/// within the sandbox's limits; the time it takes is added to `sb.spent`.
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
    let remaining = sb.limits.timeout.saturating_sub(sb.spent.get());
    if remaining.is_zero() {
        return Ok(Outcome {
            success: false,
            status: "not started".into(),
            tail: "  | (not started: no time left)".into(),
            limit: Some(Hit::Timeout),
        });
    }
    if let Some(uid) = sb.host_uid
        && sb.workspace_stale.get()
    {
        hand_over(sb.workspace, uid)?;
        sb.workspace_stale.set(false);
    }
    let groups = StepGroups::create(&sb.limits).map_err(Error::Sandbox)?;
    let features = bwrap_features();
    let mut cmd = Command::new("bwrap");
    cmd.arg("--unshare-all");
    if network {
        cmd.arg("--share-net");
    }
    cmd.arg("--unshare-user");
    if features.disable_userns {
        cmd.arg("--disable-userns");
    }
    cmd.args([
        "--uid",
        "0",
        "--gid",
        "0",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
    ])
    .arg(sb.root)
    .arg("/")
    .args(["--proc", "/proc", "--dev", "/dev"]);
    if features.tmpfs_size {
        // /tmp is memory: it holds at most the memory limit
        cmd.args(["--size", &sb.limits.memory.to_string()]);
    }
    cmd.args(["--tmpfs", "/tmp", "--bind"])
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

    // what the child does between fork and exec: join the step's cgroups, take the rlimits
    // that stand in for missing cgroups, and become the sandbox's host uid
    let entry = Entry {
        join: groups.join_fds(),
        nproc: (!groups.limits_processes()).then(|| {
            // SAFETY: getrlimit(2) writes the struct passed by reference.
            below_hard(nproc_limit(sb), |r| unsafe {
                libc::getrlimit(libc::RLIMIT_NPROC, r)
            })
        }),
        data: (!groups.limits_memory()).then(|| {
            // SAFETY: as above.
            below_hard(sb.limits.memory, |r| unsafe {
                libc::getrlimit(libc::RLIMIT_DATA, r)
            })
        }),
        uid: sb.host_uid,
    };
    // SAFETY: `Entry::enter` only makes async-signal-safe system calls on data prepared
    // before the fork; it allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || entry.enter());
    }

    let (reader, writer) = std::io::pipe().map_err(|e| Error::Sandbox(e.to_string()))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| Error::Sandbox(e.to_string()))?;
    cmd.stdin(Stdio::null()).stdout(writer).stderr(writer2);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        Error::Sandbox(if e.kind() == std::io::ErrorKind::NotFound {
            "bwrap is not installed; install bubblewrap (`apt-get install bubblewrap`)".into()
        } else {
            format!(
                "{e} (joining the step's cgroup, setting its rlimits{})",
                sb.host_uid
                    .map_or(String::new(), |u| format!(" or becoming host uid {u}"))
            )
        })
    })?;
    // the pipe's write ends live in `cmd`: close them so that reading ends with the child
    drop(cmd);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let verbose = sb.verbose;
    let collector = std::thread::spawn(move || {
        let out = collect(reader, verbose);
        let _ = done_tx.send(());
        out
    });
    let deadline = start.checked_add(remaining);
    let mut output_done = false;
    let mut stopped = None;
    let status = loop {
        if let Some(st) = child
            .try_wait()
            .map_err(|e| Error::Sandbox(e.to_string()))?
        {
            break st;
        }
        let now = Instant::now();
        if groups.processes_reached() {
            stopped = Some(Hit::Processes { certain: true });
        } else if deadline.is_some_and(|d| now >= d) {
            stopped = Some(Hit::Timeout);
        }
        if stopped.is_some() {
            // bwrap's death takes its pid namespace, so every process of the step, with it
            let _ = child.kill();
            groups.kill_all();
            break child.wait().map_err(|e| Error::Sandbox(e.to_string()))?;
        }
        let left = deadline.map_or(POLL, |d| d.saturating_duration_since(now).min(POLL));
        if output_done {
            // bwrap is exiting: its output has ended
            std::thread::sleep(left.min(Duration::from_millis(5)));
        } else if !matches!(
            done_rx.recv_timeout(left),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        ) {
            output_done = true;
        }
    };
    sb.spent.set(sb.spent.get().saturating_add(start.elapsed()));
    let (raw, total) = collector
        .join()
        .map_err(|_| Error::Sandbox("reading the step's output failed".into()))??;
    let text = String::from_utf8_lossy(&raw);
    if !status.success() && stopped.is_none() && total == raw.len() {
        // bwrap itself could not set the sandbox up (its messages start with `bwrap: `)
        if let Some(m) = text.strip_prefix("bwrap: ") {
            let first: String = m
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(500)
                .collect();
            let hint = if first.contains("namespace") {
                "; the sandbox needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces above 0)"
            } else {
                ""
            };
            return Err(Error::Sandbox(format!("{first}{hint}")));
        }
    }
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.iter().all(|l| l.trim().is_empty()) {
        lines.clear();
        lines.push("(no output)");
    }
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
    // a step that reached a limit fails even if its script hid the failure (`cmd || true`, a
    // fork bomb that ended before the next check)
    let counted = stopped
        .filter(|h| *h != Hit::Timeout)
        .or_else(|| {
            groups
                .out_of_memory()
                .then_some(Hit::Memory { certain: true })
        })
        .or_else(|| {
            groups
                .processes_reached()
                .then_some(Hit::Processes { certain: true })
        });
    let success = status.success() && stopped.is_none() && counted.is_none();
    let limit = if success {
        None
    } else {
        counted
            .or_else(|| {
                (!groups.limits_processes() && shows_failed_forks(&text))
                    .then_some(Hit::Processes { certain: false })
            })
            .or_else(|| {
                (!groups.limits_memory() && shows_failed_allocations(&text))
                    .then_some(Hit::Memory { certain: false })
            })
            .or(stopped)
    };
    Ok(Outcome {
        success,
        status: status_text,
        tail,
        limit,
    })
}

/// Reads the step's output to its end, copying it to stderr when `verbose`; the last
/// [`TAIL_BYTES`] or more, and how many bytes there were.
fn collect(mut reader: std::io::PipeReader, verbose: bool) -> Result<(Vec<u8>, usize)> {
    let mut tail: Vec<u8> = Vec::with_capacity(TAIL_BYTES);
    let mut total = 0usize;
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
        if verbose {
            let _ = stderr.lock().write_all(chunk);
        }
        total = total.saturating_add(n);
        tail.extend_from_slice(chunk);
        if tail.len() > 2 * TAIL_BYTES {
            tail.drain(..tail.len() - TAIL_BYTES);
        }
    }
    Ok((tail, total))
}

/// Whether output shows forks that failed for want of processes (busybox, bash, make, …).
fn shows_failed_forks(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("fork") && l.contains("resource temporarily unavailable")
    })
}

/// Whether output shows allocations that failed (libc's ENOMEM text, busybox, glibc, C++,
/// Rust).
fn shows_failed_allocations(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        [
            "cannot allocate memory",
            "out of memory",
            "memory exhausted",
            "bad_alloc",
            "memory allocation of",
        ]
        .iter()
        .any(|m| l.contains(m))
    })
}

/// The `RLIMIT_NPROC` that gives a step `limits.processes`: the kernel counts every process of
/// the host uid, so a uid shared with other processes (the invoking user's) gets its current
/// count added.
fn nproc_limit(sb: &Sandbox<'_>) -> u64 {
    match sb.host_uid {
        Some(_) => sb.limits.processes,
        // SAFETY: getuid(2) cannot fail and has no preconditions.
        None => sb
            .limits
            .processes
            .saturating_add(tasks_of(unsafe { libc::getuid() })),
    }
}

/// `value`, or the hard limit `get` reads when that is lower (only root may raise it).
#[allow(clippy::useless_conversion)] // `rlim_t` is 32 bits on some targets
fn below_hard(value: u64, get: impl FnOnce(&mut libc::rlimit) -> libc::c_int) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if get(&mut r) == 0 {
        value.min(u64::try_from(r.rlim_max).unwrap_or(u64::MAX))
    } else {
        value
    }
}

/// Processes and threads of host uid `uid` now.
fn tasks_of(uid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0u64;
    for e in dir.flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if field("Uid:") == Some(u64::from(uid)) {
            n += field("Threads:").unwrap_or(1);
        }
    }
    n
}

/// What the sandbox's first process does before it runs bwrap.
struct Entry {
    /// `cgroup.procs` files to write `0` to.
    join: Vec<std::os::fd::RawFd>,
    /// `RLIMIT_NPROC`, when no cgroup limits processes.
    nproc: Option<u64>,
    /// `RLIMIT_DATA`, when no cgroup limits memory.
    data: Option<u64>,
    /// The host uid and gid to become, when whittle runs as root.
    uid: Option<u32>,
}

impl Entry {
    /// Runs in the forked child: only async-signal-safe system calls, no allocation.
    fn enter(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| {
            if r < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        for fd in &self.join {
            // SAFETY: writing one byte from a static buffer to a descriptor this process owns.
            let n = unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        let limit = |v: u64| libc::rlimit {
            rlim_cur: v as libc::rlim_t,
            rlim_max: v as libc::rlim_t,
        };
        if let Some(n) = self.nproc {
            // SAFETY: setrlimit(2) reads the struct passed by reference.
            check(unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &limit(n)) })?;
        }
        if let Some(n) = self.data {
            // SAFETY: as above.
            check(unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit(n)) })?;
        }
        if let Some(id) = self.uid {
            // SAFETY: setgroups(2) with an empty list, then setgid(2)/setuid(2): plain
            // system calls on this (single-threaded, forked) process.
            unsafe {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(id))?;
                check(libc::setuid(id))?;
            }
        }
        Ok(())
    }
}

/// Gives everything under `dir` (and `dir`) to host uid and gid `uid`, without following
/// symlinks, so that a step running as that uid can change what whittle put there (the source,
/// `fetch` and `git-checkout` results, package directories). Setuid and setgid bits, which
/// `chown` clears, are put back: the package records the modes as they were.
pub fn hand_over(dir: &Path, uid: u32) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| Error::Io { path, source }
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).map_err(io(&p))?;
        if meta.uid() != uid || meta.gid() != uid {
            std::os::unix::fs::lchown(&p, Some(uid), Some(uid)).map_err(io(&p))?;
            let mode = meta.mode() & 0o7777;
            if meta.file_type().is_file() && mode & 0o6000 != 0 {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                    .map_err(io(&p))?;
            }
        }
        if meta.file_type().is_dir() {
            for e in std::fs::read_dir(&p).map_err(io(&p))? {
                stack.push(e.map_err(io(&p))?.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn hand_over_gives_the_tree_without_following_links_and_keeps_setuid() {
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            whittle_testutil::skip("root (to change owners)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (ws, outside) = (dir.path().join("ws"), dir.path().join("outside"));
        std::fs::create_dir_all(ws.join("src/deep")).unwrap();
        std::fs::write(ws.join("src/deep/tool"), b"x").unwrap();
        std::fs::set_permissions(
            ws.join("src/deep/tool"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        std::fs::write(&outside, b"host").unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path(), ws.join("up")).unwrap();
        let uid = SANDBOX_UID_BASE + 123;
        hand_over(&ws, uid).unwrap();
        for p in ["", "src", "src/deep", "src/deep/tool", "link", "up"] {
            let m = std::fs::symlink_metadata(ws.join(p)).unwrap();
            assert_eq!((m.uid(), m.gid()), (uid, uid), "{p}");
        }
        let tool = std::fs::metadata(ws.join("src/deep/tool")).unwrap();
        assert_eq!(tool.mode() & 0o7777, 0o4755);
        // what the links point to stays the host's
        assert_eq!(std::fs::metadata(&outside).unwrap().uid(), 0);
        assert_eq!(std::fs::metadata(dir.path()).unwrap().uid(), 0);
    }

    #[test]
    fn failed_forks_and_allocations_are_recognised() {
        assert!(shows_failed_forks(
            "x\nsh: can't fork: Resource temporarily unavailable\n"
        ));
        assert!(shows_failed_forks(
            "bash: fork: retry: Resource temporarily unavailable"
        ));
        assert!(!shows_failed_forks("Resource temporarily unavailable"));
        assert!(shows_failed_allocations("dd: out of memory"));
        assert!(shows_failed_allocations(
            "memory allocation of 1048576 bytes failed"
        ));
        assert!(!shows_failed_allocations("all good"));
    }

    #[test]
    fn sandbox_uids_stay_in_their_range() {
        for _ in 0..1000 {
            let u = sandbox_uid();
            assert!((SANDBOX_UID_BASE..SANDBOX_UID_BASE + SANDBOX_UIDS).contains(&u));
        }
    }
}
