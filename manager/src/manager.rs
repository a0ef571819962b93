//! The manager of one node: raft, the store, the proposer and the
//! dispatcher, started together; [`Manager::run`] follows leadership.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use shoal_proto::control_server::ControlServer;
use shoal_proto::dispatcher_server::DispatcherServer;
use shoal_proto::membership_server::MembershipServer;
use shoal_proto::node_ca_server::NodeCaServer;
use shoal_proto::raft_server::RaftServer;
use shoal_proto::transport::{self, Credentials, Role, auth};
use shoal_proto::{
    AdminCertificate, Annotations, CaConfig, Cluster, ClusterSpec, DispatcherConfig, JoinTokens, ManagerStatus, Node,
    NodeAvailability, NodeDescription, NodeRole, NodeSpec, NodeStatus, OrchestrationConfig, RootCa as RootCaObject,
    store_object::Object,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::ca::service::CaService;
use crate::ca::{RootCa, token};
use crate::control::ControlService;
use crate::dispatcher::{DEFAULT_HEARTBEAT_PERIOD, Dispatcher};
use crate::membership::MembershipService;
use crate::ops;
use crate::proposer::{ProposeError, Proposer};
use crate::raft::{self, Closed, Quorum, Raft, RaftService, RaftState, RaftTiming};
use crate::standing::{self, Rights};
use crate::store::{MemoryStore, Store, StoreError};

/// What a manager needs to start.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub node_id: String,
    pub raft_id: u64,
    /// Address other nodes reach this node's endpoint at.
    pub addr: String,
    /// Where the raft log, vote and snapshots live.
    pub raft_dir: PathBuf,
    /// Whether the raft state is made now or opened as this member left it.
    pub raft_state: RaftState,
    pub timing: RaftTiming,
    /// This manager's TLS identity, for talking to other nodes.
    pub credentials: Credentials,
}

/// What `node init` decides about the new cluster.
#[derive(Clone)]
pub struct InitOptions {
    pub cluster_id: String,
    pub root_ca: RootCa,
    /// Old tasks kept per slot.
    pub task_history_limit: u64,
    /// Lifetime of node certificates.
    pub cert_expiry: Duration,
    /// UDP port of the VXLAN data path.
    pub data_path_port: u32,
    /// This node as it describes itself.
    pub description: NodeDescription,
    /// The admin certificate issued with the cluster.
    pub admin: AdminCertificate,
}

/// Why the manager could not start or bootstrap.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Raft(Box<raft::StartError>),
    #[error("initialising raft: {0}")]
    Init(String),
    #[error("writing the new cluster: {0}")]
    Propose(#[from] ProposeError),
}

impl From<raft::StartError> for ManagerError {
    fn from(e: raft::StartError) -> ManagerError {
        ManagerError::Raft(Box::new(e))
    }
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
    quorum: Quorum,
    dispatcher: Dispatcher,
    closed: Closed,
}

