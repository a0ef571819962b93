//! A port published in host mode can be bound by one task per node.

use super::{Filter, count_nodes};
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct HostPortFilter;

impl Filter for HostPortFilter {
    fn applies(&self, group: &TaskGroup) -> bool {
        !group.requirements.host_ports.is_empty()
    }

    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool {
        group.requirements.host_ports.iter().all(|p| !node.host_ports.contains(p))
    }

    fn explain(&self, _group: &TaskGroup, nodes: usize) -> String {
        format!("host-mode port already in use on {}", count_nodes(nodes))
    }

    fn dynamic(&self) -> bool {
        true
    }
}
