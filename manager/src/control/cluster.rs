//! `shoal cluster update`: the cluster's settings.

use std::time::Duration;

use shoal_proto::{Cluster, UnlockKeyResponse, UpdateClusterRequest};

use super::InvalidSpec;
use super::{ControlError, Result};
use crate::ca::MIN_CERT_EXPIRY;
use crate::keys::{DataKey, Keyring, unlock_key_text};
use crate::proposer::Proposer;

/// Shortest heartbeat period accepted: below it, a loaded machine would
/// miss heartbeats and nodes would flap Down.
pub const MIN_HEARTBEAT_PERIOD: Duration = Duration::from_millis(100);

pub async fn update(
    store: &crate::store::Store,
    proposer: &Proposer,
    keys: &Keyring,
    req: UpdateClusterRequest,
) -> Result<Cluster> {
    if req.heartbeat_period_ns < 0
        || (req.heartbeat_period_ns > 0 && req.heartbeat_period_ns < MIN_HEARTBEAT_PERIOD.as_nanos() as i64)
    {
        return Err(InvalidSpec(format!(
            "--dispatcher-heartbeat: expected at least {MIN_HEARTBEAT_PERIOD:?}, got {:?}",
            Duration::from_nanos(req.heartbeat_period_ns.max(0) as u64)
        ))
        .into());
    }
    if req.cert_expiry_ns < 0 || (req.cert_expiry_ns > 0 && req.cert_expiry_ns < MIN_CERT_EXPIRY.as_nanos() as i64) {
        return Err(InvalidSpec(format!("--cert-expiry: expected at least {MIN_CERT_EXPIRY:?}")).into());
    }
    if !req.default_runtime.is_empty() {
        shoal_spec::runtime::check(&req.default_runtime, "--default-runtime")?;
    }
    let (autolock_now, cluster_id) =
        store.view(|s| s.cluster().map_or((false, String::new()), |c| (autolocked(c), c.id.clone())));
    let autolock = req.autolock.unwrap_or(autolock_now);
    if req.rotate_unlock_key && !autolock {
        return Err(ControlError::Refused(
            "--rotate: autolock is off, there is no unlock key (turn it on: shoal cluster update --autolock=true)"
                .into(),
        ));
    }
    // A new key when autolock is turned on, or rotated.
    let sealed = match (autolock && !autolock_now) || req.rotate_unlock_key {
        true => Some(keys.seal_unlock_key(&cluster_id, &DataKey::generate()?)?),
        false => None,
    };
    let cluster = proposer
        .update_cluster(|cluster| {
            let spec = cluster.spec.get_or_insert_with(Default::default);
            if req.heartbeat_period_ns > 0 {
                spec.dispatcher.get_or_insert_with(Default::default).heartbeat_period_ns = req.heartbeat_period_ns;
            }
            if let Some(limit) = req.task_history_limit {
                spec.orchestration.get_or_insert_with(Default::default).task_history_retention_limit = limit;
            }
            if let Some(limit) = req.spec_history_limit {
                spec.orchestration.get_or_insert_with(Default::default).spec_history_limit = limit;
            }
            if req.cert_expiry_ns > 0 {
                spec.ca.get_or_insert_with(Default::default).node_cert_expiry_ns = req.cert_expiry_ns;
            }
            if !req.default_runtime.is_empty() {
                spec.default_runtime = req.default_runtime.clone();
            }
            spec.autolock_managers = autolock;
            if !autolock {
                cluster.unlock_key = None;
            } else if sealed.is_some() {
                cluster.unlock_key = sealed.clone();
            }
        })
        .await?;
    Ok(without_secrets(cluster))
}

/// The cluster as clients see it: no CA key nor unlock key, not even sealed.
pub fn without_secrets(mut cluster: Cluster) -> Cluster {
    if let Some(root) = cluster.root_ca.as_mut() {
        root.key.clear();
        root.sealed_key = None;
    }
    cluster.unlock_key = None;
    cluster
}

/// Whether `cluster` autolocks its managers.
pub fn autolocked(cluster: &Cluster) -> bool {
    cluster.spec.as_ref().is_some_and(|s| s.autolock_managers)
}

/// The unlock key (`cluster unlock-key`): empty when autolock is off.
pub fn unlock_key(store: &crate::store::Store, keys: &Keyring) -> Result<UnlockKeyResponse> {
    let sealed = store.view(|s| s.cluster().and_then(|c| Some((c.id.clone(), c.unlock_key.clone()?))));
    let Some((id, sealed)) = sealed else { return Ok(UnlockKeyResponse::default()) };
    Ok(UnlockKeyResponse { key: unlock_key_text(&keys.open_unlock_key(&id, &sealed)?) })
}
