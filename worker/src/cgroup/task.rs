//! One task's cgroup: made with its limits, entered by the shim to start
//! the task (so the task is inside from its first instruction), killed
//! whole when the task ends or stops, read for OOM kills, removed with
//! the task.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::limits::Setting;
use super::mounts::{dir_of, memberships};
use super::{CgroupError, Controller, Hierarchy, Limits, Version};

/// How long killing a task's processes may take before it is an error.
pub const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the freezer may take to stop every process.
const FREEZE_TIMEOUT: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(5);

/// A task's cgroup: a directory in each hierarchy the node uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCgroup {
    version: Version,
    places: Vec<Place>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Place {
    hierarchy: Hierarchy,
    dir: PathBuf,
}

impl Place {
    fn has(&self, c: Controller) -> bool {
        self.hierarchy.controllers.contains(&c)
    }

    fn write(&self, setting: &Setting) -> Result<(), CgroupError> {
        let path = self.dir.join(setting.file);
        match super::write(&path, &setting.value) {
            Err(e) if setting.optional && e.kind() == ErrorKind::NotFound => Ok(()),
            other => other.map_err(CgroupError::io("writing", path)),
        }
    }
}

impl TaskCgroup {
    /// The cgroup at `relative` (under each hierarchy's mount).
    pub(super) fn new(version: Version, hierarchies: &[Hierarchy], relative: &str) -> TaskCgroup {
        let places = hierarchies.iter().map(|h| Place { hierarchy: h.clone(), dir: h.mount.join(relative) }).collect();
        TaskCgroup { version, places }
    }

