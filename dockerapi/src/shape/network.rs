//! Networks in Docker's shape (`docker network inspect`).

use serde_json::{Value, json};
use shoal_proto::Network;

use super::{labels, rfc3339};

/// A network as Docker's swarm-scoped overlay networks are shown.
pub fn network(n: &Network) -> Value {
    let spec = n.spec.clone().unwrap_or_default();
    let allocation = n.allocation.clone().unwrap_or_default();
    json!({
        "Name": n.name(),
        "Id": n.id,
        "Created": rfc3339(n.meta.as_ref().map_or(0, |m| m.created_at)),
        "Scope": "swarm",
        "Driver": spec.driver,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [{ "Subnet": allocation.subnet, "Gateway": allocation.gateway }],
        },
        "Internal": spec.internal,
        "Attachable": spec.attachable,
        "Ingress": spec.ingress,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": null,
        "Options": { "com.docker.network.driver.overlay.vxlanid_list": allocation.vni.to_string() },
        "Labels": labels(&spec.annotations.unwrap_or_default().labels),
    })
}
