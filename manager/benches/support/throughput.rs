//! Store write throughput through real raft (RocksDB log synced to disk
//! before a write is acknowledged), measured side by side: one op per
//! proposal one at a time, the same from 64 and from 1024 concurrent
//! writers (group commit), and large batches, each with the CPU it used;
//! first with one voter, then with three voters replicating over mTLS gRPC
//! on loopback, each set-up in a process of its own (so that one does not
//! pay for freeing the other's store). Shared by the `store_write` bench
//! (mimalloc, as the `shoal` binary) and `store_write_glibc` (the system
//! allocator), which `cargo bench --workspace --bench 'store_write*'` runs
//! one after the other. Each set-up runs twice, keeping the cluster's
//! events (the default) and not (`--events-max 0`), for the cost of the
//! event history on the write path. Prints figures; passes or fails
//! nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openraft::BasicNode;
use shoal_manager::ca::RootCa;
use shoal_manager::ids::new_id;
use shoal_manager::ops;
use shoal_manager::proposer::Proposer;
use shoal_manager::raft::{self, RaftService, RaftTiming};
use shoal_manager::store::events::Limits;
use shoal_proto::raft_server::RaftServer;
use shoal_proto::transport::{self, Credentials, Role};
use shoal_proto::{ContainerSpec, Op, Task, TaskSpec, TaskState, TaskStatus, store_object::Object};
use tokio_util::sync::CancellationToken;

const RUN: Duration = Duration::from_secs(3);

fn task_op() -> Op {
    let task = Task {
        id: new_id(),
        service_id: "bench-service-id-000000000".into(),
        slot: 1,
        service_name: "bench".into(),
        spec: Some(TaskSpec {
            container: Some(ContainerSpec { image: "sleep".into(), args: vec!["1000".into()], ..Default::default() }),
            ..Default::default()
        }),
        desired_state: TaskState::Running as i32,
        status: Some(TaskStatus { state: TaskState::Pending as i32, message: "pending".into(), ..Default::default() }),
        ..Default::default()
    };
    ops::create(Object::Task(task))
}

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the
    // 12th, stime the 13th, in clock ticks (100 per second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Runs `writers` concurrent loops of proposals of `batch` ops for RUN;
