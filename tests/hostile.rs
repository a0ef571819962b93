//! Hostile peers and stale certificates: a forged membership call cannot
//! wedge the cluster, a demoted manager keeps no manager rights with its
//! old certificate, and a revoked admin certificate opens nothing.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Cluster, Node, credentials, remote, wait_until};
use shoal_proto::membership_client::MembershipClient;
use shoal_proto::transport::{self, Credentials, MANAGER_NAME};
use shoal_proto::{AddManagerRequest, RenewCertificateRequest};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(30);

/// A copy of the node's certificate bundle as it is now.
fn copy_certs(node: &Node, to: &Path) -> PathBuf {
    let dir = to.join(&node.hostname);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(node.certs().join(name), dir.join(name)).unwrap();
    }
    dir
}

async fn add_manager(addr: &str, creds: &Credentials, req: AddManagerRequest) -> tonic::Status {
    let channel = transport::channel(addr, creds, MANAGER_NAME).unwrap();
    MembershipClient::new(channel).add_manager(req).await.expect_err("a forged membership change must be refused")
}

/// A write answers within a few seconds (a wedged raft never answers).
fn writes_work(node: &Node, name: &str) {
    let out = node
        .shoal_within(
            Duration::from_secs(20),
            &["service", "create", "--detach", "--replicas", "0", "--name", name, "sleep", "9"],
        )
        .unwrap_or_else(|| panic!("a write hung: the cluster is wedged"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_forged_membership_call_cannot_wedge_the_cluster() {
    let cluster = Cluster::new(3, 0);
    let leader = cluster.leader();
    let member = cluster.managers.iter().find(|m| m.hostname != leader.hostname).unwrap();
    let creds = credentials(&member.certs());
    let (member_id, member_addr) = (member.id(), member.endpoint());
    let endpoints: Vec<String> = cluster.managers.iter().map(Node::endpoint).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for addr in &endpoints {
            // The empty request that once added voter 0 at "".
            let err = add_manager(addr, &creds, AddManagerRequest::default()).await;
            let leads = *addr == leader.endpoint();
            let expected = if leads { Code::PermissionDenied } else { Code::Unavailable };
            assert_eq!(err.code(), expected, "{addr}: {err}");
            if !leads {
                assert!(err.message().contains("not the raft leader: ask the leader at"), "{err}");
            }
        }
        let leader_addr = leader.endpoint();
        let own = |raft_id: u64, addr: &str| AddManagerRequest {
            raft_id,
            addr: addr.to_string(),
            node_id: member_id.clone(),
        };
        let err = add_manager(&leader_addr, &creds, own(0, &member_addr)).await;
        assert_eq!(err.message(), "raft_id: expected a non-zero raft id, got 0");
        let err = add_manager(&leader_addr, &creds, own(77, "127.0.0.1:1")).await;
        assert!(err.message().contains("is recorded at"), "{err}");
        // A second raft id for a node that is a raft member already.
        let err = add_manager(&leader_addr, &creds, own(77, &member_addr)).await;
        assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
        // Another node's identity.
        let req = AddManagerRequest { node_id: leader.id(), ..own(78, &member_addr) };
        let err = add_manager(&leader_addr, &creds, req).await;
        assert!(err.message().contains("a node adds only itself"), "{err}");
    });
    writes_work(leader, "after");
    writes_work(member, "through-a-follower");
    let statuses = leader.ok(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
    assert_eq!(statuses.lines().filter(|l| !l.is_empty()).count(), 3, "still three managers: {statuses}");
}

#[test]
fn a_demoted_manager_keeps_no_manager_rights() {
    let cluster = Cluster::new(3, 0);
    let leader = cluster.leader();
    let demoted = cluster.managers.iter().find(|m| m.hostname != leader.hostname).unwrap();
    let keep = tempfile::tempdir().unwrap();
    let old = copy_certs(demoted, keep.path());
    let (demoted_id, demoted_addr) = (demoted.id(), demoted.endpoint());
    let leader_addr = leader.endpoint();
    leader.ok(&["node", "demote", &demoted.hostname]);
    wait_until(WAIT, "the demoted node a worker with a worker certificate", || {
        let status = leader.ok(&["node", "inspect", "--format", "{{json .ManagerStatus}}", &demoted.hostname]);
        let renewed =
            std::fs::read(demoted.certs().join("cert.pem")).unwrap() != std::fs::read(old.join("cert.pem")).unwrap();
        status.trim() == "null" && renewed
    });
    assert_eq!(credentials(&demoted.certs()).identity().role, transport::Role::Worker);

    // The old manager certificate, kept by a hostile node, opens nothing.
    let void = "is no longer a manager: its manager certificate is void";
    for args in [
        &["service", "create", "--detach", "--name", "evil", "sleep", "9"][..],
        &["node", "join-token", "manager"],
        &["node", "rm", "--force", &leader.hostname],
        &["node", "ls"],
    ] {
        let out = remote(&leader_addr, &old, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(void), "{args:?}: {err}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let creds = credentials(&old);
        let req = AddManagerRequest { raft_id: 99, addr: demoted_addr.clone(), node_id: demoted_id.clone() };
        let err = add_manager(&leader_addr, &creds, req).await;
        assert!(err.message().contains(void), "{err}");
        let channel = transport::channel(&leader_addr, &creds, MANAGER_NAME).unwrap();
        let err = shoal_proto::raft_client::RaftClient::new(channel)
            .vote(shoal_proto::RaftPayload::default())
            .await
            .unwrap_err();
        assert!(err.message().contains(void), "{err}");
        // Nor does it read the other nodes' task output.
        let channel = transport::channel(&leader_addr, &creds, transport::NODE_NAME).unwrap();
        let mut logs = shoal_proto::logs_client::LogsClient::new(channel);
        let err = logs.task_logs(shoal_proto::TaskLogsRequest::default()).await.unwrap_err();
        assert!(err.message().contains(void), "{err}");
        // Renewing it gives a worker certificate, nothing more.
        let (csr, key) = shoal_manager::ca::request().unwrap();
        let channel = transport::channel(&leader_addr, &creds, MANAGER_NAME).unwrap();
        let issued = shoal_proto::node_ca_client::NodeCaClient::new(channel)
            .renew_certificate(RenewCertificateRequest { csr })
            .await
            .unwrap()
            .into_inner();
        let renewed = Credentials::new(issued.ca_cert, issued.cert, key).unwrap();
        assert_eq!(renewed.identity().role, transport::Role::Worker);
    });
    assert_eq!(leader.ok(&["service", "ls", "-q"]), "", "nothing was created");
    assert_eq!(leader.ok(&["node", "ls", "-q"]).lines().count(), 3, "nothing was removed");
}

#[test]
fn admin_certificates_are_listed_made_and_revoked() {
    let manager = Node::init("manager-1");
    let addr = manager.endpoint();
    let first = manager.certs().join("admin");
    let listed = manager.ok(&["cluster", "admin", "ls", "-q"]);
    assert_eq!(listed.lines().count(), 1, "init's own: {listed}");
    let first_id = listed.trim().to_string();
    assert_eq!(credentials(&first).identity().node_id, first_id);

    let scratch = tempfile::tempdir().unwrap();
    let bundle = scratch.path().join("ops");
    let id = manager.ok(&["cluster", "admin", "create", "--out", bundle.to_str().unwrap(), "--expiry", "24h"]);
    let id = id.trim();
    assert!(id.starts_with("admin-") && id != first_id, "{id}");
    let out = remote(&addr, &bundle, &["node", "ls", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = manager.json_lines(&["cluster", "admin", "ls", "--format", "json"]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["Status"] == "Active"), "{rows:?}");

    // Revoked by a unique prefix: refused by every call, and renewal too.
    manager.ok(&["cluster", "admin", "revoke", &id[..10]]);
    let out = remote(&addr, &bundle, &["node", "ls"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("admin certificate {id} was revoked")), "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(async {
        let (csr, _) = shoal_manager::ca::request().unwrap();
        let channel = transport::channel(&addr, &credentials(&bundle), MANAGER_NAME).unwrap();
        shoal_proto::node_ca_client::NodeCaClient::new(channel)
            .renew_certificate(RenewCertificateRequest { csr })
            .await
            .unwrap_err()
    });
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    let status = manager.ok(&["cluster", "admin", "ls", "--format", "{{.ID}} {{.Status}}"]);
    assert!(status.lines().any(|l| l.starts_with(&format!("{id} Revoked"))), "{status}");
    let out = remote(&addr, &first, &["node", "ls", "-q"]);
    assert!(out.status.success(), "the other certificate still works");

    // Bad input changes nothing.
    let err = manager.fails(1, &["cluster", "admin", "revoke", "admin-nope"]);
    assert!(err.contains("no such admin certificate: admin-nope"), "{err}");
    let err = manager.fails(1, &["cluster", "admin", "create", "--out", bundle.to_str().unwrap()]);
    assert!(err.contains("holds a key already"), "{err}");
    let other = scratch.path().join("other");
    let err = manager.fails(1, &["cluster", "admin", "create", "--out", other.to_str().unwrap(), "--expiry", "1s"]);
    assert!(err.contains("--expiry: expected between"), "{err}");
    assert!(!other.exists());
    let err = manager.fails(2, &["cluster", "admin", "create", "--out", "x", "--expiry", "soon"]);
    assert!(err.contains("--expiry"), "{err}");
    assert_eq!(manager.ok(&["cluster", "admin", "ls", "-q"]).lines().count(), 2);
}
