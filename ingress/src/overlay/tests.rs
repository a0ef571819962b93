//! Two "hosts" (namespaces joined by a veth), a task namespace on each,
//! one overlay network between them: the tasks reach each other over
//! VXLAN by address, and stop reaching each other once the peer entries
//! go; task ports are in hairpin mode (given back to one that lost it)
//! and a VXLAN device gets the overlay MTU. Needs root (skipped without).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use futures::TryStreamExt;

use super::*;
use crate::netns;

/// Namespaces of one test, removed when it ends, also when it fails.
struct Namespaces(Vec<String>);

impl Namespaces {
    fn make(&mut self, role: &str) -> std::path::PathBuf {
        let name = format!("shoal-test-{}-{role}", std::process::id());
        self.0.push(name.clone());
        netns::create(&name).unwrap()
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = netns::remove(name);
        }
    }
}

/// A veth between two host namespaces, with an address at each end.
async fn wire(a: &Overlay, b_path: &Path, a_addr: Ipv4Addr, b_addr: Ipv4Addr) {
    let link = LinkVeth::new("under0", "under1").build();
    a.handle.link().add(link).execute().await.unwrap();
    let far = a.must_index("under1").await.unwrap();
    let ns = File::open(b_path).unwrap();
    a.handle.link().set(LinkUnspec::new_with_index(far).setns_by_fd(ns.as_raw_fd()).build()).execute().await.unwrap();
    let b = Overlay::connect(Some(b_path)).unwrap();
    for (side, name, addr) in [(a, "under0", a_addr), (&b, "under1", b_addr)] {
        let index = side.must_index(name).await.unwrap();
        side.handle.address().add(index, IpAddr::V4(addr), 24).execute().await.unwrap();
        side.handle.link().set(LinkUnspec::new_with_index(index).up().build()).execute().await.unwrap();
    }
}

