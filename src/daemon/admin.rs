//! The node-local admin API (unix socket only): `node init`, `node join`,
//! and what this daemon is.

use std::sync::Arc;
use std::time::Duration;

use shoal_manager::ca::{self, DEFAULT_CERT_EXPIRY, MIN_CERT_EXPIRY, RootCa};
use shoal_manager::dispatcher::network_map::DEFAULT_DATA_PATH_PORT;
use shoal_manager::ids::new_id;
use shoal_manager::orchestrator::DEFAULT_TASK_HISTORY_LIMIT;
use shoal_manager::raft::RaftState;
use shoal_manager::{InitOptions, Manager};
use shoal_proto::NodeState;
use shoal_proto::node_admin_server::NodeAdmin;
use shoal_proto::transport::{Credentials, Role};
use shoal_proto::{
    InfoRequest, InfoResponse, InitRequest, InitResponse, JoinRequest, JoinResponse, LeaveRequest, LeaveResponse,
};
use tonic::{Request, Response, Status};
use tracing::info;

use super::addr::{default_advertise, parse_advertise, parse_listen};
use super::state::{self, Membership};
use super::{Daemon, Listen, certs};

pub struct Admin {
    daemon: Arc<Daemon>,
}

impl Admin {
    pub fn new(daemon: Arc<Daemon>) -> Admin {
        Admin { daemon }
    }
}

/// The cluster's worker join token, as `node init` prints it.
pub(super) fn worker_token(manager: &Manager) -> String {
    manager.store().view(|s| s.join_tokens().map(|t| t.worker.clone()).unwrap_or_default())
}

pub(super) fn internal(what: &str, e: impl std::fmt::Display) -> Status {
    // `{:#}`: an anyhow error with its causes, other errors as they are.
    Status::internal(format!("{what}: {e:#}"))
}

impl Daemon {
    /// Refuses to init or join when this node is in a cluster already, or
    /// holds the raft state of one it left.
    pub(super) fn check_standalone(&self) -> Result<(), Status> {
        if self.membership.lock().is_some() {
            return Err(Status::failed_precondition(
                "this node is already part of a cluster: run \"shoal node leave\" first",
            ));
        }
        let raft_dir = self.data_dir.join("raft");
        if raft_dir.exists() {
            return Err(Status::failed_precondition(format!(
                "{} holds the raft state of an earlier cluster this node left: remove it first",
                raft_dir.display()
            )));
        }
        Ok(())
    }

    /// The address to advertise: `requested` if given, else the daemon's.
    pub(super) fn advertise(&self, requested: &str) -> Result<String, Status> {
        let listen = self.listen.lock().clone();
        match requested {
            "" => Ok(listen.advertise),
            a => parse_advertise(a, listen.addr.port())
                .map_err(|e| Status::invalid_argument(format!("--advertise-addr: {e}"))),
        }
    }

