//! The daemon: one per node and data dir.
//!
//! A fresh daemon is standalone: it serves only its local unix socket
//! (mode 0600). `node init` makes it the first manager of a cluster; from
//! then on it serves the node endpoint (raft, dispatcher, task logs) on
//! its listen address and runs its worker, and a restart on the same data
//! dir brings all of it back by itself.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use shoal_manager::Manager;
use shoal_manager::control::ControlService;
use shoal_manager::raft::RaftTiming;
use shoal_proto::control_server::ControlServer;
use shoal_proto::node_admin_server::NodeAdminServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::member::Member;
use crate::state::State;
use crate::{
    Context, NodeConfig, NodeError, Result, addr, admin, certs, datakey, http, membership, metrics, private, recover,
    runs, supervise, tls, web,
};
use shoal_manager::keys::DataKey;

/// The daemon's shared state.
pub struct Daemon {
    pub(crate) data_dir: PathBuf,
    pub(crate) hostname: String,
    /// This node's engine labels.
    pub(crate) engine_labels: HashMap<String, String>,
    /// Whether tasks get the overlay data path.
    pub(crate) data_path: bool,
    /// The resolver for names not the cluster's.
    pub(crate) dns: Option<SocketAddr>,
    /// The Docker Engine's socket.
    pub(crate) docker: Option<PathBuf>,
    /// Where the endpoint listens, and the address it advertises by default.
    pub(crate) listen: Mutex<Listen>,
    /// Raft timing of this node's manager.
    pub(crate) timing: RaftTiming,
    /// How much event history its manager keeps.
    pub(crate) events: shoal_manager::store::events::Limits,
    /// The endpoint listener, bound at start, served once in a cluster.
    pub(crate) listener: Mutex<Option<TcpListener>>,
    /// What the node is, and what its membership runs.
    lifecycle: Mutex<Lifecycle>,
    /// Serialises the lifecycle's changes: init, join, leave, role
    /// changes, raft restarts, certificate replacement.
    pub(crate) changing: tokio::sync::Mutex<()>,
    /// Restarts of a raft that stopped on its own.
    pub(crate) restarts: supervise::Restarts,
    /// This node's manager while it runs one.
    pub(crate) manager: watch::Sender<Option<Manager>>,
    /// The unlock key this manager's keys are wrapped by (autolock),
    /// held in memory only.
    pub(crate) unlock_key: Mutex<Option<DataKey>>,
    /// Restarted autolocked: waits for `node unlock`, serving nothing.
    pub(crate) locked: std::sync::atomic::AtomicBool,
    /// Cancelled when the daemon stops.
    pub(crate) stop: CancellationToken,
}

/// The node's state (see [`State`]), changed only along its edges, and
/// what the running membership runs: there exactly while the state is
/// [`State::Running`] (both change under one lock).
#[derive(Default)]
struct Lifecycle {
    state: State,
    member: Option<Member>,
}

/// Where the node endpoint listens (bound again after `node leave`).
#[derive(Clone)]
pub(crate) struct Listen {
    pub(crate) addr: SocketAddr,
    /// Default advertise address.
    pub(crate) advertise: String,
}

