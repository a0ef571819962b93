//! `shoal daemon`: one process per node.
//!
//! A fresh daemon is standalone: it serves only its local unix socket
//! (mode 0600). `node init` makes it the first manager of a cluster; from
//! then on it serves the node endpoint (raft, dispatcher, task logs) on
//! `--listen-addr` and runs its worker, and a restart on the same data
//! dir brings all of it back by itself.

mod addr;
mod admin;
pub mod state;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use parking_lot::Mutex;
use shoal_manager::control::ControlService;
use shoal_manager::{Manager, ManagerConfig};
use shoal_proto::control_server::ControlServer;
use shoal_proto::node_admin_server::NodeAdminServer;
use shoal_worker::{Worker, WorkerConfig};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tokio_util::sync::CancellationToken;
use tracing::info;

use state::Membership;

/// Flags of `shoal daemon`.
#[derive(clap::Args, Debug, Clone)]
pub struct DaemonArgs {
    /// Where the node keeps its state (raft log, tasks, certificates)
    #[arg(long, value_name = "DIR", default_value = "/var/lib/shoal")]
    pub data_dir: PathBuf,
    /// Local control socket [default: <data-dir>/shoal.sock]
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Address the node endpoint (gRPC) listens on
    #[arg(long, value_name = "IP:PORT", default_value = "0.0.0.0:4242", value_parser = addr::parse_listen)]
    pub listen_addr: SocketAddr,
    /// Address other nodes reach this node at [default: the listen address, or this host's first IPv4 address]
    #[arg(long, value_name = "IP[:PORT]")]
    pub advertise_addr: Option<String>,
    /// Hostname this node reports [default: the machine's hostname]
    #[arg(long)]
    pub hostname: Option<String>,
    /// Log level: error, warn, info, debug or trace
    #[arg(long, default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(args: DaemonArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!("{},openraft=warn", args.log_level)))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(main(args))
}

/// The daemon's shared state.
pub struct Daemon {
    data_dir: PathBuf,
    hostname: String,
    listen_port: u16,
    /// Default advertise address.
    advertise: String,
    /// The endpoint listener, bound at start, served once in a cluster.
    listener: Mutex<Option<TcpListener>>,
    membership: Mutex<Option<Membership>>,
    /// Serialises init (and later join and leave).
    changing: tokio::sync::Mutex<()>,
    manager: watch::Sender<Option<Manager>>,
    stop: CancellationToken,
}

async fn main(args: DaemonArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("--data-dir: cannot create {}", args.data_dir.display()))?;
    std::fs::set_permissions(&args.data_dir, std::fs::Permissions::from_mode(0o700))?;
    let _lock = lock(&args.data_dir)?;
    let membership = state::load(&args.data_dir)?;
    // A member keeps the port it advertised, even when asked for any port.
    let mut listen_addr = args.listen_addr;
    if let Some(port) = membership.as_ref().and_then(|m| m.addr.parse::<SocketAddr>().ok()).map(|a| a.port())
        && listen_addr.port() == 0
    {
        listen_addr.set_port(port);
    }
    let listener = TcpListener::bind(listen_addr)
        .await
        .with_context(|| format!("--listen-addr: cannot listen on {listen_addr}"))?;
    let local = listener.local_addr()?;
    let hostname = match args.hostname {
        Some(h) => h,
        None => nix::unistd::gethostname()?.to_string_lossy().into_owned(),
    };
    let advertise = match &args.advertise_addr {
        Some(a) => addr::parse_advertise(a, local.port()).map_err(|e| anyhow::anyhow!("--advertise-addr: {e}"))?,
        None => addr::default_advertise(local),
    };
    let (manager, manager_rx) = watch::channel(None);
    let daemon = Arc::new(Daemon {
        data_dir: args.data_dir.clone(),
        hostname,
        listen_port: local.port(),
        advertise,
        listener: Mutex::new(Some(listener)),
        membership: Mutex::new(None),
        changing: tokio::sync::Mutex::new(()),
        manager,
        stop: CancellationToken::new(),
    });

    let socket = args.socket.clone().unwrap_or_else(|| args.data_dir.join("shoal.sock"));
    let _ = std::fs::remove_file(&socket);
    let unix =
        UnixListener::bind(&socket).with_context(|| format!("--socket: cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    // No `node init` may slip in while the node rejoins its cluster.
    let rejoining = daemon.changing.lock().await;
    let local_api = tonic::transport::Server::builder()
        .add_service(NodeAdminServer::new(admin::Admin::new(daemon.clone())))
        .add_service(ControlServer::new(ControlService::new(manager_rx)))
        .serve_with_incoming_shutdown(UnixListenerStream::new(unix), daemon.stop.clone().cancelled_owned());
    let local_api = tokio::spawn(local_api);

    if let Some(membership) = membership {
        info!(node = %membership.node_id, cluster = %membership.cluster_id, "rejoining the cluster");
        daemon.start_member(membership, None).await?;
    } else {
        info!("standalone: run \"shoal node init\" to create a cluster");
    }
    drop(rejoining);
    info!(socket = %socket.display(), endpoint = %local, "daemon ready");

    wait_for_signal().await?;
    info!("stopping (tasks keep running)");
    daemon.stop.cancel();
    if let Some(manager) = daemon.manager.borrow().clone() {
        manager.shutdown().await;
    }
    let _ = local_api.await;
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// One daemon per data dir.
fn lock(data_dir: &std::path::Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::File::create(data_dir.join("lock"))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| anyhow::anyhow!("another shoal daemon is using the data dir {}", data_dir.display()))
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

impl Daemon {
    /// Starts what a cluster member runs: the manager (if one), the node
    /// endpoint and the worker.
    async fn start_member(&self, membership: Membership, manager: Option<Manager>) -> Result<()> {
        let manager = match manager {
            Some(m) => Some(m),
            None if membership.manager => Some(Manager::start(self.manager_config(&membership)).await?),
            None => None,
        };
        if let Some(m) = &manager {
            self.manager.send_replace(Some(m.clone()));
            let (m, stop) = (m.clone(), self.stop.clone());
            tokio::spawn(async move { m.run(stop).await });
        }
        let worker = Worker::new(WorkerConfig {
            node_id: membership.node_id.clone(),
            managers: membership.managers.clone(),
            dir: self.data_dir.join("worker"),
            addr: membership.addr.clone(),
            hostname: self.hostname.clone(),
            shim: std::env::current_exe().context("finding the shoal binary for the task shim")?,
        });
        let listener = self.listener.lock().take().context("the node endpoint is already served")?;
        let endpoint = shoal_proto::transport::server()
            .add_service(worker.logs_service())
            .add_optional_service(manager.as_ref().map(|m| m.raft_service()))
            .add_optional_service(manager.as_ref().map(|m| m.dispatcher_service()))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), self.stop.clone().cancelled_owned());
        tokio::spawn(endpoint);
        tokio::spawn(worker.run(self.stop.child_token()));
        *self.membership.lock() = Some(membership);
        Ok(())
    }

    fn manager_config(&self, membership: &Membership) -> ManagerConfig {
        ManagerConfig {
            node_id: membership.node_id.clone(),
            raft_id: membership.raft_id,
            addr: membership.addr.clone(),
            raft_dir: self.data_dir.join("raft"),
            timing: Default::default(),
        }
    }
}
