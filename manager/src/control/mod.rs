//! The control API the CLI talks to: CRUD on services, nodes, tasks,
//! networks, secrets and configs, tasks outside services (`shoal run`),
//! service logs, and the cluster's events.
//! Reads answer from this manager's store; writes go through raft. Every
//! refusal names what was wrong and changes nothing.

mod admins;
pub mod cluster;
mod endpoint;
mod events;
mod files;
mod forward;
mod logs;
pub mod networks;
mod nodes;
mod rebalance;
pub mod resolve;
pub mod run;
mod services;
mod tasks;

pub use nodes::list as list_nodes;
pub use services::list as list_services;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use shoal_proto::control_client::ControlClient;
use shoal_proto::control_server::Control;
use shoal_proto::*;
use tokio_stream::Stream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::leadership::Leadership;
use crate::proposer::{ProposeError, Proposer, as_request};
use crate::store::{Store, StoreError};
use resolve::ResolveError;
use shoal_spec::InvalidSpec;

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Invalid(#[from] InvalidSpec),
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error("{0}")]
    NotFound(String),
    /// The request is valid but the cluster's state forbids it.
    #[error("{0}")]
    Refused(String),
}

/// A key that is missing or does not open: the manager cannot do it now.
impl From<crate::keys::KeyError> for ControlError {
    fn from(e: crate::keys::KeyError) -> ControlError {
        ControlError::Refused(e.to_string())
    }
}

impl From<ControlError> for Status {
    fn from(err: ControlError) -> Status {
        let msg = err.to_string();
        match err {
            ControlError::Resolve(ResolveError::NotFound { .. }) | ControlError::NotFound(_) => Status::not_found(msg),
            ControlError::Resolve(ResolveError::Ambiguous { .. }) | ControlError::Invalid(_) => {
                Status::invalid_argument(msg)
            }
            ControlError::Propose(ProposeError::Store(e)) => match e {
                StoreError::NotFound { .. } => Status::not_found(msg),
                StoreError::Exists { .. } | StoreError::NameConflict { .. } => Status::already_exists(msg),
                StoreError::VersionConflict { .. } => Status::aborted(msg),
                StoreError::Invalid(_) => Status::invalid_argument(msg),
                StoreError::Refused(_) => Status::failed_precondition(msg),
            },
            ControlError::Refused(_) => Status::failed_precondition(msg),
            ControlError::Propose(_) => Status::unavailable(msg),
        }
    }
}

type Result<T> = std::result::Result<T, ControlError>;

/// The output of tasks, as `ServiceLogs` streams it.
pub type LogStream = Pin<Box<dyn Stream<Item = std::result::Result<LogLine, Status>> + Send>>;
/// The cluster's events, as `Events` streams them.
pub type EventStream = Pin<Box<dyn Stream<Item = std::result::Result<Event, Status>> + Send>>;

/// What a node that is not a manager answers on its local socket for its
/// own runs (`shoal run` on a worker): it asks the managers as the node,
/// and reads the output from its own worker.
#[tonic::async_trait]
pub trait NodeRuns: Send + Sync + 'static {
    async fn run_task(&self, req: RunTaskRequest) -> std::result::Result<Task, Status>;
    async fn remove_task(&self, req: RemoveTaskRequest) -> std::result::Result<RemoveTaskResponse, Status>;
    async fn get_task(&self, req: GetTaskRequest) -> std::result::Result<Task, Status>;
    /// One run's output (`reference`: its name or id), as `ServiceLogs`.
    async fn task_logs(&self, req: ServiceLogsRequest) -> std::result::Result<LogStream, Status>;
}

/// What the control API works with, from the manager's assembly; cheap
/// to clone.
#[derive(Clone)]
pub struct Handles {
    pub store: Store,
    pub proposer: Proposer,
    pub leadership: Leadership,
    /// This manager's node id (what "self" names in a request).
    pub node_id: String,
    /// This manager's advertised endpoint (join tokens name it).
    pub addr: String,
    /// The cluster's data key, which seals secrets.
    pub keys: crate::keys::Keyring,
}

/// Where the control service finds its manager's handles: `None` while
/// this node is not a manager.
type Source = Arc<dyn Fn() -> Option<Handles> + Send + Sync>;

/// The control service; answers only once this node is a manager (but
/// for its own runs, with [`NodeRuns`]).
#[derive(Clone)]
pub struct ControlService {
    source: Source,
    runs: Option<Arc<dyn NodeRuns>>,
    /// Why this node answers nothing now, if it says so (a locked manager).
    refusal: Option<Arc<dyn Fn() -> Option<String> + Send + Sync>>,
}

