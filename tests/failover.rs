//! Managers failing: the leader killed under writes, a majority lost, and
//! the whole cluster restarted.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Cluster, Node, procs_with, token, wait_until};

const WAIT: Duration = Duration::from_secs(30);

fn leader_index(cluster: &Cluster) -> usize {
    let leader = cluster.leader().hostname.clone();
    cluster.managers.iter().position(|m| m.hostname == leader).unwrap()
}

#[test]
fn killing_the_leader_loses_no_acknowledged_write() {
    let mut cluster = Cluster::new(3, 0);
    let old = leader_index(&cluster);
    let mut acknowledged = BTreeSet::new();
    let mut killed_at = None;
    let mut first_after_kill = None;
    let mut failed_on_survivors = Vec::new();
    let started = Instant::now();
    for i in 0.. {
        assert!(started.elapsed() < Duration::from_secs(60), "writes did not resume after the failover");
        if i == 15 {
            cluster.managers[old].kill9();
            killed_at = Some(Instant::now());
        }
        let name = format!("s{i}");
        // The client moves on to any manager that answers.
        let target = &cluster.managers[(old + i) % 3];
        let out = target.shoal(&["service", "create", "--detach", "--replicas", "0", "--name", &name, "sleep", "9"]);
        if killed_at.is_some() && target.hostname != cluster.managers[old].hostname && !out.status.success() {
            failed_on_survivors.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        if out.status.success() {
            acknowledged.insert(name);
            if let Some(at) = killed_at
                && first_after_kill.is_none()
            {
                first_after_kill = Some(at.elapsed());
            }
        }
        if first_after_kill.is_some() && acknowledged.len() >= 30 {
            break;
        }
    }
    eprintln!("first write acknowledged {:?} after the leader was killed", first_after_kill.unwrap());
    // A survivor waits out the election instead of failing the write (one
    // failure allowed: a loaded machine may stretch the election).
    assert!(failed_on_survivors.len() <= 1, "writes failed during the failover: {failed_on_survivors:?}");
    let survivors: Vec<&Node> =
        cluster.managers.iter().enumerate().filter(|(i, _)| *i != old).map(|(_, m)| m).collect();
    // A successor chosen in advance started the election, not a timer.
    assert!(
        survivors.iter().any(|m| m.log().contains("the raft leader fell silent: starting an election")),
        "no successor started the election"
    );
    for m in &survivors {
        let present = m.services();
        let lost: Vec<&String> = acknowledged.difference(&present).collect();
        assert!(lost.is_empty(), "acknowledged writes lost on {}: {lost:?}", m.hostname);
    }
    let expected = survivors[0].services();
    assert_ne!(cluster.leader().hostname, cluster.managers[old].hostname);

    // The old leader comes back as a follower with the same state.
    cluster.managers[old].restart();
    let back = &cluster.managers[old];
    wait_until(WAIT, "the old leader caught up", || {
        let out = back.shoal(&["service", "ls", "--format", "{{.Name}}"]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).lines().count() == expected.len()
    });
    assert_eq!(back.services(), expected);
    let status = back.ok(&["node", "inspect", "--format", "{{json .ManagerStatus}}", "self"]);
    assert!(!status.contains("Leader"), "the old leader follows: {status}");
    wait_until(WAIT, "every manager Reachable", || {
        let out = back.ok(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
        out.lines().filter(|l| *l == "Reachable").count() == 2 && out.lines().any(|l| l == "Leader")
    });
}

#[test]
fn without_a_majority_writes_fail_fast_and_a_survivor_forces_a_new_cluster() {
    let mut cluster = Cluster::new(3, 0);
    cluster.managers[0].ok(&["service", "create", "--detach", "--replicas", "0", "--name", "kept", "sleep", "9"]);
    wait_until(WAIT, "the service on every manager", || cluster.managers.iter().all(|m| m.services().contains("kept")));
    cluster.managers[1].kill9();
    cluster.managers[2].kill9();
    let survivor = &cluster.managers[0];
    wait_until(WAIT, "writes refused for lack of quorum", || {
        let started = Instant::now();
        let out = survivor.shoal(&["service", "create", "--detach", "--name", "new", "sleep", "9"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(started.elapsed() < Duration::from_secs(5), "a write without quorum must fail fast: {err}");
        assert!(!out.status.success(), "no write without a quorum");
        err.contains("no quorum: 1 of 3 managers reachable")
    });
    let out = survivor.shoal(&["service", "ls", "--format", "{{.Name}}"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "kept");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Warning: no quorum: 1 of 3 managers reachable") && err.contains("stale"), "{err}");
    let ls = survivor.ok(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
    assert_eq!(ls.lines().filter(|l| l.ends_with(" Unreachable")).count(), 2, "{ls}");
    assert!(!ls.contains("Leader"), "{ls}");

    // The survivor makes a new cluster from its own state.
    let out = survivor.ok(&["node", "init", "--force-new-cluster"]);
    assert!(out.contains("shoal node join --token SHOAL-1-"), "{out}");
    survivor.ok(&["service", "create", "--detach", "--replicas", "0", "--name", "after", "sleep", "9"]);
    assert_eq!(survivor.services(), BTreeSet::from(["kept".to_string(), "after".to_string()]));
    let out = survivor.shoal(&["service", "ls"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Warning"), "writable again, not stale");
    let ls = survivor.ok(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
    assert!(ls.contains(&format!("{} Leader", survivor.hostname)), "{ls}");
    // The lost managers are demoted and removed as usual.
    let lost: Vec<String> = cluster.managers[1..].iter().map(|m| m.hostname.clone()).collect();
    survivor.ok(&["node", "demote", &lost[0], &lost[1]]);
    wait_until(WAIT, "the lost managers recorded as Down workers", || {
        survivor
            .ok(&["node", "ls", "--format", "{{.Status}} {{.ManagerStatus}}"])
            .lines()
            .filter(|l| *l == "Down ")
            .count()
            == 2
    });
    survivor.ok(&["node", "rm", &lost[0], &lost[1]]);
    assert_eq!(survivor.ok(&["node", "ls", "-q"]).lines().count(), 1);
}

#[test]
fn a_full_cluster_restart_keeps_everything() {
    let mut cluster = Cluster::new(3, 1);
    let token = token();
    let m = &cluster.managers[0];
    m.ok(&["service", "create", "--name", "web", "--replicas", "4", "--env", &token, "sleep", "1000"]);
    let pids: BTreeSet<i32> = procs_with(&token).into_iter().collect();
    assert_eq!(pids.len(), 4);
    let before = m.ok(&["service", "ps", "-q", "--no-trunc", "web"]);

    for node in cluster.managers.iter_mut().chain(cluster.workers.iter_mut()) {
        node.kill9();
    }
    for node in cluster.managers.iter_mut().chain(cluster.workers.iter_mut()) {
        node.restart();
    }
    let m = &cluster.managers[0];
    wait_until(WAIT, "4 nodes Ready", || {
        let out = m.shoal(&["node", "ls", "--format", "{{.Status}}"]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).lines().filter(|l| *l == "Ready").count() == 4
    });
    wait_until(WAIT, "4/4 again", || m.replicas("web") == "4/4");
    assert_eq!(m.ok(&["service", "ps", "-q", "--no-trunc", "web"]), before, "the same tasks");
    let after: BTreeSet<i32> = procs_with(&token).into_iter().collect();
    assert_eq!(after, pids, "tasks re-adopted, not restarted, no duplicates");
}

#[test]
fn writes_in_flight_when_the_leader_dies_never_end_in_a_bare_transport_error() {
    let mut cluster = Cluster::new(3, 0);
    let old = leader_index(&cluster);
    let sockets: Vec<String> = cluster.managers.iter().map(|m| format!("unix://{}", m.socket().display())).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Four writers per manager, the leader's own included, until told.
    let writers: Vec<_> = (0..12)
        .map(|w| {
            let (host, stop) = (sockets[w % 3].clone(), stop.clone());
            std::thread::spawn(move || {
                let mut results = Vec::new();
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("w{w}-{i}");
                    let out = std::process::Command::new(common::SHOAL)
                        .args(["--host", &host, "service", "create", "--detach", "--replicas", "0", "--name", &name])
                        .args(["sleep", "9"])
                        .output()
                        .unwrap();
                    results.push((name, out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned()));
                }
                results
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    cluster.managers[old].kill9();
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let results: Vec<(String, bool, String)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let survivor = cluster.managers.iter().enumerate().find(|(i, _)| *i != old).unwrap().1;
    wait_until(WAIT, "a leader among the survivors", || {
        survivor.ok(&["node", "ls", "--format", "{{.ManagerStatus}}"]).contains("Leader")
    });
    let present = survivor.services();
    let explained =
        ["outcome unknown", "the write was made", "raft leader", "quorum", "cannot connect to the shoal daemon"];
    for (name, ok, err) in &results {
        if *ok || err.contains("the write was made") {
            assert!(present.contains(name), "{name} was acknowledged but is lost ({err})");
        } else {
            assert!(explained.iter().any(|e| err.contains(e)), "{name} failed without saying what became of it: {err}");
            assert!(!err.trim().ends_with("transport error"), "{name}: {err}");
        }
    }
    let acknowledged = results.iter().filter(|r| r.1).count();
    eprintln!(
        "{} writes: {acknowledged} acknowledged, {} made but unanswered, {} unknown, {} refused",
        results.len(),
        results.iter().filter(|r| r.2.contains("the write was made")).count(),
        results.iter().filter(|r| r.2.contains("outcome unknown")).count(),
        results
            .iter()
            .filter(|r| !r.1 && !r.2.contains("the write was made") && !r.2.contains("outcome unknown"))
            .count(),
    );
    assert!(acknowledged > 20, "the writers wrote");
}
