//! `shoal stack config` on real stack files (`../shared/stacks/`, read
//! only) and on small files made here: every file loads, the printed file
//! loads again to the same thing, several files merge, variables come
//! from the environment before the `.env` file, and errors name the file
//! and the key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;

use common::shared_stacks as stacks;

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

fn config(files: &[&Path], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    config_with(&[], files, env, stdin)
}

/// `stack config` with more arguments (`--skip-interpolation`, and
/// `--cwd DIR`, taken here: where to run it).
fn config_with(args: &[&str], files: &[&Path], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(SHOAL);
    let (args, cwd) = match args {
        ["--cwd", dir, rest @ ..] => (rest, Some(*dir)),
        _ => (args, None),
    };
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.args(["stack", "config"]).args(args);
    for f in files {
        cmd.arg("-c").arg(f);
    }
    if stdin.is_some() {
        cmd.args(["-c", "-"]);
    }
    cmd.envs(env.iter().copied()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run shoal");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn yaml(out: &Output) -> Value {
    assert!(out.status.success(), "stack config failed: {}", text(&out.stderr));
    serde_saphyr::from_str(&text(&out.stdout)).expect("the output is YAML")
}

#[test]
fn every_real_stack_file_loads_and_round_trips() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in std::fs::read_dir(stacks()).unwrap().flatten().filter(|d| d.path().is_dir()) {
        let ymls = std::fs::read_dir(dir.path()).unwrap().flatten().map(|f| f.path());
        files.extend(ymls.filter(|p| p.extension().is_some_and(|e| e == "yml")));
    }
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    // The printed file reads back the same when not interpolated again
    // (docker prints a `$` a default left as it is).
    for file in &files {
        let first = config(&[file], &[], None);
        let tree = yaml(&first);
        assert!(tree.get("services").is_some() || tree.get("version").is_some(), "{}", file.display());
        let dir = file.parent().unwrap().to_str().unwrap();
        let again = config_with(&["--cwd", dir, "--skip-interpolation"], &[], &[], Some(&text(&first.stdout)));
        assert_eq!(yaml(&again), tree, "{} round trips", file.display());
    }
}

#[test]
fn required_and_malformed_variables_name_the_file_and_key() {
    // A default holding `$` (a bcrypt hash) is taken as written, as
    // docker takes it.
    let elk = yaml(&config(&[&stacks().join("dogvscat/stack-elk.yml")], &[], None));
    let users = &elk["services"]["kibana"]["deploy"]["labels"]["traefik.http.middlewares.kibana-auth.basicauth.users"];
    assert_eq!(users, "admin:$2y$05$oZcj4FgdSFEYNCH0EH/3Vu7Hp72gkvEadHzMsDhGFkbvS/ZrKMKfK");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
    std::fs::write(&file, "services:\n  web:\n    image: \"app:${TAG:+alt}\"\n").unwrap();
    let out = config(&[&file], &[("TAG", "1")], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("stack.yml: invalid interpolation format for services.web.image"), "{err}");
    std::fs::write(&file, "services:\n  web:\n    image: \"app:${TAG:?set TAG to the release}\"\n").unwrap();
    let err = text(&config(&[&file], &[], None).stderr);
    assert!(
        err.contains("services.web.image: required variable TAG is missing a value: set TAG to the release"),
        "{err}"
    );
    std::fs::write(&file, "services:\n  web:\n    image: [unclosed\n").unwrap();
    let err = text(&config(&[&file], &[], None).stderr);
    assert!(err.contains("stack.yml") && err.contains("line"), "{err}");
}

#[test]
fn the_environment_wins_over_dot_env_and_unset_variables_warn() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
    std::fs::write(&file, "services:\n  web:\n    image: \"app:${TAG}\"\n    user: \"${WHO:-nobody}\"\n    hostname: $HOST_X\n    command: echo $$HOME\n").unwrap();
    std::fs::write(dir.path().join(".env"), "TAG=from-dotenv\nWHO=dotenv-user\n").unwrap();
    let out = config(&[&file], &[("TAG", "from-env")], None);
    let web = yaml(&out)["services"]["web"].clone();
    assert_eq!(web["image"], "app:from-env");
    assert_eq!(web["user"], "dotenv-user");
    assert_eq!(web["command"], serde_json::json!(["echo", "$HOME"]), "printed as docker prints it");
    let raw = yaml(&config_with(&["--skip-interpolation"], &[&file], &[("TAG", "from-env")], None));
    assert_eq!(raw["services"]["web"]["image"], "app:${TAG}", "--skip-interpolation prints the variables");
    assert!(text(&out.stderr).contains("The \"HOST_X\" variable is not set. Defaulting to a blank string."));
}

