//! Secrets and configs end to end through the CLI: made from a file or
//! STDIN, listed, inspected (a secret's data never shown, a config's
//! base64 as Docker shows it), read by a service's containers with the
//! owner and mode asked, rotated by `--secret-rm/--secret-add` (the tasks
//! roll), refused removal while a service uses them, and never on disk:
//! no file under the node's data dir holds a secret's bytes. The process
//! runtime gets them too, over files of the node, in the task's own mount
//! namespace. Bad input is named and changes nothing.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::images::{BusyboxImage, docker};
use common::{Node, wait_until};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);
const ENGINE: &str = "unix:///var/run/docker.sock";

/// Bytes no file holds by chance.
fn unique(what: &str) -> String {
    format!("{what}-{:032x}", rand::random::<u128>())
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if kind.is_file()
            && let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

/// `shoal ARGS` with `input` on STDIN; its stdout.
fn with_stdin(node: &Node, args: &[&str], input: &str) -> String {
    let mut child = node.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "shoal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The running container of `service`'s task, made from `image`.
fn container(image: &BusyboxImage, service: &str) -> Option<String> {
    let filters = [format!("label={}", image.label), format!("label=io.shoal.service.name={service}")];
    let out = docker(&["ps", "-q", "--filter", &filters[0], "--filter", &filters[1]]);
    let ids: Vec<&str> = out.lines().collect();
    (ids.len() == 1).then(|| ids[0].to_string())
}

fn exec(id: &str, script: &str) -> String {
    docker(&["exec", id, "sh", "-c", script])
}

#[test]
fn secrets_and_configs_reach_containers_rotate_and_never_touch_disk() {
    let image = BusyboxImage::import("secrets", &["sleep", "sh", "cat", "stat"]);
    let node = Node::start_with_docker("node-s", None, "127.0.0.1", Some(ENGINE));
    node.ok(&["node", "init"]);
    let dir = tempfile::tempdir().unwrap();
    let (password, key, conf) = (unique("password"), unique("api-key"), unique("listen 8080"));
    std::fs::write(dir.path().join("pw"), &password).unwrap();
    std::fs::write(dir.path().join("app.conf"), &conf).unwrap();
    let path = |f: &str| dir.path().join(f).to_string_lossy().into_owned();

    // Made from a file and from STDIN; ids printed.
    let pw_id = node.ok(&["secret", "create", "db_pw", &path("pw")]).trim().to_string();
    assert_eq!(pw_id.len(), 25, "{pw_id}");
    with_stdin(&node, &["secret", "create", "--label", "env=prod", "api_key", "-"], &key);
    node.ok(&["config", "create", "app_conf", &path("app.conf")]);

    // Listed as Docker lists them.
    let ls = node.ok(&["secret", "ls"]);
    let header: Vec<&str> = ls.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]);
    assert!(ls.contains("db_pw") && ls.contains("api_key") && ls.contains(" ago"), "{ls}");
    assert_eq!(node.ok(&["secret", "ls", "-q", "--filter", "name=db"]).trim(), pw_id);
    let prod = node.json_lines(&["secret", "ls", "--filter", "label=env=prod", "--format", "json"]);
    assert_eq!(prod.len(), 1);
    assert_eq!(prod[0]["Name"], "api_key");
    let configs = node.ok(&["config", "ls"]);
    assert_eq!(
        configs.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["ID", "NAME", "CREATED", "UPDATED"]
    );

    // Inspect: never a secret's data; a config's, base64.
    let secret: Value = serde_json::from_str(&node.ok(&["secret", "inspect", "db_pw"])).unwrap();
    assert_eq!(secret[0]["ID"], pw_id.as_str());
    assert_eq!(secret[0]["Spec"], serde_json::json!({ "Name": "db_pw", "Labels": {} }));
    let pretty = node.ok(&["secret", "inspect", "--pretty", "api_key"]);
    assert!(pretty.contains("Name:            api_key") && pretty.contains(" - env=prod"), "{pretty}");
    assert!(!pretty.contains(&key));
    let config: Value = serde_json::from_str(&node.ok(&["config", "inspect", "app_conf"])).unwrap();
    use base64::Engine;
    assert_eq!(config[0]["Spec"]["Data"], base64::engine::general_purpose::STANDARD.encode(&conf));
    assert!(node.ok(&["config", "inspect", "--pretty", "app_conf"]).contains(&conf));

    // A service reads them, with the owner and mode asked.
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "web",
        "--secret",
        "db_pw",
        "--secret",
        "source=api_key,target=/etc/api.key,uid=1000,gid=1001,mode=0400",
        "--config",
        "source=app_conf,target=/etc/app.conf,mode=0440",
        &image.name,
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "web's container", || container(&image, "web").is_some());
    let id = container(&image, "web").unwrap();
    assert_eq!(exec(&id, "cat /run/secrets/db_pw"), password);
    assert_eq!(exec(&id, "stat -c '%u %g %a' /run/secrets/db_pw").trim(), "0 0 444");
    assert_eq!(exec(&id, "cat /etc/api.key"), key);
    assert_eq!(exec(&id, "stat -c '%u %g %a' /etc/api.key").trim(), "1000 1001 400");
    assert_eq!(exec(&id, "cat /etc/app.conf"), conf);
    assert_eq!(exec(&id, "stat -c '%a' /etc/app.conf").trim(), "440");
    let refs: Value = serde_json::from_str(&node.ok(&[
        "service",
        "inspect",
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}",
        "web",
    ]))
    .unwrap();
    assert_eq!(
        refs[0],
        serde_json::json!({ "File": { "Name": "db_pw", "UID": "0", "GID": "0", "Mode": 0o444 }, "SecretID": pw_id, "SecretName": "db_pw" })
    );

    // In use: refused, naming the service; nothing changes.
    let err = node.fails(1, &["secret", "rm", "db_pw"]);
    assert!(err.contains("secret db_pw is in use by service web"), "{err}");
    assert!(node.fails(1, &["config", "rm", "app_conf"]).contains("config app_conf is in use by service web"));
    assert!(node.ok(&["secret", "ls", "-q"]).contains(&pw_id));

    // Rotation: a new secret at the same target; the task rolls.
    let rotated = unique("password-2");
    with_stdin(&node, &["secret", "create", "db_pw_2", "-"], &rotated);
    node.ok(&["service", "update", "--secret-rm", "db_pw", "--secret-add", "source=db_pw_2,target=db_pw", "web"]);
    wait_until(WAIT, "a container reading the new secret", || {
        container(&image, "web").is_some_and(|c| c != id && exec(&c, "cat /run/secrets/db_pw") == rotated)
    });
    node.ok(&["secret", "rm", "db_pw"]);
    assert!(!node.ok(&["secret", "ls"]).contains(" db_pw "));

    // Never on the node's disk (raft log, snapshots, RocksDB, task records).
    for secret in [&password, &key, &rotated] {
        assert_eq!(files_holding(&node.data_dir(), secret.as_bytes()), Vec::<String>::new());
    }

    node.ok(&["service", "rm", "web"]);
    wait_until(WAIT, "web's containers gone", || image.containers(true).is_empty());
    node.ok(&["secret", "rm", "api_key", "db_pw_2"]);
    node.ok(&["config", "rm", "app_conf"]);
    assert_eq!(node.ok(&["secret", "ls", "-q"]).trim(), "");
}

