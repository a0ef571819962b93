//! The Docker Engine API a node serves (`<data-dir>/docker.sock`), driven
//! by the real `docker` CLI: `docker version` and `info` see the swarm,
//! `node ls / inspect / ps / update`, `service ls / inspect / ps` and
//! `events` show what `shoal` shows of the same cluster; a worker answers
//! `info` and refuses the cluster's state as a Swarm worker does; bad
//! requests get Docker's `{"message"}` with Docker's codes and change
//! nothing.

mod common;

use std::time::Duration;

use common::{Cluster, json, sorted_lines, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_docker_cli_reads_and_changes_a_shoal_cluster() {
    let cluster = Cluster::new(1, 1);
    let (manager, worker) = (&cluster.managers[0], &cluster.workers[0]);
    manager.ok(&["service", "create", "--name", "web", "--replicas", "2", "--label", "tier=front", "sleep", "1000"]);
    wait_until(WAIT, "web 2/2", || manager.replicas("web") == "2/2");
    let worker_id = manager.ok(&["node", "inspect", "--format", "{{.ID}}", "worker-1"]).trim().to_string();

    // The version the CLI negotiates is the newest it and shoal speak.
    let version = json(&manager.docker_ok(&["version", "--format", "{{json .Server}}"]));
    assert_eq!(version["ApiVersion"], "1.50");
    assert_eq!(version["Version"], env!("CARGO_PKG_VERSION"));
    let (code, body) = manager.docker_api("GET", "/v1.99/version", None);
    assert_eq!(
        (code, json(&body)["message"].as_str().unwrap()),
        (400, "client version 1.99 is too new. Maximum supported API version is 1.50")
    );

    // docker info: the swarm as a manager sees it.
    let swarm = json(&manager.docker_ok(&["info", "--format", "{{json .Swarm}}"]));
    assert_eq!(swarm["LocalNodeState"], "active");
    assert_eq!(swarm["ControlAvailable"], true);
    assert_eq!((swarm["Nodes"].as_u64(), swarm["Managers"].as_u64()), (Some(2), Some(1)));
    assert_eq!(swarm["NodeID"], manager.id().as_str());
    let cluster_id = json(&manager.ok(&["cluster", "inspect", "--format", "json"]))["ID"].clone();
    assert_eq!(swarm["Cluster"]["ID"], cluster_id);
    let text = manager.docker_ok(&["info"]);
    assert!(text.contains("Swarm: active") && text.contains("Is Manager: true"), "{text}");

    // Nodes: the same table, ids, the manager marked as the one asked.
    let docker_nodes = manager.docker_ok(&[
        "node",
        "ls",
        "--format",
        "{{.ID}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}} {{.Self}}",
    ]);
    let shoal_nodes = manager.ok(&[
        "node",
        "ls",
        "--format",
        "{{.ID}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}",
    ]);
    let docker_rows: Vec<String> =
        sorted_lines(&docker_nodes).iter().map(|l| l.rsplit_once(' ').unwrap().0.trim_end().to_string()).collect();
    let shoal_rows: Vec<String> = sorted_lines(&shoal_nodes).iter().map(|l| l.trim_end().to_string()).collect();
    assert_eq!(docker_rows, shoal_rows);
    assert!(
        sorted_lines(&docker_nodes).iter().any(|l| l.contains("manager-1") && l.ends_with(" true")),
        "{docker_nodes}"
    );
    // The API answers shoal's inspect JSON as it is (the docker CLI
    // re-encodes it into its own types, dropping shoal's extra fields).
    let (code, node) = manager.docker_api("GET", "/v1.50/nodes/worker-1", None);
    assert_eq!(code, 200, "{node}");
    assert_eq!(json(&node), json(&manager.ok(&["node", "inspect", "worker-1"]))[0], "node inspect: the same JSON");
    let node = manager.docker_ok(&[
        "node",
        "inspect",
        "worker-1",
        "--format",
        "{{.ID}} {{.Description.Hostname}} {{.Spec.Role}}",
    ]);
    assert_eq!(node.trim(), format!("{} worker-1 worker", worker_id));
    assert_eq!(manager.docker_ok(&["node", "ls", "-q", "--filter", "role=worker"]).trim(), worker_id);

    // Services: ls, inspect and ps as shoal shows them.
    let row = manager.docker_ok(&["service", "ls", "--format", "{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}"]);
    assert_eq!(row.trim(), "web replicated 2/2 sleep");
    assert_eq!(manager.docker_ok(&["service", "ls", "-q", "--filter", "label=tier=back"]).trim(), "");
    // The same JSON but for the runtime's name (Docker's is the kind of task).
    let (_, service) = manager.docker_api("GET", "/v1.41/services/web", None);
    let mut shoal_service = json(&manager.ok(&["service", "inspect", "web"]))[0].clone();
    let runtime = shoal_service["Spec"]["TaskTemplate"].as_object_mut().unwrap().remove("Runtime");
    assert_eq!(runtime, Some("process".into()));
    assert_eq!(json(&service), shoal_service, "service inspect: the same JSON");
    let docker_service = json(&manager.docker_ok(&["service", "inspect", "web"]))[0].clone();
    assert_eq!(docker_service["Spec"]["Labels"]["tier"], "front");
    assert_eq!(docker_service["Spec"]["Mode"]["Replicated"]["Replicas"], 2);
    assert_eq!(docker_service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"], "sleep");
    let ps = "{{.Name}} {{.Node}} {{.DesiredState}} {{.ID}}";
    let docker_ps = manager.docker_ok(&["service", "ps", "web", "--format", ps]);
    let shoal_ps = manager.ok(&["service", "ps", "web", "--format", ps]);
    assert_eq!(sorted_lines(&docker_ps), sorted_lines(&shoal_ps));
    let on_worker = manager.docker_ok(&["node", "ps", "worker-1", "--format", "{{.Name}} {{.Node}}"]);
    assert_eq!(
        sorted_lines(&on_worker),
        sorted_lines(&manager.ok(&["node", "ps", "worker-1", "--format", "{{.Name}} {{.Node}}"]))
    );

    // A change through docker is the cluster's: drain and a label.
    manager.docker_ok(&["node", "update", "--availability", "drain", "--label-add", "zone=a", "worker-1"]);
    let shown = json(&manager.ok(&["node", "inspect", "worker-1"]));
    assert_eq!(
        (&shown[0]["Spec"]["Availability"], &shown[0]["Spec"]["Labels"]["zone"]),
        (&"drain".into(), &"a".into())
    );
    wait_until(WAIT, "web's tasks leave the drained worker", || {
        manager.ok(&["node", "ps", "worker-1", "--filter", "desired-state=running", "-q"]).trim().is_empty()
    });
    manager.docker_ok(&["node", "update", "--availability", "active", "--label-rm", "zone", "worker-1"]);
    let shown = json(&manager.ok(&["node", "inspect", "worker-1"]));
    assert_eq!(shown[0]["Spec"]["Availability"], "active");
    assert!(shown[0]["Spec"]["Labels"].get("zone").is_none(), "{shown}");

    // A stale version is refused (409) and changes nothing.
    let id = &worker_id;
    let (code, body) =
        manager.docker_api("POST", &format!("/v1.50/nodes/{id}/update?version=1"), Some(r#"{"Availability":"pause"}"#));
    assert_eq!(code, 409, "{body}");
    assert!(json(&body)["message"].as_str().unwrap().starts_with("update out of sequence"), "{body}");
    assert_eq!(json(&manager.ok(&["node", "inspect", "worker-1"]))[0]["Spec"]["Availability"], "active");

    // Events: the history in Docker's shape, filtered as Docker filters.
    let until =
        format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1);
    let events = manager.docker_ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "type=node",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes \"availability.new\"}}",
    ]);
    assert!(events.lines().any(|l| l == "node update worker-1 drain"), "{events}");
    assert!(events.lines().all(|l| l.starts_with("node ")), "{events}");

    // A worker: info says so, the cluster's state is the managers'.
    let swarm = json(&worker.docker_ok(&["info", "--format", "{{json .Swarm}}"]));
    assert_eq!((&swarm["LocalNodeState"], &swarm["ControlAvailable"]), (&"active".into(), &false.into()));
    assert_eq!(swarm["NodeID"], worker_id.as_str());
    let refused = worker.docker_fails(&["node", "ls"]);
    assert!(refused.contains("not a cluster manager"), "{refused}");
}

#[test]
fn bad_requests_get_dockers_errors_and_change_nothing() {
    let cluster = Cluster::new(1, 0);
    let manager = &cluster.managers[0];
    let id = manager.id();
    let before = manager.ok(&["node", "inspect", &id]);
    let version = json(&before)[0]["Version"]["Index"].as_u64().unwrap();
    let update = format!("/v1.41/nodes/{id}/update?version={version}");
    let refusals = [
        ("{", "request body: EOF while parsing"),
        (r#"{"Availability": 3}"#, "request body: Availability: invalid type"),
        (r#"{"Availability": "sometimes"}"#, "Availability: expected active, pause or drain"),
        (r#"{"Availability": "drain", "Colour": "red"}"#, "unknown field `Colour`"),
    ];
    for (body, expected) in refusals {
        let (code, answer) = manager.docker_api("POST", &update, Some(body));
        assert_eq!(code, 400, "{body}: {answer}");
        let message = json(&answer)["message"].as_str().unwrap().to_string();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let huge = manager.data_dir().parent().unwrap().join("huge.json");
    std::fs::write(&huge, format!(r#"{{"Name": "{}"}}"#, "x".repeat(3 << 20))).unwrap();
    let (code, answer) = manager.docker_api("POST", &update, Some(&format!("@{}", huge.display())));
    assert_eq!(code, 413, "{answer}");
    assert!(json(&answer)["message"].as_str().unwrap().starts_with("request body:"), "{answer}");
    let (code, answer) = manager.docker_api("POST", &format!("/nodes/{id}/update?version=x"), Some("{}"));
    assert_eq!((code, json(&answer)["message"].as_str().unwrap()), (400, "version: expected a number, got \"x\""));
    let (code, answer) = manager.docker_api("GET", "/services?filters=%7B%22colour%22%3A%5B%22red%22%5D%7D", None);
    assert_eq!(code, 400, "{answer}");
    assert!(json(&answer)["message"].as_str().unwrap().contains("unknown filter \"colour\""), "{answer}");
    let (code, answer) = manager.docker_api("GET", "/v1.41/services/nothing", None);
    assert_eq!(code, 404, "{answer}");
    let (code, answer) = manager.docker_api("POST", "/v1.41/containers/create", Some("{}"));
    assert_eq!(code, 404, "{answer}");
    assert!(json(&answer)["message"].is_string());
    assert_eq!(manager.ok(&["node", "inspect", &id]), before, "nothing changed");
    let (code, answer) = manager.docker_api("GET", "/_ping", None);
    assert_eq!((code, answer.as_str()), (200, "OK"), "the daemon is unharmed");
}

/// The `Spec` of `shoal service inspect NAME`.
fn spec_of(node: &common::Node, name: &str) -> Value {
    json(&node.ok(&["service", "inspect", name]))[0]["Spec"].clone()
}

#[test]
fn services_networks_secrets_and_configs_through_the_docker_cli() {
    let cluster = Cluster::new(1, 0);
    let manager = &cluster.managers[0];
    let dir = manager.data_dir().parent().unwrap().to_path_buf();

    // Networks: an overlay with its subnet and labels.
    manager.docker_ok(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--attachable",
        "--subnet",
        "10.77.0.0/24",
        "--label",
        "a=b",
        "backend",
    ]);
    let shown = json(&manager.ok(&["network", "inspect", "backend"]));
    assert_eq!(shown[0]["IPAM"]["Config"][0]["Subnet"], "10.77.0.0/24");
    assert_eq!((&shown[0]["Attachable"], &shown[0]["Labels"]["a"]), (&true.into(), &"b".into()));
    let names = manager.docker_ok(&["network", "ls", "--filter", "driver=overlay", "--format", "{{.Name}} {{.Scope}}"]);
    assert!(names.lines().any(|l| l == "backend swarm"), "{names}");
    let scope = manager.docker_ok(&["network", "inspect", "backend", "--format", "{{.Scope}} {{.Driver}}"]);
    assert_eq!(scope.trim(), "swarm overlay");
    let refused = manager.docker_fails(&["network", "create", "-d", "bridge", "local"]);
    assert!(refused.contains("shoal's networks are overlays"), "{refused}");

    // Secrets and configs.
    let mut create = manager.docker(&["secret", "create", "--label", "k=v", "db_pw", "-"]);
    let mut child = create.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hush").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    std::fs::write(dir.join("app.conf"), "port=80\n").unwrap();
    manager.docker_ok(&["config", "create", "app_conf", dir.join("app.conf").to_str().unwrap()]);
    assert_eq!(manager.ok(&["secret", "ls", "--format", "{{.Name}}"]).trim(), "db_pw");
    let config = json(&manager.docker_ok(&["config", "inspect", "app_conf"]));
    assert_eq!(config[0]["Spec"]["Data"], "cG9ydD04MAo=");
    assert_eq!(manager.docker_ok(&["secret", "ls", "--filter", "label=k=v", "--format", "{{.Name}}"]).trim(), "db_pw");

    // A service made by docker, waited for as docker waits (--detach=false).
    let out = manager
        .docker(&[
            "service",
            "create",
            "--name",
            "api",
            "--replicas",
            "2",
            "--label",
            "tier=back",
            "--secret",
            "db_pw",
            "--config",
            "source=app_conf,target=/etc/hostname",
            "--detach=false",
            "/bin/sleep",
            "1000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not be accessed on a registry"), "the CLI only warns: {stderr}");
    assert_eq!(manager.replicas("api"), "2/2");
    let spec = spec_of(manager, "api");
    assert_eq!(spec["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"], "db_pw");
    assert_eq!(spec["TaskTemplate"]["ContainerSpec"]["Configs"][0]["File"]["Name"], "/etc/hostname");
    assert_eq!(spec["Labels"]["tier"], "back");

    // scale and update send the whole spec back: nothing else changes.
    manager.docker_ok(&["service", "scale", "--detach", "api=3"]);
    wait_until(WAIT, "api 3/3", || manager.replicas("api") == "3/3");
    let mut scaled = spec_of(manager, "api");
    assert_eq!(scaled["Mode"]["Replicated"]["Replicas"], 3);
    scaled["Mode"] = spec["Mode"].clone();
    assert_eq!(scaled, spec, "a scale through docker changes only the replicas");
    manager.docker_ok(&["service", "update", "--env-add", "COLOUR=blue", "--detach=false", "api"]);
    assert_eq!(spec_of(manager, "api")["TaskTemplate"]["ContainerSpec"]["Env"][0], "COLOUR=blue");
    manager.docker_ok(&["service", "rollback", "--detach=false", "api"]);
    assert!(spec_of(manager, "api")["TaskTemplate"]["ContainerSpec"].get("Env").is_none());
    wait_until(WAIT, "api 3/3 after the rollback", || manager.replicas("api") == "3/3");

    // An update from a stale version is refused and changes nothing.
    let id = json(&manager.ok(&["service", "inspect", "api"]))[0]["ID"].as_str().unwrap().to_string();
    let body = serde_json::to_string(&spec_of(manager, "api")).unwrap().replace("\"Replicas\":3", "\"Replicas\":1");
    let (code, answer) = manager.docker_api("POST", &format!("/v1.50/services/{id}/update?version=1"), Some(&body));
    assert_eq!(code, 409, "{answer}");
    assert!(json(&answer)["message"].as_str().unwrap().starts_with("update out of sequence"), "{answer}");
    assert_eq!(spec_of(manager, "api")["Mode"]["Replicated"]["Replicas"], 3);
    let (code, answer) = manager.docker_api(
        "POST",
        "/v1.50/services/create",
        Some(r#"{"Name": "x", "TaskTemplate": {"ContainerSpec": {"Groups": ["wheel"]}}}"#),
    );
    assert_eq!(
        (code, json(&answer)["message"].as_str().unwrap()),
        (400, "TaskTemplate.ContainerSpec.Groups: not supported by shoal")
    );
    let (code, _) = manager.docker_api(
        "POST",
        "/v1.50/services/create",
        Some(&body.replace("\"api\"", "\"api2\"").replace("\"Mode\"", "\"Colour\":1,\"Mode\"")),
    );
    assert_eq!(code, 400);
    let taken = manager.docker_fails(&["service", "create", "--name", "api", "/bin/sleep", "1"]);
    assert!(taken.contains("api"), "{taken}");
    assert_eq!(manager.ok(&["service", "ls", "-q"]).lines().count(), 1, "nothing made by refused requests");

    // Logs as docker service logs prints them.
    manager.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "hello",
        "--restart-condition",
        "none",
        "sh",
        "-c",
        "echo hello from the task",
    ]);

    wait_until(WAIT, "hello's line", || {
        manager.docker_ok(&["service", "logs", "hello"]).contains("hello from the task")
    });
    let logs = manager.docker_ok(&["service", "logs", "--timestamps", "hello"]);
    let line = logs.lines().find(|l| l.contains("hello from the task")).unwrap();
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(time.starts_with("20") && time.ends_with('Z'), "the timestamp first, as Docker prints it: {line}");
    assert!(rest.starts_with("hello.1.") && rest.contains("@manager-1"), "{line}");
    let raw = manager.docker_ok(&["service", "logs", "--raw", "--no-task-ids", "hello"]);
    assert_eq!(raw.trim(), "hello from the task");

    // Removal.
    manager.docker_ok(&["service", "rm", "api", "hello"]);
    assert!(manager.ok(&["service", "ls", "-q"]).trim().is_empty());
    manager.docker_ok(&["network", "rm", "backend"]);
    manager.docker_ok(&["secret", "rm", "db_pw"]);
    manager.docker_ok(&["config", "rm", "app_conf"]);
    assert!(manager.ok(&["secret", "ls", "-q"]).trim().is_empty());
    assert!(manager.ok(&["config", "ls", "-q"]).trim().is_empty());
    let networks = manager.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("backend"), "{networks}");
}

#[test]
fn a_follower_answers_and_forwards_roles_change_and_logs_follow() {
    let cluster = Cluster::new(3, 0);
    let leader = cluster.leader().hostname.clone();
    let follower = cluster.managers.iter().find(|m| m.hostname != leader).unwrap();
    let other = cluster.managers.iter().find(|m| m.hostname != leader && m.hostname != follower.hostname).unwrap();

    // Writes through a follower's API reach the leader.
    follower.docker_ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "talk",
        "sh",
        "-c",
        "echo one; echo two; echo three; sleep 1000",
    ]);
    wait_until(WAIT, "talk 1/1", || follower.replicas("talk") == "1/1");
    let first = follower.ok(&["service", "ps", "-q", "--filter", "desired-state=running", "talk"]);
    follower.docker_ok(&["service", "scale", "--detach", "talk=2"]);
    wait_until(WAIT, "talk 2/2 on the leader too", || cluster.leader().replicas("talk") == "2/2");
    let all = follower.ok(&["service", "ps", "-q", "talk"]);
    assert_eq!(all.lines().count(), 2, "a scale through docker restarts nothing: {all}");
    assert!(all.contains(first.trim()), "{all}");
    let listed =
        follower.docker_ok(&["service", "ps", "talk", "--filter", "desired-state=running", "--format", "{{.Name}}"]);
    assert_eq!(sorted_lines(&listed), ["talk.1", "talk.2"]);

    // Logs: the last line of each task, and a follow that sees new lines.
    wait_until(WAIT, "talk's lines", || follower.docker_ok(&["service", "logs", "talk"]).matches("three").count() == 2);
    let tail = follower.docker_ok(&["service", "logs", "--tail", "1", "--no-task-ids", "talk"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert!(tail.lines().all(|l| l.ends_with("| three")), "{tail}");
    let mut follow = follower
        .docker(&["service", "logs", "-f", "--raw", "talk"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rx = common::lines_from(follow.stdout.take().unwrap());
    follower.docker_ok(&["service", "scale", "--detach", "talk=3"]);
    let mut ones = 0;
    while ones < 3 {
        let line = rx.recv_timeout(WAIT).expect("the third task's lines while following");
        ones += usize::from(line == "one");
    }
    let _ = follow.kill();
    let _ = follow.wait();

    // Roles: demote and promote through docker, seen by shoal.
    let role =
        |name: &str| cluster.leader().ok(&["node", "inspect", "--format", "{{.Spec.Role}}", name]).trim().to_string();
    follower.docker_ok(&["node", "demote", &other.hostname]);
    wait_until(WAIT, "demoted", || role(&other.hostname) == "worker");
    // The demotion goes on changing the node (its manager status, its
    // certificate's role) after its spec says worker: a promote read
    // before one of those changes is refused as out of sequence, as
    // Swarm refuses it, and goes through when read again.
    wait_until(WAIT, "promoted through docker", || {
        let out = follower.docker(&["node", "promote", &other.hostname]).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || said.contains("update out of sequence"), "{said}");
        out.status.success()
    });
    wait_until(WAIT, "promoted", || role(&other.hostname) == "manager");
    let refused = follower.docker_fails(&["node", "rm", &other.hostname]);
    assert!(refused.contains("Error response from daemon"), "{refused}");
    assert_eq!(role(&other.hostname), "manager", "a refused rm changes nothing");
}

#[test]
fn the_nodes_own_engine_answers_for_its_containers_and_images() {
    let image = common::images::BusyboxImage::import("dockerapi", &["sleep"]);
    let node = common::Node::start_with_docker("engine-1", None, "127.0.0.1", Some("unix:///var/run/docker.sock"));
    node.ok(&["node", "init"]);
    let label = format!("label={}", image.label);
    let made = common::images::docker(&["create", "--label", &image.label, &image.name, "sleep", "1"]);
    let listed = node.docker_ok(&["ps", "-a", "-q", "--no-trunc", "--filter", &label]);
    assert_eq!(listed.trim(), made.trim(), "docker ps through shoal lists the node's own containers");
    let images = node.docker_ok(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", &label]);
    assert_eq!(images.trim(), image.name);
    let inspected = json(&node.docker_ok(&["container", "inspect", made.trim()]));
    assert_eq!(inspected[0]["Id"], made.trim(), "a container's inspect is the engine's");
    let (code, plugins) = node.docker_api("GET", "/v1.41/plugins", None);
    assert!(code == 200 && json(&plugins).is_array(), "{plugins}");
    common::images::docker(&["rm", made.trim()]);

    // A node whose engine does not answer on its socket says so; the
    // cluster's state is still served.
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let node =
        common::Node::start_with_docker("engine-2", None, "127.0.0.1", Some(&format!("unix://{}", dead.display())));
    node.ok(&["node", "init"]);
    let refused = node.docker_fails(&["ps"]);
    assert!(refused.contains("Docker Engine does not answer"), "{refused}");
    assert!(node.docker_ok(&["node", "ls", "-q"]).lines().count() == 1);
}

/// `docker ARGS` through `node`'s Docker API over TCP at `addr`, checking
/// the server and presenting the bundle in `certs` as `--tlsverify` does.
fn docker_tls(node: &common::Node, addr: &str, certs: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut command = node.docker(args);
    command.env("DOCKER_HOST", format!("tcp://{addr}")).env("DOCKER_TLS_VERIFY", "1").env("DOCKER_CERT_PATH", certs);
    command.output().expect("run docker")
}

#[test]
fn over_tcp_the_api_is_https_for_admin_certificates_only() {
    let mut manager = common::Node::init("dapi-tls");
    let port = common::free_addr().rsplit_once(':').unwrap().1.to_string();
    manager.restart_with(&[("SHOAL_DOCKER_API_ADDR", &format!("0.0.0.0:{port}"))]);
    wait_until(WAIT, "the manager answering again", || manager.shoal(&["node", "ls"]).status.success());
    let id = manager.ok(&["node", "inspect", "--format", "{{.ID}}", "self"]).trim().to_string();

    // The admin bundle is all the docker CLI needs: the server's
    // certificate names whichever address the client dialed.
    let admin = manager.certs().join("admin");
    for ip in ["127.0.0.1", "127.0.0.2"] {
        let out = docker_tls(&manager, &format!("{ip}:{port}"), &admin, &["info", "--format", "{{.Swarm.NodeID}}"]);
        assert!(out.status.success(), "{ip}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    }
    let addr = format!("127.0.0.1:{port}");
    let out = docker_tls(&manager, &addr, &admin, &["service", "create", "-d", "--name", "tls", "sleep", "1000"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(manager.services().contains("tls"), "created over TCP");

    // A node's certificate is the cluster's but no admin's; no
    // certificate, or plain HTTP, gets nothing.
    let refused = docker_tls(&manager, &addr, &manager.certs(), &["service", "ls"]);
    assert!(!refused.status.success(), "a node certificate is refused");
    let plain = manager.docker(&["service", "ls"]).env("DOCKER_HOST", format!("tcp://{addr}")).output().unwrap();
    assert!(!plain.status.success(), "plain HTTP is not served");
    let code = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--cacert"])
        .arg(admin.join("ca.pem"))
        .arg(format!("https://{addr}/_ping"))
        .output()
        .unwrap()
        .stdout;
    assert_eq!(String::from_utf8_lossy(&code), "000", "no client certificate: no answer");

    // A revoked admin certificate is refused from then on.
    let scratch = tempfile::tempdir().unwrap();
    let bundle = scratch.path().join("ops");
    let cert = manager.ok(&["cluster", "admin", "create", "--out", bundle.to_str().unwrap()]);
    assert!(docker_tls(&manager, &addr, &bundle, &["service", "ls"]).status.success());
    manager.ok(&["cluster", "admin", "revoke", cert.trim()]);
    assert!(!docker_tls(&manager, &addr, &bundle, &["service", "ls"]).status.success(), "revoked: refused");
    manager.ok(&["service", "rm", "tls"]);
}
