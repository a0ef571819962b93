//! A node takes new tasks only when Ready and Active.

use super::{Filter, count_nodes};
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct ReadyFilter;

impl Filter for ReadyFilter {
    fn check(&self, _group: &TaskGroup, node: &NodeInfo) -> bool {
        node.ready && node.active
    }

    fn explain(&self, _group: &TaskGroup, nodes: usize) -> String {
        format!("{} not available for new tasks", count_nodes(nodes))
    }
}
