//! Rolling updates through the CLI on a real daemon: the pace
//! (parallelism, delay), the order (stop-first, start-first), failure
//! actions (pause, rollback), `service rollback` and `service restart`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use common::{Node, procs_with, token, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn created(task: &Value) -> SystemTime {
    humantime::parse_rfc3339(task["CreatedAt"].as_str().unwrap()).unwrap()
}

fn env(task: &Value) -> Vec<String> {
    let env = task["Spec"]["ContainerSpec"]["Env"].as_array().cloned().unwrap_or_default();
    env.iter().map(|e| e.as_str().unwrap().to_string()).collect()
}

fn update_status(node: &Node, service: &str) -> (String, String) {
    let s = node.json_lines(&["service", "inspect", "--format", "json", service]).remove(0);
    let status = &s["UpdateStatus"];
    (status["State"].as_str().unwrap_or_default().into(), status["Message"].as_str().unwrap_or_default().into())
}

/// A 3-replica `sleep 1000` service whose processes hold `token`.
fn create(node: &Node, name: &str, token: &str, flags: &[&str]) {
    let start = ["service", "create", "--name", name, "--replicas", "3", "--env", token];
    node.ok(&[&start[..], flags, &["sleep", "1000"]].concat());
}

fn task_ids(node: &Node, service: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        node.ok(&["service", "ps", "-q", "--no-trunc", service]).lines().map(String::from).collect();
    ids.sort();
    ids
}

#[test]
fn an_update_replaces_tasks_two_by_two_and_other_settings_restart_nothing() {
    let node = Node::init("node-a");
    let token = token();
    let flags = ["--update-parallelism", "2", "--update-delay", "1s", "--update-monitor", "500ms"];
    let mut create = vec!["service", "create", "--name", "web", "--replicas", "4", "--env", &token];
    create.extend(flags);
    create.extend(["sleep", "1000"]);
    node.ok(&create);
    let before = task_ids(&node, "web");

    node.ok(&["service", "update", "--env-add", "VERSION=2", "web"]);
    assert_eq!(update_status(&node, "web"), ("completed".into(), "update completed".into()));
    let tasks = node.tasks("web");
    let mut new: Vec<&Value> = tasks.iter().filter(|t| env(t).contains(&"VERSION=2".to_string())).collect();
    assert_eq!(new.len(), 4, "every slot runs the new spec");
    assert!(new.iter().all(|t| t["Status"]["State"] == "running" && t["DesiredState"] == "running"));
    new.sort_by_key(|t| created(t));
    let gap = |a: &Value, b: &Value| created(b).duration_since(created(a)).unwrap();
    assert!(gap(new[0], new[1]) < Duration::from_millis(500), "the first two together");
    assert!(gap(new[1], new[2]) >= Duration::from_secs(1), "then the delay");
    assert!(gap(new[2], new[3]) < Duration::from_millis(500), "then the next two together");
    let old = tasks.iter().filter(|t| before.contains(&t["ID"].as_str().unwrap().to_string()));
    assert!(old.clone().all(|t| t["DesiredState"] == "shutdown"), "the old tasks were stopped");
    assert_eq!(old.count(), 4);
    assert_eq!(procs_with(&token).len(), 4);

    // Settings outside the task template restart nothing.
    let running = task_ids(&node, "web");
    node.ok(&["service", "update", "--update-parallelism", "1", "--replicas", "4", "--label-add", "a=b", "web"]);
    assert_eq!(task_ids(&node, "web"), running);
}

