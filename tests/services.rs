//! Services on a one-node cluster: real processes, scaling, restarts,
//! removal, and bad input that changes nothing.

mod common;

use std::time::Duration;

use common::{Node, procs_with, token, wait_until};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn replicas_are_real_processes_and_scale_both_ways() {
    let node = Node::init("node-a");
    let token = token();
    let out = node.ok(&["service", "create", "--name", "web", "--replicas", "3", "--env", &token, "sleep", "1000"]);
    assert!(out.contains("verify: Service converged"), "{out}");
    assert_eq!(node.replicas("web"), "3/3");
    assert_eq!(procs_with(&token).len(), 3);

    node.ok(&["service", "scale", "web=5"]);
    assert_eq!(node.replicas("web"), "5/5");
    assert_eq!(procs_with(&token).len(), 5);

    let out = node.ok(&["service", "scale", "web=1"]);
    assert!(out.contains("web scaled to 1"), "{out}");
    assert_eq!(node.replicas("web"), "1/1");
    assert_eq!(procs_with(&token).len(), 1, "scale-down stops the processes before returning");

    // ls and ps in Docker's shapes.
    let ls = node.ok(&["service", "ls"]);
    assert!(ls.starts_with("ID") && ls.contains("REPLICAS") && ls.contains("replicated"), "{ls}");
    let ps = node.json_lines(&["service", "ps", "--format", "json", "web"]);
    let running: Vec<_> = ps.iter().filter(|t| t["DesiredState"] == "Running").collect();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0]["Name"], "web.1");
    assert_eq!(running[0]["Node"], "node-a");
    assert!(running[0]["CurrentState"].as_str().unwrap().starts_with("Running"));
    let filtered = node.ok(&["service", "ps", "-q", "--filter", "desired-state=running", "web"]);
    assert_eq!(filtered.lines().count(), 1);
}

#[test]
fn a_killed_task_is_replaced_after_the_restart_delay() {
    let node = Node::init("node-a");
    let token = token();
    node.ok(&["service", "create", "--name", "web", "--restart-delay", "2s", "--env", &token, "sleep", "1000"]);
    let pid = procs_with(&token)[0];
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();

    wait_until(WAIT, "the replacement to run", || {
        let pids = procs_with(&token);
        pids.len() == 1 && pids[0] != pid
    });
    let tasks = node.tasks("web");
    let failed = tasks.iter().find(|t| t["Status"]["State"] == "failed").expect("the failed task stays in history");
    assert_eq!(failed["Status"]["Err"], "task: non-zero exit (137)");
    assert_eq!(failed["Status"]["ContainerStatus"]["ExitCode"], 137);
    assert_eq!(failed["DesiredState"], "shutdown");
    let running = tasks.iter().find(|t| t["Status"]["State"] == "running").unwrap();
    assert_eq!(running["Slot"], 1);
    let time = |t: &serde_json::Value| humantime::parse_rfc3339(t["Status"]["Timestamp"].as_str().unwrap()).unwrap();
    let gap = time(running).duration_since(time(failed)).unwrap();
    assert!(gap >= Duration::from_secs(2), "restarted after {gap:?}, before the 2s delay");

    let ps = node.ok(&["service", "ps", "web"]);
    assert!(ps.contains("\\_ web.1") && ps.contains("Failed") && ps.contains("\"task: non-zero exit (137)\""), "{ps}");
}

#[test]
fn restart_condition_none_leaves_a_failed_task_alone() {
    let node = Node::init("node-a");
    node.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "once",
        "--restart-condition",
        "none",
        "--restart-delay",
        "0s",
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_until(WAIT, "the task to fail", || node.tasks("once").iter().any(|t| t["Status"]["State"] == "failed"));
    std::thread::sleep(Duration::from_millis(1500));
    let tasks = node.tasks("once");
    assert_eq!(tasks.len(), 1, "no replacement: {tasks:?}");
    assert_eq!(tasks[0]["Status"]["Err"], "task: non-zero exit (3)");
    assert_eq!(node.replicas("once"), "0/1");
}

#[test]
fn restart_max_attempts_and_history_limit() {
    let node = Node::init_with("node-a", &["--task-history-limit", "3"]);
    let runs = node.data_dir().join("runs");
    let script = format!("echo run >> {}; exit 1", runs.display());
    node.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "flaky",
        "--restart-delay",
        "0s",
        "--restart-max-attempts",
        "10",
        "sh",
        "-c",
        &script,
    ]);
    let count = || std::fs::read_to_string(&runs).map_or(0, |s| s.lines().count());
    wait_until(WAIT, "the restart policy to give up", || {
        count() == 11 && node.tasks("flaky").iter().all(|t| t["DesiredState"] == "shutdown")
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(), 11, "one run and ten restarts, then no more");
    let tasks = node.tasks("flaky");
    assert_eq!(tasks.len(), 3, "the task history limit keeps 3 tasks of the slot");
    assert!(tasks.iter().all(|t| t["Status"]["State"] == "failed"));
}

