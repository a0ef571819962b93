//! Table tests of the replicated orchestrator's decisions.

use shoal_proto::{Annotations, Meta, ReplicatedService, RestartCondition, RestartPolicy, ServiceSpec, TaskSpec};

use super::*;

const SEC: i64 = 1_000_000_000;

fn service(replicas: u64, restart: RestartPolicy) -> Service {
    Service {
        id: "svc".into(),
        spec: Some(ServiceSpec {
            annotations: Some(Annotations { name: "web".into(), ..Default::default() }),
            task: Some(TaskSpec { restart: Some(restart), ..Default::default() }),
            mode: Some(Mode::Replicated(ReplicatedService { replicas })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn policy(condition: RestartCondition, delay_ns: i64) -> RestartPolicy {
    RestartPolicy { condition: condition as i32, delay_ns: Some(delay_ns), ..Default::default() }
}

fn task(id: &str, slot: u64, created: i64, desired: TaskState, state: TaskState) -> Task {
    let mut t = new_task(&service(1, policy(RestartCondition::Any, 0)), slot, desired, vec![], created, id.into());
    t.meta = Some(Meta { created_at: created, ..Default::default() });
    t.status.as_mut().unwrap().state = state as i32;
    t
}

/// Tasks of the service's spec version run its task template.
fn run(service: Option<&Service>, tasks: &[Task], now: i64) -> Plan {
    let mut tasks = tasks.to_vec();
    for t in tasks.iter_mut().filter(|t| service.is_some_and(|s| s.spec_version == t.spec_version)) {
        t.spec = service.and_then(|s| s.spec.as_ref()).and_then(|s| s.task.clone());
    }
    let refs: Vec<&Task> = tasks.iter().collect();
    let mut n = 0;
    let mut new_id = || {
        n += 1;
        format!("new{n}")
    };
    reconcile(service, &refs, &mut Env { now, lost: &|node| node == "lost", new_id: &mut new_id })
}

fn created_slots(plan: &Plan) -> Vec<(u64, TaskState)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::Create(t) => Some((t.slot, t.desired_state())),
            _ => None,
        })
        .collect()
}

#[test]
fn creates_a_task_per_empty_slot() {
    let s = service(3, policy(RestartCondition::Any, 0));
    let tasks = [task("a", 2, 0, TaskState::Running, TaskState::Running)];
    let plan = run(Some(&s), &tasks, 10);
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Running), (3, TaskState::Running)]);
    let created = match &plan.actions[0] {
        Action::Create(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!((created.service_name.as_str(), created.status.as_ref().unwrap().state()), ("web", TaskState::Pending));
}

#[test]
fn converged_service_needs_nothing() {
    let s = service(2, policy(RestartCondition::Any, 0));
    let tasks = [
        task("a", 1, 0, TaskState::Running, TaskState::Running),
        task("b", 2, 0, TaskState::Running, TaskState::Assigned),
        task("old", 2, -5, TaskState::Shutdown, TaskState::Failed),
    ];
    assert_eq!(run(Some(&s), &tasks, 10), Plan::default());
}

#[test]
fn scale_down_removes_slots_not_running_first() {
    let s = service(1, policy(RestartCondition::Any, 0));
    let tasks = [
        task("a", 1, 0, TaskState::Running, TaskState::Pending),
        task("b", 2, 0, TaskState::Running, TaskState::Running),
        task("c", 3, 0, TaskState::Shutdown, TaskState::Failed),
    ];
    let plan = run(Some(&s), &tasks, 10);
    assert_eq!(
        plan.actions,
        vec![Action::SetDesired("a".into(), TaskState::Remove), Action::SetDesired("c".into(), TaskState::Remove)]
    );
}

#[test]
fn scale_down_keeps_the_spread_over_nodes() {
    // Slots 1-4 on nodes a and b, the two newest both on c.
    let s = service(4, policy(RestartCondition::Any, 0));
    let on = |id: &str, slot: u64, node: &str| {
        let mut t = task(id, slot, slot as i64, TaskState::Running, TaskState::Running);
        t.node_id = node.into();
        t
    };
    let tasks =
        [on("t1", 1, "a"), on("t2", 2, "b"), on("t3", 3, "a"), on("t4", 4, "b"), on("t5", 5, "c"), on("t6", 6, "c")];
    let plan = run(Some(&s), &tasks, 10);
    assert_eq!(
        plan.actions,
        vec![Action::SetDesired("t4".into(), TaskState::Remove), Action::SetDesired("t6".into(), TaskState::Remove)],
        "one slot from b and one from c: a keeps two, b and c one each"
    );
    // Scaling up again takes the lowest numbers free.
    let s = service(6, policy(RestartCondition::Any, 0));
    let plan = run(Some(&s), &[on("t1", 1, "a"), on("t2", 2, "b"), on("t3", 3, "a"), on("t5", 5, "c")], 10);
    assert_eq!(created_slots(&plan), vec![(4, TaskState::Running), (6, TaskState::Running)]);
}

#[test]
fn deleted_service_removes_every_task() {
    let tasks = [
        task("a", 1, 0, TaskState::Running, TaskState::Running),
        task("b", 1, 0, TaskState::Remove, TaskState::Running),
    ];
    assert_eq!(run(None, &tasks, 10).actions, vec![Action::SetDesired("a".into(), TaskState::Remove)]);
}

#[test]
fn a_failed_task_is_replaced_after_the_delay() {
    let s = service(1, policy(RestartCondition::Any, 5 * SEC));
    let tasks = [task("a", 1, 0, TaskState::Running, TaskState::Failed)];
    let plan = run(Some(&s), &tasks, 10 * SEC);
    assert_eq!(plan.actions[0], Action::SetDesired("a".into(), TaskState::Shutdown));
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Ready)]);
    assert_eq!(plan.wake_at, Some(15 * SEC));
    let Action::Create(replacement) = &plan.actions[1] else { panic!() };
    assert_eq!(replacement.restart_history, vec![10 * SEC]);

    // The replacement, held: nothing before the delay, released after it.
    let mut held = replacement.clone();
    held.meta = Some(Meta { created_at: 10 * SEC, ..Default::default() });
    let mut old = tasks[0].clone();
    old.set_desired_state(TaskState::Shutdown);
    let tasks = [old, *held];
    let plan = run(Some(&s), &tasks, 12 * SEC);
    assert_eq!((plan.actions.len(), plan.wake_at), (0, Some(15 * SEC)));
    let plan = run(Some(&s), &tasks, 15 * SEC);
    assert_eq!(plan.actions, vec![Action::SetDesired("new1".into(), TaskState::Running)]);
}

