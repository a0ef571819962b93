//! `depends_on` kept by the cluster: a stack deployed with `-d` (the CLI
//! does not wait) still starts a dependent only once its dependency is
//! healthy, the held task saying why in `stack ps`; and when the whole
//! stack starts again later, the dependent waits again.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Node;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// The stack's tasks that should run, as `stack ps --format json` lists them.
fn live_tasks(node: &Node, service: &str) -> Vec<Value> {
    let rows = node.json_lines(&["stack", "ps", "--no-trunc", "--format", "json", "dep"]);
    rows.into_iter()
        .filter(|r| r["Name"].as_str().is_some_and(|n| n.starts_with(&format!("{service}."))))
        .filter(|r| r["DesiredState"] == "Running")
        .collect()
}

fn state(task: &Value) -> String {
    task["CurrentState"].as_str().unwrap_or_default().to_string()
}

/// Waits until the dependent's task is held with the reason while its
/// dependency runs, and checks it stays so for a while.
fn held(node: &Node) {
    let reason = "waiting for dep_db (service_healthy): 0/1 healthy";
    common::wait_until(WAIT, "web held for db's health", || {
        let db_runs = live_tasks(node, "dep_db").iter().any(|t| state(t).starts_with("Running"));
        let web = live_tasks(node, "dep_web");
        db_runs && web.len() == 1 && state(&web[0]).starts_with("Pending") && web[0]["Error"] == format!("\"{reason}\"")
    });
    // The hold lasts while db is unhealthy (here, until the test says).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let web = live_tasks(node, "dep_web");
        assert!(web.iter().all(|t| state(t).starts_with("Pending")), "web started early: {web:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn runs(node: &Node, service: &str) {
    common::wait_until(WAIT, &format!("{service} running"), || {
        live_tasks(node, service).iter().any(|t| state(t).starts_with("Running"))
    });
}

fn set_ready(ready: &Path, on: bool) {
    if on {
        std::fs::write(ready, "").unwrap();
    } else {
        let _ = std::fs::remove_file(ready);
    }
}

#[test]
fn the_cluster_holds_a_dependent_until_its_dependency_is_healthy_each_time_it_starts() {
    let node = Node::init("node-a");
    let file = node.data_dir().join("stack.yml");
    let ready = node.data_dir().join("db-ready");
    // db is healthy while the file exists (its start period outlasts the
    // test, so failed checks never restart it).
    std::fs::write(
        &file,
        format!(
            "services:\n  db:\n    image: sleep\n    command: \"1000\"\n    healthcheck: {{ test: [CMD, test, -f, {ready}], interval: 100ms, start_period: 10m }}\n  web:\n    image: sleep\n    command: \"1001\"\n    depends_on: {{ db: {{ condition: service_healthy }} }}\n",
            ready = ready.display()
        ),
    )
    .unwrap();
    node.ok(&["stack", "deploy", "-d", "-c", file.to_str().unwrap(), "dep"]);
    let inspect = node.json_lines(&["service", "inspect", "--format", "json", "dep_web"]).remove(0);
    assert_eq!(
        inspect["Spec"]["DependsOn"],
        serde_json::json!([{ "Service": "dep_db", "Condition": "service_healthy" }]),
        "the order is stored with the service"
    );
    let pretty = node.ok(&["service", "inspect", "--pretty", "dep_web"]);
    assert!(pretty.contains("Depends on:\n dep_db:\tservice_healthy"), "{pretty}");

    held(&node);
    set_ready(&ready, true);
    runs(&node, "dep_web");

    // The whole stack stops, then starts again: web waits for db again.
    set_ready(&ready, false);
    node.ok(&["service", "scale", "dep_db=0", "dep_web=0"]);
    common::wait_until(WAIT, "the stack stopped", || {
        live_tasks(&node, "dep_db").is_empty() && live_tasks(&node, "dep_web").is_empty()
    });
    node.ok(&["service", "scale", "--detach", "dep_db=1", "dep_web=1"]);
    held(&node);
    set_ready(&ready, true);
    runs(&node, "dep_web");
    node.ok(&["stack", "rm", "dep"]);
}
