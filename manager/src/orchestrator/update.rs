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
//! - A replacement with a health check is in flight until it is healthy;
//!   one still not healthy `monitor` after it started is a failure.
//! - The update is complete when no task is dirty, none is in flight, and
//!   `monitor` has passed since the last replacement started.

use shoal_proto::{
    FailureAction, Service, Task, TaskHealth, TaskSpec, TaskState, UpdateConfig, UpdateOrder, UpdateState, UpdateStatus,
};

use super::plan::creation;

/// Swarm's update (and rollback) defaults: one task at a time, no delay,
/// monitor 5 s, pause on failure, stop-first.
pub fn default_config() -> UpdateConfig {
    UpdateConfig {
        parallelism: 1,
        delay_ns: 0,
        failure_action: FailureAction::Pause as i32,
        monitor_ns: 5_000_000_000,
        max_failure_ratio: 0.0,
        order: UpdateOrder::StopFirst as i32,
    }
}

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

/// Whether `task` runs something else than the service's task template,
/// or publishes other ports than the service does now (a task joins the
/// routing mesh, and binds host-mode ports, as its service was when it
/// was made). Once a task has a node, a change of placement alone does
/// not make it dirty (swarmkit's rule): if its node no longer meets the
/// constraints, the orchestrator moves it as from a lost node.
pub fn is_dirty(service: &Service, task: &Task) -> bool {
    let template = service.spec.as_ref().and_then(|s| s.task.as_ref());
    let differs = match (task.spec.as_ref(), template) {
        (Some(ours), Some(theirs)) if ours != theirs && task.state() >= TaskState::Assigned => {
            ours.placement == theirs.placement
                || ours != &TaskSpec { placement: ours.placement.clone(), ..theirs.clone() }
        }
        (ours, theirs) => ours != theirs,
    };
    differs || ports(task.endpoint.as_ref()) != ports(service.endpoint.as_ref())
}

fn ports(endpoint: Option<&shoal_proto::Endpoint>) -> &[shoal_proto::PortConfig] {
    endpoint.map_or(&[], |e| e.ports.as_slice())
}

/// Whether a change of spec from `old` to `new` changes what tasks run or
/// publish: then the service gets a new spec version and its tasks are
/// rolled.
pub fn changes_tasks(old: Option<&shoal_proto::ServiceSpec>, new: &shoal_proto::ServiceSpec) -> bool {
    let ports = |s: Option<&shoal_proto::ServiceSpec>| s.and_then(|s| s.endpoint.as_ref()).map(|e| e.ports.clone());
    old.and_then(|s| s.task.as_ref()) != new.task.as_ref() || ports(old) != ports(Some(new))
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
            has_health_check(task)
                && health(task) != TaskHealth::Healthy
                && task.desired_state() <= TaskState::Running
                && !monitored(now)
        }
        _ => false,
    }
}

/// Running and, if it has a health check, healthy: up for the updater and
/// for the CLI's wait.
pub fn is_up(task: &Task) -> bool {
    task.state() == TaskState::Running && (!has_health_check(task) || health(task) == TaskHealth::Healthy)
}

/// Whether the task's spec has a health check (a test other than NONE).
pub fn has_health_check(task: &Task) -> bool {
    let test = task.spec.as_ref().and_then(|s| s.container.as_ref()).and_then(|c| c.healthcheck.as_ref());
    test.and_then(|h| h.test.first()).is_some_and(|kind| kind != "NONE")
}

fn health(task: &Task) -> TaskHealth {
    task.status.as_ref().map_or(TaskHealth::None, |s| s.health())
}

#[cfg(test)]
mod tests;
