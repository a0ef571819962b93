//! Service discovery: a DNS responder in each task namespace, on
//! 127.0.0.11:53 (the task's resolv.conf names it), answering from the
//! network map: `NAME` (and its aliases, and its short name in its stack)
//! with the service's VIP on the task's networks, or its tasks' addresses
//! with DNS round robin; `tasks.NAME` with the tasks' addresses. Other
//! names go to the task's nameservers (`--dns`), else to the node's own
//! resolver. Messages are read and written with hickory-proto.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Metadata, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType, rdata::A};
use shoal_proto::{NetworkMap, ServiceEntry};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tracing::debug;

use crate::services::{self, host};

/// Where tasks find the responder (as Docker's embedded DNS).
pub const ADDR: &str = "127.0.0.11:53";
/// How long a forwarded query may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The addresses `name` stands for among `entries`; `None` if it is not
/// one of theirs.
pub fn lookup(entries: &[&ServiceEntry], name: &str) -> Option<Vec<Ipv4Addr>> {
    let (tasks_of, name) = match name.strip_prefix("tasks.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let named = |e: &&&ServiceEntry| {
        e.name.eq_ignore_ascii_case(name) || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    };
    let entry = entries.iter().find(named)?;
    let tasks = || entry.tasks.iter().filter_map(|t| host(t)).collect();
    Some(match (tasks_of, host(&entry.vip)) {
        (false, Some(vip)) => vec![vip],
        _ => tasks(),
    })
}

/// The answer to `query` from `lookup`, or `None` for a name it does not
/// know (to forward) or a message that cannot be read.
pub fn answer(query: &[u8], lookup: impl Fn(&str) -> Option<Vec<Ipv4Addr>>) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries.first()?;
    let name = question.name().to_lowercase().to_ascii();
    let addrs = lookup(name.strip_suffix('.').unwrap_or(&name))?;
    let mut response = response_to(&request, ResponseCode::NoError);
    response.metadata.authoritative = true;
    // A known name asked for another type (AAAA): no records, no error.
    if matches!(question.query_type(), RecordType::A | RecordType::ANY) {
        for addr in addrs {
            response.add_answer(Record::from_rdata(question.name().clone(), 0, RData::A(A(addr))));
        }
    }
    finish(&request, response)
}

/// SERVFAIL for `query` (its upstream did not answer).
pub fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    finish(&request, response_to(&request, ResponseCode::ServFail))
}

fn response_to(request: &Message, code: ResponseCode) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata = Metadata::response_from_request(&request.metadata);
    response.metadata.recursion_available = true;
    response.metadata.response_code = code;
    response.add_queries(request.queries.iter().cloned());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        response.set_edns(edns);
    }
    response
}

/// The response's bytes, truncated (TC set) beyond what the client takes.
fn finish(request: &Message, response: Message) -> Option<Vec<u8>> {
    let limit = request.edns.as_ref().map_or(512, |e| e.max_payload().max(512)) as usize;
    let bytes = response.to_vec().ok()?;
    if bytes.len() <= limit { Some(bytes) } else { response.truncate().to_vec().ok() }
}

/// The node's resolver, from its resolv.conf: queries for names that are
/// not the cluster's go there.
pub fn upstream() -> Option<SocketAddr> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    let server = conf.lines().find_map(|l| l.trim().strip_prefix("nameserver"))?.trim();
    let ip: std::net::IpAddr = server.parse().ok()?;
    Some(SocketAddr::new(ip, 53))
}

/// The resolvers of names that are not the cluster's for a task whose
/// spec names `nameservers` (IP addresses, port 53), else `node`'s.
pub fn upstreams(nameservers: &[String], node: Option<SocketAddr>) -> Vec<SocketAddr> {
    let given: Vec<SocketAddr> =
        nameservers.iter().filter_map(|s| shoal_proto::parse_ip(s)).map(|ip| SocketAddr::new(ip, 53)).collect();
    if given.is_empty() { node.into_iter().collect() } else { given }
}

