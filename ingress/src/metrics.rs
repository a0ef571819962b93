//! The routing mesh's Prometheus metrics: how often the node's table is
//! rewritten, how long that takes, and how many published ports and
//! backends it holds.

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// Every metric of the mesh; one per process.
pub struct Metrics {
    pub reloads: Family<Labels, Counter>,
    pub reload_seconds: Histogram,
    pub ports: Gauge,
    pub backends: Gauge,
}

/// The metrics this process updates.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    reloads: Family::default(),
    reload_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
    ports: Gauge::default(),
    backends: Gauge::default(),
});

/// Adds the mesh's metrics to `registry`.
pub fn register(registry: &mut Registry) {
    let m = &*METRICS;
    registry.register("shoal_mesh_reloads", "Rewrites of the node's mesh table, by result", m.reloads.clone());
    registry.register(
        "shoal_mesh_reload_duration_seconds",
        "Time to rewrite the node's mesh table",
        m.reload_seconds.clone(),
    );
    registry.register("shoal_mesh_published_ports", "Ports the routing mesh publishes on this node", m.ports.clone());
    registry.register("shoal_mesh_backends", "Tasks behind the published ports", m.backends.clone());
}
