//! Containers outlive shoal: a node killed with `kill -9` and started
//! again finds its containers by their labels and re-adopts them (the
//! same containers, none duplicated), reports one that ended while it
//! was down with its real exit code, and removes those of tasks its
//! cluster forgot; it never touches a container it did not make, nor
//! those of another node sharing its engine.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::images::{BusyboxImage, docker};
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(60);
const ENGINE: &str = "unix:///var/run/docker.sock";

/// Running containers made from `image` carrying label `KEY=VALUE` (all
/// of them with `all`).
fn containers(image: &BusyboxImage, label: &str, all: bool) -> BTreeSet<String> {
    let (image_label, label) = (format!("label={}", image.label), format!("label={label}"));
    let mut args = vec!["ps", "-q", "--no-trunc", "--filter", &image_label, "--filter", &label];
    if all {
        args.push("-a");
    }
    docker(&args).lines().map(String::from).collect()
}

/// A container made outside shoal from `image`, with `labels`.
fn run(image: &BusyboxImage, labels: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    for label in labels {
        args.extend(["--label", label]);
    }
    args.extend([image.name.as_str(), "sleep", "1000"]);
    docker(&args).trim().to_string()
}

fn exists(id: &str) -> bool {
    std::process::Command::new("docker").args(["inspect", id]).output().unwrap().status.success()
}

#[test]
fn kill_9_and_restart_readopts_reports_and_cleans_up() {
    let image = BusyboxImage::import("adoption", &["sleep"]);
    let mut node = Node::start_with_docker("node-a", None, "127.0.0.1", Some(ENGINE));
    node.ok(&["node", "init"]);
    let node_id = node.id();
    node.ok(&["service", "create", "--detach", "--name", "web", "--replicas", "2", &image.name, "sleep", "1000"]);
    wait_until(WAIT, "2/2", || node.replicas("web") == "2/2");
    let web = containers(&image, "io.shoal.service.name=web", false);
    assert_eq!(web.len(), 2);

    node.kill9();
    // While the node is down: one of its containers dies; a container
    // claims to be the node's for a task its cluster never had; another
    // node's container and one shoal did not make stand by.
    let (killed, kept) = (web.first().unwrap().clone(), web.last().unwrap().clone());
    docker(&["kill", &killed]);
    let stray = run(&image, &[&format!("io.shoal.node.id={node_id}"), "io.shoal.task.id=forgotten"]);
    let other_node = run(&image, &["io.shoal.node.id=some-other-node", "io.shoal.task.id=theirs"]);
    let foreign = run(&image, &[]);

    node.restart();
    wait_until(WAIT, "the dead container's task to fail", || {
        node.tasks("web").iter().any(|t| t["Status"]["State"] == "failed")
    });
    let failed = node.tasks("web").into_iter().find(|t| t["Status"]["State"] == "failed").unwrap();
    assert_eq!(failed["Status"]["Err"], "task: non-zero exit (137)", "its real exit code");
    wait_until(WAIT, "a replacement", || {
        let now = containers(&image, "io.shoal.service.name=web", false);
        now.len() == 2 && now.contains(&kept) && !now.contains(&killed)
    });
    wait_until(WAIT, "the stray to go", || !exists(&stray));
    // The untouched container's task runs on in it, re-adopted.
    let running: Vec<_> = node.tasks("web").into_iter().filter(|t| t["Status"]["State"] == "running").collect();
    assert_eq!(running.len(), 2);
    assert!(running.iter().any(|t| t["Status"]["ContainerStatus"]["ContainerID"] == kept.as_str()));
    node.ok(&["service", "scale", "--detach", "web=0"]);
    wait_until(WAIT, "no running container", || containers(&image, "io.shoal.service.name=web", false).is_empty());
    assert!(exists(&other_node) && exists(&foreign), "what the node did not make stays");
}

#[test]
fn nodes_sharing_an_engine_keep_to_their_own_containers() {
    let image = BusyboxImage::import("sharing", &["sleep"]);
    let a = Node::start_with_docker("node-a", None, "127.0.0.1", Some(ENGINE));
    a.ok(&["node", "init"]);
    let b = Node::start_with_docker("node-b", None, "127.0.0.2", Some(ENGINE));
    let (token, addr) = a.join_token("worker");
    b.ok(&["node", "join", "--token", &token, &addr]);
    let a_id = a.id();
    let b_id = a.ok(&["node", "inspect", "--format", "{{.ID}}", "node-b"]).trim().to_string();

    a.ok(&["service", "create", "--detach", "--name", "agent", "--mode", "global", &image.name, "sleep", "1000"]);
    wait_until(WAIT, "a container on each node", || {
        containers(&image, &format!("io.shoal.node.id={a_id}"), false).len() == 1
            && containers(&image, &format!("io.shoal.node.id={b_id}"), false).len() == 1
    });
    // A global service's task has no slot: its node names it, as in Swarm.
    let on_b = containers(&image, &format!("io.shoal.node.id={b_id}"), false).pop_first().unwrap();
    let name = docker(&["inspect", "--format", "{{.Name}}", &on_b]);
    assert!(name.trim().starts_with(&format!("/agent.{b_id}.")), "{name}");

    // Leaving, b removes its own container only.
    let on_a = containers(&image, &format!("io.shoal.node.id={a_id}"), false);
    b.ok(&["node", "leave"]);
    assert!(!exists(&on_b), "b's container went with b");
    assert_eq!(containers(&image, &format!("io.shoal.node.id={a_id}"), false), on_a, "a's container stays");
}
