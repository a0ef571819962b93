//! The scheduler loop (leader only): feeds pending tasks and a snapshot of
//! the nodes to the pure `shoal-scheduler` crate and writes its decisions
//! (assignments, or why a task waits) in one batch.
//!
//! A task is examined when it becomes pending. Tasks left waiting are
//! examined again whenever the cluster changes in a way that can help: a
//! node joins or changes (state, availability, labels), or a task stops
//! and frees what it held. Changes are debounced: the loop waits until
//! the store has been quiet for [`DEBOUNCE`] (at most [`MAX_DELAY`]), so a
//! burst of changes causes one pass.
//!
//! A task of a service with `depends_on` is held, with the reason, while
//! a dependency is not up ([`crate::dependencies`]); held tasks are
//! examined again when a task starts, completes or changes health, or a
//! service changes.

pub(crate) mod snapshot;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use shoal_proto::{Op, TaskState, store_object::Object};
use shoal_scheduler::schedule;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::dependencies;
use crate::ops;
use crate::proposer::Proposer;
use crate::store::{Commit, MemoryStore, Store};
use crate::watch::{self, Wake};
pub use snapshot::{DEFAULT_RUNTIME, capacity, describe, is_pending, reservations};

/// Quiet time that ends a burst of changes.
pub const DEBOUNCE: Duration = Duration::from_millis(10);
/// Longest a pass waits for a burst to end.
pub const MAX_DELAY: Duration = Duration::from_millis(100);

pub struct Scheduler {
    store: Store,
    proposer: Proposer,
    /// Tasks to examine in the next pass.
    pending: BTreeSet<String>,
    /// Tasks the last passes could not place.
    waiting: BTreeSet<String>,
    /// Those of them held for their service's dependencies.
    held: BTreeSet<String>,
}

/// What a batch of commits asks of the scheduler.
#[derive(Default)]
struct Work {
    tasks: BTreeSet<String>,
    /// Something changed that may let waiting tasks fit.
    retry: bool,
    /// A task started, completed or changed health, or a service changed:
    /// held tasks' dependencies may be met.
    dependencies: bool,
    resync: bool,
    closed: bool,
}

impl Scheduler {
    pub fn new(store: Store, proposer: Proposer) -> Scheduler {
        Scheduler { store, proposer, pending: BTreeSet::new(), waiting: BTreeSet::new(), held: BTreeSet::new() }
    }

    /// Runs until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut events = self.store.subscribe();
        self.pending = self.all_pending();
        loop {
            if !self.pending.is_empty() {
                let ids = std::mem::take(&mut self.pending);
                let started = std::time::Instant::now();
                let decided = self.store.view(|s| decide(s, &ids));
                let metrics = &*crate::metrics::METRICS;
                metrics.scheduler_pass_seconds.observe(started.elapsed().as_secs_f64());
                for id in &ids {
                    self.waiting.remove(id);
                    self.held.remove(id);
                }
                self.waiting.extend(decided.waiting);
                self.held.extend(decided.held);
                let ops = decided.ops;
                if !ops.is_empty() && !watch::write(&self.proposer, ops, &stop, "scheduler").await {
                    if stop.is_cancelled() {
                        return;
                    }
                    self.pending.extend(ids);
                } else {
                    metrics.scheduler_decisions.inc_by(decided.assigned as u64);
                }
                continue;
            }
            let work = tokio::select! {
                _ = stop.cancelled() => return,
                work = settle(&mut events) => work,
            };
            if work.closed {
                return;
            }
            if work.resync {
                self.pending = self.all_pending();
                continue;
            }
            self.pending.extend(work.tasks);
            if work.retry {
                self.pending.extend(self.waiting.iter().cloned());
            }
            if work.dependencies {
                self.pending.extend(self.held.iter().cloned());
            }
        }
    }

    fn all_pending(&self) -> BTreeSet<String> {
        self.store.view(|s| s.tasks().filter(|t| is_pending(t)).map(|t| t.id.clone()).collect())
    }
}

