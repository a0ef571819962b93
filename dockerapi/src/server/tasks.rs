//! `/tasks`: what `docker service ps`, `docker node ps` and `docker
//! stack ps` list, and what providers such as Traefik's read (`filters=
//! {"service":[ID],"desired-state":["running"]}`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::Value;
use shoal_proto::{GetTaskRequest, ListServicesRequest, ListTasksRequest, Task, TaskState};
use tonic::Code;

use super::{ApiError, Backend, query};
use crate::{filters, shape};

/// `GET /tasks?filters=`: services, nodes and desired states are asked
/// of the control API; a service or node filter naming nothing matches
/// nothing (as Docker's daemon answers).
pub(super) async fn list(
    State(b): State<Backend>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let filters = query::filters(q.get("filters").map(String::as_str), filters::task)?;
    let owned = |key| filters::values(&filters, key).into_iter().map(str::to_string).collect::<Vec<_>>();
    let desired_states = filters::values(&filters, "desired-state")
        .into_iter()
        .map(|s| match s {
            "running" => TaskState::Running,
            "accepted" => TaskState::Accepted,
            _ => TaskState::Shutdown,
        } as i32)
        .collect();
    let request = ListTasksRequest { services: owned("service"), desired_states, nodes: owned("node") };
    let tasks = match b.control.clone().list_tasks(request).await {
        Ok(answer) => answer.into_inner().tasks,
        Err(status) if status.code() == Code::NotFound => Vec::new(),
        Err(status) => return Err(status.into()),
    };
    // A label filter is matched against each task's service's labels;
    // `_up-to-date` keeps the tasks of their service's current spec.
    let up_to_date = !filters::values(&filters, "_up-to-date").is_empty();
    let mut services = HashMap::new();
    if up_to_date || !filters::values(&filters, "label").is_empty() {
        let listed = b.control.clone().list_services(ListServicesRequest {}).await?.into_inner().services;
        services = listed.into_iter().filter_map(|s| s.service).map(|s| (s.id.clone(), s)).collect();
    }
    let keep = |t: &&Task| {
        let service = services.get(&t.service_id);
        let labels = service.and_then(|s| s.spec.as_ref()).and_then(|s| s.annotations.as_ref()).map(|a| &a.labels);
        let current = !up_to_date || service.is_some_and(|s| !shoal_spec::tasks::is_dirty(s, t));
        current && filters::task_matches(&filters, t, labels)
    };
    Ok(Json(tasks.iter().filter(keep).map(shape::task).collect()))
}

/// `GET /tasks/{id}`.
pub(super) async fn inspect(State(b): State<Backend>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let task = b.control.clone().get_task(GetTaskRequest { reference: id }).await?.into_inner();
    Ok(Json(shape::task(&task)))
}
