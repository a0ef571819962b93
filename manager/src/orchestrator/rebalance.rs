//! Which of a replicated service's tasks to move so that each node able
//! to take one (ready, active, meeting the service's constraints) holds
//! no more than its share, `ceil(tasks / nodes)`, for `service rebalance`
//! and `--rebalance-on-join` ([`super::rejoin`]). Tasks on nodes that
//! cannot take new ones (paused) are left where they run.

use std::collections::{BTreeMap, BTreeSet};

use shoal_proto::{Service, Task, TaskState};
use shoal_scheduler::{Constraint, NodeInfo};

use crate::scheduler::snapshot;
use crate::store::MemoryStore;

/// A node the scheduler may give new tasks to: ready and active.
fn takes_tasks(node: &NodeInfo) -> bool {
    node.ready && node.active
}

/// The nodes that may take new tasks now.
pub fn able_nodes(store: &MemoryStore) -> BTreeSet<String> {
    store.nodes().map(snapshot::describe).filter(takes_tasks).map(|n| n.id).collect()
}

/// The tasks of `service` to move, at most `max` (0: no limit): from each
/// node able to take tasks, those beyond its share, newest slot first.
pub fn moves(store: &MemoryStore, service: &Service, max: usize) -> Vec<String> {
    let constraints = service
        .spec
        .as_ref()
        .and_then(|s| s.task.as_ref())
        .and_then(|t| t.placement.as_ref())
        .map(|p| p.constraints.iter().filter_map(|c| Constraint::parse(c).ok()).collect::<Vec<_>>())
        .unwrap_or_default();
    let able: Vec<String> = store
        .nodes()
        .map(snapshot::describe)
        .filter(|n| constraints.iter().all(|c| c.matches(n)) && takes_tasks(n))
        .map(|n| n.id)
        .collect();
    if able.is_empty() {
        return Vec::new();
    }
    let mut by_node: BTreeMap<&str, Vec<&Task>> = able.iter().map(|id| (id.as_str(), Vec::new())).collect();
    let running = |t: &&Task| t.desired_state() == TaskState::Running && t.state() == TaskState::Running;
    for task in store.tasks_of_service(&service.id).filter(running) {
        if let Some(tasks) = by_node.get_mut(task.node_id.as_str()) {
            tasks.push(task);
        }
    }
    let total: usize = by_node.values().map(Vec::len).sum();
    let share = total.div_ceil(able.len());
    let mut moves = Vec::new();
    for tasks in by_node.values_mut() {
        tasks.sort_by_key(|t| std::cmp::Reverse(t.slot));
        moves.extend(tasks.iter().take(tasks.len().saturating_sub(share)).map(|t| t.id.clone()));
    }
    if max > 0 {
        moves.truncate(max);
    }
    moves
}

#[cfg(test)]
pub(super) mod tests {
    use shoal_proto::{
        Node, NodeAvailability, NodeDescription, NodeSpec, NodeState, NodeStatus, ReplicatedService, ServiceSpec,
        TaskStatus,
    };

    use shoal_proto::service_spec::Mode;
    use shoal_proto::store_object::Object;

    use super::*;
    use crate::ops;

    fn node(id: &str, availability: NodeAvailability) -> Object {
        node_in(id, availability, NodeState::Ready)
    }

    /// A node with this availability and state.
    pub(in crate::orchestrator) fn node_in(id: &str, availability: NodeAvailability, state: NodeState) -> Object {
        Object::Node(Node {
            id: id.into(),
            spec: Some(NodeSpec { availability: availability as i32, ..Default::default() }),
            description: Some(NodeDescription { hostname: id.into(), ..Default::default() }),
            status: Some(NodeStatus { state: state as i32, ..Default::default() }),
            ..Default::default()
        })
    }

    /// Service s's running task in `slot`, on `node`.
    pub(in crate::orchestrator) fn task(slot: u64, node: &str) -> Object {
        Object::Task(Task {
            id: format!("t{slot}"),
            service_id: "s".into(),
            slot,
            node_id: node.into(),
            desired_state: TaskState::Running as i32,
            status: Some(TaskStatus { state: TaskState::Running as i32, ..Default::default() }),
            ..Default::default()
        })
    }

    /// A store holding `objects`.
    pub(in crate::orchestrator) fn store(objects: Vec<Object>) -> MemoryStore {
        let mut store = MemoryStore::default();
        let ops = objects.into_iter().map(ops::create).collect();
        store.apply(1, shoal_proto::Batch { ops, ..Default::default() }).unwrap();
        store
    }

    #[test]
    fn moves_what_is_beyond_each_nodes_share() {
        let service = Service {
            id: "s".into(),
            spec: Some(ServiceSpec {
                mode: Some(Mode::Replicated(ReplicatedService { replicas: 6 })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut objects = vec![
            node("a", NodeAvailability::Active),
            node("b", NodeAvailability::Active),
            node("p", NodeAvailability::Pause),
        ];
        objects.extend((1..=6).map(|slot| task(slot, "a")));
        objects.push(task(7, "p"));
        let s = store(objects);
        assert_eq!(moves(&s, &service, 0), ["t6", "t5", "t4"], "6 on a, 0 on b: three move; p's task stays");
        assert_eq!(moves(&s, &service, 1), ["t6"]);
    }
}
