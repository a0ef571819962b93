//! What the scheduler knows of a node: its description, its state and an
//! aggregate of the tasks it runs, kept up to date as a pass places tasks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

/// CPU (nano CPUs, 10^9 = one core) and memory (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    pub nano_cpus: i64,
    pub memory_bytes: i64,
}

impl Resources {
    /// Whether `want` fits in what is left of `self` after `used`.
    pub fn fits(&self, used: &Resources, want: &Resources) -> bool {
        // A node that reports no size (0) takes no reservation at all.
        let fits = |total: i64, used: i64, want: i64| want <= 0 || used.saturating_add(want) <= total;
        fits(self.nano_cpus, used.nano_cpus, want.nano_cpus)
            && fits(self.memory_bytes, used.memory_bytes, want.memory_bytes)
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Resources) {
        self.nano_cpus = self.nano_cpus.saturating_add(other.nano_cpus.max(0));
        self.memory_bytes = self.memory_bytes.saturating_add(other.memory_bytes.max(0));
    }
}

/// A node's role in the cluster (`node.role`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Role {
    #[default]
    Worker,
    Manager,
}

/// A published port bound on the node itself (host-mode publishing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// "tcp" is false, "udp" is true.
    pub udp: bool,
    pub port: u32,
}

/// A node as the scheduler sees it, with its active tasks counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    pub role: Role,
    /// The address the node advertises (`node.ip`).
    pub ip: Option<IpAddr>,
    /// `node.platform.os` and `node.platform.arch` ("linux", "x86_64").
    pub os: String,
    pub arch: String,
    /// Labels set by the operator (`node.labels.KEY`).
    pub labels: BTreeMap<String, String>,
    /// Labels the node's daemon reports (`engine.labels.KEY`).
    pub engine_labels: BTreeMap<String, String>,
    /// Status Ready (heartbeating).
    pub ready: bool,
    /// Availability Active (Pause and Drain take no new tasks).
    pub active: bool,
    /// Executors the node offers ("process", "docker").
    pub runtimes: Vec<String>,
    /// Resource limits the node enforces ("cpu", "memory", "pids").
    pub limits: Vec<String>,
    /// What the node has in all.
    pub capacity: Resources,
    /// What its active tasks reserve.
    pub reserved: Resources,
    /// Host-mode published ports its active tasks bind.
    pub host_ports: HashSet<HostPort>,
    /// Active tasks on the node per service id.
    pub tasks_by_service: HashMap<String, usize>,
    /// Active tasks on the node in all.
    pub total_tasks: usize,
    /// Failures per (service id, spec version) on this node in the last
    /// few minutes (the manager counts them; the scheduler has no clock).
    /// Per spec version, as swarmkit: a new version starts with a clean
    /// slate everywhere.
    pub recent_failures: HashMap<(String, u64), usize>,
}

/// Failures of a service on a node that make the scheduler avoid the node.
pub const MAX_RECENT_FAILURES: usize = 5;

impl NodeInfo {
    /// Counts an active task on this node: its service, its reservation and
    /// the host ports it binds.
    pub fn add_task(&mut self, service_id: &str, reservation: &Resources, ports: &[HostPort]) {
        match self.tasks_by_service.get_mut(service_id) {
            Some(n) => *n += 1,
            None => {
                self.tasks_by_service.insert(service_id.to_string(), 1);
            }
        }
        self.total_tasks += 1;
        self.reserved.add(reservation);
        self.host_ports.extend(ports.iter().copied());
    }

    /// Active tasks of `service_id` here.
    pub fn service_tasks(&self, service_id: &str) -> usize {
        self.tasks_by_service.get(service_id).copied().unwrap_or(0)
    }

    /// Ranking key, lower is better: a node where the service failed
    /// [`MAX_RECENT_FAILURES`] times lately goes after every other (the more
    /// failures the later), then fewer tasks of the service, then fewer
    /// tasks in all. Ties are broken by the caller (node id order).
    pub(crate) fn rank(&self, service_id: &str, spec_version: u64) -> (usize, usize, usize) {
        let failures = self.recent_failures.get(&(service_id.to_string(), spec_version)).copied().unwrap_or(0);
        let failing = if failures >= MAX_RECENT_FAILURES { failures } else { 0 };
        (failing, self.service_tasks(service_id), self.total_tasks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_fit_what_is_left() {
        let total = Resources { nano_cpus: 2_000_000_000, memory_bytes: 1 << 30 };
        let used = Resources { nano_cpus: 1_500_000_000, memory_bytes: 0 };
        assert!(total.fits(&used, &Resources { nano_cpus: 500_000_000, memory_bytes: 1 << 30 }));
        assert!(!total.fits(&used, &Resources { nano_cpus: 600_000_000, memory_bytes: 0 }));
        assert!(!total.fits(&used, &Resources { nano_cpus: 0, memory_bytes: (1 << 30) + 1 }));
        assert!(total.fits(&used, &Resources::default()), "no reservation always fits");
    }

    #[test]
    fn recent_failures_rank_a_node_last() {
        let mut a = NodeInfo { id: "a".into(), ..Default::default() };
        let mut b = NodeInfo { id: "b".into(), ..Default::default() };
        a.recent_failures.insert(("web".into(), 1), MAX_RECENT_FAILURES);
        b.add_task("web", &Resources::default(), &[]);
        b.add_task("web", &Resources::default(), &[]);
        assert!(b.rank("web", 1) < a.rank("web", 1), "five failures outweigh any task count");
        assert!(a.rank("web", 2) < b.rank("web", 2), "but not for the next spec version");
        a.recent_failures.insert(("web".into(), 1), MAX_RECENT_FAILURES - 1);
        assert!(a.rank("web", 1) < b.rank("web", 1), "four failures do not");
    }
}
