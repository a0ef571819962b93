//! A node's data path: keeps the overlay ([`crate::overlay`]) as the
//! managers' network map says (a segment per network the node's tasks
//! join, an entry per task of it elsewhere), and gives each task on a
//! network its namespace, `shoal-<task id>`, with one interface per
//! network.
//!
//! Every change goes through one lock, so the map's reconciliation and a
//! task being plugged in never race on the same bridge.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use shoal_proto::{NetworkMap, NetworkPeers, PortProtocol, Task};
use tokio::sync::Mutex;
use tracing::warn;

use crate::mesh::{HostRule, Ingress, Mesh, MeshError, MeshRule, Protocol, apply_in};
use crate::overlay::{Overlay, OverlayError, Peer, Plug, Segment, bridge_name, task_ifname, veth_name};
use crate::services::{self, LocalTask, host};
use crate::task_table::{ReturnPaths, task_script};
use crate::{dns, netns};

/// Why a task could not be given its network namespace.
#[derive(Debug, thiserror::Error)]
pub enum DataPathError {
    #[error(transparent)]
    Overlay(#[from] OverlayError),
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("network {0} is not known on this node yet")]
    UnknownNetwork(String),
    #[error("the task has no usable address on network {network}: {addr:?}")]
    BadAddress { network: String, addr: String },
    #[error(transparent)]
    Mesh(#[from] MeshError),
    #[error("enabling IP forwarding for the mesh: {0}")]
    Forwarding(std::io::Error),
    #[error("starting the task's DNS responder: {0}")]
    Dns(String),
}

/// The node's end of the veth plugging `task` into its `i`th network.
fn task_veth(task: &Task, i: usize) -> String {
    let key: String = task.id.chars().take(11).collect();
    veth_name(&format!("{key}{i}"))
}

/// The name of a task's namespace.
pub fn namespace(task_id: &str) -> String {
    format!("shoal-{task_id}")
}

/// One network of the map, as this node wires it.
#[derive(Debug, Clone, PartialEq)]
struct Wired {
    segment: Segment,
    peers: BTreeSet<Peer>,
    /// The routing mesh's network.
    ingress: bool,
    /// No way out of the cluster.
    internal: bool,
}

/// The node's data path; cheap to share behind an `Arc`.
pub struct DataPath {
    overlay: Overlay,
    /// This node's data-path address.
    local: Ipv4Addr,
    state: Mutex<State>,
    /// The last map applied, for the tasks' DNS responders, tables and
    /// return paths.
    names: Arc<RwLock<NetworkMap>>,
    /// The node's own resolver, for names that are not the cluster's.
    upstream: Option<SocketAddr>,
}

#[derive(Default)]
struct State {
    /// By network id, as the last map said.
    wanted: BTreeMap<String, Wired>,
    /// By VXLAN id, as set up.
    done: BTreeMap<u32, Wired>,
    /// The mesh's table as last written.
    mesh: Option<String>,
    /// The task namespaces made here, by task id.
    tasks: BTreeMap<String, LocalTask>,
    /// A map was applied: until then a task re-adopted after a restart
    /// keeps its namespace's table and routes as they are.
    mapped: bool,
}

impl DataPath {
    /// The data path of the namespace the daemon runs in; `local` is the
    /// node's data-path address, `upstream` the resolver of names that
    /// are not the cluster's (`None`: the node's own, from its
    /// resolv.conf). Must be called inside a tokio runtime.
    pub fn new(local: Ipv4Addr, upstream: Option<SocketAddr>) -> Result<DataPath, DataPathError> {
        Ok(DataPath {
            overlay: Overlay::connect(None)?,
            local,
            state: Mutex::new(State::default()),
            names: Arc::default(),
            upstream: upstream.or_else(dns::upstream),
        })
    }

