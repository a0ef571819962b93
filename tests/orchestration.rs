//! Orchestration as a Swarm user relies on it, on real daemons through the
//! real CLI: no tight restart loop for a task that fails before it starts,
//! a slot stopped by its restart policy started again by a new spec,
//! scale-down that keeps the spread, failures counted per spec version,
//! placement-only updates that keep tasks, tasks bound to a node placed
//! first, the enforcer stopping what a shrunk node cannot hold, and
//! desired states that end where they should.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Cluster, Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// A task as `service ps` shows it.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: String,
    node: String,
    desired: String,
    /// The current state's first word ("Running").
    state: String,
    error: String,
}

fn rows(node: &Node, service: &str) -> Vec<Row> {
    let lines = node.json_lines(&["service", "ps", "--no-trunc", "--format", "json", service]);
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    lines
        .iter()
        .map(|t| Row {
            id: text(&t["ID"]),
            node: text(&t["Node"]),
            desired: text(&t["DesiredState"]),
            state: text(&t["CurrentState"]).split(' ').next().unwrap_or_default().to_string(),
            error: text(&t["Error"]),
        })
        .collect()
}

/// Running tasks meant to run, per node hostname.
fn running_per_node(node: &Node, service: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in rows(node, service).into_iter().filter(|r| r.desired == "Running" && r.state == "Running") {
        *counts.entry(row.node).or_default() += 1;
    }
    counts
}

fn converges(node: &Node, service: &str, expected: &[(&str, usize)]) {
    let expected: BTreeMap<String, usize> = expected.iter().map(|(h, n)| (h.to_string(), *n)).collect();
    wait_until(WAIT, &format!("{service} running as {expected:?}"), || running_per_node(node, service) == expected);
}

/// The node's CPUs as it reports them, in nano CPUs.
fn nano_cpus(node: &Node, name: &str) -> i64 {
    node.ok(&["node", "inspect", "--format", "{{.Description.Resources.NanoCPUs}}", name]).trim().parse().unwrap()
}

/// `n` tenths of a CPU, as `--reserve-cpu` takes it.
fn cpus(nano: i64) -> String {
    format!("{}", nano as f64 / 1e9)
}

#[test]
fn a_task_that_fails_before_it_starts_waits_out_its_restart_delay() {
    let node = Node::init("node-a");
    // An absurd delay is refused, and nothing is created.
    let err = node.fails(1, &["service", "create", "--name", "x", "--restart-delay", "2500000h", "sleep", "1"]);
    assert!(err.contains("restart delay: expected at most 8760h (a year), got 2500000h"), "{err}");
    assert!(node.services().is_empty());

    node.ok(&["service", "create", "--detach", "--name", "missing", "--restart-delay", "2s", "/nonexistent/program"]);
    // Every task made in six seconds: one every restart delay, not one
    // per round trip (the program is missing: each fails as it is prepared).
    let mut seen = BTreeSet::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(6) {
        seen.extend(rows(&node, "missing").into_iter().map(|r| r.id));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!((2..=6).contains(&seen.len()), "{} tasks in 6 s with a 2 s restart delay", seen.len());
    let failed = rows(&node, "missing");
    assert!(failed.iter().any(|r| r.error.contains("/nonexistent/program")), "{failed:?}");
}

#[test]
fn a_slot_stopped_by_its_restart_policy_starts_again_on_a_new_spec() {
    let node = Node::init("node-a");
    let fixed = r#"test "$FIXED" = 1 || exit 3; exec sleep 1000"#;
    node.ok(&["service", "create", "--detach", "--name", "once", "--restart-condition", "none", "sh", "-c", fixed]);
    wait_until(WAIT, "the slot stopped by its policy", || {
        rows(&node, "once").iter().any(|r| r.state == "Failed" && r.desired == "Shutdown")
    });
    assert_eq!(node.replicas("once"), "0/1");
    node.ok(&["service", "update", "--detach", "--env-add", "FIXED=1", "once"]);
    wait_until(WAIT, "the fixed spec running", || node.replicas("once") == "1/1");

    // Attempts used up, then `--force` once the cause is gone: a fresh
    // task with a fresh attempt count.
    let dir = tempfile::TempDir::new().unwrap();
    let ok = dir.path().join("ok");
    let script = format!("test -e {} || exit 3; exec sleep 1000", ok.display());
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "tries",
        "--restart-max-attempts",
        "1",
        "--restart-delay",
        "0s",
        "sh",
        "-c",
        &script,
    ]);
    wait_until(WAIT, "two failures, then the slot stopped", || {
        let rows = rows(&node, "tries");
        rows.len() == 2 && rows.iter().all(|r| r.state == "Failed" && r.desired == "Shutdown")
    });
    std::fs::write(&ok, "").unwrap();
    node.ok(&["service", "update", "--detach", "--force", "tries"]);
    wait_until(WAIT, "the forced spec running", || node.replicas("tries") == "1/1");
}

