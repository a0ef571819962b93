//! A service's spec history: every change appends a record (the version
//! after the last one), closes the record before it with how its rollout
//! ended, and drops the oldest beyond the cluster's limit.

use shoal_proto::{Cluster, Service, SpecRecord};

/// Specs kept per service unless the cluster says otherwise.
pub const DEFAULT_SPEC_HISTORY_LIMIT: u64 = 10;

/// The cluster's spec history limit (0: the default).
pub fn limit(cluster: Option<&Cluster>) -> u64 {
    let orchestration = cluster.and_then(|c| c.spec.as_ref()).and_then(|s| s.orchestration.as_ref());
    orchestration.map_or(0, |o| o.spec_history_limit)
}

/// Records the service's current spec (just written) as a new version
/// made by `cause` at `now`, keeping at most `limit` records.
pub fn record(service: &mut Service, cause: &str, now: i64, limit: u64) {
    let outcome = service.update_status.clone();
    if let Some(last) = service.history.last_mut()
        && last.outcome.is_none()
    {
        last.outcome = outcome;
    }
    let version = service.history.last().map_or(1, |r| r.version + 1);
    service.history.push(SpecRecord {
        version,
        created_at: now,
        spec: service.spec.clone(),
        outcome: None,
        cause: cause.to_string(),
    });
    let limit = if limit == 0 { DEFAULT_SPEC_HISTORY_LIMIT } else { limit } as usize;
    let extra = service.history.len().saturating_sub(limit);
    service.history.drain(..extra);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_proto::{Annotations, ServiceSpec, UpdateState, UpdateStatus};

    fn named(name: &str) -> Option<ServiceSpec> {
        Some(ServiceSpec {
            annotations: Some(Annotations { name: name.into(), ..Default::default() }),
            ..Default::default()
        })
    }

    #[test]
    fn versions_count_up_close_the_last_and_keep_the_limit() {
        let mut s = Service { spec: named("v1"), ..Default::default() };
        record(&mut s, "create", 1, 3);
        for (i, name) in ["v2", "v3", "v4"].iter().enumerate() {
            s.update_status = Some(UpdateStatus { state: UpdateState::Completed as i32, ..Default::default() });
            s.spec = named(name);
            record(&mut s, "update", 2 + i as i64, 3);
        }
        let versions: Vec<u64> = s.history.iter().map(|r| r.version).collect();
        assert_eq!(versions, vec![2, 3, 4]);
        assert_eq!(s.history[2].spec, named("v4"));
        assert!(s.history[2].outcome.is_none(), "the current spec's rollout is still open");
        assert_eq!(s.history[1].outcome.as_ref().unwrap().state(), UpdateState::Completed);
    }
}