#[test]
fn restart_attempts_count_only_within_the_window() {
    let node = Node::init("node-a");
    let runs = node.data_dir().join("runs");
    let script = format!("echo run >> {}; exit 1", runs.display());
    // One attempt per 500 ms window, failures 700 ms apart: never used up.
    let policy = ["--restart-delay", "700ms", "--restart-max-attempts", "1", "--restart-window", "500ms"];
    let create = [&["service", "create", "-d", "--name", "spread"][..], &policy, &["sh", "-c", &script]].concat();
    node.ok(&create);
    let count = || std::fs::read_to_string(&runs).map_or(0, |s| s.lines().count());
    wait_until(WAIT, "a fourth run", || count() >= 4);
    assert_eq!(node.replicas("spread").split('/').nth(1), Some("1"), "still meant to run");
}

#[test]
fn rm_stops_every_process() {
    let node = Node::init("node-a");
    let token = token();
    node.ok(&["service", "create", "--name", "web", "--replicas", "2", "--env", &token, "sleep", "1000"]);
    assert_eq!(procs_with(&token).len(), 2);
    assert_eq!(node.ok(&["service", "rm", "web"]).trim(), "web");
    wait_until(WAIT, "every process of the service to stop", || procs_with(&token).is_empty());
    wait_until(WAIT, "the tasks to be removed", || node.ok(&["service", "ls", "-q"]).is_empty());
    assert!(node.fails(1, &["service", "ps", "web"]).contains("no such service: web"));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let node = Node::init("node-a");
    node.ok(&["service", "create", "-d", "--name", "web", "sleep", "1000"]);
    let before = node.ok(&["service", "inspect", "web"]);

    let err = node.fails(2, &["service", "create", "--replicas", "-1", "sleep", "1"]);
    assert!(err.contains("--replicas") && err.contains("expected a non-negative number, got \"-1\""), "{err}");
    let err = node.fails(2, &["service", "create", "--replicas", "x", "sleep", "1"]);
    assert!(err.contains("--replicas") && err.contains("got \"x\""), "{err}");
    let err = node.fails(2, &["service", "create", "--restart-delay", "soon", "sleep", "1"]);
    assert!(err.contains("--restart-delay") && err.contains("expected a duration"), "{err}");
    let err = node.fails(1, &["service", "create", "--name", "web", "sleep", "1"]);
    assert!(err.contains("\"web\" is already in use"), "{err}");
    let err = node.fails(1, &["service", "create", "--name", "bad.name", "sleep", "1"]);
    assert!(err.contains("name:"), "{err}");
    let err = node.fails(1, &["service", "create", "--stop-signal", "SIGNOPE", "sleep", "1"]);
    assert!(err.contains("stop signal"), "{err}");
    assert!(node.fails(1, &["service", "rm", "nope"]).contains("no such service: nope"));
    assert!(node.fails(1, &["service", "scale", "nope=3"]).contains("no such service: nope"));
    assert!(node.fails(2, &["service", "scale", "web"]).contains("expected SERVICE=REPLICAS"));
    assert!(node.fails(1, &["service", "ps", "nope"]).contains("no such service: nope"));
    assert!(node.fails(1, &["service", "ps", "--filter", "color=red", "web"]).contains("unknown key"));

    assert_eq!(node.ok(&["service", "ls", "-q"]).lines().count(), 1, "nothing was created");
    assert_eq!(node.ok(&["service", "inspect", "web"]), before, "web is unchanged");
}

#[test]
fn a_missing_program_fails_the_task_not_the_daemon() {
    let node = Node::init("node-a");
    node.ok(&["service", "create", "-d", "--name", "ghost", "--restart-condition", "none", "no-such-program-xyz"]);
    wait_until(WAIT, "the task to fail", || node.tasks("ghost").iter().any(|t| t["Status"]["State"] == "failed"));
    let ps = node.ok(&["service", "ps", "ghost"]);
    assert!(ps.contains("Failed") && ps.contains("executable not found: no-such-program-xyz"), "{ps}");
    // The daemon carries on.
    node.ok(&["service", "create", "--name", "fine", "sleep", "1000"]);
}

