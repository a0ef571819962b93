//! Batches apply atomically, versions guard updates, field operations
//! only move forward, and indexes follow every change.

use shoal_proto::{
    Annotations, Batch, Node, ObjectKind, Op, Service, ServiceSpec, Task, TaskState, TaskStatus, store_object::Object,
};

use super::*;
use crate::ops::{self, create, delete, update};

fn service(id: &str, name: &str) -> Object {
    Object::Service(Service {
        id: id.into(),
        spec: Some(ServiceSpec {
            annotations: Some(Annotations { name: name.into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn task(id: &str, service_id: &str) -> Object {
    Object::Task(Task { id: id.into(), service_id: service_id.into(), ..Default::default() })
}

fn batch(ops: Vec<Op>) -> Batch {
    Batch { ops, timestamp: 1_000, ..Default::default() }
}

fn status(id: &str, state: TaskState) -> Op {
    ops::task_status(id, TaskStatus { state: state as i32, ..Default::default() })
}

#[test]
fn create_sets_meta_and_indexes() {
    let mut store = MemoryStore::default();
    let changes = store.apply(7, batch(vec![create(service("s1", "web")), create(task("t1", "s1"))])).unwrap();
    assert_eq!(changes.len(), 2);
    let s = store.service_by_name("web").unwrap();
    let meta = s.meta.unwrap();
    assert_eq!((meta.version, meta.created_at, meta.updated_at), (7, 1_000, 1_000));
    assert_eq!(store.tasks_of_service("s1").count(), 1);
}

#[test]
fn a_refused_batch_changes_nothing() {
    let mut store = MemoryStore::default();
    store.apply(1, batch(vec![create(service("s1", "web"))])).unwrap();
    let before = store.to_snapshot();
    // The first two operations would succeed; the third conflicts on name.
    let err = store
        .apply(
            2,
            batch(vec![
                create(task("t1", "s1")),
                delete(ObjectKind::Service, "s1"),
                create(service("s2", "web")),
                create(service("s3", "web")),
            ]),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::NameConflict { .. }), "{err}");
    assert_eq!(store.to_snapshot(), before);
    assert!(store.service_by_name("web").is_some());
    assert_eq!(store.tasks_of_service("s1").count(), 0);
}

#[test]
fn updates_carry_the_version_they_read() {
    let mut store = MemoryStore::default();
    store.apply(3, batch(vec![create(service("s1", "web"))])).unwrap();
    let mut stale = service("s1", "web2");
    stale.meta_mut().version = 2;
    let err = store.apply(4, batch(vec![update(stale)])).unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { read: 2, current: 3, .. }), "{err}");

    let mut fresh = service("s1", "web2");
    fresh.meta_mut().version = 3;
    store.apply(5, batch(vec![update(fresh)])).unwrap();
    assert!(store.service_by_name("web").is_none(), "the old name is free again");
    let s = store.service_by_name("web2").unwrap();
    assert_eq!(s.meta.as_ref().map(|m| (m.version, m.created_at)), Some((5, 1_000)));
}

#[test]
fn task_status_only_moves_forward() {
    let mut store = MemoryStore::default();
    store.apply(1, batch(vec![create(task("t1", "s1"))])).unwrap();
    store.apply(2, batch(vec![status("t1", TaskState::Running)])).unwrap();
    let changes =
        store.apply(3, batch(vec![status("t1", TaskState::Starting), status("gone", TaskState::Failed)])).unwrap();
    assert!(changes.is_empty(), "backward and unknown updates are skipped");
    assert_eq!(store.task("t1").unwrap().status.as_ref().unwrap().state(), TaskState::Running);
    assert_eq!(store.task("t1").unwrap().meta.as_ref().unwrap().version, 2);
}

#[test]
fn the_start_time_survives_later_statuses() {
    let mut store = MemoryStore::default();
    store.apply(1, batch(vec![create(task("t1", "s1"))])).unwrap();
    let running = TaskStatus { state: TaskState::Running as i32, started_at: 42, ..Default::default() };
    store.apply(2, batch(vec![ops::task_status("t1", running)])).unwrap();
    store.apply(3, batch(vec![status("t1", TaskState::Failed)])).unwrap();
    let status = store.task("t1").unwrap().status.clone().unwrap();
    assert_eq!((status.state(), status.started_at), (TaskState::Failed, 42));
}

#[test]
fn service_status_guards_the_spec_version_and_rolls_back() {
    use shoal_proto::{UpdateState, UpdateStatus};
    let mut store = MemoryStore::default();
    let Object::Service(mut s) = service("s1", "web") else { unreachable!() };
    s.spec_version = 3;
    s.previous_spec = Some(ServiceSpec {
        annotations: Some(Annotations { name: "web".into(), ..Default::default() }),
        ..Default::default()
    });
    s.spec.as_mut().unwrap().annotations.as_mut().unwrap().labels.insert("new".into(), "1".into());
    store.apply(1, batch(vec![create(Object::Service(s))])).unwrap();
    let updating = UpdateStatus { state: UpdateState::Updating as i32, ..Default::default() };
    // Written for an older spec version: skipped.
    assert!(store.apply(2, batch(vec![ops::service_status("s1", 2, updating.clone(), false)])).unwrap().is_empty());
    store.apply(3, batch(vec![ops::service_status("s1", 3, updating, false)])).unwrap();
    assert_eq!(store.service("s1").unwrap().update_status.as_ref().unwrap().state(), UpdateState::Updating);
    let rollback = UpdateStatus { state: UpdateState::RollbackStarted as i32, ..Default::default() };
    store.apply(4, batch(vec![ops::service_status("s1", 3, rollback, true)])).unwrap();
    let s = store.service("s1").unwrap();
    assert_eq!(s.spec_version, 4);
    assert!(s.spec.as_ref().unwrap().annotations.as_ref().unwrap().labels.is_empty(), "back on the old spec");
    assert!(s.previous_spec.as_ref().unwrap().annotations.as_ref().unwrap().labels.contains_key("new"));
    assert_eq!(s.update_status.as_ref().unwrap().state(), UpdateState::RollbackStarted);
}

#[test]
fn desired_state_only_moves_forward() {
    let mut store = MemoryStore::default();
    store.apply(1, batch(vec![create(task("t1", "s1"))])).unwrap();
    let desired = |s: TaskState| ops::task_desired("t1", s);
    store.apply(2, batch(vec![desired(TaskState::Shutdown)])).unwrap();
    store.apply(3, batch(vec![desired(TaskState::Running)])).unwrap();
    assert_eq!(store.task("t1").unwrap().desired_state(), TaskState::Shutdown);
}

#[test]
fn assignment_moves_the_task_into_the_node_index() {
    let mut store = MemoryStore::default();
    let node = Object::Node(Node { id: "n1".into(), ..Default::default() });
    store.apply(1, batch(vec![create(node), create(task("t1", "s1"))])).unwrap();
    let assign = |node: &str, message: &str| ops::task_assign("t1", node, message);
    store.apply(2, batch(vec![assign("", "no suitable node")])).unwrap();
    let t = store.task("t1").unwrap();
    assert_eq!(t.status.as_ref().unwrap().err, "no suitable node");
    assert!(store.apply(3, batch(vec![assign("", "no suitable node")])).unwrap().is_empty(), "same reason: no write");

    store.apply(4, batch(vec![assign("n1", "")])).unwrap();
    assert_eq!(store.tasks_of_node("n1").count(), 1);
    assert_eq!(store.task("t1").unwrap().status.as_ref().unwrap().state(), TaskState::Assigned);
    // An assigned task is never re-assigned.
    store.apply(5, batch(vec![assign("n2", "")])).unwrap();
    assert_eq!(store.task("t1").unwrap().node_id, "n1");

    store.apply(6, batch(vec![delete(ObjectKind::Task, "t1")])).unwrap();
    assert_eq!(store.tasks_of_node("n1").count(), 0);
    assert_eq!(store.tasks_of_service("s1").count(), 0);
}

#[test]
fn snapshot_round_trip_rebuilds_indexes() {
    let mut store = MemoryStore::default();
    store.apply(1, batch(vec![create(service("s1", "web")), create(task("t1", "s1"))])).unwrap();
    let copy = MemoryStore::from_snapshot(store.to_snapshot());
    assert_eq!(copy.to_snapshot(), store.to_snapshot());
    assert!(copy.service_by_name("web").is_some());
    assert_eq!(copy.tasks_of_service("s1").count(), 1);
}

fn network(id: &str, name: &str) -> Object {
    Object::Network(shoal_proto::Network {
        id: id.into(),
        spec: Some(shoal_proto::NetworkSpec {
            annotations: Some(Annotations { name: name.into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A task of service `s1` on network `n1`.
fn attached_task(id: &str) -> Object {
    let networks = vec![shoal_proto::NetworkAttachmentConfig { target: "n1".into(), aliases: vec![] }];
    let spec = shoal_proto::TaskSpec { networks, ..Default::default() };
    Object::Task(Task { id: id.into(), service_id: "s1".into(), spec: Some(spec), ..Default::default() })
}

#[test]
fn allocations_are_written_in_the_objects_and_follow_every_change() {
    let mut store = MemoryStore::default();
    store.apply(1, batch(vec![create(network("n1", "back"))])).unwrap();
    let n1 = store.network("n1").unwrap().allocation.clone().unwrap();
    assert_eq!((n1.subnet.as_str(), n1.vni), ("10.0.0.0/24", 4096));
    let err = store.apply(2, batch(vec![create(network("n2", "back"))])).unwrap_err();
    assert!(matches!(err, StoreError::NameConflict { .. }), "{err}");

    // Assigned, a task gets its address; the network cannot go.
    store.apply(3, batch(vec![create(attached_task("t1"))])).unwrap();
    assert!(store.task("t1").unwrap().networks.is_empty());
    store.apply(4, batch(vec![ops::task_assign("t1", "node1", "")])).unwrap();
    assert_eq!(store.task("t1").unwrap().networks[0].addresses, vec!["10.0.0.2/24".to_string()]);
    let err = store.apply(5, batch(vec![delete(ObjectKind::Network, "n1")])).unwrap_err();
    assert_eq!(err.to_string(), "network back is in use by 1 task that has not stopped yet");

    // The snapshot rebuilds what is held: the next task gets the next address.
    let mut store = MemoryStore::from_snapshot(store.to_snapshot());
    store.apply(6, batch(vec![create(attached_task("t2")), ops::task_assign("t2", "node1", "")])).unwrap();
    assert_eq!(store.task("t2").unwrap().networks[0].addresses, vec!["10.0.0.3/24".to_string()]);

    // Stopped, they hold nothing: the network may go, and a task still
    // pending on it waits with the reason.
    store.apply(7, batch(vec![status("t1", TaskState::Failed), status("t2", TaskState::Complete)])).unwrap();
    store.apply(8, batch(vec![delete(ObjectKind::Network, "n1"), create(attached_task("t3"))])).unwrap();
    store.apply(9, batch(vec![ops::task_assign("t3", "node1", "")])).unwrap();
    let t3 = store.task("t3").unwrap();
    let status = t3.status.clone().unwrap();
    assert_eq!((status.state(), status.err.as_str()), (TaskState::Pending, "network n1 not found"));
    assert!(t3.node_id.is_empty());
}

#[test]
fn a_refused_allocation_undoes_the_batch() {
    let mut store = MemoryStore::default();
    let publish = |id: &str, name: &str, port: u32| {
        let mut s = match service(id, name) {
            Object::Service(s) => s,
            _ => unreachable!(),
        };
        let endpoint = shoal_proto::EndpointSpec {
            mode: 0,
            ports: vec![shoal_proto::PortConfig { target_port: 80, published_port: port, ..Default::default() }],
        };
        s.spec.as_mut().unwrap().endpoint = Some(endpoint);
        create(Object::Service(s))
    };
    store.apply(1, batch(vec![publish("s1", "web", 8080)])).unwrap();
    let before = store.to_snapshot();
    let err = store.apply(2, batch(vec![publish("s2", "api", 0), publish("s3", "other", 8080)])).unwrap_err();
    assert_eq!(err.to_string(), "port 8080/tcp is already in use by service web (s1) in ingress mode");
    assert_eq!(store.to_snapshot(), before);
    // 30000 was not kept by the refused batch.
    store.apply(3, batch(vec![publish("s2", "api", 0)])).unwrap();
    let ports = &store.service("s2").unwrap().endpoint.as_ref().unwrap().ports;
    assert_eq!(ports[0].published_port, 30000);
}
