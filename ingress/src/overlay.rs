//! The overlay on one node, through netlink: per network a bridge
//! (`sh-b<VNI>`, holding the gateway address) and a VXLAN device
//! (`sh-v<VNI>`: learning off, ARP proxy on) enslaved to it; per task a
//! veth whose node end joins the bridge and whose other end is `eth0` in
//! the task's namespace; per task of the network on another node a
//! permanent neighbour entry (address -> MAC) and FDB entry (MAC -> node)
//! on the VXLAN device. Nothing floods: ARP is answered from the
//! neighbour entries, and a task's MAC follows from its address
//! ([`mac`]), so the address and the node are all a peer needs to be
//! known by. Mesh replies that must go back through another node take
//! the routes of [`Overlay::return_paths`].

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures::TryStreamExt;
use nix::errno::Errno;
use nix::sched::{CloneFlags, setns};
use rtnetlink::packet_route::neighbour::NeighbourFlags;
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkUnspec, LinkVeth, LinkVxlan, RouteMessageBuilder, new_connection,
};

/// Why the overlay could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("{what}: {source}")]
    Netlink { what: String, source: rtnetlink::Error },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what}: {source}")]
    Sys { what: String, source: nix::Error },
    #[error("no link {0}")]
    NoLink(String),
    #[error("a thread opening a netlink socket in {0} panicked")]
    Panicked(String),
}

type Result<T> = std::result::Result<T, OverlayError>;

/// The kernel refused with `errno` (no such link, entry, route...).
fn is(e: &rtnetlink::Error, errno: Errno) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -(errno as i32))
}

fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> OverlayError {
    let what = what.into();
    move |source| OverlayError::Netlink { what, source }
}

/// The MTU of a task's interface, and of the VXLAN device, on an overlay
/// network: a 1500-byte underlay less the 50 bytes VXLAN adds (as
/// Docker's default). A frame larger than the VXLAN device takes would be
/// dropped on the bridge, silently: no ICMP at layer 2; a node routing
/// into the bridge (the mesh) sees its MTU and fragments or refuses
/// instead.
pub const OVERLAY_MTU: u32 = 1450;

/// What the names of the devices routed traffic can leave a node through
/// start with: the networks' bridges (and their VXLAN ports).
pub const DEVICE_PREFIX: &str = "sh-";

/// The bridge of the network with VXLAN id `vni`.
pub fn bridge_name(vni: u32) -> String {
    format!("{DEVICE_PREFIX}b{vni}")
}

/// The VXLAN device of the network with VXLAN id `vni`.
pub fn vxlan_name(vni: u32) -> String {
    format!("{DEVICE_PREFIX}v{vni}")
}

/// The node end of a task's veth on a network: `sh` + 12 characters of
/// a key unique on the node; the task end, until renamed `eth0`, adds a
/// `p` (the kernel allows 15).
pub fn veth_name(key: &str) -> String {
    format!("sh{}", key.chars().take(12).collect::<String>())
}

/// The name of a task's interface on the `i`th network it joins.
pub fn task_ifname(i: usize) -> String {
    format!("eth{i}")
}

/// The MAC of the interface holding `addr`: `02:42` and the address's four
/// bytes (locally administered, as Docker's).
pub fn mac(addr: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = addr.octets();
    [0x02, 0x42, a, b, c, d]
}

/// [`mac`] as text ("02:42:0a:00:00:04").
pub fn mac_text(addr: Ipv4Addr) -> String {
    mac(addr).iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// One network as this node joins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vni: u32,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    /// This node's data-path address.
    pub local: Ipv4Addr,
    /// The VXLAN UDP port.
    pub port: u16,
}

impl Segment {
    /// The network's subnet (`None` with a prefix over 32).
    pub fn subnet(&self) -> Option<ipnet::Ipv4Net> {
        ipnet::Ipv4Net::new(self.gateway, self.prefix).ok().map(|n| n.trunc())
    }
}

/// One task interface to make by [`Overlay::attach`].
#[derive(Debug, Clone, Copy)]
pub struct Plug<'a> {
    /// The node end of the veth.
    pub veth: &'a str,
    /// The task's namespace.
    pub netns: &'a Path,
    pub addr: Ipv4Addr,
    /// Its name in the task ("eth0", "eth1"...).
    pub ifname: &'a str,
    /// Route everything else through this network's gateway.
    pub default_route: bool,
}

/// A task of the network on another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    pub addr: Ipv4Addr,
    /// The data-path address of its node.
    pub node: Ipv4Addr,
}

/// A netlink connection to one network namespace.
#[derive(Clone)]
pub struct Overlay {
    handle: Handle,
}

impl Overlay {
    /// A connection to the caller's namespace (`None`) or the one at a
    /// path; must be called inside a tokio runtime.
    pub fn connect(netns: Option<&Path>) -> Result<Overlay> {
        Ok(Overlay { handle: connection(netns)? })
    }