#[test]
fn keys_a_swarm_ignores_warn_and_keys_it_refuses_fail() {
    let out = config(&[&stacks().join("stackdemo/compose.yml")], &[], None);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("WARN: services.web: ignoring unsupported options: build"),
        "{}",
        text(&out.stderr)
    );
    let full = config(&[&stacks().join("docker-cli-full-example/full-example.yml")], &[], None);
    let warned = text(&full.stderr);
    assert!(
        warned.contains("services.foo: ignoring unsupported options: build, cgroup_parent, container_name"),
        "{warned}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v2.yml");
    std::fs::write(&file, "services:\n  web:\n    image: a\n    mem_limit: 50m\n    volumes_from: [db]\n").unwrap();
    let out = config(&[&file], &[], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("services.web: mem_limit is not allowed in a stack (use deploy.resources.limits.memory)"),
        "{err}"
    );
    assert!(err.contains("services.web: volumes_from is not allowed in a stack"), "{err}");
    assert!(out.stdout.is_empty(), "nothing printed");
}

#[test]
fn several_files_merge_in_order() {
    let d = stacks().join("diamol-numbers");
    let out =
        config(&[&d.join("docker-compose.yml"), &d.join("prod.yml"), &d.join("prod-update-config.yml")], &[], None);
    let api = yaml(&out)["services"]["numbers-api"].clone();
    assert_eq!(api["image"], "diamol/ch08-numbers-api", "from the base file");
    assert_eq!(api["deploy"]["replicas"], 6, "from prod.yml");
    assert_eq!(api["deploy"]["update_config"]["failure_action"], "rollback", "from the update config file");
    // UTF-16 with a byte order mark reads as any other file.
    let utf16 = config(&[&d.join("docker-compose.yml"), &d.join("prod-full.utf16.yml")], &[], None);
    assert!(yaml(&utf16)["services"]["numbers-api"]["healthcheck"]["test"].is_array());
}

/// Every key of SWARM_REFERENCE.md's "Stacks", in both syntaxes where
/// there are two.
const EVERY_KEY: &str = r#"
version: "3.9"
services:
  api:
    image: "app:1.2"
    command: serve --port 80
    entrypoint: ["/bin/app", "-v"]
    environment:
      - MODE=prod
      - FROM_ENV
    env_file: api.env
    ports:
      - "8080:80"
      - "9000-9001:7000-7001/udp"
      - { target: 443, published: 8443, protocol: tcp, mode: host }
    networks: [front, back]
    volumes:
      - ./data:/data:ro
      - cache:/cache
      - { type: tmpfs, target: /tmp }
    healthcheck:
      test: curl -f http://localhost/
      interval: 1m30s
      timeout: 10s
      retries: 3
      start_period: 40s
    labels: { tier: api }
    user: "1000"
    working_dir: /srv
    hostname: api-host
    stop_grace_period: 1m
    stop_signal: SIGINT
    secrets: [token, { source: cert, target: server.pem, mode: 0400 }]
    configs: [{ source: conf, target: /etc/app.conf }]
    build: .
    container_name: api
    links: [db]
    restart: always
    network_mode: bridge
    deploy:
      mode: replicated
      replicas: 3
      placement:
        constraints: [node.role == worker, node.labels.zone != east]
        preferences: [{ spread: node.labels.zone }]
        max_replicas_per_node: 2
      resources:
        limits: { cpus: "0.5", memory: 512M }
        reservations: { cpus: "0.25", memory: 1.5G }
      restart_policy: { condition: on-failure, delay: 5s, max_attempts: 3, window: 2m }
      update_config: { parallelism: 2, delay: 10s, failure_action: rollback, monitor: 30s, max_failure_ratio: 0.3, order: start-first }
      rollback_config: { parallelism: 1, delay: 0s, failure_action: pause, monitor: 5s, max_failure_ratio: 0, order: stop-first }
      endpoint_mode: dnsrr
      labels: [owner=ops]
  db:
    image: db
    environment: { PASSWORD: secret }
    healthcheck: { test: ["CMD", "db-ping"], disable: false }
    deploy: { mode: global, endpoint_mode: vip }
networks: { front: {}, back: { external: true } }
volumes: { cache: {} }
secrets: { token: { file: ./token.txt }, cert: { external: true } }
configs: { conf: { file: ./app.conf } }
"#;

