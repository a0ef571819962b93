//! The role manager (leader only): carries out demotions. A node whose
//! desired role became worker is removed from the raft voters (a leader
//! demoting itself steps down once that is committed, and the next
//! leader finishes the job), then recorded as a worker. The node itself
//! notices the new role through its session and drops its manager half.
//! Promotions need nothing here: the promoted node gets a manager
//! certificate and asks to join raft (see the membership service).

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::ChangeMembers;
use shoal_proto::NodeRole;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::proposer::Proposer;
use crate::raft::Raft;
use crate::store::Store;

/// How often the leader looks for demotions to carry out.
const PERIOD: Duration = Duration::from_millis(250);

/// Runs until `stop`, on the raft of the manager `raft_id`.
pub async fn run(store: Store, proposer: Proposer, raft: Raft, raft_id: u64, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
        let demoted: Vec<(String, u64)> = store.view(|s| {
            s.nodes()
                .filter(|n| n.spec.as_ref().is_some_and(|sp| sp.desired_role() == NodeRole::Worker))
                .filter_map(|n| n.manager_status.as_ref().map(|m| (n.id.clone(), m.raft_id)))
                .collect()
        });
        for (node_id, demoted_id) in demoted {
            if let Err(err) = demote(&proposer, &raft, raft_id, &node_id, demoted_id).await {
                warn!(node = %node_id, %err, "demoting a manager");
            }
        }
    }
}

/// Demotes `node_id` (raft member `raft_id`), as the leader `own_id`.
async fn demote(proposer: &Proposer, raft: &Raft, own_id: u64, node_id: &str, raft_id: u64) -> Result<(), String> {
    let member = {
        let metrics = raft.metrics();
        let m = metrics.borrow();
        m.membership_config.membership().get_node(&raft_id).is_some()
    };
    if member {
        info!(node = %node_id, "demoting: removing the manager from raft");
        let change = ChangeMembers::RemoveVoters(BTreeSet::from([raft_id]));
        raft.change_membership(change, false).await.map_err(|e| e.to_string())?;
        if raft_id == own_id {
            return Ok(()); // this leader steps down; the next one records the worker
        }
    }
    proposer
        .update_node(node_id, |n| {
            n.manager_status = None;
            n.role = NodeRole::Worker as i32;
        })
        .await
        .map_err(|e| e.to_string())?;
    info!(node = %node_id, "demoted to a worker");
    Ok(())
}