    async fn index(&self, name: &str) -> Result<Option<u32>> {
        let mut links = self.handle.link().get().match_name(name.to_string()).execute();
        match links.try_next().await {
            Ok(link) => Ok(link.map(|l| l.header.index)),
            Err(e) if is(&e, Errno::ENODEV) => Ok(None),
            Err(e) => Err(netlink(format!("looking up link {name}"))(e)),
        }
    }

    async fn must_index(&self, name: &str) -> Result<u32> {
        self.index(name).await?.ok_or_else(|| OverlayError::NoLink(name.to_string()))
    }

    /// Makes the network's bridge and VXLAN device unless they exist.
    pub async fn ensure_segment(&self, s: &Segment) -> Result<()> {
        let bridge = bridge_name(s.vni);
        let bridge_index = match self.index(&bridge).await? {
            Some(index) => index,
            None => {
                let link = LinkBridge::new(&bridge).up().build();
                self.handle.link().add(link).execute().await.map_err(netlink(format!("creating bridge {bridge}")))?;
                let index = self.must_index(&bridge).await?;
                let add = self.handle.address().add(index, IpAddr::V4(s.gateway), s.prefix);
                add.execute().await.map_err(netlink(format!("adding {}/{} to {bridge}", s.gateway, s.prefix)))?;
                index
            }
        };
        let vxlan = vxlan_name(s.vni);
        if let Some(index) = self.index(&vxlan).await? {
            // Made by a version before the overlay MTU was set: the
            // bridge follows its ports' smallest MTU.
            let mtu = LinkUnspec::new_with_index(index).mtu(OVERLAY_MTU).build();
            self.handle.link().set(mtu).execute().await.map_err(netlink(format!("setting the MTU of {vxlan}")))?;
        } else {
            let link = LinkVxlan::new(&vxlan, s.vni)
                .port(s.port)
                .local(s.local)
                .learning(false)
                .proxy(true)
                .controller(bridge_index)
                .mtu(OVERLAY_MTU)
                .up()
                .build();
            self.handle.link().add(link).execute().await.map_err(netlink(format!("creating VXLAN device {vxlan}")))?;
        }
        Ok(())
    }

    /// Gives the node an address of its own on the network: on its bridge,
    /// whose MAC becomes the one the address implies, so that other nodes
    /// reach it as they reach a task (the mesh's replies come back to it).
    pub async fn own_address(&self, vni: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let bridge = bridge_name(vni);
        let index = self.must_index(&bridge).await?;
        let mac = LinkUnspec::new_with_index(index).address(mac(addr).to_vec()).build();
        self.handle.link().set(mac).execute().await.map_err(netlink(format!("setting the MAC of {bridge}")))?;
        let add = self.handle.address().add(index, IpAddr::V4(addr), prefix).replace();
        add.execute().await.map_err(netlink(format!("adding {addr}/{prefix} to {bridge}")))
    }

    /// Removes the network's VXLAN device and bridge (the tasks' veths on
    /// it go with their namespaces).
    pub async fn remove_segment(&self, vni: u32) -> Result<()> {
        self.remove_link(&vxlan_name(vni)).await?;
        self.remove_link(&bridge_name(vni)).await
    }

    /// Removes a link; one that is not there is not an error.
    pub async fn remove_link(&self, name: &str) -> Result<()> {
        if let Some(index) = self.index(name).await? {
            self.handle.link().del(index).execute().await.map_err(netlink(format!("removing link {name}")))?;
        }
        Ok(())
    }

    /// Sets hairpin mode on a task's bridge port (none if `veth` is gone):
    /// a frame may go back out the port it came in on. A task reaching a
    /// published port of its own node can be DNATed to itself; with
    /// bridge-nf-call-iptables=1 its replies, un-NATed in the bridge, are
    /// bridged (not routed) back to the same port.
    pub async fn hairpin(&self, veth: &str) -> Result<()> {
        let Some(index) = self.index(veth).await? else { return Ok(()) };
        let hairpin = LinkBridgePort::new(index).hairpin(true).build();
        self.handle.link().set_port(hairpin).execute().await.map_err(netlink(format!("setting hairpin on {veth}")))
    }

