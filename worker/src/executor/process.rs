//! The process runtime: the task's IMAGE is a program (a path, or a name
//! found in PATH) run with its args, env, working dir and user, in its
//! own process group and [cgroup](crate::cgroup) (its resource limits),
//! under a [shim](crate::shim) that outlives the daemon.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Group, Pid, User};
use shoal_proto::logging::LogLimits;
use shoal_proto::{ContainerSpec, Task};
use tokio::process::{Child, Command};

use super::{Adopted, ExecError, Executor, Launch, TaskHandle};
use crate::cgroup::{Cgroups, Limits, TaskCgroup};
use crate::taskdir::{ExitStatus, ProcessId, TaskDir};

/// PATH when neither the task nor the daemon sets one.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How often a task not started by this worker is checked for its end.
const ADOPTED_POLL: Duration = Duration::from_millis(100);
/// How long the shim may take to start the task.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs tasks as processes under `shoal-shim`.
pub struct ProcessExecutor {
    /// The shim binary (run as `shoal-shim DIR`).
    shim: PathBuf,
    tasks_dir: PathBuf,
    cgroups: Arc<Cgroups>,
}

impl ProcessExecutor {
    /// Runs tasks in cgroups if the node can ([`Cgroups::node`]).
    pub fn new(shim: PathBuf, tasks_dir: PathBuf) -> ProcessExecutor {
        ProcessExecutor::with_cgroups(shim, tasks_dir, Cgroups::node())
    }

    pub fn with_cgroups(shim: PathBuf, tasks_dir: PathBuf, cgroups: Arc<Cgroups>) -> ProcessExecutor {
        ProcessExecutor { shim, tasks_dir, cgroups }
    }

    fn dir(&self, task_id: &str) -> TaskDir {
        TaskDir::new(&self.tasks_dir, task_id)
    }

    /// The task's cgroup, found from its id (`None`: the node uses none).
    fn cgroup(&self, task_id: &str) -> Option<TaskCgroup> {
        self.cgroups.for_task(task_id).ok().flatten()
    }
}

fn err(msg: impl Into<String>) -> ExecError {
    ExecError(msg.into())
}

/// The node's files the task sees others in place of, with their
/// contents (written in its directory, bound read-only in its mount
/// namespace): its resolv.conf when it runs in a network namespace (the
/// node's responder there) or names resolvers; its hosts file, the
/// node's with the spec's lines added, when the spec has any.
fn own_files(c: &ContainerSpec, networked: bool) -> Vec<(&'static str, String)> {
    let mut files = Vec::new();
    if networked || c.dns_config.is_some() {
        files.push(("/etc/resolv.conf", shoal_proto::resolv::resolv_conf(c.dns_config.as_ref(), networked)));
    }
    if !c.hosts.is_empty() {
        let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if !hosts.is_empty() && !hosts.ends_with('\n') {
            hosts.push('\n');
        }
        for line in &c.hosts {
            let mut words = line.split_whitespace();
            let address = words.next().unwrap_or_default();
            hosts.push_str(&format!("{address}\t{}\n", words.collect::<Vec<_>>().join(" ")));
        }
        files.push(("/etc/hosts", hosts));
    }
    files
}

/// Finds `program` as the shell would: a path as is, a name in `path`.
pub fn find_program(program: &str, path: &str, cwd: &Path) -> Option<PathBuf> {
    let executable = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let p = cwd.join(program);
        return executable(&p).then_some(p);
    }
    path.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(program)).find(|p| executable(p))
}

/// Resolves `user`, `uid`, `user:group` or `uid:gid`; returns (uid, gid, home).
fn resolve_user(spec: &str) -> Result<(u32, u32, PathBuf), ExecError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let found = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(uid.into()).ok().flatten(),
        Err(_) => Some(
            User::from_name(user).ok().flatten().ok_or_else(|| err(format!("user {user:?} not found on this node")))?,
        ),
    };
    let uid = found.as_ref().map_or_else(|| user.parse().unwrap_or(0), |u| u.uid.as_raw());
    let home = found.as_ref().map_or_else(|| PathBuf::from("/"), |u| u.dir.clone());
    let gid = match group {
        None => found.as_ref().map_or(0, |u| u.gid.as_raw()),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| err(format!("group {g:?} not found on this node")))?
                .gid
                .as_raw(),
        },
    };
    Ok((uid, gid, home))
}

impl Executor for ProcessExecutor {
    type Prepared = Launch;
    type Handle = ProcessHandle;

    async fn prepare(&self, task: &Task, netns: Option<PathBuf>) -> Result<Launch, ExecError> {
        self.launch(task, netns)
    }

    async fn start(&self, task: &Task, launch: Launch) -> Result<ProcessHandle, ExecError> {
        self.spawn(task, launch).await
    }

