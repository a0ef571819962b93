//! The routing mesh for real: three hosts (network namespaces on one
//! switch), a daemon in each, a service with two tasks published on 8080
//! (TCP) and 8081 (UDP). Connections to any host, the one without a task
//! too, reach the tasks, spread over both; every task sees the client's
//! own address, whichever host took the connection; a task reaches every
//! host's published port and, through its node, addresses beyond the
//! cluster (not from an internal network); a killed task stops getting
//! connections once the managers know.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::hosts::{BULK_SERVER, CLIENT_ADDR, Hosts, OnSwitch, bulk_length, cluster, fetch, fetch_udp, lone_task};
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// Answers each TCP connection on 8000 and each datagram on 8001 with
/// "ITS-OWN-ADDRESS CLIENT-ADDRESS".
const ECHO: &str = r#"
import socket, threading
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 8001))
    while True:
        _, peer = u.recvfrom(100)
        # The address the reply leaves from (the socket is bound to any).
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(peer)
        u.sendto(("%s %s" % (probe.getsockname()[0], peer[0])).encode(), peer)
        probe.close()
threading.Thread(target=udp, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8000))
s.listen()
while True:
    c, peer = s.accept()
    c.sendall(("%s %s" % (c.getsockname()[0], peer[0])).encode())
    c.close()
"#;

/// (task address, client address) as the task answering saw them.
fn ask(hosts: &Hosts, addr: &str, udp: bool) -> Option<(String, String)> {
    let answer = if udp { fetch_udp(&hosts.switch, addr) } else { fetch(&hosts.switch, addr) }?;
    let (task, client) = answer.split_once(' ')?;
    Some((task.to_string(), client.to_string()))
}

/// The ingress addresses of the running tasks of `web`, by node hostname.
fn backends(node: &Node) -> Vec<(String, String)> {
    let out = node.ok(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.ID}} {{.Node}} {{.CurrentState}}",
        "web",
    ]);
    let ingress = node.ok(&["network", "inspect", "--format", "{{.Id}}", "ingress"]).trim().to_string();
    out.lines()
        .filter(|l| l.contains(" Running "))
        .filter_map(|l| {
            let mut words = l.split(' ');
            let (id, host) = (words.next()?, words.next()?);
            let task = node.json_lines(&["inspect", "--format", "json", id]).remove(0);
            let attachments = task["NetworksAttachments"].as_array()?.clone();
            let on_ingress = attachments.iter().find(|a| a["Network"]["ID"] == ingress.as_str())?;
            let addr = on_ingress["Addresses"][0].as_str()?.split('/').next()?.to_string();
            Some((host.to_string(), addr))
        })
        .collect()
}

/// The full id of `service`'s running task on node `host`.
fn task_on(node: &Node, service: &str, host: &str) -> String {
    let node_filter = format!("node={host}");
    let args =
        ["service", "ps", "-q", "--no-trunc", "--filter", &node_filter, "--filter", "desired-state=running", service];
    node.ok(&args).trim().to_string()
}

