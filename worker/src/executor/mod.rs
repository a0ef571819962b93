//! Executors: what runs a task, behind one trait: the [process] runtime
//! (a program on the node) and the [docker] runtime (a container of the
//! node's Docker Engine), and [`Runtimes`], which gives each task to the
//! one its spec names. The lifecycle mirrors swarmkit's controller:
//! prepare, start, wait, signal (shutdown), remove; and, for a restarted
//! worker, adopt.

pub mod docker;
pub mod process;
mod runtimes;

use std::future::Future;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shoal_proto::Task;
use shoal_proto::logging::LogLimits;

pub use docker::{DockerExecutor, DockerHandle};
pub use process::{ProcessExecutor, ProcessHandle};
pub use runtimes::{Runtime, Runtimes};

use crate::taskdir::ExitStatus;

/// Why a task could not be prepared or started; shown in `service ps`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// What a restarted worker finds of a task it ran before.
pub enum Adopted<H> {
    /// Still running.
    Running(H),
    /// Ended while the worker was away.
    Exited(ExitStatus),
    /// Never started, or gone without a trace of how it ended.
    Lost,
}

/// Runs tasks of one kind.
pub trait Executor: Send + Sync + 'static {
    /// What `prepare` resolved, for `start`.
    type Prepared: Send;
    type Handle: TaskHandle;

    /// Makes what holds the task's network namespace before the data path
    /// wires it, for a runtime whose tasks cannot enter one made for them
    /// (a container joins its sandbox's); the namespace's path. `None`:
    /// the data path makes one.
    fn sandbox(&self, _task: &Task) -> impl Future<Output = Result<Option<PathBuf>, ExecError>> + Send {
        async { Ok(None) }
    }
    /// Checks everything the task needs before it may start; `netns` is
    /// the network namespace it runs in (`None`: the node's).
    fn prepare(
        &self,
        task: &Task,
        netns: Option<PathBuf>,
    ) -> impl Future<Output = Result<Self::Prepared, ExecError>> + Send;
    /// Starts the task.
    fn start(
        &self,
        task: &Task,
        prepared: Self::Prepared,
    ) -> impl Future<Output = Result<Self::Handle, ExecError>> + Send;
    /// Finds a task started by an earlier run of the worker.
    fn adopt(&self, task_id: &str) -> impl Future<Output = Adopted<Self::Handle>> + Send;
    /// The task is over (it ran, or never could): frees what it held
    /// only while it might run (its secrets' and configs' files).
    fn release(&self, _task_id: &str) {}
    /// Forgets a task and deletes what it left (its output included).
    fn remove(&self, task_id: &str) -> impl Future<Output = std::io::Result<()>> + Send;
    /// Runs a health check command (`argv`) in the environment the task
    /// was started with; true if it exits 0. Dropping the future kills
    /// the command.
    fn probe(&self, task: &Task, argv: Vec<String>) -> impl Future<Output = bool> + Send;
}

/// Sends a signal to a running task (its whole process group; SIGKILL
/// also reaches every process in its cgroup).
pub type Signaller = Box<dyn Fn(i32) + Send + Sync>;

/// A running task.
pub trait TaskHandle: Send + 'static {
    fn pid(&self) -> i32;
    /// The container that runs the task (none for a process).
    fn container_id(&self) -> &str {
        ""
    }
    /// The task's health as its runtime checks it (`None`: the worker
    /// runs the spec's health check itself, if any).
    fn health(&self) -> Option<tokio::sync::watch::Receiver<shoal_proto::TaskHealth>> {
        None
    }
    /// The signal that stops it when its spec names none (an image's
    /// STOPSIGNAL); `None`: SIGTERM.
    fn stop_signal(&self) -> Option<i32> {
        None
    }
    /// How to signal the task while waiting for it.
    fn signaller(&self) -> Signaller;
    /// Waits for the task to end.
    fn wait(self) -> impl Future<Output = Result<ExitStatus, ExecError>> + Send;
}

/// The launch the process runtime saved in a task's directory (what the
/// shim runs, and health checks run with).
pub fn read_launch(dir: &crate::taskdir::TaskDir) -> Result<Launch, String> {
    let text = std::fs::read(dir.launch_path()).map_err(|e| format!("reading the launch file: {e}"))?;
    serde_json::from_slice(&text).map_err(|e| format!("malformed launch file: {e}"))
}

/// What the shim runs: the process runtime's prepared task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    #[serde(default)]
    pub mounts: Vec<crate::mounts::MountPlan>,
    /// The network namespace to run in (the node's when absent).
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// Bytes per log file before it rotates (`None`: never).
    #[serde(default = "default_log_max_size")]
    pub log_max_size: Option<u64>,
    /// Log files kept, the current one included.
    #[serde(default = "default_log_max_files")]
    pub log_max_files: u32,
    /// The task's cgroup (`None`: the node uses none).
    #[serde(default)]
    pub cgroup: Option<crate::cgroup::TaskCgroup>,
    /// What the cgroup limits.
    #[serde(default)]
    pub limits: crate::cgroup::Limits,
}

impl Launch {
    /// What of the task's output the shim keeps.
    pub fn log_limits(&self) -> LogLimits {
        LogLimits { max_size: self.log_max_size, max_files: self.log_max_files }
    }
}

fn default_log_max_size() -> Option<u64> {
    LogLimits::default().max_size
}

fn default_log_max_files() -> u32 {
    LogLimits::default().max_files
}
