//! The Docker Engine API's read latency, shoal against Docker Swarm on
//! the same machine in one run (issue 27's benchmark): SERVICES (20)
//! services of one task each on both, then ROUNDS (30) rounds that each
//! time, alternating Swarm and shoal, `docker service ls`, `docker
//! service inspect` of one service (the real docker CLI, a whole process
//! each, as a user runs it) and `curl GET /services` on the socket (the
//! server's part with less of the client around it). Prints min, median
//! and max per side and the median of the per-round ratios shoal/Swarm.
//!
//! Swarm runs in a private `dockerd` in a network namespace of its own
//! (`docker swarm init` must not touch the machine's engine), its tasks
//! from a local busybox image; shoal is a one-node cluster on 127.0.0.1
//! with the process runtime (the calls read the managers' state only).
//! Needs root, dockerd, iproute2, util-linux (nsenter), curl and
//! busybox-static. Run: `cargo bench --bench docker_api`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Node;
use common::engine::PrivateEngine;
use common::images::{BusyboxImage, docker};

/// One timed call against the API at a `DOCKER_HOST`.
type Measure = dyn Fn(&str) -> Duration;

/// Set in the child the bench re-runs itself as, to the private engine.
const ENGINE_ENV: &str = "SHOAL_BENCH_ENGINE";

/// Runs `program args` with DOCKER_HOST=`host`, timed; asserts success.
fn timed(host: &str, program: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(program).env("DOCKER_HOST", host).args(args).output().unwrap();
    let took = start.elapsed();
    assert!(out.status.success(), "{program} {args:?} on {host}: {}", String::from_utf8_lossy(&out.stderr));
    took
}

fn stats(mut times: Vec<Duration>) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(times[0]), ms(times[times.len() / 2]), ms(times[times.len() - 1]))
}

fn main() {
    let Ok(host) = std::env::var(ENGINE_ENV) else {
        let engine = PrivateEngine::start("bench-api", &[]);
        let me = std::env::current_exe().unwrap();
        let status = Command::new(me).env(ENGINE_ENV, &engine.host).env("DOCKER_HOST", &engine.host).status().unwrap();
        drop(engine);
        std::process::exit(status.code().unwrap_or(1));
    };
    let services: usize = std::env::var("SERVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    common::set_log_level("warn");
    let image = BusyboxImage::import("bench-api", &["sh", "sleep"]);
    docker(&["swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377"]);
    let node = Node::start("bench-shoal");
    node.ok(&["node", "init"]);
    for i in 0..services {
        let name = format!("svc{i}");
        docker(&[
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            &name,
            &image.name,
            "sleep",
            "100000",
        ]);
        node.ok(&["service", "create", "--detach", "--name", &name, "sleep", "100000"]);
    }
    let shoal = format!("unix://{}", node.docker_socket().display());
    let sides = [("Swarm", host.as_str()), ("shoal", shoal.as_str())];
    let socket = |h: &str| h.trim_start_matches("unix://").to_string();
    let measures: [(&str, Box<Measure>); 3] = [
        ("docker service ls", Box::new(|h: &str| timed(h, "docker", &["service", "ls"]))),
        ("docker service inspect svc0", Box::new(|h: &str| timed(h, "docker", &["service", "inspect", "svc0"]))),
        (
            "curl GET /services",
            Box::new(move |h: &str| {
                timed(
                    h,
                    "curl",
                    &["-sf", "-o", "/dev/null", "--unix-socket", &socket(h), "http://docker/v1.41/services"],
                )
            }),
        ),
    ];
    println!("{services} services, {rounds} rounds, alternating Swarm and shoal (ms: min / median / max)\n");
    println!("| call | Swarm | shoal | shoal / Swarm (median of the rounds' ratios) |");
    println!("| --- | --- | --- | --- |");
    for (name, measure) in &measures {
        // One warm-up each.
        for (_, h) in &sides {
            let _ = measure(h);
        }
        let mut times = [Vec::new(), Vec::new()];
        let mut ratios = Vec::new();
        for _ in 0..rounds {
            let pair: Vec<Duration> = sides.iter().map(|(_, h)| measure(h)).collect();
            ratios.push(pair[1].as_secs_f64() / pair[0].as_secs_f64());
            times[0].push(pair[0]);
            times[1].push(pair[1]);
        }
        ratios.sort_by(f64::total_cmp);
        let [swarm, shoal] = times.map(stats);
        println!(
            "| {name} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.2} |",
            swarm.0,
            swarm.1,
            swarm.2,
            shoal.0,
            shoal.1,
            shoal.2,
            ratios[ratios.len() / 2]
        );
    }
    for i in 0..services {
        docker(&["service", "rm", &format!("svc{i}")]);
    }
}
