//! Service discovery for real: two hosts (network namespaces on one
//! switch) with a daemon each; a client task resolves services by name
//! through its node's responder (its resolv.conf names it): a VIP-mode
//! service by name and alias gives its VIP, `tasks.NAME` its tasks'
//! addresses, a DNS-round-robin service its task's address, a name
//! that is not the cluster's what the node's resolver (the test's own,
//! on the switch) says; and connecting by name reaches the tasks behind
//! the VIP. A task given `--dns`, `--dns-search`, `--dns-option` and
//! `--host` still finds the cluster's names, asks its own server the
//! rest, and has the search domains, options and hosts in its files.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::hosts::{CLIENT_ADDR, ECHO_ADDR, Hosts, cluster, resolver, resolver_at, running_addresses};
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// What the test's resolver answers for a name that is not the cluster's.
const OUTSIDE: &str = "198.51.100.7";

/// What the resolver given with `--dns` answers.
const OWN: &str = "198.51.100.8";

/// Prints, every 0.3 s, what a task with resolver settings of its own
/// sees.
const OWN_CLIENT: &str = r#"
import socket, time
while True:
    try:
        conf = open("/etc/resolv.conf").read().replace("\n", ";")
        out = socket.gethostbyname("outside.example")
        db = socket.gethostbyname("db")
        vip = socket.gethostbyname("echo")
        print("out=%s db=%s vip=%s conf=%s" % (out, db, vip, conf), flush=True)
    except Exception as e:
        print("error=%r" % (e,), flush=True)
    time.sleep(0.3)
"#;

/// Prints, every 0.3 s, what the names resolve to and which task a
/// connection to "echo" reached.
const CLIENT: &str = r#"
import socket, time
while True:
    try:
        vip = socket.gethostbyname("echo")
        tasks = ",".join(sorted(socket.gethostbyname_ex("tasks.echo")[2]))
        www = socket.gethostbyname("www")
        rr = socket.gethostbyname("rr")
        out = socket.gethostbyname("outside.example")
        c = socket.create_connection(("echo", 8000), timeout=1)
        got = c.recv(100).decode()
        c.close()
        print("vip=%s tasks=%s www=%s rr=%s out=%s got=%s" % (vip, tasks, www, rr, out, got), flush=True)
    except Exception as e:
        print("error=%r" % (e,), flush=True)
    time.sleep(0.3)
"#;

/// The running tasks' addresses on the service's (only) network, sorted.
fn task_addresses(node: &Node, service: &str) -> Vec<String> {
    let mut addrs: Vec<String> = running_addresses(node, service).into_values().collect();
    addrs.sort();
    addrs
}

#[test]
fn tasks_find_services_by_name() {
    let hosts = Hosts::new(2);
    // Only the daemons forward to it; the answer is never contacted.
    let _resolver = resolver(&hosts, OUTSIDE);
    // The one `--dns` names (port 53, as a nameserver's).
    let _own = resolver_at(&hosts, &format!("{CLIENT_ADDR}:53"), OWN);
    let (manager, _workers) = cluster(&hosts);
    manager.ok(&["network", "create", "back"]);
    let python = "/usr/bin/python3";
    let create = |name: &str, flags: &[&str], program: &str| {
        let mut args = vec!["service", "create", "--detach", "--name", name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[python, "-c", program]);
        manager.ok(&args);
    };
    create("echo", &["--replicas", "2", "--max-replicas", "1", "--network", "name=back,alias=www"], ECHO_ADDR);
    create("rr", &["--endpoint-mode", "dnsrr", "--network", "back"], ECHO_ADDR);
    create("client", &["--network", "back"], CLIENT);
    let own_flags =
        ["--network", "back", "--dns", CLIENT_ADDR, "--dns-search", "example.test", "--dns-option", "timeout:2"];
    create("own", &[&own_flags[..], &["--host", "db:10.9.8.7"]].concat(), OWN_CLIENT);
    wait_until(WAIT, "echo's two tasks and rr's running", || {
        task_addresses(&manager, "echo").len() == 2 && task_addresses(&manager, "rr").len() == 1
    });
    let echo = manager.json_lines(&["service", "inspect", "--format", "json", "echo"]).remove(0);
    let vip = echo["Endpoint"]["VirtualIPs"][0]["Addr"].as_str().unwrap().split('/').next().unwrap().to_string();
    let tasks = task_addresses(&manager, "echo");
    let rr = task_addresses(&manager, "rr").remove(0);
    let expected = format!("vip={vip} tasks={} www={vip} rr={rr} out={OUTSIDE} got=", tasks.join(","));
    wait_until(WAIT, &format!("the client resolving as {expected}... and reaching both tasks"), || {
        let logs = manager.ok(&["service", "logs", "client"]);
        let reached: BTreeSet<&str> = logs
            .lines()
            .filter_map(|l| l.split_once("| ").map(|(_, line)| line))
            .filter_map(|line| line.strip_prefix(expected.as_str()))
            .collect();
        reached.len() == 2 && reached.iter().all(|t| tasks.iter().any(|a| a == t))
    });

    let vip_of = |service: &str| {
        let s = manager.json_lines(&["service", "inspect", "--format", "json", service]).remove(0);
        s["Endpoint"]["VirtualIPs"][0]["Addr"].as_str().unwrap().split('/').next().unwrap().to_string()
    };
    let own = format!(
        "out={OWN} db=10.9.8.7 vip={} conf=nameserver 127.0.0.11;search example.test;options timeout:2 ndots:0;",
        vip_of("echo")
    );
    wait_until(WAIT, &format!("the task with its own resolver settings printing {own}"), || {
        manager.ok(&["service", "logs", "own"]).lines().any(|l| l.ends_with(&format!("| {own}")))
    });
}