/// The get-started stack of the seeds (Docker's tutorial, part 5).
const GET_STARTED: &str = r#"
version: "3"
services:
  web:
    image: username/repo:tag
    deploy:
      replicas: 5
      resources: { limits: { cpus: "0.1", memory: 50M } }
      restart_policy: { condition: on-failure }
    ports: ["4000:80"]
    networks: [webnet]
  visualizer:
    image: dockersamples/visualizer:stable
    ports: ["8080:8080"]
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
    deploy: { placement: { constraints: [node.role == manager] } }
    networks: [webnet]
  redis:
    image: redis
    ports: ["6379:6379"]
    volumes: ["/home/docker/data:/data"]
    deploy: { placement: { constraints: [node.role == manager] } }
    command: redis-server --appendonly yes
    networks: [webnet]
networks:
  webnet:
"#;

#[test]
fn a_file_with_every_key_prints_its_normal_form_and_reads_back_the_same() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
    std::fs::write(&file, EVERY_KEY).unwrap();
    std::fs::write(dir.path().join("api.env"), "FROM_FILE=1\nMODE=dev\n").unwrap();
    let out = config(&[&file], &[("FROM_ENV", "here")], None);
    let tree = yaml(&out);
    let warned = text(&out.stderr);
    assert!(
        warned.contains("services.api: ignoring unsupported options: build, container_name, links, network_mode"),
        "{warned}"
    );
    let api = &tree["services"]["api"];
    assert_eq!(api["command"], json!(["serve", "--port", "80"]));
    assert_eq!(api["entrypoint"], json!(["/bin/app", "-v"]));
    assert_eq!(
        api["environment"],
        json!({ "MODE": "prod", "FROM_ENV": "here", "FROM_FILE": "1" }),
        "env files under environment, a value-less key from the shell, as docker prints them"
    );
    assert_eq!(api["env_file"], json!(["api.env"]));
    assert_eq!(
        api["ports"],
        json!([
            { "target": 80, "published": 8080, "protocol": "tcp", "mode": "ingress" },
            { "target": 7000, "published": 9000, "protocol": "udp", "mode": "ingress" },
            { "target": 7001, "published": 9001, "protocol": "udp", "mode": "ingress" },
            { "target": 443, "published": 8443, "protocol": "tcp", "mode": "host" },
        ])
    );
    assert_eq!(api["networks"], json!({ "front": null, "back": null }));
    assert_eq!(
        api["volumes"],
        json!([
            { "type": "bind", "source": dir.path().join("data"), "target": "/data", "read_only": true },
            { "type": "volume", "source": "cache", "target": "/cache" },
            { "type": "tmpfs", "target": "/tmp" },
        ])
    );
    assert_eq!(
        api["healthcheck"],
        json!({ "test": ["CMD-SHELL", "curl -f http://localhost/"], "interval": "1m30s", "timeout": "10s", "retries": 3, "start_period": "40s" })
    );
    assert_eq!(api["labels"], json!({ "tier": "api" }));
    assert_eq!(
        (&api["user"], &api["working_dir"], &api["hostname"]),
        (&json!("1000"), &json!("/srv"), &json!("api-host"))
    );
    assert_eq!((&api["stop_grace_period"], &api["stop_signal"]), (&json!("1m0s"), &json!("SIGINT")));
    assert_eq!(api["secrets"][0], json!({ "source": "token" }));
    assert_eq!(api["secrets"][1]["target"], "server.pem");
    assert_eq!(api["configs"], json!([{ "source": "conf", "target": "/etc/app.conf" }]));
    let deploy = &api["deploy"];
    assert_eq!((&deploy["mode"], &deploy["replicas"]), (&json!("replicated"), &json!(3)));
    assert_eq!(
        deploy["placement"],
        json!({
            "constraints": ["node.role == worker", "node.labels.zone != east"],
            "preferences": [{ "spread": "node.labels.zone" }],
            "max_replicas_per_node": 2,
        })
    );
    assert_eq!(
        deploy["resources"],
        json!({ "limits": { "cpus": "0.5", "memory": "536870912" }, "reservations": { "cpus": "0.25", "memory": "1610612736" } })
    );
    assert_eq!(
        deploy["restart_policy"],
        json!({ "condition": "on-failure", "delay": "5s", "max_attempts": 3, "window": "2m0s" })
    );
    assert_eq!(
        deploy["update_config"],
        json!({ "parallelism": 2, "delay": "10s", "failure_action": "rollback", "monitor": "30s", "max_failure_ratio": 0.3, "order": "start-first" })
    );
    assert_eq!(deploy["rollback_config"]["order"], "stop-first");
    assert_eq!((&deploy["endpoint_mode"], &deploy["labels"]), (&json!("dnsrr"), &json!({ "owner": "ops" })));
    let db = &tree["services"]["db"];
    assert_eq!(db["environment"], json!({ "PASSWORD": "secret" }));
    assert_eq!(db["healthcheck"], json!({ "test": ["CMD", "db-ping"] }));
    assert_eq!((&db["deploy"]["mode"], &db["deploy"]["endpoint_mode"]), (&json!("global"), &json!("vip")));
    assert_eq!(tree["networks"]["back"], json!({ "external": true, "name": "back" }));
    assert_eq!(tree["secrets"]["cert"], json!({ "external": true, "name": "cert" }));
    assert_eq!(tree["secrets"]["token"]["file"], json!(dir.path().join("token.txt")));

    let printed = dir.path().join("printed.yml");
    std::fs::write(&printed, &out.stdout).unwrap();
    let again = config(&[&printed], &[("FROM_ENV", "here")], None);
    assert_eq!(yaml(&again), tree, "the printed file reads back the same");
}

