//! Networks and published ports as objects: `network create/ls/inspect/rm`,
//! the ingress network made at init, subnets, VXLAN ids, VIPs and task
//! addresses allocated by the managers, published ports (explicit,
//! automatic, conflicts) and host-mode ports kept apart by the scheduler.

mod common;

use std::time::Duration;

use common::{Cluster, Node, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn inspect(node: &Node, args: &[&str]) -> Value {
    let mut all = vec![];
    all.extend_from_slice(args);
    let out = node.ok(&all);
    let list: Value = serde_json::from_str(&out).expect("inspect prints JSON");
    list[0].clone()
}

fn service_count(node: &Node) -> usize {
    node.ok(&["service", "ls", "-q"]).lines().count()
}

#[test]
fn networks_are_created_listed_inspected_and_removed() {
    let node = Node::init("net-1");
    // init made the routing mesh's network.
    let ingress = inspect(&node, &["network", "inspect", "ingress"]);
    assert_eq!(ingress["Ingress"], true);
    assert_eq!(ingress["IPAM"]["Config"][0]["Subnet"], "10.0.0.0/24");
    assert_eq!(ingress["Options"]["com.docker.network.driver.overlay.vxlanid_list"], "4096");

    let id = node.ok(&["network", "create", "--label", "tier=back", "back"]).trim().to_string();
    assert_eq!(id.len(), 25);
    let back = inspect(&node, &["network", "inspect", &id[..6]]);
    assert_eq!(back["Name"], "back");
    assert_eq!(back["Driver"], "overlay");
    assert_eq!(back["Scope"], "swarm");
    assert_eq!(back["Labels"]["tier"], "back");
    assert_eq!(back["IPAM"]["Config"][0]["Subnet"], "10.0.1.0/24");
    assert_eq!(back["IPAM"]["Config"][0]["Gateway"], "10.0.1.1");
    assert_eq!(back["Options"]["com.docker.network.driver.overlay.vxlanid_list"], "4097");
    assert_eq!(back["Internal"], false);
    node.ok(&[
        "network",
        "create",
        "--subnet",
        "192.168.50.0/24",
        "--gateway",
        "192.168.50.254",
        "--attachable",
        "--internal",
        "mine",
    ]);
    let mine = inspect(&node, &["network", "inspect", "mine"]);
    assert_eq!(mine["IPAM"]["Config"][0]["Gateway"], "192.168.50.254");
    assert_eq!(mine["Attachable"], true);
    assert_eq!(mine["Internal"], true);

    let ls = node.ok(&["network", "ls"]);
    let mut lines = ls.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    );
    let names: Vec<&str> = lines.map(|l| l.split_whitespace().nth(1).unwrap()).collect();
    assert_eq!(names, ["back", "ingress", "mine"]);
    assert_eq!(node.ok(&["network", "ls", "-q"]).lines().count(), 3);

    // Bad input: clear errors, nothing made.
    let err = node.fails(1, &["network", "create", "--subnet", "10.0.0.128/25", "clash"]);
    assert!(err.contains("subnet 10.0.0.128/25 overlaps network ingress (10.0.0.0/24)"), "{err}");
    let err = node.fails(1, &["network", "create", "--subnet", "10.5.0.0", "bad"]);
    assert!(err.contains("subnet: expected an IPv4 CIDR like 10.1.0.0/24, got \"10.5.0.0\""), "{err}");
    let err = node.fails(1, &["network", "create", "back"]);
    assert!(err.contains("network name \"back\" is already in use"), "{err}");
    let err = node.fails(1, &["network", "create", "--driver", "bridge", "br"]);
    assert!(err.contains("driver: only \"overlay\" is supported"), "{err}");
    assert_eq!(node.ok(&["network", "ls", "-q"]).lines().count(), 3);

    node.ok(&["network", "rm", "mine", "back"]);
    let err = node.fails(1, &["network", "rm", "nope"]);
    assert!(err.contains("no such network: nope"), "{err}");
    assert_eq!(node.ok(&["network", "ls", "--format", "{{.Name}}"]).trim(), "ingress");
}

