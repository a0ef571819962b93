//! Quorum, told truly: a manager without a majority says so at once,
//! counts only the managers that really answer, and never shows itself
//! as the leader.

mod common;

use std::time::{Duration, Instant};

use common::{Cluster, wait_until};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_lone_manager_says_it_has_no_quorum_and_refuses_writes_at_once() {
    let mut cluster = Cluster::new(3, 0);
    let leader = cluster.leader().hostname.clone();
    let old = cluster.managers.iter().position(|m| m.hostname == leader).unwrap();

    // Two managers stop: the leader's refusals count only itself.
    for (i, m) in cluster.managers.iter_mut().enumerate() {
        if i != old {
            m.kill9();
        }
    }
    let lone = &cluster.managers[old];
    let started = Instant::now();
    wait_until(WAIT, "a write refused for lack of quorum", || {
        let out = lone
            .shoal_within(Duration::from_secs(10), &["service", "create", "--detach", "--name", "a", "sleep", "9"])
            .expect("a write without quorum must not hang");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "no write without a quorum");
        assert!(!err.contains("3 of 3") && !err.contains("2 of 3"), "only the managers that answer count: {err}");
        err.contains("no quorum: 1 of 3 managers reachable")
    });
    eprintln!("refused {:?} after the two managers stopped", started.elapsed());

    // Restarted alone (raft restores it as the leader of its last term),
    // it shows no leader and refuses writes at once.
    cluster.managers[old].restart();
    let lone = &cluster.managers[old];
    for _ in 0..3 {
        let started = Instant::now();
        let out = lone
            .shoal_within(Duration::from_secs(10), &["service", "create", "--detach", "--name", "b", "sleep", "9"])
            .expect("a write without quorum must not hang");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "no write without a quorum");
        assert!(err.contains("no quorum: 1 of 3 managers reachable"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5), "refused at once, not after {:?}", started.elapsed());
        let ls = lone.ok(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
        assert!(!ls.contains("Leader"), "{ls}");
        assert_eq!(ls.lines().filter(|l| l.ends_with(" Unreachable")).count(), 2, "{ls}");
    }

    // The others come back: one leader again, and writes work.
    for (i, m) in cluster.managers.iter_mut().enumerate() {
        if i != old {
            m.restart();
        }
    }
    let lone = &cluster.managers[old];
    wait_until(WAIT, "a write after the quorum came back", || {
        let out = lone.shoal(&["service", "create", "--detach", "--replicas", "0", "--name", "c", "sleep", "9"]);
        out.status.success()
    });
}

#[test]
fn a_frozen_leader_is_replaced_and_follows_once_it_thaws() {
    let cluster = Cluster::new(3, 0);
    let leader = cluster.leader().hostname.clone();
    let old = cluster.managers.iter().position(|m| m.hostname == leader).unwrap();
    let survivor = &cluster.managers[(old + 1) % 3];
    // Frozen, it refuses nothing: the followers' question times out.
    cluster.managers[old].freeze(true);
    wait_until(WAIT, "a write through a survivor", || {
        survivor
            .shoal(&["service", "create", "--detach", "--replicas", "0", "--name", "during", "sleep", "9"])
            .status
            .success()
    });
    let ls = survivor.ok(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
    assert!(ls.lines().any(|l| l.ends_with(" Leader") && !l.starts_with(&leader)), "a new leader: {ls}");
    cluster.managers[old].freeze(false);
    let back = &cluster.managers[old];
    wait_until(WAIT, "the old leader following, with the write", || {
        let out = back.shoal(&["service", "ls", "--format", "{{.Name}}"]);
        let statuses = back.shoal(&["node", "inspect", "--format", "{{json .ManagerStatus}}", "self"]);
        String::from_utf8_lossy(&out.stdout).contains("during")
            && !String::from_utf8_lossy(&statuses.stdout).contains("\"Leader\":true")
    });
}
