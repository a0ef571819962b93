//! Placement on a real cluster: constraints by label and role, spread
//! preferences, a task that fits nowhere waiting with the full reason
//! until a label makes room, and malformed placement refused up front.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Cluster, Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// Running tasks of `service` per node hostname.
fn running_per_node(node: &Node, service: &str) -> BTreeMap<String, usize> {
    let out = node.ok(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}} {{.CurrentState}}",
        service,
    ]);
    let mut counts = BTreeMap::new();
    for line in out.lines().filter(|l| l.contains(" Running ")) {
        *counts.entry(line.split(' ').next().unwrap_or_default().to_string()).or_default() += 1;
    }
    counts
}

fn converges(node: &Node, service: &str, expected: &[(&str, usize)]) {
    let expected: BTreeMap<String, usize> = expected.iter().map(|(h, n)| (h.to_string(), *n)).collect();
    wait_until(WAIT, &format!("{service} running as {expected:?}"), || running_per_node(node, service) == expected);
}

#[test]
fn constraints_and_spread_preferences_choose_the_nodes() {
    let cluster = Cluster::new(1, 2);
    let manager = &cluster.managers[0];
    manager.ok(&["node", "update", "--label-add", "zone=east", "worker-1"]);
    manager.ok(&["node", "update", "--label-add", "zone=east", "manager-1"]);
    manager.ok(&["node", "update", "--label-add", "zone=west", "worker-2"]);

    let create = |name: &str, replicas: &str, flags: &[&str]| {
        let mut args = vec!["service", "create", "--detach", "--name", name, "--replicas", replicas];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["sleep", "1000"]);
        manager.ok(&args);
    };
    create("east", "3", &["--constraint", "node.labels.zone==east", "--constraint", "node.role!=manager"]);
    create("workers", "4", &["--constraint", "node.role==worker"]);
    create("managers", "2", &["--constraint", "NODE.ROLE==Manager"]);
    create("spread", "4", &["--placement-pref", "spread=node.labels.zone"]);
    converges(manager, "east", &[("worker-1", 3)]);
    converges(manager, "workers", &[("worker-1", 2), ("worker-2", 2)]);
    converges(manager, "managers", &[("manager-1", 2)]);
    // Two per zone: east has two nodes, west one.
    converges(manager, "spread", &[("manager-1", 1), ("worker-1", 1), ("worker-2", 2)]);

    let spec = manager.ok(&["service", "inspect", "--format", "{{json .Spec.TaskTemplate.Placement}}", "spread"]);
    assert_eq!(spec.trim(), r#"{"Preferences":[{"Spread":{"SpreadDescriptor":"node.labels.zone"}}]}"#);

    // Changing the constraints moves the tasks to the nodes that now match.
    manager.ok(&[
        "service",
        "update",
        "--constraint-rm",
        "node.labels.zone==east",
        "--constraint-add",
        "node.labels.zone==west",
        "east",
    ]);
    converges(manager, "east", &[("worker-2", 3)]);
    // So does a label change on a node: its tasks leave it.
    manager.ok(&["node", "update", "--label-add", "zone=east", "worker-2"]);
    manager.ok(&["node", "update", "--label-add", "zone=west", "worker-1"]);
    converges(manager, "east", &[("worker-1", 3)]);
}

#[test]
fn a_task_that_fits_nowhere_waits_with_the_reason_until_a_label_makes_room() {
    let cluster = Cluster::new(1, 1);
    let manager = &cluster.managers[0];
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "ssd",
        "--replicas",
        "2",
        "--constraint",
        "node.labels.disk==ssd",
        "--reserve-cpu",
        "0.01",
        "sleep",
        "1000",
    ]);
    manager.ok(&["service", "create", "--detach", "--name", "huge", "--reserve-memory", "100000g", "sleep", "1000"]);
    let reason = |service: &str| manager.ok(&["service", "ps", "--format", "{{.CurrentState}} | {{.Error}}", service]);
    wait_until(WAIT, "both ssd tasks pending with the reason", || {
        let out = reason("ssd");
        out.lines().count() == 2
            && out.lines().all(|l| {
                l.starts_with("Pending ")
                    && l.ends_with("| \"no suitable node (scheduling constraints not satisfied on 2 nodes)\"")
            })
    });
    wait_until(WAIT, "the huge task pending for lack of memory", || {
        reason("huge").contains("\"no suitable node (insufficient resources on 2 nodes)\"")
    });

    // Placed within a second of the label being added: the scheduler
    // reacts to the node change, it does not wait for a periodic pass.
    manager.ok(&["node", "update", "--label-add", "disk=ssd", "worker-1"]);
    let labelled = Instant::now();
    wait_until(Duration::from_secs(1), "both ssd tasks assigned to worker-1", || {
        let out = manager.ok(&["service", "ps", "--format", "{{.Node}}", "ssd"]);
        out.lines().filter(|l| *l == "worker-1").count() == 2
    });
    eprintln!("placed {:?} after the label was added", labelled.elapsed());
    converges(manager, "ssd", &[("worker-1", 2)]);
    assert!(reason("huge").contains("insufficient resources"), "the other task still waits");
    // Until its reservation is lowered: the waiting task is replaced by one
    // of the new spec, which fits.
    manager.ok(&["service", "update", "--reserve-memory", "8m", "huge"]);
    assert_eq!(manager.replicas("huge"), "1/1");
}

