//! The node simulator: thousands of workers in this one process, each a
//! real node to the managers (joined with a real token, its own key and
//! certificate, a dispatcher session over the managers' mTLS gRPC
//! endpoint, heartbeats at the cluster's period, task status reported
//! through its states), in front of three real managers on loopback.
//!
//! Measures, in one run on one cluster:
//! 1. joining NODES nodes (joins per second);
//! 2. idle: the managers' CPU and RSS with the sessions open beside the
//!    same cluster empty (per 1,000 nodes), heartbeats failed or late;
//! 3. a service of REPLICAS replicas: time until the nodes reported every
//!    task Running (tasks per second, end to end);
//! 4. VANISH nodes stop at once: time until the managers mark them Down,
//!    and until their tasks run elsewhere;
//! 5. the leader killed: time until every session is open again (p50,
//!    p99, max) and until a write is accepted;
//! 6. a service on an overlay network, one task on each live node: time
//!    until all Running, network maps sent to the nodes (count, size),
//!    the managers' CPU for it (OVERLAY=N tasks only, 0 skips it;
//!    reported as unfinished after OVERLAY_WAIT_SECS, 120).
//!
//! Prints the figures; passes or fails nothing. Needs root only for
//! nothing: the managers run tasks with the process runtime but are
//! drained, the simulated nodes run nothing. Run (release build):
//! `cargo bench --bench simulator` with NODES (1000), REPLICAS (20 per
//! node), VANISH (a fifth of the nodes), DELAY_MS between Starting and
//! Running (0), HEARTBEAT (the cluster's period, e.g. 5s; default the
//! cluster's default), IDLE_SECS (20).

#[path = "../../tests/common/mod.rs"]
mod common;
// Only `settled` of it is used here.
mod fleet;
mod node;
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
mod usage;

use std::time::{Duration, Instant};

use common::{Cluster, percentiles, set_log_level, wait_until};
use fleet::{Fleet, Nodes};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The managers' pids, the leader's first.
fn pids(cluster: &Cluster) -> Vec<u32> {
    let leader = cluster.leader().hostname.clone();
    let mut managers: Vec<_> = cluster.managers.iter().collect();
    managers.sort_by_key(|m| m.hostname != leader);
    managers.iter().map(|m| m.pid()).collect()
}

/// Idle CPU (share of one core) and RSS of the managers, leader first,
/// and of this process.
fn idle(cluster: &Cluster, window: Duration) -> (Vec<f64>, Vec<f64>) {
    let mut pids = pids(cluster);
    pids.push(std::process::id());
    let cpu = usage::cpu_over(&pids, window);
    let rss = pids.iter().map(|p| usage::rss_mb(*p)).collect();
    (cpu, rss)
}

fn show(what: &str, (cpu, rss): &(Vec<f64>, Vec<f64>)) {
    let pct = |v: &[f64]| v.iter().map(|c| format!("{:.1}%", c * 100.0)).collect::<Vec<_>>().join(" / ");
    let mb = |v: &[f64]| v.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join(" / ");
    println!(
        "  {what}: managers' CPU (leader / followers) {}, RSS {} MB; simulator CPU {}, RSS {} MB",
        pct(&cpu[..cpu.len() - 1]),
        mb(&rss[..rss.len() - 1]),
        pct(&cpu[cpu.len() - 1..]),
        mb(&rss[rss.len() - 1..])
    );
}

/// Nodes in each state, as the leader's `node ls` says.
fn node_states(cluster: &Cluster) -> (usize, usize) {
    let out = cluster.leader().ok(&["node", "ls", "--format", "{{.Status}}"]);
    let count = |s: &str| out.lines().filter(|l| *l == s).count();
    (count("Ready"), count("Down"))
}

