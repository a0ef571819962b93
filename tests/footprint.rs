//! Per-task memory: each task's `shoal-shim` stays smaller than Docker's
//! per-container shim (2.4 MB private; docs/benchmarks.md has the figures
//! and `benches/footprint.rs` measures both side by side).

mod common;

use std::time::Duration;

use common::{Node, wait_until};

/// A field of /proc/PID/smaps_rollup, in kB.
fn rollup(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_shim_holds_less_private_memory_than_dockers() {
    let node = Node::init("node-a");
    node.ok(&["service", "create", "--detach", "--name", "small", "sleep", "1000"]);
    wait_until(Duration::from_secs(30), "the task running", || node.replicas("small") == "1/1");
    let id = node.task_ids().pop().expect("a task");
    let recorded = std::fs::read_to_string(node.data_dir().join("worker/tasks").join(id).join("shim.pid")).unwrap();
    let pid: i32 = recorded.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(rollup(pid, "AnonHugePages"), 0, "the shim's heap in huge pages");
    let private = rollup(pid, "Private_Dirty");
    assert!(private < 1024, "a shim holds {private} kB of private memory");
}
