//! The replicated orchestrator's decisions, pure: given a service and its
//! tasks, what to create, stop and remove so that N slots each have one
//! task running. Each kept slot is then decided by the rules every mode
//! shares (`slot.rs`).
//!
//! Slots are numbered from 1; a new slot takes the lowest number free.
//! Beyond N slots, those to remove are chosen as swarmkit does
//! ([`scale_down`]); every task of a deleted service is removed.

use std::collections::BTreeMap;

use shoal_proto::{Service, Task, TaskState, service_spec::Mode};

use super::plan::{Action, Env, Plan, creation, new_task};
use super::slot::{reconcile_latest, roll, stop_older, updatable};

/// Decides for `service` (None once it is deleted) with `tasks` all of its
/// tasks.
pub fn reconcile(service: Option<&Service>, tasks: &[&Task], env: &mut Env<'_>) -> Plan {
    let now = env.now;
    let mut plan = Plan::default();
    let replicas = match service.and_then(|s| s.spec.as_ref()).and_then(|s| s.mode.as_ref()) {
        Some(Mode::Replicated(r)) => r.replicas,
        Some(_) => return plan,
        None if service.is_some() => 1,
        None => 0,
    };
    let mut slots: BTreeMap<u64, Vec<&Task>> = BTreeMap::new();
    for task in tasks.iter().filter(|t| t.desired_state() < TaskState::Remove) {
        slots.entry(task.slot).or_default().push(task);
    }
    for slot_tasks in slots.values_mut() {
        slot_tasks.sort_by_key(|t| (creation(t), t.id.clone()));
    }
    let Some(service) = service else {
        // Every slot goes once the service is gone.
        for task in slots.values().flatten() {
            plan.actions.push(Action::SetDesired(task.id.clone(), TaskState::Remove));
        }
        return plan;
    };
    let (keep, extra) = scale_down(slots, replicas as usize);
    for task in extra.into_iter().flatten() {
        plan.actions.push(Action::SetDesired(task.id.clone(), TaskState::Remove));
    }
    // New slots take the lowest numbers free.
    let taken: Vec<u64> = keep.iter().map(|(slot, _)| *slot).collect();
    let free = (1u64..).filter(|n| !taken.contains(n));
    for slot in free.take((replicas as usize).saturating_sub(keep.len())) {
        let task = new_task(service, slot, TaskState::Running, Vec::new(), now, (env.new_id)());
        plan.actions.push(Action::Create(Box::new(task)));
    }
    let mut newest = Vec::new();
    let mut dirty = Vec::new();
    for (_, mut slot_tasks) in keep {
        let Some(latest) = slot_tasks.pop() else { continue };
        stop_older(latest, &slot_tasks, env, &mut plan);
        newest.push(latest);
        if updatable(service, latest, env) {
            dirty.push(latest);
        } else {
            reconcile_latest(service, latest, &slot_tasks, env, &mut plan);
        }
    }
    roll(service, tasks, &newest, dirty, replicas as usize, env, &mut plan, |task, _| task);
    plan
}

/// A slot number and its tasks, oldest first.
pub type Slot<'a> = (u64, Vec<&'a Task>);

/// Splits the slots (each's tasks oldest first) into the `replicas` to
/// keep, in slot order, and the rest, as swarmkit scales down: slots whose
/// newest task is not running go first, then slots from the nodes with the
/// most tasks of the service, so the spread stays even; ties keep the
/// lower slot number.
pub fn scale_down(slots: BTreeMap<u64, Vec<&Task>>, replicas: usize) -> (Vec<Slot<'_>>, Vec<Vec<&Task>>) {
    if slots.len() <= replicas {
        return (slots.into_iter().collect(), Vec::new());
    }
    let mut ranked: Vec<Slot<'_>> = slots.into_iter().collect();
    let running = |tasks: &[&Task]| tasks.last().is_some_and(|t| t.state() == TaskState::Running);
    ranked.sort_by_key(|(slot, tasks)| (!running(tasks), *slot));
    // The n-th slot of the service on its node (running ones counted first).
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    // (copy on its node, rank, slot)
    let mut indexed: Vec<(usize, usize, Slot<'_>)> = Vec::with_capacity(ranked.len());
    for (order, entry) in ranked.into_iter().enumerate() {
        let node = entry.1.last().map_or("", |t| t.node_id.as_str());
        let count = per_node.entry(node).or_default();
        *count += 1;
        indexed.push((*count, order, entry));
    }
    indexed.sort_by_key(|(index, order, _)| (*index, *order));
    let extra = indexed.split_off(replicas).into_iter().map(|(_, _, (_, tasks))| tasks).collect();
    let mut keep: Vec<Slot<'_>> = indexed.into_iter().map(|(_, _, entry)| entry).collect();
    keep.sort_by_key(|(slot, _)| *slot);
    (keep, extra)
}

#[cfg(test)]
mod tests;
