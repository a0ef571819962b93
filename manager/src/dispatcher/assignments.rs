//! One session's assignment stream: the node's tasks in full, then every
//! change a worker acts on (a new task, a desired state that moved, a
//! task deleted, the node's desired role changed, its network map or the
//! secrets and configs its tasks read changed), from the news the
//! fan-out posts it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use shoal_proto::{AssignmentsKind, NetworkMap, NodeRole, SessionMessage, Task, TaskState, store_object::Object};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::fanout::{Mailbox, Routed};
use super::{heartbeat_period, network_map, task_files};
use crate::keys::Keyring;
use crate::metrics::METRICS;
use crate::store::{Change, MemoryStore, Store};

pub(super) struct Stream {
    pub store: Store,
    pub node_id: String,
    pub session_id: String,
    pub tx: mpsc::Sender<Result<SessionMessage, Status>>,
    pub keys: Keyring,
    pub mailbox: Arc<Mailbox>,
}

/// A task is the worker's once the scheduler assigned it.
fn is_assigned(task: &Task, node_id: &str) -> bool {
    task.node_id == node_id && task.status.as_ref().is_some_and(|s| s.state() >= TaskState::Assigned)
}

/// The role the cluster wants `node_id` to have, and the one it recorded.
fn roles(store: &MemoryStore, node_id: &str) -> (NodeRole, NodeRole) {
    let node = store.node(node_id);
    let desired = node.and_then(|n| n.spec.as_ref()).map_or(NodeRole::Worker, |s| s.desired_role());
    (desired, node.map_or(NodeRole::Worker, |n| n.role()))
}

impl Stream {
    pub async fn run(self, stop: CancellationToken) {
        // Desired state last sent, by task id, and the store index of the
        // last full set (older commits are already in it).
        let mut sent: HashMap<String, i32> = HashMap::new();
        let mut seen = 0;
        let mut node = self.store.view(|s| (roles(s, &self.node_id), s.manager_addrs(), s.manager_ids()));
        let mut map = NetworkMap::default();
        let mut files = task_files::Needed::new();
        let mut message = self.complete(&mut sent, &mut seen, &mut map, &mut files);
        // When the oldest commit the message carries was applied.
        let mut applied: Option<Instant> = None;
        loop {
            if let Some(m) = message.take() {
                if self.tx.send(Ok(m)).await.is_err() {
                    return;
                }
                if let Some(at) = applied.take() {
                    METRICS.assignment_fanout_seconds.observe(at.elapsed().as_secs_f64());
                }
            }
            let news = tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.tx.closed() => return,
                news = self.mailbox.take() => news,
            };
            if news.resync {
                message = self.complete(&mut sent, &mut seen, &mut map, &mut files);
                applied = None;
                continue;
            }
            let own: Vec<&Change> = news.own.iter().filter(|r| r.index() > seen).map(Routed::change).collect();
            message = self.incremental(own.iter().copied(), &mut sent);
            applied = news.applied;
            // A changed role or manager list is news too.
            if news.managers || own.iter().any(|c| matches!(c.object(), Object::Node(_))) {
                let now = self.store.view(|s| (roles(s, &self.node_id), s.manager_addrs(), s.manager_ids()));
                if message.is_none() && now != node {
                    message = self
                        .store
                        .view(|s| Some(self.message(s, AssignmentsKind::Incremental, Vec::new(), Vec::new())));
                }
                node = now;
            }
            if news.remap || own.iter().any(|c| network_map::matters(c)) {
                let (now, at) = self.store.view(|s| (network_map::for_node(s, &self.node_id), s.index()));
                if now != map {
                    let m = message.get_or_insert_with(|| {
                        self.store.view(|s| self.message(s, AssignmentsKind::Incremental, Vec::new(), Vec::new()))
                    });
                    m.network_map = Some(now.clone());
                    map = now;
                    self.joined(&map, at);
                }
            }
            if own.iter().any(|c| task_files::matters(c, &self.node_id)) {
                let now = self.store.view(|s| task_files::needed(s, &self.node_id));
                if now != files {
                    let m = message.get_or_insert_with(|| {
                        self.store.view(|s| self.message(s, AssignmentsKind::Incremental, Vec::new(), Vec::new()))
                    });
                    m.task_files = Some(self.store.view(|s| task_files::data(s, &now, &self.keys)));
                    files = now;
                }
            }
        }
    }

    /// Tells the fan-out which networks' changes reach this session, now
    /// that its map as of store index `at` holds them. A commit applied
    /// since may have been sorted against the networks it held before:
    /// then the map is made again.
    fn joined(&self, map: &NetworkMap, at: u64) {
        let ids = map.networks.iter().filter_map(|n| n.network.as_ref().map(|n| n.id.clone()));
        self.mailbox.set_joined(ids);
        if self.store.view(MemoryStore::index) > at {
            self.mailbox.remap_later();
        }
    }

    fn message(
        &self,
        store: &MemoryStore,
        kind: AssignmentsKind,
        tasks: Vec<Task>,
        removed: Vec<String>,
    ) -> SessionMessage {
        SessionMessage {
            session_id: self.session_id.clone(),
            heartbeat_period_ns: heartbeat_period(store).as_nanos() as i64,
            managers: store.manager_addrs(),
            kind: kind as i32,
            tasks,
            removed_task_ids: removed,
            desired_role: roles(store, &self.node_id).0 as i32,
            role: roles(store, &self.node_id).1 as i32,
            network_map: None,
            manager_ids: store.manager_ids(),
            task_files: None,
        }
    }

    /// The full set, with the network map and the task files (remembered
    /// in `map` and `files`).
    fn complete(
        &self,
        sent: &mut HashMap<String, i32>,
        seen: &mut u64,
        map: &mut NetworkMap,
        files: &mut task_files::Needed,
    ) -> Option<SessionMessage> {
        let message = self.store.view(|s| {
            *seen = s.index();
            let tasks: Vec<Task> =
                s.tasks_of_node(&self.node_id).filter(|t| is_assigned(t, &self.node_id)).cloned().collect();
            *sent = tasks.iter().map(|t| (t.id.clone(), t.desired_state)).collect();
            *map = network_map::for_node(s, &self.node_id);
            let mut message = self.message(s, AssignmentsKind::Complete, tasks, Vec::new());
            message.network_map = Some(map.clone());
            *files = task_files::needed(s, &self.node_id);
            message.task_files = Some(task_files::data(s, files, &self.keys));
            Some(message)
        });
        self.joined(map, *seen);
        message
    }

    fn incremental<'a>(
        &self,
        changes: impl Iterator<Item = &'a Change>,
        sent: &mut HashMap<String, i32>,
    ) -> Option<SessionMessage> {
        let mut updated: HashMap<String, Task> = HashMap::new();
        let mut removed = Vec::new();
        for change in changes {
            let Object::Task(task) = change.object() else { continue };
            match change {
                Change::Deleted(_) if sent.remove(&task.id).is_some() => {
                    updated.remove(&task.id);
                    removed.push(task.id.clone());
                }
                _ if is_assigned(task, &self.node_id) && sent.get(&task.id).is_none_or(|d| task.desired_state > *d) => {
                    sent.insert(task.id.clone(), task.desired_state);
                    updated.insert(task.id.clone(), task.clone());
                }
                _ => {}
            }
        }
        if updated.is_empty() && removed.is_empty() {
            return None;
        }
        let tasks = updated.into_values().collect();
        self.store.view(|s| Some(self.message(s, AssignmentsKind::Incremental, tasks, removed)))
    }
}
