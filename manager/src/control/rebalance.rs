//! `service rebalance`: marks the tasks of a replicated service to move
//! ([`moves`]); the rolling updater then replaces them (with
//! the service's update config) and the scheduler places each replacement
//! where it would place a task now, on the emptier nodes.

use shoal_proto::{RebalanceServiceRequest, RebalanceServiceResponse, service_spec::Mode, store_object::Object};

use super::{ControlError, Result, resolve};
use crate::ops;
use crate::orchestrator::rebalance::moves;
use crate::orchestrator::update;
use crate::proposer::Proposer;
use crate::store::Store;

/// Marks the tasks to move and lets the updater move them.
pub async fn rebalance(
    store: &Store,
    proposer: &Proposer,
    req: RebalanceServiceRequest,
) -> Result<RebalanceServiceResponse> {
    let (mut service, moves) = store.view(|s| {
        let service = resolve::service(s, &req.reference)?.clone();
        let name = service.name().to_string();
        if !matches!(service.spec.as_ref().and_then(|s| s.mode.as_ref()), Some(Mode::Replicated(_))) {
            return Err(ControlError::Refused(format!(
                "service {name} is not replicated: only a replicated service's tasks are spread over the nodes"
            )));
        }
        if update::state(&service).is_paused() {
            return Err(ControlError::Refused(format!(
                "service {name}'s update is paused: update or roll it back first"
            )));
        }
        let moves = moves(s, &service, req.max_moves as usize);
        Ok((service, moves))
    })?;
    // A balanced service also forgets what an earlier rebalance marked.
    if moves != service.rebalance {
        service.rebalance = moves.clone();
        proposer.propose(vec![ops::update(Object::Service(service.clone()))]).await?;
    }
    let service = store.view(|s| s.service(&service.id).cloned());
    Ok(RebalanceServiceResponse { service, moves })
}
