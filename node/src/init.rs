//! `node init`: a standalone daemon creates a cluster and becomes its
//! first manager (a new root CA, this node's certificate and the admin
//! bundle, a one-voter raft bootstrapped with the cluster's settings).

use std::sync::Arc;
use std::time::Duration;

use shoal_manager::ca::{self, DEFAULT_CERT_EXPIRY, MIN_CERT_EXPIRY, RootCa};
use shoal_manager::dispatcher::network_map::DEFAULT_DATA_PATH_PORT;
use shoal_manager::ids::new_id;
use shoal_manager::keys::DataKey;
use shoal_manager::orchestrator::DEFAULT_TASK_HISTORY_LIMIT;
use shoal_manager::raft::RaftState;
use shoal_manager::{InitOptions, Manager};
use shoal_proto::transport::{Credentials, Role};
use shoal_proto::{InitRequest, InitResponse, NodeState};
use tonic::Status;
use tracing::info;

use shoal_spec::runtime;

use crate::admin::{internal, worker_token};
use crate::certs;
use crate::daemon::Daemon;
use crate::membership::{self, Membership};

/// How long `node init` waits for this node's worker to be Ready.
const READY_WAIT: Duration = Duration::from_secs(10);

/// A new cluster's default runtime: images (docker) when this node can
/// run them, else programs (process), so that a Swarm user on a machine
/// with Docker and someone trying shoal on one without both need no flag.
fn default_runtime(runtimes: &[String]) -> &'static str {
    if runtimes.iter().any(|r| r == runtime::DOCKER) { runtime::DOCKER } else { runtime::PROCESS }
}

impl Daemon {
    pub(crate) async fn init(self: &Arc<Self>, req: InitRequest) -> Result<InitResponse, Status> {
        // Checked before anything moves (the listener first).
        if !req.default_runtime.is_empty() {
            runtime::check(&req.default_runtime, "--default-runtime").map_err(|e| Status::invalid_argument(e.0))?;
        }
        let listen_addr = self.listen_on(&req.listen_addr).await?;
        let addr = self.advertise(&req.advertise_addr)?;
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
        // Autolock: the node's keys are wrapped by the unlock key from the start.
        let unlock = match req.autolock {
            true => Some(DataKey::generate().map_err(|e| internal("making the unlock key", e))?),
            false => None,
        };
        certs::set_lock(&certs::node_dir(&self.data_dir), unlock.clone());
        *self.unlock_key.lock() = unlock.clone();
        certs::save_credentials(&certs::node_dir(&self.data_dir), &credentials)
            .map_err(|e| internal("saving this node's certificate", e))?;
        certs::save(&certs::admin_dir(&self.data_dir), &root_ca.cert, &admin.cert, &admin.key)
            .map_err(|e| internal("saving the admin certificate", e))?;

        let membership = Membership {
            node_id: node_id.clone(),
            cluster_id: cluster_id.clone(),
            raft_id: membership::new_raft_id(),
            manager: true,
            addr: addr.clone(),
            managers: vec![addr.clone()],
            listen_addr: Some(listen_addr),
        };
        let data_key = DataKey::generate().map_err(|e| internal("making the data key", e))?;
        crate::datakey::save(&self.data_dir, &data_key, unlock.as_ref())
            .map_err(|e| internal("saving the data key", e))?;
        let config = self
            .manager_config(&membership, credentials.clone(), RaftState::New)
            .map_err(|e| internal("starting the manager", e))?;
        let manager = Manager::start(config).await.map_err(|e| internal("starting the manager", e))?;
        // What this node can run decides the cluster's default runtime.
        let engine = match &self.docker {
            Some(socket) => shoal_worker::docker::look(socket).await,
            None => None,
        };
        let description = shoal_worker::docker::describe(
            &shoal_worker::describe(&self.hostname, &self.engine_labels),
            engine.as_ref(),
            &mut Default::default(),
        );
        let options = InitOptions {
            unlock_key: unlock.clone(),
            default_runtime: match req.default_runtime.as_str() {
                "" => default_runtime(&description.runtimes).to_string(),
                named => named.to_string(),
            },
            cluster_id: cluster_id.clone(),
            root_ca,
            task_history_limit: req.task_history_limit.unwrap_or(DEFAULT_TASK_HISTORY_LIMIT),
            cert_expiry,
            data_path_port: if req.data_path_port == 0 { DEFAULT_DATA_PATH_PORT } else { req.data_path_port },
            description,
            admin: ca::admin::listed(&admin_id, shoal_proto::now_nanos(), ca::admin::DEFAULT_EXPIRY),
        };
        if let Err(e) = manager.bootstrap(options).await {
            manager.shutdown().await;
            let _ = std::fs::remove_dir_all(self.data_dir.join("raft"));
            let _ = crate::datakey::remove(&self.data_dir);
            return Err(internal("creating the cluster", e));
        }
        let worker_token = worker_token(&manager);
        membership::save(&self.data_dir, &membership).map_err(|e| internal("saving the membership", e))?;
        self.start_member(membership, Some(manager), credentials)
            .await
            .map_err(|e| internal("starting the node", e))?;
        // Return once this node's worker is in session: `node ls` right
        // after init shows it Ready.
        let manager = self.manager.borrow().clone();
        if let Some(manager) = manager {
            let ready = |m: &Manager| {
                m.store().view(|s| {
                    s.node(&node_id).and_then(|n| n.status.as_ref()).is_some_and(|st| st.state() == NodeState::Ready)
                })
            };
            let started = std::time::Instant::now();
            while !ready(&manager) && started.elapsed() < READY_WAIT {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        info!(node = %node_id, cluster = %cluster_id, "cluster initialised");
        let unlock_key = unlock.as_ref().map(shoal_manager::keys::unlock_key_text).unwrap_or_default();
        Ok(InitResponse { node_id, cluster_id, worker_token, addr, unlock_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_that_runs_images_makes_docker_the_default() {
        assert_eq!(default_runtime(&["process".into()]), "process");
        assert_eq!(default_runtime(&["process".into(), "docker".into()]), "docker");
        assert_eq!(default_runtime(&[]), "process");
    }
}
