//! The replicated orchestrator's decisions, pure: given a service and its
//! tasks, what to create, stop and remove so that N slots each have one
//! task running.
//!
//! Per slot the newest task speaks for the slot:
//! - none (or only tasks being removed): create one;
//! - it should run but its node is lost (Down, drained or removed): stop
//!   it there and create a replacement at once (not a restart attempt);
//! - it should run and has ended: stop it and, if the restart policy
//!   allows, create a replacement, held (desired READY) for the restart
//!   delay; a task that ended while still held (it failed before it
//!   started, say its program does not exist) is replaced only once its
//!   own delay is over, so such a slot makes one task per delay, not a
//!   tight loop (swarmkit's guard);
//! - it runs an older spec: the rolling updater ([`super::update`])
//!   decides when it is replaced: stop-first, the replacement is held
//!   until the old task has stopped; start-first, the old task runs until
//!   the replacement does;
//! - it is held, its delay has passed and no older task of the slot
//!   still runs: let it run;
//! - it was stopped by the restart policy (desired SHUTDOWN): leave the
//!   slot empty, until a new spec version (or `--force`) gives it a fresh
//!   task.
//!
//! Restart attempts count per spec version: a task of a new version
//! starts with none.
//!
//! Slots are numbered from 1; a new slot takes the lowest number free.
//! Beyond N slots, those to remove are chosen as swarmkit does
//! ([`scale_down`]); every task of a deleted service is removed.

use std::collections::BTreeMap;

use shoal_proto::{Service, Task, TaskState, TaskStatus, UpdateOrder, UpdateStatus, service_spec::Mode};

use super::{restart, update};
use crate::store::service_name;

/// One change the orchestrator wants.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create(Box<Task>),
    SetDesired(String, TaskState),
    /// The service's update status; `true`: return to its previous spec.
    Status(Box<UpdateStatus>, bool),
}

/// What to do now, and when to look again (a restart delay ending).
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub wake_at: Option<i64>,
}

impl Plan {
    pub(super) fn wake(&mut self, at: i64) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }
}