    /// Moves the endpoint to `requested` (`--listen-addr` of init or join),
    /// if given; returns where it listens.
    pub(super) async fn listen_on(&self, requested: &str) -> Result<String, Status> {
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
        if req.force_new_cluster {
            return daemon.force_new_cluster().await.map(Response::new);
        }
        daemon.check_standalone()?;
        let listen_addr = daemon.listen_on(&req.listen_addr).await?;
        let addr = daemon.advertise(&req.advertise_addr)?;
        let cert_expiry =
            if req.cert_expiry_ns > 0 { Duration::from_nanos(req.cert_expiry_ns as u64) } else { DEFAULT_CERT_EXPIRY };
        if cert_expiry < MIN_CERT_EXPIRY {
            return Err(Status::invalid_argument(format!("--cert-expiry: expected at least {MIN_CERT_EXPIRY:?}")));
        }
        let node_id = new_id();
        let cluster_id = new_id();
        let root_ca = RootCa::generate().map_err(|e| internal("creating the root CA", e))?;
        let own = root_ca
            .issue(&node_id, Role::Manager, &cluster_id, cert_expiry)
            .map_err(|e| internal("issuing this node's certificate", e))?;
        let credentials = Credentials::new(root_ca.cert.clone(), own.cert, own.key)
            .map_err(|e| internal("loading this node's certificate", e))?;
        let admin_id = ca::admin::new_id_for_admin();
        let admin = root_ca
            .issue(&admin_id, Role::Admin, &cluster_id, ca::admin::DEFAULT_EXPIRY)
            .map_err(|e| internal("issuing the admin certificate", e))?;
        let save = |what, r: shoal_node::Result<()>| r.map_err(|e| internal(what, e));
        save(
            "saving this node's certificate",
            certs::save_credentials(&certs::node_dir(&daemon.data_dir), &credentials),
        )?;
        save(
            "saving the admin certificate",
            certs::save(&certs::admin_dir(&daemon.data_dir), &root_ca.cert, &admin.cert, &admin.key),
        )?;

        let membership = Membership {
            node_id: node_id.clone(),
            cluster_id: cluster_id.clone(),
            raft_id: state::new_raft_id(),
            manager: true,
            addr: addr.clone(),
            managers: vec![addr.clone()],
            listen_addr: Some(listen_addr),
        };
        let manager = Manager::start(daemon.manager_config(&membership, credentials.clone(), RaftState::New))
            .await
            .map_err(|e| internal("starting the manager", e))?;
        let options = InitOptions {
            cluster_id: cluster_id.clone(),
            root_ca,
            task_history_limit: req.task_history_limit.unwrap_or(DEFAULT_TASK_HISTORY_LIMIT),
            cert_expiry,
            data_path_port: if req.data_path_port == 0 { DEFAULT_DATA_PATH_PORT } else { req.data_path_port },
            description: shoal_worker::describe(&daemon.hostname, &daemon.engine_labels),
            admin: ca::admin::listed(&admin_id, shoal_proto::now_nanos(), ca::admin::DEFAULT_EXPIRY),
        };
        if let Err(e) = manager.bootstrap(options).await {
            manager.shutdown().await;
            let _ = std::fs::remove_dir_all(daemon.data_dir.join("raft"));
            return Err(internal("creating the cluster", e));
        }
        let worker_token = worker_token(&manager);
        state::save(&daemon.data_dir, &membership).map_err(|e| internal("saving the membership", e))?;
        daemon
            .start_member(membership, Some(manager), credentials)
            .await
            .map_err(|e| internal("starting the node", e))?;
        // Return once this node's worker is in session: `node ls` right
        // after init shows it Ready.
        let manager = daemon.manager.borrow().clone();
        if let Some(manager) = manager {
            let ready = |m: &Manager| {
                m.store().view(|s| {
                    s.node(&node_id).and_then(|n| n.status.as_ref()).is_some_and(|st| st.state() == NodeState::Ready)
                })
            };
            let started = std::time::Instant::now();
            while !ready(&manager) && started.elapsed() < Duration::from_secs(10) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        info!(node = %node_id, cluster = %cluster_id, "cluster initialised");
        Ok(Response::new(InitResponse { node_id, cluster_id, worker_token, addr }))
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        let daemon = &self.daemon;
        let _changing = daemon.changing.lock().await;
        // A member whose certificate expired re-joins, keeping its identity.
        let membership = daemon.membership.lock().clone();
        if let Some(membership) = membership
            && certs::load(&certs::node_dir(&daemon.data_dir)).is_ok_and(|c| certs::expired(&c))
        {
            return daemon.rejoin(req.into_inner(), membership).await.map(Response::new);
        }
        daemon.check_standalone()?;
        daemon.join(req.into_inner()).await.map(Response::new)
    }

    async fn leave(&self, req: Request<LeaveRequest>) -> Result<Response<LeaveResponse>, Status> {
        let daemon = &self.daemon;
        let _changing = daemon.changing.lock().await;
        daemon.leave(req.into_inner()).await.map(|()| Response::new(LeaveResponse {}))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let daemon = &self.daemon;
        let membership = daemon.membership.lock().clone();
        Ok(Response::new(match membership {
            Some(m) => InfoResponse {
                node_id: m.node_id,
                cluster_id: m.cluster_id,
                manager: m.manager,
                hostname: daemon.hostname.clone(),
                addr: m.addr,
            },
            None => {
                let addr = daemon.listen.lock().advertise.clone();
                InfoResponse { hostname: daemon.hostname.clone(), addr, ..Default::default() }
            }
        }))
    }
}
