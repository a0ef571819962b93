//! Published ports: who holds which, and the next free one of the
//! automatic range.
//!
//! A port published through the routing mesh (ingress mode) is open on
//! every node, so it belongs to one service in the whole cluster, and no
//! other service may publish it in host mode either. Host-mode ports of
//! different services may share a number: the scheduler keeps them on
//! different nodes.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use shoal_proto::{PortConfig, PublishMode};
use shoal_spec::ports::describe;

use super::AllocError;

/// Ports assigned to ingress-mode ports published without a number.
pub const AUTO_RANGE: RangeInclusive<u32> = 30000..=32767;

/// One service's use of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortUse {
    pub service_id: String,
    pub service_name: String,
    pub mode: PublishMode,
}

/// (protocol, published port) -> the services publishing it.
#[derive(Debug, Default, Clone)]
pub struct PortTable {
    held: BTreeMap<(i32, u32), Vec<PortUse>>,
}

impl PortTable {
    pub fn add(&mut self, port: &PortConfig, user: PortUse) {
        if port.published_port != 0 {
            self.held.entry((port.protocol, port.published_port)).or_default().push(user);
        }
    }

    pub fn remove(&mut self, port: &PortConfig, service_id: &str) {
        let key = (port.protocol, port.published_port);
        if let Some(users) = self.held.get_mut(&key) {
            users.retain(|u| u.service_id != service_id);
            if users.is_empty() {
                self.held.remove(&key);
            }
        }
    }

    /// Refuses `port` (published explicitly) for `service_id` if another
    /// service holds it in a way that clashes.
    pub fn check(&self, port: &PortConfig, service_id: &str) -> Result<(), AllocError> {
        let users = self.held.get(&(port.protocol, port.published_port)).into_iter().flatten();
        let ingress = port.publish_mode() == PublishMode::Ingress;
        let clash = users.filter(|u| u.service_id != service_id).find(|u| ingress || u.mode == PublishMode::Ingress);
        match clash {
            None => Ok(()),
            Some(u) => Err(AllocError::Conflict(format!(
                "port {} is already in use by service {} ({}) in {} mode",
                describe(port.published_port, port.protocol()),
                u.service_name,
                u.service_id,
                if u.mode == PublishMode::Host { "host" } else { "ingress" },
            ))),
        }
    }

    /// The first port of [`AUTO_RANGE`] that nobody publishes with
    /// `protocol` and that is not in `taken`.
    pub fn next_auto(&self, protocol: i32, taken: &[(i32, u32)]) -> Result<u32, AllocError> {
        AUTO_RANGE
            .clone()
            .find(|p| !self.held.contains_key(&(protocol, *p)) && !taken.contains(&(protocol, *p)))
            .ok_or_else(|| {
                AllocError::Exhausted(format!("no free port left in {}-{}", AUTO_RANGE.start(), AUTO_RANGE.end()))
            })
    }
}

#[cfg(test)]
mod tests {
    use shoal_proto::PortProtocol;

    use super::*;

    fn port(published: u32, mode: PublishMode) -> PortConfig {
        PortConfig { published_port: published, target_port: 80, publish_mode: mode as i32, ..Default::default() }
    }

    fn user(id: &str, mode: PublishMode) -> PortUse {
        PortUse { service_id: id.into(), service_name: format!("svc-{id}"), mode }
    }

    #[test]
    fn an_ingress_port_belongs_to_one_service() {
        let mut t = PortTable::default();
        t.add(&port(8080, PublishMode::Ingress), user("a", PublishMode::Ingress));
        assert!(t.check(&port(8080, PublishMode::Ingress), "a").is_ok());
        let err = t.check(&port(8080, PublishMode::Ingress), "b").unwrap_err().to_string();
        assert_eq!(err, "port 8080/tcp is already in use by service svc-a (a) in ingress mode");
        assert!(t.check(&port(8080, PublishMode::Host), "b").is_err());
        let udp = PortConfig { protocol: PortProtocol::Udp as i32, ..port(8080, PublishMode::Ingress) };
        assert!(t.check(&udp, "b").is_ok());
        t.remove(&port(8080, PublishMode::Ingress), "a");
        assert!(t.check(&port(8080, PublishMode::Ingress), "b").is_ok());
    }

    #[test]
    fn host_ports_may_be_shared_but_not_with_the_mesh() {
        let mut t = PortTable::default();
        t.add(&port(9000, PublishMode::Host), user("a", PublishMode::Host));
        assert!(t.check(&port(9000, PublishMode::Host), "b").is_ok());
        let err = t.check(&port(9000, PublishMode::Ingress), "b").unwrap_err().to_string();
        assert_eq!(err, "port 9000/tcp is already in use by service svc-a (a) in host mode");
    }

    #[test]
    fn automatic_ports_skip_held_and_taken_ones() {
        let mut t = PortTable::default();
        t.add(&port(30000, PublishMode::Ingress), user("a", PublishMode::Ingress));
        assert_eq!(t.next_auto(0, &[]).unwrap(), 30001);
        assert_eq!(t.next_auto(0, &[(0, 30001)]).unwrap(), 30002);
        assert_eq!(t.next_auto(1, &[]).unwrap(), 30000);
    }
}
