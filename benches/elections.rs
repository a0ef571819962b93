//! Elections under CPU load: 3 managers on loopback while other processes
//! keep both cores busy (a shared, loaded machine).
//!
//! 1. For `MINUTES` (default 3), counts the leader changes (a manager's
//!    leader loops starting, from the daemons' logs), and writes one
//!    service every 250 ms through the managers in turn, counting the
//!    refused ones ("no raft leader yet") and the slowest.
//! 2. Then, still under load, kills the leader `TRIALS` times (default
//!    10) and times the first acknowledged write after each kill.
//!
//! The same runs without load first, side by side. Prints figures;
//! passes or fails nothing. Run:
//! `cargo bench --workspace --bench elections` (`HOGS=N` busy processes,
//! default 4).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{Cluster, Node, percentiles};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|t| t.parse().ok()).unwrap_or(default)
}

/// Busy processes, killed on drop.
struct Load(Vec<Child>);

impl Load {
    fn start(hogs: u64) -> Load {
        Load((0..hogs).map(|_| Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap()).collect())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn leaderships(cluster: &Cluster) -> usize {
    cluster.managers.iter().map(|m| m.log().matches("leading: starting the orchestrator").count()).sum()
}

fn write(node: &Node, name: &str) -> bool {
    node.shoal(&["service", "create", "--detach", "--replicas", "0", "--name", name, "sleep", "9"]).status.success()
}

/// Part 1: leader changes and refused writes over the window.
fn steady(cluster: &Cluster, label: &str) {
    let window = Duration::from_secs(env("MINUTES", 3) * 60);
    let before = leaderships(cluster);
    let started = Instant::now();
    let (mut writes, mut refused, mut slowest) = (0, 0, Duration::ZERO);
    while started.elapsed() < window {
        let at = Instant::now();
        let node = &cluster.managers[writes % 3];
        if !write(node, &format!("{label}-{writes}")) {
            refused += 1;
        }
        slowest = slowest.max(at.elapsed());
        writes += 1;
        std::thread::sleep(Duration::from_millis(250).saturating_sub(at.elapsed()));
    }
    println!(
        "  {label}: {} min, {} leader changes, {writes} writes, {refused} refused, slowest {:.0} ms",
        window.as_secs() / 60,
        leaderships(cluster) - before,
        slowest.as_secs_f64() * 1000.0
    );
}

/// Part 2: failover time.
fn failover(cluster: &mut Cluster, label: &str) {
    let samples = support::leader_failover(cluster, env("TRIALS", 10) as usize, label);
    percentiles(&format!("{label}: leader killed -> first acknowledged write"), samples);
}

fn main() {
    common::set_log_level("info");
    let hogs = env("HOGS", 4);
    println!("elections, 3 managers on loopback (raft heartbeat 50 ms, election 250-500 ms), {hogs} busy processes");
    let mut cluster = Cluster::new(3, 0);
    steady(&cluster, "idle");
    failover(&mut cluster, "idle");
    let load = Load::start(hogs);
    steady(&cluster, "loaded");
    failover(&mut cluster, "loaded");
    drop(load);
}
