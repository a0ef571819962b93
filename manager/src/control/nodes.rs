//! Node reads, with the manager status filled in from raft.

use shoal_proto::{ListNodesResponse, Node, Reachability};

use super::{Result, resolve};
use crate::manager::Manager;

/// Sets `leader` and `reachability` of a manager node from raft.
fn with_raft_status(manager: &Manager, mut node: Node) -> Node {
    let leader = manager.leader_raft_id();
    if let Some(status) = node.manager_status.as_mut() {
        status.leader = leader == Some(status.raft_id);
        let voters: Vec<u64> = manager.raft().metrics().borrow().membership_config.membership().voter_ids().collect();
        status.reachability = if voters.contains(&status.raft_id) && leader.is_some() {
            Reachability::Reachable as i32
        } else {
            Reachability::Unreachable as i32
        };
    }
    node
}

pub fn list(manager: &Manager) -> ListNodesResponse {
    let nodes: Vec<Node> = manager.store().view(|s| s.nodes().cloned().collect());
    ListNodesResponse {
        nodes: nodes.into_iter().map(|n| with_raft_status(manager, n)).collect(),
        self_node_id: manager.node_id().to_string(),
    }
}

pub fn get(manager: &Manager, reference: &str) -> Result<Node> {
    let node = manager.store().view(|s| resolve::node(s, reference).cloned())?;
    Ok(with_raft_status(manager, node))
}
