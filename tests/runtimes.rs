//! Which runtime a service gets: the one it names (`--runtime`, compose
//! `x-shoal-runtime`), else the cluster's default, decided when it is
//! created and kept by every later update; `cluster update
//! --default-runtime` changes the default for new services only.

mod common;

use std::time::Duration;

use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(30);

fn runtime(node: &Node, service: &str) -> String {
    node.ok(&["service", "inspect", "--format", "{{.Spec.TaskTemplate.Runtime}}", service]).trim().to_string()
}

fn default_runtime(node: &Node) -> String {
    node.ok(&["cluster", "inspect", "--format", "{{.Spec.DefaultRuntime}}"]).trim().to_string()
}

#[test]
fn the_cluster_default_decides_once_at_create() {
    let node = Node::init("node-a");
    // This node runs programs only: the new cluster defaults to them.
    assert_eq!(default_runtime(&node), "process");
    node.ok(&["service", "create", "--detach", "--name", "old", "sleep", "1000"]);
    assert_eq!(runtime(&node, "old"), "process");
    let file = node.data_dir().join("stack.yml");
    std::fs::write(&file, "services:\n  app:\n    image: sleep\n    command: \"1001\"\n").unwrap();
    node.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), "st"]);
    assert_eq!(runtime(&node, "st_app"), "process");

    let out = node.shoal(&["cluster", "update", "--default-runtime", "docker"]);
    assert!(out.status.success());
    let warning = "WARN: no node offers the docker runtime yet: services created without --runtime wait until one does";
    assert!(String::from_utf8_lossy(&out.stderr).contains(warning), "{out:?}");
    assert_eq!(default_runtime(&node), "docker");
    let out = node.shoal(&["cluster", "update", "--default-runtime", "process"]);
    assert!(out.status.success() && out.stderr.is_empty(), "a runtime the node offers: no warning: {out:?}");
    node.ok(&["cluster", "update", "--default-runtime", "docker"]);
    // New services take the new default; existing ones keep theirs, also
    // through updates and a deploy of the same file.
    node.ok(&["service", "create", "--detach", "--name", "new", "sleep", "1000"]);
    assert_eq!(runtime(&node, "new"), "docker");
    node.ok(&["service", "update", "--detach", "--env-add", "A=1", "old"]);
    assert_eq!(runtime(&node, "old"), "process");
    let version = node.ok(&["service", "inspect", "--format", "{{.Version.Index}}", "st_app"]);
    node.ok(&["stack", "deploy", "--detach", "-c", file.to_str().unwrap(), "st"]);
    assert_eq!(runtime(&node, "st_app"), "process");
    assert_eq!(
        node.ok(&["service", "inspect", "--format", "{{.Version.Index}}", "st_app"]),
        version,
        "an unchanged file leaves its service alone"
    );
    // Named, the runtime wins over the default, and an update changes it.
    node.ok(&["service", "create", "--detach", "--name", "named", "--runtime", "process", "sleep", "1000"]);
    assert_eq!(runtime(&node, "named"), "process");
    node.ok(&["service", "update", "--detach", "--runtime", "docker", "named"]);
    assert_eq!(runtime(&node, "named"), "docker");
    // No node here runs images: the scheduler says so.
    wait_until(WAIT, "the docker task pending with the reason", || {
        let out = node.ok(&["service", "ps", "--no-trunc", "--format", "{{.CurrentState}} | {{.Error}}", "new"]);
        out.starts_with("Pending ") && out.contains("runtime \"docker\" not available on 1 node")
    });

    // `shoal run` names its runtime too (the default here runs nothing).
    let out = node.ok(&["run", "--runtime", "process", "echo", "ran on processes"]);
    assert!(out.contains("ran on processes"), "{out}");

    // A runtime shoal does not know is refused, and nothing changes.
    let err = node.fails(2, &["cluster", "update", "--default-runtime", "podman"]);
    assert!(err.contains("--default-runtime") && err.contains("podman"), "{err}");
    let err = node.fails(2, &["service", "create", "--runtime", "lxc", "sleep", "1"]);
    assert!(err.contains("--runtime") && err.contains("lxc"), "{err}");
    assert_eq!(default_runtime(&node), "docker");
}

#[test]
fn init_may_name_the_default_runtime() {
    let node = Node::start("node-b");
    let out = node.shoal(&["node", "init", "--default-runtime", "docker"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARN: no node offers the docker runtime yet"), "{out:?}");
    assert_eq!(default_runtime(&node), "docker");
    node.ok(&["service", "create", "--detach", "--name", "web", "sleep", "1000"]);
    assert_eq!(runtime(&node, "web"), "docker");
    let other = Node::start("node-c");
    let err = other.fails(2, &["node", "init", "--default-runtime", "rkt"]);
    assert!(err.contains("--default-runtime") && err.contains("rkt"), "{err}");
    // Refused, it changed nothing: the node can still init.
    other.ok(&["node", "init", "--default-runtime", "process"]);
    assert_eq!(default_runtime(&other), "process");
}
