//! The network map a node's data path is wired from: each network one of
//! its tasks joins, with the address and node of every task of that
//! network elsewhere (the VXLAN neighbour and forwarding entries); and
//! for the routing mesh, which every node joins once a service publishes
//! a port through it, the node's own ingress address, every mesh port
//! with the tasks to balance over, and the host-mode ports of the
//! node's tasks.

use std::collections::BTreeMap;

use shoal_proto::{
    HostPortBinding, MeshPort, NetworkMap, NetworkPeers, Peer, PortConfig, PublishMode, ServiceEntry, Task, TaskHealth,
    TaskState, store_object::Object,
};

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
    let mesh_ports = mesh_ports(store);
    let ingress = store.ingress_network().map(|n| n.id.as_str());
    let ingress_addr = ingress.and_then(|id| node_ingress_addr(store, node_id, id));
    if let (Some(id), Some(_)) = (ingress, &ingress_addr)
        && !mesh_ports.is_empty()
    {
        joined.entry(id).or_default();
        // The other nodes' own addresses: replies to the mesh traffic they
        // send go back to them.
        for node in store.nodes().filter(|n| n.id != node_id) {
            if let (Some(addr), Some(node_addr)) = (node_ingress_addr(store, &node.id, id), node_addr(store, &node.id))
            {
                joined.entry(id).or_default().push(Peer { task_id: String::new(), addr, node_addr });
            }
        }
    }
    // One pass over the tasks elsewhere, each filed under the joined
    // networks it is on (none to make without a network).
    let elsewhere = if joined.is_empty() { None } else { Some(store.tasks()) };
    for task in elsewhere.into_iter().flatten().filter(live).filter(|t| t.node_id != node_id) {
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
            let services = if Some(id) == ingress { Vec::new() } else { services_on(store, id) };
            Some(NetworkPeers { network: Some(store.network(id)?.clone()), peers, services })
        })
        .collect();
    NetworkMap {
        data_path_port: data_path_port(store),
        networks,
        ingress_addr: ingress_addr.unwrap_or_default(),
        mesh_ports,
        host_ports: host_ports(store, node_id),
    }
}

