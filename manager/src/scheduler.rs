//! The scheduler loop (leader only): feeds pending tasks and a snapshot of
//! the nodes to the pure `shoal-scheduler` crate and writes its decisions
//! (assignments, or why a task waits) in one batch.
//!
//! Pending tasks are re-examined whenever a task becomes pending or a
//! node changes (joins, becomes ready, changes availability).

use std::collections::BTreeSet;

use shoal_proto::{NodeAvailability, NodeState, Op, Task, TaskState, store_object::Object};
use shoal_scheduler::{NodeInfo, TaskRequest, schedule};
use tokio_util::sync::CancellationToken;

use crate::ops;
use crate::proposer::Proposer;
use crate::store::{MemoryStore, Store};
use crate::watch::{self, Wake};

/// Runtime of a task whose spec names none.
pub const DEFAULT_RUNTIME: &str = "process";

pub struct Scheduler {
    store: Store,
    proposer: Proposer,
}

impl Scheduler {
    pub fn new(store: Store, proposer: Proposer) -> Scheduler {
        Scheduler { store, proposer }
    }

    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut events = self.store.subscribe();
        let mut pending = self.all_pending();
        loop {
            if !pending.is_empty() {
                let ids = std::mem::take(&mut pending);
                let ops = self.store.view(|s| decide(s, &ids));
                if !ops.is_empty() {
                    if !watch::write(&self.proposer, ops, &stop, "scheduler").await {
                        pending.extend(ids);
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                wake = watch::next(&mut events) => match wake {
                    Wake::Commits(commits) => {
                        for change in commits.iter().flat_map(|c| c.changes.iter()) {
                            match change.object() {
                                Object::Task(t) if is_pending(t) => { pending.insert(t.id.clone()); }
                                Object::Node(_) => pending.extend(self.all_pending()),
                                _ => {}
                            }
                        }
                    }
                    Wake::Resync => pending.extend(self.all_pending()),
                    Wake::Closed => return,
                },
            }
        }
    }

    fn all_pending(&self) -> BTreeSet<String> {
        self.store.view(|s| s.tasks().filter(|t| is_pending(t)).map(|t| t.id.clone()).collect())
    }
}

/// Waiting for a node, and meant to run.
fn is_pending(task: &Task) -> bool {
    let state = task.status.as_ref().map_or(0, |s| s.state);
    state <= TaskState::Pending as i32 && task.desired_state <= TaskState::Running as i32
}

/// Does a task keep its node busy?
fn is_active(task: &Task) -> bool {
    let state = task.status.as_ref().map_or(0, |s| s.state);
    state <= TaskState::Running as i32 && task.desired_state <= TaskState::Running as i32
}

/// The snapshot of nodes the scheduler sees.
fn node_infos(store: &MemoryStore) -> Vec<NodeInfo> {
    store
        .nodes()
        .map(|node| {
            let mut info = NodeInfo {
                id: node.id.clone(),
                ready: node.status.as_ref().is_some_and(|s| s.state() == NodeState::Ready),
                active: node.spec.as_ref().is_none_or(|s| s.availability() == NodeAvailability::Active),
                runtimes: node.description.as_ref().map(|d| d.runtimes.clone()).unwrap_or_default(),
                ..Default::default()
            };
            for task in store.tasks_of_node(&node.id).filter(|t| is_active(t)) {
                info.add_task(&task.service_id);
            }
            info
        })
        .collect()
}

/// Assignments (or reasons to wait) for the tasks `ids` still pending.
fn decide(store: &MemoryStore, ids: &BTreeSet<String>) -> Vec<Op> {
    let mut tasks: Vec<&Task> = ids.iter().filter_map(|id| store.task(id)).filter(|t| is_pending(t)).collect();
    if tasks.is_empty() {
        return Vec::new();
    }
    tasks.sort_by(|a, b| (&a.service_id, a.slot, &a.id).cmp(&(&b.service_id, b.slot, &b.id)));
    let requests: Vec<TaskRequest> = tasks
        .iter()
        .map(|t| TaskRequest {
            id: t.id.clone(),
            service_id: t.service_id.clone(),
            runtime: t
                .spec
                .as_ref()
                .map(|s| s.runtime.as_str())
                .filter(|r| !r.is_empty())
                .unwrap_or(DEFAULT_RUNTIME)
                .to_string(),
        })
        .collect();
    let decisions = schedule(&mut node_infos(store), &requests);
    let assigned = decisions.assigned.iter().map(|(task, node)| ops::task_assign(task, node, ""));
    let unplaced = decisions.unplaced.iter().map(|(task, reason)| ops::task_assign(task, "", reason));
    assigned.chain(unplaced).collect()
}
