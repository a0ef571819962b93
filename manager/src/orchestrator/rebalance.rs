//! Which of a replicated service's tasks to move so that the nodes able
//! to take one (ready, active, meeting the service's constraints) hold
//! them as the scheduler would place them now: evenly over the values of
//! each spread preference, then over the nodes, for `service rebalance`
//! and `--rebalance-on-join` ([`super::rejoin`]). Tasks on nodes that
//! cannot take new ones (paused) are left where they run.

use std::collections::{BTreeMap, BTreeSet};

use shoal_proto::{Service, Task, TaskState};
use shoal_scheduler::{Constraint, NodeInfo, Spread};

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

/// The tasks of `service` to move, at most `max` (0: no limit): over the
/// nodes able to take tasks, first the values of each spread preference
/// in turn (as the scheduler divides tasks evenly over them), then the
/// nodes, each group holding no more than its share, `ceil(tasks /
/// groups)`; a group's excess leaves its fullest nodes first, newest
/// slot first.
pub fn moves(store: &MemoryStore, service: &Service, max: usize) -> Vec<String> {
    let placement = service.spec.as_ref().and_then(|s| s.task.as_ref()).and_then(|t| t.placement.clone());
    let placement = placement.unwrap_or_default();
    let constraints: Vec<Constraint> = placement.constraints.iter().filter_map(|c| Constraint::parse(c).ok()).collect();
    let spreads: Vec<Spread> =
        placement.preferences.iter().filter_map(|p| Spread::parse(&p.spread_descriptor).ok()).collect();
    let mut able: Vec<Holding<'_>> = store
        .nodes()
        .map(snapshot::describe)
        .filter(|n| constraints.iter().all(|c| c.matches(n)) && takes_tasks(n))
        .map(|node| Holding { node, tasks: Vec::new() })
        .collect();
    let running = |t: &&Task| t.desired_state() == TaskState::Running && t.state() == TaskState::Running;
    for task in store.tasks_of_service(&service.id).filter(running) {
        if let Some(holding) = able.iter_mut().find(|h| h.node.id == task.node_id) {
            holding.tasks.push(task);
        }
    }
    for holding in &mut able {
        holding.tasks.sort_by_key(|t| t.slot);
    }
    let mut moves = Vec::new();
    spread_out(able, &spreads, &mut moves);
    if max > 0 {
        moves.truncate(max);
    }
    moves
}

/// A node and the service's tasks on it, oldest slot first.
struct Holding<'a> {
    node: NodeInfo,
    tasks: Vec<&'a Task>,
}

/// Moves what is beyond each group's share, grouping `nodes` by the first
/// of `spreads` (by node when none is left), then within each group by
/// the others.
fn spread_out(nodes: Vec<Holding<'_>>, spreads: &[Spread], moves: &mut Vec<String>) {
    let total: usize = nodes.iter().map(|h| h.tasks.len()).sum();
    let mut groups: BTreeMap<String, Vec<Holding<'_>>> = BTreeMap::new();
    for holding in nodes {
        let key = spreads.first().map_or_else(|| holding.node.id.clone(), |s| s.value(&holding.node).to_string());
        groups.entry(key).or_default().push(holding);
    }
    if groups.is_empty() {
        return;
    }
    let share = total.div_ceil(groups.len());
    for mut group in groups.into_values() {
        let mut count: usize = group.iter().map(|h| h.tasks.len()).sum();
        while count > share {
            let Some(fullest) = group.iter_mut().max_by_key(|h| h.tasks.len()) else { break };
            let Some(task) = fullest.tasks.pop() else { break };
            moves.push(task.id.clone());
            count -= 1;
        }
        if let Some((_, rest)) = spreads.split_first() {
            spread_out(group, rest, moves);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use shoal_proto::{
        Node, NodeAvailability, NodeDescription, NodeSpec, NodeState, NodeStatus, Placement, PlacementPreference,
        ReplicatedService, ServiceSpec, TaskSpec, TaskStatus,
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

    #[test]
    fn spread_preferences_are_balanced_before_nodes() {
        let in_zone = |id: &str, zone: &str| {
            let mut node = node_in(id, NodeAvailability::Active, NodeState::Ready);
            if let Object::Node(n) = &mut node {
                let labels = [("zone".to_string(), zone.to_string())].into();
                n.spec.as_mut().unwrap().annotations = Some(shoal_proto::Annotations { labels, ..Default::default() });
            }
            node
        };
        let service = |preferences: Vec<PlacementPreference>| Service {
            id: "s".into(),
            spec: Some(ServiceSpec {
                mode: Some(Mode::Replicated(ReplicatedService { replicas: 6 })),
                task: Some(TaskSpec {
                    placement: Some(Placement { preferences, ..Default::default() }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        // East: a and b with three tasks each; west: c with none.
        let mut objects = vec![in_zone("a", "east"), in_zone("b", "east"), in_zone("c", "west")];
        objects.extend((1..=3).map(|slot| task(slot, "a")));
        objects.extend((4..=6).map(|slot| task(slot, "b")));
        let s = store(objects);
        let by_zone = service(vec![PlacementPreference { spread_descriptor: "node.labels.zone".into() }]);
        let moved = moves(&s, &by_zone, 0);
        assert_eq!(moved.len(), 3, "west's share is half: {moved:?}");
        let from_a = moved.iter().filter(|id| ["t1", "t2", "t3"].contains(&id.as_str())).count();
        assert!((1..=2).contains(&from_a), "both east nodes give: {moved:?}");
        // By node alone, c's share is a third.
        assert_eq!(moves(&s, &service(Vec::new()), 0), ["t3", "t6"]);
    }
}
