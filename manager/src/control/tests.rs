//! The control handlers on a real one-voter raft (see
//! [`testing`](crate::testing)): what each writes, and that each refusal
//! names what was wrong and changes nothing.

use shoal_proto::{
    Annotations, ContainerSpec, Dependency, DependencyCondition, ReplicatedService, ServiceSpec, TaskSpec, TaskStatus,
    service_spec::Mode, store_object::Object,
};
use tonic::Code;

use super::*;
use crate::testing::{NODE, OneVoter};

fn spec(name: &str, replicas: u64) -> ServiceSpec {
    ServiceSpec {
        annotations: Some(Annotations { name: name.into(), ..Default::default() }),
        mode: Some(Mode::Replicated(ReplicatedService { replicas })),
        task: Some(TaskSpec {
            container: Some(ContainerSpec { image: "sleep".into(), args: vec!["100".into()], ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn code<T: std::fmt::Debug>(result: Result<T>) -> Code {
    Status::from(result.expect_err("refused")).code()
}

/// Every object of the store: unchanged after a refusal (a refused
/// batch still takes a raft index).
fn objects(h: &Handles) -> String {
    h.store.view(|s| {
        let services: Vec<_> = s.services().collect();
        let nodes: Vec<_> = s.nodes().collect();
        let networks: Vec<_> = s.networks().collect();
        let tasks: Vec<_> = s.tasks().collect();
        format!("{:?}", (s.cluster(), services, nodes, networks, tasks))
    })
}

#[tokio::test]
async fn services_are_created_updated_rolled_back_and_removed() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    let web = services::create(&h.store, &h.proposer, spec("web", 2)).await.unwrap();
    assert_eq!(web.spec_version, 1);
    assert_eq!(web.history.iter().map(|r| r.cause.as_str()).collect::<Vec<_>>(), ["create"]);
    let task = web.spec.as_ref().and_then(|s| s.task.as_ref()).unwrap();
    assert_eq!(task.runtime, "process", "Swarm's defaults are filled in");

    let before = objects(h);
    assert_eq!(code(services::create(&h.store, &h.proposer, spec("web", 1)).await), Code::AlreadyExists);
    let empty = ServiceSpec { task: None, ..spec("api", 1) };
    let err = services::create(&h.store, &h.proposer, empty).await.unwrap_err();
    assert_eq!(err.to_string(), "image: the program to run is required");
    assert_eq!(objects(h), before, "a refused create writes nothing");

    // A new environment changes the tasks: a new spec version.
    let mut changed = spec("web", 2);
    changed.task.as_mut().unwrap().container.as_mut().unwrap().env = vec!["A=1".into()];
    let version = web.meta.as_ref().unwrap().version;
    let update =
        UpdateServiceRequest { service_id: web.id.clone(), version, spec: Some(changed.clone()), ..Default::default() };
    let updated = services::update(&h.store, &h.proposer, update.clone()).await.unwrap();
    assert_eq!(updated.spec_version, 2);
    assert_eq!(updated.previous_spec, web.spec);

    // The version read before that update is stale now.
    let before = objects(h);
    let stale = UpdateServiceRequest { spec: Some(spec("web", 5)), ..update };
    assert_eq!(code(services::update(&h.store, &h.proposer, stale).await), Code::Aborted);
    assert_eq!(objects(h), before);
    assert_eq!(h.store.view(|s| s.service(&web.id).unwrap().spec.clone()), updated.spec);

    // Rolling back twice toggles between the two specs.
    let rollback =
        |version| UpdateServiceRequest { service_id: web.id.clone(), version, rollback: true, ..Default::default() };
    let back = services::update(&h.store, &h.proposer, rollback(updated.meta.as_ref().unwrap().version)).await.unwrap();
    assert_eq!(back.spec, web.spec);
    assert_eq!(back.previous_spec, updated.spec);
    let again = services::update(&h.store, &h.proposer, rollback(back.meta.as_ref().unwrap().version)).await.unwrap();
    assert_eq!(again.spec, updated.spec);
    let missing = UpdateServiceRequest { rollback_to: 9, ..rollback(again.meta.as_ref().unwrap().version) };
    let err = services::update(&h.store, &h.proposer, missing).await.unwrap_err();
    assert!(err.to_string().starts_with("service web has no version 9"), "{err}");

    // Removing it asks its tasks to go.
    let task = Task {
        id: "t1".into(),
        service_id: web.id.clone(),
        desired_state: TaskState::Running as i32,
        status: Some(TaskStatus { state: TaskState::Running as i32, ..Default::default() }),
        ..Default::default()
    };
    one.create(vec![Object::Task(task)]).await;
    let listed = services::list(&h.store, &h.leadership);
    assert_eq!(listed.services.len(), 1);
    assert_eq!((listed.services[0].running_tasks, listed.services[0].desired_tasks), (1, 2));
    assert_eq!(listed.warning, "", "a leader with its quorum reads fresh");
    services::remove(&h.store, &h.proposer, "web").await.unwrap();
    assert!(h.store.view(|s| s.service(&web.id).is_none()));
    assert_eq!(h.store.view(|s| s.task("t1").unwrap().desired_state()), TaskState::Remove);
    assert_eq!(code(services::remove(&h.store, &h.proposer, "web").await), Code::NotFound);
}

#[tokio::test]
async fn a_dependency_cycle_is_refused() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    let depends = |name: &str, on: &str| ServiceSpec {
        depends_on: vec![Dependency { service: on.into(), condition: DependencyCondition::Started as i32 }],
        ..spec(name, 1)
    };
    services::create(&h.store, &h.proposer, depends("a", "b")).await.unwrap();
    let before = objects(h);
    let err = services::create(&h.store, &h.proposer, depends("b", "a")).await.unwrap_err();
    assert_eq!(err.to_string(), "depends_on: a cycle: b -> a -> b");
    assert_eq!(objects(h), before);
}

#[tokio::test]
async fn nodes_are_listed_with_raft_and_updated() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    one.create(vec![crate::testing::OneVoter::worker("w1", NodeState::Ready)]).await;
    let listed = nodes::list(h);
    assert_eq!(listed.self_node_id, NODE);
    let me = listed.nodes.iter().find(|n| n.id == NODE).unwrap();
    assert!(me.manager_status.as_ref().unwrap().leader, "the leader is marked from raft");

    let update = UpdateNodeRequest {
        reference: "w1".into(),
        availability: Some(NodeAvailability::Drain as i32),
        label_add: [("zone".to_string(), "a".to_string())].into(),
        ..Default::default()
    };
    let node = nodes::update(h, update).await.unwrap();
    let spec = node.spec.unwrap();
    assert_eq!(spec.availability(), NodeAvailability::Drain);
    assert_eq!(spec.annotations.unwrap().labels["zone"], "a");

    let before = objects(h);
    let bad = UpdateNodeRequest { reference: "w1".into(), availability: Some(7), ..Default::default() };
    assert_eq!(
        nodes::update(h, bad).await.unwrap_err().to_string(),
        "availability: expected active, pause or drain, got 7"
    );
    let demote =
        UpdateNodeRequest { reference: NODE.into(), role: Some(NodeRole::Worker as i32), ..Default::default() };
    let err = nodes::update(h, demote).await.unwrap_err();
    assert!(err.to_string().contains("is the last manager of the cluster"), "{err}");
    let nobody = UpdateNodeRequest { reference: "nobody".into(), ..Default::default() };
    assert_eq!(code(nodes::update(h, nobody).await), Code::NotFound);
    let version = h.store.view(|s| s.node("w1").unwrap().meta.as_ref().unwrap().version);
    let stale = UpdateNodeRequest { reference: "w1".into(), version: Some(version - 1), ..Default::default() };
    assert_eq!(code(nodes::update(h, stale).await), Code::Aborted, "a stale version");
    assert_eq!(objects(h), before, "refusals write nothing");
    let current = UpdateNodeRequest {
        reference: "w1".into(),
        version: Some(version),
        label_rm: vec!["zone".into()],
        ..Default::default()
    };
    let node = nodes::update(h, current).await.unwrap();
    assert!(node.spec.unwrap().annotations.unwrap().labels.is_empty(), "the version read is the current one");
}

#[tokio::test]
async fn only_down_workers_are_removed_unless_forced() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    one.create(vec![OneVoter::worker("up", NodeState::Ready), OneVoter::worker("gone", NodeState::Down)]).await;
    let remove = |reference: &str, force| RemoveNodeRequest { reference: reference.into(), force };
    let before = objects(h);
    let err = nodes::remove(&h.store, &h.proposer, remove(NODE, true)).await.unwrap_err();
    assert!(err.to_string().contains("demote it before removing it"), "{err}");
    let err = nodes::remove(&h.store, &h.proposer, remove("up", false)).await.unwrap_err();
    assert!(err.to_string().contains("use --force"), "{err}");
    assert_eq!(objects(h), before);

    nodes::remove(&h.store, &h.proposer, remove("gone", false)).await.unwrap();
    nodes::remove(&h.store, &h.proposer, remove("up", true)).await.unwrap();
    let (left, removed) = h.store.view(|s| (s.nodes().count(), s.cluster().unwrap().removed_nodes.clone()));
    assert_eq!(left, 1);
    assert_eq!(removed, ["gone", "up"], "their certificates are refused from now on");
}

#[tokio::test]
async fn join_tokens_are_read_and_rotated() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    let ask = |role: &str, rotate| JoinTokenRequest { role: role.into(), rotate };
    let worker = nodes::join_token(h, ask("worker", false)).await.unwrap();
    assert_eq!(worker.addr, h.addr);
    let manager = nodes::join_token(h, ask("manager", false)).await.unwrap();
    assert_ne!(worker.token, manager.token);
    let rotated = nodes::join_token(h, ask("worker", true)).await.unwrap();
    assert_ne!(rotated.token, worker.token);
    assert_eq!(nodes::join_token(h, ask("manager", false)).await.unwrap().token, manager.token, "the other stays");
    let err = nodes::join_token(h, ask("admin", true)).await.unwrap_err();
    assert_eq!(err.to_string(), "role: expected worker or manager, got \"admin\"");
}

#[tokio::test]
async fn networks_are_created_read_and_removed() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    let named = |name: &str| NetworkSpec {
        annotations: Some(Annotations { name: name.into(), ..Default::default() }),
        ..Default::default()
    };
    let back = networks::create(&h.store, &h.proposer, named("back")).await.unwrap();
    assert_eq!(back.spec.as_ref().unwrap().driver, "overlay");
    assert!(back.allocation.as_ref().is_some_and(|a| a.vni > 0), "the store allocates its VXLAN id");
    assert_eq!(networks::get(&h.store, "back").unwrap().id, back.id);

    let before = objects(h);
    assert_eq!(code(networks::create(&h.store, &h.proposer, named("back")).await), Code::AlreadyExists);
    assert_eq!(code(networks::create(&h.store, &h.proposer, named("")).await), Code::InvalidArgument);
    // In use by a service: the store refuses.
    let mut web = spec("web", 1);
    web.task.as_mut().unwrap().networks =
        vec![shoal_proto::NetworkAttachmentConfig { target: "back".into(), ..Default::default() }];
    services::create(&h.store, &h.proposer, web).await.unwrap();
    let before_remove = objects(h);
    assert_eq!(code(networks::remove(&h.store, &h.proposer, "back").await), Code::FailedPrecondition);
    assert_eq!(objects(h), before_remove);
    assert_ne!(before_remove, before);

    services::remove(&h.store, &h.proposer, "web").await.unwrap();
    networks::remove(&h.store, &h.proposer, "back").await.unwrap();
    assert_eq!(networks::list(&h.store, &h.leadership).networks.len(), 0);
}

