//! `node init --force-new-cluster` on a manager whose cluster lost its
//! majority: the manager restarts as the only manager of a cluster made
//! from its own state (see `shoal_manager::recover`). The old raft
//! directory is kept as `raft.old` until the next forced recovery.

use std::sync::Arc;

use shoal_manager::recover;
use shoal_proto::InitResponse;
use tonic::Status;
use tracing::info;

use super::admin::{internal, worker_token};
use super::{Daemon, certs, state};

impl Daemon {
    pub(super) async fn force_new_cluster(self: &Arc<Self>) -> Result<InitResponse, Status> {
        let membership = self.membership.lock().clone();
        let old = self.manager.borrow().clone();
        let (Some(mut membership), Some(old)) = (membership, old) else {
            return Err(Status::failed_precondition(
                "--force-new-cluster: this node is not a manager of a cluster (run it on a surviving manager)",
            ));
        };
        let survivor = recover::survivor(&old).map_err(|e| internal("reading this manager's state", e))?;
        drop(old);
        self.stop_member().await.map_err(|e| internal("stopping the node", e))?;
        let (raft, kept) = (self.data_dir.join("raft"), self.data_dir.join("raft.old"));
        let moved = std::fs::remove_dir_all(&kept)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .and_then(|()| std::fs::rename(&raft, &kept));
        moved.map_err(|e| internal("keeping the old raft state aside", e))?;
        let credentials = certs::load(&certs::node_dir(&self.data_dir))
            .map_err(|e| internal("loading this node's certificate", e))?;
        membership.managers = vec![membership.addr.clone()];
        let config = self.manager_config(&membership, credentials.clone());
        let manager = recover::start(config, survivor).await.map_err(|e| internal("starting the new cluster", e))?;
        state::save(&self.data_dir, &membership).map_err(|e| internal("saving the membership", e))?;
        let token = worker_token(&manager);
        self.start_member(membership.clone(), Some(manager), credentials)
            .await
            .map_err(|e| internal("starting the node", e))?;
        info!(node = %membership.node_id, "forced a new cluster from this manager's state");
        Ok(InitResponse {
            node_id: membership.node_id,
            cluster_id: membership.cluster_id,
            worker_token: token,
            addr: membership.addr,
        })
    }
}
