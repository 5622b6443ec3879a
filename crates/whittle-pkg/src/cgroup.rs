//! Per-step cgroups: the exact process and memory limits of a sandboxed step, where this
//! process may make cgroups (cgroup v2, or the v1 `pids` and `memory` hierarchies; usually only
//! as root). Each step gets its own group, made before the step starts and removed after it;
//! the sandbox joins it before `bwrap` runs, so every process of the step is counted, and
//! hitting a limit shows in the group's event counters. Where no group can be made, the
//! sandbox falls back to rlimits ([`crate::sandbox`]).

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::limits::Limits;

/// A cgroup hierarchy's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One hierarchy per controller (`/sys/fs/cgroup/pids`, `/sys/fs/cgroup/memory`).
    V1,
    /// The unified hierarchy.
    V2,
}

/// A controller the sandbox uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// Processes and threads at once.
    Pids,
    /// Memory of all processes together.
    Memory,
}

impl Controller {
    fn name(self) -> &'static str {
        match self {
            Controller::Pids => "pids",
            Controller::Memory => "memory",
        }
    }

    /// The file that sets the limit (its presence shows the controller is on in a group).
    fn limit_file(self, v: Version) -> &'static str {
        match (self, v) {
            (Controller::Pids, _) => "pids.max",
            (Controller::Memory, Version::V2) => "memory.max",
            (Controller::Memory, Version::V1) => "memory.limit_in_bytes",
        }
    }
}

/// Where this process can make groups for one controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The directory new groups go into.
    pub parent: PathBuf,
    /// Its hierarchy's version.
    pub version: Version,
}

/// Where groups for each controller can be made, if anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// For the process limit.
    pub pids: Option<Place>,
    /// For the memory limit.
    pub memory: Option<Place>,
}

impl Places {
    /// Probed once per process.
    pub fn get() -> &'static Places {
        static PLACES: OnceLock<Places> = OnceLock::new();
        PLACES.get_or_init(|| {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            Places {
                pids: find(&mountinfo, &cgroups, Controller::Pids),
                memory: find(&mountinfo, &cgroups, Controller::Memory),
            }
        })
    }

    fn of(&self, c: Controller) -> Option<&Place> {
        match c {
            Controller::Pids => self.pids.as_ref(),
            Controller::Memory => self.memory.as_ref(),
        }
    }
}

/// A cgroup mount: its mount point, the cgroup path it shows, and its version and (v1)
/// controllers.
#[derive(Debug, PartialEq, Eq)]
struct Mount {
    point: PathBuf,
    root: String,
    version: Version,
    options: Vec<String>,
}

/// The cgroup mounts of `/proc/self/mountinfo` text.
fn mounts(mountinfo: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (pre.get(3), pre.get(4), post.first()) else {
            continue;
        };
        let version = match *fstype {
            "cgroup2" => Version::V2,
            "cgroup" => Version::V1,
            _ => continue,
        };
        out.push(Mount {
            point: PathBuf::from(unescape(point)),
            root: unescape(root),
            version,
            options: post
                .get(2)
                .map(|o| o.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
        });
    }
    out
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).and_then(|d| {
            d.iter()
                .all(|c| (b'0'..=b'7').contains(c))
                .then(|| d.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0')))
        });
        match (b[i], octal.and_then(|v| u8::try_from(v).ok())) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's path in the v2 hierarchy (`None` for v2) or the v1 one holding `controller`.
fn own_path(cgroups: &str, v1_controller: Option<&str>) -> Option<String> {
    cgroups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match v1_controller {
            None => ctrls.is_empty(),
            Some(c) => ctrls.split(',').any(|x| x == c),
        };
        wanted.then(|| path.to_string())
    })
}