    async fn adopt(&self, task_id: &str) -> Adopted<ProcessHandle> {
        self.find(task_id).await
    }

    fn probe(&self, task: &Task, argv: Vec<String>) -> impl Future<Output = bool> + Send {
        probe(super::read_launch(&self.dir(&task.id)), argv, self.shim.clone())
    }

    async fn remove(&self, task_id: &str) -> std::io::Result<()> {
        // The record stays while processes of the task may run: a
        // restarted worker tries again.
        if let Some(cgroup) = self.cgroup(task_id) {
            cgroup.remove().map_err(std::io::Error::other)?;
        }
        self.dir(task_id).remove()
    }
}

impl ProcessExecutor {
    /// What the shim will run, checked against the node.
    fn launch(&self, task: &Task, netns: Option<PathBuf>) -> Result<Launch, ExecError> {
        let spec = task.spec.clone().unwrap_or_default();
        // The scheduler places no such task here; one sent anyway must
        // not run without the limits it asked for.
        if let Some(reason) = self.cgroups.refuses(&shoal_proto::limits::required(&spec)) {
            return Err(err(reason));
        }
        let cgroup = self.cgroups.for_task(&task.id).map_err(|e| err(e.to_string()))?;
        let limits = Limits::of(&spec);
        let c = spec.container.unwrap_or_default();
        let docker_only = [
            // `--init=false` (what the docker CLI sends unasked) asks for nothing.
            ("--init", c.init == Some(true)),
            ("--read-only", c.read_only),
            ("--cap-add", !c.capability_add.is_empty()),
            ("--cap-drop", !c.capability_drop.is_empty()),
            ("--ulimit", !c.ulimits.is_empty()),
            ("--tty", c.tty),
            ("stdin_open", c.open_stdin),
            ("--sysctl", !c.sysctls.is_empty()),
        ];
        if let Some((flag, _)) = docker_only.iter().find(|(_, set)| *set) {
            return Err(err(format!("{flag} is for images (--runtime docker): the process runtime has no container")));
        }
        let mut env: Vec<(String, String)> =
            c.env.iter().filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
        let path = match env.iter().find(|(k, _)| k == "PATH") {
            Some((_, p)) => p.clone(),
            None => {
                let p = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
                env.insert(0, ("PATH".into(), p.clone()));
                p
            }
        };
        let dir = if c.dir.is_empty() { PathBuf::from("/") } else { PathBuf::from(&c.dir) };
        if !dir.is_dir() {
            return Err(err(format!("working directory {} does not exist on this node", dir.display())));
        }
        let (uid, gid, home) = if c.user.is_empty() {
            (None, None, std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from))
        } else {
            let (uid, gid, home) = resolve_user(&c.user)?;
            (Some(uid), Some(gid), home)
        };
        if !env.iter().any(|(k, _)| k == "HOME") {
            env.push(("HOME".into(), home.to_string_lossy().into_owned()));
        }
        // An entrypoint replaces the program, as Docker's replaces the image's.
        let (name, args) = match c.command.split_first() {
            Some((program, rest)) => (program.clone(), rest.iter().chain(&c.args).cloned().collect()),
            None => (c.image.clone(), c.args.clone()),
        };
        // The docker CLI names an untagged image `NAME:latest` (Docker's
        // default tag): that program is NAME, when no `NAME:latest` exists.
        let untagged = name.strip_suffix(":latest").filter(|n| !n.is_empty());
        let found = find_program(&name, &path, &dir).or_else(|| untagged.and_then(|n| find_program(n, &path, &dir)));
        let program = found.ok_or_else(|| {
            err(format!("executable not found: {name} (not an executable file, nor a program in $PATH)"))
        })?;
        let volumes = self.tasks_dir.with_file_name("volumes");
        let mut mounts = crate::mounts::plan(&c.mounts, &volumes).map_err(err)?;
        let task_dir = self.dir(&task.id);
        for (target, content) in own_files(&c, netns.is_some()) {
            let source = task_dir.path().join(Path::new(target).file_name().unwrap_or_default());
            std::fs::create_dir_all(task_dir.path())
                .and_then(|()| std::fs::write(&source, content))
                .map_err(|e| err(format!("writing {}: {e}", source.display())))?;
            mounts.push(crate::mounts::MountPlan {
                source: Some(source),
                target: target.into(),
                read_only: true,
                tmpfs: None,
            });
        }
        let log_driver = task.spec.as_ref().and_then(|s| s.log_driver.as_ref());
        let logs = LogLimits::of(log_driver).map_err(err)?;
        let (log_max_size, log_max_files) = (logs.max_size, logs.max_files);
        Ok(Launch { program, args, env, dir, uid, gid, mounts, netns, log_max_size, log_max_files, cgroup, limits })
    }

    /// Starts the shim, which starts the task.
    async fn spawn(&self, task: &Task, launch: Launch) -> Result<ProcessHandle, ExecError> {
        let dir = self.dir(&task.id);
        dir.clear_run().map_err(|e| err(format!("clearing an earlier attempt in {}: {e}", dir.path().display())))?;
        let json = serde_json::to_vec(&launch).map_err(|e| err(format!("encoding the launch: {e}")))?;
        std::fs::create_dir_all(dir.path())
            .and_then(|()| std::fs::write(dir.launch_path(), json))
            .map_err(|e| err(format!("writing {}: {e}", dir.launch_path().display())))?;
        let mut shim = Command::new(&self.shim)
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| err(format!("starting the task shim {}: {e}", self.shim.display())))?;
        let shim_id = shim.id().and_then(|pid| ProcessId::of(pid as i32));
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let cgroup = launch.cgroup;
        loop {
            if let Some(process) = dir.process() {
                return Ok(ProcessHandle { dir, shim: Some(shim), shim_id, process, cgroup });
            }
            if let Some(message) = dir.error() {
                let _ = shim.wait().await;
                return Err(err(message));
            }
            if let Ok(Some(status)) = shim.try_wait() {
                return Err(err(format!("the task shim exited ({status}) before starting the task")));
            }
            if tokio::time::Instant::now() > deadline {
                let _ = shim.start_kill();
                let _ = shim.wait().await;
                // The task may have started just now: it must not run untracked.
                if let Some(process) = dir.process() {
                    signal_group(process, None, Signal::SIGKILL as i32);
                }
                if let Some(cgroup) = &cgroup {
                    cgroup.kill();
                }
                return Err(err("the task shim did not start the task in time"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The task's shim and process, as an earlier run left them.
    async fn find(&self, task_id: &str) -> Adopted<ProcessHandle> {
        let dir = self.dir(task_id);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = dir.exit() {
                return Adopted::Exited(status);
            }
            let shim_id = dir.shim().filter(|s| s.is_alive());
            match dir.process() {
                Some(process) if process.is_alive() || shim_id.is_some() => {
                    let cgroup = self.cgroup(task_id);
                    return Adopted::Running(ProcessHandle { dir, shim: None, shim_id, process, cgroup });
                }
                // A live shim still starting the task: wait for it.
                None if shim_id.is_some() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                _ => return Adopted::Lost,
            }
        }
    }
}

/// A health check: the command with the environment, working dir, user
/// and network namespace the task was launched with, its output
/// discarded. In a namespace, the command goes through `shoal-shim
/// netns-exec` (`shim` is the shim binary), which enters it, then
/// becomes the task's user.
async fn probe(launch: Result<Launch, String>, argv: Vec<String>, shim: PathBuf) -> bool {
    let Ok(launch) = launch else { return false };
    let Some((program, args)) = argv.split_first() else { return false };
    let path = launch.env.iter().find(|(k, _)| k == "PATH").map_or(DEFAULT_PATH, |(_, p)| p.as_str());
    let Some(program) = find_program(program, path, &launch.dir) else { return false };
    let mut command = match &launch.netns {
        Some(netns) => {
            let mut c = Command::new(shim);
            c.arg("netns-exec");
            if let Some(uid) = launch.uid {
                c.arg(format!("--uid={uid}"));
            }
            if let Some(gid) = launch.gid {
                c.arg(format!("--gid={gid}"));
            }
            c.arg(netns).arg(program);
            c
        }
        None => {
            let mut c = Command::new(program);
            if let Some(gid) = launch.gid {
                c.gid(gid);
            }
            if let Some(uid) = launch.uid {
                c.uid(uid);
            }
            c
        }
    };
    command
        .args(args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    match command.spawn() {
        Ok(mut child) => child.wait().await.is_ok_and(|s| s.success()),
        Err(_) => false,
    }
}

/// SIGKILL reaches every process of the task's cgroup too, also those
/// that left its process group.
fn signal_task(process: ProcessId, shim: Option<ProcessId>, cgroup: Option<&TaskCgroup>, signal: i32) {
    signal_group(process, shim, signal);
    if signal == Signal::SIGKILL as i32
        && let Some(cgroup) = cgroup
    {
        cgroup.kill();
    }
}

/// Signals the task's process group while the group can still be ours:
/// its leader lives, or its shim does (the shim kills the group when the
/// leader ends). Never a later process that reused the pid.
fn signal_group(process: ProcessId, shim: Option<ProcessId>, signal: i32) {
    if !process.is_alive() && !shim.is_some_and(|s| s.is_alive()) {
        return;
    }
    if let Ok(signal) = Signal::try_from(signal) {
        let _ = killpg(Pid::from_raw(process.pid), signal);
    }
}

/// A task process under its shim.
pub struct ProcessHandle {
    dir: TaskDir,
    /// Set when this worker started the shim (it is our child).
    shim: Option<Child>,
    shim_id: Option<ProcessId>,
    process: ProcessId,
    cgroup: Option<TaskCgroup>,
}

impl TaskHandle for ProcessHandle {
    fn pid(&self) -> i32 {
        self.process.pid
    }

    fn signaller(&self) -> super::Signaller {
        let (process, shim, cgroup) = (self.process, self.shim_id, self.cgroup.clone());
        Box::new(move |signal| signal_task(process, shim, cgroup.as_ref(), signal))
    }

    async fn wait(mut self) -> Result<ExitStatus, ExecError> {
        match &mut self.shim {
            Some(child) => {
                let _ = child.wait().await;
            }
            None => {
                while self.shim_id.is_some_and(|s| s.is_alive()) || self.process.is_alive() {
                    tokio::time::sleep(ADOPTED_POLL).await;
                }
            }
        }
        self.dir.exit().ok_or_else(|| err("the task's process ended without a recorded exit status"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_in_path_and_by_path() {
        let path = "/nonexistent:/bin:/usr/bin";
        let sh = find_program("sh", path, Path::new("/")).unwrap();
        assert!(sh.ends_with("sh"));
        assert_eq!(find_program("/bin/sh", path, Path::new("/")), Some(PathBuf::from("/bin/sh")));
        assert_eq!(find_program("no-such-program-xyz", path, Path::new("/")), None);
        assert_eq!(find_program("passwd", "/etc", Path::new("/")), None, "not executable");
    }

    #[test]
    fn a_task_sees_its_own_resolv_conf_and_hosts() {
        let plain = ContainerSpec::default();
        assert!(own_files(&plain, false).is_empty(), "the node's files, as they are");
        let networked = own_files(&plain, true);
        assert_eq!(networked, [("/etc/resolv.conf", "nameserver 127.0.0.11\noptions ndots:0\n".to_string())]);
        let given = ContainerSpec {
            hosts: vec!["10.0.0.5 db db.local".into()],
            dns_config: Some(shoal_proto::DnsConfig { nameservers: vec!["127.0.0.1".into()], ..Default::default() }),
            ..Default::default()
        };
        let files = own_files(&given, false);
        assert_eq!(files[0], ("/etc/resolv.conf", "nameserver 127.0.0.1\n".to_string()));
        let (target, hosts) = &files[1];
        assert_eq!(*target, "/etc/hosts");
        assert!(hosts.starts_with(&std::fs::read_to_string("/etc/hosts").unwrap_or_default()));
        assert!(hosts.ends_with("10.0.0.5\tdb db.local\n"), "{hosts}");
    }

    #[test]
    fn prepare_explains_what_is_missing() {
        let no_cgroups = Arc::new(Cgroups::none("none in this test"));
        let exec = ProcessExecutor::with_cgroups("/bin/false".into(), "/tmp".into(), no_cgroups);
        let task = |image: &str, dir: &str, user: &str| Task {
            spec: Some(shoal_proto::TaskSpec {
                container: Some(shoal_proto::ContainerSpec {
                    image: image.into(),
                    dir: dir.into(),
                    user: user.into(),
                    env: vec!["A=1".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let launch = exec.launch(&task("sh", "", ""), None).unwrap();
        assert!(launch.env.contains(&("A".into(), "1".into())));
        assert!(launch.env.iter().any(|(k, _)| k == "PATH"));
        assert!(
            exec.launch(&task("no-such-program-xyz", "", ""), None).unwrap_err().0.contains("executable not found")
        );
        assert!(exec.launch(&task("sh", "/no/such/dir", ""), None).unwrap_err().0.contains("working directory"));
        assert!(exec.launch(&task("sh", "", "no-such-user-xyz"), None).unwrap_err().0.contains("user"));
        let mut entry = task("no-such-program-xyz", "", "");
        let c = entry.spec.as_mut().unwrap().container.as_mut().unwrap();
        (c.command, c.args) = (vec!["sh".into(), "-c".into()], vec!["true".into()]);
        let launch = exec.launch(&entry, None).unwrap();
        assert!(launch.program.ends_with("sh"), "the entrypoint replaces the program");
        assert_eq!(launch.args, ["-c", "true"]);
        let root = exec.launch(&task("sh", "", "root"), None).unwrap();
        assert_eq!((root.uid, root.gid), (Some(0), Some(0)));
        let mut limited = task("sh", "", "");
        limited.spec.as_mut().unwrap().container.as_mut().unwrap().pids_limit = 20;
        assert_eq!(
            exec.launch(&limited, None).unwrap_err().0,
            "pids limit not enforceable on this node: none in this test"
        );
    }
}
