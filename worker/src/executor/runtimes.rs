//! The node's runtimes behind one executor: each task goes to the one
//! its spec names (`process` when it names none, as tasks made before
//! runtimes existed), and what a restarted worker finds of a task, to the
//! one its local record names.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use shoal_proto::Task;

use super::{
    Adopted, DockerExecutor, DockerHandle, ExecError, Executor, Launch, ProcessExecutor, ProcessHandle, Signaller,
    TaskHandle, docker,
};
use crate::files::Files;
use crate::taskdir::{ExitStatus, TaskDir};

/// The process runtime, and the docker runtime when the node was given
/// an engine's socket.
pub struct Runtimes {
    pub process: ProcessExecutor,
    pub docker: Option<Arc<DockerExecutor>>,
    tasks_dir: PathBuf,
    /// The secrets and configs the tasks read.
    pub files: Files,
}

/// Which runtime runs a task.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Runtime {
    Process,
    Docker,
}

impl Runtime {
    /// The one the task's spec names.
    pub fn of(task: &Task) -> Runtime {
        match task.spec.as_ref().map(|s| s.runtime.as_str()) {
            Some(crate::docker::RUNTIME) => Runtime::Docker,
            _ => Runtime::Process,
        }
    }
}

/// What a runtime prepared.
pub enum Prepared {
    Process(Box<Launch>),
    Docker(docker::Created),
}

/// A running task of either runtime.
pub enum Handle {
    Process(ProcessHandle),
    Docker(DockerHandle),
}

impl Runtimes {
    pub fn new(
        process: ProcessExecutor,
        docker: Option<Arc<DockerExecutor>>,
        tasks_dir: PathBuf,
        files: Files,
    ) -> Runtimes {
        Runtimes { process, docker, tasks_dir, files }
    }

    fn docker(&self) -> Result<&DockerExecutor, ExecError> {
        self.docker
            .as_deref()
            .ok_or_else(|| ExecError("this node uses no Docker Engine (shoal daemon --docker-host none)".into()))
    }

    /// The runtime of a task this node recorded.
    fn recorded(&self, task_id: &str) -> Runtime {
        TaskDir::new(&self.tasks_dir, task_id).load_task().map_or(Runtime::Process, |t| Runtime::of(&t))
    }

    /// Removes the containers of tasks not in `keep` that this node made
    /// (their local records may be gone).
    pub async fn remove_strays(&self, keep: &HashSet<String>) {
        if let Some(docker) = &self.docker {
            docker.remove_strays(keep).await;
        }
    }
}

impl Executor for Runtimes {
    type Prepared = Prepared;
    type Handle = Handle;

    async fn sandbox(&self, task: &Task) -> Result<Option<PathBuf>, ExecError> {
        match Runtime::of(task) {
            Runtime::Process => self.process.sandbox(task).await,
            Runtime::Docker => self.docker()?.sandbox(task).await,
        }
    }

    async fn prepare(&self, task: &Task, netns: Option<PathBuf>) -> Result<Prepared, ExecError> {
        // Placeholders expanded; its secrets and configs become binds.
        let task = &self.files.prepare(task)?;
        Ok(match Runtime::of(task) {
            Runtime::Process => Prepared::Process(Box::new(self.process.prepare(task, netns).await?)),
            Runtime::Docker => Prepared::Docker(self.docker()?.prepare(task, netns).await?),
        })
    }

    async fn start(&self, task: &Task, prepared: Prepared) -> Result<Handle, ExecError> {
        Ok(match prepared {
            Prepared::Process(launch) => Handle::Process(self.process.start(task, *launch).await?),
            Prepared::Docker(created) => Handle::Docker(self.docker()?.start(task, created).await?),
        })
    }

    async fn adopt(&self, task_id: &str) -> Adopted<Handle> {
        match self.recorded(task_id) {
            Runtime::Process => self.process.adopt(task_id).await.map(Handle::Process),
            Runtime::Docker => match self.docker() {
                Ok(docker) => docker.adopt(task_id).await.map(Handle::Docker),
                Err(_) => Adopted::Lost,
            },
        }
    }

    fn release(&self, task_id: &str) {
        self.files.release(task_id);
    }

    async fn remove(&self, task_id: &str) -> std::io::Result<()> {
        self.files.release(task_id);
        match (self.recorded(task_id), &self.docker) {
            (Runtime::Docker, Some(docker)) => docker.remove(task_id).await,
            // Its container may run on: the record stays, for a worker
            // that has the engine again.
            (Runtime::Docker, None) => {
                Err(std::io::Error::other("this node uses no Docker Engine now: the task's container stays"))
            }
            // The process runtime also deletes what any task left here.
            _ => self.process.remove(task_id).await,
        }
    }

    async fn probe(&self, task: &Task, argv: Vec<String>) -> bool {
        match (Runtime::of(task), &self.docker) {
            (Runtime::Docker, Some(docker)) => docker.probe(task, argv).await,
            (Runtime::Docker, None) => false,
            (Runtime::Process, _) => self.process.probe(task, argv).await,
        }
    }
}

impl<H> Adopted<H> {
    fn map<T>(self, f: impl FnOnce(H) -> T) -> Adopted<T> {
        match self {
            Adopted::Running(h) => Adopted::Running(f(h)),
            Adopted::Exited(status) => Adopted::Exited(status),
            Adopted::Lost => Adopted::Lost,
        }
    }
}

impl TaskHandle for Handle {
    fn pid(&self) -> i32 {
        match self {
            Handle::Process(h) => h.pid(),
            Handle::Docker(h) => h.pid(),
        }
    }

    fn container_id(&self) -> &str {
        match self {
            Handle::Process(h) => h.container_id(),
            Handle::Docker(h) => h.container_id(),
        }
    }

    fn health(&self) -> Option<tokio::sync::watch::Receiver<shoal_proto::TaskHealth>> {
        match self {
            Handle::Process(h) => h.health(),
            Handle::Docker(h) => h.health(),
        }
    }

    fn stop_signal(&self) -> Option<i32> {
        match self {
            Handle::Process(h) => h.stop_signal(),
            Handle::Docker(h) => h.stop_signal(),
        }
    }

    fn signaller(&self) -> Signaller {
        match self {
            Handle::Process(h) => h.signaller(),
            Handle::Docker(h) => h.signaller(),
        }
    }

    async fn wait(self) -> Result<ExitStatus, ExecError> {
        match self {
            Handle::Process(h) => h.wait().await,
            Handle::Docker(h) => h.wait().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_goes_to_the_runtime_it_names() {
        let task = |runtime: &str| Task {
            spec: Some(shoal_proto::TaskSpec { runtime: runtime.into(), ..Default::default() }),
            ..Default::default()
        };
        assert_eq!(Runtime::of(&task("docker")), Runtime::Docker);
        assert_eq!(Runtime::of(&task("process")), Runtime::Process);
        assert_eq!(Runtime::of(&task("")), Runtime::Process, "tasks made before runtimes existed");
        assert_eq!(Runtime::of(&Task::default()), Runtime::Process);
    }
}
