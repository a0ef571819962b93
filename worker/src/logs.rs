//! Task output: the record format the shim writes ([`writer`], which
//! rotates the files at the task's limits), and the Logs gRPC service
//! that reads it back for `service logs` ([`files`]; a docker task's
//! from the engine: [`docker`]).
//!
//! One record per line: `<unix ns> <o|e> <bytes>\n`. A line longer than
//! [`MAX_RECORD`] is split, as Docker does at 16 KiB.

mod docker;
mod files;
pub mod writer;

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use shoal_proto::logs_server::Logs;
use shoal_proto::{LogLine, LogStream, TaskLogsRequest};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::executor::{DockerExecutor, Runtime};
use crate::taskdir::TaskDir;
use files::LogFiles;

/// Longest piece of output in one record.
pub const MAX_RECORD: usize = 16 * 1024;
/// How often a followed log is checked for new output.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// Encodes one record.
pub fn encode(timestamp: i64, stream: LogStream, data: &[u8]) -> Vec<u8> {
    let tag = if stream == LogStream::Stderr { 'e' } else { 'o' };
    let mut out = format!("{timestamp} {tag} ").into_bytes();
    out.extend_from_slice(data);
    out.push(b'\n');
    out
}

/// Decodes one record (without its newline); `None` if malformed.
pub fn decode(task_id: &str, record: &[u8]) -> Option<LogLine> {
    let space = record.iter().position(|b| *b == b' ')?;
    let timestamp = std::str::from_utf8(&record[..space]).ok()?.parse().ok()?;
    let stream = match record.get(space + 1)? {
        b'o' => LogStream::Stdout,
        b'e' => LogStream::Stderr,
        _ => return None,
    };
    let data = record.get(space + 3..).unwrap_or_default().to_vec();
    Some(LogLine { task_id: task_id.to_string(), timestamp, stream: stream as i32, data, ..Default::default() })
}

/// Serves the output of the tasks under `tasks_dir`, and of the docker
/// tasks of the node's engine (`docker`; none: the node has none).
pub struct LogService {
    tasks_dir: PathBuf,
    docker: Option<Arc<DockerExecutor>>,
}

impl LogService {
    pub fn new(tasks_dir: &Path, docker: Option<Arc<DockerExecutor>>) -> LogService {
        LogService { tasks_dir: tasks_dir.to_path_buf(), docker }
    }
}

type Tx = mpsc::Sender<Result<LogLine, Status>>;

async fn stream_task(dir: TaskDir, task_id: String, req: TaskLogsRequest, tx: Tx, docker: Option<Arc<DockerExecutor>>) {
    let sent = match dir.load_task().map(|t| Runtime::of(&t)) {
        Some(Runtime::Docker) => match &docker {
            Some(exec) => match exec.container(&task_id).await {
                Ok((client, container)) => docker::send(&client, &container, &task_id, &req, &tx).await,
                Err(e) => Err(e),
            },
            None => Err("this node uses no Docker Engine".to_string()),
        },
        _ => send_task(&dir, &task_id, &req, &tx).await.map_err(|e| e.to_string()),
    };
    if let Err(e) = sent {
        let _ = tx.send(Err(Status::internal(format!("reading the log of task {task_id}: {e}")))).await;
    }
}

/// Sends the task's lines (since `req.since`, the last `req.tail`), then
/// with `follow` what it writes until it has ended.
async fn send_task(dir: &TaskDir, task_id: &str, req: &TaskLogsRequest, tx: &Tx) -> io::Result<()> {
    let mut files = LogFiles::open(task_id, &dir.log_path())?;
    if req.tail >= 0 {
        files.seek_tail(req.tail as u64)?;
    }
    let mut ended = false;
    loop {
        let lines = files.next_chunk()?;
        if lines.is_empty() {
            // Read once more after the task ended, then stop: nothing follows.
            if !req.follow || ended {
                return Ok(());
            }
            ended = dir.exit().is_some() || !dir.path().exists();
            if !ended {
                tokio::select! {
                    _ = tx.closed() => return Ok(()),
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                }
            }
            continue;
        }
        for line in lines.into_iter().filter(|l| l.timestamp >= req.since) {
            if tx.send(Ok(line)).await.is_err() {
                return Ok(());
            }
        }
    }
}

#[tonic::async_trait]
impl Logs for LogService {
    type TaskLogsStream = Pin<Box<dyn Stream<Item = Result<LogLine, Status>> + Send>>;

    async fn task_logs(&self, req: Request<TaskLogsRequest>) -> Result<Response<Self::TaskLogsStream>, Status> {
        let req = req.into_inner();
        let (tx, rx) = mpsc::channel(256);
        for task_id in &req.task_ids {
            if task_id.is_empty() || task_id.contains('/') || task_id.starts_with('.') {
                return Err(Status::invalid_argument(format!("invalid task id {task_id:?}")));
            }
        }
        let mut readers = tokio::task::JoinSet::new();
        for task_id in req.task_ids.clone() {
            let dir = TaskDir::new(&self.tasks_dir, &task_id);
            readers.spawn(stream_task(dir, task_id, req.clone(), tx.clone(), self.docker.clone()));
        }
        tokio::spawn(async move { while readers.join_next().await.is_some() {} });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_including_odd_bytes() {
        let rec = encode(42, LogStream::Stderr, b"a b\x00\xff");
        let line = decode("t", &rec[..rec.len() - 1]).unwrap();
        assert_eq!((line.timestamp, line.stream(), line.data.as_slice()), (42, LogStream::Stderr, &b"a b\x00\xff"[..]));
        assert!(decode("t", b"garbage").is_none());
        let empty = encode(1, LogStream::Stdout, b"");
        assert_eq!(decode("t", &empty[..empty.len() - 1]).unwrap().data, b"");
    }
}