/// Waits for commits that give the scheduler work, then for the store
/// to be quiet for [`DEBOUNCE`] (at most [`MAX_DELAY`] in all).
async fn settle(events: &mut broadcast::Receiver<Arc<Commit>>) -> Work {
    let mut work = Work::default();
    let mut deadline = None;
    loop {
        let wake = match deadline {
            None => watch::next(events).await,
            Some(deadline) => {
                match tokio::time::timeout_at((Instant::now() + DEBOUNCE).min(deadline), watch::next(events)).await {
                    Ok(wake) => wake,
                    Err(_) => return work,
                }
            }
        };
        match wake {
            Wake::Commits(commits) => commits.iter().for_each(|c| work.note(c)),
            Wake::Resync => work.resync = true,
            Wake::Closed => work.closed = true,
        }
        if work.closed {
            return work;
        }
        if deadline.is_none() && work.any() {
            deadline = Some(Instant::now() + MAX_DELAY);
        }
    }
}

impl Work {
    fn any(&self) -> bool {
        !self.tasks.is_empty() || self.retry || self.dependencies || self.resync
    }

    /// What one commit asks for.
    fn note(&mut self, commit: &Commit) {
        for change in &commit.changes {
            match change.object() {
                Object::Task(t) if is_pending(t) => {
                    self.tasks.insert(t.id.clone());
                }
                // A task that stopped frees its node's resources, ports and
                // replica count.
                Object::Task(t) if !t.node_id.is_empty() && snapshot::has_stopped(t) => self.retry = true,
                Object::Task(t) if matches!(t.state(), TaskState::Running | TaskState::Complete) => {
                    self.dependencies = true;
                }
                Object::Node(_) => self.retry = true,
                Object::Service(_) => self.dependencies = true,
                _ => {}
            }
        }
    }
}

/// Assignments (or reasons to wait) for the tasks `ids` still pending, and
/// the ids of those left waiting.
fn decide(store: &MemoryStore, ids: &BTreeSet<String>) -> Decided {
    // A service's dependencies are looked at once per pass.
    let mut unmet: HashMap<&str, Option<String>> = HashMap::new();
    let mut held: Vec<(String, String)> = Vec::new();
    let mut free = Vec::new();
    for task in ids.iter().filter_map(|id| store.task(id)).filter(|t| is_pending(t)) {
        let reason = unmet.entry(task.service_id.as_str()).or_insert_with(|| {
            let spec = store.service(&task.service_id).and_then(|s| s.spec.as_ref());
            spec.and_then(|spec| dependencies::unmet(store, spec))
        });
        match reason {
            Some(reason) => held.push((task.id.clone(), reason.clone())),
            None => free.push(task),
        }
    }
    let (groups, invalid) = snapshot::groups(free.into_iter());
    let mut decided = Decided { held: held.iter().map(|(task, _)| task.clone()).collect(), ..Default::default() };
    let mut unplaced = held;
    if !groups.is_empty() {
        let now = shoal_proto::now_nanos();
        let decisions = schedule(&mut snapshot::nodes(store, now), &groups);
        decided.ops = decisions.assigned.iter().map(|(task, node)| ops::task_assign(task, node, "")).collect();
        decided.assigned = decisions.assigned.len();
        unplaced.extend(decisions.unplaced);
    }
    unplaced.extend(invalid);
    for (task, reason) in unplaced {
        // Writing the reason a task already shows would only cost a commit.
        if store.task(&task).and_then(|t| t.status.as_ref()).is_none_or(|s| s.err != reason) {
            decided.ops.push(ops::task_assign(&task, "", &reason));
        }
        decided.waiting.push(task);
    }
    decided
}

/// What one pass decided: the writes, the tasks left waiting for room,
/// and those of them held for their service's dependencies.
#[derive(Default)]
struct Decided {
    ops: Vec<Op>,
    /// How many of the writes assign a task to a node.
    assigned: usize,
    waiting: Vec<String>,
    held: Vec<String>,
}

#[cfg(test)]
mod tests;
