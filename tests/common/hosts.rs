//! Test "hosts": network namespaces joined through a bridge in a
//! namespace of its own (the switch), each with an address on it, so
//! that daemons in them talk as separate machines do and their data paths
//! (VXLAN, task namespaces) stay apart. Everything goes when the guard is
//! dropped, also when a test fails. Set up with `ip`: the tests may.

use std::process::Command;

/// A task program (`python3 -c`) answering every connection on port
/// 8000 with its own address.
pub const ECHO_ADDR: &str = r#"
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8000))
s.listen()
while True:
    c, _ = s.accept()
    c.sendall(c.getsockname()[0].encode())
    c.close()
"#;

/// A task program that counts what each connection on port 8100 sends
/// until it shuts its side, and answers with the count.
pub const BULK_SERVER: &str = r#"
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8100))
s.listen()
while True:
    c, _ = s.accept()
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
    c.sendall(str(n).encode())
    c.close()
"#;

/// Sends a megabyte from namespace `netns` to `addr` (IP:PORT) and returns
/// how much [`BULK_SERVER`] says it received (`None` if it cannot).
pub fn bulk_length(netns: &str, addr: &str) -> Option<usize> {
    let (host, port) = addr.rsplit_once(':')?;
    let script = format!(
        "import socket\ns = socket.create_connection(('{host}', {port}), timeout=1)\ns.settimeout(3)\ns.sendall(b'x' * 1000000)\ns.shutdown(socket.SHUT_WR)\nprint(s.recv(100).decode())"
    );
    python_in(netns, &script)?.trim().parse().ok()
}

/// Runs a python3 script in namespace `netns`; its output if it succeeds.
fn python_in(netns: &str, script: &str) -> Option<String> {
    let out = Command::new("ip").args(["netns", "exec", netns, "/usr/bin/python3", "-c", script]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `ip ARGS`; panics with its stderr if it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Removes a named network namespace if it exists.
pub fn remove_netns(name: &str) {
    if std::path::Path::new("/run/netns").join(name).exists() {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
    }
}

/// Connects from namespace `netns` to `addr` (IP:PORT) and returns what
/// the other end sends before closing, or `None` if it cannot connect.
pub fn fetch(netns: &str, addr: &str) -> Option<String> {
    let (host, port) = addr.rsplit_once(':')?;
    let script = format!(
        "import socket\ns=socket.create_connection(('{host}',{port}),timeout=1)\ns.settimeout(2)\nprint(s.recv(200).decode(),end='')"
    );
    python_in(netns, &script)
}

/// `wget -q -O - URL` from namespace `netns` with the machine's busybox
/// (3 s at most); the body, trimmed, or `None` if it fails.
pub fn http_get(netns: &str, url: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "/bin/busybox", "timeout", "3", "/bin/busybox", "wget", "-q", "-O", "-", url])
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Sends one UDP datagram from namespace `netns` to `addr` and returns the
/// answer, or `None` without one within a second.
pub fn fetch_udp(netns: &str, addr: &str) -> Option<String> {
    let (host, port) = addr.rsplit_once(':')?;
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(1)\ns.sendto(b'hi',('{host}',{port}))\nprint(s.recv(200).decode(),end='')"
    );
    python_in(netns, &script)
}

/// The running tasks of `service`: task id -> address on its first
/// network.
pub fn running_addresses(node: &super::Node, service: &str) -> std::collections::BTreeMap<String, String> {
    node.tasks(service)
        .iter()
        .filter(|t| t["DesiredState"] == "running" && t["Status"]["State"] == "running")
        .filter_map(|t| {
            let addr = t["NetworksAttachments"][0]["Addresses"][0].as_str()?;
            Some((t["ID"].as_str()?.to_string(), addr.split('/').next()?.to_string()))
        })
        .collect()
}

/// Starts service `name` with one task on host-1, on `network` only,
/// running `program` (python3 -c, listening on port 8000); returns its
/// namespace and address once it answers there from its own namespace.
pub fn lone_task(manager: &super::Node, name: &str, network: &str, program: &str) -> (String, String) {
    let on_host_1 = ["--network", network, "--constraint", "node.hostname==host-1", "/usr/bin/python3", "-c", program];
    manager.ok(&[&["service", "create", "--detach", "--name", name][..], &on_host_1[..]].concat());
    super::wait_until(WAIT, &format!("{name}'s task running"), || running_addresses(manager, name).len() == 1);
    let (id, addr) = running_addresses(manager, name).into_iter().next().unwrap_or_default();
    let netns = format!("shoal-{id}");
    super::wait_until(WAIT, &format!("{name}'s task answering at {addr}"), || {
        fetch(&netns, &format!("{addr}:8000")).is_some()
    });
    (netns, addr)
}

