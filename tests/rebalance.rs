//! `shoal service rebalance` (moby#24103): six tasks placed on one node
//! while the other was drained stay there when it comes back, as in
//! Swarm; a rebalance moves them, rolling, until each node holds its
//! share (3/3), `--max-moves` moving no more than asked, `service ps`
//! saying why each moved; a balanced
//! service moves nothing, and a global one is refused with the reason.
//! With `--rebalance-on-join` the returning node gets its share by itself.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Cluster, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// Running tasks of `service` per node hostname.
fn spread(node: &common::Node, service: &str) -> BTreeMap<String, usize> {
    let out = node.ok(&["service", "ps", "--format", "{{.Node}} {{.DesiredState}} {{.CurrentState}}", service]);
    let mut by_node = BTreeMap::new();
    for line in out.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 3 && fields[1] == "Running" && fields[2] == "Running" {
            *by_node.entry(fields[0].to_string()).or_default() += 1;
        }
    }
    by_node
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

#[test]
fn a_rebalance_spreads_the_tasks_again_after_a_node_returns() {
    let cluster = Cluster::new(1, 1);
    let m = &cluster.managers[0];
    m.ok(&["node", "update", "--availability", "drain", "worker-1"]);
    m.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--replicas",
        "6",
        "--update-parallelism",
        "2",
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "six tasks on manager-1", || spread(m, "web") == counts(&[("manager-1", 6)]));
    m.ok(&["node", "update", "--availability", "active", "worker-1"]);
    // As in Swarm, nothing moves by itself.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(spread(m, "web"), counts(&[("manager-1", 6)]));

    let out = m.shoal(&["service", "rebalance", "--max-moves", "1", "web"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("moving 1 task"));
    assert_eq!(spread(m, "web"), counts(&[("manager-1", 5), ("worker-1", 1)]), "waited until it moved");

    let out = m.shoal(&["service", "rebalance", "web"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("moving 2 tasks"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(spread(m, "web"), counts(&[("manager-1", 3), ("worker-1", 3)]));
    let status = m.ok(&["service", "inspect", "--format", "{{.UpdateStatus.State}}", "web"]);
    assert_eq!(status.trim(), "completed");
    // The history says why the three moved.
    let errors = m.ok(&["service", "ps", "--format", "{{.DesiredState}} {{.Error}}", "web"]);
    let moved = errors.lines().filter(|l| *l == "Shutdown \"moved by service rebalance\"").count();
    assert_eq!(moved, 3, "{errors}");

    let out = m.shoal(&["service", "rebalance", "web"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already balanced"));
    assert_eq!(spread(m, "web"), counts(&[("manager-1", 3), ("worker-1", 3)]));

    m.ok(&["service", "create", "--detach", "--name", "mon", "--mode", "global", "sleep", "1000"]);
    let err = m.fails(1, &["service", "rebalance", "mon"]);
    assert!(err.contains("service mon is not replicated"), "{err}");
}

#[test]
fn with_rebalance_on_join_a_returning_node_gets_its_share_by_itself() {
    let cluster = Cluster::new(1, 1);
    let m = &cluster.managers[0];
    let err = m.fails(1, &["service", "create", "--mode", "global", "--rebalance-on-join", "sleep", "1000"]);
    assert!(err.contains("--rebalance-on-join: only a replicated service"), "{err}");
    m.ok(&["node", "update", "--availability", "drain", "worker-1"]);
    let create = |name: &str, flag: &[&str]| {
        let args =
            [&["service", "create", "--detach", "--name", name, "--replicas", "6"][..], flag, &["sleep", "1000"]];
        m.ok(&args.concat());
    };
    create("web", &["--rebalance-on-join", "--update-parallelism", "2"]);
    create("plain", &[]);
    wait_until(WAIT, "both services on manager-1", || {
        spread(m, "web") == counts(&[("manager-1", 6)]) && spread(m, "plain") == counts(&[("manager-1", 6)])
    });
    let pretty = m.ok(&["service", "inspect", "--pretty", "web"]);
    assert!(pretty.contains("Rebalance on join:\ttrue"), "{pretty}");

    m.ok(&["node", "update", "--availability", "active", "worker-1"]);
    wait_until(WAIT, "web spread 3/3 by itself", || spread(m, "web") == counts(&[("manager-1", 3), ("worker-1", 3)]));
    assert_eq!(spread(m, "plain"), counts(&[("manager-1", 6)]), "a service without the flag stays");
}
