//! Shoal's worker: the half of every node that runs tasks.
//!
//! The [agent](agent) keeps a session with a manager over gRPC (even when
//! the manager is in the same process), turns assignments into task
//! [controllers](controller), and reports their status. Tasks run through
//! an [executor](executor): programs under a [shim](shim) that outlives
//! the daemon, each in its own [cgroup] (its resource limits), or
//! containers of the node's [Docker Engine](docker); their local records
//! ([`taskdir`]) and labels let a restarted worker re-adopt them.
//! The [`logs`] service serves their output to managers.
#![forbid(unsafe_code)]

pub mod agent;
pub mod cgroup;
pub mod controller;
pub mod docker;
pub mod executor;
pub mod files;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod mounts;
pub mod network;
pub mod shim;
pub mod taskdir;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use shoal_proto::logs_server::LogsServer;
use shoal_proto::transport::{Credentials, Role, auth};
use shoal_proto::{NodeDescription, Platform, Resources};
use tokio_util::sync::CancellationToken;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;

use agent::{Agent, Identity, Reporter, Tasks};
use executor::{DockerExecutor, ProcessExecutor, Runtimes};

/// Runtimes every worker offers (docker too while its engine answers:
/// [`docker::describe`]).
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
    /// Labels the node reports (`shoal daemon --label`).
    pub engine_labels: HashMap<String, String>,
    /// The `shoal` binary, run as the task shim.
    pub shim: PathBuf,
    /// This node's TLS identity.
    pub credentials: Credentials,
    /// Where the agent tells what the cluster wants of this node (its
    /// role, and the managers to ask), from every session message.
    pub wanted: Arc<tokio::sync::watch::Sender<Wanted>>,
    /// The node's data path (`None`: tasks use the node's network).
    pub network: Option<Arc<dyn network::Network>>,
    /// The Docker Engine's socket (`None`: this node uses no Docker).
    pub docker: Option<PathBuf>,
}

/// What the cluster wants of this node, as its session says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wanted {
    pub role: shoal_proto::NodeRole,
    /// The role the cluster has recorded (it follows `role` once the
    /// managers have done their part of the change).
    pub recorded: shoal_proto::NodeRole,
    /// The managers' endpoints.
    pub managers: Vec<String>,
    /// The managers' node ids (empty until the first session).
    pub manager_ids: Vec<String>,
}

pub struct Worker {
    config: WorkerConfig,
    exec: Arc<Runtimes>,
}

impl Worker {
    pub fn new(config: WorkerConfig) -> Worker {
        let exec = Arc::new(runtimes(
            &config.dir,
            config.shim.clone(),
            &config.node_id,
            &config.hostname,
            config.docker.clone(),
        ));
        Worker { config, exec }
    }

    /// The Logs gRPC service, for the node endpoint: managers only, and
    /// (once a session said who they are) only the managers of now, not
    /// a demoted one with its old certificate.
    pub fn logs_service(&self) -> InterceptedService<LogsServer<logs::LogService>, impl Interceptor + Clone + use<>> {
        let server = LogsServer::new(logs::LogService::new(&tasks_dir(&self.config), self.exec.docker.clone()));
        let wanted = self.config.wanted.clone();
        let standing = Arc::new(move |caller: &shoal_proto::transport::Identity| {
            let ids = &wanted.borrow().manager_ids;
            if ids.is_empty() || ids.contains(&caller.node_id) {
                Ok(())
            } else {
                Err(format!("node {} is no longer a manager: its manager certificate is void", caller.node_id))
            }
        });
        InterceptedService::new(server, auth::require(&[Role::Manager], standing))
    }

    /// Runs the agent until `stop`; tasks keep running afterwards.
    pub async fn run(self, stop: CancellationToken) {
        let reporter = Reporter::default();
        let tasks =
            Tasks::new(self.exec.clone(), reporter.clone(), tasks_dir(&self.config), self.config.network.clone());
        let identity = Identity {
            node_id: self.config.node_id.clone(),
            addr: self.config.addr.clone(),
            description: describe(&self.config.hostname, &self.config.engine_labels),
        };
        let agent = Agent {
            identity,
            managers: self.config.managers.clone(),
            credentials: self.config.credentials.clone(),
            tasks,
            reporter,
            wanted: self.config.wanted.clone(),
            engine: docker::monitor(self.config.docker.clone(), stop.clone()).await,
            engine_labels: docker::SeenLabels::load(self.config.dir.join("engine-labels.json")),
        };
        agent.run(stop).await;
    }
}

/// Stops every task recorded under `dir` (`<data-dir>/worker`) and
/// deletes the records, and removes every container node `node_id` made
/// in the engine at `docker`: the node leaves its cluster.
pub async fn remove_all_tasks(dir: &std::path::Path, shim: PathBuf, node_id: &str, docker: Option<PathBuf>) {
    let exec = Arc::new(runtimes(dir, shim, node_id, "", docker));
    let tasks = Tasks::new(exec, Reporter::default(), dir.join("tasks"), None);
    for done in tasks.remove_strays(&Default::default()) {
        let _ = done.await;
    }
}

fn tasks_dir(config: &WorkerConfig) -> PathBuf {
    config.dir.join("tasks")
}

/// The runtimes of a worker keeping its tasks under `dir`.
fn runtimes(dir: &std::path::Path, shim: PathBuf, node_id: &str, hostname: &str, docker: Option<PathBuf>) -> Runtimes {
    let docker = docker.map(|socket| Arc::new(docker_executor(dir, node_id, socket)));
    let files = files::Files::new(node_id, hostname);
    Runtimes::new(ProcessExecutor::new(shim, dir.join("tasks")), docker, dir.join("tasks"), files)
}

/// The docker runtime of node `node_id`, keeping its tasks' records under
/// `dir` (`<data-dir>/worker`), on the engine at `socket`.
pub fn docker_executor(dir: &std::path::Path, node_id: &str, socket: PathBuf) -> DockerExecutor {
    DockerExecutor::new(Arc::new(docker::Client::new(socket)), node_id.to_string(), dir.join("tasks"))
}

/// This machine as the scheduler and `node inspect` see it.
pub fn describe(hostname: &str, engine_labels: &HashMap<String, String>) -> NodeDescription {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    NodeDescription {
        hostname: hostname.to_string(),
        platform: Some(Platform {
            os: std::env::consts::OS.to_string(),
            architecture: std::env::consts::ARCH.to_string(),
        }),
        resources: Some(Resources { nano_cpus: cpus * 1_000_000_000, memory_bytes: total_memory() }),
        engine_version: env!("CARGO_PKG_VERSION").to_string(),
        engine_labels: engine_labels.clone(),
        runtimes: RUNTIMES.iter().map(|r| r.to_string()).collect(),
        limits: Some(cgroup::Cgroups::node().support()),
        // Added per session from what the engine answers (`docker::describe`).
        docker: None,
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
