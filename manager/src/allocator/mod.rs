//! The allocator: subnets and VXLAN ids of overlay networks, the
//! addresses of tasks and service VIPs on them, and published ports.
//!
//! The store runs it while it applies a batch, so every manager decides
//! the same from the same log and two writers can never be handed the
//! same address or port (no race to lose, no retry). What is allocated is
//! written into the object itself (`Network.allocation`,
//! `Service.endpoint`, `Task.networks`); [`Allocations`] only indexes
//! what the stored objects hold, kept up to date as they are written and
//! removed, so a snapshot rebuilds it and an undone batch restores it.
//!
//! A task gets its addresses when it is assigned to a node (a pending task
//! holds none); they are free again once it has stopped.

pub mod ipam;
pub mod ports;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use shoal_proto::{
    Endpoint, EndpointMode, Network, NetworkAllocation, NetworkAttachment, NetworkSpec, Node, PortConfig, PublishMode,
    Service, Task, VirtualIp,
};

use ipam::{Pool, Used};
use ports::{AUTO_RANGE, PortTable, PortUse};

/// The first VXLAN id handed out (as Docker's overlay driver).
pub const FIRST_VNI: u32 = 4096;
const LAST_VNI: u32 = (1 << 24) - 1;

/// Why something could not be allocated. Every message names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// A value that can never be allocated (a malformed subnet).
    #[error("{0}")]
    Invalid(String),
    /// Held by another object.
    #[error("{0}")]
    Conflict(String),
    /// Nothing left to hand out.
    #[error("{0}")]
    Exhausted(String),
}

/// What the stored objects hold.
#[derive(Debug, Default, Clone)]
pub struct Allocations {
    pools: HashMap<String, Pool>,
    names: HashMap<String, String>,
    /// Network id -> its held addresses (kept apart from the pools: a
    /// network rewritten keeps what its users hold).
    used: HashMap<String, Used>,
    vnis: BTreeMap<u32, String>,
    ports: PortTable,
    ingress: Option<String>,
}

/// How a node holds its address (apart from task and service ids).
const NODE_HOLDER: &str = "node:";

fn node_holder(node_id: &str) -> String {
    format!("{NODE_HOLDER}{node_id}")
}

/// A task holds its addresses until it has stopped.
pub fn holds_addresses(task: &Task) -> bool {
    !task.state().is_terminal()
}

/// The networks a task joins: its spec's, and the ingress network when it
/// publishes a port through the routing mesh.
pub fn networks_of<'a>(task: &'a Task, ingress: Option<&'a str>) -> Vec<&'a str> {
    let mut ids: Vec<&str> =
        task.spec.as_ref().map_or(Vec::new(), |s| s.networks.iter().map(|n| n.target.as_str()).collect());
    if let Some(ingress) = ingress
        && task.endpoint.as_ref().is_some_and(|e| has_ingress_port(&e.ports))
        && !ids.contains(&ingress)
    {
        ids.push(ingress);
    }
    ids
}

fn has_ingress_port(ports: &[PortConfig]) -> bool {
    ports.iter().any(|p| p.publish_mode() == PublishMode::Ingress)
}

impl Allocations {
    /// Id of the routing mesh's network, once it exists.
    pub fn ingress(&self) -> Option<&str> {
        self.ingress.as_deref()
    }

    /// How many addresses tasks and services hold on the network (nodes'
    /// own addresses on the ingress network do not count).
    pub fn held(&self, network_id: &str) -> usize {
        self.used.get(network_id).map_or(0, |u| u.values().filter(|h| !h.starts_with(NODE_HOLDER)).count())
    }

    // ------------------------------------------------------------ index

    pub fn add_network(&mut self, network: &Network) {
        let Some(a) = &network.allocation else { return };
        if let (Ok(subnet), Ok(gateway)) = (a.subnet.parse(), a.gateway.parse()) {
            self.pools.insert(network.id.clone(), Pool { subnet, gateway });
        }
        let spec = network.spec.as_ref();
        let name = spec.and_then(|s| s.annotations.as_ref()).map_or("", |a| a.name.as_str());
        self.names.insert(network.id.clone(), name.to_string());
        self.vnis.insert(a.vni, network.id.clone());
        if spec.is_some_and(|s| s.ingress) {
            self.ingress = Some(network.id.clone());
        }
    }

