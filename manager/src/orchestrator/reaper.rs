//! The task reaper, pure: which old tasks to delete so that each slot
//! keeps at most the cluster's task history limit (the current task
//! included, as swarmkit counts), and tasks being removed go once they
//! have stopped. Tasks outside services (`shoal run`) go once they have
//! stopped after being removed, or once their node has left the cluster.

use std::collections::BTreeMap;

use shoal_proto::{Task, TaskState};

/// Ids of the tasks to delete among `tasks` (all of one service).
pub fn reap(tasks: &[&Task], history_limit: u64) -> Vec<String> {
    let mut doomed = Vec::new();
    // A global service's tasks (slot 0) form one slot per node.
    let mut slots: BTreeMap<(u64, &str), Vec<&Task>> = BTreeMap::new();
    for task in tasks {
        if task.desired_state() >= TaskState::Remove {
            if is_stopped(task) {
                doomed.push(task.id.clone());
            }
        } else {
            let node = if task.slot == 0 { task.node_id.as_str() } else { "" };
            slots.entry((task.slot, node)).or_default().push(task);
        }
    }
    for slot_tasks in slots.values_mut() {
        // Newest first; the newest speaks for the slot and always stays.
        slot_tasks.sort_by_key(|t| std::cmp::Reverse((super::plan::creation(t), t.id.clone())));
        let mut kept = 1u64;
        for task in &slot_tasks[1..] {
            let old = task.desired_state() > TaskState::Running && is_stopped(task);
            if old && kept >= history_limit {
                doomed.push(task.id.clone());
            } else {
                kept += 1;
            }
        }
    }
    doomed
}

/// Ids of the tasks to delete among tasks outside services; `gone` says
/// whether a node has left the cluster.
pub fn reap_standalone(tasks: &[&Task], gone: &dyn Fn(&str) -> bool) -> Vec<String> {
    tasks
        .iter()
        .filter(|t| (t.desired_state() >= TaskState::Remove && is_stopped(t)) || gone(&t.node_id))
        .map(|t| t.id.clone())
        .collect()
}

/// Ended, or never reached a node.
fn is_stopped(task: &Task) -> bool {
    let state = task.state();
    state.is_terminal() || state < TaskState::Assigned
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Meta, TaskStatus};

    use super::*;

    fn task(id: &str, slot: u64, created: i64, desired: TaskState, state: TaskState) -> Task {
        Task {
            id: id.into(),
            slot,
            meta: Some(Meta { created_at: created, ..Default::default() }),
            desired_state: desired as i32,
            status: Some(TaskStatus { state: state as i32, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn keeps_the_limit_per_slot_current_task_included() {
        let mut tasks: Vec<Task> =
            (0..8).map(|i| task(&format!("old{i}"), 1, i, TaskState::Shutdown, TaskState::Failed)).collect();
        tasks.push(task("current", 1, 100, TaskState::Running, TaskState::Running));
        tasks.push(task("other-slot", 2, 0, TaskState::Shutdown, TaskState::Failed));
        let refs: Vec<&Task> = tasks.iter().collect();
        let mut doomed = reap(&refs, 5);
        doomed.sort();
        assert_eq!(doomed, vec!["old0", "old1", "old2", "old3"]);
    }

    #[test]
    fn never_deletes_a_task_still_stopping() {
        let tasks = [
            task("current", 1, 10, TaskState::Running, TaskState::Running),
            task("stopping", 1, 5, TaskState::Shutdown, TaskState::Running),
            task("done", 1, 1, TaskState::Shutdown, TaskState::Complete),
        ];
        let refs: Vec<&Task> = tasks.iter().collect();
        assert_eq!(reap(&refs, 1), vec!["done"]);
    }

    #[test]
    fn removed_tasks_go_once_stopped() {
        let tasks = [
            task("running", 3, 0, TaskState::Remove, TaskState::Running),
            task("stopped", 2, 0, TaskState::Remove, TaskState::Shutdown),
            task("unassigned", 4, 0, TaskState::Remove, TaskState::Pending),
        ];
        let refs: Vec<&Task> = tasks.iter().collect();
        assert_eq!(reap(&refs, 5), vec!["stopped", "unassigned"]);
    }

    #[test]
    fn the_newest_task_of_a_slot_stays_even_with_limit_zero() {
        let tasks = [task("stopped-by-policy", 1, 0, TaskState::Shutdown, TaskState::Failed)];
        let refs: Vec<&Task> = tasks.iter().collect();
        assert!(reap(&refs, 0).is_empty());
    }

    #[test]
    fn standalone_tasks_go_once_removed_and_stopped_or_their_node_left() {
        let on = |mut t: Task, node: &str| {
            t.node_id = node.into();
            t
        };
        let tasks = [
            on(task("running", 0, 0, TaskState::Running, TaskState::Running), "n1"),
            on(task("ended", 0, 0, TaskState::Running, TaskState::Complete), "n1"),
            on(task("stopping", 0, 0, TaskState::Remove, TaskState::Running), "n1"),
            on(task("removed", 0, 0, TaskState::Remove, TaskState::Failed), "n1"),
            on(task("never-assigned", 0, 0, TaskState::Remove, TaskState::Pending), "n1"),
            on(task("node-left", 0, 0, TaskState::Running, TaskState::Running), "n2"),
        ];
        let refs: Vec<&Task> = tasks.iter().collect();
        let doomed = reap_standalone(&refs, &|node| node == "n2");
        assert_eq!(doomed, vec!["removed", "never-assigned", "node-left"]);
    }
}
