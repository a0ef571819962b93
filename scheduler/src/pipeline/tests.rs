use std::collections::BTreeMap;

use super::*;
use crate::constraint::parse_all;
use crate::node::{MAX_RECENT_FAILURES, Resources};
use crate::preference::Spread;
use crate::task::Requirements;

fn node(id: &str) -> NodeInfo {
    NodeInfo { id: id.into(), ready: true, active: true, runtimes: vec!["process".into()], ..Default::default() }
}

fn labelled(id: &str, key: &str, value: &str) -> NodeInfo {
    let mut n = node(id);
    n.labels.insert(key.into(), value.into());
    n
}

fn group(service: &str, n: usize) -> TaskGroup {
    TaskGroup {
        service_id: service.into(),
        spec_version: 0,
        requirements: Requirements { runtime: "process".into(), ..Default::default() },
        node: None,
        tasks: (0..n).map(|i| format!("{service}-{i}")).collect(),
    }
}

fn per_node(d: &Decisions) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for (_, n) in &d.assigned {
        *counts.entry(n.as_str()).or_default() += 1;
    }
    counts
}

#[test]
fn replicas_spread_evenly() {
    let mut nodes = vec![node("a"), node("b"), node("c")];
    let d = schedule(&mut nodes, &[group("web", 7)]);
    assert_eq!(per_node(&d), BTreeMap::from([("a", 3), ("b", 2), ("c", 2)]));
    assert!(d.unplaced.is_empty());
}

#[test]
fn prefers_nodes_with_fewer_tasks_of_the_service_then_fewer_in_all() {
    let none = Resources::default();
    let mut nodes = vec![node("a"), node("b")];
    nodes[0].add_task("db", &none, &[]);
    nodes[0].add_task("db", &none, &[]);
    nodes[1].add_task("web", &none, &[]);
    let d = schedule(&mut nodes, &[group("web", 1)]);
    assert_eq!(d.assigned, vec![("web-0".to_string(), "a".to_string())]);
    let d = schedule(&mut nodes, &[group("api", 1)]);
    assert_eq!(d.assigned[0].1, "b", "fewer tasks in all");
}

#[test]
fn nodes_where_the_service_keeps_failing_come_last() {
    let mut nodes = vec![node("a"), node("b")];
    nodes[0].recent_failures.insert(("web".into(), 0), MAX_RECENT_FAILURES);
    let d = schedule(&mut nodes, &[group("web", 3)]);
    assert_eq!(per_node(&d), BTreeMap::from([("b", 3)]), "a takes none while another node can");
    nodes[1].active = false;
    let d = schedule(&mut nodes, &[group("web", 1)]);
    assert_eq!(d.assigned[0].1, "a", "but it still takes tasks when it is the only one left");
}

#[test]
fn unavailable_nodes_are_skipped_and_explained() {
    let mut nodes = vec![node("a"), node("b"), node("c")];
    nodes[0].ready = false;
    nodes[1].active = false;
    nodes[2].runtimes = vec!["docker".into()];
    let d = schedule(&mut nodes, &[group("web", 1)]);
    assert_eq!(
        d.unplaced[0].1,
        "no suitable node (2 nodes not available for new tasks; runtime \"process\" not available on 1 node)"
    );
    let d = schedule(&mut [], &[group("web", 1)]);
    assert_eq!(d.unplaced[0].1, "no suitable node (no nodes in the cluster)");
}

#[test]
fn every_cause_is_counted_most_frequent_first() {
    let mut nodes: Vec<NodeInfo> = (0..6).map(|i| node(&format!("n{i}"))).collect();
    for n in &mut nodes[..5] {
        n.capacity = Resources { nano_cpus: 1_000_000_000, memory_bytes: 1 << 30 };
    }
    for n in &mut nodes[..3] {
        n.labels.insert("zone".into(), "west".into());
    }
    nodes[5].ready = false;
    let mut g = group("web", 2);
    g.requirements.constraints = parse_all(&["node.labels.zone!=west"]).unwrap();
    g.requirements.reservations = Resources { nano_cpus: 2_000_000_000, memory_bytes: 0 };
    let d = schedule(&mut nodes, &[g]);
    let reason = "no suitable node (scheduling constraints not satisfied on 3 nodes; \
                  insufficient resources on 2 nodes; 1 node not available for new tasks)";
    assert_eq!(d.unplaced, vec![("web-0".into(), reason.into()), ("web-1".into(), reason.into())]);
}

#[test]
fn reservations_fill_a_node_then_move_on() {
    let mut nodes = vec![node("a"), node("b")];
    nodes[0].capacity = Resources { nano_cpus: 2_000_000_000, memory_bytes: 4 << 30 };
    nodes[1].capacity = Resources { nano_cpus: 1_000_000_000, memory_bytes: 4 << 30 };
    let mut g = group("web", 4);
    g.requirements.reservations = Resources { nano_cpus: 1_000_000_000, memory_bytes: 1 << 30 };
    let d = schedule(&mut nodes, &[g]);
    assert_eq!(per_node(&d), BTreeMap::from([("a", 2), ("b", 1)]));
    assert_eq!(d.unplaced[0].1, "no suitable node (insufficient resources on 2 nodes)");
    assert_eq!(nodes[0].reserved, Resources { nano_cpus: 2_000_000_000, memory_bytes: 2 << 30 });
}

