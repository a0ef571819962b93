//! Recovering from what should not happen: `node init
//! --force-new-cluster` interrupted at every step, and managers that lost
//! their raft state (a wiped folder, a corrupt log).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Cluster, Node, wait_until};
use shoal_proto::transport::Role;

const WAIT: Duration = Duration::from_secs(30);

fn files(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(suffix)).collect()
}

#[test]
fn force_new_cluster_leaves_the_old_state_or_the_new_one_whenever_it_is_killed() {
    let mut cluster = Cluster::new(3, 0);
    let survivor = &cluster.managers[0];
    for i in 0..30 {
        assert!(survivor.create_empty(&format!("kept{i}")));
    }
    let kept = survivor.services();
    // RocksDB's own files beside its log: a restart flushes the log it
    // replays into table files (the case that once corrupted the store).
    cluster.managers[0].restart();
    let survivor = &cluster.managers[0];
    wait_until(WAIT, "the survivor back in its cluster", || survivor.create_empty("after-restart"));
    assert!(!files(&survivor.data_dir().join("raft"), ".sst").is_empty(), "table files in raft/");
    let mut expected = survivor.services();
    let before = survivor.certificate();
    cluster.managers[1].kill9();
    cluster.managers[2].kill9();
    let survivor = &mut cluster.managers[0];
    wait_until(WAIT, "writes refused for lack of quorum", || {
        let out = survivor.shoal(&["service", "create", "--detach", "--name", "x", "sleep", "9"]);
        String::from_utf8_lossy(&out.stderr).contains("no quorum")
    });

    // Killed before the point of no return: the old cluster, untouched.
    let force = |node: &mut Node, step: &str| {
        node.restart_with(&[("SHOAL_TEST_CRASH_AT", step)]);
        let out = node.shoal_within(Duration::from_secs(60), &["node", "init", "--force-new-cluster"]);
        assert!(out.is_some_and(|o| !o.status.success()), "{step}: the daemon was to die");
        wait_until(WAIT, "the daemon killed", || !node.running());
        node.restart();
    };
    force(survivor, "staged");
    let err = survivor.fails(1, &["service", "create", "--detach", "--name", "x", "sleep", "9"]);
    assert!(err.contains("no quorum"), "the old cluster: {err}");
    assert_eq!(survivor.ok(&["node", "ls", "-q"]).lines().count(), 3);
    assert!(!survivor.data_dir().join("raft.new").exists(), "the half-built state is gone");
    assert_eq!(survivor.certificate().cert(), before.cert(), "the old certificate");

    // Killed after it, at any step: the new cluster.
    for step in ["committed", "raft-kept", "certificates-kept", "swapped"] {
        force(survivor, step);
        let name = format!("after-{step}");
        wait_until(WAIT, &format!("the new cluster writable ({step})"), || survivor.create_empty(&name));
        expected.insert(name);
        assert_eq!(survivor.services(), expected, "{step}");
        for left in ["raft.new", "certificates.new", "force-new-cluster.json"] {
            assert!(!survivor.data_dir().join(left).exists(), "{step}: {left} left behind");
        }
    }
    assert!(expected.is_superset(&kept));
    // A certificate issued anew: the same node and role, valid from now.
    let after = survivor.certificate();
    assert_ne!(after.cert(), before.cert());
    assert_eq!(after.identity().node_id, before.identity().node_id);
    assert_eq!(after.identity().role, Role::Manager);
    let (from, _) = after.validity().unwrap();
    assert!(from > before.validity().unwrap().0, "issued by the recovery");

    // Uninterrupted, and then restarted: the store opens as it should.
    survivor.ok(&["node", "init", "--force-new-cluster"]);
    survivor.restart();
    let survivor = &cluster.managers[0];
    wait_until(WAIT, "writable after a restart", || survivor.create_empty("last"));
    expected.insert("last".into());
    assert_eq!(survivor.services(), expected);
}

/// The follower the test breaks, and a manager that stays.
fn follower(cluster: &Cluster) -> (usize, usize) {
    let leader = cluster.leader().hostname.clone();
    let f = cluster.managers.iter().position(|m| m.hostname != leader).unwrap();
    let l = cluster.managers.iter().position(|m| m.hostname == leader).unwrap();
    (f, l)
}

/// A manager with lost raft state runs as a worker, the others keep
/// going, and demote then promote makes it a manager again.
fn lost_then_back(cluster: &mut Cluster, f: usize, l: usize, cause: &str) {
    let node = &cluster.managers[f];
    wait_until(WAIT, "the lost state reported", || node.log().contains("lost its raft state"));
    assert!(node.log().contains(cause), "{}", node.log());
    wait_until(WAIT, "the node answers as a worker", || {
        String::from_utf8_lossy(&node.shoal(&["node", "ls"]).stderr).contains("not a cluster manager")
    });
    let leader = &cluster.managers[l];
    assert!(leader.create_empty("while-lost"), "the others keep a quorum");
    let hostname = node.hostname.clone();
    wait_until(WAIT, "the lost manager Unreachable", || {
        leader
            .ok(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"])
            .contains(&format!("{hostname} Unreachable"))
    });
    for m in &cluster.managers {
        assert!(!m.log().contains("panicked"), "{}: {}", m.hostname, m.log());
    }
    leader.ok(&["node", "demote", &hostname]);
    wait_until(WAIT, "demoted", || {
        leader.ok(&["node", "inspect", "--format", "{{json .ManagerStatus}}", &hostname]).trim() == "null"
    });
    leader.ok(&["node", "promote", &hostname]);
    wait_until(WAIT, "a manager again, with the cluster's state", || {
        let out = node.shoal(&["service", "ls", "--format", "{{.Name}}"]);
        String::from_utf8_lossy(&out.stdout).lines().any(|l| l == "while-lost")
    });
    wait_until(WAIT, "three managers, one leader", || {
        let statuses = leader.ok(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
        statuses.lines().filter(|l| *l == "Reachable").count() == 2 && statuses.lines().any(|l| l == "Leader")
    });
}

#[test]
fn a_manager_whose_raft_folder_was_wiped_comes_back_only_as_a_new_member() {
    let mut cluster = Cluster::new(3, 0);
    let (f, l) = follower(&cluster);
    assert!(cluster.managers[l].create_empty("before"));
    cluster.managers[f].kill9();
    std::fs::remove_dir_all(cluster.managers[f].data_dir().join("raft")).unwrap();
    cluster.managers[f].restart();
    lost_then_back(&mut cluster, f, l, "no raft database there any more");
}

#[test]
fn a_manager_whose_raft_log_is_corrupt_comes_back_only_as_a_new_member() {
    let mut cluster = Cluster::new(3, 0);
    let (f, l) = follower(&cluster);
    for i in 0..40 {
        assert!(cluster.managers[l].create_empty(&format!("s{i}")));
    }
    let raft = cluster.managers[f].data_dir().join("raft");
    wait_until(WAIT, "the follower applied every write", || {
        cluster.managers[f].ok(&["service", "ls", "-q"]).lines().count() == 40
    });
    cluster.managers[f].kill9();
    // Bytes flipped inside the write-ahead log, well before its end.
    let log = files(&raft, ".log").into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut bytes = std::fs::read(&log).unwrap();
    assert!(bytes.len() > 4096, "a log with records: {} bytes", bytes.len());
    for at in [bytes.len() / 3, bytes.len() / 2] {
        for b in &mut bytes[at..at + 16] {
            *b ^= 0x5a;
        }
    }
    std::fs::write(&log, bytes).unwrap();
    cluster.managers[f].restart();
    lost_then_back(&mut cluster, f, l, "corrupt");
}