/// How long [`lone_task`] waits for each step.
const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A cluster on `hosts`: the first runs the manager, the others join as
/// workers (hostnames host-1, host-2...); returns once every node is Ready.
pub fn cluster(hosts: &Hosts) -> (super::Node, Vec<super::Node>) {
    cluster_with_docker(hosts, None)
}

/// [`cluster`] whose daemons use the Docker Engine at `docker_host`
/// (`None`: none answers).
pub fn cluster_with_docker(hosts: &Hosts, docker_host: Option<&str>) -> (super::Node, Vec<super::Node>) {
    let start = |i: usize| {
        super::Node::start_with_docker(&format!("host-{}", i + 1), Some(&hosts.names[i]), &hosts.addrs[i], docker_host)
    };
    let manager = start(0);
    manager.ok(&["node", "init"]);
    let (token, addr) = manager.join_token("worker");
    let workers: Vec<super::Node> = (1..hosts.names.len())
        .map(|i| {
            let node = start(i);
            node.ok(&["node", "join", "--token", &token, &addr]);
            node
        })
        .collect();
    super::wait_until(std::time::Duration::from_secs(30), "every node Ready", || {
        let out = manager.ok(&["node", "ls", "--format", "{{.Status}}"]);
        out.lines().filter(|l| *l == "Ready").count() == hosts.names.len()
    });
    (manager, workers)
}

pub struct Hosts {
    /// The hosts' namespace names.
    pub names: Vec<String>,
    /// Each host's address on the switch.
    pub addrs: Vec<String>,
    /// The switch's namespace: it has an address of its own,
    /// [`CLIENT_ADDR`], to be a client of the hosts from.
    pub switch: String,
}

/// The switch's own address.
pub const CLIENT_ADDR: &str = "192.168.77.254";

/// Where the hosts' daemons forward names that are not the cluster's
/// (`shoal daemon --dns`): a [`resolver`] on the switch, when a test
/// starts one.
pub const RESOLVER: &str = "192.168.77.254:5353";

/// A program (`python3 -c`) running in the switch's namespace; stopped
/// when dropped.
pub struct OnSwitch(std::process::Child);

impl OnSwitch {
    pub fn python(hosts: &Hosts, program: &str, args: &[&str]) -> OnSwitch {
        let child = Command::new("ip")
            .args(["netns", "exec", &hosts.switch, "/usr/bin/python3", "-c", program])
            .args(args)
            .spawn()
            .expect("start a program on the switch");
        OnSwitch(child)
    }
}

impl Drop for OnSwitch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a DNS server on [`RESOLVER`] answering every A query with
/// `answer` (other queries with none).
pub fn resolver(hosts: &Hosts, answer: &str) -> OnSwitch {
    resolver_at(hosts, RESOLVER, answer)
}

/// [`resolver`] on `addr` (IP:PORT, the IP the switch's).
pub fn resolver_at(hosts: &Hosts, addr: &str, answer: &str) -> OnSwitch {
    OnSwitch::python(hosts, RESOLVER_PROGRAM, &[addr, answer])
}

const RESOLVER_PROGRAM: &str = r#"
import socket, struct, sys
host, port = sys.argv[1].split(":")
addr = socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((host, int(port)))
while True:
    q, peer = s.recvfrom(512)
    try:
        end = q.index(b"\0", 12) + 5
        qtype = struct.unpack(">H", q[end - 4:end - 2])[0]
    except (ValueError, struct.error):
        continue
    answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + addr if qtype == 1 else b""
    counts = struct.pack(">HHHH", 1, 1 if answer else 0, 0, 0)
    s.sendto(q[:2] + b"\x81\x80" + counts + q[12:end] + answer, peer)
"#;

impl Hosts {
    /// `n` hosts, 192.168.77.1, .2... on one switch.
    pub fn new(n: usize) -> Hosts {
        let tag = format!("shoal-t{:08x}", rand::random::<u32>());
        let switch = format!("{tag}-sw");
        let mut hosts = Hosts { names: Vec::new(), addrs: Vec::new(), switch: switch.clone() };
        ip(&["netns", "add", &switch]);
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &switch, "link", "set", "br0", "up"]);
        ip(&["-n", &switch, "addr", "add", &format!("{CLIENT_ADDR}/24"), "dev", "br0"]);
        for i in 0..n {
            let name = format!("{tag}-h{i}");
            let addr = format!("192.168.77.{}", i + 1);
            ip(&["netns", "add", &name]);
            hosts.names.push(name.clone());
            let port = format!("p{i}");
            ip(&["-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &name]);
            ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"]);
            ip(&["-n", &name, "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            ip(&["-n", &name, "link", "set", "eth0", "up"]);
            ip(&["-n", &name, "link", "set", "lo", "up"]);
            hosts.addrs.push(addr);
        }
        hosts
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for name in self.names.iter().chain([&self.switch]) {
            remove_netns(name);
        }
    }
}
