//! For unit tests of what works on a manager's handles: a real raft of
//! one voter (openraft on RocksDB in a temp dir) that leads, with its
//! store, proposer and leadership view, holding a cluster whose only node
//! is this manager.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::BasicNode;
use shoal_proto::transport::{Credentials, Role};
use shoal_proto::{
    Cluster, JoinTokens, ManagerStatus, Node, NodeAvailability, NodeRole, NodeSpec, NodeState, NodeStatus,
    Reachability, store_object::Object,
};
use tempfile::TempDir;

use crate::ca::{DEFAULT_CERT_EXPIRY, RootCa, token};
use crate::control::Handles;
use crate::leadership::Leadership;
use crate::ops;
use crate::proposer::Proposer;
use crate::raft::{self, RaftTiming};

/// The manager's node id, and its raft id.
pub const NODE: &str = "manager1";
pub const RAFT_ID: u64 = 1;

/// A leading one-voter manager; its raft stops with the test's runtime.
pub struct OneVoter {
    pub handles: Handles,
    dir: TempDir,
}

impl OneVoter {
    /// Where its raft state lives.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Starts the raft, waits until it leads, and writes the cluster (with
    /// its CA and join tokens) and this manager's node, Ready.
    pub async fn start() -> OneVoter {
        let dir = TempDir::new().expect("temp dir");
        let ca = RootCa::generate().expect("root CA");
        let own = ca.issue(NODE, Role::Manager, "cluster1", DEFAULT_CERT_EXPIRY).expect("certificate");
        let credentials = Credentials::new(ca.cert.clone(), own.cert, own.key).expect("credentials");
        let started =
            raft::start(dir.path(), RAFT_ID, raft::RaftState::New, &RaftTiming::default(), credentials.clone())
                .await
                .expect("raft");
        let addr = "127.0.0.1:1";
        started.raft.initialize(BTreeMap::from([(RAFT_ID, BasicNode::new(addr))])).await.expect("initialize");
        started.raft.wait(Some(Duration::from_secs(10))).current_leader(RAFT_ID, "leading").await.expect("leader");
        let proposer = Proposer::new(started.quorum.clone(), started.store.clone());
        let handles = Handles {
            store: started.store,
            proposer,
            leadership: Leadership::new(started.quorum, RAFT_ID, credentials),
            node_id: NODE.into(),
            addr: addr.into(),
            keys: crate::keys::Keyring::with(crate::keys::DataKey::generate().expect("data key")),
        };
        let digest = ca.digest();
        let cluster = Cluster {
            id: "cluster1".into(),
            root_ca: Some(
                ca.stored(
                    "cluster1",
                    &handles.keys,
                    JoinTokens { worker: token::generate(&digest), manager: token::generate(&digest) },
                )
                .expect("sealing the CA key"),
            ),
            ..Default::default()
        };
        let node = Node {
            id: NODE.into(),
            spec: Some(NodeSpec {
                desired_role: NodeRole::Manager as i32,
                availability: NodeAvailability::Active as i32,
                ..Default::default()
            }),
            status: Some(NodeStatus { state: NodeState::Ready as i32, addr: addr.into(), ..Default::default() }),
            manager_status: Some(ManagerStatus {
                raft_id: RAFT_ID,
                addr: addr.into(),
                reachability: Reachability::Reachable as i32,
                ..Default::default()
            }),
            role: NodeRole::Manager as i32,
            ..Default::default()
        };
        let one = OneVoter { handles, dir };
        one.create(vec![Object::Cluster(cluster), Object::Node(node)]).await;
        one
    }

    /// Writes `objects` as new, in one batch.
    pub async fn create(&self, objects: Vec<Object>) {
        let ops = objects.into_iter().map(ops::create).collect();
        self.handles.proposer.propose(ops).await.expect("create");
    }

    /// A worker node `id`, in `state`.
    pub fn worker(id: &str, state: NodeState) -> Object {
        Object::Node(Node {
            id: id.into(),
            spec: Some(NodeSpec {
                desired_role: NodeRole::Worker as i32,
                availability: NodeAvailability::Active as i32,
                ..Default::default()
            }),
            status: Some(NodeStatus { state: state as i32, ..Default::default() }),
            role: NodeRole::Worker as i32,
            ..Default::default()
        })
    }
}
