//! Test fixtures: real `shoal daemon` processes on loopback with their
//! own temp data dirs, driven through the real CLI.
//!
//! A [`Node`] guard kills its daemon and every task process it started
//! (their process groups and shims) when dropped, also when a test fails;
//! on failure it prints the daemon's log.
#![allow(dead_code)]

pub mod browser;
pub mod engine;
pub mod hosts;
pub mod images;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// The binary daemons and the CLI run: this build's, or `SHOAL_BIN`
/// (a benchmark run against another build, to compare two).
pub fn shoal_bin() -> String {
    std::env::var("SHOAL_BIN").unwrap_or_else(|_| SHOAL.to_string())
}

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

/// Prints `name: N trials, p50, p99, max` of `samples` (benchmarks).
pub fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "  {name}: {} trials, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
}

/// The daemons' log level when set by [`set_log_level`].
static LOG_LEVEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the daemons' log level (benchmarks use info, so that debug
/// logging is not measured too).
pub fn set_log_level(level: &str) {
    let _ = LOG_LEVEL.set(level.to_string());
}

/// The daemons' log level: debug for tests (printed when one fails).
fn log_level() -> String {
    LOG_LEVEL.get().cloned().unwrap_or_else(|| "debug".into())
}

/// How many lines of each daemon's log a failed test prints (its end).
const LOG_LINES_ON_FAILURE: usize = 300;

thread_local! {
    /// The panic message of this test thread, repeated after the daemon
    /// logs so that it ends the output.
    static PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Remembers each test thread's panic message (once per process).
fn record_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            previous(info)
        }));
    });
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
    /// The loopback address the node endpoint listens on (any free port).
    pub ip: String,
    /// The network namespace ("host") the daemon runs in, with its data
    /// path on; `None`: the test's own namespace, data path off (several
    /// daemons share it).
    pub netns: Option<String>,
    /// Extra environment of the daemon (see [`Node::restart_with`]).
    env: Vec<(String, String)>,
    /// The data dir is a tmpfs of its own (unmounted on drop).
    tmpfs: bool,
    /// The CPUs the daemon may run on (`taskset -c`), if not all.
    cpus: Option<String>,
    /// The daemon's `--docker-host`; `None`: a socket nothing listens on,
    /// so that tests which do not use the machine's Docker Engine leave it
    /// alone.
    docker_host: Option<String>,
    daemon: Option<Child>,
}

impl Node {
    /// Starts a standalone daemon.
    pub fn start(hostname: &str) -> Node {
        Node::start_on(hostname, "127.0.0.1")
    }

    /// Starts a standalone daemon listening on `ip` (a 127.0.0.x address).
    pub fn start_on(hostname: &str, ip: &str) -> Node {
        Node::start_in(hostname, None, ip)
    }

    /// Starts a standalone daemon in network namespace `netns` (when
    /// given: with its data path on) listening on `ip`.
    pub fn start_in(hostname: &str, netns: Option<&str>, ip: &str) -> Node {
        Node::start_with_docker(hostname, netns, ip, None)
    }

    /// Starts a standalone daemon as [`Node::start_in`] does, with
    /// `--docker-host docker_host` (`None`: no Docker Engine answers).
    pub fn start_with_docker(hostname: &str, netns: Option<&str>, ip: &str, docker_host: Option<&str>) -> Node {
        let mut node = Node {
            dir: TempDir::new().expect("temp dir"),
            hostname: hostname.to_string(),
            ip: ip.to_string(),
            netns: netns.map(String::from),
            env: Vec::new(),
            tmpfs: false,
            cpus: None,
            docker_host: docker_host.map(String::from),
            daemon: None,
        };
        node.spawn();
        node
    }

    /// Starts a standalone daemon on `ip` whose data dir is a tmpfs of
    /// `megabytes` (a disk that can fill).
    pub fn start_on_tmpfs(hostname: &str, ip: &str, megabytes: u32) -> Node {
        let mut node = Node {
            dir: TempDir::new().expect("temp dir"),
            hostname: hostname.to_string(),
            ip: ip.to_string(),
            netns: None,
            env: Vec::new(),
            tmpfs: true,
            cpus: None,
            docker_host: None,
            daemon: None,
        };
        std::fs::create_dir(node.data_dir()).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m,mode=0700"), "shoal-test"])
            .arg(node.data_dir())
            .output()
            .expect("mount");
        assert!(out.status.success(), "mounting a tmpfs: {}", String::from_utf8_lossy(&out.stderr));
        node.spawn();
        node
    }

