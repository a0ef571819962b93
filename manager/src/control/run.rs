//! Tasks outside any service (`shoal run`), Docker's standalone
//! containers on attachable networks: a task bound to one node, which the
//! scheduler assigns there (or says why it cannot) and the allocator
//! gives its addresses, as for a service's task. No orchestrator restarts
//! or replaces it; it runs once, and the orchestrator deletes it once it
//! has stopped after [`remove`] (`reaper::reap_standalone`). Its name is
//! unique among live runs and services: the cluster's DNS answers it.

use shoal_proto::{RemoveTaskResponse, RunTaskRequest, Task, TaskState, TaskStatus, now_nanos, store_object::Object};

use super::endpoint::{Joiner, resolve_attachments};
use shoal_spec::{runtime, validate};

use super::{ControlError, Result, resolve};
use crate::ids::new_id;
use crate::ops;
use crate::proposer::Proposer;
use crate::store::Store;

/// Creates the task, pending on its node; returns it as stored.
pub async fn run(store: &Store, proposer: &Proposer, req: RunTaskRequest) -> Result<Task> {
    let mut spec = req.spec.unwrap_or_default();
    validate::task_spec(&mut spec)?;
    store.view(|s| runtime::fill(&mut spec, runtime::cluster_default(s.cluster())));
    let name = if req.name.is_empty() { validate::random_name() } else { req.name };
    validate::check_name(&name)?;
    let node_id = store.view(|s| {
        // One name, one thing to reach by it (the cluster's DNS answers it).
        if s.service_by_name(&name).is_some() {
            return Err(ControlError::Refused(format!("name {name}: a service has this name")));
        }
        let live = |t: &&Task| t.desired_state() <= TaskState::Running;
        if let Some(other) = s.tasks_of_service("").filter(live).find(|t| t.service_name == name) {
            return Err(ControlError::Refused(format!(
                "name {name}: in use by task {} (shoal rm {name} removes it)",
                other.id
            )));
        }
        resolve_attachments(s, &mut spec.networks, Joiner::Standalone)?;
        Ok::<_, ControlError>(resolve::node(s, &req.node)?.id.clone())
    })?;
    let now = now_nanos();
    let task = Task {
        id: new_id(),
        service_name: name,
        node_id,
        spec: Some(spec),
        desired_state: TaskState::Running as i32,
        status: Some(TaskStatus {
            timestamp: now,
            state: TaskState::Pending as i32,
            message: "pending task scheduling".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = task.id.clone();
    proposer.propose(vec![ops::create(Object::Task(task))]).await?;
    get(store, &id, None)
}

/// Asks a task `run` started to stop (it is deleted once it has); `node`:
/// only a task on that node (a worker asking for its own).
pub async fn remove(
    store: &Store,
    proposer: &Proposer,
    reference: &str,
    node: Option<&str>,
) -> Result<RemoveTaskResponse> {
    let task = get(store, reference, node)?;
    if !task.service_id.is_empty() {
        return Err(ControlError::Refused(format!(
            "task {} belongs to service {}: scale or remove the service instead",
            task.name(),
            task.service_name
        )));
    }
    if task.desired_state() < TaskState::Remove {
        proposer.propose(vec![ops::task_desired(&task.id, TaskState::Remove)]).await?;
    }
    Ok(RemoveTaskResponse { task_id: task.id })
}

/// A task; `node`: only among that node's (nothing of the others shows).
pub fn get(store: &Store, reference: &str, node: Option<&str>) -> Result<Task> {
    Ok(store.view(|s| match node {
        Some(node) => resolve::task_on(s, reference, node).cloned(),
        None => resolve::task(s, reference).cloned(),
    })?)
}
