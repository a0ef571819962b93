//! The CA gRPC service on every manager: the root certificate, node
//! certificates for join tokens, renewals, and re-joins of members whose
//! certificate expired ([`rejoin`](super::rejoin)). Writes go to the
//! leader: a follower forwards a join; renewals are answered by the
//! leader alone, which records each certificate's expiry on its node (a
//! follower sends the node there).

use shoal_proto::node_ca_client::NodeCaClient;
use shoal_proto::node_ca_server::NodeCa;
use shoal_proto::transport::{Identity, MANAGER_NAME, Role, auth};
use shoal_proto::{
    GetRootCaRequest, GetRootCaResponse, IssueCertificateRequest, IssueCertificateResponse, Node, NodeAvailability,
    NodeDescription, NodeRole, NodeSpec, NodeStatus, RenewCertificateRequest, now_nanos, store_object::Object,
};
use tonic::{Request, Response, Status};

use super::{RootCa, rejoin, token};
use crate::ids::new_id;
use crate::keys::Keyring;
use crate::leadership::Leadership;
use crate::ops;
use crate::proposer::Proposer;
use crate::standing::{self, Rights};
use crate::store::{MemoryStore, Store};

pub struct CaService {
    store: Store,
    proposer: Proposer,
    leadership: Leadership,
    keys: Keyring,
}

impl CaService {
    pub fn new(store: Store, proposer: Proposer, leadership: Leadership, keys: Keyring) -> CaService {
        CaService { store, proposer, leadership, keys }
    }
}

/// What a CA needs from the store.
struct Authority {
    ca: RootCa,
    cluster_id: String,
    worker_token: String,
    manager_token: String,
    lifetime: std::time::Duration,
}

fn authority(store: &MemoryStore, keys: &Keyring) -> Result<Authority, Status> {
    let cluster = store.cluster().ok_or_else(|| Status::unavailable("the cluster is not initialised"))?;
    let ca = super::root_ca(cluster, keys).map_err(Status::unavailable)?;
    let tokens = cluster.root_ca.as_ref().and_then(|r| r.join_tokens.clone()).unwrap_or_default();
    Ok(Authority {
        ca,
        cluster_id: cluster.id.clone(),
        worker_token: tokens.worker,
        manager_token: tokens.manager,
        lifetime: super::node_cert_lifetime(cluster),
    })
}

/// The role a join token grants, or why it grants none.
fn role_for(authority: &Authority, presented: &str) -> Result<Role, Status> {
    let parsed = token::parse(presented)
        .ok_or_else(|| Status::invalid_argument("malformed join token: expected SHOAL-1-<digest>-<secret>"))?;
    if parsed.digest != authority.ca.digest() {
        return Err(Status::permission_denied("the join token is for another cluster (its CA digest does not match)"));
    }
    if token::same(presented, &authority.worker_token) {
        Ok(Role::Worker)
    } else if token::same(presented, &authority.manager_token) {
        Ok(Role::Manager)
    } else {
        Err(Status::permission_denied("invalid join token: it was rotated, or never issued"))
    }
}

/// The role the store wants for node `node_id` (an admin keeps its
/// own), if the caller still stands in the cluster.
fn wanted_role(store: &MemoryStore, identity: &Identity) -> Result<Role, Status> {
    standing::check(store, identity, Rights::Member).map_err(Status::permission_denied)?;
    if identity.role == Role::Admin {
        return Ok(Role::Admin);
    }
    let node = store
        .node(&identity.node_id)
        .ok_or_else(|| Status::permission_denied(format!("node {} is not part of this cluster", identity.node_id)))?;
    Ok(match node.spec.as_ref().map_or(NodeRole::Worker, |sp| sp.desired_role()) {
        NodeRole::Manager => Role::Manager,
        NodeRole::Worker => Role::Worker,
    })
}

