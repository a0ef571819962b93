//! What a task sees of the map: the services on its networks, whose
//! VIPs a table in its own namespace balances, and the nodes whose mesh
//! connections it answers through them ([`crate::task_table`]).
//! The data path keeps one [`LocalTask`] per task namespace it made.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use shoal_proto::{NetworkMap, ServiceEntry};

use crate::overlay::task_ifname;
use crate::task_table::ReturnPaths;

/// A task namespace of this node.
#[derive(Debug)]
pub struct LocalTask {
    pub netns: PathBuf,
    /// The networks it joins.
    pub networks: Vec<String>,
    /// Its table as last written.
    pub script: Option<String>,
    /// Its return paths as last set (`None`: not known, none set since
    /// the daemon started).
    pub back: Option<ReturnPaths>,
    /// Its DNS responder.
    pub dns: Option<tokio::task::JoinHandle<()>>,
}

/// The services on the given networks, by network id, as the map says.
pub fn entries<'a>(map: &'a NetworkMap, networks: &[String]) -> Vec<&'a ServiceEntry> {
    map.networks
        .iter()
        .filter(|n| n.network.as_ref().is_some_and(|net| networks.contains(&net.id)))
        .flat_map(|n| n.services.iter())
        .collect()
}

/// Each VIP of those services with the tasks behind it.
pub fn vips(entries: &[&ServiceEntry]) -> Vec<(Ipv4Addr, Vec<Ipv4Addr>)> {
    let mut out: BTreeMap<Ipv4Addr, Vec<Ipv4Addr>> = BTreeMap::new();
    for e in entries {
        if let Some(vip) = host(&e.vip) {
            out.insert(vip, e.tasks.iter().filter_map(|t| host(t)).collect());
        }
    }
    out.into_iter().collect()
}

/// For a task on the ingress network (`networks` in the order of its
/// interfaces): its interface there and the other nodes whose mesh may
/// send it connections.
pub fn return_paths(map: &NetworkMap, networks: &[String]) -> Option<ReturnPaths> {
    networks.iter().enumerate().find_map(|(i, id)| {
        let ingress = map.networks.iter().find(|n| {
            n.network.as_ref().is_some_and(|net| net.id == *id && net.spec.as_ref().is_some_and(|s| s.ingress))
        })?;
        // Peers without a task are the other nodes' own addresses.
        let nodes = ingress.peers.iter().filter(|p| p.task_id.is_empty()).filter_map(|p| host(&p.addr)).collect();
        Some(ReturnPaths { ifname: task_ifname(i), nodes })
    })
}

/// "10.0.1.5/24" -> 10.0.1.5.
pub fn host(cidr: &str) -> Option<Ipv4Addr> {
    cidr.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Network, NetworkPeers, NetworkSpec, Peer};

    use super::*;

    #[test]
    fn a_task_sees_the_services_of_its_own_networks() {
        let entry = |name: &str, vip: &str, tasks: &[&str]| ServiceEntry {
            name: name.into(),
            aliases: vec![],
            vip: vip.into(),
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        };
        let network = |id: &str, services| NetworkPeers {
            network: Some(Network { id: id.into(), ..Default::default() }),
            peers: vec![],
            services,
        };
        let map = NetworkMap {
            networks: vec![
                network(
                    "n1",
                    vec![
                        entry("web", "10.0.1.2/24", &["10.0.1.3/24", "10.0.1.4/24"]),
                        entry("rr", "", &["10.0.1.5/24"]),
                    ],
                ),
                network("n2", vec![entry("db", "10.0.2.2/24", &["10.0.2.3/24"])]),
            ],
            ..Default::default()
        };
        let seen = entries(&map, &["n1".into()]);
        assert_eq!(seen.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["web", "rr"]);
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(vips(&seen), vec![(ip("10.0.1.2"), vec![ip("10.0.1.3"), ip("10.0.1.4")])]);
        assert_eq!(host("x"), None);
    }

    #[test]
    fn a_task_on_ingress_answers_the_other_nodes_through_its_interface_there() {
        let peer = |task: &str, addr: &str| Peer { task_id: task.into(), addr: addr.into(), node_addr: "x".into() };
        let ingress = NetworkPeers {
            network: Some(Network {
                id: "in".into(),
                spec: Some(NetworkSpec { ingress: true, ..Default::default() }),
                ..Default::default()
            }),
            peers: vec![peer("", "10.0.0.4/24"), peer("t2", "10.0.0.9/24"), peer("", "10.0.0.5/24")],
            services: vec![],
        };
        let map = NetworkMap { networks: vec![ingress], ..Default::default() };
        let back = return_paths(&map, &["n1".into(), "in".into()]).unwrap();
        assert_eq!(back.ifname, "eth1");
        let nodes: Vec<String> = back.nodes.iter().map(|n| n.to_string()).collect();
        assert_eq!(nodes, ["10.0.0.4", "10.0.0.5"], "nodes only, not tasks");
        assert_eq!(return_paths(&map, &["n1".into()]), None, "not on ingress");
    }
}
