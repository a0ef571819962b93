//! The data path's cost, measured side by side in one run on two
//! namespace hosts with a daemon each: throughput (iperf3) and
//! request/response latency (1-byte echo, one connection) to a task
//! - directly at its address, from its own host;
//! - through the routing mesh: at its host's published port, from that
//!   host and from the other one; and at the other host's published port
//!   (that host's mesh forwards over VXLAN; the task answers back
//!   through it, the client's address kept).
//!
//! Prints figures and ratios; passes or fails nothing. Needs root and
//! iperf3 (`apt-get install iperf3`). Run:
//! `cargo bench --workspace --bench mesh`, or in the debug build (the
//! path measured is the kernel's) `cargo test --bench mesh`. SECONDS=N per
//! iperf3 run (3), ROUNDS=N rounds over the cases (3), TRIPS=N round trips
//! per case (5000); then how long a killed task stays in another host's
//! mesh, TRIALS=N times (5).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::hosts::{Hosts, cluster};
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// Echoes whatever arrives on port 9000, one thread per connection.
const ECHO: &str = r#"
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000))
s.listen()
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(64)
        if not d:
            break
        c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Gbit/s received, from `iperf3 -c` in namespace `netns`.
fn throughput(netns: &str, addr: &str, port: u16, seconds: u64) -> Option<f64> {
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "iperf3", "-J", "-c", addr, "-p", &port.to_string(), "-t", &seconds.to_string()])
        .output()
        .ok()?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(report["end"]["sum_received"]["bits_per_second"].as_f64()? / 1e9)
}

/// The times of `trips` 1-byte round trips on one connection, from a
/// thread in namespace `netns`.
fn latency(netns: &str, addr: &str, port: u16, trips: u64) -> Option<Vec<Duration>> {
    let path = PathBuf::from("/run/netns").join(netns);
    let target = format!("{addr}:{port}");
    shoal_ingress::netns::run_in(&path, move || {
        let mut stream = TcpStream::connect(&target).ok()?;
        stream.set_nodelay(true).ok()?;
        let mut byte = [0u8; 1];
        let mut samples = Vec::with_capacity(trips as usize);
        for i in 0..trips + 100 {
            let start = Instant::now();
            stream.write_all(b"x").ok()?;
            stream.read_exact(&mut byte).ok()?;
            if i >= 100 {
                samples.push(start.elapsed());
            }
        }
        Some(samples)
    })
    .ok()?
}

/// The `q` quantile of `samples` (sorted here).
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples.get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1))).copied().unwrap_or_default()
}

/// The address of `service`'s running task on network `network`.
fn task_addr(node: &Node, service: &str, network: &str) -> Option<String> {
    let id = node.ok(&["network", "inspect", "--format", "{{.Id}}", network]).trim().to_string();
    node.tasks(service).iter().filter(|t| t["Status"]["State"] == "running").find_map(|t| {
        let attachments = t["NetworksAttachments"].as_array()?;
        let a = attachments.iter().find(|a| a["Network"]["ID"] == id.as_str())?;
        Some(a["Addresses"][0].as_str()?.split('/').next()?.to_string())
    })
}

