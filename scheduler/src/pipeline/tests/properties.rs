//! Properties of a pass over random clusters (proptest).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{group, node};
use crate::constraint::Constraint;
use crate::filter::FILTERS;
use crate::node::{NodeInfo, Resources};
use crate::pipeline::schedule;
use crate::preference::Spread;
use crate::task::TaskGroup;

const ZONES: [&str; 3] = ["east", "west", "south"];
const CONSTRAINTS: [&str; 5] = [
    "node.labels.zone==east",
    "node.labels.zone!=west",
    "node.role==worker",
    "node.hostname!=h1",
    "node.labels.ssd==true",
];

/// A node with random state, labels, size and load.
fn any_node() -> impl Strategy<Value = NodeInfo> {
    (any::<bool>(), any::<bool>(), 0..4usize, any::<bool>(), 0..4i64, 0..5usize, any::<bool>()).prop_map(
        |(ready, active, zone, ssd, cpus, load, manager)| {
            let mut n = node("");
            n.ready = ready || zone == 0;
            n.active = active || zone == 1;
            if let Some(z) = ZONES.get(zone) {
                n.labels.insert("zone".into(), z.to_string());
            }
            if ssd {
                n.labels.insert("ssd".into(), "true".into());
            }
            n.role = if manager { crate::Role::Manager } else { crate::Role::Worker };
            n.capacity = Resources { nano_cpus: cpus * 1_000_000_000, memory_bytes: 1 << 32 };
            for _ in 0..load {
                n.add_task("other", &Resources { nano_cpus: 250_000_000, memory_bytes: 0 }, &[]);
            }
            n
        },
    )
}

fn cluster(max: usize) -> impl Strategy<Value = Vec<NodeInfo>> {
    prop::collection::vec(any_node(), 1..max).prop_map(|mut nodes| {
        for (i, n) in nodes.iter_mut().enumerate() {
            n.id = format!("n{i:03}");
            n.hostname = format!("h{i}");
        }
        nodes
    })
}

fn any_group() -> impl Strategy<Value = TaskGroup> {
    (1..40usize, prop::sample::subsequence(CONSTRAINTS.to_vec(), 0..3), 0..3i64, 0..4u64, any::<bool>()).prop_map(
        |(tasks, constraints, cpus, max_replicas, spread)| {
            let mut g = group("web", tasks);
            g.requirements.constraints = constraints.iter().map(|c| Constraint::parse(c).unwrap()).collect();
            g.requirements.reservations = Resources { nano_cpus: cpus * 500_000_000, memory_bytes: 0 };
            g.requirements.max_replicas = max_replicas;
            if spread {
                g.requirements.preferences = vec![Spread::parse("node.labels.zone").unwrap()];
            }
            g
        },
    )
}

proptest! {
    /// (a) Without constraints, tasks of a service spread so per-node
    /// counts differ by at most one among eligible nodes.
    #[test]
    fn even_spread_without_constraints(mut nodes in cluster(30), tasks in 1..100usize) {
        for n in &mut nodes {
            n.capacity = Resources::default();
        }
        let eligible: Vec<String> = nodes.iter().filter(|n| n.ready && n.active).map(|n| n.id.clone()).collect();
        let d = schedule(&mut nodes, &[group("web", tasks)]);
        let counts: Vec<usize> = nodes.iter().filter(|n| eligible.contains(&n.id)).map(|n| n.service_tasks("web")).collect();
        if let (Some(min), Some(max)) = (counts.iter().min(), counts.iter().max()) {
            prop_assert!(max - min <= 1, "counts {counts:?}");
            prop_assert_eq!(d.assigned.len(), tasks);
        } else {
            prop_assert_eq!(d.unplaced.len(), tasks);
        }
    }

    /// (b) No placement ever violates a filter, checked against the node
    /// as it was when the task was placed.
    #[test]
    fn no_placement_violates_a_filter(nodes in cluster(30), mut groups in prop::collection::vec(any_group(), 1..4)) {
        for (i, g) in groups.iter_mut().enumerate() {
            g.tasks.iter_mut().for_each(|t| *t = format!("g{i}.{t}"));
        }
        let mut replay: BTreeMap<String, NodeInfo> = nodes.iter().map(|n| (n.id.clone(), n.clone())).collect();
        let mut work = nodes.clone();
        let d = schedule(&mut work, &groups);
        let group_of = |task: &str| groups.iter().find(|g| g.tasks.iter().any(|t| t == task)).unwrap();
        for (task, node) in &d.assigned {
            let g = group_of(task);
            let n = replay.get_mut(node).unwrap();
            for f in FILTERS.iter().filter(|f| f.applies(g)) {
                prop_assert!(f.check(g, n), "{} placed on {} against {}", task, node, f.explain(g, 1));
            }
            n.add_task(&g.service_id, &g.requirements.reservations, &g.requirements.host_ports);
        }
        prop_assert_eq!(d.assigned.len() + d.unplaced.len(), groups.iter().map(|g| g.tasks.len()).sum::<usize>());
    }

    /// (c) With a spread preference, per-value counts differ by at most one
    /// when every value has room.
    #[test]
    fn spread_evenly_over_values(mut nodes in cluster(20), tasks in 1..60usize) {
        for n in &mut nodes {
            (n.ready, n.active, n.capacity) = (true, true, Resources::default());
        }
        let mut g = group("web", tasks);
        let zone = Spread::parse("node.labels.zone").unwrap();
        g.requirements.preferences = vec![zone.clone()];
        schedule(&mut nodes, &[g]);
        let mut per_value: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &nodes {
            *per_value.entry(zone.value(n)).or_default() += n.service_tasks("web");
        }
        let (min, max) = (per_value.values().min().unwrap(), per_value.values().max().unwrap());
        prop_assert!(max - min <= 1, "per value {per_value:?}");
    }

    /// (d) The same input gives the same decisions, whatever the order of
    /// the nodes.
    #[test]
    fn deterministic(nodes in cluster(30), groups in prop::collection::vec(any_group(), 1..4), seed in any::<u64>()) {
        let mut shuffled = nodes.clone();
        let len = shuffled.len();
        for i in 0..len {
            shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % len);
        }
        let mut first = nodes.clone();
        prop_assert_eq!(schedule(&mut first, &groups), schedule(&mut shuffled, &groups));
    }
}
