use super::*;
use crate::constraint::parse_all;
use crate::node::{HostPort, Resources, Role};
use crate::task::Requirements;

fn node() -> NodeInfo {
    NodeInfo {
        id: "n1".into(),
        ready: true,
        active: true,
        runtimes: vec!["process".into()],
        os: "linux".into(),
        arch: "x86_64".into(),
        role: Role::Worker,
        capacity: Resources { nano_cpus: 2_000_000_000, memory_bytes: 1 << 30 },
        ..Default::default()
    }
}

fn group(requirements: Requirements) -> TaskGroup {
    TaskGroup { service_id: "web".into(), spec_version: 0, requirements, node: None, tasks: vec!["t".into()] }
}

fn base() -> Requirements {
    Requirements { runtime: "process".into(), ..Default::default() }
}

#[test]
fn ready_and_active() {
    let g = group(base());
    let f = &ready::ReadyFilter;
    assert!(f.check(&g, &node()));
    assert!(!f.check(&g, &NodeInfo { ready: false, ..node() }));
    assert!(!f.check(&g, &NodeInfo { active: false, ..node() }));
    assert_eq!(f.explain(&g, 1), "1 node not available for new tasks");
}

#[test]
fn runtime() {
    let f = &runtime::RuntimeFilter;
    assert!(f.check(&group(base()), &node()));
    let docker = group(Requirements { runtime: "docker".into(), ..base() });
    assert!(!f.check(&docker, &node()));
    assert_eq!(f.explain(&docker, 2), "runtime \"docker\" not available on 2 nodes");
}

#[test]
fn limits_need_a_node_that_enforces_them() {
    let f = &limits::LimitsFilter;
    assert!(!f.applies(&group(base())), "no limits, any node");
    let g = group(Requirements { limits: vec!["memory".into(), "pids".into()], ..base() });
    assert!(f.applies(&g));
    assert!(!f.check(&g, &node()), "a node without cgroups");
    let some = NodeInfo { limits: vec!["cpu".into(), "memory".into()], ..node() };
    assert!(!f.check(&g, &some));
    let all = NodeInfo { limits: vec!["cpu".into(), "memory".into(), "pids".into()], ..node() };
    assert!(f.check(&g, &all));
    assert_eq!(f.explain(&g, 1), "resource limits (memory, pids) not enforceable on 1 node");
}

#[test]
fn constraints_all_must_hold() {
    let f = &constraint::ConstraintFilter;
    assert!(!f.applies(&group(base())));
    let g = group(Requirements {
        constraints: parse_all(&["node.role==worker", "node.labels.zone==east"]).unwrap(),
        ..base()
    });
    assert!(f.applies(&g));
    assert!(!f.check(&g, &node()));
    let mut east = node();
    east.labels.insert("zone".into(), "east".into());
    assert!(f.check(&g, &east));
    assert!(!f.check(&g, &NodeInfo { role: Role::Manager, ..east }));
    assert_eq!(f.explain(&g, 3), "scheduling constraints not satisfied on 3 nodes");
}

#[test]
fn platform() {
    let f = &platform::PlatformFilter;
    let g = group(Requirements { platforms: vec![("linux".into(), "amd64".into())], ..base() });
    assert!(f.check(&g, &node()), "amd64 is x86_64");
    assert!(!f.check(&g, &NodeInfo { arch: "aarch64".into(), ..node() }));
    let any_arch = group(Requirements { platforms: vec![("Linux".into(), "".into())], ..base() });
    assert!(f.check(&any_arch, &NodeInfo { arch: "aarch64".into(), ..node() }));
    assert!(!f.check(&any_arch, &NodeInfo { os: "windows".into(), ..node() }));
    assert_eq!(f.explain(&g, 1), "unsupported platform on 1 node");
}

#[test]
fn resources_left_after_other_reservations() {
    let f = &resources::ResourceFilter;
    assert!(!f.applies(&group(base())));
    let g = group(Requirements { reservations: Resources { nano_cpus: 1_500_000_000, memory_bytes: 0 }, ..base() });
    let mut n = node();
    assert!(f.check(&g, &n));
    n.add_task("db", &Resources { nano_cpus: 1_000_000_000, memory_bytes: 0 }, &[]);
    assert!(!f.check(&g, &n));
    assert!(f.dynamic());
    assert_eq!(f.explain(&g, 2), "insufficient resources on 2 nodes");
}

#[test]
fn host_ports() {
    let f = &ports::HostPortFilter;
    let port = HostPort { udp: false, port: 8080 };
    let g = group(Requirements { host_ports: vec![port], ..base() });
    let mut n = node();
    n.host_ports.insert(HostPort { udp: true, port: 8080 });
    assert!(f.check(&g, &n), "udp 8080 leaves tcp 8080 free");
    n.host_ports.insert(port);
    assert!(!f.check(&g, &n));
}

#[test]
fn max_replicas() {
    let f = &max_replicas::MaxReplicasFilter;
    let g = group(Requirements { max_replicas: 1, ..base() });
    let mut n = node();
    assert!(f.check(&g, &n));
    n.add_task("web", &Resources::default(), &[]);
    assert!(!f.check(&g, &n));
    assert!(f.check(&group(Requirements { max_replicas: 1, ..base() }), &node()));
}