#[test]
fn max_replicas_per_node() {
    let mut nodes = vec![node("a"), node("b")];
    let mut g = group("web", 5);
    g.requirements.max_replicas = 2;
    let d = schedule(&mut nodes, &[g]);
    assert_eq!(per_node(&d), BTreeMap::from([("a", 2), ("b", 2)]));
    assert_eq!(d.unplaced[0].1, "no suitable node (max replicas per node (2) reached on 2 nodes)");
}

#[test]
fn host_ports_are_taken_once_per_node() {
    let mut nodes = vec![node("a"), node("b"), node("c")];
    nodes[2].host_ports.insert(crate::HostPort { udp: false, port: 80 });
    let mut g = group("web", 3);
    g.requirements.host_ports = vec![crate::HostPort { udp: false, port: 80 }];
    let d = schedule(&mut nodes, &[g]);
    assert_eq!(per_node(&d), BTreeMap::from([("a", 1), ("b", 1)]));
    assert_eq!(d.unplaced[0].1, "no suitable node (host-mode port already in use on 3 nodes)");
}

#[test]
fn the_seeds_spread_example_holds_exactly() {
    // east 3 nodes, west 2, south 1; 9 replicas -> 3 per value.
    let mut nodes = vec![
        labelled("e1", "dc", "east"),
        labelled("e2", "dc", "east"),
        labelled("e3", "dc", "east"),
        labelled("w1", "dc", "west"),
        labelled("w2", "dc", "west"),
        labelled("s1", "dc", "south"),
    ];
    let mut g = group("web", 9);
    g.requirements.preferences = vec![Spread::parse("node.labels.dc").unwrap()];
    let d = schedule(&mut nodes, &[g]);
    let expected = BTreeMap::from([("e1", 1), ("e2", 1), ("e3", 1), ("w1", 2), ("w2", 1), ("s1", 3)]);
    assert_eq!(per_node(&d), expected);
}

#[test]
fn nodes_without_the_label_form_their_own_group_and_preferences_nest() {
    let mut nodes = vec![labelled("a", "dc", "east"), labelled("b", "dc", "east"), node("c")];
    nodes[0].labels.insert("rack".into(), "r1".into());
    nodes[1].labels.insert("rack".into(), "r2".into());
    let mut g = group("web", 4);
    g.requirements.preferences =
        vec![Spread::parse("node.labels.dc").unwrap(), Spread::parse("node.labels.rack").unwrap()];
    let d = schedule(&mut nodes, &[g]);
    assert_eq!(per_node(&d), BTreeMap::from([("a", 1), ("b", 1), ("c", 2)]));
}

#[test]
fn spreading_counts_existing_tasks_and_skips_full_values() {
    let none = Resources::default();
    let mut nodes = vec![labelled("e1", "dc", "east"), labelled("w1", "dc", "west"), labelled("s1", "dc", "south")];
    nodes[0].add_task("web", &none, &[]);
    nodes[0].add_task("web", &none, &[]);
    nodes[2].ready = false;
    let mut g = group("web", 4);
    g.requirements.preferences = vec![Spread::parse("node.labels.dc").unwrap()];
    let d = schedule(&mut nodes, &[g]);
    // west catches up with east (2), then both take one more; south has no room.
    assert_eq!(per_node(&d), BTreeMap::from([("e1", 1), ("w1", 3)]));
}

#[test]
fn a_bound_task_goes_to_its_node_or_waits_with_the_reason() {
    let mut nodes = vec![node("a"), node("b")];
    nodes[1].active = false;
    let mut on_a = group("mon", 1);
    on_a.node = Some("a".into());
    let mut on_b = group("mon", 1);
    on_b.tasks = vec!["mon-b".into()];
    on_b.node = Some("b".into());
    let mut gone = group("mon", 1);
    gone.tasks = vec!["mon-x".into()];
    gone.node = Some("x".into());
    let d = schedule(&mut nodes, &[on_a, on_b, gone]);
    assert_eq!(d.assigned, vec![("mon-0".to_string(), "a".to_string())]);
    assert_eq!(
        d.unplaced,
        vec![
            ("mon-b".into(), "no suitable node (1 node not available for new tasks)".into()),
            ("mon-x".into(), "no suitable node (node x is not in the cluster)".into()),
        ]
    );
}

#[test]
fn later_groups_see_earlier_placements() {
    let mut nodes = vec![node("a"), node("b")];
    let d = schedule(&mut nodes, &[group("web", 1), group("api", 1)]);
    assert_eq!(per_node(&d), BTreeMap::from([("a", 1), ("b", 1)]));
}

#[test]
fn deterministic_whatever_the_node_order() {
    let run = |order: [&str; 3]| {
        let mut nodes: Vec<NodeInfo> = order.iter().map(|id| node(id)).collect();
        schedule(&mut nodes, &[group("web", 5)])
    };
    assert_eq!(run(["b", "a", "c"]), run(["c", "b", "a"]));
}

mod properties;
