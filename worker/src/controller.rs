//! A task controller: drives one assigned task through its life on this
//! node and reports every step (accepted, preparing, ready, starting,
//! running, then complete, failed or shutdown).
//!
//! It follows the task's desired state from a watch channel: READY holds
//! the task prepared but not started (a restart delay), SHUTDOWN and
//! REMOVE stop it (stop signal, then SIGKILL after the grace period).
//! When the channel's sender is dropped (the daemon is stopping) the
//! controller quits and leaves the process running, to be re-adopted.
//! A task with a health check is probed while it runs; its health is
//! reported with its running status, and an unhealthy task is stopped
//! and reported failed ("unhealthy container"), for its restart policy.
//! A task whose process the kernel killed for going past its memory
//! limit fails with "OOMKilled: ...".

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_proto::{ContainerStatus, Task, TaskHealth, TaskState, TaskStatus, now_nanos, signal_number};
use tokio::sync::watch;

use crate::agent::Reporter;
use crate::executor::{Adopted, ExecError, Executor, TaskHandle};
use crate::health::Checker;
use crate::network::Network;
use crate::taskdir::{ExitStatus, TaskDir};

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

pub struct Controller<E: Executor> {
    pub exec: Arc<E>,
    pub reporter: Reporter,
    pub task: watch::Receiver<Task>,
    pub dir: TaskDir,
    /// The running status last reported, for health reports.
    pub running: Mutex<Option<TaskStatus>>,
    /// The node's data path, which gives a task on a network its namespace.
    pub network: Option<Arc<dyn Network>>,
    /// Set once a terminal state was reported: the task is over here.
    pub ended: AtomicBool,
}

impl<E: Executor> Controller<E> {
    fn current(&self) -> Task {
        self.task.borrow().clone()
    }

    fn desired(&self) -> TaskState {
        self.task.borrow().desired_state()
    }

    fn report(&self, state: TaskState, message: &str, err: &str, container: Option<ContainerStatus>) {
        self.report_with(state, message, err, container, TaskHealth::None);
    }

    /// Reports the task running. One whose health is checked (by its
    /// runtime or by the worker) runs as Starting until its first healthy
    /// check, so nothing counts it up before: a rolling update waits.
    fn report_running(&self, handle: &E::Handle) {
        let checked = handle.health().is_some() || Checker::for_task(&self.current()).is_some();
        let health = if checked { TaskHealth::Starting } else { TaskHealth::None };
        self.report_with(TaskState::Running, "started", "", Some(container(handle)), health);
    }

