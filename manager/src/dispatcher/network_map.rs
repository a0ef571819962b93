//! The network map a node's data path is wired from: each network one of
//! its tasks joins, with the address and node of every task of that
//! network elsewhere (the VXLAN neighbour and forwarding entries).

use std::collections::BTreeMap;

use shoal_proto::{NetworkMap, NetworkPeers, Peer, Task, store_object::Object};

use crate::allocator::holds_addresses;
use crate::store::{Change, MemoryStore};

/// The VXLAN UDP port unless the cluster says otherwise (IANA's).
pub const DEFAULT_DATA_PATH_PORT: u32 = 4789;

/// The map for node `node_id`.
pub fn for_node(store: &MemoryStore, node_id: &str) -> NetworkMap {
    let live = |t: &&Task| holds_addresses(t) && !t.node_id.is_empty();
    let mut joined: BTreeMap<&str, Vec<Peer>> = store
        .tasks_of_node(node_id)
        .filter(live)
        .flat_map(|t| t.networks.iter().map(|n| (n.network_id.as_str(), Vec::new())))
        .collect();
    // One pass over the tasks elsewhere, each filed under the joined
    // networks it is on.
    for task in store.tasks().filter(live).filter(|t| t.node_id != node_id) {
        for attachment in &task.networks {
            if let (Some(peers), Some(addr)) =
                (joined.get_mut(attachment.network_id.as_str()), attachment.addresses.first())
                && let Some(node_addr) = node_addr(store, &task.node_id)
            {
                peers.push(Peer { task_id: task.id.clone(), addr: addr.clone(), node_addr });
            }
        }
    }
    let networks = joined
        .into_iter()
        .filter_map(|(id, mut peers)| {
            peers.sort_by(|a, b| a.addr.cmp(&b.addr));
            Some(NetworkPeers { network: Some(store.network(id)?.clone()), peers })
        })
        .collect();
    NetworkMap { data_path_port: data_path_port(store), networks }
}

/// The cluster's VXLAN port.
pub fn data_path_port(store: &MemoryStore) -> u32 {
    let port = store.cluster().and_then(|c| c.spec.as_ref()).map_or(0, |s| s.data_path_port);
    if port == 0 { DEFAULT_DATA_PATH_PORT } else { port }
}

/// A node's data-path address: the host part of its advertised address.
fn node_addr(store: &MemoryStore, node_id: &str) -> Option<String> {
    let addr = &store.node(node_id)?.status.as_ref()?.addr;
    let host = addr.parse::<std::net::SocketAddr>().map(|a| a.ip().to_string()).unwrap_or_else(|_| addr.clone());
    (!host.is_empty()).then_some(host)
}

/// Whether a change can change some node's map: a task that joins
/// networks, a network, a node (its address).
pub fn matters(change: &Change) -> bool {
    match change.object() {
        Object::Task(t) => !t.networks.is_empty(),
        Object::Network(_) | Object::Node(_) => true,
        Object::Cluster(_) | Object::Service(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use shoal_proto::{
        Annotations, Batch, NetworkAttachmentConfig, NetworkSpec, Node, NodeStatus, TaskSpec, TaskState, TaskStatus,
    };

    use super::*;
    use crate::ops;

    fn task(id: &str, node: &str, network: &str) -> Object {
        let spec = TaskSpec {
            networks: vec![NetworkAttachmentConfig { target: network.into(), aliases: vec![] }],
            ..Default::default()
        };
        Object::Task(Task { id: id.into(), node_id: node.into(), spec: Some(spec), ..Default::default() })
    }

    fn node(id: &str, addr: &str) -> Object {
        Object::Node(Node {
            id: id.into(),
            status: Some(NodeStatus { addr: addr.into(), ..Default::default() }),
            ..Default::default()
        })
    }

    #[test]
    fn a_node_gets_its_networks_with_the_tasks_elsewhere() {
        let mut store = MemoryStore::default();
        let network = |id: &str| {
            let spec = NetworkSpec {
                annotations: Some(Annotations { name: id.into(), ..Default::default() }),
                ..Default::default()
            };
            ops::create(Object::Network(shoal_proto::Network { id: id.into(), spec: Some(spec), ..Default::default() }))
        };
        let mut batch = vec![network("n1"), network("n2")];
        batch.extend(
            [node("a", "10.1.0.1:4242"), node("b", "10.1.0.2:4242"), node("c", "10.1.0.3:4242")].map(ops::create),
        );
        batch.extend(
            [task("t1", "", "n1"), task("t2", "", "n1"), task("t3", "", "n2"), task("t4", "", "n1")].map(ops::create),
        );
        for (t, n) in [("t1", "a"), ("t2", "b"), ("t3", "c"), ("t4", "c")] {
            batch.push(ops::task_assign(t, n, ""));
        }
        store.apply(1, Batch { ops: batch, timestamp: 1 }).unwrap();

        let map = for_node(&store, "a");
        assert_eq!(map.data_path_port, 4789);
        assert_eq!(map.networks.len(), 1, "a only has a task on n1");
        let peers: Vec<(&str, &str, &str)> =
            map.networks[0].peers.iter().map(|p| (p.task_id.as_str(), p.addr.as_str(), p.node_addr.as_str())).collect();
        assert_eq!(peers, [("t2", "10.0.0.3/24", "10.1.0.2"), ("t4", "10.0.0.4/24", "10.1.0.3")]);
        assert_eq!(for_node(&store, "c").networks.len(), 2);

        // A stopped task is no longer anyone's peer.
        let failed = TaskStatus { state: TaskState::Failed as i32, ..Default::default() };
        store.apply(2, Batch { ops: vec![ops::task_status("t2", failed)], timestamp: 2 }).unwrap();
        assert_eq!(for_node(&store, "a").networks[0].peers.len(), 1);
        assert!(for_node(&store, "b").networks.is_empty());

        // The cluster's port, once it says one.
        let spec = shoal_proto::ClusterSpec { data_path_port: 7789, ..Default::default() };
        let cluster = shoal_proto::Cluster { id: "c".into(), spec: Some(spec), ..Default::default() };
        store.apply(3, Batch { ops: vec![ops::create(Object::Cluster(cluster))], timestamp: 3 }).unwrap();
        assert_eq!(for_node(&store, "a").data_path_port, 7789);
    }
}
