//! One simulated worker: joined with a real token (a key and certificate
//! of its own), a real dispatcher session over mTLS gRPC with fail-over
//! to the leader, heartbeats at the cluster's period, and its tasks'
//! status reported as a worker reports it (Starting, then Running after
//! the fleet's delay; Shutdown when asked), without running anything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_proto::dispatcher_client::DispatcherClient;
use shoal_proto::transport::{self, Credentials, MANAGER_NAME};
use shoal_proto::{
    AssignmentsKind, HeartbeatRequest, NodeDescription, Platform, Resources, SessionMessage, SessionRequest, Task,
    TaskState, TaskStatus, TaskStatusUpdate, UpdateTaskStatusRequest,
};
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::transport::Channel;

use crate::fleet::Fleet;

/// How long opening a session may take (as the real agent).
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SimNode {
    index: usize,
    id: String,
    hostname: String,
    addr: String,
    credentials: Credentials,
    managers: Vec<String>,
}

/// A task as this node knows it: the state it sent, and whether the
/// fleet counts it as Running (the managers acknowledged that report).
struct Known {
    reported: TaskState,
    counted: bool,
}

/// The node's tasks, the reports not yet sent, and those due later.
#[derive(Default)]
struct Tasks {
    known: HashMap<String, Known>,
    pending: HashMap<String, TaskState>,
    due: Vec<(Instant, String)>,
}

impl SimNode {
    /// `node join` as the real node does it: CA pinned by the token, a
    /// certificate for a fresh key.
    pub async fn join(remote: &str, token: &str, index: usize) -> Result<SimNode, Status> {
        let hostname = format!("sim-{index}");
        // Recorded as the node's address; nothing dials it in the bench.
        let addr = format!("127.1.{}.{}:4242", index / 250, index % 250 + 1);
        let (credentials, issued) = shoal_node::join::certificate(remote, token, &hostname, &addr).await?;
        let managers = if issued.managers.is_empty() { vec![remote.to_string()] } else { issued.managers };
        Ok(SimNode { index, id: issued.node_id, hostname, addr, credentials, managers })
    }

    /// Keeps a session until `stop` (the node vanishes: no goodbye).
    pub async fn run(self, fleet: Arc<Fleet>, stop: CancellationToken) {
        let mut tasks = Tasks::default();
        let mut managers = self.managers.clone();
        let mut next = 0usize;
        while !stop.is_cancelled() {
            let addr = managers[next % managers.len()].clone();
            let Err(status) = self.session(&addr, &fleet, &mut tasks, &mut managers, &stop).await else { break };
            fleet.session_ended();
            let named = shoal_proto::leader::leader(&status).filter(|_| shoal_proto::leader::is_refusal(&status));
            next = named.and_then(|l| managers.iter().position(|m| *m == l)).unwrap_or(next + 1);
            let wait = if shoal_proto::leader::is_refusal(&status) { 20 } else { 100 };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
        }
        let counted = tasks.known.values().filter(|k| k.counted).count();
        fleet.running_changed(-(counted as i64));
    }

    async fn session(
        &self,
        addr: &str,
        fleet: &Fleet,
        tasks: &mut Tasks,
        managers: &mut Vec<String>,
        stop: &CancellationToken,
    ) -> Result<(), Status> {
        let channel = transport::channel(addr, &self.credentials, MANAGER_NAME)
            .map_err(|e| Status::internal(format!("credentials: {e}")))?;
        let mut client = DispatcherClient::new(channel);
        let request =
            SessionRequest { node_id: self.id.clone(), description: Some(self.describe()), addr: self.addr.clone() };
        let opening = async {
            let mut stream = client.session(request).await?.into_inner();
            let first = stream.message().await?;
            Ok::<_, Status>((stream, first))
        };
        let (mut stream, first) = tokio::time::timeout(SESSION_TIMEOUT, opening)
            .await
            .map_err(|_| Status::deadline_exceeded("the session did not open in time"))??;
        let first = first.ok_or_else(|| Status::aborted("session closed"))?;
        fleet.session_opened(self.index);
        let session_id = first.session_id.clone();
        let period = Duration::from_nanos(first.heartbeat_period_ns.max(1) as u64);
        // A new session: every state is told again, as the agent does.
        for (id, known) in &tasks.known {
            tasks.pending.insert(id.clone(), known.reported);
        }
        fleet.running_changed(-(tasks.apply(first, managers, fleet) as i64));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if !tasks.pending.is_empty() {
                self.report(&mut client, &session_id, tasks, fleet).await?;
            }
            let next_due = tasks.due.iter().map(|(at, _)| *at).min();
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                message = stream.message() => match message? {
                    Some(message) => fleet.running_changed(-(tasks.apply(message, managers, fleet) as i64)),
                    None => return Err(Status::aborted("the manager closed the session")),
                },
                _ = heartbeat.tick() => {
                    let mut request = tonic::Request::new(HeartbeatRequest { node_id: self.id.clone(), session_id: session_id.clone() });
                    request.set_timeout(period);
                    let sent = Instant::now();
                    let result = client.heartbeat(request).await;
                    fleet.heartbeat(sent.elapsed(), result.is_ok());
                    result?;
                }
                _ = sleep_until(next_due) => tasks.ripen(Instant::now()),
            }
        }
    }

    /// Sends the pending reports in one call; counts those acknowledged.
    async fn report(
        &self,
        client: &mut DispatcherClient<Channel>,
        session_id: &str,
        tasks: &mut Tasks,
        fleet: &Fleet,
    ) -> Result<(), Status> {
        let pending = std::mem::take(&mut tasks.pending);
        let updates = pending
            .iter()
            .map(|(id, state)| TaskStatusUpdate { task_id: id.clone(), status: Some(status(*state)) })
            .collect();
        let request = UpdateTaskStatusRequest { node_id: self.id.clone(), session_id: session_id.to_string(), updates };
        if let Err(status) = client.update_task_status(request).await {
            tasks.pending.extend(pending);
            return Err(status);
        }
        let mut change = 0i64;
        for (id, state) in pending {
            let Some(known) = tasks.known.get_mut(&id) else { continue };
            let running = state == TaskState::Running;
            if running != known.counted {
                known.counted = running;
                change += if running { 1 } else { -1 };
            }
        }
        fleet.running_changed(change);
        Ok(())
    }

    fn describe(&self) -> NodeDescription {
        NodeDescription {
            hostname: self.hostname.clone(),
            platform: Some(Platform { os: "linux".into(), architecture: "x86_64".into() }),
            resources: Some(Resources { nano_cpus: 2_000_000_000, memory_bytes: 4 << 30 }),
            runtimes: vec!["process".into()],
            ..Default::default()
        }
    }
}

