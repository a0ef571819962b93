//! The routing mesh in the kernel: one nftables table, `ip shoal`, in
//! the node's namespace, replaced whole in one transaction whenever the
//! map changes.
//!
//! A connection to a published port on any of the node's addresses is
//! DNATed to one of the service's running, healthy tasks (round robin,
//! `numgen inc`), on this node or another through the ingress network.
//! Every task sees the client's own address: one on another node sends
//! its replies back through this node by its namespace's return paths
//! ([`crate::task_table`]). Two kinds of connection take this node's
//! ingress address (SNAT): one made on this node itself towards another
//! node's task, and one from a task on the ingress network to a port of
//! this node (its backend could answer it directly, past the DNAT). A
//! host-mode port goes to the local task that publishes it. What tasks
//! send out of the node other than through an overlay (to another node's
//! address, or beyond the cluster) takes the node's address (masquerade),
//! as Docker's `docker_gwbridge` does: nothing outside the overlays knows
//! their subnets (an internal network's tasks get no way out). The node
//! routes nothing from one overlay to another (networks are isolated, as
//! in Docker), and no new connection from outside into an overlay, but
//! the published ports' DNATed connections.
//! `nft` is driven with its text syntax (`nft -f -`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::Stdio;

use ipnet::Ipv4Net;

use crate::overlay::DEVICE_PREFIX;

/// The table the mesh owns.
pub const TABLE: &str = "shoal";

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A port published through the mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshRule {
    pub protocol: Protocol,
    pub published: u16,
    pub target: u16,
    /// The tasks' ingress addresses.
    pub backends: Vec<Ipv4Addr>,
}

/// A host-mode port of a task on this node.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRule {
    pub protocol: Protocol,
    pub published: u16,
    pub target: u16,
    /// The task's address; `None` when it shares the node's network.
    pub task: Option<Ipv4Addr>,
}

/// The ingress network as this node joins it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingress {
    /// Its bridge on this node.
    pub bridge: String,
    /// This node's address on it (the source of the connections it
    /// SNATs).
    pub addr: Ipv4Addr,
    pub subnet: Ipv4Net,
}

/// What the node's table holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    pub ports: Vec<MeshRule>,
    pub host_ports: Vec<HostRule>,
    pub ingress: Option<Ingress>,
    /// Backends on other nodes.
    pub remote: BTreeSet<Ipv4Addr>,
    /// The overlay networks wired on this node, bridge -> subnet: what
    /// their tasks send out of the node through anything but an overlay
    /// bridge is masqueraded; nothing is routed from one to another.
    pub overlays: BTreeMap<String, Ipv4Net>,
    /// The bridges of those that are internal: their tasks get no way out
    /// of the cluster through the node.
    pub internal: BTreeSet<String>,
}

impl Mesh {
    /// The nft script that replaces the table with this one.
    pub fn script(&self) -> String {
        let mut dnat = String::new();
        for p in self.ports.iter().filter(|p| !p.backends.is_empty()) {
            let map: Vec<String> =
                p.backends.iter().enumerate().map(|(i, b)| format!("{i} : {b} . {}", p.target)).collect();
            let _ = writeln!(
                dnat,
                "\t\tfib daddr type local {} dport {} dnat ip to numgen inc mod {} map {{ {} }}",
                p.protocol.name(),
                p.published,
                p.backends.len(),
                map.join(", ")
            );
        }
        for h in &self.host_ports {
            let to = match h.task {
                Some(addr) => format!("dnat ip to {addr}:{}", h.target),
                None if h.published != h.target => format!("redirect to :{}", h.target),
                None => continue,
            };
            let _ = writeln!(dnat, "\t\tfib daddr type local {} dport {} {to}", h.protocol.name(), h.published);
        }
        let mut snat = String::new();
        if let Some(Ingress { bridge, addr, subnet }) = &self.ingress {
            // A task on the ingress network reaching a published port: its
            // backend could answer it directly, past this node's DNAT (or
            // be the task itself).
            let _ = writeln!(snat, "\t\toifname \"{bridge}\" ct status dnat ip saddr {subnet} snat ip to {addr}");
            if !self.remote.is_empty() {
                // This node's own clients: their replies must come back here.
                let remote: Vec<String> = self.remote.iter().map(|a| a.to_string()).collect();
                let _ = writeln!(
                    snat,
                    "\t\toifname \"{bridge}\" ct status dnat fib saddr type local ip daddr {{ {} }} snat ip to {addr}",
                    remote.join(", ")
                );
            }
        }
        let mut forward = String::new();
        if !self.overlays.is_empty() {
            // Bridged frames (bridge-nf-call-iptables) have the bridge as
            // their way out, so only routed traffic matches.
            let subnets: Vec<String> = self
                .overlays
                .iter()
                .filter(|(bridge, _)| !self.internal.contains(*bridge))
                .map(|(_, s)| s.to_string())
                .collect();
            if !subnets.is_empty() {
                let _ = writeln!(
                    snat,
                    "\t\tip saddr {{ {} }} oifname != \"{DEVICE_PREFIX}*\" masquerade",
                    subnets.join(", ")
                );
            }
            let _ = writeln!(forward, "\t\tct status dnat accept");
            // From outside (a host routing an overlay subnet through this
            // node): only published ports, above. Replies and what the
            // node's mesh sends on to other nodes' tasks (bridged) pass.
            let _ =
                writeln!(forward, "\t\tiifname != \"{DEVICE_PREFIX}*\" oifname \"{DEVICE_PREFIX}*\" ct state new drop");
            for bridge in self.overlays.keys() {
                let _ = writeln!(
                    forward,
                    "\t\tiifname \"{bridge}\" oifname \"{DEVICE_PREFIX}*\" oifname != \"{bridge}\" drop"
                );
            }
            for bridge in &self.internal {
                let _ = writeln!(forward, "\t\tiifname \"{bridge}\" oifname != \"{DEVICE_PREFIX}*\" drop");
            }
        }
        format!(
            "add table ip {TABLE}\ndelete table ip {TABLE}\ntable ip {TABLE} {{\n\
             \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{dnat}\t}}\n\
             \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{dnat}\t}}\n\
             \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n{snat}\t}}\n\
             \tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n{forward}\t}}\n}}\n"
        )
    }
}

