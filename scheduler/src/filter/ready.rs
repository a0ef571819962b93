//! A node takes new tasks only when Ready and Active.

use super::{Filter, count_nodes};
use crate::node::{NodeInfo, TaskRequest};

pub(crate) struct ReadyFilter;

impl Filter for ReadyFilter {
    fn check(&self, _task: &TaskRequest, node: &NodeInfo) -> bool {
        node.ready && node.active
    }

    fn explain(&self, _task: &TaskRequest, nodes: usize) -> String {
        format!("{} not available for new tasks", count_nodes(nodes))
    }
}
