//! A manager whose disk fills: its raft stops, it says why and steps
//! aside (the others elect and keep taking writes), and once space is
//! freed it restarts its raft and catches up, with no acknowledged write
//! lost anywhere.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// Fills the file system of `dir` with one file; returns its path.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    path
}

#[test]
fn a_manager_whose_disk_fills_steps_aside_and_comes_back_losing_nothing() {
    let base = 10 + rand::random::<u8>() % 200;
    let ip = |i: u8| format!("127.0.{base}.{i}");
    let first = Node::start_on("manager-1", &ip(1));
    first.ok(&["node", "init"]);
    let second = Node::join("manager-2", &ip(2), &first, "manager");
    let full = Node::start_on_tmpfs("manager-3", &ip(3), 48);
    let (token, addr) = first.join_token("manager");
    full.ok(&["node", "join", "--token", &token, &addr]);
    let managers = [&first, &second, &full];
    wait_until(WAIT, "three managers", || {
        let statuses = first.ok(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
        statuses.lines().filter(|l| *l == "Reachable").count() == 2 && statuses.contains("Leader")
    });
    let mut acknowledged = BTreeSet::new();
    for i in 0..5 {
        assert!(first.create_empty(&format!("before{i}")));
        acknowledged.insert(format!("before{i}"));
    }
    wait_until(WAIT, "manager-3 caught up", || full.services() == acknowledged);

    let filler = fill(&full.data_dir());
    // Writes go on through the others (after an election if manager-3
    // led), and manager-3's raft stops on its first write to the disk.
    for i in 0..20 {
        let name = format!("during{i}");
        let healthy = if i % 2 == 0 { &first } else { &second };
        wait_until(WAIT, "a write through a healthy manager", || healthy.create_empty(&name));
        acknowledged.insert(name);
    }
    wait_until(WAIT, "manager-3 says its raft stopped", || full.log().contains("this manager's raft stopped"));
    let err = full.fails(1, &["service", "create", "--detach", "--name", "x", "sleep", "9"]);
    assert!(err.contains("this manager's raft stopped") && err.contains("No space left"), "{err}");
    wait_until(WAIT, "the others count manager-3 out", || {
        first.ok(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]).contains("manager-3 Unreachable")
    });

    // Space again: its raft restarts and catches up.
    std::fs::remove_file(&filler).unwrap();
    wait_until(WAIT, "manager-3's raft running again", || full.log().contains("this manager's raft runs again"));
    wait_until(WAIT, "manager-3 Reachable again", || {
        let statuses = first.ok(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
        statuses.lines().any(|l| l.starts_with("manager-3 ") && (l.ends_with("Reachable") || l.ends_with("Leader")))
    });
    assert!(full.create_empty("after"), "manager-3 takes writes again");
    acknowledged.insert("after".into());
    for m in managers {
        wait_until(WAIT, &format!("every acknowledged write on {}", m.hostname), || m.services() == acknowledged);
    }
    for m in managers {
        assert!(!m.log().contains("panicked"), "{}", m.hostname);
    }
}
