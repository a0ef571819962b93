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
use shoal_proto::{GetRootCaRequest, IssueCertificateRequest, JoinRequest, JoinResponse};
use tonic::Status;
use tracing::info;

use super::admin::internal;
use super::state::{self, Membership};
use super::{Daemon, certs};

/// Port of a manager address given without one.
const DEFAULT_PORT: u16 = 4242;

fn unavailable(what: &str, addr: &str, status: Status) -> Status {
    Status::unavailable(format!("{what} at {addr}: {}", status.message()))
}

impl Daemon {
    pub(super) async fn join(self: &Arc<Self>, req: JoinRequest) -> Result<JoinResponse, Status> {
        let parsed = token::parse(&req.token)
            .ok_or_else(|| Status::invalid_argument("--token: expected a join token like SHOAL-1-<digest>-<secret>"))?;
        let remote = if req.remote_addr.contains(':') {
            req.remote_addr.clone()
        } else {
            format!("{}:{DEFAULT_PORT}", req.remote_addr)
        };
        let listen_addr = self.listen_on(&req.listen_addr).await?;
        let addr = self.advertise(&req.advertise_addr)?;

        // 1. Pin the CA.
        let channel = transport::bootstrap_channel(&remote).map_err(|e| internal("connecting", e))?;
        let ca = NodeCaClient::new(channel)
            .get_root_ca(GetRootCaRequest {})
            .await
            .map_err(|s| unavailable("cannot reach a manager", &remote, s))?
            .into_inner()
            .cert;
        if token::digest(&ca) != parsed.digest {
            return Err(Status::permission_denied(format!(
                "the manager at {remote} belongs to another cluster (its CA does not match the token's digest): check the token and the address"
            )));
        }

        // 2. Get a certificate.
        let (csr, key) = request().map_err(|e| internal("making a certificate request", e))?;
        let pinned = transport::pinned_channel(&remote, &ca, MANAGER_NAME).map_err(|e| internal("connecting", e))?;
        let issued = NodeCaClient::new(pinned)
            .issue_certificate(IssueCertificateRequest {
                token: req.token.clone(),
                csr,
                hostname: self.hostname.clone(),
                addr: addr.clone(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::PermissionDenied | tonic::Code::InvalidArgument => s,
                _ => unavailable("the manager refused the join", &remote, s),
            })?
            .into_inner();
        let credentials =
            Credentials::new(issued.ca_cert, issued.cert, key).map_err(|e| internal("the issued certificate", e))?;
        certs::save_credentials(&certs::node_dir(&self.data_dir), &credentials)
            .map_err(|e| internal("saving the certificate", e))?;
        let manager = credentials.identity().role == Role::Manager;
        let managers = if issued.managers.is_empty() { vec![remote.clone()] } else { issued.managers };
        let membership = Membership {
            node_id: issued.node_id.clone(),
            cluster_id: issued.cluster_id,
            raft_id: if manager { state::new_raft_id() } else { 0 },
            manager,
            addr: addr.clone(),
            managers,
            listen_addr: Some(listen_addr),
        };

        // 3. Run.
        if manager {
            let m = Manager::start(self.manager_config(&membership, credentials.clone(), RaftState::New))
                .await
                .map_err(|e| internal("starting the manager", e))?;
            self.start_member(membership.clone(), Some(m), credentials.clone())
                .await
                .map_err(|e| internal("starting the node", e))?;
            super::role::add_manager(&credentials, &membership.managers, &membership)
                .await
                .map_err(|e| Status::unavailable(format!("{e:#}")))?;
        } else {
            self.start_member(membership.clone(), None, credentials)
                .await
                .map_err(|e| internal("starting the node", e))?;
        }
        state::save(&self.data_dir, &membership).map_err(|e| internal("saving the membership", e))?;
        info!(node = %membership.node_id, manager, "joined the cluster");
        Ok(JoinResponse { node_id: membership.node_id, manager })
    }
}
