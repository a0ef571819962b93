//! `/networks`: `docker network create -d overlay / ls / inspect / rm`,
//! and what `docker stack deploy` asks of networks (its own by label,
//! external ones by name, scope swarm).

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use shoal_proto::{
    Annotations, CreateNetworkRequest, GetNetworkRequest, ListNetworksRequest, NetworkSpec, RemoveNetworkRequest,
};

use super::{ApiError, Backend, query};
use crate::{filters, shape};

/// `GET /networks?filters=`.
pub(super) async fn list(
    State(b): State<Backend>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let filters = query::filters(q.get("filters").map(String::as_str), filters::network)?;
    let networks = b.control.clone().list_networks(ListNetworksRequest {}).await?.into_inner().networks;
    Ok(Json(networks.iter().filter(|n| filters::network_matches(&filters, n)).map(shape::network).collect()))
}

/// `GET /networks/{id}`: by id, id prefix or name.
pub(super) async fn inspect(State(b): State<Backend>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let network = b.control.clone().get_network(GetNetworkRequest { reference: id }).await?.into_inner();
    Ok(Json(shape::network(&network)))
}

/// How long `DELETE /networks/{id}` waits for the tasks of removed
/// services to stop and give back their addresses.
const STOPPING: Duration = Duration::from_secs(30);

/// `DELETE /networks/{id}`. A network still held by tasks that are
/// stopping (their service was just removed: `docker stack rm` removes
/// the services, then at once the networks) is removed once they have
/// stopped, as `shoal stack rm` waits for them, within [`STOPPING`].
pub(super) async fn remove(State(b): State<Backend>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let deadline = tokio::time::Instant::now() + STOPPING;
    loop {
        match b.control.clone().remove_network(RemoveNetworkRequest { reference: id.clone() }).await {
            Ok(_) => return Ok(StatusCode::NO_CONTENT),
            Err(e) if e.message().contains("not stopped yet") && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Docker's network create request.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct CreateIn {
    name: String,
    driver: String,
    scope: String,
    internal: bool,
    attachable: bool,
    ingress: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<IpamIn>,
    #[serde(rename = "EnableIPv4")]
    enable_ipv4: Option<bool>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    options: Option<HashMap<String, String>>,
    labels: Option<HashMap<String, String>>,
    check_duplicate: Option<bool>,
    config_only: bool,
    config_from: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct IpamIn {
    driver: String,
    config: Option<Vec<IpamConfigIn>>,
    options: Option<HashMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields, default)]
struct IpamConfigIn {
    subnet: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
    gateway: String,
    aux_address: Option<HashMap<String, String>>,
}

/// `POST /networks/create`: an overlay network (`{"Id", "Warning"}`).
pub(super) async fn create(
    State(b): State<Backend>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let wanted: CreateIn = query::body(body)?;
    let (spec, warning) = wanted.into_spec()?;
    let network = b.control.clone().create_network(CreateNetworkRequest { spec: Some(spec) }).await?.into_inner();
    Ok((StatusCode::CREATED, Json(json!({ "Id": network.id, "Warning": warning }))))
}

impl CreateIn {
    /// The spec, and a warning for what was ignored.
    fn into_spec(self) -> Result<(NetworkSpec, String), ApiError> {
        let unsupported = |what: &str| ApiError::invalid(format!("{what}: not supported by shoal"));
        if !matches!(self.driver.as_str(), "" | "overlay") {
            return Err(ApiError::invalid(format!(
                "Driver: shoal's networks are overlays (-d overlay), got {:?}",
                self.driver
            )));
        }
        if !matches!(self.scope.as_str(), "" | "swarm") {
            return Err(ApiError::invalid(format!("Scope: shoal's networks are swarm-scoped, got {:?}", self.scope)));
        }
        if self.enable_ipv6 == Some(true) {
            return Err(unsupported("EnableIPv6"));
        }
        if self.enable_ipv4 == Some(false) {
            return Err(unsupported("EnableIPv4=false"));
        }
        if self.config_only || self.config_from.as_ref().is_some_and(|c| !c.is_null()) {
            return Err(unsupported("ConfigOnly/ConfigFrom"));
        }
        let _ = self.check_duplicate;
        // As `shoal stack deploy` does with `driver_opts`: said, not refused.
        let mut ignored: Vec<String> = self.options.unwrap_or_default().into_keys().collect();
        ignored.sort();
        let warning = match ignored.is_empty() {
            true => String::new(),
            false => format!("Options {}: not supported by shoal, ignored", ignored.join(", ")),
        };
        let ipam = self.ipam.unwrap_or_default();
        if !matches!(ipam.driver.as_str(), "" | "default") || ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
            return Err(unsupported("IPAM.Driver and IPAM.Options"));
        }
        let mut configs = ipam.config.unwrap_or_default();
        if configs.len() > 1 {
            return Err(ApiError::invalid("IPAM.Config: shoal takes one subnet per network"));
        }
        let config = configs.pop().unwrap_or_default();
        if !config.ip_range.is_empty() || config.aux_address.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(unsupported("IPAM.Config.IPRange and AuxAddress"));
        }
        let spec = NetworkSpec {
            annotations: Some(Annotations { name: self.name, labels: self.labels.unwrap_or_default() }),
            driver: "overlay".into(),
            subnet: config.subnet,
            gateway: config.gateway,
            attachable: self.attachable,
            ingress: self.ingress,
            internal: self.internal,
        };
        Ok((spec, warning))
    }
}
