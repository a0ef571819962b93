//! A service's networks and published ports, as a client sends them:
//! ports checked (numbers, modes, no port published twice), network
//! references (a name, id or id prefix) turned into network ids (also
//! for tasks that `shoal run` starts).

use std::collections::HashSet;

use shoal_proto::{EndpointMode, NetworkAttachmentConfig, PortConfig, PortProtocol, PublishMode, ServiceSpec};

use super::resolve;
use super::validate::InvalidSpec;
use super::{ControlError, Result};
use crate::allocator::ports::describe;
use crate::store::MemoryStore;

/// Checks the spec's published ports and endpoint mode.
pub fn check(spec: &ServiceSpec) -> std::result::Result<(), InvalidSpec> {
    let Some(endpoint) = &spec.endpoint else { return Ok(()) };
    let mode = EndpointMode::try_from(endpoint.mode)
        .map_err(|_| InvalidSpec(format!("endpoint mode: unknown value {}", endpoint.mode)))?;
    let mut published = HashSet::new();
    for port in &endpoint.ports {
        check_port(port)?;
        if port.published_port != 0 && !published.insert((port.protocol, port.published_port)) {
            return Err(InvalidSpec(format!(
                "publish: port {} is published twice",
                describe(port.published_port, port.protocol())
            )));
        }
        if mode == EndpointMode::Dnsrr && port.publish_mode() == PublishMode::Ingress {
            return Err(InvalidSpec(format!(
                "publish: port {} is published through the routing mesh (ingress mode), which needs a VIP: \
                 use --endpoint-mode vip, or mode=host",
                describe(port.published_port, port.protocol())
            )));
        }
    }
    Ok(())
}

fn check_port(port: &PortConfig) -> std::result::Result<(), InvalidSpec> {
    PortProtocol::try_from(port.protocol)
        .map_err(|_| InvalidSpec(format!("publish: unknown protocol {}", port.protocol)))?;
    let mode = PublishMode::try_from(port.publish_mode)
        .map_err(|_| InvalidSpec(format!("publish: unknown mode {}", port.publish_mode)))?;
    if port.target_port == 0 || port.target_port > 65535 {
        return Err(InvalidSpec(format!("publish: target port must be 1-65535, got {}", port.target_port)));
    }
    if port.published_port > 65535 {
        return Err(InvalidSpec(format!("publish: published port must be 1-65535, got {}", port.published_port)));
    }
    if mode == PublishMode::Host && port.published_port == 0 {
        return Err(InvalidSpec(format!(
            "publish: a host-mode port needs a published port (target {})",
            port.target_port
        )));
    }
    Ok(())
}

/// Replaces each network reference of the spec by the network's id;
/// refuses unknown networks, the ingress network (joined through
/// published ports only) and a network named twice.
pub fn resolve_networks(store: &MemoryStore, spec: &mut ServiceSpec) -> Result<()> {
    let Some(task) = spec.task.as_mut() else { return Ok(()) };
    resolve_attachments(store, &mut task.networks, Joiner::Service)
}

/// What joins the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joiner {
    Service,
    /// A task outside any service (`shoal run`): attachable networks only.
    Standalone,
}

