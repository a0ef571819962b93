//! Decisions per second of the pure scheduler: 10,000 tasks of 10 services
//! placed on 1,000 and 5,000 nodes, plain, with constraints, with a spread
//! preference and with both. `cargo bench -p shoal-scheduler`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use shoal_scheduler::{Constraint, NodeInfo, Requirements, Resources, Role, Spread, TaskGroup, schedule};

const TASKS: usize = 10_000;
const SERVICES: usize = 10;

fn nodes(n: usize) -> Vec<NodeInfo> {
    (0..n)
        .map(|i| {
            let mut node = NodeInfo {
                id: format!("node{i:05}"),
                hostname: format!("host-{i}"),
                role: if i % 10 == 0 { Role::Manager } else { Role::Worker },
                os: "linux".into(),
                arch: "x86_64".into(),
                ready: i % 50 != 7,
                active: true,
                runtimes: vec!["process".into()],
                capacity: Resources { nano_cpus: 16_000_000_000, memory_bytes: 64 << 30 },
                ..Default::default()
            };
            node.labels.insert("zone".into(), ["east", "west", "south", "north"][i % 4].into());
            node.labels.insert("rack".into(), format!("r{}", i % 40));
            for s in 0..(i % 5) {
                node.add_task(&format!("other{s}"), &Resources { nano_cpus: 500_000_000, memory_bytes: 1 << 30 }, &[]);
            }
            node
        })
        .collect()
}

fn groups(constraints: bool, spread: bool) -> Vec<TaskGroup> {
    (0..SERVICES)
        .map(|s| {
            let mut requirements = Requirements {
                runtime: "process".into(),
                reservations: Resources { nano_cpus: 100_000_000, memory_bytes: 64 << 20 },
                ..Default::default()
            };
            if constraints {
                requirements.constraints = ["node.role==worker", "node.labels.zone!=north"]
                    .iter()
                    .map(|c| Constraint::parse(c).unwrap())
                    .collect();
            }
            if spread {
                requirements.preferences = vec![Spread::parse("node.labels.zone").unwrap()];
            }
            TaskGroup {
                service_id: format!("svc{s}"),
                spec_version: 1,
                requirements,
                node: None,
                tasks: (0..TASKS / SERVICES).map(|t| format!("svc{s}.{t}")).collect(),
            }
        })
        .collect()
}

fn placement(c: &mut Criterion) {
    let mut bench = c.benchmark_group("placement");
    bench.throughput(Throughput::Elements(TASKS as u64)).sample_size(20);
    for size in [1_000, 5_000] {
        let cluster = nodes(size);
        for (name, constraints, spread) in
            [("plain", false, false), ("constraints", true, false), ("spread", false, true), ("both", true, true)]
        {
            let work = groups(constraints, spread);
            bench.bench_function(format!("{size} nodes/{name}"), |b| {
                b.iter_batched_ref(
                    || cluster.clone(),
                    |nodes| {
                        let d = schedule(nodes, black_box(&work));
                        assert_eq!(d.assigned.len(), TASKS);
                        d
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    bench.finish();
}

criterion_group!(benches, placement);
criterion_main!(benches);
