//! `shoal run` on a node that is not a manager (Docker's `docker run` on
//! a worker): its local socket answers for the node's own runs by asking
//! the leader's dispatcher as the node (its certificate names the node,
//! so it can start, read and remove its own runs only), and reads their
//! output from the node's own worker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use shoal_manager::control::{LogStream, NodeRuns};
use shoal_proto::dispatcher_client::DispatcherClient;
use shoal_proto::logs_server::Logs;
use shoal_proto::transport::{self, MANAGER_NAME};
use shoal_proto::{GetTaskRequest, RemoveTaskRequest, RemoveTaskResponse, RunTaskRequest, Task, TaskLogsRequest};
use shoal_worker::logs::LogService;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::{Daemon, certs};

/// How often a followed run's record is looked for before it starts.
const START_POLL: Duration = Duration::from_millis(20);

pub struct Runs {
    daemon: Arc<Daemon>,
}

impl Runs {
    pub fn new(daemon: Arc<Daemon>) -> Runs {
        Runs { daemon }
    }

    /// Calls the leader's dispatcher as this node, trying the managers in
    /// turn (the others answer Unavailable).
    async fn ask<T, F, Fut>(&self, call: F) -> Result<T, Status>
    where
        F: Fn(DispatcherClient<Channel>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let membership = self.daemon.membership.lock().clone().ok_or_else(|| {
            Status::failed_precondition("this node is not in a cluster: run \"shoal node init\" or \"shoal node join\"")
        })?;
        let credentials = certs::load(&certs::node_dir(&self.daemon.data_dir))
            .map_err(|e| Status::internal(format!("loading this node's certificate: {e:#}")))?;
        let mut last = Status::unavailable("no manager to ask");
        for addr in &membership.managers {
            let channel = transport::channel(addr, &credentials, MANAGER_NAME)
                .map_err(|e| Status::internal(format!("this node's certificate: {e}")))?;
            match call(DispatcherClient::new(channel)).await {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(e) if e.code() == tonic::Code::Unavailable => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
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
    /// (the worker makes it when the task is assigned here).
    async fn task_logs(&self, reference: String) -> Result<LogStream, Status> {
        // A run of this node's, by name or id.
        let task_id = self.get_task(GetTaskRequest { reference }).await?.id;
        let tasks_dir = self.daemon.data_dir.join("worker").join("tasks");
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            while !tasks_dir.join(&task_id).exists() {
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep(START_POLL) => {}
                }
            }
            let request = TaskLogsRequest { task_ids: vec![task_id], follow: true, tail: -1, since: 0 };
            match LogService::new(&tasks_dir).task_logs(Request::new(request)).await {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    while let Some(line) = stream.next().await {
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }
}
