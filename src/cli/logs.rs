//! `shoal service logs`: each line prefixed with the task that wrote it
//! (`web.1.<task id>@<node>    | `), stdout to stdout, stderr to stderr.

use std::io::Write;

use anyhow::{Result, bail};
use clap::Args;
use shoal_proto::{LogLine, LogStream, ServiceLogsRequest, now_nanos};

use super::Ctx;
use super::human::rfc3339;
use crate::client::status;
use shoal_spec::text::duration;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs, per task ("all" for every line)
    #[arg(short = 'n', long, default_value = "all", value_parser = tail)]
    pub tail: i64,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (2013-01-02T13:23:37Z) or relative time (42m)
    #[arg(long, value_parser = time)]
    pub since: Option<i64>,
    /// Do not include task IDs in the output
    #[arg(long)]
    pub no_task_ids: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Service or task
    #[arg(value_name = "SERVICE|TASK")]
    pub reference: String,
}

fn tail(text: &str) -> Result<i64, String> {
    if text == "all" {
        return Ok(-1);
    }
    text.parse::<u32>().map(i64::from).map_err(|_| format!("expected a number of lines or \"all\", got {text:?}"))
}

/// RFC 3339 time, unix seconds, or a duration back from now (`--since`,
/// `--until`).
pub fn time(text: &str) -> Result<i64, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return Ok(t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64));
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    duration::parse(text).map(|ago| now_nanos() - ago).map_err(|_| {
        format!("expected a time like 2013-01-02T13:23:37Z, unix seconds or a duration like 42m, got {text:?}")
    })
}

pub async fn run(ctx: &mut Ctx, args: LogsArgs) -> Result<()> {
    let request = ServiceLogsRequest {
        reference: args.reference.clone(),
        follow: args.follow,
        tail: args.tail,
        since: args.since.unwrap_or(0),
    };
    let mut stream = ctx.control().await?.service_logs(request).await.map_err(status)?.into_inner();
    let mut width = 0;
    while let Some(line) = stream.message().await.map_err(status)? {
        if !line.warning.is_empty() {
            errln!("Warning: {}", line.warning);
            continue;
        }
        let prefix = prefix(&line, &args);
        width = width.max(prefix.chars().count());
        let mut out = Vec::new();
        if args.timestamps {
            write!(out, "{} ", rfc3339(line.timestamp))?;
        }
        write!(out, "{prefix:<width$}    | ")?;
        out.extend_from_slice(&line.data);
        out.push(b'\n');
        if line.stream() == LogStream::Stderr {
            if std::io::stderr().write_all(&out).is_err() {
                bail!("output closed");
            }
        } else {
            super::out::bytes(&out);
        }
    }
    Ok(())
}

fn prefix(line: &LogLine, args: &LogsArgs) -> String {
    let ctx = line.context.clone().unwrap_or_default();
    if args.no_task_ids {
        return format!("{}@{}", ctx.task_name, ctx.node_name);
    }
    let id = if args.no_trunc { &line.task_id[..] } else { &line.task_id[..line.task_id.len().min(12)] };
    format!("{}.{}@{}", ctx.task_name, id, ctx.node_name)
}