/// What reconciling needs besides the service and its tasks.
pub struct Env<'a> {
    /// Time of the decision (unix ns).
    pub now: i64,
    /// Whether a node can no longer run the service's tasks (Down,
    /// drained, removed, or no longer meeting the service's constraints).
    pub lost: &'a dyn Fn(&str) -> bool,
    /// Names created tasks.
    pub new_id: &'a mut dyn FnMut() -> String,
}

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
    for task in tasks.iter().filter(|t| t.desired_state < TaskState::Remove as i32) {
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

/// Stops the older tasks of a slot still meant to run, but those that
/// keep it served until `latest` (a start-first replacement) runs.
pub(super) fn stop_older(latest: &Task, older: &[&Task], env: &Env<'_>, plan: &mut Plan) {
    let latest_runs = latest.state() == TaskState::Running;
    for task in older.iter().filter(|t| t.desired_state <= TaskState::Running as i32) {
        let serving = !task.state().is_terminal() && !task.node_id.is_empty() && !(env.lost)(&task.node_id);
        if serving && !latest_runs {
            continue;
        }
        plan.actions.push(Action::SetDesired(task.id.clone(), TaskState::Shutdown));
    }
}

/// Runs an older spec, where it should run: the updater's to replace.
pub(super) fn updatable(service: &Service, latest: &Task, env: &Env<'_>) -> bool {
    let state = latest.state();
    update::is_dirty(service, latest)
        && latest.desired_state == TaskState::Running as i32
        && state >= TaskState::Assigned
        && !state.is_terminal()
        && !(env.lost)(&latest.node_id)
}

/// Asks the updater which `dirty` tasks to replace now and does it, each
/// new task passed through `shape` with the task it replaces (a global
/// service binds it to that node); records the update's status.
#[allow(clippy::too_many_arguments)]
pub(super) fn roll(
    service: &Service,
    tasks: &[&Task],
    newest: &[&Task],
    dirty: Vec<&Task>,
    total: usize,
    env: &mut Env<'_>,
    plan: &mut Plan,
    shape: impl Fn(Task, &Task) -> Task,
) {
    // Some slot still to move to the current spec (the running ones are
    // `dirty`; the others are being replaced this pass).
    let stale = newest.iter().any(|t| t.desired_state <= TaskState::Running as i32 && update::is_dirty(service, t));
    let rollout = update::plan(service, tasks, newest, dirty, stale, total, env.now);
    let start_first = update::config(service).order() == UpdateOrder::StartFirst;
    for old in rollout.replace {
        let desired = if start_first { TaskState::Running } else { TaskState::Ready };
        if !start_first {
            plan.actions.push(Action::SetDesired(old.id.clone(), TaskState::Shutdown));
        }
        // A new spec version: no restart attempt counted yet.
        let task = new_task(service, old.slot, desired, Vec::new(), env.now, (env.new_id)());
        plan.actions.push(Action::Create(Box::new(shape(task, old))));
    }
    if let Some((status, rollback)) = rollout.status {
        plan.actions.push(Action::Status(Box::new(status), rollback));
    }
    if let Some(at) = rollout.wake_at {
        plan.wake(at);
    }
}

/// Decides for the newest task of a slot (or of a global service's node),
/// `older` the slot's other tasks.
pub(super) fn reconcile_latest(service: &Service, latest: &Task, older: &[&Task], env: &mut Env<'_>, plan: &mut Plan) {
    let now = env.now;
    let state = latest.state();
    if latest.desired_state > TaskState::Running as i32 {
        // Stopped by the restart policy: a new spec version (or `--force`)
        // starts the slot afresh; so does new placement that its node
        // no longer meets.
        let template = service.spec.as_ref().and_then(|s| s.task.as_ref());
        let moved = latest.spec.as_ref() != template && (env.lost)(&latest.node_id);
        if state.is_terminal() && (moved || update::is_dirty(service, latest)) {
            let task = new_task(service, latest.slot, TaskState::Running, Vec::new(), now, (env.new_id)());
            plan.actions.push(Action::Create(Box::new(task)));
        }
        return;
    }
    let attempts = restart::attempts(service, latest);
    let held = latest.desired_state == TaskState::Ready as i32 && state <= TaskState::Ready;
    if (state < TaskState::Assigned || held) && update::is_dirty(service, latest) {
        // Still waiting for a node, or held, with an older spec (say,
        // constraints no node meets): it never ran, so it is replaced at
        // once.
        let desired = TaskState::try_from(latest.desired_state).unwrap_or(TaskState::Running);
        replace(service, latest, desired, attempts.to_vec(), 0, env, plan);
        return;
    }
    if !state.is_terminal() && !latest.node_id.is_empty() && (env.lost)(&latest.node_id) {
        replace(service, latest, TaskState::Running, attempts.to_vec(), 0, env, plan);
        return;
    }
    if state.is_terminal() {
        if latest.hold_until > now {
            // Ended while still held for its restart delay (it failed
            // before it started): its replacement waits the delay out.
            plan.wake(latest.hold_until);
            return;
        }
        match restart::replacement_history(latest, attempts, now) {
            Some(history) => {
                let delay = restart::delay(
                    service.spec.as_ref().and_then(|s| s.task.as_ref()).and_then(|t| t.restart.as_ref()),
                );
                let desired = if delay > 0 { TaskState::Ready } else { TaskState::Running };
                let until = now.saturating_add(delay);
                replace(service, latest, desired, history, until, env, plan);
                if delay > 0 {
                    plan.wake(until);
                }
            }
            None => plan.actions.push(Action::SetDesired(latest.id.clone(), TaskState::Shutdown)),
        }
        return;
    }
    if latest.desired_state == TaskState::Ready as i32 {
        // Held: for its restart delay, and (stop-first) until the task it
        // replaces has stopped.
        let older_runs = older.iter().any(|t| {
            let st = t.state();
            st >= TaskState::Assigned && !st.is_terminal() && !(env.lost)(&t.node_id)
        });
        if latest.hold_until > now {
            plan.wake(latest.hold_until);
        } else if !older_runs {
            plan.actions.push(Action::SetDesired(latest.id.clone(), TaskState::Running));
        }
    }
}

/// Stops `old` and creates its slot's next task, `desired` from the start
/// and held until `hold_until` if that is READY.
fn replace(
    service: &Service,
    old: &Task,
    desired: TaskState,
    history: Vec<i64>,
    hold_until: i64,
    env: &mut Env<'_>,
    plan: &mut Plan,
) {
    plan.actions.push(Action::SetDesired(old.id.clone(), TaskState::Shutdown));
    let mut task = new_task(service, old.slot, desired, history, env.now, (env.new_id)());
    task.hold_until = hold_until;
    plan.actions.push(Action::Create(Box::new(task)));
}

/// Creation order: raft index first (leaders' clocks may disagree).
pub fn creation(task: &Task) -> (u64, i64) {
    task.meta.as_ref().map_or((0, 0), |m| (m.created_index, m.created_at))
}

/// A new task for `slot` of `service`, waiting for the scheduler.
pub fn new_task(
    service: &Service,
    slot: u64,
    desired: TaskState,
    restart_history: Vec<i64>,
    now: i64,
    id: String,
) -> Task {
    Task {
        id,
        service_id: service.id.clone(),
        slot,
        spec: service.spec.as_ref().and_then(|s| s.task.clone()),
        spec_version: service.spec_version,
        service_name: service_name(service).to_string(),
        desired_state: desired as i32,
        status: Some(TaskStatus {
            timestamp: now,
            state: TaskState::Pending as i32,
            message: "pending task scheduling".into(),
            ..Default::default()
        }),
        restart_history,
        endpoint: service.endpoint.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
