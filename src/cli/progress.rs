//! Waiting for a service to converge, with live progress like `docker
//! service create`: one line per slot, then "verify: Service converged".
//! Done when every slot's newest task runs (and, with a health check, is
//! healthy), has kept running for
//! [`STABLE`], and tasks of removed slots have stopped; for a job, when
//! every slot's newest task has completed ("job complete"). During a
//! rolling update, also when no task is left to replace and the update
//! completed; a paused or rolled back update fails.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use shoal_proto::{GetServiceRequest, ListTasksRequest, Task, TaskState, UpdateState, service_spec::Mode};

use shoal_manager::orchestrator::{global, jobs, update};

use super::Ctx;
use crate::client::status;

/// How long all tasks must keep running before the service counts as converged.
const STABLE: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(200);
/// Slots shown one per line; beyond it only the overall line is.
const MAX_SLOT_LINES: u64 = 20;

fn created(t: &Task) -> i64 {
    t.meta.as_ref().map_or(0, |m| m.created_at)
}

fn state(t: &Task) -> TaskState {
    t.status.as_ref().map_or(TaskState::New, |s| s.state())
}

/// One slot (or, for a global service, one node): `1/3: running [==>]`.
fn slot_line(prefix: &str, task: Option<&Task>) -> String {
    let Some(task) = task else { return format!("{prefix} new") };
    let st = state(task);
    let err = task.status.as_ref().map_or("", |s| s.err.as_str());
    if !err.is_empty() {
        return format!("{prefix} {err}");
    }
    // The states on the way to running, for the bar.
    let steps = TaskState::ALL.iter().filter(|s| **s <= TaskState::Running);
    let step = steps.clone().filter(|s| **s <= st).count().max(1);
    let filled = 50 * step / steps.count();
    let bar = format!("[{}>{}]", "=".repeat(filled.saturating_sub(1)), " ".repeat(50 - filled));
    format!("{prefix} {:<9} {bar}", st.name())
}

struct View {
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
}

impl View {
    fn new(lines: usize, quiet: bool) -> View {
        let target = ProgressDrawTarget::stdout();
        if quiet || target.is_hidden() {
            return View { bars: None };
        }
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = (0..lines).map(|_| multi.add(ProgressBar::new_spinner().with_style(style.clone()))).collect();
        View { bars: Some((multi, bars)) }
    }

    fn show(&self, lines: &[String]) {
        if let Some((_, bars)) = &self.bars {
            for (bar, line) in bars.iter().zip(lines) {
                bar.set_message(line.clone());
            }
        }
    }