/// The first directory, from this process's own group up to the hierarchy's root, where a
/// group limiting `c` can be made (v2 first, where the controller is enabled there).
fn find(mountinfo: &str, cgroups: &str, c: Controller) -> Option<Place> {
    let all = mounts(mountinfo);
    let v2 = all.iter().filter(|m| m.version == Version::V2).find(|m| {
        std::fs::read_to_string(m.point.join("cgroup.controllers"))
            .is_ok_and(|s| s.split_whitespace().any(|x| x == c.name()))
    });
    let v1 = all
        .iter()
        .find(|m| m.version == Version::V1 && m.options.iter().any(|o| o == c.name()));
    for (m, own) in [
        v2.map(|m| (m, own_path(cgroups, None))),
        v1.map(|m| (m, own_path(cgroups, Some(c.name())))),
    ]
    .into_iter()
    .flatten()
    {
        let own = own.unwrap_or_else(|| "/".into());
        let Some(rel) = own.strip_prefix(m.root.trim_end_matches('/')) else {
            continue;
        };
        let mut dir = m.point.join(rel.trim_start_matches('/'));
        loop {
            if dir.starts_with(&m.point) && usable(&dir, m.version, c) {
                return Some(Place {
                    parent: dir,
                    version: m.version,
                });
            }
            if dir == m.point || !dir.pop() {
                break;
            }
        }
    }
    None
}

/// Whether a group made in `dir` limits `c` and can be joined: tried with a probe group.
fn usable(dir: &Path, v: Version, c: Controller) -> bool {
    sweep(dir);
    let probe = dir.join(format!("whittle-probe-{}", std::process::id()));
    if std::fs::create_dir(&probe).is_err() {
        return false;
    }
    let ok = probe.join(c.limit_file(v)).is_file()
        && std::fs::OpenOptions::new()
            .write(true)
            .open(probe.join("cgroup.procs"))
            .is_ok();
    let _ = std::fs::remove_dir(&probe);
    ok
}

/// Removes the empty groups that killed builds left in `dir` (those of processes that no
/// longer run; a group that still has processes is not removed by `rmdir`).
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("whittle-")) else {
            continue;
        };
        let pid = rest
            .trim_start_matches("probe-")
            .split('-')
            .next()
            .unwrap_or("");
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// One group of a step.
#[derive(Debug)]
struct Group {
    dir: PathBuf,
    version: Version,
    pids: bool,
    memory: bool,
    /// `cgroup.procs`, opened for the step's first process to join through.
    procs: File,
}

/// The groups of one step (none, one, or one per v1 hierarchy), removed on drop.
#[derive(Debug, Default)]
pub struct StepGroups {
    groups: Vec<Group>,
}

