//! `shoal daemon`: its flags, parsed into a [`NodeConfig`] and handed to
//! `shoal-node`, which runs the node until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use shoal_manager::raft::RaftTiming;
use shoal_node::{NodeConfig, addr};

pub use shoal_node::certs;

/// Flags of `shoal daemon`.
#[derive(clap::Args, Debug, Clone)]
pub struct DaemonArgs {
    /// Where the node keeps its state (raft log, tasks, certificates)
    #[arg(long, value_name = "DIR", default_value = "/var/lib/shoal")]
    pub data_dir: PathBuf,
    /// Local control socket [default: <data-dir>/shoal.sock]
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Where the Docker Engine API is served, for the docker CLI and Swarm tools
    /// (`DOCKER_HOST=unix://PATH`), or none [default: <data-dir>/docker.sock]
    #[arg(long, value_name = "PATH|none", env = "SHOAL_DOCKER_API_SOCKET")]
    pub docker_api_socket: Option<PathBuf>,
    /// Also serve the Docker Engine API over TCP at ADDR (managers; off unless given), HTTPS
    /// for admin certificates only: `DOCKER_HOST=tcp://ADDR DOCKER_TLS_VERIFY=1
    /// DOCKER_CERT_PATH=<shoal cluster admin create --out>`
    #[arg(long, value_name = "IP:PORT", env = "SHOAL_DOCKER_API_ADDR", value_parser = ip_port)]
    pub docker_api_addr: Option<SocketAddr>,
    /// Address the node endpoint (gRPC) listens on
    #[arg(long, value_name = "IP:PORT", default_value = "0.0.0.0:4242", value_parser = addr::parse_listen)]
    pub listen_addr: SocketAddr,
    /// Address other nodes reach this node at [default: the listen address, or this host's first IPv4 address]
    #[arg(long, value_name = "IP[:PORT]")]
    pub advertise_addr: Option<String>,
    /// Hostname this node reports [default: the machine's hostname]
    #[arg(long)]
    pub hostname: Option<String>,
    /// Engine label of this node (KEY=VALUE), for `engine.labels.KEY` constraints
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = crate::cli::args::key_value)]
    pub labels: Vec<(String, String)>,
    /// Raft heartbeat interval between managers (ms|s)
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = parse_millis)]
    pub raft_heartbeat: u64,
    /// Raft election timeout: a follower that hears no leader for this long
    /// (randomised up to twice as long) starts an election (ms|s)
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_millis)]
    pub raft_election_timeout: u64,
    /// The overlay data path (VXLAN, a network namespace per task): off
    /// runs every task in this node's network, for several daemons in one
    /// network namespace
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pub data_path: String,
    /// The resolver the tasks' DNS responders forward names that are not
    /// the cluster's to [default: the first nameserver of /etc/resolv.conf]
    #[arg(long, value_name = "IP[:PORT]", value_parser = resolver)]
    pub dns: Option<SocketAddr>,
    /// The Docker Engine this node reports and (with the docker runtime)
    /// runs images on, or none
    #[arg(long, value_name = "unix://PATH|none", default_value = "unix:///var/run/docker.sock", value_parser = docker_host)]
    pub docker_host: DockerHost,
    /// Serve Prometheus metrics at http://ADDR/metrics (off unless given; Docker uses 127.0.0.1:9323)
    #[arg(long, value_name = "IP:PORT", env = "SHOAL_METRICS_ADDR", value_parser = ip_port)]
    pub metrics_addr: Option<SocketAddr>,
    /// Serve the live web view at ADDR (managers; off unless given): plain HTTP on a loopback
    /// address, else HTTPS for admin certificates only
    #[arg(long, value_name = "IP:PORT", env = "SHOAL_WEB_ADDR", value_parser = ip_port)]
    pub web_addr: Option<SocketAddr>,
    /// Most cluster events a manager keeps for `shoal events --since` (0: none, and no live events)
    #[arg(long, value_name = "N", default_value = "10000", value_parser = crate::cli::args::count)]
    pub events_max: u64,
    /// Oldest cluster event a manager keeps (ns|us|ms|s|m|h)
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::cli::args::duration_ns)]
    pub events_max_age: i64,
    /// Log level: error, warn, info, debug or trace
    #[arg(long, default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,
}

/// `--dns`: an IP address, port 53 unless given.
fn resolver(text: &str) -> Result<SocketAddr, String> {
    addr::with_default_port(text, 53).ok_or_else(|| format!("expected an IP address or IP:PORT, got {text:?}"))
}

