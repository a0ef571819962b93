//! Resource limits through the real CLI: each task runs in a cgroup of
//! its own, so `--limit-memory` ends a task that allocates past it
//! (OOMKilled), `--limit-cpu` throttles it, `--limit-pids` stops a fork
//! bomb, and stopping a task kills every process it started, also those
//! that left its process group (`setsid`). A node without cgroups says
//! so and gets no task with limits.

mod common;

use std::time::{Duration, Instant};

use common::{Node, procs_with, task_cgroups, token, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// The id of the one task of `service`.
fn task_id(node: &Node, service: &str) -> String {
    let tasks = node.tasks(service);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks[0]["ID"].as_str().unwrap().to_string()
}

#[test]
fn allocating_past_the_memory_limit_fails_the_task_oomkilled() {
    let node = Node::init("node-a");
    // tail keeps all of a line: 100 MB without a newline, in a 20 MiB task.
    let hog = "head -c 100000000 /dev/zero | tail";
    let args = ["--limit-memory", "20m", "--restart-condition", "none", "sh", "-c", hog];
    node.ok(&[&["service", "create", "--detach", "--name", "hog"][..], &args].concat());
    wait_until(WAIT, "the task to fail", || node.tasks("hog").iter().any(|t| t["Status"]["State"] == "failed"));
    let task = node.tasks("hog").remove(0);
    let err = task["Status"]["Err"].as_str().unwrap();
    assert_eq!(err, "OOMKilled: the task used more than its memory limit (20MiB): non-zero exit (137)");
    assert_eq!(task["Status"]["ContainerStatus"]["ExitCode"], 137);
    let ps = node.ok(&["service", "ps", "--no-trunc", "hog"]);
    assert!(ps.contains("OOMKilled"), "{ps}");

    // Without a limit the same program ends well: the limit did it.
    node.ok(&["service", "create", "--detach", "--name", "free", "--restart-condition", "none", "sh", "-c", hog]);
    wait_until(WAIT, "the unlimited task to complete", || {
        node.tasks("free").iter().any(|t| t["Status"]["State"] == "complete")
    });
}

#[test]
fn setsid_children_do_not_outlive_their_task() {
    let mut node = Node::init("node-a");
    // Children in sessions of their own: out of the task's process group.
    let (stays, ends) = (token(), token());
    let script = "setsid sleep 1000 & setsid sh -c 'sleep 1001; true' & exec sleep 1002";
    node.ok(&["service", "create", "--detach", "--name", "stays", "--env", &stays, "sh", "-c", script]);
    let early = "setsid sleep 1000 & sleep 0.5";
    let args = ["--restart-condition", "none", "--env", &ends, "sh", "-c", early];
    node.ok(&[&["service", "create", "--detach", "--name", "ends"][..], &args].concat());

    // A task whose main process ends takes its children along.
    wait_until(WAIT, "the short task to complete", || {
        node.tasks("ends").iter().any(|t| t["Status"]["State"] == "complete")
    });
    wait_until(WAIT, "no process of the short task left", || procs_with(&ends).is_empty());

    wait_until(WAIT, "the long task's processes", || procs_with(&stays).len() >= 4);
    let id = task_id(&node, "stays");
    assert!(!task_cgroups(&id).is_empty(), "the task runs in a cgroup");
    // The daemon restarts meanwhile: the task is adopted, and still
    // stopped whole.
    node.restart();
    wait_until(WAIT, "the node to be ready again", || node.says(&["node", "ls"], "Ready"));
    assert!(procs_with(&stays).len() >= 4, "the restart left the task running");
    node.ok(&["service", "rm", "stays"]);
    wait_until(WAIT, "no process of the removed task left", || procs_with(&stays).is_empty());
    wait_until(WAIT, "its cgroup removed", || task_cgroups(&id).is_empty());
}

/// CPU time (user + system) of process `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// `nr_throttled` of the task's cpu cgroup (v1 and v2 both count it).
fn times_throttled(id: &str) -> u64 {
    let stat = task_cgroups(id).iter().find_map(|d| std::fs::read_to_string(d.join("cpu.stat")).ok()).unwrap();
    stat.lines().find_map(|l| l.strip_prefix("nr_throttled ")).unwrap().trim().parse().unwrap()
}

#[test]
fn a_busy_loop_gets_no_more_than_its_cpu_limit() {
    let node = Node::init("node-a");
    let spin = token();
    let args = ["--limit-cpu", "0.2", "--env", &spin, "sh", "-c", "while :; do :; done"];
    node.ok(&[&["service", "create", "--name", "spin"][..], &args].concat());
    let id = task_id(&node, "spin");
    let pid = procs_with(&spin)[0];
    // Measured over 3 s: a busy loop gets at most 0.2 CPU (a loaded
    // machine gives it less, never more).
    let (ticks, start) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let used = (cpu_ticks(pid) - ticks) as f64 / 100.0;
    let share = used / start.elapsed().as_secs_f64();
    assert!(share < 0.3, "the loop used {share:.2} CPU with a 0.2 limit");
    assert!(times_throttled(&id) > 0, "the kernel throttled it");
    let inspect = node.ok(&["service", "inspect", "--format", "{{json .Spec.TaskTemplate.Resources.Limits}}", "spin"]);
    assert_eq!(inspect.trim(), r#"{"NanoCPUs":200000000}"#);
}

/// How many forks the task's pids limit refused (`max` of pids.events).
fn forks_refused(id: &str) -> u64 {
    let events = task_cgroups(id).iter().find_map(|d| std::fs::read_to_string(d.join("pids.events")).ok());
    events.and_then(|e| e.lines().find_map(|l| l.strip_prefix("max ")?.trim().parse().ok())).unwrap_or(0)
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    let node = Node::init("node-a");
    let bomb = token();
    // xargs starts 50 sleeps at once, in a task allowed 20 processes; a
    // fork refused, it waits for a child to end (none does).
    let args = ["--limit-pids", "20", "--env", &bomb, "sh", "-c", "seq 50 | xargs -P 50 -n 1 sleep 1000"];
    node.ok(&[&["service", "create", "--name", "bomb"][..], &args].concat());
    let id = task_id(&node, "bomb");
    wait_until(WAIT, "the limit to refuse a fork", || forks_refused(&id) > 0);
    wait_until(WAIT, "the task's processes", || procs_with(&bomb).len() >= 15);
    for _ in 0..10 {
        let procs = procs_with(&bomb).len();
        assert!(procs <= 20, "{procs} processes with a limit of 20");
        std::thread::sleep(Duration::from_millis(100));
    }
    let limits = node.ok(&["service", "inspect", "--format", "{{json .Spec.TaskTemplate.Resources.Limits}}", "bomb"]);
    assert_eq!(limits.trim(), r#"{"Pids":20}"#);
    let pretty = node.ok(&["service", "inspect", "--pretty", "bomb"]);
    assert!(pretty.contains("PIDs:\t\t20"), "{pretty}");
    // As Docker: a negative number is refused.
    node.fails(2, &["service", "update", "--limit-pids", "-1", "bomb"]);
}

#[test]
fn a_node_without_cgroups_says_so_and_gets_no_task_with_limits() {
    let mut node = Node::init("node-a");
    let limits = |node: &Node| node.ok(&["node", "inspect", "--format", "{{json .Description.Limits}}", "self"]);
    let enforced: serde_json::Value = serde_json::from_str(&limits(&node)).unwrap();
    assert_eq!(enforced["Enforced"], serde_json::json!(["cpu", "memory", "pids"]), "{enforced}");

    node.restart_with(&[("SHOAL_TEST_NO_CGROUPS", "1")]);
    wait_until(WAIT, "the node to report it has no cgroups", || limits(&node).contains(r#""Enforced":[]"#));
    let pretty = node.ok(&["node", "inspect", "--pretty", "self"]);
    assert!(pretty.contains("Resource Limits:\tnone"), "{pretty}");
    assert!(pretty.contains("SHOAL_TEST_NO_CGROUPS"), "the reason: {pretty}");

    let free = token();
    node.ok(&["service", "create", "--name", "free", "--env", &free, "sleep", "1000"]);
    assert_eq!(procs_with(&free).len(), 1, "tasks without limits still run");
    node.ok(&["service", "create", "--detach", "--name", "capped", "--limit-memory", "20m", "sleep", "1000"]);
    wait_until(WAIT, "the task with a limit pending with the reason", || {
        let out = node.ok(&["service", "ps", "--no-trunc", "--format", "{{.CurrentState}} | {{.Error}}", "capped"]);
        out.starts_with("Pending ")
            && out.contains("no suitable node (resource limits (memory) not enforceable on 1 node)")
    });
}
