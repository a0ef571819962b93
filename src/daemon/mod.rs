//! `shoal daemon`: one process per node.
//!
//! A fresh daemon is standalone: it serves only its local unix socket
//! (mode 0600). `node init` makes it the first manager of a cluster; from
//! then on it serves the node endpoint (raft, dispatcher, task logs) on
//! `--listen-addr` and runs its worker, and a restart on the same data
//! dir brings all of it back by itself.

mod admin;
mod expiry;
mod join;
mod leave;
mod lost;
mod network;
mod recover;
mod renew;
mod role;
mod runs;
mod supervise;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use parking_lot::Mutex;
use shoal_manager::control::ControlService;
use shoal_manager::raft::{RaftState, RaftTiming, StartError};
use shoal_manager::{Manager, ManagerConfig, ManagerError};
use shoal_proto::NodeRole;
use shoal_proto::control_server::ControlServer;
use shoal_proto::node_admin_server::NodeAdminServer;
use shoal_proto::transport::{self, Credentials};
use shoal_worker::{Wanted, Worker, WorkerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use shoal_node::certs;
use shoal_node::membership::{self as state, Membership};
use shoal_node::{addr, files as atomic, private};

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
    /// Engine label of this node (KEY=VALUE), for `engine.labels.KEY` constraints
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = crate::cli::args::key_value)]
    pub labels: Vec<(String, String)>,
    /// Raft heartbeat interval between managers (ms|s)
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = parse_millis)]
    pub raft_heartbeat: u64,
    /// Raft election timeout: a follower that hears no leader for this long
    /// (randomised up to twice as long) starts an election (ms|s)
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_millis)]
    pub raft_election_timeout: u64,
    /// The overlay data path (VXLAN, a network namespace per task): off
    /// runs every task in this node's network, for several daemons in one
    /// network namespace
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pub data_path: String,
    /// The resolver the tasks' DNS responders forward names that are not
    /// the cluster's to [default: the first nameserver of /etc/resolv.conf]
    #[arg(long, value_name = "IP[:PORT]", value_parser = resolver)]
    pub dns: Option<std::net::SocketAddr>,
    /// Log level: error, warn, info, debug or trace
    #[arg(long, default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,
}

/// `--dns`: an IP address, port 53 unless given.
fn resolver(text: &str) -> Result<std::net::SocketAddr, String> {
    addr::with_default_port(text, 53).ok_or_else(|| format!("expected an IP address or IP:PORT, got {text:?}"))
}

/// A duration flag in whole milliseconds (at least 1 ms).
fn parse_millis(text: &str) -> Result<u64, String> {
    let ns = crate::duration::parse(text)?;
    let ms = (ns / 1_000_000) as u64;
    if ms == 0 {
        return Err(format!("expected at least 1ms, got {text:?}"));
    }
    Ok(ms)
}

