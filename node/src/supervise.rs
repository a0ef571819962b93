//! A manager whose raft stopped on its own (a storage error such as a
//! full disk, or a panic inside raft) must not go on claiming what it
//! was: its raft service answers "unavailable" (the other managers count
//! it out and elect among themselves), its writes are refused with the
//! cause, and this module restarts the membership on the same raft state
//! once the cause is gone. Nothing acknowledged is lost: a write is
//! acknowledged only once its entry is synced, and the database reopens
//! at what it synced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_manager::Manager;
use shoal_manager::raft::RaftState;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::daemon::Daemon;
use crate::{Causes, certs};

/// How often the manager's raft is looked at.
const POLL: Duration = Duration::from_millis(200);
/// First pause before a restart; it doubles while restarts keep failing
/// or the restarted raft stops again within [`STABLE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A raft that ran this long after its restart counts as healthy.
const STABLE: Duration = Duration::from_secs(60);

/// When the raft was last restarted, and the pause taken before.
#[derive(Default)]
pub(crate) struct Restarts(parking_lot::Mutex<Option<(Instant, Duration)>>);

impl Restarts {
    /// The pause before the next restart.
    fn next_pause(&self) -> Duration {
        let mut last = self.0.lock();
        let pause = match *last {
            Some((at, pause)) if at.elapsed() < STABLE => (pause * 2).min(MAX_PAUSE),
            _ => FIRST_PAUSE,
        };
        *last = Some((Instant::now() + pause, pause));
        pause
    }
}

impl Daemon {
    /// Watches `manager`'s raft until `stop`; restarts it if it stops on
    /// its own. Until the new raft runs, the stopped one stays in place,
    /// so that the node says why it takes no writes.
    pub(crate) async fn supervise_raft(self: Arc<Self>, manager: Manager, stop: CancellationToken) {
        let cause = loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
            if let Some(cause) = manager.quorum().stopped() {
                break cause;
            }
        };
        error!(
            "this manager's raft stopped ({cause}): it takes no writes and answers no raft calls until it has \
             restarted, which it does once the cause is gone"
        );
        // The stopped core has let go of the database (or lets go soon).
        let closed = manager.closed();
        drop(manager);
        if !closed.wait(shoal_manager::recover::CLOSE_TIMEOUT).await {
            warn!("the raft database is still open: trying to reopen it anyway");
        }
        loop {
            let pause = self.restarts.next_pause();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            let Some(membership) = self.membership() else { return };
            let reopened = match certs::load(&certs::node_dir(&self.data_dir)) {
                Ok(credentials) => match self.manager_config(&membership, credentials.clone(), RaftState::Existing) {
                    Ok(config) => {
                        Manager::start(config).await.map(|m| (m, credentials)).map_err(crate::NodeError::from)
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            let (manager, credentials) = match reopened {
                Ok(reopened) => reopened,
                Err(err) => {
                    warn!("reopening this manager's raft (will retry): {}", Causes(&err));
                    continue;
                }
            };
            let _changing = self.changing.lock().await;
            if stop.is_cancelled() {
                manager.shutdown().await; // the membership changed meanwhile
                return;
            }
            let restarted = match self.stop_member().await {
                Ok(()) => self.restart_member(membership, Some(manager), credentials).await,
                Err(e) => Err(e),
            };
            match restarted {
                Ok(()) => info!("this manager's raft runs again"),
                Err(err) => error!("restarting the node after its raft stopped: {}", Causes(&err)),
            }
            return;
        }
    }
}
