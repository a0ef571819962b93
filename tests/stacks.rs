//! `shoal stack config` on real stack files (`../shared/stacks/`, read
//! only) and on small files made here: every file loads, the printed file
//! loads again to the same thing, several files merge, variables come
//! from the environment before the `.env` file, and errors name the file
//! and the key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// `../shared/stacks` beside the checkout (or `$SHOAL_STACKS`, or this
/// machine kind's `/work/shared/stacks` for a clone elsewhere).
fn stacks() -> PathBuf {
    let candidates = [
        std::env::var_os("SHOAL_STACKS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/stacks")),
        Some(PathBuf::from("/work/shared/stacks")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.join("README.md").is_file());
    found.expect("the shared stack files (../shared/stacks; set SHOAL_STACKS to their folder)")
}

fn config(files: &[&Path], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(SHOAL);
    cmd.args(["stack", "config"]);
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
    // What the files ask for (dogvscat's elk stack has a default that is
    // not a valid template, used only when the password is unset).
    let env = [("KIBANA_USER", "admin"), ("KIBANA_PASSWORD", "secret")];
    for file in &files {
        let first = config(&[file], &env, None);
        let tree = yaml(&first);
        assert!(tree.get("services").is_some() || tree.get("version").is_some(), "{}", file.display());
        let again = config(&[], &env, Some(&text(&first.stdout)));
        assert_eq!(yaml(&again), tree, "{} round trips", file.display());
    }
}

#[test]
fn required_and_malformed_variables_name_the_file_and_key() {
    let elk = stacks().join("dogvscat/stack-elk.yml");
    let out = config(&[&elk], &[], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("stack-elk.yml: invalid interpolation format for services.kibana.deploy.labels.traefik.http"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
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
    assert_eq!(web["command"], serde_json::json!(["echo", "$$HOME"]), "printed escaped");
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