/// Runs the node on `config` until `shutdown` completes (first polled
/// once the node is up).
pub async fn serve(config: NodeConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    private::data_dir(&config.data_dir)?;
    let _lock = lock(&config.data_dir)?;
    recover::resume(&config.data_dir)?;
    let membership = membership::load(&config.data_dir)?;
    // A member listens where it did (`--listen-addr` of init or join); one
    // from before that was recorded keeps the port it advertised.
    let mut listen_addr = config.listen_addr;
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
    let hostname = match config.hostname {
        Some(h) => h,
        None => nix::unistd::gethostname().map_err(std::io::Error::from)?.to_string_lossy().into_owned(),
    };
    let advertise = match &config.advertise_addr {
        Some(a) => {
            addr::parse_advertise(a, local.port()).map_err(|e| NodeError::Refused(format!("--advertise-addr: {e}")))?
        }
        None => addr::default_advertise(local),
    };
    let (manager, manager_rx) = watch::channel(None);
    let daemon = Arc::new(Daemon {
        data_dir: config.data_dir.clone(),
        hostname,
        engine_labels: config.engine_labels,
        data_path: config.data_path,
        dns: config.dns,
        docker: config.docker,
        listen: Mutex::new(Listen { addr: local, advertise }),
        timing: config.timing,
        events: config.events,
        listener: Mutex::new(Some(listener)),
        lifecycle: Mutex::default(),
        changing: tokio::sync::Mutex::new(()),
        restarts: supervise::Restarts::default(),
        manager,
        unlock_key: Mutex::new(None),
        locked: Default::default(),
        stop: CancellationToken::new(),
    });

    let socket = config.socket;
    let unix = private::socket(&socket).context("--socket")?;
    // No `node init` may slip in while the node rejoins its cluster.
    let rejoining = daemon.changing.lock().await;
    let locked = daemon.clone();
    let local_api = tonic::transport::Server::builder()
        .add_service(NodeAdminServer::new(admin::Admin::new(daemon.clone())))
        .add_service(ControlServer::new(
            ControlService::new(move || manager_rx.borrow().as_ref().map(Manager::control))
                .with_runs(Arc::new(runs::Runs::new(daemon.clone())))
                .with_refusal(move || locked.is_locked().then(|| certs::LOCKED.to_string())),
        ))
        .serve_with_incoming_shutdown(UnixListenerStream::new(unix), daemon.stop.clone().cancelled_owned());
    let local_api = tokio::spawn(local_api);
    let docker_api_backend =
        shoal_dockerapi::server::Backend::local(&socket, env!("CARGO_PKG_VERSION"), daemon.stop.clone())
            .with_engine(daemon.docker.clone());
    let docker_api = match &config.docker_api_socket {
        Some(path) => {
            let listener = private::socket(path).context("--docker-api-socket")?;
            info!(socket = %path.display(), "serving the Docker Engine API");
            let app = shoal_dockerapi::server::router(docker_api_backend.clone());
            Some(http::spawn(listener, app, daemon.stop.clone()))
        }
        None => None,
    };
    let (manager, stop) = (&daemon.manager, &daemon.stop);
    let docker_api_tcp =
        http_endpoint(config.docker_api_addr, "--docker-api-addr", "the Docker Engine API", |addr| async move {
            let listener =
                tls::AdminListener::new(TcpListener::bind(addr).await?, manager.subscribe(), "the Docker Engine API")?;
            Ok(http::spawn(listener, shoal_dockerapi::server::router(docker_api_backend), stop.clone()))
        })
        .await?;
    let metrics = http_endpoint(config.metrics_addr, "--metrics-addr", "metrics at /metrics", |addr| {
        metrics::serve(addr, manager.subscribe(), stop.clone())
    })
    .await?;
    let web = http_endpoint(config.web_addr, "--web-addr", "the web view", |addr| {
        web::serve(addr, manager.subscribe(), stop.clone())
    })
    .await?;

    let locked =
        membership.as_ref().is_some_and(|m| m.manager) && datakey::load(&daemon.data_dir)? == datakey::OnDisk::Locked;
    match membership {
        Some(membership) if locked => {
            warn!(node = %membership.node_id, "{}", certs::LOCKED);
            daemon.lock_out(membership);
        }
        Some(membership) => {
            info!(node = %membership.node_id, cluster = %membership.cluster_id, "rejoining the cluster");
            let credentials = certs::load(&certs::node_dir(&daemon.data_dir))?;
            daemon.start_member(membership, None, credentials).await?;
        }
        None => info!("standalone: run \"shoal node init\" to create a cluster"),
    }
    drop(rejoining);
    info!(socket = %socket.display(), endpoint = %local, "daemon ready");

    shutdown.await;
    info!("stopping (tasks keep running)");
    daemon.stop.cancel();
    let manager = daemon.manager.borrow().clone();
    if let Some(manager) = manager {
        manager.shutdown().await;
    }
    let _ = local_api.await;
    for served in [metrics, web, docker_api, docker_api_tcp].into_iter().flatten() {
        let _ = served.await;
    }
    let _ = std::fs::remove_file(&socket);
    if let Some(path) = &config.docker_api_socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Serves one of the node's HTTP endpoints on the address its `flag`
/// gave, if any (an address it cannot listen on fails the start, named).
async fn http_endpoint<F: Future<Output = std::io::Result<tokio::task::JoinHandle<()>>>>(
    addr: Option<SocketAddr>,
    flag: &str,
    what: &str,
    serve: impl FnOnce(SocketAddr) -> F,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(addr) = addr else { return Ok(None) };
    let served = serve(addr).await.with_context(|| format!("{flag}: cannot listen on {addr}"))?;
    info!(%addr, "serving {what}");
    Ok(Some(served))
}

/// One daemon per data dir.
fn lock(data_dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::File::create(data_dir.join("lock"))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| NodeError::Refused(format!("another shoal daemon is using the data dir {}", data_dir.display())))
}

impl Daemon {
    /// What the node is now.
    pub(crate) fn state(&self) -> State {
        self.lifecycle.lock().state.clone()
    }

    /// The membership, running or not.
    pub(crate) fn membership(&self) -> Option<membership::Membership> {
        self.lifecycle.lock().state.membership().cloned()
    }

    /// The node runs `membership` with `member`; if the state has no such
    /// edge, `member` is stopped and the node stays what it was.
    pub(crate) fn started(&self, membership: membership::Membership, member: Member) -> Result<()> {
        let mut lifecycle = self.lifecycle.lock();
        match lifecycle.state.started(membership) {
            Ok(next) => {
                lifecycle.state = next;
                lifecycle.member = Some(member);
                Ok(())
            }
            Err(e) => {
                member.cancel();
                Err(e.into())
            }
        }
    }

    /// The node stops running its membership: the state moves to
    /// [`State::Stopped`], and what ran is handed over to be stopped.
    pub(crate) fn stopped(&self) -> Result<Option<Member>> {
        let mut lifecycle = self.lifecycle.lock();
        lifecycle.state = lifecycle.state.stopped()?;
        Ok(lifecycle.member.take())
    }

    /// Whether the node waits for `node unlock`.
    pub(crate) fn is_locked(&self) -> bool {
        self.locked.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Restarted autolocked: the node keeps its membership but runs
    /// nothing of it until `node unlock`.
    fn lock_out(&self, membership: membership::Membership) {
        self.locked.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut lifecycle = self.lifecycle.lock();
        if let Ok(running) = lifecycle.state.started(membership)
            && let Ok(stopped) = running.stopped()
        {
            lifecycle.state = stopped;
        }
    }

    /// The node left its cluster.
    pub(crate) fn left(&self) -> Result<()> {
        let mut lifecycle = self.lifecycle.lock();
        lifecycle.state = lifecycle.state.left()?;
        Ok(())
    }

    /// Records a changed manager list, so that a restarted node finds the
    /// managers of now, not those of when it joined.
    pub(crate) fn remember_managers(&self, managers: &[String]) {
        let mut lifecycle = self.lifecycle.lock();
        let Some(m) = lifecycle.state.membership_mut() else { return };
        if managers.is_empty() || m.managers == managers {
            return;
        }
        m.managers = managers.to_vec();
        if let Err(err) = membership::save(&self.data_dir, m) {
            tracing::warn!("saving the manager list: {}", crate::Causes(&err));
        }
    }
}