#[test]
fn process_tasks_read_files_over_the_nodes_in_their_own_namespace() {
    let node = Node::init("node-p");
    let dir = tempfile::tempdir().unwrap();
    let placeholder = dir.path().join("token");
    std::fs::write(&placeholder, "").unwrap();
    let target = placeholder.to_string_lossy().into_owned();
    let token = unique("token");
    with_stdin(&node, &["secret", "create", "token", "-"], &token);
    // Shown in upper case: the task's output is on the node's disk, the
    // secret itself must not be.
    let script = format!("stat -c '%u %g %a' {target}; tr a-z A-Z < {target}; echo; sleep 1000");
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "reader",
        "--runtime",
        "process",
        "--secret",
        &format!("source=token,target={target},uid=7,gid=8,mode=0640"),
        "sh",
        "-c",
        &script,
    ]);
    let shown = token.to_uppercase();
    wait_until(WAIT, "the task's output", || node.ok(&["service", "logs", "reader"]).contains(&shown));
    let logs = node.ok(&["service", "logs", "reader"]);
    assert!(logs.contains("7 8 640"), "{logs}");
    assert_eq!(std::fs::read_to_string(&placeholder).unwrap(), "", "the node's file is untouched");

    // A target that is no file of the node: the task says so.
    node.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "lost",
        "--runtime",
        "process",
        "--secret",
        "source=token,target=/no/such/file",
        "sleep",
        "1000",
    ]);
    wait_until(WAIT, "the task's error", || {
        node.ok(&["service", "ps", "--no-trunc", "lost"])
            .contains("mount target /no/such/file is not a file on this node")
    });
    assert_eq!(files_holding(&node.data_dir(), token.as_bytes()), Vec::<String>::new());
}

