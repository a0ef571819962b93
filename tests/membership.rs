//! A cluster of several daemons, each on its own 127.0.0.x: joining by
//! token, the same view from every manager, and every way in that must be
//! refused (wrong or rotated tokens, no certificate, another cluster's
//! certificate, a worker's certificate on manager services).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Cluster, Node, credentials, remote};
use shoal_proto::transport::{self, Credentials, MANAGER_NAME};

#[test]
fn three_managers_and_two_workers_see_the_same_cluster() {
    let cluster = Cluster::new(3, 2);
    let mut views = Vec::new();
    for m in &cluster.managers {
        let rows = m.json_lines(&["node", "ls", "--format", "json"]);
        assert_eq!(rows.len(), 5, "{rows:?}");
        let leaders: Vec<&str> =
            rows.iter().filter(|r| r["ManagerStatus"] == "Leader").map(|r| r["Hostname"].as_str().unwrap()).collect();
        assert_eq!(leaders.len(), 1, "one leader: {rows:?}");
        let reachable = rows.iter().filter(|r| r["ManagerStatus"] == "Reachable").count();
        assert_eq!(reachable, 2, "{rows:?}");
        let me: Vec<&str> =
            rows.iter().filter(|r| r["Self"] == true).map(|r| r["Hostname"].as_str().unwrap()).collect();
        assert_eq!(me, [m.hostname.as_str()]);
        let view: BTreeSet<(String, String, String)> = rows
            .iter()
            .map(|r| (r["ID"].to_string(), r["Hostname"].to_string(), r["ManagerStatus"].to_string()))
            .collect();
        views.push(view);
    }
    assert!(views.windows(2).all(|w| w[0] == w[1]), "every manager shows the same nodes: {views:?}");

    // Any manager takes writes (a follower forwards them to the leader),
    // and the tasks land on every node.
    let follower = cluster.managers.iter().find(|m| m.hostname != cluster.leader().hostname).unwrap();
    follower.ok(&["service", "create", "--name", "web", "--replicas", "5", "sleep", "1000"]);
    common::wait_until(std::time::Duration::from_secs(30), "5 running tasks on 5 nodes", || {
        let nodes: BTreeSet<String> = follower
            .ok(&["service", "ps", "--format", "{{.Node}} {{.CurrentState}}", "web"])
            .lines()
            .filter(|l| l.contains("Running"))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect();
        nodes.len() == 5
    });
    for m in &cluster.managers {
        assert_eq!(m.replicas("web"), "5/5");
    }
    // Workers are not managers.
    let err = cluster.workers[0].fails(1, &["node", "ls"]);
    assert!(err.contains("not a cluster manager"), "{err}");
}

fn node_ids(node: &Node) -> BTreeSet<String> {
    node.ok(&["node", "ls", "-q"]).lines().map(str::to_string).collect()
}