#[tokio::test]
async fn cluster_settings_are_checked_and_written() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    let before = objects(h);
    let fast = UpdateClusterRequest { heartbeat_period_ns: 1_000_000, ..Default::default() };
    let err = cluster::update(&h.store, &h.proposer, &h.keys, fast).await.unwrap_err();
    assert!(err.to_string().starts_with("--dispatcher-heartbeat: expected at least"), "{err}");
    let short = UpdateClusterRequest { cert_expiry_ns: 1, ..Default::default() };
    assert!(
        cluster::update(&h.store, &h.proposer, &h.keys, short)
            .await
            .unwrap_err()
            .to_string()
            .starts_with("--cert-expiry")
    );
    assert_eq!(objects(h), before);

    let req =
        UpdateClusterRequest { heartbeat_period_ns: 2_000_000_000, task_history_limit: Some(3), ..Default::default() };
    let cluster = cluster::update(&h.store, &h.proposer, &h.keys, req).await.unwrap();
    let root = cluster.root_ca.as_ref().unwrap();
    assert!(root.key.is_empty() && root.sealed_key.is_none(), "the CA key never leaves, not even sealed");
    let spec = h.store.view(|s| s.cluster().unwrap().spec.clone().unwrap());
    assert_eq!(spec.dispatcher.unwrap().heartbeat_period_ns, 2_000_000_000);
    assert_eq!(spec.orchestration.unwrap().task_history_retention_limit, 3);
    assert!(h.store.view(|s| s.cluster().unwrap().root_ca.clone().unwrap().sealed_key.is_some()), "kept in the store");

    let unknown = UpdateClusterRequest { default_runtime: "podman".into(), ..Default::default() };
    let err = cluster::update(&h.store, &h.proposer, &h.keys, unknown).await.unwrap_err();
    assert_eq!(err.to_string(), "--default-runtime: expected one of process, docker, got \"podman\"");
}

