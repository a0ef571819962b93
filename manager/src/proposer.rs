//! Writing to the store: every write is a raft proposal of one batch.
//!
//! [`Proposer::propose`] writes a batch and waits until it is applied.
//! [`Proposer::propose_coalesced`] lets many callers share proposals: what
//! arrives while a proposal is in flight goes out together in the next
//! one. It is for operations that never fail a batch (status and
//! desired-state moves), so one caller's op cannot refuse another's.

use openraft::error::{ClientWriteError, RaftError};
use shoal_proto::{Batch, Op, now_nanos};
use tokio::sync::{mpsc, oneshot};

use crate::raft::{Proposal, Raft};
use crate::store::StoreError;

/// Why a write did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("this manager is not the raft leader{}", leader.as_ref().map(|l| format!(" (the leader is {l})")).unwrap_or_default())]
    NotLeader { leader: Option<String> },
    #[error("raft: {0}")]
    Raft(String),
}

type Waiter = oneshot::Sender<Result<u64, ProposeError>>;

/// Proposes batches to raft.
#[derive(Clone)]
pub struct Proposer {
    raft: Raft,
    coalesced: mpsc::UnboundedSender<(Vec<Op>, Waiter)>,
}

impl Proposer {
    /// A proposer on `raft`; spawns the task that coalesces proposals.
    pub fn new(raft: Raft) -> Proposer {
        let (coalesced, rx) = mpsc::unbounded_channel();
        tokio::spawn(coalesce_loop(raft.clone(), rx));
        Proposer { raft, coalesced }
    }

    /// Writes `ops` as one atomic batch; returns the raft index it was
    /// applied at, once applied on this manager.
    pub async fn propose(&self, ops: Vec<Op>) -> Result<u64, ProposeError> {
        propose(&self.raft, ops).await
    }

    /// Writes `ops` in a batch shared with other callers (see module doc).
    pub async fn propose_coalesced(&self, ops: Vec<Op>) -> Result<u64, ProposeError> {
        let (tx, rx) = oneshot::channel();
        self.coalesced.send((ops, tx)).map_err(|_| ProposeError::Raft("the proposer stopped".into()))?;
        rx.await.map_err(|_| ProposeError::Raft("the proposer stopped".into()))?
    }
}

async fn propose(raft: &Raft, ops: Vec<Op>) -> Result<u64, ProposeError> {
    let batch = Batch { ops, timestamp: now_nanos() };
    match raft.client_write(Proposal(batch)).await {
        Ok(resp) => resp.data.0.map(|()| resp.log_id.index).map_err(ProposeError::Store),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            Err(ProposeError::NotLeader { leader: f.leader_node.map(|n| n.addr) })
        }
        Err(e) => Err(ProposeError::Raft(e.to_string())),
    }
}

async fn coalesce_loop(raft: Raft, mut rx: mpsc::UnboundedReceiver<(Vec<Op>, Waiter)>) {
    while let Some(first) = rx.recv().await {
        let mut ops = first.0;
        let mut waiters = vec![first.1];
        while let Ok((more, waiter)) = rx.try_recv() {
            ops.extend(more);
            waiters.push(waiter);
        }
        let result = propose(&raft, ops).await;
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}
