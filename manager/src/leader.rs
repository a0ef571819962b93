//! Leadership: the loops that must run on one manager only (orchestrator,
//! scheduler, scheduled jobs, rebalance on join, node monitor) start when
//! this manager becomes raft leader and has applied everything committed
//! before its term, and stop when it steps down or loses its quorum
//! (openraft 0.9 keeps an isolated leader leading; its workers should
//! move to the majority's leader).

use std::time::Duration;

use openraft::ServerState;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::dispatcher::{Dispatcher, fanout, monitor};
use crate::orchestrator::Orchestrator;
use crate::proposer::Proposer;
use crate::raft::Quorum;
use crate::scheduler::Scheduler;
use crate::store::Store;

/// How often a leader checks that it still has its quorum.
const QUORUM_POLL: Duration = Duration::from_millis(250);

/// What the leader's loops work with.
#[derive(Clone)]
pub struct Handles {
    pub store: Store,
    pub proposer: Proposer,
    pub quorum: Quorum,
    /// Serves workers only while this manager leads.
    pub dispatcher: Dispatcher,
    /// This manager's raft id.
    pub raft_id: u64,
}

/// Follows raft leadership until `stop`.
pub async fn run(handles: Handles, stop: CancellationToken) {
    let mut metrics = handles.quorum.raft().metrics();
    let mut leading: Option<CancellationToken> = None;
    // The last leader known: an election (no leader, then one) is one change.
    let mut leader = metrics.borrow().current_leader;
    loop {
        let now = metrics.borrow().current_leader;
        if now.is_some() && now != leader {
            crate::metrics::METRICS.leader_changes.inc();
            leader = now;
        }
        let is_leader = metrics.borrow().state == ServerState::Leader && handles.quorum.check().is_ok();
        match (is_leader, &leading) {
            (true, None) => {
                let token = stop.child_token();
                tokio::spawn(lead(handles.clone(), token.clone()));
                leading = Some(token);
            }
            (false, Some(token)) => {
                info!("no longer leader, or no quorum: stopping the leader's loops");
                handles.dispatcher.set_serving(false);
                token.cancel();
                leading = None;
            }
            _ => {}
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            changed = metrics.changed() => if changed.is_err() { break },
            // A lost quorum changes no metric by itself.
            _ = tokio::time::sleep(QUORUM_POLL) => {}
        }
    }
    handles.dispatcher.set_serving(false);
    if let Some(token) = leading {
        token.cancel();
    }
}

/// Waits until the store holds every entry committed before this term
/// (a new leader may not have applied them yet), then starts the loops.
async fn lead(handles: Handles, token: CancellationToken) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            result = handles.quorum.raft().ensure_linearizable() => match result {
                Ok(_) => break,
                Err(err) => {
                    warn!(%err, "leader not ready yet");
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            },
        }
    }
    info!("leading: starting the orchestrator, scheduler and node monitor");
    let Handles { store, proposer, quorum, dispatcher, raft_id } = handles;
    tokio::spawn(Orchestrator::new(store.clone(), proposer.clone()).run(token.clone()));
    tokio::spawn(Scheduler::new(store.clone(), proposer.clone()).run(token.clone()));
    tokio::spawn(crate::orchestrator::schedule::run(store.clone(), proposer.clone(), token.clone()));
    tokio::spawn(crate::orchestrator::rejoin::run(store.clone(), proposer.clone(), token.clone()));
    tokio::spawn(monitor::run(dispatcher.clone(), token.clone()));
    // Subscribed here, before any session can open.
    tokio::spawn(fanout::run(dispatcher.clone(), store.subscribe(), token.clone()));
    let raft = quorum.raft().clone();
    tokio::spawn(crate::reachability::run(store.clone(), proposer.clone(), quorum, token.clone()));
    tokio::spawn(crate::roles::run(store, proposer, raft, raft_id, token.clone()));
    if !token.is_cancelled() {
        dispatcher.set_serving(true);
    }
}
