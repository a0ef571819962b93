//! `node join`: a standalone daemon becomes a worker or a manager of an
//! existing cluster.
//!
//! 1. Fetch the root CA certificate from the given manager (without
//!    trusting it yet) and check it against the digest in the token.
//! 2. Over a connection verified against that CA, send the token and a
//!    certificate request; receive this node's certificate (the private
//!    key never leaves the node).
//! 3. Start the worker (and, for a manager token, a raft node that the
//!    leader adds as a learner, then as a voter).

use std::sync::Arc;

use shoal_manager::Manager;
use shoal_manager::ca::{request, token};
use shoal_manager::raft::RaftState;
use shoal_proto::node_ca_client::NodeCaClient;
use shoal_proto::transport::{self, Credentials, MANAGER_NAME, Role};
use shoal_proto::{GetRootCaRequest, IssueCertificateRequest, IssueCertificateResponse, JoinRequest, JoinResponse};
use tonic::Status;
use tracing::info;

use crate::admin::internal;
use crate::daemon::Daemon;
use crate::membership::{self, Membership};
use crate::{Causes, certs, role};

/// Port of a manager address given without one.
const DEFAULT_PORT: u16 = 4242;

fn unavailable(what: &str, addr: &str, status: Status) -> Status {
    Status::unavailable(format!("{what} at {addr}: {}", status.message()))
}

/// The manager address of `node join`, port 4242 unless given.
fn remote(addr: &str) -> String {
    if addr.contains(':') { addr.to_string() } else { format!("{addr}:{DEFAULT_PORT}") }
}

/// Step 1: the cluster's CA certificate from `remote`, checked against
/// the token's digest.
async fn pin_ca(remote: &str, digest: &str) -> Result<Vec<u8>, Status> {
    let channel = transport::bootstrap_channel(remote).map_err(|e| internal("connecting", e))?;
    let ca = NodeCaClient::new(channel)
        .get_root_ca(GetRootCaRequest {})
        .await
        .map_err(|s| unavailable("cannot reach a manager", remote, s))?
        .into_inner()
        .cert;
    if token::digest(&ca) != digest {
        return Err(Status::permission_denied(format!(
            "the manager at {remote} belongs to another cluster (its CA does not match the token's digest): check the token and the address"
        )));
    }
    Ok(ca)
}

/// Step 2: a certificate for the request, over a connection pinned to `ca`.
async fn issue(remote: &str, ca: &[u8], request: IssueCertificateRequest) -> Result<IssueCertificateResponse, Status> {
    let pinned = transport::pinned_channel(remote, ca, MANAGER_NAME).map_err(|e| internal("connecting", e))?;
    let issued = NodeCaClient::new(pinned).issue_certificate(request).await.map_err(|s| match s.code() {
        tonic::Code::PermissionDenied | tonic::Code::InvalidArgument => s,
        _ => unavailable("the manager refused the join", remote, s),
    })?;
    Ok(issued.into_inner())
}

/// Steps 1 and 2 for a new node: the cluster's CA pinned by `join_token`,
/// then this node's certificate (a fresh key that never leaves the
/// caller) for `hostname` advertising `addr`. Also what the node
/// simulator (`benches/simulator`) joins its nodes with.
pub async fn certificate(
    remote: &str,
    join_token: &str,
    hostname: &str,
    addr: &str,
) -> Result<(Credentials, IssueCertificateResponse), Status> {
    let parsed = parse_token(join_token)?;
    let ca = pin_ca(remote, parsed.digest).await?;
    let (csr, key) = request().map_err(|e| internal("making a certificate request", e))?;
    let request = IssueCertificateRequest {
        token: join_token.to_string(),
        csr,
        hostname: hostname.to_string(),
        addr: addr.to_string(),
        expired_certificate: Vec::new(),
    };
    let mut issued = issue(remote, &ca, request).await?;
    let credentials = Credentials::new(std::mem::take(&mut issued.ca_cert), std::mem::take(&mut issued.cert), key)
        .map_err(|e| internal("the issued certificate", e))?;
    Ok((credentials, issued))
}

fn parse_token(token: &str) -> Result<token::Token<'_>, Status> {
    token::parse(token)
        .ok_or_else(|| Status::invalid_argument("--token: expected a join token like SHOAL-1-<digest>-<secret>"))
}

