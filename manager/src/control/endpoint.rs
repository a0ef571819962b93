//! A service's networks and published ports, as a client sends them:
//! ports checked (numbers, modes, no port published twice), network
//! references (a name, id or id prefix) turned into network ids.

use std::collections::HashSet;

use shoal_proto::{EndpointMode, PortConfig, PortProtocol, PublishMode, ServiceSpec};

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
    let mut seen = HashSet::new();
    for attachment in &mut task.networks {
        let network = resolve::network(store, &attachment.target)?;
        if network.spec.as_ref().is_some_and(|s| s.ingress) {
            return Err(ControlError::Invalid(InvalidSpec(format!(
                "network {}: the ingress network cannot be joined explicitly: publish a port instead",
                attachment.target
            ))));
        }
        if !seen.insert(network.id.clone()) {
            return Err(ControlError::Invalid(InvalidSpec(format!(
                "network {}: the service joins it twice",
                attachment.target
            ))));
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
}
