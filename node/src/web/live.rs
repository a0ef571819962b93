//! The page's live feed: the manager's events as server-sent events, each
//! with its number as id, from the one after a given number (the page's
//! snapshot, or the browser's `Last-Event-ID` when it reconnects). The
//! page reads the state again when one comes.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use shoal_manager::store::Store;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::state::EventView;

type Tx = mpsc::Sender<Result<Event, Infallible>>;

/// The events numbered after `after`, then each as it is applied, until
/// the client goes or the daemon stops.
pub fn stream(store: Store, after: u64, stop: CancellationToken) -> impl IntoResponse {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(send(store, after, tx, stop));
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn send(store: Store, mut last: u64, tx: Tx, stop: CancellationToken) {
    let log = store.history();
    let mut newest = log.watch();
    loop {
        for (number, event) in log.after(last) {
            last = number;
            let view = EventView::new(number, event);
            let Ok(data) = serde_json::to_string(&view) else { continue };
            if tx.send(Ok(Event::default().event("cluster").id(number.to_string()).data(data))).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tx.closed() => return,
            changed = newest.changed() => if changed.is_err() { return },
        }
    }
}
