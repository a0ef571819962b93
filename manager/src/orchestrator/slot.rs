//! The rules for one slot (a replicated service's slot, or a global
//! service's node), shared by every mode. The newest task speaks for the
//! slot:
//! - none (or only tasks being removed): the mode's reconcile creates one;
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

use shoal_proto::{Service, Task, TaskState, UpdateOrder};

use shoal_spec::tasks::is_dirty;

use super::plan::{Action, Env, Plan, new_task};
use super::{restart, update};

/// Stops the older tasks of a slot still meant to run, but those that
/// keep it served until `latest` (a start-first replacement) runs.
pub(super) fn stop_older(latest: &Task, older: &[&Task], env: &Env<'_>, plan: &mut Plan) {
    let latest_runs = latest.state() == TaskState::Running;
    for task in older.iter().filter(|t| t.desired_state() <= TaskState::Running) {
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
    is_dirty(service, latest)
        && latest.desired_state() == TaskState::Running
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
    let stale = newest.iter().any(|t| t.desired_state() <= TaskState::Running && is_dirty(service, t));
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
    if latest.desired_state() > TaskState::Running {
        // Stopped by the restart policy: a new spec version (or `--force`)
        // starts the slot afresh; so does new placement that its node
        // no longer meets.
        let template = service.spec.as_ref().and_then(|s| s.task.as_ref());
        let moved = latest.spec.as_ref() != template && (env.lost)(&latest.node_id);
        if state.is_terminal() && (moved || is_dirty(service, latest)) {
            let task = new_task(service, latest.slot, TaskState::Running, Vec::new(), now, (env.new_id)());
            plan.actions.push(Action::Create(Box::new(task)));
        }
        return;
    }
    let attempts = restart::attempts(service, latest);
    let held = latest.desired_state() == TaskState::Ready && state <= TaskState::Ready;
    if (state < TaskState::Assigned || held) && is_dirty(service, latest) {
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
    if latest.desired_state() == TaskState::Ready {
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