    fn report_with(
        &self,
        state: TaskState,
        message: &str,
        err: &str,
        container: Option<ContainerStatus>,
        health: TaskHealth,
    ) {
        let timestamp = now_nanos();
        let status = TaskStatus {
            timestamp,
            state: state as i32,
            message: message.into(),
            err: err.into(),
            container,
            started_at: if state == TaskState::Running { timestamp } else { 0 },
            health: health as i32,
        };
        if state == TaskState::Running {
            *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.clone());
        }
        if state.is_terminal() {
            self.ended.store(true, Ordering::Relaxed);
            self.exec.release(&self.task.borrow().id);
        }
        self.reporter.report(&self.task.borrow().id, status);
    }

    /// The running status again, with `health` (and the same time: the
    /// task has been running since then). Nothing is sent when the health is the one last reported (a task
    /// reported running with health starting is not told so twice).
    fn report_health(&self, health: TaskHealth) {
        let status = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            let Some(status) = running.as_mut().filter(|s| s.health != health as i32) else { return };
            status.health = health as i32;
            status.clone()
        };
        self.reporter.report(&self.task.borrow().id, status);
    }

    fn fail(&self, err: &str) {
        self.report(TaskState::Failed, "failed", err, None);
    }

    /// Drives the task until it ends (its namespace goes then, its
    /// addresses being free for others) or the worker stops (it keeps
    /// running, to be re-adopted).
    pub async fn run(mut self) {
        self.drive().await;
        if self.ended.load(Ordering::Relaxed)
            && let Some(network) = &self.network
        {
            let id = self.task.borrow().id.clone();
            network.detach(&id).await;
        }
    }

    async fn drive(&mut self) {
        let task = self.current();
        let known = task.state();
        if known.is_terminal() {
            return;
        }
        let handle = if self.dir.exists() {
            match self.exec.adopt(&task.id).await {
                Adopted::Running(handle) => {
                    if let Some(network) = &self.network {
                        network.adopt(&task).await;
                    }
                    if known < TaskState::Running {
                        self.report_running(&handle);
                    } else {
                        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = task.status.clone();
                    }
                    handle
                }
                Adopted::Exited(status) => {
                    return self.report_end(Ok(status), task.status.and_then(|s| s.container), false);
                }
                Adopted::Lost if known >= TaskState::Starting => {
                    return self.fail("task process lost while the worker was down");
                }
                Adopted::Lost => match self.start().await {
                    Some(handle) => handle,
                    None => return,
                },
            }
        } else if known > TaskState::Assigned {
            return self.fail("this node lost the task's local state");
        } else {
            match self.start().await {
                Some(handle) => handle,
                None => return,
            }
        };
        self.supervise(handle).await;
    }

    /// Prepares, waits for the go (desired RUNNING), starts.
    async fn start(&mut self) -> Option<E::Handle> {
        let task = self.current();
        if let Err(e) = self.dir.save_task(&task) {
            self.fail(&format!("recording the task on this node: {e}"));
            return None;
        }
        self.report(TaskState::Accepted, "accepted", "", None);
        self.report(TaskState::Preparing, "preparing", "", None);
        let preparing = std::time::Instant::now();
        // A runtime whose tasks hold their own namespace makes it first.
        let existing = match self.exec.sandbox(&task).await {
            Ok(existing) => existing,
            Err(ExecError(e)) => {
                self.fail(&e);
                return None;
            }
        };
        let netns = match &self.network {
            Some(network) => match network.attach(&task, existing).await {
                Ok(netns) => netns,
                Err(e) => {
                    self.fail(&format!("joining the task's networks: {e}"));
                    return None;
                }
            },
            None => None,
        };
        // Preparing may take long (an image to pull): a task stopped
        // meanwhile stops preparing.
        let mut stopped = self.task.clone();
        let prepared = tokio::select! {
            prepared = self.exec.prepare(&task, netns) => match prepared {
                Ok(p) => p,
                Err(ExecError(e)) => {
                    self.fail(&e);
                    return None;
                }
            },
            asked = async { stopped.wait_for(|t| t.desired_state() > TaskState::Running).await.is_ok() } => {
                if asked {
                    self.report(TaskState::Shutdown, "shutdown", "", None);
                }
                return None;
            }
        };
        self.report(TaskState::Ready, "prepared", "", None);
        let prepared_in = preparing.elapsed();
        loop {
            let desired = self.desired();
            if desired > TaskState::Running {
                self.report(TaskState::Shutdown, "shutdown", "", None);
                return None;
            }
            if desired == TaskState::Running {
                break;
            }
            if self.task.changed().await.is_err() {
                return None;
            }
        }
        self.report(TaskState::Starting, "starting", "", None);
        let starting = std::time::Instant::now();
        match self.exec.start(&task, prepared).await {
            Ok(handle) => {
                // Preparing and starting, not the wait for the order to run.
                crate::metrics::METRICS.start_seconds.observe((prepared_in + starting.elapsed()).as_secs_f64());
                self.report_running(&handle);
                Some(handle)
            }
            Err(ExecError(e)) => {
                self.fail(&e);
                None
            }
        }
    }

    /// Waits for the task to end, stopping it when asked or when its
    /// health check finds it unhealthy.
    async fn supervise(&mut self, handle: E::Handle) {
        let signal = handle.signaller();
        let running = container(&handle);
        let own_signal = handle.stop_signal();
        // The runtime's own checks (the engine's), else the worker's.
        let mut checked = handle.health();
        let wait = handle.wait();
        tokio::pin!(wait);
        let task = self.current();
        let mut checker = if checked.is_some() { None } else { Checker::for_task(&task) };
        let started = tokio::time::Instant::now();
        let mut next_probe = started + checker.as_ref().map_or(Duration::ZERO, |c| c.interval_at(Duration::ZERO));
        let mut probe: Option<Pin<Box<dyn Future<Output = bool> + Send>>> = None;
        if checker.is_some() || checked.is_some() {
            self.report_health(TaskHealth::Starting);
        }
        let mut unhealthy = false;
        let mut stopping = false;
        // When to SIGKILL a task that ignores its stop signal.
        let mut kill_at: Option<tokio::time::Instant> = None;
        loop {
            if !stopping && (unhealthy || self.desired() > TaskState::Running) {
                let (stop_signal, grace) = stop_settings(&self.current(), own_signal);
                signal(stop_signal);
                stopping = true;
                kill_at = Some(tokio::time::Instant::now() + grace);
            }
            let deadline = kill_at.unwrap_or_else(tokio::time::Instant::now);
            let probing = checker.is_some() && !stopping;
            tokio::select! {
                result = &mut wait => return self.report_end(result, Some(running), unhealthy),
                changed = self.task.changed(), if !stopping => {
                    if changed.is_err() {
                        return; // the daemon is stopping: leave the task running
                    }
                }
                _ = tokio::time::sleep_until(deadline), if kill_at.is_some() => {
                    signal(SIGKILL);
                    kill_at = None;
                }
                _ = tokio::time::sleep_until(next_probe), if probing && probe.is_none() => {
                    let Some(c) = checker.as_ref() else { continue };
                    let (exec, task, argv, timeout) = (self.exec.clone(), task.clone(), c.argv.clone(), c.timeout);
                    probe = Some(Box::pin(async move {
                        tokio::time::timeout(timeout, exec.probe(&task, argv)).await.unwrap_or(false)
                    }));
                }
                changed = async { checked.as_mut().expect("health watched").changed().await }, if checked.is_some() && !stopping => {
                    let Some(watch) = checked.as_mut() else { continue };
                    if changed.is_err() {
                        checked = None; // the runtime stopped checking: the task ends
                        continue;
                    }
                    let health = *watch.borrow_and_update();
                    self.report_health(health);
                    unhealthy = health == TaskHealth::Unhealthy;
                }
                ok = async { probe.as_mut().expect("a probe runs").await }, if probing && probe.is_some() => {
                    probe = None;
                    let Some(c) = checker.as_mut() else { continue };
                    crate::metrics::METRICS.probed(ok);
                    let health = c.record(ok, started.elapsed());
                    next_probe = tokio::time::Instant::now() + c.interval_at(started.elapsed());
                    if let Some(health) = health {
                        self.report_health(health);
                        unhealthy = health == TaskHealth::Unhealthy;
                    }
                }
            }
        }
    }

    /// Reports how the task ended; `running` is its container status
    /// while it ran (as last reported when it ended while the worker was
    /// away).
    fn report_end(&self, result: Result<ExitStatus, ExecError>, running: Option<ContainerStatus>, unhealthy: bool) {
        let ended =
            |status: ExitStatus| ContainerStatus { exit_code: status.code(), ..running.clone().unwrap_or_default() };
        let stopped = self.desired() > TaskState::Running;
        if unhealthy && !stopped {
            let c = result.ok().map(ended);
            return self.report(TaskState::Failed, "started", "unhealthy container", c);
        }
        match result {
            Ok(status) => {
                let c = Some(ended(status));
                if stopped {
                    self.report(TaskState::Shutdown, "shutdown", "", c);
                } else if status == ExitStatus::Code(0) {
                    self.report(TaskState::Complete, "finished", "", c);
                } else {
                    self.report(TaskState::Failed, "started", &self.exit_error(status), c);
                }
            }
            Err(ExecError(e)) if stopped => self.report(TaskState::Shutdown, "shutdown", &e, None),
            Err(ExecError(e)) => self.fail(&e),
        }
    }
}

