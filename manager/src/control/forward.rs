//! Writes on a manager that does not lead go to the leader. During a
//! failover (no leader yet, or the known one refuses connections) a write
//! waits for the next leader, as long as a majority of managers is
//! reachable and at most [`Quorum::failover_wait`](crate::raft::Quorum::failover_wait);
//! without a majority it fails at once. The reply comes once this manager
//! has applied the write, so that the caller reads its own write here.
//!
//! A forwarded write carries a request id, which the leader stamps on its
//! batches and the store remembers once applied. If the leader stops
//! after the write was sent (its answer lost), this manager waits until
//! the next leader's entries reach it: by then every entry of the old
//! leader is applied or lost for good, so the store says whether the
//! write happened. If it did not, it goes to the new leader; if it did,
//! the caller is told so; only when no leader comes in time is the
//! outcome unknown, and the caller is told that, with what to check.

use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use shoal_proto::control_client::ControlClient;
use shoal_proto::transport::MANAGER_NAME;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::{Response, Status};

use super::{Result, reply};
use crate::leadership::Leadership;
use crate::store::Store;

/// Response header: the leader's store index after a write.
const INDEX_HEADER: &str = "x-shoal-index";
/// Request header: the forwarding manager's id for the write.
const REQUEST_HEADER: &str = "x-shoal-request";

/// How long a follower waits to apply a write it forwarded.
const READ_YOUR_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends `req` to the leader with `call` when this manager does not lead
/// and returns the leader's reply; `None` when this manager leads (the
/// caller writes itself).
pub(super) async fn to_leader<Req, Resp, Fut>(
    m: &Leadership,
    store: &Store,
    req: &Req,
    call: impl Fn(ControlClient<Channel>, tonic::Request<Req>) -> Fut,
) -> std::result::Result<Option<Response<Resp>>, Status>
where
    Req: Clone,
    Fut: Future<Output = std::result::Result<Response<Resp>, Status>>,
{
    let deadline = Instant::now() + m.quorum().failover_wait();
    let id = crate::ids::new_id();
    loop {
        let Some((leader, channel)) = leader(m, deadline).await? else { return Ok(None) };
        let term = m.raft().metrics().borrow().current_term;
        let mut request = tonic::Request::new(req.clone());
        if let Ok(value) = id.parse() {
            request.metadata_mut().insert(REQUEST_HEADER, value);
        }
        match call(ControlClient::new(channel), request).await {
            Err(status) if refused(&status) => {
                if Instant::now() >= deadline {
                    return Err(Status::unavailable(format!(
                        "the raft leader does not answer ({status}), and no other has been elected yet: try again"
                    )));
                }
                // The leader is gone and the write was never sent: wait
                // for the next one.
                wait_for_change(m, deadline, |now| now != Some(leader)).await;
            }
            Err(status) if lost(&status) => match outcome(m, store, &id, term).await {
                // Never applied, and never will be: the next leader takes it.
                Some(false) => {}
                Some(true) => {
                    return Err(Status::unavailable(
                        "the write was made, but the raft leader stopped before it answered: \
                         look at the result (e.g. shoal service ls) rather than trying again",
                    ));
                }
                None => {
                    return Err(Status::unavailable(format!(
                        "outcome unknown: the raft leader stopped while making this write ({status}) and no \
                         new leader has caught up yet: check whether it happened (e.g. shoal service ls) \
                         before trying again"
                    )));
                }
            },
            response => return applied_here(m, response).await.map(Some),
        }
    }
}

/// Whether request `id`, sent in raft term `term`, was applied: known
/// once this manager has applied an entry of a later term (every entry of
/// older terms is then applied or lost for good), or has applied the
/// request itself; `None` if that did not come in time.
async fn outcome(m: &Leadership, store: &Store, id: &str, term: u64) -> Option<bool> {
    let mut metrics = m.raft().metrics();
    let settled = metrics.wait_for(|now| {
        store.view(|s| s.applied_request(id)) || now.last_applied.is_some_and(|l| l.leader_id.term > term)
    });
    tokio::time::timeout(OUTCOME_TIMEOUT, settled).await.ok()?.ok()?;
    Some(store.view(|s| s.applied_request(id)))
}

