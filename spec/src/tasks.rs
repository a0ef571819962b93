//! What a task's state means for its service, judged the same by the
//! managers' loops and by the CLI that waits for a service to converge.

use shoal_proto::{JobSchedule, ScheduleOverlap, Service, Task, TaskHealth, TaskSpec, TaskState};

/// Whether `task` runs something else than the service's task template,
/// or publishes other ports than the service does now (a task joins the
/// routing mesh, and binds host-mode ports, as its service was when it
/// was made). Once a task has a node, a change of placement alone does
/// not make it dirty (swarmkit's rule): if its node no longer meets the
/// constraints, the orchestrator moves it as from a lost node. A task
/// `service rebalance` moves is dirty too: it is replaced as one.
pub fn is_dirty(service: &Service, task: &Task) -> bool {
    let template = service.spec.as_ref().and_then(|s| s.task.as_ref());
    let differs = match (task.spec.as_ref(), template) {
        (Some(ours), Some(theirs)) if ours != theirs && task.state() >= TaskState::Assigned => {
            ours.placement == theirs.placement
                || ours != &TaskSpec { placement: ours.placement.clone(), ..theirs.clone() }
        }
        (ours, theirs) => ours != theirs,
    };
    differs || ports(task.endpoint.as_ref()) != ports(service.endpoint.as_ref()) || service.rebalance.contains(&task.id)
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

/// Running and, if its health is checked, healthy: up for the updater and
/// for the CLI's wait. A check is the spec's, or one its runtime runs (an
/// image's HEALTHCHECK), which the worker tells by reporting a health.
pub fn is_up(task: &Task) -> bool {
    task.state() == TaskState::Running && (!checks_health(task) || health(task) == TaskHealth::Healthy)
}

/// Whether the task's health is checked: its spec has a check, or its
/// worker reports a health (the runtime's own check, such as an image's).
pub fn checks_health(task: &Task) -> bool {
    has_health_check(task) || health(task) != TaskHealth::None
}

/// Whether the task's spec has a health check (a test other than NONE).
pub fn has_health_check(task: &Task) -> bool {
    let test = task.spec.as_ref().and_then(|s| s.container.as_ref()).and_then(|c| c.healthcheck.as_ref());
    test.and_then(|h| h.test.first()).is_some_and(|kind| kind != "NONE")
}

pub fn health(task: &Task) -> TaskHealth {
    task.status.as_ref().map_or(TaskHealth::None, |s| s.health())
}

/// Whether a task completed (exit status 0).
pub fn is_complete(task: &Task) -> bool {
    task.status.as_ref().is_some_and(|s| s.state() == TaskState::Complete)
}

/// Whether a task counts as one of the job's completions: it completed
/// the current spec in the current run (an updated job runs again, a
/// scheduled one at each run).
pub fn counts_as_done(task: &Task, service: &Service) -> bool {
    is_complete(task) && of_current_run(task, service)
}

/// Whether a job's task was made for its current spec and run.
pub fn of_current_run(task: &Task, service: &Service) -> bool {
    task.spec_version == service.spec_version && task.job_iteration == job_iteration(service)
}

/// The run of a scheduled job its tasks are made for (0: none yet, or
/// not scheduled).
pub fn job_iteration(service: &Service) -> u64 {
    service.job_status.as_ref().map_or(0, |j| j.iteration)
}

/// The job's schedule, if it has one.
pub fn schedule(service: &Service) -> Option<&JobSchedule> {
    service.spec.as_ref()?.schedule.as_ref()
}

/// A scheduled job before its first run: no task yet.
pub fn awaits_first_run(service: &Service) -> bool {
    schedule(service).is_some() && job_iteration(service) == 0
}

/// A scheduled job whose runs may overlap: a run still going when the
/// next starts keeps going.
pub fn runs_may_overlap(service: &Service) -> bool {
    schedule(service).is_some_and(|s| s.overlap() == ScheduleOverlap::Allow)
}

/// A task of an earlier run of its scheduled job, still going: stopped
/// when the next run starts, unless runs may overlap.
pub fn of_earlier_run(task: &Task, service: &Service) -> bool {
    task.job_iteration != job_iteration(service) && still_going(task)
}

/// Meant to run and not ended yet.
pub fn still_going(task: &Task) -> bool {
    task.desired_state() <= TaskState::Running && !task.state().is_terminal()
}

/// Told to stop while it had not ended by itself: the orchestrator withdrew
/// it from a node that stopped qualifying (a task the restart policy gave
/// up on had completed, failed or been rejected first).
pub fn withdrawn(task: &Task) -> bool {
    let state = task.state();
    task.desired_state() > TaskState::Running
        && !matches!(state, TaskState::Complete | TaskState::Failed | TaskState::Rejected)
}
