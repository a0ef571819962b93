//! A node runs only tasks whose executor it offers.

use super::{Filter, count_nodes};
use crate::node::{NodeInfo, TaskRequest};

pub(crate) struct RuntimeFilter;

impl Filter for RuntimeFilter {
    fn check(&self, task: &TaskRequest, node: &NodeInfo) -> bool {
        node.runtimes.iter().any(|r| r == &task.runtime)
    }

    fn explain(&self, task: &TaskRequest, nodes: usize) -> String {
        format!("runtime {:?} not available on {}", task.runtime, count_nodes(nodes))
    }
}
