//! A cluster stopped for longer than its certificates live: the manager
//! comes back by itself (it issues itself a new certificate from the CA
//! its store holds), the worker says what to do, and re-joins with a
//! token keeping its identity and its tasks.

mod common;

use std::time::{Duration, SystemTime};

use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(40);

#[test]
fn nodes_down_past_their_certificates_come_back() {
    let mut manager = Node::init_with("manager-1", &["--cert-expiry", "10s"]);
    let (token, addr) = manager.join_token("worker");
    let mut worker = Node::start_on("worker-1", "127.0.0.1");
    worker.ok(&["node", "join", "--token", &token, &addr]);
    manager.ok(&["service", "create", "--name", "web", "--mode", "global", "sleep", "1000"]);
    wait_until(WAIT, "a task on each node", || manager.replicas("web") == "2/2");
    let nodes = manager.ok(&["node", "ls", "-q"]);

    manager.kill9();
    worker.kill9();
    let expiry = [&manager, &worker].map(|n| n.certificate().validity().unwrap().1).into_iter().max().unwrap();
    // (validity is in whole seconds, the last one included)
    wait_until(WAIT, "both certificates expired", || SystemTime::now() > expiry + Duration::from_secs(2));

    // The manager issues itself a new certificate and takes writes.
    manager.restart();
    wait_until(WAIT, "the manager back", || {
        manager
            .shoal(&["service", "create", "--detach", "--replicas", "0", "--name", "back", "sleep", "9"])
            .status
            .success()
    });
    assert!(manager.log().contains("it issued itself a new one"), "{}", manager.log());
    assert!(SystemTime::now() < manager.certificate().validity().unwrap().1);

    // The worker cannot: its log and the managers' `node ls` say why and what to do.
    worker.restart();
    wait_until(WAIT, "the worker explains", || worker.log().contains("this node's certificate expired at"));
    assert!(worker.log().contains("shoal node join --token"), "{}", worker.log());
    wait_until(WAIT, "the worker Down, and why", || {
        let out = manager.shoal(&["node", "ls"]);
        String::from_utf8_lossy(&out.stderr).contains("node worker-1: its certificate expired at")
    });
    let message = manager.ok(&["node", "inspect", "--format", "{{.Status.Message}}", "worker-1"]);
    assert!(message.contains("its certificate expired"), "{message}");

    // A bad token changes nothing; the worker token brings it back, as itself.
    let forged = format!("{}{}", &token[..token.len() - 25], "a".repeat(25));
    let err = worker.fails(1, &["node", "join", "--token", &forged, &addr]);
    assert!(err.contains("invalid join token"), "{err}");
    let out = worker.ok(&["node", "join", "--token", &token, &addr]);
    assert!(out.contains("joined"), "{out}");
    wait_until(WAIT, "the worker Ready again", || {
        manager.ok(&["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]).contains("worker-1 Ready")
    });
    assert_eq!(manager.ok(&["node", "ls", "-q"]), nodes, "the same nodes, no new one");
    assert!(SystemTime::now() < worker.certificate().validity().unwrap().1);
    wait_until(WAIT, "a task on each node again", || manager.replicas("web") == "2/2");
    // A member whose certificate is valid cannot join again.
    let err = worker.fails(1, &["node", "join", "--token", &token, &addr]);
    assert!(err.contains("already part of a cluster"), "{err}");
}
