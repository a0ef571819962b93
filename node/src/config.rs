//! What a node is started with (`shoal daemon`'s flags, parsed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use shoal_manager::raft::RaftTiming;

/// A node's settings, checked by whoever parsed them.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the node keeps its state (raft log, tasks, certificates).
    pub data_dir: PathBuf,
    /// The local control socket.
    pub socket: PathBuf,
    /// Where the Docker Engine API is served (`None`: not at all).
    pub docker_api_socket: Option<PathBuf>,
    /// Where the Docker Engine API is also served over TCP, HTTPS for
    /// admin certificates (managers only).
    pub docker_api_addr: Option<SocketAddr>,
    /// Where the node endpoint listens, unless the membership recorded
    /// another place.
    pub listen_addr: SocketAddr,
    /// `--advertise-addr` as given (`IP[:PORT]`).
    pub advertise_addr: Option<String>,
    /// The hostname this node reports (`None`: the machine's).
    pub hostname: Option<String>,
    /// Engine labels, for `engine.labels.KEY` constraints.
    pub engine_labels: HashMap<String, String>,
    /// Raft timing of this node's manager.
    pub timing: RaftTiming,
    /// Where `/metrics` is served (`None`: not at all).
    pub metrics_addr: Option<SocketAddr>,
    /// Where the web view is served (`None`: not at all).
    pub web_addr: Option<SocketAddr>,
    /// How much event history its manager keeps (`shoal events --since`).
    pub events: shoal_manager::store::events::Limits,
    /// The overlay data path (VXLAN, a network namespace per task).
    pub data_path: bool,
    /// The resolver the tasks' DNS responders forward other names to
    /// (`None`: the node's own).
    pub dns: Option<SocketAddr>,
    /// The Docker Engine's socket (`None`: the node uses no Docker).
    pub docker: Option<PathBuf>,
}