    /// `(token, manager address)` from `node join-token ROLE`.
    pub fn join_token(&self, role: &str) -> (String, String) {
        let out = self.ok(&["node", "join-token", role]);
        let line = out.lines().find(|l| l.contains("shoal node join --token")).expect("a join command");
        let words: Vec<&str> = line.split_whitespace().collect();
        (words[4].to_string(), words[5].to_string())
    }

    /// Starts a daemon on `ip` and joins it to `manager`'s cluster as `role`.
    pub fn join(hostname: &str, ip: &str, manager: &Node, role: &str) -> Node {
        Node::join_in(hostname, None, ip, manager, role)
    }

    /// [`Node::join`] from network namespace `netns`.
    pub fn join_in(hostname: &str, netns: Option<&str>, ip: &str, manager: &Node, role: &str) -> Node {
        let node = Node::start_in(hostname, netns, ip);
        let (token, addr) = manager.join_token(role);
        node.ok(&["node", "join", "--token", &token, &addr]);
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

    /// The daemon's data dir: made by the daemon inside the test's temp
    /// dir, which also holds its log.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket(&self) -> PathBuf {
        self.data_dir().join("shoal.sock")
    }

    fn spawn(&mut self) {
        record_panics();
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("daemon.log")).unwrap();
        // In a namespace of its own through nsenter, not `ip netns exec`:
        // that one would give the daemon a mount namespace of its own, and
        // the namespaces it makes for its tasks would not show here.
        let mut command = match &self.netns {
            Some(netns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{netns}")).arg(shoal_bin());
                c
            }
            None => match &self.cpus {
                Some(cpus) => {
                    let mut c = Command::new("taskset");
                    c.args(["-c", cpus]).arg(shoal_bin());
                    c
                }
                None => Command::new(shoal_bin()),
            },
        };
        let data_path = if self.netns.is_some() { "on" } else { "off" };
        let docker_host = match &self.docker_host {
            Some(host) => host.clone(),
            None => format!("unix://{}/no-docker.sock", self.dir.path().display()),
        };
        if self.netns.is_some() {
            // Names that are not the cluster's go to the test's own
            // resolver on the switch (hosts::resolver), never further.
            command.args(["daemon", "--dns", hosts::RESOLVER]);
        } else {
            command.arg("daemon");
        }
        let child = command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["--hostname", &self.hostname, "--log-level", &log_level(), "--data-path", data_path])
            .args(["--docker-host", &docker_host])
            .arg("--listen-addr")
            .arg(format!("{}:0", self.ip))
            .arg("--data-dir")
            .arg(self.data_dir())
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
        self.restart_with(&[]);
    }

    /// [`Node::restart`] with `env` added to the daemon's environment
    /// (until the next restart).
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        self.kill9();
        self.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.spawn();
    }

    /// [`Node::restart`] on CPUs `cpus` only (`taskset -c`): the node
    /// then reports fewer CPUs.
    pub fn restart_pinned(&mut self, cpus: &str) {
        self.kill9();
        self.cpus = Some(cpus.to_string());
        self.spawn();
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.daemon.as_ref().map(Child::id).expect("a running daemon")
    }

    /// Whether the daemon process is still running.
    pub fn running(&mut self) -> bool {
        self.daemon.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Runs `shoal --host <this daemon> ARGS`.
    pub fn shoal(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run shoal")
    }

    /// The CLI talking to this node with `args`, to run as the caller
    /// needs (with more environment, say).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(shoal_bin());
        command.arg("--host").arg(format!("unix://{}", self.socket().display())).args(args).stdin(Stdio::null());
        command
    }

    /// The socket this daemon serves the Docker Engine API on.
    pub fn docker_socket(&self) -> PathBuf {
        self.data_dir().join("docker.sock")
    }

    /// The real `docker` CLI talking to this daemon's Docker API (its
    /// own empty config dir: no context, no credentials of the machine's),
    /// killed after two minutes (`--detach=false` waits for ever on a
    /// service that does not converge).
    pub fn docker(&self, args: &[&str]) -> Command {
        let config = self.dir.path().join("docker-config");
        let _ = std::fs::create_dir_all(&config);
        let mut command = Command::new("timeout");
        command
            .args(["120", "docker"])
            .env("DOCKER_HOST", format!("unix://{}", self.docker_socket().display()))
            .env("DOCKER_CONFIG", config)
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs the docker CLI against this daemon, asserts success, returns stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args).output().expect("run docker");
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the docker CLI against this daemon, asserts failure, returns stderr.
    pub fn docker_fails(&self, args: &[&str]) -> String {
        let out = self.docker(args).output().expect("run docker");
        assert!(!out.status.success(), "docker {args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `curl` to this daemon's Docker API: `(status code, body)`.
    pub fn docker_api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        self.docker_api_with(method, path, body, &[])
    }

    /// [`Node::docker_api`] sending `headers` (`Name: value`) too.
    pub fn docker_api_with(&self, method: &str, path: &str, body: Option<&str>, headers: &[&str]) -> (u16, String) {
        let mut command = Command::new("curl");
        command.args(["-s", "-w", "\n%{http_code}", "-X", method, "--unix-socket"]).arg(self.docker_socket());
        for header in headers {
            command.args(["-H", header]);
        }
        if let Some(body) = body {
            command.args(["-H", "Content-Type: application/json", "--data-binary", body]);
        }
        let out = command.arg(format!("http://docker{path}")).output().expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// [`Node::shoal`], killed after `timeout`: `None` if it had not ended.
    pub fn shoal_within(&self, timeout: Duration, args: &[&str]) -> Option<Output> {
        let child = self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run shoal");
        let pid = child.id().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait_with_output()));
        match rx.recv_timeout(timeout) {
            Ok(out) => Some(out.expect("run shoal")),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid]).output();
                None
            }
        }
    }

    /// The names of the services, as this manager lists them.
    pub fn services(&self) -> std::collections::BTreeSet<String> {
        self.ok(&["service", "ls", "--format", "{{.Name}}"]).lines().map(str::to_string).collect()
    }

    /// Creates service `name` (no tasks) within 20 s; whether the write
    /// was acknowledged (a wedged cluster never answers).
    pub fn create_empty(&self, name: &str) -> bool {
        let args = ["service", "create", "--detach", "--replicas", "0", "--name", name, "sleep", "9"];
        self.shoal_within(Duration::from_secs(20), &args).is_some_and(|o| o.status.success())
    }

    /// The folder of this node's certificate bundle.
    pub fn certs(&self) -> PathBuf {
        self.data_dir().join("certificates")
    }

    /// Whether `shoal ARGS` succeeds and prints `text` (for a wait: a
    /// daemon just restarted may not answer yet).
    pub fn says(&self, args: &[&str], text: &str) -> bool {
        let out = self.shoal(args);
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(text)
    }

    /// This node's certificate, key and CA, as they are now.
    pub fn certificate(&self) -> shoal_proto::transport::Credentials {
        credentials(&self.certs())
    }

    /// The address of this manager's node endpoint.
    pub fn endpoint(&self) -> String {
        self.ok(&["node", "inspect", "--format", "{{.ManagerStatus.Addr}}", "self"]).trim().to_string()
    }

    /// This node's id.
    pub fn id(&self) -> String {
        self.ok(&["node", "inspect", "--format", "{{.ID}}", "self"]).trim().to_string()
    }

    /// `SIGSTOP` (true) or `SIGCONT` (false) the daemon.
    pub fn freeze(&self, stop: bool) {
        if let Some(child) = &self.daemon {
            let signal = if stop { "-STOP" } else { "-CONT" };
            Command::new("kill").args([signal, &child.id().to_string()]).output().expect("kill");
        }
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

    /// The ids of the tasks this node recorded.
    pub fn task_ids(&self) -> Vec<String> {
        let tasks = self.data_dir().join("worker/tasks");
        let entries = std::fs::read_dir(tasks).into_iter().flatten().flatten();
        entries.map(|e| e.file_name().to_string_lossy().into_owned()).collect()
    }

    /// Kills every task process and shim this node started, and removes
    /// the network namespaces its data path made for them.
    fn kill_tasks(&self) {
        self.remove_containers();
        for id in self.task_ids() {
            hosts::remove_netns(&format!("shoal-{id}"));
        }
        let tasks = self.data_dir().join("worker/tasks");
        kill_shims(&tasks);
        for entry in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            for (file, group) in [("pid", true), ("shim.pid", false)] {
                if let Some((pid, start)) = read_pid(&entry.path().join(file))
                    && start_time(pid) == Some(start)
                {
                    let target = if group { -pid } else { pid };
                    let _ = Command::new("kill").args(["-9", "--", &target.to_string()]).output();
                }
            }
            remove_cgroups(&entry.file_name().to_string_lossy());
        }
    }
}

