//! The orchestrator loop (leader only): keeps every replicated service's
//! slots filled and every global service on each node that may run it,
//! runs jobs to completion, applies restart policies and reaps old tasks
//! (and tasks outside services once they have stopped).
//!
//! Decisions are pure functions ([`replicated::reconcile`],
//! [`global::reconcile`], [`enforcer`], [`reaper::reap`]); this loop
//! marks services dirty from store commits, decides for each, and writes
//! everything in one batch.

pub mod enforcer;
pub mod global;
pub mod jobs;
pub mod plan;
pub mod reaper;
pub mod rebalance;
pub mod rejoin;
pub mod replicated;
pub mod restart;
pub mod schedule;
mod slot;
pub mod update;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use shoal_proto::{
    Node, NodeAvailability, NodeState, ObjectKind, Op, Service, Task, TaskState, TaskStatus, now_nanos,
    service_spec::Mode, store_object::Object,
};
use shoal_scheduler::constraint;
use tokio_util::sync::CancellationToken;

use crate::ids::new_id;
use crate::ops;
use crate::proposer::Proposer;
use crate::scheduler::{capacity, describe};
use crate::store::{MemoryStore, Store};
use crate::watch::{self, Wake};
use plan::{Action, Env};

/// Old tasks kept per slot unless the cluster says otherwise.
pub const DEFAULT_TASK_HISTORY_LIMIT: u64 = 5;

/// The replicated orchestrator, restart supervisor and task reaper.
pub struct Orchestrator {
    store: Store,
    proposer: Proposer,
}

impl Orchestrator {
    pub fn new(store: Store, proposer: Proposer) -> Orchestrator {
        Orchestrator { store, proposer }
    }

    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut events = self.store.subscribe();
        let mut dirty = self.all_services();
        let mut wakes: BTreeMap<String, i64> = BTreeMap::new();
        loop {
            let now = now_nanos();
            let due: Vec<String> = wakes.iter().filter(|(_, at)| **at <= now).map(|(id, _)| id.clone()).collect();
            for id in due {
                wakes.remove(&id);
                dirty.insert(id);
            }
            if !dirty.is_empty() {
                let ids = std::mem::take(&mut dirty);
                let (ops, new_wakes, restarts) = self.store.view(|s| decide(s, &ids, now));
                for id in &ids {
                    wakes.remove(id);
                }
                wakes.extend(new_wakes);
                if !ops.is_empty() {
                    if !watch::write(&self.proposer, ops, &stop, "orchestrator").await {
                        if stop.is_cancelled() {
                            return;
                        }
                        dirty.extend(ids);
                    } else {
                        crate::metrics::METRICS.orchestrator_restarts.inc_by(restarts);
                    }
                    continue;
                }
            }
            let sleep = wakes.values().min().map(|at| Duration::from_nanos((at - now).max(0) as u64));
            tokio::select! {
                _ = stop.cancelled() => return,
                wake = watch::next(&mut events) => match wake {
                    Wake::Commits(commits) => {
                        for change in commits.iter().flat_map(|c| c.changes.iter()) {
                            match change.object() {
                                Object::Service(s) => { dirty.insert(s.id.clone()); }
                                Object::Task(t) => { dirty.insert(t.service_id.clone()); }
                                // Immutable; a spec names them by id.
                                Object::Network(_) | Object::Secret(_) | Object::Config(_) => {}
                                Object::Cluster(_) => dirty.extend(self.all_services()),
                                Object::Node(n) => {
                                    dirty.extend(self.store.view(|s| services_on(s, &n.id)));
                                    dirty.extend(self.store.view(global_services));
                                }
                            }
                        }
                    }
                    Wake::Resync => dirty.extend(self.all_services()),
                    Wake::Closed => return,
                },
                _ = tokio::time::sleep(sleep.unwrap_or_default()), if sleep.is_some() => {}
            }
        }
    }

    /// Every service, and every service id that still has tasks.
    fn all_services(&self) -> BTreeSet<String> {
        self.store.view(|s| s.services().map(|s| s.id.clone()).chain(s.tasks().map(|t| t.service_id.clone())).collect())
    }
}

/// Whether `node_id` can no longer run tasks: removed, Down, or drained.
fn node_lost(store: &MemoryStore, node_id: &str) -> bool {
    store.node(node_id).is_none_or(|n| {
        n.status.as_ref().is_some_and(|s| s.state() == NodeState::Down)
            || n.spec.as_ref().is_some_and(|s| s.availability() == NodeAvailability::Drain)
    })
}

/// Every global service.
fn global_services(store: &MemoryStore) -> BTreeSet<String> {
    store.services().filter(|s| is_global(s)).map(|s| s.id.clone()).collect()
}

fn is_global(service: &Service) -> bool {
    matches!(service.spec.as_ref().and_then(|s| s.mode.as_ref()), Some(Mode::Global(_) | Mode::GlobalJob(_)))
}

/// The nodes that meet the service's constraints, each node described
/// once; `None` when it has none (every node does). The constraints were
/// validated when the service was written: one that no longer parses
/// matches no node.
fn fitting_nodes<'a>(store: &'a MemoryStore, service: &Service) -> Option<HashSet<&'a str>> {
    let placement = service.spec.as_ref().and_then(|s| s.task.as_ref()).and_then(|t| t.placement.as_ref())?;
    if placement.constraints.is_empty() {
        return None;
    }
    let Ok(constraints) = constraint::parse_all(&placement.constraints) else {
        return Some(HashSet::new());
    };
    let fits = |node: &&Node| {
        let info = describe(node);
        constraints.iter().all(|c| c.matches(&info))
    };
    Some(store.nodes().filter(fits).map(|n| n.id.as_str()).collect())
}

