//! `/secrets` and `/configs`: `docker secret|config create / ls /
//! inspect / rm`, and the update `docker stack deploy` sends for one that
//! exists (taken when it holds the same data and labels: a secret or
//! config never changes in shoal, as in Swarm but for labels).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use shoal_proto::{
    Annotations, ConfigSpec, CreateConfigRequest, CreateSecretRequest, GetConfigRequest, GetSecretRequest,
    ListConfigsRequest, ListSecretsRequest, RemoveConfigRequest, RemoveSecretRequest, SecretSpec,
};

use super::{ApiError, Backend, query};
use crate::filters;
use crate::shape::File;

/// Which of the two a route is about.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Kind {
    Secret,
    Config,
}

/// Docker's `SecretSpec` / `ConfigSpec`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct SpecIn {
    name: String,
    labels: Option<HashMap<String, String>>,
    /// Base64, as Docker's JSON carries bytes.
    data: String,
    driver: Option<Value>,
    templating: Option<DriverIn>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct DriverIn {
    name: String,
    options: Option<HashMap<String, String>>,
}

/// The parts of a spec shoal keeps: annotations, data, template driver.
struct Parsed {
    annotations: Annotations,
    data: Vec<u8>,
    templating: String,
}

fn parse(body: Result<Bytes, BytesRejection>, kind: Kind) -> Result<Parsed, ApiError> {
    let spec: SpecIn = query::body(body)?;
    if spec.driver.as_ref().is_some_and(|d| !d.is_null()) {
        return Err(ApiError::invalid("Driver: secret drivers are not supported by shoal"));
    }
    if kind == Kind::Config && spec.driver.is_some() {
        return Err(ApiError::invalid("Driver: a config has no driver"));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(spec.data.as_bytes())
        .map_err(|e| ApiError::invalid(format!("Data: expected base64, {e}")))?;
    let templating = spec.templating.map(|t| t.name).unwrap_or_default();
    let annotations = Annotations { name: spec.name, labels: spec.labels.unwrap_or_default() };
    Ok(Parsed { annotations, data, templating })
}

/// Every secret or config.
async fn all(b: &Backend, kind: Kind) -> Result<Vec<File>, ApiError> {
    let mut control = b.control.clone();
    Ok(match kind {
        Kind::Secret => {
            control.list_secrets(ListSecretsRequest {}).await?.into_inner().secrets.iter().map(File::from).collect()
        }
        Kind::Config => {
            control.list_configs(ListConfigsRequest {}).await?.into_inner().configs.iter().map(File::from).collect()
        }
    })
}

/// One, by id, id prefix or name.
async fn one(b: &Backend, kind: Kind, reference: String) -> Result<File, ApiError> {
    let mut control = b.control.clone();
    Ok(match kind {
        Kind::Secret => (&control.get_secret(GetSecretRequest { reference }).await?.into_inner()).into(),
        Kind::Config => (&control.get_config(GetConfigRequest { reference }).await?.into_inner()).into(),
    })
}

/// `GET /secrets?filters=`, `GET /configs?filters=`.
pub(super) async fn list(b: Backend, kind: Kind, q: HashMap<String, String>) -> Result<Json<Vec<Value>>, ApiError> {
    let filters = query::filters(q.get("filters").map(String::as_str), filters::file)?;
    let items = all(&b, kind).await?;
    let keep = |f: &&File| filters::named_matches(&filters, &f.id, &f.annotations.name, &f.annotations.labels);
    Ok(Json(items.iter().filter(keep).map(File::shown).collect()))
}

/// `GET /secrets/{id}`, `GET /configs/{id}`: by id, id prefix or name.
pub(super) async fn inspect(b: Backend, kind: Kind, reference: String) -> Result<Json<Value>, ApiError> {
    Ok(Json(one(&b, kind, reference).await?.shown()))
}

/// Creates one (`reuse`: answered unchanged if one of that name holds
/// the same data); its id.
async fn create_one(b: &Backend, kind: Kind, parsed: Parsed, reuse: bool) -> Result<String, ApiError> {
    let mut control = b.control.clone();
    let Parsed { annotations, data, templating } = parsed;
    Ok(match kind {
        Kind::Secret => {
            let spec = SecretSpec { annotations: Some(annotations), data, templating };
            control.create_secret(CreateSecretRequest { spec: Some(spec), reuse }).await?.into_inner().id
        }
        Kind::Config => {
            let spec = ConfigSpec { annotations: Some(annotations), data, templating };
            control.create_config(CreateConfigRequest { spec: Some(spec), reuse }).await?.into_inner().id
        }
    })
}

/// `POST /secrets/create`, `POST /configs/create`: `{"ID"}`.
pub(super) async fn create(
    b: Backend,
    kind: Kind,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let parsed = parse(body, kind)?;
    let id = create_one(&b, kind, parsed, false).await?;
    Ok((StatusCode::CREATED, Json(json!({ "ID": id }))))
}

/// `POST /secrets/{id}/update?version=N`: taken when nothing would
/// change (what `docker stack deploy` sends again for a file it deployed
/// before); other data or labels are refused, naming why.
pub(super) async fn update(
    b: Backend,
    kind: Kind,
    reference: String,
    q: HashMap<String, String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), ApiError> {
    let version = query::version(&q)?;
    let parsed = parse(body, kind)?;
    let current = one(&b, kind, reference).await?;
    let name = &current.annotations.name;
    if current.meta.version != version {
        return Err(ApiError::conflict(format!("update out of sequence: {name} changed since version {version}")));
    }
    if &parsed.annotations.name != name {
        return Err(ApiError::invalid(format!("Name: a {} cannot be renamed ({name})", noun(kind))));
    }
    if parsed.annotations.labels != current.annotations.labels {
        return Err(ApiError::invalid(format!(
            "Labels: the labels of {} {name} cannot change in shoal: remove it and create it again",
            noun(kind)
        )));
    }
    create_one(&b, kind, parsed, true).await?;
    Ok(())
}

/// `DELETE /secrets/{id}`, `DELETE /configs/{id}`.
pub(super) async fn remove(b: Backend, kind: Kind, reference: String) -> Result<StatusCode, ApiError> {
    let mut control = b.control.clone();
    match kind {
        Kind::Secret => drop(control.remove_secret(RemoveSecretRequest { reference }).await?),
        Kind::Config => drop(control.remove_config(RemoveConfigRequest { reference }).await?),
    }
    Ok(StatusCode::NO_CONTENT)
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Secret => "secret",
        Kind::Config => "config",
    }
}

/// The routes of one kind, under `/secrets` or `/configs`.
pub(super) fn routes(kind: Kind) -> axum::Router<Backend> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(move |State(b): State<Backend>, Query(q): Query<HashMap<String, String>>| list(b, kind, q)))
        .route(
            "/create",
            post(move |State(b): State<Backend>, body: Result<Bytes, BytesRejection>| create(b, kind, body)),
        )
        .route(
            "/{id}",
            get(move |State(b): State<Backend>, Path(id): Path<String>| inspect(b, kind, id))
                .delete(move |State(b): State<Backend>, Path(id): Path<String>| remove(b, kind, id)),
        )
        .route(
            "/{id}/update",
            post(
                move |State(b): State<Backend>,
                      Path(id): Path<String>,
                      Query(q): Query<HashMap<String, String>>,
                      body: Result<Bytes, BytesRejection>| update(b, kind, id, q, body),
            ),
        )
}
