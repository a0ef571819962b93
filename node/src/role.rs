//! A node changes its own role when the cluster asks (`node promote`,
//! `node demote`): it renews its certificate for the new role, stops what
//! it runs (its tasks keep running and are re-adopted), and starts again
//! as a manager (a new raft member, which the leader adds) or as a worker
//! (its raft state deleted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_manager::Manager;
use shoal_manager::ca::request;
use shoal_manager::raft::RaftState;
use shoal_proto::membership_client::MembershipClient;
use shoal_proto::node_ca_client::NodeCaClient;
use shoal_proto::transport::{self, Credentials, MANAGER_NAME, Role};
use shoal_proto::{AddManagerRequest, RenewCertificateRequest};
use shoal_worker::Wanted;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::daemon::Daemon;
use crate::membership::{self, Membership};
use crate::state::{Request, Step, Waiting};
use crate::{Causes, Context, NodeError, Result, certs};

/// How long a node keeps asking the managers to add it to raft.
const ADD_MANAGER_TIMEOUT: Duration = Duration::from_secs(60);

impl Daemon {
    /// Follows what the cluster wants of this node until `stop`, changing
    /// role when asked.
    pub(crate) async fn follow_role(self: Arc<Self>, mut wanted: watch::Receiver<Wanted>, stop: CancellationToken) {
        loop {
            let want = wanted.borrow_and_update().clone();
            self.remember_managers(&want.managers);
            match self.change_role(&want).await {
                Ok(true) => return, // the new membership follows its own role
                Ok(false) => {}     // nothing to do, or not yet: wait for the next change
                Err(err) => {
                    warn!("changing role (will retry): {}", Causes(&err));
                    // Once the old membership is stopped, only this task
                    // can bring the node back: it retries until the
                    // daemon stops.
                    let stop = if self.state().is_running() { stop.clone() } else { self.stop.clone() };
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = wanted.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Changes role if the cluster wants it and is ready for it; whether
    /// it did.
    async fn change_role(self: &Arc<Self>, want: &Wanted) -> Result<bool> {
        let request = Request::Role { wanted: want.role, recorded: want.recorded };
        if self.decide(request) == Ok(Step::Nothing) {
            return Ok(false);
        }
        let _changing = self.changing.lock().await;
        let (mut membership, manager) = match self.decide(request) {
            Ok(Step::ChangeRole { membership, manager }) => (membership, manager),
            Ok(Step::Wait(Waiting::LostRaftMember)) => {
                warn!(
                    "the cluster lists this node as a manager whose raft state is lost: demote it, then promote it again"
                );
                return Ok(false);
            }
            Ok(Step::Wait(Waiting::RaftRemoval)) => {
                info!("demoted: waiting for the leader to remove this manager from raft");
                return Ok(false);
            }
            _ => return Ok(false),
        };
        let role = if manager { Role::Manager } else { Role::Worker };
        let current = certs::load(&certs::node_dir(&self.data_dir))?;
        let managers = others_first(&want.managers, &membership.addr);
        let renewed = renew(&current, &managers, role).await?;
        info!(role = role.name(), "the cluster changed this node's role: restarting in it");
        self.stop_member().await?;
        let raft_dir = self.data_dir.join("raft");
        if !manager && raft_dir.exists() {
            std::fs::remove_dir_all(&raft_dir).with_context(|| format!("removing {}", raft_dir.display()))?;
        }
        if !manager {
            // A worker keeps no cluster key, and its own in the clear.
            crate::datakey::remove(&self.data_dir)?;
            certs::set_lock(&certs::node_dir(&self.data_dir), None);
            *self.unlock_key.lock() = None;
        }
        certs::save_credentials(&certs::node_dir(&self.data_dir), &renewed)?;
        membership.manager = manager;
        membership.raft_id = if manager { membership::new_raft_id() } else { 0 };
        membership.managers = want.managers.clone();
        membership::save(&self.data_dir, &membership)?;
        if manager {
            let m = Manager::start(self.manager_config(&membership, renewed.clone(), RaftState::New)?).await?;
            let keys = m.keys().clone();
            self.restart_member(membership.clone(), Some(m), renewed.clone()).await?;
            let lock = self.unlock_key.lock().clone();
            add_manager(&renewed, &managers, &membership, &self.data_dir, &keys, lock.as_ref()).await?;
        } else {
            self.restart_member(membership, None, renewed).await?;
        }
        Ok(true)
    }
}

/// The managers, this node's own endpoint last (its store may lag).
pub(crate) fn others_first(managers: &[String], own: &str) -> Vec<String> {
    let mut list: Vec<String> = managers.iter().filter(|m| *m != own).cloned().collect();
    list.extend(managers.iter().filter(|m| *m == own).cloned());
    list
}

/// A certificate for `role` from the first manager that issues one.
pub(crate) async fn renew(current: &Credentials, managers: &[String], role: Role) -> Result<Credentials> {
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
    Err(NodeError::Unavailable(format!("renewing the certificate for the {} role: {last}", role.name())))
}

/// Asks the managers to add this node to raft, until one does; keeps
/// the data key the leader answers with (in `keys`, under `data_dir`).
pub(crate) async fn add_manager(
    creds: &Credentials,
    managers: &[String],
    membership: &Membership,
    data_dir: &std::path::Path,
    keys: &shoal_manager::keys::Keyring,
    lock: Option<&shoal_manager::keys::DataKey>,
) -> Result<()> {
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
                Ok(added) => return crate::datakey::receive(data_dir, keys, &added.into_inner().data_key, lock),
                Err(status) => last = format!("{addr}: {}", status.message()),
            }
        }
        if started.elapsed() > ADD_MANAGER_TIMEOUT {
            return Err(NodeError::Unavailable(format!("joining raft failed: {last}")));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