/// Connects from the namespace at `from` to `to` and reads what the
/// listener answers; `None` if the connection fails.
fn talk(from: &Path, to: SocketAddr) -> Option<String> {
    netns::run_in(from, move || {
        let mut stream = TcpStream::connect_timeout(&to, Duration::from_millis(500)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    })
    .unwrap()
}

/// `ip -d link show` of a device in a namespace.
fn ip_details(netns: &str, dev: &str) -> String {
    let out = std::process::Command::new("ip").args(["-n", netns, "-d", "link", "show", "dev", dev]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ip link set ...` in a namespace.
fn ip_set(netns: &str, args: &[&str]) {
    let status = std::process::Command::new("ip").args(["-n", netns, "link", "set"]).args(args).status().unwrap();
    assert!(status.success(), "ip link set {args:?}");
}

#[tokio::test]
async fn tasks_on_two_hosts_reach_each_other_over_vxlan() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mut spaces = Namespaces(Vec::new());
    let (host_a, host_b) = (spaces.make("ha"), spaces.make("hb"));
    let (task_a, task_b) = (spaces.make("ta"), spaces.make("tb"));
    let (under_a, under_b) = (Ipv4Addr::new(192, 168, 77, 1), Ipv4Addr::new(192, 168, 77, 2));
    let a = Overlay::connect(Some(&host_a)).unwrap();
    let b = Overlay::connect(Some(&host_b)).unwrap();
    wire(&a, &host_b, under_a, under_b).await;

    let segment = |local| Segment { vni: 4097, gateway: Ipv4Addr::new(10, 0, 1, 1), prefix: 24, local, port: 4789 };
    let (addr_a, addr_b) = (Ipv4Addr::new(10, 0, 1, 5), Ipv4Addr::new(10, 0, 1, 6));
    for (host, local, task, addr) in [(&a, under_a, &task_a, addr_a), (&b, under_b, &task_b, addr_b)] {
        host.ensure_segment(&segment(local)).await.unwrap();
        // Twice: already there is fine.
        host.ensure_segment(&segment(local)).await.unwrap();
        let plug =
            Plug { veth: &veth_name("task0123456789abcdef"), netns: task, addr, ifname: "eth0", default_route: true };
        host.attach(&segment(local), &plug).await.unwrap();
    }
    a.add_peer(4097, Peer { addr: addr_b, node: under_b }).await.unwrap();
    b.add_peer(4097, Peer { addr: addr_a, node: under_a }).await.unwrap();

    // The task's port is in hairpin mode; a port that lost it (plugged in
    // by an older version) gets it back; a device made with another MTU
    // gets the overlay's when the segment is ensured again.
    let (host_a_name, veth) = (&spaces.0[0], veth_name("task0123456789abcdef"));
    assert!(ip_details(host_a_name, &veth).contains("hairpin on"));
    ip_set(host_a_name, &["dev", &veth, "type", "bridge_slave", "hairpin", "off"]);
    assert!(ip_details(host_a_name, &veth).contains("hairpin off"));
    a.hairpin(&veth).await.unwrap();
    assert!(ip_details(host_a_name, &veth).contains("hairpin on"));
    a.hairpin("sh-no-such").await.unwrap();
    ip_set(host_a_name, &["dev", &vxlan_name(4097), "mtu", "1500"]);
    a.ensure_segment(&segment(under_a)).await.unwrap();
    assert!(ip_details(host_a_name, &vxlan_name(4097)).contains(&format!("mtu {OVERLAY_MTU}")));

    // A listener in task b answers once.
    let listener = netns::run_in(&task_b, move || TcpListener::bind((addr_b, 0)).unwrap()).unwrap();
    let to = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        for conn in listener.incoming().take(1) {
            let _ = conn.unwrap().write_all(b"hello from b");
        }
    });
    assert_eq!(talk(&task_a, to).as_deref(), Some("hello from b"));
    server.join().unwrap();

    // Without the peer entries, b is out of reach.
    a.remove_peer(4097, Peer { addr: addr_b, node: under_b }).await.unwrap();
    a.remove_peer(4097, Peer { addr: addr_b, node: under_b }).await.unwrap();
    assert_eq!(talk(&task_a, to), None);

    // The segment goes; removing it again is fine.
    a.remove_segment(4097).await.unwrap();
    a.remove_segment(4097).await.unwrap();
    assert_eq!(a.index(&bridge_name(4097)).await.unwrap(), None);
}

#[tokio::test]
async fn return_paths_follow_the_nodes_listed() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mut spaces = Namespaces(Vec::new());
    let (host, task) = (spaces.make("rh"), spaces.make("rt"));
    let node = Overlay::connect(Some(&host)).unwrap();
    let segment =
        Segment { vni: 4096, gateway: Ipv4Addr::new(10, 0, 0, 1), prefix: 24, local: Ipv4Addr::LOCALHOST, port: 4789 };
    node.ensure_segment(&segment).await.unwrap();
    let (vxlan, bridge) =
        (node.must_index(&vxlan_name(4096)).await.unwrap(), node.must_index(&bridge_name(4096)).await.unwrap());
    for index in [vxlan, bridge] {
        let mut links = node.handle.link().get().match_index(index).execute();
        let link = links.try_next().await.unwrap().unwrap();
        let mtu = link.attributes.iter().find_map(|a| match a {
            rtnetlink::packet_route::link::LinkAttribute::Mtu(m) => Some(*m),
            _ => None,
        });
        assert_eq!(mtu, Some(OVERLAY_MTU), "room for VXLAN's header on a 1500-byte underlay");
    }
    let plug = Plug {
        veth: &veth_name("returnpaths0"),
        netns: &task,
        addr: Ipv4Addr::new(10, 0, 0, 9),
        ifname: "eth0",
        default_route: true,
    };
    node.attach(&segment, &plug).await.unwrap();

    let inside = Overlay::connect(Some(&task)).unwrap();
    let (n4, n5) = (Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 5));
    let nodes = |inside: Overlay| async move {
        inside.return_rules().await.unwrap().into_iter().map(|(n, _)| n).collect::<Vec<_>>()
    };
    inside.return_paths("eth0", &[n4, n5].into()).await.unwrap();
    // Again: nothing added twice.
    inside.return_paths("eth0", &[n4, n5].into()).await.unwrap();
    assert_eq!(nodes(inside.clone()).await, [n4, n5]);
    // Each node's table routes back through it.
    let routes = netns::run_in(&task, move || {
        std::process::Command::new("ip").args(["route", "show", "table", &mark(n5).to_string()]).output().unwrap()
    })
    .unwrap();
    assert!(String::from_utf8_lossy(&routes.stdout).contains("default via 10.0.0.5 dev eth0"), "{routes:?}");
    // And each rule looks its table up (an action left unset fails lookups).
    let rules = netns::run_in(&task, || std::process::Command::new("ip").args(["rule"]).output().unwrap()).unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
    let line = rules.lines().find(|l| l.contains("fwmark 0xa000005")).unwrap_or_default().trim_end().to_string();
    assert!(line.ends_with(&format!("lookup {}", mark(n5))), "{rules}");
    inside.return_paths("eth0", &[n5].into()).await.unwrap();
    assert_eq!(nodes(inside.clone()).await, [n5]);
    inside.return_paths("eth0", &Default::default()).await.unwrap();
    assert!(nodes(inside.clone()).await.is_empty());
}

#[test]
fn names_and_macs() {
    assert_eq!(bridge_name(4097), "sh-b4097");
    assert_eq!(vxlan_name(16_777_215), "sh-v16777215");
    assert_eq!(veth_name("abcdefghijklmnopqrstuvwxy"), "shabcdefghijkl");
    assert!(veth_name("abcdefghijklmnopqrstuvwxy").len() < 15);
    assert_eq!(mac(Ipv4Addr::new(10, 0, 1, 5)), [0x02, 0x42, 10, 0, 1, 5]);
}