impl<E: Executor> Controller<E> {
    /// Why a task that exited non-zero failed: Docker's "non-zero exit",
    /// or OOMKilled when the kernel killed a process of the task for
    /// going past its memory limit.
    fn exit_error(&self, status: ExitStatus) -> String {
        if self.dir.oom_kills() == 0 {
            return format!("task: non-zero exit ({})", status.code());
        }
        let task = self.current();
        let limits = task.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.limits.as_ref());
        let limit = limits.map_or(0, |l| l.memory_bytes);
        let what = if limit > 0 { format!(" ({})", shoal_proto::format_size(limit)) } else { String::new() };
        format!("OOMKilled: the task used more than its memory limit{what}: non-zero exit ({})", status.code())
    }
}

/// What `service ps` and `inspect` show of a running task.
fn container(handle: &impl TaskHandle) -> ContainerStatus {
    ContainerStatus { pid: handle.pid(), exit_code: 0, container_id: handle.container_id().to_string() }
}

/// The task's stop signal (when its spec names none: the task's own,
/// `own`, e.g. its image's, else SIGTERM) and grace period.
pub fn stop_settings(task: &Task, own: Option<i32>) -> (i32, Duration) {
    let c = task.spec.as_ref().and_then(|s| s.container.as_ref());
    let signal = c.and_then(|c| signal_number(&c.stop_signal)).or(own).unwrap_or(SIGTERM);
    let grace =
        c.and_then(|c| c.stop_grace_period_ns).map_or(DEFAULT_GRACE, |ns| Duration::from_nanos(ns.max(0) as u64));
    (signal, grace)
}

#[cfg(test)]
mod tests;
