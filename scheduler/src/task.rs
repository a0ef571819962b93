//! Tasks to place, grouped by what they need: every task of a group has
//! the same requirements (one service at one spec version), so a pass
//! filters the nodes once per group, not once per task.

use crate::constraint::Constraint;
use crate::node::{HostPort, Resources};
use crate::preference::Spread;

/// What a node must offer to run a task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requirements {
    /// Executor the task needs ("process", "docker").
    pub runtime: String,
    /// All must hold.
    pub constraints: Vec<Constraint>,
    /// Spread over these label values, outermost first.
    pub preferences: Vec<Spread>,
    /// CPU and memory the task reserves on its node.
    pub reservations: Resources,
    /// (os, arch) pairs the task runs on; empty: any. An empty os or arch
    /// in a pair matches any.
    pub platforms: Vec<(String, String)>,
    /// Ports the task publishes in host mode.
    pub host_ports: Vec<HostPort>,
    /// Most active tasks of the service on one node; 0: no limit.
    pub max_replicas: u64,
    /// Resource limits the task sets ("cpu", "memory", "pids"): its node
    /// must enforce them.
    pub limits: Vec<String>,
}

/// Tasks of one service with the same requirements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskGroup {
    pub service_id: String,
    /// The service's spec version these tasks run.
    pub spec_version: u64,
    pub requirements: Requirements,
    /// The node these tasks must run on (a global service's task), or
    /// `None` to let the scheduler choose.
    pub node: Option<String>,
    /// Ids of the tasks to place, in order of preference.
    pub tasks: Vec<String>,
}
