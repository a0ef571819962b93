//! A manager that lost its raft state (its `raft/` folder wiped, its log
//! corrupt, another member's folder in its place) must not come back as
//! the same voter: with an empty or shortened log and no memory of its
//! vote it could elect a leader that lacks acknowledged writes. As etcd
//! does, it refuses to; unlike a stopped daemon it stays useful: it keeps
//! its node identity, its tasks and its certificate and runs as a worker.
//! The managers still list it as an unreachable manager until an operator
//! demotes it (`shoal node demote NODE`); promoted again, it joins raft
//! as a new member with a new raft id and catches up from the leader.

use shoal_manager::raft::StartError;
use tracing::error;

use crate::Result;
use crate::daemon::Daemon;
use crate::membership::{self, Membership};

impl Daemon {
    /// Sets the lost state aside (`raft.lost-<unix time>/`, for whoever
    /// wants to look) and records this node as running no raft member.
    pub(crate) fn lost_raft_state(&self, membership: &mut Membership, cause: &StartError) -> Result<()> {
        let raft = self.data_dir.join("raft");
        if raft.exists() {
            let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
            std::fs::rename(&raft, self.data_dir.join(format!("raft.lost-{secs}")))?;
        }
        error!(
            raft_id = membership.raft_id,
            "{cause}: this node must not come back as raft member {} (it could undo acknowledged writes), so it runs \
             as a worker. Demote it on a manager (shoal node demote {}), then promote it again to make it a manager \
             with a new raft identity (see docs/operations.md, \"When things go wrong\")",
            membership.raft_id,
            membership.node_id,
        );
        membership.manager = false;
        membership.raft_id = 0;
        membership::save(&self.data_dir, membership)
    }
}
