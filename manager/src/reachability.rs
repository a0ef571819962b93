//! Manager reachability (leader only): records in each manager's node
//! whether it answers the leader's raft heartbeats, so that `node ls`
//! shows the same Reachable/Unreachable on every manager.

use std::time::Duration;

use shoal_proto::Reachability;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::proposer::Proposer;
use crate::raft::Quorum;
use crate::store::Store;

/// How often the leader compares what it sees with what the store says.
const PERIOD: Duration = Duration::from_millis(500);

/// Runs until `stop`.
pub async fn run(store: Store, proposer: Proposer, quorum: Quorum, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
        let changed: Vec<(String, Reachability)> = store.view(|s| {
            s.nodes()
                .filter_map(|n| {
                    let status = n.manager_status.as_ref()?;
                    let now = if quorum.reachable(status.raft_id) {
                        Reachability::Reachable
                    } else {
                        Reachability::Unreachable
                    };
                    (status.reachability != now as i32).then(|| (n.id.clone(), now))
                })
                .collect()
        });
        for (node_id, reachability) in changed {
            info!(node = %node_id, ?reachability, "manager reachability changed");
            let update = proposer.update_node(&node_id, |n| {
                if let Some(status) = n.manager_status.as_mut() {
                    status.reachability = reachability as i32;
                }
            });
            if let Err(err) = update.await {
                warn!(%err, "recording manager reachability");
            }
        }
    }
}
