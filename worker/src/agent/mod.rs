//! The agent: keeps a session with a manager (failing over along the
//! manager list), turns assignments into task controllers, heartbeats,
//! and reports task status.

mod reporter;
mod tasks;

use std::time::Duration;

use shoal_proto::dispatcher_client::DispatcherClient;
use shoal_proto::transport::{self, Credentials};
use shoal_proto::{
    AssignmentsKind, HeartbeatRequest, NodeDescription, SessionMessage, SessionRequest, UpdateTaskStatusRequest,
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tracing::{error, info, warn};

pub use reporter::Reporter;
pub use tasks::Tasks;

/// Longest wait between two attempts to reach a manager.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long opening a session may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// What the agent says about its node.
#[derive(Debug, Clone)]
pub struct Identity {
    pub node_id: String,
    pub addr: String,
    pub description: NodeDescription,
}

pub struct Agent {
    pub identity: Identity,
    /// Managers' endpoints, tried in turn.
    pub managers: Vec<String>,
    pub credentials: Credentials,
    pub tasks: Tasks,
    pub reporter: Reporter,
    /// Where the agent publishes what each session message asks of the node.
    pub wanted: std::sync::Arc<tokio::sync::watch::Sender<crate::Wanted>>,
    /// The node's Docker Engine as last seen: a change reopens the
    /// session, so that the managers learn it.
    pub engine: tokio::sync::watch::Receiver<Option<crate::docker::EngineInfo>>,
    /// The engine's labels as last seen (kept while it does not answer).
    pub engine_labels: crate::docker::SeenLabels,
}

/// Why a session ended.
struct SessionError {
    message: String,
    /// The managers refuse this node (it was removed): it must not run
    /// tasks, which the cluster has replaced elsewhere.
    refused: bool,
    /// A live manager that is not the leader answered: try the leader it
    /// named (`leader`), else the next manager, without waiting.
    not_leader: bool,
    leader: Option<String>,
    /// The node's description changed: open a new session with the same
    /// manager at once.
    reopen: bool,
}

impl From<String> for SessionError {
    fn from(message: String) -> SessionError {
        SessionError { message, refused: false, not_leader: false, leader: None, reopen: false }
    }
}

impl From<&str> for SessionError {
    fn from(message: &str) -> SessionError {
        message.to_string().into()
    }
}

impl From<tonic::Status> for SessionError {
    fn from(status: tonic::Status) -> SessionError {
        let refused = status.code() == tonic::Code::PermissionDenied;
        let not_leader = shoal_proto::leader::is_refusal(&status);
        let leader = shoal_proto::leader::leader(&status);
        SessionError { message: status.message().to_string(), refused, not_leader, leader, reopen: false }
    }
}

/// The index of the manager to try after `managers[next]` ended a
/// session with `err`: the leader a refusal named, when it is one of
/// them, else the next one.
fn after(managers: &[String], next: usize, err: &SessionError) -> usize {
    if err.reopen {
        return next;
    }
    let named = err.leader.as_ref().filter(|_| err.not_leader);
    named.and_then(|leader| managers.iter().position(|m| m == leader)).unwrap_or(next + 1)
}

/// How long a refused node waits before asking again.
const REFUSED_BACKOFF: Duration = Duration::from_secs(30);

impl Agent {
    /// Runs sessions until `stop`. Tasks keep running after it returns.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut next = 0usize;
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            let Some(addr) = self.managers.get(next % self.managers.len().max(1)).cloned() else {
                warn!("no manager to connect to");
                break;
            };
            let mut opened = false;
            let mut wait = None;
            if let Err(err) = self.session(&addr, &stop, &mut opened).await {
                if err.not_leader {
                    wait = Some(Duration::from_millis(20));
                }
                if err.reopen {
                    wait = Some(Duration::ZERO);
                }
                if err.refused {
                    error!(manager = %addr, err = %err.message, "the cluster refuses this node: stopping its tasks");
                    self.tasks.assign(Vec::new(), Vec::new(), true);
                    backoff = REFUSED_BACKOFF;
                } else if err.reopen {
                    info!(manager = %addr, "{}", err.message);
                } else {
                    warn!(manager = %addr, err = %err.message, "session with manager ended");
                }
                next = after(&self.managers, next % self.managers.len().max(1), &err);
            }
            if opened {
                backoff = Duration::from_millis(100);
            }
            if let Some(wait) = wait {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF.max(backoff));
        }
        self.tasks.detach();
    }

    async fn session(&mut self, addr: &str, stop: &CancellationToken, opened: &mut bool) -> Result<(), SessionError> {
        let channel =
            transport::channel(addr, &self.credentials, transport::MANAGER_NAME).map_err(|e| e.to_string())?;
        let mut client = DispatcherClient::new(channel);
        let request = SessionRequest {
            node_id: self.identity.node_id.clone(),
            description: Some(crate::docker::describe(
                &self.identity.description,
                self.engine.borrow_and_update().as_ref(),
                &mut self.engine_labels,
            )),
            addr: self.identity.addr.clone(),
        };
        let opening = async {
            let mut stream = client.session(request).await?.into_inner();
            let first = stream.message().await?;
            Ok::<_, tonic::Status>((stream, first))
        };
        let (mut stream, first) = tokio::time::timeout(SESSION_TIMEOUT, opening)
            .await
            .map_err(|_| "the manager did not open the session in time".to_string())??;
        let first = first.ok_or("session closed")?;
        *opened = true;
        info!(manager = %addr, "session opened");
        let session_id = first.session_id.clone();
        let mut period = Duration::from_nanos(first.heartbeat_period_ns.max(1) as u64);
        self.apply(first);
        self.reporter.resend_all();
        let mut heartbeat = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                message = stream.message() => match message? {
                    Some(message) => self.apply(message),
                    None => return Err("the manager closed the session".into()),
                },
                _ = heartbeat.tick() => {
                    // The cluster's period may have changed (`cluster update`).
                    let asked = self.heartbeat(&mut client, &session_id, period).await?;
                    if !asked.is_zero() && asked != period {
                        info!(?asked, "heartbeat period changed");
                        period = asked;
                        heartbeat = tokio::time::interval(period);
                        heartbeat.tick().await;
                    }
                }
                _ = self.reporter.notified() => self.send_status(&mut client, &session_id, period).await?,
                changed = self.engine.changed(), if self.engine.has_changed().is_ok() => {
                    if changed.is_ok() {
                        return Err(SessionError {
                            reopen: true,
                            .."the node's Docker Engine changed: reopening the session to tell the managers".into()
                        });
                    }
                }
            }
        }
    }

    fn apply(&mut self, message: SessionMessage) {
        if !message.managers.is_empty() {
            self.managers = message.managers.clone();
        }
        let wanted = crate::Wanted {
            role: message.desired_role(),
            recorded: message.role(),
            managers: self.managers.clone(),
            manager_ids: message.manager_ids.clone(),
        };
        self.wanted.send_if_modified(|w| {
            let changed = *w != wanted;
            *w = wanted;
            changed
        });
        let complete = message.kind() == AssignmentsKind::Complete;
        // The map first: the tasks that follow may join its networks.
        if let Some(map) = message.network_map {
            self.tasks.set_map(map);
        }
        // The files too: the tasks that follow may read them.
        if let Some(files) = message.task_files {
            self.tasks.set_files(files);
        }
        self.tasks.assign(message.tasks, message.removed_task_ids, complete);
    }

    async fn heartbeat(
        &self,
        client: &mut DispatcherClient<Channel>,
        session_id: &str,
        period: Duration,
    ) -> Result<Duration, SessionError> {
        let mut request = tonic::Request::new(HeartbeatRequest {
            node_id: self.identity.node_id.clone(),
            session_id: session_id.to_string(),
        });
        request.set_timeout(period);
        let reply = client
            .heartbeat(request)
            .await
            .map_err(|s| SessionError { message: format!("heartbeat: {}", s.message()), ..s.into() })?;
        Ok(Duration::from_nanos(reply.into_inner().period_ns.max(0) as u64))
    }

    async fn send_status(
        &self,
        client: &mut DispatcherClient<Channel>,
        session_id: &str,
        period: Duration,
    ) -> Result<(), SessionError> {
        let updates = self.reporter.take();
        if updates.is_empty() {
            return Ok(());
        }
        let mut request = tonic::Request::new(UpdateTaskStatusRequest {
            node_id: self.identity.node_id.clone(),
            session_id: session_id.to_string(),
            updates: updates.clone(),
        });
        request.set_timeout(period * 5);
        if let Err(status) = client.update_task_status(request).await {
            self.reporter.retry(&updates);
            return Err(SessionError {
                message: format!("reporting task status: {}", status.message()),
                ..status.into()
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_naming_the_leader_sends_the_agent_there() {
        let managers: Vec<String> = ["10.0.0.1:4242", "10.0.0.2:4242", "10.0.0.3:4242"].map(String::from).to_vec();
        let refused = |leader: Option<&str>| SessionError::from(shoal_proto::leader::refusal(leader));
        assert_eq!(after(&managers, 0, &refused(Some("10.0.0.3:4242"))), 2, "straight to the leader");
        assert_eq!(after(&managers, 0, &refused(None)), 1, "no leader known: the next one");
        assert_eq!(after(&managers, 1, &refused(Some("10.9.9.9:4242"))), 2, "a leader not listed: the next one");
        assert_eq!(after(&managers, 2, &SessionError::from("connection refused")), 3, "any other end: the next one");
    }
}
