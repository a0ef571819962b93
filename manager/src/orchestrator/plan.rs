//! The orchestrator's vocabulary: the changes it decides on ([`Action`],
//! gathered in a [`Plan`]), what a decision is made with ([`Env`]), and
//! how a new task is made.

use shoal_proto::{Service, Task, TaskState, TaskStatus, UpdateStatus};

/// One change the orchestrator wants.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create(Box<Task>),
    SetDesired(String, TaskState),
    /// The service's update status; `true`: return to its previous spec.
    Status(Box<UpdateStatus>, bool),
}

/// What to do now, and when to look again (a restart delay ending).
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub wake_at: Option<i64>,
}

impl Plan {
    pub(super) fn wake(&mut self, at: i64) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }
}

/// What reconciling needs besides the service and its tasks.
pub struct Env<'a> {
    /// Time of the decision (unix ns).
    pub now: i64,
    /// Whether a node can no longer run the service's tasks (Down,
    /// drained, removed, or no longer meeting the service's constraints).
    pub lost: &'a dyn Fn(&str) -> bool,
    /// Names created tasks.
    pub new_id: &'a mut dyn FnMut() -> String,
}

/// Creation order: raft index first (leaders' clocks may disagree).
pub fn creation(task: &Task) -> (u64, i64) {
    task.meta.as_ref().map_or((0, 0), |m| (m.created_index, m.created_at))
}

/// A new task for `slot` of `service`, waiting for the scheduler.
pub fn new_task(
    service: &Service,
    slot: u64,
    desired: TaskState,
    restart_history: Vec<i64>,
    now: i64,
    id: String,
) -> Task {
    Task {
        id,
        service_id: service.id.clone(),
        slot,
        spec: service.spec.as_ref().and_then(|s| s.task.clone()),
        spec_version: service.spec_version,
        job_iteration: shoal_spec::tasks::job_iteration(service),
        service_name: service.name().to_string(),
        desired_state: desired as i32,
        status: Some(TaskStatus {
            timestamp: now,
            state: TaskState::Pending as i32,
            message: "pending task scheduling".into(),
            ..Default::default()
        }),
        restart_history,
        endpoint: service.endpoint.clone(),
        service_labels: service
            .spec
            .as_ref()
            .and_then(|s| s.annotations.as_ref())
            .map(|a| a.labels.clone())
            .unwrap_or_default(),
        ..Default::default()
    }
}
