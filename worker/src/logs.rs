//! Task output: the record format the shim writes, and the Logs gRPC
//! service that reads it back for `service logs`.
//!
//! One record per line: `<unix ns> <o|e> <bytes>\n`. A line longer than
//! [`MAX_RECORD`] is split, as Docker does at 16 KiB.

use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use shoal_proto::logs_server::Logs;
use shoal_proto::{LogLine, LogStream, TaskLogsRequest};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::taskdir::TaskDir;

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
    Some(LogLine { task_id: task_id.to_string(), timestamp, stream: stream as i32, data, context: None })
}

/// Reads a task's log file from an offset, record by record.
struct LogReader {
    task_id: String,
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogReader {
    fn new(task_id: &str, path: PathBuf) -> LogReader {
        LogReader { task_id: task_id.to_string(), path, offset: 0, partial: Vec::new() }
    }

    /// Records appended since the last call.
    fn read_new(&mut self) -> io::Result<Vec<LogLine>> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        self.offset += file.read_to_end(&mut buf)? as u64;
        self.partial.extend_from_slice(&buf);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        Ok(complete.split(|b| *b == b'\n').filter_map(|r| decode(&self.task_id, r)).collect())
    }
}

/// The lines of one task: since `since`, the last `tail` (negative: all).
fn initial_lines(reader: &mut LogReader, since: i64, tail: i64) -> io::Result<Vec<LogLine>> {
    let lines = reader.read_new()?.into_iter().filter(|l| l.timestamp >= since);
    if tail < 0 {
        return Ok(lines.collect());
    }
    let mut last = VecDeque::with_capacity((tail as usize).min(4096));
    for line in lines {
        if last.len() == tail as usize {
            last.pop_front();
        }
        if tail > 0 {
            last.push_back(line);
        }
    }
    Ok(last.into())
}

/// Serves the output of the tasks under `tasks_dir`.
pub struct LogService {
    tasks_dir: PathBuf,
}

impl LogService {
    pub fn new(tasks_dir: &Path) -> LogService {
        LogService { tasks_dir: tasks_dir.to_path_buf() }
    }
}

type Tx = mpsc::Sender<Result<LogLine, Status>>;

async fn stream_task(dir: TaskDir, task_id: String, req: TaskLogsRequest, tx: Tx) {
    let mut reader = LogReader::new(&task_id, dir.log_path());
    let send_all = |lines: io::Result<Vec<LogLine>>| {
        let tx = tx.clone();
        async move {
            match lines {
                Ok(lines) => {
                    for line in lines {
                        if tx.send(Ok(line)).await.is_err() {
                            return false;
                        }
                    }
                    true
                }
                Err(e) => {
                    let _ = tx.send(Err(Status::internal(format!("reading the log: {e}")))).await;
                    false
                }
            }
        }
    };
    if !send_all(initial_lines(&mut reader, req.since, req.tail)).await || !req.follow {
        return;
    }
    loop {
        // Read once more after the task ended, then stop: nothing follows.
        let ended = dir.exit().is_some() || !dir.path().exists();
        if !send_all(reader.read_new()).await || ended {
            return;
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
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
            readers.spawn(stream_task(dir, task_id, req.clone(), tx.clone()));
        }
        tokio::spawn(async move { while readers.join_next().await.is_some() {} });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

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

    #[test]
    fn tail_since_and_incremental_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("log");
        let mut file = std::fs::File::create(&path).unwrap();
        for i in 1..=5 {
            file.write_all(&encode(i, LogStream::Stdout, format!("line {i}").as_bytes())).unwrap();
        }
        let data =
            |lines: Vec<LogLine>| lines.into_iter().map(|l| String::from_utf8(l.data).unwrap()).collect::<Vec<_>>();
        assert_eq!(data(initial_lines(&mut LogReader::new("t", path.clone()), 0, 2).unwrap()), ["line 4", "line 5"]);
        assert_eq!(data(initial_lines(&mut LogReader::new("t", path.clone()), 4, -1).unwrap()), ["line 4", "line 5"]);
        assert!(initial_lines(&mut LogReader::new("t", path.clone()), 0, 0).unwrap().is_empty());

        let mut reader = LogReader::new("t", path.clone());
        assert_eq!(reader.read_new().unwrap().len(), 5);
        let record = encode(6, LogStream::Stdout, b"line 6");
        file.write_all(&record[..4]).unwrap();
        assert!(reader.read_new().unwrap().is_empty(), "a partial record waits for its end");
        file.write_all(&record[4..]).unwrap();
        assert_eq!(data(reader.read_new().unwrap()), ["line 6"]);
    }
}
