//! The assembly of a node's manager: raft, the store, the proposer and
//! the dispatcher are started together here, and each gRPC service and
//! loop is handed only the handles it uses ([`Leadership`], [`Store`],
//! [`Proposer`], ...). No other module of the crate imports this one;
//! the binary drives a node's manager through [`Manager`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use shoal_proto::control_server::ControlServer;
use shoal_proto::dispatcher_server::DispatcherServer;
use shoal_proto::membership_server::MembershipServer;
use shoal_proto::node_ca_server::NodeCaServer;
use shoal_proto::raft_server::RaftServer;
use shoal_proto::transport::{self, Role, auth};
use shoal_proto::{
    AdminCertificate, Annotations, CaConfig, Cluster, ClusterSpec, DispatcherConfig, JoinTokens, ManagerStatus, Node,
    NodeAvailability, NodeDescription, NodeRole, NodeSpec, NodeStatus, OrchestrationConfig, store_object::Object,
};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

use crate::ca::service::CaService;
use crate::ca::{RootCa, token};
use crate::config::{ManagerConfig, ManagerError};
use crate::control::{self, ControlService};
use crate::dispatcher::{DEFAULT_HEARTBEAT_PERIOD, Dispatcher};
use crate::leadership::Leadership;
use crate::membership::MembershipService;
use crate::proposer::Proposer;
use crate::raft::{self, Closed, Quorum, Raft, RaftService};
use crate::standing::{self, Rights};
use crate::store::Store;
use crate::{leader, ops};

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
    /// The runtime of services created without one.
    pub default_runtime: String,
    /// Autolock: the unlock key (sealed into the cluster object).
    pub unlock_key: Option<crate::keys::DataKey>,
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
    leadership: Leadership,
    dispatcher: Dispatcher,
    closed: Closed,
}

impl Manager {
    /// Opens the raft state and starts raft (no loops yet: see [`run`](Self::run)).
    pub async fn start(config: ManagerConfig) -> Result<Manager, ManagerError> {
        let raft::Started { raft, store, quorum, closed } = config.start_raft().await?;
        store.history().set_limits(config.events);
        let proposer = Proposer::new(quorum.clone(), store.clone());
        let leadership = Leadership::new(quorum, config.raft_id, config.credentials.clone());
        let dispatcher = Dispatcher::new(store.clone(), proposer.clone(), leadership.clone(), config.keys.clone());
        Ok(Manager { inner: Arc::new(Inner { config, raft, store, proposer, leadership, dispatcher, closed }) })
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
                default_runtime: options.default_runtime.clone(),
                autolock_managers: options.unlock_key.is_some(),
            }),
            root_ca: Some(
                options
                    .root_ca
                    .stored(
                        &options.cluster_id,
                        &config.keys,
                        JoinTokens { worker: token::generate(&digest), manager: token::generate(&digest) },
                    )
                    .map_err(|e| ManagerError::Init(format!("sealing the CA's key: {e}")))?,
            ),
            removed_nodes: Vec::new(),
            admin_certificates: vec![options.admin],
            unlock_key: match &options.unlock_key {
                Some(key) => Some(
                    config
                        .keys
                        .seal_unlock_key(&options.cluster_id, key)
                        .map_err(|e| ManagerError::Init(format!("sealing the unlock key: {e}")))?,
                ),
                None => None,
            },
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
                ops::create(Object::Network(control::networks::ingress())),
                ops::create(Object::Node(node)),
            ])
            .await?;
        Ok(cluster_id)
    }

    /// Follows leadership, running the leader's loops, until `stop`.
    pub async fn run(&self, stop: CancellationToken) {
        let inner = &self.inner;
        let handles = leader::Handles {
            store: inner.store.clone(),
            proposer: inner.proposer.clone(),
            quorum: inner.leadership.quorum().clone(),
            dispatcher: inner.dispatcher.clone(),
            raft_id: inner.config.raft_id,
        };
        leader::run(handles, stop).await;
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

    /// How many worker sessions this manager serves (as leader).
    pub fn sessions(&self) -> usize {
        self.inner.dispatcher.sessions()
    }

    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    pub fn quorum(&self) -> &Quorum {
        self.inner.leadership.quorum()
    }

    /// The cluster's data key, as this manager holds it.
    pub fn keys(&self) -> &crate::keys::Keyring {
        &self.inner.config.keys
    }

    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    /// This manager's certificate and the cluster's CA (renewed in place).
    pub fn credentials(&self) -> &transport::Credentials {
        &self.inner.config.credentials
    }

    /// Credentials to serve HTTPS at `ip` ([`crate::ca::serving`]).
    pub fn serving_credentials(&self, ip: std::net::IpAddr) -> Result<transport::Credentials, String> {
        self.store().view(|s| {
            let cluster = s.cluster().ok_or("the cluster is not initialised")?;
            crate::ca::serving::credentials(cluster, self.keys(), self.node_id(), ip)
        })
    }

    /// What the control API works with (for the node's own socket, which
    /// answers once this node is a manager).
    pub fn control(&self) -> control::Handles {
        control::Handles {
            store: self.inner.store.clone(),
            proposer: self.inner.proposer.clone(),
            leadership: self.inner.leadership.clone(),
            node_id: self.inner.config.node_id.clone(),
            addr: self.inner.config.addr.clone(),
            keys: self.inner.config.keys.clone(),
        }
    }

    /// Whether a caller still holds `rights` (see [`standing`](crate::standing)).
    fn standing(&self, rights: Rights) -> auth::Standing {
        let store = self.inner.store.clone();
        std::sync::Arc::new(move |caller: &transport::Identity| store.view(|s| standing::check(s, caller, rights)))
    }

    fn require(&self, roles: &'static [Role], rights: Rights) -> impl tonic::service::Interceptor + Clone + use<> {
        auth::require(roles, self.standing(rights))
    }

    /// The raft gRPC service (managers only), for the node endpoint.
    pub fn raft_service(
        &self,
    ) -> InterceptedService<RaftServer<RaftService>, impl tonic::service::Interceptor + Clone + use<>> {
        let contacts = self.inner.leadership.quorum().contacts().clone();
        let server = RaftServer::new(RaftService::new(self.inner.raft.clone(), contacts))
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
        let inner = &self.inner;
        NodeCaServer::new(CaService::new(
            inner.store.clone(),
            inner.proposer.clone(),
            inner.leadership.clone(),
            inner.config.keys.clone(),
        ))
    }

    /// Raft membership changes (managers only).
    pub fn membership_service(
        &self,
    ) -> InterceptedService<MembershipServer<MembershipService>, impl tonic::service::Interceptor + Clone + use<>> {
        InterceptedService::new(
            MembershipServer::new(MembershipService::new(
                self.inner.store.clone(),
                self.inner.proposer.clone(),
                self.inner.leadership.clone(),
                self.inner.config.keys.clone(),
            )),
            self.require(&[Role::Manager], Rights::Manager),
        )
    }

    /// The control API for remote callers (admin certificates, and
    /// managers forwarding to the leader).
    pub fn control_service(
        &self,
    ) -> InterceptedService<ControlServer<ControlService>, impl tonic::service::Interceptor + Clone + use<>> {
        let handles = self.control();
        InterceptedService::new(
            ControlServer::new(ControlService::new(move || Some(handles.clone()))),
            self.require(&[Role::Manager, Role::Admin], Rights::Manager),
        )
    }
}
