//! `shoal cluster update`: the cluster's settings.

use std::time::Duration;

use shoal_proto::{Cluster, UpdateClusterRequest};

use super::InvalidSpec;
use super::Result;
use crate::ca::MIN_CERT_EXPIRY;
use crate::proposer::Proposer;

/// Shortest heartbeat period accepted: below it, a loaded machine would
/// miss heartbeats and nodes would flap Down.
pub const MIN_HEARTBEAT_PERIOD: Duration = Duration::from_millis(100);

pub async fn update(proposer: &Proposer, req: UpdateClusterRequest) -> Result<Cluster> {
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
        })
        .await?;
    Ok(without_secrets(cluster))
}

/// The cluster as clients see it: no CA key.
pub fn without_secrets(mut cluster: Cluster) -> Cluster {
    if let Some(root) = cluster.root_ca.as_mut() {
        root.key.clear();
    }
    cluster
}
