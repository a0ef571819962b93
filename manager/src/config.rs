//! What a manager is started with, and why starting it may fail: shared
//! by the assembly ([`Manager`](crate::Manager)) and by
//! [`recover`](crate::recover), which starts a raft of its own.

use std::path::PathBuf;

use shoal_proto::transport::Credentials;

use crate::keys::Keyring;
use crate::proposer::ProposeError;
use crate::raft::{self, RaftState, RaftTiming};

/// What a manager needs to start.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub node_id: String,
    pub raft_id: u64,
    /// Address other nodes reach this node's endpoint at.
    pub addr: String,
    /// Where the raft log, vote and snapshots live.
    pub raft_dir: PathBuf,
    /// Whether the raft state is made now or opened as this member left it.
    pub raft_state: RaftState,
    pub timing: RaftTiming,
    /// How much event history this manager keeps.
    pub events: crate::store::events::Limits,
    /// This manager's TLS identity, for talking to other nodes.
    pub credentials: Credentials,
    /// The cluster's data key (empty until a joining manager receives it).
    pub keys: Keyring,
}

/// Why the manager could not start or bootstrap.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Raft(Box<raft::StartError>),
    #[error("initialising raft: {0}")]
    Init(String),
    #[error("writing the new cluster: {0}")]
    Propose(#[from] ProposeError),
}

impl From<raft::StartError> for ManagerError {
    fn from(e: raft::StartError) -> ManagerError {
        ManagerError::Raft(Box::new(e))
    }
}

impl ManagerConfig {
    /// Opens (or creates) the raft state and starts raft on it.
    pub(crate) async fn start_raft(&self) -> Result<raft::Started, ManagerError> {
        if self.raft_state == RaftState::New {
            std::fs::create_dir_all(&self.raft_dir).map_err(raft::StartError::Io)?;
        }
        let started =
            raft::start(&self.raft_dir, self.raft_id, self.raft_state, &self.timing, self.credentials.clone()).await?;
        Ok(started)
    }
}
