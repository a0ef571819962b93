//! Bad input that once got through: a NUL byte in a task's environment, a
//! stack too large for the cluster (refused before anything is created),
//! a data dir that is not the daemon's, and a reader that closes the
//! CLI's pipe.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use common::{Node, SHOAL};

#[test]
fn a_nul_byte_or_an_oversized_stack_is_refused_before_anything_is_made() {
    let manager = Node::init("manager-1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
    let deploy = |yaml: &str| {
        std::fs::write(&file, yaml).unwrap();
        manager.fails(1, &["stack", "deploy", "-c", file.to_str().unwrap(), "demo"])
    };
    let err = deploy("services:\n  web:\n    image: sleep\n    environment:\n      A: \"b\\0c\"\n");
    assert!(err.contains("env: the value of A: a NUL byte at position 1"), "{err}");

    // 5 MB of label: more than a spec may be, and than a request may carry.
    let big = "x".repeat(5 << 20);
    let yaml = format!(
        "services:\n  web:\n    image: sleep\n    networks: [back]\n    deploy:\n      labels:\n        big: {big}\nnetworks:\n  back: {{}}\n"
    );
    let err = deploy(&yaml);
    assert!(err.contains("services.web: spec: 5.2 MB encoded, at most 1 MB"), "{err}");
    let networks = manager.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("demo_"), "no network made for a refused stack: {networks}");
    assert_eq!(manager.ok(&["service", "ls", "-q"]), "");
}

#[test]
fn a_data_dir_that_is_not_the_daemons_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("notes.txt"), "someone's").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(SHOAL)
        .args(["daemon", "--data-path", "off", "--listen-addr", "127.0.0.1:0", "--data-dir"])
        .arg(&shared)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--data-dir:") && err.contains("not empty and holds no shoal data (mode 0755)"), "{err}");
    let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the directory was not changed");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 1, "nothing was written into it");
}

#[test]
fn a_closed_pipe_ends_the_cli_quietly() {
    let manager = Node::init("manager-1");
    manager.ok(&["service", "create", "--detach", "--replicas", "3", "--name", "web", "sleep", "1000"]);
    let mut child = Command::new(SHOAL)
        .arg("--host")
        .arg(format!("unix://{}", manager.socket().display()))
        .args(["service", "ps", "-q", "web"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the CLI writes (as `| head -0` would).
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "nothing said: {stderr}");
    assert!(status.success() || status.signal() == Some(13), "ended by SIGPIPE as other tools: {status}");
}

#[test]
fn a_closed_stderr_ends_the_cli_quietly_too() {
    let manager = Node::init("manager-1");
    let mut child = Command::new(SHOAL)
        .arg("--host")
        .arg(format!("unix://{}", manager.socket().display()))
        .args(["service", "inspect", "no-such-service"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader of its error goes away before the CLI writes it.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(101), "no panic on a closed stderr");
    assert!(status.signal() == Some(13) || status.code() == Some(1), "ended by SIGPIPE (or exit 1): {status}");
}
