//! A real stack file deployed as `docker stack deploy` would run it:
//! the voting app's docker-stack.yml (../shared/stacks, read as is), its
//! images stood in for by busybox images tagged as the file names them,
//! on two hosts (network namespaces on one switch) sharing the machine's
//! Docker Engine. Every service converges, the published ports answer on
//! both nodes, and a container reaches another by its service name over
//! the stack's network.

mod common;

use std::process::Command;
use std::time::Duration;

use common::hosts::{Hosts, cluster_with_docker, http_get};
use common::images::{BusyboxImage, PauseImages, Volume};
use common::wait_until;

const WAIT: Duration = Duration::from_secs(90);
const ENGINE: &str = "unix:///var/run/docker.sock";

/// A web server stand-in answering `what` at / on `port`.
fn web(name: &str, what: &str, port: &str) -> BusyboxImage {
    let cmd = format!(r#"CMD ["httpd", "-f", "-p", "{port}", "-h", "/www"]"#);
    BusyboxImage::stand_in(name, &["sh", "httpd"], &[&cmd], &[("/www/index.html", &format!("{what}\n"))])
}

#[test]
fn the_voting_app_runs_from_its_own_stack_file() {
    let stack = format!("vt{}", rand::random::<u16>());
    // Dropped last: containers go with the nodes, then images and volume.
    let _volume = Volume(format!("{stack}_db-data"));
    let _pause = PauseImages;
    let sleeper = |name: &str| BusyboxImage::stand_in(name, &["sh", "sleep"], &[r#"CMD ["sleep", "100000"]"#], &[]);
    let worker_loop = r#"CMD ["sh", "-c", "while true; do wget -q -O - http://vote/; sleep 1; done"]"#;
    let _images = [
        sleeper("redis:alpine"),
        sleeper("postgres:15-alpine"),
        web("dockersamples/examplevotingapp_vote:latest", "vote-page", "80"),
        web("dockersamples/examplevotingapp_result:latest", "result-page", "80"),
        BusyboxImage::stand_in(
            "dockersamples/examplevotingapp_worker:latest",
            &["sh", "sleep", "wget"],
            &[worker_loop],
            &[],
        ),
    ];
    let hosts = Hosts::new(2);
    let (a, _workers) = cluster_with_docker(&hosts, Some(ENGINE));

    let file = common::shared_stacks().join("voting-app/docker-stack.yml");
    a.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), &stack]);
    let replicas = |service: &str| a.replicas(&format!("{stack}_{service}"));
    wait_until(WAIT, "every service converged", || {
        [("redis", "1/1"), ("db", "1/1"), ("vote", "2/2"), ("result", "1/1"), ("worker", "2/2")]
            .iter()
            .all(|(service, want)| replicas(service) == *want)
    });
    for (i, node) in hosts.addrs.iter().enumerate() {
        for (port, page) in [("8080", "vote-page"), ("8081", "result-page")] {
            let url = format!("http://{node}:{port}/");
            wait_until(WAIT, &format!("{page} on host-{}", i + 1), || {
                http_get(&hosts.switch, &url).as_deref() == Some(page)
            });
        }
    }
    wait_until(WAIT, "the worker reaching vote by name", || {
        a.ok(&["service", "logs", &format!("{stack}_worker")]).contains("| vote-page")
    });
    let volumes = Command::new("docker").args(["volume", "inspect", &format!("{stack}_db-data")]).output().unwrap();
    assert!(volumes.status.success(), "the stack's named volume, NAME_vol");
}