#[test]
fn a_failing_update_pauses_or_rolls_back() {
    let node = Node::init("node-a");
    let token = token();
    let make = |name: &str, action: &str| {
        let flags = ["--restart-delay", "0s", "--update-monitor", "2s", "--update-failure-action", action];
        create(&node, name, &token, &flags);
    };
    make("paused", "pause");
    // (Without the token: only the old tasks' processes hold it.)
    let failing = ["--image", "false", "--env-rm", "SHOAL_TEST_TOKEN"];
    let err = node.fails(1, &[&["service", "update"][..], &failing, &["paused"]].concat());
    assert!(err.contains("update paused due to failure or early termination of task"), "{err}");
    let (state, _) = update_status(&node, "paused");
    assert_eq!(state, "paused");
    // (Through `service ps`: the failing slot keeps restarting.)
    let rows = node.json_lines(&["service", "ps", "--format", "json", "paused"]);
    let sleeping = rows
        .iter()
        .filter(|t| t["Image"] == "sleep" && t["DesiredState"] == "Running")
        .filter(|t| t["CurrentState"].as_str().unwrap().starts_with("Running"))
        .count();
    // The first slot's new task ran for an instant before failing, so the
    // update may have moved on to a second slot before it paused.
    assert!((1..3).contains(&sleeping), "the update stopped part way: {rows:?}");
    assert_eq!(procs_with(&token).len(), sleeping);
    // The next update resumes: back on a program that runs.
    let fix = ["service", "update", "--image", "sleep", "--env-add", &token, "paused"];
    node.ok(&fix);
    assert_eq!(update_status(&node, "paused").0, "completed");
    assert_eq!(node.replicas("paused"), "3/3");
    let before = procs_with(&token).len();
    // Naming the program it already runs changes nothing, and says so.
    let out = node.shoal(&fix);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("already runs \"sleep\"; nothing to update"), "{stderr}");
    assert_eq!(procs_with(&token).len(), before);

    make("rolled", "rollback");
    let err = node.fails(1, &[&["service", "update"][..], &failing, &["rolled"]].concat());
    assert!(err.contains("rolled back"), "{err}");
    wait_until(WAIT, "the rollback to complete", || update_status(&node, "rolled").0 == "rollback_completed");
    let s = node.json_lines(&["service", "inspect", "--format", "json", "rolled"]).remove(0);
    assert_eq!(s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"], "sleep");
    assert_eq!(s["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"], "false");
    wait_until(WAIT, "all three back on sleep", || node.replicas("rolled") == "3/3");
    assert_eq!(procs_with(&token).len(), 3 + 3);
}

/// Counts the service's processes every few milliseconds while `update`
/// runs; returns the fewest and the most seen.
fn watch_count(token: &str, update: impl FnOnce()) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, token) = (stop.clone(), token.to_string());
        std::thread::spawn(move || {
            let (mut min, mut max) = (usize::MAX, 0);
            while !stop.load(Ordering::Relaxed) {
                let n = procs_with(&token).len();
                (min, max) = (min.min(n), max.max(n));
                std::thread::sleep(Duration::from_millis(5));
            }
            (min, max)
        })
    };
    update();
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap()
}

#[test]
fn start_first_never_goes_below_the_replicas_and_stop_first_never_above() {
    let node = Node::init("node-a");
    let tokens = [token(), token()];
    for (name, order, token) in [("stopfirst", "stop-first", &tokens[0]), ("startfirst", "start-first", &tokens[1])] {
        create(&node, name, token, &["--update-order", order, "--update-monitor", "200ms"]);
    }
    let (min, max) = watch_count(&tokens[0], || {
        node.ok(&["service", "update", "--env-add", "V=2", "stopfirst"]);
    });
    assert_eq!(max, 3, "stop-first: never more than the replicas (fewest seen {min})");
    assert!(min < 3, "stop-first stops a task before its replacement starts");
    let (min, max) = watch_count(&tokens[1], || {
        node.ok(&["service", "update", "--env-add", "V=2", "startfirst"]);
    });
    assert_eq!(min, 3, "start-first: never fewer than the replicas (most seen {max})");
    assert!(max > 3, "start-first starts the replacement first");
}

#[test]
fn rollback_toggles_and_restart_replaces_every_task() {
    let node = Node::init("node-a");
    let token = token();
    node.ok(&[
        "service",
        "create",
        "--name",
        "web",
        "--replicas",
        "2",
        "--env",
        &token,
        "--update-monitor",
        "200ms",
        "--rollback-monitor",
        "200ms",
        "sleep",
        "1000",
    ]);
    let err = node.fails(1, &["service", "rollback", "web"]);
    assert!(err.contains("service web has no previous spec to roll back to"), "{err}");

    let spec_env = |key: &str| {
        let s = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0);
        let env = s[key]["TaskTemplate"]["ContainerSpec"]["Env"].as_array().cloned().unwrap_or_default();
        env.iter().any(|e| e == "V=1")
    };
    node.ok(&["service", "update", "--env-add", "V=1", "web"]);
    assert!(spec_env("Spec"));
    node.ok(&["service", "rollback", "web"]);
    assert!(!spec_env("Spec") && spec_env("PreviousSpec"), "back on the first spec");
    assert_eq!(update_status(&node, "web").0, "rollback_completed");
    let tasks = node.tasks("web");
    let running: Vec<&Value> = tasks.iter().filter(|t| t["DesiredState"] == "running").collect();
    assert!(running.iter().all(|t| !env(t).contains(&"V=1".to_string())), "the tasks run the first spec again");
    node.ok(&["service", "rollback", "web"]);
    assert!(spec_env("Spec"), "rolling back twice toggles");

    let before: BTreeMap<String, Value> = node
        .tasks("web")
        .into_iter()
        .filter(|t| t["DesiredState"] == "running")
        .map(|t| (t["ID"].as_str().unwrap().to_string(), t))
        .collect();
    let spec_before = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0)["Spec"].clone();
    node.ok(&["service", "restart", "web"]);
    let after: Vec<Value> = node.tasks("web").into_iter().filter(|t| t["DesiredState"] == "running").collect();
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|t| !before.contains_key(t["ID"].as_str().unwrap())), "every task replaced");
    let mut spec_after = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0)["Spec"].clone();
    spec_after["TaskTemplate"]["ForceUpdate"] = spec_before["TaskTemplate"]["ForceUpdate"].clone();
    assert_eq!(spec_after, spec_before, "nothing else in the spec changed");
    assert_eq!(procs_with(&token).len(), 2);
}