#[test]
fn bad_input_is_named_and_changes_nothing() {
    let node = Node::init("node-b");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "x").unwrap();
    let file = file.to_string_lossy().into_owned();
    let missing = dir.path().join("missing").to_string_lossy().into_owned();

    assert!(node.fails(1, &["secret", "create", "s", &missing]).contains(&format!("FILE: cannot read {missing}")));
    assert!(node.fails(1, &["secret", "create", "", &file]).contains("name: a secret needs a name"));
    assert!(node.fails(1, &["secret", "create", "a b", &file]).contains("name: \"a b\" is not valid"));
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'x'; 500 * 1024 + 1]).unwrap();
    let err = node.fails(1, &["config", "create", "big", big.to_str().unwrap()]);
    assert!(err.contains("data: a config holds 1 byte to 500 KB, got 512001 bytes"), "{err}");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    assert!(node.fails(1, &["secret", "create", "e", empty.to_str().unwrap()]).contains("got 0 bytes"));
    assert!(node.fails(1, &["secret", "create", "--template-driver", "jinja", "t", &file]).contains("only \"golang\""));

    node.ok(&["secret", "create", "s1", &file]);
    node.ok(&["config", "create", "c1", &file]);
    let err = node.fails(1, &["secret", "create", "s1", &file]);
    assert!(err.contains("secret name \"s1\" is already in use"), "{err}");

    let create = |extra: &[&str]| {
        let mut args = vec!["service", "create", "--detach", "--name", "svc", "--runtime", "process"];
        args.extend_from_slice(extra);
        args.extend(["sleep", "100"]);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let fails = |code: i32, extra: &[&str]| {
        let args = create(extra);
        node.fails(code, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert!(
        fails(2, &["--secret", "source=s1,mode=999"])
            .contains("mode: expected permission bits in octal like 0400, got \"999\"")
    );
    assert!(fails(1, &["--secret", "nope"]).contains("no such secret: nope"));
    assert!(fails(1, &["--config", "nope"]).contains("no such config: nope"));
    let clash = fails(1, &["--secret", "source=s1,target=/etc/x", "--config", "source=c1,target=/etc/x"]);
    assert!(clash.contains("secret s1 and config c1 both target /etc/x"), "{clash}");
    assert!(fails(1, &["--secret", "source=s1,target=../x"]).contains("target: expected a file path"));
    assert!(node.services().is_empty(), "nothing was created");
    assert!(node.fails(1, &["secret", "rm", "nope"]).contains("no such secret: nope"));

    // A stack naming an external secret that does not exist: named, nothing made.
    let compose = dir.path().join("stack.yml");
    let yaml = "services:\n  app:\n    image: sleep\n    command: [\"1000\"]\n    x-shoal-runtime: process\n    secrets: [ext, local]\nsecrets:\n  ext: { external: true }\n  local: { file: ./data }\n";
    std::fs::write(&compose, yaml).unwrap();
    let err = node.fails(1, &["stack", "deploy", "--detach", "-c", compose.to_str().unwrap(), "st"]);
    assert!(err.contains("secrets.ext: secret \"ext\" is declared as external, but could not be found"), "{err}");
    assert!(node.services().is_empty());
    assert!(!node.ok(&["secret", "ls"]).contains("st_local"), "nothing made");
    assert!(!node.ok(&["network", "ls"]).contains("st_default"));
    assert!(
        node.fails(2, &["secret", "ls", "--filter", "driver=x"])
            .contains("unknown filter \"driver\" (id, name, label)")
    );
}

#[test]
fn templates_are_rendered_per_task_on_each_node() {
    let cluster = common::Cluster::new(2, 0);
    let (m1, m2) = (&cluster.managers[0], &cluster.managers[1]);
    assert!(m2.data_dir().join("data-key").is_file(), "a joined manager holds the data key");
    let dir = tempfile::tempdir().unwrap();
    let placeholder = dir.path().join("app.conf");
    std::fs::write(&placeholder, "").unwrap();
    let target = placeholder.to_string_lossy().into_owned();
    let password = unique("pw");
    // Made through the second manager: forwarded to the leader, sealed there.
    with_stdin(m2, &["secret", "create", "pw", "-"], &password);
    let template = "host={{.Node.Hostname}} task={{.Task.Name}} db={{env \"DB\"}} pw={{secret \"pw\"}}\n";
    with_stdin(m1, &["config", "create", "--template-driver", "golang", "app_conf", "-"], template);
    let inspected = m1.ok(&["config", "inspect", "--format", "{{json .Spec.Templating}}", "app_conf"]);
    assert_eq!(inspected.trim(), r#"{"Name":"golang"}"#);
    m1.ok(&[
        "service",
        "create",
        "--detach",
        "--name",
        "tpl",
        "--mode",
        "global",
        "--runtime",
        "process",
        "--env",
        "DB=db-{{.Node.Hostname}}",
        "--env",
        "WHERE={{.Node.Hostname}}/{{.Service.Name}}",
        "--secret",
        "pw",
        "--config",
        &format!("source=app_conf,target={target}"),
        "sh",
        "-c",
        &format!("echo where=$WHERE; tr a-z A-Z < {target}; sleep 1000"),
    ]);
    let logs = || m1.ok(&["service", "logs", "tpl"]).to_uppercase();
    wait_until(WAIT, "both tasks' output", || {
        let logs = logs();
        logs.contains("WHERE=MANAGER-1/TPL")
            && logs.contains("WHERE=MANAGER-2/TPL")
            && logs.matches("HOST=").count() == 2
    });
    let logs = logs();
    for host in ["MANAGER-1", "MANAGER-2"] {
        let line = logs.lines().find(|l| l.contains(&format!("HOST={host} "))).unwrap_or_else(|| panic!("{logs}"));
        assert!(line.contains(&format!("DB=DB-{host}")), "{line}");
        assert!(line.contains(&format!("PW={}", password.to_uppercase())), "{line}");
        assert!(line.contains("TASK=TPL."), "{line}");
    }
    // A template that does not parse is refused, naming the field.
    let err = with_status(m1, &["config", "create", "--template-driver", "golang", "bad", "-"], "{{.Node.Nope}}");
    assert!(err.contains("data: template: unknown template field .Node.Nope"), "{err}");
    let err = m1.fails(1, &["service", "create", "--name", "x", "--env", "A={{.Task.Nope}}", "sleep", "1"]);
    assert!(err.contains("env A: template: unknown template field .Task.Nope"), "{err}");
}

/// `shoal ARGS` with `input` on STDIN, expected to fail with status 1; its stderr.
fn with_status(node: &Node, args: &[&str], input: &str) -> String {
    let mut child =
        node.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "shoal {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
