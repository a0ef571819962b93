//! `shoal run`: runs a program once on one node, outside any service, on
//! attachable overlay networks (what `docker run --network` is to a
//! Swarm user): its output is printed as it comes, and `shoal run` exits
//! with the program's exit status. The task is removed when it ends, or
//! stopped and removed on Ctrl-C, SIGTERM or SIGHUP (always `--rm`:
//! shoal keeps no stopped standalone work to list or restart); `shoal rm`
//! removes one whose `shoal run` was killed.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use shoal_proto::control_client::ControlClient;
use shoal_proto::{
    GetNodeRequest, GetTaskRequest, LogStream, NetworkAttachmentConfig, NodeState, RemoveTaskRequest, RunTaskRequest,
    ServiceLogsRequest, Task, TaskSpec, TaskState,
};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::Ctx;
use super::args::{ProgramArgs, network};
use crate::ExitStatus;
use crate::client::status;

/// How often the task's state is read while it runs: soon after it is
/// made (a short program is over in milliseconds), then every 100 ms.
const FIRST_POLL: Duration = Duration::from_millis(10);
const POLL: Duration = Duration::from_millis(100);
/// How long the output may pause after the program exited before the
/// rest is given up.
const OUTPUT_IDLE: Duration = Duration::from_secs(10);
/// How long the managers may not answer (a failover) before giving up.
const UNANSWERED: Duration = Duration::from_secs(30);
/// How often the task's node is checked (Down: give up).
const NODE_CHECK: Duration = Duration::from_secs(1);
/// Exit status after Ctrl-C (128 + SIGINT), as a shell reports it.
const INTERRUPTED: u8 = 130;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Name of the task [default: a random name]
    #[arg(long)]
    pub name: Option<String>,
    /// Node to run on [default: self, the node of the manager asked]
    #[arg(long)]
    pub node: Option<String>,
    /// Attachable network to join (NAME, or name=NAME,alias=ALIAS)
    #[arg(long = "network", value_name = "NETWORK", value_parser = network)]
    pub network: Vec<NetworkAttachmentConfig>,
    /// Runtime that runs the task: process or docker [default: the
    /// cluster's default runtime]
    #[arg(long, value_name = "RUNTIME", value_parser = shoal_spec::runtime::RUNTIMES)]
    pub runtime: Option<String>,
    #[command(flatten)]
    pub program: ProgramArgs,
}

