//! Shoal's worker: the half of every node that runs tasks.
//!
//! The [agent](agent) keeps a session with a manager over gRPC (even when
//! the manager is in the same process), turns assignments into task
//! [controllers](controller), and reports their status. Tasks run through
//! an [executor](executor) under a [shim](shim) that outlives the daemon;
//! their local records ([`taskdir`]) let a restarted worker re-adopt them.
//! The [`logs`] service serves their output to managers.
#![forbid(unsafe_code)]

pub mod agent;
pub mod controller;
pub mod executor;
pub mod logs;
pub mod shim;
pub mod taskdir;

use std::path::PathBuf;
use std::sync::Arc;

use shoal_proto::logs_server::LogsServer;
use shoal_proto::{NodeDescription, Platform, Resources};
use tokio_util::sync::CancellationToken;

use agent::{Agent, Identity, Reporter, Tasks};
use executor::ProcessExecutor;

/// Runtimes this worker offers.
pub const RUNTIMES: [&str; 1] = ["process"];

/// What a worker needs to run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub node_id: String,
    /// Endpoints of the managers to open sessions with.
    pub managers: Vec<String>,
    /// `<data-dir>/worker`.
    pub dir: PathBuf,
    /// This node's endpoint, as other nodes reach it.
    pub addr: String,
    pub hostname: String,
    /// The `shoal` binary, run as the task shim.
    pub shim: PathBuf,
}

pub struct Worker {
    config: WorkerConfig,
    exec: Arc<ProcessExecutor>,
}

impl Worker {
    pub fn new(config: WorkerConfig) -> Worker {
        let exec = Arc::new(ProcessExecutor::new(config.shim.clone(), tasks_dir(&config)));
        Worker { config, exec }
    }

    /// The Logs gRPC service, for the node endpoint.
    pub fn logs_service(&self) -> LogsServer<logs::LogService> {
        LogsServer::new(logs::LogService::new(&tasks_dir(&self.config)))
    }

    /// Runs the agent until `stop`; tasks keep running afterwards.
    pub async fn run(self, stop: CancellationToken) {
        let reporter = Reporter::default();
        let tasks = Tasks::new(self.exec.clone(), reporter.clone(), tasks_dir(&self.config));
        let identity = Identity {
            node_id: self.config.node_id.clone(),
            addr: self.config.addr.clone(),
            description: describe(&self.config.hostname),
        };
        Agent::new(identity, self.config.managers.clone(), tasks, reporter).run(stop).await;
    }
}

fn tasks_dir(config: &WorkerConfig) -> PathBuf {
    config.dir.join("tasks")
}

/// This machine as the scheduler and `node inspect` see it.
pub fn describe(hostname: &str) -> NodeDescription {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    NodeDescription {
        hostname: hostname.to_string(),
        platform: Some(Platform {
            os: std::env::consts::OS.to_string(),
            architecture: std::env::consts::ARCH.to_string(),
        }),
        resources: Some(Resources { nano_cpus: cpus * 1_000_000_000, memory_bytes: total_memory() }),
        engine_version: env!("CARGO_PKG_VERSION").to_string(),
        engine_labels: Default::default(),
        runtimes: RUNTIMES.iter().map(|r| r.to_string()).collect(),
    }
}

/// MemTotal from /proc/meminfo, in bytes (0 if unknown).
fn total_memory() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<i64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}
