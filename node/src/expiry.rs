//! A node down longer than its certificate's lifetime comes back with an
//! expired certificate, which every manager refuses. A manager issues
//! itself a new one from the cluster's CA in its own store (every manager
//! holds the CA's key, as the raft state it replicates), if that store
//! still wants it as a manager: so a whole cluster stopped past expiry
//! comes back by itself. A worker cannot: it says so in its log, and
//! re-joins with a join token, keeping its identity (`node join` on it).

use std::time::Duration;

use shoal_manager::Manager;
use shoal_manager::ca;
use shoal_manager::standing::{self, Rights};
use shoal_proto::transport::{Credentials, Role};
use tracing::{error, info, warn};

use crate::{Causes, NodeError, Result, certs};

/// How long a restarted manager waits for its store to hold the cluster.
const STORE_WAIT: Duration = Duration::from_secs(30);

/// What the node's log says of an expired certificate.
pub(crate) fn explain(creds: &Credentials) {
    let until = creds.validity().map(|(_, until)| humantime::format_rfc3339_seconds(until).to_string());
    error!(
        "this node's certificate expired at {}: the managers refuse it. Bring the node back keeping its identity: \
         on it, run shoal node join --token <join token> <manager address> (see docs/operations.md, \"When \
         things go wrong\")",
        until.unwrap_or_default()
    );
}

/// At a member's start: an expired certificate is issued anew (on a
/// manager), or explained (on a worker, or if that failed).
pub(crate) async fn at_start(manager: Option<&Manager>, creds: &Credentials, dir: &std::path::Path) {
    if !certs::expired(creds) {
        return;
    }
    let renewed = match manager {
        Some(m) => reissue_own(m, creds, dir).await,
        None => Err(NodeError::Refused("a worker cannot renew an expired certificate".into())),
    };
    if let Err(err) = renewed {
        warn!("{}", Causes(&err));
        explain(creds);
    }
}

/// Issues `creds` anew (same node, manager role, the cluster's lifetime)
/// from the CA in `manager`'s store, saves them in `dir` and makes every
/// connection use them from now on.
async fn reissue_own(manager: &Manager, creds: &Credentials, dir: &std::path::Path) -> Result<()> {
    let started = std::time::Instant::now();
    while manager.store().view(|s| s.cluster().is_none()) {
        if started.elapsed() > STORE_WAIT {
            return Err(NodeError::Refused("this manager's store holds no cluster to issue a certificate from".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let identity = creds.identity();
    let (root, cluster_id, lifetime) = manager.store().view(|s| {
        standing::check(s, &identity, Rights::Manager).map_err(NodeError::Refused)?;
        let cluster = s.cluster().ok_or_else(|| NodeError::Refused("no cluster".into()))?;
        Ok::<_, NodeError>((
            ca::root_ca(cluster, manager.keys()).map_err(NodeError::Refused)?,
            cluster.id.clone(),
            ca::node_cert_lifetime(cluster),
        ))
    })?;
    let issued = root.issue(&identity.node_id, Role::Manager, &cluster_id, lifetime)?;
    let renewed = Credentials::new(creds.ca(), issued.cert, issued.key)?;
    certs::save_credentials(dir, &renewed)?;
    creds.replace(&renewed)?;
    let until = renewed.validity().map(|(_, until)| humantime::format_rfc3339_seconds(until).to_string());
    info!(
        valid_until = until.unwrap_or_default(),
        "this manager's certificate had expired: it issued itself a new one"
    );
    Ok(())
}
