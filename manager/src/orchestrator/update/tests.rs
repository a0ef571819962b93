//! Rolling updates through the replicated orchestrator's decisions: the
//! pace (parallelism, delay), the order, failures and their actions, and
//! completion after the monitor period.

use shoal_proto::{
    Annotations, ContainerSpec, FailureAction, Meta, ReplicatedService, RestartPolicy, ServiceSpec, TaskSpec,
    TaskStatus, UpdateConfig, UpdateOrder, service_spec::Mode,
};

use super::*;
use crate::orchestrator::plan::{Action, Env, Plan};
use crate::orchestrator::replicated::reconcile;

const SEC: i64 = 1_000_000_000;

fn template(image: &str) -> TaskSpec {
    TaskSpec {
        container: Some(ContainerSpec { image: image.into(), ..Default::default() }),
        restart: Some(RestartPolicy { delay_ns: Some(0), ..Default::default() }),
        ..Default::default()
    }
}

/// A service at spec version 2 running `image` "new", previously "old".
fn service(replicas: u64, update: UpdateConfig) -> Service {
    let spec = |image: &str| ServiceSpec {
        annotations: Some(Annotations { name: "web".into(), ..Default::default() }),
        task: Some(template(image)),
        mode: Some(Mode::Replicated(ReplicatedService { replicas })),
        update: Some(update),
        rollback: Some(UpdateConfig { parallelism: 0, ..default_config() }),
        ..Default::default()
    };
    Service {
        id: "svc".into(),
        spec: Some(spec("new")),
        previous_spec: Some(spec("old")),
        spec_version: 2,
        ..Default::default()
    }
}

fn config(parallelism: u64, delay_ns: i64) -> UpdateConfig {
    UpdateConfig { parallelism, delay_ns, ..default_config() }
}

