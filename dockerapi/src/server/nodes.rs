//! `/nodes`: `docker node ls / inspect / update / promote / demote / rm`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::Value;
use shoal_proto::{GetNodeRequest, ListNodesRequest, NodeAvailability, NodeRole, RemoveNodeRequest, UpdateNodeRequest};

use super::{ApiError, Backend, query};
use crate::{filters, shape};

/// `GET /nodes?filters=`: every node, in Docker's shape.
pub(super) async fn list(
    State(b): State<Backend>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let filters = query::filters(q.get("filters").map(String::as_str), filters::node)?;
    let nodes = b.control.clone().list_nodes(ListNodesRequest {}).await?.into_inner().nodes;
    Ok(Json(nodes.iter().filter(|n| filters::node_matches(&filters, n)).map(shape::node).collect()))
}

/// `GET /nodes/{id}`: by id, id prefix or hostname.
pub(super) async fn inspect(State(b): State<Backend>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let node = b.control.clone().get_node(GetNodeRequest { reference: id }).await?.into_inner();
    Ok(Json(shape::node(&node)))
}

/// `DELETE /nodes/{id}?force=`.
pub(super) async fn remove(
    State(b): State<Backend>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<(), ApiError> {
    let force = query::flag(q.get("force").map(String::as_str));
    b.control.clone().remove_node(RemoveNodeRequest { reference: id, force }).await?;
    Ok(())
}

/// Docker's `NodeSpec`, as `docker node update` sends it whole.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct NodeSpec {
    #[serde(default)]
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    availability: Option<String>,
}

/// `POST /nodes/{id}/update?version=N`: the whole spec; the difference
/// with the node's current spec is what the control API is asked to
/// change, from version N (refused, 409, if the node changed since).
pub(super) async fn update(
    State(b): State<Backend>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), ApiError> {
    let version = query::version(&q)?;
    let wanted: NodeSpec = query::body(body)?;
    let availability = wanted.availability.as_deref().map(availability).transpose()?;
    let role = wanted.role.as_deref().map(role).transpose()?;
    let mut control = b.control.clone();
    let node = control.get_node(GetNodeRequest { reference: id }).await?.into_inner();
    let spec = node.spec.clone().unwrap_or_default();
    let current = spec.annotations.clone().unwrap_or_default().labels;
    let wanted_labels = wanted.labels.unwrap_or_default();
    let label_add: HashMap<String, String> = wanted_labels
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let label_rm: Vec<String> = current.keys().filter(|k| !wanted_labels.contains_key(*k)).cloned().collect();
    let request = UpdateNodeRequest {
        reference: node.id,
        availability: availability.filter(|a| *a != spec.availability()).map(|a| a as i32),
        label_add,
        label_rm,
        role: role.filter(|r| *r != spec.desired_role()).map(|r| r as i32),
        // The control API refuses it (409) if the node changed since the
        // caller read it; an update that changes nothing is checked too.
        version: Some(version),
    };
    control.update_node(request).await?;
    Ok(())
}

fn availability(text: &str) -> Result<NodeAvailability, ApiError> {
    NodeAvailability::from_name(text)
        .ok_or_else(|| ApiError::invalid(format!("Availability: expected active, pause or drain, got {text:?}")))
}

fn role(text: &str) -> Result<NodeRole, ApiError> {
    NodeRole::from_name(text)
        .ok_or_else(|| ApiError::invalid(format!("Role: expected worker or manager, got {text:?}")))
}
