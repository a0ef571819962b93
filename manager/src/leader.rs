//! Leadership: the loops that must run on one manager only (orchestrator,
//! scheduler, node monitor) start when this manager becomes raft leader
//! and stop when it steps down.

use openraft::ServerState;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::dispatcher::monitor;
use crate::manager::Manager;
use crate::orchestrator::Orchestrator;
use crate::scheduler::Scheduler;

/// Follows raft leadership until `stop`.
pub async fn run(manager: Manager, stop: CancellationToken) {
    let mut metrics = manager.raft().metrics();
    let mut leading: Option<CancellationToken> = None;
    loop {
        let is_leader = metrics.borrow().state == ServerState::Leader;
        match (is_leader, &leading) {
            (true, None) => {
                info!("became leader: starting the orchestrator, scheduler and node monitor");
                let token = stop.child_token();
                let (store, proposer) = (manager.store().clone(), manager.proposer().clone());
                tokio::spawn(Orchestrator::new(store.clone(), proposer.clone()).run(token.clone()));
                tokio::spawn(Scheduler::new(store, proposer).run(token.clone()));
                tokio::spawn(monitor::run(manager.dispatcher().clone(), token.clone()));
                leading = Some(token);
            }
            (false, Some(token)) => {
                info!("no longer leader: stopping the leader's loops");
                token.cancel();
                leading = None;
            }
            _ => {}
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            changed = metrics.changed() => if changed.is_err() { break },
        }
    }
    if let Some(token) = leading {
        token.cancel();
    }
}
