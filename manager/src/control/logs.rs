//! `service logs`: asks each node that ran the service's tasks for their
//! output (the worker's Logs service, over gRPC) and merges the streams.
//! A node that cannot be read is named in a warning line, and the others'
//! output keeps coming; while following, it is read again until it
//! answers, from where its output stopped.
//! With `follow`, tasks that start later are followed too; following one
//! task ends with its output (once it has exited), as `docker logs -f`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use shoal_proto::logs_client::LogsClient;
use shoal_proto::transport::{self, Credentials};
use shoal_proto::{LogContext, LogLine, ServiceLogsRequest, Task, TaskLogsRequest, TaskState};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{ControlError, resolve};
use crate::store::{MemoryStore, Store};
use crate::watch;

type Tx = mpsc::Sender<Result<LogLine, Status>>;

/// Resolves the reference (a service, else a task) and starts streaming.
pub fn stream(
    store: Store,
    credentials: Credentials,
    req: ServiceLogsRequest,
) -> Result<ReceiverStream<Result<LogLine, Status>>, Status> {
    let target = store.view(|s| match resolve::service(s, &req.reference) {
        Ok(service) => Ok(Target { service_id: service.id.clone(), task_id: None }),
        Err(_) => match resolve::task(s, &req.reference) {
            Ok(task) => Ok(Target { service_id: task.service_id.clone(), task_id: Some(task.id.clone()) }),
            Err(_) => Err(ControlError::NotFound(format!("no such service or task: {}", req.reference))),
        },
    })?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(gather(store, credentials, target, req, tx));
    Ok(ReceiverStream::new(rx))
}

struct Target {
    service_id: String,
    task_id: Option<String>,
}

/// A task with output to read: it got as far as starting on a node.
fn has_output(task: &Task) -> bool {
    !task.node_id.is_empty() && task.status.as_ref().is_some_and(|s| s.state() >= TaskState::Starting)
}

/// Whether the task's program ran (its exit status, or its pid, is known).
fn ran(task: &Task) -> bool {
    task.status.as_ref().is_some_and(|s| s.container.is_some())
}

/// Per node: (address, hostname, tasks with their context).
type NodeTasks = BTreeMap<String, (String, String, HashMap<String, LogContext>)>;

fn new_tasks(store: &MemoryStore, target: &Target, seen: &mut HashSet<String>) -> NodeTasks {
    let mut by_node = NodeTasks::new();
    let tasks = store
        .tasks_of_service(&target.service_id)
        .filter(|t| target.task_id.as_ref().is_none_or(|id| *id == t.id))
        .filter(|t| has_output(t) && !seen.contains(&t.id))
        .collect::<Vec<_>>();
    for task in tasks {
        let Some(node) = store.node(&task.node_id) else { continue };
        seen.insert(task.id.clone());
        let host = resolve::hostname(node).to_string();
        let addr = node.status.as_ref().map(|s| s.addr.clone()).unwrap_or_default();
        let entry = by_node.entry(node.id.clone()).or_insert_with(|| (addr, host.clone(), HashMap::new()));
        entry.2.insert(task.id.clone(), LogContext { task_name: task.name(), node_name: host });
    }
    by_node
}

async fn gather(store: Store, credentials: Credentials, target: Target, req: ServiceLogsRequest, tx: Tx) {
    let mut events = store.subscribe();
    let mut seen = HashSet::new();
    let mut readers = JoinSet::new();
    let mut first = true;
    loop {
        let nodes = store.view(|s| new_tasks(s, &target, &mut seen));
        for (_, (addr, host, tasks)) in nodes {
            // Tasks that start while we follow are read from their start.
            let tail = if first { req.tail } else { -1 };
            let request = TaskLogsRequest {
                task_ids: tasks.keys().cloned().collect(),
                follow: req.follow,
                tail,
                since: req.since,
            };
            readers.spawn(read_node(credentials.clone(), addr, host, request, tasks, tx.clone()));
        }
        first = false;
        if !req.follow {
            break;
        }
        // One task followed: done once its output has ended (the node
        // stops following a task that has exited), or once it is gone or
        // has ended without running (no output will come).
        if let Some(id) = &target.task_id
            && store.view(|s| s.task(id).is_none_or(|t| t.state().is_terminal() && !ran(t)))
        {
            break;
        }
        let one_read = target.task_id.is_some() && !seen.is_empty();
        tokio::select! {
            _ = tx.closed() => break,
            wake = watch::next(&mut events) => if matches!(wake, watch::Wake::Closed) { break },
            _ = readers.join_next(), if one_read => break,
        }
    }
    if req.follow {
        readers.abort_all();
    }
    while readers.join_next().await.is_some() {}
}

/// How long to wait before reading an unreachable node again.
const RETRY: Duration = Duration::from_secs(2);

/// Streams one node's lines. A node that cannot be read does not end the
/// stream: a warning line says so, and while following it is read again
/// every [`RETRY`], from after the last line it gave.
async fn read_node(
    credentials: Credentials,
    addr: String,
    host: String,
    mut request: TaskLogsRequest,
    context: HashMap<String, LogContext>,
    tx: Tx,
) {
    let warn = |text: String| LogLine { warning: text, ..Default::default() };
    let mut failing = false;
    loop {
        let mut last = None;
        let result = async {
            let channel = transport::channel(&addr, &credentials, transport::NODE_NAME)
                .map_err(|e| Status::unavailable(e.to_string()))?;
            let mut stream = LogsClient::new(channel).task_logs(request.clone()).await?.into_inner();
            if failing {
                failing = false;
                let _ = tx.send(Ok(warn(format!("reading the logs of node {host} ({addr}) again")))).await;
            }
            while let Some(mut line) = stream.message().await? {
                last = Some(line.timestamp);
                line.context = context.get(&line.task_id).cloned();
                if tx.send(Ok(line)).await.is_err() {
                    break;
                }
            }
            Ok::<_, Status>(())
        }
        .await;
        let Err(status) = result else { return };
        if !failing {
            let retry = if request.follow { "; trying again while following" } else { "" };
            let text = format!("cannot read the logs of node {host} ({addr}): {}{retry}", status.message());
            if tx.send(Ok(warn(text))).await.is_err() {
                return;
            }
        }
        failing = true;
        if !request.follow {
            return;
        }
        if let Some(timestamp) = last {
            // Resume after what was received.
            request.since = timestamp + 1;
            request.tail = -1;
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}
