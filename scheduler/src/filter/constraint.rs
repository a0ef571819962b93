//! Every placement constraint of the service must hold on the node.

use super::{Filter, count_nodes};
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct ConstraintFilter;

impl Filter for ConstraintFilter {
    fn applies(&self, group: &TaskGroup) -> bool {
        !group.requirements.constraints.is_empty()
    }

    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool {
        group.requirements.constraints.iter().all(|c| c.matches(node))
    }

    fn explain(&self, _group: &TaskGroup, nodes: usize) -> String {
        format!("scheduling constraints not satisfied on {}", count_nodes(nodes))
    }
}