/// [`resolve_networks`] for a list of attachments.
pub fn resolve_attachments(
    store: &MemoryStore,
    attachments: &mut [NetworkAttachmentConfig],
    joiner: Joiner,
) -> Result<()> {
    let mut seen = HashSet::new();
    for attachment in attachments {
        let network = resolve::network(store, &attachment.target)?;
        let spec = network.spec.as_ref();
        if spec.is_some_and(|s| s.ingress) {
            return Err(ControlError::Invalid(InvalidSpec(format!(
                "network {}: the ingress network cannot be joined explicitly: publish a port instead",
                attachment.target
            ))));
        }
        if joiner == Joiner::Standalone && !spec.is_some_and(|s| s.attachable) {
            return Err(ControlError::Refused(format!(
                "network {}: not attachable: only services join it (create it with --attachable to run tasks on it)",
                attachment.target
            )));
        }
        if !seen.insert(network.id.clone()) {
            return Err(ControlError::Invalid(InvalidSpec(format!("network {}: named twice", attachment.target))));
        }
        attachment.target = network.id.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use shoal_proto::EndpointSpec;

    use super::*;

    fn spec(mode: EndpointMode, ports: Vec<PortConfig>) -> ServiceSpec {
        ServiceSpec { endpoint: Some(EndpointSpec { mode: mode as i32, ports }), ..Default::default() }
    }

    fn port(published: u32, target: u32, mode: PublishMode) -> PortConfig {
        PortConfig { protocol: 0, target_port: target, published_port: published, publish_mode: mode as i32 }
    }

    #[test]
    fn ports_are_checked() {
        let err = |s: ServiceSpec| check(&s).unwrap_err().to_string();
        assert!(
            check(&spec(
                EndpointMode::Vip,
                vec![port(8080, 80, PublishMode::Ingress), port(0, 81, PublishMode::Ingress)]
            ))
            .is_ok()
        );
        assert_eq!(
            err(spec(EndpointMode::Vip, vec![port(8080, 80, PublishMode::Ingress), port(8080, 81, PublishMode::Host)])),
            "publish: port 8080/tcp is published twice"
        );
        assert_eq!(
            err(spec(EndpointMode::Vip, vec![port(80, 0, PublishMode::Ingress)])),
            "publish: target port must be 1-65535, got 0"
        );
        assert_eq!(
            err(spec(EndpointMode::Vip, vec![port(0, 80, PublishMode::Host)])),
            "publish: a host-mode port needs a published port (target 80)"
        );
        assert!(err(spec(EndpointMode::Dnsrr, vec![port(80, 80, PublishMode::Ingress)])).contains("needs a VIP"));
        assert!(check(&spec(EndpointMode::Dnsrr, vec![port(80, 80, PublishMode::Host)])).is_ok());
    }

    #[test]
    fn standalone_tasks_join_attachable_networks_only() {
        let network = |id: &str, name: &str, attachable: bool, ingress: bool| {
            let annotations = Some(shoal_proto::Annotations { name: name.into(), ..Default::default() });
            let spec = shoal_proto::NetworkSpec { annotations, attachable, ingress, ..Default::default() };
            crate::ops::create(shoal_proto::store_object::Object::Network(shoal_proto::Network {
                id: id.into(),
                spec: Some(spec),
                ..Default::default()
            }))
        };
        let mut store = MemoryStore::default();
        let ops = vec![
            network("n1", "front", true, false),
            network("n2", "back", false, false),
            network("n3", "ingress", false, true),
        ];
        store.apply(1, shoal_proto::Batch { ops, timestamp: 1, ..Default::default() }).unwrap();
        let attach = |names: &[&str], joiner: Joiner| {
            let mut list: Vec<NetworkAttachmentConfig> =
                names.iter().map(|n| NetworkAttachmentConfig { target: n.to_string(), aliases: vec![] }).collect();
            resolve_attachments(&store, &mut list, joiner)
                .map(|()| list.into_iter().map(|a| a.target).collect::<Vec<String>>())
        };
        let err = |names: &[&str], joiner: Joiner| attach(names, joiner).unwrap_err().to_string();
        assert_eq!(attach(&["front"], Joiner::Standalone).unwrap(), vec!["n1".to_string()]);
        assert_eq!(attach(&["front", "back"], Joiner::Service).unwrap(), vec!["n1".to_string(), "n2".to_string()]);
        assert!(err(&["front", "back"], Joiner::Standalone).starts_with("network back: not attachable"));
        assert!(err(&["ingress"], Joiner::Standalone).contains("ingress network cannot be joined"));
        assert_eq!(err(&["front", "n1"], Joiner::Service), "network n1: named twice");
        assert_eq!(err(&["nope"], Joiner::Service), "no such network: nope");
    }
}
