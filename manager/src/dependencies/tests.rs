//! Conditions over a real store, and cycles through stored services.

use shoal_proto::{
    Annotations, GlobalService, ReplicatedJob, ReplicatedService, TaskStatus, service_spec::Mode, store_object::Object,
};

use super::*;

fn spec(name: &str, mode: Mode, deps: &[(&str, DependencyCondition)]) -> ServiceSpec {
    ServiceSpec {
        annotations: Some(Annotations { name: name.into(), ..Default::default() }),
        mode: Some(mode),
        depends_on: deps.iter().map(|(s, c)| Dependency { service: s.to_string(), condition: *c as i32 }).collect(),
        ..Default::default()
    }
}

fn service(name: &str, mode: Mode, deps: &[(&str, DependencyCondition)]) -> Object {
    Object::Service(Service {
        id: format!("id-{name}"),
        spec: Some(spec(name, mode, deps)),
        spec_version: 1,
        ..Default::default()
    })
}

fn task(id: &str, service: &str, node: &str, state: TaskState, health: TaskHealth) -> Object {
    Object::Task(Task {
        id: id.into(),
        service_id: format!("id-{service}"),
        node_id: node.into(),
        spec_version: 1,
        desired_state: TaskState::Running as i32,
        status: Some(TaskStatus { state: state as i32, health: health as i32, ..Default::default() }),
        ..Default::default()
    })
}

fn store(objects: Vec<Object>) -> MemoryStore {
    MemoryStore::of(objects)
}

fn replicas(n: u64) -> Mode {
    Mode::Replicated(ReplicatedService { replicas: n })
}

use DependencyCondition::{Completed, Healthy, Started};

#[test]
fn a_dependency_counts_once_every_task_it_wants_meets_the_condition() {
    let web = spec("web", replicas(1), &[("db", Started)]);
    assert_eq!(unmet(&store(vec![]), &web).as_deref(), Some("waiting for db (service_started): no such service"));
    let two = |a: TaskState, b: TaskState| {
        store(vec![
            service("db", replicas(2), &[]),
            task("t1", "db", "n1", a, TaskHealth::None),
            task("t2", "db", "n1", b, TaskHealth::None),
        ])
    };
    assert_eq!(
        unmet(&two(TaskState::Running, TaskState::Starting), &web).as_deref(),
        Some("waiting for db (service_started): 1/2 running")
    );
    assert_eq!(unmet(&two(TaskState::Running, TaskState::Running), &web), None);
    // No replica wanted still means waiting for one.
    let none = store(vec![service("db", replicas(0), &[])]);
    assert_eq!(unmet(&none, &web).as_deref(), Some("waiting for db (service_started): 0/1 running"));
}

#[test]
fn healthy_needs_a_passing_check_or_none_at_all() {
    let web = spec("web", replicas(1), &[("db", Healthy)]);
    let with = |health: TaskHealth| {
        store(vec![service("db", replicas(1), &[]), task("t1", "db", "n1", TaskState::Running, health)])
    };
    assert_eq!(
        unmet(&with(TaskHealth::Starting), &web).as_deref(),
        Some("waiting for db (service_healthy): 0/1 healthy")
    );
    assert!(unmet(&with(TaskHealth::Unhealthy), &web).is_some());
    assert_eq!(unmet(&with(TaskHealth::Healthy), &web), None);
    assert_eq!(unmet(&with(TaskHealth::None), &web), None, "no health check: running is enough");
}

#[test]
fn completed_counts_the_current_spec_and_a_global_service_wants_each_node() {
    let web = spec("web", replicas(1), &[("init", Completed), ("agent", Started)]);
    let job = Mode::ReplicatedJob(ReplicatedJob { max_concurrent: 1, total_completions: 2 });
    let s = store(vec![
        service("init", job, &[]),
        task("j1", "init", "n1", TaskState::Complete, TaskHealth::None),
        service("agent", Mode::Global(GlobalService {}), &[]),
        task("a1", "agent", "n1", TaskState::Running, TaskHealth::None),
        task("a2", "agent", "n2", TaskState::Pending, TaskHealth::None),
    ]);
    assert_eq!(
        unmet(&s, &web).as_deref(),
        Some("waiting for init (service_completed_successfully): 1/2 completed, agent (service_started): 1/2 running")
    );
}

#[test]
fn a_cycle_through_stored_services_is_found() {
    let s = store(vec![
        service("a", replicas(1), &[("b", Started)]),
        service("b", replicas(1), &[("c", Started)]),
        service("c", replicas(1), &[]),
    ]);
    let c = spec("c", replicas(1), &[("a", Healthy)]);
    assert_eq!(cycle(&s, "c", &c), Some(vec!["c".into(), "a".into(), "b".into(), "c".into()]));
    let own = spec("d", replicas(1), &[("d", Started)]);
    assert_eq!(cycle(&s, "d", &own), Some(vec!["d".into(), "d".into()]));
    // A diamond is not a cycle; an unknown name ends the walk.
    let d = spec("d", replicas(1), &[("a", Started), ("b", Started), ("nope", Started)]);
    assert_eq!(cycle(&s, "d", &d), None);
}
