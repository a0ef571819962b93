//! The node-local admin API (unix socket only): `node init`, `node join`,
//! `node leave`, and what this daemon is. Each request is decided by the
//! node's [`State`](crate::state::State), under the lock that serialises
//! the lifecycle's changes.

use std::sync::Arc;

use shoal_manager::Manager;
use shoal_proto::NodeRole;
use shoal_proto::node_admin_server::NodeAdmin;
use shoal_proto::{
    InfoRequest, InfoResponse, InitRequest, InitResponse, JoinRequest, JoinResponse, LeaveRequest, LeaveResponse,
    UnlockRequest, UnlockResponse,
};
use tonic::{Request, Response, Status};

use crate::addr::{default_advertise, parse_advertise, parse_listen};
use crate::daemon::{Daemon, Listen};
use crate::state::{self, Refusal, Step};
use crate::{Causes, certs};

pub struct Admin {
    daemon: Arc<Daemon>,
}

impl Admin {
    pub fn new(daemon: Arc<Daemon>) -> Admin {
        Admin { daemon }
    }
}

/// The cluster's worker join token, as `node init` prints it.
pub(crate) fn worker_token(manager: &Manager) -> String {
    manager.store().view(|s| s.join_tokens().map(|t| t.worker.clone()).unwrap_or_default())
}

/// A failed step of a request, with its causes.
pub(crate) fn internal(what: &str, e: impl std::error::Error + 'static) -> Status {
    Status::internal(format!("{what}: {}", Causes(&e)))
}

impl From<Refusal> for Status {
    fn from(refusal: Refusal) -> Status {
        Status::failed_precondition(refusal.to_string())
    }
}

/// A step the request did not ask for (the state rules are wrong).
fn unexpected(step: Step) -> Status {
    Status::internal(format!("the node decided on an unexpected step: {step:?}"))
}

impl Daemon {
    /// What the node does about `request` now.
    pub(crate) fn decide(&self, request: state::Request) -> Result<Step, Refusal> {
        let raft_dir = self.data_dir.join("raft");
        self.state().decide(request, raft_dir.exists().then_some(raft_dir.as_path()))
    }

    /// The address to advertise: `requested` if given, else the daemon's.
    pub(crate) fn advertise(&self, requested: &str) -> Result<String, Status> {
        let listen = self.listen.lock().clone();
        match requested {
            "" => Ok(listen.advertise),
            a => parse_advertise(a, listen.addr.port())
                .map_err(|e| Status::invalid_argument(format!("--advertise-addr: {e}"))),
        }
    }

    /// Moves the endpoint to `requested` (`--listen-addr` of init or join),
    /// if given; returns where it listens.
    pub(crate) async fn listen_on(&self, requested: &str) -> Result<String, Status> {
        if !requested.is_empty() {
            let addr = parse_listen(requested).map_err(|e| Status::invalid_argument(format!("--listen-addr: {e}")))?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Status::invalid_argument(format!("--listen-addr: cannot listen on {addr}: {e}")))?;
            let local = listener.local_addr().map_err(|e| internal("--listen-addr", e))?;
            *self.listener.lock() = Some(listener);
            *self.listen.lock() = Listen { addr: local, advertise: default_advertise(local) };
        }
        Ok(self.listen.lock().addr.to_string())
    }
}

#[tonic::async_trait]
impl NodeAdmin for Admin {
    async fn init(&self, req: Request<InitRequest>) -> Result<Response<InitResponse>, Status> {
        let req = req.into_inner();
        let daemon = &self.daemon;
        let _changing = daemon.changing.lock().await;
        match daemon.decide(state::Request::Init { force_new_cluster: req.force_new_cluster })? {
            Step::ForceNewCluster => daemon.force_new_cluster().await,
            Step::Init => daemon.init(req).await,
            step => Err(unexpected(step)),
        }
        .map(Response::new)
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        let daemon = &self.daemon;
        let _changing = daemon.changing.lock().await;
        // A member whose certificate expired re-joins, keeping its identity.
        let certificate_expired = certs::load(&certs::node_dir(&daemon.data_dir)).is_ok_and(|c| certs::expired(&c));
        match daemon.decide(state::Request::Join { certificate_expired })? {
            Step::Rejoin(membership) => daemon.rejoin(req.into_inner(), membership).await,
            Step::Join => daemon.join(req.into_inner()).await,
            step => Err(unexpected(step)),
        }
        .map(Response::new)
    }

    async fn leave(&self, req: Request<LeaveRequest>) -> Result<Response<LeaveResponse>, Status> {
        let daemon = &self.daemon;
        let _changing = daemon.changing.lock().await;
        let managers = daemon
            .manager
            .borrow()
            .as_ref()
            .map_or(1, |m| m.store().view(|s| s.nodes().filter(|n| n.role() == NodeRole::Manager).count()));
        match daemon.decide(state::Request::Leave { force: req.into_inner().force, managers })? {
            Step::Leave(membership) => daemon.leave(membership).await,
            step => Err(unexpected(step)),
        }
        .map(|()| Response::new(LeaveResponse {}))
    }

    async fn unlock(&self, req: Request<UnlockRequest>) -> Result<Response<UnlockResponse>, Status> {
        let daemon = &self.daemon;
        let _changing = daemon.changing.lock().await;
        if !daemon.is_locked() {
            return Err(Status::failed_precondition("this node is not locked"));
        }
        daemon.unlock(&req.into_inner().key).await.map(|()| Response::new(UnlockResponse {}))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let daemon = &self.daemon;
        Ok(Response::new(match daemon.membership() {
            Some(m) => InfoResponse {
                node_id: m.node_id,
                cluster_id: m.cluster_id,
                manager: m.manager,
                hostname: daemon.hostname.clone(),
                addr: m.addr,
                locked: daemon.is_locked(),
            },
            None => {
                let addr = daemon.listen.lock().advertise.clone();
                InfoResponse { hostname: daemon.hostname.clone(), addr, ..Default::default() }
            }
        }))
    }
}