    /// Plugs the task whose namespace is at `netns` into the network: a
    /// veth named `veth` on the node, and in the task's namespace `ifname`
    /// with `addr` and its MAC (and, for the first network it joins, the
    /// default route via the gateway). A veth left from an earlier try is
    /// replaced.
    pub async fn attach(&self, s: &Segment, plug: &Plug<'_>) -> Result<()> {
        let Plug { veth, netns, addr, ifname, default_route } = *plug;
        self.remove_link(veth).await?;
        let peer = format!("{veth}p");
        let link = LinkVeth::new(veth, &peer).build();
        self.handle.link().add(link).execute().await.map_err(netlink(format!("creating veth {veth}")))?;
        let (node_end, task_end) = (self.must_index(veth).await?, self.must_index(&peer).await?);
        let bridge = self.must_index(&bridge_name(s.vni)).await?;
        let plug = LinkUnspec::new_with_index(node_end).controller(bridge).mtu(OVERLAY_MTU).up().build();
        self.handle.link().set(plug).execute().await.map_err(netlink(format!("plugging {veth} into the bridge")))?;
        self.hairpin(veth).await?;
        let ns = File::open(netns)
            .map_err(|source| OverlayError::Io { what: format!("opening {}", netns.display()), source })?;
        let moved = LinkUnspec::new_with_index(task_end).setns_by_fd(ns.as_raw_fd()).build();
        self.handle.link().set(moved).execute().await.map_err(netlink(format!("moving {peer} into the task")))?;
        drop(ns);

        let task = Overlay::connect(Some(netns))?;
        let index = task.must_index(&peer).await?;
        let named = LinkUnspec::new_with_index(index).name(ifname).address(mac(addr).to_vec()).mtu(OVERLAY_MTU).build();
        task.handle.link().set(named).execute().await.map_err(netlink(format!("naming the task's {ifname}")))?;
        let add = task.handle.address().add(index, IpAddr::V4(addr), s.prefix);
        add.execute().await.map_err(netlink(format!("adding {addr}/{} to the task", s.prefix)))?;
        for link in [task.must_index("lo").await?, index] {
            let up = LinkUnspec::new_with_index(link).up().build();
            task.handle.link().set(up).execute().await.map_err(netlink("bringing the task's links up"))?;
        }
        if default_route {
            let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(s.gateway).build();
            task.handle.route().add(route).execute().await.map_err(netlink("adding the task's default route"))?;
        }
        Ok(())
    }

    /// Makes `peer` reachable over the network's VXLAN device.
    pub async fn add_peer(&self, vni: u32, peer: Peer) -> Result<()> {
        let vxlan = self.must_index(&vxlan_name(vni)).await?;
        let mac = mac(peer.addr);
        let what = || format!("adding peer {} on {}", peer.addr, peer.node);
        let neighbours = self.handle.neighbours();
        neighbours
            .add(vxlan, IpAddr::V4(peer.addr))
            .link_layer_address(&mac)
            .replace()
            .execute()
            .await
            .map_err(netlink(what()))?;
        let fdb = neighbours.add_bridge(vxlan, &mac).flags(NeighbourFlags::Own).destination(IpAddr::V4(peer.node));
        fdb.replace().execute().await.map_err(netlink(what()))
    }

    /// Forgets `peer` (entries already gone are not an error).
    pub async fn remove_peer(&self, vni: u32, peer: Peer) -> Result<()> {
        let Some(vxlan) = self.index(&vxlan_name(vni)).await? else { return Ok(()) };
        let mac = mac(peer.addr);
        let neighbours = self.handle.neighbours();
        let mut arp = neighbours.add(vxlan, IpAddr::V4(peer.addr)).link_layer_address(&mac);
        let mut fdb = neighbours.add_bridge(vxlan, &mac).flags(NeighbourFlags::Own).destination(IpAddr::V4(peer.node));
        for message in [arp.message_mut().clone(), fdb.message_mut().clone()] {
            match neighbours.del(message).execute().await {
                Err(e) if is(&e, Errno::ENOENT) => {}
                other => other.map_err(netlink(format!("removing peer {} on {}", peer.addr, peer.node)))?,
            }
        }
        Ok(())
    }
}

/// A netlink connection whose socket lives in the namespace at `netns`
/// (the caller's when `None`). The socket is made on a thread that enters
/// the namespace first; it stays there after the thread is gone.
fn connection(netns: Option<&Path>) -> Result<Handle> {
    let open =
        || new_connection().map_err(|source| OverlayError::Io { what: "opening a netlink socket".into(), source });
    let (conn, handle, _) = match netns {
        None => open()?,
        Some(path) => {
            let ns = File::open(path)
                .map_err(|source| OverlayError::Io { what: format!("opening {}", path.display()), source })?;
            let runtime = tokio::runtime::Handle::current();
            let where_ = path.display().to_string();
            std::thread::spawn(move || {
                // The socket registers with the runtime as it is made.
                let _entered = runtime.enter();
                setns(&ns, CloneFlags::CLONE_NEWNET)
                    .map_err(|source| OverlayError::Sys { what: "entering the namespace".into(), source })?;
                open()
            })
            .join()
            .map_err(|_| OverlayError::Panicked(where_))??
        }
    };
    tokio::spawn(conn);
    Ok(handle)
}

mod return_path;
pub use return_path::mark;

#[cfg(test)]
mod tests;
