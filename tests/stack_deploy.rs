//! `stack deploy` through the CLI on a real daemon: services started in
//! `depends_on` order, listed by `stack ls/services/ps`, an edited file
//! updates only the service that changed, `--prune` removes what left
//! the file, `stack rm` removes the stack, and a cycle changes nothing;
//! a stuck deploy shows its tasks' errors and times out with them.

mod common;

use std::path::Path;

use common::Node;
use serde_json::Value;

fn running_ids(node: &Node, service: &str) -> Vec<String> {
    let tasks = node.tasks(service);
    let mut ids: Vec<String> = tasks
        .iter()
        .filter(|t| t["DesiredState"] == "running")
        .map(|t| t["ID"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn deploy_lists_updates_only_what_changed_prunes_and_removes() {
    let node = Node::init("node-a");
    let file = node.data_dir().join("stack.yml");
    let stack = |web_env: &str, extra: &str| {
        format!(
            "services:\n  web:\n    image: sleep\n    command: \"1000\"\n    environment: [V={web_env}]\n    deploy: {{ replicas: 2, update_config: {{ monitor: 200ms }} }}\n{extra}"
        )
    };
    let backends = "  api:\n    image: sleep\n    command: \"1001\"\n    depends_on: [db]\n  db:\n    image: sleep\n    command: \"1002\"\n    container_name: old\n";
    write(&file, &stack("1", backends));
    let out = node.shoal(&["stack", "deploy", "-c", file.to_str().unwrap(), "demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("services.db: ignoring unsupported options: container_name"));

    let stacks = node.json_lines(&["stack", "ls", "--format", "json"]);
    assert_eq!(stacks.len(), 1);
    assert_eq!((&stacks[0]["Name"], &stacks[0]["Services"]), (&"demo".into(), &"3".into()));
    let services = node.json_lines(&["stack", "services", "--format", "json", "demo"]);
    let names: Vec<&str> = services.iter().map(|s| s["Name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["demo_api", "demo_db", "demo_web"]);
    assert!(services.iter().any(|s| s["Name"] == "demo_web" && s["Replicas"] == "2/2"));
    assert_eq!(node.ok(&["stack", "ps", "-q", "demo"]).lines().count(), 4);
    // depends_on: api started once db ran.
    let running_since = |service: &str| {
        let task = node.tasks(service).remove(0);
        assert_eq!(task["Status"]["State"], "running");
        humantime::parse_rfc3339(task["Status"]["Timestamp"].as_str().unwrap()).unwrap()
    };
    assert!(running_since("demo_api") >= running_since("demo_db"), "api started after db was running");

    let (web_before, api_before, db_before) =
        (running_ids(&node, "demo_web"), running_ids(&node, "demo_api"), running_ids(&node, "demo_db"));
    write(&file, &stack("2", backends));
    node.ok(&["stack", "deploy", "-c", file.to_str().unwrap(), "demo"]);
    assert_ne!(running_ids(&node, "demo_web"), web_before, "web changed: its tasks were replaced");
    assert_eq!(running_ids(&node, "demo_api"), api_before, "api unchanged: untouched");
    assert_eq!(running_ids(&node, "demo_db"), db_before, "db unchanged: untouched");

    write(&file, &stack("2", ""));
    node.ok(&["stack", "deploy", "--prune", "-c", file.to_str().unwrap(), "demo"]);
    let names = node.ok(&["stack", "services", "--format", "{{.Name}}", "demo"]);
    assert_eq!(names, "demo_web\n");

    let out = node.ok(&["stack", "rm", "demo"]);
    assert_eq!(out, "Removing service demo_web\nRemoving network demo_default\n", "Docker's lines");
    common::wait_until(std::time::Duration::from_secs(30), "the stack to go", || {
        node.ok(&["stack", "ls", "--format", "json"]).is_empty()
    });
    let err = node.fails(1, &["stack", "ps", "demo"]);
    assert!(err.contains("nothing found in stack: demo"), "{err}");

    write(&file, "services:\n  a: { image: sleep, depends_on: [b] }\n  b: { image: sleep, depends_on: [a] }\n");
    let err = node.fails(1, &["stack", "deploy", "-c", file.to_str().unwrap(), "loop"]);
    assert!(err.contains("depends_on: a cycle: a -> b -> a"), "{err}");
    assert!(node.ok(&["service", "ls", "-q"]).is_empty(), "nothing was created");
}

#[test]
fn a_service_for_a_runtime_no_node_has_waits_with_the_reason() {
    let node = Node::init("node-a");
    let file = node.data_dir().join("stack.yml");
    write(&file, "services:\n  app:\n    image: nginx:alpine\n    x-shoal-runtime: docker\n");
    node.ok(&["stack", "deploy", "-d", "-c", file.to_str().unwrap(), "img"]);
    common::wait_until(std::time::Duration::from_secs(30), "the pending reason", || {
        node.ok(&["stack", "ps", "--no-trunc", "img"]).contains("runtime \"docker\" not available on 1 node")
    });
    node.ok(&["stack", "rm", "img"]);
    assert!(node.ok(&["service", "ls", "-q"]).is_empty(), "the stack's services are gone");
}

#[test]
fn a_dependency_on_a_healthy_service_waits_for_its_health_check() {
    let node = Node::init("node-a");
    let file = node.data_dir().join("stack.yml");
    let ready = node.data_dir().join("db-ready");
    // db becomes healthy two seconds after it starts; web needs it healthy.
    write(
        &file,
        &format!(
            "services:\n  db:\n    image: sh\n    command: [\"-c\", \"sleep 2 && touch {ready} && exec sleep 1000\"]\n    healthcheck: {{ test: [CMD, test, -f, {ready}], interval: 200ms, start_period: 30s }}\n  web:\n    image: sleep\n    command: \"1000\"\n    depends_on: {{ db: {{ condition: service_healthy }} }}\n",
            ready = ready.display()
        ),
    );
    let out = node.ok(&["stack", "deploy", "-c", file.to_str().unwrap(), "dep"]);
    assert!(out.contains("Creating service dep_db") && out.contains("Creating service dep_web"), "{out}");
    assert!(
        out.contains("dep_db   1/1 converged") && out.contains("dep_web  1/1 converged"),
        "one line per service: {out}"
    );
    let healthy_from = std::fs::metadata(&ready).unwrap().modified().unwrap();
    let web = node.tasks("dep_web").remove(0);
    let web_running = humantime::parse_rfc3339(web["Status"]["Timestamp"].as_str().unwrap()).unwrap();
    assert!(web_running >= healthy_from, "web started once db was healthy");
}

#[test]
fn deploy_fails_on_a_task_that_stops_for_good_and_on_its_timeout() {
    let node = Node::init("node-a");
    let file = node.data_dir().join("stack.yml");
    write(&file, "services:\n  bad:\n    image: \"false\"\n    deploy: { restart_policy: { condition: none } }\n");
    let err = node.fails(1, &["stack", "deploy", "-c", file.to_str().unwrap(), "t"]);
    assert!(err.contains("t_bad: service could not converge: task t_bad.1 stopped for good"), "{err}");

    write(&file, "services:\n  app:\n    image: nginx\n    x-shoal-runtime: docker\n");
    let out = node.shoal(&["stack", "deploy", "--prune", "--timeout", "3s", "-c", file.to_str().unwrap(), "t"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timed out after 3s: not converged: t_app"), "{err}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("t_app  0/1 pending: no suitable node"), "the line says why: {shown}");
}

#[test]
fn a_stuck_deploy_shows_its_task_error_as_plain_lines_and_times_out_with_it() {
    let node = Node::init("node-a");
    let file = node.data_dir().join("stack.yml");
    // bad's program does not exist: each of its tasks fails and is restarted.
    write(&file, "services:\n  bad:\n    image: /nonexistent/prog\n  ok:\n    image: sleep\n    command: \"1000\"\n");
    let out = node.shoal(&["stack", "deploy", "--timeout", "5s", "-c", file.to_str().unwrap(), "t"]);
    let (shown, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{shown}{err}");
    let error = "executable not found: /nonexistent/prog (not an executable file, nor a program in $PATH)";
    let line = format!("t_bad  0/1 task failed: {error}");
    // Off a terminal, progress as plain lines, each printed when it changes.
    assert_eq!(shown.lines().filter(|l| *l == line).count(), 1, "the task's error, once: {shown}");
    assert!(shown.contains("t_ok   1/1 verifying\n") && shown.contains("t_ok   1/1 converged\n"), "{shown}");
    assert!(err.contains(&format!("timed out after 5s: not converged: t_bad\n  {line}")), "{err}");
}

#[test]
fn a_stack_makes_its_networks_publishes_its_ports_and_removes_both() {
    let node = Node::init("node-a");
    let file = node.data_dir().join("stack.yml");
    let yaml = r#"
services:
  web:
    image: sleep
    command: "1000"
    ports: ["8080:80", { target: 53, published: 5353, protocol: udp }]
    networks: { front: { aliases: [www] }, back: }
  db:
    image: sleep
    command: "1001"
    networks: [back, shared]
    deploy: { endpoint_mode: dnsrr }
  job:
    image: sleep
    command: "1002"
networks:
  front: { attachable: true, ipam: { config: [{ subnet: 10.77.0.0/24 }] } }
  back: { driver_opts: { encrypted: "" }, internal: true }
  shared: { external: true, name: corp }
"#;
    write(&file, yaml);
    let path = file.to_str().unwrap();
    // The external network does not exist yet: nothing is created.
    let err = node.fails(1, &["stack", "deploy", "-d", "-c", path, "demo"]);
    assert!(err.contains("network \"corp\" is declared as external, but could not be found"), "{err}");
    assert!(err.contains("WARN: networks.back.driver_opts: not supported, ignored"), "{err}");
    assert_eq!(node.ok(&["network", "ls", "--format", "{{.Name}}"]), "ingress\n");
    assert!(node.ok(&["service", "ls", "-q"]).is_empty());

    node.ok(&["network", "create", "corp"]);
    let out = node.ok(&["stack", "deploy", "-c", path, "demo"]);
    for network in ["demo_back", "demo_default", "demo_front"] {
        assert!(out.contains(&format!("Creating network {network}")), "{out}");
    }
    let names = node.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(names, "corp\ndemo_back\ndemo_default\ndemo_front\ningress\n");
    let front: Value = serde_json::from_str(&node.ok(&["network", "inspect", "demo_front"])).unwrap();
    assert_eq!(front[0]["IPAM"]["Config"][0]["Subnet"], "10.77.0.0/24");
    assert_eq!(front[0]["Labels"]["com.docker.stack.namespace"], "demo");
    assert_eq!(front[0]["Attachable"], true);
    assert_eq!(front[0]["Internal"], false);
    let back: Value = serde_json::from_str(&node.ok(&["network", "inspect", "demo_back"])).unwrap();
    assert_eq!(back[0]["Internal"], true);

    let services = node.json_lines(&["stack", "services", "--format", "json", "demo"]);
    let web = services.iter().find(|s| s["Name"] == "demo_web").unwrap();
    assert_eq!(web["Ports"], "*:8080->80/tcp,*:5353->53/udp");
    let web = node.json_lines(&["service", "inspect", "--format", "json", "demo_web"]).remove(0);
    let aliases = &web["Spec"]["TaskTemplate"]["Networks"];
    assert_eq!(aliases.as_array().unwrap().len(), 2);
    assert!(aliases.as_array().unwrap().iter().any(|n| n["Aliases"][0] == "www"), "{aliases}");
    // Two stack networks and the ingress one: a VIP on each.
    assert_eq!(web["Endpoint"]["VirtualIPs"].as_array().unwrap().len(), 3);
    let db = node.json_lines(&["service", "inspect", "--format", "json", "demo_db"]).remove(0);
    assert_eq!(db["Spec"]["EndpointSpec"]["Mode"], "dnsrr");
    assert!(db["Endpoint"].get("VirtualIPs").is_none(), "{}", db["Endpoint"]);
    let job = node.json_lines(&["service", "inspect", "--format", "json", "demo_job"]).remove(0);
    let default_id =
        serde_json::from_str::<Value>(&node.ok(&["network", "inspect", "demo_default"])).unwrap()[0]["Id"].clone();
    assert_eq!(job["Spec"]["TaskTemplate"]["Networks"][0]["Target"], default_id);

    // Deployed again unchanged: no task replaced (networks compare by id).
    let before = running_ids(&node, "demo_web");
    node.ok(&["stack", "deploy", "-c", path, "demo"]);
    assert_eq!(running_ids(&node, "demo_web"), before);

    node.ok(&["stack", "rm", "demo"]);
    assert_eq!(node.ok(&["network", "ls", "--format", "{{.Name}}"]), "corp\ningress\n");
}

/// Docker's deploy-time refusals, each naming the key, each creating
/// nothing; and what docker carries into the spec (the compose
/// `restart:` as the policy, the service's name as a network alias, the
/// image label, a bind's propagation, the health check's start
/// interval, variables cast after interpolation) shown by `service
/// inspect` in Docker's field names.
#[test]
fn compose_keys_are_carried_as_docker_carries_them_or_refused_by_name() {
    let node = Node::init("node-a");
    let dir = node.data_dir();
    let file = dir.join("stack.yml");
    let refused = [
        ("deploy: { mode: global, replicas: 2 }", "services.app.deploy.replicas: replicas can only be used"),
        ("deploy: { mode: global, placement: { max_replicas_per_node: 1 } }", "max_replicas_per_node"),
        ("restart: sometimes", "services.app.restart: unknown restart policy: sometimes"),
        ("volumes: [data:/d]", "volume \"data\" is not declared under volumes:"),
        ("volumes: [{ type: bind, target: /d }]", "field Source must not be empty"),
        ("volumes: [\"/tmp:/d:rox\"]", "unknown option \"rox\""),
        ("healthcheck: { test: [CMD, \"true\"], disable: true }", "test and disable can't be set at the same time"),
        ("x-unused: 1\n    platform: linux", "services.app additional property platform is not allowed"),
        ("isolation: hyperv", "services.app.isolation: Linux nodes support only \"default\""),
        ("sysctls: { vm.swappiness: 1 }", "sysctl: vm.swappiness is not in a namespace of the task's own"),
    ];
    for (key, error) in refused {
        write(&file, &format!("services:\n  app:\n    image: sleep\n    command: \"1000\"\n    {key}\n"));
        let err = node.fails(1, &["stack", "deploy", "-d", "-c", file.to_str().unwrap(), "bad"]);
        assert!(err.contains(error), "{key}: {err}");
    }
    assert!(node.ok(&["service", "ls", "-q"]).is_empty(), "nothing was created");
    assert!(!node.ok(&["network", "ls", "--format", "{{.Name}}"]).contains("bad_"), "no network either");

    let yaml = "version: \"3.13\"\nservices:\n  app:\n    image: sleep\n    command: \"1000\"\n    restart: on-failure:3\n    networks: [front]\n    volumes: [\"/tmp:/host-tmp:ro,rslave\"]\n    healthcheck: { test: [CMD, \"true\"], start_period: 1m, start_interval: 2s }\n    tmpfs: [/run]\n    logging: { options: { max-size: 1m } }\n    cap_add: [NET_ADMIN]\n    ulimits: { nofile: 1024 }\n    extra_hosts: [\"db:10.0.0.9\"]\n    dns: 127.0.0.1\n    dns_search: example.test\n    sysctls: [net.core.somaxconn=512]\n    credential_spec: { file: gmsa.json }\n    deploy:\n      replicas: ${SHOAL_T_REPLICAS:-2}\nnetworks:\n  front: {}\n";
    write(&file, yaml);
    let out = node.shoal(&["stack", "deploy", "-d", "-c", file.to_str().unwrap(), "ok"]);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{warned}");
    assert!(warned.contains("services.app.credential_spec: for Windows nodes only"), "named, not dropped: {warned}");
    let inspect: Value = serde_json::from_str(&node.ok(&["service", "inspect", "ok_app"])).unwrap();
    let spec = &inspect[0]["Spec"];
    assert_eq!(spec["Labels"]["com.docker.stack.image"], "sleep");
    assert_eq!(spec["Mode"]["Replicated"]["Replicas"], 2, "cast after interpolation");
    let task = &spec["TaskTemplate"];
    assert_eq!(task["RestartPolicy"]["Condition"], "on-failure");
    assert_eq!(task["RestartPolicy"]["MaxAttempts"], 3);
    assert_eq!(task["Networks"][0]["Aliases"], serde_json::json!(["app"]));
    let mount = &task["ContainerSpec"]["Mounts"][0];
    assert_eq!((&mount["ReadOnly"], &mount["BindOptions"]["Propagation"]), (&true.into(), &"rslave".into()));
    assert_eq!(task["ContainerSpec"]["Healthcheck"]["StartInterval"], 2_000_000_000i64);
    let tmpfs = &task["ContainerSpec"]["Mounts"][1];
    assert_eq!((&tmpfs["Type"], &tmpfs["Target"]), (&"tmpfs".into(), &"/run".into()));
    assert_eq!(task["LogDriver"]["Options"]["max-size"], "1m");
    assert_eq!(task["ContainerSpec"]["CapabilityAdd"], serde_json::json!(["CAP_NET_ADMIN"]), "as docker writes it");
    assert_eq!(task["ContainerSpec"]["Ulimits"], serde_json::json!([{ "Name": "nofile", "Soft": 1024, "Hard": 1024 }]));
    assert_eq!(task["ContainerSpec"]["Hosts"], serde_json::json!(["10.0.0.9 db"]));
    let dns = serde_json::json!({ "Nameservers": ["127.0.0.1"], "Search": ["example.test"] });
    assert_eq!(task["ContainerSpec"]["DNSConfig"], dns);
    assert_eq!(task["ContainerSpec"]["Sysctls"], serde_json::json!({ "net.core.somaxconn": "512" }));
    node.ok(&["stack", "rm", "ok"]);
}