/// returns ops/s, proposals/s and the CPU used (1.0 = one core busy).
async fn measure(proposer: &Proposer, writers: usize, batch: usize) -> (f64, f64, f64) {
    let proposals = Arc::new(AtomicU64::new(0));
    let cpu = cpu_time();
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..writers {
        let (proposer, proposals) = (proposer.clone(), proposals.clone());
        handles.push(tokio::spawn(async move {
            while start.elapsed() < RUN {
                let ops = (0..batch).map(|_| task_op()).collect();
                proposer.propose(ops).await.expect("proposal");
                proposals.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let p = proposals.load(Ordering::Relaxed) as f64;
    (p * batch as f64 / secs, p / secs, (cpu_time() - cpu).as_secs_f64() / secs)
}

/// Prints the three measurements for one set-up.
async fn report(title: &str, proposer: &Proposer) {
    println!("{title} ({}s each)", RUN.as_secs());
    let (single, _, cpu) = measure(proposer, 1, 1).await;
    println!("  1 writer,  1 op/proposal:     {single:>10.0} ops/s (CPU {cpu:.2} cores)");
    let (concurrent, props, cpu) = measure(proposer, 64, 1).await;
    println!("  64 writers, 1 op/proposal:    {concurrent:>10.0} ops/s ({props:.0} proposals/s, CPU {cpu:.2} cores)");
    let (many, props, cpu) = measure(proposer, 1024, 1).await;
    println!("  1024 writers, 1 op/proposal:  {many:>10.0} ops/s ({props:.0} proposals/s, CPU {cpu:.2} cores)");
    let (batched, props, cpu) = measure(proposer, 1, 1000).await;
    println!("  1 writer,  1000 ops/proposal: {batched:>10.0} ops/s ({props:.1} proposals/s, CPU {cpu:.2} cores)");
    println!(
        "  ratios: 64 writers / 1 writer = {:.1}x; 1024 writers / 1 writer = {:.1}x; batched / 1 writer = {:.1}x",
        concurrent / single,
        many / single,
        batched / single
    );
}

/// A manager's credentials from `ca`.
fn credentials(ca: &RootCa, name: &str) -> Credentials {
    let own = ca.issue(name, Role::Manager, "bench", shoal_manager::ca::DEFAULT_CERT_EXPIRY).unwrap();
    Credentials::new(ca.cert.clone(), own.cert, own.key).unwrap()
}

/// Starts `n` raft voters on 127.0.0.1, each serving raft over mTLS;
/// returns the rafts, the leader's proposer and the data dirs.
async fn voters(
    n: u64,
    events: Limits,
    stop: &CancellationToken,
) -> (Vec<raft::Raft>, Proposer, Vec<tempfile::TempDir>) {
    let ca = RootCa::generate().unwrap();
    let (mut rafts, mut quorums, mut dirs, mut members) = (Vec::new(), Vec::new(), Vec::new(), BTreeMap::new());
    let mut stores = Vec::new();
    for id in 1..=n {
        let dir = tempfile::tempdir().unwrap();
        let creds = credentials(&ca, &format!("m{id}"));
        let raft::Started { raft, quorum, store, .. } =
            raft::start(dir.path(), id, raft::RaftState::New, &RaftTiming::default(), creds.clone()).await.unwrap();
        store.history().set_limits(events);
        stores.push(store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        members.insert(id, BasicNode::new(listener.local_addr().unwrap().to_string()));
        let service = RaftServer::new(RaftService::new(raft.clone(), quorum.contacts().clone()))
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let router = transport::server().add_service(service);
        tokio::spawn(transport::serve(
            router,
            listener,
            creds.server_config().unwrap(),
            stop.clone().cancelled_owned(),
        ));
        rafts.push(raft);
        quorums.push(quorum);
        dirs.push(dir);
    }
    rafts[0].initialize(members).await.unwrap();
    rafts[0].wait(Some(Duration::from_secs(10))).current_leader(1, "leader").await.unwrap();
    let proposer = Proposer::new(quorums.swap_remove(0), stores.swap_remove(0));
    (rafts, proposer, dirs)
}

/// Runs the two set-ups, each in a child process of this bench.
pub fn main(allocator: &str) {
    let arg = |name: &str| std::env::args().find_map(|a| a.strip_prefix(name).map(String::from));
    if let Some(n) = arg("--voters=").and_then(|n| n.parse().ok()) {
        return run(n, arg("--events=").as_deref() != Some("off"));
    }
    println!("allocator: {allocator}");
    for n in [1, 3] {
        for events in ["on", "off"] {
            let exe = std::env::current_exe().expect("this bench's path");
            let status = std::process::Command::new(exe)
                .args([format!("--voters={n}"), format!("--events={events}")])
                .status()
                .expect("run a set-up");
            assert!(status.success(), "the {n}-voter set-up failed");
        }
    }
}

fn run(n: u64, events: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let stop = CancellationToken::new();
        let limits = if events { Limits::default() } else { Limits { max_events: 0, ..Limits::default() } };
        let (rafts, proposer, _dirs) = voters(n, limits, &stop).await;
        let kept = if events { "events kept" } else { "no events (--events-max 0)" };
        let title = match n {
            1 => format!("store write throughput, one raft voter, {kept}"),
            n => format!("store write throughput, {n} raft voters on loopback (mTLS gRPC), {kept}"),
        };
        report(&title, &proposer).await;
        for raft in rafts {
            raft.shutdown().await.unwrap();
        }
        stop.cancel();
    });
}
