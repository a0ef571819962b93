//! Writing to the store: every write is one batch, applied atomically.
//!
//! Writers do not get a raft entry each: batches that arrive while
//! earlier entries are in flight are proposed together in the next entry
//! (each still applied, and answered, on its own). So concurrent writers
//! share raft round trips and log syncs: group commit.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use shoal_proto::{Batch, Cluster, Entry, Node, Op, now_nanos, store_object::Object};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::ops;
use crate::raft::{NoQuorum, Proposal, Quorum, Raft};
use crate::store::{MemoryStore, Store, StoreError};

/// How often a waiting writer checks that the quorum still holds.
const QUORUM_POLL: std::time::Duration = std::time::Duration::from_millis(200);
/// Raft entries being written at once.
const MAX_IN_FLIGHT: usize = 2;
/// Operations gathered into one entry at most (a larger batch goes alone).
const MAX_OPS_PER_ENTRY: usize = 20_000;

/// Why a write did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("this manager is not the raft leader{}", leader.as_ref().map(|l| format!(" (the leader is {l})")).unwrap_or_default())]
    NotLeader { leader: Option<String> },
    #[error(transparent)]
    NoQuorum(#[from] NoQuorum),
    #[error("{0} (the write was not confirmed: it applies if the managers come back in time)")]
    Unconfirmed(NoQuorum),
    #[error("raft: {0}")]
    Raft(String),
}

type Waiter = oneshot::Sender<Result<u64, ProposeError>>;

tokio::task_local! {
    /// The id of the control request being served, when a manager
    /// forwarded it (see `control::forward`): stamped on its batches.
    static REQUEST: String;
}

/// Runs `f` as control request `id`: the batches it proposes carry the
/// id, and the store remembers them once applied.
pub async fn as_request<F: std::future::Future>(id: String, f: F) -> F::Output {
    if id.is_empty() {
        return f.await;
    }
    REQUEST.scope(id, f).await
}

/// Proposes batches to raft; cheap to clone.
#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::UnboundedSender<(Batch, Waiter)>,
    quorum: Quorum,
    /// The store raft applies to, for read-change-write.
    store: Store,
}

impl Proposer {
    /// A proposer on `quorum`'s raft, which applies to `store`; spawns the
    /// task that gathers batches into entries.
    pub fn new(quorum: Quorum, store: Store) -> Proposer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(gather(quorum.raft().clone(), rx));
        Proposer { queue, quorum, store }
    }

    /// Changes a node (read, change, write), retrying if it changed meanwhile.
    pub async fn update_node(&self, id: &str, change: impl Fn(&mut Node)) -> Result<Node, ProposeError> {
        self.read_change_write("node", |s| s.node(id).cloned(), Object::Node, change).await
    }

    /// Changes the cluster object, retrying if it changed meanwhile.
    pub async fn update_cluster(&self, change: impl Fn(&mut Cluster)) -> Result<Cluster, ProposeError> {
        self.read_change_write("cluster", |s| s.cluster().cloned(), Object::Cluster, change).await
    }

    async fn read_change_write<T: Clone>(
        &self,
        kind: &str,
        read: impl Fn(&MemoryStore) -> Option<T>,
        wrap: impl Fn(T) -> Object,
        change: impl Fn(&mut T),
    ) -> Result<T, ProposeError> {
        loop {
            let object = self.store.view(&read);
            let mut object = object.ok_or_else(|| StoreError::NotFound { kind: kind.into(), id: String::new() })?;
            change(&mut object);
            match self.propose(vec![ops::update(wrap(object.clone()))]).await {
                Err(ProposeError::Store(StoreError::VersionConflict { .. })) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(object),
            }
        }
    }

    /// Writes `ops` as one atomic batch; returns the raft index it was
    /// applied at, once applied on this manager. Fails at once, changing
    /// nothing, when the managers have no quorum.
    pub async fn propose(&self, ops: Vec<Op>) -> Result<u64, ProposeError> {
        self.quorum.check()?;
        let stopped = || ProposeError::Raft("the proposer stopped".into());
        let (tx, rx) = oneshot::channel();
        let request_id = REQUEST.try_with(String::clone).unwrap_or_default();
        self.queue.send((Batch { ops, timestamp: now_nanos(), request_id }, tx)).map_err(|_| stopped())?;
        // A write in flight when the quorum goes would wait for its return:
        // answer at once instead (the write may still commit later).
        tokio::pin!(rx);
        loop {
            tokio::select! {
                reply = &mut rx => return reply.map_err(|_| stopped())?,
                _ = tokio::time::sleep(QUORUM_POLL) => {
                    if let Err(lost) = self.quorum.check() {
                        return Err(ProposeError::Unconfirmed(lost));
                    }
                }
            }
        }
    }
}

async fn gather(raft: Raft, mut rx: mpsc::UnboundedReceiver<(Batch, Waiter)>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut held: Option<(Batch, Waiter)> = None;
    loop {
        // While every slot is busy, batches queue up for the next entry.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let first = match held.take() {
            Some(item) => item,
            None => match rx.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        let mut ops = first.0.ops.len();
        let (mut batches, mut waiters) = (vec![first.0], vec![first.1]);
        while let Ok((batch, waiter)) = rx.try_recv() {
            if ops + batch.ops.len() > MAX_OPS_PER_ENTRY {
                held = Some((batch, waiter));
                break;
            }
            ops += batch.ops.len();
            batches.push(batch);
            waiters.push(waiter);
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let replies = write(&raft, batches).await;
            for (waiter, reply) in waiters.into_iter().zip(replies) {
                let _ = waiter.send(reply);
            }
            drop(slot);
        });
    }
}

/// Proposes one entry; a reply per batch.
async fn write(raft: &Raft, batches: Vec<Batch>) -> Vec<Result<u64, ProposeError>> {
    let n = batches.len();
    let metrics = &*crate::metrics::METRICS;
    metrics.entry_ops.observe(batches.iter().map(|b| b.ops.len()).sum::<usize>() as f64);
    let proposal = Proposal::new(&Entry { batches });
    metrics.entry_bytes.observe(proposal.len() as f64);
    let started = std::time::Instant::now();
    let written = raft.client_write(proposal).await;
    metrics.proposal_seconds.observe(started.elapsed().as_secs_f64());
    match written {
        Ok(resp) => {
            let index = resp.log_id.index;
            resp.data.0.into_iter().map(|r| r.map(|()| index).map_err(ProposeError::Store)).collect()
        }
        Err(e) => {
            let err = match e {
                RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                    ProposeError::NotLeader { leader: f.leader_node.map(|n| n.addr) }
                }
                e => ProposeError::Raft(e.to_string()),
            };
            vec![Err(err); n]
        }
    }
}