impl Node {
    /// Removes the containers this node made in the machine's engine (its
    /// tasks' and their sandboxes, found by its node id), if it used one.
    fn remove_containers(&self) {
        if self.docker_host.is_none() {
            return;
        }
        let Ok(membership) = std::fs::read(self.data_dir().join("node.json")) else { return };
        let Some(id) =
            serde_json::from_slice::<Value>(&membership).ok().and_then(|m| m["node_id"].as_str().map(String::from))
        else {
            return;
        };
        let filter = format!("label=io.shoal.node.id={id}");
        let found = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output();
        let ids = found.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
        }
    }
}

/// Kills the shims running tasks under `tasks` (found by their command
/// line, `shoal-shim <tasks>/<id>`, so also one the daemon started just
/// before it was killed, that has not written its pid files yet) and the
/// tasks they started: each shim is stopped first, so that it starts
/// nothing more while its children are found.
fn kill_shims(tasks: &Path) {
    let needle = tasks.to_string_lossy().into_owned();
    let kill = |args: &[String]| {
        let _ = Command::new("kill").args(args).output();
    };
    for (shim, ..) in processes().iter().filter(|(_, cmd, _)| cmd.contains("shoal-shim") && cmd.contains(&needle)) {
        kill(&["-STOP".into(), shim.to_string()]);
        for (child, ..) in processes().iter().filter(|(_, _, parent)| parent == shim) {
            kill(&["-9".into(), "--".into(), (-child).to_string(), child.to_string()]);
        }
        kill(&["-9".into(), shim.to_string()]);
    }
}