    /// Its directories, one per hierarchy.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.places.iter().map(|p| p.dir.as_path())
    }

    /// Makes the cgroup (or takes it again, for a task started anew) and
    /// sets its limits, the pids limit one higher for the shim (see
    /// [`TaskCgroup::limit_pids`]).
    pub fn create(&self, limits: &Limits) -> Result<(), CgroupError> {
        for place in &self.places {
            fs::create_dir_all(&place.dir).map_err(CgroupError::io("creating", &place.dir))?;
            for c in &place.hierarchy.controllers {
                for setting in limits.settings(self.version, *c) {
                    place.write(&setting)?;
                }
            }
        }
        Ok(())
    }

    /// Sets the pids limit exactly, once the shim has left.
    pub fn limit_pids(&self, limits: &Limits) -> Result<(), CgroupError> {
        self.places.iter().filter(|p| p.has(Controller::Pids)).try_for_each(|p| p.write(&limits.pids_setting()))
    }

    /// Moves this process into the cgroup; returns the cgroups it leaves,
    /// for [`TaskCgroup::leave`].
    pub fn enter(&self) -> Result<Vec<PathBuf>, CgroupError> {
        let text = fs::read_to_string("/proc/self/cgroup").map_err(CgroupError::io("reading", "/proc/self/cgroup"))?;
        let own = memberships(&text);
        let mut origins = Vec::with_capacity(self.places.len());
        for place in &self.places {
            let name = place.hierarchy.controllers.first().map(|c| c.name());
            let line = own.iter().find(|m| match name {
                Some(name) if self.version == Version::V1 => m.controllers.iter().any(|c| c == name),
                _ => m.controllers.is_empty(),
            });
            let origin = line.and_then(|m| dir_of(&place.hierarchy.mount, &place.hierarchy.root, &m.path));
            origins.push(origin.ok_or(CgroupError::OwnCgroup(name.unwrap_or("cgroup v2")))?);
        }
        let me = std::process::id().to_string();
        for (i, place) in self.places.iter().enumerate() {
            let procs = place.dir.join("cgroup.procs");
            if let Err(e) = super::write(&procs, &me) {
                let _ = move_to(&origins[..i], &me);
                return Err(CgroupError::Io { what: "entering", path: procs, source: e });
            }
        }
        Ok(origins)
    }

    /// Moves this process back to `origins` (from [`TaskCgroup::enter`]).
    pub fn leave(&self, origins: &[PathBuf]) -> Result<(), CgroupError> {
        move_to(origins, &std::process::id().to_string())
    }

    /// The processes in the cgroup.
    pub fn procs(&self) -> Vec<i32> {
        let Some(place) = self.places.first() else { return Vec::new() };
        let text = fs::read_to_string(place.dir.join("cgroup.procs")).unwrap_or_default();
        let me = std::process::id() as i32;
        text.lines().filter_map(|l| l.trim().parse().ok()).filter(|pid| *pid != me).collect()
    }

    /// SIGKILLs every process in the cgroup once, frozen meanwhile so
    /// that none forks between the listing and the signal.
    pub fn kill(&self) {
        if self.version == Version::V2 && self.write_core("cgroup.kill", "1") {
            return;
        }
        let frozen = self.freeze(true);
        for pid in self.procs() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if frozen {
            self.freeze(false);
        }
    }

    /// Kills every process in the cgroup and waits until it is empty.
    pub fn kill_all(&self, timeout: Duration) -> Result<(), CgroupError> {
        let deadline = Instant::now() + timeout;
        let mut next_kill = Instant::now();
        while !self.procs().is_empty() {
            if Instant::now() > deadline {
                return Err(CgroupError::NotEmpty(self.places[0].dir.clone()));
            }
            if Instant::now() >= next_kill {
                self.kill();
                next_kill = Instant::now() + Duration::from_millis(50);
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// How many processes of the task the kernel killed for lack of
    /// memory. Kernels before 4.13 do not count them on v1: there, the
    /// limit having been hit counts as one.
    pub fn oom_kills(&self) -> u64 {
        let Some(place) = self.places.iter().find(|p| p.has(Controller::Memory)) else { return 0 };
        let read = |file: &str| fs::read_to_string(place.dir.join(file)).unwrap_or_default();
        let field = |text: &str, key: &str| {
            text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse::<u64>().ok())
        };
        match self.version {
            Version::V2 => field(&read("memory.events"), "oom_kill").unwrap_or(0),
            Version::V1 => field(&read("memory.oom_control"), "oom_kill")
                .unwrap_or_else(|| u64::from(read("memory.failcnt").trim().parse::<u64>().is_ok_and(|n| n > 0))),
        }
    }

    /// Kills what is left in the cgroup and deletes it.
    pub fn remove(&self) -> Result<(), CgroupError> {
        if self.places.iter().all(|p| !p.dir.exists()) {
            return Ok(());
        }
        self.kill_all(KILL_TIMEOUT)?;
        for place in &self.places {
            // A process just killed may take a moment to leave.
            let deadline = Instant::now() + Duration::from_secs(1);
            loop {
                match fs::remove_dir(&place.dir) {
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(nix::libc::EBUSY) => {
                        std::thread::sleep(POLL);
                    }
                    other => {
                        other.map_err(CgroupError::io("removing", &place.dir))?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes a v2 core file of the cgroup (`cgroup.kill`,
    /// `cgroup.freeze`); false if the kernel has none.
    fn write_core(&self, file: &str, value: &str) -> bool {
        self.places.first().is_some_and(|p| super::write(&p.dir.join(file), value).is_ok())
    }

    /// Freezes (or thaws) the cgroup; whether it could.
    fn freeze(&self, frozen: bool) -> bool {
        let (file, value, done): (PathBuf, &str, Box<dyn Fn() -> bool>) = match self.version {
            Version::V2 => {
                let Some(place) = self.places.first() else { return false };
                let events = place.dir.join("cgroup.events");
                let want = if frozen { "frozen 1" } else { "frozen 0" };
                let done = move || fs::read_to_string(&events).is_ok_and(|t| t.lines().any(|l| l == want));
                (place.dir.join("cgroup.freeze"), if frozen { "1" } else { "0" }, Box::new(done))
            }
            Version::V1 => {
                let Some(place) = self.places.iter().find(|p| p.has(Controller::Freezer)) else { return false };
                let state = place.dir.join("freezer.state");
                let want = if frozen { "FROZEN" } else { "THAWED" };
                let check = state.clone();
                let done = move || fs::read_to_string(&check).is_ok_and(|t| t.trim() == want);
                (state, want, Box::new(done))
            }
        };
        if super::write(&file, value).is_err() {
            return false;
        }
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        while !done() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        true
    }
}

/// Writes `pid` into the `cgroup.procs` of each of `dirs`.
fn move_to(dirs: &[PathBuf], pid: &str) -> Result<(), CgroupError> {
    for dir in dirs {
        let procs = dir.join("cgroup.procs");
        super::write(&procs, pid).map_err(CgroupError::io("moving back to", procs))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_oom_kills_on_both_versions() {
        let tmp = tempfile::tempdir().unwrap();
        let h = Hierarchy { mount: tmp.path().into(), root: "/".into(), controllers: vec![Controller::Memory] };
        let cg = |version| TaskCgroup::new(version, std::slice::from_ref(&h), "shoal/t1");
        let dir = tmp.path().join("shoal/t1");
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(cg(Version::V1).oom_kills(), 0, "nothing to read");
        fs::write(dir.join("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(cg(Version::V1).oom_kills(), 2);
        fs::write(dir.join("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\n").unwrap();
        fs::write(dir.join("memory.failcnt"), "17\n").unwrap();
        assert_eq!(cg(Version::V1).oom_kills(), 1, "an older kernel: the limit was hit");
        fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n").unwrap();
        assert_eq!(cg(Version::V2).oom_kills(), 1);
    }

    #[test]
    fn limits_are_written_where_the_controllers_are() {
        let tmp = tempfile::tempdir().unwrap();
        let h = |name: &str, c: Controller| Hierarchy {
            mount: tmp.path().join(name),
            root: "/".into(),
            controllers: vec![c],
        };
        let cg = TaskCgroup::new(Version::V1, &[h("cpu", Controller::Cpu), h("pids", Controller::Pids)], "shoal/t1");
        let limits = Limits { nano_cpus: 500_000_000, memory_bytes: 0, pids: 20 };
        // cgroupfs has the files; here they are made first.
        let dir = |name: &str| tmp.path().join(name).join("shoal/t1");
        for (name, file) in [("cpu", "cpu.cfs_period_us"), ("cpu", "cpu.cfs_quota_us"), ("pids", "pids.max")] {
            fs::create_dir_all(dir(name)).unwrap();
            fs::write(dir(name).join(file), "").unwrap();
        }
        cg.create(&limits).unwrap();
        let read = |path: &str| fs::read_to_string(tmp.path().join(path)).unwrap();
        assert_eq!(read("cpu/shoal/t1/cpu.cfs_quota_us"), "50000");
        assert_eq!(read("pids/shoal/t1/pids.max"), "21", "the shim counts while it starts the task");
        cg.limit_pids(&limits).unwrap();
        assert_eq!(read("pids/shoal/t1/pids.max"), "20");
        assert!(cg.procs().is_empty());
    }
}
