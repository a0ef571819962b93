//! What a membership runs (the manager if one, the node endpoint, the
//! worker and the loops that follow the cluster), started and stopped
//! as one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use shoal_manager::raft::{RaftState, StartError};
use shoal_manager::{Manager, ManagerConfig, ManagerError};
use shoal_proto::transport::{self, Credentials};
use shoal_worker::{Wanted, Worker, WorkerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::daemon::Daemon;
use crate::membership::Membership;
use crate::{Context, NodeError, Result, certs, expiry, network};

/// The running parts of a membership.
pub(crate) struct Member {
    stop: CancellationToken,
    worker: tokio::task::JoinHandle<()>,
    endpoint: tokio::task::JoinHandle<()>,
}

impl Member {
    /// Tells everything the membership runs to stop.
    pub(crate) fn cancel(&self) {
        self.stop.cancel();
    }
}

impl Daemon {
    /// Starts what a cluster member runs: the manager (if one), the node
    /// endpoint and the worker.
    pub(crate) async fn start_member(
        self: &Arc<Self>,
        membership: Membership,
        manager: Option<Manager>,
        credentials: Credentials,
    ) -> Result<()> {
        let mut membership = membership;
        let manager = match manager {
            Some(m) => Some(m),
            None if membership.manager => {
                let config = self.manager_config(&membership, credentials.clone(), RaftState::Existing)?;
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
        // A start that fails half-way stops what it started already.
        let stopping = self.stop.child_token().drop_guard();
        let stop = stopping.token().clone();
        if let Some(m) = &manager {
            self.manager.send_replace(Some(m.clone()));
            let (m, stop) = (m.clone(), stop.clone());
            tokio::spawn(self.clone().supervise_raft(m.clone(), stop.clone()));
            tokio::spawn(self.clone().follow_autolock(m.clone(), stop.clone()));
            tokio::spawn(async move { m.run(stop).await });
        }
        let role = membership.role();
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
            docker: self.docker.clone(),
        });
        tokio::spawn(self.clone().follow_role(wanted_rx.clone(), stop.clone()));
        tokio::spawn(self.clone().renew_certificates(credentials.clone(), wanted_rx, stop.clone()));
        let listener = self
            .listener
            .lock()
            .take()
            .ok_or_else(|| NodeError::Refused("the node endpoint is already served".into()))?;
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
        self.started(membership, Member { stop: stopping.disarm(), worker, endpoint })
    }

    /// `start_member`, boxed: the membership it starts follows its role
    /// with `role`, which restarts it, and a future cannot contain itself.
    pub(crate) fn restart_member(
        self: &Arc<Self>,
        membership: Membership,
        manager: Option<Manager>,
        credentials: Credentials,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        Box::pin(self.start_member(membership, manager, credentials))
    }

    /// Stops what the membership runs (the manager, the endpoint, the
    /// worker's agent; tasks keep running), returns once the raft database
    /// has closed, and frees the endpoint's port for the next membership.
    pub(crate) async fn stop_member(&self) -> Result<()> {
        if let Some(member) = self.stopped()? {
            member.cancel();
            let _ = member.worker.await;
            // Open connections drain; the port is free already.
            let _ = tokio::time::timeout(Duration::from_secs(5), member.endpoint).await;
        }
        if let Some(manager) = self.manager.send_replace(None) {
            manager.shutdown().await;
            // Nothing may move or remove the raft folder while RocksDB can
            // still write into it (it writes by path as it closes).
            let closed = manager.closed();
            drop(manager);
            if !closed.wait(shoal_manager::recover::CLOSE_TIMEOUT).await {
                return Err(NodeError::Refused("the raft database did not close: restart the daemon".into()));
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
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("listening on {addr} again")),
            }
        };
        *self.listener.lock() = Some(listener);
        Ok(())
    }

    /// The node's data path, at the address it advertises (`None` when
    /// tasks run in the node's own network).
    fn network(
        &self,
        advertised: &str,
        stop: &CancellationToken,
    ) -> Result<Option<Arc<dyn shoal_worker::network::Network>>> {
        if !self.data_path {
            return Ok(None);
        }
        let Some(std::net::IpAddr::V4(local)) = shoal_proto::parse_ip(advertised) else {
            return Err(NodeError::Refused(format!(
                "the data path needs an IPv4 advertise address, got {advertised:?} (or run with --data-path off)"
            )));
        };
        let network = network::NodeNetwork::start(local, self.dns, stop.clone()).context("starting the data path")?;
        Ok(Some(network))
    }

    pub(crate) fn manager_config(
        &self,
        membership: &Membership,
        credentials: Credentials,
        raft_state: RaftState,
    ) -> crate::Result<ManagerConfig> {
        Ok(ManagerConfig {
            node_id: membership.node_id.clone(),
            raft_id: membership.raft_id,
            addr: membership.addr.clone(),
            raft_dir: self.data_dir.join("raft"),
            raft_state,
            timing: self.timing.clone(),
            events: self.events,
            credentials,
            keys: crate::datakey::keyring(&self.data_dir, self.unlock_key.lock().as_ref())?,
        })
    }
}
