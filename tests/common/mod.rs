//! Test fixtures: real `shoal daemon` processes on loopback with their
//! own temp data dirs, driven through the real CLI.
//!
//! A [`Node`] guard kills its daemon and every task process it started
//! (their process groups and shims) when dropped, also when a test fails;
//! on failure it prints the daemon's log.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// Polls `f` every 100 ms until it holds; panics after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A unique token for this test's processes (found in their environment).
pub fn token() -> String {
    format!("SHOAL_TEST_TOKEN=t{}", rand::random::<u64>())
}

/// Pids of live processes whose environment holds `token`.
pub fn procs_with(token: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
            .unwrap_or(true);
        if !zombie && environ.split(|b| *b == 0).any(|var| var == token.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

pub struct Node {
    dir: TempDir,
    pub hostname: String,
    daemon: Option<Child>,
}

impl Node {
    /// Starts a standalone daemon.
    pub fn start(hostname: &str) -> Node {
        let mut node = Node { dir: TempDir::new().expect("temp dir"), hostname: hostname.to_string(), daemon: None };
        node.spawn();
        node
    }

    /// Starts a daemon and makes it the first manager of a cluster.
    pub fn init(hostname: &str) -> Node {
        Node::init_with(hostname, &[])
    }

    pub fn init_with(hostname: &str, flags: &[&str]) -> Node {
        let node = Node::start(hostname);
        let mut args = vec!["node", "init"];
        args.extend_from_slice(flags);
        node.ok(&args);
        node
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("shoal.sock")
    }

    fn spawn(&mut self) {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("daemon.log")).unwrap();
        let child = Command::new(SHOAL)
            .args(["daemon", "--listen-addr", "127.0.0.1:0", "--hostname", &self.hostname, "--log-level", "debug"])
            .arg("--data-dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start shoal daemon");
        self.daemon = Some(child);
        let socket = self.socket();
        wait_until(Duration::from_secs(20), "the daemon's socket", || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
    }

    /// `kill -9` the daemon (its tasks keep running).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -9`, then start again on the same data dir.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Runs `shoal --host <this daemon> ARGS`.
    pub fn shoal(&self, args: &[&str]) -> Output {
        Command::new(SHOAL)
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run shoal")
    }

    /// Runs the CLI, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.shoal(args);
        assert!(
            out.status.success(),
            "shoal {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the CLI, asserts it fails with `code`, returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.shoal(args);
        assert_eq!(out.status.code(), Some(code), "shoal {args:?}: stdout {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// One JSON object per output line (`--format json`).
    pub fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        self.ok(args).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }

    /// The service's tasks as `docker inspect` shows them.
    pub fn tasks(&self, service: &str) -> Vec<Value> {
        let ids = self.ok(&["service", "ps", "-q", "--no-trunc", service]);
        ids.lines().map(|id| self.json_lines(&["inspect", "--format", "json", id]).remove(0)).collect()
    }

    /// "3/3" from `service ls`.
    pub fn replicas(&self, service: &str) -> String {
        let rows = self.json_lines(&["service", "ls", "--format", "json"]);
        rows.iter()
            .find(|r| r["Name"] == service)
            .map(|r| r["Replicas"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Kills every task process and shim this node started.
    fn kill_tasks(&self) {
        let tasks = self.dir.path().join("worker/tasks");
        for entry in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            for (file, group) in [("pid", true), ("shim.pid", false)] {
                if let Some((pid, start)) = read_pid(&entry.path().join(file))
                    && start_time(pid) == Some(start)
                {
                    let target = if group { -pid } else { pid };
                    let _ = Command::new("kill").args(["-9", "--", &target.to_string()]).output();
                }
            }
        }
    }
}

fn read_pid(path: &Path) -> Option<(i32, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (pid, start) = text.trim().split_once(' ')?;
    Some((pid.parse().ok()?, start.parse().ok()?))
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        self.kill_tasks();
        if std::thread::panicking() {
            eprintln!("---- daemon log of {} ----\n{}", self.hostname, self.log());
        }
    }
}