/// The services on network `id`: names, VIP, the tasks that take
/// connections; and the tasks outside services on it.
fn services_on(store: &MemoryStore, id: &str) -> Vec<ServiceEntry> {
    let mut out: Vec<ServiceEntry> = store
        .services_on_network(id)
        .map(|service| {
            let name = service.name().to_string();
            let spec = service.spec.as_ref();
            let attachment =
                spec.and_then(|s| s.task.as_ref()).and_then(|t| t.networks.iter().find(|n| n.target == id));
            let mut aliases = attachment.map_or(Vec::new(), |a| a.aliases.clone());
            // In a stack, its short name too ("web" of "demo_web").
            let stack = spec.and_then(|s| s.annotations.as_ref()).and_then(|a| a.labels.get(STACK_LABEL));
            if let Some(short) = stack.and_then(|s| name.strip_prefix(&format!("{s}_"))) {
                aliases.push(short.to_string());
            }
            let vip = service.endpoint.as_ref().and_then(|e| e.virtual_ips.iter().find(|v| v.network_id == id));
            let tasks = serving_addresses(store, &service.id, id);
            ServiceEntry { name, aliases, vip: vip.map(|v| v.addr.clone()).unwrap_or_default(), tasks }
        })
        .collect();
    // Tasks outside services (`shoal run`) answer to their name and
    // aliases with their address, as Docker's containers do.
    out.extend(store.tasks_of_service("").filter(|t| takes_connections(t)).filter_map(|task| {
        let addr = task.networks.iter().find(|a| a.network_id == id)?.addresses.first()?.clone();
        let spec = task.spec.as_ref().and_then(|s| s.networks.iter().find(|n| n.target == id));
        let aliases = spec.map_or(Vec::new(), |n| n.aliases.clone());
        Some(ServiceEntry { name: task.service_name.clone(), aliases, vip: String::new(), tasks: vec![addr] })
    }));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The label of the stack a service belongs to.
const STACK_LABEL: &str = "com.docker.stack.namespace";

/// A node's own address on the ingress network.
fn node_ingress_addr(store: &MemoryStore, node_id: &str, ingress: &str) -> Option<String> {
    let node = store.node(node_id)?;
    node.attachments.iter().find(|a| a.network_id == ingress)?.addresses.first().cloned()
}

/// Whether a task takes connections: running, and healthy if it has a
/// health check.
fn takes_connections(task: &Task) -> bool {
    task.desired_state() == TaskState::Running
        && task.status.as_ref().is_some_and(|s| {
            s.state() == TaskState::Running && matches!(s.health(), TaskHealth::None | TaskHealth::Healthy)
        })
}

/// The addresses on network `network_id` of the service's tasks that
/// take connections, sorted.
fn serving_addresses(store: &MemoryStore, service_id: &str, network_id: &str) -> Vec<String> {
    let mut addrs: Vec<String> = store
        .tasks_of_service(service_id)
        .filter(|t| takes_connections(t))
        .filter_map(|t| t.networks.iter().find(|a| a.network_id == network_id)?.addresses.first().cloned())
        .collect();
    addrs.sort();
    addrs
}

/// Every mesh port of every service, with its running, healthy tasks'
/// ingress addresses.
fn mesh_ports(store: &MemoryStore) -> Vec<MeshPort> {
    let Some(ingress) = store.ingress_network() else { return Vec::new() };
    let mut out = Vec::new();
    for service in store.services() {
        let Some(endpoint) = &service.endpoint else { continue };
        let ports: Vec<&PortConfig> =
            endpoint.ports.iter().filter(|p| p.publish_mode() == PublishMode::Ingress).collect();
        if ports.is_empty() {
            continue;
        }
        let backends = serving_addresses(store, &service.id, &ingress.id);
        for port in ports {
            out.push(MeshPort {
                service_name: service.name().to_string(),
                protocol: port.protocol,
                published_port: port.published_port,
                target_port: port.target_port,
                backends: backends.clone(),
            });
        }
    }
    out.sort_by_key(|p| (p.protocol, p.published_port));
    out
}

/// The host-mode ports this node's running tasks publish.
fn host_ports(store: &MemoryStore, node_id: &str) -> Vec<HostPortBinding> {
    let mut out = Vec::new();
    for task in store.tasks_of_node(node_id).filter(|t| holds_addresses(t)) {
        let ports = task.endpoint.as_ref().map_or(&[][..], |e| e.ports.as_slice());
        for port in ports.iter().filter(|p| p.publish_mode() == PublishMode::Host) {
            out.push(HostPortBinding {
                protocol: port.protocol,
                published_port: port.published_port,
                target_port: port.target_port,
                task_addr: task.networks.first().and_then(|n| n.addresses.first()).cloned().unwrap_or_default(),
            });
        }
    }
    out.sort_by_key(|p| (p.protocol, p.published_port));
    out
}

/// The cluster's VXLAN port.
pub fn data_path_port(store: &MemoryStore) -> u32 {
    let port = store.cluster().and_then(|c| c.spec.as_ref()).map_or(0, |s| s.data_path_port);
    if port == 0 { DEFAULT_DATA_PATH_PORT } else { port }
}

/// A node's data-path address: the host part of its advertised address.
fn node_addr(store: &MemoryStore, node_id: &str) -> Option<String> {
    shoal_proto::parse_ip(&store.node(node_id)?.status.as_ref()?.addr).map(|ip| ip.to_string())
}

/// Whether a change can change some node's map: a task that joins
/// networks or publishes ports, a service that publishes ports, a
/// network, a node (its addresses).
pub fn matters(change: &Change) -> bool {
    match change.object() {
        Object::Task(t) => !t.networks.is_empty() || t.endpoint.is_some(),
        Object::Service(s) => {
            s.endpoint.is_some()
                || s.spec.as_ref().and_then(|s| s.task.as_ref()).is_some_and(|t| !t.networks.is_empty())
        }
        Object::Network(_) | Object::Node(_) => true,
        Object::Cluster(_) | Object::Secret(_) | Object::Config(_) => false,
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
        store.apply(1, Batch { ops: batch, timestamp: 1, ..Default::default() }).unwrap();

        let map = for_node(&store, "a");
        assert_eq!(map.data_path_port, 4789);
        assert_eq!(map.networks.len(), 1, "a only has a task on n1");
        let peers: Vec<(&str, &str, &str)> =
            map.networks[0].peers.iter().map(|p| (p.task_id.as_str(), p.addr.as_str(), p.node_addr.as_str())).collect();
        assert_eq!(peers, [("t2", "10.0.0.3/24", "10.1.0.2"), ("t4", "10.0.0.4/24", "10.1.0.3")]);
        assert_eq!(for_node(&store, "c").networks.len(), 2);

        // A stopped task is no longer anyone's peer.
        let failed = TaskStatus { state: TaskState::Failed as i32, ..Default::default() };
        store
            .apply(2, Batch { ops: vec![ops::task_status("t2", failed)], timestamp: 2, ..Default::default() })
            .unwrap();
        assert_eq!(for_node(&store, "a").networks[0].peers.len(), 1);
        assert!(for_node(&store, "b").networks.is_empty());

        // The cluster's port, once it says one.
        let spec = shoal_proto::ClusterSpec { data_path_port: 7789, ..Default::default() };
        let cluster = shoal_proto::Cluster { id: "c".into(), spec: Some(spec), ..Default::default() };
        store
            .apply(3, Batch { ops: vec![ops::create(Object::Cluster(cluster))], timestamp: 3, ..Default::default() })
            .unwrap();
        assert_eq!(for_node(&store, "a").data_path_port, 7789);
    }

    #[test]
    fn every_node_joins_the_mesh_with_its_address_and_the_healthy_backends() {
        let mut store = MemoryStore::default();
        let ingress = shoal_proto::Network {
            id: "ing".into(),
            spec: Some(NetworkSpec {
                annotations: Some(Annotations { name: "ingress".into(), ..Default::default() }),
                ingress: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let endpoint = shoal_proto::EndpointSpec {
            mode: 0,
            ports: vec![
                shoal_proto::PortConfig { target_port: 80, published_port: 8080, ..Default::default() },
                shoal_proto::PortConfig {
                    target_port: 90,
                    published_port: 9090,
                    publish_mode: PublishMode::Host as i32,
                    ..Default::default()
                },
            ],
        };
        let service = shoal_proto::Service {
            id: "web".into(),
            spec: Some(shoal_proto::ServiceSpec {
                annotations: Some(Annotations { name: "web".into(), ..Default::default() }),
                endpoint: Some(endpoint),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut batch = vec![ops::create(Object::Network(ingress))];
        batch.extend(
            [node("a", "10.1.0.1:4242"), node("b", "10.1.0.2:4242"), node("c", "10.1.0.3:4242")].map(ops::create),
        );
        batch.push(ops::create(Object::Service(service)));
        store.apply(1, Batch { ops: batch, timestamp: 1, ..Default::default() }).unwrap();
        let endpoint = store.service("web").unwrap().endpoint.clone();
        let mut batch = Vec::new();
        for (id, node) in [("t1", "a"), ("t2", "b")] {
            let task = Task {
                id: id.into(),
                service_id: "web".into(),
                endpoint: endpoint.clone(),
                desired_state: TaskState::Running as i32,
                ..Default::default()
            };
            batch.push(ops::create(Object::Task(task)));
            batch.push(ops::task_assign(id, node, ""));
        }
        let running = |health: TaskHealth| TaskStatus {
            state: TaskState::Running as i32,
            health: health as i32,
            ..Default::default()
        };
        batch.push(ops::task_status("t1", running(TaskHealth::Healthy)));
        batch.push(ops::task_status("t2", running(TaskHealth::Starting)));
        store.apply(2, Batch { ops: batch, timestamp: 2, ..Default::default() }).unwrap();

        // Node c runs nothing, yet joins the ingress network for the mesh.
        let map = for_node(&store, "c");
        assert_eq!(map.ingress_addr, "10.0.0.4/24", "nodes a, b, c hold .2, .3, .4");
        assert_eq!(map.networks.len(), 1);
        let peers: Vec<(&str, &str)> =
            map.networks[0].peers.iter().map(|p| (p.addr.as_str(), p.node_addr.as_str())).collect();
        assert_eq!(
            peers,
            [
                ("10.0.0.2/24", "10.1.0.1"),
                ("10.0.0.3/24", "10.1.0.2"),
                ("10.0.0.6/24", "10.1.0.1"),
                ("10.0.0.7/24", "10.1.0.2")
            ],
            "the other nodes and both tasks (.5 is the VIP)"
        );
        // Only the healthy task takes connections; host ports stay local.
        assert_eq!(map.mesh_ports.len(), 1);
        assert_eq!((map.mesh_ports[0].published_port, map.mesh_ports[0].target_port), (8080, 80));
        assert_eq!(map.mesh_ports[0].backends, ["10.0.0.6/24"]);
        assert!(map.host_ports.is_empty());
        let a = for_node(&store, "a");
        assert_eq!(a.host_ports.len(), 1);
        assert_eq!((a.host_ports[0].published_port, a.host_ports[0].task_addr.as_str()), (9090, "10.0.0.6/24"));
    }

    #[test]
    fn services_on_a_network_answer_to_their_names_aliases_and_stack_short_names() {
        let mut store = MemoryStore::default();
        let net = shoal_proto::Network { id: "n1".into(), spec: Some(NetworkSpec::default()), ..Default::default() };
        let networks = vec![NetworkAttachmentConfig { target: "n1".into(), aliases: vec!["www".into()] }];
        let labels = [("com.docker.stack.namespace".to_string(), "demo".to_string())].into_iter().collect();
        let service = shoal_proto::Service {
            id: "s1".into(),
            spec: Some(shoal_proto::ServiceSpec {
                annotations: Some(Annotations { name: "demo_web".into(), labels }),
                task: Some(TaskSpec { networks, ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let ops = vec![ops::create(Object::Network(net)), ops::create(Object::Service(service))];
        store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
        let entries = services_on(&store, "n1");
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].name.as_str(), entries[0].vip.as_str()), ("demo_web", "10.0.0.2/24"));
        assert_eq!(entries[0].aliases, ["www", "web"]);
        assert!(entries[0].tasks.is_empty());
    }

    #[test]
    fn a_running_task_outside_services_answers_to_its_name_and_aliases() {
        let mut store = MemoryStore::default();
        let net = shoal_proto::Network { id: "n1".into(), spec: Some(NetworkSpec::default()), ..Default::default() };
        let run = |id: &str, name: &str| {
            let Object::Task(mut t) = task(id, "", "n1") else { unreachable!() };
            t.service_name = name.into();
            t.set_desired_state(TaskState::Running);
            t.spec.as_mut().unwrap().networks[0].aliases = vec![format!("{name}-alias")];
            ops::create(Object::Task(t))
        };
        let ops = vec![
            ops::create(Object::Network(net)),
            ops::create(node("a", "10.1.0.1:4242")),
            run("t1", "probe"),
            run("t2", "waiting"),
            ops::task_assign("t1", "a", ""),
            ops::task_assign("t2", "a", ""),
            ops::task_status("t1", TaskStatus { state: TaskState::Running as i32, ..Default::default() }),
        ];
        store.apply(1, Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
        let entries = services_on(&store, "n1");
        assert_eq!(entries.len(), 1, "only the running one: {entries:?}");
        assert_eq!((entries[0].name.as_str(), entries[0].vip.as_str()), ("probe", ""));
        assert_eq!(entries[0].aliases, ["probe-alias"]);
        assert_eq!(entries[0].tasks, [store.task("t1").unwrap().networks[0].addresses[0].clone()]);
    }
}
