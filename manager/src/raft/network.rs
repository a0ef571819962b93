//! Raft RPCs to other managers over gRPC: openraft's messages, encoded by
//! [`codec`](super::codec), carried in a [`RaftPayload`].

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::{Serialize, de::DeserializeOwned};
use shoal_proto::RaftPayload;
use shoal_proto::raft_client::RaftClient;
use shoal_proto::transport::{self, Credentials};
use tonic::transport::Channel;

use super::codec::{decode, encode};
use super::{Contacts, TypeConfig};

type RpcError<E = openraft::error::Infallible> = RPCError<u64, BasicNode, RaftError<u64, E>>;

/// Makes a [`Peer`] for every manager raft talks to, over mTLS with this
/// manager's certificate.
#[derive(Clone)]
pub struct Network {
    credentials: Credentials,
    contacts: Contacts,
}

impl Network {
    pub fn new(credentials: Credentials, contacts: Contacts) -> Network {
        Network { credentials, contacts }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: node.addr.clone(),
            credentials: self.credentials.clone(),
            contacts: self.contacts.clone(),
            client: None,
        }
    }
}

/// The connection to one other manager, made on first use.
pub struct Peer {
    target: u64,
    addr: String,
    credentials: Credentials,
    contacts: Contacts,
    client: Option<RaftClient<Channel>>,
}

#[derive(Clone, Copy)]
enum Rpc {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl Peer {
    async fn call<Req, Resp, E>(&mut self, rpc: Rpc, req: &Req, option: &RPCOption) -> Result<Resp, RpcError<E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let client = match &mut self.client {
            Some(client) => client,
            None => {
                let channel = transport::channel(&self.addr, &self.credentials, transport::MANAGER_NAME)
                    .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
                self.client.insert(RaftClient::new(channel).max_decoding_message_size(usize::MAX))
            }
        };
        let data = encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftPayload { data });
        request.set_timeout(option.hard_ttl());
        let reply = match rpc {
            Rpc::AppendEntries => client.append_entries(request).await,
            Rpc::Vote => client.vote(request).await,
            Rpc::InstallSnapshot => client.install_snapshot(request).await,
        };
        let reply = reply.map_err(|status| match status.code() {
            tonic::Code::Unavailable => {
                // Refused, or its raft stopped: unreachable from now on
                // (a slow answer only ages out of `Contacts`).
                self.contacts.lost(self.target);
                RPCError::Unreachable(Unreachable::new(&status))
            }
            _ => RPCError::Network(NetworkError::new(&status)),
        })?;
        self.contacts.heard(self.target);
        let result: Result<Resp, RaftError<u64, E>> =
            decode(&reply.into_inner().data).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        req: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RpcError> {
        self.call(Rpc::AppendEntries, &req, &option).await
    }

    async fn install_snapshot(
        &mut self,
        req: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RpcError<InstallSnapshotError>> {
        self.call(Rpc::InstallSnapshot, &req, &option).await
    }

    async fn vote(&mut self, req: VoteRequest<u64>, option: RPCOption) -> Result<VoteResponse<u64>, RpcError> {
        self.call(Rpc::Vote, &req, &option).await
    }
}