fn main() {
    set_log_level("info");
    let nodes: usize = env("NODES", 1000);
    let replicas: i64 = env("REPLICAS", 20 * nodes as i64);
    let vanish: usize = env("VANISH", nodes / 5);
    let delay = Duration::from_millis(env("DELAY_MS", 0));
    let window = Duration::from_secs(env("IDLE_SECS", 20));
    let wait = Duration::from_secs(env("WAIT_SECS", 600));
    let rt = tokio::runtime::Runtime::new().expect("a runtime");

    let mut cluster = Cluster::new(3, 0);
    for m in &cluster.managers {
        cluster.managers[0].ok(&["node", "update", "--availability", "drain", &m.hostname]);
    }
    if let Ok(period) = std::env::var("HEARTBEAT") {
        cluster.managers[0].ok(&["cluster", "update", "--dispatcher-heartbeat", &period]);
    }
    let period = cluster.managers[0].ok(&["cluster", "inspect", "--format", "{{.Spec.Dispatcher.HeartbeatPeriod}}"]);
    let period = Duration::from_nanos(period.trim().parse().unwrap_or(0));
    println!("simulator: 3 managers, {nodes} nodes, {replicas} replicas, heartbeat {period:?}, start delay {delay:?}");
    let empty = idle(&cluster, window);
    show("idle, no nodes", &empty);

    // 1. Join.
    let (token, remote) = cluster.managers[0].join_token("worker");
    let fleet = Fleet::new(delay);
    let started = Instant::now();
    let sim = Nodes::join(&rt, fleet.clone(), &remote, &token, nodes);
    wait_until(wait, "every node's session open", || fleet.sessions_opened() >= nodes);
    let took = started.elapsed();
    println!(
        "  joined {nodes} nodes, sessions open: {} ({:.0} joins/s)",
        secs(took),
        nodes as f64 / took.as_secs_f64()
    );
    wait_until(wait, "every node Ready", || node_states(&cluster).0 >= nodes + 3);

    // 2. Idle.
    fleet.take_heartbeats();
    let ended = fleet.sessions_ended();
    let busy = idle(&cluster, window);
    show(&format!("idle, {nodes} nodes"), &busy);
    let per_thousand = |i: usize| (busy.0[i] - empty.0[i], busy.1[i] - empty.1[i]);
    let (cpu, rss) = per_thousand(0);
    let k = nodes as f64 / 1000.0;
    println!("  leader per 1,000 nodes: {:.1}% CPU, {:.1} MB RSS", cpu * 100.0 / k, rss / k);
    let last = busy.1.len() - 1;
    println!("  simulator per node: {:.0} kB RSS", (busy.1[last] - empty.1[last]) * 1024.0 / nodes as f64);
    let (sent, failed, slowest) = fleet.take_heartbeats();
    let down = node_states(&cluster).1;
    println!(
        "  heartbeats: {sent} sent, {failed} failed, slowest answer {slowest:?}; sessions ended {}; nodes Down {down}",
        fleet.sessions_ended() - ended
    );

    // 3. A big service.
    let started = Instant::now();
    cluster.managers[0].ok(&[
        "service",
        "create",
        "--detach",
        "--replicas",
        &replicas.to_string(),
        "--name",
        "big",
        "sleep",
        "100000",
    ]);
    let created = started.elapsed();
    wait_until(wait, "every replica reported Running", || fleet.running() >= replicas);
    let took = started.elapsed();
    println!(
        "  {replicas} replicas: created in {}, all Running by the nodes' reports after {} ({:.0} tasks/s)",
        secs(created),
        secs(took),
        replicas as f64 / took.as_secs_f64()
    );

    let leader_pid = pids(&cluster)[0];
    let rss = usage::rss_mb(leader_pid);
    println!(
        "  leader RSS with them: {rss:.0} MB ({:.1} kB per task over the idle cluster)",
        (rss - busy.1[0]) * 1024.0 / replicas as f64
    );

    // 4. Nodes vanish.
    if vanish > 0 {
        let running_before = fleet.running();
        let started = Instant::now();
        sim.vanish(0..vanish);
        wait_until(wait, "the vanished nodes' tasks counted out", || fleet.running() < running_before || vanish == 0);
        let mut down_after = None;
        wait_until(wait, "the vanished nodes Down and their tasks Running elsewhere", || {
            if down_after.is_none() && node_states(&cluster).1 >= vanish {
                down_after = Some(started.elapsed());
            }
            down_after.is_some() && fleet.running() >= replicas
        });
        let took = started.elapsed();
        let down_after = down_after.unwrap_or(took);
        println!(
            "  {vanish} nodes vanished: Down after {}, their tasks Running elsewhere {} later ({} in all)",
            secs(down_after),
            secs(took.saturating_sub(down_after)),
            secs(took)
        );
    }

    // 5. The leader killed.
    let leader = cluster.leader().hostname.clone();
    let old = cluster.managers.iter().position(|m| m.hostname == leader).unwrap();
    cluster.managers[old].kill9();
    let killed = Instant::now();
    let mut write = None;
    for i in 1.. {
        let target = &cluster.managers[(old + 1 + i % 2) % 3];
        let name = format!("after-kill-{i}");
        let out = target.shoal(&["service", "create", "--detach", "--replicas", "0", "--name", &name, "sleep", "9"]);
        if out.status.success() {
            write = Some(killed.elapsed());
            break;
        }
        assert!(killed.elapsed() < wait, "no write accepted after the leader was killed");
    }
    let live = vanish..sim.len();
    wait_until(wait, "every live node's session open again", || {
        fleet.opened_since(live.clone(), killed).iter().all(Option::is_some)
    });
    let samples: Vec<Duration> = fleet.opened_since(live.clone(), killed).into_iter().flatten().collect();
    println!("  leader killed: first write accepted after {}", secs(write.unwrap_or_default()));
    percentiles("leader killed -> session open again", samples);
    let running = fleet.running();
    println!("  tasks Running by the nodes' reports after the fail-over: {running} of {replicas}");
    cluster.managers[old].restart();
    wait_until(wait, "the old leader back", || support::settled(&cluster.managers[old]));

    // 6. A service on an overlay network, one task per live node (or OVERLAY).
    let live: usize = env("OVERLAY", sim.len() - vanish).min(sim.len() - vanish);
    if live > 0 {
        let leader = cluster.leader();
        leader.ok(&["network", "create", "--driver", "overlay", "--subnet", "10.128.0.0/16", "simnet"]);
        let before = fleet.running();
        let pids = pids(&cluster);
        let cpu: Vec<f64> = pids.iter().map(|p| usage::cpu_seconds(*p)).collect();
        fleet.take_maps();
        let started = Instant::now();
        let args = ["--replicas-max-per-node", "1", "--network", "simnet", "--name", "overlaid", "sleep", "100000"];
        let live_text = live.to_string();
        let mut create = vec!["service", "create", "--detach", "--replicas", &live_text];
        create.extend(args);
        leader.ok(&create);
        let overlay_wait = Duration::from_secs(env("OVERLAY_WAIT_SECS", 120));
        while fleet.running() < before + live as i64 && started.elapsed() < overlay_wait {
            std::thread::sleep(Duration::from_millis(100));
        }
        let took = started.elapsed();
        let done = fleet.running() - before;
        if done < live as i64 {
            println!(
                "  overlay service, {live} tasks on {live} nodes: only {done} Running after {}; maps sent {:?}",
                secs(took),
                fleet.take_maps()
            );
            return;
        }
        // The maps go on changing while the last tasks' Running spreads.
        let mut maps = fleet.take_maps();
        let mut quiet_since = Instant::now();
        wait_until(wait, "no network map sent for a second", || {
            let now = fleet.take_maps();
            if now.0 > 0 {
                maps = (maps.0 + now.0, maps.1 + now.1);
                quiet_since = Instant::now();
            }
            quiet_since.elapsed() > Duration::from_secs(1)
        });
        let rss: Vec<String> = pids.iter().map(|p| format!("{:.0}", usage::rss_mb(*p))).collect();
        println!("  managers' RSS with the overlay service: {} MB", rss.join(" / "));
        let used: Vec<String> =
            pids.iter().zip(cpu).map(|(p, c)| format!("{:.1} s", usage::cpu_seconds(*p) - c)).collect();
        println!(
            "  overlay service, {live} tasks on {live} nodes: all Running after {} ({:.0} tasks/s); network maps sent {} ({:.1} per node, {:.0} bytes each on average); managers' CPU {}",
            secs(took),
            live as f64 / took.as_secs_f64(),
            maps.0,
            maps.0 as f64 / live as f64,
            maps.1 as f64 / maps.0.max(1) as f64,
            used.join(" / ")
        );
    }
    drop(sim);
    println!("  (simulator up {})", secs(fleet.uptime()));
}