#[tokio::test]
async fn a_service_keeps_the_runtime_it_was_created_with() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    let runtime = |s: &Service| s.spec.as_ref().and_then(|s| s.task.as_ref()).unwrap().runtime.clone();
    let web = services::create(&h.store, &h.proposer, spec("web", 1)).await.unwrap();
    assert_eq!(runtime(&web), "process", "the cluster's default");
    let docker = UpdateClusterRequest { default_runtime: "docker".into(), ..Default::default() };
    cluster::update(&h.store, &h.proposer, &h.keys, docker).await.unwrap();
    let api = services::create(&h.store, &h.proposer, spec("api", 1)).await.unwrap();
    assert_eq!(runtime(&api), "docker", "the new default, for a new service");
    // An update that names no runtime keeps the service's.
    let version = web.meta.as_ref().unwrap().version;
    let req =
        UpdateServiceRequest { service_id: web.id.clone(), version, spec: Some(spec("web", 2)), ..Default::default() };
    let updated = services::update(&h.store, &h.proposer, req).await.unwrap();
    assert_eq!(runtime(&updated), "process");
    assert_eq!(updated.spec_version, web.spec_version, "the runtime kept: no new task spec");
}

#[tokio::test]
async fn the_service_answers_writes_once_with_the_index_and_refuses_without_a_manager() {
    let one = OneVoter::start().await;
    let handles = one.handles.clone();
    let control = ControlService::new(move || Some(handles.clone()));
    let req = CreateServiceRequest { spec: Some(spec("web", 1)) };
    let reply = control.create_service(Request::new(req.clone())).await.unwrap();
    let index = reply.metadata().get("x-shoal-index").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    assert_eq!(index, Some(one.handles.store.view(|s| s.index())), "a forwarding manager waits for this index");
    assert_eq!(reply.into_inner().spec.unwrap().annotations.unwrap().name, "web");

    let none = ControlService::new(|| None);
    let status = none.create_service(Request::new(req)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().starts_with("this node is not a cluster manager"), "{}", status.message());
}

