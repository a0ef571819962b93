//! `service rebalance`: which of a replicated service's tasks to move so
//! that each node able to take one (ready, active, meeting the service's
//! constraints) holds no more than its share, `ceil(tasks / nodes)`; the
//! rolling updater then replaces them (with the service's update config)
//! and the scheduler places each replacement where it would place a task
//! now, on the emptier nodes. Tasks on nodes that cannot take new ones
//! (paused) are left where they run.

use std::collections::BTreeMap;

use shoal_proto::{
    RebalanceServiceRequest, RebalanceServiceResponse, Service, Task, TaskState, service_spec::Mode,
    store_object::Object,
};
use shoal_scheduler::Constraint;

use super::{ControlError, Result, resolve};
use crate::ops;
use crate::orchestrator::update;
use crate::proposer::Proposer;
use crate::scheduler::snapshot;
use crate::store::{MemoryStore, Store};

/// Marks the tasks to move and lets the updater move them.
pub async fn rebalance(
    store: &Store,
    proposer: &Proposer,
    req: RebalanceServiceRequest,
) -> Result<RebalanceServiceResponse> {
    let (mut service, moves) = store.view(|s| {
        let service = resolve::service(s, &req.reference)?.clone();
        let name = service.name().to_string();
        if !matches!(service.spec.as_ref().and_then(|s| s.mode.as_ref()), Some(Mode::Replicated(_))) {
            return Err(ControlError::Refused(format!(
                "service {name} is not replicated: only a replicated service's tasks are spread over the nodes"
            )));
        }
        if update::state(&service).is_paused() {
            return Err(ControlError::Refused(format!(
                "service {name}'s update is paused: update or roll it back first"
            )));
        }
        let moves = moves(s, &service, req.max_moves as usize);
        Ok((service, moves))
    })?;
    // A balanced service also forgets what an earlier rebalance marked.
    if moves != service.rebalance {
        service.rebalance = moves.clone();
        proposer.propose(vec![ops::update(Object::Service(service.clone()))]).await?;
    }
    let service = store.view(|s| s.service(&service.id).cloned());
    Ok(RebalanceServiceResponse { service, moves })
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
        .filter(|n| n.ready && n.active && constraints.iter().all(|c| c.matches(n)))
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
mod tests {
    use shoal_proto::{
        Node, NodeAvailability, NodeDescription, NodeSpec, NodeState, NodeStatus, ReplicatedService, ServiceSpec,
        TaskStatus,
    };

    use super::*;

    fn node(id: &str, availability: NodeAvailability) -> Object {
        Object::Node(Node {
            id: id.into(),
            spec: Some(NodeSpec { availability: availability as i32, ..Default::default() }),
            description: Some(NodeDescription { hostname: id.into(), ..Default::default() }),
            status: Some(NodeStatus { state: NodeState::Ready as i32, ..Default::default() }),
            ..Default::default()
        })
    }

    fn task(slot: u64, node: &str) -> Object {
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

    fn store(objects: Vec<Object>) -> MemoryStore {
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
