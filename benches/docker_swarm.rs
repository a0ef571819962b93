//! Docker Swarm beside shoal's docker runtime, on the same Docker Engine
//! and the same image, in one run (issue 23's benchmark): with REPLICAS
//! (50) tasks of a shell that waits and exits on SIGTERM (so that a stop
//! times the orchestrator, not a grace period),
//!
//! - `service create --replicas N` until N containers run;
//! - a rolling `service update --env-add` until N containers run with the
//!   new variable, at `--update-parallelism 0` (all at once), then 5;
//! - `service rm` until the engine has no container of the service left;
//!
//! and, for scale, the engine alone: N `docker run -d` at once, then one
//! `docker rm -f` of them all.
//!
//! Both CLIs are called with `--detach`; every figure is taken by the same
//! observer, the engine's own container list (by the service's label,
//! and the containers' env), polled every 50 ms, so neither side's CLI
//! progress display is timed. ROUNDS (2) rounds, Swarm then shoal each.
//!
//! `docker swarm init` must not touch the machine's engine, so the bench
//! starts a private `dockerd` in a network namespace of its own (its own
//! data and exec roots, socket, containerd and cgroup parent), makes it a
//! one-node swarm on that namespace's loopback, and gives shoal (a
//! one-node cluster on 127.0.0.1) the same engine. The engine runs with
//! `DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1`: Swarm otherwise tries to pull
//! every task's image from a registry first, which this machine cannot
//! reach (shoal pulls only what the engine lacks). Everything is removed
//! at the end, also on failure. Needs root, dockerd, iproute2,
//! util-linux (nsenter) and busybox-static. Run: `cargo bench --bench
//! docker_swarm` (or the debug build's binary).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Node;
use common::engine::PrivateEngine;
use common::images::{BusyboxImage, docker};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(900);
const POLL: Duration = Duration::from_millis(50);
/// What every task runs: waits, and exits at once on SIGTERM.
const TASK: [&str; 3] = ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"];

/// One orchestrator under test.
trait Orchestrator {
    fn name(&self) -> &'static str;
    /// The label filter of the service's containers.
    fn filter(&self, service: &str) -> String;
    fn create(&self, service: &str, replicas: usize, image: &str);
    fn update(&self, service: &str, parallelism: u32, env: &str);
    fn remove(&self, service: &str);
}

struct Swarm;

impl Orchestrator for Swarm {
    fn name(&self) -> &'static str {
        "swarm"
    }

    fn filter(&self, service: &str) -> String {
        format!("label=com.docker.swarm.service.name={service}")
    }

    fn create(&self, service: &str, replicas: usize, image: &str) {
        let n = replicas.to_string();
        let args = ["service", "create", "--detach", "--no-resolve-image", "--name", service, "--replicas", &n];
        docker(&[&args[..], &[image], &TASK[..]].concat());
    }

    fn update(&self, service: &str, parallelism: u32, env: &str) {
        let p = parallelism.to_string();
        docker(&["service", "update", "--detach", "--update-parallelism", &p, "--env-add", env, service]);
    }

    fn remove(&self, service: &str) {
        docker(&["service", "rm", service]);
    }
}

struct Shoal(Node);

impl Orchestrator for Shoal {
    fn name(&self) -> &'static str {
        "shoal"
    }

    fn filter(&self, service: &str) -> String {
        format!("label=io.shoal.service.name={service}")
    }

    fn create(&self, service: &str, replicas: usize, image: &str) {
        let n = replicas.to_string();
        let args = ["service", "create", "--detach", "--runtime", "docker", "--name", service, "--replicas", &n];
        self.0.ok(&[&args[..], &[image], &TASK[..]].concat());
    }

    fn update(&self, service: &str, parallelism: u32, env: &str) {
        let p = parallelism.to_string();
        self.0.ok(&["service", "update", "--detach", "--update-parallelism", &p, "--env-add", env, service]);
    }

    fn remove(&self, service: &str) {
        self.0.ok(&["service", "rm", service]);
    }
}

/// The running containers of `filter`, and how many of them have `env`.
fn running(filter: &str, env: Option<&str>) -> (usize, usize) {
    let ids = docker(&["ps", "-q", "--filter", filter]);
    let ids: Vec<&str> = ids.lines().collect();
    let Some(env) = env.filter(|_| !ids.is_empty()) else { return (ids.len(), 0) };
    let out = Command::new("docker").args(["inspect", "--format", "{{json .Config.Env}}"]).args(&ids).output().unwrap();
    // A container gone between the two calls is simply not counted.
    let text = String::from_utf8_lossy(&out.stdout);
    let with = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e.as_array().is_some_and(|a| a.iter().any(|v| v == env)))
        .count();
    (ids.len(), with)
}

fn time_until(what: &str, start: Instant, mut done: impl FnMut() -> bool) -> Duration {
    loop {
        if done() {
            return start.elapsed();
        }
        assert!(start.elapsed() < DEADLINE, "{what}: not within {DEADLINE:?}");
        std::thread::sleep(POLL);
    }
}