/// A task of `slot` running `image` ("old" is spec version 1, "new" 2).
fn task(id: &str, slot: u64, image: &str, created: i64, desired: TaskState, state: TaskState) -> Task {
    Task {
        id: id.into(),
        service_id: "svc".into(),
        slot,
        node_id: "n1".into(),
        spec: Some(template(image)),
        spec_version: if image == "old" { 1 } else { 2 },
        desired_state: desired as i32,
        meta: Some(Meta { created_at: created, created_index: created as u64, ..Default::default() }),
        status: Some(TaskStatus {
            state: state as i32,
            timestamp: created,
            started_at: if state >= TaskState::Running { created } else { 0 },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn old_tasks(n: u64) -> Vec<Task> {
    (1..=n).map(|slot| task(&format!("old{slot}"), slot, "old", 1, TaskState::Running, TaskState::Running)).collect()
}

fn run(service: &Service, tasks: &[Task], now: i64) -> Plan {
    let refs: Vec<&Task> = tasks.iter().collect();
    let mut n = 0;
    let mut new_id = || {
        n += 1;
        format!("new{n}")
    };
    reconcile(Some(service), &refs, &mut Env { now, lost: &|node| node == "lost", new_id: &mut new_id })
}

fn stopped(plan: &Plan) -> Vec<&str> {
    let ids = plan.actions.iter().filter_map(|a| match a {
        Action::SetDesired(id, TaskState::Shutdown) => Some(id.as_str()),
        _ => None,
    });
    ids.collect()
}

fn created(plan: &Plan) -> Vec<(u64, TaskState)> {
    let slots = plan.actions.iter().filter_map(|a| match a {
        Action::Create(t) => Some((t.slot, t.desired_state())),
        _ => None,
    });
    slots.collect()
}

fn status_of(plan: &Plan) -> Option<(UpdateState, bool)> {
    plan.actions.iter().find_map(|a| match a {
        Action::Status(s, rollback) => Some((s.state(), *rollback)),
        _ => None,
    })
}

fn with_status(mut s: Service, state: UpdateState, started_at: i64) -> Service {
    s.update_status = Some(UpdateStatus { state: state as i32, started_at, ..Default::default() });
    s
}

#[test]
fn replaces_parallelism_tasks_at_a_time_and_waits_the_delay() {
    let s = service(4, config(2, SEC));
    let mut tasks = old_tasks(4);
    let plan = run(&s, &tasks, 10 * SEC);
    assert_eq!(status_of(&plan), Some((UpdateState::Updating, false)));
    assert_eq!(stopped(&plan), vec!["old1", "old2"]);
    // Stop-first: the new tasks wait (held) for the old ones to stop.
    assert_eq!(created(&plan), vec![(1, TaskState::Ready), (2, TaskState::Ready)]);

    // Slots 1 and 2 replaced; their new tasks started at 11 s.
    let s = with_status(s, UpdateState::Updating, 10 * SEC);
    for t in &mut tasks[..2] {
        t.set_desired_state(TaskState::Shutdown);
        t.status.as_mut().unwrap().set_state(TaskState::Shutdown);
    }
    tasks.push(task("a", 1, "new", 11 * SEC, TaskState::Running, TaskState::Running));
    tasks.push(task("b", 2, "new", 11 * SEC, TaskState::Running, TaskState::Running));
    let plan = run(&s, &tasks, 11 * SEC + SEC / 2);
    assert!(plan.actions.is_empty(), "the delay runs: {plan:?}");
    assert_eq!(plan.wake_at, Some(12 * SEC));
    let plan = run(&s, &tasks, 12 * SEC);
    assert_eq!(stopped(&plan), vec!["old3", "old4"]);
    assert_eq!(status_of(&plan), None, "still updating");
}

#[test]
fn a_replacement_in_flight_holds_its_lane() {
    let s = with_status(service(3, config(1, 0)), UpdateState::Updating, SEC);
    let mut tasks = old_tasks(3);
    tasks[0].set_desired_state(TaskState::Shutdown);
    tasks.push(task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Preparing));
    assert!(stopped(&run(&s, &tasks, 3 * SEC)).is_empty());
    // Parallelism 0: everything at once.
    let s = with_status(service(3, config(0, 0)), UpdateState::Updating, SEC);
    assert_eq!(stopped(&run(&s, &tasks, 3 * SEC)), vec!["old2", "old3"]);
}

#[test]
fn settings_outside_the_task_template_restart_nothing() {
    let mut s = service(2, config(1, 0));
    s.previous_spec = s.spec.clone();
    let tasks = [
        task("a", 1, "new", 0, TaskState::Running, TaskState::Running),
        task("b", 2, "new", 0, TaskState::Running, TaskState::Running),
    ];
    // Parallelism changed, replicas changed: nothing to roll out.
    assert_eq!(run(&s, &tasks, 10 * SEC), Plan::default());
}

#[test]
fn stop_first_starts_the_new_task_once_the_old_one_stopped() {
    let s = with_status(service(1, config(1, 0)), UpdateState::Updating, SEC);
    let mut tasks = vec![task("old1", 1, "old", 1, TaskState::Shutdown, TaskState::Running)];
    tasks.push(task("a", 1, "new", 2 * SEC, TaskState::Ready, TaskState::Ready));
    assert!(run(&s, &tasks, 3 * SEC).actions.is_empty(), "the old task still runs");
    tasks[0].status.as_mut().unwrap().set_state(TaskState::Shutdown);
    assert_eq!(run(&s, &tasks, 3 * SEC).actions, vec![Action::SetDesired("a".into(), TaskState::Running)]);
}

#[test]
fn start_first_stops_the_old_task_once_the_new_one_runs() {
    let s = service(2, UpdateConfig { order: UpdateOrder::StartFirst as i32, ..config(1, 0) });
    let mut tasks = old_tasks(2);
    let plan = run(&s, &tasks, SEC);
    assert!(stopped(&plan).is_empty(), "the old task keeps serving");
    assert_eq!(created(&plan), vec![(1, TaskState::Running)]);

    let s = with_status(s, UpdateState::Updating, SEC);
    tasks.push(task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Starting));
    assert!(run(&s, &tasks, 3 * SEC).actions.is_empty());
    tasks[2].status.as_mut().unwrap().set_state(TaskState::Running);
    tasks[2].status.as_mut().unwrap().started_at = 3 * SEC;
    let plan = run(&s, &tasks, 3 * SEC);
    assert_eq!(stopped(&plan), vec!["old1"]);
    assert_eq!(created(&plan), vec![(2, TaskState::Running)]);
}

#[test]
fn a_failure_pauses_the_update() {
    let s = with_status(service(3, config(1, 0)), UpdateState::Updating, SEC);
    let mut tasks = old_tasks(3);
    tasks[0].set_desired_state(TaskState::Shutdown);
    tasks.push(task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Failed));
    let plan = run(&s, &tasks, 3 * SEC);
    assert_eq!(status_of(&plan), Some((UpdateState::Paused, false)));
    assert!(stopped(&plan).iter().all(|id| !id.starts_with("old")), "no more old tasks replaced: {plan:?}");
    let Some(Action::Status(status, _)) = plan.actions.iter().find(|a| matches!(a, Action::Status(..))) else {
        unreachable!()
    };
    assert_eq!(status.message, "update paused due to failure or early termination of task a");

    // Paused: nothing moves until the next change to the service.
    let paused = with_status(service(3, config(1, 0)), UpdateState::Paused, SEC);
    tasks.push(task("b", 1, "new", 4 * SEC, TaskState::Running, TaskState::Running));
    assert!(stopped(&run(&paused, &tasks, 5 * SEC)).iter().all(|id| !id.starts_with("old")));
}

#[test]
fn failures_within_the_ratio_are_tolerated_and_late_ones_do_not_count() {
    let ratio = UpdateConfig { max_failure_ratio: 0.5, ..config(1, 0) };
    let s = with_status(service(4, ratio), UpdateState::Updating, SEC);
    let mut tasks = old_tasks(4);
    tasks[0].set_desired_state(TaskState::Shutdown);
    tasks.push(task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Failed));
    let plan = run(&s, &tasks, 3 * SEC);
    assert_eq!(status_of(&plan), None, "1 failure of 4 is within 0.5");
    assert_eq!(stopped(&plan), vec!["a", "old2"]);

    // Failed 10 s after starting, past the 5 s monitor: not a failure.
    let s = with_status(service(4, config(1, 0)), UpdateState::Updating, SEC);
    let late = tasks.last_mut().unwrap().status.as_mut().unwrap();
    late.timestamp = 12 * SEC;
    assert_eq!(status_of(&run(&s, &tasks, 13 * SEC)), None);
}

