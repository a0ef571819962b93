//! `node init --force-new-cluster` on a manager whose cluster lost its
//! majority: the manager restarts as the only manager of a cluster made
//! from its own state (see `shoal_manager::recover`), with a certificate
//! issued anew. Crash-safe: `kill -9` at any point leaves the old state or
//! the new one, never a mix.
//!
//! 1. The manager's state is taken, the member stopped, and its raft
//!    database closed: nothing moves while RocksDB may still write into
//!    the folder.
//! 2. The new raft state is built in `raft.new/`, the new certificate
//!    (with the admin bundle) in `certificates.new/`.
//! 3. `force-new-cluster.json` is written: the point of no return. A
//!    restart before it finds the old state (and drops the half-built
//!    folders), after it the new one.
//! 4. `raft/` becomes `raft.old/` and `raft.new/` becomes `raft/`, the
//!    same for the certificates; `node.json` lists this manager alone;
//!    the marker goes. A daemon that starts with the marker there
//!    finishes this step first ([`resume`]).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shoal_manager::raft::RaftState;
use shoal_manager::recover;
use shoal_proto::InitResponse;
use shoal_proto::transport::Credentials;
use tonic::Status;
use tracing::info;

use crate::admin::{internal, worker_token};
use crate::daemon::Daemon;
use crate::membership::{self, Membership};
use crate::state::State;
use crate::{Causes, Context, NodeError, Result, certs, files};

/// The point of no return, holding the membership to record.
const MARKER: &str = "force-new-cluster.json";
/// The folders a recovery replaces.
const SWAPPED: [&str; 2] = ["raft", "certificates"];

#[derive(Serialize, Deserialize)]
struct Marker {
    membership: Membership,
}

/// Test hook: `SHOAL_TEST_CRASH_AT=STEP` kills the daemon at that step of
/// a recovery, as a power cut would (no cleanup runs), so that tests can
/// check that every step leaves the old state or the new one.
fn crash_point(step: &str) {
    if std::env::var("SHOAL_TEST_CRASH_AT").is_ok_and(|s| s == step) {
        std::process::abort();
    }
}

fn staged(data_dir: &Path, name: &str) -> std::path::PathBuf {
    data_dir.join(format!("{name}.new"))
}

/// At daemon start: finishes a recovery that passed its point of no
/// return, or drops what one that did not left behind.
pub(crate) fn resume(data_dir: &Path) -> Result<()> {
    let marker = data_dir.join(MARKER);
    match std::fs::read(&marker) {
        Ok(bytes) => {
            let Marker { membership } = serde_json::from_slice(&bytes)
                .map_err(|e| NodeError::Corrupt(format!("reading {}: {e}", marker.display())))?;
            info!("finishing an interrupted --force-new-cluster");
            finish(data_dir, &membership)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            for name in SWAPPED {
                let dir = staged(data_dir, name);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
                }
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", marker.display())),
    }
}

/// Step 4: puts the staged folders in place and records the membership.
fn finish(data_dir: &Path, membership: &Membership) -> Result<()> {
    for name in SWAPPED {
        let (current, new, old) = (data_dir.join(name), staged(data_dir, name), data_dir.join(format!("{name}.old")));
        if !new.exists() {
            continue; // moved already
        }
        if current.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
            }
            std::fs::rename(&current, &old).with_context(|| format!("keeping {} aside", current.display()))?;
            crash_point(&format!("{name}-kept"));
        }
        std::fs::rename(&new, &current).with_context(|| format!("moving {} into place", new.display()))?;
        sync_dir(data_dir)?;
    }
    crash_point("swapped");
    membership::save(data_dir, membership)?;
    std::fs::remove_file(data_dir.join(MARKER)).context("removing the recovery marker")?;
    sync_dir(data_dir)
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

impl Daemon {
    pub(crate) async fn force_new_cluster(self: &Arc<Self>) -> std::result::Result<InitResponse, Status> {
        let membership = self.state();
        let old = self.manager.borrow().clone();
        let (State::Running(mut membership), Some(old)) = (membership, old) else {
            return Err(Status::failed_precondition(
                "--force-new-cluster: this node is not a manager of a cluster (run it on a surviving manager)",
            ));
        };
        let survivor = recover::survivor(old.raft(), old.store(), old.keys(), old.node_id())
            .map_err(|e| internal("reading this manager's state", e))?;
        drop(old);
        // Returns once the raft database is closed (nothing moves before).
        self.stop_member().await.map_err(|e| internal("stopping the node (nothing was changed)", e))?;
        if let Err(err) = self.stage(&membership, &survivor).await {
            // Nothing was moved: the old membership runs again.
            let _ = resume(&self.data_dir);
            let restarted = match certs::load(&certs::node_dir(&self.data_dir)) {
                Ok(credentials) => self.start_member(membership, None, credentials).await,
                Err(e) => Err(e),
            };
            if let Err(e) = restarted {
                tracing::error!("restarting the old membership after a failed --force-new-cluster: {}", Causes(&e));
            }
            return Err(internal("building the new cluster (nothing was changed)", err));
        }
        crash_point("staged");
        membership.managers = vec![membership.addr.clone()];
        let marker = serde_json::to_vec_pretty(&Marker { membership: membership.clone() })
            .map_err(|e| internal("the recovery marker", e))?;
        files::write(&self.data_dir.join(MARKER), &marker, 0o600)
            .map_err(|e| internal("writing the recovery marker", e))?;
        crash_point("committed");
        finish(&self.data_dir, &membership).map_err(|e| internal("moving the new cluster into place", e))?;
        let credentials = certs::load(&certs::node_dir(&self.data_dir))
            .map_err(|e| internal("loading this node's certificate", e))?;
        self.start_member(membership.clone(), None, credentials).await.map_err(|e| internal("starting the node", e))?;
        let manager = self.manager.borrow().clone().ok_or_else(|| Status::internal("the new manager did not start"))?;
        info!(node = %membership.node_id, "forced a new cluster from this manager's state");
        Ok(InitResponse {
            node_id: membership.node_id,
            cluster_id: membership.cluster_id,
            worker_token: worker_token(&manager),
            addr: membership.addr,
            unlock_key: String::new(),
        })
    }

    /// Step 2: the new raft state and certificates, in their staging folders.
    async fn stage(&self, membership: &Membership, survivor: &recover::Survivor) -> Result<()> {
        resume(&self.data_dir)?; // drops what an earlier attempt left
        let node_dir = certs::node_dir(&self.data_dir);
        let current = certs::load(&node_dir)?;
        let issued = &survivor.certificate;
        let renewed = Credentials::new(current.ca(), issued.cert.clone(), issued.key.clone())?;
        let new_certs = staged(&self.data_dir, "certificates");
        certs::save_credentials(&new_certs, &renewed)?;
        let admin = certs::admin_dir(&self.data_dir);
        if admin.exists() {
            let to = new_certs.join("admin");
            std::fs::create_dir_all(&to)?;
            for file in std::fs::read_dir(&admin)? {
                let file = file?;
                std::fs::copy(file.path(), to.join(file.file_name()))?;
            }
        }
        let config = shoal_manager::ManagerConfig {
            raft_dir: staged(&self.data_dir, "raft"),
            ..self.manager_config(membership, renewed, RaftState::New)?
        };
        recover::build(config, survivor).await?;
        Ok(())
    }
}
