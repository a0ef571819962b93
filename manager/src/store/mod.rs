//! The store: the raft state machine's data, readable by every loop.
//!
//! [`Store`] is a cheap handle on a [`MemoryStore`] behind a lock. Reads
//! go through [`Store::view`]; writes happen only when raft applies a
//! committed [`Batch`](shoal_proto::Batch), after which the changes are
//! published as a [`Commit`] to every subscriber, and what they mean is
//! kept as [events].

mod assign;
mod error;
pub mod events;
mod memory;
mod object;
mod requests;

use std::sync::Arc;

use parking_lot::RwLock;

use shoal_proto::Batch;
use tokio::sync::{broadcast, watch};

pub use error::StoreError;
use events::{EventLog, derive};
pub use memory::{Change, MemoryStore};
pub use object::{ObjectExt, kind_name};

/// What one applied raft entry changed.
#[derive(Debug)]
pub struct Commit {
    /// Raft index of the entry.
    pub index: u64,
    pub changes: Vec<Change>,
    /// The whole state was replaced (snapshot installed): re-read everything.
    pub reset: bool,
    /// When it was applied (the dispatcher measures its fan-out from it).
    pub applied: std::time::Instant,
}

/// Shared handle on the replicated state.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    data: RwLock<MemoryStore>,
    events: broadcast::Sender<Arc<Commit>>,
    applied: watch::Sender<u64>,
    history: EventLog,
}

impl Store {
    /// A store holding `data`, as of raft index `applied`.
    pub fn new(mut data: MemoryStore, applied: u64) -> Store {
        data.set_index(applied);
        let (events, _) = broadcast::channel(4096);
        let (applied, _) = watch::channel(applied);
        let history = EventLog::default();
        Store { shared: Arc::new(Shared { data: RwLock::new(data), events, applied, history }) }
    }

    /// Reads the state; keep `f` short, applies wait for it.
    pub fn view<R>(&self, f: impl FnOnce(&MemoryStore) -> R) -> R {
        f(&self.shared.data.read())
    }

    /// Commits applied from now on. A receiver that lags behind gets
    /// `Lagged` and must re-read the state.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Commit>> {
        self.shared.events.subscribe()
    }

    /// The cluster's events kept on this manager.
    pub fn history(&self) -> &EventLog {
        &self.shared.history
    }

    /// The raft index of the last applied entry.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.shared.applied.subscribe()
    }

    /// Applies the batches of a committed entry, each atomically, and
    /// publishes what changed. Readers see the entry whole or not at all
    /// (objects it changes twice share one version).
    pub(crate) fn apply(&self, index: u64, batches: Vec<Batch>) -> Vec<Result<(), StoreError>> {
        let mut changes = Vec::with_capacity(batches.iter().map(|b| b.ops.len()).sum());
        // What each change replaced and when its batch was proposed, kept
        // (when events are) to derive the events once the lock is released.
        let mut replaced = Vec::new();
        let derived = self.shared.history.keeps();
        let mut results = Vec::with_capacity(batches.len());
        {
            let mut data = self.shared.data.write();
            data.set_index(index);
            for batch in batches {
                let time = batch.timestamp;
                results.push(data.apply_with_previous(index, batch).map(|applied| {
                    for (change, previous) in applied {
                        if derived {
                            replaced.push((previous, time));
                        }
                        changes.push(change);
                    }
                }));
            }
        }
        if derived {
            let events = changes
                .iter()
                .zip(replaced)
                .filter_map(|(change, (previous, time))| derive(change, previous.as_deref(), time, index))
                .collect();
            self.shared.history.append(events, shoal_proto::now_nanos());
        }
        self.publish(Commit { index, changes, reset: false, applied: std::time::Instant::now() });
        results
    }

    /// Marks an entry without a batch (raft blank or membership) applied.
    pub(crate) fn skip(&self, index: u64) {
        self.shared.data.write().set_index(index);
        self.shared.applied.send_replace(index);
    }

    /// Replaces the whole state (a snapshot was installed).
    pub(crate) fn replace(&self, mut data: MemoryStore, index: u64) {
        data.set_index(index);
        *self.shared.data.write() = data;
        self.publish(Commit { index, changes: Vec::new(), reset: true, applied: std::time::Instant::now() });
    }

    fn publish(&self, commit: Commit) {
        let index = commit.index;
        if !commit.changes.is_empty() || commit.reset {
            // No receiver is not an error: no loop is running.
            let _ = self.shared.events.send(Arc::new(commit));
        }
        self.shared.applied.send_replace(index);
    }
}
