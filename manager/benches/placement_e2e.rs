//! End-to-end placement throughput: one manager (a real raft voter with
//! its RocksDB log synced to disk) runs the orchestrator and scheduler
//! loops over N simulated nodes, registered in the store as Ready (no
//! processes: a bench-only fake, nothing heartbeats). A service of R
//! replicas is created; the clock runs until every task is ASSIGNED in
//! the applied (so committed) state. Set-ups: 100k replicas on 1,000 nodes
//! (swarmkit's own benchmark: 22.6 s, ~4.4k tasks/s) and on 5,000 nodes.
//! `cargo bench -p shoal-manager --bench placement_e2e`. Prints figures;
//! passes or fails nothing.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use openraft::BasicNode;
use shoal_manager::ca::{DEFAULT_CERT_EXPIRY, RootCa};
use shoal_manager::ops;
use shoal_manager::orchestrator::Orchestrator;
use shoal_manager::proposer::Proposer;
use shoal_manager::raft::{self, RaftTiming};
use shoal_manager::scheduler::Scheduler;
use shoal_manager::store::Store;
use shoal_proto::transport::{Credentials, Role};
use shoal_proto::{
    Annotations, ContainerSpec, Node, NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus, Platform,
    ReplicatedService, Resources, Service, ServiceSpec, TaskSpec, TaskState, service_spec::Mode, store_object::Object,
};
use tokio_util::sync::CancellationToken;

const SWARMKIT_TASKS_PER_S: f64 = 100_000.0 / 22.6;

fn node(i: usize) -> Object {
    let mut labels = std::collections::HashMap::new();
    labels.insert("zone".to_string(), ["east", "west", "south", "north"][i % 4].to_string());
    Object::Node(Node {
        id: format!("bench-node-{i:05}"),
        spec: Some(NodeSpec { annotations: Some(Annotations { name: String::new(), labels }), ..Default::default() }),
        description: Some(NodeDescription {
            hostname: format!("host-{i}"),
            platform: Some(Platform { os: "linux".into(), architecture: "x86_64".into() }),
            resources: Some(Resources { nano_cpus: 16_000_000_000, memory_bytes: 64 << 30 }),
            runtimes: vec!["process".into()],
            ..Default::default()
        }),
        status: Some(NodeStatus { state: NodeState::Ready as i32, ..Default::default() }),
        role: NodeRole::Worker as i32,
        ..Default::default()
    })
}

fn service(replicas: u64) -> Object {
    Object::Service(Service {
        id: "bench-service".into(),
        spec_version: 1,
        spec: Some(ServiceSpec {
            annotations: Some(Annotations { name: "bench".into(), ..Default::default() }),
            task: Some(TaskSpec {
                container: Some(ContainerSpec {
                    image: "sleep".into(),
                    args: vec!["1000".into()],
                    ..Default::default()
                }),
                runtime: "process".into(),
                ..Default::default()
            }),
            mode: Some(Mode::Replicated(ReplicatedService { replicas })),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn assigned(store: &Store) -> usize {
    store.view(|s| s.tasks().filter(|t| t.status.as_ref().is_some_and(|st| st.state() == TaskState::Assigned)).count())
}

/// Seconds from the service's commit until all `replicas` tasks are
/// assigned, on `nodes` simulated nodes.
async fn run(nodes: usize, replicas: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let ca = RootCa::generate().unwrap();
    let own = ca.issue("m1", Role::Manager, "bench", DEFAULT_CERT_EXPIRY).unwrap();
    let creds = Credentials::new(ca.cert.clone(), own.cert, own.key).unwrap();
    let raft::Started { raft, store, quorum, .. } =
        raft::start(dir.path(), 1, raft::RaftState::New, &RaftTiming::default(), creds).await.unwrap();
    raft.initialize(BTreeMap::from([(1, BasicNode::new("127.0.0.1:1"))])).await.unwrap();
    raft.wait(Some(Duration::from_secs(10))).current_leader(1, "leader").await.unwrap();
    let proposer = Proposer::new(quorum, store.clone());
    for chunk in (0..nodes).collect::<Vec<_>>().chunks(1000) {
        proposer.propose(chunk.iter().map(|&i| ops::create(node(i))).collect()).await.unwrap();
    }
    let stop = CancellationToken::new();
    tokio::spawn(Orchestrator::new(store.clone(), proposer.clone()).run(stop.clone()));
    tokio::spawn(Scheduler::new(store.clone(), proposer.clone()).run(stop.clone()));

    let start = Instant::now();
    proposer.propose(vec![ops::create(service(replicas))]).await.unwrap();
    let mut applied = store.applied();
    while assigned(&store) < replicas as usize {
        let _ = tokio::time::timeout(Duration::from_millis(50), applied.changed()).await;
    }
    let secs = start.elapsed().as_secs_f64();
    stop.cancel();
    raft.shutdown().await.unwrap();
    secs
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("placement end to end: one raft voter (RocksDB, synced), orchestrator + scheduler loops");
    for (nodes, replicas) in [(1_000, 100_000u64), (5_000, 100_000)] {
        let secs = rt.block_on(run(nodes, replicas));
        let rate = replicas as f64 / secs;
        println!(
            "  {replicas} replicas on {nodes} nodes: {secs:.2} s, {rate:.0} placements/s ({:.1}x swarmkit's 4.4k/s)",
            rate / SWARMKIT_TASKS_PER_S
        );
    }
}
