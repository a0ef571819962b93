//! The control API the CLI talks to: CRUD on services, nodes, tasks and
//! networks, tasks outside services (`shoal run`), and service logs.
//! Reads answer from this manager's store; writes go through raft. Every
//! refusal names what was wrong and changes nothing.

mod admins;
mod cluster;
mod endpoint;
mod forward;
mod logs;
pub mod networks;
mod nodes;
pub mod resolve;
pub mod run;
mod services;
mod tasks;
pub mod validate;

use std::pin::Pin;

use shoal_proto::control_server::Control;
use shoal_proto::*;
use tokio::sync::watch;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::manager::Manager;
use crate::proposer::{ProposeError, as_request};
use crate::store::StoreError;
use forward::written;
use resolve::ResolveError;
use validate::InvalidSpec;

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

/// The control service; answers only once this node is a manager (but
/// for its own runs, with [`NodeRuns`]).
#[derive(Clone)]
pub struct ControlService {
    manager: watch::Receiver<Option<Manager>>,
    runs: Option<std::sync::Arc<dyn NodeRuns>>,
}

impl ControlService {
    /// `manager` holds the manager once this node becomes one.
    pub fn new(manager: watch::Receiver<Option<Manager>>) -> ControlService {
        ControlService { manager, runs: None }
    }

    /// Answers for the node's own runs while it is not a manager.
    pub fn with_runs(self, runs: std::sync::Arc<dyn NodeRuns>) -> ControlService {
        ControlService { runs: Some(runs), ..self }
    }

    /// The node's own runs when this node is not a manager.
    fn node_runs(&self) -> Option<&dyn NodeRuns> {
        if self.manager.borrow().is_some() {
            return None;
        }
        self.runs.as_deref()
    }

    fn manager(&self) -> std::result::Result<Manager, Status> {
        self.manager.borrow().clone().ok_or_else(|| {
            Status::failed_precondition(
                "this node is not a cluster manager: run \"shoal node init\" to create a cluster, or talk to a manager",
            )
        })
    }
}

