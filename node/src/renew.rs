//! Certificate renewal: at a random point between 50% and 80% of its
//! lifetime (so that nodes do not all renew at once), a node asks the
//! managers for a fresh certificate (same node, the role the cluster
//! wants) and takes it at once, without restarting anything: the TLS
//! configurations resolve the certificate per handshake.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use shoal_proto::transport::Credentials;
use shoal_worker::Wanted;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::daemon::Daemon;
use crate::role::{others_first, renew};
use crate::{Causes, certs, expiry};

/// Longest wait before asking again after a failed renewal.
const RETRY: Duration = Duration::from_secs(60);

impl Daemon {
    /// Renews this membership's certificate until `stop`.
    pub(crate) async fn renew_certificates(
        self: Arc<Self>,
        credentials: Credentials,
        wanted: watch::Receiver<Wanted>,
        stop: CancellationToken,
    ) {
        let own = self.membership().map(|m| m.addr).unwrap_or_default();
        let mut failures = 0u32;
        loop {
            let Some((from, until)) = credentials.validity() else { return };
            let lifetime = until.duration_since(from).unwrap_or_default();
            let at = from + lifetime.mul_f64(rand::random_range(0.5..0.8));
            let mut wait = at.duration_since(SystemTime::now()).unwrap_or_default();
            if failures > 0 {
                wait = (lifetime / 20).min(RETRY);
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let managers = others_first(&wanted.borrow().managers, &own);
            let result = match renew(&credentials, &managers, credentials.identity().role).await {
                Ok(renewed) => {
                    let _changing = self.changing.lock().await;
                    if stop.is_cancelled() {
                        return;
                    }
                    certs::save_credentials(&certs::node_dir(&self.data_dir), &renewed)
                        .and_then(|()| Ok(credentials.replace(&renewed)?))
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    failures = 0;
                    let until = credentials.validity().map(|(_, u)| humantime::format_rfc3339_seconds(u).to_string());
                    info!(valid_until = until.unwrap_or_default(), "certificate renewed");
                }
                Err(_) if certs::expired(&credentials) => {
                    failures += 1;
                    expiry::explain(&credentials);
                }
                Err(err) => {
                    failures += 1;
                    warn!("renewing the certificate (will retry): {}", Causes(&err));
                }
            }
        }
    }
}
