//! What Portainer reads and writes through a Swarm manager's Docker API,
//! call by call as Portainer CE 2.x makes them (its snapshot with the
//! Docker Go client, its Swarm views through its proxy, which rewrites
//! every path to `/v1.41/...` on newer engines): the answers carry the
//! fields Portainer reads, a force update and a node update go through,
//! and the container-level calls a node without an engine cannot honour
//! answer empty or "No such container", as Portainer expects of a Swarm
//! node.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Cluster, json, urlencode, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

const STACK: &str = r#"
services:
  web:
    image: sleep
    command: ["1000"]
    deploy:
      replicas: 2
    networks: [front]
networks:
  front:
    driver: overlay
"#;

/// `GET /v1.41{path}` on `node`: the JSON, asserting a 200.
fn get(node: &common::Node, path: &str) -> Value {
    let (code, body) = node.docker_api("GET", &format!("/v1.41{path}"), None);
    assert_eq!(code, 200, "GET {path}: {body}");
    json(&body)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn portainers_snapshot_and_swarm_views_are_answered() {
    let started = now();
    let cluster = Cluster::new(1, 1);
    let (manager, worker) = (&cluster.managers[0], &cluster.workers[0]);
    let dir = manager.data_dir().parent().unwrap().join("stack");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("stack.yml"), STACK).unwrap();
    manager.ok(&["stack", "deploy", "-c", dir.join("stack.yml").to_str().unwrap(), "demo"]);
    wait_until(WAIT, "demo_web 2/2", || manager.replicas("demo_web") == "2/2");

    // The snapshot: ping (HEAD first), info, then the swarm's services
    // and nodes because ControlAvailable, then the node's own objects.
    let ping = Command::new("curl")
        .args(["-sI", "--unix-socket"])
        .arg(manager.docker_socket())
        .arg("http://docker/_ping")
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&ping.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 200") && head.contains("api-version: 1.50"), "{head}");
    let info = get(manager, "/info");
    let node_id = manager.ok(&["node", "inspect", "--format", "{{.ID}}", "self"]).trim().to_string();
    assert_eq!((&info["Swarm"]["NodeID"], &info["Swarm"]["ControlAvailable"]), (&Value::from(node_id), &true.into()));
    assert_eq!(info["OSType"], "linux");
    assert!(info["NCPU"].as_i64().unwrap() > 0 && info["MemTotal"].as_i64().unwrap() > 0, "{info}");
    for kind in ["Volume", "Network", "Log"] {
        assert!(info["Plugins"][kind].as_array().is_some_and(|p| !p.is_empty()), "Plugins.{kind}: {info}");
    }
    let cluster_id = manager.ok(&["cluster", "inspect", "--format", "{{.ID}}"]).trim().to_string();
    assert_eq!(info["Swarm"]["Cluster"]["ID"], cluster_id.as_str());
    let worker_info = get(worker, "/info");
    assert!(worker_info["Swarm"]["NodeID"].as_str().is_some_and(|id| !id.is_empty()), "a worker is in swarm mode");
    assert_eq!(worker_info["Swarm"]["ControlAvailable"], false, "and no manager");

    let services = get(manager, "/services");
    let stacks: Vec<&Value> =
        services.as_array().unwrap().iter().map(|s| &s["Spec"]["Labels"]["com.docker.stack.namespace"]).collect();
    assert_eq!(stacks, [&Value::from("demo")], "the stack is counted from its label");
    let nodes = get(manager, "/nodes");
    assert_eq!(nodes.as_array().unwrap().len(), 2);
    for node in nodes.as_array().unwrap() {
        let d = &node["Description"];
        assert!(
            d["Resources"]["NanoCPUs"].as_i64().unwrap() > 0 && d["Resources"]["MemoryBytes"].as_i64().unwrap() > 0
        );
        assert!(d["Engine"]["Plugins"].as_array().is_some_and(|p| p.iter().all(|p| p["Type"].is_string())), "{node}");
        assert!(node["Version"]["Index"].as_u64().is_some() && node["Status"]["State"] == "ready", "{node}");
        assert!(node["Status"]["Addr"].as_str().is_some_and(|a| a.starts_with("127.")), "{node}");
    }
    let leader = nodes.as_array().unwrap().iter().find(|n| n["Spec"]["Role"] == "manager").unwrap();
    assert_eq!(leader["ManagerStatus"]["Leader"], true);
    // No engine on these nodes: empty lists, and every running
    // container's inspect is "No such container" (which the snapshot skips).
    assert_eq!(get(manager, "/containers/json?all=1"), serde_json::json!([]));
    assert_eq!(get(manager, "/images/json"), serde_json::json!([]));
    assert_eq!(get(manager, "/volumes")["Volumes"], serde_json::json!([]));
    assert_eq!(get(manager, "/plugins"), serde_json::json!([]));
    let (code, body) = manager.docker_api("GET", "/v1.41/containers/0123abc/json", None);
    assert_eq!((code, json(&body)["message"].as_str()), (404, Some("No such container: 0123abc")));
    let networks = get(manager, "/networks");
    let front = networks.as_array().unwrap().iter().find(|n| n["Name"] == "demo_front").expect("demo_front listed");
    assert_eq!((&front["Scope"], &front["Ingress"]), (&"swarm".into(), &false.into()));
    let version = get(manager, "/version");
    assert!(version["Components"].as_array().is_some_and(|c| c.iter().all(|c| c["Name"] != "podman")));

    // The stack view: GET /swarm for its ID, the stack's services and
    // tasks by label, a service's tasks by its name.
    assert_eq!(get(manager, "/swarm")["ID"], cluster_id.as_str());
    let by_label = urlencode(r#"{"label":["com.docker.stack.namespace=demo"]}"#);
    let web = get(manager, &format!("/services?filters={by_label}"));
    let web = &web.as_array().unwrap()[0];
    assert_eq!(web["Spec"]["Name"], "demo_web");
    assert_eq!(get(manager, &format!("/tasks?filters={by_label}")).as_array().unwrap().len(), 2);
    let tasks = get(manager, &format!("/tasks?filters={}", urlencode(r#"{"service":["demo_web"]}"#)));
    assert_eq!(tasks.as_array().unwrap().len(), 2, "tasks by the service's name");
    for task in tasks.as_array().unwrap() {
        assert!(task["NodeID"].is_string() && task["Slot"].is_u64() && task["Status"]["State"] == "running", "{task}");
        assert_eq!(get(manager, &format!("/tasks/{}", task["ID"].as_str().unwrap()))["ID"], task["ID"]);
    }

    // Force update as Portainer's back end makes it: inspect with
    // defaults, the spec back with ForceUpdate + 1 and its version.
    let id = web["ID"].as_str().unwrap();
    let current = get(manager, &format!("/services/{id}?insertDefaults=true"));
    let mut spec = current["Spec"].clone();
    let force = spec["TaskTemplate"]["ForceUpdate"].as_u64().unwrap_or(0) + 1;
    spec["TaskTemplate"]["ForceUpdate"] = force.into();
    let before: Vec<Value> = tasks.as_array().unwrap().iter().map(|t| t["ID"].clone()).collect();
    let path = format!("/v1.41/services/{id}/update?version={}", current["Version"]["Index"]);
    let auth = "X-Registry-Auth: eyJyZWdpc3RyeUlkIjoxfQ=="; // {"registryId":1}, as the UI sends it
    let (code, body) = manager.docker_api_with("POST", &path, Some(&spec.to_string()), &[auth, "version: 1.29"]);
    assert_eq!(code, 200, "{body}");
    wait_until(WAIT, "both tasks replaced", || {
        let now = get(
            manager,
            &format!("/tasks?filters={}", urlencode(r#"{"service":["demo_web"],"desired-state":["running"]}"#)),
        );
        let now = now.as_array().unwrap();
        now.len() == 2 && now.iter().all(|t| !before.contains(&t["ID"]) && t["Status"]["State"] == "running")
    });
    let (code, _) = manager.docker_api("POST", &path, Some(&spec.to_string()));
    assert_eq!(code, 409, "the same version again is out of sequence");

    // Logs with Portainer's parameters: falsy ones left out, since in seconds.
    let logs = format!("/v1.41/services/{id}/logs?stdout=1&stderr=1&timestamps=1&since={started}&tail=100");
    assert_eq!(manager.docker_api("GET", &logs, None).0, 200);

    // The node details panel: labels through the node's own update.
    let worker_node = nodes.as_array().unwrap().iter().find(|n| n["Spec"]["Role"] == "worker").unwrap();
    let mut node_spec = worker_node["Spec"].clone();
    node_spec["Labels"] = serde_json::json!({ "zone": "b" });
    let path = format!(
        "/v1.41/nodes/{}/update?version={}",
        worker_node["ID"].as_str().unwrap(),
        worker_node["Version"]["Index"]
    );
    let (code, body) = manager.docker_api("POST", &path, Some(&node_spec.to_string()));
    assert_eq!(code, 200, "{body}");
    let labels = manager.ok(&["node", "inspect", "--format", "{{json .Spec.Labels}}", "worker-1"]);
    assert_eq!(json(&labels)["zone"], "b");

    // The events view: a window of the past, which ends by itself.
    let events = format!("/v1.41/events?since={started}&until={}", now() + 1);
    let (code, body) = manager.docker_api("GET", &events, None);
    assert_eq!(code, 200);
    let created: Vec<Value> =
        body.lines().map(json).filter(|e| e["Action"] == "create" && e["Type"] == "service").collect();
    assert_eq!(created.len(), 1, "demo_web's creation: {body}");

    // And the stack goes as Portainer removes an external stack's services.
    assert_eq!(manager.docker_api("DELETE", &format!("/v1.41/services/{id}"), None).0, 200);
    wait_until(WAIT, "demo_web gone", || !manager.services().contains("demo_web"));
    manager.ok(&["stack", "rm", "demo"]);
}
