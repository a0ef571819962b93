//! Each task in a cgroup of its own, through the cgroup filesystem
//! (v1 or v2, whichever the node mounts): its resource limits enforced
//! (`--limit-cpu`, `--limit-memory`, `--limit-pids`), every process it
//! starts killed when it stops (even those that left its process group
//! with `setsid`), and its OOM kills counted.
//!
//! The node's layout is detected once per process ([`Cgroups::node`]):
//! on v2 one hierarchy with the cpu, memory and pids controllers; on v1
//! one hierarchy per controller. Task cgroups live under a `shoal` parent
//! at the root of each hierarchy (as Docker's `/docker`), named after the
//! task id, so a restarted worker finds them again. A node that cannot
//! use cgroups (not root, a read-only cgroupfs) runs tasks without them
//! and says so in its description ([`Cgroups::support`]); the scheduler
//! then keeps tasks with limits off it.

mod detect;
mod limits;
mod mounts;
mod task;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use shoal_proto::LimitSupport;

pub use limits::Limits;
pub use task::{KILL_TIMEOUT, TaskCgroup};

/// The parent of every task cgroup, at the root of each hierarchy.
const PARENT: &str = "shoal";

/// Set in the daemon's environment, it makes the node use no cgroups (as
/// one without access to them): for tests.
pub const NO_CGROUPS_ENV: &str = "SHOAL_TEST_NO_CGROUPS";

/// Why a cgroup could not be set up, used or cleaned.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("processes of the task still run in {} after they were killed", .0.display())]
    NotEmpty(PathBuf),
    #[error("cannot find the cgroup this process runs in for {0}")]
    OwnCgroup(&'static str),
    #[error("task id {0:?} cannot name a cgroup")]
    BadTaskId(String),
}

/// Writes a cgroup file, which must exist (cgroupfs makes no files).
fn write(path: &std::path::Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(path)?;
    file.write_all(value.as_bytes())
}

impl CgroupError {
    fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CgroupError {
        let path = path.into();
        move |source| CgroupError::Io { what, path, source }
    }
}

/// The cgroup interface in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// The controllers shoal uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    Cpu,
    Memory,
    Pids,
    /// v1 only (v2 freezes and kills through core files): stops a task's
    /// processes from forking while they are killed.
    Freezer,
}

impl Controller {
    pub const ALL: [Controller; 4] = [Controller::Cpu, Controller::Memory, Controller::Pids, Controller::Freezer];

    /// The kernel's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
        }
    }

    /// The limit it enforces (`shoal_proto::limits`), if any.
    pub fn limit(self) -> Option<&'static str> {
        match self {
            Controller::Cpu => Some(shoal_proto::limits::CPU),
            Controller::Memory => Some(shoal_proto::limits::MEMORY),
            Controller::Pids => Some(shoal_proto::limits::PIDS),
            Controller::Freezer => None,
        }
    }
}

/// One hierarchy a task cgroup has a directory in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// The path of the mount's root inside the hierarchy ("/" unless a
    /// sub-tree is mounted), to find this process's own cgroup.
    pub root: String,
    /// The controllers of ours it holds (on v1 usually one).
    pub controllers: Vec<Controller>,
}

/// The node's cgroups: the hierarchies usable for task cgroups, and what
/// the node can enforce with them.
#[derive(Debug, Clone, PartialEq)]
pub struct Cgroups {
    /// `None`: no cgroup is usable.
    version: Option<Version>,
    hierarchies: Vec<Hierarchy>,
    /// Why a limit is not enforced (empty when all are).
    message: String,
}

impl Cgroups {
    /// This node's cgroups, detected (and the `shoal` parents made) on
    /// the first call of the process.
    pub fn node() -> Arc<Cgroups> {
        static NODE: OnceLock<Arc<Cgroups>> = OnceLock::new();
        NODE.get_or_init(|| {
            Arc::new(if std::env::var_os(NO_CGROUPS_ENV).is_some() {
                Cgroups::none(format!("cgroups turned off ({NO_CGROUPS_ENV})"))
            } else {
                detect::detect()
            })
        })
        .clone()
    }