#[test]
fn history_lists_every_version_and_rollback_to_returns_to_any() {
    let node = Node::init("node-a");
    let token = token();
    let monitors = ["--update-monitor", "200ms", "--rollback-monitor", "200ms"];
    create(&node, "web", &token, &monitors);
    node.ok(&["service", "update", "--env-add", "V=2", "web"]);
    node.ok(&["service", "update", "--env-add", "V=3", "web"]);
    let history = |node: &Node| node.json_lines(&["service", "history", "--format", "json", "web"]);
    let h = history(&node);
    let versions: Vec<u64> = h.iter().map(|r| r["Version"].as_u64().unwrap()).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert_eq!(h[0]["Changes"], "create");
    assert_eq!(h[1]["Changes"], "Env: +V=2");
    assert_eq!(h[2]["Changes"], "Env: +V=3 -V=2");
    assert_eq!(
        (&h[1]["State"], &h[2]["State"], &h[2]["Current"]),
        (&"completed".into(), &"completed".into(), &true.into())
    );

    node.ok(&["service", "rollback", "--to", "1", "web"]);
    let s = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0);
    let env = s["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"].as_array().unwrap().clone();
    assert_eq!(env, vec![Value::from(token.clone())], "back on version 1");
    let h = history(&node);
    assert_eq!(h[3]["Changes"], "rollback to version 1; Env: -V=3");
    assert_eq!(h[3]["State"], "rollback_completed");
    let table = node.ok(&["service", "history", "web"]);
    assert!(table.starts_with("VERSION") && table.contains("4 *"), "{table}");

    let err = node.fails(1, &["service", "rollback", "--to", "9", "web"]);
    assert!(err.contains("service web has no version 9 (kept: 1, 2, 3, 4)"), "{err}");
    node.ok(&["cluster", "update", "--spec-history-limit", "2"]);
    node.ok(&["service", "update", "--env-add", "V=5", "web"]);
    assert_eq!(node.ok(&["service", "history", "-q", "web"]), "4\n5\n");
    assert_eq!(history(&node)[0]["Changes"], "rollback to version 1; (earlier versions no longer kept)");

    // All of it is in the store: a restarted daemon has the same.
    let (before, spec) = (history(&node), node.ok(&["service", "inspect", "web"]));
    let mut node = node;
    node.restart();
    wait_until(WAIT, "the daemon to answer again", || node.shoal(&["service", "ls"]).status.success());
    assert_eq!(
        history(&node).iter().map(|r| r["Changes"].clone()).collect::<Vec<_>>(),
        before.iter().map(|r| r["Changes"].clone()).collect::<Vec<_>>()
    );
    assert_eq!(node.ok(&["service", "inspect", "web"]), spec);
}

#[test]
fn a_global_service_rolls_out_node_by_node() {
    let node = Node::init("node-a");
    let token = token();
    node.ok(&[
        "service",
        "create",
        "--name",
        "mon",
        "--mode",
        "global",
        "--env",
        &token,
        "--update-monitor",
        "200ms",
        "sleep",
        "1000",
    ]);
    let before = procs_with(&token);
    assert_eq!(before.len(), 1);
    node.ok(&["service", "update", "--env-add", "V=2", "mon"]);
    assert_eq!(update_status(&node, "mon").0, "completed");
    let running: Vec<Value> = node.tasks("mon").into_iter().filter(|t| t["DesiredState"] == "running").collect();
    assert_eq!(running.len(), 1);
    assert!(env(&running[0]).contains(&"V=2".to_string()));
    let after = procs_with(&token);
    assert!(after.len() == 1 && after != before, "the node's task was replaced");
}