#[test]
fn the_get_started_stack_prints_its_normal_form_and_reads_back_the_same() {
    use serde_json::json;
    let tree = yaml(&config(&[], &[], Some(GET_STARTED)));
    let web = &tree["services"]["web"];
    assert_eq!(web["deploy"]["replicas"], 5);
    assert_eq!(web["deploy"]["resources"]["limits"], json!({ "cpus": "0.1", "memory": "52428800" }));
    assert_eq!(web["deploy"]["restart_policy"], json!({ "condition": "on-failure" }));
    assert_eq!(web["ports"], json!([{ "target": 80, "published": 4000, "protocol": "tcp", "mode": "ingress" }]));
    let visualizer = &tree["services"]["visualizer"];
    assert_eq!(
        visualizer["volumes"],
        json!([{ "type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock" }])
    );
    assert_eq!(visualizer["deploy"]["placement"]["constraints"], json!(["node.role == manager"]));
    let redis = &tree["services"]["redis"];
    assert_eq!(redis["volumes"][0]["target"], "/data");
    assert_eq!(redis["deploy"]["placement"]["constraints"], json!(["node.role == manager"]));
    assert_eq!(redis["command"], json!(["redis-server", "--appendonly", "yes"]));
    assert_eq!(tree["networks"], json!({ "webnet": null }));
    let again = config(&[], &[], Some(&serde_saphyr::to_string(&tree).unwrap()));
    assert_eq!(yaml(&again), tree, "the printed file reads back the same");
}

/// Plain scalars read as docker's loader reads them (only `true` and
/// `false` are booleans; a leading zero is octal), checked against
/// `docker stack config` itself where the docker CLI is installed.
#[test]
fn plain_scalars_read_as_docker_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.txt"), "x").unwrap();
    let file = dir.path().join("c.yml");
    let yml = "services:\n  web:\n    image: a\n    labels: { a: y, b: on, c: no, d: 0440 }\n    secrets: [{ source: s, mode: 0440 }]\n    deploy: { replicas: 010 }\nnetworks:\n  n: {}\nsecrets:\n  s: { file: ./s.txt }\n";
    std::fs::write(&file, yml).unwrap();
    let picked = |tree: &Value| {
        let web = &tree["services"]["web"];
        (
            ["a", "b", "c", "d"].map(|k| web["labels"][k].as_str().unwrap_or_default().to_string()),
            web["secrets"][0]["mode"].as_u64(),
            web["deploy"]["replicas"].as_u64(),
            tree["networks"].get("n").is_some(),
        )
    };
    let ours = picked(&yaml(&config(&[&file], &[], None)));
    assert_eq!(ours, (["y", "on", "no", "288"].map(String::from), Some(0o440), Some(8), true));
    let Ok(docker) = Command::new("docker").args(["stack", "config", "-c"]).arg(&file).output() else {
        eprintln!("docker CLI not installed: compared with the expected values only");
        return;
    };
    assert!(docker.status.success(), "docker stack config: {}", text(&docker.stderr));
    let theirs: Value = serde_saphyr::from_str(&text(&docker.stdout)).unwrap();
    assert_eq!(ours, picked(&theirs), "docker reads it the same");
}
