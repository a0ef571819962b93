//! The manager's Prometheus metrics: counters and histograms its loops
//! update as they work (raft proposals, scheduling passes, missed
//! heartbeats, leadership changes, restarts), and gauges read from the store and
//! raft when scraped ([`sample`]). Names follow Prometheus' conventions
//! (`shoal_…`, base units, counters exposed with `_total`).

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shoal_proto::TaskState;

use crate::raft::Raft;
use crate::store::{Store, kind_name};

/// Labels of a family: (name, value) pairs.
type Labels = Vec<(&'static str, String)>;

/// Every metric of the manager; one per process.
pub struct Metrics {
    pub proposal_seconds: Histogram,
    pub entry_ops: Histogram,
    pub entry_bytes: Histogram,
    pub leader_changes: Counter,
    pub scheduler_pass_seconds: Histogram,
    pub scheduler_decisions: Counter,
    pub heartbeats_missed: Counter,
    pub orchestrator_restarts: Counter,
    pub assignment_fanout_seconds: Histogram,
    term: Gauge,
    is_leader: Gauge,
    last_log_index: Gauge,
    applied_index: Gauge,
    apply_lag: Gauge,
    objects: Family<Labels, Gauge>,
    tasks: Family<Labels, Gauge>,
    pending_tasks: Family<Labels, Gauge>,
    sessions: Gauge,
}

/// The metrics this process updates.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    proposal_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
    entry_ops: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
    entry_bytes: Histogram::new(exponential_buckets(64.0, 4.0, 12)),
    leader_changes: Counter::default(),
    scheduler_pass_seconds: Histogram::new(exponential_buckets(0.00005, 2.0, 16)),
    scheduler_decisions: Counter::default(),
    heartbeats_missed: Counter::default(),
    orchestrator_restarts: Counter::default(),
    assignment_fanout_seconds: Histogram::new(exponential_buckets(0.00005, 2.0, 16)),
    term: Gauge::default(),
    is_leader: Gauge::default(),
    last_log_index: Gauge::default(),
    applied_index: Gauge::default(),
    apply_lag: Gauge::default(),
    objects: Family::default(),
    tasks: Family::default(),
    pending_tasks: Family::default(),
    sessions: Gauge::default(),
});

/// Why pending tasks wait, as the `reason` label of
/// `shoal_scheduler_pending_tasks` says it (a few fixed values).
const PENDING_REASONS: [&str; 4] = ["unscheduled", "no_suitable_node", "dependencies", "other"];

/// The reason label of a pending task, from what the scheduler wrote.
fn pending_reason(err: &str) -> &'static str {
    if err.is_empty() {
        "unscheduled"
    } else if err.starts_with("no suitable node") {
        "no_suitable_node"
    } else if err.starts_with("waiting for") {
        "dependencies"
    } else {
        "other"
    }
}

/// Adds the manager's metrics to `registry`.
pub fn register(registry: &mut Registry) {
    let m = &*METRICS;
    registry.register(
        "shoal_raft_proposal_duration_seconds",
        "Time for raft to commit and apply one entry",
        m.proposal_seconds.clone(),
    );
    registry.register("shoal_raft_entry_ops", "Store operations per raft entry (group commit)", m.entry_ops.clone());
    registry.register("shoal_raft_entry_bytes", "Bytes per raft entry", m.entry_bytes.clone());
    registry.register(
        "shoal_raft_leader_changes",
        "Times this manager saw the leader change",
        m.leader_changes.clone(),
    );
    registry.register("shoal_raft_term", "Current raft term", m.term.clone());
    registry.register("shoal_raft_leader", "1 if this manager leads", m.is_leader.clone());
    registry.register(
        "shoal_raft_last_log_index",
        "Index of the last entry in this manager's log",
        m.last_log_index.clone(),
    );
    registry.register(
        "shoal_raft_applied_index",
        "Index of the last entry applied to the store",
        m.applied_index.clone(),
    );
    registry.register("shoal_raft_apply_lag_entries", "Entries logged but not yet applied", m.apply_lag.clone());
    registry.register("shoal_store_objects", "Objects in the store, by kind", m.objects.clone());
    registry.register("shoal_tasks", "Tasks in the store, by service and state", m.tasks.clone());
    registry.register(
        "shoal_scheduler_pending_tasks",
        "Tasks waiting for a node, by reason (unscheduled: not looked at yet)",
        m.pending_tasks.clone(),
    );
    registry.register(
        "shoal_orchestrator_restarts",
        "Tasks the orchestrator started again after theirs failed (restart policy)",
        m.orchestrator_restarts.clone(),
    );
    registry.register(
        "shoal_scheduler_pass_duration_seconds",
        "Time one scheduling pass takes to decide",
        m.scheduler_pass_seconds.clone(),
    );
    registry.register(
        "shoal_scheduler_decisions",
        "Tasks the scheduler assigned to a node",
        m.scheduler_decisions.clone(),
    );
    registry.register("shoal_dispatcher_sessions", "Worker sessions this manager serves", m.sessions.clone());
    registry.register(
        "shoal_dispatcher_assignment_fanout_duration_seconds",
        "From a change applied to the store to its assignment message sent to a worker's session",
        m.assignment_fanout_seconds.clone(),
    );
    registry.register(
        "shoal_dispatcher_heartbeats_missed",
        "Nodes marked down for a missed heartbeat",
        m.heartbeats_missed.clone(),
    );
}

/// Sets the gauges from a manager's raft, store and worker `sessions`,
/// before a scrape.
pub fn sample(raft: &Raft, store: &Store, sessions: usize) {
    let m = &*METRICS;
    {
        let raft = raft.metrics();
        let raft = raft.borrow();
        let last_log = raft.last_log_index.unwrap_or(0);
        let applied = raft.last_applied.map_or(0, |l| l.index);
        m.term.set(raft.current_term as i64);
        m.is_leader.set(i64::from(raft.current_leader == Some(raft.id)));
        m.last_log_index.set(last_log as i64);
        m.applied_index.set(applied as i64);
        m.apply_lag.set(last_log.saturating_sub(applied) as i64);
    }
    m.sessions.set(sessions as i64);
    m.objects.clear();
    m.tasks.clear();
    store.view(|s| {
        for (kind, count) in s.counts() {
            m.objects.get_or_create(&vec![("kind", kind_name(kind).to_string())]).set(count as i64);
        }
        for reason in PENDING_REASONS {
            m.pending_tasks.get_or_create(&vec![("reason", reason.to_string())]).set(0);
        }
        for task in s.tasks() {
            let state = task.state();
            if state == TaskState::Pending {
                let err = task.status.as_ref().map_or("", |st| st.err.as_str());
                m.pending_tasks.get_or_create(&vec![("reason", pending_reason(err).to_string())]).inc();
            }
            let labels = vec![("service", task.service_name.clone()), ("state", state.name().to_string())];
            m.tasks.get_or_create(&labels).inc();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_reasons_are_a_few_fixed_values() {
        assert_eq!(pending_reason(""), "unscheduled");
        assert_eq!(
            pending_reason("no suitable node (scheduling constraints not satisfied on 2 nodes)"),
            "no_suitable_node"
        );
        assert_eq!(pending_reason("waiting for db (service_started): 0/1 running"), "dependencies");
        assert_eq!(pending_reason("no address left on network back"), "other");
        assert!(
            ["unscheduled", "no_suitable_node", "dependencies", "other"].iter().all(|r| PENDING_REASONS.contains(r))
        );
    }
}
