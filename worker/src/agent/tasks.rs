//! The node's tasks: one controller per assigned task, and the cleanup
//! of tasks the managers no longer assign here (stopped, then their
//! local record and output deleted).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use shoal_proto::{Task, TaskState};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::warn;

use super::Reporter;
use crate::controller::{Controller, stop_settings};
use crate::executor::{Adopted, Executor, Runtimes, TaskHandle};
use crate::network::Network;
use crate::taskdir::TaskDir;

struct Entry {
    task: watch::Sender<Task>,
    controller: JoinHandle<()>,
}

/// The tasks this node runs.
pub struct Tasks {
    exec: Arc<Runtimes>,
    reporter: Reporter,
    tasks_dir: std::path::PathBuf,
    network: Option<Arc<dyn Network>>,
    running: HashMap<String, Entry>,
    /// Whether local records left by an earlier run were reconciled.
    reconciled: bool,
}

impl Tasks {
    pub fn new(
        exec: Arc<Runtimes>,
        reporter: Reporter,
        tasks_dir: std::path::PathBuf,
        network: Option<Arc<dyn Network>>,
    ) -> Tasks {
        Tasks { exec, reporter, tasks_dir, network, running: HashMap::new(), reconciled: false }
    }

    /// Hands the managers' network map to the data path.
    pub fn set_map(&self, map: shoal_proto::NetworkMap) {
        if let Some(network) = &self.network {
            network.set_map(map);
        }
    }

    /// Holds the secrets and configs the managers sent (in memory only).
    pub fn set_files(&self, files: shoal_proto::TaskFiles) {
        self.exec.files.set(files);
    }

    /// Applies assignments: `complete` means `tasks` is the whole set.
    pub fn assign(&mut self, tasks: Vec<Task>, removed: Vec<String>, complete: bool) {
        if complete {
            let keep: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
            let gone: Vec<String> = self.running.keys().filter(|id| !keep.contains(id.as_str())).cloned().collect();
            for id in gone {
                self.remove(&id);
            }
            if !self.reconciled {
                self.reconciled = true;
                drop(self.remove_strays(&keep));
            }
        }
        for task in tasks {
            match self.running.get(&task.id) {
                Some(entry) => {
                    // The desired state only moves forward.
                    entry.task.send_if_modified(|current| {
                        let newer = task.desired_state > current.desired_state;
                        if newer {
                            *current = task;
                        }
                        newer
                    });
                }
                None => self.start(task),
            }
        }
        for id in removed {
            self.remove(&id);
        }
    }

    fn start(&mut self, task: Task) {
        let id = task.id.clone();
        let (tx, rx) = watch::channel(task);
        let controller = Controller {
            exec: self.exec.clone(),
            reporter: self.reporter.clone(),
            task: rx,
            dir: TaskDir::new(&self.tasks_dir, &id),
            running: Default::default(),
            network: self.network.clone(),
            ended: Default::default(),
        };
        let controller = tokio::spawn(controller.run());
        self.running.insert(id, Entry { task: tx, controller });
    }

    /// Stops a task no longer assigned here, then deletes its record.
    fn remove(&mut self, id: &str) {
        let Some(entry) = self.running.remove(id) else { return };
        entry.task.send_modify(|t| t.set_desired_state(TaskState::Remove));
        let (exec, reporter, id) = (self.exec.clone(), self.reporter.clone(), id.to_string());
        let network = self.network.clone();
        tokio::spawn(async move {
            let _ = entry.controller.await;
            drop(entry.task);
            reporter.forget(&id);
            if let Some(network) = network {
                network.detach(&id).await;
            }
            if let Err(e) = exec.remove(&id).await {
                warn!(task = %id, "deleting the task's local record: {e}");
            }
        });
    }

    /// Tasks recorded by an earlier run that the managers forgot: stop
    /// what still runs, delete the records, and remove the containers
    /// this node made for tasks not in `keep` (records or not). Returns
    /// when each is done.
    pub fn remove_strays(&self, keep: &HashSet<&str>) -> Vec<JoinHandle<()>> {
        let recorded: Vec<String> = std::fs::read_dir(&self.tasks_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        // Recorded tasks are stopped below, gracefully: the sweep of
        // containers leaves them alone.
        let exec = self.exec.clone();
        let keep_containers: HashSet<String> = keep.iter().map(|id| id.to_string()).chain(recorded.clone()).collect();
        let mut done = vec![tokio::spawn(async move { exec.remove_strays(&keep_containers).await })];
        for id in recorded {
            if keep.contains(id.as_str()) {
                continue;
            }
            let (exec, network) = (self.exec.clone(), self.network.clone());
            let task = TaskDir::new(&self.tasks_dir, &id).load_task().unwrap_or_default();
            done.push(tokio::spawn(async move {
                if let Adopted::Running(handle) = exec.adopt(&id).await {
                    let (signal, grace) = stop_settings(&task, handle.stop_signal());
                    let signaller = handle.signaller();
                    signaller(signal);
                    if tokio::time::timeout(grace, handle.wait()).await.is_err() {
                        signaller(9);
                    }
                }
                let _ = exec.remove(&id).await;
                if let Some(network) = network {
                    network.detach(&id).await;
                }
            }));
        }
        done
    }

    /// The daemon is stopping: controllers quit, tasks keep running.
    pub fn detach(&mut self) {
        for (_, entry) in self.running.drain() {
            entry.controller.abort();
        }
    }
}
