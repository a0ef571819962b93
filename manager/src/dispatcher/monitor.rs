//! The node monitor (leader only): a node whose worker misses its
//! heartbeats for the grace period is marked Down and its session ended.

use std::time::Instant;

use shoal_proto::{NodeState, NodeStatus};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Dispatcher, GRACE_PERIODS};
use crate::ops;

/// Runs until `stop`; then ends every session, as they belong to this
/// leadership.
pub async fn run(dispatcher: Dispatcher, stop: CancellationToken) {
    let started = Instant::now();
    loop {
        let period = dispatcher.period();
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(period / 4) => {}
        }
        let grace = period * GRACE_PERIODS;
        let inner = &dispatcher.inner;
        // (node, its stale session if any, its status)
        let silent: Vec<(String, Option<String>, NodeStatus)> = {
            let sessions = inner.sessions.lock();
            inner.store.view(|s| {
                s.nodes()
                    .filter(|n| n.status.as_ref().is_some_and(|st| st.state() == NodeState::Ready))
                    .filter(|n| match sessions.get(&n.id) {
                        Some(session) => session.last_seen.elapsed() > grace,
                        // A new leader gives workers time to find it.
                        None => started.elapsed() > grace * 2,
                    })
                    .map(|n| {
                        (n.id.clone(), sessions.get(&n.id).map(|s| s.id.clone()), n.status.clone().unwrap_or_default())
                    })
                    .collect()
            })
        };
        if silent.is_empty() {
            continue;
        }
        let mut ops = Vec::new();
        for (node_id, stale, mut status) in silent {
            info!(node = %node_id, "no heartbeat within {grace:?}: node is down");
            crate::metrics::METRICS.heartbeats_missed.inc();
            let mut sessions = inner.sessions.lock();
            // A session opened since the check stays.
            if sessions.get(&node_id).is_some_and(|s| Some(&s.id) == stale.as_ref())
                && let Some(session) = sessions.remove(&node_id)
            {
                session.stop.cancel();
            }
            drop(sessions);
            status.state = NodeState::Down as i32;
            status.message = "heartbeat failure".into();
            ops.push(ops::node_status(&node_id, status, None));
        }
        if let Err(err) = inner.proposer.propose(ops).await {
            warn!(%err, "marking nodes down failed");
        }
    }
    dispatcher.drop_sessions();
}
