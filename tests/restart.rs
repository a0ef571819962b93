//! `kill -9` of the daemon and a restart on the same data dir: the
//! cluster, services, tasks and history come back, running tasks are
//! re-adopted, never duplicated; a task that died meanwhile is replaced.

mod common;

use std::time::Duration;

use common::{Node, procs_with, token, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// A task as `service ps` shows it: id, name, desired and current state.
type Row = (String, String, String, String);

/// What must survive a restart: ids, names, states (not the "ago").
fn snapshot(node: &Node) -> (String, Vec<Row>, String) {
    let nodes = node.ok(&["node", "ls", "-q"]);
    let rows = node
        .json_lines(&["service", "ps", "--format", "json", "--no-trunc", "web", "api"])
        .iter()
        .map(|t| {
            let state = t["CurrentState"].as_str().unwrap().split(' ').next().unwrap().to_string();
            (t["ID"].to_string(), t["Name"].to_string(), t["DesiredState"].to_string(), state)
        })
        .collect();
    (nodes, rows, node.ok(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]))
}

#[test]
fn kill_9_and_restart_changes_nothing() {
    let mut node = Node::init("node-a");
    let token = token();
    node.ok(&["service", "create", "--name", "web", "--replicas", "3", "--env", &token, "sleep", "1000"]);
    node.ok(&["service", "create", "--name", "api", "--restart-delay", "0s", "--env", &token, "sleep", "1001"]);
    // Some history: one failure in api.
    let api_pid = node.tasks("api")[0]["Status"]["ContainerStatus"]["PID"].as_i64().unwrap() as i32;
    std::process::Command::new("kill").args(["-9", &api_pid.to_string()]).status().unwrap();
    wait_until(WAIT, "api to be replaced", || node.replicas("api") == "1/1" && node.tasks("api").len() == 2);
    // Running is reported once the shim forked the task, which may not
    // have exec'd (and shown its environment) yet.
    wait_until(WAIT, "4 task processes", || procs_with(&token).len() == 4);
    let pids = {
        let mut p = procs_with(&token);
        p.sort();
        p
    };
    let before = snapshot(&node);

    node.restart();
    wait_until(WAIT, "the node to be ready again", || node.says(&["node", "ls"], "Ready"));
    let node_ls = node.ok(&["node", "ls"]);
    assert!(node_ls.contains("Leader"), "{node_ls}");
    // Give the worker time to report anything it would (it must not).
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(snapshot(&node), before);
    let mut after = procs_with(&token);
    after.sort();
    assert_eq!(after, pids, "the same processes, re-adopted; none duplicated");

    // Re-adopted tasks are still supervised: stopping one is noticed.
    node.ok(&["service", "scale", "web=2"]);
    assert_eq!(procs_with(&token).len(), 3);
}

#[test]
fn a_task_that_died_while_the_daemon_was_down_is_replaced() {
    let mut node = Node::init("node-a");
    let token = token();
    node.ok(&["service", "create", "--name", "web", "--restart-delay", "0s", "--env", &token, "sleep", "1000"]);
    let pid = procs_with(&token)[0];
    node.kill9();
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    node.restart();
    wait_until(WAIT, "a replacement", || {
        let pids = procs_with(&token);
        pids.len() == 1 && pids[0] != pid
    });
    let tasks = node.tasks("web");
    let failed = tasks.iter().find(|t| t["Status"]["State"] == "failed").expect("the dead task is failed");
    // The shim saw the process die while the daemon was down.
    assert_eq!(failed["Status"]["Err"], "task: non-zero exit (137)");
}
