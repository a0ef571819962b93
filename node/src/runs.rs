//! `shoal run` on a node that is not a manager (Docker's `docker run` on
//! a worker): its local socket answers for the node's own runs by asking
//! the leader's dispatcher as the node (its certificate names the node,
//! so it can start, read and remove its own runs only), and reads their
//! output from the node's own worker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use shoal_manager::control::{LogStream, NodeRuns};
use shoal_proto::dispatcher_client::DispatcherClient;
use shoal_proto::logs_server::Logs;
use shoal_proto::transport::{self, MANAGER_NAME};
use shoal_proto::{
    GetTaskRequest, LogContext, RemoveTaskRequest, RemoveTaskResponse, RunTaskRequest, ServiceLogsRequest, Task,
    TaskLogsRequest,
};
use shoal_worker::logs::LogService;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::daemon::Daemon;
use crate::{Causes, certs};

/// How often a followed run's record is looked for before it starts.
const START_POLL: Duration = Duration::from_millis(20);
/// How often, meanwhile, the managers are asked whether it still may.
const STILL_THERE: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Runs {
    daemon: Arc<Daemon>,
    /// The manager that answered last and a connection to it, asked first
    /// (a run's CLI asks every 100 ms: no new TLS connection each time).
    leader: Arc<Mutex<Option<(String, Channel)>>>,
}

impl Runs {
    pub fn new(daemon: Arc<Daemon>) -> Runs {
        Runs { daemon, leader: Arc::default() }
    }

    /// Calls the leader's dispatcher as this node: the manager that
    /// answered last first, then the others in turn (those not leading
    /// answer Unavailable).
    async fn ask<T, F, Fut>(&self, call: F) -> Result<T, Status>
    where
        F: Fn(DispatcherClient<Channel>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let membership = self.daemon.membership().ok_or_else(|| {
            Status::failed_precondition("this node is not in a cluster: run \"shoal node init\" or \"shoal node join\"")
        })?;
        let cached = self.leader.lock().clone().filter(|(addr, _)| membership.managers.contains(addr));
        let mut managers: Vec<&String> = membership.managers.iter().collect();
        if let Some((addr, _)) = &cached {
            managers.sort_by_key(|m| *m != addr);
        }
        let mut credentials = None;
        // The first answer that is not "ask another manager" is the one
        // to show (a follower's "not the leader" would hide the leader's).
        let mut shown: Option<Status> = None;
        for addr in managers {
            let channel = match &cached {
                Some((leader, channel)) if leader == addr => channel.clone(),
                _ => {
                    let loaded = match credentials.take() {
                        Some(loaded) => loaded,
                        None => certs::load(&certs::node_dir(&self.daemon.data_dir)).map_err(|e| {
                            Status::internal(format!("loading this node's certificate: {}", Causes(&e)))
                        })?,
                    };
                    let channel = transport::channel(addr, &loaded, MANAGER_NAME)
                        .map_err(|e| Status::internal(format!("this node's certificate: {e}")))?;
                    credentials = Some(loaded);
                    channel
                }
            };
            match call(DispatcherClient::new(channel.clone())).await {
                Ok(reply) => {
                    *self.leader.lock() = Some((addr.clone(), channel));
                    return Ok(reply.into_inner());
                }
                // Unreachable, not the leader, or no longer a manager.
                Err(e) if matches!(e.code(), tonic::Code::Unavailable | tonic::Code::Unimplemented) => {
                    if shown.is_none() && !shoal_proto::leader::is_refusal(&e) {
                        shown = Some(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        *self.leader.lock() = None;
        Err(shown.unwrap_or_else(|| Status::unavailable("no manager leads the cluster now: try again")))
    }
}

#[tonic::async_trait]
impl NodeRuns for Runs {
    async fn run_task(&self, req: RunTaskRequest) -> Result<Task, Status> {
        self.ask(|mut d| {
            let req = req.clone();
            async move { d.run_task(req).await }
        })
        .await
    }

    async fn remove_task(&self, req: RemoveTaskRequest) -> Result<RemoveTaskResponse, Status> {
        self.ask(|mut d| {
            let req = req.clone();
            async move { d.remove_task(req).await }
        })
        .await
    }

    async fn get_task(&self, req: GetTaskRequest) -> Result<Task, Status> {
        self.ask(|mut d| {
            let req = req.clone();
            async move { d.get_task(req).await }
        })
        .await
    }

    /// The run's output from this node's worker, once its record is there
    /// (the worker makes it when the task is assigned here); nothing if
    /// the task goes or ends without running first.
    async fn task_logs(&self, req: ServiceLogsRequest) -> Result<LogStream, Status> {
        // A run of this node's, by name or id.
        let task = self.get_task(GetTaskRequest { reference: req.reference.clone() }).await?;
        let context = LogContext { task_name: task.name(), node_name: self.daemon.hostname.clone() };
        let worker_dir = self.daemon.data_dir.join("worker");
        let tasks_dir = worker_dir.join("tasks");
        let docker = self
            .daemon
            .docker
            .clone()
            .map(|socket| std::sync::Arc::new(shoal_worker::docker_executor(&worker_dir, &task.node_id, socket)));
        let (tx, rx) = mpsc::channel(256);
        let runs = self.clone();
        tokio::spawn(async move {
            let mut checked = tokio::time::Instant::now();
            while !tasks_dir.join(&task.id).exists() {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(START_POLL) => {}
                }
                if checked.elapsed() >= STILL_THERE {
                    checked = tokio::time::Instant::now();
                    let now = runs.get_task(GetTaskRequest { reference: task.id.clone() }).await;
                    if now.is_err() || now.is_ok_and(|t| t.state().is_terminal()) {
                        return;
                    }
                }
            }
            let request =
                TaskLogsRequest { task_ids: vec![task.id], follow: req.follow, tail: req.tail, since: req.since };
            let mut stream = match LogService::new(&tasks_dir, docker).task_logs(Request::new(request)).await {
                Ok(stream) => stream.into_inner(),
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            loop {
                let line = tokio::select! {
                    _ = tx.closed() => return,
                    line = stream.next() => line,
                };
                let Some(mut line) = line else { return };
                if let Ok(line) = &mut line {
                    line.context = Some(context.clone());
                }
                if tx.send(line).await.is_err() {
                    return;
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }
}