/// Why the table could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("running nft: {0}")]
    Spawn(std::io::Error),
    #[error("nft refused the mesh's table: {0}")]
    Refused(String),
}

/// Runs `script` through `nft -f -` in the caller's namespace.
pub async fn apply(script: &str) -> Result<(), MeshError> {
    let script = script.to_string();
    tokio::task::spawn_blocking(move || run_nft(&script))
        .await
        .map_err(|e| MeshError::Spawn(std::io::Error::other(e.to_string())))?
}

/// Runs `script` through `nft -f -` in the namespace at `netns` (from a
/// thread that enters it: nft inherits the namespace).
pub async fn apply_in(netns: &std::path::Path, script: String) -> Result<(), MeshError> {
    let path = netns.to_path_buf();
    let joined = tokio::task::spawn_blocking(move || crate::netns::run_in(&path, move || run_nft(&script))).await;
    match joined {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(MeshError::Spawn(std::io::Error::other(e.to_string()))),
        Err(e) => Err(MeshError::Spawn(std::io::Error::other(e.to_string()))),
    }
}

/// `nft -f -` with `script` on its input, in the calling thread's namespace.
fn run_nft(script: &str) -> Result<(), MeshError> {
    use std::io::Write;
    let mut nft = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(MeshError::Spawn)?;
    if let Some(mut stdin) = nft.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(MeshError::Spawn)?;
    }
    let out = nft.wait_with_output().map_err(MeshError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(MeshError::Refused(String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}

/// Lets the node forward what the mesh sends on (off in a new namespace).
pub fn enable_forwarding() -> std::io::Result<()> {
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_balances_published_ports_and_snats_only_where_replies_would_miss_it() {
        let a = Ipv4Addr::new(10, 0, 0, 6);
        let b = Ipv4Addr::new(10, 0, 0, 7);
        let mesh = Mesh {
            ports: vec![
                MeshRule { protocol: Protocol::Tcp, published: 8080, target: 80, backends: vec![a, b] },
                MeshRule { protocol: Protocol::Udp, published: 53, target: 5353, backends: vec![a] },
                MeshRule { protocol: Protocol::Tcp, published: 8081, target: 81, backends: vec![] },
            ],
            host_ports: vec![
                HostRule { protocol: Protocol::Tcp, published: 9090, target: 90, task: Some(a) },
                HostRule { protocol: Protocol::Tcp, published: 9091, target: 91, task: None },
                HostRule { protocol: Protocol::Tcp, published: 9092, target: 9092, task: None },
            ],
            ingress: Some(Ingress {
                bridge: "sh-b4096".into(),
                addr: Ipv4Addr::new(10, 0, 0, 4),
                subnet: "10.0.0.0/24".parse().unwrap(),
            }),
            remote: BTreeSet::from([b]),
            overlays: BTreeMap::from([
                ("sh-b4096".into(), "10.0.0.0/24".parse().unwrap()),
                ("sh-b4097".into(), "10.0.1.0/24".parse().unwrap()),
                ("sh-b4098".into(), "10.0.2.0/24".parse().unwrap()),
            ]),
            internal: BTreeSet::from(["sh-b4098".into()]),
        };
        let script = mesh.script();
        assert!(script.starts_with("add table ip shoal\ndelete table ip shoal\n"), "{script}");
        let dnat = "fib daddr type local tcp dport 8080 dnat ip to numgen inc mod 2 map { 0 : 10.0.0.6 . 80, 1 : 10.0.0.7 . 80 }";
        assert_eq!(script.matches(dnat).count(), 2, "prerouting and output: {script}");
        assert!(script.contains("udp dport 53 dnat ip to numgen inc mod 1 map { 0 : 10.0.0.6 . 5353 }"));
        assert!(!script.contains("8081"), "no backend, no rule: {script}");
        assert!(script.contains("tcp dport 9090 dnat ip to 10.0.0.6:90"));
        assert!(script.contains("tcp dport 9091 redirect to :91"));
        assert!(!script.contains("9092"));
        assert!(script.contains(
            "oifname \"sh-b4096\" ct status dnat fib saddr type local ip daddr { 10.0.0.7 } snat ip to 10.0.0.4"
        ));
        assert!(script.contains("oifname \"sh-b4096\" ct status dnat ip saddr 10.0.0.0/24 snat ip to 10.0.0.4"));
        assert!(script.contains("ip saddr { 10.0.0.0/24, 10.0.1.0/24 } oifname != \"sh-*\" masquerade"), "{script}");
        let forward = script.split("chain forward").nth(1).unwrap();
        assert!(forward.contains(
            "ct status dnat accept\n\t\tiifname != \"sh-*\" oifname \"sh-*\" ct state new drop\n\t\tiifname \"sh-b4096\" oifname \"sh-*\" oifname != \"sh-b4096\" drop\n"
        ));
        assert!(forward.contains("iifname \"sh-b4097\" oifname \"sh-*\" oifname != \"sh-b4097\" drop"));
        // An internal network: no masquerade, nothing routed out.
        assert!(forward.contains("iifname \"sh-b4098\" oifname != \"sh-*\" drop"), "{forward}");
        // Empty, it still replaces the table (with empty chains).
        assert!(Mesh::default().script().contains("chain postrouting"));
    }
}