    pub fn remove_network(&mut self, network: &Network) {
        self.pools.remove(&network.id);
        self.names.remove(&network.id);
        self.vnis.retain(|_, id| *id != network.id);
        if self.ingress.as_deref() == Some(&network.id) {
            self.ingress = None;
        }
    }

    pub fn add_service(&mut self, service: &Service) {
        let Some(endpoint) = &service.endpoint else { return };
        let name = service.name().to_string();
        for port in &endpoint.ports {
            let user =
                PortUse { service_id: service.id.clone(), service_name: name.clone(), mode: port.publish_mode() };
            self.ports.add(port, user);
        }
        for vip in &endpoint.virtual_ips {
            self.hold(&vip.network_id, &vip.addr, &service.id);
        }
    }

    pub fn remove_service(&mut self, service: &Service) {
        let Some(endpoint) = &service.endpoint else { return };
        for port in &endpoint.ports {
            self.ports.remove(port, &service.id);
        }
        for vip in &endpoint.virtual_ips {
            self.release(&vip.network_id, &vip.addr, &service.id);
        }
    }

    pub fn add_node(&mut self, node: &Node) {
        self.hold_all(&node.attachments, &node_holder(&node.id));
    }

    pub fn remove_node(&mut self, node: &Node) {
        self.release_all(&node.attachments, &node_holder(&node.id));
    }

    pub fn add_task(&mut self, task: &Task) {
        if holds_addresses(task) {
            self.hold_all(&task.networks, &task.id);
        }
    }

    pub fn remove_task(&mut self, task: &Task) {
        self.release_all(&task.networks, &task.id);
    }

    fn hold_all(&mut self, attachments: &[NetworkAttachment], holder: &str) {
        for attachment in attachments {
            for addr in &attachment.addresses {
                self.hold(&attachment.network_id, addr, holder);
            }
        }
    }

    fn release_all(&mut self, attachments: &[NetworkAttachment], holder: &str) {
        for attachment in attachments {
            for addr in &attachment.addresses {
                self.release(&attachment.network_id, addr, holder);
            }
        }
    }

    fn hold(&mut self, network_id: &str, addr: &str, holder: &str) {
        if let Some(addr) = ipam::parse_addr(addr) {
            self.used.entry(network_id.to_string()).or_default().insert(addr, holder.to_string());
        }
    }

    fn release(&mut self, network_id: &str, addr: &str, holder: &str) {
        let (Some(used), Some(addr)) = (self.used.get_mut(network_id), ipam::parse_addr(addr)) else { return };
        if used.get(&addr).is_some_and(|h| h == holder) {
            used.remove(&addr);
        }
        if used.is_empty() {
            self.used.remove(network_id);
        }
    }

    // -------------------------------------------------------- decisions

    /// Subnet, gateway and VXLAN id for network `id` with `spec`.
    pub fn network(&self, id: &str, spec: &NetworkSpec) -> Result<NetworkAllocation, AllocError> {
        if spec.ingress
            && let Some(ingress) = self.ingress.as_ref().filter(|i| *i != id)
        {
            return Err(AllocError::Conflict(format!(
                "the cluster already has an ingress network: {}",
                self.names.get(ingress).map_or(ingress.as_str(), String::as_str)
            )));
        }
        let taken: Vec<_> = self
            .pools
            .iter()
            .filter(|(other, _)| *other != id)
            .map(|(other, pool)| (pool.subnet, self.names.get(other).map_or(other.as_str(), String::as_str)))
            .collect();
        let (subnet, gateway) = ipam::subnet(&spec.subnet, &spec.gateway, &taken)?;
        let vni = (FIRST_VNI..=LAST_VNI)
            .find(|v| self.vnis.get(v).is_none_or(|holder| holder == id))
            .ok_or_else(|| AllocError::Exhausted("no free VXLAN id left".into()))?;
        Ok(NetworkAllocation { vni, subnet: subnet.to_string(), gateway: gateway.to_string() })
    }

