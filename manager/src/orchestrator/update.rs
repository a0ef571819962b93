//! The rolling updater's decisions, pure: when a service's task template
//! changes, which of its running tasks to replace now, and how the update
//! stands (Swarm's update config, read from the service's `update` or,
//! during a rollback, `rollback` settings).
//!
//! - A task is dirty when its spec is not the service's task template.
//!   `parallelism` dirty tasks are replaced at a time (0: all at once): a
//!   replacement is in flight until it runs, and its lane stays busy for
//!   `delay` after it started.
//! - A task of the new spec version that ends by itself (completes, fails,
//!   is rejected) before it started or within `monitor` of starting is a
//!   failure. Once failures exceed `max_failure_ratio` of the service's
//!   tasks, the failure action applies: pause (nothing more is replaced
//!   until the next change to the service), roll back (to the previous
//!   spec, as a new spec version, with the rollback settings), or continue.
//! - A replacement whose health is checked (by its spec, or by its
//!   runtime: an image's HEALTHCHECK) is in flight until it is healthy;
//!   one still not healthy `monitor` after it started is a failure.
//! - The update is complete when no task is dirty, none is in flight, and
//!   `monitor` has passed since the last replacement started.

use shoal_proto::{FailureAction, Service, Task, TaskHealth, TaskState, UpdateConfig, UpdateState, UpdateStatus};

use shoal_spec::tasks::{checks_health, health, is_up};
use shoal_spec::update::default_config;

use super::plan::creation;

/// The settings that drive the service's current update or rollback.
pub fn config(service: &Service) -> UpdateConfig {
    let spec = service.spec.as_ref();
    let config = if state(service).is_rollback() {
        spec.and_then(|s| s.rollback.as_ref())
    } else {
        spec.and_then(|s| s.update.as_ref())
    };
    config.copied().unwrap_or_else(default_config)
}

/// Where the service's update stands (Unknown: none since the last change).
pub fn state(service: &Service) -> UpdateState {
    service.update_status.as_ref().map_or(UpdateState::Unknown, |s| s.state())
}

/// What the updater wants now.
#[derive(Debug, Default, PartialEq)]
pub struct Rollout<'a> {
    /// Dirty tasks to replace now.
    pub replace: Vec<&'a Task>,
    /// The update's new status, and whether to return to the previous spec.
    pub status: Option<(UpdateStatus, bool)>,
    /// When to look again (a lane's delay ending, the monitor period).
    pub wake_at: Option<i64>,
}

/// Decides for `service` with `tasks` all its tasks, `newest` the newest
/// task of each of its `total` slots (or nodes), and `dirty` those of the
/// newest that are dirty and running, in the order to replace them;
/// `stale` if any slot is still to move to the current spec.
pub fn plan<'a>(
    service: &Service,
    tasks: &[&Task],
    newest: &[&Task],
    dirty: Vec<&'a Task>,
    stale: bool,
    total: usize,
    now: i64,
) -> Rollout<'a> {
    let mut out = Rollout::default();
    let current = state(service);
    if current.is_paused() || (!current.is_active() && !stale && dirty.is_empty()) {
        return out; // paused until the next change, or nothing to do
    }
    let rollback = current == UpdateState::RollbackStarted;
    let config = config(service);
    let started = match (current.is_active(), &service.update_status) {
        (true, Some(s)) => s.started_at,
        _ => {
            out.status = Some((status(UpdateState::Updating, now, "update in progress"), false));
            now
        }
    };

    let ours = |t: &&&Task| t.spec_version == service.spec_version;
    let mut failures: Vec<&Task> =
        tasks.iter().filter(ours).copied().filter(|t| failed_early(t, &config, now)).collect();
    failures.sort_by_key(|t| (creation(t), t.id.clone()));
    if let Some(first) = failures.first()
        && failures.len() as f64 > f64::from(config.max_failure_ratio) * total as f64
    {
        let why = format!("due to failure or early termination of task {}", first.id);
        let action = match config.failure_action() {
            FailureAction::Rollback if rollback || service.previous_spec.is_none() => FailureAction::Pause,
            action => action,
        };
        match action {
            FailureAction::Pause if rollback => {
                out.status =
                    Some((status(UpdateState::RollbackPaused, started, &format!("rollback paused {why}")), false));
                return out;
            }
            FailureAction::Pause => {
                out.status = Some((status(UpdateState::Paused, started, &format!("update paused {why}")), false));
                return out;
            }
            FailureAction::Rollback => {
                let message = format!("update rolled back {why}");
                out.status = Some((status(UpdateState::RollbackStarted, now, &message), true));
                return out;
            }
            FailureAction::Continue => {}
        }
    }

    let mut in_flight = 0;
    let mut busy = 0;
    let mut last_start = started;
    for task in newest.iter().filter(ours) {
        let st = task.state();
        if !st.is_terminal() && !is_up(task) && task.desired_state() <= TaskState::Running {
            in_flight += 1;
            busy += 1;
            // Still not healthy when its monitor period ends: a failure then.
            let started = task.status.as_ref().map_or(0, |s| s.started_at);
            let judged_at = started.saturating_add(config.monitor_ns).saturating_add(1);
            if started > 0 && judged_at > now {
                out.wake(judged_at);
            }
            continue;
        }
        let Some(start) = task.status.as_ref().map(|s| s.started_at).filter(|at| *at > 0) else { continue };
        last_start = last_start.max(start);
        let free_at = start.saturating_add(config.delay_ns);
        if free_at > now {
            busy += 1;
            out.wake(free_at);
        }
    }
    let lanes = if config.parallelism == 0 { usize::MAX } else { config.parallelism as usize };
    let remaining = dirty.len();
    out.replace = dirty.into_iter().take(lanes.saturating_sub(busy)).collect();
    if remaining == 0 && in_flight == 0 {
        let done_at = last_start.saturating_add(config.monitor_ns);
        if done_at <= now {
            let (state, message) = if rollback {
                (UpdateState::RollbackCompleted, "rollback completed")
            } else {
                (UpdateState::Completed, "update completed")
            };
            let mut done = status(state, started, message);
            done.completed_at = now;
            out.status = Some((done, false));
        } else {
            out.wake(done_at);
        }
    }
    out
}

impl Rollout<'_> {
    fn wake(&mut self, at: i64) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }
}

/// An update status in `state`, started at `started_at`.
pub fn status(state: UpdateState, started_at: i64, message: &str) -> UpdateStatus {
    UpdateStatus { state: state as i32, started_at, completed_at: 0, message: message.to_string() }
}

/// Ended by itself before it started or within the monitor period after,
/// or runs but has not become healthy within the monitor period.
fn failed_early(task: &Task, config: &UpdateConfig, now: i64) -> bool {
    let Some(status) = &task.status else { return false };
    let monitored = |at: i64| status.started_at == 0 || at.saturating_sub(status.started_at) <= config.monitor_ns;
    match status.state() {
        TaskState::Complete | TaskState::Failed | TaskState::Rejected => monitored(status.timestamp),
        TaskState::Running => {
            checks_health(task)
                && health(task) != TaskHealth::Healthy
                && task.desired_state() <= TaskState::Running
                && !monitored(now)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
