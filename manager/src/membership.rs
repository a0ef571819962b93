//! Raft membership: a joining manager asks the leader to add it, first
//! as a learner (it catches up on the log), then as a voter.

use std::collections::BTreeSet;

use openraft::{BasicNode, ChangeMembers};
use shoal_proto::membership_client::MembershipClient;
use shoal_proto::membership_server::Membership;
use shoal_proto::transport::{MANAGER_NAME, auth};
use shoal_proto::{AddManagerRequest, AddManagerResponse, ManagerStatus};
use tonic::{Request, Response, Status};

use crate::manager::Manager;

pub struct MembershipService {
    manager: Manager,
}

impl MembershipService {
    pub fn new(manager: Manager) -> MembershipService {
        MembershipService { manager }
    }
}

#[tonic::async_trait]
impl Membership for MembershipService {
    async fn add_manager(&self, req: Request<AddManagerRequest>) -> Result<Response<AddManagerResponse>, Status> {
        let caller =
            auth::caller(&req).cloned().ok_or_else(|| Status::unauthenticated("a manager certificate is required"))?;
        let req = req.into_inner();
        if let Some((_, channel)) = self.manager.leader_channel(MANAGER_NAME)? {
            // The leader sees this manager as the caller: only forward a
            // node's request for itself.
            if req.node_id != caller.node_id {
                return Err(Status::permission_denied(format!(
                    "node {} cannot add node {} as a manager",
                    caller.node_id, req.node_id
                )));
            }
            return MembershipClient::new(channel).add_manager(req).await;
        }
        let raft = self.manager.raft();
        let fail = |what: &str, e: &dyn std::fmt::Display| Status::unavailable(format!("{what}: {e}"));
        raft.add_learner(req.raft_id, BasicNode::new(&req.addr), true)
            .await
            .map_err(|e| fail("adding the manager as a learner", &e))?;
        raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([req.raft_id])), false)
            .await
            .map_err(|e| fail("making the manager a voter", &e))?;
        // Record it on its node, for `node ls` and the workers' manager list.
        // It answered raft as a learner and was made a voter: reachable.
        let reachable = shoal_proto::Reachability::Reachable as i32;
        let status =
            ManagerStatus { raft_id: req.raft_id, addr: req.addr, reachability: reachable, ..Default::default() };
        self.manager
            .update_node(&req.node_id, |node| {
                node.manager_status = Some(status.clone());
                node.role = shoal_proto::NodeRole::Manager as i32;
            })
            .await
            .map_err(|e| fail("recording the manager", &e))?;
        Ok(Response::new(AddManagerResponse {}))
    }
}
