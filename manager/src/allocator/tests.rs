use shoal_proto::{
    Annotations, EndpointSpec, NetworkAttachmentConfig, PortProtocol, ServiceSpec, TaskSpec, TaskState, TaskStatus,
};

use super::*;

fn network(id: &str, name: &str, ingress: bool, allocations: &Allocations) -> Network {
    let spec = NetworkSpec {
        annotations: Some(Annotations { name: name.into(), ..Default::default() }),
        driver: "overlay".into(),
        ingress,
        ..Default::default()
    };
    let allocation = allocations.network(id, &spec).unwrap();
    Network { id: id.into(), spec: Some(spec), allocation: Some(allocation), ..Default::default() }
}

fn port(published: u32, target: u32, mode: PublishMode) -> PortConfig {
    PortConfig {
        protocol: PortProtocol::Tcp as i32,
        target_port: target,
        published_port: published,
        publish_mode: mode as i32,
    }
}

fn service(id: &str, networks: &[&str], ports: Vec<PortConfig>, mode: EndpointMode) -> Service {
    Service {
        id: id.into(),
        spec: Some(ServiceSpec {
            annotations: Some(Annotations { name: format!("svc-{id}"), ..Default::default() }),
            task: Some(TaskSpec {
                networks: networks
                    .iter()
                    .map(|n| NetworkAttachmentConfig { target: n.to_string(), aliases: vec![] })
                    .collect(),
                ..Default::default()
            }),
            endpoint: Some(EndpointSpec { mode: mode as i32, ports }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An ingress network "ing" (10.0.0.0/24) and an overlay "net" (10.0.1.0/24).
fn cluster() -> Allocations {
    let mut a = Allocations::default();
    let ingress = network("ing", "ingress", true, &a);
    a.add_network(&ingress);
    let net = network("net", "backend", false, &a);
    a.add_network(&net);
    a
}

#[test]
fn networks_get_the_next_subnet_and_vni() {
    let mut a = Allocations::default();
    let first = network("ing", "ingress", true, &a);
    assert_eq!(
        first.allocation,
        Some(NetworkAllocation { vni: 4096, subnet: "10.0.0.0/24".into(), gateway: "10.0.0.1".into() })
    );
    a.add_network(&first);
    let second = network("n2", "back", false, &a);
    assert_eq!(second.allocation.as_ref().map(|x| (x.vni, x.subnet.as_str())), Some((4097, "10.0.1.0/24")));
    a.add_network(&second);
    assert_eq!(a.ingress(), Some("ing"));
    let spec = NetworkSpec { ingress: true, ..Default::default() };
    assert_eq!(
        a.network("other", &spec).unwrap_err().to_string(),
        "the cluster already has an ingress network: ingress"
    );
    a.remove_network(&second);
    assert_eq!(a.network("n3", &NetworkSpec::default()).unwrap().vni, 4097);
}

#[test]
fn a_service_gets_a_vip_per_network_and_the_ingress_one_when_it_publishes() {
    let mut a = cluster();
    let mut web = service("web", &["net"], vec![port(8080, 80, PublishMode::Ingress)], EndpointMode::Vip);
    let endpoint = a.endpoint(&web).unwrap().unwrap();
    let vips: Vec<(&str, &str)> =
        endpoint.virtual_ips.iter().map(|v| (v.network_id.as_str(), v.addr.as_str())).collect();
    assert_eq!(vips, vec![("net", "10.0.1.2/24"), ("ing", "10.0.0.2/24")]);
    web.endpoint = Some(endpoint);
    a.add_service(&web);

    // Another service may not publish 8080, but gets its own VIPs.
    let other = service("api", &["net"], vec![port(8080, 80, PublishMode::Ingress)], EndpointMode::Vip);
    assert_eq!(
        a.endpoint(&other).unwrap_err().to_string(),
        "port 8080/tcp is already in use by service svc-web (web) in ingress mode"
    );
    let other = service("api", &["net"], vec![], EndpointMode::Vip);
    let vips = a.endpoint(&other).unwrap().unwrap().virtual_ips;
    assert_eq!(vips, vec![VirtualIp { network_id: "net".into(), addr: "10.0.1.3/24".into() }]);

    // Re-allocating the same service keeps what it holds.
    assert_eq!(a.endpoint(&web).unwrap(), web.endpoint.clone());
    // DNS round robin: no VIP.
    let rr = service("rr", &["net"], vec![], EndpointMode::Dnsrr);
    assert_eq!(a.endpoint(&rr).unwrap(), None);
    // A network that does not exist.
    let lost = service("x", &["gone"], vec![], EndpointMode::Vip);
    assert_eq!(a.endpoint(&lost).unwrap_err().to_string(), "network gone not found");

    a.remove_service(&web);
    assert_eq!(a.held("net"), 0);
    assert!(a.endpoint(&service("api", &[], vec![port(8080, 80, PublishMode::Ingress)], EndpointMode::Vip)).is_ok());
}

#[test]
fn automatic_ports_are_assigned_once_and_kept() {
    let mut a = cluster();
    let ports = vec![port(0, 80, PublishMode::Ingress), port(0, 443, PublishMode::Ingress)];
    let mut web = service("web", &[], ports, EndpointMode::Vip);
    let endpoint = a.endpoint(&web).unwrap().unwrap();
    let published: Vec<u32> = endpoint.ports.iter().map(|p| p.published_port).collect();
    assert_eq!(published, vec![30000, 30001]);
    web.endpoint = Some(endpoint);
    a.add_service(&web);
    // An update that drops port 80 keeps 443 on 30001.
    let mut updated = web.clone();
    updated.spec.as_mut().unwrap().endpoint.as_mut().unwrap().ports.remove(0);
    let kept: Vec<u32> = a.endpoint(&updated).unwrap().unwrap().ports.iter().map(|p| p.published_port).collect();
    assert_eq!(kept, vec![30001]);
    // Another service gets the next free one.
    let api = service("api", &[], vec![port(0, 80, PublishMode::Ingress)], EndpointMode::Vip);
    assert_eq!(a.endpoint(&api).unwrap().unwrap().ports[0].published_port, 30002);
}

#[test]
fn tasks_get_addresses_on_their_networks_until_they_stop() {
    let mut a = cluster();
    let endpoint = Endpoint { ports: vec![port(8080, 80, PublishMode::Ingress)], virtual_ips: vec![] };
    let mut task = Task {
        id: "t1".into(),
        spec: service("web", &["net"], vec![], EndpointMode::Vip).spec.unwrap().task,
        endpoint: Some(endpoint),
        ..Default::default()
    };
    task.networks = a.attach(&task, &[]).unwrap();
    let addrs: Vec<(&str, &str)> =
        task.networks.iter().map(|n| (n.network_id.as_str(), n.addresses[0].as_str())).collect();
    assert_eq!(addrs, vec![("net", "10.0.1.2/24"), ("ing", "10.0.0.2/24")]);
    a.add_task(&task);
    assert_eq!(a.held("net"), 1);
    // Attaching again keeps the addresses.
    assert_eq!(a.attach(&task, &[]).unwrap(), task.networks);

    let mut second = Task { id: "t2".into(), networks: vec![], ..task.clone() };
    second.networks = a.attach(&second, &[]).unwrap();
    assert_eq!(second.networks[0].addresses, vec!["10.0.1.3/24".to_string()]);

    // A stopped task is written again: it no longer holds its address.
    a.remove_task(&task);
    task.status = Some(TaskStatus { state: TaskState::Failed as i32, ..Default::default() });
    a.add_task(&task);
    assert_eq!(a.held("net"), 0);
    // A task with no network and no mesh port joins nothing.
    let plain = Task { id: "t3".into(), ..Default::default() };
    assert_eq!(a.attach(&plain, &[]).unwrap(), vec![]);
}

#[test]
fn a_replacement_avoids_its_predecessors_address_while_another_is_free() {
    let a = cluster();
    let spec = service("web", &["net"], vec![], EndpointMode::Vip).spec.unwrap().task;
    let task = Task { id: "t2".into(), spec, ..Default::default() };
    let addr = |t: &Task, avoid: &[Ipv4Addr]| a.attach(t, avoid).unwrap()[0].addresses[0].clone();
    // Nothing held: the first address, unless a predecessor had it.
    assert_eq!(addr(&task, &[]), "10.0.1.2/24");
    assert_eq!(addr(&task, &[Ipv4Addr::new(10, 0, 1, 2)]), "10.0.1.3/24");
    // A /30 has one address besides the gateway: taken again if it must.
    let mut tiny = Allocations::default();
    let spec = NetworkSpec { subnet: "10.9.0.0/30".into(), ..Default::default() };
    let allocation = tiny.network("tiny", &spec).unwrap();
    tiny.add_network(&Network {
        id: "tiny".into(),
        spec: Some(spec),
        allocation: Some(allocation),
        ..Default::default()
    });
    let networks = vec![NetworkAttachmentConfig { target: "tiny".into(), aliases: vec![] }];
    let task = Task { id: "t".into(), spec: Some(TaskSpec { networks, ..Default::default() }), ..Default::default() };
    let only = Ipv4Addr::new(10, 9, 0, 2);
    assert_eq!(tiny.attach(&task, &[only]).unwrap()[0].addresses, vec!["10.9.0.2/30".to_string()]);
}
