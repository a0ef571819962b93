//! Waiting for a service to converge, with live progress like `docker
//! service create`: one line per slot, then "verify: Service converged".
//! Done when every slot's newest task runs (and, with a health check, is
//! healthy), has kept running for
//! [`STABLE`], and tasks of removed slots have stopped; for a job, when
//! every slot's newest task has completed ("job complete"). During a
//! rolling update, also when no task is left to replace and the update
//! completed; a paused or rolled back update fails. A [`Tracker`] makes
//! one look at a time, so `stack deploy` follows many services at once;
//! while a slot is not up, its [`Standing`] carries the error of the
//! service's newest failed task, so the wait says why it is stuck.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use shoal_proto::control_client::ControlClient;
use shoal_proto::{GetServiceRequest, ListTasksRequest, Service, Task, TaskState, UpdateState, service_spec::Mode};
use tonic::transport::Channel;

use shoal_spec::tasks as rules;

use super::Ctx;
use super::live::View;
use crate::client::status;

/// How long all tasks must keep running before the service counts as converged.
const STABLE: Duration = Duration::from_secs(1);
pub const POLL: Duration = Duration::from_millis(200);
/// Slots shown one per line; beyond it only the overall line is.
const MAX_SLOT_LINES: u64 = 20;

fn created(t: &Task) -> i64 {
    t.meta.as_ref().map_or(0, |m| m.created_at)
}

fn err(t: &Task) -> &str {
    t.status.as_ref().map_or("", |s| s.err.as_str())
}

/// One slot (or, for a global service, one node): `1/3: running [==>]`.
fn slot_line(prefix: &str, task: Option<&Task>) -> String {
    let Some(task) = task else { return format!("{prefix} new") };
    let st = task.state();
    if !err(task).is_empty() {
        return format!("{prefix} {}", err(task));
    }
    // The states on the way to running, for the bar.
    let steps = TaskState::ALL.iter().filter(|s| **s <= TaskState::Running);
    let step = steps.clone().filter(|s| **s <= st).count().max(1);
    let filled = 50 * step / steps.count();
    let bar = format!("[{}>{}]", "=".repeat(filled.saturating_sub(1)), " ".repeat(50 - filled));
    format!("{prefix} {:<9} {bar}", st.name())
}

/// The error of the newest of `tasks` that failed or was rejected with
/// one, among those of the service's current spec (a failure of the
/// version being replaced says nothing of the new one).
fn last_failure(service: &Service, tasks: &[&Task]) -> Option<String> {
    tasks
        .iter()
        .filter(|t| matches!(t.state(), TaskState::Failed | TaskState::Rejected) && !err(t).is_empty())
        .filter(|t| !rules::is_dirty(service, t))
        .max_by_key(|t| (created(t), t.id.clone()))
        .map(|t| err(t).to_string())
}

/// How a wait ends, or that it goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Waiting,
    Converged,
    Failed(String),
}

/// Where one service stands at one look.
#[derive(Debug, Clone)]
pub struct Standing {
    /// "overall progress: 2 out of 3 tasks", then one line per slot.
    pub lines: Vec<String>,
    /// What the wait does now ("verify: ...", "update: ...").
    pub verify: String,
    /// Slots (or nodes) the service should fill.
    pub desired: u64,
    /// Newest tasks up (for a job: complete).
    pub done: usize,
    /// Tasks are still being replaced by a rolling update.
    pub updating: bool,
    pub job: bool,
    /// A scheduled job: nothing to wait for, it runs when due.
    pub scheduled: bool,
    /// Why a task waits for a node, if one does.
    pub pending: Option<String>,
    /// The error of the newest task (of the current spec) that failed or
    /// was rejected, if any: why a slot keeps restarting.
    pub failure: Option<String>,
    pub verdict: Verdict,
}

impl Standing {
    /// One line for the service, as `stack deploy` shows it: "2/3
    /// starting", "1/1 converged", "0/1 pending: no suitable node (...)",
    /// "0/1 task failed: executable not found: ..." while a slot is not
    /// up and its last task failed.
    pub fn summary(&self) -> String {
        let count = format!("{}/{}", self.done, self.desired);
        let all_up = self.done as u64 == self.desired;
        match (&self.verdict, &self.pending, &self.failure) {
            (Verdict::Failed(_), ..) => format!("{count} failed"),
            (Verdict::Converged, ..) if self.scheduled => "scheduled: runs when due".to_string(),
            (Verdict::Converged, ..) if self.job => format!("{count} complete"),
            (Verdict::Converged, ..) => format!("{count} converged"),
            (Verdict::Waiting, Some(reason), _) => format!("{count} pending: {reason}"),
            (Verdict::Waiting, None, Some(error)) if !all_up => format!("{count} task failed: {error}"),
            _ if self.updating => format!("{count} updating"),
            _ if all_up => format!("{count} verifying"),
            _ => format!("{count} starting"),
        }
    }
}