#[tokio::test]
async fn autolock_makes_rotates_and_drops_the_unlock_key() {
    let one = OneVoter::start().await;
    let h = &one.handles;
    let key = || cluster::unlock_key(&h.store, &h.keys).unwrap().key;
    let update = |autolock: Option<bool>, rotate: bool| UpdateClusterRequest {
        autolock,
        rotate_unlock_key: rotate,
        ..Default::default()
    };
    assert_eq!(key(), "", "off: no key");
    let err = cluster::update(&h.store, &h.proposer, &h.keys, update(None, true)).await.unwrap_err();
    assert!(err.to_string().starts_with("--rotate: autolock is off"), "{err}");
    let shown = cluster::update(&h.store, &h.proposer, &h.keys, update(Some(true), false)).await.unwrap();
    assert!(shown.unlock_key.is_none() && shown.spec.unwrap().autolock_managers, "on, and the key never shown");
    let first = key();
    assert!(crate::keys::parse_unlock_key(&first).is_ok(), "{first}");
    cluster::update(&h.store, &h.proposer, &h.keys, update(Some(true), false)).await.unwrap();
    assert_eq!(key(), first, "turning it on again keeps the key");
    cluster::update(&h.store, &h.proposer, &h.keys, update(None, true)).await.unwrap();
    let rotated = key();
    assert!(rotated != first && crate::keys::parse_unlock_key(&rotated).is_ok());
    let stored = h.store.view(|s| s.cluster().unwrap().unlock_key.clone().unwrap());
    let raw = crate::keys::parse_unlock_key(&rotated).unwrap();
    assert!(!stored.ciphertext.windows(32).any(|w| w == raw.as_bytes()), "sealed in the store");
    cluster::update(&h.store, &h.proposer, &h.keys, update(Some(false), false)).await.unwrap();
    assert_eq!(key(), "");
    assert!(h.store.view(|s| s.cluster().unwrap().unlock_key.is_none()));
}
