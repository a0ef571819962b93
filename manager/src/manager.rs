//! The manager of one node: raft, the store, the proposer and the
//! dispatcher, started together; [`Manager::run`] follows leadership.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use shoal_proto::dispatcher_server::DispatcherServer;
use shoal_proto::raft_server::RaftServer;
use shoal_proto::{
    Annotations, Cluster, ClusterSpec, DispatcherConfig, ManagerStatus, Node, NodeAvailability, NodeDescription,
    NodeRole, NodeSpec, NodeStatus, OrchestrationConfig, store_object::Object,
};
use tokio_util::sync::CancellationToken;

use crate::dispatcher::{DEFAULT_HEARTBEAT_PERIOD, Dispatcher};
use crate::ids::new_id;
use crate::ops;
use crate::proposer::{ProposeError, Proposer};
use crate::raft::{self, Raft, RaftService, RaftTiming};
use crate::store::Store;

/// What a manager needs to start.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub node_id: String,
    pub raft_id: u64,
    /// Address other nodes reach this node's endpoint at.
    pub addr: String,
    /// Where the raft log, vote and snapshots live.
    pub raft_dir: PathBuf,
    pub timing: RaftTiming,
}

/// What `node init` decides about the new cluster.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Old tasks kept per slot.
    pub task_history_limit: u64,
    /// This node as it describes itself.
    pub description: NodeDescription,
}

/// Why the manager could not start or bootstrap.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Raft(#[from] raft::StartError),
    #[error("initialising raft: {0}")]
    Init(String),
    #[error("writing the new cluster: {0}")]
    Propose(#[from] ProposeError),
}

/// A running manager; cheap to clone.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

struct Inner {
    config: ManagerConfig,
    raft: Raft,
    store: Store,
    proposer: Proposer,
    dispatcher: Dispatcher,
}

impl Manager {
    /// Opens the raft state and starts raft (no loops yet: see [`run`](Self::run)).
    pub async fn start(config: ManagerConfig) -> Result<Manager, ManagerError> {
        std::fs::create_dir_all(&config.raft_dir).map_err(raft::StartError::Io)?;
        let (raft, store) = raft::start(&config.raft_dir, config.raft_id, &config.timing).await?;
        let proposer = Proposer::new(raft.clone());
        let dispatcher = Dispatcher::new(store.clone(), proposer.clone(), raft.clone(), config.raft_id);
        Ok(Manager { inner: Arc::new(Inner { config, raft, store, proposer, dispatcher }) })
    }

    /// Makes this manager the single voter of a new cluster and writes the
    /// cluster and this node. Returns the cluster id.
    pub async fn bootstrap(&self, options: InitOptions) -> Result<String, ManagerError> {
        let config = &self.inner.config;
        let members = BTreeMap::from([(config.raft_id, BasicNode::new(&config.addr))]);
        self.inner.raft.initialize(members).await.map_err(|e| ManagerError::Init(e.to_string()))?;
        self.inner
            .raft
            .wait(Some(Duration::from_secs(30)))
            .current_leader(config.raft_id, "bootstrap")
            .await
            .map_err(|e| ManagerError::Init(e.to_string()))?;
        let cluster = Cluster {
            id: new_id(),
            meta: None,
            spec: Some(ClusterSpec {
                annotations: Some(Annotations { name: "default".into(), ..Default::default() }),
                orchestration: Some(OrchestrationConfig { task_history_retention_limit: options.task_history_limit }),
                dispatcher: Some(DispatcherConfig { heartbeat_period_ns: DEFAULT_HEARTBEAT_PERIOD.as_nanos() as i64 }),
            }),
        };
        let node = Node {
            id: config.node_id.clone(),
            spec: Some(NodeSpec {
                annotations: None,
                desired_role: NodeRole::Manager as i32,
                availability: NodeAvailability::Active as i32,
            }),
            description: Some(options.description),
            status: Some(NodeStatus { addr: config.addr.clone(), ..Default::default() }),
            manager_status: Some(ManagerStatus {
                raft_id: config.raft_id,
                addr: config.addr.clone(),
                ..Default::default()
            }),
            role: NodeRole::Manager as i32,
            meta: None,
        };
        let cluster_id = cluster.id.clone();
        self.inner
            .proposer
            .propose(vec![ops::create(Object::Cluster(cluster)), ops::create(Object::Node(node))])
            .await?;
        Ok(cluster_id)
    }

    /// Follows leadership, running the leader's loops, until `stop`.
    pub async fn run(&self, stop: CancellationToken) {
        crate::leader::run(self.clone(), stop).await;
    }

    /// Stops raft.
    pub async fn shutdown(&self) {
        let _ = self.inner.raft.shutdown().await;
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn proposer(&self) -> &Proposer {
        &self.inner.proposer
    }

    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.inner.dispatcher
    }

    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    /// The raft id of the current leader, if one is known.
    pub fn leader_raft_id(&self) -> Option<u64> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// The raft gRPC service, for the node endpoint.
    pub fn raft_service(&self) -> RaftServer<RaftService> {
        RaftServer::new(RaftService::new(self.inner.raft.clone()))
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }

    /// The dispatcher gRPC service, for the node endpoint.
    pub fn dispatcher_service(&self) -> DispatcherServer<Dispatcher> {
        DispatcherServer::new(self.inner.dispatcher.clone())
    }
}