/// Every process: pid, command line, parent pid.
fn processes() -> Vec<(i32, String, i32)> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, String::from_utf8_lossy(&cmdline).replace('\0', " "), parent))
        })
        .collect()
}

/// The cgroup directories of task `id` that exist (on cgroup v1 one per
/// controller, on v2 one).
pub fn task_cgroups(id: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("shoal").join(id))
        .collect();
    dirs.push(Path::new("/sys/fs/cgroup/shoal").join(id));
    dirs.retain(|d| d.is_dir());
    dirs
}

/// Kills what is left in task `id`'s cgroups (its shim was killed with
/// the daemon) and removes them.
fn remove_cgroups(id: &str) {
    for dir in task_cgroups(id) {
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
        let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
        // Until it can be removed: killed processes take a moment to go.
        let deadline = Instant::now() + Duration::from_secs(5);
        while dir.exists() && Instant::now() < deadline {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let pids: Vec<&str> = procs.split_whitespace().collect();
            if !pids.is_empty() {
                let _ = Command::new("kill").arg("-9").args(&pids).output();
            }
            if std::fs::remove_dir(&dir).is_err() {
                std::thread::sleep(Duration::from_millis(20));
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

impl Node {
    /// Unmounts the tmpfs of each task's secrets and configs (the node
    /// keeps them while its tasks run, which outlive a killed daemon).
    fn unmount_task_files(&self) {
        let Ok(membership) = std::fs::read(self.data_dir().join("node.json")) else { return };
        let Ok(membership) = serde_json::from_slice::<Value>(&membership) else { return };
        let Some(id) = membership["node_id"].as_str().filter(|id| !id.is_empty()) else { return };
        let dir = Path::new("/run/shoal/files").join(id);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let _ = Command::new("umount").arg("-l").arg(entry.path()).output();
            let _ = std::fs::remove_dir(entry.path());
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.freeze(false);
        self.kill9();
        self.kill_tasks();
        self.unmount_task_files();
        if self.tmpfs {
            let _ = Command::new("umount").arg("-l").arg(self.data_dir()).output();
        }
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_LINES_ON_FAILURE)..].join("\n");
            eprintln!("---- end of the daemon log of {} ----\n{tail}", self.hostname);
            if let Some(message) = PANIC.with(|p| p.borrow().clone()) {
                eprintln!("---- the test failed: {message}");
            }
        }
    }
}

/// A free port on 127.0.0.1 (free when asked).
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// `GET path` over plain HTTP/1.1 from `addr`, naming `host`: the
/// response's head (status line and headers) and body.
pub fn http_get(addr: &str, path: &str, host: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr} answers: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_string(), body.to_string())
}

