//! `/services`: `docker service create / ls / inspect / update /
//! rollback / scale / rm` (and what `service ps` and `stack services`
//! read). Specs come in Docker's JSON ([`crate::parse`]); the control
//! API checks them as it checks `shoal service create`'s.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};
use shoal_proto::{
    CreateServiceRequest, GetServiceRequest, ListServicesRequest, PullOptions, RemoveServiceRequest, ServiceSpec,
    UpdateServiceRequest,
};

use super::{ApiError, Backend, query};
use crate::{filters, parse, shape};

/// `GET /services?filters=&status=`: every service in Docker's shape;
/// with `status`, the `ServiceStatus` counts `docker service ls` shows
/// as REPLICAS (running, desired, and completed for jobs).
pub(super) async fn list(
    State(b): State<Backend>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let filters = query::filters(q.get("filters").map(String::as_str), filters::service)?;
    let status = query::flag(q.get("status").map(String::as_str));
    let services = b.control.clone().list_services(ListServicesRequest {}).await?.into_inner().services;
    let shown = services
        .iter()
        .filter_map(|summary| {
            let service = summary.service.as_ref().filter(|s| filters::service_matches(&filters, s))?;
            let mut value = for_docker(service);
            if status {
                value["ServiceStatus"] = json!({
                    "RunningTasks": summary.running_tasks,
                    "DesiredTasks": summary.desired_tasks,
                    "CompletedTasks": summary.completed_tasks,
                });
            }
            Some(value)
        })
        .collect();
    Ok(Json(shown))
}

/// `GET /services/{id}`: by id, id prefix or name.
pub(super) async fn inspect(State(b): State<Backend>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let service = b.control.clone().get_service(GetServiceRequest { reference: id }).await?.into_inner();
    Ok(Json(for_docker(&service)))
}

/// A service as the API answers it: shoal's inspect JSON without the
/// runtime's name (Docker's `Runtime` is the kind of task, and the docker
/// CLI refuses to send back a spec whose runtime is not `container`; an
/// update that leaves it out keeps the service's runtime).
fn for_docker(service: &shoal_proto::Service) -> Value {
    let mut value = shape::service(service);
    for spec in ["Spec", "PreviousSpec"] {
        if let Some(task) = value.get_mut(spec).and_then(|s| s.get_mut("TaskTemplate")).and_then(Value::as_object_mut) {
            task.remove("Runtime");
        }
    }
    value
}

/// The spec in a create or update body, with the registry credentials
/// of `X-Registry-Auth` (else the current spec's, on an update). What
/// the body leaves out of shoal's own fields is kept from `current`.
fn spec_in(
    body: Result<Bytes, BytesRejection>,
    headers: &HeaderMap,
    current: Option<&ServiceSpec>,
) -> Result<(ServiceSpec, Vec<String>), ApiError> {
    let value: Value = query::body(body)?;
    let (mut spec, warnings) = parse::service_spec(value, current).map_err(|e| ApiError::invalid(e.0))?;
    let kept =
        current.and_then(|s| s.task.as_ref()).and_then(|t| t.container.as_ref()).and_then(|c| c.pull_options.clone());
    let auth = headers.get("X-Registry-Auth").and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty());
    let pull = match auth {
        Some(auth) => Some(PullOptions { registry_auth: auth.to_string() }),
        None => kept,
    };
    if let Some(container) = spec.task.as_mut().and_then(|t| t.container.as_mut()) {
        container.pull_options = pull;
    }
    Ok((spec, warnings))
}

/// `POST /services/create`: `{"ID", "Warnings"}`.
pub(super) async fn create(
    State(b): State<Backend>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let (spec, warnings) = spec_in(body, &headers, None)?;
    let service = b.control.clone().create_service(CreateServiceRequest { spec: Some(spec) }).await?.into_inner();
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "ID": service.id, "Warnings": warnings }))))
}

/// `POST /services/{id}/update?version=N[&rollback=previous]`: the whole
/// new spec, refused (409) if the service changed since version N; with
/// `rollback=previous`, back to the previous spec (the body is ignored,
/// as Docker's daemon ignores it).
pub(super) async fn update(
    State(b): State<Backend>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let version = query::version(&q)?;
    let rollback = match q.get("rollback").map(String::as_str) {
        None | Some("") => false,
        Some("previous") => true,
        Some(other) => return Err(ApiError::invalid(format!("rollback: expected \"previous\", got {other:?}"))),
    };
    let mut control = b.control.clone();
    let current = control.get_service(GetServiceRequest { reference: id }).await?.into_inner();
    let (spec, warnings) = match rollback {
        true => (None, Vec::new()),
        false => spec_in(body, &headers, current.spec.as_ref()).map(|(spec, warnings)| (Some(spec), warnings))?,
    };
    let request = UpdateServiceRequest { service_id: current.id, version, spec, rollback, rollback_to: 0 };
    control.update_service(request).await?;
    Ok(Json(json!({ "Warnings": warnings })))
}

/// `DELETE /services/{id}`.
pub(super) async fn remove(State(b): State<Backend>, Path(id): Path<String>) -> Result<(), ApiError> {
    b.control.clone().remove_service(RemoveServiceRequest { reference: id }).await?;
    Ok(())
}
