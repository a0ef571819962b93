//! Memory of the machinery that runs tasks, shoal beside Docker, measured
//! in one run: idle, then with TASKS (100) tasks of `sleep` each.
//!
//! - shoal: the daemon (a one-node cluster: manager and worker) and each
//!   task's `shoal-shim`;
//! - Docker: `dockerd`, `containerd` and each container's
//!   `containerd-shim-runc-v2` (`docker run -d --network none` of an
//!   image imported from busybox-static, labelled and removed at the end).
//!
//! The tasks' own processes are left out on both sides. RSS counts each
//! process's resident pages; PSS shares a page among the processes that
//! map it, so a sum of PSS counts shared pages (libraries, the one
//! binary of many shims) once. Prints the figures; passes or fails
//! nothing. Needs root, Docker and busybox-static. Run:
//! `cargo test --release --bench footprint` (or without `--release`, the
//! debug build), TASKS=N.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Duration;

use common::images::{BusyboxImage, docker};
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(300);

/// RSS and PSS of a set of processes, in kB.
#[derive(Default, Clone, Copy)]
struct Memory {
    rss: u64,
    pss: u64,
    private_dirty: u64,
    processes: usize,
}

impl Memory {
    fn of(pids: &[i32]) -> Memory {
        let mut m = Memory::default();
        for pid in pids {
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else { continue };
            let field = |name: &str| -> u64 {
                let line = text.lines().find(|l| l.starts_with(&format!("{name}:")));
                line.and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
            };
            m.rss += field("Rss");
            m.pss += field("Pss");
            m.private_dirty += field("Private_Dirty");
            m.processes += 1;
        }
        m
    }
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn pids_named(name: &str) -> Vec<i32> {
    let out = Command::new("pgrep").args(["-x", name]).output().expect("pgrep");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The bench's containers and image, removed when dropped (also on a panic).
struct DockerSide {
    image: BusyboxImage,
}

impl DockerSide {
    fn new() -> DockerSide {
        DockerSide { image: BusyboxImage::import("footprint", &["sleep"]) }
    }

    fn run(&self, n: usize) {
        let (label, name) = (&self.image.label, &self.image.name);
        for _ in 0..n {
            docker(&["run", "-d", "--network", "none", "--label", label, name, "/bin/sleep", "100000"]);
        }
    }

    /// The shims of this bench's containers.
    fn shims(&self) -> Vec<i32> {
        let ids = self.image.containers(false);
        pids_named("containerd-shim")
            .into_iter()
            .chain(pids_named("containerd-shim-runc-v2"))
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                ids.iter().any(|id| cmdline.contains(id.as_str()))
            })
            .collect()
    }

    fn engine() -> Vec<i32> {
        pids_named("dockerd").into_iter().chain(pids_named("containerd")).collect()
    }
}

/// The pids of the shims of `node`'s tasks.
fn shoal_shims(node: &Node) -> Vec<i32> {
    node.task_ids()
        .iter()
        .filter_map(|id| std::fs::read_to_string(node.data_dir().join("worker/tasks").join(id).join("shim.pid")).ok())
        .filter_map(|text| text.split_whitespace().next().and_then(|p| p.parse().ok()))
        .collect()
}

fn row(what: &str, idle: Memory, busy: Memory, engine_busy: Memory, shims: Memory, tasks: usize) {
    let one = |kb: u64| mb(kb / shims.processes.max(1) as u64);
    println!(
        "| {what} | {} / {} | {} / {} | {} | {} | {} / {} | {} |",
        mb(idle.rss),
        mb(idle.pss),
        mb(busy.rss),
        mb(busy.pss),
        mb(engine_busy.pss),
        mb(shims.pss),
        one(shims.rss),
        one(shims.private_dirty),
        mb((busy.pss.saturating_sub(idle.pss)) / tasks.max(1) as u64),
    );
}

fn main() {
    let tasks: usize = std::env::var("TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    common::set_log_level("info");
    println!("footprint of {tasks} tasks (sleep), shoal beside Docker, this machine, one run:");

    let node = Node::init("footprint");
    wait_until(WAIT, "the node ready", || node.ok(&["node", "ls", "-q"]).lines().count() == 1);
    let daemon = [node.pid() as i32];
    let shoal_idle = Memory::of(&daemon);
    node.ok(&["service", "create", "--detach", "--name", "fp", "--replicas", &tasks.to_string(), "sleep", "100000"]);
    let want = format!("{tasks}/{tasks}");
    wait_until(WAIT, "every shoal task running", || node.replicas("fp") == want);
    let shims = shoal_shims(&node);
    assert_eq!(shims.len(), tasks, "one shim per task");
    let shoal_daemon = Memory::of(&daemon);
    let shoal_shims_memory = Memory::of(&shims);
    let shoal_busy = Memory::of(&[daemon.as_slice(), &shims].concat());
    node.ok(&["service", "rm", "fp"]);
    wait_until(WAIT, "the shoal tasks gone", || Memory::of(&shims).processes == 0);
    drop(node);

    let side = DockerSide::new();
    let engine_idle = Memory::of(&DockerSide::engine());
    side.run(tasks);
    let shims = side.shims();
    assert_eq!(shims.len(), tasks, "one shim per container");
    let engine_busy = Memory::of(&DockerSide::engine());
    let docker_shims = Memory::of(&shims);
    let docker_busy = Memory::of(&[DockerSide::engine(), shims].concat());
    drop(side);

    println!();
    println!(
        "| | idle: RSS / PSS | {tasks} tasks: RSS / PSS (all) | {tasks} tasks: daemons' PSS | shims' PSS | a shim's RSS / private dirty | PSS added per task |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    row("shoal (daemon + shims)", shoal_idle, shoal_busy, shoal_daemon, shoal_shims_memory, tasks);
    row("Docker (dockerd + containerd + shims)", engine_idle, docker_busy, engine_busy, docker_shims, tasks);
}
