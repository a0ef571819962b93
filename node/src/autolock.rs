//! Autolock on a manager: its data key and TLS key are wrapped by the
//! cluster's unlock key, which is held in memory only. A manager follows
//! the cluster's setting (on, off, a rotated key) by wrapping its keys
//! again; one restarted while autolocked runs nothing until `node
//! unlock` gives it the key (see `daemon::serve`).
//!
//! A rotation leaves a manager that was down meanwhile wrapped by the
//! old key: that key unlocks it, and it wraps its keys by the new one
//! once it runs and reads the cluster.

use std::sync::Arc;
use std::time::Duration;

use shoal_manager::Manager;
use shoal_manager::control::cluster::autolocked;
use shoal_manager::keys::{DataKey, parse_unlock_key};
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{info, warn};

use crate::admin::internal;
use crate::daemon::Daemon;
use crate::{Causes, certs, datakey};

/// How often a manager looks at the cluster's autolock setting.
const POLL: Duration = Duration::from_millis(500);

impl Daemon {
    /// `node unlock`: the key must open this node's data key; then its
    /// TLS key opens too and the membership runs.
    pub(crate) async fn unlock(self: &Arc<Self>, text: &str) -> Result<(), Status> {
        let key = parse_unlock_key(text).map_err(|e| Status::invalid_argument(e.to_string()))?;
        datakey::unlock(&self.data_dir, &key).map_err(|e| Status::permission_denied(e.to_string()))?;
        let membership =
            self.membership().ok_or_else(|| Status::failed_precondition("this node is not part of a cluster"))?;
        let dir = certs::node_dir(&self.data_dir);
        certs::set_lock(&dir, Some(key.clone()));
        *self.unlock_key.lock() = Some(key);
        let credentials = certs::load(&dir).map_err(|e| internal("opening this node's certificate", e))?;
        self.start_member(membership, None, credentials).await.map_err(|e| internal("starting the node", e))?;
        self.locked.store(false, std::sync::atomic::Ordering::SeqCst);
        info!("unlocked: the node runs again");
        Ok(())
    }

    /// Wraps this manager's keys as the cluster's autolock setting says,
    /// whenever it changes, until `stop`.
    pub(crate) async fn follow_autolock(self: Arc<Self>, manager: Manager, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
            let Some(wanted) = wanted(&manager) else { continue };
            let dir = certs::node_dir(&self.data_dir);
            // The files too: a recovery writes new certificates in the clear.
            let on_disk =
                datakey::load(&self.data_dir).is_ok_and(|d| d == datakey::OnDisk::Locked) && certs::sealed(&dir);
            if *self.unlock_key.lock() == wanted && on_disk == wanted.is_some() {
                continue;
            }
            let Ok(data_key) = manager.keys().key() else { continue };
            let _changing = self.changing.lock().await;
            if stop.is_cancelled() {
                return;
            }
            let rewrapped = datakey::save(&self.data_dir, &data_key, wanted.as_ref())
                .and_then(|()| certs::rewrap(&dir, wanted.clone()));
            match rewrapped {
                Ok(()) => {
                    info!(autolock = wanted.is_some(), "this manager's keys are wrapped as the cluster says");
                    *self.unlock_key.lock() = wanted;
                }
                Err(e) => warn!("wrapping this manager's keys for autolock (will retry): {}", Causes(&e)),
            }
        }
    }
}

/// The unlock key the cluster wants this manager's keys wrapped by
/// (`Some(None)`: none); `None` while it cannot tell.
fn wanted(manager: &Manager) -> Option<Option<DataKey>> {
    let (id, on, sealed) =
        manager.store().view(|s| s.cluster().map(|c| (c.id.clone(), autolocked(c), c.unlock_key.clone())))?;
    if !on {
        return Some(None);
    }
    manager.keys().open_unlock_key(&id, &sealed?).ok().map(Some)
}