    /// The endpoint of `service` for its spec: published ports (an
    /// automatic one keeps the number it had) and, in VIP mode, a virtual
    /// IP on each network its tasks join (kept if it had one there).
    pub fn endpoint(&self, service: &Service) -> Result<Option<Endpoint>, AllocError> {
        let spec = service.spec.as_ref();
        let endpoint_spec = spec.and_then(|s| s.endpoint.clone()).unwrap_or_default();
        let old = service.endpoint.clone().unwrap_or_default();
        let mut taken: Vec<(i32, u32)> = Vec::new();
        let mut ports = Vec::with_capacity(endpoint_spec.ports.len());
        for port in &endpoint_spec.ports {
            let mut port = *port;
            if port.published_port == 0 {
                let explicit =
                    |p: u32| endpoint_spec.ports.iter().any(|q| q.protocol == port.protocol && q.published_port == p);
                let kept = old.ports.iter().find(|o| {
                    o.protocol == port.protocol
                        && o.target_port == port.target_port
                        && AUTO_RANGE.contains(&o.published_port)
                        && !explicit(o.published_port)
                        && !taken.contains(&(o.protocol, o.published_port))
                });
                port.published_port = match kept {
                    Some(o) => o.published_port,
                    None => self.ports.next_auto(port.protocol, &taken)?,
                };
            } else {
                self.ports.check(&port, &service.id)?;
            }
            taken.push((port.protocol, port.published_port));
            ports.push(port);
        }
        let mut virtual_ips = Vec::new();
        if endpoint_spec.mode() == EndpointMode::Vip {
            let networks: Vec<String> = spec
                .and_then(|s| s.task.as_ref())
                .map_or(Vec::new(), |t| t.networks.iter().map(|n| n.target.clone()).collect());
            let ingress = self.ingress.clone().filter(|i| has_ingress_port(&ports) && !networks.contains(i));
            for network_id in networks.into_iter().chain(ingress) {
                let kept = old.virtual_ips.iter().find(|v| v.network_id == network_id).map(|v| v.addr.clone());
                let addr = match kept {
                    Some(addr) => addr,
                    None => self.address(&network_id, &[])?,
                };
                virtual_ips.push(VirtualIp { network_id, addr });
            }
        }
        if ports.is_empty() && virtual_ips.is_empty() {
            return Ok(None);
        }
        Ok(Some(Endpoint { ports, virtual_ips }))
    }

    /// A node's own address on the ingress network (kept if it has one;
    /// none before the ingress network exists, or when it is full).
    pub fn node_attachments(&self, node: &Node) -> Vec<NetworkAttachment> {
        let Some(ingress) = self.ingress.as_deref() else { return node.attachments.clone() };
        if node.attachments.iter().any(|a| a.network_id == ingress) {
            return node.attachments.clone();
        }
        let mut attachments = node.attachments.clone();
        if let Ok(addr) = self.address(ingress, &[]) {
            attachments.push(NetworkAttachment { network_id: ingress.to_string(), addresses: vec![addr] });
        }
        attachments
    }

    /// The task's address on each network it joins; one it has already is
    /// kept. Addresses in `avoid` (its predecessors' in its slot) are not
    /// handed out while another is free: a replaced task gets a new
    /// address.
    pub fn attach(&self, task: &Task, avoid: &[Ipv4Addr]) -> Result<Vec<NetworkAttachment>, AllocError> {
        let mut attachments = Vec::new();
        let mut taken: Vec<Ipv4Addr> = Vec::new();
        for network_id in networks_of(task, self.ingress()) {
            if let Some(existing) = task.networks.iter().find(|a| a.network_id == network_id) {
                attachments.push(existing.clone());
                continue;
            }
            let shunned: Vec<Ipv4Addr> = taken.iter().chain(avoid).copied().collect();
            let addr = match self.address(network_id, &shunned) {
                Err(AllocError::Exhausted(_)) => self.address(network_id, &taken)?,
                other => other?,
            };
            taken.extend(ipam::parse_addr(&addr));
            attachments.push(NetworkAttachment { network_id: network_id.to_string(), addresses: vec![addr] });
        }
        Ok(attachments)
    }

    /// The next free address of a network, with its prefix.
    fn address(&self, network_id: &str, taken: &[Ipv4Addr]) -> Result<String, AllocError> {
        let pool =
            self.pools.get(network_id).ok_or_else(|| AllocError::Invalid(format!("network {network_id} not found")))?;
        let empty = Used::new();
        let used = self.used.get(network_id).unwrap_or(&empty);
        let name = self.names.get(network_id).map_or(network_id, String::as_str);
        let addr = pool.next(used, taken).ok_or_else(|| {
            AllocError::Exhausted(format!("network {name} ({}) has no free address left", pool.subnet))
        })?;
        Ok(pool.cidr(addr))
    }
}

#[cfg(test)]
mod tests;
