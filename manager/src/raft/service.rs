//! The gRPC server side of raft: hands other managers' RPCs to openraft.

use openraft::Vote;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::{Serialize, de::DeserializeOwned};
use shoal_proto::raft_server;
use shoal_proto::{LeadingRequest, LeadingResponse, RaftPayload};
use tonic::{Request, Response, Status};

use super::codec::{decode, encode};
use super::{Contacts, Raft, TypeConfig};

/// Serves raft RPCs for the local raft node.
pub struct RaftService {
    raft: Raft,
    contacts: Contacts,
}

impl RaftService {
    /// Notes each leader call in `contacts` (see [`succession`](super::succession)).
    pub fn new(raft: Raft, contacts: Contacts) -> RaftService {
        RaftService { raft, contacts }
    }
}

/// The payload of a request to this manager's raft, refused (as
/// unreachable) once its raft stopped: its answers would say nothing
/// true, and the others must count it out at once.
fn request<T: DeserializeOwned>(raft: &Raft, req: Request<RaftPayload>) -> Result<T, Status> {
    if let Some(cause) = super::quorum::stopped(raft) {
        return Err(Status::unavailable(format!("this manager's raft stopped: {cause}")));
    }
    decode(&req.into_inner().data).map_err(|e| Status::invalid_argument(format!("malformed raft message: {e}")))
}

fn reply<T: Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    let data = encode(value).map_err(|e| Status::internal(format!("encoding raft reply: {e}")))?;
    Ok(Response::new(RaftPayload { data }))
}

#[tonic::async_trait]
impl raft_server::Raft for RaftService {
    async fn append_entries(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let req: AppendEntriesRequest<TypeConfig> = request(&self.raft, req)?;
        self.contacts.leader_called();
        self.heard(&req.vote);
        reply(&self.raft.append_entries(req).await)
    }

    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let req: VoteRequest<u64> = request(&self.raft, req)?;
        self.heard(&req.vote);
        let term = req.vote.leader_id().term;
        let response = self.raft.vote(req).await;
        if let Ok(refused) = &response
            && !refused.vote_granted
        {
            self.contacts.refused_vote(term);
        }
        reply(&response)
    }

    async fn install_snapshot(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let req: InstallSnapshotRequest<TypeConfig> = request(&self.raft, req)?;
        self.heard(&req.vote);
        reply(&self.raft.install_snapshot(req).await)
    }

    async fn leading(&self, _: Request<LeadingRequest>) -> Result<Response<LeadingResponse>, Status> {
        if let Some(cause) = super::quorum::stopped(&self.raft) {
            return Err(Status::unavailable(format!("this manager's raft stopped: {cause}")));
        }
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        Ok(Response::new(LeadingResponse { term: m.current_term, leader: m.current_leader == Some(m.id) }))
    }
}

impl RaftService {
    /// A leader or candidate that calls is reachable, as much as one that
    /// answers (a follower calls no one).
    fn heard(&self, vote: &Vote<u64>) {
        if let Some(caller) = vote.leader_id().voted_for() {
            self.contacts.heard(caller);
        }
    }
}
