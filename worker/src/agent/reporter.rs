//! Task status on its way to the managers: the latest status of every
//! task, and which ones the current manager has not acknowledged. A new
//! session re-sends them all (the store skips what it already has).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use shoal_proto::{TaskStatus, TaskStatusUpdate};
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Reporter {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
}

#[derive(Default)]
struct State {
    latest: HashMap<String, TaskStatus>,
    pending: BTreeSet<String>,
}

/// The worker's tasks by state count those a reporter knows: a worker
/// made again (a new membership) counts its own.
impl Drop for State {
    fn drop(&mut self) {
        for status in self.latest.values() {
            crate::metrics::METRICS.moved(Some(status.state()), None);
        }
    }
}

impl Reporter {
    /// Records a task's new status, to be sent.
    pub fn report(&self, task_id: &str, status: TaskStatus) {
        let mut state = self.state.lock();
        let new = status.state();
        let old = state.latest.insert(task_id.to_string(), status).map(|s| s.state());
        if old != Some(new) {
            crate::metrics::METRICS.moved(old, Some(new));
        }
        state.pending.insert(task_id.to_string());
        self.notify.notify_one();
    }

    /// Waits until something is pending.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// The pending updates, no longer pending.
    pub fn take(&self) -> Vec<TaskStatusUpdate> {
        let mut state = self.state.lock();
        let pending = std::mem::take(&mut state.pending);
        pending
            .into_iter()
            .filter_map(|id| state.latest.get(&id).cloned().map(|s| TaskStatusUpdate { task_id: id, status: Some(s) }))
            .collect()
    }

    /// Marks updates pending again (sending them failed).
    pub fn retry(&self, updates: &[TaskStatusUpdate]) {
        let mut state = self.state.lock();
        state.pending.extend(updates.iter().map(|u| u.task_id.clone()));
    }

    /// Marks every known status pending (a new session began).
    pub fn resend_all(&self) {
        let mut state = self.state.lock();
        let ids: Vec<String> = state.latest.keys().cloned().collect();
        state.pending.extend(ids);
        self.notify.notify_one();
    }

    /// Forgets a removed task.
    pub fn forget(&self, task_id: &str) {
        let mut state = self.state.lock();
        if let Some(old) = state.latest.remove(task_id) {
            crate::metrics::METRICS.moved(Some(old.state()), None);
        }
        state.pending.remove(task_id);
    }
}