#[test]
fn scale_down_keeps_the_spread_and_placement_changes_keep_fitting_tasks() {
    let cluster = Cluster::new(1, 2);
    let manager = &cluster.managers[0];
    manager.ok(&["node", "update", "--availability", "drain", "worker-2"]);
    manager.ok(&["service", "create", "--detach", "--name", "web", "--replicas", "4", "sleep", "1000"]);
    converges(manager, "web", &[("manager-1", 2), ("worker-1", 2)]);
    manager.ok(&["node", "update", "--availability", "active", "worker-2"]);
    manager.ok(&["service", "scale", "--detach", "web=6"]);
    converges(manager, "web", &[("manager-1", 2), ("worker-1", 2), ("worker-2", 2)]);
    // The two newest slots are both on worker-2: removing them would
    // leave it empty.
    manager.ok(&["service", "scale", "--detach", "web=4"]);
    wait_until(WAIT, "four tasks on three nodes", || {
        let per_node = running_per_node(manager, "web");
        let mut counts: Vec<usize> = per_node.values().copied().collect();
        counts.sort();
        counts == [1, 1, 2]
    });
    // Scaling up again fills the lowest free slot numbers.
    manager.ok(&["service", "scale", "--detach", "web=6"]);
    wait_until(WAIT, "slots 1 to 6 again", || {
        let names: BTreeSet<String> = manager
            .ok(&["service", "ps", "--filter", "desired-state=running", "--format", "{{.Name}}", "web"])
            .lines()
            .map(String::from)
            .collect();
        names == (1..=6).map(|i| format!("web.{i}")).collect()
    });

    // A constraint the task's node already meets leaves the task alone
    // (and the CLI's wait ends); one it does not meet moves it.
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "one",
        "--constraint",
        "node.role==worker",
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "one running", || manager.replicas("one") == "1/1");
    let before = rows(manager, "one");
    let host = before[0].node.clone();
    let pin = format!("node.hostname=={host}");
    manager.ok(&["service", "update", "--constraint-add", &pin, "one"]);
    assert_eq!(rows(manager, "one"), before, "the task kept running where it was");
    manager.ok(&[
        "service",
        "update",
        "--detach",
        "--constraint-rm",
        &pin,
        "--constraint-rm",
        "node.role==worker",
        "--constraint-add",
        "node.role==manager",
        "one",
    ]);
    converges(manager, "one", &[("manager-1", 1)]);
    let moved = rows(manager, "one");
    assert!(moved.iter().any(|r| r.id == before[0].id && r.state == "Rejected" && r.error.contains("no longer meets")));
}

#[test]
fn failures_count_per_spec_version() {
    let cluster = Cluster::new(1, 1);
    let manager = &cluster.managers[0];
    let script = r#"test "$OK" = 1 || exit 1; exec sleep 1000"#;
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "flaky",
        "--replicas",
        "2",
        "--constraint",
        "node.hostname==worker-1",
        "--restart-max-attempts",
        "3",
        "--restart-delay",
        "0s",
        "sh",
        "-c",
        script,
    ]);
    wait_until(WAIT, "eight failures on worker-1, both slots stopped", || {
        let rows = rows(manager, "flaky");
        rows.len() == 8 && rows.iter().all(|r| r.state == "Failed" && r.desired == "Shutdown" && r.node == "worker-1")
    });
    // The fixed version may run anywhere: worker-1's failures were the
    // old version's, so it is not avoided.
    manager.ok(&[
        "service",
        "update",
        "--detach",
        "--constraint-rm",
        "node.hostname==worker-1",
        "--env-add",
        "OK=1",
        "flaky",
    ]);
    converges(manager, "flaky", &[("manager-1", 1), ("worker-1", 1)]);
}

