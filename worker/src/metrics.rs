//! The worker's Prometheus metrics: its tasks by state, how long a task
//! takes from being prepared to running, and health probe results.

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shoal_proto::TaskState;

type Labels = Vec<(&'static str, &'static str)>;

/// Every metric of the worker; one per process.
pub struct Metrics {
    tasks: Family<Labels, Gauge>,
    pub start_seconds: Histogram,
    probes: Family<Labels, Counter>,
}

/// The metrics this process updates.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    tasks: Family::default(),
    start_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
    probes: Family::default(),
});

impl Metrics {
    /// A task of this node moved from `old` (none: new here) to `new`
    /// (none: forgotten).
    pub fn moved(&self, old: Option<TaskState>, new: Option<TaskState>) {
        if let Some(old) = old {
            self.tasks.get_or_create(&vec![("state", old.name())]).dec();
        }
        if let Some(new) = new {
            self.tasks.get_or_create(&vec![("state", new.name())]).inc();
        }
    }

    /// A health probe of the worker's gave `ok`.
    pub fn probed(&self, ok: bool) {
        self.probes.get_or_create(&vec![("result", if ok { "healthy" } else { "unhealthy" })]).inc();
    }
}

/// Adds the worker's metrics to `registry`.
pub fn register(registry: &mut Registry) {
    let m = &*METRICS;
    registry.register("shoal_worker_tasks", "Tasks on this node, by state", m.tasks.clone());
    registry.register(
        "shoal_worker_task_start_duration_seconds",
        "Time from preparing a task (pulling its image...) to its running",
        m.start_seconds.clone(),
    );
    registry.register("shoal_worker_health_probes", "Health probes the worker ran, by result", m.probes.clone());
}
