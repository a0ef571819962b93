//! The dispatcher: the gRPC service workers talk to.
//!
//! A worker opens a session ([`assignments`] streams its tasks, from
//! what [`fanout`] sorted of each commit for it), sends
//! heartbeats (kept in memory; [`monitor`] marks nodes that stop
//! heartbeating Down) and reports task status, which is written through
//! the proposer, which gathers many workers' reports into shared raft entries.
//! Only the raft leader serves sessions; other managers refuse them with
//! `Unavailable` so the worker moves on. A node that is not a manager
//! also starts, reads and removes its own `shoal run` tasks here.

mod assignments;
pub mod fanout;
pub mod monitor;
pub mod network_map;
mod task_files;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use shoal_proto::dispatcher_server::Dispatcher as DispatcherApi;
use shoal_proto::transport::auth;
use shoal_proto::{
    GetTaskRequest, HeartbeatRequest, HeartbeatResponse, NodeState, NodeStatus, RemoveTaskRequest, RemoveTaskResponse,
    RunTaskRequest, SessionMessage, SessionRequest, Task, TaskState, UpdateTaskStatusRequest, UpdateTaskStatusResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::control::{resolve, run};
use crate::ids::new_id;
use crate::keys::Keyring;
use crate::leadership::{LeaderNow, Leadership};
use crate::ops;
use crate::proposer::Proposer;
use crate::store::{MemoryStore, Store};

/// Heartbeat period unless the cluster says otherwise.
pub const DEFAULT_HEARTBEAT_PERIOD: Duration = Duration::from_secs(1);

/// Heartbeat periods a node may miss before it is marked Down.
pub const GRACE_PERIODS: u32 = 3;

/// The dispatcher service; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    proposer: Proposer,
    leadership: Leadership,
    /// Opens the secrets sent to nodes.
    keys: Keyring,
    /// Leader and caught up: see [`crate::leader`].
    serving: AtomicBool,
    sessions: Mutex<HashMap<String, Session>>,
}

struct Session {
    id: String,
    last_seen: Instant,
    stop: CancellationToken,
    /// Where the fan-out posts the session's news.
    mailbox: Arc<fanout::Mailbox>,
}

impl Dispatcher {
    pub fn new(store: Store, proposer: Proposer, leadership: Leadership, keys: Keyring) -> Dispatcher {
        let (serving, sessions) = (AtomicBool::new(false), Mutex::default());
        let inner = Inner { store, proposer, leadership, keys, serving, sessions };
        Dispatcher { inner: Arc::new(inner) }
    }

    /// Whether this manager serves workers (leader, with its store caught up).
    pub(crate) fn set_serving(&self, serving: bool) {
        self.inner.serving.store(serving, Ordering::SeqCst);
    }

    fn check_leader(&self) -> Result<(), Status> {
        match self.inner.leadership.leader_now() {
            LeaderNow::Me if self.inner.serving.load(Ordering::SeqCst) => Ok(()),
            // Where the worker finds the leader, if this manager knows.
            LeaderNow::Other { addr, .. } => Err(shoal_proto::leader::refusal(addr.as_deref())),
            LeaderNow::Me | LeaderNow::Unknown => Err(shoal_proto::leader::refusal(None)),
        }
    }

    /// The heartbeat period the cluster asks for.
    pub fn period(&self) -> Duration {
        self.inner.store.view(heartbeat_period)
    }

    fn check_session(&self, node_id: &str, session_id: &str) -> Result<(), Status> {
        // A node marked Down meanwhile opens a new session, which marks it Ready.
        let ready = self
            .inner
            .store
            .view(|s| s.node(node_id).and_then(|n| n.status.as_ref()).is_some_and(|st| st.state() == NodeState::Ready));
        if !ready {
            return Err(Status::not_found("session expired: open a new one"));
        }
        let mut sessions = self.inner.sessions.lock();
        match sessions.get_mut(node_id) {
            Some(s) if s.id == session_id => {
                s.last_seen = Instant::now();
                Ok(())
            }
            _ => Err(Status::not_found("session expired: open a new one")),
        }
    }

    /// Ends every session (leadership lost): workers will reconnect.
    /// How many worker sessions this manager holds.
    pub fn sessions(&self) -> usize {
        self.inner.sessions.lock().len()
    }

    pub fn drop_sessions(&self) {
        for (_, session) in self.inner.sessions.lock().drain() {
            session.stop.cancel();
        }
    }
}

/// The cluster's heartbeat period.
fn heartbeat_period(store: &MemoryStore) -> Duration {
    store
        .cluster()
        .and_then(|c| c.spec.as_ref())
        .and_then(|s| s.dispatcher.as_ref())
        .filter(|d| d.heartbeat_period_ns > 0)
        .map_or(DEFAULT_HEARTBEAT_PERIOD, |d| Duration::from_nanos(d.heartbeat_period_ns as u64))
}

