//! What a task sees of the services on its networks: their VIPs,
//! balanced by a table in its own namespace ([`crate::mesh::vip_script`]).
//! The data path keeps one [`LocalTask`] per task namespace it made.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use shoal_proto::{NetworkMap, ServiceEntry};

/// A task namespace of this node.
#[derive(Debug)]
pub struct LocalTask {
    pub netns: PathBuf,
    /// The networks it joins.
    pub networks: Vec<String>,
    /// Its VIP table as last written.
    pub vip_script: Option<String>,
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

/// "10.0.1.5/24" -> 10.0.1.5.
pub fn host(cidr: &str) -> Option<Ipv4Addr> {
    cidr.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Network, NetworkPeers};

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
}
