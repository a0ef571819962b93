//! The constraint enforcer's decisions, pure: which tasks running on a
//! node must stop because the node can no longer hold them, as swarmkit's
//! constraint enforcer. A node that no longer meets a task's constraints
//! loses it (the orchestrator also moves it at once, as from a lost
//! node); a node whose resources shrank below what its tasks reserve
//! (it restarted with fewer CPUs, say) loses the newest of them until the
//! rest fit. Each such task is rejected with [`REASON`], so `service ps`
//! says why, and its restart policy decides what follows.

use shoal_proto::{Task, TaskState, TaskStatus};
use shoal_scheduler::Resources;

use super::plan::creation;
use crate::scheduler::reservations;

/// The error a rejected task shows (Swarm's words).
pub const REASON: &str = "assigned node no longer meets constraints";

/// The status a task stopped by the enforcer takes.
pub fn rejected(now: i64) -> TaskStatus {
    TaskStatus {
        state: TaskState::Rejected as i32,
        message: "task rejected by constraint enforcer".into(),
        err: REASON.into(),
        timestamp: now,
        ..Default::default()
    }
}

/// On its node and meant to run there: what the enforcer watches.
pub fn is_placed(task: &Task) -> bool {
    let state = task.state();
    state >= TaskState::Assigned && state <= TaskState::Running && task.desired_state() <= TaskState::Running
}

/// Ids of the tasks among `tasks` (all the tasks of one node) to stop so
/// that the placed ones fit in the node's `capacity`: newest first. A
/// size the node does not report (0) is not enforced.
pub fn over_capacity(capacity: Resources, tasks: &[&Task]) -> Vec<String> {
    let mut placed: Vec<&Task> = tasks.iter().copied().filter(|t| is_placed(t)).collect();
    placed.sort_by_key(|t| std::cmp::Reverse((creation(t), t.id.clone())));
    let mut reserved = Resources::default();
    for task in &placed {
        reserved.add(&reservations(task.spec.as_ref()));
    }
    let over = |total: i64, used: i64| total > 0 && used > total;
    let mut evicted = Vec::new();
    for task in placed {
        let cpu = over(capacity.nano_cpus, reserved.nano_cpus);
        let memory = over(capacity.memory_bytes, reserved.memory_bytes);
        if !cpu && !memory {
            break;
        }
        let want = reservations(task.spec.as_ref());
        if (cpu && want.nano_cpus > 0) || (memory && want.memory_bytes > 0) {
            reserved.nano_cpus -= want.nano_cpus.max(0);
            reserved.memory_bytes -= want.memory_bytes.max(0);
            evicted.push(task.id.clone());
        }
    }
    evicted
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Meta, ResourceRequirements, TaskSpec};

    use super::*;

    fn task(id: &str, created: u64, cpus: i64, state: TaskState) -> Task {
        Task {
            id: id.into(),
            meta: Some(Meta { created_index: created, ..Default::default() }),
            spec: Some(TaskSpec {
                resources: Some(ResourceRequirements {
                    reservations: Some(shoal_proto::Resources { nano_cpus: cpus, memory_bytes: 0 }),
                    limits: None,
                }),
                ..Default::default()
            }),
            status: Some(TaskStatus { state: state as i32, ..Default::default() }),
            desired_state: TaskState::Running as i32,
            ..Default::default()
        }
    }

    const CPU: i64 = 1_000_000_000;

    #[test]
    fn the_newest_tasks_go_until_the_rest_fit() {
        let tasks = [
            task("old", 1, 6 * CPU / 10, TaskState::Running),
            task("mid", 2, 6 * CPU / 10, TaskState::Running),
            task("free", 3, 0, TaskState::Running),
            task("new", 4, 6 * CPU / 10, TaskState::Assigned),
            task("ended", 5, 6 * CPU / 10, TaskState::Failed),
        ];
        let refs: Vec<&Task> = tasks.iter().collect();
        let one = Resources { nano_cpus: CPU, memory_bytes: 0 };
        assert_eq!(over_capacity(one, &refs), vec!["new".to_string(), "mid".to_string()]);
        let two = Resources { nano_cpus: 2 * CPU, memory_bytes: 0 };
        assert!(over_capacity(two, &refs).is_empty());
        assert!(over_capacity(Resources::default(), &refs).is_empty(), "a node of unknown size holds anything");
    }
}
