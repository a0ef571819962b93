//! Health checks through the CLI on a real daemon: `service ps` shows a
//! task's health, an unhealthy task is replaced per its restart policy,
//! and an update whose new tasks never get healthy rolls back when asked.

mod common;

use std::time::Duration;

use common::{Node, token, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn rows(node: &Node, service: &str) -> Vec<Value> {
    node.json_lines(&["service", "ps", "--format", "json", "--no-trunc", service])
}

/// The ids of the tasks meant to run whose state starts with `state`.
fn running(node: &Node, service: &str, state: &str) -> Vec<String> {
    let rows = rows(node, service);
    let live = rows.iter().filter(|t| t["DesiredState"] == "Running");
    let matching = live.filter(|t| t["CurrentState"].as_str().unwrap_or_default().starts_with(state));
    matching.map(|t| t["ID"].as_str().unwrap().to_string()).collect()
}

#[test]
fn an_unhealthy_task_is_replaced() {
    let node = Node::init("node-a");
    let token = token();
    let sick = node.data_dir().join("sick");
    let check = format!("test ! -e {}", sick.display());
    node.ok(&[
        "service",
        "create",
        "--name",
        "web",
        "--env",
        &token,
        "--restart-delay",
        "0s",
        "--health-cmd",
        &check,
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "sleep",
        "1000",
    ]);
    // `service create` waited for the task to be healthy.
    let first = running(&node, "web", "Running (healthy)");
    assert_eq!(first.len(), 1, "{:?}", rows(&node, "web"));

    std::fs::write(&sick, "").unwrap();
    wait_until(WAIT, "the unhealthy task to fail", || {
        rows(&node, "web").iter().any(|t| {
            t["ID"] == first[0].as_str()
                && t["CurrentState"].as_str().unwrap_or_default().starts_with("Failed")
                && t["Error"].as_str().unwrap_or_default().contains("unhealthy container")
        })
    });
    std::fs::remove_file(&sick).unwrap();
    wait_until(WAIT, "a healthy replacement", || {
        let now = running(&node, "web", "Running (healthy)");
        now.len() == 1 && now != first
    });
}

#[test]
fn an_update_whose_new_tasks_never_get_healthy_rolls_back() {
    let node = Node::init("node-a");
    let token = token();
    node.ok(&[
        "service",
        "create",
        "--name",
        "web",
        "--replicas",
        "2",
        "--env",
        &token,
        "--health-cmd",
        "true",
        "--health-interval",
        "200ms",
        "--update-failure-action",
        "rollback",
        "--update-monitor",
        "3s",
        "--rollback-monitor",
        "500ms",
        "sleep",
        "1000",
    ]);
    assert_eq!(running(&node, "web", "Running (healthy)").len(), 2);
    let err = node.fails(1, &["service", "update", "--health-cmd", "false", "--health-retries", "1", "web"]);
    assert!(err.contains("rolled back"), "{err}");
    wait_until(WAIT, "the rollback to complete", || {
        let s = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0);
        s["UpdateStatus"]["State"] == "rollback_completed"
    });
    let s = node.json_lines(&["service", "inspect", "--format", "json", "web"]).remove(0);
    let test = &s["Spec"]["TaskTemplate"]["ContainerSpec"]["Healthcheck"]["Test"];
    assert_eq!(test, &serde_json::json!(["CMD-SHELL", "true"]));
    wait_until(WAIT, "both tasks healthy on the old spec", || running(&node, "web", "Running (healthy)").len() == 2);
}