#[test]
fn services_get_vips_ports_and_task_addresses() {
    let node = Node::init("net-2");
    node.ok(&["network", "create", "back"]);
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--replicas",
        "2",
        "--network",
        "back",
        "-p",
        "8080:80",
        "-p",
        "53:53/udp",
        "sleep",
        "1000",
    ]);
    let web = inspect(&node, &["service", "inspect", "web"]);
    let back_id = inspect(&node, &["network", "inspect", "back"])["Id"].as_str().unwrap().to_string();
    let ingress_id = inspect(&node, &["network", "inspect", "ingress"])["Id"].as_str().unwrap().to_string();
    assert_eq!(web["Spec"]["TaskTemplate"]["Networks"][0]["Target"], back_id.as_str());
    assert_eq!(web["Spec"]["EndpointSpec"]["Ports"][0]["PublishedPort"], 8080);
    let vips: Vec<(String, String)> = web["Endpoint"]["VirtualIPs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["NetworkID"].as_str().unwrap().to_string(), v["Addr"].as_str().unwrap().to_string()))
        .collect();
    // (The node holds 10.0.0.2 on ingress: its own address for the mesh.)
    assert_eq!(vips, vec![(back_id.clone(), "10.0.1.2/24".into()), (ingress_id.clone(), "10.0.0.3/24".into())]);
    let ls = node.json_lines(&["service", "ls", "--format", "json"]);
    assert_eq!(ls[0]["Ports"], "*:8080->80/tcp,*:53->53/udp");
    let table = node.ok(&["service", "ls"]);
    assert!(table.lines().next().unwrap().ends_with("PORTS"), "{table}");
    assert!(table.contains("*:8080->80/tcp,*:53->53/udp"), "{table}");

    // Each task has an address on both networks once assigned.
    wait_until(WAIT, "web's tasks assigned with addresses", || {
        let tasks = node.tasks("web");
        tasks.len() == 2 && tasks.iter().all(|t| t["NetworksAttachments"].as_array().is_some_and(|a| a.len() == 2))
    });
    let mut addresses: Vec<String> = node
        .tasks("web")
        .iter()
        .flat_map(|t| t["NetworksAttachments"].as_array().unwrap().clone())
        .map(|a| a["Addresses"][0].as_str().unwrap().to_string())
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["10.0.0.4/24", "10.0.0.5/24", "10.0.1.3/24", "10.0.1.4/24"]);

    // Another service may not publish 8080/tcp; nothing is created.
    let err = node.fails(1, &["service", "create", "--detach", "--name", "api", "-p", "8080:81", "sleep", "1000"]);
    assert!(err.contains("port 8080/tcp is already in use by service web"), "{err}");
    assert_eq!(service_count(&node), 1);
    // An automatic port, and 8080/udp is free.
    node.ok(&["service", "create", "--detach", "--name", "api", "-p", "81", "-p", "8080:81/udp", "sleep", "1000"]);
    let api = inspect(&node, &["service", "inspect", "api"]);
    assert_eq!(api["Endpoint"]["Ports"][0]["PublishedPort"], 30000);
    assert_eq!(api["Endpoint"]["Ports"][1]["PublishedPort"], 8080);
    // Bad flags are usage errors; a bad network an error; nothing changes.
    let err = node.fails(2, &["service", "create", "--name", "x", "-p", "80:http", "sleep", "1"]);
    assert!(err.contains("target: expected a port number 1-65535, got \"http\""), "{err}");
    let err = node.fails(2, &["service", "create", "--name", "x", "--endpoint-mode", "rr", "sleep", "1"]);
    assert!(err.contains("expected vip or dnsrr"), "{err}");
    let err = node.fails(1, &["service", "create", "--detach", "--name", "x", "--network", "nope", "sleep", "1"]);
    assert!(err.contains("no such network: nope"), "{err}");
    let err = node.fails(1, &["service", "create", "--detach", "--name", "x", "--network", "ingress", "sleep", "1"]);
    assert!(err.contains("the ingress network cannot be joined explicitly"), "{err}");
    let err = node.fails(
        1,
        &["service", "create", "--detach", "--name", "x", "--endpoint-mode", "dnsrr", "-p", "9:9", "sleep", "1"],
    );
    assert!(err.contains("needs a VIP"), "{err}");
    assert_eq!(service_count(&node), 2);

    // The network is in use: refused, naming the service.
    let err = node.fails(1, &["network", "rm", "back"]);
    assert!(err.contains("network back is in use by service web"), "{err}");
    // Leaving it through an update releases the VIP; the port moves too.
    node.ok(&[
        "service",
        "update",
        "--detach",
        "--network-rm",
        "back",
        "--publish-rm",
        "53/udp",
        "--publish-rm",
        "80",
        "--publish-add",
        "9090:80",
        "web",
    ]);
    let web = inspect(&node, &["service", "inspect", "web"]);
    let ports: Vec<u64> =
        web["Endpoint"]["Ports"].as_array().unwrap().iter().map(|p| p["PublishedPort"].as_u64().unwrap()).collect();
    assert_eq!(ports, [9090]);
    assert_eq!(web["Endpoint"]["VirtualIPs"].as_array().unwrap().len(), 1);
    node.ok(&["service", "create", "--detach", "--name", "other", "-p", "8080:80", "sleep", "1000"]);
    // Once the old tasks stopped, nobody holds an address on back.
    wait_until(WAIT, "network back removable", || node.shoal(&["network", "rm", "back"]).status.success());
}

#[test]
fn a_host_mode_port_is_bound_by_one_task_per_node() {
    let cluster = Cluster::new(1, 1);
    let manager = &cluster.managers[0];
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "edge",
        "--replicas",
        "3",
        "--publish",
        "published=18080,target=80,mode=host",
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "two tasks running and one waiting for a port", || {
        let out = manager.ok(&["service", "ps", "--format", "{{.CurrentState}}|{{.Error}}|{{.Ports}}", "edge"]);
        let running = out.lines().filter(|l| l.starts_with("Running") && l.ends_with("*:18080->80/tcp")).count();
        let waiting = out.lines().filter(|l| l.contains("host-mode port already in use on 2 nodes")).count();
        running == 2 && waiting == 1
    });
    let nodes: std::collections::BTreeSet<String> = manager
        .ok(&["service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}", "edge"])
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    // Scaled down to 2: nothing waits any more.
    manager.ok(&["service", "scale", "--detach", "edge=2"]);
    wait_until(WAIT, "two tasks running", || manager.replicas("edge") == "2/2");
}

#[test]
fn the_data_path_port_is_chosen_at_init() {
    let node = Node::start("port-1");
    let err = node.fails(2, &["node", "init", "--data-path-port", "80"]);
    assert!(err.contains("expected a port number 1024-49151, got \"80\""), "{err}");
    node.ok(&["node", "init", "--data-path-port", "7789"]);
    assert_eq!(node.ok(&["cluster", "inspect", "--format", "{{.DataPathPort}}"]).trim(), "7789");
    let other = Node::init("port-2");
    assert_eq!(other.ok(&["cluster", "inspect", "--format", "{{.DataPathPort}}"]).trim(), "4789");
}
