//! A node changes its own role when the cluster asks (`node promote`,
//! `node demote`): it renews its certificate for the new role, stops what
//! it runs (its tasks keep running and are re-adopted), and starts again
//! as a manager (a new raft member, which the leader adds) or as a worker
//! (its raft state deleted).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use shoal_manager::Manager;
use shoal_manager::ca::request;
use shoal_manager::raft::RaftState;
use shoal_proto::membership_client::MembershipClient;
use shoal_proto::node_ca_client::NodeCaClient;
use shoal_proto::transport::{self, Credentials, MANAGER_NAME, Role};
use shoal_proto::{AddManagerRequest, NodeRole, RenewCertificateRequest};
use shoal_worker::Wanted;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::state::{self, Membership};
use super::{Daemon, certs};

/// How long a node keeps asking the managers to add it to raft.
const ADD_MANAGER_TIMEOUT: Duration = Duration::from_secs(60);

impl Daemon {
    /// Follows what the cluster wants of this node until `stop`, changing
    /// role when asked.
    pub(super) async fn follow_role(self: Arc<Self>, mut wanted: watch::Receiver<Wanted>, stop: CancellationToken) {
        loop {
            let want = wanted.borrow_and_update().clone();
            self.remember_managers(&want.managers);
            let manager = self.membership.lock().as_ref().map(|m| m.manager);
            if manager.is_some_and(|m| m != (want.role == NodeRole::Manager)) {
                match self.change_role(&want).await {
                    Ok(true) => return, // the new membership follows its own role
                    Ok(false) => {}     // not yet: wait for the next change
                    Err(err) => {
                        warn!("changing role (will retry): {err:#}");
                        // Once the old membership is stopped, only this task
                        // can bring the node back: it retries until the
                        // daemon stops.
                        let stopped_here = self.member.lock().is_none();
                        let stop = if stopped_here { self.stop.clone() } else { stop.clone() };
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        }
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = wanted.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Records a changed manager list, so that a restarted node finds the
    /// managers of now, not those of when it joined.
    fn remember_managers(&self, managers: &[String]) {
        let mut membership = self.membership.lock();
        let Some(m) = membership.as_mut() else { return };
        if managers.is_empty() || m.managers == managers {
            return;
        }
        m.managers = managers.to_vec();
        if let Err(err) = state::save(&self.data_dir, m) {
            warn!("saving the manager list: {err:#}");
        }
    }

    /// Changes role if the cluster is ready for it; whether it did.
    async fn change_role(self: &Arc<Self>, want: &Wanted) -> Result<bool> {
        let _changing = self.changing.lock().await;
        let Some(mut membership) = self.membership.lock().clone() else { return Ok(false) };
        let manager = want.role == NodeRole::Manager;
        if membership.manager == manager {
            return Ok(false);
        }
        let role = if manager { Role::Manager } else { Role::Worker };
        if manager && want.recorded == NodeRole::Manager {
            // Recorded as a raft member this node no longer runs: it lost
            // its raft state (see `lost`), and waits to be demoted first.
            warn!(
                "the cluster lists this node as a manager whose raft state is lost: demote it, then promote it again"
            );
            return Ok(false);
        }
        if !manager && want.recorded != NodeRole::Worker {
            // Keep the raft member until the leader has removed it, so the
            // other managers keep their quorum through the change.
            info!("demoted: waiting for the leader to remove this manager from raft");
            return Ok(false);
        }
        let current = certs::load(&certs::node_dir(&self.data_dir))?;
        let managers = others_first(&want.managers, &membership.addr);
        let renewed = renew(&current, &managers, role).await?;
        info!(role = role.name(), "the cluster changed this node's role: restarting in it");
        self.stop_member().await?;
        let raft_dir = self.data_dir.join("raft");
        if !manager && raft_dir.exists() {
            std::fs::remove_dir_all(&raft_dir).with_context(|| format!("removing {}", raft_dir.display()))?;
        }
        certs::save_credentials(&certs::node_dir(&self.data_dir), &renewed)?;
        membership.manager = manager;
        membership.raft_id = if manager { state::new_raft_id() } else { 0 };
        membership.managers = want.managers.clone();
        state::save(&self.data_dir, &membership)?;
        if manager {
            let m = Manager::start(self.manager_config(&membership, renewed.clone(), RaftState::New)).await?;
            self.restart_member(membership.clone(), Some(m), renewed.clone()).await?;
            add_manager(&renewed, &managers, &membership).await?;
        } else {
            self.restart_member(membership, None, renewed).await?;
        }
        Ok(true)
    }
}

impl Daemon {
    /// `start_member`, boxed: the membership it starts follows its role
    /// with this module, and a future cannot contain itself.
    pub(super) fn restart_member(
        self: &Arc<Self>,
        membership: Membership,
        manager: Option<Manager>,
        credentials: Credentials,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> {
        Box::pin(self.start_member(membership, manager, credentials))
    }
}

/// The managers, this node's own endpoint last (its store may lag).
pub(super) fn others_first(managers: &[String], own: &str) -> Vec<String> {
    let mut list: Vec<String> = managers.iter().filter(|m| *m != own).cloned().collect();
    list.extend(managers.iter().filter(|m| *m == own).cloned());
    list
}

/// A certificate for `role` from the first manager that issues one.
pub(super) async fn renew(current: &Credentials, managers: &[String], role: Role) -> Result<Credentials> {
    let (csr, key) = request()?;
    let mut last = String::from("no manager to ask");
    for addr in managers {
        let channel = transport::channel(addr, current, MANAGER_NAME)?;
        match NodeCaClient::new(channel).renew_certificate(RenewCertificateRequest { csr: csr.clone() }).await {
            Ok(issued) => {
                let issued = issued.into_inner();
                let creds = Credentials::new(issued.ca_cert, issued.cert, key.clone())?;
                if creds.identity().role == role {
                    return Ok(creds);
                }
                last = format!("{addr} has not recorded the new role yet");
            }
            Err(status) => last = format!("{addr}: {}", status.message()),
        }
    }
    bail!("renewing the certificate for the {} role: {last}", role.name())
}

/// Asks the managers to add this node to raft, until one does.
pub(super) async fn add_manager(creds: &Credentials, managers: &[String], membership: &Membership) -> Result<()> {
    let request = AddManagerRequest {
        raft_id: membership.raft_id,
        addr: membership.addr.clone(),
        node_id: membership.node_id.clone(),
    };
    let started = Instant::now();
    loop {
        let mut last = String::from("no manager to ask");
        for addr in managers.iter().filter(|m| **m != membership.addr) {
            let channel = transport::channel(addr, creds, MANAGER_NAME)?;
            match MembershipClient::new(channel).add_manager(request.clone()).await {
                Ok(_) => return Ok(()),
                Err(status) => last = format!("{addr}: {}", status.message()),
            }
        }
        if started.elapsed() > ADD_MANAGER_TIMEOUT {
            bail!("joining raft failed: {last}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