    /// Brings the overlay to what `map` says: segments made and removed,
    /// peers added and removed. Entries of the map that cannot be read are
    /// skipped with a warning.
    pub async fn apply(&self, map: &NetworkMap) -> Result<(), DataPathError> {
        let mut state = self.state.lock().await;
        let port = u16::try_from(map.data_path_port).unwrap_or(4789);
        state.wanted = map.networks.iter().filter_map(|n| self.wired(n, port)).collect();
        let wanted: BTreeMap<u32, Wired> = state.wanted.values().map(|w| (w.segment.vni, w.clone())).collect();
        for (vni, _) in state.done.iter().filter(|(vni, _)| !wanted.contains_key(vni)) {
            self.overlay.remove_segment(*vni).await?;
        }
        state.done.retain(|vni, _| wanted.contains_key(vni));
        for (vni, w) in wanted {
            let before = state.done.get(&vni).filter(|d| d.segment == w.segment).map(|d| d.peers.clone());
            self.overlay.ensure_segment(&w.segment).await?;
            let before = before.unwrap_or_default();
            for peer in before.difference(&w.peers) {
                self.overlay.remove_peer(vni, *peer).await?;
            }
            for peer in w.peers.difference(&before) {
                self.overlay.add_peer(vni, *peer).await?;
            }
            state.done.insert(vni, w);
        }
        self.apply_mesh(map, &mut state).await?;
        *self.names.write().unwrap_or_else(|e| e.into_inner()) = map.clone();
        state.mapped = true;
        // One task's namespace failing (gone before it was detached, say)
        // holds up none of the others; the first error makes the pass be
        // tried again.
        let mut first_error = None;
        let ids: Vec<String> = state.tasks.keys().cloned().collect();
        for id in ids {
            if let Err(e) = self.apply_task(&mut state, &id).await {
                warn!(task = %id, "updating the task's namespace: {e}");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Brings task `id`'s namespace to what the last map says: its table
    /// (VIPs, marks of other nodes' mesh connections) and its return
    /// paths, each written only when it changed.
    async fn apply_task(&self, state: &mut State, id: &str) -> Result<(), DataPathError> {
        let Some(task) = state.tasks.get(id) else { return Ok(()) };
        let (script, back) = {
            let map = self.names.read().unwrap_or_else(|e| e.into_inner());
            let back = services::return_paths(&map, &task.networks);
            (task_script(&services::vips(&services::entries(&map, &task.networks)), back.as_ref()), back)
        };
        // No longer on the mesh: the routes go (the marks went with the table).
        let back = back.or_else(|| task.back.as_ref().map(|b| ReturnPaths { nodes: BTreeSet::new(), ..b.clone() }));
        let netns = task.netns.clone();
        if task.script.as_ref() != Some(&script) {
            apply_in(&netns, script.clone()).await?;
        }
        if let Some(wanted) = back.as_ref().filter(|b| task.back.as_ref() != Some(*b)) {
            Overlay::connect(Some(&netns))?.return_paths(&wanted.ifname, &wanted.nodes).await?;
        }
        if let Some(task) = state.tasks.get_mut(id) {
            task.script = Some(script);
            task.back = back;
        }
        Ok(())
    }

    /// The node's own ingress address, and the mesh's table.
    async fn apply_mesh(&self, map: &NetworkMap, state: &mut State) -> Result<(), DataPathError> {
        let ingress =
            map.networks.iter().find(|n| n.network.as_ref().and_then(|n| n.spec.as_ref()).is_some_and(|s| s.ingress));
        let own = host(&map.ingress_addr);
        let wired = ingress.and_then(|n| state.wanted.get(&n.network.as_ref()?.id));
        let mut mesh = Mesh::default();
        if let (Some(addr), Some(wired), Some(subnet)) = (own, wired, wired.and_then(|w| w.segment.subnet())) {
            self.overlay.own_address(wired.segment.vni, addr, wired.segment.prefix).await?;
            mesh.ingress = Some(Ingress { bridge: bridge_name(wired.segment.vni), addr, subnet });
            let peers: BTreeSet<Ipv4Addr> = wired.peers.iter().map(|p| p.addr).collect();
            for port in &map.mesh_ports {
                let backends: Vec<Ipv4Addr> = port.backends.iter().filter_map(|b| host(b)).collect();
                mesh.remote.extend(backends.iter().filter(|b| peers.contains(b)));
                let (Some(published), Some(target)) = (port16(port.published_port), port16(port.target_port)) else {
                    continue;
                };
                mesh.ports.push(MeshRule { protocol: protocol(port.protocol), published, target, backends });
            }
        }
        for h in &map.host_ports {
            let (Some(published), Some(target)) = (port16(h.published_port), port16(h.target_port)) else { continue };
            mesh.host_ports.push(HostRule {
                protocol: protocol(h.protocol),
                published,
                target,
                task: host(&h.task_addr),
            });
        }
        mesh.overlays =
            state.wanted.values().filter_map(|w| Some((bridge_name(w.segment.vni), w.segment.subnet()?))).collect();
        mesh.internal = state.wanted.values().filter(|w| w.internal).map(|w| bridge_name(w.segment.vni)).collect();
        let script = mesh.script();
        if state.mesh.as_ref() != Some(&script) {
            if !mesh.ports.is_empty() || !mesh.host_ports.is_empty() || !mesh.overlays.is_empty() {
                crate::mesh::enable_forwarding().map_err(DataPathError::Forwarding)?;
            }
            let metrics = &*crate::metrics::METRICS;
            let started = std::time::Instant::now();
            let applied = crate::mesh::apply(&script).await;
            metrics.reload_seconds.observe(started.elapsed().as_secs_f64());
            metrics.reloads.get_or_create(&vec![("result", if applied.is_ok() { "ok" } else { "error" })]).inc();
            applied?;
            metrics.ports.set(mesh.ports.len() as i64);
            metrics.backends.set(mesh.ports.iter().map(|p| p.backends.len()).sum::<usize>() as i64);
            state.mesh = Some(script);
        }
        Ok(())
    }

    fn wired(&self, n: &NetworkPeers, port: u16) -> Option<(String, Wired)> {
        let network = n.network.as_ref()?;
        let allocation = network.allocation.as_ref()?;
        let (Some(gateway), Some(prefix)) = (allocation.gateway.parse().ok(), prefix(&allocation.subnet)) else {
            warn!(network = %network.id, subnet = %allocation.subnet, "network map: unusable subnet, skipped");
            return None;
        };
        let segment = Segment { vni: allocation.vni, gateway, prefix, local: self.local, port };
        let peers = n
            .peers
            .iter()
            .filter_map(|p| Some(Peer { addr: host(&p.addr)?, node: p.node_addr.parse().ok()? }))
            .filter(|p| p.node != self.local)
            .collect();
        let (ingress, internal) = network.spec.as_ref().map_or((false, false), |s| (s.ingress, s.internal));
        Some((network.id.clone(), Wired { segment, peers, ingress, internal }))
    }

    /// Gives `task` its namespace with an interface on each network it
    /// joins; `None` for a task on no network (it uses the node's). The
    /// namespace is a new one, or `existing` (a container's) when given.
    pub async fn attach(
        &self,
        task: &Task,
        existing: Option<&std::path::Path>,
    ) -> Result<Option<PathBuf>, DataPathError> {
        if task.networks.is_empty() {
            return Ok(None);
        }
        let state = self.state.lock().await;
        let path = match existing {
            Some(existing) => netns::pin(&namespace(&task.id), existing)?,
            None => netns::create(&namespace(&task.id))?,
        };
        // The default route goes through the ingress network when the task
        // is on it: replies to mesh clients, whose address is kept, leave
        // through the node that sent the connection in.
        let on_ingress = task.networks.iter().any(|a| state.wanted.get(&a.network_id).is_some_and(|w| w.ingress));
        for (i, attachment) in task.networks.iter().enumerate() {
            let wired = state
                .wanted
                .get(&attachment.network_id)
                .ok_or_else(|| DataPathError::UnknownNetwork(attachment.network_id.clone()))?;
            let first = attachment.addresses.first().map_or("", String::as_str);
            let addr = host(first).ok_or_else(|| DataPathError::BadAddress {
                network: attachment.network_id.clone(),
                addr: first.to_string(),
            })?;
            self.overlay.ensure_segment(&wired.segment).await?;
            let (veth, ifname) = (task_veth(task, i), task_ifname(i));
            let default_route = if on_ingress { wired.ingress } else { i == 0 };
            let plug = Plug { veth: &veth, netns: &path, addr, ifname: &ifname, default_route };
            self.overlay.attach(&wired.segment, &plug).await?;
        }
        let mut state = state;
        self.track(&mut state, task, &path).await?;
        Ok(Some(path))
    }

    /// Takes back a task this node's data path plugged in before the
    /// daemon restarted: its namespace is still there, its tables are
    /// kept up to date again (and its ports hairpin, which versions
    /// before stop 17 did not set).
    pub async fn adopt(&self, task: &Task) -> Result<(), DataPathError> {
        let path = netns::path(&namespace(&task.id));
        if task.networks.is_empty() || !netns::is_namespace(&path) {
            return Ok(());
        }
        for i in 0..task.networks.len() {
            if let Err(e) = self.overlay.hairpin(&task_veth(task, i)).await {
                warn!(task = %task.id, "adopting the task: {e}");
            }
        }
        let mut state = self.state.lock().await;
        self.track(&mut state, task, &path).await
    }

    /// Keeps the task's namespace up to date from now on: its table,
    /// return paths and DNS responder.
    async fn track(&self, state: &mut State, task: &Task, netns: &std::path::Path) -> Result<(), DataPathError> {
        let networks: Vec<String> = task.networks.iter().map(|a| a.network_id.clone()).collect();
        let nameservers = task
            .spec
            .as_ref()
            .and_then(|s| s.container.as_ref())
            .and_then(|c| c.dns_config.as_ref())
            .map_or(&[][..], |d| d.nameservers.as_slice());
        let upstreams = dns::upstreams(nameservers, self.upstream);
        let dns = dns::serve(netns, networks.clone(), self.names.clone(), upstreams)
            .map_err(|e| DataPathError::Dns(e.to_string()))?;
        let local = LocalTask { netns: netns.to_path_buf(), networks, script: None, back: None, dns: Some(dns) };
        if let Some(old) = state.tasks.insert(task.id.clone(), local).and_then(|t| t.dns) {
            old.abort();
        }
        if !state.mapped {
            return Ok(());
        }
        self.apply_task(state, &task.id).await
    }

    /// Removes the task's namespace (its interfaces go with it).
    pub async fn detach(&self, task_id: &str) -> Result<(), DataPathError> {
        let mut state = self.state.lock().await;
        if let Some(dns) = state.tasks.remove(task_id).and_then(|t| t.dns) {
            dns.abort();
        }
        Ok(netns::remove(&namespace(task_id))?)
    }
}

fn port16(port: u32) -> Option<u16> {
    u16::try_from(port).ok().filter(|p| *p > 0)
}

fn protocol(p: i32) -> Protocol {
    if p == PortProtocol::Udp as i32 { Protocol::Udp } else { Protocol::Tcp }
}

/// "10.0.1.0/24" -> 24.
fn prefix(cidr: &str) -> Option<u8> {
    cidr.split_once('/')?.1.parse().ok().filter(|p| *p <= 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_prefixes_are_read_or_refused() {
        assert_eq!(host("10.0.1.5/24"), Some(Ipv4Addr::new(10, 0, 1, 5)));
        assert_eq!(host("nope"), None);
        assert_eq!(prefix("10.0.1.0/24"), Some(24));
        assert_eq!(prefix("10.0.1.0/33"), None);
        assert_eq!(prefix("10.0.1.0"), None);
        assert_eq!(namespace("abc"), "shoal-abc");
    }
}
