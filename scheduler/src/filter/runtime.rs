//! A node runs only tasks whose executor it offers.

use super::{Filter, count_nodes};
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct RuntimeFilter;

impl Filter for RuntimeFilter {
    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool {
        node.runtimes.contains(&group.requirements.runtime)
    }

    fn explain(&self, group: &TaskGroup, nodes: usize) -> String {
        format!("runtime {:?} not available on {}", group.requirements.runtime, count_nodes(nodes))
    }
}