impl ControlService {
    /// `source` gives the manager's handles once this node is one.
    pub fn new(source: impl Fn() -> Option<Handles> + Send + Sync + 'static) -> ControlService {
        ControlService { source: Arc::new(source), runs: None, refusal: None }
    }

    /// Answers every call with what `refusal` says while it says something.
    pub fn with_refusal(self, refusal: impl Fn() -> Option<String> + Send + Sync + 'static) -> ControlService {
        ControlService { refusal: Some(Arc::new(refusal)), ..self }
    }

    /// Answers for the node's own runs while it is not a manager.
    pub fn with_runs(self, runs: Arc<dyn NodeRuns>) -> ControlService {
        ControlService { runs: Some(runs), ..self }
    }

    /// The node's own runs when this node is not a manager.
    fn node_runs(&self) -> Option<&dyn NodeRuns> {
        if (self.source)().is_some() {
            return None;
        }
        self.runs.as_deref()
    }

    fn handles(&self) -> std::result::Result<Handles, Status> {
        if let Some(why) = self.refusal.as_ref().and_then(|r| r()) {
            return Err(Status::failed_precondition(why));
        }
        (self.source)().ok_or_else(|| {
            Status::failed_precondition(
                "this node is not a cluster manager: run \"shoal node init\" to create a cluster, or talk to a manager",
            )
        })
    }

    /// Every write: sent to the leader with `call` when this manager does
    /// not lead (see [`forward`]), else made here by `here` (as the
    /// forwarding manager's request, if one sent it) and answered with
    /// the store index it reached.
    async fn write<Req, Resp, Call, Sent, Here, Made>(
        &self,
        req: Request<Req>,
        call: Call,
        here: Here,
    ) -> std::result::Result<Response<Resp>, Status>
    where
        Req: Clone,
        Call: Fn(ControlClient<Channel>, Request<Req>) -> Sent,
        Sent: Future<Output = std::result::Result<Response<Resp>, Status>>,
        Here: FnOnce(Handles, Req) -> Made,
        Made: Future<Output = Result<Resp>>,
    {
        let (h, id, req) = (self.handles()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&h.leadership, &h.store, &req, call).await? {
            return Ok(reply);
        }
        forward::written(&h.store, as_request(id, here(h.clone(), req)).await)
    }
}