    /// No cgroups: tasks run without limits, for `message`.
    pub fn none(message: impl Into<String>) -> Cgroups {
        Cgroups { version: None, hierarchies: Vec::new(), message: message.into() }
    }

    /// The limits enforced, in the order cpu, memory, pids.
    pub fn enforced(&self) -> Vec<&'static str> {
        let mut controllers: Vec<Controller> =
            self.hierarchies.iter().flat_map(|h| h.controllers.iter().copied()).collect();
        controllers.sort();
        controllers.iter().filter_map(|c| c.limit()).collect()
    }

    /// What the node reports of its limits.
    pub fn support(&self) -> LimitSupport {
        LimitSupport {
            cgroup: self.version.map_or("", Version::name).to_string(),
            enforced: self.enforced().into_iter().map(String::from).collect(),
            message: self.message.clone(),
        }
    }

    /// Of `required` (limit names), those this node cannot enforce, with
    /// the reason; `None` when it enforces them all.
    pub fn refuses(&self, required: &[String]) -> Option<String> {
        let enforced = self.enforced();
        let missing: Vec<&str> = required.iter().map(String::as_str).filter(|r| !enforced.contains(r)).collect();
        if missing.is_empty() {
            return None;
        }
        Some(format!("{} limit not enforceable on this node: {}", missing.join(", "), self.message))
    }

    /// The cgroup of task `task_id` (made by [`TaskCgroup::create`]), or
    /// `None` when the node uses none.
    pub fn for_task(&self, task_id: &str) -> Result<Option<TaskCgroup>, CgroupError> {
        let Some(version) = self.version else { return Ok(None) };
        let valid = !task_id.is_empty() && task_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(CgroupError::BadTaskId(task_id.to_string()));
        }
        Ok(Some(TaskCgroup::new(version, &self.hierarchies, &format!("{PARENT}/{task_id}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1() -> Cgroups {
        let h = |c: Controller| Hierarchy {
            mount: format!("/sys/fs/cgroup/{}", c.name()).into(),
            root: "/".into(),
            controllers: vec![c],
        };
        Cgroups {
            version: Some(Version::V1),
            hierarchies: vec![h(Controller::Freezer), h(Controller::Memory), h(Controller::Cpu)],
            message: "pids: no such controller".into(),
        }
    }

    #[test]
    fn reports_what_it_enforces_and_why_not_the_rest() {
        let support = v1().support();
        assert_eq!(support.cgroup, "v1");
        assert_eq!(support.enforced, ["cpu", "memory"]);
        assert_eq!(v1().refuses(&["memory".into()]), None);
        assert_eq!(
            v1().refuses(&["memory".into(), "pids".into()]).unwrap(),
            "pids limit not enforceable on this node: pids: no such controller"
        );
        let none = Cgroups::none("permission denied");
        assert_eq!(
            none.support(),
            LimitSupport { cgroup: "".into(), enforced: vec![], message: "permission denied".into() }
        );
        assert!(none.for_task("t1").unwrap().is_none());
    }

    #[test]
    fn task_cgroups_are_named_after_the_task() {
        let cg = v1().for_task("abc123").unwrap().unwrap();
        let dirs: Vec<_> = cg.dirs().map(|d| d.to_path_buf()).collect();
        assert_eq!(
            dirs,
            [
                PathBuf::from("/sys/fs/cgroup/freezer/shoal/abc123"),
                "/sys/fs/cgroup/memory/shoal/abc123".into(),
                "/sys/fs/cgroup/cpu/shoal/abc123".into()
            ]
        );
        assert!(matches!(v1().for_task("../etc"), Err(CgroupError::BadTaskId(_))));
        assert!(matches!(v1().for_task(""), Err(CgroupError::BadTaskId(_))));
    }
}
