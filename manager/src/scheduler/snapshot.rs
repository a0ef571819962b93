//! What the pure scheduler is given: the nodes as [`NodeInfo`]s, with the
//! active tasks on them counted, and the pending tasks grouped by service,
//! spec version and (for a task bound to a node) node.

use std::collections::BTreeMap;

use shoal_proto::{Node, NodeAvailability, NodeRole, NodeState, PortProtocol, PublishMode, Task, TaskSpec, TaskState};
use shoal_scheduler::{Constraint, HostPort, NodeInfo, Requirements, Resources, Role, Spread, TaskGroup};

use crate::store::MemoryStore;

/// Runtime of a task whose spec names none.
pub const DEFAULT_RUNTIME: &str = "process";
/// Failures of a service on a node within this window count against it.
const FAILURE_WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;

/// Waiting for a node, and meant to run.
pub fn is_pending(task: &Task) -> bool {
    task.state() <= TaskState::Pending && task.desired_state() <= TaskState::Running
}

/// Does a task keep its node busy? From assignment until it has really
/// stopped (a task told to stop holds its resources through its grace
/// period); a pending task bound to a node, as a global service's, does
/// not yet.
fn is_active(task: &Task) -> bool {
    (TaskState::Assigned..=TaskState::Running).contains(&task.state())
}

/// Has a task stopped (and so freed what it held on its node)?
pub fn has_stopped(task: &Task) -> bool {
    task.state() > TaskState::Running
}

/// Every node as the scheduler sees it, `now` (unix ns) dating recent
/// failures.
pub fn nodes(store: &MemoryStore, now: i64) -> Vec<NodeInfo> {
    store.nodes().map(|node| node_info(store, node, now)).collect()
}

fn node_info(store: &MemoryStore, node: &Node, now: i64) -> NodeInfo {
    let mut info = describe(node);
    for task in store.tasks_of_node(&node.id) {
        if is_active(task) {
            info.add_task(&task.service_id, &reservations(task.spec.as_ref()), &host_ports(task));
        } else if task.state() == TaskState::Failed
            && task.status.as_ref().is_some_and(|s| now - s.timestamp < FAILURE_WINDOW_NS)
        {
            *info.recent_failures.entry((task.service_id.clone(), task.spec_version)).or_default() += 1;
        }
    }
    info
}

/// A node as constraints see it, without its tasks.
pub fn describe(node: &Node) -> NodeInfo {
    let description = node.description.clone().unwrap_or_default();
    let platform = description.platform.unwrap_or_default();
    let spec = node.spec.as_ref();
    NodeInfo {
        id: node.id.clone(),
        hostname: description.hostname,
        role: if node.role() == NodeRole::Manager { Role::Manager } else { Role::Worker },
        ip: node.status.as_ref().and_then(|s| shoal_proto::parse_ip(&s.addr)),
        os: platform.os,
        arch: platform.architecture,
        labels: spec
            .and_then(|s| s.annotations.as_ref())
            .map(|a| a.labels.clone().into_iter().collect())
            .unwrap_or_default(),
        engine_labels: description.engine_labels.into_iter().collect(),
        ready: node.status.as_ref().is_some_and(|s| s.state() == NodeState::Ready),
        active: spec.is_none_or(|s| s.availability() == NodeAvailability::Active),
        runtimes: description.runtimes,
        limits: description.limits.map(|l| l.enforced).unwrap_or_default(),
        capacity: capacity(node),
        ..Default::default()
    }
}

/// What a node has for tasks to reserve, as it reports it.
pub fn capacity(node: &Node) -> Resources {
    let resources = node.description.as_ref().and_then(|d| d.resources).unwrap_or_default();
    Resources { nano_cpus: resources.nano_cpus, memory_bytes: resources.memory_bytes }
}

/// What a task reserves on its node.
pub fn reservations(spec: Option<&TaskSpec>) -> Resources {
    let r = spec.and_then(|s| s.resources.as_ref()).and_then(|r| r.reservations.as_ref());
    r.map_or_else(Resources::default, |r| Resources { nano_cpus: r.nano_cpus, memory_bytes: r.memory_bytes })
}

/// The ports a task publishes in host mode: bound on its node.
fn host_ports(task: &Task) -> Vec<HostPort> {
    let ports = task.endpoint.as_ref().map_or(&[][..], |e| e.ports.as_slice());
    ports
        .iter()
        .filter(|p| p.publish_mode() == PublishMode::Host)
        .map(|p| HostPort { udp: p.protocol() == PortProtocol::Udp, port: p.published_port })
        .collect()
}

/// What a task needs of its node. Constraints and preferences were
/// checked when the service was written; one that still does not parse
/// (written by an older version) is the error returned.
pub fn requirements(task: &Task) -> Result<Requirements, String> {
    let spec = task.spec.as_ref();
    let placement = spec.and_then(|s| s.placement.clone()).unwrap_or_default();
    let constraints: Vec<Constraint> = placement
        .constraints
        .iter()
        .map(|c| Constraint::parse(c))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let preferences: Vec<Spread> = placement
        .preferences
        .iter()
        .map(|p| Spread::parse(&p.spread_descriptor))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    Ok(Requirements {
        runtime: spec.map(|s| s.runtime.as_str()).filter(|r| !r.is_empty()).unwrap_or(DEFAULT_RUNTIME).to_string(),
        constraints,
        preferences,
        reservations: reservations(spec),
        platforms: placement.platforms.into_iter().map(|p| (p.os, p.architecture)).collect(),
        host_ports: host_ports(task),
        max_replicas: placement.max_replicas,
        limits: spec.map(shoal_proto::limits::required).unwrap_or_default(),
    })
}

