//! A node reports the Docker Engine it finds (`node inspect`: version,
//! API, platform) and notices within seconds, without a restart, when the
//! engine stops or starts answering. The engine is the machine's; its
//! coming and going is a proxy socket this test opens and closes. The
//! engine's labels (`dockerd --label`, on an engine of the test's own)
//! are the node's engine labels for constraints, kept while it is away.

mod common;

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::engine::PrivateEngine;
use common::{Node, wait_until};

const WAIT: Duration = Duration::from_secs(20);
const ENGINE: &str = "/var/run/docker.sock";

/// Forwards connections from `path` to the machine's engine until dropped;
/// dropped, it cuts every connection and the socket goes.
struct Proxy {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<UnixStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    fn start(path: &Path) -> Proxy {
        let listener = UnixListener::bind(path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let (stopping, open) = (stop.clone(), conns.clone());
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let (Ok(client), Ok(engine)) = (client, UnixStream::connect(ENGINE)) else { continue };
                open.lock().unwrap().extend([client.try_clone().unwrap(), engine.try_clone().unwrap()]);
                for (mut from, mut to) in [(client.try_clone().unwrap(), engine.try_clone().unwrap()), (engine, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Proxy { path: path.to_path_buf(), stop, conns, thread: Some(thread) }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path); // wakes the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for conn in self.conns.lock().unwrap().drain(..) {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn machine_engine_version() -> String {
    let engine = format!("unix://{ENGINE}");
    let out =
        Command::new("docker").args(["-H", &engine, "version", "--format", "{{.Server.Version}}"]).output().unwrap();
    assert!(out.status.success(), "the machine's Docker Engine: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn reported(node: &Node) -> String {
    node.ok(&["node", "inspect", "--format", "{{json .Description.Docker}}", "self"]).trim().to_string()
}

#[test]
fn a_node_reports_its_docker_engine_and_notices_it_come_and_go() {
    let version = machine_engine_version();
    let node = Node::start_with_docker("node-a", None, "127.0.0.1", Some(&format!("unix://{ENGINE}")));
    node.ok(&["node", "init"]);
    wait_until(WAIT, "the machine's engine reported", || reported(&node).contains(&format!("\"{version}\"")));
    let pretty = node.ok(&["node", "inspect", "--pretty", "self"]);
    assert!(pretty.contains(&format!("Docker Engine:\t\t{version} (API ")), "{pretty}");
    let json = node.json_lines(&["node", "inspect", "--format", "json", "self"]);
    assert_eq!(json[0]["Description"]["Docker"]["OS"], "linux");
    // Found before the first session: no session reopened for it, and
    // none while the engine stays as it is.
    std::thread::sleep(Duration::from_secs(3)); // a quiet period is what is checked
    assert_eq!(node.log().matches("reopening the session").count(), 0, "{}", node.log());

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let other = Node::start_with_docker("node-b", None, "127.0.0.1", Some(&format!("unix://{}", socket.display())));
    other.ok(&["node", "init"]);
    assert_eq!(reported(&other), "null", "nothing answers there yet");
    assert!(!other.ok(&["node", "inspect", "--pretty", "self"]).contains("Docker Engine:"));
    let proxy = Proxy::start(&socket);
    wait_until(WAIT, "the engine noticed once it answers", || reported(&other).contains(&format!("\"{version}\"")));
    drop(proxy);
    wait_until(WAIT, "the engine noticed gone", || reported(&other) == "null");
    let proxy = Proxy::start(&socket);
    wait_until(WAIT, "the engine noticed back", || reported(&other).contains(&format!("\"{version}\"")));
    assert_eq!(other.log().matches("reopening the session").count(), 3, "one per change: {}", other.log());
    drop(proxy);
}

#[test]
fn the_engines_labels_place_tasks_and_stay_while_it_is_away() {
    // An engine of the test's own, labelled as `dockerd --label` does.
    let engine = PrivateEngine::start("engine-labels", &["--label", "zone=east"]);
    let node = Node::start_with_docker("node-l", None, "127.0.0.1", Some(&engine.host));
    node.ok(&["node", "init"]);
    let labels = |node: &Node| node.ok(&["node", "inspect", "--format", "{{json .Description.Engine.Labels}}", "self"]);
    wait_until(WAIT, "the engine's label on the node", || labels(&node).contains(r#""zone":"east""#));
    let create = |name: &str, constraint: &str| {
        let args =
            ["service", "create", "--detach", "--runtime", "process", "--name", name, "--constraint", constraint];
        node.ok(&[&args[..], &["sleep", "1000"]].concat());
    };
    create("east", "engine.labels.zone==east");
    create("west", "engine.labels.zone==west");
    wait_until(WAIT, "east placed", || node.replicas("east") == "1/1");
    let task = node.tasks("east")[0]["ID"].clone();
    assert_eq!(node.replicas("west"), "0/1", "no node has zone=west");

    // The engine stops: the node no longer offers docker, but its labels
    // stay, and so does the task they placed.
    drop(engine);
    let runtimes =
        |node: &Node| node.ok(&["node", "inspect", "--format", "{{json .Description.Engine.Runtimes}}", "self"]);
    wait_until(WAIT, "the engine noticed gone", || runtimes(&node).trim() == r#"["process"]"#);
    std::thread::sleep(Duration::from_secs(2)); // what is checked is that nothing happens
    assert!(labels(&node).contains(r#""zone":"east""#), "{}", labels(&node));
    let tasks = node.tasks("east");
    assert_eq!(tasks.len(), 1, "not stopped nor replaced: {tasks:?}");
    assert_eq!((tasks[0]["ID"].clone(), tasks[0]["Status"]["State"].clone()), (task, "running".into()));
}