fn reply<T>(result: Result<T>) -> std::result::Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl Control for ControlService {
    type ServiceLogsStream = LogStream;
    type EventsStream = EventStream;

    async fn get_cluster(&self, _: Request<GetClusterRequest>) -> std::result::Result<Response<Cluster>, Status> {
        let cluster = self.handles()?.store.view(|s| s.cluster().cloned().map(cluster::without_secrets));
        reply(cluster.ok_or_else(|| ControlError::NotFound("no cluster".into())))
    }

    async fn update_cluster(
        &self,
        req: Request<UpdateClusterRequest>,
    ) -> std::result::Result<Response<Cluster>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.update_cluster(r).await };
        self.write(req, call, |h, r| async move { cluster::update(&h.store, &h.proposer, &h.keys, r).await }).await
    }

    async fn unlock_key(
        &self,
        _: Request<UnlockKeyRequest>,
    ) -> std::result::Result<Response<UnlockKeyResponse>, Status> {
        let h = self.handles()?;
        reply(cluster::unlock_key(&h.store, &h.keys))
    }

    async fn join_token(
        &self,
        req: Request<JoinTokenRequest>,
    ) -> std::result::Result<Response<JoinTokenResponse>, Status> {
        let h = self.handles()?;
        if !req.get_ref().rotate {
            return reply(nodes::join_token(&h, req.into_inner()).await);
        }
        let call = |mut l: ControlClient<Channel>, r| async move { l.join_token(r).await };
        let mut reply = self.write(req, call, |h, r| async move { nodes::join_token(&h, r).await }).await?;
        // The leader's reply names the leader: the token is for here too.
        reply.get_mut().addr = h.addr;
        Ok(reply)
    }

    async fn create_admin_certificate(
        &self,
        req: Request<CreateAdminCertificateRequest>,
    ) -> std::result::Result<Response<CreateAdminCertificateResponse>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.create_admin_certificate(r).await };
        self.write(req, call, |h, r| async move { admins::create(&h.store, &h.proposer, &h.keys, r).await }).await
    }

    async fn revoke_admin_certificate(
        &self,
        req: Request<RevokeAdminCertificateRequest>,
    ) -> std::result::Result<Response<AdminCertificate>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.revoke_admin_certificate(r).await };
        self.write(req, call, |h, r| async move { admins::revoke(&h.store, &h.proposer, &r.id).await }).await
    }

    async fn list_nodes(
        &self,
        _: Request<ListNodesRequest>,
    ) -> std::result::Result<Response<ListNodesResponse>, Status> {
        reply(Ok(nodes::list(&self.handles()?)))
    }

    async fn get_node(&self, req: Request<GetNodeRequest>) -> std::result::Result<Response<Node>, Status> {
        reply(nodes::get(&self.handles()?, &req.into_inner().reference))
    }

    async fn update_node(&self, req: Request<UpdateNodeRequest>) -> std::result::Result<Response<Node>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.update_node(r).await };
        self.write(req, call, |h, r| async move { nodes::update(&h, r).await }).await
    }

    async fn remove_node(
        &self,
        req: Request<RemoveNodeRequest>,
    ) -> std::result::Result<Response<RemoveNodeResponse>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.remove_node(r).await };
        self.write(req, call, |h, r| async move { nodes::remove(&h.store, &h.proposer, r).await }).await
    }

    async fn create_service(
        &self,
        req: Request<CreateServiceRequest>,
    ) -> std::result::Result<Response<Service>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.create_service(r).await };
        let here = |h: Handles, r: CreateServiceRequest| async move {
            services::create(&h.store, &h.proposer, r.spec.unwrap_or_default()).await
        };
        self.write(req, call, here).await
    }

    async fn get_service(&self, req: Request<GetServiceRequest>) -> std::result::Result<Response<Service>, Status> {
        let store = self.handles()?.store;
        reply(store.view(|s| Ok(resolve::service(s, &req.into_inner().reference)?.clone())))
    }

    async fn list_services(
        &self,
        _: Request<ListServicesRequest>,
    ) -> std::result::Result<Response<ListServicesResponse>, Status> {
        let h = self.handles()?;
        reply(Ok(services::list(&h.store, &h.leadership)))
    }

    async fn update_service(
        &self,
        req: Request<UpdateServiceRequest>,
    ) -> std::result::Result<Response<Service>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.update_service(r).await };
        self.write(req, call, |h, r| async move { services::update(&h.store, &h.proposer, r).await }).await
    }

    async fn rebalance_service(
        &self,
        req: Request<RebalanceServiceRequest>,
    ) -> std::result::Result<Response<RebalanceServiceResponse>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.rebalance_service(r).await };
        self.write(req, call, |h, r| async move { rebalance::rebalance(&h.store, &h.proposer, r).await }).await
    }

    async fn remove_service(
        &self,
        req: Request<RemoveServiceRequest>,
    ) -> std::result::Result<Response<RemoveServiceResponse>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.remove_service(r).await };
        self.write(req, call, |h, r| async move { services::remove(&h.store, &h.proposer, &r.reference).await }).await
    }

    async fn create_network(
        &self,
        req: Request<CreateNetworkRequest>,
    ) -> std::result::Result<Response<Network>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.create_network(r).await };
        let here = |h: Handles, r: CreateNetworkRequest| async move {
            networks::create(&h.store, &h.proposer, r.spec.unwrap_or_default()).await
        };
        self.write(req, call, here).await
    }

    async fn get_network(&self, req: Request<GetNetworkRequest>) -> std::result::Result<Response<Network>, Status> {
        reply(networks::get(&self.handles()?.store, &req.into_inner().reference))
    }

    async fn list_networks(
        &self,
        _: Request<ListNetworksRequest>,
    ) -> std::result::Result<Response<ListNetworksResponse>, Status> {
        let h = self.handles()?;
        reply(Ok(networks::list(&h.store, &h.leadership)))
    }

    async fn remove_network(
        &self,
        req: Request<RemoveNetworkRequest>,
    ) -> std::result::Result<Response<RemoveNetworkResponse>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.remove_network(r).await };
        self.write(req, call, |h, r| async move { networks::remove(&h.store, &h.proposer, &r.reference).await }).await
    }

    async fn create_secret(&self, req: Request<CreateSecretRequest>) -> std::result::Result<Response<Secret>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.create_secret(r).await };
        let here = |h: Handles, r: CreateSecretRequest| async move {
            files::create_secret(&h.store, &h.proposer, &h.keys, r.spec.unwrap_or_default(), r.reuse).await
        };
        self.write(req, call, here).await
    }

    async fn get_secret(&self, req: Request<GetSecretRequest>) -> std::result::Result<Response<Secret>, Status> {
        reply(files::get_secret(&self.handles()?.store, &req.into_inner().reference))
    }

    async fn list_secrets(
        &self,
        _: Request<ListSecretsRequest>,
    ) -> std::result::Result<Response<ListSecretsResponse>, Status> {
        let h = self.handles()?;
        reply(Ok(files::list_secrets(&h.store, &h.leadership)))
    }

    async fn remove_secret(
        &self,
        req: Request<RemoveSecretRequest>,
    ) -> std::result::Result<Response<RemoveSecretResponse>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.remove_secret(r).await };
        let here = |h: Handles, r: RemoveSecretRequest| async move {
            let id = files::remove(&h.store, &h.proposer, ObjectKind::Secret, &r.reference).await?;
            Ok(RemoveSecretResponse { id })
        };
        self.write(req, call, here).await
    }

    async fn create_config(&self, req: Request<CreateConfigRequest>) -> std::result::Result<Response<Config>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.create_config(r).await };
        let here = |h: Handles, r: CreateConfigRequest| async move {
            files::create_config(&h.store, &h.proposer, r.spec.unwrap_or_default(), r.reuse).await
        };
        self.write(req, call, here).await
    }

    async fn get_config(&self, req: Request<GetConfigRequest>) -> std::result::Result<Response<Config>, Status> {
        reply(files::get_config(&self.handles()?.store, &req.into_inner().reference))
    }

    async fn list_configs(
        &self,
        _: Request<ListConfigsRequest>,
    ) -> std::result::Result<Response<ListConfigsResponse>, Status> {
        let h = self.handles()?;
        reply(Ok(files::list_configs(&h.store, &h.leadership)))
    }

    async fn remove_config(
        &self,
        req: Request<RemoveConfigRequest>,
    ) -> std::result::Result<Response<RemoveConfigResponse>, Status> {
        let call = |mut l: ControlClient<Channel>, r| async move { l.remove_config(r).await };
        let here = |h: Handles, r: RemoveConfigRequest| async move {
            let id = files::remove(&h.store, &h.proposer, ObjectKind::Config, &r.reference).await?;
            Ok(RemoveConfigResponse { id })
        };
        self.write(req, call, here).await
    }

    async fn get_task(&self, req: Request<GetTaskRequest>) -> std::result::Result<Response<Task>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.get_task(req.into_inner()).await.map(Response::new);
        }
        reply(run::get(&self.handles()?.store, &req.into_inner().reference, None))
    }

    async fn list_tasks(
        &self,
        req: Request<ListTasksRequest>,
    ) -> std::result::Result<Response<ListTasksResponse>, Status> {
        reply(tasks::list(&self.handles()?, req.into_inner()))
    }

    async fn run_task(&self, mut req: Request<RunTaskRequest>) -> std::result::Result<Response<Task>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.run_task(req.into_inner()).await.map(Response::new);
        }
        // Before it goes to the leader: "here" is the manager asked.
        let node = &mut req.get_mut().node;
        if node.is_empty() || node == "self" {
            *node = self.handles()?.node_id;
        }
        let call = |mut l: ControlClient<Channel>, r| async move { l.run_task(r).await };
        self.write(req, call, |h, r| async move { run::run(&h.store, &h.proposer, r).await }).await
    }

    async fn remove_task(
        &self,
        req: Request<RemoveTaskRequest>,
    ) -> std::result::Result<Response<RemoveTaskResponse>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.remove_task(req.into_inner()).await.map(Response::new);
        }
        let call = |mut l: ControlClient<Channel>, r| async move { l.remove_task(r).await };
        self.write(req, call, |h, r| async move { run::remove(&h.store, &h.proposer, &r.reference, None).await }).await
    }

    async fn service_logs(
        &self,
        req: Request<ServiceLogsRequest>,
    ) -> std::result::Result<Response<Self::ServiceLogsStream>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.task_logs(req.into_inner()).await.map(Response::new);
        }
        let h = self.handles()?;
        let stream = logs::stream(h.store, h.leadership.credentials().clone(), req.into_inner())?;
        Ok(Response::new(Box::pin(stream)))
    }

    async fn events(&self, req: Request<EventsRequest>) -> std::result::Result<Response<Self::EventsStream>, Status> {
        // Every manager derives the same events: answered here, not by the leader.
        let stream = events::stream(self.handles()?.store, req.into_inner())?;
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests;