/// Pending tasks grouped by (service, spec version, bound node), groups
/// of tasks bound to a node first, each group's tasks in slot order (a
/// task outside services, `shoal run`, is a group of its own); tasks whose
/// requirements cannot be read come back apart with the reason.
pub fn groups<'a>(tasks: impl Iterator<Item = &'a Task>) -> (Vec<TaskGroup>, Vec<(String, String)>) {
    let mut by_key: BTreeMap<(&str, &str, u64, &str), Vec<&Task>> = BTreeMap::new();
    for task in tasks {
        let alone = if task.service_id.is_empty() { task.id.as_str() } else { "" };
        by_key.entry((&task.service_id, alone, task.spec_version, &task.node_id)).or_default().push(task);
    }
    let mut groups = Vec::with_capacity(by_key.len());
    let mut invalid = Vec::new();
    for ((service, _, _, node), mut tasks) in by_key {
        tasks.sort_by(|a, b| (a.slot, &a.id).cmp(&(b.slot, &b.id)));
        match requirements(tasks[0]) {
            Ok(requirements) => groups.push(TaskGroup {
                service_id: service.to_string(),
                spec_version: tasks[0].spec_version,
                requirements,
                node: (!node.is_empty()).then(|| node.to_string()),
                tasks: tasks.iter().map(|t| t.id.clone()).collect(),
            }),
            Err(reason) => invalid.extend(tasks.iter().map(|t| (t.id.clone(), reason.clone()))),
        }
    }
    // Tasks bound to a node (global services, jobs, runs) go first: they
    // can go nowhere else, so an unbound task must not take their room.
    groups.sort_by_key(|g| g.node.is_none());
    (groups, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_proto::{Placement, PlacementPreference, ResourceRequirements};

    fn spec(constraints: &[&str]) -> TaskSpec {
        TaskSpec {
            placement: Some(Placement {
                constraints: constraints.iter().map(|c| c.to_string()).collect(),
                preferences: vec![PlacementPreference { spread_descriptor: "node.labels.dc".into() }],
                max_replicas: 2,
                platforms: vec![],
            }),
            resources: Some(ResourceRequirements {
                limits: None,
                reservations: Some(shoal_proto::Resources { nano_cpus: 5, memory_bytes: 6 }),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn requirements_come_from_the_task_spec() {
        let task = |spec: TaskSpec| Task {
            spec: Some(spec),
            endpoint: Some(shoal_proto::Endpoint {
                ports: vec![
                    shoal_proto::PortConfig { published_port: 8080, target_port: 80, ..Default::default() },
                    shoal_proto::PortConfig {
                        published_port: 53,
                        target_port: 53,
                        protocol: PortProtocol::Udp as i32,
                        publish_mode: PublishMode::Host as i32,
                    },
                ],
                virtual_ips: vec![],
            }),
            ..Default::default()
        };
        let r = requirements(&task(spec(&["node.role==worker"]))).unwrap();
        assert_eq!(r.host_ports, vec![HostPort { udp: true, port: 53 }]);
        assert_eq!(r.runtime, DEFAULT_RUNTIME);
        assert_eq!(r.constraints[0].to_string(), "node.role==worker");
        assert_eq!(r.preferences, vec![Spread::NodeLabel("dc".into())]);
        assert_eq!(r.reservations, Resources { nano_cpus: 5, memory_bytes: 6 });
        assert_eq!(r.max_replicas, 2);
        assert!(requirements(&task(spec(&["node.role=worker"]))).unwrap_err().contains("at character 10"));
    }

    #[test]
    fn tasks_group_by_service_version_and_node() {
        let task = |id: &str, service: &str, version: u64, slot: u64, node: &str| Task {
            id: id.into(),
            service_id: service.into(),
            spec_version: version,
            slot,
            node_id: node.into(),
            spec: Some(spec(&[])),
            ..Default::default()
        };
        let mut bad = task("bad", "s3", 1, 1, "");
        bad.spec = Some(spec(&["oops"]));
        let tasks = [
            task("b", "s1", 1, 2, ""),
            task("a", "s1", 1, 1, ""),
            task("c", "s1", 2, 1, ""),
            task("d", "s2", 1, 0, "n1"),
            bad,
        ];
        let (groups, invalid) = groups(tasks.iter());
        let shape: Vec<(&str, Option<&str>, Vec<&str>)> = groups
            .iter()
            .map(|g| (g.service_id.as_str(), g.node.as_deref(), g.tasks.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(shape, vec![("s2", Some("n1"), vec!["d"]), ("s1", None, vec!["a", "b"]), ("s1", None, vec!["c"])]);
        assert_eq!(invalid.len(), 1);
        assert!(invalid[0].1.starts_with("constraint \"oops\""));
    }
}