/// Follows one service towards convergence, a look at a time.
pub struct Tracker {
    pub id: String,
    /// A requested rollback: rolling back is the goal, not a failure.
    rollback: bool,
    stable_since: Option<(Instant, Vec<String>)>,
}

impl Tracker {
    pub fn new(id: String, rollback: bool) -> Tracker {
        Tracker { id, rollback, stable_since: None }
    }

    /// Reads the service and its tasks and tells where it stands; an
    /// error if the service is gone.
    pub async fn look(&mut self, control: &mut ControlClient<Channel>) -> Result<Standing> {
        let request = GetServiceRequest { reference: self.id.clone() };
        let service = control.get_service(request).await.map_err(status)?.into_inner();
        let request = ListTasksRequest { services: vec![service.id.clone()], ..Default::default() };
        let tasks = control.list_tasks(request).await.map_err(status)?.into_inner().tasks;
        Ok(self.assess(&service, &tasks, Instant::now()))
    }

    /// Where `service` stands with `tasks` at `now`. Converged only once
    /// the same tasks have been up for [`STABLE`].
    fn assess(&mut self, service: &Service, tasks: &[Task], now: Instant) -> Standing {
        let mode = service.spec.as_ref().and_then(|s| s.mode);
        let live: Vec<&Task> = tasks.iter().filter(|t| t.desired_state() < TaskState::Remove).collect();
        let newest_of = |same: &dyn Fn(&Task) -> bool| {
            live.iter().copied().filter(|t| same(t)).max_by_key(|t| (created(t), t.id.clone()))
        };
        let job = matches!(mode, Some(Mode::ReplicatedJob(_) | Mode::GlobalJob(_)));
        let slots = match &mode {
            Some(Mode::Replicated(r)) => Some(r.replicas),
            Some(Mode::ReplicatedJob(j)) => Some(j.total_completions),
            _ => None,
        };
        let (labels, newest): (Vec<String>, Vec<Option<&Task>>) = match slots {
            Some(n) => {
                // The service's slots, lowest number first (scaling down
                // leaves gaps), then those still to be made.
                let numbers: BTreeSet<u64> = live.iter().map(|t| t.slot).collect();
                let mut newest: Vec<Option<&Task>> =
                    numbers.into_iter().map(|slot| newest_of(&|t: &Task| t.slot == slot)).collect();
                newest.resize(n as usize, None);
                ((1..=n).map(|i| format!("{i}/{n}:")).collect(), newest)
            }
            // A global service (or job): one line per node it should run on.
            _ => {
                let nodes: BTreeSet<&str> = live.iter().map(|t| t.node_id.as_str()).collect();
                nodes
                    .into_iter()
                    .filter_map(|node| {
                        let task = newest_of(&|t: &Task| t.node_id == node)?;
                        // Not a node the service left.
                        (!rules::withdrawn(task)).then(|| (format!("{}:", &node[..node.len().min(12)]), Some(task)))
                    })
                    .unzip()
            }
        };
        let desired = newest.len() as u64;
        let current: Vec<&Task> = newest.iter().flatten().copied().collect();
        let wanted = |t: &Task| t.desired_state() == TaskState::Running;
        // What the service waits for: every slot up, or for a job every
        // slot complete.
        let done: Vec<&Task> = if job {
            current.iter().copied().filter(|t| rules::counts_as_done(t, service)).collect()
        } else {
            current.iter().copied().filter(|t| wanted(t) && rules::is_up(t)).collect()
        };
        // Tasks of removed slots still running. (A global service's task on a
        // node it left is not waited for: the node may be Down for good.)
        let leftovers = tasks.iter().any(|t| {
            slots.is_some()
                && t.desired_state() >= TaskState::Remove
                && !t.state().is_terminal()
                && t.state() >= TaskState::Assigned
        });
        let pending = current.iter().find(|t| t.state() == TaskState::Pending && !err(t).is_empty());
        let failure = last_failure(service, &live);

        let mut lines = vec![if job {
            format!("job progress: {} out of {desired} complete", done.len())
        } else {
            format!("overall progress: {} out of {desired} tasks", done.len())
        }];
        if desired <= MAX_SLOT_LINES {
            lines.extend(labels.iter().zip(&newest).map(|(label, t)| slot_line(label, *t)));
        }
        let update = service.update_status.as_ref().map_or(UpdateState::Unknown, |u| u.state());
        let message = service.update_status.as_ref().map_or("", |u| u.message.as_str());
        // Tasks still to be replaced by a rolling update.
        let updating = update.is_active() || current.iter().any(|t| rules::is_dirty(service, t));
        let mut standing = Standing {
            lines,
            verify: String::new(),
            desired,
            done: done.len(),
            updating,
            job,
            scheduled: false,
            pending: pending.map(|t| err(t).to_string()),
            failure,
            verdict: Verdict::Waiting,
        };
        if service.spec.as_ref().is_some_and(|s| s.schedule.is_some()) {
            // A scheduled job runs when due: nothing to converge to now.
            standing.scheduled = true;
            standing.verify = "job scheduled: it runs when due".into();
            standing.verdict = Verdict::Converged;
            return standing;
        }
        let fail = |mut s: Standing, verify: String, error: String| {
            s.verify = verify;
            s.verdict = Verdict::Failed(error);
            s
        };
        if let Some(task) = current.iter().find(|t| t.desired_state() > TaskState::Running) {
            let error = format!(
                "service could not converge: task {}.{} stopped for good: {}",
                task.service_name,
                task.slot,
                err(task)
            );
            return fail(standing, "verify: Detected task failure".into(), error);
        }
        let rolled_back = !self.rollback && update.is_rollback() && !update.is_active();
        if update.is_paused() || rolled_back {
            let what = match update {
                UpdateState::Paused => "service update paused",
                UpdateState::RollbackPaused => "service rollback paused",
                _ => "service rolled back",
            };
            let verify = format!("{}: {message}", if update.is_rollback() { "rollback" } else { "update" });
            return fail(standing, verify, format!("{what}: {message}"));
        }
        if updating && !job {
            let kind = if update.is_rollback() { "rollback" } else { "update" };
            standing.lines[0] = format!("{kind}: {}", standing.lines[0]);
        }
        let ids: Vec<String> = done.iter().map(|t| t.id.clone()).collect();
        if done.len() as u64 != desired || leftovers || updating {
            self.stable_since = None;
            return standing;
        }
        match &self.stable_since {
            Some((since, same)) if *same == ids && now.duration_since(*since) >= STABLE => {
                standing.verify = if job { "job complete" } else { "verify: Service converged" }.into();
                standing.verdict = Verdict::Converged;
                return standing;
            }
            Some((_, same)) if *same == ids => {}
            _ => self.stable_since = Some((now, ids)),
        }
        standing.verify = format!("verify: Waiting {} second to verify that tasks are stable...", STABLE.as_secs());
        standing
    }
}