#[test]
fn a_failure_rolls_back_when_asked_and_a_failed_rollback_pauses() {
    let rollback = UpdateConfig { failure_action: FailureAction::Rollback as i32, ..config(1, 0) };
    let s = with_status(service(2, rollback), UpdateState::Updating, SEC);
    let mut tasks = old_tasks(2);
    tasks[0].set_desired_state(TaskState::Shutdown);
    tasks.push(task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Failed));
    assert_eq!(status_of(&run(&s, &tasks, 3 * SEC)), Some((UpdateState::RollbackStarted, true)));

    // Without a previous spec there is nothing to roll back to: pause.
    let mut first = s.clone();
    first.previous_spec = None;
    assert_eq!(status_of(&run(&first, &tasks, 3 * SEC)), Some((UpdateState::Paused, false)));
    // A rollback that fails pauses whatever its failure action.
    let rolling_back = with_status(s, UpdateState::RollbackStarted, SEC);
    assert_eq!(status_of(&run(&rolling_back, &tasks, 3 * SEC)), Some((UpdateState::RollbackPaused, false)));
}

#[test]
fn completes_once_the_monitor_period_passed() {
    let s = with_status(service(2, config(1, 0)), UpdateState::Updating, SEC);
    let tasks = [
        task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Running),
        task("b", 2, "new", 3 * SEC, TaskState::Running, TaskState::Running),
    ];
    let plan = run(&s, &tasks, 4 * SEC);
    assert_eq!(status_of(&plan), None);
    assert_eq!(plan.wake_at, Some(8 * SEC), "5 s after the last start");
    let plan = run(&s, &tasks, 8 * SEC);
    assert_eq!(status_of(&plan), Some((UpdateState::Completed, false)));
    let rolled_back = with_status(service(2, config(1, 0)), UpdateState::RollbackStarted, SEC);
    assert_eq!(status_of(&run(&rolled_back, &tasks, 8 * SEC)), Some((UpdateState::RollbackCompleted, false)));
}

