//! Raft membership: a manager node asks the leader to add it, first as a
//! learner (it catches up on the log), then as a voter.
//!
//! A bad voter wedges the cluster for good (every write then waits for a
//! member that never answers), so nothing of the request is taken on
//! trust: only the leader adds, and only the calling node itself (its
//! certificate names it), at the address the store records for it, when
//! the store wants it as a manager, with a raft id no other member holds.
//! It becomes a voter only once it has answered as a learner and caught
//! up; a learner that does not is taken out again.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers};
use shoal_proto::membership_server::Membership;
use shoal_proto::transport::{Identity, auth};
use shoal_proto::{AddManagerRequest, AddManagerResponse, ManagerStatus, NodeRole};
use tonic::{Request, Response, Status};
use tracing::{info, warn};

use crate::keys::Keyring;
use crate::leadership::Leadership;
use crate::proposer::Proposer;
use crate::raft::Raft;
use crate::store::{MemoryStore, Store};

/// How long a new learner may take to catch up before it is taken out.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct MembershipService {
    store: Store,
    proposer: Proposer,
    leadership: Leadership,
    keys: Keyring,
}

impl MembershipService {
    pub fn new(store: Store, proposer: Proposer, leadership: Leadership, keys: Keyring) -> MembershipService {
        MembershipService { store, proposer, leadership, keys }
    }

    /// The answer to a manager added (or already there): the data key
    /// every manager holds.
    fn added(&self) -> Result<Response<AddManagerResponse>, Status> {
        let key = self.keys.key().map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(AddManagerResponse { data_key: key.as_bytes().to_vec() }))
    }
}

#[tonic::async_trait]
impl Membership for MembershipService {
    async fn add_manager(&self, req: Request<AddManagerRequest>) -> Result<Response<AddManagerResponse>, Status> {
        let caller =
            auth::caller(&req).cloned().ok_or_else(|| Status::unauthenticated("a manager certificate is required"))?;
        let req = req.into_inner();
        // Only the leader can check the request against what it commits,
        // and see the caller as itself: no forwarding.
        self.leadership.require_leading()?;
        let raft = self.leadership.raft();
        let members = members(raft);
        let already = self.store.view(|s| check(s, &members, &caller, &req))?;
        if already {
            return self.added();
        }
        add(raft, req.raft_id, &req.addr).await?;
        // Record it on its node, for `node ls` and the workers' manager list.
        // It answered raft as a learner and was made a voter: reachable.
        let reachable = shoal_proto::Reachability::Reachable as i32;
        let status =
            ManagerStatus { raft_id: req.raft_id, addr: req.addr, reachability: reachable, ..Default::default() };
        self.proposer
            .update_node(&req.node_id, |node| {
                node.manager_status = Some(status.clone());
                node.role = NodeRole::Manager as i32;
            })
            .await
            .map_err(|e| Status::unavailable(format!("recording the manager: {e}")))?;
        info!(node = %req.node_id, raft_id = req.raft_id, "manager added to raft");
        self.added()
    }
}

/// The raft members now: id and address of every voter and learner.
fn members(raft: &Raft) -> Vec<(u64, String, bool)> {
    let metrics = raft.metrics();
    let m = metrics.borrow();
    let membership = m.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    membership.nodes().map(|(id, node)| (*id, node.addr.clone(), voters.contains(id))).collect()
}

/// Checks a request against the store and the raft members; `Ok(true)`
/// when the node is a voter already (a retried request).
fn check(
    store: &MemoryStore,
    members: &[(u64, String, bool)],
    caller: &Identity,
    req: &AddManagerRequest,
) -> Result<bool, Status> {
    if req.node_id != caller.node_id {
        return Err(Status::permission_denied(format!(
            "node {} cannot add node {:?} as a manager: a node adds only itself",
            caller.node_id, req.node_id
        )));
    }
    if req.raft_id == 0 {
        return Err(Status::invalid_argument("raft_id: expected a non-zero raft id, got 0"));
    }
    if req.addr.parse::<SocketAddr>().is_err() {
        return Err(Status::invalid_argument(format!("addr: expected IP:PORT, got {:?}", req.addr)));
    }
    let node = store
        .node(&req.node_id)
        .filter(|_| !store.is_removed(&req.node_id))
        .ok_or_else(|| Status::permission_denied(format!("node {} is not part of this cluster", req.node_id)))?;
    if node.spec.as_ref().is_none_or(|s| s.desired_role() != NodeRole::Manager) {
        return Err(Status::permission_denied(format!(
            "node {} is not a manager of this cluster: promote it first",
            req.node_id
        )));
    }
    let recorded = node.status.as_ref().map(|s| s.addr.as_str()).unwrap_or_default();
    if recorded != req.addr {
        return Err(Status::permission_denied(format!(
            "addr: node {} is recorded at {recorded:?}, not {:?}",
            req.node_id, req.addr
        )));
    }
    if let Some(status) = node.manager_status.as_ref().filter(|s| s.raft_id != req.raft_id) {
        return Err(Status::failed_precondition(format!(
            "node {} is raft member {} already: demote it (and promote it again) to give it a new raft id",
            req.node_id, status.raft_id
        )));
    }
    if let Some(other) = store
        .nodes()
        .find(|n| n.id != req.node_id && n.manager_status.as_ref().is_some_and(|s| s.raft_id == req.raft_id))
    {
        return Err(Status::invalid_argument(format!("raft_id: {} belongs to node {}", req.raft_id, other.id)));
    }
    match members.iter().find(|(id, ..)| *id == req.raft_id) {
        Some((_, addr, _)) if *addr != req.addr => Err(Status::invalid_argument(format!(
            "raft_id: {} is the raft member at {addr}, not at {}",
            req.raft_id, req.addr
        ))),
        Some((_, _, voter)) => Ok(*voter && node.manager_status.is_some()),
        None => Ok(false),
    }
}

/// Adds `id` at `addr` as a learner, waits until it has caught up, then
/// makes it a voter; a learner that does not catch up is removed.
async fn add(raft: &Raft, id: u64, addr: &str) -> Result<(), Status> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Status::unavailable(format!("{what}: {e}"));
    let added = raft
        .add_learner(id, BasicNode::new(addr), false)
        .await
        .map_err(|e| fail("adding the manager as a learner", &e))?;
    let wait = raft.wait(Some(CATCH_UP_TIMEOUT));
    let caught_up = wait
        .metrics(
            |m| {
                let matched = m.replication.as_ref().and_then(|r| r.get(&id)).cloned().flatten();
                matched.is_some_and(|log| log.index >= added.log_id.index)
            },
            "the new manager caught up",
        )
        .await;
    if let Err(e) = caught_up {
        warn!(raft_id = id, addr, "the new manager did not catch up: removing it");
        let remove = ChangeMembers::RemoveNodes(BTreeSet::from([id]));
        if let Err(err) = raft.change_membership(remove, false).await {
            warn!(raft_id = id, %err, "removing a learner that did not catch up");
        }
        return Err(fail(&format!("the manager at {addr} did not answer raft as a learner"), &e));
    }
    raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
        .await
        .map_err(|e| fail("making the manager a voter", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests;
