//! Table tests of the global orchestrator's decisions.

use shoal_proto::{
    Annotations, GlobalService, Meta, RestartCondition, RestartPolicy, ServiceSpec, TaskSpec, TaskStatus,
    service_spec::Mode,
};

use super::*;

fn service() -> Service {
    Service {
        id: "svc".into(),
        spec: Some(ServiceSpec {
            annotations: Some(Annotations { name: "mon".into(), ..Default::default() }),
            task: Some(TaskSpec {
                restart: Some(RestartPolicy {
                    condition: RestartCondition::Any as i32,
                    delay_ns: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            mode: Some(Mode::Global(GlobalService {})),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(id: &str, eligible: bool, paused: bool) -> Candidate {
    Candidate { id: id.into(), eligible, paused }
}

fn task(id: &str, node: &str, created: u64, desired: TaskState, state: TaskState) -> Task {
    Task {
        id: id.into(),
        service_id: "svc".into(),
        node_id: node.into(),
        spec: service().spec.and_then(|s| s.task),
        meta: Some(Meta { created_index: created, ..Default::default() }),
        desired_state: desired as i32,
        status: Some(TaskStatus { state: state as i32, ..Default::default() }),
        ..Default::default()
    }
}

fn run(service: Option<&Service>, tasks: &[Task], nodes: &[Candidate]) -> Plan {
    run_as(false, service, tasks, nodes)
}

/// Decides for a global service, or (`job`) a global job.
fn run_as(job: bool, service: Option<&Service>, tasks: &[Task], nodes: &[Candidate]) -> Plan {
    let refs: Vec<&Task> = tasks.iter().collect();
    let mut n = 0;
    let mut new_id = || {
        n += 1;
        format!("new{n}")
    };
    reconcile(service, &refs, nodes, job, &mut Env { now: 100, lost: &|_| false, new_id: &mut new_id })
}

/// (node, desired) of every task created.
fn created(plan: &Plan) -> Vec<(String, TaskState)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::Create(t) => Some((t.node_id.clone(), t.desired_state())),
            _ => None,
        })
        .collect()
}

fn stopped(plan: &Plan) -> Vec<(String, TaskState)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::SetDesired(id, state) => Some((id.clone(), *state)),
            _ => None,
        })
        .collect()
}

#[test]
fn one_task_bound_to_every_eligible_node() {
    let s = service();
    let nodes = [node("n1", true, false), node("n2", true, false), node("n3", false, false)];
    let plan = run(Some(&s), &[task("a", "n1", 1, TaskState::Running, TaskState::Running)], &nodes);
    assert_eq!(created(&plan), vec![("n2".to_string(), TaskState::Running)]);
    let Action::Create(t) = &plan.actions[0] else { panic!() };
    assert_eq!((t.slot, t.status.as_ref().unwrap().state()), (0, TaskState::Pending));
    assert!(stopped(&plan).is_empty());
}

#[test]
fn a_paused_node_keeps_its_task_and_takes_no_new_one() {
    let s = service();
    let nodes = [node("n1", true, true), node("n2", true, true)];
    let plan = run(Some(&s), &[task("a", "n1", 1, TaskState::Running, TaskState::Running)], &nodes);
    assert_eq!(plan, Plan::default());
}

#[test]
fn tasks_on_nodes_that_no_longer_qualify_are_shut_down() {
    let s = service();
    let nodes = [node("n1", false, false)];
    let tasks = [
        task("a", "n1", 1, TaskState::Running, TaskState::Running),
        task("b", "gone", 1, TaskState::Running, TaskState::Running),
    ];
    let plan = run(Some(&s), &tasks, &nodes);
    assert_eq!(stopped(&plan), vec![("b".to_string(), TaskState::Shutdown), ("a".to_string(), TaskState::Shutdown)]);
    assert!(created(&plan).is_empty());
}

#[test]
fn a_node_that_qualifies_again_gets_a_fresh_task() {
    let s = service();
    // Its task was shut down when the node was drained.
    let tasks = [task("a", "n1", 1, TaskState::Shutdown, TaskState::Shutdown)];
    assert_eq!(
        created(&run(Some(&s), &tasks, &[node("n1", true, false)])),
        vec![("n1".to_string(), TaskState::Running)]
    );
    // Not so a task the restart policy gave up on.
    let mut s = s;
    let task_spec = s.spec.as_mut().and_then(|s| s.task.as_mut()).unwrap();
    task_spec.restart.as_mut().unwrap().condition = RestartCondition::None as i32;
    let mut gave_up = task("a", "n1", 1, TaskState::Shutdown, TaskState::Failed);
    gave_up.spec = Some(task_spec.clone());
    assert_eq!(run(Some(&s), &[gave_up], &[node("n1", true, false)]), Plan::default());
}

#[test]
fn a_task_that_fails_on_a_paused_node_stops_until_the_node_is_active() {
    let s = service();
    let tasks = [task("a", "n1", 1, TaskState::Running, TaskState::Failed)];
    let plan = run(Some(&s), &tasks, &[node("n1", true, true)]);
    assert_eq!(plan.actions, vec![Action::SetDesired("a".into(), TaskState::Shutdown)]);
    let stopped = [task("a", "n1", 1, TaskState::Shutdown, TaskState::Failed)];
    assert_eq!(run(Some(&s), &stopped, &[node("n1", true, true)]), Plan::default(), "nothing while paused");
    let plan = run(Some(&s), &stopped, &[node("n1", true, false)]);
    assert_eq!(created(&plan), vec![("n1".to_string(), TaskState::Running)], "replaced once active");
    let Action::Create(t) = &plan.actions[0] else { panic!() };
    assert_eq!(t.restart_history.len(), 1, "a restart attempt");
}

#[test]
fn a_failed_task_is_replaced_on_the_same_node() {
    let s = service();
    let nodes = [node("n1", true, false)];
    let tasks = [task("a", "n1", 1, TaskState::Running, TaskState::Failed)];
    let plan = run(Some(&s), &tasks, &nodes);
    assert_eq!(stopped(&plan), vec![("a".to_string(), TaskState::Shutdown)]);
    assert_eq!(created(&plan), vec![("n1".to_string(), TaskState::Running)]);
}

#[test]
fn only_the_newest_task_of_a_node_runs() {
    let s = service();
    let nodes = [node("n1", true, false)];
    let tasks = [
        task("old", "n1", 1, TaskState::Running, TaskState::Running),
        task("new", "n1", 2, TaskState::Running, TaskState::Running),
    ];
    assert_eq!(stopped(&run(Some(&s), &tasks, &nodes)), vec![("old".to_string(), TaskState::Shutdown)]);
}

#[test]
fn a_deleted_service_removes_every_task() {
    let tasks = [
        task("a", "n1", 1, TaskState::Running, TaskState::Running),
        task("b", "", 1, TaskState::Shutdown, TaskState::Shutdown),
    ];
    let plan = run(None, &tasks, &[node("n1", true, false)]);
    assert_eq!(stopped(&plan), vec![("b".to_string(), TaskState::Remove), ("a".to_string(), TaskState::Remove)]);
}

#[test]
fn a_global_job_runs_once_per_node() {
    let s = service();
    let nodes = [node("n1", true, false), node("n2", true, false), node("n3", true, false)];
    let tasks = [
        task("done", "n1", 1, TaskState::Running, TaskState::Complete),
        task("failed", "n2", 1, TaskState::Running, TaskState::Failed),
    ];
    let plan = run_as(true, Some(&s), &tasks, &nodes);
    assert_eq!(stopped(&plan), vec![("failed".to_string(), TaskState::Shutdown)]);
    assert_eq!(created(&plan), vec![("n2".to_string(), TaskState::Running), ("n3".to_string(), TaskState::Running)]);

    // An updated job runs again where it completed an older spec.
    let mut updated = service();
    updated.spec_version = 1;
    let plan = run_as(true, Some(&updated), &tasks[..1], &nodes[..1]);
    assert_eq!(created(&plan), vec![("n1".to_string(), TaskState::Running)]);
}

#[test]
fn a_scheduled_global_job_runs_on_every_node_at_each_run() {
    use shoal_proto::{JobSchedule, JobStatus, ScheduleOverlap};
    let scheduled = |iteration: u64, overlap: ScheduleOverlap| {
        let mut s = service();
        let spec = s.spec.as_mut().unwrap();
        spec.schedule = Some(JobSchedule { cron: "@every 1m".into(), overlap: overlap as i32, ..Default::default() });
        s.job_status = Some(JobStatus { iteration, ..Default::default() });
        s
    };
    let nodes = [node("n1", true, false), node("n2", true, false)];
    let first = scheduled(0, ScheduleOverlap::Forbid);
    assert_eq!(run_as(true, Some(&first), &[], &nodes), Plan::default(), "nothing before the first run");

    // Run 2: n1's run 1 completed, n2's still goes.
    let mut done = task("done", "n1", 1, TaskState::Running, TaskState::Complete);
    let mut going = task("going", "n2", 1, TaskState::Running, TaskState::Running);
    (done.job_iteration, going.job_iteration) = (1, 1);
    let tasks = [done, going];
    let replace = run_as(true, Some(&scheduled(2, ScheduleOverlap::Replace)), &tasks, &nodes);
    assert_eq!(created(&replace).len(), 2, "both nodes run again");
    assert_eq!(stopped(&replace), vec![("going".to_string(), TaskState::Shutdown)], "the old run is stopped");
    let allow = run_as(true, Some(&scheduled(2, ScheduleOverlap::Allow)), &tasks, &nodes);
    assert_eq!((created(&allow).len(), stopped(&allow)), (2, vec![]), "the old run is left to finish");
}
