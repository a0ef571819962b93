//! How the leader's loops follow the store: wait for the next commits,
//! taking every one already queued, so that a burst of writes causes one
//! pass.

use std::sync::Arc;
use std::time::Duration;

use shoal_proto::Op;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::proposer::Proposer;
use crate::store::Commit;

/// How long a loop waits before retrying a failed write.
const RETRY: Duration = Duration::from_millis(200);

/// What woke a loop.
pub enum Wake {
    /// These commits, in order.
    Commits(Vec<Arc<Commit>>),
    /// Commits were missed (the loop lagged, or a snapshot replaced the
    /// state): re-read everything.
    Resync,
    /// The store is gone.
    Closed,
}

/// Waits for at least one commit, then drains what is queued.
pub async fn next(rx: &mut broadcast::Receiver<Arc<Commit>>) -> Wake {
    let first = match rx.recv().await {
        Ok(commit) => commit,
        Err(RecvError::Lagged(_)) => return Wake::Resync,
        Err(RecvError::Closed) => return Wake::Closed,
    };
    let mut commits = vec![first];
    loop {
        match rx.try_recv() {
            Ok(commit) => commits.push(commit),
            Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
            Err(TryRecvError::Lagged(_)) => return Wake::Resync,
        }
    }
    if commits.iter().any(|c| c.reset) {
        return Wake::Resync;
    }
    Wake::Commits(commits)
}

/// A loop's write: on failure, logs it and waits a moment (or until
/// `stop`) before the caller retries. Returns whether it was written.
pub async fn write(proposer: &Proposer, ops: Vec<Op>, stop: &CancellationToken, who: &str) -> bool {
    match proposer.propose(ops).await {
        Ok(_) => true,
        Err(err) => {
            warn!(%err, "{who} write failed; retrying");
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(RETRY) => {}
            }
            false
        }
    }
}