impl CaService {
    /// A new certificate for a member (its renewal, or its re-join after
    /// its certificate expired), recorded with its expiry on its node.
    /// `token_role`: what the re-join's token grants. Only the leader
    /// issues: it records.
    async fn reissue(
        &self,
        identity: Identity,
        csr: &[u8],
        token_role: Option<Role>,
    ) -> Result<IssueCertificateResponse, Status> {
        self.leadership.require_leading()?;
        let (authority, role, managers) = self
            .store
            .view(|s| Ok::<_, Status>((authority(s, &self.keys)?, wanted_role(s, &identity)?, s.manager_addrs())))?;
        if token_role == Some(Role::Worker) && role == Role::Manager {
            return Err(Status::permission_denied(format!(
                "node {} is a manager: re-join it with the manager join token",
                identity.node_id
            )));
        }
        let cert = authority
            .ca
            .sign(csr, &identity.node_id, role, &authority.cluster_id, authority.lifetime)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if role != Role::Admin {
            let expiry = now_nanos().saturating_add(authority.lifetime.as_nanos() as i64);
            self.proposer
                .update_node(&identity.node_id, |n| n.certificate_expiry = expiry)
                .await
                .map_err(|e| Status::unavailable(format!("recording the certificate: {e}")))?;
        }
        Ok(IssueCertificateResponse {
            node_id: identity.node_id,
            role: role.name().into(),
            cert,
            ca_cert: authority.ca.cert,
            cluster_id: authority.cluster_id,
            managers,
        })
    }
}

#[tonic::async_trait]
impl NodeCa for CaService {
    async fn get_root_ca(&self, _: Request<GetRootCaRequest>) -> Result<Response<GetRootCaResponse>, Status> {
        // The certificate only: no need of the data key for it.
        let cert = self.store.view(|s| s.cluster().and_then(|c| c.root_ca.as_ref()).map(|r| r.cert.clone()));
        let cert = cert.ok_or_else(|| Status::unavailable("the cluster is not initialised"))?;
        Ok(Response::new(GetRootCaResponse { cert }))
    }

    async fn issue_certificate(
        &self,
        req: Request<IssueCertificateRequest>,
    ) -> Result<Response<IssueCertificateResponse>, Status> {
        if let Some((_, channel)) = self.leadership.leader_channel(MANAGER_NAME)? {
            return NodeCaClient::new(channel).issue_certificate(req.into_inner()).await;
        }
        let req = req.into_inner();
        let (authority, managers) =
            self.store.view(|s| Ok::<_, Status>((authority(s, &self.keys)?, s.manager_addrs())))?;
        let role = role_for(&authority, &req.token)?;
        if !req.expired_certificate.is_empty() {
            let identity = rejoin::prove(&authority.ca.cert, &req.expired_certificate, &req.csr)
                .map_err(Status::permission_denied)?;
            return self.reissue(identity, &req.csr, Some(role)).await.map(Response::new);
        }
        let node_id = new_id();
        let cert = authority
            .ca
            .sign(&req.csr, &node_id, role, &authority.cluster_id, authority.lifetime)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let node_role = if role == Role::Manager { NodeRole::Manager } else { NodeRole::Worker };
        let node = Node {
            id: node_id.clone(),
            spec: Some(NodeSpec {
                annotations: None,
                desired_role: node_role as i32,
                availability: NodeAvailability::Active as i32,
            }),
            description: Some(NodeDescription { hostname: req.hostname, ..Default::default() }),
            status: Some(NodeStatus { addr: req.addr, ..Default::default() }),
            role: node_role as i32,
            certificate_expiry: now_nanos().saturating_add(authority.lifetime.as_nanos() as i64),
            ..Default::default()
        };
        self.proposer
            .propose(vec![ops::create(Object::Node(node))])
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(IssueCertificateResponse {
            node_id,
            role: role.name().into(),
            cert,
            ca_cert: authority.ca.cert,
            cluster_id: authority.cluster_id,
            managers,
        }))
    }

    async fn renew_certificate(
        &self,
        req: Request<RenewCertificateRequest>,
    ) -> Result<Response<IssueCertificateResponse>, Status> {
        // The role is the one the cluster wants now: a promoted or
        // demoted node renews to get its new role. A removed node or a
        // revoked admin certificate gets nothing.
        let identity = auth::caller(&req)
            .cloned()
            .ok_or_else(|| Status::unauthenticated("renewal needs the node's current certificate"))?;
        self.reissue(identity, &req.into_inner().csr, None).await.map(Response::new)
    }
}