/// A node speaks only for itself: the node id in the request must be the
/// one in its certificate.
fn check_caller<T>(req: &Request<T>, node_id: impl Fn(&T) -> &String) -> Result<(), Status> {
    let caller = auth::caller(req).ok_or_else(|| Status::unauthenticated("a node certificate is required"))?;
    if caller.node_id != *node_id(req.get_ref()) {
        return Err(Status::permission_denied(format!(
            "node {} cannot speak for node {}",
            caller.node_id,
            node_id(req.get_ref())
        )));
    }
    Ok(())
}

/// The node the caller's certificate names.
fn caller_node<T>(req: &Request<T>) -> Result<String, Status> {
    let caller = auth::caller(req).ok_or_else(|| Status::unauthenticated("a node certificate is required"))?;
    Ok(caller.node_id.clone())
}

#[tonic::async_trait]
impl DispatcherApi for Dispatcher {
    type SessionStream = ReceiverStream<Result<SessionMessage, Status>>;

    async fn session(&self, req: Request<SessionRequest>) -> Result<Response<Self::SessionStream>, Status> {
        self.check_leader()?;
        check_caller(&req, |r| &r.node_id)?;
        let req = req.into_inner();
        if self.inner.store.view(|s| s.node(&req.node_id).is_none()) {
            return Err(Status::permission_denied(format!("node {} is not part of this cluster", req.node_id)));
        }
        let status = NodeStatus { state: NodeState::Ready as i32, message: String::new(), addr: req.addr.clone() };
        self.inner
            .proposer
            .propose(vec![ops::node_status(&req.node_id, status, req.description)])
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let mailbox = Arc::new(fanout::Mailbox::default());
        let session = Session { id: new_id(), last_seen: Instant::now(), stop: CancellationToken::new(), mailbox };
        let (session_id, stop, mailbox) = (session.id.clone(), session.stop.clone(), session.mailbox.clone());
        if let Some(old) = self.inner.sessions.lock().insert(req.node_id.clone(), session) {
            old.stop.cancel();
        }
        let (tx, rx) = mpsc::channel(16);
        let keys = self.inner.keys.clone();
        let store = self.inner.store.clone();
        let stream = assignments::Stream { store, node_id: req.node_id, session_id, tx, keys, mailbox };
        tokio::spawn(stream.run(stop));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn heartbeat(&self, req: Request<HeartbeatRequest>) -> Result<Response<HeartbeatResponse>, Status> {
        self.check_leader()?;
        check_caller(&req, |r| &r.node_id)?;
        let req = req.into_inner();
        self.check_session(&req.node_id, &req.session_id)?;
        Ok(Response::new(HeartbeatResponse { period_ns: self.period().as_nanos() as i64 }))
    }

    async fn update_task_status(
        &self,
        req: Request<UpdateTaskStatusRequest>,
    ) -> Result<Response<UpdateTaskStatusResponse>, Status> {
        self.check_leader()?;
        check_caller(&req, |r| &r.node_id)?;
        let req = req.into_inner();
        self.check_session(&req.node_id, &req.session_id)?;
        // A node may only report on its own tasks.
        let ops: Vec<_> = self.inner.store.view(|s| {
            req.updates
                .into_iter()
                .filter(|u| s.task(&u.task_id).is_some_and(|t| t.node_id == req.node_id))
                .filter(|u| {
                    u.status
                        .as_ref()
                        .is_some_and(|st| TaskState::try_from(st.state).is_ok_and(|s| s >= TaskState::Assigned))
                })
                .filter_map(|u| u.status.map(|status| ops::task_status(&u.task_id, status)))
                .collect()
        });
        if !ops.is_empty() {
            self.inner.proposer.propose(ops).await.map_err(|e| Status::unavailable(e.to_string()))?;
        }
        Ok(Response::new(UpdateTaskStatusResponse {}))
    }

    async fn run_task(&self, req: Request<RunTaskRequest>) -> Result<Response<Task>, Status> {
        self.check_leader()?;
        let node = caller_node(&req)?;
        let req = req.into_inner();
        // A node runs tasks on itself only.
        if !req.node.is_empty() && req.node != "self" {
            let asked = self.inner.store.view(|s| resolve::node(s, &req.node).ok().map(|n| n.id.clone()));
            if asked.as_deref() != Some(node.as_str()) {
                return Err(Status::permission_denied(format!(
                    "--node {}: a worker runs tasks on itself only (ask a manager for another node)",
                    req.node
                )));
            }
        }
        let req = RunTaskRequest { node, ..req };
        Ok(Response::new(run::run(&self.inner.store, &self.inner.proposer, req).await?))
    }

    async fn remove_task(&self, req: Request<RemoveTaskRequest>) -> Result<Response<RemoveTaskResponse>, Status> {
        self.check_leader()?;
        let node = caller_node(&req)?;
        let reference = req.into_inner().reference;
        Ok(Response::new(run::remove(&self.inner.store, &self.inner.proposer, &reference, Some(&node)).await?))
    }

    async fn get_task(&self, req: Request<GetTaskRequest>) -> Result<Response<Task>, Status> {
        self.check_leader()?;
        let node = caller_node(&req)?;
        Ok(Response::new(run::get(&self.inner.store, &req.into_inner().reference, Some(&node))?))
    }
}
