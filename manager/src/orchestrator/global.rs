//! The global orchestrator's decisions, pure: one task of the service on
//! every node that may run it, as Swarm's `--mode global`.
//!
//! A node may run the service when it is not Down, not drained, and meets
//! the service's constraints. Per such node the newest task speaks for the
//! node, as the newest of a slot does for a replicated service (restart
//! policy included); a node without one gets a task bound to it (the
//! scheduler still checks the node's resources and runtime), unless it is
//! paused: a paused node keeps its tasks and takes no new ones (a task
//! that ends there is told to stop, and replaced once the node is active
//! again if its restart policy would have replaced it). Tasks on
//! nodes that may no longer run the service are shut down, and the node
//! gets a fresh task if it qualifies again; every task of a deleted
//! service is removed. A changed spec rolls out node by node as a
//! replicated service's does slot by slot.

use std::collections::BTreeMap;

use shoal_proto::{Service, Task, TaskState};

use shoal_spec::tasks::{awaits_first_run, is_complete, of_current_run, of_earlier_run, runs_may_overlap, withdrawn};

use super::plan::{Action, Env, Plan, creation, new_task};
use super::restart;
use super::slot::{reconcile_latest, roll, stop_older, updatable};

/// A node as the global orchestrator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    /// Not Down or drained, and the service's constraints hold.
    pub eligible: bool,
    /// Availability Pause: keeps its tasks, takes no new ones.
    pub paused: bool,
}

/// Decides for a global `service` (None once deleted) with `tasks` all of
/// its tasks and `nodes` every node of the cluster. For a global `job`, a
/// node whose newest task completed is done: it is never restarted.
pub fn reconcile(
    service: Option<&Service>,
    tasks: &[&Task],
    nodes: &[Candidate],
    job: bool,
    env: &mut Env<'_>,
) -> Plan {
    let mut plan = Plan::default();
    let mut by_node: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.desired_state() < TaskState::Remove) {
        by_node.entry(&task.node_id).or_default().push(task);
    }
    let Some(service) = service else {
        for task in by_node.values().flatten() {
            plan.actions.push(Action::SetDesired(task.id.clone(), TaskState::Remove));
        }
        return plan;
    };
    let mut newest = Vec::new();
    let mut dirty = Vec::new();
    let eligible: Vec<&Candidate> = nodes.iter().filter(|n| n.eligible).collect();
    for node in &eligible {
        let mut node_tasks = by_node.remove(node.id.as_str()).unwrap_or_default();
        node_tasks.sort_by_key(|t| (creation(t), t.id.clone()));
        let fresh = |env: &mut Env<'_>| {
            let task = new_task(service, 0, TaskState::Running, Vec::new(), env.now, (env.new_id)());
            Action::Create(Box::new(bound(task, &node.id)))
        };
        // A paused node keeps its tasks as they are and takes no new one.
        let Some(latest) = node_tasks.pop() else {
            if !(node.paused || job && awaits_first_run(service)) {
                plan.actions.push(fresh(env));
            }
            continue;
        };
        if node.paused {
            // A task that ends there is not replaced while the node is paused.
            if latest.state().is_terminal() && latest.desired_state() <= TaskState::Running {
                plan.actions.push(Action::SetDesired(latest.id.clone(), TaskState::Shutdown));
            }
            continue;
        }
        if withdrawn(latest) {
            // Stopped when the node stopped qualifying: it qualifies again.
            plan.actions.push(fresh(env));
            continue;
        }
        if let Some(history) = ended_while_paused(service, latest) {
            // The node is active again: the restart its pause held back.
            let task = new_task(service, 0, TaskState::Running, history, env.now, (env.new_id)());
            plan.actions.push(Action::Create(Box::new(bound(task, &node.id))));
            continue;
        }
        // A job's completed tasks stay: they count as its completions; an
        // earlier run's task left to finish stays too.
        let overlap = job && runs_may_overlap(service);
        node_tasks.retain(|t| !(is_complete(t) || overlap && t.job_iteration != latest.job_iteration));
        stop_older(latest, &node_tasks, env, &mut plan);
        if job && of_earlier_run(latest, service) {
            // The schedule's next run starts, beside the old one or instead.
            if !overlap {
                plan.actions.push(Action::SetDesired(latest.id.clone(), TaskState::Shutdown));
            }
            plan.actions.push(fresh(env));
            continue;
        }
        if job && is_complete(latest) {
            // Done, unless it ran an older spec or run: then it runs again.
            if !of_current_run(latest, service) {
                plan.actions.push(fresh(env));
            }
            continue;
        }
        newest.push(latest);
        if !job && updatable(service, latest, env) {
            dirty.push(latest);
            continue;
        }
        let mut node_plan = Plan::default();
        reconcile_latest(service, latest, &node_tasks, env, &mut node_plan);
        for action in node_plan.actions {
            plan.actions.push(match action {
                Action::Create(task) => Action::Create(Box::new(bound(*task, &node.id))),
                other => other,
            });
        }
        if let Some(at) = node_plan.wake_at {
            plan.wake(at);
        }
    }
    if !job {
        roll(service, tasks, &newest, dirty, eligible.len(), env, &mut plan, |task, old| bound(task, &old.node_id));
    }
    // What is left runs on nodes that may no longer run the service.
    let running = |t: &&&Task| t.desired_state() <= TaskState::Running && !is_complete(t);
    for task in by_node.values().flatten().filter(running) {
        plan.actions.push(Action::SetDesired(task.id.clone(), TaskState::Shutdown));
    }
    plan
}

/// Ended by itself and told to stop although its restart policy, when it
/// ended, would have restarted it: it ended on a paused node. The restart
/// history its replacement carries.
fn ended_while_paused(service: &Service, task: &Task) -> Option<Vec<i64>> {
    let status = task.status.as_ref()?;
    let ended = task.desired_state() > TaskState::Running && task.state().is_terminal();
    let history = restart::replacement_history(task, restart::attempts(service, task), status.timestamp);
    history.filter(|_| ended && !withdrawn(task))
}

fn bound(mut task: Task, node_id: &str) -> Task {
    task.node_id = node_id.to_string();
    task
}

#[cfg(test)]
mod tests;
