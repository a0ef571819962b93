//! Whether a certificate still carries the rights it names.
//!
//! A certificate is valid until it expires (90 days for nodes), but the
//! cluster changes its mind sooner: a node is removed, a manager demoted,
//! an admin certificate revoked. Every service on the node endpoint asks
//! the store, on every call, whether the caller still stands where its
//! certificate says ([`auth::require`](shoal_proto::transport::auth::require)).

use shoal_proto::NodeRole;
use shoal_proto::transport::{Identity, Role};

use crate::store::MemoryStore;

/// The rights a service asks of its callers, beyond their certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rights {
    /// A node of the cluster, not removed (the dispatcher).
    Member,
    /// A manager that is still a raft member: demoted, it keeps answering
    /// raft until the leader has taken it out (raft).
    RaftMember,
    /// A manager now (control calls forwarded by managers, admin
    /// certificates not revoked; membership).
    Manager,
}

/// Ok if `caller` holds `rights` now; else why not.
pub fn check(store: &MemoryStore, caller: &Identity, rights: Rights) -> Result<(), String> {
    let id = &caller.node_id;
    if caller.role == Role::Admin {
        return match store.admin_certificate(id) {
            Some(cert) if cert.revoked_at > 0 => Err(format!("admin certificate {id} was revoked")),
            _ => Ok(()),
        };
    }
    if store.cluster().is_none() {
        // A new manager's empty store: nothing to judge by until the
        // leader's first entries or snapshot (which it must accept).
        return Ok(());
    }
    if store.is_removed(id) {
        return Err(format!("node {id} was removed from the cluster"));
    }
    if rights == Rights::Member || caller.role != Role::Manager {
        return Ok(());
    }
    let node = store.node(id).ok_or_else(|| format!("node {id} is not part of this cluster"))?;
    let manager = node.spec.as_ref().is_some_and(|s| s.desired_role() == NodeRole::Manager);
    let raft_member = node.manager_status.is_some();
    match rights {
        Rights::RaftMember if manager || raft_member => Ok(()),
        Rights::Manager if manager => Ok(()),
        _ => Err(format!("node {id} is no longer a manager: its manager certificate is void")),
    }
}

#[cfg(test)]
mod tests {
    use shoal_proto::{AdminCertificate, Batch, Cluster, ManagerStatus, Node, NodeSpec, store_object::Object};

    use super::*;
    use crate::ops::create;

    fn node(id: &str, desired: NodeRole, raft_member: bool) -> Object {
        Object::Node(Node {
            id: id.into(),
            spec: Some(NodeSpec { desired_role: desired as i32, ..Default::default() }),
            manager_status: raft_member.then(|| ManagerStatus { raft_id: 1, ..Default::default() }),
            ..Default::default()
        })
    }

    #[test]
    fn rights_follow_the_store_not_the_certificate() {
        let admin = |id: &str, revoked_at| AdminCertificate { id: id.into(), revoked_at, ..Default::default() };
        let cluster = Cluster {
            id: "c".into(),
            removed_nodes: vec!["gone".into()],
            admin_certificates: vec![admin("admin-a", 0), admin("admin-b", 5)],
            ..Default::default()
        };
        let mut store = MemoryStore::default();
        let ops = vec![
            create(Object::Cluster(cluster)),
            create(node("manager", NodeRole::Manager, true)),
            create(node("demoting", NodeRole::Worker, true)),
            create(node("demoted", NodeRole::Worker, false)),
        ];
        store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
        let check =
            |id: &str, role: Role, rights: Rights| check(&store, &Identity { node_id: id.into(), role }, rights);

        assert_eq!(check("manager", Role::Manager, Rights::Manager), Ok(()));
        // Demoted: raft still reaches it until the leader takes it out,
        // nothing else does.
        assert_eq!(check("demoting", Role::Manager, Rights::RaftMember), Ok(()));
        let void = Err("node demoting is no longer a manager: its manager certificate is void".to_string());
        assert_eq!(check("demoting", Role::Manager, Rights::Manager), void);
        assert!(check("demoted", Role::Manager, Rights::RaftMember).is_err());
        assert_eq!(check("demoted", Role::Manager, Rights::Member), Ok(()));
        assert_eq!(check("demoted", Role::Worker, Rights::Member), Ok(()));
        assert_eq!(check("gone", Role::Worker, Rights::Member), Err("node gone was removed from the cluster".into()));
        assert_eq!(
            check("stranger", Role::Manager, Rights::Manager),
            Err("node stranger is not part of this cluster".into())
        );
        assert_eq!(check("admin-a", Role::Admin, Rights::Manager), Ok(()));
        assert_eq!(check("admin-b", Role::Admin, Rights::Manager), Err("admin certificate admin-b was revoked".into()));
        // Issued before certificates were listed: in force.
        assert_eq!(check("admin-old", Role::Admin, Rights::Manager), Ok(()));
        // A new manager's empty store takes the leader's certificate.
        let empty = MemoryStore::default();
        let leader = Identity { node_id: "leader".into(), role: Role::Manager };
        assert_eq!(super::check(&empty, &leader, Rights::RaftMember), Ok(()));
    }
}
