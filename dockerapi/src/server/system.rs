//! `/_ping`, `/version`, `/info` and `/swarm`: what the docker CLI asks
//! first (`docker version`, `docker info`, the node marked `*` in `docker
//! node ls`), answered from the node's own state and, on a manager, the
//! cluster's.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shoal_proto::{GetClusterRequest, GetNodeRequest, InfoRequest, InfoResponse, ListNodesRequest, Node};

use super::{API_VERSION, ApiError, Backend, MIN_API_VERSION};
use crate::shape;

/// Docker's `Swarm` ping header and `LocalNodeState`.
fn local_state(me: &InfoResponse) -> &'static str {
    if me.locked {
        "locked"
    } else if me.node_id.is_empty() {
        "inactive"
    } else {
        "active"
    }
}

/// `GET|HEAD /_ping`: `OK`, with the API version (how the CLI negotiates)
/// and the node's swarm state (`active/manager`, `active/worker`).
pub(super) async fn ping(State(b): State<Backend>) -> Response {
    let swarm = match b.admin.clone().info(InfoRequest {}).await {
        Ok(me) => {
            let me = me.into_inner();
            match local_state(&me) {
                "active" if me.manager => "active/manager",
                "active" => "active/worker",
                other => other,
            }
        }
        Err(_) => "error",
    };
    let mut response = "OK".into_response();
    let headers = response.headers_mut();
    headers.insert("Swarm", HeaderValue::from_static(swarm));
    headers.insert("Cache-Control", HeaderValue::from_static("no-cache, no-store, must-revalidate"));
    headers.insert("Pragma", HeaderValue::from_static("no-cache"));
    response
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// `GET /version`: shoal's version where Docker's engine has its own.
pub(super) async fn version(State(b): State<Backend>) -> Json<Value> {
    let arch = std::env::consts::ARCH;
    let details = json!({ "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": arch });
    Json(json!({
        "Platform": { "Name": format!("shoal {}", b.engine_version) },
        "Components": [{ "Name": "Engine", "Version": b.engine_version, "Details": details }],
        "Version": b.engine_version,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel(),
        "BuildTime": "",
    }))
}

/// `GET /info`: the node, and its swarm as `docker info` shows it (on a
/// manager: the cluster, its node and manager counts, the managers).
pub(super) async fn info(State(b): State<Backend>) -> Result<Json<Value>, ApiError> {
    let me = b.admin.clone().info(InfoRequest {}).await?.into_inner();
    let mut control = b.control.clone();
    let (mut nodes, mut cluster) = (Vec::new(), None);
    if me.manager && !me.locked {
        nodes = control.list_nodes(ListNodesRequest {}).await?.into_inner().nodes;
        cluster = Some(control.get_cluster(GetClusterRequest {}).await?.into_inner());
    }
    let this = nodes.iter().find(|n| n.id == me.node_id).cloned();
    let this = match this {
        Some(n) => Some(n),
        None if me.manager && !me.node_id.is_empty() => {
            control.get_node(GetNodeRequest { reference: me.node_id.clone() }).await.ok().map(|r| r.into_inner())
        }
        None => None,
    };
    let description = this.as_ref().and_then(|n| n.description.clone()).unwrap_or_default();
    let resources = description.resources.unwrap_or_default();
    let ip = me.addr.rsplit_once(':').map_or(me.addr.as_str(), |(ip, _)| ip);
    let managers: Vec<&Node> = nodes.iter().filter(|n| n.manager_status.is_some()).collect();
    let remote: Vec<Value> = managers
        .iter()
        .map(|n| json!({ "NodeID": n.id, "Addr": n.manager_status.as_ref().map(|m| m.addr.clone()) }))
        .collect();
    let mut swarm = json!({
        "NodeID": me.node_id,
        "NodeAddr": ip,
        "LocalNodeState": local_state(&me),
        "ControlAvailable": me.manager,
        "Error": "",
        "RemoteManagers": remote,
    });
    if let Some(cluster) = &cluster {
        let mut shown = shape::cluster(cluster);
        if let Some(obj) = shown.as_object_mut() {
            obj.remove("JoinTokens");
        }
        swarm["Nodes"] = json!(nodes.len());
        swarm["Managers"] = json!(managers.len());
        swarm["Cluster"] = shown;
    }
    let labels: Vec<String> = description.engine_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(Json(json!({
        "ID": me.node_id,
        "Containers": 0,
        "ContainersRunning": 0,
        "ContainersPaused": 0,
        "ContainersStopped": 0,
        "Images": 0,
        "Name": me.hostname,
        "ServerVersion": b.engine_version,
        "OperatingSystem": "shoal",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "KernelVersion": kernel(),
        "NCPU": match resources.nano_cpus / 1_000_000_000 {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get() as i64),
            known => known,
        },
        "MemTotal": resources.memory_bytes,
        "Labels": labels,
        "Plugins": shape::plugins(),
        "Runtimes": description.runtimes.iter().map(|r| (r.clone(), json!({}))).collect::<serde_json::Map<_, _>>(),
        "Swarm": swarm,
        "Warnings": [],
    })))
}

/// `GET /swarm`: the cluster as `docker swarm inspect` shows it (join
/// tokens included, as Docker answers on its socket).
pub(super) async fn swarm(State(b): State<Backend>) -> Result<Json<Value>, ApiError> {
    let cluster = b.control.clone().get_cluster(GetClusterRequest {}).await?.into_inner();
    Ok(Json(shape::cluster(&cluster)))
}
