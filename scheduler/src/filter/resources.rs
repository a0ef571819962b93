//! The node must have the CPU and memory the task reserves left over
//! after what its other tasks reserve.

use super::{Filter, count_nodes};
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct ResourceFilter;

impl Filter for ResourceFilter {
    fn applies(&self, group: &TaskGroup) -> bool {
        let r = &group.requirements.reservations;
        r.nano_cpus > 0 || r.memory_bytes > 0
    }

    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool {
        node.capacity.fits(&node.reserved, &group.requirements.reservations)
    }

    fn explain(&self, _group: &TaskGroup, nodes: usize) -> String {
        format!("insufficient resources on {}", count_nodes(nodes))
    }

    fn dynamic(&self) -> bool {
        true
    }
}
