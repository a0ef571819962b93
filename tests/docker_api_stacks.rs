//! `docker stack deploy` and Swarm tools against shoal's Docker API: the
//! docker CLI's own compose loader creates a stack's networks, secrets,
//! configs and services through the API, a second deploy leaves what did
//! not change alone, `--prune` and `stack rm` remove; real stack files
//! (../shared/stacks) deployed by docker give the services `shoal stack
//! deploy` makes of them; and the calls a Swarm provider (Traefik's)
//! makes are answered.

mod common;

use std::time::Duration;

use common::{Cluster, Node, json, shared_stacks, sorted_lines, urlencode, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// The ids of a service's tasks meant to run.
fn running_tasks(node: &Node, service: &str) -> Vec<String> {
    sorted_lines(&node.ok(&["service", "ps", "-q", "--filter", "desired-state=running", service]))
}

const STACK: &str = r#"
services:
  web:
    image: sleep
    command: ["1000"]
    deploy:
      replicas: 2
      labels: [tier=front]
    secrets: [pw]
    networks: [back]
  worker:
    image: sleep
    command: ["1000"]
networks:
  back:
    driver: overlay
secrets:
  pw:
    file: ./pw.txt
"#;

#[test]
fn docker_stack_deploy_updates_prunes_and_removes() {
    let cluster = Cluster::new(1, 0);
    let manager = &cluster.managers[0];
    let dir = manager.data_dir().parent().unwrap().join("stack");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pw.txt"), "hush").unwrap();
    let file = dir.join("stack.yml");
    std::fs::write(&file, STACK).unwrap();
    let deploy = |args: &[&str]| {
        let mut command = manager.docker(&["stack", "deploy", "-c", file.to_str().unwrap()]);
        let out = command.args(args).current_dir(&dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "docker stack deploy: {stderr}");
        stderr
    };

    deploy(&["app"]);
    wait_until(WAIT, "app_web 2/2 and app_worker 1/1", || {
        manager.replicas("app_web") == "2/2" && manager.replicas("app_worker") == "1/1"
    });
    let web = json(&manager.ok(&["service", "inspect", "app_web"]))[0]["Spec"].clone();
    assert_eq!(web["Labels"]["com.docker.stack.namespace"], "app");
    assert_eq!(web["Labels"]["tier"], "front");
    assert_eq!(web["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"], "app_pw");
    let network = manager.ok(&["network", "inspect", "--format", "{{.Id}}", "app_back"]);
    assert_eq!(web["TaskTemplate"]["Networks"][0]["Target"], network.trim());
    assert_eq!(manager.ok(&["secret", "ls", "--format", "{{.Name}}"]).trim(), "app_pw");

    // The docker CLI's stack views read shoal's answers.
    let stacks = manager.docker_ok(&["stack", "ls", "--format", "{{.Name}} {{.Services}}"]);
    assert_eq!(stacks.trim(), "app 2");
    let services = manager.docker_ok(&["stack", "services", "app", "--format", "{{.Name}} {{.Replicas}}"]);
    assert_eq!(sorted_lines(&services), ["app_web 2/2", "app_worker 1/1"]);
    let ps = manager.docker_ok(&["stack", "ps", "app", "--filter", "desired-state=running", "--format", "{{.Name}}"]);
    assert_eq!(sorted_lines(&ps), ["app_web.1", "app_web.2", "app_worker.1"]);

    // Deployed again unchanged: nothing restarts.
    let (web_tasks, worker_tasks) = (running_tasks(manager, "app_web"), running_tasks(manager, "app_worker"));
    deploy(&["app"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(running_tasks(manager, "app_web"), web_tasks, "an unchanged deploy restarts nothing");
    assert_eq!(running_tasks(manager, "app_worker"), worker_tasks);

    // One service changed: only it rolls.
    std::fs::write(&file, STACK.replace("command: [\"1000\"]\n    deploy:", "command: [\"2000\"]\n    deploy:"))
        .unwrap();
    deploy(&["app"]);
    wait_until(WAIT, "app_web rolled to the new command", || {
        let spec = json(&manager.ok(&["service", "inspect", "app_web"]))[0]["Spec"].clone();
        spec["TaskTemplate"]["ContainerSpec"]["Args"][0] == "2000" && manager.replicas("app_web") == "2/2"
    });
    assert_eq!(running_tasks(manager, "app_worker"), worker_tasks, "the service that did not change stays");

    // --prune removes what left the file; stack rm removes the rest.
    let without_worker =
        STACK.split("  worker:").next().unwrap().to_string() + &STACK[STACK.find("networks:\n  back").unwrap()..];
    std::fs::write(&file, without_worker).unwrap();
    deploy(&["--prune", "app"]);
    wait_until(WAIT, "app_worker pruned", || !manager.services().contains("app_worker"));
    manager.docker_ok(&["stack", "rm", "app"]);
    wait_until(WAIT, "the stack removed", || {
        manager.services().is_empty() && manager.ok(&["secret", "ls", "-q"]).trim().is_empty()
    });
    let networks = manager.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("app_back"), "{networks}");
}

/// Every service of `stack` as the two deploys should agree on it:
/// networks by name, secrets and configs without their ids, the image as
/// the file names it.
fn comparable(node: &Node, stack: &str) -> Vec<(String, Value)> {
    let networks: Vec<(String, String)> = node
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(|name| {
            (node.ok(&["network", "inspect", "--format", "{{.Id}}", name]).trim().to_string(), name.to_string())
        })
        .collect();
    let prefix = format!("{stack}_");
    let mut services: Vec<String> = node.services().into_iter().filter(|s| s.starts_with(&prefix)).collect();
    services.sort();
    services
        .into_iter()
        .map(|service| {
            let spec = json(&node.ok(&["service", "inspect", &service]))[0]["Spec"].clone();
            let mut text = serde_json::to_string(&spec).unwrap();
            for (id, name) in &networks {
                text = text.replace(id, name);
            }
            let mut spec: Value = serde_json::from_str(&text).unwrap();
            // The docker CLI tags an image the file names without a tag
            // (`:latest`, Docker's default); the stack's label keeps the name
            // as the file gives it.
            let named = spec["Labels"]["com.docker.stack.image"].as_str().unwrap_or_default().to_string();
            let container = &mut spec["TaskTemplate"]["ContainerSpec"];
            if container["Image"].as_str() == Some(&format!("{named}:latest")) {
                container["Image"] = named.into();
            }
            for kind in ["Secrets", "Configs"] {
                for file in container[kind].as_array_mut().into_iter().flatten() {
                    file.as_object_mut().unwrap().retain(|k, _| !k.ends_with("ID"));
                }
            }
            (service, spec)
        })
        .collect()
}

#[test]
fn real_stack_files_deployed_by_docker_match_shoal_stack_deploy() {
    let cluster = Cluster::new(1, 0);
    let manager = &cluster.managers[0];
    let stacks = shared_stacks();
    // Each file, with the external networks it expects to exist.
    let files = [
        ("voting-app", "docker-stack.yml", None),
        ("get-started-part5", "docker-compose.yml", None),
        ("stackdemo", "compose.yml", None),
        ("wordpress-secrets", "compose.yml", None),
        ("swarmprom", "docker-compose.yml", None),
        ("dogvscat", "stack-voting.yml", Some("proxy")),
        ("dogvscat", "stack-proxy.yml", None),
    ];
    for (folder, file, external) in files {
        if let Some(network) = external {
            manager.ok(&["network", "create", "-d", "overlay", network]);
        }
        let dir = stacks.join(folder);
        let path = dir.join(file);
        assert!(path.exists(), "{}", path.display());
        // One after the other: the files publish ports.
        let out = manager
            .docker(&["stack", "deploy", "-c", path.to_str().unwrap(), "st"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "docker stack deploy {folder}: {}", String::from_utf8_lossy(&out.stderr));
        let by_docker = comparable(manager, "st");
        manager.docker_ok(&["stack", "rm", "st"]);
        wait_until(WAIT, "docker's stack removed", || manager.services().is_empty());
        let out = manager
            .command(&["stack", "deploy", "--detach", "-c", path.to_str().unwrap(), "st"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "shoal stack deploy {folder}: {}", String::from_utf8_lossy(&out.stderr));
        let by_shoal = comparable(manager, "st");
        manager.ok(&["stack", "rm", "st"]);
        wait_until(WAIT, "shoal's stack removed", || manager.services().is_empty());
        assert!(!by_docker.is_empty(), "{folder}");
        let names = |list: &[(String, Value)]| list.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&by_docker), names(&by_shoal), "{folder}: the same services");
        for ((service, docker), (_, shoal)) in by_docker.iter().zip(&by_shoal) {
            // `depends_on` is shoal's: docker's loader drops it (Swarm
            // ignores it), so only shoal's deploy orders the start.
            let mut shoal = shoal.clone();
            shoal.as_object_mut().unwrap().remove("DependsOn");
            assert_eq!(docker, &shoal, "{folder}: {service}: docker's deploy and shoal's differ");
        }
        if let Some(network) = external {
            manager.ok(&["network", "rm", network]);
        }
    }
}

#[test]
fn a_swarm_provider_reads_services_tasks_networks_and_events() {
    let cluster = Cluster::new(1, 1);
    let manager = &cluster.managers[0];
    manager.ok(&["network", "create", "-d", "overlay", "proxy"]);
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "whoami",
        "--replicas",
        "2",
        "--network",
        "proxy",
        "--label",
        "traefik.enable=true",
        "--label",
        "traefik.http.routers.whoami.rule=Host(`whoami.local`)",
        "sleep",
        "1000",
    ]);
    manager.ok(&["service", "create", "--detach", "--name", "hidden", "sleep", "1000"]);
    wait_until(WAIT, "whoami 2/2", || manager.replicas("whoami") == "2/2");

    // The calls Traefik's Swarm provider makes, as it makes them.
    let (code, version) = manager.docker_api("GET", "/version", None);
    assert_eq!(code, 200);
    assert_eq!(json(&version)["ApiVersion"], "1.50");
    let filters = r#"{"label":["traefik.enable=true"]}"#;
    let (_, services) = manager.docker_api("GET", &format!("/v1.24/services?filters={}", urlencode(filters)), None);
    let services = json(&services);
    assert_eq!(services.as_array().unwrap().len(), 1, "{services}");
    let whoami = &services[0];
    assert_eq!(whoami["Spec"]["Labels"]["traefik.http.routers.whoami.rule"], "Host(`whoami.local`)");
    let proxy_id = manager.ok(&["network", "inspect", "--format", "{{.Id}}", "proxy"]).trim().to_string();
    let vip = whoami["Endpoint"]["VirtualIPs"].as_array().unwrap().iter().find(|v| v["NetworkID"] == proxy_id.as_str());
    assert!(vip.is_some_and(|v| v["Addr"].as_str().unwrap().contains('/')), "a VIP on proxy: {whoami}");
    let id = whoami["ID"].as_str().unwrap();
    let filters = format!(r#"{{"service":["{id}"],"desired-state":["running"]}}"#);
    let (_, tasks) = manager.docker_api("GET", &format!("/v1.24/tasks?filters={}", urlencode(&filters)), None);
    let tasks = json(&tasks);
    assert_eq!(tasks.as_array().unwrap().len(), 2, "{tasks}");
    for task in tasks.as_array().unwrap() {
        assert_eq!((&task["ServiceID"], &task["DesiredState"]), (&Value::from(id), &Value::from("running")));
        assert_eq!(task["Status"]["State"], "running");
        let on_proxy =
            task["NetworksAttachments"].as_array().unwrap().iter().any(|a| a["Network"]["ID"] == proxy_id.as_str());
        assert!(on_proxy, "{task}");
    }
    let (_, networks) =
        manager.docker_api("GET", "/v1.24/networks?filters=%7B%22driver%22%3A%5B%22overlay%22%5D%7D", None);
    let networks = json(&networks);
    assert!(
        networks.as_array().unwrap().iter().any(|n| n["Id"] == proxy_id.as_str() && n["Scope"] == "swarm"),
        "{networks}"
    );

    // Events, as a watcher follows them: a scale shows up, filtered.
    let mut watch = std::process::Command::new("curl")
        .args(["-sN", "--unix-socket"])
        .arg(manager.docker_socket())
        .arg(format!("http://docker/v1.41/events?filters={}", urlencode(r#"{"type":["service"]}"#)))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rx = common::lines_from(watch.stdout.take().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    manager.ok(&["service", "scale", "--detach", "whoami=3"]);
    let event = loop {
        let line = rx.recv_timeout(WAIT).expect("an event within the wait");
        let event = json(&line);
        assert_eq!(event["Type"], "service", "{event}");
        if event["Actor"]["Attributes"]["replicas.new"] == "3" {
            break event;
        }
    };
    assert_eq!((&event["Action"], &event["Actor"]["Attributes"]["name"]), (&"update".into(), &"whoami".into()));
    let _ = watch.kill();
    let _ = watch.wait();
}
