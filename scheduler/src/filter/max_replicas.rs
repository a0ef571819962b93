//! `--max-replicas N`: at most N active tasks of the service per node.

use super::{Filter, count_nodes};
use crate::node::NodeInfo;
use crate::task::TaskGroup;

pub(crate) struct MaxReplicasFilter;

impl Filter for MaxReplicasFilter {
    fn applies(&self, group: &TaskGroup) -> bool {
        group.requirements.max_replicas > 0
    }

    fn check(&self, group: &TaskGroup, node: &NodeInfo) -> bool {
        (node.service_tasks(&group.service_id) as u64) < group.requirements.max_replicas
    }

    fn explain(&self, group: &TaskGroup, nodes: usize) -> String {
        format!("max replicas per node ({}) reached on {}", group.requirements.max_replicas, count_nodes(nodes))
    }

    fn dynamic(&self) -> bool {
        true
    }
}
