//! A task that sets resource limits runs only on a node that enforces
//! them (a node without cgroup access runs tasks without limits).

use super::{Filter, count_nodes};
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct LimitsFilter;

impl Filter for LimitsFilter {
    fn applies(&self, group: &TaskGroup) -> bool {
        !group.requirements.limits.is_empty()
    }

    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool {
        group.requirements.limits.iter().all(|l| node.limits.contains(l))
    }

    fn explain(&self, group: &TaskGroup, nodes: usize) -> String {
        let limits = group.requirements.limits.join(", ");
        format!("resource limits ({limits}) not enforceable on {}", count_nodes(nodes))
    }
}
