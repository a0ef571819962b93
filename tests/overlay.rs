//! The overlay for real: three hosts (network namespaces on one switch),
//! a daemon in each with its data path on, an overlay network, and tasks
//! on different hosts reaching each other over VXLAN at the addresses the
//! managers gave them; a replaced task gets a new address and is reached
//! there; a task on another network reaches none of them, not even on its
//! own host, nor does a host outside that routes their subnet through a
//! node.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::hosts::{BULK_SERVER, ECHO_ADDR, Hosts, bulk_length, cluster, fetch, lone_task, running_addresses};
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// A health check that needs the task's own port 8000 on 127.0.0.1.
const HEALTH: &str = "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 8000), timeout=1)'";

fn node_json(node: &Node, args: &[&str]) -> serde_json::Value {
    node.json_lines(args).remove(0)
}

/// Whether every task reaches every other one at its address.
fn all_reach_all(tasks: &BTreeMap<String, String>) -> bool {
    tasks.iter().all(|(from, _)| {
        tasks
            .iter()
            .filter(|(to, _)| *to != from)
            .all(|(_, addr)| fetch(&format!("shoal-{from}"), &format!("{addr}:8000")).as_deref() == Some(addr.as_str()))
    })
}

#[test]
fn tasks_on_different_hosts_reach_each_other_over_the_overlay() {
    let hosts = Hosts::new(3);
    let (manager, _workers) = cluster(&hosts);

    manager.ok(&["network", "create", "back"]);
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "echo",
        "--replicas",
        "3",
        "--max-replicas",
        "1",
        "--network",
        "back",
        "--health-cmd",
        HEALTH,
        "--health-interval",
        "500ms",
        "/usr/bin/python3",
        "-c",
        ECHO_ADDR,
    ]);
    wait_until(WAIT, "three echo tasks running, one per host", || running_addresses(&manager, "echo").len() == 3);
    let tasks = running_addresses(&manager, "echo");
    assert!(tasks.values().all(|a| a.starts_with("10.0.1.")), "{tasks:?}");
    wait_until(WAIT, "every task reaching every other over VXLAN", || {
        all_reach_all(&running_addresses(&manager, "echo"))
    });
    // The service's VIP spreads connections over its tasks.
    let service = node_json(&manager, &["service", "inspect", "--format", "json", "echo"]);
    let vip = service["Endpoint"]["VirtualIPs"][0]["Addr"].as_str().unwrap().split('/').next().unwrap().to_string();
    let from = format!("shoal-{}", tasks.keys().next().unwrap());
    let all: BTreeSet<String> = tasks.values().cloned().collect();
    wait_until(WAIT, "the VIP spreading over the three tasks", || {
        let seen: BTreeSet<String> = (0..6).filter_map(|_| fetch(&from, &format!("{vip}:8000"))).collect();
        seen == all
    });
    // Bulk data crosses the VXLAN too.
    let ids: Vec<&String> = tasks.keys().collect();
    let (sender, receiver) = (format!("shoal-{}", ids[0]), format!("shoal-{}", ids[1]));
    let mut server = std::process::Command::new("ip")
        .args(["netns", "exec", &sender, "/usr/bin/python3", "-c", BULK_SERVER])
        .spawn()
        .unwrap();
    let from = tasks[ids[0]].clone();
    let received = (0..50).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        bulk_length(&receiver, &format!("{from}:8100")).filter(|n| *n > 0)
    });
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(received, Some(1_000_000), "a megabyte from one task to another across hosts");
    // The health check runs in the task's namespace: its port 8000 answers.
    wait_until(WAIT, "three healthy tasks", || {
        let states = manager.ok(&["service", "ps", "--format", "{{.CurrentState}}", "echo"]);
        states.lines().filter(|l| l.starts_with("Running (healthy)")).count() == 3
    });

    // A killed task is replaced with a new address, reached there too.
    let (victim, old_addr) = tasks.iter().next().map(|(id, a)| (id.clone(), a.clone())).unwrap();
    let pid =
        manager.tasks("echo").iter().find(|t| t["ID"] == victim.as_str()).unwrap()["Status"]["ContainerStatus"]["PID"]
            .as_i64()
            .unwrap();
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).output().unwrap();
    wait_until(WAIT, "the replacement running", || {
        let now = running_addresses(&manager, "echo");
        now.len() == 3 && !now.contains_key(&victim)
    });
    let now = running_addresses(&manager, "echo");
    assert!(!now.values().any(|a| *a == old_addr), "the replacement has a new address: {now:?}");
    wait_until(WAIT, "the replacement reached at its address", || all_reach_all(&running_addresses(&manager, "echo")));
    // Networks are isolated: a task on another network, on a host with an
    // echo task, reaches none of them (its node routes nothing between
    // overlays), and none reaches it (the pair on host 1 is the one whose
    // node could route it; the others have no way at all).
    manager.ok(&["network", "create", "other"]);
    let (lone_ns, lone_addr) = lone_task(&manager, "lone", "other", ECHO_ADDR);
    let echo = running_addresses(&manager, "echo");
    for (id, addr) in &echo {
        assert_eq!(fetch(&lone_ns, &format!("{addr}:8000")), None, "lone -> echo at {addr}");
        assert_eq!(fetch(&format!("shoal-{id}"), &format!("{lone_addr}:8000")), None, "echo at {addr} -> lone");
    }
    // Nor does a host outside the cluster that routes the network's subnet
    // through a node: only published ports are open to it.
    common::hosts::ip(&["-n", &hosts.switch, "route", "add", "10.0.1.0/24", "via", &hosts.addrs[0]]);
    for addr in echo.values() {
        assert_eq!(fetch(&hosts.switch, &format!("{addr}:8000")), None, "the switch -> echo at {addr}");
    }
    // The dead task's namespace is gone with it.
    wait_until(WAIT, "the dead task's namespace removed", || {
        !std::path::Path::new(&format!("/run/netns/shoal-{victim}")).exists()
    });
}