/// `-d/--detach` and `-q/--quiet` of the commands that wait for services
/// to converge.
#[derive(clap::Args, Debug, Default)]
pub struct WaitFlags {
    /// Exit immediately instead of waiting for the service to converge
    #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub detach: Option<bool>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
}

impl WaitFlags {
    pub fn detached(&self) -> bool {
        self.detach.unwrap_or(false)
    }

    /// Waits for `service_id` to converge, unless detached (see [`converge`]).
    pub async fn wait(&self, ctx: &mut Ctx, service_id: &str, rollback: bool) -> Result<()> {
        if self.detached() {
            return Ok(());
        }
        converge(ctx, service_id, self.quiet, rollback).await
    }
}

/// Waits until `service_id` converges; fails if the service is removed,
/// a slot stopped for good (its restart policy gave up), or its update
/// paused or (unless `rollback`, a requested one) rolled back.
pub async fn converge(ctx: &mut Ctx, service_id: &str, quiet: bool, rollback: bool) -> Result<()> {
    let mut control = ctx.control().await?;
    let mut tracker = Tracker::new(service_id.to_string(), rollback);
    let mut view: Option<View> = None;
    loop {
        let standing = tracker.look(&mut control).await?;
        let mut lines = standing.lines;
        lines.push(standing.verify);
        let view = view.get_or_insert_with(|| View::new(lines.len(), quiet));
        match standing.verdict {
            Verdict::Waiting => view.show(&lines),
            Verdict::Converged => {
                view.finish(&lines);
                return Ok(());
            }
            Verdict::Failed(error) => {
                view.finish(&lines);
                bail!("{error}");
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use shoal_proto::{Meta, ReplicatedService, ServiceSpec, TaskStatus};

    use super::*;

    fn service(replicas: u64) -> Service {
        let spec = ServiceSpec { mode: Some(Mode::Replicated(ReplicatedService { replicas })), ..Default::default() };
        Service { id: "s".into(), spec: Some(spec), ..Default::default() }
    }

    fn task(id: &str, slot: u64, state: TaskState, desired: TaskState, err: &str) -> Task {
        let status = TaskStatus { state: state as i32, err: err.into(), ..Default::default() };
        Task {
            id: id.into(),
            slot,
            desired_state: desired as i32,
            status: Some(status),
            service_name: "web".into(),
            ..Default::default()
        }
    }

    #[test]
    fn converged_once_the_same_tasks_stayed_up_for_a_second() {
        let (service, start) = (service(2), Instant::now());
        let mut tracker = Tracker::new("s".into(), false);
        let one = [task("a", 1, TaskState::Running, TaskState::Running, "")];
        let s = tracker.assess(&service, &one, start);
        assert_eq!(
            (s.verdict.clone(), s.done, s.desired, s.summary()),
            (Verdict::Waiting, 1, 2, "1/2 starting".into())
        );
        let both = [one[0].clone(), task("b", 2, TaskState::Running, TaskState::Running, "")];
        let s = tracker.assess(&service, &both, start);
        assert_eq!((s.verdict.clone(), s.summary()), (Verdict::Waiting, "2/2 verifying".into()));
        assert!(s.verify.starts_with("verify: Waiting 1 second"), "{}", s.verify);
        let s = tracker.assess(&service, &both, start + STABLE);
        assert_eq!((s.verdict.clone(), s.summary()), (Verdict::Converged, "2/2 converged".into()));
        // Another task in a slot starts the second again.
        let other = [one[0].clone(), task("c", 2, TaskState::Running, TaskState::Running, "")];
        assert_eq!(tracker.assess(&service, &other, start + STABLE).verdict, Verdict::Waiting);
    }

    #[test]
    fn a_scheduled_job_has_nothing_to_wait_for() {
        let mut job = service(1);
        let spec = job.spec.as_mut().unwrap();
        spec.mode = Some(Mode::ReplicatedJob(shoal_proto::ReplicatedJob { total_completions: 1, max_concurrent: 1 }));
        spec.schedule = Some(shoal_proto::JobSchedule { cron: "@every 1m".into(), ..Default::default() });
        let s = Tracker::new("s".into(), false).assess(&job, &[], Instant::now());
        assert_eq!((s.verdict.clone(), s.summary()), (Verdict::Converged, "scheduled: runs when due".into()));
    }

    #[test]
    fn a_pending_reason_shows_and_a_task_stopped_for_good_fails() {
        let service = service(1);
        let mut tracker = Tracker::new("s".into(), false);
        let pending = [task("a", 1, TaskState::Pending, TaskState::Running, "no suitable node")];
        let s = tracker.assess(&service, &pending, Instant::now());
        assert_eq!((s.verdict.clone(), s.summary()), (Verdict::Waiting, "0/1 pending: no suitable node".into()));
        let dead = [task("a", 1, TaskState::Failed, TaskState::Shutdown, "exit 1")];
        let s = tracker.assess(&service, &dead, Instant::now());
        let error = "service could not converge: task web.1 stopped for good: exit 1".to_string();
        assert_eq!((s.verdict.clone(), s.summary()), (Verdict::Failed(error), "0/1 failed".into()));
    }

    #[test]
    fn the_newest_failure_shows_while_a_slot_is_not_up() {
        let service = service(1);
        let mut tracker = Tracker::new("s".into(), false);
        let at = |mut t: Task, created_at: i64| {
            t.meta = Some(Meta { created_at, ..Default::default() });
            t
        };
        let first = at(task("a", 1, TaskState::Rejected, TaskState::Shutdown, "executable not found: x"), 1);
        let second = at(task("b", 1, TaskState::Failed, TaskState::Shutdown, "exit 1"), 2);
        // The replacement waits out its restart delay.
        let third = at(task("c", 1, TaskState::Ready, TaskState::Ready, ""), 3);
        let tasks = [second.clone(), first, third.clone()];
        let s = tracker.assess(&service, &tasks, Instant::now());
        assert_eq!((s.verdict.clone(), s.summary()), (Verdict::Waiting, "0/1 task failed: exit 1".into()));
        // Up again: the old failure no longer shows.
        let up = at(task("c", 1, TaskState::Running, TaskState::Running, ""), 3);
        assert_eq!(tracker.assess(&service, &[second.clone(), up], Instant::now()).summary(), "1/1 verifying");
        // A failure of the spec being replaced says nothing of the new one.
        let mut old = second;
        old.spec = Some(Default::default());
        assert_eq!(tracker.assess(&service, &[old, third], Instant::now()).summary(), "0/1 starting");
    }
}