/// `--metrics-addr`, `--web-addr`: an IP and port.
fn ip_port(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| format!("expected IP:PORT such as 127.0.0.1:9323, got {text:?}"))
}

/// `--docker-host`: the engine's unix socket, or none.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerHost(Option<PathBuf>);

fn docker_host(text: &str) -> Result<DockerHost, String> {
    match text.strip_prefix("unix://") {
        _ if text == "none" => Ok(DockerHost(None)),
        Some(path) if path.starts_with('/') => Ok(DockerHost(Some(PathBuf::from(path)))),
        _ => Err(format!("expected unix:///PATH (the Docker Engine's socket) or none, got {text:?}")),
    }
}

/// A duration flag in whole milliseconds (at least 1 ms).
fn parse_millis(text: &str) -> Result<u64, String> {
    let ns = shoal_spec::text::duration::parse(text)?;
    let ms = (ns / 1_000_000) as u64;
    if ms == 0 {
        return Err(format!("expected at least 1ms, got {text:?}"));
    }
    Ok(ms)
}

/// The log filter for `--log-level`: openraft's warnings only (it warns
/// of every unreachable peer), and below trace, no frame-by-frame logs of
/// the TLS and HTTP/2 libraries.
fn log_filter(level: &str) -> String {
    let quiet = if level == "trace" {
        ""
    } else {
        ",h2=info,rustls=info,hyper=info,hyper_util=info,tower=info,tonic=info,bollard=info"
    };
    format!("{level},openraft=warn{quiet}")
}

impl DaemonArgs {
    /// The node's settings; refuses flags that do not fit together.
    fn config(self) -> Result<NodeConfig> {
        if self.raft_heartbeat * 2 > self.raft_election_timeout {
            anyhow::bail!(
                "--raft-heartbeat: expected at most half of --raft-election-timeout ({}ms), got {}ms",
                self.raft_election_timeout,
                self.raft_heartbeat
            );
        }
        Ok(NodeConfig {
            socket: self.socket.unwrap_or_else(|| self.data_dir.join("shoal.sock")),
            docker_api_socket: match self.docker_api_socket {
                Some(path) if path.as_os_str() == "none" => None,
                Some(path) => Some(path),
                None => Some(self.data_dir.join("docker.sock")),
            },
            docker_api_addr: self.docker_api_addr,
            data_dir: self.data_dir,
            listen_addr: self.listen_addr,
            advertise_addr: self.advertise_addr,
            hostname: self.hostname,
            engine_labels: self.labels.into_iter().collect(),
            timing: RaftTiming {
                heartbeat_ms: self.raft_heartbeat,
                election_timeout_min_ms: self.raft_election_timeout,
                election_timeout_max_ms: self.raft_election_timeout * 2,
            },
            data_path: self.data_path == "on",
            dns: self.dns,
            docker: self.docker_host.0,
            metrics_addr: self.metrics_addr,
            web_addr: self.web_addr,
            events: shoal_manager::store::events::Limits {
                max_events: usize::try_from(self.events_max).unwrap_or(usize::MAX),
                max_age: Duration::from_nanos(self.events_max_age.max(0) as u64),
            },
        })
    }
}

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(args: DaemonArgs) -> Result<()> {
    let log_level = args.log_level.clone();
    let config = args.config()?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(log_filter(&log_level)))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    Ok(runtime.block_on(shoal_node::serve(config, signal()))?)
}

/// SIGINT or SIGTERM, listened for once the node is up (the future runs
/// from then on; before, a signal stops the daemon at once).
async fn signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        },
        Err(e) => {
            eprintln!("Error: listening for SIGTERM: {e}: stop the daemon with SIGINT");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolver_is_an_ip_with_port_53_unless_given() {
        assert_eq!(resolver("10.1.2.3"), Ok("10.1.2.3:53".parse().unwrap()));
        assert_eq!(resolver("10.1.2.3:5353"), Ok("10.1.2.3:5353".parse().unwrap()));
        assert_eq!(resolver("::1"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(resolver("dns.example"), Err("expected an IP address or IP:PORT, got \"dns.example\"".into()));
    }

    #[test]
    fn the_docker_host_is_a_unix_socket() {
        assert_eq!(docker_host("unix:///run/docker.sock"), Ok(DockerHost(Some("/run/docker.sock".into()))));
        assert_eq!(docker_host("none"), Ok(DockerHost(None)));
        for bad in ["tcp://10.0.0.1:2375", "/run/docker.sock", "unix://run/docker.sock"] {
            assert!(docker_host(bad).unwrap_err().starts_with("expected unix:///PATH"), "{bad}");
        }
    }
}
