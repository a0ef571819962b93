//! Nodes and the cluster (Docker's swarm) in Docker's shape.

use serde_json::{Value, json};
use shoal_proto::{Node, NodeAvailability, NodeRole, NodeState, Reachability};

use super::{Obj, labels, meta};

/// The drivers a shoal node honours, by Docker's plugin type: volumes of
/// the local driver (others only through the docker runtime's engine),
/// overlay networks, json-file logs.
const PLUGINS: [(&str, &str); 3] =
    [("Volume", "local"), ("Network", shoal_spec::network::OVERLAY), ("Log", shoal_proto::logging::JSON_FILE)];

/// The drivers as `GET /info` lists them (`Plugins`: names by type).
pub fn plugins() -> Value {
    let mut by_type = serde_json::Map::new();
    for (kind, name) in PLUGINS {
        by_type.insert(kind.into(), json!([name]));
    }
    by_type.insert("Authorization".into(), Value::Null);
    Value::Object(by_type)
}

pub fn node(n: &Node) -> Value {
    let spec = n.spec.clone().unwrap_or_default();
    let d = n.description.clone().unwrap_or_default();
    let platform = d.platform.unwrap_or_default();
    let resources = d.resources.unwrap_or_default();
    let limits = d.limits.unwrap_or_default();
    let status = n.status.clone().unwrap_or_default();
    let role = NodeRole::try_from(spec.desired_role).unwrap_or_default();
    let availability = NodeAvailability::try_from(spec.availability).unwrap_or_default();
    let state = NodeState::try_from(status.state).unwrap_or_default();
    let ip = status.addr.rsplit_once(':').map_or(status.addr.as_str(), |(ip, _)| ip);
    let mut obj = meta(Obj::new(), &n.id, n.meta.as_ref())
        .always(
            "Spec",
            json!({
                "Labels": labels(&spec.annotations.unwrap_or_default().labels),
                "Role": role.name(),
                "Availability": availability.name(),
            }),
        )
        .always(
            "Description",
            json!({
                "Hostname": d.hostname,
                "Platform": { "Architecture": platform.architecture, "OS": platform.os },
                "Resources": { "NanoCPUs": resources.nano_cpus, "MemoryBytes": resources.memory_bytes },
                "Limits": { "Cgroup": limits.cgroup, "Enforced": limits.enforced, "Message": limits.message },
                "Engine": {
                    "EngineVersion": d.engine_version,
                    "Labels": labels(&d.engine_labels),
                    "Runtimes": d.runtimes,
                    "Plugins": PLUGINS.iter().map(|(kind, name)| json!({ "Type": kind, "Name": name })).collect::<Vec<_>>(),
                },
                "Docker": d.docker.as_ref().map(|e| json!({
                    "Version": e.version,
                    "APIVersion": e.api_version,
                    "OS": e.os,
                    "Architecture": e.architecture,
                })),
            }),
        )
        .always(
            "Status",
            Obj::new()
                .always("State", state.title().to_lowercase())
                .put("Message", status.message)
                .always("Addr", ip)
                .done(),
        );
    if let Some(m) = &n.manager_status {
        let reachability = match Reachability::try_from(m.reachability).unwrap_or_default() {
            Reachability::Reachable => "reachable",
            Reachability::Unreachable => "unreachable",
            Reachability::Unknown => "unknown",
        };
        obj = obj.always(
            "ManagerStatus",
            Obj::new()
                .put("Leader", m.leader)
                .always("Reachability", reachability)
                .always("Addr", m.addr.clone())
                .done(),
        );
    }
    obj.done()
}

/// The cluster as `docker swarm inspect` shows a swarm.
pub fn cluster(c: &shoal_proto::Cluster) -> Value {
    let default_runtime = shoal_spec::runtime::cluster_default(Some(c));
    let spec = c.spec.clone().unwrap_or_default();
    let heartbeat = spec.dispatcher.map_or(0, |d| d.heartbeat_period_ns);
    let history = spec.orchestration.map_or(0, |o| o.task_history_retention_limit);
    let expiry = spec.ca.map_or(0, |c| c.node_cert_expiry_ns);
    let tokens = c.root_ca.clone().and_then(|r| r.join_tokens).unwrap_or_default();
    meta(Obj::new(), &c.id, c.meta.as_ref())
        .always(
            "Spec",
            json!({
                "Name": "default",
                "Labels": labels(&spec.annotations.clone().unwrap_or_default().labels),
                "Orchestration": { "TaskHistoryRetentionLimit": history },
                "Dispatcher": { "HeartbeatPeriod": heartbeat },
                "CAConfig": { "NodeCertExpiry": expiry },
                "EncryptionConfig": { "AutoLockManagers": spec.autolock_managers },
                "DefaultRuntime": default_runtime,
            }),
        )
        .always("JoinTokens", json!({ "Worker": tokens.worker, "Manager": tokens.manager }))
        .always("DataPathPort", spec.data_path_port)
        .done()
}