impl StepGroups {
    /// Makes the groups for one step, with `limits` set, where [`Places::get`] found room.
    pub fn create(limits: &Limits) -> Result<StepGroups, String> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let places = Places::get();
        let mut out = StepGroups::default();
        for c in [Controller::Pids, Controller::Memory] {
            let Some(place) = places.of(c) else { continue };
            let existing = out
                .groups
                .iter()
                .position(|g| g.dir.parent() == Some(place.parent.as_path()));
            let i = match existing {
                Some(i) => i,
                None => {
                    let dir = place.parent.join(format!(
                        "whittle-{}-{}",
                        std::process::id(),
                        SEQ.fetch_add(1, Ordering::Relaxed)
                    ));
                    std::fs::create_dir(&dir)
                        .map_err(|e| format!("making the cgroup {}: {e}", dir.display()))?;
                    let procs = std::fs::OpenOptions::new()
                        .write(true)
                        .open(dir.join("cgroup.procs"));
                    let procs = match procs {
                        Ok(f) => f,
                        Err(e) => {
                            let _ = std::fs::remove_dir(&dir);
                            return Err(format!("opening {}/cgroup.procs: {e}", dir.display()));
                        }
                    };
                    out.groups.push(Group {
                        dir,
                        version: place.version,
                        pids: false,
                        memory: false,
                        procs,
                    });
                    out.groups.len() - 1
                }
            };
            let Some(g) = out.groups.get_mut(i) else {
                continue;
            };
            match c {
                Controller::Pids => {
                    write(&g.dir, "pids.max", &limits.processes.to_string())?;
                    g.pids = true;
                }
                Controller::Memory => {
                    let m = limits.memory.to_string();
                    match g.version {
                        Version::V2 => {
                            write(&g.dir, "memory.max", &m)?;
                            if g.dir.join("memory.swap.max").exists() {
                                write(&g.dir, "memory.swap.max", "0")?;
                            }
                        }
                        Version::V1 => {
                            write(&g.dir, "memory.limit_in_bytes", &m)?;
                            if g.dir.join("memory.memsw.limit_in_bytes").exists() {
                                write(&g.dir, "memory.memsw.limit_in_bytes", &m)?;
                            }
                        }
                    }
                    g.memory = true;
                }
            }
        }
        Ok(out)
    }

    /// Whether a group limits the step's processes.
    pub fn limits_processes(&self) -> bool {
        self.groups.iter().any(|g| g.pids)
    }

    /// Whether a group limits the step's memory.
    pub fn limits_memory(&self) -> bool {
        self.groups.iter().any(|g| g.memory)
    }

    /// The `cgroup.procs` files the step's first process writes `0` to, to join.
    pub fn join_fds(&self) -> Vec<RawFd> {
        self.groups.iter().map(|g| g.procs.as_raw_fd()).collect()
    }

    /// Whether a fork failed because the step reached its process limit.
    pub fn processes_reached(&self) -> bool {
        self.groups
            .iter()
            .filter(|g| g.pids)
            .any(|g| counter(&g.dir.join("pids.events"), "max") > 0)
    }

    /// Whether the kernel killed a process of the step for going over its memory limit.
    pub fn out_of_memory(&self) -> bool {
        self.groups
            .iter()
            .filter(|g| g.memory)
            .any(|g| match g.version {
                Version::V2 => counter(&g.dir.join("memory.events"), "oom_kill") > 0,
                Version::V1 => counter(&g.dir.join("memory.oom_control"), "oom_kill") > 0,
            })
    }

    /// Kills every process left in the groups.
    pub fn kill_all(&self) {
        for g in &self.groups {
            if g.version == Version::V2 && write(&g.dir, "cgroup.kill", "1").is_ok() {
                continue;
            }
            for _ in 0..50 {
                let pids = std::fs::read_to_string(g.dir.join("cgroup.procs")).unwrap_or_default();
                let pids: Vec<i32> = pids.lines().filter_map(|l| l.trim().parse().ok()).collect();
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    // SAFETY: kill(2) has no memory-safety preconditions.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

impl Drop for StepGroups {
    fn drop(&mut self) {
        self.kill_all();
        for g in &self.groups {
            // the last processes may still be exiting
            for _ in 0..200 {
                if std::fs::remove_dir(&g.dir).is_ok() || !g.dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    std::fs::write(dir.join(file), value)
        .map_err(|e| format!("setting {}/{file} to {value}: {e}", dir.display()))
}

/// The value of `key` in a `key value` lines file (0 when absent).
fn counter(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 /sub /mnt/with\\040space rw - cgroup2 cgroup2 rw
";

    #[test]
    fn mounts_and_own_paths_are_read() {
        let m = mounts(MOUNTINFO);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(m[0].version, Version::V1);
        assert!(m[1].options.iter().any(|o| o == "pids"));
        assert_eq!(m[2].version, Version::V2);
        assert_eq!(m[3].point, Path::new("/mnt/with space"));
        assert_eq!(m[3].root, "/sub");
        let cgroups = "8:pids:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/user.slice\n";
        assert_eq!(
            own_path(cgroups, Some("memory")).as_deref(),
            Some("/process_api/abc")
        );
        assert_eq!(own_path(cgroups, Some("cpuacct")).as_deref(), Some("/x"));
        assert_eq!(own_path(cgroups, None).as_deref(), Some("/user.slice"));
        assert_eq!(own_path(cgroups, Some("blkio")), None);
    }

    #[test]
    fn counters_are_read_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("memory.oom_control");
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n").unwrap();
        assert_eq!(counter(&f, "oom_kill"), 3);
        assert_eq!(counter(&f, "max"), 0);
        assert_eq!(counter(&dir.path().join("absent"), "max"), 0);
    }
}
