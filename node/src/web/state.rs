//! What the web view shows, read from this manager's store at once: the
//! nodes with the tasks placed on them, the services with their replicas
//! and rollout, the tasks waiting for a node and why, the recent events.
//! Sent as JSON to the page, which lays it out.

use serde::Serialize;
use shoal_manager::control::resolve::hostname;
use shoal_manager::control::{self, Handles};
use shoal_manager::store::MemoryStore;
use shoal_proto::{Event, Node, ServiceSummary, Task, TaskState};

/// How many of the newest events the page starts with.
pub const RECENT_EVENTS: usize = 30;

#[derive(Serialize)]
pub struct State {
    /// The node answering (its hostname).
    pub served_by: String,
    /// Raft's warning when this manager is cut off from a quorum.
    pub warning: String,
    pub nodes: Vec<NodeView>,
    pub services: Vec<ServiceView>,
    /// Tasks meant to run that no node holds yet.
    pub pending: Vec<TaskView>,
    pub events: Vec<EventView>,
    /// The number of the newest event: the live stream goes on from it.
    pub last_event: u64,
}

#[derive(Serialize)]
pub struct NodeView {
    pub id: String,
    pub hostname: String,
    pub role: &'static str,
    pub availability: &'static str,
    pub state: &'static str,
    pub leader: bool,
    pub addr: String,
    pub tasks: Vec<TaskView>,
}

#[derive(Serialize)]
pub struct TaskView {
    pub id: String,
    pub name: String,
    pub service: String,
    pub image: String,
    pub state: &'static str,
    pub desired: &'static str,
    /// What it does or why it waits ("no suitable node (...)").
    pub message: String,
    pub err: String,
    /// Since when it is in its state (unix ns).
    pub since: i64,
}

#[derive(Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub mode: &'static str,
    pub image: String,
    pub running: u64,
    pub desired: u64,
    /// Of a job: how many runs must complete, and how many did.
    pub completions: u64,
    pub completed: u64,
    /// The rollout's state ("updating", "rollback_completed"; "" if none)
    /// and message.
    pub update: &'static str,
    pub update_message: String,
    /// Tasks on the current spec, of those meant to run.
    pub updated: u64,
}

#[derive(Serialize)]
pub struct EventView {
    pub number: u64,
    pub time: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    pub id: String,
    pub name: String,
    /// What changed, `key=value`, as `shoal events` prints it.
    pub attributes: String,
}

impl EventView {
    pub fn new(number: u64, e: Event) -> EventView {
        let name = e.attributes.get("name").cloned().unwrap_or_default();
        // The name is shown apart; ids say little on a page.
        let shown = |k: &str| k != "name" && !k.ends_with(".id");
        let mut attributes: Vec<String> =
            e.attributes.into_iter().filter(|(k, _)| shown(k)).map(|(k, v)| format!("{k}={v}")).collect();
        attributes.sort();
        EventView {
            number,
            time: e.time,
            kind: e.r#type,
            action: e.action,
            id: e.actor_id,
            name,
            attributes: attributes.join(", "),
        }
    }
}

/// The cluster as `h`'s store holds it now.
pub fn read(h: &Handles) -> State {
    let nodes = control::list_nodes(h);
    let services = control::list_services(&h.store, &h.leadership);
    let (events, last_event) = h.store.history().newest(RECENT_EVENTS);
    let served_by = nodes.nodes.iter().find(|n| n.id == h.node_id).map_or("", hostname).to_string();
    // The tasks by the store's own indexes, per node and per service.
    let (node_views, service_views, pending) = h.store.view(|s| {
        let node_views = nodes.nodes.iter().map(|n| node(n, s.tasks_of_node(&n.id))).collect();
        let service_views = services.services.iter().filter_map(|summary| service(summary, s)).collect();
        let pending = s.tasks().filter(|t| t.node_id.is_empty() && shown(t)).map(task).collect();
        (node_views, service_views, pending)
    });
    State {
        served_by,
        warning: services.warning,
        nodes: node_views,
        services: service_views,
        pending,
        events: events.into_iter().map(|(n, e)| EventView::new(n, e)).collect(),
        last_event,
    }
}

/// A task the page shows: meant to run, or not yet stopped.
fn shown(t: &Task) -> bool {
    t.desired_state() <= TaskState::Running || !t.state().is_terminal()
}

fn node<'a>(n: &Node, tasks: impl Iterator<Item = &'a Task>) -> NodeView {
    let spec = n.spec.clone().unwrap_or_default();
    let status = n.status.clone().unwrap_or_default();
    let mut on_node: Vec<TaskView> = tasks.filter(|t| shown(t)).map(task).collect();
    on_node.sort_by(|a, b| a.name.cmp(&b.name));
    NodeView {
        id: n.id.clone(),
        hostname: hostname(n).to_string(),
        role: spec.desired_role().name(),
        availability: spec.availability().title(),
        state: status.state().title(),
        leader: n.manager_status.as_ref().is_some_and(|m| m.leader),
        addr: status.addr,
        tasks: on_node,
    }
}

fn task(t: &Task) -> TaskView {
    let status = t.status.clone().unwrap_or_default();
    TaskView {
        id: t.id.clone(),
        name: t.name(),
        service: t.service_name.clone(),
        image: t.spec.as_ref().and_then(|s| s.container.as_ref()).map(|c| c.image.clone()).unwrap_or_default(),
        state: t.state().name(),
        desired: t.desired_state().name(),
        message: status.message,
        err: status.err,
        since: status.timestamp,
    }
}

fn service(summary: &ServiceSummary, store: &MemoryStore) -> Option<ServiceView> {
    let s = summary.service.as_ref()?;
    let spec = s.spec.as_ref();
    let update = s.update_status.clone().unwrap_or_default();
    let updated = store
        .tasks_of_service(&s.id)
        .filter(|t| t.desired_state() == TaskState::Running && t.spec_version == s.spec_version)
        .count() as u64;
    Some(ServiceView {
        id: s.id.clone(),
        name: s.name().to_string(),
        mode: s.mode_name(),
        image: spec.and_then(|s| s.task.as_ref()?.container.as_ref()).map(|c| c.image.clone()).unwrap_or_default(),
        running: summary.running_tasks,
        desired: summary.desired_tasks,
        completions: summary.total_completions,
        completed: summary.completed_tasks,
        update: update.state().name(),
        update_message: update.message,
        updated,
    })
}