#[test]
fn inspect_follows_the_docker_api_shape() {
    let node = Node::init("node-a");
    node.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "2",
        "--label",
        "tier=front",
        "--env",
        "A=1",
        "--workdir",
        "/tmp",
        "--user",
        "root",
        "--restart-condition",
        "on-failure",
        "--restart-delay",
        "3s",
        "--restart-max-attempts",
        "4",
        "--restart-window",
        "1m",
        "--stop-signal",
        "SIGINT",
        "--stop-grace-period",
        "2s",
        "sleep",
        "1000",
    ]);
    let s = &node.json_lines(&["service", "inspect", "--format", "json", "web"])[0];
    assert_eq!(s["ID"].as_str().unwrap().len(), 25);
    assert!(s["Version"]["Index"].as_u64().unwrap() > 0);
    assert!(s["CreatedAt"].as_str().unwrap().ends_with('Z') && s["UpdatedAt"].is_string());
    let spec = &s["Spec"];
    assert_eq!(spec["Name"], "web");
    assert_eq!(spec["Labels"]["tier"], "front");
    let c = &spec["TaskTemplate"]["ContainerSpec"];
    assert_eq!(
        (c["Image"].as_str(), c["Args"][0].as_str(), c["Env"][0].as_str()),
        (Some("sleep"), Some("1000"), Some("A=1"))
    );
    assert_eq!(
        (c["Dir"].as_str(), c["User"].as_str(), c["StopSignal"].as_str()),
        (Some("/tmp"), Some("root"), Some("SIGINT"))
    );
    assert_eq!(c["StopGracePeriod"], 2_000_000_000i64);
    let restart = &spec["TaskTemplate"]["RestartPolicy"];
    assert_eq!(restart["Condition"], "on-failure");
    assert_eq!(restart["Delay"], 3_000_000_000i64);
    assert_eq!(restart["MaxAttempts"], 4);
    assert_eq!(restart["Window"], 60_000_000_000i64);
    assert_eq!(spec["Mode"]["Replicated"]["Replicas"], 2);
    assert_eq!(spec["UpdateConfig"]["Parallelism"], 1);
    assert_eq!(spec["UpdateConfig"]["FailureAction"], "pause");
    assert!(s.get("PreviousSpec").is_none(), "no previous spec before an update");
    let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
    assert_eq!(keys[..4], ["ID", "Version", "CreatedAt", "UpdatedAt"], "Docker's key order");

    node.ok(&["service", "scale", "-d", "web=3"]);
    let s = &node.json_lines(&["service", "inspect", "--format", "json", "web"])[0];
    assert_eq!(s["PreviousSpec"]["Mode"]["Replicated"]["Replicas"], 2);
    assert_eq!(s["Spec"]["Mode"]["Replicated"]["Replicas"], 3);
    // The default output is a JSON array, as `docker service inspect`.
    let array: serde_json::Value = serde_json::from_str(&node.ok(&["service", "inspect", "web"])).unwrap();
    assert_eq!(array[0]["Spec"]["Name"], "web");
    assert_eq!(node.ok(&["service", "inspect", "--format", "{{.Spec.Name}}", "web"]).trim(), "web");
    let pretty = node.ok(&["service", "inspect", "--pretty", "web"]);
    assert!(pretty.contains("Name:\t\tweb") && pretty.contains("Replicas:\t3"), "{pretty}");
}

#[test]
fn a_task_ends_with_its_main_process_and_stops_as_a_group() {
    let node = Node::init("node-a");
    // The main process exits, leaving a child behind in its group.
    let leaky = token();
    node.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "leaky",
        "--restart-condition",
        "none",
        "--env",
        &leaky,
        "sh",
        "-c",
        "sleep 1000 & exit 1",
    ]);
    wait_until(WAIT, "the task to fail", || node.tasks("leaky").iter().any(|t| t["Status"]["State"] == "failed"));
    wait_until(WAIT, "what it left behind to be killed", || procs_with(&leaky).is_empty());

    // A task that ignores its stop signal, with a child: both are killed
    // after the grace period.
    let token = token();
    node.ok(&[
        "service",
        "create",
        "--name",
        "stubborn",
        "--stop-grace-period",
        "1s",
        "--env",
        &token,
        "sh",
        "-c",
        "trap '' TERM; sleep 1000 & wait; sleep 1000",
    ]);
    wait_until(WAIT, "the task and its child", || procs_with(&token).len() == 2);
    node.ok(&["service", "rm", "stubborn"]);
    wait_until(WAIT, "the whole group to be killed", || procs_with(&token).is_empty());
}