/// The engine alone, for scale: REPLICAS `docker run -d` at once until
/// all run, then one `docker rm -f` of them until none is left.
fn engine_alone(round: usize, replicas: usize, image: &str) -> [Duration; 2] {
    let label = format!("shoal-bench-alone={round}");
    let filter = format!("label={label}");
    let start = Instant::now();
    let runs: Vec<Child> = (0..replicas)
        .map(|_| {
            Command::new("docker")
                .args(["run", "-d", "--label", &label, image])
                .args(TASK)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let create = time_until("docker run", start, || running(&filter, None).0 == replicas);
    runs.into_iter().for_each(|mut run| {
        let _ = run.wait();
    });
    let ids = docker(&["ps", "-aq", "--filter", &filter]);
    let start = Instant::now();
    docker(&[&["rm", "-f"][..], &ids.lines().collect::<Vec<_>>()].concat());
    let remove = time_until("docker rm", start, || docker(&["ps", "-aq", "--filter", &filter]).trim().is_empty());
    [create, remove]
}

/// One round of the three measures on `o`: create, update at
/// parallelism 0 and 5, remove.
fn round(o: &dyn Orchestrator, round: usize, replicas: usize, image: &str) -> [Duration; 4] {
    let service = format!("bench{round}{}", o.name());
    let filter = o.filter(&service);
    let start = Instant::now();
    o.create(&service, replicas, image);
    let create = time_until("create", start, || running(&filter, None).0 == replicas);
    let mut updates = [Duration::ZERO; 2];
    for (i, parallelism) in [0, 5].into_iter().enumerate() {
        let env = format!("V={round}-{parallelism}");
        let start = Instant::now();
        o.update(&service, parallelism, &env);
        updates[i] = time_until("update", start, || running(&filter, Some(&env)) == (replicas, replicas));
    }
    let start = Instant::now();
    o.remove(&service);
    let all = filter.clone();
    let remove = time_until("remove", start, || docker(&["ps", "-aq", "--filter", &all]).trim().is_empty());
    [create, updates[0], updates[1], remove]
}

/// Set in the child the bench re-runs itself as, to the private engine.
const ENGINE_ENV: &str = "SHOAL_BENCH_ENGINE";

fn main() {
    // The parent owns the private engine; a child measures, with every
    // `docker` it runs (the image guard's, the node's clean-up) pointed
    // at that engine by its environment.
    let Ok(host) = std::env::var(ENGINE_ENV) else {
        let engine = PrivateEngine::start("bench-dockerd", &[]);
        let me = std::env::current_exe().unwrap();
        let status = Command::new(me).env(ENGINE_ENV, &engine.host).env("DOCKER_HOST", &engine.host).status().unwrap();
        drop(engine);
        std::process::exit(status.code().unwrap_or(1));
    };
    let replicas: usize = std::env::var("REPLICAS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    common::set_log_level("info");
    let image = BusyboxImage::import("bench-swarm", &["sh", "sleep"]);
    docker(&["swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377"]);
    let node = Node::start_with_docker("bench-shoal", None, "127.0.0.1", Some(&host));
    node.ok(&["node", "init"]);
    let shoal = Shoal(node);
    let sides: [&dyn Orchestrator; 2] = [&Swarm, &shoal];

    let names = [
        "create, all running",
        "update --env-add, parallelism 0",
        "update --env-add, parallelism 5",
        "remove, all gone",
    ];
    let mut figures = vec![vec![Vec::new(); names.len()]; sides.len()];
    let mut alone = [Vec::new(), Vec::new()];
    for r in 0..rounds {
        let times = engine_alone(r, replicas, &image.name);
        println!("round {r} engine alone: {times:?}");
        times.into_iter().enumerate().for_each(|(m, t)| alone[m].push(t));
        for (s, side) in sides.iter().enumerate() {
            let times = round(*side, r, replicas, &image.name);
            println!("round {r} {}: {times:?}", side.name());
            for (m, t) in times.into_iter().enumerate() {
                figures[s][m].push(t);
            }
        }
    }
    println!("\n{replicas} replicas, {rounds} rounds (each figure: the rounds' times)\n");
    println!("| measure | engine alone | Swarm | shoal | shoal / Swarm (best of each) |");
    println!("| --- | --- | --- | --- | --- |");
    let secs = |ts: &[Duration]| ts.iter().map(|t| format!("{:.2} s", t.as_secs_f64())).collect::<Vec<_>>().join(" / ");
    for (m, name) in names.iter().enumerate() {
        let best = |s: usize| figures[s][m].iter().min().copied().unwrap_or_default().as_secs_f64();
        let base = match m {
            0 => secs(&alone[0]),
            3 => secs(&alone[1]),
            _ => "-".to_string(),
        };
        let (swarm, shoal) = (secs(&figures[0][m]), secs(&figures[1][m]));
        println!("| {name} | {base} | {swarm} | {shoal} | {:.2} |", best(1) / best(0));
    }
}