#[test]
fn a_task_that_failed_while_held_is_replaced_once_its_delay_is_over() {
    // Held until 15 s, it failed as it was prepared (its program is
    // missing): no replacement before 15 s, then one held for the delay.
    let s = service(1, policy(RestartCondition::Any, 5 * SEC));
    let mut failed = task("held", 1, 10 * SEC, TaskState::Ready, TaskState::Rejected);
    failed.hold_until = 15 * SEC;
    failed.restart_history = vec![10 * SEC];
    let plan = run(Some(&s), &[failed.clone()], 11 * SEC);
    assert_eq!((plan.actions.len(), plan.wake_at), (0, Some(15 * SEC)));
    let plan = run(Some(&s), &[failed], 15 * SEC);
    assert_eq!(plan.actions[0], Action::SetDesired("held".into(), TaskState::Shutdown));
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Ready)]);
    assert_eq!(plan.wake_at, Some(20 * SEC));
}

#[test]
fn an_absurd_delay_does_not_overflow() {
    let s = service(1, policy(RestartCondition::Any, i64::MAX));
    let plan = run(Some(&s), &[task("a", 1, 0, TaskState::Running, TaskState::Failed)], 10 * SEC);
    assert_eq!(plan.wake_at, Some(i64::MAX));
}

#[test]
fn a_new_spec_version_restarts_a_stopped_slot_with_no_attempts_counted() {
    let mut s = service(1, policy(RestartCondition::None, 0));
    s.spec_version = 2;
    let mut stopped = task("a", 1, 0, TaskState::Shutdown, TaskState::Failed);
    stopped.spec_version = 1;
    stopped.spec = Some(TaskSpec { runtime: "older".into(), ..Default::default() });
    stopped.restart_history = vec![1, 2, 3];
    let plan = run(Some(&s), &[stopped.clone()], 10);
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Running)]);
    let Action::Create(fresh) = &plan.actions[0] else { panic!() };
    assert!(fresh.restart_history.is_empty());
    assert_eq!(fresh.spec_version, 2);

    // A task of the old version that fails: its replacement counts anew.
    let s = {
        let mut s = service(1, RestartPolicy { max_attempts: 3, ..policy(RestartCondition::Any, 0) });
        s.spec_version = 2;
        s
    };
    let mut failed = stopped;
    failed.set_desired_state(TaskState::Running);
    let plan = run(Some(&s), &[failed], 10);
    let Action::Create(next) = &plan.actions[1] else { panic!("{plan:?}") };
    assert_eq!(next.restart_history, vec![10]);
}

