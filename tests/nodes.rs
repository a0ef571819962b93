//! Node lifecycle on a real cluster: a frozen worker is marked Down and
//! its tasks move, then come back without duplicates; drain, pause and
//! active; labels; removal, and a removed node kept out.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Cluster, Node, procs_with, token, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// Hostname of the node of each running task of `service`, by slot.
fn running(node: &Node, service: &str) -> BTreeMap<String, String> {
    node.ok(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Name}} {{.Node}} {{.CurrentState}}",
        service,
    ])
    .lines()
    .filter(|l| l.contains(" Running "))
    .map(|l| {
        let mut words = l.split(' ');
        (words.next().unwrap().to_string(), words.next().unwrap().to_string())
    })
    .collect()
}

fn status(node: &Node, reference: &str) -> String {
    node.ok(&["node", "inspect", "--format", "{{.Status.State}}/{{.Spec.Availability}}", reference]).trim().to_string()
}

#[test]
fn a_frozen_worker_goes_down_its_tasks_move_and_come_back_clean() {
    let cluster = Cluster::new(1, 2);
    let manager = &cluster.managers[0];
    let frozen = &cluster.workers[0];
    let token = token();
    manager.ok(&["service", "create", "--name", "web", "--replicas", "6", "--env", &token, "sleep", "1000"]);
    assert_eq!(running(manager, "web").len(), 6);
    let on_frozen = running(manager, "web").values().filter(|n| **n == frozen.hostname).count();
    assert!(on_frozen > 0, "tasks spread on every node");
    assert_eq!(procs_with(&token).len(), 6);

    frozen.freeze(true);
    wait_until(WAIT, "the frozen worker marked Down", || status(manager, &frozen.hostname).starts_with("down/"));
    wait_until(WAIT, "6 tasks running on the live nodes", || {
        let tasks = running(manager, "web");
        tasks.len() == 6 && tasks.values().all(|n| *n != frozen.hostname)
    });
    // The frozen node's processes still run (nobody can reach them).
    assert_eq!(procs_with(&token).len(), 6 + on_frozen);

    frozen.freeze(false);
    wait_until(WAIT, "the worker Ready again", || status(manager, &frozen.hostname) == "ready/active");
    wait_until(WAIT, "its stale tasks stopped", || procs_with(&token).len() == 6);
    assert_eq!(running(manager, "web").len(), 6);
    assert_eq!(manager.replicas("web"), "6/6");
}

