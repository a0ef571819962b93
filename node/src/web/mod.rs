//! `shoal daemon --web-addr`: a read-only web page showing the cluster
//! live, served by managers (the swarm visualizer's layout: nodes as
//! columns, their tasks as cards coloured by state; the services with
//! their replicas and rollout; tasks waiting for a node and why; recent
//! events). The page, its script and style are built into the binary and
//! fetch nothing from elsewhere; it reads `/api/state` and reads it again
//! whenever `/api/events` (server-sent events from the event history)
//! says the cluster changed.
//!
//! On a loopback address it is plain HTTP for whoever can reach the
//! address (as the control socket is for root); on any other, HTTPS for
//! admin certificates only ([`crate::tls`]).

mod live;
mod state;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shoal_manager::Manager;
use shoal_manager::control::Handles;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

#[derive(Clone)]
struct Web {
    manager: watch::Receiver<Option<Manager>>,
    stop: CancellationToken,
}

impl Web {
    /// This node's manager's handles, while it is one.
    fn handles(&self) -> Option<Handles> {
        self.manager.borrow().as_ref().map(Manager::control)
    }
}

/// The answer while this node is no manager.
fn not_a_manager() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "this node is not a manager: the web view is served by managers\n")
        .into_response()
}

/// Listens on `addr` (a bad one is the caller's error at once) and
/// serves the web view until `stop`.
pub async fn serve(
    addr: SocketAddr,
    manager: watch::Receiver<Option<Manager>>,
    stop: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    let web = Web { manager: manager.clone(), stop: stop.clone() };
    let app = router(web, addr.ip().is_loopback());
    Ok(if addr.ip().is_loopback() {
        crate::http::spawn(listener, app, stop)
    } else {
        crate::http::spawn(crate::tls::AdminListener::new(listener, manager, "the web view")?, app, stop)
    })
}

fn router(web: Web, loopback: bool) -> Router {
    let app = Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", PAGE)))
        .route("/app.js", get(|| asset("text/javascript; charset=utf-8", SCRIPT)))
        .route("/style.css", get(|| asset("text/css; charset=utf-8", STYLE)))
        .route("/api/state", get(cluster_state))
        .route("/api/events", get(events))
        .with_state(web);
    if loopback { app.layer(middleware::from_fn(local_names_only)) } else { app }
}

async fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut response = ([(CONTENT_TYPE, kind)], body).into_response();
    let headers = response.headers_mut();
    // The page runs its own script and style, nothing else.
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn cluster_state(State(web): State<Web>) -> Response {
    let Some(h) = web.handles() else { return not_a_manager() };
    // Reading the store is brief, but not for the async runtime's threads.
    let read = tokio::task::spawn_blocking(move || serde_json::to_string(&state::read(&h))).await;
    match read {
        Ok(Ok(json)) => ([(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-store")], json).into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "reading the cluster's state failed\n").into_response(),
    }
}

/// `?after=N` of a URI.
fn after(uri: &Uri) -> Option<u64> {
    uri.query()?.split('&').find_map(|pair| pair.strip_prefix("after=")?.parse().ok())
}

async fn events(State(web): State<Web>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(h) = web.handles() else { return not_a_manager() };
    // A browser that reconnects says where it was.
    let resumed = headers.get("last-event-id").and_then(|v| v.to_str().ok()?.parse().ok());
    let after = resumed.or(after(&uri)).unwrap_or_else(|| *h.store.history().watch().borrow());
    live::stream(h.store, after, web.stop).into_response()
}

/// On loopback, only requests naming the host by a loopback address or
/// `localhost`: a web page elsewhere cannot reach the view through a name
/// of its own that resolves to 127.0.0.1 (DNS rebinding).
async fn local_names_only(request: Request, next: Next) -> Response {
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if is_local_name(host) {
        next.run(request).await
    } else {
        (StatusCode::MISDIRECTED_REQUEST, format!("host {host:?}: the web view answers to loopback names only\n"))
            .into_response()
    }
}

fn is_local_name(host: &str) -> bool {
    // `[::1]:8080`, `127.0.0.1:8080`, `localhost`.
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names() {
        for host in ["127.0.0.1:9000", "127.0.0.9", "localhost:80", "LOCALHOST", "[::1]:9000"] {
            assert!(is_local_name(host), "{host}");
        }
        for host in ["", "evil.example:9000", "10.0.0.1:9000", "127.0.0.1.nip.io", "[fe80::1]:1"] {
            assert!(!is_local_name(host), "{host}");
        }
    }

    #[test]
    fn after_in_query() {
        assert_eq!(after(&"/api/events?after=12".parse().unwrap()), Some(12));
        assert_eq!(after(&"/api/events?x=1&after=3".parse().unwrap()), Some(3));
        assert_eq!(after(&"/api/events?after=x".parse().unwrap()), None);
        assert_eq!(after(&"/api/events".parse().unwrap()), None);
    }

    #[test]
    fn assets_refer_to_each_other() {
        assert!(PAGE.contains("/app.js") && PAGE.contains("/style.css"));
        // No script or style from elsewhere, none inline (the CSP forbids it).
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://") && !PAGE.contains("<script>"));
        for path in ["/api/state", "/api/events"] {
            assert!(SCRIPT.contains(path), "{path}");
        }
    }
}
