//! The node-local admin API (unix socket only): `node init`, and what
//! this daemon is.

use std::sync::Arc;

use shoal_manager::{InitOptions, Manager};
use shoal_proto::node_admin_server::NodeAdmin;
use shoal_proto::{InfoRequest, InfoResponse, InitRequest, InitResponse};
use tonic::{Request, Response, Status};
use tracing::info;

use super::Daemon;
use super::addr::parse_advertise;
use super::state::{self, Membership};

/// Old tasks kept per slot unless `--task-history-limit` says otherwise.
const DEFAULT_TASK_HISTORY_LIMIT: u64 = 5;

pub struct Admin {
    daemon: Arc<Daemon>,
}

impl Admin {
    pub fn new(daemon: Arc<Daemon>) -> Admin {
        Admin { daemon }
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> Status {
    Status::internal(format!("{what}: {e}"))
}

#[tonic::async_trait]
impl NodeAdmin for Admin {
    async fn init(&self, req: Request<InitRequest>) -> Result<Response<InitResponse>, Status> {
        let req = req.into_inner();
        let daemon = &self.daemon;
        let _changing = daemon.changing.lock().await;
        if daemon.membership.lock().is_some() {
            return Err(Status::failed_precondition(
                "this node is already part of a cluster: run \"shoal node leave --force\" first",
            ));
        }
        let raft_dir = daemon.data_dir.join("raft");
        if raft_dir.exists() {
            return Err(Status::failed_precondition(format!(
                "{} holds the raft state of an earlier cluster this node left: remove it to start a new cluster",
                raft_dir.display()
            )));
        }
        let addr = match req.advertise_addr.as_str() {
            "" => daemon.advertise.clone(),
            a => parse_advertise(a, daemon.listen_port)
                .map_err(|e| Status::invalid_argument(format!("--advertise-addr: {e}")))?,
        };
        let membership = Membership {
            node_id: shoal_manager::ids::new_id(),
            cluster_id: String::new(),
            raft_id: rand::random::<u64>().max(1),
            manager: true,
            addr: addr.clone(),
            managers: vec![addr],
        };
        let manager = Manager::start(daemon.manager_config(&membership))
            .await
            .map_err(|e| internal("starting the manager", e))?;
        let options = InitOptions {
            task_history_limit: req.task_history_limit.unwrap_or(DEFAULT_TASK_HISTORY_LIMIT),
            description: shoal_worker::describe(&daemon.hostname),
        };
        let cluster_id = match manager.bootstrap(options).await {
            Ok(id) => id,
            Err(e) => {
                manager.shutdown().await;
                let _ = std::fs::remove_dir_all(daemon.data_dir.join("raft"));
                return Err(internal("creating the cluster", e));
            }
        };
        let membership = Membership { cluster_id: cluster_id.clone(), ..membership };
        state::save(&daemon.data_dir, &membership).map_err(|e| internal("saving the membership", e))?;
        let node_id = membership.node_id.clone();
        daemon.start_member(membership, Some(manager)).await.map_err(|e| internal("starting the node", e))?;
        info!(node = %node_id, cluster = %cluster_id, "cluster initialised");
        Ok(Response::new(InitResponse { node_id, cluster_id }))
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
                InfoResponse { hostname: daemon.hostname.clone(), addr: daemon.advertise.clone(), ..Default::default() }
            }
        }))
    }
}