fn reply<T>(result: Result<T>) -> std::result::Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl Control for ControlService {
    type ServiceLogsStream = LogStream;

    async fn get_cluster(&self, _: Request<GetClusterRequest>) -> std::result::Result<Response<Cluster>, Status> {
        let m = self.manager()?;
        let cluster = m.store().view(|s| s.cluster().cloned().map(cluster::without_secrets));
        reply(cluster.ok_or_else(|| ControlError::NotFound("no cluster".into())))
    }

    async fn update_cluster(
        &self,
        req: Request<UpdateClusterRequest>,
    ) -> std::result::Result<Response<Cluster>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.update_cluster(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, cluster::update(&m, req)).await)
    }

    async fn join_token(
        &self,
        req: Request<JoinTokenRequest>,
    ) -> std::result::Result<Response<JoinTokenResponse>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if req.rotate
            && let Some(mut reply) =
                forward::to_leader(&m, &req, |mut l, r| async move { l.join_token(r).await }).await?
        {
            reply.get_mut().addr = m.addr().to_string();
            return Ok(reply);
        }
        reply(as_request(id, nodes::join_token(&m, req)).await)
    }

    async fn create_admin_certificate(
        &self,
        req: Request<CreateAdminCertificateRequest>,
    ) -> std::result::Result<Response<CreateAdminCertificateResponse>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) =
            forward::to_leader(&m, &req, |mut l, r| async move { l.create_admin_certificate(r).await }).await?
        {
            return Ok(reply);
        }
        written(&m, as_request(id, admins::create(&m, req)).await)
    }

    async fn revoke_admin_certificate(
        &self,
        req: Request<RevokeAdminCertificateRequest>,
    ) -> std::result::Result<Response<AdminCertificate>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) =
            forward::to_leader(&m, &req, |mut l, r| async move { l.revoke_admin_certificate(r).await }).await?
        {
            return Ok(reply);
        }
        written(&m, as_request(id, admins::revoke(&m, &req.id)).await)
    }

    async fn list_nodes(
        &self,
        _: Request<ListNodesRequest>,
    ) -> std::result::Result<Response<ListNodesResponse>, Status> {
        reply(Ok(nodes::list(&self.manager()?)))
    }

    async fn get_node(&self, req: Request<GetNodeRequest>) -> std::result::Result<Response<Node>, Status> {
        reply(nodes::get(&self.manager()?, &req.into_inner().reference))
    }

    async fn update_node(&self, req: Request<UpdateNodeRequest>) -> std::result::Result<Response<Node>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.update_node(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, nodes::update(&m, req)).await)
    }

    async fn remove_node(
        &self,
        req: Request<RemoveNodeRequest>,
    ) -> std::result::Result<Response<RemoveNodeResponse>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.remove_node(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, nodes::remove(&m, req)).await)
    }

    async fn create_service(
        &self,
        req: Request<CreateServiceRequest>,
    ) -> std::result::Result<Response<Service>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.create_service(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, services::create(&m, req.spec.unwrap_or_default())).await)
    }

    async fn get_service(&self, req: Request<GetServiceRequest>) -> std::result::Result<Response<Service>, Status> {
        let m = self.manager()?;
        reply(m.store().view(|s| Ok(resolve::service(s, &req.into_inner().reference)?.clone())))
    }

    async fn list_services(
        &self,
        _: Request<ListServicesRequest>,
    ) -> std::result::Result<Response<ListServicesResponse>, Status> {
        reply(Ok(services::list(&self.manager()?)))
    }

    async fn update_service(
        &self,
        req: Request<UpdateServiceRequest>,
    ) -> std::result::Result<Response<Service>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.update_service(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, services::update(&m, req)).await)
    }

    async fn remove_service(
        &self,
        req: Request<RemoveServiceRequest>,
    ) -> std::result::Result<Response<RemoveServiceResponse>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.remove_service(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, services::remove(&m, &req.reference)).await)
    }

    async fn create_network(
        &self,
        req: Request<CreateNetworkRequest>,
    ) -> std::result::Result<Response<Network>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.create_network(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, networks::create(&m, req.spec.unwrap_or_default())).await)
    }

    async fn get_network(&self, req: Request<GetNetworkRequest>) -> std::result::Result<Response<Network>, Status> {
        reply(networks::get(&self.manager()?, &req.into_inner().reference))
    }

    async fn list_networks(
        &self,
        _: Request<ListNetworksRequest>,
    ) -> std::result::Result<Response<ListNetworksResponse>, Status> {
        reply(Ok(networks::list(&self.manager()?)))
    }

    async fn remove_network(
        &self,
        req: Request<RemoveNetworkRequest>,
    ) -> std::result::Result<Response<RemoveNetworkResponse>, Status> {
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.remove_network(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, networks::remove(&m, &req.reference)).await)
    }

    async fn get_task(&self, req: Request<GetTaskRequest>) -> std::result::Result<Response<Task>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.get_task(req.into_inner()).await.map(Response::new);
        }
        let m = self.manager()?;
        reply(run::get(m.store(), &req.into_inner().reference, None))
    }

    async fn list_tasks(
        &self,
        req: Request<ListTasksRequest>,
    ) -> std::result::Result<Response<ListTasksResponse>, Status> {
        reply(tasks::list(&self.manager()?, req.into_inner()))
    }

    async fn run_task(&self, req: Request<RunTaskRequest>) -> std::result::Result<Response<Task>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.run_task(req.into_inner()).await.map(Response::new);
        }
        let (m, id, mut req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        // Before it goes to the leader: "here" is the manager asked.
        if req.node.is_empty() || req.node == "self" {
            req.node = m.node_id().to_string();
        }
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.run_task(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, run::run(m.store(), m.proposer(), req)).await)
    }

    async fn remove_task(
        &self,
        req: Request<RemoveTaskRequest>,
    ) -> std::result::Result<Response<RemoveTaskResponse>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.remove_task(req.into_inner()).await.map(Response::new);
        }
        let (m, id, req) = (self.manager()?, forward::request_id(&req), req.into_inner());
        if let Some(reply) = forward::to_leader(&m, &req, |mut l, r| async move { l.remove_task(r).await }).await? {
            return Ok(reply);
        }
        written(&m, as_request(id, run::remove(m.store(), m.proposer(), &req.reference, None)).await)
    }

    async fn service_logs(
        &self,
        req: Request<ServiceLogsRequest>,
    ) -> std::result::Result<Response<Self::ServiceLogsStream>, Status> {
        if let Some(runs) = self.node_runs() {
            return runs.task_logs(req.into_inner()).await.map(Response::new);
        }
        let stream = logs::stream(self.manager()?, req.into_inner())?;
        Ok(Response::new(Box::pin(stream)))
    }
}