#[test]
fn new_placement_restarts_a_stopped_slot_only_if_its_node_no_longer_fits() {
    let mut s = service(1, policy(RestartCondition::None, 0));
    s.spec_version = 2;
    let mut old_placement = s.spec.as_ref().unwrap().task.clone().unwrap();
    old_placement.placement =
        Some(shoal_proto::Placement { constraints: vec!["node.role==worker".into()], ..Default::default() });
    let mut stopped = task("a", 1, 0, TaskState::Shutdown, TaskState::Failed);
    (stopped.spec_version, stopped.spec, stopped.node_id) = (1, Some(old_placement), "fine".into());
    assert_eq!(run(Some(&s), &[stopped.clone()], 10), Plan::default(), "its node still fits");
    stopped.node_id = "lost".into();
    assert_eq!(created_slots(&run(Some(&s), &[stopped], 10)), vec![(1, TaskState::Running)]);
}

#[test]
fn zero_delay_restarts_at_once() {
    let s = service(1, policy(RestartCondition::Any, 0));
    let tasks = [task("a", 1, 0, TaskState::Running, TaskState::Complete)];
    let plan = run(Some(&s), &tasks, 10);
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Running)]);
    assert_eq!(plan.wake_at, None);
}

#[test]
fn restart_condition_none_leaves_the_slot_stopped() {
    let s = service(1, policy(RestartCondition::None, 0));
    let mut tasks = vec![task("a", 1, 0, TaskState::Running, TaskState::Failed)];
    tasks[0].spec = s.spec.as_ref().unwrap().task.clone();
    let plan = run(Some(&s), &tasks, 10);
    assert_eq!(plan.actions, vec![Action::SetDesired("a".into(), TaskState::Shutdown)]);
    // Once stopped, the slot stays empty.
    tasks[0].set_desired_state(TaskState::Shutdown);
    assert_eq!(run(Some(&s), &tasks, 20), Plan::default());
}

#[test]
fn duplicate_tasks_of_a_slot_are_stopped() {
    let s = service(1, policy(RestartCondition::Any, 0));
    let tasks = [
        task("old", 1, 0, TaskState::Running, TaskState::Running),
        task("new", 1, 5, TaskState::Running, TaskState::Running),
    ];
    assert_eq!(run(Some(&s), &tasks, 10).actions, vec![Action::SetDesired("old".into(), TaskState::Shutdown)]);
}

#[test]
fn a_task_on_a_lost_node_is_replaced_at_once() {
    let s = service(2, policy(RestartCondition::None, 5 * SEC));
    let mut on_lost = task("a", 1, 0, TaskState::Running, TaskState::Running);
    on_lost.node_id = "lost".into();
    on_lost.restart_history = vec![3];
    let mut fine = task("b", 2, 0, TaskState::Running, TaskState::Running);
    fine.node_id = "fine".into();
    let plan = run(Some(&s), &[on_lost.clone(), fine.clone()], 10);
    assert_eq!(plan.actions[0], Action::SetDesired("a".into(), TaskState::Shutdown));
    // Even with restart condition none and a delay: the task did not fail.
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Running)]);
    match &plan.actions[1] {
        Action::Create(t) => assert_eq!(t.restart_history, vec![3], "not counted as a restart"),
        other => panic!("{other:?}"),
    }
    assert_eq!(plan.wake_at, None);

    // A task that already ended there follows its restart policy (any,
    // with the delay): held, not started at once.
    on_lost.status.as_mut().unwrap().set_state(TaskState::Failed);
    let s = service(2, policy(RestartCondition::Any, 5 * SEC));
    let plan = run(Some(&s), &[on_lost, fine], 10);
    assert_eq!(plan.actions[0], Action::SetDesired("a".into(), TaskState::Shutdown));
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Ready)]);
}

#[test]
fn a_task_still_pending_with_an_older_spec_is_replaced() {
    let mut s = service(2, policy(RestartCondition::Any, 0));
    s.spec_version = 2;
    let older = TaskSpec { runtime: "older".into(), ..Default::default() };
    let mut stale = task("stale", 1, 0, TaskState::Running, TaskState::Pending);
    (stale.spec_version, stale.spec) = (1, Some(older.clone()));
    let mut placed = task("placed", 2, 0, TaskState::Running, TaskState::Running);
    (placed.spec_version, placed.spec) = (1, Some(older));
    let plan = run(Some(&s), &[stale, placed], 10);
    assert_eq!(plan.actions[0], Action::SetDesired("stale".into(), TaskState::Shutdown));
    // The running one is the rolling update's: stopped first, its
    // replacement held until it has.
    assert_eq!(created_slots(&plan), vec![(1, TaskState::Running), (2, TaskState::Ready)]);
    let Action::Create(new) = &plan.actions[1] else { panic!() };
    assert_eq!(new.spec_version, 2);
}
