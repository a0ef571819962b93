//! A Docker Engine of a test's (or bench's) own: a private `dockerd`
//! in a network namespace of its own, with its own data and exec roots,
//! socket, containerd namespace and cgroup parent, and the machine
//! engine's storage driver, so that what a test does to it (`--label`s,
//! `docker swarm init`, stopping it) changes nothing of the machine's
//! engine. It runs with `DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1` (no
//! registry is reachable: Swarm would try to pull every task's image
//! first). Dropped, it removes its containers, stops, and goes with its
//! namespace and directories, also when a test fails (printing the end
//! of its log then).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::images::docker;
use super::wait_until;

/// A `dockerd` of a test's own, in a network namespace of its own.
pub struct PrivateEngine {
    netns: String,
    root: PathBuf,
    daemon: Child,
    /// `unix://...` of its socket.
    pub host: String,
}

impl PrivateEngine {
    /// Starts one (`purpose` names its namespace and directory) with
    /// `args` added to dockerd's (`--label zone=east`); returns once it
    /// answers.
    pub fn start(purpose: &str, args: &[&str]) -> PrivateEngine {
        let token = rand::random::<u16>();
        let netns = format!("shoal-test-{purpose}-{token}");
        let root = PathBuf::from(format!("/var/tmp/shoal-test-{purpose}-{token}"));
        std::fs::create_dir_all(&root).unwrap();
        run("ip", &["netns", "add", &netns]);
        run("ip", &["netns", "exec", &netns, "ip", "link", "set", "lo", "up"]);
        let socket = root.join("docker.sock");
        let path = |name: &str| root.join(name).display().to_string();
        let log = std::fs::File::create(root.join("dockerd.log")).unwrap();
        // The machine's engine's storage driver (its daemon.json is the
        // machine's: not read); only the network namespace is entered
        // (`ip netns exec` would remount /sys, hiding the cgroups).
        let driver = docker(&["info", "--format", "{{.Driver}}"]);
        std::fs::write(root.join("daemon.json"), serde_json::json!({ "storage-driver": driver.trim() }).to_string())
            .unwrap();
        let daemon = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .args(["dockerd", "--config-file", &path("daemon.json")])
            .args(["--data-root", &path("data"), "--exec-root", &path("exec"), "--pidfile", &path("dockerd.pid")])
            .args(["-H", &format!("unix://{}", socket.display())])
            .args(["--containerd-namespace", &format!("shoal-test-{purpose}")])
            .args(["--containerd-plugins-namespace", &format!("shoal-test-{purpose}-plugins")])
            .args(["--cgroup-parent", &format!("shoal-test-{purpose}")])
            .args(args)
            .env("DOCKER_SERVICE_PREFER_OFFLINE_IMAGE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd");
        let engine = PrivateEngine { netns, host: format!("unix://{}", socket.display()), root, daemon };
        wait_until(Duration::from_secs(60), "the private dockerd answering", || {
            Command::new("docker").args(["-H", &engine.host, "info"]).output().is_ok_and(|o| o.status.success())
        });
        engine
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.root.join("dockerd.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- end of the private dockerd's log ----\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
        let _ = Command::new("docker").args(["-H", &self.host, "swarm", "leave", "--force"]).output();
        let ids = Command::new("docker").args(["-H", &self.host, "ps", "-aq"]).output();
        let ids = ids.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["-H", &self.host, "rm", "-f"]).args(&ids).output();
        }
        let _ = Command::new("kill").args(["-TERM", &self.daemon.id().to_string()]).output();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && matches!(self.daemon.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        // Whatever the engine left mounted under its roots, then the roots.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("grep -o ' {}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l", self.root.display()))
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}
