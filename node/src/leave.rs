//! `node leave`: the node stops its tasks, forgets its cluster (state,
//! certificates, raft log) and becomes a standalone daemon again, ready
//! to init or join. The managers see it go Down; `node rm` forgets it.

use tonic::Status;
use tracing::info;

use crate::admin::internal;
use crate::certs;
use crate::daemon::Daemon;
use crate::membership::{self, Membership};

impl Daemon {
    /// Leaves the cluster of `membership` (the state allowed it).
    pub(crate) async fn leave(&self, membership: Membership) -> Result<(), Status> {
        self.stop_member().await.map_err(|e| internal("stopping the node", e))?;
        let shim = shoal_worker::shim::binary().map_err(|e| internal("finding the task shim", e))?;
        let worker = self.data_dir.join("worker");
        shoal_worker::remove_all_tasks(&worker, shim, &membership.node_id, self.docker.clone()).await;
        for dir in [certs::node_dir(&self.data_dir), self.data_dir.join("raft"), self.data_dir.join("worker")] {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| internal(&format!("removing {}", dir.display()), e))?;
            }
        }
        crate::datakey::remove(&self.data_dir).map_err(|e| internal("removing the data key", e))?;
        certs::set_lock(&certs::node_dir(&self.data_dir), None);
        *self.unlock_key.lock() = None;
        self.locked.store(false, std::sync::atomic::Ordering::SeqCst);
        membership::remove(&self.data_dir).map_err(|e| internal("removing the membership", e))?;
        self.left().map_err(|e| internal("leaving", e))?;
        info!(node = %membership.node_id, "left the cluster");
        Ok(())
    }
}
