//! `shoal events`: this manager's kept history from `since`, then each
//! event as it is applied, filtered, until `until` or the client goes.

use std::time::Duration;

use shoal_proto::{Event, EventsRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::store::Store;
use crate::store::events::Filters;

type Tx = mpsc::Sender<Result<Event, Status>>;

/// Checks the filters and starts streaming.
pub fn stream(store: Store, req: EventsRequest) -> Result<ReceiverStream<Result<Event, Status>>, Status> {
    let filters = Filters::new(&req.filters).map_err(|e| Status::invalid_argument(e.to_string()))?;
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(send(store, req, filters, tx));
    Ok(ReceiverStream::new(rx))
}

async fn send(store: Store, req: EventsRequest, filters: Filters, tx: Tx) {
    let log = store.history();
    let mut newest = log.watch();
    let until = req.until.unwrap_or(i64::MAX);
    let (history, mut last) = match req.since {
        Some(since) => log.since(since),
        None => (Vec::new(), *newest.borrow_and_update()),
    };
    let pass = |e: &Event| e.time <= until && filters.matches(e);
    for (_, event) in history.into_iter().filter(|(_, e)| pass(e)) {
        if tx.send(Ok(event)).await.is_err() {
            return;
        }
    }
    // Ends at `until` (already past: once the history is sent).
    let left = Duration::from_nanos(until.saturating_sub(shoal_proto::now_nanos()).max(0) as u64);
    let deadline = tokio::time::sleep(left);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            changed = newest.changed() => if changed.is_err() { return },
        }
        for (number, event) in log.after(last) {
            last = number;
            if pass(&event) && tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
    }
}
