//! A service's published ports and endpoint mode, as a client sends them:
//! numbers and modes known, no port published twice, the routing mesh
//! only with a VIP.

use std::collections::HashSet;

use shoal_proto::{EndpointMode, PortConfig, PortProtocol, PublishMode, ServiceSpec};

use crate::InvalidSpec;

/// "8080/tcp".
pub fn describe(port: u32, protocol: PortProtocol) -> String {
    format!("{port}/{}", protocol.name())
}

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