#[test]
fn every_host_balances_published_ports_over_the_tasks() {
    let hosts = Hosts::new(3);
    let (manager, _workers) = cluster(&hosts);
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--replicas",
        "2",
        "--max-replicas",
        "1",
        "--constraint",
        "node.hostname!=host-3",
        "-p",
        "8080:8000",
        "-p",
        "8081:8001/udp",
        "/usr/bin/python3",
        "-c",
        ECHO,
    ]);
    wait_until(WAIT, "two tasks running", || backends(&manager).len() == 2);
    let tasks = backends(&manager);
    let all: BTreeSet<String> = tasks.iter().map(|(_, a)| a.clone()).collect();

    for (i, host) in hosts.addrs.iter().enumerate() {
        for udp in [false, true] {
            let addr = format!("{host}:{}", if udp { 8081 } else { 8080 });
            wait_until(WAIT, &format!("{addr} spreading over both tasks (udp: {udp})"), || {
                let seen: BTreeSet<String> = (0..4).filter_map(|_| ask(&hosts, &addr, udp)).map(|(t, _)| t).collect();
                seen == all
            });
        }
        // Every task sees the client's own address: the one on the host
        // that took the connection, and one on another host, which
        // answers back through the host that took it.
        for udp in [false, true] {
            let addr = format!("{host}:{}", if udp { 8081 } else { 8080 });
            let answers: Vec<Option<(String, String)>> = (0..4).map(|_| ask(&hosts, &addr, udp)).collect();
            let seen: BTreeSet<String> = answers.iter().flatten().map(|(t, _)| t.clone()).collect();
            let clients_kept = answers.iter().all(|a| a.as_ref().is_some_and(|(_, c)| c == CLIENT_ADDR));
            assert!(seen == all && clients_kept, "host-{}: {answers:?}", i + 1);
        }
    }

    // A task on the ingress network reaches every host's published port,
    // whichever node serves it (several tries: the backend is chosen
    // round robin).
    let task_ns = format!("shoal-{}", task_on(&manager, "web", "host-1"));
    for host in &hosts.addrs {
        let answers: Vec<Option<String>> = (0..6).map(|_| fetch(&task_ns, &format!("{host}:8080"))).collect();
        let seen: BTreeSet<&str> = answers.iter().flatten().filter_map(|a| a.split(' ').next()).collect();
        assert!(answers.iter().all(Option::is_some) && seen.len() == 2, "from a task to {host}:8080: {answers:?}");
    }
    // And beyond the cluster, through its node: the far end sees the
    // node's address (nothing outside knows the overlays' subnets).
    let _outside = OnSwitch::python(&hosts, ECHO, &[]);
    let outside = format!("{CLIENT_ADDR}:8000");
    let expected = format!("{CLIENT_ADDR} {}", hosts.addrs[0]);
    wait_until(WAIT, &format!("a task reaching {outside} as {}", hosts.addrs[0]), || {
        fetch(&task_ns, &outside).is_some_and(|answer| answer == expected)
    });
    // Not from an internal network (`network create --internal`), on the
    // same host.
    manager.ok(&["network", "create", "--internal", "sealed"]);
    let (sealed_ns, _) = lone_task(&manager, "sealed", "sealed", ECHO);
    assert_eq!(fetch(&sealed_ns, &outside), None, "a task on an internal network reached {outside}");

    // Bulk data through the mesh of the host without a task, from that
    // host itself (the path whose throughput collapsed before tasks got
    // an MTU that leaves room for VXLAN: see benches/mesh.rs).
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "bulk",
        "--constraint",
        "node.hostname==host-1",
        "-p",
        "8090:8100",
        "/usr/bin/python3",
        "-c",
        BULK_SERVER,
    ]);
    let third_bulk = format!("{}:8090", hosts.addrs[2]);
    wait_until(WAIT, "a megabyte through the mesh across hosts", || {
        bulk_length(&hosts.names[2], &third_bulk) == Some(1_000_000)
    });

    // A killed task gets no more connections, well before its
    // replacement (after the restart delay) runs.
    let (victim_host, victim) = tasks[0].clone();
    let task = manager.json_lines(&["inspect", "--format", "json", &task_on(&manager, "web", &victim_host)]).remove(0);
    let pid = task["Status"]["ContainerStatus"]["PID"].as_i64().unwrap();
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).output().unwrap();
    let third = format!("{}:8080", hosts.addrs[2]);
    wait_until(Duration::from_secs(5), "the killed task out of the mesh", || {
        (0..4).all(|_| ask(&hosts, &third, false).is_some_and(|(t, _)| t != victim))
    });
}

#[test]
fn a_host_mode_port_opens_only_where_its_task_runs_and_keeps_the_client_address() {
    let hosts = Hosts::new(2);
    let (manager, _workers) = cluster(&hosts);
    // One task in the node's own network (no overlay), one on an overlay:
    // both bound on their node only.
    manager.ok(&["network", "create", "back"]);
    for (name, port, extra) in [("plain", "9000", None), ("joined", "9001", Some("back"))] {
        let mut args = vec!["service", "create", "--detach", "--name", name, "--constraint", "node.hostname==host-2"];
        if let Some(network) = extra {
            args.extend_from_slice(&["--network", network]);
        }
        let publish = format!("published={port},target=8000,mode=host");
        args.extend_from_slice(&["--publish", &publish, "/usr/bin/python3", "-c", ECHO]);
        manager.ok(&args);
    }
    for port in [9000, 9001] {
        let on_task_host = format!("{}:{port}", hosts.addrs[1]);
        wait_until(WAIT, &format!("{on_task_host} answering with the client's address"), || {
            ask(&hosts, &on_task_host, false).is_some_and(|(_, client)| client == CLIENT_ADDR)
        });
        assert_eq!(ask(&hosts, &format!("{}:{port}", hosts.addrs[0]), false), None, "not open where no task runs");
    }
}
