//! The node's small HTTP servers (`/metrics`, the web view): an axum
//! router on a listener until the daemon stops (open connections drain).

use std::fmt::Debug;

use axum::Router;
use axum::serve::Listener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Serves `app` on `listener` until `stop`.
pub fn spawn<L>(listener: L, app: Router, stop: CancellationToken) -> JoinHandle<()>
where
    L: Listener,
    L::Addr: Debug,
{
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
    })
}
