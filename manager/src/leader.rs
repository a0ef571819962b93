//! Leadership: the loops that must run on one manager only (orchestrator,
//! scheduler, node monitor) start when this manager becomes raft leader
//! and has applied everything committed before its term, and stop when
//! it steps down or loses its quorum (openraft 0.9 keeps an isolated
//! leader leading; its workers should move to the majority's leader).

use std::time::Duration;

use openraft::ServerState;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::dispatcher::monitor;
use crate::manager::Manager;
use crate::orchestrator::Orchestrator;
use crate::scheduler::Scheduler;

/// How often a leader checks that it still has its quorum.
const QUORUM_POLL: Duration = Duration::from_millis(250);

/// Follows raft leadership until `stop`.
pub async fn run(manager: Manager, stop: CancellationToken) {
    let mut metrics = manager.raft().metrics();
    let mut leading: Option<CancellationToken> = None;
    loop {
        let is_leader = metrics.borrow().state == ServerState::Leader && manager.quorum().check().is_ok();
        match (is_leader, &leading) {
            (true, None) => {
                let token = stop.child_token();
                tokio::spawn(lead(manager.clone(), token.clone()));
                leading = Some(token);
            }
            (false, Some(token)) => {
                info!("no longer leader, or no quorum: stopping the leader's loops");
                manager.dispatcher().set_serving(false);
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
    manager.dispatcher().set_serving(false);
    if let Some(token) = leading {
        token.cancel();
    }
}

/// Waits until the store holds every entry committed before this term
/// (a new leader may not have applied them yet), then starts the loops.
async fn lead(manager: Manager, token: CancellationToken) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            result = manager.raft().ensure_linearizable() => match result {
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
    let (store, proposer) = (manager.store().clone(), manager.proposer().clone());
    tokio::spawn(Orchestrator::new(store.clone(), proposer.clone()).run(token.clone()));
    tokio::spawn(Scheduler::new(store, proposer).run(token.clone()));
    tokio::spawn(monitor::run(manager.dispatcher().clone(), token.clone()));
    tokio::spawn(crate::reachability::run(manager.clone(), token.clone()));
    tokio::spawn(crate::roles::run(manager.clone(), token.clone()));
    if !token.is_cancelled() {
        manager.dispatcher().set_serving(true);
    }
}