/// The mesh's table on host `netns`.
fn mesh_table(netns: &str) -> String {
    let out = Command::new("ip").args(["netns", "exec", netns, "nft", "list", "table", "ip", "shoal"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// How long after `service`'s running task is killed the mesh of host
/// `netns` stops sending it connections: the worker saw the exit, the
/// managers committed it and sent the new map, the host rewrote its
/// table (polled). Then waits for the replacement to be in the table.
fn mesh_leave(manager: &Node, netns: &str, service: &str) -> Option<Duration> {
    let task = manager.tasks(service).into_iter().find(|t| t["Status"]["State"] == "running")?;
    let pid = task["Status"]["ContainerStatus"]["PID"].as_i64()?;
    let addr = task_addr(manager, service, "ingress")?;
    let listed = |addr: &str| mesh_table(netns).contains(&format!(" {addr} . "));
    if !listed(&addr) {
        return None;
    }
    let start = Instant::now();
    Command::new("kill").args(["-9", &pid.to_string()]).output().ok()?;
    while listed(&addr) {
        if start.elapsed() > WAIT {
            return None;
        }
    }
    let took = start.elapsed();
    wait_until(WAIT, "the replacement in the mesh", || {
        task_addr(manager, service, "ingress").is_some_and(|a| a != addr && listed(&a))
    });
    Some(took)
}

fn main() {
    if Command::new("iperf3").arg("--version").output().is_err() {
        eprintln!("the mesh benchmark needs iperf3: apt-get install iperf3");
        return;
    }
    common::set_log_level("info");
    let (seconds, trips) = (env("SECONDS", 3), env("TRIPS", 5000));
    let hosts = Hosts::new(2);
    let (manager, _workers) = cluster(&hosts);
    let on_host_1 = ["--constraint", "node.hostname==host-1"];
    let mut perf = vec!["service", "create", "--detach", "--name", "perf", "-p", "5301:5201"];
    perf.extend_from_slice(&on_host_1);
    perf.extend_from_slice(&["iperf3", "-s", "-p", "5201"]);
    manager.ok(&perf);
    let mut echo = vec!["service", "create", "--detach", "--name", "echo", "-p", "9001:9000"];
    echo.extend_from_slice(&on_host_1);
    echo.extend_from_slice(&["/usr/bin/python3", "-c", ECHO]);
    manager.ok(&echo);
    wait_until(WAIT, "both tasks running", || {
        task_addr(&manager, "perf", "ingress").is_some() && task_addr(&manager, "echo", "ingress").is_some()
    });
    let perf_addr = task_addr(&manager, "perf", "ingress").unwrap();
    let echo_addr = task_addr(&manager, "echo", "ingress").unwrap();
    let (h1, h2) = (&hosts.names[0], &hosts.names[1]);
    let (a1, a2) = (&hosts.addrs[0], &hosts.addrs[1]);
    wait_until(WAIT, "the mesh answering on both hosts", || {
        latency(h1, a2, 9001, 1).is_some() && latency(h2, a1, 9001, 1).is_some()
    });

    // (name, client namespace, address, iperf3 port, echo port); the
    // task runs on host 1.
    let cases: [(&str, &str, &str, u16, u16); 4] = [
        ("direct to the task", h1, &perf_addr, 5201, 9000),
        ("mesh, same host", h1, a1, 5301, 9001),
        ("mesh from another host", h2, a1, 5301, 9001),
        ("mesh via another host (VXLAN)", h2, a2, 5301, 9001),
    ];
    println!(
        "mesh benchmark: iperf3 {seconds} s per case and round (best of {}), {trips} round trips of 1 byte per case",
        env("ROUNDS", 3)
    );
    // Rounds over the cases, so that the machine's noise falls on all:
    // the best throughput of the rounds, latency percentiles over all of
    // a case's round trips.
    let rounds = env("ROUNDS", 3);
    let mut gbits = vec![0f64; cases.len()];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, (_, netns, to, perf_port, echo_port)) in cases.iter().enumerate() {
            let echo_to = if *to == perf_addr { echo_addr.as_str() } else { to };
            gbits[i] = gbits[i].max(throughput(netns, to, *perf_port, seconds).unwrap_or(0.0));
            samples[i].extend(latency(netns, echo_to, *echo_port, trips / rounds).unwrap_or_default());
        }
    }
    let rows: Vec<(&str, f64, Duration, Duration)> = cases
        .iter()
        .zip(gbits)
        .zip(samples.iter_mut())
        .map(|(((name, ..), g), s)| (*name, g, quantile(s, 0.5), quantile(s, 0.99)))
        .collect();
    // Everything against the direct path on the task's own host.
    let (base_gbits, base_p50) = (rows[0].1, rows[0].2);
    for (name, gbits, p50, p99) in &rows {
        println!(
            "  {name:<32} {gbits:6.2} Gbit/s ({:5.1}% of direct)   p50 {:6.1} us (+{:5.1} us)   p99 {:6.1} us",
            gbits / base_gbits * 100.0,
            p50.as_secs_f64() * 1e6,
            (p50.as_secs_f64() - base_p50.as_secs_f64()) * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }

    // A dead task out of another host's mesh, TRIALS times.
    let mut leaves: Vec<Duration> = (0..env("TRIALS", 5)).filter_map(|_| mesh_leave(&manager, h2, "echo")).collect();
    let (p50, max) = (quantile(&mut leaves, 0.5), leaves.last().copied().unwrap_or_default());
    println!(
        "  a killed task out of another host's mesh: p50 {:.0} ms, max {:.0} ms ({} trials)",
        p50.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        leaves.len()
    );
}
