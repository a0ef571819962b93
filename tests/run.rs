//! `shoal run`: a program run once outside services. On one node: its
//! output comes back on the right streams and its exit status is the
//! CLI's, Ctrl-C stops it, `shoal rm` removes one whose CLI was killed,
//! names are unique, mistakes are refused naming what was wrong, and
//! nothing is left behind. Across two hosts (network namespaces on one
//! switch): a run started through host 2's own socket (a worker's) joins
//! an attachable overlay network and reaches a service on host 1 by name,
//! from its own address on that network, which its name and alias
//! resolve to; a network made without `--attachable` is refused, from
//! either node; a worker removes only its own runs.

mod common;

use std::time::Duration;

use common::hosts::{ECHO_ADDR, Hosts, cluster, running_addresses};
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// The names of the tasks on `nodes`, as `shoal node ps` lists them.
fn tasks_on(node: &Node, nodes: &[&str]) -> Vec<String> {
    let args = [&["node", "ps", "--format", "{{.Name}}"][..], nodes].concat();
    node.ok(&args).lines().map(String::from).collect()
}

#[test]
fn a_run_prints_its_output_exits_with_its_status_and_leaves_nothing() {
    let node = Node::init("solo");
    let out = node.shoal(&["run", "--name", "once", "/bin/sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "the program's exit status");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // Arguments and environment reach the program; a long output comes
    // back whole, in order.
    let out = node.ok(&["run", "--node", "self", "-e", "WHO=world", "/bin/sh", "-c", "echo hello $WHO; seq 1 2000"]);
    let expected: String = std::iter::once("hello world".to_string()).chain((1..=2000).map(|i| i.to_string())).fold(
        String::new(),
        |mut s, l| {
            s.push_str(&l);
            s.push('\n');
            s
        },
    );
    assert_eq!(out, expected);

    // A run shows in `node ps` while it runs; Ctrl-C stops and removes it.
    let mut sleeper = sleep_in_background(&node, "sleeper");
    wait_until(WAIT, "the run listed as running by node ps", || {
        node.ok(&["node", "ps", "--format", "{{.Name}} {{.CurrentState}}"]).starts_with("sleeper Running")
    });
    // Its name is its own while it runs, and a service's is not to take.
    let err = node.fails(1, &["run", "--name", "sleeper", "/bin/true"]);
    assert!(err.contains("name sleeper: in use by task"), "{err}");
    node.ok(&["service", "create", "--detach", "--name", "svc", "/bin/sleep", "300"]);
    let err = node.fails(1, &["run", "--name", "svc", "/bin/true"]);
    assert!(err.contains("name svc: a service has this name"), "{err}");
    let err = node.fails(1, &["rm", "svc.1"]);
    assert!(err.contains("belongs to service svc"), "{err}");
    node.ok(&["service", "rm", "svc"]);
    std::process::Command::new("kill").args(["-INT", &sleeper.0.id().to_string()]).status().unwrap();
    assert_eq!(sleeper.0.wait().unwrap().code(), Some(130), "interrupted");
    wait_until(WAIT, "the interrupted run's task gone", || tasks_on(&node, &[]).is_empty());

    // A run whose CLI was killed keeps running until `shoal rm`.
    let mut orphan = sleep_in_background(&node, "orphan");
    wait_until(WAIT, "the orphan running", || tasks_on(&node, &[]) == ["orphan"]);
    orphan.0.kill().unwrap();
    orphan.0.wait().unwrap();
    assert_eq!(node.ok(&["node", "ps", "--format", "{{.Name}} {{.DesiredState}}"]).trim(), "orphan Running");
    assert_eq!(node.ok(&["rm", "orphan"]).trim(), "orphan");
    wait_until(WAIT, "the orphan removed", || tasks_on(&node, &[]).is_empty());
    let err = node.fails(1, &["rm", "orphan"]);
    assert!(err.contains("no such task: orphan"), "{err}");

    // Mistakes: named, exit 1, nothing created.
    let err = node.fails(1, &["run", "/no/such/program"]);
    assert!(err.contains("/no/such/program"), "{err}");
    let err = node.fails(1, &["run", "--node", "nope", "/bin/true"]);
    assert!(err.contains("no such node: nope"), "{err}");
    let err = node.fails(1, &["run", "--network", "nope", "/bin/true"]);
    assert!(err.contains("no such network: nope"), "{err}");
    node.ok(&["network", "create", "back"]);
    let err = node.fails(1, &["run", "--network", "back", "/bin/true"]);
    assert!(err.contains("network back: not attachable"), "{err}");
    let err = node.fails(1, &["run", "--network", "ingress", "/bin/true"]);
    assert!(err.contains("ingress"), "{err}");
    let err = node.fails(2, &["run", "--env", "=x", "/bin/true"]);
    assert!(err.contains("--env"), "{err}");

    // Every run's task is gone once it has ended, and with it its record
    // on the node.
    wait_until(WAIT, "no task left in the cluster", || tasks_on(&node, &[]).is_empty());
    wait_until(WAIT, "no task record left on the node", || node.task_ids().is_empty());
    // A network a run no longer holds an address on can be removed.
    node.ok(&["network", "rm", "back"]);
}

/// `shoal run --name NAME sleep 300` in the background.
fn sleep_in_background(node: &Node, name: &str) -> KillOnDrop {
    let cli = std::process::Command::new(common::SHOAL)
        .args(["--host", &format!("unix://{}", node.socket().display())])
        .args(["run", "--name", name, "/bin/sleep", "300"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    KillOnDrop(cli)
}

/// A CLI process, killed when dropped (a failing test leaves none behind).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prints the answer of the service `echo` (its task's address), the
/// address this program connected from, and what its own name and alias
/// resolve to (once the cluster's DNS knows them).
const CLIENT: &str = r#"
import socket, time
c = socket.create_connection(("echo", 8000), timeout=5)
answer, me = c.recv(100).decode(), c.getsockname()[0]
for _ in range(100):
    try:
        names = [socket.gethostbyname(n) for n in ("probe", "prober")]
        break
    except OSError:
        time.sleep(0.1)
print(answer, me, *names)
"#;

#[test]
fn a_run_joins_an_attachable_network_and_reaches_services_by_name() {
    let hosts = Hosts::new(2);
    let (manager, workers) = cluster(&hosts);
    manager.ok(&["network", "create", "--attachable", "front"]);
    manager.ok(&["network", "create", "back"]);
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "echo",
        "--network",
        "front",
        "--network",
        "back",
        "--constraint",
        "node.hostname==host-1",
        "/usr/bin/python3",
        "-c",
        ECHO_ADDR,
    ]);
    wait_until(WAIT, "echo running", || running_addresses(&manager, "echo").len() == 1);
    let front = manager.json_lines(&["network", "inspect", "--format", "json", "front"]).remove(0);
    let subnet = front["IPAM"]["Config"][0]["Subnet"].as_str().unwrap().to_string();
    let prefix = subnet.rsplit_once('.').unwrap().0.to_string() + ".";
    let echo_task = &manager.tasks("echo")[0];
    let echo_on_front = echo_task["NetworksAttachments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["Addresses"].as_array().unwrap())
        .filter_map(|a| a.as_str()?.split('/').next())
        .find(|a| a.starts_with(&prefix))
        .unwrap()
        .to_string();

    // From host 2, by name, through the VIP and across the VXLAN: the
    // answer is echo's address on `front`, and the run connected from an
    // address of its own there. The task may need a moment to be
    // reachable (its peers' entries reach host 2 with the network map).
    // Through host 2's own socket: a worker asks the leader for its own run.
    let run = ["run", "--name", "probe", "--network", "name=front,alias=prober", "/usr/bin/python3", "-c", CLIENT];
    let mut answer = String::new();
    wait_until(WAIT, "a run on host 2 reaching echo by name", || {
        let out = workers[0].shoal(&run);
        answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        out.status.success()
    });
    let fields: Vec<&str> = answer.split(' ').collect();
    let [reached, from, by_name, by_alias] = fields[..] else { panic!("unexpected answer {answer:?}") };
    assert_eq!(reached, echo_on_front, "{answer}");
    assert!(from.starts_with(&prefix) && from != echo_on_front, "the run's own address on {subnet}: {answer}");
    assert_eq!((by_name, by_alias), (from, from), "the run answers to its name and alias: {answer}");

    // A network made without --attachable is refused, on every node.
    let err = manager.fails(1, &["run", "--node", "host-2", "--network", "back", "/bin/true"]);
    assert!(err.contains("network back: not attachable"), "{err}");
    let err = workers[0].fails(1, &["run", "--network", "back", "/bin/true"]);
    assert!(err.contains("network back: not attachable"), "{err}");
    // From the manager, on host 2 by --node: the status comes back.
    let out = manager.shoal(&["run", "--node", "host-2", "/bin/sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    // A worker speaks for its own runs only: another node's tasks do not
    // show, and it runs nothing elsewhere.
    let err = workers[0].fails(1, &["rm", "echo.1"]);
    assert!(err.contains("no such task: echo.1"), "{err}");
    let err = workers[0].fails(1, &["run", "--node", "host-1", "/bin/true"]);
    assert!(err.contains("--node host-1: a worker runs tasks on itself only"), "{err}");
    wait_until(WAIT, "the runs' tasks gone", || tasks_on(&manager, &["host-1", "host-2"]) == ["echo.1"]);
}