/// Starts the responder of the task whose namespace is at `netns`, on its
/// `networks`, answering from `map` as it changes and asking `upstreams`,
/// in turn, the rest. The socket is opened in the namespace; the
/// responder runs until the handle is aborted.
pub fn serve(
    netns: &Path,
    networks: Vec<String>,
    map: Arc<RwLock<NetworkMap>>,
    upstreams: Vec<SocketAddr>,
) -> std::io::Result<JoinHandle<()>> {
    let socket = crate::netns::run_in(netns, || {
        let socket = std::net::UdpSocket::bind(ADDR)?;
        socket.set_nonblocking(true)?;
        Ok::<_, std::io::Error>(socket)
    })
    .map_err(std::io::Error::other)??;
    let socket = Arc::new(UdpSocket::from_std(socket)?);
    let upstreams: Arc<[SocketAddr]> = upstreams.into();
    Ok(tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
            let query = buf[..n].to_vec();
            let local = {
                let map = map.read().unwrap_or_else(|e| e.into_inner());
                let entries = services::entries(&map, &networks);
                answer(&query, |name| lookup(&entries, name))
            };
            match local {
                Some(reply) => {
                    let _ = socket.send_to(&reply, peer).await;
                }
                None => {
                    let (socket, upstreams) = (socket.clone(), upstreams.clone());
                    tokio::spawn(async move {
                        let mut reply = None;
                        for upstream in upstreams.iter() {
                            reply = forward(&query, *upstream).await;
                            if reply.is_some() {
                                break;
                            }
                        }
                        if let Some(reply) = reply.or_else(|| servfail(&query)) {
                            let _ = socket.send_to(&reply, peer).await;
                        }
                    });
                }
            }
        }
    }))
}

/// Sends `query` to `upstream` (from the node's namespace) and returns
/// its answer.
async fn forward(query: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind(if upstream.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }).await.ok()?;
    socket.connect(upstream).await.ok()?;
    socket.send(query).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let reply = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
        loop {
            let n = socket.recv(&mut buf).await.ok()?;
            // The same id: the answer to this query.
            if n >= 2 && query.len() >= 2 && buf[..2] == query[..2] {
                return Some(buf[..n].to_vec());
            }
        }
    })
    .await;
    if reply.is_err() {
        debug!(%upstream, "the resolver did not answer in time");
    }
    reply.ok().flatten()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    use super::*;

    fn query(name: &str, kind: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_str(name).unwrap(), kind));
        m.to_vec().unwrap()
    }

    fn entry(name: &str, aliases: &[&str], vip: &str, tasks: &[&str]) -> ServiceEntry {
        ServiceEntry {
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            vip: vip.into(),
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn names_stand_for_the_vip_or_the_tasks() {
        let web = entry("demo_web", &["web", "www"], "10.0.1.2/24", &["10.0.1.3/24", "10.0.1.4/24"]);
        let rr = entry("rr", &[], "", &["10.0.1.5/24"]);
        let entries = [&web, &rr];
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(lookup(&entries, "demo_web"), Some(vec![ip("10.0.1.2")]));
        assert_eq!(lookup(&entries, "WWW"), Some(vec![ip("10.0.1.2")]));
        assert_eq!(lookup(&entries, "tasks.web"), Some(vec![ip("10.0.1.3"), ip("10.0.1.4")]));
        assert_eq!(lookup(&entries, "rr"), Some(vec![ip("10.0.1.5")]));
        assert_eq!(lookup(&entries, "nope"), None);
    }

    #[test]
    fn a_tasks_nameservers_replace_the_nodes() {
        let node: SocketAddr = "192.0.2.53:53".parse().unwrap();
        assert_eq!(upstreams(&[], Some(node)), [node]);
        assert_eq!(upstreams(&[], None), []);
        let given = upstreams(&["10.0.0.2".into(), "::1".into()], Some(node));
        assert_eq!(given, ["10.0.0.2:53".parse::<SocketAddr>().unwrap(), "[::1]:53".parse().unwrap()]);
    }

    #[test]
    fn answers_are_dns_messages() {
        let known = |n: &str| (n == "tasks.echo").then(|| vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]);
        let reply = Message::from_vec(&answer(&query("Tasks.Echo.", RecordType::A), known).unwrap()).unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(reply.metadata.authoritative && reply.metadata.recursion_available);
        assert_eq!(reply.answers.len(), 2);
        assert_eq!(reply.answers[0].data, RData::A(A(Ipv4Addr::new(10, 0, 0, 2))));
        // A known name, another type: no records, no error.
        let aaaa = Message::from_vec(&answer(&query("tasks.echo.", RecordType::AAAA), known).unwrap()).unwrap();
        assert!(aaaa.answers.is_empty());
        assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
        // Unknown names are forwarded; garbage is not answered.
        assert!(answer(&query("example.org.", RecordType::A), known).is_none());
        assert!(answer(b"\x01\x02garbage", known).is_none());
        let fail = Message::from_vec(&servfail(&query("x.", RecordType::A)).unwrap()).unwrap();
        assert_eq!(fail.metadata.response_code, ResponseCode::ServFail);
        // Too many addresses for 512 bytes: truncated.
        let many = |_: &str| Some((0..100).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect());
        let big = Message::from_vec(&answer(&query("big.", RecordType::A), many).unwrap()).unwrap();
        assert!(big.metadata.truncation && big.answers.is_empty());
    }
}
