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
mod support;

use std::time::{Duration, Instant};

use common::{Cluster, percentiles, wait_until};

const WAIT: Duration = Duration::from_secs(60);

fn trials() -> usize {
    std::env::var("TRIALS").ok().and_then(|t| t.parse().ok()).unwrap_or(20)
}

fn leader_failover() {
    let mut cluster = Cluster::new(3, 0);
    let samples = support::leader_failover(&mut cluster, trials(), "t");
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