impl Manager {
    /// Opens the raft state and starts raft (no loops yet: see [`run`](Self::run)).
    pub async fn start(config: ManagerConfig) -> Result<Manager, ManagerError> {
        if config.raft_state == RaftState::New {
            std::fs::create_dir_all(&config.raft_dir).map_err(raft::StartError::Io)?;
        }
        let raft::Started { raft, store, quorum, closed } = raft::start(
            &config.raft_dir,
            config.raft_id,
            config.raft_state,
            &config.timing,
            config.credentials.clone(),
        )
        .await?;
        let proposer = Proposer::new(quorum.clone());
        let dispatcher = Dispatcher::new(store.clone(), proposer.clone(), raft.clone(), config.raft_id);
        Ok(Manager { inner: Arc::new(Inner { config, raft, store, proposer, quorum, dispatcher, closed }) })
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
        let digest = options.root_ca.digest();
        let cluster = Cluster {
            id: options.cluster_id.clone(),
            meta: None,
            spec: Some(ClusterSpec {
                annotations: Some(Annotations { name: "default".into(), ..Default::default() }),
                orchestration: Some(OrchestrationConfig {
                    task_history_retention_limit: options.task_history_limit,
                    spec_history_limit: crate::history::DEFAULT_SPEC_HISTORY_LIMIT,
                }),
                dispatcher: Some(DispatcherConfig { heartbeat_period_ns: DEFAULT_HEARTBEAT_PERIOD.as_nanos() as i64 }),
                ca: Some(CaConfig { node_cert_expiry_ns: options.cert_expiry.as_nanos() as i64 }),
                data_path_port: options.data_path_port,
            }),
            root_ca: Some(RootCaObject {
                cert: options.root_ca.cert.clone(),
                key: options.root_ca.key.clone(),
                join_tokens: Some(JoinTokens { worker: token::generate(&digest), manager: token::generate(&digest) }),
            }),
            removed_nodes: Vec::new(),
            admin_certificates: vec![options.admin],
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
                reachability: shoal_proto::Reachability::Reachable as i32,
                ..Default::default()
            }),
            role: NodeRole::Manager as i32,
            meta: None,
            attachments: Vec::new(),
            certificate_expiry: shoal_proto::now_nanos().saturating_add(options.cert_expiry.as_nanos() as i64),
        };
        let cluster_id = cluster.id.clone();
        self.inner
            .proposer
            .propose(vec![
                ops::create(Object::Cluster(cluster)),
                // The ingress network before the node: it gets its address on it.
                ops::create(Object::Network(crate::control::networks::ingress())),
                ops::create(Object::Node(node)),
            ])
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

    /// Tells when the raft database has closed, once every handle on this
    /// manager is dropped after [`shutdown`](Self::shutdown).
    pub fn closed(&self) -> Closed {
        self.inner.closed.clone()
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

    pub fn quorum(&self) -> &Quorum {
        &self.inner.quorum
    }

    /// For reads: a warning when this manager has no quorum (its store
    /// may miss recent writes), else empty.
    pub fn staleness(&self) -> String {
        match self.inner.quorum.check() {
            Ok(()) => String::new(),
            Err(e) => format!("{e}: this manager's view may be stale"),
        }
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.inner.dispatcher
    }

    pub fn raft_id(&self) -> u64 {
        self.inner.config.raft_id
    }

    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    /// This manager's advertised endpoint.
    pub fn addr(&self) -> &str {
        &self.inner.config.addr
    }

    /// The raft id of the current leader, if one is known.
    pub fn leader_raft_id(&self) -> Option<u64> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// Whether a caller still holds `rights` (see [`standing`](crate::standing)).
    pub fn standing(&self, rights: Rights) -> auth::Standing {
        let store = self.inner.store.clone();
        std::sync::Arc::new(move |caller: &transport::Identity| store.view(|s| standing::check(s, caller, rights)))
    }

    /// The leader's raft id and address, or `None` when this manager
    /// leads; refused without a quorum or a known leader.
    fn leader(&self) -> Result<Option<(u64, String)>, tonic::Status> {
        self.inner.quorum.check().map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let metrics = self.inner.raft.metrics();
        let m = metrics.borrow();
        let Some(leader) = m.current_leader else {
            return Err(tonic::Status::unavailable("no raft leader yet: try again"));
        };
        if leader == self.inner.config.raft_id {
            return Ok(None);
        }
        let addr = m.membership_config.membership().get_node(&leader).map(|n| n.addr.clone());
        let addr = addr.ok_or_else(|| tonic::Status::unavailable("the raft leader's address is unknown"))?;
        Ok(Some((leader, addr)))
    }

    /// The leader's address, or `None` when this manager leads.
    pub fn leader_addr(&self) -> Result<Option<String>, tonic::Status> {
        Ok(self.leader()?.map(|(_, addr)| addr))
    }

    /// The leader's raft id and a channel to it, or `None` when this
    /// manager leads.
    pub fn leader_channel(&self, server_name: &'static str) -> Result<Option<(u64, Channel)>, tonic::Status> {
        let Some((leader, addr)) = self.leader()? else { return Ok(None) };
        transport::channel(&addr, &self.inner.config.credentials, server_name)
            .map(|channel| Some((leader, channel)))
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }

    /// This manager's TLS identity.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.config.credentials
    }

    /// Changes a node (read, change, write), retrying if it changed meanwhile.
    pub async fn update_node(&self, id: &str, change: impl Fn(&mut Node)) -> Result<Node, ProposeError> {
        self.read_change_write("node", |s| s.node(id).cloned(), Object::Node, change).await
    }

    /// Changes the cluster object, retrying if it changed meanwhile.
    pub async fn update_cluster(&self, change: impl Fn(&mut Cluster)) -> Result<Cluster, ProposeError> {
        self.read_change_write("cluster", |s| s.cluster().cloned(), Object::Cluster, change).await
    }

    async fn read_change_write<T: Clone>(
        &self,
        kind: &str,
        read: impl Fn(&MemoryStore) -> Option<T>,
        wrap: impl Fn(T) -> Object,
        change: impl Fn(&mut T),
    ) -> Result<T, ProposeError> {
        loop {
            let object = self.inner.store.view(&read);
            let mut object = object.ok_or_else(|| StoreError::NotFound { kind: kind.into(), id: String::new() })?;
            change(&mut object);
            match self.inner.proposer.propose(vec![ops::update(wrap(object.clone()))]).await {
                Err(ProposeError::Store(StoreError::VersionConflict { .. })) => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(object),
            }
        }
    }

    fn require(&self, roles: &'static [Role], rights: Rights) -> impl tonic::service::Interceptor + Clone + use<> {
        auth::require(roles, self.standing(rights))
    }

    /// The raft gRPC service (managers only), for the node endpoint.
    pub fn raft_service(
        &self,
    ) -> InterceptedService<RaftServer<RaftService>, impl tonic::service::Interceptor + Clone + use<>> {
        let server = RaftServer::new(RaftService::new(self.inner.raft.clone(), self.inner.quorum.contacts().clone()))
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        InterceptedService::new(server, self.require(&[Role::Manager], Rights::RaftMember))
    }

    /// The dispatcher gRPC service (any node), for the node endpoint.
    pub fn dispatcher_service(
        &self,
    ) -> InterceptedService<DispatcherServer<Dispatcher>, impl tonic::service::Interceptor + Clone + use<>> {
        InterceptedService::new(
            DispatcherServer::new(self.inner.dispatcher.clone()),
            self.require(&[Role::Manager, Role::Worker], Rights::Member),
        )
    }

    /// The CA service (no certificate needed: join tokens are the credential).
    pub fn ca_service(&self) -> NodeCaServer<CaService> {
        NodeCaServer::new(CaService::new(self.clone()))
    }

    /// Raft membership changes (managers only).
    pub fn membership_service(
        &self,
    ) -> InterceptedService<MembershipServer<MembershipService>, impl tonic::service::Interceptor + Clone + use<>> {
        InterceptedService::new(
            MembershipServer::new(MembershipService::new(self.clone())),
            self.require(&[Role::Manager], Rights::Manager),
        )
    }

    /// The control API for remote callers (admin certificates, and
    /// managers forwarding to the leader).
    pub fn control_service(
        &self,
    ) -> InterceptedService<ControlServer<ControlService>, impl tonic::service::Interceptor + Clone + use<>> {
        let (_, rx) = watch::channel(Some(self.clone()));
        InterceptedService::new(
            ControlServer::new(ControlService::new(rx)),
            self.require(&[Role::Manager, Role::Admin], Rights::Manager),
        )
    }
}

/// Node ids of the nodes the cluster wants as managers now.
pub(crate) fn manager_ids(store: &MemoryStore) -> Vec<String> {
    let manager = |n: &&Node| n.spec.as_ref().is_some_and(|s| s.desired_role() == NodeRole::Manager);
    store.nodes().filter(manager).map(|n| n.id.clone()).collect()
}

/// Endpoints of every manager.
pub(crate) fn manager_addrs(store: &MemoryStore) -> Vec<String> {
    store
        .nodes()
        .filter(|n| n.role() == NodeRole::Manager)
        .filter_map(|n| n.manager_status.as_ref().map(|m| m.addr.clone()))
        .collect()
}