#[test]
fn malformed_placement_is_refused_and_nothing_is_created() {
    let node = Node::init("solo");
    let err = node.fails(1, &["service", "create", "--constraint", "node.labels.zone=east", "sleep", "1"]);
    assert!(
        err.contains("constraint \"node.labels.zone=east\", at character 17: expected an operator == or !="),
        "{err}"
    );
    let err = node.fails(1, &["service", "create", "--constraint", "node.lables.zone==east", "sleep", "1"]);
    assert!(err.contains("at character 1: expected a key (node.id, node.hostname"), "{err}");
    let err = node.fails(1, &["service", "create", "--placement-pref", "spread=node.id", "sleep", "1"]);
    assert!(err.contains("placement preference \"node.id\": expected node.labels.NAME or engine.labels.NAME"), "{err}");
    let err = node.fails(2, &["service", "create", "--placement-pref", "node.labels.zone", "sleep", "1"]);
    assert!(err.contains("--placement-pref"), "{err}");
    let err = node.fails(2, &["service", "create", "--reserve-cpu", "lots", "sleep", "1"]);
    assert!(err.contains("--reserve-cpu") && err.contains("expected a number of CPUs like 0.5, got \"lots\""), "{err}");
    let err = node.fails(2, &["service", "create", "--reserve-memory", "12x", "sleep", "1"]);
    assert!(err.contains("--reserve-memory"), "{err}");
    let err = node.fails(1, &["service", "create", "--limit-cpu", "1", "--reserve-cpu", "2", "sleep", "1"]);
    assert!(err.contains("reservation cpu: 2 is more than the limit, 1"), "{err}");
    assert_eq!(node.ok(&["service", "ls", "-q"]), "");
}

#[test]
fn a_global_service_runs_once_on_every_node_that_may_run_it() {
    let mut cluster = Cluster::new(1, 2);
    let manager = &cluster.managers[0];
    let err = manager.fails(1, &["service", "create", "--mode", "global", "--replicas", "2", "sleep", "1"]);
    assert!(err.contains("--replicas: can only be used with replicated or replicated-job mode"), "{err}");
    // Waits for convergence, as `docker service create` does.
    manager.ok(&[
        "service",
        "create",
        "--name",
        "mon",
        "--mode",
        "global",
        "--constraint",
        "node.role==worker",
        "sleep",
        "1000",
    ]);
    converges(manager, "mon", &[("worker-1", 1), ("worker-2", 1)]);
    let ls = manager.json_lines(&["service", "ls", "--format", "json"]);
    assert_eq!((ls[0]["Mode"].as_str(), ls[0]["Replicas"].as_str()), (Some("global"), Some("2/2")));
    let names = manager.ok(&["service", "ps", "--format", "{{.Name}}", "mon"]);
    assert!(names.lines().all(|n| n.starts_with("mon.") && n.len() > 10), "named by node: {names}");
    let err = manager.fails(1, &["service", "scale", "mon=3"]);
    assert!(err.contains("scale can only be used with replicated or replicated-job mode"), "{err}");

    // A node that joins later gets its task.
    let ip = cluster.workers[1].ip.rsplit_once('.').map(|(net, _)| format!("{net}.9")).unwrap();
    let late = Node::join("worker-3", &ip, &cluster.managers[0], "worker");
    cluster.workers.push(late);
    let manager = &cluster.managers[0];
    converges(manager, "mon", &[("worker-1", 1), ("worker-2", 1), ("worker-3", 1)]);

    // A drained node loses its task, and nothing replaces it elsewhere.
    manager.ok(&["node", "update", "--availability", "drain", "worker-1"]);
    converges(manager, "mon", &[("worker-2", 1), ("worker-3", 1)]);
    assert_eq!(manager.replicas("mon"), "2/2");
    // And gets a fresh one when it is active again; `service ps` lists the
    // drained task's history under the node's new task.
    manager.ok(&["node", "update", "--availability", "active", "worker-1"]);
    converges(manager, "mon", &[("worker-1", 1), ("worker-2", 1), ("worker-3", 1)]);
    let rows = manager.ok(&["service", "ps", "--format", "{{.Name}}|{{.Node}}", "mon"]);
    let rows: Vec<&str> = rows.lines().collect();
    let i = rows.iter().position(|r| r.ends_with("|worker-1") && !r.starts_with(" \\_")).expect("worker-1's task");
    assert!(rows[i + 1].starts_with(" \\_ mon.") && rows[i + 1].ends_with("|worker-1"), "history under it: {rows:?}");
}