impl Daemon {
    pub(crate) async fn join(self: &Arc<Self>, req: JoinRequest) -> Result<JoinResponse, Status> {
        // A bad token is refused before anything is bound.
        parse_token(&req.token)?;
        let remote = remote(&req.remote_addr);
        let listen_addr = self.listen_on(&req.listen_addr).await?;
        let addr = self.advertise(&req.advertise_addr)?;

        // 1 and 2: pin the CA, get a certificate.
        let (credentials, issued) = certificate(&remote, &req.token, &self.hostname, &addr).await?;
        certs::save_credentials(&certs::node_dir(&self.data_dir), &credentials)
            .map_err(|e| internal("saving the certificate", e))?;
        let manager = credentials.identity().role == Role::Manager;
        let managers = if issued.managers.is_empty() { vec![remote.clone()] } else { issued.managers };
        let membership = Membership {
            node_id: issued.node_id.clone(),
            cluster_id: issued.cluster_id,
            raft_id: if manager { membership::new_raft_id() } else { 0 },
            manager,
            addr: addr.clone(),
            managers,
            listen_addr: Some(listen_addr),
        };

        // 3. Run.
        if manager {
            let config = self
                .manager_config(&membership, credentials.clone(), RaftState::New)
                .map_err(|e| internal("starting the manager", e))?;
            let m = Manager::start(config).await.map_err(|e| internal("starting the manager", e))?;
            let keys = m.keys().clone();
            self.start_member(membership.clone(), Some(m), credentials.clone())
                .await
                .map_err(|e| internal("starting the node", e))?;
            role::add_manager(&credentials, &membership.managers, &membership, &self.data_dir, &keys, None)
                .await
                .map_err(|e| Status::unavailable(Causes(&e).to_string()))?;
        } else {
            self.start_member(membership.clone(), None, credentials)
                .await
                .map_err(|e| internal("starting the node", e))?;
        }
        membership::save(&self.data_dir, &membership).map_err(|e| internal("saving the membership", e))?;
        info!(node = %membership.node_id, manager, "joined the cluster");
        Ok(JoinResponse { node_id: membership.node_id, manager })
    }
}

impl Daemon {
    /// `node join` on a member whose certificate expired while it was
    /// down: it keeps its identity (node id, raft id, tasks) and gets a
    /// new certificate for the key it holds (see `shoal_manager::ca::rejoin`).
    pub(crate) async fn rejoin(
        self: &Arc<Self>,
        req: JoinRequest,
        membership: Membership,
    ) -> Result<JoinResponse, Status> {
        let parsed = parse_token(&req.token)?;
        if !req.advertise_addr.is_empty() || !req.listen_addr.is_empty() {
            return Err(Status::invalid_argument(
                "--advertise-addr, --listen-addr: a re-join keeps the node's addresses (leave and join to change them)",
            ));
        }
        let remote = remote(&req.remote_addr);
        let ca = pin_ca(&remote, parsed.digest).await?;
        let current = certs::load(&certs::node_dir(&self.data_dir))
            .map_err(|e| internal("loading this node's certificate", e))?;
        if current.ca() != ca {
            return Err(Status::permission_denied(format!(
                "the manager at {remote} is not of this node's cluster: it is still a member of cluster {}",
                membership.cluster_id
            )));
        }
        let csr = shoal_manager::ca::request_for(&current.key_der())
            .map_err(|e| internal("making a certificate request", e))?;
        let request = IssueCertificateRequest {
            token: req.token.clone(),
            csr,
            hostname: self.hostname.clone(),
            addr: membership.addr.clone(),
            expired_certificate: current.cert(),
        };
        let issued = issue(&remote, &ca, request).await?;
        let renewed = Credentials::new(issued.ca_cert, issued.cert, current.key_der())
            .map_err(|e| internal("the issued certificate", e))?;
        certs::save_credentials(&certs::node_dir(&self.data_dir), &renewed)
            .map_err(|e| internal("saving the certificate", e))?;
        self.stop_member().await.map_err(|e| internal("stopping the node", e))?;
        self.restart_member(membership.clone(), None, renewed).await.map_err(|e| internal("starting the node", e))?;
        info!(node = %membership.node_id, "re-joined the cluster with a new certificate");
        Ok(JoinResponse { node_id: membership.node_id, manager: membership.manager })
    }
}
