//! `shoal daemon --metrics-addr`: the node's metrics in Prometheus' text
//! format (OpenMetrics) at `/metrics`, over plain HTTP on the address
//! given (opt-in; Docker's own metrics use port 9323). The manager's
//! gauges are read from its store and raft at each scrape.

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use shoal_manager::Manager;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Every metric this process has.
static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut registry = Registry::default();
    shoal_manager::metrics::register(&mut registry);
    shoal_worker::metrics::register(&mut registry);
    shoal_ingress::metrics::register(&mut registry);
    registry
});

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The text a scrape gets, with the manager's gauges as they are now.
pub fn scrape(manager: Option<&Manager>) -> String {
    if let Some(m) = manager {
        shoal_manager::metrics::sample(m.raft(), m.store(), m.sessions());
    }
    let mut text = String::new();
    // Writing into a String does not fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &REGISTRY);
    text
}

/// Listens on `addr` (a bad one is the caller's error at once) and
/// serves `/metrics` until `stop`.
pub async fn serve(
    addr: SocketAddr,
    manager: watch::Receiver<Option<Manager>>,
    stop: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let manager = manager.borrow().clone();
            async move { ([(CONTENT_TYPE, OPENMETRICS)], scrape(manager.as_ref())).into_response() }
        }),
    );
    Ok(crate::http::spawn(listener, app, stop))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_crates_metrics_are_exposed() {
        shoal_worker::metrics::METRICS.moved(None, Some(shoal_proto::TaskState::Running));
        let text = super::scrape(None);
        for name in [
            "shoal_raft_proposal_duration_seconds_bucket",
            "shoal_scheduler_decisions_total",
            "shoal_worker_tasks{state=\"running\"} 1",
            "shoal_mesh_published_ports 0",
        ] {
            assert!(text.contains(name), "{name} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