/// Every node as the global orchestrator sees it, `lost` saying which may
/// not run the service.
fn candidates(store: &MemoryStore, lost: &dyn Fn(&str) -> bool) -> Vec<global::Candidate> {
    store
        .nodes()
        .map(|node| global::Candidate {
            id: node.id.clone(),
            eligible: !lost(&node.id),
            paused: node.spec.as_ref().is_some_and(|s| s.availability() == NodeAvailability::Pause),
        })
        .collect()
}

/// The services with tasks on a node.
fn services_on(store: &MemoryStore, node_id: &str) -> BTreeSet<String> {
    store.tasks_of_node(node_id).map(|t| t.service_id.clone()).collect()
}

/// Status writes for tasks that stop without a worker saying so: one told
/// to stop before it reached a node ends Shutdown; one whose node can no
/// longer hold it (constraints, resources) is rejected by the enforcer.
/// `evictions` caches each node's tasks over its resources.
fn verdicts(
    store: &MemoryStore,
    tasks: &[&Task],
    fitting: Option<&HashSet<&str>>,
    evictions: &mut BTreeMap<String, Vec<String>>,
    now: i64,
) -> Vec<Op> {
    let mut out = Vec::new();
    for task in tasks {
        if task.state() < TaskState::Assigned && task.desired_state() == TaskState::Shutdown {
            let status = TaskStatus {
                state: TaskState::Shutdown as i32,
                message: "shut down before it was assigned to a node".into(),
                timestamp: now,
                ..Default::default()
            };
            out.push(ops::task_status(&task.id, status));
            continue;
        }
        if !enforcer::is_placed(task) || node_lost(store, &task.node_id) {
            continue;
        }
        let misfit = fitting.is_some_and(|f| !f.contains(task.node_id.as_str()));
        let over = evictions.entry(task.node_id.clone()).or_insert_with(|| over_capacity(store, &task.node_id));
        if misfit || over.contains(&task.id) {
            out.push(ops::task_status(&task.id, enforcer::rejected(now)));
        }
    }
    out
}

/// The tasks of a node beyond what it can hold now.
fn over_capacity(store: &MemoryStore, node_id: &str) -> Vec<String> {
    let Some(node) = store.node(node_id) else { return Vec::new() };
    let tasks: Vec<&Task> = store.tasks_of_node(node_id).collect();
    enforcer::over_capacity(capacity(node), &tasks)
}

/// What `service ps` says of a task a rebalance moved.
pub const MOVED_BY_REBALANCE: &str = "moved by service rebalance";

/// What to write for the services `ids`, when to look at them again, and
/// how many of the tasks written replace a failed one (restarts).
fn decide(store: &MemoryStore, ids: &BTreeSet<String>, now: i64) -> (Vec<Op>, Vec<(String, i64)>, u64) {
    let history_limit = store
        .cluster()
        .and_then(|c| c.spec.as_ref())
        .and_then(|s| s.orchestration.as_ref())
        .map_or(DEFAULT_TASK_HISTORY_LIMIT, |o| o.task_history_retention_limit);
    let mut new_id = new_id;
    let mut evictions = BTreeMap::new();
    let mut batch = Vec::new();
    let mut wakes = Vec::new();
    let mut restarts = 0;
    for id in ids {
        let tasks: Vec<&Task> = store.tasks_of_service(id).collect();
        if id.is_empty() {
            // Tasks outside services (`shoal run`): nothing to converge.
            let gone = |node_id: &str| store.node(node_id).is_none();
            batch.extend(reaper::reap_standalone(&tasks, &gone).iter().map(|t| ops::delete(ObjectKind::Task, t)));
            continue;
        }
        let service = store.service(id);
        // A node that no longer meets the constraints loses the service's
        // tasks as a Down one does: they move to nodes that do.
        let fitting = service.and_then(|s| fitting_nodes(store, s));
        let lost = |node_id: &str| node_lost(store, node_id) || fitting.as_ref().is_some_and(|f| !f.contains(node_id));
        let mut env = Env { now, lost: &lost, new_id: &mut new_id };
        let spec_version = service.map_or(0, |s| s.spec_version);
        let plan = match (service, service.and_then(|s| s.spec.as_ref()).and_then(|s| s.mode.as_ref())) {
            (Some(_), Some(Mode::Global(_))) => {
                global::reconcile(service, &tasks, &candidates(store, &lost), false, &mut env)
            }
            (Some(_), Some(Mode::GlobalJob(_))) => {
                global::reconcile(service, &tasks, &candidates(store, &lost), true, &mut env)
            }
            (Some(s), Some(Mode::ReplicatedJob(job))) => jobs::reconcile(s, job, &tasks, &mut env),
            _ => replicated::reconcile(service, &tasks, &mut env),
        };
        for action in plan.actions {
            batch.push(match action {
                Action::Create(task) => {
                    restarts += u64::from(!task.restart_history.is_empty());
                    ops::create(Object::Task(*task))
                }
                // A task stopped because `service rebalance` marked it says so.
                Action::SetDesired(task_id, state) if service.is_some_and(|s| s.rebalance.contains(&task_id)) => {
                    ops::task_desired_because(&task_id, state, MOVED_BY_REBALANCE)
                }
                Action::SetDesired(task_id, state) => ops::task_desired(&task_id, state),
                Action::Status(status, rollback) => ops::service_status(id, spec_version, *status, rollback),
            });
        }
        batch.extend(verdicts(store, &tasks, fitting.as_ref(), &mut evictions, now));
        for task_id in reaper::reap(&tasks, history_limit) {
            batch.push(ops::delete(ObjectKind::Task, &task_id));
        }
        if let Some(at) = plan.wake_at {
            wakes.push((id.clone(), at));
        }
    }
    (batch, wakes, restarts)
}
