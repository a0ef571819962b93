//! `shoal run`: runs a program once on one node, outside any service, on
//! attachable overlay networks (what `docker run --network` is to a
//! Swarm user): its output is printed as it comes, and `shoal run` exits
//! with the program's exit status. The task is removed when it ends, or
//! stopped and removed on Ctrl-C (always `--rm`: shoal keeps no stopped
//! standalone work to list or restart).

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use shoal_proto::control_client::ControlClient;
use shoal_proto::{
    ContainerSpec, GetTaskRequest, LogStream, Mount, NetworkAttachmentConfig, RemoveTaskRequest, RunTaskRequest,
    ServiceLogsRequest, Task, TaskSpec, TaskState,
};
use tonic::transport::Channel;

use super::Ctx;
use super::args::{env_var, mount, network};
use crate::ExitStatus;
use crate::client::status;

/// How often the task's state is read while it runs.
const POLL: Duration = Duration::from_millis(100);
/// How long the output may take to arrive after the program exited.
const OUTPUT_GRACE: Duration = Duration::from_secs(10);
/// Exit status after Ctrl-C (128 + SIGINT), as a shell reports it.
const INTERRUPTED: u8 = 130;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Name of the task [default: a random name]
    #[arg(long)]
    pub name: Option<String>,
    /// Node to run on [default: the node of the manager asked]
    #[arg(long)]
    pub node: Option<String>,
    /// Attachable network to join (NAME, or name=NAME,alias=ALIAS)
    #[arg(long = "network", value_name = "NETWORK", value_parser = network)]
    pub network: Vec<NetworkAttachmentConfig>,
    /// Set environment variables (KEY=VALUE)
    #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = env_var)]
    pub env: Vec<String>,
    /// Attach a mount: type=bind|volume|tmpfs,source=..,target=..[,readonly]
    #[arg(long = "mount", value_name = "MOUNT", value_parser = mount)]
    pub mounts: Vec<Mount>,
    /// Working directory of the program
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// The program to run (a path, or a name found in PATH)
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Its arguments
    #[arg(value_name = "ARG", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl RunArgs {
    fn spec(&self) -> TaskSpec {
        TaskSpec {
            container: Some(ContainerSpec {
                image: self.image.clone(),
                args: self.args.clone(),
                env: self.env.clone(),
                dir: self.workdir.clone().unwrap_or_default(),
                user: self.user.clone().unwrap_or_default(),
                mounts: self.mounts.clone(),
                ..Default::default()
            }),
            networks: self.network.clone(),
            ..Default::default()
        }
    }
}

pub async fn run(ctx: &mut Ctx, args: RunArgs) -> Result<()> {
    let mut control = ctx.control().await?;
    let request = RunTaskRequest {
        spec: Some(args.spec()),
        node: args.node.clone().unwrap_or_default(),
        name: args.name.clone().unwrap_or_default(),
    };
    let task = control.run_task(request).await.map_err(status)?.into_inner();
    let outcome = attend(&mut control, &task).await;
    // Whatever happened, the task goes (it stops first if it still runs).
    let removed = control.remove_task(RemoveTaskRequest { reference: task.id.clone() }).await;
    if let Err(e) = removed
        && e.code() != tonic::Code::NotFound
    {
        eprintln!("Error: removing task {}: {}", task.name(), e.message());
    }
    outcome
}

/// Prints the task's output until it ends; its exit status as the result.
async fn attend(control: &mut ControlClient<Channel>, task: &Task) -> Result<()> {
    let output = tokio::spawn(print_output(control.clone(), task.id.clone()));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    let ended = loop {
        tokio::select! {
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                control.remove_task(RemoveTaskRequest { reference: task.id.clone() }).await.map_err(status)?;
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let now = match control.get_task(GetTaskRequest { reference: task.id.clone() }).await {
            Ok(now) => now.into_inner(),
            // Stopped and already deleted.
            Err(e) if interrupted && e.code() == tonic::Code::NotFound => return Err(ExitStatus(INTERRUPTED).into()),
            Err(e) => return Err(status(e)),
        };
        let (state, err) = now.status.as_ref().map_or((TaskState::New, ""), |s| (s.state(), s.err.as_str()));
        if state.is_terminal() {
            break now;
        }
        if state == TaskState::Pending && !err.is_empty() && !interrupted {
            output.abort();
            bail!("task {} cannot run on its node: {err}", task.name());
        }
    };
    let status = ended.status.clone().unwrap_or_default();
    let (ran, exit_code) = status.container.as_ref().map_or((false, 0), |c| (c.pid != 0, c.exit_code));
    if ran {
        // It ran: its output ends with it.
        if let Ok(Ok(Err(e))) = tokio::time::timeout(OUTPUT_GRACE, output).await {
            eprintln!("Error: reading the output of task {}: {e:#}", task.name());
        }
    } else {
        output.abort();
    }
    match status.state() {
        _ if interrupted => Err(ExitStatus(INTERRUPTED).into()),
        TaskState::Complete => Ok(()),
        TaskState::Failed if ran && exit_code != 0 => Err(ExitStatus(u8::try_from(exit_code).unwrap_or(1)).into()),
        state => bail!("task {} {}: {}", task.name(), state.name(), status.err),
    }
}

/// The task's output, stdout to stdout and stderr to stderr, until it ends.
async fn print_output(mut control: ControlClient<Channel>, task_id: String) -> Result<()> {
    let request = ServiceLogsRequest { reference: task_id, follow: true, tail: -1, since: 0 };
    let mut stream = control.service_logs(request).await.map_err(status)?.into_inner();
    while let Some(line) = stream.message().await.map_err(status)? {
        let stderr = line.stream() == LogStream::Stderr;
        let mut data = line.data;
        data.push(b'\n');
        let written = if stderr { std::io::stderr().write_all(&data) } else { std::io::stdout().write_all(&data) };
        if written.is_err() {
            bail!("output closed");
        }
    }
    Ok(())
}