/// How long a manager waits to learn whether a write whose answer was
/// lost happened.
const OUTCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// The id a forwarding manager gave the request, if any.
pub(super) fn request_id<T>(req: &tonic::Request<T>) -> String {
    req.metadata().get(REQUEST_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// The leader's raft id and a channel to it, waiting out an election;
/// `None` when this manager leads.
async fn leader(m: &Leadership, deadline: Instant) -> std::result::Result<Option<(u64, Channel)>, Status> {
    loop {
        match m.quorum().check() {
            Err(no_leader) if no_leader.electing() && Instant::now() < deadline => {
                wait_for_change(m, deadline, |now| now.is_some()).await;
            }
            Err(no_leader) => return Err(Status::unavailable(no_leader.to_string())),
            Ok(()) => return m.leader_channel(MANAGER_NAME),
        }
    }
}

/// Waits until `done` holds for the known leader, raft metrics change
/// after that (a leader may not yet be writable), or `deadline`.
async fn wait_for_change(m: &Leadership, deadline: Instant, done: impl Fn(Option<u64>) -> bool) {
    let mut metrics = m.raft().metrics();
    let wait = metrics.wait_for(|m| done(m.current_leader));
    let _ = tokio::time::timeout_at(deadline, wait).await;
    // Then the next change, or a heartbeat's time at most.
    let _ = tokio::time::timeout(
        Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now())),
        metrics.changed(),
    )
    .await;
}

/// Whether the call failed before reaching the leader: the connection was
/// refused, so the write was never sent.
fn refused(status: &Status) -> bool {
    io_error(status).is_some_and(|kind| kind == std::io::ErrorKind::ConnectionRefused)
}

/// Whether the call failed in transport after it may have reached the
/// leader (the connection broke): the leader's answer is lost, not
/// refused by it.
fn lost(status: &Status) -> bool {
    status.source().is_some() && !refused(status)
}

/// The kind of the I/O error under a transport failure, if any.
fn io_error(status: &Status) -> Option<std::io::ErrorKind> {
    let mut source = status.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = err.source();
    }
    None
}

/// A write's reply from the leader, stamped with its store index.
pub(super) fn written<T>(store: &Store, result: Result<T>) -> std::result::Result<Response<T>, Status> {
    let mut response = reply(result)?;
    let index = store.view(|s| s.index());
    response.metadata_mut().insert(INDEX_HEADER, index.into());
    Ok(response)
}

/// The leader's reply once this manager has applied the write.
async fn applied_here<T>(
    m: &Leadership,
    response: std::result::Result<Response<T>, Status>,
) -> std::result::Result<Response<T>, Status> {
    let response = response?;
    let index = response.metadata().get(INDEX_HEADER).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(index) = index {
        let wait = m.raft().wait(Some(READ_YOUR_WRITE_TIMEOUT));
        let _ = wait.applied_index_at_least(Some(index), "a forwarded write").await;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    fn transport(kind: ErrorKind) -> Status {
        Status::from_error(Box::new(Error::from(kind)))
    }

    #[test]
    fn a_refused_connection_was_never_sent_and_a_broken_one_may_have_been() {
        assert!(refused(&transport(ErrorKind::ConnectionRefused)));
        assert!(!lost(&transport(ErrorKind::ConnectionRefused)), "safe to send again");
        assert!(lost(&transport(ErrorKind::ConnectionReset)));
        assert!(lost(&transport(ErrorKind::BrokenPipe)));
        let answered = Status::unavailable("no quorum: 1 of 3 managers reachable");
        assert!(!refused(&answered) && !lost(&answered), "the leader's own answer is passed on");
    }

    #[test]
    fn a_forwarder_names_its_request() {
        let mut req = tonic::Request::new(());
        assert_eq!(request_id(&req), "", "a client's own call");
        req.metadata_mut().insert(REQUEST_HEADER, "r1".parse().unwrap());
        assert_eq!(request_id(&req), "r1");
    }
}
