//! Tasks in Docker's shape.

use serde_json::{Value, json};
use shoal_proto::{Task, TaskState};

use super::service::task_spec;
use super::{Obj, meta, rfc3339};

pub fn task(t: &Task) -> Value {
    let status = t.status.clone().unwrap_or_default();
    let c = status.container.unwrap_or_default();
    let state = TaskState::try_from(status.state).unwrap_or_default();
    let desired = TaskState::try_from(t.desired_state).unwrap_or_default();
    meta(Obj::new(), &t.id, t.meta.as_ref())
        .always("Labels", json!({}))
        .always("Spec", task_spec(t.spec.as_ref()))
        .always("ServiceID", t.service_id.clone())
        .always("Slot", t.slot)
        .put("NodeID", t.node_id.clone())
        .always(
            "Status",
            Obj::new()
                .always("Timestamp", rfc3339(status.timestamp))
                .always("State", state.name())
                .always("Message", status.message)
                .put("Err", status.err)
                .always(
                    "ContainerStatus",
                    json!({ "ContainerID": c.container_id, "PID": c.pid, "ExitCode": c.exit_code }),
                )
                .always("PortStatus", json!({}))
                .done(),
        )
        .always("DesiredState", desired.name())
        .put(
            "NetworksAttachments",
            t.networks
                .iter()
                .map(|n| json!({ "Network": { "ID": n.network_id }, "Addresses": n.addresses }))
                .collect::<Vec<_>>(),
        )
        .done()
}