#[test]
fn drain_pause_active_and_labels() {
    let cluster = Cluster::new(1, 1);
    let (manager, worker) = (&cluster.managers[0], &cluster.workers[0]);
    let token = token();
    manager.ok(&["service", "create", "--name", "web", "--replicas", "4", "--env", &token, "sleep", "1000"]);
    assert!(running(manager, "web").values().any(|n| *n == worker.hostname));

    // Drain: every task leaves the worker, and its processes stop.
    assert_eq!(manager.ok(&["node", "update", "--availability", "drain", &worker.hostname]).trim(), worker.hostname);
    assert_eq!(status(manager, &worker.hostname), "ready/drain");
    wait_until(WAIT, "every task on the manager", || {
        let tasks = running(manager, "web");
        tasks.len() == 4 && tasks.values().all(|n| *n == manager.hostname)
    });
    wait_until(WAIT, "the drained tasks' processes gone", || procs_with(&token).len() == 4);

    // Pause: running tasks stay, new ones go elsewhere.
    manager.ok(&["node", "update", "--availability", "active", &worker.hostname]);
    manager.ok(&["service", "scale", "web=6"]);
    assert!(running(manager, "web").values().any(|n| *n == worker.hostname), "active again takes tasks");
    manager.ok(&["node", "update", "--availability", "pause", &worker.hostname]);
    assert_eq!(status(manager, &worker.hostname), "ready/pause");
    let before = running(manager, "web").values().filter(|n| **n == worker.hostname).count();
    manager.ok(&["service", "scale", "web=10"]);
    let tasks = running(manager, "web");
    assert_eq!(tasks.len(), 10);
    assert_eq!(tasks.values().filter(|n| **n == worker.hostname).count(), before, "a paused node takes no new task");

    // Labels.
    manager.ok(&["node", "update", "--label-add", "zone=east", "--label-add", "ssd", &worker.hostname]);
    let labels = manager.ok(&["node", "inspect", "--format", "{{json .Spec.Labels}}", &worker.hostname]);
    assert_eq!(labels.trim(), r#"{"ssd":"","zone":"east"}"#);
    manager.ok(&["node", "update", "--label-rm", "ssd", &worker.hostname]);
    let labels = manager.ok(&["node", "inspect", "--format", "{{json .Spec.Labels}}", &worker.hostname]);
    assert_eq!(labels.trim(), r#"{"zone":"east"}"#);
    // `node ls --filter`, Docker's keys.
    let listed = |filters: &[&str]| {
        let args = [&["node", "ls", "--format", "{{.Hostname}}"][..], filters].concat();
        manager.ok(&args).lines().map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(listed(&["--filter", "node.label=zone=east"]), std::slice::from_ref(&worker.hostname));
    assert_eq!(listed(&["--filter", "role=manager"]), std::slice::from_ref(&manager.hostname));
    assert_eq!(listed(&["--filter", "role=worker", "--filter", "name=nobody"]), Vec::<String>::new());
    let err = manager.fails(2, &["node", "ls", "--filter", "role=boss"]);
    assert!(err.contains("role: expected one of manager, worker"), "{err}");

    // Bad input changes nothing.
    let err = manager.fails(2, &["node", "update", "--availability", "sleepy", &worker.hostname]);
    assert!(err.contains("--availability"), "{err}");
    let err = manager.fails(2, &["node", "update", "--label-add", "=x", &worker.hostname]);
    assert!(err.contains("--label-add"), "{err}");
    let err = manager.fails(1, &["node", "update", "--availability", "drain", "nope"]);
    assert!(err.contains("no such node: nope"), "{err}");
    assert_eq!(status(manager, &worker.hostname), "ready/pause");
}

#[test]
fn removed_nodes_are_gone_and_kept_out() {
    let Cluster { managers, workers } = Cluster::new(1, 2);
    let manager = &managers[0];
    let mut workers = workers.into_iter();
    let (live, mut dead) = (workers.next().unwrap(), workers.next().unwrap());
    let token = token();
    manager.ok(&["service", "create", "--name", "web", "--replicas", "6", "--env", &token, "sleep", "1000"]);

    let err = manager.fails(1, &["node", "rm", &live.hostname]);
    assert!(err.contains("is not down and can't be removed") && err.contains("--force"), "{err}");
    let err = manager.fails(1, &["node", "rm", "--force", &manager.hostname]);
    assert!(err.contains("is a cluster manager"), "{err}");
    assert_eq!(manager.ok(&["node", "ls", "-q"]).lines().count(), 3, "refusals change nothing");

    // A Down node goes without --force.
    dead.kill9();
    wait_until(WAIT, "the stopped worker Down", || status(manager, &dead.hostname).starts_with("down/"));
    assert_eq!(manager.ok(&["node", "rm", &dead.hostname]).trim(), dead.hostname);

    // A Ready one with --force: its tasks run elsewhere, it stops them,
    // and it cannot come back.
    let live_id = manager.ok(&["node", "inspect", "--format", "{{.ID}}", &live.hostname]).trim().to_string();
    manager.ok(&["node", "rm", "--force", &live.hostname]);
    let left: BTreeSet<String> =
        manager.ok(&["node", "ls", "--format", "{{.Hostname}}"]).lines().map(str::to_string).collect();
    assert_eq!(left, BTreeSet::from([manager.hostname.clone()]));
    wait_until(WAIT, "6 tasks on the manager", || {
        let tasks = running(manager, "web");
        tasks.len() == 6 && tasks.values().all(|n| *n == manager.hostname)
    });
    wait_until(WAIT, "the removed node refused", || live.log().contains("the cluster refuses this node"));
    let err = manager.fails(1, &["node", "inspect", &live_id]);
    assert!(err.contains("no such node"), "{err}");
    // The node removed while down still runs its tasks until it comes back.
    dead.restart();
    wait_until(WAIT, "the restarted removed node refused", || dead.log().contains("the cluster refuses this node"));
    wait_until(WAIT, "the removed nodes' processes stopped", || procs_with(&token).len() == 6);
    assert_eq!(manager.ok(&["node", "ls", "-q"]).lines().count(), 1);
}

#[test]
fn ambiguous_hostnames_list_the_candidates() {
    let manager = Node::init_with("twin-manager", &[]);
    let (token, addr) = manager.join_token("worker");
    let a = Node::start_on("twin", "127.0.0.1");
    a.ok(&["node", "join", "--token", &token, &addr]);
    let b = Node::start_on("twin", "127.0.0.1");
    b.ok(&["node", "join", "--token", &token, &addr]);
    let err = manager.fails(1, &["node", "inspect", "twin"]);
    assert!(err.contains("ambiguous"), "{err}");
    let ids: Vec<String> = manager.ok(&["node", "ls", "-q"]).lines().map(str::to_string).collect();
    let twins: Vec<&String> = ids.iter().filter(|id| err.contains(id.as_str())).collect();
    assert_eq!(twins.len(), 2, "both candidates listed: {err}");
}

#[test]
fn a_worker_leaves_and_joins_again() {
    let cluster = Cluster::new(1, 1);
    let (manager, worker) = (&cluster.managers[0], &cluster.workers[0]);
    let token = token();
    manager.ok(&["service", "create", "--name", "web", "--replicas", "4", "--env", &token, "sleep", "1000"]);
    assert!(running(manager, "web").values().any(|n| *n == worker.hostname));

    let err = manager.fails(1, &["node", "leave"]);
    assert!(err.contains("this node is a manager") && err.contains("--force"), "{err}");
    assert_eq!(worker.ok(&["node", "leave"]).trim(), "Node left the cluster.");
    // Its tasks stopped; the cluster sees it Down and runs them elsewhere.
    wait_until(WAIT, "the worker Down", || status(manager, &worker.hostname).starts_with("down/"));
    wait_until(WAIT, "4 tasks on the manager", || {
        let tasks = running(manager, "web");
        tasks.len() == 4 && tasks.values().all(|n| *n == manager.hostname)
    });
    wait_until(WAIT, "only the manager's processes", || procs_with(&token).len() == 4);
    let err = worker.fails(1, &["node", "leave"]);
    assert!(err.contains("not part of a cluster"), "{err}");
    assert!(!worker.data_dir().join("certificates").exists(), "its certificates are gone");

    // Removed from the list, it joins again as a new node.
    manager.ok(&["node", "rm", &worker.hostname]);
    let (token, addr) = manager.join_token("worker");
    worker.ok(&["node", "join", "--token", &token, &addr]);
    wait_until(WAIT, "the worker Ready again", || status(manager, &worker.hostname) == "ready/active");
    assert_eq!(manager.ok(&["node", "ls", "-q"]).lines().count(), 2);
}

/// `MANAGER STATUS` of every node, by hostname, as `node ls` on `node` shows it.
fn manager_statuses(node: &Node) -> BTreeMap<String, String> {
    let out = node.shoal(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(h, s)| (h.to_string(), s.to_string())))
        .collect()
}

#[test]
fn promote_and_demote_with_their_refusals() {
    let mut cluster = Cluster::new(1, 2);
    let token = token();
    let manager = &cluster.managers[0];
    manager.ok(&["service", "create", "--name", "web", "--replicas", "3", "--env", &token, "sleep", "1000"]);
    let pids: BTreeSet<i32> = procs_with(&token).into_iter().collect();
    let (w1, w2) = (cluster.workers[0].hostname.clone(), cluster.workers[1].hostname.clone());

    let err = manager.fails(1, &["node", "demote", &manager.hostname]);
    assert!(err.contains("last manager"), "{err}");

    let out = manager.ok(&["node", "promote", &w1, &w2]);
    assert!(out.contains(&format!("Node {w1} promoted to a manager in the cluster.")), "{out}");
    let three = BTreeMap::from([
        (manager.hostname.clone(), "Leader".to_string()),
        (w1.clone(), "Reachable".to_string()),
        (w2.clone(), "Reachable".to_string()),
    ]);
    wait_until(WAIT, "3 managers", || manager_statuses(manager) == three);
    wait_until(WAIT, "the promoted nodes answer as managers", || manager_statuses(&cluster.workers[0]) == three);
    let now: BTreeSet<i32> = procs_with(&token).into_iter().collect();
    assert_eq!(now, pids, "tasks kept running through the promotions");

    // Demoting a manager while another is down would leave no quorum.
    cluster.workers[1].kill9();
    wait_until(WAIT, "the stopped manager Unreachable", || manager_statuses(manager)[&w2] == "Unreachable");
    let err = manager.fails(1, &["node", "demote", &w1]);
    assert!(err.contains("no quorum"), "{err}");
    cluster.workers[1].restart();
    wait_until(WAIT, "3 managers again", || manager_statuses(manager) == three);
    wait_until(WAIT, "3 replicas and no stale copy", || {
        cluster.managers[0].replicas("web") == "3/3" && procs_with(&token).len() == 3
    });
    let pids: BTreeSet<i32> = procs_with(&token).into_iter().collect();

    let manager = &cluster.managers[0];
    let out = manager.ok(&["node", "demote", &w2, &w1]);
    assert!(out.contains(&format!("Manager {w2} demoted in the cluster.")), "{out}");
    let one = BTreeMap::from([
        (manager.hostname.clone(), "Leader".to_string()),
        (w1.clone(), String::new()),
        (w2.clone(), String::new()),
    ]);
    wait_until(WAIT, "one manager left", || manager_statuses(manager) == one);
    wait_until(WAIT, "the demoted nodes are workers again", || {
        let err = String::from_utf8_lossy(&cluster.workers[0].shoal(&["node", "ls"]).stderr).into_owned();
        err.contains("not a cluster manager") && !cluster.workers[1].data_dir().join("raft").exists()
    });
    wait_until(WAIT, "every node Ready", || {
        manager.ok(&["node", "ls", "--format", "{{.Status}}"]).lines().all(|l| l == "Ready")
    });
    assert_eq!(manager.replicas("web"), "3/3");
    let after: BTreeSet<i32> = procs_with(&token).into_iter().collect();
    assert_eq!(after, pids, "tasks kept running through the demotions");
}

#[test]
fn the_leader_can_demote_itself() {
    let cluster = Cluster::new(3, 0);
    let leader = cluster.leader();
    let out = leader.ok(&["node", "demote", &leader.hostname]);
    assert!(out.contains("demoted in the cluster"), "{out}");
    let other = cluster.managers.iter().find(|m| m.hostname != leader.hostname).unwrap();
    wait_until(WAIT, "a new leader, and the old one a worker", || {
        let statuses = manager_statuses(other);
        statuses.get(&leader.hostname).is_some_and(|s| s.is_empty())
            && statuses.values().filter(|s| *s == "Leader").count() == 1
            && statuses.values().filter(|s| *s == "Reachable").count() == 1
    });
    wait_until(WAIT, "the old leader answers as a worker", || {
        String::from_utf8_lossy(&leader.shoal(&["node", "ls"]).stderr).contains("not a cluster manager")
    });
    wait_until(WAIT, "every node Ready", || {
        other.ok(&["node", "ls", "--format", "{{.Status}}"]).lines().all(|l| l == "Ready")
    });
    other.ok(&["service", "create", "--detach", "--replicas", "0", "--name", "after", "sleep", "9"]);
}
