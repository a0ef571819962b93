//! The task shim: a small process (`shoal-shim DIR`, a binary of its own
//! installed beside `shoal`) between the worker and a task's process,
//! like containerd's shim. One runs per task, so it is kept small: its
//! binary links only this module's code and uses the system allocator
//! (see docs/benchmarks.md, "Per-task memory").
//!
//! It starts the process described by `DIR/launch.json` in its own
//! process group and its own cgroup (in the task's network namespace when
//! it joins networks, and, if it has mounts, its own mount namespace),
//! writes its output to `DIR/log` with a timestamp per line, and records
//! how it ended in `DIR/exit` (and the OOM kills of its cgroup in
//! `DIR/oom`). When the first process ends, every process left in the
//! task's cgroup is killed. It does not depend on
//! the daemon: when the daemon dies or restarts, the task keeps running,
//! its output is still captured and its end recorded, for the restarted
//! worker to pick up.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shoal_proto::logging::LogLimits;
use shoal_proto::{LogStream, now_nanos};

use crate::executor::{Launch, read_launch};
use crate::logs::writer::LogWriter;
use crate::logs::{MAX_RECORD, encode};
use crate::taskdir::{ExitStatus, ProcessId, TaskDir};

/// How long output still in the pipes may take to reach the log after
/// the process ended (a daemonised grandchild may hold the pipes open).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Exit code of a shim that could not start the task.
const NOT_STARTED: i32 = 127;

/// The shim binary's file name.
pub const BINARY: &str = "shoal-shim";

/// The shim binary: beside the running `shoal` binary.
pub fn binary() -> std::io::Result<std::path::PathBuf> {
    let path = std::env::current_exe()?.with_file_name(BINARY);
    if !path.is_file() {
        let message = format!("{} not found: install it beside the shoal binary", path.display());
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, message));
    }
    Ok(path)
}

/// Runs the task described in `dir`; returns the shim's exit code.
pub fn run(dir: &Path) -> i32 {
    let dir = TaskDir::at(dir.to_path_buf());
    if let Some(me) = ProcessId::of(std::process::id() as i32) {
        let _ = dir.save_shim(me);
    }
    match launch(&dir) {
        Ok(status) => {
            let _ = dir.save_exit(status);
            0
        }
        Err(message) => {
            let _ = dir.save_error(&message);
            let _ = dir.save_exit(ExitStatus::Code(NOT_STARTED));
            1
        }
    }
}

fn launch(dir: &TaskDir) -> Result<ExitStatus, String> {
    let launch = read_launch(dir)?;
    if let Some(netns) = &launch.netns {
        enter_netns(netns)?;
    }
    crate::mounts::apply(&launch.mounts)?;
    let mut cmd = Command::new(&launch.program);
    cmd.args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(gid) = launch.gid {
        cmd.gid(gid);
    }
    if let Some(uid) = launch.uid {
        cmd.uid(uid);
    }
    let mut child = spawn(&mut cmd, &launch)?;
    if let Some(id) = ProcessId::of(child.id() as i32) {
        let _ = dir.save_process(id);
    }
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, LogStream::Stdout, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, LogStream::Stderr, tx.clone());
    }
    drop(tx);
    let (done_tx, done_rx) = mpsc::channel();
    let (log_path, limits) = (dir.log_path(), launch.log_limits());
    std::thread::spawn(move || {
        write_log(&log_path, limits, rx);
        let _ = done_tx.send(());
    });
    let status = child.wait().map_err(|e| format!("waiting for the task: {e}"))?;
    // As in a container, the task ends with its main process: what it
    // left behind in its process group and its cgroup goes too.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL);
    if let Some(cgroup) = &launch.cgroup {
        let _ = cgroup.kill_all(crate::cgroup::KILL_TIMEOUT);
        let _ = dir.save_oom_kills(cgroup.oom_kills());
    }
    let _ = done_rx.recv_timeout(DRAIN_TIMEOUT);
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Code(code),
        (None, Some(signal)) => ExitStatus::Signal(signal),
        (None, None) => ExitStatus::Code(-1),
    })
}

/// Starts the task's first process inside its cgroup, when it has one:
/// the shim enters the cgroup, forks the process there and leaves at once
/// (it must outlive the task's processes, not be killed or counted with
/// them); the pids limit counts it meanwhile, and is set exactly once it
/// has left.
fn spawn(cmd: &mut Command, launch: &Launch) -> Result<Child, String> {
    let starting = |e: std::io::Error| format!("starting {}: {e}", launch.program.display());
    let Some(cgroup) = &launch.cgroup else { return cmd.spawn().map_err(starting) };
    let cgroup_error = |e: crate::cgroup::CgroupError| format!("the task's cgroup: {e}");
    cgroup.create(&launch.limits).map_err(cgroup_error)?;
    let origins = cgroup.enter().map_err(cgroup_error)?;
    let spawned = cmd.spawn();
    let left = cgroup.leave(&origins);
    let mut child = spawned.map_err(starting)?;
    if let Err(e) = left.and_then(|()| cgroup.limit_pids(&launch.limits)) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(cgroup_error(e));
    }
    Ok(child)
}

/// `shoal-shim netns-exec`: runs `program` in the network namespace at
/// `netns` as `uid`/`gid` (a health check of a task on a network);
/// returns only if it could not (the exit code to end with).
pub fn netns_exec(netns: &Path, uid: Option<u32>, gid: Option<u32>, program: &Path, args: &[String]) -> i32 {
    use nix::unistd::{Gid, Uid, execv, setgid, setgroups, setuid};
    use std::os::unix::ffi::OsStrExt;
    let run = || -> Result<std::convert::Infallible, String> {
        enter_netns(netns)?;
        // The namespace first: entering it needs the privileges dropped next.
        if let Some(gid) = gid {
            setgroups(&[]).map_err(|e| format!("dropping groups: {e}"))?;
            setgid(Gid::from_raw(gid)).map_err(|e| format!("setgid {gid}: {e}"))?;
        }
        if let Some(uid) = uid {
            setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid {uid}: {e}"))?;
        }
        let c = |b: &[u8]| std::ffi::CString::new(b).map_err(|_| "a NUL byte in the command".to_string());
        let mut argv = vec![c(program.as_os_str().as_bytes())?];
        for arg in args {
            argv.push(c(arg.as_bytes())?);
        }
        execv(&argv[0], &argv).map_err(|e| format!("running {}: {e}", program.display()))
    };
    match run() {
        Ok(never) => match never {},
        Err(message) => {
            eprintln!("{message}");
            NOT_STARTED
        }
    }
}

/// Moves the shim (and so the task) into the task's network namespace.
fn enter_netns(path: &Path) -> Result<(), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("opening the network namespace {}: {e}", path.display()))?;
    nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("entering the network namespace {}: {e}", path.display()))
}

/// Turns a pipe into records: one per line, long lines split.
fn spawn_reader(pipe: impl Read + Send + 'static, stream: LogStream, tx: mpsc::Sender<Vec<u8>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        loop {
            let mut line = Vec::new();
            match reader.by_ref().take(MAX_RECORD as u64).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.send(encode(now_nanos(), stream, &line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

fn write_log(path: &Path, limits: LogLimits, rx: mpsc::Receiver<Vec<u8>>) {
    let Ok(mut out) = LogWriter::open(path, limits) else { return };
    while let Ok(record) = rx.recv() {
        let _ = out.write(&record);
        for record in rx.try_iter() {
            let _ = out.write(&record);
        }
        let _ = out.flush();
    }
}