#[test]
fn tasks_bound_to_a_node_are_placed_before_the_others() {
    let node = Node::init("node-a");
    let most = cpus(nano_cpus(&node, "self") * 6 / 10);
    let create = |name: &str, mode: &str| {
        node.ok(&[
            "service",
            "create",
            "--detach",
            "--name",
            name,
            "--mode",
            mode,
            "--reserve-cpu",
            &most,
            "sleep",
            "1000",
        ]);
    };
    create("blocker", "replicated");
    wait_until(WAIT, "the blocker running", || node.replicas("blocker") == "1/1");
    // Neither fits while the blocker runs; once it goes, they are placed
    // in one pass, whatever their services' ids: the global task first.
    create("global", "global");
    for i in 1..=7 {
        create(&format!("r{i}"), "replicated");
    }
    wait_until(WAIT, "every task waiting", || {
        (1..=7).all(|i| rows(&node, &format!("r{i}")).iter().any(|r| r.error.contains("insufficient resources")))
            && rows(&node, "global").iter().any(|r| r.error.contains("insufficient resources"))
    });
    node.ok(&["service", "rm", "blocker"]);
    wait_until(WAIT, "the global task running", || node.replicas("global") == "1/1");
    for i in 1..=7 {
        assert_eq!(node.replicas(&format!("r{i}")), "0/1");
    }
}

#[test]
fn the_enforcer_stops_the_newest_tasks_a_shrunk_node_cannot_hold() {
    let mut node = Node::init("node-a");
    let total = nano_cpus(&node, "self");
    if total < 2_000_000_000 {
        eprintln!("skipped: this machine has one CPU, the node cannot shrink");
        return;
    }
    // Two tasks of 0.4 of the node each; then the node restarts on one CPU.
    let each = cpus(total * 4 / 10);
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--replicas",
        "2",
        "--reserve-cpu",
        &each,
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "both tasks running", || node.replicas("web") == "2/2");
    let keep = total * 4 / 10 <= 1_000_000_000;
    node.restart_pinned("0");
    wait_until(WAIT, "the node reporting one CPU", || nano_cpus(&node, "self") == 1_000_000_000);
    wait_until(WAIT, "the task over the node's size rejected", || {
        let rows = rows(&node, "web");
        let rejected = rows.iter().filter(|r| r.state == "Rejected").count();
        rejected == if keep { 1 } else { 2 }
            && rows
                .iter()
                .filter(|r| r.state == "Rejected")
                .all(|r| r.error.contains("assigned node no longer meets constraints"))
    });
    if keep {
        assert_eq!(node.replicas("web"), "1/2");
    }
}

#[test]
fn desired_states_end_where_they_should() {
    let node = Node::init("node-a");
    // A task told to stop before it was placed ends Shutdown.
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "nowhere",
        "--constraint",
        "node.labels.zone==mars",
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "the task waiting", || rows(&node, "nowhere").iter().any(|r| r.state == "Pending"));
    let first = rows(&node, "nowhere")[0].id.clone();
    node.ok(&["service", "update", "--detach", "--constraint-rm", "node.labels.zone==mars", "nowhere"]);
    wait_until(WAIT, "the replacement running, the first task shut down", || {
        let rows = rows(&node, "nowhere");
        node.replicas("nowhere") == "1/1" && rows.iter().any(|r| r.id == first && r.state == "Shutdown")
    });

    // A global task that fails on a paused node is told to stop, and
    // replaced once the node is active again.
    let dir = tempfile::TempDir::new().unwrap();
    let fail = dir.path().join("fail");
    let script = format!("while [ ! -e {} ]; do sleep 0.1; done; exit 1", fail.display());
    node.ok(&["service", "create", "--detach", "--name", "agent", "--mode", "global", "sh", "-c", &script]);
    wait_until(WAIT, "the global task running", || node.replicas("agent") == "1/1");
    node.ok(&["node", "update", "--availability", "pause", "self"]);
    std::fs::write(&fail, "").unwrap();
    wait_until(WAIT, "the failed task told to stop", || {
        rows(&node, "agent").iter().any(|r| r.state == "Failed" && r.desired == "Shutdown")
    });
    assert_eq!(rows(&node, "agent").len(), 1, "nothing new on a paused node");
    std::fs::remove_file(&fail).unwrap();
    node.ok(&["node", "update", "--availability", "active", "self"]);
    wait_until(WAIT, "a new task once the node is active", || {
        let rows = rows(&node, "agent");
        rows.len() == 2 && node.replicas("agent") == "1/1"
    });
}