    /// The final picture: kept on a terminal, printed once otherwise.
    fn finish(self, lines: &[String], quiet: bool) {
        match self.bars {
            Some((_, bars)) => {
                for (bar, line) in bars.iter().zip(lines) {
                    bar.finish_with_message(line.clone());
                }
            }
            None if !quiet => lines.iter().for_each(|l| println!("{l}")),
            None => {}
        }
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
    let mut view: Option<View> = None;
    let mut stable_since: Option<(Instant, Vec<String>)> = None;
    loop {
        let service = control
            .get_service(GetServiceRequest { reference: service_id.to_string() })
            .await
            .map_err(status)?
            .into_inner();
        let mode = service.spec.as_ref().and_then(|s| s.mode);
        let request = ListTasksRequest { services: vec![service.id.clone()], ..Default::default() };
        let tasks = control.list_tasks(request).await.map_err(status)?.into_inner().tasks;
        let live: Vec<&Task> = tasks.iter().filter(|t| t.desired_state < TaskState::Remove as i32).collect();
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
            Some(n) => (1..=n).map(|slot| (format!("{slot}/{n}:"), newest_of(&|t: &Task| t.slot == slot))).unzip(),
            // A global service (or job): one line per node it should run on.
            _ => {
                let nodes: BTreeSet<&str> = live.iter().map(|t| t.node_id.as_str()).collect();
                nodes
                    .into_iter()
                    .filter_map(|node| {
                        let task = newest_of(&|t: &Task| t.node_id == node)?;
                        // Not a node the service left.
                        (!global::withdrawn(task)).then(|| (format!("{}:", &node[..node.len().min(12)]), Some(task)))
                    })
                    .unzip()
            }
        };
        let replicas = newest.len() as u64;
        let running: Vec<&Task> = newest
            .iter()
            .flatten()
            .copied()
            .filter(|t| update::is_up(t) && t.desired_state == TaskState::Running as i32)
            .collect();
        // Tasks of removed slots still running. (A global service's task on a
        // node it left is not waited for: the node may be Down for good.)
        let leftovers = tasks
            .iter()
            .any(|t| slots.is_some_and(|n| t.slot > n) && !state(t).is_terminal() && state(t) >= TaskState::Assigned);
        let dead: Vec<&Task> =
            newest.iter().flatten().copied().filter(|t| t.desired_state > TaskState::Running as i32).collect();
        // What the service waits for: every slot running, or for a job
        // every slot complete.
        let done: Vec<&Task> = if job {
            newest.iter().flatten().copied().filter(|t| jobs::counts_as_done(t, &service)).collect()
        } else {
            running
        };

        let mut lines = vec![if job {
            format!("job progress: {} out of {replicas} complete", done.len())
        } else {
            format!("overall progress: {} out of {replicas} tasks", done.len())
        }];
        if replicas <= MAX_SLOT_LINES {
            lines.extend(labels.iter().zip(&newest).map(|(label, t)| slot_line(label, *t)));
        }
        let view = view.get_or_insert_with(|| View::new(lines.len() + 1, quiet));
        if let Some(task) = dead.first() {
            let reason = task.status.as_ref().map_or(String::new(), |s| s.err.clone());
            lines.push("verify: Detected task failure".into());
            std::mem::replace(view, View { bars: None }).finish(&lines, quiet);
            bail!("service could not converge: task {}.{} stopped for good: {reason}", task.service_name, task.slot);
        }
        let update = service.update_status.as_ref().map_or(UpdateState::Unknown, |u| u.state());
        let message = service.update_status.as_ref().map_or("", |u| u.message.as_str());
        let rolled_back = !rollback && update.is_rollback() && !update.is_active();
        if update.is_paused() || rolled_back {
            lines.push(format!("{}: {message}", if update.is_rollback() { "rollback" } else { "update" }));
            std::mem::replace(view, View { bars: None }).finish(&lines, quiet);
            let what = match update {
                UpdateState::Paused => "service update paused",
                UpdateState::RollbackPaused => "service rollback paused",
                _ => "service rolled back",
            };
            bail!("{what}: {message}");
        }
        // Tasks still to be replaced by a rolling update.
        let updating = update.is_active() || newest.iter().flatten().any(|t| update::is_dirty(&service, t));
        if updating && !job {
            lines[0] = format!("{}: {}", if update.is_rollback() { "rollback" } else { "update" }, lines[0]);
        }
        let ids: Vec<String> = done.iter().map(|t| t.id.clone()).collect();
        if done.len() as u64 == replicas && !leftovers && !updating {
            match &stable_since {
                Some((since, same)) if *same == ids && since.elapsed() >= STABLE => {
                    lines.push(if job { "job complete" } else { "verify: Service converged" }.into());
                    std::mem::replace(view, View { bars: None }).finish(&lines, quiet);
                    return Ok(());
                }
                Some((_, same)) if *same == ids => {}
                _ => stable_since = Some((Instant::now(), ids)),
            }
            lines.push(format!("verify: Waiting {} second to verify that tasks are stable...", STABLE.as_secs()));
        } else {
            stable_since = None;
            lines.push(String::new());
        }
        view.show(&lines);
        tokio::time::sleep(POLL).await;
    }
}
