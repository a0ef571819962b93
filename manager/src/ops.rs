//! Constructors for store operations, so callers read as what they do.

use shoal_proto::{
    NodeDescription, NodeStatus, NodeStatusOp, ObjectKind, ObjectRef, Op, ServiceStatusOp, StoreObject, TaskAssignOp,
    TaskDesiredOp, TaskState, TaskStatus, TaskStatusOp, UpdateStatus, op, store_object::Object,
};

pub fn create(object: Object) -> Op {
    Op { op: Some(op::Op::Create(StoreObject { object: Some(object) })) }
}

pub fn update(object: Object) -> Op {
    Op { op: Some(op::Op::Update(StoreObject { object: Some(object) })) }
}

pub fn delete(kind: ObjectKind, id: &str) -> Op {
    Op { op: Some(op::Op::Delete(ObjectRef { kind: kind as i32, id: id.to_string() })) }
}

pub fn task_desired(task_id: &str, state: TaskState) -> Op {
    task_desired_because(task_id, state, "")
}

/// [`task_desired`], saying why (kept on the task for `service ps`).
pub fn task_desired_because(task_id: &str, state: TaskState, reason: &str) -> Op {
    let desired =
        TaskDesiredOp { task_id: task_id.to_string(), desired_state: state as i32, reason: reason.to_string() };
    Op { op: Some(op::Op::TaskDesired(desired)) }
}

pub fn task_status(task_id: &str, status: TaskStatus) -> Op {
    Op { op: Some(op::Op::TaskStatus(TaskStatusOp { task_id: task_id.to_string(), status: Some(status) })) }
}

/// Assigns a task to `node_id`, or (empty node) records why it waits.
pub fn task_assign(task_id: &str, node_id: &str, message: &str) -> Op {
    Op {
        op: Some(op::Op::TaskAssign(TaskAssignOp {
            task_id: task_id.to_string(),
            node_id: node_id.to_string(),
            message: message.to_string(),
        })),
    }
}

pub fn node_status(node_id: &str, status: NodeStatus, description: Option<NodeDescription>) -> Op {
    Op {
        op: Some(op::Op::NodeStatus(NodeStatusOp { node_id: node_id.to_string(), status: Some(status), description })),
    }
}

/// Records how a rolling update of a service at `spec_version` stands;
/// with `rollback`, also returns the service to its previous spec.
pub fn service_status(service_id: &str, spec_version: u64, status: UpdateStatus, rollback: bool) -> Op {
    Op {
        op: Some(op::Op::ServiceStatus(ServiceStatusOp {
            service_id: service_id.to_string(),
            spec_version,
            update_status: Some(status),
            rollback,
        })),
    }
}
