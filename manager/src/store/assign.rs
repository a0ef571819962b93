//! A scheduler decision applied to a task: assigned to its node with its
//! addresses on the networks it joins, or left pending with the reason
//! (no suitable node, or no address left on one of its networks).

use std::net::Ipv4Addr;

use shoal_proto::{Task, TaskState};

use crate::allocator::Allocations;

/// Assigns `task` to `node_id` (empty: records `reason` for waiting),
/// its addresses other than `avoid` when it can. Returns whether the task
/// changed; a task that moved on meanwhile (or is no longer meant to run)
/// is left alone.
pub(super) fn assign(
    task: &mut Task,
    node_id: &str,
    reason: &str,
    allocations: &Allocations,
    avoid: &[Ipv4Addr],
    now: i64,
) -> bool {
    // The desired state raw: in the apply, an unknown value (a newer
    // peer's) orders as sent.
    if task.state() > TaskState::Pending || task.desired_state > TaskState::Running as i32 {
        return false;
    }
    if node_id.is_empty() {
        return wait(task, reason, now);
    }
    match allocations.attach(task, avoid) {
        Ok(networks) => task.networks = networks,
        Err(err) => return wait(task, &err.to_string(), now),
    }
    task.node_id = node_id.to_string();
    let status = task.status.get_or_insert_with(Default::default);
    status.set_state(TaskState::Assigned);
    status.err.clear();
    status.message = "scheduler assigned task to node".into();
    status.timestamp = now;
    true
}

/// Leaves the task pending with `reason` (unchanged if it says so already).
fn wait(task: &mut Task, reason: &str, now: i64) -> bool {
    let status = task.status.get_or_insert_with(Default::default);
    if status.state() == TaskState::Pending && status.err == reason {
        return false;
    }
    status.set_state(TaskState::Pending);
    status.err = reason.to_string();
    status.message = "pending task scheduling".into();
    status.timestamp = now;
    true
}
