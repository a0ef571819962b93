//! What the scheduler knows of a node and of a task to place.

use std::collections::HashMap;

/// A node as the scheduler sees it, with its running tasks counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeInfo {
    pub id: String,
    /// Status Ready (heartbeating).
    pub ready: bool,
    /// Availability Active (Pause and Drain take no new tasks).
    pub active: bool,
    /// Executors the node offers ("process", "docker").
    pub runtimes: Vec<String>,
    /// Active tasks on the node per service id.
    pub tasks_by_service: HashMap<String, usize>,
    /// Active tasks on the node in all.
    pub total_tasks: usize,
}

impl NodeInfo {
    /// Counts a task placed on this node.
    pub fn add_task(&mut self, service_id: &str) {
        *self.tasks_by_service.entry(service_id.to_string()).or_default() += 1;
        self.total_tasks += 1;
    }

    fn service_tasks(&self, service_id: &str) -> usize {
        self.tasks_by_service.get(service_id).copied().unwrap_or(0)
    }

    /// Ranking key: lower is better. Ties go to the lower node id, so a
    /// pass is deterministic.
    pub(crate) fn rank<'a>(&'a self, service_id: &str) -> (usize, usize, &'a str) {
        (self.service_tasks(service_id), self.total_tasks, &self.id)
    }
}

/// A task waiting for a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRequest {
    pub id: String,
    pub service_id: String,
    /// Executor the task needs.
    pub runtime: String,
}
