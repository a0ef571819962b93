//! Store write throughput through real raft (one voter, RocksDB log
//! synced to disk before a write is acknowledged), measured side by side:
//! one op per proposal one at a time, the same from 64 concurrent
//! writers (group commit), and large batches. Prints figures; passes or
//! fails nothing. Run: `cargo bench -p shoal-manager --bench store_write`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openraft::BasicNode;
use shoal_manager::ids::new_id;
use shoal_manager::ops;
use shoal_manager::proposer::Proposer;
use shoal_manager::raft::{self, RaftTiming};
use shoal_proto::{ContainerSpec, Op, Task, TaskSpec, TaskState, TaskStatus, store_object::Object};

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

/// Runs `writers` concurrent loops of proposals of `batch` ops for RUN;
/// returns ops/s and proposals/s.
async fn measure(proposer: &Proposer, writers: usize, batch: usize) -> (f64, f64) {
    let proposals = Arc::new(AtomicU64::new(0));
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
    (p * batch as f64 / secs, p / secs)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (raft, _store) = raft::start(dir.path(), 1, &RaftTiming::default()).await.unwrap();
        raft.initialize(BTreeMap::from([(1, BasicNode::new("127.0.0.1:1"))])).await.unwrap();
        raft.wait(Some(Duration::from_secs(10))).current_leader(1, "leader").await.unwrap();
        let proposer = Proposer::new(raft.clone());

        println!(
            "store write throughput, one raft voter, RocksDB log fsynced per acknowledged write ({}s each)",
            RUN.as_secs()
        );
        let (single, _) = measure(&proposer, 1, 1).await;
        println!("  1 writer,  1 op/proposal:     {single:>10.0} ops/s");
        let (concurrent, props) = measure(&proposer, 64, 1).await;
        println!("  64 writers, 1 op/proposal:    {concurrent:>10.0} ops/s ({props:.0} proposals/s)");
        let (batched, props) = measure(&proposer, 1, 1000).await;
        println!("  1 writer,  1000 ops/proposal: {batched:>10.0} ops/s ({props:.1} proposals/s)");
        println!(
            "  ratios: 64 writers / 1 writer = {:.1}x; batched / 1 writer = {:.1}x",
            concurrent / single,
            batched / single
        );
        raft.shutdown().await.unwrap();
    });
}