impl RunArgs {
    fn spec(&self) -> TaskSpec {
        TaskSpec {
            container: Some(self.program.container()),
            networks: self.network.clone(),
            runtime: self.runtime.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

pub async fn run(ctx: &mut Ctx, args: RunArgs) -> Result<()> {
    // It follows its task to the end whoever reads it (see cli::out).
    super::out::outlive_closed_pipes();
    // Signals first: one that comes while the task is being made counts.
    let mut signals = Signals::new()?;
    let mut control = ctx.control().await?;
    let request = RunTaskRequest {
        spec: Some(args.spec()),
        node: args.node.clone().unwrap_or_default(),
        name: args.name.clone().unwrap_or_default(),
    };
    // A signal while the task is made: it is removed once made (a second
    // one gives up waiting).
    let mut signalled = false;
    let task = {
        let creating = control.run_task(request);
        tokio::pin!(creating);
        loop {
            tokio::select! {
                created = &mut creating => break created.map_err(status)?.into_inner(),
                _ = signals.recv() => {
                    if signalled {
                        return Err(ExitStatus(INTERRUPTED).into());
                    }
                    signalled = true;
                }
            }
        }
    };
    let outcome =
        if signalled { Err(ExitStatus(INTERRUPTED).into()) } else { attend(&mut control, &task, &mut signals).await };
    // Whatever happened, the task goes (it stops first if it still runs).
    if let Err(e) = remove(&mut control, &task.id).await
        && e.code() != tonic::Code::NotFound
    {
        errln!("Error: removing task {} (shoal rm {} retries): {}", task.name(), task.name(), e.message());
    }
    outcome
}

/// `shoal rm`: stops and removes tasks `shoal run` started.
pub async fn rm(ctx: &mut Ctx, args: RmArgs) -> Result<()> {
    let control = ctx.control().await?;
    super::each(args.tasks, |reference| {
        let mut control = control.clone();
        async move { remove(&mut control, &reference).await.map(|_| reference) }
    })
    .await
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Tasks (name, id or id prefix)
    #[arg(required = true, value_name = "TASK")]
    pub tasks: Vec<String>,
}

async fn remove(control: &mut ControlClient<Channel>, reference: &str) -> Result<(), tonic::Status> {
    control.remove_task(RemoveTaskRequest { reference: reference.to_string() }).await.map(|_| ())
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed): each stops
/// the task.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}

/// Prints the task's output until it ends; its exit status as the result.
async fn attend(control: &mut ControlClient<Channel>, task: &Task, signals: &mut Signals) -> Result<()> {
    let name = task.name();
    let lines = Arc::new(AtomicUsize::new(0));
    let output = tokio::spawn(print_output(control.clone(), task.id.clone(), lines.clone()));
    let mut interrupted = false;
    let (mut answered, mut node_checked) = (Instant::now(), Instant::now());
    let mut pause = FIRST_POLL;
    let ended = loop {
        tokio::select! {
            _ = signals.recv() => {
                if interrupted {
                    errln!("task {name} is still stopping: it is removed once it has stopped");
                    output.abort();
                    return Err(ExitStatus(INTERRUPTED).into());
                }
                interrupted = true;
                if let Err(e) = remove(control, &task.id).await {
                    errln!("Error: stopping task {name}: {}", e.message());
                }
            }
            _ = tokio::time::sleep(pause) => pause = (pause * 2).min(POLL),
        }
        let now = match control.get_task(GetTaskRequest { reference: task.id.clone() }).await {
            Ok(now) => now.into_inner(),
            // Stopped and already deleted.
            Err(e) if interrupted && e.code() == tonic::Code::NotFound => {
                output.abort();
                return Err(ExitStatus(INTERRUPTED).into());
            }
            Err(e) if e.code() == tonic::Code::NotFound => {
                output.abort();
                bail!("task {name} is gone: removed (shoal rm), or its node left the cluster");
            }
            // A manager failing over: ask again.
            Err(e) if e.code() == tonic::Code::Unavailable && answered.elapsed() < UNANSWERED => continue,
            Err(e) => return Err(status(e)),
        };
        answered = Instant::now();
        let (state, err) = now.status.as_ref().map_or((TaskState::New, ""), |s| (s.state(), s.err.as_str()));
        if state.is_terminal() {
            break now;
        }
        if state == TaskState::Pending && !err.is_empty() && !interrupted {
            output.abort();
            bail!("task {name} cannot run on its node: {err}");
        }
        if node_checked.elapsed() >= NODE_CHECK {
            node_checked = Instant::now();
            if let Some(host) = down(control, &now.node_id).await {
                output.abort();
                bail!("node {host} is down: task {name} is removed once the node is back or has left the cluster");
            }
        }
    };
    let status = ended.status.clone().unwrap_or_default();
    let (ran, exit_code) = status.container.as_ref().map_or((false, 0), |c| (true, c.exit_code));
    if ran {
        // Its output ends with it: wait for the rest while it comes.
        drain(output, &lines, &name).await;
    } else {
        output.abort();
    }
    match status.state() {
        _ if interrupted => Err(ExitStatus(INTERRUPTED).into()),
        TaskState::Complete => Ok(()),
        TaskState::Failed if ran && exit_code != 0 => Err(ExitStatus(u8::try_from(exit_code).unwrap_or(1)).into()),
        TaskState::Shutdown if status.err.is_empty() => bail!("task {name} was stopped"),
        state => bail!("task {name} {}: {}", state.name(), status.err),
    }
}

/// Waits for the output to end, as long as lines keep coming.
async fn drain(mut output: JoinHandle<Result<()>>, lines: &AtomicUsize, name: &str) {
    let mut seen = lines.load(Ordering::Relaxed);
    loop {
        match tokio::time::timeout(OUTPUT_IDLE, &mut output).await {
            Ok(Ok(Err(e))) => errln!("Error: reading the output of task {name}: {e:#}"),
            Ok(_) => {}
            Err(_) if lines.load(Ordering::Relaxed) != seen => {
                seen = lines.load(Ordering::Relaxed);
                continue;
            }
            Err(_) => {
                errln!("Warning: the output of task {name} stopped coming; the rest is not shown");
                output.abort();
            }
        }
        return;
    }
}

/// The node's hostname if it is Down.
async fn down(control: &mut ControlClient<Channel>, node_id: &str) -> Option<String> {
    let node = control.get_node(GetNodeRequest { reference: node_id.to_string() }).await.ok()?.into_inner();
    let is_down = node.status.as_ref().is_some_and(|s| s.state() == NodeState::Down);
    is_down.then(|| node.description.map_or(node.id, |d| d.hostname))
}

/// The task's output, stdout to stdout and stderr to stderr, until it
/// ends; counts the lines in `lines`.
async fn print_output(mut control: ControlClient<Channel>, task_id: String, lines: Arc<AtomicUsize>) -> Result<()> {
    let request = ServiceLogsRequest { reference: task_id, follow: true, tail: -1, since: 0 };
    let mut stream = control.service_logs(request).await.map_err(status)?.into_inner();
    while let Some(line) = stream.message().await.map_err(status)? {
        if !line.warning.is_empty() {
            errln!("Warning: {}", line.warning);
            continue;
        }
        let stderr = line.stream() == LogStream::Stderr;
        let mut data = line.data;
        data.push(b'\n');
        let written = if stderr { std::io::stderr().write_all(&data) } else { std::io::stdout().write_all(&data) };
        if written.is_err() {
            bail!("output closed");
        }
        lines.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
