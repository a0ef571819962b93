//! The worker's local record of a task: `<data-dir>/worker/tasks/<id>/`.
//!
//! It outlives the daemon, so that a restarted worker re-adopts what is
//! still running and learns how what stopped ended:
//! - `task.pb`: the task as last assigned;
//! - `launch.json`: what the shim runs (resolved program, env, user);
//! - `shim.pid`, `pid`: the shim and the task's process (pid and start
//!   time, so a reused pid is not mistaken for ours);
//! - `exit`: how the process ended, written by the shim;
//! - `oom`: how many of the task's processes the kernel killed for lack
//!   of memory, written by the shim just before `exit`;
//! - `error`: why the shim could not start the process;
//! - `log`: the task's output, one record per line.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use shoal_proto::Task;

/// How a task's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The exit code as Docker reports it (128 + signal when killed).
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }

    fn to_text(self) -> String {
        match self {
            ExitStatus::Code(c) => format!("code {c}\n"),
            ExitStatus::Signal(s) => format!("signal {s}\n"),
        }
    }

    fn parse(text: &str) -> Option<ExitStatus> {
        let (kind, n) = text.trim().split_once(' ')?;
        let n = n.parse().ok()?;
        match kind {
            "code" => Some(ExitStatus::Code(n)),
            "signal" => Some(ExitStatus::Signal(n)),
            _ => None,
        }
    }
}

/// A process identity that survives pid reuse: pid and kernel start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessId {
    /// The identity of a live process, read from `/proc`.
    pub fn of(pid: i32) -> Option<ProcessId> {
        Some(ProcessId { pid, start_time: start_time(pid)? })
    }

    /// Whether this very process still exists (not a later one with its pid).
    pub fn is_alive(self) -> bool {
        start_time(self.pid) == Some(self.start_time) && !is_zombie(self.pid)
    }

    fn to_text(self) -> String {
        format!("{} {}\n", self.pid, self.start_time)
    }

    fn parse(text: &str) -> Option<ProcessId> {
        let (pid, start) = text.trim().split_once(' ')?;
        Some(ProcessId { pid: pid.parse().ok()?, start_time: start.parse().ok()? })
    }
}

/// Fields of `/proc/<pid>/stat` after the command name.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn start_time(pid: i32) -> Option<u64> {
    // Field 22 of stat; the 20th after the command name.
    stat_fields(pid)?.get(19)?.parse().ok()
}

fn is_zombie(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z"))
}

/// The directory of one task.
#[derive(Debug, Clone)]
pub struct TaskDir {
    path: PathBuf,
}

impl TaskDir {
    pub fn new(tasks_dir: &Path, task_id: &str) -> TaskDir {
        TaskDir { path: tasks_dir.join(task_id) }
    }

    pub fn at(path: PathBuf) -> TaskDir {
        TaskDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn log_path(&self) -> PathBuf {
        self.path.join("log")
    }

    pub fn launch_path(&self) -> PathBuf {
        self.path.join("launch.json")
    }

    /// Whether the worker ever recorded this task.
    pub fn exists(&self) -> bool {
        self.path.join("task.pb").exists()
    }

    /// Records the task (creating the directory).
    pub fn save_task(&self, task: &Task) -> io::Result<()> {
        fs::create_dir_all(&self.path)?;
        write_atomic(&self.path.join("task.pb"), &task.encode_to_vec())
    }

    pub fn load_task(&self) -> Option<Task> {
        Task::decode(fs::read(self.path.join("task.pb")).ok()?.as_slice()).ok()
    }

    pub fn save_shim(&self, id: ProcessId) -> io::Result<()> {
        write_atomic(&self.path.join("shim.pid"), id.to_text().as_bytes())
    }

    pub fn shim(&self) -> Option<ProcessId> {
        ProcessId::parse(&fs::read_to_string(self.path.join("shim.pid")).ok()?)
    }

    pub fn save_process(&self, id: ProcessId) -> io::Result<()> {
        write_atomic(&self.path.join("pid"), id.to_text().as_bytes())
    }

    pub fn process(&self) -> Option<ProcessId> {
        ProcessId::parse(&fs::read_to_string(self.path.join("pid")).ok()?)
    }

    pub fn save_exit(&self, status: ExitStatus) -> io::Result<()> {
        write_atomic(&self.path.join("exit"), status.to_text().as_bytes())
    }

    pub fn exit(&self) -> Option<ExitStatus> {
        ExitStatus::parse(&fs::read_to_string(self.path.join("exit")).ok()?)
    }

    pub fn save_oom_kills(&self, kills: u64) -> io::Result<()> {
        write_atomic(&self.path.join("oom"), format!("{kills}\n").as_bytes())
    }

    /// OOM kills in the task's cgroup when it ended (0 when not recorded).
    pub fn oom_kills(&self) -> u64 {
        fs::read_to_string(self.path.join("oom")).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
    }

    /// Forgets an earlier attempt to run the task (its pids, end, error).
    pub fn clear_run(&self) -> io::Result<()> {
        for file in ["pid", "shim.pid", "exit", "oom", "error"] {
            match fs::remove_file(self.path.join(file)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    pub fn save_error(&self, message: &str) -> io::Result<()> {
        write_atomic(&self.path.join("error"), message.as_bytes())
    }

    pub fn error(&self) -> Option<String> {
        fs::read_to_string(self.path.join("error")).ok()
    }

    /// Deletes the record and the task's output.
    pub fn remove(&self) -> io::Result<()> {
        match fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// Writes a file so that readers see the old or the new content, never part.
fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = TaskDir::new(tmp.path(), "t1");
        assert!(!dir.exists());
        dir.save_task(&Task { id: "t1".into(), ..Default::default() }).unwrap();
        assert!(dir.exists());
        assert_eq!(dir.load_task().unwrap().id, "t1");
        dir.save_exit(ExitStatus::Signal(9)).unwrap();
        assert_eq!(dir.exit(), Some(ExitStatus::Signal(9)));
        assert_eq!(dir.exit().unwrap().code(), 137);
        assert_eq!(dir.oom_kills(), 0);
        dir.save_oom_kills(1).unwrap();
        assert_eq!(dir.oom_kills(), 1);
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        dir.save_process(me).unwrap();
        assert_eq!(dir.process(), Some(me));
        assert!(me.is_alive());
        assert!(!ProcessId { start_time: me.start_time + 1, ..me }.is_alive(), "a reused pid is not ours");
        dir.remove().unwrap();
        assert!(!dir.path().exists());
    }
}