impl Tasks {
    /// What a session message asks: new tasks start, tasks asked to stop
    /// stop, tasks no longer the node's are forgotten. Returns how many
    /// of those forgotten were counted as Running.
    fn apply(&mut self, message: SessionMessage, managers: &mut Vec<String>, fleet: &Fleet) -> usize {
        if let Some(map) = &message.network_map {
            fleet.map_received(prost::Message::encoded_len(map));
        }
        if !message.managers.is_empty() {
            *managers = message.managers.clone();
        }
        let mut forgotten = 0;
        if message.kind() == AssignmentsKind::Complete {
            let listed: std::collections::HashSet<&str> = message.tasks.iter().map(|t| t.id.as_str()).collect();
            let gone: Vec<String> = self.known.keys().filter(|id| !listed.contains(id.as_str())).cloned().collect();
            forgotten += self.forget(gone);
        }
        forgotten += self.forget(message.removed_task_ids);
        for task in message.tasks {
            self.assigned(task, fleet.delay);
        }
        forgotten
    }

    fn assigned(&mut self, task: Task, delay: Duration) {
        let desired = task.desired_state();
        let current = task.status.as_ref().map_or(TaskState::Assigned, |s| s.state());
        let reported =
            self.known.entry(task.id.clone()).or_insert(Known { reported: current, counted: false }).reported;
        if desired <= TaskState::Running && reported < TaskState::Starting {
            if delay.is_zero() {
                self.queue(task.id, TaskState::Running);
            } else {
                self.due.push((Instant::now() + delay, task.id.clone()));
                self.queue(task.id, TaskState::Starting);
            }
        } else if desired > TaskState::Running && reported <= TaskState::Running {
            self.due.retain(|(_, id)| *id != task.id);
            self.queue(task.id, TaskState::Shutdown);
        }
    }

    /// A state to send, recorded as the one reported.
    fn queue(&mut self, id: String, state: TaskState) {
        if let Some(known) = self.known.get_mut(&id) {
            known.reported = state;
        }
        self.pending.insert(id, state);
    }

    /// Tasks whose start delay passed report Running.
    fn ripen(&mut self, now: Instant) {
        let (ripe, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.due).into_iter().partition(|(at, _)| *at <= now);
        self.due = later;
        for (_, id) in ripe {
            if self.known.contains_key(&id) {
                self.queue(id, TaskState::Running);
            }
        }
    }

    /// Forgets tasks; returns how many were counted as Running.
    fn forget(&mut self, ids: Vec<String>) -> usize {
        let mut counted = 0;
        for id in ids {
            self.pending.remove(&id);
            self.due.retain(|(_, d)| *d != id);
            counted += self.known.remove(&id).is_some_and(|k| k.counted) as usize;
        }
        counted
    }
}

fn status(state: TaskState) -> TaskStatus {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let timestamp = now.as_nanos() as i64;
    let message = match state {
        TaskState::Starting => "starting",
        TaskState::Running => "started",
        _ => "shutdown",
    };
    let started_at = if state == TaskState::Running { timestamp } else { 0 };
    TaskStatus { timestamp, state: state as i32, message: message.into(), started_at, ..Default::default() }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
