//! Failure recovery of real daemons on loopback, timed over many trials:
//! - leader failover: `kill -9` the raft leader of 3 managers, then time
//!   until a write (`service create`) through a survivor succeeds;
//! - worker loss: SIGSTOP the worker running a service's only task, then
//!   time until a replacement task is Running on the other worker.
//!
//! Prints p50/p99/max; passes or fails nothing. Run:
//! `cargo bench --workspace --bench failover` (TRIALS=N to change the 20
//! trials; VERBOSE=1 prints every failed write attempt with its time).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Cluster, Node, wait_until};

const WAIT: Duration = Duration::from_secs(60);

fn trials() -> usize {
    std::env::var("TRIALS").ok().and_then(|t| t.parse().ok()).unwrap_or(20)
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "  {name}: {} trials, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        samples.last().unwrap().as_secs_f64() * 1000.0
    );
}

fn leader_of(cluster: &Cluster) -> usize {
    let leader = cluster.leader().hostname.clone();
    cluster.managers.iter().position(|m| m.hostname == leader).unwrap()
}

fn settled(node: &Node) -> bool {
    let out = node.shoal(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.lines().filter(|l| *l == "Reachable").count() == 2 && text.contains("Leader")
}

fn leader_failover() {
    let mut cluster = Cluster::new(3, 0);
    let mut samples = Vec::new();
    for trial in 0..trials() {
        let old = leader_of(&cluster);
        cluster.managers[old].kill9();
        let killed = Instant::now();
        let mut i = 0;
        loop {
            i += 1;
            let target = &cluster.managers[(old + 1 + i % 2) % 3];
            let name = format!("t{trial}-{i}");
            let out =
                target.shoal(&["service", "create", "--detach", "--replicas", "0", "--name", &name, "sleep", "9"]);
            if out.status.success() {
                break;
            }
            if std::env::var_os("VERBOSE").is_some() {
                let err = String::from_utf8_lossy(&out.stderr);
                eprintln!("{:>5} ms via {}: {}", killed.elapsed().as_millis(), target.hostname, err.trim());
            }
            assert!(killed.elapsed() < WAIT, "no write accepted after the leader was killed");
        }
        samples.push(killed.elapsed());
        cluster.managers[old].restart();
        let back = &cluster.managers[old];
        wait_until(WAIT, "the old leader back and every manager reachable", || settled(back));
    }
    percentiles("leader killed -> first acknowledged write", samples);
}

fn worker_loss() {
    let cluster = Cluster::new(1, 2);
    let manager = &cluster.managers[0];
    manager.ok(&["node", "update", "--availability", "drain", &manager.hostname]);
    manager.ok(&["service", "create", "--name", "one", "sleep", "1000"]);
    let running_on = || -> Option<String> {
        let out = manager.ok(&[
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
            "one",
        ]);
        out.lines().find(|l| l.contains(" Running ")).map(|l| l.split(' ').next().unwrap().to_string())
    };
    let mut samples = Vec::new();
    for _ in 0..trials() {
        let host = running_on().expect("the task runs");
        let lost = cluster.workers.iter().find(|w| w.hostname == host).unwrap();
        lost.freeze(true);
        let stopped = Instant::now();
        wait_until(WAIT, "the task running on the other worker", || running_on().is_some_and(|h| h != host));
        samples.push(stopped.elapsed());
        lost.freeze(false);
        wait_until(WAIT, "the worker Ready again", || {
            manager.ok(&["node", "inspect", "--format", "{{.Status.State}}", &host]).trim() == "ready"
        });
    }
    percentiles("worker frozen -> replacement task Running elsewhere", samples);
}

fn main() {
    common::set_log_level("info");
    println!(
        "failure recovery, real daemons on loopback (default timings: heartbeat 1s, raft heartbeat 50ms, election 250-500ms)"
    );
    leader_failover();
    worker_loss();
}
