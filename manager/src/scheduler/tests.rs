//! The loop's decisions over a real store: placements, reasons written
//! once, and what wakes waiting tasks.

use shoal_proto::{
    Annotations, Batch, Node, NodeDescription, NodeSpec, NodeState, NodeStatus, Placement, Task, TaskSpec, TaskState,
    TaskStatus, op,
};

use super::*;
use crate::ops::create;

fn node(id: &str, zone: &str) -> Object {
    let mut labels = std::collections::HashMap::new();
    labels.insert("zone".to_string(), zone.to_string());
    Object::Node(Node {
        id: id.into(),
        spec: Some(NodeSpec { annotations: Some(Annotations { name: String::new(), labels }), ..Default::default() }),
        description: Some(NodeDescription {
            hostname: id.into(),
            runtimes: vec!["process".into()],
            ..Default::default()
        }),
        status: Some(NodeStatus { state: NodeState::Ready as i32, ..Default::default() }),
        ..Default::default()
    })
}

/// A pending task; tasks of one service share a spec, so each test task
/// gets its own service.
fn task(id: &str, constraint: &str) -> Object {
    let constraints = [constraint].iter().filter(|c| !c.is_empty()).map(|c| c.to_string()).collect();
    let placement = Placement { constraints, ..Default::default() };
    Object::Task(Task {
        id: id.into(),
        service_id: format!("svc-{id}"),
        spec: Some(TaskSpec { placement: Some(placement), ..Default::default() }),
        status: Some(TaskStatus { state: TaskState::Pending as i32, ..Default::default() }),
        desired_state: TaskState::Running as i32,
        ..Default::default()
    })
}

fn store(objects: Vec<Object>) -> MemoryStore {
    MemoryStore::of(objects)
}

fn assignment(op: &Op) -> (&str, &str, &str) {
    match &op.op {
        Some(op::Op::TaskAssign(a)) => (&a.task_id, &a.node_id, &a.message),
        other => panic!("not an assignment: {other:?}"),
    }
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn places_by_constraint_and_explains_the_rest() {
    let mut s = store(vec![
        node("n1", "east"),
        node("n2", "west"),
        task("t1", "node.labels.zone==west"),
        task("t2", "node.labels.zone==north"),
    ]);
    let Decided { ops, waiting, .. } = decide(&s, &ids(&["t1", "t2"]));
    let reason = "no suitable node (scheduling constraints not satisfied on 2 nodes)";
    assert_eq!(ops.iter().map(assignment).collect::<Vec<_>>(), vec![("t1", "n2", ""), ("t2", "", reason)]);
    assert_eq!(waiting, vec!["t2".to_string()]);

    // Once the reason is written, a pass that finds the same writes nothing.
    s.apply(2, Batch { ops: vec![ops[1].clone()], timestamp: 2, ..Default::default() }).unwrap();
    let Decided { ops, waiting, .. } = decide(&s, &ids(&["t2"]));
    assert!(ops.is_empty(), "{ops:?}");
    assert_eq!(waiting, vec!["t2".to_string()]);
}

#[test]
fn waiting_tasks_are_retried_when_a_node_or_a_stopped_task_changes() {
    let mut work = Work::default();
    let stopped = Task {
        node_id: "n1".into(),
        status: Some(TaskStatus { state: TaskState::Shutdown as i32, ..Default::default() }),
        ..Default::default()
    };
    let running = Task {
        node_id: "n1".into(),
        status: Some(TaskStatus { state: TaskState::Running as i32, ..Default::default() }),
        desired_state: TaskState::Running as i32,
        ..Default::default()
    };
    let commit = |object: Object| Commit {
        index: 1,
        changes: vec![crate::store::Change::Updated(Box::new(object))],
        reset: false,
        applied: std::time::Instant::now(),
    };
    work.note(&commit(Object::Task(running)));
    assert!(!work.retry && work.tasks.is_empty(), "a running task frees nothing for waiting tasks");
    assert!(work.dependencies, "but may be what a held task waits for");
    work.note(&commit(Object::Task(stopped)));
    assert!(work.retry);
    let mut work = Work::default();
    work.note(&commit(node("n3", "east")));
    assert!(work.retry);
    let mut work = Work::default();
    work.note(&commit(task("t9", "node.role==worker")));
    assert_eq!(work.tasks, ids(&["t9"]));
}

#[test]
fn a_task_waits_for_its_services_dependencies_then_is_placed() {
    use shoal_proto::{Dependency, DependencyCondition, ReplicatedService, Service, ServiceSpec, service_spec::Mode};
    let service = |id: &str, deps: Vec<Dependency>| {
        Object::Service(Service {
            id: id.into(),
            spec: Some(ServiceSpec {
                annotations: Some(Annotations { name: id.into(), ..Default::default() }),
                mode: Some(Mode::Replicated(ReplicatedService { replicas: 1 })),
                depends_on: deps,
                ..Default::default()
            }),
            ..Default::default()
        })
    };
    let on_db = vec![Dependency { service: "db".into(), condition: DependencyCondition::Started as i32 }];
    let mut s = store(vec![node("n1", "east"), service("svc-web", on_db), service("db", Vec::new()), task("web", "")]);
    let decided = decide(&s, &ids(&["web"]));
    let reason = "waiting for db (service_started): 0/1 running";
    assert_eq!(decided.ops.iter().map(assignment).collect::<Vec<_>>(), vec![("web", "", reason)]);
    assert_eq!((decided.waiting, decided.held), (vec!["web".to_string()], vec!["web".to_string()]));

    let db = Task {
        id: "db1".into(),
        service_id: "db".into(),
        node_id: "n1".into(),
        desired_state: TaskState::Running as i32,
        status: Some(TaskStatus { state: TaskState::Running as i32, ..Default::default() }),
        ..Default::default()
    };
    s.apply(2, Batch { ops: vec![create(Object::Task(db))], timestamp: 2, ..Default::default() }).unwrap();
    let decided = decide(&s, &ids(&["web"]));
    assert_eq!(decided.ops.iter().map(assignment).collect::<Vec<_>>(), vec![("web", "n1", "")]);
    assert!(decided.held.is_empty());
}
