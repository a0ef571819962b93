//! The output of a docker task: what the engine's json-file log kept of
//! its container, read through the engine's logs API (so it is all there
//! after a shoal restart; the engine rotates it as the task's log
//! options say). Each entry comes with its RFC 3339 time in front. A
//! container with a terminal (`--tty`) has one stream, sent raw: its
//! entries are cut into lines here and count as stdout, without the
//! terminal's carriage returns.

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use shoal_proto::{LogLine, LogStream, TaskLogsRequest};
use tokio_stream::StreamExt;

use super::Tx;
use crate::docker::message;

/// Sends the container's lines (since `req.since`, the last `req.tail`),
/// then with `follow` what it writes until it stops.
pub(super) async fn send(
    docker: &Docker,
    container: &str,
    task_id: &str,
    req: &TaskLogsRequest,
    tx: &Tx,
) -> Result<(), String> {
    let options = LogsOptions {
        follow: req.follow,
        stdout: true,
        stderr: true,
        // Whole seconds only here; the rest is filtered below.
        since: i32::try_from(req.since / 1_000_000_000).unwrap_or(i32::MAX).max(0),
        timestamps: true,
        tail: if req.tail >= 0 { req.tail.to_string() } else { "all".into() },
        ..Default::default()
    };
    let mut entries = docker.logs(container, Some(options));
    let mut console = Console::default();
    loop {
        let entry = tokio::select! {
            _ = tx.closed() => return Ok(()),
            entry = entries.next() => entry,
        };
        let Some(entry) = entry else { return Ok(()) };
        let entry = entry.map_err(|e| message(&e))?;
        for line in console.lines(entry).into_iter().filter_map(|e| line(task_id, e)) {
            if line.timestamp >= req.since && tx.send(Ok(line)).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// The raw stream of a container with a terminal, cut into its entries
/// (a chunk may hold several, or part of one).
#[derive(Default)]
struct Console {
    pending: Vec<u8>,
}

impl Console {
    /// `entry` as whole entries: a multiplexed one as it is, a raw one's
    /// complete lines as stdout (the rest kept for the next chunk).
    fn lines(&mut self, entry: LogOutput) -> Vec<LogOutput> {
        let LogOutput::Console { message } = entry else { return vec![entry] };
        self.pending.extend_from_slice(&message);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(LogOutput::StdOut { message: line.into() });
        }
        lines
    }
}

/// One entry of the engine's log as a line of the task's output (`None`:
/// not stdout or stderr, or no time in front).
fn line(task_id: &str, entry: LogOutput) -> Option<LogLine> {
    let (stream, message) = match entry {
        LogOutput::StdOut { message } => (LogStream::Stdout, message),
        LogOutput::StdErr { message } => (LogStream::Stderr, message),
        _ => return None,
    };
    let space = message.iter().position(|b| *b == b' ')?;
    let time = humantime::parse_rfc3339(std::str::from_utf8(&message[..space]).ok()?).ok()?;
    let timestamp = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as i64;
    let mut data = &message[space + 1..];
    if let Some(stripped) = data.strip_suffix(b"\n") {
        data = stripped;
    }
    Some(LogLine {
        task_id: task_id.to_string(),
        timestamp,
        stream: stream as i32,
        data: data.to_vec(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_becomes_a_line_with_its_time() {
        let entry = LogOutput::StdErr { message: "2026-12-06T17:45:41.519172886Z oops a b\n".into() };
        let first = line("t1", entry).unwrap();
        assert_eq!(first.task_id, "t1");
        assert_eq!(first.timestamp, 1_796_579_141_519_172_886);
        assert_eq!(first.stream(), LogStream::Stderr);
        assert_eq!(first.data, b"oops a b");
        let partial = LogOutput::StdOut { message: "2026-12-06T17:45:41Z no newline".into() };
        assert_eq!(line("t1", partial).unwrap().data, b"no newline");
        assert!(line("t1", LogOutput::StdOut { message: "no time".into() }).is_none());
        assert!(line("t1", LogOutput::StdIn { message: "2026-12-06T17:45:41Z x\n".into() }).is_none());
    }

    #[test]
    fn a_terminals_raw_stream_is_cut_into_lines() {
        let mut console = Console::default();
        let chunk = |text: &str| LogOutput::Console { message: text.to_string().into() };
        let first = console.lines(chunk("2026-12-06T17:45:41Z a\r\n2026-12-06T17:45:42Z b"));
        let data: Vec<Vec<u8>> = first.into_iter().filter_map(|e| line("t", e)).map(|l| l.data).collect();
        assert_eq!(data, [b"a".to_vec()]);
        let rest = console.lines(chunk("c\r\n"));
        let line = line("t", rest.into_iter().next().unwrap()).unwrap();
        assert_eq!((line.data.as_slice(), line.stream()), (&b"bc"[..], LogStream::Stdout));
        let stderr = LogOutput::StdErr { message: "x".into() };
        assert_eq!(console.lines(stderr).len(), 1, "multiplexed entries pass as they are");
    }
}
