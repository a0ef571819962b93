//! Containers on overlay networks, as process tasks are: across two
//! hosts (network namespaces on one switch) that share the machine's
//! Docker Engine, a container reaches a container on the other host by
//! service name, a process task reaches it likewise, and a port it
//! publishes through the routing mesh answers on the other host with the
//! client's own address. Its network is there before its entrypoint runs
//! (the sandbox container holds it), and with it the hosts, resolver
//! settings and network sysctls its service asks for.

mod common;

use std::time::Duration;

use common::hosts::{CLIENT_ADDR, Hosts, cluster_with_docker, http_get};
use common::images::{BusyboxImage, PauseImages};
use common::wait_until;

const WAIT: Duration = Duration::from_secs(60);
const ENGINE: &str = "unix:///var/run/docker.sock";

/// Serves `hello-from-web` at / and the client's address at /cgi-bin/ip.
const WEB: &str = "mkdir -p /www/cgi-bin; echo hello-from-web > /www/index.html; \
    printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip; \
    chmod +x /www/cgi-bin/ip; exec httpd -f -p 80 -h /www";

#[test]
fn containers_and_processes_reach_each_other_and_the_mesh_on_an_overlay() {
    // Dropped last: the nodes' containers go first (their Drop).
    let _pause = PauseImages;
    let image = BusyboxImage::import("networks", &["sh", "sleep", "httpd", "wget", "mkdir", "chmod", "cat"]);
    let hosts = Hosts::new(2);
    let (a, _workers) = cluster_with_docker(&hosts, Some(ENGINE));
    a.ok(&["network", "create", "back"]);

    a.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--network",
        "back",
        "-p",
        "8080:80",
        "--constraint",
        "node.hostname==host-2",
        &image.name,
        "sh",
        "-c",
        WEB,
    ]);
    a.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "proc",
        "--runtime",
        "process",
        "--network",
        "back",
        "--constraint",
        "node.hostname==host-1",
        "sh",
        "-c",
        "while true; do /bin/busybox wget -q -O - http://web/; sleep 1; done",
    ]);
    wait_until(WAIT, "the process reaching web by name", || {
        a.ok(&["service", "logs", "proc"]).contains("| hello-from-web")
    });
    // Web answers now. A container that fetches at once from its
    // entrypoint gets through: its network was there before it ran.
    let fetch_loop =
        "wget -q -O - http://web/ || echo no-network-at-start; while true; do wget -q -O - http://web/; sleep 1; done";
    a.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "client",
        "--network",
        "back",
        "--constraint",
        "node.hostname==host-1",
        &image.name,
        "sh",
        "-c",
        fetch_loop,
    ]);
    wait_until(WAIT, "the container reaching web by name", || {
        a.ok(&["service", "logs", "client"]).contains("| hello-from-web")
    });

    // The mesh: host-1 runs no web task, yet answers on 8080, and the
    // container sees the client's own address.
    let switch = &hosts.switch;
    let url = format!("http://{}:8080/cgi-bin/ip", hosts.addrs[0]);
    wait_until(WAIT, "the published port on host-1", || http_get(switch, &url).is_some());
    // busybox httpd listens on IPv6 too: an IPv4 client shows mapped.
    let seen = http_get(switch, &url).unwrap_or_default();
    assert_eq!(seen.trim_start_matches("[::ffff:").trim_end_matches(']'), CLIENT_ADDR, "{seen}");

    let logs = a.ok(&["service", "logs", "client"]);
    let first = logs.lines().next().unwrap_or_default();
    assert!(first.ends_with("| hello-from-web"), "its first fetch, at start, worked: {logs}");

    // Hosts and network sysctls are the sandbox's (whose namespace and
    // hosts file the container shares); the search domain is in the
    // resolv.conf that names the node's responder.
    let show = "cat /etc/hosts /etc/resolv.conf; echo somaxconn=$(cat /proc/sys/net/core/somaxconn); \
        echo shmmni=$(cat /proc/sys/kernel/shmmni); wget -q -O - http://web/; sleep 1000";
    a.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "opts",
        "--network",
        "back",
        "--host",
        "db:10.9.8.7",
        "--dns-search",
        "example.test",
        "--sysctl",
        "net.core.somaxconn=512",
        "--sysctl",
        "kernel.shmmni=1000",
        &image.name,
        "sh",
        "-c",
        show,
    ]);
    wait_until(WAIT, "opts reaching web", || a.ok(&["service", "logs", "opts"]).contains("| hello-from-web"));
    let out = a.ok(&["service", "logs", "opts"]);
    for seen in ["10.9.8.7\tdb", "nameserver 127.0.0.11", "search example.test", "somaxconn=512", "shmmni=1000"] {
        assert!(out.contains(seen), "{seen}: {out}");
    }
}