#[test]
fn a_replacement_with_a_health_check_counts_once_healthy() {
    use shoal_proto::{HealthConfig, TaskHealth};
    let checked = |mut t: Task| {
        let c = t.spec.as_mut().unwrap().container.as_mut().unwrap();
        c.healthcheck = Some(HealthConfig { test: vec!["CMD".into(), "true".into()], ..Default::default() });
        t
    };
    let mut s = with_status(service(2, config(1, 0)), UpdateState::Updating, SEC);
    s.spec.as_mut().unwrap().task = checked(task("x", 1, "new", 0, TaskState::Running, TaskState::Running)).spec;
    let mut tasks = old_tasks(2);
    tasks[0].set_desired_state(TaskState::Shutdown);
    tasks.push(checked(task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Running)));
    assert!(stopped(&run(&s, &tasks, 3 * SEC)).is_empty(), "running, not yet healthy: in flight");
    tasks[2].status.as_mut().unwrap().health = TaskHealth::Healthy as i32;
    assert_eq!(stopped(&run(&s, &tasks, 3 * SEC)), vec!["old2"]);
    // Never healthy within the monitor period: a failure.
    tasks[2].status.as_mut().unwrap().health = TaskHealth::Starting as i32;
    assert_eq!(status_of(&run(&s, &tasks, 8 * SEC)), Some((UpdateState::Paused, false)));
}

#[test]
fn a_replacement_whose_runtime_checks_health_counts_once_healthy() {
    use shoal_proto::TaskHealth;
    // No check in the spec: the runtime's own (an image's HEALTHCHECK),
    // told by the health the worker reports with the running state.
    let s = with_status(service(2, config(1, 0)), UpdateState::Updating, SEC);
    let mut tasks = old_tasks(2);
    tasks[0].set_desired_state(TaskState::Shutdown);
    tasks.push(task("a", 1, "new", 2 * SEC, TaskState::Running, TaskState::Running));
    tasks[2].status.as_mut().unwrap().health = TaskHealth::Starting as i32;
    let plan = run(&s, &tasks, 3 * SEC);
    assert!(stopped(&plan).is_empty(), "running, not yet healthy: in flight");
    assert_eq!(plan.wake_at, Some(7 * SEC + 1), "looks again when its monitor period ends");
    tasks[2].status.as_mut().unwrap().health = TaskHealth::Healthy as i32;
    assert_eq!(stopped(&run(&s, &tasks, 3 * SEC)), vec!["old2"]);
    // Never healthy within the monitor period: a failure.
    tasks[2].status.as_mut().unwrap().health = TaskHealth::Starting as i32;
    assert_eq!(status_of(&run(&s, &tasks, 8 * SEC)), Some((UpdateState::Paused, false)));
}

#[test]
fn held_tasks_of_the_old_spec_are_replaced_at_once_and_the_update_is_recorded() {
    let s = service(1, config(1, 0));
    // Held for its restart delay with the old spec.
    let tasks = [task("old1", 1, "old", 1, TaskState::Ready, TaskState::Ready)];
    let plan = run(&s, &tasks, SEC);
    assert_eq!(stopped(&plan), vec!["old1"]);
    assert_eq!(created(&plan), vec![(1, TaskState::Ready)]);
    assert_eq!(status_of(&plan), Some((UpdateState::Updating, false)));
}
