//! A one-node cluster: init, node listing and inspection, and what a
//! standalone daemon or a missing daemon answers.

mod common;

use common::Node;

#[test]
fn init_makes_one_ready_active_leader() {
    let node = Node::init("node-a");
    let out = node.ok(&["node", "ls"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("MANAGER STATUS"), "{out}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[1..], ["*", "node-a", "Ready", "Active", "Leader", env!("CARGO_PKG_VERSION")], "{out}");

    let json = node.json_lines(&["node", "ls", "--format", "json"]);
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["Hostname"], "node-a");
    assert_eq!(json[0]["Self"], true);
    assert_eq!(json[0]["ManagerStatus"], "Leader");

    let id = node.ok(&["node", "ls", "-q"]).trim().to_string();
    assert_eq!(id.len(), 25);
    // Nodes are found by id, id prefix or hostname.
    for reference in [id.as_str(), &id[..5], "node-a", "self"] {
        let inspected = node.json_lines(&["node", "inspect", "--format", "json", reference]);
        assert_eq!(inspected[0]["ID"], id.as_str());
        assert_eq!(inspected[0]["Spec"]["Role"], "manager");
        assert_eq!(inspected[0]["Status"]["State"], "ready");
        assert_eq!(inspected[0]["ManagerStatus"]["Leader"], true);
    }
    assert_eq!(node.ok(&["node", "inspect", "--format", "{{.Description.Hostname}}", "self"]).trim(), "node-a");
    assert!(node.ok(&["node", "inspect", "--pretty", "node-a"]).contains("Leader:\t\tYes"));
    assert!(node.fails(1, &["node", "inspect", "nope"]).contains("no such node: nope"));
    assert!(node.fails(1, &["node", "init"]).contains("already part of a cluster"));
}

#[test]
fn a_standalone_daemon_is_not_a_manager() {
    let node = Node::start("lonely");
    let err = node.fails(1, &["service", "ls"]);
    assert!(err.contains("not a cluster manager") && err.contains("shoal node init"), "{err}");
}

#[test]
fn no_daemon_means_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/shoal.sock", dir.path().display());
    let out = std::process::Command::new(common::SHOAL).args(["--host", &host, "node", "ls"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot connect to the shoal daemon at {host}: is it running?")), "{err}");
    let out =
        std::process::Command::new(common::SHOAL).args(["--host", "tcp://1.2.3.4:1", "node", "ls"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--host: expected unix://"));
}

#[test]
fn raft_timing_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::SHOAL)
        .args(["daemon", "--raft-heartbeat", "300ms", "--raft-election-timeout", "400ms", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--raft-heartbeat: expected at most half of --raft-election-timeout (400ms), got 300ms"),
        "{err}"
    );
    let out = std::process::Command::new(common::SHOAL)
        .args(["daemon", "--raft-election-timeout", "soon", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--raft-election-timeout"));
}
