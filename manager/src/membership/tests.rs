//! What a request to join raft must prove before the leader acts on it.

use shoal_proto::transport::Role;
use shoal_proto::{Batch, Cluster, Node, NodeSpec, NodeStatus, store_object::Object};

use super::*;
use crate::ops::create;

fn node(id: &str, role: NodeRole, addr: &str, raft_id: Option<u64>) -> Object {
    Object::Node(Node {
        id: id.into(),
        spec: Some(NodeSpec { desired_role: role as i32, ..Default::default() }),
        status: Some(NodeStatus { addr: addr.into(), ..Default::default() }),
        manager_status: raft_id.map(|raft_id| ManagerStatus { raft_id, addr: addr.into(), ..Default::default() }),
        ..Default::default()
    })
}

fn store() -> MemoryStore {
    let mut store = MemoryStore::default();
    let cluster = Cluster { id: "c".into(), removed_nodes: vec!["gone".into()], ..Default::default() };
    let ops = vec![
        create(Object::Cluster(cluster)),
        create(node("leader", NodeRole::Manager, "127.0.0.1:4000", Some(1))),
        create(node("new", NodeRole::Manager, "127.0.0.2:4000", None)),
        create(node("worker", NodeRole::Worker, "127.0.0.3:4000", None)),
    ];
    store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
    store
}

fn caller(id: &str) -> Identity {
    Identity { node_id: id.into(), role: Role::Manager }
}

fn request(node_id: &str, raft_id: u64, addr: &str) -> AddManagerRequest {
    AddManagerRequest { raft_id, addr: addr.into(), node_id: node_id.into() }
}

#[test]
fn a_manager_node_adds_itself_at_its_recorded_address() {
    let members = vec![(1, "127.0.0.1:4000".to_string(), true)];
    assert!(matches!(check(&store(), &members, &caller("new"), &request("new", 7, "127.0.0.2:4000")), Ok(false)));
    // Retried once it is a voter and recorded: nothing to do.
    let members = vec![(1, "127.0.0.1:4000".to_string(), true), (7, "127.0.0.2:4000".to_string(), true)];
    let mut store = MemoryStore::default();
    let ops = vec![create(node("new", NodeRole::Manager, "127.0.0.2:4000", Some(7)))];
    store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
    assert!(matches!(check(&store, &members, &caller("new"), &request("new", 7, "127.0.0.2:4000")), Ok(true)));
}

#[test]
fn every_forged_or_wrong_request_is_refused() {
    let store = store();
    let members = vec![(1, "127.0.0.1:4000".to_string(), true), (9, "127.0.0.9:4000".to_string(), false)];
    let refused = |caller_id: &str, req: AddManagerRequest| {
        let err = check(&store, &members, &caller(caller_id), &req).unwrap_err();
        (err.code(), err.message().to_string())
    };
    use tonic::Code::*;
    // The empty request that once added voter 0 at "".
    let (code, msg) = refused("leader", AddManagerRequest::default());
    assert_eq!(code, PermissionDenied, "{msg}");
    let (code, msg) = refused("new", request("new", 0, "127.0.0.2:4000"));
    assert_eq!((code, msg.as_str()), (InvalidArgument, "raft_id: expected a non-zero raft id, got 0"));
    let (code, msg) = refused("new", request("new", 7, ""));
    assert_eq!((code, msg.as_str()), (InvalidArgument, "addr: expected IP:PORT, got \"\""));
    let (_, msg) = refused("leader", request("new", 7, "127.0.0.2:4000"));
    assert!(msg.contains("a node adds only itself"), "{msg}");
    let (_, msg) = refused("new", request("new", 7, "127.0.0.5:4000"));
    assert!(msg.contains("recorded at \"127.0.0.2:4000\""), "{msg}");
    let (_, msg) = refused("worker", request("worker", 7, "127.0.0.3:4000"));
    assert!(msg.contains("not a manager of this cluster"), "{msg}");
    let (_, msg) = refused("gone", request("gone", 7, "127.0.0.2:4000"));
    assert!(msg.contains("not part of this cluster"), "{msg}");
    let (_, msg) = refused("new", request("new", 1, "127.0.0.2:4000"));
    assert!(msg.contains("belongs to node leader"), "{msg}");
    let (_, msg) = refused("new", request("new", 9, "127.0.0.2:4000"));
    assert!(msg.contains("raft member at 127.0.0.9:4000"), "{msg}");
    let (code, msg) = refused("leader", request("leader", 5, "127.0.0.1:4000"));
    assert_eq!(code, FailedPrecondition, "{msg}");
}
