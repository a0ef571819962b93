//! `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: task output in
//! Docker's multiplexed stream (an 8-byte header per frame: stream 1 or
//! 2, then the length), each line prefixed, as Docker's daemon does, by
//! its timestamp (`timestamps=1`) and its details (`details=1`, which
//! `docker service logs` always asks for: the node, service and task the
//! CLI names the line by).

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use shoal_proto::{GetServiceRequest, GetTaskRequest, LogLine, LogStream, ServiceLogsRequest};

use super::{ApiError, Backend, query};
use crate::shape::rfc3339;

/// What the caller asked each line to say.
struct Prefix {
    timestamps: bool,
    details: bool,
    service_id: String,
}

/// Logs of a service.
pub(super) async fn service(
    State(b): State<Backend>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let service = b.control.clone().get_service(GetServiceRequest { reference: id }).await?.into_inner();
    stream(b, service.id.clone(), service.id, q).await
}

/// Logs of one task.
pub(super) async fn task(
    State(b): State<Backend>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let task = b.control.clone().get_task(GetTaskRequest { reference: id }).await?.into_inner();
    stream(b, task.id, task.service_id, q).await
}

async fn stream(
    b: Backend,
    reference: String,
    service_id: String,
    q: HashMap<String, String>,
) -> Result<Response, ApiError> {
    let flag = |name: &str| query::flag(q.get(name).map(String::as_str));
    let (stdout, stderr) = (flag("stdout"), flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::invalid("Bad parameters: you must choose at least one stream"));
    }
    let tail = match q.get("tail").map(String::as_str) {
        None | Some("" | "all") => -1,
        Some(n) => {
            n.parse::<i64>().map_err(|_| ApiError::invalid(format!("tail: expected a number or \"all\", got {n:?}")))?
        }
    };
    let since = match q.get("since").filter(|s| !s.is_empty() && *s != "0") {
        Some(s) => query::timestamp("since", s)?,
        None => 0,
    };
    let request = ServiceLogsRequest { reference, follow: flag("follow"), tail, since };
    let lines = b.control.clone().service_logs(request).await?.into_inner();
    let prefix = Prefix { timestamps: flag("timestamps"), details: flag("details"), service_id };
    let frames = lines
        .take_until(b.stop.clone().cancelled_owned())
        .take_while(|l| std::future::ready(l.is_ok()))
        .filter_map(move |line| {
            let frame = line.ok().filter(|l| l.warning.is_empty()).and_then(|l| {
                let wanted = if l.stream() == LogStream::Stderr { stderr } else { stdout };
                wanted.then(|| frame(&prefix, &l))
            });
            std::future::ready(frame.map(Ok::<_, Infallible>))
        });
    let kind = "application/vnd.docker.multiplexed-stream";
    Ok(([(header::CONTENT_TYPE, kind)], Body::from_stream(frames)).into_response())
}

/// One line as a frame of Docker's multiplexed stream.
fn frame(prefix: &Prefix, line: &LogLine) -> Bytes {
    let mut text = Vec::with_capacity(line.data.len() + 160);
    if prefix.timestamps {
        text.extend_from_slice(rfc3339(line.timestamp).as_bytes());
        text.push(b' ');
    }
    if prefix.details {
        let node = line.context.as_ref().map_or("", |c| c.node_name.as_str());
        // Docker's attributes, sorted, values query-escaped; the node by
        // hostname, which `GET /nodes/{id}` resolves as an id.
        let details = format!(
            "com.docker.swarm.node.id={},com.docker.swarm.service.id={},com.docker.swarm.task.id={} ",
            escape(node),
            escape(&prefix.service_id),
            escape(&line.task_id)
        );
        text.extend_from_slice(details.as_bytes());
    }
    text.extend_from_slice(&line.data);
    if !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    let stream: u8 = if line.stream() == LogStream::Stderr { 2 } else { 1 };
    let mut framed = Vec::with_capacity(8 + text.len());
    framed.extend_from_slice(&[stream, 0, 0, 0]);
    framed.extend_from_slice(&(text.len() as u32).to_be_bytes());
    framed.extend_from_slice(&text);
    Bytes::from(framed)
}

/// Go's `url.QueryEscape` for the characters a name or id can hold.
fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use shoal_proto::LogContext;

    use super::*;

    #[test]
    fn a_line_framed_as_docker_frames_it() {
        let line = LogLine {
            task_id: "t1".into(),
            timestamp: 1_700_000_000_000_000_001,
            stream: LogStream::Stderr as i32,
            data: b"oops".to_vec(),
            context: Some(LogContext { task_name: "web.1".into(), node_name: "node 1".into() }),
            warning: String::new(),
        };
        let prefix = Prefix { timestamps: true, details: true, service_id: "s1".into() };
        let framed = frame(&prefix, &line);
        assert_eq!(&framed[..4], &[2, 0, 0, 0]);
        let text = std::str::from_utf8(&framed[8..]).unwrap();
        assert_eq!(u32::from_be_bytes(framed[4..8].try_into().unwrap()) as usize, text.len());
        assert_eq!(
            text,
            "2023-11-14T22:13:20.000000001Z com.docker.swarm.node.id=node+1,com.docker.swarm.service.id=s1,\
             com.docker.swarm.task.id=t1 oops\n"
        );
        let plain = Prefix { timestamps: false, details: false, service_id: String::new() };
        assert_eq!(&frame(&plain, &line)[8..], b"oops\n");
    }
}