#[test]
fn bad_tokens_and_foreign_certificates_are_refused() {
    let cluster = Cluster::new(1, 1);
    let (manager, worker) = (&cluster.managers[0], &cluster.workers[0]);
    let before = node_ids(manager);
    let (token, addr) = manager.join_token("worker");
    let newcomer = Node::start_on("newcomer", "127.0.0.1");

    // A token of the right cluster with a wrong secret.
    let forged = format!("{}{}", &token[..token.len() - 25], "a".repeat(25));
    let err = newcomer.fails(1, &["node", "join", "--token", &forged, &addr]);
    assert!(err.contains("invalid join token"), "{err}");
    let err = newcomer.fails(1, &["node", "join", "--token", "SHOAL-nonsense", &addr]);
    assert!(err.contains("--token: expected a join token"), "{err}");

    // Another cluster's token, and this cluster's manager.
    let other = Node::init("other");
    let (other_token, other_addr) = other.join_token("worker");
    let err = newcomer.fails(1, &["node", "join", "--token", &other_token, &addr]);
    assert!(err.contains("belongs to another cluster"), "{err}");

    // A rotated token.
    manager.ok(&["node", "join-token", "--rotate", "worker"]);
    let err = newcomer.fails(1, &["node", "join", "--token", &token, &addr]);
    assert!(err.contains("invalid join token: it was rotated"), "{err}");
    assert_eq!(node_ids(manager), before, "refused joins add no node");
    let err = newcomer.fails(1, &["service", "ls"]);
    assert!(err.contains("not a cluster manager"), "the newcomer stays standalone: {err}");

    // The admin certificate works from "another machine"; a worker's or
    // another cluster's does not.
    let admin = manager.certs().join("admin");
    let out = remote(&addr, &admin, &["node", "ls", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let out = remote(&addr, &worker.certs(), &["service", "create", "--name", "x", "sleep", "9"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a worker certificate cannot call this service"), "{err}");
    let out = remote(&addr, &other.certs().join("admin"), &["node", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the manager") && err.contains("certificate"), "{err}");
    let out = remote(&other_addr, &admin, &["node", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    let out = remote(&addr, Path::new("/nonexistent"), &["node", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the admin certificates"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ca = credentials(&manager.certs()).ca();
        // No client certificate at all.
        let channel = transport::pinned_channel(&addr, &ca, MANAGER_NAME).unwrap();
        let err = shoal_proto::control_client::ControlClient::new(channel)
            .list_nodes(shoal_proto::ListNodesRequest {})
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err}");
        assert!(err.message().contains("a certificate of this cluster is required"), "{err}");

        // A certificate from another CA, presented to a server it trusts.
        let foreign = credentials(&other.certs().join("admin"));
        let forged = Credentials::new(ca.clone(), foreign.cert(), foreign.key_der()).unwrap();
        let channel = transport::channel(&addr, &forged, MANAGER_NAME).unwrap();
        let result =
            shoal_proto::control_client::ControlClient::new(channel).list_nodes(shoal_proto::ListNodesRequest {}).await;
        assert!(result.is_err(), "a foreign certificate must not get in");

        // A worker's certificate on raft.
        let channel = transport::channel(&addr, &credentials(&worker.certs()), MANAGER_NAME).unwrap();
        let err = shoal_proto::raft_client::RaftClient::new(channel)
            .vote(shoal_proto::RaftPayload::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err}");
        assert!(err.message().contains("a worker certificate cannot call this service"), "{err}");
    });
    assert_eq!(node_ids(manager), before, "nothing changed");
    assert_eq!(manager.ok(&["service", "ls", "-q"]), "");

    // The new token works, here with a listen address of the join's own.
    let (token, addr) = manager.join_token("worker");
    let err = newcomer.fails(1, &["node", "join", "--token", &token, "--listen-addr", "nowhere", &addr]);
    assert!(err.contains("--listen-addr: expected IP:PORT"), "{err}");
    newcomer.ok(&["node", "join", "--token", &token, "--listen-addr", "127.0.0.9:0", &addr]);
    assert_eq!(node_ids(manager).len(), 3);
    let ip = manager.ok(&["node", "inspect", "--format", "{{.Status.Addr}}", "newcomer"]);
    assert_eq!(ip.trim(), "127.0.0.9");
}

#[test]
fn certificates_renew_before_they_expire() {
    let manager = Node::init_with("manager-1", &["--cert-expiry", "20s"]);
    let (token, addr) = manager.join_token("worker");
    let mut worker = Node::start_on("worker-1", "127.0.0.1");
    worker.ok(&["node", "join", "--token", &token, &addr]);
    let read = |n: &Node| std::fs::read(n.certs().join("cert.pem")).unwrap();
    let (first_manager, first_worker) = (read(&manager), read(&worker));
    common::wait_until(std::time::Duration::from_secs(30), "both certificates renewed", || {
        read(&manager) != first_manager && read(&worker) != first_worker
    });
    assert!(manager.log().contains("certificate renewed"));
    // Past the first certificates' expiry, new connections still work:
    // they present the renewed ones.
    let pem_der = |pem_bytes: &[u8]| pem::parse(pem_bytes).unwrap().into_contents();
    let key = std::fs::read(worker.certs().join("key.pem")).unwrap();
    let ca = std::fs::read(worker.certs().join("ca.pem")).unwrap();
    let first = Credentials::new(pem_der(&ca), pem_der(&first_worker), pem_der(&key));
    // (the key changed with the renewal: read the expiry from the certificate alone)
    let expiry = first.ok().and_then(|c| c.validity()).map(|(_, until)| until);
    let expiry = expiry.unwrap_or_else(|| std::time::SystemTime::now() + std::time::Duration::from_secs(20));
    common::wait_until(std::time::Duration::from_secs(40), "the first certificates expired", || {
        std::time::SystemTime::now() > expiry
    });
    let sessions = |n: &Node| n.log().matches("session opened").count();
    let before = sessions(&worker);
    worker.restart();
    common::wait_until(std::time::Duration::from_secs(30), "a new session on new connections", || {
        sessions(&worker) > before
            && manager.ok(&["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]).contains("worker-1 Ready")
    });
    let err = manager.fails(1, &["cluster", "update", "--cert-expiry", "5s"]);
    assert!(err.contains("--cert-expiry: expected at least 10s"), "{err}");
}