/// The log filter for `--log-level`: openraft's warnings only (it warns
/// of every unreachable peer), and below trace, no frame-by-frame logs of
/// the TLS and HTTP/2 libraries.
fn log_filter(level: &str) -> String {
    let quiet = if level == "trace" { "" } else { ",h2=info,rustls=info,hyper=info,tower=info,tonic=info" };
    format!("{level},openraft=warn{quiet}")
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(args: DaemonArgs) -> Result<()> {
    if args.raft_heartbeat * 2 > args.raft_election_timeout {
        anyhow::bail!(
            "--raft-heartbeat: expected at most half of --raft-election-timeout ({}ms), got {}ms",
            args.raft_election_timeout,
            args.raft_heartbeat
        );
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(log_filter(&args.log_level)))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(main(args))
}

/// The daemon's shared state.
pub struct Daemon {
    data_dir: PathBuf,
    hostname: String,
    /// `--label`s: this node's engine labels.
    engine_labels: HashMap<String, String>,
    /// `--data-path on`.
    data_path: bool,
    /// `--dns`.
    dns: Option<std::net::SocketAddr>,
    /// Where the endpoint listens, and the address it advertises by default.
    listen: Mutex<Listen>,
    /// Raft timing of this node's manager.
    timing: RaftTiming,
    /// The endpoint listener, bound at start, served once in a cluster.
    listener: Mutex<Option<TcpListener>>,
    membership: Mutex<Option<Membership>>,
    /// What the membership runs, to stop it on `node leave`.
    member: Mutex<Option<Member>>,
    /// Serialises init, join and leave.
    changing: tokio::sync::Mutex<()>,
    /// Restarts of a raft that stopped on its own.
    restarts: supervise::Restarts,
    manager: watch::Sender<Option<Manager>>,
    stop: CancellationToken,
}

/// Where the node endpoint listens (bound again after `node leave`).
#[derive(Clone)]
struct Listen {
    addr: SocketAddr,
    /// Default advertise address.
    advertise: String,
}

/// The running parts of a membership.
struct Member {
    stop: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
    endpoint: tokio::task::JoinHandle<()>,
}

async fn main(args: DaemonArgs) -> Result<()> {
    private::data_dir(&args.data_dir)?;
    let _lock = lock(&args.data_dir)?;
    recover::resume(&args.data_dir)?;
    let membership = state::load(&args.data_dir)?;
    // A member listens where it did (`--listen-addr` of init or join); one
    // from before that was recorded keeps the port it advertised.
    let mut listen_addr = args.listen_addr;
    if let Some(recorded) = membership.as_ref().and_then(|m| m.listen_addr.as_deref()?.parse().ok()) {
        listen_addr = recorded;
    } else if let Some(port) = membership.as_ref().and_then(|m| m.addr.parse::<SocketAddr>().ok()).map(|a| a.port())
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
        engine_labels: args.labels.iter().cloned().collect(),
        data_path: args.data_path == "on",
        dns: args.dns,
        listen: Mutex::new(Listen { addr: local, advertise }),
        timing: RaftTiming {
            heartbeat_ms: args.raft_heartbeat,
            election_timeout_min_ms: args.raft_election_timeout,
            election_timeout_max_ms: args.raft_election_timeout * 2,
        },
        listener: Mutex::new(Some(listener)),
        membership: Mutex::new(None),
        member: Mutex::new(None),
        changing: tokio::sync::Mutex::new(()),
        restarts: supervise::Restarts::default(),
        manager,
        stop: CancellationToken::new(),
    });

    let socket = args.socket.clone().unwrap_or_else(|| args.data_dir.join("shoal.sock"));
    let unix = private::socket(&socket).context("--socket")?;
    // No `node init` may slip in while the node rejoins its cluster.
    let rejoining = daemon.changing.lock().await;
    let local_api = tonic::transport::Server::builder()
        .add_service(NodeAdminServer::new(admin::Admin::new(daemon.clone())))
        .add_service(ControlServer::new(
            ControlService::new(move || manager_rx.borrow().as_ref().map(Manager::control))
                .with_runs(Arc::new(runs::Runs::new(daemon.clone()))),
        ))
        .serve_with_incoming_shutdown(UnixListenerStream::new(unix), daemon.stop.clone().cancelled_owned());
    let local_api = tokio::spawn(local_api);

    if let Some(membership) = membership {
        info!(node = %membership.node_id, cluster = %membership.cluster_id, "rejoining the cluster");
        let credentials = certs::load(&certs::node_dir(&daemon.data_dir))?;
        daemon.start_member(membership, None, credentials).await?;
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
    async fn start_member(
        self: &Arc<Self>,
        membership: Membership,
        manager: Option<Manager>,
        credentials: Credentials,
    ) -> Result<()> {
        let mut membership = membership;
        let manager = match manager {
            Some(m) => Some(m),
            None if membership.manager => {
                let config = self.manager_config(&membership, credentials.clone(), RaftState::Existing);
                match Manager::start(config).await {
                    Ok(m) => Some(m),
                    Err(ManagerError::Raft(e)) if matches!(*e, StartError::Lost(_)) => {
                        self.lost_raft_state(&mut membership, &e)?;
                        None
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None => None,
        };
        expiry::at_start(manager.as_ref(), &credentials, &certs::node_dir(&self.data_dir)).await;
        let stop = self.stop.child_token();
        if let Some(m) = &manager {
            self.manager.send_replace(Some(m.clone()));
            let (m, stop) = (m.clone(), stop.clone());
            tokio::spawn(self.clone().supervise_raft(m.clone(), stop.clone()));
            tokio::spawn(async move { m.run(stop).await });
        }
        let role = if membership.manager { NodeRole::Manager } else { NodeRole::Worker };
        let (wanted, wanted_rx) = watch::channel(Wanted {
            role,
            recorded: role,
            managers: membership.managers.clone(),
            manager_ids: Vec::new(),
        });
        // A manager's worker also knows its own manager.
        let mut managers = membership.managers.clone();
        if membership.manager && !managers.contains(&membership.addr) {
            managers.push(membership.addr.clone());
        }
        let worker = Worker::new(WorkerConfig {
            node_id: membership.node_id.clone(),
            managers,
            dir: self.data_dir.join("worker"),
            addr: membership.addr.clone(),
            hostname: self.hostname.clone(),
            engine_labels: self.engine_labels.clone(),
            shim: shoal_worker::shim::binary().context("finding the task shim")?,
            credentials: credentials.clone(),
            wanted: Arc::new(wanted),
            network: self.network(&membership.addr, &stop)?,
        });
        tokio::spawn(self.clone().follow_role(wanted_rx.clone(), stop.clone()));
        tokio::spawn(self.clone().renew_certificates(credentials.clone(), wanted_rx, stop.clone()));
        let listener = self.listener.lock().take().context("the node endpoint is already served")?;
        let router = transport::server()
            .add_service(worker.logs_service())
            .add_optional_service(manager.as_ref().map(|m| m.raft_service()))
            .add_optional_service(manager.as_ref().map(|m| m.dispatcher_service()))
            .add_optional_service(manager.as_ref().map(|m| m.ca_service()))
            .add_optional_service(manager.as_ref().map(|m| m.membership_service()))
            .add_optional_service(manager.as_ref().map(|m| m.control_service()));
        let endpoint = transport::serve(router, listener, credentials.server_config()?, stop.clone().cancelled_owned());
        let endpoint = tokio::spawn(async move {
            if let Err(err) = endpoint.await {
                tracing::error!(%err, "the node endpoint stopped");
            }
        });
        let worker = tokio::spawn(worker.run(stop.clone()));
        *self.member.lock() = Some(Member { stop, worker, endpoint });
        *self.membership.lock() = Some(membership);
        Ok(())
    }

    /// Stops what the membership runs (the manager, the endpoint, the
    /// worker's agent; tasks keep running), returns once the raft database
    /// has closed, and frees the endpoint's port for the next membership.
    async fn stop_member(&self) -> Result<()> {
        let member = self.member.lock().take();
        if let Some(member) = member {
            member.stop.cancel();
            let _ = member.worker.await;
            // Open connections drain; the port is free already.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), member.endpoint).await;
        }
        if let Some(manager) = self.manager.send_replace(None) {
            manager.shutdown().await;
            // Nothing may move or remove the raft folder while RocksDB can
            // still write into it (it writes by path as it closes).
            let closed = manager.closed();
            drop(manager);
            if !closed.wait(shoal_manager::recover::CLOSE_TIMEOUT).await {
                anyhow::bail!("the raft database did not close: restart the daemon");
            }
        }
        if self.listener.lock().is_some() {
            return Ok(()); // nothing was serving
        }
        // The old server drops its listener as its accept task ends.
        let started = std::time::Instant::now();
        let addr = self.listen.lock().addr;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && started.elapsed().as_secs() < 5 => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("listening on {addr} again")),
            }
        };
        *self.listener.lock() = Some(listener);
        Ok(())
    }

    /// The node's data path, at the address it advertises (`None` with
    /// `--data-path off`).
    fn network(
        &self,
        advertised: &str,
        stop: &CancellationToken,
    ) -> Result<Option<Arc<dyn shoal_worker::network::Network>>> {
        if !self.data_path {
            return Ok(None);
        }
        let Some(std::net::IpAddr::V4(local)) = shoal_proto::parse_ip(advertised) else {
            anyhow::bail!(
                "the data path needs an IPv4 advertise address, got {advertised:?} (or run with --data-path off)"
            );
        };
        let network = network::NodeNetwork::start(local, self.dns, stop.clone()).context("starting the data path")?;
        Ok(Some(network))
    }

    fn manager_config(
        &self,
        membership: &Membership,
        credentials: Credentials,
        raft_state: RaftState,
    ) -> ManagerConfig {
        ManagerConfig {
            node_id: membership.node_id.clone(),
            raft_id: membership.raft_id,
            addr: membership.addr.clone(),
            raft_dir: self.data_dir.join("raft"),
            raft_state,
            timing: self.timing.clone(),
            credentials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolver_is_an_ip_with_port_53_unless_given() {
        assert_eq!(resolver("10.1.2.3"), Ok("10.1.2.3:53".parse().unwrap()));
        assert_eq!(resolver("10.1.2.3:5353"), Ok("10.1.2.3:5353".parse().unwrap()));
        assert_eq!(resolver("::1"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(resolver("dns.example"), Err("expected an IP address or IP:PORT, got \"dns.example\"".into()));
    }
}
