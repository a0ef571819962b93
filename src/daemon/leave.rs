//! `node leave`: the node stops its tasks, forgets its cluster (state,
//! certificates, raft log) and becomes a standalone daemon again, ready
//! to init or join. The managers see it go Down; `node rm` forgets it.

use shoal_proto::LeaveRequest;
use shoal_proto::NodeRole;
use tonic::Status;
use tracing::info;

use super::admin::internal;
use super::{Daemon, certs};

impl Daemon {
    pub(super) async fn leave(&self, req: LeaveRequest) -> Result<(), Status> {
        let membership = self
            .membership
            .lock()
            .clone()
            .ok_or_else(|| Status::failed_precondition("this node is not part of a cluster"))?;
        if membership.manager && !req.force {
            let managers = self
                .manager
                .borrow()
                .as_ref()
                .map_or(1, |m| m.store().view(|s| s.nodes().filter(|n| n.role() == NodeRole::Manager).count()));
            let left = managers.saturating_sub(1);
            let consequence = if left == 0 {
                "it is the last manager: leaving destroys the cluster".to_string()
            } else {
                format!("leaving leaves {left} manager(s) out of {managers}, and a lost majority stops the cluster")
            };
            return Err(Status::failed_precondition(format!(
                "this node is a manager: {consequence}. Demote it first (\"shoal node demote\") or use --force"
            )));
        }
        self.stop_member().await.map_err(|e| internal("stopping the node", e))?;
        let shim = shoal_worker::shim::binary().map_err(|e| internal("finding the task shim", e))?;
        shoal_worker::remove_all_tasks(&self.data_dir.join("worker"), shim).await;
        for dir in [certs::node_dir(&self.data_dir), self.data_dir.join("raft"), self.data_dir.join("worker")] {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| internal(&format!("removing {}", dir.display()), e))?;
            }
        }
        super::state::remove(&self.data_dir).map_err(|e| internal("removing the membership", e))?;
        *self.membership.lock() = None;
        info!(node = %membership.node_id, "left the cluster");
        Ok(())
    }
}