/// The certificate bundle (ca.pem, cert.pem, key.pem) in `dir`.
pub fn credentials(dir: &Path) -> shoal_proto::transport::Credentials {
    let read = |name: &str| pem::parse(std::fs::read(dir.join(name)).unwrap()).unwrap().into_contents();
    shoal_proto::transport::Credentials::new(read("ca.pem"), read("cert.pem"), read("key.pem")).unwrap()
}

/// Runs `shoal --host https://ADDR` with the certificates in `certs`.
pub fn remote(addr: &str, certs: &Path, args: &[&str]) -> Output {
    Command::new(SHOAL)
        .env("SHOAL_CERT_PATH", certs)
        .arg("--host")
        .arg(format!("https://{addr}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run shoal")
}

/// Managers and workers of one cluster, each daemon on its own 127.0.0.x.
pub struct Cluster {
    pub managers: Vec<Node>,
    pub workers: Vec<Node>,
}

impl Cluster {
    /// `node init` on the first manager, the others join by token.
    pub fn new(managers: usize, workers: usize) -> Cluster {
        // A base per test process and cluster, so parallel tests rarely
        // share addresses (they could: every daemon listens on port 0).
        let base = 10 + rand::random::<u8>() % 200;
        let ip = |i: usize| format!("127.0.{base}.{}", i + 1);
        let first = Node::start_on("manager-1", &ip(0));
        first.ok(&["node", "init"]);
        let mut cluster = Cluster { managers: vec![first], workers: Vec::new() };
        for i in 1..managers {
            let node = Node::join(&format!("manager-{}", i + 1), &ip(i), &cluster.managers[0], "manager");
            cluster.managers.push(node);
        }
        for i in 0..workers {
            let node = Node::join(&format!("worker-{}", i + 1), &ip(managers + i), &cluster.managers[0], "worker");
            cluster.workers.push(node);
        }
        let total = managers + workers;
        for m in &cluster.managers {
            wait_until(Duration::from_secs(20), "every node Ready on every manager", || {
                let out = m.shoal(&["node", "ls", "--format", "{{.Status}}"]);
                let text = String::from_utf8_lossy(&out.stdout);
                out.status.success() && text.lines().filter(|l| *l == "Ready").count() == total
            });
            wait_until(Duration::from_secs(20), "one Leader and every other manager Reachable", || {
                let out = m.shoal(&["node", "ls", "--format", "{{.ManagerStatus}}"]);
                let text = String::from_utf8_lossy(&out.stdout);
                text.lines().filter(|l| *l == "Leader").count() == 1
                    && text.lines().filter(|l| *l == "Reachable").count() == managers - 1
            });
        }
        cluster
    }

    /// The manager `node ls` calls the leader, as seen from the first one
    /// that answers.
    pub fn leader(&self) -> &Node {
        for m in &self.managers {
            let out = m.shoal(&["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"]);
            if let Some(line) = String::from_utf8_lossy(&out.stdout).lines().find(|l| l.ends_with(" Leader")) {
                let host = line.split(' ').next().unwrap_or_default().to_string();
                if let Some(node) = self.managers.iter().find(|n| n.hostname == host) {
                    return node;
                }
            }
        }
        panic!("no manager knows a leader");
    }
}

/// The shared stack files: `../shared/stacks` beside the checkout (or
/// `$SHOAL_STACKS`, or this machine kind's `/work/shared/stacks` for a
/// clone elsewhere).
pub fn shared_stacks() -> PathBuf {
    let candidates = [
        std::env::var_os("SHOAL_STACKS").filter(|v| !v.is_empty()).map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/stacks")),
        Some(PathBuf::from("/work/shared/stacks")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.join("README.md").is_file());
    found.expect("the shared stack files (../shared/stacks; set SHOAL_STACKS to their folder)")
}

/// `text` as JSON, or a panic naming what it was.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The lines of `text`, sorted (tables whose row order may differ).
pub fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// The lines a child writes to `stdout`, as they come.
pub fn lines_from(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Percent-encodes a query value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
